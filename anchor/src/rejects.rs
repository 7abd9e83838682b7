//! `rejects.parquet` (SPEC 8.5): every rejected row of the batch, written
//! from the segments' `.rejects.jsonl` files in segment then row order, as
//! plain Parquet (one Arrow writer, ZSTD pages) that DuckDB, Spark or pandas
//! read without help.
//!
//! | column | type |
//! | --- | --- |
//! | `file` | Utf8 |
//! | `row` | UInt64 |
//! | `record_id` | Utf8, nullable |
//! | `reasons` | Utf8: reason codes joined by `,` |
//! | `columns` | Utf8: the column of each reason, joined by `,` |
//! | `record_json` | Utf8: the row as JSON |

use std::io::Write;
use std::sync::Arc;

use arrow_array::builder::{StringBuilder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::error::AnchorError;
use crate::segment_files::RejectLine;

/// Rows per Arrow batch handed to the writer.
const BATCH_ROWS: usize = 8192;

/// Rows per Parquet row group: the writer holds a row group's encoded pages
/// in memory until it is complete, so this bounds the writer's memory.
const ROW_GROUP_ROWS: usize = 65_536;

/// The Arrow schema of `rejects.parquet`.
pub fn rejects_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("file", DataType::Utf8, false),
        Field::new("row", DataType::UInt64, false),
        Field::new("record_id", DataType::Utf8, true),
        Field::new("reasons", DataType::Utf8, false),
        Field::new("columns", DataType::Utf8, false),
        Field::new("record_json", DataType::Utf8, false),
    ]))
}

/// Streams reject rows into a Parquet file, a few thousand rows at a time.
pub struct RejectsWriter<W: Write + Send> {
    writer: ArrowWriter<W>,
    file: StringBuilder,
    row: UInt64Builder,
    record_id: StringBuilder,
    reasons: StringBuilder,
    columns: StringBuilder,
    record_json: StringBuilder,
    pending: usize,
    rows: u64,
    scratch: String,
}

impl<W: Write + Send> std::fmt::Debug for RejectsWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RejectsWriter")
            .field("rows", &self.rows)
            .finish()
    }
}

impl<W: Write + Send> RejectsWriter<W> {
    /// A writer into `out`.
    ///
    /// # Errors
    ///
    /// [`AnchorError::Parquet`] if the writer cannot start.
    pub fn try_new(out: W) -> Result<Self, AnchorError> {
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_created_by(format!("proofmark {}", env!("CARGO_PKG_VERSION")))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build();
        let writer = ArrowWriter::try_new(out, rejects_schema(), Some(props))?;
        Ok(Self {
            writer,
            file: StringBuilder::new(),
            row: UInt64Builder::new(),
            record_id: StringBuilder::new(),
            reasons: StringBuilder::new(),
            columns: StringBuilder::new(),
            record_json: StringBuilder::new(),
            pending: 0,
            rows: 0,
            scratch: String::new(),
        })
    }

    /// Adds one row.
    ///
    /// # Errors
    ///
    /// As [`RejectsWriter::finish`], when a full batch is flushed.
    pub fn push(&mut self, line: &RejectLine) -> Result<(), AnchorError> {
        self.file.append_value(&line.file);
        self.row.append_value(line.row);
        self.record_id.append_option(line.record_id.as_deref());
        self.scratch.clear();
        join_into(&mut self.scratch, &line.reasons);
        self.reasons.append_value(&self.scratch);
        self.scratch.clear();
        join_into(&mut self.scratch, &line.columns);
        self.columns.append_value(&self.scratch);
        self.record_json.append_value(&line.record_json);
        self.pending += 1;
        self.rows += 1;
        if self.pending >= BATCH_ROWS {
            self.flush_batch()?;
        }
        Ok(())
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn flush_batch(&mut self) -> Result<(), AnchorError> {
        if self.pending == 0 {
            return Ok(());
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.file.finish()),
            Arc::new(self.row.finish()),
            Arc::new(self.record_id.finish()),
            Arc::new(self.reasons.finish()),
            Arc::new(self.columns.finish()),
            Arc::new(self.record_json.finish()),
        ];
        let batch = RecordBatch::try_new(rejects_schema(), columns)?;
        self.writer.write(&batch)?;
        self.pending = 0;
        Ok(())
    }

    /// Writes the last rows and the footer; returns the output.
    ///
    /// # Errors
    ///
    /// [`AnchorError::Parquet`] or [`AnchorError::Arrow`].
    pub fn finish(mut self) -> Result<W, AnchorError> {
        self.flush_batch()?;
        Ok(self.writer.into_inner()?)
    }
}

fn join_into(out: &mut String, items: &[String]) {
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(s);
    }
}

/// Parses a `.rejects.jsonl` file, calling `f` for each line in order.
///
/// # Errors
///
/// [`AnchorError::Json`] naming `path` and the line, or `f`'s error.
pub fn for_each_reject_line(
    path: &str,
    bytes: &[u8],
    mut f: impl FnMut(RejectLine) -> Result<(), AnchorError>,
) -> Result<u64, AnchorError> {
    let mut n = 0;
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let parsed: RejectLine =
            serde_json::from_slice(line).map_err(|source| AnchorError::Json {
                path: format!("{path} line {}", i + 1),
                source,
            })?;
        f(parsed)?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::UInt64Type;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    #[test]
    fn rejects_round_trip_through_parquet() {
        let mut w = RejectsWriter::try_new(Vec::new()).unwrap();
        let n = 20_000u64;
        for i in 0..n {
            w.push(&RejectLine {
                file: "s3://in/a.parquet".into(),
                row: i,
                record_id: (i % 3 != 0).then(|| format!("r{i}")),
                reasons: vec!["no_subject".into(), "bad_gtin".into()],
                columns: vec!["code".into(), "gtin".into()],
                record_json: format!("{{\"record_id\":\"r{i}\"}}"),
            })
            .unwrap();
        }
        assert_eq!(w.rows(), n);
        let bytes = bytes::Bytes::from(w.finish().unwrap());
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .unwrap()
            .build()
            .unwrap();
        let mut seen = 0u64;
        for batch in reader {
            let batch = batch.unwrap();
            assert_eq!(batch.schema(), rejects_schema());
            let rows = batch.column(1).as_primitive::<UInt64Type>();
            let ids = batch.column(2).as_string::<i32>();
            let reasons = batch.column(3).as_string::<i32>();
            for j in 0..batch.num_rows() {
                assert_eq!(rows.value(j), seen);
                assert_eq!(ids.is_null(j), seen.is_multiple_of(3));
                assert_eq!(reasons.value(j), "no_subject,bad_gtin");
                seen += 1;
            }
        }
        assert_eq!(seen, n);
    }

    #[test]
    fn empty_rejects_still_make_a_readable_file() {
        let w = RejectsWriter::try_new(Vec::new()).unwrap();
        let bytes = bytes::Bytes::from(w.finish().unwrap());
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(reader.map(|b| b.unwrap().num_rows()).sum::<usize>(), 0);
    }

    #[test]
    fn bad_lines_are_named() {
        let err = for_each_reject_line("x.jsonl", b"{}\n", |_| Ok(())).unwrap_err();
        assert!(matches!(err, AnchorError::Json { ref path, .. } if path == "x.jsonl line 1"));
    }
}
