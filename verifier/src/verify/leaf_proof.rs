//! Single leaf proofs with their root: what `proofmark verify` accepts besides a code report.

use super::*;

/// The `format` of a [`LeafProofDocument`].
pub const LEAF_PROOF_FORMAT: &str = "proofmark-leaf-proof/1";

/// A single leaf's proof with the root it leads to: what `proofmark verify`
/// accepts besides a code report, for a leaf whose record is not at hand
/// (e.g. the output of a store's `prove_leaf`).
#[derive(Debug, Clone, PartialEq, serde::Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LeafProofDocument {
    /// Always [`LEAF_PROOF_FORMAT`].
    pub format: String,
    /// The batch.
    pub batch_id: String,
    /// The batch's suite name.
    pub suite: String,
    /// The leaf hash, hex.
    pub leaf_hash: String,
    /// The leaf's global index in the batch.
    pub leaf_index: u64,
    /// The batch root, hex.
    pub root: String,
    /// Leaves in the batch.
    pub leaf_count: u64,
    /// `blake3:` + hex of the batch's manifest.
    pub manifest_digest: String,
    /// Anchor receipts of the batch, by chain name (may be empty).
    #[serde(default)]
    pub anchors: BTreeMap<String, Value>,
    /// The batch proof (SPEC.md 7.4) in the JSON proof encoding.
    pub proof: Value,
}

/// Verifies a [`LeafProofDocument`]: the proof leads from the leaf hash to
/// the root, and the anchors as in [`verify_report`]. The verdict has one
/// record (without record checks: there is no record) and one batch.
pub fn verify_leaf_document(doc: &LeafProofDocument, trust: &Trust) -> ReportVerdict {
    let info = BatchInfo {
        suite: doc.suite.clone(),
        root: doc.root.clone(),
        leaf_count: doc.leaf_count,
        manifest_digest: doc.manifest_digest.clone(),
        batch_date: String::new(),
        anchors: doc.anchors.clone(),
    };
    let checks = vec![Check::new(
        CheckKind::Format,
        if doc.format == LEAF_PROOF_FORMAT {
            CheckStatus::passed()
        } else {
            CheckStatus::failed(format!(
                "format {:?}, expected {LEAF_PROOF_FORMAT:?}",
                doc.format
            ))
        },
    )];
    let parsed = parse_batch(&info);
    let batch = verify_batch(&doc.batch_id, &info, parsed.as_ref().err(), trust);
    let mut record_checks = Vec::new();
    match &parsed {
        Err(e) => record_checks.push(Check::new(
            CheckKind::BatchKnown,
            CheckStatus::failed(e.clone()),
        )),
        Ok(p) => {
            let leaf = parse_hex_hash(&doc.leaf_hash);
            let envelope = ProofEnvelope::from_json(&doc.proof.to_string())
                .map_err(|e| format!("the proof does not decode: {e}"));
            match (leaf, envelope) {
                (None, _) => record_checks.push(Check::new(
                    CheckKind::LeafHash,
                    CheckStatus::failed("the leaf hash is not 64 lowercase hex digits"),
                )),
                (_, Err(e)) => {
                    record_checks.push(Check::new(CheckKind::Proof, CheckStatus::failed(e)))
                }
                (Some(leaf), Ok(env)) => match env.expect_suite(p.suite) {
                    Err(e) => record_checks.push(Check::new(
                        CheckKind::Proof,
                        CheckStatus::failed(e.to_string()),
                    )),
                    Ok(Proof::Batch(b)) => {
                        record_checks.push(Check::new(
                            CheckKind::Proof,
                            match verify_leaf_proof(p.suite, &leaf, b, &p.root) {
                                Ok(()) => CheckStatus::passed(),
                                Err(e) => {
                                    CheckStatus::failed(format!("the proof does not verify: {e}"))
                                }
                            },
                        ));
                        record_checks.push(Check::new(
                            CheckKind::LeafIndex,
                            check_leaf_index(doc.leaf_index, doc.leaf_count, b),
                        ));
                    }
                    Ok(other) => record_checks.push(Check::new(
                        CheckKind::Proof,
                        CheckStatus::failed(format!(
                            "a {} proof, not a batch proof",
                            other.kind().name()
                        )),
                    )),
                },
            }
        }
    }
    let passed = record_checks.iter().all(|c| c.status.is_passed());
    let record = RecordVerdict {
        position: 0,
        record_id: None,
        batch_id: doc.batch_id.clone(),
        leaf_index: doc.leaf_index,
        passed,
        checks: record_checks,
    };
    let mut batches = BTreeMap::new();
    batches.insert(doc.batch_id.clone(), Arc::new(batch));
    // There is no record: a reason names the leaf.
    finish_verdict(doc.batch_id.clone(), checks, vec![record], batches, &|r| {
        format!("leaf {} of batch {}", r.leaf_index, r.batch_id)
    })
}
