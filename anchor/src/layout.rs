//! Where a batch's objects live in the store (SPEC 8).
//!
//! Every path is relative to the store's root. Segment numbers are written in
//! decimal, zero-padded to six digits.

/// The prefix every batch lives under.
pub const BATCHES_PREFIX: &str = "batches";

/// The head pointer: the latest committed batch of the store (see
/// [`HeadPointer`](crate::HeadPointer)).
pub const HEAD_PATH: &str = "batches/HEAD.json";

/// `batches/<batch_id>`.
pub fn batch_prefix(batch_id: &str) -> String {
    format!("{BATCHES_PREFIX}/{batch_id}")
}

/// `batches/<batch_id>/plan.json`.
pub fn plan_path(batch_id: &str) -> String {
    format!("{BATCHES_PREFIX}/{batch_id}/plan.json")
}

/// `batches/<batch_id>/manifest.json`.
pub fn manifest_path(batch_id: &str) -> String {
    format!("{BATCHES_PREFIX}/{batch_id}/manifest.json")
}

/// `batches/<batch_id>/index/entries.bin`.
pub fn index_path(batch_id: &str) -> String {
    format!("{BATCHES_PREFIX}/{batch_id}/index/entries.bin")
}

/// `batches/<batch_id>/rejects.parquet`.
pub fn rejects_path(batch_id: &str) -> String {
    format!("{BATCHES_PREFIX}/{batch_id}/rejects.parquet")
}

/// The files of one segment, in the order they are written (the summary last).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentFile {
    /// `<n>.leaves`: the leaf hashes.
    Leaves,
    /// `<n>.tree`: the stored upper levels.
    Tree,
    /// `<n>.index`: the segment's sorted index entries.
    Index,
    /// `<n>.rejects.jsonl`: the rejected rows.
    Rejects,
    /// `<n>.json`: the summary, written last; it marks the segment done.
    Summary,
}

impl SegmentFile {
    /// Every segment file, in write order.
    pub const ALL: [SegmentFile; 5] = [
        SegmentFile::Leaves,
        SegmentFile::Tree,
        SegmentFile::Index,
        SegmentFile::Rejects,
        SegmentFile::Summary,
    ];

    /// The file name suffix (`.leaves`, `.tree`, ...).
    pub const fn suffix(self) -> &'static str {
        match self {
            SegmentFile::Leaves => "leaves",
            SegmentFile::Tree => "tree",
            SegmentFile::Index => "index",
            SegmentFile::Rejects => "rejects.jsonl",
            SegmentFile::Summary => "json",
        }
    }
}

/// `batches/<batch_id>/segments/<n>.<suffix>`.
pub fn segment_path(batch_id: &str, segment: u32, file: SegmentFile) -> String {
    format!(
        "{BATCHES_PREFIX}/{batch_id}/segments/{segment:06}.{}",
        file.suffix()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_spec() {
        assert_eq!(
            segment_path("b-1", 7, SegmentFile::Rejects),
            "batches/b-1/segments/000007.rejects.jsonl"
        );
        assert_eq!(
            segment_path("b-1", 1_234_567, SegmentFile::Summary),
            "batches/b-1/segments/1234567.json"
        );
        assert_eq!(manifest_path("x"), "batches/x/manifest.json");
        assert_eq!(index_path("x"), "batches/x/index/entries.bin");
    }
}
