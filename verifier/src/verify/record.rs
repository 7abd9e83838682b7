//! Record checks: subject, canonical re-encoding, leaf hash, batch proof, leaf index.

use std::collections::HashSet;

use super::*;

/// The report's subjects (SPEC.md 11.2, step 1): the first is the item of the report's code,
/// every other a lot that some record of the item binds it to (its `production` records, and
/// its `logistics` records of event `labelled`), and every key is its subject's.
/// Each subject once; each record once, in the order of SPEC.md 11.1: by `record.event_time`
/// (a missing or null one first), then `batch_id` (byte order), then `leaf_index`, strictly
/// ascending (the placement rule, [`check_placement`], makes sure no leaf is listed twice). The
/// batches are exactly those of the records.
pub(super) fn check_listing(report: &CodeReport) -> CheckStatus {
    // A scan when the subjects are few (as in a real report), a hash set when many, so that
    // neither the common case allocates nor a made-up report costs quadratic time.
    let subjects = &report.subjects;
    let repeated = if subjects.len() <= SCANNED {
        subjects
            .iter()
            .enumerate()
            .find(|(i, s)| {
                subjects[..*i]
                    .iter()
                    .any(|t| t.subject_type == s.subject_type && t.id == s.id)
            })
            .map(|(_, s)| s)
    } else {
        let mut seen = HashSet::with_capacity(subjects.len());
        subjects
            .iter()
            .find(|s| !seen.insert((s.subject_type.as_str(), s.id.as_str())))
    };
    if let Some(s) = repeated {
        return CheckStatus::failed(format!(
            "subject {} {:?} is listed twice",
            s.subject_type, s.id
        ));
    }
    fn key(r: &crate::report::RecordEntry) -> (i64, &[u8], u64) {
        let time = r
            .record
            .get("event_time")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(i64::MIN);
        (time, r.batch_id.as_bytes(), r.leaf_index)
    }
    for (i, pair) in report.records.windows(2).enumerate() {
        let (a, b) = (key(&pair[0]), key(&pair[1]));
        if a.1 == b.1 && a.2 == b.2 {
            return CheckStatus::failed(format!(
                "records {i} and {} are both leaf {} of batch {:?}: a record is listed once",
                i + 1,
                pair[1].leaf_index,
                pair[1].batch_id
            ));
        }
        if a >= b {
            return CheckStatus::failed(format!(
                "record {} is listed before record {}, against the order of SPEC.md 11.1 \
                 (event_time, batch_id, leaf_index)",
                i,
                i + 1
            ));
        }
    }
    let held: Option<HashSet<&str>> = (report.records.len() > SCANNED_RECORDS)
        .then(|| report.records.iter().map(|r| r.batch_id.as_str()).collect());
    let holds_a_record = |id: &str| match &held {
        Some(held) => held.contains(id),
        None => report.records.iter().any(|r| r.batch_id == id),
    };
    if let Some(extra) = report.batches.keys().find(|id| !holds_a_record(id)) {
        return CheckStatus::failed(format!(
            "batch {extra:?} is described but holds no record of the report: the batches are \
             exactly those of the records"
        ));
    }
    CheckStatus::passed()
}

pub(super) fn check_subject_keys(report: &CodeReport) -> CheckStatus {
    match report.subjects.first() {
        Some(first) if first.subject_type == "item" && first.id == report.code => {}
        Some(first) => {
            return CheckStatus::failed(format!(
                "the first subject is {} {:?}, not the item {:?}",
                first.subject_type, first.id, report.code
            ));
        }
        None => return CheckStatus::failed("the report lists no subject"),
    }
    // The lots that the item's records bind it to.
    let binding = report
        .records
        .iter()
        .filter(|r| r.record.get("code").and_then(Value::as_str) == Some(report.code.as_str()))
        .filter_map(bound_lot);
    let bound: Option<HashSet<&str>> =
        (report.records.len() > SCANNED_RECORDS).then(|| binding.clone().collect());
    let is_bound = |lot: &str| match &bound {
        Some(bound) => bound.contains(lot),
        None => binding.clone().any(|b| b == lot),
    };
    for s in &report.subjects[1..] {
        if s.subject_type != "lot" {
            return CheckStatus::failed(format!(
                "subject {} {:?} after the first: only lots may follow the item",
                s.subject_type, s.id
            ));
        }
        if !is_bound(&s.id) {
            return CheckStatus::failed(format!(
                "lot {:?} is a subject but no production or labelled logistics record of the \
                 item binds it",
                s.id
            ));
        }
    }
    // The other way: every lot an item record binds is a subject, or the report hides it
    // (and its own records) while showing the binding.
    let lots = LotSubjects::new(report);
    for r in &report.records {
        if let Some(lot) = bound_lot(r)
            && !lots.contains(lot)
        {
            return CheckStatus::failed(format!(
                "the item's {} record {:?} binds it to lot {lot:?}, which is not a subject: \
                 the report leaves out a bound lot",
                r.kind,
                r.record
                    .get("record_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            ));
        }
    }
    for s in &report.subjects {
        let ty = match s.subject_type.as_str() {
            "item" => SubjectType::Item,
            "lot" => SubjectType::Lot,
            other => return CheckStatus::failed(format!("unknown subject type {other:?}")),
        };
        let key = subject_key(ty, &s.id);
        if !hex_equals(key.as_ref(), &s.key) {
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

/// The ids of a report's lot subjects, to look a lot record's lot up in: a scan of the
/// subjects when they are few (a real report has a lot or two), a hash set when they are many,
/// so that a report made to have many costs time in proportion to its size.
pub(super) enum LotSubjects<'a> {
    /// Few: scanned.
    Few(&'a [SubjectRef]),
    /// Many: hashed.
    Many(HashSet<&'a str>),
}

/// Subjects up to this many are scanned rather than hashed.
const SCANNED: usize = 16;

/// Records up to this many are scanned rather than hashed.
const SCANNED_RECORDS: usize = 64;

impl<'a> LotSubjects<'a> {
    pub(super) fn new(report: &'a CodeReport) -> Self {
        if report.subjects.len() <= SCANNED {
            LotSubjects::Few(&report.subjects)
        } else {
            LotSubjects::Many(
                report
                    .subjects
                    .iter()
                    .filter(|s| s.subject_type == "lot")
                    .map(|s| s.id.as_str())
                    .collect(),
            )
        }
    }

    fn contains(&self, lot: &str) -> bool {
        match self {
            LotSubjects::Few(subjects) => subjects
                .iter()
                .any(|s| s.subject_type == "lot" && s.id == lot),
            LotSubjects::Many(ids) => ids.contains(lot),
        }
    }
}

/// The lot an item record (`subject` `item`) binds the item to: the `lot_id` of a
/// `production` record or of a `logistics` record whose `event_type` is `labelled`.
fn bound_lot(entry: &RecordEntry) -> Option<&str> {
    let field = |name: &str| entry.record.get(name).and_then(Value::as_str);
    let binds = entry.subject == "item"
        && entry
            .kind
            .parse()
            .is_ok_and(|kind| crate::report::binds_lot(kind, field("event_type")));
    if binds { field("lot_id") } else { None }
}

/// The canonical encoding of a record's values (SPEC.md section 3), straight
/// from its JSON form into `buf` (cleared first), or why it has none.
pub(super) fn encode_entry(entry: &RecordEntry, buf: &mut Vec<u8>) -> Result<(), String> {
    buf.clear();
    let kind: Kind = entry.kind.parse().map_err(|e| format!("{e}"))?;
    // `encode_json` refuses unknown columns; as many keys as columns then means every column.
    if entry.record.len() != kind.fields().len() {
        let missing: Vec<&str> = kind
            .fields()
            .iter()
            .map(|f| f.name)
            .filter(|name| !entry.record.contains_key(*name))
            .collect();
        if !missing.is_empty() {
            return Err(format!("the record lacks the {kind} columns {missing:?}"));
        }
    }
    check_lists(kind, &entry.record)?;
    encode_json(kind, &entry.record, buf)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// The lists of a record that can have been committed (SPEC.md 11.2, step 2.1): a text list's
/// items are strings, and an attachment is an object with exactly the keys `uri` and `digest`,
/// both strings. Any other shape still has canonical bytes (section 3 defines them for every
/// record: a null encodes as empty text, other keys are not encoded), but those bytes would
/// not be what the report shows, and a record holding a null item is never committed (the
/// `null_list_item` defect of section 2.4).
fn check_lists(kind: Kind, record: &serde_json::Map<String, Value>) -> Result<(), String> {
    // Only the list columns are looked up (production has two; the other kinds none).
    for spec in kind
        .fields()
        .iter()
        .filter(|f| matches!(f.ty, FieldType::TextList | FieldType::AttachmentList))
    {
        let Some(Value::Array(items)) = record.get(spec.name) else {
            continue;
        };
        let column = spec.name;
        for (i, item) in items.iter().enumerate() {
            match (spec.ty, item) {
                (FieldType::TextList, Value::String(_)) => {}
                (FieldType::TextList, other) => {
                    return Err(format!(
                        "{column} item {i} is {}, not text: no committed record has one",
                        json_type(other)
                    ));
                }
                (FieldType::AttachmentList, Value::Object(obj)) => {
                    if let Some(key) = obj.keys().find(|k| !matches!(k.as_str(), "uri" | "digest"))
                    {
                        return Err(format!(
                            "{column} item {i} has the key {key:?}, which is not part of an \
                             attachment: nothing commits to it"
                        ));
                    }
                    for key in ["uri", "digest"] {
                        match obj.get(key) {
                            Some(Value::String(_)) => {}
                            Some(other) => {
                                return Err(format!(
                                    "{column} item {i}'s {key} is {}, not text: no committed \
                                     record has one",
                                    json_type(other)
                                ));
                            }
                            None => {
                                return Err(format!(
                                    "{column} item {i} has no {key}: an attachment has a uri and \
                                     a digest"
                                ));
                            }
                        }
                    }
                }
                (FieldType::AttachmentList, other) => {
                    return Err(format!(
                        "{column} item {i} is {}, not an attachment object: no committed record \
                         has one",
                        json_type(other)
                    ));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// The JSON type of a value, as a reason names it.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What a record's proof walk needs, once the checks before it are made.
pub(super) enum ProofStep {
    /// The record's batch is missing or malformed: no proof checks.
    NoBatch,
    /// The proof does not decode (or is of another kind or suite): why.
    Undecodable(String),
    /// The decoded proof, to walk from `leaf` (when the leaf hash checked).
    Decoded {
        suite: SuiteId,
        root: Hash,
        leaf_count: u64,
        leaf: Option<Hash>,
        proof: BatchProof,
    },
}

/// A record's checks up to its proof walk.
pub(super) struct PreparedRecord {
    checks: Vec<Check>,
    pub(super) step: ProofStep,
}

impl PreparedRecord {
    /// The walk this record needs: suite, leaf, proof and root.
    pub(super) fn walk(&self) -> Option<(SuiteId, &Hash, &BatchProof, &Hash)> {
        match &self.step {
            ProofStep::Decoded {
                suite,
                root,
                leaf: Some(leaf),
                proof,
                ..
            } => Some((*suite, leaf, proof, root)),
            _ => None,
        }
    }
}

/// The checks of one record before its proof is walked: subject, provider,
/// batch, canonical bytes (re-encoded into `buf`), leaf hash, proof decoding.
///
/// `spare` is a decoded proof whose vectors are reused (see
/// [`finish_record`]).
pub(super) fn prepare_record(
    report: &CodeReport,
    lots: &LotSubjects<'_>,
    entry: &RecordEntry,
    buf: &mut Vec<u8>,
    spare: &mut BatchProof,
    batch: Option<(&BatchInfo, &Result<ParsedBatch, String>)>,
) -> PreparedRecord {
    let mut checks = Vec::with_capacity(7);
    checks.push(Check::new(
        CheckKind::Subject,
        check_subject(report, lots, entry),
    ));
    let org = entry.record.get("org_id").and_then(Value::as_str);
    checks.push(Check::new(
        CheckKind::ProvidedBy,
        if org == Some(entry.source.provided_by.as_str()) {
            CheckStatus::passed()
        } else {
            CheckStatus::failed(format!(
                "provided by {:?}, but the record's org_id is {}",
                entry.source.provided_by,
                org.map_or_else(|| "missing or not text".to_owned(), |o| format!("{o:?}"))
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
    let encoded = encode_entry(entry, buf);
    let canonical_ok = match &encoded {
        Err(e) => {
            checks.push(Check::new(
                CheckKind::Canonical,
                CheckStatus::failed(format!("the record cannot be encoded: {e}")),
            ));
            false
        }
        Ok(()) => {
            let status = if hex_equals(buf, &entry.canonical) {
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

    let Some((info, p)) = batch else {
        return PreparedRecord {
            checks,
            step: ProofStep::NoBatch,
        };
    };
    // Leaf hash of the re-encoded bytes (equal to `canonical` when that check passed).
    let leaf = if canonical_ok {
        let leaf = p.suite.hash_leaf(buf);
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
    } else {
        checks.push(Check::new(
            CheckKind::LeafHash,
            CheckStatus::failed("no canonical bytes to hash"),
        ));
        None
    };
    let step = match check_proof(entry, info, p, spare) {
        Ok(proof) => ProofStep::Decoded {
            suite: p.suite,
            root: p.root,
            leaf_count: info.leaf_count,
            leaf,
            proof,
        },
        Err(reason) => ProofStep::Undecodable(reason),
    };
    PreparedRecord { checks, step }
}

/// The first and last byte of `text` (0 when empty).
fn ends(text: &str) -> u8 {
    let b = text.as_bytes();
    b.first().copied().unwrap_or(0) ^ b.last().copied().unwrap_or(0)
}

/// Reads a byte of every heap block the record's checks read (its strings,
/// its values' keys and strings, the proof's hashes), with no read depending
/// on another: their cache misses overlap instead of coming one after the
/// other when the checks reach them (bulk verification calls it before a
/// record's checks). Changes nothing; the value is only there to keep the
/// reads.
pub(super) fn warm(entry: &RecordEntry) -> u8 {
    let mut acc = ends(&entry.kind) ^ ends(&entry.subject) ^ ends(&entry.leaf_hash);
    acc ^= ends(&entry.batch_id) ^ ends(&entry.source.provided_by);
    for b in entry.canonical.as_bytes().iter().step_by(64) {
        acc ^= b;
    }
    for (k, v) in &entry.record {
        acc ^= ends(k);
        if let Value::String(s) = v {
            acc ^= ends(s);
        }
    }
    if let Value::Object(m) = &entry.proof {
        for (k, v) in m {
            acc ^= ends(k);
            if let Value::Array(list) = v {
                for h in list {
                    if let Value::String(s) = h {
                        acc ^= ends(s);
                    }
                }
            }
        }
    }
    acc
}

/// Where a record's verified proof puts its leaf in its batch (SPEC.md 11.2, the placement
/// rule): leaf `index` of the `size` leaves of segment `segment` of `segment_count`, that
/// segment starting at the global leaf `first` (`leaf_index - index`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Placement {
    segment: u64,
    segment_count: u64,
    index: u64,
    size: u64,
    first: u64,
}

impl Placement {
    /// The placement `proof` gives the leaf `leaf_index`, if the index lies in the batch as the
    /// leaf index rule requires (`leaf_index >= index`).
    pub(super) fn of(leaf_index: u64, proof: &BatchProof) -> Option<Placement> {
        Some(Placement {
            segment: proof.upper.index,
            segment_count: proof.upper.tree_size,
            index: proof.segment.index,
            size: proof.segment.tree_size,
            first: leaf_index.checked_sub(proof.segment.index)?,
        })
    }

    /// One past the segment's last global leaf.
    fn end(&self) -> u64 {
        self.first.saturating_add(self.size)
    }
}

/// The record's verdict from its prepared checks and the outcome of its
/// proof walk (`None` when [`PreparedRecord::walk`] had nothing to walk),
/// with where its proof places its leaf when the proof verified and the leaf
/// index agrees with it (for [`check_placement`]).
/// The decoded proof, if any, is left in `spare` for the next record.
pub(super) fn finish_record(
    position: usize,
    entry: &RecordEntry,
    prepared: PreparedRecord,
    walked: Option<Result<(), VerifyError>>,
    spare: &mut BatchProof,
) -> (RecordVerdict, Option<Placement>) {
    let PreparedRecord { mut checks, step } = prepared;
    let mut placement = None;
    match step {
        ProofStep::NoBatch => {}
        ProofStep::Undecodable(reason) => {
            checks.push(Check::new(CheckKind::Proof, CheckStatus::failed(reason)));
        }
        ProofStep::Decoded {
            leaf_count, proof, ..
        } => {
            let status = match walked {
                None => CheckStatus::failed("no verified leaf hash to prove"),
                Some(Ok(())) => CheckStatus::passed(),
                Some(Err(e)) => CheckStatus::failed(format!("the proof does not verify: {e}")),
            };
            let index = check_leaf_index(entry.leaf_index, leaf_count, &proof);
            if status.is_passed() && index.is_passed() {
                placement = Placement::of(entry.leaf_index, &proof);
            }
            checks.push(Check::new(CheckKind::Proof, status));
            checks.push(Check::new(CheckKind::LeafIndex, index));
            *spare = proof;
        }
    }
    let passed = checks.iter().all(|c| c.status.is_passed())
        && checks.iter().any(|c| c.check == CheckKind::Proof);
    let verdict = RecordVerdict {
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
    };
    (verdict, placement)
}

/// The placement rule (SPEC.md 11.2 step 4), over the records whose proofs verified and whose
/// leaf index agrees with them (`placements`, by position in `records`): in each batch, records
/// of one segment agree on where it starts, its size and the segment count; no two records are
/// the same leaf (segment and index in it); and segments of lower index end before those of
/// higher index start.
pub(super) fn check_placement(
    records: &[RecordVerdict],
    placements: &[Option<Placement>],
) -> CheckStatus {
    let mut placed: Vec<(&str, &Placement, usize)> = records
        .iter()
        .zip(placements)
        .filter_map(|(r, p)| p.as_ref().map(|p| (r.batch_id.as_str(), p, r.position)))
        .collect();
    if placed.len() < 2 {
        return CheckStatus::passed();
    }
    placed.sort_unstable_by_key(|&(batch, p, position)| (batch, p.segment, p.index, position));
    for pair in placed.windows(2) {
        let [(batch, a, i), (other, b, j)] = pair else {
            continue;
        };
        if batch != other {
            continue;
        }
        if a.segment_count != b.segment_count {
            return CheckStatus::failed(format!(
                "records {i} and {j} of batch {batch:?} give it {} and {} segments",
                a.segment_count, b.segment_count
            ));
        }
        if a.segment == b.segment {
            if a.index == b.index {
                return CheckStatus::failed(format!(
                    "records {i} and {j} are both leaf {} of segment {} of batch {batch:?}: a \
                     leaf is listed once",
                    a.index, a.segment
                ));
            }
            if a.first != b.first || a.size != b.size {
                return CheckStatus::failed(format!(
                    "records {i} and {j} are in segment {} of batch {batch:?}, but their \
                     leaf_index values put it at leaves {}..{} and {}..{}",
                    a.segment,
                    a.first,
                    a.end(),
                    b.first,
                    b.end()
                ));
            }
        } else if a.end() > b.first {
            return CheckStatus::failed(format!(
                "record {i} puts segment {} of batch {batch:?} at leaves {}..{}, record {j} \
                 puts segment {} at {}..{}: a segment ends before the next one starts",
                a.segment,
                a.first,
                a.end(),
                b.segment,
                b.first,
                b.end()
            ));
        }
    }
    CheckStatus::passed()
}

/// Checks one record alone: [`prepare_record`], the full proof walk, [`finish_record`].
pub(super) fn verify_record(
    report: &CodeReport,
    lots: &LotSubjects<'_>,
    position: usize,
    entry: &RecordEntry,
    buf: &mut Vec<u8>,
    batch: Option<(&BatchInfo, &Result<ParsedBatch, String>)>,
) -> (RecordVerdict, Option<Placement>) {
    let mut spare = proof_json::empty_batch_proof();
    let prepared = prepare_record(report, lots, entry, buf, &mut spare, batch);
    let walked = prepared
        .walk()
        .map(|(suite, leaf, proof, root)| verify_leaf_proof(suite, leaf, proof, root));
    finish_record(position, entry, prepared, walked, &mut spare)
}

/// Decodes the record's proof strictly and checks it is a batch proof of the
/// batch's suite (the plain form decoded into `spare`'s vectors, taken).
pub(super) fn check_proof(
    entry: &RecordEntry,
    info: &BatchInfo,
    p: &ParsedBatch,
    spare: &mut BatchProof,
) -> Result<BatchProof, String> {
    // The plain form, read in place; anything else goes to the strict decoder.
    if proof_json::batch_proof_from_value_into(&entry.proof, p.suite, spare) {
        return Ok(std::mem::replace(spare, proof_json::empty_batch_proof()));
    }
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
/// the code; under `lot` its `code` is null and its `lot_id` is a lot subject of the report.
pub(super) fn check_subject(
    report: &CodeReport,
    lots: &LotSubjects<'_>,
    entry: &RecordEntry,
) -> CheckStatus {
    let field = |name: &str| entry.record.get(name).and_then(Value::as_str);
    match entry.subject.as_str() {
        "item" => {
            if field("code") == Some(report.code.as_str()) {
                CheckStatus::passed()
            } else {
                CheckStatus::failed(match field("code") {
                    Some(code) => format!(
                        "found as the item but its code is {code:?}, not {:?}",
                        report.code
                    ),
                    None => format!(
                        "found as the item but its code is missing or not text, not {:?}",
                        report.code
                    ),
                })
            }
        }
        "lot" => {
            let lot = field("lot_id");
            let listed = lot.is_some_and(|lot| lots.contains(lot));
            let code = entry.record.get("code");
            if !matches!(code, Some(Value::Null)) {
                // The JSON value as written (a quoted text, a number...), or its absence.
                let code = code.map_or_else(|| "(none)".to_owned(), Value::to_string);
                CheckStatus::failed(format!(
                    "found as a record of its lot but it has the code {code}: a lot's own \
                     records have none"
                ))
            } else if listed {
                CheckStatus::passed()
            } else {
                CheckStatus::failed(match lot {
                    Some(lot) => {
                        format!("found by lot but its lot {lot:?} is not a subject of the report")
                    }
                    None => "found by lot but its lot_id is missing or not text".to_owned(),
                })
            }
        }
        other => CheckStatus::failed(format!("unknown subject {other:?}")),
    }
}
