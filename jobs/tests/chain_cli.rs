//! `proofmark chain deploy|grant|revoke|show` and `proofmark anchor` on an
//! `evm` chain, as a user runs them, against a local anvil node (installed
//! by scripts/test.sh).
#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../../anchor/tests/evm_support/anvil.rs"]
mod anvil;

use std::path::Path;
use std::process::{Command, Output};

use anvil::*;
use proofmark_datasets::GenerateOptions;
use serde_json::Value;

const DATE: &str = "2026-11-25";

fn bin(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_proofmark"));
    c.arg("--quiet");
    c.env("PROOFMARK_LEDGER_KEY", dir.join("ledger.key"));
    c.env("PROOFMARK_TEST_ADMIN_KEY", ADMIN_KEY);
    c.env("PROOFMARK_TEST_MEMBER_KEY", MEMBER_KEY);
    c.env("PROOFMARK_TEST_OUTSIDER_KEY", OUTSIDER_KEY);
    c
}

fn run(dir: &Path, args: &[&str]) -> Output {
    bin(dir).args(args).output().unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let o = run(dir, args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{args:?} failed: {}\n{out}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// `proofmark anchor` of batch `b1` of `store` on the chain `local` of the chains file `chains`.
fn anchor_b1_on_local<'a>(store: &'a str, chains: &'a str) -> [&'a str; 9] {
    [
        "anchor",
        "--batch-id",
        "b1",
        "--store",
        store,
        "--chains",
        chains,
        "--chain",
        "local",
    ]
}

/// A local port nothing listens on (bound, then released).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn chains_toml(dir: &Path, node: &Anvil, contract: Option<&str>, key_env: &str) -> String {
    let path = dir.join("chains.toml");
    let contract = contract.map_or(String::new(), |c| format!("contract = \"{c}\"\n"));
    std::fs::write(
        &path,
        format!(
            "[chains.local]\ntype = \"evm\"\nrpc_url = \"{}\"\nchain_id = {}\n{contract}\
             key_env = \"{key_env}\"\nconfirmations = 1\npoll_interval_ms = 50\n",
            node.url, node.chain_id
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn deploy_grant_anchor_show_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let node = Anvil::start(31337);

    // A committed batch.
    let records = d.join("ds");
    let opts = GenerateOptions::new(600, &records).with_rows_per_group(300);
    proofmark_datasets::generate(&opts, |_| {}).unwrap();
    let store = d.join("store");
    let store = store.to_str().unwrap();
    let input = records.join("records");
    let input = input.to_str().unwrap();
    ok(
        d,
        &[
            "plan",
            "--input",
            input,
            "--batch-id",
            "b1",
            "--store",
            store,
            "--date",
            DATE,
        ],
    );
    ok(d, &["build", "--batch-id", "b1", "--store", store]);
    ok(d, &["commit", "--batch-id", "b1", "--store", store]);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(d.join("store/batches/b1/manifest.json")).unwrap())
            .unwrap();

    // Deploy, then name the contract in the chains file.
    let chains = chains_toml(d, &node, None, "PROOFMARK_TEST_ADMIN_KEY");
    let deployed: Value = serde_json::from_str(&ok(
        d,
        &["chain", "deploy", "--chains", &chains, "--chain", "local"],
    ))
    .unwrap();
    let contract = deployed["contract"].as_str().unwrap().to_owned();
    assert_eq!(deployed["admin"], ADMIN);
    let chains = chains_toml(d, &node, Some(&contract), "PROOFMARK_TEST_ADMIN_KEY");
    let granted: Value = serde_json::from_str(&ok(
        d,
        &[
            "chain", "grant", MEMBER, "--chains", &chains, "--chain", "local",
        ],
    ))
    .unwrap();
    assert_eq!(granted["member"], true);
    // Granting a member again sends nothing.
    let again: Value = serde_json::from_str(&ok(
        d,
        &[
            "chain", "grant", MEMBER, "--chains", &chains, "--chain", "local",
        ],
    ))
    .unwrap();
    assert_eq!(again["member"], true);
    assert!(again["tx_hash"].is_null(), "{again}");

    // Not anchored yet: show exits 1.
    let shown = run(
        d,
        &[
            "chain",
            "show",
            "--batch-id",
            "b1",
            "--chains",
            &chains,
            "--chain",
            "local",
        ],
    );
    assert_eq!(shown.status.code(), Some(1));

    // A non-member is refused with a clear message (exit 4, a chain error).
    let outsider = chains_toml(d, &node, Some(&contract), "PROOFMARK_TEST_OUTSIDER_KEY");
    let o = run(d, &anchor_b1_on_local(store, &outsider));
    assert_eq!(o.status.code(), Some(4));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "account {OUTSIDER} is not a member of anchor contract {contract} on chain local"
        )),
        "{err}"
    );

    // The member anchors; the ledger and the chain in one run.
    let chains = chains_toml(d, &node, Some(&contract), "PROOFMARK_TEST_MEMBER_KEY");
    let out = ok(
        d,
        &[
            "anchor",
            "--batch-id",
            "b1",
            "--store",
            store,
            "--chains",
            &chains,
            "--chain",
            "ledger",
            "--chain",
            "local",
        ],
    );
    assert!(out.contains("local: anchored: tx 0x"), "{out}");
    let receipt: Value = serde_json::from_slice(
        &std::fs::read(d.join("store/batches/b1/anchors/local.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(receipt["root"], manifest["root"]);
    assert_eq!(receipt["contract"], contract.as_str());
    let again = ok(d, &anchor_b1_on_local(store, &chains));
    // Said once, by the receipt's own summary.
    assert!(again.contains("(already anchored)"), "{again}");
    assert_eq!(again.matches("already anchored").count(), 1, "{again}");
    // The confirmations stored are those the receipt had when made, and said so.
    assert!(
        again.contains("confirmation(s) when anchored at 20"),
        "{again}"
    );
    // The node gone: the stored receipt stands, with a warning (as in `proofmark run`).
    let down = d.join("down.toml");
    let text = std::fs::read_to_string(&chains)
        .unwrap()
        .replace(&node.url, &format!("http://127.0.0.1:{}", free_port()))
        + "rpc_timeout_secs = 1\nrequest_timeout_secs = 1\n";
    std::fs::write(&down, text).unwrap();
    let o = run(d, &anchor_b1_on_local(store, down.to_str().unwrap()));
    let said = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{said}");
    assert!(
        said.contains("the receipt stored earlier was not re-checked"),
        "{said}"
    );
    assert_eq!(said.matches("chain local:").count(), 1, "{said}");
    // The retries are logged once, not a line each.
    assert!(said.matches("retrying").count() <= 1, "{said}");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(receipt["tx_hash"].as_str().unwrap()),
        "the stored receipt is printed"
    );

    let shown: Value = serde_json::from_str(&ok(
        d,
        &[
            "chain",
            "show",
            "--batch-id",
            "b1",
            "--chains",
            &chains,
            "--chain",
            "local",
        ],
    ))
    .unwrap();
    assert_eq!(shown["root"], manifest["root"]);
    assert_eq!(shown["tx_hash"], receipt["tx_hash"]);
    assert_eq!(shown["submitter"], MEMBER);
    let status: Value = serde_json::from_str(&ok(
        d,
        &["chain", "show", "--chains", &chains, "--chain", "local"],
    ))
    .unwrap();
    assert_eq!(status["latest_checkpoint"]["log_size"], 1);
    // Anchors are kept per member: with another account's key, name the member.
    let by_member: Value = serde_json::from_str(&ok(
        d,
        &[
            "chain",
            "show",
            "--batch-id",
            "b1",
            "--submitter",
            MEMBER,
            "--chains",
            &outsider,
            "--chain",
            "local",
        ],
    ))
    .unwrap();
    assert_eq!(by_member["tx_hash"], receipt["tx_hash"]);

    verify_and_audit_against_the_chain(d, &node, store, &records, &contract, &manifest);

    // Revoked, the member is refused.
    let admin = chains_toml(d, &node, Some(&contract), "PROOFMARK_TEST_ADMIN_KEY");
    let revoked: Value = serde_json::from_str(&ok(
        d,
        &[
            "chain", "revoke", MEMBER, "--chains", &admin, "--chain", "local",
        ],
    ))
    .unwrap();
    assert_eq!(revoked["member"], false);
    // Bad input is exit 3: a malformed address, a mistyped one (wrong EIP-55 checksum, which
    // would grant another account), an unknown chain, a batch that is not committed.
    for address in ["0x1234", &flip_case_of_one_letter(MEMBER)] {
        let bad = run(
            d,
            &[
                "chain", "grant", address, "--chains", &admin, "--chain", "local",
            ],
        );
        assert_eq!(
            bad.status.code(),
            Some(3),
            "{address}: {}",
            String::from_utf8_lossy(&bad.stderr)
        );
    }
    for (batch, chain) in [("b1", "nosuch"), ("b2", "local")] {
        let o = run(
            d,
            &[
                "anchor",
                "--batch-id",
                batch,
                "--store",
                store,
                "--chains",
                &chains,
                "--chain",
                chain,
            ],
        );
        assert_eq!(
            o.status.code(),
            Some(3),
            "{batch} {chain}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // No key: an input error (3), for deploy as for anchor (below); a grant by a non-admin:
    // a chain error (4).
    let keyless = chains_toml(d, &node, Some(&contract), "PROOFMARK_TEST_NO_SUCH_KEY");
    let o = run(
        d,
        &["chain", "deploy", "--chains", &keyless, "--chain", "local"],
    );
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let outsider = chains_toml(d, &node, Some(&contract), "PROOFMARK_TEST_OUTSIDER_KEY");
    let o = run(
        d,
        &[
            "chain", "grant", OUTSIDER, "--chains", &outsider, "--chain", "local",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // The node down is a chain error (exit 4), and the message keeps its cause.
    let dead_url = format!("http://127.0.0.1:{}", dead_port());
    let dead = evm_chains(
        d,
        "dead.toml",
        &[("local", &dead_url, node.chain_id, Some(contract.as_str()))],
        "PROOFMARK_TEST_MEMBER_KEY",
    );
    std::fs::remove_file(d.join("store/batches/b1/anchors/local.json")).unwrap();
    let keyless = chains_toml(d, &node, Some(&contract), "PROOFMARK_TEST_NO_SUCH_KEY");
    let o = run(d, &anchor_b1_on_local(store, &keyless));
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for args in [
        &[
            "anchor",
            "--batch-id",
            "b1",
            "--store",
            store,
            "--chains",
            &dead,
            "--chain",
            "local",
        ][..],
        &["chain", "show", "--chains", &dead, "--chain", "local"][..],
    ] {
        let o = run(d, args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(4), "{args:?}: {err}");
        assert!(err.contains("Connection refused"), "{args:?}: {err}");
    }
}

/// `proofmark verify REPORT --rpc --contract` and `proofmark audit batch
/// --chain` read the anchor from the contract itself: they pass against the
/// contract that anchored the batch, and fail against another contract or
/// for a report whose root was changed.
fn verify_and_audit_against_the_chain(
    d: &Path,
    node: &Anvil,
    store: &str,
    records: &Path,
    contract: &str,
    manifest: &Value,
) {
    // A code's report, as the service gives it.
    let (index, code) = published_code(d, store, records);
    let code = code.as_str();
    let report = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = proofmark_ingest::Store::from_url(store).unwrap();
        let lookup = proofmark_verifier::Lookup::open(store, &index).unwrap();
        lookup.report(code).await.unwrap().unwrap()
    });
    assert_eq!(
        report.batches["b1"].root,
        manifest["root"].as_str().unwrap()
    );
    assert!(report.batches["b1"].anchors.contains_key("local"));
    let path = d.join("report.json");
    std::fs::write(&path, report.to_json_vec()).unwrap();
    let report_path = path.to_str().unwrap();

    // Checked against the chain: verified (exit 0), with no ledger key.
    let verdict: Value = serde_json::from_str(&ok(
        d,
        &[
            "verify",
            report_path,
            "--rpc",
            &node.url,
            "--contract",
            contract,
            "--json",
        ],
    ))
    .unwrap();
    assert_eq!(verdict["verified"], true, "{verdict}");
    let chain_check = &verdict["batches"]["b1"]["anchors"]["local"];
    assert_eq!(chain_check["trusted"], true, "{chain_check}");
    // Nothing trusted: not verified (exit 1).
    assert_eq!(run(d, &["verify", report_path]).status.code(), Some(1));

    // Another contract, which holds no anchor of the batch: exit 1.
    let other_chains = chains_toml(d, node, None, "PROOFMARK_TEST_ADMIN_KEY");
    let other: Value = serde_json::from_str(&ok(
        d,
        &[
            "chain",
            "deploy",
            "--chains",
            &other_chains,
            "--chain",
            "local",
        ],
    ))
    .unwrap();
    let other = other["contract"].as_str().unwrap().to_owned();
    assert_ne!(other, contract);
    let o = run(
        d,
        &[
            "verify",
            report_path,
            "--rpc",
            &node.url,
            "--contract",
            &other,
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    // A report whose root (and receipts' root) was replaced: exit 1 against
    // the right contract.
    let mut tampered: Value = serde_json::from_slice(&report.to_json_vec()).unwrap();
    let fake = "ab".repeat(32);
    tampered["batches"]["b1"]["root"] = Value::from(fake.as_str());
    for receipt in tampered["batches"]["b1"]["anchors"]
        .as_object_mut()
        .unwrap()
        .values_mut()
    {
        receipt["root"] = Value::from(fake.as_str());
    }
    let tampered_path = d.join("tampered.json");
    std::fs::write(&tampered_path, tampered.to_string()).unwrap();
    let o = run(
        d,
        &[
            "verify",
            tampered_path.to_str().unwrap(),
            "--rpc",
            &node.url,
            "--contract",
            contract,
        ],
    );
    assert_eq!(o.status.code(), Some(1));

    // A report without its evm receipt: the root is read from the contract
    // under the member given with --submitter (anchors are kept per member).
    let mut bare: Value = serde_json::from_slice(&report.to_json_vec()).unwrap();
    let anchors = bare["batches"]["b1"]["anchors"].as_object_mut().unwrap();
    let submitter = anchors["local"]["submitter"].as_str().unwrap().to_owned();
    anchors.remove("local");
    let bare_path = d.join("bare.json");
    std::fs::write(&bare_path, bare.to_string()).unwrap();
    let by_root = [
        "verify",
        bare_path.to_str().unwrap(),
        "--rpc",
        &node.url,
        "--contract",
        contract,
        "--chain-id",
        "31337",
    ];
    let o = run(d, &by_root);
    assert_ne!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--submitter is needed"), "{err}");
    ok(d, &[&by_root[..], &["--submitter", &submitter]].concat());
    // The root read from an address that holds no contract: the check could not be made
    // (exit 2), and says why, not that an answer could not be decoded.
    let mut no_contract = by_root;
    no_contract[5] = ADMIN;
    let o = run(
        d,
        &[&no_contract[..], &["--submitter", &submitter]].concat(),
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code_of(&o), Some(2), "{out}");
    assert!(out.contains("no contract code at"), "{out}");

    // The batch audit checks the evm receipt against the contract named in
    // the chains file: passes with the anchoring one, fails with the other.
    let chains = chains_toml(d, node, Some(contract), "PROOFMARK_TEST_MEMBER_KEY");
    let audit: Value = serde_json::from_str(&ok(
        d,
        &[
            "audit",
            "batch",
            "--batch-id",
            "b1",
            "--store",
            store,
            "--chains",
            &chains,
            "--chain",
            "local",
            "--json",
        ],
    ))
    .unwrap();
    assert_eq!(audit["passed"], true, "{audit}");
    let wrong = chains_toml(d, node, Some(&other), "PROOFMARK_TEST_MEMBER_KEY");
    let o = run(
        d,
        &[
            "audit",
            "batch",
            "--batch-id",
            "b1",
            "--store",
            store,
            "--chains",
            &wrong,
            "--chain",
            "local",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // Back to the anchoring contract for the rest of the test.
    chains_toml(d, node, Some(contract), "PROOFMARK_TEST_MEMBER_KEY");
}

#[test]
fn the_example_chains_file_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/chains-evm.toml");
    let chains = proofmark_anchor::chain::ChainsFile::load(&path).unwrap();
    let names: Vec<&str> = chains.chains.keys().map(String::as_str).collect();
    assert_eq!(names, ["consortium", "ledger", "sepolia"]);
    for name in ["consortium", "sepolia"] {
        assert!(matches!(
            chains.get(name).unwrap(),
            proofmark_anchor::chain::ChainConfig::Evm(_)
        ));
    }
}

/// A committed batch `b1` of 600 records in `d/store`; returns the store and the records'
/// folder.
fn committed_batch(d: &Path) -> (String, std::path::PathBuf) {
    let records = d.join("ds");
    let opts = GenerateOptions::new(600, &records).with_rows_per_group(300);
    proofmark_datasets::generate(&opts, |_| {}).unwrap();
    let store = d.join("store").to_str().unwrap().to_owned();
    let input = records.join("records");
    let input = input.to_str().unwrap();
    ok(
        d,
        &[
            "plan",
            "--input",
            input,
            "--batch-id",
            "b1",
            "--store",
            &store,
            "--date",
            DATE,
        ],
    );
    ok(d, &["build", "--batch-id", "b1", "--store", &store]);
    ok(d, &["commit", "--batch-id", "b1", "--store", &store]);
    (store, records)
}

/// Publishes batch `b1` of `store` into `d/index`; returns the index folder and the first
/// code of the dataset at `records` (its PIN file lists every item's code).
fn published_code(d: &Path, store: &str, records: &Path) -> (std::path::PathBuf, String) {
    let index = d.join("index");
    ok(
        d,
        &[
            "publish",
            "--batch-id",
            "b1",
            "--store",
            store,
            "--index",
            index.to_str().unwrap(),
        ],
    );
    let pins = std::fs::read_to_string(records.join("secrets/pins.csv")).unwrap();
    let code = pins.lines().nth(1).unwrap().split(',').next().unwrap();
    (index, code.to_owned())
}

/// A chains file `file` with one `evm` chain per `(name, node, contract)`.
fn evm_chains(
    d: &Path,
    file: &str,
    chains: &[(&str, &str, u64, Option<&str>)],
    key_env: &str,
) -> String {
    let path = d.join(file);
    let mut text = String::new();
    for (name, url, chain_id, contract) in chains {
        let contract = contract.map_or(String::new(), |c| format!("contract = \"{c}\"\n"));
        text.push_str(&format!(
            "[chains.{name}]\ntype = \"evm\"\nrpc_url = \"{url}\"\nchain_id = {chain_id}\n\
             {contract}key_env = \"{key_env}\"\nconfirmations = 1\npoll_interval_ms = 50\n\
             rpc_timeout_secs = 2\nrequest_timeout_secs = 1\n\n"
        ));
    }
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Deploys the contract on `node` as chain `local` and grants the admin's
/// account: the contract's address and the path of a chains file
/// (`evm.toml`) that names it.
fn deployed_and_granted(d: &Path, node: &Anvil) -> (String, String) {
    let undeployed = evm_chains(
        d,
        "undeployed.toml",
        &[("local", &node.url, node.chain_id, None)],
        "PROOFMARK_TEST_ADMIN_KEY",
    );
    let deployed: Value = serde_json::from_str(&ok(
        d,
        &[
            "chain",
            "deploy",
            "--chains",
            &undeployed,
            "--chain",
            "local",
        ],
    ))
    .unwrap();
    let contract = deployed["contract"].as_str().unwrap().to_owned();
    let evm = evm_chains(
        d,
        "evm.toml",
        &[("local", &node.url, node.chain_id, Some(contract.as_str()))],
        "PROOFMARK_TEST_ADMIN_KEY",
    );
    ok(
        d,
        &[
            "chain", "grant", ADMIN, "--chains", &evm, "--chain", "local",
        ],
    );
    (contract, evm)
}

/// A local port nothing listens on.
fn dead_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn code_of(o: &Output) -> Option<i32> {
    o.status.code()
}

/// A batch anchored on two `evm` chains (two nodes whose contracts have the same address):
/// `verify` with one node checks that chain's receipt and leaves the other "not checked";
/// with both, both are checked. A receipt whose transaction, block, block hash, submitter
/// or log checkpoint was changed is not verified by `verify` nor by `audit batch`, and an
/// unreachable chain is an error of both (exit 2), not a mismatch.
#[test]
fn receipts_are_checked_on_their_own_chain_down_to_the_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, b) = (Anvil::start(31337), Anvil::start(31338));
    let (store, records) = committed_batch(d);

    let undeployed = evm_chains(
        d,
        "undeployed.toml",
        &[
            ("a", &a.url, a.chain_id, None),
            ("b", &b.url, b.chain_id, None),
        ],
        "PROOFMARK_TEST_ADMIN_KEY",
    );
    let mut contracts = Vec::new();
    for name in ["a", "b"] {
        let deployed: Value = serde_json::from_str(&ok(
            d,
            &["chain", "deploy", "--chains", &undeployed, "--chain", name],
        ))
        .unwrap();
        contracts.push(deployed["contract"].as_str().unwrap().to_owned());
    }
    // The same deployer and nonce on both nodes: the same address on two chains.
    assert_eq!(contracts[0], contracts[1]);
    let contract = contracts[0].clone();
    let spec = [
        ("a", a.url.as_str(), a.chain_id, Some(contract.as_str())),
        ("b", b.url.as_str(), b.chain_id, Some(contract.as_str())),
    ];
    let admin = evm_chains(d, "admin.toml", &spec, "PROOFMARK_TEST_ADMIN_KEY");
    let mut grant_tx = String::new();
    for name in ["a", "b"] {
        let granted: Value = serde_json::from_str(&ok(
            d,
            &[
                "chain", "grant", MEMBER, "--chains", &admin, "--chain", name,
            ],
        ))
        .unwrap();
        grant_tx = granted["tx_hash"].as_str().unwrap().to_owned();
    }
    let chains = evm_chains(d, "chains.toml", &spec, "PROOFMARK_TEST_MEMBER_KEY");
    // Node a mines only when told, so that the anchor on it shares its block with another
    // successful transaction (an outsider's transfer), which a receipt may not name.
    a.rpc("evm_setAutomine", serde_json::json!([false]));
    let anchoring = bin(d)
        .args([
            "anchor",
            "--batch-id",
            "b1",
            "--store",
            &store,
            "--chains",
            &chains,
            "--chain",
            "ledger",
            "--chain",
            "a",
            "--chain",
            "b",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let waited = std::time::Instant::now();
    while a.rpc(
        "eth_getBlockByNumber",
        serde_json::json!(["pending", false]),
    )["transactions"]
        .as_array()
        .is_none_or(Vec::is_empty)
    {
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(60),
            "the anchor on chain a was not sent"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let same_block_tx = a
        .rpc(
            "eth_sendTransaction",
            serde_json::json!([{"from": OUTSIDER, "to": ADMIN, "value": "0x1"}]),
        )
        .as_str()
        .unwrap()
        .to_owned();
    a.rpc("evm_mine", serde_json::json!([]));
    a.rpc("evm_setAutomine", serde_json::json!([true]));
    let anchored = anchoring.wait_with_output().unwrap();
    assert!(
        anchored.status.success(),
        "{}",
        String::from_utf8_lossy(&anchored.stderr)
    );

    // The report of a code, with the receipts of both chains.
    let (index, code) = published_code(d, &store, &records);
    let (index, code) = (index.to_str().unwrap(), code.as_str());
    let report = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = proofmark_ingest::Store::from_url(&store).unwrap();
        let lookup = proofmark_verifier::Lookup::open(store, std::path::Path::new(index)).unwrap();
        lookup.report(code).await.unwrap().unwrap()
    });
    let report: Value = serde_json::from_slice(&report.to_json_vec()).unwrap();
    let report_path = d.join("report.json");
    std::fs::write(&report_path, report.to_string()).unwrap();
    let report_path = report_path.to_str().unwrap();

    // One node: its chain's receipt is checked, the other's is not (and fails nothing).
    let verdict: Value = serde_json::from_str(&ok(
        d,
        &[
            "verify",
            report_path,
            "--rpc",
            &a.url,
            "--contract",
            &contract,
            "--json",
        ],
    ))
    .unwrap();
    assert_eq!(verdict["verified"], true, "{verdict}");
    let anchors = &verdict["batches"]["b1"]["anchors"];
    assert_eq!(anchors["a"]["trusted"], true, "{anchors}");
    assert_eq!(anchors["b"]["trusted"], false, "{anchors}");
    let b_chain = anchors["b"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "chain")
        .unwrap();
    assert_eq!(b_chain["status"], "not_checked", "{b_chain}");
    // Both nodes, paired with their contracts: both receipts checked.
    let verdict: Value = serde_json::from_str(&ok(
        d,
        &[
            "verify",
            report_path,
            "--rpc",
            &b.url,
            "--contract",
            &contract,
            "--rpc",
            &a.url,
            "--contract",
            &contract,
            "--json",
        ],
    ))
    .unwrap();
    assert_eq!(verdict["verified"], true, "{verdict}");
    let anchors = &verdict["batches"]["b1"]["anchors"];
    assert_eq!(anchors["a"]["trusted"], true, "{anchors}");
    assert_eq!(anchors["b"]["trusted"], true, "{anchors}");
    // The report checked on node `a` against `contract`.
    let on_a_against = |contract: &str| {
        run(
            d,
            &[
                "verify",
                report_path,
                "--rpc",
                &a.url,
                "--contract",
                contract,
            ],
        )
    };
    // A mistyped (wrong checksum) contract address is refused, as an argument at fault.
    let o = on_a_against(&flip_case_of_one_letter(&contract));
    assert_eq!(
        code_of(&o),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A chain given whose contract is not the receipt's: not checked, and said why (not
    // "no chain given").
    let o = on_a_against("0x1111111111111111111111111111111111111111");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(code_of(&o), Some(1), "{said}");
    assert!(said.contains("is not the --contract given"), "{said}");
    assert!(!said.contains("no chain to read was given"), "{said}");

    // Forged receipts of chain `a`: each is not verified (exit 1).
    let receipt = report["batches"]["b1"]["anchors"]["a"].clone();
    let block = receipt["block_number"].as_u64().unwrap();
    let other = a.rpc(
        "eth_getTransactionReceipt",
        serde_json::json!([same_block_tx.as_str()]),
    );
    assert_eq!(other["status"], "0x1", "{other}");
    assert_eq!(
        other["blockNumber"].as_str(),
        Some(format!("0x{block:x}").as_str()),
        "the transfer shares the anchor's block"
    );
    let forgeries: Vec<(&str, Value)> = vec![
        ("tx_hash", Value::from(format!("0x{}", "11".repeat(32)))),
        ("tx_hash", Value::from(grant_tx.as_str())),
        ("tx_hash", Value::from(same_block_tx.as_str())),
        ("block_number", Value::from(block - 1)),
        ("block_hash", Value::from(format!("0x{}", "22".repeat(32)))),
        ("submitter", Value::from(OUTSIDER)),
        (
            "log_size",
            Value::from(receipt["log_size"].as_u64().unwrap() + 1),
        ),
        ("log_root", Value::from("33".repeat(32))),
    ];
    let forged_path = d.join("forged.json");
    // `verify` of the forged report on chain a's node and contract, with `extra` flags.
    let verify_forged = |extra: &[&str]| {
        let args = [
            "verify",
            forged_path.to_str().unwrap(),
            "--rpc",
            &a.url,
            "--contract",
            &contract,
        ];
        run(d, &[&args[..], extra].concat())
    };
    for (field, value) in &forgeries {
        let mut forged = report.clone();
        forged["batches"]["b1"]["anchors"]["a"][*field] = value.clone();
        std::fs::write(&forged_path, forged.to_string()).unwrap();
        let o = verify_forged(&[]);
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(code_of(&o), Some(1), "{field} = {value}: {out}");
        assert!(out.contains("NOT verified"), "{out}");
    }

    // A report of another tree that copies the anchored batch's id, manifest digest and leaf
    // count (its receipts too, with its own root): the contract holds the anchored root, so
    // the chain check fails, naming it.
    let mut forged = report.clone();
    let other_root = "44".repeat(32);
    forged["batches"]["b1"]["root"] = Value::from(other_root.as_str());
    for (_, r) in forged["batches"]["b1"]["anchors"].as_object_mut().unwrap() {
        r["root"] = Value::from(other_root.as_str());
    }
    std::fs::write(&forged_path, forged.to_string()).unwrap();
    let o = verify_forged(&["--json"]);
    assert_eq!(code_of(&o), Some(1));
    let verdict: Value = serde_json::from_slice(&o.stdout).unwrap();
    let a_chain = verdict["batches"]["b1"]["anchors"]["a"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "chain")
        .unwrap()
        .clone();
    assert_eq!(a_chain["status"], "failed", "{a_chain}");
    assert!(a_chain.to_string().contains("holds root"), "{a_chain}");

    // The batch audit: passes with the stored receipts, fails for a forged one.
    let audit = [
        "audit",
        "batch",
        "--batch-id",
        "b1",
        "--store",
        &store,
        "--chains",
    ];
    let o = run(
        d,
        &[&audit[..], &[&chains, "--chain", "a", "--chain", "b"]].concat(),
    );
    assert_eq!(
        code_of(&o),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let stored = d.join("store/batches/b1/anchors/a.json");
    let original = std::fs::read(&stored).unwrap();
    for (field, value) in &forgeries {
        let mut forged: Value = serde_json::from_slice(&original).unwrap();
        forged[*field] = value.clone();
        std::fs::write(&stored, forged.to_string()).unwrap();
        let o = run(d, &[&audit[..], &[&chains, "--chain", "a"]].concat());
        assert_eq!(
            code_of(&o),
            Some(1),
            "{field} = {value}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
    // A receipt of chain `a` that claims another chain id than the one a's node serves: a
    // mismatch (the contract is read on a node of the receipt's chain, SPEC.md 9.4).
    let mut forged: Value = serde_json::from_slice(&original).unwrap();
    forged["chain_id"] = Value::from(1);
    std::fs::write(&stored, forged.to_string()).unwrap();
    let o = run(d, &[&audit[..], &[&chains, "--chain", "a"]].concat());
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code_of(&o), Some(1), "{out}");
    assert!(
        out.contains("the receipt is for chain id 1, but the node of chain a serves chain id"),
        "{out}"
    );
    // A chain named with --chain whose receipt is gone: a mismatch naming it, though the
    // other chain's receipt verifies.
    std::fs::remove_file(&stored).unwrap();
    let o = run(
        d,
        &[&audit[..], &[&chains, "--chain", "a", "--chain", "b"]].concat(),
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code_of(&o), Some(1), "{out}");
    assert!(out.contains("no receipt of chain a"), "{out}");
    std::fs::write(&stored, &original).unwrap();

    // An unreachable chain: an error (exit 2) that says so, for audit as for verify.
    let dead_url = format!("http://127.0.0.1:{}", dead_port());
    let dead = evm_chains(
        d,
        "dead.toml",
        &[("a", &dead_url, a.chain_id, Some(contract.as_str()))],
        "PROOFMARK_TEST_MEMBER_KEY",
    );
    let o = run(d, &[&audit[..], &[&dead, "--chain", "a"]].concat());
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code_of(&o), Some(2), "{out}");
    assert!(
        out.contains("receipt a: the chain check could not be made"),
        "{out}"
    );
    assert!(!out.contains("mismatch"), "{out}");
}

/// `addr` with the case of its first letter digit flipped: a wrong EIP-55 checksum.
fn flip_case_of_one_letter(addr: &str) -> String {
    let mut flipped = false;
    addr.char_indices()
        .map(|(i, c)| {
            if i > 1 && !flipped && c.is_ascii_alphabetic() {
                flipped = true;
                if c.is_ascii_uppercase() {
                    c.to_ascii_lowercase()
                } else {
                    c.to_ascii_uppercase()
                }
            } else {
                c
            }
        })
        .collect()
}

/// `audit batch` against a chain whose node cannot be reached: an error (exit 2) that says
/// the receipt could not be checked, not a mismatch (exit 1) as for a tampered batch.
#[test]
fn an_unreachable_chain_is_an_error_of_the_batch_audit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (store, _) = committed_batch(d);
    // The ledger's receipt gives what the batch commits to.
    ok(d, &["anchor", "--batch-id", "b1", "--store", &store]);
    let ledger: Value = serde_json::from_slice(
        &std::fs::read(d.join("store/batches/b1/anchors/ledger.json")).unwrap(),
    )
    .unwrap();
    let contract = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    let receipt = serde_json::json!({
        "chain": "a", "type": "evm", "chain_id": 31337, "contract": contract,
        "submitter": MEMBER, "tx_hash": format!("0x{}", "11".repeat(32)), "block_number": 5,
        "block_hash": format!("0x{}", "22".repeat(32)), "confirmations": 1,
        "anchored_at": "2026-11-25T00:00:00Z", "batch_id": "b1", "suite": ledger["suite"],
        "root": ledger["root"], "leaf_count": ledger["leaf_count"],
        "manifest_digest": ledger["manifest_digest"],
        "log_size": 1, "log_root": "33".repeat(32),
    });
    std::fs::create_dir_all(d.join("store/batches/b1/anchors")).unwrap();
    std::fs::write(
        d.join("store/batches/b1/anchors/a.json"),
        receipt.to_string(),
    )
    .unwrap();
    let dead_url = format!("http://127.0.0.1:{}", dead_port());
    let dead = evm_chains(
        d,
        "dead.toml",
        &[("a", &dead_url, 31337, Some(contract))],
        "PROOFMARK_TEST_MEMBER_KEY",
    );
    let o = run(
        d,
        &[
            "audit",
            "batch",
            "--batch-id",
            "b1",
            "--store",
            &store,
            "--chains",
            &dead,
            "--chain",
            "a",
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code_of(&o), Some(2), "{out}");
    assert!(
        out.contains("receipt a: the chain check could not be made"),
        "{out}"
    );
    assert!(!out.contains("mismatch"), "{out}");
}

/// A `ledger` chain named something else than `ledger` signs the batch log that `evm`
/// anchors append to: anchoring on it and on an `evm` chain works, with its key file, and
/// no key file is made at the default path.
#[test]
fn a_ledger_chain_of_another_name_signs_the_batch_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let node = Anvil::start(31337);
    let (store, _) = committed_batch(d);
    let (_, evm) = deployed_and_granted(d, &node);
    let chains = d.join("chains.toml");
    let log_key = d.join("log.key");
    std::fs::write(
        &chains,
        format!(
            "[chains.log]\ntype = \"ledger\"\nkey_file = \"{}\"\norigin = \"example.org/log\"\n\n{}",
            log_key.display(),
            std::fs::read_to_string(&evm).unwrap()
        ),
    )
    .unwrap();
    let chains = chains.to_str().unwrap();
    for _ in 0..2 {
        ok(
            d,
            &[
                "anchor",
                "--batch-id",
                "b1",
                "--store",
                &store,
                "--chains",
                chains,
                "--chain",
                "log",
                "--chain",
                "local",
            ],
        );
    }
    assert!(log_key.exists());
    // `bin` points PROOFMARK_LEDGER_KEY (the default key file) here: never made.
    assert!(!d.join("ledger.key").exists());
    let stored = std::fs::read_to_string(d.join("store/log/verifier-key.txt")).unwrap();
    assert!(stored.starts_with("example.org/log+"), "{stored}");
    assert!(d.join("store/batches/b1/anchors/local.json").exists());
}

/// A job file anchoring on an `evm` chain at `url` (then the ledger).
fn evm_job(d: &Path, url: &str, contract: &str) -> String {
    let job = d.join("job.toml");
    std::fs::write(
        &job,
        format!(
            "[job]\nname = \"n\"\nstore = \"store\"\ninputs = [\"ds/records/**/*.parquet\"]\n\
             date = \"{DATE}\"\nchains = [\"local\", \"ledger\"]\n\n\
             [chains.ledger]\ntype = \"ledger\"\norigin = \"test.local/ledger\"\n\n\
             [chains.local]\ntype = \"evm\"\nrpc_url = \"{url}\"\nchain_id = 31337\n\
             contract = \"{contract}\"\nkey_env = \"PROOFMARK_TEST_ADMIN_KEY\"\nconfirmations = 1\n\
             poll_interval_ms = 50\nrpc_timeout_secs = 2\nrequest_timeout_secs = 1\n"
        ),
    )
    .unwrap();
    job.to_str().unwrap().to_owned()
}

/// `proofmark run` with an `evm` chain down anchors on the other chains, then fails (exit 4)
/// naming the batch and the chain, with the metrics telling which chains hold a receipt;
/// rerun with the chain up it completes and names the transaction and block; rerun when
/// complete it has nothing to do, even with the chain down (a warning, not a failure).
#[test]
fn run_anchors_on_every_chain_it_can_and_a_complete_batch_needs_no_chain() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let node = Anvil::start(31337);
    let opts = GenerateOptions::new(600, d.join("ds")).with_rows_per_group(300);
    proofmark_datasets::generate(&opts, |_| {}).unwrap();
    let (contract, _) = deployed_and_granted(d, &node);
    let dead_url = format!("http://127.0.0.1:{}", dead_port());
    let batch = format!("n-{DATE}");
    let metrics = d.join("m.prom");
    let metrics_arg = metrics.to_str().unwrap();

    // The evm chain (first in the list) down: the ledger still anchors; exit 4.
    let job = evm_job(d, &dead_url, &contract);
    let o = run(d, &["run", &job, "--metrics-file", metrics_arg]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(code_of(&o), Some(4), "{err}");
    assert!(err.contains(&format!("batch {batch}")), "{err}");
    assert!(err.contains("not anchored on local"), "{err}");
    assert!(err.contains("Connection refused"), "{err}");
    // The chain is named once in its failure.
    assert!(!err.contains("chain local: chain local"), "{err}");
    assert!(
        d.join(format!("store/batches/{batch}/anchors/ledger.json"))
            .exists()
    );
    let text = std::fs::read_to_string(&metrics).unwrap();
    let labels = format!("job=\"n\",batch_id=\"{batch}\"");
    assert!(
        text.contains(&format!(
            "proofmark_job_anchored{{{labels},chain=\"ledger\"}} 1"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "proofmark_job_anchored{{{labels},chain=\"local\"}} 0"
        )),
        "{text}"
    );

    // The same as JSON log lines: the error event carries the batch id.
    let o = run(d, &["run", &job, "--log-format", "json"]);
    assert_eq!(code_of(&o), Some(4));
    let err = String::from_utf8_lossy(&o.stderr);
    let last: Value = serde_json::from_str(err.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "ERROR", "{last}");
    assert_eq!(last["fields"]["batch_id"], batch.as_str(), "{last}");
    assert_eq!(last["fields"]["class"], "chain", "{last}");

    // The chain up: completed; the summary names the transaction and its block.
    let job = evm_job(d, &node.url, &contract);
    let out = ok(d, &["run", &job]);
    assert!(out.contains("(completed)"), "{out}");
    assert!(out.contains("anchor     local: tx 0x"), "{out}");
    assert!(out.contains(" in block "), "{out}");

    // Complete, and the chain down again: nothing to do, exit 0, with a warning.
    let job = evm_job(d, &dead_url, &contract);
    let o = run(d, &["run", &job]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        code_of(&o),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("already complete: nothing to do"), "{out}");
}

/// A running `proofmark serve` (killed on drop) and the address it listens on.
struct Server {
    child: std::process::Child,
    addr: String,
    /// What it wrote to stderr after it started listening.
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Server {
    /// Serves `store` and `index` with the consumer page (its state in `d/state-{name}`),
    /// on a free port, with `extra` arguments.
    fn start(d: &Path, name: &str, store: &str, index: &str, extra: &[&str]) -> Server {
        use std::io::BufRead as _;
        let state = d.join(format!("state-{name}"));
        let mut child = bin(d)
            .args(["serve", "--store", store, "--index", index, "--state-dir"])
            .arg(&state)
            .args(["--listen", "127.0.0.1:0", "--prewarm-mib", "0"])
            .args(extra)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut server = Server {
            child,
            addr: String::new(),
            log: std::sync::Arc::default(),
        };
        let mut lines = std::io::BufReader::new(stderr).lines();
        let mut said = String::new();
        while let Some(Ok(line)) = lines.next() {
            if let Some(addr) = line.trim().strip_prefix("serving on http://") {
                server.addr = addr.to_owned();
                break;
            }
            said.push_str(&line);
            said.push('\n');
        }
        assert!(
            !server.addr.is_empty(),
            "serve {name} did not start: {said}"
        );
        // Keep reading what it says, lest it block on a full pipe.
        let log = std::sync::Arc::clone(&server.log);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut log = log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        server
    }

    /// `GET path`: the status line and the whole response.
    fn get(&self, path: &str) -> (String, String) {
        use std::io::{Read as _, Write as _};
        let mut s = std::net::TcpStream::connect(&self.addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        (text.lines().next().unwrap_or_default().to_owned(), text)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What an amber page says of a chain that did not answer.
const UNREACHABLE: &str =
    "The blockchain that holds the seal of these records could not be reached just now.";

/// The consumer page's verdict section: `ok` (the green badge), `warn` (amber, "cannot
/// confirm right now") or `bad` (red).
fn verdict_class(page: &str) -> &str {
    let open = "<section id=\"verdict\" class=\"";
    let start = page.find(open).unwrap() + open.len();
    let len = page[start..].find('"').unwrap();
    &page[start..start + len]
}

/// `proofmark serve --chains FILE --chain NAME`: a batch anchored on an `evm` chain only,
/// served without any ledger key, has the green badge naming the chain, the transaction
/// and the block; the chain's answer is kept (`--chain-cache-secs`), so a page still shows
/// it once the node stopped, and, once it expired, the page is amber ("cannot confirm
/// right now"), never red. Without `--chain` the page is amber. A node that never answers
/// delays a page by `--chain-wait-ms` only.
#[test]
fn the_consumer_page_checks_an_evm_anchor_on_its_chain() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let node = Anvil::start(31337);
    let (store, records) = committed_batch(d);
    let (_, evm) = deployed_and_granted(d, &node);
    ok(
        d,
        &[
            "anchor",
            "--batch-id",
            "b1",
            "--store",
            &store,
            "--chains",
            &evm,
            "--chain",
            "local",
        ],
    );
    let receipt: Value = serde_json::from_slice(
        &std::fs::read(d.join("store/batches/b1/anchors/local.json")).unwrap(),
    )
    .unwrap();
    let tx = receipt["tx_hash"].as_str().unwrap().to_owned();
    let block = receipt["block_number"].as_u64().unwrap();
    let (index, code) = published_code(d, &store, &records);
    let (index, code) = (index.to_str().unwrap(), code.as_str());
    // In English.
    let page = format!("/s/{code}?lang=en");

    let chain = ["--chains", evm.as_str(), "--chain", "local"];
    let kept = Server::start(d, "kept", &store, index, &chain);
    let brief = Server::start(
        d,
        "brief",
        &store,
        index,
        &[&chain[..], &["--chain-cache-secs", "1"]].concat(),
    );
    let unread = Server::start(d, "unread", &store, index, &[]);
    for server in [&kept, &brief] {
        let (status, body) = server.get(&page);
        assert!(status.contains("200"), "{status}");
        assert_eq!(verdict_class(&body), "ok", "{body}");
        assert!(body.contains("Verified on chain"), "{body}");
        // The transaction shortened, its full hash in the title.
        let anchor = format!(
            "Transaction <span class=\"mono\" title=\"{tx}\">{}…{}</span> in block {block} of \
             the blockchain “local”",
            &tx[..6],
            &tx[tx.len() - 4..]
        );
        assert!(body.contains(&anchor), "{anchor} not in {body}");
    }
    // No chain to read: amber, not red.
    let (_, body) = unread.get(&page);
    assert_eq!(verdict_class(&body), "warn", "{body}");
    assert!(body.contains("Cannot confirm right now"), "{body}");

    // A chains file whose contract is not the one of the store's receipts, or not an anchor
    // contract at all, stops the server at its start: every page would otherwise call the
    // products fake.
    let wrong = evm_chains(
        d,
        "wrong.toml",
        &[
            ("local", &node.url, node.chain_id, Some(ADMIN)),
            ("other", &node.url, node.chain_id, Some(ADMIN)),
        ],
        "PROOFMARK_TEST_ADMIN_KEY",
    );
    for (chain, exit, said) in [
        (
            "local",
            3,
            "the store's receipt of batch b1 names contract 0x",
        ),
        ("other", 4, "no contract code at"),
    ] {
        let o = bin(d)
            .args(["serve", "--store", &store, "--index", index, "--state-dir"])
            .arg(d.join("state-wrong"))
            .args(["--listen", "127.0.0.1:0", "--prewarm-mib", "0"])
            .args(["--chains", &wrong, "--chain", chain])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(exit), "{chain}: {err}");
        assert!(err.contains(said), "{chain}: {err}");
        assert!(!err.contains("  "), "one line of words: {err}");
    }

    // The node stops. The answer read while it ran is kept for 60 s by default...
    drop(node);
    let (_, body) = kept.get(&page);
    assert_eq!(verdict_class(&body), "ok", "{body}");
    // ... and for 1 s with --chain-cache-secs 1: then the chain cannot be read, amber.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    for _ in 0..2 {
        let (status, body) = brief.get(&page);
        assert!(status.contains("200"), "{status}");
        assert_eq!(verdict_class(&body), "warn", "{body}");
        assert!(body.contains("Cannot confirm right now"), "{body}");
        assert!(body.contains(UNREACHABLE), "{body}");
    }

    // A node that takes connections and never answers, with the chain's RPC budget of a
    // minute: the page waits --chain-wait-ms for it, then is amber, and the next view does
    // not wait again for the same read.
    let hanging = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hanging_url = format!("http://{}", hanging.local_addr().unwrap());
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let holder = std::sync::Arc::clone(&held);
    std::thread::spawn(move || {
        for stream in hanging.incoming().flatten() {
            holder.lock().unwrap().push(stream);
        }
    });
    let slow = d.join("slow.toml");
    std::fs::write(
        &slow,
        format!(
            "[chains.local]\ntype = \"evm\"\nrpc_url = \"{hanging_url}\"\nchain_id = 31337\n\
             contract = \"{contract}\"\nrpc_timeout_secs = 60\nrequest_timeout_secs = 30\n",
            contract = receipt["contract"].as_str().unwrap()
        ),
    )
    .unwrap();
    let patient = Server::start(
        d,
        "patient",
        &store,
        index,
        &[
            "--chains",
            slow.to_str().unwrap(),
            "--chain",
            "local",
            "--chain-wait-ms",
            "300",
        ],
    );
    let mut took = Vec::new();
    // The buyer is told the chain could not be reached; why (a read that did not answer in
    // time, then one still overdue) is the operator's, in the log.
    for technical in ["did not answer within 0.3 s", "overdue"] {
        let started = std::time::Instant::now();
        let (status, body) = patient.get(&page);
        took.push(started.elapsed());
        assert!(status.contains("200"), "{status}");
        assert_eq!(verdict_class(&body), "warn", "{body}");
        assert!(body.contains("Cannot confirm right now"), "{body}");
        assert!(body.contains(UNREACHABLE), "{body}");
        assert!(!body.contains(technical), "{technical} in {body}");
    }
    // Without the bound the first view would wait for the read (30 s and more); the
    // second, during the overdue read, does not wait for it.
    assert!(
        took[0] >= std::time::Duration::from_millis(300)
            && took[0] < std::time::Duration::from_secs(20),
        "{took:?}"
    );
    assert!(took[1] < took[0], "{took:?}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while held.lock().unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the node was never asked"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // The operator is told once, not on every view.
    let warned = "the chain did not answer within 0.3 s: pages show";
    while !patient.log.lock().unwrap().contains(warned) {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            patient.log.lock().unwrap()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(patient.log.lock().unwrap().matches(warned).count(), 1);
    // /metrics says so: the read was overdue, and the chain is not answering while it goes
    // on; the server that read the chain while it ran counts one good read.
    let (_, metrics) = patient.get("/metrics");
    for line in [
        "proofmark_chain_reads_overdue_total{chain=\"local\"} 1",
        "proofmark_chain_answering{chain=\"local\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} not in {metrics}");
    }
    let (_, metrics) = kept.get("/metrics");
    for line in [
        "proofmark_chain_reads_total{chain=\"local\",outcome=\"ok\"} 1",
        "proofmark_chain_answering{chain=\"local\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} not in {metrics}");
    }
}
