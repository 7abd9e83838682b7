//! Tree test vectors in `schemas/vectors/trees/`: the committed generator and
//! the check that the files are current.
//!
//! `PROOFMARK_REGEN_VECTORS=1 cargo test -p proofmark-merkle --test vectors`
//! rewrites the files; without it the test fails if any file differs from
//! what the code produces now. A second test reads the files as another
//! implementation would and checks every case with the library.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use proofmark_merkle::{
    Blake3, Hash, MerkleTree, Sha256Rfc6962, Suite, SuiteId, VerifyError, verify_consistency,
    verify_inclusion, verify_multi, with_suite,
};
use serde::{Deserialize, Serialize};

/// Spec version the vectors belong to.
const SPEC: &str = "proofmark 2026-11-25 v1";

/// Tree sizes with a vector file, per suite.
const SIZES: [u64; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 13, 16, 17, 31, 32, 64, 65];

/// The RFC 6962 test-data leaves (CT's reference tree): leaves 0..8 of every file.
const CT_LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// Lengths of leaves 8 and 9: around BLAKE3's chunk (1024 bytes).
const CHUNK_LENGTHS: [usize; 2] = [1024, 1025];

/// Lengths cycled through by leaves 10 and up: around BLAKE3's block (64 bytes).
const LEAF_LENGTHS: [usize; 8] = [0, 1, 32, 63, 64, 65, 128, 3];

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct VectorFile {
    spec: String,
    description: String,
    suite: String,
    tree_size: u64,
    leaves: Vec<String>,
    leaf_hashes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    root: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    build_error: Option<String>,
    inclusion: Vec<InclusionCase>,
    consistency: Vec<ConsistencyCase>,
    multi: Vec<MultiCase>,
    invalid: Vec<InvalidCase>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct InclusionCase {
    index: u64,
    hashes: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct ConsistencyCase {
    old_size: u64,
    old_root: String,
    hashes: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct MultiCase {
    indices: Vec<u64>,
    hashes: Vec<String>,
}

/// A corrupted proof and the error a verifier must report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
enum InvalidCase {
    Inclusion {
        description: String,
        leaf_hash: String,
        index: u64,
        tree_size: u64,
        root: String,
        hashes: Vec<String>,
        error: String,
    },
    Consistency {
        description: String,
        old_size: u64,
        tree_size: u64,
        old_root: String,
        root: String,
        hashes: Vec<String>,
        error: String,
    },
    Multi {
        description: String,
        indices: Vec<u64>,
        leaf_hashes: Vec<String>,
        tree_size: u64,
        root: String,
        hashes: Vec<String>,
        error: String,
    },
}

fn hx(h: &Hash) -> String {
    hex::encode(h)
}

fn hxs(hs: &[Hash]) -> Vec<String> {
    hs.iter().map(hx).collect()
}

fn unhex(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

fn unhexs(v: &[String]) -> Vec<Hash> {
    v.iter().map(|s| unhex(s)).collect()
}

fn flip(h: &Hash) -> Hash {
    let mut out = *h;
    out[0] ^= 0x01;
    out
}

/// Leaf `i`'s data: the CT leaves first, then generated data of cycling lengths.
fn leaf_data(i: u64) -> Vec<u8> {
    if let Some(ct) = CT_LEAVES.get(i as usize) {
        return hex::decode(ct).unwrap();
    }
    let len = match i {
        8 | 9 => CHUNK_LENGTHS[i as usize - 8],
        _ => LEAF_LENGTHS[i as usize % LEAF_LENGTHS.len()],
    };
    (0..len)
        .map(|j| (i as usize * 7 + j * 13 + 1) as u8)
        .collect()
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/vectors/trees")
}

fn file_name(suite: SuiteId, n: u64) -> String {
    format!("{}-{:04}.json", suite.name(), n)
}

fn sample(n: u64, all_below: u64) -> Vec<u64> {
    if n <= all_below {
        return (0..n).collect();
    }
    let mut v = vec![0, 1, n / 2, n - 2, n - 1];
    v.dedup();
    v
}

fn expect_err(result: Result<(), VerifyError>) -> String {
    result
        .expect_err("a corrupted case must not verify")
        .name()
        .to_owned()
}

fn generate<S: Suite>(n: u64) -> VectorFile {
    let data: Vec<Vec<u8>> = (0..n).map(leaf_data).collect();
    let leaves = data.iter().map(hex::encode).collect();
    let leaf_hashes: Vec<Hash> = data.iter().map(|d| S::hash_leaf(d)).collect();
    let mut file = VectorFile {
        spec: SPEC.to_owned(),
        description: String::new(),
        suite: S::NAME.to_owned(),
        tree_size: n,
        leaves,
        leaf_hashes: hxs(&leaf_hashes),
        root: None,
        build_error: None,
        inclusion: vec![],
        consistency: vec![],
        multi: vec![],
        invalid: vec![],
    };
    let tree = match MerkleTree::<S>::from_leaf_hashes(leaf_hashes.clone()) {
        Ok(tree) => tree,
        Err(err) => {
            file.description = format!("{}: the empty tree has no root", S::NAME);
            file.build_error = Some(format!("{err:?}"));
            return file;
        }
    };
    let root = tree.root();
    file.description = format!(
        "{}: tree of {n} leaves (CT test-data leaves first, then lengths around 64 and 1024 bytes)",
        S::NAME
    );
    file.root = Some(hx(&root));
    for i in sample(n, 17) {
        let p = tree.inclusion_proof(i).unwrap();
        file.inclusion.push(InclusionCase {
            index: i,
            hashes: hxs(&p.hashes),
        });
    }
    let mut olds: Vec<u64> = if n <= 8 {
        (1..=n).collect()
    } else {
        vec![1, 2, 3, n / 2, n - 1, n]
    };
    olds.dedup();
    for m in olds {
        let p = tree.consistency_proof(m).unwrap();
        let old_root = hx(&tree.root_at(m).unwrap());
        file.consistency.push(ConsistencyCase {
            old_size: m,
            old_root,
            hashes: hxs(&p.hashes),
        });
    }
    let candidates: Vec<Vec<u64>> = vec![
        vec![0],
        vec![n - 1],
        (0..n).step_by(2).collect(),
        vec![1.min(n - 1), n / 2, n - 1],
        (0..n).collect(),
    ];
    let mut sets: Vec<Vec<u64>> = Vec::new();
    for mut set in candidates {
        set.dedup();
        if !sets.contains(&set) {
            sets.push(set);
        }
    }
    for indices in sets {
        let p = tree.multi_proof(&indices).unwrap();
        file.multi.push(MultiCase {
            indices,
            hashes: hxs(&p.hashes),
        });
    }

    // Corruptions of one inclusion proof.
    let i = n / 2;
    let p = tree.inclusion_proof(i).unwrap().hashes;
    let leaf = leaf_hashes[i as usize];
    let mut inclusion =
        |description: &str, leaf: Hash, index: u64, size: u64, root: Hash, hashes: Vec<Hash>| {
            let error = expect_err(verify_inclusion::<S>(&leaf, index, size, &hashes, &root));
            file.invalid.push(InvalidCase::Inclusion {
                description: description.to_owned(),
                leaf_hash: hx(&leaf),
                index,
                tree_size: size,
                root: hx(&root),
                hashes: hxs(&hashes),
                error,
            });
        };
    inclusion(
        "wrong leaf",
        S::hash_leaf(b"not a leaf of this tree"),
        i,
        n,
        root,
        p.clone(),
    );
    inclusion(
        "leaf data hashed as a node",
        flip(&leaf),
        i,
        n,
        root,
        p.clone(),
    );
    inclusion(
        "flipped bit in the root",
        leaf,
        i,
        n,
        flip(&root),
        p.clone(),
    );
    if !p.is_empty() {
        let mut bad = p.clone();
        bad[0] = flip(&bad[0]);
        inclusion("flipped bit in the first proof hash", leaf, i, n, root, bad);
        let mut bad = p.clone();
        let last = bad.len() - 1;
        bad[last] = flip(&bad[last]);
        inclusion("flipped bit in the last proof hash", leaf, i, n, root, bad);
        inclusion(
            "truncated proof",
            leaf,
            i,
            n,
            root,
            p[..p.len() - 1].to_vec(),
        );
    }
    let mut long = p.clone();
    long.push(root);
    inclusion("extra proof hash", leaf, i, n, root, long);
    if n > 1 {
        let other = if i + 1 < n { i + 1 } else { i - 1 };
        inclusion("index off by one", leaf, other, n, root, p.clone());
    }
    inclusion("index equal to the size", leaf, n, n, root, p.clone());
    inclusion("size doubled", leaf, i, 2 * n, root, p.clone());
    inclusion("size zero", leaf, i, 0, root, p.clone());

    // Corruptions of one consistency proof.
    if n >= 2 {
        let m = if n <= 8 { n - 1 } else { n / 2 + 1 };
        let p = tree.consistency_proof(m).unwrap().hashes;
        let old_root = tree.root_at(m).unwrap();
        let mut consistency =
            |description: &str, m: u64, size: u64, old: Hash, new: Hash, hashes: Vec<Hash>| {
                let error = expect_err(verify_consistency::<S>(m, size, &hashes, &old, &new));
                file.invalid.push(InvalidCase::Consistency {
                    description: description.to_owned(),
                    old_size: m,
                    tree_size: size,
                    old_root: hx(&old),
                    root: hx(&new),
                    hashes: hxs(&hashes),
                    error,
                });
            };
        consistency("wrong old root", m, n, flip(&old_root), root, p.clone());
        consistency("wrong new root", m, n, old_root, flip(&root), p.clone());
        for k in [0, p.len() - 1] {
            let mut bad = p.clone();
            bad[k] = flip(&bad[k]);
            consistency(
                &format!("flipped bit in proof hash {k}"),
                m,
                n,
                old_root,
                root,
                bad,
            );
        }
        consistency(
            "truncated proof",
            m,
            n,
            old_root,
            root,
            p[..p.len() - 1].to_vec(),
        );
        let mut long = p.clone();
        long.push(root);
        consistency("extra proof hash", m, n, old_root, root, long);
        consistency("old size zero", 0, n, old_root, root, p.clone());
        consistency(
            "old size above the size",
            n + 1,
            n,
            old_root,
            root,
            p.clone(),
        );
        consistency(
            "equal sizes with different roots",
            n,
            n,
            old_root,
            root,
            vec![],
        );
    }

    // Corruptions of one multi-leaf proof.
    if n >= 3 {
        let indices = vec![0, n / 2, n - 1];
        let p = tree.multi_proof(&indices).unwrap().hashes;
        let leaves: Vec<Hash> = indices.iter().map(|&i| leaf_hashes[i as usize]).collect();
        let mut multi = |description: &str, idx: Vec<u64>, lv: Vec<Hash>, hashes: Vec<Hash>| {
            let error = expect_err(verify_multi::<S>(&idx, &lv, n, &hashes, &root));
            file.invalid.push(InvalidCase::Multi {
                description: description.to_owned(),
                indices: idx,
                leaf_hashes: hxs(&lv),
                tree_size: n,
                root: hx(&root),
                hashes: hxs(&hashes),
                error,
            });
        };
        let mut dup = indices.clone();
        dup.push(n - 1);
        let mut dup_leaves = leaves.clone();
        dup_leaves.push(S::hash_leaf(b"forged"));
        multi(
            "duplicate index with a forged leaf",
            dup,
            dup_leaves,
            p.clone(),
        );
        multi(
            "unsorted indices",
            vec![n / 2, 0, n - 1],
            vec![leaves[1], leaves[0], leaves[2]],
            p.clone(),
        );
        multi(
            "index out of range",
            vec![0, n / 2, n],
            leaves.clone(),
            p.clone(),
        );
        let mut wrong = leaves.clone();
        wrong[1] = S::hash_leaf(b"not a leaf of this tree");
        multi("wrong leaf", indices.clone(), wrong, p.clone());
        let mut long = p.clone();
        long.push(root);
        multi("extra proof hash", indices.clone(), leaves.clone(), long);
        if !p.is_empty() {
            multi(
                "missing proof hash",
                indices.clone(),
                leaves.clone(),
                p[..p.len() - 1].to_vec(),
            );
        }
        multi(
            "fewer leaf hashes than indices",
            indices.clone(),
            leaves[..2].to_vec(),
            p.clone(),
        );
    }
    file
}

fn render(file: &VectorFile) -> String {
    let mut text = serde_json::to_string_pretty(file).unwrap();
    text.push('\n');
    text
}

fn all_files() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for suite in SuiteId::ALL {
        for n in SIZES {
            let file = with_suite!(suite, S => generate::<S>(n));
            out.insert(file_name(suite, n), render(&file));
        }
    }
    out
}

#[test]
fn vector_files_are_current() {
    let want = all_files();
    let dir = dir();
    if std::env::var_os("PROOFMARK_REGEN_VECTORS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                std::fs::remove_file(path).unwrap();
            }
        }
        for (name, text) in &want {
            std::fs::write(dir.join(name), text).unwrap();
        }
        return;
    }
    let mut stale = Vec::new();
    for (name, text) in &want {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(have) if have == *text => {}
            _ => stale.push(name.clone()),
        }
    }
    let present: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default();
    let extra: Vec<&String> = present.iter().filter(|n| !want.contains_key(*n)).collect();
    assert!(
        stale.is_empty() && extra.is_empty(),
        "tree vectors are stale: {stale:?} differ, {extra:?} unexpected; \
         rerun with PROOFMARK_REGEN_VECTORS=1 and review the diff"
    );
}

/// Reads the files as an independent consumer would and checks every case.
fn check_file<S: Suite>(file: &VectorFile) {
    assert_eq!(file.spec, SPEC);
    let n = file.tree_size;
    let data: Vec<Vec<u8>> = file
        .leaves
        .iter()
        .map(|l| hex::decode(l).unwrap())
        .collect();
    let leaf_hashes: Vec<Hash> = data.iter().map(|d| S::hash_leaf(d)).collect();
    assert_eq!(hxs(&leaf_hashes), file.leaf_hashes);
    let Some(root) = &file.root else {
        assert_eq!(n, 0);
        assert_eq!(file.build_error.as_deref(), Some("EmptyTree"));
        return;
    };
    let root = unhex(root);
    assert_eq!(
        proofmark_merkle::root_from_leaves::<S, _>(&data).unwrap(),
        root
    );
    for c in &file.inclusion {
        let leaf = leaf_hashes[c.index as usize];
        verify_inclusion::<S>(&leaf, c.index, n, &unhexs(&c.hashes), &root).unwrap();
    }
    for c in &file.consistency {
        let old = unhex(&c.old_root);
        verify_consistency::<S>(c.old_size, n, &unhexs(&c.hashes), &old, &root).unwrap();
    }
    for c in &file.multi {
        let leaves: Vec<Hash> = c.indices.iter().map(|&i| leaf_hashes[i as usize]).collect();
        verify_multi::<S>(&c.indices, &leaves, n, &unhexs(&c.hashes), &root).unwrap();
    }
    for case in &file.invalid {
        let (got, want) = match case {
            InvalidCase::Inclusion {
                leaf_hash,
                index,
                tree_size,
                root,
                hashes,
                error,
                ..
            } => (
                verify_inclusion::<S>(
                    &unhex(leaf_hash),
                    *index,
                    *tree_size,
                    &unhexs(hashes),
                    &unhex(root),
                ),
                error,
            ),
            InvalidCase::Consistency {
                old_size,
                tree_size,
                old_root,
                root,
                hashes,
                error,
                ..
            } => (
                verify_consistency::<S>(
                    *old_size,
                    *tree_size,
                    &unhexs(hashes),
                    &unhex(old_root),
                    &unhex(root),
                ),
                error,
            ),
            InvalidCase::Multi {
                indices,
                leaf_hashes,
                tree_size,
                root,
                hashes,
                error,
                ..
            } => (
                verify_multi::<S>(
                    indices,
                    &unhexs(leaf_hashes),
                    *tree_size,
                    &unhexs(hashes),
                    &unhex(root),
                ),
                error,
            ),
        };
        assert_eq!(got.unwrap_err().name(), want, "{case:?}");
    }
}

#[test]
fn vector_files_verify() {
    let dir = dir();
    let mut checked = 0;
    for suite in SuiteId::ALL {
        for n in SIZES {
            let path = dir.join(file_name(suite, n));
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue; // vector_files_are_current reports missing files
            };
            let file: VectorFile = serde_json::from_str(&text).unwrap();
            assert_eq!(file.suite, suite.name());
            match suite {
                SuiteId::Blake3 => check_file::<Blake3>(&file),
                SuiteId::Sha256Rfc6962 => check_file::<Sha256Rfc6962>(&file),
            }
            checked += 1;
        }
    }
    assert!(checked > 0 || std::env::var_os("PROOFMARK_REGEN_VECTORS").is_some());
}
