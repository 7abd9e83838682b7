//! Time of each step of `process_segment`, measured separately on one thread over a dataset
//! directory made by `ingest_throughput` (or `proofmark datasets generate`).
//!
//! ```text
//! cargo run --release -p proofmark-ingest --example phase_breakdown -- DATASET_DIR
//! ```

use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use proofmark_ingest::blake3_lanes::{KeyPath, input_block, keys_of_blocks_with};
use proofmark_merkle::{Blake3, Sha256Rfc6962, Suite};
use proofmark_schemas::{
    BLOCK_LEN, Kind, RecordIdTracker, RecordView, ValidationContext, detect_kind, encode_row,
    validate,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: phase_breakdown DATASET_DIR")?;
    let mut batches: Vec<(Kind, RecordBatch)> = Vec::new();
    let t = Instant::now();
    for kind in Kind::ALL {
        let folder = std::path::Path::new(&dir).join("records").join(kind.name());
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for e in entries {
            let file = std::fs::File::open(e?.path())?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)?
                .with_batch_size(65_536)
                .build()?;
            for b in reader {
                let b = b?;
                assert_eq!(detect_kind(&b.schema())?, kind);
                batches.push((kind, b));
            }
        }
    }
    let decode = t.elapsed();
    let rows: usize = batches.iter().map(|(_, b)| b.num_rows()).sum();
    let ctx = ValidationContext::for_batch_date(20_781);
    let mut times: Vec<(&str, Duration)> = vec![("decode (from files)", decode)];
    let mut time = |name: &'static str, f: &mut dyn FnMut()| {
        f(); // warm up (page faults, caches)
        let t = Instant::now();
        f();
        times.push((name, t.elapsed()));
    };
    time("validate", &mut || {
        for (kind, b) in &batches {
            let view = RecordView::try_new(*kind, b).expect("view");
            let mut tracker = RecordIdTracker::new();
            std::hint::black_box(validate(&view, &ctx, &mut tracker));
        }
    });
    time("validate without ids (as process_segment)", &mut || {
        for (kind, b) in &batches {
            let view = RecordView::try_new(*kind, b).expect("view");
            std::hint::black_box(proofmark_schemas::validate::validate_without_ids(
                &view, &ctx,
            ));
        }
    });
    let mut arena = Vec::new();
    let mut lens = Vec::new();
    time("encode (one arena)", &mut || {
        arena.clear();
        lens.clear();
        for (kind, b) in &batches {
            let view = RecordView::try_new(*kind, b).expect("view");
            for r in 0..view.num_rows() {
                lens.push(encode_row(&view, r, &mut arena));
            }
        }
    });
    // In the build's units of work: `CHUNK_ROWS` rows encoded into one reused buffer.
    let rows_per_chunk = proofmark_ingest::hash::CHUNK_ROWS;
    let mut chunk = Vec::new();
    time("encode row by row (build-sized chunks)", &mut || {
        for (kind, b) in &batches {
            let view = RecordView::try_new(*kind, b).expect("view");
            for start in (0..view.num_rows()).step_by(rows_per_chunk) {
                chunk.clear();
                for r in start..(start + rows_per_chunk).min(view.num_rows()) {
                    encode_row(&view, r, &mut chunk);
                }
                std::hint::black_box(&chunk);
            }
        }
    });
    let mut hist = std::collections::BTreeMap::new();
    for l in &lens {
        *hist.entry(l / BLOCK_LEN).or_insert(0usize) += 1;
    }
    eprintln!(
        "rows {rows}, canonical bytes {} ({:.0} per row); blocks histogram {hist:?}",
        arena.len(),
        arena.len() as f64 / rows as f64
    );
    // Group by length for batched hashing.
    let mut groups: std::collections::BTreeMap<usize, Vec<u8>> = Default::default();
    let mut off = 0;
    for &l in &lens {
        groups
            .entry(l)
            .or_default()
            .extend_from_slice(&arena[off..off + l]);
        off += l;
    }
    let mut out = vec![[0u8; 32]; rows];
    time("hash blake3 batched", &mut || {
        for (&len, data) in &groups {
            Blake3::hash_leaves_same_len(data, len, &mut out[..data.len() / len]);
        }
    });
    time("hash blake3 one by one", &mut || {
        let mut off = 0;
        for (i, &l) in lens.iter().enumerate() {
            out[i] = Blake3::hash_leaf(&arena[off..off + l]);
            off += l;
        }
    });
    time("hash blake3 batched <=16 blocks", &mut || {
        for (&len, data) in groups.range(..=1024) {
            Blake3::hash_leaves_same_len(data, len, &mut out[..data.len() / len]);
        }
    });
    time("hash blake3 batched >16 blocks", &mut || {
        for (&len, data) in groups.range(1025..) {
            Blake3::hash_leaves_same_len(data, len, &mut out[..data.len() / len]);
        }
    });
    time("hash blake3 >16 blocks, multi-chunk", &mut || {
        for (&len, data) in groups.range(1025..) {
            proofmark_ingest::hash::leaf_hashes_same_len::<Blake3>(
                data,
                len,
                &mut out[..data.len() / len],
            );
        }
    });
    time("hash sha256 batched", &mut || {
        for (&len, data) in &groups {
            Sha256Rfc6962::hash_leaves_same_len(data, len, &mut out[..data.len() / len]);
        }
    });
    let mut keys = Vec::with_capacity(rows);
    time("subject keys", &mut || {
        keys.clear();
        for (kind, b) in &batches {
            let view = RecordView::try_new(*kind, b).expect("view");
            for r in 0..view.num_rows() {
                if let Some((ty, id)) = view.subject(r) {
                    keys.push((proofmark_ingest::hash::fast_subject_key(ty, id), r as u32));
                }
            }
        }
    });
    time("subject keys (spec fn)", &mut || {
        keys.clear();
        for (kind, b) in &batches {
            let view = RecordView::try_new(*kind, b).expect("view");
            for r in 0..view.num_rows() {
                if let Some((ty, id)) = view.subject(r) {
                    keys.push((proofmark_schemas::subject_key(ty, id), r as u32));
                }
            }
        }
    });
    // The same keys from inputs gathered first, then computed many at a time.
    let mut inputs: Vec<Vec<u8>> = Vec::with_capacity(rows);
    for (kind, b) in &batches {
        let view = RecordView::try_new(*kind, b).expect("view");
        for r in 0..view.num_rows() {
            if let Some((ty, id)) = view.subject(r) {
                inputs.push([&[ty.code()], id.as_bytes()].concat());
            }
        }
    }
    let (blocks, lens): (Vec<[u8; 64]>, Vec<u8>) = inputs
        .iter()
        .map(|i| input_block(i[0], &i[1..]).expect("one block"))
        .unzip();
    let mut batched = vec![[0u8; 16]; blocks.len()];
    for (name, path) in [
        ("subject keys, 16 lanes (AVX-512)", KeyPath::Best),
        ("subject keys, one by one", KeyPath::OneByOne),
    ] {
        time(name, &mut || {
            keys_of_blocks_with(path, &blocks, &lens, &mut batched);
        });
    }
    assert!(batched.iter().zip(&keys).all(|(a, (b, _))| a == b));
    eprintln!("{} keys", keys.len());
    time("sort entries", &mut || {
        let mut k = keys.clone();
        k.sort_unstable();
        std::hint::black_box(k);
    });
    for (name, d) in &times {
        eprintln!(
            "{name:>24}: {:>8.1?}  {:>7.1} ns/row  {:>6.2} M rows/s",
            d,
            d.as_nanos() as f64 / rows as f64,
            rows as f64 / d.as_secs_f64() / 1e6
        );
    }
    Ok(())
}
