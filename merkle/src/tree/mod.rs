//! In-memory Merkle trees of the RFC 6962 shape.

mod build;

use std::fmt;
use std::marker::PhantomData;

pub use build::{
    PARALLEL_MIN_LEAF_DATA, PARALLEL_MIN_LEAVES, Parallelism, hash_leaf_records, hash_leaves,
};
pub(crate) use build::{hash_level, root_of};

use crate::error::TreeError;
use crate::shape::{level_len, tree_height};
use crate::suite::{Hash, Suite};

/// The root of the tree over `leaf_hashes` (already leaf-hashed, or any
/// 32-byte nodes), without keeping the tree. Parallel for large inputs.
///
/// # Errors
///
/// [`TreeError::EmptyTree`] for no leaves.
pub fn root_from_leaf_hashes<S: Suite>(leaf_hashes: &[Hash]) -> Result<Hash, TreeError> {
    MerkleTreeBuilder::new().root::<S>(leaf_hashes)
}

/// The root of the tree over raw leaf data: each item is leaf-hashed with
/// `S::hash_leaf` first.
///
/// # Errors
///
/// [`TreeError::EmptyTree`] for no leaves.
pub fn root_from_leaves<S: Suite, D: AsRef<[u8]> + Sync>(leaves: &[D]) -> Result<Hash, TreeError> {
    if leaves.is_empty() {
        return Err(TreeError::EmptyTree);
    }
    root_from_leaf_hashes::<S>(&hash_leaves::<S, D>(leaves))
}

/// The root of a batch: the RFC 6962-shaped tree over the segment roots in
/// plan order. Segment roots enter as nodes (they are combined with the node
/// hash only, never leaf-hashed again), so a one-segment batch's root is its
/// segment's root.
///
/// # Errors
///
/// [`TreeError::EmptyTree`] for no segments.
pub fn batch_root<S: Suite>(segment_roots: &[Hash]) -> Result<Hash, TreeError> {
    root_from_leaf_hashes::<S>(segment_roots)
}

/// Options for building a [`MerkleTree`].
///
/// ```
/// use proofmark_merkle::{Blake3, MerkleTreeBuilder, Suite};
///
/// let leaves: Vec<_> = (0u32..1000).map(|i| Blake3::hash_leaf(&i.to_le_bytes())).collect();
/// // Keep the leaves and the levels from height 4 up: 1/16 of the interior nodes.
/// let tree = MerkleTreeBuilder::new().with_stored_min_height(4).build::<Blake3>(leaves)?;
/// assert!(tree.level(2).is_none());
/// assert_eq!(tree.level(4).map(<[_]>::len), Some(63));
/// let proof = tree.inclusion_proof(7)?; // heights 0..4 are recomputed from the leaves
/// proof.verify::<Blake3>(&tree.leaf_hashes()[7], &tree.root())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MerkleTreeBuilder {
    stored_min_height: u32,
    parallelism: Parallelism,
}

impl Default for MerkleTreeBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl MerkleTreeBuilder {
    /// A builder that keeps every level and builds in parallel above
    /// [`PARALLEL_MIN_LEAVES`] leaves.
    pub const fn new() -> Self {
        Self {
            stored_min_height: 1,
            parallelism: Parallelism::Auto,
        }
    }

    /// Keep only the levels at heights `>= height` (and the leaves, always);
    /// the nodes below are recomputed from the leaves when a proof needs them.
    /// `0` and `1` keep everything. Each level kept costs about `32 / 2^h`
    /// bytes per leaf.
    pub const fn with_stored_min_height(mut self, height: u32) -> Self {
        self.stored_min_height = if height == 0 { 1 } else { height };
        self
    }

    /// Sets whether building may use the rayon pool.
    pub const fn with_parallelism(mut self, parallelism: Parallelism) -> Self {
        self.parallelism = parallelism;
        self
    }

    /// Builds the tree over `leaf_hashes` (taken by value: they become the
    /// tree's leaf level without a copy).
    ///
    /// # Errors
    ///
    /// [`TreeError::EmptyTree`] for no leaves.
    pub fn build<S: Suite>(&self, leaf_hashes: Vec<Hash>) -> Result<MerkleTree<S>, TreeError> {
        if leaf_hashes.is_empty() {
            return Err(TreeError::EmptyTree);
        }
        let levels =
            build::build_levels::<S>(&leaf_hashes, self.stored_min_height, self.parallelism);
        Ok(MerkleTree {
            leaves: leaf_hashes,
            min_height: self.stored_min_height,
            upper: levels.upper,
            root: levels.root,
            suite: PhantomData,
        })
    }

    /// Leaf-hashes `leaves` with `S::hash_leaf` and builds the tree.
    ///
    /// # Errors
    ///
    /// [`TreeError::EmptyTree`] for no leaves.
    pub fn build_from_leaves<S: Suite, D: AsRef<[u8]> + Sync>(
        &self,
        leaves: &[D],
    ) -> Result<MerkleTree<S>, TreeError> {
        self.build::<S>(hash_leaves::<S, D>(leaves))
    }

    /// The root over `leaf_hashes` without keeping any level.
    ///
    /// # Errors
    ///
    /// [`TreeError::EmptyTree`] for no leaves.
    pub fn root<S: Suite>(&self, leaf_hashes: &[Hash]) -> Result<Hash, TreeError> {
        if leaf_hashes.is_empty() {
            return Err(TreeError::EmptyTree);
        }
        Ok(root_of::<S>(leaf_hashes, self.parallelism))
    }
}

/// The stored parts of a [`MerkleTree`], for serialisation (the batch
/// layout's `.leaves` and `.tree` files) and for [`MerkleTree::from_parts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeParts {
    /// The leaf hashes (height 0).
    pub leaf_hashes: Vec<Hash>,
    /// Lowest stored height above the leaves (`>= 1`).
    pub stored_min_height: u32,
    /// The levels at heights `stored_min_height..=height`, lowest first; the
    /// last is the root alone. Empty when `stored_min_height > height`.
    pub upper_levels: Vec<Vec<Hash>>,
}

/// A Merkle tree of the RFC 6962 shape over `size() >= 1` leaf hashes, with
/// the leaves, the root and the levels chosen by [`MerkleTreeBuilder`] kept in
/// memory. Proof generation is in [`crate::proof`]
/// ([`inclusion_proof`](MerkleTree::inclusion_proof),
/// [`consistency_proof`](MerkleTree::consistency_proof),
/// [`multi_proof`](MerkleTree::multi_proof)).
pub struct MerkleTree<S: Suite> {
    leaves: Vec<Hash>,
    /// Lowest stored height above the leaves, `>= 1`.
    min_height: u32,
    /// Levels at heights `min_height..=height`.
    upper: Vec<Vec<Hash>>,
    root: Hash,
    suite: PhantomData<fn() -> S>,
}

impl<S: Suite> Clone for MerkleTree<S> {
    fn clone(&self) -> Self {
        Self {
            leaves: self.leaves.clone(),
            min_height: self.min_height,
            upper: self.upper.clone(),
            root: self.root,
            suite: PhantomData,
        }
    }
}

impl<S: Suite> PartialEq for MerkleTree<S> {
    fn eq(&self, other: &Self) -> bool {
        self.root == other.root
            && self.min_height == other.min_height
            && self.leaves == other.leaves
            && self.upper == other.upper
    }
}

impl<S: Suite> Eq for MerkleTree<S> {}

impl<S: Suite> fmt::Debug for MerkleTree<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MerkleTree")
            .field("suite", &S::NAME)
            .field("size", &self.size())
            .field("height", &self.height())
            .field("stored_min_height", &self.min_height)
            .field("root", &hex::encode(self.root))
            .finish()
    }
}

impl<S: Suite> MerkleTree<S> {
    /// Builds the tree over `leaf_hashes`, keeping every level.
    ///
    /// # Errors
    ///
    /// [`TreeError::EmptyTree`] for no leaves.
    pub fn from_leaf_hashes(leaf_hashes: Vec<Hash>) -> Result<Self, TreeError> {
        MerkleTreeBuilder::new().build(leaf_hashes)
    }

    /// Leaf-hashes `leaves` and builds the tree, keeping every level.
    ///
    /// # Errors
    ///
    /// [`TreeError::EmptyTree`] for no leaves.
    pub fn from_leaves<D: AsRef<[u8]> + Sync>(leaves: &[D]) -> Result<Self, TreeError> {
        MerkleTreeBuilder::new().build_from_leaves(leaves)
    }

    /// Rebuilds a tree from stored parts without rehashing the leaves.
    ///
    /// Checks that the leaves are not empty, that exactly the levels
    /// `stored_min_height..=height` are given, that each has the length the
    /// size requires, and that every stored level is the hash of the stored
    /// level below it (cost: one node hash per stored node above the lowest
    /// stored level). Whether the lowest stored level matches the leaves is
    /// left to [`MerkleTree::verify_stored_levels`] (cost: a full build), or
    /// to comparing [`MerkleTree::root`] with a root recorded elsewhere. When
    /// nothing above the leaves is stored, the root is recomputed.
    ///
    /// # Errors
    ///
    /// [`TreeError::EmptyTree`], [`TreeError::LevelCount`],
    /// [`TreeError::LevelLength`], [`TreeError::LevelMismatch`].
    pub fn from_parts(parts: TreeParts) -> Result<Self, TreeError> {
        let TreeParts {
            leaf_hashes,
            stored_min_height,
            upper_levels,
        } = parts;
        if leaf_hashes.is_empty() {
            return Err(TreeError::EmptyTree);
        }
        let min_height = stored_min_height.max(1);
        let size = leaf_hashes.len() as u64;
        let height = tree_height(size);
        let expected = if min_height <= height {
            (height - min_height + 1) as usize
        } else {
            0
        };
        if upper_levels.len() != expected {
            return Err(TreeError::LevelCount {
                min_height,
                expected,
                actual: upper_levels.len(),
            });
        }
        for (i, level) in upper_levels.iter().enumerate() {
            let h = min_height + i as u32;
            let want = level_len(size, h) as usize;
            if level.len() != want {
                return Err(TreeError::LevelLength {
                    height: h,
                    expected: want,
                    actual: level.len(),
                });
            }
        }
        let mut scratch = Vec::new();
        for (i, pair) in upper_levels.windows(2).enumerate() {
            scratch.resize(pair[1].len(), [0u8; 32]);
            hash_level::<S>(&pair[0], &mut scratch);
            if let Some(index) = scratch.iter().zip(&pair[1]).position(|(a, b)| a != b) {
                let height = min_height + i as u32 + 1;
                return Err(TreeError::LevelMismatch {
                    height,
                    index: index as u64,
                });
            }
        }
        let root = match upper_levels.last() {
            Some(top) => top[0],
            None => root_of::<S>(&leaf_hashes, Parallelism::Auto),
        };
        Ok(Self {
            leaves: leaf_hashes,
            min_height,
            upper: upper_levels,
            root,
            suite: PhantomData,
        })
    }

    /// The stored parts, for serialisation; [`MerkleTree::from_parts`] takes them back.
    pub fn into_parts(self) -> TreeParts {
        TreeParts {
            leaf_hashes: self.leaves,
            stored_min_height: self.min_height,
            upper_levels: self.upper,
        }
    }

    /// Recomputes every level from the leaves and compares it with the stored
    /// levels and the root.
    ///
    /// # Errors
    ///
    /// [`TreeError::LevelMismatch`] at the lowest wrong node.
    pub fn verify_stored_levels(&self) -> Result<(), TreeError> {
        let fresh = build::build_levels::<S>(&self.leaves, self.min_height, Parallelism::Auto);
        for (i, (a, b)) in fresh.upper.iter().zip(&self.upper).enumerate() {
            if let Some(index) = a.iter().zip(b).position(|(x, y)| x != y) {
                let height = self.min_height + i as u32;
                return Err(TreeError::LevelMismatch {
                    height,
                    index: index as u64,
                });
            }
        }
        if fresh.root != self.root {
            return Err(TreeError::LevelMismatch {
                height: self.height(),
                index: 0,
            });
        }
        Ok(())
    }

    /// The root hash.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// Number of leaves (always at least 1).
    pub fn size(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// Height of the root above the leaves: `ceil(log2(size))`.
    pub fn height(&self) -> u32 {
        tree_height(self.size())
    }

    /// The leaf hashes, in order.
    pub fn leaf_hashes(&self) -> &[Hash] {
        &self.leaves
    }

    /// Lowest stored height above the leaves (1 when every level is kept).
    pub fn stored_min_height(&self) -> u32 {
        self.min_height
    }

    /// The level at `height` if it is stored (height 0, the leaves, always is).
    pub fn level(&self, height: u32) -> Option<&[Hash]> {
        if height == 0 {
            return Some(&self.leaves);
        }
        let i = height.checked_sub(self.min_height)? as usize;
        self.upper.get(i).map(Vec::as_slice)
    }

    /// Every stored level with its height, leaves first, root last.
    pub fn levels(&self) -> impl Iterator<Item = (u32, &[Hash])> + '_ {
        let leaves = std::iter::once((0, self.leaves.as_slice()));
        let upper = self
            .upper
            .iter()
            .enumerate()
            .map(|(i, l)| (self.min_height + i as u32, l.as_slice()));
        leaves.chain(upper)
    }

    /// The stored levels above the leaves (heights `stored_min_height..=height`).
    pub fn upper_levels(&self) -> &[Vec<Hash>] {
        &self.upper
    }

    /// Bytes held by the stored levels above the leaves.
    pub fn upper_levels_bytes(&self) -> usize {
        self.upper.iter().map(|l| l.len() * 32).sum()
    }

    /// Node `index` at `height` (0 = leaves): the Merkle Tree Hash of leaves
    /// `[index * 2^height, min((index + 1) * 2^height, size))`. Recomputed
    /// from the leaves (up to `2^height - 1` node hashes) if not stored.
    ///
    /// # Errors
    ///
    /// [`TreeError::NodeOutOfRange`] if the tree has no such node.
    pub fn node(&self, height: u32, index: u64) -> Result<Hash, TreeError> {
        let size = self.size();
        if height > self.height() || index >= level_len(size, height) {
            return Err(TreeError::NodeOutOfRange {
                height,
                index,
                size,
            });
        }
        Ok(self.node_at(height, index))
    }

    /// [`MerkleTree::node`] for a position known to exist.
    pub(crate) fn node_at(&self, height: u32, index: u64) -> Hash {
        if let Some(level) = self.level(height) {
            return level[index as usize];
        }
        let lo = (index as usize) << height;
        let hi = ((index as usize + 1) << height).min(self.leaves.len());
        root_of::<S>(&self.leaves[lo..hi], Parallelism::Sequential)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::suite::{Blake3, Sha256Rfc6962};

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n)
            .map(|i| Sha256Rfc6962::hash_leaf(&i.to_be_bytes()))
            .collect()
    }

    #[test]
    fn empty_input_is_a_typed_error() {
        assert_eq!(
            root_from_leaf_hashes::<Blake3>(&[]),
            Err(TreeError::EmptyTree)
        );
        assert_eq!(
            root_from_leaves::<Blake3, &[u8]>(&[]),
            Err(TreeError::EmptyTree)
        );
        assert_eq!(
            MerkleTree::<Blake3>::from_leaf_hashes(vec![]),
            Err(TreeError::EmptyTree)
        );
        assert_eq!(batch_root::<Blake3>(&[]), Err(TreeError::EmptyTree));
    }

    #[test]
    fn single_leaf_is_its_own_root() {
        let l = leaves(1);
        let tree = MerkleTree::<Sha256Rfc6962>::from_leaf_hashes(l.clone()).unwrap();
        assert_eq!(tree.root(), l[0]);
        assert_eq!(tree.height(), 0);
        assert_eq!(tree.levels().count(), 1);
    }

    #[test]
    fn nodes_agree_whatever_is_stored() {
        for n in [1u64, 2, 3, 7, 8, 9, 33, 100, 1000] {
            let full = MerkleTree::<Blake3>::from_leaf_hashes(leaves(n)).unwrap();
            for min_height in [2, 3, 4, 12] {
                let sparse = MerkleTreeBuilder::new()
                    .with_stored_min_height(min_height)
                    .build::<Blake3>(leaves(n))
                    .unwrap();
                assert_eq!(sparse.root(), full.root());
                for h in 0..=full.height() {
                    for i in 0..level_len(n, h) {
                        assert_eq!(sparse.node(h, i).unwrap(), full.node(h, i).unwrap());
                    }
                    assert!(sparse.node(h, level_len(n, h)).is_err());
                }
                assert!(sparse.node(full.height() + 1, 0).is_err());
            }
        }
    }

    #[test]
    fn parts_round_trip_and_are_validated() {
        for min_height in [1, 3, 30] {
            let tree = MerkleTreeBuilder::new()
                .with_stored_min_height(min_height)
                .build::<Blake3>(leaves(77))
                .unwrap();
            let parts = tree.clone().into_parts();
            let back = MerkleTree::<Blake3>::from_parts(parts.clone()).unwrap();
            assert_eq!(back, tree);
            back.verify_stored_levels().unwrap();

            if !parts.upper_levels.is_empty() {
                let mut short = parts.clone();
                short.upper_levels.pop();
                assert!(matches!(
                    MerkleTree::<Blake3>::from_parts(short),
                    Err(TreeError::LevelCount { .. })
                ));
                let mut ragged = parts.clone();
                ragged.upper_levels[0].push([0; 32]);
                assert!(matches!(
                    MerkleTree::<Blake3>::from_parts(ragged),
                    Err(TreeError::LevelLength { .. })
                ));
            }
            if parts.upper_levels.len() >= 2 {
                let mut wrong = parts.clone();
                wrong.upper_levels[0][0][0] ^= 1;
                assert_eq!(
                    MerkleTree::<Blake3>::from_parts(wrong),
                    Err(TreeError::LevelMismatch {
                        height: min_height + 1,
                        index: 0
                    })
                );
            }
            // A corrupt lowest level passes the cheap checks but not the full one.
            let mut wrong_leaf = parts.clone();
            wrong_leaf.leaf_hashes[5][0] ^= 1;
            let loaded = MerkleTree::<Blake3>::from_parts(wrong_leaf).unwrap();
            if min_height <= loaded.height() {
                assert!(loaded.verify_stored_levels().is_err());
            } else {
                assert_ne!(loaded.root(), tree.root());
            }
        }
        let empty = TreeParts {
            leaf_hashes: vec![],
            stored_min_height: 1,
            upper_levels: vec![],
        };
        assert_eq!(
            MerkleTree::<Blake3>::from_parts(empty),
            Err(TreeError::EmptyTree)
        );
    }

    #[test]
    fn levels_report_heights_and_sizes() {
        let tree = MerkleTreeBuilder::new()
            .with_stored_min_height(2)
            .build::<Blake3>(leaves(10))
            .unwrap();
        let got: Vec<(u32, usize)> = tree.levels().map(|(h, l)| (h, l.len())).collect();
        assert_eq!(got, vec![(0, 10), (2, 3), (3, 2), (4, 1)]);
        assert_eq!(tree.level(1), None);
        assert_eq!(tree.upper_levels_bytes(), 6 * 32);
        assert_eq!(tree.level(4), Some(&[tree.root()][..]));
    }
}
