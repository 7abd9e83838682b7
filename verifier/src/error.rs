//! The verifier's error type: one enum for the code index, lookups and the
//! service. [`crate::LookupError`] is the same type, under the name the
//! [`crate::CodeLookup`] trait uses.

use std::fmt::Write as _;
use std::path::PathBuf;

use proofmark_anchor::AnchorError;
use proofmark_ingest::IngestError;

/// What can go wrong in the verifier.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifierError {
    /// The code is not a well-formed code (SPEC.md 2.3).
    #[error("malformed code: {}", shown_code(.0))]
    MalformedCode(String),
    /// A remote lookup failed; the message names what failed.
    #[error("{0}")]
    Backend(String),
    /// A local file of the code index cannot be read or written.
    #[error("code index {path}: {source}")]
    IndexIo {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file of the code index is not what the index wrote.
    #[error("code index {path}: {message}")]
    IndexCorrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Another `publish` holds the index's lock.
    #[error(
        "code index {0} is being written by another publish, which is still running: wait for it"
    )]
    IndexLocked(PathBuf),
    /// The batch has no manifest.
    #[error("batch {0} is not committed")]
    NotCommitted(String),
    /// The batch has no anchor receipt.
    #[error("batch {0} is not anchored on any chain: anchor it before publishing")]
    NotAnchored(String),
    /// The index already holds the batch, with another manifest.
    #[error("batch {batch_id} was published with manifest {published}, the store now has {stored}")]
    BatchRewritten {
        /// The batch.
        batch_id: String,
        /// The manifest digest the index holds.
        published: String,
        /// The manifest digest in the store.
        stored: String,
    },
    /// The code index's catalog describes a batch otherwise than its stored manifest does.
    #[error(
        "batch {batch_id}: the code index's catalog says {field} {published}, its manifest {stored}"
    )]
    CatalogMismatch {
        /// The batch.
        batch_id: String,
        /// The field (`root`, `suite`, `leaf_count`, `batch_date`).
        field: &'static str,
        /// The catalog's value.
        published: String,
        /// The manifest's value.
        stored: String,
    },
    /// The batch's `index/entries.bin` does not match its manifest.
    #[error("batch {batch_id}: index/entries.bin {message}")]
    BadBatchIndex {
        /// The batch.
        batch_id: String,
        /// What is wrong.
        message: String,
    },
    /// The store failed.
    #[error("store object {path}: {source}")]
    Store {
        /// The object.
        path: String,
        /// The store's error.
        #[source]
        source: Box<IngestError>,
    },
    /// A batch's stored outputs cannot be read or are inconsistent.
    #[error(transparent)]
    Anchor(Box<AnchorError>),
    /// An input file cannot be decoded.
    #[error("input {file}: {source}")]
    Parquet {
        /// The input file's source URL.
        file: String,
        /// Parquet's error.
        #[source]
        source: Box<parquet::errors::ParquetError>,
    },
    /// A stored object is not valid JSON of its kind.
    #[error("{path}: {source}")]
    Json {
        /// The object.
        path: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A record, its leaf or its proof does not check: the stored data does
    /// not match what the batch root commits to.
    #[error("batch {batch_id} leaf {leaf_index}: {reason}")]
    Integrity {
        /// The batch.
        batch_id: String,
        /// The leaf.
        leaf_index: u64,
        /// What does not match.
        reason: String,
    },
    /// A lot bound to the code has more records of its own than a report may
    /// list: no report is given rather than one missing some of them.
    #[error(
        "lot {} has {records} records of its own, more than the {limit} a report lists \
         (the service's limit of records a lot): no partial report is given",
        shown_code(lot)
    )]
    LotTooLarge {
        /// The lot.
        lot: String,
        /// Its own records (code null) in the published batches.
        records: usize,
        /// The limit.
        limit: usize,
    },
    /// A blocking task could not finish (it panicked or the runtime is
    /// shutting down).
    #[error("a lookup or publish task did not finish: {0}")]
    Task(String),
}

impl From<AnchorError> for VerifierError {
    fn from(e: AnchorError) -> Self {
        VerifierError::Anchor(Box::new(e))
    }
}

impl VerifierError {
    /// Wraps a store error with the object's path.
    pub fn store(path: impl Into<String>, source: IngestError) -> Self {
        VerifierError::Store {
            path: path.into(),
            source: Box::new(source),
        }
    }

    /// An input file that cannot be decoded.
    pub fn parquet(file: impl Into<String>, source: parquet::errors::ParquetError) -> Self {
        VerifierError::Parquet {
            file: file.into(),
            source: Box::new(source),
        }
    }

    /// Wraps an I/O error on a file of the code index.
    pub fn index_io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        VerifierError::IndexIo {
            path: path.into(),
            source,
        }
    }

    /// A corrupt index file.
    pub fn index_corrupt(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        VerifierError::IndexCorrupt {
            path: path.into(),
            message: message.into(),
        }
    }

    /// An integrity failure of one leaf.
    pub fn integrity(batch_id: &str, leaf_index: u64, reason: impl Into<String>) -> Self {
        VerifierError::Integrity {
            batch_id: batch_id.to_owned(),
            leaf_index,
            reason: reason.into(),
        }
    }
}

/// An error and its causes, joined with `": "` (a `tracing` field or a
/// message built from `to_string` shows only the error's own words).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// Longest part of a code (in characters) that messages repeat back.
pub const SHOWN_CODE_CHARS: usize = 64;

/// `code` (or any text a client sent: a batch id, a lot) quoted for a
/// message: in double quotes, whole when it is short, else its first
/// [`SHOWN_CODE_CHARS`] characters and its length, so a megabyte of junk
/// asked as a code is not echoed back in full. Characters that would not be
/// seen (controls, white space but the space, format characters such as a
/// byte order mark or a bidirectional override) are written `U+XXXX`; the
/// rest is as sent (no Rust escapes).
pub fn shown_code(code: &str) -> String {
    let chars = code.chars().count();
    let mut out = String::with_capacity(code.len().min(4 * SHOWN_CODE_CHARS) + 2);
    out.push('"');
    for c in code.chars().take(SHOWN_CODE_CHARS) {
        if is_unseen(c) {
            let _ = write!(out, "U+{:04X}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out.push('"');
    if chars > SHOWN_CODE_CHARS {
        let _ = write!(out, "... ({chars} characters)");
    }
    out
}

/// Whether `c` would not be seen in a message: a control character, white
/// space other than the space, or a format or invisible character.
fn is_unseen(c: char) -> bool {
    c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_codes_are_shown_cut_with_their_length() {
        assert_eq!(shown_code("ABC"), "\"ABC\"");
        // No Rust escapes: unseen characters by their code point, the rest as sent.
        assert_eq!(shown_code("AB\u{feff}"), "\"ABU+FEFF\"");
        assert_eq!(shown_code("\0"), "\"U+0000\"");
        assert_eq!(shown_code("a\"b\\c\té"), "\"a\"b\\cU+0009é\"");
        assert_eq!(shown_code("x\u{202e}y"), "\"xU+202Ey\"");
        let long = "1".repeat(20_000);
        let shown = shown_code(&long);
        assert!(shown.len() < 100, "{shown}");
        assert!(shown.ends_with("... (20000 characters)"), "{shown}");
        assert_eq!(
            shown_code(&"é".repeat(64)),
            format!("\"{}\"", "é".repeat(64))
        );
    }
}
