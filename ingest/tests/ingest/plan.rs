//! Plans: discovery, kinds, row groups, digests, copies, duplicates, frozen plans, bad inputs.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::ParquetMetaDataReader;
use proofmark_ingest::{IngestError, InputMode, PlanProgress, Store, load_plan, make_plan};
use proofmark_merkle::SuiteId;
use proofmark_schemas::Kind;
use serde_json::Value;

use crate::common::*;

fn logistics_records(tag: &str, n: usize) -> Vec<Value> {
    (0..n).map(|i| logistics(tag, i)).collect()
}

/// Row group byte ranges and rows, read independently with parquet's footer reader.
fn row_groups_of(path: &std::path::Path) -> Vec<(u64, u64, u64)> {
    let file = std::fs::File::open(path).expect("open");
    let md = ParquetMetaDataReader::new()
        .parse_and_finish(&file)
        .expect("metadata");
    md.row_groups()
        .iter()
        .map(|rg| {
            let start = rg
                .columns()
                .iter()
                .map(|c| c.byte_range().0)
                .min()
                .expect("columns");
            let end = rg
                .columns()
                .iter()
                .map(|c| c.byte_range().0 + c.byte_range().1)
                .max()
                .expect("columns");
            (start, end - start, rg.num_rows() as u64)
        })
        .collect()
}

#[test]
fn plan_detects_kinds_row_groups_and_digests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = write_parquet(
        &dir.path().join("in/logistics.parquet"),
        Kind::Logistics,
        &logistics_records("l", 25),
        10,
    );
    let prod_records: Vec<Value> = (0..7).map(|i| production("p", i)).collect();
    let prod = write_parquet(
        &dir.path().join("in/production.parquet"),
        Kind::Production,
        &prod_records,
        4,
    );
    let store = Store::from_url(&path_str(&dir.path().join("store"))).expect("store");
    let inputs = vec![path_str(&log), path_str(&prod)];
    let plan = rt()
        .block_on(make_plan(
            &store,
            &inputs,
            &opts("b1", InputMode::Reference, SuiteId::Blake3),
            &no_progress,
        ))
        .expect("plan");

    assert_eq!(plan.format, "proofmark-plan");
    assert_eq!(plan.spec_version, 1);
    assert_eq!(plan.batch_date_days(), 20_782);
    assert_eq!(plan.files.len(), 2);
    // Production sorts before logistics, whatever the input order.
    assert_eq!(plan.files[0].kind, Kind::Production);
    assert_eq!(plan.files[1].kind, Kind::Logistics);
    assert_eq!(plan.total_rows, 32);
    for (f, path, rows) in [(&plan.files[0], &prod, 7u64), (&plan.files[1], &log, 25)] {
        let url = url::Url::from_file_path(path).expect("url").to_string();
        assert_eq!(f.source, url);
        assert_eq!(f.path, url, "reference mode reads the source");
        assert_eq!(f.size, std::fs::metadata(path).expect("meta").len());
        assert_eq!(f.digest, blake3_of(path));
        assert_eq!(f.rows, rows);
        assert!(f.duplicate_rows.is_empty());
        let bytes = std::fs::read(path).expect("read");
        let expected = row_groups_of(path);
        assert_eq!(f.row_groups.len(), expected.len());
        for (rg, (offset, length, rows)) in f.row_groups.iter().zip(expected) {
            assert_eq!((rg.offset, rg.length, rg.rows), (offset, length, rows));
            let range = &bytes[offset as usize..(offset + length) as usize];
            assert_eq!(
                rg.digest,
                format!("blake3:{}", blake3::hash(range).to_hex())
            );
        }
    }
    assert_eq!(plan.files[0].row_groups.len(), 2);
    assert_eq!(plan.files[1].row_groups.len(), 3);
    let segs: Vec<(u32, u32, u32, u64, u64)> = plan
        .segments
        .iter()
        .map(|s| (s.segment, s.file, s.row_group, s.first_row, s.rows))
        .collect();
    assert_eq!(
        segs,
        [
            (0, 0, 0, 0, 4),
            (1, 0, 1, 4, 3),
            (2, 1, 0, 0, 10),
            (3, 1, 1, 10, 10),
            (4, 1, 2, 20, 5)
        ]
    );
    assert_eq!(plan.segment(4).map(|s| s.rows), Some(5));
    assert_eq!(plan.segment(5), None);

    // The plan is stored and loads back equal.
    let loaded = rt()
        .block_on(load_plan(&store, "b1"))
        .expect("load")
        .expect("present");
    assert_eq!(loaded, plan);
    assert!(dir.path().join("store/batches/b1/plan.json").exists());
    assert_eq!(
        rt().block_on(load_plan(&store, "other")).expect("load"),
        None
    );
    // JSON field names are the spec's.
    let json: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("store/batches/b1/plan.json")).expect("read"),
    )
    .expect("json");
    assert_eq!(json["suite"], "blake3");
    assert_eq!(json["input_mode"], "reference");
    assert_eq!(json["files"][1]["kind"], "logistics");
    assert_eq!(json["files"][1]["row_groups"][0]["rows"], 10);
    assert!(
        json["created_at"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z'))
    );
}

#[test]
fn copy_mode_copies_byte_identical_files_with_unique_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = write_parquet(
        &dir.path().join("in/a/records.parquet"),
        Kind::Logistics,
        &logistics_records("a", 5),
        10,
    );
    let b = write_parquet(
        &dir.path().join("in/b/records.parquet"),
        Kind::Logistics,
        &logistics_records("b", 6),
        10,
    );
    let c = write_parquet(
        &dir.path().join("in/c/prod.parquet"),
        Kind::Production,
        &[production("c", 0)],
        10,
    );
    let store = Store::from_url(&path_str(&dir.path().join("store"))).expect("store");
    let seen = std::sync::Mutex::new(Vec::new());
    let progress = |p: proofmark_ingest::PlanProgress| seen.lock().expect("lock").push(p);
    let plan = rt()
        .block_on(make_plan(
            &store,
            &[path_str(&dir.path().join("in"))],
            &opts("copy-1", InputMode::Copy, SuiteId::Blake3),
            &progress,
        ))
        .expect("plan");
    let paths: Vec<&str> = plan.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "batches/copy-1/inputs/production/prod.parquet",
            "batches/copy-1/inputs/logistics/1-records.parquet",
            "batches/copy-1/inputs/logistics/2-records.parquet",
        ]
    );
    for (f, src) in plan.files.iter().zip([&c, &a, &b]) {
        let copy = std::fs::read(dir.path().join("store").join(&f.path)).expect("copy");
        assert!(
            copy == std::fs::read(src).expect("src"),
            "{} is not a byte-identical copy",
            f.path
        );
        assert_eq!(f.digest, blake3_of(src));
    }
    let events = seen.lock().expect("lock");
    let digested: u64 = events
        .iter()
        .filter_map(|e| match e {
            proofmark_ingest::PlanProgress::Digested { bytes, .. } => Some(*bytes),
            _ => None,
        })
        .sum();
    assert_eq!(digested, plan.files.iter().map(|f| f.size).sum::<u64>());
}

#[test]
fn glob_and_prefix_inputs_in_a_deterministic_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("landing");
    write_parquet(
        &root.join("records/2026/x.parquet"),
        Kind::Logistics,
        &logistics_records("x", 3),
        10,
    );
    write_parquet(
        &root.join("records/y.parquet"),
        Kind::Logistics,
        &logistics_records("y", 3),
        10,
    );
    write_parquet(
        &root.join("records/2026/z.parquet"),
        Kind::Production,
        &[production("z", 1)],
        10,
    );
    std::fs::write(root.join("records/README.txt"), "not parquet").expect("write");
    let store = Store::from_url(&path_str(&dir.path().join("store"))).expect("store");
    let rt = rt();
    let sources = |id: &str, inputs: Vec<String>| {
        let plan = rt
            .block_on(make_plan(
                &store,
                &inputs,
                &opts(id, InputMode::Reference, SuiteId::Blake3),
                &no_progress,
            ))
            .expect("plan");
        plan.files
            .iter()
            .map(|f| f.source.rsplit('/').next().expect("name").to_owned())
            .collect::<Vec<_>>()
    };
    let glob = format!("{}/records/**/*.parquet", path_str(&root));
    assert_eq!(
        sources("g1", vec![glob.clone()]),
        ["z.parquet", "x.parquet", "y.parquet"]
    );
    let one_level = format!("{}/records/*.parquet", path_str(&root));
    assert_eq!(sources("g2", vec![one_level]), ["y.parquet"]);
    let prefix = path_str(&root.join("records/2026"));
    assert_eq!(
        sources("p1", vec![prefix.clone()]),
        ["z.parquet", "x.parquet"]
    );
    // Input order and overlaps do not matter.
    let single = path_str(&root.join("records/y.parquet"));
    assert_eq!(
        sources("p2", vec![single.clone(), prefix.clone(), glob]),
        ["z.parquet", "x.parquet", "y.parquet"]
    );
    // file:// URLs work like paths.
    let url = url::Url::from_file_path(root.join("records/2026"))
        .expect("url")
        .to_string();
    assert_eq!(sources("u1", vec![url]), ["z.parquet", "x.parquet"]);
    // A folder takes only its *.parquet files: the README beside them is skipped.
    assert_eq!(
        sources("p3", vec![path_str(&root.join("records"))]),
        ["z.parquet", "x.parquet", "y.parquet"]
    );
    // A folder holding files but none of them Parquet is refused, saying how many it skipped.
    let only = root.join("only");
    std::fs::create_dir_all(&only).expect("mkdir");
    std::fs::write(only.join("README.txt"), "not parquet").expect("write");
    std::fs::write(only.join("_SUCCESS"), "").expect("write");
    let err = rt
        .block_on(make_plan(
            &store,
            &[path_str(&only)],
            &opts("p4", InputMode::Reference, SuiteId::Blake3),
            &no_progress,
        ))
        .expect_err("no Parquet file");
    assert!(
        matches!(&err, IngestError::NoQualifyingFile { skipped: 2, .. }),
        "{err:?}"
    );
}

#[test]
fn replanning_returns_the_frozen_plan_and_refuses_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = write_parquet(
        &dir.path().join("in/a.parquet"),
        Kind::Logistics,
        &logistics_records("a", 12),
        5,
    );
    let store = Store::from_url(&path_str(&dir.path().join("store"))).expect("store");
    let inputs = vec![path_str(&a)];
    let rt = rt();
    let o = opts("frozen", InputMode::Copy, SuiteId::Blake3);
    let first = rt
        .block_on(make_plan(&store, &inputs, &o, &no_progress))
        .expect("plan");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let again = rt
        .block_on(make_plan(&store, &inputs, &o, &no_progress))
        .expect("replan");
    assert_eq!(
        again, first,
        "same inputs: the stored plan, unchanged (created_at too)"
    );

    // Other settings: refused.
    let other_suite = opts("frozen", InputMode::Copy, SuiteId::Sha256Rfc6962);
    let err = rt
        .block_on(make_plan(&store, &inputs, &other_suite, &no_progress))
        .expect_err("suite");
    assert!(
        matches!(&err, IngestError::PlanFrozen { differences, .. } if differences.len() == 1),
        "{err:?}"
    );

    // A changed input: refused, naming it.
    write_parquet(&a, Kind::Logistics, &logistics_records("changed", 12), 5);
    let err = rt
        .block_on(make_plan(&store, &inputs, &o, &no_progress))
        .expect_err("changed");
    match &err {
        IngestError::PlanFrozen {
            batch_id,
            differences,
        } => {
            assert_eq!(batch_id, "frozen");
            assert!(
                differences.iter().any(|d| d.contains("a.parquet")),
                "{differences:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("frozen"));
    // The stored plan and copy are untouched.
    let stored = rt
        .block_on(load_plan(&store, "frozen"))
        .expect("load")
        .expect("present");
    assert_eq!(stored, first);

    // An added input: refused.
    let b = write_parquet(
        &dir.path().join("in/b.parquet"),
        Kind::Logistics,
        &logistics_records("b", 2),
        5,
    );
    let err = rt
        .block_on(make_plan(&store, &[path_str(&b)], &o, &no_progress))
        .expect_err("other inputs");
    assert!(
        matches!(&err, IngestError::PlanFrozen { differences, .. } if differences.len() == 2),
        "{err:?}"
    );
}

#[test]
fn unknown_schema_names_the_file_and_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("in/weird.parquet");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let cols: Vec<(&str, ArrayRef)> = vec![
        (
            "record_id",
            Arc::new(StringArray::from(vec!["r1"])) as ArrayRef,
        ),
        (
            "colour",
            Arc::new(StringArray::from(vec!["blue"])) as ArrayRef,
        ),
    ];
    let batch = RecordBatch::try_from_iter(cols).expect("batch");
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(&path).expect("create"),
        batch.schema(),
        None,
    )
    .expect("w");
    w.write(&batch).expect("write");
    w.close().expect("close");
    let store = Store::from_url(&path_str(&dir.path().join("store"))).expect("store");
    let err = rt()
        .block_on(make_plan(
            &store,
            &[path_str(&path)],
            &opts("s", InputMode::Copy, SuiteId::Blake3),
            &no_progress,
        ))
        .expect_err("unknown schema");
    let IngestError::UnknownSchema { url, source } = &err else {
        panic!("{err:?}")
    };
    assert!(url.ends_with("weird.parquet"));
    assert!(source.to_string().contains("colour"), "{source}");
    assert!(err.to_string().contains("weird.parquet"));

    // A logistics file with an extra column: the mismatch names it.
    let source = plan_with_added_column(&store, &dir.path().join("in/extra.parquet"), "secret");
    assert!(
        matches!(&*source, proofmark_schemas::SchemaError::Mismatch { unexpected, .. } if unexpected == &["secret"])
    );
    // A logistics file with `org_id` twice: refused, since only one of the two would be hashed.
    let source = plan_with_added_column(&store, &dir.path().join("in/twice.parquet"), "org_id");
    assert!(
        source
            .to_string()
            .contains("columns named more than once [org_id]"),
        "{source}"
    );
}

/// Writes two logistics records with one more text column named `name` to `path`, plans it
/// (which must fail naming the file's schema) and returns the schema error.
fn plan_with_added_column(
    store: &Store,
    path: &std::path::Path,
    name: &str,
) -> Box<proofmark_schemas::SchemaError> {
    let batch = proofmark_schemas::batch_from_json(Kind::Logistics, &logistics_records("x", 2))
        .expect("batch");
    let mut columns: Vec<(String, ArrayRef)> = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, c)| (f.name().clone(), c.clone()))
        .collect();
    columns.push((
        name.into(),
        Arc::new(StringArray::from(vec!["s", "t"])) as ArrayRef,
    ));
    let batch = RecordBatch::try_from_iter(columns).expect("batch");
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(path).expect("create"),
        batch.schema(),
        None,
    )
    .expect("w");
    w.write(&batch).expect("write");
    w.close().expect("close");
    let err = rt()
        .block_on(make_plan(
            store,
            &[path_str(path)],
            &opts("s2", InputMode::Copy, SuiteId::Blake3),
            &no_progress,
        ))
        .expect_err("an added column");
    let IngestError::UnknownSchema { url, source } = err else {
        panic!("{err:?}")
    };
    let file = path.file_name().and_then(|n| n.to_str()).expect("name");
    assert!(url.ends_with(file), "{url}");
    source
}

#[test]
fn missing_empty_and_corrupt_inputs_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::from_url(&path_str(&dir.path().join("store"))).expect("store");
    let rt = rt();
    let plan = |inputs: Vec<String>| {
        rt.block_on(make_plan(
            &store,
            &inputs,
            &opts("bad", InputMode::Copy, SuiteId::Blake3),
            &no_progress,
        ))
    };

    let missing = path_str(&dir.path().join("nope/none.parquet"));
    let err = plan(vec![missing.clone()]).expect_err("missing");
    assert!(
        matches!(&err, IngestError::InputNotFound { input } if *input == missing),
        "{err:?}"
    );
    let glob = format!("{}/*.parquet", path_str(&dir.path().join("nope")));
    assert!(matches!(
        plan(vec![glob]).expect_err("empty glob"),
        IngestError::InputNotFound { .. }
    ));
    assert!(matches!(
        plan(vec![]).expect_err("no inputs"),
        IngestError::NoInputs
    ));

    let empty = dir.path().join("in/empty.parquet");
    std::fs::create_dir_all(empty.parent().expect("parent")).expect("mkdir");
    std::fs::write(&empty, b"").expect("write");
    let err = plan(vec![path_str(&empty)]).expect_err("empty");
    assert!(
        matches!(&err, IngestError::EmptyFile { url } if url.ends_with("empty.parquet")),
        "{err:?}"
    );

    let good = write_parquet(
        &dir.path().join("in/good.parquet"),
        Kind::Logistics,
        &logistics_records("g", 50),
        20,
    );
    let bytes = std::fs::read(&good).expect("read");
    let truncated = dir.path().join("in/truncated.parquet");
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).expect("write");
    let err = plan(vec![path_str(&truncated)]).expect_err("truncated");
    assert!(
        matches!(&err, IngestError::BadParquet { url, .. } if url.ends_with("truncated.parquet")),
        "{err:?}"
    );
    assert!(err.to_string().contains("truncated.parquet"));

    let garbage = dir.path().join("in/garbage.parquet");
    let noise: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&garbage, &noise).expect("write");
    let err = plan(vec![path_str(&garbage)]).expect_err("garbage");
    assert!(
        matches!(&err, IngestError::BadParquet { url, .. } if url.ends_with("garbage.parquet")),
        "{err:?}"
    );

    let tiny = dir.path().join("in/tiny.parquet");
    std::fs::write(&tiny, b"PAR1").expect("write");
    assert!(matches!(
        plan(vec![path_str(&tiny)]).expect_err("tiny"),
        IngestError::BadParquet { .. }
    ));

    // Nothing was written for the failed batch.
    assert_eq!(rt.block_on(load_plan(&store, "bad")).expect("load"), None);
}

#[test]
fn bad_batch_ids_and_dates_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = write_parquet(
        &dir.path().join("a.parquet"),
        Kind::Logistics,
        &logistics_records("a", 1),
        5,
    );
    let store = Store::from_url(&path_str(&dir.path().join("store"))).expect("store");
    let rt = rt();
    for id in ["", ".x", "a/b", "white space", &"x".repeat(129)] {
        let err = rt
            .block_on(make_plan(
                &store,
                &[path_str(&a)],
                &opts(id, InputMode::Copy, SuiteId::Blake3),
                &no_progress,
            ))
            .expect_err("bad id");
        assert!(
            matches!(err, IngestError::InvalidBatchId { .. }),
            "{id}: {err:?}"
        );
    }
    let mut o = opts("ok", InputMode::Copy, SuiteId::Blake3);
    o.batch_date = "2026-02-30".into();
    let err = rt
        .block_on(make_plan(&store, &[path_str(&a)], &o, &no_progress))
        .expect_err("bad date");
    assert!(matches!(err, IngestError::InvalidBatchDate { .. }));
}

#[test]
fn duplicate_record_ids_across_row_groups_are_listed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut records = logistics_records("d", 30);
    for (row, same_as) in [(3usize, 0usize), (12, 1), (25, 1), (29, 28)] {
        let id = records[same_as]["record_id"].clone();
        records[row]["record_id"] = id;
    }
    records[7]["record_id"] = Value::Null; // a null id is a missing value, not a duplicate
    records[8]["record_id"] = Value::Null;
    let path = write_parquet(
        &dir.path().join("dups.parquet"),
        Kind::Logistics,
        &records,
        10,
    );
    let store = Store::from_url(&path_str(&dir.path().join("store"))).expect("store");
    let plan = rt()
        .block_on(make_plan(
            &store,
            &[path_str(&path)],
            &opts("d", InputMode::Copy, SuiteId::Blake3),
            &no_progress,
        ))
        .expect("plan");
    assert_eq!(plan.files[0].duplicate_rows, [3, 12, 25, 29]);
}

/// Whether every copy of the stored plan of `batch` holds the bytes the plan digested.
fn copies_match_the_plan(store_dir: &std::path::Path, store: &Store, batch: &str) -> bool {
    let plan = rt()
        .block_on(load_plan(store, batch))
        .expect("load")
        .expect("a plan");
    plan.files.iter().all(|f| {
        std::fs::read(store_dir.join(&f.path))
            .is_ok_and(|bytes| format!("blake3:{}", blake3::hash(&bytes).to_hex()) == f.digest)
    })
}

/// A copy that is gone or cut short after the plan is copied again from its source by the
/// next plan of the batch (its source checked against the plan's digest first), so that the
/// "fix it and rerun" advice holds.
#[test]
fn a_lost_copy_is_put_back_by_the_next_plan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write_parquet(
        &dir.path().join("in/a.parquet"),
        Kind::Logistics,
        &logistics_records("a", 40),
        10,
    );
    let store_dir = dir.path().join("store");
    let store = Store::from_url(&path_str(&store_dir)).expect("store");
    let plan = |rt: &tokio::runtime::Runtime| {
        rt.block_on(make_plan(
            &store,
            &[path_str(&input)],
            &opts("b", InputMode::Copy, SuiteId::Blake3),
            &no_progress,
        ))
    };
    let rt = rt();
    let first = plan(&rt).expect("plan");
    let copy = store_dir.join(&first.files[0].path);
    // Each copy put back is told, with its source and the copy's URL.
    let restored = std::sync::Mutex::new(Vec::new());
    let record = |p: PlanProgress| {
        if let PlanProgress::CopyRestored { source, copy } = p {
            restored.lock().expect("lock").push((source, copy));
        }
    };
    let replan = |rt: &tokio::runtime::Runtime| {
        rt.block_on(make_plan(
            &store,
            &[path_str(&input)],
            &opts("b", InputMode::Copy, SuiteId::Blake3),
            &record,
        ))
    };
    assert_eq!(replan(&rt).expect("replan"), first);
    assert!(
        restored.lock().expect("lock").is_empty(),
        "nothing to restore"
    );
    std::fs::remove_file(&copy).expect("remove the copy");
    assert_eq!(replan(&rt).expect("replan"), first);
    assert!(copies_match_the_plan(&store_dir, &store, "b"));
    assert_eq!(
        *restored.lock().expect("lock"),
        [(
            first.files[0].source.clone(),
            store.object_url(&first.files[0].path)
        )]
    );
    let bytes = std::fs::read(&copy).expect("copy");
    std::fs::write(&copy, &bytes[..bytes.len() / 2]).expect("cut");
    assert_eq!(plan(&rt).expect("replan"), first);
    assert!(copies_match_the_plan(&store_dir, &store, "b"));
    // A source that changed since: the copy cannot be put back, and the plan says why.
    std::fs::remove_file(&copy).expect("remove the copy");
    write_parquet(
        &input,
        Kind::Logistics,
        &logistics_records("changed", 40),
        10,
    );
    let err = plan(&rt).expect_err("changed");
    assert!(matches!(err, IngestError::PlanFrozen { .. }), "{err}");
}

/// An input file with no rows is planned (an empty delivery is legal) and told, naming the
/// file, so that the operator sees a delivery that may have been cut short at its source.
#[test]
fn an_input_without_rows_is_planned_and_told() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = write_parquet(
        &dir.path().join("in/empty.parquet"),
        Kind::Logistics,
        &[],
        10,
    );
    let full = write_parquet(
        &dir.path().join("in/full.parquet"),
        Kind::Logistics,
        &logistics_records("f", 5),
        10,
    );
    let store = Store::from_url(&path_str(&dir.path().join("store"))).expect("store");
    let told = std::sync::Mutex::new(Vec::new());
    let record = |p: PlanProgress| {
        if let PlanProgress::NoRows { url } = p {
            told.lock().expect("lock").push(url);
        }
    };
    let plan = rt()
        .block_on(make_plan(
            &store,
            &[path_str(&empty), path_str(&full)],
            &opts("e", InputMode::Copy, SuiteId::Blake3),
            &record,
        ))
        .expect("plan");
    assert_eq!(plan.files.len(), 2);
    assert_eq!(plan.total_rows, 5);
    let told = told.into_inner().expect("lock");
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].ends_with("in/empty.parquet"), "{told:?}");
}

/// A rerun's cheap comparison with the frozen plan sees an input rewritten with the same size
/// when its footer differs (here two column names swapped, every other byte as it was), and
/// sees nothing when the inputs are as planned.
#[test]
fn a_same_size_input_with_another_footer_is_a_difference() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = crate::segment::carriers_and_waybills(dir.path());
    let store = Store::from_url(&path_str(&dir.path().join("store"))).expect("store");
    let options = opts("same-size", InputMode::Copy, SuiteId::Blake3);
    let inputs = [path_str(&source)];
    let rt = rt();
    let plan = rt
        .block_on(make_plan(&store, &inputs, &options, &no_progress))
        .expect("plan");
    let same = rt.block_on(proofmark_ingest::plan_differences(&plan, &inputs, &options));
    assert!(same.is_empty(), "{same:?}");
    let size = std::fs::metadata(&source).expect("size").len();
    crate::segment::swap_column_names_in_footer(&source, b"carrier", b"waybill");
    assert_eq!(std::fs::metadata(&source).expect("size").len(), size);
    let changed = rt.block_on(proofmark_ingest::plan_differences(&plan, &inputs, &options));
    assert!(changed.settings.is_empty(), "{changed:?}");
    assert_eq!(changed.inputs.len(), 1, "{changed:?}");
    assert!(
        changed.inputs[0].contains("footer digest") && changed.inputs[0].contains(&inputs[0]),
        "{changed:?}"
    );
}

/// Two plans of one batch id at once, from inputs of the same name and other contents: one
/// wins, the other fails as frozen and differing, and whatever the order the copies in the
/// store are those of the winning plan (the loser puts back any it replaced).
#[test]
fn the_loser_of_two_concurrent_plans_leaves_the_winners_copies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inputs: Vec<String> = ["x", "y"]
        .iter()
        .map(|tag| {
            let path = write_parquet(
                &dir.path().join(format!("{tag}/l.parquet")),
                Kind::Logistics,
                &logistics_records(tag, 3000),
                100,
            );
            path_str(&path)
        })
        .collect();
    let store_dir = dir.path().join("store");
    let store = Store::from_url(&path_str(&store_dir)).expect("store");
    let options = opts("race", InputMode::Copy, SuiteId::Blake3);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (a, b) = rt.block_on(async {
        tokio::join!(
            make_plan(&store, &inputs[..1], &options, &no_progress),
            make_plan(&store, &inputs[1..], &options, &no_progress),
        )
    });
    assert!(
        a.is_ok() != b.is_ok(),
        "exactly one plan wins: {:?} / {:?}",
        a.as_ref().err(),
        b.as_ref().err()
    );
    let lost = a.err().or(b.err()).expect("a loser");
    assert!(matches!(lost, IngestError::PlanFrozen { .. }), "{lost}");
    assert!(copies_match_the_plan(&store_dir, &store, "race"));
}

/// A store kept inside an input folder: the next plan's inputs would take in the store's own
/// copies and rejects, so an input file inside the store is refused, naming both.
#[test]
fn an_input_inside_the_store_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    write_parquet(
        &data.join("a.parquet"),
        Kind::Logistics,
        &logistics_records("a", 20),
        10,
    );
    let store_dir = data.join("store");
    let store = Store::from_url(&path_str(&store_dir)).expect("store");
    let plan = |batch: &str| {
        rt().block_on(make_plan(
            &store,
            &[format!("{}/**/*.parquet", path_str(&data))],
            &opts(batch, InputMode::Copy, SuiteId::Blake3),
            &no_progress,
        ))
    };
    // The first night: the store does not exist yet, only the input is found.
    plan("night-1").expect("first plan");
    // The next: the glob finds the first night's copy inside the store.
    let err = plan("night-2").expect_err("an input inside the store");
    assert!(matches!(err, IngestError::InputInStore { .. }), "{err}");
    assert!(err.to_string().contains("inside the batch store"), "{err}");
}
