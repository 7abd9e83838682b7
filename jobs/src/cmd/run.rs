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
use proofmark_anchor::chain::{ChainsFile, anchor_batch};
use proofmark_anchor::manifest::{date_utc, rfc3339_utc};
use proofmark_anchor::{BuildOptions, CommitOptions, build_batch, commit_batch};
use proofmark_ingest::{InputMode, PlanOptions, Store, make_plan};
use proofmark_merkle::SuiteId;
use serde::{Deserialize, Serialize};

use super::GlobalArgs;

/// Arguments of `proofmark run`.
#[derive(Debug, clap::Args)]
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
            let proofmark_anchor::chain::ChainConfig::Ledger { key_file, .. } = config;
            if let Some(k) = key_file.as_mut() {
                *k = PathBuf::from(resolve(base, &k.to_string_lossy()));
            }
        }
        let chains = j.chains.unwrap_or_else(|| vec!["ledger".to_owned()]);
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
    outcome: &'static str,
    rows_read: u64,
    rows_accepted: u64,
    rows_rejected: u64,
    rejects_by_reason: BTreeMap<String, u64>,
    root: String,
    manifest_digest: String,
    receipts: Vec<serde_json::Value>,
    stage_seconds: Vec<StageTime>,
    records_per_second: f64,
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
    let job = Job::load(&args.config)?;
    let date = args
        .date
        .clone()
        .or(job.date.clone())
        .unwrap_or_else(|| date_utc(SystemTime::now()));
    let batch_id = format!("{}-{date}", job.name);
    if args.dry_run {
        println!("job        {}", job.name);
        println!("batch id   {batch_id}");
        println!("store      {}", job.store);
        println!("inputs     {}", job.inputs.join("\n           "));
        println!("suite      {}", job.suite);
        println!("chains     {}", job.chains.join(", "));
        println!("stages     plan -> build -> commit -> anchor");
        return Ok(ExitCode::SUCCESS);
    }
    let store = Store::from_url(&job.store).with_context(|| format!("store {}", job.store))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let summary = rt.block_on(run_stages(&job, &store, &batch_id, &date, global))?;
    let text = serde_json::to_string_pretty(&summary)?;
    if let Some(path) = &args.summary_json {
        std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    print_summary(&summary);
    Ok(ExitCode::SUCCESS)
}

async fn run_stages(
    job: &Job,
    store: &Store,
    batch_id: &str,
    date: &str,
    global: &GlobalArgs,
) -> anyhow::Result<Summary> {
    let mut stage_seconds: Vec<StageTime> = Vec::new();
    let mut all_done_before = true;
    let say = |msg: &str| {
        if !global.quiet {
            eprintln!("{msg}");
        }
    };

    // plan
    let t = Instant::now();
    if let Some(rec) = stage_done(store, batch_id, "plan").await? {
        say(&format!("plan: done earlier ({})", rec.finished_at));
    } else {
        all_done_before = false;
        say(&format!(
            "plan: freezing the inputs of batch {batch_id} ({} pattern(s))",
            job.inputs.len()
        ));
        let opts = PlanOptions {
            batch_id: batch_id.to_owned(),
            batch_date: date.to_owned(),
            suite: job.suite,
            input_mode: job.input_mode,
        };
        let plan = make_plan(store, &job.inputs, &opts, &|_| {})
            .await
            .context("plan stage")?;
        let s = record_stage(store, batch_id, "plan", t, serde_json::json!({"files": plan.files.len(), "segments": plan.segments.len(), "rows": plan.total_rows})).await?;
        stage_seconds.push(StageTime {
            stage: "plan",
            seconds: s,
        });
    }

    // build
    let t = Instant::now();
    if let Some(rec) = stage_done(store, batch_id, "build").await? {
        say(&format!("build: done earlier ({})", rec.finished_at));
    } else {
        all_done_before = false;
        say("build: validating, hashing and building segment trees");
        let report = build_batch(store, batch_id, &BuildOptions::default(), &|_| {})
            .await
            .context("build stage")?;
        let s = record_stage(store, batch_id, "build", t, serde_json::json!({"segments_built": report.segments_built, "segments_skipped": report.segments_skipped})).await?;
        stage_seconds.push(StageTime {
            stage: "build",
            seconds: s,
        });
    }

    // commit
    let t = Instant::now();
    let opts = CommitOptions {
        memory_budget_bytes: job.memory_budget_bytes,
        ..CommitOptions::default()
    };
    let commit = commit_batch(store, batch_id, &opts, &|_| {})
        .await
        .context("commit stage")?;
    let mut reasons = commit.reasons.clone();
    if commit.already_committed {
        say("commit: done earlier");
        if let Some(rec) = stage_done(store, batch_id, "commit").await? {
            if let Some(r) = rec.detail.get("reasons") {
                reasons = serde_json::from_value(r.clone()).unwrap_or_default();
            }
        }
    } else {
        all_done_before = false;
        let detail = serde_json::json!({"root": commit.manifest.root, "reasons": commit.reasons});
        let s = record_stage(store, batch_id, "commit", t, detail).await?;
        stage_seconds.push(StageTime {
            stage: "commit",
            seconds: s,
        });
    }

    // anchor
    let t = Instant::now();
    let mut receipts = Vec::new();
    let mut anchored_now = false;
    for chain in &job.chains {
        let outcome = anchor_batch(store, batch_id, chain, &job.chains_file)
            .await
            .with_context(|| format!("anchor stage: chain {chain}"))?;
        say(&format!("anchor: {chain}: {}", outcome.summary));
        anchored_now |= outcome.anchored_now;
        receipts.push(outcome.receipt);
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

    let m = &commit.manifest;
    let build_secs: f64 = stage_seconds
        .iter()
        .filter(|t| t.stage != "anchor")
        .map(|t| t.seconds)
        .sum();
    Ok(Summary {
        job: job.name.clone(),
        batch_id: batch_id.to_owned(),
        store: job.store.clone(),
        outcome: if all_done_before {
            "already complete: nothing to do"
        } else {
            "completed"
        },
        rows_read: m.rows_read,
        rows_accepted: m.rows_accepted,
        rows_rejected: m.rows_rejected,
        rejects_by_reason: reasons,
        root: m.root.clone(),
        manifest_digest: commit.manifest_digest.clone(),
        receipts,
        stage_seconds,
        records_per_second: if build_secs > 0.0 {
            m.rows_read as f64 / build_secs
        } else {
            0.0
        },
    })
}

fn print_summary(s: &Summary) {
    println!("batch      {}  ({})", s.batch_id, s.outcome);
    println!("store      {}", s.store);
    println!(
        "rows       {} read, {} accepted, {} rejected",
        s.rows_read, s.rows_accepted, s.rows_rejected
    );
    for (reason, n) in &s.rejects_by_reason {
        println!("  rejected {n:>8}  {reason}");
    }
    println!("root       {}", s.root);
    println!("manifest   {}", s.manifest_digest);
    for r in &s.receipts {
        let chain = r.get("chain").and_then(|v| v.as_str()).unwrap_or("?");
        match (r.get("log_index"), r.get("log_size")) {
            (Some(i), Some(n)) => {
                println!("anchor     {chain}: log entry {i} of {n}, checkpoint signed")
            }
            _ => println!("anchor     {chain}"),
        }
    }
    for t in &s.stage_seconds {
        println!("time       {:<7} {:.2} s", t.stage, t.seconds);
    }
    if s.records_per_second > 0.0 {
        println!(
            "speed      {:.0} records/s (plan + build + commit)",
            s.records_per_second
        );
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
