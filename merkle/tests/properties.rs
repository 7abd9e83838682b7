//! Property tests: every proof verifies, every corruption fails with the
//! right kind of error, serial equals parallel, encodings round-trip.
#![allow(clippy::unwrap_used)]

mod common;

use common::{SplitMix64, flip};
use proofmark_merkle::{
    Blake3, ConsistencyProof, Hash, InclusionProof, MerkleTree, MerkleTreeBuilder, MultiProof,
    Parallelism, Proof, ProofEnvelope, Sha256Rfc6962, StreamingBuilder, Suite, SuiteId,
    VerifyError, verify_consistency, verify_inclusion, verify_multi,
};
use proptest::prelude::*;

fn tree<S: Suite>(n: u64, seed: u64) -> MerkleTree<S> {
    MerkleTree::from_leaf_hashes(common::leaf_hashes::<S>(n, seed)).unwrap()
}

fn check_inclusion<S: Suite>(n: u64, i: u64, other: u64, bit: usize, seed: u64) {
    let t = tree::<S>(n, seed);
    let leaf = t.leaf_hashes()[i as usize];
    let root = t.root();
    let p = t.inclusion_proof(i).unwrap();
    let v = |leaf: &Hash, index, size, hashes: &[Hash], root: &Hash| {
        verify_inclusion::<S>(leaf, index, size, hashes, root)
    };
    assert_eq!(v(&leaf, i, n, &p.hashes, &root), Ok(()));
    assert_eq!(p.root::<S>(&leaf), Ok(root));

    // Any flipped bit: in the leaf, the root, or any proof hash.
    assert!(
        v(&flip(&leaf, bit), i, n, &p.hashes, &root)
            .unwrap_err()
            .is_mismatch()
    );
    assert!(
        v(&leaf, i, n, &p.hashes, &flip(&root, bit))
            .unwrap_err()
            .is_mismatch()
    );
    for k in 0..p.hashes.len() {
        let mut bad = p.hashes.clone();
        bad[k] = flip(&bad[k], bit);
        assert!(v(&leaf, i, n, &bad, &root).unwrap_err().is_mismatch());
    }
    // Another index of the same tree: wrong length or wrong root, never Ok.
    if other != i {
        let err = v(&leaf, other, n, &p.hashes, &root).unwrap_err();
        assert!(matches!(
            err,
            VerifyError::RootMismatch { .. }
                | VerifyError::TooFewHashes { .. }
                | VerifyError::TooManyHashes { .. }
        ));
    }
    assert_eq!(
        v(&leaf, n, n, &p.hashes, &root),
        Err(VerifyError::IndexOutOfRange { index: n, size: n })
    );
    // Twice and half the size.
    assert!(v(&leaf, i, n * 2, &p.hashes, &root).is_err());
    let half = v(&leaf, i, n / 2, &p.hashes, &root).unwrap_err();
    if n / 2 == 0 {
        assert_eq!(half, VerifyError::EmptyTree);
    } else if i >= n / 2 {
        assert!(matches!(half, VerifyError::IndexOutOfRange { .. }));
    }
    // Truncated or extended proofs are malformed, not mismatches.
    if !p.hashes.is_empty() {
        let short = &p.hashes[..p.hashes.len() - 1];
        assert!(matches!(
            v(&leaf, i, n, short, &root),
            Err(VerifyError::TooFewHashes { .. })
        ));
    }
    let mut long = p.hashes.clone();
    long.push(root);
    assert!(matches!(
        v(&leaf, i, n, &long, &root),
        Err(VerifyError::TooManyHashes { .. })
    ));
}

fn check_consistency<S: Suite>(n: u64, m: u64, bit: usize, seed: u64) {
    let t = tree::<S>(n, seed);
    let root = t.root();
    let old_root = t.root_at(m).unwrap();
    let small = MerkleTree::<S>::from_leaf_hashes(t.leaf_hashes()[..m as usize].to_vec()).unwrap();
    assert_eq!(small.root(), old_root);
    let p = t.consistency_proof(m).unwrap();
    let v = |m, n, hashes: &[Hash], old: &Hash, new: &Hash| {
        verify_consistency::<S>(m, n, hashes, old, new)
    };
    assert_eq!(v(m, n, &p.hashes, &old_root, &root), Ok(()));
    for k in 0..p.hashes.len() {
        let mut bad = p.hashes.clone();
        bad[k] = flip(&bad[k], bit);
        assert!(v(m, n, &bad, &old_root, &root).unwrap_err().is_mismatch());
    }
    assert!(
        v(m, n, &p.hashes, &flip(&old_root, bit), &root)
            .unwrap_err()
            .is_mismatch()
    );
    assert!(
        v(m, n, &p.hashes, &old_root, &flip(&root, bit))
            .unwrap_err()
            .is_mismatch()
    );
    assert!(v(m, n * 2, &p.hashes, &old_root, &root).is_err());
    assert!(v(m, n / 2, &p.hashes, &old_root, &root).is_err());
    if m > 1 {
        assert!(v(m - 1, n, &p.hashes, &old_root, &root).is_err());
    }
    if m < n {
        assert!(v(m + 1, n, &p.hashes, &old_root, &root).is_err());
        assert!(v(m, n, &p.hashes, &root, &root).is_err());
    }
    assert!(matches!(
        v(0, n, &p.hashes, &old_root, &root),
        Err(VerifyError::InvalidSizes { .. })
    ));
    let mut long = p.hashes.clone();
    long.push(root);
    assert!(matches!(
        v(m, n, &long, &old_root, &root),
        Err(VerifyError::TooManyHashes { .. })
    ));
    if !p.hashes.is_empty() {
        let short = &p.hashes[1..];
        assert!(matches!(
            v(m, n, short, &old_root, &root),
            Err(VerifyError::TooFewHashes { .. })
        ));
    }
}

fn check_multi<S: Suite>(n: u64, seed: u64, bit: usize) {
    let t = tree::<S>(n, seed);
    let root = t.root();
    let mut rng = SplitMix64(seed);
    let count = 1 + rng.below(n.min(64));
    let mut indices: Vec<u64> = (0..count).map(|_| rng.below(n)).collect();
    indices.sort_unstable();
    indices.dedup();
    let leaves: Vec<Hash> = indices
        .iter()
        .map(|&i| t.leaf_hashes()[i as usize])
        .collect();
    let p = t.multi_proof(&indices).unwrap();
    let v =
        |idx: &[u64], lv: &[Hash], hashes: &[Hash]| verify_multi::<S>(idx, lv, n, hashes, &root);
    assert_eq!(v(&indices, &leaves, &p.hashes), Ok(()));
    for k in 0..p.hashes.len() {
        let mut bad = p.hashes.clone();
        bad[k] = flip(&bad[k], bit);
        assert!(v(&indices, &leaves, &bad).unwrap_err().is_mismatch());
    }
    let k = rng.below(leaves.len() as u64) as usize;
    let mut bad_leaves = leaves.clone();
    bad_leaves[k] = flip(&bad_leaves[k], bit);
    assert!(
        v(&indices, &bad_leaves, &p.hashes)
            .unwrap_err()
            .is_mismatch()
    );
    // Duplicate index (with any leaf hash).
    let mut dup = indices.clone();
    dup.insert(k, indices[k]);
    let mut dup_leaves = leaves.clone();
    dup_leaves.insert(k, [0xaa; 32]);
    assert_eq!(
        v(&dup, &dup_leaves, &p.hashes),
        Err(VerifyError::DuplicateIndex { index: indices[k] })
    );
    // Unsorted.
    if indices.len() >= 2 {
        let mut swapped = indices.clone();
        swapped.swap(0, 1);
        let mut swapped_leaves = leaves.clone();
        swapped_leaves.swap(0, 1);
        assert_eq!(
            v(&swapped, &swapped_leaves, &p.hashes),
            Err(VerifyError::UnsortedIndices { position: 1 })
        );
    }
    // Out of range.
    let mut far = indices.clone();
    far.push(n);
    let mut far_leaves = leaves.clone();
    far_leaves.push([0; 32]);
    assert_eq!(
        v(&far, &far_leaves, &p.hashes),
        Err(VerifyError::IndexOutOfRange { index: n, size: n })
    );
    // Extra and missing hashes.
    let mut extra = p.hashes.clone();
    extra.push(root);
    assert!(matches!(
        v(&indices, &leaves, &extra),
        Err(VerifyError::TooManyHashes { .. })
    ));
    if !p.hashes.is_empty() {
        let missing = &p.hashes[..p.hashes.len() - 1];
        assert!(matches!(
            v(&indices, &leaves, missing),
            Err(VerifyError::TooFewHashes { .. })
        ));
    }
    assert!(matches!(
        v(&indices, &leaves[1..], &p.hashes),
        Err(VerifyError::LeafCountMismatch { .. })
    ));
}

fn size_and_index() -> impl Strategy<Value = (u64, u64, u64)> {
    (1u64..3000).prop_flat_map(|n| (Just(n), 0..n, 0..n))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn inclusion_proofs_verify_and_corruptions_fail(
        (n, i, other) in size_and_index(), bit in 0usize..256, seed in any::<u64>()
    ) {
        check_inclusion::<Blake3>(n, i, other, bit, seed);
        check_inclusion::<Sha256Rfc6962>(n, i, other, bit, seed);
    }

    #[test]
    fn consistency_proofs_verify_and_corruptions_fail(
        (n, m, _) in size_and_index(), bit in 0usize..256, seed in any::<u64>()
    ) {
        check_consistency::<Blake3>(n, m + 1, bit, seed);
        check_consistency::<Sha256Rfc6962>(n, m + 1, bit, seed);
    }

    #[test]
    fn multi_proofs_verify_and_attacks_fail(n in 1u64..3000, bit in 0usize..256, seed in any::<u64>()) {
        check_multi::<Blake3>(n, seed, bit);
        check_multi::<Sha256Rfc6962>(n, seed, bit);
    }

    #[test]
    fn serial_parallel_sparse_and_streaming_builds_agree(
        n in 1u64..40_000, min_height in 0u32..20, seed in any::<u64>()
    ) {
        let leaves = common::leaf_hashes::<Blake3>(n, seed);
        let serial = MerkleTreeBuilder::new()
            .with_parallelism(Parallelism::Sequential)
            .with_stored_min_height(min_height)
            .build::<Blake3>(leaves.clone())
            .unwrap();
        let parallel = MerkleTreeBuilder::new()
            .with_parallelism(Parallelism::Parallel)
            .with_stored_min_height(min_height)
            .build::<Blake3>(leaves.clone())
            .unwrap();
        prop_assert_eq!(&serial, &parallel);
        let mut stream = StreamingBuilder::<Blake3>::new();
        stream.push_leaf_hashes(&leaves);
        prop_assert_eq!(stream.finalize().unwrap(), serial.root());
        let i = seed % n;
        let p = serial.inclusion_proof(i).unwrap();
        prop_assert_eq!(p.verify::<Blake3>(&leaves[i as usize], &serial.root()), Ok(()));
    }

    #[test]
    fn encodings_round_trip(
        suite in prop::sample::select(SuiteId::ALL.to_vec()),
        kind in 0u8..4,
        a in any::<u64>(), b in any::<u64>(),
        indices in prop::collection::vec(any::<u64>(), 1..20),
        hashes in prop::collection::vec(any::<[u8; 32]>(), 0..64),
        upper in prop::collection::vec(any::<[u8; 32]>(), 0..64),
    ) {
        let proof = match kind {
            0 => Proof::Inclusion(InclusionProof { index: a, tree_size: b, hashes }),
            1 => Proof::Consistency(ConsistencyProof { old_size: a, tree_size: b, hashes }),
            2 => Proof::Multi(MultiProof { indices, tree_size: b, hashes }),
            _ => Proof::Batch(proofmark_merkle::BatchProof {
                segment: InclusionProof { index: a, tree_size: b, hashes },
                upper: InclusionProof { index: b, tree_size: a, hashes: upper },
            }),
        };
        let env = ProofEnvelope::new(suite, proof);
        prop_assert_eq!(ProofEnvelope::from_json(&env.to_json()).unwrap(), env.clone());
        prop_assert_eq!(ProofEnvelope::from_bytes(&env.to_bytes()).unwrap(), env);
    }

    #[test]
    fn binary_decoder_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(env) = ProofEnvelope::from_bytes(&bytes) {
            prop_assert_eq!(env.to_bytes(), bytes);
        }
    }
}
