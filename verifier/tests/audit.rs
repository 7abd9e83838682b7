//! The batch audit end to end: the committed sample dataset goes through the
//! real pipeline (plan, build, commit, anchor on the embedded ledger); the
//! audit of the untouched batch passes, and every tampering of a stored
//! output or an input is found and named.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};

use proofmark_anchor::chain::{ChainsFile, anchor_batch};
use proofmark_anchor::{BuildOptions, CommitOptions, build_batch, commit_batch};
use proofmark_ingest::{InputMode, PlanOptions, Store, make_plan};
use proofmark_merkle::SuiteId;
use proofmark_verifier::audit::{AuditOptions, BatchAudit, MismatchKind, audit_batch};
use proofmark_verifier::verify::Trust;

const BATCH: &str = "sample-2026-11-24";

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn store_path(&self) -> PathBuf {
        self.dir.path().join("store")
    }
    fn store(&self) -> Store {
        Store::from_url(self.store_path().to_str().unwrap()).unwrap()
    }
    fn batch_file(&self, rel: &str) -> PathBuf {
        self.store_path().join("batches").join(BATCH).join(rel)
    }
    fn opts(&self) -> AuditOptions {
        let key = std::fs::read_to_string(self.store_path().join("log/verifier-key.txt")).unwrap();
        AuditOptions {
            trust: Trust::new().with_ledger_key_text(key.trim()).unwrap(),
            ..AuditOptions::default()
        }
    }
    fn audit(&self) -> BatchAudit {
        rt().block_on(audit_batch(&self.store(), BATCH, &self.opts(), &|_| {}))
            .unwrap()
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/sample/records")
}

/// The sample batch, with small row groups so that it has many segments.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let store = Store::from_url(dir.path().join("store").to_str().unwrap()).unwrap();
        let inputs: Vec<String> = ["production", "customs", "logistics", "inspection"]
            .iter()
            .map(|k| sample_dir().join(k).join("part-00000.parquet").display().to_string())
            .collect();
        let opts = PlanOptions {
            batch_id: BATCH.into(),
            batch_date: "2026-11-24".into(),
            suite: SuiteId::Blake3,
            input_mode: InputMode::Copy,
        };
        make_plan(&store, &inputs, &opts, &|_| {}).await.unwrap();
        build_batch(&store, BATCH, &BuildOptions::default(), &|_| {})
            .await
            .unwrap();
        commit_batch(&store, BATCH, &CommitOptions::default(), &|_| {})
            .await
            .unwrap();
        let key = dir.path().join("ledger.key");
        let chains = ChainsFile::parse(
            "chains.toml",
            &format!(
                "[chains.ledger]\ntype = \"ledger\"\norigin = \"test.local/ledger\"\nkey_file = {:?}\n",
                key.display().to_string()
            ),
        )
        .unwrap();
        anchor_batch(&store, BATCH, "ledger", &chains).await.unwrap();
    });
    Fixture { dir }
}

fn kinds(a: &BatchAudit) -> Vec<MismatchKind> {
    let mut k: Vec<MismatchKind> = a.mismatches.iter().map(|m| m.kind).collect();
    k.sort();
    k.dedup();
    k
}

fn first_segment_with_leaves(f: &Fixture) -> u32 {
    for n in 0.. {
        let p = f.batch_file(&format!("segments/{n:06}.leaves"));
        if std::fs::metadata(&p).unwrap().len() >= 64 {
            return n;
        }
    }
    unreachable!()
}

#[test]
fn an_untouched_batch_passes_and_tampering_is_named() {
    let f = fixture();
    let a = f.audit();
    assert!(a.passed, "{:#?}", a.mismatches);
    assert!(a.segments >= 4);
    assert_eq!(a.segments_checked, a.segments);
    assert_eq!(a.leaves_recomputed, a.leaf_count);
    assert_eq!(a.recomputed_root.as_deref(), Some(a.root.as_str()));
    assert!(a.anchors.anchors["ledger"].trusted);

    // Without the key, the receipt's signature is not checked: not a mismatch
    // of the stored batch, but the batch has no trusted anchor.
    let untrusted = rt()
        .block_on(audit_batch(
            &f.store(),
            BATCH,
            &AuditOptions::default(),
            &|_| {},
        ))
        .unwrap();
    assert_eq!(kinds(&untrusted), vec![MismatchKind::Anchor]);

    // One stored leaf changed: named by segment, global leaf, file and row.
    let seg = first_segment_with_leaves(&f);
    let leaves_path = f.batch_file(&format!("segments/{seg:06}.leaves"));
    let good_leaves = std::fs::read(&leaves_path).unwrap();
    let mut bad = good_leaves.clone();
    bad[32 + 5] ^= 1; // leaf 1
    std::fs::write(&leaves_path, &bad).unwrap();
    let a = f.audit();
    assert!(!a.passed);
    let leaf = a
        .mismatches
        .iter()
        .find(|m| m.kind == MismatchKind::Leaf)
        .unwrap();
    assert_eq!(leaf.segment, Some(seg));
    assert!(leaf.file.as_deref().unwrap().ends_with(".parquet"));
    assert!(leaf.row.is_some());
    assert!(leaf.leaf.is_some());
    assert_eq!(
        a.mismatches
            .iter()
            .filter(|m| m.kind == MismatchKind::Leaf)
            .count(),
        1
    );
    // A leaf missing.
    std::fs::write(&leaves_path, &good_leaves[..good_leaves.len() - 32]).unwrap();
    assert!(kinds(&f.audit()).contains(&MismatchKind::LeafCount));
    std::fs::write(&leaves_path, &good_leaves).unwrap();
    assert!(f.audit().passed);
    // The first and the last leaf of the segment are compared too.
    for at in [5, good_leaves.len() - 32 + 5] {
        let mut bad = good_leaves.clone();
        bad[at] ^= 1;
        std::fs::write(&leaves_path, &bad).unwrap();
        assert!(kinds(&f.audit()).contains(&MismatchKind::Leaf), "byte {at}");
    }
    std::fs::write(&leaves_path, &good_leaves).unwrap();

    // The stored tree, index and rejects of a segment.
    for (ext, kind) in [
        ("tree", MismatchKind::Tree),
        ("index", MismatchKind::Index),
        ("rejects.jsonl", MismatchKind::Rejects),
    ] {
        let p = f.batch_file(&format!("segments/{seg:06}.{ext}"));
        let good = std::fs::read(&p).unwrap();
        let mut bad = good.clone();
        if bad.is_empty() {
            bad.push(b'\n');
        } else {
            let last = bad.len() - 1;
            bad[last] ^= 1;
        }
        std::fs::write(&p, &bad).unwrap();
        let a = f.audit();
        assert!(kinds(&a).contains(&kind), "{ext}: {:?}", kinds(&a));
        std::fs::remove_file(&p).unwrap();
        assert!(kinds(&f.audit()).contains(&MismatchKind::MissingFile));
        std::fs::write(&p, &good).unwrap();
    }

    // A summary field.
    let p = f.batch_file(&format!("segments/{seg:06}.json"));
    let good = std::fs::read_to_string(&p).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    v["rows_rejected"] = serde_json::json!(v["rows_rejected"].as_u64().unwrap() + 1);
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    let k = kinds(&f.audit());
    assert!(k.contains(&MismatchKind::Summary), "{k:?}");
    assert!(k.contains(&MismatchKind::ManifestSegment), "{k:?}");
    std::fs::write(&p, &good).unwrap();

    // The batch index and the rejects file.
    for (rel, kind) in [
        ("index/entries.bin", MismatchKind::BatchIndex),
        ("rejects.parquet", MismatchKind::RejectsFile),
    ] {
        let p = f.batch_file(rel);
        let good = std::fs::read(&p).unwrap();
        let mut bad = good.clone();
        bad[0] ^= 1;
        std::fs::write(&p, &bad).unwrap();
        assert!(kinds(&f.audit()).contains(&kind), "{rel}");
        std::fs::write(&p, &good).unwrap();
    }

    // The manifest's root: the root differs from the recomputation and the
    // receipt no longer commits to the manifest.
    let p = f.batch_file("manifest.json");
    let good = std::fs::read_to_string(&p).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    v["root"] = serde_json::json!(hex::encode([9u8; 32]));
    std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let k = kinds(&f.audit());
    assert!(k.contains(&MismatchKind::BatchRoot), "{k:?}");
    assert!(k.contains(&MismatchKind::Anchor), "{k:?}");
    // Only the leaf count.
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    v["leaf_count"] = serde_json::json!(v["leaf_count"].as_u64().unwrap() + 1);
    std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let k = kinds(&f.audit());
    assert!(k.contains(&MismatchKind::Counts), "{k:?}");
    // A segment's first leaf in the manifest.
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    let first = v["segments"][1]["first_leaf"].as_u64().unwrap();
    v["segments"][1]["first_leaf"] = serde_json::json!(first + 1);
    std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let k = kinds(&f.audit());
    assert!(k.contains(&MismatchKind::ManifestSegment), "{k:?}");
    std::fs::write(&p, &good).unwrap();

    // The receipt.
    let p = f.batch_file("anchors/ledger.json");
    let good = std::fs::read_to_string(&p).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    v["log_index"] = serde_json::json!(v["log_index"].as_u64().unwrap() + 1);
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    assert!(kinds(&f.audit()).contains(&MismatchKind::Anchor));
    std::fs::write(&p, &good).unwrap();
    assert!(f.audit().passed);

    // An input changed after the plan (copy mode: the batch's copy).
    let input = std::fs::read_dir(f.batch_file("inputs/logistics"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let good = std::fs::read(&input).unwrap();
    let mut bad = good.clone();
    bad[100] ^= 0x55;
    std::fs::write(&input, &bad).unwrap();
    let a = f.audit();
    let k = kinds(&a);
    assert!(k.contains(&MismatchKind::InputChanged), "{k:?}");
    assert!(a.recomputed_root.is_none());
    std::fs::write(&input, &good).unwrap();
    assert!(f.audit().passed);
}

/// The stored input copy of the batch's `kind` file.
fn input_copy(f: &Fixture, kind: &str) -> PathBuf {
    std::fs::read_dir(f.batch_file(&format!("inputs/{kind}")))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
}

/// What no segment reads is committed too: a changed byte outside every row group (the
/// file's leading magic), a damaged footer, a damaged or missing manifest are each a
/// difference the audit names (never a pass, never an error of the audit itself), and one
/// input that cannot be recomputed blames no other segment's place in the manifest.
#[test]
fn changes_outside_the_row_groups_and_a_damaged_manifest_are_differences() {
    let f = fixture();
    assert!(f.audit().passed);

    // The leading "PAR1": no row group covers it and the footer does not read it.
    let input = input_copy(&f, "inspection");
    let good = std::fs::read(&input).unwrap();
    let mut bad = good.clone();
    bad[1] ^= 1;
    std::fs::write(&input, &bad).unwrap();
    let a = f.audit();
    assert!(!a.passed);
    let changed: Vec<_> = a
        .mismatches
        .iter()
        .filter(|m| m.kind == MismatchKind::InputChanged)
        .collect();
    assert_eq!(changed.len(), 1, "{:#?}", a.mismatches);
    assert!(changed[0].message.contains("digest"), "{:?}", changed[0]);
    assert!(changed[0].file.as_deref().unwrap().ends_with(".parquet"));
    // The rows themselves are intact: every segment was still recomputed and matches.
    assert_eq!(a.segments_checked, a.segments);
    assert_eq!(a.recomputed_root.as_deref(), Some(a.root.as_str()));

    // A damaged footer: the file no longer reads as Parquet, which is the change itself.
    let mut bad = good.clone();
    let at = bad.len() - 12;
    bad[at] ^= 0xff;
    bad[at - 1] ^= 0xff;
    std::fs::write(&input, &bad).unwrap();
    let a = f.audit();
    assert!(!a.passed);
    assert!(kinds(&a).contains(&MismatchKind::InputChanged), "{:#?}", a);
    std::fs::write(&input, &good).unwrap();

    // One segment's rows changed: it is not recomputed, and the segments after it are still
    // compared at the manifest's positions (no first_leaf difference is invented).
    let logistics = input_copy(&f, "logistics");
    let good_logistics = std::fs::read(&logistics).unwrap();
    let mut bad = good_logistics.clone();
    bad[100] ^= 0x55;
    std::fs::write(&logistics, &bad).unwrap();
    let a = f.audit();
    assert!(kinds(&a).contains(&MismatchKind::InputChanged));
    assert!(
        !a.mismatches
            .iter()
            .any(|m| m.kind == MismatchKind::ManifestSegment),
        "{:#?}",
        a.mismatches
    );
    std::fs::write(&logistics, &good_logistics).unwrap();
    assert!(f.audit().passed);

    // manifest.json damaged: not JSON any more. A difference, with the receipts that
    // commit to another manifest.
    let manifest = f.batch_file("manifest.json");
    let good = std::fs::read(&manifest).unwrap();
    let mut bad = good.clone();
    bad[3] ^= 0x20;
    std::fs::write(&manifest, &bad).unwrap();
    let a = f.audit();
    assert!(!a.passed);
    assert_eq!(
        kinds(&a),
        vec![MismatchKind::Manifest, MismatchKind::Anchor]
    );
    assert!(a.mismatches[0].message.contains("not a valid manifest"));

    // Missing while its receipt remains: a difference too.
    std::fs::remove_file(&manifest).unwrap();
    let a = f.audit();
    assert_eq!(
        kinds(&a),
        vec![MismatchKind::Manifest, MismatchKind::Anchor]
    );
    assert!(a.mismatches[0].message.contains("missing"));
    std::fs::write(&manifest, &good).unwrap();
    assert!(f.audit().passed);

    // plan.json damaged (not JSON), or removed: a difference of the stored batch (never an
    // error of the audit, nor "no such batch"), with the receipts still checked.
    let plan = f.batch_file("plan.json");
    let good_plan = std::fs::read(&plan).unwrap();
    for damaged in [Some(&b"{"[..]), None] {
        match damaged {
            Some(bytes) => std::fs::write(&plan, bytes).unwrap(),
            None => std::fs::remove_file(&plan).unwrap(),
        }
        let a = f.audit();
        assert!(!a.passed);
        assert_eq!(kinds(&a), vec![MismatchKind::Plan], "{:#?}", a.mismatches);
        let said = if damaged.is_some() {
            "is not a valid plan"
        } else {
            "is missing"
        };
        assert!(
            a.mismatches.iter().any(|m| m.message.contains(said)),
            "{:#?}",
            a.mismatches
        );
        assert!(a.errors.is_empty(), "{:?}", a.errors);
        assert!(a.anchors.anchors["ledger"].trusted);
        assert!(!a.root.is_empty(), "the manifest's root is still reported");
    }
    std::fs::write(&plan, &good_plan).unwrap();
    assert!(f.audit().passed);

    // A chain required by name whose receipt is not in the store: a difference, whatever
    // the other anchors (the ledger's is trusted here).
    let opts = AuditOptions {
        trust: f.opts().trust.with_required_chain("local"),
        ..AuditOptions::default()
    };
    let a = rt()
        .block_on(audit_batch(&f.store(), BATCH, &opts, &|_| {}))
        .unwrap();
    assert!(!a.passed);
    assert_eq!(kinds(&a), vec![MismatchKind::Anchor], "{:#?}", a.mismatches);
    assert!(
        a.mismatches[0]
            .message
            .contains("no receipt of chain local"),
        "{:?}",
        a.mismatches[0]
    );
    let opts = AuditOptions {
        trust: f.opts().trust.with_required_chain("ledger"),
        ..AuditOptions::default()
    };
    let a = rt()
        .block_on(audit_batch(&f.store(), BATCH, &opts, &|_| {}))
        .unwrap();
    assert!(a.passed, "{:#?}", a.mismatches);

    // A batch the store does not hold at all is not a difference but "not committed".
    let err = rt()
        .block_on(audit_batch(&f.store(), "no-such-batch", &f.opts(), &|_| {}))
        .unwrap_err();
    assert!(matches!(
        err,
        proofmark_verifier::audit::AuditError::NotCommitted(_)
    ));
}
