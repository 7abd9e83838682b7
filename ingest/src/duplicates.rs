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
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::cast::AsArray;
use arrow_array::{Array, StringArray};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, TryStreamExt};
use parquet::arrow::ProjectionMask;
use parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaData;
use proofmark_schemas::validate::record_id_hash;

use crate::error::IngestError;
use crate::footer::Footer;
use crate::store::Store;

/// Rows decoded per batch while scanning record ids.
const SCAN_BATCH_ROWS: usize = 64 * 1024;

/// Memory for the sorted entries of one file's duplicate scan (24 bytes a row): files of up
/// to about 1.4 M rows are sorted in memory; larger ones spill sorted runs of that size.
/// The planner scans [`crate::planner`]'s two files at once, so the scans hold at most
/// twice this, plus the merge's read buffers.
pub const DUPLICATE_SCAN_BUDGET_BYTES: usize = 32 << 20;

/// Read buffer of one spilled run during the merge.
const RUN_READ_BUFFER_BYTES: usize = 256 << 10;

/// Bytes of one entry in memory and in a spill file.
const ENTRY_BYTES: usize = 24;

/// The 0-based rows of the file at `path` whose `record_id` an earlier row already used,
/// ascending. Decodes only the `record_id` column, in row order; memory is bounded by
/// [`DUPLICATE_SCAN_BUDGET_BYTES`] (see the module documentation).
pub async fn duplicate_rows(
    store: &Store,
    path: &str,
    url: &str,
    size: u64,
    footer: &Footer,
) -> Result<Vec<u64>, IngestError> {
    let bad = |source| IngestError::BadParquet {
        url: url.to_owned(),
        source,
    };
    let spill = |source| IngestError::DuplicateSpill {
        url: url.to_owned(),
        source,
    };
    let column = footer
        .arrow
        .schema()
        .index_of("record_id")
        .map_err(|e| bad(ParquetError::ArrowError(e.to_string())))?;
    let reader = StoreReader {
        store: store.clone(),
        path: path.to_owned(),
        size,
        metadata: std::sync::Arc::clone(footer.metadata()),
    };
    let rows_hint: u64 = footer
        .metadata()
        .row_groups()
        .iter()
        .map(|rg| rg.num_rows().max(0) as u64)
        .sum();
    let mask = ProjectionMask::roots(footer.arrow.parquet_schema(), [column]);
    let mut stream =
        ParquetRecordBatchStreamBuilder::new_with_metadata(reader, footer.arrow.clone())
            .with_projection(mask)
            .with_batch_size(SCAN_BATCH_ROWS)
            .build()
            .map_err(bad)?;
    let mut finder = DuplicateFinder::new(DUPLICATE_SCAN_BUDGET_BYTES, rows_hint);
    while let Some(batch) = stream.try_next().await.map_err(bad)? {
        let ids = batch.column(0).as_string_opt::<i32>().ok_or_else(|| {
            bad(ParquetError::General(format!(
                "record_id is {}, not Utf8",
                batch.column(0).data_type()
            )))
        })?;
        finder.push_ids(ids).map_err(spill)?;
    }
    finder.finish().map_err(spill)
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
/// memory: feed the ids in row order with [`push_ids`](Self::push_ids) (or
/// [`push`](Self::push)), then [`finish`](Self::finish). Ids are compared by their XXH3-128
/// hash, as [`proofmark_schemas::RecordIdTracker`] does.
#[derive(Debug)]
pub struct DuplicateFinder {
    run_entries: usize,
    entries: Vec<Entry>,
    runs: Vec<SpillRun>,
    spill_dir: PathBuf,
    next_row: u64,
}

impl DuplicateFinder {
    /// A finder that keeps at most `memory_budget_bytes` of entries in memory (24 bytes a
    /// row, at least 1024 rows), spilling to the system's temporary folder beyond it.
    /// `rows_hint` (the file's row count, if known) sizes the first allocation.
    pub fn new(memory_budget_bytes: usize, rows_hint: u64) -> Self {
        let run_entries = (memory_budget_bytes / std::mem::size_of::<Entry>()).max(1024);
        let first = usize::try_from(rows_hint).unwrap_or(usize::MAX);
        DuplicateFinder {
            run_entries,
            entries: Vec::with_capacity(first.min(run_entries)),
            runs: Vec::new(),
            spill_dir: std::env::temp_dir(),
            next_row: 0,
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

    /// Adds the next row: its `record_id`, or `None` for a null (which is never a duplicate).
    pub fn push(&mut self, id: Option<&str>) -> io::Result<()> {
        let row = self.next_row;
        self.next_row += 1;
        if let Some(id) = id {
            let h = record_id_hash(id);
            self.entries.push(Entry {
                hi: (h >> 64) as u64,
                lo: h as u64,
                row,
            });
            if self.entries.len() >= self.run_entries {
                self.spill()?;
            }
        }
        Ok(())
    }

    /// Adds the next rows: one per value of `ids`, in order.
    pub fn push_ids(&mut self, ids: &StringArray) -> io::Result<()> {
        if ids.null_count() == 0 {
            let mut i = 0;
            while i < ids.len() {
                let room = self.run_entries - self.entries.len();
                let end = ids.len().min(i + room);
                let base = self.next_row;
                self.entries.extend((i..end).map(|j| {
                    let h = record_id_hash(ids.value(j));
                    Entry {
                        hi: (h >> 64) as u64,
                        lo: h as u64,
                        row: base + (j - i) as u64,
                    }
                }));
                self.next_row += (end - i) as u64;
                i = end;
                if self.entries.len() >= self.run_entries {
                    self.spill()?;
                }
            }
            return Ok(());
        }
        for j in 0..ids.len() {
            self.push(ids.is_valid(j).then(|| ids.value(j)))?;
        }
        Ok(())
    }

    /// Sorts the entries in memory and writes them to a new spill file.
    fn spill(&mut self) -> io::Result<()> {
        sort_entries(&mut self.entries);
        let run = SpillRun::write(&self.spill_dir, &self.entries)?;
        self.runs.push(run);
        self.entries.clear();
        Ok(())
    }

    /// The rows whose id an earlier row already used, ascending.
    pub fn finish(mut self) -> io::Result<Vec<u64>> {
        sort_entries(&mut self.entries);
        let mut dups = Vec::new();
        if self.runs.is_empty() {
            for w in self.entries.windows(2) {
                if w[0].same_id(&w[1]) {
                    dups.push(w[1].row);
                }
            }
            dups.sort_unstable();
            return Ok(dups);
        }
        // Merge the spilled runs and the one in memory in (hash, row) order.
        let per_run = RUN_READ_BUFFER_BYTES;
        let mut readers = Vec::with_capacity(self.runs.len());
        for run in &mut self.runs {
            readers.push(run.reader(per_run)?);
        }
        let mut heap: BinaryHeap<Reverse<(Entry, usize)>> = BinaryHeap::new();
        for (i, r) in readers.iter_mut().enumerate() {
            if let Some(e) = r.next_entry()? {
                heap.push(Reverse((e, i)));
            }
        }
        let memory = readers.len();
        let mut in_memory = self.entries.iter();
        if let Some(&e) = in_memory.next() {
            heap.push(Reverse((e, memory)));
        }
        let mut prev: Option<Entry> = None;
        while let Some(Reverse((e, source))) = heap.pop() {
            if prev.is_some_and(|p| p.same_id(&e)) {
                dups.push(e.row);
            }
            prev = Some(e);
            let next = if source == memory {
                in_memory.next().copied()
            } else {
                readers[source].next_entry()?
            };
            if let Some(n) = next {
                heap.push(Reverse((n, source)));
            }
        }
        dups.sort_unstable();
        Ok(dups)
    }
}

/// Sorts entries by (hash, row): one in-place pass that moves each entry to the bucket of
/// its leading hash bits (the hashes are uniform), then a sort of each small bucket.
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
    for w in starts.windows(2) {
        v[w[0]..w[1]].sort_unstable();
    }
}

/// A sorted run in a temporary file, removed when dropped.
#[derive(Debug)]
struct SpillRun {
    file: File,
    path: PathBuf,
    entries: u64,
}

/// Makes spill file names unique within the process.
static SPILL_COUNTER: AtomicU64 = AtomicU64::new(0);

impl SpillRun {
    fn write(dir: &Path, entries: &[Entry]) -> io::Result<SpillRun> {
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
        let run = SpillRun {
            file,
            path,
            entries: entries.len() as u64,
        };
        let mut w = BufWriter::with_capacity(1 << 20, &run.file);
        for e in entries {
            w.write_all(&e.to_bytes())?;
        }
        w.flush()?;
        drop(w);
        Ok(run)
    }

    fn reader(&mut self, buffer_bytes: usize) -> io::Result<RunReader<'_>> {
        (&self.file).seek(SeekFrom::Start(0))?;
        Ok(RunReader {
            reader: BufReader::with_capacity(buffer_bytes, &self.file),
            remaining: self.entries,
        })
    }
}

impl Drop for SpillRun {
    fn drop(&mut self) {
        // Nothing to do about a failure: the file is in the temporary folder.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads a spilled run back, entry by entry.
struct RunReader<'a> {
    reader: BufReader<&'a File>,
    remaining: u64,
}

impl RunReader<'_> {
    fn next_entry(&mut self) -> io::Result<Option<Entry>> {
        if self.remaining == 0 {
            return Ok(None);
        }
        let mut b = [0u8; ENTRY_BYTES];
        self.reader.read_exact(&mut b)?;
        self.remaining -= 1;
        Ok(Some(Entry::from_bytes(&b)))
    }
}

/// Parquet's async reader over a [`Store`] object whose metadata is already known.
struct StoreReader {
    store: Store,
    path: String,
    size: u64,
    metadata: std::sync::Arc<ParquetMetaData>,
}

impl AsyncFileReader for StoreReader {
    fn get_bytes(
        &mut self,
        range: std::ops::Range<u64>,
    ) -> BoxFuture<'_, Result<Bytes, ParquetError>> {
        async move {
            if range.end > self.size {
                return Err(ParquetError::EOF(format!(
                    "range {range:?} is past the end ({} bytes)",
                    self.size
                )));
            }
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(|e| ParquetError::External(Box::new(e)))
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a parquet::arrow::arrow_reader::ArrowReaderOptions>,
    ) -> BoxFuture<'a, Result<std::sync::Arc<ParquetMetaData>, ParquetError>> {
        let metadata = std::sync::Arc::clone(&self.metadata);
        async move { Ok(metadata) }.boxed()
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

    fn find(ids: &[Option<String>], budget: usize, batch: usize) -> (Vec<u64>, usize) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut f = DuplicateFinder::new(budget, ids.len() as u64).with_spill_dir(dir.path());
        let mut spilled = 0;
        for chunk in ids.chunks(batch.max(1)) {
            let array = StringArray::from(chunk.to_vec());
            f.push_ids(&array).expect("push");
            spilled = f.spilled_runs();
        }
        let dups = f.finish().expect("finish");
        let left = std::fs::read_dir(dir.path()).expect("list").count();
        assert_eq!(left, 0, "spill files are removed");
        (dups, spilled)
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
    fn single_pushes_with_nulls() {
        let ids = ids(5_000, 1_000);
        let dir = tempfile::tempdir().expect("tempdir");
        let mut f = DuplicateFinder::new(0, 0).with_spill_dir(dir.path());
        for id in &ids {
            f.push(id.as_deref()).expect("push");
        }
        assert_eq!(f.finish().expect("finish"), with_tracker(&ids));
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
