//! A code's journey, read out of its report: the product and factory, the
//! inspections, the customs declarations, and every record in time order.
//!
//! Record values are untrusted JSON (SPEC.md section 10 form): a value of an
//! unexpected type is treated as absent, never as an error.

use serde_json::{Map, Value};

use crate::report::{CodeReport, RecordEntry};

/// The parts of a report the page shows.
#[derive(Debug)]
pub struct Journey<'a> {
    /// The item's production record, if the report has one.
    pub production: Option<&'a RecordEntry>,
    /// Inspection records, in time order.
    pub inspections: Vec<&'a RecordEntry>,
    /// Customs records, in time order.
    pub customs: Vec<&'a RecordEntry>,
    /// Every record, in time order (the report's order, kept for equal times).
    pub timeline: Vec<&'a RecordEntry>,
}

impl<'a> Journey<'a> {
    /// Groups the report's records.
    pub fn from_report(report: &'a CodeReport) -> Journey<'a> {
        let mut timeline: Vec<&RecordEntry> = report.records.iter().collect();
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
