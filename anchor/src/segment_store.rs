//! Segment files in the store: writing a built segment (its summary last)
//! and reading one back with every check a reader owes the summary (digests,
//! the tree, the plan's row counts and input digest, the rejects' rows).

use bytes::Bytes;
use proofmark_ingest::Store;
use proofmark_ingest::direct_file::read_direct;
use proofmark_merkle::{Hash, SuiteId};

use crate::error::AnchorError;
use crate::layout::{SegmentFile, segment_path};
use crate::rejects::for_each_reject_line;
use crate::segment_files::{
    EncodedSegment, INDEX_ENTRY_LEN, RejectLine, SegmentSummary, TreeFile, check_digest,
    check_tree, digest, parse_summary,
};
use crate::stored_plan::{StoredPlan, StoredPlanSegment, get_object, get_required};

/// Writes a segment's files: the four data files at once, then the summary,
/// which marks the segment done.
///
/// # Errors
///
/// [`AnchorError::Store`] naming the object.
pub async fn write_segment(
    store: &Store,
    batch_id: &str,
    segment: &EncodedSegment,
) -> Result<(), AnchorError> {
    let n = segment.summary.segment;
    let put = |file: SegmentFile, bytes: Bytes| async move {
        let path = segment_path(batch_id, n, file);
        // The leaves are read back once, by the commit's check: past the page cache
        // (decision 0016). The index stays in the page cache for the merge's many small
        // reads.
        let written = if file == SegmentFile::Leaves {
            store.put_bulk(&path, bytes).await
        } else {
            store.put(&path, bytes).await
        };
        written.map_err(|e| AnchorError::store(path, e))
    };
    futures::try_join!(
        put(SegmentFile::Leaves, segment.leaves.clone()),
        put(SegmentFile::Tree, segment.tree.clone()),
        put(SegmentFile::Index, segment.index.clone()),
        put(SegmentFile::Rejects, segment.rejects.clone()),
    )?;
    put(SegmentFile::Summary, segment.summary_bytes.clone()).await
}

/// Reads segment `seg` of the batch and checks it against its summary and
/// the plan. `summary` may carry the summary's bytes if already read.
/// With `check_index`, the `.index` is read and its digest checked too (the
/// commit checks it while merging instead). Returns `Ok(None)` if the
/// segment has no summary (it is not built).
///
/// # Errors
///
/// [`AnchorError::DigestMismatch`], [`AnchorError::Malformed`] (a missing
/// file is "missing"), [`AnchorError::Accounting`], store errors.
pub async fn read_checked_segment(
    store: &Store,
    batch_id: &str,
    plan: &StoredPlan,
    seg: StoredPlanSegment,
    summary: Option<Bytes>,
    check_index: bool,
) -> Result<Option<CheckedSegment>, AnchorError> {
    let summary_bytes = match summary {
        Some(b) => b,
        None => match get_object(
            store,
            &segment_path(batch_id, seg.segment, SegmentFile::Summary),
        )
        .await?
        {
            Some(b) => b,
            None => return Ok(None),
        },
    };
    let read =
        |f| async move { get_required(store, &segment_path(batch_id, seg.segment, f)).await };
    let read_index = || async move {
        if check_index {
            read(SegmentFile::Index).await.map(Some)
        } else {
            Ok(None)
        }
    };
    // In a local store the leaves are read on the checking thread, past the page cache,
    // into a reused buffer (decision 0016); elsewhere with the other files.
    let leaves_path = segment_path(batch_id, seg.segment, SegmentFile::Leaves);
    let leaves_file = store.local_file(&leaves_path);
    let read_leaves = || async {
        match leaves_file {
            Some(_) => Ok(None),
            None => read(SegmentFile::Leaves).await.map(Some),
        }
    };
    let (leaves, tree, rejects, index) = futures::try_join!(
        read_leaves(),
        read(SegmentFile::Tree),
        read(SegmentFile::Rejects),
        read_index(),
    )?;
    let batch = batch_id.to_owned();
    let input_digest = plan.input_digest(&seg).to_owned();
    let source = plan.files[seg.file as usize].source.clone();
    let suite = plan.suite;
    tokio::task::spawn_blocking(move || {
        let check = |leaves: &[u8]| {
            check_segment_bytes(
                &batch,
                SegmentContext {
                    seg,
                    suite,
                    input_digest: &input_digest,
                    source: &source,
                },
                &summary_bytes,
                leaves,
                &tree,
                &rejects,
                index.as_deref(),
            )
            .map(Some)
        };
        match (leaves, leaves_file) {
            (Some(bytes), _) => check(&bytes),
            (None, Some(file)) => match read_direct(&file, check) {
                Ok(checked) => checked,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Err(AnchorError::malformed(leaves_path, "missing"))
                }
                Err(e) => Err(AnchorError::io(&file, e)),
            },
            (None, None) => Err(AnchorError::malformed(leaves_path, "missing")),
        }
    })
    .await
    .map_err(|e| AnchorError::Task(e.to_string()))?
}

/// What the plan says about a segment being checked.
struct SegmentContext<'a> {
    seg: StoredPlanSegment,
    suite: SuiteId,
    input_digest: &'a str,
    source: &'a str,
}

/// A segment after its files were read and checked.
#[derive(Debug, Clone)]
pub struct CheckedSegment {
    /// Its summary.
    pub summary: SegmentSummary,
    /// `blake3:` digest of the summary's bytes.
    pub summary_digest: String,
    /// The segment root (`None` without leaves).
    pub root: Option<Hash>,
    /// Its rejected rows, in row order.
    pub rejects: Vec<RejectLine>,
}

/// Checks that a segment's `.index` of `len` bytes holds one entry per leaf (SPEC 8.4).
///
/// # Errors
///
/// [`AnchorError::Malformed`] naming `path`.
pub fn check_index_len(path: &str, len: u64, leaf_count: u64) -> Result<(), AnchorError> {
    let want = leaf_count.saturating_mul(INDEX_ENTRY_LEN as u64);
    if len == want {
        return Ok(());
    }
    Err(AnchorError::malformed(
        path,
        format!(
            "holds {len} bytes, {want} expected: one {INDEX_ENTRY_LEN}-byte entry for each of \
             {leaf_count} leaves (SPEC 8.4); rebuild the segment"
        ),
    ))
}

/// Checks one segment's files against its summary and the plan (CPU work).
#[allow(clippy::too_many_arguments)]
fn check_segment_bytes(
    batch_id: &str,
    ctx: SegmentContext<'_>,
    summary_bytes: &[u8],
    leaves: &[u8],
    tree: &[u8],
    rejects: &[u8],
    index: Option<&[u8]>,
) -> Result<CheckedSegment, AnchorError> {
    let SegmentContext {
        seg,
        suite,
        input_digest,
        source,
    } = ctx;
    let n = seg.segment;
    let summary_path = segment_path(batch_id, n, SegmentFile::Summary);
    let summary = parse_summary(&summary_path, summary_bytes)?;
    let bad = |reason: String| Err(AnchorError::malformed(&summary_path, reason));
    if summary.segment != n
        || summary.file != seg.file
        || summary.row_group != seg.row_group
        || summary.first_row != seg.first_row
    {
        return bad(format!(
            "describes segment {} (file {}, row group {}), the plan has segment {n} (file {}, row group {})",
            summary.segment, summary.file, summary.row_group, seg.file, seg.row_group
        ));
    }
    if summary.input_digest != input_digest {
        return bad(format!(
            "was built from input {}, the plan has {input_digest}",
            summary.input_digest,
        ));
    }
    if summary.rows_read != seg.rows
        || summary.rows_read != summary.rows_accepted + summary.rows_rejected
        || summary.leaf_count != summary.rows_accepted
        || summary.rejected_rows.len() as u64 != summary.rows_rejected
    {
        return Err(AnchorError::Accounting {
            file: source.to_owned(),
            reason: format!(
                "segment {n}: plan rows {}, read {}, accepted {}, rejected {}, leaves {}, rejected rows {}",
                seg.rows,
                summary.rows_read,
                summary.rows_accepted,
                summary.rows_rejected,
                summary.leaf_count,
                summary.rejected_rows.len()
            ),
        });
    }
    if !summary.rejected_rows.is_sorted_by(|a, b| a < b)
        || summary
            .rejected_rows
            .last()
            .is_some_and(|r| u64::from(*r) >= seg.rows)
    {
        return bad("rejected rows are not ascending rows of the row group".into());
    }
    if summary.leaf_count == 0 && summary.index_digest != digest(b"") {
        return bad("index entries without leaves".into());
    }
    let leaves_path = segment_path(batch_id, n, SegmentFile::Leaves);
    let tree_path = segment_path(batch_id, n, SegmentFile::Tree);
    let rejects_path = segment_path(batch_id, n, SegmentFile::Rejects);
    check_digest(&leaves_path, leaves, &summary.leaves_digest)?;
    check_digest(&tree_path, tree, &summary.tree_digest)?;
    check_digest(&rejects_path, rejects, &summary.rejects_digest)?;
    if let Some(index) = index {
        let index_path = segment_path(batch_id, n, SegmentFile::Index);
        check_index_len(&index_path, index.len() as u64, summary.leaf_count)?;
        check_digest(&index_path, index, &summary.index_digest)?;
    }
    let tree_file = TreeFile::decode(&tree_path, tree)?;
    let root = check_tree(&tree_path, suite, &summary, leaves, &tree_file)?;

    let mut lines = Vec::with_capacity(summary.rejected_rows.len());
    for_each_reject_line(&rejects_path, rejects, |line| {
        let i = lines.len();
        let want_row = summary
            .rejected_rows
            .get(i)
            .map(|r| seg.first_row + u64::from(*r));
        if want_row != Some(line.row) || line.file != source {
            return Err(AnchorError::malformed(
                &rejects_path,
                format!(
                    "line {} is row {} of {}, the summary expects row {want_row:?} of {source}",
                    i + 1,
                    line.row,
                    line.file
                ),
            ));
        }
        lines.push(line);
        Ok(())
    })?;
    if lines.len() as u64 != summary.rows_rejected {
        return Err(AnchorError::Accounting {
            file: source.to_owned(),
            reason: format!(
                "segment {n}: {} rejected rows but {} reject lines",
                summary.rows_rejected,
                lines.len()
            ),
        });
    }
    Ok(CheckedSegment {
        summary_digest: digest(summary_bytes),
        root,
        summary,
        rejects: lines,
    })
}
