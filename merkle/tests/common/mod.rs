//! Helpers shared by the integration tests.
#![allow(dead_code)]

use proofmark_merkle::{Hash, Suite};

/// splitmix64: a tiny deterministic generator for test data.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (`bound > 0`; the tiny modulo bias is irrelevant here).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }
}

/// `n` distinct leaf hashes of suite `S`, derived from `seed`.
pub fn leaf_hashes<S: Suite>(n: u64, seed: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| {
            let mut data = [0u8; 16];
            data[..8].copy_from_slice(&seed.to_le_bytes());
            data[8..].copy_from_slice(&i.to_le_bytes());
            S::hash_leaf(&data)
        })
        .collect()
}

/// `hash` with bit `bit` (0..256) flipped.
pub fn flip(hash: &Hash, bit: usize) -> Hash {
    let mut out = *hash;
    out[bit / 8 % 32] ^= 1 << (bit % 8);
    out
}
