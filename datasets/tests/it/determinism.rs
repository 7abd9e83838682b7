//! The same options give the same bytes, whatever the thread count.

use proofmark_datasets::GenerateOptions;

use crate::{all_files, generate_with_threads, temp_dir};

#[test]
fn same_options_give_identical_bytes_on_any_pool_size() {
    let dirs: Vec<_> = (0..3).map(|_| temp_dir()).collect();
    let mut outputs = Vec::new();
    for (dir, threads) in dirs.iter().zip([1, 2, 3]) {
        let opts = GenerateOptions::new(6_000, dir.path())
            .with_seed(77)
            .with_bad_rate(0.02)
            .with_rows_per_group(1_000)
            .with_files_per_kind(3);
        generate_with_threads(&opts, threads);
        outputs.push(all_files(dir.path()));
    }
    assert!(outputs[0].len() > 10);
    assert!(outputs[0].contains_key("records/logistics/part-00002.parquet"));
    for other in &outputs[1..] {
        assert_eq!(
            outputs[0].keys().collect::<Vec<_>>(),
            other.keys().collect::<Vec<_>>()
        );
        for (name, bytes) in &outputs[0] {
            assert!(
                bytes == &other[name],
                "{name} differs between thread counts"
            );
        }
    }
}

#[test]
fn the_seed_changes_the_records() {
    let a = temp_dir();
    let b = temp_dir();
    generate_with_threads(&GenerateOptions::new(500, a.path()).with_seed(1), 2);
    generate_with_threads(&GenerateOptions::new(500, b.path()).with_seed(2), 2);
    let (a, b) = (all_files(a.path()), all_files(b.path()));
    assert_ne!(
        a["records/production/part-00000.parquet"],
        b["records/production/part-00000.parquet"]
    );
    assert_ne!(a["secrets/pins.csv"], b["secrets/pins.csv"]);
}

#[test]
fn row_group_size_does_not_change_the_records() {
    // Same rows, cut differently: the record values are the same.
    let a = temp_dir();
    let b = temp_dir();
    let opts = |dir: &std::path::Path, g| {
        GenerateOptions::new(3_000, dir)
            .with_seed(8)
            .with_rows_per_group(g)
    };
    generate_with_threads(&opts(a.path(), 333), 2);
    generate_with_threads(&opts(b.path(), 65_536), 2);
    for kind in ["production", "customs", "logistics", "inspection"] {
        let file = format!("records/{kind}/part-00000.parquet");
        let rows = |dir: &std::path::Path| json_rows(&crate::read_batches(&dir.join(&file)));
        assert_eq!(rows(a.path()), rows(b.path()), "{kind}");
    }
}

/// The rows of some batches as JSON lines (a value-level comparison).
fn json_rows(batches: &[arrow_array::RecordBatch]) -> Vec<String> {
    let mut rows = Vec::new();
    for batch in batches {
        let kind = proofmark_schemas::detect_kind(&batch.schema()).unwrap();
        let view = proofmark_schemas::RecordView::try_new(kind, batch).unwrap();
        for r in 0..batch.num_rows() {
            rows.push(
                serde_json::Value::Object(proofmark_schemas::row_to_json(&view, r)).to_string(),
            );
        }
    }
    rows
}
