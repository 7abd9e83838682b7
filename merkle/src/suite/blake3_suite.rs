//! The `blake3` suite: BLAKE3 keyed hashes with a leaf key and a node key.

use super::{Hash, Suite, SuiteId};
use crate::batch_hash;

/// Context string from which [`LEAF_KEY`] is derived with BLAKE3 `derive_key`.
pub const LEAF_KEY_CONTEXT: &str = "proofmark 2026-11-25 v1 merkle leaf";

/// Context string from which [`NODE_KEY`] is derived with BLAKE3 `derive_key`.
pub const NODE_KEY_CONTEXT: &str = "proofmark 2026-11-25 v1 merkle node";

/// `blake3::derive_key(LEAF_KEY_CONTEXT, b"")`: the key of leaf hashes
/// (`5af76811...7cd0b42d`; a test recomputes it).
pub const LEAF_KEY: [u8; 32] = [
    0x5a, 0xf7, 0x68, 0x11, 0xb1, 0x04, 0x01, 0x43, 0xf8, 0xac, 0x39, 0x7b, 0x7b, 0xb7, 0xa9, 0x56,
    0xe1, 0x9f, 0xd5, 0xeb, 0xf8, 0x3c, 0x53, 0x17, 0x24, 0xc4, 0xc9, 0x50, 0x7c, 0xd0, 0xb4, 0x2d,
];

/// `blake3::derive_key(NODE_KEY_CONTEXT, b"")`: the key of node hashes
/// (`52d916ba...dc979eb2`; a test recomputes it).
pub const NODE_KEY: [u8; 32] = [
    0x52, 0xd9, 0x16, 0xba, 0xec, 0x29, 0x2b, 0x6c, 0x0d, 0xd3, 0x6d, 0xe5, 0x8b, 0xaf, 0xbe, 0x4a,
    0xb2, 0x52, 0x02, 0x53, 0x18, 0xe6, 0xc3, 0xec, 0x9f, 0x7f, 0xc5, 0x43, 0xdc, 0x97, 0x9e, 0xb2,
];

/// The leaf key, derived at run time from [`LEAF_KEY_CONTEXT`] (equals [`LEAF_KEY`]).
pub fn leaf_key() -> [u8; 32] {
    blake3::derive_key(LEAF_KEY_CONTEXT, b"")
}

/// The node key, derived at run time from [`NODE_KEY_CONTEXT`] (equals [`NODE_KEY`]).
pub fn node_key() -> [u8; 32] {
    blake3::derive_key(NODE_KEY_CONTEXT, b"")
}

/// The `blake3` suite (binary id 1), the default:
/// `leaf(d) = BLAKE3-keyed(LEAF_KEY, d)`, `node(l, r) = BLAKE3-keyed(NODE_KEY, l || r)`.
///
/// Batches of nodes, and batches of equal-length leaves whose length is a
/// multiple of 64 bytes up to 1024, are hashed with BLAKE3's SIMD
/// many-inputs kernel (see `docs/decisions/0002-batched-blake3-node-hashing.md`);
/// single nodes and single leaves of those lengths go through the same
/// kernel with one input, which skips the streaming hasher's set-up. The
/// results are always exactly `blake3::keyed_hash`'s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Blake3;

impl Suite for Blake3 {
    const NAME: &'static str = "blake3";
    const ID: SuiteId = SuiteId::Blake3;

    #[inline]
    fn hash_leaf(data: &[u8]) -> Hash {
        let mut out = [[0u8; 32]];
        if batch_hash::keyed_hash_same_len(&batch_hash::LEAF_KEY_WORDS, data, data.len(), &mut out)
        {
            return out[0];
        }
        *blake3::keyed_hash(&LEAF_KEY, data).as_bytes()
    }

    #[inline]
    fn hash_node(left: &Hash, right: &Hash) -> Hash {
        batch_hash::keyed_hash_node(&batch_hash::NODE_KEY_WORDS, left, right)
    }

    fn hash_nodes(children: &[Hash], out: &mut [Hash]) {
        assert_eq!(
            children.len(),
            2 * out.len(),
            "hash_nodes: children must be 2 * out"
        );
        batch_hash::keyed_hash_nodes(&batch_hash::NODE_KEY_WORDS, children, out);
    }

    fn hash_leaves_same_len(data: &[u8], len: usize, out: &mut [Hash]) {
        assert_eq!(
            data.len(),
            len * out.len(),
            "hash_leaves_same_len: data must be len * out"
        );
        if !batch_hash::keyed_hash_same_len(&batch_hash::LEAF_KEY_WORDS, data, len, out) {
            if len == 0 {
                out.fill(Self::hash_leaf(&[]));
                return;
            }
            for (record, slot) in data.chunks_exact(len).zip(out.iter_mut()) {
                *slot = Self::hash_leaf(record);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_derived_from_the_context_strings() {
        assert_eq!(leaf_key(), LEAF_KEY);
        assert_eq!(node_key(), NODE_KEY);
        assert_ne!(LEAF_KEY, NODE_KEY);
        assert_eq!(
            hex::encode(LEAF_KEY),
            "5af76811b1040143f8ac397b7bb7a956e19fd5ebf83c531724c4c9507cd0b42d"
        );
        assert_eq!(
            hex::encode(NODE_KEY),
            "52d916baec292b6c0dd36de58bafbe4ab252025318e6c3ec9f7fc543dc979eb2"
        );
    }

    #[test]
    fn hashes_are_the_standard_keyed_hash() {
        let l = [1u8; 32];
        let r = [2u8; 32];
        let mut cat = Vec::new();
        cat.extend_from_slice(&l);
        cat.extend_from_slice(&r);
        assert_eq!(
            Blake3::hash_node(&l, &r),
            *blake3::keyed_hash(&NODE_KEY, &cat).as_bytes()
        );
        assert_eq!(
            Blake3::hash_leaf(b"x"),
            *blake3::keyed_hash(&LEAF_KEY, b"x").as_bytes()
        );
        assert_ne!(Blake3::hash_leaf(&cat), Blake3::hash_node(&l, &r));
    }
}
