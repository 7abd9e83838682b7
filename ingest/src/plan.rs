//! The plan (`batches/<id>/plan.json`, SPEC.md 8.1): the frozen inputs of a batch.
//!
//! [`make_plan`] resolves the inputs, reads each file's footer (kind, row
//! groups), streams each file once for its digests (copying it into the batch
//! in copy mode), lists duplicate record ids, and writes the plan with a
//! create-if-absent write. A plan, once written, never changes: planning the
//! same batch again returns it when the inputs are the same, and fails
//! otherwise.

use std::collections::BTreeMap;
use std::ops::Range;

use bytes::Bytes;
use futures::StreamExt;
use proofmark_merkle::SuiteId;
use proofmark_schemas::Kind;
use serde::{Deserialize, Serialize};

use crate::dates::{now_rfc3339, parse_date};
use crate::digest::{CopyTarget, digest_file};
use crate::discover::{SourceFile, resolve_inputs};
use crate::duplicates::duplicate_rows;
use crate::error::IngestError;
use crate::footer::{Footer, read_footer, row_group_range};
use crate::store::Store;

/// The `format` of a plan file.
pub const PLAN_FORMAT: &str = "proofmark-plan";

/// How the build reads the inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputMode {
    /// Inputs are copied under `batches/<id>/inputs/` (the default): the batch is self-contained.
    #[default]
    Copy,
    /// Inputs are read in place and checked by digest.
    Reference,
}

impl InputMode {
    /// The name in plans (`copy` or `reference`).
    pub const fn name(self) -> &'static str {
        match self {
            InputMode::Copy => "copy",
            InputMode::Reference => "reference",
        }
    }
}

/// What a plan is made for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanOptions {
    /// The batch id (1 to 128 bytes of `[0-9A-Za-z._-]`, not starting with `.`).
    pub batch_id: String,
    /// The batch date, `YYYY-MM-DD`: validation's time rules refer to it.
    pub batch_date: String,
    /// The hash suite of the batch.
    pub suite: SuiteId,
    /// Whether inputs are copied into the batch or referenced in place.
    pub input_mode: InputMode,
}

/// The frozen inputs of a batch (`plan.json`, SPEC.md 8.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Always [`PLAN_FORMAT`].
    pub format: String,
    /// The spec version ([`proofmark_schemas::SPEC_VERSION`]).
    pub spec_version: u32,
    /// The batch id.
    pub batch_id: String,
    /// The batch date, `YYYY-MM-DD`.
    pub batch_date: String,
    /// The hash suite.
    pub suite: SuiteId,
    /// Copy or reference.
    pub input_mode: InputMode,
    /// When the plan was made (RFC 3339 UTC; informational).
    pub created_at: String,
    /// The version of the tool that made it.
    pub tool_version: String,
    /// The input files, by kind then source URL.
    pub files: Vec<PlanFile>,
    /// The segments (one per row group), by file then row group.
    pub segments: Vec<PlanSegment>,
    /// Sum of `rows` over files.
    pub total_rows: u64,
}

/// One input file of a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanFile {
    /// Its position in [`Plan::files`].
    pub index: u32,
    /// The URL it was found at.
    pub source: String,
    /// Where the build reads it: a path relative to the batch store in copy mode
    /// (`batches/<id>/inputs/<kind>/<name>`), else the source URL.
    pub path: String,
    /// Its record kind.
    #[serde(with = "kind_name")]
    pub kind: Kind,
    /// Size in bytes.
    pub size: u64,
    /// `blake3:` + hex of the whole file.
    pub digest: String,
    /// Number of rows.
    pub rows: u64,
    /// Its row groups, in file order.
    pub row_groups: Vec<PlanRowGroup>,
    /// 0-based rows whose `record_id` an earlier row of the file already used, ascending.
    pub duplicate_rows: Vec<u64>,
}

/// One row group of an input file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRowGroup {
    /// Number of rows.
    pub rows: u64,
    /// Start of its column chunks' byte range.
    pub offset: u64,
    /// Length of that range.
    pub length: u64,
    /// `blake3:` + hex of those bytes.
    pub digest: String,
}

impl PlanRowGroup {
    /// The byte range in the file.
    pub fn range(&self) -> Range<u64> {
        self.offset..self.offset.saturating_add(self.length)
    }
}

/// One segment: a row group of an input file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSegment {
    /// Its number.
    pub segment: u32,
    /// The file's index.
    pub file: u32,
    /// The row group in the file.
    pub row_group: u32,
    /// The 0-based row of the file where the row group starts.
    pub first_row: u64,
    /// Number of rows.
    pub rows: u64,
}

/// Progress of [`make_plan`], for progress bars.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlanProgress {
    /// An input file was found.
    FileFound {
        /// Its URL.
        url: String,
        /// Its size.
        size: u64,
    },
    /// All inputs are resolved; digesting starts.
    Resolved {
        /// Number of files.
        files: usize,
        /// Their total size (the bytes that will be digested).
        total_bytes: u64,
    },
    /// More bytes of a file were digested (and copied, in copy mode).
    Digested {
        /// The file's URL.
        url: String,
        /// Bytes in this step (not cumulative).
        bytes: u64,
    },
    /// A file is fully planned.
    FileDone {
        /// Its URL.
        url: String,
        /// Its rows.
        rows: u64,
    },
}

mod kind_name {
    use proofmark_schemas::Kind;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(kind: &Kind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(kind.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// The folder of a batch in the store: `batches/<id>`.
pub fn batch_prefix(batch_id: &str) -> String {
    format!("batches/{batch_id}")
}

/// The path of a batch's plan: `batches/<id>/plan.json`.
pub fn plan_path(batch_id: &str) -> String {
    format!("batches/{batch_id}/plan.json")
}

/// Checks the batch id rule: 1 to 128 bytes of `[0-9A-Za-z._-]`, not starting with `.`.
pub fn validate_batch_id(id: &str) -> Result<(), IngestError> {
    let fail = |reason| {
        Err(IngestError::InvalidBatchId {
            id: id.to_owned(),
            reason,
        })
    };
    if id.is_empty() {
        return fail("empty");
    }
    if id.len() > 128 {
        return fail("longer than 128 bytes");
    }
    if id.starts_with('.') {
        return fail("starts with '.'");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return fail("only 0-9 A-Z a-z . _ - are allowed");
    }
    Ok(())
}

impl Plan {
    /// The batch date in days since 1970-01-01 (0 if the date is invalid; plans are checked
    /// when made and loaded, see [`Plan::try_batch_date_days`]).
    pub fn batch_date_days(&self) -> i32 {
        parse_date(&self.batch_date).unwrap_or(0)
    }

    /// The batch date in days since 1970-01-01, or an error for a malformed date.
    pub fn try_batch_date_days(&self) -> Result<i32, IngestError> {
        parse_date(&self.batch_date).ok_or_else(|| IngestError::InvalidBatchDate {
            date: self.batch_date.clone(),
        })
    }

    /// Segment `n`, if the plan has it.
    pub fn segment(&self, n: u32) -> Option<&PlanSegment> {
        self.segments.get(n as usize)
    }

    /// File `index`, if the plan has it.
    pub fn file(&self, index: u32) -> Option<&PlanFile> {
        self.files.get(index as usize)
    }

    /// The plan as written to `plan.json` (pretty JSON with a final newline).
    pub fn to_json(&self) -> Result<Vec<u8>, IngestError> {
        let mut out =
            serde_json::to_vec_pretty(self).map_err(|source| IngestError::SerialisePlan {
                batch_id: self.batch_id.clone(),
                source,
            })?;
        out.push(b'\n');
        Ok(out)
    }

    /// Checks the invariants a builder relies on: format, version, numbering, counts.
    pub fn check(&self, url: &str) -> Result<(), IngestError> {
        let bad = |reason: String| {
            Err(IngestError::InconsistentPlan {
                url: url.to_owned(),
                reason,
            })
        };
        if self.format != PLAN_FORMAT {
            return bad(format!(
                "format is {:?}, expected {PLAN_FORMAT:?}",
                self.format
            ));
        }
        if self.spec_version != proofmark_schemas::SPEC_VERSION {
            return bad(format!(
                "spec version {} is not supported",
                self.spec_version
            ));
        }
        validate_batch_id(&self.batch_id)?;
        self.try_batch_date_days()?;
        let mut n = 0usize;
        let mut total = 0u64;
        for (i, f) in self.files.iter().enumerate() {
            if f.index as usize != i {
                return bad(format!("file {i} has index {}", f.index));
            }
            let rg_rows: u64 = f.row_groups.iter().map(|r| r.rows).sum();
            if rg_rows != f.rows {
                return bad(format!(
                    "file {i}: row groups hold {rg_rows} rows, the file says {}",
                    f.rows
                ));
            }
            let mut first_row = 0u64;
            for (g, rg) in f.row_groups.iter().enumerate() {
                let want = PlanSegment {
                    segment: n as u32,
                    file: i as u32,
                    row_group: g as u32,
                    first_row,
                    rows: rg.rows,
                };
                if self.segments.get(n) != Some(&want) {
                    return bad(format!("segment {n} should be {want:?}"));
                }
                n += 1;
                first_row += rg.rows;
            }
            total += f.rows;
        }
        if n != self.segments.len() {
            return bad(format!(
                "{} segments listed, the files have {n} row groups",
                self.segments.len()
            ));
        }
        if total != self.total_rows {
            return bad(format!(
                "total_rows is {}, the files hold {total}",
                self.total_rows
            ));
        }
        Ok(())
    }
}

/// Loads the plan of batch `batch_id` from `store`, or `None` when the batch has none.
pub async fn load_plan(store: &Store, batch_id: &str) -> Result<Option<Plan>, IngestError> {
    validate_batch_id(batch_id)?;
    let path = plan_path(batch_id);
    let Some(bytes) = store.get(&path).await? else {
        return Ok(None);
    };
    let url = store.object_url(&path);
    let plan: Plan = serde_json::from_slice(&bytes).map_err(|source| IngestError::BadPlan {
        url: url.clone(),
        source,
    })?;
    plan.check(&url)?;
    if plan.batch_id != batch_id {
        return Err(IngestError::InconsistentPlan {
            url,
            reason: format!("it is the plan of batch {:?}", plan.batch_id),
        });
    }
    Ok(Some(plan))
}

/// An input file with its footer, before digesting.
struct Found {
    source: SourceFile,
    footer: Footer,
}

impl Found {
    fn ranges(&self) -> Vec<Range<u64>> {
        self.footer
            .metadata()
            .row_groups()
            .iter()
            .map(row_group_range)
            .collect()
    }
}

/// Makes the plan of a batch from `inputs` (files, folders or prefixes, globs; local paths
/// or URLs), or returns the existing one unchanged when it was made from the same inputs.
///
/// In copy mode the inputs are copied to `batches/<id>/inputs/<kind>/<name>` in `store`
/// while they are digested. `progress` receives [`PlanProgress`] events.
pub async fn make_plan(
    store: &Store,
    inputs: &[String],
    opts: &PlanOptions,
    progress: &(dyn Fn(PlanProgress) + Sync),
) -> Result<Plan, IngestError> {
    validate_batch_id(&opts.batch_id)?;
    if parse_date(&opts.batch_date).is_none() {
        return Err(IngestError::InvalidBatchDate {
            date: opts.batch_date.clone(),
        });
    }
    if inputs.is_empty() {
        return Err(IngestError::NoInputs);
    }
    let existing = load_plan(store, &opts.batch_id).await?;
    let found = find_files(inputs, progress).await?;
    progress(PlanProgress::Resolved {
        files: found.len(),
        total_bytes: found.iter().map(|f| f.source.size).sum(),
    });
    if let Some(plan) = existing {
        return same_or_frozen(plan, &found, opts, progress).await;
    }

    let names = copy_names(&found);
    let mut files = Vec::with_capacity(found.len());
    for (index, f) in found.iter().enumerate() {
        let copy_path = match opts.input_mode {
            InputMode::Copy => Some(format!(
                "{}/inputs/{}/{}",
                batch_prefix(&opts.batch_id),
                f.footer.kind.name(),
                names[index]
            )),
            InputMode::Reference => None,
        };
        let file = plan_file(store, f, index as u32, copy_path, progress).await?;
        files.push(file);
    }
    let plan = assemble(opts, files);
    let url = store.object_url(&plan_path(&opts.batch_id));
    plan.check(&url)?;
    let json = plan.to_json()?;
    if store
        .put_if_absent(&plan_path(&opts.batch_id), Bytes::from(json))
        .await?
    {
        return Ok(plan);
    }
    // Another process wrote the plan meanwhile: it wins, if it planned the same inputs.
    match load_plan(store, &opts.batch_id).await? {
        Some(theirs) => {
            let differences = differences(&theirs, &plan, opts);
            if differences.is_empty() {
                Ok(theirs)
            } else {
                Err(IngestError::PlanFrozen {
                    batch_id: opts.batch_id.clone(),
                    differences,
                })
            }
        }
        None => Err(IngestError::InconsistentPlan {
            url,
            reason: "the plan exists and cannot be read back".into(),
        }),
    }
}

/// Resolves inputs and reads every footer; sorted by kind, then source URL.
async fn find_files(
    inputs: &[String],
    progress: &(dyn Fn(PlanProgress) + Sync),
) -> Result<Vec<Found>, IngestError> {
    let sources = resolve_inputs(inputs).await?;
    for s in &sources {
        progress(PlanProgress::FileFound {
            url: s.url.clone(),
            size: s.size,
        });
        if s.size == 0 {
            return Err(IngestError::EmptyFile { url: s.url.clone() });
        }
    }
    let mut found: Vec<Found> = futures::stream::iter(sources)
        .map(|source| async move {
            let footer =
                read_footer(&source.store, &source.path, &source.url, source.size, false).await?;
            Ok::<Found, IngestError>(Found { source, footer })
        })
        .buffered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    found.sort_by(|a, b| {
        (a.footer.kind, a.source.url.as_bytes()).cmp(&(b.footer.kind, b.source.url.as_bytes()))
    });
    Ok(found)
}

/// The base name of each file for `inputs/<kind>/`, prefixed with the file index when two
/// inputs share a base name.
fn copy_names(found: &[Found]) -> Vec<String> {
    let base: Vec<String> = found
        .iter()
        .map(|f| {
            f.source
                .path
                .rsplit('/')
                .next()
                .unwrap_or(&f.source.path)
                .to_owned()
        })
        .collect();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for b in &base {
        *counts.entry(b.as_str()).or_default() += 1;
    }
    base.iter()
        .enumerate()
        .map(|(i, b)| {
            if counts[b.as_str()] > 1 {
                format!("{i}-{b}")
            } else {
                b.clone()
            }
        })
        .collect()
}

/// Digests (and copies) one file and lists its duplicate record ids.
async fn plan_file(
    store: &Store,
    f: &Found,
    index: u32,
    copy_path: Option<String>,
    progress: &(dyn Fn(PlanProgress) + Sync),
) -> Result<PlanFile, IngestError> {
    let url = &f.source.url;
    let ranges = f.ranges();
    let copy = copy_path.as_deref().map(|path| CopyTarget { store, path });
    let on_bytes = |bytes| {
        progress(PlanProgress::Digested {
            url: url.clone(),
            bytes,
        })
    };
    let digests = digest_file(
        &f.source.store,
        &f.source.path,
        url,
        f.source.size,
        &ranges,
        copy,
        &on_bytes,
    )
    .await?;
    // Duplicates are read where the build will read the rows: the copy, in copy mode.
    let (read_store, read_path) = match &copy_path {
        Some(p) => (store, p.as_str()),
        None => (&f.source.store, f.source.path.as_str()),
    };
    let duplicates = duplicate_rows(read_store, read_path, url, f.source.size, &f.footer).await?;
    let row_groups: Vec<PlanRowGroup> = f
        .footer
        .metadata()
        .row_groups()
        .iter()
        .zip(ranges.iter().zip(digests.ranges))
        .map(|(rg, (range, digest))| PlanRowGroup {
            rows: rg.num_rows().max(0) as u64,
            offset: range.start,
            length: range.end - range.start,
            digest,
        })
        .collect();
    let rows = row_groups.iter().map(|r| r.rows).sum();
    progress(PlanProgress::FileDone {
        url: url.clone(),
        rows,
    });
    Ok(PlanFile {
        index,
        source: url.clone(),
        path: copy_path.unwrap_or_else(|| url.clone()),
        kind: f.footer.kind,
        size: f.source.size,
        digest: digests.file,
        rows,
        row_groups,
        duplicate_rows: duplicates,
    })
}

/// A plan from its files: segments numbered, totals summed.
fn assemble(opts: &PlanOptions, files: Vec<PlanFile>) -> Plan {
    let mut segments = Vec::new();
    for f in &files {
        let mut first_row = 0u64;
        for (g, rg) in f.row_groups.iter().enumerate() {
            segments.push(PlanSegment {
                segment: segments.len() as u32,
                file: f.index,
                row_group: g as u32,
                first_row,
                rows: rg.rows,
            });
            first_row += rg.rows;
        }
    }
    Plan {
        format: PLAN_FORMAT.to_owned(),
        spec_version: proofmark_schemas::SPEC_VERSION,
        batch_id: opts.batch_id.clone(),
        batch_date: opts.batch_date.clone(),
        suite: opts.suite,
        input_mode: opts.input_mode,
        created_at: now_rfc3339(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        total_rows: files.iter().map(|f| f.rows).sum(),
        files,
        segments,
    }
}

/// What differs between a frozen plan and a new request, in words (empty when the same).
fn differences(frozen: &Plan, new: &Plan, opts: &PlanOptions) -> Vec<String> {
    let mut out = settings_differences(frozen, opts);
    let old: BTreeMap<&str, (&str, u64)> = frozen
        .files
        .iter()
        .map(|f| (f.source.as_str(), (f.digest.as_str(), f.size)))
        .collect();
    let newer: BTreeMap<&str, (&str, u64)> = new
        .files
        .iter()
        .map(|f| (f.source.as_str(), (f.digest.as_str(), f.size)))
        .collect();
    for (src, (digest, _)) in &newer {
        match old.get(src) {
            None => out.push(format!("input {src} is not in the plan")),
            Some((d, _)) if d != digest => out.push(format!(
                "input {src} changed: digest {digest}, the plan has {d}"
            )),
            Some(_) => {}
        }
    }
    for src in old.keys() {
        if !newer.contains_key(src) {
            out.push(format!("planned input {src} is not among the inputs now"));
        }
    }
    out
}

fn settings_differences(frozen: &Plan, opts: &PlanOptions) -> Vec<String> {
    let mut out = Vec::new();
    if frozen.batch_date != opts.batch_date {
        out.push(format!(
            "batch date {} (the plan has {})",
            opts.batch_date, frozen.batch_date
        ));
    }
    if frozen.suite != opts.suite {
        out.push(format!(
            "suite {} (the plan has {})",
            opts.suite, frozen.suite
        ));
    }
    if frozen.input_mode != opts.input_mode {
        out.push(format!(
            "input mode {} (the plan has {})",
            opts.input_mode.name(),
            frozen.input_mode.name()
        ));
    }
    out
}

/// A plan exists: returns it when `found` are the same files (by source and digest) and the
/// settings match, else [`IngestError::PlanFrozen`]. Digests only when sources and sizes agree.
async fn same_or_frozen(
    frozen: Plan,
    found: &[Found],
    opts: &PlanOptions,
    progress: &(dyn Fn(PlanProgress) + Sync),
) -> Result<Plan, IngestError> {
    let mut differences = settings_differences(&frozen, opts);
    let old: BTreeMap<&str, &PlanFile> = frozen
        .files
        .iter()
        .map(|f| (f.source.as_str(), f))
        .collect();
    let mut to_digest = Vec::new();
    for f in found {
        match old.get(f.source.url.as_str()) {
            None => differences.push(format!("input {} is not in the plan", f.source.url)),
            Some(p) if p.size != f.source.size => differences.push(format!(
                "input {} changed: {} bytes, the plan has {}",
                f.source.url, f.source.size, p.size
            )),
            Some(p) => to_digest.push((f, *p)),
        }
    }
    let now: std::collections::HashSet<&str> =
        found.iter().map(|f| f.source.url.as_str()).collect();
    for src in old.keys() {
        if !now.contains(src) {
            differences.push(format!("planned input {src} is not among the inputs now"));
        }
    }
    if differences.is_empty() {
        for (f, p) in to_digest {
            let url = &f.source.url;
            let on_bytes = |bytes| {
                progress(PlanProgress::Digested {
                    url: url.clone(),
                    bytes,
                })
            };
            let d = digest_file(
                &f.source.store,
                &f.source.path,
                url,
                f.source.size,
                &[],
                None,
                &on_bytes,
            )
            .await?;
            if d.file != p.digest {
                differences.push(format!(
                    "input {url} changed: digest {}, the plan has {}",
                    d.file, p.digest
                ));
            }
        }
    }
    if differences.is_empty() {
        Ok(frozen)
    } else {
        Err(IngestError::PlanFrozen {
            batch_id: frozen.batch_id.clone(),
            differences,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_ids() {
        assert!(validate_batch_id("nightly-2026-11-25").is_ok());
        assert!(validate_batch_id("a").is_ok());
        assert!(validate_batch_id(&"a".repeat(128)).is_ok());
        assert!(validate_batch_id(&"a".repeat(129)).is_err());
        assert!(validate_batch_id("").is_err());
        assert!(validate_batch_id(".hidden").is_err());
        assert!(validate_batch_id("a/b").is_err());
        assert!(validate_batch_id("a b").is_err());
    }

    #[test]
    fn input_mode_names() {
        assert_eq!(
            serde_json::to_string(&InputMode::Copy).ok().as_deref(),
            Some("\"copy\"")
        );
        assert_eq!(
            serde_json::from_str::<InputMode>("\"reference\"").ok(),
            Some(InputMode::Reference)
        );
    }
}
