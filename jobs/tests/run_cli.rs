//! `proofmark run`: the nightly job end to end on a generated dataset, with
//! the embedded ledger; reruns do nothing; the log proves the batch.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{ledger_job, line, ok, proofmark};

use std::path::Path;
use std::process::{Command, Output};

#[test]
fn nightly_job_runs_once_and_reruns_do_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("keys/ledger.key");
    let job = ledger_job(
        dir.path(),
        "t",
        &["--items", "300", "--seed", "3", "--bad-rate", "0.02"],
        &key,
    );
    let job = job.to_str().unwrap();
    let dry = ok(&proofmark(&["run", job, "--dry-run"], &key));
    assert!(dry.contains("t-2026-11-24"), "{dry}");
    assert!(
        !dir.path().join("store").exists(),
        "a dry run writes nothing"
    );

    let summary_path = dir.path().join("summary.json");
    let first = ok(&proofmark(
        &["run", job, "--summary-json", summary_path.to_str().unwrap()],
        &key,
    ));
    assert!(line(&first, "batch").contains("(completed)"), "{first}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary_path).unwrap()).unwrap();
    let read = summary["rows_read"].as_u64().unwrap();
    let accepted = summary["rows_accepted"].as_u64().unwrap();
    let rejected = summary["rows_rejected"].as_u64().unwrap();
    assert_eq!(read, accepted + rejected);
    assert!(rejected > 0 && accepted > 0);
    let by_reason: u64 = summary["rejects_by_reason"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!(
        by_reason >= rejected,
        "every rejected row has at least one reason"
    );
    assert_eq!(summary["receipts"][0]["chain"], "ledger");
    assert!(key.exists(), "the ledger key is made on first use");

    let second = ok(&proofmark(&["run", job], &key));
    assert!(line(&second, "batch").contains("nothing to do"), "{second}");
    assert_eq!(line(&first, "root"), line(&second, "root"));

    // The log proves the batch and its checkpoint verifies with the key.
    let store = dir.path().join("store");
    let store = store.to_str().unwrap();
    let proof = ok(&proofmark(
        &[
            "log",
            "prove",
            "--store",
            store,
            "--batch-id",
            "t-2026-11-24",
        ],
        &key,
    ));
    let proof: serde_json::Value = serde_json::from_str(&proof).unwrap();
    assert_eq!(
        proof["entry"]["root"].as_str().unwrap(),
        summary["root"].as_str().unwrap()
    );

    // A second day's batch extends the log, consistently.
    ok(&proofmark(&["run", job, "--date", "2026-11-25"], &key));
    let cons = ok(&proofmark(
        &["log", "consistency", "--store", store, "--from", "1"],
        &key,
    ));
    let cons: serde_json::Value = serde_json::from_str(&cons).unwrap();
    assert_eq!(cons["new_size"], 2);

    // Without a key file the store's own verifier key is used, with a warning.
    let missing = dir.path().join("missing.key");
    let out = ok(&proofmark(
        &["log", "checkpoint", "--store", store],
        &missing,
    ));
    assert_eq!(
        out.lines().nth(1),
        Some("2"),
        "the checkpoint of two entries: {out}"
    );
    // Exit codes: 1 for a verdict (not in the log; not signed by the key given; a checkpoint
    // altered in the store), 3 for an argument at fault.
    let code = |args: &[&str], key: &Path| {
        let out = proofmark(args, key);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (status, err) = code(
        &["log", "prove", "--store", store, "--batch-id", "nope"],
        &key,
    );
    assert_eq!(status, Some(1), "{err}");
    assert!(err.contains("batch nope is not in the log"), "{err}");
    let (status, err) = code(
        &[
            "log",
            "consistency",
            "--store",
            store,
            "--from",
            "3",
            "--to",
            "7",
        ],
        &key,
    );
    assert_eq!(status, Some(3), "{err}");
    // Another key of the same name: a well-formed key file with another seed.
    let text = std::fs::read_to_string(&key).unwrap();
    let mut words: Vec<&str> = text.split_whitespace().collect();
    let zero_seed = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    assert_ne!(words[2], zero_seed);
    words[2] = zero_seed;
    let other = dir.path().join("other.key");
    std::fs::write(&other, words.join(" ") + "\n").unwrap();
    let (status, err) = code(&["log", "checkpoint", "--store", store], &other);
    assert_eq!(status, Some(1), "{err}");
    assert!(err.contains("no signature by key"), "{err}");
    let (status, err) = code(
        &[
            "log",
            "checkpoint",
            "--store",
            store,
            "--verifier-key",
            "x+00+AA",
        ],
        &key,
    );
    assert_eq!(status, Some(3), "{err}");
    // A checkpoint changed in the store (its size line) no longer verifies.
    let latest = dir.path().join("store/log/checkpoint.txt");
    let note = std::fs::read_to_string(&latest).unwrap();
    std::fs::write(&latest, note.replacen("\n2\n", "\n1\n", 1)).unwrap();
    let (status, err) = code(&["log", "checkpoint", "--store", store], &key);
    assert_eq!(status, Some(1), "{err}");
    assert!(err.contains("does not verify"), "{err}");
}

#[test]
fn bad_job_files_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("ledger.key");
    let job = dir.path().join("job.toml");
    std::fs::write(&job, "[job]\nname = \"t\"\nstore = \"s\"\ninputs = []\n").unwrap();
    let out = proofmark(&["run", job.to_str().unwrap()], &key);
    assert_eq!(out.status.code(), Some(3), "input errors exit with 3");
    assert!(String::from_utf8_lossy(&out.stderr).contains("job.inputs"));
    std::fs::write(
        &job,
        "[job]\nname = \"t\"\nstore = \"s\"\ninputs = [\"x\"]\nsuite = \"md5\"\n",
    )
    .unwrap();
    let out = proofmark(&["run", job.to_str().unwrap()], &key);
    assert_eq!(out.status.code(), Some(3), "input errors exit with 3");
    assert!(String::from_utf8_lossy(&out.stderr).contains("job.suite"));
    std::fs::write(
        &job,
        "[job]\nname = \"t\"\nstore = \"s\"\ninputs = [\"x\"]\nchains = [\"polygon\"]\n",
    )
    .unwrap();
    let out = proofmark(&["run", job.to_str().unwrap()], &key);
    assert_eq!(out.status.code(), Some(3), "input errors exit with 3");
    assert!(String::from_utf8_lossy(&out.stderr).contains("polygon"));
    std::fs::write(
        &job,
        "[job]\nname = \"t\"\nstore = \"s\"\ninputs = [\"x\"]\ncolour = 1\n",
    )
    .unwrap();
    let out = proofmark(&["run", job.to_str().unwrap()], &key);
    assert_eq!(out.status.code(), Some(3), "input errors exit with 3");
    assert!(String::from_utf8_lossy(&out.stderr).contains("colour"));
    for (line, named) in [
        ("chains = []", "job.chains is empty"),
        ("chains = [\"ledger\", \"ledger\"]", "twice"),
        ("date = \"2026-13-01\"", "job.date"),
        ("memory_budget_mib = 0", "memory_budget_mib"),
    ] {
        std::fs::write(
            &job,
            format!("[job]\nname = \"t\"\nstore = \"s\"\ninputs = [\"x\"]\n{line}\n"),
        )
        .unwrap();
        let out = proofmark(&["run", job.to_str().unwrap()], &key);
        assert_eq!(out.status.code(), Some(3), "{line}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(named), "{line}: {err}");
    }
    assert!(!dir.path().join("s").exists(), "nothing is written");
}

/// Generates a dataset in `dir/data` with `args` (`proofmark datasets generate`); its folder.
/// The metrics file of a failed run of job `t` (batch t-2026-11-24), checked to say so.
fn failed_run_metrics(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.contains("proofmark_job_success{job=\"t\",batch_id=\"t-2026-11-24\"} 0"),
        "{text}"
    );
    text
}

/// A temporary folder with a 20-item dataset and job `t` over it, and the ledger key file.
fn small_job() -> (tempfile::TempDir, std::path::PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("ledger.key");
    generate(dir.path(), &key, &["--items", "20"]);
    let job = write_job(dir.path(), "data/records/**/*.parquet");
    (dir, key, job)
}

fn generate(dir: &Path, key: &Path, args: &[&str]) -> std::path::PathBuf {
    let data = dir.join("data");
    let mut all = vec!["datasets", "generate", "--out", data.to_str().unwrap()];
    all.extend_from_slice(args);
    ok(&proofmark(&all, key));
    data
}

fn write_job(dir: &Path, inputs: &str) -> String {
    let job = dir.join("job.toml");
    std::fs::write(
        &job,
        format!(
            "[job]\nname = \"t\"\nstore = \"store\"\ninputs = [\"{inputs}\"]\ndate = \"2026-11-24\"\n\
             [chains.ledger]\ntype = \"ledger\"\norigin = \"test.local/ledger\"\n"
        ),
    )
    .unwrap();
    job.to_str().unwrap().to_owned()
}

/// The sending key of an `evm` chain the batch is to be anchored on is loaded before the
/// plan: a keystore whose password variable is unset fails the run at once (exit 3), naming
/// the chain and the variable, with nothing planned.
#[test]
fn an_evm_key_that_cannot_be_loaded_stops_the_run_before_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("ledger.key");
    generate(dir.path(), &key, &["--items", "20"]);
    let job = dir.path().join("job.toml");
    std::fs::write(
        &job,
        "[job]\nname = \"t\"\nstore = \"store\"\ninputs = [\"data/records/**/*.parquet\"]\n\
         date = \"2026-11-24\"\nchains = [\"ledger\", \"consortium\"]\n\
         [chains.ledger]\ntype = \"ledger\"\norigin = \"test.local/ledger\"\n\
         [chains.consortium]\ntype = \"evm\"\nrpc_url = \"http://127.0.0.1:9\"\nchain_id = 1\n\
         contract = \"0x5FbDB2315678afecb367f032d93F642f64180aa3\"\n\
         keystore = \"keys/member.json\"\npassword_env = \"PROOFMARK_TEST_UNSET_PASSWORD\"\n",
    )
    .unwrap();
    let out = proofmark(&["run", job.to_str().unwrap()], &key);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("consortium") && err.contains("PROOFMARK_TEST_UNSET_PASSWORD is not set"),
        "{err}"
    );
    assert!(
        !dir.path()
            .join("store/batches/t-2026-11-24/plan.json")
            .exists(),
        "nothing is planned"
    );
    // A run that stops before the anchor stage needs no sending key: up to its commit, it
    // gives the rate of the plan, build and commit it did.
    let out = ok(&proofmark(
        &["run", job.to_str().unwrap(), "--until", "commit"],
        &key,
    ));
    assert!(line(&out, "speed").contains("records/s"), "{out}");
}

/// A panic (a bug) ends a run like any internal error: exit 2 (not Rust's 101), an error line
/// that says it is a bug, and failure metrics and summary; the lock it leaves is a dead
/// process's, which --break-stale-lock removes. The panic is injected through a variable that
/// only builds with debug assertions (the tests' build) read.
#[test]
#[cfg(debug_assertions)]
fn a_run_that_panics_exits_2_and_reports_its_failure() {
    let (dir, key, job) = small_job();
    let metrics = dir.path().join("job.prom");
    let summary = dir.path().join("summary.json");
    let args = [
        "run",
        job.as_str(),
        "--metrics-file",
        metrics.to_str().unwrap(),
        "--summary-json",
        summary.to_str().unwrap(),
    ];
    let out = common::command(&args, &key)
        .env("PROOFMARK_DEBUG_PANIC_IN_RUN", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("error: ") && err.contains("a bug in proofmark") && err.contains("is set"),
        "{err}"
    );
    let text = failed_run_metrics(&metrics);
    assert!(text.contains("class=\"internal\"} 2"), "{text}");
    let failed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(failed["outcome"], "failed", "{failed}");
    assert_eq!(failed["exit_code"], 2, "{failed}");
    let out = proofmark(&args, &key);
    assert_eq!(out.status.code(), Some(5), "the dead run's lock: {out:?}");
    let mut resumed = args.to_vec();
    resumed.push("--break-stale-lock");
    let out = ok(&proofmark(&resumed, &key));
    assert!(line(&out, "batch").contains("(completed)"), "{out}");
}

/// A run that fails after anchoring (here in its publish stage: the index folder is a file)
/// still lists in its metrics the chains that hold a receipt of the batch.
#[test]
fn a_run_that_fails_after_anchoring_lists_the_anchors_in_its_metrics() {
    let (dir, key, job) = small_job();
    let not_a_folder = dir.path().join("index");
    std::fs::write(&not_a_folder, b"a file").unwrap();
    let metrics = dir.path().join("job.prom");
    let out = common::command(
        &["run", &job, "--metrics-file", metrics.to_str().unwrap()],
        &key,
    )
    .env("PROOFMARK_INDEX", &not_a_folder)
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("publish stage"), "{err}");
    let text = failed_run_metrics(&metrics);
    assert!(
        text.contains(
            "proofmark_job_anchored{job=\"t\",batch_id=\"t-2026-11-24\",chain=\"ledger\"} 1"
        ),
        "{text}"
    );
}

#[test]
fn exit_codes_locks_metrics_and_until() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("ledger.key");
    // An input that matches nothing: an input error, exit 3, nothing locked.
    let job = write_job(dir.path(), "nothing-here/*.parquet");
    let metrics = dir.path().join("metrics/job.prom");
    // A report file's folder must exist: told before the run, and not made.
    let out = proofmark(
        &["run", &job, "--metrics-file", metrics.to_str().unwrap()],
        &key,
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not exist"), "{err}");
    assert!(!metrics.parent().unwrap().exists());
    std::fs::create_dir_all(metrics.parent().unwrap()).unwrap();
    // A failed run's summary says it failed, over an earlier run's.
    let summary = dir.path().join("metrics/summary.json");
    std::fs::write(&summary, r#"{"outcome": "completed"}"#).unwrap();
    let out = proofmark(
        &[
            "run",
            &job,
            "--metrics-file",
            metrics.to_str().unwrap(),
            "--summary-json",
            summary.to_str().unwrap(),
        ],
        &key,
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let failed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(failed["outcome"], "failed");
    assert_eq!(failed["exit_code"], 3);
    assert_eq!(failed["class"], "input");
    assert_eq!(failed["batch_id"], "t-2026-11-24");
    assert!(
        failed["error"].as_str().unwrap().contains("nothing-here"),
        "{failed}"
    );
    let text = failed_run_metrics(&metrics);
    assert!(text.contains("class=\"input\"} 3"), "{text}");
    assert!(
        !dir.path()
            .join("store/batches/t-2026-11-24/lock.json")
            .exists(),
        "a failed run releases its lock"
    );

    generate(dir.path(), &key, &["--items", "100", "--seed", "5"]);
    let job = write_job(dir.path(), "data/records/**/*.parquet");

    // --until plan stops after the plan and says the batch is not complete: a success, but
    // not one that completed the job (no last success time for an alert on its age).
    let (until_metrics, until_summary) = (
        dir.path().join("metrics/until.prom"),
        dir.path().join("metrics/until.json"),
    );
    let until_plan = || {
        ok(&proofmark(
            &[
                "run",
                &job,
                "--until",
                "plan",
                "--metrics-file",
                until_metrics.to_str().unwrap(),
                "--summary-json",
                until_summary.to_str().unwrap(),
            ],
            &key,
        ))
    };
    let out = until_plan();
    assert!(line(&out, "batch").contains("NOT complete"), "{out}");
    let text = std::fs::read_to_string(&until_metrics).unwrap();
    assert!(
        text.contains("_success{job=\"t\",batch_id=\"t-2026-11-24\"} 1"),
        "{text}"
    );
    assert!(!text.contains("last_success_timestamp_seconds{"), "{text}");
    let stopped: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&until_summary).unwrap()).unwrap();
    assert_eq!(stopped["complete"], false, "{stopped}");
    assert!(
        dir.path()
            .join("store/batches/t-2026-11-24/plan.json")
            .exists()
    );
    assert!(
        !dir.path()
            .join("store/batches/t-2026-11-24/manifest.json")
            .exists()
    );

    // A lock held by a live process refuses the run with exit 5, even with
    // --break-lock or --break-stale-lock; a dead holder's lock needs one of them.
    let lock = dir.path().join("store/batches/t-2026-11-24/lock.json");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned();
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    let live = serde_json::json!({"format": "proofmark-lock/1", "batch_id": "t-2026-11-24",
        "host": host, "pid": sleeper.id(), "since": "2026-11-24T01:00:00Z", "command": "test"});
    std::fs::write(&lock, live.to_string()).unwrap();
    // The run that holds the lock writes the metrics and summary files when it ends: this
    // one leaves them as they are.
    let before = std::fs::read(&metrics).unwrap();
    for extra in [&[][..], &["--break-lock"][..], &["--break-stale-lock"][..]] {
        let mut args = vec![
            "run",
            job.as_str(),
            "--metrics-file",
            metrics.to_str().unwrap(),
            "--summary-json",
            summary.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = proofmark(&args, &key);
        assert_eq!(out.status.code(), Some(5), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("still running"),
            "{out:?}"
        );
        assert_eq!(std::fs::read(&metrics).unwrap(), before);
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
        assert_eq!(
            summary["exit_code"], 3,
            "the earlier run's summary: {summary}"
        );
    }
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    let out = proofmark(&["run", &job], &key);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("stale") && err.contains("--break-stale-lock"),
        "{err}"
    );
    let out = ok(&proofmark(
        &[
            "run",
            &job,
            "--break-lock",
            "--metrics-file",
            metrics.to_str().unwrap(),
        ],
        &key,
    ));
    assert!(line(&out, "batch").contains("(completed)"), "{out}");
    assert!(!lock.exists(), "the lock is released after the run");
    let text = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        text.contains("proofmark_job_success{job=\"t\",batch_id=\"t-2026-11-24\"} 1"),
        "{text}"
    );
    assert!(text.contains("proofmark_job_rows{"), "{text}");
    assert!(text.contains("chain=\"ledger\"} 1"), "{text}");
    // Readable by a metrics collector running as another user.
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&metrics).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644, "{mode:o}");
    }
    // That run planned earlier (--until plan): no end-to-end rate.
    assert!(line(&out, "speed").contains('-'), "{out}");
    assert!(
        !text.contains("proofmark_job_records_per_second{"),
        "{text}"
    );

    // --until on a complete batch says so, and counts as the job's success.
    let out = until_plan();
    assert!(line(&out, "batch").contains("completed earlier"), "{out}");
    let text = std::fs::read_to_string(&until_metrics).unwrap();
    assert!(text.contains("last_success_timestamp_seconds{"), "{text}");
    let stopped: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&until_summary).unwrap()).unwrap();
    assert_eq!(stopped["complete"], true, "{stopped}");

    // A closed stdout (`| head`) does not stop the run.
    let mut child = common::command(&["run", &job], &key)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    // The job file changed since the batch was planned: another suite is refused (exit 3,
    // naming it); other inputs are a warning (the batch keeps its frozen plan).
    let changed = |extra: &str, inputs: &str| {
        let path = dir.path().join("changed.toml");
        std::fs::write(
            &path,
            format!(
                "[job]\nname = \"t\"\nstore = \"store\"\ninputs = [\"{inputs}\"]\n\
                 date = \"2026-11-24\"\n{extra}[chains.ledger]\ntype = \"ledger\"\n\
                 origin = \"test.local/ledger\"\n"
            ),
        )
        .unwrap();
        path.to_str().unwrap().to_owned()
    };
    let other_suite = changed("suite = \"sha256-rfc6962\"\n", "data/records/**/*.parquet");
    let success_line = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("proofmark_job_last_success_timestamp_seconds{"))
            .map(str::to_owned)
    };
    let succeeded = success_line(&std::fs::read_to_string(&metrics).unwrap());
    assert!(succeeded.is_some());
    let out = proofmark(
        &[
            "run",
            &other_suite,
            "--metrics-file",
            metrics.to_str().unwrap(),
        ],
        &key,
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("suite sha256-rfc6962 (the plan has blake3)"),
        "{err}"
    );
    // A failed run keeps the time of the last success, for an alert on its age.
    let text = failed_run_metrics(&metrics);
    assert_eq!(success_line(&text), succeeded, "{text}");
    let fewer = changed("", "data/records/customs/*.parquet");
    let summary = dir.path().join("changed.json");
    let out = proofmark(
        &["run", &fewer, "--summary-json", summary.to_str().unwrap()],
        &key,
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: the job's inputs differ")
            && err.contains("is not among the inputs now"),
        "{err}"
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(
        summary["warnings"].as_array().unwrap().len(),
        1,
        "{summary}"
    );

    // A date that is no calendar date is refused before anything is written.
    for extra in [&[][..], &["--dry-run"][..]] {
        let mut args = vec!["run", job.as_str(), "--date", "2026-02-30"];
        args.extend_from_slice(extra);
        let out = proofmark(&args, &key);
        assert_eq!(out.status.code(), Some(3), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("calendar date"));
    }
    assert!(!dir.path().join("store/batches/t-2026-02-30").exists());

    // A ledger key file that does not exist, or holds another key than the one the store's
    // log was started with: refused before any work (exit 3), and no key is made.
    let typo = dir.path().join("typo.key");
    let out = proofmark(&["run", &job, "--date", "2026-11-26"], &typo);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not exist"),
        "{out:?}"
    );
    assert!(!typo.exists(), "no key is made for a log that has one");
    // Another store's run makes another key.
    let other = dir.path().join("other.key");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let other_job = write_job(&elsewhere, "../data/records/**/*.parquet");
    ok(&proofmark(&["run", &other_job], &other));
    assert!(other.exists());
    let out = proofmark(&["run", &job, "--date", "2026-11-26"], &other);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("was started with the signing key"),
        "{out:?}"
    );
    assert!(
        !dir.path()
            .join("store/batches/t-2026-11-26/plan.json")
            .exists()
    );

    // --log-format json: stderr is one JSON object per line, the messages and the failure
    // included.
    for (args, code) in [
        (vec!["run", job.as_str(), "--log-format", "json"], 0),
        (
            vec![
                "run",
                job.as_str(),
                "--log-format",
                "json",
                "--date",
                "2026-02-30",
            ],
            3,
        ),
    ] {
        let out = proofmark(&args, &key);
        assert_eq!(out.status.code(), Some(code), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let events: Vec<serde_json::Value> = err
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
            .collect();
        assert!(!events.is_empty(), "{args:?}");
        if code == 3 {
            let last = events.last().unwrap();
            assert_eq!(last["level"], "ERROR", "{last}");
            assert_eq!(last["fields"]["class"], "input", "{last}");
        }
    }

    // A bad flag is the caller's to fix (exit 3); --help succeeds.
    let out = proofmark(&["run", &job, "--no-such-flag"], &key);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(proofmark(&["run", "--help"], &key).status.code(), Some(0));
}

/// The Kubernetes layout (`jobs/k8s/`) simulated with local processes: a
/// plan step, an Indexed Job of three build pods of which two ran (at once,
/// each naming its share through `JOB_COMPLETION_INDEX`), and a finalize step
/// that builds the third share and says how many segments it built and found
/// done; the root equals a single-process run's.
#[test]
fn indexed_build_processes_and_finalize_give_the_single_run_root() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("ledger.key");
    let data = generate(
        dir.path(),
        &key,
        &["--items", "3000", "--seed", "8", "--rows-per-group", "1024"],
    );
    let single_dir = dir.path().join("single");
    let multi_dir = dir.path().join("multi");
    for d in [&single_dir, &multi_dir] {
        std::fs::create_dir_all(d).unwrap();
    }
    let inputs = format!("{}/records/**/*.parquet", data.display());
    let single = ok(&proofmark(&["run", &write_job(&single_dir, &inputs)], &key));

    let job = write_job(&multi_dir, &inputs);
    ok(&proofmark(&["run", &job, "--until", "plan"], &key));
    let store = multi_dir.join("store");
    let pods: Vec<_> = (0..2)
        .map(|k| {
            let mut pod = Command::new(env!("CARGO_BIN_EXE_proofmark"));
            pod.args([
                "build",
                "--batch-id",
                "t-2026-11-24",
                "--store",
                store.to_str().unwrap(),
                "--parts",
                "3",
            ])
            .env("JOB_COMPLETION_INDEX", k.to_string());
            pod.output_async()
        })
        .collect();
    for pod in pods {
        ok(&pod.join().unwrap());
    }
    let plan: serde_json::Value = serde_json::from_slice(
        &std::fs::read(store.join("batches/t-2026-11-24/plan.json")).unwrap(),
    )
    .unwrap();
    let segments = plan["segments"].as_array().unwrap().len();
    let third = (0..segments).filter(|s| s % 3 == 2).count();
    assert!(third > 0, "{segments} segments");
    let out = proofmark(&["run", &job], &key);
    let finalize = ok(&out);
    let told = String::from_utf8_lossy(&out.stderr);
    assert!(
        told.contains(&format!(
            "build: segments {segments} ({third} built, {} already done)",
            segments - third
        )),
        "{told}"
    );
    assert!(
        line(&finalize, "batch").contains("(completed)"),
        "{finalize}"
    );
    assert_eq!(line(&finalize, "root"), line(&single, "root"));
    assert_eq!(line(&finalize, "rows"), line(&single, "rows"));
}

/// Runs a command on a thread, so that several run at once.
trait OutputAsync {
    fn output_async(self) -> std::thread::JoinHandle<Output>;
}

impl OutputAsync for Command {
    fn output_async(mut self) -> std::thread::JoinHandle<Output> {
        std::thread::spawn(move || self.output().expect("runs"))
    }
}

/// The example jobs are valid job files (checked with a dry run, which
/// touches no store or chain).
#[test]
fn example_jobs_are_valid() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("ledger.key");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let job = examples.join("nightly-s3-evm.toml");
    let out = ok(&proofmark(
        &[
            "run",
            job.to_str().unwrap(),
            "--dry-run",
            "--date",
            "2026-11-24",
        ],
        &key,
    ));
    assert!(out.contains("nightly-2026-11-24"), "{out}");
    assert!(out.contains("ledger, consortium, ethereum"), "{out}");
    assert!(
        out.contains("s3://partner-landing/customs/**/*.parquet"),
        "{out}"
    );
    assert!(out.contains("publish"), "{out}");
}

/// The metrics file of an earlier successful run of job `t`.
const EARLIER_SUCCESS: &str = "proofmark_job_last_run_timestamp_seconds{job=\"t\"} 1700000100\n\
     proofmark_job_success{job=\"t\",batch_id=\"t-2026-11-23\"} 1\n\
     proofmark_job_last_success_timestamp_seconds{job=\"t\"} 1700000000\n";

/// A run that fails before it starts (a job file error, a bad `--date`) still writes its
/// failure to the metrics file, over the last success, which it keeps: else the job-failed
/// alert would never fire. The job label is the job file's name, else the replaced file's,
/// else the job file's stem.
#[test]
fn a_run_with_a_bad_job_file_or_date_writes_its_failure_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("ledger.key");
    let job = dir.path().join("nightly.toml");
    let metrics = dir.path().join("job.prom");
    let run = |extra: &[&str]| {
        std::fs::write(&metrics, EARLIER_SUCCESS).unwrap();
        let mut args = vec![
            "run",
            job.to_str().unwrap(),
            "--metrics-file",
            metrics.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = proofmark(&args, &key);
        assert_eq!(out.status.code(), Some(3), "{out:?}");
        std::fs::read_to_string(&metrics).unwrap()
    };
    let failed = |text: &str, job: &str, batch_id: &str| {
        assert!(
            text.contains(&format!(
                "proofmark_job_success{{job=\"{job}\",batch_id=\"{batch_id}\"}} 0"
            )),
            "{text}"
        );
        assert!(text.contains("class=\"input\"} 3"), "{text}");
    };
    // A misspelled key: the job's name is read from the file all the same.
    std::fs::write(
        &job,
        "[job]\nname = \"t\"\nstore = \"s\"\ninptus = [\"x\"]\n",
    )
    .unwrap();
    let text = run(&[]);
    failed(&text, "t", "");
    assert!(
        text.contains("proofmark_job_last_success_timestamp_seconds{job=\"t\"} 1700000000"),
        "the last success is kept: {text}"
    );
    // A bad --date on a valid job file.
    std::fs::write(
        &job,
        "[job]\nname = \"t\"\nstore = \"s\"\ninputs = [\"x\"]\n",
    )
    .unwrap();
    let text = run(&["--date", "2026-02-30"]);
    failed(&text, "t", "");
    assert!(text.contains("last_success_timestamp_seconds{job=\"t\"} 1700000000"));
    // A job file that is not TOML: the label of the file it replaces.
    std::fs::write(&job, "[job\nname = \"t\"\n").unwrap();
    failed(&run(&[]), "t", "");
    // And with no earlier metrics file, the job file's stem.
    std::fs::remove_file(&metrics).unwrap();
    let out = proofmark(
        &[
            "run",
            job.to_str().unwrap(),
            "--metrics-file",
            metrics.to_str().unwrap(),
        ],
        &key,
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let text = std::fs::read_to_string(&metrics).unwrap();
    failed(&text, "nightly", "");
    assert!(!text.contains("last_success_timestamp_seconds{"), "{text}");
    // The summary file says so too, replacing an earlier run's "completed".
    let summary = dir.path().join("summary.json");
    std::fs::write(&summary, "{\"outcome\": \"completed\"}").unwrap();
    let out = proofmark(
        &[
            "run",
            job.to_str().unwrap(),
            "--summary-json",
            summary.to_str().unwrap(),
        ],
        &key,
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let failed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(failed["outcome"], "failed", "{failed}");
    assert_eq!(failed["class"], "input", "{failed}");
    assert_eq!(failed["exit_code"], 3, "{failed}");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("invalid job file"),
        "{failed}"
    );
    assert_eq!(failed["job"], "nightly", "{failed}");
    assert!(!dir.path().join("s").exists(), "nothing is written");
}

/// A batch whose every row is rejected fails (exit 3) with the reasons: the error names the
/// top reasons with their columns and where the rejected rows are, and the failure summary
/// and metrics give the rejections by reason.
#[test]
fn a_batch_with_every_row_rejected_tells_why() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("ledger.key");
    generate(dir.path(), &key, &["--items", "30", "--bad-rate", "1"]);
    let job = write_job(dir.path(), "data/records/**/*.parquet");
    let (metrics, summary) = (dir.path().join("job.prom"), dir.path().join("job.json"));
    let out = proofmark(
        &[
            "run",
            &job,
            "--metrics-file",
            metrics.to_str().unwrap(),
            "--summary-json",
            summary.to_str().unwrap(),
        ],
        &key,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("all rejected")
            && err.contains("most rejections: ")
            && err.contains("batches/t-2026-11-24/segments/*.rejects.jsonl"),
        "{err}"
    );
    let failed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(failed["outcome"], "failed");
    assert_eq!(failed["rows_accepted"], 0, "{failed}");
    assert_eq!(failed["rows_rejected"], failed["rows_read"], "{failed}");
    let reasons = failed["rejects_by_reason"].as_object().unwrap();
    assert!(!reasons.is_empty(), "{failed}");
    let text = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        text.contains(
            "proofmark_job_rows{job=\"t\",batch_id=\"t-2026-11-24\",outcome=\"accepted\"} 0"
        ),
        "{text}"
    );
    for (reason, n) in reasons {
        assert!(
            text.contains(&format!(
                "proofmark_job_rejected_rows{{job=\"t\",batch_id=\"t-2026-11-24\",reason=\"{reason}\"}} {n}"
            )),
            "{reason}: {text}"
        );
    }
}

/// `--until anchor` on a job that publishes reports the commit's figures; a batch found
/// already in the code index (a run killed after the catalog named it, before it recorded
/// the stage) gets its publish stage recorded, and then reads as complete.
#[test]
fn until_anchor_keeps_the_commit_figures_and_a_published_batch_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("ledger.key");
    generate(dir.path(), &key, &["--items", "40", "--bad-rate", "0.1"]);
    let job = write_job(dir.path(), "data/records/**/*.parquet");
    let index = dir.path().join("index");
    let (metrics, summary) = (dir.path().join("job.prom"), dir.path().join("job.json"));
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            job.as_str(),
            "--metrics-file",
            metrics.to_str().unwrap(),
            "--summary-json",
            summary.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = common::command(&args, &key)
            .env("PROOFMARK_INDEX", &index)
            .output()
            .unwrap();
        let text = ok(&out);
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
        (text, json, std::fs::read_to_string(&metrics).unwrap())
    };
    let (out, json, text) = run(&["--until", "anchor"]);
    assert!(line(&out, "batch").contains("NOT published"), "{out}");
    assert_eq!(json["complete"], false, "{json}");
    for field in [
        "rows_read",
        "rows_accepted",
        "rows_rejected",
        "root",
        "manifest_digest",
    ] {
        assert!(!json[field].is_null(), "{field}: {json}");
    }
    assert!(json["records_per_second"].as_f64().is_some(), "{json}");
    assert!(
        !json["rejects_by_reason"].as_object().unwrap().is_empty(),
        "{json}"
    );
    assert!(text.contains("proofmark_job_rows{"), "{text}");
    assert!(text.contains("proofmark_job_rejected_rows{"), "{text}");

    // Published, then the stage record lost as by a kill just before it was written.
    run(&[]);
    let stage = dir
        .path()
        .join("store/batches/t-2026-11-24/stages/publish.json");
    std::fs::remove_file(&stage).unwrap();
    // A run stopped early reads the code index: the batch is complete.
    let (out, json, _) = run(&["--until", "plan"]);
    assert!(line(&out, "batch").contains("completed earlier"), "{out}");
    assert_eq!(json["complete"], true, "{json}");
    assert!(!stage.exists());
    let (out, _, _) = run(&[]);
    assert!(line(&out, "batch").contains("nothing to do"), "{out}");
    assert!(stage.exists(), "the publish stage is recorded");
    let (out, json, _) = run(&["--until", "plan"]);
    assert!(line(&out, "batch").contains("completed earlier"), "{out}");
    assert_eq!(json["complete"], true, "{json}");
}
