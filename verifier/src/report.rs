//! The code report: everything proofmark holds about one code, with the
//! proofs that let anyone check it. It is the body of `GET /v1/codes/{code}`,
//! one line of `POST /v1/audit`, and the input of `proofmark verify`;
//! `schemas/SPEC.md` section 11 is its public definition.

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use proofmark_merkle::{DecodeError, ProofEnvelope};
use serde::{Deserialize, Serialize};

use crate::error::VerifierError;

/// The `format` value of a code report.
pub const CODE_REPORT_FORMAT: &str = "proofmark-code/1";

/// Everything held about one code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeReport {
    /// Always [`CODE_REPORT_FORMAT`].
    pub format: String,
    /// The code as asked for (after trimming).
    pub code: String,
    /// The subjects looked up: the item itself, then the lots that its
    /// records bind it to.
    pub subjects: Vec<SubjectRef>,
    /// The records, ordered by `event_time`, then batch id, then leaf index.
    pub records: Vec<RecordEntry>,
    /// The batches the records are in, by batch id.
    pub batches: BTreeMap<String, BatchInfo>,
}

/// A subject that was looked up for a code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectRef {
    /// `"item"` or `"lot"`.
    #[serde(rename = "type")]
    pub subject_type: String,
    /// The item code or lot id.
    pub id: String,
    /// The 16-byte subject key (SPEC.md section 4), hex.
    pub key: String,
}

/// One record with its proof.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordEntry {
    /// The record's kind: `production`, `customs`, `logistics` or `inspection`.
    pub kind: String,
    /// Which subject of [`CodeReport::subjects`] found it: `"item"` or `"lot"`.
    pub subject: String,
    /// The record's values as read back from its input file, in the JSON
    /// form of the test vectors (SPEC.md section 10): dates as days since
    /// 1970-01-01, `event_time` as microseconds.
    pub record: serde_json::Map<String, serde_json::Value>,
    /// The canonical encoding of the record (SPEC.md section 3), hex,
    /// including its padding.
    pub canonical: String,
    /// The leaf hash, hex.
    pub leaf_hash: String,
    /// The batch that holds the record.
    pub batch_id: String,
    /// The record's global leaf index in that batch.
    pub leaf_index: u64,
    /// Where the record was read from.
    pub source: RecordSource,
    /// The batch proof from the leaf to the batch root (SPEC.md 7.4), in the
    /// JSON proof encoding (SPEC.md 7.5) as an object.
    pub proof: serde_json::Value,
}

impl RecordEntry {
    /// Decodes [`RecordEntry::proof`] strictly (SPEC.md 7.5).
    ///
    /// # Errors
    ///
    /// The proof encoding's [`DecodeError`].
    pub fn proof_envelope(&self) -> Result<ProofEnvelope, DecodeError> {
        ProofEnvelope::from_json(&self.proof.to_string())
    }
}

/// Where a record was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSource {
    /// The input file as planned (its source URL).
    pub file: String,
    /// The 0-based row in that file.
    pub row: u64,
    /// The organisation that provided the record (its `org_id`).
    pub provided_by: String,
}

/// What a batch commits to, with its anchors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchInfo {
    /// The batch's hash suite name.
    pub suite: String,
    /// The batch root, hex.
    pub root: String,
    /// Leaves in the batch.
    pub leaf_count: u64,
    /// The manifest digest (`blake3:` hex) that anchors commit to.
    pub manifest_digest: String,
    /// The batch's business date (`YYYY-MM-DD`).
    pub batch_date: String,
    /// The stored receipts (`batches/<id>/anchors/<chain>.json`), by chain name.
    pub anchors: BTreeMap<String, serde_json::Value>,
}

/// Why a lookup failed (not: the code is unknown, which is `Ok(None)`): the
/// crate's error type. [`VerifierError::MalformedCode`] is the caller's
/// fault; [`VerifierError::Integrity`] means the stored data does not match
/// what its batch root commits to; the others are failures of the index, the
/// store or an input.
pub type LookupError = VerifierError;

/// Something that can produce the report of a code: the service's index and
/// store, or a remote server.
pub trait CodeLookup: Send + Sync {
    /// The report of `code`, or `None` when no published batch holds it.
    fn lookup<'a>(
        &'a self,
        code: &'a str,
    ) -> BoxFuture<'a, Result<Option<CodeReport>, LookupError>>;
}
