//! The canonical record encoding, version 1 (`schemas/SPEC.md`, section 3).
//!
//! A record's canonical bytes are a 6-byte header (version, kind, unpadded
//! length), then every column in schema order (a presence byte, then the
//! value), then zero bytes up to a whole number of 64-byte blocks. The padding
//! lets records with the same block count be hashed many at once in SIMD lanes.

use crate::columns::{Column, RecordView};
use crate::error::DecodeError;
use crate::kind::{FieldType, Kind};

/// The version byte of this encoding.
pub const ENCODING_VERSION: u8 = 1;
/// Encodings are zero-padded to a multiple of this many bytes.
pub const BLOCK_LEN: usize = 64;
/// Length of the header: version (1), kind (1), unpadded length (u32 LE).
pub const HEADER_LEN: usize = 6;
/// Presence byte of a null value.
pub const NULL: u8 = 0;
/// Presence byte of a present value.
pub const PRESENT: u8 = 1;

/// Appends the canonical encoding of `row` to `out` and returns its padded
/// length in bytes (a multiple of [`BLOCK_LEN`]).
///
/// The encoding is total: it never fails and never allocates beyond growing
/// `out`. Rows with defects (see [`crate::validate`]) still encode (a null
/// item inside a list encodes as empty text), but are rejected before hashing.
#[inline]
pub fn encode_row(view: &RecordView<'_>, row: usize, out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[ENCODING_VERSION, view.kind().code(), 0, 0, 0, 0]);
    for column in view.columns() {
        encode_value(column, row, out);
    }
    let len = out.len() - start;
    let len32 = u32::try_from(len).unwrap_or(u32::MAX);
    out[start + 2..start + 6].copy_from_slice(&len32.to_le_bytes());
    let padded = padded_len(len);
    out.resize(start + padded, 0);
    padded
}

/// The padded length of an encoding whose unpadded length is `len`.
#[inline]
pub const fn padded_len(len: usize) -> usize {
    len.div_ceil(BLOCK_LEN) * BLOCK_LEN
}

#[inline]
fn put_text(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// `N` bytes of `values` from `start`, if there are that many.
#[inline]
fn window<const N: usize>(values: &[u8], start: usize) -> Option<&[u8; N]> {
    values.get(start..start.checked_add(N)?)?.try_into().ok()
}

/// Appends text `row` of `a` (its length, then its bytes). Short values are copied as one
/// fixed 16- or 32-byte window of the values buffer, then cut to length: a plain copy of a
/// few bytes is mostly the cost of calling `memcpy`, and most values are short.
#[inline(always)]
fn put_text_of(out: &mut Vec<u8>, a: &arrow_array::StringArray, row: usize) {
    let offsets = a.value_offsets();
    let start = offsets[row] as usize;
    let len = (offsets[row + 1] - offsets[row]) as usize;
    let values = a.value_data();
    out.extend_from_slice(&(len as u32).to_le_bytes());
    let at = out.len();
    if len <= 16 {
        if let Some(w) = window::<16>(values, start) {
            out.extend_from_slice(w);
            out.truncate(at + len);
            return;
        }
    } else if len <= 32
        && let Some(w) = window::<32>(values, start)
    {
        out.extend_from_slice(w);
        out.truncate(at + len);
        return;
    }
    out.extend_from_slice(&values[start..start + len]);
}

#[inline]
fn encode_value(column: &Column<'_>, row: usize, out: &mut Vec<u8>) {
    if column.is_null(row) {
        out.push(NULL);
        return;
    }
    out.push(PRESENT);
    match column {
        Column::Text(a) => put_text_of(out, a, row),
        Column::TextDict { keys, values } => {
            put_text_of(out, values, crate::columns::dict_key(keys, row))
        }
        Column::Timestamp(a) => out.extend_from_slice(&a.value(row).to_le_bytes()),
        Column::Date(a) => out.extend_from_slice(&a.value(row).to_le_bytes()),
        Column::Int32(a) => out.extend_from_slice(&a.value(row).to_le_bytes()),
        Column::TextList { items, .. } => {
            let range = column.list_range(row);
            out.extend_from_slice(&(range.len() as u32).to_le_bytes());
            for i in range {
                put_text(
                    out,
                    if items.is_valid(i) {
                        items.value(i)
                    } else {
                        ""
                    },
                );
            }
        }
        Column::AttachmentList {
            items, uri, digest, ..
        } => {
            let range = column.list_range(row);
            out.extend_from_slice(&(range.len() as u32).to_le_bytes());
            for i in range {
                let item = items.is_valid(i);
                put_text(
                    out,
                    if item && uri.is_valid(i) {
                        uri.value(i)
                    } else {
                        ""
                    },
                );
                put_text(
                    out,
                    if item && digest.is_valid(i) {
                        digest.value(i)
                    } else {
                        ""
                    },
                );
            }
        }
    }
}

use arrow_array::Array;

/// One decoded column value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A null.
    Null,
    /// Text.
    Text(String),
    /// Microseconds since the epoch, UTC.
    Timestamp(i64),
    /// Days since the epoch.
    Date(i32),
    /// A 32-bit integer.
    Int32(i32),
    /// A list of texts.
    TextList(Vec<String>),
    /// A list of `(uri, digest)` attachments.
    Attachments(Vec<(String, String)>),
}

/// A decoded canonical record: its kind and its values in schema order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedRecord {
    /// The record's kind.
    pub kind: Kind,
    /// One value per column of the kind, in schema order.
    pub values: Vec<Value>,
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(DecodeError::Truncated {
            offset: self.bytes.len(),
        })?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn text(&mut self) -> Result<&'a str, DecodeError> {
        let len = self.u32()? as usize;
        let offset = self.pos;
        let raw = self.take(len)?;
        std::str::from_utf8(raw).map_err(|_| DecodeError::BadUtf8 { offset })
    }
}

/// One decoded column value, borrowing its text from the canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueRef<'a> {
    /// A null.
    Null,
    /// Text.
    Text(&'a str),
    /// Microseconds since the epoch, UTC.
    Timestamp(i64),
    /// Days since the epoch.
    Date(i32),
    /// A 32-bit integer.
    Int32(i32),
    /// A list of texts.
    TextList(Vec<&'a str>),
    /// A list of `(uri, digest)` attachments.
    Attachments(Vec<(&'a str, &'a str)>),
}

impl ValueRef<'_> {
    /// The owned value.
    pub fn to_value(&self) -> Value {
        match self {
            ValueRef::Null => Value::Null,
            ValueRef::Text(s) => Value::Text((*s).to_owned()),
            ValueRef::Timestamp(t) => Value::Timestamp(*t),
            ValueRef::Date(d) => Value::Date(*d),
            ValueRef::Int32(i) => Value::Int32(*i),
            ValueRef::TextList(items) => {
                Value::TextList(items.iter().map(|s| (*s).to_owned()).collect())
            }
            ValueRef::Attachments(items) => Value::Attachments(
                items
                    .iter()
                    .map(|(u, d)| ((*u).to_owned(), (*d).to_owned()))
                    .collect(),
            ),
        }
    }

    /// The text, if this is a text value.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            ValueRef::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// A decoded canonical record whose texts borrow from its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedRef<'a> {
    /// The record's kind.
    pub kind: Kind,
    /// One value per column of the kind, in schema order.
    pub values: Vec<ValueRef<'a>>,
}

impl DecodedRef<'_> {
    /// The value of column `name`, if the kind has it.
    pub fn get(&self, name: &str) -> Option<&ValueRef<'_>> {
        let i = self.kind.fields().iter().position(|f| f.name == name)?;
        self.values.get(i)
    }

    /// The owned record.
    pub fn to_owned_record(&self) -> DecodedRecord {
        DecodedRecord {
            kind: self.kind,
            values: self.values.iter().map(ValueRef::to_value).collect(),
        }
    }
}

/// Decodes canonical bytes back into values, checking the header, every
/// presence byte, UTF-8, the stated length and the zero padding to a whole block.
pub fn decode(bytes: &[u8]) -> Result<DecodedRecord, DecodeError> {
    decode_ref(bytes).map(|r| r.to_owned_record())
}

/// [`decode`] without copying: the texts borrow from `bytes`. The same
/// checks, the same errors.
pub fn decode_ref(bytes: &[u8]) -> Result<DecodedRef<'_>, DecodeError> {
    let mut r = Reader { bytes, pos: 0 };
    let [version, kind_byte] = r.array::<2>()?;
    if version != ENCODING_VERSION {
        return Err(DecodeError::UnknownVersion(version));
    }
    let kind = Kind::from_code(kind_byte).ok_or(DecodeError::UnknownKind(kind_byte))?;
    let stated = r.u32()? as usize;
    if stated < HEADER_LEN {
        return Err(DecodeError::BadLength(
            "stated length is shorter than the header",
        ));
    }
    if stated > bytes.len() {
        return Err(DecodeError::Truncated {
            offset: bytes.len(),
        });
    }
    let mut values = Vec::with_capacity(kind.fields().len());
    for spec in kind.fields() {
        let offset = r.pos;
        let [presence] = r.array::<1>()?;
        let value = match presence {
            NULL => ValueRef::Null,
            PRESENT => match spec.ty {
                FieldType::Text => ValueRef::Text(r.text()?),
                FieldType::Timestamp => ValueRef::Timestamp(i64::from_le_bytes(r.array()?)),
                FieldType::Date => ValueRef::Date(i32::from_le_bytes(r.array()?)),
                FieldType::Int32 => ValueRef::Int32(i32::from_le_bytes(r.array()?)),
                FieldType::TextList => {
                    let n = r.u32()? as usize;
                    let mut items = Vec::with_capacity(n.min(1024));
                    for _ in 0..n {
                        items.push(r.text()?);
                    }
                    ValueRef::TextList(items)
                }
                FieldType::AttachmentList => {
                    let n = r.u32()? as usize;
                    let mut items = Vec::with_capacity(n.min(1024));
                    for _ in 0..n {
                        items.push((r.text()?, r.text()?));
                    }
                    ValueRef::Attachments(items)
                }
            },
            byte => return Err(DecodeError::BadPresence { byte, offset }),
        };
        values.push(value);
    }
    if r.pos != stated {
        return Err(DecodeError::BadLength(
            "stated length differs from the encoded fields",
        ));
    }
    if bytes.len() != padded_len(stated) {
        return Err(DecodeError::BadLength(
            "total length is not the stated length padded to a whole 64-byte block",
        ));
    }
    if bytes[stated..].iter().any(|&b| b != 0) {
        return Err(DecodeError::BadLength("padding bytes are not zero"));
    }
    Ok(DecodedRef { kind, values })
}
