//! Anchoring one batch on one `evm` chain, idempotently.
//!
//! Before anything is sent the contract is read for the batch id: the same
//! root means done (the receipt is rebuilt from the contract's `Anchored`
//! event), another root is [`EvmError::Conflict`]. A stored receipt is
//! re-checked against the chain on every run; a receipt whose transaction a
//! reorg dropped is replaced by a new anchor.

use alloy::primitives::B256;
use alloy::sol_types::SolCall;
use bytes::Bytes;
use proofmark_ingest::Store;

use super::EvmError;
use super::client::{Confirmation, EvmClient, OnChainAnchor};
use super::config::EvmConfig;
use super::contract::{ProofmarkAnchor, b256_from_hex};
use super::receipt::{EVM_RECEIPT_TYPE, EvmReceipt};
use crate::chain::{AnchorOutcome, AnchorRequest, ChainError, receipt_path};
use crate::manifest::rfc3339_utc;

struct Wanted {
    root: B256,
    manifest_digest: B256,
    leaf_count: u64,
}

fn wanted(request: &AnchorRequest) -> Result<Wanted, EvmError> {
    Ok(Wanted {
        root: b256_from_hex("batch root", &request.anchor.root, "")?,
        manifest_digest: b256_from_hex(
            "manifest digest",
            &request.anchor.manifest_digest,
            "blake3:",
        )?,
        leaf_count: request.anchor.leaf_count,
    })
}

fn check_same(
    client: &EvmClient,
    request: &AnchorRequest,
    want: &Wanted,
    a: &OnChainAnchor,
) -> Result<(), EvmError> {
    if a.root != want.root
        || a.leaf_count != want.leaf_count
        || a.manifest_digest != want.manifest_digest
    {
        return Err(EvmError::Conflict {
            chain: client.chain().to_owned(),
            batch_id: request.anchor.batch_id.clone(),
            anchored_root: hex::encode(a.root),
            root: request.anchor.root.clone(),
        });
    }
    Ok(())
}

fn bad_object(path: &str, e: impl std::fmt::Display) -> ChainError {
    ChainError::BadObject {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

fn outcome(
    name: &str,
    receipt: &EvmReceipt,
    anchored_now: bool,
    path: &str,
) -> Result<AnchorOutcome, ChainError> {
    let summary = format!(
        "tx {} in block {} ({} confirmation(s)), contract {}{}",
        receipt.tx_hash,
        receipt.block_number,
        receipt.confirmations,
        receipt.contract,
        if anchored_now {
            ""
        } else {
            " (already anchored)"
        }
    );
    Ok(AnchorOutcome {
        chain: name.to_owned(),
        anchored_now,
        receipt: serde_json::to_value(receipt).map_err(|e| bad_object(path, e))?,
        summary,
    })
}

/// Re-checks the stored receipt of `request`'s batch on chain `name`:
/// `Some` when it matches the batch and its transaction is still in its block
/// on the canonical chain, with the contract holding the same root; `None`
/// when there is no receipt, or a reorg dropped its transaction (anchor again).
pub async fn recheck_receipt(
    store: &Store,
    request: &AnchorRequest,
    name: &str,
    config: &EvmConfig,
) -> Result<Option<AnchorOutcome>, ChainError> {
    let path = receipt_path(&request.anchor.batch_id, name);
    let Some(bytes) = store.get(&path).await? else {
        return Ok(None);
    };
    let bad = |message: String| ChainError::BadReceipt {
        path: path.clone(),
        message,
    };
    let receipt: EvmReceipt = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    receipt.matches(&request.anchor).map_err(bad)?;
    if receipt.chain_id != config.chain_id {
        return Err(bad(format!(
            "it is for chain id {}, the configuration says {}",
            receipt.chain_id, config.chain_id
        )));
    }
    let client = EvmClient::connect(name, config, None).await?;
    let contract = client.check_contract().await?;
    if !receipt.contract.eq_ignore_ascii_case(&contract.to_string()) {
        return Err(bad(format!(
            "it is for contract {}, the configuration says {contract}",
            receipt.contract
        )));
    }
    let want = wanted(request)?;
    let on_chain = client.read_anchor(&request.anchor.batch_id).await?;
    if let Some(a) = &on_chain {
        check_same(&client, request, &want, a)?;
    }
    let tx: B256 = receipt
        .tx_hash
        .parse()
        .map_err(|_| bad(format!("tx_hash {:?} is not a hash", receipt.tx_hash)))?;
    let block: B256 = receipt
        .block_hash
        .parse()
        .map_err(|_| bad(format!("block_hash {:?} is not a hash", receipt.block_hash)))?;
    let canonical = client
        .still_canonical(tx, receipt.block_number, block)
        .await?;
    match (on_chain, canonical) {
        (Some(_), Some(confirmations)) => {
            tracing::info!(chain = name, tx = %tx, confirmations, "stored receipt re-checked on chain");
            Ok(Some(outcome(name, &receipt, false, &path)?))
        }
        _ => {
            tracing::warn!(
                chain = name,
                tx = %tx,
                block = receipt.block_number,
                "the stored receipt's transaction is no longer on the canonical chain (reorg): anchoring again"
            );
            Ok(None)
        }
    }
}

/// Anchors `request` on chain `name` after it was appended to the batch log
/// (`log_size`, `log_root`: the checkpoint that covers it), waits for the
/// confirmations, re-checks, and stores the receipt.
pub async fn anchor_on_evm(
    store: &Store,
    request: &AnchorRequest,
    name: &str,
    config: &EvmConfig,
    log_size: u64,
    log_root: B256,
) -> Result<AnchorOutcome, ChainError> {
    let path = receipt_path(&request.anchor.batch_id, name);
    let key = config.load_key(name)?;
    let account = key.address();
    let client = EvmClient::connect(name, config, Some(key)).await?;
    let contract = client.check_contract().await?;
    let want = wanted(request)?;
    let batch_id = &request.anchor.batch_id;
    let mut resends = 0u32;
    let mut sent_now = false;
    loop {
        let mined = match client.read_anchor(batch_id).await? {
            Some(a) => {
                check_same(&client, request, &want, &a)?;
                client
                    .find_anchor_tx(batch_id, a.block_number)
                    .await?
                    .ok_or_else(|| EvmError::Inconsistent {
                        chain: name.to_owned(),
                        message: format!(
                            "the contract holds batch {batch_id} from block {} but the node has no \
                             Anchored event for it there (a pruned node?)",
                            a.block_number
                        ),
                    })?
            }
            None => {
                if !client.is_member(account).await? {
                    return Err(EvmError::NotMember {
                        chain: name.to_owned(),
                        account: account.to_string(),
                        contract: contract.to_string(),
                    }
                    .into());
                }
                let call = ProofmarkAnchor::anchorCall {
                    batchId: batch_id.clone(),
                    root: want.root,
                    leafCount: want.leaf_count,
                    manifestDigest: want.manifest_digest,
                    logSize: log_size,
                    logRoot: log_root,
                };
                sent_now = true;
                client
                    .send(Some(contract), call.abi_encode().into(), "anchor")
                    .await?
            }
        };
        let confirmed = match client.wait_confirmed(&mined).await? {
            Confirmation::Confirmed(c) => match client.read_anchor(batch_id).await? {
                Some(a) if a.block_number == c.mined.block_number => Some((c, a)),
                _ => None,
            },
            Confirmation::Dropped => None,
        };
        let Some((c, a)) = confirmed else {
            resends += 1;
            if resends > config.max_reorg_resends {
                return Err(EvmError::ReorgLimit {
                    chain: name.to_owned(),
                    batch_id: batch_id.clone(),
                    resends: resends - 1,
                }
                .into());
            }
            tracing::warn!(
                chain = name,
                tx = %mined.tx_hash,
                block = mined.block_number,
                "a reorg dropped the anchor from the canonical chain: anchoring again"
            );
            continue;
        };
        check_same(&client, request, &want, &a)?;
        let receipt = EvmReceipt {
            chain: name.to_owned(),
            chain_type: EVM_RECEIPT_TYPE.to_owned(),
            chain_id: config.chain_id,
            contract: contract.to_string(),
            submitter: a.submitter.to_string(),
            tx_hash: c.mined.tx_hash.to_string(),
            block_number: c.mined.block_number,
            block_hash: c.mined.block_hash.to_string(),
            confirmations: c.confirmations,
            anchored_at: rfc3339_utc(std::time::SystemTime::now()),
            batch_id: batch_id.clone(),
            suite: request.anchor.suite.clone(),
            root: request.anchor.root.clone(),
            leaf_count: request.anchor.leaf_count,
            manifest_digest: request.anchor.manifest_digest.clone(),
            log_size: a.log_size,
            log_root: hex::encode(a.log_root),
        };
        let json = serde_json::to_vec_pretty(&receipt).map_err(|e| bad_object(&path, e))?;
        store.put(&path, Bytes::from(json)).await?;
        tracing::info!(chain = name, tx = %c.mined.tx_hash, block = c.mined.block_number, "anchored");
        return outcome(name, &receipt, sent_now, &path);
    }
}
