//! Dataset generator throughput, in records written per second (Parquet,
//! ZSTD, page index; ground truth, PINs and dataset.json included).
//!
//! `cargo bench -p proofmark-benches --bench datasets`
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use proofmark_datasets::{DatasetPlan, GenerateOptions};

const ITEMS: u64 = 100_000;

fn out_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "proofmark-bench-datasets-{}-{name}",
        std::process::id()
    ))
}

fn bench_generate(c: &mut Criterion) {
    let mut group = c.benchmark_group("datasets");
    group.sample_size(10);
    for (name, threads, bad_rate) in [
        ("generate_100k_items", 0, 0.0),
        ("generate_100k_items_bad_rate_0.05", 0, 0.05),
        ("generate_100k_items_1_thread", 1, 0.0),
    ] {
        let dir = out_dir(name);
        let opts = GenerateOptions::new(ITEMS, &dir)
            .with_seed(7)
            .with_bad_rate(bad_rate)
            .with_overwrite(true);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let records = pool.install(|| DatasetPlan::try_new(&opts).unwrap().total_rows());
        group.throughput(Throughput::Elements(records));
        group.bench_function(name, |b| {
            b.iter(|| {
                pool.install(|| black_box(proofmark_datasets::generate(&opts, |_| {}).unwrap()))
            });
        });
        let _ = std::fs::remove_dir_all(&dir);
    }
    // Planning alone: one pass over the items to count their events.
    let opts = GenerateOptions::new(1_000_000, out_dir("plan"));
    group.throughput(Throughput::Elements(1_000_000));
    group.bench_function("plan_1m_items", |b| {
        b.iter(|| black_box(DatasetPlan::try_new(&opts).unwrap().total_rows()))
    });
    group.finish();
}

criterion_group!(benches, bench_generate);
criterion_main!(benches);
