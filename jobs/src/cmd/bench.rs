//! `proofmark bench`: end-to-end pipeline throughput beside a bare decode
//! baseline.
//!
//! `bench pipeline` generates (or reuses) a dataset, then runs two measured
//! stages, each in a child process of this binary so that each has its own
//! peak RSS (`VmHWM`): (a) a bare Arrow decode of every input row group that
//! touches every value, with the same thread count; (b) `plan` + `build` +
//! `commit` into a temporary store. With `--repeat N` it runs (a) and (b) N
//! times, alternated. It prints records/s of both, the ratio (b)/(a) in time,
//! and the peaks of each run, their median and best, and can write them as JSON
//! together with what the run was measured on (version, host, dataset).
//!
//! The dataset is generated in a child process too, so that SIGINT or SIGTERM
//! only ever meets a child: the child is killed and the temporary store and the
//! temporary dataset folder are removed before the command ends. A `--dir`
//! dataset is generated in a temporary folder beside `--dir` (same parent) and
//! renamed to `--dir` when finished, so an interrupted or failed generation
//! removes only its own folder and never touches what `--dir` holds (or what
//! another run generates there).

mod children;
mod figures;
mod stage;

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Instant, SystemTime};

use anyhow::Context;
use proofmark_datasets::{DatasetPlan, DatasetSummary, GenerateOptions};
use proofmark_ingest::InputMode;
use proofmark_merkle::SuiteId;

pub use figures::{DatasetInfo, HostInfo, PipelineFigures, RunFigures};
pub use stage::{StageArgs, StageFigures};

use children::{catch_signals, check_interrupted, child_command, child_stage, run_child};
use figures::{print_figures, ratio, summarize};

use super::GlobalArgs;
use super::pipeline::InputModeArg;
use crate::{exit, output};

/// Benchmarks.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// End-to-end pipeline throughput (plan + build + commit) against a bare Parquet decode
    /// of the same files, with the same --threads; prints records/s, the ratio and peak RSS.
    Pipeline(PipelineArgs),
    /// One measured stage of `bench pipeline`, run in a child process (internal).
    #[command(hide = true)]
    PipelineStage(StageArgs),
}

/// Default of `--records`.
const DEFAULT_RECORDS: u64 = 1_000_000;
/// Default of `--bad-rate`.
const DEFAULT_BAD_RATE: f64 = 0.01;
/// Default of `--seed` (the generator's).
const DEFAULT_SEED: u64 = 1;

/// Arguments of `proofmark bench pipeline`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
With --dir DIR holding a dataset (DIR/dataset.json), that dataset is measured, and a \
--records, --bad-rate or --seed that would have generated another one is refused (exit 3). \
A dataset for DIR is generated in a temporary folder beside it and renamed to DIR when \
finished. SIGINT or SIGTERM stops the run (exit 2) and removes what it made: the temporary \
store and the temporary dataset folder; a second signal while it removes them is ignored. \
benches/README.md documents every field of --json.")]
pub struct PipelineArgs {
    /// Records to generate, at least 1 (about N/5 items: each item yields about five
    /// records) [default: 1000000].
    #[arg(long, value_name = "N", value_parser = parse_records)]
    pub records: Option<u64>,
    /// Dataset folder: reused if it holds a dataset (`dataset.json`), else generated there
    /// and kept (missing or empty; its parent folder must exist) [default: a temporary
    /// folder, deleted afterwards].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Write the figures to this file as JSON (its folder must exist).
    #[arg(long, value_name = "OUT")]
    pub json: Option<PathBuf>,
    /// Share of generated rows, from 0 to 1, with an injected defect (they end in the
    /// rejects) [default: 0.01].
    #[arg(long, value_name = "R", value_parser = super::datasets::parse_rate, allow_negative_numbers = true)]
    pub bad_rate: Option<f64>,
    /// Seed of the generated dataset [default: 1].
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Runs of (a) and of (b), alternated (a, b, a, b, ...); the figures of each run are
    /// printed with their median and best.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,
    /// Input mode of the measured plan (`copy` copies the inputs into the store first).
    #[arg(long, value_enum, value_name = "MODE", default_value_t = InputModeArg::Copy)]
    pub input_mode: InputModeArg,
    /// Hash suite of the measured batch.
    #[arg(long, value_name = "SUITE", default_value = "blake3")]
    pub suite: SuiteId,
    /// Existing folder for the temporary store [default: the system's temporary folder].
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
}

fn parse_records(text: &str) -> Result<u64, String> {
    let n: u64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number"))?;
    if n == 0 {
        return Err("the record count must be at least 1".into());
    }
    Ok(n)
}

/// Runs a `bench` subcommand.
pub fn run(cmd: BenchCommand, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Pipeline(args) => run_pipeline(args, global),
        BenchCommand::PipelineStage(args) => stage::run_stage(args),
    }
}

/// Checks the arguments that name places, before any work: a mistyped folder is told now,
/// not after the dataset is generated.
fn check_places(args: &PipelineArgs) -> anyhow::Result<()> {
    if let Some(dir) = &args.work_dir
        && !dir.is_dir()
    {
        return Err(exit::input_error(anyhow::anyhow!(
            "--work-dir {}: no such folder",
            dir.display()
        )));
    }
    if let Some(out) = &args.json {
        output::check_output_folder("--json", out).map_err(exit::input_error)?;
    }
    if let Some(dir) = &args.dir {
        if !dir.exists() {
            output::check_output_folder("--dir", dir).map_err(exit::input_error)?;
        } else if !dir.is_dir() {
            return Err(exit::input_error(anyhow::anyhow!(
                "--dir {}: not a folder",
                dir.display()
            )));
        }
    }
    Ok(())
}

/// The generator's options for about `records` records (the item count scaled from a first
/// estimate by the planned row count).
fn generate_options(
    records: u64,
    bad_rate: f64,
    seed: u64,
    dir: &Path,
) -> anyhow::Result<GenerateOptions> {
    let opts = |items| {
        GenerateOptions::new(items, dir)
            .with_bad_rate(bad_rate)
            .with_seed(seed)
    };
    let mut items = (records / 5).max(1);
    let rows = DatasetPlan::try_new(&opts(items))?.total_rows();
    if rows > 0 {
        items = ((items as f64) * (records as f64) / (rows as f64))
            .round()
            .max(1.0) as u64;
    }
    let options = opts(items);
    options.validate()?;
    Ok(options)
}

/// What of `args` disagrees with the reused dataset `summary`: one line per option.
fn conflicts(args: &PipelineArgs, summary: &DatasetSummary, dir: &Path) -> Vec<String> {
    let have = &summary.arguments;
    let mut out = Vec::new();
    if let Some(seed) = args.seed
        && seed != have.seed
    {
        out.push(format!(
            "--seed {seed}: the dataset's seed is {}",
            have.seed
        ));
    }
    if let Some(rate) = args.bad_rate
        && rate != have.bad_rate
    {
        out.push(format!(
            "--bad-rate {rate}: the dataset's bad-row rate is {}",
            have.bad_rate
        ));
    }
    if let Some(records) = args.records {
        let seed = args.seed.unwrap_or(have.seed);
        let rate = args.bad_rate.unwrap_or(have.bad_rate);
        match generate_options(records, rate, seed, dir) {
            Ok(o) if o.items == have.items => {}
            Ok(o) => out.push(format!(
                "--records {records} would be {} items, the dataset has {} ({} records)",
                o.items, have.items, summary.rows
            )),
            Err(e) => out.push(format!("--records {records}: {e}")),
        }
    }
    out
}

/// Generates the dataset of `opts` in a child process (`datasets generate`).
fn generate_dataset(global: &GlobalArgs, opts: &GenerateOptions) -> anyhow::Result<DatasetSummary> {
    errln!(
        "generating {} items in {}",
        opts.items,
        opts.out_dir.display()
    );
    let started = Instant::now();
    let mut cmd = child_command(global)?;
    cmd.args(["datasets", "generate", "--items"])
        .arg(opts.items.to_string())
        .arg("--seed")
        .arg(opts.seed.to_string())
        .arg("--bad-rate")
        .arg(opts.bad_rate.to_string())
        .arg("--out")
        .arg(&opts.out_dir)
        .stdout(Stdio::null());
    run_child(cmd, "dataset generation")?;
    let summary = read_summary(&opts.out_dir)?;
    errln!(
        "generated {} records in {:.1} s",
        summary.rows,
        started.elapsed().as_secs_f64()
    );
    Ok(summary)
}

/// Whether the folder `dir` has no entries.
fn is_empty_dir(dir: &Path) -> anyhow::Result<bool> {
    Ok(std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .next()
        .is_none())
}

fn read_summary(dir: &Path) -> anyhow::Result<DatasetSummary> {
    let path = dir.join(proofmark_datasets::DESCRIPTION_PATH);
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

fn run_pipeline(args: PipelineArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started_at_utc = proofmark_anchor::manifest::rfc3339_utc(SystemTime::now());
    let host = HostInfo::now();
    check_places(&args)?;
    catch_signals()?;

    let temp_dataset = match &args.dir {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("proofmark-bench-data-")
                .tempdir()
                .context("creating a temporary dataset folder")?,
        ),
    };
    let (dir, kept) = match (&args.dir, &temp_dataset) {
        (Some(d), _) => (d.clone(), true),
        (None, t) => (
            t.as_ref()
                .map_or_else(PathBuf::new, |t| t.path().to_owned()),
            false,
        ),
    };
    let reused = dir.join(proofmark_datasets::DESCRIPTION_PATH).exists();
    let summary = if reused {
        let s = read_summary(&dir)?;
        let conflicts = conflicts(&args, &s, &dir);
        if !conflicts.is_empty() {
            return Err(exit::input_error(anyhow::anyhow!(
                "the dataset in {} was generated otherwise ({}): leave those options out to \
                 measure it, or give another --dir",
                dir.display(),
                conflicts.join("; ")
            )));
        }
        errln!(
            "reusing the dataset in {} ({} records, {} items, bad-row rate {}, seed {})",
            dir.display(),
            s.rows,
            s.items,
            s.arguments.bad_rate,
            s.arguments.seed
        );
        s
    } else {
        if kept && dir.exists() && !is_empty_dir(&dir)? {
            return Err(exit::input_error(anyhow::anyhow!(
                "--dir {}: holds files but no {} (a dataset that did not finish?): remove it \
                 or give another --dir",
                dir.display(),
                proofmark_datasets::DESCRIPTION_PATH
            )));
        }
        // A kept dataset is generated beside `--dir` and renamed to it when finished; the
        // temporary folder (and only it) goes when the generation fails or is interrupted.
        let beside = if kept {
            let t = tempfile::Builder::new()
                .prefix(".proofmark-bench-data-")
                .tempdir_in(output::parent_folder(&dir))
                .with_context(|| format!("creating a temporary folder beside {}", dir.display()))?;
            Some(t)
        } else {
            None
        };
        let out = beside
            .as_ref()
            .map_or_else(|| dir.clone(), |t| t.path().to_owned());
        let opts = generate_options(
            args.records.unwrap_or(DEFAULT_RECORDS),
            args.bad_rate.unwrap_or(DEFAULT_BAD_RATE),
            args.seed.unwrap_or(DEFAULT_SEED),
            &out,
        )
        .map_err(exit::input_error)?;
        let s = generate_dataset(global, &opts)?;
        if let Some(t) = beside {
            // On failure `t` is dropped: the generated folder is removed.
            std::fs::rename(t.path(), &dir).with_context(|| {
                format!(
                    "moving the generated dataset from {} to {} (did another run make {} \
                     meanwhile?)",
                    out.display(),
                    dir.display(),
                    dir.display()
                )
            })?;
            let _ = t.keep();
        }
        s
    };

    let work_parent = match &args.work_dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir(),
    };
    let work = tempfile::Builder::new()
        .prefix("proofmark-bench-")
        .tempdir_in(&work_parent)
        .with_context(|| {
            format!(
                "creating the benchmark's temporary store in {}",
                work_parent.display()
            )
        })?;

    let mut runs = Vec::new();
    for i in 0..args.repeat {
        let suffix = if args.repeat > 1 {
            format!(" (run {} of {})", i + 1, args.repeat)
        } else {
            String::new()
        };
        let decode = child_stage(global, "decode", &dir, None, &args, work.path(), &suffix)?;
        let store = work.path().join(format!("store-{i}"));
        let pipeline = child_stage(
            global,
            "pipeline",
            &dir,
            Some((&store, &summary.arguments.date)),
            &args,
            work.path(),
            &suffix,
        )?;
        // Each run gets a new store; the last one's room is given back now.
        let _ = std::fs::remove_dir_all(&store);
        runs.push(RunFigures {
            ratio: ratio(pipeline.seconds, decode.seconds),
            decode,
            pipeline,
        });
    }
    if runs
        .iter()
        .any(|r| r.pipeline.check != runs[0].pipeline.check)
    {
        errln!("warning: the runs' batch roots differ: the pipeline is not deterministic");
    }
    // The temporary folders go now, so that a signal during their removal is told below.
    work.close()
        .with_context(|| format!("removing the temporary store in {}", work_parent.display()))?;
    if let Some(t) = temp_dataset {
        t.close().context("removing the temporary dataset folder")?;
    }
    check_interrupted("after the runs")?;

    let threads = runs
        .first()
        .map(|r| r.decode.threads)
        .filter(|&t| t > 0)
        .unwrap_or_else(rayon::current_num_threads);
    let figures = PipelineFigures {
        proofmark_version: format!("proofmark {}", env!("CARGO_PKG_VERSION")),
        git_commit: option_env!("PROOFMARK_GIT_COMMIT").map(str::to_owned),
        started_at_utc,
        host,
        dataset: DatasetInfo {
            path: absolute(&dir),
            generated: !reused,
            kept,
            items: summary.items,
            records: summary.rows,
            bad_records: summary.bad_rows,
            bad_rate: summary.arguments.bad_rate,
            seed: summary.arguments.seed,
            rows_per_group: summary.arguments.rows_per_group,
            files_per_kind: summary.arguments.files_per_kind,
            batch_date: summary.arguments.date.clone(),
            input_bytes: summary.bytes,
        },
        work_dir: absolute(&work_parent),
        threads,
        input_mode: InputMode::from(args.input_mode).name().into(),
        suite: args.suite.to_string(),
        repeat: args.repeat,
        summary: summarize(&runs),
        runs,
    };
    print_figures(&figures);
    if let Some(out) = &args.json {
        check_interrupted("before writing --json")?;
        let text = serde_json::to_string_pretty(&figures)?;
        output::write_atomically(out, (text + "\n").as_bytes())
            .with_context(|| format!("writing {}", out.display()))?;
    }
    check_interrupted("at the end")?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_checked() {
        // The bad-row rate is `datasets generate`'s, tested there.
        assert!(parse_records("0").is_err());
        assert!(parse_records("-1").is_err());
        assert_eq!(parse_records("8"), Ok(8));
    }
}
