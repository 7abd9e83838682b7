//! `s3://` end to end against a local S3-compatible server (moto's
//! standalone server, installed by the test script): inputs in one bucket,
//! the batch store in another; the root equals a local run's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{line, ok};

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A moto server on a free port, stopped on drop.
struct S3Server {
    child: Child,
    port: u16,
}

impl S3Server {
    fn start() -> S3Server {
        let exe = std::env::var_os("PROOFMARK_MOTO_SERVER").map(PathBuf::from).expect(
            "PROOFMARK_MOTO_SERVER must name moto's `moto_server`: run the tests with scripts/test.sh, \
             which installs it",
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&exe)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        let server = S3Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not start on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket (moto accepts any credentials).
    fn create_bucket(&self, name: &str) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "PUT /{name} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 200"), "create bucket: {reply}");
    }
}

impl S3Server {
    /// Writes an object that anyone may read (`x-amz-acl: public-read`).
    fn put_public(&self, bucket: &str, key: &str, body: &[u8]) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "PUT /{bucket}/{key} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nx-amz-acl: public-read\r\n\
             Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n",
            self.port,
            body.len()
        )
        .unwrap();
        s.write_all(body).unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 200"), "put {key}: {reply}");
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn proofmark(args: &[&str], key: &Path, s3: Option<&S3Server>) -> Output {
    let mut c = common::command(args, key);
    if let Some(s3) = s3 {
        c.env("AWS_ENDPOINT", s3.endpoint())
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", "false");
    }
    c.output().expect("runs")
}

fn job(dir: &Path, store: &str, inputs: &str) -> String {
    let path = dir.join("job.toml");
    std::fs::write(
        &path,
        format!(
            "[job]\nname = \"s3\"\nstore = \"{store}\"\ninputs = [\"{inputs}\"]\ndate = \"2026-11-24\"\n\
             [chains.ledger]\ntype = \"ledger\"\norigin = \"test.local/ledger\"\n"
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_job_reads_and_writes_s3_and_matches_the_local_root() {
    let (s3, dir, key) = started();
    let data = generate(
        dir.path(),
        &key,
        &["--items", "500", "--seed", "4", "--bad-rate", "0.02"],
    );

    // Upload the records, keeping their layout.
    let records = data.join("records");
    let rt = tokio::runtime::Runtime::new().unwrap();
    upload_records(&rt, &s3, &records);

    let local_dir = dir.path().join("local");
    std::fs::create_dir_all(&local_dir).unwrap();
    let local = ok(&proofmark(
        &[
            "run",
            &job(
                &local_dir,
                "store",
                &format!("{}/**/*.parquet", records.display()),
            ),
        ],
        &key,
        None,
    ));

    let s3_dir = dir.path().join("s3");
    std::fs::create_dir_all(&s3_dir).unwrap();
    let s3_job = job(
        &s3_dir,
        "s3://batches/prod",
        "s3://landing/records/**/*.parquet",
    );
    let remote = ok(&proofmark(&["run", &s3_job], &key, Some(&s3)));
    assert!(line(&remote, "batch").contains("(completed)"), "{remote}");
    assert_eq!(line(&remote, "root"), line(&local, "root"));
    assert_eq!(line(&remote, "rows"), line(&local, "rows"));
    let again = ok(&proofmark(&["run", &s3_job], &key, Some(&s3)));
    assert!(line(&again, "batch").contains("nothing to do"), "{again}");

    // The committed batch is in the bucket, and the log proves it.
    let proof = ok(&proofmark(
        &[
            "log",
            "prove",
            "--store",
            "s3://batches/prod",
            "--batch-id",
            "s3-2026-11-24",
        ],
        &key,
        Some(&s3),
    ));
    let proof: serde_json::Value = serde_json::from_str(&proof).unwrap();
    assert_eq!(
        format!("root       {}", proof["entry"]["root"].as_str().unwrap()),
        line(&local, "root")
    );

    // The same inputs over plain http:// (moto serves a public-read object to a plain GET,
    // ranges included): planned file by file into a local store, the same root.
    s3.create_bucket("public");
    let mut urls: Vec<String> = Vec::new();
    for p in files_under(&records) {
        let rel = p.strip_prefix(records.parent().unwrap()).unwrap();
        let key = rel.to_str().unwrap();
        s3.put_public("public", key, &std::fs::read(&p).unwrap());
        urls.push(format!("{}/public/{key}", s3.endpoint()));
    }
    let http_store = dir.path().join("http-store");
    let http_store = http_store.to_str().unwrap();
    let mut plan = vec![
        "plan",
        "--batch-id",
        "h",
        "--store",
        http_store,
        "--date",
        "2026-11-24",
    ];
    for url in &urls {
        plan.extend(["--input", url.as_str()]);
    }
    ok(&proofmark(&plan, &key, None));
    ok(&proofmark(
        &["build", "--batch-id", "h", "--store", http_store],
        &key,
        None,
    ));
    let committed = ok(&proofmark(
        &["commit", "--batch-id", "h", "--store", http_store],
        &key,
        None,
    ));
    let root = line(&local, "root");
    let root = root.trim_start_matches("root").trim();
    assert!(committed.contains(root), "{committed}\n{local}");

    // A bucket that does not exist is a clear error naming it.
    let missing = job(
        &s3_dir,
        "s3://no-such-bucket/x",
        "s3://landing/records/**/*.parquet",
    );
    let out = proofmark(&["run", &missing], &key, Some(&s3));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-bucket"), "{err}");
}

/// A commit that finds a built segment damaged in an S3 store fails cleanly (no panic from
/// the index merge it cancels, however often it is tried), names the segment and says how
/// to repair it; `proofmark build` then does, and the commit succeeds.
#[test]
fn a_damaged_segment_in_s3_fails_the_commit_cleanly_and_build_repairs_it() {
    let (s3, dir, key) = started();
    let data = generate(
        dir.path(),
        &key,
        &["--items", "3000", "--seed", "5", "--rows-per-group", "1024"],
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    upload_records(&rt, &s3, &data.join("records"));
    let store = "s3://batches/prod";
    let batch = ["--batch-id", "d", "--store", store];
    let mut plan = vec!["plan", "--input", "s3://landing/records/**/*.parquet"];
    plan.extend(["--date", "2026-11-24"]);
    plan.extend(batch);
    ok(&proofmark(&plan, &key, Some(&s3)));
    ok(&proofmark(
        &[&["build"][..], &batch].concat(),
        &key,
        Some(&s3),
    ));

    // Cut segment 1's leaves short in the bucket.
    let bucket = bucket(&s3, "batches");
    let leaves = object_store::path::Path::from("prod/batches/d/segments/000001.leaves");
    rt.block_on(async {
        use object_store::ObjectStoreExt as _;
        let good = bucket.get(&leaves).await.unwrap().bytes().await.unwrap();
        bucket
            .put(&leaves, good.slice(..good.len() / 2).into())
            .await
            .unwrap();
    });

    let commit = [&["commit"][..], &batch].concat();
    for attempt in 0..3 {
        let out = proofmark(&commit, &key, Some(&s3));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "attempt {attempt}: {err}");
        assert!(
            err.contains("segment 000001's stored outputs fail their check")
                && err.contains("`proofmark build` rebuilds them")
                && err.contains("000001.leaves"),
            "attempt {attempt}: {err}"
        );
        assert!(!err.contains("panicked"), "attempt {attempt}: {err}");
    }
    let rebuilt = ok(&proofmark(
        &[&["build"][..], &batch].concat(),
        &key,
        Some(&s3),
    ));
    assert!(rebuilt.contains("1 rebuilt"), "{rebuilt}");
    let committed = ok(&proofmark(&commit, &key, Some(&s3)));
    assert!(committed.contains("root"), "{committed}");
}

/// The bucket `name` of `s3`, through the object store library the pipeline uses.
fn bucket(s3: &S3Server, name: &str) -> object_store::aws::AmazonS3 {
    object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(name)
        .with_endpoint(s3.endpoint())
        .with_allow_http(true)
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .with_region("us-east-1")
        .build()
        .unwrap()
}

/// A moto server with the buckets `landing` and `batches`, a temporary folder and the path
/// of a ledger key in it.
fn started() -> (S3Server, tempfile::TempDir, PathBuf) {
    let s3 = S3Server::start();
    s3.create_bucket("landing");
    s3.create_bucket("batches");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("ledger.key");
    (s3, dir, key)
}

/// `datasets generate` with `args` into `dir/data`, which it returns.
fn generate(dir: &Path, key: &Path, args: &[&str]) -> PathBuf {
    let data = dir.join("data");
    let mut all = vec!["datasets", "generate", "--out", data.to_str().unwrap()];
    all.extend_from_slice(args);
    ok(&proofmark(&all, key, None));
    data
}

/// Uploads every file under `records` to `s3://landing/records/...` through
/// the same store code the pipeline uses.
fn upload_records(rt: &tokio::runtime::Runtime, s3: &S3Server, records: &Path) {
    use object_store::ObjectStoreExt as _;
    let store = bucket(s3, "landing");
    let files = files_under(records);
    assert!(!files.is_empty());
    rt.block_on(async {
        for f in files {
            let rel = f.strip_prefix(records.parent().unwrap()).unwrap();
            let path = object_store::path::Path::from(rel.to_str().unwrap());
            store
                .put(&path, std::fs::read(&f).unwrap().into())
                .await
                .unwrap();
        }
    });
}

/// Every file under `dir`, at any depth.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files
}
