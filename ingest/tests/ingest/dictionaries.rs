//! Dictionary-encoded text columns, read as dictionary arrays, give exactly what the same
//! rows read as plain texts give: defects, canonical bytes, reject JSON, subject ids.

use std::fs::File;

use bytes::Bytes;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use proofmark_ingest::decode::{RangeReader, row_group_reader, with_dictionaries};
use proofmark_schemas::{
    Column, Kind, RecordIdTracker, RecordView, ValidationContext, detect_kind, encode_row,
    validate, write_row_json,
};

#[test]
fn dictionary_columns_read_as_plain_texts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = proofmark_datasets::GenerateOptions::new(3_000, dir.path())
        .with_seed(11)
        .with_bad_rate(0.2)
        .with_rows_per_group(2_000);
    proofmark_datasets::generate(&opts, |_| {}).expect("generate");
    let ctx = ValidationContext::for_batch_date(proofmark_datasets::DEFAULT_BATCH_DATE_DAYS);
    let mut dictionary_columns = 0;
    for kind in Kind::ALL {
        let path = dir
            .path()
            .join(format!("records/{}/part-00000.parquet", kind.name()));
        let bytes = Bytes::from(std::fs::read(&path).expect("read input"));
        let file = File::open(&path).expect("open");
        let arrow = ArrowReaderMetadata::load(&file, Default::default()).expect("metadata");
        assert_eq!(detect_kind(arrow.schema()).expect("kind"), kind);
        let mut plain_ids = RecordIdTracker::new();
        let mut dict_ids = RecordIdTracker::new();
        for rg in 0..arrow.metadata().num_row_groups() {
            let rows = arrow.metadata().row_group(rg).num_rows() as u64;
            let plain: Vec<_> =
                ParquetRecordBatchReaderBuilder::new_with_metadata(bytes.clone(), arrow.clone())
                    .with_row_groups(vec![rg])
                    .with_batch_size(4096)
                    .build()
                    .expect("plain reader")
                    .collect::<Result<_, _>>()
                    .expect("plain batches");
            let reader = RangeReader::new(0, bytes.clone(), bytes.len() as u64);
            let dict: Vec<_> = row_group_reader(reader, arrow.clone(), rg, rows)
                .expect("dictionary reader")
                .collect::<Result<_, _>>()
                .expect("dictionary batches");
            assert_ne!(
                with_dictionaries(&arrow, rg).schema(),
                arrow.schema(),
                "{kind:?}: no column kept its dictionary"
            );
            assert_eq!(plain.len(), dict.len());
            for (p, d) in plain.iter().zip(&dict) {
                let (pv, dv) = (
                    RecordView::try_new(kind, p).expect("plain view"),
                    RecordView::try_new(kind, d).expect("dictionary view"),
                );
                dictionary_columns += dv
                    .columns()
                    .iter()
                    .filter(|c| matches!(c, Column::TextDict { .. }))
                    .count();
                let (pval, dval) = (
                    validate(&pv, &ctx, &mut plain_ids),
                    validate(&dv, &ctx, &mut dict_ids),
                );
                assert_eq!(pval.defects(), dval.defects(), "{kind:?} row group {rg}");
                assert!(
                    pval.rejected_count() > 0,
                    "{kind:?}: the test needs defects"
                );
                let (mut a, mut b) = (Vec::new(), Vec::new());
                for row in 0..pv.num_rows() {
                    a.clear();
                    b.clear();
                    encode_row(&pv, row, &mut a);
                    encode_row(&dv, row, &mut b);
                    assert_eq!(a, b, "{kind:?} row {row}: canonical bytes");
                    a.clear();
                    b.clear();
                    write_row_json(&pv, row, &mut a);
                    write_row_json(&dv, row, &mut b);
                    assert_eq!(a, b, "{kind:?} row {row}: JSON");
                    assert_eq!(pv.code(row), dv.code(row));
                    assert_eq!(pv.lot_id(row), dv.lot_id(row));
                    assert_eq!(pv.record_id(row), dv.record_id(row));
                }
            }
        }
    }
    assert!(dictionary_columns > 0);
}
