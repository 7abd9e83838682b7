//! `proofmark verify`: checks a code report (the JSON of `GET /v1/codes/{code}`)
//! or a single leaf proof offline, and optionally that the root is what an
//! EVM chain's anchor contract holds.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use proofmark_anchor::evm::{EvmClient, EvmConfig};
use proofmark_anchor::ledger::VerifierKey;
use proofmark_verifier::audit_codes::MALFORMED_REPORT;
use proofmark_verifier::verify::{
    AnchoredBatch, ChainCheck, ChainCheckError, CheckStatus, LEAF_PROOF_FORMAT, LeafProofDocument,
    ReportVerdict, Trust, verify_leaf_document, verify_report,
};
use proofmark_verifier::{CODE_REPORT_FORMAT, CodeReport};
use serde_json::Value;

/// Exit code: verified.
pub const EXIT_VERIFIED: u8 = 0;
/// Exit code: not verified.
pub const EXIT_NOT_VERIFIED: u8 = 1;
/// Exit code: something failed (unreadable input, chain unreachable).
pub const EXIT_ERROR: u8 = 2;

/// Name under which `--rpc` adds a chain check to a batch that carries no
/// `evm` receipt.
const RPC_ANCHOR: &str = "rpc";

/// Arguments of `proofmark verify`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 verified, 1 not verified (also a JSON document that is no \
                  valid code report or leaf proof: another format, a missing or unknown \
                  field), 2 error (unreadable file, not JSON, chain unreachable)."
)]
pub struct VerifyArgs {
    /// The file to check: a code report (`"format": "proofmark-code/1"`, the
    /// body of `GET /v1/codes/{code}`) or a leaf proof
    /// (`"format": "proofmark-leaf-proof/1"`: batch_id, suite, leaf_hash,
    /// leaf_index, root, leaf_count, manifest_digest, anchors, proof). `-`
    /// reads standard input.
    #[arg(value_name = "PROOF.json")]
    pub proof: PathBuf,
    /// A trusted `ledger` verifier key (`name+keyid+base64key`), or a file
    /// holding one, obtained independently of the report. Repeat for several
    /// logs. Without one, ledger receipts' signatures are not checked.
    #[arg(long = "ledger-key", value_name = "KEY")]
    pub ledger_keys: Vec<String>,
    /// JSON-RPC URL of an EVM node: the root each batch's anchor contract
    /// holds is read from the chain itself and compared (needs --contract).
    #[arg(long, value_name = "URL", requires = "contract")]
    pub rpc: Option<String>,
    /// The anchor contract's address (`0x...`), obtained independently.
    #[arg(long, value_name = "ADDR", requires = "rpc")]
    pub contract: Option<String>,
    /// The chain id the node must report (default: the `chain_id` of the
    /// batch's `evm` receipt; required when a batch has none).
    #[arg(long, value_name = "ID", requires = "rpc")]
    pub chain_id: Option<u64>,
    /// Accept batches with no anchor checked against a trusted key or chain:
    /// then only the report's own consistency is checked (records, leaves,
    /// proofs, receipts' inclusion), which proves nothing about who holds it.
    #[arg(long)]
    pub no_anchor_required: bool,
    /// Print the full verdict as JSON on standard output instead of a summary.
    #[arg(long)]
    pub json: bool,
}

/// Runs `proofmark verify`.
pub fn run_verify(args: VerifyArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    match verify_file(&args) {
        Ok(verdict) => {
            print_verdict(&verdict, args.json, quiet)?;
            let code = if verdict.verified {
                EXIT_VERIFIED
            } else if verdict.has_errors() {
                EXIT_ERROR
            } else {
                EXIT_NOT_VERIFIED
            };
            Ok(ExitCode::from(code))
        }
        Err(err) => {
            errln!("error: {err:#}");
            Ok(ExitCode::from(EXIT_ERROR))
        }
    }
}

fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .context("reading standard input")?;
        return Ok(buf);
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// Parses `--ledger-key` values: key text, or a file holding it.
pub fn parse_ledger_keys(values: &[String]) -> anyhow::Result<Vec<VerifierKey>> {
    values
        .iter()
        .map(|v| match VerifierKey::parse(v) {
            Ok(k) => Ok(k),
            Err(parse_err) => {
                let path = Path::new(v);
                if path.is_file() {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    VerifierKey::parse(text.trim())
                        .with_context(|| format!("{} does not hold a verifier key", path.display()))
                } else {
                    Err(anyhow::Error::new(parse_err)
                        .context(format!("--ledger-key {v:?} is neither a key nor a file")))
                }
            }
        })
        .collect()
}

fn verify_file(args: &VerifyArgs) -> anyhow::Result<ReportVerdict> {
    let bytes = read_input(&args.proof)?;
    let value: Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not JSON", args.proof.display()))?;
    let format = value
        .get("format")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut trust = Trust::new().with_require_anchor(!args.no_anchor_required);
    for key in parse_ledger_keys(&args.ledger_keys)? {
        trust = trust.with_ledger_key(key);
    }
    let runtime = match &args.rpc {
        Some(_) => Some(Arc::new(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?,
        )),
        None => None,
    };
    match format {
        CODE_REPORT_FORMAT => {
            let code = value
                .get("code")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            // A document in the report format that does not decode is a report
            // that fails its checks (SPEC.md 11.1), not an unreadable input.
            let mut report: CodeReport = match serde_json::from_value(value) {
                Ok(r) => r,
                Err(e) => {
                    return Ok(ReportVerdict::malformed(
                        &code,
                        format!("{MALFORMED_REPORT}: {e}"),
                    ));
                }
            };
            if let (Some(rpc), Some(contract), Some(rt)) = (&args.rpc, &args.contract, &runtime) {
                for batch in report.batches.values_mut() {
                    let root = batch.root.clone();
                    trust =
                        add_rpc_check(trust, &mut batch.anchors, &root, args, rpc, contract, rt)?;
                }
            }
            Ok(verify_report(&report, &trust))
        }
        LEAF_PROOF_FORMAT => {
            // Like a report: a document in the leaf proof format that does not decode
            // fails its checks (SPEC.md 11.4: unknown fields are an error of the document).
            let mut doc: LeafProofDocument = match serde_json::from_value(value) {
                Ok(d) => d,
                Err(e) => {
                    return Ok(ReportVerdict::malformed(
                        "",
                        format!("malformed leaf proof (SPEC.md 11.4): {e}"),
                    ));
                }
            };
            if let (Some(rpc), Some(contract), Some(rt)) = (&args.rpc, &args.contract, &runtime) {
                let root = doc.root.clone();
                trust = add_rpc_check(trust, &mut doc.anchors, &root, args, rpc, contract, rt)?;
            }
            Ok(verify_leaf_document(&doc, &trust))
        }
        // Nothing this verifier can vouch for: not verified, saying why.
        other => Ok(ReportVerdict::malformed(
            value
                .get("code")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            format!(
                "{}: format {other:?} is neither {CODE_REPORT_FORMAT:?} nor {LEAF_PROOF_FORMAT:?}",
                args.proof.display()
            ),
        )),
    }
}

/// Registers the chain check for every `evm` receipt of a batch, or adds an
/// `rpc` anchor to check when the batch has none.
fn add_rpc_check(
    mut trust: Trust,
    anchors: &mut BTreeMap<String, Value>,
    root: &str,
    args: &VerifyArgs,
    rpc: &str,
    contract: &str,
    runtime: &Arc<tokio::runtime::Runtime>,
) -> anyhow::Result<Trust> {
    let evm: Vec<(String, Option<u64>)> = anchors
        .iter()
        .filter(|(_, r)| r.get("type").and_then(Value::as_str) == Some("evm"))
        .map(|(name, r)| (name.clone(), r.get("chain_id").and_then(Value::as_u64)))
        .collect();
    let targets = if evm.is_empty() {
        let chain_id = args.chain_id.context(
            "--chain-id is needed: a batch has no evm receipt to take the chain id from",
        )?;
        // The root to look for is the batch's own; the check compares it
        // with what the contract holds.
        anchors.insert(
            RPC_ANCHOR.to_owned(),
            serde_json::json!({"type": "evm", "root": root}),
        );
        vec![(RPC_ANCHOR.to_owned(), Some(chain_id))]
    } else {
        evm
    };
    for (name, receipt_chain_id) in targets {
        let chain_id = args
            .chain_id
            .or(receipt_chain_id)
            .context("the evm receipt has no chain_id: give --chain-id")?;
        let mut config = EvmConfig::new(rpc, chain_id);
        config.contract = Some(contract.to_owned());
        trust = trust.with_chain_check(
            &name,
            Arc::new(EvmChainCheck::new(config, Arc::clone(runtime))),
        );
    }
    Ok(trust)
}

/// Reads a batch's anchor from an EVM anchor contract.
pub(crate) struct EvmChainCheck {
    config: EvmConfig,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl EvmChainCheck {
    /// A check against the node and contract of `config`, run on `runtime`.
    pub(crate) fn new(config: EvmConfig, runtime: Arc<tokio::runtime::Runtime>) -> Self {
        EvmChainCheck { config, runtime }
    }
}

impl ChainCheck for EvmChainCheck {
    fn check(
        &self,
        chain: &str,
        receipt: &Value,
        batch: &AnchoredBatch<'_>,
    ) -> Result<String, ChainCheckError> {
        if let Some(c) = receipt.get("contract").and_then(Value::as_str) {
            let given = self.config.contract.as_deref().unwrap_or_default();
            if !c.eq_ignore_ascii_case(given) {
                return Err(ChainCheckError::Mismatch(format!(
                    "the receipt names contract {c}, the trusted contract is {given}"
                )));
            }
        }
        // On a thread of its own: callers may be inside another runtime.
        let read = || {
            self.runtime.block_on(async {
            let unavailable = |e: proofmark_anchor::evm::EvmError| {
                ChainCheckError::Unavailable(e.to_string())
            };
            let submitter = receipt
                .get("submitter")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<proofmark_anchor::evm::Address>().ok())
                .ok_or_else(|| {
                    ChainCheckError::Mismatch(
                        "the receipt names no submitter account (anchors are kept per member)"
                            .into(),
                    )
                })?;
            let client = EvmClient::connect(chain, &self.config, None)
                .await
                .map_err(unavailable)?;
            let anchor = client
                .read_anchor(submitter, batch.batch_id)
                .await
                .map_err(unavailable)?
                .ok_or_else(|| {
                    ChainCheckError::Mismatch(format!(
                        "the contract holds no anchor for batch {} by {submitter}",
                        batch.batch_id
                    ))
                })?;
            let root = hex::encode(anchor.root);
            let digest = format!("blake3:{}", hex::encode(anchor.manifest_digest));
            if root != batch.root {
                return Err(ChainCheckError::Mismatch(format!(
                    "the contract holds root {root} for batch {}, not {}",
                    batch.batch_id, batch.root
                )));
            }
            if digest != batch.manifest_digest || anchor.leaf_count != batch.leaf_count {
                return Err(ChainCheckError::Mismatch(format!(
                    "the contract holds manifest {digest} and {} leaves, the batch says {} and {}",
                    anchor.leaf_count, batch.manifest_digest, batch.leaf_count
                )));
            }
            Ok(format!(
                "chain id {} holds root {root} since block {}",
                self.config.chain_id, anchor.block_number
            ))
        })
        };
        std::thread::scope(|scope| {
            scope.spawn(read).join().unwrap_or_else(|_| {
                Err(ChainCheckError::Unavailable(
                    "the chain reader panicked".into(),
                ))
            })
        })
    }
}

fn print_verdict(verdict: &ReportVerdict, json: bool, quiet: bool) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        serde_json::to_writer_pretty(&mut out, verdict)?;
        writeln!(out)?;
        return Ok(());
    }
    if verdict.verified {
        writeln!(
            out,
            "verified: {} ({} record(s) in {} batch(es))",
            verdict.code,
            verdict.records.len(),
            verdict.batches.len()
        )?;
    } else {
        writeln!(out, "NOT verified: {}", verdict.code)?;
        for reason in &verdict.reasons {
            writeln!(out, "  - {reason}")?;
        }
    }
    if !quiet {
        for (id, b) in &verdict.batches {
            for (chain, a) in &b.anchors {
                for c in &a.checks {
                    let (word, text) = match &c.status {
                        CheckStatus::Passed { detail } => {
                            ("ok", detail.clone().unwrap_or_default())
                        }
                        CheckStatus::Failed { reason } => ("FAILED", reason.clone()),
                        CheckStatus::NotChecked { reason } => ("not checked", reason.clone()),
                        CheckStatus::Error { reason } => ("ERROR", reason.clone()),
                    };
                    writeln!(
                        out,
                        "  batch {id} anchor {chain}: {:?} {word} {text}",
                        c.check
                    )?;
                }
            }
        }
    }
    Ok(())
}
