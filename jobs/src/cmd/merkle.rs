//! `proofmark merkle`: filled by the Merkle core work.
use std::process::ExitCode;

/// Merkle tree tools.
#[derive(Debug, clap::Subcommand)]
pub enum MerkleCommand {}

/// Runs a `merkle` subcommand.
pub fn run(cmd: MerkleCommand) -> anyhow::Result<ExitCode> {
    match cmd {}
}
