//! `proofmark pins`: the scratch-off PINs of the consumer page.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use proofmark_verifier::consumer::{
    ConsumerError, ConsumerStore, KeyRecord, PinKey, SecretsReader, check_secrets,
};

use super::GlobalArgs;
use crate::exit::{Classified, ExitClass};

/// The PIN subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PinsCommand {
    /// Import PINs from a secrets file into the consumer page's state, as
    /// keyed hashes only (BLAKE3 keyed with the key file's secret key).
    ///
    /// All or nothing: the whole file is checked first (every line, no code
    /// twice), then written in one transaction; a failed import changes
    /// nothing and creates no key file.
    Import(ImportArgs),
}

/// Arguments of `proofmark pins import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The secrets file: a `code,pin` header, then one `code,pin` line per
    /// item (as `proofmark datasets generate` writes `secrets/pins.csv`).
    /// Spreadsheet CSV is accepted: a UTF-8 byte order mark, fields in
    /// double quotes, CRLF line ends.
    #[arg(long, value_name = "FILE")]
    pub secrets: PathBuf,
    /// The consumer page's state directory (the one `proofmark serve` uses);
    /// created if missing. Stop a server using it before importing.
    #[arg(long, value_name = "DIR")]
    pub state_dir: PathBuf,
    /// The PIN key file (64 hex digits). Made with a new random key (mode
    /// 0600) when missing, but only for a state without PIN hashes: a state
    /// that has some needs the key they were made with, and a key that does
    /// not match the state's is refused. The server needs the same file.
    #[arg(long, value_name = "FILE")]
    pub key_file: PathBuf,
}

/// Runs a `proofmark pins` subcommand.
pub fn run(cmd: PinsCommand, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    match cmd {
        PinsCommand::Import(args) => import(&args, global),
    }
}

/// Input errors (the secrets file, the key) exit with 3.
fn input_error(err: ConsumerError) -> anyhow::Error {
    let input = matches!(
        err,
        ConsumerError::BadSecrets { .. }
            | ConsumerError::BadKey { .. }
            | ConsumerError::DuplicateCode { .. }
            | ConsumerError::KeyMismatch { .. }
    );
    let err = anyhow::Error::new(err);
    if input {
        err.context(Classified(ExitClass::Input, "cannot import PINs"))
    } else {
        err
    }
}

fn import(args: &ImportArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    // The whole file first: a bad line or a code given twice stops the
    // import before the state or the key file is touched.
    let rows = check_secrets(&args.secrets).map_err(input_error)?;
    let store = ConsumerStore::open(&args.state_dir).with_context(|| {
        format!(
            "opening the consumer state in {} (is a server using it?)",
            args.state_dir.display()
        )
    })?;
    let record = store.key_record().context("reading the consumer state")?;
    let (key, created) = if args.key_file.exists() {
        let key = PinKey::load(&args.key_file).map_err(input_error)?;
        store.check_key(&key).map_err(input_error)?;
        (key, false)
    } else if record == KeyRecord::Empty {
        let key = PinKey::create(&args.key_file).context("creating the PIN key")?;
        (key, true)
    } else {
        return Err(anyhow::anyhow!(
            "the key file {} does not exist, and the consumer state {} already holds PIN \
             hashes: give the key file they were made with (a new key would not check them)",
            args.key_file.display(),
            store.path().display()
        )
        .context(Classified(ExitClass::Input, "cannot import PINs")));
    };
    if record == KeyRecord::Unrecorded {
        // A state from before key check values: its hashes cannot tell
        // whether this is their key.
        tracing::warn!(
            "the consumer state holds PIN hashes without a key check value; recording this key's"
        );
        if !global.quiet && !super::json_logs() {
            errln!(
                "warning: the consumer state {} holds PIN hashes imported before key check values \
                 were recorded, so it cannot tell whether {} is their key; recording it now (if it \
                 is not, the older PINs will all be called wrong: import them again with this key)",
                store.path().display(),
                args.key_file.display()
            );
        }
    }
    let reader = SecretsReader::open(&args.secrets).map_err(input_error)?;
    let import = match store.import_pins(&key, reader) {
        Ok(import) => import,
        Err(err) => {
            // Nothing was written: a key made for this import goes too.
            if created && let Err(e) = std::fs::remove_file(&args.key_file) {
                tracing::warn!(error = %e, "cannot remove the new key file");
            }
            return Err(input_error(err));
        }
    };
    if import.written != rows {
        // The file changed between the check and the import; what was
        // imported is still one whole, valid file.
        tracing::warn!(
            checked = rows,
            written = import.written,
            "the secrets file changed during the import"
        );
    }
    if !global.quiet {
        let made = if created { " (new key)" } else { "" };
        errln!(
            "imported {} PIN hashes from {} into {} with key {}{made}",
            import.written,
            args.secrets.display(),
            store.path().display(),
            args.key_file.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
