//! The settings of an `evm` chain and its signing key.

use std::path::PathBuf;
use std::time::Duration;

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use serde::{Deserialize, Serialize};

use super::EvmError;

/// How transaction fees are set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeeMode {
    /// EIP-1559 when the latest block has a base fee, else legacy gas price.
    #[default]
    Auto,
    /// EIP-1559 (type 2) transactions; fails on chains without a base fee.
    Eip1559,
    /// Legacy (type 0, EIP-155) transactions with `eth_gasPrice`.
    Legacy,
}

const fn default_confirmations() -> u64 {
    3
}
const fn default_rpc_timeout_secs() -> u64 {
    60
}
const fn default_request_timeout_secs() -> u64 {
    15
}
const fn default_confirmation_timeout_secs() -> u64 {
    900
}
const fn default_stuck_timeout_secs() -> u64 {
    180
}
const fn default_poll_interval_ms() -> u64 {
    1000
}
const fn default_fee_bump_percent() -> u64 {
    25
}
const fn default_max_reorg_resends() -> u32 {
    3
}

/// One `evm` chain, as written in the chains file (`type = "evm"`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvmConfig {
    /// The node's JSON-RPC URL (HTTP or HTTPS).
    #[serde(default)]
    pub rpc_url: Option<String>,
    /// An environment variable that, when set, overrides `rpc_url` (for URLs
    /// that hold an API key).
    #[serde(default)]
    pub rpc_url_env: Option<String>,
    /// The chain id the node must report (`eth_chainId`).
    pub chain_id: u64,
    /// The anchor contract's address (`0x...`); set it after `proofmark chain deploy`.
    #[serde(default)]
    pub contract: Option<String>,
    /// An environment variable holding the sending account's private key (hex).
    #[serde(default)]
    pub key_env: Option<String>,
    /// An encrypted JSON keystore file (Web3 Secret Storage) of the sending account.
    #[serde(default)]
    pub keystore: Option<PathBuf>,
    /// The environment variable holding the keystore's password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Blocks that must include or follow the anchor's block before the
    /// receipt is final (1: the block itself).
    #[serde(default = "default_confirmations")]
    pub confirmations: u64,
    /// How fees are set.
    #[serde(default)]
    pub fee_mode: FeeMode,
    /// A cap on the fee per gas, in gwei, that replacements never exceed.
    #[serde(default)]
    pub max_fee_per_gas_gwei: Option<u64>,
    /// How much a replacement raises the fees, in percent (at least 10).
    #[serde(default = "default_fee_bump_percent")]
    pub fee_bump_percent: u64,
    /// Total time one JSON-RPC operation may take, retries with back-off included.
    #[serde(default = "default_rpc_timeout_secs")]
    pub rpc_timeout_secs: u64,
    /// Time one JSON-RPC request may take.
    #[serde(default = "default_request_timeout_secs")]
    pub request_timeout_secs: u64,
    /// Time to wait for a transaction to be mined and confirmed.
    #[serde(default = "default_confirmation_timeout_secs")]
    pub confirmation_timeout_secs: u64,
    /// Time after which a pending transaction is replaced with higher fees (same nonce).
    #[serde(default = "default_stuck_timeout_secs")]
    pub stuck_timeout_secs: u64,
    /// Time between polls for receipts and new blocks.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// How often an anchor dropped by a reorg is sent again before giving up.
    #[serde(default = "default_max_reorg_resends")]
    pub max_reorg_resends: u32,
}

impl std::fmt::Debug for EvmConfig {
    /// Shows where the key comes from, never a URL's path or query (they may
    /// hold an API key).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvmConfig")
            .field("rpc_url", &self.rpc_url.as_deref().map(redact_url))
            .field("rpc_url_env", &self.rpc_url_env)
            .field("chain_id", &self.chain_id)
            .field("contract", &self.contract)
            .field("key_env", &self.key_env)
            .field("keystore", &self.keystore)
            .field("password_env", &self.password_env)
            .field("confirmations", &self.confirmations)
            .field("fee_mode", &self.fee_mode)
            .finish_non_exhaustive()
    }
}

/// `scheme://host:port` of a URL: what may be shown of it.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("?");
            match u.port() {
                Some(p) => format!("{}://{host}:{p}", u.scheme()),
                None => format!("{}://{host}", u.scheme()),
            }
        }
        Err(_) => "(unparsable URL)".to_owned(),
    }
}

/// The parts of a URL that must never be shown: user name, password, path
/// (other than `/`) and query, as written and percent-decoded.
pub(crate) fn url_secrets(url: &url::Url) -> Vec<String> {
    let mut secrets = Vec::new();
    // Parts shorter than this are too likely to be ordinary words of a message.
    const MIN_LEN: usize = 4;
    let mut add = |s: &str, min_len: usize| {
        for part in [Some(s.to_owned()), urlencoding_decode(s).ok()]
            .into_iter()
            .flatten()
        {
            if part.len() >= min_len && !secrets.contains(&part) {
                secrets.push(part);
            }
        }
    };
    add(url.username(), MIN_LEN);
    if let Some(p) = url.password() {
        add(p, 1);
    }
    if url.path() != "/" {
        add(url.path(), MIN_LEN);
        add(url.path().trim_matches('/'), MIN_LEN);
    }
    if let Some(q) = url.query() {
        add(q, MIN_LEN);
        for pair in q.split('&') {
            if let Some((_, v)) = pair.split_once('=') {
                add(v, MIN_LEN);
            }
        }
    }
    // The longest first, so that a part is not left half-replaced.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets
}

fn urlencoding_decode(s: &str) -> Result<String, std::str::Utf8Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).map_err(|e| e.utf8_error())
}

/// `text` (an error message) with every URL in it reduced to
/// `scheme://host:port`, whatever form the HTTP client printed it in, and
/// every one of `secrets` (from [`url_secrets`]) replaced by `***`.
pub(crate) fn redact_text(text: &str, secrets: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = ["http://", "https://", "ws://", "wss://"]
        .iter()
        .filter_map(|scheme| rest.find(scheme))
        .min()
    {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| {
                c.is_whitespace()
                    || matches!(c, ')' | '(' | '"' | '\'' | '<' | '>' | ',' | ']' | '[')
            })
            .unwrap_or(tail.len());
        out.push_str(&redact_url(&tail[..end]));
        rest = &tail[end..];
    }
    out.push_str(rest);
    for s in secrets {
        out = out.replace(s.as_str(), "***");
    }
    out
}

impl EvmConfig {
    /// A configuration with the defaults, for a node at `rpc_url`.
    pub fn new(rpc_url: impl Into<String>, chain_id: u64) -> Self {
        EvmConfig {
            rpc_url: Some(rpc_url.into()),
            rpc_url_env: None,
            chain_id,
            contract: None,
            key_env: None,
            keystore: None,
            password_env: None,
            confirmations: default_confirmations(),
            fee_mode: FeeMode::default(),
            max_fee_per_gas_gwei: None,
            fee_bump_percent: default_fee_bump_percent(),
            rpc_timeout_secs: default_rpc_timeout_secs(),
            request_timeout_secs: default_request_timeout_secs(),
            confirmation_timeout_secs: default_confirmation_timeout_secs(),
            stuck_timeout_secs: default_stuck_timeout_secs(),
            poll_interval_ms: default_poll_interval_ms(),
            max_reorg_resends: default_max_reorg_resends(),
        }
    }

    /// Checks the settings that do not need the node; `chain` names the chain in errors.
    pub fn validate(&self, chain: &str) -> Result<(), EvmError> {
        let bad = |message: String| EvmError::Config {
            chain: chain.to_owned(),
            message,
        };
        if self.rpc_url.is_none() && self.rpc_url_env.is_none() {
            return Err(bad("set `rpc_url` or `rpc_url_env`".into()));
        }
        if self.confirmations == 0 {
            return Err(bad("`confirmations` must be at least 1".into()));
        }
        if self.fee_bump_percent < 10 {
            return Err(bad(
                "`fee_bump_percent` must be at least 10 (nodes refuse smaller replacements)".into(),
            ));
        }
        if self.key_env.is_some() && self.keystore.is_some() {
            return Err(bad("set either `key_env` or `keystore`, not both".into()));
        }
        if self.keystore.is_some() != self.password_env.is_some() {
            return Err(bad("`keystore` and `password_env` go together".into()));
        }
        if self.poll_interval_ms == 0
            || self.rpc_timeout_secs == 0
            || self.request_timeout_secs == 0
        {
            return Err(bad("timeouts and the poll interval must be positive".into()));
        }
        if let Some(c) = &self.contract {
            self.parse_contract(chain, c)?;
        }
        Ok(())
    }

    fn parse_contract(&self, chain: &str, c: &str) -> Result<Address, EvmError> {
        c.parse::<Address>().map_err(|_| EvmError::Config {
            chain: chain.to_owned(),
            message: format!("`contract` {c:?} is not a 0x-prefixed 20-byte address"),
        })
    }

    /// The contract address, or [`EvmError::NoContract`].
    pub fn contract_address(&self, chain: &str) -> Result<Address, EvmError> {
        match &self.contract {
            Some(c) => self.parse_contract(chain, c),
            None => Err(EvmError::NoContract {
                chain: chain.to_owned(),
            }),
        }
    }

    /// The RPC URL: `$rpc_url_env` when that variable is set, else `rpc_url`.
    pub fn resolved_rpc_url(&self, chain: &str) -> Result<url::Url, EvmError> {
        let from_env = self
            .rpc_url_env
            .as_deref()
            .and_then(|name| std::env::var(name).ok())
            .filter(|v| !v.is_empty());
        let text = from_env
            .or_else(|| self.rpc_url.clone())
            .ok_or_else(|| EvmError::Config {
                chain: chain.to_owned(),
                message: format!(
                    "no RPC URL: `rpc_url` is not set and ${} is empty",
                    self.rpc_url_env.as_deref().unwrap_or("(rpc_url_env)")
                ),
            })?;
        url::Url::parse(&text).map_err(|e| EvmError::Config {
            chain: chain.to_owned(),
            message: format!("RPC URL {}: {e}", redact_url(&text)),
        })
    }

    /// Durations of the settings.
    pub(crate) fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    /// Loads the signing key from `key_env` or the keystore.
    pub fn load_key(&self, chain: &str) -> Result<EvmKey, EvmError> {
        self.configured_key(chain)?.ok_or_else(|| EvmError::Key {
            chain: chain.to_owned(),
            message: NO_KEY.into(),
        })
    }

    /// The signing key, if the settings name one (`key_env`, or `keystore`): `None` when they
    /// name none; an error when the one they name cannot be loaded (a keystore without
    /// `password_env` included).
    pub fn configured_key(&self, chain: &str) -> Result<Option<EvmKey>, EvmError> {
        let err = |message: String| EvmError::Key {
            chain: chain.to_owned(),
            message,
        };
        if let Some(var) = &self.key_env {
            let value = std::env::var(var)
                .map_err(|_| err(format!("environment variable {var} is not set")))?;
            let signer = value
                .trim()
                .parse::<PrivateKeySigner>()
                .map_err(|_| err(format!("${var} is not a hex secp256k1 private key")))?;
            return Ok(Some(EvmKey { signer }));
        }
        let Some(path) = &self.keystore else {
            return Ok(None);
        };
        if let Some(pw_var) = &self.password_env {
            let password = std::env::var(pw_var)
                .map_err(|_| err(format!("environment variable {pw_var} is not set")))?;
            let signer = PrivateKeySigner::decrypt_keystore(path, password).map_err(|e| {
                err(format!(
                    "keystore {}: {}",
                    path.display(),
                    keystore_problem(&e.to_string())
                ))
            })?;
            return Ok(Some(EvmKey { signer }));
        }
        Err(err(NO_KEY.into()))
    }

    /// Every local file path of the settings, for resolving them against a
    /// job file's folder.
    pub fn file_paths_mut(&mut self) -> impl Iterator<Item = &mut PathBuf> {
        self.keystore.iter_mut()
    }
}

/// Why no key could be loaded when the settings name none (or a keystore without its password
/// variable).
const NO_KEY: &str = "no key configured: set `key_env` (a variable holding the key) or \
                      `keystore` and `password_env`";

/// A keystore error's message reduced to its kind (a decryption error's
/// text never holds the key, but keep it short and plain).
fn keystore_problem(message: &str) -> &'static str {
    let m = message.to_ascii_lowercase();
    if m.contains("mac") || m.contains("password") {
        "wrong password (MAC mismatch)"
    } else if m.contains("no such file") || m.contains("not found") || m.contains("os error") {
        "cannot read the file"
    } else {
        "not a valid encrypted JSON keystore"
    }
}

/// A loaded signing key. Its `Debug` shows the address only.
#[derive(Clone)]
pub struct EvmKey {
    signer: PrivateKeySigner,
}

impl EvmKey {
    /// A key from a signer (tests, tools).
    pub fn from_signer(signer: PrivateKeySigner) -> Self {
        EvmKey { signer }
    }

    /// The account the key controls.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    pub(crate) fn signer(&self) -> &PrivateKeySigner {
        &self.signer
    }
}

impl std::fmt::Debug for EvmKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvmKey")
            .field("address", &self.address())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_are_redacted_and_keys_never_shown() {
        assert_eq!(
            redact_url("https://user:pw@rpc.example.org:8443/v3/SECRETKEY?x=1"),
            "https://rpc.example.org:8443"
        );
        let key = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
        let signer: PrivateKeySigner = key.parse().unwrap();
        let shown = format!("{:?}", EvmKey::from_signer(signer));
        assert!(!shown.contains(&key[2..]), "{shown}");
        assert!(!shown.to_lowercase().contains("59c6995e"), "{shown}");
        let mut c = EvmConfig::new("https://rpc.example.org/v3/SECRETKEY", 1);
        c.key_env = Some("SOME_VAR".into());
        assert!(!format!("{c:?}").contains("SECRETKEY"));
    }

    #[test]
    fn urls_in_error_texts_are_redacted_in_every_form() {
        let url =
            url::Url::parse("http://user:pw%21x@127.0.0.1:18999/v3/PATHKEY?apikey=SECRETKEY123")
                .unwrap();
        let secrets = url_secrets(&url);
        for text in [
            "error sending request for url (http://127.0.0.1:18999/v3/PATHKEY?apikey=SECRETKEY123)",
            "error sending request for url (http://user:pw%21x@127.0.0.1:18999/v3/PATHKEY?apikey=SECRETKEY123): refused",
            "HTTP error 401 from \"https://127.0.0.1:18999/?apikey=SECRETKEY123\", user user pw!x",
            "bad key SECRETKEY123 in v3/PATHKEY",
        ] {
            let shown = redact_text(text, &secrets);
            for secret in ["SECRETKEY123", "PATHKEY", "pw%21x", "pw!x", "user:"] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
        }
        assert_eq!(
            redact_text(
                "error sending request for url (http://u:p@h.example:8/x?k=1)",
                &[]
            ),
            "error sending request for url (http://h.example:8)"
        );
    }

    #[test]
    fn validation_names_the_setting() {
        let mut c = EvmConfig::new("http://127.0.0.1:8545", 31337);
        c.validate("x").unwrap();
        c.confirmations = 0;
        assert!(matches!(c.validate("x"), Err(EvmError::Config { .. })));
        c.confirmations = 1;
        c.contract = Some("0x12".into());
        let e = c.validate("x").unwrap_err();
        assert!(e.to_string().contains("contract"), "{e}");
        c.contract = None;
        c.keystore = Some("k.json".into());
        assert!(matches!(c.validate("x"), Err(EvmError::Config { .. })));
        assert!(matches!(
            EvmConfig::new("http://127.0.0.1:8545", 1).load_key("x"),
            Err(EvmError::Key { .. })
        ));
    }
}
