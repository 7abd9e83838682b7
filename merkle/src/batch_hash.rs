//! Many BLAKE3 keyed hashes at once, with SIMD across inputs.
//!
//! BLAKE3's public API hashes one input at a time; for 64-byte node inputs
//! that leaves the SIMD lanes idle. `blake3::platform::Platform::hash_many`
//! (public but doc-hidden; the crate pins blake3 with `=1.8.7`) compresses up
//! to 16 independent single-chunk inputs side by side. Called on inputs of one
//! chunk or less (`N <= 1024`, a whole number of 64-byte blocks) with
//! `flags = KEYED_HASH`, `flags_start = CHUNK_START` and
//! `flags_end = CHUNK_END | ROOT`, counter 0, each output is exactly
//! `blake3::keyed_hash(key, input)`: a one-chunk input is its own root chunk,
//! and the root output's first 32 bytes are the chaining value that
//! `hash_many` writes. The tests below check this for every `N` and every
//! backend this CPU has, against `blake3::keyed_hash`.
//!
//! The platform is detected once per process. Everything here is safe code;
//! the `unsafe` SIMD kernels stay inside the blake3 crate.

use std::sync::OnceLock;

use blake3::IncrementCounter;
use blake3::platform::Platform;

use crate::suite::{Hash, LEAF_KEY, NODE_KEY};

/// BLAKE3 domain flag: first block of a chunk.
const CHUNK_START: u8 = 1 << 0;
/// BLAKE3 domain flag: last block of a chunk.
const CHUNK_END: u8 = 1 << 1;
/// BLAKE3 domain flag: the root compression.
const ROOT: u8 = 1 << 3;
/// BLAKE3 domain flag: keyed hashing mode.
const KEYED_HASH: u8 = 1 << 4;

/// Inputs per `hash_many` call: twice the widest SIMD degree (AVX-512: 16).
const BATCH: usize = 32;

/// Key words of [`LEAF_KEY`] (little-endian `u32`s, as BLAKE3 reads keys).
pub(crate) const LEAF_KEY_WORDS: [u32; 8] = key_words(&LEAF_KEY);
/// Key words of [`NODE_KEY`].
pub(crate) const NODE_KEY_WORDS: [u32; 8] = key_words(&NODE_KEY);

/// Little-endian `u32` words of a 32-byte key.
const fn key_words(key: &[u8; 32]) -> [u32; 8] {
    let mut words = [0u32; 8];
    let mut i = 0;
    while i < 8 {
        words[i] = u32::from_le_bytes([key[4 * i], key[4 * i + 1], key[4 * i + 2], key[4 * i + 3]]);
        i += 1;
    }
    words
}

/// The BLAKE3 backend for this CPU, detected on first use.
fn platform() -> Platform {
    static PLATFORM: OnceLock<Platform> = OnceLock::new();
    *PLATFORM.get_or_init(Platform::detect)
}

/// Name of the BLAKE3 SIMD backend in use (e.g. `"AVX512"`), for reports.
pub fn blake3_backend() -> String {
    format!("{:?}", platform())
}

/// `keyed_hash(key, left || right)`: one 64-byte input through the same
/// kernel (a single compression, without the streaming hasher's set-up).
#[inline]
pub(crate) fn keyed_hash_node(key: &[u32; 8], left: &Hash, right: &Hash) -> Hash {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(left);
    block[32..].copy_from_slice(right);
    let mut out = [0u8; 32];
    platform().hash_many::<64>(
        &[&block],
        key,
        0,
        IncrementCounter::No,
        KEYED_HASH,
        CHUNK_START,
        CHUNK_END | ROOT,
        &mut out,
    );
    out
}

/// `out[i] = keyed_hash(key, children[2i] || children[2i + 1])`.
pub(crate) fn keyed_hash_nodes(key: &[u32; 8], children: &[Hash], out: &mut [Hash]) {
    debug_assert_eq!(children.len(), 2 * out.len());
    hash_many_blocks::<64>(platform(), key, children.as_flattened(), out);
}

/// `out[i] = keyed_hash(key, data[i * len..(i + 1) * len])` when `len` is a
/// whole number of 64-byte blocks from 64 to 1024; returns `false` (and
/// leaves `out` alone) for any other length.
pub(crate) fn keyed_hash_same_len(
    key: &[u32; 8],
    data: &[u8],
    len: usize,
    out: &mut [Hash],
) -> bool {
    keyed_hash_same_len_on(platform(), key, data, len, out)
}

fn keyed_hash_same_len_on(
    platform: Platform,
    key: &[u32; 8],
    data: &[u8],
    len: usize,
    out: &mut [Hash],
) -> bool {
    debug_assert_eq!(data.len(), len * out.len());
    match len {
        64 => hash_many_blocks::<64>(platform, key, data, out),
        128 => hash_many_blocks::<128>(platform, key, data, out),
        192 => hash_many_blocks::<192>(platform, key, data, out),
        256 => hash_many_blocks::<256>(platform, key, data, out),
        320 => hash_many_blocks::<320>(platform, key, data, out),
        384 => hash_many_blocks::<384>(platform, key, data, out),
        448 => hash_many_blocks::<448>(platform, key, data, out),
        512 => hash_many_blocks::<512>(platform, key, data, out),
        576 => hash_many_blocks::<576>(platform, key, data, out),
        640 => hash_many_blocks::<640>(platform, key, data, out),
        704 => hash_many_blocks::<704>(platform, key, data, out),
        768 => hash_many_blocks::<768>(platform, key, data, out),
        832 => hash_many_blocks::<832>(platform, key, data, out),
        896 => hash_many_blocks::<896>(platform, key, data, out),
        960 => hash_many_blocks::<960>(platform, key, data, out),
        1024 => hash_many_blocks::<1024>(platform, key, data, out),
        _ => return false,
    }
    true
}

/// Keyed hashes of `out.len()` consecutive `N`-byte inputs in `data`, `BATCH`
/// inputs per kernel call. `N` must be a multiple of 64 in `64..=1024`.
fn hash_many_blocks<const N: usize>(
    platform: Platform,
    key: &[u32; 8],
    data: &[u8],
    out: &mut [Hash],
) {
    debug_assert!(N.is_multiple_of(64) && (64..=1024).contains(&N));
    debug_assert_eq!(data.len(), N * out.len());
    let filler = [0u8; N];
    let mut inputs: [&[u8; N]; BATCH] = [&filler; BATCH];
    for (group, outs) in data.chunks(N * BATCH).zip(out.chunks_mut(BATCH)) {
        for (slot, input) in inputs.iter_mut().zip(group.chunks_exact(N)) {
            *slot = input.try_into().expect("chunks_exact yields N-byte inputs");
        }
        platform.hash_many::<N>(
            &inputs[..outs.len()],
            key,
            0,
            IncrementCounter::No,
            KEYED_HASH,
            CHUNK_START,
            CHUNK_END | ROOT,
            outs.as_flattened_mut(),
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// splitmix64, for deterministic test data.
    fn splitmix(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed;
        (0..len).map(|_| splitmix(&mut state) as u8).collect()
    }

    /// Every backend this CPU supports, the portable one first.
    fn platforms() -> Vec<Platform> {
        let mut all = vec![Platform::portable()];
        all.extend(Platform::sse2());
        all.extend(Platform::sse41());
        all.extend(Platform::avx2());
        all.extend(Platform::avx512());
        all.push(Platform::detect());
        all
    }

    #[test]
    fn key_words_are_little_endian() {
        assert_eq!(
            LEAF_KEY_WORDS[0],
            u32::from_le_bytes([0x5a, 0xf7, 0x68, 0x11])
        );
        assert_eq!(
            NODE_KEY_WORDS[7],
            u32::from_le_bytes([0xdc, 0x97, 0x9e, 0xb2])
        );
    }

    #[test]
    fn every_block_multiple_matches_keyed_hash_on_every_backend() {
        // Counts around the SIMD degrees and the batch size: 1, 15, 16, 17, 33, 100.
        for platform in platforms() {
            for blocks in 1..=16usize {
                let len = 64 * blocks;
                for count in [1usize, 15, 16, 17, 33, 100] {
                    let data = random_bytes(len * count, (len * 1000 + count) as u64);
                    let mut out = vec![[0u8; 32]; count];
                    assert!(keyed_hash_same_len_on(
                        platform,
                        &LEAF_KEY_WORDS,
                        &data,
                        len,
                        &mut out
                    ));
                    for (i, got) in out.iter().enumerate() {
                        let want = blake3::keyed_hash(&LEAF_KEY, &data[i * len..(i + 1) * len]);
                        assert_eq!(got, want.as_bytes(), "{platform:?} len {len} #{i}");
                    }
                }
            }
        }
    }

    #[test]
    fn node_batches_match_keyed_hash_for_many_inputs() {
        for count in [0usize, 1, 2, 31, 32, 33, 1000, 4099] {
            let children: Vec<Hash> = random_bytes(64 * count, count as u64)
                .chunks_exact(32)
                .map(|c| c.try_into().unwrap())
                .collect();
            let mut out = vec![[0u8; 32]; count];
            keyed_hash_nodes(&NODE_KEY_WORDS, &children, &mut out);
            for (i, got) in out.iter().enumerate() {
                let mut block = [0u8; 64];
                block[..32].copy_from_slice(&children[2 * i]);
                block[32..].copy_from_slice(&children[2 * i + 1]);
                assert_eq!(got, blake3::keyed_hash(&NODE_KEY, &block).as_bytes());
            }
        }
    }

    #[test]
    fn single_node_matches_keyed_hash() {
        let mut state = 5;
        for _ in 0..1000 {
            let l: Hash = std::array::from_fn(|_| splitmix(&mut state) as u8);
            let r: Hash = std::array::from_fn(|_| splitmix(&mut state) as u8);
            let mut block = [0u8; 64];
            block[..32].copy_from_slice(&l);
            block[32..].copy_from_slice(&r);
            let want = blake3::keyed_hash(&NODE_KEY, &block);
            assert_eq!(&keyed_hash_node(&NODE_KEY_WORDS, &l, &r), want.as_bytes());
        }
    }

    #[test]
    fn other_lengths_are_declined() {
        for len in [0usize, 1, 63, 65, 127, 1025, 1088, 2048] {
            let data = vec![7u8; len * 3];
            let mut out = vec![[9u8; 32]; 3];
            assert!(!keyed_hash_same_len(&LEAF_KEY_WORDS, &data, len, &mut out));
            assert_eq!(out, vec![[9u8; 32]; 3]);
        }
    }

    #[test]
    fn backend_is_named() {
        assert!(!blake3_backend().is_empty());
    }
}
