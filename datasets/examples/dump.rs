//! Temporary: print rows of a file as JSON.
#![allow(clippy::unwrap_used, missing_docs)]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows: Vec<usize> = args[2..].iter().map(|s| s.parse().unwrap()).collect();
    let f = std::fs::File::open(&args[1]).unwrap();
    let r = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .with_batch_size(1 << 20)
        .build()
        .unwrap();
    for b in r {
        let b = b.unwrap();
        let k = proofmark_schemas::detect_kind(&b.schema()).unwrap();
        let v = proofmark_schemas::RecordView::try_new(k, &b).unwrap();
        for &i in &rows {
            if i < b.num_rows() {
                println!(
                    "{}",
                    serde_json::Value::Object(proofmark_schemas::row_to_json(&v, i))
                );
            }
        }
    }
}
