//! The global code index: proofmark's sorted runs against a redb table, on
//! the same entries (decision 0005).
//!
//! ```text
//! cargo bench -p proofmark-benches --bench code_index -- [RECORDS] [LOOKUPS]
//! ```
//!
//! The fixture is a real published batch: a generated dataset of about
//! `RECORDS` records (default 10,000,000; no injected defects, so every record
//! is accepted and has one index entry), planned, built, committed and
//! anchored on the embedded ledger as `proofmark run` does, in a temporary
//! folder (under `TMPDIR`). For each design: the time to load the batch's index
//! entries durably (`proofmark publish`, which also writes the batch's record
//! file; redb: one write transaction of the same entries), the bytes on disk,
//! the time to open, and the latency of single lookups of `LOOKUPS` random
//! present keys (default 200,000) from one thread, warm page cache.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::time::{Duration, Instant};

use proofmark_anchor::chain::{ChainsFile, anchor_batch};
use proofmark_anchor::segment_files::decode_index_entry;
use proofmark_anchor::{BuildOptions, CommitOptions, build_batch, commit_batch, layout};
use proofmark_datasets::{DatasetPlan, GenerateOptions};
use proofmark_ingest::{InputMode, PlanOptions, Store, make_plan};
use proofmark_merkle::SuiteId;
use proofmark_verifier::index::CodeIndex;
use redb::{ReadableDatabase, TableDefinition};

const TABLE: TableDefinition<[u8; 28], ()> = TableDefinition::new("codes");
const BATCH: &str = "bench-2026-11-24";

/// Bytes of the files directly in `dir` (not in its subfolders).
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

fn percentiles(mut d: Vec<Duration>) -> String {
    d.sort_unstable();
    let at = |q: f64| d[((d.len() as f64 * q) as usize).min(d.len() - 1)];
    let total: Duration = d.iter().sum();
    format!(
        "p50 {:.1?}  p99 {:.1?}  max {:.1?}  ({:.0} lookups/s on one thread)",
        at(0.50),
        at(0.99),
        d[d.len() - 1],
        d.len() as f64 / total.as_secs_f64()
    )
}

/// Generates a dataset of about `records` records in `root/data` and makes it batch
/// [`BATCH`] of the store in `root/store`: planned, built, committed and anchored on the
/// embedded ledger, as `proofmark run` does. Returns the batch's index entries (subject
/// key, leaf), sorted, as the commit wrote them.
async fn published_batch_fixture(root: &Path, records: u64) -> Vec<([u8; 16], u64)> {
    let data = root.join("data");
    // About five records an item: scale the item count to the records asked.
    let mut items = (records / 5).max(1);
    let rows = DatasetPlan::try_new(&GenerateOptions::new(items, &data))
        .unwrap()
        .total_rows();
    if rows > 0 {
        items = ((items as f64) * (records as f64) / (rows as f64))
            .round()
            .max(1.0) as u64;
    }
    let t = Instant::now();
    let summary =
        proofmark_datasets::generate(&GenerateOptions::new(items, &data), |_| {}).unwrap();
    eprintln!(
        "fixture: generated {} records ({items} items) in {:.1?}",
        summary.rows,
        t.elapsed()
    );

    let t = Instant::now();
    let store = Store::from_url(root.join("store").to_str().unwrap()).unwrap();
    let opts = PlanOptions {
        batch_id: BATCH.into(),
        batch_date: summary.arguments.date.clone(),
        suite: SuiteId::Blake3,
        input_mode: InputMode::Reference,
    };
    let inputs = vec![data.join("records").display().to_string()];
    make_plan(&store, &inputs, &opts, &|_| {}).await.unwrap();
    build_batch(&store, BATCH, &BuildOptions::default(), &|_| {})
        .await
        .unwrap();
    commit_batch(&store, BATCH, &CommitOptions::default(), &|_| {})
        .await
        .unwrap();
    let chains = ChainsFile::parse(
        "chains.toml",
        &format!(
            "[chains.ledger]\ntype = \"ledger\"\norigin = \"bench.local/ledger\"\nkey_file = {:?}\n",
            root.join("ledger.key").display().to_string()
        ),
    )
    .unwrap();
    anchor_batch(&store, BATCH, "ledger", &chains)
        .await
        .unwrap();
    eprintln!(
        "fixture: planned, built, committed and anchored in {:.1?}",
        t.elapsed()
    );

    let bytes = std::fs::read(root.join("store").join(layout::index_path(BATCH))).unwrap();
    bytes.chunks_exact(24).map(decode_index_entry).collect()
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let records = args.first().copied().unwrap_or(10_000_000).max(1);
    let lookups = args.get(1).copied().unwrap_or(200_000).max(1) as usize;

    let tmp = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let entries = rt.block_on(published_batch_fixture(tmp.path(), records));
    let n = entries.len() as u64;
    println!("code index: {n} entries (one batch of {n} records), {lookups} lookups");
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let probes: Vec<[u8; 16]> = (0..lookups)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            entries[(x % n) as usize].0
        })
        .collect();

    // proofmark's sorted runs, through the real publish.
    let store = Store::from_url(tmp.path().join("store").to_str().unwrap()).unwrap();
    let index_dir = tmp.path().join("index");
    let t = Instant::now();
    rt.block_on(proofmark_verifier::publish(&store, BATCH, &index_dir))
        .unwrap();
    let publish = t.elapsed();
    let t = Instant::now();
    let index = CodeIndex::open(&index_dir).unwrap();
    let open = t.elapsed();
    let mut lat = Vec::with_capacity(lookups);
    for k in &probes {
        let t = Instant::now();
        let p = index.positions(k).unwrap();
        lat.push(t.elapsed());
        assert!(!p.is_empty());
    }
    println!(
        "sorted runs  load {publish:.2?} (publish, with the record file, fsynced)  {:.1} MB on disk \
         (+ {:.1} MB record file)  open {open:.2?}\n             {}",
        dir_bytes(&index_dir) as f64 / 1e6,
        dir_bytes(&index_dir.join("records")) as f64 / 1e6,
        percentiles(lat)
    );
    drop(index);

    // redb: one table keyed by (subject key, batch, leaf), loaded in one
    // write transaction from the same sorted entries.
    let db_path = tmp.path().join("codes.redb");
    let t = Instant::now();
    let db = redb::Database::create(&db_path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut table = txn.open_table(TABLE).unwrap();
        for (k, leaf) in &entries {
            let mut composite = [0u8; 28];
            composite[..16].copy_from_slice(k);
            composite[20..].copy_from_slice(&leaf.to_be_bytes());
            table.insert(composite, ()).unwrap();
        }
    }
    txn.commit().unwrap();
    let load = t.elapsed();
    drop(db);
    let t = Instant::now();
    let db = redb::Database::open(&db_path).unwrap();
    let open = t.elapsed();
    let mut lat = Vec::with_capacity(lookups);
    for k in &probes {
        let t = Instant::now();
        let txn = db.begin_read().unwrap();
        let table = txn.open_table(TABLE).unwrap();
        let mut lo = [0u8; 28];
        lo[..16].copy_from_slice(k);
        let mut hi = [0xffu8; 28];
        hi[..16].copy_from_slice(k);
        let found = table.range(lo..=hi).unwrap().count();
        lat.push(t.elapsed());
        assert!(found > 0);
    }
    println!(
        "redb         load {load:.2?} (one write transaction)  {:.1} MB on disk  open {open:.2?}\n             {}",
        std::fs::metadata(&db_path).unwrap().len() as f64 / 1e6,
        percentiles(lat)
    );
}
