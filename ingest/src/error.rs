//! The one error type of the ingest crate.
//!
//! Every variant names what it is about (the store URL, the file, the row
//! group, the column) and keeps the underlying cause as its `source`.

use proofmark_schemas::SchemaError;

/// Everything that can go wrong while discovering, planning, fetching or
/// processing inputs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// A store or input URL or path that cannot be understood.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The object store client for a URL could not be built (bad configuration, missing
    /// credentials, unsupported URL form).
    #[error("cannot open the store at {url}")]
    OpenStore {
        /// The store URL.
        url: String,
        /// The cause.
        #[source]
        source: object_store::Error,
    },
    /// A store-relative path that is not a valid object path (empty segment, `.` or `..`).
    #[error("invalid path {path:?} in the store at {store}")]
    InvalidPath {
        /// The store URL.
        store: String,
        /// The path as given.
        path: String,
        /// The cause.
        #[source]
        source: object_store::path::Error,
    },
    /// An object store operation failed.
    #[error("cannot {op} {url}")]
    Store {
        /// What was attempted (`read`, `write`, `list`, ...).
        op: &'static str,
        /// The URL of the object or prefix.
        url: String,
        /// The cause: the object store's error, with a hint at its likely cause when the
        /// store's settings show one.
        #[source]
        source: crate::store_client::StoreFailure,
    },
    /// A local file (not in a store) could not be read.
    #[error("cannot read the local file {path}")]
    LocalIo {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A local file could not be written (a local store's temporary file or its rename).
    #[error("cannot write the local file {path}")]
    LocalWrite {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A partial file of an earlier, interrupted write could not be listed or removed.
    #[error("cannot remove the partial file {path}")]
    Cleanup {
        /// The file, or the folder being listed.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A batch id that breaks the batch id rule (1 to 128 bytes of `[0-9A-Za-z._-]`, not
    /// starting with `.`).
    #[error("invalid batch id {id:?}: {reason}")]
    InvalidBatchId {
        /// The id as given.
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A batch date that is not a valid `YYYY-MM-DD` calendar date.
    #[error("invalid batch date {date:?}: expected a calendar date YYYY-MM-DD")]
    InvalidBatchDate {
        /// The date as given.
        date: String,
    },
    /// A plan was requested with no inputs.
    #[error("no inputs given: a batch needs at least one input file, folder or glob")]
    NoInputs,
    /// A glob pattern that does not compile.
    #[error("invalid glob pattern {pattern:?}")]
    Glob {
        /// The pattern.
        pattern: String,
        /// The cause.
        #[source]
        source: globset::Error,
    },
    /// An input (file, folder or glob) that matches no file.
    #[error("input {input} matches no file")]
    InputNotFound {
        /// The input as given.
        input: String,
    },
    /// An input folder or glob under which files exist but none is taken: a folder takes only
    /// its `*.parquet` files, and neither a folder nor a glob takes a file below a name
    /// (folder or file) starting with `.` or `_` (see [`crate::discover`]).
    #[error(
        "input {input} matches {skipped} {} but none is taken: {rule}",
        if *skipped == 1 { "file" } else { "files" }
    )]
    NoQualifyingFile {
        /// The input as given.
        input: String,
        /// How many files were skipped.
        skipped: usize,
        /// The rule that skipped them, in words.
        rule: &'static str,
    },
    /// An input file inside the batch store: a store kept in an input folder would feed its
    /// own outputs (copies, rejects) back in as inputs.
    #[error(
        "input file {url} is inside the batch store {store}: keep the store out of the input \
         folders (its copies and rejects would be read back as inputs)"
    )]
    InputInStore {
        /// The input file's URL.
        url: String,
        /// The store's folder.
        store: String,
    },
    /// An input file of zero bytes.
    #[error("input file {url} is empty (0 bytes)")]
    EmptyFile {
        /// The file's URL.
        url: String,
    },
    /// An input file that is not readable Parquet (corrupt or truncated footer or metadata).
    #[error("input file {url} is not a readable Parquet file")]
    BadParquet {
        /// The file's URL.
        url: String,
        /// The cause.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// An input file whose schema is not one of the record kinds.
    #[error("input file {url} has no known record schema")]
    UnknownSchema {
        /// The file's URL.
        url: String,
        /// The mismatch, naming every column at fault (boxed: it lists the columns).
        #[source]
        source: Box<SchemaError>,
    },
    /// A plan already exists for the batch id, with other inputs or settings.
    #[error(
        "the plan of batch {batch_id} is frozen and differs from this request: {}",
        differences.join("; ")
    )]
    PlanFrozen {
        /// The batch id.
        batch_id: String,
        /// Each difference, in words.
        differences: Vec<String>,
    },
    /// A stored plan that cannot be parsed.
    #[error("the plan at {url} is not a valid plan")]
    BadPlan {
        /// The plan's URL.
        url: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A stored plan that parses but breaks an invariant (version, numbering, counts).
    #[error("the plan at {url} is inconsistent: {reason}")]
    InconsistentPlan {
        /// The plan's URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A plan that cannot be serialised (should not happen).
    #[error("cannot serialise the plan of batch {batch_id}")]
    SerialisePlan {
        /// The batch id.
        batch_id: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A segment number that is not in the plan.
    #[error("segment {segment} is not in the plan of batch {batch_id} ({count} segments)")]
    NoSuchSegment {
        /// The batch id.
        batch_id: String,
        /// The segment asked for.
        segment: u32,
        /// Number of segments in the plan.
        count: usize,
    },
    /// An input file that existed when the plan was made and is gone now.
    #[error(
        "input file {url} vanished since the plan: put it back unchanged (a batch's copy under \
         batches/<id>/inputs/ is made again by `proofmark plan` with the batch's inputs, id and date)"
    )]
    Vanished {
        /// The file's URL (where the build reads it).
        url: String,
    },
    /// A row group whose bytes differ from the plan's digest: the input changed after the plan.
    #[error(
        "row group {row_group} of {url} changed since the plan: digest {actual}, the plan has {expected}"
    )]
    DigestMismatch {
        /// The file's URL.
        url: String,
        /// The row group.
        row_group: u32,
        /// The digest in the plan.
        expected: String,
        /// The digest of the bytes read now.
        actual: String,
    },
    /// A file whose footer no longer agrees with the plan (its digest, size, row groups, byte
    /// ranges, kind).
    #[error("input file {url} changed since the plan: {what}")]
    ChangedSincePlan {
        /// The file's URL.
        url: String,
        /// What differs.
        what: String,
    },
    /// A row group that cannot be decoded.
    #[error(
        "cannot decode row group {row_group} of {url} (the plan froze the file as it is: a \
         corrected file goes into the next batch, or into this one after its folder is deleted, \
         if it is not committed)"
    )]
    Decode {
        /// The file's URL.
        url: String,
        /// The row group.
        row_group: u32,
        /// The cause.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// A decoded row group whose record batches do not bind to the file's kind.
    #[error("row group {row_group} of {url} does not match the {kind} schema")]
    RowGroupSchema {
        /// The file's URL.
        url: String,
        /// The row group.
        row_group: u32,
        /// The kind from the plan.
        kind: proofmark_schemas::Kind,
        /// The mismatch, naming the columns at fault (boxed: it lists the columns).
        #[source]
        source: Box<SchemaError>,
    },
    /// A row group with more rows than a segment can hold (leaf indices are `u32`).
    #[error("row group {row_group} of {url} has {rows} rows; a segment holds at most {max}")]
    TooManyRows {
        /// The file's URL.
        url: String,
        /// The row group.
        row_group: u32,
        /// Its rows.
        rows: u64,
        /// The limit.
        max: u64,
    },
    /// The duplicate record id scan of a file could not write or read its spill file
    /// (a file over the scan's memory budget spills sorted runs to the temporary folder).
    #[error("the duplicate record id scan of {url} could not use its spill file")]
    DuplicateSpill {
        /// The input file's URL.
        url: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A background task failed (panicked or was cancelled).
    #[error("a background task of {what} failed")]
    Task {
        /// What the task was doing.
        what: String,
        /// The cause.
        #[source]
        source: tokio::task::JoinError,
    },
}
