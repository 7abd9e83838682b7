//! Subject keys of many short inputs at once: BLAKE3's compression function run on
//! [`LANES`] independent single-block inputs side by side with AVX-512, one state word of
//! every input in one 512-bit register, so that each step of the compression is one
//! instruction for sixteen inputs.
//!
//! A subject-key input (type byte, then the id) is almost always one block of at most 64
//! bytes; each is compressed once, keyed, with its own block length and the flags of a
//! one-block root chunk. The BLAKE3 crate's `hash_many` cannot take them (it compresses
//! whole 64-byte blocks only), and its single compression runs one input at a time
//! (about 60 to 90 ns here). The AVX-512 code is the crate's only `unsafe`, fenced in the
//! private `avx512` module: it runs only after `is_x86_feature_detected!("avx512f")`
//! held, and its loads read whole blocks of a full group of sixteen. On other CPUs (and
//! for inputs over one block) the portable one-at-a-time path runs; the tests compare
//! both paths with [`proofmark_schemas::subject_key`] for every length and group size.

use crate::blake3_batch::{keyed_hash_short, subject_key_words};

/// Inputs compressed side by side.
pub const LANES: usize = 16;

/// Longest input a lane takes: one block.
pub const MAX_LANE_INPUT: usize = 64;

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx512 {
    use std::arch::x86_64::{
        __m512i, _mm512_add_epi32, _mm512_loadu_epi32, _mm512_ror_epi32, _mm512_set1_epi32,
        _mm512_shuffle_i32x4, _mm512_storeu_epi32, _mm512_unpackhi_epi32, _mm512_unpackhi_epi64,
        _mm512_unpacklo_epi32, _mm512_unpacklo_epi64, _mm512_xor_si512,
    };

    use super::{LANES, MAX_LANE_INPUT};

    const IV: [u32; 4] = [0x6A09_E667, 0xBB67_AE85, 0x3C6E_F372, 0xA54F_F53A];

    /// BLAKE3's message word schedule, one row a round.
    const SCHEDULE: [[usize; 16]; 7] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8],
        [3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1],
        [10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6],
        [12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4],
        [9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7],
        [11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13],
    ];

    /// Flags of a keyed hash's only block: chunk start, chunk end, root, keyed hash.
    const ONE_BLOCK_KEYED_ROOT: i32 = 1 | 2 | 8 | 16;

    /// Whether this CPU runs [`group`], checked once.
    pub(super) fn available() -> bool {
        static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *AVAILABLE.get_or_init(|| std::arch::is_x86_feature_detected!("avx512f"))
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn g(v: &mut [__m512i; 16], [a, b, c, d]: [usize; 4], mx: __m512i, my: __m512i) {
        v[a] = _mm512_add_epi32(_mm512_add_epi32(v[a], v[b]), mx);
        v[d] = _mm512_ror_epi32::<16>(_mm512_xor_si512(v[d], v[a]));
        v[c] = _mm512_add_epi32(v[c], v[d]);
        v[b] = _mm512_ror_epi32::<12>(_mm512_xor_si512(v[b], v[c]));
        v[a] = _mm512_add_epi32(_mm512_add_epi32(v[a], v[b]), my);
        v[d] = _mm512_ror_epi32::<8>(_mm512_xor_si512(v[d], v[a]));
        v[c] = _mm512_add_epi32(v[c], v[d]);
        v[b] = _mm512_ror_epi32::<7>(_mm512_xor_si512(v[b], v[c]));
    }

    /// Transposes 16 registers of 16 32-bit words: word `j` of register `i` goes to word `i`
    /// of register `j` (interleaving 32-bit, 64-bit, then twice 128-bit lanes).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn transpose(v: &mut [__m512i; 16]) {
        let mut t = [_mm512_set1_epi32(0); 16];
        for k in 0..8 {
            t[2 * k] = _mm512_unpacklo_epi32(v[2 * k], v[2 * k + 1]);
            t[2 * k + 1] = _mm512_unpackhi_epi32(v[2 * k], v[2 * k + 1]);
        }
        for k in 0..4 {
            let (a0, a2, b0, b2) = (t[4 * k], t[4 * k + 1], t[4 * k + 2], t[4 * k + 3]);
            v[4 * k] = _mm512_unpacklo_epi64(a0, b0);
            v[4 * k + 1] = _mm512_unpackhi_epi64(a0, b0);
            v[4 * k + 2] = _mm512_unpacklo_epi64(a2, b2);
            v[4 * k + 3] = _mm512_unpackhi_epi64(a2, b2);
        }
        // v[4k + j] now holds, in each 128-bit lane q, words j of rows 4k..4k+4 from lane q.
        for k in 0..2 {
            for j in 0..4 {
                let (a, b) = (v[8 * k + j], v[8 * k + 4 + j]);
                t[8 * k + j] = _mm512_shuffle_i32x4::<0x88>(a, b);
                t[8 * k + 4 + j] = _mm512_shuffle_i32x4::<0xdd>(a, b);
            }
        }
        for j in 0..8 {
            v[j] = _mm512_shuffle_i32x4::<0x88>(t[j], t[8 + j]);
            v[8 + j] = _mm512_shuffle_i32x4::<0xdd>(t[j], t[8 + j]);
        }
    }

    /// The keys of one full group: `out[l]` = the first 16 bytes of the keyed hash of
    /// `blocks[l][..lens[l]]` (each block zero beyond its length).
    #[target_feature(enable = "avx512f")]
    fn group_avx512(
        key: &[u32; 8],
        blocks: &[[u8; MAX_LANE_INPUT]; LANES],
        lens: &[u8; LANES],
        out: &mut [[u8; 16]; LANES],
    ) {
        // Each block as one register, then a 16 x 16 transpose of 32-bit words: register i
        // becomes message word i of every lane.
        let mut m = [_mm512_set1_epi32(0); 16];
        for (r, block) in m.iter_mut().zip(blocks) {
            // SAFETY: `block` is 64 bytes, the 16 i32s an unaligned load reads.
            *r = unsafe { _mm512_loadu_epi32(block.as_ptr().cast()) };
        }
        transpose(&mut m);
        let mut len_words = [0i32; LANES];
        for (w, &n) in len_words.iter_mut().zip(lens) {
            *w = i32::from(n);
        }
        // SAFETY: `len_words` is 16 i32s, the 64 bytes an unaligned load reads.
        let block_len = unsafe { _mm512_loadu_epi32(len_words.as_ptr()) };
        let zero = _mm512_set1_epi32(0);
        let mut v = [zero; 16];
        for (x, &k) in v.iter_mut().zip(key) {
            *x = _mm512_set1_epi32(k as i32);
        }
        for (x, &iv) in v[8..12].iter_mut().zip(&IV) {
            *x = _mm512_set1_epi32(iv as i32);
        }
        // Words 12 and 13: the counter, 0.
        v[14] = block_len;
        v[15] = _mm512_set1_epi32(ONE_BLOCK_KEYED_ROOT);
        for s in &SCHEDULE {
            g(&mut v, [0, 4, 8, 12], m[s[0]], m[s[1]]);
            g(&mut v, [1, 5, 9, 13], m[s[2]], m[s[3]]);
            g(&mut v, [2, 6, 10, 14], m[s[4]], m[s[5]]);
            g(&mut v, [3, 7, 11, 15], m[s[6]], m[s[7]]);
            g(&mut v, [0, 5, 10, 15], m[s[8]], m[s[9]]);
            g(&mut v, [1, 6, 11, 12], m[s[10]], m[s[11]]);
            g(&mut v, [2, 7, 8, 13], m[s[12]], m[s[13]]);
            g(&mut v, [3, 4, 9, 14], m[s[14]], m[s[15]]);
        }
        let mut cv = [[0i32; LANES]; 4];
        for (i, row) in cv.iter_mut().enumerate() {
            // SAFETY: `row` is 16 i32s, the 64 bytes an unaligned store writes.
            unsafe { _mm512_storeu_epi32(row.as_mut_ptr(), _mm512_xor_si512(v[i], v[i + 8])) };
        }
        for (l, k) in out.iter_mut().enumerate() {
            for (i, c) in k.chunks_exact_mut(4).enumerate() {
                c.copy_from_slice(&cv[i][l].to_le_bytes());
            }
        }
    }

    /// The keys of up to [`LANES`] blocks (a short group is padded with empty blocks),
    /// or `false` when this CPU lacks AVX-512F.
    pub(super) fn group(
        key: &[u32; 8],
        blocks: &[[u8; MAX_LANE_INPUT]],
        lens: &[u8],
        out: &mut [[u8; 16]],
    ) -> bool {
        if !available() || blocks.len() > LANES {
            return false;
        }
        let mut b = [[0u8; MAX_LANE_INPUT]; LANES];
        let mut n = [0u8; LANES];
        let full: Option<(&[[u8; MAX_LANE_INPUT]; LANES], &[u8; LANES])> = match (
            blocks.try_into(),
            lens.get(..LANES).and_then(|l| l.try_into().ok()),
        ) {
            (Ok(b), Some(n)) => Some((b, n)),
            _ => None,
        };
        let (blocks16, lens16) = match full {
            Some(f) => f,
            None => {
                b[..blocks.len()].copy_from_slice(blocks);
                n[..blocks.len()].copy_from_slice(&lens[..blocks.len()]);
                (&b, &n)
            }
        };
        let mut keys = [[0u8; 16]; LANES];
        // SAFETY: `available()` found AVX-512F on this CPU at run time, the one requirement
        // of calling a function compiled with that feature.
        unsafe { group_avx512(key, blocks16, lens16, &mut keys) };
        out[..blocks.len()].copy_from_slice(&keys[..blocks.len()]);
        true
    }
}

/// How [`keys_of_blocks_with`] computes the keys (tests and benchmarks compare them;
/// callers use [`keys_of_blocks`] or [`subject_keys`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum KeyPath {
    /// Sixteen at a time with AVX-512 where the CPU has it, else one at a time.
    Best,
    /// One compression at a time (the BLAKE3 crate's portable kernel).
    OneByOne,
}

/// One subject-key input as a block: the type byte, then the id, zero-padded to 64 bytes,
/// and its length; `None` when the input is longer than one block.
#[inline]
pub fn input_block(type_byte: u8, id: &[u8]) -> Option<([u8; MAX_LANE_INPUT], u8)> {
    let n = id.len().checked_add(1).filter(|&n| n <= MAX_LANE_INPUT)?;
    let mut block = [0u8; MAX_LANE_INPUT];
    block[0] = type_byte;
    block[1..n].copy_from_slice(id);
    Some((block, n as u8))
}

/// `out[i]` = the subject key of the one-block input `blocks[i]` of length `lens[i]`
/// (as made by [`input_block`]): the first 16 bytes of its keyed BLAKE3 hash under the
/// subject-key key.
///
/// # Panics
///
/// If `lens` or `out` is shorter than `blocks`.
pub fn keys_of_blocks(blocks: &[[u8; MAX_LANE_INPUT]], lens: &[u8], out: &mut [[u8; 16]]) {
    keys_of_blocks_with(KeyPath::Best, blocks, lens, out);
}

/// [`keys_of_blocks`] through a chosen path.
///
/// # Panics
///
/// If `lens` or `out` is shorter than `blocks`.
pub fn keys_of_blocks_with(
    path: KeyPath,
    blocks: &[[u8; MAX_LANE_INPUT]],
    lens: &[u8],
    out: &mut [[u8; 16]],
) {
    let key = subject_key_words();
    let (lens, out) = (&lens[..blocks.len()], &mut out[..blocks.len()]);
    if path == KeyPath::OneByOne {
        for ((block, &n), o) in blocks.iter().zip(lens).zip(out.iter_mut()) {
            *o = one(key, &block[..usize::from(n).min(MAX_LANE_INPUT)]);
        }
        return;
    }
    for ((b, l), o) in blocks
        .chunks(LANES)
        .zip(lens.chunks(LANES))
        .zip(out.chunks_mut(LANES))
    {
        #[cfg(target_arch = "x86_64")]
        if avx512::group(key, b, l, o) {
            continue;
        }
        for ((block, &n), o) in b.iter().zip(l).zip(o.iter_mut()) {
            *o = one(key, &block[..usize::from(n).min(MAX_LANE_INPUT)]);
        }
    }
}

/// `out[i]` = the subject key of `inputs[i]` (a type byte, then the id's bytes):
/// [`proofmark_schemas::subject_key`] of each, many at a time.
///
/// # Panics
///
/// If `out` is shorter than `inputs`.
pub fn subject_keys(inputs: &[&[u8]], out: &mut [[u8; 16]]) {
    let key = subject_key_words();
    let mut blocks = Vec::with_capacity(inputs.len());
    let mut lens = Vec::with_capacity(inputs.len());
    let mut long = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        match input.split_first().and_then(|(&t, id)| input_block(t, id)) {
            Some((b, n)) => {
                blocks.push(b);
                lens.push(n);
            }
            None => {
                blocks.push([0; MAX_LANE_INPUT]);
                lens.push(0);
                long.push(i);
            }
        }
    }
    keys_of_blocks(&blocks, &lens, out);
    for i in long {
        out[i] = one(key, inputs[i]);
    }
}

/// One input's key, one compression at a time (or the hasher for long inputs).
fn one(key: &[u32; 8], input: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    match keyed_hash_short(key, input) {
        Some(cv) => {
            for (c, w) in out.chunks_exact_mut(4).zip(cv) {
                c.copy_from_slice(&w.to_le_bytes());
            }
        }
        None => {
            let h = blake3::keyed_hash(proofmark_schemas::subject::subject_hash_key(), input);
            out.copy_from_slice(&h.as_bytes()[..16]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proofmark_schemas::{SubjectType, subject_key};

    fn id(len: usize, seed: usize) -> String {
        (0..len)
            .map(|i| char::from(b'0' + ((i * 7 + seed * 13) % 75) as u8))
            .collect()
    }

    fn cases(count: usize, max: usize) -> (Vec<Vec<u8>>, Vec<[u8; 16]>) {
        let ids: Vec<(SubjectType, String)> = (0..count)
            .map(|i| {
                let ty = if i % 3 == 0 {
                    SubjectType::Lot
                } else {
                    SubjectType::Item
                };
                (ty, id((i * 5 + 3) % max, i))
            })
            .collect();
        let inputs = ids
            .iter()
            .map(|(ty, s)| [&[ty.code()], s.as_bytes()].concat())
            .collect();
        let want = ids.iter().map(|(ty, s)| subject_key(*ty, s)).collect();
        (inputs, want)
    }

    #[test]
    fn every_path_equals_the_spec_for_every_length_and_count() {
        for count in [0usize, 1, 2, 15, 16, 17, 33, 100] {
            for max in [1usize, 20, 63, 64] {
                let (inputs, want) = cases(count, max);
                let mut blocks = Vec::new();
                let mut lens = Vec::new();
                for i in &inputs {
                    let (b, n) = input_block(i[0], &i[1..]).expect("one block");
                    blocks.push(b);
                    lens.push(n);
                }
                for path in [KeyPath::Best, KeyPath::OneByOne] {
                    let mut got = vec![[0u8; 16]; count + 1];
                    keys_of_blocks_with(path, &blocks, &lens, &mut got);
                    assert_eq!(&got[..count], &want[..], "{path:?} count {count} max {max}");
                    assert_eq!(got[count], [0u8; 16], "writes only its inputs' keys");
                }
            }
        }
    }

    #[test]
    fn inputs_of_any_length_equal_the_spec() {
        for count in [0usize, 5, 40] {
            let (inputs, want) = cases(count, 90); // some over one block
            let refs: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
            let mut got = vec![[0u8; 16]; count];
            subject_keys(&refs, &mut got);
            assert_eq!(got, want, "count {count}");
        }
        assert!(input_block(1, &[b'x'; 63]).is_some());
        assert!(input_block(1, &[b'x'; 64]).is_none());
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx512_groups_agree_where_the_cpu_runs_them() {
        for count in [1usize, 7, 16] {
            let (inputs, want) = cases(count, 64);
            let (blocks, lens): (Vec<[u8; 64]>, Vec<u8>) = inputs
                .iter()
                .map(|i| input_block(i[0], &i[1..]).expect("one block"))
                .unzip();
            let mut got = vec![[0u8; 16]; count];
            if avx512::group(subject_key_words(), &blocks, &lens, &mut got) {
                assert_eq!(got, want, "count {count}");
            } else {
                assert!(!std::arch::is_x86_feature_detected!("avx512f"));
            }
        }
    }
}
