//! Inclusion proofs (audit paths), RFC 9162 section 2.1.3.

use rayon::prelude::*;

use super::{check_len, climb};
use crate::error::{TreeError, VerifyError};
use crate::shape::{inclusion_proof_len, path_siblings};
use crate::suite::{Hash, Suite};
use crate::tree::MerkleTree;

/// Proof that a leaf is at `index` in the tree of `tree_size` leaves: the
/// audit path, sibling hashes from the leaf's level up (RFC 9162 `PATH`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InclusionProof {
    /// The leaf's index (0-based).
    pub index: u64,
    /// Number of leaves in the tree.
    pub tree_size: u64,
    /// The audit path, bottom-up.
    pub hashes: Vec<Hash>,
}

impl InclusionProof {
    /// The root this proof leads to from `leaf_hash`; see [`root_from_inclusion_proof`].
    ///
    /// # Errors
    ///
    /// As [`root_from_inclusion_proof`].
    pub fn root<S: Suite>(&self, leaf_hash: &Hash) -> Result<Hash, VerifyError> {
        root_from_inclusion_proof::<S>(leaf_hash, self.index, self.tree_size, &self.hashes)
    }

    /// Checks the proof; see [`verify_inclusion`].
    ///
    /// # Errors
    ///
    /// As [`verify_inclusion`].
    pub fn verify<S: Suite>(&self, leaf_hash: &Hash, root: &Hash) -> Result<(), VerifyError> {
        verify_inclusion::<S>(leaf_hash, self.index, self.tree_size, &self.hashes, root)
    }
}

impl<S: Suite> MerkleTree<S> {
    /// The inclusion proof of leaf `index`.
    ///
    /// # Errors
    ///
    /// [`TreeError::IndexOutOfRange`] if `index >= size()`.
    pub fn inclusion_proof(&self, index: u64) -> Result<InclusionProof, TreeError> {
        let size = self.size();
        if index >= size {
            return Err(TreeError::IndexOutOfRange { index, size });
        }
        let hashes = path_siblings(0, index, size)
            .map(|(h, i)| self.node_at(h, i))
            .collect();
        Ok(InclusionProof {
            index,
            tree_size: size,
            hashes,
        })
    }

    /// Inclusion proofs of many leaves, built in parallel.
    ///
    /// # Errors
    ///
    /// [`TreeError::IndexOutOfRange`] for the first index out of range.
    pub fn inclusion_proofs(&self, indices: &[u64]) -> Result<Vec<InclusionProof>, TreeError> {
        indices
            .par_iter()
            .with_min_len(64)
            .map(|&i| self.inclusion_proof(i))
            .collect()
    }
}

/// The root that an audit path leads to from `leaf_hash` at `index` in a tree
/// of `size` leaves. Validates before hashing; does not allocate.
///
/// # Errors
///
/// [`VerifyError::EmptyTree`] for `size == 0`, [`VerifyError::IndexOutOfRange`]
/// for `index >= size`, [`VerifyError::TooFewHashes`] /
/// [`VerifyError::TooManyHashes`] unless `proof.len()` is exactly what
/// `(index, size)` requires.
pub fn root_from_inclusion_proof<S: Suite>(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, VerifyError> {
    if size == 0 {
        return Err(VerifyError::EmptyTree);
    }
    if index >= size {
        return Err(VerifyError::IndexOutOfRange { index, size });
    }
    check_len(inclusion_proof_len(index, size), proof.len())?;
    Ok(climb::<S>(*leaf_hash, index, size - 1, proof))
}

/// Checks that `leaf_hash` is at `index` in the tree of `size` leaves whose
/// root is `root`, given the audit path `proof` (RFC 9162 2.1.3.2).
///
/// ```
/// use proofmark_merkle::{Blake3, MerkleTree, Suite, VerifyError, verify_inclusion};
///
/// let tree = MerkleTree::<Blake3>::from_leaves(&["a", "b", "c"])?;
/// let proof = tree.inclusion_proof(2)?;
/// let leaf = Blake3::hash_leaf(b"c");
/// verify_inclusion::<Blake3>(&leaf, 2, 3, &proof.hashes, &tree.root())?;
/// let wrong = Blake3::hash_leaf(b"x");
/// assert!(matches!(
///     verify_inclusion::<Blake3>(&wrong, 2, 3, &proof.hashes, &tree.root()),
///     Err(VerifyError::RootMismatch { .. })
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// The malformed-input errors of [`root_from_inclusion_proof`], and
/// [`VerifyError::RootMismatch`] if the path leads to another root.
pub fn verify_inclusion<S: Suite>(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    let computed = root_from_inclusion_proof::<S>(leaf_hash, index, size, proof)?;
    if computed == *root {
        Ok(())
    } else {
        Err(VerifyError::RootMismatch {
            expected: *root,
            computed,
        })
    }
}

/// One inclusion check for [`verify_inclusion_bulk`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InclusionCheck<'a> {
    /// The leaf hash claimed to be in the tree.
    pub leaf_hash: &'a Hash,
    /// Its claimed index.
    pub index: u64,
    /// The tree size.
    pub size: u64,
    /// The audit path.
    pub proof: &'a [Hash],
    /// The trusted root.
    pub root: &'a Hash,
}

impl<'a> InclusionCheck<'a> {
    /// A check of `proof` for `leaf_hash` against `root`.
    pub fn new(leaf_hash: &'a Hash, proof: &'a InclusionProof, root: &'a Hash) -> Self {
        Self {
            leaf_hash,
            index: proof.index,
            size: proof.tree_size,
            proof: &proof.hashes,
            root,
        }
    }
}

/// Runs many inclusion checks in parallel (rayon); result `i` is check `i`'s.
pub fn verify_inclusion_bulk<S: Suite>(
    checks: &[InclusionCheck<'_>],
) -> Vec<Result<(), VerifyError>> {
    checks
        .par_iter()
        .with_min_len(256)
        .map(|c| verify_inclusion::<S>(c.leaf_hash, c.index, c.size, c.proof, c.root))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::shape::split_point;
    use crate::suite::{Blake3, Sha256Rfc6962};

    /// RFC 9162 2.1.3.1 PATH, by recursion on the definition.
    fn rfc_path<S: Suite>(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        let n = leaves.len();
        if n == 1 {
            return vec![];
        }
        let k = split_point(n as u64) as usize;
        let mth = |l: &[Hash]| crate::tree::root_of::<S>(l, crate::Parallelism::Sequential);
        if m < k {
            let mut p = rfc_path::<S>(m, &leaves[..k]);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = rfc_path::<S>(m - k, &leaves[k..]);
            p.push(mth(&leaves[..k]));
            p
        }
    }

    fn paths_match<S: Suite>() {
        for n in 1..=70u64 {
            let leaves: Vec<Hash> = (0..n).map(|i| S::hash_leaf(&i.to_le_bytes())).collect();
            let tree = MerkleTree::<S>::from_leaf_hashes(leaves.clone()).unwrap();
            for i in 0..n {
                let proof = tree.inclusion_proof(i).unwrap();
                assert_eq!(
                    proof.hashes,
                    rfc_path::<S>(i as usize, &leaves),
                    "n {n} i {i}"
                );
                proof
                    .verify::<S>(&leaves[i as usize], &tree.root())
                    .unwrap();
            }
            assert_eq!(
                tree.inclusion_proof(n),
                Err(TreeError::IndexOutOfRange { index: n, size: n })
            );
        }
    }

    #[test]
    fn audit_paths_are_rfc9162_paths() {
        paths_match::<Blake3>();
        paths_match::<Sha256Rfc6962>();
    }

    #[test]
    fn malformed_inputs_are_rejected_before_hashing() {
        let leaves: Vec<Hash> = (0u8..5).map(|i| Blake3::hash_leaf(&[i])).collect();
        let tree = MerkleTree::<Blake3>::from_leaf_hashes(leaves.clone()).unwrap();
        let root = tree.root();
        let p = tree.inclusion_proof(1).unwrap();
        let v = |leaf: &Hash, index, size, proof: &[Hash]| {
            verify_inclusion::<Blake3>(leaf, index, size, proof, &root)
        };
        assert_eq!(v(&leaves[1], 1, 0, &p.hashes), Err(VerifyError::EmptyTree));
        assert_eq!(
            v(&leaves[1], 5, 5, &p.hashes),
            Err(VerifyError::IndexOutOfRange { index: 5, size: 5 })
        );
        assert_eq!(
            v(&leaves[1], 1, 5, &p.hashes[..2]),
            Err(VerifyError::TooFewHashes {
                expected: 3,
                actual: 2
            })
        );
        let mut long = p.hashes.clone();
        long.push([0; 32]);
        assert_eq!(
            v(&leaves[1], 1, 5, &long),
            Err(VerifyError::TooManyHashes {
                expected: 3,
                actual: 4
            })
        );
        assert!(v(&leaves[0], 1, 5, &p.hashes).unwrap_err().is_mismatch());
        assert!(v(&leaves[1], 1, 5, &p.hashes).is_ok());
    }

    #[test]
    fn bulk_verification_reports_each_check() {
        let leaves: Vec<Hash> = (0u32..3000)
            .map(|i| Blake3::hash_leaf(&i.to_le_bytes()))
            .collect();
        let tree = MerkleTree::<Blake3>::from_leaf_hashes(leaves.clone()).unwrap();
        let root = tree.root();
        let indices: Vec<u64> = (0..3000).collect();
        let proofs = tree.inclusion_proofs(&indices).unwrap();
        let bad_leaf = [7u8; 32];
        let checks: Vec<InclusionCheck<'_>> = proofs
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let leaf = if i % 1000 == 999 {
                    &bad_leaf
                } else {
                    &leaves[i]
                };
                InclusionCheck::new(leaf, p, &root)
            })
            .collect();
        let results = verify_inclusion_bulk::<Blake3>(&checks);
        for (i, r) in results.iter().enumerate() {
            assert_eq!(r.is_err(), i % 1000 == 999, "check {i}");
        }
        assert!(tree.inclusion_proofs(&[1, 3000]).is_err());
    }
}
