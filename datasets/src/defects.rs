//! Defect injection: which rows are bad, which defect each carries, and how
//! a clean value is corrupted so that validation reports exactly that defect.
//!
//! Bad rows are spread evenly with a seeded jitter: with rate `r`, the rows of
//! a file are cut into slots of `1 / r` rows and one row of each slot (at a
//! seeded position) is bad, so a file of `n` rows has `round(n * r)` bad rows
//! (give or take one) whatever its row-group size. Slot `j` of file `f`
//! carries defect class `(j + f) mod c` of the kind's `c` applicable classes
//! (listed with the classes only one kind can carry first, so that even a
//! small first file shows them, and rotated by file so that many small files
//! show different ones).
//! Everything is a function of (seed, kind, file, slot), so row groups are
//! generated independently.

use std::fmt::Write as _;
use std::ops::Range;

use proofmark_schemas::{DefectKind, Kind};

use crate::rng::{Rng, domain, key};

/// Bad rates are applied in steps of one in a billion.
pub const RATE_SCALE: u64 = 1_000_000_000;

/// The defect classes each kind can carry, kind-specific ones first.
pub fn classes(kind: Kind) -> &'static [DefectKind] {
    use DefectKind::*;
    match kind {
        Kind::Production => &[
            BadGtin,
            TooManyItems,
            NullListItem,
            ExpiryBeforeProduction,
            MalformedDigest,
            BadCountry,
            MalformedCode,
            MissingValue,
            NoSubject,
            MalformedLotId,
            MalformedIdentifier,
            TooLong,
            TimeOutOfRange,
            DuplicateRecordId,
        ],
        Kind::Customs => &[
            MalformedHsCode,
            ClearedBeforeDeclared,
            BadCountry,
            UnknownEnumValue,
            MissingValue,
            NoSubject,
            MalformedLotId,
            MalformedIdentifier,
            TooLong,
            TimeOutOfRange,
            DuplicateRecordId,
        ],
        Kind::Logistics => &[
            MalformedCode,
            UnknownEnumValue,
            MissingValue,
            NoSubject,
            MalformedLotId,
            MalformedIdentifier,
            TooLong,
            TimeOutOfRange,
            DuplicateRecordId,
        ],
        Kind::Inspection => &[
            NegativeValue,
            MalformedDigest,
            UnknownEnumValue,
            MissingValue,
            NoSubject,
            MalformedLotId,
            MalformedIdentifier,
            TooLong,
            TimeOutOfRange,
            DuplicateRecordId,
        ],
    }
}

/// The columns a defect class may be injected into, for a kind. Each is
/// chosen so that the corruption breaks one rule only.
pub fn columns(kind: Kind, defect: DefectKind) -> &'static [&'static str] {
    use DefectKind::*;
    match (kind, defect) {
        (_, NoSubject | MalformedCode) => &["code"],
        (_, MalformedLotId) => &["lot_id"],
        (_, DuplicateRecordId) => &["record_id"],
        (Kind::Production, MissingValue) => &[
            "org_id",
            "event_time",
            "gtin",
            "product_name",
            "brand",
            "sku",
            "lot_number",
            "production_date",
            "origin_country",
            "factory_id",
        ],
        (Kind::Production, MalformedIdentifier) => &["org_id", "sku", "lot_number", "factory_id"],
        (Kind::Production, BadGtin) => &["gtin"],
        (Kind::Production, BadCountry) => &["origin_country"],
        (Kind::Production, MalformedDigest) => &["attachments"],
        (Kind::Production, TooLong) => &[
            "product_name",
            "brand",
            "sku",
            "factory_name",
            "factory_address",
            "ingredients",
            "certifications",
            "attachments",
        ],
        (Kind::Production, TooManyItems) => &["certifications", "attachments"],
        (Kind::Production, NullListItem) => &["certifications", "attachments"],
        (Kind::Production, TimeOutOfRange) => &["event_time", "production_date"],
        (Kind::Production, ExpiryBeforeProduction) => &["expiry_date"],
        (Kind::Customs, MissingValue) => &[
            "org_id",
            "event_time",
            "declaration_id",
            "hs_code",
            "origin_country",
            "port_of_entry",
            "declared_at",
            "status",
        ],
        (Kind::Customs, MalformedIdentifier) => &["org_id", "declaration_id", "filing_id"],
        (Kind::Customs, BadCountry) => &["origin_country", "trade_country"],
        (Kind::Customs, MalformedHsCode) => &["hs_code"],
        (Kind::Customs, UnknownEnumValue) => &["status"],
        (Kind::Customs, TooLong) => &["port_of_entry", "declaration_id"],
        (Kind::Customs, TimeOutOfRange) => &["event_time", "cleared_at"],
        (Kind::Customs, ClearedBeforeDeclared) => &["cleared_at"],
        (Kind::Logistics, MissingValue) => &["org_id", "event_time", "event_type", "location"],
        (Kind::Logistics, MalformedIdentifier) => &["org_id", "waybill"],
        (Kind::Logistics, UnknownEnumValue) => &["event_type"],
        (Kind::Logistics, TooLong) => &["location", "carrier", "waybill"],
        (Kind::Logistics, TimeOutOfRange) => &["event_time"],
        (Kind::Inspection, MissingValue) => &[
            "org_id",
            "event_time",
            "agency_id",
            "agency_name",
            "inspection_type",
            "result",
            "report_id",
        ],
        (Kind::Inspection, MalformedIdentifier) => &["org_id", "agency_id", "report_id"],
        (Kind::Inspection, MalformedDigest) => &["report_digest"],
        (Kind::Inspection, UnknownEnumValue) => &["inspection_type", "result"],
        (Kind::Inspection, TooLong) => &["agency_name", "report_id"],
        (Kind::Inspection, NegativeValue) => &["sample_size"],
        (Kind::Inspection, TimeOutOfRange) => &["event_time"],
        _ => &[],
    }
}

/// One injected defect: the class, the column and a style number that picks
/// among the ways of corrupting the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Injection {
    /// The defect class validation must report.
    pub defect: DefectKind,
    /// Schema position of the column it is injected into (and reported at).
    pub column: usize,
    /// The column's name.
    pub column_name: &'static str,
    /// Random bits choosing the style of corruption.
    pub style: u64,
}

impl Injection {
    /// Whether writing column `column` must apply this injection. A missing
    /// subject also clears `lot_id` (position 2).
    #[inline]
    pub fn hits(&self, column: usize) -> bool {
        self.column == column || (self.defect == DefectKind::NoSubject && column == 2)
    }
}

/// The bad rows of one file.
#[derive(Debug, Clone, Copy)]
pub struct BadRows {
    kind: Kind,
    file: u32,
    rate_ppb: u64,
    key: u64,
}

impl BadRows {
    /// Bad rows at `rate_ppb` (parts per billion) in file `file` of `kind`.
    pub fn new(seed: u64, kind: Kind, file: u32, rate_ppb: u64) -> Self {
        BadRows {
            kind,
            file,
            rate_ppb: rate_ppb.min(RATE_SCALE),
            key: key(&[
                seed,
                domain::BAD_ROW,
                u64::from(kind.code()),
                u64::from(file),
            ]),
        }
    }

    fn slot_start(&self, slot: u64) -> u64 {
        (u128::from(slot) * u128::from(RATE_SCALE)).div_ceil(u128::from(self.rate_ppb)) as u64
    }

    fn slot_of(&self, row: u64) -> u64 {
        (u128::from(row) * u128::from(self.rate_ppb) / u128::from(RATE_SCALE)) as u64
    }

    /// The bad row of slot `slot`.
    fn position(&self, slot: u64) -> u64 {
        let start = self.slot_start(slot);
        let len = self.slot_start(slot + 1) - start;
        start + Rng::from_parts(&[self.key, slot]).below(len)
    }

    /// The bad rows (row within the file, slot) among `rows`, in order.
    pub fn in_rows(&self, rows: Range<u64>, out: &mut Vec<(u64, u64)>) {
        out.clear();
        if self.rate_ppb == 0 || rows.is_empty() {
            return;
        }
        for slot in self.slot_of(rows.start)..=self.slot_of(rows.end - 1) {
            let row = self.position(slot);
            if rows.contains(&row) {
                out.push((row, slot));
            }
        }
    }

    /// The defect of the bad row of slot `slot`; `first_in_group` rows cannot
    /// repeat the previous row's id (it lies in another row group), so they
    /// take the next class instead of a duplicate record id.
    pub fn injection(&self, slot: u64, first_in_group: bool) -> Injection {
        let classes = classes(self.kind);
        let mut i = ((slot + u64::from(self.file)) % classes.len() as u64) as usize;
        if first_in_group && classes[i] == DefectKind::DuplicateRecordId {
            i = (i + 1) % classes.len();
        }
        let defect = classes[i];
        let mut rng = Rng::from_parts(&[self.key, domain::DEFECT, slot]);
        let candidates = columns(self.kind, defect);
        let column_name = *rng.pick(candidates);
        let column = self.kind.field_index(column_name).unwrap_or(0);
        Injection {
            defect,
            column,
            column_name,
            style: rng.next_u64(),
        }
    }
}

/// Appends `filler` to `out` until it is longer than `limit` bytes.
pub fn pad_past(out: &mut String, limit: usize, filler: &str) {
    while out.len() <= limit {
        out.push_str(filler);
    }
}

/// Writes into `out` a corrupted version of the text `clean` (the clean
/// value, if any) that breaks exactly the rule of `inj`; returns `false` when
/// the value must be null instead.
pub fn corrupt_text(
    inj: &Injection,
    clean: Option<&str>,
    max_len: usize,
    out: &mut String,
) -> bool {
    use DefectKind::*;
    out.clear();
    let v = clean.unwrap_or("");
    let s = inj.style;
    let insert_at_middle = |out: &mut String, piece: &str| {
        let mut mid = v.len() / 2;
        while !v.is_char_boundary(mid) {
            mid -= 1;
        }
        out.push_str(&v[..mid]);
        out.push_str(piece);
        out.push_str(&v[mid..]);
    };
    match inj.defect {
        MissingValue | NoSubject => return false,
        MalformedCode => match s % 5 {
            0 => insert_at_middle(out, " "),
            1 => insert_at_middle(out, "#"),
            2 => out.push_str(&v[..5.min(v.len())]),
            3 => insert_at_middle(out, "码"),
            _ => {
                out.push_str(v);
                out.push_str("/01");
            }
        },
        MalformedLotId => match s % 4 {
            0 => insert_at_middle(out, " "),
            1 => {}
            2 => {
                out.push_str(v);
                out.push('#');
            }
            _ => {
                out.push_str(v);
                pad_past(out, 64, "-X");
            }
        },
        MalformedIdentifier => match s % 4 {
            0 => insert_at_middle(out, " "),
            1 => insert_at_middle(out, "é"),
            2 => insert_at_middle(out, "\t"),
            _ => {}
        },
        BadGtin => {
            out.push_str(v);
            if s.is_multiple_of(2) {
                // A wrong check digit.
                let last = out.pop().and_then(|c| c.to_digit(10)).unwrap_or(0);
                let wrong = (last + 1 + (s / 2 % 9) as u32) % 10;
                out.push(char::from_digit(wrong, 10).unwrap_or('0'));
            } else {
                out.replace_range(6..7, "O");
            }
        }
        BadCountry => out.push_str(["UK", "XX", "cn", "CHN", "EU", "Z1"][(s % 6) as usize]),
        MalformedHsCode => match s % 4 {
            0 => {
                out.push_str(&v[..4]);
                out.push('.');
                out.push_str(&v[4..]);
            }
            1 => out.push_str(&v[..5]),
            2 => {
                out.push_str(v);
                out.push_str("01");
            }
            _ => {
                out.push_str("HS");
                out.push_str(&v[..6]);
            }
        },
        MalformedDigest => match s % 4 {
            0 => out.push_str(&v.to_uppercase()),
            1 => out.push_str(&v[..v.len() - 1]),
            2 => out.push_str(&v[7..]),
            _ => {
                out.push_str("md5:");
                out.push_str(&v[7..39]);
            }
        },
        UnknownEnumValue => out.push_str(match inj.column_name {
            "status" => ["cleared", "Released", "pending", "RELEASED"][(s % 4) as usize],
            "event_type" => {
                ["in_transit", "Delivered", "picked_up", "out_for_delivery"][(s % 4) as usize]
            }
            "inspection_type" => {
                ["lab_test", "audit", "Factory Audit", "sampling"][(s % 4) as usize]
            }
            _ => ["passed", "ok", "PASS", "failed"][(s % 4) as usize],
        }),
        TooLong => {
            out.push_str(v);
            let filler = if v.bytes().any(|b| b == b' ') || !v.is_ascii() {
                " — 详情见附件"
            } else {
                "-X"
            };
            pad_past(out, max_len, filler);
        }
        _ => out.push_str(v),
    }
    true
}

/// A timestamp that is out of range for the batch: after the day after the
/// batch date, or (if `allow_past`) before 1970.
pub fn bad_time_us(inj: &Injection, limit_us: i64, allow_past: bool) -> i64 {
    let day = crate::date::MICROS_PER_DAY as u64;
    if allow_past && inj.style.is_multiple_of(3) {
        -1 - (inj.style / 3 % (3_650 * day)) as i64
    } else {
        limit_us + (inj.style / 3 % (400 * day)) as i64
    }
}

/// A production date out of range: after the day after the batch date, or before 1970.
pub fn bad_day(inj: &Injection, batch_day: i32) -> i32 {
    if inj.style.is_multiple_of(3) {
        -1 - (inj.style / 3 % 3_650) as i32
    } else {
        batch_day + 2 + (inj.style / 3 % 30) as i32
    }
}

/// One line of the ground truth (`truth/defects.jsonl`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TruthEntry {
    /// The file, relative to the dataset directory.
    pub file: String,
    /// Row number within the file (0-based).
    pub row: u64,
    /// The row's record id as written.
    pub record_id: String,
    /// The reason code validation reports (`DefectKind::code`).
    pub reason: String,
    /// The column validation reports it at.
    pub column: String,
}

/// Writes one truth line (JSON and a newline) for a bad row.
pub fn write_truth_line(out: &mut String, file: &str, row: u64, record_id: &str, inj: &Injection) {
    // Same bytes as serialising a `TruthEntry` with serde_json, without allocating.
    out.push_str("{\"file\":");
    push_json_str(out, file);
    let _ = write!(out, ",\"row\":{row},\"record_id\":");
    push_json_str(out, record_id);
    out.push_str(",\"reason\":");
    push_json_str(out, inj.defect.code());
    out.push_str(",\"column\":");
    push_json_str(out, inj.column_name);
    out.push_str("}\n");
}

/// Appends `s` as a JSON string (quoted and escaped as serde_json does).
fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proofmark_schemas::validate::{
        is_valid_code, is_valid_digest, is_valid_gtin, is_valid_hs_code, is_valid_identifier,
        is_valid_lot_id,
    };

    #[test]
    fn truth_lines_are_serde_json() {
        let inj = Injection {
            defect: DefectKind::TooLong,
            column: 6,
            column_name: "location",
            style: 0,
        };
        for id in ["lgs-1-2", "a\"b\\c\n\t\u{1}\u{7f}é码"] {
            let mut line = String::new();
            write_truth_line(&mut line, "records/x/part-00000.parquet", 42, id, &inj);
            let entry = TruthEntry {
                file: "records/x/part-00000.parquet".into(),
                row: 42,
                record_id: id.into(),
                reason: "too_long".into(),
                column: "location".into(),
            };
            assert_eq!(
                line,
                format!("{}\n", serde_json::to_string(&entry).unwrap_or_default())
            );
        }
    }

    #[test]
    fn every_class_is_reachable_and_has_columns() {
        let mut all: Vec<DefectKind> = Kind::ALL
            .iter()
            .flat_map(|k| classes(*k).iter().copied())
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all, DefectKind::ALL.to_vec());
        for kind in Kind::ALL {
            assert_eq!(classes(kind).last(), Some(&DefectKind::DuplicateRecordId));
            for &d in classes(kind) {
                let cols = columns(kind, d);
                assert!(!cols.is_empty(), "{kind} {d}");
                assert!(
                    cols.iter().all(|c| kind.field_index(c).is_some()),
                    "{kind} {d}"
                );
            }
        }
    }

    #[test]
    fn bad_rows_follow_the_rate() {
        for (rate, rows) in [
            (50_000_000u64, 10_000u64),
            (RATE_SCALE, 100),
            (1, 1000),
            (333_333_333, 999),
        ] {
            let bad = BadRows::new(1, Kind::Logistics, 0, rate);
            let mut all = Vec::new();
            let mut part = Vec::new();
            for start in (0..rows).step_by(97) {
                bad.in_rows(start..(start + 97).min(rows), &mut part);
                all.extend_from_slice(&part);
            }
            let expected = (u128::from(rows) * u128::from(rate) / u128::from(RATE_SCALE)) as usize;
            assert!(
                all.len().abs_diff(expected) <= 1,
                "{rate}: {} vs {expected}",
                all.len()
            );
            assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
            let mut whole = Vec::new();
            bad.in_rows(0..rows, &mut whole);
            assert_eq!(whole, all, "row groups do not change the bad rows");
        }
        let mut none = Vec::new();
        BadRows::new(1, Kind::Customs, 0, 0).in_rows(0..1000, &mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn corruptions_break_the_rule() {
        let inj = |defect, column_name: &'static str, style| Injection {
            defect,
            column: 0,
            column_name,
            style,
        };
        let mut out = String::new();
        for s in 0..40 {
            assert!(corrupt_text(
                &inj(DefectKind::MalformedCode, "code", s),
                Some("01234567890123456789"),
                48,
                &mut out
            ));
            assert!(!is_valid_code(&out), "{out}");
            corrupt_text(
                &inj(DefectKind::MalformedLotId, "lot_id", s),
                Some("L261003-000042"),
                64,
                &mut out,
            );
            assert!(!is_valid_lot_id(&out), "{out}");
            corrupt_text(
                &inj(DefectKind::MalformedIdentifier, "org_id", s),
                Some("brand-0001"),
                64,
                &mut out,
            );
            assert!(!is_valid_identifier(&out) && out.len() <= 64, "{out}");
            corrupt_text(
                &inj(DefectKind::BadGtin, "gtin", s),
                Some("4006381333931"),
                14,
                &mut out,
            );
            assert!(!is_valid_gtin(&out), "{out}");
            corrupt_text(
                &inj(DefectKind::MalformedHsCode, "hs_code", s),
                Some("1901101000"),
                10,
                &mut out,
            );
            assert!(!is_valid_hs_code(&out), "{out}");
            let digest = format!("sha256:{}", "ab".repeat(32));
            corrupt_text(
                &inj(DefectKind::MalformedDigest, "report_digest", s),
                Some(&digest),
                71,
                &mut out,
            );
            assert!(!is_valid_digest(&out) && out.len() <= 71, "{out}");
            corrupt_text(
                &inj(DefectKind::TooLong, "location", s),
                Some("上海 仓"),
                256,
                &mut out,
            );
            assert!(out.len() > 256);
        }
    }
}
