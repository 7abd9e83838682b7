//! `proofmark run`: the nightly job: plan -> build -> commit -> anchor, from
//! one TOML file, resumable and idempotent.
//!
//! Every stage is idempotent on the store's own state (a frozen plan, done
//! segments, a manifest written last, receipts), so a rerun after a failure
//! resumes where it stopped and a rerun after success does nothing. Each
//! stage's completion is also recorded in `batches/<id>/stages/<stage>.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Instant, SystemTime};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use proofmark_anchor::chain::{ChainConfig, ChainsFile, anchor_batch};
use proofmark_anchor::manifest::{date_utc, rfc3339_utc};
use proofmark_anchor::{BuildOptions, CommitOptions, build_batch, commit_batch};
use proofmark_ingest::{
    IngestError, InputMode, PlanOptions, Store, load_plan, make_plan, plan_differences,
};
use proofmark_merkle::SuiteId;
use serde::{Deserialize, Serialize};

use super::GlobalArgs;
use super::pipeline::bar;
use crate::exit::{BatchScope, Classified, ExitClass, classify};
use crate::lock::{BatchLock, BreakLock};
use crate::output::write_atomically;

/// Arguments of `proofmark run`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Exit status: 0 done (or nothing to do), 2 an internal or environment error (the store \
unreachable, a full disk, a bug; also a run interrupted by SIGINT or SIGTERM, class \
`internal`: rerun to resume), 3 an input error (a flag, the job file, an input file, a batch \
with no accepted row, a ledger or evm key), 4 a chain error (a chain refused or failed; the \
batch is anchored on the others), 5 locked (another run holds the batch, or another publish \
the code index). docs/operations.md, \"Exit codes\", says what to do for each.")]
pub struct RunArgs {
    /// The job file (TOML), e.g. `jobs/nightly.toml`.
    #[arg(value_name = "JOB.toml")]
    pub config: PathBuf,
    /// The batch date, YYYY-MM-DD (default: the job file's `date`, else today in UTC).
    /// The batch id is `<job name>-<date>`.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<String>,
    /// Print what the job would do (batch id, store, inputs, chains) and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// Also write the final summary as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Stop after this stage (e.g. `plan`, before a Kubernetes Indexed Job
    /// builds the segments in parallel pods; a later run resumes).
    #[arg(long, value_enum, value_name = "STAGE")]
    pub until: Option<Stage>,
    /// Remove the batch's lock left by a run that is not running any more
    /// (a killed process), then go on. A lock whose holder runs on this
    /// host is never broken; one from another host is, so make sure that
    /// run has ended. Like every run, the resumed one first removes the
    /// temporary files the killed one left (docs/operations.md, "Locks").
    #[arg(long, conflicts_with = "break_stale_lock")]
    pub break_lock: bool,
    /// Remove the batch's lock only when its holder is verifiably dead: it ran on this host
    /// (the same host name) and no process with its id and start time runs here. A lock
    /// from another host, or one that cannot be read, is refused (exit 5) as without the
    /// flag. For a scheduler that restarts a killed run on the same machine (the systemd
    /// unit of docs/operations.md); not where containers share a host name (host
    /// networking), as a holder in another container's process namespace looks dead here.
    #[arg(long)]
    pub break_stale_lock: bool,
    /// Write Prometheus metrics of this run to this file when it ends
    /// (text exposition format, written atomically: point node_exporter's
    /// textfile collector at its folder). Default: `$PROOFMARK_METRICS_FILE`.
    #[arg(long, value_name = "FILE", env = "PROOFMARK_METRICS_FILE")]
    pub metrics_file: Option<PathBuf>,
}

/// The stages of a job, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Freeze the inputs.
    Plan,
    /// Build the segments.
    Build,
    /// Commit the batch.
    Commit,
    /// Anchor it on every configured chain.
    Anchor,
    /// Publish it into the verifier's code index (when `[publish]` is set).
    Publish,
}

impl Stage {
    /// The stage's name.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Plan => "plan",
            Stage::Build => "build",
            Stage::Commit => "commit",
            Stage::Anchor => "anchor",
            Stage::Publish => "publish",
        }
    }
}

/// The `[job]` table of a job file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobSection {
    /// Job name: the batch id is `<name>-<date>`.
    name: String,
    /// The batch store (folder or URL); relative folders are relative to the job file.
    store: String,
    /// Inputs: files, folders/prefixes or globs; relative ones are relative to the job file.
    inputs: Vec<String>,
    /// Optional fixed batch date (for a replayable job such as the sample).
    #[serde(default)]
    date: Option<String>,
    /// Hash suite (default blake3).
    #[serde(default)]
    suite: Option<String>,
    /// `copy` (default) or `reference`.
    #[serde(default)]
    input_mode: Option<String>,
    /// Chains to anchor on (default: `["ledger"]`).
    #[serde(default)]
    chains: Option<Vec<String>>,
    /// Index merge memory budget in MiB (default 1024).
    #[serde(default)]
    memory_budget_mib: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobFile {
    job: JobSection,
    #[serde(default)]
    chains: BTreeMap<String, proofmark_anchor::chain::ChainConfig>,
    #[serde(default)]
    publish: Option<PublishSection>,
}

/// The `[publish]` table of a job file: where the verifier's code index is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishSection {
    /// The code index folder (`proofmark serve --index`); relative to the job
    /// file; `PROOFMARK_INDEX` overrides it.
    index: String,
}

/// A validated job.
#[derive(Debug)]
struct Job {
    name: String,
    store: String,
    inputs: Vec<String>,
    date: Option<String>,
    suite: SuiteId,
    input_mode: InputMode,
    chains: Vec<String>,
    chains_file: ChainsFile,
    memory_budget_bytes: usize,
    /// The code index to publish into; `None`: no publish stage.
    index: Option<PathBuf>,
}

fn is_url(s: &str) -> bool {
    s.contains("://")
}

/// `s` relative to `base` (unless it is a URL or absolute), with `.` and
/// `..` folded lexically so that messages show a plain path.
fn resolve(base: &Path, s: &str) -> String {
    if is_url(s) || Path::new(s).is_absolute() {
        return s.to_owned();
    }
    let mut out = PathBuf::new();
    for part in base.join(s).components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        ".".to_owned()
    } else {
        out.to_string_lossy().into_owned()
    }
}

impl Job {
    fn load(path: &Path) -> anyhow::Result<Job> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read job file {shown}"))?;
        let file: JobFile = toml::from_str(&text).with_context(|| format!("job file {shown}"))?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let j = file.job;
        if j.name.is_empty()
            || !j
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            bail!(
                "job file {shown}: job.name {:?} must be letters, digits, '-', '_' or '.'",
                j.name
            );
        }
        if j.inputs.is_empty() {
            bail!("job file {shown}: job.inputs is empty: name at least one file, folder or glob");
        }
        let suite = match j.suite.as_deref() {
            None => SuiteId::Blake3,
            Some(s) => s
                .parse()
                .map_err(|e| anyhow::anyhow!("job file {shown}: job.suite: {e}"))?,
        };
        let input_mode = match j.input_mode.as_deref() {
            None | Some("copy") => InputMode::Copy,
            Some("reference") => InputMode::Reference,
            Some(other) => bail!(
                "job file {shown}: job.input_mode {other:?} must be \"copy\" or \"reference\""
            ),
        };
        let mut chains_file = ChainsFile::from_chains(&shown, file.chains)?;
        for config in chains_file.chains.values_mut() {
            for k in config.file_paths_mut() {
                *k = PathBuf::from(resolve(base, &k.to_string_lossy()));
            }
        }
        let chains = j.chains.unwrap_or_else(|| vec!["ledger".to_owned()]);
        if chains.is_empty() {
            bail!(
                "job file {shown}: job.chains is empty: name at least one chain to anchor the \
                 batch on (or leave it out for the embedded ledger)"
            );
        }
        if let Some(dup) = chains
            .iter()
            .enumerate()
            .find_map(|(i, c)| chains[..i].contains(c).then_some(c))
        {
            bail!("job file {shown}: job.chains names {dup:?} twice");
        }
        if let Some(date) = &j.date
            && proofmark_ingest::dates::parse_date(date).is_none()
        {
            bail!("job file {shown}: job.date {date:?} is not a calendar date YYYY-MM-DD");
        }
        if j.memory_budget_mib == Some(0) {
            bail!("job file {shown}: job.memory_budget_mib must be at least 1");
        }
        for c in &chains {
            chains_file
                .get(c)
                .with_context(|| format!("job file {shown}: job.chains"))?;
        }
        // Environment overrides for deployments: the store and the ledger key.
        let store = std::env::var("PROOFMARK_STORE").unwrap_or_else(|_| resolve(base, &j.store));
        Ok(Job {
            name: j.name,
            store,
            inputs: j.inputs.iter().map(|i| resolve(base, i)).collect(),
            date: j.date,
            suite,
            input_mode,
            chains,
            chains_file,
            memory_budget_bytes: j.memory_budget_mib.unwrap_or(1024) << 20,
            index: std::env::var_os("PROOFMARK_INDEX")
                .map(PathBuf::from)
                .or_else(|| file.publish.map(|p| PathBuf::from(resolve(base, &p.index)))),
        })
    }
}

/// The record of one finished stage, kept in the store.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StageRecord {
    stage: String,
    finished_at: String,
    seconds: f64,
    detail: serde_json::Value,
}

/// Time spent in one stage of this run.
#[derive(Debug, Serialize)]
struct StageTime {
    stage: &'static str,
    seconds: f64,
}

/// The job's closing summary.
#[derive(Debug, Serialize)]
struct Summary {
    job: String,
    batch_id: String,
    store: String,
    outcome: String,
    /// Whether the batch is complete after this run: committed, anchored and, when the job
    /// publishes, published. False only for a run that `--until` stopped before that.
    complete: bool,
    /// Absent when the run stopped before the commit (`--until`).
    rows_read: Option<u64>,
    rows_accepted: Option<u64>,
    rows_rejected: Option<u64>,
    rejects_by_reason: BTreeMap<String, u64>,
    root: Option<String>,
    manifest_digest: Option<String>,
    receipts: Vec<serde_json::Value>,
    /// The code index the batch is published in, if the job publishes.
    published: Option<String>,
    stage_seconds: Vec<StageTime>,
    /// Rows read per second over plan, build and commit; `None` unless this run did all
    /// three (a resumed run's rate would divide the batch's rows by part of its work).
    records_per_second: Option<f64>,
    /// What the operator should know although the run succeeded (a job file whose inputs
    /// changed since the batch was planned).
    warnings: Vec<String>,
}

async fn record_stage(
    store: &Store,
    batch_id: &str,
    stage: &str,
    started: Instant,
    detail: serde_json::Value,
) -> anyhow::Result<f64> {
    let seconds = started.elapsed().as_secs_f64();
    let rec = StageRecord {
        stage: stage.to_owned(),
        finished_at: rfc3339_utc(SystemTime::now()),
        seconds,
        detail,
    };
    let path = format!("batches/{batch_id}/stages/{stage}.json");
    // The first completion is kept; a rerun that finds it done does not rewrite it.
    store
        .put_if_absent(&path, Bytes::from(serde_json::to_vec_pretty(&rec)?))
        .await?;
    Ok(seconds)
}

async fn stage_done(
    store: &Store,
    batch_id: &str,
    stage: &str,
) -> anyhow::Result<Option<StageRecord>> {
    let path = format!("batches/{batch_id}/stages/{stage}.json");
    Ok(match store.get(&path).await? {
        Some(b) => Some(
            serde_json::from_slice(&b).with_context(|| format!("{path} is not a stage record"))?,
        ),
        None => None,
    })
}

/// Runs `proofmark run`.
pub fn run_job(args: RunArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    // A run that fails before it starts (the job file, the date, a report file's folder, the
    // store URL) writes its failure to the metrics and summary files too: else the last run's
    // success would stand, and the alert on `proofmark_job_success == 0` would not fire.
    // `name`: the job's, once the job file is read (else looked for without it).
    let fail_early = |e: anyhow::Error, name: Option<&str>, batch_id: Option<&str>| {
        let job = name.map_or_else(
            || early_job_label(&args.config, args.metrics_file.as_deref()),
            str::to_owned,
        );
        if let Some(path) = &args.metrics_file {
            write_early_failure_metrics(path, &job, batch_id, &e, started);
        }
        if let Some(path) = &args.summary_json {
            let class = crate::exit::classify(&e);
            let failed = serde_json::json!({
                "job": job,
                "batch_id": batch_id,
                "store": null,
                "outcome": "failed",
                "class": class.name(),
                "exit_code": class.code(),
                "error": crate::exit::message(&e),
            });
            let text = serde_json::to_string_pretty(&failed).unwrap_or_default();
            if let Err(w) = write_atomically(path, text.as_bytes()) {
                tracing::error!(file = %path.display(), error = %w, "cannot write the summary file");
            }
        }
        e
    };
    let job = Job::load(&args.config).map_err(|e| {
        fail_early(
            e.context(Classified(ExitClass::Input, "invalid job file")),
            None,
            None,
        )
    })?;
    let date = args
        .date
        .clone()
        .or(job.date.clone())
        .unwrap_or_else(|| date_utc(SystemTime::now()));
    if proofmark_ingest::dates::parse_date(&date).is_none() {
        let e = anyhow::Error::new(IngestError::InvalidBatchDate { date })
            .context(Classified(ExitClass::Input, "invalid --date"));
        return Err(fail_early(e, Some(&job.name), None));
    }
    let batch_id = format!("{}-{date}", job.name);
    // The report files go into folders that must exist: a mistyped folder is told now, not
    // made (where no collector would look) or found missing after the run.
    for (flag, path) in [
        ("--metrics-file", &args.metrics_file),
        ("--summary-json", &args.summary_json),
    ] {
        if let Some(path) = path
            && let Err(e) = crate::output::check_output_folder(flag, path)
        {
            let e = e.context(Classified(ExitClass::Input, "a report file's folder"));
            return Err(fail_early(e, Some(&job.name), Some(&batch_id)));
        }
    }
    if args.dry_run {
        outln!("job        {}", job.name);
        outln!("batch id   {batch_id}");
        outln!("store      {}", job.store);
        outln!("inputs     {}", job.inputs.join("\n           "));
        outln!("suite      {}", job.suite);
        outln!("chains     {}", job.chains.join(", "));
        match &job.index {
            Some(index) => {
                outln!("index      {}", index.display());
                outln!("stages     plan -> build -> commit -> anchor -> publish");
            }
            None => outln!("stages     plan -> build -> commit -> anchor (no [publish])"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let store = Store::from_url(&job.store)
        .with_context(|| format!("store {}", job.store))
        .map_err(|e| {
            fail_early(
                e.context(Classified(ExitClass::Input, "invalid store")),
                Some(&job.name),
                Some(&batch_id),
            )
        })?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // A panic (a bug) fails the run like any internal error: exit 2, with its metrics and
    // summary written, rather than ending the process with Rust's 101 and no report. The
    // lock it held stays, as a killed run's does (its holder is dead once this process ends).
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(locked_run(&job, &store, &batch_id, &date, &args, global))
    }))
    .unwrap_or_else(|payload| Err(crate::exit::panicked(payload.as_ref())));
    // A run that found the batch locked by a run still going leaves the metrics and summary
    // files to that run, which writes them when it ends: this one's "failed" would otherwise
    // stand for the running one's until then (and fire an alert on a healthy job).
    let reports = !locked_by_a_live_run(&result);
    if let Some(path) = args.metrics_file.as_ref().filter(|_| reports) {
        // A failed run's metrics still say which chains hold a receipt of the batch (a run
        // that failed in its publish stage, say, had anchored it).
        // (A failed anchor stage's error carries them already.)
        let anchored = match &result {
            Err(e) if e.downcast_ref::<AnchorFailures>().is_none() => {
                rt.block_on(chains_with_receipts(&store, &batch_id, &job.chains))
            }
            _ => Vec::new(),
        };
        let carried = Carried {
            last_success: last_success_in(path, &job.name),
            anchored,
        };
        let text = metrics_text(
            &job.name,
            &batch_id,
            result.as_ref(),
            started.elapsed().as_secs_f64(),
            &carried,
        );
        if let Err(e) = write_atomically(path, text.as_bytes()) {
            tracing::error!(file = %path.display(), error = %e, "cannot write the metrics file");
        }
    }
    let summary = match result {
        Ok(summary) => summary,
        Err(e) => {
            let e = e.context(BatchScope(batch_id.clone()));
            if let Some(path) = args.summary_json.as_ref().filter(|_| reports) {
                // A failed run's summary says so, so that no earlier run's "completed" is
                // left to be read as this one's.
                let class = crate::exit::classify(&e);
                let mut failed = serde_json::json!({
                    "job": job.name,
                    "batch_id": batch_id,
                    "store": job.store,
                    "outcome": "failed",
                    "class": class.name(),
                    "exit_code": class.code(),
                    "error": crate::exit::message(&e),
                });
                // A batch whose every row was rejected: the counts, and why.
                if let (Some((rows_read, reasons)), Some(fields)) =
                    (all_rejected(&e), failed.as_object_mut())
                {
                    fields.insert("rows_read".into(), rows_read.into());
                    fields.insert("rows_accepted".into(), 0.into());
                    fields.insert("rows_rejected".into(), rows_read.into());
                    fields.insert(
                        "rejects_by_reason".into(),
                        serde_json::to_value(reasons).unwrap_or_default(),
                    );
                }
                let text = serde_json::to_string_pretty(&failed).unwrap_or_default();
                if let Err(w) = write_atomically(path, text.as_bytes()) {
                    tracing::error!(file = %path.display(), error = %w, "cannot write the summary file");
                }
            }
            return Err(e);
        }
    };
    let text = serde_json::to_string_pretty(&summary)?;
    if let Some(path) = &args.summary_json {
        write_atomically(path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    print_summary(&summary);
    Ok(ExitCode::SUCCESS)
}

/// Takes the batch lock, runs the stages (stopping cleanly on SIGINT or
/// SIGTERM), and releases the lock whatever the outcome.
async fn locked_run(
    job: &Job,
    store: &Store,
    batch_id: &str,
    date: &str,
    args: &RunArgs,
    global: &GlobalArgs,
) -> anyhow::Result<Summary> {
    let break_lock = match (args.break_lock, args.break_stale_lock) {
        (true, _) => BreakLock::Any,
        (false, true) => BreakLock::Stale,
        (false, false) => BreakLock::No,
    };
    let (lock, broken) = BatchLock::acquire(store, batch_id, "proofmark run", break_lock)
        .await
        .context("cannot take the lock")?;
    if let Some(b) = broken
        && !global.quiet
    {
        errln!(
            "lock: removed the lock of pid {} on {} (taken {}); resuming",
            b.pid,
            b.host,
            b.since
        );
    }
    // Fault injection for the tests of a run that panics (builds with debug assertions only;
    // a release binary has no such variable).
    #[cfg(debug_assertions)]
    if std::env::var_os("PROOFMARK_DEBUG_PANIC_IN_RUN").is_some() {
        panic!("PROOFMARK_DEBUG_PANIC_IN_RUN is set");
    }
    // The lock is ours from now on: a temporary file under the batch's folder
    // last written before this moment, and not locked by a live commit, is a
    // leftover of an interrupted write (a killed run's copy, segment or commit
    // output). Cleaning up is best effort: it never fails the run.
    let locked_at = std::time::SystemTime::now();
    let mut removed = store
        .remove_partial_files(&proofmark_ingest::plan::batch_prefix(batch_id), locked_at)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot remove the batch's partial files");
            proofmark_ingest::Removed::default()
        });
    // The shared batch log: only what no live writer holds (other batches'
    // runs may be appending), never object_store's unlocked staging files.
    match store
        .remove_abandoned_writes(proofmark_anchor::ledger::log::LOG_DIR, locked_at)
        .await
    {
        Ok(log) => {
            removed.files += log.files;
            removed.bytes += log.bytes;
        }
        Err(e) => tracing::warn!(error = %e, "cannot remove the batch log's abandoned files"),
    }
    // And the work folders of killed commits (this run may skip its commit).
    let folders = tokio::task::spawn_blocking(|| {
        proofmark_anchor::commit::remove_dead_work_dirs(&std::env::temp_dir())
    })
    .await
    .unwrap_or(0);
    if removed.files > 0 || folders > 0 {
        tracing::info!(
            files = removed.files,
            bytes = removed.bytes,
            folders,
            "removed what an interrupted run left"
        );
        if !global.quiet {
            errln!(
                "cleanup: removed {} partial file(s) ({} bytes) and {folders} work folder(s) that an interrupted run left",
                removed.files,
                removed.bytes
            );
        }
    }
    let outcome = tokio::select! {
        r = run_stages(job, store, batch_id, date, args.until, global) => r,
        sig = super::shutdown_signal() => Err(anyhow::anyhow!(
            "interrupted by {sig}: the batch's finished work is kept; rerun to resume"
        )),
    };
    let released = lock.release(store).await;
    let summary = outcome?;
    released.with_context(|| format!("cannot release the lock of batch {batch_id}"))?;
    Ok(summary)
}

/// The rows read (all rejected) and the rejections by reason of a run that failed because
/// its batch has no accepted row.
fn all_rejected(e: &anyhow::Error) -> Option<(u64, &BTreeMap<String, u64>)> {
    e.chain().find_map(
        |c| match c.downcast_ref::<proofmark_anchor::AnchorError>() {
            Some(proofmark_anchor::AnchorError::NothingToCommit {
                rows_read,
                rejects_by_reason,
                ..
            }) => Some((*rows_read, rejects_by_reason)),
            _ => None,
        },
    )
}

/// The job of a run whose job file could not be loaded: the file's `name` when it can be
/// read as TOML, else the label of the metrics file being replaced, else the file's stem.
fn early_job_label(config: &Path, metrics_file: Option<&Path>) -> String {
    job_name_in(config)
        .or_else(|| metrics_file.and_then(job_label_in))
        .unwrap_or_else(|| {
            config
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
}

/// Writes the metrics file `path` of the run of `job` that failed with `e` before it
/// started (the job file, the date, a report file's folder or the store URL); the last
/// success is carried from the file being replaced.
fn write_early_failure_metrics(
    path: &Path,
    job: &str,
    batch_id: Option<&str>,
    e: &anyhow::Error,
    started: Instant,
) {
    let carried = Carried {
        last_success: last_success_in(path, job),
        anchored: Vec::new(),
    };
    let text = metrics_text(
        job,
        batch_id.unwrap_or(""),
        Err(e),
        started.elapsed().as_secs_f64(),
        &carried,
    );
    if let Err(w) = write_atomically(path, text.as_bytes()) {
        tracing::error!(file = %path.display(), error = %w, "cannot write the metrics file");
    }
}

/// The `[job] name` of the job file `config`, if the file is TOML with one (whatever else
/// is wrong with it).
fn job_name_in(config: &Path) -> Option<String> {
    let table: toml::Table = std::fs::read_to_string(config).ok()?.parse().ok()?;
    let name = table.get("job")?.get("name")?.as_str()?;
    (!name.is_empty()).then(|| name.to_owned())
}

/// The `job` label of the metrics file `path` an earlier run wrote, if any.
fn job_label_in(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let rest = text
        .lines()
        .find_map(|l| l.strip_prefix("proofmark_job_last_run_timestamp_seconds{job=\""))?;
    let mut value = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return (!value.is_empty()).then_some(value),
            '\\' => match chars.next()? {
                'n' => value.push('\n'),
                other => value.push(other),
            },
            other => value.push(other),
        }
    }
    None
}

/// Escapes a Prometheus label value.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Whether `result` is the failure to take the batch's lock from a run that is still going.
fn locked_by_a_live_run(result: &anyhow::Result<Summary>) -> bool {
    let Err(e) = result else {
        return false;
    };
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<crate::lock::LockError>(),
            Some(crate::lock::LockError::Held {
                state: crate::lock::HolderState::Alive,
                ..
            })
        )
    })
}

/// The chains of `chains` that hold a receipt of `batch_id` in `store`.
async fn chains_with_receipts(store: &Store, batch_id: &str, chains: &[String]) -> Vec<String> {
    let mut held = Vec::new();
    for chain in chains {
        if super::anchor::stored_receipt(store, batch_id, chain)
            .await
            .is_some()
        {
            held.push(chain.clone());
        }
    }
    held
}

/// What a failed run's metrics take from outside its result.
struct Carried {
    /// The time of the job's last success, from the metrics file an earlier run wrote.
    last_success: Option<f64>,
    /// The chains that hold a receipt of the batch, read from the store.
    anchored: Vec<String>,
}

/// The `proofmark_job_last_success_timestamp_seconds` of `job` in the metrics file `path`
/// an earlier run wrote, if any.
fn last_success_in(path: &Path, job: &str) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    let prefix = format!(
        "proofmark_job_last_success_timestamp_seconds{{job=\"{}\"}} ",
        label(job)
    );
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
}

/// The run's metrics in the Prometheus text exposition format, for the metrics file after a
/// run of `job`. A failed run keeps `carried.last_success`, the time of the job's last success
/// an earlier run wrote, so that an alert on its age still has a value to test while the job
/// keeps failing, and lists the chains that hold a receipt (`carried.anchored`).
fn metrics_text(
    job: &str,
    batch_id: &str,
    result: Result<&Summary, &anyhow::Error>,
    seconds: f64,
    carried: &Carried,
) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let j = label(job);
    let b = label(batch_id);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let mut metric = |name: &str, help: &str, kind: &str, lines: &[(String, f64)]| {
        let _ = writeln!(o, "# HELP {name} {help}");
        let _ = writeln!(o, "# TYPE {name} {kind}");
        for (labels, v) in lines {
            let _ = writeln!(o, "{name}{{{labels}}} {v}");
        }
    };
    let base = format!("job=\"{j}\",batch_id=\"{b}\"");
    let (ok, code, class) = match result {
        Ok(_) => (1.0, 0.0, "none"),
        Err(e) => {
            let c = classify(e);
            (0.0, f64::from(c.code()), c.name())
        }
    };
    metric(
        "proofmark_job_last_run_timestamp_seconds",
        "When the last run of the job ended (Unix time).",
        "gauge",
        &[(format!("job=\"{j}\""), now)],
    );
    metric(
        "proofmark_job_success",
        "1 if the last run succeeded, else 0.",
        "gauge",
        &[(base.clone(), ok)],
    );
    metric(
        "proofmark_job_exit_code",
        "Exit code of the last run (0 ok, 2 internal, 3 input, 4 chain, 5 locked).",
        "gauge",
        &[(format!("{base},class=\"{class}\""), code)],
    );
    metric(
        "proofmark_job_duration_seconds",
        "Wall time of the last run.",
        "gauge",
        &[(base.clone(), seconds)],
    );
    // A failed anchor stage still tells which chains hold a receipt (1) and which failed (0);
    // another failure, which chains hold a receipt.
    if let Err(e) = result {
        let chains: Vec<(&str, f64)> = match e.downcast_ref::<AnchorFailures>() {
            Some(f) => f
                .anchored
                .iter()
                .map(|c| (c.as_str(), 1.0))
                .chain(f.failures.iter().map(|(c, _)| (c.as_str(), 0.0)))
                .collect(),
            None => carried.anchored.iter().map(|c| (c.as_str(), 1.0)).collect(),
        };
        if !chains.is_empty() {
            let lines: Vec<(String, f64)> = chains
                .into_iter()
                .map(|(c, v)| (format!("{base},chain=\"{}\"", label(c)), v))
                .collect();
            metric("proofmark_job_anchored", ANCHORED_HELP, "gauge", &lines);
        }
    }
    // The rows by outcome and the rejections by reason: of a run that committed (or found
    // the batch committed), or of a batch whose every row was rejected.
    let rows_and_reasons = match result {
        Ok(s) => Some((
            s.rows_read.zip(s.rows_accepted).zip(s.rows_rejected),
            &s.rejects_by_reason,
        )),
        Err(e) => all_rejected(e).map(|(read, reasons)| (Some(((read, 0), read)), reasons)),
    };
    if let Some((rows, reasons)) = rows_and_reasons {
        if let Some(((read, accepted), rejected)) = rows {
            metric(
                "proofmark_job_rows",
                ROWS_HELP,
                "gauge",
                &[
                    (format!("{base},outcome=\"read\""), read as f64),
                    (format!("{base},outcome=\"accepted\""), accepted as f64),
                    (format!("{base},outcome=\"rejected\""), rejected as f64),
                ],
            );
        }
        let reasons: Vec<(String, f64)> = reasons
            .iter()
            .map(|(r, n)| (format!("{base},reason=\"{}\"", label(r)), *n as f64))
            .collect();
        metric(
            "proofmark_job_rejected_rows",
            REJECTED_ROWS_HELP,
            "gauge",
            &reasons,
        );
    }
    // A run stopped by --until before the batch was complete did not complete the job either.
    let last_success = match result {
        Ok(s) if s.complete => Some(now),
        _ => carried.last_success,
    };
    if let Some(when) = last_success {
        metric(
            "proofmark_job_last_success_timestamp_seconds",
            "When a run of the job last left its batch complete (Unix time).",
            "gauge",
            &[(format!("job=\"{j}\""), when)],
        );
    }
    if let Ok(s) = result {
        let stages: Vec<(String, f64)> = s
            .stage_seconds
            .iter()
            .map(|t| (format!("{base},stage=\"{}\"", t.stage), t.seconds))
            .collect();
        metric(
            "proofmark_job_stage_duration_seconds",
            "Wall time of each stage run by the last run (stages done earlier are absent).",
            "gauge",
            &stages,
        );
        metric(
            "proofmark_job_records_per_second",
            "Rows read per second over plan, build and commit of the last run, when it did \
             all three.",
            "gauge",
            &s.records_per_second
                .map(|r| vec![(base.clone(), r)])
                .unwrap_or_default(),
        );
        let anchors: Vec<(String, f64)> = s
            .receipts
            .iter()
            .filter_map(|r| r.get("chain").and_then(|c| c.as_str()))
            .map(|c| (format!("{base},chain=\"{}\"", label(c)), 1.0))
            .collect();
        metric("proofmark_job_anchored", ANCHORED_HELP, "gauge", &anchors);
    }
    o
}

/// The help line of `proofmark_job_rows`.
const ROWS_HELP: &str = "Rows of the batch by outcome.";

/// The help line of `proofmark_job_anchored`.
const ANCHORED_HELP: &str =
    "1 for each chain that holds a final receipt of the batch (0: anchoring failed).";

/// The help line of `proofmark_job_rejected_rows`.
const REJECTED_ROWS_HELP: &str = "Rejections of the batch's rows by reason code (a row \
     rejected for several reasons counts under each; proofmark_job_rows{outcome=\"rejected\"} \
     counts rows).";

/// The chains the anchor stage could not anchor on, after trying every chain of the job.
#[derive(Debug)]
struct AnchorFailures {
    /// The chains that hold a receipt of the batch.
    anchored: Vec<String>,
    /// Each chain that failed, with its error.
    failures: Vec<(String, anyhow::Error)>,
}

impl std::fmt::Display for AnchorFailures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let failed: Vec<&str> = self.failures.iter().map(|(c, _)| c.as_str()).collect();
        write!(f, "not anchored on {}", failed.join(", "))?;
        if !self.anchored.is_empty() {
            write!(f, " (anchored on {})", self.anchored.join(", "))?;
        }
        for (chain, e) in &self.failures {
            write!(f, "; {}", super::anchor::on_chain(chain, e))?;
        }
        Ok(())
    }
}

impl std::error::Error for AnchorFailures {}

/// Whether an earlier run committed the batch, anchored it on every chain of the job, and
/// published it.
async fn finished_earlier(
    store: &Store,
    batch_id: &str,
    job: &Job,
) -> anyhow::Result<(bool, bool, bool)> {
    let committed = store
        .head(&proofmark_anchor::layout::manifest_path(batch_id))
        .await?
        .is_some();
    let mut anchored = true;
    for chain in &job.chains {
        let receipt = proofmark_anchor::chain::receipt_path(batch_id, chain);
        anchored &= store.head(&receipt).await?.is_some();
    }
    // A run killed after the code index's catalog named the batch and before it recorded the
    // stage published it too (the next full run records the stage).
    let published = stage_done(store, batch_id, "publish").await?.is_some()
        || job.index.as_deref().is_some_and(|dir| {
            proofmark_verifier::index::Catalog::load(dir)
                .ok()
                .and_then(|catalog| catalog.batch(batch_id).map(|b| b.records.is_some()))
                .unwrap_or(false)
        });
    Ok((committed, anchored, published))
}

async fn run_stages(
    job: &Job,
    store: &Store,
    batch_id: &str,
    date: &str,
    until: Option<Stage>,
    global: &GlobalArgs,
) -> anyhow::Result<Summary> {
    // What earlier runs finished, for the outcome of a run stopped by --until (looked up
    // only then).
    let (committed_before, anchored_before, published_before) = match until {
        Some(_) => finished_earlier(store, batch_id, job).await?,
        None => (false, false, false),
    };
    let complete_when = |anchored: bool| anchored && (published_before || job.index.is_none());
    let until_outcome = |stage: Stage, committed: bool, anchored: bool| {
        let state = if complete_when(anchored) {
            "the batch was completed earlier"
        } else if anchored {
            "the batch is anchored, NOT published"
        } else if committed {
            "the batch is committed, NOT anchored"
        } else {
            "the batch is NOT complete"
        };
        format!("stopped after {} as asked (--until): {state}", stage.name())
    };
    let stopped = |stage: Stage, stage_seconds: Vec<StageTime>, warnings: &[String]| Summary {
        job: job.name.clone(),
        batch_id: batch_id.to_owned(),
        store: job.store.clone(),
        outcome: until_outcome(stage, committed_before, anchored_before),
        complete: complete_when(anchored_before),
        rows_read: None,
        rows_accepted: None,
        rows_rejected: None,
        rejects_by_reason: BTreeMap::new(),
        root: None,
        manifest_digest: None,
        receipts: Vec::new(),
        published: None,
        stage_seconds,
        records_per_second: None,
        warnings: warnings.to_vec(),
    };
    let mut stage_seconds: Vec<StageTime> = Vec::new();
    let mut all_done_before = true;
    let say = |msg: &str| {
        if !global.quiet {
            errln!("{msg}");
        }
    };

    // The log's signing key, checked before any work: a wrong or missing key file would
    // otherwise fail the anchor stage after the commit.
    proofmark_anchor::chain::check_ledger_key(store, &job.chains_file, &job.chains)
        .await
        .context("anchor stage (checked before the plan)")?;
    // So are the sending keys of the `evm` chains the batch is not anchored on yet, when this
    // run is to anchor (a keystore's password variable unset, or wrong, would fail only after
    // the commit).
    let anchors = !matches!(until, Some(Stage::Plan | Stage::Build | Stage::Commit));
    for name in job.chains.iter().filter(|_| anchors) {
        let ChainConfig::Evm(config) = job.chains_file.get(name)? else {
            continue;
        };
        if super::anchor::stored_receipt(store, batch_id, name)
            .await
            .is_some()
        {
            continue;
        }
        let chain = name.clone();
        tokio::task::spawn_blocking(move || config.load_key(&chain))
            .await
            .context("loading a signing key")?
            .context("anchor stage (checked before the plan)")?;
    }

    // plan
    let t = Instant::now();
    let opts = PlanOptions {
        batch_id: batch_id.to_owned(),
        batch_date: date.to_owned(),
        suite: job.suite,
        input_mode: job.input_mode,
    };
    let mut warnings = Vec::new();
    if let Some(rec) = stage_done(store, batch_id, "plan").await? {
        say(&format!("plan: done earlier ({})", rec.finished_at));
        // The job file may have changed since: its settings must still be the plan's, and
        // changed inputs are told (the batch keeps what its plan froze).
        if let Some(plan) = load_plan(store, batch_id).await.context("plan stage")? {
            let differences = plan_differences(&plan, &job.inputs, &opts).await;
            if !differences.settings.is_empty() {
                return Err(anyhow::Error::new(IngestError::PlanFrozen {
                    batch_id: batch_id.to_owned(),
                    differences: differences.settings,
                }))
                .context("plan stage: the job file changed since the batch was planned");
            }
            if !differences.inputs.is_empty() {
                let warning = format!(
                    "the job's inputs differ from the frozen plan of batch {batch_id}, which \
                     the batch keeps (a new date makes a new batch): {}",
                    differences.inputs.join("; ")
                );
                if super::json_logs() {
                    tracing::warn!(target: super::MESSAGE_TARGET, batch_id, "{warning}");
                } else {
                    errln!("warning: {warning}");
                }
                warnings.push(warning);
            }
        }
    } else {
        all_done_before = false;
        say(&format!(
            "plan: freezing the inputs of batch {batch_id} ({} pattern(s))",
            job.inputs.len()
        ));
        let pb = bar(global, 0, "bytes");
        pb.set_message("plan");
        let empty_inputs = std::sync::Mutex::new(Vec::new());
        let progress = |p: proofmark_ingest::PlanProgress| match p {
            proofmark_ingest::PlanProgress::Resolved { total_bytes, .. } => {
                pb.set_length(total_bytes)
            }
            proofmark_ingest::PlanProgress::Digested { bytes, .. } => pb.inc(bytes),
            proofmark_ingest::PlanProgress::NoRows { url } => {
                if let Ok(mut empty) = empty_inputs.lock() {
                    empty.push(url);
                }
            }
            _ => {}
        };
        let plan = make_plan(store, &job.inputs, &opts, &progress)
            .await
            .context("plan stage")?;
        pb.finish_and_clear();
        // Inputs with no rows are planned (an empty delivery is legal), and told.
        for url in empty_inputs.into_inner().unwrap_or_default() {
            let warning = super::pipeline::no_rows_warning(&url);
            super::warn(batch_id, &warning);
            warnings.push(warning);
        }
        let s = record_stage(store, batch_id, "plan", t, serde_json::json!({"files": plan.files.len(), "segments": plan.segments.len(), "rows": plan.total_rows})).await?;
        stage_seconds.push(StageTime {
            stage: "plan",
            seconds: s,
        });
    }
    if until == Some(Stage::Plan) {
        return Ok(stopped(Stage::Plan, stage_seconds, &warnings));
    }

    // build
    let t = Instant::now();
    if let Some(rec) = stage_done(store, batch_id, "build").await? {
        say(&format!("build: done earlier ({})", rec.finished_at));
    } else {
        all_done_before = false;
        say("build: validating, hashing and building segment trees");
        let pb = bar(global, 0, "rows");
        pb.set_message("build");
        let progress = |p: proofmark_anchor::BuildProgress| {
            pb.set_length(p.rows_total);
            pb.set_position(p.rows_done);
        };
        let report = build_batch(store, batch_id, &BuildOptions::default(), &progress)
            .await
            .context("build stage")?;
        pb.finish_and_clear();
        say(&format!(
            "build: segments {}",
            super::pipeline::segment_counts(&report)
        ));
        let s = record_stage(store, batch_id, "build", t, serde_json::json!({"segments_built": report.segments_built, "segments_skipped": report.segments_skipped})).await?;
        stage_seconds.push(StageTime {
            stage: "build",
            seconds: s,
        });
    }
    if until == Some(Stage::Build) {
        return Ok(stopped(Stage::Build, stage_seconds, &warnings));
    }

    // commit
    let t = Instant::now();
    let opts = CommitOptions {
        memory_budget_bytes: job.memory_budget_bytes,
        ..CommitOptions::default()
    };
    say("commit: batch tree, sorted index, rejects and manifest");
    let commit = commit_batch(store, batch_id, &opts, &|_| {})
        .await
        .context("commit stage")?;
    // Summed from the segment summaries, also when an earlier run committed
    // (it may have been killed before it recorded the stage).
    let reasons = commit.reasons.clone();
    if commit.already_committed {
        say("commit: done earlier");
    } else {
        all_done_before = false;
        let detail = serde_json::json!({"root": commit.manifest.root, "reasons": commit.reasons});
        let s = record_stage(store, batch_id, "commit", t, detail).await?;
        stage_seconds.push(StageTime {
            stage: "commit",
            seconds: s,
        });
    }
    // A run stopped after the commit still reports the commit's figures.
    let with_commit = |mut summary: Summary| {
        let m = &commit.manifest;
        summary.rows_read = Some(m.rows_read);
        summary.rows_accepted = Some(m.rows_accepted);
        summary.rows_rejected = Some(m.rows_rejected);
        summary.rejects_by_reason = reasons.clone();
        summary.root = Some(m.root.clone());
        summary.manifest_digest = Some(commit.manifest_digest.clone());
        summary.records_per_second = end_to_end_rate(&summary.stage_seconds, m.rows_read);
        summary
    };
    if until == Some(Stage::Commit) {
        let mut summary = with_commit(stopped(Stage::Commit, stage_seconds, &warnings));
        summary.outcome = until_outcome(Stage::Commit, true, anchored_before);
        return Ok(summary);
    }

    // anchor
    let t = Instant::now();
    let mut receipts = Vec::new();
    let mut anchored_now = false;
    say(&format!("anchor: on {}", job.chains.join(", ")));
    // Every chain is tried: one that fails does not keep the batch off the others.
    let mut failures = Vec::new();
    for chain in &job.chains {
        match anchor_batch(store, batch_id, chain, &job.chains_file).await {
            Ok(outcome) => {
                say(&format!(
                    "anchor: {chain}: {}",
                    super::anchor::outcome_summary(&outcome)
                ));
                anchored_now |= outcome.anchored_now;
                receipts.push(outcome.receipt);
            }
            Err(e) => {
                // A receipt stored by an earlier run stands when its chain cannot be reached
                // to re-check it: a warning, not a failure (`audit batch --chain` re-checks).
                if super::anchor::is_unreachable(&e)
                    && let Some(receipt) =
                        super::anchor::stored_receipt(store, batch_id, chain).await
                {
                    let warning = super::anchor::not_rechecked(chain, &anyhow::Error::new(e));
                    if super::json_logs() {
                        tracing::warn!(target: super::MESSAGE_TARGET, batch_id, "{warning}");
                    } else {
                        errln!("warning: {warning}");
                    }
                    warnings.push(warning);
                    receipts.push(receipt);
                    continue;
                }
                let e = anyhow::Error::new(e);
                say(&format!(
                    "anchor: {chain}: FAILED: {}",
                    super::anchor::without_chain(chain, &e)
                ));
                failures.push((chain.clone(), e));
            }
        }
    }
    if !failures.is_empty() {
        let class = failures
            .first()
            .map_or(ExitClass::Chain, |(_, e)| classify(e));
        let anchored = receipts
            .iter()
            .filter_map(|r| r.get("chain").and_then(|c| c.as_str()).map(str::to_owned))
            .collect();
        return Err(anyhow::Error::new(AnchorFailures { anchored, failures })
            .context(Classified(class, "anchor stage")));
    }
    if anchored_now {
        all_done_before = false;
        let s = record_stage(
            store,
            batch_id,
            "anchor",
            t,
            serde_json::json!({"chains": job.chains}),
        )
        .await?;
        stage_seconds.push(StageTime {
            stage: "anchor",
            seconds: s,
        });
    }

    if until == Some(Stage::Anchor) && job.index.is_some() {
        let mut summary = with_commit(stopped(Stage::Anchor, stage_seconds, &warnings));
        summary.outcome = until_outcome(Stage::Anchor, true, true);
        summary.complete = complete_when(true);
        summary.receipts = receipts;
        return Ok(summary);
    }

    // publish
    let mut published = None;
    if let Some(index) = &job.index {
        let t = Instant::now();
        say(&format!("publish: into the code index {}", index.display()));
        let outcome = proofmark_verifier::publish(store, batch_id, index)
            .await
            .with_context(|| format!("publish stage: index {}", index.display()))?;
        if outcome.published_now {
            all_done_before = false;
            let s = record_stage(
                store,
                batch_id,
                "publish",
                t,
                serde_json::json!({"index": index.display().to_string(), "entries": outcome.batch.entries}),
            )
            .await?;
            stage_seconds.push(StageTime {
                stage: "publish",
                seconds: s,
            });
        } else if stage_done(store, batch_id, "publish").await?.is_none() {
            // Published by a run killed after the index's catalog named the batch and before
            // it recorded the stage: recorded now, so that the batch reads as complete.
            record_stage(
                store,
                batch_id,
                "publish",
                t,
                serde_json::json!({"index": index.display().to_string(), "entries": outcome.batch.entries, "found_in_index": true}),
            )
            .await?;
        }
        published = Some(index.display().to_string());
    }

    let m = &commit.manifest;
    let records_per_second = end_to_end_rate(&stage_seconds, m.rows_read);
    Ok(Summary {
        job: job.name.clone(),
        batch_id: batch_id.to_owned(),
        store: job.store.clone(),
        outcome: if all_done_before {
            "already complete: nothing to do"
        } else {
            "completed"
        }
        .to_owned(),
        complete: true,
        rows_read: Some(m.rows_read),
        rows_accepted: Some(m.rows_accepted),
        rows_rejected: Some(m.rows_rejected),
        rejects_by_reason: reasons,
        root: Some(m.root.clone()),
        manifest_digest: Some(commit.manifest_digest.clone()),
        receipts,
        published,
        stage_seconds,
        records_per_second,
        warnings,
    })
}

/// Rows read a second over plan, build and commit, when this run did all three.
fn end_to_end_rate(stage_seconds: &[StageTime], rows_read: u64) -> Option<f64> {
    let ran = |stage: &str| stage_seconds.iter().any(|t| t.stage == stage);
    let secs: f64 = stage_seconds
        .iter()
        .filter(|t| matches!(t.stage, "plan" | "build" | "commit"))
        .map(|t| t.seconds)
        .sum();
    (ran("plan") && ran("build") && ran("commit") && secs > 0.0).then(|| rows_read as f64 / secs)
}

fn print_summary(s: &Summary) {
    outln!("batch      {}  ({})", s.batch_id, s.outcome);
    outln!("store      {}", s.store);
    if let (Some(read), Some(acc), Some(rej)) = (s.rows_read, s.rows_accepted, s.rows_rejected) {
        outln!("rows       {read} read, {acc} accepted, {rej} rejected");
    }
    for (reason, n) in &s.rejects_by_reason {
        outln!("  rejected {n:>8}  {reason}");
    }
    if let Some(root) = &s.root {
        outln!("root       {root}");
    }
    if let Some(digest) = &s.manifest_digest {
        outln!("manifest   {digest}");
    }
    for r in &s.receipts {
        let chain = r.get("chain").and_then(|v| v.as_str()).unwrap_or("?");
        let tx = r.get("tx_hash").and_then(|v| v.as_str());
        match (
            r.get("log_index"),
            r.get("log_size"),
            tx,
            r.get("block_number"),
        ) {
            (Some(i), Some(n), ..) => {
                outln!("anchor     {chain}: log entry {i} of {n}, checkpoint signed")
            }
            (_, _, Some(tx), Some(block)) => {
                let id = r.get("chain_id").map(|v| v.to_string()).unwrap_or_default();
                outln!("anchor     {chain}: tx {tx} in block {block} (chain id {id})")
            }
            _ => outln!("anchor     {chain}"),
        }
    }
    if let Some(index) = &s.published {
        outln!("published  code index {index}");
    }
    for t in &s.stage_seconds {
        outln!("time       {:<7} {:.2} s", t.stage, t.seconds);
    }
    match s.records_per_second {
        Some(rate) => outln!("speed      {rate:.0} records/s (plan + build + commit)"),
        None if s.rows_read.is_some() && s.stage_seconds.iter().any(|t| t.stage == "commit") => {
            outln!("speed      - (plan or build ran earlier: no end-to-end rate)");
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_resolve_against_the_job_file() {
        assert_eq!(resolve(Path::new("jobs"), "../out/store"), "out/store");
        assert_eq!(resolve(Path::new("."), "../x"), "../x");
        assert_eq!(
            resolve(Path::new("/etc/pm"), "./in/*.parquet"),
            "/etc/pm/in/*.parquet"
        );
        assert_eq!(resolve(Path::new("jobs"), "s3://bucket/x"), "s3://bucket/x");
        assert_eq!(resolve(Path::new("jobs"), "/abs"), "/abs");
        assert_eq!(resolve(Path::new("jobs"), ".."), ".");
    }
}
