//! BLAKE3 keyed hashes for the two shapes the hot path produces that the suite's batch
//! method does not cover: equal-length records longer than one BLAKE3 chunk (1024 bytes),
//! and short subject-key inputs.
//!
//! Both use `blake3::platform::Platform` (public but doc-hidden; the workspace pins blake3
//! with `=1.8.7`), as `proofmark-merkle`'s batch hashing does. Records padded to whole
//! 64-byte blocks have whole-block chunks, so chunk `c` of many records of one length is
//! hashed with one `hash_many` call (SIMD across records, counter `c`, non-root), and the
//! parent nodes of the BLAKE3 tree are hashed level by level with `hash_many` too. The
//! results equal `blake3::keyed_hash`; the tests check it for many lengths and counts.
//! Everything here is safe code; the `unsafe` SIMD kernels stay inside the blake3 crate.

use std::sync::OnceLock;

use blake3::IncrementCounter;
use blake3::platform::Platform;
use proofmark_merkle::Hash;

/// BLAKE3 domain flag: first block of a chunk.
const CHUNK_START: u8 = 1 << 0;
/// BLAKE3 domain flag: last block of a chunk.
const CHUNK_END: u8 = 1 << 1;
/// BLAKE3 domain flag: a parent node.
const PARENT: u8 = 1 << 2;
/// BLAKE3 domain flag: the root compression.
const ROOT: u8 = 1 << 3;
/// BLAKE3 domain flag: keyed hashing mode.
const KEYED_HASH: u8 = 1 << 4;
/// BLAKE3 chunk length.
const CHUNK_LEN: usize = 1024;
/// Inputs per `hash_many` call.
const BATCH: usize = 32;

fn platform() -> Platform {
    static PLATFORM: OnceLock<Platform> = OnceLock::new();
    *PLATFORM.get_or_init(Platform::detect)
}

/// Little-endian `u32` words of a 32-byte key.
pub fn key_words(key: &[u8; 32]) -> [u32; 8] {
    let mut words = [0u32; 8];
    for (w, c) in words.iter_mut().zip(key.chunks_exact(4)) {
        *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
    words
}

/// Key words of the spec's leaf key.
pub fn leaf_key_words() -> &'static [u32; 8] {
    static WORDS: OnceLock<[u32; 8]> = OnceLock::new();
    WORDS.get_or_init(|| key_words(&proofmark_merkle::LEAF_KEY))
}

/// Key words of the spec's subject-key key.
pub fn subject_key_words() -> &'static [u32; 8] {
    static WORDS: OnceLock<[u32; 8]> = OnceLock::new();
    WORDS.get_or_init(|| key_words(proofmark_schemas::subject::subject_hash_key()))
}

/// `out[i] = blake3::keyed_hash(key, data[i * len..(i + 1) * len])` for `len` a multiple of 64
/// above 1024 (more than one chunk). Returns `false` (and leaves `out` alone) for other lengths.
pub fn keyed_hash_multi_chunk(key: &[u32; 8], data: &[u8], len: usize, out: &mut [Hash]) -> bool {
    if len <= CHUNK_LEN || !len.is_multiple_of(64) || data.len() != len * out.len() {
        return false;
    }
    let n = out.len();
    if n == 0 {
        return true;
    }
    let chunks = len.div_ceil(CHUNK_LEN);
    let platform = platform();
    // Chaining values, chunk-major: cvs[c * n + i] is chunk c of record i.
    let mut cvs = vec![[0u8; 32]; chunks * n];
    for (c, column) in cvs.chunks_exact_mut(n).enumerate() {
        let start = c * CHUNK_LEN;
        let chunk_len = CHUNK_LEN.min(len - start);
        hash_chunks(platform, key, data, len, start, chunk_len, c as u64, column);
    }
    let mut scratch = Vec::new();
    subtree(platform, key, &cvs, n, 0, chunks, true, out, &mut scratch);
    true
}

/// Chaining values of chunk `counter` (bytes `start..start + chunk_len` of each record).
#[allow(clippy::too_many_arguments)]
fn hash_chunks(
    platform: Platform,
    key: &[u32; 8],
    data: &[u8],
    len: usize,
    start: usize,
    chunk_len: usize,
    counter: u64,
    out: &mut [Hash],
) {
    macro_rules! by_len {
        ($($n:literal)*) => {
            match chunk_len {
                $($n => chunk_column::<$n>(platform, key, data, len, start, counter, out),)*
                _ => unreachable!("chunk lengths are whole blocks of at most 1024 bytes"),
            }
        };
    }
    by_len!(64 128 192 256 320 384 448 512 576 640 704 768 832 896 960 1024);
}

fn chunk_column<const N: usize>(
    platform: Platform,
    key: &[u32; 8],
    data: &[u8],
    len: usize,
    start: usize,
    counter: u64,
    out: &mut [Hash],
) {
    let filler = [0u8; N];
    let mut inputs: [&[u8; N]; BATCH] = [&filler; BATCH];
    for (g, outs) in out.chunks_mut(BATCH).enumerate() {
        for (k, slot) in inputs.iter_mut().take(outs.len()).enumerate() {
            let at = (g * BATCH + k) * len + start;
            *slot = data[at..at + N].try_into().unwrap_or(&filler);
        }
        platform.hash_many::<N>(
            &inputs[..outs.len()],
            key,
            counter,
            IncrementCounter::No,
            KEYED_HASH,
            CHUNK_START,
            CHUNK_END,
            outs.as_flattened_mut(),
        );
    }
}

/// The subtree of chunks `lo..hi` of every record (BLAKE3's shape: the left subtree holds
/// the largest power of two of chunks less than the total).
#[allow(clippy::too_many_arguments)]
fn subtree(
    platform: Platform,
    key: &[u32; 8],
    cvs: &[Hash],
    n: usize,
    lo: usize,
    hi: usize,
    root: bool,
    out: &mut [Hash],
    scratch: &mut Vec<[u8; 64]>,
) {
    let count = hi - lo;
    if count == 1 {
        out.copy_from_slice(&cvs[lo * n..(lo + 1) * n]);
        return;
    }
    let left_len = 1usize << (usize::BITS - 1 - (count - 1).leading_zeros());
    let mut left = vec![[0u8; 32]; n];
    let mut right = vec![[0u8; 32]; n];
    subtree(
        platform,
        key,
        cvs,
        n,
        lo,
        lo + left_len,
        false,
        &mut left,
        scratch,
    );
    subtree(
        platform,
        key,
        cvs,
        n,
        lo + left_len,
        hi,
        false,
        &mut right,
        scratch,
    );
    scratch.clear();
    scratch.extend(left.iter().zip(&right).map(|(l, r)| {
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(l);
        block[32..].copy_from_slice(r);
        block
    }));
    let mut inputs: [&[u8; 64]; BATCH] = [&[0u8; 64]; BATCH];
    for (blocks, outs) in scratch.chunks(BATCH).zip(out.chunks_mut(BATCH)) {
        for (slot, block) in inputs.iter_mut().zip(blocks) {
            *slot = block;
        }
        platform.hash_many::<64>(
            &inputs[..outs.len()],
            key,
            0,
            IncrementCounter::No,
            KEYED_HASH | PARENT,
            0,
            if root { ROOT } else { 0 },
            outs.as_flattened_mut(),
        );
    }
}

/// `blake3::keyed_hash(key, input)` for an input of at most 128 bytes (one or two blocks of
/// one chunk), with direct compressions: no hasher set-up. `None` for longer inputs.
#[inline]
pub fn keyed_hash_short(key: &[u32; 8], input: &[u8]) -> Option<[u32; 8]> {
    if input.len() > 128 {
        return None;
    }
    // One compression at a time: the portable kernel is the fastest for a single block
    // (measured: 68 ns against 86 ns for AVX-512 and 102 ns for SSE4.1/AVX2).
    let platform = Platform::portable();
    let mut cv = *key;
    let mut block = [0u8; 64];
    if input.len() <= 64 {
        block[..input.len()].copy_from_slice(input);
        let flags = KEYED_HASH | CHUNK_START | CHUNK_END | ROOT;
        platform.compress_in_place(&mut cv, &block, input.len() as u8, 0, flags);
    } else {
        block.copy_from_slice(&input[..64]);
        platform.compress_in_place(&mut cv, &block, 64, 0, KEYED_HASH | CHUNK_START);
        let rest = &input[64..];
        block = [0u8; 64];
        block[..rest.len()].copy_from_slice(rest);
        platform.compress_in_place(
            &mut cv,
            &block,
            rest.len() as u8,
            0,
            KEYED_HASH | CHUNK_END | ROOT,
        );
    }
    Some(cv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(len: usize, seed: u64) -> Vec<u8> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s as u8
            })
            .collect()
    }

    #[test]
    fn multi_chunk_records_match_keyed_hash() {
        let key = proofmark_merkle::LEAF_KEY;
        let words = key_words(&key);
        let mut lens: Vec<usize> = (17..=40).map(|b| b * 64).collect();
        lens.extend([64 * 64, 64 * 65, 64 * 129, 64 * 300]);
        for len in lens {
            for count in [1usize, 2, 17, 33] {
                let data = bytes(len * count, (len + count) as u64);
                let mut out = vec![[0u8; 32]; count];
                assert!(keyed_hash_multi_chunk(&words, &data, len, &mut out));
                for (i, h) in out.iter().enumerate() {
                    let want = blake3::keyed_hash(&key, &data[i * len..(i + 1) * len]);
                    assert_eq!(h, want.as_bytes(), "len {len} count {count} #{i}");
                }
            }
        }
        let mut out = vec![[0u8; 32]; 1];
        assert!(!keyed_hash_multi_chunk(
            &words,
            &[0u8; 1024],
            1024,
            &mut out
        ));
        assert!(!keyed_hash_multi_chunk(
            &words,
            &[0u8; 1100],
            1100,
            &mut out
        ));
    }

    #[test]
    fn short_inputs_match_keyed_hash() {
        let key = *proofmark_schemas::subject::subject_hash_key();
        let words = key_words(&key);
        for len in 0..=128 {
            let input = bytes(len, len as u64);
            let cv = keyed_hash_short(&words, &input).expect("short");
            let mut got = [0u8; 32];
            for (c, w) in got.chunks_exact_mut(4).zip(cv) {
                c.copy_from_slice(&w.to_le_bytes());
            }
            assert_eq!(
                &got,
                blake3::keyed_hash(&key, &input).as_bytes(),
                "len {len}"
            );
        }
        assert!(keyed_hash_short(&words, &[0u8; 129]).is_none());
    }
}
