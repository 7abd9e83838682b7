//! Building one row group of records as an Arrow [`RecordBatch`]: the rows of
//! a kind's record range, with defects injected into the bad rows and a
//! ground-truth line for each.
//!
//! Values are appended straight into Arrow builders, from catalog strings or
//! one reused scratch buffer; nothing is allocated per row except per lot.

use std::fmt::Write as _;
use std::ops::Range;
use std::sync::Arc;

use arrow_array::builder::{Date32Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use proofmark_schemas::kind::{FieldSpec, UTC};
use proofmark_schemas::{DefectKind, Kind, ValidationContext};

mod customs;
mod inspection;
mod logistics;
mod production;

use customs::Customs;
use inspection::Inspection;
use logistics::Logistics;
use production::Production;

use crate::date::civil_from_days;
use crate::defects::{self, BadRows, Injection};
use crate::error::DatasetError;
use crate::journey::{Lot, LotSpan};
use crate::layout::{FilePlan, RunLots, Runs};
use crate::plan::DatasetPlan;
use crate::rng::{Rng, domain, key};

/// One generated row group.
#[derive(Debug)]
pub struct Group {
    /// The rows.
    pub batch: RecordBatch,
    /// Ground-truth JSON lines of its bad rows.
    pub truth: String,
    /// Number of bad rows.
    pub bad_rows: u64,
}

/// Builds row group `group` of `file`.
pub fn build_group(plan: &DatasetPlan, file: &FilePlan, group: u64) -> Result<Group, DatasetError> {
    let rows = file.group_rows(group);
    let bad = BadRows::new(plan.options.seed, file.kind, file.index, plan.rate_ppb());
    let mut bad_rows = Vec::new();
    bad.in_rows(
        rows.start - file.rows.start..rows.end - file.rows.start,
        &mut bad_rows,
    );
    let mut out = Out::new(plan, file, rows.clone(), bad, bad_rows);
    let schema = plan.file_schema(file.kind);
    let n = (rows.end - rows.start) as usize;
    let columns = match file.kind {
        Kind::Production => Production::new(n).emit(plan, &mut out, rows, &schema)?,
        Kind::Customs => Customs::new(n).emit(plan, &mut out, rows),
        Kind::Logistics => Logistics::new(n).emit(plan, &mut out, rows),
        Kind::Inspection => Inspection::new(n).emit(plan, &mut out, rows),
    };
    let batch = RecordBatch::try_new(schema, columns).map_err(DatasetError::Arrow)?;
    Ok(Group {
        batch,
        truth: out.truth,
        bad_rows: out.bad_count,
    })
}

/// Appends the decimal digits of `v` to `s`.
#[inline]
pub fn push_u64(s: &mut String, v: u64) {
    push_padded(s, v, 1);
}

/// Appends the decimal digits of `v`, zero-padded to `width` (at most 20), to `s`.
#[inline]
pub fn push_padded(s: &mut String, mut v: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let start = i.min(buf.len() - width.min(buf.len()));
    // Only ASCII digits: the conversion cannot fail.
    s.push_str(std::str::from_utf8(&buf[start..]).unwrap_or_default());
}

/// Appends 16 lowercase hex digits of `v` to `s`.
#[inline]
fn push_hex(s: &mut String, v: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 16];
    for (i, b) in buf.iter_mut().enumerate() {
        *b = HEX[((v >> ((15 - i) * 4)) & 0xf) as usize];
    }
    s.push_str(std::str::from_utf8(&buf).unwrap_or_default());
}

/// Appends a `sha256:` digest-shaped value derived from `parts` to `s`.
fn push_digest(s: &mut String, parts: &[u64]) {
    s.push_str("sha256:");
    let mut rng = Rng::from_parts(parts);
    for _ in 0..4 {
        push_hex(s, rng.next_u64());
    }
}

/// Appends the 20-digit traceability code of `item` to `s`: a seeded
/// permutation of the item number (18 digits, so codes look random and never
/// repeat) and two ISO 7064 MOD 97-10 check digits.
pub fn push_item_code(s: &mut String, seed: u64, item: u64) {
    const HALF: u64 = 1_000_000_000;
    let (mut l, mut r) = (item / HALF % HALF, item % HALF);
    for round in 0..4 {
        let f = key(&[seed, domain::CODE, round, r]) % HALF;
        (l, r) = (r, (l + f) % HALF);
    }
    let x = l * HALF + r;
    push_padded(s, x, 18);
    push_padded(s, 98 - (x % 97) * 100 % 97, 2);
}

/// The 8-digit scratch-off PIN of `item`.
pub fn item_pin(seed: u64, item: u64) -> u32 {
    (key(&[seed, domain::PIN, item]) % 100_000_000) as u32
}

/// Iterates the lots from run `run` on.
struct LotsFrom {
    runs: Runs,
    run: u64,
    current: RunLots,
    next: usize,
}

impl LotsFrom {
    fn new(runs: Runs, run: u64) -> Self {
        let current = runs.lots_of(run.min(runs.count().saturating_sub(1)));
        LotsFrom {
            runs,
            run,
            current,
            next: 0,
        }
    }
}

impl Iterator for LotsFrom {
    type Item = LotSpan;
    fn next(&mut self) -> Option<LotSpan> {
        while self.next >= self.current.spans().len() {
            self.run += 1;
            if self.run >= self.runs.count() {
                return None;
            }
            self.current = self.runs.lots_of(self.run);
            self.next = 0;
        }
        self.next += 1;
        Some(self.current.spans()[self.next - 1])
    }
}

/// Per-row state shared by the kinds: the injection of the current row, the
/// scratch buffer and the ground truth.
struct Out<'p> {
    specs: &'static [FieldSpec],
    file_path: &'p str,
    file_start: u64,
    group_start: u64,
    next_row: u64,
    bad: BadRows,
    bad_rows: Vec<(u64, u64)>,
    next_bad: usize,
    inj: Option<Injection>,
    scratch: String,
    id: String,
    truth: String,
    bad_count: u64,
    time_limit_us: i64,
    batch_day: i32,
}

impl<'p> Out<'p> {
    fn new(
        plan: &DatasetPlan,
        file: &'p FilePlan,
        rows: Range<u64>,
        bad: BadRows,
        bad_rows: Vec<(u64, u64)>,
    ) -> Self {
        let ctx = ValidationContext::for_batch_date(plan.batch_day());
        Out {
            specs: file.kind.fields(),
            file_path: &file.path,
            file_start: file.rows.start,
            group_start: rows.start,
            next_row: rows.start,
            bad,
            bad_rows,
            next_bad: 0,
            inj: None,
            scratch: String::with_capacity(1024),
            id: String::with_capacity(64),
            truth: String::new(),
            bad_count: 0,
            time_limit_us: ctx.event_time_limit_us(),
            batch_day: plan.batch_day(),
        }
    }

    /// Starts the next row: decides its injection.
    #[inline]
    fn begin_row(&mut self) {
        let row_in_file = self.next_row - self.file_start;
        self.inj = match self.bad_rows.get(self.next_bad) {
            Some(&(row, slot)) if row == row_in_file => {
                self.next_bad += 1;
                Some(self.bad.injection(slot, self.next_row == self.group_start))
            }
            _ => None,
        };
    }

    /// Ends the row: records the truth of a bad row.
    #[inline]
    fn end_row(&mut self, record_ids: &StringBuilder) {
        if let Some(inj) = self.inj {
            let offsets = record_ids.offsets_slice();
            let (a, b) = (
                offsets[offsets.len() - 2] as usize,
                offsets[offsets.len() - 1] as usize,
            );
            let id = std::str::from_utf8(&record_ids.values_slice()[a..b]).unwrap_or("");
            defects::write_truth_line(
                &mut self.truth,
                self.file_path,
                self.next_row - self.file_start,
                id,
                &inj,
            );
            self.bad_count += 1;
        }
        self.next_row += 1;
    }

    /// The injection of the current row if it applies to column `col`.
    #[inline]
    fn hit(&self, col: usize) -> Option<Injection> {
        self.inj.filter(|i| i.hits(col))
    }

    /// The current row's injection if it is of class `defect`.
    #[inline]
    fn hit_defect(&self, defect: DefectKind) -> Option<Injection> {
        self.inj.filter(|i| i.defect == defect)
    }

    #[inline]
    fn text(&mut self, b: &mut StringBuilder, col: usize, v: Option<&str>) {
        if let Some(inj) = self.hit(col) {
            if defects::corrupt_text(&inj, v, self.specs[col].max_len as usize, &mut self.scratch) {
                b.append_value(&self.scratch);
            } else {
                b.append_null();
            }
            return;
        }
        match v {
            Some(v) => b.append_value(v),
            None => b.append_null(),
        }
    }

    /// Appends the record id in `self.id` (or, for a duplicate, the previous row's id).
    #[inline]
    fn record_id(&mut self, b: &mut StringBuilder) {
        if self.hit(0).is_some() {
            let offsets = b.offsets_slice();
            let (a, z) = (
                offsets[offsets.len() - 2] as usize,
                offsets[offsets.len() - 1] as usize,
            );
            self.scratch.clear();
            self.scratch
                .push_str(std::str::from_utf8(&b.values_slice()[a..z]).unwrap_or(""));
            b.append_value(&self.scratch);
        } else {
            b.append_value(&self.id);
        }
    }

    #[inline]
    fn time(&mut self, b: &mut TimestampMicrosecondBuilder, col: usize, v: Option<i64>) {
        match (self.hit(col), v) {
            (Some(inj), _) if inj.defect == DefectKind::MissingValue => b.append_null(),
            (Some(inj), _) if inj.defect == DefectKind::TimeOutOfRange => {
                // A clearance before 1970 would also precede the declaration.
                let allow_past = self.specs[col].name != "cleared_at";
                b.append_value(defects::bad_time_us(&inj, self.time_limit_us, allow_past));
            }
            (_, Some(v)) => b.append_value(v),
            (_, None) => b.append_null(),
        }
    }

    #[inline]
    fn date(&mut self, b: &mut Date32Builder, col: usize, v: i32) {
        match self.hit(col) {
            Some(inj) if inj.defect == DefectKind::MissingValue => b.append_null(),
            Some(inj) if inj.defect == DefectKind::TimeOutOfRange => {
                b.append_value(defects::bad_day(&inj, self.batch_day))
            }
            _ => b.append_value(v),
        }
    }
}

fn text_builder(rows: usize, bytes_per_row: usize) -> StringBuilder {
    StringBuilder::with_capacity(rows, rows * bytes_per_row)
}

fn time_builder(rows: usize) -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::with_capacity(rows).with_timezone(UTC)
}

/// The five common columns.
struct Common {
    record_id: StringBuilder,
    code: StringBuilder,
    lot_id: StringBuilder,
    org_id: StringBuilder,
    event_time: TimestampMicrosecondBuilder,
}

impl Common {
    fn new(rows: usize) -> Self {
        Common {
            record_id: text_builder(rows, 16),
            code: text_builder(rows, 20),
            lot_id: text_builder(rows, 20),
            org_id: text_builder(rows, 12),
            event_time: time_builder(rows),
        }
    }

    #[inline]
    fn put(
        &mut self,
        out: &mut Out<'_>,
        code: Option<&str>,
        lot_id: Option<&str>,
        org_id: &str,
        time_us: i64,
    ) {
        out.record_id(&mut self.record_id);
        out.text(&mut self.code, 1, code);
        out.text(&mut self.lot_id, 2, lot_id);
        out.text(&mut self.org_id, 3, Some(org_id));
        out.time(&mut self.event_time, 4, Some(time_us));
    }

    fn finish(mut self) -> Vec<ArrayRef> {
        vec![
            Arc::new(self.record_id.finish()),
            Arc::new(self.code.finish()),
            Arc::new(self.lot_id.finish()),
            Arc::new(self.org_id.finish()),
            Arc::new(self.event_time.finish()),
        ]
    }
}

/// Strings shared by the records of a lot.
struct LotText {
    lot_id: String,
    lot_number: String,
    year: i32,
}

impl LotText {
    fn new(lot: &Lot) -> Self {
        let (y, m, d) = civil_from_days(lot.production_day);
        let mut lot_id = String::with_capacity(24);
        let _ = write!(lot_id, "LOT-{:02}{m:02}{d:02}-", y % 100);
        push_padded(&mut lot_id, lot.span.ordinal, 7);
        let doy = lot.production_day - crate::date::days_from_civil(y, 1, 1) + 1;
        let letter = char::from(b'A' + (lot.factory % 26) as u8);
        let mut lot_number = format!("{:02}{doy:03}{letter}", y % 100);
        push_padded(&mut lot_number, lot.span.ordinal % 100, 2);
        LotText {
            lot_id,
            lot_number,
            year: y,
        }
    }
}

/// Lists of texts (`certifications`).
#[cfg(test)]
mod tests {
    use super::*;
    use proofmark_schemas::validate::is_valid_code;

    #[test]
    fn codes_are_valid_unique_and_checked() {
        let mut seen = std::collections::HashSet::new();
        let mut s = String::new();
        for item in 0..20_000 {
            s.clear();
            push_item_code(&mut s, 5, item);
            assert_eq!(s.len(), 20);
            assert!(is_valid_code(&s));
            let body: u128 = s[..18].parse().unwrap_or(0);
            let check: u128 = s[18..].parse().unwrap_or(0);
            assert_eq!((body * 100 + check) % 97, 1, "ISO 7064 MOD 97-10");
            assert!(seen.insert(s.clone()));
        }
    }

    #[test]
    fn digits_are_padded() {
        let mut s = String::new();
        push_padded(&mut s, 42, 5);
        push_u64(&mut s, 0);
        push_u64(&mut s, 1234);
        push_padded(&mut s, u64::MAX, 3);
        assert_eq!(s, "000420123418446744073709551615");
    }

    #[test]
    fn column_positions_match_the_schema() {
        let names = |k: Kind| k.fields().iter().map(|f| f.name).collect::<Vec<_>>();
        assert_eq!(names(Kind::Production)[16], "certifications");
        assert_eq!(names(Kind::Production)[18], "attachments");
        assert_eq!(names(Kind::Production)[10], "production_date");
        assert_eq!(names(Kind::Customs)[12], "cleared_at");
        assert_eq!(names(Kind::Logistics)[8], "waybill");
        assert_eq!(names(Kind::Inspection)[10], "report_digest");
        for e in crate::journey::ITEM_EVENTS {
            assert!(proofmark_schemas::kind::LOGISTICS_EVENT_TYPES.contains(&e));
        }
    }
}
