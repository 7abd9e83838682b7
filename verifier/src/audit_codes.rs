//! The code audit: many code reports verified at once
//! ([`crate::verify::verify_reports`]), one result row per code, written as
//! CSV, JSON or Parquet.

use std::io::Write;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray, UInt64Array};
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

/// Writes `rows` to `out` in `format`, and flushes it.
///
/// # Errors
///
/// [`WriteRowsError`].
pub fn write_rows<W: Write + Send>(
    rows: &[CodeAuditRow],
    format: RowFormat,
    mut out: W,
) -> Result<(), WriteRowsError> {
    match format {
        RowFormat::Csv => {
            writeln!(out, "code,status,records,batches,reasons")?;
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
        RowFormat::Json => {
            serde_json::to_writer(&mut out, rows)?;
            writeln!(out)?;
        }
        RowFormat::Parquet => {
            let text = |f: fn(&CodeAuditRow) -> &str| -> ArrayRef {
                Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
            };
            let batch = RecordBatch::try_from_iter([
                ("code", text(|r| &r.code)),
                ("status", text(|r| r.status.name())),
                (
                    "records",
                    Arc::new(rows.iter().map(|r| r.records).collect::<UInt64Array>()) as ArrayRef,
                ),
                ("batches", text(|r| &r.batches)),
                ("reasons", text(|r| &r.reasons)),
            ])
            .map_err(|e| WriteRowsError::Arrow(e.to_string()))?;
            let mut w = parquet::arrow::ArrowWriter::try_new(out, batch.schema(), None)?;
            w.write(&batch)?;
            out = w.into_inner()?;
        }
    }
    // A buffered writer's last flush fails as loudly as any other write.
    out.flush()?;
    Ok(())
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
