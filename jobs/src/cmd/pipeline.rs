//! `proofmark plan`, `build` and `commit`: the batch pipeline's stages.
//!
//! Each command opens the store, runs its stage on a small tokio runtime (I/O)
//! with the CPU work on the global rayon pool (`--threads`), shows progress
//! bars on stderr when it is a terminal, and prints a one-screen summary on
//! stdout. Exit codes: 0 ok, 2 error (the message names the file or segment).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use proofmark_anchor::{
    BuildOptions, BuildReport, CommitOptions, CommitReport, CommitStage, HeadUpdate, Part,
    RowCounts, build_batch, commit_batch,
};
use proofmark_ingest::{InputMode, Plan, PlanOptions, PlanProgress, Store, make_plan};
use proofmark_merkle::SuiteId;

use super::GlobalArgs;

/// The environment variable a Kubernetes Indexed Job sets to the pod's 0-based index.
pub const COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

/// Arguments of `proofmark plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// An input: a Parquet file, a folder or prefix (every `*.parquet` under it), or a glob;
    /// a local path or a URL (file://, s3://, gs://, az://, http(s)://). Repeat for several.
    /// Folders and globs skip names starting with `.` or `_` (hidden files, `_SUCCESS`,
    /// `_temporary/`), unless a glob names them (`_staging/*.parquet`).
    #[arg(long = "input", value_name = "URL", required = true)]
    pub inputs: Vec<String>,
    /// The batch id: 1 to 128 bytes of `[0-9A-Za-z._-]`, not starting with `.`, not
    /// `HEAD.json`.
    #[arg(long, value_name = "ID", value_parser = super::parse_batch_id)]
    pub batch_id: String,
    /// The store the batch is written to: a local folder or an object store URL.
    #[arg(long, value_name = "URL")]
    pub store: String,
    /// The batch date that validation's time rules refer to [default: today, UTC].
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<String>,
    /// The hash suite of the batch's trees: `blake3` or `sha256-rfc6962` (RFC 6962, for
    /// Certificate Transparency tooling and the EVM's SHA-256 precompile).
    #[arg(long, value_name = "SUITE", default_value = "blake3")]
    pub suite: SuiteId,
    /// `copy`: copy the inputs into the batch (`inputs/`), so it is self-contained;
    /// `reference`: read them in place, checked by digest (for immutable stores).
    #[arg(long, value_enum, value_name = "MODE", default_value_t = InputModeArg::Copy)]
    pub input_mode: InputModeArg,
}

/// How inputs are kept (see `--input-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputModeArg {
    /// Copy the inputs under the batch.
    Copy,
    /// Read the inputs in place.
    Reference,
}

impl From<InputModeArg> for InputMode {
    fn from(mode: InputModeArg) -> Self {
        match mode {
            InputModeArg::Copy => InputMode::Copy,
            InputModeArg::Reference => InputMode::Reference,
        }
    }
}

/// Arguments of `proofmark build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The batch to build (planned with `proofmark plan`).
    #[arg(long, value_name = "ID", value_parser = super::parse_batch_id)]
    pub batch_id: String,
    /// The store the batch lives in.
    #[arg(long, value_name = "URL")]
    pub store: String,
    /// Build only share K of N, 1-based (`--part 1/3`, `2/3`, `3/3`): the segments `s` with
    /// `s % N == K - 1`. Shares may run at once in separate processes or machines.
    #[arg(long, value_name = "K/N", conflicts_with = "parts")]
    pub part: Option<Part>,
    /// Build one of N shares, the one named by the environment variable
    /// `JOB_COMPLETION_INDEX` (0-based, as a Kubernetes Indexed Job sets it).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub parts: Option<u32>,
    /// Segments (row groups) fetched and processed at once; bounds memory. At least 1.
    #[arg(long, value_name = "N", default_value_t = 3,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub segments_in_flight: usize,
}

/// Arguments of `proofmark commit`.
#[derive(Debug, clap::Args)]
pub struct CommitArgs {
    /// The batch to commit (every segment built).
    #[arg(long, value_name = "ID", value_parser = super::parse_batch_id)]
    pub batch_id: String,
    /// The store the batch lives in.
    #[arg(long, value_name = "URL")]
    pub store: String,
    /// Memory for the index merge (`1GiB`, `512MiB`, `64KiB`, or bytes). The merge goes
    /// through the key space in ranges (passes), each reading its entries from every segment
    /// and sorting them in memory: a pass holds at most a quarter of the budget (up to 64 MiB
    /// of entries), read and sorted, plus one read chunk per segment (16 KiB to 1 MiB).
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_size)]
    pub memory_budget: usize,
    /// Folder for temporary files (the index and rejects of an object store before upload)
    /// [default: the system's temporary folder].
    #[arg(long, value_name = "DIR")]
    pub temp_dir: Option<std::path::PathBuf>,
}

/// Parses `1GiB`, `512MiB`, `64KiB`, `10MB`, `1000` (bytes).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 1GiB"))?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => return Err(format!("unknown size unit {other:?} (use KiB, MiB, GiB)")),
    };
    match n.checked_mul(mult) {
        None => Err(format!("{s:?} is too large")),
        Some(0) => Err(format!("{s:?} is zero: give at least 1 byte")),
        Some(bytes) => Ok(bytes),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // Local stores run every operation on a blocking thread; a few are
        // plenty, and fewer threads keep fewer malloc arenas (lower RSS).
        .max_blocking_threads(16)
        .enable_all()
        .build()
        .context("starting the I/O runtime")
}

fn open_store(url: &str) -> anyhow::Result<Store> {
    Store::from_url(url).with_context(|| format!("opening the store {url}"))
}

/// The store of a batch that must already be planned: a local store folder that does not
/// exist is named as such (a mistyped `--store`), rather than as a batch with no plan.
pub(crate) fn open_planned_store(url: &str) -> anyhow::Result<Store> {
    let store = open_store(url)?;
    if let Some(root) = store.local_root()
        && !root.is_dir()
    {
        return Err(anyhow::anyhow!(
            "the store folder {} does not exist (a batch is planned into it first with \
             proofmark plan --store)",
            root.display()
        )
        .context(crate::exit::Classified(
            crate::exit::ExitClass::Input,
            "the --store",
        )));
    }
    Ok(store)
}

/// A progress bar on stderr, hidden with `--quiet` or when stderr is not a terminal.
pub(crate) fn bar(global: &GlobalArgs, len: u64, unit: &str) -> ProgressBar {
    let target = if global.quiet || !std::io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let pb = ProgressBar::with_draw_target(Some(len), target);
    let template = format!(
        "{{msg:>10}} [{{bar:32}}] {{human_pos}}/{{human_len}} {unit} {{per_sec}} ETA {{eta}}"
    );
    if let Ok(style) = ProgressStyle::with_template(&template) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// Appends one line to a summary being built.
macro_rules! say {
    ($o:expr, $($arg:tt)*) => {{
        let _ = writeln!($o, $($arg)*);
    }};
}

/// Writes a finished summary to stdout; a closed pipe (`| head`) is not an error.
pub(crate) fn emit(summary: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(summary.as_bytes()).and_then(|()| out.flush());
}

fn per_sec(n: u64, secs: f64) -> String {
    if secs <= 0.0 {
        return "-".into();
    }
    let r = n as f64 / secs;
    if r >= 1e6 {
        format!("{:.2} M", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.1} k", r / 1e3)
    } else {
        format!("{r:.0}")
    }
}

fn print_reasons(o: &mut String, reasons: &BTreeMap<String, u64>) {
    if reasons.is_empty() {
        return;
    }
    say!(o, "rejects by reason:");
    let mut v: Vec<_> = reasons.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (r, n) in v {
        say!(o, "  {r:<26} {n:>12}");
    }
}

fn print_kinds(o: &mut String, kinds: &BTreeMap<String, RowCounts>) {
    say!(
        o,
        "  {:<12} {:>14} {:>14} {:>12}",
        "kind",
        "read",
        "accepted",
        "rejected"
    );
    let mut total = RowCounts::default();
    for (k, c) in kinds {
        say!(
            o,
            "  {k:<12} {:>14} {:>14} {:>12}",
            c.read,
            c.accepted,
            c.rejected
        );
        total.read += c.read;
        total.accepted += c.accepted;
        total.rejected += c.rejected;
    }
    say!(
        o,
        "  {:<12} {:>14} {:>14} {:>12}",
        "total",
        total.read,
        total.accepted,
        total.rejected
    );
}

/// Runs `proofmark plan`.
pub fn run_plan(args: PlanArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let store = open_store(&args.store)?;
    let date = args
        .date
        .clone()
        .unwrap_or_else(|| proofmark_anchor::manifest::date_utc(SystemTime::now()));
    let opts = PlanOptions {
        batch_id: args.batch_id.clone(),
        batch_date: date,
        suite: args.suite,
        input_mode: args.input_mode.into(),
    };
    let pb = bar(global, 0, "bytes");
    pb.set_message("plan");
    let cleaned = std::sync::Mutex::new(proofmark_ingest::Removed::default());
    // A plan is made once: a rerun checks the inputs against it and changes nothing.
    let planned_before = std::sync::atomic::AtomicBool::new(false);
    let restored = std::sync::atomic::AtomicU64::new(0);
    let progress = |p: PlanProgress| match p {
        PlanProgress::Resolved { total_bytes, .. } => pb.set_length(total_bytes),
        PlanProgress::Digested { bytes, .. } => pb.inc(bytes),
        PlanProgress::Frozen => planned_before.store(true, std::sync::atomic::Ordering::Relaxed),
        PlanProgress::Cleaned(removed) => {
            if let Ok(mut c) = cleaned.lock() {
                *c = removed;
            }
        }
        PlanProgress::NoRows { url } => pb.suspend(|| {
            super::warn(&args.batch_id, &no_rows_warning(&url));
        }),
        PlanProgress::CopyRestored { .. } => {
            restored.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        _ => {}
    };
    let plan = runtime()?
        .block_on(make_plan(&store, &args.inputs, &opts, &progress))
        .with_context(|| format!("planning batch {} in {}", args.batch_id, args.store))?;
    pb.finish_and_clear();
    let cleaned = cleaned.into_inner().unwrap_or_default();
    print_cleanup(global, cleaned);
    print_plan(
        &plan,
        planned_before.into_inner().then(|| restored.into_inner()),
        started.elapsed().as_secs_f64(),
    );
    Ok(ExitCode::SUCCESS)
}

/// The warning for an input file with no rows, which the plan takes.
pub(crate) fn no_rows_warning(url: &str) -> String {
    format!(
        "input file {url} holds no rows: planned as it is (an empty delivery is legal; check \
         that its source delivered it whole)"
    )
}

/// Prints the plan; `restored` is `Some` (the input copies put back) when the batch was
/// planned before.
fn print_plan(plan: &Plan, restored: Option<u64>, secs: f64) {
    let o = &mut String::new();
    if let Some(restored) = restored {
        let changed = match restored {
            0 => "nothing changed".to_owned(),
            1 => "1 input copy that was gone or cut short copied again".to_owned(),
            n => format!("{n} input copies that were gone or cut short copied again"),
        };
        say!(
            o,
            "batch      {}  (planned earlier, {}: the inputs match the frozen plan; {changed})",
            plan.batch_id,
            plan.created_at
        );
    } else {
        say!(o, "batch      {}", plan.batch_id);
    }
    say!(o, "date       {}", plan.batch_date);
    say!(o, "suite      {}", plan.suite);
    say!(
        o,
        "inputs     {} ({})",
        plan.files.len(),
        plan.input_mode.name()
    );
    say!(o, "segments   {}", plan.segments.len());
    say!(o, "rows       {}", plan.total_rows);
    let mut kinds: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    for f in &plan.files {
        let e = kinds.entry(f.kind.name()).or_default();
        e.0 += 1;
        e.1 += f.rows;
        e.2 += f.size;
    }
    say!(
        o,
        "  {:<12} {:>6} {:>14} {:>16}",
        "kind",
        "files",
        "rows",
        "bytes"
    );
    for (k, (files, rows, bytes)) in kinds {
        say!(o, "  {k:<12} {files:>6} {rows:>14} {bytes:>16}");
    }
    say!(o, "seconds    {secs:.2}");
    emit(o);
}

/// Tells (on stderr, unless `--quiet`) what a plan or build removed that killed writers
/// had left in the batch's folder.
fn print_cleanup(global: &GlobalArgs, removed: proofmark_ingest::Removed) {
    if removed.files > 0 {
        tracing::info!(
            files = removed.files,
            bytes = removed.bytes,
            "removed the temporary files of interrupted writes"
        );
        if !global.quiet {
            errln!(
                "cleanup: removed {} temporary file(s) ({} bytes) that interrupted writes left",
                removed.files,
                removed.bytes
            );
        }
    }
}

/// Resolves `--part` / `--parts` into the share to build.
fn resolve_part(args: &BuildArgs) -> anyhow::Result<Option<Part>> {
    if let Some(p) = args.part {
        return Ok(Some(p));
    }
    let Some(n) = args.parts else {
        return Ok(None);
    };
    // The share comes from the environment, which is the caller's to set: an input error.
    let input = |message: String| {
        anyhow::anyhow!(message).context(crate::exit::Classified(
            crate::exit::ExitClass::Input,
            "the share to build",
        ))
    };
    let raw = std::env::var(COMPLETION_INDEX_ENV).ok();
    share_of(raw.as_deref(), n).map(Some).map_err(input)
}

/// The share named by `JOB_COMPLETION_INDEX` (`raw`, unset when `None`) of `--parts n`, or
/// why there is none, in the words of the variable and the flag.
fn share_of(raw: Option<&str>, n: u32) -> Result<Part, String> {
    let Some(raw) = raw else {
        return Err(format!(
            "--parts {n} needs {COMPLETION_INDEX_ENV} (the 0-based share index), which is not \
             set"
        ));
    };
    let last = n.saturating_sub(1);
    let Ok(k) = raw.trim().parse::<u32>() else {
        return Err(format!(
            "{COMPLETION_INDEX_ENV}={raw:?} is not a share index (0 to {last})"
        ));
    };
    Part::try_new(k, n).map_err(|_| {
        format!("{COMPLETION_INDEX_ENV} {k} is out of range for --parts {n} (0 to {last})")
    })
}

/// Runs `proofmark build`.
pub fn run_build(args: BuildArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let part = resolve_part(&args)?;
    let store = open_planned_store(&args.store)?;
    let opts = BuildOptions {
        part,
        segments_in_flight: args.segments_in_flight,
    };
    let pb = bar(global, 0, "rows");
    pb.set_message("build");
    let progress = |p: proofmark_anchor::BuildProgress| {
        pb.set_length(p.rows_total);
        pb.set_position(p.rows_done);
    };
    let what = match part {
        Some(p) => format!("part {}/{} of batch {}", p.k + 1, p.n, args.batch_id),
        None => format!("batch {}", args.batch_id),
    };
    let report = runtime()?
        .block_on(build_batch(&store, &args.batch_id, &opts, &progress))
        .with_context(|| format!("building {what} in {}", args.store))?;
    pb.finish_and_clear();
    print_cleanup(global, report.abandoned_removed);
    print_build(&what, &report, started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

fn print_build(what: &str, r: &BuildReport, secs: f64) {
    let o = &mut String::new();
    if r.already_committed {
        say!(o, "{what} is committed: nothing to build");
        emit(o);
        return;
    }
    say!(o, "built      {what}");
    say!(o, "segments   {}", segment_counts(r));
    print_kinds(o, &r.by_kind);
    print_reasons(o, &r.reasons);
    say!(o, "seconds    {secs:.2}");
    if r.segments_skipped > 0 {
        // The rows of segments already done would count work this run did not do.
        say!(
            o,
            "records/s  - ({} segment(s) were already done: no rate)",
            r.segments_skipped
        );
    } else {
        say!(o, "records/s  {}", per_sec(r.rows.read, secs));
    }
    emit(o);
}

/// The segments a build found and built, as `41 (30 built, 11 already done)`, with those
/// rebuilt after failing their checks when there were some.
pub(crate) fn segment_counts(r: &BuildReport) -> String {
    let repaired = if r.segments_repaired > 0 {
        format!(
            ", {} rebuilt after failing their checks",
            r.segments_repaired
        )
    } else {
        String::new()
    };
    format!(
        "{} ({} built, {} already done{repaired})",
        r.segments_in_part, r.segments_built, r.segments_skipped
    )
}

/// Runs `proofmark commit`.
pub fn run_commit(args: CommitArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let store = open_planned_store(&args.store)?;
    let opts = CommitOptions {
        memory_budget_bytes: args.memory_budget,
        temp_dir: args.temp_dir.clone(),
        ..CommitOptions::default()
    };
    let pb = bar(global, 0, "rows");
    pb.set_message("check");
    let progress = |p: proofmark_anchor::CommitProgress| {
        pb.set_length(p.rows_total);
        pb.set_position(p.rows_done);
        pb.set_message(match p.stage {
            CommitStage::CheckSegments => "check",
            CommitStage::MergeIndex => "index",
            CommitStage::Write => "write",
        });
    };
    let report = runtime()?
        .block_on(commit_batch(&store, &args.batch_id, &opts, &progress))
        .with_context(|| format!("committing batch {} in {}", args.batch_id, args.store))?;
    pb.finish_and_clear();
    print_commit(&report, started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

fn print_commit(r: &CommitReport, secs: f64) {
    let o = &mut String::new();
    let m = &r.manifest;
    if r.already_committed {
        say!(
            o,
            "batch {} was already committed: nothing changed",
            m.batch_id
        );
    } else {
        say!(o, "committed  {}", m.batch_id);
    }
    say!(o, "root       {} ({})", m.root, m.suite);
    say!(o, "leaves     {}", m.leaf_count);
    let empty = m.segments.iter().filter(|s| s.leaf_count == 0).count();
    say!(
        o,
        "segments   {} ({empty} without accepted rows)",
        m.segments.len()
    );
    let mut kinds: BTreeMap<String, RowCounts> = BTreeMap::new();
    for f in &m.files {
        let c = kinds.entry(f.kind.clone()).or_default();
        c.read += f.rows_read;
        c.accepted += f.rows_accepted;
        c.rejected += f.rows_rejected;
    }
    print_kinds(o, &kinds);
    print_reasons(o, &r.reasons);
    if !r.already_committed {
        say!(
            o,
            "index      {} entries ({} merge pass{})",
            r.index_entries,
            r.merge_passes,
            if r.merge_passes == 1 { "" } else { "es" }
        );
    }
    match &m.previous {
        Some(p) => say!(o, "previous   {} (root {})", p.batch_id, p.root),
        None => say!(o, "previous   none (first batch of this store)"),
    }
    match &r.head {
        HeadUpdate::Moved | HeadUpdate::AlreadyCurrent => {}
        HeadUpdate::Behind { head } => say!(o, "head       {} (a later batch)", head.batch_id),
        HeadUpdate::Conflict { head } => say!(
            o,
            "WARNING    batch {} was committed concurrently; the chain forks at {}",
            head.batch_id,
            m.previous
                .as_ref()
                .map_or("the start", |p| p.batch_id.as_str())
        ),
    }
    say!(o, "manifest   {}", r.manifest_digest);
    say!(o, "seconds    {secs:.2}");
    if !r.already_committed {
        say!(o, "records/s  {}", per_sec(m.rows_read, secs));
    }
    emit(o);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_index_is_told_in_the_words_of_the_variable() {
        assert_eq!(share_of(Some("2"), 3), Ok(Part { k: 2, n: 3 }));
        assert_eq!(share_of(Some(" 0 "), 1), Ok(Part { k: 0, n: 1 }));
        assert_eq!(
            share_of(Some("3"), 3),
            Err("JOB_COMPLETION_INDEX 3 is out of range for --parts 3 (0 to 2)".to_owned())
        );
        assert_eq!(
            share_of(Some("x"), 3),
            Err("JOB_COMPLETION_INDEX=\"x\" is not a share index (0 to 2)".to_owned())
        );
        let unset = share_of(None, 3).expect_err("unset is an error");
        assert!(unset.contains("JOB_COMPLETION_INDEX"), "{unset}");
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("64 KiB"), Ok(64 << 10));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert!(parse_size("1 parsec").is_err());
        assert!(parse_size("GiB").is_err());
    }
}
