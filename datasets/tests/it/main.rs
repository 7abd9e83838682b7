//! Integration tests of the dataset generator, compiled into one binary.
#![allow(clippy::unwrap_used)]

mod determinism;
mod files;
mod journeys;
mod sample;
mod truth;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use proofmark_datasets::{DatasetSummary, GenerateOptions, TruthEntry, generate};
use proofmark_schemas::Kind;

/// A fresh temporary directory for one test.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("proofmark-datasets-")
        .tempdir()
        .unwrap()
}

/// Generates a dataset into `dir` on a pool of `threads` threads.
pub fn generate_with_threads(opts: &GenerateOptions, threads: usize) -> DatasetSummary {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| generate(opts, |_| {})).unwrap()
}

/// Every file under `dir`, relative path to bytes.
pub fn all_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The record files of a dataset, with their kinds, in plan order.
pub fn record_files(dir: &Path, summary: &DatasetSummary) -> Vec<(Kind, String, PathBuf)> {
    summary
        .kinds
        .iter()
        .flat_map(|k| {
            let kind: Kind = k.kind.parse().unwrap();
            k.files
                .iter()
                .map(move |f| (kind, f.file.clone(), dir.join(&f.file)))
        })
        .collect()
}

/// Reads every batch of a Parquet file.
pub fn read_batches(path: &Path) -> Vec<RecordBatch> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .with_batch_size(777)
        .build()
        .unwrap();
    reader.map(Result::unwrap).collect()
}

/// The ground truth of a dataset.
pub fn read_truth(dir: &Path) -> Vec<TruthEntry> {
    let text = std::fs::read_to_string(dir.join("truth/defects.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
