//! Subcommands of the `proofmark` binary.

pub mod merkle;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// proofmark: tamper-evident histories for imported items.
///
/// Records about items (production, customs, logistics, inspection) are read
/// from Parquet, hashed into Merkle trees and their roots anchored on a chain;
/// anyone holding a record and its proof can check it without trusting us.
#[derive(Debug, Parser)]
#[command(name = "proofmark", version, about, long_about = None, propagate_version = true)]
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
    /// Merkle tree tools for interoperability testing: roots, proofs, verification.
    #[command(subcommand)]
    Merkle(merkle::MerkleCommand),
}

/// Installs the tracing subscriber chosen by the global options.
pub fn init_logging(global: &GlobalArgs) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match global.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Merkle(cmd) => merkle::run(cmd),
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
