//! `proofmark pins`: the scratch-off PINs of the consumer page.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use proofmark_verifier::consumer::{ConsumerError, ConsumerStore, PinKey, SecretsReader};

use super::GlobalArgs;
use crate::exit::{Classified, ExitClass};

/// The PIN subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PinsCommand {
    /// Import PINs from a secrets file into the consumer page's state, as
    /// keyed hashes only (BLAKE3 keyed with the key file's secret key).
    Import(ImportArgs),
}

/// Arguments of `proofmark pins import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The secrets file: a `code,pin` header, then one `code,pin` line per
    /// item (as `proofmark datasets generate` writes `secrets/pins.csv`).
    #[arg(long, value_name = "FILE")]
    pub secrets: PathBuf,
    /// The consumer page's state directory (the one `proofmark serve` uses);
    /// created if missing. Stop a server using it before importing.
    #[arg(long, value_name = "DIR")]
    pub state_dir: PathBuf,
    /// The PIN key file (64 hex digits). Made with a new random key (mode
    /// 0600) when missing; the server needs the same file to check PINs.
    #[arg(long, value_name = "FILE")]
    pub key_file: PathBuf,
}

/// Runs a `proofmark pins` subcommand.
pub fn run(cmd: PinsCommand, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    match cmd {
        PinsCommand::Import(args) => import(&args, global),
    }
}

fn input_error(err: ConsumerError) -> anyhow::Error {
    let input = matches!(
        err,
        ConsumerError::BadSecrets { .. } | ConsumerError::BadKey { .. }
    );
    let err = anyhow::Error::new(err);
    if input {
        err.context(Classified(ExitClass::Input, "cannot import PINs"))
    } else {
        err
    }
}

fn import(args: &ImportArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let (key, created) = PinKey::load_or_create(&args.key_file).map_err(input_error)?;
    // Check the file's header before touching the state.
    let reader = SecretsReader::open(&args.secrets).map_err(input_error)?;
    let store = ConsumerStore::open(&args.state_dir).with_context(|| {
        format!(
            "opening the consumer state in {} (is a server using it?)",
            args.state_dir.display()
        )
    })?;
    let rows = reader.map(|row| {
        row.map(|(code, pin)| {
            let hash = key.hash_pin(&code, &pin);
            (code, hash)
        })
    });
    let written = store.import_pins(rows).map_err(input_error)?;
    if !global.quiet {
        let made = if created { " (new key)" } else { "" };
        errln!(
            "imported {written} PIN hashes from {} into {} with key {}{made}",
            args.secrets.display(),
            store.path().display(),
            args.key_file.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
