//! A code's journey, read out of its report: the product and factory, the
//! inspections, the customs declarations, and every record in time order.
//!
//! Record values are untrusted JSON (SPEC.md section 10 form): a value of an
//! unexpected type is treated as absent, never as an error.
//!
//! The journey places each record at the time it shows: its `event_time`,
//! but a customs record at the time its status names ([`shown_time`]), so
//! that "Cleared customs" is shown at the clearance, not at whatever time
//! the broker filed the record. Records that need the buyer's attention (a
//! recall, a return, a destruction, a failed inspection, goods held or
//! refused at customs) are also gathered as [`Alert`]s.
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
    /// Every distinct record, in the order of [`shown_time`] (the report's
    /// order kept for equal times).
    pub timeline: Vec<&'a RecordEntry>,
    /// The records that need the buyer's attention, in timeline order.
    pub alerts: Vec<Alert<'a>>,
}

/// A record that needs the buyer's attention, with what the page says of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alert<'a> {
    /// A logistics event `recalled`, `returned` or `destroyed`.
    Logistics {
        /// The event type.
        event: &'a str,
        /// When.
        at_us: Option<i64>,
    },
    /// An inspection whose result is `fail`.
    InspectionFailed {
        /// The inspection type.
        inspection_type: &'a str,
        /// When.
        at_us: Option<i64>,
    },
    /// A customs declaration whose latest record's status is `held` or
    /// `rejected` (goods held and then released raise none).
    Customs {
        /// The status.
        status: &'a str,
        /// When (the record's [`shown_time`]).
        at_us: Option<i64>,
    },
}

/// What an [`Alert`] is about, gravest last (so that the greatest is the one
/// the page's warning is headed by).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertKind {
    /// Goods held by customs, which may yet be released.
    CustomsHeld,
    /// The item was returned.
    Returned,
    /// An inspection failed.
    InspectionFailed,
    /// Customs refused the goods entry.
    CustomsRejected,
    /// The item was destroyed.
    Destroyed,
    /// The item was recalled.
    Recalled,
}

impl Alert<'_> {
    /// What it is about.
    pub fn kind(&self) -> AlertKind {
        match self {
            Alert::Logistics {
                event: "recalled", ..
            } => AlertKind::Recalled,
            Alert::Logistics {
                event: "destroyed", ..
            } => AlertKind::Destroyed,
            Alert::Logistics { .. } => AlertKind::Returned,
            Alert::InspectionFailed { .. } => AlertKind::InspectionFailed,
            Alert::Customs {
                status: "rejected", ..
            } => AlertKind::CustomsRejected,
            Alert::Customs { .. } => AlertKind::CustomsHeld,
        }
    }

    /// Whether it is grave (red): a recall, a destruction, a failed
    /// inspection, goods refused entry. A return and goods held at customs
    /// (which may yet be released) are a caution (amber).
    pub fn is_grave(&self) -> bool {
        self.kind() >= AlertKind::InspectionFailed
    }

    /// The alert a record raises, if any.
    pub fn of(entry: &RecordEntry) -> Option<Alert<'_>> {
        let r = &entry.record;
        match entry.kind.as_str() {
            "logistics" => text(r, "event_type")
                .filter(|e| matches!(*e, "recalled" | "returned" | "destroyed"))
                .map(|event| Alert::Logistics {
                    event,
                    at_us: micros(r, "event_time"),
                }),
            "inspection" if text(r, "result") == Some("fail") => Some(Alert::InspectionFailed {
                inspection_type: text(r, "inspection_type").unwrap_or_default(),
                at_us: micros(r, "event_time"),
            }),
            "customs" => text(r, "status")
                .filter(|s| matches!(*s, "held" | "rejected"))
                .map(|status| Alert::Customs {
                    status,
                    at_us: shown_time(entry),
                }),
            _ => None,
        }
    }
}

/// The time the journey shows a record at: a customs record's `cleared_at`
/// when it was `released`, its `declared_at` when it is `declared` (either
/// falling back to `event_time` when absent); every other record's
/// `event_time`.
pub fn shown_time(entry: &RecordEntry) -> Option<i64> {
    let r = &entry.record;
    let event_time = micros(r, "event_time");
    if entry.kind != "customs" {
        return event_time;
    }
    match text(r, "status") {
        Some("released") => micros(r, "cleared_at").or(event_time),
        Some("declared") => micros(r, "declared_at").or(event_time),
        _ => event_time,
    }
}

impl<'a> Journey<'a> {
    /// Groups the report's distinct records.
    pub fn from_report(report: &'a CodeReport) -> Journey<'a> {
        let mut timeline = distinct_records(&report.records);
        timeline.sort_by_key(|r| shown_time(r).unwrap_or(i64::MIN));
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
        // A declaration's status is that of its latest record: one held and then released is
        // not held. Records without a declaration id stand alone.
        let customs = of_kind("customs");
        let mut latest_customs: HashMap<&str, &RecordEntry> = HashMap::new();
        for &r in &customs {
            if let Some(id) = text(&r.record, "declaration_id") {
                latest_customs.insert(id, r);
            }
        }
        let superseded = |r: &RecordEntry| {
            r.kind == "customs"
                && text(&r.record, "declaration_id")
                    .and_then(|id| latest_customs.get(id))
                    .is_some_and(|latest| !std::ptr::eq(*latest, r))
        };
        let alerts = timeline
            .iter()
            .copied()
            .filter(|r| !superseded(r))
            .filter_map(Alert::of)
            .collect();
        Journey {
            production,
            inspections: of_kind("inspection"),
            customs,
            timeline,
            alerts,
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

    fn report(records: Vec<RecordEntry>) -> CodeReport {
        CodeReport {
            format: "proofmark-code/1".into(),
            code: "C".into(),
            subjects: Vec::new(),
            records,
            batches: Default::default(),
        }
    }

    #[test]
    fn customs_records_are_placed_at_the_time_their_status_names() {
        let released = entry(
            "customs",
            "c1",
            json!({"status": "released", "event_time": 50, "declared_at": 10, "cleared_at": 30}),
            "b",
        );
        let declared = entry(
            "customs",
            "c2",
            json!({"status": "declared", "event_time": 50, "declared_at": 12}),
            "b",
        );
        let released_uncleared = entry(
            "customs",
            "c3",
            json!({"status": "released", "event_time": 41, "declared_at": 10}),
            "b",
        );
        let held = entry(
            "customs",
            "c4",
            json!({"status": "held", "event_time": 45, "declared_at": 10}),
            "b",
        );
        let arrived = entry(
            "logistics",
            "l1",
            json!({"event_type": "arrived", "event_time": 20, "cleared_at": 1}),
            "b",
        );
        assert_eq!(shown_time(&released), Some(30));
        assert_eq!(shown_time(&declared), Some(12));
        assert_eq!(shown_time(&released_uncleared), Some(41));
        assert_eq!(shown_time(&held), Some(45));
        assert_eq!(shown_time(&arrived), Some(20));
        let report = report(vec![
            released.clone(),
            declared,
            released_uncleared,
            held,
            arrived,
        ]);
        let journey = Journey::from_report(&report);
        let order: Vec<&str> = journey
            .timeline
            .iter()
            .map(|e| e.canonical.as_str())
            .collect();
        assert_eq!(order, ["c2", "l1", "c1", "c3", "c4"]);
    }

    #[test]
    fn a_declaration_held_and_then_released_is_no_alert() {
        let customs = |name: &'static str, id: &str, status: &str, t: i64| {
            entry(
                "customs",
                name,
                json!({"declaration_id": id, "status": status, "event_time": t}),
                "b",
            )
        };
        // d1 held, then released; d2 released, then held; d3 held only.
        let report = report(vec![
            customs("a", "d1", "held", 1),
            customs("b", "d1", "released", 2),
            customs("c", "d2", "released", 3),
            customs("d", "d2", "held", 4),
            customs("e", "d3", "rejected", 5),
        ]);
        let journey = Journey::from_report(&report);
        assert_eq!(
            journey.alerts,
            [
                Alert::Customs {
                    status: "held",
                    at_us: Some(4)
                },
                Alert::Customs {
                    status: "rejected",
                    at_us: Some(5)
                },
            ]
        );
        // Every record is still in the timeline.
        assert_eq!(journey.timeline.len(), 5);
    }

    #[test]
    fn recalls_failed_inspections_and_held_goods_are_alerts() {
        let records = vec![
            entry(
                "logistics",
                "l1",
                json!({"event_type": "shipped", "event_time": 1}),
                "b",
            ),
            entry(
                "logistics",
                "l2",
                json!({"event_type": "recalled", "event_time": 9}),
                "b",
            ),
            entry(
                "logistics",
                "l3",
                json!({"event_type": "returned", "event_time": 5}),
                "b",
            ),
            entry(
                "inspection",
                "i1",
                json!({"inspection_type": "quarantine", "result": "pass", "event_time": 2}),
                "b",
            ),
            entry(
                "inspection",
                "i2",
                json!({"inspection_type": "label_check", "result": "fail", "event_time": 3}),
                "b",
            ),
            entry(
                "customs",
                "c1",
                json!({"status": "held", "event_time": 4}),
                "b",
            ),
            entry(
                "customs",
                "c2",
                json!({"status": "released", "event_time": 6}),
                "b",
            ),
        ];
        let report = report(records);
        let journey = Journey::from_report(&report);
        assert_eq!(
            journey.alerts,
            [
                Alert::InspectionFailed {
                    inspection_type: "label_check",
                    at_us: Some(3)
                },
                Alert::Customs {
                    status: "held",
                    at_us: Some(4)
                },
                Alert::Logistics {
                    event: "returned",
                    at_us: Some(5)
                },
                Alert::Logistics {
                    event: "recalled",
                    at_us: Some(9)
                },
            ]
        );
        let grave: Vec<bool> = journey.alerts.iter().map(Alert::is_grave).collect();
        assert_eq!(grave, [true, false, false, true]);
        assert!(
            Alert::Customs {
                status: "rejected",
                at_us: None
            }
            .is_grave()
        );
        assert!(
            Alert::Logistics {
                event: "destroyed",
                at_us: None
            }
            .is_grave()
        );
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
