//! `proofmark anchor` and `proofmark log`: anchoring committed batches on
//! chains, and the embedded batch log's checkpoints and proofs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use proofmark_anchor::chain::{
    AnchorOutcome, ChainConfig, ChainError, ChainsFile, LEDGER_VERIFIER_KEY_PATH, anchor_batch,
    ledger_signer,
};
use proofmark_anchor::ledger::{BatchLog, Checkpoint, VerifierKey};
use proofmark_ingest::Store;

use super::GlobalArgs;
use crate::exit::{ExitClass, classify};

/// Arguments of `proofmark anchor`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Every chain appends the batch to the store's signed batch log first (an `evm` anchor carries \
the log's size and root). A receipt stored earlier is checked again and nothing is sent; \
when its chain cannot be reached to check it, it stands, with a warning. A run interrupted \
after sending resumes its transaction: it never sends a second anchor.

Keys: the ledger's signing key is the chain's key_file, else $PROOFMARK_LEDGER_KEY, else \
$XDG_CONFIG_HOME/proofmark/ledger.key, else ~/.config/proofmark/ledger.key (made on first \
use). An `evm` chain's account key is read \
from the environment variable its key_env names (or a keystore file, with password_env); \
docs/chains.md describes the chains file.

Exit status: 0 anchored (or already anchored) on every chain named, 2 an internal or \
environment error (the store), 3 an input error (the chains file, a key, a batch that is not \
committed), 4 a chain error (the node, the contract, the transaction). The other chains are \
still tried when one fails; the status is the first failure's.")]
pub struct AnchorArgs {
    /// The committed batch to anchor.
    #[arg(long, value_name = "ID", value_parser = super::parse_batch_id)]
    pub batch_id: String,
    /// The batch store: a folder or an object store URL (s3://, gs://, az://, file://).
    #[arg(long, value_name = "URL")]
    pub store: String,
    /// Chain to anchor on; repeat to post the same root to several chains
    /// (one receipt each under `anchors/`). `ledger`, the embedded batch log,
    /// needs no configuration; `evm` chains are defined in the chains file
    /// (see `proofmark chain`).
    #[arg(long = "chain", value_name = "NAME", default_value = "ledger")]
    pub chains: Vec<String>,
    /// TOML file defining the chains (`[chains.NAME]` tables with a `type`:
    /// `ledger` or `evm`; docs/chains.md), or a job file, whose `[chains.*]`
    /// tables are read. Without it only `ledger` is defined.
    #[arg(long = "chains", value_name = "FILE")]
    pub chains_file: Option<PathBuf>,
}

/// The batch log's subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum LogCommand {
    /// Print the log's latest signed checkpoint, after checking its signature.
    Checkpoint(LogArgs),
    /// Print a batch's entry and its inclusion proof against the latest checkpoint (JSON).
    Prove {
        /// Shared options.
        #[command(flatten)]
        log: LogArgs,
        /// The batch to prove.
        #[arg(long, value_name = "ID", value_parser = super::parse_batch_id)]
        batch_id: String,
    },
    /// Print and check the consistency proof between two signed checkpoints (JSON).
    Consistency {
        /// Shared options.
        #[command(flatten)]
        log: LogArgs,
        /// The older log size.
        #[arg(long, value_name = "N")]
        from: u64,
        /// The newer log size (default: the latest checkpoint's).
        #[arg(long, value_name = "M")]
        to: Option<u64>,
    },
}

/// Options of every `proofmark log` subcommand.
#[derive(Debug, clap::Args)]
pub struct LogArgs {
    /// The store that holds the log.
    #[arg(long, value_name = "URL")]
    pub store: String,
    /// The log's verifier key (`name+keyid+base64key`), obtained independently.
    /// Without it, the key is derived from the ledger's key file, or as a last
    /// resort read from the store itself (which proves nothing about the store).
    #[arg(long, value_name = "KEY")]
    pub verifier_key: Option<String>,
    /// TOML file defining the chains (the `ledger` chain's key file and
    /// origin), or a job file, whose `[chains.*]` tables are read.
    #[arg(long = "chains", value_name = "FILE")]
    pub chains_file: Option<PathBuf>,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn load_chains(path: Option<&PathBuf>) -> anyhow::Result<ChainsFile> {
    match path {
        Some(p) => Ok(ChainsFile::load(p)?),
        None => Ok(ChainsFile::default()),
    }
}

/// Runs `proofmark anchor`.
pub fn run_anchor(args: AnchorArgs, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let chains = load_chains(args.chains_file.as_ref())?;
    let store = super::pipeline::open_planned_store(&args.store)?;
    let rt = runtime()?;
    // The class of the first failure, for the exit code; the other chains still run.
    let mut failed: Option<ExitClass> = None;
    for name in &args.chains {
        match rt.block_on(anchor_batch(&store, &args.batch_id, name, &chains)) {
            Ok(outcome) => {
                // An earlier receipt's summary says "(already anchored)" itself.
                let verb = if outcome.anchored_now {
                    "anchored: "
                } else {
                    ""
                };
                outln!("{}: {verb}{}", outcome.chain, outcome_summary(&outcome));
                outln!("{}", serde_json::to_string_pretty(&outcome.receipt)?);
            }
            Err(err) => {
                // A receipt stored by an earlier run stands when its chain cannot be reached
                // to re-check it, as in `proofmark run`: a warning (`audit batch --chain`
                // re-checks it later).
                if is_unreachable(&err)
                    && let Some(receipt) = rt.block_on(stored_receipt(&store, &args.batch_id, name))
                {
                    errln!("warning: {}", not_rechecked(name, &anyhow::Error::new(err)));
                    outln!("{name}: anchored earlier (the stored receipt, not re-checked)");
                    outln!("{}", serde_json::to_string_pretty(&receipt)?);
                    continue;
                }
                // Report (with its causes) and go on with the other chains; the exit code
                // remembers the first failure's class.
                let unknown = matches!(err, ChainError::UnknownChain { .. });
                let err = anyhow::Error::new(err);
                errln!("error: {}", on_chain(name, &err));
                if unknown && args.chains_file.is_none() {
                    errln!(
                        "hint: without --chains FILE only the embedded ledger is defined; give \
                         the chains file that defines {name}"
                    );
                }
                failed.get_or_insert(classify(&err));
            }
        }
    }
    Ok(failed.map_or(ExitCode::SUCCESS, |class| ExitCode::from(class.code())))
}

/// `err`'s message (with its causes) about chain `name`, without the `chain NAME: ` it may
/// open with (the chain's errors name their chain), for a line that names the chain itself.
pub(crate) fn without_chain(name: &str, err: &anyhow::Error) -> String {
    let message = crate::exit::message(err);
    match message.strip_prefix(&format!("chain {name}: ")) {
        Some(rest) => rest.to_owned(),
        None => message,
    }
}

/// `err`'s message (with its causes) about chain `name`, naming the chain once.
pub(crate) fn on_chain(name: &str, err: &anyhow::Error) -> String {
    format!("chain {name}: {}", without_chain(name, err))
}

/// The warning for a stored receipt that chain `name` could not be reached to re-check.
pub(crate) fn not_rechecked(name: &str, err: &anyhow::Error) -> String {
    format!(
        "chain {name}: the receipt stored earlier was not re-checked: {}",
        without_chain(name, err)
    )
}

/// Whether anchoring failed only because the chain's node could not be reached.
pub(crate) fn is_unreachable(e: &proofmark_anchor::chain::ChainError) -> bool {
    matches!(e, proofmark_anchor::chain::ChainError::Evm(b)
        if matches!(**b, proofmark_anchor::evm::EvmError::Rpc { .. }))
}

/// The receipt an earlier run stored for `chain`, if it is readable JSON.
pub(crate) async fn stored_receipt(
    store: &Store,
    batch_id: &str,
    chain: &str,
) -> Option<serde_json::Value> {
    let path = proofmark_anchor::chain::receipt_path(batch_id, chain);
    let bytes = store.get(&path).await.ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// The line that describes an anchor: the chain's own summary, except for an `evm` receipt
/// stored earlier, whose confirmation count is the one it had when it was made (not now).
pub(crate) fn outcome_summary(outcome: &AnchorOutcome) -> String {
    let r = &outcome.receipt;
    let field = |name: &str| {
        r.get(name)
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
    };
    match (
        outcome.anchored_now,
        field("tx_hash"),
        field("block_number"),
        field("confirmations"),
        field("anchored_at"),
        field("contract"),
    ) {
        (false, Some(tx), Some(block), Some(confirmations), Some(at), Some(contract)) => format!(
            "tx {tx} in block {block} ({confirmations} confirmation(s) when anchored at {at}), \
             contract {contract} (already anchored)"
        ),
        _ => outcome.summary.clone(),
    }
}

fn verifier_key(
    args: &LogArgs,
    store: &Store,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<VerifierKey> {
    if let Some(k) = &args.verifier_key {
        return Ok(VerifierKey::parse(k)?);
    }
    let chains = load_chains(args.chains_file.as_ref())?;
    let (_, config) = chains.batch_log_chain()?;
    let key_path = match &config {
        ChainConfig::Ledger { key_file, .. } => key_file
            .clone()
            .unwrap_or_else(proofmark_anchor::chain::default_ledger_key_file),
        _ => {
            return Err(crate::exit::input_error(anyhow::anyhow!(
                "the chain named \"ledger\" in the chains file is not of type \"ledger\""
            )));
        }
    };
    if key_path.exists() {
        return Ok(ledger_signer(&config)?.verifier());
    }
    let stored = rt
        .block_on(store.get(LEDGER_VERIFIER_KEY_PATH))?
        .context(
            "no verifier key given, no ledger key file, and none in the store: pass --verifier-key",
        )
        .map_err(crate::exit::input_error)?;
    errln!(
        "warning: using the verifier key stored beside the log; pass --verifier-key to check against a key you trust"
    );
    // The store's own copy: a bad one is the store's fault (2), not an argument's.
    std::str::from_utf8(&stored)
        .map_err(|e| e.to_string())
        .and_then(|text| VerifierKey::parse(text).map_err(|e| e.to_string()))
        .map_err(|e| {
            anyhow::anyhow!("the store's {LEDGER_VERIFIER_KEY_PATH} is not a verifier key: {e}")
        })
}

/// Runs a `proofmark log` subcommand: exit 1 when the batch is not in the log or the log
/// does not verify, as `proofmark verify`'s "not verified".
pub fn run_log(cmd: LogCommand, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    match log_command(cmd) {
        Err(err) if log_verdict(&err) => {
            errln!("error: {}", crate::exit::message(&err));
            Ok(ExitCode::from(1))
        }
        other => other,
    }
}

/// Whether `err` is a verdict about the log rather than a failure to check it: a batch that
/// is not in it, a checkpoint or proof that does not verify, stored entries that are not
/// what they must be.
fn log_verdict(err: &anyhow::Error) -> bool {
    use proofmark_anchor::ledger::{LedgerError, NoteError};
    let note = |n: &NoteError| !crate::exit::note_is_input(n) && !matches!(n, NoteError::Random(_));
    err.chain().any(|cause| {
        cause.downcast_ref::<NoteError>().is_some_and(note)
            || cause
                .downcast_ref::<LedgerError>()
                .is_some_and(|e| match e {
                    LedgerError::NotLogged(_)
                    | LedgerError::Verify(_)
                    | LedgerError::Inconsistent(_)
                    | LedgerError::Json { .. } => true,
                    LedgerError::Note(n) => note(n),
                    _ => false,
                })
    })
}

fn log_command(cmd: LogCommand) -> anyhow::Result<ExitCode> {
    let args = match &cmd {
        LogCommand::Checkpoint(a) => a,
        LogCommand::Prove { log, .. } | LogCommand::Consistency { log, .. } => log,
    };
    let store = Store::from_url(&args.store).with_context(|| format!("store {}", args.store))?;
    let rt = runtime()?;
    let key = verifier_key(args, &store, &rt)?;
    let log = BatchLog::for_reader(&store, key.clone());
    match &cmd {
        LogCommand::Checkpoint(_) => {
            let Some((cp, note)) = rt.block_on(log.latest_checkpoint())? else {
                errln!("the log is empty: no batch has been anchored on the ledger yet");
                return Ok(ExitCode::from(1));
            };
            out!("{note}");
            errln!(
                "checkpoint of {} entries, signature by {} verified",
                cp.size,
                key.name()
            );
        }
        LogCommand::Prove { batch_id, .. } => {
            let receipt = rt.block_on(log.prove(batch_id))?;
            let cp: Checkpoint = receipt.verify(&key)?;
            outln!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "entry": receipt.entry,
                    "log_size": receipt.log_size,
                    "inclusion_proof": receipt.inclusion_proof,
                    "checkpoint": receipt.checkpoint,
                    "verifier_key": receipt.verifier_key,
                }))?
            );
            errln!(
                "entry {} is in the checkpoint of {} entries: verified",
                receipt.entry.index,
                cp.size
            );
        }
        LogCommand::Consistency { from, to, .. } => {
            let evidence = rt.block_on(log.consistency(*from, *to))?;
            outln!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "old_size": evidence.proof.old_size,
                    "new_size": evidence.proof.tree_size,
                    "proof": evidence.proof.hashes.iter().map(hex::encode).collect::<Vec<_>>(),
                    "old_checkpoint": evidence.old_checkpoint,
                    "new_checkpoint": evidence.new_checkpoint,
                }))?
            );
            errln!(
                "the log of {} entries extends the log of {}: verified",
                evidence.proof.tree_size,
                evidence.proof.old_size
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
