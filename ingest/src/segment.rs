//! Segments (SPEC.md 8.2): after [`fetch_segment`] (in [`crate::fetch`]) has read a row
//! group's bytes and checked them against the plan, [`process_segment`] decodes them,
//! validates every row, keeps the rejected ones with their reasons, encodes and leaf-hashes
//! the accepted ones, and builds the segment's index entries.

use std::collections::BTreeMap;

use arrow_array::RecordBatch;
use parquet::errors::ParquetError;
use proofmark_merkle::{Hash, Suite, SuiteFn};
use proofmark_schemas::validate::validate_without_ids;
use proofmark_schemas::{
    DefectKind, RecordView, ValidationContext, write_json_array, write_json_str, write_row_json,
};
use serde::{Deserialize, Serialize};

use crate::decode::{RangeReader, row_group_reader};
use crate::error::IngestError;
use crate::fetch::{plan_parts, row_group_of};
use crate::hash::{hash_batch, sort_entries};
use crate::plan::{Plan, PlanFile, PlanSegment};

pub use crate::fetch::{SegmentInput, fetch_segment};

/// One index entry of a segment: a subject key and the leaf (within the segment) of a
/// record about that subject. Orders by key, then leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IndexEntry {
    /// The subject key (SPEC.md 4): of the record's `code` or of its `lot_id`.
    pub key: [u8; 16],
    /// The record's leaf number within the segment.
    pub leaf: u32,
}

/// A rejected row, as written to `segments/<n>.rejects.jsonl` (SPEC.md 8.5): one JSON
/// object a line, fields in this order, the row under `record`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RejectRow {
    /// The source URL of the file.
    pub file: String,
    /// The 0-based row in the file.
    pub row: u64,
    /// The row's `record_id`, if not null.
    pub record_id: Option<String>,
    /// The reason codes of its defects.
    pub reasons: Vec<String>,
    /// The column of each reason.
    pub columns: Vec<String>,
    /// The row as the text of a JSON object (compact, keys in byte order:
    /// [`proofmark_schemas::write_row_json`]), kept as text from decode to `rejects.parquet`.
    #[serde(rename = "record", with = "raw_json")]
    pub record_json: String,
}

impl RejectRow {
    /// Appends the row's `.rejects.jsonl` line (with its newline) to `out`: the same text
    /// as `serde_json::to_writer` of the row, without a serializer.
    pub fn write_json_line(&self, out: &mut Vec<u8>) {
        let strings = |items: &[String], out: &mut Vec<u8>| {
            write_json_array(out, items, |out, s| write_json_str(s, out));
        };
        out.extend_from_slice(b"{\"file\":");
        write_json_str(&self.file, out);
        out.extend_from_slice(b",\"row\":");
        out.extend_from_slice(itoa::Buffer::new().format(self.row).as_bytes());
        out.extend_from_slice(b",\"record_id\":");
        match &self.record_id {
            Some(id) => write_json_str(id, out),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"reasons\":");
        strings(&self.reasons, out);
        out.extend_from_slice(b",\"columns\":");
        strings(&self.columns, out);
        out.extend_from_slice(b",\"record\":");
        out.extend_from_slice(self.record_json.as_bytes());
        out.extend_from_slice(b"}\n");
    }
}

/// `record` as raw JSON text: read without building a map, written back verbatim.
mod raw_json {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::value::RawValue;

    pub fn serialize<S: Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(text.to_owned()).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        let raw: Box<RawValue> = Deserialize::deserialize(d)?;
        if !raw.get().starts_with('{') {
            return Err(serde::de::Error::custom("record is not a JSON object"));
        }
        Ok(raw.get().to_owned())
    }
}

/// What processing a segment produced.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentResult {
    /// The segment number.
    pub segment: u32,
    /// The file's index in the plan.
    pub file: u32,
    /// The row group in the file.
    pub row_group: u32,
    /// The 0-based row of the file where the row group starts.
    pub first_row: u64,
    /// Rows decoded.
    pub rows_read: u64,
    /// Rows accepted (hashed): `rows_read - rows_rejected`.
    pub rows_accepted: u64,
    /// Rows rejected.
    pub rows_rejected: u64,
    /// Rows of the row group that were rejected, ascending.
    pub rejected_rows: Vec<u32>,
    /// Leaf hashes of the accepted rows in row order, in the plan's suite.
    pub leaves: Vec<[u8; 32]>,
    /// Index entries sorted by (key, leaf), one per accepted row: the item key of its
    /// `code`, or the lot key of its `lot_id` when it has no code (SPEC 4).
    pub entries: Vec<IndexEntry>,
    /// The rejected rows, in row order.
    pub rejects: Vec<RejectRow>,
    /// Rejected rows per reason code (a row counts once per distinct reason).
    pub reasons: BTreeMap<String, u64>,
    /// `blake3:` + hex of the row group's bytes (equal to the plan's row group digest).
    pub input_digest: String,
}

/// Validates, encodes, leaf-hashes and indexes the rows of a fetched segment, in the plan's
/// hash suite. CPU only; parallel inside with rayon.
pub fn process_segment(plan: &Plan, input: &SegmentInput) -> Result<SegmentResult, IngestError> {
    let (seg, file) = plan_parts(plan, input.segment.segment)?;
    let rg = row_group_of(file, seg, &input.url)?;
    if *seg != input.segment || input.digest != rg.digest {
        return Err(IngestError::DigestMismatch {
            url: input.url.clone(),
            row_group: seg.row_group,
            expected: rg.digest.clone(),
            actual: input.digest.clone(),
        });
    }
    let batch_date_days = plan.try_batch_date_days()?;
    plan.suite.dispatch(Process {
        plan,
        input,
        file,
        ctx: ValidationContext::for_batch_date(batch_date_days),
    })
}

/// The segment's work, generic over the suite (one dispatch per segment).
struct Process<'a> {
    plan: &'a Plan,
    input: &'a SegmentInput,
    file: &'a PlanFile,
    ctx: ValidationContext,
}

impl SuiteFn for Process<'_> {
    type Output = Result<SegmentResult, IngestError>;

    fn call<S: Suite>(self) -> Self::Output {
        process::<S>(self.plan, self.input, self.file, &self.ctx)
    }
}

fn process<S: Suite>(
    _plan: &Plan,
    input: &SegmentInput,
    file: &PlanFile,
    ctx: &ValidationContext,
) -> Result<SegmentResult, IngestError> {
    let seg = &input.segment;
    let url = &input.url;
    let decode_err = |source| IngestError::Decode {
        url: url.clone(),
        row_group: seg.row_group,
        source,
    };
    if seg.rows > u64::from(u32::MAX) {
        return Err(IngestError::TooManyRows {
            url: url.clone(),
            row_group: seg.row_group,
            rows: seg.rows,
            max: u64::from(u32::MAX),
        });
    }
    let reader = RangeReader::new(input.offset, input.bytes.clone(), input.file_size);
    let mut batches = row_group_reader(
        reader,
        input.arrow.clone(),
        seg.row_group as usize,
        seg.rows,
    )
    .map_err(decode_err)?;

    // Rows of this row group that the plan lists as duplicates, relative to the row group.
    let lo = file.duplicate_rows.partition_point(|&r| r < seg.first_row);
    let hi = file
        .duplicate_rows
        .partition_point(|&r| r < seg.first_row + seg.rows);
    let planned_dups = &file.duplicate_rows[lo..hi];

    let mut out = SegmentResult {
        segment: seg.segment,
        file: seg.file,
        row_group: seg.row_group,
        first_row: seg.first_row,
        rows_read: 0,
        rows_accepted: 0,
        rows_rejected: 0,
        rejected_rows: Vec::new(),
        leaves: Vec::with_capacity(seg.rows as usize),
        entries: Vec::with_capacity(seg.rows as usize),
        rejects: Vec::new(),
        reasons: BTreeMap::new(),
        input_digest: input.digest.clone(),
    };
    let mut rejected: Vec<bool> = Vec::new();
    let mut dup_cursor = 0usize;
    let mut next = batches.next();
    while let Some(batch) = next.take() {
        let batch: RecordBatch =
            batch.map_err(|e| decode_err(ParquetError::External(Box::new(e))))?;
        // Decode the next batch while this one is validated and hashed.
        let (following, done) = rayon::join(
            || batches.next(),
            || {
                process_batch::<S>(
                    &batch,
                    file,
                    seg,
                    url,
                    ctx,
                    planned_dups,
                    &mut dup_cursor,
                    &mut rejected,
                    &mut out,
                )
            },
        );
        done?;
        next = following;
    }
    if out.rows_read != seg.rows {
        return Err(decode_err(ParquetError::General(format!(
            "decoded {} rows, the plan has {}",
            out.rows_read, seg.rows
        ))));
    }
    sort_entries(&mut out.entries);
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn process_batch<S: Suite>(
    batch: &RecordBatch,
    file: &PlanFile,
    seg: &PlanSegment,
    url: &str,
    ctx: &ValidationContext,
    planned_dups: &[u64],
    dup_cursor: &mut usize,
    rejected: &mut Vec<bool>,
    out: &mut SegmentResult,
) -> Result<(), IngestError> {
    let view =
        RecordView::try_new(file.kind, batch).map_err(|source| IngestError::RowGroupSchema {
            url: url.to_owned(),
            row_group: seg.row_group,
            kind: file.kind,
            source: Box::new(source),
        })?;
    let rows = view.num_rows();
    let batch_first = out.rows_read; // row of the row group where this batch starts
    // Duplicates within the file are all in the plan (found by the planner's scan of the
    // whole file), so validation skips the record id rule and they are added below.
    let validation = validate_without_ids(&view, ctx);
    rejected.clear();
    rejected.extend((0..rows).map(|r| validation.is_rejected(r)));
    // Duplicates from the plan (earlier row groups of the file, or this one).
    let mut dup_rows_here: Vec<usize> = Vec::new();
    while let Some(&r) = planned_dups.get(*dup_cursor) {
        let local = r - seg.first_row;
        if local >= batch_first + rows as u64 {
            break;
        }
        let in_batch = (local - batch_first) as usize;
        rejected[in_batch] = true;
        dup_rows_here.push(in_batch);
        *dup_cursor += 1;
    }
    // Rejects, in row order.
    let mut dup_iter = dup_rows_here.iter().peekable();
    for row in (0..rows).filter(|&r| rejected[r]) {
        let planned_dup = dup_iter.next_if(|&&d| d == row).is_some();
        let mut defects: Vec<(usize, DefectKind, &'static str)> = validation
            .defects_of(row)
            .iter()
            .map(|d| {
                (
                    file.kind.field_index(d.column).unwrap_or(usize::MAX),
                    d.kind,
                    d.column,
                )
            })
            .collect();
        if planned_dup && !defects.iter().any(|d| d.1 == DefectKind::DuplicateRecordId) {
            defects.push((0, DefectKind::DuplicateRecordId, "record_id"));
            defects.sort_by_key(|d| (d.0, d.1));
        }
        let mut seen_reason: Vec<DefectKind> = Vec::with_capacity(defects.len());
        for d in &defects {
            if !seen_reason.contains(&d.1) {
                seen_reason.push(d.1);
                *out.reasons.entry(d.1.code().to_owned()).or_default() += 1;
            }
        }
        let row_in_group = batch_first + row as u64;
        out.rejected_rows.push(row_in_group as u32);
        out.rejects.push(RejectRow {
            file: file.source.clone(),
            row: seg.first_row + row_in_group,
            record_id: view.record_id(row).map(str::to_owned),
            reasons: defects.iter().map(|d| d.1.code().to_owned()).collect(),
            columns: defects.iter().map(|d| d.2.to_owned()).collect(),
            record_json: {
                let mut json = Vec::new();
                write_row_json(&view, row, &mut json);
                // Always UTF-8: text values and ASCII syntax.
                String::from_utf8(json)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
            },
        });
    }
    let rejected_here = rejected.iter().filter(|r| **r).count();
    let accepted = rows - rejected_here;
    let leaf_base = out.leaves.len();
    out.leaves.resize(leaf_base + accepted, [0u8; 32]);
    let leaves: &mut [Hash] = &mut out.leaves[leaf_base..];
    hash_batch::<S>(&view, rejected, leaves, leaf_base as u32, &mut out.entries);
    out.rows_read += rows as u64;
    out.rows_accepted += accepted as u64;
    out.rows_rejected += rejected_here as u64;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reject_lines_are_what_serde_writes_and_read_back() {
        let row = RejectRow {
            file: "s3://in/a \"b\".parquet".into(),
            row: 12_345_678_901,
            record_id: Some("r\u{1}\\x".into()),
            reasons: vec!["no_subject".into(), "bad_gtin".into()],
            columns: vec!["code".into(), "gtin".into()],
            record_json: r#"{"code":null,"record_id":"r\u0001\\x","tags":["a",null]}"#.into(),
        };
        let none = RejectRow {
            record_id: None,
            reasons: Vec::new(),
            columns: Vec::new(),
            ..row.clone()
        };
        for r in [row, none] {
            let mut line = Vec::new();
            r.write_json_line(&mut line);
            let want = serde_json::to_string(&r).expect("serialize") + "\n";
            assert_eq!(String::from_utf8(line.clone()).expect("utf8"), want);
            let back: RejectRow = serde_json::from_slice(&line).expect("parse");
            assert_eq!(back, r);
        }
        let not_object =
            br#"{"file":"f","row":1,"record_id":null,"reasons":[],"columns":[],"record":[1]}"#;
        assert!(serde_json::from_slice::<RejectRow>(not_object).is_err());
    }
}
