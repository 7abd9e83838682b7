//! The files of one built segment (SPEC 8.2 to 8.5): their byte formats,
//! how they are produced from a segment's leaves, index entries and rejects,
//! and how a reader checks them against the summary's digests.
//!
//! | file | content |
//! | --- | --- |
//! | `<n>.leaves` | leaf hashes, 32 bytes each, in leaf order |
//! | `<n>.tree` | 12-byte header, then the levels at heights `>=` [`STORED_MIN_HEIGHT`] |
//! | `<n>.index` | 24-byte entries: subject key, then `u64` BE *segment-local* leaf index, sorted |
//! | `<n>.rejects.jsonl` | one [`RejectLine`] per rejected row, in row order |
//! | `<n>.json` | the [`SegmentSummary`], with the `blake3:` digests of the four others |
//!
//! The `.index` of a segment holds leaf indices local to the segment: a
//! segment's global offset depends on the leaf counts of the segments before
//! it, which are unknown while segments are built in parallel. The commit's
//! merge adds each segment's first global leaf (see [`crate::index`]), so
//! `index/entries.bin` holds global indices.

use std::collections::BTreeMap;

use bytes::Bytes;
use proofmark_ingest::{IndexEntry, SegmentResult};
use proofmark_merkle::{Hash, MerkleTreeBuilder, Suite, SuiteId, shape, with_suite};
use serde::{Deserialize, Serialize};

use crate::error::AnchorError;

/// Lowest tree height stored in `.tree`: heights below are recomputed from
/// the leaves (at most 15 node hashes per proof). Costs about 4 bytes per leaf.
pub const STORED_MIN_HEIGHT: u32 = 4;

/// Version byte of the `.tree` header.
pub const TREE_FILE_VERSION: u8 = 1;

/// Length of the `.tree` header: version, suite id, lowest stored height,
/// level count (one byte each), then the `u64` little-endian leaf count.
pub const TREE_HEADER_LEN: usize = 12;

/// Length of one index entry: a 16-byte subject key and a `u64` big-endian leaf index.
pub const INDEX_ENTRY_LEN: usize = 24;

/// `blake3:` + lowercase hex of the BLAKE3 hash of `bytes`: the digest format of the spec.
pub fn digest(bytes: &[u8]) -> String {
    digest_of_hash(&blake3::hash(bytes))
}

/// The spec's digest text of a finished BLAKE3 hash.
pub fn digest_of_hash(hash: &blake3::Hash) -> String {
    format!("blake3:{}", hash.to_hex())
}

/// Encodes one index entry: `key || u64 BE leaf`.
#[inline]
pub fn encode_index_entry(key: &[u8; 16], leaf: u64) -> [u8; INDEX_ENTRY_LEN] {
    let mut out = [0u8; INDEX_ENTRY_LEN];
    out[..16].copy_from_slice(key);
    out[16..].copy_from_slice(&leaf.to_be_bytes());
    out
}

/// Splits one 24-byte index entry into its key and leaf index.
///
/// # Panics
///
/// If `entry` is shorter than [`INDEX_ENTRY_LEN`].
#[inline]
pub fn decode_index_entry(entry: &[u8]) -> ([u8; 16], u64) {
    let mut key = [0u8; 16];
    key.copy_from_slice(&entry[..16]);
    let mut leaf = [0u8; 8];
    leaf.copy_from_slice(&entry[16..24]);
    (key, u64::from_be_bytes(leaf))
}

/// Decodes a `.leaves` file.
///
/// # Errors
///
/// [`AnchorError::Malformed`] if its length is not a multiple of 32.
pub fn decode_leaves(path: &str, bytes: &[u8]) -> Result<Vec<Hash>, AnchorError> {
    if !bytes.len().is_multiple_of(32) {
        return Err(AnchorError::malformed(
            path,
            format!(
                "{} bytes is not a whole number of 32-byte hashes",
                bytes.len()
            ),
        ));
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect())
}

/// The parsed content of a `.tree` file (SPEC 8.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeFile {
    /// The hash suite the tree was built with.
    pub suite: SuiteId,
    /// Height of the first stored level.
    pub lowest_height: u32,
    /// Number of leaves of the segment tree.
    pub leaf_count: u64,
    /// The stored levels, lowest first; the last, if any, is the root alone.
    pub levels: Vec<Vec<Hash>>,
}

impl TreeFile {
    /// Number of stored levels a tree of `leaf_count` leaves has at heights `>= lowest_height`.
    pub fn expected_level_count(leaf_count: u64, lowest_height: u32) -> u32 {
        if leaf_count == 0 {
            return 0;
        }
        let height = shape::tree_height(leaf_count);
        if lowest_height <= height {
            height - lowest_height + 1
        } else {
            0
        }
    }

    /// Encodes the file: the header, then each level's hashes.
    pub fn encode(&self) -> Vec<u8> {
        let nodes: usize = self.levels.iter().map(Vec::len).sum();
        let mut out = Vec::with_capacity(TREE_HEADER_LEN + 32 * nodes);
        out.push(TREE_FILE_VERSION);
        out.push(self.suite.to_u8());
        out.push(self.lowest_height as u8);
        out.push(self.levels.len() as u8);
        out.extend_from_slice(&self.leaf_count.to_le_bytes());
        for level in &self.levels {
            for h in level {
                out.extend_from_slice(h);
            }
        }
        out
    }

    /// Decodes and checks a `.tree` file: version, suite id, level count and
    /// level sizes must follow from the header's leaf count.
    ///
    /// # Errors
    ///
    /// [`AnchorError::Malformed`] naming `path`.
    pub fn decode(path: &str, bytes: &[u8]) -> Result<Self, AnchorError> {
        if bytes.len() < TREE_HEADER_LEN {
            return Err(AnchorError::malformed(
                path,
                "shorter than the 12-byte header",
            ));
        }
        if bytes[0] != TREE_FILE_VERSION {
            return Err(AnchorError::malformed(
                path,
                format!("unknown version {}", bytes[0]),
            ));
        }
        let suite = SuiteId::from_u8(bytes[1]).ok_or_else(|| {
            AnchorError::malformed(path, format!("unknown suite id {}", bytes[1]))
        })?;
        let lowest_height = u32::from(bytes[2]);
        let count = u32::from(bytes[3]);
        let mut le = [0u8; 8];
        le.copy_from_slice(&bytes[4..12]);
        let leaf_count = u64::from_le_bytes(le);
        let want = Self::expected_level_count(leaf_count, lowest_height);
        if count != want {
            return Err(AnchorError::malformed(
                path,
                format!("{count} levels stored, {want} expected for {leaf_count} leaves"),
            ));
        }
        let mut levels = Vec::with_capacity(count as usize);
        let mut at = TREE_HEADER_LEN;
        for i in 0..count {
            let len = shape::level_len(leaf_count, lowest_height + i) as usize;
            let end = at + 32 * len;
            let Some(raw) = bytes.get(at..end) else {
                return Err(AnchorError::malformed(path, "truncated level"));
            };
            levels.push(decode_leaves(path, raw)?);
            at = end;
        }
        if at != bytes.len() {
            return Err(AnchorError::malformed(
                path,
                format!("{} bytes after the last level", bytes.len() - at),
            ));
        }
        Ok(Self {
            suite,
            lowest_height,
            leaf_count,
            levels,
        })
    }

    /// Byte offset in the file of node `index` at stored `height`, if that level is stored.
    pub fn node_offset(
        leaf_count: u64,
        lowest_height: u32,
        height: u32,
        index: u64,
    ) -> Option<u64> {
        let count = Self::expected_level_count(leaf_count, lowest_height);
        if height < lowest_height || height >= lowest_height + count {
            return None;
        }
        let below: u64 = (lowest_height..height)
            .map(|h| shape::level_len(leaf_count, h))
            .sum();
        Some(TREE_HEADER_LEN as u64 + 32 * (below + index))
    }
}

/// One line of `<n>.rejects.jsonl` (SPEC 8.5): ingest's rejected row, as is.
pub use proofmark_ingest::RejectRow as RejectLine;

/// `segments/<n>.json`: the summary that marks a segment done (SPEC 8.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentSummary {
    /// The segment number.
    pub segment: u32,
    /// The file index in the plan.
    pub file: u32,
    /// The row group of that file.
    pub row_group: u32,
    /// 0-based row of the file where the row group starts.
    pub first_row: u64,
    /// Rows read from the row group.
    pub rows_read: u64,
    /// Rows accepted (hashed).
    pub rows_accepted: u64,
    /// Rows rejected.
    pub rows_rejected: u64,
    /// Leaves of the segment tree (`rows_accepted`).
    pub leaf_count: u64,
    /// Hex of the segment root; `None` when no row was accepted.
    pub root: Option<String>,
    /// 0-based rows of the row group that were rejected, ascending.
    pub rejected_rows: Vec<u32>,
    /// The row group digest from the plan, checked before hashing.
    pub input_digest: String,
    /// Digest of `.leaves`.
    pub leaves_digest: String,
    /// Digest of `.tree`.
    pub tree_digest: String,
    /// Digest of `.index`.
    pub index_digest: String,
    /// Digest of `.rejects.jsonl`.
    pub rejects_digest: String,
    /// Rejected rows per reason code.
    pub reasons: BTreeMap<String, u64>,
}

impl SegmentSummary {
    /// The segment root, decoded.
    ///
    /// # Errors
    ///
    /// [`AnchorError::Malformed`] if `root` is not 64 hex digits.
    pub fn root_hash(&self, path: &str) -> Result<Option<Hash>, AnchorError> {
        self.root
            .as_deref()
            .map(|r| parse_hash(path, r))
            .transpose()
    }
}

/// Decodes 64 hex digits into a hash.
///
/// # Errors
///
/// [`AnchorError::Malformed`] naming `path`.
pub fn parse_hash(path: &str, text: &str) -> Result<Hash, AnchorError> {
    let mut h = [0u8; 32];
    hex::decode_to_slice(text, &mut h)
        .map_err(|e| AnchorError::malformed(path, format!("bad hash {text:?}: {e}")))?;
    Ok(h)
}

/// A segment's files, encoded and ready to write; `summary` last.
#[derive(Debug, Clone)]
pub struct EncodedSegment {
    /// The summary as it is in `summary_bytes`.
    pub summary: SegmentSummary,
    /// The segment root (`None` without leaves).
    pub root: Option<Hash>,
    /// `.leaves`.
    pub leaves: Bytes,
    /// `.tree`.
    pub tree: Bytes,
    /// `.index`.
    pub index: Bytes,
    /// `.rejects.jsonl`.
    pub rejects: Bytes,
    /// `.json`.
    pub summary_bytes: Bytes,
}

/// Builds the segment tree and encodes the segment's five files (CPU work:
/// call it off the async runtime).
///
/// # Errors
///
/// [`AnchorError::Malformed`] if the counts disagree (`rows_read !=
/// accepted + rejected`, a leaf count other than `rows_accepted`, an index
/// entry pointing past the last leaf) and [`AnchorError::Json`] if a reject
/// cannot be written as JSON.
pub fn encode_segment(suite: SuiteId, parts: SegmentResult) -> Result<EncodedSegment, AnchorError> {
    let SegmentResult {
        segment,
        file,
        row_group,
        first_row,
        rows_read,
        rows_accepted,
        rows_rejected,
        rejected_rows,
        leaves,
        mut entries,
        rejects,
        reasons,
        input_digest,
    } = parts;
    let what = format!("segment {segment}");
    if rows_read != rows_accepted + rows_rejected
        || leaves.len() as u64 != rows_accepted
        || rejected_rows.len() as u64 != rows_rejected
        || rejects.len() as u64 != rows_rejected
    {
        return Err(AnchorError::malformed(
            &what,
            format!(
                "counts disagree: read {rows_read}, accepted {rows_accepted}, rejected \
                 {rows_rejected}, leaves {}, rejected rows {}, rejects {}",
                leaves.len(),
                rejected_rows.len(),
                rejects.len()
            ),
        ));
    }
    if let Some(IndexEntry { leaf, .. }) =
        entries.iter().find(|e| u64::from(e.leaf) >= rows_accepted)
    {
        return Err(AnchorError::malformed(
            &what,
            format!("index entry points to leaf {leaf} of {rows_accepted}"),
        ));
    }
    if !entries.is_sorted() {
        entries.sort_unstable();
    }

    let mut leaves_bytes = Vec::with_capacity(leaves.len() * 32);
    for h in &leaves {
        leaves_bytes.extend_from_slice(h);
    }
    let leaf_count = leaves.len() as u64;
    let (root, tree_file) = if leaves.is_empty() {
        let file = TreeFile {
            suite,
            lowest_height: STORED_MIN_HEIGHT,
            leaf_count: 0,
            levels: Vec::new(),
        };
        (None, file)
    } else {
        let parts = with_suite!(suite, S => {
            MerkleTreeBuilder::new()
                .with_stored_min_height(STORED_MIN_HEIGHT)
                .build::<S>(leaves)?
                .into_parts()
        });
        let root = match parts.upper_levels.last() {
            Some(top) => top[0],
            None => {
                with_suite!(suite, S => proofmark_merkle::root_from_leaf_hashes::<S>(&parts.leaf_hashes)?)
            }
        };
        let file = TreeFile {
            suite,
            lowest_height: STORED_MIN_HEIGHT,
            leaf_count,
            levels: parts.upper_levels,
        };
        (Some(root), file)
    };
    let tree_bytes = tree_file.encode();

    let mut index_bytes = Vec::with_capacity(entries.len() * INDEX_ENTRY_LEN);
    for IndexEntry { key, leaf } in &entries {
        index_bytes.extend_from_slice(&encode_index_entry(key, u64::from(*leaf)));
    }

    let mut rejects_bytes = Vec::new();
    for line in &rejects {
        line.write_json_line(&mut rejects_bytes);
    }

    let summary = SegmentSummary {
        segment,
        file,
        row_group,
        first_row,
        rows_read,
        rows_accepted,
        rows_rejected,
        leaf_count,
        root: root.map(hex::encode),
        rejected_rows,
        input_digest,
        leaves_digest: digest(&leaves_bytes),
        tree_digest: digest(&tree_bytes),
        index_digest: digest(&index_bytes),
        rejects_digest: digest(&rejects_bytes),
        reasons,
    };
    let summary_bytes = serde_json::to_vec_pretty(&summary)
        .map_err(|source| AnchorError::Json { path: what, source })?;
    Ok(EncodedSegment {
        summary,
        root,
        leaves: Bytes::from(leaves_bytes),
        tree: Bytes::from(tree_bytes),
        index: Bytes::from(index_bytes),
        rejects: Bytes::from(rejects_bytes),
        summary_bytes: Bytes::from(summary_bytes),
    })
}

/// Parses a `.json` summary.
///
/// # Errors
///
/// [`AnchorError::Json`] naming `path`.
pub fn parse_summary(path: &str, bytes: &[u8]) -> Result<SegmentSummary, AnchorError> {
    serde_json::from_slice(bytes).map_err(|source| AnchorError::Json {
        path: path.to_owned(),
        source,
    })
}

/// Checks `bytes` against the digest recorded for it.
///
/// # Errors
///
/// [`AnchorError::DigestMismatch`] naming `path`.
pub fn check_digest(path: &str, bytes: &[u8], expected: &str) -> Result<(), AnchorError> {
    let actual = digest(bytes);
    if actual == expected {
        Ok(())
    } else {
        Err(AnchorError::DigestMismatch {
            path: path.to_owned(),
            expected: expected.to_owned(),
            actual,
        })
    }
}

/// Checks a segment's leaves and tree against its summary: leaf count, suite,
/// each stored level against the one below it, and the root. Returns the root
/// (`None` without leaves).
///
/// Digests must have been checked already; the lowest stored level is not
/// recomputed from the leaves (their digests cover them), so the check costs
/// about one node hash per 16 leaves and copies nothing.
///
/// # Errors
///
/// [`AnchorError::Malformed`] naming `path` (the `.tree`).
pub fn check_tree(
    path: &str,
    suite: SuiteId,
    summary: &SegmentSummary,
    leaves: &[u8],
    tree: &TreeFile,
) -> Result<Option<Hash>, AnchorError> {
    if tree.suite != suite {
        return Err(AnchorError::malformed(
            path,
            format!("built with suite {}, the batch uses {suite}", tree.suite),
        ));
    }
    let leaf_count = (leaves.len() / 32) as u64;
    if tree.leaf_count != summary.leaf_count
        || !leaves.len().is_multiple_of(32)
        || leaf_count != summary.leaf_count
    {
        return Err(AnchorError::malformed(
            path,
            format!(
                "leaf counts disagree: summary {}, .tree {}, .leaves {} bytes",
                summary.leaf_count,
                tree.leaf_count,
                leaves.len()
            ),
        ));
    }
    let want_root = summary.root_hash(path)?;
    if leaf_count == 0 {
        if want_root.is_some() {
            return Err(AnchorError::malformed(path, "a root without leaves"));
        }
        return Ok(None);
    }
    let root = match tree.levels.last() {
        None => {
            let hashes = decode_leaves(path, leaves)?;
            with_suite!(suite, S => proofmark_merkle::root_from_leaf_hashes::<S>(&hashes)?)
        }
        Some(_) => check_levels(path, tree)?.unwrap_or_default(),
    };
    if Some(root) != want_root {
        return Err(AnchorError::malformed(
            path,
            format!(
                "tree root {} differs from the summary's {}",
                hex::encode(root),
                summary.root.as_deref().unwrap_or("null")
            ),
        ));
    }
    Ok(Some(root))
}

/// Checks that each stored level of `tree` is the hash of the level below
/// it (in the tree's suite) and that the last is one node; returns that
/// node, the segment root (`None` when nothing is stored). About one node
/// hash per `2^lowest_height` leaves; the leaves are not read.
///
/// # Errors
///
/// [`AnchorError::Malformed`] naming `path` (the `.tree`).
pub fn check_levels(path: &str, tree: &TreeFile) -> Result<Option<Hash>, AnchorError> {
    let Some(top) = tree.levels.last() else {
        return Ok(None);
    };
    let mut next = Vec::new();
    for (i, pair) in tree.levels.windows(2).enumerate() {
        next.clear();
        next.resize(pair[1].len(), [0u8; 32]);
        if pair[1].len() != pair[0].len().div_ceil(2) {
            return Err(AnchorError::malformed(
                path,
                format!(
                    "stored level at height {} has {} nodes for {} below",
                    tree.lowest_height + i as u32 + 1,
                    pair[1].len(),
                    pair[0].len()
                ),
            ));
        }
        with_suite!(tree.suite, S => hash_level::<S>(&pair[0], &mut next));
        if next != pair[1] {
            return Err(AnchorError::malformed(
                path,
                format!(
                    "stored level at height {} is not the hash of the level below",
                    tree.lowest_height + i as u32 + 1
                ),
            ));
        }
    }
    match top.as_slice() {
        [root] => Ok(Some(*root)),
        _ => Err(AnchorError::malformed(
            path,
            "the last stored level is not a single root",
        )),
    }
}

/// One tree level from the level below (an odd last node is carried up).
fn hash_level<S: Suite>(children: &[Hash], out: &mut [Hash]) {
    let pairs = children.len() / 2;
    S::hash_nodes(&children[..2 * pairs], &mut out[..pairs]);
    if children.len() % 2 == 1 {
        out[pairs] = children[children.len() - 1];
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proofmark_merkle::{Blake3, Suite};

    fn parts(n: u32, rejected: u32) -> SegmentResult {
        let leaves: Vec<Hash> = (0..n)
            .map(|i| Blake3::hash_leaf(&i.to_le_bytes()))
            .collect();
        let mut entries: Vec<IndexEntry> = (0..n)
            .map(|i| IndexEntry {
                key: [(i * 7 % 256) as u8; 16],
                leaf: i,
            })
            .collect();
        entries.reverse();
        let rejects = (0..rejected)
            .map(|i| RejectLine {
                file: "f.parquet".into(),
                row: u64::from(i),
                record_id: None,
                reasons: vec!["no_subject".into()],
                columns: vec!["code".into()],
                record_json: "{}".into(),
            })
            .collect();
        SegmentResult {
            segment: 3,
            file: 1,
            row_group: 2,
            first_row: 100,
            rows_read: u64::from(n + rejected),
            rows_accepted: u64::from(n),
            rows_rejected: u64::from(rejected),
            rejected_rows: (0..rejected).collect(),
            leaves,
            entries,
            rejects,
            reasons: [("no_subject".to_owned(), u64::from(rejected))].into(),
            input_digest: digest(b"x"),
        }
    }

    #[test]
    fn encoded_segments_read_back() {
        for n in [0u32, 1, 2, 15, 16, 17, 100, 1000] {
            let p = parts(n, 2);
            let want_leaves = p.leaves.clone();
            let enc = encode_segment(SuiteId::Blake3, p).unwrap();
            let summary = parse_summary("s", &enc.summary_bytes).unwrap();
            assert_eq!(summary, enc.summary);
            check_digest("l", &enc.leaves, &summary.leaves_digest).unwrap();
            check_digest("t", &enc.tree, &summary.tree_digest).unwrap();
            check_digest("i", &enc.index, &summary.index_digest).unwrap();
            check_digest("r", &enc.rejects, &summary.rejects_digest).unwrap();
            let leaves = decode_leaves("l", &enc.leaves).unwrap();
            assert_eq!(leaves, want_leaves);
            let tree = TreeFile::decode("t", &enc.tree).unwrap();
            let checked = check_tree("t", SuiteId::Blake3, &summary, &enc.leaves, &tree).unwrap();
            if n == 0 {
                assert!(checked.is_none());
                assert_eq!(summary.root, None);
            } else {
                let root = proofmark_merkle::root_from_leaf_hashes::<Blake3>(&want_leaves).unwrap();
                assert_eq!(checked, Some(root));
                assert_eq!(enc.root, Some(root));
            }
            // Index entries are sorted and local.
            let entries: Vec<_> = enc
                .index
                .chunks(INDEX_ENTRY_LEN)
                .map(decode_index_entry)
                .collect();
            assert!(entries.is_sorted());
            assert_eq!(entries.len(), n as usize);
            assert_eq!(enc.rejects.iter().filter(|b| **b == b'\n').count(), 2);
            // Wrong suite is refused.
            if n > 0 {
                assert!(
                    check_tree("t", SuiteId::Sha256Rfc6962, &summary, &enc.leaves, &tree).is_err()
                );
            }
        }
    }

    #[test]
    fn tree_file_is_checked() {
        let enc = encode_segment(SuiteId::Blake3, parts(100, 0)).unwrap();
        let tree = TreeFile::decode("t", &enc.tree).unwrap();
        assert_eq!(tree.lowest_height, 4);
        assert_eq!(tree.levels.len(), 4); // heights 4, 5, 6, 7
        assert_eq!(tree.levels[0].len(), 7);
        assert_eq!(
            TreeFile::node_offset(100, 4, 5, 1),
            Some(TREE_HEADER_LEN as u64 + 32 * 8)
        );
        assert_eq!(TreeFile::node_offset(100, 4, 3, 0), None);
        let mut bad = enc.tree.to_vec();
        bad.pop();
        assert!(TreeFile::decode("t", &bad).is_err());
        let mut bad = enc.tree.to_vec();
        bad[1] = 9;
        assert!(TreeFile::decode("t", &bad).is_err());
        let mut bad = enc.tree.to_vec();
        bad[3] = 2;
        assert!(TreeFile::decode("t", &bad).is_err());
        // A flipped node inside a stored level is caught by the level check.
        let summary = enc.summary.clone();
        let mut flipped = tree.clone();
        flipped.levels[0][0][0] ^= 1;
        assert!(check_tree("t", SuiteId::Blake3, &summary, &enc.leaves, &flipped).is_err());
        let mut top = tree.clone();
        let last = top.levels.len() - 1;
        top.levels[last][0][0] ^= 1;
        assert!(check_tree("t", SuiteId::Blake3, &summary, &enc.leaves, &top).is_err());
        // The levels alone: their root, or the level that does not hash up.
        assert_eq!(
            check_levels("t", &tree).unwrap(),
            summary.root_hash("t").unwrap()
        );
        for level in 0..tree.levels.len() {
            for node in [0, tree.levels[level].len() - 1] {
                let mut bad = tree.clone();
                bad.levels[level][node][31] ^= 0x80;
                // A changed root is still consistent with the levels below
                // only if it is the root itself: then it differs from the summary.
                match check_levels("t", &bad) {
                    Err(_) => {}
                    Ok(root) => {
                        assert_eq!(level, tree.levels.len() - 1);
                        assert_ne!(root, summary.root_hash("t").unwrap());
                    }
                }
            }
        }
        let mut short = tree.clone();
        short.levels[1].pop();
        assert!(check_levels("t", &short).is_err());
        let mut no_levels = tree.clone();
        no_levels.levels.clear();
        assert_eq!(check_levels("t", &no_levels).unwrap(), None);
    }

    #[test]
    fn bad_counts_are_refused() {
        let mut p = parts(10, 1);
        p.rows_read += 1;
        assert!(matches!(
            encode_segment(SuiteId::Blake3, p),
            Err(AnchorError::Malformed { .. })
        ));
        let mut p = parts(10, 0);
        p.entries.push(IndexEntry {
            key: [0; 16],
            leaf: 10,
        });
        assert!(encode_segment(SuiteId::Blake3, p).is_err());
        assert!(matches!(
            check_digest("x", b"a", &digest(b"b")),
            Err(AnchorError::DigestMismatch { .. })
        ));
    }
}
