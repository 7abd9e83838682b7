//! `proofmark bench pipeline`: its arguments checked before any work, the figures it
//! records, the dataset it reuses, and what it leaves behind (nothing, also when
//! interrupted).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// `proofmark args` with `TMPDIR` set to `tmp`, so that what the run leaves there shows.
fn bench(args: &[&str], tmp: &Path) -> Command {
    let mut c = common::command(args, &tmp.join("ledger.key"));
    c.env("TMPDIR", tmp);
    c
}

fn run(args: &[&str], tmp: &Path) -> Output {
    bench(args, tmp).output().expect("runs")
}

/// The names in `dir`.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A temporary folder and, in it, an empty `tmp` folder for the runs' `TMPDIR`.
fn scratch() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    (dir, tmp)
}

/// The commit the binary under test was built from: `PROOFMARK_GIT_COMMIT` when the build had
/// it, else `HEAD` of the workspace's git work tree (cargo reran the build script when `HEAD`
/// moved), else none.
fn built_from() -> Option<String> {
    if let Some(given) = option_env!("PROOFMARK_GIT_COMMIT").filter(|c| !c.trim().is_empty()) {
        return Some(given.trim().to_owned());
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()?
        .canonicalize()
        .ok()?;
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(&workspace)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let top = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?);
    (top.canonicalize().ok()? == workspace).then(|| git(&["rev-parse", "HEAD"]))?
}

#[test]
fn the_version_names_the_commit_built_from() {
    let (_dir, tmp) = scratch();
    let out = run(&["--version"], &tmp);
    let text = common::ok(&out);
    let version = format!("proofmark {}", env!("CARGO_PKG_VERSION"));
    match built_from() {
        Some(commit) => assert_eq!(text.trim(), format!("{version} (commit {})", &commit[..12])),
        None => assert_eq!(text.trim(), version),
    }
}

#[test]
fn arguments_are_checked_before_any_work() {
    let (dir, tmp) = scratch();
    let missing = dir.path().join("missing");
    let json_in_missing = missing.join("out.json");
    let dir_in_missing = missing.join("data");
    for args in [
        vec!["bench", "pipeline", "--records", "0"],
        vec!["bench", "pipeline", "--bad-rate", "1.5"],
        vec!["bench", "pipeline", "--bad-rate", "-0.1"],
        vec!["bench", "pipeline", "--repeat", "0"],
        vec!["bench", "pipeline", "--work-dir", missing.to_str().unwrap()],
        vec![
            "bench",
            "pipeline",
            "--json",
            json_in_missing.to_str().unwrap(),
        ],
        vec![
            "bench",
            "pipeline",
            "--dir",
            dir_in_missing.to_str().unwrap(),
        ],
    ] {
        let out = run(&args, &tmp);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
        assert!(!missing.exists(), "{args:?} created {}", missing.display());
        assert_eq!(names(&tmp), Vec::<String>::new(), "{args:?} left files");
    }
}

#[test]
fn figures_record_the_threads_runs_and_dataset_and_nothing_is_left() {
    let (dir, tmp) = scratch();
    let json = dir.path().join("out.json");
    let out = run(
        &[
            "--threads",
            "0",
            "bench",
            "pipeline",
            "--records",
            "2000",
            "--repeat",
            "2",
            "--json",
            json.to_str().unwrap(),
        ],
        &tmp,
    );
    let text = common::ok(&out);
    let f: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let threads = f["threads"].as_u64().unwrap();
    assert!(threads > 0, "threads {threads}");
    assert_eq!(
        common::line(&text, "threads"),
        format!("threads        {threads}")
    );
    assert_eq!(f["repeat"], 2);
    let runs = f["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for r in runs {
        assert_eq!(r["decode"]["threads"].as_u64(), Some(threads));
        assert_eq!(r["pipeline"]["records"], f["dataset"]["records"]);
        assert_eq!(r["pipeline"]["check"], runs[0]["pipeline"]["check"]);
        assert_eq!(r["decode"]["check"], runs[0]["decode"]["check"]);
    }
    let s = &f["summary"];
    assert!(s["ratio_median"].as_f64().unwrap() > 0.0);
    let seconds = |k: &str| s[k].as_f64().unwrap();
    // serde_json's default float parsing may be a unit in the last place off.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs();
    let medians = seconds("pipeline_seconds_median") / seconds("decode_seconds_median");
    assert!(close(seconds("ratio_of_medians"), medians), "{s}");
    let mins = seconds("pipeline_seconds_min") / seconds("decode_seconds_min");
    assert!(close(seconds("ratio_of_mins"), mins), "{s}");
    assert!(text.contains("median (b)/median (a)"), "{text}");
    let d = &f["dataset"];
    assert_eq!(d["generated"], true);
    assert_eq!(d["kept"], false);
    assert_eq!(d["seed"], 1);
    assert_eq!(d["bad_rate"], 0.01);
    assert!(d["records"].as_u64().unwrap() > 0);
    assert!(Path::new(d["path"].as_str().unwrap()).is_absolute());
    assert!(
        f["proofmark_version"]
            .as_str()
            .unwrap()
            .starts_with("proofmark ")
    );
    assert_eq!(
        f["git_commit"].as_str(),
        built_from().as_deref(),
        "the commit the binary was built from"
    );
    assert!(f["started_at_utc"].as_str().unwrap().ends_with('Z'));
    assert!(f["host"]["cpus"].as_u64().unwrap() > 0);
    assert_eq!(f["work_dir"].as_str().unwrap(), tmp.to_str().unwrap());
    assert_eq!(names(&tmp), Vec::<String>::new(), "left in TMPDIR");
}

#[test]
fn a_reused_dataset_is_measured_as_it_is_and_conflicting_options_are_refused() {
    let (dir, tmp) = scratch();
    let data = dir.path().join("data");
    let json = dir.path().join("out.json");
    let d = data.to_str().unwrap();
    common::ok(&run(
        &[
            "bench",
            "pipeline",
            "--records",
            "2000",
            "--seed",
            "5",
            "--dir",
            d,
        ],
        &tmp,
    ));
    assert!(data.join("dataset.json").is_file());
    for conflict in [
        vec!["--seed", "6"],
        vec!["--bad-rate", "0.2"],
        vec!["--records", "20000"],
    ] {
        let mut args = vec!["bench", "pipeline", "--dir", d];
        args.extend(&conflict);
        let out = run(&args, &tmp);
        assert_eq!(out.status.code(), Some(3), "{conflict:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(conflict[0]), "{}", stderr(&out));
    }
    // The same options, or none, measure the dataset as it is.
    let args = [
        "bench",
        "pipeline",
        "--dir",
        d,
        "--records",
        "2000",
        "--seed",
        "5",
        "--json",
    ];
    let mut args = args.to_vec();
    args.push(json.to_str().unwrap());
    common::ok(&run(&args, &tmp));
    let f: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(f["dataset"]["generated"], false);
    assert_eq!(f["dataset"]["kept"], true);
    assert_eq!(f["dataset"]["seed"], 5);
    assert!(data.join("dataset.json").is_file());
    assert_eq!(names(&tmp), Vec::<String>::new(), "left in TMPDIR");
}

#[test]
fn an_interrupted_run_removes_its_store_and_the_dataset_it_was_making() {
    for signal in ["-TERM", "-INT"] {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("tmp");
        let work = dir.path().join("work");
        std::fs::create_dir(&tmp).unwrap();
        std::fs::create_dir(&work).unwrap();
        for keep in [false, true] {
            let data = dir.path().join("data");
            let mut args = vec![
                "bench",
                "pipeline",
                "--records",
                "5000000",
                "--work-dir",
                work.to_str().unwrap(),
            ];
            if keep {
                args.extend(["--dir", data.to_str().unwrap()]);
            }
            let (code, seen) = interrupt_at(&args, &tmp, "generating", signal);
            assert_eq!(code, Some(2), "{signal} {keep}: {seen:?}");
            assert!(
                seen.iter().any(|l| l.contains("interrupted by SIG")),
                "{seen:?}"
            );
            assert_eq!(names(&tmp), Vec::<String>::new(), "{signal} {keep}: TMPDIR");
            assert_eq!(
                names(&work),
                Vec::<String>::new(),
                "{signal} {keep}: work dir"
            );
            assert!(!data.exists(), "{signal} {keep}: the partial dataset stays");
            // The dataset was generated beside --dir: nothing of it is left there either.
            assert_eq!(names(dir.path()), ["tmp", "work"], "{signal} {keep}");
        }
    }
}

/// Runs `args` until its stderr shows a line starting with `mark`, sends `signal`, and
/// returns the exit code and every stderr line.
fn interrupt_at(args: &[&str], tmp: &Path, mark: &str, signal: &str) -> (Option<i32>, Vec<String>) {
    let mut child = bench(args, tmp)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let found = line.starts_with(mark);
        seen.push(line);
        if found {
            break;
        }
    }
    assert!(
        seen.last().is_some_and(|l| l.starts_with(mark)),
        "no {mark:?}: {seen:?}"
    );
    let kill = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    seen.extend(lines.map(Result::unwrap));
    (child.wait().unwrap().code(), seen)
}

#[test]
fn a_run_interrupted_in_the_pipeline_stage_removes_its_store_and_keeps_the_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    let work = dir.path().join("work");
    let data = dir.path().join("data");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::create_dir(&work).unwrap();
    common::ok(&run(
        &[
            "datasets",
            "generate",
            "--items",
            "40000",
            "--out",
            data.to_str().unwrap(),
        ],
        &tmp,
    ));
    let before = names(&data);
    for signal in ["-TERM", "-INT"] {
        let args = [
            "bench",
            "pipeline",
            "--dir",
            data.to_str().unwrap(),
            "--work-dir",
            work.to_str().unwrap(),
        ];
        let (code, seen) = interrupt_at(&args, &tmp, "running stage pipeline", signal);
        assert_eq!(code, Some(2), "{signal}: {seen:?}");
        assert!(
            seen.iter()
                .any(|l| l.contains("interrupted by SIG") && l.contains("pipeline stage")),
            "{signal}: {seen:?}"
        );
        assert_eq!(names(&work), Vec::<String>::new(), "{signal}: work dir");
        assert_eq!(names(&tmp), Vec::<String>::new(), "{signal}: TMPDIR");
        assert_eq!(names(&data), before, "{signal}: the dataset");
        assert!(data.join("dataset.json").is_file());
    }
}
