//! Shared helpers: small hand-written datasets in temporary folders, and
//! running the pipeline on them.
#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::properties::WriterProperties;
use proofmark_anchor::{BuildOptions, CommitOptions, CommitReport, build_batch, commit_batch};
use proofmark_ingest::{InputMode, PlanOptions, Store, make_plan};
use proofmark_merkle::SuiteId;
use proofmark_schemas::{Kind, batch_from_json};
use serde_json::{Value, json};

pub const BATCH_DATE: &str = "2026-11-25";
pub const T0: i64 = 1_763_942_400_000_000;

/// Writes `rows` as a Parquet file of `kind` with row groups of `group` rows.
pub fn write_parquet(path: &Path, kind: Kind, rows: &[Value], group: usize) {
    let batch = batch_from_json(kind, rows).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group))
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// Logistics rows; some are rejected: every 17th has no subject, every 23rd
/// an unknown event type.
pub fn logistics_rows(n: usize, offset: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let g = i + offset;
            let (code, lot) = if i % 17 == 5 {
                (Value::Null, Value::Null)
            } else if i % 3 == 0 {
                (Value::Null, json!(format!("LOT-{}", g / 10)))
            } else {
                (json!(format!("{g:020}")), json!(format!("LOT-{}", g / 10)))
            };
            let event = if i % 23 == 7 { "teleported" } else { "departed" };
            json!({
                "record_id": format!("ev-{g}"), "code": code, "lot_id": lot, "org_id": "carrier-7",
                "event_time": T0 + g as i64, "event_type": event, "location": format!("Port {}", g % 13),
                "carrier": null, "waybill": null,
            })
        })
        .collect()
}

/// Customs rows, one with a duplicate record id.
pub fn customs_rows(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let id = if i == n - 1 { "dec-0".to_owned() } else { format!("dec-{i}") };
            json!({
                "record_id": id, "code": null, "lot_id": format!("LOT-{i}"), "org_id": "broker-3",
                "event_time": T0, "declaration_id": format!("5316202611240{i:05}"), "filing_id": "F-99",
                "hs_code": "1901101000", "origin_country": "NZ", "trade_country": "AU",
                "port_of_entry": "Shanghai Yangshan (CNSHA)", "declared_at": T0, "cleared_at": T0 + 1,
                "status": "released",
            })
        })
        .collect()
}

/// A dataset of three files in `dir/in`: logistics in row groups of 64 (with
/// rejects), customs in one row group, and a logistics file whose rows are
/// all rejected (a segment without leaves). Returns the input paths.
pub fn small_dataset(dir: &Path) -> Vec<String> {
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    let a = input.join("logistics-a.parquet");
    write_parquet(&a, Kind::Logistics, &logistics_rows(500, 0), 64);
    let b = input.join("customs.parquet");
    write_parquet(&b, Kind::Customs, &customs_rows(40), 1000);
    let c = input.join("logistics-b.parquet");
    let mut bad = logistics_rows(30, 10_000);
    for r in &mut bad {
        r["code"] = Value::Null;
        r["lot_id"] = Value::Null;
    }
    write_parquet(&c, Kind::Logistics, &bad, 1000);
    vec![a, b, c]
        .into_iter()
        .map(|p| p.display().to_string())
        .collect()
}

pub fn store_at(dir: &Path) -> Store {
    Store::from_url(dir.to_str().unwrap()).unwrap()
}

pub async fn plan(
    store: &Store,
    batch_id: &str,
    inputs: &[String],
    suite: SuiteId,
    mode: InputMode,
) {
    let opts = PlanOptions {
        batch_id: batch_id.into(),
        batch_date: BATCH_DATE.into(),
        suite,
        input_mode: mode,
    };
    make_plan(store, inputs, &opts, &|_| {}).await.unwrap();
}

pub async fn build_all(store: &Store, batch_id: &str) -> proofmark_anchor::BuildReport {
    build_batch(store, batch_id, &BuildOptions::default(), &|_| {})
        .await
        .unwrap()
}

pub async fn commit(store: &Store, batch_id: &str) -> CommitReport {
    commit_batch(store, batch_id, &CommitOptions::default(), &|_| {})
        .await
        .unwrap()
}

/// A fresh store folder and the small dataset beside it.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub inputs: Vec<String>,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let inputs = small_dataset(dir.path());
        let store = store_at(&dir.path().join("store"));
        Self { dir, store, inputs }
    }

    pub fn store_path(&self) -> PathBuf {
        self.dir.path().join("store")
    }
}

/// Every row of a Parquet file, as batches.
pub fn read_all(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    reader.map(|b| b.unwrap()).collect()
}

/// The batch holding row `row` of `batches` and the row's index in it.
pub fn find_row(batches: &[RecordBatch], mut row: usize) -> (&RecordBatch, usize) {
    for b in batches {
        if row < b.num_rows() {
            return (b, row);
        }
        row -= b.num_rows();
    }
    panic!("row past the end");
}
