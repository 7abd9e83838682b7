//! Committing a built batch: check every segment, account for every row,
//! compute the batch root, merge the index, gather the rejects, and write the
//! manifest last with a create-if-absent write (SPEC 8.6).
//!
//! Nothing the commit writes before the manifest counts: a failed commit can
//! simply be run again. The manifest links to the store's previous committed
//! batch through the head pointer `batches/HEAD.json` (see
//! `docs/decisions/0004-batch-commit.md`).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use proofmark_ingest::Store;
use proofmark_ingest::store::COMMIT_TEMP_AFFIXES;
use proofmark_merkle::{Hash, batch_root, with_suite};

use crate::error::{AnchorError, RejectCause, TOP_REASONS};
use crate::index::{HashingWriter, MergeOptions, Run, RunSource, merge_runs};
use crate::layout::{self, SegmentFile, segment_path};
use crate::manifest::{
    BatchLink, HEAD_FORMAT, HeadPointer, MANIFEST_FORMAT, Manifest, ManifestFile, ManifestSegment,
    rfc3339_utc,
};
use crate::rejects::RejectsWriter;
use crate::segment_files::{RejectLine, SegmentSummary, digest, digest_of_hash, parse_summary};
use crate::segment_store::{check_index_len, read_checked_segment};
use crate::stored_plan::{StoredPlan, get_object, get_required};
use proofmark_ingest::direct_file::{DirectWriter, read_all};

/// How a commit may use resources.
#[derive(Debug, Clone)]
pub struct CommitOptions {
    /// Memory for the index merge (default 1 GiB): one key-range pass of
    /// the merge holds at most a quarter of it (up to 64 MiB of entries),
    /// read and sorted ([`crate::index`]).
    pub memory_budget_bytes: usize,
    /// Where temporary files go (default: the system's temporary directory).
    pub temp_dir: Option<PathBuf>,
    /// Segments read and checked at once (default 4).
    pub segments_in_flight: usize,
}

impl Default for CommitOptions {
    fn default() -> Self {
        Self {
            memory_budget_bytes: crate::index::DEFAULT_MEMORY_BUDGET_BYTES,
            temp_dir: None,
            segments_in_flight: 4,
        }
    }
}

/// The step a commit is at, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitStage {
    /// Reading and checking the segments.
    CheckSegments,
    /// Merging the index.
    MergeIndex,
    /// Uploading outputs and writing the manifest.
    Write,
}

/// Progress of a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitProgress {
    /// The current step.
    pub stage: CommitStage,
    /// Segments checked so far.
    pub segments_done: u64,
    /// Segments in the batch.
    pub segments_total: u64,
    /// Rows of the checked segments.
    pub rows_done: u64,
    /// Rows in the batch.
    pub rows_total: u64,
}

/// What became of the head pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadUpdate {
    /// It now names this batch.
    Moved,
    /// It already named this batch.
    AlreadyCurrent,
    /// A later batch is already the head; nothing changed.
    Behind {
        /// The head.
        head: BatchLink,
    },
    /// Another batch was committed after this manifest was linked: the pointer
    /// was left alone, and the two batches share a `previous` (a visible fork).
    Conflict {
        /// The head.
        head: BatchLink,
    },
}

/// The outcome of [`commit_batch`].
#[derive(Debug, Clone)]
pub struct CommitReport {
    /// The batch's manifest.
    pub manifest: Manifest,
    /// `blake3:` digest of `manifest.json`.
    pub manifest_digest: String,
    /// The batch was committed before this call, which changed nothing but
    /// possibly the head pointer (after a crash between manifest and pointer).
    pub already_committed: bool,
    /// Entries in `index/entries.bin` (0 when already committed).
    pub index_entries: u64,
    /// Passes of the index merge (0 when already committed).
    pub merge_passes: u32,
    /// Rejected rows per reason code (for a batch committed earlier, summed
    /// again from its segment summaries, each checked against the manifest).
    pub reasons: BTreeMap<String, u64>,
    /// What became of the head pointer.
    pub head: HeadUpdate,
}

/// Commits batch `batch_id`.
///
/// Refuses (and writes no manifest) when a segment is not built, a file's
/// digest or a tree does not check, the rows do not add up, or no row was
/// accepted. A committed batch is reported as such and left unchanged.
///
/// # Errors
///
/// [`AnchorError::NoPlan`], [`AnchorError::MissingSegments`],
/// [`AnchorError::DigestMismatch`], [`AnchorError::Malformed`],
/// [`AnchorError::Accounting`], [`AnchorError::NothingToCommit`],
/// [`AnchorError::Head`], store and local I/O errors.
pub async fn commit_batch(
    store: &Store,
    batch_id: &str,
    opts: &CommitOptions,
    progress: &(dyn Fn(CommitProgress) + Sync),
) -> Result<CommitReport, AnchorError> {
    let started = std::time::SystemTime::now();
    let manifest_path = layout::manifest_path(batch_id);
    if let Some(bytes) = get_object(store, &manifest_path).await? {
        return report_committed(store, &manifest_path, bytes).await;
    }
    let plan = Arc::new(StoredPlan::load(store, batch_id).await?);
    let segments_total = plan.segments.len() as u64;
    let rows_total = plan.total_rows;
    let report = |stage, segments_done, rows_done| {
        progress(CommitProgress {
            stage,
            segments_done,
            segments_total,
            rows_done,
            rows_total,
        });
    };

    // 1. Every segment must be built: its summary exists.
    let summaries: Vec<(u32, Option<Bytes>)> =
        stream::iter(plan.segments.iter().map(|s| s.segment))
            .map(|n| async move {
                let path = segment_path(batch_id, n, SegmentFile::Summary);
                Ok::<_, AnchorError>((n, get_object(store, &path).await?))
            })
            .buffered(32)
            .try_collect()
            .await?;
    let missing: Vec<u32> = summaries
        .iter()
        .filter(|(_, b)| b.is_none())
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() {
        return Err(AnchorError::MissingSegments {
            batch_id: batch_id.to_owned(),
            segments: missing,
        });
    }

    let temp_dir = opts.temp_dir.clone().unwrap_or_else(std::env::temp_dir);
    let work = tokio::task::spawn_blocking(move || WorkDir::create(&temp_dir))
        .await
        .map_err(|e| AnchorError::Task(e.to_string()))??;
    // Outputs (and other temporary files) that killed writers left in a local store: a
    // running writer keeps its own locked.
    if let Err(e) = store
        .remove_abandoned_writes(&layout::batch_prefix(batch_id), started)
        .await
    {
        tracing::warn!(error = %e, "cannot remove the batch's abandoned temporary files");
    }

    // The index merge needs only the summaries' leaf counts and index
    // digests: start it now, beside the segment checks. Its output counts
    // only if every check passes; if they fail, it is cancelled.
    let mut merged_offsets = Vec::new();
    let mut runs_meta = Vec::new();
    let mut first = 0u64;
    for (n, bytes) in &summaries {
        let path = segment_path(batch_id, *n, SegmentFile::Summary);
        let s = parse_summary(&path, bytes.as_deref().unwrap_or_default())?;
        if s.leaf_count > 0 {
            merged_offsets.push((*n, first, s.leaf_count));
            runs_meta.push((*n, first, s.leaf_count, s.index_digest));
        }
        first += s.leaf_count;
    }
    // Each run's size, checked to hold one entry per leaf before anything is merged.
    let sizes: Vec<u64> = stream::iter(runs_meta.iter().map(|m| (m.0, m.2)))
        .map(|(n, leaves)| async move {
            let path = segment_path(batch_id, n, SegmentFile::Index);
            match store.head(&path).await {
                Ok(Some(info)) => check_index_len(&path, info.size, leaves)
                    .map(|()| info.size)
                    .map_err(|e| e.in_segment(batch_id, n)),
                Ok(None) => Err(AnchorError::malformed(path, "missing").in_segment(batch_id, n)),
                Err(e) => Err(AnchorError::store(path, e)),
            }
        })
        .buffered(32)
        .try_collect()
        .await?;
    let index_out = OutputFile::create(store, work.path(), &layout::index_path(batch_id))?;
    let merge_opts = MergeOptions {
        memory_budget_bytes: opts.memory_budget_bytes,
    };
    let handle = tokio::runtime::Handle::current();
    let cancel = CancelOnDrop(Arc::new(AtomicBool::new(false)));
    let runs: Vec<Run> = runs_meta
        .into_iter()
        .zip(sizes)
        .map(|((n, offset, count, expected), size)| {
            let path = segment_path(batch_id, n, SegmentFile::Index);
            let source = StoreRun {
                store: store.clone(),
                local: store.local_file(&path),
                path,
                size,
                pos: 0,
                hasher: blake3::Hasher::new(),
                expected,
                handle: handle.clone(),
                cancel: Arc::clone(&cancel.0),
            };
            Run::new(Box::new(source), offset, count)
        })
        .collect();
    let out_path = index_out.path().to_owned();
    let out_file = index_out.reopen()?;
    let merge_task = tokio::task::spawn_blocking(move || {
        // Buffer before hashing: the hasher then sees 1 MiB blocks (SIMD), not entries.
        // The index is written once and not read back: past the page cache (decision 0016).
        let direct = DirectWriter::new(out_file, &out_path);
        let mut w = BufWriter::with_capacity(1 << 20, HashingWriter::new(direct));
        let stats = merge_runs(runs, &merge_opts, &mut w)?;
        let hashing = w
            .into_inner()
            .map_err(|e| AnchorError::io(&out_path, e.into_error()))?;
        let (direct, hash, _) = hashing.finish();
        direct
            .finish(true)
            .map_err(|e| AnchorError::io(&out_path, e))?;
        Ok::<_, AnchorError>((digest_of_hash(&hash), stats))
    });

    // Steps 2 to 4 run beside the merge. If one fails, the merge is cancelled and waited
    // for before the error is returned: a merge left reading a remote store while the
    // runtime shuts down would panic in its timers.
    let suite = plan.suite;
    let checks = async {
        // 2. Check every segment in plan order; rejects stream to a Parquet writer
        // on a blocking thread.
        let rejects_out = OutputFile::create(store, work.path(), &layout::rejects_path(batch_id))?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<RejectLine>>(4);
        let writer_path = rejects_out.path().to_owned();
        let writer_file = rejects_out.reopen()?;
        let writer_task =
            tokio::task::spawn_blocking(move || -> Result<(String, u64), AnchorError> {
                let out = BufWriter::with_capacity(1 << 20, HashingWriter::new(writer_file));
                let mut w = RejectsWriter::try_new(out)?;
                while let Some(lines) = rx.blocking_recv() {
                    for line in &lines {
                        w.push(line)?;
                    }
                }
                let rows = w.rows();
                let hashing = w
                    .finish()?
                    .into_inner()
                    .map_err(|e| AnchorError::io(&writer_path, e.into_error()))?;
                let (file, hash, _) = hashing.finish();
                file.sync_all()
                    .map_err(|e| AnchorError::io(&writer_path, e))?;
                Ok((digest_of_hash(&hash), rows))
            });

        let in_flight = opts.segments_in_flight.max(1);
        let mut checked_stream = stream::iter(plan.segments.iter().copied().zip(summaries))
            .map(|(seg, (_, summary_bytes))| {
                let plan = Arc::clone(&plan);
                async move {
                    read_checked_segment(store, batch_id, &plan, seg, summary_bytes, false)
                        .await
                        .map_err(|e| e.in_segment(batch_id, seg.segment))?
                        .ok_or_else(|| AnchorError::MissingSegments {
                            batch_id: batch_id.to_owned(),
                            segments: vec![seg.segment],
                        })
                }
            })
            .buffered(in_flight);

        let mut checked: Vec<(SegmentSummary, String, Option<Hash>)> =
            Vec::with_capacity(plan.segments.len());
        let mut rows_done = 0;
        let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
        // Rejected rows by reason and column, told when no row is accepted: tallied only until
        // a segment accepts one.
        let mut causes: BTreeMap<(String, String), u64> = BTreeMap::new();
        let mut any_accepted = false;
        let mut send_failed = false;
        while let Some(seg) = checked_stream.try_next().await? {
            rows_done += seg.summary.rows_read;
            for (r, n) in &seg.summary.reasons {
                *reasons.entry(r.clone()).or_default() += n;
            }
            if !any_accepted && seg.summary.rows_accepted > 0 {
                any_accepted = true;
                causes.clear();
            }
            if !any_accepted {
                for line in &seg.rejects {
                    for (reason, column) in line.reasons.iter().zip(&line.columns) {
                        *causes.entry((reason.clone(), column.clone())).or_default() += 1;
                    }
                }
            }
            if tx.send(seg.rejects).await.is_err() {
                send_failed = true;
                break;
            }
            checked.push((seg.summary, seg.summary_digest, seg.root));
            report(CommitStage::CheckSegments, checked.len() as u64, rows_done);
        }
        drop(checked_stream);
        drop(tx);
        let (rejects_digest, rejects_rows) = writer_task
            .await
            .map_err(|e| AnchorError::Task(e.to_string()))??;
        if send_failed {
            return Err(AnchorError::Task("the rejects writer stopped".into()));
        }

        // 3. Accounting, per file and in total, before anything is committed.
        let (files, totals) = account(&plan, &checked)?;
        if totals.2 != rejects_rows {
            return Err(AnchorError::Accounting {
                file: "batch".into(),
                reason: format!(
                    "{} rows rejected but {rejects_rows} reject rows found",
                    totals.2
                ),
            });
        }
        if totals.1 == 0 {
            let mut top: Vec<RejectCause> = causes
                .into_iter()
                .map(|((reason, column), rows)| RejectCause {
                    reason,
                    column,
                    rows,
                })
                .collect();
            top.sort_by_key(|c| std::cmp::Reverse(c.rows));
            top.truncate(TOP_REASONS);
            return Err(AnchorError::NothingToCommit {
                batch_id: batch_id.to_owned(),
                rows_read: totals.0,
                rejects_by_reason: reasons,
                top_reasons: top,
            });
        }

        // 4. Segment first leaves and the batch root over the non-empty segments.
        let mut segments = Vec::with_capacity(checked.len());
        let mut roots = Vec::new();
        let mut first_leaf = 0u64;
        for (summary, summary_digest, root) in &checked {
            segments.push(ManifestSegment {
                segment: summary.segment,
                leaf_count: summary.leaf_count,
                first_leaf,
                root: summary.root.clone(),
                summary_digest: summary_digest.clone(),
            });
            if let Some(r) = root {
                roots.push(*r);
            }
            first_leaf += summary.leaf_count;
        }
        let root = with_suite!(suite, S => batch_root::<S>(&roots)?);
        Ok::<_, AnchorError>(Checked {
            files,
            totals,
            segments,
            root,
            rejects_out,
            rejects_digest,
            reasons,
            count: checked.len(),
            rows_done,
        })
    }
    .await;
    let Checked {
        files,
        totals,
        segments,
        root,
        rejects_out,
        rejects_digest,
        reasons,
        count: checked_len,
        rows_done,
    } = match checks {
        Ok(done) => done,
        Err(e) => {
            cancel.0.store(true, Ordering::Relaxed);
            let _ = merge_task.await;
            return Err(e);
        }
    };

    // 5. Wait for the index merge started above.
    report(CommitStage::MergeIndex, checked_len as u64, rows_done);
    let (index_digest, stats) = merge_task
        .await
        .map_err(|e| AnchorError::Task(e.to_string()))?
        .map_err(|e| e.in_segment_file_of(batch_id))?;
    let expected_offsets: Vec<(u32, u64, u64)> = segments
        .iter()
        .filter(|s| s.leaf_count > 0)
        .map(|s| (s.segment, s.first_leaf, s.leaf_count))
        .collect();
    if expected_offsets != merged_offsets {
        return Err(AnchorError::malformed(
            layout::index_path(batch_id),
            "segment leaf counts changed while the index was merged",
        ));
    }

    // 6. Upload the outputs, then link and write the manifest.
    report(CommitStage::Write, checked_len as u64, rows_done);
    index_out.publish(store).await?;
    rejects_out.publish(store).await?;

    let head = read_head(store).await?;
    let previous = match &head {
        Some(h) => {
            check_head_target(store, h).await?;
            if h.batch_id == batch_id {
                return Err(AnchorError::Head {
                    path: layout::HEAD_PATH.into(),
                    reason: format!("names batch {batch_id}, which has no manifest"),
                });
            }
            Some(h.clone())
        }
        None => None,
    };
    let manifest = Manifest {
        format: MANIFEST_FORMAT.into(),
        spec_version: proofmark_schemas::SPEC_VERSION,
        encoding_version: u32::from(proofmark_schemas::ENCODING_VERSION),
        batch_id: batch_id.to_owned(),
        batch_date: plan.batch_date.clone(),
        suite,
        plan_digest: plan.digest.clone(),
        files,
        segments,
        rows_read: totals.0,
        rows_accepted: totals.1,
        rows_rejected: totals.2,
        leaf_count: totals.1,
        root: hex::encode(root),
        index_digest,
        rejects_digest,
        previous,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        committed_at: rfc3339_utc(SystemTime::now()),
    };
    let bytes = Bytes::from(manifest.to_bytes()?);
    let created = store
        .put_if_absent(&manifest_path, bytes.clone())
        .await
        .map_err(|e| AnchorError::store(&manifest_path, e))?;
    if !created {
        // Another process committed the batch meanwhile: its manifest stands.
        let existing = get_required(store, &manifest_path).await?;
        return report_committed(store, &manifest_path, existing).await;
    }
    let manifest_digest = digest(&bytes);
    let head_update = move_head(store, &manifest, &manifest_digest).await?;
    tracing::info!(batch_id, root = %manifest.root, leaves = manifest.leaf_count, "batch committed");
    Ok(CommitReport {
        manifest,
        manifest_digest,
        already_committed: false,
        index_entries: stats.entries,
        merge_passes: stats.passes,
        reasons,
        head: head_update,
    })
}

/// The report for a batch whose manifest exists; moves the head pointer to
/// it if a crash left the pointer on its `previous`.
async fn report_committed(
    store: &Store,
    path: &str,
    bytes: Bytes,
) -> Result<CommitReport, AnchorError> {
    let manifest = Manifest::from_slice(path, &bytes)?;
    let manifest_digest = digest(&bytes);
    let head = move_head(store, &manifest, &manifest_digest).await?;
    let reasons = committed_reasons(store, &manifest).await?;
    Ok(CommitReport {
        manifest,
        manifest_digest,
        already_committed: true,
        index_entries: 0,
        merge_passes: 0,
        reasons,
        head,
    })
}

/// Rejected rows per reason of a committed batch, from its segment summaries
/// (each checked against the digest the manifest lists for it).
async fn committed_reasons(
    store: &Store,
    manifest: &Manifest,
) -> Result<BTreeMap<String, u64>, AnchorError> {
    let summaries: Vec<SegmentSummary> = stream::iter(&manifest.segments)
        .map(|seg| async move {
            let path = segment_path(&manifest.batch_id, seg.segment, SegmentFile::Summary);
            let bytes = get_required(store, &path).await?;
            let actual = digest(&bytes);
            if actual != seg.summary_digest {
                return Err(AnchorError::DigestMismatch {
                    path,
                    expected: seg.summary_digest.clone(),
                    actual,
                });
            }
            parse_summary(&path, &bytes)
        })
        .buffered(32)
        .try_collect()
        .await?;
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for summary in &summaries {
        for (r, n) in &summary.reasons {
            *reasons.entry(r.clone()).or_default() += n;
        }
    }
    Ok(reasons)
}

/// Reads `batches/HEAD.json`: the store's latest committed batch, if any.
///
/// # Errors
///
/// The store's, or [`AnchorError::Head`] and [`AnchorError::Json`] for a pointer that is
/// not one.
pub async fn read_head(store: &Store) -> Result<Option<BatchLink>, AnchorError> {
    let Some(bytes) = get_object(store, layout::HEAD_PATH).await? else {
        return Ok(None);
    };
    let head: HeadPointer = serde_json::from_slice(&bytes).map_err(|source| AnchorError::Json {
        path: layout::HEAD_PATH.into(),
        source,
    })?;
    if head.format != HEAD_FORMAT {
        return Err(AnchorError::Head {
            path: layout::HEAD_PATH.into(),
            reason: format!("format {:?} is not {HEAD_FORMAT:?}", head.format),
        });
    }
    Ok(Some(head.batch))
}

/// Checks that the head names an existing manifest with the recorded digest and root.
async fn check_head_target(store: &Store, head: &BatchLink) -> Result<(), AnchorError> {
    let path = layout::manifest_path(&head.batch_id);
    let Some(bytes) = get_object(store, &path).await? else {
        return Err(AnchorError::Head {
            path: layout::HEAD_PATH.into(),
            reason: format!("names batch {}, whose manifest is missing", head.batch_id),
        });
    };
    let actual = digest(&bytes);
    if actual != head.manifest_digest {
        return Err(AnchorError::Head {
            path: layout::HEAD_PATH.into(),
            reason: format!(
                "records manifest digest {} for batch {}, the manifest has {actual}: it was rewritten",
                head.manifest_digest, head.batch_id
            ),
        });
    }
    let m = Manifest::from_slice(&path, &bytes)?;
    if m.root != head.root {
        return Err(AnchorError::Head {
            path: layout::HEAD_PATH.into(),
            reason: format!("root differs from batch {}'s manifest", head.batch_id),
        });
    }
    Ok(())
}

/// Moves the head pointer to `manifest` if it names the manifest's `previous`.
async fn move_head(
    store: &Store,
    manifest: &Manifest,
    manifest_digest: &str,
) -> Result<HeadUpdate, AnchorError> {
    let link = BatchLink {
        batch_id: manifest.batch_id.clone(),
        root: manifest.root.clone(),
        manifest_digest: manifest_digest.to_owned(),
    };
    let head = read_head(store).await?;
    if head.as_ref() == Some(&link) {
        return Ok(HeadUpdate::AlreadyCurrent);
    }
    if head != manifest.previous {
        let Some(head) = head else {
            return Err(AnchorError::Head {
                path: layout::HEAD_PATH.into(),
                reason: format!(
                    "is missing, but batch {} links to a previous batch",
                    manifest.batch_id
                ),
            });
        };
        // Either later batches already follow this one (a rerun of an older
        // batch), or another batch was committed concurrently: tell which by
        // whether the chain back from the head reaches this batch.
        if chain_reaches(store, &head, &link).await? {
            return Ok(HeadUpdate::Behind { head });
        }
        tracing::warn!(
            batch = %manifest.batch_id,
            head = %head.batch_id,
            "another batch was committed concurrently: the chain forks here"
        );
        return Ok(HeadUpdate::Conflict { head });
    }
    let pointer = HeadPointer {
        format: HEAD_FORMAT.into(),
        batch: link,
        updated_at: rfc3339_utc(SystemTime::now()),
    };
    let bytes = serde_json::to_vec_pretty(&pointer).map_err(|source| AnchorError::Json {
        path: layout::HEAD_PATH.into(),
        source,
    })?;
    store
        .put(layout::HEAD_PATH, Bytes::from(bytes))
        .await
        .map_err(|e| AnchorError::store(layout::HEAD_PATH, e))?;
    Ok(HeadUpdate::Moved)
}

/// What the segment checks of [`commit_batch`] (steps 2 to 4) give the rest of the commit.
struct Checked {
    files: Vec<ManifestFile>,
    totals: Totals,
    segments: Vec<ManifestSegment>,
    root: Hash,
    rejects_out: OutputFile,
    rejects_digest: String,
    reasons: BTreeMap<String, u64>,
    /// Segments checked.
    count: usize,
    rows_done: u64,
}

/// Whether the chain of `previous` links back from `head` reaches `target`.
///
/// Each step reads one manifest. The walk stops at the chain's first batch,
/// at a manifest that is missing or unreadable (then the answer is no: the
/// caller reports a fork, which is the safe reading), or after
/// [`MAX_CHAIN_WALK`] steps.
async fn chain_reaches(
    store: &Store,
    head: &BatchLink,
    target: &BatchLink,
) -> Result<bool, AnchorError> {
    let mut at = head.clone();
    for _ in 0..MAX_CHAIN_WALK {
        let path = layout::manifest_path(&at.batch_id);
        let Some(bytes) = get_object(store, &path).await? else {
            return Ok(false);
        };
        let Ok(m) = Manifest::from_slice(&path, &bytes) else {
            return Ok(false);
        };
        match m.previous {
            Some(p) if p == *target => return Ok(true),
            Some(p) => at = p,
            None => return Ok(false),
        }
    }
    Ok(false)
}

/// Most manifests [`chain_reaches`] reads: over a century of nightly batches.
const MAX_CHAIN_WALK: usize = 50_000;

/// Rows `(read, accepted, rejected)`.
type Totals = (u64, u64, u64);

/// Per-file accounting and the totals `(read, accepted, rejected)`.
fn account(
    plan: &StoredPlan,
    checked: &[(SegmentSummary, String, Option<Hash>)],
) -> Result<(Vec<ManifestFile>, Totals), AnchorError> {
    let mut files: Vec<ManifestFile> = plan
        .files
        .iter()
        .map(|f| ManifestFile {
            source: f.source.clone(),
            path: f.path.clone(),
            kind: f.kind.clone(),
            digest: f.digest.clone(),
            rows_read: 0,
            rows_accepted: 0,
            rows_rejected: 0,
        })
        .collect();
    for (s, _, _) in checked {
        let f = &mut files[s.file as usize];
        f.rows_read += s.rows_read;
        f.rows_accepted += s.rows_accepted;
        f.rows_rejected += s.rows_rejected;
    }
    let mut totals = (0, 0, 0);
    for (f, p) in files.iter().zip(&plan.files) {
        if f.rows_read != p.rows || f.rows_read != f.rows_accepted + f.rows_rejected {
            return Err(AnchorError::Accounting {
                file: f.source.clone(),
                reason: format!(
                    "plan has {} rows; read {}, accepted {}, rejected {}",
                    p.rows, f.rows_read, f.rows_accepted, f.rows_rejected
                ),
            });
        }
        totals.0 += f.rows_read;
        totals.1 += f.rows_accepted;
        totals.2 += f.rows_rejected;
    }
    if totals.0 != plan.total_rows {
        return Err(AnchorError::Accounting {
            file: "batch".into(),
            reason: format!("plan has {} rows, {} read", plan.total_rows, totals.0),
        });
    }
    Ok((files, totals))
}

/// The name prefix of a commit's work folders in the temporary directory.
const WORK_PREFIX: &str = "proofmark-commit-";
/// The file in a work folder that its commit holds locked while it runs.
const WORK_OWNER: &str = ".owner";

/// A commit's work folder in the temporary directory: its outputs before upload (object
/// stores). Removed when dropped; a process killed outright
/// leaves it, and the next commit with the same temporary directory removes it, telling
/// a dead owner from a live one by the lock on the folder's owner file (the kernel drops
/// a killed process's locks).
struct WorkDir {
    dir: tempfile::TempDir,
    /// Holds the lock; closed after the folder is removed.
    _owner: File,
}

impl WorkDir {
    fn create(parent: &std::path::Path) -> Result<Self, AnchorError> {
        remove_dead_work_dirs(parent);
        let dir = tempfile::Builder::new()
            .prefix(WORK_PREFIX)
            .tempdir_in(parent)
            .map_err(|e| AnchorError::io(parent, e))?;
        // Locked under another name, then renamed: a folder's owner file is never seen
        // unlocked while its commit runs.
        let pending = dir.path().join(".owner.new");
        let owner = File::create(&pending).map_err(|e| AnchorError::io(&pending, e))?;
        owner.try_lock().map_err(|e| {
            AnchorError::io(
                &pending,
                match e {
                    std::fs::TryLockError::Error(e) => e,
                    std::fs::TryLockError::WouldBlock => std::io::ErrorKind::WouldBlock.into(),
                },
            )
        })?;
        let final_name = dir.path().join(WORK_OWNER);
        std::fs::rename(&pending, &final_name).map_err(|e| AnchorError::io(&final_name, e))?;
        Ok(Self { dir, _owner: owner })
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

/// Removes the work folders in `parent` (a temporary directory) whose commits were killed
/// (their owner file can be locked), with a warning for any that cannot be removed; the
/// folders of running commits stay. Every commit does this first; `proofmark run` also does
/// it when it resumes a batch whose commit it may skip. Returns how many went.
pub fn remove_dead_work_dirs(parent: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let is_work = entry.file_name().to_string_lossy().starts_with(WORK_PREFIX)
            && entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_work {
            continue;
        }
        let owner = entry.path().join(WORK_OWNER);
        if owner.exists() {
            removed += usize::from(remove_if_owner_dead(&owner, &entry.path()));
            continue;
        }
        // No owner file: being set up right now (kept), or its commit was killed during
        // the set-up (removed once it is an hour old).
        let age = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| m.elapsed().ok());
        if age.is_some_and(|a| a > std::time::Duration::from_secs(3600))
            && std::fs::remove_dir_all(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// Removes the work folder `dir`, which a commit left, if the lock on its `owner` file can
/// be taken: the kernel drops a killed process's locks, so a running commit keeps its own.
/// True when it was removed.
fn remove_if_owner_dead(owner: &std::path::Path, dir: &std::path::Path) -> bool {
    let Ok(lock) = File::open(owner) else {
        return false;
    };
    if lock.try_lock().is_err() {
        return false; // its commit is running
    }
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {
            tracing::info!(path = %dir.display(), "removed the work folder of an interrupted commit");
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        // Another user's, in a shared temporary directory.
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            tracing::debug!(path = %dir.display(), error = %e, "cannot remove the work folder of an interrupted commit");
            false
        }
        Err(e) => {
            tracing::warn!(path = %dir.display(), error = %e, "cannot remove the work folder of an interrupted commit");
            false
        }
    }
}

/// An output written to a local file first: in a local store, a temporary
/// file beside its final name, renamed into place (one write, atomic); in
/// an object store, a file in the work folder, uploaded with a multipart put.
struct OutputFile {
    file: tempfile::NamedTempFile,
    store_path: String,
    local_final: Option<PathBuf>,
}

impl OutputFile {
    fn create(
        store: &Store,
        work: &std::path::Path,
        store_path: &str,
    ) -> Result<Self, AnchorError> {
        let (dir, local_final) = match store.local_root() {
            Some(root) => {
                let target = root.join(store_path);
                let dir = target
                    .parent()
                    .map_or_else(|| root.to_owned(), std::path::Path::to_owned);
                std::fs::create_dir_all(&dir).map_err(|e| AnchorError::io(&dir, e))?;
                (dir, Some(target))
            }
            None => (work.to_owned(), None),
        };
        let mut builder = tempfile::Builder::new();
        builder
            .prefix(COMMIT_TEMP_AFFIXES.0)
            .suffix(COMMIT_TEMP_AFFIXES.1);
        #[cfg(unix)]
        {
            // Readable like the store's other objects, not private to this user.
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o644));
        }
        let file = builder
            .tempfile_in(&dir)
            .map_err(|e| AnchorError::io(&dir, e))?;
        // Held until the file is renamed or removed: tells this live output from one a
        // killed commit left (`Store::remove_abandoned_writes`). A file system without locks
        // leaves it unlocked, which only a second commit of the same batch at once could
        // mistake.
        let _ = file.as_file().try_lock();
        Ok(Self {
            file,
            store_path: store_path.to_owned(),
            local_final,
        })
    }

    fn path(&self) -> &std::path::Path {
        self.file.path()
    }

    fn reopen(&self) -> Result<File, AnchorError> {
        self.file
            .reopen()
            .map_err(|e| AnchorError::io(self.file.path(), e))
    }

    async fn publish(self, store: &Store) -> Result<(), AnchorError> {
        match self.local_final {
            Some(target) => {
                self.file
                    .persist(&target)
                    .map_err(|e| AnchorError::io(&target, e.error))?;
                Ok(())
            }
            None => store
                .put_file(&self.store_path, self.file.path())
                .await
                .map_err(|e| AnchorError::store(&self.store_path, e)),
        }
    }
}

/// A segment's `.index` read from the store in ranges, from a blocking
/// thread; its digest is checked when the run ends.
struct StoreRun {
    store: Store,
    path: String,
    size: u64,
    pos: u64,
    hasher: blake3::Hasher,
    expected: String,
    handle: tokio::runtime::Handle,
    cancel: Arc<AtomicBool>,
    /// The run's file in a local store, read directly.
    local: Option<PathBuf>,
}

/// Sets its flag when dropped: cancels the background merge on every early return.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl RunSource for StoreRun {
    fn next_chunk(&mut self, max_bytes: usize, buf: &mut Vec<u8>) -> Result<(), AnchorError> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(AnchorError::Task("index merge cancelled".into()));
        }
        if self.pos >= self.size {
            if self.pos == self.size {
                self.pos += 1; // check once
                let actual = digest_of_hash(&self.hasher.finalize());
                if actual != self.expected {
                    return Err(AnchorError::DigestMismatch {
                        path: self.path.clone(),
                        expected: self.expected.clone(),
                        actual,
                    });
                }
            }
            return Ok(());
        }
        let end = (self.pos + max_bytes as u64).min(self.size);
        if let Some(file) = &self.local {
            // A local run is read on this (merge) thread: going through the store would
            // hand every chunk to a Tokio blocking thread and back, two thread switches a
            // read (a quarter of the commit's samples at 100 M records).
            let before = buf.len();
            buf.resize(before + (end - self.pos) as usize, 0);
            // Opened for each chunk: a commit merges more runs (1,531 at 100 M records)
            // than a process may usually hold files open.
            let read =
                std::fs::File::open(file).and_then(|f| read_all(&f, self.pos, &mut buf[before..]));
            let done = match read {
                Ok(n) => n,
                Err(e) => {
                    buf.truncate(before);
                    return Err(if e.kind() == std::io::ErrorKind::NotFound {
                        AnchorError::malformed(&self.path, "missing")
                    } else {
                        AnchorError::io(file, e)
                    });
                }
            };
            buf.truncate(before + done);
            if done == 0 {
                return Err(AnchorError::malformed(&self.path, "shorter than listed"));
            }
            self.hasher.update(&buf[before..]);
            self.pos += done as u64;
            return Ok(());
        }
        let bytes = self
            .handle
            .block_on(self.store.get_range(&self.path, self.pos..end))
            .map_err(|e| AnchorError::store(&self.path, e))?;
        if bytes.is_empty() {
            return Err(AnchorError::malformed(&self.path, "shorter than listed"));
        }
        self.hasher.update(&bytes);
        self.pos += bytes.len() as u64;
        buf.extend_from_slice(&bytes);
        Ok(())
    }

    fn len_bytes(&self) -> u64 {
        self.size
    }

    fn name(&self) -> &str {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A killed commit's folder goes; a running commit's folder, a folder being set up and
    /// other folders stay; a work folder goes when its commit ends.
    #[test]
    fn dead_work_folders_are_removed_and_live_ones_kept() {
        let parent = tempfile::tempdir().unwrap();
        let dead = parent.path().join(format!("{WORK_PREFIX}dead"));
        std::fs::create_dir_all(dead.join("spill")).unwrap();
        std::fs::write(dead.join(WORK_OWNER), b"").unwrap();
        std::fs::write(dead.join("spill/run-0"), b"entries").unwrap();
        let unowned = parent.path().join(format!("{WORK_PREFIX}new"));
        std::fs::create_dir_all(&unowned).unwrap();
        let other = parent.path().join("other-folder");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join(WORK_OWNER), b"").unwrap();

        let live = WorkDir::create(parent.path()).unwrap();
        assert!(!dead.exists(), "the dead commit's folder is removed");
        assert!(unowned.exists() && other.exists());
        assert!(live.path().join(WORK_OWNER).exists());

        // A second commit beside the first leaves the first's folder alone.
        let second = WorkDir::create(parent.path()).unwrap();
        assert!(second.path().join(WORK_OWNER).exists());
        assert!(live.path().exists());
        assert_eq!(remove_dead_work_dirs(parent.path()), 0);
        let live_path = live.path().to_owned();
        drop(live);
        assert!(!live_path.exists(), "a finished commit removes its folder");
        assert!(second.path().exists());
    }

    /// A killed commit's output goes; a running commit's output and other files stay.
    #[tokio::test]
    async fn dead_outputs_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::from_url(dir.path().to_str().unwrap()).unwrap();
        let work = tempfile::tempdir().unwrap();
        let live = OutputFile::create(&store, work.path(), "batches/b/index/entries.bin").unwrap();
        let index = dir.path().join("batches/b/index");
        let dead = index.join(".proofmark-killed.tmp");
        std::fs::write(&dead, b"half an index").unwrap();
        let object = index.join("entries.bin.sha");
        std::fs::write(&object, b"object").unwrap();
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
        let removed = store
            .remove_abandoned_writes("batches/b", later)
            .await
            .unwrap();
        assert_eq!(removed.files, 1);
        assert!(!dead.exists());
        assert!(live.path().exists() && object.exists());
        assert!(proofmark_ingest::store::is_commit_temp_name(
            &live.path().file_name().unwrap().to_string_lossy()
        ));
    }
}
