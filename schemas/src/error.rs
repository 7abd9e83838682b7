//! Errors of the schemas crate.

use std::fmt;

use crate::kind::Kind;

/// A column whose type is not the one the kind requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrongType {
    /// The column.
    pub column: &'static str,
    /// The type the kind requires.
    pub expected: &'static str,
    /// The type found.
    pub found: String,
}

impl fmt::Display for WrongType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "column {} is {} but must be {}",
            self.column, self.found, self.expected
        )
    }
}

/// A file-level schema problem: the input cannot be read as any record kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// No kind's marker column (or more than one) is present.
    #[error("{}", describe_unknown_kind(columns, markers))]
    UnknownKind {
        /// The columns the input has.
        columns: Vec<String>,
        /// The marker columns it has, as `column (kind)`: none, or more than one.
        markers: Vec<String>,
    },
    /// The schema differs from the kind's: missing, unexpected or mistyped columns.
    #[error("{}", describe_mismatch(*kind, missing, unexpected, duplicated, wrong_types))]
    Mismatch {
        /// The kind the input was checked against.
        kind: Kind,
        /// Required columns that are absent.
        missing: Vec<&'static str>,
        /// Columns that the kind does not define (they would not be covered by the hash).
        unexpected: Vec<String>,
        /// Column names that the schema holds more than once (only one would be read, so the
        /// others would not be covered by the hash).
        duplicated: Vec<String>,
        /// Columns of the wrong type.
        wrong_types: Vec<WrongType>,
    },
    /// A column passed the schema check but is absent from the batch.
    #[error("column {column} is missing from the record batch")]
    MissingColumnAfterCheck {
        /// The column.
        column: &'static str,
    },
}

fn describe_mismatch(
    kind: Kind,
    missing: &[&'static str],
    unexpected: &[String],
    duplicated: &[String],
    wrong_types: &[WrongType],
) -> String {
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing columns [{}]", missing.join(", ")));
    }
    if !unexpected.is_empty() {
        parts.push(format!("unexpected columns [{}]", unexpected.join(", ")));
    }
    if !duplicated.is_empty() {
        parts.push(format!(
            "columns named more than once [{}]",
            duplicated.join(", ")
        ));
    }
    for w in wrong_types {
        parts.push(w.to_string());
    }
    format!(
        "schema does not match the {kind} record schema: {}",
        parts.join("; ")
    )
}

/// A canonical encoding that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Shorter than its header or its stated length.
    #[error("canonical record truncated at byte {offset}")]
    Truncated {
        /// Where the input ended.
        offset: usize,
    },
    /// An encoding version this implementation does not know.
    #[error("unknown canonical encoding version {0}")]
    UnknownVersion(u8),
    /// A kind byte that is not 1 to 4.
    #[error("unknown record kind byte {0}")]
    UnknownKind(u8),
    /// A presence byte other than 0 or 1.
    #[error("bad presence byte {byte} at byte {offset}")]
    BadPresence {
        /// The byte found.
        byte: u8,
        /// Its offset.
        offset: usize,
    },
    /// Text that is not UTF-8.
    #[error("text at byte {offset} is not valid UTF-8")]
    BadUtf8 {
        /// Offset of the text.
        offset: usize,
    },
    /// The stated length disagrees with the fields, or padding is not zero or not to a whole block.
    #[error("length or padding is wrong: {0}")]
    BadLength(&'static str),
}

/// The message of [`SchemaError::UnknownKind`]: the markers at fault when there are several,
/// else the columns found.
fn describe_unknown_kind(columns: &[String], markers: &[String]) -> String {
    if markers.len() > 1 {
        format!(
            "schema matches several record kinds: it has the marker columns {}; a file holds \
             records of one kind",
            markers.join(" and ")
        )
    } else {
        format!(
            "schema matches no record kind: expected exactly one of the columns gtin \
             (production), declaration_id (customs), event_type (logistics), inspection_type \
             (inspection); found columns [{}]",
            columns.join(", ")
        )
    }
}
