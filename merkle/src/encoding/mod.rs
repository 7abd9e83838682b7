//! Proof encodings: JSON (hex hashes, for APIs and people) and a compact
//! binary form (for QR payloads and bulk files). Both carry the encoding
//! version, the suite and the proof kind, and round-trip exactly.
//!
//! ```
//! use proofmark_merkle::{Blake3, MerkleTree, Proof, ProofEnvelope, SuiteId};
//!
//! let tree = MerkleTree::<Blake3>::from_leaves(&["a", "b", "c"])?;
//! let envelope = ProofEnvelope::new(SuiteId::Blake3, Proof::Inclusion(tree.inclusion_proof(1)?));
//! let json = envelope.to_json();
//! assert!(json.starts_with(r#"{"version":1,"suite":"blake3","kind":"inclusion","index":1,"tree_size":3,"#));
//! assert_eq!(ProofEnvelope::from_json(&json)?, envelope);
//! let bytes = envelope.to_bytes();
//! assert_eq!(bytes.len(), 3 + 3 + 2 * 32);
//! assert_eq!(ProofEnvelope::from_bytes(&bytes)?, envelope);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod binary;
mod json;

use crate::error::VerifyError;
use crate::proof::{BatchProof, ConsistencyProof, InclusionProof, MultiProof};
use crate::suite::SuiteId;

/// Version of both proof encodings described in the spec.
pub const PROOF_ENCODING_VERSION: u8 = 1;

/// Most hashes an inclusion proof (or either part of a batch proof) can have:
/// one per level of a tree of up to `2^64 - 1` leaves.
pub const MAX_INCLUSION_HASHES: u64 = 64;

/// Most hashes a consistency proof can have (a start node plus a path).
pub const MAX_CONSISTENCY_HASHES: u64 = 65;

/// Most hashes per index a multi-leaf proof can have.
pub const MAX_MULTI_HASHES_PER_INDEX: u64 = 64;

/// The kind of a proof, as named in both encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProofKind {
    /// `"inclusion"`, binary 1.
    Inclusion,
    /// `"consistency"`, binary 2.
    Consistency,
    /// `"multi"`, binary 3.
    Multi,
    /// `"batch"`, binary 4.
    Batch,
}

impl ProofKind {
    /// Every kind, in binary-id order.
    pub const ALL: [ProofKind; 4] = [
        ProofKind::Inclusion,
        ProofKind::Consistency,
        ProofKind::Multi,
        ProofKind::Batch,
    ];

    /// The JSON name.
    pub const fn name(self) -> &'static str {
        match self {
            ProofKind::Inclusion => "inclusion",
            ProofKind::Consistency => "consistency",
            ProofKind::Multi => "multi",
            ProofKind::Batch => "batch",
        }
    }

    /// The binary id.
    pub const fn to_u8(self) -> u8 {
        match self {
            ProofKind::Inclusion => 1,
            ProofKind::Consistency => 2,
            ProofKind::Multi => 3,
            ProofKind::Batch => 4,
        }
    }

    /// The kind with binary id `id`, if any.
    pub const fn from_u8(id: u8) -> Option<ProofKind> {
        match id {
            1 => Some(ProofKind::Inclusion),
            2 => Some(ProofKind::Consistency),
            3 => Some(ProofKind::Multi),
            4 => Some(ProofKind::Batch),
            _ => None,
        }
    }

    /// The kind with JSON name `name`, if any.
    pub fn from_name(name: &str) -> Option<ProofKind> {
        ProofKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Any proof.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Proof {
    /// An inclusion proof.
    Inclusion(InclusionProof),
    /// A consistency proof.
    Consistency(ConsistencyProof),
    /// A multi-leaf proof.
    Multi(MultiProof),
    /// A batch proof.
    Batch(BatchProof),
}

impl Proof {
    /// The proof's kind.
    pub fn kind(&self) -> ProofKind {
        match self {
            Proof::Inclusion(_) => ProofKind::Inclusion,
            Proof::Consistency(_) => ProofKind::Consistency,
            Proof::Multi(_) => ProofKind::Multi,
            Proof::Batch(_) => ProofKind::Batch,
        }
    }
}

/// A proof with the suite it was made for: what both encodings carry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProofEnvelope {
    /// The hash suite of the tree.
    pub suite: SuiteId,
    /// The proof.
    pub proof: Proof,
}

impl ProofEnvelope {
    /// A proof for `suite`.
    pub fn new(suite: SuiteId, proof: Proof) -> Self {
        Self { suite, proof }
    }

    /// Checks that the proof was made for `expected`.
    ///
    /// # Errors
    ///
    /// [`VerifyError::SuiteMismatch`] otherwise.
    pub fn expect_suite(&self, expected: SuiteId) -> Result<&Proof, VerifyError> {
        if self.suite == expected {
            Ok(&self.proof)
        } else {
            Err(VerifyError::SuiteMismatch {
                expected,
                found: self.suite,
            })
        }
    }
}
