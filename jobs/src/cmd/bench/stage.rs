//! The measured stages of `proofmark bench pipeline`, each run in a child process of the
//! binary (`bench pipeline-stage`) so that each has its own peak RSS: (a) a bare decode of
//! every input row group, (b) `plan` + `build` + `commit` into a new store.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use arrow_array::cast::AsArray;
use arrow_array::types;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use proofmark_anchor::{BuildOptions, CommitOptions, build_batch, commit_batch};
use proofmark_ingest::{PlanOptions, Store, make_plan};
use proofmark_merkle::SuiteId;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::super::pipeline::InputModeArg;

/// Arguments of the internal `bench pipeline-stage`.
#[derive(Debug, clap::Args)]
pub struct StageArgs {
    /// `decode` or `pipeline`.
    #[arg(long)]
    pub stage: String,
    /// The dataset folder.
    #[arg(long)]
    pub dataset: PathBuf,
    /// The store folder (pipeline stage).
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// The batch date, the dataset's (pipeline stage).
    #[arg(long)]
    pub batch_date: Option<String>,
    /// Input mode (pipeline stage).
    #[arg(long, value_enum, default_value_t = InputModeArg::Copy)]
    pub input_mode: InputModeArg,
    /// Hash suite (pipeline stage).
    #[arg(long, default_value = "blake3")]
    pub suite: SuiteId,
    /// Where to write the stage's figures (JSON).
    #[arg(long)]
    pub out: PathBuf,
}

/// Figures of one measured stage.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StageFigures {
    /// Records processed.
    pub records: u64,
    /// Wall-clock seconds of the measured work.
    pub seconds: f64,
    /// Records per second.
    pub records_per_sec: f64,
    /// rayon threads of the stage's process.
    #[serde(default)]
    pub threads: usize,
    /// Peak resident set of the stage's process, bytes (`VmHWM`).
    pub peak_rss_bytes: u64,
    /// Seconds of `plan`, `build`, `commit` (pipeline stage only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<(String, f64)>,
    /// Peak resident set of each of `plan`, `build`, `commit`, bytes (pipeline stage only;
    /// the peak is reset between steps through `/proc/self/clear_refs`, else 0).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub step_peak_rss_bytes: Vec<(String, u64)>,
    /// Batch root (pipeline stage) or a checksum of the decoded values (decode stage): the
    /// same for every run on the same dataset (and suite).
    pub check: String,
}

/// Peak resident set size of this process in bytes, from `/proc/self/status`.
pub fn peak_rss_bytes() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Resets this process's peak resident set (`VmHWM`) to its current resident set, so that
/// the next [`peak_rss_bytes`] is the peak since now. Returns whether the kernel allowed it.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The Parquet files of a dataset's `records/` folder, sorted.
fn record_files(dataset: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let root = dataset.join("records");
    for kind in std::fs::read_dir(&root).with_context(|| format!("listing {}", root.display()))? {
        let kind = kind?.path();
        if kind.is_dir() {
            for f in std::fs::read_dir(&kind)? {
                let f = f?.path();
                if f.extension().is_some_and(|e| e == "parquet") {
                    files.push(f);
                }
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Runs the stage `args.stage` (`decode` or `pipeline`) on `args.dataset` and writes its
/// figures to `args.out` as JSON (whole or not at all). The pipeline stage needs `--store`
/// and `--batch-date`.
pub fn run_stage(args: StageArgs) -> anyhow::Result<ExitCode> {
    let figures = match args.stage.as_str() {
        "decode" => stage_decode(&args.dataset)?,
        "pipeline" => {
            let store = args.store.as_deref().context("--store is needed")?;
            let date = args.batch_date.clone().context("--batch-date is needed")?;
            stage_pipeline(&args.dataset, store, date, args.input_mode, args.suite)?
        }
        other => bail!("unknown stage {other:?}"),
    };
    crate::output::write_atomically(&args.out, &serde_json::to_vec_pretty(&figures)?)
        .with_context(|| format!("writing {}", args.out.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// (a): decode every row group of every file on the rayon pool and touch every value.
fn stage_decode(dataset: &Path) -> anyhow::Result<StageFigures> {
    let files = record_files(dataset)?;
    let started = Instant::now();
    // Each file's footer is read and parsed once, as the build does (it caches footers per
    // file): parsing it again for every row group would cost time that grows with the
    // square of the row groups and flatter the ratio on large files.
    let mut tasks = Vec::new();
    for f in &files {
        let file = std::fs::File::open(f).with_context(|| format!("opening {}", f.display()))?;
        let metadata = ArrowReaderMetadata::load(&file, Default::default())
            .with_context(|| format!("reading the footer of {}", f.display()))?;
        for rg in 0..metadata.metadata().num_row_groups() {
            tasks.push((f.clone(), metadata.clone(), rg));
        }
    }
    let results: Vec<anyhow::Result<(u64, u64)>> = tasks
        .par_iter()
        .map(|(f, metadata, rg)| {
            let file = std::fs::File::open(f)?;
            let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata.clone())
                .with_row_groups(vec![*rg])
                .with_batch_size(8192)
                .build()?;
            let mut rows = 0u64;
            let mut sum = 0u64;
            for batch in reader {
                let batch = batch?;
                rows += batch.num_rows() as u64;
                sum = sum.wrapping_add(touch_batch(&batch));
            }
            Ok((rows, sum))
        })
        .collect();
    let mut records = 0;
    let mut check = 0u64;
    for r in results {
        let (rows, sum) = r?;
        records += rows;
        check = check.wrapping_add(sum);
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(StageFigures {
        records,
        seconds,
        records_per_sec: records as f64 / seconds,
        threads: rayon::current_num_threads(),
        peak_rss_bytes: peak_rss_bytes(),
        steps: Vec::new(),
        step_peak_rss_bytes: Vec::new(),
        check: format!("{check:016x}"),
    })
}

fn touch_batch(batch: &RecordBatch) -> u64 {
    batch.columns().iter().map(touch).fold(0, u64::wrapping_add)
}

/// `sum` plus every non-null value of the primitive `array`, as integers.
fn add_values<T>(sum: u64, array: &ArrayRef) -> u64
where
    T: arrow_array::ArrowPrimitiveType,
    T::Native: Into<i64>,
{
    array
        .as_primitive::<T>()
        .iter()
        .flatten()
        .fold(sum, |s, v| s.wrapping_add(v.into() as u64))
}

/// A checksum that reads every value of `array`, cheaply: each string's length and first
/// byte, each integer, date and timestamp, list offsets, null counts; of other types only
/// the length.
fn touch(array: &ArrayRef) -> u64 {
    let mut sum = array.null_count() as u64;
    match array.data_type() {
        DataType::Utf8 => {
            for s in array.as_string::<i32>().iter().flatten() {
                sum = sum
                    .wrapping_add(s.len() as u64)
                    .wrapping_add(u64::from(s.as_bytes().first().copied().unwrap_or(0)));
            }
        }
        DataType::Int32 => sum = add_values::<types::Int32Type>(sum, array),
        DataType::Date32 => sum = add_values::<types::Date32Type>(sum, array),
        DataType::Timestamp(unit, _) => {
            sum = match unit {
                TimeUnit::Second => add_values::<types::TimestampSecondType>(sum, array),
                TimeUnit::Millisecond => add_values::<types::TimestampMillisecondType>(sum, array),
                TimeUnit::Microsecond => add_values::<types::TimestampMicrosecondType>(sum, array),
                TimeUnit::Nanosecond => add_values::<types::TimestampNanosecondType>(sum, array),
            }
        }
        DataType::List(_) => {
            let a = array.as_list::<i32>();
            sum = sum.wrapping_add(touch(a.values()));
            sum = a
                .value_offsets()
                .iter()
                .fold(sum, |s, o| s.wrapping_add(*o as u64));
        }
        DataType::Struct(_) => {
            for c in array.as_struct().columns() {
                sum = sum.wrapping_add(touch(c));
            }
        }
        _ => sum = sum.wrapping_add(array.len() as u64),
    }
    sum
}

/// Each step's own peak RSS: the overall peak is the largest, kept aside before each reset.
struct StepPeaks {
    /// The largest peak seen.
    overall: u64,
    /// Whether the peak could be reset before the step now running (else its peak
    /// includes the earlier steps' and is recorded as 0).
    per_step: bool,
    /// Each ended step's peak.
    steps: Vec<(String, u64)>,
}

impl StepPeaks {
    /// Resets the peak before the first step.
    fn start() -> Self {
        StepPeaks {
            overall: peak_rss_bytes(),
            per_step: reset_peak_rss(),
            steps: Vec::new(),
        }
    }

    /// Records the peak of `step`, which just ended, and resets it for the next one when
    /// `reset` (not after the last step).
    fn end(&mut self, step: &str, reset: bool) {
        let peak = peak_rss_bytes();
        self.overall = self.overall.max(peak);
        self.steps
            .push((step.to_owned(), if self.per_step { peak } else { 0 }));
        if reset {
            self.per_step = self.per_step && reset_peak_rss();
        }
    }
}

/// (b): plan + build + commit of the dataset's records into a new store.
fn stage_pipeline(
    dataset: &Path,
    store_dir: &Path,
    batch_date: String,
    mode: InputModeArg,
    suite: SuiteId,
) -> anyhow::Result<StageFigures> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // Local stores run every operation on a blocking thread; a few are
        // plenty, and fewer threads keep fewer malloc arenas (lower RSS).
        .max_blocking_threads(16)
        .enable_all()
        .build()?;
    let store = Store::from_url(&store_dir.display().to_string())?;
    let inputs = vec![dataset.join("records").display().to_string()];
    let opts = PlanOptions {
        batch_id: "bench".into(),
        batch_date,
        suite,
        input_mode: mode.into(),
    };
    let mut peaks = StepPeaks::start();
    let started = Instant::now();
    let plan = rt.block_on(make_plan(&store, &inputs, &opts, &|_| {}))?;
    let t_plan = started.elapsed().as_secs_f64();
    peaks.end("plan", true);
    let build = rt.block_on(build_batch(
        &store,
        "bench",
        &BuildOptions::default(),
        &|_| {},
    ))?;
    let t_build = started.elapsed().as_secs_f64() - t_plan;
    peaks.end("build", true);
    let commit = rt.block_on(commit_batch(
        &store,
        "bench",
        &CommitOptions::default(),
        &|_| {},
    ))?;
    let seconds = started.elapsed().as_secs_f64();
    peaks.end("commit", false);
    let t_commit = seconds - t_plan - t_build;
    anyhow::ensure!(
        build.rows.read == plan.total_rows,
        "build read {} of {} rows",
        build.rows.read,
        plan.total_rows
    );
    Ok(StageFigures {
        records: plan.total_rows,
        seconds,
        records_per_sec: plan.total_rows as f64 / seconds,
        threads: rayon::current_num_threads(),
        peak_rss_bytes: peaks.overall,
        step_peak_rss_bytes: peaks.steps,
        steps: vec![
            ("plan".into(), t_plan),
            ("build".into(), t_build),
            ("commit".into(), t_commit),
        ],
        check: commit.manifest.root,
    })
}
