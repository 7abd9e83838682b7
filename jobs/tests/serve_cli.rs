//! `proofmark publish` and `proofmark serve`: a nightly batch is published
//! (twice: the second does nothing), served over a socket, answered, and the
//! server stops cleanly on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{ledger_job, ok, proofmark};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use std::process::{Command, Stdio};

/// A plain HTTP/1.1 GET; the status line and the body.
fn http_get(addr: &str, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.lines().next().unwrap_or_default().to_owned();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

#[test]
fn publish_then_serve_then_stop_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("ledger.key");
    let job = ledger_job(dir.path(), "s", &["--items", "200", "--seed", "5"], &key);
    ok(&proofmark(&["run", job.to_str().unwrap()], &key));
    let store = dir.path().join("store");
    let index = dir.path().join("index");
    let publish = [
        "publish",
        "--batch-id",
        "s-2026-11-24",
        "--store",
        store.to_str().unwrap(),
        "--index",
        index.to_str().unwrap(),
    ];
    let first = ok(&proofmark(&publish, &key));
    assert!(first.contains("(published)"), "{first}");
    let second = ok(&proofmark(&publish, &key));
    assert!(second.contains("nothing to do"), "{second}");
    let missing = proofmark(
        &[
            "publish",
            "--batch-id",
            "nope",
            "--store",
            store.to_str().unwrap(),
            "--index",
            index.to_str().unwrap(),
        ],
        &key,
    );
    assert_eq!(
        missing.status.code(),
        Some(3),
        "a batch never committed is a step out of order"
    );

    let pins = std::fs::read_to_string(dir.path().join("data/secrets/pins.csv")).unwrap();
    let code = pins
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_owned();
    let mut child = Command::new(env!("CARGO_BIN_EXE_proofmark"))
        .args([
            "serve",
            "--store",
            store.to_str().unwrap(),
            "--index",
            index.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--header-timeout-secs",
            "1",
            "--write-timeout-secs",
            "5",
            "--max-connections",
            "64",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "the server exited"
        );
        if let Some(rest) = line.trim().strip_prefix("serving on http://") {
            break rest.to_owned();
        }
    };
    let (status, body) = http_get(&addr, "/healthz");
    assert!(status.contains("200"), "{status}");
    assert!(body.contains("ok"), "{body}");
    let (status, body) = http_get(&addr, &format!("/v1/codes/{code}"));
    assert!(status.contains("200"), "{status}");
    assert!(body.contains("proofmark-code/1"), "{body}");
    let (status, _) = http_get(&addr, "/v1/codes/ZZZZ00000000000000000");
    assert!(status.contains("404"), "{status}");
    // A connection that sends half a request head is closed after the header timeout.
    let mut half = TcpStream::connect(&addr).unwrap();
    half.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    write!(half, "GET /healthz HTTP/1.1\r\nHost: {addr}\r\n").unwrap();
    let mut answer = Vec::new();
    let closed = half.read_to_end(&mut answer);
    assert!(closed.is_ok() && answer.is_empty(), "{closed:?} {answer:?}");
    // The index's files are read ahead (the default budget, `auto`).
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "the server exited before reading ahead"
        );
        if line.contains("index and leaf files into memory in") {
            break;
        }
    }

    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("stopped"), "{rest}");

    let bad = proofmark(
        &[
            "serve",
            "--store",
            store.to_str().unwrap(),
            "--index",
            index.to_str().unwrap(),
            "--prewarm-mib",
            "lots",
        ],
        &key,
    );
    assert_eq!(bad.status.code(), Some(3));
    let text = String::from_utf8_lossy(&bad.stderr);
    assert!(text.contains("neither a count of MiB nor `auto`"), "{text}");
}
