//! End to end: plan -> build -> commit on small hand-written datasets in
//! temporary folders, then proofs, the index and the rejects from the stored
//! outputs.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use common::*;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use proofmark_anchor::layout::{self, SegmentFile, segment_path};
use proofmark_anchor::segment_files::decode_index_entry;
use proofmark_anchor::{
    AnchorError, BuildOptions, CommitOptions, HeadUpdate, Part, build_batch, commit_batch,
    locate_leaf, prove_leaf,
};
use proofmark_ingest::InputMode;
use proofmark_merkle::SuiteId;
use proofmark_schemas::{Kind, RecordView, SubjectType, encode_row, subject_key};

fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

/// The segment and the check's finding of a [`AnchorError::DamagedSegment`].
fn damaged(err: &AnchorError) -> (u32, &AnchorError) {
    match err {
        AnchorError::DamagedSegment {
            segment, source, ..
        } => {
            let message = err.to_string();
            assert!(message.contains("`proofmark build` rebuilds"), "{message}");
            (*segment, source)
        }
        other => panic!("not a damaged segment: {other:?}"),
    }
}

/// Commits `batch_id` expecting an error, and checks that no manifest was written.
async fn failed_commit(store: &proofmark_ingest::Store, batch_id: &str) -> AnchorError {
    let err = commit_batch(store, batch_id, &CommitOptions::default(), &|_| {})
        .await
        .unwrap_err();
    assert!(
        store
            .get(&layout::manifest_path(batch_id))
            .await
            .unwrap()
            .is_none(),
        "{batch_id} has a manifest after a failed commit ({err:?})"
    );
    err
}

async fn reference_root(fx_inputs: &[String], suite: SuiteId) -> String {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(dir.path());
    plan(&store, "ref", fx_inputs, suite, InputMode::Reference).await;
    build_all(&store, "ref").await;
    commit(&store, "ref").await.manifest.root
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_outputs_check() {
    let fx = Fixture::new();
    let store = &fx.store;
    plan(store, "b1", &fx.inputs, SuiteId::Blake3, InputMode::Copy).await;
    let built = build_all(store, "b1").await;
    assert_eq!(built.segments_built, built.segments_in_part);
    assert_eq!(built.segments_skipped, 0);
    let report = commit(store, "b1").await;
    assert!(!report.already_committed);
    assert_eq!(report.head, HeadUpdate::Moved);
    let m = &report.manifest;

    // Accounting: per file and in total.
    assert_eq!(m.rows_read, 570);
    assert_eq!(m.rows_read, m.rows_accepted + m.rows_rejected);
    assert_eq!(m.leaf_count, m.rows_accepted);
    for f in &m.files {
        assert_eq!(f.rows_read, f.rows_accepted + f.rows_rejected);
    }
    assert_eq!(m.files[2].rows_accepted, 0, "the all-rejected file");
    assert!(m.segments.iter().any(|s| s.root.is_none()));
    assert!(report.reasons.contains_key("no_subject"));
    assert!(report.reasons.contains_key("unknown_enum_value"));
    assert!(report.reasons.contains_key("duplicate_record_id"));

    // rejects.parquet holds every rejected row, in segment then row order.
    let bytes = store
        .get(&layout::rejects_path("b1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        proofmark_anchor::segment_files::digest(&bytes),
        m.rejects_digest
    );
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .unwrap()
        .build()
        .unwrap();
    let mut rejected = 0u64;
    let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
    for batch in reader {
        let batch = batch.unwrap();
        let reasons = batch.column(3).as_string::<i32>();
        let rows = batch.column(1).as_primitive::<UInt64Type>();
        for j in 0..batch.num_rows() {
            for r in reasons.value(j).split(',') {
                *by_reason.entry(r.to_owned()).or_default() += 1;
            }
            assert!(!rows.is_null(j));
        }
        rejected += batch.num_rows() as u64;
    }
    assert_eq!(rejected, m.rows_rejected);
    assert_eq!(by_reason, report.reasons);

    // The index: sorted, global, and each entry's leaf is a record with that code or lot.
    let index = store.get(&layout::index_path("b1")).await.unwrap().unwrap();
    assert_eq!(
        proofmark_anchor::segment_files::digest(&index),
        m.index_digest
    );
    assert_eq!(index.len() as u64 / 24, report.index_entries);
    let entries: Vec<([u8; 16], u64)> = index.chunks(24).map(decode_index_entry).collect();
    assert!(entries.windows(2).all(|w| w[0] <= w[1]));
    let inputs: Vec<Vec<arrow_array::RecordBatch>> =
        fx.inputs.iter().map(|p| read_all(Path::new(p))).collect();
    let kinds = [Kind::Logistics, Kind::Customs, Kind::Logistics];
    let plan_files: Vec<String> = m.files.iter().map(|f| f.source.clone()).collect();
    let file_of = |source: &str| {
        fx.inputs
            .iter()
            .position(|p| source.ends_with(p.trim_start_matches('/')))
            .unwrap()
    };
    let mut leaves_seen = std::collections::HashSet::new();
    for (key, leaf) in &entries {
        assert!(*leaf < m.leaf_count);
        leaves_seen.insert(*leaf);
        let loc = locate_leaf(store, "b1", *leaf).await.unwrap();
        let f = file_of(&loc.source);
        let (batch, row) = find_row(&inputs[f], loc.row as usize);
        let view = RecordView::try_new(kinds[f], batch).unwrap();
        // Its code's key, or its lot's for a record without a code (SPEC 4).
        let want = match (view.code(row), view.lot_id(row)) {
            (Some(c), _) => subject_key(SubjectType::Item, c),
            (None, Some(l)) => subject_key(SubjectType::Lot, l),
            (None, None) => panic!("leaf {leaf} has no subject"),
        };
        assert_eq!(*key, want, "entry for leaf {leaf}");
    }
    assert_eq!(
        leaves_seen.len() as u64,
        m.leaf_count,
        "every leaf is indexed"
    );
    assert_eq!(entries.len() as u64, m.leaf_count, "one entry per leaf");
    assert_eq!(plan_files.len(), 3);

    // Proofs of random leaves verify, and the stored leaf is the hash of the input record.
    let mut rnd = xorshift(7);
    let mut picks: Vec<u64> = (0..25).map(|_| rnd() % m.leaf_count).collect();
    picks.extend([0, m.leaf_count - 1]);
    for leaf in picks {
        let proof = prove_leaf(store, "b1", leaf).await.unwrap();
        proof.verify().unwrap();
        assert_eq!(hex::encode(proof.root), m.root);
        let loc = locate_leaf(store, "b1", leaf).await.unwrap();
        let f = file_of(&loc.source);
        let (batch, row) = find_row(&inputs[f], loc.row as usize);
        let view = RecordView::try_new(kinds[f], batch).unwrap();
        let mut buf = Vec::new();
        encode_row(&view, row, &mut buf);
        assert_eq!(
            SuiteId::Blake3.hash_leaf(&buf),
            proof.leaf_hash,
            "leaf {leaf}"
        );
        let mut wrong = proof.leaf_hash;
        wrong[0] ^= 1;
        assert!(
            proofmark_anchor::verify_leaf_proof(SuiteId::Blake3, &wrong, &proof.proof, &proof.root)
                .is_err()
        );
    }
    assert!(matches!(
        prove_leaf(store, "b1", m.leaf_count).await,
        Err(AnchorError::LeafOutOfRange { .. })
    ));

    // Reruns change nothing.
    let manifest_before = store
        .get(&layout::manifest_path("b1"))
        .await
        .unwrap()
        .unwrap();
    let again = build_all(store, "b1").await;
    assert!(again.already_committed);
    let again = commit(store, "b1").await;
    assert!(again.already_committed);
    assert_eq!(again.head, HeadUpdate::AlreadyCurrent);
    let manifest_after = store
        .get(&layout::manifest_path("b1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(manifest_before, manifest_after);

    // The root is the same whoever builds it (reference mode, another store).
    assert_eq!(reference_root(&fx.inputs, SuiteId::Blake3).await, m.root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_rebuilds_only_the_missing_segment() {
    let fx = Fixture::new();
    let store = &fx.store;
    plan(
        store,
        "b",
        &fx.inputs,
        SuiteId::Sha256Rfc6962,
        InputMode::Copy,
    )
    .await;
    let first = build_all(store, "b").await;
    assert!(first.segments_in_part >= 10);
    // Rerun before commit: everything is found done.
    let rerun = build_all(store, "b").await;
    assert_eq!(rerun.segments_built, 0);
    assert_eq!(rerun.segments_skipped, first.segments_in_part);
    assert_eq!(rerun.rows, first.rows);
    // Lose one segment's summary: only it is rebuilt.
    std::fs::remove_file(
        fx.store_path()
            .join(segment_path("b", 3, SegmentFile::Summary)),
    )
    .unwrap();
    let resumed = build_all(store, "b").await;
    assert_eq!(resumed.segments_built, 1);
    assert_eq!(resumed.segments_skipped, first.segments_in_part - 1);
    // A segment whose leaves were damaged is rebuilt too.
    let leaves = fx
        .store_path()
        .join(segment_path("b", 4, SegmentFile::Leaves));
    let mut bytes = std::fs::read(&leaves).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&leaves, bytes).unwrap();
    let repaired = build_all(store, "b").await;
    assert_eq!(repaired.segments_built, 1);
    assert_eq!(repaired.segments_repaired, 1);
    let m = commit(store, "b").await.manifest;
    assert_eq!(
        m.root,
        reference_root(&fx.inputs, SuiteId::Sha256Rfc6962).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shares_give_the_single_process_root_and_a_small_budget_the_same_index() {
    let fx = Fixture::new();
    let store = &fx.store;
    plan(store, "b", &fx.inputs, SuiteId::Blake3, InputMode::Copy).await;
    let mut total = 0;
    for k in 1..=3u32 {
        let opts = BuildOptions {
            part: Some(format!("{k}/3").parse::<Part>().unwrap()),
            segments_in_flight: 2,
        };
        // Before the last share is built, commit refuses and names what is missing.
        if k == 3 {
            let err = commit_batch(store, "b", &CommitOptions::default(), &|_| {})
                .await
                .unwrap_err();
            let AnchorError::MissingSegments { segments, .. } = &err else {
                panic!("{err:?}")
            };
            assert!(segments.iter().all(|s| s % 3 == 2));
            assert!(err.to_string().contains("000002"));
        }
        total += build_batch(store, "b", &opts, &|_| {})
            .await
            .unwrap()
            .segments_built;
    }
    // A small budget: the merge takes several key-range passes.
    let opts = CommitOptions {
        memory_budget_bytes: 32 * 1024,
        ..CommitOptions::default()
    };
    let report = commit_batch(store, "b", &opts, &|_| {}).await.unwrap();
    assert_eq!(total as usize, report.manifest.segments.len());
    assert!(report.merge_passes > 1);

    let dir = tempfile::tempdir().unwrap();
    let single = store_at(dir.path());
    plan(&single, "b", &fx.inputs, SuiteId::Blake3, InputMode::Copy).await;
    build_all(&single, "b").await;
    let one = commit(&single, "b").await;
    assert_eq!(one.merge_passes, 1);
    assert_eq!(one.manifest.root, report.manifest.root);
    assert_eq!(one.manifest.index_digest, report.manifest.index_digest);
    assert_eq!(one.manifest.rejects_digest, report.manifest.rejects_digest);
    assert_eq!(one.manifest.segments, report.manifest.segments);
}

/// A segment whose summary says it was built from another input than the plan has for it
/// (left by an earlier plan, or altered) is not taken as done: commit refuses it as damaged,
/// and the build rebuilds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_built_from_another_input_is_not_reused() {
    let fx = Fixture::new();
    let store = &fx.store;
    plan(store, "b", &fx.inputs, SuiteId::Blake3, InputMode::Copy).await;
    let first = build_all(store, "b").await;
    let path = fx
        .store_path()
        .join(segment_path("b", 2, SegmentFile::Summary));
    let good = std::fs::read(&path).unwrap();
    let mut summary: serde_json::Value = serde_json::from_slice(&good).unwrap();
    summary["input_digest"] = serde_json::json!(format!("blake3:{}", "0".repeat(64)));
    std::fs::write(&path, serde_json::to_vec(&summary).unwrap()).unwrap();

    let err = failed_commit(store, "b").await;
    let (segment, found) = damaged(&err);
    assert_eq!(segment, 2);
    assert!(
        found.to_string().contains("was built from input"),
        "{found}"
    );

    let resumed = build_all(store, "b").await;
    assert_eq!(resumed.segments_repaired, 1);
    assert_eq!(resumed.segments_built, 1);
    assert_eq!(resumed.segments_skipped, first.segments_in_part - 1);
    assert_eq!(std::fs::read(&path).unwrap(), good);
    commit(store, "b").await;
}

/// A segment that lost a rejected row, with its rejects file, the digest of that file, its
/// rejected count and its list of rejected rows all rewritten to agree (only its rows read,
/// the plan's count, still remembers the row): every file matches its digest and every list
/// its count, and only the accounting (rows read = accepted + rejected) sees the row gone.
/// The commit refuses the segment naming its input file, and the build rebuilds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_that_lost_a_rejected_row_fails_the_accounting() {
    let fx = Fixture::new();
    let store = &fx.store;
    plan(store, "b", &fx.inputs, SuiteId::Blake3, InputMode::Copy).await;
    let first = build_all(store, "b").await;
    let summary_of = |n: u32| {
        fx.store_path()
            .join(segment_path("b", n, SegmentFile::Summary))
    };
    let (n, good) = (0..first.segments_in_part as u32)
        .map(|n| (n, std::fs::read(summary_of(n)).unwrap()))
        .find(|(_, bytes)| {
            let summary: serde_json::Value = serde_json::from_slice(bytes).unwrap();
            summary["rows_rejected"].as_u64().unwrap() > 0
        })
        .expect("a segment with a rejected row");
    let rejects_path = fx
        .store_path()
        .join(segment_path("b", n, SegmentFile::Rejects));
    let good_rejects = std::fs::read(&rejects_path).unwrap();
    let text = String::from_utf8(good_rejects.clone()).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.pop();
    let fewer: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&rejects_path, &fewer).unwrap();
    let mut summary: serde_json::Value = serde_json::from_slice(&good).unwrap();
    summary["rows_rejected"] = serde_json::json!(lines.len());
    summary["rejected_rows"].as_array_mut().unwrap().pop();
    summary["rejects_digest"] =
        serde_json::json!(proofmark_anchor::segment_files::digest(fewer.as_bytes()));
    std::fs::write(summary_of(n), serde_json::to_vec(&summary).unwrap()).unwrap();

    let err = failed_commit(store, "b").await;
    let (segment, found) = damaged(&err);
    assert_eq!(segment, n);
    match found {
        AnchorError::Accounting { file, reason } => {
            assert!(file.ends_with(".parquet"), "{file}");
            assert!(reason.starts_with(&format!("segment {n}: ")), "{reason}");
        }
        other => panic!("not the accounting check: {other:?}"),
    }
    let resumed = build_all(store, "b").await;
    assert_eq!(resumed.segments_repaired, 1);
    assert_eq!(std::fs::read(summary_of(n)).unwrap(), good);
    assert_eq!(std::fs::read(&rejects_path).unwrap(), good_rejects);
    commit(store, "b").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_refuses_corrupt_segments_naming_them() {
    let fx = Fixture::new();
    let store = &fx.store;
    plan(store, "b", &fx.inputs, SuiteId::Blake3, InputMode::Copy).await;
    build_all(store, "b").await;
    for (file, what) in [
        (SegmentFile::Leaves, "leaves"),
        (SegmentFile::Index, "index"),
        (SegmentFile::Rejects, "rejects"),
        (SegmentFile::Tree, "tree"),
    ] {
        let path = segment_path("b", 2, file);
        let local = fx.store_path().join(&path);
        let good = std::fs::read(&local).unwrap();
        let mut bad = good.clone();
        let last = bad.len() - 2;
        bad[last] ^= 0x20;
        std::fs::write(&local, &bad).unwrap();
        let err = failed_commit(store, "b").await;
        let (segment, found) = damaged(&err);
        assert_eq!(segment, 2, "{what}");
        match found {
            // The digest check, or the merge's own checks when they see it first.
            AnchorError::DigestMismatch { path: p, .. }
            | AnchorError::Malformed { path: p, .. } => {
                assert_eq!(p, &path, "{what}")
            }
            other => panic!("{what}: {other:?}"),
        }
        std::fs::write(&local, &good).unwrap();
    }
    // A segment whose leaves vanished (read past the page cache in a local store).
    let path = segment_path("b", 3, SegmentFile::Leaves);
    let local = fx.store_path().join(&path);
    let good = std::fs::read(&local).unwrap();
    std::fs::remove_file(&local).unwrap();
    let err = commit_batch(store, "b", &CommitOptions::default(), &|_| {})
        .await
        .unwrap_err();
    match damaged(&err) {
        (3, AnchorError::Malformed { path: p, reason }) => {
            assert_eq!((p.as_str(), reason.as_str()), (path.as_str(), "missing"))
        }
        other => panic!("missing leaves: {other:?}"),
    }
    std::fs::write(&local, &good).unwrap();
    // A summary that disagrees with the plan.
    let summary = fx
        .store_path()
        .join(segment_path("b", 1, SegmentFile::Summary));
    let good = std::fs::read_to_string(&summary).unwrap();
    std::fs::write(
        &summary,
        good.replace("\"rows_read\": 64", "\"rows_read\": 65"),
    )
    .unwrap();
    let err = commit_batch(store, "b", &CommitOptions::default(), &|_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(damaged(&err), (1, AnchorError::Accounting { .. })),
        "{err:?}"
    );
    std::fs::write(&summary, good).unwrap();
    commit(store, "b").await;
}

/// A segment whose `.index` holds more entries than leaves, with a summary that agrees
/// (an index under another entry rule): commit refuses it naming the file, and a rebuild
/// repairs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_with_more_entries_than_leaves_is_refused_and_rebuilt() {
    let fx = Fixture::new();
    let store = &fx.store;
    plan(store, "b", &fx.inputs, SuiteId::Blake3, InputMode::Copy).await;
    let first = build_all(store, "b").await;
    let path = segment_path("b", 2, SegmentFile::Index);
    let local = fx.store_path().join(&path);
    let mut index = std::fs::read(&local).unwrap();
    let good_digest = proofmark_anchor::segment_files::digest(&index);
    // A second entry for leaf 0, under the largest key: still sorted.
    index.extend_from_slice(&[0xff; 16]);
    index.extend_from_slice(&0u64.to_be_bytes());
    std::fs::write(&local, &index).unwrap();
    let summary = fx
        .store_path()
        .join(segment_path("b", 2, SegmentFile::Summary));
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.contains(&good_digest));
    let new_digest = proofmark_anchor::segment_files::digest(&index);
    std::fs::write(&summary, text.replace(&good_digest, &new_digest)).unwrap();

    let err = failed_commit(store, "b").await;
    match damaged(&err) {
        (2, AnchorError::Malformed { path: p, reason }) => {
            assert_eq!(p, &path);
            assert!(reason.contains("one 24-byte entry for each of"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let repaired = build_all(store, "b").await;
    assert_eq!(repaired.segments_repaired, 1);
    assert_eq!(repaired.segments_skipped, first.segments_in_part - 1);
    let m = commit(store, "b").await.manifest;
    assert_eq!(m.root, reference_root(&fx.inputs, SuiteId::Blake3).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_batch_committed_again_is_behind_not_a_fork() {
    let fx = Fixture::new();
    let store = &fx.store;
    for (day, inputs) in [
        ("day-1", &fx.inputs[..]),
        ("day-2", &fx.inputs[..1]),
        ("day-3", &fx.inputs[1..2]),
    ] {
        plan(store, day, inputs, SuiteId::Blake3, InputMode::Copy).await;
        build_all(store, day).await;
        commit(store, day).await;
    }
    // Two and one batches behind the head: both found on the chain back.
    for day in ["day-1", "day-2"] {
        let again = commit(store, day).await;
        assert!(again.already_committed);
        match &again.head {
            HeadUpdate::Behind { head } => assert_eq!(head.batch_id, "day-3"),
            other => panic!("{day}: {other:?}"),
        }
    }
    assert_eq!(
        commit(store, "day-3").await.head,
        HeadUpdate::AlreadyCurrent
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_chain_through_previous() {
    let fx = Fixture::new();
    let store = &fx.store;
    plan(store, "day-1", &fx.inputs, SuiteId::Blake3, InputMode::Copy).await;
    build_all(store, "day-1").await;
    let one = commit(store, "day-1").await;
    assert_eq!(one.manifest.previous, None);
    plan(
        store,
        "day-2",
        &fx.inputs[..1],
        SuiteId::Blake3,
        InputMode::Copy,
    )
    .await;
    build_all(store, "day-2").await;
    let two = commit(store, "day-2").await;
    let prev = two.manifest.previous.clone().unwrap();
    assert_eq!(prev.batch_id, "day-1");
    assert_eq!(prev.root, one.manifest.root);
    assert_eq!(prev.manifest_digest, one.manifest_digest);
    // day-1 committed again: a later batch is the head, nothing changes.
    let again = commit(store, "day-1").await;
    assert!(matches!(again.head, HeadUpdate::Behind { .. }));
    let head: serde_json::Value =
        serde_json::from_slice(&store.get(layout::HEAD_PATH).await.unwrap().unwrap()).unwrap();
    assert_eq!(head["batch_id"], "day-2");

    // A rewritten manifest is caught by the next commit.
    let m2 = fx.store_path().join(layout::manifest_path("day-2"));
    let text = std::fs::read_to_string(&m2).unwrap();
    std::fs::write(&m2, text.replace("\"tool_version\"", "\"tool_version\" ")).unwrap();
    plan(
        store,
        "day-3",
        &fx.inputs[1..2],
        SuiteId::Blake3,
        InputMode::Copy,
    )
    .await;
    build_all(store, "day-3").await;
    let err = commit_batch(store, "day-3", &CommitOptions::default(), &|_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, AnchorError::Head { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_without_accepted_rows_is_not_committed() {
    let fx = Fixture::new();
    let store = &fx.store;
    plan(
        store,
        "b",
        &fx.inputs[2..],
        SuiteId::Blake3,
        InputMode::Copy,
    )
    .await;
    build_all(store, "b").await;
    let err = failed_commit(store, "b").await;
    let AnchorError::NothingToCommit {
        rows_read: 30,
        rejects_by_reason,
        top_reasons,
        ..
    } = &err
    else {
        panic!("{err:?}");
    };
    // The error tells why: the rejections by reason, the top reasons with their column,
    // and where the rejected rows are.
    assert!(!rejects_by_reason.is_empty(), "{err:?}");
    assert_eq!(
        rejects_by_reason.values().max().copied(),
        Some(30),
        "{rejects_by_reason:?}"
    );
    assert!(!top_reasons.is_empty() && top_reasons.len() <= proofmark_anchor::TOP_REASONS);
    assert!(top_reasons.windows(2).all(|w| w[0].rows >= w[1].rows));
    let first = &top_reasons[0];
    assert_eq!(first.rows, 30);
    assert!(rejects_by_reason.contains_key(&first.reason));
    let message = err.to_string();
    assert!(
        message.contains(&format!("{} in {} (30 rows)", first.reason, first.column))
            && message.contains("batches/b/segments/*.rejects.jsonl"),
        "{message}"
    );
    assert!(store.get(layout::HEAD_PATH).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_changed_or_gone_after_the_plan_fail_the_build() {
    let fx = Fixture::new();
    let store = &fx.store;
    plan(
        store,
        "b",
        &fx.inputs,
        SuiteId::Blake3,
        InputMode::Reference,
    )
    .await;
    // Modified: rewrite the customs file with other rows.
    write_parquet(
        Path::new(&fx.inputs[1]),
        Kind::Customs,
        &customs_rows(41),
        1000,
    );
    let err = build_batch(store, "b", &BuildOptions::default(), &|_| {})
        .await
        .unwrap_err();
    match &err {
        AnchorError::Segment { file, .. } => assert!(file.contains("customs.parquet"), "{err}"),
        other => panic!("{other:?}"),
    }
    // Vanished.
    std::fs::remove_file(&fx.inputs[1]).unwrap();
    let err = build_batch(store, "b", &BuildOptions::default(), &|_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AnchorError::Segment { file, .. } if file.contains("customs.parquet")),
        "{err:?}"
    );
    let err = failed_commit(store, "b").await;
    assert!(matches!(err, AnchorError::MissingSegments { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plan_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(dir.path());
    let err = build_batch(&store, "nothing", &BuildOptions::default(), &|_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, AnchorError::NoPlan { .. }), "{err:?}");
    let err = commit_batch(&store, "nothing", &CommitOptions::default(), &|_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, AnchorError::NoPlan { .. }), "{err:?}");
    assert!(matches!(
        prove_leaf(&store, "nothing", 0).await,
        Err(AnchorError::NotCommitted { .. })
    ));
}
