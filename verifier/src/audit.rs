//! The batch audit: recomputes a committed batch from its inputs and
//! compares every stored output with the recomputation.
//!
//! Every segment is re-read from the batch's inputs, re-validated,
//! re-encoded and re-hashed with the pipeline's own segment processing
//! (`proofmark_ingest::process_segment`, `proofmark_anchor::encode_segment`:
//! the same computation, so a difference is a difference of the *stored*
//! files, not of two implementations); the recomputed leaves, segment tree,
//! index entries, rejects and summary are compared with the stored
//! `segments/<n>.*` files, the recomputed segment roots, counts, batch root
//! and index digest with the manifest, and the manifest's commitment with
//! every anchor receipt. Mismatches name the segment, and for leaves the
//! global leaf index, the input file and the row.
//!
//! Memory: one segment's rows per segment in flight, plus the batch's index
//! entries (24 bytes per subject of an accepted record) to recompute the
//! index digest.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::{StreamExt as _, TryStreamExt as _, stream};
use proofmark_anchor::layout::{self, SegmentFile, segment_path};
use proofmark_anchor::manifest::Manifest;
use proofmark_anchor::segment_files::{EncodedSegment, decode_leaves, digest, encode_segment};
use proofmark_anchor::{AnchorError, load_manifest};
use proofmark_ingest::digest::digest_file;
use proofmark_ingest::fetch::file_location;
use proofmark_ingest::{IngestError, Plan, Store, fetch_segment, process_segment};
use proofmark_merkle::{Hash, root_from_leaf_hashes, with_suite};
use serde::Serialize;
use serde_json::Value;

use crate::error::error_chain;
use crate::report::BatchInfo;
use crate::verify::{BatchVerdict, CheckKind, CheckStatus, Trust, verify_batch_anchors};

/// Errors that stop an audit (as opposed to mismatches, which it reports).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The batch has no manifest.
    #[error("batch {0} is not committed (no manifest)")]
    NotCommitted(String),
    /// The store failed.
    #[error("store object {path}: {source}")]
    Store {
        /// The object.
        path: String,
        /// The cause.
        #[source]
        source: Box<IngestError>,
    },
    /// A segment's input could not be processed for a reason other than a
    /// changed input (e.g. the store failed while reading it).
    #[error("segment {segment}: {source}")]
    Segment {
        /// The segment.
        segment: u32,
        /// The cause.
        #[source]
        source: Box<IngestError>,
    },
    /// A stored object needed to start is unreadable.
    #[error(transparent)]
    Anchor(Box<AnchorError>),
    /// A worker thread failed.
    #[error("audit worker failed: {0}")]
    Task(String),
}

/// What differs, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MismatchKind {
    /// `manifest.json` is missing or not a manifest while the batch has anchor receipts, or
    /// its bytes are not the manifest the receipts commit to: nothing else can be compared.
    Manifest,
    /// `plan.json` is missing, not a plan, or not the plan the manifest commits to, or the
    /// manifest is inconsistent with it.
    Plan,
    /// An input file changed or vanished since the plan (its size or whole-file digest is not
    /// the plan's), or a segment's input changed so that it cannot be recomputed.
    InputChanged,
    /// A stored segment file is missing.
    MissingFile,
    /// A stored leaf differs from the leaf recomputed from its row.
    Leaf,
    /// The stored `.leaves` has another number of leaves.
    LeafCount,
    /// The stored `.tree` differs from the tree rebuilt from the recomputed leaves.
    Tree,
    /// The stored `.index` differs from the recomputed index entries.
    Index,
    /// The stored `.rejects.jsonl` differs from the recomputed rejects.
    Rejects,
    /// A field of the stored segment summary differs.
    Summary,
    /// The manifest's entry of a segment differs (leaf count, first leaf, root, summary digest).
    ManifestSegment,
    /// The manifest's batch root differs from the root over the recomputed segment roots.
    BatchRoot,
    /// A manifest count (rows, leaves, per file) differs from the recomputation.
    Counts,
    /// `index/entries.bin` or the manifest's index digest differs.
    BatchIndex,
    /// `rejects.parquet` differs from the manifest's digest.
    RejectsFile,
    /// An anchor receipt does not commit to the manifest, or does not verify.
    Anchor,
}

/// One difference between the stored batch and its recomputation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// What differs.
    pub kind: MismatchKind,
    /// The segment, when it is about one.
    pub segment: Option<u32>,
    /// The global leaf index, when it is about one leaf.
    pub leaf: Option<u64>,
    /// The input file (its source URL), when known.
    pub file: Option<String>,
    /// The 0-based row in that file, when it is about one row.
    pub row: Option<u64>,
    /// What is stored.
    pub stored: Option<String>,
    /// What the recomputation gives.
    pub recomputed: Option<String>,
    /// A sentence for people.
    pub message: String,
}

impl Mismatch {
    fn new(kind: MismatchKind, message: impl Into<String>) -> Self {
        Mismatch {
            kind,
            segment: None,
            leaf: None,
            file: None,
            row: None,
            stored: None,
            recomputed: None,
            message: message.into(),
        }
    }

    fn segment(mut self, segment: u32) -> Self {
        self.segment = Some(segment);
        self
    }

    fn values(mut self, stored: impl Into<String>, recomputed: impl Into<String>) -> Self {
        self.stored = Some(stored.into());
        self.recomputed = Some(recomputed.into());
        self
    }
}

/// Settings of [`audit_batch`].
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// Segments fetched and processed at once (at least 1).
    pub segments_in_flight: usize,
    /// Leaf mismatches listed per segment; more are counted in one entry.
    pub max_leaf_mismatches_per_segment: usize,
    /// Keys and chain readers for the anchor receipts.
    pub trust: Trust,
}

impl From<AnchorError> for AuditError {
    fn from(e: AnchorError) -> Self {
        AuditError::Anchor(Box::new(e))
    }
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            segments_in_flight: 4,
            max_leaf_mismatches_per_segment: 100,
            trust: Trust::new(),
        }
    }
}

/// Progress of an audit, after each segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditProgress {
    /// Segments compared so far.
    pub segments_done: u64,
    /// Segments in the batch.
    pub segments_total: u64,
    /// Rows re-read so far.
    pub rows_done: u64,
    /// Rows in the batch's inputs.
    pub rows_total: u64,
}

/// The outcome of an audit.
#[derive(Debug, Clone, Serialize)]
pub struct BatchAudit {
    /// The batch.
    pub batch_id: String,
    /// True when nothing differs, every anchor check that was made passed and none
    /// could not be made.
    pub passed: bool,
    /// The manifest's root.
    pub root: String,
    /// The manifest's leaf count.
    pub leaf_count: u64,
    /// Segments in the plan.
    pub segments: u64,
    /// Segments recomputed and compared.
    pub segments_checked: u64,
    /// Rows re-read.
    pub rows_read: u64,
    /// Leaves recomputed.
    pub leaves_recomputed: u64,
    /// The batch root over the recomputed segment roots (when every segment was recomputed).
    pub recomputed_root: Option<String>,
    /// Every difference found.
    pub mismatches: Vec<Mismatch>,
    /// Checks that could not be made (e.g. a chain that could not be read): errors, not
    /// differences; the batch is neither shown tampered nor shown intact by them.
    pub errors: Vec<String>,
    /// The anchor receipts' checks.
    pub anchors: BatchVerdict,
}

/// What one segment's recomputation gave.
struct SegmentOutcome {
    segment: u32,
    file: u32,
    rows_read: u64,
    rows_accepted: u64,
    rows_rejected: u64,
    /// `None` when the input changed: the segment could not be recomputed.
    encoded: Option<EncodedSegment>,
    mismatches: Vec<Mismatch>,
}

async fn get(store: &Store, path: &str) -> Result<Option<bytes::Bytes>, AuditError> {
    store.get(path).await.map_err(|source| AuditError::Store {
        path: path.to_owned(),
        source: Box::new(source),
    })
}

/// Recomputes committed batch `batch_id` from its inputs and compares; see
/// the module docs.
///
/// # Errors
///
/// [`AuditError`] when the audit cannot run (no manifest and no receipt: the store holds
/// no such batch; the store failing); differences, a missing or damaged manifest or plan
/// among them, are not errors but [`BatchAudit::mismatches`].
pub async fn audit_batch(
    store: &Store,
    batch_id: &str,
    opts: &AuditOptions,
    progress: &(dyn Fn(AuditProgress) + Sync),
) -> Result<BatchAudit, AuditError> {
    let (manifest, manifest_digest) = match load_manifest(store, batch_id).await {
        Ok(m) => m,
        Err(AnchorError::NotCommitted { .. }) => {
            // Gone, but anchored: the batch was committed, and its manifest removed since.
            let receipts = read_receipts(store, batch_id).await?;
            if receipts.is_empty() {
                return Err(AuditError::NotCommitted(batch_id.to_owned()));
            }
            return Ok(damaged_manifest(
                batch_id,
                None,
                "manifest.json is missing, but the batch has anchor receipts".into(),
                &receipts,
            ));
        }
        Err(e @ (AnchorError::Json { .. } | AnchorError::Malformed { .. })) => {
            // Readable but not a manifest: tampered or damaged, a difference (its receipts
            // commit to the digest of the manifest that was anchored).
            let bytes = get(store, &layout::manifest_path(batch_id))
                .await?
                .unwrap_or_default();
            let receipts = read_receipts(store, batch_id).await?;
            return Ok(damaged_manifest(
                batch_id,
                Some(digest(&bytes)),
                format!("manifest.json is not a valid manifest: {}", error_chain(&e)),
                &receipts,
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let mut mismatches = Vec::new();
    if manifest.batch_id != batch_id {
        mismatches.push(
            Mismatch::new(MismatchKind::Plan, "the manifest names another batch")
                .values(manifest.batch_id.clone(), batch_id),
        );
    }
    let plan_path = layout::plan_path(batch_id);
    // A plan that is gone, or damaged (or replaced), is a difference of the stored batch, as
    // a damaged manifest is; its receipts are still checked.
    let plan: Result<Plan, String> = match get(store, &plan_path).await? {
        None => Err(format!(
            "{plan_path} is missing: the batch cannot be recomputed without the plan the \
             manifest commits to ({})",
            manifest.plan_digest
        )),
        Some(plan_bytes) => {
            let plan_digest = digest(&plan_bytes);
            if plan_digest != manifest.plan_digest {
                mismatches.push(
                    Mismatch::new(
                        MismatchKind::Plan,
                        "plan.json is not the plan the manifest commits to",
                    )
                    .values(manifest.plan_digest.clone(), plan_digest),
                );
            }
            serde_json::from_slice(&plan_bytes).map_err(|e| {
                format!("{plan_path} is not a valid plan ({e}): the batch cannot be recomputed")
            })
        }
    };
    let plan = match plan {
        Ok(plan) => plan,
        Err(reason) => {
            mismatches.push(Mismatch::new(MismatchKind::Plan, reason));
            return unrecomputable(
                store,
                batch_id,
                &manifest,
                &manifest_digest,
                opts,
                mismatches,
            )
            .await;
        }
    };
    if plan.suite != manifest.suite {
        mismatches.push(
            Mismatch::new(
                MismatchKind::Plan,
                "the plan and the manifest name other suites",
            )
            .values(manifest.suite.to_string(), plan.suite.to_string()),
        );
    }
    let plan_numbers: Vec<u32> = plan.segments.iter().map(|s| s.segment).collect();
    let manifest_numbers: Vec<u32> = manifest.segments.iter().map(|s| s.segment).collect();
    if plan_numbers != manifest_numbers {
        mismatches.push(Mismatch::new(
            MismatchKind::Plan,
            format!(
                "the manifest lists {} segments, the plan {}",
                manifest_numbers.len(),
                plan_numbers.len()
            ),
        ));
    }

    // Every input file whole, against the plan's size and digest: bytes that no segment
    // reads (page indexes, padding) are committed by the plan's digest too.
    let changed_files = check_input_files(store, &plan, opts, &mut mismatches).await?;

    let plan = Arc::new(plan);
    let changed_files = Arc::new(changed_files);
    let segments_total = plan.segments.len() as u64;
    let rows_total: u64 = plan.segments.iter().map(|s| s.rows).sum();
    let segments_done = AtomicU64::new(0);
    let rows_done = AtomicU64::new(0);
    let max_leaves = opts.max_leaf_mismatches_per_segment;
    let outcomes: Vec<SegmentOutcome> = stream::iter(plan.segments.clone())
        .map(|seg| {
            let plan = Arc::clone(&plan);
            let changed_files = Arc::clone(&changed_files);
            let segments_done = &segments_done;
            let rows_done = &rows_done;
            async move {
                let changed = changed_files.get(&seg.file).copied();
                let out =
                    audit_segment(store, batch_id, plan, seg.segment, changed, max_leaves).await?;
                let s = segments_done.fetch_add(1, Ordering::Relaxed) + 1;
                let r = rows_done.fetch_add(seg.rows, Ordering::Relaxed) + seg.rows;
                progress(AuditProgress {
                    segments_done: s,
                    segments_total,
                    rows_done: r,
                    rows_total,
                });
                Ok::<_, AuditError>(out)
            }
        })
        .buffered(opts.segments_in_flight.max(1))
        .try_collect()
        .await?;

    let recomputed_root = compare_batch(
        store,
        batch_id,
        &manifest,
        &plan,
        &outcomes,
        &mut mismatches,
    )
    .await?;
    // Leaf mismatches carry the segment-local index until here: make it global.
    let mut first_leaf = 0u64;
    for o in &outcomes {
        for m in &o.mismatches {
            let mut m = m.clone();
            if m.kind == MismatchKind::Leaf {
                m.leaf = m.leaf.map(|l| l + first_leaf);
            }
            mismatches.push(m);
        }
        first_leaf += leaves_of(o, &manifest);
    }
    mismatches.sort_by_key(|m| (m.segment.is_some(), m.segment, m.leaf, m.kind));

    // Anchors: every receipt must commit to this manifest and verify.
    let anchors = audit_anchors(store, batch_id, &manifest, &manifest_digest, opts).await?;
    let errors = anchor_outcome(&anchors, &mut mismatches);

    let leaves_recomputed = outcomes
        .iter()
        .filter(|o| o.encoded.is_some())
        .map(|o| o.rows_accepted)
        .sum();
    Ok(BatchAudit {
        batch_id: batch_id.to_owned(),
        passed: mismatches.is_empty() && errors.is_empty(),
        root: manifest.root.clone(),
        leaf_count: manifest.leaf_count,
        segments: segments_total,
        segments_checked: outcomes.iter().filter(|o| o.encoded.is_some()).count() as u64,
        rows_read: outcomes.iter().map(|o| o.rows_read).sum(),
        leaves_recomputed,
        recomputed_root: recomputed_root.map(hex::encode),
        mismatches,
        errors,
        anchors,
    })
}

/// Sorts the anchor checks' outcome into differences (pushed onto `mismatches`) and checks
/// that could not be made (returned).
fn anchor_outcome(anchors: &BatchVerdict, mismatches: &mut Vec<Mismatch>) -> Vec<String> {
    let mut errors = Vec::new();
    for (chain, a) in &anchors.anchors {
        for c in &a.checks {
            let Some(why) = c.failure(&format!("receipt {chain}")) else {
                continue;
            };
            if matches!(c.status, CheckStatus::Error { .. }) {
                errors.push(why);
            } else {
                mismatches.push(Mismatch::new(MismatchKind::Anchor, why));
            }
        }
    }
    for c in &anchors.checks {
        if let CheckStatus::Failed { reason } = &c.status {
            if c.check == CheckKind::Anchored && !errors.is_empty() {
                // No anchor checked because a check could not be made: not a difference.
                errors.push(reason.clone());
            } else {
                mismatches.push(Mismatch::new(MismatchKind::Anchor, reason.clone()));
            }
        }
    }
    errors
}

/// The audit of a batch whose manifest reads but whose plan is missing or damaged: nothing
/// can be recomputed, the plan is the difference (in `mismatches`), and the receipts are
/// still checked against the manifest.
async fn unrecomputable(
    store: &Store,
    batch_id: &str,
    manifest: &Manifest,
    manifest_digest: &str,
    opts: &AuditOptions,
    mut mismatches: Vec<Mismatch>,
) -> Result<BatchAudit, AuditError> {
    let anchors = audit_anchors(store, batch_id, manifest, manifest_digest, opts).await?;
    let errors = anchor_outcome(&anchors, &mut mismatches);
    Ok(BatchAudit {
        batch_id: batch_id.to_owned(),
        passed: false,
        root: manifest.root.clone(),
        leaf_count: manifest.leaf_count,
        segments: manifest.segments.len() as u64,
        segments_checked: 0,
        rows_read: 0,
        leaves_recomputed: 0,
        recomputed_root: None,
        mismatches,
        errors,
        anchors,
    })
}

fn is_changed_input(e: &IngestError) -> bool {
    matches!(
        e,
        IngestError::Vanished { .. }
            | IngestError::DigestMismatch { .. }
            | IngestError::ChangedSincePlan { .. }
    )
}

/// Recomputes one segment and compares it with its stored files.
async fn audit_segment(
    store: &Store,
    batch_id: &str,
    plan: Arc<Plan>,
    segment: u32,
    changed: Option<FileChange>,
    max_leaf_mismatches: usize,
) -> Result<SegmentOutcome, AuditError> {
    let seg = plan
        .segment(segment)
        .copied()
        .ok_or_else(|| AuditError::Task(format!("segment {segment} is not in the plan")))?;
    let source = plan
        .file(seg.file)
        .map(|f| f.source.clone())
        .unwrap_or_default();
    let mut outcome = SegmentOutcome {
        segment,
        file: seg.file,
        rows_read: 0,
        rows_accepted: 0,
        rows_rejected: 0,
        encoded: None,
        mismatches: Vec::new(),
    };
    if changed == Some(FileChange::Vanished) {
        // Named once, for the file: nothing of it can be recomputed.
        return Ok(outcome);
    }
    let input = match fetch_segment(store, &plan, segment).await {
        Ok(i) => i,
        // A changed file that no longer reads (e.g. a damaged footer) is the change the
        // file's digest already showed, not a failure to audit.
        Err(e) if is_changed_input(&e) || changed.is_some() => {
            let mut m = Mismatch::new(MismatchKind::InputChanged, e.to_string()).segment(segment);
            m.file = Some(source);
            outcome.mismatches.push(m);
            return Ok(outcome);
        }
        Err(source) => {
            return Err(AuditError::Segment {
                segment,
                source: Box::new(source),
            });
        }
    };
    let suite = plan.suite;
    let plan_cpu = Arc::clone(&plan);
    let encoded = tokio::task::spawn_blocking(move || {
        process_segment(&plan_cpu, &input)
            .map_err(|source| AuditError::Segment {
                segment,
                source: Box::new(source),
            })
            .and_then(|r| encode_segment(suite, r).map_err(AuditError::from))
    })
    .await
    .map_err(|e| AuditError::Task(e.to_string()))?;
    let encoded = match encoded {
        Ok(e) => e,
        Err(AuditError::Segment { source, .. })
            if is_changed_input(&source) || changed.is_some() =>
        {
            let mut m =
                Mismatch::new(MismatchKind::InputChanged, source.to_string()).segment(segment);
            m.file = Some(
                plan.file(seg.file)
                    .map(|f| f.source.clone())
                    .unwrap_or_default(),
            );
            outcome.mismatches.push(m);
            return Ok(outcome);
        }
        Err(e) => return Err(e),
    };
    outcome.rows_read = encoded.summary.rows_read;
    outcome.rows_accepted = encoded.summary.rows_accepted;
    outcome.rows_rejected = encoded.summary.rows_rejected;

    let path = |f: SegmentFile| segment_path(batch_id, segment, f);
    let read = |f: SegmentFile| {
        let p = path(f);
        async move { get(store, &p).await.map(|b| (p, b)) }
    };
    let (summary_path, summary) = read(SegmentFile::Summary).await?;
    let (leaves_path, leaves) = read(SegmentFile::Leaves).await?;
    let (tree_path, tree) = read(SegmentFile::Tree).await?;
    let (index_path, index) = read(SegmentFile::Index).await?;
    let (rejects_path, rejects) = read(SegmentFile::Rejects).await?;
    let m = &mut outcome.mismatches;
    let missing = |p: &str| {
        Mismatch::new(MismatchKind::MissingFile, format!("{p} is missing")).segment(segment)
    };

    // Leaves, one by one, naming the row of each differing leaf.
    match leaves {
        None => m.push(missing(&leaves_path)),
        Some(bytes) => {
            let recomputed = decode_leaves(&leaves_path, &encoded.leaves)?;
            match decode_leaves(&leaves_path, &bytes) {
                Err(e) => {
                    m.push(Mismatch::new(MismatchKind::LeafCount, e.to_string()).segment(segment))
                }
                Ok(stored) => {
                    if stored.len() != recomputed.len() {
                        m.push(
                            Mismatch::new(
                                MismatchKind::LeafCount,
                                format!("{leaves_path} holds another number of leaves"),
                            )
                            .segment(segment)
                            .values(stored.len().to_string(), recomputed.len().to_string()),
                        );
                    }
                    let rows = accepted_rows(&encoded.summary.rejected_rows, seg.rows);
                    let mut listed = 0usize;
                    let mut unlisted = 0usize;
                    for (i, (s, r)) in stored.iter().zip(&recomputed).enumerate() {
                        if s == r {
                            continue;
                        }
                        if listed == max_leaf_mismatches {
                            unlisted += 1;
                            continue;
                        }
                        listed += 1;
                        let row = rows.get(i).map(|&r| seg.first_row + r);
                        m.push(Mismatch {
                            kind: MismatchKind::Leaf,
                            segment: Some(segment),
                            leaf: Some(i as u64),
                            file: Some(source.clone()),
                            row,
                            stored: Some(hex::encode(s)),
                            recomputed: Some(hex::encode(r)),
                            message: format!(
                                "leaf {i} of segment {segment} (row {} of {source}) differs from its record",
                                row.map_or_else(|| "?".to_owned(), |r| r.to_string())
                            ),
                        });
                    }
                    if unlisted > 0 {
                        m.push(
                            Mismatch::new(
                                MismatchKind::Leaf,
                                format!("{unlisted} more leaves of segment {segment} differ"),
                            )
                            .segment(segment),
                        );
                    }
                }
            }
        }
    }
    for (kind, p, stored, recomputed) in [
        (MismatchKind::Tree, &tree_path, tree, &encoded.tree),
        (MismatchKind::Index, &index_path, index, &encoded.index),
        (
            MismatchKind::Rejects,
            &rejects_path,
            rejects,
            &encoded.rejects,
        ),
    ] {
        match stored {
            None => m.push(missing(p)),
            Some(b) if b != *recomputed => m.push(
                Mismatch::new(kind, format!("{p} differs from the recomputation"))
                    .segment(segment)
                    .values(digest(&b), digest(recomputed)),
            ),
            Some(_) => {}
        }
    }
    match summary {
        None => m.push(missing(&summary_path)),
        Some(b) if b != encoded.summary_bytes => {
            let stored: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
            let recomputed = serde_json::to_value(&encoded.summary).unwrap_or(Value::Null);
            let mut named = false;
            if let (Some(s), Some(r)) = (stored.as_object(), recomputed.as_object()) {
                for (k, rv) in r {
                    let sv = s.get(k).unwrap_or(&Value::Null);
                    if sv != rv {
                        named = true;
                        m.push(
                            Mismatch::new(
                                MismatchKind::Summary,
                                format!("{summary_path}: {k} differs"),
                            )
                            .segment(segment)
                            .values(sv.to_string(), rv.to_string()),
                        );
                    }
                }
            }
            if !named {
                m.push(
                    Mismatch::new(
                        MismatchKind::Summary,
                        format!("{summary_path} differs from the recomputation"),
                    )
                    .segment(segment)
                    .values(digest(&b), digest(&encoded.summary_bytes)),
                );
            }
        }
        Some(_) => {}
    }
    outcome.encoded = Some(encoded);
    Ok(outcome)
}

/// The rows of a row group of `rows` rows that are not in `rejected`
/// (ascending): leaf `i` is row `accepted_rows[i]`.
fn accepted_rows(rejected: &[u32], rows: u64) -> Vec<u64> {
    let mut out = Vec::with_capacity(rows as usize - rejected.len().min(rows as usize));
    let mut next = rejected.iter().peekable();
    for r in 0..rows {
        if next.peek().is_some_and(|&&x| u64::from(x) == r) {
            next.next();
        } else {
            out.push(r);
        }
    }
    out
}

/// Compares the manifest with the recomputed segments; returns the batch
/// root over the recomputed segment roots when every segment was recomputed.
async fn compare_batch(
    store: &Store,
    batch_id: &str,
    manifest: &Manifest,
    plan: &Plan,
    outcomes: &[SegmentOutcome],
    mismatches: &mut Vec<Mismatch>,
) -> Result<Option<Hash>, AuditError> {
    let by_number: BTreeMap<u32, &proofmark_anchor::ManifestSegment> =
        manifest.segments.iter().map(|s| (s.segment, s)).collect();
    let mut first_leaf = 0u64;
    let mut roots = Vec::new();
    let mut complete = true;
    let mut entries: Vec<[u8; 24]> = Vec::new();
    let mut per_file: BTreeMap<u32, (u64, u64, u64)> = BTreeMap::new();
    for o in outcomes {
        let Some(enc) = &o.encoded else {
            // Not recomputed: the segments after it are compared at the manifest's
            // positions, so one changed input does not shift every later first_leaf.
            complete = false;
            first_leaf += leaves_of(o, manifest);
            continue;
        };
        let f = per_file.entry(o.file).or_default();
        f.0 += o.rows_read;
        f.1 += o.rows_accepted;
        f.2 += o.rows_rejected;
        let recomputed_root = enc.root.map(hex::encode);
        match by_number.get(&o.segment) {
            None => mismatches.push(
                Mismatch::new(
                    MismatchKind::ManifestSegment,
                    "the manifest does not list it",
                )
                .segment(o.segment),
            ),
            Some(ms) => {
                let summary_path = segment_path(batch_id, o.segment, SegmentFile::Summary);
                let stored_summary_digest = get(store, &summary_path).await?.map(|b| digest(&b));
                let fields = [
                    (
                        "leaf_count",
                        ms.leaf_count.to_string(),
                        o.rows_accepted.to_string(),
                    ),
                    (
                        "first_leaf",
                        ms.first_leaf.to_string(),
                        first_leaf.to_string(),
                    ),
                    (
                        "root",
                        ms.root.clone().unwrap_or_else(|| "null".into()),
                        recomputed_root.clone().unwrap_or_else(|| "null".into()),
                    ),
                    (
                        "summary_digest",
                        ms.summary_digest.clone(),
                        digest(&enc.summary_bytes),
                    ),
                ];
                for (name, stored, recomputed) in fields {
                    if stored != recomputed {
                        mismatches.push(
                            Mismatch::new(
                                MismatchKind::ManifestSegment,
                                format!("the manifest's {name} of segment {} differs", o.segment),
                            )
                            .segment(o.segment)
                            .values(stored, recomputed),
                        );
                    }
                }
                if let Some(d) = stored_summary_digest
                    && d != ms.summary_digest
                {
                    mismatches.push(
                        Mismatch::new(
                            MismatchKind::ManifestSegment,
                            format!("{summary_path} is not the summary the manifest commits to"),
                        )
                        .segment(o.segment)
                        .values(ms.summary_digest.clone(), d),
                    );
                }
            }
        }
        for e in enc.index.chunks_exact(24) {
            let mut entry = [0u8; 24];
            entry.copy_from_slice(e);
            let mut leaf = [0u8; 8];
            leaf.copy_from_slice(&e[16..]);
            let global = u64::from_be_bytes(leaf) + first_leaf;
            entry[16..].copy_from_slice(&global.to_be_bytes());
            entries.push(entry);
        }
        if let Some(r) = enc.root {
            roots.push(r);
        }
        first_leaf += o.rows_accepted;
    }
    if !complete {
        mismatches.push(Mismatch::new(
            MismatchKind::BatchRoot,
            "some segments could not be recomputed: the batch root is not checked",
        ));
        return Ok(None);
    }

    // Counts.
    let totals = [
        (
            "rows_read",
            manifest.rows_read,
            outcomes.iter().map(|o| o.rows_read).sum::<u64>(),
        ),
        ("rows_accepted", manifest.rows_accepted, first_leaf),
        (
            "rows_rejected",
            manifest.rows_rejected,
            outcomes.iter().map(|o| o.rows_rejected).sum(),
        ),
        ("leaf_count", manifest.leaf_count, first_leaf),
    ];
    for (name, stored, recomputed) in totals {
        if stored != recomputed {
            mismatches.push(
                Mismatch::new(
                    MismatchKind::Counts,
                    format!("the manifest's {name} differs"),
                )
                .values(stored.to_string(), recomputed.to_string()),
            );
        }
    }
    for (i, f) in manifest.files.iter().enumerate() {
        let (read, accepted, rejected) = per_file.get(&(i as u32)).copied().unwrap_or_default();
        let source = plan.file(i as u32).map(|p| p.source.clone());
        for (name, stored, recomputed) in [
            ("rows_read", f.rows_read, read),
            ("rows_accepted", f.rows_accepted, accepted),
            ("rows_rejected", f.rows_rejected, rejected),
        ] {
            if stored != recomputed {
                let mut m = Mismatch::new(
                    MismatchKind::Counts,
                    format!("the manifest's {name} of file {} differs", f.source),
                )
                .values(stored.to_string(), recomputed.to_string());
                m.file = source.clone();
                mismatches.push(m);
            }
        }
    }

    // The batch index.
    entries.sort_unstable();
    let mut flat = Vec::with_capacity(entries.len() * 24);
    for e in &entries {
        flat.extend_from_slice(e);
    }
    let recomputed_index = digest(&flat);
    drop(flat);
    if recomputed_index != manifest.index_digest {
        mismatches.push(
            Mismatch::new(
                MismatchKind::BatchIndex,
                "the manifest's index digest differs from the recomputed index",
            )
            .values(manifest.index_digest.clone(), recomputed_index),
        );
    }
    let index_path = layout::index_path(batch_id);
    match get(store, &index_path).await? {
        None => mismatches.push(Mismatch::new(
            MismatchKind::MissingFile,
            format!("{index_path} is missing"),
        )),
        Some(b) if digest(&b) != manifest.index_digest => mismatches.push(
            Mismatch::new(
                MismatchKind::BatchIndex,
                format!("{index_path} is not the index the manifest commits to"),
            )
            .values(digest(&b), manifest.index_digest.clone()),
        ),
        Some(_) => {}
    }
    let rejects_path = layout::rejects_path(batch_id);
    match get(store, &rejects_path).await? {
        None => mismatches.push(Mismatch::new(
            MismatchKind::MissingFile,
            format!("{rejects_path} is missing"),
        )),
        Some(b) if digest(&b) != manifest.rejects_digest => mismatches.push(
            Mismatch::new(
                MismatchKind::RejectsFile,
                format!("{rejects_path} is not the file the manifest commits to"),
            )
            .values(digest(&b), manifest.rejects_digest.clone()),
        ),
        Some(_) => {}
    }

    // The batch root.
    if roots.is_empty() {
        mismatches.push(Mismatch::new(
            MismatchKind::BatchRoot,
            "no segment has a leaf: the batch has no root",
        ));
        return Ok(None);
    }
    let root = with_suite!(manifest.suite, S => root_from_leaf_hashes::<S>(&roots))
        .map_err(|e| AuditError::Task(e.to_string()))?;
    if hex::encode(root) != manifest.root {
        mismatches.push(
            Mismatch::new(
                MismatchKind::BatchRoot,
                "the manifest's root is not the root over the recomputed segment roots",
            )
            .values(manifest.root.clone(), hex::encode(root)),
        );
    }
    Ok(Some(root))
}

/// Checks every stored receipt of the batch against the manifest.
async fn audit_anchors(
    store: &Store,
    batch_id: &str,
    manifest: &Manifest,
    manifest_digest: &str,
    opts: &AuditOptions,
) -> Result<BatchVerdict, AuditError> {
    let anchors = read_receipts(store, batch_id).await?;
    let info = BatchInfo {
        suite: manifest.suite.to_string(),
        root: manifest.root.clone(),
        leaf_count: manifest.leaf_count,
        manifest_digest: manifest_digest.to_owned(),
        batch_date: manifest.batch_date.clone(),
        anchors,
    };
    Ok(verify_batch_anchors(batch_id, &info, &opts.trust))
}

/// The stored receipts of a batch, by chain name (a receipt that is not JSON is `null`).
async fn read_receipts(
    store: &Store,
    batch_id: &str,
) -> Result<BTreeMap<String, Value>, AuditError> {
    let prefix = format!("{}/anchors", layout::batch_prefix(batch_id));
    let listed = store
        .list(&prefix)
        .await
        .map_err(|source| AuditError::Store {
            path: prefix.clone(),
            source: Box::new(source),
        })?;
    let mut anchors = BTreeMap::new();
    for object in listed {
        let Some(name) = object
            .path
            .rsplit('/')
            .next()
            .and_then(|n| n.strip_suffix(".json"))
            .map(str::to_owned)
        else {
            continue;
        };
        let Some(bytes) = get(store, &object.path).await? else {
            continue;
        };
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        anchors.insert(name, value);
    }
    Ok(anchors)
}

/// The audit of a batch whose manifest is gone or unreadable while it has receipts: the
/// manifest is the difference, and each receipt's committed manifest digest is compared
/// with the stored bytes' (`stored_digest`, `None` when there are none).
fn damaged_manifest(
    batch_id: &str,
    stored_digest: Option<String>,
    message: String,
    receipts: &BTreeMap<String, Value>,
) -> BatchAudit {
    let path = layout::manifest_path(batch_id);
    let mut mismatches = vec![Mismatch {
        file: Some(path.clone()),
        ..Mismatch::new(MismatchKind::Manifest, message)
    }];
    for (chain, receipt) in receipts {
        let anchored = receipt
            .get("manifest_digest")
            .and_then(Value::as_str)
            .unwrap_or("(none)");
        if stored_digest.as_deref() != Some(anchored) {
            mismatches.push(
                Mismatch::new(
                    MismatchKind::Anchor,
                    format!("receipt {chain} commits to another {path} than the one stored"),
                )
                .values(
                    stored_digest.clone().unwrap_or_else(|| "(missing)".into()),
                    anchored,
                ),
            );
        }
    }
    BatchAudit {
        batch_id: batch_id.to_owned(),
        passed: false,
        root: String::new(),
        leaf_count: 0,
        segments: 0,
        segments_checked: 0,
        rows_read: 0,
        leaves_recomputed: 0,
        recomputed_root: None,
        mismatches,
        errors: Vec::new(),
        anchors: BatchVerdict {
            passed: false,
            checks: Vec::new(),
            anchors: BTreeMap::new(),
        },
    }
}

/// How an input file differs from the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileChange {
    /// It is gone.
    Vanished,
    /// Its size or whole-file digest is not the plan's.
    Changed,
}

/// Checks every input file's size and whole-file digest against the plan (`opts`'
/// concurrency), pushing one [`MismatchKind::InputChanged`] per changed file; returns the
/// changed files by plan index.
async fn check_input_files(
    store: &Store,
    plan: &Plan,
    opts: &AuditOptions,
    mismatches: &mut Vec<Mismatch>,
) -> Result<BTreeMap<u32, FileChange>, AuditError> {
    let checks: Vec<Option<(u32, FileChange, Mismatch)>> = stream::iter(plan.files.iter())
        .map(|file| async move {
            let store_err = |source: IngestError| AuditError::Store {
                path: file.path.clone(),
                source: Box::new(source),
            };
            let (read_store, path, url) = file_location(store, plan, file).map_err(store_err)?;
            let mismatch = |message: String| {
                let mut m = Mismatch::new(MismatchKind::InputChanged, message);
                m.file = Some(file.source.clone());
                m
            };
            let size = match read_store.head(&path).await.map_err(store_err)? {
                None => {
                    let m = mismatch(format!("input file {url} vanished since the plan"));
                    return Ok(Some((file.index, FileChange::Vanished, m)));
                }
                Some(info) => info.size,
            };
            if size != file.size {
                let m = mismatch(format!("input file {url} changed since the plan: its size"))
                    .values(file.size.to_string(), size.to_string());
                return Ok(Some((file.index, FileChange::Changed, m)));
            }
            let digests =
                match digest_file(&read_store, &path, &url, size, &[], None, None, &|_| {}).await
                {
                    Ok(d) => d,
                    // Changed while it was read.
                    Err(e) if is_changed_input(&e) => {
                        let m = mismatch(e.to_string());
                        return Ok(Some((file.index, FileChange::Changed, m)));
                    }
                    Err(e) => return Err(store_err(e)),
                };
            if digests.file != file.digest {
                let m = mismatch(format!(
                    "input file {url} changed since the plan: its digest (the plan's, then the file's)"
                ))
                .values(file.digest.clone(), digests.file);
                return Ok(Some((file.index, FileChange::Changed, m)));
            }
            Ok::<_, AuditError>(None)
        })
        .buffered(opts.segments_in_flight.max(1))
        .try_collect()
        .await?;
    let mut changed = BTreeMap::new();
    for (index, change, m) in checks.into_iter().flatten() {
        changed.insert(index, change);
        mismatches.push(m);
    }
    Ok(changed)
}

/// The leaves a segment holds: recomputed, or (when it could not be) the manifest's count.
fn leaves_of(o: &SegmentOutcome, manifest: &Manifest) -> u64 {
    if o.encoded.is_some() {
        return o.rows_accepted;
    }
    manifest
        .segments
        .iter()
        .find(|s| s.segment == o.segment)
        .map_or(0, |s| s.leaf_count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_rows_skip_the_rejected() {
        assert_eq!(accepted_rows(&[0, 2, 3, 7], 10), vec![1, 4, 5, 6, 8, 9]);
        assert_eq!(accepted_rows(&[], 3), vec![0, 1, 2]);
        assert_eq!(accepted_rows(&[0, 1, 2], 3), Vec::<u64>::new());
    }
}
