//! Code lookups: from a code to its [`CodeReport`].
//!
//! 1. The item's subject key (SPEC.md 4) gives its positions in the global
//!    code index ([`crate::index`]).
//! 2. Each record is read from its batch's record file (written by
//!    `publish`, [`crate::index::records`]) and decoded strictly, or, for a
//!    batch published before record files, read back from its input file
//!    ([`record`]) and re-encoded; either way it is leaf-hashed and the hash
//!    must equal the stored leaf.
//! 3. Its batch proof is built from the stored tree ([`batch`]) and checked:
//!    the leaf's path must reach the stored tree node above its block of 16
//!    leaves, and the stored levels were checked up to the batch root when
//!    the segment was loaded (trees without stored levels: the whole path).
//! 4. The production and `labelled` records of the item bind it to lots; the
//!    lots' own records (those without a code: inspections, customs
//!    declarations) join the journey the same way.
//!
//! Any record whose leaf or proof does not check fails the whole lookup with
//! [`VerifierError::Integrity`]: a report is only produced when every record
//! in it checks. Each record's entry of the report is written as JSON once,
//! when it is checked ([`Lookup::report_json`] splices them;
//! [`Lookup::report`] parses them back into a [`CodeReport`]). Manifests, plans, receipts, segment trees and Parquet
//! metadata are cached per batch; the index is reopened when `publish`
//! replaced its catalog (checked at most once a second), and a batch's
//! receipts are read again every [`batch::ANCHORS_REREAD`] (a chain anchored
//! after the publish shows without a restart).
//!
//! When the store is local and every published batch has a record file, a
//! lookup runs on the calling task: its reads are slices of mapped local
//! files and its CPU work (decode, hash and prove a code's ~10 records) takes
//! tens of microseconds, less than a hop through the blocking pool. Otherwise
//! (a remote store, or batches read back from Parquet, whose page decoding
//! is heavy) it runs on tokio's blocking pool, driving the store's async
//! reads from there, so the runtime's workers only serve requests.
//!
//! ```no_run
//! use proofmark_verifier::{CodeLookup, Lookup};
//! use proofmark_ingest::Store;
//!
//! # async fn run() -> Result<(), proofmark_verifier::VerifierError> {
//! let store = Store::from_url("/data/proofmark").expect("a local folder");
//! let lookup = Lookup::open(store, std::path::Path::new("/data/code-index"))?;
//! if let Some(report) = lookup.lookup("01234567890123456789").await? {
//!     println!("{} records", report.records.len());
//! }
//! # Ok(())
//! # }
//! ```

pub mod batch;
pub mod prewarm;
pub(crate) mod read;
pub mod record;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use futures::future::{BoxFuture, try_join_all};
use proofmark_ingest::Store;
use proofmark_merkle::Hash;
use proofmark_schemas::subject::{SubjectType, subject_key};
use proofmark_schemas::validate::is_valid_code;
use proofmark_schemas::{Kind, SPEC_VERSION, ValueRef};
use tokio::sync::OnceCell;

use crate::error::VerifierError;
use crate::index::{CATALOG_FILE, CodeIndex, Position, PublishedBatch};
use crate::lookup::prewarm::{PrewarmBudget, Prewarmed};
use crate::mapped::Mapped;
use crate::metrics::Metrics;
use crate::report::{
    BatchInfo, CODE_REPORT_FORMAT, CodeLookup, CodeReport, RecordEntry, SubjectRef, json,
};
use crate::verify::proof_json;
use batch::{BatchContext, row_of_leaf};
use read::RangeReader;
use record::InputFiles;

/// How often at most the index folder is checked for a new catalog.
const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// Lot records kept in the cache at most (then it starts over).
const MAX_CACHED_LOT_RECORDS: usize = 100_000;

/// Records of its own a bound lot may have by default (a lot's own records are
/// a few inspections and declarations); a lookup of a code bound to a lot
/// with more fails with [`VerifierError::LotTooLarge`] rather than list some
/// of them. See [`Lookup::with_max_lot_records`].
pub const MAX_LOT_RECORDS: usize = 1000;

/// Produces code reports from a store and the global code index.
/// Cheap to clone.
#[derive(Clone)]
pub struct Lookup {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lookup")
            .field("store", &self.inner.store)
            .field("index_dir", &self.inner.index_dir)
            .finish_non_exhaustive()
    }
}

/// A batch, loaded once by the first lookup that needs it.
type BatchCell = Arc<OnceCell<Arc<BatchContext>>>;

/// Checked lot records by (batch, leaf).
type LotRecords = HashMap<(Arc<str>, u64), Arc<Found>>;

struct Inner {
    store: Store,
    index_dir: PathBuf,
    index: RwLock<Arc<CodeIndex>>,
    refresh: Mutex<Refresh>,
    batches: Arc<Mutex<HashMap<Arc<str>, BatchCell>>>,
    files: InputFiles,
    reader: Arc<RangeReader>,
    /// Checked records of lots, by batch and leaf: a lot's records belong to
    /// the journey of each of its items.
    lot_records: Mutex<LotRecords>,
    /// Records of its own a bound lot may have ([`MAX_LOT_RECORDS`]).
    max_lot_records: AtomicUsize,
    metrics: Arc<Metrics>,
    /// How much of a newly published batch's files a refresh reads ahead.
    prewarm: Mutex<PrewarmBudget>,
    /// How often a loaded batch's receipts are read again, in ms.
    anchors_reread_ms: AtomicU64,
    /// The catalog entries found to say what their manifests say, by batch id: the batch
    /// list checks an entry once (again only when the catalog changes it).
    catalog_checked: Mutex<HashMap<String, PublishedBatch>>,
}

/// When the catalog was last checked, and its modification time and length then.
struct Refresh {
    checked: Instant,
    stamp: Option<(SystemTime, u64)>,
}

fn catalog_stamp(dir: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(dir.join(CATALOG_FILE)).ok()?;
    Some((m.modified().ok()?, m.len()))
}

impl Lookup {
    /// Opens the index in `index_dir` (an empty index if it has no catalog
    /// yet) over `store`. Counters go to a fresh [`Metrics`]; see
    /// [`Lookup::with_metrics`].
    ///
    /// # Errors
    ///
    /// As [`CodeIndex::open`].
    pub fn open(store: Store, index_dir: &Path) -> Result<Self, VerifierError> {
        let stamp = catalog_stamp(index_dir);
        let index = CodeIndex::open(index_dir)?;
        let reader = Arc::new(RangeReader::default());
        tracing::info!(
            batches = index.catalog().batches.len(),
            entries = index.entries(),
            "code index open"
        );
        Ok(Lookup {
            inner: Arc::new(Inner {
                store,
                index_dir: index_dir.to_owned(),
                index: RwLock::new(Arc::new(index)),
                refresh: Mutex::new(Refresh {
                    checked: Instant::now(),
                    stamp,
                }),
                batches: Arc::default(),
                files: InputFiles::new(Arc::clone(&reader)),
                reader,
                lot_records: Mutex::new(HashMap::new()),
                max_lot_records: AtomicUsize::new(MAX_LOT_RECORDS),
                metrics: Arc::new(Metrics::default()),
                prewarm: Mutex::new(PrewarmBudget::Off),
                anchors_reread_ms: AtomicU64::new(batch::ANCHORS_REREAD.as_millis() as u64),
                catalog_checked: Mutex::default(),
            }),
        })
    }

    /// The same lookup counting into `metrics`.
    pub fn with_metrics(self, metrics: Arc<Metrics>) -> Self {
        let inner = match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                inner.metrics = metrics;
                inner
            }
            Err(shared) => {
                let reader = Arc::new(RangeReader::default());
                Inner {
                    store: shared.store.clone(),
                    index_dir: shared.index_dir.clone(),
                    index: RwLock::new(shared.current_index()),
                    refresh: Mutex::new(Refresh {
                        checked: Instant::now(),
                        stamp: catalog_stamp(&shared.index_dir),
                    }),
                    batches: Arc::default(),
                    files: InputFiles::new(Arc::clone(&reader)),
                    reader,
                    lot_records: Mutex::new(HashMap::new()),
                    max_lot_records: AtomicUsize::new(
                        shared.max_lot_records.load(Ordering::Relaxed),
                    ),
                    metrics,
                    prewarm: Mutex::new(shared.prewarm_budget()),
                    anchors_reread_ms: AtomicU64::new(
                        shared.anchors_reread_ms.load(Ordering::Relaxed),
                    ),
                    catalog_checked: Mutex::default(),
                }
            }
        };
        Lookup {
            inner: Arc::new(inner),
        }
    }

    /// Keeps up to `bytes` of decoded row groups in memory (default 0: each
    /// record read decodes only the pages of its row group that hold it).
    /// Rows read from the cache are re-encoded and re-hashed like any other.
    pub fn with_row_group_cache_bytes(self, bytes: usize) -> Self {
        self.inner.files.set_row_group_cache_bytes(bytes);
        self
    }

    /// Fails the lookup of a code bound to a lot that has more than `limit`
    /// records of its own (default [`MAX_LOT_RECORDS`]) with
    /// [`VerifierError::LotTooLarge`]: a report lists every record of its
    /// lots or is not given.
    pub fn with_max_lot_records(self, limit: usize) -> Self {
        self.inner.max_lot_records.store(limit, Ordering::Relaxed);
        self
    }

    /// Reads the files of batches that a later publish adds into the page
    /// cache, within `budget`, on a thread of their own when the index is
    /// reopened (default [`PrewarmBudget::Off`]). [`Lookup::prewarm`] reads
    /// those of the batches published now.
    pub fn with_prewarm(self, budget: PrewarmBudget) -> Self {
        *self
            .inner
            .prewarm
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = budget;
        self
    }

    /// Reads the published batches' leaf files (on a local store) and record
    /// files once from start to end, within `budget`, so that the first
    /// lookups find them in the page cache rather than on the disk (see
    /// [`prewarm`]). Blocking: call it from a thread or the blocking pool.
    ///
    /// # Errors
    ///
    /// [`VerifierError::IndexIo`] when a file cannot be read.
    pub fn prewarm(&self, budget: PrewarmBudget) -> Result<Prewarmed, VerifierError> {
        let index = self.inner.current_index();
        let files = prewarm::files_to_warm(&index, self.inner.store.local_root(), 0);
        let done = prewarm::read_files(&files, budget.bytes_now())?;
        self.inner.metrics.prewarmed(done.files as u64, done.bytes);
        Ok(done)
    }

    /// Reads a loaded batch's receipts from the store again at most every
    /// `every` (default [`batch::ANCHORS_REREAD`]), so that a receipt added
    /// after the batch was published (another chain, a re-anchoring) shows
    /// without a restart.
    pub fn with_receipts_reread(self, every: Duration) -> Self {
        self.inner.anchors_reread_ms.store(
            u64::try_from(every.as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self
    }

    /// The counters this lookup updates.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The published batches, by ordinal (after reopening the index if a
    /// publish changed it).
    ///
    /// # Errors
    ///
    /// [`VerifierError::Task`] if the blocking task cannot run.
    pub async fn published_batches(&self) -> Result<Vec<PublishedBatch>, VerifierError> {
        let inner = Arc::clone(&self.inner);
        run_blocking(move |handle| {
            handle.block_on(async move {
                inner.refresh_index();
                let batches = inner.current_index().catalog().batches.clone();
                // Each as its manifest says: an entry is checked once (its batch's objects
                // read then), and again only if the catalog changes it.
                for b in &batches {
                    let checked = inner
                        .catalog_checked
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .get(&b.batch_id)
                        == Some(b);
                    if checked {
                        continue;
                    }
                    let ctx = inner.context(&b.batch_id, &b.manifest_digest).await?;
                    check_catalog(b, &ctx.info)?;
                    inner
                        .catalog_checked
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(b.batch_id.clone(), b.clone());
                }
                Ok(batches)
            })
        })
        .await
    }

    /// What a report shows about published batch `batch_id` (with its
    /// receipts), or `None` when the index does not hold it.
    ///
    /// # Errors
    ///
    /// Store and parse errors of the batch's objects.
    pub async fn batch_info(&self, batch_id: &str) -> Result<Option<BatchInfo>, VerifierError> {
        let inner = Arc::clone(&self.inner);
        let id = batch_id.to_owned();
        run_blocking(move |handle| {
            handle.block_on(async move {
                inner.refresh_index();
                let index = inner.current_index();
                let Some(b) = index.catalog().batch(&id) else {
                    return Ok(None);
                };
                let ctx = inner.context(&b.batch_id, &b.manifest_digest).await?;
                check_catalog(b, &ctx.info)?;
                Ok(Some(ctx.info.clone()))
            })
        })
        .await
    }

    /// The report of `code`, `None` when no published batch holds it.
    ///
    /// # Errors
    ///
    /// [`VerifierError::MalformedCode`], [`VerifierError::Integrity`] when a
    /// record, its leaf or its proof does not check, index, store and input
    /// errors.
    pub async fn report(&self, code: &str) -> Result<Option<CodeReport>, VerifierError> {
        match self.assemble(code).await? {
            Some(a) => a.into_report().map(Some),
            None => Ok(None),
        }
    }

    /// The JSON of the report of `code` (the body of `GET /v1/codes/{code}`):
    /// byte for byte [`CodeReport::to_json_vec`] of [`Lookup::report`]'s
    /// report, written from each record's entry as it was checked, without
    /// building the report. `None` when no published batch holds the code.
    ///
    /// # Errors
    ///
    /// As [`Lookup::report`].
    pub async fn report_json(&self, code: &str) -> Result<Option<Vec<u8>>, VerifierError> {
        Ok(self.assemble(code).await?.map(|a| a.to_json_vec()))
    }

    /// The checked records of `code`, counted in the metrics.
    async fn assemble(&self, code: &str) -> Result<Option<Assembled>, VerifierError> {
        let code = code.trim().to_owned();
        if !is_valid_code(&code) {
            self.inner.metrics.lookup_outcome("malformed");
            return Err(VerifierError::MalformedCode(code));
        }
        let inner = Arc::clone(&self.inner);
        let started = Instant::now();
        let result = if inner.lookups_are_light() {
            // Reads of mapped local files (page-cached once warm), a
            // strict decode, a leaf hash and a proof per record: tens of
            // microseconds for a code's records, less than a round trip
            // through the blocking pool, so it runs on this task.
            inner.report(&code).await
        } else {
            run_blocking(move |handle| handle.block_on(inner.report(&code))).await
        };
        let outcome = match &result {
            Ok(Some(_)) => "found",
            Ok(None) => "unknown",
            Err(VerifierError::Integrity { .. }) => "integrity_failure",
            Err(_) => "error",
        };
        self.inner.metrics.lookup_outcome(outcome);
        self.inner.metrics.lookup_seconds(started.elapsed());
        result
    }
}

/// Runs `f` on the blocking pool with a handle to the current runtime,
/// inside the caller's tracing span.
async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce(&tokio::runtime::Handle) -> Result<T, VerifierError> + Send + 'static,
) -> Result<T, VerifierError> {
    let handle = tokio::runtime::Handle::current();
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(|| f(&handle)))
        .await
        .map_err(|e| VerifierError::Task(e.to_string()))?
}

impl CodeLookup for Lookup {
    fn lookup<'a>(
        &'a self,
        code: &'a str,
    ) -> BoxFuture<'a, Result<Option<CodeReport>, VerifierError>> {
        Box::pin(self.report(code))
    }
}

/// A record found for a subject, checked, with its entry of the report.
struct Found {
    batch_id: Arc<str>,
    leaf_index: u64,
    /// `record.event_time` (`i64::MIN` when null), for the report's order.
    event_time: i64,
    /// The lot the record binds its item to (SPEC.md 11.1): the `lot_id` of
    /// a production record, or of a logistics record of event `labelled`.
    binds_lot: Option<String>,
    /// The record object of the report (SPEC.md 11.1), JSON.
    json: Vec<u8>,
}

/// A code's checked records and their batches, before the report is written.
struct Assembled {
    code: String,
    subjects: Vec<SubjectRef>,
    /// In the report's order.
    records: Vec<Arc<Found>>,
    /// The batches of the records, by id.
    batches: BTreeMap<Arc<str>, Arc<BatchContext>>,
}

impl Assembled {
    /// The report's JSON: [`CodeReport::write_json`]'s layout, with each
    /// record's entry and batch object copied as written when checked.
    fn to_json_vec(&self) -> Vec<u8> {
        let len = 512
            + self.records.iter().map(|r| r.json.len() + 1).sum::<usize>()
            + self
                .batches
                .iter()
                .map(|(id, b)| id.len() + b.info_json.len() + 4)
                .sum::<usize>();
        let mut out = Vec::with_capacity(len);
        crate::report::write_report_head(&mut out, CODE_REPORT_FORMAT, &self.code, &self.subjects);
        for (i, r) in self.records.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&r.json);
        }
        out.extend_from_slice(b"],\"batches\":{");
        for (i, (id, b)) in self.batches.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            crate::report::json::string(&mut out, id);
            out.push(b':');
            out.extend_from_slice(&b.info_json);
        }
        out.extend_from_slice(b"}}");
        out
    }

    /// The report, its entries parsed back from their JSON (so it is exactly
    /// what [`Assembled::to_json_vec`] says).
    fn into_report(self) -> Result<CodeReport, VerifierError> {
        let records = self
            .records
            .iter()
            .map(|f| {
                serde_json::from_slice::<RecordEntry>(&f.json).map_err(|e| {
                    VerifierError::Backend(format!(
                        "batch {} leaf {}: the report entry does not parse back: {e}",
                        f.batch_id, f.leaf_index
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CodeReport {
            format: CODE_REPORT_FORMAT.to_owned(),
            code: self.code,
            subjects: self.subjects,
            records,
            batches: self
                .batches
                .iter()
                .map(|(id, b)| (id.to_string(), b.info.clone()))
                .collect(),
        })
    }
}

impl Inner {
    /// Whether lookups are cheap enough to run on the async runtime: a local
    /// store, and every published batch has a record file (no Parquet
    /// read-back, whose page decoding is heavy CPU work).
    fn lookups_are_light(&self) -> bool {
        self.store.local_root().is_some()
            && self
                .current_index()
                .catalog()
                .batches
                .iter()
                .all(|b| b.records.is_some())
    }

    fn current_index(&self) -> Arc<CodeIndex> {
        Arc::clone(
            &self
                .index
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Reopens the index when its catalog changed (checked at most once a
    /// second). A failure keeps the index in use and is logged.
    fn refresh_index(&self) {
        let mut refresh = self
            .refresh
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if refresh.checked.elapsed() < REFRESH_EVERY {
            return;
        }
        refresh.checked = Instant::now();
        let stamp = catalog_stamp(&self.index_dir);
        if stamp == refresh.stamp {
            return;
        }
        match CodeIndex::open(&self.index_dir) {
            Ok(index) => {
                tracing::info!(
                    batches = index.catalog().batches.len(),
                    "code index reopened"
                );
                let index = Arc::new(index);
                let before = std::mem::replace(
                    &mut *self
                        .index
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner),
                    Arc::clone(&index),
                );
                refresh.stamp = stamp;
                self.prewarm_new_batches(index, before.catalog().batches.len());
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot reopen the code index; keeping the old one")
            }
        }
    }

    fn anchors_reread(&self) -> Duration {
        Duration::from_millis(self.anchors_reread_ms.load(Ordering::Relaxed))
    }

    fn prewarm_budget(&self) -> PrewarmBudget {
        *self
            .prewarm
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads the files of `index`'s batches from ordinal `from` on, on a
    /// thread of their own, when prewarming is on.
    fn prewarm_new_batches(&self, index: Arc<CodeIndex>, from: usize) {
        let budget = self.prewarm_budget();
        if budget == PrewarmBudget::Off || index.catalog().batches.len() <= from {
            return;
        }
        let root = self.store.local_root().map(Path::to_path_buf);
        let metrics = Arc::clone(&self.metrics);
        let spawned = std::thread::Builder::new()
            .name("prewarm".into())
            .spawn(move || {
                let files = prewarm::files_to_warm(&index, root.as_deref(), from);
                match prewarm::read_files(&files, budget.bytes_now()) {
                    Ok(done) => {
                        metrics.prewarmed(done.files as u64, done.bytes);
                        done.log("the newly published batches' files");
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read ahead a published batch's files")
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start reading ahead a published batch's files");
        }
    }

    /// The loaded batch, from the cache or the store.
    async fn context(
        &self,
        batch_id: &str,
        manifest_digest: &str,
    ) -> Result<Arc<BatchContext>, VerifierError> {
        let cell = {
            let mut map = self
                .batches
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match map.get(batch_id) {
                Some(cell) => Arc::clone(cell),
                None => Arc::clone(map.entry(Arc::from(batch_id)).or_default()),
            }
        };
        let ctx = cell
            .get_or_try_init(|| async {
                BatchContext::load(&self.store, batch_id, manifest_digest)
                    .await
                    .map(Arc::new)
            })
            .await?;
        if ctx.anchors_due(self.anchors_reread()) {
            // Read in the background: this request answers with the receipts
            // it has, a later one with the new ones.
            let store = self.store.clone();
            let batches = Arc::clone(&self.batches);
            let (ctx, cell) = (Arc::clone(ctx), Arc::clone(&cell));
            tokio::spawn(async move {
                match ctx.changed_anchors(&store).await {
                    Ok(None) => {}
                    Ok(Some(anchors)) => {
                        let id = Arc::clone(&ctx.batch_id);
                        tracing::info!(batch_id = %id, chains = ?anchors.keys().collect::<Vec<_>>(), "the batch's receipts changed");
                        let fresh = Arc::new(ctx.with_anchors(anchors));
                        let mut map = batches
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        // Only over the context this read started from: a
                        // newer one (a later read's) stays.
                        if map.get(&id).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                            map.insert(id, Arc::new(OnceCell::new_with(Some(fresh))));
                        }
                    }
                    Err(e) => {
                        // The receipts read before still stand; the next period tries again.
                        tracing::warn!(batch_id = %ctx.batch_id, error = %e, "cannot read the batch's receipts again");
                    }
                }
            });
        }
        Ok(Arc::clone(ctx))
    }

    async fn report(&self, code: &str) -> Result<Option<Assembled>, VerifierError> {
        self.refresh_index();
        let index = self.current_index();
        let item_key = subject_key(SubjectType::Item, code);
        let positions = index.positions(&item_key)?;
        if positions.is_empty() {
            return Ok(None);
        }
        let mut found = self.records(&index, &positions, SubjectType::Item).await?;

        // The lots the item's production and labelling records bind it to.
        let lots: BTreeSet<String> = found.iter().filter_map(|f| f.binds_lot.clone()).collect();
        let mut subjects = vec![SubjectRef {
            subject_type: SubjectType::Item.name().to_owned(),
            id: code.to_owned(),
            key: hex::encode(item_key),
        }];
        for lot in &lots {
            let key = subject_key(SubjectType::Lot, lot);
            subjects.push(SubjectRef {
                subject_type: SubjectType::Lot.name().to_owned(),
                id: lot.clone(),
                key: hex::encode(key),
            });
            // Records under a lot's key are its own (no code), none of them the item's:
            // a record has one entry (SPEC 4), which publish checks. Runs published
            // under the former rule flag the lot entries of coded records.
            let own: Vec<Position> = index
                .positions(&key)?
                .into_iter()
                .filter(|p| !p.paired)
                .collect();
            let limit = self.max_lot_records.load(Ordering::Relaxed);
            if own.len() > limit {
                return Err(VerifierError::LotTooLarge {
                    lot: lot.clone(),
                    records: own.len(),
                    limit,
                });
            }
            found.extend(self.lot_records(&index, &own).await?);
        }
        found.sort_by(|a, b| {
            (a.event_time, &a.batch_id, a.leaf_index).cmp(&(
                b.event_time,
                &b.batch_id,
                b.leaf_index,
            ))
        });
        let mut batches = BTreeMap::new();
        for f in &found {
            if !batches.contains_key(&f.batch_id) {
                let published = index.catalog().batch(&f.batch_id).ok_or_else(|| {
                    VerifierError::index_corrupt(index.dir(), format!("no batch {}", f.batch_id))
                })?;
                let ctx = self
                    .context(&published.batch_id, &published.manifest_digest)
                    .await?;
                batches.insert(Arc::clone(&f.batch_id), ctx);
            }
        }
        Ok(Some(Assembled {
            code: code.to_owned(),
            subjects,
            records: found,
            batches,
        }))
    }

    /// The records of a lot at `positions`, from the cache or read, checked
    /// and proved.
    async fn lot_records(
        &self,
        index: &CodeIndex,
        positions: &[Position],
    ) -> Result<Vec<Arc<Found>>, VerifierError> {
        let mut out = Vec::with_capacity(positions.len());
        let mut missing = Vec::new();
        {
            let cache = self.lock_lot_records();
            for p in positions {
                let batch = index.batch_id(p.batch).cloned().ok_or_else(|| {
                    VerifierError::index_corrupt(index.dir(), format!("no batch {}", p.batch))
                })?;
                match cache.get(&(batch, p.leaf_index)) {
                    Some(f) => out.push(Arc::clone(f)),
                    None => missing.push(*p),
                }
            }
        }
        let read = self.records(index, &missing, SubjectType::Lot).await?;
        let mut cache = self.lock_lot_records();
        if cache.len() + read.len() > MAX_CACHED_LOT_RECORDS {
            cache.clear();
        }
        for f in &read {
            cache.insert((Arc::clone(&f.batch_id), f.leaf_index), Arc::clone(f));
        }
        out.extend(read);
        Ok(out)
    }

    fn lock_lot_records(&self) -> std::sync::MutexGuard<'_, LotRecords> {
        self.lot_records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads, checks and proves the records at `positions`: the leaves'
    /// proofs first, then the rows, one read per row group.
    async fn records(
        &self,
        index: &CodeIndex,
        positions: &[Position],
        subject: SubjectType,
    ) -> Result<Vec<Arc<Found>>, VerifierError> {
        let located = try_join_all(positions.iter().map(|p| self.locate(index, *p))).await?;
        let mut out = Vec::with_capacity(located.len());
        // Batches with a record file: one read of the mapped file per record. Others
        // (published before record files): group by (batch, file, row group),
        // rows ascending, and read back from Parquet.
        let mut groups: BTreeMap<(Arc<str>, u32, u32), Vec<usize>> = BTreeMap::new();
        for (i, l) in located.iter().enumerate() {
            if let Some(file) = &l.records {
                out.push(Arc::new(self.read_stored(l, file, subject)?));
                continue;
            }
            let s = &l.proof.segment.summary;
            groups
                .entry((Arc::clone(&l.ctx.batch_id), s.file, s.row_group))
                .or_default()
                .push(i);
        }
        for members in groups.values_mut() {
            members.sort_by_key(|&i| located[i].row_in_group);
        }
        let reads = try_join_all(groups.values().map(|m| self.read_group(&located, m))).await?;
        for (members, records) in groups.values().zip(reads) {
            for (&i, read) in members.iter().zip(records) {
                out.push(Arc::new(found_read_back(&located[i], &read, subject)?));
            }
        }
        Ok(out)
    }

    /// The batch, proof and row of the record at `position`.
    async fn locate(
        &self,
        index: &CodeIndex,
        position: Position,
    ) -> Result<Located, VerifierError> {
        let published = index
            .catalog()
            .batches
            .get(position.batch as usize)
            .ok_or_else(|| {
                VerifierError::index_corrupt(index.dir(), format!("no batch {}", position.batch))
            })?;
        let ctx = self
            .context(&published.batch_id, &published.manifest_digest)
            .await?;
        let proof = ctx
            .prove(&self.store, &self.reader, position.leaf_index)
            .await?;
        let row_in_group = row_of_leaf(&proof.segment.summary, proof.leaf_in_segment);
        Ok(Located {
            records: index.record_file(position.batch, |path| self.reader.open(path))?,
            ctx,
            leaf_index: position.leaf_index,
            proof,
            row_in_group,
        })
    }

    /// Reads the record of `l` from its batch's record file (mapped), decodes
    /// it strictly (SPEC.md 3) and checks its leaf hash against the stored
    /// leaf. A record that cannot be read or decoded is an integrity failure
    /// of its leaf.
    fn read_stored(
        &self,
        l: &Located,
        file: &Mapped,
        subject: SubjectType,
    ) -> Result<Found, VerifierError> {
        let batch_id = &l.ctx.batch_id;
        let canonical =
            crate::index::records::read_record(file.bytes(), l.ctx.info.leaf_count, l.leaf_index)
                .map_err(|e| {
                VerifierError::integrity(
                    batch_id,
                    l.leaf_index,
                    format!("its record cannot be read from the record file: {e}"),
                )
            })?;
        let decoded = proofmark_schemas::decode_ref(canonical).map_err(|e| {
            VerifierError::integrity(
                batch_id,
                l.leaf_index,
                format!("its record in the record file does not decode: {e}"),
            )
        })?;
        let text = |name: &str| decoded.get(name).and_then(ValueRef::as_text);
        let facts = RecordFacts {
            kind: decoded.kind,
            event_time: match decoded.get("event_time") {
                Some(ValueRef::Timestamp(t)) => *t,
                _ => i64::MIN,
            },
            org_id: text("org_id").unwrap_or_default(),
            lot_id: text("lot_id"),
            event_type: text("event_type"),
        };
        let leaf_hash = l.ctx.suite.hash_leaf(canonical);
        found(l, canonical, &leaf_hash, &facts, subject, |out| {
            proofmark_schemas::write_decoded_json(&decoded, out)
        })
    }

    /// Reads the rows of `members` (all in one row group, ascending).
    async fn read_group(
        &self,
        located: &[Located],
        members: &[usize],
    ) -> Result<Vec<record::ReadRecord>, VerifierError> {
        let first = &located[members[0]];
        let summary = &first.proof.segment.summary;
        let rows: Vec<u64> = members.iter().map(|&i| located[i].row_in_group).collect();
        self.files
            .read_rows(
                &self.store,
                &first.ctx.batch_id,
                &first.ctx.plan,
                first.ctx.suite,
                summary.file,
                summary.row_group,
                &rows,
            )
            .await
            .map_err(|e| match e {
                // A record that cannot be read back is an integrity failure of its leaf.
                VerifierError::Parquet { file, source } => VerifierError::integrity(
                    &first.ctx.batch_id,
                    first.leaf_index,
                    format!("its record cannot be read back from {file}: {source}"),
                ),
                other => other,
            })
    }
}

/// A record's batch, proof and row, before its row is read.
struct Located {
    /// The batch's record file, mapped, if it has one.
    records: Option<Arc<Mapped>>,
    ctx: Arc<BatchContext>,
    leaf_index: u64,
    proof: batch::LeafProof,
    row_in_group: u64,
}

/// What a report needs of a record's values besides their JSON.
struct RecordFacts<'a> {
    kind: Kind,
    /// `event_time`, `i64::MIN` when null.
    event_time: i64,
    org_id: &'a str,
    lot_id: Option<&'a str>,
    event_type: Option<&'a str>,
}

/// The entry of a record read back from its Parquet input.
fn found_read_back(
    l: &Located,
    read: &record::ReadRecord,
    subject: SubjectType,
) -> Result<Found, VerifierError> {
    let text = |name: &str| read.json.get(name).and_then(serde_json::Value::as_str);
    let facts = RecordFacts {
        kind: read.kind,
        event_time: read
            .json
            .get("event_time")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(i64::MIN),
        org_id: text("org_id").unwrap_or_default(),
        lot_id: text("lot_id"),
        event_type: text("event_type"),
    };
    found(
        l,
        &read.canonical,
        &read.leaf_hash,
        &facts,
        subject,
        |out| crate::report::json::map(out, &read.json),
    )
}

/// The report entry of a located record whose `canonical` bytes hash to
/// `leaf_hash`, after checking that this is the stored leaf;
/// `write_record` writes the record's values as a JSON object.
fn found(
    l: &Located,
    canonical: &[u8],
    leaf_hash: &Hash,
    facts: &RecordFacts<'_>,
    subject: SubjectType,
    write_record: impl FnOnce(&mut Vec<u8>),
) -> Result<Found, VerifierError> {
    let ctx = &l.ctx;
    let leaf_index = l.leaf_index;
    if *leaf_hash != l.proof.leaf_hash {
        return Err(VerifierError::integrity(
            &ctx.batch_id,
            leaf_index,
            "the record read back from its input does not hash to the stored leaf",
        ));
    }
    let summary = &l.proof.segment.summary;
    let file = ctx
        .plan
        .file(summary.file)
        .map(|f| f.source.as_str())
        .unwrap_or_default();
    let binds_lot = facts
        .lot_id
        .filter(|_| crate::report::binds_lot(facts.kind, facts.event_type));
    debug_assert_eq!(SPEC_VERSION, 1);
    // RecordEntry's fields in order, as `serde_json::to_vec` writes them.
    let hashes = l.proof.proof.segment.hashes.len() + l.proof.proof.upper.hashes.len();
    let mut out = Vec::with_capacity(1024 + canonical.len() * 3 + hashes * 67);
    out.extend_from_slice(b"{\"kind\":");
    json::string(&mut out, facts.kind.name());
    out.extend_from_slice(b",\"subject\":");
    json::string(&mut out, subject.name());
    out.extend_from_slice(b",\"record\":");
    write_record(&mut out);
    out.extend_from_slice(b",\"canonical\":");
    proof_json::write_hex_string(&mut out, canonical);
    out.extend_from_slice(b",\"leaf_hash\":");
    proof_json::write_hex_string(&mut out, leaf_hash);
    out.extend_from_slice(b",\"batch_id\":");
    json::string(&mut out, &ctx.batch_id);
    out.extend_from_slice(b",\"leaf_index\":");
    json::uint(&mut out, leaf_index);
    out.extend_from_slice(b",\"source\":{\"file\":");
    json::string(&mut out, file);
    out.extend_from_slice(b",\"row\":");
    json::uint(&mut out, summary.first_row + l.row_in_group);
    out.extend_from_slice(b",\"provided_by\":");
    json::string(&mut out, facts.org_id);
    out.extend_from_slice(b"},\"proof\":");
    proof_json::write_batch_proof(&mut out, ctx.suite, &l.proof.proof);
    out.push(b'}');
    Ok(Found {
        batch_id: Arc::clone(&ctx.batch_id),
        leaf_index,
        event_time: facts.event_time,
        binds_lot: binds_lot.map(str::to_owned),
        json: out,
    })
}

/// That the code index's catalog entry of a batch says what its stored manifest says (the
/// manifest's digest is checked when its context is loaded): the batch list serves the
/// catalog's values, which must not contradict the reports.
fn check_catalog(b: &PublishedBatch, info: &BatchInfo) -> Result<(), VerifierError> {
    let differs = |field: &'static str, published: String, stored: String| {
        Err(VerifierError::CatalogMismatch {
            batch_id: b.batch_id.clone(),
            field,
            published,
            stored,
        })
    };
    if b.root != info.root {
        return differs("root", b.root.clone(), info.root.clone());
    }
    if b.suite != info.suite {
        return differs("suite", b.suite.clone(), info.suite.clone());
    }
    if b.leaf_count != info.leaf_count {
        return differs(
            "leaf_count",
            b.leaf_count.to_string(),
            info.leaf_count.to_string(),
        );
    }
    if b.batch_date != info.batch_date {
        return differs("batch_date", b.batch_date.clone(), info.batch_date.clone());
    }
    Ok(())
}
