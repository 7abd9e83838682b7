//! `proofmark datasets`: synthetic datasets.
//!
//! `generate` writes a deterministic dataset of item records (see the
//! `proofmark-datasets` crate): Parquet records per kind, the ground truth
//! of injected defects, the items' PINs and a description.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use proofmark_datasets::{DatasetPlan, DatasetSummary, GenerateOptions, parse_date};

use super::GlobalArgs;

/// Dataset tools.
#[derive(Debug, clap::Subcommand)]
pub enum DatasetsCommand {
    /// Generate a synthetic dataset: Parquet records of every kind, the ground
    /// truth of injected defects, the items' scratch-off PINs.
    ///
    /// Items are produced in lots of a few hundred by a few thousand brands
    /// (popular ones far more often), inspected, declared at customs,
    /// labelled in a bonded warehouse and shipped; every event is at or
    /// before the end of the batch date. The same arguments give
    /// byte-identical files on any machine and with any --threads.
    ///
    /// Layout of DIR: records/<kind>/part-NNNNN.parquet (production,
    /// customs, logistics, inspection), truth/defects.jsonl (one JSON object
    /// per injected defect: file, row, record_id, reason, column),
    /// secrets/pins.csv (code,pin), orgs.csv (org_id,name: the names of the
    /// organisations that provide records) and dataset.json (arguments and
    /// counts).
    #[command(verbatim_doc_comment)]
    Generate(GenerateArgs),
}

/// Arguments of `proofmark datasets generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Number of items (traceability codes). Each item has one production
    /// record and two to four logistics events; each lot of about 250 items
    /// adds a customs declaration and one to five inspections.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=proofmark_datasets::MAX_ITEMS))]
    pub items: u64,
    /// Output directory, created if missing. It must not hold a dataset
    /// already (see --force).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Seed of every random choice; the same seed and arguments give the
    /// same bytes.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Share of rows, from 0 to 1, that carry exactly one injected defect
    /// (every defect class validation knows, in turn); each is listed in
    /// DIR/truth/defects.jsonl.
    #[arg(long, value_name = "R", default_value_t = 0.0, value_parser = parse_rate, allow_negative_numbers = true)]
    pub bad_rate: f64,
    /// Rows per Parquet row group.
    #[arg(long, value_name = "G", default_value_t = proofmark_datasets::DEFAULT_ROWS_PER_GROUP,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub rows_per_group: u64,
    /// Parquet files per record kind (records are split evenly).
    #[arg(long, value_name = "F", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(proofmark_datasets::MAX_FILES_PER_KIND)))]
    pub files_per_kind: u32,
    /// The batch date, YYYY-MM-DD: events fall in the weeks before it, none
    /// after its end.
    #[arg(long, value_name = "YYYY-MM-DD", default_value = "2026-11-24", value_parser = parse_date_arg)]
    pub date: i32,
    /// Replace the dataset already in DIR (its records/, truth/, secrets/,
    /// orgs.csv and dataset.json; nothing else is touched).
    #[arg(long)]
    pub force: bool,
}

/// Parses a bad-row rate, a number from 0 to 1 (`--bad-rate` of `datasets generate` and
/// `bench pipeline`).
pub(crate) fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!(
            "the bad-row rate must be between 0 and 1, got {text}"
        ))
    }
}

fn parse_date_arg(text: &str) -> Result<i32, String> {
    parse_date(text).map_err(|e| e.to_string())
}

/// Runs a `datasets` subcommand.
pub fn run(cmd: DatasetsCommand, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    match cmd {
        DatasetsCommand::Generate(args) => generate(&args, global),
    }
}

fn generate(args: &GenerateArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let options = GenerateOptions::new(args.items, &args.out)
        .with_seed(args.seed)
        .with_bad_rate(args.bad_rate)
        .with_rows_per_group(args.rows_per_group)
        .with_files_per_kind(args.files_per_kind)
        .with_batch_date_days(args.date)
        .with_overwrite(args.force);
    let started = Instant::now();
    // Bad options are the caller's to fix: an input error (exit 3), as clap's own are.
    let plan = DatasetPlan::try_new(&options).map_err(|e| {
        anyhow::Error::new(e).context(crate::exit::Classified(
            crate::exit::ExitClass::Input,
            "invalid dataset options",
        ))
    })?;
    let bar = progress_bar(plan.total_rows(), global.quiet);
    let summary = plan.write(|rows| bar.inc(rows)).map_err(|e| {
        // A folder that already holds a dataset is the caller's to fix (exit 3).
        let input = matches!(e, proofmark_datasets::DatasetError::OutputNotEmpty { .. });
        let e = anyhow::Error::new(e).context(format!(
            "cannot generate the dataset in {}",
            args.out.display()
        ));
        if input {
            e.context(crate::exit::Classified(
                crate::exit::ExitClass::Input,
                "the output folder is taken",
            ))
        } else {
            e
        }
    })?;
    bar.finish_and_clear();
    print_summary(&summary, args, started.elapsed(), global.quiet);
    Ok(ExitCode::SUCCESS)
}

fn progress_bar(total: u64, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} {wide_bar} {human_pos}/{human_len} records  {per_sec}  eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A byte count in binary units.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn print_summary(summary: &DatasetSummary, args: &GenerateArgs, elapsed: Duration, quiet: bool) {
    let a = &summary.arguments;
    if !quiet {
        outln!(
            "dataset {}: {} items in {} lots, seed {}, date {}, bad rate {}",
            args.out.display(),
            thousands(summary.items),
            thousands(summary.lots),
            a.seed,
            a.date,
            a.bad_rate
        );
    }
    outln!(
        "{:<12} {:>6} {:>14} {:>10} {:>12}",
        "kind",
        "files",
        "records",
        "bad rows",
        "bytes"
    );
    for k in &summary.kinds {
        outln!(
            "{:<12} {:>6} {:>14} {:>10} {:>12}",
            k.kind,
            k.files.len(),
            thousands(k.rows),
            thousands(k.bad_rows),
            human_bytes(k.bytes)
        );
    }
    let files: usize = summary.kinds.iter().map(|k| k.files.len()).sum();
    outln!(
        "{:<12} {:>6} {:>14} {:>10} {:>12}",
        "total",
        files,
        thousands(summary.rows),
        thousands(summary.bad_rows),
        human_bytes(summary.bytes)
    );
    if !quiet {
        let secs = elapsed.as_secs_f64().max(1e-9);
        outln!(
            "wrote {} records in {secs:.2} s ({} records/s); truth in {}, PINs in {}",
            thousands(summary.rows),
            thousands((summary.rows as f64 / secs) as u64),
            summary.truth,
            summary.secrets
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_readable() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(human_bytes(10), "10 B");
        assert_eq!(human_bytes(1_536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn rates_are_checked() {
        assert_eq!(parse_rate("0.05"), Ok(0.05));
        assert_eq!(parse_rate("1"), Ok(1.0));
        assert!(parse_rate("1.5").is_err());
        assert!(parse_rate("-0.1").is_err());
        assert!(parse_rate("NaN").is_err());
        assert!(parse_rate("lots").is_err());
    }
}
