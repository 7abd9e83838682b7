//! The committed contract artifacts (`anchor/contracts/build/`) are what the
//! pinned solc-js makes of the committed source. The solc package comes from
//! `$PROOFMARK_SOLCJS`, set by scripts/test.sh (scripts/setup-evm.sh).
//! `PROOFMARK_REGEN_CONTRACTS=1` rewrites the artifacts instead.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

const FILES: [&str; 3] = [
    "ProofmarkAnchor.abi.json",
    "ProofmarkAnchor.bin",
    "ProofmarkAnchor.compiler.txt",
];

fn contracts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts")
}

#[test]
fn committed_artifacts_match_a_fresh_compile() {
    let solc = std::env::var_os("PROOFMARK_SOLCJS").unwrap_or_else(|| {
        panic!(
            "PROOFMARK_SOLCJS is unset: run scripts/test.sh, which installs the pinned solc-js \
             and sets it (or `source scripts/setup-evm.sh` in this shell first)"
        )
    });
    let regen = std::env::var_os("PROOFMARK_REGEN_CONTRACTS").is_some();
    let out_dir = tempfile::tempdir().unwrap();
    let out = if regen {
        contracts_dir().join("build")
    } else {
        out_dir.path().to_path_buf()
    };
    let status = Command::new("node")
        .arg(contracts_dir().join("compile.js"))
        .arg("--solc")
        .arg(&solc)
        .arg("--out")
        .arg(&out)
        .status()
        .expect("node (Node.js) must be installed to compile the contract");
    assert!(status.success(), "compile.js failed");
    for f in FILES {
        let fresh = std::fs::read(out.join(f)).unwrap();
        let committed = std::fs::read(contracts_dir().join("build").join(f)).unwrap();
        assert!(
            fresh == committed,
            "anchor/contracts/build/{f} is stale: regenerate with \
             PROOFMARK_REGEN_CONTRACTS=1 cargo test -p proofmark-anchor --test contract_artifacts"
        );
    }
    // The bindings are generated from the same ABI the crate embeds.
    assert_eq!(
        proofmark_anchor::evm::contract::ABI_JSON.as_bytes(),
        std::fs::read(contracts_dir().join("build/ProofmarkAnchor.abi.json")).unwrap()
    );
}
