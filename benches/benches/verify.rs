//! Bulk verification of code reports (`proofmark audit codes`): every record
//! re-encoded from its values, leaf-hashed, its batch proof walked to the
//! root, the batch's ledger receipt checked (once per distinct batch), in
//! parallel; against the baseline of bare batch-proof verification
//! (`proofmark_merkle`, the same proofs, the same threads) in the same run.
//!
//! `cargo bench -p proofmark-benches --bench verify`; the closing lines print
//! both rates and their ratio. The fixture: one batch of 65,536 logistics
//! records in 16 segments of 4,096, a real signed ledger receipt, and 8,192
//! reports of 4 records each (32,768 record proofs).
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
use proofmark_schemas::{Kind, RecordView, SubjectType, batch_from_json, encode_row, subject_key};
use proofmark_verifier::CODE_REPORT_FORMAT;
use proofmark_verifier::report::{BatchInfo, CodeReport, RecordEntry, RecordSource, SubjectRef};
use proofmark_verifier::verify::{Trust, verify_reports};
use rayon::prelude::*;
use serde_json::{Value, json};

const SEGMENTS: usize = 16;
const SEGMENT_LEAVES: usize = 4096;
const RECORDS_PER_REPORT: usize = 4;
const BATCH: &str = "bench-2026-11-25";
const T0: i64 = 1_763_942_400_000_000;

struct Fixture {
    reports: Vec<CodeReport>,
    trust: Trust,
    /// The bare baseline: (leaf hash, proof) of every record, and the root.
    bare: Vec<(Hash, BatchProof)>,
    root: Hash,
}

fn code(i: usize) -> String {
    format!("{:020}", 10_000_000 + i)
}

fn fixture() -> Fixture {
    let n = SEGMENTS * SEGMENT_LEAVES;
    let values: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "record_id": format!("ev-{i}"), "code": code(i / RECORDS_PER_REPORT),
                "lot_id": format!("LOT-{}", i / 64), "org_id": "carrier-7",
                "event_time": T0 + i as i64, "event_type": "departed",
                "location": format!("Port {}", i % 13), "carrier": "Blue Anchor Line",
                "waybill": format!("WB{i:08}"),
            })
        })
        .collect();
    let batch = batch_from_json(Kind::Logistics, &values).unwrap();
    let view = RecordView::try_new(Kind::Logistics, &batch).unwrap();
    let encoded: Vec<Vec<u8>> = (0..n)
        .map(|row| {
            let mut buf = Vec::new();
            encode_row(&view, row, &mut buf);
            buf
        })
        .collect();
    let leaves: Vec<Hash> = encoded
        .iter()
        .map(|e| SuiteId::Blake3.hash_leaf(e))
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
        leaf_count: n as u64,
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
        leaf_count: n as u64,
        manifest_digest,
        batch_date: "2026-11-25".into(),
        anchors: BTreeMap::from([("ledger".to_owned(), receipt)]),
    };

    let mut bare = Vec::with_capacity(n);
    let mut reports = Vec::with_capacity(n / RECORDS_PER_REPORT);
    for (r, chunk) in values.chunks(RECORDS_PER_REPORT).enumerate() {
        let mut records = Vec::new();
        for (k, v) in chunk.iter().enumerate() {
            let i = r * RECORDS_PER_REPORT + k;
            let (s, local) = (i / SEGMENT_LEAVES, i % SEGMENT_LEAVES);
            let proof = batch_proof(&segments[s], local as u64, &upper, s as u64).unwrap();
            bare.push((leaves[i], proof.clone()));
            let env = ProofEnvelope::new(SuiteId::Blake3, Proof::Batch(proof));
            records.push(RecordEntry {
                kind: "logistics".into(),
                subject: "item".into(),
                record: v.as_object().unwrap().clone(),
                canonical: hex::encode(&encoded[i]),
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
        let c = code(r);
        reports.push(CodeReport {
            format: CODE_REPORT_FORMAT.into(),
            code: c.clone(),
            subjects: vec![SubjectRef {
                subject_type: "item".into(),
                id: c.clone(),
                key: hex::encode(subject_key(SubjectType::Item, &c).as_ref()),
            }],
            records,
            batches: BTreeMap::from([(BATCH.to_owned(), info.clone())]),
        });
    }
    Fixture {
        reports,
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

fn full_verify(f: &Fixture) -> usize {
    verify_reports(&f.reports, &f.trust)
        .iter()
        .filter(|v| v.verified)
        .count()
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
    let f = fixture();
    let records = f.bare.len();
    assert_eq!(bare_verify(&f), records);
    assert_eq!(full_verify(&f), f.reports.len());

    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Elements(records as u64));
    g.bench_function("bare_batch_proofs", |b| {
        b.iter(|| black_box(bare_verify(&f)))
    });
    g.bench_function("code_reports", |b| b.iter(|| black_box(full_verify(&f))));
    g.finish();
    c.final_summary();

    let bare = rate(records, || bare_verify(&f));
    let full = rate(records, || full_verify(&f));
    println!(
        "bulk verification, {} threads: {:.0} record proofs/s fully verified \
         (re-encode, leaf hash, batch proof, receipt), {:.0} bare batch proofs/s: ratio {:.2}",
        rayon::current_num_threads(),
        full,
        bare,
        full / bare
    );
}
