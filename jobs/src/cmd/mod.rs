//! Subcommands of the `proofmark` binary.

pub mod anchor;
pub mod audit;
pub mod bench;
pub mod chain;
pub mod datasets;
pub mod merkle;
pub mod pins;
pub mod pipeline;
pub mod publish;
pub mod run;
pub mod serve;
pub mod verify;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// proofmark: tamper-evident histories for imported items.
///
/// Records about items (production, customs, logistics, inspection) are read
/// from Parquet, hashed into Merkle trees and their roots anchored on a chain;
/// anyone holding a record and its proof can check it without trusting us.
#[derive(Debug, Parser)]
#[command(name = "proofmark", version = env!("PROOFMARK_VERSION_TEXT"), about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Options shared by every subcommand.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every subcommand.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Worker threads for CPU work (default: one per core).
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    /// Hide progress bars and the closing summary's decorations.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Log format on standard error; the level comes from `RUST_LOG` (default `warn`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Synthetic datasets: realistic, deterministic item records at any scale.
    #[command(subcommand)]
    Datasets(datasets::DatasetsCommand),
    /// Run a job file: plan -> build -> commit -> anchor -> publish, locked and resumable; a rerun after success does nothing.
    Run(run::RunArgs),
    /// Freeze a batch's inputs: list them, read their footers, digest and copy them into the batch.
    Plan(pipeline::PlanArgs),
    /// Build a batch's segments (all, or one share with --part): validate, hash, build segment trees.
    Build(pipeline::BuildArgs),
    /// Commit a built batch: batch tree, sorted index, rejects and the manifest, written last.
    Commit(pipeline::CommitArgs),
    /// Anchor a committed batch on one or more chains and keep their receipts.
    Anchor(anchor::AnchorArgs),
    /// Publish a committed, anchored batch into the verifier's code index (a rerun does nothing;
    /// a publish of the same index going on is waited for, up to an hour).
    Publish(publish::PublishArgs),
    /// Serve the verifier: the proof API and the consumer page, over a store and a code index.
    Serve(Box<serve::ServeArgs>),
    /// The embedded batch log: signed checkpoints, inclusion and consistency proofs.
    #[command(subcommand)]
    Log(anchor::LogCommand),
    /// The anchor contract of an `evm` chain: deploy, grant, revoke, show.
    #[command(subcommand)]
    Chain(chain::ChainCommand),
    /// Benchmarks: end-to-end pipeline throughput against a bare decode baseline.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Merkle tree tools for interoperability testing: roots, proofs, verification.
    #[command(subcommand)]
    Merkle(merkle::MerkleCommand),
    /// Scratch-off PINs of the consumer page: import them as keyed hashes.
    #[command(subcommand)]
    Pins(pins::PinsCommand),
    /// Check a code report or leaf proof offline (records, leaves, proofs, receipts) and
    /// optionally the root against an EVM chain; exit 0 verified, 1 not verified, 2 error, 3 an
    /// argument at fault.
    Verify(verify::VerifyArgs),
    /// Regulators' audits: recompute a whole batch from its inputs, or verify many codes at once.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
}

/// The tracing target of the messages a command prints for people on stderr (stage lines,
/// cleanups, warnings, the closing error) when the logs are JSON.
pub const MESSAGE_TARGET: &str = "proofmark::message";

/// Whether stderr carries JSON log lines only (`--log-format json`).
static JSON_LOGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Parses a `--batch-id`: the batch id rule of SPEC.md 8 (1 to 128 bytes of `[0-9A-Za-z._-]`,
/// not starting with `.`), so that an id that could never name a batch is an argument error
/// (exit 3) rather than a store path that fails later.
pub fn parse_batch_id(id: &str) -> Result<String, String> {
    proofmark_ingest::validate_batch_id(id)
        .map(|()| id.to_owned())
        .map_err(|e| e.to_string())
}

/// Whether `--log-format json` is in force: then the messages for people go out as log
/// events ([`MESSAGE_TARGET`]), so that stderr holds one JSON object per line.
pub fn json_logs() -> bool {
    JSON_LOGS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Tells the operator something worth knowing although the command goes on: `warning: ...`
/// on stderr, or a `warn` event of [`MESSAGE_TARGET`] (carrying the batch id) with
/// `--log-format json`. Shown with `--quiet` too.
pub(crate) fn warn(batch_id: &str, warning: &str) {
    if json_logs() {
        tracing::warn!(target: MESSAGE_TARGET, batch_id, "{warning}");
    } else {
        errln!("warning: {warning}");
    }
}

/// Installs the tracing subscriber chosen by the global options. Without `RUST_LOG` the
/// level is `warn`, and in JSON mode also `info` for [`MESSAGE_TARGET`] (the lines a text
/// run prints). Colours only on a terminal.
pub fn init_logging(global: &GlobalArgs) {
    use std::io::IsTerminal as _;
    let json = global.log_format == LogFormat::Json;
    JSON_LOGS.store(json, std::sync::atomic::Ordering::Relaxed);
    let default = if json {
        format!("warn,{MESSAGE_TARGET}=info")
    } else {
        "warn".to_owned()
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Datasets(cmd) => datasets::run(cmd, &cli.global),
        Command::Merkle(cmd) => merkle::run(cmd),
        Command::Run(args) => run::run_job(args, &cli.global),
        Command::Plan(args) => pipeline::run_plan(args, &cli.global),
        Command::Build(args) => pipeline::run_build(args, &cli.global),
        Command::Commit(args) => pipeline::run_commit(args, &cli.global),
        Command::Bench(cmd) => bench::run(cmd, &cli.global),
        Command::Anchor(args) => anchor::run_anchor(args, &cli.global),
        Command::Publish(args) => publish::run_publish(args, &cli.global),
        Command::Serve(args) => serve::run_serve(*args, &cli.global),
        Command::Log(cmd) => anchor::run_log(cmd, &cli.global),
        Command::Chain(cmd) => chain::run(cmd, &cli.global),
        Command::Pins(cmd) => pins::run(cmd, &cli.global),
        Command::Verify(args) => verify::run_verify(args, cli.global.quiet),
        Command::Audit(cmd) => audit::run(cmd, &cli.global),
    }
}

/// Resolves on SIGINT or SIGTERM, naming the signal.
pub(crate) async fn shutdown_signal() -> &'static str {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = ctrl_c => "SIGINT",
                _ = term.recv() => "SIGTERM",
            },
            Err(_) => {
                ctrl_c.await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        ctrl_c.await;
        "SIGINT"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
