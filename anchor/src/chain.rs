//! Chains a committed batch is anchored on, and their receipts.
//!
//! A chain is named in a chains file (TOML) and has a type. Anchoring posts
//! what the manifest commits to (batch id, suite, root, leaf count, manifest
//! digest) and keeps one receipt per chain under
//! `batches/<batch_id>/anchors/<chain>.json`. Anchoring is idempotent: a
//! receipt that exists and still verifies means done.
//!
//! Chain types: `ledger`, the embedded batch log ([`crate::ledger`]), which
//! needs no setup; `evm`, an Ethereum JSON-RPC chain with the anchor contract
//! ([`crate::evm`]). Every chain type first appends the batch to the batch
//! log; an `evm` anchor also carries the log checkpoint that covers it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use proofmark_ingest::Store;
use serde::{Deserialize, Serialize};

use crate::evm::{EvmConfig, EvmError};
use crate::ledger::{
    BatchAnchor, BatchLog, LedgerError, LogEntry, LogReceipt, NoteSigner, VerifierKey,
};
use crate::manifest::{Manifest, rfc3339_utc};

/// Default origin (and key name) of the embedded ledger's log.
pub const DEFAULT_LEDGER_ORIGIN: &str = "proofmark.local/ledger";
/// Store object holding the ledger's verifier key, for convenience (trust it
/// only if it matches a key obtained independently).
pub const LEDGER_VERIFIER_KEY_PATH: &str = "log/verifier-key.txt";
/// Environment variable naming the ledger's signing key file.
pub const LEDGER_KEY_ENV: &str = "PROOFMARK_LEDGER_KEY";

/// Errors of chain configuration and anchoring.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The chains file cannot be read or parsed.
    #[error("chains file {path}: {message}")]
    Config {
        /// The file.
        path: String,
        /// What is wrong, naming the key.
        message: String,
    },
    /// A chain name that the configuration does not define.
    #[error("no chain named {name:?} (defined: {defined})")]
    UnknownChain {
        /// The name asked for.
        name: String,
        /// The names defined.
        defined: String,
    },
    /// The batch has no manifest.
    #[error("batch {0} is not committed (no manifest): run `proofmark commit` first")]
    NotCommitted(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] proofmark_ingest::IngestError),
    /// The manifest or a receipt is unreadable.
    #[error("{path}: {message}")]
    BadObject {
        /// The object.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A stored receipt does not match the batch or does not verify.
    #[error("receipt {path} does not verify: {message}")]
    BadReceipt {
        /// The receipt object.
        path: String,
        /// Why.
        message: String,
    },
    /// An `evm` chain failed.
    #[error(transparent)]
    Evm(Box<EvmError>),
    /// The ledger's signing key is not the one the store's batch log was started with.
    #[error(
        "the store's batch log was started with the signing key of verifier key {store_key}, \
         but {key_source} is the key of {key}: point the ledger chain's key_file (or \
         PROOFMARK_LEDGER_KEY) at the store's signing key"
    )]
    WrongLedgerKey {
        /// The verifier key published beside the store's log (`log/verifier-key.txt`).
        store_key: String,
        /// Where the key given comes from (its file).
        key_source: String,
        /// The verifier key of the key given.
        key: String,
    },
    /// The ledger's key file does not exist although the store's batch log has a key: a new
    /// key would not be the log's.
    #[error(
        "the ledger key file {key_file} does not exist, but the store's batch log was started \
         with the signing key of verifier key {store_key}: point the ledger chain's key_file \
         (or PROOFMARK_LEDGER_KEY) at that key's file"
    )]
    MissingLedgerKey {
        /// The key file named.
        key_file: String,
        /// The verifier key published beside the store's log.
        store_key: String,
    },
}

impl From<EvmError> for ChainError {
    fn from(e: EvmError) -> Self {
        ChainError::Evm(Box::new(e))
    }
}

/// One chain's settings, as written in the chains file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ChainConfig {
    /// The embedded batch log.
    Ledger {
        /// Signing key file (default: `$PROOFMARK_LEDGER_KEY`, else
        /// `~/.config/proofmark/ledger.key`); generated on first use, mode 0600.
        #[serde(default)]
        key_file: Option<PathBuf>,
        /// The log's origin line and key name (default `proofmark.local/ledger`).
        #[serde(default)]
        origin: Option<String>,
    },
    /// An Ethereum JSON-RPC chain with the anchor contract.
    Evm(EvmConfig),
}

impl ChainConfig {
    /// Every local file path of the settings (key files, keystores), for
    /// resolving them against the folder of the file that names them.
    pub fn file_paths_mut(&mut self) -> Vec<&mut PathBuf> {
        match self {
            ChainConfig::Ledger { key_file, .. } => key_file.iter_mut().collect(),
            ChainConfig::Evm(c) => c.file_paths_mut().collect(),
        }
    }
}

/// The chains file: `[chains.<name>]` tables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainsFile {
    /// Chains by name.
    #[serde(default)]
    pub chains: BTreeMap<String, ChainConfig>,
}

/// What [`ChainsFile::parse`] reads: a chains file's `[chains.*]` tables, and a job file's
/// own tables, left to `proofmark run`, which checks them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainsOrJobFile {
    #[serde(default)]
    chains: BTreeMap<String, ChainConfig>,
    #[serde(default)]
    job: Option<toml::Value>,
    #[serde(default)]
    publish: Option<toml::Value>,
}

impl ChainsFile {
    /// Parses a chains file's text; `path` names it in errors. A job file (`proofmark run`'s,
    /// with a `[job]` table) is read as its `[chains.*]` tables, its `[job]` and `[publish]`
    /// tables left to `proofmark run`, which checks them.
    pub fn parse(path: &str, text: &str) -> Result<Self, ChainError> {
        let config = |e: toml::de::Error| ChainError::Config {
            path: path.to_owned(),
            message: e.to_string(),
        };
        // Read in one pass, so that an error in a job file's chains names its line too.
        let file: ChainsOrJobFile = toml::from_str(text).map_err(config)?;
        if file.job.is_none() && file.publish.is_some() {
            return Err(ChainError::Config {
                path: path.to_owned(),
                message: "a [publish] table belongs in a job file (with a [job] table), \
                          not in a chains file"
                    .into(),
            });
        }
        Self::from_chains(path, file.chains)
    }

    /// Checks chain names and wraps `chains` (e.g. the `[chains]` table of a
    /// job file); `path` names the file in errors.
    pub fn from_chains(
        path: &str,
        chains: BTreeMap<String, ChainConfig>,
    ) -> Result<Self, ChainError> {
        let file = ChainsFile { chains };
        for name in file.chains.keys() {
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(ChainError::Config {
                    path: path.to_owned(),
                    message: format!("chain name {name:?} must be letters, digits, '-' or '_'"),
                });
            }
        }
        for (name, config) in &file.chains {
            if let ChainConfig::Evm(c) = config {
                c.validate(name).map_err(|e| ChainError::Config {
                    path: path.to_owned(),
                    message: e.to_string(),
                })?;
            }
        }
        Ok(file)
    }

    /// Reads and parses a chains file. Relative file paths in it (key files, keystores) are
    /// relative to the file's folder, as in a job file, so that a command finds them from
    /// whatever folder it runs in.
    pub fn load(path: &Path) -> Result<Self, ChainError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ChainError::Config {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let mut file = Self::parse(&shown, &text)?;
        let base = path.parent().unwrap_or(Path::new(""));
        for config in file.chains.values_mut() {
            for p in config.file_paths_mut() {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        }
        Ok(file)
    }

    /// The configuration of chain `name`. `ledger` is always defined (with
    /// defaults) unless the file defines it otherwise.
    pub fn get(&self, name: &str) -> Result<ChainConfig, ChainError> {
        if let Some(c) = self.chains.get(name) {
            return Ok(c.clone());
        }
        if name == "ledger" {
            return Ok(ChainConfig::Ledger {
                key_file: None,
                origin: None,
            });
        }
        let mut defined: Vec<&str> = self.chains.keys().map(String::as_str).collect();
        if !defined.contains(&"ledger") {
            defined.insert(0, "ledger");
        }
        Err(ChainError::UnknownChain {
            name: name.to_owned(),
            defined: defined.join(", "),
        })
    }
}

impl ChainsFile {
    /// The `ledger` chain whose key signs the store's batch log, which every `ledger` and
    /// `evm` anchor appends to (SPEC.md 9.3 lets it have any name): the chain named
    /// `ledger` when the file defines one, else the only chain of type `ledger` the file
    /// defines, else the default `ledger` chain (no chain of that type defined). Several
    /// `ledger` chains, none named `ledger`, is a configuration error: which one signs the
    /// log would be a guess.
    pub fn batch_log_chain(&self) -> Result<(String, ChainConfig), ChainError> {
        if let Some(c) = self.chains.get("ledger") {
            return Ok(("ledger".to_owned(), c.clone()));
        }
        let ledgers: Vec<(&String, &ChainConfig)> = self
            .chains
            .iter()
            .filter(|(_, c)| matches!(c, ChainConfig::Ledger { .. }))
            .collect();
        match ledgers.as_slice() {
            [] => Ok(("ledger".to_owned(), self.get("ledger")?)),
            [(name, config)] => Ok(((*name).clone(), (*config).clone())),
            several => Err(ChainError::Config {
                path: "(chains)".into(),
                message: format!(
                    "chains {} are all of type \"ledger\": name the one whose key signs the \
                     store's batch log \"ledger\"",
                    several
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    }
}

/// The default ledger key file: `$PROOFMARK_LEDGER_KEY`, else
/// `$XDG_CONFIG_HOME/proofmark/ledger.key`, else `~/.config/proofmark/ledger.key`.
pub fn default_ledger_key_file() -> PathBuf {
    if let Some(p) = std::env::var_os(LEDGER_KEY_ENV) {
        return PathBuf::from(p);
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("proofmark").join("ledger.key")
}

/// What a chain commits to for a batch: the fields of its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorRequest {
    /// The batch.
    pub anchor: BatchAnchor,
    /// The manifest, as committed.
    pub manifest: Manifest,
}

/// The receipt of the `ledger` chain (SPEC.md section 9.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerReceipt {
    /// `"ledger"` (or the configured chain name).
    pub chain: String,
    /// The batch.
    pub batch_id: String,
    /// The batch root, hex.
    pub root: String,
    /// Leaves in the batch.
    pub leaf_count: u64,
    /// `blake3:` + hex of the manifest.
    pub manifest_digest: String,
    /// The batch's suite.
    pub suite: String,
    /// The entry's index in the log.
    pub log_index: u64,
    /// The size of the checkpoint below.
    pub log_size: u64,
    /// The signed checkpoint note.
    pub checkpoint: String,
    /// The entry's inclusion proof in the checkpoint's tree, hex, bottom-up.
    pub inclusion_proof: Vec<String>,
    /// The log's verifier key.
    pub verifier_key: String,
    /// When the receipt was made (RFC 3339, UTC).
    pub anchored_at: String,
}

impl LedgerReceipt {
    fn from_log(chain: &str, r: LogReceipt) -> Self {
        LedgerReceipt {
            chain: chain.to_owned(),
            batch_id: r.entry.batch_id,
            root: r.entry.root,
            leaf_count: r.entry.leaf_count,
            manifest_digest: r.entry.manifest_digest,
            suite: r.entry.suite,
            log_index: r.entry.index,
            log_size: r.log_size,
            checkpoint: r.checkpoint,
            inclusion_proof: r.inclusion_proof,
            verifier_key: r.verifier_key,
            anchored_at: rfc3339_utc(std::time::SystemTime::now()),
        }
    }

    /// The receipt as the log's typed receipt.
    pub fn to_log_receipt(&self) -> LogReceipt {
        LogReceipt {
            entry: LogEntry {
                index: self.log_index,
                batch_id: self.batch_id.clone(),
                suite: self.suite.clone(),
                root: self.root.clone(),
                leaf_count: self.leaf_count,
                manifest_digest: self.manifest_digest.clone(),
            },
            checkpoint: self.checkpoint.clone(),
            log_size: self.log_size,
            inclusion_proof: self.inclusion_proof.clone(),
            verifier_key: self.verifier_key.clone(),
            appended: false,
        }
    }

    /// Checks the receipt with `key`: signature, inclusion, and that it is
    /// about `anchor`.
    pub fn verify(&self, key: &VerifierKey, anchor: &BatchAnchor) -> Result<(), String> {
        anchor.check_claim(&BatchAnchor {
            batch_id: self.batch_id.clone(),
            suite: self.suite.clone(),
            root: self.root.clone(),
            leaf_count: self.leaf_count,
            manifest_digest: self.manifest_digest.clone(),
        })?;
        self.to_log_receipt()
            .verify(key)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Where a batch's receipt for `chain` is kept.
pub fn receipt_path(batch_id: &str, chain: &str) -> String {
    format!("batches/{batch_id}/anchors/{chain}.json")
}

/// Reads a committed batch's manifest and what chains commit to.
pub async fn load_anchor_request(
    store: &Store,
    batch_id: &str,
) -> Result<AnchorRequest, ChainError> {
    let path = crate::layout::manifest_path(batch_id);
    let bytes = store
        .get(&path)
        .await?
        .ok_or_else(|| ChainError::NotCommitted(batch_id.to_owned()))?;
    let manifest = Manifest::from_slice(&path, &bytes).map_err(|e| ChainError::BadObject {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let anchor = BatchAnchor {
        batch_id: manifest.batch_id.clone(),
        suite: manifest.suite.to_string(),
        root: manifest.root.clone(),
        leaf_count: manifest.leaf_count,
        manifest_digest: format!("blake3:{}", blake3::hash(&bytes).to_hex()),
    };
    if anchor.batch_id != batch_id {
        return Err(ChainError::BadObject {
            path,
            message: format!("holds batch id {}", anchor.batch_id),
        });
    }
    Ok(AnchorRequest { anchor, manifest })
}

/// The outcome of anchoring on one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorOutcome {
    /// The chain's name.
    pub chain: String,
    /// Whether this call made the batch's receipt (false: a valid receipt already existed).
    /// Its transaction may be one an earlier, interrupted run sent and this call found
    /// mined; the summary then says so.
    pub anchored_now: bool,
    /// The receipt as stored (JSON).
    pub receipt: serde_json::Value,
    /// A one-line description for people (log index and size, or tx and block).
    pub summary: String,
}

/// Opens (or creates on first use) the ledger signing key of `config`, a
/// `ledger` chain's settings.
pub fn ledger_signer(config: &ChainConfig) -> Result<NoteSigner, ChainError> {
    let (path, origin) = ledger_key_file(config)?;
    Ok(NoteSigner::load_or_generate(&path, origin).map_err(LedgerError::from)?)
}

/// The key file of a `ledger` chain (its `key_file`, else [`default_ledger_key_file`]) and
/// its log's origin.
fn ledger_key_file(config: &ChainConfig) -> Result<(PathBuf, &str), ChainError> {
    let ChainConfig::Ledger { key_file, origin } = config else {
        return Err(ChainError::Config {
            path: "(chains)".into(),
            message: "the batch log's key comes from a chain of type \"ledger\"".into(),
        });
    };
    Ok((
        key_file.clone().unwrap_or_else(default_ledger_key_file),
        origin.as_deref().unwrap_or(DEFAULT_LEDGER_ORIGIN),
    ))
}

/// The verifier key published beside the store's batch log, if the log was started.
async fn store_verifier_key(store: &Store) -> Result<Option<String>, ChainError> {
    Ok(store
        .get(LEDGER_VERIFIER_KEY_PATH)
        .await?
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned()))
}

/// Checks, before any work, that anchoring on `names` (chains of `chains`) will sign the
/// store's batch log with the key it was started with: every `ledger` and `evm` chain
/// appends to that log. Nothing to check before the log's first entry. A key file that does
/// not exist while the log has a key is an error too, rather than a new key made on first
/// use (which the log would refuse after the batch was committed).
pub async fn check_ledger_key(
    store: &Store,
    chains: &ChainsFile,
    names: &[String],
) -> Result<(), ChainError> {
    let mut uses_log = false;
    for name in names {
        uses_log |= matches!(
            chains.get(name)?,
            ChainConfig::Ledger { .. } | ChainConfig::Evm(_)
        );
    }
    if !uses_log {
        return Ok(());
    }
    let Some(store_key) = store_verifier_key(store).await? else {
        return Ok(());
    };
    let (_, config) = chains.batch_log_chain()?;
    let (key_file, _) = ledger_key_file(&config)?;
    if !key_file.exists() {
        return Err(ChainError::MissingLedgerKey {
            key_file: key_file.display().to_string(),
            store_key,
        });
    }
    let key = ledger_signer(&config)?.verifier().to_string();
    if key != store_key {
        return Err(ChainError::WrongLedgerKey {
            store_key,
            key_source: key_file.display().to_string(),
            key,
        });
    }
    Ok(())
}

/// Anchors a committed batch on chain `name` of `chains`, or confirms the
/// receipt already stored; stores the receipt.
pub async fn anchor_batch(
    store: &Store,
    batch_id: &str,
    name: &str,
    chains: &ChainsFile,
) -> Result<AnchorOutcome, ChainError> {
    let request = load_anchor_request(store, batch_id).await?;
    let config = chains.get(name)?;
    match &config {
        ChainConfig::Ledger { .. } => {
            let signer = ledger_signer(&config)?;
            anchor_on_ledger(store, &request, name, &signer).await
        }
        ChainConfig::Evm(evm) => {
            if let Some(done) = crate::evm::recheck_receipt(store, &request, name, evm).await? {
                return Ok(done);
            }
            // The batch log of the store, whose key is its `ledger` chain's.
            let signer = ledger_signer(&chains.batch_log_chain()?.1)?;
            let log_receipt = append_to_batch_log(store, &request, &signer).await?;
            let checkpoint = log_receipt
                .verify(&signer.verifier())
                .map_err(ChainError::Ledger)?;
            crate::evm::anchor_on_evm(
                store,
                &request,
                name,
                evm,
                checkpoint.size,
                alloy::primitives::B256::from(checkpoint.root),
            )
            .await
        }
    }
}

/// Appends the batch to the store's batch log (idempotent) after publishing
/// the log's verifier key beside it on first use; the receipt holds the
/// signed checkpoint that covers the batch.
pub async fn append_to_batch_log(
    store: &Store,
    request: &AnchorRequest,
    signer: &NoteSigner,
) -> Result<LogReceipt, ChainError> {
    let verifier = signer.verifier();
    // Publish the verifier key beside the log on first use (informational).
    let key_text = format!("{verifier}\n");
    if !store
        .put_if_absent(LEDGER_VERIFIER_KEY_PATH, Bytes::from(key_text.clone()))
        .await?
    {
        let stored = store
            .get(LEDGER_VERIFIER_KEY_PATH)
            .await?
            .unwrap_or_default();
        if stored.as_ref() != key_text.as_bytes() {
            return Err(ChainError::WrongLedgerKey {
                store_key: String::from_utf8_lossy(&stored).trim().to_owned(),
                key_source: "the ledger chain's signing key".to_owned(),
                key: verifier.to_string(),
            });
        }
    }
    let log = BatchLog::for_writer(store, signer);
    Ok(log.append(&request.anchor).await?)
}

async fn anchor_on_ledger(
    store: &Store,
    request: &AnchorRequest,
    name: &str,
    signer: &NoteSigner,
) -> Result<AnchorOutcome, ChainError> {
    let path = receipt_path(&request.anchor.batch_id, name);
    let verifier = signer.verifier();
    if let Some(bytes) = store.get(&path).await? {
        let receipt: LedgerReceipt =
            serde_json::from_slice(&bytes).map_err(|e| ChainError::BadReceipt {
                path: path.clone(),
                message: e.to_string(),
            })?;
        receipt
            .verify(&verifier, &request.anchor)
            .map_err(|message| ChainError::BadReceipt {
                path: path.clone(),
                message,
            })?;
        let summary = format!(
            "log entry {} of {} (already anchored)",
            receipt.log_index, receipt.log_size
        );
        let receipt = serde_json::to_value(&receipt).map_err(|e| ChainError::BadObject {
            path,
            message: e.to_string(),
        })?;
        return Ok(AnchorOutcome {
            chain: name.to_owned(),
            anchored_now: false,
            receipt,
            summary,
        });
    }
    let log_receipt = append_to_batch_log(store, request, signer).await?;
    let receipt = LedgerReceipt::from_log(name, log_receipt);
    receipt
        .verify(&verifier, &request.anchor)
        .map_err(|message| ChainError::BadReceipt {
            path: path.clone(),
            message,
        })?;
    let json = serde_json::to_vec_pretty(&receipt).map_err(|e| ChainError::BadObject {
        path: path.clone(),
        message: e.to_string(),
    })?;
    store.put(&path, Bytes::from(json)).await?;
    let summary = format!("log entry {} of {}", receipt.log_index, receipt.log_size);
    let receipt = serde_json::to_value(&receipt).map_err(|e| ChainError::BadObject {
        path,
        message: e.to_string(),
    })?;
    Ok(AnchorOutcome {
        chain: name.to_owned(),
        anchored_now: true,
        receipt,
        summary,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn chains_file_parses_and_names_errors() {
        let f = ChainsFile::parse(
            "chains.toml",
            "[chains.ledger]\ntype = \"ledger\"\norigin = \"example.org/log\"\n",
        )
        .unwrap();
        assert_eq!(
            f.get("ledger").unwrap(),
            ChainConfig::Ledger {
                key_file: None,
                origin: Some("example.org/log".into())
            }
        );
        assert!(matches!(
            f.get("polygon"),
            Err(ChainError::UnknownChain { .. })
        ));
        let err =
            ChainsFile::parse("c.toml", "[chains.x]\ntype = \"ledger\"\nkey = 1\n").unwrap_err();
        assert!(err.to_string().contains("key"), "{err}");
        let err = ChainsFile::parse("c.toml", "[chains.x]\ntype = \"bitcoin\"\n").unwrap_err();
        assert!(err.to_string().contains("bitcoin"), "{err}");
        // A job file gives its chains; its chains are checked as a chains file's.
        let job = "[job]\nname = \"n\"\n[chains.ledger]\ntype = \"ledger\"\n\
                   origin = \"example.org/log\"\n[publish]\nindex = \"i\"\n";
        assert_eq!(ChainsFile::parse("job.toml", job).unwrap(), f);
        let err = ChainsFile::parse(
            "job.toml",
            &format!("{job}[chains.x]\ntype = \"ledger\"\nkey = 1\n"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("key"), "{err}");
        assert!(
            err.to_string().contains("line"),
            "a job file's error names its line: {err}"
        );
        let err = ChainsFile::parse("c.toml", "[publish]\nindex = \"i\"\n").unwrap_err();
        assert!(err.to_string().contains("publish"), "{err}");
        assert_eq!(
            ChainsFile::default().get("ledger").unwrap(),
            ChainConfig::Ledger {
                key_file: None,
                origin: None
            }
        );
    }

    #[test]
    fn the_batch_log_chain_is_the_ledger_chain_whatever_its_name() {
        let one = ChainsFile::parse(
            "c.toml",
            "[chains.log]\ntype = \"ledger\"\nkey_file = \"log.key\"\n\
             [chains.c]\ntype = \"evm\"\nrpc_url = \"http://x\"\nchain_id = 1\n",
        )
        .unwrap();
        let (name, config) = one.batch_log_chain().unwrap();
        assert_eq!(name, "log");
        assert_eq!(
            config,
            ChainConfig::Ledger {
                key_file: Some("log.key".into()),
                origin: None
            }
        );
        let (name, _) = ChainsFile::default().batch_log_chain().unwrap();
        assert_eq!(name, "ledger");
        let two = ChainsFile::parse(
            "c.toml",
            "[chains.a]\ntype = \"ledger\"\n[chains.b]\ntype = \"ledger\"\n",
        )
        .unwrap();
        assert!(matches!(
            two.batch_log_chain(),
            Err(ChainError::Config { .. })
        ));
        let named = ChainsFile::parse(
            "c.toml",
            "[chains.a]\ntype = \"ledger\"\n[chains.ledger]\ntype = \"ledger\"\n",
        )
        .unwrap();
        assert_eq!(named.batch_log_chain().unwrap().0, "ledger");
    }

    #[test]
    fn evm_chains_parse_with_defaults_and_refuse_unknown_keys() {
        let f = ChainsFile::parse(
            "c.toml",
            "[chains.c]\ntype = \"evm\"\nrpc_url = \"http://127.0.0.1:8545\"\nchain_id = 1337\n\
             key_env = \"K\"\nfee_mode = \"legacy\"\n",
        )
        .unwrap();
        let ChainConfig::Evm(c) = f.get("c").unwrap() else {
            panic!("not evm")
        };
        assert_eq!(c.chain_id, 1337);
        assert_eq!(c.confirmations, 3);
        assert_eq!(c.fee_mode, crate::evm::FeeMode::Legacy);
        let err = ChainsFile::parse(
            "c.toml",
            "[chains.c]\ntype = \"evm\"\nrpc_url = \"http://x\"\nchain_id = 1\nprivate_key = \"00\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("private_key"), "{err}");
        let err =
            ChainsFile::parse("c.toml", "[chains.c]\ntype = \"evm\"\nchain_id = 1\n").unwrap_err();
        assert!(err.to_string().contains("rpc_url"), "{err}");
    }

    /// Relative paths of a chains file are relative to its folder, whatever the folder the
    /// command runs in; absolute ones stay as written.
    #[test]
    fn paths_in_a_chains_file_are_relative_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir_all(&sub).unwrap();
        let file = sub.join("chains.toml");
        std::fs::write(
            &file,
            "[chains.c]\ntype = \"evm\"\nrpc_url = \"http://127.0.0.1:8545\"\nchain_id = 1\n\
             keystore = \"../keys/member.json\"\npassword_env = \"PW\"\n\
             [chains.l]\ntype = \"ledger\"\nkey_file = \"/etc/proofmark/ledger.key\"\n",
        )
        .unwrap();
        let f = ChainsFile::load(&file).unwrap();
        let ChainConfig::Evm(c) = f.get("c").unwrap() else {
            panic!("not evm")
        };
        assert_eq!(c.keystore.unwrap(), sub.join("../keys/member.json"));
        let ChainConfig::Ledger { key_file, .. } = f.get("l").unwrap() else {
            panic!("not ledger")
        };
        assert_eq!(
            key_file.unwrap(),
            PathBuf::from("/etc/proofmark/ledger.key")
        );
    }
}
