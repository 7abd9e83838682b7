//! Publishing a batch into the code index: its sorted `index/entries.bin`
//! becomes a new run, runs of similar size are merged, and the catalog is
//! replaced atomically (see the module above for the file formats).

use std::path::Path;
use std::sync::Arc;

use futures::StreamExt as _;
use proofmark_anchor::layout;
use proofmark_ingest::Store;
use proofmark_schemas::{RecordView, encode_row};

use super::{
    BATCH_ENTRY_LEN, Catalog, FETCH_BYTES, LOCK_FILE, MAX_RUNS, PublishedBatch, RunCursor, RunInfo,
    RunWriter, encode_run_entry, records,
};
use crate::error::VerifierError;
use crate::lookup::batch::BatchContext;
use crate::lookup::read::RangeReader;
use crate::lookup::record::InputFiles;

/// What [`publish`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishOutcome {
    /// The batch as the index holds it.
    pub batch: PublishedBatch,
    /// False when the batch was already published (nothing was written).
    pub published_now: bool,
    /// Runs merged to keep the run count low.
    pub runs_merged: usize,
    /// Live runs after the publish.
    pub runs: usize,
}

/// The lock of a publish: an exclusive advisory lock on the lock file,
/// which the operating system releases when the process ends, however it
/// ends (a killed publish leaves no stale lock).
struct PublishLock(#[allow(dead_code)] std::fs::File);

/// How long [`publish`] waits for another publish of the same index to end (two nightly
/// jobs of one store, say) before it gives up with [`VerifierError::IndexLocked`].
pub const PUBLISH_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3600);

impl PublishLock {
    /// Takes the lock of the index in `dir`, waiting up to `max_wait` for a publish that
    /// holds it (said once in the log).
    async fn acquire(dir: &Path, max_wait: std::time::Duration) -> Result<Self, VerifierError> {
        let path = dir.join(LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| VerifierError::index_io(path.clone(), e))?;
        let started = std::time::Instant::now();
        let mut told = false;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(PublishLock(file)),
                Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < max_wait => {
                    if !std::mem::replace(&mut told, true) {
                        tracing::warn!(
                            index = %dir.display(),
                            "another publish is writing the code index: waiting for it (at most {} s)",
                            max_wait.as_secs()
                        );
                    }
                    tokio::time::sleep(LOCK_POLL).await;
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(VerifierError::IndexLocked(dir.to_owned()));
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(VerifierError::index_io(path, e));
                }
            }
        }
    }
}

/// How often a publish waiting for the index's lock tries it again.
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// Publishes committed, anchored batch `batch_id` of `store` into the index
/// in `dir` (created if needed): its index entries become a run, and every
/// leaf's canonical record is written to the batch's record file
/// (`records/<ordinal>.bin`, read back once from the inputs and checked
/// against the stored leaves) before the catalog names it. Publishing a
/// batch again is a no-op ([`PublishOutcome::published_now`] false), except
/// that a batch published before record files gets its record file; a
/// batch whose manifest changed since it was published is an error.
///
/// The store is read asynchronously; the index files are written with
/// blocking I/O (call it from a command-line tool or a blocking task).
///
/// # Errors
///
/// [`VerifierError::NotCommitted`], [`VerifierError::NotAnchored`],
/// [`VerifierError::BatchRewritten`], [`VerifierError::BadBatchIndex`] when
/// `entries.bin` does not match the manifest or is not sorted,
/// [`VerifierError::IndexLocked`], [`VerifierError::Integrity`] when a
/// record read back from its input does not hash to its stored leaf,
/// [`VerifierError::Parquet`], store and index I/O errors.
pub async fn publish(
    store: &Store,
    batch_id: &str,
    dir: &Path,
) -> Result<PublishOutcome, VerifierError> {
    publish_waiting(store, batch_id, dir, PUBLISH_LOCK_WAIT).await
}

/// [`publish`], waiting at most `max_wait` for another publish of the index to end.
///
/// # Errors
///
/// As [`publish`].
pub async fn publish_waiting(
    store: &Store,
    batch_id: &str,
    dir: &Path,
    max_wait: std::time::Duration,
) -> Result<PublishOutcome, VerifierError> {
    let (manifest, manifest_digest) = match proofmark_anchor::load_manifest(store, batch_id).await {
        Ok(m) => m,
        Err(proofmark_anchor::AnchorError::NotCommitted { .. }) => {
            return Err(VerifierError::NotCommitted(batch_id.to_owned()));
        }
        Err(e) => return Err(e.into()),
    };
    let anchors_prefix = format!("{}/anchors", layout::batch_prefix(batch_id));
    let anchors = store
        .list(&anchors_prefix)
        .await
        .map_err(|e| VerifierError::store(&anchors_prefix, e))?;
    if !anchors.iter().any(|o| o.path.ends_with(".json")) {
        return Err(VerifierError::NotAnchored(batch_id.to_owned()));
    }
    std::fs::create_dir_all(dir).map_err(|e| VerifierError::index_io(dir, e))?;
    let _lock = PublishLock::acquire(dir, max_wait).await?;
    let catalog = Catalog::load(dir)?;
    // Under the lock, a file the catalog does not name is what a failed publish left (a
    // full disk, a kill): it goes before this one needs the room.
    let removed = remove_unreferenced(dir, &catalog);
    if removed.files > 0 {
        tracing::warn!(
            index = %dir.display(),
            files = removed.files,
            bytes = removed.bytes,
            "removed the files of a publish that did not finish"
        );
    }
    // Declared after the lock, so dropped (and cleaning up) before it is released.
    let mut cleanup = PublishCleanup {
        dir,
        created: Vec::new(),
        done: false,
    };
    let published = publish_locked(
        store,
        batch_id,
        dir,
        (manifest, manifest_digest),
        catalog,
        &mut cleanup.created,
    )
    .await;
    cleanup.done = published.is_ok();
    published
}

/// Removes what a publish wrote when it does not finish: when it fails, and when it is
/// cancelled (its future dropped, as `proofmark run` does on SIGINT or SIGTERM), which no
/// code after an `.await` would see. The catalog (the index as readers see it) is that of
/// before, or, if it was replaced, the new one: the files it does not name go.
struct PublishCleanup<'a> {
    dir: &'a Path,
    /// The index files this publish created, in the order it created them; removed even
    /// when the folder has no catalog (the index's first publish), which
    /// [`remove_unreferenced`] leaves alone.
    created: Vec<std::path::PathBuf>,
    /// Set once the publish succeeded: nothing to remove.
    done: bool,
}

impl Drop for PublishCleanup<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if !self.dir.join(super::CATALOG_FILE).is_file() {
            for path in &self.created {
                let _ = std::fs::remove_file(path);
            }
        } else if let Ok(catalog) = Catalog::load(self.dir) {
            remove_unreferenced(self.dir, &catalog);
        }
    }
}

/// The publish of [`publish`] once the index is locked and cleaned: `catalog` is the index's.
async fn publish_locked(
    store: &Store,
    batch_id: &str,
    dir: &Path,
    (manifest, manifest_digest): (proofmark_anchor::Manifest, String),
    mut catalog: Catalog,
    created: &mut Vec<std::path::PathBuf>,
) -> Result<PublishOutcome, VerifierError> {
    if let Some(b) = catalog.batch(batch_id) {
        if b.manifest_digest != manifest_digest {
            return Err(VerifierError::BatchRewritten {
                batch_id: batch_id.to_owned(),
                published: b.manifest_digest.clone(),
                stored: manifest_digest,
            });
        }
        let mut b = b.clone();
        if b.records.is_none() {
            // Published before record files: add the batch's record file.
            let name = records::record_file_name(b.ordinal);
            records::remove_temporary(dir);
            created.extend(record_file_paths(dir, &name));
            write_records(store, batch_id, &manifest_digest, dir, &name, b.leaf_count).await?;
            b.records = Some(name);
            if let Some(slot) = catalog.batches.get_mut(b.ordinal as usize) {
                *slot = b.clone();
            }
            catalog.store(dir)?;
            tracing::info!(batch_id, "record file added to a published batch");
        }
        return Ok(PublishOutcome {
            batch: b,
            published_now: false,
            runs_merged: 0,
            runs: catalog.runs.len(),
        });
    }
    let ordinal = u32::try_from(catalog.batches.len())
        .map_err(|_| VerifierError::index_corrupt(dir, "too many batches"))?;

    // Pass 1: check the digest, order and leaf range, and that every leaf has exactly one
    // entry (SPEC 8.4).
    let path = layout::index_path(batch_id);
    let bad = |message: String| VerifierError::BadBatchIndex {
        batch_id: batch_id.to_owned(),
        message,
    };
    let size = store
        .head(&path)
        .await
        .map_err(|e| VerifierError::store(&path, e))?
        .ok_or_else(|| bad("is missing".into()))?
        .size;
    if size % BATCH_ENTRY_LEN != 0 {
        return Err(bad(format!("is {size} bytes, not whole entries")));
    }
    let leaf_count = manifest.leaf_count;
    let entries = size / BATCH_ENTRY_LEN;
    if entries != leaf_count {
        return Err(bad(format!(
            "holds {entries} entries for {leaf_count} leaves (one per leaf, SPEC 8.4)"
        )));
    }
    let words =
        usize::try_from(leaf_count.div_ceil(64)).map_err(|_| bad("too many leaves".into()))?;
    let mut seen_leaf = vec![0u64; words];
    let mut hasher = blake3::Hasher::new();
    let mut prev: Option<[u8; 24]> = None;
    for_each_chunk(store, &path, size, |chunk| {
        hasher.update(chunk);
        for e in chunk.chunks_exact(BATCH_ENTRY_LEN as usize) {
            let (_, leaf) = proofmark_anchor::segment_files::decode_index_entry(e);
            if leaf >= leaf_count {
                return Err(bad(format!("points to leaf {leaf} of {leaf_count}")));
            }
            let mut cur = [0u8; 24];
            cur.copy_from_slice(e);
            if prev.is_some_and(|p| p >= cur) {
                return Err(bad("is not sorted".into()));
            }
            prev = Some(cur);
            let (word, bit) = ((leaf / 64) as usize, 1u64 << (leaf % 64));
            if seen_leaf[word] & bit != 0 {
                return Err(bad(format!(
                    "holds two entries for leaf {leaf} (one per leaf, SPEC 8.4)"
                )));
            }
            seen_leaf[word] |= bit;
        }
        Ok(())
    })
    .await?;
    drop(seen_leaf);
    let digest = format!("blake3:{}", hasher.finalize().to_hex());
    if digest != manifest.index_digest {
        return Err(bad(format!(
            "has digest {digest}, the manifest says {}",
            manifest.index_digest
        )));
    }

    // Pass 2: write the batch's run.
    let run_no = catalog.next_run;
    let run_file = format!("run-{run_no:08}.bin");
    let run_path = dir.join(&run_file);
    created.push(run_path.clone());
    let mut writer = RunWriter::create(&run_path, entries)?;
    for_each_chunk(store, &path, size, |chunk| {
        for e in chunk.chunks_exact(BATCH_ENTRY_LEN as usize) {
            let (key, leaf) = proofmark_anchor::segment_files::decode_index_entry(e);
            writer.push(&encode_run_entry(&key, ordinal, leaf))?;
        }
        Ok(())
    })
    .await?;
    let run = writer.finish()?;

    // The batch's record file, before the catalog names it.
    let records = records::record_file_name(ordinal);
    records::remove_temporary(dir);
    created.extend(record_file_paths(dir, &records));
    write_records(store, batch_id, &manifest_digest, dir, &records, leaf_count).await?;

    catalog.next_run += 1;
    catalog.runs.push(RunInfo {
        file: run_file,
        entries,
        digest: run,
    });
    let batch = PublishedBatch {
        ordinal,
        batch_id: batch_id.to_owned(),
        manifest_digest,
        suite: manifest.suite.name().to_owned(),
        batch_date: manifest.batch_date.clone(),
        root: manifest.root.clone(),
        leaf_count,
        entries,
        published_at: proofmark_anchor::manifest::rfc3339_utc(std::time::SystemTime::now()),
        records: Some(records),
    };
    catalog.batches.push(batch.clone());
    let runs_merged = compact(dir, &mut catalog)?;
    catalog.store(dir)?;
    remove_unreferenced(dir, &catalog);
    tracing::info!(
        batch_id,
        entries,
        runs = catalog.runs.len(),
        runs_merged,
        "batch published"
    );
    Ok(PublishOutcome {
        batch,
        published_now: true,
        runs_merged,
        runs: catalog.runs.len(),
    })
}

/// The record file `name` in the index `dir` and its temporary file.
fn record_file_paths(dir: &Path, name: &str) -> [std::path::PathBuf; 2] {
    let path = dir.join(name);
    let tmp = path.with_extension("bin.tmp");
    [path, tmp]
}

/// Segments read back and encoded at once while their records are written in leaf order.
const SEGMENTS_AT_ONCE: usize = 3;

/// One segment's records, read back from its input, checked against its stored leaves, and
/// encoded: `bytes[ends[i - 1]..ends[i]]` is leaf `first_leaf + i`'s canonical encoding.
struct EncodedSegment {
    first_leaf: u64,
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

/// Writes the record file `name` of batch `batch_id`: reads every
/// segment's row group back from its input once (the path lookups of
/// batches without a record file take), re-encodes each accepted row
/// (SPEC.md 3) and checks its leaf hash against the stored leaf, so a record
/// file holds exactly the committed records. Segments are read and decoded in
/// tasks of their own and encoded on blocking threads, a few at once, while
/// the file is written in leaf order.
async fn write_records(
    store: &Store,
    batch_id: &str,
    manifest_digest: &str,
    dir: &Path,
    name: &str,
    leaf_count: u64,
) -> Result<(), VerifierError> {
    let ctx = Arc::new(BatchContext::load(store, batch_id, manifest_digest).await?);
    let reader = Arc::new(RangeReader::default());
    let files = Arc::new(InputFiles::new(Arc::clone(&reader)));
    let mut out = records::RecordFileWriter::create(dir, name, leaf_count)?;
    let mut segments = futures::stream::iter(0..ctx.segment_count())
        .map(|i| {
            let (store, ctx) = (store.clone(), Arc::clone(&ctx));
            let (reader, files) = (Arc::clone(&reader), Arc::clone(&files));
            tokio::spawn(async move { encode_segment(&store, &ctx, &reader, &files, i).await })
        })
        .buffered(SEGMENTS_AT_ONCE);
    let mut next_leaf = 0u64;
    while let Some(joined) = segments.next().await {
        let segment = joined.map_err(|e| VerifierError::Task(e.to_string()))??;
        if segment.first_leaf != next_leaf {
            return Err(VerifierError::integrity(
                batch_id,
                segment.first_leaf,
                format!(
                    "a segment starts at leaf {}, not {next_leaf}",
                    segment.first_leaf
                ),
            ));
        }
        let mut start = 0;
        for &end in &segment.ends {
            out.push(&segment.bytes[start..end])?;
            start = end;
        }
        next_leaf += segment.ends.len() as u64;
    }
    if next_leaf != leaf_count {
        return Err(VerifierError::integrity(
            batch_id,
            next_leaf,
            format!("the segments hold {next_leaf} leaves, the batch {leaf_count}"),
        ));
    }
    out.finish()
}

/// Reads segment `i` back from its input and encodes its accepted rows, each checked
/// against the segment's stored leaf (the CPU work on a blocking thread).
async fn encode_segment(
    store: &Store,
    ctx: &BatchContext,
    reader: &RangeReader,
    files: &InputFiles,
    i: usize,
) -> Result<EncodedSegment, VerifierError> {
    let (first_leaf, segment, leaves) = ctx.segment_leaves(store, reader, i).await?;
    let summary = &segment.summary;
    let (kind, batch) = files
        .row_group(
            store,
            &ctx.batch_id,
            &ctx.plan,
            summary.file,
            summary.row_group,
        )
        .await?;
    let batch_id = Arc::clone(&ctx.batch_id);
    let suite = ctx.suite;
    let rejected_rows = summary.rejected_rows.clone();
    let encode = move || -> Result<EncodedSegment, VerifierError> {
        let view = RecordView::try_new(kind, &batch).map_err(|e| {
            VerifierError::integrity(&batch_id, first_leaf, format!("not {kind} records: {e}"))
        })?;
        let mut rejected = rejected_rows.iter().copied().peekable();
        let mut bytes = Vec::with_capacity(leaves.len() * 384);
        let mut ends = Vec::with_capacity(leaves.len());
        for row in 0..batch.num_rows() {
            if rejected.next_if(|&r| r as usize == row).is_some() {
                continue;
            }
            let leaf = first_leaf + ends.len() as u64;
            let stored = leaves.get(ends.len()).ok_or_else(|| {
                VerifierError::integrity(&batch_id, leaf, "the segment has more rows than leaves")
            })?;
            let start = bytes.len();
            encode_row(&view, row, &mut bytes);
            if suite.hash_leaf(&bytes[start..]) != *stored {
                return Err(VerifierError::integrity(
                    &batch_id,
                    leaf,
                    "the record read back from its input does not hash to the stored leaf",
                ));
            }
            ends.push(bytes.len());
        }
        if ends.len() != leaves.len() {
            return Err(VerifierError::integrity(
                &batch_id,
                first_leaf + ends.len() as u64,
                "the segment has fewer accepted rows than leaves",
            ));
        }
        Ok(EncodedSegment {
            first_leaf,
            bytes,
            ends,
        })
    };
    tokio::task::spawn_blocking(encode)
        .await
        .map_err(|e| VerifierError::Task(e.to_string()))?
}

/// Calls `f` with `entries.bin`'s bytes, chunk by chunk (whole entries).
async fn for_each_chunk(
    store: &Store,
    path: &str,
    size: u64,
    mut f: impl FnMut(&[u8]) -> Result<(), VerifierError>,
) -> Result<(), VerifierError> {
    let step = FETCH_BYTES / BATCH_ENTRY_LEN * BATCH_ENTRY_LEN;
    let mut at = 0;
    while at < size {
        let end = (at + step).min(size);
        let bytes = store
            .get_range(path, at..end)
            .await
            .map_err(|e| VerifierError::store(path, e))?;
        if bytes.len() as u64 != end - at {
            return Err(VerifierError::BadBatchIndex {
                batch_id: path.to_owned(),
                message: "changed while it was read".into(),
            });
        }
        f(&bytes)?;
        at = end;
    }
    Ok(())
}

/// Merges the newest two runs while the older is not larger than the newer
/// (or while there are more than [`MAX_RUNS`]): like a binary counter, `n`
/// equal batches leave at most `log2(n) + 1` runs and each entry is rewritten
/// at most `log2(n)` times. Returns how many merges were made.
fn compact(dir: &Path, catalog: &mut Catalog) -> Result<usize, VerifierError> {
    let mut merged = 0;
    while catalog.runs.len() >= 2 {
        let n = catalog.runs.len();
        let (older, newer) = (&catalog.runs[n - 2], &catalog.runs[n - 1]);
        if older.entries > newer.entries && n <= MAX_RUNS {
            break;
        }
        let file = format!("run-{:08}.bin", catalog.next_run);
        let info = merge_two(dir, older, newer, &file)?;
        catalog.next_run += 1;
        catalog.runs.truncate(n - 2);
        catalog.runs.push(info);
        merged += 1;
    }
    Ok(merged)
}

/// Merges two runs into a new run file `file`.
pub(super) fn merge_two(
    dir: &Path,
    a: &RunInfo,
    b: &RunInfo,
    file: &str,
) -> Result<RunInfo, VerifierError> {
    let path = dir.join(file);
    let entries = a.entries + b.entries;
    let mut out = RunWriter::create(&path, entries)?;
    let mut ra = RunCursor::open(dir, a)?;
    let mut rb = RunCursor::open(dir, b)?;
    let (mut ea, mut eb) = (ra.next()?, rb.next()?);
    loop {
        match (ea, eb) {
            (Some(x), Some(y)) if x <= y => {
                out.push(&x)?;
                ea = ra.next()?;
            }
            (_, Some(y)) => {
                out.push(&y)?;
                eb = rb.next()?;
            }
            (Some(x), None) => {
                out.push(&x)?;
                ea = ra.next()?;
            }
            (None, None) => break,
        }
    }
    let digest = out.finish()?;
    Ok(RunInfo {
        file: file.to_owned(),
        entries,
        digest,
    })
}

/// Files [`remove_unreferenced`] removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Removed {
    files: u64,
    bytes: u64,
}

/// Removes the index's own files that `catalog` does not name (best effort): runs
/// (`run-NNNNNNNN.bin`) merged away or written by a publish that failed, record files
/// (`records/NNNNNNNN.bin`) of batches the catalog does not hold, and their temporary files
/// and the catalog's. Files of other names are left alone, and so is everything when the
/// folder has no catalog (a mistyped folder, or a lost catalog, is not emptied). Only under
/// the publish lock. (A server that opened an older catalog keeps reading the files it
/// opened.)
fn remove_unreferenced(dir: &Path, catalog: &Catalog) -> Removed {
    let mut removed = Removed::default();
    if !dir.join(super::CATALOG_FILE).is_file() {
        return removed;
    }
    // `PREFIX` + 8 digits + `SUFFIX`, the names the index gives its files.
    let numbered = |name: &str, prefix: &str, suffix: &str| {
        name.strip_prefix(prefix)
            .and_then(|n| n.strip_suffix(suffix))
            .is_some_and(|n| n.len() == 8 && n.bytes().all(|b| b.is_ascii_digit()))
    };
    let mut remove = |path: &Path| {
        let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if std::fs::remove_file(path).is_ok() {
            removed.files += 1;
            removed.bytes += bytes;
        }
    };
    let names = |sub: &Path| -> Vec<(String, std::path::PathBuf)> {
        std::fs::read_dir(sub)
            .map(|listing| {
                listing
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                    .filter_map(|e| Some((e.file_name().to_str()?.to_owned(), e.path())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let catalog_temp = format!("{}.tmp", super::CATALOG_FILE);
    for (name, path) in names(dir) {
        let dead_run =
            numbered(&name, "run-", ".bin") && !catalog.runs.iter().any(|r| r.file == name);
        if dead_run || name == catalog_temp {
            remove(&path);
        }
    }
    for (name, path) in names(&dir.join(records::RECORDS_DIR)) {
        let named = format!("{}/{name}", records::RECORDS_DIR);
        let live = catalog
            .batches
            .iter()
            .any(|b| b.records.as_deref() == Some(named.as_str()));
        let ours = numbered(&name, "", ".bin") || numbered(&name, "", ".bin.tmp");
        if ours && !live {
            remove(&path);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::index::test_runs::{key, write_run};

    /// Files the catalog does not name (a failed publish's run, record file and temporary
    /// files) are removed; those it names stay.
    #[test]
    fn files_the_catalog_does_not_name_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("records")).unwrap();
        let catalog = Catalog {
            runs: vec![RunInfo {
                file: "run-00000001.bin".into(),
                entries: 1,
                digest: "blake3:00".into(),
            }],
            batches: vec![PublishedBatch {
                ordinal: 0,
                batch_id: "b".into(),
                manifest_digest: "blake3:00".into(),
                suite: "blake3".into(),
                batch_date: "2026-11-24".into(),
                root: "00".into(),
                leaf_count: 1,
                entries: 1,
                published_at: "2026-11-24T00:00:00Z".into(),
                records: Some("records/00000000.bin".into()),
            }],
            ..Catalog::default()
        };
        let keep = [
            "run-00000001.bin",
            "records/00000000.bin",
            "publish.lock",
            "catalog.json",
            "notes.tmp",
            "records/README.txt",
            "run-old.bin",
        ];
        let gone = [
            "run-00000002.bin",
            "records/00000001.bin",
            "records/00000001.bin.tmp",
            "catalog.json.tmp",
        ];
        for name in keep.iter().chain(&gone) {
            std::fs::write(d.join(name), b"1234").unwrap();
        }
        let removed = remove_unreferenced(d, &catalog);
        assert_eq!(
            removed,
            Removed {
                files: 4,
                bytes: 16
            }
        );
        for name in keep {
            assert!(d.join(name).exists(), "{name}");
        }
        for name in gone {
            assert!(!d.join(name).exists(), "{name}");
        }
        // Without a catalog, nothing is removed.
        std::fs::remove_file(d.join("catalog.json")).unwrap();
        std::fs::write(d.join("run-00000009.bin"), b"1234").unwrap();
        assert_eq!(
            remove_unreferenced(d, &Catalog::default()),
            Removed::default()
        );
        assert!(d.join("run-00000009.bin").exists());
    }

    /// A publish waits for another that holds the index's lock, up to its limit.
    #[tokio::test]
    async fn a_publish_waits_for_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_owned();
        let held = PublishLock::acquire(&d, std::time::Duration::ZERO)
            .await
            .unwrap();
        let short = PublishLock::acquire(&d, std::time::Duration::from_millis(300)).await;
        assert!(matches!(short, Err(VerifierError::IndexLocked(_))));
        let waiting = tokio::spawn({
            let d = d.clone();
            async move { PublishLock::acquire(&d, std::time::Duration::from_secs(60)).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(!waiting.is_finished());
        drop(held);
        assert!(waiting.await.unwrap().is_ok());
    }

    #[test]
    fn compaction_keeps_few_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut catalog = Catalog {
            next_run: 1000,
            ..Catalog::default()
        };
        for n in 0..20u64 {
            let name = format!("run-x{n}.bin");
            catalog
                .runs
                .push(write_run(dir.path(), &name, vec![(key(n), n as u32, 0)]));
            compact(dir.path(), &mut catalog).unwrap();
            assert!(
                catalog.runs.len() <= 6,
                "{} runs after {n}",
                catalog.runs.len()
            );
        }
        assert_eq!(catalog.runs.iter().map(|r| r.entries).sum::<u64>(), 20);
    }
}
