//! Duplicate record ids within a file, found at plan time so that every segment of the file
//! can reject them without seeing the others.
//!
//! Memory is bounded whatever the file's size (decision records
//! `docs/decisions/0006-bounded-duplicate-scan.md` and `0012-hash-partitioned-duplicate-scan.md`):
//! each row becomes a 24-byte entry (the XXH3-128 hash of its `record_id`, then its row),
//! dropped as it arrives into one of `2^k` buckets by a randomly keyed mix of its hash
//! (about a thousand entries a bucket over the whole file). Up to
//! [`DUPLICATE_SCAN_BUDGET_BYTES`] of entries stay in memory; beyond it the buckets are
//! spilled, one after the other, as one run to a temporary file. At the end each bucket is
//! streamed from every run and from memory through a small hash table of the distinct hashes
//! seen (the buckets in parallel on the rayon pool): an entry whose hash is in the table is a
//! duplicate, and of the rows of one id every one but the earliest is listed. Nothing is
//! sorted but the final list of duplicate rows; a file that fits the budget never touches
//! the disk, and a bucket's table holds its distinct ids only, so an id repeated without
//! bound costs one slot.

use std::fs::File;
use std::hash::{BuildHasher, Hasher};
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

/// Memory for the entries of one file's duplicate scan (24 bytes a row): files of up to
/// about 11 M rows are scanned in memory; larger ones spill runs of that size. The planner
/// scans [`crate::planner`]'s two files at once, so the scans hold at most twice this, plus
/// the read buffers of the final pass and the row groups being decoded.
pub const DUPLICATE_SCAN_BUDGET_BYTES: usize = 256 << 20;

/// Read buffer of one spilled run's bucket during the final pass.
const RUN_READ_BUFFER_BYTES: usize = 256 << 10;

/// Entries a bucket aims to hold over the whole file.
const BUCKET_ENTRIES: u64 = 1024;

/// The most buckets (leading bits of the mixed hash).
const MAX_BUCKET_BITS: u32 = 16;

/// Leading bucket bits that pick an entry's group in memory (see `DuplicateFinder::coarse`).
const COARSE_BITS: u32 = 8;

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

/// One row: the XXH3-128 hash of its `record_id` (high, low half) and its row.
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

    fn to_bytes(self) -> [u8; ENTRY_BYTES] {
        let mut b = [0u8; ENTRY_BYTES];
        b[..8].copy_from_slice(&self.hi.to_le_bytes());
        b[8..16].copy_from_slice(&self.lo.to_le_bytes());
        b[16..].copy_from_slice(&self.row.to_le_bytes());
        b
    }

    fn from_bytes(b: &[u8]) -> Entry {
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
    /// Leading bits of the mixed hash that pick an entry's bucket.
    bucket_bits: u32,
    /// Random odd multipliers of the bucket mix: inputs cannot aim at one bucket.
    mix: (u64, u64),
    /// Entries in memory by their bucket's leading [`COARSE_BITS`] bits: scattering them
    /// over tens of thousands of buckets as they arrive cost a cache and TLB miss each;
    /// a few hundred destinations stay cached. [`DuplicateFinder::buckets`] orders each by
    /// bucket when the buckets are needed.
    coarse: Vec<Vec<Entry>>,
    /// Reused by [`DuplicateFinder::buckets`].
    scratch: Vec<Entry>,
    held: usize,
    runs: Vec<SpillRun>,
    spill_dir: PathBuf,
}

impl DuplicateFinder {
    /// A finder that keeps at most `memory_budget_bytes` of entries in memory (24 bytes a
    /// row, at least 1024 rows), spilling to the system's temporary folder beyond it.
    /// `rows_hint` (the file's row count, if known) sizes the buckets (about a thousand
    /// entries each) and their first allocation.
    pub fn new(memory_budget_bytes: usize, rows_hint: u64) -> Self {
        let run_entries = (memory_budget_bytes / std::mem::size_of::<Entry>()).max(1024);
        let bucket_bits = if rows_hint == 0 {
            10
        } else {
            rows_hint
                .div_ceil(BUCKET_ENTRIES)
                .next_power_of_two()
                .trailing_zeros()
                .min(MAX_BUCKET_BITS)
        };
        let count = 1usize << bucket_bits.min(COARSE_BITS);
        let held_at_most = usize::try_from(rows_hint)
            .unwrap_or(usize::MAX)
            .min(run_entries);
        // A little over the mean: few buckets grow, and none by much.
        let each = (held_at_most / count) + (held_at_most / count) / 8 + 8;
        let random = std::collections::hash_map::RandomState::new();
        let draw = |salt: u64| {
            let mut h = random.build_hasher();
            h.write_u64(salt);
            h.finish() | 1
        };
        DuplicateFinder {
            run_entries,
            bucket_bits,
            mix: (draw(1), draw(2)),
            coarse: (0..count).map(|_| Vec::with_capacity(each)).collect(),
            scratch: Vec::new(),
            held: 0,
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

    /// Number of runs spilled to disk so far.
    #[cfg(test)]
    pub fn spilled_runs(&self) -> usize {
        self.runs.len()
    }

    #[inline]
    fn bucket_of(&self, e: &Entry) -> usize {
        bucket_index(self.bucket_bits, self.mix, e)
    }

    /// Bits of a bucket number below its coarse group's.
    fn sub_bits(&self) -> u32 {
        self.bucket_bits - self.bucket_bits.min(COARSE_BITS)
    }

    /// Orders each coarse group's entries by bucket (a counting sort within the group) and
    /// returns every bucket's entries, in bucket order.
    fn buckets(&mut self) -> Vec<&[Entry]> {
        let sub_bits = self.sub_bits();
        let subs = 1usize << sub_bits;
        let mut lens = vec![0usize; self.coarse.len() * subs];
        let mut counts = vec![0usize; subs + 1];
        for (g, group) in self.coarse.iter_mut().enumerate() {
            if sub_bits > 0 {
                counts.iter_mut().for_each(|c| *c = 0);
                let (bits, mix) = (self.bucket_bits, self.mix);
                let sub = |e: &Entry| bucket_index(bits, mix, e) & (subs - 1);
                for e in group.iter() {
                    counts[sub(e) + 1] += 1;
                }
                for i in 1..counts.len() {
                    counts[i] += counts[i - 1];
                }
                lens[g * subs..(g + 1) * subs]
                    .iter_mut()
                    .zip(counts.windows(2))
                    .for_each(|(l, w)| *l = w[1] - w[0]);
                self.scratch.clear();
                self.scratch.resize(group.len(), FREE);
                for e in group.iter() {
                    let s = sub(e);
                    self.scratch[counts[s]] = *e;
                    counts[s] += 1;
                }
                std::mem::swap(group, &mut self.scratch);
            } else {
                lens[g] = group.len();
            }
        }
        let mut out = Vec::with_capacity(lens.len());
        for (g, group) in self.coarse.iter().enumerate() {
            let mut rest = group.as_slice();
            for &len in &lens[g * subs..(g + 1) * subs] {
                let (bucket, tail) = rest.split_at(len);
                out.push(bucket);
                rest = tail;
            }
        }
        out
    }

    /// Adds entries made by a [`DuplicateScan`], which numbered their rows: in any order,
    /// since each id's earliest row is found whatever the order.
    fn push_entries(&mut self, entries: &[Entry]) -> io::Result<()> {
        let shift = self.sub_bits();
        for e in entries {
            let g = self.bucket_of(e) >> shift;
            self.coarse[g].push(*e);
            self.held += 1;
            if self.held >= self.run_entries {
                self.spill()?;
            }
        }
        Ok(())
    }

    /// Writes the buckets, one after the other, to a new spill file and empties them.
    fn spill(&mut self) -> io::Result<()> {
        let dir = self.spill_dir.clone();
        let run = SpillRun::write(&dir, &self.buckets())?;
        self.runs.push(run);
        for g in &mut self.coarse {
            g.clear();
        }
        self.held = 0;
        Ok(())
    }

    /// The rows whose id an earlier row already used, ascending: each bucket streamed from
    /// every spilled run, then from memory, through a table of its distinct hashes; the
    /// buckets in parallel on the rayon pool.
    pub fn finish(mut self) -> io::Result<Vec<u64>> {
        let runs = std::mem::take(&mut self.runs);
        let runs = &runs;
        let buckets = &self.buckets();
        let per_bucket: Vec<Vec<u64>> = (0..buckets.len())
            .into_par_iter()
            .with_min_len(16)
            .map(|b| {
                let mut seen = SeenTable::with_capacity(
                    buckets[b].len()
                        + runs
                            .iter()
                            .map(|r| (r.bounds[b + 1] - r.bounds[b]) as usize)
                            .sum::<usize>(),
                );
                let mut dups = Vec::new();
                let mut buf = Vec::new();
                for r in runs {
                    let (mut from, to) = (r.bounds[b], r.bounds[b + 1]);
                    while from < to {
                        let n = (to - from).min((RUN_READ_BUFFER_BYTES / ENTRY_BYTES) as u64);
                        buf.resize(n as usize * ENTRY_BYTES, 0);
                        r.file.read_exact_at(&mut buf, from * ENTRY_BYTES as u64)?;
                        for c in buf.chunks_exact(ENTRY_BYTES) {
                            seen.insert(Entry::from_bytes(c), &mut dups);
                        }
                        from += n;
                    }
                }
                for e in buckets[b] {
                    seen.insert(*e, &mut dups);
                }
                Ok(dups)
            })
            .collect::<io::Result<_>>()?;
        let mut dups: Vec<u64> = per_bucket.into_iter().flatten().collect();
        dups.sort_unstable();
        Ok(dups)
    }
}

/// The bucket of `e` among `2^bits`: the leading bits of its hash mixed by `mix`.
#[inline]
fn bucket_index(bits: u32, mix: (u64, u64), e: &Entry) -> usize {
    if bits == 0 {
        return 0;
    }
    let mixed = e.hi.wrapping_mul(mix.0) ^ e.lo.wrapping_mul(mix.1);
    (mixed >> (64 - bits)) as usize
}

/// The distinct hashes of one bucket with the earliest row seen of each: open addressing,
/// linear probing, grown at half full. A row of `u64::MAX` marks a free slot.
struct SeenTable {
    slots: Vec<Entry>,
    len: usize,
}

const FREE: Entry = Entry {
    hi: 0,
    lo: 0,
    row: u64::MAX,
};

impl SeenTable {
    fn with_capacity(n: usize) -> Self {
        let size = (2 * n).next_power_of_two().max(16);
        SeenTable {
            slots: vec![FREE; size],
            len: 0,
        }
    }

    /// Records `e`; pushes to `dups` the later row when its hash was seen.
    #[inline]
    fn insert(&mut self, e: Entry, dups: &mut Vec<u64>) {
        if 2 * (self.len + 1) > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = (e.lo as usize) & mask;
        loop {
            let slot = &mut self.slots[i];
            if slot.row == u64::MAX {
                *slot = e;
                self.len += 1;
                return;
            }
            if slot.hi == e.hi && slot.lo == e.lo {
                if e.row < slot.row {
                    dups.push(slot.row);
                    slot.row = e.row;
                } else {
                    dups.push(e.row);
                }
                return;
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let size = 2 * self.slots.len();
        let old = std::mem::replace(&mut self.slots, vec![FREE; size]);
        let mask = self.slots.len() - 1;
        for e in old.into_iter().filter(|e| e.row != u64::MAX) {
            let mut i = (e.lo as usize) & mask;
            while self.slots[i].row != u64::MAX {
                i = (i + 1) & mask;
            }
            self.slots[i] = e;
        }
    }
}

/// One spill: every bucket's entries, bucket after bucket, in a temporary file removed
/// when dropped.
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
    /// Writes the buckets' entries, bucket after bucket, noting where each starts.
    fn write(dir: &Path, buckets: &[&[Entry]]) -> io::Result<SpillRun> {
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
        let mut bounds = Vec::with_capacity(buckets.len() + 1);
        let mut at = 0u64;
        bounds.push(0);
        for b in buckets {
            at += b.len() as u64;
            bounds.push(at);
        }
        let run = SpillRun { file, path, bounds };
        let mut w = BufWriter::with_capacity(1 << 20, &run.file);
        for b in buckets {
            for e in b.iter() {
                w.write_all(&e.to_bytes())?;
            }
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
        find_hinted(ids, budget, batch, reverse, ids.len() as u64)
    }

    /// As [`find_in`], with the finder sized for `rows_hint` rows.
    fn find_hinted(
        ids: &[Option<String>],
        budget: usize,
        batch: usize,
        reverse: bool,
        rows_hint: u64,
    ) -> (Vec<u64>, usize) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut f = DuplicateFinder::new(budget, rows_hint).with_spill_dir(dir.path());
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

    /// Buckets split below their in-memory groups (a large file's row count), in memory and
    /// spilled, give the same rows.
    #[test]
    fn many_buckets_equal_a_hash_set() {
        let ids = ids(60_000, 20_000);
        let want = with_tracker(&ids);
        for hint in [1u64 << 19, 1 << 22, 1 << 30] {
            for budget in [0, 24 * 7_000, DUPLICATE_SCAN_BUDGET_BYTES] {
                let (dups, spilled) = find_hinted(&ids, budget, 999, hint % 3 == 1, hint);
                assert_eq!(dups, want, "hint {hint} budget {budget}");
                assert_eq!(spilled > 0, budget < DUPLICATE_SCAN_BUDGET_BYTES);
            }
        }
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
    fn one_id_repeated_everywhere_keeps_its_first_row() {
        // Every row but a few has the same id: one bucket gets nearly all entries.
        let ids: Vec<Option<String>> = (0..30_000)
            .map(|i| {
                Some(if i % 1000 == 7 {
                    format!("other-{i}")
                } else {
                    "same".into()
                })
            })
            .collect();
        let want = with_tracker(&ids);
        for budget in [0, DUPLICATE_SCAN_BUDGET_BYTES] {
            assert_eq!(find_in(&ids, budget, 999, true).0, want, "budget {budget}");
        }
    }

    #[test]
    fn seen_table_grows_and_keeps_the_earliest_row() {
        let mut t = SeenTable::with_capacity(0);
        let mut dups = Vec::new();
        for row in (0..5000u64).rev() {
            t.insert(
                Entry {
                    hi: row % 300,
                    lo: row % 300,
                    row,
                },
                &mut dups,
            );
        }
        dups.sort_unstable();
        let want: Vec<u64> = (300..5000).collect();
        assert_eq!(dups, want);
        assert_eq!(t.len, 300);
    }
}
