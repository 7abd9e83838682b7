//! JSON-RPC access to one `evm` chain: reads of the anchor contract, and
//! transactions that survive node faults, stuck mempools and reorgs.
//!
//! Every call is retried with exponential back-off while the node is
//! unreachable, within `rpc_timeout_secs` in total. A transaction is signed
//! locally, so its hash is known before it is sent: when the node goes away
//! after accepting it, the next poll finds it. A transaction still pending
//! after `stuck_timeout_secs` is replaced (same nonce) with fees raised by
//! `fee_bump_percent`. A receipt counts once `confirmations` blocks include or
//! follow its block and a re-read shows it still on the canonical chain.

use std::future::{Future, IntoFuture};
use std::time::{Duration, Instant};

use alloy::consensus::TxEnvelope;
use alloy::eips::BlockNumberOrTag;
use alloy::eips::eip2718::Encodable2718;
use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, B256, Bytes};
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::types::{BlockId, Filter, TransactionReceipt, TransactionRequest};
use alloy::sol_types::{SolCall, SolEvent};
use alloy::transports::{RpcError, TransportError, TransportErrorKind};

use super::EvmError;
use super::config::{EvmConfig, EvmKey, FeeMode, redact_text, redact_url, url_secrets};
use super::contract::{ContractError, ProofmarkAnchor, batch_key, creation_bytecode};

/// A mined transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mined {
    /// The transaction hash.
    pub tx_hash: B256,
    /// The block it is in.
    pub block_number: u64,
    /// That block's hash.
    pub block_hash: B256,
    /// Gas used by the transaction.
    pub gas_used: u64,
    /// The created contract, for a deployment.
    pub contract_address: Option<Address>,
    /// Whether it succeeded.
    pub success: bool,
}

/// A mined transaction with enough confirmations, re-checked on the canonical chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    /// The transaction.
    pub mined: Mined,
    /// Blocks that include or follow its block (the block itself counts 1).
    pub confirmations: u64,
}

/// The outcome of waiting for confirmations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// Confirmed and still canonical.
    Confirmed(Confirmed),
    /// A reorg dropped the transaction from the canonical chain.
    Dropped,
}

/// An anchor as the contract holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnChainAnchor {
    /// The batch root.
    pub root: B256,
    /// The manifest's BLAKE3 digest.
    pub manifest_digest: B256,
    /// The batch log's root at `log_size`.
    pub log_root: B256,
    /// Leaves in the batch.
    pub leaf_count: u64,
    /// The batch log's size.
    pub log_size: u64,
    /// The block the anchor was written in.
    pub block_number: u64,
    /// That block's timestamp (seconds).
    pub timestamp: u64,
    /// The member that anchored it (the one it was read for).
    pub submitter: Address,
}

/// The error text of a transport failure with the node's URL reduced to
/// scheme, host and port (an URL path may hold an API key).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RpcFault(String);

/// The fees of a signed transaction, in wei per gas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Fees {
    /// A legacy (type 0) transaction's gas price.
    Legacy {
        /// The gas price.
        #[serde(with = "decimal")]
        gas_price: u128,
    },
    /// An EIP-1559 (type 2) transaction's fee cap and priority fee.
    Eip1559 {
        /// `maxFeePerGas`.
        #[serde(with = "decimal")]
        max_fee: u128,
        /// `maxPriorityFeePerGas`.
        #[serde(with = "decimal")]
        priority: u128,
    },
}

/// Wei amounts as decimal strings (JSON numbers lose precision past 2^53).
mod decimal {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A transaction this client signed, at one nonce: what a later run needs to
/// resume it (wait for it, or replace it at the same nonce) instead of
/// sending another one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxAttempt {
    /// The nonce every version of the transaction uses.
    pub nonce: u64,
    /// The gas limit.
    pub gas_limit: u64,
    /// The fees of the latest version.
    pub fees: Fees,
    /// Every version signed at this nonce, oldest first (the latest last).
    pub tx_hashes: Vec<B256>,
}

/// Where [`EvmClient::send_resumable`] records a transaction before it goes
/// out, so that a run that stops while it is pending can resume it.
pub trait TxJournal {
    /// Records `attempt` (its latest hash is about to be sent); an error
    /// stops the send before anything goes out.
    fn record(&self, attempt: &TxAttempt) -> impl Future<Output = Result<(), EvmError>> + Send;
}

/// A journal that keeps nothing (deployments and membership changes, which a
/// person runs and watches).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoJournal;

impl TxJournal for NoJournal {
    async fn record(&self, _attempt: &TxAttempt) -> Result<(), EvmError> {
        Ok(())
    }
}

impl Fees {
    /// The fees raised by `percent` (plus one wei), never above `cap` (nor
    /// below the current fees).
    pub fn bumped(self, percent: u64, cap: Option<u128>) -> Fees {
        let up = |v: u128| {
            let raised = v.saturating_mul(100 + u128::from(percent)) / 100 + 1;
            cap.map_or(raised, |c| raised.min(c.max(v)))
        };
        match self {
            Fees::Legacy { gas_price } => Fees::Legacy {
                gas_price: up(gas_price),
            },
            Fees::Eip1559 { max_fee, priority } => {
                let max_fee = up(max_fee);
                Fees::Eip1559 {
                    max_fee,
                    priority: up(priority).min(max_fee),
                }
            }
        }
    }
}

struct RpcFailure {
    error: TransportError,
    attempts: u32,
    elapsed: Duration,
}

/// A connection to one `evm` chain, with the sending key when one is loaded.
pub struct EvmClient {
    chain: String,
    config: EvmConfig,
    url_shown: String,
    url_secrets: Vec<String>,
    provider: RootProvider,
    key: Option<EvmKey>,
    wallet: Option<EthereumWallet>,
}

impl std::fmt::Debug for EvmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvmClient")
            .field("chain", &self.chain)
            .field("url", &self.url_shown)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

fn retryable(e: &TransportError) -> bool {
    match e {
        RpcError::Transport(TransportErrorKind::HttpError(h)) => {
            h.status >= 500 || h.status == 429 || h.status == 408
        }
        RpcError::Transport(_) => true,
        // Rate limits and "header not found" style answers of load-balanced nodes.
        RpcError::ErrorResp(p) => p.code == -32005 || p.code == 429,
        _ => false,
    }
}

/// An error with its causes joined by `: ` (each cause once), for a one-line reason.
pub fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cause = c.source();
    }
    text
}

impl EvmClient {
    /// Connects to the chain's node and checks its chain id; `key` is needed
    /// for transactions only.
    pub async fn connect(
        chain: &str,
        config: &EvmConfig,
        key: Option<EvmKey>,
    ) -> Result<Self, EvmError> {
        config.validate(chain)?;
        let url = config.resolved_rpc_url(chain)?;
        let url_shown = redact_url(url.as_str());
        let url_secrets = url_secrets(&url);
        let provider = RootProvider::new_http(url);
        let wallet = key
            .as_ref()
            .map(|k| EthereumWallet::from(k.signer().clone()));
        let client = EvmClient {
            chain: chain.to_owned(),
            config: config.clone(),
            url_shown,
            url_secrets,
            provider,
            key,
            wallet,
        };
        let p = &client.provider;
        let actual = client
            .rpc("eth_chainId", || p.get_chain_id().into_future())
            .await?;
        if actual != config.chain_id {
            return Err(EvmError::WrongChainId {
                chain: chain.to_owned(),
                url: client.url_shown.clone(),
                expected: config.chain_id,
                actual,
            });
        }
        Ok(client)
    }

    /// The chain's name.
    pub fn chain(&self) -> &str {
        &self.chain
    }

    /// The settings.
    pub fn config(&self) -> &EvmConfig {
        &self.config
    }

    /// The node's URL as it may be shown (scheme, host and port).
    pub fn url_shown(&self) -> &str {
        &self.url_shown
    }

    /// The sending account, when a key is loaded.
    pub fn account(&self) -> Option<Address> {
        self.key.as_ref().map(EvmKey::address)
    }

    fn key_address(&self) -> Result<Address, EvmError> {
        self.account().ok_or_else(|| EvmError::Key {
            chain: self.chain.clone(),
            message: "no key loaded".into(),
        })
    }

    /// The configured contract address.
    pub fn contract(&self) -> Result<Address, EvmError> {
        self.config.contract_address(&self.chain)
    }

    async fn rpc_raw<T, F, Fut>(&self, mut op: F) -> Result<T, RpcFailure>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, TransportError>>,
    {
        let start = Instant::now();
        let budget = Duration::from_secs(self.config.rpc_timeout_secs);
        let per_request = Duration::from_secs(self.config.request_timeout_secs);
        let mut delay = Duration::from_millis(100);
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let result = match tokio::time::timeout(per_request, op()).await {
                Ok(r) => r,
                Err(_) => Err(TransportErrorKind::custom_str(&format!(
                    "no answer within {} s",
                    per_request.as_secs()
                ))),
            };
            match result {
                Ok(v) => return Ok(v),
                Err(error) => {
                    let elapsed = start.elapsed();
                    if !retryable(&error) || elapsed + delay > budget {
                        return Err(RpcFailure {
                            error,
                            attempts,
                            elapsed,
                        });
                    }
                    // Said once at WARN (a node that is down would otherwise fill the log
                    // with a line per retry); each later retry at DEBUG.
                    if attempts == 1 {
                        tracing::warn!(
                            chain = %self.chain,
                            error = %self.redact(&error_text(&error)),
                            "JSON-RPC call failed; retrying for up to {} s",
                            budget.as_secs()
                        );
                    } else {
                        tracing::debug!(
                            chain = %self.chain,
                            attempt = attempts,
                            error = %self.redact(&error_text(&error)),
                            "JSON-RPC call failed again; retrying"
                        );
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    fn redact(&self, text: &str) -> String {
        redact_text(text, &self.url_secrets)
    }

    fn failure(&self, what: &str, f: RpcFailure) -> EvmError {
        if let RpcError::ErrorResp(payload) = &f.error
            && let Some(decoded) = payload.as_decoded_interface_error::<ContractError>()
        {
            return self.revert_error(what, decoded);
        }
        let text = self.redact(&error_text(&f.error));
        if let (Some(account), true) = (
            self.account(),
            text.to_ascii_lowercase().contains("insufficient funds"),
        ) {
            return EvmError::InsufficientFunds {
                chain: self.chain.clone(),
                chain_id: self.config.chain_id,
                account: account.to_string(),
                what: what.to_owned(),
                detail: text,
            };
        }
        EvmError::Rpc {
            chain: self.chain.clone(),
            url: self.url_shown.clone(),
            what: what.to_owned(),
            attempts: f.attempts,
            elapsed_ms: u64::try_from(f.elapsed.as_millis()).unwrap_or(u64::MAX),
            source: RpcFault(text),
        }
    }

    async fn rpc<T, F, Fut>(&self, what: &str, op: F) -> Result<T, EvmError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, TransportError>>,
    {
        self.rpc_raw(op).await.map_err(|f| self.failure(what, f))
    }

    fn revert_error(&self, what: &str, e: ContractError) -> EvmError {
        let contract = self
            .config
            .contract
            .clone()
            .unwrap_or_else(|| "(none)".into());
        match e {
            ContractError::NotMember(m) => EvmError::NotMember {
                chain: self.chain.clone(),
                account: m.account.to_string(),
                contract,
            },
            ContractError::NotAdmin(m) => EvmError::NotAdmin {
                chain: self.chain.clone(),
                account: m.account.to_string(),
                contract,
                admin: "another account".into(),
            },
            ContractError::AnchorConflict(c) => EvmError::Conflict {
                chain: self.chain.clone(),
                batch_id: c.batchId,
                anchored_root: hex::encode(c.anchoredRoot),
                root: hex::encode(c.root),
            },
            ContractError::LogCheckpointConflict(c) => EvmError::LogConflict {
                chain: self.chain.clone(),
                account: self
                    .account()
                    .map_or_else(|| "(no key)".to_owned(), |a| a.to_string()),
                log_size: c.logSize,
                anchored_log_root: hex::encode(c.anchoredLogRoot),
                log_root: hex::encode(c.logRoot),
            },
            other => EvmError::Refused {
                chain: self.chain.clone(),
                what: what.to_owned(),
                revert: Box::new(other),
            },
        }
    }

    /// The latest block number.
    pub async fn block_number(&self) -> Result<u64, EvmError> {
        let p = &self.provider;
        self.rpc("eth_blockNumber", || p.get_block_number().into_future())
            .await
    }

    async fn block_hash_at(&self, number: u64) -> Result<Option<B256>, EvmError> {
        let p = &self.provider;
        let block = self
            .rpc("eth_getBlockByNumber", || {
                p.get_block_by_number(BlockNumberOrTag::Number(number))
                    .into_future()
            })
            .await?;
        Ok(block.map(|b| b.header.hash))
    }

    async fn receipt(&self, tx_hash: B256) -> Result<Option<Mined>, EvmError> {
        let p = &self.provider;
        let r: Option<TransactionReceipt> = self
            .rpc("eth_getTransactionReceipt", || {
                p.get_transaction_receipt(tx_hash).into_future()
            })
            .await?;
        Ok(r.and_then(|r| {
            Some(Mined {
                tx_hash: r.transaction_hash,
                block_number: r.block_number?,
                block_hash: r.block_hash?,
                gas_used: r.gas_used,
                contract_address: r.contract_address,
                success: r.status(),
            })
        }))
    }

    /// Calls a view of the contract at the latest block.
    pub async fn view<C: SolCall>(&self, call: C, what: &str) -> Result<C::Return, EvmError> {
        let to = self.contract()?;
        let tx = TransactionRequest::default()
            .with_to(to)
            .with_input(call.abi_encode());
        let p = &self.provider;
        let out: Bytes = self
            .rpc(what, || {
                p.call(tx.clone()).block(BlockId::latest()).into_future()
            })
            .await?;
        C::abi_decode_returns(&out).map_err(|e| EvmError::Inconsistent {
            chain: self.chain.clone(),
            message: format!("cannot decode the answer of {what}: {e}"),
        })
    }

    /// Checks that the configured address holds an anchor contract: contract code that
    /// answers `admin()` with an account (the anchor contract's admin is never the zero
    /// address). Another contract fails here, named as such, rather than later with a
    /// misleading error (a "not a member" from a contract that answers zeros).
    pub async fn check_contract(&self) -> Result<Address, EvmError> {
        let address = self.contract()?;
        let p = &self.provider;
        let code: Bytes = self
            .rpc("eth_getCode", || p.get_code_at(address).into_future())
            .await?;
        if code.is_empty() {
            return Err(EvmError::NotAContract {
                chain: self.chain.clone(),
                address: address.to_string(),
            });
        }
        let not_ours = |reason: String| EvmError::NotAnchorContract {
            chain: self.chain.clone(),
            address: address.to_string(),
            reason,
        };
        match self.admin().await {
            Ok(admin) if admin != Address::ZERO => Ok(address),
            Ok(_) => Err(not_ours("its admin() is the zero address".into())),
            Err(EvmError::Inconsistent { message, .. }) => Err(not_ours(message)),
            Err(EvmError::Refused { .. }) => Err(not_ours("it refuses admin()".into())),
            // A call the contract reverted comes back as the node's error answer.
            Err(EvmError::Rpc { source, .. })
                if source.0.to_ascii_lowercase().contains("revert") =>
            {
                Err(not_ours(format!("admin() reverted: {}", source.0)))
            }
            Err(e) => Err(e),
        }
    }

    /// The anchor of `batch_id` by member `submitter` (anchors are kept per
    /// member: each anchors its own store's batches and batch log), or `None`.
    pub async fn read_anchor(
        &self,
        submitter: Address,
        batch_id: &str,
    ) -> Result<Option<OnChainAnchor>, EvmError> {
        let a = self
            .view(
                ProofmarkAnchor::getAnchorCall {
                    submitter,
                    batchId: batch_id.to_owned(),
                },
                "getAnchor",
            )
            .await?;
        if a.blockNumber == 0 {
            return Ok(None);
        }
        Ok(Some(OnChainAnchor {
            root: a.root,
            manifest_digest: a.manifestDigest,
            log_root: a.logRoot,
            leaf_count: a.leafCount,
            log_size: a.logSize,
            block_number: a.blockNumber,
            timestamp: a.timestamp,
            submitter,
        }))
    }

    /// The latest log checkpoint (size, root) member `submitter` anchored;
    /// size 0 before any.
    pub async fn latest_checkpoint(&self, submitter: Address) -> Result<(u64, B256), EvmError> {
        let r = self
            .view(
                ProofmarkAnchor::latestCheckpointCall { submitter },
                "latestCheckpoint",
            )
            .await?;
        Ok((r.size, r.root))
    }

    /// Whether `account` may anchor.
    pub async fn is_member(&self, account: Address) -> Result<bool, EvmError> {
        self.view(ProofmarkAnchor::isMemberCall(account), "isMember")
            .await
    }

    /// The contract's admin.
    pub async fn admin(&self) -> Result<Address, EvmError> {
        self.view(ProofmarkAnchor::adminCall {}, "admin").await
    }

    /// The transaction that wrote the anchor of `batch_id` by `submitter`
    /// in block `block_number` (from the contract's `Anchored` event).
    pub async fn find_anchor_tx(
        &self,
        submitter: Address,
        batch_id: &str,
        block_number: u64,
    ) -> Result<Option<Mined>, EvmError> {
        let filter = Filter::new()
            .address(self.contract()?)
            .event_signature(ProofmarkAnchor::Anchored::SIGNATURE_HASH)
            .topic1(batch_key(batch_id))
            .topic2(submitter.into_word())
            .from_block(block_number)
            .to_block(block_number);
        let p = &self.provider;
        let logs = self.rpc("eth_getLogs", || p.get_logs(&filter)).await?;
        let Some(tx_hash) = logs.iter().find_map(|l| l.transaction_hash) else {
            return Ok(None);
        };
        self.receipt(tx_hash).await
    }

    async fn initial_fees(&self) -> Result<Fees, EvmError> {
        let p = &self.provider;
        let mode = match self.config.fee_mode {
            FeeMode::Auto => {
                let block = self
                    .rpc("eth_getBlockByNumber", || {
                        p.get_block_by_number(BlockNumberOrTag::Latest)
                            .into_future()
                    })
                    .await?;
                if block.is_some_and(|b| b.header.base_fee_per_gas.is_some()) {
                    FeeMode::Eip1559
                } else {
                    FeeMode::Legacy
                }
            }
            m => m,
        };
        let cap = self.fee_cap();
        let fees = match mode {
            FeeMode::Legacy => {
                let gas_price = self
                    .rpc("eth_gasPrice", || p.get_gas_price().into_future())
                    .await?;
                Fees::Legacy { gas_price }
            }
            _ => {
                let est = self
                    .rpc("eth_feeHistory", || p.estimate_eip1559_fees())
                    .await?;
                Fees::Eip1559 {
                    max_fee: est.max_fee_per_gas,
                    priority: est.max_priority_fee_per_gas,
                }
            }
        };
        Ok(match (fees, cap) {
            (Fees::Legacy { gas_price }, Some(c)) => Fees::Legacy {
                gas_price: gas_price.min(c),
            },
            (Fees::Eip1559 { max_fee, priority }, Some(c)) => Fees::Eip1559 {
                max_fee: max_fee.min(c),
                priority: priority.min(c),
            },
            (f, None) => f,
        })
    }

    fn fee_cap(&self) -> Option<u128> {
        self.config
            .max_fee_per_gas_gwei
            .map(|g| u128::from(g) * 1_000_000_000)
    }

    async fn sign(
        &self,
        base: &TransactionRequest,
        nonce: u64,
        gas_limit: u64,
        fees: Fees,
    ) -> Result<TxEnvelope, EvmError> {
        let wallet = self.wallet.as_ref().ok_or_else(|| EvmError::Key {
            chain: self.chain.clone(),
            message: "no key loaded".into(),
        })?;
        let mut tx = base
            .clone()
            .with_nonce(nonce)
            .with_gas_limit(gas_limit)
            .with_chain_id(self.config.chain_id);
        tx = match fees {
            Fees::Legacy { gas_price } => tx.with_gas_price(gas_price),
            Fees::Eip1559 { max_fee, priority } => tx
                .with_max_fee_per_gas(max_fee)
                .with_max_priority_fee_per_gas(priority),
        };
        tx.build(wallet).await.map_err(|e| EvmError::Key {
            chain: self.chain.clone(),
            message: format!("cannot sign the transaction: {e}"),
        })
    }

    async fn find_mined(&self, hashes: &[B256]) -> Result<Option<Mined>, EvmError> {
        for h in hashes {
            if let Some(m) = self.receipt(*h).await? {
                return Ok(Some(m));
            }
        }
        Ok(None)
    }

    /// Sends a transaction (`to: None` deploys `input`), replacing it with
    /// higher fees while it is stuck, and returns it once mined (not yet
    /// confirmed). Reverts that a simulation shows are returned as typed errors
    /// before anything is sent. Nothing is recorded for a later run: see
    /// [`EvmClient::send_resumable`].
    pub async fn send(
        &self,
        to: Option<Address>,
        input: Bytes,
        what: &str,
    ) -> Result<Mined, EvmError> {
        self.send_resumable(to, input, what, None, &NoJournal).await
    }

    /// The nonce the account's next transaction gets once every mined one
    /// is counted (`latest`) or every pending one too (`pending`).
    async fn nonce(&self, from: Address, pending: bool) -> Result<u64, EvmError> {
        let p = &self.provider;
        self.rpc("eth_getTransactionCount", || {
            let call = p.get_transaction_count(from);
            if pending {
                call.pending().into_future()
            } else {
                call.latest().into_future()
            }
        })
        .await
    }

    /// Whether the node holds one of `hashes` with nonce `nonce` (pending or mined).
    async fn holds_one_of(&self, hashes: &[B256], nonce: u64) -> Result<bool, EvmError> {
        use alloy::consensus::Transaction as _;
        let p = &self.provider;
        for h in hashes {
            let tx = self
                .rpc("eth_getTransactionByHash", || {
                    p.get_transaction_by_hash(*h).into_future()
                })
                .await?;
            if tx.is_some_and(|t| t.nonce() == nonce) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// An error met after `tx_hash` was sent, naming it (a node fault then
    /// leaves the transaction's fate open).
    fn after_send(&self, tx_hash: B256, e: EvmError) -> EvmError {
        match e {
            EvmError::Rpc { .. } => EvmError::AfterSend {
                chain: self.chain.clone(),
                tx_hash: tx_hash.to_string(),
                source: Box::new(e),
            },
            other => other,
        }
    }

    /// [`EvmClient::send`] that records every signed version of the
    /// transaction in `journal` before it goes out, and resumes `resume` (a
    /// transaction an earlier run recorded) instead of sending a new one:
    /// when one of its versions is mined, that one is returned; while its
    /// nonce is still open, it is sent again as it was and replaced at the
    /// same nonce when stuck; only when another transaction took its nonce
    /// is a new one sent.
    pub async fn send_resumable(
        &self,
        to: Option<Address>,
        input: Bytes,
        what: &str,
        resume: Option<TxAttempt>,
        journal: &impl TxJournal,
    ) -> Result<Mined, EvmError> {
        let from = self.key_address()?;
        let base = match to {
            Some(to) => TransactionRequest::default()
                .with_from(from)
                .with_to(to)
                .with_input(input),
            None => TransactionRequest::default()
                .with_from(from)
                .with_deploy_code(input),
        };
        let p = &self.provider;
        let mut sent: Vec<B256> = Vec::new();
        let mut resumed = None;
        if let Some(r) = resume {
            if let Some(m) = self.find_mined(&r.tx_hashes).await? {
                tracing::info!(chain = %self.chain, tx = %m.tx_hash, nonce = r.nonce, what, "the transaction of an earlier run was mined");
                return self.mined_ok(m);
            }
            if self.nonce(from, false).await? > r.nonce {
                tracing::warn!(
                    chain = %self.chain,
                    nonce = r.nonce,
                    "another transaction of the account took the nonce of an earlier run's {what} \
                     transaction, which was never mined: sending a new one"
                );
            } else {
                tracing::info!(
                    chain = %self.chain,
                    tx = ?r.tx_hashes.last(),
                    nonce = r.nonce,
                    what,
                    "resuming the pending transaction of an earlier run (same nonce)"
                );
                resumed = Some(r);
            }
        }
        let (gas_limit, mut fees) = match &resumed {
            Some(r) => (r.gas_limit, r.fees),
            None => {
                let estimate = self
                    .rpc(what, || p.estimate_gas(base.clone()).into_future())
                    .await?;
                (
                    estimate.saturating_mul(6) / 5 + 10_000,
                    self.initial_fees().await?,
                )
            }
        };
        let mut fixed_nonce = resumed.as_ref().map(|r| r.nonce);
        // The versions an earlier run signed at that nonce.
        let mut carried: Vec<B256> = resumed.map(|r| r.tx_hashes).unwrap_or_default();
        sent.clone_from(&carried);
        let started = Instant::now();
        let give_up = Duration::from_secs(self.config.confirmation_timeout_secs);
        let stuck = Duration::from_secs(self.config.stuck_timeout_secs);
        let timeout = |hash: B256| EvmError::ConfirmationTimeout {
            chain: self.chain.clone(),
            tx_hash: hash.to_string(),
            confirmations: self.config.confirmations.max(1),
            waited_secs: started.elapsed().as_secs(),
        };
        let mut nonce_restarts = 0u32;
        'nonce: loop {
            let nonce = match fixed_nonce.take() {
                Some(n) => n,
                None => self.nonce(from, true).await?,
            };
            // The versions of the transaction signed at this nonce.
            let mut here: Vec<B256> = std::mem::take(&mut carried);
            loop {
                let envelope = self.sign(&base, nonce, gas_limit, fees).await?;
                let hash = *envelope.tx_hash();
                let raw = envelope.encoded_2718();
                if !here.contains(&hash) {
                    here.push(hash);
                }
                if !sent.contains(&hash) {
                    sent.push(hash);
                }
                journal
                    .record(&TxAttempt {
                        nonce,
                        gas_limit,
                        fees,
                        tx_hashes: here.clone(),
                    })
                    .await?;
                tracing::info!(chain = %self.chain, tx = %hash, nonce, what, "sending transaction");
                match self.rpc_raw(|| p.send_raw_transaction(&raw)).await {
                    Ok(_) => {}
                    Err(f) => {
                        let text = error_text(&f.error).to_ascii_lowercase();
                        if text.contains("already known")
                            || text.contains("known transaction")
                            || text.contains("already imported")
                        {
                            // Sent before (the node went away, or a rerun): poll for it.
                        } else if text.contains("nonce too low")
                            || text.contains("nonce is too low")
                        {
                            if let Some(m) = self.find_mined(&sent).await? {
                                return self.mined_ok(m);
                            }
                            nonce_restarts += 1;
                            if nonce_restarts > 3 {
                                return Err(self.failure(what, f));
                            }
                            tracing::warn!(chain = %self.chain, nonce, "nonce already used by another transaction; taking the next one");
                            continue 'nonce;
                        } else if text.contains("underpriced") {
                            let earlier: Vec<B256> =
                                here.iter().copied().filter(|h| *h != hash).collect();
                            if !self.holds_one_of(&earlier, nonce).await? {
                                // The transaction pending at this nonce is not
                                // ours (another process with the same
                                // account): never replace it.
                                nonce_restarts += 1;
                                if nonce_restarts > 3 {
                                    return Err(self.failure(what, f));
                                }
                                tracing::warn!(
                                    chain = %self.chain,
                                    nonce,
                                    "another transaction of this account is pending at nonce {nonce}: \
                                     taking the next nonce"
                                );
                                here.clear();
                                continue 'nonce;
                            }
                            if started.elapsed() >= give_up {
                                return Err(timeout(hash));
                            }
                            let raised = fees.bumped(self.config.fee_bump_percent, self.fee_cap());
                            if raised == fees {
                                return Err(EvmError::FeeCap {
                                    chain: self.chain.clone(),
                                    account: from.to_string(),
                                    nonce,
                                    tx_hash: hash.to_string(),
                                    cap_gwei: self.config.max_fee_per_gas_gwei.unwrap_or(0),
                                });
                            }
                            tracing::warn!(
                                chain = %self.chain,
                                tx = %hash,
                                nonce,
                                "the node refuses the replacement as underpriced: raising the fees"
                            );
                            fees = raised;
                            continue;
                        } else {
                            // A transport failure may have lost only the
                            // answer: the transaction may be in the node.
                            let transport = matches!(f.error, RpcError::Transport(_));
                            let e = self.failure(what, f);
                            return Err(if transport {
                                self.after_send(hash, e)
                            } else {
                                e
                            });
                        }
                    }
                }
                let replace_at = Instant::now() + stuck;
                loop {
                    if let Some(m) = self
                        .find_mined(&sent)
                        .await
                        .map_err(|e| self.after_send(hash, e))?
                    {
                        return self.mined_ok(m);
                    }
                    if started.elapsed() >= give_up {
                        return Err(timeout(hash));
                    }
                    if Instant::now() >= replace_at {
                        break;
                    }
                    tokio::time::sleep(self.config.poll_interval()).await;
                }
                let raised = fees.bumped(self.config.fee_bump_percent, self.fee_cap());
                if raised == fees {
                    tracing::warn!(
                        chain = %self.chain,
                        tx = %hash,
                        nonce,
                        "transaction pending for {} s and its fees are at the cap \
                         (max_fee_per_gas_gwei): waiting for it",
                        stuck.as_secs()
                    );
                } else {
                    tracing::warn!(
                        chain = %self.chain,
                        tx = %hash,
                        nonce,
                        "transaction pending for {} s: replacing it with higher fees (same nonce)",
                        stuck.as_secs()
                    );
                }
                fees = raised;
            }
        }
    }

    fn mined_ok(&self, m: Mined) -> Result<Mined, EvmError> {
        if m.success {
            Ok(m)
        } else {
            Err(EvmError::Reverted {
                chain: self.chain.clone(),
                tx_hash: m.tx_hash.to_string(),
                block_number: m.block_number,
            })
        }
    }

    /// Waits until `mined` has `confirmations` blocks, then re-reads its
    /// receipt and the block at its height: [`Confirmation::Dropped`] when a
    /// reorg took it out of the canonical chain.
    pub async fn wait_confirmed(&self, mined: &Mined) -> Result<Confirmation, EvmError> {
        self.wait_confirmed_inner(mined).await.map_err(|e| match e {
            EvmError::Rpc { .. } => EvmError::AfterSend {
                chain: self.chain.clone(),
                tx_hash: mined.tx_hash.to_string(),
                source: Box::new(e),
            },
            other => other,
        })
    }

    async fn wait_confirmed_inner(&self, mined: &Mined) -> Result<Confirmation, EvmError> {
        let need = self.config.confirmations.max(1);
        let started = Instant::now();
        let give_up = Duration::from_secs(self.config.confirmation_timeout_secs);
        let mut m = mined.clone();
        loop {
            let head = self.block_number().await?;
            if head >= m.block_number + need - 1 {
                match self.receipt(m.tx_hash).await? {
                    None => return Ok(Confirmation::Dropped),
                    Some(r) if r.block_hash != m.block_hash => {
                        tracing::info!(chain = %self.chain, tx = %m.tx_hash, block = r.block_number, "transaction moved to another block; waiting again");
                        m = r;
                        continue;
                    }
                    Some(_) => {
                        if self.block_hash_at(m.block_number).await? != Some(m.block_hash) {
                            return Ok(Confirmation::Dropped);
                        }
                        return Ok(Confirmation::Confirmed(Confirmed {
                            confirmations: head - m.block_number + 1,
                            mined: m,
                        }));
                    }
                }
            }
            if started.elapsed() >= give_up {
                return Err(EvmError::ConfirmationTimeout {
                    chain: self.chain.clone(),
                    tx_hash: m.tx_hash.to_string(),
                    confirmations: need,
                    waited_secs: started.elapsed().as_secs(),
                });
            }
            tokio::time::sleep(self.config.poll_interval()).await;
        }
    }

    /// Whether the transaction `tx_hash` is still in block `block_hash` on
    /// the canonical chain; its confirmations if so.
    pub async fn still_canonical(
        &self,
        tx_hash: B256,
        block_number: u64,
        block_hash: B256,
    ) -> Result<Option<u64>, EvmError> {
        match self.receipt(tx_hash).await? {
            Some(r)
                if r.block_hash == block_hash && r.block_number == block_number && r.success =>
            {
                if self.block_hash_at(block_number).await? != Some(block_hash) {
                    return Ok(None);
                }
                let head = self.block_number().await?;
                Ok(Some(head.saturating_sub(block_number) + 1))
            }
            _ => Ok(None),
        }
    }

    async fn confirm_or_dropped(&self, mined: Mined, what: &str) -> Result<Confirmed, EvmError> {
        match self.wait_confirmed(&mined).await? {
            Confirmation::Confirmed(c) => Ok(c),
            Confirmation::Dropped => Err(EvmError::Inconsistent {
                chain: self.chain.clone(),
                message: format!(
                    "a reorg dropped the {what} transaction {}: run the command again",
                    mined.tx_hash
                ),
            }),
        }
    }

    /// Deploys the anchor contract, with the loaded key as its admin; returns
    /// the confirmed deployment (its `contract_address` is the contract).
    pub async fn deploy(&self) -> Result<Confirmed, EvmError> {
        let mined = self.send(None, creation_bytecode(), "deploy").await?;
        if mined.contract_address.is_none() {
            return Err(EvmError::Inconsistent {
                chain: self.chain.clone(),
                message: format!("deployment {} created no contract", mined.tx_hash),
            });
        }
        self.confirm_or_dropped(mined, "deployment").await
    }

    async fn check_admin(&self) -> Result<Address, EvmError> {
        let contract = self.check_contract().await?;
        let me = self.key_address()?;
        let admin = self.admin().await?;
        if admin != me {
            return Err(EvmError::NotAdmin {
                chain: self.chain.clone(),
                account: me.to_string(),
                contract: contract.to_string(),
                admin: admin.to_string(),
            });
        }
        Ok(contract)
    }

    /// Lets `member` anchor (admin only); confirmed.
    pub async fn grant(&self, member: Address) -> Result<Confirmed, EvmError> {
        let contract = self.check_admin().await?;
        let input = ProofmarkAnchor::grantCall { account: member }.abi_encode();
        let mined = self.send(Some(contract), input.into(), "grant").await?;
        self.confirm_or_dropped(mined, "grant").await
    }

    /// Stops `member` from anchoring (admin only); confirmed.
    pub async fn revoke(&self, member: Address) -> Result<Confirmed, EvmError> {
        let contract = self.check_admin().await?;
        let input = ProofmarkAnchor::revokeCall { account: member }.abi_encode();
        let mined = self.send(Some(contract), input.into(), "revoke").await?;
        self.confirm_or_dropped(mined, "revoke").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fee_bumps_raise_and_respect_the_cap() {
        let f = Fees::Eip1559 {
            max_fee: 100,
            priority: 10,
        };
        assert_eq!(
            f.bumped(25, None),
            Fees::Eip1559 {
                max_fee: 126,
                priority: 13
            }
        );
        assert_eq!(
            Fees::Legacy { gas_price: 100 }.bumped(10, Some(105)),
            Fees::Legacy { gas_price: 105 }
        );
        assert_eq!(
            Fees::Legacy { gas_price: 0 }.bumped(10, None),
            Fees::Legacy { gas_price: 1 }
        );
    }
}
