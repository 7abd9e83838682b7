//! The JSON form of records: what test vectors, rejects and the verifier's API
//! show. Text is a string, timestamps are integers (µs since the epoch, UTC),
//! dates are integers (days since the epoch), lists are arrays, attachments
//! are `{"uri", "digest"}` objects, and a null is `null`.

use std::sync::{Arc, OnceLock};

use arrow_array::builder::{
    Date32Builder, Int32Builder, ListBuilder, StringBuilder, StructBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field};
use serde_json::{Map, Value as Json};

use crate::columns::{Column, RecordView};
use crate::encode::{DecodedRef, Value, ValueRef};
use crate::kind::{FieldSpec, FieldType, Kind, UTC, attachment_fields};

/// A JSON record that cannot be turned into a row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// The record is not a JSON object.
    #[error("record {row} is not a JSON object")]
    NotAnObject {
        /// Index of the record.
        row: usize,
    },
    /// A value of the wrong JSON type for its column.
    #[error("record {row}: column {column}: expected {expected}")]
    WrongType {
        /// Index of the record.
        row: usize,
        /// The column.
        column: &'static str,
        /// What the column takes.
        expected: &'static str,
    },
    /// A key that is not a column of the kind.
    #[error("record {row}: {key:?} is not a column of {kind} records")]
    UnknownColumn {
        /// Index of the record.
        row: usize,
        /// The key.
        key: String,
        /// The kind.
        kind: Kind,
    },
    /// Arrow refused the assembled batch.
    #[error("cannot assemble the record batch: {0}")]
    Arrow(String),
}

enum Builder {
    Text(StringBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    Date(Date32Builder),
    Int32(Int32Builder),
    TextList(ListBuilder<StringBuilder>),
    Attachments(ListBuilder<StructBuilder>),
}

impl Builder {
    fn new(spec: &FieldSpec) -> Self {
        match spec.ty {
            FieldType::Text => Builder::Text(StringBuilder::new()),
            FieldType::Timestamp => {
                Builder::Timestamp(TimestampMicrosecondBuilder::new().with_timezone(UTC))
            }
            FieldType::Date => Builder::Date(Date32Builder::new()),
            FieldType::Int32 => Builder::Int32(Int32Builder::new()),
            FieldType::TextList => Builder::TextList(
                ListBuilder::new(StringBuilder::new()).with_field(Arc::new(Field::new(
                    "item",
                    DataType::Utf8,
                    true,
                ))),
            ),
            FieldType::AttachmentList => {
                let item = StructBuilder::from_fields(attachment_fields(), 0);
                let field = Field::new("item", DataType::Struct(attachment_fields()), true);
                Builder::Attachments(ListBuilder::new(item).with_field(Arc::new(field)))
            }
        }
    }

    fn append(&mut self, v: &Json, row: usize, spec: &FieldSpec) -> Result<(), JsonError> {
        let wrong = |expected| JsonError::WrongType {
            row,
            column: spec.name,
            expected,
        };
        match self {
            Builder::Text(b) => match v {
                Json::Null => b.append_null(),
                Json::String(s) => b.append_value(s),
                _ => return Err(wrong("a string or null")),
            },
            Builder::Timestamp(b) => match v {
                Json::Null => b.append_null(),
                _ => b.append_value(v.as_i64().ok_or_else(|| wrong("an integer (µs) or null"))?),
            },
            Builder::Date(b) => match v {
                Json::Null => b.append_null(),
                _ => {
                    let d = v.as_i64().and_then(|d| i32::try_from(d).ok());
                    b.append_value(d.ok_or_else(|| wrong("an integer (days) or null"))?)
                }
            },
            Builder::Int32(b) => match v {
                Json::Null => b.append_null(),
                _ => {
                    let d = v.as_i64().and_then(|d| i32::try_from(d).ok());
                    b.append_value(d.ok_or_else(|| wrong("a 32-bit integer or null"))?)
                }
            },
            Builder::TextList(b) => match v {
                Json::Null => b.append_null(),
                Json::Array(items) => {
                    for item in items {
                        match item {
                            Json::String(s) => b.values().append_value(s),
                            Json::Null => b.values().append_null(),
                            _ => return Err(wrong("an array of strings or null")),
                        }
                    }
                    b.append(true);
                }
                _ => return Err(wrong("an array of strings or null")),
            },
            Builder::Attachments(b) => match v {
                Json::Null => b.append_null(),
                Json::Array(items) => {
                    for item in items {
                        let expected = "an array of {uri, digest} objects or null";
                        let s = b.values();
                        if item.is_null() {
                            for i in 0..2 {
                                s.field_builder::<StringBuilder>(i)
                                    .ok_or_else(|| wrong(expected))?
                                    .append_null();
                            }
                            s.append(false);
                            continue;
                        }
                        let obj = item.as_object().ok_or_else(|| wrong(expected))?;
                        for (i, key) in ["uri", "digest"].into_iter().enumerate() {
                            let f = s
                                .field_builder::<StringBuilder>(i)
                                .ok_or_else(|| wrong(expected))?;
                            match obj.get(key) {
                                Some(Json::String(t)) => f.append_value(t),
                                Some(Json::Null) | None => f.append_null(),
                                Some(_) => return Err(wrong(expected)),
                            }
                        }
                        s.append(true);
                    }
                    b.append(true);
                }
                _ => return Err(wrong("an array of {uri, digest} objects or null")),
            },
        }
        Ok(())
    }

    fn finish(self) -> ArrayRef {
        match self {
            Builder::Text(mut b) => Arc::new(b.finish()),
            Builder::Timestamp(mut b) => Arc::new(b.finish()),
            Builder::Date(mut b) => Arc::new(b.finish()),
            Builder::Int32(mut b) => Arc::new(b.finish()),
            Builder::TextList(mut b) => Arc::new(b.finish()),
            Builder::Attachments(mut b) => Arc::new(b.finish()),
        }
    }
}

/// Builds a record batch of `kind` from JSON objects. A missing key is a null.
pub fn batch_from_json(kind: Kind, records: &[Json]) -> Result<RecordBatch, JsonError> {
    let specs = kind.fields();
    let mut builders: Vec<Builder> = specs.iter().map(Builder::new).collect();
    for (row, rec) in records.iter().enumerate() {
        let obj = rec.as_object().ok_or(JsonError::NotAnObject { row })?;
        if let Some(key) = obj.keys().find(|k| kind.field_index(k).is_none()) {
            return Err(JsonError::UnknownColumn {
                row,
                key: key.clone(),
                kind,
            });
        }
        for (spec, b) in specs.iter().zip(builders.iter_mut()) {
            b.append(obj.get(spec.name).unwrap_or(&Json::Null), row, spec)?;
        }
    }
    let arrays: Vec<ArrayRef> = builders.into_iter().map(Builder::finish).collect();
    RecordBatch::try_new(kind.arrow_schema(), arrays).map_err(|e| JsonError::Arrow(e.to_string()))
}

/// Appends the canonical encoding (SPEC.md section 3) of one record given in
/// its JSON form to `out`, straight from the JSON values (no Arrow batch),
/// and returns its padded length. The bytes are exactly those of
/// [`batch_from_json`] then [`encode_row`](crate::encode_row), and the same
/// records are refused for the same reasons (errors name row 0): an unknown
/// key, or a value of the wrong JSON type; a missing key is a null. On an
/// error, `out` is left as it was.
///
/// ```
/// use proofmark_schemas::{Kind, encode_json};
///
/// let record = serde_json::json!({"record_id": "r1", "lot_id": "L1", "org_id": "o",
///     "event_time": 0, "event_type": "arrived", "location": ""});
/// let mut out = Vec::new();
/// let len = encode_json(Kind::Logistics, record.as_object().expect("an object"), &mut out)?;
/// assert_eq!((len, &out[..6]), (64, &[1u8, 3, 55, 0, 0, 0][..]));
/// # Ok::<(), proofmark_schemas::JsonError>(())
/// ```
///
/// # Errors
///
/// [`JsonError::UnknownColumn`] and [`JsonError::WrongType`].
pub fn encode_json(
    kind: Kind,
    record: &Map<String, Json>,
    out: &mut Vec<u8>,
) -> Result<usize, JsonError> {
    let fields = kind.fields();
    let mut values: [Option<&Json>; MAX_COLUMNS] = [None; MAX_COLUMNS];
    if !values_by_merge(kind, record, &mut values) {
        // Keys not in byte order (a map that keeps insertion order) or an
        // unknown key: look each column up.
        if let Some(key) = record.keys().find(|k| kind.field_index(k).is_none()) {
            return Err(JsonError::UnknownColumn {
                row: 0,
                key: key.clone(),
                kind,
            });
        }
        for (slot, spec) in values.iter_mut().zip(fields) {
            *slot = record.get(spec.name);
        }
    }
    let start = out.len();
    out.extend_from_slice(&[crate::encode::ENCODING_VERSION, kind.code(), 0, 0, 0, 0]);
    for (spec, value) in fields.iter().zip(values) {
        if let Err(e) = encode_json_value(value.unwrap_or(&Json::Null), spec, out) {
            out.truncate(start);
            return Err(e);
        }
    }
    let len = out.len() - start;
    let len32 = u32::try_from(len).unwrap_or(u32::MAX);
    out[start + 2..start + 6].copy_from_slice(&len32.to_le_bytes());
    let padded = crate::encode::padded_len(len);
    out.resize(start + padded, 0);
    Ok(padded)
}

/// More columns than any kind has (production has 19): the size of the
/// per-record array of values.
const MAX_COLUMNS: usize = 32;

/// Each kind's column positions, in byte order of the columns' names.
fn columns_by_name(kind: Kind) -> &'static [usize] {
    static ORDERS: OnceLock<[Vec<usize>; 4]> = OnceLock::new();
    let all = ORDERS.get_or_init(|| {
        Kind::ALL.map(|k| {
            let mut order: Vec<usize> = (0..k.fields().len()).collect();
            order.sort_by_key(|&i| k.fields()[i].name);
            order
        })
    });
    &all[usize::from(kind.code() - 1)]
}

/// Places `record`'s values by column position in one pass over its keys and
/// the kind's columns, both in byte order (a map sorted by key). False when
/// a key is not a column or the keys are not sorted: then nothing is known
/// and the caller looks each column up instead.
fn values_by_merge<'a>(
    kind: Kind,
    record: &'a Map<String, Json>,
    values: &mut [Option<&'a Json>; MAX_COLUMNS],
) -> bool {
    let fields = kind.fields();
    let mut columns = columns_by_name(kind).iter().copied();
    for (key, value) in record {
        // Columns before the key are not given (they encode as null).
        let Some(i) = columns.find(|&i| fields[i].name >= key.as_str()) else {
            return false;
        };
        match values.get_mut(i) {
            Some(slot) if fields[i].name == key.as_str() => *slot = Some(value),
            _ => return false,
        }
    }
    true
}

#[inline]
fn put_json_text(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// One column's presence byte and value bytes, with the checks of
/// [`Builder::append`].
fn encode_json_value(v: &Json, spec: &FieldSpec, out: &mut Vec<u8>) -> Result<(), JsonError> {
    use crate::encode::{NULL, PRESENT};
    let wrong = |expected| JsonError::WrongType {
        row: 0,
        column: spec.name,
        expected,
    };
    if v.is_null() {
        out.push(NULL);
        return Ok(());
    }
    match spec.ty {
        FieldType::Text => {
            let s = v.as_str().ok_or_else(|| wrong("a string or null"))?;
            out.push(PRESENT);
            put_json_text(out, s);
        }
        FieldType::Timestamp => {
            let t = v.as_i64().ok_or_else(|| wrong("an integer (µs) or null"))?;
            out.push(PRESENT);
            out.extend_from_slice(&t.to_le_bytes());
        }
        FieldType::Date | FieldType::Int32 => {
            let expected = if spec.ty == FieldType::Date {
                "an integer (days) or null"
            } else {
                "a 32-bit integer or null"
            };
            let d = v.as_i64().and_then(|d| i32::try_from(d).ok());
            let d = d.ok_or_else(|| wrong(expected))?;
            out.push(PRESENT);
            out.extend_from_slice(&d.to_le_bytes());
        }
        FieldType::TextList => {
            let expected = "an array of strings or null";
            let items = v.as_array().ok_or_else(|| wrong(expected))?;
            out.push(PRESENT);
            out.extend_from_slice(&(items.len() as u32).to_le_bytes());
            for item in items {
                match item {
                    Json::String(s) => put_json_text(out, s),
                    // A null item (a defect) encodes as empty text.
                    Json::Null => put_json_text(out, ""),
                    _ => return Err(wrong(expected)),
                }
            }
        }
        FieldType::AttachmentList => {
            let expected = "an array of {uri, digest} objects or null";
            let items = v.as_array().ok_or_else(|| wrong(expected))?;
            out.push(PRESENT);
            out.extend_from_slice(&(items.len() as u32).to_le_bytes());
            for item in items {
                if item.is_null() {
                    put_json_text(out, "");
                    put_json_text(out, "");
                    continue;
                }
                let obj = item.as_object().ok_or_else(|| wrong(expected))?;
                for key in ["uri", "digest"] {
                    match obj.get(key) {
                        Some(Json::String(t)) => put_json_text(out, t),
                        Some(Json::Null) | None => put_json_text(out, ""),
                        Some(_) => return Err(wrong(expected)),
                    }
                }
            }
        }
    }
    Ok(())
}

/// The JSON object of row `row` of a bound batch, keys in schema order.
pub fn row_to_json(view: &RecordView<'_>, row: usize) -> Map<String, Json> {
    let mut map = Map::new();
    for (spec, column) in view.kind().fields().iter().zip(view.columns()) {
        map.insert(spec.name.to_owned(), column_value_json(column, row));
    }
    map
}

/// Writes row `row` of `view` as a JSON object into `out`: byte for byte the text of
/// `serde_json::to_string(&row_to_json(view, row))` (compact, keys in byte order), without
/// building the map. For rejected rows, written once each.
pub fn write_row_json(view: &RecordView<'_>, row: usize, out: &mut Vec<u8>) {
    let fields = view.kind().fields();
    out.push(b'{');
    for (n, &i) in key_order(view.kind()).iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_json_str(fields[i].name, out);
        out.push(b':');
        write_column_json(view.column(i), row, out);
    }
    out.push(b'}');
}

/// The column indices of `kind` in the byte order of their names: the key
/// order of a JSON map of its columns (computed once per kind).
fn key_order(kind: Kind) -> &'static [usize] {
    static KEY_ORDER: std::sync::LazyLock<[Vec<usize>; 4]> = std::sync::LazyLock::new(|| {
        Kind::ALL.map(|kind| {
            let fields = kind.fields();
            let mut order: Vec<usize> = (0..fields.len()).collect();
            order.sort_unstable_by_key(|&i| fields[i].name);
            order
        })
    });
    &KEY_ORDER[usize::from(kind.code() - 1)]
}

/// Writes a decoded record's values as a JSON object into `out`: byte for byte the text of
/// `serde_json::to_string` of the map of [`value_to_json`] of each value by column name
/// (compact, keys in byte order), without building the map.
pub fn write_decoded_json(record: &DecodedRef<'_>, out: &mut Vec<u8>) {
    let fields = record.kind.fields();
    out.push(b'{');
    for (n, &i) in key_order(record.kind).iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_json_str(fields[i].name, out);
        out.push(b':');
        match record.values.get(i) {
            Some(v) => write_value_ref_json(v, out),
            None => out.extend_from_slice(b"null"),
        }
    }
    out.push(b'}');
}

fn write_value_ref_json(value: &ValueRef<'_>, out: &mut Vec<u8>) {
    let mut int = itoa::Buffer::new();
    match value {
        ValueRef::Null => out.extend_from_slice(b"null"),
        ValueRef::Text(s) => write_json_str(s, out),
        ValueRef::Timestamp(t) => out.extend_from_slice(int.format(*t).as_bytes()),
        ValueRef::Date(d) => out.extend_from_slice(int.format(*d).as_bytes()),
        ValueRef::Int32(i) => out.extend_from_slice(int.format(*i).as_bytes()),
        ValueRef::TextList(items) => write_json_array(out, items, |out, s| write_json_str(s, out)),
        ValueRef::Attachments(items) => write_json_array(out, items, |out, (uri, digest)| {
            // Keys in byte order, as a map gives them.
            out.extend_from_slice(b"{\"digest\":");
            write_json_str(digest, out);
            out.extend_from_slice(b",\"uri\":");
            write_json_str(uri, out);
            out.push(b'}');
        }),
    }
}

fn write_opt_text(a: &arrow_array::StringArray, i: usize, out: &mut Vec<u8>) {
    if a.is_valid(i) {
        write_json_str(a.value(i), out);
    } else {
        out.extend_from_slice(b"null");
    }
}

fn write_column_json(column: &Column<'_>, row: usize, out: &mut Vec<u8>) {
    if column.is_null(row) {
        out.extend_from_slice(b"null");
        return;
    }
    let mut int = itoa::Buffer::new();
    match column {
        Column::Text(_) | Column::TextDict { .. } => {
            write_json_str(column.text(row).unwrap_or_default(), out)
        }
        Column::Timestamp(a) => out.extend_from_slice(int.format(a.value(row)).as_bytes()),
        Column::Date(a) => out.extend_from_slice(int.format(a.value(row)).as_bytes()),
        Column::Int32(a) => out.extend_from_slice(int.format(a.value(row)).as_bytes()),
        Column::TextList { items, .. } => {
            out.push(b'[');
            for (n, i) in column.list_range(row).enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                write_opt_text(items, i, out);
            }
            out.push(b']');
        }
        Column::AttachmentList {
            items, uri, digest, ..
        } => {
            out.push(b'[');
            for (n, i) in column.list_range(row).enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                if items.is_null(i) {
                    out.extend_from_slice(b"null");
                    continue;
                }
                // Keys in byte order, as a map gives them.
                out.extend_from_slice(b"{\"digest\":");
                write_opt_text(digest, i, out);
                out.extend_from_slice(b",\"uri\":");
                write_opt_text(uri, i, out);
                out.push(b'}');
            }
            out.push(b']');
        }
    }
}

/// Whether no byte of `bytes` needs escaping in JSON (a control byte, `"` or `\\`), eight
/// bytes at a time.
fn plain(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Some byte of `x` is below `n` (for n <= 0x80): the classic SWAR test.
    let has_below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH != 0;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w);
        // A control byte, a quote (xor makes it zero), a backslash.
        if has_below(x, 0x20)
            || has_below(x ^ (ONES * u64::from(b'"')), 1)
            || has_below(x ^ (ONES * u64::from(b'\\')), 1)
        {
            return false;
        }
    }
    chunks
        .remainder()
        .iter()
        .all(|&b| b >= 0x20 && b != b'"' && b != b'\\')
}

/// Writes `items` as a JSON array, each item by `write_item`, comma-separated, no
/// whitespace (as `serde_json` writes arrays).
pub fn write_json_array<T>(
    out: &mut Vec<u8>,
    items: impl IntoIterator<Item = T>,
    mut write_item: impl FnMut(&mut Vec<u8>, T),
) {
    out.push(b'[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_item(out, item);
    }
    out.push(b']');
}

/// Writes `s` as a JSON string, escaped exactly as `serde_json` escapes it: `"` and `\`,
/// the short escapes `\b \t \n \f \r`, and `\u00xx` (lowercase hex) for the other control
/// bytes; everything else as it is.
pub fn write_json_str(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if plain(bytes) {
        // Hex digests, codes and most text: copied whole.
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x09 => b't',
            0x0a => b'n',
            0x0c => b'f',
            0x0d => b'r',
            0x00..=0x1f => b'u',
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.push(b'\\');
        out.push(short);
        if short == b'u' {
            out.extend_from_slice(b"00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn opt_text(a: &arrow_array::StringArray, i: usize) -> Json {
    if a.is_valid(i) {
        Json::String(a.value(i).to_owned())
    } else {
        Json::Null
    }
}

fn column_value_json(column: &Column<'_>, row: usize) -> Json {
    if column.is_null(row) {
        return Json::Null;
    }
    match column {
        Column::Text(_) | Column::TextDict { .. } => {
            Json::String(column.text(row).unwrap_or_default().to_owned())
        }
        Column::Timestamp(a) => Json::from(a.value(row)),
        Column::Date(a) => Json::from(a.value(row)),
        Column::Int32(a) => Json::from(a.value(row)),
        Column::TextList { items, .. } => {
            Json::Array(column.list_range(row).map(|i| opt_text(items, i)).collect())
        }
        Column::AttachmentList {
            items, uri, digest, ..
        } => Json::Array(
            column
                .list_range(row)
                .map(|i| {
                    if items.is_null(i) {
                        return Json::Null;
                    }
                    let mut m = Map::new();
                    m.insert("uri".into(), opt_text(uri, i));
                    m.insert("digest".into(), opt_text(digest, i));
                    Json::Object(m)
                })
                .collect(),
        ),
    }
}

/// The JSON form of a decoded value.
pub fn value_to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Text(s) => Json::String(s.clone()),
        Value::Timestamp(t) => Json::from(*t),
        Value::Date(d) => Json::from(*d),
        Value::Int32(i) => Json::from(*i),
        Value::TextList(items) => Json::Array(items.iter().cloned().map(Json::String).collect()),
        Value::Attachments(items) => Json::Array(
            items
                .iter()
                .map(|(u, d)| {
                    let mut m = Map::new();
                    m.insert("uri".into(), Json::String(u.clone()));
                    m.insert("digest".into(), Json::String(d.clone()));
                    Json::Object(m)
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_fits_the_values_array() {
        for kind in Kind::ALL {
            assert!(kind.fields().len() <= MAX_COLUMNS, "{kind:?}");
            let order = columns_by_name(kind);
            assert_eq!(order.len(), kind.fields().len());
            assert!(
                order
                    .windows(2)
                    .all(|w| kind.fields()[w[0]].name < kind.fields()[w[1]].name)
            );
        }
    }
}
