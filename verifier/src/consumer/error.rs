//! Errors of the consumer page's state: the durable store, the PIN key and
//! the secrets file.

use std::path::PathBuf;

/// Why the consumer state could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsumerError {
    /// The embedded store failed.
    #[error("consumer state {path}: {source}")]
    Store {
        /// The database file.
        path: PathBuf,
        /// The store's error.
        #[source]
        source: redb::Error,
    },
    /// A file could not be read, created or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The PIN key file does not hold a key.
    #[error("PIN key file {path}: {reason}")]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The random key could not be made.
    #[error("no randomness for a new PIN key: {0}")]
    Random(#[source] getrandom::Error),
    /// A line of the secrets file is malformed.
    #[error("secrets file {path}, line {line}: {reason}")]
    BadSecrets {
        /// The secrets file.
        path: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A stored value has the wrong size.
    #[error("consumer state {path}: malformed value in table {table}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// The table.
        table: &'static str,
    },
    /// A blocking state task panicked or was cancelled.
    #[error("consumer state task failed")]
    Task(#[source] tokio::task::JoinError),
}
