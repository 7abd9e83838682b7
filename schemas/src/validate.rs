//! Row validation: every defect of every row of a bound batch, each naming its
//! row, column and a stable reason code (`schemas/SPEC.md`, section 2).
//!
//! Validation never drops a row silently: callers keep rejected rows with
//! their defects (the batch's rejects), and accept the others.

use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use arrow_array::Array;
use arrow_buffer::NullBuffer;

use crate::columns::{Column, RecordView};
use crate::country::is_iso_3166_alpha2;
use crate::kind::{FieldSpec, FieldType, Kind, MAX_LIST_ITEM_LEN, MAX_URI_LEN, Rule};

/// Microseconds in a day.
pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Facts about the batch that some checks need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationContext {
    /// The batch date, in days since 1970-01-01 (UTC).
    pub batch_date_days: i32,
}

impl ValidationContext {
    /// A context for the batch of date `batch_date_days` (days since the epoch).
    pub const fn for_batch_date(batch_date_days: i32) -> Self {
        ValidationContext { batch_date_days }
    }

    /// The first instant (µs since the epoch) that is too late for an event
    /// time: the end of the day after the batch date.
    pub const fn event_time_limit_us(&self) -> i64 {
        (self.batch_date_days as i64 + 2) * MICROS_PER_DAY
    }
}

/// The kind of a row defect. Its [`code`](DefectKind::code) is the stable
/// reason written to rejects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DefectKind {
    /// A null in a column that requires a value.
    MissingValue,
    /// Neither `code` nor `lot_id` is present.
    NoSubject,
    /// A `code` that breaks the code rules (length 6..=48, charset `[0-9A-Za-z._-]`).
    MalformedCode,
    /// A `lot_id` that breaks the lot id rules (length 1..=64, same charset).
    MalformedLotId,
    /// An identifier that is empty or has a byte outside 0x21..=0x7E.
    MalformedIdentifier,
    /// A GTIN of the wrong length, with a non-digit or a wrong check digit.
    BadGtin,
    /// A country that is not an assigned ISO 3166-1 alpha-2 code.
    BadCountry,
    /// An HS code that is not 6 to 10 digits.
    MalformedHsCode,
    /// A digest that is not `sha256:` or `blake3:` and 64 lowercase hex digits.
    MalformedDigest,
    /// A value outside the column's closed set.
    UnknownEnumValue,
    /// Text longer than the column's limit.
    TooLong,
    /// A list with more items than the column's limit.
    TooManyItems,
    /// A null item inside a list.
    NullListItem,
    /// A negative number where only non-negative ones are allowed.
    NegativeValue,
    /// A time before 1970 or more than a day after the batch date.
    TimeOutOfRange,
    /// `expiry_date` earlier than `production_date`.
    ExpiryBeforeProduction,
    /// `cleared_at` earlier than `declared_at`.
    ClearedBeforeDeclared,
    /// A `record_id` already seen earlier in the same file.
    DuplicateRecordId,
}

impl DefectKind {
    /// Every defect kind.
    pub const ALL: [DefectKind; 18] = [
        DefectKind::MissingValue,
        DefectKind::NoSubject,
        DefectKind::MalformedCode,
        DefectKind::MalformedLotId,
        DefectKind::MalformedIdentifier,
        DefectKind::BadGtin,
        DefectKind::BadCountry,
        DefectKind::MalformedHsCode,
        DefectKind::MalformedDigest,
        DefectKind::UnknownEnumValue,
        DefectKind::TooLong,
        DefectKind::TooManyItems,
        DefectKind::NullListItem,
        DefectKind::NegativeValue,
        DefectKind::TimeOutOfRange,
        DefectKind::ExpiryBeforeProduction,
        DefectKind::ClearedBeforeDeclared,
        DefectKind::DuplicateRecordId,
    ];

    /// The stable reason code (snake case) used in rejects and ground truth.
    pub const fn code(self) -> &'static str {
        match self {
            DefectKind::MissingValue => "missing_value",
            DefectKind::NoSubject => "no_subject",
            DefectKind::MalformedCode => "malformed_code",
            DefectKind::MalformedLotId => "malformed_lot_id",
            DefectKind::MalformedIdentifier => "malformed_identifier",
            DefectKind::BadGtin => "bad_gtin",
            DefectKind::BadCountry => "bad_country",
            DefectKind::MalformedHsCode => "malformed_hs_code",
            DefectKind::MalformedDigest => "malformed_digest",
            DefectKind::UnknownEnumValue => "unknown_enum_value",
            DefectKind::TooLong => "too_long",
            DefectKind::TooManyItems => "too_many_items",
            DefectKind::NullListItem => "null_list_item",
            DefectKind::NegativeValue => "negative_value",
            DefectKind::TimeOutOfRange => "time_out_of_range",
            DefectKind::ExpiryBeforeProduction => "expiry_before_production",
            DefectKind::ClearedBeforeDeclared => "cleared_before_declared",
            DefectKind::DuplicateRecordId => "duplicate_record_id",
        }
    }

    /// The defect kind with reason code `code`.
    pub fn from_code(code: &str) -> Option<DefectKind> {
        DefectKind::ALL.into_iter().find(|d| d.code() == code)
    }
}

impl fmt::Display for DefectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One defect of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Defect {
    /// Row index within the batch.
    pub row: u32,
    /// The column at fault (for row-level defects, the first column involved).
    pub column: &'static str,
    /// What is wrong.
    pub kind: DefectKind,
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}: column {}: {}", self.row, self.column, self.kind)
    }
}

/// The outcome of validating a batch: every defect, sorted by row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validation {
    defects: Vec<Defect>,
    rejected: Vec<bool>,
    rejected_count: usize,
}

impl Validation {
    /// Every defect, sorted by row, then column order, then kind.
    pub fn defects(&self) -> &[Defect] {
        &self.defects
    }

    /// Whether `row` has at least one defect.
    #[inline]
    pub fn is_rejected(&self, row: usize) -> bool {
        self.rejected.get(row).copied().unwrap_or(false)
    }

    /// Number of rows with at least one defect.
    pub fn rejected_count(&self) -> usize {
        self.rejected_count
    }

    /// Number of rows validated.
    pub fn num_rows(&self) -> usize {
        self.rejected.len()
    }

    /// The defects of `row` (empty when the row is accepted).
    pub fn defects_of(&self, row: usize) -> &[Defect] {
        let row = row as u32;
        let start = self.defects.partition_point(|d| d.row < row);
        let end = self.defects.partition_point(|d| d.row <= row);
        &self.defects[start..end]
    }
}

/// Pass-through hasher for keys that are already uniform hashes.
#[derive(Default)]
struct PrehashedHasher(u64);

impl Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

/// The 128-bit hash (XXH3-128) by which record ids are compared when looking for
/// duplicates: [`RecordIdTracker`] here, and the planner's bounded-memory scan of whole
/// files in `proofmark-ingest`. Not part of any output.
#[inline]
pub fn record_id_hash(id: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(id.as_bytes())
}

/// Remembers the record ids seen in one input file, to find duplicates across
/// the batches of that file. Holds 128-bit hashes (XXH3-128) of the ids, so
/// memory is 16 bytes (plus table overhead) per row, whatever the id length.
#[derive(Default)]
pub struct RecordIdTracker {
    seen: HashSet<u128, BuildHasherDefault<PrehashedHasher>>,
}

impl fmt::Debug for RecordIdTracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordIdTracker")
            .field("seen", &self.seen.len())
            .finish()
    }
}

impl RecordIdTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `id`; returns `false` when it was already seen.
    #[inline]
    pub fn insert(&mut self, id: &str) -> bool {
        self.seen.insert(record_id_hash(id))
    }

    /// Number of distinct ids seen.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether no id was seen yet.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// Whether `b` may appear in a code or lot id: `[0-9A-Za-z._-]`.
#[inline]
pub const fn is_code_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'
}

/// Whether `s` is a well-formed traceability code: 6..=48 bytes of `[0-9A-Za-z._-]`.
pub fn is_valid_code(s: &str) -> bool {
    (6..=48).contains(&s.len()) && s.bytes().all(is_code_byte)
}

/// Whether `s` is a well-formed lot id: 1..=64 bytes of `[0-9A-Za-z._-]`.
pub fn is_valid_lot_id(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(is_code_byte)
}

/// Whether `s` is a well-formed identifier: 1..=64 bytes in 0x21..=0x7E.
pub fn is_valid_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// The GS1 check digit of the digits `body` (everything but the check digit).
pub fn gs1_check_digit(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| u32::from(d - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Whether `s` is a GTIN-8, -12, -13 or -14 with a valid GS1 check digit.
pub fn is_valid_gtin(s: &str) -> bool {
    let b = s.as_bytes();
    matches!(b.len(), 8 | 12 | 13 | 14)
        && b.iter().all(u8::is_ascii_digit)
        && gs1_check_digit(&b[..b.len() - 1]) == b[b.len() - 1] - b'0'
}

/// Whether `s` is an HS code: 6 to 10 ASCII digits.
pub fn is_valid_hs_code(s: &str) -> bool {
    (6..=10).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` is a digest: `sha256:` or `blake3:` then 64 lowercase hex digits.
pub fn is_valid_digest(s: &str) -> bool {
    let hex = s
        .strip_prefix("sha256:")
        .or_else(|| s.strip_prefix("blake3:"));
    matches!(hex, Some(h) if h.len() == 64 && h.as_bytes().chunks_exact(8).fold(true, |all, c| {
        all & word_is_lower_hex(u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
    }))
}

/// Whether all eight bytes of `x` are lowercase hex digits (`0-9a-f`).
#[inline(always)]
const fn word_is_lower_hex(x: u64) -> bool {
    let low = x & !HIGH;
    let digit = bytes_at_least(low, b'0') & !bytes_at_least(low, b'9' + 1);
    let letter = bytes_at_least(low, b'a') & !bytes_at_least(low, b'f' + 1);
    x & HIGH == 0 && (digit | letter) == HIGH
}

fn check_text(rule: Rule, max_len: u32, s: &str) -> Option<DefectKind> {
    let rule_defect = match rule {
        Rule::Free | Rule::NonNegative => None,
        Rule::Identifier => (!is_valid_identifier(s)).then_some(DefectKind::MalformedIdentifier),
        Rule::Code => (!is_valid_code(s)).then_some(DefectKind::MalformedCode),
        Rule::LotId => (!is_valid_lot_id(s)).then_some(DefectKind::MalformedLotId),
        Rule::Gtin => (!is_valid_gtin(s)).then_some(DefectKind::BadGtin),
        Rule::Country => (!is_iso_3166_alpha2(s)).then_some(DefectKind::BadCountry),
        Rule::HsCode => (!is_valid_hs_code(s)).then_some(DefectKind::MalformedHsCode),
        Rule::Digest => (!is_valid_digest(s)).then_some(DefectKind::MalformedDigest),
        Rule::OneOf(values) => (!values.contains(&s)).then_some(DefectKind::UnknownEnumValue),
    };
    match rule {
        // Codes, lot ids and formats carry their own length rules.
        Rule::Code | Rule::LotId | Rule::Gtin | Rule::Country | Rule::HsCode | Rule::Digest => {
            rule_defect
        }
        _ if s.len() > max_len as usize => Some(DefectKind::TooLong),
        _ => rule_defect,
    }
}

/// Eight bytes of ones, and of the high bit: for the word-at-a-time byte tests below.
const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` (every byte below 0x80) that is at least `c`
/// (`c <= 0x80`): no byte's sum carries into the next.
#[inline(always)]
const fn bytes_at_least(x: u64, c: u8) -> u64 {
    x.wrapping_add(ONES * (0x80 - c as u64)) & HIGH
}

/// Whether all eight bytes of `x` are in 0x21..=0x7E: no byte below 0x21 (a borrow starts
/// only at such a byte), none above 0x7E (a carry starts only at 0xFF, itself above).
#[inline(always)]
const fn word_is_identifier(x: u64) -> bool {
    let below = x.wrapping_sub(ONES * 0x21) & !x;
    let above = x.wrapping_add(ONES) | x;
    (below | above) & HIGH == 0
}

/// Whether all eight bytes of `x` are in `[0-9A-Za-z._-]`.
#[inline(always)]
const fn word_is_code(x: u64) -> bool {
    let low = x & !HIGH;
    let digit = bytes_at_least(low, b'0') & !bytes_at_least(low, b'9' + 1);
    let folded = low | (ONES * 0x20);
    let letter = bytes_at_least(folded, b'a') & !bytes_at_least(folded, b'z' + 1);
    let dash_dot = bytes_at_least(low, b'-') & !bytes_at_least(low, b'/');
    // A byte equal to `_` is zero after the xor; adding 0x7F sets the high bit of every other.
    let underscore = !(low ^ (ONES * b'_' as u64)).wrapping_add(ONES * 0x7f) & HIGH;
    x & HIGH == 0 && (digit | letter | dash_dot | underscore) == HIGH
}

/// Whether every byte of `bytes` is in the byte class of `rule`, eight bytes at a time;
/// it stops at the first 256-byte block with a byte outside.
fn all_bytes_in_class(rule: Rule, bytes: &[u8]) -> bool {
    #[inline(always)]
    fn words(bytes: &[u8], ok: impl Fn(u64) -> bool) -> bool {
        let whole = |c: &[u8]| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        let mut blocks = bytes.chunks_exact(256);
        let blocks_ok = blocks.by_ref().all(|block| {
            block
                .chunks_exact(8)
                .fold(true, |all, c| all & ok(whole(c)))
        });
        let rest = blocks.remainder();
        let mut words = rest.chunks_exact(8);
        let words_ok = words.by_ref().fold(true, |all, c| all & ok(whole(c)));
        // The tail is padded with `0`, which every class here allows.
        let mut tail = [b'0'; 8];
        tail[..words.remainder().len()].copy_from_slice(words.remainder());
        blocks_ok && words_ok && ok(u64::from_le_bytes(tail))
    }
    match rule {
        Rule::Free => true,
        Rule::Identifier => words(bytes, word_is_identifier),
        Rule::Code | Rule::LotId => words(bytes, word_is_code),
        _ => false,
    }
}

/// Rows whose bytes are checked together by [`check_text_by_lengths`]: a value outside the
/// class sends only its block down the row-by-row path.
const ROW_BLOCK: usize = 64;

/// The checks of a text column whose rule depends only on the byte class and the length
/// (free text, identifiers, codes, lot ids). For each block of [`ROW_BLOCK`] rows whose
/// bytes are all in the class, each row's outcome follows from its length alone, read from
/// the offsets, exactly as [`check_text`] decides it; other blocks are checked row by row.
/// Returns `false` (and checks nothing) for other rules.
fn check_text_by_lengths(
    spec: &FieldSpec,
    a: &arrow_array::StringArray,
    rows: usize,
    push: &mut impl FnMut(usize, DefectKind),
) -> bool {
    if !matches!(
        spec.rule,
        Rule::Free | Rule::Identifier | Rule::Code | Rule::LotId
    ) {
        return false;
    }
    let offsets = a.value_offsets();
    if offsets.len() != rows + 1 {
        return false;
    }
    let data = a.value_data();
    // The allowed lengths `lo..=hi`, and the defect of a value shorter or longer.
    let max = spec.max_len as usize;
    let (lo, hi, short, long) = match spec.rule {
        Rule::Identifier => (1, max, DefectKind::MalformedIdentifier, DefectKind::TooLong),
        Rule::Code => (6, 48, DefectKind::MalformedCode, DefectKind::MalformedCode),
        Rule::LotId => (
            1,
            64,
            DefectKind::MalformedLotId,
            DefectKind::MalformedLotId,
        ),
        _ => (0, max, DefectKind::TooLong, DefectKind::TooLong),
    };
    let defect = |len: usize| {
        (len.wrapping_sub(lo) > hi.wrapping_sub(lo)).then_some(if len < lo { short } else { long })
    };
    let nulls = a.nulls();
    for start in (0..rows).step_by(ROW_BLOCK) {
        let end = (start + ROW_BLOCK).min(rows);
        let (lo, hi) = (offsets[start].max(0) as usize, offsets[end].max(0) as usize);
        let in_class = data
            .get(lo..hi)
            .is_some_and(|bytes| all_bytes_in_class(spec.rule, bytes));
        for row in start..end {
            let found = if in_class {
                defect((offsets[row + 1] - offsets[row]).max(0) as usize)
            } else if present(nulls, row) {
                check_text(spec.rule, spec.max_len, a.value(row))
            } else {
                None
            };
            if let Some(d) = found
                && present(nulls, row)
            {
                push(row, d);
            }
        }
    }
    true
}

/// A closed set of short texts, matched by length and the first and last eight bytes
/// (which are the whole value up to 16 bytes), then by comparison for longer values.
struct EnumMatcher {
    values: Vec<(usize, u64, u64, &'static str)>,
}

impl EnumMatcher {
    fn new(values: &[&'static str]) -> Self {
        Self {
            values: values
                .iter()
                .map(|v| {
                    let (head, tail) = Self::ends(v.as_bytes());
                    (v.len(), head, tail, *v)
                })
                .collect(),
        }
    }

    /// The first and last eight bytes (zero-padded when shorter).
    #[inline(always)]
    fn ends(b: &[u8]) -> (u64, u64) {
        if b.len() >= 8 {
            let head = u64::from_le_bytes(b[..8].try_into().unwrap_or_default());
            let tail = u64::from_le_bytes(b[b.len() - 8..].try_into().unwrap_or_default());
            (head, tail)
        } else {
            let mut w = [0u8; 8];
            w[..b.len()].copy_from_slice(b);
            (u64::from_le_bytes(w), 0)
        }
    }

    #[inline]
    fn contains(&self, s: &str) -> bool {
        let (head, tail) = Self::ends(s.as_bytes());
        self.values.iter().any(|&(len, h, t, v)| {
            len == s.len() && h == head && t == tail && (len <= 16 || v == s)
        })
    }
}

/// Validates every row of `view`. `ids` carries the record ids seen earlier
/// in the same file (use one tracker per input file, in row order).
pub fn validate(
    view: &RecordView<'_>,
    ctx: &ValidationContext,
    ids: &mut RecordIdTracker,
) -> Validation {
    validate_impl(view, ctx, Some(ids))
}

/// Validates every row of `view` like [`validate`], except the duplicate record id rule
/// (`duplicate_record_id`): for callers that know the file's duplicate rows from elsewhere
/// (the batch plan lists them per file, SPEC.md 8.1) and add those defects themselves.
pub fn validate_without_ids(view: &RecordView<'_>, ctx: &ValidationContext) -> Validation {
    validate_impl(view, ctx, None)
}

/// Whether the value at `row` is present, given a column's null buffer.
#[inline(always)]
fn present(nulls: Option<&NullBuffer>, row: usize) -> bool {
    nulls.is_none_or(|n| n.is_valid(row))
}

/// The checks of one column, over all rows: the column's type and rule are matched once,
/// then a tight loop runs over the rows (SPEC.md 2.3 and 2.4).
fn check_column(
    spec: &FieldSpec,
    column: &Column<'_>,
    rows: usize,
    time_limit: i64,
    date_limit: i32,
    push: &mut impl FnMut(usize, DefectKind),
) {
    let nulls = column.nulls();
    // Nulls first (in row order with the other defects after the final sort).
    if let Some(n) = nulls.filter(|n| n.null_count() > 0 && !spec.nullable) {
        for row in 0..rows {
            if n.is_null(row) {
                push(row, DefectKind::MissingValue);
            }
        }
    }
    match (spec.ty, column) {
        (FieldType::Text, Column::Text(a)) if check_text_by_lengths(spec, a, rows, push) => {}
        // Enums: the set is prepared once per column (measured faster than `check_text`'s
        // per-value comparison, which gives the same outcome: too long, then not in the set).
        (FieldType::Text, Column::Text(a)) if matches!(spec.rule, Rule::OneOf(_)) => {
            let Rule::OneOf(values) = spec.rule else {
                return;
            };
            let set = EnumMatcher::new(values);
            for row in 0..rows {
                if !present(nulls, row) {
                    continue;
                }
                let v = a.value(row);
                if v.len() > spec.max_len as usize {
                    push(row, DefectKind::TooLong);
                } else if !set.contains(v) {
                    push(row, DefectKind::UnknownEnumValue);
                }
            }
        }
        // A dictionary's texts are checked once each; rows take their key's outcome.
        (FieldType::Text, Column::TextDict { keys, values }) => {
            let outcome: Vec<Option<DefectKind>> = (0..values.len())
                .map(|k| check_text(spec.rule, spec.max_len, values.value(k)))
                .collect();
            if outcome.iter().all(Option::is_none) {
                return;
            }
            for (row, &k) in keys.values().iter().enumerate() {
                if let Some(Some(d)) = outcome.get(k.max(0) as usize)
                    && present(nulls, row)
                {
                    push(row, *d);
                }
            }
        }
        (FieldType::Text, Column::Text(a)) => {
            for row in 0..rows {
                if !present(nulls, row) {
                    continue;
                }
                if let Some(d) = check_text(spec.rule, spec.max_len, a.value(row)) {
                    push(row, d);
                }
            }
        }
        (FieldType::Timestamp, Column::Timestamp(a)) => {
            for (row, &t) in a.values().iter().enumerate() {
                if (t < 0 || t >= time_limit) && present(nulls, row) {
                    push(row, DefectKind::TimeOutOfRange);
                }
            }
        }
        // Production dates must be plausible; expiry dates may lie far ahead.
        (FieldType::Date, Column::Date(a)) if spec.name == "production_date" => {
            for (row, &d) in a.values().iter().enumerate() {
                if (d < 0 || d >= date_limit) && present(nulls, row) {
                    push(row, DefectKind::TimeOutOfRange);
                }
            }
        }
        (FieldType::Int32, Column::Int32(a)) if spec.rule == Rule::NonNegative => {
            for (row, &v) in a.values().iter().enumerate() {
                if v < 0 && present(nulls, row) {
                    push(row, DefectKind::NegativeValue);
                }
            }
        }
        (FieldType::TextList, Column::TextList { items, .. }) => {
            for row in 0..rows {
                if !present(nulls, row) {
                    continue;
                }
                let range = column.list_range(row);
                if range.len() > spec.max_len as usize {
                    push(row, DefectKind::TooManyItems);
                }
                if range.clone().any(|i| items.is_null(i)) {
                    push(row, DefectKind::NullListItem);
                } else if range
                    .into_iter()
                    .any(|i| items.value(i).len() > MAX_LIST_ITEM_LEN as usize)
                {
                    push(row, DefectKind::TooLong);
                }
            }
        }
        (
            FieldType::AttachmentList,
            Column::AttachmentList {
                items, uri, digest, ..
            },
        ) => {
            for row in 0..rows {
                if !present(nulls, row) {
                    continue;
                }
                let range = column.list_range(row);
                if range.len() > spec.max_len as usize {
                    push(row, DefectKind::TooManyItems);
                }
                if range
                    .clone()
                    .any(|i| items.is_null(i) || uri.is_null(i) || digest.is_null(i))
                {
                    push(row, DefectKind::NullListItem);
                } else {
                    if range
                        .clone()
                        .any(|i| uri.value(i).len() > MAX_URI_LEN as usize)
                    {
                        push(row, DefectKind::TooLong);
                    }
                    if range.into_iter().any(|i| !is_valid_digest(digest.value(i))) {
                        push(row, DefectKind::MalformedDigest);
                    }
                }
            }
        }
        // Other dates and integers have no value rule; types are checked when binding, so
        // a mismatch here cannot happen.
        _ => {}
    }
}

fn validate_impl(
    view: &RecordView<'_>,
    ctx: &ValidationContext,
    ids: Option<&mut RecordIdTracker>,
) -> Validation {
    let rows = view.num_rows();
    let mut defects = Vec::new();
    let time_limit = ctx.event_time_limit_us();
    let date_limit = ctx.batch_date_days.saturating_add(2);
    for (spec, column) in view.kind().fields().iter().zip(view.columns()) {
        let mut push = |row: usize, kind: DefectKind| {
            defects.push(Defect {
                row: row as u32,
                column: spec.name,
                kind,
            });
        };
        check_column(spec, column, rows, time_limit, date_limit, &mut push);
    }
    row_level_checks(view, ids, &mut defects);
    let mut rejected = vec![false; rows];
    if !defects.is_empty() {
        let kind = view.kind();
        defects.sort_unstable_by_key(|d| {
            let col = kind.field_index(d.column).unwrap_or(usize::MAX);
            (d.row, col, d.kind)
        });
        for d in &defects {
            rejected[d.row as usize] = true;
        }
    }
    let rejected_count = rejected.iter().filter(|&&r| r).count();
    Validation {
        defects,
        rejected,
        rejected_count,
    }
}

fn row_level_checks(
    view: &RecordView<'_>,
    ids: Option<&mut RecordIdTracker>,
    defects: &mut Vec<Defect>,
) {
    let kind = view.kind();
    let rows = view.num_rows();
    let at = |row: usize, column: &'static str, kind: DefectKind| Defect {
        row: row as u32,
        column,
        kind,
    };
    // A row has no subject when both `code` and `lot_id` are null.
    let (code_nulls, lot_nulls) = (view.column(1).nulls(), view.column(2).nulls());
    let has_nulls = |n: &&NullBuffer| n.null_count() > 0;
    if let (Some(c), Some(l)) = (code_nulls.filter(has_nulls), lot_nulls.filter(has_nulls)) {
        for row in 0..rows {
            if c.is_null(row) && l.is_null(row) {
                defects.push(at(row, "code", DefectKind::NoSubject));
            }
        }
    }
    if let Some(ids) = ids {
        for row in 0..rows {
            if let Some(id) = view.record_id(row)
                && !ids.insert(id)
            {
                defects.push(at(row, "record_id", DefectKind::DuplicateRecordId));
            }
        }
    }
    // Column pairs compared row by row, looked up once per batch.
    let pair = |a: &str, b: &str| {
        Some((
            *view.column(kind.field_index(a)?),
            *view.column(kind.field_index(b)?),
        ))
    };
    if let Some((Column::Date(p), Column::Date(e))) = match kind {
        Kind::Production => pair("production_date", "expiry_date"),
        _ => None,
    } {
        for row in 0..rows {
            if p.is_valid(row) && e.is_valid(row) && e.value(row) < p.value(row) {
                defects.push(at(row, "expiry_date", DefectKind::ExpiryBeforeProduction));
            }
        }
    }
    if let Some((Column::Timestamp(d), Column::Timestamp(c))) = match kind {
        Kind::Customs => pair("declared_at", "cleared_at"),
        _ => None,
    } {
        for row in 0..rows {
            if d.is_valid(row) && c.is_valid(row) && c.value(row) < d.value(row) {
                defects.push(at(row, "cleared_at", DefectKind::ClearedBeforeDeclared));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The length-only path gives exactly the row-by-row checks, or declines.
    #[test]
    fn text_checks_by_lengths_equal_the_row_checks() {
        let mixed: &[&str] = &[
            "",
            "a",
            "AB-12_x.9",
            "01234567890123456789",
            "has space",
            "é",
            "\u{7f}",
            "~!",
            "tab\t",
            "0123456789012345678901234567890123456789012345678", // 49 bytes
        ];
        // Only bytes every rule's class allows: whole blocks of rows then take the path that
        // looks at lengths alone, whose bounds must be the row checks' to the byte.
        let in_class: &[&str] = &[
            "",
            "7",
            "012345",
            "01234567890123456789",
            "0123456789012345678901234567890123456789012345678", // 49 bytes
        ];
        let mut seed = 7u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for case in 0..800 {
            let pieces = if case % 2 == 0 { mixed } else { in_class };
            let rows = (next() % 200) as usize;
            let values: Vec<Option<String>> = (0..rows)
                .map(|_| {
                    let n = next();
                    (n % 7 != 0).then(|| {
                        let mut v = String::new();
                        for k in 0..(n >> 8) % 4 {
                            v.push_str(
                                pieces[((n >> (16 + 4 * k)) % pieces.len() as u64) as usize],
                            );
                        }
                        v
                    })
                })
                .collect();
            let array = arrow_array::StringArray::from(values.clone());
            for (rule, max_len) in [
                (Rule::Identifier, 64),
                (Rule::Code, 48),
                (Rule::LotId, 64),
                (Rule::Free, 12),
            ] {
                let spec = FieldSpec {
                    name: "c",
                    ty: FieldType::Text,
                    nullable: true,
                    max_len,
                    rule,
                };
                let mut fast = Vec::new();
                let took =
                    check_text_by_lengths(&spec, &array, rows, &mut |r, d| fast.push((r, d)));
                let slow: Vec<(usize, DefectKind)> = values
                    .iter()
                    .enumerate()
                    .filter_map(|(r, v)| Some((r, check_text(rule, max_len, v.as_deref()?)?)))
                    .collect();
                assert!(took, "declined a byte-class rule: {rule:?}");
                assert_eq!(fast, slow, "case {case} {rule:?} {values:?}");
            }
        }
    }

    /// The word-at-a-time class tests equal the byte tests for every byte value at every
    /// position of a word of otherwise allowed bytes, and on strings of every length.
    #[test]
    fn word_class_tests_equal_byte_tests() {
        let identifier = |b: u8| (0x21..=0x7e).contains(&b);
        for pos in 0..8 {
            for b in 0..=255u8 {
                for fill in [b'0', b'z', b'-', b'_', b'.', b'A'] {
                    let mut w = [fill; 8];
                    w[pos] = b;
                    let x = u64::from_le_bytes(w);
                    assert_eq!(word_is_code(x), is_code_byte(b), "code {b:#x} at {pos}");
                    let hex_fill = if fill.is_ascii_hexdigit() && !fill.is_ascii_uppercase() {
                        fill
                    } else {
                        b'a'
                    };
                    let mut w = [hex_fill; 8];
                    w[pos] = b;
                    assert_eq!(
                        word_is_lower_hex(u64::from_le_bytes(w)),
                        matches!(b, b'0'..=b'9' | b'a'..=b'f'),
                        "hex {b:#x} at {pos}"
                    );
                    let mut w = [fill; 8];
                    w[pos] = b;
                    let x = u64::from_le_bytes(w);
                    assert_eq!(word_is_identifier(x), identifier(b), "id {b:#x} at {pos}");
                }
            }
        }
        for len in 0..300usize {
            for bad_at in [None, Some(0), Some(len / 2), Some(len.saturating_sub(1))] {
                let mut v: Vec<u8> = (0..len).map(|i| b"a0Z-_.9q"[i % 8]).collect();
                if let Some(i) = bad_at.filter(|_| len > 0) {
                    v[i] = b' ';
                }
                let want_code = v.iter().all(|&b| is_code_byte(b));
                let want_id = v.iter().all(|&b| identifier(b));
                assert_eq!(
                    all_bytes_in_class(Rule::Code, &v),
                    want_code,
                    "{len} {bad_at:?}"
                );
                assert_eq!(all_bytes_in_class(Rule::Identifier, &v), want_id, "{len}");
            }
        }
    }

    /// The enum matcher accepts exactly the set's values.
    #[test]
    fn enum_matcher_equals_contains() {
        for set in [
            crate::kind::LOGISTICS_EVENT_TYPES,
            crate::kind::INSPECTION_TYPES,
            crate::kind::INSPECTION_RESULTS,
            crate::kind::CUSTOMS_STATUSES,
        ] {
            let m = EnumMatcher::new(set);
            let mut probes: Vec<String> = Vec::new();
            for v in set.iter().chain(["", "x", "pas", "passs", "Pass"].iter()) {
                probes.push((*v).to_owned());
                for i in 0..v.len() {
                    let mut b = v.as_bytes().to_vec();
                    b[i] ^= 1;
                    probes.push(String::from_utf8_lossy(&b).into_owned());
                }
                probes.push(format!("{v}\0"));
                probes.push(v[..v.len().saturating_sub(1)].to_owned());
            }
            for p in &probes {
                assert_eq!(m.contains(p), set.contains(&p.as_str()), "{p:?}");
            }
        }
    }

    #[test]
    fn gtin_check_digits() {
        assert!(is_valid_gtin("4006381333931"));
        assert!(is_valid_gtin("96385074"));
        assert!(is_valid_gtin("036000291452"));
        assert!(is_valid_gtin("10614141000415"));
        assert!(!is_valid_gtin("4006381333932"));
        assert!(!is_valid_gtin("400638133393"));
        assert!(!is_valid_gtin("40063813339a1"));
        assert!(!is_valid_gtin(""));
    }

    #[test]
    fn code_and_identifier_rules() {
        assert!(is_valid_code("01234567890123456789"));
        assert!(is_valid_code("AB-12.c_9"));
        assert!(!is_valid_code("12345"));
        assert!(!is_valid_code(&"1".repeat(49)));
        assert!(!is_valid_code("ABC 123"));
        assert!(!is_valid_code("码码码码码码"));
        assert!(is_valid_lot_id("L"));
        assert!(!is_valid_lot_id(""));
        assert!(is_valid_identifier("rec:1/2"));
        assert!(!is_valid_identifier("rec 1"));
    }

    #[test]
    fn digests_and_hs_codes() {
        assert!(is_valid_digest(&format!("sha256:{}", "ab".repeat(32))));
        assert!(is_valid_digest(&format!("blake3:{}", "0f".repeat(32))));
        assert!(!is_valid_digest(&format!("sha256:{}", "AB".repeat(32))));
        assert!(!is_valid_digest(&format!("md5:{}", "ab".repeat(32))));
        assert!(is_valid_hs_code("040221"));
        assert!(!is_valid_hs_code("0402"));
    }

    #[test]
    fn reason_codes_round_trip() {
        for d in DefectKind::ALL {
            assert_eq!(DefectKind::from_code(d.code()), Some(d));
        }
    }

    #[test]
    fn without_ids_is_validate_minus_duplicates() {
        use serde_json::json;
        let kind = Kind::Logistics;
        let row = |id: &str, code: Option<&str>, lot: Option<&str>, org: Option<&str>, ev: &str| {
            json!({"record_id": id, "code": code, "lot_id": lot, "org_id": org,
                "event_time": 1_000_000, "event_type": ev, "location": "Ningbo",
                "carrier": null, "waybill": "W 1"})
        };
        let rows = vec![
            row(
                "r-1",
                Some("01234567890123456789"),
                Some("LOT-1"),
                Some("o"),
                "shipped",
            ),
            row("r-1", None, None, Some("o"), "shipped"),
            row("r-2", Some("bad code"), None, None, "flown"),
            row("r-1", None, Some("LOT-1"), Some("o"), "arrived"),
            row(
                "r-3",
                Some("01234567890123456789"),
                None,
                Some("o"),
                "arrived",
            ),
        ];
        let batch = crate::batch_from_json(kind, &rows).expect("batch");
        let view = RecordView::try_new(kind, &batch).expect("view");
        let ctx = ValidationContext::for_batch_date(20_000);
        let with = validate(&view, &ctx, &mut RecordIdTracker::new());
        let without = validate_without_ids(&view, &ctx);
        let expected: Vec<Defect> = with
            .defects()
            .iter()
            .filter(|d| d.kind != DefectKind::DuplicateRecordId)
            .copied()
            .collect();
        assert_eq!(without.defects(), expected.as_slice());
        assert!(
            with.defects()
                .iter()
                .any(|d| d.kind == DefectKind::NoSubject)
        );
        assert!(
            with.defects()
                .iter()
                .any(|d| d.kind == DefectKind::MissingValue)
        );
        assert_eq!(
            with.defects()
                .iter()
                .filter(|d| d.kind == DefectKind::DuplicateRecordId)
                .map(|d| d.row)
                .collect::<Vec<_>>(),
            [1, 3]
        );
        for r in 0..rows.len() {
            assert_eq!(
                without.is_rejected(r),
                !without.defects_of(r).is_empty(),
                "row {r}"
            );
        }
    }

    #[test]
    fn tracker_finds_duplicates() {
        let mut t = RecordIdTracker::new();
        assert!(t.insert("a"));
        assert!(t.insert("b"));
        assert!(!t.insert("a"));
        assert_eq!(t.len(), 2);
    }
}
