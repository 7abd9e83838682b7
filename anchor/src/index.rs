//! The batch index: an external k-way merge of the segments' sorted `.index`
//! runs into `index/entries.bin`, turning segment-local leaf indices into
//! global ones on the way.
//!
//! Each run is streamed through a buffer of its own; no run is ever held
//! whole. The buffers share the memory budget, at most [`MERGE_READ_BYTES`] of
//! it: with `k` runs each gets about `min(budget, MERGE_READ_BYTES) / (k + 1)`
//! bytes (at least [`MIN_RUN_BUFFER_BYTES`]). When more
//! runs are open than the budget allows at that minimum, the runs are merged
//! in passes: groups of runs into temporary files on local disk, then those
//! files, until one pass can take them all. Adding a segment's first global
//! leaf to every entry of its run keeps the run sorted, so the output is
//! sorted by plain byte comparison as SPEC 8.4 requires.
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
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::error::AnchorError;
use crate::segment_files::INDEX_ENTRY_LEN;

/// The smallest read buffer a run gets; fewer runs than `budget / this` are
/// merged in one pass.
pub const MIN_RUN_BUFFER_BYTES: usize = 16 * 1024;

/// The largest read buffer a run gets: larger reads gain little on local
/// disks.
pub const MAX_RUN_BUFFER_BYTES: usize = 256 * 1024;

/// What the read buffers of one merge pass share when the budget allows more:
/// runs get `64 MiB / runs` each (within [`MIN_RUN_BUFFER_BYTES`] and
/// [`MAX_RUN_BUFFER_BYTES`]), so the merge's memory stays near 64 MiB as the
/// batch grows instead of growing with its segment count up to the budget
/// (256 KiB a segment came to about 400 MiB at 100 M records).
pub const MERGE_READ_BYTES: usize = 64 << 20;

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

    fn name(&self) -> &str {
        &self.name
    }
}

/// A run in a local file, optionally deleted when the run is dropped
/// (the merge's temporary files).
#[derive(Debug)]
pub struct FileRun {
    name: String,
    path: PathBuf,
    file: File,
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
        Ok(Self {
            name: path.display().to_string(),
            path: path.to_owned(),
            file,
            delete_on_drop,
        })
    }
}

impl Drop for FileRun {
    fn drop(&mut self) {
        if self.delete_on_drop {
            // Best effort: the merge's temporary directory goes away too.
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

/// How the merge may use memory and local disk.
#[derive(Debug, Clone)]
pub struct MergeOptions {
    /// Bytes the run buffers may use together (default 1 GiB).
    pub memory_budget_bytes: usize,
    /// Where intermediate passes write their runs (default: the system's temporary directory).
    pub temp_dir: Option<PathBuf>,
}

impl Default for MergeOptions {
    fn default() -> Self {
        Self {
            memory_budget_bytes: DEFAULT_MEMORY_BUDGET_BYTES,
            temp_dir: None,
        }
    }
}

impl MergeOptions {
    /// The number of runs one pass merges under this budget (at least 2).
    pub fn fan_in(&self) -> usize {
        (self.memory_budget_bytes / MIN_RUN_BUFFER_BYTES).max(2)
    }

    /// The read buffer of each of `runs` runs merged at once (a multiple of 24).
    fn chunk_bytes(&self, runs: usize) -> usize {
        let share = self.memory_budget_bytes.min(MERGE_READ_BYTES) / (runs + 1);
        let share = share.clamp(MIN_RUN_BUFFER_BYTES, MAX_RUN_BUFFER_BYTES);
        share / INDEX_ENTRY_LEN * INDEX_ENTRY_LEN
    }
}

/// What a merge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MergeStats {
    /// Entries written.
    pub entries: u64,
    /// Runs merged.
    pub runs: usize,
    /// Passes over the data (1 when every run fit in one merge).
    pub passes: u32,
}

/// Merges sorted runs into `out` (sorted 24-byte entries, global leaf
/// indices), in passes through temporary files when there are more runs than
/// [`MergeOptions::fan_in`].
///
/// # Errors
///
/// [`AnchorError::Malformed`] naming the run if a run is not sorted, ends
/// inside an entry or points past its segment's leaves; I/O and store errors.
pub fn merge_runs(
    runs: Vec<Run>,
    opts: &MergeOptions,
    out: &mut dyn Write,
) -> Result<MergeStats, AnchorError> {
    let total_runs = runs.len();
    let fan_in = opts.fan_in();
    let mut runs = runs;
    let mut passes = 1;
    let mut temp: Option<tempfile::TempDir> = None;
    while runs.len() > fan_in {
        let dir = match &temp {
            Some(d) => d.path().to_owned(),
            None => {
                let d = match &opts.temp_dir {
                    Some(base) => tempfile::Builder::new()
                        .prefix("proofmark-merge-")
                        .tempdir_in(base),
                    None => tempfile::Builder::new()
                        .prefix("proofmark-merge-")
                        .tempdir(),
                }
                .map_err(|e| {
                    AnchorError::io(opts.temp_dir.as_deref().unwrap_or(Path::new("$TMPDIR")), e)
                })?;
                let p = d.path().to_owned();
                temp = Some(d);
                p
            }
        };
        let mut next = Vec::with_capacity(runs.len().div_ceil(fan_in));
        let mut rest = runs.into_iter().peekable();
        let mut group_no = 0;
        while rest.peek().is_some() {
            let group: Vec<Run> = rest.by_ref().take(fan_in).collect();
            let path = dir.join(format!("pass{passes}-{group_no:06}.bin"));
            group_no += 1;
            let file = File::create(&path).map_err(|e| AnchorError::io(&path, e))?;
            let chunk = opts.chunk_bytes(group.len());
            let mut w = BufWriter::with_capacity(chunk, file);
            merge_once(group, chunk, &mut w)?;
            w.flush().map_err(|e| AnchorError::io(&path, e))?;
            drop(w);
            next.push(Run::new(Box::new(FileRun::open(&path, true)?), 0, u64::MAX));
        }
        tracing::debug!(pass = passes, runs = next.len(), "index merge pass done");
        runs = next;
        passes += 1;
    }
    let chunk = opts.chunk_bytes(runs.len());
    let entries = merge_once(runs, chunk, out)?;
    drop(temp);
    Ok(MergeStats {
        entries,
        runs: total_runs,
        passes,
    })
}

/// A run being read: its current buffer and position.
struct Cursor {
    run: Run,
    buf: Vec<u8>,
    pos: usize,
    chunk_bytes: usize,
    prev: Option<(u128, u64)>,
}

impl Cursor {
    fn new(run: Run, chunk_bytes: usize) -> Self {
        Self {
            run,
            buf: Vec::new(),
            pos: 0,
            chunk_bytes,
            prev: None,
        }
    }

    /// The next entry as `(key, global leaf)`, or `None` at the end of the run.
    fn next(&mut self) -> Result<Option<(u128, u64)>, AnchorError> {
        while self.buf.len() - self.pos < INDEX_ENTRY_LEN {
            // Keep the partial entry left, if any, and append the next chunk.
            self.buf.drain(..self.pos);
            self.pos = 0;
            let before = self.buf.len();
            if self.buf.capacity() < self.chunk_bytes {
                self.buf.reserve_exact(self.chunk_bytes - before);
            }
            // At most the buffer's size in all: appending a whole chunk to a partial
            // entry would double the allocation.
            self.run
                .source
                .next_chunk(self.chunk_bytes - before, &mut self.buf)?;
            if self.buf.len() == before {
                if before > 0 {
                    return Err(AnchorError::malformed(
                        self.run.source.name(),
                        "ends inside an index entry",
                    ));
                }
                self.buf = Vec::new(); // the run is done: free its buffer
                return Ok(None);
            }
        }
        let e = &self.buf[self.pos..self.pos + INDEX_ENTRY_LEN];
        self.pos += INDEX_ENTRY_LEN;
        let mut k = [0u8; 16];
        k.copy_from_slice(&e[..16]);
        let mut l = [0u8; 8];
        l.copy_from_slice(&e[16..]);
        let key = u128::from_be_bytes(k);
        let local = u64::from_be_bytes(l);
        if local >= self.run.leaf_count {
            return Err(AnchorError::malformed(
                self.run.source.name(),
                format!(
                    "entry points to leaf {local}; the segment has {} leaves",
                    self.run.leaf_count
                ),
            ));
        }
        let entry = (key, local);
        if self.prev.is_some_and(|p| p > entry) {
            return Err(AnchorError::malformed(
                self.run.source.name(),
                "index entries are not sorted",
            ));
        }
        self.prev = Some(entry);
        Ok(Some((key, self.run.leaf_offset + local)))
    }
}

/// One k-way merge of `runs` into `out`; returns the entries written.
fn merge_once(runs: Vec<Run>, chunk_bytes: usize, out: &mut dyn Write) -> Result<u64, AnchorError> {
    let mut cursors: Vec<Cursor> = runs
        .into_iter()
        .map(|r| Cursor::new(r, chunk_bytes))
        .collect();
    let mut heap = BinaryHeap::with_capacity(cursors.len());
    for (i, c) in cursors.iter_mut().enumerate() {
        if let Some((k, l)) = c.next()? {
            heap.push(Reverse((k, l, i)));
        }
    }
    let mut written = 0u64;
    let mut entry = [0u8; INDEX_ENTRY_LEN];
    let write_err = |e| AnchorError::io("index merge output", e);
    while let Some(mut top) = heap.peek_mut() {
        let Reverse((key, leaf, i)) = *top;
        entry[..16].copy_from_slice(&key.to_be_bytes());
        entry[16..].copy_from_slice(&leaf.to_be_bytes());
        out.write_all(&entry).map_err(write_err)?;
        written += 1;
        match cursors[i].next()? {
            Some((k, l)) => *top = Reverse((k, l, i)),
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
                let mut entries: Vec<([u8; 16], u64)> = (0..count * 2)
                    .map(|i| {
                        let mut k = [0u8; 16];
                        k[0] = (next() % 8) as u8; // many equal keys across runs
                        k[1] = (next() % 3) as u8;
                        (k, i / 2)
                    })
                    .collect();
                entries.sort();
                let bytes = entries
                    .iter()
                    .flat_map(|(k, l)| encode_index_entry(k, *l))
                    .collect();
                let r = (offset, count, bytes);
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
    fn single_and_multi_pass_merges_agree() {
        for (n, seed) in [(0, 1), (1, 2), (7, 3), (40, 4), (129, 5)] {
            let r = runs(n, seed);
            let want = expected(&r);
            for budget in [
                DEFAULT_MEMORY_BUDGET_BYTES,
                2 * MIN_RUN_BUFFER_BYTES,
                5 * MIN_RUN_BUFFER_BYTES,
            ] {
                let opts = MergeOptions {
                    memory_budget_bytes: budget,
                    temp_dir: None,
                };
                let mut out = Vec::new();
                let stats = merge_runs(as_runs(&r), &opts, &mut out).unwrap();
                assert_eq!(out, want, "n {n} budget {budget}");
                assert_eq!(stats.entries as usize, want.len() / 24);
                let fan_in = opts.fan_in();
                if n > fan_in {
                    assert!(stats.passes > 1);
                } else {
                    assert_eq!(stats.passes, 1);
                }
            }
        }
    }

    /// A source that hands out odd-sized chunks, to cross entry boundaries.
    struct Dribble(MemoryRun);
    impl RunSource for Dribble {
        fn next_chunk(&mut self, _max: usize, buf: &mut Vec<u8>) -> Result<(), AnchorError> {
            self.0.next_chunk(7, buf)
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
        assert!(!path.exists(), "temporary runs are deleted after use");
    }
}
