//! Throughput of the ingest layer on a generated dataset.
//!
//! ```text
//! cargo run --release -p proofmark-ingest --example ingest_throughput -- [ITEMS] [ROWS_PER_GROUP] [DATASET_DIR]
//! ```
//!
//! Generates a dataset with `proofmark-datasets` (unless DATASET_DIR already holds one),
//! plans it (reference mode), fetches every segment into memory, then times:
//! a bare Arrow decode of every row group (the baseline), `process_segment` on one thread,
//! and `process_segment` with segments in parallel on the whole rayon pool.

use std::time::Instant;

use proofmark_ingest::decode::{RangeReader, row_group_reader};
use proofmark_ingest::{
    InputMode, PlanOptions, SegmentInput, Store, fetch_segment, make_plan, process_segment,
};
use proofmark_merkle::SuiteId;
use rayon::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let items: u64 = args
        .get(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(200_000);
    let rows_per_group: u64 = args
        .get(2)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(65_536);
    let tmp = tempfile::tempdir()?;
    let data_dir = args
        .get(3)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("data"));
    if !data_dir.join("dataset.json").exists() {
        let t = Instant::now();
        let opts = proofmark_datasets::GenerateOptions::new(items, &data_dir)
            .with_seed(7)
            .with_bad_rate(0.01)
            .with_rows_per_group(rows_per_group);
        proofmark_datasets::generate(&opts, |_| {})?;
        eprintln!("generated {items} items in {:.1?}", t.elapsed());
    }
    let rt = tokio::runtime::Runtime::new()?;
    let store = Store::from_url(tmp.path().join("store").to_str().ok_or("utf8")?)?;
    let glob = format!("{}/records/**/*.parquet", data_dir.display());
    for suite in [SuiteId::Blake3, SuiteId::Sha256Rfc6962] {
        let opts = PlanOptions {
            batch_id: format!("bench-{suite}"),
            batch_date: "2026-11-24".into(),
            suite,
            input_mode: InputMode::Reference,
        };
        let t = Instant::now();
        let plan = rt.block_on(make_plan(
            &store,
            std::slice::from_ref(&glob),
            &opts,
            &|_| {},
        ))?;
        let plan_time = t.elapsed();
        let bytes: u64 = plan.files.iter().map(|f| f.size).sum();
        let inputs: Vec<SegmentInput> = plan
            .segments
            .iter()
            .map(|s| rt.block_on(fetch_segment(&store, &plan, s.segment)))
            .collect::<Result<_, _>>()?;
        let rows = plan.total_rows as f64;
        eprintln!(
            "{suite}: {} rows, {} files, {} segments, {:.1} MiB; plan {:.2?} ({:.1} M rows/s)",
            plan.total_rows,
            plan.files.len(),
            plan.segments.len(),
            bytes as f64 / 1048576.0,
            plan_time,
            rows / plan_time.as_secs_f64() / 1e6
        );

        let decode = |input: &SegmentInput| -> usize {
            let file = &plan.files[input.segment().file as usize];
            let reader = RangeReader::new(input.offset(), input.bytes().clone(), file.size);
            let arrow = parquet::arrow::arrow_reader::ArrowReaderMetadata::try_new(
                input.metadata().clone(),
                Default::default(),
            )
            .expect("metadata");
            row_group_reader(
                reader,
                arrow,
                input.segment().row_group as usize,
                input.segment().rows,
            )
            .expect("reader")
            .map(|b| b.expect("batch").num_rows())
            .sum()
        };
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
        for round in 0..3 {
            let t = Instant::now();
            let n: usize = one.install(|| inputs.iter().map(decode).sum());
            let decode_1 = t.elapsed();
            let t = Instant::now();
            let accepted: u64 = one.install(|| {
                inputs
                    .iter()
                    .map(|i| process_segment(&plan, i).expect("process").rows_accepted)
                    .sum()
            });
            let process_1 = t.elapsed();
            let t = Instant::now();
            let n2: usize = inputs.par_iter().map(decode).sum();
            let decode_n = t.elapsed();
            let t = Instant::now();
            let accepted_n: u64 = inputs
                .par_iter()
                .map(|i| process_segment(&plan, i).expect("process").rows_accepted)
                .sum();
            let process_n = t.elapsed();
            assert_eq!((n, accepted), (n2, accepted_n));
            let rate = |d: std::time::Duration| rows / d.as_secs_f64() / 1e6;
            eprintln!(
                "  round {round}: 1 thread: decode {:.2} M rows/s, process_segment {:.2} M rows/s ({:.2}x decode); \
                 {} threads: decode {:.2} M rows/s, process_segment {:.2} M rows/s ({:.2}x decode); accepted {accepted}",
                rate(decode_1),
                rate(process_1),
                process_1.as_secs_f64() / decode_1.as_secs_f64(),
                rayon::current_num_threads(),
                rate(decode_n),
                rate(process_n),
                process_n.as_secs_f64() / decode_n.as_secs_f64(),
            );
        }
    }
    Ok(())
}
