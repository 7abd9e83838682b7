//! Batch proofs: a leaf's path inside its segment plus the segment root's
//! path to the batch root.

use super::InclusionProof;
use crate::error::{TreeError, VerifyError};
use crate::suite::{Hash, Suite};
use crate::tree::MerkleTree;

/// Proof that a leaf is in a batch: `segment` is the leaf's inclusion proof
/// in its segment's tree, `upper` the segment root's inclusion proof in the
/// batch tree over the segment roots (`upper.index` is the segment's index,
/// `upper.tree_size` the number of segments).
///
/// The two parts compose into one check: the segment proof leads from the
/// leaf hash to a segment root, which the upper proof takes, as a node, to
/// the batch root. Segments have any sizes, so the concatenated hashes are a
/// plain RFC 6962 audit path only in special layouts; hence the pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BatchProof {
    /// The leaf's proof inside its segment.
    pub segment: InclusionProof,
    /// The segment root's proof inside the batch tree.
    pub upper: InclusionProof,
}

impl BatchProof {
    /// Joins a segment proof and the proof of that segment's root in the batch tree.
    pub fn new(segment: InclusionProof, upper: InclusionProof) -> Self {
        Self { segment, upper }
    }

    /// Index of the segment in the batch (plan order).
    pub fn segment_index(&self) -> u64 {
        self.upper.index
    }

    /// Number of segments in the batch.
    pub fn segment_count(&self) -> u64 {
        self.upper.tree_size
    }

    /// All proof hashes: the segment path, then the upper path.
    pub fn hashes(&self) -> impl Iterator<Item = &Hash> + '_ {
        self.segment.hashes.iter().chain(&self.upper.hashes)
    }

    /// The batch root this proof leads to from `leaf_hash`.
    ///
    /// # Errors
    ///
    /// As [`root_from_batch_proof`].
    pub fn root<S: Suite>(&self, leaf_hash: &Hash) -> Result<Hash, VerifyError> {
        root_from_batch_proof::<S>(leaf_hash, self)
    }

    /// Checks the proof; see [`verify_batch_inclusion`].
    ///
    /// # Errors
    ///
    /// As [`verify_batch_inclusion`].
    pub fn verify<S: Suite>(&self, leaf_hash: &Hash, batch_root: &Hash) -> Result<(), VerifyError> {
        verify_batch_inclusion::<S>(leaf_hash, self, batch_root)
    }
}

/// The batch proof of leaf `leaf_index` of `segment`, the segment at
/// `segment_index` of the batch tree `batch` (the tree over the segment roots,
/// e.g. `MerkleTree::from_leaf_hashes(segment_roots)`).
///
/// # Errors
///
/// [`TreeError::IndexOutOfRange`] for either index, and
/// [`TreeError::LevelMismatch`] (height 0 of the batch tree) if the batch tree
/// does not hold this segment's root at `segment_index`.
pub fn batch_proof<S: Suite>(
    segment: &MerkleTree<S>,
    leaf_index: u64,
    batch: &MerkleTree<S>,
    segment_index: u64,
) -> Result<BatchProof, TreeError> {
    let upper = batch.inclusion_proof(segment_index)?;
    if batch.leaf_hashes()[segment_index as usize] != segment.root() {
        return Err(TreeError::LevelMismatch {
            height: 0,
            index: segment_index,
        });
    }
    Ok(BatchProof {
        segment: segment.inclusion_proof(leaf_index)?,
        upper,
    })
}

/// The batch root a batch proof leads to from `leaf_hash`: the segment root
/// from the segment proof, then the batch root from the upper proof.
///
/// # Errors
///
/// The malformed-input errors of
/// [`root_from_inclusion_proof`](super::root_from_inclusion_proof), for either part.
pub fn root_from_batch_proof<S: Suite>(
    leaf_hash: &Hash,
    proof: &BatchProof,
) -> Result<Hash, VerifyError> {
    let segment_root = proof.segment.root::<S>(leaf_hash)?;
    proof.upper.root::<S>(&segment_root)
}

/// Checks that `leaf_hash` is in the batch with root `batch_root`.
///
/// # Errors
///
/// The errors of [`root_from_batch_proof`], and [`VerifyError::RootMismatch`]
/// if the proof leads to another root.
pub fn verify_batch_inclusion<S: Suite>(
    leaf_hash: &Hash,
    proof: &BatchProof,
    batch_root: &Hash,
) -> Result<(), VerifyError> {
    let computed = root_from_batch_proof::<S>(leaf_hash, proof)?;
    if computed == *batch_root {
        Ok(())
    } else {
        Err(VerifyError::RootMismatch {
            expected: *batch_root,
            computed,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::suite::{Blake3, Sha256Rfc6962};
    use crate::tree::batch_root;

    fn batches<S: Suite>() {
        let sizes = [5u64, 8, 1, 13, 8, 3];
        let mut all = Vec::new();
        let segments: Vec<MerkleTree<S>> = sizes
            .iter()
            .enumerate()
            .map(|(s, &n)| {
                let l: Vec<Hash> = (0..n).map(|i| S::hash_leaf(&[s as u8, i as u8])).collect();
                all.extend_from_slice(&l);
                MerkleTree::from_leaf_hashes(l).unwrap()
            })
            .collect();
        let roots: Vec<Hash> = segments.iter().map(MerkleTree::root).collect();
        let root = batch_root::<S>(&roots).unwrap();
        let batch = MerkleTree::<S>::from_leaf_hashes(roots.clone()).unwrap();
        assert_eq!(batch.root(), root);
        for (s, segment) in segments.iter().enumerate() {
            for i in 0..segment.size() {
                let proof = batch_proof(segment, i, &batch, s as u64).unwrap();
                assert_eq!(proof.segment_index(), s as u64);
                assert_eq!(proof.segment_count(), sizes.len() as u64);
                let leaf = segment.leaf_hashes()[i as usize];
                proof.verify::<S>(&leaf, &root).unwrap();
                assert!(
                    proof
                        .verify::<S>(&[0; 32], &root)
                        .unwrap_err()
                        .is_mismatch()
                );
                let mut moved = proof.clone();
                moved.upper.index = (s as u64 + 1) % sizes.len() as u64;
                assert!(moved.verify::<S>(&leaf, &root).is_err());
            }
        }
        // A one-segment batch's root is its segment's root.
        assert_eq!(batch_root::<S>(&roots[..1]).unwrap(), roots[0]);
        assert!(batch_proof(&segments[0], 0, &batch, 1).is_err());
    }

    #[test]
    fn batch_proofs_verify_against_the_batch_root() {
        batches::<Blake3>();
        batches::<Sha256Rfc6962>();
    }

    #[test]
    fn power_of_two_segments_compose_into_a_plain_path() {
        // With segments of 2^k leaves (the last may be shorter), the batch tree
        // is the tree over all leaves, and the hashes concatenate into its path.
        let all: Vec<Hash> = (0u32..27)
            .map(|i| Blake3::hash_leaf(&i.to_le_bytes()))
            .collect();
        let whole = MerkleTree::<Blake3>::from_leaf_hashes(all.clone()).unwrap();
        let segments: Vec<MerkleTree<Blake3>> = all
            .chunks(8)
            .map(|c| MerkleTree::from_leaf_hashes(c.to_vec()).unwrap())
            .collect();
        let roots: Vec<Hash> = segments.iter().map(MerkleTree::root).collect();
        let batch = MerkleTree::<Blake3>::from_leaf_hashes(roots).unwrap();
        assert_eq!(batch.root(), whole.root());
        for g in 0..27u64 {
            let p = batch_proof(&segments[(g / 8) as usize], g % 8, &batch, g / 8).unwrap();
            let flat: Vec<Hash> = p.hashes().copied().collect();
            assert_eq!(flat, whole.inclusion_proof(g).unwrap().hashes);
        }
    }
}
