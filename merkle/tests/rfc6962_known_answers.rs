//! Known answers: the `sha256-rfc6962` suite reproduces the Certificate
//! Transparency reference tree (the eight leaves of the RFC 6962 test data
//! used by Google's and transparency-dev's implementations), and the `blake3`
//! suite is the plain BLAKE3 keyed hash with the spec's derived keys.
#![allow(clippy::unwrap_used)]

use proofmark_merkle::{
    Blake3, Hash, LEAF_KEY, LEAF_KEY_CONTEXT, MerkleTree, NODE_KEY, NODE_KEY_CONTEXT,
    Sha256Rfc6962, Suite,
};

const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn h(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

fn ct_tree(n: usize) -> MerkleTree<Sha256Rfc6962> {
    let data: Vec<Vec<u8>> = LEAVES[..n]
        .iter()
        .map(|l| hex::decode(l).unwrap())
        .collect();
    MerkleTree::from_leaves(&data).unwrap()
}

#[test]
fn sha256_suite_reproduces_the_ct_reference_roots() {
    for n in 1..=8 {
        assert_eq!(hex::encode(ct_tree(n).root()), ROOTS[n - 1], "size {n}");
    }
}

#[test]
fn sha256_suite_reproduces_ct_reference_proofs() {
    let t = ct_tree(8);
    let path0 = [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ];
    assert_eq!(t.inclusion_proof(0).unwrap().hashes, path0.map(h));
    let path5 = [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ];
    assert_eq!(t.inclusion_proof(5).unwrap().hashes, path5.map(h));
    assert_eq!(t.consistency_proof(1).unwrap().hashes, path0.map(h));
    let six_to_eight = [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ];
    assert_eq!(t.consistency_proof(6).unwrap().hashes, six_to_eight.map(h));
    let two_to_five = [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ];
    assert_eq!(
        ct_tree(5).consistency_proof(2).unwrap().hashes,
        two_to_five.map(h)
    );
}

#[test]
fn blake3_suite_is_the_keyed_hash_with_derived_keys() {
    assert_eq!(LEAF_KEY, blake3::derive_key(LEAF_KEY_CONTEXT, b""));
    assert_eq!(NODE_KEY, blake3::derive_key(NODE_KEY_CONTEXT, b""));
    let leaf = blake3::keyed_hash(&LEAF_KEY, b"00");
    assert_eq!(Blake3::hash_leaf(b"00"), *leaf.as_bytes());
    let mut pair = [0u8; 64];
    pair[..32].copy_from_slice(&[1; 32]);
    pair[32..].copy_from_slice(&[2; 32]);
    assert_eq!(
        Blake3::hash_node(&[1; 32], &[2; 32]),
        *blake3::keyed_hash(&NODE_KEY, &pair).as_bytes()
    );
}
