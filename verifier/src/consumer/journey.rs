//! A code's journey, read out of its report: the product and factory, the
//! inspections, the customs declarations, and every record in time order.
//!
//! Record values are untrusted JSON (SPEC.md section 10 form): a value of an
//! unexpected type is treated as absent, never as an error.
//!
//! The same record can be in several batches (the same input ingested again
//! under another batch date): the report lists it once per batch, with each
//! batch's proof, but the page shows it once. Records are one record when
//! they have the same kind, the same canonical bytes, the same values and the
//! same provider; records that differ in anything of that are all shown. The
//! batches they are in are all listed with their anchors in the badge.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::report::{CodeReport, RecordEntry};

/// The parts of a report the page shows, each distinct record once.
#[derive(Debug)]
pub struct Journey<'a> {
    /// The item's production record, if the report has one.
    pub production: Option<&'a RecordEntry>,
    /// Inspection records, in time order.
    pub inspections: Vec<&'a RecordEntry>,
    /// Customs records, in time order.
    pub customs: Vec<&'a RecordEntry>,
    /// Every distinct record, in time order (the report's order, kept for
    /// equal times).
    pub timeline: Vec<&'a RecordEntry>,
}

impl<'a> Journey<'a> {
    /// Groups the report's distinct records.
    pub fn from_report(report: &'a CodeReport) -> Journey<'a> {
        let mut timeline = distinct_records(&report.records);
        timeline.sort_by_key(|r| micros(&r.record, "event_time").unwrap_or(i64::MIN));
        let of_kind = |kind: &str| -> Vec<&'a RecordEntry> {
            timeline
                .iter()
                .copied()
                .filter(|r| r.kind == kind)
                .collect()
        };
        let production = timeline
            .iter()
            .copied()
            .find(|r| {
                r.kind == "production" && text(&r.record, "code") == Some(report.code.as_str())
            })
            .or_else(|| timeline.iter().copied().find(|r| r.kind == "production"));
        Journey {
            production,
            inspections: of_kind("inspection"),
            customs: of_kind("customs"),
            timeline,
        }
    }
}

/// The records with each record anchored in several batches once (its
/// first entry), in the given order. Entries are the same record when kind,
/// canonical bytes, values and provider are all equal.
pub fn distinct_records(records: &[RecordEntry]) -> Vec<&RecordEntry> {
    let mut seen: HashMap<(&str, &str), Vec<&RecordEntry>> = HashMap::new();
    let mut out = Vec::with_capacity(records.len());
    for entry in records {
        let same_bytes = seen
            .entry((entry.kind.as_str(), entry.canonical.as_str()))
            .or_default();
        let shown = same_bytes.iter().any(|kept| {
            kept.record == entry.record && kept.source.provided_by == entry.source.provided_by
        });
        if !shown {
            same_bytes.push(entry);
            out.push(entry);
        }
    }
    out
}

/// A text column's value.
pub fn text<'r>(record: &'r Map<String, Value>, column: &str) -> Option<&'r str> {
    record.get(column)?.as_str()
}

/// A timestamp column's value (µs since the epoch).
pub fn micros(record: &Map<String, Value>, column: &str) -> Option<i64> {
    record.get(column)?.as_i64()
}

/// An integer column's value (`int32`, or a date as days since the epoch).
pub fn int(record: &Map<String, Value>, column: &str) -> Option<i64> {
    record.get(column)?.as_i64()
}

/// A text list column's items (non-text items skipped).
pub fn text_list<'r>(record: &'r Map<String, Value>, column: &str) -> Vec<&'r str> {
    record
        .get(column)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// An attachment list column's `(uri, digest)` items.
pub fn attachments<'r>(record: &'r Map<String, Value>, column: &str) -> Vec<(&'r str, &'r str)> {
    record
        .get(column)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|a| Some((a.get("uri")?.as_str()?, a.get("digest")?.as_str()?)))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::RecordSource;
    use serde_json::json;

    fn entry(kind: &str, canonical: &str, record: Value, batch: &str) -> RecordEntry {
        let Value::Object(record) = record else {
            unreachable!("records are objects")
        };
        RecordEntry {
            kind: kind.into(),
            subject: "item".into(),
            record,
            canonical: canonical.into(),
            leaf_hash: "00".into(),
            batch_id: batch.into(),
            leaf_index: 0,
            source: RecordSource {
                file: format!("{batch}/part.parquet"),
                row: 0,
                provided_by: "org".into(),
            },
            proof: Value::Null,
        }
    }

    #[test]
    fn a_record_in_two_batches_is_shown_once_and_different_ones_all() {
        let a = json!({"record_id": "R1", "event_time": 5});
        let records = vec![
            entry("inspection", "aa", a.clone(), "b1"),
            entry("inspection", "aa", a.clone(), "b2"),
            // Same bytes claimed, other values: not merged.
            entry(
                "inspection",
                "aa",
                json!({"record_id": "R1", "event_time": 6}),
                "b2",
            ),
            // Same values, other kind or other bytes: not merged.
            entry("customs", "aa", a.clone(), "b2"),
            entry("inspection", "ab", a.clone(), "b2"),
        ];
        let distinct = distinct_records(&records);
        assert_eq!(distinct.len(), 4);
        assert_eq!(distinct[0].batch_id, "b1");
        let mut other_provider = records[1].clone();
        other_provider.source.provided_by = "someone else".into();
        assert_eq!(
            distinct_records(&[records[0].clone(), other_provider]).len(),
            2
        );
    }
}
