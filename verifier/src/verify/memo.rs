//! Memoised batch-proof checks for bulk verification.
//!
//! Many records of a bulk audit sit in the same batch, and their proofs share
//! the upper part of their paths. [`ProofMemo`] remembers the nodes of the
//! last path that was checked all the way to the trusted root, for one tree:
//! the key is everything that fixes the path's shape and its end (the suite,
//! the batch root, the segment's index and the segment count, and the
//! segment's size), and each remembered node has its step (level, segment
//! part first) and its index at that level. Walking the next proof of the
//! same tree, as soon as its computed node at (level, index) equals a
//! remembered node at the same (level, index) (either a node of the path or
//! one of the path's siblings), the rest of its path is compared with the
//! remembered one instead of being hashed: every remaining sibling of the
//! proof must equal the remembered node at the same position. Then the full
//! walk would combine exactly the same inputs at every step above and so
//! reach the trusted root: the outcome is the one of the full check,
//! without the hashing. Any difference (a sibling that does not match, no
//! common node, another tree) falls back to the full walk, and only paths
//! that reached the root are remembered. Malformed proofs (sizes, indices,
//! lengths) are left to the full check, which gives their errors.
//!
//! The memo only helps when proofs of the same tree come one after another
//! with nearby leaves, so bulk verification takes its reports in the order of
//! their records' batch root and claimed leaf index, and keeps one memo per
//! tree ([`MemoSet`]): the records of one report, in different segments, each
//! meet the last path of their own segment.

use proofmark_anchor::verify_leaf_proof;
use proofmark_merkle::shape::inclusion_proof_len;
use proofmark_merkle::{BatchProof, Hash, SuiteId, VerifyError};

/// The tree a batch proof claims its leaf is in, as far as its path depends
/// on it. Proofs with equal keys have paths of the same shape that end at
/// the same trusted root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct PathKey {
    suite: SuiteId,
    root: Hash,
    segment_index: u64,
    segment_count: u64,
    segment_size: u64,
}

impl PathKey {
    /// The key of `proof` checked against `root` in `suite`.
    pub(crate) fn new(suite: SuiteId, root: &Hash, proof: &BatchProof) -> Self {
        PathKey {
            suite,
            root: *root,
            segment_index: proof.upper.index,
            segment_count: proof.upper.tree_size,
            segment_size: proof.segment.tree_size,
        }
    }
}

/// The remembered path of one tree (see the module docs). One memo per
/// thread: it is not shared.
#[derive(Debug, Default)]
pub(crate) struct ProofMemo {
    key: Option<PathKey>,
    /// The leaf's index in its segment on the remembered path.
    index: u64,
    /// Per step of the combined path (segment steps, then upper steps): the
    /// node entering the step.
    nodes: Vec<Hash>,
    /// Per step: the sibling combined at that step (`None`: carried up).
    siblings: Vec<Option<Hash>>,
    /// The current proof's siblings per step, and the nodes it computed.
    scratch_siblings: Vec<Option<Hash>>,
    scratch_nodes: Vec<Hash>,
    /// Proofs settled by a remembered node, and proofs walked in full.
    pub(crate) hits: u64,
    pub(crate) walks: u64,
}

/// Where the current path met the remembered one.
#[derive(Debug, Clone, Copy)]
enum Meet {
    /// At step `k`, the remembered path's own node.
    Node(usize),
    /// At step `k`, the remembered path's sibling.
    Sibling(usize),
}

/// How a climb ended.
enum Climb {
    /// It met the remembered path.
    Met(Meet),
    /// It reached the top: the root it computed.
    Top(Hash),
}

/// The positions along a batch proof's combined path.
#[derive(Debug, Clone, Copy)]
struct Shape {
    /// The leaf's index in its segment.
    leaf_index: u64,
    /// Steps in the segment part.
    segment_steps: usize,
    /// The segment's index among the segments.
    segment_index: u64,
}

impl Shape {
    fn of(proof: &BatchProof) -> Self {
        Shape {
            leaf_index: proof.segment.index,
            segment_steps: steps(proof.segment.index, proof.segment.tree_size).count(),
            segment_index: proof.upper.index,
        }
    }

    /// The node index at step `k`.
    fn index_at(&self, k: usize) -> u64 {
        match k.checked_sub(self.segment_steps) {
            None => self.leaf_index >> k,
            Some(u) => self.segment_index >> u,
        }
    }
}

/// The steps of an inclusion path of entry `index` in a tree of `size`:
/// whether each has a sibling (else the node is carried up).
fn steps(index: u64, size: u64) -> impl Iterator<Item = bool> {
    let mut i = index;
    let mut last = size.saturating_sub(1);
    std::iter::from_fn(move || {
        if last == 0 {
            return None;
        }
        let has = i & 1 == 1 || i < last;
        i >>= 1;
        last >>= 1;
        Some(has)
    })
}

/// Whether the proof has the shape its sizes and indices require (what the
/// full check validates before hashing).
fn well_formed(proof: &BatchProof) -> bool {
    [&proof.segment, &proof.upper].iter().all(|p| {
        p.tree_size > 0
            && p.index < p.tree_size
            && p.hashes.len() == inclusion_proof_len(p.index, p.tree_size)
    })
}

/// The node combining `node` at `index` with `sibling` (none: carried up).
fn combine(suite: SuiteId, index: u64, node: &Hash, sibling: Option<&Hash>) -> Hash {
    match sibling {
        None => *node,
        Some(s) if index & 1 == 1 => suite.hash_node(s, node),
        Some(s) => suite.hash_node(node, s),
    }
}

impl ProofMemo {
    /// Checks `proof` from `leaf` against the trusted `root`, with the same
    /// outcome as [`verify_leaf_proof`].
    ///
    /// # Errors
    ///
    /// The [`VerifyError`] of [`verify_leaf_proof`].
    pub(crate) fn verify(
        &mut self,
        suite: SuiteId,
        leaf: &Hash,
        proof: &BatchProof,
        root: &Hash,
    ) -> Result<(), VerifyError> {
        if !well_formed(proof) {
            return verify_leaf_proof(suite, leaf, proof, root);
        }
        let key = PathKey::new(suite, root, proof);
        let shape = Shape::of(proof);
        self.fill_siblings(proof);
        let same_tree = self.key == Some(key);
        let computed = match self.climb(suite, leaf, shape, same_tree) {
            Climb::Met(meet) if self.rest_matches(meet) => {
                self.remember_below(meet, shape.leaf_index);
                self.hits += 1;
                return Ok(());
            }
            // A sibling above the meeting point differs: walk it all.
            Climb::Met(_) => match self.climb(suite, leaf, shape, false) {
                Climb::Top(r) => r,
                Climb::Met(_) => return verify_leaf_proof(suite, leaf, proof, root),
            },
            Climb::Top(r) => r,
        };
        self.walks += 1;
        if computed == *root {
            self.key = Some(key);
            self.index = shape.leaf_index;
            std::mem::swap(&mut self.nodes, &mut self.scratch_nodes);
            std::mem::swap(&mut self.siblings, &mut self.scratch_siblings);
            Ok(())
        } else {
            // The full check says why (a root mismatch).
            verify_leaf_proof(suite, leaf, proof, root)
        }
    }

    /// The proof's siblings per step into `scratch_siblings`.
    fn fill_siblings(&mut self, proof: &BatchProof) {
        self.scratch_siblings.clear();
        for part in [&proof.segment, &proof.upper] {
            let mut hashes = part.hashes.iter();
            for has in steps(part.index, part.tree_size) {
                self.scratch_siblings
                    .push(if has { hashes.next().copied() } else { None });
            }
        }
    }

    /// Climbs from `leaf`, recording the nodes entering each step in
    /// `scratch_nodes`, until (with `use_memo`) a node equals the remembered
    /// node or sibling at the same position, or to the top.
    fn climb(&mut self, suite: SuiteId, leaf: &Hash, shape: Shape, use_memo: bool) -> Climb {
        self.scratch_nodes.clear();
        let remembered = Shape {
            leaf_index: self.index,
            ..shape
        };
        let mut r = *leaf;
        for k in 0..self.scratch_siblings.len() {
            let i = shape.index_at(k);
            if use_memo {
                let pi = remembered.index_at(k);
                if i == pi && self.nodes.get(k) == Some(&r) {
                    return Climb::Met(Meet::Node(k));
                }
                if i == pi ^ 1 && self.siblings.get(k) == Some(&Some(r)) {
                    return Climb::Met(Meet::Sibling(k));
                }
            }
            self.scratch_nodes.push(r);
            r = combine(suite, i, &r, self.scratch_siblings[k].as_ref());
        }
        Climb::Top(r)
    }

    /// Whether every sibling of the current proof from the meeting point up
    /// is the remembered node at its position.
    fn rest_matches(&self, meet: Meet) -> bool {
        let same_above = |from: usize| {
            self.scratch_siblings.get(from..) == self.siblings.get(from..)
                && self.scratch_siblings.len() == self.siblings.len()
        };
        match meet {
            Meet::Node(k) => same_above(k),
            // The current node is the remembered sibling, so the current
            // sibling must be the remembered node; above, the paths are one.
            Meet::Sibling(k) => {
                self.scratch_siblings.get(k).copied().flatten() == self.nodes.get(k).copied()
                    && same_above(k + 1)
            }
        }
    }

    /// Makes the current path the remembered one: its nodes and siblings
    /// below the meeting point (above it, they are the remembered ones).
    fn remember_below(&mut self, meet: Meet, leaf_index: u64) {
        let k = match meet {
            Meet::Node(k) | Meet::Sibling(k) => k,
        };
        self.nodes[..k].copy_from_slice(&self.scratch_nodes[..k]);
        self.siblings[..k].copy_from_slice(&self.scratch_siblings[..k]);
        if let Meet::Sibling(k) = meet {
            let node = self.nodes[k];
            self.nodes[k] = self.siblings[k].unwrap_or(node);
            self.siblings[k] = Some(node);
        }
        self.index = leaf_index;
    }
}

/// Memos kept at most by a [`MemoSet`] (then the oldest is reused).
const MEMO_SET_TREES: usize = 64;

/// One [`ProofMemo`] per tree (per [`PathKey`]: a batch root and one of its
/// segments), so that records of several segments taken in turn, as the
/// records of one report are, each meet the path of their own segment. Each
/// verification has the outcome of [`verify_leaf_proof`], as with one memo.
#[derive(Debug, Default)]
pub(crate) struct MemoSet {
    memos: Vec<ProofMemo>,
    /// The memo reused next when every slot is taken.
    next: usize,
}

impl MemoSet {
    /// Checks `proof` from `leaf` against the trusted `root` with the memo of
    /// its tree, with the same outcome as [`verify_leaf_proof`].
    ///
    /// # Errors
    ///
    /// The [`VerifyError`] of [`verify_leaf_proof`].
    pub(crate) fn verify(
        &mut self,
        suite: SuiteId,
        leaf: &Hash,
        proof: &BatchProof,
        root: &Hash,
    ) -> Result<(), VerifyError> {
        let key = PathKey::new(suite, root, proof);
        let slot = match self.memos.iter().position(|m| m.key == Some(key)) {
            Some(i) => i,
            None if self.memos.len() < MEMO_SET_TREES => {
                self.memos.push(ProofMemo::default());
                self.memos.len() - 1
            }
            None => {
                let i = self.next;
                self.next = (self.next + 1) % MEMO_SET_TREES;
                i
            }
        };
        self.memos[slot].verify(suite, leaf, proof, root)
    }

    /// Proofs settled by a remembered node so far, over every tree.
    pub(crate) fn hits(&self) -> u64 {
        self.memos.iter().map(|m| m.hits).sum()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proofmark_merkle::{Blake3, MerkleTree, Sha256Rfc6962, Suite, batch_proof};
    use proptest::prelude::*;

    /// A batch of segments of `sizes` leaves: (leaf hashes per segment, proofs per leaf, root).
    struct Batch {
        leaves: Vec<Vec<Hash>>,
        proofs: Vec<Vec<BatchProof>>,
        root: Hash,
    }

    fn batch<S: Suite>(sizes: &[u64]) -> Batch {
        let leaves: Vec<Vec<Hash>> = sizes
            .iter()
            .enumerate()
            .map(|(s, &n)| {
                (0..n)
                    .map(|i| S::hash_leaf(&[s as u8, i as u8, (i >> 8) as u8]))
                    .collect()
            })
            .collect();
        let segments: Vec<MerkleTree<S>> = leaves
            .iter()
            .map(|l| MerkleTree::from_leaf_hashes(l.clone()).unwrap())
            .collect();
        let upper =
            MerkleTree::<S>::from_leaf_hashes(segments.iter().map(MerkleTree::root).collect())
                .unwrap();
        let proofs = segments
            .iter()
            .enumerate()
            .map(|(s, t)| {
                (0..t.size())
                    .map(|i| batch_proof(t, i, &upper, s as u64).unwrap())
                    .collect()
            })
            .collect();
        Batch {
            leaves,
            proofs,
            root: upper.root(),
        }
    }

    /// The memo's outcome, asserted equal to the full check's.
    fn check(
        memo: &mut ProofMemo,
        suite: SuiteId,
        leaf: &Hash,
        p: &BatchProof,
        root: &Hash,
    ) -> bool {
        let got = memo.verify(suite, leaf, p, root);
        assert_eq!(got, verify_leaf_proof(suite, leaf, p, root), "{p:?}");
        got.is_ok()
    }

    fn flip(h: &mut Hash) {
        h[7] ^= 0x20;
    }

    /// Every corruption of a proof of `(s, i)` that the full check rejects,
    /// each tried right after the good proof put its path in the memo.
    fn corruptions(b: &Batch, s: usize, i: usize) -> Vec<(String, Hash, BatchProof, Hash)> {
        let good = &b.proofs[s][i];
        let leaf = b.leaves[s][i];
        let mut out = Vec::new();
        let mut wrong_leaf = leaf;
        flip(&mut wrong_leaf);
        out.push(("leaf".into(), wrong_leaf, good.clone(), b.root));
        let mut wrong_root = b.root;
        flip(&mut wrong_root);
        out.push(("root".into(), leaf, good.clone(), wrong_root));
        for j in 0..good.segment.hashes.len() {
            let mut p = good.clone();
            flip(&mut p.segment.hashes[j]);
            out.push((format!("segment sibling {j}"), leaf, p, b.root));
        }
        for j in 0..good.upper.hashes.len() {
            let mut p = good.clone();
            flip(&mut p.upper.hashes[j]);
            out.push((format!("upper sibling {j}"), leaf, p, b.root));
        }
        // The right leaf and path at another index (same shape or not).
        for d in [1u64, 2, 3] {
            for index in [good.segment.index.wrapping_sub(d), good.segment.index + d] {
                let mut p = good.clone();
                p.segment.index = index;
                out.push((format!("index {index}"), leaf, p, b.root));
            }
            for index in [good.upper.index.wrapping_sub(d), good.upper.index + d] {
                let mut p = good.clone();
                p.upper.index = index;
                out.push((format!("segment index {index}"), leaf, p, b.root));
            }
        }
        for size in [
            good.segment.tree_size + 1,
            good.segment.tree_size.saturating_sub(1),
            good.segment.tree_size * 2,
        ] {
            let mut p = good.clone();
            p.segment.tree_size = size;
            out.push((format!("segment size {size}"), leaf, p, b.root));
        }
        for count in [good.upper.tree_size + 1, good.upper.tree_size * 2] {
            let mut p = good.clone();
            p.upper.tree_size = count;
            out.push((format!("segment count {count}"), leaf, p, b.root));
        }
        // Another leaf's hash with this proof, and this leaf with a neighbour's proof.
        let other = (i + 1) % b.leaves[s].len();
        if other != i {
            out.push((
                "neighbour leaf".into(),
                b.leaves[s][other],
                good.clone(),
                b.root,
            ));
            out.push((
                "neighbour proof".into(),
                leaf,
                b.proofs[s][other].clone(),
                b.root,
            ));
        }
        // Swapped siblings: a sibling from another level.
        if good.segment.hashes.len() >= 2 {
            let mut p = good.clone();
            p.segment.hashes.swap(0, 1);
            out.push(("swapped siblings".into(), leaf, p, b.root));
        }
        out
    }

    fn every_corruption_fails_after_a_memo_fill<S: Suite>() {
        let b = batch::<S>(&[13, 16, 1, 7, 32, 5]);
        let suite = S::ID;
        let mut tried = 0;
        for s in 0..b.leaves.len() {
            for i in 0..b.leaves[s].len() {
                for (what, leaf, p, root) in corruptions(&b, s, i) {
                    // Fill the memo with the neighbours' paths and this one's.
                    let mut memo = ProofMemo::default();
                    for j in [i.saturating_sub(1), (i + 1) % b.leaves[s].len(), i] {
                        assert!(check(
                            &mut memo,
                            suite,
                            &b.leaves[s][j],
                            &b.proofs[s][j],
                            &b.root
                        ));
                    }
                    let accepted = check(&mut memo, suite, &leaf, &p, &root);
                    // Only a corruption the full check accepts may pass (e.g.
                    // a size that combines the same way); `check` compared them.
                    if accepted {
                        assert!(verify_leaf_proof(suite, &leaf, &p, &root).is_ok(), "{what}");
                    }
                    tried += 1;
                    // And the memo still accepts the good proof afterwards.
                    assert!(check(
                        &mut memo,
                        suite,
                        &b.leaves[s][i],
                        &b.proofs[s][i],
                        &b.root
                    ));
                }
            }
        }
        assert!(tried > 1000, "{tried}");
    }

    #[test]
    fn every_corruption_fails_after_a_memo_fill_blake3() {
        every_corruption_fails_after_a_memo_fill::<Blake3>();
    }

    #[test]
    fn every_corruption_fails_after_a_memo_fill_sha256() {
        every_corruption_fails_after_a_memo_fill::<Sha256Rfc6962>();
    }

    #[test]
    fn sorted_proofs_hit_the_memo() {
        let b = batch::<Blake3>(&[4096, 4096, 1000]);
        let mut memo = ProofMemo::default();
        let mut n = 0;
        for s in 0..3 {
            for i in (0..b.leaves[s].len()).step_by(3) {
                assert!(check(
                    &mut memo,
                    SuiteId::Blake3,
                    &b.leaves[s][i],
                    &b.proofs[s][i],
                    &b.root
                ));
                n += 1;
            }
        }
        // One full walk per segment; every other proof meets the memo.
        assert_eq!(memo.walks, 3);
        assert_eq!(memo.hits, n - 3);
    }

    #[test]
    fn a_memo_hit_needs_the_same_root_and_tree() {
        let b = batch::<Blake3>(&[8, 8]);
        let c = batch::<Blake3>(&[8, 9]);
        let mut memo = ProofMemo::default();
        assert!(check(
            &mut memo,
            SuiteId::Blake3,
            &b.leaves[0][0],
            &b.proofs[0][0],
            &b.root
        ));
        // Same leaf and proof against another root: no hit, a mismatch.
        assert!(!check(
            &mut memo,
            SuiteId::Blake3,
            &b.leaves[0][1],
            &b.proofs[0][1],
            &c.root
        ));
        // The other suite: no hit.
        assert!(!check(
            &mut memo,
            SuiteId::Sha256Rfc6962,
            &b.leaves[0][1],
            &b.proofs[0][1],
            &b.root
        ));
        assert_eq!(memo.hits, 0);
        assert!(check(
            &mut memo,
            SuiteId::Blake3,
            &b.leaves[0][1],
            &b.proofs[0][1],
            &b.root
        ));
        assert_eq!(memo.hits, 1);
    }

    #[test]
    fn a_memo_set_keeps_one_path_per_segment() {
        let b = batch::<Blake3>(&[4096, 4096, 1000]);
        let mut set = MemoSet::default();
        let mut n = 0;
        // A leaf of each segment in turn, as the records of one report come.
        for i in (0..1000).step_by(3) {
            for s in 0..3 {
                let (leaf, p) = (&b.leaves[s][i], &b.proofs[s][i]);
                assert_eq!(set.verify(SuiteId::Blake3, leaf, p, &b.root), Ok(()));
                n += 1;
            }
        }
        // One full walk per segment; every other proof meets its segment's path.
        assert_eq!(set.hits(), n - 3);
    }

    /// The leaf, proof and root of case `(s, i, how, j)` of [`case`]: leaf `i`
    /// (modulo its segment's size) of segment `s`, corrupted as `how` says
    /// (0: the leaf, 1: sibling `j`, 2: a bit of the index, 3: the root, 4: the
    /// segment index; otherwise left good).
    fn case_proof(b: &Batch, s: usize, i: usize, how: u8, j: usize) -> (Hash, BatchProof, Hash) {
        let i = i % b.leaves[s].len();
        let mut leaf = b.leaves[s][i];
        let mut p = b.proofs[s][i].clone();
        let mut root = b.root;
        let n = p.segment.hashes.len() + p.upper.hashes.len();
        match how {
            0 => flip(&mut leaf),
            1 if n > 0 => {
                let j = j % n;
                let seg = p.segment.hashes.len();
                if j < seg {
                    flip(&mut p.segment.hashes[j]);
                } else {
                    flip(&mut p.upper.hashes[j - seg]);
                }
            }
            2 => p.segment.index ^= 1 << (j % 6),
            3 => flip(&mut root),
            4 => p.upper.index ^= 1,
            _ => {}
        }
        (leaf, p, root)
    }

    /// A proof, or a corruption of one, of a random leaf.
    fn case() -> impl Strategy<Value = (usize, usize, u8, usize)> {
        (0usize..4, 0usize..64, 0u8..8, 0usize..64)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// In any order, with any corruptions mixed in, the memo gives the
        /// full check's outcome (`check` asserts it).
        #[test]
        fn memo_equals_the_full_check(cases in prop::collection::vec(case(), 1..200), sort in any::<bool>()) {
            let b = batch::<Blake3>(&[33, 64, 7, 20]);
            let mut cases = cases;
            if sort {
                cases.sort();
            }
            let mut memo = ProofMemo::default();
            for (s, i, how, j) in cases {
                let (leaf, p, root) = case_proof(&b, s, i, how, j);
                check(&mut memo, SuiteId::Blake3, &leaf, &p, &root);
            }
        }

        /// The same with a memo per tree, over more trees than the set keeps
        /// (so that memos are reused for other trees).
        #[test]
        fn memo_set_equals_the_full_check(cases in prop::collection::vec(case(), 1..300), sort in any::<bool>()) {
            let sizes: Vec<u64> = (0..MEMO_SET_TREES as u64 + 6).map(|s| 1 + s % 9).collect();
            let b = batch::<Blake3>(&sizes);
            let mut cases = cases;
            if sort {
                cases.sort();
            }
            let mut set = MemoSet::default();
            for (s, i, how, j) in cases {
                let (leaf, p, root) = case_proof(&b, (s * 17 + j) % sizes.len(), i, how, j);
                let got = set.verify(SuiteId::Blake3, &leaf, &p, &root);
                prop_assert_eq!(got, verify_leaf_proof(SuiteId::Blake3, &leaf, &p, &root));
            }
        }
    }
}
