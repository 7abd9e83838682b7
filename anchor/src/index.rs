//! The batch index: a merge of the segments' sorted `.index` runs into
//! `index/entries.bin`, turning segment-local leaf indices into global ones on
//! the way.
//!
//! Subject keys are BLAKE3 outputs, uniform over the key space, so equal
//! ranges of the space hold about equal shares of the entries. The merge goes
//! range by range (*passes*, ascending): a pass takes from every run the
//! entries whose key falls in its range, which, every run being sorted, are the
//! run's next entries, so each run is read once, front to back, over all the
//! passes; then it sorts them in memory on the rayon pool: the range is cut
//! into sub-ranges, each gathers its slice of every run and sorts it with a
//! scatter into buckets by the key's leading bits. Passes are sized so that one
//! pass's entries take about [`PASS_BYTES`] (at most a quarter of the budget).
//! A pass whose range holds far more than its share (many entries of one key,
//! a large lot) is merged with a k-way heap merge instead, which reads the runs
//! in small chunks: memory stays bounded for any key distribution, and no
//! temporary files are needed. Adding a segment's first global leaf to every
//! entry of its run keeps the run sorted, so the output is sorted by plain byte
//! comparison as SPEC 8.4 requires. Every entry is checked on the way: runs
//! sorted, whole entries, leaves below the segment's leaf count.
//!
//! ```
//! use proofmark_anchor::index::{MemoryRun, MergeOptions, Run, merge_runs};
//! use proofmark_anchor::segment_files::encode_index_entry;
//!
//! let a: Vec<u8> = [encode_index_entry(&[1; 16], 0), encode_index_entry(&[3; 16], 1)].concat();
//! let b: Vec<u8> = [encode_index_entry(&[2; 16], 0)].concat();
//! let runs = vec![
//!     Run::new(Box::new(MemoryRun::new("a", a.into())), 0, 2),
//!     Run::new(Box::new(MemoryRun::new("b", b.into())), 2, 1), // its leaves start at 2
//! ];
//! let mut out = Vec::new();
//! let stats = merge_runs(runs, &MergeOptions::default(), &mut out)?;
//! assert_eq!(stats.entries, 3);
//! assert_eq!(&out[24..40], &[2; 16]);
//! assert_eq!(out[47], 2); // the entry of run b now points to global leaf 2
//! # Ok::<(), proofmark_anchor::AnchorError>(())
//! ```

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use rayon::prelude::*;

use crate::error::AnchorError;
use crate::segment_files::INDEX_ENTRY_LEN;

/// One index entry as stored: key, then `u64` BE leaf.
type Entry = [u8; INDEX_ENTRY_LEN];

/// The most entry bytes one pass aims to hold (a quarter of the budget when
/// that is less): about 64 MiB of entries read and 64 MiB sorted, whatever the
/// batch's size. Passes cost little (no temporary files, each run read once in
/// all), so they are kept small.
pub const PASS_BYTES: usize = 64 << 20;

/// The smallest read chunk of a run.
pub const MIN_RUN_CHUNK_BYTES: usize = 16 * 1024;

/// The largest read chunk of a run.
pub const MAX_RUN_CHUNK_BYTES: usize = 1 << 20;

/// The default memory budget of the merge: 1 GiB.
pub const DEFAULT_MEMORY_BUDGET_BYTES: usize = 1 << 30;

/// A sorted run of 24-byte index entries, read chunk by chunk.
pub trait RunSource: Send {
    /// Appends the next bytes of the run to `buf`, at most `max_bytes` of
    /// them (a chunk need not end on an entry boundary); appends nothing at
    /// the end of the run.
    ///
    /// # Errors
    ///
    /// Whatever reading the run's storage returns.
    fn next_chunk(&mut self, max_bytes: usize, buf: &mut Vec<u8>) -> Result<(), AnchorError>;

    /// The run's length in bytes, as listed (sizes the merge's passes; a run
    /// whose bytes turn out shorter or longer is the source's error to report,
    /// or merged as it is).
    fn len_bytes(&self) -> u64;

    /// The run's name for error messages (its store path or file).
    fn name(&self) -> &str;
}

/// A run held in memory (tests, small runs).
#[derive(Debug, Clone)]
pub struct MemoryRun {
    name: String,
    data: Bytes,
    pos: usize,
}

impl MemoryRun {
    /// A run over `data`.
    pub fn new(name: impl Into<String>, data: Bytes) -> Self {
        Self {
            name: name.into(),
            data,
            pos: 0,
        }
    }
}

impl RunSource for MemoryRun {
    fn next_chunk(&mut self, max_bytes: usize, buf: &mut Vec<u8>) -> Result<(), AnchorError> {
        let end = (self.pos + max_bytes).min(self.data.len());
        buf.extend_from_slice(&self.data[self.pos..end]);
        self.pos = end;
        Ok(())
    }

    fn len_bytes(&self) -> u64 {
        self.data.len() as u64
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// A run in a local file, optionally deleted when the run is dropped.
#[derive(Debug)]
pub struct FileRun {
    name: String,
    path: PathBuf,
    file: File,
    len: u64,
    delete_on_drop: bool,
}

impl FileRun {
    /// Opens the run at `path`.
    ///
    /// # Errors
    ///
    /// [`AnchorError::Io`] if the file cannot be opened.
    pub fn open(path: &Path, delete_on_drop: bool) -> Result<Self, AnchorError> {
        let file = File::open(path).map_err(|e| AnchorError::io(path, e))?;
        let len = file.metadata().map_err(|e| AnchorError::io(path, e))?.len();
        Ok(Self {
            name: path.display().to_string(),
            path: path.to_owned(),
            file,
            len,
            delete_on_drop,
        })
    }
}

impl Drop for FileRun {
    fn drop(&mut self) {
        if self.delete_on_drop {
            // Best effort.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl RunSource for FileRun {
    fn next_chunk(&mut self, max_bytes: usize, buf: &mut Vec<u8>) -> Result<(), AnchorError> {
        let start = buf.len();
        buf.resize(start + max_bytes, 0);
        let mut filled = start;
        while filled < buf.len() {
            match self.file.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    buf.truncate(start);
                    return Err(AnchorError::io(&self.path, e));
                }
            }
        }
        buf.truncate(filled);
        Ok(())
    }

    fn len_bytes(&self) -> u64 {
        self.len
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// One input of the merge: a sorted run, the global index of its segment's
/// first leaf (added to every entry) and the segment's leaf count (every
/// local index must be below it).
pub struct Run {
    source: Box<dyn RunSource>,
    leaf_offset: u64,
    leaf_count: u64,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("name", &self.source.name())
            .field("leaf_offset", &self.leaf_offset)
            .field("leaf_count", &self.leaf_count)
            .finish()
    }
}

impl Run {
    /// A run whose local leaf `i` is global leaf `leaf_offset + i`, for `i < leaf_count`.
    pub fn new(source: Box<dyn RunSource>, leaf_offset: u64, leaf_count: u64) -> Self {
        Self {
            source,
            leaf_offset,
            leaf_count,
        }
    }
}

/// How the merge may use memory.
#[derive(Debug, Clone)]
pub struct MergeOptions {
    /// Bytes the merge may hold at once (default 1 GiB): a pass's entries
    /// take at most a quarter of it, up to [`PASS_BYTES`]; what a pass reads
    /// and sorts is about twice that, plus one read chunk per run.
    pub memory_budget_bytes: usize,
}

impl Default for MergeOptions {
    fn default() -> Self {
        Self {
            memory_budget_bytes: DEFAULT_MEMORY_BUDGET_BYTES,
        }
    }
}

impl MergeOptions {
    /// The entry bytes one pass aims to hold under this budget.
    pub fn pass_bytes(&self) -> usize {
        (self.memory_budget_bytes / 4).clamp(64 * INDEX_ENTRY_LEN, PASS_BYTES)
    }
}

/// What a merge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MergeStats {
    /// Entries written.
    pub entries: u64,
    /// Runs merged.
    pub runs: usize,
    /// Key-range passes (each run is read once over all of them).
    pub passes: u32,
    /// Passes merged with the k-way heap merge because their range held far
    /// more entries than its share (many entries of one key).
    pub heap_passes: u32,
}

/// Merges sorted runs into `out` (sorted 24-byte entries, global leaf
/// indices), one key range at a time.
///
/// # Errors
///
/// [`AnchorError::Malformed`] naming the run if a run is not sorted, ends
/// inside an entry or points past its segment's leaves; what reading a run
/// or writing `out` returns.
pub fn merge_runs(
    runs: Vec<Run>,
    opts: &MergeOptions,
    out: &mut dyn Write,
) -> Result<MergeStats, AnchorError> {
    let total_bytes: u64 = runs.iter().map(|r| r.source.len_bytes()).sum();
    let pass_bytes = opts.pass_bytes() as u64;
    let passes = total_bytes.div_ceil(pass_bytes).clamp(1, 1 << 20);
    let mut readers: Vec<Reader> = runs
        .into_iter()
        .map(|run| Reader::new(run, passes))
        .collect();
    let pass_entries = (pass_bytes as usize / INDEX_ENTRY_LEN).max(1);
    let mut pieces: Vec<Vec<Entry>> = readers.iter().map(|_| Vec::new()).collect();
    let mut sorted: Vec<Entry> = Vec::new();
    let mut stats = MergeStats {
        runs: readers.len(),
        passes: passes as u32,
        ..MergeStats::default()
    };
    let write_err = |e| AnchorError::io("index merge output", e);
    for p in 0..passes {
        let lo = range_bound(p, passes).unwrap_or(u64::MAX);
        let hi = range_bound(p + 1, passes);
        // Every run's entries of this range, each run capped near twice its share.
        let filled: Vec<Result<Take, AnchorError>> = readers
            .par_iter_mut()
            .zip(pieces.par_iter_mut())
            .map(|(r, piece)| {
                piece.clear();
                let cap = 2 * r.entries.div_ceil(passes) as usize + 64;
                r.fill_below(hi, cap, piece)
            })
            .collect();
        let mut taken: usize = pieces.iter().map(Vec::len).sum();
        let mut complete = true;
        for (i, f) in filled.into_iter().enumerate() {
            if f? == Take::Capped {
                // Over its share: go on, within the pass's hard limit.
                let room = (3 * pass_entries).saturating_sub(taken);
                let before = pieces[i].len();
                let more = readers[i].fill_below(hi, before + room, &mut pieces[i])?;
                taken += pieces[i].len() - before;
                complete &= more == Take::Complete;
            }
        }
        if complete {
            sort_range(&pieces, lo, hi, &mut sorted);
            out.write_all(sorted.as_flattened()).map_err(write_err)?;
            stats.entries += sorted.len() as u64;
        } else {
            stats.heap_passes += 1;
            stats.entries += heap_merge(&mut readers, &mut pieces, hi, out)?;
        }
    }
    Ok(stats)
}

/// The top 64 key bits where range `p` of `passes` starts (`None`: the end
/// of the key space).
fn range_bound(p: u64, passes: u64) -> Option<u64> {
    if p >= passes {
        return None;
    }
    Some(((u128::from(p) << 64) / u128::from(passes)) as u64)
}

/// The leading 64 bits of an entry's key.
#[inline]
fn top(e: &Entry) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&e[..8]);
    u64::from_be_bytes(w)
}

/// An entry as three big-endian words: its order.
#[inline]
fn words(e: &Entry) -> (u64, u64, u64) {
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&e[i..i + 8]);
        u64::from_be_bytes(w)
    };
    (word(0), word(8), word(16))
}

/// How a fill ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Take {
    /// Every entry of the run below the bound was taken.
    Complete,
    /// The cap was reached first.
    Capped,
}

/// A run being read: bytes read but not taken yet, and the checks' state.
struct Reader {
    run: Run,
    /// Entries in the run, from its listed length.
    entries: u64,
    buf: Vec<u8>,
    pos: usize,
    chunk_bytes: usize,
    eof: bool,
    prev: Option<(u64, u64, u64)>,
}

impl Reader {
    fn new(run: Run, passes: u64) -> Self {
        let len = run.source.len_bytes();
        let share = usize::try_from(len.div_ceil(passes)).unwrap_or(usize::MAX);
        let chunk = share.clamp(MIN_RUN_CHUNK_BYTES, MAX_RUN_CHUNK_BYTES);
        Self {
            entries: len / INDEX_ENTRY_LEN as u64,
            run,
            buf: Vec::new(),
            pos: 0,
            chunk_bytes: chunk / INDEX_ENTRY_LEN * INDEX_ENTRY_LEN,
            eof: false,
            prev: None,
        }
    }

    /// Makes sure a whole entry is buffered; `false` at the end of the run.
    fn ensure(&mut self) -> Result<bool, AnchorError> {
        while self.buf.len() - self.pos < INDEX_ENTRY_LEN {
            if self.eof {
                if self.buf.len() > self.pos {
                    return Err(AnchorError::malformed(
                        self.run.source.name(),
                        "ends inside an index entry",
                    ));
                }
                self.buf = Vec::new(); // the run is done: free its buffer
                self.pos = 0;
                return Ok(false);
            }
            self.buf.drain(..self.pos);
            self.pos = 0;
            let before = self.buf.len();
            self.run
                .source
                .next_chunk(self.chunk_bytes, &mut self.buf)?;
            if self.buf.len() == before {
                self.eof = true;
            }
        }
        Ok(true)
    }

    /// Takes the run's next entries whose key's top 64 bits are below `hi`
    /// (all, for `None`) into `out` (global leaves), until `out` holds `cap`.
    fn fill_below(
        &mut self,
        hi: Option<u64>,
        cap: usize,
        out: &mut Vec<Entry>,
    ) -> Result<Take, AnchorError> {
        let hi = hi.map_or(u128::from(u64::MAX) + 1, u128::from);
        loop {
            if !self.ensure()? {
                return Ok(Take::Complete);
            }
            let mut prev = self.prev;
            let mut taken = 0usize;
            let mut result = None;
            let offset = self.run.leaf_offset;
            let count = self.run.leaf_count;
            for chunk in self.buf[self.pos..].chunks_exact(INDEX_ENTRY_LEN) {
                let e: &Entry = chunk.try_into().unwrap_or(&[0; INDEX_ENTRY_LEN]);
                let w = words(e);
                if u128::from(w.0) >= hi {
                    result = Some(Take::Complete);
                    break;
                }
                if out.len() >= cap {
                    result = Some(Take::Capped);
                    break;
                }
                if prev.is_some_and(|p| p > w) {
                    return Err(AnchorError::malformed(
                        self.run.source.name(),
                        "index entries are not sorted",
                    ));
                }
                if w.2 >= count {
                    return Err(AnchorError::malformed(
                        self.run.source.name(),
                        format!(
                            "entry points to leaf {}; the segment has {count} leaves",
                            w.2
                        ),
                    ));
                }
                prev = Some(w);
                let mut g = *e;
                g[16..].copy_from_slice(&(offset + w.2).to_be_bytes());
                out.push(g);
                taken += 1;
            }
            self.pos += taken * INDEX_ENTRY_LEN;
            self.prev = prev;
            if let Some(r) = result {
                return Ok(r);
            }
        }
    }

    /// The next entry below `hi`, or `None`.
    fn next_below(&mut self, hi: Option<u64>) -> Result<Option<Entry>, AnchorError> {
        let mut one = Vec::with_capacity(1);
        self.fill_below(hi, 1, &mut one)?;
        Ok(one.pop())
    }
}

/// Sorts the pieces of one pass (each sorted, keys in `lo..hi`) into `out`.
fn sort_range(pieces: &[Vec<Entry>], lo: u64, hi: Option<u64>, out: &mut Vec<Entry>) {
    let total: usize = pieces.iter().map(Vec::len).sum();
    out.clear();
    out.resize(total, [0; INDEX_ENTRY_LEN]);
    let end = hi.map_or(u128::from(u64::MAX) + 1, u128::from);
    let width = end - u128::from(lo);
    let tasks = if total < 1 << 16 {
        1
    } else {
        8 * rayon::current_num_threads().max(1)
    };
    // Sub-range t holds keys from bounds[t]; each piece's slice of it by binary search.
    let bounds: Vec<u128> = (0..=tasks)
        .map(|t| u128::from(lo) + width * t as u128 / tasks as u128)
        .collect();
    let cuts: Vec<Vec<usize>> = pieces
        .iter()
        .map(|p| {
            bounds
                .iter()
                .map(|&b| p.partition_point(|e| u128::from(top(e)) < b))
                .collect()
        })
        .collect();
    let mut regions = Vec::with_capacity(tasks);
    let mut rest: &mut [Entry] = out;
    for t in 0..tasks {
        let n: usize = cuts.iter().map(|c| c[t + 1] - c[t]).sum();
        let (mine, tail) = std::mem::take(&mut rest).split_at_mut(n);
        rest = tail;
        regions.push((t, mine));
    }
    regions.into_par_iter().for_each(|(t, region)| {
        let slices = pieces.iter().zip(&cuts).map(|(p, c)| &p[c[t]..c[t + 1]]);
        scatter_sort(slices, bounds[t], bounds[t + 1], region);
    });
}

/// Sorts the entries of `slices` (keys' top bits in `lo..hi`) into `region`
/// (exactly as long): a scatter into buckets by the leading key bits, then a
/// sort of each (small) bucket.
fn scatter_sort<'a>(
    slices: impl Iterator<Item = &'a [Entry]> + Clone,
    lo: u128,
    hi: u128,
    region: &mut [Entry],
) {
    let n = region.len();
    if n <= 64 {
        let mut at = 0;
        for s in slices {
            region[at..at + s.len()].copy_from_slice(s);
            at += s.len();
        }
        region.sort_unstable_by_key(words);
        return;
    }
    // About four entries a bucket.
    let bucket_bits = (usize::BITS - (n / 4).leading_zeros()).clamp(1, 22);
    let width_bits = 128 - (hi - lo - 1).leading_zeros();
    let shift = width_bits.saturating_sub(bucket_bits);
    let buckets = (((hi - lo - 1) >> shift) + 1) as usize;
    let bucket = |e: &Entry| ((u128::from(top(e)) - lo) >> shift) as usize;
    let mut starts = vec![0u32; buckets + 1];
    for s in slices.clone() {
        for e in s {
            starts[bucket(e) + 1] += 1;
        }
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut next = starts.clone();
    for s in slices {
        for e in s {
            let b = bucket(e);
            region[next[b] as usize] = *e;
            next[b] += 1;
        }
    }
    for w in starts.windows(2) {
        let bucket = &mut region[w[0] as usize..w[1] as usize];
        match bucket.len() {
            0 | 1 => {}
            2..=16 => insertion_sort(bucket),
            _ => bucket.sort_unstable_by_key(words),
        }
    }
}

fn insertion_sort(v: &mut [Entry]) {
    for i in 1..v.len() {
        let x = v[i];
        let kx = words(&x);
        let mut j = i;
        while j > 0 && words(&v[j - 1]) > kx {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = x;
    }
}

/// The k-way heap merge of one pass: every run's taken entries (`pieces`),
/// then its further entries below `hi`, read entry by entry. Returns the
/// entries written.
fn heap_merge(
    readers: &mut [Reader],
    pieces: &mut [Vec<Entry>],
    hi: Option<u64>,
    out: &mut dyn Write,
) -> Result<u64, AnchorError> {
    let mut at = vec![0usize; readers.len()];
    let mut next = |i: usize, readers: &mut [Reader]| -> Result<Option<Entry>, AnchorError> {
        if let Some(e) = pieces[i].get(at[i]) {
            at[i] += 1;
            return Ok(Some(*e));
        }
        readers[i].next_below(hi)
    };
    let mut heap = BinaryHeap::with_capacity(readers.len());
    for i in 0..readers.len() {
        if let Some(e) = next(i, readers)? {
            heap.push(Reverse((e, i)));
        }
    }
    let mut written = 0u64;
    let write_err = |e| AnchorError::io("index merge output", e);
    while let Some(mut top) = heap.peek_mut() {
        let Reverse((e, i)) = *top;
        out.write_all(&e).map_err(write_err)?;
        written += 1;
        match next(i, readers)? {
            Some(n) => *top = Reverse((n, i)),
            None => {
                std::collections::binary_heap::PeekMut::pop(top);
            }
        }
    }
    Ok(written)
}

/// A writer that hashes what passes through it (the digest of `entries.bin`).
#[derive(Debug)]
pub struct HashingWriter<W> {
    inner: W,
    hasher: blake3::Hasher,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: blake3::Hasher::new(),
            bytes: 0,
        }
    }

    /// The inner writer, the BLAKE3 hash and the byte count of what was written.
    pub fn finish(self) -> (W, blake3::Hash, u64) {
        (self.inner, self.hasher.finalize(), self.bytes)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::segment_files::{decode_index_entry, encode_index_entry};

    /// The bytes of a run of `entries`, sorted.
    fn sorted_run(mut entries: Vec<([u8; 16], u64)>) -> Vec<u8> {
        entries.sort();
        entries
            .iter()
            .flat_map(|(k, l)| encode_index_entry(k, *l))
            .collect()
    }

    /// Deterministic pseudo-random runs: `(offset, count, sorted entries)`.
    fn runs(n: usize, seed: u64) -> Vec<(u64, u64, Vec<u8>)> {
        let mut x = seed;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut offset = 0;
        (0..n)
            .map(|_| {
                let count = next() % 50;
                let entries: Vec<([u8; 16], u64)> = (0..count * 2)
                    .map(|i| {
                        let mut k = [0u8; 16];
                        k[0] = (next() % 8) as u8; // many equal keys across runs
                        k[1] = (next() % 3) as u8;
                        (k, i / 2)
                    })
                    .collect();
                let r = (offset, count, sorted_run(entries));
                offset += count;
                r
            })
            .collect()
    }

    fn expected(runs: &[(u64, u64, Vec<u8>)]) -> Vec<u8> {
        let mut all: Vec<[u8; 24]> = runs
            .iter()
            .flat_map(|(off, _, b)| {
                b.chunks(24).map(move |e| {
                    let (k, l) = decode_index_entry(e);
                    encode_index_entry(&k, l + off)
                })
            })
            .collect();
        all.sort();
        all.concat()
    }

    fn as_runs(r: &[(u64, u64, Vec<u8>)]) -> Vec<Run> {
        r.iter()
            .enumerate()
            .map(|(i, (off, count, b))| {
                Run::new(
                    Box::new(MemoryRun::new(format!("run{i}"), b.clone().into())),
                    *off,
                    *count,
                )
            })
            .collect()
    }

    #[test]
    fn one_and_many_passes_agree() {
        for (n, seed) in [(0, 1), (1, 2), (7, 3), (40, 4), (129, 5)] {
            let r = runs(n, seed);
            let want = expected(&r);
            for budget in [DEFAULT_MEMORY_BUDGET_BYTES, 4096, 64 * 1024] {
                let opts = MergeOptions {
                    memory_budget_bytes: budget,
                };
                let mut out = Vec::new();
                let stats = merge_runs(as_runs(&r), &opts, &mut out).unwrap();
                assert_eq!(out, want, "n {n} budget {budget}");
                assert_eq!(stats.entries as usize, want.len() / 24);
                let bytes = want.len() as u64;
                assert_eq!(
                    u64::from(stats.passes),
                    bytes.div_ceil(opts.pass_bytes() as u64).max(1)
                );
            }
        }
    }

    /// Runs of uniform keys (as subject keys are), `per_run` entries each.
    fn uniform_runs(n: usize, per_run: u64, seed: u64) -> Vec<(u64, u64, Vec<u8>)> {
        let mut x = seed | 1;
        let mut offset = 0;
        (0..n)
            .map(|_| {
                let entries: Vec<([u8; 16], u64)> = (0..per_run)
                    .map(|leaf| {
                        let mut k = [0u8; 16];
                        for c in k.chunks_mut(8) {
                            x ^= x << 13;
                            x ^= x >> 7;
                            x ^= x << 17;
                            c.copy_from_slice(&x.to_be_bytes());
                        }
                        (k, leaf)
                    })
                    .collect();
                let r = (offset, per_run, sorted_run(entries));
                offset += per_run;
                r
            })
            .collect()
    }

    #[test]
    fn uniform_keys_sort_in_parallel_passes() {
        // Enough entries a pass for the parallel sub-ranges (over 65,536).
        let r = uniform_runs(12, 20_000, 7);
        let want = expected(&r);
        for budget in [DEFAULT_MEMORY_BUDGET_BYTES, 4 << 20] {
            let mut out = Vec::new();
            let stats = merge_runs(
                as_runs(&r),
                &MergeOptions {
                    memory_budget_bytes: budget,
                },
                &mut out,
            )
            .unwrap();
            assert_eq!(out, want, "budget {budget}");
            assert_eq!(stats.heap_passes, 0);
        }
    }

    #[test]
    fn one_heavy_key_takes_the_heap_merge_and_agrees() {
        // A lot with far more entries than a pass holds, in every run, among uniform keys.
        let mut r = uniform_runs(6, 3_000, 9);
        let heavy = [0x42u8; 16];
        for (_, count, bytes) in r.iter_mut() {
            let mut entries: Vec<[u8; 24]> = bytes
                .chunks(24)
                .map(|c| <[u8; 24]>::try_from(c).unwrap())
                .collect();
            for leaf in *count..*count + 5_000 {
                entries.push(encode_index_entry(&heavy, leaf));
            }
            *count += 5_000;
            entries.sort();
            *bytes = entries.concat();
        }
        let mut offset = 0;
        for run in r.iter_mut() {
            run.0 = offset;
            offset += run.1;
        }
        let want = expected(&r);
        let opts = MergeOptions {
            memory_budget_bytes: 256 * 1024,
        };
        let mut out = Vec::new();
        let stats = merge_runs(as_runs(&r), &opts, &mut out).unwrap();
        assert_eq!(out, want);
        assert!(stats.heap_passes >= 1, "{stats:?}");
        assert!(stats.heap_passes < stats.passes, "{stats:?}");
    }

    /// A source that hands out odd-sized chunks, to cross entry boundaries.
    struct Dribble(MemoryRun);
    impl RunSource for Dribble {
        fn next_chunk(&mut self, _max: usize, buf: &mut Vec<u8>) -> Result<(), AnchorError> {
            self.0.next_chunk(7, buf)
        }
        fn len_bytes(&self) -> u64 {
            self.0.len_bytes()
        }
        fn name(&self) -> &str {
            self.0.name()
        }
    }

    #[test]
    fn chunks_may_split_entries() {
        let r = runs(5, 9);
        let want = expected(&r);
        let sources: Vec<Run> = r
            .iter()
            .map(|(off, count, b)| {
                Run::new(
                    Box::new(Dribble(MemoryRun::new("d", b.clone().into()))),
                    *off,
                    *count,
                )
            })
            .collect();
        let mut out = Vec::new();
        merge_runs(sources, &MergeOptions::default(), &mut out).unwrap();
        assert_eq!(out, want);
    }

    #[test]
    fn bad_runs_are_named() {
        let a = [
            encode_index_entry(&[2; 16], 0),
            encode_index_entry(&[1; 16], 1),
        ]
        .concat();
        let err = merge_runs(
            vec![Run::new(
                Box::new(MemoryRun::new("unsorted", a.into())),
                0,
                2,
            )],
            &MergeOptions::default(),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(matches!(err, AnchorError::Malformed { ref path, .. } if path == "unsorted"));
        let b = encode_index_entry(&[2; 16], 0)[..20].to_vec();
        let err = merge_runs(
            vec![Run::new(Box::new(MemoryRun::new("short", b.into())), 0, 2)],
            &MergeOptions::default(),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(matches!(err, AnchorError::Malformed { ref path, .. } if path == "short"));
        let c = encode_index_entry(&[2; 16], 5).to_vec();
        let err = merge_runs(
            vec![Run::new(Box::new(MemoryRun::new("past", c.into())), 0, 5)],
            &MergeOptions::default(),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(matches!(err, AnchorError::Malformed { ref path, .. } if path == "past"));
    }

    #[test]
    fn file_runs_read_back_and_hashing_writer_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.bin");
        let r = runs(1, 11);
        std::fs::write(&path, &r[0].2).unwrap();
        let run = Run::new(Box::new(FileRun::open(&path, true).unwrap()), 0, r[0].1);
        let mut w = HashingWriter::new(Vec::new());
        merge_runs(vec![run], &MergeOptions::default(), &mut w).unwrap();
        let (out, hash, n) = w.finish();
        assert_eq!(out, r[0].2);
        assert_eq!(hash, blake3::hash(&out));
        assert_eq!(n as usize, out.len());
        assert!(
            !path.exists(),
            "runs opened to be deleted are deleted after use"
        );
    }
}
