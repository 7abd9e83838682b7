//! Errors of the dataset generator.

use std::path::PathBuf;

/// Why a dataset could not be generated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatasetError {
    /// `items` is zero.
    #[error("the number of items must be at least 1")]
    NoItems,
    /// More items than the generator supports.
    #[error("{items} items is more than the generator supports ({max})")]
    TooManyItems {
        /// Requested items.
        items: u64,
        /// The limit.
        max: u64,
    },
    /// A bad-row rate outside `0..=1` (or not a number).
    #[error("the bad-row rate must be between 0 and 1, got {rate}")]
    BadRate {
        /// The rate given.
        rate: f64,
    },
    /// `rows_per_group` is zero.
    #[error("rows per row group must be at least 1")]
    ZeroRowsPerGroup,
    /// `files_per_kind` is zero or too large.
    #[error("files per kind must be between 1 and {max}, got {files}")]
    BadFilesPerKind {
        /// The number given.
        files: u32,
        /// The limit (file names have five digits).
        max: u32,
    },
    /// Text that is not a `YYYY-MM-DD` calendar date.
    #[error("{text:?} is not a calendar date of the form YYYY-MM-DD")]
    InvalidDate {
        /// The text given.
        text: String,
    },
    /// A batch date so early that some event times would fall before 1970.
    #[error(
        "the batch date {date} is too early: events would precede 1970-01-01 (use {min} or later)"
    )]
    DateTooEarly {
        /// The date given.
        date: String,
        /// The earliest supported date.
        min: String,
    },
    /// The output directory already holds a dataset and overwriting was not asked for.
    #[error("{} already holds a dataset (records/ or dataset.json); choose another directory, or pass --force to overwrite it", path.display())]
    OutputNotEmpty {
        /// The output directory.
        path: PathBuf,
    },
    /// A file-system operation failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done (e.g. "create", "write").
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The Parquet writer failed.
    #[error("cannot write Parquet file {}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Arrow refused an assembled column or batch (a bug in the generator).
    #[error("cannot assemble a record batch")]
    Arrow(#[source] arrow_schema::ArrowError),
    /// The dataset description could not be serialised.
    #[error("cannot write {}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

impl DatasetError {
    /// A file-system error about `path`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        DatasetError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
