//! Verification of a code report ([`CodeReport`]): everything a holder of the
//! report can check without trusting whoever served it.
//!
//! Per record: the record's values re-encode (SPEC.md section 3) to exactly
//! the `canonical` bytes given, those bytes hash (with the batch's suite,
//! section 5) to the `leaf_hash` given, the batch proof (strictly decoded,
//! section 7.5) leads from that leaf hash to the batch root, and the record is
//! about the code asked for (its item code, or a lot the report binds it to).
//!
//! Per batch: every anchor receipt commits to the batch's id, root, leaf count
//! and manifest digest; `ledger` receipts (SPEC.md 9.3) are checked for the
//! entry's inclusion in their checkpoint and, with a verifier key from
//! [`Trust`], for the checkpoint's signature; receipts of other chains are
//! "not checked against the chain" unless [`Trust`] holds a [`ChainCheck`]
//! for that chain.
//!
//! The verdict is `verified` only if every record check passed, no batch or
//! anchor check failed, and (unless [`Trust::require_anchor`] is off) every
//! batch has at least one anchor that was fully checked against a trusted
//! source: a report that is merely self-consistent is not verified.
//!
//! ```
//! use proofmark_verifier::verify::{Trust, verify_report};
//! # fn check(report: &proofmark_verifier::CodeReport, key: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let trust = Trust::new().with_ledger_key_text(key)?;
//! let verdict = verify_report(report, &trust);
//! if !verdict.verified {
//!     for reason in &verdict.reasons {
//!         eprintln!("not verified: {reason}");
//!     }
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use proofmark_anchor::chain::LedgerReceipt;
use proofmark_anchor::ledger::{Checkpoint, NoteError, VerifierKey};
use proofmark_anchor::verify_leaf_proof;
use proofmark_merkle::{
    BatchProof, Hash, Proof, ProofEnvelope, Sha256Rfc6962, SuiteId, VerifyError, verify_inclusion,
};
use proofmark_schemas::{FieldType, Kind, SubjectType, encode_json, subject_key};
use serde::Serialize;
use serde_json::Value;

use crate::report::{BatchInfo, CODE_REPORT_FORMAT, CodeReport, RecordEntry, SubjectRef};

mod anchor;
mod cached;
mod leaf_proof;
mod memo;
pub(crate) mod proof_json;
mod record;

use anchor::*;
pub use cached::{
    CachedChainCheck, ChainReads, DEFAULT_MAX_ENTRIES, DEFAULT_UNAVAILABLE_TTL,
    MAX_BACKGROUND_READS,
};
pub use leaf_proof::{LEAF_PROOF_FORMAT, LeafProofDocument, verify_leaf_document};
use memo::MemoSet;
use record::*;

/// Something that can check a receipt against the chain it names: reads what
/// the chain holds for the batch and compares it with the batch's root.
pub trait ChainCheck: Send + Sync {
    /// Checks `receipt` (as stored under `anchors/<chain>.json`) of `batch`
    /// against the chain; on success, a one-line description of what was
    /// read (e.g. the transaction and block).
    ///
    /// # Errors
    ///
    /// [`ChainCheckError::Mismatch`] when the chain holds something else (or
    /// nothing), [`ChainCheckError::Unavailable`] when the chain could not be
    /// read, [`ChainCheckError::NotApplicable`] when the chain to read is not the
    /// receipt's.
    fn check(
        &self,
        chain: &str,
        receipt: &Value,
        batch: &AnchoredBatch<'_>,
    ) -> Result<String, ChainCheckError>;
}

/// What a batch commits to, as a [`ChainCheck`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnchoredBatch<'a> {
    /// The batch id.
    pub batch_id: &'a str,
    /// The batch's suite name.
    pub suite: &'a str,
    /// The batch root, lowercase hex.
    pub root: &'a str,
    /// Leaves in the batch.
    pub leaf_count: u64,
    /// `blake3:` + hex of the manifest.
    pub manifest_digest: &'a str,
}

/// Why a [`ChainCheck`] did not pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainCheckError {
    /// The chain holds something other than the receipt claims.
    #[error("the chain does not hold this batch's root: {0}")]
    Mismatch(String),
    /// The chain could not be read (network, RPC error).
    #[error("the chain could not be read: {0}")]
    Unavailable(String),
    /// The check does not apply to this receipt (e.g. the chain given is not the one the
    /// receipt names): the receipt is "not checked", neither verified nor failed.
    #[error("not checked against the chain: {0}")]
    NotApplicable(String),
}

/// What the verifier trusts: keys and chain readers obtained independently of
/// the report.
#[derive(Clone)]
pub struct Trust {
    /// Trusted `ledger` verifier keys (SPEC.md 9.2). A ledger receipt's
    /// signature is checked with the trusted key of the same name; without
    /// one it is "not checked".
    pub ledger_keys: Vec<VerifierKey>,
    /// Chain readers by chain name (the name under `anchors`).
    pub chain_checks: BTreeMap<String, Arc<dyn ChainCheck>>,
    /// Whether every batch needs at least one anchor checked against a
    /// trusted source for the report to be verified (default true).
    pub require_anchor: bool,
    /// Chains every batch must hold a receipt of (by the name under
    /// `anchors`): a batch without one fails its [`CheckKind::Receipt`] check.
    pub required_chains: std::collections::BTreeSet<String>,
    /// Whether every batch needs a receipt verified on a chain the verifier reads
    /// ([`Trust::with_require_chain`]).
    pub require_chain: bool,
}

impl fmt::Debug for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trust")
            .field("ledger_keys", &self.ledger_keys)
            .field(
                "chain_checks",
                &self.chain_checks.keys().collect::<Vec<_>>(),
            )
            .field("require_anchor", &self.require_anchor)
            .field("required_chains", &self.required_chains)
            .field("require_chain", &self.require_chain)
            .finish()
    }
}

impl Default for Trust {
    fn default() -> Self {
        Self::new()
    }
}

impl Trust {
    /// Trusts nothing yet; every batch needs a checked anchor.
    pub fn new() -> Self {
        Trust {
            ledger_keys: Vec::new(),
            chain_checks: BTreeMap::new(),
            require_anchor: true,
            required_chains: std::collections::BTreeSet::new(),
            require_chain: false,
        }
    }

    /// Adds a trusted ledger verifier key.
    pub fn with_ledger_key(mut self, key: VerifierKey) -> Self {
        self.ledger_keys.push(key);
        self
    }

    /// Adds a trusted ledger verifier key given as text
    /// (`name+keyid+base64`, SPEC.md 9.2).
    ///
    /// # Errors
    ///
    /// The [`NoteError`] of a malformed key.
    pub fn with_ledger_key_text(self, key: &str) -> Result<Self, NoteError> {
        Ok(self.with_ledger_key(VerifierKey::parse(key)?))
    }

    /// Checks receipts of chain `name` with `check`.
    pub fn with_chain_check(mut self, name: &str, check: Arc<dyn ChainCheck>) -> Self {
        self.chain_checks.insert(name.to_owned(), check);
        self
    }

    /// Sets whether each batch needs a checked anchor.
    pub fn with_require_anchor(mut self, require: bool) -> Self {
        self.require_anchor = require;
        self
    }

    /// Requires every batch to hold a receipt of chain `name` (the name under
    /// `anchors`), as a regulator who names a chain expects: a batch without one fails
    /// (its receipt was removed, or never made), whatever its other anchors. The
    /// receipt's own checks are those of its kind ([`Trust::with_chain_check`] for a
    /// chain to read, a ledger key for a `ledger` receipt).
    pub fn with_required_chain(mut self, name: &str) -> Self {
        self.required_chains.insert(name.to_owned());
        self
    }

    /// Requires every batch to hold a receipt verified on one of the chains the verifier
    /// reads ([`Trust::with_chain_check`]), as someone who gives a chain to check against
    /// expects: a batch whose receipts are all of other chains, or of none the verifier
    /// reads, fails its [`CheckKind::Receipt`] check, even when a ledger receipt verifies
    /// with a trusted key. A chain receipt checked and found wrong fails by its own check,
    /// and one whose chain could not be read is an error, as without this requirement.
    pub fn with_require_chain(mut self, require: bool) -> Self {
        self.require_chain = require;
        self
    }
}

/// What a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CheckKind {
    /// The report's `format`, and that it holds records.
    Format,
    /// The subjects' keys are those of their ids (SPEC.md 4).
    SubjectKeys,
    /// Each subject and each record is listed once, the records in the order of SPEC.md
    /// 11.1 (`event_time`, then `batch_id`, then `leaf_index`), and `batches` holds exactly
    /// the records' batches.
    Listing,
    /// Across the records of each batch, the proofs place the leaves consistently (SPEC.md
    /// 11.2 step 4): records of one segment agree on where it starts and its size, no two are
    /// the same leaf, and segments follow in the order of their indexes.
    Placement,
    /// The record is about the code: its `code` (item) or a reported lot.
    Subject,
    /// `source.provided_by` is the record's `org_id`.
    ProvidedBy,
    /// The record's batch is described in the report.
    BatchKnown,
    /// The record's values re-encode to `canonical`.
    Canonical,
    /// `canonical` hashes to `leaf_hash` with the batch's suite.
    LeafHash,
    /// The batch proof decodes strictly and leads from the leaf hash to the batch root.
    Proof,
    /// `leaf_index` agrees with the proof and the batch's leaf count.
    LeafIndex,
    /// The batch's own fields are well formed (suite, root, digest).
    BatchFields,
    /// The batch has an anchor checked against a trusted source.
    Anchored,
    /// The batch holds a receipt of a chain the verifier requires
    /// ([`Trust::with_required_chain`]), or one verified on a chain it reads
    /// ([`Trust::with_require_chain`]); made only when it fails.
    Receipt,
    /// A receipt commits to the batch's id, root, leaf count and manifest digest.
    Commitment,
    /// A ledger receipt's entry is included in its checkpoint's tree.
    Inclusion,
    /// A ledger receipt's checkpoint is signed by a trusted key.
    Signature,
    /// The chain itself holds the batch's root.
    Chain,
}

impl CheckKind {
    /// The check's name as the JSON verdict writes it (`provided_by`, `leaf_hash`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Format => "format",
            Self::SubjectKeys => "subject_keys",
            Self::Listing => "listing",
            Self::Placement => "placement",
            Self::Subject => "subject",
            Self::ProvidedBy => "provided_by",
            Self::BatchKnown => "batch_known",
            Self::Canonical => "canonical",
            Self::LeafHash => "leaf_hash",
            Self::Proof => "proof",
            Self::LeafIndex => "leaf_index",
            Self::BatchFields => "batch_fields",
            Self::Anchored => "anchored",
            Self::Receipt => "receipt",
            Self::Commitment => "commitment",
            Self::Inclusion => "inclusion",
            Self::Signature => "signature",
            Self::Chain => "chain",
        }
    }
}

impl fmt::Display for CheckKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the {} check", self.name())
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CheckStatus {
    /// The check passed.
    Passed {
        /// What was checked, when worth saying (e.g. the checkpoint size).
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// The check failed: the report is wrong or was altered.
    Failed {
        /// Why.
        reason: String,
    },
    /// The check was not made (nothing to check it against).
    NotChecked {
        /// Why.
        reason: String,
    },
    /// The check could not be made because something failed (e.g. the chain
    /// could not be read).
    Error {
        /// What failed.
        reason: String,
    },
}

impl CheckStatus {
    fn passed() -> Self {
        CheckStatus::Passed { detail: None }
    }

    fn failed(reason: impl Into<String>) -> Self {
        CheckStatus::Failed {
            reason: reason.into(),
        }
    }

    /// True for [`CheckStatus::Passed`].
    pub fn is_passed(&self) -> bool {
        matches!(self, CheckStatus::Passed { .. })
    }

    /// True for [`CheckStatus::Failed`].
    pub fn is_failed(&self) -> bool {
        matches!(self, CheckStatus::Failed { .. })
    }

    /// True for [`CheckStatus::Failed`] and [`CheckStatus::Error`]: a check that did not
    /// pass and was not merely left unchecked.
    pub fn is_failed_or_error(&self) -> bool {
        matches!(self, CheckStatus::Failed { .. } | CheckStatus::Error { .. })
    }
}

/// One check and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked.
    pub check: CheckKind,
    /// The outcome.
    #[serde(flatten)]
    pub status: CheckStatus,
}

impl Check {
    fn new(check: CheckKind, status: CheckStatus) -> Self {
        Check { check, status }
    }

    /// A sentence for a check that failed or could not be made, naming `whose` check it was;
    /// `None` for one that passed or was not made.
    pub(crate) fn failure(&self, whose: &str) -> Option<String> {
        match &self.status {
            CheckStatus::Failed { reason } => {
                Some(format!("{whose}: {} failed: {reason}", self.check))
            }
            CheckStatus::Error { reason } => Some(format!(
                "{whose}: {} could not be made: {reason}",
                self.check
            )),
            CheckStatus::Passed { .. } | CheckStatus::NotChecked { .. } => None,
        }
    }
}

/// The checks of one record of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordVerdict {
    /// Position of the record in the report's `records`.
    pub position: usize,
    /// The record's `record_id`, if it has a text one.
    pub record_id: Option<String>,
    /// The batch it claims to be in.
    pub batch_id: String,
    /// Its claimed global leaf index.
    pub leaf_index: u64,
    /// Whether every check passed.
    pub passed: bool,
    /// The checks, in the order made.
    pub checks: Vec<Check>,
}

/// The checks of one anchor receipt of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnchorVerdict {
    /// `ledger` for a batch-log receipt, else `chain`.
    pub receipt_type: String,
    /// Whether the anchor was checked against a trusted source and every
    /// check passed.
    pub trusted: bool,
    /// The checks, in the order made.
    pub checks: Vec<Check>,
}

/// The checks of one batch of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchVerdict {
    /// Whether no check failed and (if required) an anchor is trusted.
    pub passed: bool,
    /// The batch's own checks.
    pub checks: Vec<Check>,
    /// The receipts' checks, by chain name.
    pub anchors: BTreeMap<String, AnchorVerdict>,
}

/// The verdict on a whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportVerdict {
    /// The code the report is about.
    pub code: String,
    /// True only if everything needed passed.
    pub verified: bool,
    /// Why the report is not verified (empty when it is).
    pub reasons: Vec<String>,
    /// Report-level checks (format, subjects).
    pub checks: Vec<Check>,
    /// Per record.
    pub records: Vec<RecordVerdict>,
    /// Per batch, by batch id (shared: bulk verification gives every report
    /// of a batch described the same way the same verdict).
    pub batches: BTreeMap<String, Arc<BatchVerdict>>,
}

impl ReportVerdict {
    /// The verdict on a document that says it is a code report but does not
    /// decode as one (SPEC.md 11.1: a missing or unknown field, a wrong type):
    /// not verified, its `Format` check failed with `reason`.
    pub fn malformed(code: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        ReportVerdict {
            code: code.to_owned(),
            verified: false,
            reasons: vec![reason.clone()],
            checks: vec![Check::new(CheckKind::Format, CheckStatus::failed(reason))],
            records: Vec::new(),
            batches: BTreeMap::new(),
        }
    }

    /// Whether any check could not be made because something failed (as
    /// opposed to failing): callers may treat that as an error.
    pub fn has_errors(&self) -> bool {
        let all = self
            .checks
            .iter()
            .chain(self.records.iter().flat_map(|r| &r.checks))
            .chain(self.batches.values().flat_map(|b| {
                b.checks
                    .iter()
                    .chain(b.anchors.values().flat_map(|a| &a.checks))
            }));
        all.into_iter()
            .any(|c| matches!(c.status, CheckStatus::Error { .. }))
    }

    /// Every failed (or errored) check, as `(where, check, reason)`.
    pub fn failures(&self) -> Vec<(String, CheckKind, String)> {
        let mut out = Vec::new();
        let mut push = |place: String, c: &Check| match &c.status {
            CheckStatus::Failed { reason } | CheckStatus::Error { reason } => {
                out.push((place, c.check, reason.clone()));
            }
            _ => {}
        };
        for c in &self.checks {
            push("report".into(), c);
        }
        for r in &self.records {
            for c in &r.checks {
                push(format!("record {}", r.position), c);
            }
        }
        for (id, b) in &self.batches {
            for c in &b.checks {
                push(format!("batch {id}"), c);
            }
            for (chain, a) in &b.anchors {
                for c in &a.checks {
                    push(format!("batch {id} anchor {chain}"), c);
                }
            }
        }
        out
    }
}

/// A batch's fields, parsed.
struct ParsedBatch {
    suite: SuiteId,
    root: Hash,
}

fn parse_hex_hash(text: &str) -> Option<Hash> {
    proof_json::parse_hash(text)
}

/// Whether `text` is exactly the lowercase hex of `bytes` (no allocation).
fn hex_equals(bytes: &[u8], text: &str) -> bool {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    text.len() == bytes.len() * 2
        && bytes
            .iter()
            .zip(text.as_bytes().chunks_exact(2))
            .all(|(b, pair)| {
                pair[0] == DIGITS[usize::from(b >> 4)] && pair[1] == DIGITS[usize::from(b & 15)]
            })
}

fn is_manifest_digest(text: &str) -> bool {
    text.strip_prefix("blake3:")
        .is_some_and(|h| parse_hex_hash(h).is_some())
}

fn parse_batch(info: &BatchInfo) -> Result<ParsedBatch, String> {
    let suite: SuiteId = info
        .suite
        .parse()
        .map_err(|e| format!("suite {:?}: {e}", info.suite))?;
    let root =
        parse_hex_hash(&info.root).ok_or_else(|| format!("root {:?} is not a hash", info.root))?;
    if !is_manifest_digest(&info.manifest_digest) {
        return Err(format!(
            "manifest digest {:?} is not blake3: and 64 hex digits",
            info.manifest_digest
        ));
    }
    if info.leaf_count == 0 {
        return Err("leaf count 0: an empty batch has no proofs".into());
    }
    Ok(ParsedBatch { suite, root })
}

/// Verifies a code report against what `trust` holds; see the module docs.
pub fn verify_report(report: &CodeReport, trust: &Trust) -> ReportVerdict {
    let mut buf = Vec::new();
    let parsed = parse_batches(report);
    let lots = LotSubjects::new(report);
    let (records, placements): (Vec<_>, Vec<_>) = report
        .records
        .iter()
        .enumerate()
        .map(|(position, entry)| {
            let batch = batch_of(report, &parsed, entry);
            verify_record(report, &lots, position, entry, &mut buf, batch)
        })
        .unzip();
    assemble_report(report, records, &placements, &|id, info| {
        Arc::new(verify_batch_anchors(id, info, trust))
    })
}

/// The report's batches, parsed, by id.
fn parse_batches(report: &CodeReport) -> BTreeMap<&str, Result<ParsedBatch, String>> {
    report
        .batches
        .iter()
        .map(|(id, info)| (id.as_str(), parse_batch(info)))
        .collect()
}

/// The batch a record names, as described in the report and parsed.
fn batch_of<'a>(
    report: &'a CodeReport,
    parsed: &'a BTreeMap<&str, Result<ParsedBatch, String>>,
    entry: &RecordEntry,
) -> Option<(&'a BatchInfo, &'a Result<ParsedBatch, String>)> {
    report
        .batches
        .get(&entry.batch_id)
        .zip(parsed.get(entry.batch_id.as_str()))
}

/// Where a record's batch sorts among trees in bulk verification: the first
/// bytes of its root as the report gives it (0 for a batch the report does
/// not describe or that does not parse; such records are not walked).
fn tree_order(batch: Option<(&BatchInfo, &Result<ParsedBatch, String>)>) -> u64 {
    match batch {
        Some((_, Ok(p))) => {
            let mut first = [0u8; 8];
            first.copy_from_slice(&p.root[..8]);
            u64::from_be_bytes(first)
        }
        _ => 0,
    }
}

/// The report's verdict from its records' verdicts: the report-level checks
/// and the batches' checks (given: bulk verification shares them across
/// reports).
fn assemble_report(
    report: &CodeReport,
    records: Vec<RecordVerdict>,
    placements: &[Option<Placement>],
    batch_verdict: &dyn Fn(&str, &BatchInfo) -> Arc<BatchVerdict>,
) -> ReportVerdict {
    report_part(report, batch_verdict).finish(records, placements)
}

/// A report's verdict but for its records' verdicts.
struct ReportPart {
    code: String,
    checks: Vec<Check>,
    batches: BTreeMap<String, Arc<BatchVerdict>>,
}

impl ReportPart {
    /// The report's verdict with its records' verdicts and where their proofs place their
    /// leaves (the placement rule is checked across them).
    fn finish(
        mut self,
        records: Vec<RecordVerdict>,
        placements: &[Option<Placement>],
    ) -> ReportVerdict {
        self.checks.push(Check::new(
            CheckKind::Placement,
            check_placement(&records, placements),
        ));
        finish_verdict(self.code, self.checks, records, self.batches, &record_label)
    }
}

/// How a reason names a record of a report: its position and `record_id`.
fn record_label(r: &RecordVerdict) -> String {
    format!(
        "record {} ({})",
        r.position,
        r.record_id.as_deref().unwrap_or("no record_id")
    )
}

/// The report-level checks and the batches' verdicts of `report`.
fn report_part(
    report: &CodeReport,
    batch_verdict: &dyn Fn(&str, &BatchInfo) -> Arc<BatchVerdict>,
) -> ReportPart {
    let mut checks = Vec::new();
    if report.format != CODE_REPORT_FORMAT {
        checks.push(Check::new(
            CheckKind::Format,
            CheckStatus::failed(format!(
                "format {:?}, expected {CODE_REPORT_FORMAT:?}",
                report.format
            )),
        ));
    } else if report.records.is_empty() {
        checks.push(Check::new(
            CheckKind::Format,
            CheckStatus::failed("the report has no records: nothing is proved"),
        ));
    } else {
        checks.push(Check::new(CheckKind::Format, CheckStatus::passed()));
    }
    checks.push(Check::new(
        CheckKind::SubjectKeys,
        check_subject_keys(report),
    ));
    checks.push(Check::new(CheckKind::Listing, check_listing(report)));
    let batches = report
        .batches
        .iter()
        .map(|(id, info)| (id.clone(), batch_verdict(id, info)))
        .collect();
    ReportPart {
        code: report.code.clone(),
        checks,
        batches,
    }
}

/// Appends the sentence of every check of `checks` that failed or could not be made, naming
/// `whose()` (made only when one did: most checks pass, and bulk verification makes millions).
fn failures_of(checks: &[Check], whose: impl FnOnce() -> String, out: &mut Vec<String>) {
    let mut failing = checks
        .iter()
        .filter(|c| c.status.is_failed_or_error())
        .peekable();
    if failing.peek().is_some() {
        let whose = whose();
        out.extend(failing.filter_map(|c| c.failure(&whose)));
    }
}

/// Collects the reasons (naming each record with `label`) and decides the overall verdict.
fn finish_verdict(
    code: String,
    checks: Vec<Check>,
    records: Vec<RecordVerdict>,
    batches: BTreeMap<String, Arc<BatchVerdict>>,
    label: &dyn Fn(&RecordVerdict) -> String,
) -> ReportVerdict {
    let mut reasons = Vec::new();
    for c in &checks {
        if let CheckStatus::Failed { reason } = &c.status {
            reasons.push(format!("report: {reason}"));
        }
    }
    for r in &records {
        failures_of(&r.checks, || label(r), &mut reasons);
    }
    for (id, b) in &batches {
        failures_of(&b.checks, || format!("batch {id}"), &mut reasons);
        for (chain, a) in &b.anchors {
            failures_of(
                &a.checks,
                || format!("batch {id} anchor {chain}"),
                &mut reasons,
            );
        }
    }
    let verified = reasons.is_empty()
        && checks.iter().all(|c| c.status.is_passed())
        && records.iter().all(|r| r.passed)
        && batches.values().all(|b| b.passed);
    if !verified && reasons.is_empty() {
        reasons.push("not every needed check passed".into());
    }
    ReportVerdict {
        code,
        verified,
        reasons,
        checks,
        records,
        batches,
    }
}

/// Checks the anchor receipts of one batch (as [`verify_report`] does for
/// each batch of a report): the batch's own fields, every receipt's
/// commitment, ledger receipts' inclusion and signature, chain checks.
pub fn verify_batch_anchors(batch_id: &str, info: &BatchInfo, trust: &Trust) -> BatchVerdict {
    let parsed = parse_batch(info);
    verify_batch(batch_id, info, parsed.as_ref().err(), trust)
}

/// Reads a byte of every string of a batch description (its fields, its
/// receipts' keys and strings, two levels down), with no read depending on
/// another, so that the cache misses of comparing it whole overlap. Changes
/// nothing; the value is only there to keep the reads.
fn warm_batch(id: &str, info: &BatchInfo) -> u8 {
    fn ends(text: &str) -> u8 {
        let b = text.as_bytes();
        b.first().copied().unwrap_or(0) ^ b.last().copied().unwrap_or(0)
    }
    fn value(v: &Value, depth: u8) -> u8 {
        match v {
            Value::String(s) => ends(s),
            Value::Array(list) if depth > 0 => list.iter().fold(0, |a, v| a ^ value(v, depth - 1)),
            Value::Object(m) if depth > 0 => m
                .iter()
                .fold(0, |a, (k, v)| a ^ ends(k) ^ value(v, depth - 1)),
            _ => 0,
        }
    }
    let mut acc = ends(id) ^ ends(&info.suite) ^ ends(&info.root);
    acc ^= ends(&info.manifest_digest) ^ ends(&info.batch_date);
    for (chain, receipt) in &info.anchors {
        acc ^= ends(chain) ^ value(receipt, 2);
    }
    acc
}

/// Reports ordered and checked together by [`verify_reports`] (bounds the
/// memory of the walk order and of the verdicts before they are put back in
/// order); callers that fetch reports fetch this many at a time to keep one
/// window in memory.
pub const BULK_WINDOW_REPORTS: usize = 16_384;

/// Whether `v` holds a JSON number that is not an integer.
fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(list) => list.iter().any(has_float),
        Value::Object(m) => m.values().any(has_float),
        _ => false,
    }
}

/// Bulk verification's batch verdicts: per batch id, each distinct
/// description met (up to 16) with its verdict.
type VerdictCache = BTreeMap<String, Vec<(BatchInfo, Arc<BatchVerdict>)>>;

/// Options of [`verify_reports_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkOptions {
    /// Whether proof walks stop at a node already proven to lead to the
    /// same trusted root (default true). Off, every proof is walked to the
    /// root: the verdicts are the same, only slower.
    pub proof_memo: bool,
}

impl Default for BulkOptions {
    fn default() -> Self {
        BulkOptions { proof_memo: true }
    }
}

impl BulkOptions {
    /// Sets [`BulkOptions::proof_memo`].
    pub fn with_proof_memo(mut self, on: bool) -> Self {
        self.proof_memo = on;
        self
    }
}

/// Counters of a bulk verification (for benchmarks and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BulkStats {
    /// Proofs walked.
    pub proofs: u64,
    /// Of those, proofs settled by a memoised node before the root.
    pub memo_hits: u64,
}

/// Verifies many reports at once, in parallel (rayon), with the same
/// verdicts as [`verify_report`] on each; see [`verify_reports_with`].
pub fn verify_reports(reports: &[CodeReport], trust: &Trust) -> Vec<ReportVerdict> {
    verify_reports_with(reports, trust, BulkOptions::default()).0
}

/// Verifies many reports at once, in parallel (rayon), with the same
/// verdicts as [`verify_report`] on each, and counts the work.
///
/// Each record is checked in one go while its data is in cache: its heap
/// blocks are first read together (so that their cache misses overlap),
/// then it is re-encoded straight from its JSON values into a reused
/// buffer, leaf-hashed, its proof decoded into reused vectors and walked,
/// and its verdict made. Each distinct batch description (id, root, counts
/// and receipts, compared whole) has its anchors checked once, not once per
/// report. With [`BulkOptions::proof_memo`], the reports of a window are
/// taken in the order of their first record's batch root and claimed leaf
/// index, in contiguous parallel runs (each report's records together), and
/// the proofs walked with a memo per tree (batch root and segment) of the
/// last path proven to reach the trusted root: a walk stops where it meets
/// that path, once every remaining sibling of the proof is checked equal to
/// the proven node at its position. Neither the order nor the memo changes an
/// outcome: a proof is accepted exactly when its full walk reaches the root.
pub fn verify_reports_with(
    reports: &[CodeReport],
    trust: &Trust,
    options: BulkOptions,
) -> (Vec<ReportVerdict>, BulkStats) {
    use rayon::prelude::*;
    let cache: std::sync::RwLock<VerdictCache> = std::sync::RwLock::new(BTreeMap::new());
    let batch_verdict = |id: &str, info: &BatchInfo| -> Arc<BatchVerdict> {
        std::hint::black_box(warm_batch(id, info));
        // JSON equality takes 0.0 and -0.0 for one number, though the verdicts' texts
        // differ: a description with a fractional number (no real receipt has one) is
        // checked on its own.
        if info.anchors.values().any(has_float) {
            return Arc::new(verify_batch_anchors(id, info, trust));
        }
        if let Ok(map) = cache.read()
            && let Some((_, v)) = map.get(id).and_then(|l| l.iter().find(|(i, _)| i == info))
        {
            return Arc::clone(v);
        }
        let v = Arc::new(verify_batch_anchors(id, info, trust));
        if let Ok(mut map) = cache.write() {
            let list = map.entry(id.to_owned()).or_default();
            if list.len() < 16 && !list.iter().any(|(i, _)| i == info) {
                list.push((info.clone(), Arc::clone(&v)));
            }
        }
        v
    };
    // Per thread: the re-encoding buffer, a decoded proof's vectors and the
    // memos of the trees met.
    let scratch = || {
        (
            Vec::new(),
            proof_json::empty_batch_proof(),
            MemoSet::default(),
        )
    };
    let mut out = Vec::with_capacity(reports.len());
    let mut stats = BulkStats::default();
    for window in reports.chunks(BULK_WINDOW_REPORTS) {
        // Per report: its batches parsed (the order below needs their roots).
        let parsed: Vec<_> = window
            .par_iter()
            .with_min_len(16)
            .map(parse_batches)
            .collect();
        // The order reports are checked in. With the memo: by the batch root
        // and claimed leaf index of their first record in that order, so that
        // the reports one thread takes in turn have records in nearby leaves
        // of the same segments. A report's records are still checked
        // together, while its data is in cache. The order changes no outcome
        // (the memo accepts a proof exactly when its full walk reaches the
        // root), only how often a walk meets a remembered path.
        let order: Vec<usize> = if options.proof_memo {
            let mut keyed: Vec<((u64, u64), usize)> = window
                .par_iter()
                .zip(&parsed)
                .enumerate()
                .with_min_len(16)
                .map(|(r, (report, parsed))| {
                    let first = report
                        .records
                        .iter()
                        .map(|entry| {
                            (
                                tree_order(batch_of(report, parsed, entry)),
                                entry.leaf_index,
                            )
                        })
                        .min()
                        .unwrap_or_default();
                    (first, r)
                })
                .collect();
            keyed.par_sort_unstable();
            keyed.into_iter().map(|(_, r)| r).collect()
        } else {
            (0..window.len()).collect()
        };
        // Each report whole, while its data is in cache: its records, then
        // its report-level checks and its batches' verdicts.
        let mut checked: Vec<(usize, ReportVerdict, u64, u64)> = order
            .par_iter()
            .with_min_len(16)
            .filter_map(|&r| Some((r, window.get(r)?, parsed.get(r)?)))
            .map_init(scratch, |(buf, spare, memos), (r, report, parsed)| {
                let hits_before = memos.hits();
                let mut proofs = 0;
                let lots = LotSubjects::new(report);
                let (records, placements): (Vec<_>, Vec<_>) = report
                    .records
                    .iter()
                    .enumerate()
                    .map(|(position, entry)| {
                        std::hint::black_box(warm(entry));
                        let batch = batch_of(report, parsed, entry);
                        let prepared = prepare_record(report, &lots, entry, buf, spare, batch);
                        let walked = prepared.walk().map(|(suite, leaf, proof, root)| {
                            proofs += 1;
                            if options.proof_memo {
                                memos.verify(suite, leaf, proof, root)
                            } else {
                                verify_leaf_proof(suite, leaf, proof, root)
                            }
                        });
                        finish_record(position, entry, prepared, walked, spare)
                    })
                    .unzip();
                let verdict = assemble_report(report, records, &placements, &batch_verdict);
                (r, verdict, proofs, memos.hits() - hits_before)
            })
            .collect();
        // Back in the window's order (`order` is a permutation of it).
        if options.proof_memo {
            checked.par_sort_unstable_by_key(|c| c.0);
        }
        debug_assert_eq!(checked.len(), window.len(), "a report without a verdict");
        for (_, verdict, proofs, hits) in checked {
            stats.proofs += proofs;
            stats.memo_hits += hits;
            out.push(verdict);
        }
    }
    (out, stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_equals_is_exact_lowercase_hex() {
        assert!(hex_equals(&[0x00, 0xab, 0xff], "00abff"));
        assert!(!hex_equals(&[0x00, 0xab, 0xff], "00ABff"));
        assert!(!hex_equals(&[0x00, 0xab, 0xff], "00abf"));
        assert!(!hex_equals(&[0x00, 0xab, 0xff], "00abff00"));
        assert!(!hex_equals(&[0x00, 0xab, 0xfe], "00abff"));
        assert!(hex_equals(&[], ""));
    }

    /// SPEC.md 11.2 step 2.1: lists as a committed record has them; another shape of the same
    /// canonical bytes (a null item, an attachment's missing, null or extra key) fails.
    #[test]
    fn lists_must_be_as_committed() {
        let vector: Value = serde_json::from_str(include_str!(
            "../../../schemas/vectors/records/01-production-full.json"
        ))
        .expect("vector");
        let Some(Value::Object(record)) = vector.get("record").cloned() else {
            panic!("the vector has a record")
        };
        let entry = |record: serde_json::Map<String, Value>| RecordEntry {
            kind: "production".into(),
            subject: "item".into(),
            record,
            canonical: String::new(),
            leaf_hash: String::new(),
            batch_id: "b".into(),
            leaf_index: 0,
            source: crate::report::RecordSource {
                file: "f".into(),
                row: 0,
                provided_by: "o".into(),
            },
            proof: Value::Null,
        };
        let mut buf = Vec::new();
        encode_entry(&entry(record.clone()), &mut buf).expect("the vector encodes");
        assert_eq!(
            hex::encode(&buf),
            vector["canonical_hex"].as_str().expect("hex")
        );
        let mut changed = |column: &str, f: &dyn Fn(&mut Vec<Value>)| {
            let mut r = record.clone();
            let Some(Value::Array(items)) = r.get_mut(column) else {
                panic!("{column} is a list")
            };
            f(items);
            encode_entry(&entry(r), &mut buf).expect_err(column)
        };
        let e = changed("certifications", &|items| items.push(Value::Null));
        assert!(e.contains("certifications item 3 is null, not text"), "{e}");
        let e = changed("attachments", &|items| {
            items[0]["note"] = Value::from("certified organic");
        });
        assert!(e.contains("attachments item 0 has the key \"note\""), "{e}");
        let e = changed("attachments", &|items| {
            items[1].as_object_mut().expect("object").remove("digest");
        });
        assert!(e.contains("attachments item 1 has no digest"), "{e}");
        let e = changed("attachments", &|items| items[1]["uri"] = Value::Null);
        assert!(
            e.contains("attachments item 1's uri is null, not text"),
            "{e}"
        );
        let e = changed("attachments", &|items| items.push(Value::Null));
        assert!(
            e.contains("attachments item 2 is null, not an attachment"),
            "{e}"
        );
    }
}
