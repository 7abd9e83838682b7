//! `proofmark pins import` and the PIN key at `proofmark serve`'s start:
//! all-or-nothing imports of spreadsheet CSV, the key's check value, and
//! error messages that name their cause once; and the organisation names
//! file at `serve`'s start.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{ok, proofmark};

use std::path::{Path, PathBuf};
use std::process::Output;

struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    fn new() -> Dir {
        Dir {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn csv(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn import(&self, csv: &Path, state: &str, key: &str) -> Output {
        proofmark(
            &[
                "pins",
                "import",
                "--secrets",
                csv.to_str().unwrap(),
                "--state-dir",
                self.path(state).to_str().unwrap(),
                "--key-file",
                self.path(key).to_str().unwrap(),
            ],
            &self.path("ledger.key"),
        )
    }

    /// `serve` with a state and a key; it fails before it needs the store
    /// or the index when the key is refused.
    fn serve(&self, state: &str, key: &str) -> Output {
        self.serve_with(state, key, &[])
    }

    /// [`Dir::serve`] with more arguments.
    fn serve_with(&self, state: &str, key: &str, more: &[&str]) -> Output {
        let (store, index) = (self.path("store"), self.path("index"));
        let (state, key) = (self.path(state), self.path(key));
        let mut args = vec![
            "serve",
            "--store",
            store.to_str().unwrap(),
            "--index",
            index.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--state-dir",
            state.to_str().unwrap(),
            "--secrets-key-file",
            key.to_str().unwrap(),
        ];
        args.extend_from_slice(more);
        proofmark(&args, &self.path("ledger.key"))
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn fails_with(out: &Output, code: i32) -> String {
    let text = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{text}");
    text
}

#[test]
fn a_bad_file_changes_nothing_and_makes_no_key() {
    let d = Dir::new();
    let good = d.csv("good.csv", b"code,pin\n111,1234\n");
    ok(&d.import(&good, "st", "pins.key"));
    let before = std::fs::read(d.path("st/consumer.redb")).unwrap();
    // The bad row is last: nothing before it may be written.
    let bad = d.csv("bad.csv", b"code,pin\n222,1234\n333,5678\nbad-row-here\n");
    let text = fails_with(&d.import(&bad, "st", "pins.key"), 3);
    assert!(text.contains("line 4"), "{text}");
    assert_eq!(std::fs::read(d.path("st/consumer.redb")).unwrap(), before);
    // A new state: no key file is made for a file that does not validate.
    let noheader = d.csv("noheader.csv", b"111,1234\n");
    fails_with(&d.import(&noheader, "st2", "leftover.key"), 3);
    assert!(!d.path("leftover.key").exists());
}

#[test]
fn duplicates_bad_utf8_and_spreadsheet_csv() {
    let d = Dir::new();
    let dup = d.csv("dup.csv", b"code,pin\n111,1234\n222,1111\n111,9999\n");
    let text = fails_with(&d.import(&dup, "st", "pins.key"), 3);
    assert!(text.contains("line 4") && text.contains("line 2"), "{text}");
    let utf8 = d.csv("utf8.csv", b"code,pin\n111,1234\n\xff\xfe,1\n");
    let text = fails_with(&d.import(&utf8, "st", "pins.key"), 3);
    assert!(text.contains("line 3") && text.contains("UTF-8"), "{text}");
    assert!(!d.path("pins.key").exists());
    let excel = d.csv(
        "excel.csv",
        b"\xef\xbb\xbf\"code\",\"pin\"\r\n\"111\",\"1234\"\r\n\"222\",\"5678\"\r\n",
    );
    let out = d.import(&excel, "st", "pins.key");
    ok(&out);
    let text = stderr(&out);
    assert!(text.contains("imported 2 PIN hashes"), "{text}");
}

#[test]
fn the_key_must_match_the_state() {
    let d = Dir::new();
    let csv = d.csv("pins.csv", b"code,pin\n111,1234\n");
    ok(&d.import(&csv, "st", "pins.key"));
    // Importing again with the same key is fine.
    ok(&d.import(&csv, "st", "pins.key"));
    // No new key for a state that holds PIN hashes.
    let text = fails_with(&d.import(&csv, "st", "fresh.key"), 3);
    assert!(text.contains("already holds PIN"), "{text}");
    assert!(!d.path("fresh.key").exists());
    // Another existing key is refused.
    std::fs::write(d.path("other.key"), format!("{}\n", "ab".repeat(32))).unwrap();
    let text = fails_with(&d.import(&csv, "st", "other.key"), 3);
    assert!(text.contains("does not match"), "{text}");
    // And so is it at the server's start.
    let text = fails_with(&d.serve("st", "other.key"), 3);
    assert!(text.contains("does not match"), "{text}");
}

#[test]
fn errors_name_their_cause_once() {
    let d = Dir::new();
    let text = fails_with(&d.serve("st", "missing.key"), 2);
    assert_eq!(
        text.matches("No such file or directory").count(),
        1,
        "{text}"
    );
    assert!(text.contains("missing.key"), "{text}");
}

/// A bad organisation names file stops the server at its start, naming the
/// file and the line; so does one that is missing.
#[test]
fn a_bad_orgs_file_is_refused_at_start() {
    let d = Dir::new();
    let csv = d.csv("pins.csv", b"code,pin\n111,1234\n");
    ok(&d.import(&csv, "st", "pins.key"));
    let orgs = d.csv(
        "orgs.csv",
        b"org_id,name\nbrand-1,Acme\nbrand-1,Acme again\n",
    );
    let text = fails_with(
        &d.serve_with("st", "pins.key", &["--orgs", orgs.to_str().unwrap()]),
        3,
    );
    assert!(text.contains("orgs.csv, line 3"), "{text}");
    assert!(text.contains("also on line 2"), "{text}");
    let missing = d.path("none.csv");
    let text = fails_with(
        &d.serve_with("st", "pins.key", &["--orgs", missing.to_str().unwrap()]),
        3,
    );
    assert!(text.contains("none.csv"), "{text}");
}
