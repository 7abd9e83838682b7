//! Bulk verification of code reports (`proofmark audit codes`): every record
//! re-encoded from its values, leaf-hashed, its batch proof walked to the
//! root, the batch's ledger receipt checked (once per distinct batch), in
//! parallel; in the same run, three rates on the same proofs and threads:
//! the bare batch-proof walks (`proofmark_merkle`, the baseline), the full
//! verification with every proof walked to the root (memo off), and the full
//! verification with the proof memo (memo on, the default of
//! `verify_reports`).
//!
//! `cargo bench -p proofmark-benches --bench verify`; the closing lines print
//! the rates (record proofs/s and reports/s) and their ratios, and the memo's
//! rate on the same reports in a random order (as an audit list comes). The fixture is
//! a regulator's sample: one batch of 1,048,576 logistics records in 16
//! segments of 65,536 (the default row group), 262,144 codes of 4 records
//! each, the records of a code in four different segments (as a code's
//! production and logistics records sit in different files), a real signed
//! ledger receipt, and reports for every 16th code: 16,384 reports, 65,536
//! record proofs spread over the whole batch (one leaf in 16).
#![allow(missing_docs, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use proofmark_anchor::ledger::{BatchAnchor, BatchLog, NoteSigner};
use proofmark_ingest::Store;
use proofmark_merkle::{
    BatchProof, Blake3, Hash, MerkleTree, Proof, ProofEnvelope, SuiteId, batch_proof,
};
use proofmark_schemas::{Kind, SubjectType, encode_json, subject_key};
use proofmark_verifier::CODE_REPORT_FORMAT;
use proofmark_verifier::report::{BatchInfo, CodeReport, RecordEntry, RecordSource, SubjectRef};
use proofmark_verifier::verify::{BulkOptions, BulkStats, Trust, verify_reports_with};
use rayon::prelude::*;
use serde_json::{Map, Value, json};

const SEGMENTS: usize = 16;
const SEGMENT_LEAVES: usize = 65_536;
const LEAVES: usize = SEGMENTS * SEGMENT_LEAVES;
const RECORDS_PER_REPORT: usize = 4;
const CODES: usize = LEAVES / RECORDS_PER_REPORT;
/// Every `SAMPLE_EVERY`th code is audited.
const SAMPLE_EVERY: usize = 16;
const BATCH: &str = "bench-2026-11-25";
const T0: i64 = 1_763_942_400_000_000;

struct Fixture {
    reports: Vec<CodeReport>,
    /// The same reports in a random order (cloned in that order, so their
    /// memory is laid out as a parser reading them in that order lays it
    /// out): an audit list is in no particular order.
    shuffled: Vec<CodeReport>,
    trust: Trust,
    /// The bare baseline: (leaf hash, proof) of every sampled record, and the root.
    bare: Vec<(Hash, BatchProof)>,
    root: Hash,
}

fn code(c: usize) -> String {
    format!("{:020}", 10_000_000 + c)
}

/// Record `k` of code `c`: leaf `k * CODES + c`, so a code's four records
/// are in four segments, a quarter of the batch apart.
fn leaf_of(c: usize, k: usize) -> usize {
    k * CODES + c
}

fn record(leaf: usize) -> Map<String, Value> {
    let (k, c) = (leaf / CODES, leaf % CODES);
    let event = ["labelled", "departed", "arrived", "delivered"][k];
    let Value::Object(m) = json!({
        "record_id": format!("ev-{leaf}"), "code": code(c),
        "lot_id": format!("LOT-{}", c / 64), "org_id": "carrier-7",
        "event_time": T0 + (c * RECORDS_PER_REPORT + k) as i64,
        "event_type": event,
        "location": format!("Port {}", c % 13), "carrier": "Blue Anchor Line",
        "waybill": format!("WB{leaf:08}"),
    }) else {
        unreachable!()
    };
    m
}

fn fixture() -> Fixture {
    let leaves: Vec<Hash> = (0..LEAVES)
        .into_par_iter()
        .map_init(Vec::new, |buf, leaf| {
            buf.clear();
            encode_json(Kind::Logistics, &record(leaf), buf).unwrap();
            SuiteId::Blake3.hash_leaf(buf)
        })
        .collect();
    let segments: Vec<MerkleTree<Blake3>> = leaves
        .chunks(SEGMENT_LEAVES)
        .map(|c| MerkleTree::from_leaf_hashes(c.to_vec()).unwrap())
        .collect();
    let upper = MerkleTree::<Blake3>::from_leaf_hashes(segments.iter().map(|s| s.root()).collect())
        .unwrap();
    let root = upper.root();
    let manifest_digest = format!("blake3:{}", blake3::hash(b"bench manifest").to_hex());

    let dir = tempfile::tempdir().unwrap();
    let store = Store::from_url(dir.path().to_str().unwrap()).unwrap();
    let signer = NoteSigner::from_seed("bench.local/ledger", &[3; 32]).unwrap();
    let anchor = BatchAnchor {
        batch_id: BATCH.into(),
        suite: "blake3".into(),
        root: hex::encode(root),
        leaf_count: LEAVES as u64,
        manifest_digest: manifest_digest.clone(),
    };
    let r = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(BatchLog::for_writer(&store, &signer).append(&anchor))
        .unwrap();
    let receipt = json!({
        "chain": "ledger", "batch_id": r.entry.batch_id, "root": r.entry.root,
        "leaf_count": r.entry.leaf_count, "manifest_digest": r.entry.manifest_digest,
        "suite": r.entry.suite, "log_index": r.entry.index, "log_size": r.log_size,
        "checkpoint": r.checkpoint, "inclusion_proof": r.inclusion_proof,
        "verifier_key": r.verifier_key, "anchored_at": "2026-11-25T02:00:00Z",
    });
    let info = BatchInfo {
        suite: "blake3".into(),
        root: hex::encode(root),
        leaf_count: LEAVES as u64,
        manifest_digest,
        batch_date: "2026-11-25".into(),
        anchors: BTreeMap::from([("ledger".to_owned(), receipt)]),
    };

    let mut bare = Vec::new();
    let mut reports = Vec::new();
    let mut buf = Vec::new();
    for c in (0..CODES).step_by(SAMPLE_EVERY) {
        let mut records = Vec::new();
        for k in 0..RECORDS_PER_REPORT {
            let i = leaf_of(c, k);
            let (s, local) = (i / SEGMENT_LEAVES, i % SEGMENT_LEAVES);
            let proof = batch_proof(&segments[s], local as u64, &upper, s as u64).unwrap();
            bare.push((leaves[i], proof.clone()));
            let env = ProofEnvelope::new(SuiteId::Blake3, Proof::Batch(proof));
            let values = record(i);
            buf.clear();
            encode_json(Kind::Logistics, &values, &mut buf).unwrap();
            records.push(RecordEntry {
                kind: "logistics".into(),
                subject: "item".into(),
                record: values,
                canonical: hex::encode(&buf),
                leaf_hash: hex::encode(leaves[i]),
                batch_id: BATCH.into(),
                leaf_index: i as u64,
                source: RecordSource {
                    file: "file:///bench/logistics.parquet".into(),
                    row: i as u64,
                    provided_by: "carrier-7".into(),
                },
                proof: serde_json::from_str(&env.to_json()).unwrap(),
            });
        }
        let lot = format!("LOT-{}", c / 64);
        let c = code(c);
        reports.push(CodeReport {
            format: CODE_REPORT_FORMAT.into(),
            code: c.clone(),
            // The item, and the lot its `labelled` record binds it to (SPEC 11.1).
            subjects: vec![
                SubjectRef {
                    subject_type: "item".into(),
                    id: c.clone(),
                    key: hex::encode(subject_key(SubjectType::Item, &c).as_ref()),
                },
                SubjectRef {
                    subject_type: "lot".into(),
                    id: lot.clone(),
                    key: hex::encode(subject_key(SubjectType::Lot, &lot).as_ref()),
                },
            ],
            records,
            batches: BTreeMap::from([(BATCH.to_owned(), info.clone())]),
        });
    }
    // A fixed pseudo-random permutation (Fisher-Yates with a 64-bit LCG).
    let mut order: Vec<usize> = (0..reports.len()).collect();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for i in (1..order.len()).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        order.swap(i, (state >> 33) as usize % (i + 1));
    }
    let shuffled = order.iter().map(|&i| reports[i].clone()).collect();
    Fixture {
        reports,
        shuffled,
        trust: Trust::new().with_ledger_key(signer.verifier()),
        bare,
        root,
    }
}

fn bare_verify(f: &Fixture) -> usize {
    f.bare
        .par_iter()
        .with_min_len(256)
        .filter(|(leaf, proof)| proof.verify::<Blake3>(leaf, &f.root).is_ok())
        .count()
}

fn full_verify(f: &Fixture, memo: bool) -> (usize, BulkStats) {
    verify_all(&f.reports, &f.trust, memo)
}

fn verify_all(reports: &[CodeReport], trust: &Trust, memo: bool) -> (usize, BulkStats) {
    let options = BulkOptions::default().with_proof_memo(memo);
    let (verdicts, stats) = verify_reports_with(reports, trust, options);
    if let Some(failed) = verdicts.iter().find(|v| !v.verified) {
        eprintln!(
            "a report of the fixture does not verify: {:?}",
            failed.reasons
        );
    }
    (verdicts.iter().filter(|v| v.verified).count(), stats)
}

fn rate(records: usize, run: impl Fn() -> usize) -> f64 {
    // Best of five: the machine is shared.
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        black_box(run());
        best = best.min(t.elapsed());
    }
    records as f64 / best.as_secs_f64()
}

fn main() {
    let started = Instant::now();
    let f = fixture();
    let records = f.bare.len();
    let reports = f.reports.len();
    eprintln!(
        "fixture: {LEAVES} leaves, {reports} reports, {records} record proofs in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(bare_verify(&f), records);
    let (verified, plain) = full_verify(&f, false);
    assert_eq!(verified, reports);
    let (verified, memo) = full_verify(&f, true);
    assert_eq!(verified, reports);
    assert_eq!(
        (plain.proofs, memo.proofs),
        (records as u64, records as u64)
    );

    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Elements(records as u64));
    g.bench_function("bare_batch_proofs", |b| {
        b.iter(|| black_box(bare_verify(&f)))
    });
    g.bench_function("code_reports_no_memo", |b| {
        b.iter(|| black_box(full_verify(&f, false)))
    });
    g.bench_function("code_reports", |b| {
        b.iter(|| black_box(full_verify(&f, true)))
    });
    g.finish();
    c.final_summary();

    let bare = rate(records, || bare_verify(&f));
    let plain = rate(records, || full_verify(&f, false).0);
    let memoised = rate(records, || full_verify(&f, true).0);
    let (verified, shuffled_stats) = verify_all(&f.shuffled, &f.trust, true);
    assert_eq!(verified, reports);
    let shuffled = rate(records, || verify_all(&f.shuffled, &f.trust, true).0);
    let per_report = records as f64 / reports as f64;
    println!(
        "bulk verification, {} threads, {records} record proofs in {reports} reports \
         (one leaf in {SAMPLE_EVERY} of a {LEAVES}-leaf batch), best of five:",
        rayon::current_num_threads(),
    );
    println!("  bare batch proofs:            {bare:>9.0} proofs/s");
    println!(
        "  full verification, no memo:   {plain:>9.0} record proofs/s, {:>8.0} reports/s, {:.2} x bare",
        plain / per_report,
        plain / bare
    );
    println!(
        "  full verification, memo:      {memoised:>9.0} record proofs/s, {:>8.0} reports/s, {:.2} x bare, {:.2} x no memo \
         ({} of {} proofs settled by the memo)",
        memoised / per_report,
        memoised / bare,
        memoised / plain,
        memo.memo_hits,
        memo.proofs
    );
    println!(
        "  full verification, memo, reports in random order: {shuffled:>9.0} record proofs/s, {:.2} x bare \
         ({} of {} proofs settled by the memo)",
        shuffled / bare,
        shuffled_stats.memo_hits,
        shuffled_stats.proofs
    );
}
