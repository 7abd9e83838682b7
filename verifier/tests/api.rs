//! The proof API end to end: the committed sample dataset goes through the
//! real pipeline (plan, build, commit, anchor on the embedded ledger), is
//! published into a code index, and the router is driven without a socket.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use proofmark_anchor::chain::{ChainsFile, anchor_batch};
use proofmark_anchor::{BuildOptions, CommitOptions, build_batch, commit_batch};
use proofmark_ingest::{InputMode, PlanOptions, Store, make_plan};
use proofmark_merkle::SuiteId;
use proofmark_schemas::{Kind, RecordView, batch_from_json, encode_row};
use proofmark_verifier::api::{ApiLimits, ApiState, app, openapi};
use proofmark_verifier::verify::{Trust, verify_report};
use proofmark_verifier::{CodeReport, Lookup, RecordEntry, publish};
use serde_json::Value;
use tower::ServiceExt;

const BATCH: &str = "sample-2026-11-24";

/// A store holding the sample batch, anchored, and a published index.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn store_path(&self) -> PathBuf {
        self.dir.path().join("store")
    }
    fn index_path(&self) -> PathBuf {
        self.dir.path().join("index")
    }
    fn store(&self) -> Store {
        Store::from_url(self.store_path().to_str().unwrap()).unwrap()
    }
    fn router(&self) -> Router {
        self.router_with(ApiLimits::default())
    }
    fn router_with(&self, limits: ApiLimits) -> Router {
        let lookup = Lookup::open(self.store(), &self.index_path()).unwrap();
        app(ApiState::new(lookup).with_limits(limits))
    }
    fn trust(&self) -> Trust {
        let key = std::fs::read_to_string(self.store_path().join("log/verifier-key.txt")).unwrap();
        Trust::new().with_ledger_key_text(key.trim()).unwrap()
    }
}

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/sample/records")
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::from_url(dir.path().join("store").to_str().unwrap()).unwrap();
    anchored_batch(&store, dir.path(), BATCH, "2026-11-24").await;
    let outcome = publish(&store, BATCH, &dir.path().join("index"))
        .await
        .unwrap();
    assert!(outcome.published_now);
    Fixture { dir }
}

/// Publish refuses a batch index that does not hold exactly one entry per leaf (SPEC 8.4),
/// even when the manifest's digest agrees with it, and leaves the code index untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_refuses_an_index_without_one_entry_per_leaf() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::from_url(dir.path().join("store").to_str().unwrap()).unwrap();
    anchored_batch(&store, dir.path(), BATCH, "2026-11-24").await;
    let entries_path = dir
        .path()
        .join("store")
        .join(proofmark_anchor::layout::index_path(BATCH));
    let manifest_path = dir
        .path()
        .join("store")
        .join(proofmark_anchor::layout::manifest_path(BATCH));
    let good = std::fs::read(&entries_path).unwrap();
    let manifest = std::fs::read_to_string(&manifest_path).unwrap();
    let good_digest = proofmark_anchor::segment_files::digest(&good);
    assert!(manifest.contains(&good_digest));
    // The last entry of the first key's run pointed at the next leaf, which another entry
    // holds (the order stays sorted), and an extra entry appended.
    let key = |i: usize| &good[24 * i..24 * i + 16];
    let leaf = |i: usize| u64::from_be_bytes(good[24 * i + 16..24 * i + 24].try_into().unwrap());
    let count = good.len() / 24;
    let last = (0..count - 1)
        .find(|&i| key(i) != key(i + 1) && leaf(i) + 1 < count as u64)
        .unwrap();
    let mut twice = good.clone();
    twice[24 * last + 16..24 * last + 24].copy_from_slice(&(leaf(last) + 1).to_be_bytes());
    let first_leaf: [u8; 8] = good[16..24].try_into().unwrap();
    let mut extra = good.clone();
    extra.extend_from_slice(&[0xff; 16]);
    extra.extend_from_slice(&first_leaf);
    for (bytes, want) in [
        (twice, "holds two entries for leaf"),
        (extra, "entries for"),
    ] {
        std::fs::write(&entries_path, &bytes).unwrap();
        let digest = proofmark_anchor::segment_files::digest(&bytes);
        std::fs::write(&manifest_path, manifest.replace(&good_digest, &digest)).unwrap();
        let err = publish(&store, BATCH, &dir.path().join("index"))
            .await
            .unwrap_err();
        match &err {
            proofmark_verifier::VerifierError::BadBatchIndex { message, .. } => {
                assert!(message.contains(want), "{message}")
            }
            other => panic!("{other}"),
        }
        let catalog =
            std::fs::read_to_string(dir.path().join("index/catalog.json")).unwrap_or_default();
        assert!(!catalog.contains(BATCH), "nothing published");
    }
    // The good index, with a manifest that records another digest for it.
    std::fs::write(&entries_path, &good).unwrap();
    let other = format!(
        "{}{}",
        &good_digest[..good_digest.len() - 64],
        "0".repeat(64)
    );
    std::fs::write(&manifest_path, manifest.replace(&good_digest, &other)).unwrap();
    let err = publish(&store, BATCH, &dir.path().join("index"))
        .await
        .unwrap_err();
    match &err {
        proofmark_verifier::VerifierError::BadBatchIndex { message, .. } => {
            assert!(message.contains("has digest"), "{message}")
        }
        other => panic!("{other}"),
    }
}

/// Polls a publish of `batch_id` into `index` until `file` (relative to the index) exists,
/// then drops it (cancels it, as `proofmark run` does on SIGINT or SIGTERM).
async fn cancel_publish_once_written(store: &Store, batch_id: &str, index: &Path, file: &str) {
    let mut publishing = std::pin::pin!(publish(store, batch_id, index));
    for _ in 0..100_000 {
        if let std::task::Poll::Ready(r) = futures::poll!(publishing.as_mut()) {
            panic!("the publish ended before it was cancelled: {r:?}");
        }
        if index.join(file).exists() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_micros(200)).await;
    }
    panic!("the publish never wrote {file}");
}

/// The index files of `index`: its runs and record files, temporary ones too.
fn index_files(index: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for dir in [index.to_path_buf(), index.join("records")] {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("run-") || name.ends_with(".bin") || name.ends_with(".tmp") {
                names.push(name);
            }
        }
    }
    names.sort();
    names
}

/// A publish cancelled midway (its future dropped, as on SIGINT or SIGTERM) removes what it
/// wrote, in a new index and in one that holds a batch already; the next publish succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_publish_removes_what_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::from_url(dir.path().join("store").to_str().unwrap()).unwrap();
    let index = dir.path().join("index");
    anchored_batch(&store, dir.path(), BATCH, "2026-11-24").await;
    for file in ["run-00000000.bin", "records/00000000.bin.tmp"] {
        cancel_publish_once_written(&store, BATCH, &index, file).await;
        assert_eq!(index_files(&index), Vec::<String>::new(), "after {file}");
    }
    assert!(publish(&store, BATCH, &index).await.unwrap().published_now);
    let first = index_files(&index);
    anchored_batch(&store, dir.path(), "sample-2026-11-25", "2026-11-25").await;
    cancel_publish_once_written(
        &store,
        "sample-2026-11-25",
        &index,
        "records/00000001.bin.tmp",
    )
    .await;
    assert_eq!(index_files(&index), first);
    let next = publish(&store, "sample-2026-11-25", &index).await.unwrap();
    assert!(next.published_now);
}

/// Plans, builds, commits and anchors batch `batch_id` of the sample in `store`.
async fn anchored_batch(store: &Store, dir: &Path, batch_id: &str, date: &str) {
    let inputs: Vec<String> = ["production", "customs", "logistics", "inspection"]
        .iter()
        .map(|k| {
            sample_dir()
                .join(k)
                .join("part-00000.parquet")
                .display()
                .to_string()
        })
        .collect();
    let opts = PlanOptions {
        batch_id: batch_id.into(),
        batch_date: date.into(),
        suite: SuiteId::Blake3,
        input_mode: InputMode::Copy,
    };
    make_plan(store, &inputs, &opts, &|_| {}).await.unwrap();
    build_batch(store, batch_id, &BuildOptions::default(), &|_| {})
        .await
        .unwrap();
    commit_batch(store, batch_id, &CommitOptions::default(), &|_| {})
        .await
        .unwrap();
    let key = dir.join("ledger.key");
    let chains = ChainsFile::parse(
        "chains.toml",
        &format!(
            "[chains.ledger]\ntype = \"ledger\"\norigin = \"test.local/ledger\"\nkey_file = {:?}\n",
            key.display().to_string()
        ),
    )
    .unwrap();
    anchor_batch(store, batch_id, "ledger", &chains)
        .await
        .unwrap();
}

/// The OpenAPI document, built once.
fn doc() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(openapi::document)
}

/// The document's path that `path` is an instance of (`{name}` stands for one segment).
fn template_of(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    doc()["paths"]
        .as_object()
        .unwrap()
        .keys()
        .find(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == segments.len()
                && parts.iter().zip(&segments).all(|(t, s)| {
                    t == s || (t.starts_with('{') && t.ends_with('}') && !s.is_empty())
                })
        })
        .map(String::as_str)
}

/// The error codes a response of the document names (empty for a response that is no
/// error answer), its `$ref` to a shared response followed.
fn documented_codes(response: &Value) -> Vec<String> {
    let response = match response["$ref"].as_str() {
        Some(r) => {
            let name = r.strip_prefix("#/components/responses/").unwrap();
            &doc()["components"]["responses"][name]
        }
        None => response,
    };
    response["content"]["application/json"]["schema"]["properties"]["error"]["properties"]
        ["code"]["enum"]
        .as_array()
        .map(|codes| {
            codes
                .iter()
                .map(|c| c.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts that the OpenAPI document describes this answer of the API: for a path and method it
/// lists, the status among the operation's responses and an error answer's code among those
/// that response names; for a path it lists asked with another method, 405
/// `method_not_allowed` with an `Allow` of exactly the methods it lists for the path (and HEAD
/// with GET), as its `MethodNotAllowed` response says; for any other path, 404 `not_found`,
/// its `NotFound` response.
fn assert_documented(method: &Method, uri: &str, status: StatusCode, allow: &str, body: &[u8]) {
    let path = uri.split('?').next().unwrap();
    let code = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned));
    // The error code, where the answer has a body (a HEAD answer has none).
    let has_code =
        |want: &str| code.as_deref() == Some(want) || (*method == Method::HEAD && body.is_empty());
    let shared = |name: &str| json_ref(&format!("#/components/responses/{name}"));
    let Some(template) = template_of(path) else {
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {uri}");
        assert!(has_code("not_found"), "{method} {uri}: {code:?}");
        assert_eq!(documented_codes(&shared("NotFound")), ["not_found"]);
        return;
    };
    let ops = doc()["paths"][template].as_object().unwrap();
    let name = if *method == Method::HEAD {
        "get".to_owned()
    } else {
        method.as_str().to_ascii_lowercase()
    };
    let Some(op) = ops.get(&name) else {
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        assert!(has_code("method_not_allowed"), "{method} {uri}: {code:?}");
        assert_eq!(
            documented_codes(&shared("MethodNotAllowed")),
            ["method_not_allowed"]
        );
        assert!(
            doc()["components"]["responses"]["MethodNotAllowed"]["headers"]["Allow"].is_object()
        );
        let mut expected: Vec<String> = ops.keys().map(|m| m.to_ascii_uppercase()).collect();
        if expected.iter().any(|m| m == "GET") {
            expected.push("HEAD".into());
        }
        expected.sort();
        let mut got: Vec<String> = allow.split(',').map(|m| m.trim().to_owned()).collect();
        got.sort();
        assert_eq!(got, expected, "{method} {uri}: Allow {allow:?}");
        return;
    };
    let response = op["responses"]
        .get(status.as_str())
        .unwrap_or_else(|| panic!("{method} {template}: {status} is not documented"));
    let codes = documented_codes(response);
    if let Some(code) = code.filter(|_| !status.is_success()) {
        assert!(
            codes.contains(&code),
            "{method} {template}: {status} {code} is not documented (it names {codes:?})"
        );
    }
}

/// A `$ref` object.
fn json_ref(target: &str) -> Value {
    serde_json::json!({ "$ref": target })
}

async fn call(router: &Router, req: Request<Body>) -> (StatusCode, String, Vec<u8>) {
    let (method, uri) = (req.method().clone(), req.uri().to_string());
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let allow = res
        .headers()
        .get(header::ALLOW)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    // Every answer of the API, error or not (SPEC 11.3).
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store", "{status}");
    assert_eq!(
        res.headers()[header::X_CONTENT_TYPE_OPTIONS],
        "nosniff",
        "{status}"
    );
    let ctype = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    // Every answer these tests get is one the OpenAPI document describes.
    assert_documented(&method, &uri, status, &allow, &body);
    (status, ctype, body)
}

async fn get(router: &Router, uri: &str) -> (StatusCode, String, Vec<u8>) {
    call(router, Request::get(uri).body(Body::empty()).unwrap()).await
}

fn error_code(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(v.as_object().unwrap().len(), 1, "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    v["error"]["code"].as_str().unwrap().to_owned()
}

/// The item codes of the sample's production records (with a lot), in file order.
fn production_codes() -> Vec<String> {
    let file = std::fs::File::open(sample_dir().join("production/part-00000.parquet")).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut codes = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let view = RecordView::try_new(Kind::Production, &batch).unwrap();
        for row in 0..batch.num_rows() {
            let rec = proofmark_schemas::row_to_json(&view, row);
            if let (Some(code), Some(_)) = (rec["code"].as_str(), rec["lot_id"].as_str())
                && proofmark_schemas::validate::is_valid_code(code)
            {
                codes.push(code.to_owned());
            }
        }
    }
    codes
}

/// A code whose report has lot inspection records, and that report.
async fn code_with_lot_inspections(router: &Router) -> (String, CodeReport) {
    for code in production_codes().into_iter().take(40) {
        let (status, _, body) = get(router, &format!("/v1/codes/{code}")).await;
        if status != StatusCode::OK {
            continue;
        }
        let report: CodeReport = serde_json::from_slice(&body).unwrap();
        if report
            .records
            .iter()
            .any(|r| r.kind == "inspection" && r.subject == "lot")
        {
            return (code, report);
        }
    }
    panic!("no code among the first 40 has lot inspections");
}

/// Every record of `report` checks: re-encoding, leaf hash, proof to the root.
fn assert_report_checks(report: &CodeReport) {
    for r in &report.records {
        let kind: Kind = r.kind.parse().unwrap();
        let batch = batch_from_json(kind, &[Value::Object(r.record.clone())]).unwrap();
        let view = RecordView::try_new(kind, &batch).unwrap();
        let mut canonical = Vec::new();
        encode_row(&view, 0, &mut canonical);
        assert_eq!(hex::encode(&canonical), r.canonical);
        let info = &report.batches[&r.batch_id];
        let suite: SuiteId = info.suite.parse().unwrap();
        let leaf = suite.hash_leaf(&canonical);
        assert_eq!(hex::encode(leaf), r.leaf_hash);
        let envelope = r.proof_envelope().unwrap();
        let proofmark_merkle::Proof::Batch(proof) = envelope.proof else {
            panic!("not a batch proof");
        };
        let mut root = [0u8; 32];
        hex::decode_to_slice(&info.root, &mut root).unwrap();
        proofmark_anchor::verify_leaf_proof(suite, &leaf, &proof, &root).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_report_holds_its_records_its_lots_records_and_proofs() {
    let fx = fixture().await;
    let router = fx.router();
    let (code, report) = code_with_lot_inspections(&router).await;
    assert_eq!(report.format, "proofmark-code/1");
    assert_eq!(report.code, code);
    assert_eq!(report.subjects[0].subject_type, "item");
    assert!(
        report
            .subjects
            .iter()
            .skip(1)
            .all(|s| s.subject_type == "lot")
    );
    assert!(report.subjects.len() >= 2);
    let kinds: Vec<&str> = report.records.iter().map(|r| r.kind.as_str()).collect();
    assert!(kinds.contains(&"production"), "{kinds:?}");
    assert!(kinds.contains(&"logistics"), "{kinds:?}");
    // Records of the lot are the lot's own (no code); the item's carry the code.
    for r in &report.records {
        match r.subject.as_str() {
            "item" => assert_eq!(r.record["code"].as_str(), Some(code.as_str())),
            "lot" => assert!(r.record["code"].is_null(), "{:?}", r.record),
            other => panic!("subject {other}"),
        }
        assert_eq!(r.batch_id, BATCH);
        assert_eq!(r.source.provided_by, r.record["org_id"].as_str().unwrap());
        assert!(
            r.source
                .file
                .ends_with(&format!("{}/part-00000.parquet", r.kind))
        );
    }
    let times: Vec<i64> = report
        .records
        .iter()
        .map(|r| r.record["event_time"].as_i64().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "ordered by event_time"
    );
    assert_report_checks(&report);
    // The batch's receipts come with the report, and the whole report verifies.
    let info = &report.batches[BATCH];
    assert_eq!(info.anchors["ledger"]["batch_id"], BATCH);
    let verdict = verify_report(&report, &fx.trust());
    assert!(verdict.verified, "{:?}", verdict.reasons);

    // With decoded row groups cached, the same report, read or cached.
    let cached = Lookup::open(fx.store(), &fx.index_path())
        .unwrap()
        .with_row_group_cache_bytes(64 << 20);
    for _ in 0..2 {
        assert_eq!(cached.report(&code).await.unwrap().as_ref(), Some(&report));
    }

    // The canonical bytes are those of the row in the input file.
    let production = production_record(&report);
    let file = std::fs::File::open(sample_dir().join("production/part-00000.parquet")).unwrap();
    let batches: Vec<_> = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut row = production.source.row as usize;
    let batch = batches
        .iter()
        .find(|b| {
            if row < b.num_rows() {
                true
            } else {
                row -= b.num_rows();
                false
            }
        })
        .unwrap();
    let view = RecordView::try_new(Kind::Production, batch).unwrap();
    let mut canonical = Vec::new();
    encode_row(&view, row, &mut canonical);
    assert_eq!(hex::encode(canonical), production.canonical);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_malformed_codes_and_routes_are_json_errors() {
    let fx = fixture().await;
    let router = fx.router();
    let (status, ctype, body) = get(&router, "/v1/codes/ZZZZ00000000000000000").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(ctype, "application/json");
    assert_eq!(error_code(&body), "unknown_code");
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no anchored batch")
    );
    for bad in [
        "abc",
        "bad%20code%21",
        "%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9",
        "%FF%FE%FD%FC%FB%FA",
        &"9".repeat(49),
    ] {
        let (status, _, body) = get(&router, &format!("/v1/codes/{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(error_code(&body), "malformed_code");
    }
    // What the client sent is quoted plainly: no Rust escapes, an unseen character by its
    // code point, a long id cut with its length.
    let message = |body: &[u8]| -> String {
        let v: Value = serde_json::from_slice(body).unwrap();
        v["error"]["message"].as_str().unwrap().to_owned()
    };
    let (_, _, body) = get(&router, "/v1/codes/97837978498369312371%EF%BB%BF").await;
    let text = message(&body);
    assert!(
        text.starts_with("\"97837978498369312371U+FEFF\" is not a code"),
        "{text}"
    );
    let (status, _, body) = get(&router, "/v1/batches/%00").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        message(&body),
        "no batch \"U+0000\" is published to this service"
    );
    let (_, _, body) = get(&router, &format!("/v1/batches/{}", "b".repeat(5000))).await;
    let text = message(&body);
    assert!(text.contains("... (5000 characters)"), "{text}");
    assert!(text.len() < 200, "{text}");
    let (status, _, body) = get(&router, "/v2/nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "not_found");
    // A route asked with a method it does not take: 405 with the JSON error and `Allow`.
    for (method, uri, allowed) in [
        ("POST", "/v1/codes/97837978498369312371", "GET"),
        ("DELETE", "/v1/batches", "GET"),
        ("GET", "/v1/audit", "POST"),
    ] {
        let response = router
            .clone()
            .oneshot(
                Request::builder()
                    .method(method)
                    .uri(uri)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri}"
        );
        let allow = response.headers()["allow"].to_str().unwrap().to_owned();
        assert!(allow.contains(allowed), "{method} {uri}: {allow}");
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(error_code(&body), "method_not_allowed", "{method} {uri}");
    }
}

/// Every path of the OpenAPI document asked with every method, and paths it does not list:
/// each answer is one the document describes (`call` checks it), a method a path does not take
/// included (405 with `Allow`), as is a path that is no route (404 `not_found`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_and_method_answers_as_the_openapi_document_says() {
    let fx = fixture().await;
    let router = fx.router();
    let code = production_codes()[0].clone();
    let mut statuses = Vec::new();
    for template in doc()["paths"].as_object().unwrap().keys() {
        let uri = template
            .replace("{code}", &code)
            .replace("{batch_id}", BATCH);
        for method in [
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
            Method::OPTIONS,
        ] {
            let req = Request::builder()
                .method(method.clone())
                .uri(&uri)
                .body(Body::from(code.clone()))
                .unwrap();
            let (status, _, _) = call(&router, req).await;
            statuses.push(status);
        }
    }
    assert!(statuses.contains(&StatusCode::METHOD_NOT_ALLOWED));
    for uri in [
        "/v2/nothing",
        "/v1/codes",
        "/v1/codes/",
        "/v1/codes/a/b",
        "/healthz/x",
    ] {
        let (status, _, _) = get(&router, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
    }
    // As docs/operations.md says of the request counter's labels: a method a route does not
    // take counts under the route, a path of no route under `unmatched`.
    let (_, _, metrics) = get(&router, "/metrics").await;
    let metrics = String::from_utf8(metrics).unwrap();
    for line in [
        "proofmark_http_requests_total{route=\"/healthz\",status=\"405\"} 5",
        "proofmark_http_requests_total{route=\"unmatched\",status=\"404\"} 5",
    ] {
        assert!(metrics.contains(line), "{line}: {metrics}");
    }
    // The integers of the schemas are unsigned 64-bit, as SPEC.md 11.1 says.
    let source = &doc()["components"]["schemas"]["RecordSource"]["properties"];
    assert_eq!(source["row"]["format"], "uint64");
    assert_eq!(source["row"]["minimum"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_listed_and_described_with_receipts() {
    let fx = fixture().await;
    let router = fx.router();
    let (status, _, body) = get(&router, "/v1/batches").await;
    assert_eq!(status, StatusCode::OK);
    let list: Value = serde_json::from_slice(&body).unwrap();
    let batches = list["batches"].as_array().unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0]["batch_id"], BATCH);
    assert_eq!(batches[0]["suite"], "blake3");
    assert_eq!(batches[0]["batch_date"], "2026-11-24");
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(
            fx.store_path()
                .join(format!("batches/{BATCH}/manifest.json")),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(batches[0]["root"], manifest["root"]);
    assert_eq!(batches[0]["leaf_count"], manifest["leaf_count"]);

    let (status, _, body) = get(&router, &format!("/v1/batches/{BATCH}")).await;
    assert_eq!(status, StatusCode::OK);
    let detail: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(detail["batch_id"], BATCH);
    assert_eq!(detail["root"], manifest["root"]);
    assert_eq!(detail["anchors"]["ledger"]["root"], manifest["root"]);
    assert_eq!(detail["manifest_digest"], batches[0]["manifest_digest"]);

    for id in ["no-such-batch", "%FF%FE"] {
        let (status, _, body) = get(&router, &format!("/v1/batches/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(error_code(&body), "unknown_batch");
    }
}

/// The batch list serves the code index's catalog: a catalog whose root, suite, leaf count or
/// date is not the stored manifest's is an integrity failure of the list and of the batch,
/// never a description that contradicts the reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_that_contradicts_the_manifest_is_an_integrity_failure() {
    let path_of = |fx: &Fixture| fx.index_path().join("catalog.json");
    for (field, value) in [
        ("root", Value::from("00".repeat(32))),
        ("suite", Value::from("sha256-rfc6962")),
        ("leaf_count", Value::from(1)),
        ("batch_date", Value::from("2026-11-23")),
    ] {
        let fx = fixture().await;
        let path = path_of(&fx);
        let mut catalog: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        catalog["batches"][0][field] = value;
        std::fs::write(&path, serde_json::to_vec_pretty(&catalog).unwrap()).unwrap();
        let router = fx.router();
        for uri in ["/v1/batches".to_owned(), format!("/v1/batches/{BATCH}")] {
            let (status, _, body) = get(&router, &uri).await;
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{field}: {uri}");
            assert_eq!(error_code(&body), "integrity_failure", "{field}: {uri}");
            let message = String::from_utf8_lossy(&body).to_string();
            assert!(message.contains(field), "{message}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audits_stream_one_line_per_code_in_order() {
    let fx = fixture().await;
    let router = fx.router_with(ApiLimits {
        audit_body_bytes: 4096,
        audit_codes: 5,
        audit_concurrency: 3,
    });
    let codes = production_codes();
    let asked = [
        codes[0].as_str(),
        "ZZZZ00000000000000000",
        "no!",
        codes[1].as_str(),
    ];
    let bodies = [
        serde_json::to_string(&asked).unwrap(),
        asked.join("\n") + "\n",
    ];
    for body in bodies {
        let req = Request::post("/v1/audit").body(Body::from(body)).unwrap();
        let (status, ctype, out) = call(&router, req).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ctype, "application/x-ndjson");
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4, "{text}");
        let report: CodeReport = serde_json::from_value(lines[0].clone()).unwrap();
        assert_eq!(report.code, codes[0]);
        assert_report_checks(&report);
        assert_eq!(lines[1]["code"], "ZZZZ00000000000000000");
        assert_eq!(lines[1]["error"]["code"], "unknown_code");
        assert_eq!(lines[2]["error"]["code"], "malformed_code");
        assert_eq!(lines[3]["code"], codes[1].as_str());
        assert_eq!(lines[3]["format"], "proofmark-code/1");
    }

    // Bounded: a body over the byte limit, or with too many codes, is 413.
    let big = "A".repeat(5000);
    let (status, _, body) = call(
        &router,
        Request::post("/v1/audit").body(Body::from(big)).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(&body), "body_too_large");
    // A Content-Length over the limit is refused before the body is read: this body
    // never ends, so reading it would never answer.
    let endless = futures::stream::pending::<Result<axum::body::Bytes, std::io::Error>>();
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        call(
            &router,
            Request::post("/v1/audit")
                .header(header::CONTENT_LENGTH, "100000000")
                .header(header::EXPECT, "100-continue")
                .body(Body::from_stream(endless))
                .unwrap(),
        ),
    )
    .await
    .expect("the body was read before the Content-Length was refused");
    assert_eq!(answer.0, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(&answer.2), "body_too_large");
    let many = codes[..6].join("\n");
    let (status, _, body) = call(
        &router,
        Request::post("/v1/audit").body(Body::from(many)).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(&body), "too_many_codes");
    let (status, _, body) = call(
        &router,
        Request::post("/v1/audit")
            .body(Body::from("[1,2]"))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "malformed_body");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_the_openapi_document_match_the_service() {
    let fx = fixture().await;
    let router = fx.router();
    let (status, _, body) = get(&router, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    let health: Value = serde_json::from_slice(&body).unwrap();

    let code = production_codes()[0].clone();
    let (status, _, report_body) = get(&router, &format!("/v1/codes/{code}")).await;
    assert_eq!(status, StatusCode::OK);
    get(&router, "/v1/codes/ZZZZ00000000000000000").await;
    let (status, ctype, body) = get(&router, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("text/plain"));
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("proofmark_http_requests_total{route=\"/v1/codes/{code}\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("proofmark_http_requests_total{route=\"/v1/codes/{code}\",status=\"404\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("proofmark_lookups_total{outcome=\"found\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("proofmark_lookups_total{outcome=\"unknown\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("proofmark_lookup_duration_seconds_count 2"),
        "{text}"
    );

    // The OpenAPI document: every route answers, and every schema's
    // properties are exactly the keys of real responses.
    let (status, _, body) = get(&router, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc, openapi::document());
    let (_, _, list_body) = get(&router, "/v1/batches").await;
    let (_, _, detail_body) = get(&router, &format!("/v1/batches/{BATCH}")).await;
    let (_, _, error_body) = get(&router, "/v1/codes/abc").await;
    let audit_req = Request::post("/v1/audit")
        .body(Body::from("ZZZZ00000000000000000"))
        .unwrap();
    let (_, _, audit_body) = call(&router, audit_req).await;
    let report: Value = serde_json::from_slice(&report_body).unwrap();
    let schemas = &doc["components"]["schemas"];
    let check = |name: &str, value: &Value| {
        let schema = &schemas[name];
        let mut props: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
        let mut keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        let mut required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        props.sort();
        keys.sort();
        required.sort_unstable();
        assert_eq!(props, keys, "schema {name}");
        assert_eq!(
            required,
            keys.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            "schema {name}"
        );
    };
    check("CodeReport", &report);
    check("SubjectRef", &report["subjects"][0]);
    check("RecordEntry", &report["records"][0]);
    check("RecordSource", &report["records"][0]["source"]);
    check("BatchProof", &report["records"][0]["proof"]);
    check("BatchInfo", &report["batches"][BATCH]);
    let list: Value = serde_json::from_slice(&list_body).unwrap();
    check("BatchList", &list);
    check("BatchListing", &list["batches"][0]);
    check(
        "BatchDetail",
        &serde_json::from_slice(&detail_body).unwrap(),
    );
    let error: Value = serde_json::from_slice(&error_body).unwrap();
    check("Error", &error);
    check("ErrorDetail", &error["error"]);
    check("AuditError", &serde_json::from_slice(&audit_body).unwrap());
    check("Health", &health);
    for (method, path) in proofmark_verifier::api::ROUTES {
        let uri = path.replace("{code}", &code).replace("{batch_id}", BATCH);
        let req = Request::builder()
            .method(method.to_uppercase().as_str())
            .uri(uri)
            .body(Body::from(code.clone()))
            .unwrap();
        let (status, _, _) = call(&router, req).await;
        assert_eq!(status, StatusCode::OK, "{method} {path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_again_does_nothing() {
    let fx = fixture().await;
    let catalog = std::fs::read(fx.index_path().join("catalog.json")).unwrap();
    let runs: Vec<_> = std::fs::read_dir(fx.index_path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let again = publish(&fx.store(), BATCH, &fx.index_path()).await.unwrap();
    assert!(!again.published_now);
    assert_eq!(
        std::fs::read(fx.index_path().join("catalog.json")).unwrap(),
        catalog
    );
    let after: Vec<_> = std::fs::read_dir(fx.index_path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(runs, after);
    // The same batch id with another manifest is not the published batch: refused, not a
    // silent no-op.
    let manifest_path = fx
        .dir
        .path()
        .join("store")
        .join(proofmark_anchor::layout::manifest_path(BATCH));
    let good = std::fs::read(&manifest_path).unwrap();
    let mut changed = good.clone();
    changed.push(b'\n');
    std::fs::write(&manifest_path, &changed).unwrap();
    let err = publish(&fx.store(), BATCH, &fx.index_path())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            proofmark_verifier::VerifierError::BatchRewritten { .. }
        ),
        "{err}"
    );
    std::fs::write(&manifest_path, &good).unwrap();
    // A batch that is not committed is refused.
    let err = publish(&fx.store(), "no-such-batch", &fx.index_path())
        .await
        .unwrap_err();
    assert!(
        matches!(err, proofmark_verifier::VerifierError::NotCommitted(_)),
        "{err}"
    );
    // A running service sees a batch published after it started.
    let router = fx.router();
    anchored_batch(
        &fx.store(),
        fx.dir.path(),
        "sample-2026-11-25",
        "2026-11-25",
    )
    .await;
    let next = publish(&fx.store(), "sample-2026-11-25", &fx.index_path())
        .await
        .unwrap();
    assert!(next.published_now);
    assert_eq!(next.runs, 1, "two runs of equal size are merged");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (_, _, body) = get(&router, "/v1/batches").await;
    let list: Value = serde_json::from_slice(&body).unwrap();
    let ids: Vec<&str> = list["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["batch_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [BATCH, "sample-2026-11-25"]);
    let code = production_codes()[0].clone();
    let (status, _, body) = get(&router, &format!("/v1/codes/{code}")).await;
    assert_eq!(status, StatusCode::OK);
    let report: CodeReport = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        report.batches.len(),
        2,
        "the code's records are in both batches"
    );
    assert_report_checks(&report);
}

/// The path of the stored segment file `suffix` of the segment holding the
/// report's first production record, and that record's index in it.
/// The report's (first) production record.
fn production_record(report: &CodeReport) -> &RecordEntry {
    report
        .records
        .iter()
        .find(|r| r.kind == "production")
        .unwrap()
}

fn production_segment(fx: &Fixture, report: &CodeReport, suffix: &str) -> (PathBuf, u64) {
    let r = production_record(report);
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(
            fx.store_path()
                .join(format!("batches/{BATCH}/manifest.json")),
        )
        .unwrap(),
    )
    .unwrap();
    let non_empty: Vec<&Value> = manifest["segments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["leaf_count"].as_u64().unwrap() > 0)
        .collect();
    let segment = non_empty[r.proof["segment_index"].as_u64().unwrap() as usize]["segment"]
        .as_u64()
        .unwrap();
    (
        fx.store_path()
            .join(format!("batches/{BATCH}/segments/{segment:06}.{suffix}")),
        r.proof["index"].as_u64().unwrap(),
    )
}

fn flip(path: &Path, offset: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

async fn assert_integrity_failure(fx: &Fixture, code: &str) {
    let router = fx.router();
    let (status, _, body) = get(&router, &format!("/v1/codes/{code}")).await;
    assert_eq!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(error_code(&body), "integrity_failure");
    let req = Request::post("/v1/audit")
        .body(Body::from(code.to_owned()))
        .unwrap();
    let (_, _, out) = call(&router, req).await;
    let line: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(line["error"]["code"], "integrity_failure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_leaf_or_tree_byte_is_never_reported_as_fine() {
    let fx = fixture().await;
    let (code, report) = code_with_lot_inspections(&fx.router()).await;
    let (leaves, index) = production_segment(&fx, &report, "leaves");
    flip(&leaves, index as usize * 32 + 7);
    assert_integrity_failure(&fx, &code).await;
    flip(&leaves, index as usize * 32 + 7);
    let (status, _, _) = get(&fx.router(), &format!("/v1/codes/{code}")).await;
    assert_eq!(status, StatusCode::OK, "restored");

    let (tree, _) = production_segment(&fx, &report, "tree");
    let len = std::fs::metadata(&tree).unwrap().len() as usize;
    assert!(len > 12 + 32, "the production segment has stored levels");
    flip(&tree, 12 + 5);
    assert_integrity_failure(&fx, &code).await;
}

/// Makes the fixture's index one published before record files: the
/// catalog names none and the files are gone, so lookups read records back
/// from the input Parquet files.
fn drop_record_files(fx: &Fixture) {
    let path = fx.index_path().join("catalog.json");
    let mut catalog: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for b in catalog["batches"].as_array_mut().unwrap() {
        assert!(b.as_object_mut().unwrap().remove("records").is_some());
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&catalog).unwrap()).unwrap();
    std::fs::remove_dir_all(fx.index_path().join("records")).unwrap();
}

/// The record file of the fixture's batch and where the canonical bytes of
/// leaf `leaf` are in it (offset and length).
fn record_in_file(fx: &Fixture, leaf: u64) -> (PathBuf, usize, usize) {
    let path = fx.index_path().join("records/00000000.bin");
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..8], b"PMRECS01");
    let n = u64::from_le_bytes(bytes[8..16].try_into().unwrap()) as usize;
    let off =
        |i: usize| u64::from_le_bytes(bytes[16 + 8 * i..24 + 8 * i].try_into().unwrap()) as usize;
    let data = 16 + 8 * (n + 1);
    let leaf = leaf as usize;
    (path, data + off(leaf), off(leaf + 1) - off(leaf))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_record_file_byte_is_never_reported_as_fine() {
    let fx = fixture().await;
    let (code, report) = code_with_lot_inspections(&fx.router()).await;
    let production = production_record(&report);
    let (path, at, len) = record_in_file(&fx, production.leaf_index);
    assert_eq!(len, production.canonical.len() / 2);
    // A value byte, a padding byte, the header's length, then an offset.
    for offset in [at + 10, at + len - 1, at + 2] {
        flip(&path, offset);
        assert_integrity_failure(&fx, &code).await;
        flip(&path, offset);
        let (status, _, _) = get(&fx.router(), &format!("/v1/codes/{code}")).await;
        assert_eq!(status, StatusCode::OK, "restored");
    }
    flip(&path, 16 + 8 * production.leaf_index as usize + 1);
    assert_integrity_failure(&fx, &code).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_served_from_the_record_file_without_the_inputs() {
    let fx = fixture().await;
    let (code, before) = code_with_lot_inspections(&fx.router()).await;
    std::fs::remove_dir_all(fx.store_path().join(format!("batches/{BATCH}/inputs"))).unwrap();
    let (status, _, body) = get(&fx.router(), &format!("/v1/codes/{code}")).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let after: CodeReport = serde_json::from_slice(&body).unwrap();
    assert_eq!(after, before);
    assert_report_checks(&after);
    assert!(verify_report(&after, &fx.trust()).verified);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_again_adds_a_missing_record_file() {
    let fx = fixture().await;
    let (code, before) = code_with_lot_inspections(&fx.router()).await;
    drop_record_files(&fx);
    let (status, _, body) = get(&fx.router(), &format!("/v1/codes/{code}")).await;
    assert_eq!(status, StatusCode::OK, "the Parquet fallback");
    assert_eq!(serde_json::from_slice::<CodeReport>(&body).unwrap(), before);
    let outcome = publish(&fx.store(), BATCH, &fx.index_path()).await.unwrap();
    assert!(!outcome.published_now);
    assert_eq!(
        outcome.batch.records.as_deref(),
        Some("records/00000000.bin")
    );
    let production = before
        .records
        .iter()
        .find(|r| r.kind == "production")
        .unwrap();
    let (path, at, _) = record_in_file(&fx, production.leaf_index);
    flip(&path, at + 10);
    assert_integrity_failure(&fx, &code).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_input_record_is_never_reported_as_fine() {
    let fx = fixture().await;
    drop_record_files(&fx);
    let (code, report) = code_with_lot_inspections(&fx.router()).await;
    let copy = fx
        .store_path()
        .join(format!("batches/{BATCH}/inputs/production"));
    let copy = std::fs::read_dir(copy)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let original = std::fs::read(&copy).unwrap();

    // Flipped bytes all over the file: whatever a flip does (nothing to this
    // record, a changed value, an undecodable page or footer), a report that
    // comes back must check.
    let step = original.len() / 24;
    let mut failures = 0;
    for offset in (4..original.len() - 8).step_by(step) {
        let mut bytes = original.clone();
        bytes[offset] ^= 0x01;
        std::fs::write(&copy, &bytes).unwrap();
        let (status, _, body) = get(&fx.router(), &format!("/v1/codes/{code}")).await;
        if status == StatusCode::OK {
            let r: CodeReport = serde_json::from_slice(&body).unwrap();
            assert_report_checks(&r);
            assert!(verify_report(&r, &fx.trust()).verified);
        } else {
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
            failures += 1;
        }
    }
    assert!(
        failures > 0,
        "some flips hit the record's pages or the footer"
    );

    // The record's own value changed (the file rewritten, still valid Parquet).
    let production = production_record(&report);
    let file = std::fs::File::open(sample_dir().join("production/part-00000.parquet")).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(builder.metadata().row_group(0).num_rows() as usize))
        .build();
    let mut rows: Vec<Value> = Vec::new();
    for batch in builder.build().unwrap() {
        let batch = batch.unwrap();
        let view = RecordView::try_new(Kind::Production, &batch).unwrap();
        for i in 0..batch.num_rows() {
            rows.push(Value::Object(proofmark_schemas::row_to_json(&view, i)));
        }
    }
    let row = production.source.row as usize;
    rows[row]["brand"] = Value::String("Not The Brand".into());
    let changed = batch_from_json(Kind::Production, &rows).unwrap();
    let out = std::fs::File::create(&copy).unwrap();
    let mut w = ArrowWriter::try_new(out, changed.schema(), Some(props)).unwrap();
    w.write(&changed).unwrap();
    w.close().unwrap();
    assert_integrity_failure(&fx, &code).await;
}

/// The answer of `GET /v1/codes/{code}` (written from each record's entry)
/// is byte for byte `serde_json::to_vec` of `Lookup::report`'s report, with
/// records read from the record file and read back from Parquet, first read
/// and from the lot cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answer_is_the_report_s_serde_json_text() {
    let fx = fixture().await;
    let codes: Vec<String> = production_codes().into_iter().take(60).collect();
    for read_back in [false, true] {
        if read_back {
            drop_record_files(&fx);
        }
        let router = fx.router();
        let lookup = Lookup::open(fx.store(), &fx.index_path()).unwrap();
        let mut found = 0;
        for _ in 0..2 {
            for code in &codes {
                let (status, _, body) = get(&router, &format!("/v1/codes/{code}")).await;
                let Some(report) = lookup.report(code).await.unwrap() else {
                    assert_eq!(status, StatusCode::NOT_FOUND);
                    continue;
                };
                assert_eq!(status, StatusCode::OK);
                let want = serde_json::to_vec(&report).unwrap();
                assert_eq!(
                    String::from_utf8(body).unwrap(),
                    String::from_utf8(want).unwrap(),
                    "{code}"
                );
                assert_eq!(
                    lookup.report_json(code).await.unwrap(),
                    Some(report.to_json_vec())
                );
                found += 1;
            }
        }
        assert!(found >= 100, "{found} codes found");
    }
}

/// A record replaced by another one together with its stored leaf hash (the
/// record then hashes to "its" leaf) still does not lead to the stored tree
/// above it: an integrity failure, never a report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_and_leaf_replaced_together_are_never_reported_as_fine() {
    let fx = fixture().await;
    let (code, report) = code_with_lot_inspections(&fx.router()).await;
    let production = production_record(&report);
    let leaf = production.leaf_index;
    // A neighbour in the same segment with canonical bytes of the same length.
    let (path, at, len) = record_in_file(&fx, leaf);
    let (leaves_path, index) = production_segment(&fx, &report, "leaves");
    let mut leaves = std::fs::read(&leaves_path).unwrap();
    let other = [leaf + 1, leaf.wrapping_sub(1)]
        .into_iter()
        .zip([index + 1, index.wrapping_sub(1)])
        .find(|&(l, i)| (i as usize + 1) * 32 <= leaves.len() && record_in_file(&fx, l).2 == len)
        .expect("a neighbour of the same length");
    let (_, other_at, _) = record_in_file(&fx, other.0);
    let mut records = std::fs::read(&path).unwrap();
    let replacement = records[other_at..other_at + len].to_vec();
    records[at..at + len].copy_from_slice(&replacement);
    std::fs::write(&path, records).unwrap();
    let i = index as usize * 32;
    let o = other.1 as usize * 32;
    let hash = leaves[o..o + 32].to_vec();
    leaves[i..i + 32].copy_from_slice(&hash);
    std::fs::write(&leaves_path, leaves).unwrap();
    assert_integrity_failure(&fx, &code).await;
}

/// A code whose lot has more records of its own than the lookup's limit gets
/// `report_too_large`, never a report that lists only some of them; with the
/// limit at the lot's count the same code is answered in full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lot_over_the_limit_gets_no_partial_report() {
    let fx = fixture().await;
    let (code, report) = code_with_lot_inspections(&fx.router()).await;
    let lot = &report.subjects[1].id;
    let own = report
        .records
        .iter()
        .filter(|r| r.subject == "lot" && r.record["lot_id"] == lot.as_str())
        .count();
    assert!(own >= 1);
    let limited = |n: usize| {
        let lookup = Lookup::open(fx.store(), &fx.index_path())
            .unwrap()
            .with_max_lot_records(n);
        app(ApiState::new(lookup))
    };
    let (status, _, body) = get(&limited(own - 1), &format!("/v1/codes/{code}")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(error_code(&body), "report_too_large");
    let message: Value = serde_json::from_slice(&body).unwrap();
    let message = message["error"]["message"].as_str().unwrap();
    assert!(message.contains(lot.as_str()), "{message}");
    assert!(message.contains(&format!("{own} records")), "{message}");
    let req = Request::post("/v1/audit")
        .body(Body::from(code.clone()))
        .unwrap();
    let (_, _, out) = call(&limited(own - 1), req).await;
    let line: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(line["error"]["code"], "report_too_large");

    let (status, _, body) = get(&limited(own), &format!("/v1/codes/{code}")).await;
    assert_eq!(status, StatusCode::OK);
    let full: CodeReport = serde_json::from_slice(&body).unwrap();
    assert_eq!(full.records.len(), report.records.len());
}

/// A batch whose stored plan or manifest is no longer what was published is
/// an `integrity_failure` of `GET /v1/batches/{id}` and of its codes, not an
/// internal error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_plan_or_manifest_is_an_integrity_failure() {
    let fx = fixture().await;
    let code = production_codes().into_iter().next().unwrap();
    let batch_dir = fx.store_path().join(format!("batches/{BATCH}"));
    for name in ["plan.json", "manifest.json"] {
        let path = batch_dir.join(name);
        let original = std::fs::read(&path).unwrap();
        // Still valid JSON: one more space after the first comma.
        let comma = original.iter().position(|&b| b == b',').unwrap();
        let mut changed = original[..=comma].to_vec();
        changed.push(b' ');
        changed.extend_from_slice(&original[comma + 1..]);
        std::fs::write(&path, &changed).unwrap();

        let router = fx.router();
        let (status, _, body) = get(&router, &format!("/v1/batches/{BATCH}")).await;
        assert_eq!(
            status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{name}: {}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(error_code(&body), "integrity_failure", "{name}");
        assert_integrity_failure(&fx, &code).await;

        std::fs::write(&path, &original).unwrap();
        let (status, _, _) = get(&fx.router(), &format!("/v1/batches/{BATCH}")).await;
        assert_eq!(status, StatusCode::OK, "{name} restored");
    }
}

/// The sizes of `dir`'s files whose names end in `suffix`.
fn files_ending(dir: &Path, suffix: &str) -> Vec<u64> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(suffix))
        .map(|e| e.metadata().unwrap().len())
        .collect()
}

/// The leaf files of `batch` and its record file: what a prewarm reads.
fn warmable(fx: &Fixture, batch: &str) -> (u64, u64) {
    let mut sizes = files_ending(
        &fx.store_path().join("batches").join(batch).join("segments"),
        ".leaves",
    );
    let catalog: Value =
        serde_json::from_slice(&std::fs::read(fx.index_path().join("catalog.json")).unwrap())
            .unwrap();
    let record_file = catalog["batches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["batch_id"] == batch)
        .unwrap()["records"]
        .as_str()
        .unwrap()
        .to_owned();
    sizes.push(
        std::fs::metadata(fx.index_path().join(record_file))
            .unwrap()
            .len(),
    );
    assert!(sizes.len() > 1 && sizes.iter().all(|&n| n > 0));
    (sizes.len() as u64, sizes.iter().sum())
}

fn prewarm_counters(metrics: &str) -> (u64, u64) {
    let value = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap()
    };
    (
        value("proofmark_prewarm_read_files_total"),
        value("proofmark_prewarm_read_bytes_total"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prewarm_reads_the_leaf_and_record_files_within_its_budget() {
    use proofmark_verifier::lookup::prewarm::PrewarmBudget;
    let fx = fixture().await;
    let (files, bytes) = warmable(&fx, BATCH);
    let lookup = Lookup::open(fx.store(), &fx.index_path())
        .unwrap()
        .with_prewarm(PrewarmBudget::Bytes(u64::MAX));
    let done = lookup.prewarm(PrewarmBudget::Bytes(u64::MAX)).unwrap();
    assert_eq!(
        (done.files as u64, done.bytes, done.left_unread),
        (files, bytes, 0)
    );
    // A budget stops the read, and says what it left.
    let some = lookup.prewarm(PrewarmBudget::Bytes(bytes / 2)).unwrap();
    assert_eq!(
        (some.bytes, some.left_unread),
        (bytes / 2, bytes - bytes / 2)
    );
    assert!((some.files as u64) < files);
    assert_eq!(
        lookup.prewarm(PrewarmBudget::Off).unwrap().left_unread,
        bytes
    );
    let router = app(ApiState::new(lookup.clone()));
    let (_, _, body) = get(&router, "/metrics").await;
    let text = String::from_utf8(body).unwrap();
    let (files_then, bytes_then) = prewarm_counters(&text);
    assert_eq!(bytes_then, bytes + bytes / 2);
    assert_eq!(files_then, files + some.files as u64);

    // A batch published while the service runs is read when the index is
    // reopened, and only that batch.
    anchored_batch(
        &fx.store(),
        fx.dir.path(),
        "sample-2026-11-25",
        "2026-11-25",
    )
    .await;
    publish(&fx.store(), "sample-2026-11-25", &fx.index_path())
        .await
        .unwrap();
    let (new_files, new_bytes) = warmable(&fx, "sample-2026-11-25");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, _, _) = get(&router, "/v1/batches").await;
    assert_eq!(status, StatusCode::OK);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, _, body) = get(&router, "/metrics").await;
        let now = prewarm_counters(&String::from_utf8(body).unwrap());
        if now != (files_then, bytes_then) {
            assert_eq!(now, (files_then + new_files, bytes_then + new_bytes));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new batch was not read ahead"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_added_after_publishing_shows_without_a_restart() {
    let fx = fixture().await;
    let lookup = Lookup::open(fx.store(), &fx.index_path())
        .unwrap()
        .with_receipts_reread(std::time::Duration::from_secs(3));
    let router = app(ApiState::new(lookup));
    let code = production_codes()[0].clone();
    let chains = |body: &[u8]| -> Vec<String> {
        let report: CodeReport = serde_json::from_slice(body).unwrap();
        report.batches[BATCH].anchors.keys().cloned().collect()
    };
    let (status, _, body) = get(&router, &format!("/v1/codes/{code}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(chains(&body), ["ledger"]);
    // Another chain's receipt lands in the store (here a copy under another name).
    let anchors = fx.store_path().join("batches").join(BATCH).join("anchors");
    std::fs::copy(anchors.join("ledger.json"), anchors.join("mirror.json")).unwrap();
    let (_, _, body) = get(&router, &format!("/v1/codes/{code}")).await;
    assert_eq!(
        chains(&body),
        ["ledger"],
        "read again only after the period"
    );
    // Once the period is over, a request starts the read and a later one sees it.
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, _, body) = get(&router, &format!("/v1/codes/{code}")).await;
        if chains(&body) == ["ledger", "mirror"] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new receipt never showed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (_, _, body) = get(&router, &format!("/v1/batches/{BATCH}")).await;
    let batch: Value = serde_json::from_slice(&body).unwrap();
    let listed: Vec<&String> = batch["anchors"].as_object().unwrap().keys().collect();
    assert_eq!(listed, ["ledger", "mirror"], "{batch}");
}
