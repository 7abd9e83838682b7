//! The files: layout, schemas, row groups, page index, dataset.json, options.

use std::fs::File;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use proofmark_datasets::{DatasetError, DatasetSummary, GenerateOptions, generate};
use proofmark_schemas::Kind;

use crate::{generate_with_threads, read_batches, read_truth, record_files, temp_dir};

#[test]
fn files_have_the_kind_schemas_row_groups_and_page_index() {
    let dir = temp_dir();
    let opts = GenerateOptions::new(4_000, dir.path())
        .with_seed(2)
        .with_bad_rate(0.02)
        .with_rows_per_group(1_500);
    let summary = generate_with_threads(&opts, 2);
    let files = record_files(dir.path(), &summary);
    assert_eq!(files.len(), 4);
    for (kind, name, path) in files {
        assert_eq!(name, format!("records/{}/part-00000.parquet", kind.name()));
        let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
        assert_eq!(builder.schema(), &kind.arrow_schema(), "{name}");
        let meta = builder.metadata();
        let rows: Vec<i64> = meta.row_groups().iter().map(|g| g.num_rows()).collect();
        let total: i64 = rows.iter().sum();
        assert!(
            rows[..rows.len() - 1].iter().all(|&r| r == 1_500),
            "{name}: {rows:?}"
        );
        assert!(*rows.last().unwrap() <= 1_500);
        let described = summary.kind(kind.name()).unwrap();
        assert_eq!(total as u64, described.rows);
        assert_eq!(described.files[0].row_groups, rows.len() as u64);
        assert_eq!(
            described.files[0].bytes,
            std::fs::metadata(&path).unwrap().len()
        );
        for group in meta.row_groups() {
            for column in group.columns() {
                assert!(
                    matches!(column.compression(), Compression::ZSTD(_)),
                    "{name}"
                );
                assert!(
                    column.statistics().is_some(),
                    "{name}: {}",
                    column.column_path()
                );
                assert!(
                    column.column_index_offset().is_some(),
                    "{name}: column index"
                );
                assert!(
                    column.offset_index_offset().is_some(),
                    "{name}: offset index"
                );
            }
        }
    }
}

#[test]
fn dataset_json_describes_what_was_written() {
    let dir = temp_dir();
    let opts = GenerateOptions::new(3_000, dir.path())
        .with_seed(6)
        .with_bad_rate(0.01)
        .with_files_per_kind(2);
    let summary = generate_with_threads(&opts, 2);
    let text = std::fs::read_to_string(dir.path().join("dataset.json")).unwrap();
    let read: DatasetSummary = serde_json::from_str(&text).unwrap();
    assert_eq!(read, summary);
    assert_eq!(read.arguments.items, 3_000);
    assert_eq!(read.arguments.seed, 6);
    assert_eq!(read.arguments.date, "2026-11-24");
    assert_eq!(read.generator, proofmark_datasets::GENERATOR);
    assert_eq!(read.kinds.len(), 4);
    assert_eq!(read.rows, read.kinds.iter().map(|k| k.rows).sum::<u64>());
    assert_eq!(read.bad_rows, read_truth(dir.path()).len() as u64);
    assert_eq!(read.kind("production").unwrap().rows, 3_000);
    assert!(read.kind("logistics").unwrap().rows > 6_000);
    assert_eq!(read.kind("customs").unwrap().rows, read.lots);
    assert!(read.kinds.iter().all(|k| k.files.len() == 2));
    // Only records under records/, nothing else beside them.
    let mut top: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(
        top,
        ["dataset.json", "orgs.csv", "records", "secrets", "truth"]
    );
    assert_eq!(read.orgs.as_deref(), Some("orgs.csv"));
    let truth: Vec<String> = std::fs::read_dir(dir.path().join("truth"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(truth, ["defects.jsonl"]);
}

#[test]
fn an_existing_dataset_is_kept_unless_overwriting() {
    let dir = temp_dir();
    let opts = GenerateOptions::new(100, dir.path());
    generate(&opts, |_| {}).unwrap();
    assert!(matches!(
        generate(&opts, |_| {}),
        Err(DatasetError::OutputNotEmpty { .. })
    ));
    let again = generate(
        &opts.clone().with_overwrite(true).with_files_per_kind(1),
        |_| {},
    )
    .unwrap();
    assert_eq!(again.items, 100);
}

#[test]
fn bad_options_are_refused_before_writing() {
    let dir = temp_dir();
    let out = dir.path().join("never");
    assert!(matches!(
        generate(&GenerateOptions::new(0, &out), |_| {}),
        Err(DatasetError::NoItems)
    ));
    assert!(matches!(
        generate(&GenerateOptions::new(10, &out).with_bad_rate(1.5), |_| {}),
        Err(DatasetError::BadRate { .. })
    ));
    assert!(!out.exists());
}

#[test]
fn an_unwritable_directory_is_an_io_error() {
    let dir = temp_dir();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let err = generate(&GenerateOptions::new(10, file.join("sub")), |_| {}).unwrap_err();
    assert!(matches!(err, DatasetError::Io { .. }), "{err:?}");
}

#[test]
fn progress_counts_every_record() {
    let dir = temp_dir();
    let seen = std::sync::atomic::AtomicU64::new(0);
    let opts = GenerateOptions::new(2_500, dir.path()).with_rows_per_group(512);
    let summary = generate(&opts, |n| {
        seen.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(seen.into_inner(), summary.rows);
    assert_eq!(
        summary
            .kinds
            .iter()
            .map(|k| k.kind.parse::<Kind>().unwrap())
            .collect::<Vec<_>>(),
        Kind::ALL
    );
}

/// `orgs.csv` names every organisation a good record is provided by (a bad
/// row's `org_id` may be the defect), each once, with a quoted field where
/// a name has a comma.
#[test]
fn orgs_csv_names_every_provider() {
    use std::collections::{BTreeMap, BTreeSet};

    use arrow_array::Array as _;
    use arrow_array::cast::AsArray as _;

    let dir = temp_dir();
    let opts = GenerateOptions::new(3_000, dir.path())
        .with_seed(11)
        .with_bad_rate(0.02);
    let summary = generate_with_threads(&opts, 2);
    let text = std::fs::read_to_string(dir.path().join("orgs.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("org_id,name"));
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for line in lines {
        let (id, name) = line.split_once(',').unwrap();
        let name = match name.strip_prefix('"') {
            Some(quoted) => quoted.strip_suffix('"').unwrap().replace("\"\"", "\""),
            None => {
                assert!(!name.contains(','), "{line}");
                name.to_owned()
            }
        };
        assert!(!name.is_empty(), "{line}");
        assert!(names.insert(id.to_owned(), name).is_none(), "{id} twice");
    }
    let bad: BTreeSet<(String, u64)> = read_truth(dir.path())
        .into_iter()
        .map(|t| (t.file, t.row))
        .collect();
    let mut providers = BTreeSet::new();
    for (_, file, path) in record_files(dir.path(), &summary) {
        let mut row = 0u64;
        for batch in read_batches(&path) {
            let ids = batch.column_by_name("org_id").unwrap().as_string::<i32>();
            for i in 0..ids.len() {
                if !ids.is_null(i) && !bad.contains(&(file.clone(), row)) {
                    providers.insert(ids.value(i).to_owned());
                }
                row += 1;
            }
        }
    }
    let unnamed: Vec<&String> = providers
        .iter()
        .filter(|id| !names.contains_key(*id))
        .collect();
    assert!(unnamed.is_empty(), "{unnamed:?}");
    for prefix in ["brand-", "wh-", "carrier-", "broker-", "agency-"] {
        assert!(providers.iter().any(|p| p.starts_with(prefix)), "{prefix}");
    }
}
