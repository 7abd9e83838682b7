//! Integration tests of `proofmark merkle`: the binary agrees with the
//! library, accepts good proofs, rejects bad ones with exit code 1, and
//! rejects bad input with exit code 2 and a message naming the line.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use proofmark_merkle::{Blake3, Hash, MerkleTree, Sha256Rfc6962, Suite, SuiteId};
use tempfile::TempDir;

/// One test's scratch directory.
struct Scratch {
    dir: TempDir,
}

impl Scratch {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

fn proofmark(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_proofmark"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Leaf data of `n` leaves, including an empty one and block-sized ones.
fn leaf_data(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| match i % 4 {
            0 => vec![],
            1 => vec![i as u8],
            2 => vec![i as u8; 64],
            _ => format!("record {i}").into_bytes(),
        })
        .collect()
}

fn leaf_file(scratch: &Scratch, data: &[Vec<u8>]) -> PathBuf {
    let mut text: String = data
        .iter()
        .map(|d| format!("{}\n", hex::encode(d)))
        .collect();
    text = text.to_uppercase(); // hex digits of either case are accepted
    scratch.write("leaves.txt", &text)
}

fn hex_lines(hashes: &[Hash]) -> String {
    hashes
        .iter()
        .map(|h| format!("{}\n", hex::encode(h)))
        .collect()
}

fn agrees_with_library<S: Suite>() {
    let scratch = Scratch::new();
    let data = leaf_data(13);
    let input = leaf_file(&scratch, &data);
    let tree = MerkleTree::<S>::from_leaves(&data).unwrap();
    let suite = S::NAME;

    let out = proofmark(&[
        "merkle",
        "root",
        "--suite",
        suite,
        "--input",
        path_str(&input),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{}\n", hex::encode(tree.root())));

    for index in [0u64, 5, 12] {
        let i = index.to_string();
        let out = proofmark(&[
            "merkle",
            "inclusion",
            "--suite",
            suite,
            "--input",
            path_str(&input),
            "--index",
            &i,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            stdout(&out),
            hex_lines(&tree.inclusion_proof(index).unwrap().hashes)
        );
    }
    for old in [1u64, 6, 8, 13] {
        let m = old.to_string();
        let out = proofmark(&[
            "merkle",
            "consistency",
            "--suite",
            suite,
            "--input",
            path_str(&input),
            "--old",
            &m,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            stdout(&out),
            hex_lines(&tree.consistency_proof(old).unwrap().hashes)
        );
    }
}

#[test]
fn root_inclusion_and_consistency_agree_with_the_library() {
    agrees_with_library::<Blake3>();
    agrees_with_library::<Sha256Rfc6962>();
}

#[test]
fn empty_lines_are_empty_leaves_and_a_final_newline_adds_none() {
    let scratch = Scratch::new();
    let input = scratch.write("leaves.txt", "\naa\n\n");
    let out = proofmark(&[
        "merkle",
        "root",
        "--suite",
        "blake3",
        "--input",
        path_str(&input),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let want = MerkleTree::<Blake3>::from_leaves(&[&b""[..], &[0xaa], b""])
        .unwrap()
        .root();
    assert_eq!(stdout(&out).trim(), hex::encode(want));
}

fn verify_inclusion_args<'a>(
    suite: &'a str,
    leaf: &'a str,
    index: &'a str,
    size: &'a str,
    root: &'a str,
    proof: &'a str,
) -> Vec<&'a str> {
    vec![
        "merkle",
        "verify",
        "inclusion",
        "--suite",
        suite,
        "--leaf-data",
        leaf,
        "--index",
        index,
        "--size",
        size,
        "--root",
        root,
        "--proof",
        proof,
    ]
}

#[test]
fn verify_inclusion_accepts_good_and_rejects_bad_proofs() {
    for suite in SuiteId::ALL {
        let scratch = Scratch::new();
        let data = leaf_data(10);
        let (root, hashes) = match suite {
            SuiteId::Blake3 => {
                let t = MerkleTree::<Blake3>::from_leaves(&data).unwrap();
                (t.root(), t.inclusion_proof(6).unwrap().hashes)
            }
            SuiteId::Sha256Rfc6962 => {
                let t = MerkleTree::<Sha256Rfc6962>::from_leaves(&data).unwrap();
                (t.root(), t.inclusion_proof(6).unwrap().hashes)
            }
        };
        let proof = scratch.write("proof.txt", &hex_lines(&hashes));
        let root_hex = hex::encode(root);
        let leaf_hex = hex::encode(&data[6]);
        let name = suite.name();

        let out = proofmark(&verify_inclusion_args(
            name,
            &leaf_hex,
            "6",
            "10",
            &root_hex,
            path_str(&proof),
        ));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(stdout(&out), "verified\n");

        // The same check given the leaf hash instead of its data.
        let leaf_hash = hex::encode(suite.hash_leaf(&data[6]));
        let mut args =
            verify_inclusion_args(name, &leaf_hex, "6", "10", &root_hex, path_str(&proof));
        args[5] = "--leaf-hash";
        args[6] = &leaf_hash;
        assert_eq!(proofmark(&args).status.code(), Some(0));

        // Wrong leaf, wrong index, wrong root: not verified (exit 1), saying why.
        let wrong_leaf = hex::encode(b"tampered");
        let out = proofmark(&verify_inclusion_args(
            name,
            &wrong_leaf,
            "6",
            "10",
            &root_hex,
            path_str(&proof),
        ));
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("not verified"), "{}", stderr(&out));
        assert!(stderr(&out).contains(&root_hex), "{}", stderr(&out));
        assert!(stdout(&out).is_empty());
        let out = proofmark(&verify_inclusion_args(
            name,
            &leaf_hex,
            "7",
            "10",
            &root_hex,
            path_str(&proof),
        ));
        assert_eq!(out.status.code(), Some(1));
        let other_root = hex::encode([0u8; 32]);
        let out = proofmark(&verify_inclusion_args(
            name,
            &leaf_hex,
            "6",
            "10",
            &other_root,
            path_str(&proof),
        ));
        assert_eq!(out.status.code(), Some(1));

        // A truncated proof is malformed: still "not verified", with the count.
        let short = scratch.write("short.txt", &hex_lines(&hashes[1..]));
        let out = proofmark(&verify_inclusion_args(
            name,
            &leaf_hex,
            "6",
            "10",
            &root_hex,
            path_str(&short),
        ));
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("hashes"), "{}", stderr(&out));

        // Index out of range is an input error: exit 3.
        let out = proofmark(&verify_inclusion_args(
            name,
            &leaf_hex,
            "10",
            "10",
            &root_hex,
            path_str(&proof),
        ));
        assert_eq!(out.status.code(), Some(3));
    }
}

#[test]
fn verify_consistency_accepts_good_and_rejects_bad_proofs() {
    let scratch = Scratch::new();
    let data = leaf_data(11);
    let tree = MerkleTree::<Sha256Rfc6962>::from_leaves(&data).unwrap();
    let proof = scratch.write(
        "proof.txt",
        &hex_lines(&tree.consistency_proof(5).unwrap().hashes),
    );
    let old_root = hex::encode(tree.root_at(5).unwrap());
    let root = hex::encode(tree.root());
    let run = |old_size: &str, old_root: &str, root: &str| {
        proofmark(&[
            "merkle",
            "verify",
            "consistency",
            "--suite",
            "sha256-rfc6962",
            "--old-size",
            old_size,
            "--old-root",
            old_root,
            "--size",
            "11",
            "--root",
            root,
            "--proof",
            path_str(&proof),
        ])
    };
    let out = run("5", &old_root, &root);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "verified\n");
    let out = run("5", &root, &root);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("old root"), "{}", stderr(&out));
    let out = run("5", &old_root, &old_root);
    assert_eq!(out.status.code(), Some(1));
    let out = run("6", &old_root, &root);
    assert_eq!(out.status.code(), Some(1));
    let out = run("12", &old_root, &root);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("out of range"), "{}", stderr(&out));
}

#[test]
fn bad_input_exits_3_with_a_message() {
    let scratch = Scratch::new();
    let bad = scratch.write("bad.txt", "00\n0g\n");
    let out = proofmark(&[
        "merkle",
        "root",
        "--suite",
        "blake3",
        "--input",
        path_str(&bad),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());

    let odd = scratch.write("odd.txt", "00\n11\nabc\n");
    let out = proofmark(&[
        "merkle",
        "root",
        "--suite",
        "blake3",
        "--input",
        path_str(&odd),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("line 3"), "{}", stderr(&out));

    let empty = scratch.write("empty.txt", "");
    let out = proofmark(&[
        "merkle",
        "root",
        "--suite",
        "sha256-rfc6962",
        "--input",
        path_str(&empty),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("empty"), "{}", stderr(&out));

    let good = scratch.write("good.txt", "00\n01\n02\n");
    let out = proofmark(&[
        "merkle",
        "inclusion",
        "--suite",
        "blake3",
        "--input",
        path_str(&good),
        "--index",
        "3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("out of range"), "{}", stderr(&out));

    let out = proofmark(&[
        "merkle",
        "consistency",
        "--suite",
        "blake3",
        "--input",
        path_str(&good),
        "--old",
        "4",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("out of range"), "{}", stderr(&out));

    let out = proofmark(&[
        "merkle",
        "root",
        "--suite",
        "md5",
        "--input",
        path_str(&good),
    ]);
    assert_eq!(out.status.code(), Some(3));

    let proof = scratch.write("proof.txt", &format!("{}\nzz\n", "00".repeat(32)));
    let root = "00".repeat(32);
    let out = proofmark(&verify_inclusion_args(
        "blake3",
        "00",
        "0",
        "3",
        &root,
        path_str(&proof),
    ));
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));

    let out = proofmark(&verify_inclusion_args(
        "blake3",
        "00",
        "0",
        "3",
        "abcd",
        path_str(&proof),
    ));
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("--root"), "{}", stderr(&out));
}

#[test]
fn help_documents_every_flag() {
    let out = proofmark(&["merkle", "verify", "inclusion", "--help"]);
    assert!(out.status.success());
    let help = stdout(&out);
    for flag in [
        "--suite",
        "--leaf-data",
        "--leaf-hash",
        "--index",
        "--size",
        "--root",
        "--proof",
    ] {
        assert!(help.contains(flag), "{flag} missing from help:\n{help}");
    }
    assert!(help.contains("sha256-rfc6962"));
}

/// `proofmark verify` vouches only for what it can check: a JSON document of another format,
/// or a leaf proof with a field SPEC.md 11.4 does not define, is not verified (exit 1, saying
/// why), like a malformed code report; a file that is not JSON is an error (exit 2).
#[test]
fn verify_answers_not_verified_for_documents_it_cannot_check() {
    let dir = TempDir::new().unwrap();
    let cases = [
        (
            r#"{"format":"proofmark-code/2","code":"97837978498369312371"}"#,
            "is neither",
        ),
        (
            r#"{"format":"proofmark-leaf-proof/1","bogus":1}"#,
            "malformed leaf proof",
        ),
        (
            r#"{"format":"proofmark-code/1","code":"97837978498369312371"}"#,
            "malformed code report",
        ),
    ];
    for (i, (doc, why)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("doc{i}.json"));
        std::fs::write(&path, doc).unwrap();
        let out = proofmark(&["verify", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{doc}: {out:?}");
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert!(text.contains(why), "{doc}: {text}");
    }
    let path = dir.path().join("not.json");
    std::fs::write(&path, "not json").unwrap();
    assert_eq!(
        proofmark(&["verify", path.to_str().unwrap()]).status.code(),
        Some(2)
    );
}
