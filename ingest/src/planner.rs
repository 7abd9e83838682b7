//! Making a plan ([`make_plan`]): resolve the inputs, read each file's footer (kind, row
//! groups), stream each file once for its digests (copying it into the batch in copy mode),
//! list duplicate record ids, and write `plan.json` with a create-if-absent write. A plan,
//! once written, never changes: planning the same batch again returns it when the inputs
//! are the same, and fails naming the differences otherwise.

use std::collections::BTreeMap;
use std::ops::Range;

use bytes::Bytes;
use futures::StreamExt;

use crate::dates::{now_rfc3339, parse_date};
use crate::digest::{CopyTarget, digest_file};
use crate::discover::{SourceFile, resolve_inputs};
use crate::duplicates::DuplicateScan;
use crate::error::IngestError;
use crate::footer::{Footer, read_footer, row_group_range};
use crate::plan::{
    InputMode, PLAN_FORMAT, Plan, PlanFile, PlanOptions, PlanProgress, PlanRowGroup, PlanSegment,
    batch_prefix, load_plan, plan_path, validate_batch_id,
};
use crate::store::Store;

/// Files digested (and copied) at once by [`make_plan`].
const PLAN_FILES_AT_ONCE: usize = 2;

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
    let started = std::time::SystemTime::now();
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
    refuse_inputs_in_store(store, &found)?;
    progress(PlanProgress::Resolved {
        files: found.len(),
        total_bytes: found.iter().map(|f| f.source.size).sum(),
    });
    if let Some(plan) = existing {
        progress(PlanProgress::Frozen);
        return same_or_frozen(store, plan, &found, opts, progress).await;
    }

    // A plan killed earlier may have left partial copies. Those of a plan still running
    // in another process are locked, and kept.
    match store
        .remove_abandoned_writes(&batch_prefix(&opts.batch_id), started)
        .await
    {
        Ok(removed) if removed.files > 0 => progress(PlanProgress::Cleaned(removed)),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot remove the batch's abandoned temporary files"),
    }
    let names = copy_names(&found);
    // Two files at a time: one's bytes are fetched while the other's are hashed.
    let files: Vec<PlanFile> = futures::stream::iter(found.iter().enumerate())
        .map(|(index, f)| {
            let copy_path = match opts.input_mode {
                InputMode::Copy => Some(format!(
                    "{}/inputs/{}/{}",
                    batch_prefix(&opts.batch_id),
                    f.footer.kind.name(),
                    names[index]
                )),
                InputMode::Reference => None,
            };
            plan_file(store, f, index as u32, copy_path, progress)
        })
        .buffered(PLAN_FILES_AT_ONCE)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
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
                // This plan's copies may have replaced the winner's at the same paths (inputs
                // of the same names): put the winner's back from their sources, and remove the
                // copies that only this plan made, so that its loss leaves the batch as the
                // winner planned it.
                undo_copies(store, &plan, &theirs, progress).await?;
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
            // A name like a partial file's (`.x.1.2.tmp`) would be removed as one.
            if counts[b.as_str()] > 1 || crate::store::is_partial_file_name(b) {
                format!("{i}-{b}")
            } else {
                b.clone()
            }
        })
        .collect()
}

/// Refuses an input file that lies inside a local batch store (a store folder kept inside an
/// input folder, whose glob or prefix then finds the store's own files).
fn refuse_inputs_in_store(store: &Store, found: &[Found]) -> Result<(), IngestError> {
    let Some(root) = store.local_root() else {
        return Ok(());
    };
    let Ok(root) = root.canonicalize() else {
        // Not made yet: nothing can be in it.
        return Ok(());
    };
    for f in found {
        let Some(path) = f.source.store.local_file(&f.source.path) else {
            continue;
        };
        if path.canonicalize().is_ok_and(|p| p.starts_with(&root)) {
            return Err(IngestError::InputInStore {
                url: f.source.url.clone(),
                store: root.display().to_string(),
            });
        }
    }
    Ok(())
}

/// Copies `found` (the source of `planned`) to the plan's copy path when the copy there is gone
/// or of another size, or always with `force`; the copy replaces the one there atomically
/// (written under a temporary name, then renamed), and is checked against the plan's digest
/// as it is copied.
async fn restore_copy(
    store: &Store,
    found: &Found,
    planned: &PlanFile,
    force: bool,
    progress: &(dyn Fn(PlanProgress) + Sync),
) -> Result<(), IngestError> {
    if !force
        && store
            .head(&planned.path)
            .await?
            .is_some_and(|copy| copy.size == planned.size)
    {
        return Ok(());
    }
    let copy = store.object_url(&planned.path);
    tracing::warn!(copy = %copy, source = %planned.source,
        "the input's copy is gone or cut short: copying it again from its source");
    let url = &found.source.url;
    let on_bytes = |bytes| {
        progress(PlanProgress::Digested {
            url: url.clone(),
            bytes,
        })
    };
    let target = CopyTarget {
        store,
        path: &planned.path,
    };
    let d = digest_file(
        &found.source.store,
        &found.source.path,
        url,
        found.source.size,
        &[],
        Some(target),
        None,
        &on_bytes,
    )
    .await?;
    if d.file != planned.digest {
        return Err(IngestError::ChangedSincePlan {
            url: url.clone(),
            what: format!(
                "digest {} while copying it again, the plan has {}",
                d.file, planned.digest
            ),
        });
    }
    progress(PlanProgress::CopyRestored {
        source: planned.source.clone(),
        copy,
    });
    Ok(())
}

/// After losing the race to write the plan to `theirs`: the copies of `ours` at the paths of
/// `theirs`' copies are replaced by theirs, from their sources (each checked against
/// `theirs`' digest as it is copied), and our other copies are removed.
async fn undo_copies(
    store: &Store,
    ours: &Plan,
    theirs: &Plan,
    progress: &(dyn Fn(PlanProgress) + Sync),
) -> Result<(), IngestError> {
    let copies = |plan: &Plan| -> BTreeMap<String, PlanFile> {
        plan.files
            .iter()
            .filter(|f| f.path != f.source)
            .map(|f| (f.path.clone(), f.clone()))
            .collect()
    };
    let (ours, theirs) = (copies(ours), copies(theirs));
    for (path, mine) in &ours {
        match theirs.get(path) {
            Some(planned) if planned.source == mine.source && planned.digest == mine.digest => {}
            Some(planned) => {
                let found = find_files(std::slice::from_ref(&planned.source), &|_| {})
                    .await?
                    .into_iter()
                    .next()
                    .ok_or_else(|| IngestError::Vanished {
                        url: planned.source.clone(),
                    })?;
                // Ours is there, of whatever size: replaced in one rename, so that the
                // winner's build never finds the path empty; a source that changed since the
                // winner's plan is an error (ours stays replaced by bytes no plan has).
                restore_copy(store, &found, planned, true, progress).await?;
            }
            None => store.delete(path).await?,
        }
    }
    Ok(())
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
    // Duplicates come from the bytes being digested (and copied): the build checks each
    // row group it reads against these digests.
    let scan = DuplicateScan::start(url, f.source.size, &f.footer)?;
    let digests = digest_file(
        &f.source.store,
        &f.source.path,
        url,
        f.source.size,
        &ranges,
        copy,
        Some(&scan),
        &on_bytes,
    )
    .await?;
    let duplicates = scan.finish().await?;
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
    if rows == 0 {
        progress(PlanProgress::NoRows { url: url.clone() });
    }
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
        footer_digest: Some(f.footer.digest.clone()),
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

/// How a request differs from a batch's frozen plan, found without reading the input files
/// whole: see [`plan_differences`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanDifferences {
    /// Settings that differ (batch date, suite, input mode), each as `"suite X (the plan
    /// has Y)"`.
    pub settings: Vec<String>,
    /// Inputs that differ: files not in the plan, planned files no longer among the inputs,
    /// sizes or footers that changed, or why the inputs cannot be listed or read now.
    pub inputs: Vec<String>,
}

impl PlanDifferences {
    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.settings.is_empty() && self.inputs.is_empty()
    }
}

/// Compares a request (`inputs`, `opts`) with the batch's frozen plan cheaply: the settings,
/// the inputs listed again (URLs and sizes), and the footer of each input whose URL and size
/// are the plan's, against the plan's footer digest (one read of the file's tail; no file is
/// digested whole, unlike a repeated [`make_plan`]). For a rerun of a planned batch, to tell
/// the operator that the inputs changed since. A file rewritten with the same size and the
/// same footer (a change that leaves every page's size and every statistic as they were) is
/// not seen: only the whole-file digest of [`make_plan`] sees it. An input that cannot be
/// listed or read now (moved away after a copy-mode plan, say) is a difference, not an error.
pub async fn plan_differences(
    frozen: &Plan,
    inputs: &[String],
    opts: &PlanOptions,
) -> PlanDifferences {
    let inputs = match crate::discover::resolve_inputs(inputs).await {
        Err(e) => vec![format!("the inputs cannot be listed now: {e}")],
        Ok(sources) => {
            let (mut differences, matched) =
                listing_differences(frozen, sources.iter().map(|s| (&*s.url, s.size)));
            let footers: Vec<Option<String>> = futures::stream::iter(sources.iter().zip(matched))
                .map(|(source, planned)| footer_difference(source, planned))
                .buffered(8)
                .collect()
                .await;
            differences.extend(footers.into_iter().flatten());
            differences
        }
    };
    PlanDifferences {
        settings: settings_differences(frozen, opts),
        inputs,
    }
}

/// How the footer of `source`, listed with the URL and size of `planned`, differs from the
/// plan's footer digest, in words; `None` when it is the same, or when there is nothing to
/// compare (no planned file of that URL and size, or a plan made before footer digests).
async fn footer_difference(
    source: &crate::discover::SourceFile,
    planned: Option<&PlanFile>,
) -> Option<String> {
    let expected = planned?.footer_digest.as_deref()?;
    match read_footer(&source.store, &source.path, &source.url, source.size, true).await {
        Ok(footer) if footer.digest == expected => None,
        Ok(footer) => Some(format!(
            "input {} changed: footer digest {}, the plan has {expected} (same size)",
            source.url, footer.digest
        )),
        Err(e) => Some(format!(
            "input {} cannot be read as it was planned: {e}",
            source.url
        )),
    }
}

/// Compares the inputs listed now (URL and size, in order) with the plan's files: the
/// differences in words (an input not in the plan, a size that changed, a planned file no
/// longer listed), and for each listed input the planned file it matches by URL and size.
fn listing_differences<'p, 'u>(
    frozen: &'p Plan,
    listed: impl Iterator<Item = (&'u str, u64)>,
) -> (Vec<String>, Vec<Option<&'p PlanFile>>) {
    let planned: BTreeMap<&str, &PlanFile> = frozen
        .files
        .iter()
        .map(|f| (f.source.as_str(), f))
        .collect();
    let mut differences = Vec::new();
    let mut matched = Vec::new();
    let mut now = std::collections::HashSet::new();
    for (url, size) in listed {
        now.insert(url);
        matched.push(match planned.get(url) {
            None => {
                differences.push(format!("input {url} is not in the plan"));
                None
            }
            Some(p) if p.size != size => {
                differences.push(format!(
                    "input {url} changed: {size} bytes, the plan has {}",
                    p.size
                ));
                None
            }
            Some(p) => Some(*p),
        });
    }
    for src in planned.keys() {
        if !now.contains(src) {
            differences.push(format!("planned input {src} is not among the inputs now"));
        }
    }
    (differences, matched)
}

/// A plan exists: returns it when `found` are the same files (by source and digest) and the
/// settings match, else [`IngestError::PlanFrozen`]. Digests only when sources and sizes agree.
async fn same_or_frozen(
    store: &Store,
    frozen: Plan,
    found: &[Found],
    opts: &PlanOptions,
    progress: &(dyn Fn(PlanProgress) + Sync),
) -> Result<Plan, IngestError> {
    let mut differences = settings_differences(&frozen, opts);
    let (listed, matched) = listing_differences(
        &frozen,
        found.iter().map(|f| (&*f.source.url, f.source.size)),
    );
    differences.extend(listed);
    let to_digest: Vec<(&Found, &PlanFile)> = found
        .iter()
        .zip(matched)
        .filter_map(|(f, p)| Some((f, p?)))
        .collect();
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
                None,
                &on_bytes,
            )
            .await?;
            if d.file != p.digest {
                differences.push(format!(
                    "input {url} changed: digest {}, the plan has {}",
                    d.file, p.digest
                ));
            } else if p.path != p.source {
                // The source is as planned: put back a copy that is gone or cut short (the
                // build would find it vanished or changed).
                restore_copy(store, f, p, false, progress).await?;
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
