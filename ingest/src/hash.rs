//! Canonical encoding, batched leaf hashing and index keys of the accepted rows of a batch.
//!
//! Rows are encoded into per-length buckets (records of `k` 64-byte blocks go
//! to bucket `k`), so that each bucket is one contiguous run of equal-length
//! inputs for [`Suite::hash_leaves_same_len`] (SIMD across records). Each hash
//! is written back to its row's leaf position. Work is split into chunks of
//! [`CHUNK_ROWS`] rows, hashed in parallel with rayon; buffers are reused per
//! worker, so nothing is allocated per row.

use proofmark_merkle::{Hash, Suite, SuiteId};
use proofmark_schemas::{BLOCK_LEN, RecordView, SubjectType, encode_row, subject_key};
use rayon::prelude::*;

use crate::blake3_batch::{
    keyed_hash_multi_chunk, keyed_hash_short, leaf_key_words, subject_key_words,
};
use crate::blake3_lanes::{MAX_LANE_INPUT, input_block, keys_of_blocks};
use crate::segment::IndexEntry;

/// Rows per unit of parallel work (a decoded batch of up to 4096 rows is split in four,
/// so both cores can hash one segment; every length bucket still fills the SIMD lanes).
pub const CHUNK_ROWS: usize = 1024;

/// The subject key of `id`: the same value as [`proofmark_schemas::subject_key`], with
/// direct BLAKE3 compressions for the short ids of accepted rows.
#[inline]
pub fn fast_subject_key(ty: SubjectType, id: &str) -> [u8; 16] {
    let mut buf = [0u8; 128];
    let bytes = id.as_bytes();
    if bytes.len() >= buf.len() {
        return subject_key(ty, id);
    }
    buf[0] = ty.code();
    buf[1..=bytes.len()].copy_from_slice(bytes);
    match keyed_hash_short(subject_key_words(), &buf[..=bytes.len()]) {
        Some(cv) => {
            let mut key = [0u8; 16];
            for (c, w) in key.chunks_exact_mut(4).zip(cv) {
                c.copy_from_slice(&w.to_le_bytes());
            }
            key
        }
        None => subject_key(ty, id),
    }
}

/// Leaf hashes of equal-length records: the suite's batch method, and for BLAKE3 records
/// longer than one chunk, the multi-chunk batch of [`crate::blake3_batch`].
#[inline]
pub fn leaf_hashes_same_len<S: Suite>(data: &[u8], len: usize, out: &mut [Hash]) {
    if S::ID == SuiteId::Blake3 && keyed_hash_multi_chunk(leaf_key_words(), data, len, out) {
        return;
    }
    S::hash_leaves_same_len(data, len, out);
}

/// Records of one length: their bytes back to back and the leaf slot of each.
#[derive(Default)]
struct Bucket {
    data: Vec<u8>,
    slots: Vec<u32>,
}

/// Per-worker buffers, reused from chunk to chunk.
#[derive(Default)]
pub(crate) struct Scratch {
    buckets: Vec<Bucket>,
    out: Vec<Hash>,
    /// Subject-key inputs of the chunk as blocks (type byte, then id, zero-padded).
    key_blocks: Vec<[u8; MAX_LANE_INPUT]>,
    /// Each input's length.
    key_lens: Vec<u8>,
    /// Inputs longer than one block (a 64-byte lot id), with their keys.
    key_long: Vec<(u32, [u8; 16])>,
    /// For each index entry of the chunk, its input.
    key_of_entry: Vec<u32>,
    keys: Vec<[u8; 16]>,
}

/// The subject-key inputs of a chunk: each run of rows with one code (or one lot id) is
/// one input.
struct KeyInputs<'s, 'a> {
    blocks: &'s mut Vec<[u8; MAX_LANE_INPUT]>,
    lens: &'s mut Vec<u8>,
    long: &'s mut Vec<(u32, [u8; 16])>,
    /// The previous row's code and lot id, with their inputs.
    last: [Option<(&'a str, u32)>; 2],
}

impl<'a> KeyInputs<'_, 'a> {
    /// The input of `id`: the previous row's when it had the same id of this type.
    #[inline]
    fn input(&mut self, ty: SubjectType, id: &'a str) -> u32 {
        let last = &mut self.last[usize::from(ty == SubjectType::Lot)];
        if let Some((prev, n)) = *last
            && prev == id
        {
            return n;
        }
        let n = self.blocks.len() as u32;
        match input_block(ty.code(), id.as_bytes()) {
            Some((block, len)) => {
                self.blocks.push(block);
                self.lens.push(len);
            }
            None => {
                self.blocks.push([0; MAX_LANE_INPUT]);
                self.lens.push(0);
                self.long.push((n, fast_subject_key(ty, id)));
            }
        }
        *last = Some((id, n));
        n
    }
}

thread_local! {
    /// Each thread's buffers, kept from batch to batch: a fresh set per unit of work
    /// regrew every bucket by doubling (reallocations copied ~5% of the build's bytes).
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's [`Scratch`] (a new one if it is already in use, which only
/// a re-entrant call could cause).
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => f(&mut scratch),
        Err(_) => f(&mut Scratch::default()),
    })
}

/// The bucket of records of `blocks` blocks, made if missing.
fn bucket_mut(buckets: &mut Vec<Bucket>, blocks: usize) -> &mut Bucket {
    if buckets.len() <= blocks {
        buckets.resize_with(blocks + 1, Bucket::default);
    }
    &mut buckets[blocks]
}

/// Encodes and hashes the accepted rows among `rows` (those with `rejected[row] == false`),
/// writing leaf `i` of the range to `leaves[i]` and appending the index entries of each
/// accepted row (leaf number `leaf_base + i`) to `entries`.
pub(crate) fn hash_chunk<S: Suite>(
    view: &RecordView<'_>,
    rows: std::ops::Range<usize>,
    rejected: &[bool],
    leaves: &mut [Hash],
    leaf_base: u32,
    entries: &mut Vec<IndexEntry>,
    scratch: &mut Scratch,
) {
    for b in &mut scratch.buckets {
        b.data.clear();
        b.slots.clear();
    }
    // Encode straight into the bucket of the previous record's length; records of a file
    // tend to have similar lengths, so the bytes rarely need moving.
    let mut guess = 1usize;
    let mut slot = 0u32;
    // Subject keys are computed after the loop, many at a time. Rows of a lot tend to be
    // adjacent, and so do an item's events in a file written item by item: a row with the
    // previous row's id reuses its input.
    scratch.key_blocks.clear();
    scratch.key_lens.clear();
    scratch.key_long.clear();
    scratch.key_of_entry.clear();
    let first_entry = entries.len();
    let mut keys_in = KeyInputs {
        blocks: &mut scratch.key_blocks,
        lens: &mut scratch.key_lens,
        long: &mut scratch.key_long,
        last: [None, None],
    };
    for row in rows {
        if rejected[row] {
            continue;
        }
        let bucket = bucket_mut(&mut scratch.buckets, guess);
        let start = bucket.data.len();
        let len = encode_row(view, row, &mut bucket.data);
        let blocks = len / BLOCK_LEN;
        if blocks == guess {
            bucket.slots.push(slot);
        } else {
            // Move the record to its bucket (split borrow through indices).
            bucket_mut(&mut scratch.buckets, blocks);
            let (lo, hi) = scratch.buckets.split_at_mut(guess.max(blocks));
            let (from, to) = if guess < blocks {
                (&mut lo[guess], &mut hi[0])
            } else {
                (&mut hi[0], &mut lo[blocks])
            };
            to.data.extend_from_slice(&from.data[start..]);
            from.data.truncate(start);
            to.slots.push(slot);
            guess = blocks;
        }
        let leaf = leaf_base + slot;
        // One entry per record (SPEC 4); validation has rejected rows with no subject.
        if let Some((ty, id)) = view.subject(row) {
            scratch.key_of_entry.push(keys_in.input(ty, id));
            entries.push(IndexEntry { key: [0; 16], leaf });
        }
        slot += 1;
    }
    debug_assert_eq!(slot as usize, leaves.len());
    let Scratch {
        buckets,
        out,
        key_blocks,
        key_lens,
        key_long,
        key_of_entry,
        keys,
    } = scratch;
    keys.resize(key_blocks.len(), [0; 16]);
    keys_of_blocks(key_blocks, key_lens, keys);
    for &(n, key) in key_long.iter() {
        keys[n as usize] = key;
    }
    for (e, &k) in entries[first_entry..].iter_mut().zip(key_of_entry.iter()) {
        e.key = keys[k as usize];
    }
    for (blocks, bucket) in buckets.iter().enumerate() {
        let n = bucket.slots.len();
        if n == 0 {
            continue;
        }
        if out.len() < n {
            out.resize(n, [0u8; 32]);
        }
        leaf_hashes_same_len::<S>(&bucket.data, blocks * BLOCK_LEN, &mut out[..n]);
        for (&slot, hash) in bucket.slots.iter().zip(out.iter()) {
            leaves[slot as usize] = *hash;
        }
    }
}

/// Encodes and hashes every accepted row of `view` (`rejected` has one flag per row):
/// `leaves` gets exactly one hash per accepted row, in row order; index entries (leaf
/// numbers from `leaf_base`) are appended to `entries`, unsorted. Parallel across chunks.
pub(crate) fn hash_batch<S: Suite>(
    view: &RecordView<'_>,
    rejected: &[bool],
    leaves: &mut [Hash],
    leaf_base: u32,
    entries: &mut Vec<IndexEntry>,
) {
    let rows = view.num_rows();
    if rows <= CHUNK_ROWS || rayon::current_num_threads() <= 1 {
        with_scratch(|scratch| {
            hash_chunk::<S>(view, 0..rows, rejected, leaves, leaf_base, entries, scratch);
        });
        return;
    }
    // Split the leaves among the chunks: a chunk's accepted rows are a contiguous run.
    let mut work = Vec::with_capacity(rows.div_ceil(CHUNK_ROWS));
    let mut rest = leaves;
    let mut base = leaf_base;
    for start in (0..rows).step_by(CHUNK_ROWS) {
        let end = (start + CHUNK_ROWS).min(rows);
        let accepted = rejected[start..end].iter().filter(|r| !**r).count();
        let (mine, tail) = std::mem::take(&mut rest).split_at_mut(accepted);
        rest = tail;
        work.push((start..end, mine, base));
        base += accepted as u32;
    }
    let parts: Vec<Vec<IndexEntry>> = work
        .into_par_iter()
        .map(|(range, mine, base)| {
            let mut local = Vec::with_capacity(range.len());
            with_scratch(|scratch| {
                hash_chunk::<S>(view, range, rejected, mine, base, &mut local, scratch);
            });
            local
        })
        .collect();
    for p in parts {
        entries.extend_from_slice(&p);
    }
}

/// Sorts index entries by (key, leaf). Keys are uniform hashes, so a scatter into buckets
/// by their leading bits leaves tiny buckets to sort: about two passes over the entries,
/// several times faster than a comparison sort of the whole segment.
pub fn sort_entries(entries: &mut Vec<IndexEntry>) {
    let n = entries.len();
    if n < 4096 {
        entries.sort_unstable();
        return;
    }
    let bits = (usize::BITS - n.leading_zeros())
        .saturating_sub(2)
        .clamp(8, 16);
    let shift = 16 - bits;
    let bucket = |e: &IndexEntry| (u16::from_be_bytes([e.key[0], e.key[1]]) >> shift) as usize;
    let mut starts = vec![0usize; (1 << bits) + 1];
    for e in entries.iter() {
        starts[bucket(e) + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut sorted = vec![
        IndexEntry {
            key: [0; 16],
            leaf: 0
        };
        n
    ];
    let mut next = starts.clone();
    for e in entries.iter() {
        let b = bucket(e);
        sorted[next[b]] = *e;
        next[b] += 1;
    }
    for w in starts.windows(2) {
        let run = &mut sorted[w[0]..w[1]];
        if run.len() > 1 {
            run.sort_unstable();
        }
    }
    *entries = sorted;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_sort_equals_comparison_sort() {
        for n in [0usize, 1, 100, 4095, 4096, 10_000, 70_000] {
            let mut entries: Vec<IndexEntry> = (0..n as u32)
                .map(|i| {
                    // Uniform keys, with runs of one repeated key (a lot) and leaves out of order.
                    let id = if i % 3 == 0 {
                        "LOT-1".to_owned()
                    } else {
                        format!("code-{i}")
                    };
                    IndexEntry {
                        key: fast_subject_key(SubjectType::Item, &id),
                        leaf: i.wrapping_mul(7919) % 100_003,
                    }
                })
                .collect();
            let mut want = entries.clone();
            want.sort();
            sort_entries(&mut entries);
            assert_eq!(entries, want, "n {n}");
        }
    }

    #[test]
    fn fast_subject_key_matches_the_spec() {
        for id in [
            "",
            "L1",
            "01234567890123456789",
            &"x".repeat(64),
            &"y".repeat(127),
            &"z".repeat(300),
        ] {
            for ty in [SubjectType::Item, SubjectType::Lot] {
                assert_eq!(fast_subject_key(ty, id), subject_key(ty, id), "{ty:?} {id}");
            }
        }
    }
}
