//! Streaming root computation: leaf hashes pushed in order, `O(log n)` memory.

use std::fmt;
use std::marker::PhantomData;

use crate::error::TreeError;
use crate::suite::{Hash, Suite};
use crate::tree::{Parallelism, root_of};

/// Largest aligned run that [`StreamingBuilder::push_leaf_hashes`] hashes as
/// one perfect subtree (batched with `Suite::hash_nodes`).
const RUN_HEIGHT: u32 = 13;

/// Computes the root of a tree whose leaf hashes arrive one by one (or in
/// slices), keeping only the roots of the perfect subtrees seen so far: at
/// most 64 hashes. The root equals the one [`MerkleTree`](crate::MerkleTree)
/// computes over the same leaves.
///
/// ```
/// use proofmark_merkle::{Blake3, StreamingBuilder, Suite, root_from_leaves};
///
/// let records = [&b"a"[..], b"b", b"c"];
/// let mut stream = StreamingBuilder::<Blake3>::new();
/// for r in records {
///     stream.push_leaf(r);
/// }
/// assert_eq!(stream.finalize()?, root_from_leaves::<Blake3, _>(&records)?);
/// # Ok::<(), proofmark_merkle::TreeError>(())
/// ```
pub struct StreamingBuilder<S: Suite> {
    size: u64,
    /// `(height, root)` of the perfect subtrees, leftmost first; heights
    /// strictly decrease, and they are the set bits of `size`.
    stack: Vec<(u32, Hash)>,
    suite: PhantomData<fn() -> S>,
}

impl<S: Suite> Default for StreamingBuilder<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Suite> Clone for StreamingBuilder<S> {
    fn clone(&self) -> Self {
        Self {
            size: self.size,
            stack: self.stack.clone(),
            suite: PhantomData,
        }
    }
}

impl<S: Suite> fmt::Debug for StreamingBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamingBuilder")
            .field("suite", &S::NAME)
            .field("size", &self.size)
            .field("subtrees", &self.stack.len())
            .finish()
    }
}

impl<S: Suite> StreamingBuilder<S> {
    /// An empty builder.
    pub fn new() -> Self {
        Self {
            size: 0,
            stack: Vec::with_capacity(64),
            suite: PhantomData,
        }
    }

    /// Number of leaves pushed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf's data (leaf-hashed with `S::hash_leaf`).
    pub fn push_leaf(&mut self, data: &[u8]) {
        self.push_leaf_hash(S::hash_leaf(data));
    }

    /// Appends one leaf hash.
    pub fn push_leaf_hash(&mut self, leaf_hash: Hash) {
        self.push_subtree(0, leaf_hash);
    }

    /// Appends many leaf hashes; aligned runs are hashed in batches.
    pub fn push_leaf_hashes(&mut self, leaf_hashes: &[Hash]) {
        let mut rest = leaf_hashes;
        while !rest.is_empty() {
            let aligned = if self.size == 0 {
                u64::BITS
            } else {
                self.size.trailing_zeros()
            };
            let fits = usize::BITS - 1 - rest.len().leading_zeros();
            let height = aligned.min(fits).min(RUN_HEIGHT);
            let (run, tail) = rest.split_at(1 << height);
            let root = if height == 0 {
                run[0]
            } else {
                root_of::<S>(run, Parallelism::Sequential)
            };
            self.push_subtree(height, root);
            rest = tail;
        }
    }

    /// Pushes the root of a perfect subtree of `2^height` leaves; `size` must
    /// be a multiple of `2^height`.
    fn push_subtree(&mut self, height: u32, root: Hash) {
        debug_assert!(self.size.is_multiple_of(1u64 << height));
        self.size += 1 << height;
        let mut height = height;
        let mut node = root;
        while let Some(&(top_height, top)) = self.stack.last() {
            if top_height != height {
                break;
            }
            self.stack.pop();
            node = S::hash_node(&top, &node);
            height += 1;
        }
        self.stack.push((height, node));
    }

    /// The root of the leaves pushed so far.
    ///
    /// # Errors
    ///
    /// [`TreeError::EmptyTree`] if nothing was pushed.
    pub fn root(&self) -> Result<Hash, TreeError> {
        let mut subtrees = self.stack.iter().rev();
        let (_, mut root) = *subtrees.next().ok_or(TreeError::EmptyTree)?;
        for (_, left) in subtrees {
            root = S::hash_node(left, &root);
        }
        Ok(root)
    }

    /// The root of all the leaves pushed.
    ///
    /// # Errors
    ///
    /// [`TreeError::EmptyTree`] if nothing was pushed.
    pub fn finalize(self) -> Result<Hash, TreeError> {
        self.root()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::suite::{Blake3, Sha256Rfc6962};
    use crate::tree::root_from_leaf_hashes;

    fn check<S: Suite>() {
        let leaves: Vec<Hash> = (0u32..20_000)
            .map(|i| S::hash_leaf(&i.to_le_bytes()))
            .collect();
        let mut one_by_one = StreamingBuilder::<S>::new();
        assert_eq!(one_by_one.root(), Err(TreeError::EmptyTree));
        for (i, leaf) in leaves.iter().enumerate() {
            one_by_one.push_leaf_hash(*leaf);
            let n = i + 1;
            if n <= 300 || n % 997 == 0 {
                assert_eq!(
                    one_by_one.root().unwrap(),
                    root_from_leaf_hashes::<S>(&leaves[..n]).unwrap()
                );
            }
        }
        assert!(one_by_one.stack.len() <= 64);
        let whole = root_from_leaf_hashes::<S>(&leaves).unwrap();
        assert_eq!(one_by_one.clone().finalize().unwrap(), whole);

        // Slices of awkward lengths, including runs longer than one batch.
        let mut sliced = StreamingBuilder::<S>::new();
        let mut at = 0;
        for len in [1usize, 2, 5, 8192, 3, 16384, 1, 7000].into_iter().cycle() {
            let end = (at + len).min(leaves.len());
            sliced.push_leaf_hashes(&leaves[at..end]);
            at = end;
            assert_eq!(sliced.size(), at as u64);
            assert_eq!(
                sliced.root().unwrap(),
                root_from_leaf_hashes::<S>(&leaves[..at]).unwrap()
            );
            if at == leaves.len() {
                break;
            }
        }
        assert_eq!(sliced.finalize().unwrap(), whole);
    }

    #[test]
    fn streaming_root_equals_tree_root() {
        check::<Blake3>();
        check::<Sha256Rfc6962>();
    }

    #[test]
    fn push_leaf_hashes_the_data() {
        let mut s = StreamingBuilder::<Blake3>::new();
        s.push_leaf(b"x");
        assert_eq!(s.finalize().unwrap(), Blake3::hash_leaf(b"x"));
    }
}
