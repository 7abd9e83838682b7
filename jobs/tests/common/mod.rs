//! Helpers shared by the `proofmark` CLI tests: the binary with a clean
//! environment, and assertions on its output.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

/// The `proofmark` binary with the ledger key `key` and none of the
/// environment overrides a developer's shell may hold.
pub fn command(args: &[&str], key: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_proofmark"));
    c.args(args)
        .env("PROOFMARK_LEDGER_KEY", key)
        .env_remove("PROOFMARK_STORE")
        .env_remove("PROOFMARK_INDEX")
        .env_remove("PROOFMARK_METRICS_FILE");
    c
}

/// Runs `proofmark args` to completion.
pub fn proofmark(args: &[&str], key: &Path) -> Output {
    command(args, key).output().expect("runs")
}

/// Asserts that `out` is a success (showing both streams if not) and
/// returns its standard output.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The first line of `text` that starts with `prefix`.
pub fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} line in\n{text}"))
}

/// Generates a dataset into `dir/data` (`datasets generate` with `dataset_args`
/// added) and writes `dir/job.toml`: job `name` over those files into
/// `dir/store`, batch date 2026-11-24, the embedded ledger. Returns the job file.
pub fn ledger_job(dir: &Path, name: &str, dataset_args: &[&str], key: &Path) -> std::path::PathBuf {
    let data = dir.join("data");
    let mut args = vec!["datasets", "generate"];
    args.extend_from_slice(dataset_args);
    args.extend(["--out", data.to_str().unwrap()]);
    ok(&proofmark(&args, key));
    let job = dir.join("job.toml");
    std::fs::write(
        &job,
        format!(
            "[job]\nname = \"{name}\"\nstore = \"store\"\ninputs = [\"data/records/**/*.parquet\"]\ndate = \"2026-11-24\"\n\
             [chains.ledger]\ntype = \"ledger\"\norigin = \"test.local/ledger\"\n"
        ),
    )
    .unwrap();
    job
}
