//! Duplicate record ids within a file, found at plan time so that every segment of the file
//! can reject them without seeing the others.
//!
//! Memory is bounded whatever the file's size (decision record
//! `docs/decisions/0006-bounded-duplicate-scan.md`): each row becomes a 24-byte entry
//! (the XXH3-128 hash of its `record_id`, then its row), entries are sorted in runs of at
//! most [`DUPLICATE_SCAN_BUDGET_BYTES`], every run but the last is spilled to a temporary
//! file, and one merge of the runs in (hash, row) order lists every row whose hash equals
//! the one before it: the rows whose `record_id` an earlier row of the file already used.
//! A file whose entries fit in the budget is sorted in memory and never touches the disk.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

use arrow_array::Array;
use arrow_array::cast::AsArray;
use bytes::Bytes;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use parquet::errors::ParquetError;
use proofmark_schemas::validate::record_id_hash;
use rayon::prelude::*;
use tokio::sync::Semaphore;

use crate::decode::RangeReader;
use crate::error::IngestError;
use crate::footer::Footer;

/// Rows decoded per batch while scanning record ids.
const SCAN_BATCH_ROWS: usize = 64 * 1024;

/// Memory for the sorted entries of one file's duplicate scan (24 bytes a row): files of up
/// to about 1.4 M rows are sorted in memory; larger ones spill sorted runs of that size.
/// The planner scans [`crate::planner`]'s two files at once, so the scans hold at most
/// twice this, plus the merge's read buffers and the row groups being decoded.
pub const DUPLICATE_SCAN_BUDGET_BYTES: usize = 32 << 20;

/// Read buffer of one spilled run during the merge.
const RUN_READ_BUFFER_BYTES: usize = 256 << 10;

/// Bytes of one entry in memory and in a spill file.
const ENTRY_BYTES: usize = 24;

/// Row groups of one file decoded at once (or waiting for the finder) by a
/// [`DuplicateScan`]: bounds the row-group bytes and entries held in memory.
const ROW_GROUPS_IN_FLIGHT: usize = 6;

/// What a row group's decode sends to the finder: its entries, or the decode error, with
/// the permit that bounds the row groups in flight (released once the finder took them).
type ScanMessage = (
    Result<Vec<Entry>, ParquetError>,
    tokio::sync::OwnedSemaphorePermit,
);

/// The duplicate record id scan of one file, fed with the bytes of each row group as the
/// plan's digest pass ([`crate::digest::digest_file`]) streams them: each row group's
/// `record_id` column is decoded and hashed on the rayon pool, in parallel, and the entries
/// go to one [`DuplicateFinder`] on a blocking thread. The file is read once for its digests,
/// its copy and its duplicates. Feed every row group with [`row_group`](Self::row_group),
/// in any order, then [`finish`](Self::finish).
pub struct DuplicateScan {
    url: String,
    file_size: u64,
    arrow: ArrowReaderMetadata,
    column: usize,
    /// The file's first row of each row group.
    first_rows: Vec<u64>,
    permits: Arc<Semaphore>,
    tx: mpsc::Sender<ScanMessage>,
    finder: tokio::task::JoinHandle<Result<Vec<u64>, IngestError>>,
}

impl DuplicateScan {
    /// Starts the scan of the file `url` (`file_size` bytes, its footer read); must be
    /// called inside a Tokio runtime (the finder runs on a blocking thread).
    pub fn start(url: &str, file_size: u64, footer: &Footer) -> Result<Self, IngestError> {
        let bad = |source| IngestError::BadParquet {
            url: url.to_owned(),
            source,
        };
        let column = footer
            .arrow
            .schema()
            .index_of("record_id")
            .map_err(|e| bad(ParquetError::ArrowError(e.to_string())))?;
        let mut first_rows = Vec::with_capacity(footer.metadata().num_row_groups());
        let mut rows = 0u64;
        for rg in footer.metadata().row_groups() {
            first_rows.push(rows);
            rows += rg.num_rows().max(0) as u64;
        }
        let (tx, rx) = mpsc::channel::<ScanMessage>();
        let expected = first_rows.len();
        let owner = url.to_owned();
        let finder = tokio::task::spawn_blocking(move || {
            let mut finder = DuplicateFinder::new(DUPLICATE_SCAN_BUDGET_BYTES, rows);
            let mut first_error = None;
            let mut received = 0usize;
            // Ends when every sender is gone: the scan's own and each row group's.
            for (entries, permit) in rx {
                received += 1;
                match entries {
                    Ok(entries) if first_error.is_none() => {
                        if let Err(source) = finder.push_entries(&entries) {
                            first_error = Some(IngestError::DuplicateSpill {
                                url: owner.clone(),
                                source,
                            });
                        }
                    }
                    Ok(_) => {}
                    Err(source) => {
                        first_error.get_or_insert(IngestError::BadParquet {
                            url: owner.clone(),
                            source,
                        });
                    }
                }
                drop(permit);
            }
            if let Some(e) = first_error {
                return Err(e);
            }
            if received != expected {
                return Err(IngestError::BadParquet {
                    url: owner,
                    source: ParquetError::General(format!(
                        "the duplicate scan saw {received} of {expected} row groups"
                    )),
                });
            }
            finder
                .finish()
                .map_err(|source| IngestError::DuplicateSpill { url: owner, source })
        });
        Ok(DuplicateScan {
            url: url.to_owned(),
            file_size,
            arrow: footer.arrow.clone(),
            column,
            first_rows,
            permits: Arc::new(Semaphore::new(ROW_GROUPS_IN_FLIGHT)),
            tx,
            finder,
        })
    }

    /// Scans row group `row_group`, whose bytes (its [`row_group_range`](crate::footer::row_group_range))
    /// are `bytes`, found at `offset` in the file. Waits while too many row groups are in
    /// flight; the decode itself runs on the rayon pool.
    pub async fn row_group(&self, row_group: usize, offset: u64, bytes: Bytes) {
        let Ok(permit) = Arc::clone(&self.permits).acquire_owned().await else {
            return; // never closed
        };
        let Some(&first_row) = self.first_rows.get(row_group) else {
            let _ = self.tx.send((
                Err(ParquetError::General(format!(
                    "no row group {row_group} in the footer"
                ))),
                permit,
            ));
            return;
        };
        let tx = self.tx.clone();
        let arrow = self.arrow.clone();
        let column = self.column;
        let file_size = self.file_size;
        rayon::spawn(move || {
            let reader = RangeReader::new(offset, bytes, file_size);
            let entries = scan_row_group(reader, arrow, row_group, column, first_row);
            // The finder is gone only if the scan was dropped: nothing is waiting.
            let _ = tx.send((entries, permit));
        });
    }

    /// Waits for every row group and returns the rows whose `record_id` an earlier row of
    /// the file already used, ascending.
    pub async fn finish(self) -> Result<Vec<u64>, IngestError> {
        let DuplicateScan {
            url, tx, finder, ..
        } = self;
        drop(tx);
        finder.await.map_err(|source| IngestError::Task {
            what: format!("the duplicate record id scan of {url}"),
            source,
        })?
    }
}

/// The entries of one row group: the `record_id` column decoded (only it), each non-null
/// id hashed, rows counted from `first_row`.
fn scan_row_group(
    reader: RangeReader,
    arrow: ArrowReaderMetadata,
    row_group: usize,
    column: usize,
    first_row: u64,
) -> Result<Vec<Entry>, ParquetError> {
    let expected = arrow
        .metadata()
        .row_groups()
        .get(row_group)
        .map_or(0, |rg| rg.num_rows().max(0) as usize);
    let mask = ProjectionMask::roots(arrow.parquet_schema(), [column]);
    let batches = ParquetRecordBatchReaderBuilder::new_with_metadata(reader, arrow)
        .with_row_groups(vec![row_group])
        .with_projection(mask)
        .with_batch_size(SCAN_BATCH_ROWS.min(expected.max(1)))
        .build()?;
    let mut entries = Vec::with_capacity(expected);
    let mut row = first_row;
    for batch in batches {
        let batch = batch.map_err(|e| ParquetError::External(Box::new(e)))?;
        let ids = batch.column(0).as_string_opt::<i32>().ok_or_else(|| {
            ParquetError::General(format!(
                "record_id is {}, not Utf8",
                batch.column(0).data_type()
            ))
        })?;
        if ids.null_count() == 0 {
            entries.extend((0..ids.len()).map(|j| Entry::new(ids.value(j), row + j as u64)));
        } else {
            entries.extend(
                (0..ids.len())
                    .filter(|&j| ids.is_valid(j))
                    .map(|j| Entry::new(ids.value(j), row + j as u64)),
            );
        }
        row += ids.len() as u64;
    }
    let decoded = (row - first_row) as usize;
    if decoded != expected {
        return Err(ParquetError::General(format!(
            "row group {row_group}: decoded {decoded} record ids, the footer has {expected} rows"
        )));
    }
    Ok(entries)
}

/// One row: the XXH3-128 hash of its `record_id` (high, low half) and its row. Orders by
/// hash, then row, so the first of equal hashes is the earliest row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    hi: u64,
    lo: u64,
    row: u64,
}

impl Entry {
    fn new(id: &str, row: u64) -> Entry {
        let h = record_id_hash(id);
        Entry {
            hi: (h >> 64) as u64,
            lo: h as u64,
            row,
        }
    }

    fn same_id(&self, other: &Entry) -> bool {
        self.hi == other.hi && self.lo == other.lo
    }

    fn to_bytes(self) -> [u8; ENTRY_BYTES] {
        let mut b = [0u8; ENTRY_BYTES];
        b[..8].copy_from_slice(&self.hi.to_le_bytes());
        b[8..16].copy_from_slice(&self.lo.to_le_bytes());
        b[16..].copy_from_slice(&self.row.to_le_bytes());
        b
    }

    fn from_bytes(b: &[u8; ENTRY_BYTES]) -> Entry {
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(w)
        };
        Entry {
            hi: word(0),
            lo: word(8),
            row: word(16),
        }
    }
}

/// Finds the rows of one file whose `record_id` an earlier row already used, in bounded
/// memory: feed it every row's entry (a [`DuplicateScan`] does), in any order, then
/// [`finish`](Self::finish). Ids are compared by their XXH3-128 hash, as
/// [`proofmark_schemas::RecordIdTracker`] does.
#[derive(Debug)]
pub struct DuplicateFinder {
    run_entries: usize,
    /// Leading hash bits that pick an entry's bucket in the final merge.
    bucket_bits: u32,
    entries: Vec<Entry>,
    runs: Vec<SpillRun>,
    spill_dir: PathBuf,
}

impl DuplicateFinder {
    /// A finder that keeps at most `memory_budget_bytes` of entries in memory (24 bytes a
    /// row, at least 1024 rows), spilling to the system's temporary folder beyond it.
    /// `rows_hint` (the file's row count, if known) sizes the first allocation and the
    /// final merge's buckets (about an eighth of the budget each).
    pub fn new(memory_budget_bytes: usize, rows_hint: u64) -> Self {
        let run_entries = (memory_budget_bytes / std::mem::size_of::<Entry>()).max(1024);
        let first = usize::try_from(rows_hint).unwrap_or(usize::MAX);
        let per_bucket = (run_entries as u64 / 8).max(1024);
        let bucket_bits = if rows_hint == 0 {
            10
        } else {
            rows_hint
                .div_ceil(per_bucket)
                .next_power_of_two()
                .trailing_zeros()
                .min(16)
        };
        DuplicateFinder {
            run_entries,
            bucket_bits,
            entries: Vec::with_capacity(first.min(run_entries)),
            runs: Vec::new(),
            spill_dir: std::env::temp_dir(),
        }
    }

    /// Spill runs to `dir` instead of the system's temporary folder.
    #[cfg(test)]
    pub fn with_spill_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spill_dir = dir.into();
        self
    }

    /// Number of sorted runs spilled to disk so far.
    #[cfg(test)]
    pub fn spilled_runs(&self) -> usize {
        self.runs.len()
    }

    /// Adds entries made by a [`DuplicateScan`], which numbered their rows: in any order,
    /// since the finder sorts by (hash, row).
    fn push_entries(&mut self, mut entries: &[Entry]) -> io::Result<()> {
        while !entries.is_empty() {
            let room = self.run_entries - self.entries.len();
            let (now, later) = entries.split_at(room.min(entries.len()));
            self.entries.extend_from_slice(now);
            entries = later;
            if self.entries.len() >= self.run_entries {
                self.spill()?;
            }
        }
        Ok(())
    }

    /// Sorts the entries in memory and writes them to a new spill file.
    fn spill(&mut self) -> io::Result<()> {
        sort_entries(&mut self.entries);
        let run = SpillRun::write(&self.spill_dir, &self.entries, self.bucket_bits)?;
        self.runs.push(run);
        self.entries.clear();
        Ok(())
    }

    /// The rows whose id an earlier row already used, ascending.
    ///
    /// A file that fit the budget is sorted in memory. Otherwise the last run is spilled
    /// too and the runs are merged bucket by bucket ([`Self::bucket_bits`] leading hash
    /// bits): each run holds a bucket's entries contiguously (it is sorted), so a bucket is
    /// read from every run, sorted and scanned on its own, the buckets in parallel on the
    /// rayon pool. A bucket larger than a quarter of the budget (one id repeated very many
    /// times) is merged by streaming over its runs instead, in bounded memory.
    pub fn finish(mut self) -> io::Result<Vec<u64>> {
        if self.runs.is_empty() {
            sort_entries(&mut self.entries);
            let mut dups = Vec::new();
            for w in self.entries.windows(2) {
                if w[0].same_id(&w[1]) {
                    dups.push(w[1].row);
                }
            }
            dups.sort_unstable();
            return Ok(dups);
        }
        if !self.entries.is_empty() {
            self.spill()?;
        }
        self.entries = Vec::new();
        let buckets = 1usize << self.bucket_bits;
        let cap_entries = (self.run_entries / 4).max(1024) as u64;
        let runs = &self.runs;
        let per_bucket: Vec<Vec<u64>> = (0..buckets)
            .into_par_iter()
            .map(|b| {
                let total: u64 = runs.iter().map(|r| r.bounds[b + 1] - r.bounds[b]).sum();
                if total <= cap_entries {
                    bucket_in_memory(runs, b, total)
                } else {
                    bucket_streamed(runs, b)
                }
            })
            .collect::<io::Result<_>>()?;
        let mut dups: Vec<u64> = per_bucket.into_iter().flatten().collect();
        dups.sort_unstable();
        Ok(dups)
    }
}

/// The duplicates of bucket `b` (`total` entries over all runs): its entries read from
/// every run, sorted, scanned.
fn bucket_in_memory(runs: &[SpillRun], b: usize, total: u64) -> io::Result<Vec<u64>> {
    let mut bytes = vec![0u8; total as usize * ENTRY_BYTES];
    let mut at = 0usize;
    for r in runs {
        let (from, to) = (r.bounds[b], r.bounds[b + 1]);
        let len = (to - from) as usize * ENTRY_BYTES;
        r.file
            .read_exact_at(&mut bytes[at..at + len], from * ENTRY_BYTES as u64)?;
        at += len;
    }
    let mut entries: Vec<Entry> = bytes
        .chunks_exact(ENTRY_BYTES)
        .map(|c| {
            let mut e = [0u8; ENTRY_BYTES];
            e.copy_from_slice(c);
            Entry::from_bytes(&e)
        })
        .collect();
    entries.sort_unstable();
    Ok(entries
        .windows(2)
        .filter(|w| w[0].same_id(&w[1]))
        .map(|w| w[1].row)
        .collect())
}

/// The duplicates of bucket `b`, merging its slice of every run through a heap with a
/// small read buffer per run.
fn bucket_streamed(runs: &[SpillRun], b: usize) -> io::Result<Vec<u64>> {
    let mut readers: Vec<SliceReader<'_>> = runs
        .iter()
        .map(|r| SliceReader::new(&r.file, r.bounds[b], r.bounds[b + 1]))
        .collect();
    let mut heap: BinaryHeap<Reverse<(Entry, usize)>> = BinaryHeap::new();
    for (i, r) in readers.iter_mut().enumerate() {
        if let Some(e) = r.next_entry()? {
            heap.push(Reverse((e, i)));
        }
    }
    let mut dups = Vec::new();
    let mut prev: Option<Entry> = None;
    while let Some(Reverse((e, source))) = heap.pop() {
        if prev.is_some_and(|p| p.same_id(&e)) {
            dups.push(e.row);
        }
        prev = Some(e);
        if let Some(n) = readers[source].next_entry()? {
            heap.push(Reverse((n, source)));
        }
    }
    Ok(dups)
}

/// Reads entries `from..to` of a spilled run with positioned reads (several buckets are
/// read from one file at once), through a buffer of [`RUN_READ_BUFFER_BYTES`] at most.
struct SliceReader<'a> {
    file: &'a File,
    next: u64,
    end: u64,
    buf: Vec<u8>,
    pos: usize,
}

impl<'a> SliceReader<'a> {
    fn new(file: &'a File, from: u64, to: u64) -> Self {
        SliceReader {
            file,
            next: from,
            end: to,
            buf: Vec::new(),
            pos: 0,
        }
    }

    fn next_entry(&mut self) -> io::Result<Option<Entry>> {
        if self.pos == self.buf.len() {
            if self.next == self.end {
                return Ok(None);
            }
            let n = (self.end - self.next).min((RUN_READ_BUFFER_BYTES / ENTRY_BYTES) as u64);
            self.buf.resize(n as usize * ENTRY_BYTES, 0);
            self.file
                .read_exact_at(&mut self.buf, self.next * ENTRY_BYTES as u64)?;
            self.next += n;
            self.pos = 0;
        }
        let mut e = [0u8; ENTRY_BYTES];
        e.copy_from_slice(&self.buf[self.pos..self.pos + ENTRY_BYTES]);
        self.pos += ENTRY_BYTES;
        Ok(Some(Entry::from_bytes(&e)))
    }
}

/// Sorts entries by (hash, row): one in-place pass that moves each entry to the bucket of
/// its leading hash bits (the hashes are uniform), then a sort of each small bucket, the
/// buckets in parallel on the rayon pool.
fn sort_entries(v: &mut [Entry]) {
    let n = v.len();
    if n < 4096 {
        v.sort_unstable();
        return;
    }
    // About 1,024 entries a bucket: each bucket's sort stays in the CPU caches.
    let bits = (usize::BITS - n.leading_zeros())
        .saturating_sub(10)
        .clamp(4, 16);
    let shift = 64 - bits;
    let bucket = |e: &Entry| (e.hi >> shift) as usize;
    let buckets = 1usize << bits;
    let mut starts = vec![0usize; buckets + 1];
    for e in v.iter() {
        starts[bucket(e) + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    // American flag sort: swap each misplaced entry into the next free slot of its bucket.
    let mut next = starts[..buckets].to_vec();
    for b in 0..buckets {
        let end = starts[b + 1];
        while next[b] < end {
            let t = bucket(&v[next[b]]);
            if t == b {
                next[b] += 1;
            } else {
                v.swap(next[b], next[t]);
                next[t] += 1;
            }
        }
    }
    let mut parts: Vec<&mut [Entry]> = Vec::with_capacity(buckets);
    let mut rest = v;
    for w in starts.windows(2) {
        let (bucket, tail) = std::mem::take(&mut rest).split_at_mut(w[1] - w[0]);
        parts.push(bucket);
        rest = tail;
    }
    parts
        .par_iter_mut()
        .with_min_len(64)
        .for_each(|b| b.sort_unstable());
}

/// A sorted run in a temporary file, removed when dropped.
#[derive(Debug)]
struct SpillRun {
    file: File,
    path: PathBuf,
    /// Where each bucket starts (in entries), and the run's length last.
    bounds: Vec<u64>,
}

/// Makes spill file names unique within the process.
static SPILL_COUNTER: AtomicU64 = AtomicU64::new(0);

impl SpillRun {
    /// Writes `entries` (sorted) and notes where each of the `2^bits` buckets of leading
    /// hash bits starts.
    fn write(dir: &Path, entries: &[Entry], bits: u32) -> io::Result<SpillRun> {
        let path = dir.join(format!(
            "proofmark-duplicates-{}-{}.run",
            std::process::id(),
            SPILL_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        let buckets = 1usize << bits;
        let bucket = |e: &Entry| {
            if bits == 0 {
                0
            } else {
                (e.hi >> (64 - bits)) as usize
            }
        };
        let bounds: Vec<u64> = (0..=buckets)
            .map(|b| entries.partition_point(|e| bucket(e) < b) as u64)
            .collect();
        let run = SpillRun { file, path, bounds };
        let mut w = BufWriter::with_capacity(1 << 20, &run.file);
        for e in entries {
            w.write_all(&e.to_bytes())?;
        }
        w.flush()?;
        drop(w);
        Ok(run)
    }
}

impl Drop for SpillRun {
    fn drop(&mut self) {
        // Nothing to do about a failure: the file is in the temporary folder.
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proofmark_schemas::RecordIdTracker;

    /// The rows a hash set finds, for comparison.
    fn with_tracker(ids: &[Option<String>]) -> Vec<u64> {
        let mut t = RecordIdTracker::new();
        ids.iter()
            .enumerate()
            .filter(|(_, id)| id.as_deref().is_some_and(|id| !t.insert(id)))
            .map(|(i, _)| i as u64)
            .collect()
    }

    fn ids(n: usize, modulus: u64) -> Vec<Option<String>> {
        (0..n as u64)
            .map(|i| {
                // A scrambled sequence with repeats, and a null now and then.
                let x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % modulus;
                (i % 97 != 5).then(|| format!("rec-{x}"))
            })
            .collect()
    }

    /// The finder's answer, fed `batch` rows at a time, the batches in reverse order when
    /// `reverse` (the scan's row groups arrive in any order).
    fn find_in(
        ids: &[Option<String>],
        budget: usize,
        batch: usize,
        reverse: bool,
    ) -> (Vec<u64>, usize) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut f = DuplicateFinder::new(budget, ids.len() as u64).with_spill_dir(dir.path());
        let entries: Vec<Entry> = ids
            .iter()
            .enumerate()
            .filter_map(|(row, id)| id.as_deref().map(|id| Entry::new(id, row as u64)))
            .collect();
        let mut batches: Vec<&[Entry]> = entries.chunks(batch.max(1)).collect();
        if reverse {
            batches.reverse();
        }
        let mut spilled = 0;
        for b in batches {
            f.push_entries(b).expect("push");
            spilled = f.spilled_runs();
        }
        let dups = f.finish().expect("finish");
        let left = std::fs::read_dir(dir.path()).expect("list").count();
        assert_eq!(left, 0, "spill files are removed");
        (dups, spilled)
    }

    fn find(ids: &[Option<String>], budget: usize, batch: usize) -> (Vec<u64>, usize) {
        find_in(ids, budget, batch, false)
    }

    #[test]
    fn in_memory_equals_a_hash_set() {
        for (n, m) in [
            (0, 1),
            (1, 1),
            (2, 1),
            (100, 50),
            (10_000, 7_000),
            (50_000, 1 << 40),
        ] {
            let ids = ids(n, m);
            let (dups, spilled) = find(&ids, DUPLICATE_SCAN_BUDGET_BYTES, 4096);
            assert_eq!(spilled, 0);
            assert_eq!(dups, with_tracker(&ids), "n {n} m {m}");
        }
    }

    #[test]
    fn spilled_runs_equal_a_hash_set() {
        // 1024-entry runs: tens of spilled runs, duplicates across runs and inside them.
        for (n, m, batch) in [
            (30_000, 20_000, 1000),
            (20_000, 3, 333),
            (5_000, 1 << 40, 4096),
        ] {
            let ids = ids(n, m);
            let (dups, spilled) = find(&ids, 0, batch);
            assert!(spilled > 1, "n {n}: {spilled} runs");
            assert_eq!(dups, with_tracker(&ids), "n {n} m {m}");
        }
    }

    #[test]
    fn arrival_order_does_not_matter() {
        let ids = ids(20_000, 5_000);
        let want = with_tracker(&ids);
        for budget in [0, DUPLICATE_SCAN_BUDGET_BYTES] {
            for batch in [1, 777, 4096] {
                assert_eq!(
                    find_in(&ids, budget, batch, true).0,
                    want,
                    "{budget} {batch}"
                );
            }
        }
    }

    #[test]
    fn bucket_sort_equals_comparison_sort() {
        for n in [0usize, 10, 4095, 4096, 100_000] {
            let mut v: Vec<Entry> = (0..n as u64)
                .map(|i| {
                    let h = record_id_hash(&(i % 1000).to_string());
                    Entry {
                        hi: (h >> 64) as u64,
                        lo: h as u64,
                        row: i.wrapping_mul(7919) % 100_003,
                    }
                })
                .collect();
            let mut want = v.clone();
            want.sort();
            sort_entries(&mut v);
            assert_eq!(v, want, "n {n}");
        }
    }
}
