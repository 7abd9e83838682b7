//! Duplicate record ids within a file, found at plan time so that every segment of the file
//! can reject them without seeing the others.

use arrow_array::Array;
use arrow_array::cast::AsArray;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, TryStreamExt};
use parquet::arrow::ProjectionMask;
use parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaData;
use proofmark_schemas::RecordIdTracker;

use crate::error::IngestError;
use crate::footer::Footer;
use crate::store::Store;

/// Rows decoded per batch while scanning record ids.
const SCAN_BATCH_ROWS: usize = 64 * 1024;

/// The 0-based rows of the file at `path` whose `record_id` an earlier row already used,
/// ascending. Decodes only the `record_id` column, in row order.
pub async fn duplicate_rows(
    store: &Store,
    path: &str,
    url: &str,
    size: u64,
    footer: &Footer,
) -> Result<Vec<u64>, IngestError> {
    let bad = |source| IngestError::BadParquet {
        url: url.to_owned(),
        source,
    };
    let column = footer
        .arrow
        .schema()
        .index_of("record_id")
        .map_err(|e| bad(ParquetError::ArrowError(e.to_string())))?;
    let reader = StoreReader {
        store: store.clone(),
        path: path.to_owned(),
        size,
        metadata: std::sync::Arc::clone(footer.metadata()),
    };
    let mask = ProjectionMask::roots(footer.arrow.parquet_schema(), [column]);
    let mut stream =
        ParquetRecordBatchStreamBuilder::new_with_metadata(reader, footer.arrow.clone())
            .with_projection(mask)
            .with_batch_size(SCAN_BATCH_ROWS)
            .build()
            .map_err(bad)?;
    let mut tracker = RecordIdTracker::new();
    let mut duplicates = Vec::new();
    let mut row = 0u64;
    while let Some(batch) = stream.try_next().await.map_err(bad)? {
        let ids = batch.column(0).as_string_opt::<i32>().ok_or_else(|| {
            bad(ParquetError::General(format!(
                "record_id is {}, not Utf8",
                batch.column(0).data_type()
            )))
        })?;
        for i in 0..ids.len() {
            if ids.is_valid(i) && !tracker.insert(ids.value(i)) {
                duplicates.push(row + i as u64);
            }
        }
        row += ids.len() as u64;
    }
    Ok(duplicates)
}

/// Parquet's async reader over a [`Store`] object whose metadata is already known.
struct StoreReader {
    store: Store,
    path: String,
    size: u64,
    metadata: std::sync::Arc<ParquetMetaData>,
}

impl AsyncFileReader for StoreReader {
    fn get_bytes(
        &mut self,
        range: std::ops::Range<u64>,
    ) -> BoxFuture<'_, Result<Bytes, ParquetError>> {
        async move {
            if range.end > self.size {
                return Err(ParquetError::EOF(format!(
                    "range {range:?} is past the end ({} bytes)",
                    self.size
                )));
            }
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(|e| ParquetError::External(Box::new(e)))
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a parquet::arrow::arrow_reader::ArrowReaderOptions>,
    ) -> BoxFuture<'a, Result<std::sync::Arc<ParquetMetaData>, ParquetError>> {
        let metadata = std::sync::Arc::clone(&self.metadata);
        async move { Ok(metadata) }.boxed()
    }
}
