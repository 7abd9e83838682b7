//! Record checks: subject, canonical re-encoding, leaf hash, batch proof, leaf index.

use super::*;

pub(super) fn check_subject_keys(report: &CodeReport) -> CheckStatus {
    for s in &report.subjects {
        let ty = match s.subject_type.as_str() {
            "item" => SubjectType::Item,
            "lot" => SubjectType::Lot,
            other => return CheckStatus::failed(format!("unknown subject type {other:?}")),
        };
        let key = subject_key(ty, &s.id);
        if hex::encode(key.as_ref()) != s.key {
            return CheckStatus::failed(format!(
                "subject {} {:?} has key {}, its key is {}",
                s.subject_type,
                s.id,
                s.key,
                hex::encode(key.as_ref())
            ));
        }
    }
    CheckStatus::passed()
}

/// Re-encodes every record (SPEC.md section 3) with the schemas crate,
/// building one Arrow batch per kind; a record that cannot be built gets its
/// own error.
pub(super) fn reencode_records<'a>(
    records: impl Iterator<Item = &'a RecordEntry>,
) -> Vec<Result<Vec<u8>, String>> {
    let records: Vec<&RecordEntry> = records.collect();
    let mut out: Vec<Result<Vec<u8>, String>> = vec![Err("not encoded".to_owned()); records.len()];
    let mut by_kind: BTreeMap<u8, (Kind, Vec<usize>)> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        match r.kind.parse::<Kind>() {
            Ok(kind) => by_kind
                .entry(kind.code())
                .or_insert((kind, Vec::new()))
                .1
                .push(i),
            Err(e) => out[i] = Err(e.to_string()),
        }
    }
    for (kind, positions) in by_kind.into_values() {
        let values: Vec<Value> = positions
            .iter()
            .map(|&i| Value::Object(records[i].record.clone()))
            .collect();
        match encode_values(kind, &values) {
            Ok(encoded) => {
                for (&i, bytes) in positions.iter().zip(encoded) {
                    out[i] = Ok(bytes);
                }
            }
            // One bad record spoils the batch: redo them one by one to say which.
            Err(_) if positions.len() > 1 => {
                for (&i, v) in positions.iter().zip(&values) {
                    out[i] = encode_values(kind, std::slice::from_ref(v))
                        .and_then(|mut e| e.pop().ok_or_else(|| "no row encoded".to_owned()));
                }
            }
            Err(e) => {
                for &i in &positions {
                    out[i] = Err(e.clone());
                }
            }
        }
    }
    out
}

/// The canonical encodings of `values`, records of `kind` in the JSON form of
/// SPEC.md section 10.
pub(super) fn encode_values(kind: Kind, values: &[Value]) -> Result<Vec<Vec<u8>>, String> {
    let batch = batch_from_json(kind, values).map_err(|e| e.to_string())?;
    let view = RecordView::try_new(kind, &batch).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(values.len());
    for row in 0..values.len() {
        let mut buf = Vec::new();
        encode_row(&view, row, &mut buf);
        out.push(buf);
    }
    Ok(out)
}

pub(super) fn verify_record(
    report: &CodeReport,
    position: usize,
    entry: &RecordEntry,
    encoded: Result<Vec<u8>, String>,
    batch: Option<(&BatchInfo, &Result<ParsedBatch, String>)>,
) -> RecordVerdict {
    let mut checks = Vec::with_capacity(6);
    checks.push(Check::new(CheckKind::Subject, check_subject(report, entry)));
    let org = entry.record.get("org_id").and_then(Value::as_str);
    checks.push(Check::new(
        CheckKind::ProvidedBy,
        if org == Some(entry.source.provided_by.as_str()) {
            CheckStatus::passed()
        } else {
            CheckStatus::failed(format!(
                "provided by {:?}, but the record's org_id is {org:?}",
                entry.source.provided_by
            ))
        },
    ));

    let batch = match batch {
        None => {
            checks.push(Check::new(
                CheckKind::BatchKnown,
                CheckStatus::failed(format!(
                    "batch {:?} is not described in the report",
                    entry.batch_id
                )),
            ));
            None
        }
        Some((_, Err(e))) => {
            checks.push(Check::new(
                CheckKind::BatchKnown,
                CheckStatus::failed(format!("batch {:?} is malformed: {e}", entry.batch_id)),
            ));
            None
        }
        Some((info, Ok(p))) => {
            checks.push(Check::new(CheckKind::BatchKnown, CheckStatus::passed()));
            Some((info, p))
        }
    };

    // Canonical bytes: the values must re-encode to exactly what is given.
    let canonical_ok = match &encoded {
        Err(e) => {
            checks.push(Check::new(
                CheckKind::Canonical,
                CheckStatus::failed(format!("the record cannot be encoded: {e}")),
            ));
            false
        }
        Ok(bytes) => {
            let status = if hex_equals(bytes, &entry.canonical) {
                CheckStatus::passed()
            } else {
                CheckStatus::failed(
                    "the record's values do not encode to the canonical bytes given",
                )
            };
            let ok = status.is_passed();
            checks.push(Check::new(CheckKind::Canonical, status));
            ok
        }
    };

    if let Some((info, p)) = batch {
        // Leaf hash of the re-encoded bytes (equal to `canonical` when that check passed).
        let leaf = match (&encoded, canonical_ok) {
            (Ok(bytes), true) => {
                let leaf = p.suite.hash_leaf(bytes);
                if hex_equals(&leaf, &entry.leaf_hash) {
                    checks.push(Check::new(CheckKind::LeafHash, CheckStatus::passed()));
                    Some(leaf)
                } else {
                    checks.push(Check::new(
                        CheckKind::LeafHash,
                        CheckStatus::failed(format!(
                            "the canonical bytes hash to {} with {}, not {}",
                            hex::encode(leaf),
                            p.suite,
                            entry.leaf_hash
                        )),
                    ));
                    None
                }
            }
            _ => {
                checks.push(Check::new(
                    CheckKind::LeafHash,
                    CheckStatus::failed("no canonical bytes to hash"),
                ));
                None
            }
        };
        match check_proof(entry, info, p) {
            Ok(proof) => {
                let status = match leaf {
                    None => CheckStatus::failed("no verified leaf hash to prove"),
                    Some(leaf) => match verify_leaf_proof(p.suite, &leaf, &proof, &p.root) {
                        Ok(()) => CheckStatus::passed(),
                        Err(e) => CheckStatus::failed(format!("the proof does not verify: {e}")),
                    },
                };
                checks.push(Check::new(CheckKind::Proof, status));
                checks.push(Check::new(
                    CheckKind::LeafIndex,
                    check_leaf_index(entry.leaf_index, info.leaf_count, &proof),
                ));
            }
            Err(reason) => {
                checks.push(Check::new(CheckKind::Proof, CheckStatus::failed(reason)));
            }
        }
    }

    let passed = checks.iter().all(|c| c.status.is_passed())
        && checks.iter().any(|c| c.check == CheckKind::Proof);
    RecordVerdict {
        position,
        record_id: entry
            .record
            .get("record_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        batch_id: entry.batch_id.clone(),
        leaf_index: entry.leaf_index,
        passed,
        checks,
    }
}

/// Decodes the record's proof strictly and checks it is a batch proof of the
/// batch's suite.
pub(super) fn check_proof(
    entry: &RecordEntry,
    info: &BatchInfo,
    p: &ParsedBatch,
) -> Result<BatchProof, String> {
    // The strict decoder of SPEC.md 7.5, straight from the parsed value.
    let envelope = <ProofEnvelope as serde::Deserialize>::deserialize(&entry.proof)
        .map_err(|e| format!("the proof does not decode: {e}"))?;
    let proof = envelope
        .expect_suite(p.suite)
        .map_err(|e| format!("{e} (the batch's suite is {})", info.suite))?;
    match proof {
        Proof::Batch(b) => Ok(b.clone()),
        other => Err(format!(
            "a {} proof, not a batch proof",
            other.kind().name()
        )),
    }
}

/// What the global leaf index can be checked against without the segment
/// offsets: it lies in the batch, it is at least the index in the segment,
/// the first non-empty segment starts at leaf 0 and the last ends at the
/// batch's leaf count.
pub(super) fn check_leaf_index(
    leaf_index: u64,
    leaf_count: u64,
    proof: &BatchProof,
) -> CheckStatus {
    let seg = &proof.segment;
    if leaf_index >= leaf_count {
        return CheckStatus::failed(format!(
            "leaf index {leaf_index} is not below the batch's {leaf_count} leaves"
        ));
    }
    let Some(first) = leaf_index.checked_sub(seg.index) else {
        return CheckStatus::failed(format!(
            "leaf index {leaf_index} is below the index {} in its segment",
            seg.index
        ));
    };
    let Some(end) = first
        .checked_add(seg.tree_size)
        .filter(|&end| end <= leaf_count)
    else {
        return CheckStatus::failed(format!(
            "a segment of {} leaves starting at leaf {first} does not fit in {leaf_count} leaves",
            seg.tree_size
        ));
    };
    if proof.upper.index == 0 && first != 0 {
        return CheckStatus::failed(format!(
            "the first segment starts at leaf 0, but leaf index {leaf_index} puts it at {first}"
        ));
    }
    if proof.upper.index.checked_add(1) == Some(proof.upper.tree_size) && end != leaf_count {
        return CheckStatus::failed(format!(
            "the last segment ends at leaf {leaf_count}, but leaf index {leaf_index} ends it at {end}"
        ));
    }
    if proof.upper.tree_size == 1 && seg.tree_size != leaf_count {
        return CheckStatus::failed(format!(
            "a one-segment batch of {leaf_count} leaves with a segment of {}",
            seg.tree_size
        ));
    }
    CheckStatus::passed()
}

/// The record must be about the report's code: under `item` its `code` is
/// the code; under `lot` its `lot_id` is a lot subject of the report.
pub(super) fn check_subject(report: &CodeReport, entry: &RecordEntry) -> CheckStatus {
    let field = |name: &str| entry.record.get(name).and_then(Value::as_str);
    match entry.subject.as_str() {
        "item" => {
            if field("code") == Some(report.code.as_str()) {
                CheckStatus::passed()
            } else {
                CheckStatus::failed(format!(
                    "found as the item but its code is {:?}, not {:?}",
                    field("code"),
                    report.code
                ))
            }
        }
        "lot" => {
            let lot = field("lot_id");
            let listed = report
                .subjects
                .iter()
                .any(|s| s.subject_type == "lot" && Some(s.id.as_str()) == lot);
            if listed {
                CheckStatus::passed()
            } else {
                CheckStatus::failed(format!(
                    "found by lot but its lot {lot:?} is not a subject of the report"
                ))
            }
        }
        other => CheckStatus::failed(format!("unknown subject {other:?}")),
    }
}
