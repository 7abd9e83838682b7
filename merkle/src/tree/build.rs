//! Bottom-up, batched and (above a measured size) parallel computation of
//! tree levels.
//!
//! The leaves are cut into aligned blocks of `2^SUBTREE_HEIGHT` leaves. Each
//! block's subtree is built by one task (rayon across blocks), level by level
//! in cache-sized buffers, every level hashed with one [`Suite::hash_nodes`]
//! call; the block roots then form the level from which the few remaining
//! levels are built. Because blocks are aligned, a block's part of every level
//! is one contiguous slice of that level, so stored levels are written in
//! place, with no copying and no allocation per node.

use rayon::prelude::*;

use crate::shape::{level_len, tree_height};
use crate::suite::{Hash, Suite};

/// Height of the subtrees built by one task: `2^13` leaf hashes are 256 KiB,
/// which keeps a subtree's levels in the L2 cache while it is built.
pub(crate) const SUBTREE_HEIGHT: u32 = 13;

/// Trees with fewer leaves than this are built on the calling thread; at this
/// size and above the subtrees are built in parallel (measured: below it the
/// rayon hand-off costs more than it saves; see `benches/README.md`).
pub const PARALLEL_MIN_LEAVES: usize = 1 << 14;

/// Leaf hashing runs in parallel from this many leaves up.
pub const PARALLEL_MIN_LEAF_DATA: usize = 1 << 11;

const ZERO: Hash = [0u8; 32];

/// Records per rayon task in [`hash_leaf_records`].
const RECORDS_PER_TASK: usize = 1024;

/// Whether building may use the rayon thread pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parallelism {
    /// Parallel from [`PARALLEL_MIN_LEAVES`] leaves up, when the pool has
    /// more than one thread (the default).
    #[default]
    Auto,
    /// Always on the calling thread.
    Sequential,
    /// Parallel whatever the size (for tests and measurements).
    Parallel,
}

impl Parallelism {
    fn use_pool(self, leaves: usize) -> bool {
        match self {
            Parallelism::Auto => leaves >= PARALLEL_MIN_LEAVES && rayon::current_num_threads() > 1,
            Parallelism::Sequential => false,
            Parallelism::Parallel => true,
        }
    }
}

/// The stored levels of a built tree and its root.
pub(crate) struct Levels {
    /// Levels at heights `min_height..=tree_height`, lowest first (empty when
    /// `min_height > tree_height`).
    pub(crate) upper: Vec<Vec<Hash>>,
    /// The root.
    pub(crate) root: Hash,
}

/// Computes one level from the level below: `out.len()` must be
/// `children.len().div_ceil(2)`; an odd last child is carried up unchanged.
#[inline]
pub(crate) fn hash_level<S: Suite>(children: &[Hash], out: &mut [Hash]) {
    debug_assert_eq!(out.len(), children.len().div_ceil(2));
    let pairs = children.len() / 2;
    S::hash_nodes(&children[..2 * pairs], &mut out[..pairs]);
    if children.len() % 2 == 1 {
        out[pairs] = children[children.len() - 1];
    }
}

/// Builds the tree over `leaves` (at least one), keeping the levels at
/// heights `>= min_height` (`min_height >= 1`).
pub(crate) fn build_levels<S: Suite>(
    leaves: &[Hash],
    min_height: u32,
    parallelism: Parallelism,
) -> Levels {
    assert!(!leaves.is_empty(), "build_levels needs at least one leaf");
    debug_assert!(min_height >= 1);
    let size = leaves.len() as u64;
    let height = tree_height(size);
    if height == 0 {
        return Levels {
            upper: Vec::new(),
            root: leaves[0],
        };
    }
    let block_height = height.min(SUBTREE_HEIGHT);
    let block_len = 1usize << block_height;
    let blocks = leaves.len().div_ceil(block_len);

    // Stored levels below the block roots are written in place by the blocks.
    let mut upper: Vec<Vec<Hash>> = (min_height..block_height)
        .map(|h| vec![ZERO; level_len(size, h) as usize])
        .collect();
    let mut outs: Vec<Vec<&mut [Hash]>> = (0..blocks)
        .map(|_| Vec::with_capacity(block_height as usize))
        .collect();
    let mut stored = upper.iter_mut();
    for h in 1..block_height {
        let level = if h >= min_height { stored.next() } else { None };
        match level {
            Some(level) => {
                for (out, chunk) in outs.iter_mut().zip(level.chunks_mut(block_len >> h)) {
                    out.push(chunk);
                }
            }
            None => outs.iter_mut().for_each(|out| out.push(Default::default())),
        }
    }

    let block_roots: Vec<Hash> = if parallelism.use_pool(leaves.len()) {
        leaves
            .par_chunks(block_len)
            .zip(outs.into_par_iter())
            .map_init(Scratch::default, |scratch, (block, mut out)| {
                build_block::<S>(block, block_height, &mut out, scratch)
            })
            .collect()
    } else {
        let mut scratch = Scratch::default();
        leaves
            .chunks(block_len)
            .zip(outs)
            .map(|(block, mut out)| build_block::<S>(block, block_height, &mut out, &mut scratch))
            .collect()
    };

    // The levels from the block roots up are small: build them here.
    let mut level = block_roots;
    for h in block_height..=height {
        if h > block_height {
            let mut next = vec![ZERO; level.len().div_ceil(2)];
            hash_level::<S>(&level, &mut next);
            level = next;
        }
        if h >= min_height {
            upper.push(level.clone());
        }
    }
    Levels {
        upper,
        root: level[0],
    }
}

/// The root of the tree over `leaves` (at least one), keeping nothing.
pub(crate) fn root_of<S: Suite>(leaves: &[Hash], parallelism: Parallelism) -> Hash {
    build_levels::<S>(leaves, u32::MAX, parallelism).root
}

/// Two level buffers reused from block to block by one worker.
#[derive(Default)]
struct Scratch {
    current: Vec<Hash>,
    next: Vec<Hash>,
}

/// Where the level most recently computed by [`build_block`] lives.
#[derive(Clone, Copy)]
enum Current {
    Leaves,
    Stored(usize),
    Scratch,
}

/// Builds the subtree of one aligned block of leaves up to `height`, writing
/// the levels at heights `1..height` into `outs[h - 1]` where that slice is
/// not empty, and returns the block's root (its node at `height`).
fn build_block<S: Suite>(
    leaves: &[Hash],
    height: u32,
    outs: &mut [&mut [Hash]],
    scratch: &mut Scratch,
) -> Hash {
    let half = leaves.len().div_ceil(2);
    let Scratch { current, next } = scratch;
    if current.len() < half {
        current.resize(half, ZERO);
        next.resize(half, ZERO);
    }
    let mut at = Current::Leaves;
    let mut len = leaves.len();
    for h in 1..=height {
        let out_len = len.div_ceil(2);
        let slot = h as usize - 1;
        if slot < outs.len() && !outs[slot].is_empty() {
            let (below, rest) = outs.split_at_mut(slot);
            let src: &[Hash] = match at {
                Current::Leaves => leaves,
                Current::Stored(p) => &below[p][..len],
                Current::Scratch => &current[..len],
            };
            hash_level::<S>(src, &mut rest[0][..out_len]);
            at = Current::Stored(slot);
        } else {
            let src: &[Hash] = match at {
                Current::Leaves => leaves,
                Current::Stored(p) => &outs[p][..len],
                Current::Scratch => &current[..len],
            };
            hash_level::<S>(src, &mut next[..out_len]);
            std::mem::swap(current, next);
            at = Current::Scratch;
        }
        len = out_len;
    }
    match at {
        Current::Leaves => leaves[0],
        Current::Stored(p) => outs[p][0],
        Current::Scratch => current[0],
    }
}

/// Leaf hashes of many inputs, in parallel above [`PARALLEL_MIN_LEAF_DATA`] inputs.
pub fn hash_leaves<S: Suite, D: AsRef<[u8]> + Sync>(leaves: &[D]) -> Vec<Hash> {
    if leaves.len() >= PARALLEL_MIN_LEAF_DATA && rayon::current_num_threads() > 1 {
        leaves
            .par_iter()
            .map(|d| S::hash_leaf(d.as_ref()))
            .collect()
    } else {
        leaves.iter().map(|d| S::hash_leaf(d.as_ref())).collect()
    }
}

/// Leaf hashes of records of `record_len` bytes stored back to back in
/// `data`, batched with [`Suite::hash_leaves_same_len`] and parallel above
/// [`PARALLEL_MIN_LEAF_DATA`] records.
///
/// # Errors
///
/// [`TreeError::RaggedRecords`](crate::TreeError::RaggedRecords) if
/// `record_len` is 0 or does not divide `data.len()`.
pub fn hash_leaf_records<S: Suite>(
    data: &[u8],
    record_len: usize,
) -> Result<Vec<Hash>, crate::TreeError> {
    if record_len == 0 || !data.len().is_multiple_of(record_len) {
        return Err(crate::TreeError::RaggedRecords {
            data_len: data.len(),
            record_len,
        });
    }
    let count = data.len() / record_len;
    let mut out = vec![ZERO; count];
    if count >= PARALLEL_MIN_LEAF_DATA && rayon::current_num_threads() > 1 {
        data.par_chunks(RECORDS_PER_TASK * record_len)
            .zip(out.par_chunks_mut(RECORDS_PER_TASK))
            .for_each(|(d, o)| S::hash_leaves_same_len(d, record_len, o));
    } else {
        S::hash_leaves_same_len(data, record_len, &mut out);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::{Blake3, Sha256Rfc6962};

    /// RFC 6962 MTH by its recursive definition.
    fn mth<S: Suite>(leaves: &[Hash]) -> Hash {
        if leaves.len() == 1 {
            return leaves[0];
        }
        let k = crate::shape::split_point(leaves.len() as u64) as usize;
        S::hash_node(&mth::<S>(&leaves[..k]), &mth::<S>(&leaves[k..]))
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n as u64)
            .map(|i| Blake3::hash_leaf(&i.to_le_bytes()))
            .collect()
    }

    fn check_levels<S: Suite>(leaves: &[Hash], levels: &Levels, min_height: u32) {
        let size = leaves.len() as u64;
        let height = tree_height(size);
        let expected = if min_height <= height {
            (height - min_height + 1) as usize
        } else {
            0
        };
        assert_eq!(levels.upper.len(), expected);
        for (i, level) in levels.upper.iter().enumerate() {
            let h = min_height + i as u32;
            assert_eq!(level.len() as u64, level_len(size, h));
            for (j, node) in level.iter().enumerate() {
                let lo = j << h;
                let hi = ((j + 1) << h).min(leaves.len());
                assert_eq!(*node, mth::<S>(&leaves[lo..hi]), "height {h} node {j}");
            }
        }
    }

    fn roots_agree<S: Suite>() {
        let sizes = (1..=70).chain([255, 256, 257, 1000, 8191, 8192, 8193, 16384, 20000, 40001]);
        for n in sizes {
            let l = leaves(n);
            let want = mth::<S>(&l);
            for p in [
                Parallelism::Sequential,
                Parallelism::Parallel,
                Parallelism::Auto,
            ] {
                assert_eq!(root_of::<S>(&l, p), want, "n {n} {p:?}");
            }
        }
    }

    #[test]
    fn roots_match_the_recursive_definition() {
        roots_agree::<Blake3>();
        roots_agree::<Sha256Rfc6962>();
    }

    #[test]
    fn stored_levels_are_the_subtree_hashes() {
        for n in [1usize, 2, 3, 5, 8, 13, 100, 1025, 8193, 17000] {
            let l = leaves(n);
            for min_height in [1, 2, 3, 5, 13, 14, 40] {
                for p in [Parallelism::Sequential, Parallelism::Parallel] {
                    let levels = build_levels::<Blake3>(&l, min_height, p);
                    assert_eq!(levels.root, mth::<Blake3>(&l));
                    check_levels::<Blake3>(&l, &levels, min_height);
                }
            }
        }
    }

    #[test]
    fn leaf_records_match_single_hashes() {
        for len in [1usize, 64, 100, 1024] {
            let data: Vec<u8> = (0..len * 3000).map(|i| (i % 253) as u8).collect();
            let got = hash_leaf_records::<Blake3>(&data, len).expect("divides");
            let want: Vec<Hash> = data.chunks(len).map(Blake3::hash_leaf).collect();
            assert_eq!(got, want);
            let chunks: Vec<&[u8]> = data.chunks(len).collect();
            assert_eq!(hash_leaves::<Blake3, _>(&chunks), want);
        }
        assert!(hash_leaf_records::<Blake3>(&[0u8; 10], 3).is_err());
        assert!(hash_leaf_records::<Blake3>(&[0u8; 10], 0).is_err());
    }
}
