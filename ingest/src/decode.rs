//! Decoding one row group from the bytes of its range, held in memory.

use bytes::{Buf, Bytes};
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use parquet::errors::{ParquetError, Result as ParquetResult};
use parquet::file::reader::{ChunkReader, Length};

/// Most rows decoded into one record batch. Small batches keep a batch's columns in the
/// CPU caches while it is validated, encoded and hashed: on the generated dataset,
/// `process_segment` ran at 1.5 M rows/s per core with 64 Ki-row batches, 2.0 M with
/// 16 Ki and 2.3 to 2.5 M with 1 to 4 Ki rows.
pub const MAX_BATCH_ROWS: usize = 4096;

/// A [`ChunkReader`] over one byte range of a file: the bytes from `offset`, in a file of
/// `file_len` bytes. Reads outside the range are errors.
#[derive(Clone, Debug)]
pub struct RangeReader {
    offset: u64,
    data: Bytes,
    file_len: u64,
}

impl RangeReader {
    /// A reader of `data`, found at `offset` in a file of `file_len` bytes.
    pub fn new(offset: u64, data: Bytes, file_len: u64) -> Self {
        RangeReader {
            offset,
            data,
            file_len,
        }
    }

    fn slice(&self, start: u64, length: Option<usize>) -> ParquetResult<Bytes> {
        let end_of_data = self.offset + self.data.len() as u64;
        let length = length.map_or(end_of_data.saturating_sub(start), |l| l as u64);
        if start < self.offset || start.saturating_add(length) > end_of_data {
            return Err(ParquetError::EOF(format!(
                "bytes {start}..{} are outside the fetched range {}..{end_of_data}",
                start.saturating_add(length),
                self.offset
            )));
        }
        let from = (start - self.offset) as usize;
        Ok(self.data.slice(from..from + length as usize))
    }
}

impl Length for RangeReader {
    fn len(&self) -> u64 {
        self.file_len
    }
}

impl ChunkReader for RangeReader {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> ParquetResult<Self::T> {
        Ok(self.slice(start, None)?.reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> ParquetResult<Bytes> {
        self.slice(start, Some(length))
    }
}

/// Largest compressed dictionary page of a column chunk read as a dictionary array. A
/// writer gives up a column's dictionary when it outgrows its limit (about 1 MiB in common
/// writers) and writes the rest of the chunk plainly; a dictionary array of such a chunk is
/// rebuilt by hashing every value, slower than plain texts. A small dictionary page cannot
/// have hit the limit.
pub const MAX_DICTIONARY_PAGE_BYTES: i64 = 32 * 1024;

/// `arrow` with each top-level text column that row group `row_group` stores with a small
/// dictionary (at most [`MAX_DICTIONARY_PAGE_BYTES`]) read as `Dictionary(Int32, Utf8)`:
/// its texts are then neither copied row by row when decoded nor checked more than once.
/// The other columns, and files without such chunks, are unchanged.
pub fn with_dictionaries(arrow: &ArrowReaderMetadata, row_group: usize) -> ArrowReaderMetadata {
    let metadata = arrow.metadata();
    let Some(rg) = metadata.row_groups().get(row_group) else {
        return arrow.clone();
    };
    let small_dictionary = |name: &str| {
        rg.columns().iter().any(|c| {
            let path = c.column_path().parts();
            path.len() == 1
                && path[0] == name
                && c.dictionary_page_offset().is_some_and(|d| {
                    (0..=MAX_DICTIONARY_PAGE_BYTES).contains(&(c.data_page_offset() - d))
                })
        })
    };
    let schema = arrow.schema();
    let mut changed = false;
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            if f.data_type() == &DataType::Utf8 && small_dictionary(f.name()) {
                changed = true;
                let dict =
                    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
                f.as_ref().clone().with_data_type(dict)
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    if !changed {
        return arrow.clone();
    }
    let hinted = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    ArrowReaderMetadata::try_new(
        Arc::clone(metadata),
        ArrowReaderOptions::new().with_schema(hinted),
    )
    .unwrap_or_else(|_| arrow.clone())
}

/// A record batch reader over row group `row_group` of a file whose metadata is `arrow`,
/// reading from `reader`; batches of at most [`MAX_BATCH_ROWS`] rows. Small dictionaries
/// are kept ([`with_dictionaries`]).
pub fn row_group_reader(
    reader: RangeReader,
    arrow: ArrowReaderMetadata,
    row_group: usize,
    rows: u64,
) -> ParquetResult<ParquetRecordBatchReader> {
    let batch = (rows as usize).clamp(1, MAX_BATCH_ROWS);
    let arrow = with_dictionaries(&arrow, row_group);
    ParquetRecordBatchReaderBuilder::new_with_metadata(reader, arrow)
        .with_row_groups(vec![row_group])
        .with_batch_size(batch)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_reads() {
        let r = RangeReader::new(100, Bytes::from_static(b"abcdef"), 1000);
        assert_eq!(r.len(), 1000);
        assert_eq!(r.get_bytes(101, 3).ok().as_deref(), Some(&b"bcd"[..]));
        assert_eq!(r.get_bytes(100, 6).ok().as_deref(), Some(&b"abcdef"[..]));
        assert!(r.get_bytes(99, 2).is_err());
        assert!(r.get_bytes(104, 3).is_err());
        let mut s = String::new();
        std::io::Read::read_to_string(&mut r.get_read(103).expect("read"), &mut s).expect("utf8");
        assert_eq!(s, "def");
    }
}
