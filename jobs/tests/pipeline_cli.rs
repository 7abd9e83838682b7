//! `proofmark plan`, `build` and `commit` as a user runs them: exit codes,
//! messages, and three concurrent build processes against a single one.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use proofmark_datasets::GenerateOptions;

const DATE: &str = "2026-11-25";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_proofmark"));
    c.arg("--quiet");
    c.env_remove("JOB_COMPLETION_INDEX");
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{args:?} failed: {err}\n{out}");
    out
}

/// Runs a command that must fail with an error exit code: 3 for input
/// errors, 2 for the others (never 0 or 1, which mean success and "not
/// verified").
fn fails(args: &[&str]) -> String {
    let o = run(args);
    let (out, err) = text(&o);
    assert!(
        matches!(o.status.code(), Some(2 | 3)),
        "{args:?} should fail with 2 or 3, got {:?}: {out}\n{err}",
        o.status.code()
    );
    err
}

/// A small generated dataset with row groups of 500 rows (many segments).
fn dataset(dir: &Path) -> PathBuf {
    let out = dir.join("ds");
    let opts = GenerateOptions::new(1500, &out)
        .with_bad_rate(0.02)
        .with_rows_per_group(500);
    proofmark_datasets::generate(&opts, |_| {}).unwrap();
    out.join("records")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn manifest_root(store: &Path, batch: &str) -> String {
    let m: serde_json::Value = serde_json::from_slice(
        &std::fs::read(store.join(format!("batches/{batch}/manifest.json"))).unwrap(),
    )
    .unwrap();
    m["root"].as_str().unwrap().to_owned()
}

#[test]
fn three_build_processes_give_the_single_process_root() {
    let dir = tempfile::tempdir().unwrap();
    let records = dataset(dir.path());

    let single = dir.path().join("single");
    ok(&[
        "plan",
        "--input",
        s(&records),
        "--batch-id",
        "b",
        "--store",
        s(&single),
        "--date",
        DATE,
    ]);
    let built = ok(&["build", "--batch-id", "b", "--store", s(&single)]);
    assert!(built.contains("records/s"), "{built}");
    assert!(!built.contains("records/s  -"), "{built}");
    // A rebuild does nothing: no rate of the work other runs did.
    let again = ok(&["build", "--batch-id", "b", "--store", s(&single)]);
    assert!(again.contains("records/s  - ("), "{again}");
    let committed = ok(&["commit", "--batch-id", "b", "--store", s(&single)]);
    let root = manifest_root(&single, "b");
    assert!(committed.contains(&root), "{committed}");

    // --part K/N, three processes at once.
    let shared = dir.path().join("shared");
    ok(&[
        "plan",
        "--input",
        s(&records),
        "--batch-id",
        "b",
        "--store",
        s(&shared),
        "--date",
        DATE,
    ]);
    let children: Vec<_> = (1..=3)
        .map(|k| {
            bin()
                .args([
                    "build",
                    "--batch-id",
                    "b",
                    "--store",
                    s(&shared),
                    "--part",
                    &format!("{k}/3"),
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", text(&o).1);
    }
    ok(&["commit", "--batch-id", "b", "--store", s(&shared)]);
    assert_eq!(manifest_root(&shared, "b"), root);

    // --parts N with JOB_COMPLETION_INDEX, as a Kubernetes Indexed Job runs it.
    let indexed = dir.path().join("indexed");
    ok(&[
        "plan",
        "--input",
        s(&records),
        "--batch-id",
        "b",
        "--store",
        s(&indexed),
        "--date",
        DATE,
    ]);
    let children: Vec<_> = (0..3)
        .map(|k| {
            bin()
                .args([
                    "build",
                    "--batch-id",
                    "b",
                    "--store",
                    s(&indexed),
                    "--parts",
                    "3",
                ])
                .env("JOB_COMPLETION_INDEX", k.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", text(&o).1);
    }
    ok(&[
        "commit",
        "--batch-id",
        "b",
        "--store",
        s(&indexed),
        "--memory-budget",
        "128KiB",
    ]);
    assert_eq!(manifest_root(&indexed, "b"), root);
    // --parts without the index is a clear error.
    let err = fails(&[
        "build",
        "--batch-id",
        "b",
        "--store",
        s(&indexed),
        "--parts",
        "3",
    ]);
    assert!(err.contains("JOB_COMPLETION_INDEX"), "{err}");

    // Reruns after the commit do nothing.
    let again = ok(&["build", "--batch-id", "b", "--store", s(&single)]);
    assert!(again.contains("nothing to build"), "{again}");
    let again = ok(&["commit", "--batch-id", "b", "--store", s(&single)]);
    assert!(again.contains("already committed"), "{again}");
    assert_eq!(manifest_root(&single, "b"), root);
}

#[test]
fn commit_names_a_corrupt_segment_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let records = dataset(dir.path());
    let store = dir.path().join("store");
    ok(&[
        "plan",
        "--input",
        s(&records),
        "--batch-id",
        "b",
        "--store",
        s(&store),
        "--date",
        DATE,
    ]);
    ok(&["build", "--batch-id", "b", "--store", s(&store)]);
    let leaves = store.join("batches/b/segments/000001.leaves");
    let mut bytes = std::fs::read(&leaves).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&leaves, bytes).unwrap();
    let err = fails(&["commit", "--batch-id", "b", "--store", s(&store)]);
    assert!(err.contains("segments/000001.leaves"), "{err}");
    assert!(!store.join("batches/b/manifest.json").exists());
    std::fs::remove_file(store.join("batches/b/segments/000002.json")).unwrap();
    let err = fails(&["commit", "--batch-id", "b", "--store", s(&store)]);
    assert!(err.contains("000002"), "{err}");
    // build repairs both; commit then succeeds.
    let out = ok(&["build", "--batch-id", "b", "--store", s(&store)]);
    assert!(out.contains("2 built"), "{out}");
    ok(&["commit", "--batch-id", "b", "--store", s(&store)]);
    // Publishing before the anchor, or a batch never committed, is a step out of order (3).
    let index = dir.path().join("index");
    for (batch, says) in [("b", "not anchored"), ("nope", "not committed")] {
        let o = run(&[
            "publish",
            "--batch-id",
            batch,
            "--store",
            s(&store),
            "--index",
            s(&index),
        ]);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(3), "{err}");
        assert!(err.contains(says), "{err}");
    }
}

fn write_batch(path: &Path, batch: &RecordBatch) {
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

#[test]
fn bad_inputs_fail_the_plan_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");

    // Not Parquet at all.
    let corrupt = dir.path().join("corrupt.parquet");
    std::fs::write(&corrupt, b"PAR1 this is not a parquet file PAR1").unwrap();
    let err = fails(&[
        "plan",
        "--input",
        s(&corrupt),
        "--batch-id",
        "b",
        "--store",
        s(&store),
        "--date",
        DATE,
    ]);
    assert!(err.contains("corrupt.parquet"), "{err}");

    // A logistics file without its `location` column.
    let missing = dir.path().join("missing-column.parquet");
    let full = proofmark_schemas::Kind::Logistics.arrow_schema();
    let fields: Vec<Field> = full
        .fields()
        .iter()
        .filter(|f| f.name() != "location")
        .map(|f| f.as_ref().clone())
        .collect();
    let columns: Vec<ArrayRef> = fields
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 => Arc::new(StringArray::from(vec![Some("x")])) as ArrayRef,
            other => arrow_array::new_null_array(other, 1),
        })
        .collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    write_batch(&missing, &batch);
    let err = fails(&[
        "plan",
        "--input",
        s(&missing),
        "--batch-id",
        "b",
        "--store",
        s(&store),
        "--date",
        DATE,
    ]);
    assert!(err.contains("missing-column.parquet"), "{err}");
    assert!(err.contains("location"), "{err}");

    // No input at all, and an input folder without Parquet files.
    let err = fails(&["plan", "--batch-id", "b", "--store", s(&store)]);
    assert!(err.contains("--input"), "{err}");
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    fails(&[
        "plan",
        "--input",
        s(&empty),
        "--batch-id",
        "b",
        "--store",
        s(&store),
        "--date",
        DATE,
    ]);

    // A store that cannot be written: its folder would be inside a file.
    let records = dataset(dir.path());
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"x").unwrap();
    let unwritable = blocker.join("store");
    let err = fails(&[
        "plan",
        "--input",
        s(&records),
        "--batch-id",
        "b",
        "--store",
        s(&unwritable),
        "--date",
        DATE,
    ]);
    assert!(err.contains("a-file"), "{err}");

    // Build and commit of a batch that was never planned, in a store that exists.
    std::fs::create_dir_all(&store).unwrap();
    let err = fails(&["build", "--batch-id", "nope", "--store", s(&store)]);
    assert!(err.contains("no plan"), "{err}");
    let err = fails(&["commit", "--batch-id", "nope", "--store", s(&store)]);
    assert!(err.contains("no plan"), "{err}");
}

/// A standalone `plan` or `build` removes the temporary files that killed writers left in
/// the batch's folder, and keeps those of writers still running (locked) and object_store's
/// staging files (which only `proofmark run`, holding the batch lock, may remove).
#[test]
fn plan_and_build_remove_what_killed_writers_left() {
    let dir = tempfile::tempdir().unwrap();
    let records = dataset(dir.path());
    let store = dir.path().join("store");
    let batch = store.join("batches/b");
    let file = |rel: &str| {
        let p = batch.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, vec![7u8; 1000]).unwrap();
        p
    };
    let dead_copy = file("inputs/production/.part-00000.parquet.4000000.0.tmp");
    let live_copy = file("inputs/customs/.part-00000.parquet.4000001.0.tmp");
    let staged = file("segments/000001.json#2");
    let live = std::fs::File::open(&live_copy).unwrap();
    live.try_lock().unwrap();
    // Without --quiet, to see what was removed.
    let verbose = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_proofmark"))
            .env_remove("JOB_COMPLETION_INDEX")
            .args(args)
            .output()
            .unwrap();
        let (out, err) = text(&o);
        assert!(o.status.success(), "{args:?} failed: {err}\n{out}");
        err
    };
    let err = verbose(&[
        "plan",
        "--input",
        s(&records),
        "--batch-id",
        "b",
        "--store",
        s(&store),
        "--date",
        DATE,
    ]);
    assert!(
        err.contains("cleanup: removed 1 temporary file(s) (1000 bytes)"),
        "{err}"
    );
    assert!(!dead_copy.exists());
    assert!(live_copy.exists(), "a locked file is a live write");
    assert!(staged.exists());
    // A rerun says the batch was planned earlier and changes nothing.
    let again = ok(&[
        "plan",
        "--input",
        s(&records),
        "--batch-id",
        "b",
        "--store",
        s(&store),
        "--date",
        DATE,
    ]);
    assert!(again.contains("planned earlier"), "{again}");

    let dead_leaves = file("segments/.000002.leaves.4000002.1.tmp");
    let err = verbose(&[
        "build",
        "--batch-id",
        "b",
        "--store",
        s(&store),
        "--part",
        "1/2",
    ]);
    assert!(
        err.contains("cleanup: removed 1 temporary file(s) (1000 bytes)"),
        "{err}"
    );
    assert!(!dead_leaves.exists());
    assert!(live_copy.exists());
    drop(live);
    let err = verbose(&["build", "--batch-id", "b", "--store", s(&store)]);
    assert!(
        err.contains("cleanup: removed 1 temporary file(s) (1000 bytes)"),
        "{err}"
    );
    assert!(!live_copy.exists());
    assert!(staged.exists());
    ok(&["commit", "--batch-id", "b", "--store", s(&store)]);
    // Nothing of the builds' and the commit's own is left under a temporary name.
    let mut left = Vec::new();
    let mut stack = vec![batch.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if proofmark_ingest::store::is_partial_file_name(
                &e.file_name().to_string_lossy(),
            ) && p != staged
            {
                left.push(p);
            }
        }
    }
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn an_input_changed_after_the_plan_fails_the_build_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let records = dataset(dir.path());
    let store = dir.path().join("store");
    ok(&[
        "plan",
        "--input",
        s(&records),
        "--batch-id",
        "b",
        "--store",
        s(&store),
        "--date",
        DATE,
        "--input-mode",
        "reference",
        "--suite",
        "sha256-rfc6962",
    ]);
    let customs = records.join("customs/part-00000.parquet");
    std::fs::remove_file(&customs).unwrap();
    // Input errors (exit 3), though found inside a segment: a person must act.
    let o = run(&["build", "--batch-id", "b", "--store", s(&store)]);
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("customs/part-00000.parquet"), "{err}");
    let o = run(&["commit", "--batch-id", "b", "--store", s(&store)]);
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("not built"), "{err}");
    assert!(!store.join("batches/b/manifest.json").exists());
}

/// A share index out of range for `--parts` is told in the words of the variable and the flag
/// (exit 3), before any store is touched.
#[test]
fn an_out_of_range_share_index_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    for (index, told) in [
        (
            "3",
            "JOB_COMPLETION_INDEX 3 is out of range for --parts 3 (0 to 2)",
        ),
        (
            "x",
            "JOB_COMPLETION_INDEX=\"x\" is not a share index (0 to 2)",
        ),
    ] {
        let o = bin()
            .args([
                "build",
                "--batch-id",
                "b",
                "--store",
                s(&store),
                "--parts",
                "3",
            ])
            .env("JOB_COMPLETION_INDEX", index)
            .output()
            .unwrap();
        let err = text(&o).1;
        assert_eq!(o.status.code(), Some(3), "{err}");
        assert!(err.contains(told), "{err}");
    }
    assert!(!store.exists());
}

#[test]
fn help_documents_every_flag() {
    let out = ok(&["build", "--help"]);
    for flag in [
        "--part",
        "--parts",
        "JOB_COMPLETION_INDEX",
        "--segments-in-flight",
        "--store",
        "--batch-id",
    ] {
        assert!(out.contains(flag), "{flag}: {out}");
    }
    let out = ok(&["plan", "--help"]);
    for flag in ["--input", "--date", "--suite", "--input-mode"] {
        assert!(out.contains(flag), "{flag}: {out}");
    }
    let out = ok(&["commit", "--help"]);
    assert!(out.contains("--memory-budget"), "{out}");
    let out = ok(&["bench", "pipeline", "--help"]);
    assert!(out.contains("--records"), "{out}");
}

/// A `--batch-id` that breaks the batch id rule is an argument error (exit 3) of every command
/// that takes one, named before any store is touched.
#[test]
fn a_batch_id_that_cannot_be_one_is_an_argument_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    for args in [
        vec!["build", "--store", s(&store)],
        vec!["commit", "--store", s(&store)],
        vec!["anchor", "--store", s(&store)],
        vec!["publish", "--store", s(&store), "--index", s(&store)],
        vec![
            "audit",
            "batch",
            "--store",
            s(&store),
            "--no-anchor-required",
        ],
    ] {
        for bad in ["../x", ".hidden", "a/b"] {
            let mut all = args.clone();
            all.extend(["--batch-id", bad]);
            let o = run(&all);
            let (out, err) = text(&o);
            assert_eq!(o.status.code(), Some(3), "{all:?}: {out}\n{err}");
            assert!(err.contains("invalid batch id"), "{all:?}: {err}");
        }
    }
    assert!(!store.exists());
}

/// A codes file with no code (empty, blank lines, comments), or a reports file with no report,
/// is an argument error: an audit of nothing would pass.
#[test]
fn an_audit_of_no_code_is_an_argument_error() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &[&str], &str); 2] = [
        (
            "codes.txt",
            "\n  \n# header\n",
            &["--server", "http://127.0.0.1:9"],
            "holds no code",
        ),
        (
            "reports.ndjson",
            "\n \r\n",
            &["--reports"],
            "holds no report",
        ),
    ];
    for (name, text_of_file, source, said) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, text_of_file).unwrap();
        let mut args = vec!["audit", "codes", s(&file), "--no-anchor-required"];
        args.extend_from_slice(source);
        let o = run(&args);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(3), "{name}: {out}\n{err}");
        assert!(err.contains(said), "{name}: {err}");
    }
}

/// A server that takes a request and never answers stops the audit once
/// `--request-timeout-secs` have passed, with an error naming the request's codes.
#[test]
fn a_server_that_never_answers_stops_the_audit_naming_the_codes() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Takes connections and reads nothing, answers nothing, until the test ends.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let codes = dir.path().join("codes.txt");
    std::fs::write(&codes, "not a code\nABCDEF123456\nABCDEF123457\n").unwrap();
    let started = std::time::Instant::now();
    let o = run(&[
        "audit",
        "codes",
        s(&codes),
        "--server",
        &format!("http://{addr}"),
        "--request-timeout-secs",
        "1",
        "--no-anchor-required",
    ]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    assert!(
        err.contains("the file's codes 2 to 3: ABCDEF123456 to ABCDEF123457")
            && err.contains("no whole answer within 1 s"),
        "{err}"
    );
    assert!(out.is_empty(), "no rows of a run that failed: {out}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

/// Lines that are not codes are reported malformed without asking the server (none of them
/// can make a request fail), and rows that cannot all be written, even when only the last
/// flush fails, fail the audit (exit 2) instead of passing with nothing written.
#[test]
fn an_audit_whose_rows_cannot_be_written_fails() {
    let dir = tempfile::tempdir().unwrap();
    let codes = dir.path().join("codes.txt");
    std::fs::write(&codes, "[oops\nx\n").unwrap();
    let args = [
        "audit",
        "codes",
        s(&codes),
        "--server",
        "http://127.0.0.1:9",
        "--no-anchor-required",
    ];
    let o = run(&args);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert_eq!(
        out.lines()
            .skip(1)
            .map(|l| l.split(',').nth(1))
            .collect::<Vec<_>>(),
        [Some("malformed"), Some("malformed")],
        "{out}"
    );
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = bin().args(args).stdout(full).output().unwrap();
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("standard output"), "{err}");
}

/// A codes file is read a window of 4,096 codes at a time and the rows written as each
/// window is done, in the file's order, from a file or a pipe. A line that is not UTF-8 is
/// told before any work in a file; in a pipe it is met during the audit, which then fails
/// with nothing written: no rows on standard output, no `--output` file.
#[test]
fn codes_are_read_and_written_a_window_at_a_time_and_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    // Too short to be codes: reported malformed without asking the (absent) server.
    let lines: Vec<String> = (0..9_000).map(|i| format!("x{i}")).collect();
    let good = dir.path().join("codes.txt");
    std::fs::write(&good, lines.join("\n")).unwrap();
    let mut damaged = lines.join("\n").into_bytes();
    damaged.extend_from_slice(b"\nbad\xFF\nx9001\n");
    let bad = dir.path().join("damaged.txt");
    std::fs::write(&bad, &damaged).unwrap();
    let output = dir.path().join("rows.csv");
    let audit = |file: &str, input: Option<&[u8]>, output: Option<&Path>| {
        let mut args = vec![
            "audit",
            "codes",
            file,
            "--server",
            "http://127.0.0.1:9",
            "--no-anchor-required",
        ];
        if let Some(o) = output {
            args.extend(["--output", s(o)]);
        }
        let mut child = bin()
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        if let Some(bytes) = input {
            use std::io::Write as _;
            stdin.write_all(bytes).unwrap();
        }
        drop(stdin);
        child.wait_with_output().unwrap()
    };
    let codes_of = |csv: &str| -> Vec<String> {
        csv.lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().to_owned())
            .collect()
    };
    for (file, input) in [(s(&good), None), ("/dev/stdin", Some(lines.join("\n")))] {
        for out_file in [None, Some(Path::new("/dev/stdout"))] {
            let o = audit(file, input.as_deref().map(str::as_bytes), out_file);
            let (out, err) = text(&o);
            assert_eq!(o.status.code(), Some(1), "{file} {out_file:?}: {err}");
            assert_eq!(codes_of(&out), lines, "{file} {out_file:?}");
        }
        let o = audit(file, input.as_deref().map(str::as_bytes), Some(&output));
        assert_eq!(o.status.code(), Some(1), "{file}: {}", text(&o).1);
        let written = std::fs::read_to_string(&output).unwrap();
        assert_eq!(codes_of(&written), lines, "{file}");
    }
    // The damaged file, as a file (told before any work) and through a pipe (met after two
    // windows): a failure, and the earlier run's output left as it was; no row either on
    // standard output, named as --output or not.
    for (file, input) in [(s(&bad), None), ("/dev/stdin", Some(&damaged[..]))] {
        for out_file in [None, Some(output.as_path()), Some(Path::new("/dev/stdout"))] {
            let o = audit(file, input, out_file);
            let (out, err) = text(&o);
            assert_eq!(o.status.code(), Some(2), "{file}: {out}\n{err}");
            assert!(err.contains("line 9001 is not UTF-8"), "{file}: {err}");
            assert!(out.is_empty(), "{file}: no rows of a run that failed");
        }
    }
    let written = std::fs::read_to_string(&output).unwrap();
    assert_eq!(codes_of(&written), lines);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 3, "no temporary file left: {leftovers:?}");
}

/// `build` and `commit` of a store folder that does not exist name the folder (a mistyped
/// `--store`), not a batch without a plan, and make nothing.
#[test]
fn a_store_folder_that_does_not_exist_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("no-such-store");
    for command in ["build", "commit"] {
        let o = run(&[command, "--batch-id", "b", "--store", s(&store)]);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(3), "{command}: {out}\n{err}");
        assert!(
            err.contains("the store folder") && err.contains("does not exist"),
            "{command}: {err}"
        );
    }
    assert!(!store.exists());
}

/// `audit codes` and `audit batch` tell an argument at fault (exit 3) before any work: no
/// source of reports, a codes file or a store or index folder that does not exist, an
/// `--output` into a folder that does not exist (named as given, not by a temporary file).
#[test]
fn audit_arguments_at_fault_are_told_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let codes = dir.path().join("codes.txt");
    std::fs::write(&codes, "ABCDEF123456\n").unwrap();
    let missing = dir.path().join("no-such-folder");
    let bad_output = missing.join("x.csv");
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["audit", "codes", s(&codes), "--no-anchor-required"],
            "needs a source of reports".into(),
        ),
        (
            vec![
                "audit",
                "codes",
                s(&missing),
                "--server",
                "http://127.0.0.1:9",
                "--no-anchor-required",
            ],
            format!("opening {}", missing.display()),
        ),
        (
            vec![
                "audit",
                "codes",
                s(&codes),
                "--store",
                s(&missing),
                "--index",
                s(dir.path()),
                "--no-anchor-required",
            ],
            format!("store {}: no such folder", missing.display()),
        ),
        (
            vec![
                "audit",
                "codes",
                s(&codes),
                "--store",
                s(dir.path()),
                "--index",
                s(&missing),
                "--no-anchor-required",
            ],
            format!("code index {}: no such folder", missing.display()),
        ),
        (
            vec![
                "audit",
                "codes",
                s(&codes),
                "--server",
                "http://127.0.0.1:9",
                "--no-anchor-required",
                "--output",
                s(&bad_output),
            ],
            format!("--output {}: the folder", bad_output.display()),
        ),
        (
            vec![
                "audit",
                "batch",
                "--batch-id",
                "b",
                "--store",
                s(dir.path()),
                "--no-anchor-required",
                "--output",
                s(&bad_output),
            ],
            format!("--output {}: the folder", bad_output.display()),
        ),
    ];
    for (args, said) in cases {
        let o = run(&args);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {out}\n{err}");
        assert!(err.contains(&said), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
    }
    assert!(!missing.exists());
}

/// A damaged or removed `plan.json` of a committed batch is a difference the audit names
/// (exit 1), not an error of the audit (exit 2) nor "no such batch".
#[test]
fn a_damaged_or_missing_plan_is_a_difference_of_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let records = dataset(dir.path());
    let store = dir.path().join("store");
    ok(&[
        "plan",
        "--input",
        s(&records),
        "--batch-id",
        "b",
        "--store",
        s(&store),
        "--date",
        DATE,
    ]);
    ok(&["build", "--batch-id", "b", "--store", s(&store)]);
    ok(&["commit", "--batch-id", "b", "--store", s(&store)]);
    let audit = [
        "audit",
        "batch",
        "--batch-id",
        "b",
        "--store",
        s(&store),
        "--no-anchor-required",
    ];
    ok(&audit);
    let plan = store.join("batches/b/plan.json");
    std::fs::write(&plan, "{\n").unwrap();
    for said in ["is not a valid plan", "is missing"] {
        let o = run(&audit);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
        assert!(out.contains("FAILED") && out.contains("Plan"), "{out}");
        assert!(out.contains(said), "{out}");
        assert!(!err.contains("no committed batch"), "{err}");
        if plan.exists() {
            std::fs::remove_file(&plan).unwrap();
        }
    }
}
