//! Validation of the generated records finds exactly the injected defects.

use std::collections::BTreeSet;

use proofmark_datasets::GenerateOptions;
use proofmark_schemas::{DefectKind, RecordIdTracker, RecordView, ValidationContext, validate};

use crate::{generate_with_threads, read_batches, read_truth, record_files, temp_dir};

type Finding = (String, u64, String, String);

/// Validates every file of a dataset like ingest does: one tracker per file.
fn rejected(
    dir: &std::path::Path,
    summary: &proofmark_datasets::DatasetSummary,
    date: i32,
) -> Vec<Finding> {
    let ctx = ValidationContext::for_batch_date(date);
    let mut found = Vec::new();
    for (kind, name, path) in record_files(dir, summary) {
        let mut ids = RecordIdTracker::new();
        let mut offset = 0u64;
        for batch in read_batches(&path) {
            let view = RecordView::try_new(kind, &batch).unwrap();
            let result = validate(&view, &ctx, &mut ids);
            for d in result.defects() {
                found.push((
                    name.clone(),
                    offset + u64::from(d.row),
                    d.kind.code().to_owned(),
                    d.column.to_owned(),
                ));
            }
            offset += batch.num_rows() as u64;
        }
    }
    found
}

fn truth_findings(dir: &std::path::Path) -> Vec<Finding> {
    read_truth(dir)
        .into_iter()
        .map(|t| (t.file, t.row, t.reason, t.column))
        .collect()
}

#[test]
fn validation_rejects_exactly_the_ground_truth() {
    let dir = temp_dir();
    let opts = GenerateOptions::new(2_000, dir.path())
        .with_seed(5)
        .with_bad_rate(0.05)
        .with_rows_per_group(700);
    let summary = generate_with_threads(&opts, 2);
    let found = rejected(dir.path(), &summary, opts.batch_date_days);
    let truth = truth_findings(dir.path());
    assert!(!truth.is_empty());
    assert_eq!(truth.len() as u64, summary.bad_rows);
    // Each bad row has exactly one defect: the one injected.
    assert_eq!(found, truth);
}

#[test]
fn every_defect_class_is_injected_and_found() {
    let dir = temp_dir();
    let opts = GenerateOptions::new(20_000, dir.path())
        .with_seed(9)
        .with_bad_rate(0.1)
        .with_rows_per_group(4_096)
        .with_files_per_kind(2);
    let summary = generate_with_threads(&opts, 2);
    let found = rejected(dir.path(), &summary, opts.batch_date_days);
    let truth = truth_findings(dir.path());
    assert_eq!(found, truth);
    let reasons: BTreeSet<&str> = truth.iter().map(|t| t.2.as_str()).collect();
    let all: BTreeSet<&str> = DefectKind::ALL.iter().map(|d| d.code()).collect();
    assert_eq!(reasons, all);
    // Bad rows are about 10% of every file.
    for k in &summary.kinds {
        for f in &k.files {
            let expected = f.rows as f64 * 0.1;
            assert!(
                (f.bad_rows as f64 - expected).abs() <= 1.0,
                "{}: {} of {}",
                f.file,
                f.bad_rows,
                f.rows
            );
        }
    }
}

#[test]
fn a_clean_dataset_has_no_defects() {
    let dir = temp_dir();
    let opts = GenerateOptions::new(5_000, dir.path())
        .with_seed(3)
        .with_rows_per_group(1_000);
    let summary = generate_with_threads(&opts, 2);
    assert_eq!(summary.bad_rows, 0);
    assert!(rejected(dir.path(), &summary, opts.batch_date_days).is_empty());
    assert!(read_truth(dir.path()).is_empty());
}

#[test]
fn every_row_is_bad_at_rate_one() {
    let dir = temp_dir();
    let opts = GenerateOptions::new(300, dir.path())
        .with_seed(4)
        .with_bad_rate(1.0)
        .with_rows_per_group(128);
    let summary = generate_with_threads(&opts, 1);
    assert_eq!(summary.bad_rows, summary.rows);
    assert_eq!(
        rejected(dir.path(), &summary, opts.batch_date_days),
        truth_findings(dir.path())
    );
}
