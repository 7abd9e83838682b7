//! The receipt of an `evm` anchor (SPEC.md section 9.4), kept in the store
//! as `batches/<batch_id>/anchors/<chain>.json`.

use serde::{Deserialize, Serialize};

use crate::ledger::BatchAnchor;

/// What an `evm` chain gave back for a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvmReceipt {
    /// The chain's name in the chains file.
    pub chain: String,
    /// `"evm"`.
    #[serde(rename = "type")]
    pub chain_type: String,
    /// The chain id (EIP-155).
    pub chain_id: u64,
    /// The anchor contract, `0x` + 40 hex digits (EIP-55 checksum case).
    pub contract: String,
    /// The account that anchored it.
    pub submitter: String,
    /// The anchoring transaction, `0x` + 64 hex digits.
    pub tx_hash: String,
    /// The block that holds it.
    pub block_number: u64,
    /// That block's hash, `0x` + 64 hex digits.
    pub block_hash: String,
    /// Blocks that included or followed it when the receipt was made.
    pub confirmations: u64,
    /// When the receipt was made (RFC 3339, UTC; informational).
    pub anchored_at: String,
    /// The batch.
    pub batch_id: String,
    /// The batch's suite.
    pub suite: String,
    /// The batch root, hex.
    pub root: String,
    /// Leaves in the batch.
    pub leaf_count: u64,
    /// `blake3:` + hex of the manifest.
    pub manifest_digest: String,
    /// The batch log's size in the anchored checkpoint.
    pub log_size: u64,
    /// The batch log's root at that size, hex.
    pub log_root: String,
}

/// The value of `type` in an `evm` receipt.
pub const EVM_RECEIPT_TYPE: &str = "evm";

impl EvmReceipt {
    /// Checks that the receipt is about `anchor`.
    pub fn matches(&self, anchor: &BatchAnchor) -> Result<(), String> {
        if self.chain_type != EVM_RECEIPT_TYPE {
            return Err(format!("type is {:?}, not \"evm\"", self.chain_type));
        }
        anchor.check_claim(&BatchAnchor {
            batch_id: self.batch_id.clone(),
            suite: self.suite.clone(),
            root: self.root.clone(),
            leaf_count: self.leaf_count,
            manifest_digest: self.manifest_digest.clone(),
        })?;
        Ok(())
    }
}
