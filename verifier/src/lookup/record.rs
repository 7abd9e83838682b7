//! Reading one record back from its input Parquet file: the file's metadata
//! with its offset index is read once and cached, then each record costs the
//! pages that hold its row (a [`RowSelection`] of one row in one row group).
//! The row is re-encoded (SPEC.md section 3) and leaf-hashed, so the caller
//! can compare it with the stored leaf.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use arrow_array::RecordBatch;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, TryStreamExt};
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, RowSelection, RowSelector,
};
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::errors::ParquetError;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};
use proofmark_ingest::fetch::file_location;
use proofmark_ingest::{Plan, Store};
use proofmark_merkle::{Hash, SuiteId};
use proofmark_schemas::{Kind, RecordView, encode_row, row_to_json};

use super::read::RangeReader;
use crate::error::VerifierError;

/// A record read back from its input.
#[derive(Debug, Clone)]
pub(crate) struct ReadRecord {
    /// Its kind.
    pub kind: Kind,
    /// Its values (SPEC.md 10's JSON form), in schema order.
    pub json: serde_json::Map<String, serde_json::Value>,
    /// Its canonical encoding.
    pub canonical: Vec<u8>,
    /// The leaf hash of the canonical encoding.
    pub leaf_hash: Hash,
}

/// Bytes of a file's end read on the first metadata fetch (most footers fit).
const FOOTER_PREFETCH_BYTES: usize = 64 * 1024;

/// Parquet's async reader over an object of a [`Store`] of known size.
#[derive(Debug, Clone)]
struct StoreReader {
    store: Store,
    path: String,
    size: u64,
    reader: Arc<RangeReader>,
}

impl AsyncFileReader for StoreReader {
    fn get_bytes(
        &mut self,
        range: std::ops::Range<u64>,
    ) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            self.reader
                .read(&self.store, &self.path, range)
                .await
                .map_err(|e| ParquetError::External(Box::new(e)))
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .with_prefetch_hint(Some(FOOTER_PREFETCH_BYTES))
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

/// An input file, open for row reads.
#[derive(Debug, Clone)]
struct OpenFile {
    store: Store,
    path: String,
    size: u64,
    metadata: ArrowReaderMetadata,
}

/// Input files by (batch, file index), with their metadata.
/// Open input files by (batch, file index).
type OpenFiles = HashMap<(Arc<str>, u32), Arc<OpenFile>>;

#[derive(Debug)]
pub(crate) struct InputFiles {
    files: Mutex<OpenFiles>,
    reader: Arc<RangeReader>,
    row_groups: Mutex<RowGroupCache>,
}

/// Decoded row groups, first in first out within a memory budget.
#[derive(Debug, Default)]
struct RowGroupCache {
    budget_bytes: usize,
    bytes: usize,
    map: HashMap<(Arc<str>, u32, u32), Arc<RecordBatch>>,
    order: VecDeque<(Arc<str>, u32, u32)>,
}

impl RowGroupCache {
    fn insert(&mut self, key: (Arc<str>, u32, u32), batch: Arc<RecordBatch>) {
        let size = batch.get_array_memory_size();
        if size > self.budget_bytes || self.map.contains_key(&key) {
            return;
        }
        while self.bytes + size > self.budget_bytes {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(b) = self.map.remove(&old) {
                self.bytes -= b.get_array_memory_size();
            }
        }
        self.bytes += size;
        self.order.push_back(key.clone());
        self.map.insert(key, batch);
    }
}

impl InputFiles {
    /// Input files read through `reader`.
    pub fn new(reader: Arc<RangeReader>) -> Self {
        InputFiles {
            files: Mutex::default(),
            reader,
            row_groups: Mutex::default(),
        }
    }

    /// Sets the memory budget of the decoded row group cache (0: no cache,
    /// each read decodes only the pages of the rows it needs).
    pub fn set_row_group_cache_bytes(&self, bytes: usize) {
        let mut cache = self.lock_row_groups();
        *cache = RowGroupCache {
            budget_bytes: bytes,
            ..RowGroupCache::default()
        };
    }

    fn lock_row_groups(&self) -> std::sync::MutexGuard<'_, RowGroupCache> {
        self.row_groups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A whole decoded row group, from the cache or read and cached; `None`
    /// when the cache is off.
    async fn cached_row_group(
        &self,
        open: &OpenFile,
        key: (Arc<str>, u32, u32),
        planned_rows: u64,
    ) -> Result<Option<Arc<RecordBatch>>, ParquetError> {
        {
            let cache = self.lock_row_groups();
            if cache.budget_bytes == 0 {
                return Ok(None);
            }
            if let Some(b) = cache.map.get(&key) {
                return Ok(Some(Arc::clone(b)));
            }
        }
        let batch = Arc::new(self.decode_row_group(open, key.2, planned_rows).await?);
        self.lock_row_groups().insert(key, Arc::clone(&batch));
        Ok(Some(batch))
    }

    /// Decodes a whole row group, which must have `planned_rows` rows.
    async fn decode_row_group(
        &self,
        open: &OpenFile,
        row_group: u32,
        planned_rows: u64,
    ) -> Result<RecordBatch, ParquetError> {
        let reader = StoreReader {
            store: open.store.clone(),
            path: open.path.clone(),
            size: open.size,
            reader: Arc::clone(&self.reader),
        };
        let batch_size = usize::try_from(planned_rows).unwrap_or(usize::MAX).max(1);
        let mut stream =
            ParquetRecordBatchStreamBuilder::new_with_metadata(reader, open.metadata.clone())
                .with_row_groups(vec![row_group as usize])
                .with_batch_size(batch_size)
                .build()?;
        let Some(batch) = stream.try_next().await? else {
            return Err(ParquetError::General(format!(
                "row group {row_group} is empty"
            )));
        };
        if stream.try_next().await?.is_some() || batch.num_rows() as u64 != planned_rows {
            return Err(ParquetError::General(format!(
                "row group {row_group} does not have the {planned_rows} rows of the plan"
            )));
        }
        Ok(batch)
    }

    /// Row group `row_group` of file `file` of the batch's plan, whole and
    /// decoded, with the file's kind (for `publish`, which reads every row
    /// once; not cached).
    ///
    /// # Errors
    ///
    /// [`VerifierError::Parquet`] naming the file's source when the file
    /// cannot be decoded or its row group does not have the planned rows;
    /// store errors.
    pub async fn row_group(
        &self,
        store: &Store,
        batch_id: &Arc<str>,
        plan: &Plan,
        file: u32,
        row_group: u32,
    ) -> Result<(Kind, RecordBatch), VerifierError> {
        let planned = plan.file(file).ok_or_else(|| {
            VerifierError::integrity(batch_id, 0, format!("the plan has no file {file}"))
        })?;
        let open = self.open(store, batch_id, plan, file).await?;
        let planned_rows = planned
            .row_groups
            .get(row_group as usize)
            .map_or(0, |rg| rg.rows);
        let batch = self
            .decode_row_group(&open, row_group, planned_rows)
            .await
            .map_err(|source| VerifierError::parquet(planned.source.clone(), source))?;
        Ok((planned.kind, batch))
    }

    /// Reads rows `rows` (ascending, distinct, 0-based in the row group) of
    /// row group `row_group` of file `file` of the batch's plan, in one pass
    /// over the pages that hold them; returns them in the same order.
    ///
    /// # Errors
    ///
    /// [`VerifierError::Parquet`] naming the file's source when the file
    /// cannot be decoded or has fewer rows; store errors.
    #[allow(clippy::too_many_arguments)]
    pub async fn read_rows(
        &self,
        store: &Store,
        batch_id: &Arc<str>,
        plan: &Plan,
        suite: SuiteId,
        file: u32,
        row_group: u32,
        rows: &[u64],
    ) -> Result<Vec<ReadRecord>, VerifierError> {
        let planned = plan.file(file).ok_or_else(|| {
            VerifierError::integrity(batch_id, 0, format!("the plan has no file {file}"))
        })?;
        let parquet_err = |source| VerifierError::parquet(planned.source.clone(), source);
        let general = |m: String| parquet_err(ParquetError::General(m));
        let open = self.open(store, batch_id, plan, file).await?;
        let planned_rows = planned
            .row_groups
            .get(row_group as usize)
            .map_or(0, |rg| rg.rows);
        let key = (Arc::clone(batch_id), file, row_group);
        if let Some(batch) = self
            .cached_row_group(&open, key, planned_rows)
            .await
            .map_err(parquet_err)?
        {
            let view = RecordView::try_new(planned.kind, &batch)
                .map_err(|e| general(format!("not {} records: {e}", planned.kind)))?;
            let mut canonical = Vec::with_capacity(512);
            return rows
                .iter()
                .map(|&row| {
                    let i = usize::try_from(row)
                        .ok()
                        .filter(|&i| i < batch.num_rows())
                        .ok_or_else(|| {
                            general(format!("row group {row_group} has no row {row}"))
                        })?;
                    canonical.clear();
                    encode_row(&view, i, &mut canonical);
                    Ok(ReadRecord {
                        kind: planned.kind,
                        json: row_to_json(&view, i),
                        leaf_hash: suite.hash_leaf(&canonical),
                        canonical: canonical.clone(),
                    })
                })
                .collect();
        }
        let reader = StoreReader {
            store: open.store.clone(),
            path: open.path.clone(),
            size: open.size,
            reader: Arc::clone(&self.reader),
        };
        let mut selectors = Vec::with_capacity(rows.len() * 2);
        let mut next = 0u64;
        for &row in rows {
            if row < next {
                return Err(general(format!("rows {rows:?} are not ascending")));
            }
            if row > next {
                selectors.push(RowSelector::skip(
                    usize::try_from(row - next).unwrap_or(usize::MAX),
                ));
            }
            selectors.push(RowSelector::select(1));
            next = row + 1;
        }
        let mut stream =
            ParquetRecordBatchStreamBuilder::new_with_metadata(reader, open.metadata.clone())
                .with_row_groups(vec![row_group as usize])
                .with_row_selection(RowSelection::from(selectors))
                .with_batch_size(rows.len().max(1))
                .build()
                .map_err(parquet_err)?;
        let mut out = Vec::with_capacity(rows.len());
        let mut canonical = Vec::with_capacity(512);
        while let Some(batch) = stream.try_next().await.map_err(parquet_err)? {
            let view = RecordView::try_new(planned.kind, &batch)
                .map_err(|e| general(format!("not {} records: {e}", planned.kind)))?;
            for i in 0..batch.num_rows() {
                canonical.clear();
                encode_row(&view, i, &mut canonical);
                out.push(ReadRecord {
                    kind: planned.kind,
                    json: row_to_json(&view, i),
                    leaf_hash: suite.hash_leaf(&canonical),
                    canonical: canonical.clone(),
                });
            }
        }
        if out.len() != rows.len() {
            return Err(general(format!(
                "row group {row_group} has {} of the rows {rows:?}",
                out.len()
            )));
        }
        Ok(out)
    }

    /// The open file, from the cache or by reading its metadata.
    async fn open(
        &self,
        store: &Store,
        batch_id: &Arc<str>,
        plan: &Plan,
        file: u32,
    ) -> Result<Arc<OpenFile>, VerifierError> {
        let key = (Arc::clone(batch_id), file);
        if let Some(f) = self.lock().get(&key) {
            return Ok(Arc::clone(f));
        }
        let planned = plan.file(file).ok_or_else(|| {
            VerifierError::integrity(batch_id, 0, format!("the plan has no file {file}"))
        })?;
        let (read_store, path, _url) = file_location(store, plan, planned)
            .map_err(|e| VerifierError::store(&planned.path, e))?;
        let mut reader = StoreReader {
            store: read_store.clone(),
            path: path.clone(),
            size: planned.size,
            reader: Arc::clone(&self.reader),
        };
        let options = ArrowReaderOptions::new().with_offset_index_policy(PageIndexPolicy::Optional);
        let metadata = ArrowReaderMetadata::load_async(&mut reader, options)
            .await
            .map_err(|source| VerifierError::parquet(planned.source.clone(), source))?;
        let open = Arc::new(OpenFile {
            store: read_store,
            path,
            size: planned.size,
            metadata,
        });
        self.lock().insert(key, Arc::clone(&open));
        Ok(open)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OpenFiles> {
        self.files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
