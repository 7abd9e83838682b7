//! Crash tests of `proofmark run`: the job is killed with SIGKILL at random
//! points inside every stage (several seeds), rerun, and must end with
//! exactly the root of an uninterrupted run, one log entry for the batch,
//! rows read = accepted + rejected, and no partial file left behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BATCH: &str = "crash-2026-11-24";

fn ok(out: Output) -> String {
    common::ok(&out)
}

/// The binary, with its temporary directory in the test's folder (beside
/// the ledger key `key`), where a killed commit leaves its work folder.
fn command(args: &[&str], key: &Path) -> std::process::Command {
    let tmp = key.with_file_name("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut c = common::command(args, key);
    c.env("TMPDIR", tmp);
    c
}

/// Files under `dir` that interrupted writes leave: object_store's staging
/// files (`name#1`) and `….tmp` files.
fn partial_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            found.extend(partial_files(&path));
        } else if name.contains('#') || name.ends_with(".tmp") {
            found.push(path.display().to_string());
        }
    }
    found
}

/// A small deterministic generator (SplitMix64), so that a failing seed can
/// be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn write_job(dir: &Path, data: &Path) -> String {
    let job = dir.join("job.toml");
    std::fs::write(
        &job,
        format!(
            "[job]\nname = \"crash\"\nstore = \"store\"\ninputs = [\"{}/records/**/*.parquet\"]\n\
             date = \"2026-11-24\"\n[chains.ledger]\ntype = \"ledger\"\norigin = \"test.local/ledger\"\n\
             [publish]\nindex = \"index\"\n",
            data.display()
        ),
    )
    .unwrap();
    job.to_str().unwrap().to_owned()
}

fn summary(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Starts the job, waits for `stage`'s first line on stderr, sleeps
/// `delay`, and kills the process with SIGKILL. Returns whether the kill
/// landed while the process was still running.
fn kill_in_stage(job: &str, key: &Path, stage: &str, delay: Duration) -> bool {
    let mut child = command(&["run", job], key)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let prefix = format!("{stage}:");
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.starts_with(&prefix) {
                let _ = tx.send(());
            }
        }
    });
    let seen = rx.recv_timeout(Duration::from_secs(120)).is_ok();
    assert!(seen, "stage {stage} never started");
    std::thread::sleep(delay);
    let landed = matches!(child.try_wait(), Ok(None));
    // Child::kill sends SIGKILL on Unix.
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    landed
}

#[test]
fn killed_runs_resume_to_the_uninterrupted_root() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("ledger.key");
    let data = dir.path().join("data");
    ok(command(
        &[
            "datasets",
            "generate",
            "--items",
            "20000",
            "--seed",
            "11",
            "--bad-rate",
            "0.01",
            "--rows-per-group",
            "8192",
            "--out",
            data.to_str().unwrap(),
        ],
        &key,
    )
    .output()
    .unwrap());

    // The uninterrupted run, and how long each stage takes.
    let reference = dir.path().join("reference");
    std::fs::create_dir_all(&reference).unwrap();
    let job = write_job(&reference, &data);
    let reference_summary = reference.join("summary.json");
    ok(command(
        &[
            "run",
            &job,
            "--summary-json",
            reference_summary.to_str().unwrap(),
        ],
        &key,
    )
    .output()
    .unwrap());
    let expected = summary(&reference_summary);
    let stage_ms = |stage: &str| -> u64 {
        let secs = expected["stage_seconds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["stage"] == stage)
            .map(|t| t["seconds"].as_f64().unwrap())
            .unwrap_or(0.0);
        ((secs * 1000.0) as u64).max(5)
    };

    let mut landed_kills = 0;
    let started = Instant::now();
    for seed in 1..=3u64 {
        let mut rng = Rng(seed);
        for stage in ["plan", "build", "commit", "anchor", "publish"] {
            let run_dir = dir.path().join(format!("s{seed}-{stage}"));
            std::fs::create_dir_all(&run_dir).unwrap();
            let job = write_job(&run_dir, &data);
            // Anywhere inside the stage, including its very start.
            let delay = Duration::from_millis(rng.next() % stage_ms(stage));
            if kill_in_stage(&job, &key, stage, delay) {
                landed_kills += 1;
            }
            // A killed run leaves its lock: a plain rerun is refused (exit 5, "stale"),
            // --break-stale-lock (what a scheduler restarting it here gives) resumes.
            let lock = run_dir.join(format!("store/batches/{BATCH}/lock.json"));
            if lock.exists() {
                let out = command(&["run", &job], &key).output().unwrap();
                assert_eq!(out.status.code(), Some(5), "{out:?}");
                assert!(String::from_utf8_lossy(&out.stderr).contains("stale"));
            }
            let resumed = run_dir.join("summary.json");
            ok(command(
                &[
                    "run",
                    &job,
                    "--break-stale-lock",
                    "--summary-json",
                    resumed.to_str().unwrap(),
                ],
                &key,
            )
            .output()
            .unwrap());
            let got = summary(&resumed);
            let context = format!("seed {seed}, killed in {stage} after {delay:?}");
            assert_eq!(got["root"], expected["root"], "{context}");
            for field in ["rows_read", "rows_accepted", "rows_rejected"] {
                assert_eq!(got[field], expected[field], "{field}: {context}");
            }
            assert_eq!(
                got["rows_read"].as_u64().unwrap(),
                got["rows_accepted"].as_u64().unwrap() + got["rows_rejected"].as_u64().unwrap(),
                "{context}"
            );
            assert_eq!(
                got["rejects_by_reason"], expected["rejects_by_reason"],
                "{context}"
            );
            // Exactly one anchor: the store's log holds one entry, for
            // this batch, and the receipt proves it.
            let store = run_dir.join("store");
            let proof = ok(command(
                &[
                    "log",
                    "prove",
                    "--store",
                    store.to_str().unwrap(),
                    "--batch-id",
                    BATCH,
                ],
                &key,
            )
            .output()
            .unwrap());
            let proof: serde_json::Value = serde_json::from_str(&proof).unwrap();
            assert_eq!(proof["entry"]["root"], expected["root"], "{context}");
            assert_eq!(proof["log_size"], 1, "one log entry: {context}\n{proof}");
            assert!(got["published"].is_string(), "published: {context}");
            // Nothing the killed run was writing is left: not in the batch's
            // folder, the index or the temporary directory. (The store's log,
            // which every batch's run appends to, may keep a staging file of
            // a killed append: no run can tell it from a live one.)
            let mut partial = partial_files(&store.join("batches").join(BATCH));
            partial.extend(partial_files(&run_dir.join("index")));
            assert!(partial.is_empty(), "partial files: {partial:?}: {context}");
            let work: Vec<_> = std::fs::read_dir(dir.path().join("tmp"))
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .collect();
            assert!(
                work.is_empty(),
                "left in the temporary directory: {work:?}: {context}"
            );
            // A further rerun does nothing.
            let again = ok(command(&["run", &job], &key).output().unwrap());
            assert!(again.contains("nothing to do"), "{context}\n{again}");
        }
    }
    assert!(
        landed_kills >= 8,
        "most kills must land inside a running job ({landed_kills} of 15 in {:?})",
        started.elapsed()
    );
}
