//! The code audit: many code reports verified at once
//! ([`crate::verify::verify_reports`]), one result row per code, written as
//! CSV, JSON or Parquet.

use std::io::Write;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::report::{CODE_REPORT_FORMAT, CodeReport};
use crate::verify::{ReportVerdict, Trust, verify_reports};

/// The outcome for one code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeStatus {
    /// Every needed check passed.
    Verified,
    /// Some check failed (or nothing anchors the batch).
    NotVerified,
    /// No published batch holds the code.
    Unknown,
    /// The line is not a code: it breaks the code rule (SPEC.md 2.3), so it was not looked
    /// up (a typo or a damaged list rather than a code that is missing).
    Malformed,
    /// The report could not be obtained or checked (network, server, chain).
    Error,
}

impl CodeStatus {
    /// The name written in the output.
    pub fn name(self) -> &'static str {
        match self {
            CodeStatus::Verified => "verified",
            CodeStatus::NotVerified => "not_verified",
            CodeStatus::Unknown => "unknown",
            CodeStatus::Malformed => "malformed",
            CodeStatus::Error => "error",
        }
    }
}

/// One output row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeAuditRow {
    /// The code.
    pub code: String,
    /// The outcome.
    pub status: CodeStatus,
    /// Records in the report.
    pub records: u64,
    /// The batches of the records, `;`-separated.
    pub batches: String,
    /// Why it is not verified, `; `-separated (empty when verified).
    pub reasons: String,
}

impl CodeAuditRow {
    /// The row of a verdict.
    pub fn from_verdict(v: &ReportVerdict) -> Self {
        CodeAuditRow {
            code: v.code.clone(),
            status: if v.verified {
                CodeStatus::Verified
            } else if v.has_errors() {
                CodeStatus::Error
            } else {
                CodeStatus::NotVerified
            },
            records: v.records.len() as u64,
            batches: v.batches.keys().cloned().collect::<Vec<_>>().join(";"),
            reasons: v.reasons.join("; "),
        }
    }

    /// The row of a code without a report (unknown, or an error).
    pub fn without_report(code: &str, status: CodeStatus, reason: &str) -> Self {
        CodeAuditRow {
            code: code.to_owned(),
            status,
            records: 0,
            batches: String::new(),
            reasons: reason.to_owned(),
        }
    }
}

/// One line of a `POST /v1/audit` answer (or of a file of reports).
#[derive(Debug, Clone, PartialEq)]
pub enum AuditLine {
    /// A code report.
    Report(Box<CodeReport>),
    /// No report for the code: `(code, status, message)`.
    NoReport(String, CodeStatus, String),
}

/// The reason of a [`CodeStatus::Unknown`] row, whether the report came from a server
/// or a store.
pub const UNKNOWN_CODE_REASON: &str = "no anchored batch published to the service holds the code";

/// The reason of a [`CodeStatus::Malformed`] row, whether the report came from a server
/// or a store.
pub const MALFORMED_CODE_REASON: &str = "not a code: a code is 6 to 48 characters, each a \
     letter, a digit, '.', '_' or '-' (SPEC.md 2.3)";

/// Parses one NDJSON line: a code report, or `{"code", "error": {"code", "message"}}`
/// (`unknown_code` is [`CodeStatus::Unknown`] and `malformed_code`
/// [`CodeStatus::Malformed`], each with its fixed reason, any other error
/// [`CodeStatus::Error`] with the server's message).
/// An object that says it is a code report (`"format": "proofmark-code/1"`) but
/// does not decode as one (SPEC.md 11.1: a missing or unknown field, a wrong
/// type) is a report that fails its checks: [`CodeStatus::NotVerified`] with
/// the reason, under its `code` when it has one.
///
/// # Errors
///
/// A message when the line is neither.
pub fn parse_audit_line(line: &str) -> Result<AuditLine, String> {
    // A member named twice (SPEC.md 11.1) fails the report that has it, read as other
    // readers would to find its code.
    let (value, twice) = crate::report::parse_json_document(line.as_bytes())
        .map_err(|e| format!("not JSON: {e}"))?;
    if let Some(err) = value.get("error") {
        let code = value
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = err.get("code").and_then(Value::as_str).unwrap_or_default();
        let message = err.get("message").and_then(Value::as_str).unwrap_or(kind);
        let (status, message) = match kind {
            "unknown_code" => (CodeStatus::Unknown, UNKNOWN_CODE_REASON),
            "malformed_code" => (CodeStatus::Malformed, MALFORMED_CODE_REASON),
            _ => (CodeStatus::Error, message),
        };
        return Ok(AuditLine::NoReport(
            code.to_owned(),
            status,
            message.to_owned(),
        ));
    }
    let claims_report = value.get("format").and_then(Value::as_str) == Some(CODE_REPORT_FORMAT);
    let code = value
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if let Some(strict) = twice {
        return if claims_report {
            Ok(AuditLine::NoReport(
                code,
                CodeStatus::NotVerified,
                format!("{MALFORMED_REPORT}: {strict}"),
            ))
        } else {
            Err(format!("not a code report: {strict}"))
        };
    }
    match serde_json::from_value::<CodeReport>(value) {
        Ok(r) => Ok(AuditLine::Report(Box::new(r))),
        Err(e) if claims_report => Ok(AuditLine::NoReport(
            code,
            CodeStatus::NotVerified,
            format!("{MALFORMED_REPORT}: {e}"),
        )),
        Err(e) => Err(format!("not a code report: {e}")),
    }
}

/// The reason given for a document in the code report format that does not
/// decode as one.
pub const MALFORMED_REPORT: &str = "malformed code report (SPEC.md 11.1)";

/// Verifies the reports among `lines` in parallel and returns one row per
/// line, in order.
pub fn audit_lines(lines: Vec<AuditLine>, trust: &Trust) -> Vec<CodeAuditRow> {
    let mut reports = Vec::new();
    let mut slots = Vec::with_capacity(lines.len());
    for line in lines {
        match line {
            AuditLine::Report(r) => {
                slots.push(None);
                reports.push(*r);
            }
            AuditLine::NoReport(code, status, msg) => {
                slots.push(Some(CodeAuditRow::without_report(&code, status, &msg)));
            }
        }
    }
    let verdicts = verify_reports(&reports, trust);
    // The reports and verdicts are many small blocks: freed on the rayon pool, in
    // parallel, rather than one after the other on this thread.
    let (rows, ()) = rayon::join(
        || {
            verdicts
                .into_par_iter()
                .with_min_len(64)
                .map(|v| CodeAuditRow::from_verdict(&v))
                .collect::<Vec<_>>()
        },
        || reports.into_par_iter().with_min_len(64).for_each(drop),
    );
    let mut rows = rows.into_iter();
    slots
        .into_iter()
        .map(|s| {
            s.or_else(|| rows.next()).unwrap_or_else(|| {
                CodeAuditRow::without_report("", CodeStatus::Error, "no verdict")
            })
        })
        .collect()
}

/// Output formats of the code audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFormat {
    /// Comma-separated values with a header line (RFC 4180 quoting).
    Csv,
    /// One JSON array of row objects.
    Json,
    /// Parquet: columns `code`, `status`, `records` (UInt64), `batches`, `reasons`.
    Parquet,
}

/// Errors writing the rows.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteRowsError {
    /// The output failed.
    #[error("writing the audit rows: {0}")]
    Io(#[from] std::io::Error),
    /// JSON encoding failed.
    #[error("writing the audit rows as JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Parquet encoding failed.
    #[error("writing the audit rows as Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Building the Arrow batch failed.
    #[error("building the audit rows' Arrow batch: {0}")]
    Arrow(String),
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Rows a Parquet row group of [`RowWriter`] holds at most: its columns are buffered
/// until then, so this bounds the writer's memory (about 10 MiB of short rows).
const PARQUET_ROW_GROUP_ROWS: usize = 65_536;

/// Where a [`RowWriter`] writes.
enum Sink<W: Write + Send> {
    /// CSV or JSON text.
    Text(W),
    /// Parquet.
    Parquet(Box<parquet::arrow::ArrowWriter<W>>),
}

/// Writes audit rows as they come, a window at a time, in one of the [`RowFormat`]s, so
/// that an audit need not keep its rows: memory does not grow with the number of codes.
/// The output is whole only after [`RowWriter::finish`] (a JSON array is closed, a
/// Parquet footer written); write it through a temporary file that is renamed once
/// finished, so that a failed audit leaves no output that looks complete.
pub struct RowWriter<W: Write + Send> {
    sink: Sink<W>,
    format: RowFormat,
    rows: u64,
}

impl<W: Write + Send> RowWriter<W> {
    /// Starts the output: the CSV header line, the JSON array's opening bracket, or the
    /// Parquet writer (columns `code`, `status`, `records` (UInt64), `batches`,
    /// `reasons`).
    ///
    /// # Errors
    ///
    /// [`WriteRowsError`].
    pub fn new(format: RowFormat, mut out: W) -> Result<Self, WriteRowsError> {
        let sink = match format {
            RowFormat::Csv => {
                writeln!(out, "code,status,records,batches,reasons")?;
                Sink::Text(out)
            }
            RowFormat::Json => {
                out.write_all(b"[")?;
                Sink::Text(out)
            }
            RowFormat::Parquet => {
                let props = parquet::file::properties::WriterProperties::builder()
                    .set_max_row_group_row_count(Some(PARQUET_ROW_GROUP_ROWS))
                    .build();
                Sink::Parquet(Box::new(parquet::arrow::ArrowWriter::try_new(
                    out,
                    row_schema(),
                    Some(props),
                )?))
            }
        };
        Ok(RowWriter {
            sink,
            format,
            rows: 0,
        })
    }

    /// Writes `rows` after those written before.
    ///
    /// # Errors
    ///
    /// [`WriteRowsError`].
    pub fn write(&mut self, rows: &[CodeAuditRow]) -> Result<(), WriteRowsError> {
        match &mut self.sink {
            Sink::Text(out) if self.format == RowFormat::Csv => {
                for r in rows {
                    writeln!(
                        out,
                        "{},{},{},{},{}",
                        csv_field(&r.code),
                        r.status.name(),
                        r.records,
                        csv_field(&r.batches),
                        csv_field(&r.reasons)
                    )?;
                }
            }
            Sink::Text(out) => {
                for (i, r) in rows.iter().enumerate() {
                    if self.rows > 0 || i > 0 {
                        out.write_all(b",")?;
                    }
                    serde_json::to_writer(&mut *out, r)?;
                }
            }
            Sink::Parquet(w) if !rows.is_empty() => w.write(&row_batch(rows)?)?,
            Sink::Parquet(_) => {}
        }
        self.rows += rows.len() as u64;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Ends the output (the JSON array's closing bracket, the Parquet footer), flushes it
    /// and returns the writer.
    ///
    /// # Errors
    ///
    /// [`WriteRowsError`]; a buffered writer's last flush fails as loudly as any other
    /// write.
    pub fn finish(self) -> Result<W, WriteRowsError> {
        let mut out = match self.sink {
            Sink::Text(mut out) => {
                if self.format == RowFormat::Json {
                    out.write_all(b"]\n")?;
                }
                out
            }
            Sink::Parquet(w) => w.into_inner()?,
        };
        out.flush()?;
        Ok(out)
    }
}

/// The Parquet (and Arrow) schema of the rows.
fn row_schema() -> Arc<Schema> {
    let text = |name: &str| Field::new(name, DataType::Utf8, false);
    Arc::new(Schema::new(vec![
        text("code"),
        text("status"),
        Field::new("records", DataType::UInt64, false),
        text("batches"),
        text("reasons"),
    ]))
}

/// The Arrow batch of `rows`.
fn row_batch(rows: &[CodeAuditRow]) -> Result<RecordBatch, WriteRowsError> {
    let text = |f: fn(&CodeAuditRow) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
    };
    RecordBatch::try_new(
        row_schema(),
        vec![
            text(|r| &r.code),
            text(|r| r.status.name()),
            Arc::new(rows.iter().map(|r| r.records).collect::<UInt64Array>()) as ArrayRef,
            text(|r| &r.batches),
            text(|r| &r.reasons),
        ],
    )
    .map_err(|e| WriteRowsError::Arrow(e.to_string()))
}

/// Writes `rows` to `out` in `format`, and flushes it ([`RowWriter`] for all at once).
///
/// # Errors
///
/// [`WriteRowsError`].
pub fn write_rows<W: Write + Send>(
    rows: &[CodeAuditRow],
    format: RowFormat,
    out: W,
) -> Result<(), WriteRowsError> {
    let mut w = RowWriter::new(format, out)?;
    w.write(rows)?;
    w.finish()?;
    Ok(())
}

/// Rows of each [`CodeStatus`], counted as the rows are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowCounts {
    /// [`CodeStatus::Verified`] rows.
    pub verified: u64,
    /// [`CodeStatus::NotVerified`] rows.
    pub not_verified: u64,
    /// [`CodeStatus::Unknown`] rows.
    pub unknown: u64,
    /// [`CodeStatus::Malformed`] rows.
    pub malformed: u64,
    /// [`CodeStatus::Error`] rows.
    pub error: u64,
}

impl RowCounts {
    /// Counts `rows` too.
    pub fn add(&mut self, rows: &[CodeAuditRow]) {
        for r in rows {
            *match r.status {
                CodeStatus::Verified => &mut self.verified,
                CodeStatus::NotVerified => &mut self.not_verified,
                CodeStatus::Unknown => &mut self.unknown,
                CodeStatus::Malformed => &mut self.malformed,
                CodeStatus::Error => &mut self.error,
            } += 1;
        }
    }

    /// All rows counted.
    pub fn total(&self) -> u64 {
        self.verified + self.not_verified + self.unknown + self.malformed + self.error
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rows() -> Vec<CodeAuditRow> {
        vec![
            CodeAuditRow::without_report("0001", CodeStatus::Unknown, "unknown code"),
            CodeAuditRow {
                code: "0002".into(),
                status: CodeStatus::NotVerified,
                records: 3,
                batches: "b1;b2".into(),
                reasons: "record 0: \"Canonical\" failed, badly".into(),
            },
        ]
    }

    #[test]
    fn lines_are_reports_errors_or_malformed_reports() {
        let report = serde_json::json!({
            "format": CODE_REPORT_FORMAT, "code": "0001", "subjects": [], "records": [],
            "batches": {},
        });
        assert!(matches!(
            parse_audit_line(&report.to_string()),
            Ok(AuditLine::Report(_))
        ));
        // An unknown field: a report that fails its checks, under its code.
        let mut extra = report.clone();
        extra["verified"] = Value::Bool(true);
        match parse_audit_line(&extra.to_string()) {
            Ok(AuditLine::NoReport(code, CodeStatus::NotVerified, why)) => {
                assert_eq!(code, "0001");
                assert!(why.starts_with(MALFORMED_REPORT), "{why}");
            }
            other => panic!("{other:?}"),
        }
        let mut missing = report.clone();
        missing.as_object_mut().unwrap().remove("batches");
        assert!(matches!(
            parse_audit_line(&missing.to_string()),
            Ok(AuditLine::NoReport(_, CodeStatus::NotVerified, _))
        ));
        let error = r#"{"code":"0002","error":{"code":"unknown_code","message":"no batch"}}"#;
        assert_eq!(
            parse_audit_line(error),
            Ok(AuditLine::NoReport(
                "0002".into(),
                CodeStatus::Unknown,
                UNKNOWN_CODE_REASON.into()
            ))
        );
        assert!(parse_audit_line("{\"format\": \"other\"}").is_err());
        assert!(parse_audit_line("not json").is_err());
        // A member named twice, at any depth: a report that fails its checks.
        let text = report.to_string();
        for twice in [
            text.replacen("\"batches\":{}", "\"batches\":{},\"batches\":{}", 1),
            text.replacen("\"batches\":{}", "\"batches\":{\"b\":{\"x\":1,\"x\":1}}", 1),
        ] {
            assert_ne!(twice, text);
            match parse_audit_line(&twice) {
                Ok(AuditLine::NoReport(code, CodeStatus::NotVerified, why)) => {
                    assert_eq!(code, "0001");
                    assert!(why.starts_with(MALFORMED_REPORT), "{why}");
                    assert!(why.contains("appears twice in one object"), "{why}");
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(parse_audit_line("{\"format\":\"other\",\"format\":\"other\"}").is_err());
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let mut out = Vec::new();
        write_rows(&rows(), RowFormat::Csv, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "code,status,records,batches,reasons\n0001,unknown,0,,unknown code\n\
             0002,not_verified,3,b1;b2,\"record 0: \"\"Canonical\"\" failed, badly\"\n"
        );
    }

    #[test]
    fn json_and_parquet_round_trip() {
        let mut out = Vec::new();
        write_rows(&rows(), RowFormat::Json, &mut out).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v[1]["status"], "not_verified");
        assert_eq!(v[1]["records"], 3);

        let mut out = Vec::new();
        write_rows(&rows(), RowFormat::Parquet, &mut out).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            bytes::Bytes::from(out),
        )
        .unwrap()
        .build()
        .unwrap();
        let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        assert_eq!(batches[0].num_rows(), 2);
        assert_eq!(batches[0].schema().field(2).name(), "records");
    }

    /// Rows written a window at a time give the bytes of the rows written at once, and
    /// an audit of no row is still a whole document of its format.
    #[test]
    fn rows_written_in_windows_are_the_rows_written_at_once() {
        let many: Vec<CodeAuditRow> = (0..7).flat_map(|_| rows()).collect();
        for format in [RowFormat::Csv, RowFormat::Json] {
            let mut whole = Vec::new();
            write_rows(&many, format, &mut whole).unwrap();
            let mut w = RowWriter::new(format, Vec::new()).unwrap();
            for window in many.chunks(3) {
                w.write(window).unwrap();
                w.write(&[]).unwrap();
            }
            assert_eq!(w.rows(), 14);
            assert_eq!(w.finish().unwrap(), whole, "{format:?}");
        }
        // The JSON is the rows' array as serde_json writes it, whatever the windows.
        let mut whole = Vec::new();
        write_rows(&many, RowFormat::Json, &mut whole).unwrap();
        let mut expected = serde_json::to_vec(&many).unwrap();
        expected.push(b'\n');
        assert_eq!(whole, expected);
        let mut empty = Vec::new();
        write_rows(&[], RowFormat::Json, &mut empty).unwrap();
        assert_eq!(empty, b"[]\n");
        let mut empty = Vec::new();
        write_rows(&[], RowFormat::Csv, &mut empty).unwrap();
        assert_eq!(empty, b"code,status,records,batches,reasons\n");

        let mut w = RowWriter::new(RowFormat::Parquet, Vec::new()).unwrap();
        for window in many.chunks(3) {
            w.write(window).unwrap();
        }
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            bytes::Bytes::from(w.finish().unwrap()),
        )
        .unwrap()
        .build()
        .unwrap();
        let codes: Vec<String> = reader
            .map(Result::unwrap)
            .flat_map(|b| {
                let c = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
                c.iter().map(|v| v.unwrap().to_owned()).collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(
            codes,
            many.iter().map(|r| r.code.clone()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn row_counts_count_each_status() {
        let mut counts = RowCounts::default();
        counts.add(&rows());
        counts.add(&rows()[1..]);
        assert_eq!(
            counts,
            RowCounts {
                unknown: 1,
                not_verified: 2,
                ..RowCounts::default()
            }
        );
        assert_eq!(counts.total(), 3);
    }

    #[test]
    fn audit_lines_parse_reports_and_errors() {
        let line = r#"{"code":"123456","error":{"code":"unknown_code","message":"no such code"}}"#;
        assert_eq!(
            parse_audit_line(line).unwrap(),
            AuditLine::NoReport(
                "123456".into(),
                CodeStatus::Unknown,
                UNKNOWN_CODE_REASON.into()
            )
        );
        let line = r#"{"code":"abc","error":{"code":"malformed_code","message":"not a code"}}"#;
        assert_eq!(
            parse_audit_line(line).unwrap(),
            AuditLine::NoReport(
                "abc".into(),
                CodeStatus::Malformed,
                MALFORMED_CODE_REASON.into()
            )
        );
        let line = r#"{"code":"123456","error":{"code":"integrity_failure","message":"x"}}"#;
        assert!(matches!(
            parse_audit_line(line).unwrap(),
            AuditLine::NoReport(_, CodeStatus::Error, _)
        ));
        assert!(parse_audit_line("{}").is_err());
        assert!(parse_audit_line("nope").is_err());
        let rows = audit_lines(
            vec![AuditLine::NoReport(
                "1".into(),
                CodeStatus::Unknown,
                "u".into(),
            )],
            &Trust::new(),
        );
        assert_eq!(rows[0].status, CodeStatus::Unknown);
    }
}
