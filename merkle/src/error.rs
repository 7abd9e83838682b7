//! Error types: building trees, verifying proofs, decoding proofs.
//!
//! Each concern has its own `#[non_exhaustive]` enum so callers can match on
//! exactly what went wrong; [`Error`] wraps them all for callers that want
//! one type.

use crate::suite::{Hash, ParseSuiteError, SuiteId};

/// Building a tree or generating a proof failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TreeError {
    /// A tree needs at least one leaf: the empty tree has no root in this spec.
    #[error("a Merkle tree needs at least one leaf")]
    EmptyTree,
    /// A leaf index is not below the tree size.
    #[error("leaf index {index} is out of range for a tree of {size} leaves")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof needs `0 < old_size <= size`.
    #[error("no consistency proof from size {old_size} to size {size} (need 0 < old <= new)")]
    InvalidOldSize {
        /// The older size asked for.
        old_size: u64,
        /// The tree size.
        size: u64,
    },
    /// A multi-leaf proof needs at least one index.
    #[error("a multi-leaf proof needs at least one index")]
    NoIndices,
    /// Multi-proof indices must be strictly increasing.
    #[error("indices are not sorted: index #{position} is smaller than the one before")]
    UnsortedIndices {
        /// Position (in the index list) of the first index that is out of order.
        position: usize,
    },
    /// Multi-proof indices must be distinct.
    #[error("index {index} is given more than once")]
    DuplicateIndex {
        /// The repeated index.
        index: u64,
    },
    /// A node position that the tree does not have.
    #[error("there is no node {index} at height {height} in a tree of {size} leaves")]
    NodeOutOfRange {
        /// Height asked for (0 = leaves).
        height: u32,
        /// Index within that level.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// Concatenated records do not divide into records of the given length.
    #[error("{data_len} bytes do not divide into records of {record_len} bytes")]
    RaggedRecords {
        /// Total length of the data.
        data_len: usize,
        /// The record length given.
        record_len: usize,
    },
    /// `from_parts`: the number of stored levels does not fit the tree size.
    #[error("expected {expected} stored levels above height {min_height}, got {actual}")]
    LevelCount {
        /// Lowest stored height above the leaves.
        min_height: u32,
        /// Levels the size requires.
        expected: usize,
        /// Levels given.
        actual: usize,
    },
    /// `from_parts`: a stored level has the wrong length for the tree size.
    #[error("stored level at height {height} has {actual} nodes, expected {expected}")]
    LevelLength {
        /// Height of the level.
        height: u32,
        /// Nodes the size requires.
        expected: usize,
        /// Nodes given.
        actual: usize,
    },
    /// `from_parts` / `verify_stored_levels`: a stored node is not the hash of its children.
    #[error("stored node {index} at height {height} does not match its children")]
    LevelMismatch {
        /// Height of the wrong node.
        height: u32,
        /// Its index within the level.
        index: u64,
    },
}

/// A proof did not verify. Malformed inputs (checked first, before any
/// hashing) and hash mismatches are different variants; see
/// [`VerifyError::is_mismatch`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The claimed tree size is zero: the empty tree has no proofs.
    #[error("tree size 0: the empty tree has no proofs")]
    EmptyTree,
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is out of range for a tree of {size} leaves")]
    IndexOutOfRange {
        /// The claimed index.
        index: u64,
        /// The claimed tree size.
        size: u64,
    },
    /// Consistency needs `0 < old_size <= size`.
    #[error("invalid consistency sizes: old {old_size}, new {size} (need 0 < old <= new)")]
    InvalidSizes {
        /// The claimed old size.
        old_size: u64,
        /// The claimed new size.
        size: u64,
    },
    /// The proof has fewer hashes than the index and size require.
    #[error("proof has {actual} hashes, {expected} required")]
    TooFewHashes {
        /// Hashes the shape requires.
        expected: usize,
        /// Hashes given.
        actual: usize,
    },
    /// The proof has more hashes than the index and size require.
    #[error("proof has {actual} hashes, only {expected} allowed")]
    TooManyHashes {
        /// Hashes the shape requires.
        expected: usize,
        /// Hashes given.
        actual: usize,
    },
    /// A multi-leaf proof with no leaves.
    #[error("a multi-leaf proof needs at least one index")]
    NoIndices,
    /// Multi-proof indices must be strictly increasing.
    #[error("indices are not sorted: index #{position} is smaller than the one before")]
    UnsortedIndices {
        /// Position of the first index that is out of order.
        position: usize,
    },
    /// Multi-proof indices must be distinct.
    #[error("index {index} is given more than once")]
    DuplicateIndex {
        /// The repeated index.
        index: u64,
    },
    /// A multi-proof's index list and leaf-hash list differ in length.
    #[error("{indices} indices but {leaves} leaf hashes")]
    LeafCountMismatch {
        /// Number of indices.
        indices: usize,
        /// Number of leaf hashes.
        leaves: usize,
    },
    /// The proof is well formed but leads to a different root.
    #[error(
        "root mismatch: expected {}, computed {}",
        hex::encode(expected),
        hex::encode(computed)
    )]
    RootMismatch {
        /// The trusted root.
        expected: Hash,
        /// The root the proof leads to.
        computed: Hash,
    },
    /// A consistency proof is well formed but leads to a different old root.
    #[error(
        "old root mismatch: expected {}, computed {}",
        hex::encode(expected),
        hex::encode(computed)
    )]
    OldRootMismatch {
        /// The trusted old root.
        expected: Hash,
        /// The old root the proof leads to.
        computed: Hash,
    },
    /// The proof was made for another hash suite.
    #[error("proof is for suite {found}, expected {expected}")]
    SuiteMismatch {
        /// The suite the verifier uses.
        expected: SuiteId,
        /// The suite named in the proof.
        found: SuiteId,
    },
}

impl VerifyError {
    /// True for a well-formed proof that leads to another root (the data or
    /// the root is wrong); false for a malformed proof or malformed inputs.
    pub fn is_mismatch(&self) -> bool {
        matches!(
            self,
            VerifyError::RootMismatch { .. } | VerifyError::OldRootMismatch { .. }
        )
    }

    /// The variant's name, stable across versions; test vectors use it.
    pub fn name(&self) -> &'static str {
        match self {
            VerifyError::EmptyTree => "EmptyTree",
            VerifyError::IndexOutOfRange { .. } => "IndexOutOfRange",
            VerifyError::InvalidSizes { .. } => "InvalidSizes",
            VerifyError::TooFewHashes { .. } => "TooFewHashes",
            VerifyError::TooManyHashes { .. } => "TooManyHashes",
            VerifyError::NoIndices => "NoIndices",
            VerifyError::UnsortedIndices { .. } => "UnsortedIndices",
            VerifyError::DuplicateIndex { .. } => "DuplicateIndex",
            VerifyError::LeafCountMismatch { .. } => "LeafCountMismatch",
            VerifyError::RootMismatch { .. } => "RootMismatch",
            VerifyError::OldRootMismatch { .. } => "OldRootMismatch",
            VerifyError::SuiteMismatch { .. } => "SuiteMismatch",
        }
    }
}

/// A proof encoding (JSON or binary) could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the proof did.
    #[error("truncated proof: input ended early")]
    Truncated,
    /// Bytes left over after a complete proof.
    #[error("{count} trailing bytes after the proof")]
    TrailingBytes {
        /// How many bytes were left.
        count: usize,
    },
    /// An encoding version this implementation does not know.
    #[error("unknown proof encoding version {0}")]
    UnknownVersion(u64),
    /// A binary suite id other than 1 or 2.
    #[error("unknown suite id {0}")]
    UnknownSuiteId(u8),
    /// A suite name other than `blake3` or `sha256-rfc6962`.
    #[error(transparent)]
    UnknownSuite(#[from] ParseSuiteError),
    /// A binary kind byte this implementation does not know.
    #[error("unknown proof kind {0}")]
    UnknownKindId(u8),
    /// A JSON kind name this implementation does not know.
    #[error("unknown proof kind {0:?}")]
    UnknownKind(String),
    /// More hashes (or indices) than any valid proof of this kind can have.
    #[error("{count} hashes or indices, at most {max} allowed")]
    TooManyHashes {
        /// The count in the encoding.
        count: u64,
        /// The largest count allowed.
        max: u64,
    },
    /// A varint longer than 10 bytes or above `u64::MAX`.
    #[error("varint overflows u64")]
    VarintOverflow,
    /// A varint with needless trailing zero groups (not the shortest form).
    #[error("varint is not in its shortest form")]
    NonCanonicalVarint,
    /// A hash that is not exactly 64 lowercase hex digits.
    #[error("field {field}: hash #{position} is not 64 lowercase hex digits")]
    InvalidHash {
        /// The JSON field.
        field: &'static str,
        /// Position in the field's list (0 for a single hash).
        position: usize,
    },
    /// A field the proof kind requires is missing.
    #[error("missing field {0:?}")]
    MissingField(&'static str),
    /// A field the proof kind does not have is present.
    #[error("unexpected field {0:?} for this proof kind")]
    UnexpectedField(&'static str),
    /// The JSON text is not valid JSON or has fields of the wrong type.
    #[error("invalid proof JSON")]
    Json(#[source] serde_json::Error),
}

/// Any error of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// See [`TreeError`].
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// See [`VerifyError`].
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// See [`DecodeError`].
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// See [`ParseSuiteError`].
    #[error(transparent)]
    Suite(#[from] ParseSuiteError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatch_is_told_apart_from_malformed() {
        let mismatch = VerifyError::RootMismatch {
            expected: [0; 32],
            computed: [1; 32],
        };
        assert!(mismatch.is_mismatch());
        assert_eq!(mismatch.name(), "RootMismatch");
        assert!(mismatch.to_string().contains(&"01".repeat(32)));
        let malformed = VerifyError::TooFewHashes {
            expected: 3,
            actual: 2,
        };
        assert!(!malformed.is_mismatch());
        assert_eq!(malformed.name(), "TooFewHashes");
    }

    #[test]
    fn umbrella_error_keeps_the_source() {
        let err: Error = TreeError::EmptyTree.into();
        assert!(matches!(err, Error::Tree(TreeError::EmptyTree)));
    }
}
