//! Helpers: Parquet files written with parquet's ArrowWriter from JSON records.

use std::path::{Path, PathBuf};

use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::file::properties::WriterProperties;
use proofmark_ingest::{InputMode, PlanOptions};
use proofmark_merkle::SuiteId;
use proofmark_schemas::{Kind, batch_from_json};
use serde_json::{Value, json};

/// The batch date of every test plan.
pub const BATCH_DATE: &str = "2026-11-25";
/// An event time well inside the allowed range (2023-11-14).
pub const T0: i64 = 1_700_000_000_000_000;

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

pub fn opts(batch_id: &str, mode: InputMode, suite: SuiteId) -> PlanOptions {
    PlanOptions {
        batch_id: batch_id.into(),
        batch_date: BATCH_DATE.into(),
        suite,
        input_mode: mode,
    }
}

/// A valid logistics record with id `rec-{tag}-{i}`.
pub fn logistics(tag: &str, i: usize) -> Value {
    let event_type = ["departed", "arrived", "shipped"][i % 3];
    json!({
        "record_id": format!("rec-{tag}-{i}"),
        "code": format!("{:020}", 10_000_000 + i),
        "lot_id": format!("LOT-{}", i / 10),
        "org_id": "carrier-7",
        "event_time": T0 + i as i64,
        "event_type": event_type,
        "location": "Auckland ".repeat(i % 7),
        "carrier": if i.is_multiple_of(2) { Value::Null } else { json!("NZ Post") },
        "waybill": if i.is_multiple_of(5) { Value::Null } else { json!(format!("WB{i}")) },
    })
}

/// A valid production record with id `prod-{tag}-{i}`.
pub fn production(tag: &str, i: usize) -> Value {
    json!({
        "record_id": format!("prod-{tag}-{i}"),
        "code": format!("{:020}", 20_000_000 + i),
        "lot_id": "LOT-P1",
        "org_id": "brand-1",
        "event_time": T0,
        "gtin": "4006381333931",
        "product_name": "Infant formula stage 1",
        "brand": "Kiwi",
        "sku": "SKU-1",
        "lot_number": "P1",
        "production_date": 19_000,
        "expiry_date": 19_500,
        "origin_country": "NZ",
        "factory_id": "F-1",
        "certifications": if i.is_multiple_of(2) { json!(["organic", "halal"]) } else { Value::Null },
        "ingredients": "milk ".repeat(i % 40),
        "attachments": [{"uri": "s3://docs/cert.pdf", "digest": format!("sha256:{}", "ab".repeat(32))}],
    })
}

/// Writes `records` of `kind` to a Parquet file at `path`, `rows_per_group` rows per row group.
pub fn write_parquet(path: &Path, kind: Kind, records: &[Value], rows_per_group: usize) -> PathBuf {
    write_parquet_with(path, kind, records, rows_per_group, false)
}

/// As [`write_parquet`], without the Arrow schema that `ArrowWriter` embeds in the footer's
/// key-value metadata: the Parquet schema alone names the columns.
pub fn write_parquet_without_arrow_schema(
    path: &Path,
    kind: Kind,
    records: &[Value],
    rows_per_group: usize,
) -> PathBuf {
    write_parquet_with(path, kind, records, rows_per_group, true)
}

fn write_parquet_with(
    path: &Path,
    kind: Kind,
    records: &[Value],
    rows_per_group: usize,
    skip_arrow_schema: bool,
) -> PathBuf {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    let batch = batch_from_json(kind, records).expect("batch");
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(rows_per_group))
        .build();
    let options = ArrowWriterOptions::new()
        .with_properties(props)
        .with_skip_arrow_metadata(skip_arrow_schema);
    let file = std::fs::File::create(path).expect("create");
    let mut writer =
        ArrowWriter::try_new_with_options(file, batch.schema(), options).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
    path.to_owned()
}

pub fn blake3_of(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read");
    format!("blake3:{}", blake3::hash(&bytes).to_hex())
}

pub fn path_str(p: &Path) -> String {
    p.to_str().expect("utf8 path").to_owned()
}

pub fn no_progress(_: proofmark_ingest::PlanProgress) {}
