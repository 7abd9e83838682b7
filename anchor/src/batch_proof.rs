//! Proofs from a committed batch's stored outputs: the manifest gives the
//! batch root and the segments' roots, `.tree` the stored upper levels of the
//! leaf's segment, and the leaf's aligned block of 16 leaves in `.leaves` the
//! levels below them. Only those bytes are read.

use proofmark_ingest::Store;
use proofmark_merkle::{
    BatchProof, Hash, InclusionProof, MerkleTree, Suite, SuiteId, VerifyError, shape, with_suite,
};

use crate::error::AnchorError;
use crate::layout::{self, SegmentFile, segment_path};
use crate::manifest::Manifest;
use crate::segment_files::{TreeFile, decode_leaves, digest, parse_summary};
use crate::stored_plan::{StoredPlan, get_object, get_required};

/// A leaf's proof of inclusion in a committed batch, with what it proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafProof {
    /// The batch.
    pub batch_id: String,
    /// The batch's hash suite.
    pub suite: SuiteId,
    /// The leaf's global index in the batch.
    pub leaf_index: u64,
    /// Leaves in the batch.
    pub leaf_count: u64,
    /// The segment that holds the leaf.
    pub segment: u32,
    /// The leaf's index inside its segment.
    pub leaf_in_segment: u64,
    /// The leaf hash (from `.leaves`).
    pub leaf_hash: Hash,
    /// The batch root (from the manifest).
    pub root: Hash,
    /// The composite proof: segment path, then the segment root's path.
    pub proof: BatchProof,
}

impl LeafProof {
    /// Checks the proof of [`LeafProof::leaf_hash`] against [`LeafProof::root`].
    ///
    /// # Errors
    ///
    /// As [`verify_leaf_proof`].
    pub fn verify(&self) -> Result<(), VerifyError> {
        verify_leaf_proof(self.suite, &self.leaf_hash, &self.proof, &self.root)
    }
}

/// Checks a batch proof for `leaf_hash` against `root` with the suite named at run time.
///
/// # Errors
///
/// The merkle crate's [`VerifyError`]: malformed proofs, or a root mismatch.
pub fn verify_leaf_proof(
    suite: SuiteId,
    leaf_hash: &Hash,
    proof: &BatchProof,
    root: &Hash,
) -> Result<(), VerifyError> {
    with_suite!(suite, S => proof.verify::<S>(leaf_hash, root))
}

/// The manifest of a committed batch and its digest.
///
/// # Errors
///
/// [`AnchorError::NotCommitted`] without a manifest; store and parse errors.
pub async fn load_manifest(
    store: &Store,
    batch_id: &str,
) -> Result<(Manifest, String), AnchorError> {
    let path = layout::manifest_path(batch_id);
    let bytes = get_object(store, &path)
        .await?
        .ok_or_else(|| AnchorError::NotCommitted {
            batch_id: batch_id.to_owned(),
        })?;
    Ok((Manifest::from_slice(&path, &bytes)?, digest(&bytes)))
}

/// The position of a global leaf: its segment's position among the non-empty
/// segments and the manifest entry.
fn find_segment(
    manifest: &Manifest,
    leaf: u64,
) -> Result<(usize, &crate::manifest::ManifestSegment), AnchorError> {
    if leaf >= manifest.leaf_count {
        return Err(AnchorError::LeafOutOfRange {
            index: leaf,
            leaf_count: manifest.leaf_count,
        });
    }
    let non_empty: Vec<&crate::manifest::ManifestSegment> = manifest.non_empty_segments().collect();
    let pos = non_empty.partition_point(|s| s.first_leaf + s.leaf_count <= leaf);
    let seg = non_empty.get(pos).copied().ok_or_else(|| {
        AnchorError::malformed(
            "manifest.json",
            "segment leaf counts do not cover the batch",
        )
    })?;
    Ok((pos, seg))
}

/// Builds the proof of global leaf `leaf_index` of committed batch `batch_id`
/// from the stored outputs, and checks it against the manifest's root before
/// returning it.
///
/// # Errors
///
/// [`AnchorError::NotCommitted`], [`AnchorError::LeafOutOfRange`],
/// [`AnchorError::Malformed`] for inconsistent stored files,
/// [`AnchorError::Verify`] if the stored files do not lead to the root.
pub async fn prove_leaf(
    store: &Store,
    batch_id: &str,
    leaf_index: u64,
) -> Result<LeafProof, AnchorError> {
    let (manifest, _) = load_manifest(store, batch_id).await?;
    let suite = manifest.suite;
    let root = manifest.root_hash()?;
    let (position, seg) = find_segment(&manifest, leaf_index)?;
    let n = seg.leaf_count;
    let local = leaf_index - seg.first_leaf;

    let tree_path = segment_path(batch_id, seg.segment, SegmentFile::Tree);
    let tree = TreeFile::decode(&tree_path, &get_required(store, &tree_path).await?)?;
    if tree.leaf_count != n || tree.suite != suite || !(1..=32).contains(&tree.lowest_height) {
        return Err(AnchorError::malformed(
            &tree_path,
            "does not match the manifest",
        ));
    }
    // The aligned block of leaves below the lowest stored level.
    let block_len = 1u64 << tree.lowest_height;
    let b0 = local / block_len * block_len;
    let b1 = (b0 + block_len).min(n);
    let leaves_path = segment_path(batch_id, seg.segment, SegmentFile::Leaves);
    let raw = store
        .get_range(&leaves_path, b0 * 32..b1 * 32)
        .await
        .map_err(|e| AnchorError::store(&leaves_path, e))?;
    let block = decode_leaves(&leaves_path, &raw)?;
    if block.len() as u64 != b1 - b0 {
        return Err(AnchorError::malformed(
            &leaves_path,
            "shorter than its leaf count",
        ));
    }
    let leaf_hash = block[(local - b0) as usize];

    let segment_proof = segment_block_proof(suite, &tree, &block, b0, local, &tree_path)?.proof;

    let roots = manifest
        .non_empty_segments()
        .map(|s| {
            let r = s.root.as_deref().unwrap_or_default();
            crate::segment_files::parse_hash("manifest.json", r)
        })
        .collect::<Result<Vec<Hash>, _>>()?;
    let upper = with_suite!(suite, S => MerkleTree::<S>::from_leaf_hashes(roots)?.inclusion_proof(position as u64)?);
    let proof = LeafProof {
        batch_id: batch_id.to_owned(),
        suite,
        leaf_index,
        leaf_count: manifest.leaf_count,
        segment: seg.segment,
        leaf_in_segment: local,
        leaf_hash,
        root,
        proof: BatchProof::new(segment_proof, upper),
    };
    proof.verify()?;
    Ok(proof)
}

/// A leaf's inclusion proof in its segment tree, with the root of its aligned
/// block of leaves: the node at `lowest_height` above the leaf, which the
/// stored level at that height holds when the tree reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentBlockProof {
    /// The leaf's inclusion proof in its segment tree.
    pub proof: InclusionProof,
    /// The node over the block's leaves at `lowest_height` (a block shorter
    /// than `2^lowest_height`, the segment's last, has its root carried up).
    pub block_root: Hash,
    /// The block's index at `lowest_height` (`b0 >> lowest_height`).
    pub block_index: u64,
}

/// The inclusion proof of leaf `local` in its segment tree, with its block's
/// root, from the segment's stored upper levels (`tree`) and the aligned block
/// of leaves below them (`block`, starting at leaf `b0`): stored levels give
/// the nodes at or above `tree.lowest_height`, the block the ones below. The
/// block's nodes are hashed level by level, each level in one batched call, so
/// every in-block sibling and the block root cost one hash each (15 node
/// hashes for a full block of 16).
///
/// # Errors
///
/// [`AnchorError::Malformed`] (naming `tree_path`) when the stored levels
/// lack a node the proof needs, or `block` is not the aligned block of
/// `local`.
pub fn segment_block_proof(
    suite: SuiteId,
    tree: &TreeFile,
    block: &[Hash],
    b0: u64,
    local: u64,
    tree_path: &str,
) -> Result<SegmentBlockProof, AnchorError> {
    let n = tree.leaf_count;
    let height = tree.lowest_height;
    let malformed = |what: &str| AnchorError::malformed(tree_path, what);
    if !(1..=32).contains(&height)
        || local >= n
        || !b0.is_multiple_of(1u64 << height)
        || local < b0
        || local - b0 >= block.len() as u64
        || block.len() as u64 != (b0.saturating_add(1u64 << height).min(n) - b0)
    {
        return Err(malformed(
            "the leaf block is not the aligned block of the leaf",
        ));
    }
    let levels = BlockLevels::new(suite, block, height);
    let node = |h: u32, i: u64| -> Result<Hash, AnchorError> {
        if h >= height {
            return tree
                .levels
                .get((h - height) as usize)
                .and_then(|level| level.get(i as usize))
                .copied()
                .ok_or_else(|| malformed("a stored level lacks a node"));
        }
        levels
            .level(h)
            .get((i - (b0 >> h)) as usize)
            .copied()
            .ok_or_else(|| malformed("the leaf block is too short"))
    };
    let mut hashes = Vec::with_capacity(shape::inclusion_proof_len(local, n));
    let (mut idx, mut last, mut h) = (local, n - 1, 0u32);
    while last > 0 {
        let sibling = if idx & 1 == 1 {
            Some(idx - 1)
        } else if idx < last {
            Some(idx + 1)
        } else {
            None
        };
        if let Some(s) = sibling {
            hashes.push(node(h, s)?);
        }
        idx >>= 1;
        last >>= 1;
        h += 1;
    }
    Ok(SegmentBlockProof {
        proof: InclusionProof {
            index: local,
            tree_size: n,
            hashes,
        },
        block_root: levels.level(height)[0],
        block_index: b0 >> height,
    })
}

/// The nodes of an aligned block's subtree, level by level up to `height`:
/// level 0 is the block's leaves, each next level the pairs of the one below
/// hashed, a last node without a sibling carried up (so level `h` node `j` is
/// the node over leaves `[j * 2^h, (j + 1) * 2^h)` of the block, as in the
/// whole tree).
struct BlockLevels {
    /// Every level's nodes back to back, level 0 first.
    nodes: Vec<Hash>,
    /// `starts[h]..starts[h + 1]` is level `h` in `nodes`.
    starts: [usize; 34],
}

impl BlockLevels {
    /// The levels of `block` (not empty) up to `height` (at most 32).
    fn new(suite: SuiteId, block: &[Hash], height: u32) -> Self {
        let mut nodes = Vec::with_capacity(2 * block.len() + height as usize);
        nodes.extend_from_slice(block);
        let mut starts = [0usize; 34];
        starts[1] = block.len();
        for h in 1..=height as usize {
            let (lo, hi) = (starts[h - 1], starts[h]);
            let len = hi - lo;
            let pairs = len / 2;
            let at = nodes.len();
            nodes.resize(at + pairs, [0u8; 32]);
            let (below, out) = nodes.split_at_mut(at);
            with_suite!(suite, S => S::hash_nodes(&below[lo..lo + 2 * pairs], out));
            if len % 2 == 1 {
                let carried = nodes[hi - 1];
                nodes.push(carried);
            }
            starts[h + 1] = nodes.len();
        }
        Self { nodes, starts }
    }

    /// Level `h`'s nodes.
    fn level(&self, h: u32) -> &[Hash] {
        let h = h as usize;
        &self.nodes[self.starts[h]..self.starts[h + 1]]
    }
}

/// Where a leaf's record is in the inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafLocation {
    /// The segment.
    pub segment: u32,
    /// The leaf's index in its segment.
    pub leaf_in_segment: u64,
    /// The file's index in the plan.
    pub file: u32,
    /// The file's source URL.
    pub source: String,
    /// Where the build read the file (store path in copy mode, else the source URL).
    pub path: String,
    /// The record's 0-based row in the file.
    pub row: u64,
}

/// Finds the input row of global leaf `leaf_index` of a committed batch:
/// leaf `i` of a segment is the `i`-th row of its row group not rejected.
///
/// # Errors
///
/// As [`prove_leaf`], and [`AnchorError::NoPlan`].
pub async fn locate_leaf(
    store: &Store,
    batch_id: &str,
    leaf_index: u64,
) -> Result<LeafLocation, AnchorError> {
    let (manifest, _) = load_manifest(store, batch_id).await?;
    let (_, seg) = find_segment(&manifest, leaf_index)?;
    let local = leaf_index - seg.first_leaf;
    let plan = StoredPlan::load(store, batch_id).await?;
    let summary_path = segment_path(batch_id, seg.segment, SegmentFile::Summary);
    let summary = parse_summary(&summary_path, &get_required(store, &summary_path).await?)?;
    let mut row = local;
    for &r in &summary.rejected_rows {
        if u64::from(r) <= row {
            row += 1;
        } else {
            break;
        }
    }
    let file = &plan.files[summary.file as usize];
    Ok(LeafLocation {
        segment: seg.segment,
        leaf_in_segment: local,
        file: summary.file,
        source: file.source.clone(),
        path: file.path.clone(),
        row: summary.first_row + row,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proofmark_merkle::{Blake3, MerkleTreeBuilder, Sha256Rfc6962, root_from_leaf_hashes};

    /// For trees of 1 to 80 leaves stored from heights 1 to 5, in both suites,
    /// every leaf's proof from the stored levels and its block is the tree's
    /// own proof, and the block root is the node over the block's leaves,
    /// the stored one when the tree reaches that height.
    #[test]
    fn block_proofs_are_the_trees_proofs() {
        fn check<S: Suite>(suite: SuiteId) {
            for n in 1..=80u64 {
                let leaves: Vec<Hash> = (0..n).map(|i| S::hash_leaf(&i.to_le_bytes())).collect();
                let whole = MerkleTree::<S>::from_leaf_hashes(leaves.clone()).expect("a tree");
                for height in 1..=5u32 {
                    let parts = MerkleTreeBuilder::new()
                        .with_stored_min_height(height)
                        .build::<S>(leaves.clone())
                        .expect("a tree")
                        .into_parts();
                    let tree = TreeFile {
                        suite,
                        lowest_height: height,
                        leaf_count: n,
                        levels: parts.upper_levels,
                    };
                    for local in 0..n {
                        let b0 = local >> height << height;
                        let b1 = (b0 + (1 << height)).min(n);
                        let block = &leaves[b0 as usize..b1 as usize];
                        let got = segment_block_proof(suite, &tree, block, b0, local, "t")
                            .expect("a proof");
                        let want = whole.inclusion_proof(local).expect("a proof");
                        assert_eq!(got.proof, want, "n {n} height {height} leaf {local}");
                        let root = root_from_leaf_hashes::<S>(block).expect("a root");
                        assert_eq!(got.block_root, root, "n {n} height {height} leaf {local}");
                        assert_eq!(got.block_index, b0 >> height);
                        if let Some(stored) = tree.levels.first() {
                            assert_eq!(stored[got.block_index as usize], root);
                        }
                    }
                    // A block that is not the leaf's aligned block is refused.
                    if n > 2 {
                        let short = &leaves[..1];
                        assert!(segment_block_proof(suite, &tree, short, 0, n - 1, "t").is_err());
                        assert!(segment_block_proof(suite, &tree, &leaves, 1, 1, "t").is_err());
                    }
                }
            }
        }
        check::<Blake3>(SuiteId::Blake3);
        check::<Sha256Rfc6962>(SuiteId::Sha256Rfc6962);
    }

    #[test]
    fn rows_skip_rejected_ones() {
        // Leaf i is the i-th row not in the rejected list.
        let rejected = [0u32, 2, 3, 7];
        let rows: Vec<u64> = (0..6)
            .map(|local| {
                let mut row = local;
                for &r in &rejected {
                    if u64::from(r) <= row {
                        row += 1;
                    } else {
                        break;
                    }
                }
                row
            })
            .collect();
        assert_eq!(rows, vec![1, 4, 5, 6, 8, 9]);
    }
}
