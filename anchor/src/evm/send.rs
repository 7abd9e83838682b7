//! Anchoring one batch on one `evm` chain, idempotently.
//!
//! Before anything is sent the contract is read for the batch id: the same
//! root means done (the receipt is rebuilt from the contract's `Anchored`
//! event), another root is [`EvmError::Conflict`]. A transaction an earlier
//! run recorded as in flight is resumed, never doubled (see
//! [`super::inflight`]). A stored receipt is
//! re-checked against the chain on every run; a receipt whose transaction a
//! reorg dropped is replaced by a new anchor.

use alloy::primitives::{Address, B256};
use alloy::sol_types::SolCall;
use bytes::Bytes;
use proofmark_ingest::Store;

use super::EvmError;
use super::client::{Confirmation, EvmClient, Mined, OnChainAnchor};
use super::config::EvmConfig;
use super::contract::{ProofmarkAnchor, b256_from_hex};
use super::inflight::{StoreJournal, clear_in_flight, in_flight_path, load_in_flight};
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

/// How a receipt came about: stored by an earlier run, or made by this one for a transaction
/// this run sent or an earlier run sent (and this run found mined).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Made {
    Earlier,
    SentNow,
    SentEarlier,
}

fn outcome(
    name: &str,
    receipt: &EvmReceipt,
    made: Made,
    path: &str,
) -> Result<AnchorOutcome, ChainError> {
    let summary = format!(
        "tx {} in block {} ({} confirmation(s)), contract {}{}",
        receipt.tx_hash,
        receipt.block_number,
        receipt.confirmations,
        receipt.contract,
        match made {
            Made::SentNow => "",
            Made::SentEarlier => " (the transaction of an earlier run, found mined)",
            Made::Earlier => " (already anchored)",
        }
    );
    let anchored_now = made != Made::Earlier;
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
    let submitter: Address = receipt.submitter.parse().map_err(|_| {
        bad(format!(
            "submitter {:?} is not an address",
            receipt.submitter
        ))
    })?;
    let on_chain = client
        .read_anchor(submitter, &request.anchor.batch_id)
        .await?;
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
            Ok(Some(outcome(name, &receipt, Made::Earlier, &path)?))
        }
        (Some(a), None) => {
            // The contract still holds the anchor: either a reorg moved its
            // transaction to another block, or the stored receipt was changed.
            tracing::warn!(
                chain = name,
                tx = %tx,
                block = receipt.block_number,
                contract_block = a.block_number,
                "the stored receipt's transaction is not in its block on the canonical chain, \
                 but the contract holds the batch's anchor: a reorg moved it or the receipt was \
                 changed; the receipt is made again from the contract"
            );
            Ok(None)
        }
        (None, _) => {
            tracing::warn!(
                chain = name,
                tx = %tx,
                block = receipt.block_number,
                "the contract no longer holds the batch's anchor (a reorg dropped it): anchoring again"
            );
            Ok(None)
        }
    }
}

/// Anchors `request` on chain `name` after it was appended to the batch log
/// (`log_size`, `log_root`: the checkpoint that covers it), waits for the
/// confirmations, re-checks, and stores the receipt.
///
/// The anchor transaction is recorded in the store before it is sent
/// ([`in_flight_path`](super::inflight::in_flight_path)); a run that finds
/// such a record resumes that transaction (waits for it, or replaces it at
/// the same nonce) rather than sending another. The receipt names the
/// transaction that emitted the contract's `Anchored` event for the batch,
/// whichever run sent it.
pub async fn anchor_on_evm(
    store: &Store,
    request: &AnchorRequest,
    name: &str,
    config: &EvmConfig,
    log_size: u64,
    log_root: B256,
) -> Result<AnchorOutcome, ChainError> {
    let path = receipt_path(&request.anchor.batch_id, name);
    let in_flight = in_flight_path(&request.anchor.batch_id, name);
    let key = config.load_key(name)?;
    let account = key.address();
    let client = EvmClient::connect(name, config, Some(key)).await?;
    let contract = client.check_contract().await?;
    let want = wanted(request)?;
    let batch_id = &request.anchor.batch_id;
    let mut resends = 0u32;
    let mut sent_now = false;
    let mut reorged = |mined: Option<&Mined>| -> Result<(), ChainError> {
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
            tx = ?mined.map(|m| m.tx_hash),
            block = ?mined.map(|m| m.block_number),
            "a reorg dropped the anchor from the canonical chain: anchoring again"
        );
        Ok(())
    };
    loop {
        let anchor = match client.read_anchor(account, batch_id).await? {
            Some(a) => a,
            None => {
                if !client.is_member(account).await? {
                    return Err(EvmError::NotMember {
                        chain: name.to_owned(),
                        account: account.to_string(),
                        contract: contract.to_string(),
                    }
                    .into());
                }
                // Resume the transaction of an earlier run, if one is recorded.
                let earlier = load_in_flight(store, &in_flight, name)
                    .await?
                    .and_then(|r| r.attempt_for(config.chain_id, contract, account, batch_id));
                let (resume, log_size, log_root) = match earlier {
                    Some((attempt, size, root)) => (Some(attempt), size, root),
                    None => (None, log_size, log_root),
                };
                let call = ProofmarkAnchor::anchorCall {
                    batchId: batch_id.clone(),
                    root: want.root,
                    leafCount: want.leaf_count,
                    manifestDigest: want.manifest_digest,
                    logSize: log_size,
                    logRoot: log_root,
                };
                let journal = StoreJournal {
                    store,
                    path: in_flight.clone(),
                    chain: name.to_owned(),
                    chain_id: config.chain_id,
                    contract,
                    account,
                    batch_id: batch_id.clone(),
                    log_size,
                    log_root,
                };
                sent_now = true;
                let sent = client
                    .send_resumable(
                        Some(contract),
                        call.abi_encode().into(),
                        "anchor",
                        resume,
                        &journal,
                    )
                    .await;
                let mined = match sent {
                    Ok(m) => m,
                    Err(e @ EvmError::Reverted { .. }) => {
                        // Settled: a rerun reads the contract and starts afresh.
                        clear_in_flight(store, &in_flight, name).await?;
                        return Err(e.into());
                    }
                    Err(e) => return Err(e.into()),
                };
                // The mined transaction may be a no-op (another version or
                // run anchored the batch first): the contract tells which
                // transaction anchored it.
                match client.read_anchor(account, batch_id).await? {
                    Some(a) => a,
                    None => {
                        reorged(Some(&mined))?;
                        continue;
                    }
                }
            }
        };
        check_same(&client, request, &want, &anchor)?;
        let found = client
            .find_anchor_tx(account, batch_id, anchor.block_number)
            .await;
        let tx = match found {
            Ok(Some(tx)) => tx,
            Ok(None) | Err(_) => {
                // A reorg between reading the anchor and reading its block's events
                // takes the block away (a node asked for the events of a block past its
                // head answers with an error): the contract tells whether the anchor is
                // still where it was.
                let now = client.read_anchor(account, batch_id).await?;
                if now.map(|a| a.block_number) != Some(anchor.block_number) {
                    reorged(None)?;
                    continue;
                }
                found?.ok_or_else(|| EvmError::Inconsistent {
                    chain: name.to_owned(),
                    message: format!(
                        "the contract holds batch {batch_id} from block {} but the node has no \
                         Anchored event for it there (a pruned node?)",
                        anchor.block_number
                    ),
                })?
            }
        };
        let confirmed = match client.wait_confirmed(&tx).await? {
            Confirmation::Confirmed(c) => match client.read_anchor(account, batch_id).await? {
                Some(a) if a.block_number == c.mined.block_number => Some((c, a)),
                _ => None,
            },
            Confirmation::Dropped => None,
        };
        let Some((c, a)) = confirmed else {
            reorged(Some(&tx))?;
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
        clear_in_flight(store, &in_flight, name).await?;
        tracing::info!(chain = name, tx = %c.mined.tx_hash, block = c.mined.block_number, "anchored");
        let made = if sent_now {
            Made::SentNow
        } else {
            Made::SentEarlier
        };
        return outcome(name, &receipt, made, &path);
    }
}
