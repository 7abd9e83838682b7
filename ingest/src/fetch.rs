//! Fetching a segment ([`fetch_segment`]): the row group's bytes from where the plan says
//! the file is, checked against the plan's digest, and the file's metadata (cached per file).

use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use parquet::file::metadata::ParquetMetaData;

use crate::digest::digest_of;
use crate::error::IngestError;
use crate::footer::{Footer, read_footer, row_group_range};
use crate::plan::{InputMode, Plan, PlanFile, PlanRowGroup, PlanSegment};
use crate::store::{Store, is_not_found};

/// A segment's input: the row group's bytes (one contiguous range, from the first column
/// chunk's start to the last one's end), checked against the plan, and the file's metadata.
#[derive(Clone, Debug)]
pub struct SegmentInput {
    pub(crate) segment: PlanSegment,
    pub(crate) url: String,
    pub(crate) offset: u64,
    pub(crate) bytes: Bytes,
    pub(crate) file_size: u64,
    pub(crate) arrow: ArrowReaderMetadata,
    pub(crate) digest: String,
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

pub(crate) fn plan_parts(
    plan: &Plan,
    segment: u32,
) -> Result<(&PlanSegment, &PlanFile), IngestError> {
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

pub(crate) fn row_group_of<'p>(
    file: &'p PlanFile,
    seg: &PlanSegment,
    url: &str,
) -> Result<&'p PlanRowGroup, IngestError> {
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
            let (s, name) = source_store(&file.path)?;
            Ok((s, name, file.path.clone()))
        }
    }
}

/// The store and name of a source URL, with one client per folder for the whole process
/// (an object store client keeps its connection pool: building one per segment would not).
fn source_store(url: &str) -> Result<(Store, String), IngestError> {
    static STORES: OnceLock<Mutex<Vec<(String, Store)>>> = OnceLock::new();
    let (store, name) = Store::for_object(url)?;
    let stores = STORES.get_or_init(|| Mutex::new(Vec::new()));
    let Ok(mut stores) = stores.lock() else {
        return Ok((store, name));
    };
    if let Some((_, s)) = stores.iter().find(|(u, _)| u == store.url()) {
        return Ok((s.clone(), name));
    }
    if stores.len() >= 256 {
        stores.remove(0);
    }
    stores.push((store.url().to_owned(), store.clone()));
    Ok((store, name))
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
    let cached = footer_cache().lock().ok().and_then(|cache| {
        cache
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, f)| f.clone())
    });
    if let Some(f) = cached {
        return Ok(f);
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
    if let Some(planned) = &file.footer_digest
        && *planned != footer.digest
    {
        return Err(IngestError::ChangedSincePlan {
            url: url.to_owned(),
            what: format!(
                "its footer (the Parquet metadata) is {}, the plan has {planned}",
                footer.digest
            ),
        });
    }
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
