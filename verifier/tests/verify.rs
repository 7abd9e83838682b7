//! Code report verification: a report built here from scratch (records,
//! canonical bytes, segment trees, a batch tree and a real ledger receipt)
//! verifies, and every single corruption of what it proves makes it fail,
//! naming the check.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::sync::Arc;

use proofmark_anchor::ledger::{BatchAnchor, BatchLog, NoteSigner};
use proofmark_ingest::Store;
use proofmark_merkle::{Blake3, MerkleTree, Proof, ProofEnvelope, SuiteId, batch_proof};
use proofmark_schemas::{Kind, SubjectType, subject_key};
use proofmark_verifier::CODE_REPORT_FORMAT;
use proofmark_verifier::report::{BatchInfo, CodeReport, RecordEntry, RecordSource, SubjectRef};
use proofmark_verifier::verify::{
    AnchoredBatch, ChainCheck, ChainCheckError, CheckKind, CheckStatus, ReportVerdict, Trust,
    verify_report,
};
use serde_json::{Value, json};

const CODE: &str = "01234567890123456789";
const LOT: &str = "LOT-7";
const BATCH: &str = "nightly-2026-11-25";
const ORIGIN: &str = "proofmark.local/ledger";
const T0: i64 = 1_763_942_400_000_000;

fn records() -> Vec<(Kind, &'static str, Value)> {
    let logistics = |i: i64, code: Value| {
        json!({
            "record_id": format!("ev-{i}"), "code": code, "lot_id": LOT, "org_id": "carrier-7",
            // The first event labels the item with its lot: that binds the item to LOT-7.
            "event_time": T0 + i, "event_type": if i == 0 { "labelled" } else { "departed" },
            "location": format!("Port {i}"),
            "carrier": null, "waybill": null,
        })
    };
    vec![
        (Kind::Logistics, "item", logistics(0, json!(CODE))),
        (Kind::Logistics, "item", logistics(1, json!(CODE))),
        (Kind::Logistics, "lot", logistics(2, Value::Null)),
        (
            Kind::Customs,
            "lot",
            json!({
                "record_id": "dec-1", "code": null, "lot_id": LOT, "org_id": "broker-3",
                "event_time": T0 + 3, "declaration_id": "531620261124000001", "filing_id": "F-99",
                "hs_code": "1901101000", "origin_country": "NZ", "trade_country": "AU",
                "port_of_entry": "Shanghai Yangshan (CNSHA)", "declared_at": T0,
                "cleared_at": T0 + 1, "status": "released",
            }),
        ),
        (Kind::Logistics, "item", logistics(4, json!(CODE))),
    ]
}

fn canonical(kind: Kind, record: &Value) -> Vec<u8> {
    let batch = proofmark_schemas::batch_from_json(kind, std::slice::from_ref(record)).unwrap();
    let view = proofmark_schemas::RecordView::try_new(kind, &batch).unwrap();
    let mut buf = Vec::new();
    proofmark_schemas::encode_row(&view, 0, &mut buf);
    buf
}

struct Fixture {
    report: CodeReport,
    key: String,
}

/// A batch of three segments: records 0..3 (plus one filler leaf), records
/// 3..5 (a middle segment), and one filler leaf; anchored on the ledger
/// (second entry of a log of three).
async fn fixture() -> Fixture {
    let recs = records();
    let encoded: Vec<Vec<u8>> = recs.iter().map(|(k, _, r)| canonical(*k, r)).collect();
    let mut leaves: Vec<_> = encoded
        .iter()
        .map(|e| SuiteId::Blake3.hash_leaf(e))
        .collect();
    // A leaf of another code in the first segment.
    leaves.insert(3, SuiteId::Blake3.hash_leaf(b"another record"));
    // And one in a last segment of its own.
    leaves.push(SuiteId::Blake3.hash_leaf(b"a last record"));
    let seg_a = MerkleTree::<Blake3>::from_leaf_hashes(leaves[..4].to_vec()).unwrap();
    let seg_b = MerkleTree::<Blake3>::from_leaf_hashes(leaves[4..6].to_vec()).unwrap();
    let seg_c = MerkleTree::<Blake3>::from_leaf_hashes(leaves[6..].to_vec()).unwrap();
    let upper =
        MerkleTree::<Blake3>::from_leaf_hashes(vec![seg_a.root(), seg_b.root(), seg_c.root()])
            .unwrap();
    let root = hex::encode(upper.root());
    let leaf_count = leaves.len() as u64;
    let manifest_digest = format!("blake3:{}", blake3::hash(b"the manifest").to_hex());

    let dir = tempfile::tempdir().unwrap();
    let store = Store::from_url(dir.path().to_str().unwrap()).unwrap();
    let signer = NoteSigner::from_seed(ORIGIN, &[7; 32]).unwrap();
    let log = BatchLog::for_writer(&store, &signer);
    let other = |id: &str| BatchAnchor {
        batch_id: id.into(),
        suite: "blake3".into(),
        root: hex::encode([1u8; 32]),
        leaf_count: 9,
        manifest_digest: format!("blake3:{}", hex::encode([2u8; 32])),
    };
    log.append(&other("nightly-2026-11-24")).await.unwrap();
    let ours = BatchAnchor {
        batch_id: BATCH.into(),
        suite: "blake3".into(),
        root: root.clone(),
        leaf_count,
        manifest_digest: manifest_digest.clone(),
    };
    let r = log.append(&ours).await.unwrap();
    log.append(&other("nightly-2026-11-26")).await.unwrap();
    let receipt = json!({
        "chain": "ledger",
        "batch_id": r.entry.batch_id,
        "root": r.entry.root,
        "leaf_count": r.entry.leaf_count,
        "manifest_digest": r.entry.manifest_digest,
        "suite": r.entry.suite,
        "log_index": r.entry.index,
        "log_size": r.log_size,
        "checkpoint": r.checkpoint,
        "inclusion_proof": r.inclusion_proof,
        "verifier_key": r.verifier_key,
        "anchored_at": "2026-11-25T02:00:00Z",
    });

    let mut entries = Vec::new();
    for (i, ((kind, subject, record), bytes)) in recs.iter().zip(&encoded).enumerate() {
        let global = if i < 3 { i } else { i + 1 } as u64;
        let (seg, pos, local) = if global < 4 {
            (&seg_a, 0, global)
        } else {
            (&seg_b, 1, global - 4)
        };
        let proof = batch_proof(seg, local, &upper, pos).unwrap();
        let proof = ProofEnvelope::new(SuiteId::Blake3, Proof::Batch(proof));
        entries.push(RecordEntry {
            kind: kind.name().into(),
            subject: (*subject).into(),
            record: record.as_object().unwrap().clone(),
            canonical: hex::encode(bytes),
            leaf_hash: hex::encode(SuiteId::Blake3.hash_leaf(bytes)),
            batch_id: BATCH.into(),
            leaf_index: global,
            source: RecordSource {
                file: "file:///in/records.parquet".into(),
                row: global,
                provided_by: record["org_id"].as_str().unwrap().into(),
            },
            proof: serde_json::from_str(&proof.to_json()).unwrap(),
        });
    }
    let mut anchors = BTreeMap::new();
    anchors.insert("ledger".to_owned(), receipt);
    let mut batches = BTreeMap::new();
    batches.insert(
        BATCH.to_owned(),
        BatchInfo {
            suite: "blake3".into(),
            root,
            leaf_count,
            manifest_digest,
            batch_date: "2026-11-25".into(),
            anchors,
        },
    );
    let report = CodeReport {
        format: CODE_REPORT_FORMAT.into(),
        code: CODE.into(),
        subjects: vec![
            SubjectRef {
                subject_type: "item".into(),
                id: CODE.into(),
                key: hex::encode(subject_key(SubjectType::Item, CODE).as_ref()),
            },
            SubjectRef {
                subject_type: "lot".into(),
                id: LOT.into(),
                key: hex::encode(subject_key(SubjectType::Lot, LOT).as_ref()),
            },
        ],
        records: entries,
        batches,
    };
    Fixture {
        report,
        key: signer.verifier().to_string(),
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn trusted(f: &Fixture) -> Trust {
    Trust::new().with_ledger_key_text(&f.key).unwrap()
}

/// The kinds of checks that failed anywhere.
fn failed(v: &ReportVerdict) -> Vec<CheckKind> {
    let mut kinds: Vec<CheckKind> = v.failures().into_iter().map(|(_, k, _)| k).collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

#[track_caller]
fn assert_fails(f: &Fixture, report: &CodeReport, expected: CheckKind) {
    let v = verify_report(report, &trusted(f));
    assert!(!v.verified, "a corrupted report verified");
    assert!(!v.reasons.is_empty());
    assert!(
        failed(&v).contains(&expected),
        "expected {expected:?} to fail, failures: {:?}",
        v.failures()
    );
}

fn flip_hex(s: &str, at: usize) -> String {
    let mut b = s.as_bytes().to_vec();
    b[at] = if b[at] == b'0' { b'1' } else { b'0' };
    String::from_utf8(b).unwrap()
}

fn receipt_mut(r: &mut CodeReport) -> &mut serde_json::Map<String, Value> {
    r.batches
        .get_mut(BATCH)
        .unwrap()
        .anchors
        .get_mut("ledger")
        .unwrap()
        .as_object_mut()
        .unwrap()
}

#[test]
fn a_good_report_verifies_with_the_trusted_key() {
    let f = rt().block_on(fixture());
    let v = verify_report(&f.report, &trusted(&f));
    assert!(v.verified, "{:#?}", v.failures());
    assert!(v.reasons.is_empty());
    assert_eq!(v.records.len(), 5);
    for r in &v.records {
        assert!(r.passed);
        for kind in [
            CheckKind::Canonical,
            CheckKind::LeafHash,
            CheckKind::Proof,
            CheckKind::LeafIndex,
            CheckKind::Subject,
        ] {
            assert!(
                r.checks
                    .iter()
                    .any(|c| c.check == kind && c.status.is_passed()),
                "{kind:?} not passed"
            );
        }
    }
    let b = &v.batches[BATCH];
    assert!(b.passed);
    assert!(b.anchors["ledger"].trusted);
    // The verdict serialises (the CLI prints it).
    let text = serde_json::to_string(&v).unwrap();
    assert!(text.contains("\"status\":\"passed\""));
}

#[test]
fn without_a_trusted_key_the_signature_is_not_checked_and_nothing_is_verified() {
    let f = rt().block_on(fixture());
    let v = verify_report(&f.report, &Trust::new());
    assert!(!v.verified);
    let a = &v.batches[BATCH].anchors["ledger"];
    assert!(!a.trusted);
    let sig = a
        .checks
        .iter()
        .find(|c| c.check == CheckKind::Signature)
        .unwrap();
    assert!(matches!(sig.status, CheckStatus::NotChecked { .. }));
    // The inclusion in the checkpoint is still checked.
    let inc = a
        .checks
        .iter()
        .find(|c| c.check == CheckKind::Inclusion)
        .unwrap();
    assert!(inc.status.is_passed());
    assert_eq!(failed(&v), vec![CheckKind::Anchored]);
    // Asked not to require an anchor, the self-consistent report passes.
    let v = verify_report(&f.report, &Trust::new().with_require_anchor(false));
    assert!(v.verified, "{:#?}", v.failures());
}

/// SPEC.md 9.2, 9.3: a trusted key of the checkpoint's name but another key id did not sign
/// the note: the signature fails (it is not "not checked").
#[test]
fn another_key_of_the_same_name_fails_the_signature() {
    let f = rt().block_on(fixture());
    let other = NoteSigner::from_seed(ORIGIN, &[8; 32]).unwrap().verifier();
    let v = verify_report(&f.report, &Trust::new().with_ledger_key(other));
    assert!(!v.verified);
    assert!(failed(&v).contains(&CheckKind::Signature));
    let sig = v.batches[BATCH].anchors["ledger"]
        .checks
        .iter()
        .find(|c| c.check == CheckKind::Signature)
        .unwrap();
    assert!(sig.status.is_failed(), "{:?}", sig.status);
}

#[test]
fn every_record_corruption_fails() {
    let f = rt().block_on(fixture());
    let good = &f.report;

    // A record value.
    let mut r = good.clone();
    r.records[0]
        .record
        .insert("location".into(), json!("Port 99"));
    assert_fails(&f, &r, CheckKind::Canonical);
    // A value of the right type that encodes the same is impossible; a
    // missing key is a null, which encodes differently.
    let mut r = good.clone();
    r.records[3].record.remove("filing_id");
    assert_fails(&f, &r, CheckKind::Canonical);
    // An unknown column.
    let mut r = good.clone();
    r.records[1].record.insert("colour".into(), json!("red"));
    assert_fails(&f, &r, CheckKind::Canonical);
    // The kind.
    let mut r = good.clone();
    r.records[0].kind = "inspection".into();
    assert_fails(&f, &r, CheckKind::Canonical);
    // The canonical bytes: a value byte, and a padding byte.
    let mut r = good.clone();
    r.records[0].canonical = flip_hex(&r.records[0].canonical, 20);
    assert_fails(&f, &r, CheckKind::Canonical);
    let mut r = good.clone();
    let last = r.records[0].canonical.len() - 1;
    r.records[0].canonical = flip_hex(&r.records[0].canonical, last);
    assert_fails(&f, &r, CheckKind::Canonical);
    // Upper-case hex of the right bytes is not the canonical text.
    let mut r = good.clone();
    r.records[0].canonical = r.records[0].canonical.to_ascii_uppercase();
    assert_fails(&f, &r, CheckKind::Canonical);
    // The leaf hash.
    let mut r = good.clone();
    r.records[2].leaf_hash = flip_hex(&r.records[2].leaf_hash, 5);
    assert_fails(&f, &r, CheckKind::LeafHash);
    // The record's code (still a valid record: canonical and subject fail).
    let mut r = good.clone();
    r.records[0]
        .record
        .insert("code".into(), json!("99999999999999999999"));
    assert_fails(&f, &r, CheckKind::Subject);
    // Provided by.
    let mut r = good.clone();
    r.records[0].source.provided_by = "someone-else".into();
    assert_fails(&f, &r, CheckKind::ProvidedBy);
    let org = good.records[0].record["org_id"].as_str().unwrap();
    let reasons = verify_report(&r, &trusted(&f)).reasons.join("\n");
    assert!(
        reasons.contains(&format!(
            "the provided_by check failed: provided by \"someone-else\", but the record's org_id is \"{org}\""
        )),
        "{reasons}"
    );
    // A record without an org_id (canonical fails too).
    let mut r = good.clone();
    r.records[0].record.remove("org_id");
    assert_fails(&f, &r, CheckKind::ProvidedBy);
    let reasons = verify_report(&r, &trusted(&f)).reasons.join("\n");
    assert!(
        reasons.contains("org_id is missing or not text"),
        "{reasons}"
    );
    // A batch the report does not describe.
    let mut r = good.clone();
    r.records[0].batch_id = "nightly-2026-11-24".into();
    assert_fails(&f, &r, CheckKind::BatchKnown);
}

/// Whether the merkle crate alone accepts record `i`'s proof against the root.
fn merkle_accepts(r: &CodeReport, i: usize) -> bool {
    let Ok(env) = r.records[i].proof_envelope() else {
        return false;
    };
    let Proof::Batch(p) = env.proof else {
        return false;
    };
    let leaf: [u8; 32] = hex::decode(&r.records[i].leaf_hash)
        .unwrap()
        .try_into()
        .unwrap();
    let root: [u8; 32] = hex::decode(&r.batches[BATCH].root)
        .unwrap()
        .try_into()
        .unwrap();
    p.verify::<Blake3>(&leaf, &root).is_ok()
}

fn batch(r: &mut CodeReport) -> &mut BatchInfo {
    r.batches.get_mut(BATCH).unwrap()
}

fn proof_mut(r: &mut CodeReport, i: usize) -> &mut serde_json::Map<String, Value> {
    r.records[i].proof.as_object_mut().unwrap()
}

/// `good` with the last hex digit of hash `h` of record `i`'s proof path `field` changed.
fn with_flipped_hash(good: &CodeReport, i: usize, field: &str, h: usize) -> CodeReport {
    let mut r = good.clone();
    let p = proof_mut(&mut r, i);
    let old = p[field][h].as_str().unwrap().to_owned();
    p[field][h] = json!(flip_hex(&old, 63));
    r
}

#[test]
fn every_proof_corruption_fails() {
    let f = rt().block_on(fixture());
    let good = &f.report;
    let mut same_root = 0;
    for i in 0..good.records.len() {
        // Each hash of both paths.
        for field in ["hashes", "upper_hashes"] {
            let n = good.records[i].proof[field].as_array().unwrap().len();
            for h in 0..n {
                assert_fails(&f, &with_flipped_hash(good, i, field, h), CheckKind::Proof);
            }
            // A missing and an extra hash.
            let mut r = good.clone();
            proof_mut(&mut r, i)[field]
                .as_array_mut()
                .unwrap()
                .push(json!(hex::encode([0u8; 32])));
            assert_fails(&f, &r, CheckKind::Proof);
            if n > 0 {
                let mut r = good.clone();
                proof_mut(&mut r, i)[field].as_array_mut().unwrap().pop();
                assert_fails(&f, &r, CheckKind::Proof);
            }
        }
        // Each integer, one up and one down. A path for index m in a tree of
        // n leaves also combines to the same root for some other sizes
        // (SPEC.md 7.1: only the trusted pair (root, size) pins a tree); the
        // segment size and count are not in the report, so such a change still
        // proves the record is under the root: the placement rule fails it, as
        // every record here shares its segment with another, whose proof gives
        // the segment's size and the segment count. Every other change fails
        // the proof.
        for field in ["index", "tree_size", "segment_index", "segment_count"] {
            let v = good.records[i].proof[field].as_u64().unwrap();
            for new in [v + 1, v.wrapping_sub(1)] {
                let mut r = good.clone();
                proof_mut(&mut r, i).insert(field.into(), json!(new));
                if matches!(field, "tree_size" | "segment_count") && merkle_accepts(&r, i) {
                    assert_fails(&f, &r, CheckKind::Placement);
                    same_root += 1;
                    continue;
                }
                assert_fails(&f, &r, CheckKind::Proof);
            }
        }
        // The global leaf index: records 0..3 are in the first segment (which starts at
        // leaf 0), records 3 and 4 share the middle one (so one moved alone disagrees with the
        // other about where it starts).
        let v = good.records[i].leaf_index;
        for new in [v + 1, v.wrapping_sub(1), v + 100] {
            let mut r = good.clone();
            r.records[i].leaf_index = new;
            let expected = if i < 3 || new == v + 100 {
                CheckKind::LeafIndex
            } else {
                CheckKind::Placement
            };
            assert_fails(&f, &r, expected);
        }
    }
    assert!(same_root <= 8, "{same_root}");
    // Other proof kinds, suites, versions and unknown fields.
    let mut r = good.clone();
    proof_mut(&mut r, 0).insert("suite".into(), json!("sha256-rfc6962"));
    assert_fails(&f, &r, CheckKind::Proof);
    let mut r = good.clone();
    proof_mut(&mut r, 0).insert("version".into(), json!(2));
    assert_fails(&f, &r, CheckKind::Proof);
    let mut r = good.clone();
    proof_mut(&mut r, 0).insert("extra".into(), json!(1));
    assert_fails(&f, &r, CheckKind::Proof);
    let mut r = good.clone();
    let p = proof_mut(&mut r, 0);
    p.insert("kind".into(), json!("inclusion"));
    p.remove("segment_index");
    p.remove("segment_count");
    p.remove("upper_hashes");
    assert_fails(&f, &r, CheckKind::Proof);
}

#[test]
fn every_batch_and_receipt_corruption_fails() {
    let f = rt().block_on(fixture());
    let good = &f.report;

    let mut r = good.clone();
    batch(&mut r).root = flip_hex(&good.batches[BATCH].root, 0);
    assert_fails(&f, &r, CheckKind::Proof);
    assert_fails(&f, &r, CheckKind::Commitment);
    let mut r = good.clone();
    batch(&mut r).leaf_count += 1;
    assert_fails(&f, &r, CheckKind::Commitment);
    let mut r = good.clone();
    batch(&mut r).manifest_digest = flip_hex(&good.batches[BATCH].manifest_digest, 9);
    assert_fails(&f, &r, CheckKind::Commitment);
    let mut r = good.clone();
    batch(&mut r).suite = "sha256-rfc6962".into();
    assert_fails(&f, &r, CheckKind::Proof);
    let mut r = good.clone();
    batch(&mut r).suite = "md5".into();
    assert_fails(&f, &r, CheckKind::BatchFields);
    let mut r = good.clone();
    batch(&mut r).anchors.clear();
    assert_fails(&f, &r, CheckKind::Anchored);

    // Receipt fields.
    let receipt = &good.batches[BATCH].anchors["ledger"];
    for field in ["root", "manifest_digest"] {
        let mut r = good.clone();
        let old = receipt[field].as_str().unwrap();
        receipt_mut(&mut r).insert(field.into(), json!(flip_hex(old, old.len() - 1)));
        assert_fails(&f, &r, CheckKind::Commitment);
    }
    for (field, value) in [
        ("batch_id", json!("nightly-2026-11-24")),
        ("suite", json!("sha256-rfc6962")),
        (
            "leaf_count",
            json!(receipt["leaf_count"].as_u64().unwrap() + 1),
        ),
        ("chain", json!("polygon")),
    ] {
        let mut r = good.clone();
        receipt_mut(&mut r).insert(field.into(), value);
        assert_fails(&f, &r, CheckKind::Commitment);
    }
    for (field, value) in [
        (
            "log_index",
            json!(receipt["log_index"].as_u64().unwrap() + 1),
        ),
        ("log_index", json!(0)),
        ("log_size", json!(receipt["log_size"].as_u64().unwrap() + 1)),
    ] {
        let mut r = good.clone();
        receipt_mut(&mut r).insert(field.into(), value);
        assert_fails(&f, &r, CheckKind::Inclusion);
    }
    let n = receipt["inclusion_proof"].as_array().unwrap().len();
    assert!(n > 0);
    for h in 0..n {
        let mut r = good.clone();
        let old = receipt["inclusion_proof"][h].as_str().unwrap();
        receipt_mut(&mut r)["inclusion_proof"][h] = json!(flip_hex(old, 0));
        assert_fails(&f, &r, CheckKind::Inclusion);
    }
    // The checkpoint: its root line, its size line, and the signature.
    let cp = receipt["checkpoint"].as_str().unwrap().to_owned();
    let mut lines: Vec<String> = cp.split('\n').map(str::to_owned).collect();
    let root_line = lines[2].clone();
    lines[2] = format!(
        "{}{}",
        if root_line.starts_with('A') { "B" } else { "A" },
        &root_line[1..]
    );
    let mut r = good.clone();
    receipt_mut(&mut r).insert("checkpoint".into(), json!(lines.join("\n")));
    assert_fails(&f, &r, CheckKind::Signature);
    assert_fails(&f, &r, CheckKind::Inclusion);
    let sig_at = cp.rfind(' ').unwrap() + 10;
    let mut sig = cp.clone().into_bytes();
    sig[sig_at] = if sig[sig_at] == b'A' { b'B' } else { b'A' };
    let mut r = good.clone();
    receipt_mut(&mut r).insert("checkpoint".into(), json!(String::from_utf8(sig).unwrap()));
    assert_fails(&f, &r, CheckKind::Signature);
    // A malformed receipt.
    let mut r = good.clone();
    receipt_mut(&mut r).remove("log_size");
    assert_fails(&f, &r, CheckKind::Inclusion);
}

#[test]
fn report_level_corruptions_fail() {
    let f = rt().block_on(fixture());
    let mut r = f.report.clone();
    r.format = "proofmark-code/2".into();
    assert_fails(&f, &r, CheckKind::Format);
    let mut r = f.report.clone();
    r.records.clear();
    assert_fails(&f, &r, CheckKind::Format);
    let mut r = f.report.clone();
    r.subjects[1].key = flip_hex(&r.subjects[1].key, 0);
    assert_fails(&f, &r, CheckKind::SubjectKeys);
    // A lot record whose lot is not a subject: said with the lot's id as text.
    let mut r = f.report.clone();
    r.subjects.pop();
    assert_fails(&f, &r, CheckKind::Subject);
    let reasons = verify_report(&r, &trusted(&f)).reasons.join("\n");
    assert!(
        reasons.contains("found by lot but its lot \"") && !reasons.contains("Some("),
        "{reasons}"
    );
    // Another code asked for.
    let mut r = f.report.clone();
    r.code = "01234567890123456780".into();
    assert_fails(&f, &r, CheckKind::Subject);
    // A lot that no record of the item binds it to, with its correct key: its own records
    // (a passing inspection of some other lot, say) must not join the journey.
    let mut r = f.report.clone();
    r.subjects.push(SubjectRef {
        subject_type: "lot".into(),
        id: "LOT-8".into(),
        key: hex::encode(subject_key(SubjectType::Lot, "LOT-8")),
    });
    assert_fails(&f, &r, CheckKind::SubjectKeys);
    // Without its labelling event the item is bound to no lot.
    let mut r = f.report.clone();
    let labelled = r
        .records
        .iter()
        .position(|e| e.record["record_id"] == "ev-0")
        .unwrap();
    r.records[labelled].record["event_type"] = json!("departed");
    assert_fails(&f, &r, CheckKind::SubjectKeys);
    // The first subject must be the item of the code.
    let mut r = f.report.clone();
    r.subjects.swap(0, 1);
    assert_fails(&f, &r, CheckKind::SubjectKeys);
    // Each subject and record once, the records in the order of SPEC.md 11.1 (every record
    // still proves its leaf).
    let mut r = f.report.clone();
    let lot = r.subjects[1].clone();
    r.subjects.push(lot);
    assert_fails(&f, &r, CheckKind::Listing);
    let mut r = f.report.clone();
    let again = r.records[2].clone();
    r.records.insert(3, again);
    assert_fails(&f, &r, CheckKind::Listing);
    let mut r = f.report.clone();
    r.records.swap(1, 2);
    assert_fails(&f, &r, CheckKind::Listing);
    // A record listed as its lot's own but carrying a code (another item's record).
    let mut r = f.report.clone();
    let lot_record = r.records.iter().position(|e| e.subject == "lot").unwrap();
    r.records[lot_record].record["code"] = json!("01234567890123456780");
    assert_fails(&f, &r, CheckKind::Subject);
    // A record without one of its kind's columns (a missing key is not a null).
    let mut r = f.report.clone();
    r.records[0].record.remove("carrier");
    assert_fails(&f, &r, CheckKind::Canonical);
}

/// The placement rule (SPEC.md 11.2 step 4): a record listed again at the next leaf index
/// with the same proof, or a leaf index moved within a segment another record shares, or a
/// segment placed over its neighbour, is not verified; only that rule catches them.
#[test]
fn a_leaf_listed_twice_or_moved_fails_the_placement_rule() {
    let f = rt().block_on(fixture());
    let good = &f.report;
    let only_placement = |r: &CodeReport| {
        let v = verify_report(r, &trusted(&f));
        assert!(!v.verified);
        assert_eq!(
            failed(&v),
            vec![CheckKind::Placement],
            "{:#?}",
            v.failures()
        );
    };
    // Record 4 (leaf 1 of the middle segment) again as leaf_index + 1: still in the order of
    // 11.1, its leaf index alone within the batch's bounds.
    let mut r = good.clone();
    let mut again = r.records[4].clone();
    again.leaf_index += 1;
    r.records.insert(5, again);
    only_placement(&r);
    // Record 4 moved one leaf on: its segment would start one leaf after record 3's.
    let mut r = good.clone();
    r.records[4].leaf_index += 1;
    only_placement(&r);
    // Both moved one leaf back: the middle segment would overlap the first one.
    let mut r = good.clone();
    r.records[3].leaf_index -= 1;
    r.records[4].leaf_index -= 1;
    only_placement(&r);
    // The limit SPEC.md 11.2 states: both moved one leaf on still fit between the first
    // segment and the end of the batch, and no record of the last segment says otherwise.
    let mut r = good.clone();
    r.records[3].leaf_index += 1;
    r.records[4].leaf_index += 1;
    assert!(verify_report(&r, &trusted(&f)).verified);
}

/// Every lot that an item record binds (its production records, its labelled logistics
/// events) is a subject: a report that drops the lot and its records while showing the
/// binding is not verified.
#[test]
fn a_hidden_bound_lot_fails() {
    let f = rt().block_on(fixture());
    let mut r = f.report.clone();
    r.subjects.truncate(1);
    r.records.retain(|e| e.subject != "lot");
    let v = verify_report(&r, &trusted(&f));
    assert!(!v.verified);
    assert_eq!(
        failed(&v),
        vec![CheckKind::SubjectKeys],
        "{:#?}",
        v.failures()
    );
    // Without the labelling event the item is bound to no lot: that report verifies.
    r.records.retain(|e| e.record["event_type"] != "labelled");
    let v = verify_report(&r, &trusted(&f));
    assert!(v.verified, "{:#?}", v.failures());
}

/// `batches` holds exactly the records' batches (SPEC.md 11.1): a batch object that holds
/// none of the report's records is not verified, even one that checks on its own.
#[test]
fn an_extra_batch_fails() {
    let f = rt().block_on(fixture());
    let mut r = f.report.clone();
    let mut other = r.batches[BATCH].clone();
    other.batch_date = "2026-11-26".into();
    r.batches.insert("nightly-2026-11-26".into(), other);
    assert_fails(&f, &r, CheckKind::Listing);
}

/// SPEC.md 11.2 step 1: a report of no record (and so no batch) proves nothing and is not
/// verified, though no other check has anything to fail on; nor is one whose only batch holds
/// no record. Alone and in bulk, with a trusted key and without an anchor required.
#[test]
fn an_empty_report_is_not_verified() {
    use proofmark_verifier::verify::verify_reports;
    let f = rt().block_on(fixture());
    let mut empty = f.report.clone();
    empty.records.clear();
    empty.batches.clear();
    empty.subjects.truncate(1);
    let mut batch_only = empty.clone();
    batch_only
        .batches
        .insert(BATCH.into(), f.report.batches[BATCH].clone());
    for trust in [trusted(&f), Trust::new().with_require_anchor(false)] {
        let v = verify_report(&empty, &trust);
        assert!(!v.verified);
        assert_eq!(failed(&v), vec![CheckKind::Format], "{:#?}", v.failures());
        assert!(
            v.reasons
                .iter()
                .any(|r| r.contains("the report has no records")),
            "{:?}",
            v.reasons
        );
        let v = verify_report(&batch_only, &trust);
        assert!(!v.verified);
        assert!(failed(&v).contains(&CheckKind::Format));
        assert!(failed(&v).contains(&CheckKind::Listing));
        let bulk = verify_reports(&[empty.clone(), batch_only.clone()], &trust);
        assert!(bulk.iter().all(|v| !v.verified));
        assert_eq!(bulk[0], verify_report(&empty, &trust));
        assert_eq!(bulk[1], verify_report(&batch_only, &trust));
    }
}

/// A receipt checked with a trusted key and found wrong is reported as a failed receipt, not
/// as a batch with no checked anchor; reasons speak of the report, not of a store.
#[test]
fn a_wrong_receipt_is_reported_as_failed_not_unchecked() {
    let f = rt().block_on(fixture());
    let anchored_reason = |r: &CodeReport, trust: &Trust| -> String {
        let v = verify_report(r, trust);
        assert!(!v.verified);
        let c = v.batches[BATCH]
            .checks
            .iter()
            .find(|c| c.check == CheckKind::Anchored)
            .unwrap();
        match &c.status {
            CheckStatus::Failed { reason } => reason.clone(),
            other => panic!("{other:?}"),
        }
    };
    let status = |r: &CodeReport, kind: CheckKind| -> CheckStatus {
        let v = verify_report(r, &trusted(&f));
        v.batches[BATCH].anchors["ledger"]
            .checks
            .iter()
            .find(|c| c.check == kind)
            .unwrap()
            .status
            .clone()
    };
    // Without a key: nothing was checked.
    let unchecked = anchored_reason(&f.report, &Trust::new());
    assert!(
        unchecked.contains("give a ledger verifier key"),
        "{unchecked}"
    );

    // Another suite in the receipt: the commitment fails; the (valid) signature passes.
    let mut r = f.report.clone();
    receipt_mut(&mut r).insert("suite".into(), json!("sha256-rfc6962"));
    let reason = anchored_reason(&r, &trusted(&f));
    assert!(
        reason.contains("found wrong (ledger: the commitment check failed: "),
        "{reason}"
    );
    assert!(!reason.contains("give a ledger verifier key"), "{reason}");
    assert!(status(&r, CheckKind::Signature).is_passed());
    let CheckStatus::Failed { reason } = status(&r, CheckKind::Commitment) else {
        panic!("the commitment passed");
    };
    assert!(!reason.contains("manifest:"), "{reason}");

    // Another log size: inclusion fails, naming the receipt and its checkpoint, not a store.
    let mut r = f.report.clone();
    let size = receipt_mut(&mut r)["log_size"].as_u64().unwrap();
    receipt_mut(&mut r).insert("log_size".into(), json!(size + 1));
    let reason = anchored_reason(&r, &trusted(&f));
    assert!(reason.contains("the inclusion check failed: "), "{reason}");
    assert!(status(&r, CheckKind::Signature).is_passed());
    let CheckStatus::Failed { reason } = status(&r, CheckKind::Inclusion) else {
        panic!("the inclusion passed");
    };
    assert!(
        reason.contains("log_size") && !reason.contains("store"),
        "{reason}"
    );

    // A broken signature: the Anchored reason names the signature.
    let mut r = f.report.clone();
    let cp = receipt_mut(&mut r)["checkpoint"]
        .as_str()
        .unwrap()
        .to_owned();
    let at = cp.rfind(' ').unwrap() + 10;
    let mut sig = cp.into_bytes();
    sig[at] = if sig[at] == b'A' { b'B' } else { b'A' };
    receipt_mut(&mut r).insert("checkpoint".into(), json!(String::from_utf8(sig).unwrap()));
    let reason = anchored_reason(&r, &trusted(&f));
    assert!(reason.contains("the signature check failed: "), "{reason}");
}

/// A ledger receipt of `batch` by a log of another key (`other.example/log`), under the chain
/// name `ledger2`: the batch's entry is the second of a log of three.
async fn receipt_of_another_log(batch: &BatchInfo) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::from_url(dir.path().to_str().unwrap()).unwrap();
    let signer = NoteSigner::from_seed("other.example/log", &[9; 32]).unwrap();
    let log = BatchLog::for_writer(&store, &signer);
    let other = |id: &str| BatchAnchor {
        batch_id: id.into(),
        suite: "blake3".into(),
        root: hex::encode([5u8; 32]),
        leaf_count: 3,
        manifest_digest: format!("blake3:{}", hex::encode([6u8; 32])),
    };
    log.append(&other("elsewhere-1")).await.unwrap();
    let r = log
        .append(&BatchAnchor {
            batch_id: BATCH.into(),
            suite: batch.suite.clone(),
            root: batch.root.clone(),
            leaf_count: batch.leaf_count,
            manifest_digest: batch.manifest_digest.clone(),
        })
        .await
        .unwrap();
    log.append(&other("elsewhere-2")).await.unwrap();
    json!({
        "chain": "ledger2",
        "batch_id": r.entry.batch_id,
        "root": r.entry.root,
        "leaf_count": r.entry.leaf_count,
        "manifest_digest": r.entry.manifest_digest,
        "suite": r.entry.suite,
        "log_index": r.entry.index,
        "log_size": r.log_size,
        "checkpoint": r.checkpoint,
        "inclusion_proof": r.inclusion_proof,
        "verifier_key": r.verifier_key,
        "anchored_at": "2026-11-25T02:00:00Z",
    })
}

/// SPEC.md 9.3: a ledger receipt whose key the verifier does not trust has its signature "not
/// checked", but the checks that need no key are made: right on its own terms it changes
/// nothing; wrong on them (its inclusion proof, its log size, a checkpoint that does not parse,
/// a root not in canonical base64) it fails the report, with or without trusted keys.
#[test]
fn a_receipt_of_an_untrusted_key_fails_when_wrong_on_its_own_terms() {
    let f = rt().block_on(fixture());
    let receipt = rt().block_on(receipt_of_another_log(&f.report.batches[BATCH]));
    let with = |receipt: Value| {
        let mut r = f.report.clone();
        batch(&mut r).anchors.insert("ledger2".into(), receipt);
        r
    };
    let good = with(receipt.clone());
    let v = verify_report(&good, &trusted(&f));
    assert!(v.verified, "{:#?}", v.failures());
    let a = &v.batches[BATCH].anchors["ledger2"];
    assert!(!a.trusted);
    let status = |kind: CheckKind| {
        a.checks
            .iter()
            .find(|c| c.check == kind)
            .unwrap()
            .status
            .clone()
    };
    assert!(status(CheckKind::Inclusion).is_passed());
    assert!(matches!(
        status(CheckKind::Signature),
        CheckStatus::NotChecked { .. }
    ));

    let checkpoint = receipt["checkpoint"].as_str().unwrap().to_owned();
    let lines: Vec<&str> = checkpoint.split('\n').collect();
    // The root's last character before `=` carries 2 bits past the 32 bytes: set one.
    const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let root = lines[2];
    let last = B64.find(&root[42..43]).unwrap();
    let loose_root = format!("{}{}=", &root[..42], &B64[(last | 1)..=(last | 1)]);
    let wrong: Vec<(&str, Value)> = vec![
        ("inclusion_proof", json!([hex::encode([0u8; 32])])),
        ("log_size", json!(receipt["log_size"].as_u64().unwrap() + 1)),
        ("checkpoint", json!(checkpoint.replacen(lines[0], "", 1))),
        (
            "checkpoint",
            json!(checkpoint.replacen(root, &loose_root, 1)),
        ),
    ];
    for (field, value) in wrong {
        let mut bad = receipt.clone();
        bad[field] = value;
        let bad = with(bad);
        for trust in [trusted(&f), Trust::new().with_require_anchor(false)] {
            let v = verify_report(&bad, &trust);
            assert!(!v.verified, "{field}");
            assert!(
                v.failures()
                    .iter()
                    .any(|(place, kind, _)| place.ends_with("anchor ledger2")
                        && *kind == CheckKind::Inclusion),
                "{field}: {:#?}",
                v.failures()
            );
            assert!(
                v.reasons
                    .iter()
                    .any(|r| r.contains("anchor ledger2: the inclusion check failed")),
                "{field}: {:?}",
                v.reasons
            );
        }
    }
}

struct FixedChain(Result<String, ChainCheckError>);

impl ChainCheck for FixedChain {
    fn check(
        &self,
        _chain: &str,
        receipt: &Value,
        batch: &AnchoredBatch<'_>,
    ) -> Result<String, ChainCheckError> {
        assert_eq!(receipt["tx"], "0xabc");
        assert_eq!(batch.batch_id, BATCH);
        self.0.clone()
    }
}

fn with_chain_receipt(f: &Fixture) -> CodeReport {
    let mut r = f.report.clone();
    let b = r.batches.get_mut(BATCH).unwrap();
    let receipt = json!({
        "chain": "polygon", "type": "evm", "batch_id": BATCH, "root": b.root,
        "leaf_count": b.leaf_count, "manifest_digest": b.manifest_digest, "suite": b.suite,
        "tx": "0xabc",
    });
    b.anchors.insert("polygon".into(), receipt);
    r
}

/// SPEC.md 11.2 step 3: a receipt of any kind commits to the batch's id, root, leaf count,
/// manifest digest and suite; one that lacks one, or writes the root otherwise, fails.
#[test]
fn a_receipt_commits_to_the_whole_batch() {
    let f = rt().block_on(fixture());
    let r = with_chain_receipt(&f);
    assert!(verify_report(&r, &trusted(&f)).verified);
    let changed = |change: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut bad = r.clone();
        let receipt = bad
            .batches
            .get_mut(BATCH)
            .unwrap()
            .anchors
            .get_mut("polygon");
        change(receipt.unwrap().as_object_mut().unwrap());
        assert_fails(&f, &bad, CheckKind::Commitment);
        verify_report(&bad, &trusted(&f)).reasons.join("\n")
    };
    for field in ["batch_id", "root", "leaf_count", "manifest_digest", "suite"] {
        let why = changed(&|receipt| {
            receipt.remove(field);
        });
        assert!(
            why.contains(&format!(
                "anchor polygon: the commitment check failed: the receipt names no {field}"
            )),
            "{why}"
        );
    }
    let root = r.batches[BATCH].root.clone();
    changed(&|receipt| {
        receipt.insert("root".into(), json!(format!("0x{root}")));
    });
    changed(&|receipt| {
        receipt.insert("root".into(), json!(root.to_ascii_uppercase()));
    });
}

#[test]
fn other_chains_are_not_checked_unless_a_reader_is_given() {
    let f = rt().block_on(fixture());
    let r = with_chain_receipt(&f);
    let v = verify_report(&r, &trusted(&f));
    assert!(v.verified, "{:#?}", v.failures());
    let a = &v.batches[BATCH].anchors["polygon"];
    assert!(!a.trusted);
    let c = a
        .checks
        .iter()
        .find(|c| c.check == CheckKind::Chain)
        .unwrap();
    assert!(matches!(c.status, CheckStatus::NotChecked { .. }));

    // Only the chain receipt, no reader: not verified.
    let mut only = r.clone();
    only.batches
        .get_mut(BATCH)
        .unwrap()
        .anchors
        .remove("ledger");
    assert!(!verify_report(&only, &trusted(&f)).verified);
    // With a reader that confirms: verified without any ledger key.
    let ok = Trust::new().with_chain_check("polygon", Arc::new(FixedChain(Ok("block 7".into()))));
    let v = verify_report(&only, &ok);
    assert!(v.verified, "{:#?}", v.failures());
    assert!(v.batches[BATCH].anchors["polygon"].trusted);
    // A reader that finds another root.
    let bad = Trust::new().with_chain_check(
        "polygon",
        Arc::new(FixedChain(Err(ChainCheckError::Mismatch(
            "root 0x00".into(),
        )))),
    );
    let v = verify_report(&only, &bad);
    assert!(!v.verified);
    assert!(failed(&v).contains(&CheckKind::Chain));
    assert!(!v.has_errors());
    // A chain that cannot be read is an error, not a pass.
    let down = Trust::new().with_chain_check(
        "polygon",
        Arc::new(FixedChain(Err(ChainCheckError::Unavailable(
            "timeout".into(),
        )))),
    );
    let v = verify_report(&only, &down);
    assert!(!v.verified);
    assert!(v.has_errors());
    // A chain receipt for another root fails even unread.
    let mut wrong = r.clone();
    let b = wrong.batches.get_mut(BATCH).unwrap();
    b.anchors.get_mut("polygon").unwrap()["root"] = json!(format!("0x{}", hex::encode([3u8; 32])));
    assert_fails(&f, &wrong, CheckKind::Commitment);
}

/// Why a chain receipt was not checked: no node of its chain given, or a type this verifier
/// does not know (said as such); the status says "not checked", the reason does not repeat it.
#[test]
fn a_receipt_not_checked_says_why_once() {
    let f = rt().block_on(fixture());
    let reason_of = |r: &CodeReport| {
        let v = verify_report(r, &trusted(&f));
        let a = &v.batches[BATCH].anchors["polygon"];
        match &a
            .checks
            .iter()
            .find(|c| c.check == CheckKind::Chain)
            .unwrap()
            .status
        {
            CheckStatus::NotChecked { reason } => reason.clone(),
            other => panic!("{other:?}"),
        }
    };
    let r = with_chain_receipt(&f);
    let why = reason_of(&r);
    assert!(why.contains("no node and contract of its chain"), "{why}");
    assert!(!why.contains("not checked"), "{why}");
    let mut odd = r.clone();
    odd.batches
        .get_mut(BATCH)
        .unwrap()
        .anchors
        .get_mut("polygon")
        .unwrap()["type"] = json!("solana");
    let why = reason_of(&odd);
    assert!(
        why.contains("type \"solana\" is not one this verifier knows"),
        "{why}"
    );
    // A `type` that is null is present: not a ledger receipt, a kind SPEC.md 9.3 does not
    // define; beside the trusted ledger receipt it changes nothing.
    odd.batches
        .get_mut(BATCH)
        .unwrap()
        .anchors
        .get_mut("polygon")
        .unwrap()["type"] = Value::Null;
    let why = reason_of(&odd);
    assert!(
        why.contains("type null is not one this verifier knows"),
        "{why}"
    );
    let v = verify_report(&odd, &trusted(&f));
    assert!(v.verified, "{:#?}", v.failures());
    assert_eq!(v.batches[BATCH].anchors["polygon"].receipt_type, "chain");
    // A reader's "not this chain" is the reason as it gives it.
    let elsewhere = trusted(&f).with_chain_check(
        "polygon",
        Arc::new(FixedChain(Err(ChainCheckError::NotApplicable(
            "the node serves chain id 5".into(),
        )))),
    );
    let v = verify_report(&r, &elsewhere);
    let c = &v.batches[BATCH].anchors["polygon"].checks[1];
    assert_eq!(
        c.status,
        CheckStatus::NotChecked {
            reason: "the node serves chain id 5".into()
        }
    );
}

/// A chain the verifier requires by name must have a receipt in every batch: one that is
/// missing fails the batch, whatever its other (trusted) anchors.
#[test]
fn a_required_chain_without_a_receipt_fails() {
    let f = rt().block_on(fixture());
    let v = verify_report(&f.report, &trusted(&f).with_required_chain("ledger"));
    assert!(v.verified, "{:#?}", v.failures());
    let v = verify_report(&f.report, &trusted(&f).with_required_chain("polygon"));
    assert!(!v.verified);
    assert_eq!(failed(&v), vec![CheckKind::Receipt]);
    assert!(
        v.reasons
            .iter()
            .any(|r| r.contains("no receipt of chain polygon")),
        "{:?}",
        v.reasons
    );
}

/// A required chain's receipt must be of the kind the verifier checks that chain with, and
/// verify: a ledger receipt copied under an evm chain's name (its `chain` field edited, which
/// no signature covers) and an evm receipt filed under the ledger's name both fail, as does a
/// required receipt that is only "not checked".
#[test]
fn a_required_chain_needs_its_own_kind_of_receipt_verified() {
    let f = rt().block_on(fixture());
    let reasons = |r: &CodeReport, trust: &Trust| {
        let v = verify_report(r, trust);
        assert!(!v.verified, "{:#?}", v.failures());
        assert_eq!(failed(&v), vec![CheckKind::Receipt], "{:?}", v.reasons);
        v.reasons.join("\n")
    };
    let reads_polygon = || {
        trusted(&f)
            .with_chain_check("polygon", Arc::new(FixedChain(Ok("anchored".into()))))
            .with_required_chain("polygon")
    };
    // The genuine evm receipt passes.
    let v = verify_report(&with_chain_receipt(&f), &reads_polygon());
    assert!(v.verified, "{:#?}", v.failures());
    // The ledger receipt copied under the evm chain's name.
    let mut copied = f.report.clone();
    let b = copied.batches.get_mut(BATCH).unwrap();
    let mut ledger = b.anchors["ledger"].clone();
    ledger["chain"] = json!("polygon");
    b.anchors.insert("polygon".into(), ledger);
    let why = reasons(&copied, &reads_polygon());
    assert!(
        why.contains("the receipt under chain polygon is a ledger receipt, but polygon is a chain that is read"),
        "{why}"
    );
    // An evm receipt under the ledger's name.
    let mut swapped = with_chain_receipt(&f);
    let b = swapped.batches.get_mut(BATCH).unwrap();
    let mut evm = b.anchors["polygon"].clone();
    evm["chain"] = json!("ledger");
    b.anchors.insert("ledger".into(), evm);
    let trust = trusted(&f)
        .with_chain_check("polygon", Arc::new(FixedChain(Ok("anchored".into()))))
        .with_required_chain("ledger");
    let why = reasons(&swapped, &trust);
    assert!(
        why.contains(
            "the receipt under chain ledger is a chain receipt, but ledger is a batch log"
        ),
        "{why}"
    );
    // The right kind, but not checked: the node serves another chain.
    let down = trusted(&f)
        .with_chain_check(
            "polygon",
            Arc::new(FixedChain(Err(ChainCheckError::NotApplicable(
                "the node serves chain id 5".into(),
            )))),
        )
        .with_required_chain("polygon");
    let why = reasons(&with_chain_receipt(&f), &down);
    assert!(
        why.contains("the receipt of chain polygon, a chain whose receipt must verify, was not checked (the chain check: the node serves chain id 5)"),
        "{why}"
    );
}

/// A verifier given a chain to read requires every batch to be confirmed on it: a trusted
/// ledger receipt alone, or a receipt the chain's reader does not apply to, leaves the
/// report not verified; a receipt confirmed on the chain verifies it, and one whose chain
/// could not be read stays an error, not this requirement's failure.
#[test]
fn a_chain_to_read_must_confirm_every_batch() {
    let f = rt().block_on(fixture());
    let reading = |answer: Result<String, ChainCheckError>| {
        trusted(&f).with_chain_check("polygon", Arc::new(FixedChain(answer)))
    };
    let elsewhere = || {
        reading(Err(ChainCheckError::NotApplicable(
            "the receipt's contract 0x2 is not the --contract given (0x1)".into(),
        )))
    };
    // Without the requirement, the trusted ledger receipt verifies either report.
    assert!(verify_report(&f.report, &reading(Ok("anchored".into()))).verified);
    assert!(verify_report(&with_chain_receipt(&f), &elsewhere()).verified);
    // With it: the ledger receipt alone does not do, nor a receipt of another contract.
    let v = verify_report(
        &f.report,
        &reading(Ok("anchored".into())).with_require_chain(true),
    );
    assert!(!v.verified);
    assert_eq!(failed(&v), vec![CheckKind::Receipt]);
    assert!(
        v.reasons
            .iter()
            .any(|r| r.contains("no receipt of the batch is of a chain the verifier was given")),
        "{:?}",
        v.reasons
    );
    let v = verify_report(
        &with_chain_receipt(&f),
        &elsewhere().with_require_chain(true),
    );
    assert!(!v.verified);
    assert_eq!(failed(&v), vec![CheckKind::Receipt]);
    assert!(
        v.reasons.iter().any(|r| r.contains(
            "no receipt of the batch was verified on a chain the verifier was given to read, \
             which it requires (polygon: the receipt's contract 0x2 is not the --contract given"
        )),
        "{:?}",
        v.reasons
    );
    // Confirmed on the chain: verified.
    let v = verify_report(
        &with_chain_receipt(&f),
        &reading(Ok("anchored".into())).with_require_chain(true),
    );
    assert!(v.verified, "{:#?}", v.failures());
    // The chain could not be read: an error of the check, no Receipt failure added.
    let v = verify_report(
        &with_chain_receipt(&f),
        &reading(Err(ChainCheckError::Unavailable("node down".into()))).with_require_chain(true),
    );
    assert!(!v.verified);
    assert!(v.has_errors());
    assert!(!failed(&v).contains(&CheckKind::Receipt), "{:?}", v.reasons);
}

/// Every string and number the proofs cover, by JSON pointer.
fn covered_leaves(v: &Value, path: String, out: &mut Vec<String>) {
    const UNCOVERED: [&str; 5] = [
        "/file",
        "/row",
        "/anchored_at",
        "/verifier_key",
        "/batch_date",
    ];
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                covered_leaves(
                    x,
                    format!("{path}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                covered_leaves(x, format!("{path}/{i}"), out);
            }
        }
        Value::String(_) | Value::Number(_) if !UNCOVERED.iter().any(|u| path.ends_with(u)) => {
            out.push(path);
        }
        _ => {}
    }
}

fn mutate(v: &Value, salt: usize) -> Value {
    match v {
        Value::String(s) if s.is_empty() => json!("x"),
        Value::String(s) => {
            let mut b = s.clone().into_bytes();
            let at = salt % b.len();
            b[at] = match b[at] {
                b'0' => b'1',
                b'a' => b'b',
                b'A' => b'B',
                b'\n' => b' ',
                c if c.is_ascii() => {
                    if c == b'z' {
                        b'y'
                    } else {
                        b'z'
                    }
                }
                _ => b'x',
            };
            // Non-ASCII bytes replaced whole keep the text valid UTF-8 only if
            // single-byte; fall back to appending.
            String::from_utf8(b).map_or_else(|_| json!(format!("{s}x")), Value::String)
        }
        Value::Number(n) => json!(n.as_u64().map_or(1, |x| x ^ (1 << (salt % 3)))),
        other => other.clone(),
    }
}

#[test]
fn any_single_change_to_a_covered_value_is_not_verified() {
    let f = rt().block_on(fixture());
    let good = serde_json::to_value(&f.report).unwrap();
    let mut paths = Vec::new();
    covered_leaves(&good, String::new(), &mut paths);
    assert!(paths.len() > 100, "{}", paths.len());
    let trust = trusted(&f);
    let mut checked = 0;
    for (i, p) in paths.iter().enumerate() {
        for salt in [i, i + 7, i * 13 + 1] {
            let mut v = good.clone();
            let target = v.pointer_mut(p).unwrap();
            let new = mutate(target, salt);
            if new == *target {
                continue;
            }
            *target = new;
            // Changes that break the report's own shape are refused earlier.
            let Ok(report) = serde_json::from_value::<CodeReport>(v) else {
                continue;
            };
            let verdict = verify_report(&report, &trust);
            assert!(
                !verdict.verified,
                "changing {p} (salt {salt}) still verified"
            );
            checked += 1;
        }
    }
    assert!(checked > 300, "{checked}");
}

#[test]
fn bulk_verification_gives_the_same_verdicts() {
    use proofmark_verifier::verify::verify_reports;
    let f = rt().block_on(fixture());
    let mut reports = Vec::new();
    for i in 0..600 {
        let mut r = f.report.clone();
        match i % 9 {
            // A receipt's leaf count as 0.0 and -0.0 (equal as JSON numbers): each report's
            // verdict names its own value.
            0 if i % 2 == 1 => {
                let zero = if i % 4 == 1 { 0.0 } else { -0.0 };
                let b = r.batches.get_mut(BATCH).unwrap();
                b.anchors.get_mut("ledger").unwrap()["leaf_count"] = json!(zero);
            }
            0 => {}
            1 => {
                r.records[i % 5]
                    .record
                    .insert("location".into(), json!("elsewhere"));
            }
            2 => {
                // A record no Arrow batch can hold spoils its kind's batch.
                r.records[0]
                    .record
                    .insert("event_time".into(), json!("yesterday"));
            }
            3 => {
                let b = r.batches.get_mut(BATCH).unwrap();
                b.leaf_count += 1;
            }
            4 => {
                r.records[4].leaf_hash = flip_hex(&r.records[4].leaf_hash, 1);
            }
            // The placement rule: a leaf listed twice, a leaf moved within its segment.
            5 => {
                let mut again = r.records[4].clone();
                again.leaf_index += 1;
                r.records.push(again);
            }
            6 => r.records[4].leaf_index += 1,
            // A hidden bound lot, an extra batch.
            7 => {
                r.subjects.truncate(1);
                r.records.retain(|e| e.subject != "lot");
            }
            _ => {
                let other = r.batches[BATCH].clone();
                r.batches.insert("nightly-2026-11-26".into(), other);
            }
        }
        reports.push(r);
    }
    let trust = trusted(&f);
    let bulk = verify_reports(&reports, &trust);
    assert_eq!(bulk.len(), reports.len());
    for (r, v) in reports.iter().zip(&bulk) {
        assert_eq!(*v, verify_report(r, &trust));
    }
    let good = (0..600).filter(|i| i % 9 == 0 && i % 2 == 0).count();
    assert_eq!(bulk.iter().filter(|v| v.verified).count(), good);
}

/// Bulk verification with its proof memo: every corrupted proof, each after
/// good copies of the same report filled the memo with its paths, gets the
/// verdict `verify_report` gives it (not verified), with the memo on and off.
#[test]
fn a_memo_hit_never_turns_a_bad_proof_good() {
    use proofmark_verifier::verify::{BulkOptions, verify_reports_with};
    let f = rt().block_on(fixture());
    let good = &f.report;
    let mut reports = Vec::new();
    let mut bad = Vec::new();
    for i in 0..good.records.len() {
        let mut corrupt = Vec::new();
        for field in ["hashes", "upper_hashes"] {
            let n = good.records[i].proof[field].as_array().unwrap().len();
            corrupt.extend((0..n).map(|h| with_flipped_hash(good, i, field, h)));
        }
        for field in ["index", "segment_index", "segment_count"] {
            let v = good.records[i].proof[field].as_u64().unwrap();
            for new in [v + 1, v.wrapping_sub(1), v ^ 2] {
                let mut r = good.clone();
                proof_mut(&mut r, i).insert(field.into(), json!(new));
                corrupt.push(r);
            }
        }
        // The right leaf hash moved to another record's place.
        let mut r = good.clone();
        let j = (i + 1) % good.records.len();
        let (a, b) = (r.records[i].proof.clone(), r.records[j].proof.clone());
        r.records[i].proof = b;
        r.records[j].proof = a;
        corrupt.push(r);
        for r in corrupt {
            reports.push(good.clone());
            bad.push(reports.len());
            reports.push(r);
        }
    }
    reports.push(good.clone());
    let trust = trusted(&f);
    let (memo, stats) = verify_reports_with(&reports, &trust, BulkOptions::default());
    let (plain, plain_stats) = verify_reports_with(
        &reports,
        &trust,
        BulkOptions::default().with_proof_memo(false),
    );
    assert!(stats.memo_hits > 0, "{stats:?}");
    assert_eq!(plain_stats.memo_hits, 0);
    assert_eq!(stats.proofs, plain_stats.proofs);
    for (k, r) in reports.iter().enumerate() {
        let single = verify_report(r, &trust);
        assert_eq!(memo[k], single, "report {k}");
        assert_eq!(plain[k], single, "report {k}");
        assert_eq!(single.verified, !bad.contains(&k), "report {k}");
    }
}

/// Edits of a good report that the placement rule and the listing checks judge: a record
/// listed again at another leaf index, a leaf index moved, a record dropped.
#[derive(Debug, Clone, Copy)]
enum Edit {
    Again { record: usize, shift: u64 },
    Move { record: usize, up: bool },
    Drop { record: usize },
}

fn edit() -> impl proptest::strategy::Strategy<Value = Edit> {
    use proptest::prelude::*;
    prop_oneof![
        (0usize..8, 0u64..3).prop_map(|(record, shift)| Edit::Again { record, shift }),
        (0usize..8, any::<bool>()).prop_map(|(record, up)| Edit::Move { record, up }),
        (0usize..8).prop_map(|record| Edit::Drop { record }),
    ]
}

fn apply(r: &mut CodeReport, edit: Edit) {
    let n = r.records.len();
    if n == 0 {
        return;
    }
    match edit {
        Edit::Again { record, shift } => {
            let mut again = r.records[record % n].clone();
            again.leaf_index += shift;
            r.records.insert(record % n + 1, again);
        }
        Edit::Move { record, up } => {
            let e = &mut r.records[record % n];
            e.leaf_index = if up {
                e.leaf_index + 1
            } else {
                e.leaf_index.saturating_sub(1)
            };
        }
        Edit::Drop { record } => {
            r.records.remove(record % n);
        }
    }
}

fn shared_fixture() -> &'static Fixture {
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(|| rt().block_on(fixture()))
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    /// Bulk verification (with and without the proof memo) gives every edited report the
    /// verdict `verify_report` gives it, the placement rule included.
    #[test]
    fn bulk_equals_single_under_listing_edits(
        edits in proptest::collection::vec(proptest::collection::vec(edit(), 0..3), 1..24),
    ) {
        use proofmark_verifier::verify::{BulkOptions, verify_reports_with};
        let f = shared_fixture();
        let reports: Vec<CodeReport> = edits
            .iter()
            .map(|list| {
                let mut r = f.report.clone();
                for e in list {
                    apply(&mut r, *e);
                }
                r
            })
            .collect();
        let trust = trusted(f);
        let (memo, _) = verify_reports_with(&reports, &trust, BulkOptions::default());
        let (plain, _) =
            verify_reports_with(&reports, &trust, BulkOptions::default().with_proof_memo(false));
        for (k, r) in reports.iter().enumerate() {
            let single = verify_report(r, &trust);
            proptest::prop_assert_eq!(&memo[k], &single);
            proptest::prop_assert_eq!(&plain[k], &single);
        }
    }
}
