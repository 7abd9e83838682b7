//! `proofmark datasets generate` end to end: files, determinism across
//! thread counts, the committed sample, help and argument errors.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn proofmark(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_proofmark"))
        .args(args)
        .output()
        .unwrap()
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("proofmark-datasets-cli-")
        .tempdir()
        .unwrap()
}

fn path_arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn all_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn assert_same_files(a: &Path, b: &Path) {
    let (fa, fb) = (all_files(a), all_files(b));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (name, bytes) in &fa {
        assert!(bytes == &fb[name], "{name} differs");
    }
}

#[test]
fn generate_writes_the_layout_and_a_summary() {
    let dir = temp_dir();
    let out = dir.path().join("ds");
    let run = proofmark(&[
        "datasets",
        "generate",
        "--items",
        "3000",
        "--out",
        path_arg(&out),
        "--bad-rate",
        "0.02",
        "--files-per-kind",
        "2",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stdout = String::from_utf8(run.stdout).unwrap();
    for word in [
        "production",
        "customs",
        "logistics",
        "inspection",
        "total",
        "records/s",
    ] {
        assert!(stdout.contains(word), "{word} missing from:\n{stdout}");
    }
    assert!(stdout.contains("3,000"), "{stdout}");
    for kind in ["production", "customs", "logistics", "inspection"] {
        for part in ["part-00000", "part-00001"] {
            assert!(out.join(format!("records/{kind}/{part}.parquet")).is_file());
        }
    }
    assert!(out.join("truth/defects.jsonl").is_file());
    assert!(out.join("secrets/pins.csv").is_file());
    let description: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("dataset.json")).unwrap()).unwrap();
    assert_eq!(description["arguments"]["items"], 3000);
    assert_eq!(description["arguments"]["seed"], 1);
    assert_eq!(description["arguments"]["date"], "2026-11-24");
    // Not a terminal: no progress bar on stderr.
    assert!(
        run.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn the_same_arguments_give_the_same_bytes_with_any_thread_count() {
    let dir = temp_dir();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let args = |out: &PathBuf, threads: &'static str| {
        let run = proofmark(&[
            "--threads",
            threads,
            "datasets",
            "generate",
            "--items",
            "100000",
            "--seed",
            "7",
            "--out",
            path_arg(out),
            "--bad-rate",
            "0.01",
            "--rows-per-group",
            "20000",
        ]);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    };
    args(&a, "1");
    args(&b, "2");
    assert_same_files(&a, &b);
}

#[test]
fn the_committed_sample_comes_from_the_documented_command() {
    // The command in datasets/README.md.
    let dir = temp_dir();
    let out = dir.path().join("sample");
    let run = proofmark(&[
        "datasets",
        "generate",
        "--items",
        "2000",
        "--seed",
        "42",
        "--bad-rate",
        "0.01",
        "--rows-per-group",
        "4096",
        "--out",
        path_arg(&out),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/sample");
    assert_same_files(&committed, &out);
}

#[test]
fn help_explains_every_flag() {
    let run = proofmark(&["datasets", "generate", "--help"]);
    assert!(run.status.success());
    let help = String::from_utf8(run.stdout).unwrap();
    for flag in [
        "--items",
        "--out",
        "--seed",
        "--bad-rate",
        "--rows-per-group",
        "--files-per-kind",
        "--date",
        "--force",
    ] {
        assert!(help.contains(flag), "{flag} missing from help:\n{help}");
    }
    for words in [
        "records/<kind>/part-NNNNN.parquet",
        "truth/defects.jsonl",
        "secrets/pins.csv",
        "[default: 65536]",
        "[default: 2026-11-24]",
    ] {
        assert!(help.contains(words), "{words} missing from help:\n{help}");
    }
}

#[test]
fn bad_arguments_exit_with_3_and_say_why() {
    let dir = temp_dir();
    let out = dir.path().join("x");
    let out = path_arg(&out);
    for (args, expected) in [
        (
            vec!["--items", "10", "--out", out, "--bad-rate", "1.5"],
            "between 0 and 1",
        ),
        (
            vec!["--items", "10", "--out", out, "--bad-rate", "-0.1"],
            "between 0 and 1",
        ),
        (vec!["--items", "0", "--out", out], "--items"),
        (
            vec!["--items", "10", "--out", out, "--rows-per-group", "0"],
            "--rows-per-group",
        ),
        (
            vec!["--items", "10", "--out", out, "--date", "2026-02-30"],
            "YYYY-MM-DD",
        ),
        (
            vec!["--items", "10", "--out", out, "--date", "1970-01-05"],
            "too early",
        ),
        (vec!["--out", out], "--items"),
    ] {
        let mut full = vec!["datasets", "generate"];
        full.extend(args.iter().copied());
        let run = proofmark(&full);
        assert_eq!(run.status.code(), Some(3), "{full:?}");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(stderr.contains(expected), "{full:?}: {stderr}");
    }
    assert!(!dir.path().join("x").exists());
}

#[test]
fn an_unwritable_directory_exits_with_2_and_an_occupied_one_with_3() {
    let dir = temp_dir();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let under_file = file.join("ds");
    let run = proofmark(&[
        "datasets",
        "generate",
        "--items",
        "10",
        "--out",
        path_arg(&under_file),
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).starts_with("error: "));

    let out = dir.path().join("ds");
    let first = proofmark(&[
        "datasets",
        "generate",
        "--items",
        "10",
        "--out",
        path_arg(&out),
    ]);
    assert!(first.status.success());
    let again = proofmark(&[
        "datasets",
        "generate",
        "--items",
        "10",
        "--out",
        path_arg(&out),
    ]);
    // A folder that already holds a dataset is the caller's to fix: an input error.
    assert_eq!(again.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("already holds a dataset"), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    let forced = proofmark(&[
        "datasets",
        "generate",
        "--items",
        "10",
        "--out",
        path_arg(&out),
        "--force",
        "--quiet",
    ]);
    assert!(forced.status.success());
    let stdout = String::from_utf8(forced.stdout).unwrap();
    assert!(
        !stdout.contains("records/s"),
        "--quiet drops the decorations: {stdout}"
    );
}
