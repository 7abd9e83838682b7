//! Batch and anchor checks: receipts' commitments, ledger inclusion and signature, chain checks.

use super::*;

pub(super) fn verify_batch(
    batch_id: &str,
    info: &BatchInfo,
    parse_error: Option<&String>,
    trust: &Trust,
) -> BatchVerdict {
    let mut checks = Vec::new();
    checks.push(Check::new(
        CheckKind::BatchFields,
        match parse_error {
            Some(e) => CheckStatus::failed(e.clone()),
            None => CheckStatus::passed(),
        },
    ));
    let anchored = AnchoredBatch {
        batch_id,
        suite: &info.suite,
        root: &info.root,
        leaf_count: info.leaf_count,
        manifest_digest: &info.manifest_digest,
    };
    let mut anchors = BTreeMap::new();
    for (chain, receipt) in &info.anchors {
        anchors.insert(
            chain.clone(),
            verify_anchor(chain, receipt, &anchored, trust),
        );
    }
    // A chain the verifier requires must hold a receipt of its own kind that verified: one
    // that is gone (or was never made) is a failure of the batch, not a receipt merely
    // absent from the walk above; so is one of the other kind filed under its name (a
    // ledger receipt copied under an evm chain's name verifies with the ledger key, and an
    // evm receipt under a ledger chain's name is only "not checked"), or one not verified.
    for chain in &trust.required_chains {
        if let Some(reason) = required_receipt_failure(chain, anchors.get(chain), trust) {
            checks.push(Check::new(CheckKind::Receipt, CheckStatus::failed(reason)));
        }
    }
    if trust.require_chain
        && let Some(reason) = chain_receipt_failure(&anchors, trust)
    {
        checks.push(Check::new(CheckKind::Receipt, CheckStatus::failed(reason)));
    }
    let any_trusted = anchors.values().any(|a| a.trusted);
    checks.push(Check::new(
        CheckKind::Anchored,
        if any_trusted {
            CheckStatus::passed()
        } else {
            let reason = unanchored_reason(&anchors);
            if trust.require_anchor {
                CheckStatus::failed(reason)
            } else {
                CheckStatus::NotChecked { reason }
            }
        },
    ));
    let no_failure = checks
        .iter()
        .chain(anchors.values().flat_map(|a| &a.checks))
        .all(|c| !c.status.is_failed_or_error());
    BatchVerdict {
        passed: no_failure && parse_error.is_none() && (any_trusted || !trust.require_anchor),
        checks,
        anchors,
    }
}

/// Why the receipt of `chain`, a chain the verifier requires, does not do: `None` when it is
/// there, of the kind the verifier checks that chain with (a chain to read, else a ledger
/// key), and verified, or when its own checks already fail the batch or could not be made.
fn required_receipt_failure(
    chain: &str,
    anchor: Option<&AnchorVerdict>,
    trust: &Trust,
) -> Option<String> {
    let Some(anchor) = anchor else {
        return Some(format!(
            "no receipt of chain {chain} (a chain whose receipt must verify)"
        ));
    };
    let (kind, described) = if trust.chain_checks.contains_key(chain) {
        ("chain", "a chain that is read (evm)")
    } else {
        ("ledger", "a batch log (ledger)")
    };
    if anchor.receipt_type != kind {
        return Some(format!(
            "the receipt under chain {chain} is a {} receipt, but {chain} is {described}",
            anchor.receipt_type
        ));
    }
    // A receipt checked and found wrong fails the batch by its own check, and one whose
    // check could not be made is an error of the audit (the chain could not be read), not a
    // difference: only one that was not checked at all is this requirement's failure.
    let failed_or_error = anchor.checks.iter().any(|c| c.status.is_failed_or_error());
    if anchor.trusted || failed_or_error {
        return None;
    }
    let why = anchor
        .checks
        .iter()
        .find_map(|c| match &c.status {
            CheckStatus::NotChecked { reason } => Some(format!("{}: {reason}", c.check)),
            _ => None,
        })
        .unwrap_or_else(|| "not verified".to_owned());
    Some(format!(
        "the receipt of chain {chain}, a chain whose receipt must verify, was not checked ({why})"
    ))
}

/// Why no receipt of a batch was verified on a chain the verifier reads, when it requires one
/// ([`Trust::with_require_chain`]): `None` when one was, or when one was checked and found
/// wrong or could not be checked (those fail the batch, or make it an error, by their own
/// checks).
fn chain_receipt_failure(
    anchors: &BTreeMap<String, AnchorVerdict>,
    trust: &Trust,
) -> Option<String> {
    let read: Vec<(&String, &AnchorVerdict)> = anchors
        .iter()
        .filter(|(chain, a)| a.receipt_type == "chain" && trust.chain_checks.contains_key(*chain))
        .collect();
    let settled = read
        .iter()
        .any(|(_, a)| a.trusted || a.checks.iter().any(|c| c.status.is_failed_or_error()));
    if settled {
        return None;
    }
    let why: Vec<String> = read
        .iter()
        .filter_map(|(chain, a)| {
            a.checks.iter().find_map(|c| match &c.status {
                CheckStatus::NotChecked { reason } => Some(format!("{chain}: {reason}")),
                _ => None,
            })
        })
        .collect();
    Some(if why.is_empty() {
        "no receipt of the batch is of a chain the verifier was given to read, which it \
         requires"
            .to_owned()
    } else {
        format!(
            "no receipt of the batch was verified on a chain the verifier was given to read, \
             which it requires ({})",
            why.join("; ")
        )
    })
}

/// Why no anchor of a batch is trusted: it has none; or some receipt failed a check (named
/// with its first failure: a receipt checked and found wrong is not "unchecked"); or a check
/// could not be made; or none could be checked against a trusted key or chain.
fn unanchored_reason(anchors: &BTreeMap<String, AnchorVerdict>) -> String {
    if anchors.is_empty() {
        return "the batch has no anchor receipt".into();
    }
    let first = |errors: bool| -> Vec<String> {
        anchors
            .iter()
            .filter_map(|(chain, a)| {
                a.checks
                    .iter()
                    .filter(|c| matches!(c.status, CheckStatus::Error { .. }) == errors)
                    .find_map(|c| c.failure(chain))
            })
            .collect()
    };
    let failed = first(false);
    if !failed.is_empty() {
        return format!(
            "no anchor of the batch verified: its receipt was checked and found wrong ({})",
            failed.join("; ")
        );
    }
    let errors = first(true);
    if !errors.is_empty() {
        return format!(
            "no anchor of the batch verified: a check of its receipt could not be made ({})",
            errors.join("; ")
        );
    }
    // Why each receipt was not checked, when a chain was given that could not check it.
    let not_checked: Vec<String> = anchors
        .iter()
        .filter_map(|(chain, a)| {
            a.checks.iter().find_map(|c| match &c.status {
                CheckStatus::NotChecked { reason } if reason != NO_CHAIN_GIVEN => {
                    Some(format!("{chain}: {reason}"))
                }
                _ => None,
            })
        })
        .collect();
    if !not_checked.is_empty() {
        return format!(
            "no anchor of the batch was checked against a trusted key or chain ({}); give a \
             ledger verifier key or a chain to read that holds it",
            not_checked.join("; ")
        );
    }
    "no anchor of the batch was checked against a trusted key or chain (give a ledger \
     verifier key or a chain to read)"
        .into()
}

/// Why a chain receipt is not checked when no chain to read its chain was given.
const NO_CHAIN_GIVEN: &str = "no node and contract of its chain to read were given";

/// A receipt of the `ledger` kind has no `type` field (SPEC 9.3; an EVM
/// receipt's is `"evm"`, 9.4): the kind is read from the receipt, not from
/// the chain's name, which is whatever the chains file calls it.
pub(super) fn is_ledger_receipt(receipt: &Value) -> bool {
    receipt.get("type").is_none()
}

/// Compares the commitment fields of a receipt with the batch's (SPEC.md 11.2, step 3): every
/// receipt, of any kind, names the batch and commits to its root, leaf count, manifest digest
/// and suite; a receipt that lacks one of them commits to less than the batch and fails.
pub(super) fn check_commitment(
    chain: &str,
    receipt: &Value,
    batch: &AnchoredBatch<'_>,
) -> CheckStatus {
    let Some(obj) = receipt.as_object() else {
        return CheckStatus::failed("the receipt is not a JSON object");
    };
    let text_fields = [
        ("batch_id", batch.batch_id),
        ("root", batch.root),
        ("manifest_digest", batch.manifest_digest),
        ("suite", batch.suite),
    ];
    for (name, expected) in text_fields {
        match obj.get(name) {
            None => return CheckStatus::failed(format!("the receipt names no {name}")),
            Some(v) if v.as_str() != Some(expected) => {
                return CheckStatus::failed(format!(
                    "the receipt anchors {name} {v}, the report's batch says {expected:?}"
                ));
            }
            Some(_) => {}
        }
    }
    match obj.get("leaf_count") {
        None => return CheckStatus::failed("the receipt names no leaf_count"),
        Some(v) if v.as_u64() != Some(batch.leaf_count) => {
            return CheckStatus::failed(format!(
                "the receipt anchors leaf_count {v}, the report's batch says {}",
                batch.leaf_count
            ));
        }
        Some(_) => {}
    }
    if let Some(v) = obj.get("chain")
        && v.as_str() != Some(chain)
        && is_ledger_receipt(receipt)
    {
        return CheckStatus::failed(format!(
            "the receipt is for chain {v}, but the report lists it under {chain:?}"
        ));
    }
    CheckStatus::passed()
}

pub(super) fn verify_anchor(
    chain: &str,
    receipt: &Value,
    batch: &AnchoredBatch<'_>,
    trust: &Trust,
) -> AnchorVerdict {
    let commitment = check_commitment(chain, receipt, batch);
    if is_ledger_receipt(receipt) {
        verify_ledger_anchor(receipt, trust, commitment)
    } else {
        let committed = commitment.is_passed();
        let chain_status = match trust.chain_checks.get(chain) {
            None => match receipt.get("type") {
                Some(Value::String(t)) if t == "evm" => CheckStatus::NotChecked {
                    reason: NO_CHAIN_GIVEN.into(),
                },
                // SPEC.md 9.3 and 9.4 know two kinds: none (ledger) and `evm`.
                other => CheckStatus::NotChecked {
                    reason: format!(
                        "the receipt's type {} is not one this verifier knows (\"evm\", or \
                         none for a ledger receipt)",
                        other.map_or_else(String::new, Value::to_string)
                    ),
                },
            },
            Some(checker) => match checker.check(chain, receipt, batch) {
                Ok(detail) => CheckStatus::Passed {
                    detail: Some(detail),
                },
                Err(ChainCheckError::Mismatch(m)) => CheckStatus::failed(m),
                Err(e @ ChainCheckError::Unavailable(_)) => CheckStatus::Error {
                    reason: e.to_string(),
                },
                // The status says "not checked": the reason is why.
                Err(ChainCheckError::NotApplicable(why)) => CheckStatus::NotChecked { reason: why },
            },
        };
        let trusted = committed && chain_status.is_passed();
        AnchorVerdict {
            receipt_type: "chain".into(),
            trusted,
            checks: vec![
                Check::new(CheckKind::Commitment, commitment),
                Check::new(CheckKind::Chain, chain_status),
            ],
        }
    }
}

pub(super) fn verify_ledger_anchor(
    receipt: &Value,
    trust: &Trust,
    commitment: CheckStatus,
) -> AnchorVerdict {
    let mut checks = vec![Check::new(CheckKind::Commitment, commitment)];
    let parsed: Result<LedgerReceipt, _> = serde_json::from_value(receipt.clone());
    let receipt = match parsed {
        Ok(r) => r,
        Err(e) => {
            checks.push(Check::new(
                CheckKind::Inclusion,
                CheckStatus::failed(format!("the ledger receipt is malformed: {e}")),
            ));
            return AnchorVerdict {
                receipt_type: "ledger".into(),
                trusted: false,
                checks,
            };
        }
    };
    // Inclusion in the checkpoint as written (its signature is checked below).
    let inclusion = check_ledger_inclusion(&receipt);
    checks.push(Check::new(CheckKind::Inclusion, inclusion));

    let receipt_key_name = receipt
        .verifier_key
        .split('+')
        .next()
        .unwrap_or_default()
        .to_owned();
    let origin = receipt.checkpoint.lines().next().unwrap_or_default();
    let candidates: Vec<&VerifierKey> = trust
        .ledger_keys
        .iter()
        .filter(|k| k.name() == origin || k.name() == receipt_key_name)
        .collect();
    let signature = if candidates.is_empty() {
        CheckStatus::NotChecked {
            reason: format!(
                "no trusted verifier key named {origin:?}: the checkpoint's signature is not \
                 checked (the key inside the receipt is not trusted on its own)"
            ),
        }
    } else {
        let mut last_error = String::new();
        let mut ok = None;
        for key in candidates {
            match check_signature(&receipt.checkpoint, origin, key) {
                Ok(size) => {
                    ok = Some((key, size));
                    break;
                }
                Err(e) => last_error = e,
            }
        }
        match ok {
            Some((key, size)) => CheckStatus::Passed {
                detail: Some(format!(
                    "checkpoint of size {size} signed by {}",
                    key.name()
                )),
            },
            None => CheckStatus::failed(last_error),
        }
    };
    checks.push(Check::new(CheckKind::Signature, signature));
    let trusted = checks.iter().all(|c| c.status.is_passed());
    AnchorVerdict {
        receipt_type: "ledger".into(),
        trusted,
        checks,
    }
}

/// The checkpoint note's signature by `key` (SPEC.md 9.2): its origin line is the key's name
/// and the key's signature over its text verifies; the checkpoint's size on success. What the
/// checkpoint commits to (the entry's inclusion at `log_size`) and what the receipt claims
/// (batch, suite, root, counts) are the Inclusion and Commitment checks'; the reasons here are
/// about the note alone, for a report read on its own (no store, no manifest).
fn check_signature(note: &str, origin: &str, key: &VerifierKey) -> Result<u64, String> {
    if origin != key.name() {
        return Err(format!(
            "the checkpoint's origin is {origin:?}, not the trusted key's name {:?}",
            key.name()
        ));
    }
    match Checkpoint::open(note, key) {
        Ok(cp) => Ok(cp.size),
        Err(e @ (NoteError::NotSignedBy { .. } | NoteError::BadSignature(_))) => {
            Err(format!("the checkpoint's signature: {e}"))
        }
        Err(e) => Err(format!("the checkpoint is not a valid signed note: {e}")),
    }
}

/// The receipt's entry against its checkpoint's root, without the signature.
pub(super) fn check_ledger_inclusion(receipt: &LedgerReceipt) -> CheckStatus {
    let Some(split) = receipt.checkpoint.find("\n\n") else {
        return CheckStatus::failed("the checkpoint is not a signed note");
    };
    let cp = match Checkpoint::parse(&receipt.checkpoint[..split + 1]) {
        Ok(cp) => cp,
        Err(e) => return CheckStatus::failed(e.to_string()),
    };
    if cp.size != receipt.log_size {
        return CheckStatus::failed(format!(
            "the receipt's log_size {} differs from its checkpoint's size {}",
            receipt.log_size, cp.size
        ));
    }
    if receipt
        .inclusion_proof
        .iter()
        .any(|h| parse_hex_hash(h).is_none())
    {
        return CheckStatus::failed("an inclusion proof hash is not 64 lowercase hex digits");
    }
    let log_receipt = receipt.to_log_receipt();
    // Cannot fail once every hash is 64 hex digits; the log's error speaks of a store.
    let Ok(proof) = log_receipt.proof() else {
        return CheckStatus::failed("the inclusion proof is malformed");
    };
    match verify_inclusion::<Sha256Rfc6962>(
        &log_receipt.entry.leaf_hash(),
        proof.index,
        cp.size,
        &proof.hashes,
        &cp.root,
    ) {
        Ok(()) => CheckStatus::Passed {
            detail: Some(format!(
                "entry {} of a log of {}",
                receipt.log_index, receipt.log_size
            )),
        },
        Err(e) => CheckStatus::failed(format!("the entry is not in the checkpoint: {e}")),
    }
}
