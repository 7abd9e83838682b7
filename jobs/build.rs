//! Records the commit the binary is built from, for `proofmark --version` and the `git_commit`
//! of `proofmark bench pipeline --json`.
//!
//! `PROOFMARK_GIT_COMMIT` in the build's environment wins (for builds from a source archive).
//! Otherwise, when this package sits in a git work tree whose top is the workspace, the commit
//! of `HEAD` is read with `git`; the build script runs again when `HEAD` moves. Changes not yet
//! committed are not recorded. Without git, or outside a work tree, no commit is recorded.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-env-changed=PROOFMARK_GIT_COMMIT");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = match std::env::var("PROOFMARK_GIT_COMMIT") {
        Ok(given) if !given.trim().is_empty() => Some(given.trim().to_owned()),
        _ => head_commit(&manifest_dir),
    };
    let version = env!("CARGO_PKG_VERSION");
    match commit {
        Some(commit) => {
            println!("cargo::rustc-env=PROOFMARK_GIT_COMMIT={commit}");
            let short: String = commit.chars().take(12).collect();
            println!("cargo::rustc-env=PROOFMARK_VERSION_TEXT={version} (commit {short})");
        }
        None => println!("cargo::rustc-env=PROOFMARK_VERSION_TEXT={version}"),
    }
}

/// `HEAD`'s commit when the workspace (this package's parent folder) is the top of a git work
/// tree, with the files whose change moves `HEAD` registered for a rerun.
fn head_commit(manifest_dir: &Path) -> Option<String> {
    let workspace = manifest_dir.parent()?.canonicalize().ok()?;
    let top = git(manifest_dir, &["rev-parse", "--show-toplevel"])?;
    if Path::new(&top).canonicalize().ok()? != workspace {
        return None;
    }
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    if let Some(branch) = git(manifest_dir, &["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        // A path that does not exist would make cargo run this script on every build.
        if let Some(path) = git(manifest_dir, &["rev-parse", "--git-path", &name]) {
            let path = manifest_dir.join(path);
            if path.exists() {
                println!("cargo::rerun-if-changed={}", path.display());
            }
        }
    }
    git(manifest_dir, &["rev-parse", "--verify", "-q", "HEAD"])
        .filter(|c| c.len() >= 40 && c.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// One line of `git ARGS`' output, or `None` when git is missing or fails.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let line = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!line.is_empty()).then_some(line)
}
