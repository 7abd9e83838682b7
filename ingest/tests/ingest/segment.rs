//! Segments: leaves, rejects, duplicates, index entries, and inputs that change after the plan.

use std::collections::BTreeMap;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use proofmark_ingest::{
    IndexEntry, IngestError, InputMode, Plan, SegmentResult, Store, fetch_segment, make_plan,
    process_segment,
};
use proofmark_merkle::{Blake3, Sha256Rfc6962, Suite, SuiteId};
use proofmark_schemas::{Kind, RecordView, SubjectType, encode_row, subject_key};
use serde_json::{Value, json};

use crate::common::*;

/// Logistics records with known defects at known rows (rows per group: 10):
/// 5 unknown event type; 8 no subject; 13 duplicate of row 2 (another row group);
/// 17 malformed waybill and missing org_id; 4 duplicate of 3 (same row group);
/// 21 event time after the batch date.
fn records_with_defects(n: usize) -> Vec<Value> {
    let mut r: Vec<Value> = (0..n).map(|i| logistics("s", i)).collect();
    r[5]["event_type"] = json!("teleported");
    r[8]["code"] = Value::Null;
    r[8]["lot_id"] = Value::Null;
    r[13]["record_id"] = r[2]["record_id"].clone();
    r[4]["record_id"] = r[3]["record_id"].clone();
    r[17]["waybill"] = json!("has space");
    r[17]["org_id"] = Value::Null;
    r[21]["event_time"] = json!(4_000_000_000_000_000i64);
    r
}

fn expected_reasons() -> BTreeMap<u64, (Vec<&'static str>, Vec<&'static str>)> {
    BTreeMap::from([
        (4, (vec!["duplicate_record_id"], vec!["record_id"])),
        (5, (vec!["unknown_enum_value"], vec!["event_type"])),
        (8, (vec!["no_subject"], vec!["code"])),
        (13, (vec!["duplicate_record_id"], vec!["record_id"])),
        (
            17,
            (
                vec!["missing_value", "malformed_identifier"],
                vec!["org_id", "waybill"],
            ),
        ),
        (21, (vec!["time_out_of_range"], vec!["event_time"])),
    ])
}

/// Plans `records` (one file) and processes every segment.
fn plan_and_process(
    dir: &std::path::Path,
    records: &[Value],
    rows_per_group: usize,
    suite: SuiteId,
    mode: InputMode,
) -> (Store, Plan, Vec<SegmentResult>, std::path::PathBuf) {
    let kind = if records.first().is_some_and(|r| r.get("gtin").is_some()) {
        Kind::Production
    } else {
        Kind::Logistics
    };
    let path = write_parquet(
        &dir.join("in/records.parquet"),
        kind,
        records,
        rows_per_group,
    );
    let store = Store::from_url(&path_str(&dir.join("store"))).expect("store");
    let rt = rt();
    let plan = rt
        .block_on(make_plan(
            &store,
            &[path_str(&path)],
            &opts("seg", mode, suite),
            &no_progress,
        ))
        .expect("plan");
    let results = plan
        .segments
        .iter()
        .map(|s| {
            let input = rt
                .block_on(fetch_segment(&store, &plan, s.segment))
                .expect("fetch");
            process_segment(&plan, &input).expect("process")
        })
        .collect();
    (store, plan, results, path)
}

/// Canonical bytes of every row of the file, decoded independently.
fn canonical_rows(
    path: &std::path::Path,
    kind: Kind,
) -> Vec<(Vec<u8>, Option<String>, Option<String>)> {
    let file = std::fs::File::open(path).expect("open");
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("builder")
        .build()
        .expect("reader");
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.expect("batch");
        let view = RecordView::try_new(kind, &batch).expect("view");
        for row in 0..view.num_rows() {
            let mut buf = Vec::new();
            encode_row(&view, row, &mut buf);
            out.push((
                buf,
                view.code(row).map(str::to_owned),
                view.lot_id(row).map(str::to_owned),
            ));
        }
    }
    out
}

fn check_against_one_by_one<S: Suite>(records: &[Value], rows_per_group: usize, rejected: &[u64]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, plan, results, path) =
        plan_and_process(dir.path(), records, rows_per_group, S::ID, InputMode::Copy);
    let rows = canonical_rows(&path, plan.files[0].kind);
    let mut next_row = 0u64;
    for (seg, res) in plan.segments.iter().zip(&results) {
        assert_eq!(res.segment, seg.segment);
        assert_eq!(
            (res.file, res.row_group, res.first_row),
            (seg.file, seg.row_group, seg.first_row)
        );
        assert_eq!(res.rows_read, seg.rows);
        assert_eq!(res.rows_read, res.rows_accepted + res.rows_rejected);
        assert_eq!(res.leaves.len() as u64, res.rows_accepted);
        assert_eq!(
            res.input_digest,
            plan.files[0].row_groups[seg.row_group as usize].digest
        );
        let mut expected_leaves = Vec::new();
        let mut expected_entries = Vec::new();
        let mut expected_rejected = Vec::new();
        for r in 0..seg.rows {
            let file_row = seg.first_row + r;
            if rejected.contains(&file_row) {
                expected_rejected.push(r as u32);
                continue;
            }
            let (bytes, code, lot) = &rows[file_row as usize];
            let leaf = expected_leaves.len() as u32;
            expected_leaves.push(S::hash_leaf(bytes));
            // One entry per record: its code's key, or its lot's without a code (SPEC 4).
            let key = match (code, lot) {
                (Some(c), _) => subject_key(SubjectType::Item, c),
                (None, Some(l)) => subject_key(SubjectType::Lot, l),
                (None, None) => panic!("accepted row {file_row} has no subject"),
            };
            expected_entries.push(IndexEntry { key, leaf });
        }
        expected_entries.sort();
        assert_eq!(
            res.rejected_rows, expected_rejected,
            "segment {}",
            seg.segment
        );
        assert!(
            res.leaves == expected_leaves,
            "segment {}: leaves differ",
            seg.segment
        );
        assert!(
            res.entries == expected_entries,
            "segment {}: entries differ",
            seg.segment
        );
        assert!(res.entries.windows(2).all(|w| w[0] <= w[1]));
        next_row += seg.rows;
    }
    assert_eq!(next_row, records.len() as u64);
}

#[test]
fn leaves_and_entries_match_one_by_one_hashing_in_both_suites() {
    let records = records_with_defects(30);
    let rejected: Vec<u64> = expected_reasons().keys().copied().collect();
    check_against_one_by_one::<Blake3>(&records, 10, &rejected);
    check_against_one_by_one::<Sha256Rfc6962>(&records, 10, &rejected);
}

#[test]
fn large_row_groups_with_varied_lengths_hash_in_parallel_chunks() {
    // Over several hash chunks, with records from 1 to many 64-byte blocks.
    let mut records: Vec<Value> = (0..12_000).map(|i| logistics("big", i)).collect();
    for (i, r) in records.iter_mut().enumerate() {
        r["location"] = json!("Auckland ".repeat(i % 29));
        if i % 997 == 0 {
            r["event_type"] = json!("lost");
        }
    }
    let rejected: Vec<u64> = (0..12_000u64).filter(|i| i % 997 == 0).collect();
    check_against_one_by_one::<Blake3>(&records, 9_000, &rejected);
    check_against_one_by_one::<Sha256Rfc6962>(&records, 12_000, &rejected);
}

#[test]
fn records_longer_than_a_blake3_chunk_hash_like_one_by_one() {
    // Production records from 1 to about 40 blocks: many over 1024 bytes (several BLAKE3 chunks).
    let records: Vec<Value> = (0..700)
        .map(|i| {
            let mut r = production("long", i);
            r["ingredients"] = json!("whole milk powder, ".repeat(i % 100));
            r
        })
        .collect();
    let lens: std::collections::BTreeSet<usize> = {
        let batch = proofmark_schemas::batch_from_json(Kind::Production, &records).expect("batch");
        let view = RecordView::try_new(Kind::Production, &batch).expect("view");
        (0..view.num_rows())
            .map(|r| encode_row(&view, r, &mut Vec::new()))
            .collect()
    };
    assert!(
        lens.iter().any(|&l| l > 2048) && lens.iter().any(|&l| l <= 1024),
        "{lens:?}"
    );
    check_against_one_by_one::<Blake3>(&records, 300, &[]);
    check_against_one_by_one::<Sha256Rfc6962>(&records, 700, &[]);
}

#[test]
fn rejected_rows_carry_reasons_columns_and_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let records = records_with_defects(30);
    let (_, plan, results, _) = plan_and_process(
        dir.path(),
        &records,
        10,
        SuiteId::Blake3,
        InputMode::Reference,
    );
    assert_eq!(plan.files[0].duplicate_rows, [4, 13]);
    let rejects: Vec<_> = results.iter().flat_map(|r| r.rejects.iter()).collect();
    let expected = expected_reasons();
    assert_eq!(
        rejects.iter().map(|r| r.row).collect::<Vec<_>>(),
        expected.keys().copied().collect::<Vec<_>>()
    );
    for rej in &rejects {
        let (reasons, columns) = &expected[&rej.row];
        assert_eq!(&rej.reasons, reasons, "row {}", rej.row);
        assert_eq!(&rej.columns, columns, "row {}", rej.row);
        assert_eq!(rej.file, plan.files[0].source);
        assert_eq!(
            serde_json::from_str::<Value>(&rej.record_json).expect("record JSON"),
            records[rej.row as usize],
            "row {}",
            rej.row
        );
        assert_eq!(
            rej.record_id.as_deref(),
            records[rej.row as usize]["record_id"].as_str()
        );
    }
    let mut reasons = BTreeMap::new();
    for r in &results {
        for (k, v) in &r.reasons {
            *reasons.entry(k.clone()).or_insert(0u64) += v;
        }
    }
    let want: BTreeMap<String, u64> = [
        ("duplicate_record_id", 2),
        ("malformed_identifier", 1),
        ("missing_value", 1),
        ("no_subject", 1),
        ("time_out_of_range", 1),
        ("unknown_enum_value", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(reasons, want);
    // Rejects serialise to the JSON lines of the spec.
    let line = serde_json::to_value(rejects[0]).expect("json");
    assert_eq!(line["row"], 4);
    assert_eq!(line["reasons"], json!(["duplicate_record_id"]));
    assert_eq!(results.iter().map(|r| r.rows_rejected).sum::<u64>(), 6);
}

#[test]
fn a_modified_copy_fails_the_digest_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let records: Vec<Value> = (0..20).map(|i| logistics("m", i)).collect();
    let (store, plan, _, _) =
        plan_and_process(dir.path(), &records, 10, SuiteId::Blake3, InputMode::Copy);
    // Rewrite the copy in the batch with other rows of the same shape.
    let other: Vec<Value> = (0..20).map(|i| logistics("X", i)).collect();
    let copy = dir.path().join("store").join(&plan.files[0].path);
    write_parquet(&copy, Kind::Logistics, &other, 10);
    let err = rt()
        .block_on(fetch_segment(&store, &plan, 1))
        .expect_err("changed");
    match &err {
        IngestError::DigestMismatch {
            url,
            row_group,
            expected,
            actual,
        } => {
            assert!(url.ends_with("records.parquet"), "{url}");
            assert_eq!(*row_group, 1);
            assert_eq!(expected, &plan.files[0].row_groups[1].digest);
            assert_ne!(actual, expected);
        }
        other => panic!("{other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("row group 1") && msg.contains("records.parquet"),
        "{msg}"
    );
}

/// `dir/in/records.parquet`: 20 logistics records whose `carrier` and `waybill` columns
/// (names of equal length) both hold text, without the Arrow schema in the footer, so that
/// [`swap_column_names_in_footer`] can swap the two.
pub(crate) fn carriers_and_waybills(dir: &std::path::Path) -> std::path::PathBuf {
    let records: Vec<Value> = (0..20)
        .map(|i| {
            let mut r = logistics("f", i);
            r["carrier"] = json!(format!("carrier-{i}"));
            r["waybill"] = json!(format!("WB{i}"));
            r
        })
        .collect();
    write_parquet_without_arrow_schema(
        &dir.join("in/records.parquet"),
        Kind::Logistics,
        &records,
        10,
    )
}

/// Swaps the names of two columns of equal length in the footer of the Parquet file at
/// `path`, leaving every other byte (the row groups') as it was.
pub(crate) fn swap_column_names_in_footer(path: &std::path::Path, a: &[u8], b: &[u8]) {
    assert_eq!(a.len(), b.len());
    let mut bytes = std::fs::read(path).expect("read");
    let end = bytes.len() - 8;
    let len = u32::from_le_bytes(bytes[end..end + 4].try_into().expect("4 bytes")) as usize;
    let footer = &mut bytes[end - len..end];
    let mut swapped = 0;
    let mut i = 0;
    while i + a.len() <= footer.len() {
        let at = &mut footer[i..i + a.len()];
        if at == a {
            at.copy_from_slice(b);
        } else if at == b {
            at.copy_from_slice(a);
        } else {
            i += 1;
            continue;
        }
        swapped += 1;
        i += a.len();
    }
    assert!(swapped >= 2, "the footer names both columns");
    std::fs::write(path, bytes).expect("write");
}

#[test]
fn a_changed_footer_fails_the_footer_check() {
    // The row groups' bytes are unchanged, so their digests still match; the footer now
    // says that the carrier column's chunks are the waybills and the other way round.
    for mode in [InputMode::Copy, InputMode::Reference] {
        let dir = tempfile::tempdir().expect("tempdir");
        let source = carriers_and_waybills(dir.path());
        let store = Store::from_url(&path_str(&dir.path().join("store"))).expect("store");
        let plan = rt()
            .block_on(make_plan(
                &store,
                &[path_str(&source)],
                &opts("footer", mode, SuiteId::Blake3),
                &no_progress,
            ))
            .expect("plan");
        let footer_digest = plan.files[0]
            .footer_digest
            .clone()
            .expect("a footer digest");
        assert!(footer_digest.starts_with("blake3:"), "{footer_digest}");
        let read = match mode {
            InputMode::Copy => dir.path().join("store").join(&plan.files[0].path),
            InputMode::Reference => source.clone(),
        };
        swap_column_names_in_footer(&read, b"carrier", b"waybill");
        let err = rt()
            .block_on(fetch_segment(&store, &plan, 0))
            .expect_err("changed footer");
        match &err {
            IngestError::ChangedSincePlan { url, what } => {
                assert!(url.ends_with("records.parquet"), "{url}");
                assert!(
                    what.contains("footer") && what.contains(&footer_digest),
                    "{what}"
                );
            }
            other => panic!("{mode:?}: {other:?}"),
        }
        assert!(err.to_string().contains("changed since the plan"), "{err}");
    }
}

#[test]
fn a_deleted_reference_input_has_vanished() {
    let dir = tempfile::tempdir().expect("tempdir");
    let records: Vec<Value> = (0..20).map(|i| logistics("v", i)).collect();
    let (store, plan, _, path) = plan_and_process(
        dir.path(),
        &records,
        10,
        SuiteId::Blake3,
        InputMode::Reference,
    );
    std::fs::remove_file(&path).expect("delete");
    let err = rt()
        .block_on(fetch_segment(&store, &plan, 0))
        .expect_err("gone");
    assert!(
        matches!(&err, IngestError::Vanished { url } if url == &plan.files[0].source),
        "{err:?}"
    );
    assert!(err.to_string().contains("vanished since the plan"));
    let err = rt()
        .block_on(fetch_segment(&store, &plan, 99))
        .expect_err("no such segment");
    assert!(matches!(
        err,
        IngestError::NoSuchSegment { segment: 99, .. }
    ));
}
