//! What `bench pipeline` measured, on what, its summary over the runs, and how it is printed.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::StageFigures;

/// One run of (a) then (b).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunFigures {
    /// (a) bare decode.
    pub decode: StageFigures,
    /// (b) plan + build + commit.
    pub pipeline: StageFigures,
    /// (b) seconds / (a) seconds.
    pub ratio: f64,
}

/// The median and the best of the runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// Median of (a)'s seconds.
    pub decode_seconds_median: f64,
    /// Least of (a)'s seconds.
    pub decode_seconds_min: f64,
    /// Median of (b)'s seconds.
    pub pipeline_seconds_median: f64,
    /// Least of (b)'s seconds.
    pub pipeline_seconds_min: f64,
    /// Records / the median of (b)'s seconds.
    pub pipeline_records_per_sec_median: f64,
    /// Records / the least of (b)'s seconds.
    pub pipeline_records_per_sec_max: f64,
    /// Median of the runs' ratios (each run's (b) / its own (a)).
    pub ratio_median: f64,
    /// The median of (b)'s seconds / the median of (a)'s seconds.
    pub ratio_of_medians: f64,
    /// The least of (b)'s seconds / the least of (a)'s seconds (the two may come from
    /// different runs).
    pub ratio_of_mins: f64,
}

/// The machine at the start of the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostInfo {
    /// CPUs this process may run on.
    pub cpus: usize,
    /// The first `model name` of `/proc/cpuinfo` (null where unknown).
    pub cpu_model: Option<String>,
    /// The 1, 5 and 15-minute load averages of `/proc/loadavg` (empty where unknown).
    pub load_average: Vec<f64>,
}

impl HostInfo {
    pub(super) fn now() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo.lines().find_map(|l| {
            let (key, value) = l.split_once(':')?;
            (key.trim() == "model name").then(|| value.trim().to_owned())
        });
        let load_average = std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .filter_map(|v| v.parse().ok())
            .collect();
        HostInfo {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model,
            load_average,
        }
    }
}

/// The measured dataset: where it is and what it was generated with (`dataset.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// Its folder (absolute; a temporary one is gone after the run).
    pub path: PathBuf,
    /// Whether this run generated it (else it was reused from `--dir`).
    pub generated: bool,
    /// Whether it is kept after the run (`--dir`).
    pub kept: bool,
    /// Items (traceability codes).
    pub items: u64,
    /// Records of every kind.
    pub records: u64,
    /// Records with an injected defect.
    pub bad_records: u64,
    /// The bad-row rate it was generated with.
    pub bad_rate: f64,
    /// Its seed.
    pub seed: u64,
    /// Rows per Parquet row group.
    pub rows_per_group: u64,
    /// Parquet files per record kind.
    pub files_per_kind: u32,
    /// Its batch date.
    pub batch_date: String,
    /// Bytes of its Parquet record files.
    pub input_bytes: u64,
}

/// Everything `bench pipeline` measured, and on what.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PipelineFigures {
    /// `proofmark <version>`.
    pub proofmark_version: String,
    /// The commit the binary was built from (`HEAD` of its work tree, or `PROOFMARK_GIT_COMMIT`
    /// at build time); null when the build had neither. Uncommitted changes are not recorded.
    pub git_commit: Option<String>,
    /// When the run started, UTC (RFC 3339).
    pub started_at_utc: String,
    /// The machine at the start.
    pub host: HostInfo,
    /// The dataset.
    pub dataset: DatasetInfo,
    /// The folder the temporary store was made in.
    pub work_dir: PathBuf,
    /// rayon threads each stage ran with (what `--threads` gave, or rayon's default).
    pub threads: usize,
    /// Input mode of the measured plan.
    pub input_mode: String,
    /// Hash suite.
    pub suite: String,
    /// Runs of (a) and of (b) (`--repeat`).
    pub repeat: u32,
    /// Each run, in order.
    pub runs: Vec<RunFigures>,
    /// Median and best of the runs.
    pub summary: Summary,
}

/// The median of `values` (the mean of the middle two for an even count); 0 for none.
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn min(values: &[f64]) -> f64 {
    values.iter().copied().reduce(f64::min).unwrap_or(0.0)
}

/// `b / a`, 0 when `a` is not above 0.
pub(super) fn ratio(b: f64, a: f64) -> f64 {
    if a > 0.0 { b / a } else { 0.0 }
}

pub(super) fn summarize(runs: &[RunFigures]) -> Summary {
    let decode: Vec<f64> = runs.iter().map(|r| r.decode.seconds).collect();
    let pipeline: Vec<f64> = runs.iter().map(|r| r.pipeline.seconds).collect();
    let ratios: Vec<f64> = runs.iter().map(|r| r.ratio).collect();
    let records = runs.first().map_or(0, |r| r.pipeline.records) as f64;
    let per_sec = |s: f64| if s > 0.0 { records / s } else { 0.0 };
    Summary {
        decode_seconds_median: median(&decode),
        decode_seconds_min: min(&decode),
        pipeline_seconds_median: median(&pipeline),
        pipeline_seconds_min: min(&pipeline),
        pipeline_records_per_sec_median: per_sec(median(&pipeline)),
        pipeline_records_per_sec_max: per_sec(min(&pipeline)),
        ratio_median: median(&ratios),
        ratio_of_medians: ratio(median(&pipeline), median(&decode)),
        ratio_of_mins: ratio(min(&pipeline), min(&decode)),
    }
}

pub(super) fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

pub(super) fn print_figures(f: &PipelineFigures) {
    let d = &f.dataset;
    outln!(
        "records        {} ({} items, {:.1} MiB of Parquet, bad-row rate {}, seed {})",
        d.records,
        d.items,
        mib(d.input_bytes),
        d.bad_rate,
        d.seed
    );
    outln!("threads        {}", f.threads);
    for (i, run) in f.runs.iter().enumerate() {
        if f.runs.len() > 1 {
            outln!("run {}", i + 1);
        }
        print_run(f, run);
    }
    if f.runs.len() > 1 {
        let s = &f.summary;
        outln!(
            "median         (a) {:.2} s  (b) {:.2} s, {:.2} M records/s  median (b)/median (a) \
             {:.2}  median of the runs' ratios {:.2}",
            s.decode_seconds_median,
            s.pipeline_seconds_median,
            s.pipeline_records_per_sec_median / 1e6,
            s.ratio_of_medians,
            s.ratio_median
        );
        outln!(
            "best           (a) {:.2} s  (b) {:.2} s, {:.2} M records/s  best (b)/best (a) {:.2}",
            s.decode_seconds_min,
            s.pipeline_seconds_min,
            s.pipeline_records_per_sec_max / 1e6,
            s.ratio_of_mins
        );
    }
    if let Some(run) = f.runs.first() {
        outln!("root           {}", run.pipeline.check);
    }
}

fn print_run(f: &PipelineFigures, run: &RunFigures) {
    outln!(
        "(a) decode     {:>8.2} s  {:>10.2} M records/s  peak RSS {:>8.1} MiB",
        run.decode.seconds,
        run.decode.records_per_sec / 1e6,
        mib(run.decode.peak_rss_bytes)
    );
    outln!(
        "(b) pipeline   {:>8.2} s  {:>10.2} M records/s  peak RSS {:>8.1} MiB  ({}, {})",
        run.pipeline.seconds,
        run.pipeline.records_per_sec / 1e6,
        mib(run.pipeline.peak_rss_bytes),
        f.input_mode,
        f.suite
    );
    for (i, (step, secs)) in run.pipeline.steps.iter().enumerate() {
        match run.pipeline.step_peak_rss_bytes.get(i) {
            Some((_, peak)) if *peak > 0 => {
                outln!(
                    "    {step:<10} {secs:>8.2} s  peak RSS {:>8.1} MiB",
                    mib(*peak)
                );
            }
            _ => outln!("    {step:<10} {secs:>8.2} s"),
        }
    }
    outln!("ratio (b)/(a)  {:.2}", run.ratio);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_min() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[3.0]), 3.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(min(&[4.0, 1.5, 2.0]), 1.5);
        assert_eq!(min(&[]), 0.0);
    }

    #[test]
    fn a_summary_takes_the_median_and_the_best() {
        let run = |a: f64, b: f64| RunFigures {
            decode: StageFigures {
                records: 100,
                seconds: a,
                ..Default::default()
            },
            pipeline: StageFigures {
                records: 100,
                seconds: b,
                ..Default::default()
            },
            ratio: b / a,
        };
        let s = summarize(&[run(1.0, 4.0), run(2.0, 5.0), run(1.0, 6.0)]);
        assert_eq!(s.decode_seconds_median, 1.0);
        assert_eq!(s.pipeline_seconds_median, 5.0);
        assert_eq!(s.pipeline_seconds_min, 4.0);
        assert_eq!(s.pipeline_records_per_sec_max, 25.0);
        assert_eq!(s.pipeline_records_per_sec_median, 20.0);
        assert_eq!(s.ratio_median, 4.0);
        assert_eq!(s.ratio_of_medians, 5.0);
        assert_eq!(s.ratio_of_mins, 4.0);
    }
}
