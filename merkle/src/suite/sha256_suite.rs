//! The `sha256-rfc6962` suite: the RFC 6962 / RFC 9162 Merkle Tree Hash.

use sha2::{Digest, Sha256};

use super::{Hash, Suite, SuiteId};

/// Domain-separation prefix of a leaf hash (RFC 6962 section 2.1).
pub const LEAF_PREFIX: u8 = 0x00;

/// Domain-separation prefix of an interior node hash (RFC 6962 section 2.1).
pub const NODE_PREFIX: u8 = 0x01;

/// The `sha256-rfc6962` suite (binary id 2):
/// `leaf(d) = SHA-256(0x00 || d)`, `node(l, r) = SHA-256(0x01 || l || r)`,
/// bit for bit the Certificate Transparency tree hash.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sha256Rfc6962;

impl Suite for Sha256Rfc6962 {
    const NAME: &'static str = "sha256-rfc6962";
    const ID: SuiteId = SuiteId::Sha256Rfc6962;

    #[inline]
    fn hash_leaf(data: &[u8]) -> Hash {
        Sha256::new()
            .chain_update([LEAF_PREFIX])
            .chain_update(data)
            .finalize()
            .into()
    }

    /// The 65-byte message is laid out in one buffer and hashed with a
    /// single `digest` call (the first block is compressed straight from it).
    #[inline]
    fn hash_node(left: &Hash, right: &Hash) -> Hash {
        let mut message = [0u8; 65];
        message[0] = NODE_PREFIX;
        message[1..33].copy_from_slice(left);
        message[33..].copy_from_slice(right);
        Sha256::digest(message).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_hash_is_sha256_of_prefixed_children() {
        for seed in 0u8..20 {
            let l = [seed; 32];
            let r: Hash = std::array::from_fn(|i| seed.wrapping_mul(7).wrapping_add(i as u8));
            let expected: Hash = Sha256::new()
                .chain_update([NODE_PREFIX])
                .chain_update(l)
                .chain_update(r)
                .finalize()
                .into();
            assert_eq!(Sha256Rfc6962::hash_node(&l, &r), expected);
        }
    }

    #[test]
    fn empty_leaf_matches_rfc6962_test_data() {
        // The hash of the empty leaf, SHA-256(0x00), known from CT test data.
        assert_eq!(
            hex::encode(Sha256Rfc6962::hash_leaf(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }
}
