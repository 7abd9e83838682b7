//! The global code index: subject key -> (batch, leaf) positions of every
//! published batch, in a local folder.
//!
//! The index is a small log-structured set of immutable sorted *runs*
//! (`run-<n>.bin`) and a catalog (`catalog.json`) naming the published
//! batches and the live runs; `docs/decisions/0005-code-index-sorted-runs.md`
//! has the measurements behind this design. Publishing a batch streams its
//! sorted `index/entries.bin` (SPEC.md 8.4) into a new run, merges runs of
//! similar size (so a store of `n` batches keeps `O(log n)` runs), fsyncs
//! the runs, then replaces the catalog atomically: a crash leaves the old
//! catalog in force and at worst an unreferenced run file that the next
//! publish removes. Runs are never modified, so readers need no lock; a
//! reader holding an older catalog keeps its open files.
//!
//! A run file is a 16-byte header (`PMCIRUN1`, then the entry count, `u64`
//! little-endian) followed by 32-byte entries sorted by byte order: the
//! 16-byte subject key, the batch's ordinal in the catalog (`u32`
//! big-endian), flags (`u32` big-endian) and the global leaf index (`u64`
//! big-endian). A batch has one entry per leaf (SPEC.md 4 and 8.4): a record
//! with a code is found under its item key only, so the entries under a lot's
//! key are its own records (inspections, customs declarations) and a code's
//! journey reads none of the lot's other items. Publishing refuses a batch
//! index with a leaf missing or twice and sets no flags; runs published under
//! the former two-entry rule mark the lot entries of coded records with
//! [`FLAG_PAIRED`], which lookups skip.
//!
//! Lookups read the key's bucket in each run's in-memory radix table (the
//! keys' leading bits), then binary-search that bucket of the mapped run
//! (`crate::mapped`).
//!
//! Publishing also writes the batch's record file (`records/<ordinal>.bin`,
//! see [`records`]): every leaf's canonical bytes, so lookups read records
//! without decoding the input Parquet files. It is renamed into place and
//! fsynced before the catalog names it; a crash before the catalog is
//! replaced leaves a record file that the next publish of that ordinal
//! replaces.
//!
//! ```
//! use proofmark_verifier::index::CodeIndex;
//! let dir = tempfile::tempdir()?;
//! let index = CodeIndex::open(dir.path())?; // an empty index
//! assert!(index.positions(&[0; 16])?.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use proofmark_schemas::subject::SubjectKey;
use serde::{Deserialize, Serialize};

use crate::error::VerifierError;
use crate::mapped::Mapped;

mod publish;
pub mod records;

pub use publish::{PublishOutcome, publish};
pub use records::RECORDS_DIR;

/// The `format` field of the catalog.
pub const CATALOG_FORMAT: &str = "proofmark-code-index";
/// The catalog's file name.
pub const CATALOG_FILE: &str = "catalog.json";
/// The lock file a publish holds.
pub const LOCK_FILE: &str = "publish.lock";
/// Length of one run entry.
pub const RUN_ENTRY_LEN: usize = 32;
/// Flag (bytes 20..24 of a run entry) of an entry whose leaf also has an entry under
/// another key. Publishing no longer sets it (one entry per leaf, SPEC 8.4); runs
/// published under the former rule have it on the lot entries of coded records.
pub const FLAG_PAIRED: u32 = 1;

const RUN_MAGIC: &[u8; 8] = b"PMCIRUN1";
const RUN_HEADER_LEN: u64 = 16;
/// Entries a bucket of a run's radix table holds on average (at least).
const ENTRIES_PER_BUCKET: u64 = 16;
/// Most leading key bits a run's radix table is indexed by.
const MAX_BUCKET_BITS: u32 = 30;
/// Bytes of `entries.bin` read from the store at a time.
pub(crate) const FETCH_BYTES: u64 = 8 << 20;
/// Batch index entry length (SPEC.md 8.4).
pub(crate) const BATCH_ENTRY_LEN: u64 = 24;
/// Runs beyond this are merged whatever their sizes.
pub(crate) const MAX_RUNS: usize = 12;

/// A batch in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedBatch {
    /// Its number in the index's run entries.
    pub ordinal: u32,
    /// The batch.
    pub batch_id: String,
    /// `blake3:` digest of the manifest that was published.
    pub manifest_digest: String,
    /// The batch's hash suite name.
    pub suite: String,
    /// The batch's business date (`YYYY-MM-DD`).
    pub batch_date: String,
    /// The batch root, hex.
    pub root: String,
    /// Leaves of the batch.
    pub leaf_count: u64,
    /// Index entries it added.
    pub entries: u64,
    /// When it was published (RFC 3339 UTC).
    pub published_at: String,
    /// Its record file (relative to the index folder, see [`records`]):
    /// absent for batches published before record files, whose records
    /// lookups read back from their input Parquet files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<String>,
}

/// A live run file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Its file name in the index folder.
    pub file: String,
    /// Entries in it.
    pub entries: u64,
    /// `blake3:` digest of the file.
    pub digest: String,
}

/// `catalog.json`: the published batches and the live runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Always [`CATALOG_FORMAT`].
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// Published batches, by ordinal.
    pub batches: Vec<PublishedBatch>,
    /// Live runs, oldest first.
    pub runs: Vec<RunInfo>,
    /// The number of the next run file.
    pub next_run: u64,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog {
            format: CATALOG_FORMAT.to_owned(),
            version: 1,
            batches: Vec::new(),
            runs: Vec::new(),
            next_run: 0,
        }
    }
}

impl Catalog {
    /// Reads the catalog of `dir`; an absent catalog is an empty index.
    ///
    /// # Errors
    ///
    /// [`VerifierError::IndexIo`], [`VerifierError::IndexCorrupt`].
    pub fn load(dir: &Path) -> Result<Self, VerifierError> {
        let path = dir.join(CATALOG_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Catalog::default()),
            Err(e) => return Err(VerifierError::index_io(path, e)),
        };
        let c: Catalog = serde_json::from_slice(&bytes)
            .map_err(|e| VerifierError::index_corrupt(&path, e.to_string()))?;
        if c.format != CATALOG_FORMAT || c.version != 1 {
            return Err(VerifierError::index_corrupt(
                &path,
                format!(
                    "format {:?} version {} is not supported",
                    c.format, c.version
                ),
            ));
        }
        for (i, b) in c.batches.iter().enumerate() {
            if b.ordinal as usize != i {
                return Err(VerifierError::index_corrupt(
                    &path,
                    "batch ordinals are not 0, 1, ...",
                ));
            }
        }
        Ok(c)
    }

    /// The published batch `batch_id`.
    pub fn batch(&self, batch_id: &str) -> Option<&PublishedBatch> {
        self.batches.iter().find(|b| b.batch_id == batch_id)
    }

    /// Writes the catalog atomically: a temporary file, fsync, rename, fsync of the folder.
    pub(crate) fn store(&self, dir: &Path) -> Result<(), VerifierError> {
        let tmp = dir.join(format!("{CATALOG_FILE}.tmp"));
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| VerifierError::index_corrupt(&tmp, e.to_string()))?;
        write_synced(&tmp, &bytes)?;
        let path = dir.join(CATALOG_FILE);
        std::fs::rename(&tmp, &path).map_err(|e| VerifierError::index_io(&path, e))?;
        sync_dir(dir)
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), VerifierError> {
    let mut f = File::create(path).map_err(|e| VerifierError::index_io(path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| VerifierError::index_io(path, e))
}

fn sync_dir(dir: &Path) -> Result<(), VerifierError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| VerifierError::index_io(dir, e))
}

/// Where a subject's record is: a batch (by ordinal) and a leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// The batch's ordinal in the catalog.
    pub batch: u32,
    /// The global leaf index in the batch.
    pub leaf_index: u64,
    /// The record also has an entry under another key: only in runs published under
    /// the former two-entry rule (see [`FLAG_PAIRED`]).
    pub paired: bool,
}

/// One run, open for lookups.
#[derive(Debug)]
struct RunReader {
    path: PathBuf,
    /// The run, mapped (checked against its digest when opened).
    map: Mapped,
    entries: u64,
    /// Where each key prefix's entries start: subject keys are uniform hashes
    /// (SPEC.md section 4), so the leading bits spread the entries evenly.
    buckets: Buckets,
}

/// A run's radix table: `bits` leading key bits pick bucket `b`, whose
/// entries are `start(b)..start(b + 1)` (`2^bits + 1` starts, the last the
/// entry count). The table costs about a quarter byte an entry, as every
/// 64th key did before it; a lookup then reads one start pair and searches
/// about 16 entries of the mapped run, not 17 steps over keys in memory and 6
/// in the run.
#[derive(Debug)]
struct Buckets {
    bits: u32,
    starts: Starts,
}

/// Bucket starts, 32-bit while the run's entry count fits.
#[derive(Debug)]
enum Starts {
    Narrow(Vec<u32>),
    Wide(Vec<u64>),
}

impl Buckets {
    /// The table's key bits for a run of `entries` entries.
    fn bits_for(entries: u64) -> u32 {
        let per = entries / ENTRIES_PER_BUCKET;
        if per < 2 {
            0
        } else {
            per.ilog2().min(MAX_BUCKET_BITS)
        }
    }

    /// The bucket of `key` (a big-endian number).
    fn bucket(&self, key: u128) -> usize {
        bucket_of(self.bits, key)
    }

    /// The entries of bucket `b`.
    fn range(&self, b: usize) -> (u64, u64) {
        match &self.starts {
            Starts::Narrow(s) => (u64::from(s[b]), u64::from(s[b + 1])),
            Starts::Wide(s) => (s[b], s[b + 1]),
        }
    }
}

/// The bucket of `key` (a big-endian number) in a table of `bits` key bits.
fn bucket_of(bits: u32, key: u128) -> usize {
    if bits == 0 {
        0
    } else {
        (key >> (128 - bits)) as usize
    }
}

/// Builds a run's [`Buckets`] from its keys, in order.
struct BucketsBuilder {
    bits: u32,
    entries: u64,
    starts: Vec<u64>,
    seen: u64,
}

impl BucketsBuilder {
    fn new(entries: u64) -> Self {
        let bits = Buckets::bits_for(entries);
        let mut starts = Vec::with_capacity((1usize << bits) + 1);
        starts.push(0);
        BucketsBuilder {
            bits,
            entries,
            starts,
            seen: 0,
        }
    }

    /// Counts the next entry, of key `key`.
    fn push(&mut self, key: u128) {
        let bucket = bucket_of(self.bits, key);
        // Buckets up to the key's own start here (an entry out of order,
        // which a run's digest rules out, leaves the table monotonic).
        while self.starts.len() <= bucket {
            self.starts.push(self.seen);
        }
        self.seen += 1;
    }

    fn finish(mut self) -> Buckets {
        let len = (1usize << self.bits) + 1;
        while self.starts.len() < len {
            self.starts.push(self.seen);
        }
        let starts = if u32::try_from(self.entries).is_ok() {
            Starts::Narrow(self.starts.iter().map(|&s| s as u32).collect())
        } else {
            Starts::Wide(self.starts)
        };
        Buckets {
            bits: self.bits,
            starts,
        }
    }
}

impl RunReader {
    /// Opens a run, checks its header, length and digest, and builds its radix table.
    fn open(dir: &Path, info: &RunInfo) -> Result<Self, VerifierError> {
        let path = dir.join(&info.file);
        let file = File::open(&path).map_err(|e| VerifierError::index_io(&path, e))?;
        let mut reader = BufReader::with_capacity(1 << 20, &file);
        let mut header = [0u8; RUN_HEADER_LEN as usize];
        reader
            .read_exact(&mut header)
            .map_err(|e| VerifierError::index_io(&path, e))?;
        let mut count = [0u8; 8];
        count.copy_from_slice(&header[8..]);
        let entries = u64::from_le_bytes(count);
        if &header[..8] != RUN_MAGIC || entries != info.entries {
            return Err(VerifierError::index_corrupt(
                &path,
                "header does not match the catalog",
            ));
        }
        let mut hasher = blake3::Hasher::new();
        hasher.update(&header);
        let mut buckets = BucketsBuilder::new(entries);
        let mut buf = vec![0u8; RUN_ENTRY_LEN * 4096];
        let mut seen = 0u64;
        loop {
            let n =
                read_full(&mut reader, &mut buf).map_err(|e| VerifierError::index_io(&path, e))?;
            if n == 0 {
                break;
            }
            if !n.is_multiple_of(RUN_ENTRY_LEN) {
                return Err(VerifierError::index_corrupt(&path, "ends inside an entry"));
            }
            hasher.update(&buf[..n]);
            for e in buf[..n].chunks_exact(RUN_ENTRY_LEN) {
                buckets.push(entry_key(e));
                seen += 1;
            }
        }
        if seen != entries || format!("blake3:{}", hasher.finalize().to_hex()) != info.digest {
            return Err(VerifierError::index_corrupt(
                &path,
                "length or digest does not match the catalog",
            ));
        }
        // Read through once above (sequentially, with read-ahead); mapped
        // for the lookups.
        let map = Mapped::of_file(&file).map_err(|e| VerifierError::index_io(&path, e))?;
        if map.bytes().len() as u64 != RUN_HEADER_LEN + entries * RUN_ENTRY_LEN as u64 {
            return Err(VerifierError::index_corrupt(
                &path,
                "length changed while it was opened",
            ));
        }
        Ok(RunReader {
            path,
            map,
            entries,
            buckets: buckets.finish(),
        })
    }

    /// Appends the positions of `key` in this run to `out`.
    fn positions(&self, key: &SubjectKey, out: &mut Vec<Position>) -> Result<(), VerifierError> {
        let key = u128::from_be_bytes(*key);
        // The key's entries, if any, are in its bucket: a binary search for
        // the first not below it, then the equal entries one by one.
        let (start, end) = self.buckets.range(self.buckets.bucket(key));
        let end = end.min(self.entries);
        let start = start.min(end);
        let from = RUN_HEADER_LEN + start * RUN_ENTRY_LEN as u64;
        let len = (end - start) * RUN_ENTRY_LEN as u64;
        let bytes = self.map.range(from, len).ok_or_else(|| {
            VerifierError::index_corrupt(&self.path, "shorter than its entry count")
        })?;
        let (mut a, mut b) = (0usize, bytes.len() / RUN_ENTRY_LEN);
        while a < b {
            let mid = a + (b - a) / 2;
            if entry_key(&bytes[mid * RUN_ENTRY_LEN..]) < key {
                a = mid + 1;
            } else {
                b = mid;
            }
        }
        for e in bytes[a * RUN_ENTRY_LEN..].chunks_exact(RUN_ENTRY_LEN) {
            if entry_key(e) != key {
                break;
            }
            out.push(decode_run_entry(e).1);
        }
        Ok(())
    }
}

/// The key of the entry `e` starts with, as a big-endian number.
fn entry_key(e: &[u8]) -> u128 {
    let mut k = [0u8; 16];
    k.copy_from_slice(&e[..16]);
    u128::from_be_bytes(k)
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

pub(crate) fn encode_run_entry(key: &[u8], batch: u32, leaf: u64) -> [u8; RUN_ENTRY_LEN] {
    let mut e = [0u8; RUN_ENTRY_LEN];
    e[..16].copy_from_slice(&key[..16]);
    e[16..20].copy_from_slice(&batch.to_be_bytes());
    // Bytes 20..24: flags, none set (FLAG_PAIRED is only read).
    e[24..].copy_from_slice(&leaf.to_be_bytes());
    e
}

fn decode_run_entry(e: &[u8]) -> ([u8; 16], Position) {
    let mut key = [0u8; 16];
    key.copy_from_slice(&e[..16]);
    let word = |r: std::ops::Range<usize>| {
        let mut b = [0u8; 8];
        b[8 - r.len()..].copy_from_slice(&e[r]);
        u64::from_be_bytes(b)
    };
    (
        key,
        Position {
            batch: word(16..20) as u32,
            paired: word(20..24) as u32 & FLAG_PAIRED != 0,
            leaf_index: word(24..32),
        },
    )
}

/// The global code index, open for lookups: a snapshot of the catalog and
/// its runs. Cheap to share behind an `Arc`; lookups take `&self`.
#[derive(Debug)]
pub struct CodeIndex {
    dir: PathBuf,
    catalog: Catalog,
    batch_ids: Vec<Arc<str>>,
    /// Each batch's record file (by ordinal): its path, and its map once read.
    record_files: Vec<Option<(PathBuf, OnceLock<Arc<Mapped>>)>>,
    runs: Vec<RunReader>,
}

impl CodeIndex {
    /// Opens the index in `dir` (a folder without a catalog is an empty index).
    ///
    /// # Errors
    ///
    /// [`VerifierError::IndexIo`] and [`VerifierError::IndexCorrupt`]: a run
    /// whose length or digest differs from the catalog's.
    pub fn open(dir: &Path) -> Result<Self, VerifierError> {
        let catalog = Catalog::load(dir)?;
        let runs = catalog
            .runs
            .iter()
            .map(|r| RunReader::open(dir, r))
            .collect::<Result<Vec<_>, _>>()?;
        let batch_ids = catalog
            .batches
            .iter()
            .map(|b| Arc::from(b.batch_id.as_str()))
            .collect();
        let record_files = catalog
            .batches
            .iter()
            .map(|b| b.records.as_ref().map(|f| (dir.join(f), OnceLock::new())))
            .collect();
        Ok(CodeIndex {
            dir: dir.to_owned(),
            catalog,
            batch_ids,
            record_files,
            runs,
        })
    }

    /// The index folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The catalog this snapshot was opened with.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The batch id of ordinal `batch`.
    pub fn batch_id(&self, batch: u32) -> Option<&Arc<str>> {
        self.batch_ids.get(batch as usize)
    }

    /// The record file of batch ordinal `batch`, mapped (once per snapshot,
    /// with `open`), or `None` for a batch published without one.
    ///
    /// # Errors
    ///
    /// [`VerifierError::IndexIo`] when the file cannot be mapped.
    pub(crate) fn record_file(
        &self,
        batch: u32,
        open: impl FnOnce(&PathBuf) -> std::io::Result<Arc<Mapped>>,
    ) -> Result<Option<Arc<Mapped>>, VerifierError> {
        let Some(Some((path, cell))) = self.record_files.get(batch as usize) else {
            return Ok(None);
        };
        if let Some(map) = cell.get() {
            return Ok(Some(Arc::clone(map)));
        }
        let map = open(path).map_err(|e| VerifierError::index_io(path, e))?;
        Ok(Some(Arc::clone(cell.get_or_init(|| map))))
    }

    /// Entries in all runs.
    pub fn entries(&self) -> u64 {
        self.runs.iter().map(|r| r.entries).sum()
    }

    /// Every position of `key`, sorted by batch ordinal then leaf.
    ///
    /// # Errors
    ///
    /// [`VerifierError::IndexIo`] if a run cannot be read.
    pub fn positions(&self, key: &SubjectKey) -> Result<Vec<Position>, VerifierError> {
        let mut out = Vec::new();
        for run in &self.runs {
            run.positions(key, &mut out)?;
        }
        if self.runs.len() > 1 {
            out.sort_unstable();
        }
        Ok(out)
    }
}

/// Writes a run file: header, entries, fsync; hashes as it goes.
pub(crate) struct RunWriter {
    path: PathBuf,
    out: BufWriter<File>,
    hasher: blake3::Hasher,
    expected: u64,
    written: u64,
}

impl RunWriter {
    pub(crate) fn create(path: &Path, entries: u64) -> Result<Self, VerifierError> {
        let file = File::create(path).map_err(|e| VerifierError::index_io(path, e))?;
        let mut w = RunWriter {
            path: path.to_owned(),
            out: BufWriter::with_capacity(1 << 20, file),
            hasher: blake3::Hasher::new(),
            expected: entries,
            written: 0,
        };
        let mut header = [0u8; RUN_HEADER_LEN as usize];
        header[..8].copy_from_slice(RUN_MAGIC);
        header[8..].copy_from_slice(&entries.to_le_bytes());
        w.write(&header)?;
        Ok(w)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), VerifierError> {
        self.hasher.update(bytes);
        self.out
            .write_all(bytes)
            .map_err(|e| VerifierError::index_io(&self.path, e))
    }

    pub(crate) fn push(&mut self, entry: &[u8; RUN_ENTRY_LEN]) -> Result<(), VerifierError> {
        self.written += 1;
        self.write(entry)
    }

    /// Flushes and fsyncs; returns the file's digest.
    pub(crate) fn finish(self) -> Result<String, VerifierError> {
        if self.written != self.expected {
            return Err(VerifierError::index_corrupt(
                &self.path,
                format!(
                    "{} entries written, {} expected",
                    self.written, self.expected
                ),
            ));
        }
        let file = self
            .out
            .into_inner()
            .map_err(|e| VerifierError::index_io(&self.path, e.into_error()))?;
        file.sync_all()
            .map_err(|e| VerifierError::index_io(&self.path, e))?;
        Ok(format!("blake3:{}", self.hasher.finalize().to_hex()))
    }
}

/// Sequential reader of a run's entries.
pub(crate) struct RunCursor {
    path: PathBuf,
    reader: BufReader<File>,
    left: u64,
}

impl RunCursor {
    pub(crate) fn open(dir: &Path, info: &RunInfo) -> Result<Self, VerifierError> {
        let path = dir.join(&info.file);
        let file = File::open(&path).map_err(|e| VerifierError::index_io(&path, e))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut header = [0u8; RUN_HEADER_LEN as usize];
        reader
            .read_exact(&mut header)
            .map_err(|e| VerifierError::index_io(&path, e))?;
        if &header[..8] != RUN_MAGIC {
            return Err(VerifierError::index_corrupt(&path, "not a run file"));
        }
        Ok(RunCursor {
            path,
            reader,
            left: info.entries,
        })
    }

    pub(crate) fn next(&mut self) -> Result<Option<[u8; RUN_ENTRY_LEN]>, VerifierError> {
        if self.left == 0 {
            return Ok(None);
        }
        let mut e = [0u8; RUN_ENTRY_LEN];
        self.reader
            .read_exact(&mut e)
            .map_err(|err| VerifierError::index_io(&self.path, err))?;
        self.left -= 1;
        Ok(Some(e))
    }
}

/// Run-building helpers shared by the index's unit tests.
#[cfg(test)]
pub(crate) mod test_runs {
    #![allow(clippy::unwrap_used)]
    use super::*;

    pub(crate) fn key(i: u64) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_be_bytes());
        k
    }

    /// Writes a run of `(key, batch, leaf)` entries (sorted here) and returns its info.
    pub(crate) fn write_run(dir: &Path, name: &str, mut e: Vec<([u8; 16], u32, u64)>) -> RunInfo {
        e.sort();
        let mut w = RunWriter::create(&dir.join(name), e.len() as u64).unwrap();
        for (k, b, l) in &e {
            w.push(&encode_run_entry(k, *b, *l)).unwrap();
        }
        RunInfo {
            file: name.into(),
            entries: e.len() as u64,
            digest: w.finish().unwrap(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::test_runs::{key, write_run};
    use super::*;

    /// An index of one run of `entries` in `dir`.
    fn one_run_index(dir: &Path, entries: Vec<([u8; 16], u32, u64)>) -> CodeIndex {
        let run = write_run(dir, "run-a.bin", entries);
        Catalog {
            runs: vec![run],
            ..Catalog::default()
        }
        .store(dir)
        .unwrap();
        CodeIndex::open(dir).unwrap()
    }

    #[test]
    fn lookups_find_every_entry_across_buckets_and_runs() {
        let dir = tempfile::tempdir().unwrap();
        // Key 7 repeats 300 times: more than a bucket holds on average.
        let mut a: Vec<([u8; 16], u32, u64)> = (0..1000).map(|i| (key(i), 0, i)).collect();
        a.extend((0..300).map(|i| (key(7), 0, 5000 + i)));
        let b: Vec<([u8; 16], u32, u64)> = (500..1500).map(|i| (key(i), 1, i * 2)).collect();
        let ra = write_run(dir.path(), "run-a.bin", a);
        let rb = write_run(dir.path(), "run-b.bin", b);
        let mut catalog = Catalog {
            runs: vec![ra.clone(), rb.clone()],
            ..Catalog::default()
        };
        catalog.store(dir.path()).unwrap();
        let index = CodeIndex::open(dir.path()).unwrap();
        assert_eq!(index.positions(&key(7)).unwrap().len(), 301);
        let p = index.positions(&key(600)).unwrap();
        assert_eq!(
            p.iter()
                .map(|p| (p.batch, p.leaf_index))
                .collect::<Vec<_>>(),
            vec![(0, 600), (1, 1200)]
        );
        assert!(index.positions(&key(5000)).unwrap().is_empty());
        for i in [0, 1, 63, 64, 65, 999, 1000, 1499] {
            assert!(!index.positions(&key(i)).unwrap().is_empty(), "{i}");
        }

        // A merge keeps every entry, sorted.
        let merged = publish::merge_two(dir.path(), &ra, &rb, "run-m.bin").unwrap();
        assert_eq!(merged.entries, 2300);
        catalog.runs = vec![merged];
        catalog.store(dir.path()).unwrap();
        let index = CodeIndex::open(dir.path()).unwrap();
        assert_eq!(index.positions(&key(7)).unwrap().len(), 301);
        assert_eq!(index.positions(&key(600)).unwrap().len(), 2);
    }

    /// Every key, with 0 to 4 entries (runs of equal keys across bucket
    /// boundaries, absent keys between present ones), gives exactly its entries.
    #[test]
    fn positions_are_exactly_the_entries_of_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut all: Vec<([u8; 16], u32, u64)> = Vec::new();
        for i in 0..2000u64 {
            for j in 0..(i * 7 % 5) {
                all.push((key(i), (j % 2) as u32, i * 10 + j));
            }
        }
        let index = one_run_index(dir.path(), all.clone());
        for i in 0..2000u64 {
            let mut want: Vec<(u32, u64)> = all
                .iter()
                .filter(|e| e.0 == key(i))
                .map(|e| (e.1, e.2))
                .collect();
            want.sort_unstable();
            let mut got: Vec<(u32, u64)> = index
                .positions(&key(i))
                .unwrap()
                .iter()
                .map(|p| (p.batch, p.leaf_index))
                .collect();
            got.sort_unstable();
            assert_eq!(got, want, "key {i}");
        }
        // Keys below and above every entry.
        assert!(index.positions(&[0u8; 16]).unwrap().is_empty());
        assert!(index.positions(&[0xffu8; 16]).unwrap().is_empty());
    }

    /// Keys that share their leading bits (one full bucket, the others empty)
    /// are found all the same, and so are keys at the ends of the key space.
    #[test]
    fn skewed_keys_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let skewed = |i: u64| {
            let mut k = [0x5au8; 16];
            k[8..].copy_from_slice(&i.to_be_bytes());
            k
        };
        let mut all: Vec<([u8; 16], u32, u64)> = (0..3000).map(|i| (skewed(i), 0, i)).collect();
        all.push(([0u8; 16], 0, 9000));
        all.push(([0xffu8; 16], 0, 9001));
        let index = one_run_index(dir.path(), all);
        for i in [0, 1, 15, 16, 17, 1500, 2999] {
            let p = index.positions(&skewed(i)).unwrap();
            assert_eq!(p.len(), 1, "{i}");
            assert_eq!(p[0].leaf_index, i);
        }
        assert!(index.positions(&skewed(3000)).unwrap().is_empty());
        assert_eq!(index.positions(&[0u8; 16]).unwrap()[0].leaf_index, 9000);
        assert_eq!(index.positions(&[0xffu8; 16]).unwrap()[0].leaf_index, 9001);
        assert!(index.positions(&[0x5bu8; 16]).unwrap().is_empty());
    }

    #[test]
    fn bucket_tables_stay_small() {
        assert_eq!(Buckets::bits_for(0), 0);
        assert_eq!(Buckets::bits_for(31), 0);
        assert_eq!(Buckets::bits_for(32), 1);
        for entries in [100u64, 6_650_000, 660_000_000] {
            let buckets = 1u64 << Buckets::bits_for(entries);
            // 16 to 32 entries a bucket on average.
            assert!(entries / buckets >= ENTRIES_PER_BUCKET, "{entries}");
            assert!(entries / buckets < 2 * ENTRIES_PER_BUCKET, "{entries}");
        }
    }

    #[test]
    fn a_damaged_run_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let r = write_run(
            dir.path(),
            "run-a.bin",
            (0..100).map(|i| (key(i), 0, i)).collect(),
        );
        let catalog = Catalog {
            runs: vec![r],
            ..Catalog::default()
        };
        catalog.store(dir.path()).unwrap();
        let path = dir.path().join("run-a.bin");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[100] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert!(matches!(
            CodeIndex::open(dir.path()),
            Err(VerifierError::IndexCorrupt { .. })
        ));
    }

    #[test]
    fn entries_are_written_unflagged_and_the_former_paired_flag_is_read() {
        let mut e = encode_run_entry(&key(7), 3, 42);
        assert_eq!(&e[20..24], &[0; 4]);
        let (k, p) = decode_run_entry(&e);
        assert_eq!((k, p.batch, p.leaf_index, p.paired), (key(7), 3, 42, false));
        // A run published under the former two-entry rule.
        e[20..24].copy_from_slice(&FLAG_PAIRED.to_be_bytes());
        assert!(decode_run_entry(&e).1.paired);
    }
}
