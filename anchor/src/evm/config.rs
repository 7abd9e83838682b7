//! The settings of an `evm` chain and its signing key.

use std::path::{Path, PathBuf};
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
            let password = keystore_password(pw_var, std::env::var(pw_var).ok()).map_err(err)?;
            return load_keystore(path, &password)
                .map(Some)
                .map_err(|problem| err(format!("keystore {}: {problem}", path.display())));
        }
        Err(err(NO_KEY.into()))
    }

    /// The account of the configured key, if the settings name one: a keystore that names
    /// its `address` gives it without its password (the file's settings checked, the key
    /// not decrypted; nothing but the file's owner vouches for that address, so use it to
    /// show things, never to sign); otherwise the key is loaded
    /// ([`EvmConfig::configured_key`]).
    pub fn configured_address(&self, chain: &str) -> Result<Option<Address>, EvmError> {
        if self.key_env.is_none()
            && let Some(path) = &self.keystore
        {
            let named = read_keystore(path)
                .and_then(|bytes| check_keystore(&bytes))
                .map_err(|problem| EvmError::Key {
                    chain: chain.to_owned(),
                    message: format!("keystore {}: {problem}", path.display()),
                })?;
            if let Some(address) = named {
                return Ok(Some(address));
            }
        }
        Ok(self.configured_key(chain)?.map(|k| k.address()))
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

/// Most memory scrypt may use to derive a keystore's key (`128 * r * (n + p + 2)` bytes): 1 GiB,
/// four times what the standard settings (`n` = 2^18, `r` = 8, `p` = 1) need.
const MAX_SCRYPT_BYTES: u64 = 1 << 30;
/// Largest scrypt `p` accepted (the standard settings use 1).
const MAX_SCRYPT_P: u64 = 16;
/// Most scrypt work accepted, `n * r * p`: eight times the standard settings' (about a
/// second's work on one core).
const MAX_SCRYPT_WORK: u64 = 1 << 24;
/// Largest scrypt block buffer accepted, `128 * r * p` bytes (the standard settings: 1 KiB).
const MAX_SCRYPT_B_BYTES: u64 = 16 << 20;
/// Longest salt accepted (the standard: 32 bytes).
const MAX_SALT_BYTES: usize = 64;
/// Largest keystore file read (a keystore is well under 1 KiB).
const MAX_KEYSTORE_BYTES: u64 = 64 * 1024;
/// Largest PBKDF2 iteration count accepted (the standard settings use 262,144).
const MAX_PBKDF2_ROUNDS: u64 = 10_000_000;

/// The keystore password held by the environment variable `var` (its value `value`): a
/// password kept in a file or a secret often ends with a line break that is not part of it,
/// and an empty one is a mistake, not a password.
fn keystore_password(var: &str, value: Option<String>) -> Result<String, String> {
    let value = value.ok_or_else(|| format!("environment variable {var} is not set"))?;
    let password = value
        .strip_suffix('\n')
        .map(|p| p.strip_suffix('\r').unwrap_or(p))
        .unwrap_or(&value);
    if password.is_empty() {
        return Err(format!("environment variable {var} is empty"));
    }
    Ok(password.to_owned())
}

/// Loads the key of the keystore file `path` with `password`: the file is read and its
/// settings are checked before any key is derived (a file asking for terabytes of memory or
/// hours of work, or of a shape the decryption would fail on, is refused), and the address it
/// names, if any, must be the key's. The error is why, without the path.
fn load_keystore(path: &Path, password: &str) -> Result<EvmKey, String> {
    let bytes = read_keystore(path)?;
    let named = check_keystore(&bytes)?;
    // Decrypted from the bytes just checked, not from the path again (which could have
    // changed in between): a private copy of the (encrypted) file.
    let copy = tempfile::NamedTempFile::new()
        .and_then(|mut f| std::io::Write::write_all(&mut f, &bytes).map(|()| f))
        .map_err(|e| format!("cannot make a private copy to decrypt ({e})"))?;
    let signer = PrivateKeySigner::decrypt_keystore(copy.path(), password).map_err(|e| {
        let m = e.to_string().to_ascii_lowercase();
        if m.contains("mac") {
            "wrong password (MAC mismatch)".to_owned()
        } else {
            format!("not a valid encrypted JSON keystore ({e})")
        }
    })?;
    if let Some(named) = named
        && named != signer.address()
    {
        return Err(format!(
            "it names the account {named}, but the key it holds is that of {}",
            signer.address()
        ));
    }
    Ok(EvmKey { signer })
}

/// The bytes of the keystore file `path`: a regular file of at most [`MAX_KEYSTORE_BYTES`].
fn read_keystore(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let cannot = |e: std::io::Error| format!("cannot read the file ({e})");
    // Checked before opening too: opening a named pipe would wait for a writer.
    if !std::fs::metadata(path).map_err(cannot)?.is_file() {
        return Err("not a regular file".to_owned());
    }
    let file = std::fs::File::open(path).map_err(cannot)?;
    if !file.metadata().map_err(cannot)?.is_file() {
        return Err("not a regular file".to_owned());
    }
    let mut bytes = Vec::new();
    file.take(MAX_KEYSTORE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_KEYSTORE_BYTES {
        return Err(format!(
            "over {} KiB: not a keystore",
            MAX_KEYSTORE_BYTES / 1024
        ));
    }
    Ok(bytes)
}

/// Checks a keystore's text (Web3 Secret Storage version 3) before its key is derived, and
/// returns the address it names, if any.
fn check_keystore(bytes: &[u8]) -> Result<Option<Address>, String> {
    use serde_json::Value;
    let invalid = |why: String| format!("not a valid encrypted JSON keystore: {why}");
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
    let version = doc.get("version").and_then(Value::as_u64);
    if version != Some(3) {
        return Err(invalid(format!(
            "its version is {}, not 3",
            doc.get("version").unwrap_or(&Value::Null)
        )));
    }
    let crypto = doc
        .get("crypto")
        .or_else(|| doc.get("Crypto"))
        .ok_or_else(|| invalid("it has no `crypto`".into()))?;
    let text = |v: &Value, name: &str| -> Result<String, String> {
        v.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| invalid(format!("`{name}` is missing or not text")))
    };
    let hex_of = |v: &Value, name: &str, len: Option<usize>| -> Result<Vec<u8>, String> {
        let t = text(v, name)?;
        let b = hex::decode(t.trim_start_matches("0x"))
            .map_err(|_| invalid(format!("`{name}` is not hex")))?;
        match len {
            Some(n) if b.len() != n => {
                Err(invalid(format!("`{name}` is {} bytes, not {n}", b.len())))
            }
            _ => Ok(b),
        }
    };
    let number = |v: &Value, name: &str| -> Result<u64, String> {
        v.get(name)
            .and_then(Value::as_u64)
            .ok_or_else(|| invalid(format!("`{name}` is missing or not a whole number")))
    };
    let cipher = text(crypto, "cipher")?;
    if cipher != "aes-128-ctr" {
        return Err(format!(
            "the cipher {cipher:?} is not supported (only \"aes-128-ctr\")"
        ));
    }
    let iv_holder = crypto
        .get("cipherparams")
        .ok_or_else(|| invalid("it has no `cipherparams`".into()))?;
    hex_of(iv_holder, "iv", Some(16))?;
    hex_of(crypto, "ciphertext", Some(32))?;
    hex_of(crypto, "mac", Some(32))?;
    let params = crypto
        .get("kdfparams")
        .ok_or_else(|| invalid("it has no `kdfparams`".into()))?;
    let unsafe_settings = |why: String| {
        format!("its key derivation settings are refused (they could exhaust this host): {why}")
    };
    let fields = params
        .as_object()
        .ok_or_else(|| invalid("`kdfparams` is not an object".into()))?;
    // Both methods hash the salt again for every block they derive: a long one is work.
    let salt = hex_of(params, "salt", None)?;
    if salt.len() > MAX_SALT_BYTES {
        return Err(unsafe_settings(format!(
            "a salt of {} bytes (at most {MAX_SALT_BYTES})",
            salt.len()
        )));
    }
    if number(params, "dklen")? != 32 {
        return Err(invalid("`dklen` is not 32".into()));
    }
    let kdf = text(crypto, "kdf")?;
    // Exactly the method's settings: the decryption picks the method by the settings it
    // finds, not by `kdf`, so settings of the other method would be used unchecked.
    let expected: &[&str] = match kdf.as_str() {
        "scrypt" => &["dklen", "n", "p", "r", "salt"],
        "pbkdf2" => &["c", "dklen", "prf", "salt"],
        other => {
            return Err(format!(
                "the key derivation {other:?} is not supported (\"scrypt\" or \"pbkdf2\")"
            ));
        }
    };
    let mut found: Vec<&str> = fields.keys().map(String::as_str).collect();
    found.sort_unstable();
    if found != expected {
        return Err(invalid(format!(
            "the {kdf} settings are {}, not {}",
            found.join(", "),
            expected.join(", ")
        )));
    }
    if kdf == "scrypt" {
        let (n, r, p) = (
            number(params, "n")?,
            number(params, "r")?,
            number(params, "p")?,
        );
        if n < 2 || !n.is_power_of_two() {
            return Err(invalid(format!("scrypt `n` = {n} is not a power of two")));
        }
        if r == 0 || p == 0 {
            return Err(invalid("scrypt `r` and `p` must be at least 1".into()));
        }
        if p > MAX_SCRYPT_P {
            return Err(unsafe_settings(format!(
                "scrypt p = {p} is over {MAX_SCRYPT_P}"
            )));
        }
        // scrypt's buffers: V (128 r n bytes), B (128 r p) and XY (256 r).
        let bytes = 128u64
            .saturating_mul(r)
            .saturating_mul(n.saturating_add(p).saturating_add(2));
        if bytes > MAX_SCRYPT_BYTES {
            return Err(unsafe_settings(format!(
                "scrypt n = {n}, r = {r}, p = {p} needs {} MiB of memory, over {} MiB",
                bytes >> 20,
                MAX_SCRYPT_BYTES >> 20
            )));
        }
        // PBKDF2 over the salt derives scrypt's B buffer, 128 r p bytes, a block at a time.
        let b_bytes = 128u64.saturating_mul(r).saturating_mul(p);
        if b_bytes > MAX_SCRYPT_B_BYTES {
            return Err(unsafe_settings(format!(
                "scrypt r = {r}, p = {p} make a {} MiB block buffer, over {} MiB",
                b_bytes >> 20,
                MAX_SCRYPT_B_BYTES >> 20
            )));
        }
        let work = n.saturating_mul(r).saturating_mul(p);
        if work > MAX_SCRYPT_WORK {
            return Err(unsafe_settings(format!(
                "scrypt n * r * p = {work} is over {MAX_SCRYPT_WORK}"
            )));
        }
    } else {
        // pbkdf2, the one other method the match above lets through.
        let prf = text(params, "prf")?;
        if prf != "hmac-sha256" {
            return Err(format!(
                "the PBKDF2 function {prf:?} is not supported (only \"hmac-sha256\")"
            ));
        }
        let c = number(params, "c")?;
        if c == 0 || c > MAX_PBKDF2_ROUNDS {
            return Err(unsafe_settings(format!(
                "PBKDF2 c = {c} is not between 1 and {MAX_PBKDF2_ROUNDS}"
            )));
        }
    }
    match doc.get("address") {
        None | Some(Value::Null) => Ok(None),
        Some(_) => {
            let b = hex_of(&doc, "address", Some(20))?;
            Ok(Some(Address::from_slice(&b)))
        }
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

    /// A keystore made with the standard encryption, and its account.
    fn keystore(dir: &Path, password: &str) -> (PathBuf, Address) {
        use rand::SeedableRng as _;
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let key = [0x42u8; 32];
        let (signer, _) =
            PrivateKeySigner::encrypt_keystore(dir, &mut rng, key, password, Some("k.json"))
                .unwrap();
        (dir.join("k.json"), signer.address())
    }

    /// A keystore loads with its password (a trailing line break ignored); a wrong or empty
    /// password and a missing file say so.
    #[test]
    fn a_keystore_loads_with_its_password() {
        let dir = tempfile::tempdir().unwrap();
        let (path, address) = keystore(dir.path(), "pw-member");
        let pw = keystore_password("V", Some("pw-member\r\n".into())).unwrap();
        assert_eq!(load_keystore(&path, &pw).unwrap().address(), address);
        let e = load_keystore(&path, "pw-other").unwrap_err();
        assert!(e.contains("wrong password"), "{e}");
        let e = keystore_password("V", Some("\n".into())).unwrap_err();
        assert_eq!(e, "environment variable V is empty");
        let e = keystore_password("V", None).unwrap_err();
        assert_eq!(e, "environment variable V is not set");
        let e = load_keystore(&dir.path().join("none.json"), "pw").unwrap_err();
        assert!(e.contains("cannot read the file (No such file"), "{e}");
        // The error names the file.
        let mut c = EvmConfig::new("http://127.0.0.1:8545", 31337);
        c.keystore = Some(dir.path().join("none.json"));
        c.password_env = Some("PATH".into());
        let e = c.load_key("x").unwrap_err().to_string();
        assert!(e.contains("none.json: cannot read the file"), "{e}");
    }

    /// Settings that would exhaust the host, or that the decryption cannot use, and an address
    /// that is not the key's, are refused before or after decryption, never a crash.
    #[test]
    fn a_keystore_of_unsafe_or_wrong_settings_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = keystore(dir.path(), "pw");
        let good: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let cases: [(&str, serde_json::Value, &str); 13] = [
            (
                "/crypto/kdfparams/salt",
                "00".repeat(65).into(),
                "a salt of 65 bytes",
            ),
            (
                "/crypto/kdfparams",
                serde_json::json!([1, 2]),
                "is not an object",
            ),
            // Both methods' settings: the decryption would use PBKDF2's, unchecked.
            (
                "/crypto/kdfparams/c",
                4_294_967_295u64.into(),
                "the scrypt settings are c, dklen",
            ),
            // scrypt's B buffer (128 r p bytes) counts too.
            ("/crypto/kdfparams/r", (1u64 << 22).into(), "MiB of memory"),
            ("/crypto/kdfparams/n", (1u64 << 30).into(), "MiB of memory"),
            ("/crypto/kdfparams/n", 1000.into(), "not a power of two"),
            (
                "/crypto/kdfparams/p",
                1_000_000.into(),
                "p = 1000000 is over 16",
            ),
            ("/crypto/kdfparams/dklen", 16.into(), "`dklen` is not 32"),
            ("/crypto/cipher", "aes-256-gcm".into(), "not supported"),
            (
                "/crypto/cipherparams/iv",
                "00ff".into(),
                "`iv` is 2 bytes, not 16",
            ),
            ("/version", 1.into(), "version is 1, not 3"),
            (
                "/address",
                "70997970c51812dc3a010c7d01b50e0d17dc79c8".into(),
                "names the account 0x70997970",
            ),
            ("/crypto/kdf", "argon2".into(), "not supported"),
        ];
        for (at, value, expected) in cases {
            let mut doc = good.clone();
            match doc.pointer_mut(at) {
                Some(v) => *v = value,
                // A field the file has not (`address`: eth-keystore writes none).
                None => {
                    let (parent, name) = at.rsplit_once('/').unwrap();
                    let parent = doc.pointer_mut(parent).unwrap_or_else(|| panic!("{at}"));
                    parent[name] = value;
                }
            }
            let bad = dir.path().join("bad.json");
            std::fs::write(&bad, doc.to_string()).unwrap();
            let e = load_keystore(&bad, "pw").unwrap_err();
            assert!(e.contains(expected), "{at}: {e}");
        }
        // The address of the key it holds is accepted, and read without the password.
        let (_, address) = keystore(dir.path(), "pw");
        let mut doc = good.clone();
        doc["address"] = hex::encode(address).into();
        let named = dir.path().join("named.json");
        std::fs::write(&named, doc.to_string()).unwrap();
        assert_eq!(load_keystore(&named, "pw").unwrap().address(), address);
        let mut c = EvmConfig::new("http://127.0.0.1:8545", 31337);
        c.keystore = Some(named);
        c.password_env = Some("PROOFMARK_TEST_NEVER_SET".into());
        assert_eq!(c.configured_address("x").unwrap(), Some(address));
        // So is scrypt's block buffer (PBKDF2 derives it a block at a time), within the
        // memory bound: 128 * 65536 * 16 bytes with n = 2.
        let mut doc = good.clone();
        doc["crypto"]["kdfparams"]["n"] = 2.into();
        doc["crypto"]["kdfparams"]["r"] = (1u64 << 16).into();
        doc["crypto"]["kdfparams"]["p"] = 16.into();
        let e = check_keystore(doc.to_string().as_bytes()).unwrap_err();
        assert!(e.contains("block buffer"), "{e}");
        // So is scrypt's work, n * r * p, within the memory bound.
        let mut doc = good.clone();
        doc["crypto"]["kdfparams"]["n"] = (1u64 << 19).into();
        doc["crypto"]["kdfparams"]["r"] = 8.into();
        doc["crypto"]["kdfparams"]["p"] = 16.into();
        let e = check_keystore(doc.to_string().as_bytes()).unwrap_err();
        assert!(e.contains("n * r * p"), "{e}");
        // A file that is not a regular file, or too large to be a keystore, is not read whole.
        let e = load_keystore(dir.path(), "pw").unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
        // A named pipe is refused, not opened (opening it would wait for a writer).
        let pipe = dir.path().join("pipe.json");
        let made = std::process::Command::new("mkfifo").arg(&pipe).status();
        if made.is_ok_and(|s| s.success()) {
            let e = load_keystore(&pipe, "pw").unwrap_err();
            assert!(e.contains("not a regular file"), "{e}");
        }
        let big = dir.path().join("big.json");
        std::fs::write(&big, vec![b' '; 100_000]).unwrap();
        let e = load_keystore(&big, "pw").unwrap_err();
        assert!(e.contains("not a keystore"), "{e}");
        // A PBKDF2 keystore's count is bounded too.
        let mut doc = good.clone();
        doc["crypto"]["kdf"] = "pbkdf2".into();
        doc["crypto"]["kdfparams"] =
            serde_json::json!({"c": 1u64 << 40, "dklen": 32, "prf": "hmac-sha256", "salt": "00"});
        assert!(
            check_keystore(doc.to_string().as_bytes())
                .unwrap_err()
                .contains("PBKDF2 c")
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
