//! The global code index: proofmark's sorted runs against a redb table, on
//! the same synthetic entries (decision 0005).
//!
//! ```text
//! cargo bench -p proofmark-benches --bench code_index -- [ENTRIES] [LOOKUPS]
//! ```
//!
//! For each design: the time to load `ENTRIES` index entries of one batch
//! (default 10,000,000) durably, the bytes on disk, the time to open, and
//! the latency of single lookups of `LOOKUPS` random present keys (default
//! 200,000) from one thread, warm page cache.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::time::{Duration, Instant};

use proofmark_anchor::manifest::{MANIFEST_FORMAT, Manifest};
use proofmark_ingest::Store;
use proofmark_merkle::SuiteId;
use proofmark_verifier::index::CodeIndex;
use redb::{ReadableDatabase, TableDefinition};

const TABLE: TableDefinition<[u8; 28], ()> = TableDefinition::new("codes");

fn key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k.copy_from_slice(&blake3::hash(&i.to_le_bytes()).as_bytes()[..16]);
    k
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
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

/// A committed, anchored batch with `entries` sorted index entries in `store`.
fn synthetic_batch(root: &Path, entries: &[([u8; 16], u64)]) {
    let batch = root.join("batches/bench");
    std::fs::create_dir_all(batch.join("index")).unwrap();
    std::fs::create_dir_all(batch.join("anchors")).unwrap();
    let mut bytes = Vec::with_capacity(entries.len() * 24);
    for (k, leaf) in entries {
        bytes.extend_from_slice(k);
        bytes.extend_from_slice(&leaf.to_be_bytes());
    }
    std::fs::write(batch.join("index/entries.bin"), &bytes).unwrap();
    let manifest = Manifest {
        format: MANIFEST_FORMAT.into(),
        spec_version: 1,
        encoding_version: 1,
        batch_id: "bench".into(),
        batch_date: "2026-11-24".into(),
        suite: SuiteId::Blake3,
        plan_digest: String::new(),
        files: vec![],
        segments: vec![],
        rows_read: entries.len() as u64,
        rows_accepted: entries.len() as u64,
        rows_rejected: 0,
        leaf_count: entries.len() as u64,
        root: "00".repeat(32),
        index_digest: format!("blake3:{}", blake3::hash(&bytes).to_hex()),
        rejects_digest: String::new(),
        previous: None,
        tool_version: "bench".into(),
        committed_at: String::new(),
    };
    std::fs::write(batch.join("manifest.json"), manifest.to_bytes().unwrap()).unwrap();
    std::fs::write(batch.join("anchors/ledger.json"), b"{}").unwrap();
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(10_000_000);
    let lookups = args.get(1).copied().unwrap_or(200_000) as usize;
    println!("code index: {n} entries, {lookups} lookups");

    let mut entries: Vec<([u8; 16], u64)> = (0..n).map(|i| (key(i), i)).collect();
    entries.sort_unstable();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let probes: Vec<[u8; 16]> = (0..lookups)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            key(x % n)
        })
        .collect();

    // proofmark's sorted runs, through the real publish.
    let tmp = tempfile::tempdir().unwrap();
    synthetic_batch(&tmp.path().join("store"), &entries);
    let store = Store::from_url(tmp.path().join("store").to_str().unwrap()).unwrap();
    let index_dir = tmp.path().join("index");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = Instant::now();
    rt.block_on(proofmark_verifier::publish(&store, "bench", &index_dir))
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
        "sorted runs  load {publish:.2?} (publish, fsynced)  {:.1} MB on disk  open {open:.2?}\n             {}",
        dir_bytes(&index_dir) as f64 / 1e6,
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
