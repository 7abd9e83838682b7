//! Merkle trees and proofs for proofmark: the two hash suites of the spec,
//! RFC 6962-shaped trees built fast (batched SIMD hashing, rayon across
//! subtrees), and inclusion, consistency, multi-leaf and batch proofs with
//! strict verification (no allocation for single proofs) and JSON and binary
//! encodings.
//!
//! ```
//! use proofmark_merkle::{Blake3, MerkleTree, Suite, verify_inclusion};
//!
//! let records = ["production", "customs", "logistics", "inspection", "label"];
//! let tree = MerkleTree::<Blake3>::from_leaves(&records)?;
//! let root = tree.root();
//!
//! // Anyone holding record 3, its proof and the root can check it.
//! let proof = tree.inclusion_proof(3)?;
//! let leaf = Blake3::hash_leaf(b"inspection");
//! verify_inclusion::<Blake3>(&leaf, 3, 5, &proof.hashes, &root)?;
//!
//! // A later tree of 8 records extends this one, and can prove it.
//! let later = MerkleTree::<Blake3>::from_leaves(&[&records[..], &["a", "b", "c"]].concat())?;
//! later.consistency_proof(5)?.verify::<Blake3>(&root, &later.root())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Map
//!
//! - [`suite`]: [`Suite`] (compile-time choice, no branch in hot loops),
//!   [`Blake3`] and [`Sha256Rfc6962`], [`SuiteId`] (run-time name) and
//!   [`with_suite!`] / [`SuiteId::dispatch`] to go from one to the other.
//! - [`shape`]: level sizes and proof lengths of the RFC 6962 shape.
//! - [`MerkleTree`], [`MerkleTreeBuilder`], [`root_from_leaf_hashes`],
//!   [`batch_root`]: building; [`StreamingBuilder`]: roots in `O(log n)` memory.
//! - [`proof`]: [`InclusionProof`], [`ConsistencyProof`], [`MultiProof`],
//!   [`BatchProof`] and their `verify_*` / `root_from_*` functions.
//! - [`encoding`]: [`ProofEnvelope`] to and from JSON and bytes.
//! - [`error`]: [`TreeError`], [`VerifyError`], [`DecodeError`].
//!
//! The exact definitions (keys, shape, proof formats) are in
//! `docs/spec-merkle.md`.

mod batch_hash;
pub mod encoding;
pub mod error;
pub mod proof;
pub mod shape;
mod stream;
pub mod suite;
mod tree;

pub use batch_hash::blake3_backend;
pub use encoding::{PROOF_ENCODING_VERSION, Proof, ProofEnvelope, ProofKind};
pub use error::{DecodeError, Error, TreeError, VerifyError};
pub use proof::{
    BatchProof, ConsistencyProof, InclusionCheck, InclusionProof, MultiProof, batch_proof,
    multi_proof_len, root_from_batch_proof, root_from_inclusion_proof, root_from_multi_proof,
    verify_batch_inclusion, verify_consistency, verify_inclusion, verify_inclusion_bulk,
    verify_multi,
};
pub use stream::StreamingBuilder;
pub use suite::{
    Blake3, HASH_LEN, Hash, LEAF_KEY, LEAF_KEY_CONTEXT, NODE_KEY, NODE_KEY_CONTEXT,
    ParseSuiteError, Sha256Rfc6962, Suite, SuiteFn, SuiteId, leaf_key, node_key,
};
pub use tree::{
    MerkleTree, MerkleTreeBuilder, PARALLEL_MIN_LEAF_DATA, PARALLEL_MIN_LEAVES, Parallelism,
    TreeParts, batch_root, hash_leaf_records, hash_leaves, root_from_leaf_hashes, root_from_leaves,
};
