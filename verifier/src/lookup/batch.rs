//! One published batch, as lookups need it: its manifest and plan (read
//! once), its anchor receipts (read again every [`ANCHORS_REREAD`] by
//! [`super::Lookup`]), the proof of each non-empty segment's root in the
//! batch tree (computed once), and per segment its summary and stored tree
//! levels (read on first use, and checked then: each level the hash of the
//! one below, up to the manifest's segment root, and that root up to the
//! batch root). A leaf's batch proof then costs one read of its aligned block
//! of 16 leaf hashes, as in `proofmark_anchor::prove_leaf`, and its check a
//! walk from the leaf to the stored node above its block.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use proofmark_anchor::batch_proof::segment_block_proof;
use proofmark_anchor::layout::{self, SegmentFile, segment_path};
use proofmark_anchor::manifest::Manifest;
use proofmark_anchor::segment_files::{
    SegmentSummary, TreeFile, check_levels, decode_leaves, digest, parse_hash, parse_summary,
};
use proofmark_anchor::{AnchorError, verify_leaf_proof};
use proofmark_ingest::{Plan, Store};
use proofmark_merkle::{BatchProof, Hash, InclusionProof, MerkleTree, SuiteId, with_suite};

use super::read::RangeReader;
use crate::error::VerifierError;
use crate::mapped::Mapped;
use crate::report::BatchInfo;

/// A non-empty segment: where its leaves are and its root's proof in the batch tree.
#[derive(Debug, Clone)]
struct SegmentSlot {
    segment: u32,
    first_leaf: u64,
    leaf_count: u64,
    summary_digest: String,
    /// The segment's root, as the manifest gives it.
    root: Hash,
    upper: InclusionProof,
}

/// A segment's summary and stored tree levels, checked against their digests.
#[derive(Debug)]
pub(crate) struct SegmentData {
    /// The summary (`<n>.json`).
    pub summary: SegmentSummary,
    tree: TreeFile,
    /// The store paths of the segment's leaves and tree, formatted once.
    leaves_path: String,
    tree_path: String,
    /// The mapped leaves file, on a local store, once a proof has read it.
    leaves_file: OnceLock<Arc<Mapped>>,
}

/// A leaf's proof, with where its record is.
#[derive(Debug, Clone)]
pub(crate) struct LeafProof {
    /// The stored leaf hash.
    pub leaf_hash: Hash,
    /// The batch proof, checked against the batch root.
    pub proof: BatchProof,
    /// The segment's summary and tree.
    pub segment: Arc<SegmentData>,
    /// The leaf's index in its segment.
    pub leaf_in_segment: u64,
}

/// A published batch, loaded.
#[derive(Debug)]
pub(crate) struct BatchContext {
    /// The batch id.
    pub batch_id: Arc<str>,
    /// The hash suite.
    pub suite: SuiteId,
    /// The batch root.
    pub root: Hash,
    /// What reports show about the batch.
    pub info: BatchInfo,
    /// [`BatchContext::info`]'s JSON (SPEC.md 11.1's batch object).
    pub info_json: Vec<u8>,
    /// The plan (input files and segments).
    pub plan: Plan,
    slots: Vec<SegmentSlot>,
    segments: Mutex<HashMap<u32, Arc<SegmentData>>>,
    /// When the store's receipts were last read ([`clock_ms`]).
    anchors_read_at: AtomicU64,
}

/// Milliseconds since the first call in this process.
fn clock_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    u64::try_from(START.get_or_init(Instant::now).elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// How often a loaded batch's receipts are read again by default: a batch
/// anchored on another chain after it was published (or re-anchored after a
/// reorg) shows its new receipts within this long, without a restart.
pub const ANCHORS_REREAD: Duration = Duration::from_secs(10);

impl BatchContext {
    /// Loads batch `batch_id`: manifest (whose digest must be `manifest_digest`,
    /// the one published), plan (checked against the manifest), receipts, and
    /// the segment roots' proofs.
    pub async fn load(
        store: &Store,
        batch_id: &str,
        manifest_digest: &str,
    ) -> Result<Self, VerifierError> {
        let (manifest, digest_now) = proofmark_anchor::load_manifest(store, batch_id).await?;
        if digest_now != manifest_digest {
            return Err(VerifierError::BatchRewritten {
                batch_id: batch_id.to_owned(),
                published: manifest_digest.to_owned(),
                stored: digest_now,
            });
        }
        let plan = load_plan(store, batch_id, &manifest).await?;
        let anchors = load_anchors(store, batch_id).await?;
        let suite = manifest.suite;
        let root = manifest.root_hash()?;
        let non_empty: Vec<_> = manifest.non_empty_segments().collect();
        let roots = non_empty
            .iter()
            .map(|s| parse_hash("manifest.json", s.root.as_deref().unwrap_or_default()))
            .collect::<Result<Vec<Hash>, _>>()?;
        let count = roots.len() as u64;
        let uppers: Vec<InclusionProof> = if roots.is_empty() {
            Vec::new()
        } else {
            with_suite!(suite, S => {
                let tree = MerkleTree::<S>::from_leaf_hashes(roots.clone()).map_err(AnchorError::from)?;
                // Once per batch: the segment roots lead to the batch root,
                // so each upper proof below does.
                if tree.root() != root {
                    return Err(VerifierError::integrity(
                        batch_id,
                        0,
                        "the manifest's segment roots do not lead to its root",
                    ));
                }
                (0..count)
                    .map(|i| tree.inclusion_proof(i))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(AnchorError::from)?
            })
        };
        let slots = non_empty
            .iter()
            .zip(uppers)
            .zip(&roots)
            .map(|((s, upper), &seg_root)| SegmentSlot {
                segment: s.segment,
                first_leaf: s.first_leaf,
                leaf_count: s.leaf_count,
                summary_digest: s.summary_digest.clone(),
                root: seg_root,
                upper,
            })
            .collect();
        let info = BatchInfo {
            suite: suite.name().to_owned(),
            root: manifest.root.clone(),
            leaf_count: manifest.leaf_count,
            manifest_digest: manifest_digest.to_owned(),
            batch_date: manifest.batch_date.clone(),
            anchors,
        };
        let mut info_json = Vec::new();
        info.write_json(&mut info_json);
        Ok(BatchContext {
            batch_id: Arc::from(batch_id),
            suite,
            root,
            info,
            info_json,
            plan,
            slots,
            segments: Mutex::new(HashMap::new()),
            anchors_read_at: AtomicU64::new(clock_ms()),
        })
    }

    /// Whether the receipts are due to be read again (`every` since they
    /// were last read); `true` once per period, to one caller.
    pub fn anchors_due(&self, every: Duration) -> bool {
        let now = clock_ms();
        let read = self.anchors_read_at.load(Ordering::Relaxed);
        let every = u64::try_from(every.as_millis()).unwrap_or(u64::MAX);
        now.saturating_sub(read) >= every
            && self
                .anchors_read_at
                .compare_exchange(read, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// The store's receipts of the batch now, when they differ from the
    /// loaded ones.
    ///
    /// # Errors
    ///
    /// Store and parse errors of the receipts.
    pub async fn changed_anchors(
        &self,
        store: &Store,
    ) -> Result<Option<BTreeMap<String, serde_json::Value>>, VerifierError> {
        let anchors = load_anchors(store, &self.batch_id).await?;
        Ok((anchors != self.info.anchors).then_some(anchors))
    }

    /// The same batch with the receipts `anchors` (the segments loaded so
    /// far are shared).
    pub fn with_anchors(&self, anchors: BTreeMap<String, serde_json::Value>) -> BatchContext {
        let info = BatchInfo {
            anchors,
            ..self.info.clone()
        };
        let mut info_json = Vec::new();
        info.write_json(&mut info_json);
        let segments = self
            .segments
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        BatchContext {
            batch_id: Arc::clone(&self.batch_id),
            suite: self.suite,
            root: self.root,
            info,
            info_json,
            plan: self.plan.clone(),
            slots: self.slots.clone(),
            segments: Mutex::new(segments),
            anchors_read_at: AtomicU64::new(clock_ms()),
        }
    }

    /// The proof of global leaf `leaf_index`, checked against the batch root.
    ///
    /// # Errors
    ///
    /// [`VerifierError::Integrity`] when the stored files do not lead to the
    /// batch root; store and parse errors.
    pub async fn prove(
        &self,
        store: &Store,
        reader: &RangeReader,
        leaf_index: u64,
    ) -> Result<LeafProof, VerifierError> {
        let integrity =
            |reason: String| VerifierError::integrity(&self.batch_id, leaf_index, reason);
        let pos = self
            .slots
            .partition_point(|s| s.first_leaf + s.leaf_count <= leaf_index);
        let slot = self
            .slots
            .get(pos)
            .filter(|s| s.first_leaf <= leaf_index)
            .ok_or_else(|| integrity(format!("the batch has {} leaves", self.info.leaf_count)))?;
        let data = self.segment(store, slot).await?;
        let tree = &data.tree;
        let n = slot.leaf_count;
        let local = leaf_index - slot.first_leaf;
        let block_len = 1u64 << tree.lowest_height;
        let b0 = local / block_len * block_len;
        let b1 = (b0 + block_len).min(n);
        let leaves_path = &data.leaves_path;
        let block = reader
            .with_range(
                store,
                leaves_path,
                &data.leaves_file,
                b0 * 32..b1 * 32,
                |raw| decode_leaves(leaves_path, raw),
            )
            .await??;
        if block.len() as u64 != b1 - b0 {
            return Err(integrity(format!(
                "{leaves_path} is shorter than its leaf count"
            )));
        }
        let leaf_hash = block[(local - b0) as usize];
        let suite = self.suite;
        let stored = segment_block_proof(suite, tree, &block, b0, local, &data.tree_path)
            .map_err(|e| integrity(format!("the stored tree cannot prove the leaf ({e})")))?;
        let proof = BatchProof::new(stored.proof, slot.upper.clone());
        // The stored levels were checked when the segment was loaded: each
        // the hash of the one below, up to the segment root, which leads to
        // the batch root. So the leaf leads to the batch root exactly when its
        // block's leaves hash to the stored node above the block; the rest of
        // the walk would combine the same, already checked, nodes.
        match tree.levels.first() {
            Some(level) => {
                if level.get(stored.block_index as usize) != Some(&stored.block_root) {
                    return Err(integrity(
                        "the stored leaves do not lead to the stored tree level above them \
                         (nor to the batch root)"
                            .to_owned(),
                    ));
                }
            }
            None => verify_leaf_proof(suite, &leaf_hash, &proof, &self.root).map_err(|e| {
                integrity(format!(
                    "the stored leaf and tree levels do not lead to the batch root ({e})"
                ))
            })?,
        }
        Ok(LeafProof {
            leaf_hash,
            proof,
            segment: data,
            leaf_in_segment: local,
        })
    }

    /// Non-empty segments of the batch, in leaf order.
    pub fn segment_count(&self) -> usize {
        self.slots.len()
    }

    /// The `i`-th non-empty segment (in leaf order): its first global leaf,
    /// its summary, and its stored leaf hashes, checked against the
    /// summary's digest.
    ///
    /// # Errors
    ///
    /// [`VerifierError::Integrity`] when a file does not match its digest;
    /// store and parse errors.
    pub async fn segment_leaves(
        &self,
        store: &Store,
        reader: &RangeReader,
        i: usize,
    ) -> Result<(u64, Arc<SegmentData>, Vec<Hash>), VerifierError> {
        let slot = self.slots.get(i).ok_or_else(|| {
            VerifierError::integrity(&self.batch_id, 0, format!("no segment slot {i}"))
        })?;
        let data = self.segment(store, slot).await?;
        let path = &data.leaves_path;
        let raw = reader.read(store, path, 0..slot.leaf_count * 32).await?;
        if digest(&raw) != data.summary.leaves_digest {
            return Err(VerifierError::integrity(
                &self.batch_id,
                slot.first_leaf,
                format!("{path} does not match its segment's summary"),
            ));
        }
        let leaves = decode_leaves(path, &raw)?;
        Ok((slot.first_leaf, data, leaves))
    }

    /// The summary and tree of a segment, from the cache or the store.
    async fn segment(
        &self,
        store: &Store,
        slot: &SegmentSlot,
    ) -> Result<Arc<SegmentData>, VerifierError> {
        if let Some(d) = self.lock_segments().get(&slot.segment) {
            return Ok(Arc::clone(d));
        }
        let summary_path = segment_path(&self.batch_id, slot.segment, SegmentFile::Summary);
        let bytes = get_required(store, &summary_path).await?;
        let bad = |what: &str| {
            VerifierError::integrity(
                &self.batch_id,
                slot.first_leaf,
                format!("{what} does not match the manifest"),
            )
        };
        if digest(&bytes) != slot.summary_digest {
            return Err(bad(&summary_path));
        }
        let summary = parse_summary(&summary_path, &bytes)?;
        let tree_path = segment_path(&self.batch_id, slot.segment, SegmentFile::Tree);
        let tree_bytes = get_required(store, &tree_path).await?;
        if digest(&tree_bytes) != summary.tree_digest {
            return Err(bad(&tree_path));
        }
        let tree = TreeFile::decode(&tree_path, &tree_bytes)?;
        if tree.leaf_count != slot.leaf_count
            || summary.leaf_count != slot.leaf_count
            || tree.suite != self.suite
            || !(1..=32).contains(&tree.lowest_height)
        {
            return Err(bad(&tree_path));
        }
        // Once per segment: the stored levels hash up to the manifest's
        // segment root (which leads to the batch root, checked when the
        // batch was loaded), so that a lookup only needs its leaf's path up
        // to the lowest stored level.
        let not_root =
            |reason: String| VerifierError::integrity(&self.batch_id, slot.first_leaf, reason);
        if let Some(top) = check_levels(&tree_path, &tree)
            .map_err(|e| not_root(format!("the stored tree does not check ({e})")))?
            && top != slot.root
        {
            return Err(not_root(format!(
                "{tree_path}'s root is not the manifest's segment root"
            )));
        }
        let data = Arc::new(SegmentData {
            summary,
            tree,
            leaves_path: segment_path(&self.batch_id, slot.segment, SegmentFile::Leaves),
            tree_path,
            leaves_file: OnceLock::new(),
        });
        self.lock_segments().insert(slot.segment, Arc::clone(&data));
        Ok(data)
    }

    fn lock_segments(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Arc<SegmentData>>> {
        // A panic while holding the lock leaves a consistent map: use it.
        self.segments
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The 0-based row of a segment's file that holds leaf `local`: leaf `i` is
/// the `i`-th row of the row group not in `rejected_rows` (SPEC.md 8.2).
pub(crate) fn row_of_leaf(summary: &SegmentSummary, local: u64) -> u64 {
    let mut row = local;
    for &r in &summary.rejected_rows {
        if u64::from(r) <= row {
            row += 1;
        } else {
            break;
        }
    }
    row
}

async fn get_required(store: &Store, path: &str) -> Result<bytes::Bytes, VerifierError> {
    store
        .get(path)
        .await
        .map_err(|e| VerifierError::store(path, e))?
        .ok_or_else(|| AnchorError::malformed(path, "missing").into())
}

/// The batch's plan, checked against the manifest's plan digest.
async fn load_plan(
    store: &Store,
    batch_id: &str,
    manifest: &Manifest,
) -> Result<Plan, VerifierError> {
    let path = layout::plan_path(batch_id);
    let bytes = get_required(store, &path).await?;
    if digest(&bytes) != manifest.plan_digest {
        return Err(VerifierError::integrity(
            batch_id,
            0,
            format!("{path} does not match the manifest's plan digest"),
        ));
    }
    let plan: Plan = serde_json::from_slice(&bytes).map_err(|source| VerifierError::Json {
        path: path.clone(),
        source,
    })?;
    plan.check(&path)
        .map_err(|e| VerifierError::store(&path, e))?;
    Ok(plan)
}

/// Every stored receipt of the batch, by chain name.
async fn load_anchors(
    store: &Store,
    batch_id: &str,
) -> Result<BTreeMap<String, serde_json::Value>, VerifierError> {
    let prefix = format!("{}/anchors", layout::batch_prefix(batch_id));
    let listing = store
        .list(&prefix)
        .await
        .map_err(|e| VerifierError::store(&prefix, e))?;
    let mut anchors = BTreeMap::new();
    for object in listing {
        let Some(chain) = object
            .path
            .strip_prefix(&format!("{prefix}/"))
            .and_then(|name| name.strip_suffix(".json"))
        else {
            continue;
        };
        if chain.contains('/') {
            continue;
        }
        let bytes = get_required(store, &object.path).await?;
        let value = serde_json::from_slice(&bytes).map_err(|source| VerifierError::Json {
            path: object.path.clone(),
            source,
        })?;
        anchors.insert(chain.to_owned(), value);
    }
    Ok(anchors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_skip_rejected_ones() {
        let summary: SegmentSummary = serde_json::from_value(serde_json::json!({
            "segment": 0, "file": 0, "row_group": 0, "first_row": 0, "rows_read": 10,
            "rows_accepted": 6, "rows_rejected": 4, "leaf_count": 6, "root": null,
            "rejected_rows": [0, 2, 3, 7], "input_digest": "", "leaves_digest": "",
            "tree_digest": "", "index_digest": "", "rejects_digest": "", "reasons": {}
        }))
        .expect("a summary");
        let rows: Vec<u64> = (0..6).map(|i| row_of_leaf(&summary, i)).collect();
        assert_eq!(rows, vec![1, 4, 5, 6, 8, 9]);
    }
}
