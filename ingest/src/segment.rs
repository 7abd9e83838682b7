//! Segments (SPEC.md 8.2): fetching a row group's bytes and checking them against the plan
//! ([`fetch_segment`]), then validating, encoding, leaf-hashing and indexing its rows
//! ([`process_segment`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use arrow_array::RecordBatch;
use bytes::Bytes;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaData;
use proofmark_merkle::{Hash, Suite, SuiteFn};
use proofmark_schemas::{
    DefectKind, RecordIdTracker, RecordView, ValidationContext, row_to_json, validate,
};
use serde::{Deserialize, Serialize};

use crate::decode::{RangeReader, row_group_reader};
use crate::digest::digest_of;
use crate::error::IngestError;
use crate::footer::{Footer, read_footer, row_group_range};
use crate::hash::{hash_batch, sort_entries};
use crate::plan::{InputMode, Plan, PlanFile, PlanSegment};
use crate::store::{Store, is_not_found};

/// One index entry of a segment: a subject key and the leaf (within the segment) of a
/// record about that subject. Orders by key, then leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IndexEntry {
    /// The subject key (SPEC.md 4): of the record's `code` or of its `lot_id`.
    pub key: [u8; 16],
    /// The record's leaf number within the segment.
    pub leaf: u32,
}

/// A rejected row, as written to `segments/<n>.rejects.jsonl` (SPEC.md 8.5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RejectRow {
    /// The source URL of the file.
    pub file: String,
    /// The 0-based row in the file.
    pub row: u64,
    /// The row's `record_id`, if not null.
    pub record_id: Option<String>,
    /// The reason codes of its defects.
    pub reasons: Vec<String>,
    /// The column of each reason.
    pub columns: Vec<String>,
    /// The row as JSON.
    pub record: serde_json::Map<String, serde_json::Value>,
}

/// What processing a segment produced.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentResult {
    /// The segment number.
    pub segment: u32,
    /// The file's index in the plan.
    pub file: u32,
    /// The row group in the file.
    pub row_group: u32,
    /// The 0-based row of the file where the row group starts.
    pub first_row: u64,
    /// Rows decoded.
    pub rows_read: u64,
    /// Rows accepted (hashed): `rows_read - rows_rejected`.
    pub rows_accepted: u64,
    /// Rows rejected.
    pub rows_rejected: u64,
    /// Rows of the row group that were rejected, ascending.
    pub rejected_rows: Vec<u32>,
    /// Leaf hashes of the accepted rows in row order, in the plan's suite.
    pub leaves: Vec<[u8; 32]>,
    /// Index entries sorted by (key, leaf): the item key of `code` and the lot key of
    /// `lot_id` of every accepted row that has them.
    pub entries: Vec<IndexEntry>,
    /// The rejected rows, in row order.
    pub rejects: Vec<RejectRow>,
    /// Rejected rows per reason code (a row counts once per distinct reason).
    pub reasons: BTreeMap<String, u64>,
    /// `blake3:` + hex of the row group's bytes (equal to the plan's row group digest).
    pub input_digest: String,
}

/// A segment's input: the row group's bytes (one contiguous range, from the first column
/// chunk's start to the last one's end), checked against the plan, and the file's metadata.
#[derive(Clone, Debug)]
pub struct SegmentInput {
    segment: PlanSegment,
    url: String,
    offset: u64,
    bytes: Bytes,
    file_size: u64,
    arrow: ArrowReaderMetadata,
    digest: String,
}

impl SegmentInput {
    /// Checks fetched bytes against `plan`: `bytes` must be the range of segment `segment`'s
    /// row group, with the plan's digest, and `metadata` must be the file's metadata, with
    /// the plan's row groups. `url` names the file in errors.
    pub fn try_new(
        plan: &Plan,
        segment: u32,
        url: String,
        bytes: Bytes,
        metadata: Arc<ParquetMetaData>,
    ) -> Result<SegmentInput, IngestError> {
        let (seg, file) = plan_parts(plan, segment)?;
        let arrow =
            ArrowReaderMetadata::try_new(metadata, Default::default()).map_err(|source| {
                IngestError::BadParquet {
                    url: url.clone(),
                    source,
                }
            })?;
        Self::checked(seg, file, url, bytes, arrow)
    }

    fn checked(
        seg: &PlanSegment,
        file: &PlanFile,
        url: String,
        bytes: Bytes,
        arrow: ArrowReaderMetadata,
    ) -> Result<SegmentInput, IngestError> {
        let rg = row_group_of(file, seg, &url)?;
        let digest = digest_of(&bytes);
        if digest != rg.digest {
            return Err(IngestError::DigestMismatch {
                url,
                row_group: seg.row_group,
                expected: rg.digest.clone(),
                actual: digest,
            });
        }
        check_metadata(file, seg, &url, arrow.metadata())?;
        Ok(SegmentInput {
            segment: *seg,
            url,
            offset: rg.offset,
            bytes,
            file_size: file.size,
            arrow,
            digest,
        })
    }

    /// The plan's segment.
    pub fn segment(&self) -> &PlanSegment {
        &self.segment
    }

    /// Where the bytes were read (a URL).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The row group's bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The offset of [`SegmentInput::bytes`] in the file.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The file's Parquet metadata.
    pub fn metadata(&self) -> &Arc<ParquetMetaData> {
        self.arrow.metadata()
    }

    /// `blake3:` + hex of the bytes (checked against the plan).
    pub fn digest(&self) -> &str {
        &self.digest
    }
}

fn plan_parts(plan: &Plan, segment: u32) -> Result<(&PlanSegment, &PlanFile), IngestError> {
    let seg = plan
        .segment(segment)
        .ok_or_else(|| IngestError::NoSuchSegment {
            batch_id: plan.batch_id.clone(),
            segment,
            count: plan.segments.len(),
        })?;
    let file = plan
        .file(seg.file)
        .ok_or_else(|| IngestError::InconsistentPlan {
            url: format!("batch {}", plan.batch_id),
            reason: format!(
                "segment {segment} names file {}, which is not in the plan",
                seg.file
            ),
        })?;
    Ok((seg, file))
}

fn row_group_of<'p>(
    file: &'p PlanFile,
    seg: &PlanSegment,
    url: &str,
) -> Result<&'p crate::plan::PlanRowGroup, IngestError> {
    file.row_groups
        .get(seg.row_group as usize)
        .ok_or_else(|| IngestError::InconsistentPlan {
            url: url.to_owned(),
            reason: format!(
                "segment {} names row group {}, which the file does not have",
                seg.segment, seg.row_group
            ),
        })
}

/// The footer must still describe the planned row group (same count, range and rows).
fn check_metadata(
    file: &PlanFile,
    seg: &PlanSegment,
    url: &str,
    md: &ParquetMetaData,
) -> Result<(), IngestError> {
    let changed = |what: String| {
        Err(IngestError::ChangedSincePlan {
            url: url.to_owned(),
            what,
        })
    };
    if md.num_row_groups() != file.row_groups.len() {
        return changed(format!(
            "{} row groups, the plan has {}",
            md.num_row_groups(),
            file.row_groups.len()
        ));
    }
    let rg = &file.row_groups[seg.row_group as usize];
    let meta = md.row_group(seg.row_group as usize);
    let range = row_group_range(meta);
    if range != rg.range() || meta.num_rows() as u64 != rg.rows {
        return changed(format!(
            "row group {} is bytes {}..{} with {} rows, the plan has {}..{} with {} rows",
            seg.row_group,
            range.start,
            range.end,
            meta.num_rows(),
            rg.offset,
            rg.offset + rg.length,
            rg.rows
        ));
    }
    Ok(())
}

/// Where the build reads a planned file: (store, path in it, URL).
pub fn file_location(
    store: &Store,
    plan: &Plan,
    file: &PlanFile,
) -> Result<(Store, String, String), IngestError> {
    match plan.input_mode {
        InputMode::Copy => Ok((
            store.clone(),
            file.path.clone(),
            store.object_url(&file.path),
        )),
        InputMode::Reference => {
            let (s, name) = Store::for_object(&file.path)?;
            Ok((s, name, file.path.clone()))
        }
    }
}

/// Footers read by [`fetch_segment`], by file URL and digest (a few files at a time).
fn footer_cache() -> &'static Mutex<Vec<(String, Footer)>> {
    static CACHE: OnceLock<Mutex<Vec<(String, Footer)>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(Vec::new()))
}

const FOOTER_CACHE_ENTRIES: usize = 64;

async fn cached_footer(
    read_store: &Store,
    path: &str,
    url: &str,
    file: &PlanFile,
) -> Result<Footer, IngestError> {
    let key = format!("{url}\n{}", file.digest);
    if let Ok(cache) = footer_cache().lock() {
        if let Some((_, f)) = cache.iter().find(|(k, _)| *k == key) {
            return Ok(f.clone());
        }
    }
    match read_store.head(path).await? {
        None => {
            return Err(IngestError::Vanished {
                url: url.to_owned(),
            });
        }
        Some(info) if info.size != file.size => {
            return Err(IngestError::ChangedSincePlan {
                url: url.to_owned(),
                what: format!("{} bytes, the plan has {}", info.size, file.size),
            });
        }
        Some(_) => {}
    }
    let footer = read_footer(read_store, path, url, file.size, true).await?;
    if footer.kind != file.kind {
        return Err(IngestError::ChangedSincePlan {
            url: url.to_owned(),
            what: format!(
                "its records are {}, the plan has {}",
                footer.kind, file.kind
            ),
        });
    }
    if let Ok(mut cache) = footer_cache().lock() {
        if cache.len() >= FOOTER_CACHE_ENTRIES {
            cache.remove(0);
        }
        cache.push((key, footer.clone()));
    }
    Ok(footer)
}

/// Reads segment `segment`'s row group from the file at the plan's `path` (the batch store
/// in copy mode, the source URL in reference mode), checks it against the plan's digest,
/// and loads the file's metadata (cached per file).
pub async fn fetch_segment(
    store: &Store,
    plan: &Plan,
    segment: u32,
) -> Result<SegmentInput, IngestError> {
    let (seg, file) = plan_parts(plan, segment)?;
    let (read_store, path, url) = file_location(store, plan, file)?;
    let rg = row_group_of(file, seg, &url)?;
    let bytes = match read_store.get_range(&path, rg.range()).await {
        Ok(b) => b,
        Err(e) if is_not_found(&e) => return Err(IngestError::Vanished { url }),
        Err(e) => return Err(e),
    };
    if bytes.len() as u64 != rg.length {
        return Err(IngestError::ChangedSincePlan {
            url,
            what: format!(
                "row group {} is {} bytes, the plan has {}",
                seg.row_group,
                bytes.len(),
                rg.length
            ),
        });
    }
    // Check the bytes first: a changed file fails with the row group's digests.
    let digest = digest_of(&bytes);
    if digest != rg.digest {
        return Err(IngestError::DigestMismatch {
            url,
            row_group: seg.row_group,
            expected: rg.digest.clone(),
            actual: digest,
        });
    }
    let footer = cached_footer(&read_store, &path, &url, file).await?;
    check_metadata(file, seg, &url, footer.metadata())?;
    Ok(SegmentInput {
        segment: *seg,
        url,
        offset: rg.offset,
        bytes,
        file_size: file.size,
        arrow: footer.arrow,
        digest,
    })
}

/// Validates, encodes, leaf-hashes and indexes the rows of a fetched segment, in the plan's
/// hash suite. CPU only; parallel inside with rayon.
pub fn process_segment(plan: &Plan, input: &SegmentInput) -> Result<SegmentResult, IngestError> {
    let (seg, file) = plan_parts(plan, input.segment.segment)?;
    let rg = row_group_of(file, seg, &input.url)?;
    if *seg != input.segment || input.digest != rg.digest {
        return Err(IngestError::DigestMismatch {
            url: input.url.clone(),
            row_group: seg.row_group,
            expected: rg.digest.clone(),
            actual: input.digest.clone(),
        });
    }
    let batch_date_days = plan.try_batch_date_days()?;
    plan.suite.dispatch(Process {
        plan,
        input,
        file,
        ctx: ValidationContext::for_batch_date(batch_date_days),
    })
}

/// The segment's work, generic over the suite (one dispatch per segment).
struct Process<'a> {
    plan: &'a Plan,
    input: &'a SegmentInput,
    file: &'a PlanFile,
    ctx: ValidationContext,
}

impl SuiteFn for Process<'_> {
    type Output = Result<SegmentResult, IngestError>;

    fn call<S: Suite>(self) -> Self::Output {
        process::<S>(self.plan, self.input, self.file, &self.ctx)
    }
}

fn process<S: Suite>(
    _plan: &Plan,
    input: &SegmentInput,
    file: &PlanFile,
    ctx: &ValidationContext,
) -> Result<SegmentResult, IngestError> {
    let seg = &input.segment;
    let url = &input.url;
    let decode_err = |source| IngestError::Decode {
        url: url.clone(),
        row_group: seg.row_group,
        source,
    };
    if seg.rows > u64::from(u32::MAX) {
        return Err(IngestError::TooManyRows {
            url: url.clone(),
            row_group: seg.row_group,
            rows: seg.rows,
            max: u64::from(u32::MAX),
        });
    }
    let reader = RangeReader::new(input.offset, input.bytes.clone(), input.file_size);
    let mut batches = row_group_reader(
        reader,
        input.arrow.clone(),
        seg.row_group as usize,
        seg.rows,
    )
    .map_err(decode_err)?;

    // Rows of this row group that the plan lists as duplicates, relative to the row group.
    let lo = file.duplicate_rows.partition_point(|&r| r < seg.first_row);
    let hi = file
        .duplicate_rows
        .partition_point(|&r| r < seg.first_row + seg.rows);
    let planned_dups = &file.duplicate_rows[lo..hi];

    let mut out = SegmentResult {
        segment: seg.segment,
        file: seg.file,
        row_group: seg.row_group,
        first_row: seg.first_row,
        rows_read: 0,
        rows_accepted: 0,
        rows_rejected: 0,
        rejected_rows: Vec::new(),
        leaves: Vec::with_capacity(seg.rows as usize),
        entries: Vec::with_capacity(2 * seg.rows as usize),
        rejects: Vec::new(),
        reasons: BTreeMap::new(),
        input_digest: input.digest.clone(),
    };
    let mut rejected: Vec<bool> = Vec::new();
    let mut dup_cursor = 0usize;
    let mut next = batches.next();
    while let Some(batch) = next.take() {
        let batch: RecordBatch =
            batch.map_err(|e| decode_err(ParquetError::External(Box::new(e))))?;
        // Decode the next batch while this one is validated and hashed.
        let (following, done) = rayon::join(
            || batches.next(),
            || {
                process_batch::<S>(
                    &batch,
                    file,
                    seg,
                    url,
                    ctx,
                    planned_dups,
                    &mut dup_cursor,
                    &mut rejected,
                    &mut out,
                )
            },
        );
        done?;
        next = following;
    }
    if out.rows_read != seg.rows {
        return Err(decode_err(ParquetError::General(format!(
            "decoded {} rows, the plan has {}",
            out.rows_read, seg.rows
        ))));
    }
    sort_entries(&mut out.entries);
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn process_batch<S: Suite>(
    batch: &RecordBatch,
    file: &PlanFile,
    seg: &PlanSegment,
    url: &str,
    ctx: &ValidationContext,
    planned_dups: &[u64],
    dup_cursor: &mut usize,
    rejected: &mut Vec<bool>,
    out: &mut SegmentResult,
) -> Result<(), IngestError> {
    let view =
        RecordView::try_new(file.kind, batch).map_err(|source| IngestError::RowGroupSchema {
            url: url.to_owned(),
            row_group: seg.row_group,
            kind: file.kind,
            source,
        })?;
    let rows = view.num_rows();
    let batch_first = out.rows_read; // row of the row group where this batch starts
    // Duplicates within the file are all in the plan; a tracker per batch (small, cache
    // resident) only finds those again within the batch, and they are merged below.
    let mut tracker = RecordIdTracker::new();
    let validation = validate(&view, ctx, &mut tracker);
    rejected.clear();
    rejected.extend((0..rows).map(|r| validation.is_rejected(r)));
    // Duplicates from the plan (earlier row groups of the file, or this one).
    let mut dup_rows_here: Vec<usize> = Vec::new();
    while let Some(&r) = planned_dups.get(*dup_cursor) {
        let local = r - seg.first_row;
        if local >= batch_first + rows as u64 {
            break;
        }
        let in_batch = (local - batch_first) as usize;
        rejected[in_batch] = true;
        dup_rows_here.push(in_batch);
        *dup_cursor += 1;
    }
    // Rejects, in row order.
    let mut dup_iter = dup_rows_here.iter().peekable();
    for row in (0..rows).filter(|&r| rejected[r]) {
        let planned_dup = dup_iter.next_if(|&&d| d == row).is_some();
        let mut defects: Vec<(usize, DefectKind, &'static str)> = validation
            .defects_of(row)
            .iter()
            .map(|d| {
                (
                    file.kind.field_index(d.column).unwrap_or(usize::MAX),
                    d.kind,
                    d.column,
                )
            })
            .collect();
        if planned_dup && !defects.iter().any(|d| d.1 == DefectKind::DuplicateRecordId) {
            defects.push((0, DefectKind::DuplicateRecordId, "record_id"));
            defects.sort_by_key(|d| (d.0, d.1));
        }
        let mut seen_reason: Vec<DefectKind> = Vec::with_capacity(defects.len());
        for d in &defects {
            if !seen_reason.contains(&d.1) {
                seen_reason.push(d.1);
                *out.reasons.entry(d.1.code().to_owned()).or_default() += 1;
            }
        }
        let row_in_group = batch_first + row as u64;
        out.rejected_rows.push(row_in_group as u32);
        out.rejects.push(RejectRow {
            file: file.source.clone(),
            row: seg.first_row + row_in_group,
            record_id: view.record_id(row).map(str::to_owned),
            reasons: defects.iter().map(|d| d.1.code().to_owned()).collect(),
            columns: defects.iter().map(|d| d.2.to_owned()).collect(),
            record: row_to_json(&view, row),
        });
    }
    let rejected_here = rejected.iter().filter(|r| **r).count();
    let accepted = rows - rejected_here;
    let leaf_base = out.leaves.len();
    out.leaves.resize(leaf_base + accepted, [0u8; 32]);
    let leaves: &mut [Hash] = &mut out.leaves[leaf_base..];
    hash_batch::<S>(&view, rejected, leaves, leaf_base as u32, &mut out.entries);
    out.rows_read += rows as u64;
    out.rows_accepted += accepted as u64;
    out.rows_rejected += rejected_here as u64;
    Ok(())
}
