//! `proofmark verify`: checks a code report (the JSON of `GET /v1/codes/{code}`)
//! or a single leaf proof offline, and optionally that the root is what an
//! EVM chain's anchor contract holds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use alloy::primitives::B256;
use anyhow::Context as _;
use proofmark_anchor::evm::client::error_text;
use proofmark_anchor::evm::{Address, EvmClient, EvmConfig, EvmError, OnChainAnchor};
use proofmark_anchor::ledger::VerifierKey;
use proofmark_verifier::audit_codes::MALFORMED_REPORT;
use proofmark_verifier::consumer::pin::BOM;
use proofmark_verifier::report::parse_json_document;
use proofmark_verifier::verify::{
    AnchoredBatch, ChainCheck, ChainCheckError, Check, CheckStatus, LEAF_PROOF_FORMAT,
    LeafProofDocument, ReportVerdict, Trust, verify_leaf_document, verify_report,
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
                  field), 2 error (unreadable file, not JSON, chain unreachable), 3 an \
                  argument at fault (a --ledger-key that is no key, --rpc and --contract not \
                  in pairs, a --contract or --submitter that is no address, --chain-id or \
                  --submitter missing where needed)."
)]
pub struct VerifyArgs {
    /// The file to check: a code report (`"format": "proofmark-code/1"`, the
    /// body of `GET /v1/codes/{code}`) or a leaf proof
    /// (`"format": "proofmark-leaf-proof/1"`: batch_id, suite, leaf_hash,
    /// leaf_index, root, leaf_count, manifest_digest, anchors, proof). `-`
    /// reads standard input. A UTF-8 byte order mark at the start is skipped.
    #[arg(value_name = "PROOF.json")]
    pub proof: PathBuf,
    /// A trusted `ledger` verifier key (`name+keyid+base64key`), or a file
    /// holding one, obtained independently of the report. Repeat for several
    /// logs. Without one, ledger receipts' signatures are not checked.
    #[arg(long = "ledger-key", value_name = "KEY")]
    pub ledger_keys: Vec<String>,
    /// JSON-RPC URL of an EVM node, paired with the `--contract` at the same
    /// position: each `evm` receipt that names that contract is checked on that
    /// node (the anchor the contract holds, and the receipt's transaction, block
    /// and submitter, SPEC.md 9.4). Repeat the pair for reports anchored on
    /// several chains; a receipt whose contract and chain id match no pair is
    /// "not checked" (it neither verifies nor fails). With --rpc, every batch
    /// must be confirmed on a chain given: one whose `evm` receipts are all of
    /// other contracts or chain ids is not verified, whatever its ledger
    /// receipt (unless --no-anchor-required).
    #[arg(long = "rpc", value_name = "URL", requires = "contracts")]
    pub rpcs: Vec<String>,
    /// The anchor contract's address (`0x...`), obtained independently; one
    /// per `--rpc`, in the same order.
    #[arg(long = "contract", value_name = "ADDR", requires = "rpcs")]
    pub contracts: Vec<String>,
    /// The chain id the node must report (with a single `--rpc`; default: the
    /// `chain_id` of each `evm` receipt; required when a batch has none).
    /// Receipts of another chain id are then not checked.
    #[arg(long, value_name = "ID", requires = "rpcs")]
    pub chain_id: Option<u64>,
    /// The member account (`0x...`) whose anchor to read, for a batch that
    /// has no `evm` receipt (the contract keeps anchors per member, SPEC.md
    /// 9.4; a receipt names its own submitter). With a single `--rpc`.
    #[arg(long, value_name = "ADDR", requires = "rpcs")]
    pub submitter: Option<String>,
    /// Seconds to keep trying a node that does not answer (retries with back-off included)
    /// before its receipts are "could not be checked"; a node that failed is not tried again
    /// for the report's other batches.
    #[arg(long, value_name = "SECS", default_value_t = 30, requires = "rpcs",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub rpc_timeout_secs: u64,
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
        Ok((verdict, document)) => {
            print_verdict(&verdict, document, args.json, quiet)?;
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
            errln!("error: {}", crate::exit::message(&err));
            Ok(ExitCode::from(crate::exit::classify(&err).code()))
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
        .collect::<anyhow::Result<Vec<_>>>()
        .map_err(|e| {
            e.context(crate::exit::Classified(
                crate::exit::ExitClass::Input,
                "a --ledger-key value is not a verifier key",
            ))
        })
}

/// A JSON document, after the UTF-8 byte order mark that some editors write at the start
/// of a saved file (RFC 8259 lets a reader ignore it).
fn json_document(bytes: &[u8]) -> serde_json::Result<(Value, Option<String>)> {
    parse_json_document(bytes.strip_prefix(BOM).unwrap_or(bytes))
}

/// What `proofmark verify` was given: the verdict line names what a verified one shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Document {
    /// A code report (or a document that is none): records.
    Report,
    /// A leaf proof (SPEC.md 11.4): a leaf hash, no record.
    Leaf,
}

fn verify_file(args: &VerifyArgs) -> anyhow::Result<(ReportVerdict, Document)> {
    let bytes = read_input(&args.proof)?;
    let (value, twice) =
        json_document(&bytes).with_context(|| format!("{} is not JSON", args.proof.display()))?;
    let format = value
        .get("format")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if let Some(why) = twice {
        let code = value
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let (what, document) = match format {
            LEAF_PROOF_FORMAT => ("malformed leaf proof (SPEC.md 11.4)", Document::Leaf),
            CODE_REPORT_FORMAT => (MALFORMED_REPORT, Document::Report),
            _ => ("malformed document", Document::Report),
        };
        return Ok((
            ReportVerdict::malformed(code, format!("{what}: {why}")),
            document,
        ));
    }
    let mut trust = Trust::new().with_require_anchor(!args.no_anchor_required);
    for key in parse_ledger_keys(&args.ledger_keys)? {
        trust = trust.with_ledger_key(key);
    }
    let nodes = trusted_nodes(args)?;
    // A chain given to check against is one every batch must be confirmed on: a ledger
    // receipt alone, or a receipt of a contract not given, does not do.
    trust = trust.with_require_chain(!nodes.is_empty() && !args.no_anchor_required);
    let runtime = if nodes.is_empty() {
        None
    } else {
        Some(Arc::new(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?,
        ))
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
                    return Ok((
                        ReportVerdict::malformed(&code, format!("{MALFORMED_REPORT}: {e}")),
                        Document::Report,
                    ));
                }
            };
            if let Some(rt) = &runtime {
                let batches = report.batches.iter_mut().map(|(id, batch)| {
                    let fields = commitment(
                        id,
                        &batch.suite,
                        &batch.root,
                        batch.leaf_count,
                        &batch.manifest_digest,
                    );
                    (fields, &mut batch.anchors)
                });
                trust = rpc_trust(trust, batches, args, &nodes, rt)?;
            }
            Ok((verify_report(&report, &trust), Document::Report))
        }
        LEAF_PROOF_FORMAT => {
            // Like a report: a document in the leaf proof format that does not decode
            // fails its checks (SPEC.md 11.4: unknown fields are an error of the document).
            let mut doc: LeafProofDocument = match serde_json::from_value(value) {
                Ok(d) => d,
                Err(e) => {
                    return Ok((
                        ReportVerdict::malformed(
                            "",
                            format!("malformed leaf proof (SPEC.md 11.4): {e}"),
                        ),
                        Document::Leaf,
                    ));
                }
            };
            if let Some(rt) = &runtime {
                let fields = commitment(
                    &doc.batch_id,
                    &doc.suite,
                    &doc.root,
                    doc.leaf_count,
                    &doc.manifest_digest,
                );
                let batches = std::iter::once((fields, &mut doc.anchors));
                trust = rpc_trust(trust, batches, args, &nodes, rt)?;
            }
            Ok((verify_leaf_document(&doc, &trust), Document::Leaf))
        }
        // Nothing this verifier can vouch for: not verified, saying why.
        other => Ok((
            ReportVerdict::malformed(
                value
                    .get("code")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                format!(
                    "{}: {}",
                    args.proof.display(),
                    not_a_document(&value, other)
                ),
            ),
            Document::Report,
        )),
    }
}

/// Why a JSON document whose `format` (`format`, empty when missing or not text) is neither
/// a code report's nor a leaf proof's is nothing to verify: an error answer of the service
/// (`{"code", "error": {"code", "message"}}`, e.g. `unknown_code`) says so, a document
/// without `format` says the field is missing.
fn not_a_document(value: &Value, format: &str) -> String {
    if let Some(error) = value.get("error") {
        let kind = error.get("code").and_then(Value::as_str).unwrap_or("?");
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(String::new, |m| format!(": {m}"));
        return format!(
            "an error answer of the service ({kind}{message}), not a code report or a leaf \
             proof: there is nothing to verify"
        );
    }
    match value.get("format") {
        None => format!(
            "the document has no \"format\" field: a code report has \
             {CODE_REPORT_FORMAT:?}, a leaf proof {LEAF_PROOF_FORMAT:?}"
        ),
        Some(Value::String(_)) => {
            format!("format {format:?} is neither {CODE_REPORT_FORMAT:?} nor {LEAF_PROOF_FORMAT:?}")
        }
        Some(other) => format!(
            "format {other} is not text: a code report has {CODE_REPORT_FORMAT:?}, a leaf \
             proof {LEAF_PROOF_FORMAT:?}"
        ),
    }
}

/// A node and the anchor contract on it, as `--rpc` and `--contract` give them.
#[derive(Debug, Clone)]
struct TrustedNode {
    rpc: String,
    contract: Address,
}

/// The chain check of a receipt that none of the chains given can check: "not checked",
/// saying why (rather than "no chain to read was given").
struct NotThisChain(String);

impl ChainCheck for NotThisChain {
    fn check(
        &self,
        _chain: &str,
        _receipt: &Value,
        _batch: &AnchoredBatch<'_>,
    ) -> Result<String, ChainCheckError> {
        Err(ChainCheckError::NotApplicable(self.0.clone()))
    }
}

/// The `--rpc`/`--contract` pairs, with the addresses checked (EIP-55 when mixed case).
fn trusted_nodes(args: &VerifyArgs) -> anyhow::Result<Vec<TrustedNode>> {
    if args.rpcs.len() != args.contracts.len() {
        return Err(crate::exit::input_error(anyhow::anyhow!(
            "{} --rpc and {} --contract given: each --rpc goes with one --contract, in the same \
             order",
            args.rpcs.len(),
            args.contracts.len()
        )));
    }
    if args.chain_id.is_some() && args.rpcs.len() > 1 {
        return Err(crate::exit::input_error(anyhow::anyhow!(
            "--chain-id goes with a single --rpc"
        )));
    }
    args.rpcs
        .iter()
        .zip(&args.contracts)
        .map(|(rpc, contract)| {
            Ok(TrustedNode {
                rpc: rpc.clone(),
                contract: parse_address(contract)
                    .with_context(|| format!("--contract {contract:?}"))
                    .map_err(crate::exit::input_error)?,
            })
        })
        .collect()
}

/// What a batch commits to, as a receipt writes it (SPEC.md 11.2, step 3).
fn commitment(
    batch_id: &str,
    suite: &str,
    root: &str,
    leaf_count: u64,
    manifest_digest: &str,
) -> serde_json::Map<String, Value> {
    [
        ("batch_id", Value::from(batch_id)),
        ("suite", Value::from(suite)),
        ("root", Value::from(root)),
        ("leaf_count", Value::from(leaf_count)),
        ("manifest_digest", Value::from(manifest_digest)),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

/// `trust` with the `--rpc` chain checks of `batches` (each batch's commitment and its
/// anchors, [`add_rpc_check`]).
fn rpc_trust<'a>(
    trust: Trust,
    batches: impl IntoIterator<
        Item = (
            serde_json::Map<String, Value>,
            &'a mut BTreeMap<String, Value>,
        ),
    >,
    args: &VerifyArgs,
    nodes: &[TrustedNode],
    runtime: &Arc<tokio::runtime::Runtime>,
) -> anyhow::Result<Trust> {
    let mut checks = RpcChecks::default();
    for (fields, anchors) in batches {
        add_rpc_check(&mut checks, anchors, fields, args, nodes, runtime)?;
    }
    Ok(checks.into_trust(trust))
}

/// Registers a chain check for every `evm` receipt of a batch whose contract (and chain
/// id) one of `nodes` serves, or adds an `rpc` anchor (the batch's commitment, `batch_fields`)
/// to check when the batch has none. A receipt that no node serves is "not checked", saying
/// why ([`NotThisChain`]).
fn add_rpc_check(
    checks: &mut RpcChecks,
    anchors: &mut BTreeMap<String, Value>,
    batch_fields: serde_json::Map<String, Value>,
    args: &VerifyArgs,
    nodes: &[TrustedNode],
    runtime: &Arc<tokio::runtime::Runtime>,
) -> anyhow::Result<()> {
    let batch_id = batch_fields
        .get("batch_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut add = |name: &str, check: Arc<dyn ChainCheck>| {
        checks
            .by_name
            .entry(name.to_owned())
            .or_default()
            .0
            .insert(batch_id.clone(), check);
    };
    let evm: Vec<(String, Option<u64>, Option<String>)> = anchors
        .iter()
        .filter(|(_, r)| r.get("type").and_then(Value::as_str) == Some("evm"))
        .map(|(name, r)| {
            (
                name.clone(),
                r.get("chain_id").and_then(Value::as_u64),
                r.get("contract").and_then(Value::as_str).map(str::to_owned),
            )
        })
        .collect();
    if evm.is_empty() {
        let chain_id = args
            .chain_id
            .context("--chain-id is needed: a batch has no evm receipt to take the chain id from")
            .map_err(crate::exit::input_error)?;
        let [node] = nodes else {
            return Err(crate::exit::input_error(anyhow::anyhow!(
                "a batch has no evm receipt: check its root with a single --rpc"
            )));
        };
        let submitter = args
            .submitter
            .as_deref()
            .context(
                "--submitter is needed: a batch has no evm receipt to name the member whose \
                 anchor to read",
            )
            .map_err(crate::exit::input_error)?;
        let submitter = parse_address(submitter)
            .with_context(|| format!("--submitter {submitter:?}"))
            .map_err(crate::exit::input_error)?;
        // The receipt to confirm is the batch's own commitment; the check compares its root
        // with what the contract holds under that member.
        let mut receipt = batch_fields;
        receipt.insert("type".into(), Value::from("evm"));
        receipt.insert("submitter".into(), Value::from(submitter.to_string()));
        anchors.insert(RPC_ANCHOR.to_owned(), Value::Object(receipt));
        let check =
            EvmChainCheck::root_only(node_config(node, chain_id, args), Arc::clone(runtime))
                .keeping_failures()
                .sharing(&checks.nodes);
        add(RPC_ANCHOR, Arc::new(check));
        return Ok(());
    }
    for (name, receipt_chain_id, receipt_contract) in evm {
        let chain_id = match (args.chain_id, receipt_chain_id) {
            (Some(given), Some(named)) if given != named => {
                let why = format!(
                    "the receipt is for chain id {named}, and --chain-id {given} was given"
                );
                add(&name, Arc::new(NotThisChain(why)));
                continue;
            }
            (Some(id), _) | (None, Some(id)) => id,
            (None, None) => {
                anyhow::bail!("the evm receipt {name} has no chain_id: give --chain-id")
            }
        };
        // The receipt's contract must be a trusted one; a receipt without one is compared
        // with every trusted contract (and fails on each but its own).
        let candidates: Vec<EvmConfig> = nodes
            .iter()
            .filter(|n| {
                receipt_contract
                    .as_deref()
                    .is_none_or(|c| c.eq_ignore_ascii_case(&n.contract.to_string()))
            })
            .map(|n| node_config(n, chain_id, args))
            .collect();
        if candidates.is_empty() {
            let given: Vec<String> = nodes.iter().map(|n| n.contract.to_string()).collect();
            let why = format!(
                "the receipt's contract {} is not the --contract given ({})",
                receipt_contract.as_deref().unwrap_or("(none)"),
                given.join(", ")
            );
            add(&name, Arc::new(NotThisChain(why)));
            continue;
        }
        let check = EvmChainCheck::among(candidates, args.chain_id.is_none(), Arc::clone(runtime))
            .keeping_failures()
            .sharing(&checks.nodes);
        add(&name, Arc::new(check));
    }
    Ok(())
}

/// The `--rpc` checks of a report's batches, by anchor name and then batch, and what they
/// learn of the nodes.
#[derive(Default)]
struct RpcChecks {
    by_name: BTreeMap<String, PerBatch>,
    nodes: NodeMemory,
}

impl RpcChecks {
    /// `trust` with a check for every anchor name.
    fn into_trust(self, mut trust: Trust) -> Trust {
        for (name, check) in self.by_name {
            trust = trust.with_chain_check(&name, Arc::new(check));
        }
        trust
    }
}

fn node_config(node: &TrustedNode, chain_id: u64, args: &VerifyArgs) -> EvmConfig {
    let mut config = EvmConfig::new(node.rpc.clone(), chain_id);
    config.contract = Some(node.contract.to_string());
    config.rpc_timeout_secs = args.rpc_timeout_secs;
    config.request_timeout_secs = config.request_timeout_secs.min(args.rpc_timeout_secs);
    config
}

/// An address as a person types it: `0x` and 40 hex digits, all lowercase, all uppercase,
/// or in its EIP-55 checksum case (a mixed-case address with a wrong checksum is
/// mistyped, and refused).
pub(crate) fn parse_address(text: &str) -> anyhow::Result<Address> {
    let digits = text
        .strip_prefix("0x")
        .filter(|d| d.len() == 40 && d.bytes().all(|b| b.is_ascii_hexdigit()))
        .with_context(|| format!("{text:?} is not an address (0x and 40 hex digits)"))?;
    let mixed = digits.bytes().any(|b| b.is_ascii_lowercase())
        && digits.bytes().any(|b| b.is_ascii_uppercase());
    if mixed {
        return Address::parse_checksummed(text, None).map_err(|_| {
            anyhow::anyhow!(
                "{text:?} has a wrong EIP-55 checksum (a mistyped character?): give it as \
                 printed, or all in lowercase"
            )
        });
    }
    text.parse()
        .with_context(|| format!("{text:?} is not an address"))
}

/// Reads a batch's anchor from an EVM anchor contract, and (for a stored receipt) checks the
/// receipt's transaction against the chain (SPEC.md 9.4).
/// What checks know of nodes, by (node, contract): `None` its contract was checked,
/// `Some(why)` it failed ([`EvmChainCheck::keeping_failures`]).
type NodeMemory =
    Arc<std::sync::Mutex<std::collections::HashMap<(String, String), Option<String>>>>;

/// The chain checks of one anchor name, one per batch: `--rpc` chooses the node of a
/// receipt by its own contract and chain id, which batches that share the name may not
/// share.
#[derive(Default)]
struct PerBatch(BTreeMap<String, Arc<dyn ChainCheck>>);

impl ChainCheck for PerBatch {
    fn check(
        &self,
        chain: &str,
        receipt: &Value,
        batch: &AnchoredBatch<'_>,
    ) -> Result<String, ChainCheckError> {
        match self.0.get(batch.batch_id) {
            Some(check) => check.check(chain, receipt, batch),
            None => Err(ChainCheckError::NotApplicable(format!(
                "no --rpc check was set up for batch {}",
                batch.batch_id
            ))),
        }
    }
}

pub(crate) struct EvmChainCheck {
    /// The nodes (with their contract) that may serve the receipt's chain; the first whose
    /// chain id is the configured one is read.
    candidates: Vec<EvmConfig>,
    /// Whether a node of another chain id means "not this receipt's chain" (the chain id
    /// came from the receipt) rather than an error (the chain id was configured).
    other_chain_not_applicable: bool,
    /// Whether the receipt's transaction fields are checked (false for the root alone).
    check_transaction: bool,
    runtime: Arc<tokio::runtime::Runtime>,
    /// What was learnt of each node (by URL and contract): its contract checked (`None`), or,
    /// when failures are kept ([`EvmChainCheck::keeping_failures`]), why it could not be
    /// read or is no anchor contract, so that the other batches of a report are not each
    /// retried for the node's whole RPC budget.
    nodes: NodeMemory,
    /// Whether a node's failure is kept for the checks after it (a one-off command), or each
    /// check reads the node again (a long-lived server).
    keep_failures: bool,
    /// Whether the chain is a named one of a chains file (`audit batch --chain`, `serve
    /// --chain`): its receipt must then be for the chain id the node serves, a receipt of
    /// another chain id under its name being a mismatch, not a receipt of another chain.
    named_chain: bool,
}

impl EvmChainCheck {
    /// A check of stored receipts of the chain `config` defines (a named chain of a chains
    /// file) against its node and contract, run on `runtime`: a receipt whose `chain_id` is
    /// not the one the node serves is a mismatch (SPEC.md 9.4: the contract is read on a
    /// node of chain `chain_id`).
    pub(crate) fn new(config: EvmConfig, runtime: Arc<tokio::runtime::Runtime>) -> Self {
        EvmChainCheck {
            candidates: vec![config],
            other_chain_not_applicable: false,
            check_transaction: true,
            runtime,
            nodes: NodeMemory::default(),
            keep_failures: false,
            named_chain: true,
        }
    }

    /// The same check, keeping a node's failure (unreachable, or no anchor contract at the
    /// address) for the checks after it: for one-off commands, which should fail once per
    /// node, not once per batch.
    pub(crate) fn keeping_failures(mut self) -> Self {
        self.keep_failures = true;
        self
    }

    /// The same check, knowing what `nodes` knows of the nodes and adding to it: checks of
    /// one report's batches share it, so a node that failed is not asked again.
    fn sharing(mut self, nodes: &NodeMemory) -> Self {
        self.nodes = Arc::clone(nodes);
        self
    }

    /// A check of a stored receipt on the first of `candidates` that serves its chain id.
    fn among(
        candidates: Vec<EvmConfig>,
        other_chain_not_applicable: bool,
        runtime: Arc<tokio::runtime::Runtime>,
    ) -> Self {
        EvmChainCheck {
            candidates,
            other_chain_not_applicable,
            check_transaction: true,
            runtime,
            nodes: NodeMemory::default(),
            keep_failures: false,
            named_chain: false,
        }
    }

    /// A check of the batch root alone (no receipt to check).
    fn root_only(config: EvmConfig, runtime: Arc<tokio::runtime::Runtime>) -> Self {
        EvmChainCheck {
            check_transaction: false,
            named_chain: false,
            ..Self::new(config, runtime)
        }
    }

    /// The node (by URL) and contract of `config`, as [`EvmChainCheck::nodes`] keys them.
    fn node_key(config: &EvmConfig) -> (String, String) {
        (
            format!("{:?} {:?}", config.rpc_url, config.rpc_url_env),
            config
                .contract
                .clone()
                .unwrap_or_default()
                .to_ascii_lowercase(),
        )
    }

    /// What is known of the node of `config`: `Some(None)` its contract was checked,
    /// `Some(Some(why))` it failed (kept only when failures are kept), `None` nothing yet.
    fn known(&self, config: &EvmConfig) -> Option<Option<String>> {
        let nodes = self
            .nodes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        nodes.get(&Self::node_key(config)).cloned()
    }

    fn learn(&self, config: &EvmConfig, failure: Option<String>) {
        if failure.is_some() && !self.keep_failures {
            return;
        }
        let mut nodes = self
            .nodes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        nodes.insert(Self::node_key(config), failure);
    }

    /// Connects to the first candidate node that serves the chain id, and checks once per node
    /// that its contract is an anchor contract (a wrong address then says so, rather than
    /// failing to decode an answer).
    async fn connect(&self, chain: &str) -> Result<(EvmClient, &EvmConfig), ChainCheckError> {
        let mut other_chains = Vec::new();
        for config in &self.candidates {
            let checked = match self.known(config) {
                Some(Some(why)) => return Err(ChainCheckError::Unavailable(why)),
                Some(None) => true,
                None => false,
            };
            let connected = async {
                let client = EvmClient::connect(chain, config, None).await?;
                if !checked {
                    client.check_contract().await?;
                    self.learn(config, None);
                }
                Ok(client)
            };
            match connected.await {
                Ok(client) => return Ok((client, config)),
                Err(EvmError::WrongChainId { url, actual, .. })
                    if self.other_chain_not_applicable =>
                {
                    other_chains.push(format!("{url} serves chain id {actual}"));
                }
                Err(e) => {
                    let why = error_text(&e);
                    self.learn(config, Some(why.clone()));
                    return Err(ChainCheckError::Unavailable(why));
                }
            }
        }
        let chain_id = self.candidates.first().map_or(0, |c| c.chain_id);
        Err(ChainCheckError::NotApplicable(format!(
            "the receipt is for chain id {chain_id}, and no --rpc given serves it ({})",
            other_chains.join(", ")
        )))
    }

    async fn check_on_chain(
        &self,
        chain: &str,
        receipt: &Value,
        batch: &AnchoredBatch<'_>,
    ) -> Result<String, ChainCheckError> {
        let unavailable = |e: EvmError| ChainCheckError::Unavailable(error_text(&e));
        if self.named_chain {
            let kind = receipt.get("type");
            if kind.and_then(Value::as_str) != Some("evm") {
                return Err(ChainCheckError::Mismatch(format!(
                    "the receipt's type is {}, but chain {chain} is an evm chain",
                    kind.map_or_else(|| "missing".to_owned(), Value::to_string)
                )));
            }
        }
        let claim = if self.check_transaction {
            Some(TransactionClaim::parse(receipt)?)
        } else {
            None
        };
        // Anchors are kept per member (SPEC.md 9.4): read the one of the
        // account the receipt names.
        let submitter = receipt
            .get("submitter")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ChainCheckError::Mismatch(
                    "the receipt names no submitter account (anchors are kept per member)".into(),
                )
            })?;
        let submitter: Address = submitter.parse().map_err(|_| {
            ChainCheckError::Mismatch(format!(
                "the evm receipt's submitter {submitter:?} is not an address"
            ))
        })?;
        let (client, config) = self.connect(chain).await?;
        if self.named_chain {
            // The node was found to serve `config.chain_id` (eth_chainId) on connecting.
            let serves = config.chain_id;
            match receipt.get("chain_id") {
                Some(id) if id.as_u64() == Some(serves) => {}
                Some(id) => {
                    return Err(ChainCheckError::Mismatch(format!(
                        "the receipt is for chain id {id}, but the node of chain {chain} serves \
                         chain id {serves}"
                    )));
                }
                None => {
                    return Err(ChainCheckError::Mismatch(format!(
                        "the evm receipt names no chain_id (the node of chain {chain} serves \
                         chain id {serves})"
                    )));
                }
            }
        }
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
        let Some(claim) = claim else {
            return Ok(format!(
                "chain id {} holds root {root} since block {}",
                config.chain_id, anchor.block_number
            ));
        };
        claim
            .check(&client, submitter, batch.batch_id, &anchor)
            .await?;
        Ok(format!(
            "chain id {}: tx {} in block {} ({}) anchored root {root}",
            config.chain_id, claim.tx_hash, claim.block_number, claim.block_hash
        ))
    }
}

/// What an `evm` receipt says about its transaction (SPEC.md 9.4).
struct TransactionClaim {
    tx_hash: B256,
    block_number: u64,
    block_hash: B256,
    log_size: u64,
    log_root: String,
}

impl TransactionClaim {
    fn parse(receipt: &Value) -> Result<Self, ChainCheckError> {
        let field = |name: &str| {
            receipt
                .get(name)
                .ok_or_else(|| ChainCheckError::Mismatch(format!("the evm receipt has no {name}")))
        };
        let text = |name: &str| {
            field(name)?.as_str().ok_or_else(|| {
                ChainCheckError::Mismatch(format!("the evm receipt's {name} is not a string"))
            })
        };
        let number = |name: &str| {
            field(name)?.as_u64().ok_or_else(|| {
                ChainCheckError::Mismatch(format!("the evm receipt's {name} is not a number"))
            })
        };
        let hash = |name: &str| {
            let t = text(name)?;
            t.parse::<B256>().map_err(|_| {
                ChainCheckError::Mismatch(format!("the evm receipt's {name} {t:?} is not a hash"))
            })
        };
        Ok(TransactionClaim {
            tx_hash: hash("tx_hash")?,
            block_number: number("block_number")?,
            block_hash: hash("block_hash")?,
            log_size: number("log_size")?,
            log_root: text("log_root")?.to_owned(),
        })
    }

    /// Checks the claim against the chain, where the contract holds `anchor` for `batch_id`
    /// under the receipt's `submitter` (anchors are kept per member, so the contract read
    /// under that account is the submitter check): the anchor was written in the receipt's
    /// block with the receipt's log checkpoint; the contract's `Anchored` event for the batch in that
    /// block is in the receipt's transaction, which succeeded; and that block, with the
    /// receipt's hash, is on the canonical chain.
    async fn check(
        &self,
        client: &EvmClient,
        submitter: Address,
        batch_id: &str,
        anchor: &OnChainAnchor,
    ) -> Result<(), ChainCheckError> {
        let unavailable = |e: EvmError| ChainCheckError::Unavailable(error_text(&e));
        let mismatch = |m: String| Err(ChainCheckError::Mismatch(m));
        if anchor.block_number != self.block_number {
            return mismatch(format!(
                "the contract anchored batch {batch_id} in block {}, the receipt says block {}",
                anchor.block_number, self.block_number
            ));
        }
        let log_root = hex::encode(anchor.log_root);
        if anchor.log_size != self.log_size || log_root != self.log_root {
            return mismatch(format!(
                "the contract's anchor of batch {batch_id} carries log size {} root {log_root}, \
                 the receipt says log size {} root {}",
                anchor.log_size, self.log_size, self.log_root
            ));
        }
        let Some(tx) = client
            .find_anchor_tx(submitter, batch_id, anchor.block_number)
            .await
            .map_err(unavailable)?
        else {
            return mismatch(format!(
                "the node has no Anchored event of the contract for batch {batch_id} in block {}",
                anchor.block_number
            ));
        };
        if tx.tx_hash != self.tx_hash {
            return mismatch(format!(
                "the contract's Anchored event for batch {batch_id} is in transaction {}, not \
                 the receipt's {}",
                tx.tx_hash, self.tx_hash
            ));
        }
        if !tx.success {
            return mismatch(format!("transaction {} failed", self.tx_hash));
        }
        let canonical = client
            .still_canonical(self.tx_hash, self.block_number, self.block_hash)
            .await
            .map_err(unavailable)?;
        if canonical.is_none() {
            return mismatch(format!(
                "transaction {} is not in block {} with hash {} on the canonical chain",
                self.tx_hash, self.block_number, self.block_hash
            ));
        }
        Ok(())
    }
}

impl ChainCheck for EvmChainCheck {
    fn check(
        &self,
        chain: &str,
        receipt: &Value,
        batch: &AnchoredBatch<'_>,
    ) -> Result<String, ChainCheckError> {
        if let Some(c) = receipt.get("contract").and_then(Value::as_str)
            && let [config] = self.candidates.as_slice()
        {
            let given = config.contract.as_deref().unwrap_or_default();
            if !c.eq_ignore_ascii_case(given) {
                return Err(ChainCheckError::Mismatch(format!(
                    "the receipt names contract {c}, the trusted contract is {given}"
                )));
            }
        }
        // On a thread of its own: callers may be inside another runtime.
        let read = || {
            self.runtime
                .block_on(self.check_on_chain(chain, receipt, batch))
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

/// The line that opens a verdict: what a verified document shows (SPEC.md 11.2, 11.4).
fn verdict_line(verdict: &ReportVerdict, document: Document) -> String {
    if !verdict.verified {
        // Exit 2 rather than 1: say so where the eye falls first.
        if verdict.has_errors() {
            return format!(
                "NOT verified (a check could not be made; see below): {}",
                verdict.code
            );
        }
        return format!("NOT verified: {}", verdict.code);
    }
    match document {
        // A leaf proof shows that some record with that leaf hash was committed, no more.
        Document::Leaf => format!("verified: {} (1 leaf in 1 batch)", verdict.code),
        Document::Report => format!(
            "verified: {} ({} record(s) in {} batch(es))",
            verdict.code,
            verdict.records.len(),
            verdict.batches.len()
        ),
    }
}

/// One check of an anchor as the summary lists it: its name, its outcome, and why or what
/// (`chain not checked: no node and contract of its chain to read were given`, `commitment
/// ok`).
fn check_line(c: &Check) -> String {
    let (word, text) = match &c.status {
        CheckStatus::Passed { detail } => ("ok", detail.as_deref().unwrap_or_default()),
        CheckStatus::Failed { reason } => ("FAILED", reason.as_str()),
        CheckStatus::NotChecked { reason } => ("not checked", reason.as_str()),
        CheckStatus::Error { reason } => ("ERROR", reason.as_str()),
    };
    if text.is_empty() {
        format!("{} {word}", c.check.name())
    } else {
        format!("{} {word}: {text}", c.check.name())
    }
}

fn print_verdict(
    verdict: &ReportVerdict,
    document: Document,
    json: bool,
    quiet: bool,
) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    // Built whole, then written with a closed pipe (`| head`) ignored: the exit code is
    // the answer, and a reader that stopped early does not turn it into an error.
    let mut out = String::new();
    if json {
        out = serde_json::to_string_pretty(verdict)?;
        out.push('\n');
        super::pipeline::emit(&out);
        return Ok(());
    }
    writeln!(out, "{}", verdict_line(verdict, document))?;
    if !verdict.verified {
        for reason in &verdict.reasons {
            writeln!(out, "  - {reason}")?;
        }
    }
    if !quiet {
        for (id, b) in &verdict.batches {
            for (chain, a) in &b.anchors {
                for c in &a.checks {
                    writeln!(out, "  batch {id} anchor {chain}: {}", check_line(c))?;
                }
            }
        }
    }
    super::pipeline::emit(&out);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Two batches with receipts under one name, of different contracts: each batch's
    /// receipt is checked as its own contract says (here: one on the node of the contract
    /// given, which cannot be reached, the other not checked), not both as the last
    /// batch's.
    #[test]
    fn receipts_of_one_name_are_checked_per_batch() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: VerifyArgs,
        }
        const GIVEN: &str = "0x1111111111111111111111111111111111111111";
        const OTHER: &str = "0x2222222222222222222222222222222222222222";
        let cli = <Cli as clap::Parser>::try_parse_from([
            "verify",
            "report.json",
            "--rpc",
            "http://127.0.0.1:9",
            "--contract",
            GIVEN,
            "--rpc-timeout-secs",
            "1",
        ])
        .unwrap();
        let nodes = trusted_nodes(&cli.args).unwrap();
        let rt = Arc::new(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        );
        let mut checks = RpcChecks::default();
        let root = "ab".repeat(32);
        let digest = format!("blake3:{}", "cd".repeat(32));
        for (batch, contract) in [("a", GIVEN), ("b", OTHER)] {
            let fields = commitment(batch, "blake3", &root, 1, &digest);
            let mut receipt = fields.clone();
            receipt.insert("type".into(), Value::from("evm"));
            receipt.insert("chain_id".into(), Value::from(31337));
            receipt.insert("contract".into(), Value::from(contract));
            let mut anchors = BTreeMap::from([("polygon".to_owned(), Value::Object(receipt))]);
            add_rpc_check(&mut checks, &mut anchors, fields, &cli.args, &nodes, &rt).unwrap();
        }
        let polygon = &checks.by_name["polygon"];
        let batch = |batch_id| AnchoredBatch {
            batch_id,
            suite: "blake3",
            root: &root,
            leaf_count: 1,
            manifest_digest: &digest,
        };
        let receipt = serde_json::json!({"type": "evm", "submitter": GIVEN});
        assert!(matches!(
            polygon.check("polygon", &receipt, &batch("b")),
            Err(ChainCheckError::NotApplicable(why)) if why.contains("is not the --contract given")
        ));
        assert!(matches!(
            polygon.check("polygon", &receipt, &batch("a")),
            Err(ChainCheckError::Unavailable(_)) | Err(ChainCheckError::Mismatch(_))
        ));
    }

    #[test]
    fn a_verified_leaf_proof_is_one_leaf_not_a_record() {
        let mut verdict = ReportVerdict::malformed("nightly-2026-11-25", "x");
        verdict.verified = true;
        let line = verdict_line(&verdict, Document::Leaf);
        assert_eq!(line, "verified: nightly-2026-11-25 (1 leaf in 1 batch)");
        assert!(!line.contains("record"));
        assert!(verdict_line(&verdict, Document::Report).contains("0 record(s)"));
        verdict.verified = false;
        assert_eq!(
            verdict_line(&verdict, Document::Leaf),
            "NOT verified: nightly-2026-11-25"
        );
    }

    #[test]
    fn an_anchor_check_line_says_each_word_once() {
        let line = |status| {
            check_line(&Check {
                check: proofmark_verifier::verify::CheckKind::Chain,
                status,
            })
        };
        assert_eq!(
            line(CheckStatus::NotChecked {
                reason: "no node given".into()
            }),
            "chain not checked: no node given"
        );
        assert_eq!(line(CheckStatus::Passed { detail: None }), "chain ok");
        assert_eq!(
            line(CheckStatus::Passed {
                detail: Some("block 5".into())
            }),
            "chain ok: block 5"
        );
        assert_eq!(
            line(CheckStatus::Failed {
                reason: "another root".into()
            }),
            "chain FAILED: another root"
        );
    }

    #[test]
    fn a_document_that_is_no_report_says_what_it_is() {
        let error = serde_json::json!({"code": "X", "error": {"code": "unknown_code", "message": "no batch holds it"}});
        let why = not_a_document(&error, "");
        assert!(
            why.contains("an error answer of the service (unknown_code: no batch holds it)"),
            "{why}"
        );
        let why = not_a_document(&serde_json::json!({"code": "X"}), "");
        assert!(why.contains("has no \"format\" field"), "{why}");
        assert!(!why.contains("format \"\""), "{why}");
        let why = not_a_document(&serde_json::json!({"format": "other/1"}), "other/1");
        assert!(why.starts_with("format \"other/1\" is neither"), "{why}");
        let why = not_a_document(&serde_json::json!({"format": 7}), "");
        assert!(why.starts_with("format 7 is not text"), "{why}");
    }

    #[test]
    fn a_saved_document_may_start_with_a_byte_order_mark() {
        let plain = json_document(br#"{"format":"proofmark-code/1"}"#).unwrap();
        let marked = json_document(b"\xEF\xBB\xBF{\"format\":\"proofmark-code/1\"}").unwrap();
        assert_eq!(plain, marked);
        assert!(plain.1.is_none());
        // A member named twice: read, and said.
        let (value, twice) =
            json_document(br#"{"format":"proofmark-code/1","code":"a","code":"b"}"#).unwrap();
        assert_eq!(value["format"], "proofmark-code/1");
        assert!(
            twice
                .as_deref()
                .is_some_and(|why| why.contains("the member \"code\" appears twice")),
            "{twice:?}"
        );
        // Only one mark, and only at the start.
        assert!(json_document(b"\xEF\xBB\xBF\xEF\xBB\xBF{}").is_err());
        assert!(json_document(b" \xEF\xBB\xBF{}").is_err());
    }
}
