//! Differential tests against `rs_merkle` 1.5.
//!
//! `rs_merkle::MerkleTree::from_leaves` pairs each layer left to right and,
//! through `Hasher::concat_and_hash(left, None)`, carries an odd last node up
//! unchanged (rs_merkle's own default); its single-leaf proofs skip layers
//! where the node has no sibling. That is exactly the RFC 6962 shape and the
//! RFC 9162 audit path, so with our suites plugged in as `rs_merkle::Hasher`s
//! the roots and paths must agree bit for bit.
#![allow(clippy::unwrap_used)]

mod common;

use common::SplitMix64;
use proofmark_merkle::{Blake3, Hash, MerkleTree, Sha256Rfc6962, Suite, VerifyError, verify_multi};

struct Rs<S>(std::marker::PhantomData<S>);

impl<S> Clone for Rs<S> {
    fn clone(&self) -> Self {
        Rs(std::marker::PhantomData)
    }
}

impl<S: Suite> rs_merkle::Hasher for Rs<S> {
    type Hash = Hash;

    fn hash(data: &[u8]) -> Hash {
        S::hash_leaf(data)
    }

    fn concat_and_hash(left: &Hash, right: Option<&Hash>) -> Hash {
        match right {
            Some(right) => S::hash_node(left, right),
            None => *left,
        }
    }
}

type RsTree<S> = rs_merkle::MerkleTree<Rs<S>>;

fn compare<S: Suite>(n: u64, indices: impl Iterator<Item = u64>, seed: u64) {
    let leaves = common::leaf_hashes::<S>(n, seed);
    let ours = MerkleTree::<S>::from_leaf_hashes(leaves.clone()).unwrap();
    let theirs = RsTree::<S>::from_leaves(&leaves);
    assert_eq!(Some(ours.root()), theirs.root(), "{} root n={n}", S::NAME);
    for i in indices {
        let proof = ours.inclusion_proof(i).unwrap();
        let rs_proof = theirs.proof(&[i as usize]);
        assert_eq!(
            proof.hashes,
            rs_proof.proof_hashes(),
            "{} path n={n} i={i}",
            S::NAME
        );
    }
}

fn sample_indices(n: u64, rng: &mut SplitMix64) -> Vec<u64> {
    if n <= 300 {
        return (0..n).collect();
    }
    let mut v = vec![0, 1, n / 2, n - 2, n - 1];
    v.extend((0..5).map(|_| rng.below(n)));
    v
}

fn every_size_up_to_2100<S: Suite>() {
    let mut rng = SplitMix64(7);
    for n in 1..=2100u64 {
        let indices = sample_indices(n, &mut rng);
        compare::<S>(n, indices.into_iter(), n);
    }
}

#[test]
fn blake3_roots_and_paths_match_rs_merkle_for_every_size_to_2100() {
    every_size_up_to_2100::<Blake3>();
}

#[test]
fn sha256_roots_and_paths_match_rs_merkle_for_every_size_to_2100() {
    every_size_up_to_2100::<Sha256Rfc6962>();
}

#[test]
fn large_random_sizes_match_rs_merkle() {
    let mut rng = SplitMix64(2026);
    for k in 0..10 {
        let n = 1 + rng.below(1_000_000);
        let mut indices = vec![0, n - 1];
        indices.extend((0..3).map(|_| rng.below(n)));
        if k % 2 == 0 {
            compare::<Blake3>(n, indices.into_iter(), k);
        } else {
            compare::<Sha256Rfc6962>(n, indices.into_iter(), k);
        }
    }
}

#[test]
fn multi_proofs_match_rs_merkle_for_sorted_distinct_indices() {
    let mut rng = SplitMix64(99);
    for n in [1u64, 2, 3, 5, 8, 13, 64, 65, 100, 1000, 4097] {
        let leaves = common::leaf_hashes::<Blake3>(n, n);
        let ours = MerkleTree::<Blake3>::from_leaf_hashes(leaves.clone()).unwrap();
        let theirs = RsTree::<Blake3>::from_leaves(&leaves);
        for _ in 0..20 {
            let count = 1 + rng.below(n.min(40));
            let mut indices: Vec<u64> = (0..count).map(|_| rng.below(n)).collect();
            indices.sort_unstable();
            indices.dedup();
            let proof = ours.multi_proof(&indices).unwrap();
            let as_usize: Vec<usize> = indices.iter().map(|&i| i as usize).collect();
            let rs_proof = theirs.proof(&as_usize);
            assert_eq!(proof.hashes, rs_proof.proof_hashes(), "n={n} {indices:?}");
        }
    }
}

/// rs_merkle pairs nodes by their position in a sorted list, not by index, so
/// a repeated index with an arbitrary leaf hash slips through its verifier.
/// We reject repeated (and unsorted) indices before hashing anything.
#[test]
fn duplicate_index_forgery_accepted_by_rs_merkle_is_rejected() {
    let forged_leaf = Blake3::hash_leaf(b"never in the tree");
    for n in [2u64, 4, 8, 1000] {
        let leaves = common::leaf_hashes::<Blake3>(n, 5);
        let ours = MerkleTree::<Blake3>::from_leaf_hashes(leaves.clone()).unwrap();
        let theirs = RsTree::<Blake3>::from_leaves(&leaves);
        let root = ours.root();

        // An honest proof of all of leaves 0 and 1 ...
        let honest = ours.multi_proof(&[0, 1]).unwrap();
        let rs_honest = theirs.proof(&[0, 1]);
        // ... reused with index 1 claimed a second time for a forged leaf.
        let rs_indices = [0usize, 1, 1];
        let rs_leaves = [leaves[0], leaves[1], forged_leaf];
        let rs_accepts = rs_honest.verify(root, &rs_indices, &rs_leaves, n as usize);
        assert!(
            rs_accepts,
            "the published rs_merkle attack should work on n={n}"
        );

        let indices = [0u64, 1, 1];
        assert_eq!(
            verify_multi::<Blake3>(&indices, &rs_leaves, n, &honest.hashes, &root),
            Err(VerifyError::DuplicateIndex { index: 1 })
        );
        // Reordering the forged leaf first is caught too.
        let reordered = [1u64, 0, 1];
        let reordered_leaves = [forged_leaf, leaves[0], leaves[1]];
        assert_eq!(
            verify_multi::<Blake3>(&reordered, &reordered_leaves, n, &honest.hashes, &root),
            Err(VerifyError::UnsortedIndices { position: 1 })
        );
    }
}
