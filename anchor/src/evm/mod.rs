//! The `evm` chain type: anchoring on any Ethereum JSON-RPC chain, public
//! (Ethereum, Polygon) or consortium (Besu, Quorum), through the anchor
//! contract in `anchor/contracts/` (SPEC.md section 9.4).
//!
//! The way of an anchor: [`config`] (the chains file's settings and the
//! signing key) -> [`contract`] (the contract's ABI bindings and bytecode) ->
//! [`client`] (JSON-RPC with retries, fees, replacement of stuck
//! transactions, confirmations and reorg checks) -> [`inflight`] (the record
//! of a transaction sent and not yet settled, which a rerun resumes) ->
//! [`send`] (the idempotent anchoring of one batch) -> [`receipt`] (what is
//! kept in the store).
//!
//! ```no_run
//! use proofmark_anchor::chain::{ChainsFile, anchor_batch};
//! use proofmark_ingest::Store;
//!
//! # async fn run() -> Result<(), proofmark_anchor::chain::ChainError> {
//! let chains = ChainsFile::parse("chains.toml", r#"
//! [chains.consortium]
//! type = "evm"
//! rpc_url = "http://127.0.0.1:8545"
//! chain_id = 1337
//! contract = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
//! key_env = "PROOFMARK_CONSORTIUM_KEY"
//! confirmations = 2
//! "#)?;
//! let store = Store::from_url("/data/proofmark").expect("a local folder");
//! let outcome = anchor_batch(&store, "nightly-2026-11-25", "consortium", &chains).await?;
//! println!("{}", outcome.summary);
//! # Ok(())
//! # }
//! ```

pub mod client;
pub mod config;
pub mod contract;
pub mod inflight;
pub mod receipt;
pub mod send;

/// An account or contract address (re-exported for callers that parse them).
pub use alloy::primitives::Address;
pub use client::{
    Confirmation, Confirmed, EvmClient, Fees, Mined, NoJournal, OnChainAnchor, RpcFault, TxAttempt,
    TxJournal,
};
pub use config::{EvmConfig, EvmKey, FeeMode};
pub use inflight::{InFlightTx, in_flight_path};
pub use receipt::EvmReceipt;
pub use send::{anchor_on_evm, recheck_receipt};

/// Errors of the `evm` chain type. None of them carries key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvmError {
    /// The chain's settings are incomplete or invalid.
    #[error("chain {chain}: {message}")]
    Config {
        /// The chain's name.
        chain: String,
        /// What is wrong, naming the setting.
        message: String,
    },
    /// The signing key cannot be loaded (the message never contains the key).
    #[error("chain {chain}: signing key: {message}")]
    Key {
        /// The chain's name.
        chain: String,
        /// What is wrong.
        message: String,
    },
    /// The node did not answer, or answered with an error, after retries.
    #[error("chain {chain}: {what} at {url} failed after {attempts} attempt(s) in {elapsed_ms} ms")]
    Rpc {
        /// The chain's name.
        chain: String,
        /// The node (scheme, host and port only: paths may hold API keys).
        url: String,
        /// The operation.
        what: String,
        /// Attempts made.
        attempts: u32,
        /// Time spent, retries included.
        elapsed_ms: u64,
        /// The last error (its text, with the URL reduced as above).
        #[source]
        source: client::RpcFault,
    },
    /// The node serves another chain than the configured one.
    #[error(
        "chain {chain}: the node at {url} serves chain id {actual}, not the configured {expected}"
    )]
    WrongChainId {
        /// The chain's name.
        chain: String,
        /// The node.
        url: String,
        /// The configured chain id.
        expected: u64,
        /// The node's chain id.
        actual: u64,
    },
    /// No contract address is configured.
    #[error(
        "chain {chain}: no anchor contract configured: run `proofmark chain deploy --chain {chain}` \
         and set `contract` in the chains file"
    )]
    NoContract {
        /// The chain's name.
        chain: String,
    },
    /// There is no contract code at the configured address.
    #[error("chain {chain}: no contract code at {address}: check `contract` and `chain_id`")]
    NotAContract {
        /// The chain's name.
        chain: String,
        /// The configured address.
        address: String,
    },
    /// The code at the configured address is not an anchor contract (it does not answer
    /// `admin()` as the anchor contract does).
    #[error(
        "chain {chain}: the contract at {address} is not a proofmark anchor contract ({reason}): \
         check `contract` in the chains file"
    )]
    NotAnchorContract {
        /// The chain's name.
        chain: String,
        /// The configured address.
        address: String,
        /// What gave it away.
        reason: String,
    },
    /// The sending account may not anchor.
    #[error(
        "account {account} is not a member of anchor contract {contract} on chain {chain}: \
         ask the admin to `proofmark chain grant {account}`"
    )]
    NotMember {
        /// The chain's name.
        chain: String,
        /// The sending account.
        account: String,
        /// The contract.
        contract: String,
    },
    /// The sending account is not the contract's admin.
    #[error(
        "account {account} is not the admin of anchor contract {contract} on chain {chain} \
         (the admin is {admin})"
    )]
    NotAdmin {
        /// The chain's name.
        chain: String,
        /// The sending account.
        account: String,
        /// The contract.
        contract: String,
        /// The admin.
        admin: String,
    },
    /// The batch id is anchored on the contract, by the same member, with another root.
    #[error(
        "batch {batch_id} is already anchored on chain {chain} with root {anchored_root}, not \
         {root}: a batch id is never anchored with a second root by one account"
    )]
    Conflict {
        /// The chain's name.
        chain: String,
        /// The batch.
        batch_id: String,
        /// The root on the contract.
        anchored_root: String,
        /// The root offered now.
        root: String,
    },
    /// The contract holds another log root for the same log size of the
    /// same member: the batch log forked, or two stores anchor with one account.
    #[error(
        "chain {chain}: the contract holds log root {anchored_log_root} for log size {log_size} \
         of account {account}, not {log_root}: the batch log was forked or rewritten, or another \
         store anchors with the same account (give each store its own account)"
    )]
    LogConflict {
        /// The chain's name.
        chain: String,
        /// The sending account, whose log checkpoints conflict.
        account: String,
        /// The log size.
        log_size: u64,
        /// The log root on the contract.
        anchored_log_root: String,
        /// The log root offered now.
        log_root: String,
    },
    /// The contract refused the call.
    #[error(
        "chain {chain}: the anchor contract refused {what}: {}",
        contract::describe(revert)
    )]
    Refused {
        /// The chain's name.
        chain: String,
        /// The call.
        what: String,
        /// The decoded revert.
        revert: Box<contract::ContractError>,
    },
    /// A transaction was mined but failed.
    #[error("chain {chain}: transaction {tx_hash} was mined in block {block_number} but reverted")]
    Reverted {
        /// The chain's name.
        chain: String,
        /// The transaction.
        tx_hash: String,
        /// Its block.
        block_number: u64,
    },
    /// A transaction did not reach the wanted confirmations in time.
    #[error(
        "chain {chain}: transaction {tx_hash} did not reach {confirmations} confirmation(s) within \
         {waited_secs} s; run again to resume: the rerun waits for this transaction, or replaces \
         it at the same nonce, and sends no second anchor"
    )]
    ConfirmationTimeout {
        /// The chain's name.
        chain: String,
        /// The transaction (the latest replacement).
        tx_hash: String,
        /// The confirmations wanted.
        confirmations: u64,
        /// Time waited.
        waited_secs: u64,
    },
    /// A failure after a transaction was sent: the transaction may still be
    /// mined, so the error names it.
    #[error(
        "chain {chain}: after sending transaction {tx_hash} (a rerun resumes it and sends no \
         second anchor)"
    )]
    AfterSend {
        /// The chain's name.
        chain: String,
        /// The transaction (the latest version sent).
        tx_hash: String,
        /// What failed.
        #[source]
        source: Box<EvmError>,
    },
    /// The sending account cannot pay for the transaction.
    #[error(
        "account {account} has insufficient funds for the {what} transaction on chain {chain} \
         (chain id {chain_id}): fund it ({detail})"
    )]
    InsufficientFunds {
        /// The chain's name.
        chain: String,
        /// The chain id.
        chain_id: u64,
        /// The sending account.
        account: String,
        /// The operation.
        what: String,
        /// The node's words.
        detail: String,
    },
    /// The node refuses a transaction as underpriced and the fees are already
    /// at `max_fee_per_gas_gwei`.
    #[error(
        "chain {chain}: transaction {tx_hash} at nonce {nonce} of account {account} is refused as \
         underpriced and its fees are at the cap max_fee_per_gas_gwei = {cap_gwei}: raise the cap, \
         or wait until the transaction already pending at that nonce is mined"
    )]
    FeeCap {
        /// The chain's name.
        chain: String,
        /// The sending account.
        account: String,
        /// The nonce.
        nonce: u64,
        /// The refused transaction.
        tx_hash: String,
        /// The cap, in gwei.
        cap_gwei: u64,
    },
    /// The record of the transaction in flight could not be read or written.
    #[error("chain {chain}: the record of the transaction in flight ({path}): {source}")]
    InFlight {
        /// The chain's name.
        chain: String,
        /// The record's path in the store.
        path: String,
        /// What failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// Reorgs dropped the anchor more often than allowed.
    #[error(
        "chain {chain}: reorgs dropped the anchor of batch {batch_id} {resends} time(s); giving up"
    )]
    ReorgLimit {
        /// The chain's name.
        chain: String,
        /// The batch.
        batch_id: String,
        /// Re-sends made.
        resends: u32,
    },
    /// The node's answers contradict each other (e.g. an anchor without its event).
    #[error("chain {chain}: {message}")]
    Inconsistent {
        /// The chain's name.
        chain: String,
        /// What does not fit.
        message: String,
    },
    /// A value to anchor is malformed (a root or a digest that is not 32 bytes).
    #[error("{what} {value:?} is not 32 bytes of lowercase hex")]
    BadValue {
        /// The field.
        what: &'static str,
        /// The value.
        value: String,
    },
}
