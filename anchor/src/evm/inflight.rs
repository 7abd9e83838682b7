//! The record of an anchor transaction in flight, kept in the store as
//! `batches/<batch_id>/sending/<chain>.json` from just before the
//! transaction is first sent until its receipt is stored.
//!
//! Every signed version of the transaction (the first and each replacement at
//! the same nonce) is written here, atomically, before it goes out. A run that
//! stops while the transaction is pending (a timeout, a crash, a node that
//! went away) leaves the record, and the next run resumes that transaction
//! instead of sending a second one at the next nonce.

use alloy::primitives::{Address, B256};
use bytes::Bytes;
use proofmark_ingest::Store;
use serde::{Deserialize, Serialize};

use super::EvmError;
use super::client::{Fees, TxAttempt, TxJournal};
use crate::manifest::rfc3339_utc;

/// The value of `format` in an in-flight record.
pub const IN_FLIGHT_FORMAT: &str = "proofmark-evm-in-flight/1";

/// Where the record of the anchor of `batch_id` on `chain` in flight is kept
/// (beside the receipts' folder, not in it: it is not a receipt).
pub fn in_flight_path(batch_id: &str, chain: &str) -> String {
    format!("batches/{batch_id}/sending/{chain}.json")
}

/// An anchor transaction that was signed and perhaps sent, not yet part of a
/// stored receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InFlightTx {
    /// [`IN_FLIGHT_FORMAT`].
    pub format: String,
    /// The chain's name in the chains file.
    pub chain: String,
    /// The chain id.
    pub chain_id: u64,
    /// The anchor contract.
    pub contract: String,
    /// The sending account.
    pub account: String,
    /// The batch.
    pub batch_id: String,
    /// The batch log checkpoint the transaction anchors: its size...
    pub log_size: u64,
    /// ...and its root, hex.
    pub log_root: String,
    /// The nonce of every version.
    pub nonce: u64,
    /// The gas limit.
    pub gas_limit: u64,
    /// The fees of the latest version.
    pub fees: Fees,
    /// Every version's hash, oldest first.
    pub tx_hashes: Vec<String>,
    /// When the latest version was recorded (RFC 3339 UTC; informational).
    pub updated_at: String,
}

impl InFlightTx {
    /// The transaction to resume, when the record is about the same chain,
    /// contract, account and batch; `None` (with a warning) otherwise.
    pub(crate) fn attempt_for(
        &self,
        chain_id: u64,
        contract: Address,
        account: Address,
        batch_id: &str,
    ) -> Option<(TxAttempt, u64, B256)> {
        let same = self.chain_id == chain_id
            && self.contract.eq_ignore_ascii_case(&contract.to_string())
            && self.account.eq_ignore_ascii_case(&account.to_string())
            && self.batch_id == batch_id;
        let hashes: Option<Vec<B256>> = self.tx_hashes.iter().map(|h| h.parse().ok()).collect();
        let log_root: Option<B256> = hex::decode(&self.log_root)
            .ok()
            .filter(|b| b.len() == 32)
            .map(|b| B256::from_slice(&b));
        match (same, hashes, log_root) {
            (true, Some(tx_hashes), Some(log_root)) if !tx_hashes.is_empty() => Some((
                TxAttempt {
                    nonce: self.nonce,
                    gas_limit: self.gas_limit,
                    fees: self.fees,
                    tx_hashes,
                },
                self.log_size,
                log_root,
            )),
            _ => {
                tracing::warn!(
                    chain = %self.chain,
                    account = %self.account,
                    nonce = self.nonce,
                    "the record of a transaction in flight is for another chain, contract, account \
                     or batch, or is malformed: not resuming it"
                );
                None
            }
        }
    }
}

/// Reads the record at `path`, if any.
pub(crate) async fn load_in_flight(
    store: &Store,
    path: &str,
    chain: &str,
) -> Result<Option<InFlightTx>, EvmError> {
    let err = |source: Box<dyn std::error::Error + Send + Sync>| EvmError::InFlight {
        chain: chain.to_owned(),
        path: path.to_owned(),
        source,
    };
    let Some(bytes) = store.get(path).await.map_err(|e| err(Box::new(e)))? else {
        return Ok(None);
    };
    let record: InFlightTx = serde_json::from_slice(&bytes).map_err(|e| err(Box::new(e)))?;
    Ok(Some(record))
}

/// Deletes the record at `path` (its transaction is settled), and its folder when no
/// other chain's record is left in it.
pub(crate) async fn clear_in_flight(
    store: &Store,
    path: &str,
    chain: &str,
) -> Result<(), EvmError> {
    store.delete(path).await.map_err(|e| EvmError::InFlight {
        chain: chain.to_owned(),
        path: path.to_owned(),
        source: Box::new(e),
    })?;
    if let Some((folder, _)) = path.rsplit_once('/') {
        store.remove_folder_if_empty(folder).await;
    }
    Ok(())
}

/// A [`TxJournal`] that writes [`InFlightTx`] records to the store.
pub(crate) struct StoreJournal<'a> {
    /// The store.
    pub store: &'a Store,
    /// The record's path.
    pub path: String,
    /// The record's fields that do not change between versions.
    pub chain: String,
    /// The chain id.
    pub chain_id: u64,
    /// The contract.
    pub contract: Address,
    /// The sending account.
    pub account: Address,
    /// The batch.
    pub batch_id: String,
    /// The anchored log checkpoint's size.
    pub log_size: u64,
    /// The anchored log checkpoint's root.
    pub log_root: B256,
}

impl TxJournal for StoreJournal<'_> {
    async fn record(&self, attempt: &TxAttempt) -> Result<(), EvmError> {
        let record = InFlightTx {
            format: IN_FLIGHT_FORMAT.to_owned(),
            chain: self.chain.clone(),
            chain_id: self.chain_id,
            contract: self.contract.to_string(),
            account: self.account.to_string(),
            batch_id: self.batch_id.clone(),
            log_size: self.log_size,
            log_root: hex::encode(self.log_root),
            nonce: attempt.nonce,
            gas_limit: attempt.gas_limit,
            fees: attempt.fees,
            tx_hashes: attempt.tx_hashes.iter().map(ToString::to_string).collect(),
            updated_at: rfc3339_utc(std::time::SystemTime::now()),
        };
        let err = |source: Box<dyn std::error::Error + Send + Sync>| EvmError::InFlight {
            chain: self.chain.clone(),
            path: self.path.clone(),
            source,
        };
        let json = serde_json::to_vec_pretty(&record).map_err(|e| err(Box::new(e)))?;
        self.store
            .put(&self.path, Bytes::from(json))
            .await
            .map_err(|e| err(Box::new(e)))
    }
}
