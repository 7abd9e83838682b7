//! Multi-leaf proofs: one proof for a sorted set of distinct leaves, with
//! each hash that several paths share included once and no hash that the
//! leaves themselves determine.

use super::check_len;
use crate::error::{TreeError, VerifyError};
use crate::suite::{Hash, Suite};
use crate::tree::MerkleTree;

/// Proof that the leaves at `indices` (strictly increasing) are in the tree
/// of `tree_size` leaves.
///
/// `hashes` lists, level by level from the leaves up and left to right within
/// a level, the sibling of every known node whose sibling is neither known
/// nor absent (an odd last node is carried up and needs none); a node is
/// known if it is one of the leaves or was computed from known nodes below.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MultiProof {
    /// The leaf indices, strictly increasing.
    pub indices: Vec<u64>,
    /// Number of leaves in the tree.
    pub tree_size: u64,
    /// The proof hashes, in the order described above.
    pub hashes: Vec<Hash>,
}

impl MultiProof {
    /// The root this proof leads to from `leaf_hashes` (one per index, in order).
    ///
    /// # Errors
    ///
    /// As [`root_from_multi_proof`].
    pub fn root<S: Suite>(&self, leaf_hashes: &[Hash]) -> Result<Hash, VerifyError> {
        root_from_multi_proof::<S>(&self.indices, leaf_hashes, self.tree_size, &self.hashes)
    }

    /// Checks the proof; see [`verify_multi`].
    ///
    /// # Errors
    ///
    /// As [`verify_multi`].
    pub fn verify<S: Suite>(&self, leaf_hashes: &[Hash], root: &Hash) -> Result<(), VerifyError> {
        verify_multi::<S>(
            &self.indices,
            leaf_hashes,
            self.tree_size,
            &self.hashes,
            root,
        )
    }
}

/// Why an index list is not a valid multi-proof index list.
enum IndexProblem {
    Empty,
    OutOfRange { index: u64 },
    Unsorted { position: usize },
    Duplicate { index: u64 },
}

/// Checks that `indices` is non-empty, strictly increasing and below `size`.
fn check_indices(indices: &[u64], size: u64) -> Result<(), IndexProblem> {
    if indices.is_empty() {
        return Err(IndexProblem::Empty);
    }
    for (position, &index) in indices.iter().enumerate() {
        if index >= size {
            return Err(IndexProblem::OutOfRange { index });
        }
        if position > 0 {
            let previous = indices[position - 1];
            if index == previous {
                return Err(IndexProblem::Duplicate { index });
            }
            if index < previous {
                return Err(IndexProblem::Unsorted { position });
            }
        }
    }
    Ok(())
}

/// Number of hashes in the multi-proof of `indices` (valid: non-empty,
/// strictly increasing, below `size`) in a tree of `size` leaves.
pub fn multi_proof_len(indices: &[u64], size: u64) -> usize {
    let mut level = indices.to_vec();
    let mut count = 0;
    walk(&mut level, size, |_, _, _| count += 1);
    count
}

/// Walks the known nodes up the tree from `known` (valid indices at height
/// 0), calling `need(height, sibling_index, known_index)` for every proof
/// hash in proof order. Leaves `known` as the root's single index.
fn walk(known: &mut Vec<u64>, size: u64, mut need: impl FnMut(u32, u64, u64)) {
    let mut last = size - 1;
    let mut height = 0;
    while last > 0 {
        let mut read = 0;
        let mut write = 0;
        while read < known.len() {
            let index = known[read];
            if index & 1 == 1 {
                need(height, index - 1, index);
                read += 1;
            } else if read + 1 < known.len() && known[read + 1] == index + 1 {
                read += 2;
            } else {
                if index < last {
                    need(height, index + 1, index);
                }
                read += 1;
            }
            known[write] = index >> 1;
            write += 1;
        }
        known.truncate(write);
        height += 1;
        last >>= 1;
    }
}

impl<S: Suite> MerkleTree<S> {
    /// The multi-leaf proof of `indices` (strictly increasing).
    ///
    /// # Errors
    ///
    /// [`TreeError::NoIndices`], [`TreeError::IndexOutOfRange`],
    /// [`TreeError::UnsortedIndices`], [`TreeError::DuplicateIndex`].
    pub fn multi_proof(&self, indices: &[u64]) -> Result<MultiProof, TreeError> {
        let size = self.size();
        check_indices(indices, size).map_err(|problem| match problem {
            IndexProblem::Empty => TreeError::NoIndices,
            IndexProblem::OutOfRange { index } => TreeError::IndexOutOfRange { index, size },
            IndexProblem::Unsorted { position } => TreeError::UnsortedIndices { position },
            IndexProblem::Duplicate { index } => TreeError::DuplicateIndex { index },
        })?;
        let mut known = indices.to_vec();
        let mut hashes = Vec::new();
        walk(&mut known, size, |height, sibling, _| {
            hashes.push(self.node_at(height, sibling))
        });
        Ok(MultiProof {
            indices: indices.to_vec(),
            tree_size: size,
            hashes,
        })
    }
}

/// The root a multi-proof leads to from `leaf_hashes` at `indices` in a tree
/// of `size` leaves. Validates everything before hashing.
///
/// # Errors
///
/// [`VerifyError::EmptyTree`], [`VerifyError::NoIndices`],
/// [`VerifyError::LeafCountMismatch`], then [`VerifyError::IndexOutOfRange`],
/// [`VerifyError::DuplicateIndex`], [`VerifyError::UnsortedIndices`] (checked
/// index by index, in order), then [`VerifyError::TooFewHashes`] /
/// [`VerifyError::TooManyHashes`].
pub fn root_from_multi_proof<S: Suite>(
    indices: &[u64],
    leaf_hashes: &[Hash],
    size: u64,
    proof: &[Hash],
) -> Result<Hash, VerifyError> {
    if size == 0 {
        return Err(VerifyError::EmptyTree);
    }
    if indices.is_empty() {
        return Err(VerifyError::NoIndices);
    }
    if indices.len() != leaf_hashes.len() {
        return Err(VerifyError::LeafCountMismatch {
            indices: indices.len(),
            leaves: leaf_hashes.len(),
        });
    }
    check_indices(indices, size).map_err(|problem| match problem {
        IndexProblem::Empty => VerifyError::NoIndices,
        IndexProblem::OutOfRange { index } => VerifyError::IndexOutOfRange { index, size },
        IndexProblem::Unsorted { position } => VerifyError::UnsortedIndices { position },
        IndexProblem::Duplicate { index } => VerifyError::DuplicateIndex { index },
    })?;
    check_len(multi_proof_len(indices, size), proof.len())?;

    let mut known: Vec<(u64, Hash)> = indices
        .iter()
        .copied()
        .zip(leaf_hashes.iter().copied())
        .collect();
    let mut siblings = proof.iter();
    let mut next_sibling = || {
        let sibling = siblings.next();
        debug_assert!(sibling.is_some(), "proof length was checked");
        sibling.copied().unwrap_or_default()
    };
    let mut last = size - 1;
    while last > 0 {
        let mut read = 0;
        let mut write = 0;
        while read < known.len() {
            let (index, hash) = known[read];
            let parent = if index & 1 == 1 {
                read += 1;
                S::hash_node(&next_sibling(), &hash)
            } else if read + 1 < known.len() && known[read + 1].0 == index + 1 {
                let right = known[read + 1].1;
                read += 2;
                S::hash_node(&hash, &right)
            } else {
                read += 1;
                if index < last {
                    S::hash_node(&hash, &next_sibling())
                } else {
                    hash
                }
            };
            known[write] = (index >> 1, parent);
            write += 1;
        }
        known.truncate(write);
        last >>= 1;
    }
    Ok(known[0].1)
}

/// Checks that `leaf_hashes` are at `indices` (strictly increasing) in the
/// tree of `size` leaves whose root is `root`.
///
/// Duplicate or unsorted indices are rejected, not sorted or merged: a
/// verifier that accepts them can be shown proofs for leaves that are not in
/// the tree (the forged multiproof attack on `rs_merkle`).
///
/// ```
/// use proofmark_merkle::{Blake3, MerkleTree, Suite, verify_multi};
///
/// let data: Vec<String> = (0..10).map(|i| format!("record {i}")).collect();
/// let tree = MerkleTree::<Blake3>::from_leaves(&data)?;
/// let proof = tree.multi_proof(&[2, 3, 7])?;
/// let leaves: Vec<_> = [2, 3, 7].iter().map(|&i| tree.leaf_hashes()[i]).collect();
/// verify_multi::<Blake3>(&proof.indices, &leaves, 10, &proof.hashes, &tree.root())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// The malformed-input errors of [`root_from_multi_proof`], and
/// [`VerifyError::RootMismatch`] if the proof leads to another root.
pub fn verify_multi<S: Suite>(
    indices: &[u64],
    leaf_hashes: &[Hash],
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    let computed = root_from_multi_proof::<S>(indices, leaf_hashes, size, proof)?;
    if computed == *root {
        Ok(())
    } else {
        Err(VerifyError::RootMismatch {
            expected: *root,
            computed,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::shape::inclusion_proof_len;
    use crate::suite::{Blake3, Sha256Rfc6962};

    fn leaves<S: Suite>(n: u64) -> Vec<Hash> {
        (0..n).map(|i| S::hash_leaf(&i.to_le_bytes())).collect()
    }

    fn subsets_verify<S: Suite>() {
        for n in 1..=12u64 {
            let l = leaves::<S>(n);
            let tree = MerkleTree::<S>::from_leaf_hashes(l.clone()).unwrap();
            for mask in 1u32..(1 << n) {
                let indices: Vec<u64> = (0..n).filter(|i| mask & (1 << i) != 0).collect();
                let proof = tree.multi_proof(&indices).unwrap();
                let picked: Vec<Hash> = indices.iter().map(|&i| l[i as usize]).collect();
                proof.verify::<S>(&picked, &tree.root()).unwrap();
                assert_eq!(proof.hashes.len(), multi_proof_len(&indices, n));
                if indices.len() == 1 {
                    let single = tree.inclusion_proof(indices[0]).unwrap();
                    assert_eq!(proof.hashes, single.hashes);
                }
                let singles: usize = indices.iter().map(|&i| inclusion_proof_len(i, n)).sum();
                assert!(proof.hashes.len() <= singles);
            }
        }
    }

    #[test]
    fn every_subset_of_small_trees_verifies() {
        subsets_verify::<Blake3>();
        subsets_verify::<Sha256Rfc6962>();
    }

    #[test]
    fn all_leaves_need_no_hashes() {
        let l = leaves::<Blake3>(37);
        let tree = MerkleTree::<Blake3>::from_leaf_hashes(l.clone()).unwrap();
        let all: Vec<u64> = (0..37).collect();
        let proof = tree.multi_proof(&all).unwrap();
        assert!(proof.hashes.is_empty());
        proof.verify::<Blake3>(&l, &tree.root()).unwrap();
    }

    #[test]
    fn bad_index_lists_are_rejected() {
        let l = leaves::<Blake3>(8);
        let tree = MerkleTree::<Blake3>::from_leaf_hashes(l.clone()).unwrap();
        let root = tree.root();
        assert_eq!(tree.multi_proof(&[]), Err(TreeError::NoIndices));
        assert_eq!(
            tree.multi_proof(&[1, 1]),
            Err(TreeError::DuplicateIndex { index: 1 })
        );
        assert_eq!(
            tree.multi_proof(&[3, 1]),
            Err(TreeError::UnsortedIndices { position: 1 })
        );
        assert_eq!(
            tree.multi_proof(&[8]),
            Err(TreeError::IndexOutOfRange { index: 8, size: 8 })
        );
        let p = tree.multi_proof(&[1, 4]).unwrap();
        let two = [l[1], l[4]];
        let v = |idx: &[u64], lv: &[Hash], proof: &[Hash]| {
            verify_multi::<Blake3>(idx, lv, 8, proof, &root)
        };
        assert_eq!(v(&[], &[], &p.hashes), Err(VerifyError::NoIndices));
        assert_eq!(
            v(&[1], &two, &p.hashes),
            Err(VerifyError::LeafCountMismatch {
                indices: 1,
                leaves: 2
            })
        );
        assert_eq!(
            v(&[4, 1], &[l[4], l[1]], &p.hashes),
            Err(VerifyError::UnsortedIndices { position: 1 })
        );
        assert_eq!(
            v(&[1, 1], &[l[1], l[1]], &p.hashes),
            Err(VerifyError::DuplicateIndex { index: 1 })
        );
        assert_eq!(
            v(&[1, 9], &two, &p.hashes),
            Err(VerifyError::IndexOutOfRange { index: 9, size: 8 })
        );
        assert!(matches!(
            v(&[1, 4], &two, &p.hashes[1..]),
            Err(VerifyError::TooFewHashes { .. })
        ));
        let mut long = p.hashes.clone();
        long.push(root);
        assert!(matches!(
            v(&[1, 4], &two, &long),
            Err(VerifyError::TooManyHashes { .. })
        ));
        assert!(
            v(&[1, 4], &[l[1], l[5]], &p.hashes)
                .unwrap_err()
                .is_mismatch()
        );
        assert!(v(&[1, 4], &two, &p.hashes).is_ok());
        assert_eq!(
            verify_multi::<Blake3>(&[0], &[l[0]], 0, &[], &root),
            Err(VerifyError::EmptyTree)
        );
    }
}
