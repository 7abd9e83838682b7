//! Consistency proofs between two sizes of one tree, RFC 9162 section 2.1.4.

use super::check_len;
use crate::error::{TreeError, VerifyError};
use crate::shape::{consistency_proof_len, consistency_start, path_siblings};
use crate::suite::{Hash, Suite};
use crate::tree::MerkleTree;

/// Proof that the tree of `old_size` leaves is a prefix of the tree of
/// `tree_size` leaves (RFC 9162 `PROOF(m, D[n])`, the same nodes and order as
/// Certificate Transparency's).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConsistencyProof {
    /// The older, smaller size `m` (`0 < m <= tree_size`).
    pub old_size: u64,
    /// The newer size `n`.
    pub tree_size: u64,
    /// The proof hashes.
    pub hashes: Vec<Hash>,
}

impl ConsistencyProof {
    /// Checks the proof; see [`verify_consistency`].
    ///
    /// # Errors
    ///
    /// As [`verify_consistency`].
    pub fn verify<S: Suite>(&self, old_root: &Hash, root: &Hash) -> Result<(), VerifyError> {
        verify_consistency::<S>(self.old_size, self.tree_size, &self.hashes, old_root, root)
    }
}

impl<S: Suite> MerkleTree<S> {
    /// The consistency proof from the tree of the first `old_size` leaves to
    /// this tree. Empty when `old_size == size()`.
    ///
    /// # Errors
    ///
    /// [`TreeError::InvalidOldSize`] unless `0 < old_size <= size()`.
    pub fn consistency_proof(&self, old_size: u64) -> Result<ConsistencyProof, TreeError> {
        let size = self.size();
        if old_size == 0 || old_size > size {
            return Err(TreeError::InvalidOldSize { old_size, size });
        }
        let mut hashes = Vec::with_capacity(consistency_proof_len(old_size, size));
        if old_size < size {
            // The largest perfect subtree ending at old_size, then its path.
            let (height, index) = consistency_start(old_size);
            if index != 0 {
                hashes.push(self.node_at(height, index));
            }
            hashes.extend(path_siblings(height, index, size).map(|(h, i)| self.node_at(h, i)));
        }
        Ok(ConsistencyProof {
            old_size,
            tree_size: size,
            hashes,
        })
    }

    /// The root of the tree of the first `size` leaves (this tree's root for
    /// `size == self.size()`), from the perfect subtrees that make it up.
    ///
    /// # Errors
    ///
    /// [`TreeError::InvalidOldSize`] unless `0 < size <= self.size()`.
    pub fn root_at(&self, size: u64) -> Result<Hash, TreeError> {
        if size == 0 || size > self.size() {
            return Err(TreeError::InvalidOldSize {
                old_size: size,
                size: self.size(),
            });
        }
        // Perfect subtrees: one per set bit of `size`, largest (leftmost) first.
        let mut root: Option<Hash> = None;
        let mut end = size;
        while end > 0 {
            let height = end.trailing_zeros();
            let start = end - (1 << height);
            let node = self.node_at(height, start >> height);
            root = Some(match root {
                None => node,
                Some(right) => S::hash_node(&node, &right),
            });
            end = start;
        }
        root.ok_or(TreeError::EmptyTree)
    }
}

/// Checks that the tree of `old_size` leaves with root `old_root` is a
/// prefix of the tree of `size` leaves with root `root` (RFC 9162 2.1.4.2).
/// Validates before hashing; does not allocate.
///
/// ```
/// use proofmark_merkle::{Sha256Rfc6962, MerkleTree, verify_consistency};
///
/// let tree = MerkleTree::<Sha256Rfc6962>::from_leaves(&["a", "b", "c", "d", "e"])?;
/// let old_root = tree.root_at(3)?;
/// let proof = tree.consistency_proof(3)?;
/// verify_consistency::<Sha256Rfc6962>(3, 5, &proof.hashes, &old_root, &tree.root())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`VerifyError::InvalidSizes`] unless `0 < old_size <= size`;
/// [`VerifyError::TooFewHashes`] / [`VerifyError::TooManyHashes`] unless the
/// proof has exactly the length the sizes require;
/// [`VerifyError::OldRootMismatch`] / [`VerifyError::RootMismatch`] if the
/// proof leads to other roots (for `old_size == size`, the proof is empty and
/// the roots must be equal: `RootMismatch` otherwise).
pub fn verify_consistency<S: Suite>(
    old_size: u64,
    size: u64,
    proof: &[Hash],
    old_root: &Hash,
    root: &Hash,
) -> Result<(), VerifyError> {
    if old_size == 0 || old_size > size {
        return Err(VerifyError::InvalidSizes { old_size, size });
    }
    check_len(consistency_proof_len(old_size, size), proof.len())?;
    if old_size == size {
        return if old_root == root {
            Ok(())
        } else {
            Err(VerifyError::RootMismatch {
                expected: *root,
                computed: *old_root,
            })
        };
    }
    let (height, mut index) = consistency_start(old_size);
    let mut hashes = proof.iter();
    // The start node is given (or, for a power-of-two old size, is the old root).
    let start = if index == 0 {
        Some(old_root)
    } else {
        hashes.next()
    };
    let Some(&start) = start else {
        return Err(VerifyError::TooFewHashes {
            expected: 1,
            actual: 0,
        });
    };
    let mut old = start;
    let mut new = start;
    let mut last = (size - 1) >> height;
    while last > 0 {
        if index & 1 == 1 || index < last {
            let Some(sibling) = hashes.next() else {
                debug_assert!(false, "proof length was checked");
                break;
            };
            if index & 1 == 1 {
                // A left sibling: inside both trees.
                old = S::hash_node(sibling, &old);
                new = S::hash_node(sibling, &new);
            } else {
                // A right sibling: only in the new tree.
                new = S::hash_node(&new, sibling);
            }
        }
        index >>= 1;
        last >>= 1;
    }
    if old != *old_root {
        return Err(VerifyError::OldRootMismatch {
            expected: *old_root,
            computed: old,
        });
    }
    if new != *root {
        return Err(VerifyError::RootMismatch {
            expected: *root,
            computed: new,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::shape::split_point;
    use crate::suite::{Blake3, Sha256Rfc6962};
    use crate::tree::{Parallelism, root_of};

    /// RFC 9162 2.1.4.1 SUBPROOF, by recursion on the definition.
    fn subproof<S: Suite>(m: usize, leaves: &[Hash], complete: bool) -> Vec<Hash> {
        let n = leaves.len();
        let mth = |l: &[Hash]| root_of::<S>(l, Parallelism::Sequential);
        if m == n {
            return if complete { vec![] } else { vec![mth(leaves)] };
        }
        let k = split_point(n as u64) as usize;
        if m <= k {
            let mut p = subproof::<S>(m, &leaves[..k], complete);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = subproof::<S>(m - k, &leaves[k..], false);
            p.push(mth(&leaves[..k]));
            p
        }
    }

    fn proofs_match<S: Suite>() {
        for n in 1..=64u64 {
            let leaves: Vec<Hash> = (0..n).map(|i| S::hash_leaf(&i.to_le_bytes())).collect();
            let tree = MerkleTree::<S>::from_leaf_hashes(leaves.clone()).unwrap();
            for m in 1..=n {
                let proof = tree.consistency_proof(m).unwrap();
                let want = if m == n {
                    vec![]
                } else {
                    subproof::<S>(m as usize, &leaves, true)
                };
                assert_eq!(proof.hashes, want, "m {m} n {n}");
                let old_root = root_of::<S>(&leaves[..m as usize], Parallelism::Sequential);
                assert_eq!(tree.root_at(m).unwrap(), old_root);
                proof.verify::<S>(&old_root, &tree.root()).unwrap();
            }
            assert!(tree.consistency_proof(0).is_err());
            assert!(tree.consistency_proof(n + 1).is_err());
        }
    }

    #[test]
    fn proofs_are_rfc9162_subproofs() {
        proofs_match::<Blake3>();
        proofs_match::<Sha256Rfc6962>();
    }

    #[test]
    fn bad_inputs_and_mismatches_are_told_apart() {
        let leaves: Vec<Hash> = (0u8..7).map(|i| Blake3::hash_leaf(&[i])).collect();
        let tree = MerkleTree::<Blake3>::from_leaf_hashes(leaves).unwrap();
        let root = tree.root();
        let old = tree.root_at(3).unwrap();
        let p = tree.consistency_proof(3).unwrap().hashes;
        let v = |m, n, proof: &[Hash], a: &Hash, b: &Hash| {
            verify_consistency::<Blake3>(m, n, proof, a, b)
        };
        assert_eq!(
            v(0, 7, &p, &old, &root),
            Err(VerifyError::InvalidSizes {
                old_size: 0,
                size: 7
            })
        );
        assert_eq!(
            v(8, 7, &p, &old, &root),
            Err(VerifyError::InvalidSizes {
                old_size: 8,
                size: 7
            })
        );
        assert!(matches!(
            v(3, 7, &p[1..], &old, &root),
            Err(VerifyError::TooFewHashes { .. })
        ));
        let mut long = p.clone();
        long.push(root);
        assert!(matches!(
            v(3, 7, &long, &old, &root),
            Err(VerifyError::TooManyHashes { .. })
        ));
        assert!(matches!(
            v(3, 7, &p, &root, &root),
            Err(VerifyError::OldRootMismatch { .. })
        ));
        assert!(matches!(
            v(3, 7, &p, &old, &old),
            Err(VerifyError::RootMismatch { .. })
        ));
        assert_eq!(v(7, 7, &[], &root, &root), Ok(()));
        assert!(matches!(
            v(7, 7, &[], &old, &root),
            Err(VerifyError::RootMismatch { .. })
        ));
        assert!(matches!(
            v(7, 7, &p, &root, &root),
            Err(VerifyError::TooManyHashes { .. })
        ));
        assert!(v(3, 7, &p, &old, &root).is_ok());
    }
}
