//! The `evm` chain against real local nodes (`anvil`, installed by
//! scripts/test.sh): deploy, grant, anchor, idempotent reruns, conflicts,
//! membership, confirmations, reorgs, a node that goes away mid-send, the
//! on-chain inclusion-proof views against the Rust verifier, and several
//! chains in one run. Gas figures are printed (run with `--nocapture`).
#![allow(clippy::unwrap_used, missing_docs, unsafe_code)]

#[path = "evm_support/anvil.rs"]
mod anvil;
mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use anvil::*;
use common::*;
use proofmark_anchor::chain::{ChainConfig, ChainError, ChainsFile, anchor_batch, receipt_path};
use proofmark_anchor::evm::contract::{ContractError, ProofmarkAnchor};
use proofmark_anchor::evm::{
    EvmClient, EvmConfig, EvmError, EvmKey, EvmReceipt, Fees, InFlightTx, in_flight_path,
};
use proofmark_anchor::ledger::{BatchLog, NoteSigner};
use proofmark_ingest::{InputMode, Store};
use proofmark_merkle::{
    Hash, MerkleTree, Sha256Rfc6962, Suite, SuiteId, VerifyError, root_from_inclusion_proof,
    verify_inclusion,
};

const BATCH: &str = "nightly-2026-11-25";
const ADMIN_ENV: &str = "PROOFMARK_TEST_EVM_ADMIN_KEY";
const MEMBER_ENV: &str = "PROOFMARK_TEST_EVM_MEMBER_KEY";
const OUTSIDER_ENV: &str = "PROOFMARK_TEST_EVM_OUTSIDER_KEY";

/// Sets the key variables once, before any test starts a node or a runtime
/// thread that could read the environment.
fn keys_in_env() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: called first thing in every test, under a Once, and the
        // variables have names that nothing else in this process reads; the
        // standard library's own environment reads take the same lock.
        unsafe {
            std::env::set_var(ADMIN_ENV, ADMIN_KEY);
            std::env::set_var(MEMBER_ENV, MEMBER_KEY);
            std::env::set_var(OUTSIDER_ENV, OUTSIDER_KEY);
        }
    });
}

fn member() -> Address {
    MEMBER.parse().unwrap()
}

fn key(hex: &str) -> EvmKey {
    EvmKey::from_signer(hex.parse::<PrivateKeySigner>().unwrap())
}

fn config(node: &Anvil, key_env: &str, contract: Option<Address>) -> EvmConfig {
    let mut c = EvmConfig::new(node.url.clone(), node.chain_id);
    c.key_env = Some(key_env.to_owned());
    c.contract = contract.map(|a| a.to_string());
    c.confirmations = 1;
    c.poll_interval_ms = 50;
    c.rpc_timeout_secs = 10;
    c.confirmation_timeout_secs = 60;
    c
}

/// Deploys the contract with the admin key and grants MEMBER.
async fn deploy_and_grant(node: &Anvil) -> Address {
    let admin = EvmClient::connect(
        "local",
        &config(node, ADMIN_ENV, None),
        Some(key(ADMIN_KEY)),
    )
    .await
    .unwrap();
    let deployed = admin.deploy().await.unwrap();
    let contract = deployed.mined.contract_address.unwrap();
    println!("gas: deploy {}", deployed.mined.gas_used);
    let admin = EvmClient::connect(
        "local",
        &config(node, ADMIN_ENV, Some(contract)),
        Some(key(ADMIN_KEY)),
    )
    .await
    .unwrap();
    admin.grant(MEMBER.parse().unwrap()).await.unwrap();
    contract
}

fn chains_file(dir: &Path, evm: Vec<(&str, EvmConfig)>) -> ChainsFile {
    let mut map = BTreeMap::new();
    map.insert(
        "ledger".to_owned(),
        ChainConfig::Ledger {
            key_file: Some(dir.join("ledger.key")),
            origin: Some("proofmark.test/ledger".into()),
        },
    );
    for (name, c) in evm {
        map.insert(name.to_owned(), ChainConfig::Evm(c));
    }
    ChainsFile::from_chains("test", map).unwrap()
}

/// A committed batch in a fresh store; `salt` changes the data (and so the root).
async fn committed(fx_rows: usize) -> Fixture {
    let fx = Fixture::new();
    if fx_rows > 0 {
        let extra = fx.dir.path().join("in").join("logistics-extra.parquet");
        write_parquet(
            &extra,
            proofmark_schemas::Kind::Logistics,
            &logistics_rows(fx_rows, 50_000),
            1000,
        );
        let mut inputs = fx.inputs.clone();
        inputs.push(extra.display().to_string());
        plan(
            &fx.store,
            BATCH,
            &inputs,
            SuiteId::Sha256Rfc6962,
            InputMode::Copy,
        )
        .await;
    } else {
        plan(
            &fx.store,
            BATCH,
            &fx.inputs,
            SuiteId::Sha256Rfc6962,
            InputMode::Copy,
        )
        .await;
    }
    build_all(&fx.store, BATCH).await;
    commit(&fx.store, BATCH).await;
    fx
}

async fn stored_receipt(store: &Store, chain: &str) -> EvmReceipt {
    let bytes = store
        .get(&receipt_path(BATCH, chain))
        .await
        .unwrap()
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn evm_err(e: ChainError) -> EvmError {
    match e {
        ChainError::Evm(e) => *e,
        other => panic!("expected an EVM error, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_grant_anchor_rerun_and_conflict() {
    keys_in_env();
    let node = Anvil::start(31337);
    let contract = deploy_and_grant(&node).await;
    let fx = committed(0).await;
    let chains = chains_file(
        fx.dir.path(),
        vec![("local", config(&node, MEMBER_ENV, Some(contract)))],
    );

    let outcome = anchor_batch(&fx.store, BATCH, "local", &chains)
        .await
        .unwrap();
    assert!(outcome.anchored_now, "{}", outcome.summary);
    let receipt = stored_receipt(&fx.store, "local").await;
    assert_eq!(outcome.receipt, serde_json::to_value(&receipt).unwrap());
    let manifest = proofmark_anchor::load_manifest(&fx.store, BATCH)
        .await
        .unwrap()
        .0;
    assert_eq!(receipt.root, manifest.root);
    assert_eq!(receipt.leaf_count, manifest.leaf_count);
    assert_eq!(receipt.suite, "sha256-rfc6962");
    assert_eq!(receipt.chain_id, 31337);
    assert_eq!(receipt.contract, contract.to_string());
    assert_eq!(receipt.submitter, MEMBER);
    assert_eq!(receipt.log_size, 1);
    assert!(receipt.confirmations >= 1);
    assert_eq!(
        node.block_hash(receipt.block_number).unwrap(),
        receipt.block_hash
    );

    // The log checkpoint on chain is the store's signed one.
    let signer =
        NoteSigner::load_or_generate(&fx.dir.path().join("ledger.key"), "proofmark.test/ledger")
            .unwrap();
    let (cp, _) = BatchLog::for_reader(&fx.store, signer.verifier())
        .latest_checkpoint()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(receipt.log_root, hex::encode(cp.root));

    // The contract's views.
    let reader = EvmClient::connect("local", &config(&node, MEMBER_ENV, Some(contract)), None)
        .await
        .unwrap();
    let a = reader.read_anchor(member(), BATCH).await.unwrap().unwrap();
    assert_eq!(hex::encode(a.root), manifest.root);
    assert_eq!(
        reader.latest_checkpoint(member()).await.unwrap(),
        (1, B256::from(cp.root))
    );
    let tx = reader
        .find_anchor_tx(member(), BATCH, a.block_number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tx.tx_hash.to_string(), receipt.tx_hash);
    println!("gas: anchor {}", tx.gas_used);

    // A rerun re-checks the receipt and sends nothing.
    let nonce = node.nonce(MEMBER);
    let again = anchor_batch(&fx.store, BATCH, "local", &chains)
        .await
        .unwrap();
    assert!(!again.anchored_now);
    assert_eq!(node.nonce(MEMBER), nonce);
    // Without the receipt (e.g. a crash after sending), the contract is read
    // first: still no second transaction, and the same receipt comes back.
    fx.store
        .delete(&receipt_path(BATCH, "local"))
        .await
        .unwrap();
    let rebuilt = anchor_batch(&fx.store, BATCH, "local", &chains)
        .await
        .unwrap();
    // The receipt is made by this call (so a job records its anchor stage), for the
    // transaction sent before, which it says.
    assert!(rebuilt.anchored_now);
    assert!(
        rebuilt
            .summary
            .contains("the transaction of an earlier run"),
        "{}",
        rebuilt.summary
    );
    assert_eq!(node.nonce(MEMBER), nonce);
    let r2 = stored_receipt(&fx.store, "local").await;
    assert_eq!(
        (r2.tx_hash.as_str(), r2.block_number),
        (receipt.tx_hash.as_str(), receipt.block_number)
    );

    // Another store with another batch under the same id: refused, naming both roots.
    let other = committed(40).await;
    let other_chains = chains_file(
        other.dir.path(),
        vec![("local", config(&node, MEMBER_ENV, Some(contract)))],
    );
    let other_root = proofmark_anchor::load_manifest(&other.store, BATCH)
        .await
        .unwrap()
        .0
        .root;
    assert_ne!(other_root, manifest.root);
    let err = evm_err(
        anchor_batch(&other.store, BATCH, "local", &other_chains)
            .await
            .unwrap_err(),
    );
    match &err {
        EvmError::Conflict {
            anchored_root,
            root,
            batch_id,
            ..
        } => {
            assert_eq!(anchored_root, &manifest.root);
            assert_eq!(root, &other_root);
            assert_eq!(batch_id, BATCH);
        }
        other => panic!("expected a conflict, got {other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(&manifest.root) && text.contains(&other_root),
        "{text}"
    );
    assert_eq!(node.nonce(MEMBER), nonce, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_members_and_non_admins_are_refused_clearly() {
    keys_in_env();
    let node = Anvil::start(31337);
    let contract = deploy_and_grant(&node).await;
    let fx = committed(0).await;
    let outsider = chains_file(
        fx.dir.path(),
        vec![("local", config(&node, OUTSIDER_ENV, Some(contract)))],
    );
    let err = evm_err(
        anchor_batch(&fx.store, BATCH, "local", &outsider)
            .await
            .unwrap_err(),
    );
    assert!(matches!(err, EvmError::NotMember { .. }), "{err}");
    let text = err.to_string();
    let want = format!(
        "account {OUTSIDER} is not a member of anchor contract {contract} on chain local: ask the admin to `proofmark chain grant"
    );
    assert!(text.starts_with(&want), "{text}");
    assert_eq!(node.nonce(OUTSIDER), 0, "nothing was sent");

    // Granting is the admin's alone.
    let c = EvmClient::connect(
        "local",
        &config(&node, OUTSIDER_ENV, Some(contract)),
        Some(key(OUTSIDER_KEY)),
    )
    .await
    .unwrap();
    let err = c.grant(OUTSIDER.parse().unwrap()).await.unwrap_err();
    assert!(matches!(err, EvmError::NotAdmin { .. }), "{err}");

    // A revoked member is refused too; granted again, it anchors.
    let admin = EvmClient::connect(
        "local",
        &config(&node, ADMIN_ENV, Some(contract)),
        Some(key(ADMIN_KEY)),
    )
    .await
    .unwrap();
    admin.revoke(MEMBER.parse().unwrap()).await.unwrap();
    let member = chains_file(
        fx.dir.path(),
        vec![("local", config(&node, MEMBER_ENV, Some(contract)))],
    );
    let err = evm_err(
        anchor_batch(&fx.store, BATCH, "local", &member)
            .await
            .unwrap_err(),
    );
    assert!(matches!(err, EvmError::NotMember { .. }), "{err}");
    admin.grant(MEMBER.parse().unwrap()).await.unwrap();
    anchor_batch(&fx.store, BATCH, "local", &member)
        .await
        .unwrap();

    // A contract that refuses in simulation: the typed revert comes back.
    let direct = EvmClient::connect(
        "local",
        &config(&node, OUTSIDER_ENV, Some(contract)),
        Some(key(OUTSIDER_KEY)),
    )
    .await
    .unwrap();
    let call = ProofmarkAnchor::anchorCall {
        batchId: "x".into(),
        root: B256::repeat_byte(1),
        leafCount: 1,
        manifestDigest: B256::repeat_byte(2),
        logSize: 1,
        logRoot: B256::repeat_byte(3),
    };
    let err = direct
        .send(Some(contract), call.abi_encode().into(), "anchor")
        .await
        .unwrap_err();
    assert!(matches!(err, EvmError::NotMember { .. }), "{err}");

    // A wrong chain id or no contract at the address are named.
    let mut wrong = config(&node, MEMBER_ENV, Some(contract));
    wrong.chain_id = 1;
    assert!(matches!(
        EvmClient::connect("local", &wrong, None).await.unwrap_err(),
        EvmError::WrongChainId {
            actual: 31337,
            expected: 1,
            ..
        }
    ));
    let nowhere = config(&node, MEMBER_ENV, Some(Address::repeat_byte(7)));
    let c = EvmClient::connect("local", &nowhere, None).await.unwrap();
    assert!(matches!(
        c.check_contract().await.unwrap_err(),
        EvmError::NotAContract { .. }
    ));
    // Code that is not the anchor contract is named as such: one that answers nothing
    // (STOP), one that answers zeros (a 32-byte zero word), one that reverts.
    for (byte, code) in [(8, "0x00"), (9, "0x60206000f3"), (10, "0x60006000fd")] {
        let other = Address::repeat_byte(byte);
        node.rpc(
            "anvil_setCode",
            serde_json::json!([other.to_string(), code]),
        );
        let c = EvmClient::connect("local", &config(&node, MEMBER_ENV, Some(other)), None)
            .await
            .unwrap();
        let err = c.check_contract().await.unwrap_err();
        assert!(
            matches!(err, EvmError::NotAnchorContract { .. }),
            "{code}: {err}"
        );
        assert!(
            err.to_string().contains("not a proofmark anchor contract"),
            "{err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmations_are_waited_for() {
    keys_in_env();
    let node = Anvil::start(31337);
    let contract = deploy_and_grant(&node).await;
    let fx = committed(0).await;
    let mut c = config(&node, MEMBER_ENV, Some(contract));
    c.confirmations = 4;
    c.confirmation_timeout_secs = 2;
    let chains_short = chains_file(fx.dir.path(), vec![("local", c.clone())]);
    // No blocks follow the anchor: it is sent, then the wait times out.
    let err = evm_err(
        anchor_batch(&fx.store, BATCH, "local", &chains_short)
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(
            err,
            EvmError::ConfirmationTimeout {
                confirmations: 4,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        fx.store
            .get(&receipt_path(BATCH, "local"))
            .await
            .unwrap()
            .is_none()
    );
    let nonce = node.nonce(MEMBER);
    assert_eq!(nonce, 1);

    // With blocks coming, a rerun waits for 4 and sends nothing new.
    c.confirmation_timeout_secs = 60;
    let chains_long = chains_file(fx.dir.path(), vec![("local", c)]);
    let _miner = node.miner(Duration::from_millis(100));
    let outcome = anchor_batch(&fx.store, BATCH, "local", &chains_long)
        .await
        .unwrap();
    // The receipt is this call's, the transaction the first call's.
    assert!(outcome.anchored_now);
    assert!(
        outcome.summary.contains("earlier run"),
        "{}",
        outcome.summary
    );
    let r = stored_receipt(&fx.store, "local").await;
    assert!(r.confirmations >= 4, "{}", r.confirmations);
    assert!(node.block_number() + 1 >= r.block_number + 4);
    assert_eq!(node.nonce(MEMBER), nonce);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_that_drops_the_anchor_is_followed_by_a_new_anchor() {
    keys_in_env();
    let node = Anvil::start(31337);
    let contract = deploy_and_grant(&node).await;
    let fx = committed(0).await;
    let mut c = config(&node, MEMBER_ENV, Some(contract));
    c.confirmations = 3;
    // After `evm_revert`, anvil remembers the dropped transaction's hash and
    // ignores an identical re-send ("already known") without mining it; a
    // short stuck timeout makes the client replace it with higher fees, as
    // it would a transaction stuck on any node.
    c.stuck_timeout_secs = 3;
    let chains = chains_file(fx.dir.path(), vec![("local", c.clone())]);
    let reader = EvmClient::connect("local", &c, None).await.unwrap();

    // 1. During the wait for confirmations: the anchor's block is reverted away.
    let before = node.snapshot();
    let store = fx.store.clone();
    let chains2 = chains.clone();
    let task = tokio::spawn(async move { anchor_batch(&store, BATCH, "local", &chains2).await });
    let first = loop {
        if let Some(a) = reader.read_anchor(member(), BATCH).await.unwrap() {
            break a;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let dropped_hash = node.block_hash(first.block_number).unwrap();
    node.revert(&before);
    assert!(
        reader.read_anchor(member(), BATCH).await.unwrap().is_none(),
        "the reorg dropped it"
    );
    let miner = node.miner(Duration::from_millis(100));
    let outcome = task.await.unwrap().unwrap();
    drop(miner);
    assert!(outcome.anchored_now);
    let r = stored_receipt(&fx.store, "local").await;
    assert_ne!(r.block_hash, dropped_hash, "anchored again in a new block");
    assert_eq!(node.block_hash(r.block_number).unwrap(), r.block_hash);
    assert!(r.confirmations >= 3);
    assert!(reader.read_anchor(member(), BATCH).await.unwrap().is_some());

    // 2. After the receipt was stored, a reorg drops its transaction: the
    // rerun re-checks the receipt, notices, and anchors again.
    let contract2 = deploy_and_grant(&node).await;
    let mut c2 = c.clone();
    c2.confirmations = 1;
    c2.contract = Some(contract2.to_string());
    let chains2 = chains_file(fx.dir.path(), vec![("second", c2)]);
    let before = node.snapshot();
    anchor_batch(&fx.store, BATCH, "second", &chains2)
        .await
        .unwrap();
    let stored = stored_receipt(&fx.store, "second").await;
    node.revert(&before);
    node.mine(3);
    let nonce = node.nonce(MEMBER);
    let again = anchor_batch(&fx.store, BATCH, "second", &chains2)
        .await
        .unwrap();
    assert!(
        again.anchored_now,
        "the receipt's transaction was gone: anchored anew"
    );
    let fresh = stored_receipt(&fx.store, "second").await;
    assert_ne!(fresh.block_hash, stored.block_hash);
    assert_eq!(
        node.block_hash(fresh.block_number).unwrap(),
        fresh.block_hash
    );
    assert_eq!(node.nonce(MEMBER), nonce + 1);
}

/// A TCP relay to a node that goes down right after forwarding a
/// `eth_sendRawTransaction` request: the node gets the transaction, the
/// client never hears back, and every connection is refused until `up()`.
struct FlakyRelay {
    port: u16,
    down: Arc<AtomicBool>,
    armed: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl FlakyRelay {
    async fn start(target: u16) -> FlakyRelay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let armed = Arc::new(AtomicBool::new(false));
        let (d, a) = (down.clone(), armed.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                if d.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let (d, a) = (d.clone(), a.clone());
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await
                    else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let d2 = d.clone();
                    let up = tokio::spawn(async move {
                        let mut buf = vec![0u8; 65536];
                        loop {
                            let Ok(n) = cr.read(&mut buf).await else {
                                return;
                            };
                            if n == 0 {
                                return;
                            }
                            let chunk = &buf[..n];
                            if a.load(Ordering::SeqCst)
                                && chunk.windows(22).any(|w| w == b"eth_sendRawTransaction")
                            {
                                d2.store(true, Ordering::SeqCst);
                            }
                            if sw.write_all(chunk).await.is_err() {
                                return;
                            }
                        }
                    });
                    let mut buf = vec![0u8; 65536];
                    while let Ok(n) = sr.read(&mut buf).await {
                        if n == 0 || d.load(Ordering::SeqCst) {
                            break; // the answer is lost with the node
                        }
                        if cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    up.abort();
                });
            }
        });
        FlakyRelay {
            port,
            down,
            armed,
            task,
        }
    }

    fn up(&self) {
        self.armed.store(false, Ordering::SeqCst);
        self.down.store(false, Ordering::SeqCst);
    }
}

impl Drop for FlakyRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_going_away_mid_send_is_a_clear_error_and_a_rerun_completes() {
    keys_in_env();
    let node = Anvil::start(31337);
    let contract = deploy_and_grant(&node).await;
    let fx = committed(0).await;
    let relay = FlakyRelay::start(node.port).await;
    let mut c = config(&node, MEMBER_ENV, Some(contract));
    c.rpc_url = Some(format!(
        "http://127.0.0.1:{}/?apikey=SECRET-API-KEY",
        relay.port
    ));
    c.rpc_timeout_secs = 2;
    c.request_timeout_secs = 1;
    let chains = chains_file(fx.dir.path(), vec![("flaky", c)]);
    relay.armed.store(true, Ordering::SeqCst);
    let err = evm_err(
        anchor_batch(&fx.store, BATCH, "flaky", &chains)
            .await
            .unwrap_err(),
    );
    // The error names the transaction, whose fate the lost answer left open.
    let EvmError::AfterSend {
        tx_hash, source, ..
    } = &err
    else {
        panic!("expected an error naming the sent transaction, got {err}");
    };
    assert!(matches!(**source, EvmError::Rpc { .. }), "{err}");
    let record: InFlightTx = serde_json::from_slice(
        &fx.store
            .get(&in_flight_path(BATCH, "flaky"))
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(record.tx_hashes, vec![tx_hash.clone()]);
    assert!(err.to_string().contains(tx_hash.as_str()), "{err}");
    let text = format!("{:?} {}", err, {
        let mut s = err.to_string();
        let mut cause = std::error::Error::source(&err);
        while let Some(c) = cause {
            s.push_str(&format!(": {c}"));
            cause = c.source();
        }
        s
    });
    assert!(
        text.contains(&format!("http://127.0.0.1:{}", relay.port)),
        "{text}"
    );
    assert!(
        !text.contains("SECRET-API-KEY"),
        "the URL's path is never shown: {text}"
    );
    assert_eq!(node.nonce(MEMBER), 1, "the node got the transaction");
    assert!(
        fx.store
            .get(&receipt_path(BATCH, "flaky"))
            .await
            .unwrap()
            .is_none()
    );

    relay.up();
    let outcome = anchor_batch(&fx.store, BATCH, "flaky", &chains)
        .await
        .unwrap();
    // Found on the contract and not sent again (the nonce): the receipt is this call's.
    assert!(outcome.anchored_now);
    assert!(
        outcome.summary.contains("earlier run"),
        "{}",
        outcome.summary
    );
    assert_eq!(node.nonce(MEMBER), 1);
    let r = stored_receipt(&fx.store, "flaky").await;
    assert_eq!(node.block_hash(r.block_number).unwrap(), r.block_hash);
    assert_eq!(&r.tx_hash, tx_hash);
    assert!(
        fx.store
            .get(&in_flight_path(BATCH, "flaky"))
            .await
            .unwrap()
            .is_none(),
        "the record of the transaction in flight goes with the receipt"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_chains_in_one_run_get_one_receipt_each() {
    keys_in_env();
    let (a, b) = (Anvil::start(31337), Anvil::start(424242));
    let (ca, cb) = (deploy_and_grant(&a).await, deploy_and_grant(&b).await);
    let fx = committed(0).await;
    let chains = chains_file(
        fx.dir.path(),
        vec![
            ("evm-a", config(&a, MEMBER_ENV, Some(ca))),
            ("evm-b", config(&b, MEMBER_ENV, Some(cb))),
        ],
    );
    for name in ["ledger", "evm-a", "evm-b"] {
        let o = anchor_batch(&fx.store, BATCH, name, &chains).await.unwrap();
        assert!(o.anchored_now, "{name}");
    }
    let (ra, rb) = (
        stored_receipt(&fx.store, "evm-a").await,
        stored_receipt(&fx.store, "evm-b").await,
    );
    assert_eq!((ra.chain_id, rb.chain_id), (31337, 424242));
    assert_eq!((ra.chain.as_str(), rb.chain.as_str()), ("evm-a", "evm-b"));
    assert_eq!(ra.root, rb.root);
    assert_eq!(
        (ra.log_size, &ra.log_root),
        (rb.log_size, &rb.log_root),
        "one log entry, one checkpoint"
    );
    let signer =
        NoteSigner::load_or_generate(&fx.dir.path().join("ledger.key"), "proofmark.test/ledger")
            .unwrap();
    assert_eq!(
        BatchLog::for_reader(&fx.store, signer.verifier())
            .entries()
            .await
            .unwrap()
            .len(),
        1
    );
}

fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

fn random_hash(next: &mut impl FnMut() -> u64) -> Hash {
    let mut h = [0u8; 32];
    for chunk in h.chunks_mut(8) {
        chunk.copy_from_slice(&next().to_le_bytes());
    }
    h
}

fn rust_error_name(e: &VerifyError) -> &'static str {
    match e {
        VerifyError::EmptyTree => "EmptyTree",
        VerifyError::IndexOutOfRange { .. } => "IndexOutOfRange",
        VerifyError::TooFewHashes { .. } => "TooFewHashes",
        VerifyError::TooManyHashes { .. } => "TooManyHashes",
        VerifyError::RootMismatch { .. } => "RootMismatch",
        other => panic!("unexpected {other}"),
    }
}

fn contract_error_name(e: &ContractError) -> &'static str {
    match e {
        ContractError::EmptyTree(_) => "EmptyTree",
        ContractError::IndexOutOfRange(_) => "IndexOutOfRange",
        ContractError::TooFewHashes(_) => "TooFewHashes",
        ContractError::TooManyHashes(_) => "TooManyHashes",
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_on_chain_proof_views_agree_with_the_rust_verifier() {
    keys_in_env();
    let node = Anvil::start(31337);
    let contract = deploy_and_grant(&node).await;
    let client = EvmClient::connect(
        "local",
        &config(&node, MEMBER_ENV, Some(contract)),
        Some(key(MEMBER_KEY)),
    )
    .await
    .unwrap();
    let mut next = xorshift(0x9E37_79B9_7F4A_7C15);

    // leafHash is the suite's leaf function.
    for len in [0usize, 1, 31, 32, 33, 64, 200] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
        let on_chain = client
            .view(
                ProofmarkAnchor::leafHashCall {
                    data: data.clone().into(),
                },
                "leafHash",
            )
            .await
            .unwrap();
        assert_eq!(on_chain.0, Sha256Rfc6962::hash_leaf(&data));
    }

    let mut cases = 0;
    let mut stored = 0;
    for round in 0..40u64 {
        let size = match round {
            0 => 1,
            1 => 2,
            2 => 3,
            3 => 64,
            4 => 65,
            _ => 1 + next() % 300,
        };
        let leaves: Vec<Hash> = (0..size).map(|_| random_hash(&mut next)).collect();
        let tree = MerkleTree::<Sha256Rfc6962>::from_leaf_hashes(leaves.clone()).unwrap();
        let root = tree.root();
        let index = next() % size;
        let proof = tree.inclusion_proof(index).unwrap().hashes;
        // The good proof and systematic corruptions of it.
        let mut variants: Vec<(Hash, u64, u64, Vec<Hash>)> =
            vec![(leaves[index as usize], index, size, proof.clone())];
        let mut flipped = proof.clone();
        if let Some(h) = flipped.first_mut() {
            h[(next() % 32) as usize] ^= 1 << (next() % 8);
            variants.push((leaves[index as usize], index, size, flipped));
        }
        let mut wrong_leaf = leaves[index as usize];
        wrong_leaf[0] ^= 0x80;
        variants.push((wrong_leaf, index, size, proof.clone()));
        variants.push((leaves[index as usize], index + 1, size, proof.clone()));
        if index > 0 {
            variants.push((leaves[index as usize], index - 1, size, proof.clone()));
        }
        variants.push((leaves[index as usize], index, size * 2, proof.clone()));
        variants.push((leaves[index as usize], index, 0, proof.clone()));
        if !proof.is_empty() {
            variants.push((
                leaves[index as usize],
                index,
                size,
                proof[..proof.len() - 1].to_vec(),
            ));
        }
        let mut longer = proof.clone();
        longer.push(random_hash(&mut next));
        variants.push((leaves[index as usize], index, size, longer));

        for (leaf, i, n, hashes) in variants {
            cases += 1;
            let rust_ok = verify_inclusion::<Sha256Rfc6962>(&leaf, i, n, &hashes, &root).is_ok();
            let path: Vec<B256> = hashes.iter().map(|h| B256::from(*h)).collect();
            let chain_ok = client
                .view(
                    ProofmarkAnchor::verifyInclusionProofCall {
                        leaf: leaf.into(),
                        index: U256::from(i),
                        treeSize: U256::from(n),
                        proof: path.clone(),
                        root: root.into(),
                    },
                    "verifyInclusionProof",
                )
                .await
                .unwrap();
            assert_eq!(
                chain_ok,
                rust_ok,
                "size {n} index {i} proof length {}",
                hashes.len()
            );
            let rust_root = root_from_inclusion_proof::<Sha256Rfc6962>(&leaf, i, n, &hashes);
            let chain_root = client
                .view(
                    ProofmarkAnchor::rootFromInclusionProofCall {
                        leaf: leaf.into(),
                        index: U256::from(i),
                        treeSize: U256::from(n),
                        proof: path,
                    },
                    "rootFromInclusionProof",
                )
                .await;
            match (rust_root, chain_root) {
                (Ok(r), Ok(c)) => assert_eq!(c.0, r),
                (Err(r), Err(EvmError::Refused { revert, .. })) => {
                    assert_eq!(contract_error_name(&revert), rust_error_name(&r))
                }
                (r, c) => panic!("disagree: rust {r:?}, chain {c:?}"),
            }
        }

        // Against a stored root: anchor the tree as a batch.
        if round < 6 {
            stored += 1;
            let batch_id = format!("tree-{round}");
            let call = ProofmarkAnchor::anchorCall {
                batchId: batch_id.clone(),
                root: root.into(),
                leafCount: size,
                manifestDigest: B256::repeat_byte(round as u8 + 1),
                logSize: round + 1,
                logRoot: B256::repeat_byte(0xA0 + round as u8),
            };
            let mined = client
                .send(Some(contract), call.abi_encode().into(), "anchor")
                .await
                .unwrap();
            println!(
                "gas: anchor #{} of this contract {}",
                round + 1,
                mined.gas_used
            );
            let path: Vec<B256> = proof.iter().map(|h| B256::from(*h)).collect();
            let check =
                |leaf: Hash, n: u64, path: Vec<B256>| ProofmarkAnchor::verifyInclusionCall {
                    submitter: member(),
                    batchId: batch_id.clone(),
                    leaf: leaf.into(),
                    index: U256::from(index),
                    treeSize: U256::from(n),
                    proof: path,
                };
            assert!(
                client
                    .view(
                        check(leaves[index as usize], size, path.clone()),
                        "verifyInclusion"
                    )
                    .await
                    .unwrap()
            );
            assert!(
                !client
                    .view(check(wrong_leaf, size, path.clone()), "verifyInclusion")
                    .await
                    .unwrap()
            );
            assert!(
                !client
                    .view(
                        check(leaves[index as usize], size + 1, path),
                        "verifyInclusion"
                    )
                    .await
                    .unwrap(),
                "the tree size must be the anchored leaf count"
            );
        }
    }
    assert!(cases > 300 && stored == 6, "{cases} cases");

    // Gas of an on-chain proof check, by proof length (the tree size 2^k,
    // index 0: k hashes; the values do not change the work done).
    let mut figures = Vec::new();
    for k in [0u32, 1, 4, 8, 16, 20, 24, 32] {
        let path: Vec<B256> = (0..k).map(|_| B256::from(random_hash(&mut next))).collect();
        let call = ProofmarkAnchor::verifyInclusionProofCall {
            leaf: B256::repeat_byte(1),
            index: U256::ZERO,
            treeSize: U256::from(1u64) << k,
            proof: path,
            root: B256::repeat_byte(2),
        };
        let gas = node.rpc(
            "eth_estimateGas",
            serde_json::json!([{"to": contract.to_string(), "data": format!("0x{}", hex::encode(call.abi_encode()))}]),
        );
        figures.push((k, hex_u64(&gas)));
    }
    println!(
        "gas: verifyInclusionProof by proof length (as a transaction, 21000 base included): {figures:?}"
    );
    assert!(
        figures.windows(2).all(|w| w[0].1 < w[1].1),
        "more hashes cost more gas: {figures:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_inclusion_view_checks_batch_log_entries() {
    keys_in_env();
    let node = Anvil::start(31337);
    let contract = deploy_and_grant(&node).await;
    let fx = committed(0).await;
    let c = config(&node, MEMBER_ENV, Some(contract));
    let chains = chains_file(fx.dir.path(), vec![("local", c.clone())]);
    anchor_batch(&fx.store, BATCH, "local", &chains)
        .await
        .unwrap();
    let signer =
        NoteSigner::load_or_generate(&fx.dir.path().join("ledger.key"), "proofmark.test/ledger")
            .unwrap();
    let proof = BatchLog::for_reader(&fx.store, signer.verifier())
        .prove(BATCH)
        .await
        .unwrap();
    let client = EvmClient::connect("local", &c, None).await.unwrap();
    let path: Vec<B256> = proof
        .proof()
        .unwrap()
        .hashes
        .iter()
        .map(|h| B256::from(*h))
        .collect();
    let call = |leaf: Hash| ProofmarkAnchor::verifyLogInclusionCall {
        submitter: member(),
        entryLeafHash: leaf.into(),
        index: U256::from(proof.entry.index),
        logSize: proof.log_size,
        proof: path.clone(),
    };
    assert!(
        client
            .view(call(proof.entry.leaf_hash()), "verifyLogInclusion")
            .await
            .unwrap()
    );
    let mut other = proof.entry.clone();
    other.root = "00".repeat(32);
    assert!(
        !client
            .view(call(other.leaf_hash()), "verifyLogInclusion")
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_transaction_is_replaced_with_higher_fees_and_the_same_nonce() {
    keys_in_env();
    let node = Anvil::start(31337);
    let contract = deploy_and_grant(&node).await;
    let fx = committed(0).await;
    node.rpc("evm_setAutomine", serde_json::json!([false]));
    let mut c = config(&node, MEMBER_ENV, Some(contract));
    c.stuck_timeout_secs = 1;
    let chains = chains_file(fx.dir.path(), vec![("local", c)]);
    let store = fx.store.clone();
    let task = tokio::spawn(async move { anchor_batch(&store, BATCH, "local", &chains).await });

    // The first transaction waits in the pool; after the stuck timeout the
    // client replaces it: same sender and nonce, another hash, higher fee.
    let pending = |node: &Anvil| -> Option<(String, u64, u128)> {
        let pool = node.rpc("txpool_content", serde_json::json!([]));
        let by_nonce = pool["pending"]
            .as_object()?
            .values()
            .next()?
            .as_object()?
            .clone();
        let tx = by_nonce.values().next()?.clone();
        let fee = tx["maxFeePerGas"].as_str().or(tx["gasPrice"].as_str())?;
        Some((
            tx["hash"].as_str()?.to_owned(),
            hex_u64(&tx["nonce"]),
            u128::from_str_radix(fee.trim_start_matches("0x"), 16).ok()?,
        ))
    };
    let first = loop {
        if let Some(p) = pending(&node) {
            break p;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let replacement = loop {
        if let Some(p) = pending(&node)
            && p.0 != first.0
        {
            break p;
        }
        assert!(
            !task.is_finished(),
            "the anchor finished without being mined"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(replacement.1, first.1, "same nonce");
    assert!(
        replacement.2 > first.2,
        "higher fee: {replacement:?} vs {first:?}"
    );
    node.mine(1);
    task.await.unwrap().unwrap();
    let r = stored_receipt(&fx.store, "local").await;
    assert_eq!(r.tx_hash, replacement.0);
    assert_eq!(node.nonce(MEMBER), first.1 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fees_follow_the_chain_legacy_without_a_base_fee() {
    keys_in_env();
    // Berlin: blocks without a base fee, as on many consortium networks.
    let node = Anvil::start_with(31337, &["--hardfork", "berlin"]);
    let contract = deploy_and_grant(&node).await;
    let fx = committed(0).await;
    let chains = chains_file(
        fx.dir.path(),
        vec![("local", config(&node, MEMBER_ENV, Some(contract)))],
    );
    anchor_batch(&fx.store, BATCH, "local", &chains)
        .await
        .unwrap();
    let r = stored_receipt(&fx.store, "local").await;
    let tx = node.rpc("eth_getTransactionByHash", serde_json::json!([r.tx_hash]));
    assert_eq!(tx["type"], "0x0", "legacy transaction: {tx}");
    assert_eq!(tx["chainId"], "0x7a69", "EIP-155 replay protection");

    // On a London+ chain, `auto` sends EIP-1559 transactions.
    let london = Anvil::start(31337);
    let contract = deploy_and_grant(&london).await;
    let fx2 = committed(0).await;
    let chains = chains_file(
        fx2.dir.path(),
        vec![("auto", config(&london, MEMBER_ENV, Some(contract)))],
    );
    anchor_batch(&fx2.store, BATCH, "auto", &chains)
        .await
        .unwrap();
    let r = stored_receipt(&fx2.store, "auto").await;
    let tx = london.rpc("eth_getTransactionByHash", serde_json::json!([r.tx_hash]));
    assert_eq!(tx["type"], "0x2", "{tx}");
}

/// The number of transactions in the node's pool (pending and queued).
fn pool_size(node: &Anvil) -> u64 {
    let status = node.rpc("txpool_status", serde_json::json!([]));
    hex_u64(&status["pending"]) + hex_u64(&status["queued"])
}

fn tx_logs(node: &Anvil, tx_hash: &str) -> usize {
    let r = node.rpc("eth_getTransactionReceipt", serde_json::json!([tx_hash]));
    r["logs"].as_array().unwrap().len()
}

async fn in_flight_record(store: &Store) -> Option<InFlightTx> {
    store
        .get(&in_flight_path(BATCH, "local"))
        .await
        .unwrap()
        .map(|b| serde_json::from_slice(&b).unwrap())
}

/// Waits (at most 30 s) until the node's pool holds `n` transactions.
async fn wait_for_pool(node: &Anvil, n: u64) -> bool {
    for _ in 0..600 {
        if pool_size(node) >= n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_while_the_anchor_is_pending_resumes_it_and_sends_no_second_one() {
    keys_in_env();
    let node = Anvil::start(31337);
    let contract = deploy_and_grant(&node).await;
    let fx = committed(0).await;
    node.rpc("evm_setAutomine", serde_json::json!([false]));
    let mut c = config(&node, MEMBER_ENV, Some(contract));
    c.confirmations = 2;
    c.confirmation_timeout_secs = 2;
    let chains = chains_file(fx.dir.path(), vec![("local", c.clone())]);
    let nonce = node.nonce(MEMBER);

    // The transaction waits in the pool: the run gives up, naming it and
    // the configured confirmations; the store records it.
    let err = evm_err(
        anchor_batch(&fx.store, BATCH, "local", &chains)
            .await
            .unwrap_err(),
    );
    let EvmError::ConfirmationTimeout {
        tx_hash: first,
        confirmations: 2,
        ..
    } = &err
    else {
        panic!("expected a timeout for 2 confirmations, got {err}");
    };
    let record = in_flight_record(&fx.store).await.unwrap();
    assert_eq!(record.tx_hashes, vec![first.clone()]);
    assert_eq!((record.nonce, record.account.as_str()), (nonce, MEMBER));

    // A rerun while it is still pending waits for the same transaction.
    let err = evm_err(
        anchor_batch(&fx.store, BATCH, "local", &chains)
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(&err, EvmError::ConfirmationTimeout { tx_hash, .. } if tx_hash == first),
        "{err}"
    );
    assert_eq!(pool_size(&node), 1, "no second transaction was sent");

    // Once blocks come, a rerun completes with that transaction as the receipt.
    c.confirmation_timeout_secs = 60;
    let chains = chains_file(fx.dir.path(), vec![("local", c)]);
    let store = fx.store.clone();
    let task = tokio::spawn(async move { anchor_batch(&store, BATCH, "local", &chains).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let miner = node.miner(Duration::from_millis(100));
    let outcome = task.await.unwrap().unwrap();
    drop(miner);
    assert!(outcome.anchored_now);
    let r = stored_receipt(&fx.store, "local").await;
    assert_eq!(&r.tx_hash, first);
    assert_eq!(tx_logs(&node, &r.tx_hash), 1, "it emitted Anchored");
    assert_eq!(node.nonce(MEMBER), nonce + 1, "one transaction in all");
    assert!(in_flight_record(&fx.store).await.is_none());
    let sending = fx.store_path().join(format!("batches/{BATCH}/sending"));
    assert!(
        !sending.exists(),
        "the emptied folder of records in flight is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receipt_is_the_transaction_that_emitted_anchored_never_a_no_op() {
    keys_in_env();
    let node = Anvil::start(31337);
    let contract = deploy_and_grant(&node).await;
    let fx = committed(0).await;
    node.rpc("evm_setAutomine", serde_json::json!([false]));
    let mut c = config(&node, MEMBER_ENV, Some(contract));
    c.confirmation_timeout_secs = 2;
    let chains = chains_file(fx.dir.path(), vec![("local", c.clone())]);
    let err = evm_err(
        anchor_batch(&fx.store, BATCH, "local", &chains)
            .await
            .unwrap_err(),
    );
    let EvmError::ConfirmationTimeout { tx_hash: first, .. } = err else {
        panic!("expected a timeout, got {err}");
    };
    // Without the record (another host's run, a lost store write), a rerun
    // sends a second anchor behind the first; both are mined in one block,
    // the second is the contract's "same root again" no-op.
    fx.store
        .delete(&in_flight_path(BATCH, "local"))
        .await
        .unwrap();
    c.confirmation_timeout_secs = 60;
    let chains = chains_file(fx.dir.path(), vec![("local", c)]);
    let store = fx.store.clone();
    let task = tokio::spawn(async move { anchor_batch(&store, BATCH, "local", &chains).await });
    assert!(
        wait_for_pool(&node, 2).await,
        "the rerun sent its transaction"
    );
    let miner = node.miner(Duration::from_millis(100));
    task.await.unwrap().unwrap();
    drop(miner);
    let r = stored_receipt(&fx.store, "local").await;
    assert_eq!(
        r.tx_hash, first,
        "the receipt names the anchoring transaction"
    );
    assert_eq!(tx_logs(&node, &r.tx_hash), 1);
}

/// A committed batch appended to its store's batch log, an in-flight record
/// at the account's next nonce with `fees` and `tx_hashes`, and a transaction
/// of the same account, not proofmark's, pending at that nonce with a gas
/// price of 10 gwei (another process sharing the account). Returns the
/// fixture, the chains and that transaction's hash.
async fn foreign_tx_at_the_recorded_nonce(
    node: &Anvil,
    c: &EvmConfig,
    fees: Fees,
    ours: Option<&str>,
) -> (Fixture, ChainsFile, String, u64) {
    let fx = committed(0).await;
    let chains = chains_file(fx.dir.path(), vec![("local", c.clone())]);
    let request = proofmark_anchor::chain::load_anchor_request(&fx.store, BATCH)
        .await
        .unwrap();
    let signer = proofmark_anchor::chain::ledger_signer(&chains.get("ledger").unwrap()).unwrap();
    let log = proofmark_anchor::chain::append_to_batch_log(&fx.store, &request, &signer)
        .await
        .unwrap();
    let checkpoint = log.verify(&signer.verifier()).unwrap();
    node.rpc("evm_setAutomine", serde_json::json!([false]));
    let nonce = node.nonce(MEMBER);
    let foreign = node
        .rpc(
            "eth_sendTransaction",
            serde_json::json!([{"from": MEMBER, "to": OUTSIDER, "value": "0x1",
                "gas": "0x5208", "gasPrice": format!("0x{:x}", 10_000_000_000u64)}]),
        )
        .as_str()
        .unwrap()
        .to_owned();
    let record = InFlightTx {
        format: "proofmark-evm-in-flight/1".into(),
        chain: "local".into(),
        chain_id: node.chain_id,
        contract: c.contract.clone().unwrap(),
        account: MEMBER.into(),
        batch_id: BATCH.into(),
        log_size: checkpoint.size,
        log_root: hex::encode(checkpoint.root),
        nonce,
        gas_limit: 400_000,
        fees,
        tx_hashes: vec![ours.unwrap_or(&foreign).to_owned()],
        updated_at: "2026-11-25T00:00:00Z".into(),
    };
    fx.store
        .put(
            &in_flight_path(BATCH, "local"),
            serde_json::to_vec(&record).unwrap().into(),
        )
        .await
        .unwrap();
    (fx, chains, foreign, nonce)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_processs_pending_transaction_is_never_replaced() {
    keys_in_env();
    let node = Anvil::start(31337);
    let contract = deploy_and_grant(&node).await;
    let c = config(&node, MEMBER_ENV, Some(contract));
    // The record says a transaction that never reached the node (the run
    // stopped right after recording it) holds the nonce another process
    // has used since.
    let never_sent = format!("0x{}", "11".repeat(32));
    let (fx, chains, foreign, nonce) = foreign_tx_at_the_recorded_nonce(
        &node,
        &c,
        Fees::Legacy {
            gas_price: 1_500_000_000,
        },
        Some(&never_sent),
    )
    .await;
    let store = fx.store.clone();
    let task = tokio::spawn(async move {
        tokio::time::timeout(
            Duration::from_secs(60),
            anchor_batch(&store, BATCH, "local", &chains),
        )
        .await
    });
    let both = wait_for_pool(&node, 2).await;
    let miner = node.miner(Duration::from_millis(100));
    let result = task.await.unwrap();
    drop(miner);
    assert!(
        both,
        "the anchor went to the next nonce, beside the other transaction"
    );
    result.expect("finished").unwrap();
    let other = node.rpc("eth_getTransactionReceipt", serde_json::json!([foreign]));
    assert!(
        !other.is_null(),
        "the other process's transaction was mined, not replaced"
    );
    let r = stored_receipt(&fx.store, "local").await;
    let tx = node.rpc("eth_getTransactionByHash", serde_json::json!([r.tx_hash]));
    assert_eq!(hex_u64(&tx["nonce"]), nonce + 1);
    assert_eq!(tx_logs(&node, &r.tx_hash), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_refused_at_the_fee_cap_stops_with_an_error_naming_cap_and_nonce() {
    keys_in_env();
    let node = Anvil::start(31337);
    let contract = deploy_and_grant(&node).await;
    let mut c = config(&node, MEMBER_ENV, Some(contract));
    c.max_fee_per_gas_gwei = Some(2);
    // The record's transaction is pending at 10 gwei; this run's fees
    // (1.5 gwei, capped at 2) can never replace it.
    let (fx, chains, _foreign, nonce) = foreign_tx_at_the_recorded_nonce(
        &node,
        &c,
        Fees::Legacy {
            gas_price: 1_500_000_000,
        },
        None,
    )
    .await;
    let result = tokio::time::timeout(
        Duration::from_secs(60),
        anchor_batch(&fx.store, BATCH, "local", &chains),
    )
    .await
    .expect("the send stops at the cap instead of looping");
    let err = evm_err(result.unwrap_err());
    assert!(
        matches!(&err, EvmError::FeeCap { nonce: n, cap_gwei: 2, .. } if *n == nonce),
        "{err}"
    );
    assert_eq!(pool_size(&node), 1, "nothing else was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_without_funds_is_named() {
    keys_in_env();
    let node = Anvil::start(31337);
    let poor = PrivateKeySigner::random();
    let address = poor.address();
    let client = EvmClient::connect(
        "local",
        &config(&node, ADMIN_ENV, None),
        Some(EvmKey::from_signer(poor)),
    )
    .await
    .unwrap();
    let err = client.deploy().await.unwrap_err();
    match &err {
        EvmError::InsufficientFunds {
            account, chain_id, ..
        } => {
            assert_eq!(account, &address.to_string());
            assert_eq!(*chain_id, 31337);
        }
        other => panic!("expected insufficient funds, got {other}"),
    }
    assert!(err.to_string().contains(&address.to_string()), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_password_and_api_keys_of_the_rpc_url_never_show() {
    keys_in_env();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = EvmConfig::new(
        format!("http://user:pw@127.0.0.1:{port}/?apikey=SECRETKEY123"),
        31337,
    );
    c.rpc_timeout_secs = 1;
    c.request_timeout_secs = 1;
    let err = EvmClient::connect("local", &c, None).await.unwrap_err();
    let mut text = format!("{err} {err:?}");
    let mut cause = std::error::Error::source(&err);
    while let Some(e) = cause {
        text.push_str(&format!(" {e} {e:?}"));
        cause = e.source();
    }
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    for secret in ["SECRETKEY123", "user:pw", ":pw@", "apikey"] {
        assert!(!text.contains(secret), "{secret} shown: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_anchor_their_own_stores_on_one_contract() {
    keys_in_env();
    let node = Anvil::start(31337);
    let contract = deploy_and_grant(&node).await;
    let admin = EvmClient::connect(
        "local",
        &config(&node, ADMIN_ENV, Some(contract)),
        Some(key(ADMIN_KEY)),
    )
    .await
    .unwrap();
    let second: Address = OUTSIDER.parse().unwrap();
    admin.grant(second).await.unwrap();

    // Two stores, each with its own batch log and ledger key, and the same
    // batch id (both jobs are called "nightly"), with different data: each
    // log has size 1 with its own root.
    let (a, b) = (committed(0).await, committed(40).await);
    let chains_a = chains_file(
        a.dir.path(),
        vec![("consortium", config(&node, MEMBER_ENV, Some(contract)))],
    );
    let chains_b = chains_file(
        b.dir.path(),
        vec![("consortium", config(&node, OUTSIDER_ENV, Some(contract)))],
    );
    let oa = anchor_batch(&a.store, BATCH, "consortium", &chains_a)
        .await
        .unwrap();
    let ob = anchor_batch(&b.store, BATCH, "consortium", &chains_b)
        .await
        .unwrap();
    assert!(oa.anchored_now && ob.anchored_now);
    let (ra, rb) = (
        stored_receipt(&a.store, "consortium").await,
        stored_receipt(&b.store, "consortium").await,
    );
    assert_eq!(
        (ra.submitter.as_str(), rb.submitter.as_str()),
        (MEMBER, OUTSIDER)
    );
    assert_ne!(ra.root, rb.root);
    assert_eq!((ra.log_size, rb.log_size), (1, 1));
    assert_ne!(ra.log_root, rb.log_root);

    // The contract keeps both, each under its member.
    let reader = EvmClient::connect("local", &config(&node, MEMBER_ENV, Some(contract)), None)
        .await
        .unwrap();
    for (who, r) in [(member(), &ra), (second, &rb)] {
        let on_chain = reader.read_anchor(who, BATCH).await.unwrap().unwrap();
        assert_eq!(hex::encode(on_chain.root), r.root);
        assert_eq!(hex::encode(on_chain.log_root), r.log_root);
        let (size, root) = reader.latest_checkpoint(who).await.unwrap();
        assert_eq!((size, hex::encode(root)), (1, r.log_root.clone()));
        let tx = reader
            .find_anchor_tx(who, BATCH, on_chain.block_number)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(tx.tx_hash.to_string(), r.tx_hash);
        println!("gas: first anchor of member {who} {}", tx.gas_used);
    }
    assert!(
        reader
            .read_anchor(Address::repeat_byte(9), BATCH)
            .await
            .unwrap()
            .is_none()
    );

    // Reruns of both re-check their receipts and send nothing.
    let nonces = (node.nonce(MEMBER), node.nonce(OUTSIDER));
    assert!(
        !anchor_batch(&a.store, BATCH, "consortium", &chains_a)
            .await
            .unwrap()
            .anchored_now
    );
    assert!(
        !anchor_batch(&b.store, BATCH, "consortium", &chains_b)
            .await
            .unwrap()
            .anchored_now
    );
    assert_eq!((node.nonce(MEMBER), node.nonce(OUTSIDER)), nonces);
}
