//! The error type of the crate.

use std::collections::BTreeMap;

use proofmark_ingest::IngestError;
use proofmark_merkle::{TreeError, VerifyError};

/// Everything that can go wrong while building, committing or proving a batch.
///
/// Variants that concern a stored object name its store path; variants that
/// concern a segment name the segment and its input file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnchorError {
    /// A store operation failed.
    #[error("store: {path}")]
    Store {
        /// The object or prefix.
        path: String,
        /// The store's error.
        #[source]
        source: Box<IngestError>,
    },
    /// Planning or reading the plan failed.
    #[error("plan of batch {batch_id}")]
    Plan {
        /// The batch.
        batch_id: String,
        /// Ingest's error (it names the file).
        #[source]
        source: Box<IngestError>,
    },
    /// A segment could not be fetched or processed.
    #[error("segment {segment} (file {file}, row group {row_group})")]
    Segment {
        /// The segment number.
        segment: u32,
        /// The input file's source URL.
        file: String,
        /// The row group.
        row_group: u32,
        /// Ingest's error.
        #[source]
        source: Box<IngestError>,
    },
    /// The batch has no plan in the store.
    #[error("batch {batch_id} has no plan: run `proofmark plan` first")]
    NoPlan {
        /// The batch.
        batch_id: String,
    },
    /// The batch has no manifest: it is not committed.
    #[error("batch {batch_id} is not committed")]
    NotCommitted {
        /// The batch.
        batch_id: String,
    },
    /// A share `k` of `n` that does not exist.
    #[error("part {k} of {n} does not exist (parts are 0..{n})")]
    InvalidPart {
        /// The 0-based share index.
        k: u32,
        /// The number of shares.
        n: u32,
    },
    /// Segments of the plan are not built (their `.json` is missing).
    #[error(
        "batch {batch_id}: {} segment(s) not built: {} (`proofmark build` builds them; \
         a batch built in parts has a part that did not finish)",
        segments.len(),
        list_segments(segments)
    )]
    MissingSegments {
        /// The batch.
        batch_id: String,
        /// The missing segments.
        segments: Vec<u32>,
    },
    /// A built segment's stored outputs fail the commit's checks (its
    /// source names the file and what is wrong). `proofmark build` checks
    /// built segments again and rebuilds the ones that fail.
    #[error(
        "batch {batch_id}: segment {segment:06}'s stored outputs fail their check \
         (`proofmark build` rebuilds them; then commit again)"
    )]
    DamagedSegment {
        /// The batch.
        batch_id: String,
        /// The segment.
        segment: u32,
        /// What the check found.
        #[source]
        source: Box<AnchorError>,
    },
    /// A stored object does not match the digest recorded for it.
    #[error("{path}: digest {actual} differs from the recorded {expected}")]
    DigestMismatch {
        /// The object.
        path: String,
        /// Recorded digest.
        expected: String,
        /// Digest of the bytes found.
        actual: String,
    },
    /// A stored object or a produced value breaks its format.
    #[error("{path}: {reason}")]
    Malformed {
        /// The object (or the segment) concerned.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A JSON object could not be read or written.
    #[error("{path}: JSON")]
    Json {
        /// The object.
        path: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// Row counts do not add up (checked before anything is committed).
    #[error("accounting of {file}: {reason}")]
    Accounting {
        /// The input file (source URL) or `batch`.
        file: String,
        /// What does not add up.
        reason: String,
    },
    /// The batch has no accepted row: there is nothing to commit.
    #[error(
        "batch {batch_id} has no accepted row ({}): nothing committed{}",
        if *rows_read == 0 { "its inputs hold no row".to_owned() } else { format!("{rows_read} read, all rejected") },
        rejections_told(batch_id, top_reasons)
    )]
    NothingToCommit {
        /// The batch.
        batch_id: String,
        /// Rows read (all of them rejected).
        rows_read: u64,
        /// Rejections by reason code (a row rejected for several reasons counts under each).
        rejects_by_reason: BTreeMap<String, u64>,
        /// The most frequent reasons with their column, most first (at most
        /// [`TOP_REASONS`]).
        top_reasons: Vec<RejectCause>,
    },
    /// The store's head pointer disagrees with the manifests it points to.
    #[error("head pointer {path}: {reason}")]
    Head {
        /// The pointer object.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A leaf index past the end of the batch.
    #[error("leaf {index} is out of range (batch has {leaf_count} leaves)")]
    LeafOutOfRange {
        /// The index asked for.
        index: u64,
        /// Leaves in the batch.
        leaf_count: u64,
    },
    /// Building a tree or a proof failed.
    #[error("tree")]
    Tree(#[from] TreeError),
    /// A proof did not verify.
    #[error("proof")]
    Verify(#[from] VerifyError),
    /// A local file (temporary merge runs, outputs before upload) failed.
    #[error("local file {path}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing `rejects.parquet` failed.
    #[error("writing rejects.parquet")]
    Parquet(#[source] Box<parquet::errors::ParquetError>),
    /// Building the rejects' Arrow batch failed.
    #[error("building the rejects table")]
    Arrow(#[source] Box<arrow_schema::ArrowError>),
    /// A worker task panicked or was cancelled.
    #[error("worker task failed: {0}")]
    Task(String),
}

impl AnchorError {
    /// A [`AnchorError::Malformed`] for `path`.
    pub fn malformed(path: impl Into<String>, reason: impl Into<String>) -> Self {
        AnchorError::Malformed {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// A [`AnchorError::Io`] for `path`.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        AnchorError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }

    /// `self` wrapped as [`AnchorError::DamagedSegment`] when it is a
    /// digest, format or accounting error (what a segment's check finds);
    /// otherwise `self`.
    pub(crate) fn in_segment(self, batch_id: &str, segment: u32) -> Self {
        match self {
            AnchorError::DigestMismatch { .. }
            | AnchorError::Malformed { .. }
            | AnchorError::Accounting { .. } => AnchorError::DamagedSegment {
                batch_id: batch_id.to_owned(),
                segment,
                source: Box::new(self),
            },
            other => other,
        }
    }

    /// [`AnchorError::in_segment`] for the segment whose file the error
    /// names, if it names one of `batch_id`'s segment files.
    pub(crate) fn in_segment_file_of(self, batch_id: &str) -> Self {
        let (AnchorError::DigestMismatch { path, .. } | AnchorError::Malformed { path, .. }) =
            &self
        else {
            return self;
        };
        let prefix = format!("{}/segments/", crate::layout::batch_prefix(batch_id));
        let segment = path
            .strip_prefix(prefix.as_str())
            .and_then(|rest| rest.get(..6))
            .filter(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse::<u32>().ok());
        match segment {
            Some(segment) => self.in_segment(batch_id, segment),
            None => self,
        }
    }

    /// A [`AnchorError::Store`] for `path`.
    pub fn store(path: impl Into<String>, source: IngestError) -> Self {
        AnchorError::Store {
            path: path.into(),
            source: Box::new(source),
        }
    }
}

impl From<parquet::errors::ParquetError> for AnchorError {
    fn from(e: parquet::errors::ParquetError) -> Self {
        AnchorError::Parquet(Box::new(e))
    }
}

impl From<arrow_schema::ArrowError> for AnchorError {
    fn from(e: arrow_schema::ArrowError) -> Self {
        AnchorError::Arrow(Box::new(e))
    }
}

fn list_segments(segments: &[u32]) -> String {
    const SHOWN: usize = 20;
    let mut s: Vec<String> = segments
        .iter()
        .take(SHOWN)
        .map(|n| format!("{n:06}"))
        .collect();
    if segments.len() > SHOWN {
        s.push(format!("... ({} more)", segments.len() - SHOWN));
    }
    s.join(", ")
}

/// How many (reason, column) pairs [`AnchorError::NothingToCommit`] names.
pub const TOP_REASONS: usize = 5;

/// One reason rows were rejected for, in one column, and how many rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectCause {
    /// The reason code (`rejects.parquet`'s `reasons`).
    pub reason: String,
    /// The column the reason is about.
    pub column: String,
    /// Rows rejected for it.
    pub rows: u64,
}

/// The tail of [`AnchorError::NothingToCommit`]'s message: the top reasons and where the
/// rejected rows are.
fn rejections_told(batch_id: &str, top: &[RejectCause]) -> String {
    if top.is_empty() {
        return String::new();
    }
    let causes: Vec<String> = top
        .iter()
        .map(|c| format!("{} in {} ({} rows)", c.reason, c.column, c.rows))
        .collect();
    format!(
        "; most rejections: {}; each rejected row, with its reasons, is in \
         {}/segments/*.rejects.jsonl",
        causes.join(", "),
        crate::layout::batch_prefix(batch_id)
    )
}
