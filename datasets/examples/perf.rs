//! Temporary perf harness.
#![allow(clippy::unwrap_used, missing_docs)]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let items: u64 = args[1].parse().unwrap();
    let out = &args[2];
    let threads: usize = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(2);
    let rate: f64 = args.get(4).map(|s| s.parse().unwrap()).unwrap_or(0.0);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let t = std::time::Instant::now();
    let opts = proofmark_datasets::GenerateOptions::new(items, out)
        .with_overwrite(true)
        .with_bad_rate(rate);
    let plan = pool
        .install(|| proofmark_datasets::DatasetPlan::try_new(&opts))
        .unwrap();
    let tp = t.elapsed();
    let s = pool.install(|| plan.write(|_| {})).unwrap();
    let e = t.elapsed().as_secs_f64();
    println!(
        "plan {:?}; rows {} in {:.2}s = {:.0} rows/s; bytes {}",
        tp,
        s.rows,
        e,
        s.rows as f64 / e,
        s.bytes
    );
    for k in &s.kinds {
        println!("  {} {} rows {} bytes", k.kind, k.rows, k.bytes);
    }
}
