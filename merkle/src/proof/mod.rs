//! Proofs: choosing the nodes a proof needs (methods on
//! [`MerkleTree`](crate::MerkleTree)) and checking a proof (pure functions
//! that validate their inputs first, then recompute the root).
//!
//! | proof | made by | checked by |
//! | --- | --- | --- |
//! | inclusion (RFC 9162 2.1.3) | [`MerkleTree::inclusion_proof`](crate::MerkleTree::inclusion_proof) | [`verify_inclusion`] |
//! | consistency (RFC 9162 2.1.4) | [`MerkleTree::consistency_proof`](crate::MerkleTree::consistency_proof) | [`verify_consistency`] |
//! | multi-leaf | [`MerkleTree::multi_proof`](crate::MerkleTree::multi_proof) | [`verify_multi`] |
//! | batch (segment + upper) | [`batch_proof`] | [`verify_batch_inclusion`] |

mod batch;
mod consistency;
mod inclusion;
mod multi;

pub use batch::{BatchProof, batch_proof, root_from_batch_proof, verify_batch_inclusion};
pub use consistency::{ConsistencyProof, verify_consistency};
pub use inclusion::{
    InclusionCheck, InclusionProof, root_from_inclusion_proof, verify_inclusion,
    verify_inclusion_bulk,
};
pub use multi::{MultiProof, multi_proof_len, root_from_multi_proof, verify_multi};

use crate::error::VerifyError;
use crate::suite::{Hash, Suite};

/// Checks a proof's hash count against the count its shape requires.
#[inline]
pub(crate) fn check_len(expected: usize, actual: usize) -> Result<(), VerifyError> {
    if actual < expected {
        Err(VerifyError::TooFewHashes { expected, actual })
    } else if actual > expected {
        Err(VerifyError::TooManyHashes { expected, actual })
    } else {
        Ok(())
    }
}

/// Climbs from `node` (at position `index` of a level whose last index is
/// `last`) to the root, combining with the path hashes in order. The caller
/// has checked that `path` has exactly the length the shape requires.
#[inline]
pub(crate) fn climb<S: Suite>(
    mut node: Hash,
    mut index: u64,
    mut last: u64,
    path: &[Hash],
) -> Hash {
    let mut siblings = path.iter();
    while last > 0 {
        if index & 1 == 1 || index < last {
            let Some(sibling) = siblings.next() else {
                debug_assert!(false, "path length was checked");
                break;
            };
            node = if index & 1 == 1 {
                S::hash_node(sibling, &node)
            } else {
                S::hash_node(&node, sibling)
            };
        }
        index >>= 1;
        last >>= 1;
    }
    node
}
