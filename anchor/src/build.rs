//! Building a batch's segments, all of them or one deterministic share.
//!
//! Each segment is fetched on the async runtime (a bounded number in flight),
//! validated, encoded and leaf-hashed by ingest and turned into a tree and
//! files here, on the rayon pool, then written to the store with its summary
//! last. A segment whose summary exists and checks is skipped, so a rerun
//! after a crash builds only what is missing, and a rerun after success
//! builds nothing.
//!
//! Shares: part `k` of `n` (0-based) builds the segments `s` with
//! `s % n == k`. Every process of a multi-process build reads the same plan,
//! so the shares are disjoint and cover the batch, and the roots do not
//! depend on how the work was shared.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::{StreamExt, TryStreamExt, stream};
use proofmark_ingest::{Store, fetch_segment, load_plan, process_segment};

use crate::error::AnchorError;
use crate::layout;
use crate::segment_files::{EncodedSegment, SegmentSummary, encode_segment};
use crate::segment_store::{read_checked_segment, write_segment};
use crate::stored_plan::{StoredPlan, StoredPlanSegment, get_object};

/// A share of a batch's segments: part `k` of `n`, 0-based (`k < n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// The share, `0..n`.
    pub k: u32,
    /// The number of shares.
    pub n: u32,
}

impl Part {
    /// Part `k` of `n` (0-based).
    ///
    /// # Errors
    ///
    /// [`AnchorError::InvalidPart`] unless `k < n`.
    pub fn try_new(k: u32, n: u32) -> Result<Self, AnchorError> {
        if n == 0 || k >= n {
            return Err(AnchorError::InvalidPart { k, n });
        }
        Ok(Self { k, n })
    }

    /// Whether segment `segment` belongs to this share.
    pub fn contains(self, segment: u32) -> bool {
        segment % self.n == self.k
    }
}

impl FromStr for Part {
    type Err = AnchorError;

    /// Parses `K/N` with `K` **1-based** (`1/3`, `2/3`, `3/3`), as people count parts.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || AnchorError::malformed("--part", format!("{s:?} is not K/N with 1 <= K <= N"));
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let k: u32 = k.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        if k == 0 || k > n {
            return Err(bad());
        }
        Part::try_new(k - 1, n)
    }
}

/// How a build runs.
#[derive(Debug, Clone, Copy)]
pub struct BuildOptions {
    /// The share to build; `None` builds every segment.
    pub part: Option<Part>,
    /// Segments fetched or processed at once (bounds memory: each holds its
    /// row group's bytes and its results). Default 3.
    pub segments_in_flight: usize,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            part: None,
            segments_in_flight: 3,
        }
    }
}

/// Row counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowCounts {
    /// Rows read.
    pub read: u64,
    /// Rows accepted.
    pub accepted: u64,
    /// Rows rejected.
    pub rejected: u64,
}

impl RowCounts {
    fn add(&mut self, s: &SegmentSummary) {
        self.read += s.rows_read;
        self.accepted += s.rows_accepted;
        self.rejected += s.rows_rejected;
    }
}

/// Progress of a build (after each finished segment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildProgress {
    /// Segments of this share done (built or found done).
    pub segments_done: u64,
    /// Segments in this share.
    pub segments_total: u64,
    /// Rows of the segments done.
    pub rows_done: u64,
    /// Rows in this share.
    pub rows_total: u64,
}

/// The outcome of [`build_batch`].
#[derive(Debug, Clone, Default)]
pub struct BuildReport {
    /// The batch is committed: nothing was done.
    pub already_committed: bool,
    /// Segments in this share.
    pub segments_in_part: u64,
    /// Segments built by this call.
    pub segments_built: u64,
    /// Segments found done (and checked), so skipped.
    pub segments_skipped: u64,
    /// Segments found with a summary that did not check, rebuilt.
    pub segments_repaired: u64,
    /// Rows of this share (built and skipped segments).
    pub rows: RowCounts,
    /// Rows per record kind.
    pub by_kind: BTreeMap<String, RowCounts>,
    /// Rejected rows per reason code.
    pub reasons: BTreeMap<String, u64>,
    /// Temporary files that killed writers left in the batch's folder (a local store), removed
    /// before building ([`Store::remove_abandoned_writes`]).
    pub abandoned_removed: proofmark_ingest::Removed,
}

impl BuildReport {
    fn add(&mut self, plan: &StoredPlan, s: &SegmentSummary) {
        self.rows.add(s);
        let kind = plan.files[s.file as usize].kind.clone();
        self.by_kind.entry(kind).or_default().add(s);
        for (r, n) in &s.reasons {
            *self.reasons.entry(r.clone()).or_default() += n;
        }
    }
}

/// Builds the segments of batch `batch_id` (all, or `opts.part`).
///
/// Does nothing for a committed batch. Segments already done are checked
/// and skipped; one whose files do not check is rebuilt. In a local store it
/// first removes the temporary files that killed writers left in the batch's
/// folder; those of writers still running (other parts) are locked and kept.
///
/// # Errors
///
/// [`AnchorError::NoPlan`], [`AnchorError::Plan`];
/// [`AnchorError::Segment`] naming the segment and its input file when a
/// row group cannot be fetched (the file vanished or changed since the plan)
/// or processed; store errors. Segments finished before the error stay done.
pub async fn build_batch(
    store: &Store,
    batch_id: &str,
    opts: &BuildOptions,
    progress: &(dyn Fn(BuildProgress) + Sync),
) -> Result<BuildReport, AnchorError> {
    let started = std::time::SystemTime::now();
    if get_object(store, &layout::manifest_path(batch_id))
        .await?
        .is_some()
    {
        return Ok(BuildReport {
            already_committed: true,
            ..BuildReport::default()
        });
    }
    let plan = load_plan(store, batch_id)
        .await
        .map_err(|source| AnchorError::Plan {
            batch_id: batch_id.to_owned(),
            source: Box::new(source),
        })?
        .ok_or_else(|| AnchorError::NoPlan {
            batch_id: batch_id.to_owned(),
        })?;
    let plan = Arc::new(plan);
    let stored = Arc::new(StoredPlan::load(store, batch_id).await?);
    let mine: Vec<StoredPlanSegment> = stored
        .segments
        .iter()
        .copied()
        .filter(|s| opts.part.is_none_or(|p| p.contains(s.segment)))
        .collect();
    let segments_total = mine.len() as u64;
    let rows_total: u64 = mine.iter().map(|s| s.rows).sum();
    let segments_done = AtomicU64::new(0);
    let rows_done = AtomicU64::new(0);
    let tick = |rows: u64| {
        let s = segments_done.fetch_add(1, Ordering::Relaxed) + 1;
        let r = rows_done.fetch_add(rows, Ordering::Relaxed) + rows;
        progress(BuildProgress {
            segments_done: s,
            segments_total,
            rows_done: r,
            rows_total,
        });
    };
    let abandoned_removed = store
        .remove_abandoned_writes(&layout::batch_prefix(batch_id), started)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot remove the batch's abandoned temporary files");
            proofmark_ingest::Removed::default()
        });
    let mut report = BuildReport {
        segments_in_part: segments_total,
        abandoned_removed,
        ..BuildReport::default()
    };

    // Resume: check the segments that have a summary.
    let found: Vec<(
        StoredPlanSegment,
        Result<Option<SegmentSummary>, AnchorError>,
    )> = stream::iter(mine.iter().copied())
        .map(|seg| {
            let stored = Arc::clone(&stored);
            async move {
                let checked = read_checked_segment(store, batch_id, &stored, seg, None, true)
                    .await
                    .map(|c| c.map(|c| c.summary));
                (seg, checked)
            }
        })
        .buffered(8)
        .collect()
        .await;
    let mut todo = Vec::new();
    for (seg, checked) in found {
        match checked {
            Ok(Some(summary)) => {
                report.segments_skipped += 1;
                report.add(&stored, &summary);
                tick(summary.rows_read);
            }
            Ok(None) => todo.push(seg),
            Err(err @ AnchorError::Store { .. }) => return Err(err),
            Err(err) => {
                tracing::warn!(segment = seg.segment, error = %err, "segment files do not check: rebuilding");
                report.segments_repaired += 1;
                todo.push(seg);
            }
        }
    }

    // Build the rest, a bounded number at a time.
    let suite = plan.suite;
    let in_flight = opts.segments_in_flight.max(1);
    let mut built = stream::iter(todo)
        .map(|seg| {
            let plan = Arc::clone(&plan);
            let source = stored.files[seg.file as usize].source.clone();
            async move {
                let segment_err = |source_err| AnchorError::Segment {
                    segment: seg.segment,
                    file: source.clone(),
                    row_group: seg.row_group,
                    source: Box::new(source_err),
                };
                let t0 = std::time::Instant::now();
                let input = fetch_segment(store, &plan, seg.segment)
                    .await
                    .map_err(segment_err)?;
                let t_fetch = t0.elapsed();
                let (tx, rx) = tokio::sync::oneshot::channel();
                let span = tracing::info_span!("segment", segment = seg.segment);
                rayon::spawn(move || {
                    let _guard = span.enter();
                    let result = match process_segment(&plan, &input) {
                        Ok(r) => encode_segment(suite, r).map_err(Failure::Anchor),
                        Err(e) => Err(Failure::Ingest(e)),
                    };
                    drop(input);
                    let _ = tx.send(result);
                });
                let encoded: EncodedSegment = match rx.await {
                    Ok(Ok(e)) => e,
                    Ok(Err(Failure::Ingest(e))) => return Err(segment_err(e)),
                    Ok(Err(Failure::Anchor(e))) => return Err(e),
                    Err(_) => return Err(AnchorError::Task("segment worker panicked".into())),
                };
                let t_cpu = t0.elapsed();
                write_segment(store, batch_id, &encoded).await?;
                tracing::debug!(
                    segment = seg.segment,
                    leaves = encoded.summary.leaf_count,
                    fetch_ms = t_fetch.as_millis() as u64,
                    cpu_ms = (t_cpu - t_fetch).as_millis() as u64,
                    write_ms = (t0.elapsed() - t_cpu).as_millis() as u64,
                    "segment built"
                );
                Ok::<_, AnchorError>(encoded.summary)
            }
        })
        .buffer_unordered(in_flight);
    while let Some(summary) = built.try_next().await? {
        report.segments_built += 1;
        report.add(&stored, &summary);
        tick(summary.rows_read);
    }
    Ok(report)
}

/// Why a segment's CPU work failed.
enum Failure {
    Ingest(proofmark_ingest::IngestError),
    Anchor(AnchorError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_parse_one_based_and_share_disjointly() {
        let p: Part = "1/3".parse().expect("parses");
        assert_eq!(p, Part { k: 0, n: 3 });
        assert!("0/3".parse::<Part>().is_err());
        assert!("4/3".parse::<Part>().is_err());
        assert!("x".parse::<Part>().is_err());
        assert!(Part::try_new(3, 3).is_err());
        for s in 0..100u32 {
            let owners = (0..3).filter(|&k| Part { k, n: 3 }.contains(s)).count();
            assert_eq!(owners, 1);
        }
    }
}
