//! Errors of the consumer page's state: the durable store, the PIN key and
//! the secrets file.
//!
//! A variant that keeps its cause as `#[source]` does not repeat it in its
//! own message: callers print the chain (`anyhow`'s `{:#}`, or
//! [`ConsumerError::chain`] in logs), and a message that also held the cause
//! printed it twice.

use std::path::PathBuf;

/// Why the consumer state could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsumerError {
    /// The embedded store failed.
    #[error("consumer state {path}")]
    Store {
        /// The database file.
        path: PathBuf,
        /// The store's error.
        #[source]
        source: redb::Error,
    },
    /// A file could not be read, created or written.
    #[error("{path}")]
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
    #[error("no randomness for a new PIN key")]
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
    /// A line of the organisation names file is malformed.
    #[error("organisation names file {path}, line {line}: {reason}")]
    BadOrgs {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A code is on two lines of the secrets file.
    #[error("secrets file {path}, line {line}: code {code:?} is already on line {first_line}")]
    DuplicateCode {
        /// The secrets file.
        path: PathBuf,
        /// The code.
        code: String,
        /// The line that gave it first.
        first_line: u64,
        /// The line that gives it again.
        line: u64,
    },
    /// A stored value has the wrong size.
    #[error("consumer state {path}: malformed value in table {table}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// The table.
        table: &'static str,
    },
    /// The state's database is closed: it failed, and reopening it failed
    /// too (it is tried again after a while).
    #[error("consumer state {path} is closed after an I/O error")]
    Closed {
        /// The database file.
        path: PathBuf,
    },
    /// The PIN key is not the key the state's PIN hashes were made with.
    #[error(
        "the PIN key does not match the consumer state {path}: its PIN hashes were made with \
         another key, and every genuine PIN would be called wrong"
    )]
    KeyMismatch {
        /// The database file.
        path: PathBuf,
    },
    /// A blocking state task panicked or was cancelled.
    #[error("consumer state task failed")]
    Task(#[source] tokio::task::JoinError),
}

impl ConsumerError {
    /// Whether the error is one after which redb refuses every transaction
    /// until the database is reopened (an I/O error, above all a full disk),
    /// or the database is closed.
    pub fn is_io(&self) -> bool {
        match self {
            ConsumerError::Store { source, .. } => matches!(
                source,
                redb::Error::Io(_)
                    | redb::Error::PreviousIo
                    | redb::Error::DatabaseClosed
                    | redb::Error::Backend(_)
                    | redb::Error::LockPoisoned(_)
            ),
            ConsumerError::Closed { .. } => true,
            _ => false,
        }
    }

    /// The error and its causes, joined with `": "`, for logs (a `tracing`
    /// field shows only the error's own message).
    pub fn chain(&self) -> String {
        crate::error::error_chain(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_is_printed_once() {
        let err = ConsumerError::Io {
            path: "missing.key".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        let chain = err.chain();
        assert_eq!(chain.matches("not found").count(), 1, "{chain}");
        assert!(chain.starts_with("missing.key: "), "{chain}");
        let err = ConsumerError::Store {
            path: "consumer.redb".into(),
            source: redb::Error::DatabaseAlreadyOpen,
        };
        let chain = err.chain();
        assert_eq!(chain.matches("already open").count(), 1, "{chain}");
    }
}
