//! The consumer page end to end over the router (no socket): the committed
//! sample goes through the real pipeline (plan, build, commit, ledger anchor,
//! publish), the real [`Lookup`] serves its reports, the real verification
//! decides the badge, and the sample's PINs are imported with a test key.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use futures::future::BoxFuture;
use proofmark_anchor::chain::{ChainConfig, ChainsFile, anchor_batch, ledger_signer};
use proofmark_anchor::ledger::VerifierKey;
use proofmark_anchor::{BuildOptions, CommitOptions, build_batch, commit_batch};
use proofmark_ingest::{InputMode, PlanOptions, Store, make_plan};
use proofmark_merkle::SuiteId;
use proofmark_verifier::consumer::countries::country_name;
use proofmark_verifier::consumer::i18n::{Lang, ViewerZone};
use proofmark_verifier::consumer::journey::{micros, text};
use proofmark_verifier::consumer::{
    Clock, Consumer, ConsumerStore, OrgNames, PinKey, PinLimit, PinPolicy, ProxyHeader,
    SecretsReader, WriteFaults, router,
};
use proofmark_verifier::verify::Trust;
use proofmark_verifier::{CodeLookup, CodeReport, Lookup, LookupError, publish};
use tower::ServiceExt as _;

const BATCH_ID: &str = "sample-2026-11-24";
/// The second batch of the same inputs, in [`double_sample`].
const BATCH_ID_AGAIN: &str = "sample-2026-11-25";
const MINUTE_US: i64 = 60 * 1_000_000;
/// 2026-11-25T02:00:00Z: the tests' "now".
const NOW_US: i64 = 1_795_572_000_000_000;

/// The sample batch, built once per test binary.
struct Sample {
    store_dir: PathBuf,
    index_dir: PathBuf,
    ledger_key: VerifierKey,
    /// A code with production, inspection, customs and logistics records.
    code: String,
    /// Its PIN.
    pin: String,
}

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn secrets_path() -> PathBuf {
    repo_path("datasets/sample/secrets/pins.csv")
}

fn sample() -> &'static Sample {
    static SAMPLE: OnceLock<Sample> = OnceLock::new();
    SAMPLE.get_or_init(|| build_on_own_runtime("one-batch", &[(BATCH_ID, "2026-11-24")]))
}

/// The sample's inputs ingested twice, as two batches of two dates: every
/// record of a code is in both, with a proof from each.
fn double_sample() -> &'static Sample {
    static SAMPLE: OnceLock<Sample> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        build_on_own_runtime(
            "two-batches",
            &[(BATCH_ID, "2026-11-24"), (BATCH_ID_AGAIN, "2026-11-25")],
        )
    })
}

fn build_on_own_runtime(
    name: &'static str,
    batches: &'static [(&'static str, &'static str)],
) -> Sample {
    // The pipeline is async; build it on a runtime of its own thread,
    // outside the test's runtime.
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(build_sample(name, batches))
    })
    .join()
    .unwrap()
}

/// A sample's folder: one per test process (and sample) in Cargo's scratch
/// folder for integration tests, not a temporary directory, which a static
/// would never remove; the folders of finished runs go first.
fn sample_dir(name: &str) -> PathBuf {
    const PREFIX: &str = "consumer-sample-";
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"));
    for entry in std::fs::read_dir(scratch).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix(PREFIX)
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let dir = scratch
        .join(format!("{PREFIX}{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn build_sample(name: &str, batches: &[(&str, &str)]) -> Sample {
    let dir = sample_dir(name);
    let store_dir = dir.join("store");
    let index_dir = dir.join("index");
    let store = Store::from_url(store_dir.to_str().unwrap()).unwrap();
    let inputs: Vec<String> = ["production", "customs", "logistics", "inspection"]
        .iter()
        .map(|k| {
            repo_path(&format!("datasets/sample/records/{k}/part-00000.parquet"))
                .display()
                .to_string()
        })
        .collect();
    let ledger = ChainConfig::Ledger {
        key_file: Some(dir.join("ledger.key")),
        origin: None,
    };
    let chains = ChainsFile::from_chains(
        "test",
        BTreeMap::from([("ledger".to_owned(), ledger.clone())]),
    )
    .unwrap();
    for &(batch_id, batch_date) in batches {
        let opts = PlanOptions {
            batch_id: batch_id.into(),
            batch_date: batch_date.into(),
            suite: SuiteId::Blake3,
            input_mode: InputMode::Copy,
        };
        make_plan(&store, &inputs, &opts, &|_| {}).await.unwrap();
        build_batch(&store, batch_id, &BuildOptions::default(), &|_| {})
            .await
            .unwrap();
        commit_batch(&store, batch_id, &CommitOptions::default(), &|_| {})
            .await
            .unwrap();
        anchor_batch(&store, batch_id, "ledger", &chains)
            .await
            .unwrap();
        publish(&store, batch_id, &index_dir).await.unwrap();
    }
    let ledger_key = ledger_signer(&ledger).unwrap().verifier();

    // The first code of the secrets file whose journey has every kind.
    let lookup = Lookup::open(store, &index_dir).unwrap();
    for row in SecretsReader::open(&secrets_path()).unwrap() {
        let (code, pin) = row.unwrap();
        let Some(report) = lookup.lookup(&code).await.unwrap() else {
            continue;
        };
        let has = |kind: &str| report.records.iter().any(|r| r.kind == kind);
        if ["production", "inspection", "customs", "logistics"]
            .iter()
            .all(|k| has(k))
        {
            return Sample {
                store_dir,
                index_dir,
                ledger_key,
                code,
                pin,
            };
        }
    }
    panic!("no sample code has a full journey");
}

fn real_lookup() -> Arc<Lookup> {
    lookup_of(sample())
}

fn lookup_of(s: &Sample) -> Arc<Lookup> {
    let store = Store::from_url(s.store_dir.to_str().unwrap()).unwrap();
    Arc::new(Lookup::open(store, &s.index_dir).unwrap())
}

fn trust() -> Trust {
    Trust::new().with_ledger_key(sample().ledger_key.clone())
}

async fn real_report() -> CodeReport {
    real_lookup().lookup(&sample().code).await.unwrap().unwrap()
}

/// A clock the tests move by hand.
#[derive(Debug)]
struct TestClock(AtomicI64);

impl TestClock {
    fn new() -> Arc<TestClock> {
        Arc::new(TestClock(AtomicI64::new(NOW_US)))
    }

    fn advance(&self, us: i64) {
        self.0.fetch_add(us, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_us(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn test_key() -> PinKey {
    PinKey::from_bytes([42; 32])
}

/// Opens the consumer state in `dir`, importing the sample's PINs first.
fn consumer(dir: &Path, clock: &Arc<TestClock>) -> Consumer {
    let store = ConsumerStore::open(dir).unwrap();
    let key = test_key();
    let rows = SecretsReader::open(&secrets_path()).unwrap();
    assert_eq!(store.import_pins(&key, rows).unwrap().written, 2000);
    Consumer::new(store, Some(key))
        .with_policy(PinPolicy::default())
        .with_clock(Arc::clone(clock) as Arc<dyn Clock>)
}

fn app(lookup: Arc<dyn CodeLookup>, consumer: Consumer, trust: Trust) -> Router {
    router(lookup, consumer, Arc::new(trust))
}

/// The sample's page with its state in `dir`, the tests' clock and the ledger's key.
fn sample_app(dir: &Path) -> Router {
    app(real_lookup(), consumer(dir, &TestClock::new()), trust())
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

/// Sends `req` as the server would pass it: from a peer address (the loopback
/// unless the request names one).
async fn send(app: &Router, mut req: Request<Body>) -> Reply {
    if req.extensions().get::<ConnectInfo<SocketAddr>>().is_none() {
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000))));
    }
    let response = app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    Reply {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn get(app: &Router, uri: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = Request::get(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(app, req.body(Body::empty()).unwrap()).await
}

async fn post_pin(app: &Router, code: &str, pin: &str, lang: &str) -> Reply {
    post_pin_with(app, code, pin, lang, &[]).await
}

/// [`post_pin`] with more headers (a browser's cookies).
async fn post_pin_with(
    app: &Router,
    code: &str,
    pin: &str,
    lang: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = Request::post(format!("/s/{code}/pin?lang={lang}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(app, req.body(Body::from(format!("pin={pin}"))).unwrap()).await
}

fn set_cookies(reply: &Reply) -> Vec<String> {
    reply
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// Every byte of `s` percent-encoded, for a query.
fn utf8_percent_encode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// The HTML-escaped form of a value.
fn esc(s: &str) -> String {
    proofmark_verifier::consumer::html::escape(s)
}

#[tokio::test]
async fn page_shows_the_journey_provided_by_and_the_badge() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let app = app(real_lookup(), consumer(dir.path(), &clock), trust());
    let report = real_report().await;
    let r = get(&app, &format!("/s/{}", s.code), &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers[header::CONTENT_TYPE].to_str().unwrap(),
        "text/html; charset=utf-8"
    );
    assert!(r.headers.contains_key(header::CONTENT_SECURITY_POLICY));
    assert!(!r.body.contains("<script"), "the page needs no JavaScript");
    // Chinese by default, with the badge saying in plain words what was checked, and the
    // ledger entry in the technical details, which say it is the signed log, not a chain.
    assert!(r.body.contains("<html lang=\"zh-CN\">"));
    let verdict = section(&r.body, "verdict").unwrap();
    assert!(verdict.contains("class=\"ok\""));
    assert!(
        verdict.contains("<h2 id=\"badge\">✔ 验证通过：本商品的溯源记录真实、未被篡改</h2>"),
        "{verdict}"
    );
    assert!(verdict.contains("<p>所有记录与品牌方及合作方登记时完全一致。</p>"));
    let details = verdict
        .split("<details id=\"anchors\"><summary>技术细节</summary>")
        .nth(1)
        .expect("the anchors are folded under the technical details");
    assert!(details.contains("批次日志（不是区块链）"), "{details}");
    assert!(
        details.contains("签名批次日志“ledger”中的第 1 条（日志到第 1 条时签名）"),
        "{details}"
    );
    assert!(details.contains(&esc(BATCH_ID)));
    assert!(!r.body.contains("class=\"bad\""));
    assert!(section(&r.body, "alerts").is_none(), "nothing to alert of");
    // Product, lot, origin, factory from the production record.
    let production = report
        .records
        .iter()
        .find(|e| e.kind == "production")
        .unwrap();
    for column in [
        "product_name",
        "brand",
        "gtin",
        "lot_number",
        "origin_country",
        "factory_name",
    ] {
        let value = text(&production.record, column).unwrap();
        assert!(r.body.contains(&esc(value)), "{column} {value:?} missing");
    }
    for cert in production.record["certifications"].as_array().unwrap() {
        assert!(r.body.contains(&esc(cert.as_str().unwrap())));
    }
    // The origin named in the page's language, with its code.
    let origin = text(&production.record, "origin_country").unwrap();
    let name = country_name(origin, Lang::Zh).unwrap();
    assert!(
        r.body
            .contains(&format!("<dd>{}（{origin}）</dd>", esc(name))),
        "{origin} {name}"
    );
    // Inspections with their results, customs, the timeline.
    let inspection = report
        .records
        .iter()
        .find(|e| e.kind == "inspection")
        .unwrap();
    assert!(
        r.body
            .contains(&esc(text(&inspection.record, "agency_name").unwrap()))
    );
    assert!(
        r.body
            .contains(&esc(text(&inspection.record, "report_id").unwrap()))
    );
    let customs = report.records.iter().find(|e| e.kind == "customs").unwrap();
    assert!(
        r.body
            .contains(&esc(text(&customs.record, "declaration_id").unwrap()))
    );
    assert!(
        r.body
            .contains(&esc(text(&customs.record, "port_of_entry").unwrap()))
    );
    for logistics in report.records.iter().filter(|e| e.kind == "logistics") {
        assert!(
            r.body
                .contains(&esc(text(&logistics.record, "location").unwrap()))
        );
    }
    // Every record shown once with its provider: the production record, inspections and
    // customs in their sections, logistics events in the journey, which lists the others
    // by name at their time, linking to their sections.
    let zone = ViewerZone::default_zone();
    let timeline = section(&r.body, "journey").unwrap();
    assert_eq!(
        r.body.matches("class=\"provided-by\"").count(),
        report.records.len()
    );
    let count = |kind: &str| report.records.iter().filter(|e| e.kind == kind).count();
    assert_eq!(
        timeline.matches("class=\"provided-by\"").count(),
        count("logistics")
    );
    assert_eq!(
        timeline.matches("<li class=\"event ").count(),
        report.records.len()
    );
    assert_eq!(
        timeline.matches("<a href=\"#inspection-").count(),
        count("inspection")
    );
    assert_eq!(
        timeline.matches("<a href=\"#customs-").count(),
        count("customs")
    );
    assert_eq!(timeline.matches("<a href=\"#product\">").count(), 1);
    for n in 1..=count("inspection") {
        assert!(
            r.body
                .contains(&format!("<dl class=\"inspection\" id=\"inspection-{n}\">"))
        );
    }
    for entry in &report.records {
        let by = format!(
            "<span class=\"provided-by\"><span class=\"org\">{}</span></span>",
            esc(&entry.source.provided_by)
        );
        if entry.kind == "logistics" {
            assert!(timeline.contains(&by), "{by}");
        }
        // The customs record at its clearance, as "cleared customs" says; the others at
        // their event time.
        let at = match entry.kind.as_str() {
            "customs" => micros(&entry.record, "cleared_at").unwrap(),
            _ => micros(&entry.record, "event_time").unwrap(),
        };
        let t = zone.format_micros(at).unwrap();
        let datetime = zone.rfc3339_micros(at).unwrap();
        assert!(
            timeline.contains(&format!("<time datetime=\"{datetime}\">{t}</time>")),
            "{} at {t}: {timeline}",
            entry.kind
        );
    }
    assert_eq!(
        text(&customs.record, "status"),
        Some("released"),
        "the sample's customs record was released"
    );
    assert!(timeline.contains("\">海关放行</a>"), "{timeline}");
    assert!(!timeline.contains("海关申报"), "{timeline}");
    // The zone is said once, at the top, above every time of the page.
    assert!(
        r.body
            .contains("<main><p id=\"zone\" class=\"zone\">以下时间均为北京时间（UTC+8）</p>"),
        "{}",
        r.body
    );
    assert_eq!(r.body.matches("id=\"zone\"").count(), 1);
    assert!(r.body.find("id=\"zone\"") < r.body.find("<time"));
    // Full-width colons and the region wording in Chinese.
    assert!(r.body.contains("<dt>原产国（地区）</dt>"));
    assert!(r.body.contains("数据提供方：<span class=\"provided-by\">"));
    assert!(!r.body.contains("数据提供方:"));
    // The first scan, and the PIN form.
    assert!(r.body.contains("已扫描 1 次"));
    assert!(r.body.contains("name=\"pin\""));
}

#[tokio::test]
async fn language_follows_query_cookie_and_accept_language() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let app = sample_app(dir.path());
    let path = format!("/s/{}", s.code);

    let en = get(
        &app,
        &path,
        &[("accept-language", "en-GB,en;q=0.9,zh;q=0.5")],
    )
    .await;
    assert!(en.body.contains("<html lang=\"en\">"));
    assert!(en.body.contains(
        "<h2 id=\"badge\">✔ Verified: this product&#39;s records are authentic and unaltered</h2>"
    ), "{}", en.body);
    assert!(en.body.contains("<summary>Technical details</summary>"));
    assert!(en.body.contains("Verified in the signed batch log: "));
    assert!(
        en.body
            .contains("signed, append-only batch log (not a blockchain)")
    );
    assert!(
        en.body.contains(
            "Entry 1 of the signed batch log “ledger”, signed when the log reached entry 1"
        )
    );
    // The switch link says its own language.
    assert!(en.body.contains(&format!(
        "lang=\"zh-CN\" hreflang=\"zh\" href=\"{path}?lang=zh\">中文</a>"
    )));
    assert!(en.body.contains("Provided by"));
    // Nothing chosen, nothing remembered (the scan's view token aside).
    assert!(
        set_cookies(&en)
            .iter()
            .all(|c| c.starts_with("__Secure-pm_view="))
    );

    let zh = get(
        &app,
        &format!("{path}?lang=zh"),
        &[("accept-language", "en")],
    )
    .await;
    assert!(zh.body.contains("验证通过"));
    assert!(zh.body.contains(&format!(
        "lang=\"en\" hreflang=\"en\" href=\"{path}?lang=en\">English</a>"
    )));
    assert!(
        set_cookies(&zh)
            .iter()
            .any(|c| c.starts_with("pm_lang=zh;"))
    );

    let remembered = get(
        &app,
        &path,
        &[("cookie", "a=b; pm_lang=en"), ("accept-language", "zh")],
    )
    .await;
    assert!(remembered.body.contains("✔ Verified: "));
    let default = get(&app, &path, &[]).await;
    assert!(default.body.contains("✔ 验证通过："));
}

#[tokio::test]
async fn times_follow_the_viewer_zone() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let app = sample_app(dir.path());
    let report = real_report().await;
    let first = micros(&report.records[0].record, "event_time").unwrap();
    let path = format!("/s/{}", s.code);
    let utc = ViewerZone::parse("UTC")
        .unwrap()
        .format_micros(first)
        .unwrap();
    let cst = ViewerZone::default_zone().format_micros(first).unwrap();
    assert_ne!(utc, cst);

    let r = get(&app, &format!("{path}?tz=UTC&lang=en"), &[]).await;
    assert!(r.body.contains(&format!(">{utc}</time>")));
    let datetime = ViewerZone::parse("UTC")
        .unwrap()
        .rfc3339_micros(first)
        .unwrap();
    assert!(datetime.ends_with("+00:00"), "{datetime}");
    assert!(
        r.body
            .contains(&format!("<time datetime=\"{datetime}\">{utc}</time>"))
    );
    assert!(r.body.contains(">Times are UTC</p>"), "{}", r.body);
    // The zone form names its zones in the page's language, keeping their IANA names.
    assert!(
        r.body
            .contains("<option value=\"Asia/Shanghai\">China Standard Time</option>")
    );
    assert!(
        r.body
            .contains("<option value=\"UTC\" selected>UTC</option>")
    );
    assert!(set_cookies(&r).iter().any(|c| c.starts_with("pm_tz=UTC;")));
    // Any spelling of UTC is UTC.
    let r = get(&app, &format!("{path}?tz=utc&lang=zh"), &[]).await;
    assert!(
        r.body.contains(">以下时间均为协调世界时（UTC）</p>"),
        "{}",
        r.body
    );
    assert!(set_cookies(&r).iter().any(|c| c.starts_with("pm_tz=UTC;")));

    let r = get(&app, &path, &[("cookie", "pm_tz=%2B05:30")]).await;
    assert!(
        r.body.contains(&format!(">{cst}</time>")),
        "a malformed cookie is ignored"
    );
    assert!(
        r.body.contains("以下时间均为北京时间（UTC+8）"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("<option value=\"Asia/Shanghai\" selected>北京时间</option>")
    );
    let r = get(&app, &path, &[("cookie", "pm_tz=UTC")]).await;
    assert!(r.body.contains(&format!(">{utc}</time>")));
    assert!(
        r.body.contains("以下时间均为协调世界时（UTC）"),
        "{}",
        r.body
    );
    let r = get(&app, &format!("{path}?tz=Nowhere/Else"), &[]).await;
    assert!(r.body.contains(&format!(">{cst}</time>")));
    assert!(!set_cookies(&r).iter().any(|c| c.starts_with("pm_tz=")));

    // `?tz=+05:30` typed as is: the `+` arrives as a space, and still means plus. An
    // offset is said as the offset; `Etc/GMT+5` is five hours behind UTC.
    let india = ViewerZone::parse("+05:30")
        .unwrap()
        .format_micros(first)
        .unwrap();
    let r = get(&app, &format!("{path}?tz=+05:30&lang=en"), &[]).await;
    assert!(r.body.contains(&format!(">{india}</time>")), "{}", r.body);
    assert!(r.body.contains(">Times are UTC+5:30</p>"), "{}", r.body);
    assert!(
        set_cookies(&r)
            .iter()
            .any(|c| c.starts_with("pm_tz=UTC+05:30;"))
    );
    let r = get(&app, &format!("{path}?tz=Etc/GMT%2B5&lang=en"), &[]).await;
    assert!(r.body.contains(">Times are UTC-5</p>"), "{}", r.body);
    assert!(
        r.body
            .contains("<option value=\"Etc/GMT+5\" selected>UTC-5</option>"),
        "{}",
        r.body
    );
    // A place's zone whose times all have one offset: its name in the page's language,
    // and that offset, in the line and the zone form.
    let r = get(&app, &format!("{path}?tz=Asia/Kolkata&lang=en"), &[]).await;
    assert!(
        r.body.contains(">Times are India time (UTC+5:30)</p>"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("<option value=\"Asia/Kolkata\" selected>India time</option>")
    );
    assert!(r.body.contains(&format!(">{india}</time>")), "{}", r.body);
    let r = get(&app, &format!("{path}?tz=Asia/Kolkata&lang=zh"), &[]).await;
    assert!(
        r.body.contains(">以下时间均为印度时间（UTC+5:30）</p>"),
        "{}",
        r.body
    );
    // A zone whose offset differs between the times shown (the records are from summer
    // time, the scan from winter time): each time says its own offset.
    let london = ViewerZone::parse("Europe/London").unwrap();
    let summer = london.format_micros(first).unwrap();
    let r = get(&app, &format!("{path}?tz=Europe/London&lang=en"), &[]).await;
    assert!(
        r.body
            .contains(">Times are London time, each with its UTC offset</p>"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains(&format!(
            "<time datetime=\"{}\">{summer} UTC+1</time>",
            london.rfc3339_micros(first).unwrap()
        )),
        "{}",
        r.body
    );
    let winter = london.format_micros(NOW_US).unwrap();
    assert!(
        r.body.contains(&format!(">{winter} UTC+0</time>")),
        "{}",
        r.body
    );
    // Every time of the page, and no date.
    let times = r.body.matches("<time ").count();
    let marked = r.body.matches(" UTC+1</time>").count() + r.body.matches(" UTC+0</time>").count();
    assert_eq!(times, marked, "{}", r.body);
    let r = get(&app, &format!("{path}?tz=Europe/London&lang=zh"), &[]).await;
    assert!(
        r.body
            .contains(">以下时间均为伦敦时间，每个时间后标注其 UTC 偏移</p>"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("<option value=\"Europe/London\" selected>伦敦</option>")
    );
}

/// What scanners and people make of a printed URL: a trailing slash and an upper-case
/// `/S/` lead to the code's page (query kept), and are no scan.
#[tokio::test]
async fn url_variants_redirect_to_the_code_page() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let app = sample_app(dir.path());
    let path = format!("/s/{}", s.code);
    for variant in [
        format!("{path}/"),
        format!("/S/{}", s.code),
        format!("/S/{}/", s.code),
    ] {
        let r = get(&app, &variant, &[]).await;
        assert_eq!(r.status, StatusCode::PERMANENT_REDIRECT, "{variant}");
        assert_eq!(r.headers[header::LOCATION], path.as_str(), "{variant}");
        let r = get(&app, &format!("{variant}?lang=en"), &[]).await;
        assert_eq!(
            r.headers[header::LOCATION],
            format!("{path}?lang=en").as_str()
        );
    }
    let r = get(&app, &path, &[]).await;
    assert!(r.body.contains("已扫描 1 次"), "{}", r.body);
}

/// A label whose QR code does not scan: its code typed into `/s` (with the
/// spaces people put between groups of digits) leads to its page, which
/// counts the scan; an empty or impossible code gets the form again with a
/// notice; an unknown code's page offers the form to type it again.
#[tokio::test]
async fn a_typed_code_leads_to_its_page() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let app = sample_app(dir.path());
    let path = format!("/s/{}", s.code);
    for entry in ["/s", "/s/", "/s?lang=en"] {
        let r = get(&app, entry, &[("accept-language", "en")]).await;
        assert_eq!(r.status, StatusCode::OK, "{entry}");
        assert!(
            r.body.contains("Type the code from the label"),
            "{}",
            r.body
        );
        assert!(
            r.body
                .contains("<form id=\"code-form\" method=\"get\" action=\"/s\">")
        );
        assert!(!r.body.contains("entry-notice"));
        // No times on this page: no zone line or form.
        assert!(!r.body.contains("id=\"zone\""));
        assert!(!r.body.contains("name=\"tz\""));
    }
    let zh = get(&app, "/s", &[("accept-language", "zh-CN")]).await;
    assert!(zh.body.contains("手动输入标签上的查询码"), "{}", zh.body);
    // The field is as wide as its section, the button under it.
    assert!(
        zh.body
            .contains("#code-input{width:100%;box-sizing:border-box;")
    );
    assert!(zh.body.contains("#code-form button{display:block"));

    let grouped: String = s
        .code
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("+");
    let r = get(&app, &format!("/s?code=%20{grouped}%E3%80%80"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers[header::LOCATION], path.as_str());
    let r = get(&app, &path, &[]).await;
    assert!(r.body.contains("已扫描 1 次"), "{}", r.body);

    // Typed on a Chinese keyboard in full-width mode.
    let full_width: String = s
        .code
        .chars()
        .map(|c| char::from_u32(u32::from(c) + 0xFEE0).unwrap())
        .collect();
    let r = get(
        &app,
        &format!("/s?code={}", utf8_percent_encode(&full_width)),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers[header::LOCATION], path.as_str());

    let r = get(&app, "/s?code=+&lang=en", &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Please type a code."), "{}", r.body);
    assert!(
        r.body
            .contains("aria-invalid=\"true\" aria-describedby=\"entry-notice\"")
    );
    // A parameter given twice counts as its last: a valid code is not blamed.
    let r = get(&app, "/s?code=a&code=b", &[("accept-language", "en")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("does not look like a code"), "{}", r.body);
    assert!(r.body.contains("value=\"b\""), "{}", r.body);
    let r = get(&app, &format!("/s?code={}&lang=en&lang=zh", s.code), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers[header::LOCATION],
        format!("{path}?lang=zh").as_str()
    );
    // The form's language and zone are kept for the code's page (a browser without
    // cookies would otherwise land on the Chinese page); invalid ones are dropped.
    let r = get(&app, &format!("/s?code={}&lang=en", s.code), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers[header::LOCATION],
        format!("{path}?lang=en").as_str()
    );
    let r = get(
        &app,
        &format!("/s?lang=en&code={}&tz=Europe%2FParis", s.code),
        &[],
    )
    .await;
    assert_eq!(
        r.headers[header::LOCATION],
        format!("{path}?lang=en&tz=Europe%2FParis").as_str()
    );
    let r = get(&app, &format!("/s?code={}&lang=xx&tz=Mars", s.code), &[]).await;
    assert_eq!(r.headers[header::LOCATION], path.as_str());
    let r = get(&app, "/s?code=%3Cb%3E12&lang=en", &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("does not look like a code"), "{}", r.body);
    assert!(r.body.contains("value=\"&lt;b&gt;12\""), "{}", r.body);
    assert!(!r.body.contains("<b>"));

    let r = get(&app, "/s/00000000000000000000?lang=en", &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("Type the code again"));
    assert!(!r.body.contains("name=\"tz\""));
    assert!(
        r.body
            .contains("name=\"code\" value=\"00000000000000000000\"")
    );
}

/// An item whose production record was rejected has no product details: the page says so
/// instead of leaving the section out.
#[tokio::test]
async fn an_item_without_a_production_record_says_its_product_details_are_missing() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let lookup = real_lookup();
    let app = app(
        Arc::clone(&lookup) as Arc<dyn CodeLookup>,
        consumer(dir.path(), &TestClock::new()),
        trust(),
    );
    // A code of the sample with no production record among its records.
    let codes: Vec<String> = std::fs::read_to_string(secrets_path())
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next().map(str::to_owned))
        .collect();
    let mut missing = None;
    for code in &codes {
        let Some(report) = lookup.lookup(code).await.unwrap() else {
            continue;
        };
        if !report.records.iter().any(|r| r.kind == "production") {
            missing = Some(code.clone());
            break;
        }
    }
    let code = missing.expect("the sample has items whose production record was rejected");
    let r = get(&app, &format!("/s/{code}?lang=en"), &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let product = section(&r.body, "product").expect("a product section");
    assert!(product.contains("No production record"), "{product}");
    // Verified (green): its other records are.
    assert!(
        section(&r.body, "verdict")
            .unwrap()
            .contains("class=\"ok\"")
    );
    assert!(
        product.contains("The records below are verified"),
        "{product}"
    );
    // A page that is not green never calls them verified.
    let dir = tempfile::tempdir().unwrap();
    let amber = router(
        Arc::clone(&lookup) as Arc<dyn CodeLookup>,
        consumer(dir.path(), &TestClock::new()),
        Arc::new(Trust::new()),
    );
    for (lang, verified, unverified) in [
        ("en", "are verified", "could not be verified"),
        ("zh", "均已核验", "也未能核验"),
    ] {
        let r = get(&amber, &format!("/s/{code}?lang={lang}"), &[]).await;
        assert!(
            section(&r.body, "verdict")
                .unwrap()
                .contains("class=\"warn\"")
        );
        let product = section(&r.body, "product").unwrap();
        assert!(!product.contains(verified), "{product}");
        assert!(product.contains(unverified), "{product}");
    }
    // The code with every record shows the details and the factory address's label.
    let r = get(&app, &format!("/s/{}?lang=en", s.code), &[]).await;
    let product = section(&r.body, "product").unwrap();
    assert!(!product.contains("No production record"));
    assert!(!product.contains("<dt></dt>"), "{product}");
}

#[tokio::test]
async fn unknown_codes_get_a_red_404_page() {
    let dir = tempfile::tempdir().unwrap();
    let app = sample_app(dir.path());
    let r = get(&app, "/s/00000000000000000000?lang=en", &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        r.body.contains(
            "id=\"verdict\" class=\"bad\" role=\"alert\"><h2 id=\"badge\">✖ Code not found</h2>"
        ),
        "{}",
        r.body
    );
    assert!(!r.body.contains("class=\"ok\""));
    assert!(
        r.body
            .contains("Code: <span class=\"mono\">00000000000000000000</span>")
    );
    let r = get(&app, "/s/00000000000000000000", &[]).await;
    assert!(r.body.contains("✖ 未查询到此码"));
    assert!(
        r.body
            .contains("如确认无误，该商品可能不是正品，请联系品牌方核实。")
    );
    assert!(
        r.body
            .contains("查询码：<span class=\"mono\">00000000000000000000</span>")
    );
    assert!(r.body.contains("<h2>重新输入</h2>"));
    // What is not a code is never shown: a fixed notice, in either language.
    let r = get(&app, "/s/%3Cb%3Ebad%22code", &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Called a 查询码, as everywhere else on the pages.
    assert!(r.body.contains("✖ 这不是查询码"), "{}", r.body);
    assert!(!r.body.contains("商品码"), "{}", r.body);
    assert!(!r.body.contains("&lt;b&gt;"), "{}", r.body);
    assert!(!r.body.contains("bad&quot;code"), "{}", r.body);
    let notice = "官方通知：请致电400-000-0000领取赔偿";
    let encoded: String = notice.bytes().map(|b| format!("%{b:02X}")).collect();
    for lang in ["en", "zh"] {
        let r = get(&app, &format!("/s/{encoded}?lang={lang}"), &[]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert!(!r.body.contains("400-000"), "{}", r.body);
        assert!(!r.body.contains("官方通知"), "{}", r.body);
        let title = r.body.split("<title>").nth(1).unwrap();
        assert!(!title.contains("400"), "{title}");
    }
    let r = get(&app, "/s/x?lang=en", &[]).await;
    assert!(r.body.contains("This is not a product code"), "{}", r.body);
    // A very long address does not make a long page.
    let long = "A".repeat(64_000);
    let r = get(&app, &format!("/s/{long}?lang=en"), &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.len() < 16_000, "{}", r.body.len());
    assert!(
        !r.body
            .contains("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    );
    // A valid code that no batch holds is shown, as it was asked, without the space around it.
    let r = get(&app, "/s/%20ZZ9.x_y-1?lang=en", &[]).await;
    assert!(r.body.contains("Code not found"), "{}", r.body);
    assert!(r.body.contains("ZZ9.x_y-1"), "{}", r.body);
}

/// A lookup that serves one report, whatever the code.
struct Fixed(CodeReport);

impl CodeLookup for Fixed {
    fn lookup<'a>(
        &'a self,
        code: &'a str,
    ) -> BoxFuture<'a, Result<Option<CodeReport>, LookupError>> {
        let found = (code == self.0.code).then(|| self.0.clone());
        Box::pin(async move { Ok(found) })
    }
}

#[tokio::test]
async fn failed_verification_is_red_and_never_shows_a_badge() {
    let s = sample();
    let clock = TestClock::new();
    // A record altered after the fact, with hostile markup in it.
    let mut report = real_report().await;
    let hostile = "<script>alert('x')</script>";
    let production = report
        .records
        .iter_mut()
        .find(|e| e.kind == "production")
        .unwrap();
    production.record.insert(
        "product_name".into(),
        serde_json::Value::String(hostile.into()),
    );
    production.source.provided_by = "\"><img src=x onerror=alert(1)>".into();
    let dir = tempfile::tempdir().unwrap();
    let tampered = app(
        Arc::new(Fixed(report)),
        consumer(dir.path(), &clock),
        trust(),
    );
    let r = get(&tampered, &format!("/s/{}?lang=en", s.code), &[]).await;
    assert!(
        r.body
            .contains("<h2 id=\"badge\">✖ Verification failed</h2>")
    );
    assert!(!green(&r.body), "{}", r.body);
    assert!(
        section(&r.body, "verdict")
            .unwrap()
            .contains(&format!("Code: <span class=\"mono\">{}</span>", s.code))
    );
    assert!(!r.body.contains("<script"));
    assert!(!r.body.contains("<img"));
    assert!(
        r.body
            .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;")
    );
    assert!(
        r.body
            .contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;")
    );
}

/// A lookup that always fails with one error.
struct Failing(fn() -> LookupError);

/// A page whose every lookup fails with `fail()`, its state in `dir`.
fn failing_app(dir: &Path, clock: &Arc<TestClock>, fail: fn() -> LookupError) -> Router {
    app(Arc::new(Failing(fail)), consumer(dir, clock), trust())
}

/// The lookup's finding that a stored record does not match its batch.
fn record_mismatch() -> LookupError {
    LookupError::integrity(BATCH_ID, 7, "the record does not hash to its leaf")
}

impl CodeLookup for Failing {
    fn lookup<'a>(
        &'a self,
        _code: &'a str,
    ) -> BoxFuture<'a, Result<Option<CodeReport>, LookupError>> {
        let err = (self.0)();
        Box::pin(async move { Err(err) })
    }
}

#[tokio::test]
async fn tampered_stores_are_red_and_backend_failures_are_not_called_counterfeit() {
    let s = sample();
    let clock = TestClock::new();
    let dir = tempfile::tempdir().unwrap();
    let integrity = failing_app(dir.path(), &clock, record_mismatch);
    let r = get(&integrity, &format!("/s/{}?lang=en", s.code), &[]).await;
    assert!(r.body.contains("Verification failed"));
    assert!(
        r.body
            .contains("id=\"verdict\" class=\"bad\" role=\"alert\"><h2 id=\"badge\">")
    );
    assert!(!green(&r.body), "{}", r.body);
    // The red page shows the code, as the unknown code's does, and no times.
    assert!(
        r.body
            .contains(&format!("Code: <span class=\"mono\">{}</span>", s.code)),
        "{}",
        r.body
    );
    assert!(!r.body.contains("name=\"tz\""));
    let r = get(&integrity, &format!("/s/{}?lang=zh", s.code), &[]).await;
    assert!(
        r.body.contains("<h2 id=\"badge\">✖ 验证未通过</h2>"),
        "{}",
        r.body
    );
    assert!(r.body.contains(
        "此码的信息与品牌方登记的不一致，可能已被篡改。请勿相信本页信息，请联系品牌方核实。"
    ));
    assert!(
        r.body
            .contains(&format!("查询码：<span class=\"mono\">{}</span>", s.code))
    );
    drop(integrity);

    let dir = tempfile::tempdir().unwrap();
    let down = failing_app(dir.path(), &clock, || {
        LookupError::Backend("store unreachable".into())
    });
    let r = get(&down, &format!("/s/{}?lang=en", s.code), &[]).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.body.contains("Service unavailable"));
    assert!(!green(&r.body), "{}", r.body);
    assert!(
        !r.body.contains("store unreachable"),
        "details stay in the log"
    );
}

/// Every page of a code shows the code, in both languages, so that a buyer can compare it
/// with the one printed on the label: green, amber and red pages, and the pages of a code
/// that cannot be looked up or shown now. Once, as `<p id="code">`.
#[tokio::test]
async fn every_page_of_a_code_shows_the_code() {
    let s = sample();
    let clock = TestClock::new();
    let code_line = |lang: &str| match lang {
        "en" => format!(
            "<p id=\"code\">Code: <span class=\"mono\">{}</span></p>",
            s.code
        ),
        _ => format!(
            "<p id=\"code\">查询码：<span class=\"mono\">{}</span></p>",
            s.code
        ),
    };
    let shows_code_once = |r: &Reply, lang: &str, what: &str| {
        assert!(
            r.body.contains(&code_line(lang)),
            "{what} {lang}: {}",
            r.body
        );
        assert_eq!(r.body.matches("id=\"code\"").count(), 1, "{what} {lang}");
    };
    let dir = tempfile::tempdir().unwrap();
    let checks: [(&str, Trust); 2] = [("green", trust()), ("amber", Trust::new())];
    for (what, trust) in checks {
        let app = app(real_lookup(), consumer(dir.path(), &clock), trust);
        for lang in ["en", "zh"] {
            let r = get(&app, &format!("/s/{}?lang={lang}", s.code), &[]).await;
            assert_eq!(r.status, StatusCode::OK);
            shows_code_once(&r, lang, what);
            // Near the top: in the verdict, before the records.
            let verdict = section(&r.body, "verdict").unwrap();
            assert!(verdict.contains(&code_line(lang)), "{what}: {verdict}");
        }
        drop(app);
    }
    let dir = tempfile::tempdir().unwrap();
    let down = failing_app(dir.path(), &clock, || {
        LookupError::Backend("store unreachable".into())
    });
    let store = Store::from_url(s.store_dir.to_str().unwrap()).unwrap();
    let limited = Lookup::open(store, &s.index_dir)
        .unwrap()
        .with_max_lot_records(0);
    let dir = tempfile::tempdir().unwrap();
    let too_large = app(Arc::new(limited), consumer(dir.path(), &clock), trust());
    for (what, app) in [("unavailable", &down), ("too large", &too_large)] {
        for lang in ["en", "zh"] {
            let r = get(app, &format!("/s/{}?lang={lang}", s.code), &[]).await;
            assert!(r.status.is_server_error(), "{what}");
            shows_code_once(&r, lang, what);
        }
    }
    // What is not the form of a code is not shown there either.
    let r = get(&down, "/s/%3Cb%3E?lang=en", &[]).await;
    assert!(!r.body.contains("id=\"code\""), "{}", r.body);
}

/// A code whose lot has more records of its own than the lookup lists gets a
/// page that says its history cannot be shown: no badge, no partial journey,
/// and no "try again later".
#[tokio::test]
async fn a_lot_over_the_limit_shows_no_partial_journey() {
    let s = sample();
    let clock = TestClock::new();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::from_url(s.store_dir.to_str().unwrap()).unwrap();
    let limited = Lookup::open(store, &s.index_dir)
        .unwrap()
        .with_max_lot_records(0);
    let app = app(Arc::new(limited), consumer(dir.path(), &clock), trust());
    let r = get(&app, &format!("/s/{}?lang=en", s.code), &[]).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.body.contains("cannot be shown"), "{}", r.body);
    assert!(!green(&r.body), "{}", r.body);
    assert!(!r.body.contains("try again"));
    let r = get(&app, &format!("/s/{}?lang=zh", s.code), &[]).await;
    assert!(r.body.contains("无法显示此码的记录"), "{}", r.body);
}

#[tokio::test]
async fn wrong_pins_are_rate_limited_then_the_right_pin_confirms_and_rescans_warn() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let consumer = consumer(dir.path(), &clock);
    let metrics = consumer.metrics();
    let app = app(real_lookup(), consumer, trust());
    let path = format!("/s/{}", s.code);
    let first_scan = get(&app, &path, &[]).await;
    assert!(first_scan.body.contains("已扫描 1 次"));
    let wrong = if s.pin == "00000000" {
        "11111111"
    } else {
        "00000000"
    };

    for left in (1..=4).rev() {
        clock.advance(MINUTE_US);
        let r = post_pin(&app, &s.code, wrong, "en").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let expected = if left == 1 {
            "Wrong PIN. 1 attempt left.".to_owned()
        } else {
            format!("Wrong PIN. {left} attempts left.")
        };
        assert!(r.body.contains(&expected), "{}", r.body);
    }
    clock.advance(MINUTE_US);
    let fifth = post_pin(&app, &s.code, wrong, "en").await;
    assert!(fifth.body.contains("Too many wrong PINs. Try again after"));
    // Locked: even the right PIN is not checked.
    clock.advance(MINUTE_US);
    let locked = post_pin(&app, &s.code, &s.pin, "en").await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.body.contains("Too many wrong PINs"));
    // The first wrong PIN was at +1 min, so the lock ends at +16 min.
    let retry = ViewerZone::default_zone()
        .format_micros(NOW_US + 16 * MINUTE_US)
        .unwrap();
    assert!(plain(&locked.body).contains(&format!("Try again after {retry}")));
    assert_eq!(locked.headers[header::RETRY_AFTER], "600");
    // A malformed PIN is refused without using an attempt.
    let malformed = post_pin(&app, &s.code, "12%3C", "zh").await;
    assert_eq!(malformed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(malformed.body.contains("4 至 32 位字母或数字"));

    clock.advance(10 * MINUTE_US);
    let right = post_pin(&app, &s.code, &s.pin, "zh").await;
    assert_eq!(right.status, StatusCode::OK);
    assert!(right.body.contains("密码正确"));
    assert!(!right.body.contains("id=\"copy-warning\""));
    assert!(
        !right.body.contains("name=\"pin\""),
        "no form once confirmed"
    );

    clock.advance(MINUTE_US);
    let rescan = get(&app, &path, &[("accept-language", "en")]).await;
    assert!(rescan.body.contains("id=\"copy-warning\""));
    assert!(rescan.body.contains("this label may be a copy"));
    let zone = ViewerZone::default_zone();
    let first = zone.format_micros(NOW_US).unwrap();
    let confirmed = zone.format_micros(NOW_US + 16 * MINUTE_US).unwrap();
    assert!(plain(&rescan.body).contains(&format!(
        "already confirmed on {confirmed}. This code has been scanned 2 times, first on {first}."
    )), "{}", rescan.body);
    // The right PIN again is the same warning.
    let again = post_pin(&app, &s.code, &s.pin, "en").await;
    assert!(plain(&again.body).contains(&format!("This PIN was already confirmed on {confirmed}")));

    let mut text = String::new();
    metrics.render_prometheus(&mut text);
    assert!(text.contains("proofmark_consumer_scans_total 2\n"));
    assert!(text.contains("proofmark_consumer_copy_warnings_total 1\n"));
    assert!(text.contains("proofmark_consumer_pin_checks_total{outcome=\"wrong\"} 5\n"));
    assert!(text.contains("proofmark_consumer_pin_checks_total{outcome=\"rate_limited\"} 1\n"));
    assert!(text.contains("proofmark_consumer_pin_checks_total{outcome=\"confirmed\"} 1\n"));
    assert!(text.contains("proofmark_consumer_pin_checks_total{outcome=\"malformed\"} 1\n"));
}

/// Wrong PINs from one client (behind a trusted proxy that names it in
/// `X-Forwarded-For`) lock that client only: another client sees the form
/// open and confirms; one IPv6 /48 is one client.
#[tokio::test]
async fn one_client_cannot_lock_the_pin_check_of_another() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let consumer = consumer(dir.path(), &clock).with_proxy_header(Some(ProxyHeader {
        name: header::HeaderName::from_static("x-forwarded-for"),
        proxies: vec!["127.0.0.0/8".parse().unwrap()],
    }));
    let app = app(real_lookup(), consumer, trust());
    let wrong = if s.pin == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    let from = |addr: &'static str| [("x-forwarded-for", addr)];
    // The last address of the list is the one the proxy added: the first is the client's claim.
    for i in 0..5 {
        let addr = if i % 2 == 0 {
            "198.51.100.9, 2001:db8:1:2::5"
        } else {
            "2001:db8:1:ff::9"
        };
        let r = post_pin_with(&app, &s.code, wrong, "en", &from(addr)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "attempt {i}");
    }
    let locked = post_pin_with(&app, &s.code, &s.pin, "en", &from("2001:db8:1:7777::77")).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.body.contains("Too many wrong PINs. Try again after"));
    // Its page says so, with the form disabled.
    let page = get(
        &app,
        &format!("/s/{}", s.code),
        &[
            ("accept-language", "en"),
            ("x-forwarded-for", "2001:db8:1::1"),
        ],
    )
    .await;
    let pin = section(&page.body, "pin").expect("the PIN part");
    assert!(pin.contains(" disabled"), "{pin}");
    // Another client (the proxy's claim of the locked one is not believed) finds it open.
    let other = get(
        &app,
        &format!("/s/{}", s.code),
        &[
            ("accept-language", "en"),
            ("x-forwarded-for", "2001:db8:1:2::5, 198.51.100.9"),
        ],
    )
    .await;
    let pin = section(&other.body, "pin").expect("the PIN part");
    assert!(!pin.contains(" disabled"), "{pin}");
    let right = post_pin_with(&app, &s.code, &s.pin, "en", &from("198.51.100.9")).await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.body);
    assert!(right.body.contains("PIN correct"), "{}", right.body);
}

/// Many clients together lock a code for everyone once the code's limit is
/// reached, and the page says that it is closed for everyone; the metrics
/// tell it from a client's own lock.
#[tokio::test]
async fn many_clients_lock_the_code_for_everyone() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let policy = PinPolicy {
        per_client: PinLimit {
            max: 2,
            window_us: 15 * MINUTE_US,
        },
        per_client_day: PinLimit {
            max: 3,
            window_us: 24 * 60 * MINUTE_US,
        },
        per_code: PinLimit {
            max: 4,
            window_us: 24 * 60 * MINUTE_US,
        },
    };
    let consumer = consumer(dir.path(), &clock)
        .with_policy(policy)
        .with_proxy_header(Some(ProxyHeader {
            name: header::HeaderName::from_static("x-real-ip"),
            proxies: vec!["127.0.0.1".parse().unwrap()],
        }));
    let metrics = consumer.metrics();
    let app = app(real_lookup(), consumer, trust());
    let wrong = if s.pin == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    for addr in ["192.0.2.1", "192.0.2.1", "192.0.2.2"] {
        clock.advance(MINUTE_US);
        let r = post_pin_with(&app, &s.code, wrong, "en", &[("x-real-ip", addr)]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    clock.advance(MINUTE_US);
    let fourth = post_pin_with(&app, &s.code, wrong, "en", &[("x-real-ip", "192.0.2.2")]).await;
    assert!(
        fourth
            .body
            .contains("so its PIN check is closed for everyone until"),
        "{}",
        fourth.body
    );
    // A client that sent nothing is refused too, in Chinese as well.
    let r = post_pin_with(
        &app,
        &s.code,
        &s.pin,
        "zh",
        &[("x-real-ip", "203.0.113.50")],
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.body.contains("此码的密码验证对所有人暂停"), "{}", r.body);
    // The day after the first wrong PIN the code opens again.
    clock.advance(24 * 60 * MINUTE_US);
    let r = post_pin_with(
        &app,
        &s.code,
        &s.pin,
        "en",
        &[("x-real-ip", "203.0.113.50")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut text = String::new();
    metrics.render_prometheus(&mut text);
    assert!(
        text.contains("proofmark_consumer_pin_checks_total{outcome=\"code_locked\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("proofmark_consumer_pin_checks_total{outcome=\"rate_limited\"} 0\n"),
        "{text}"
    );
}

/// The connection's peer address (which the server passes with each request) is the
/// client; a proxy header is believed only from a trusted proxy's network, so a sender
/// that reaches the server directly cannot be a new client on every request by naming a
/// new address in it.
#[tokio::test]
async fn the_peer_is_the_client_unless_a_trusted_proxy_names_one() {
    let s = sample();
    let wrong = if s.pin == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    let proxy = ProxyHeader {
        name: header::HeaderName::from_static("x-forwarded-for"),
        proxies: vec!["10.0.0.0/8".parse().unwrap()],
    };
    for proxy in [None, Some(proxy)] {
        let dir = tempfile::tempdir().unwrap();
        let clock = TestClock::new();
        let consumer = consumer(dir.path(), &clock).with_proxy_header(proxy);
        let app = app(real_lookup(), consumer, trust());
        let post = |peer: &str, forwarded: Option<String>, pin: &str| {
            let peer: SocketAddr = peer.parse().unwrap();
            let mut req = Request::post(format!("/s/{}/pin?lang=en", s.code))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .extension(ConnectInfo(peer));
            if let Some(addr) = forwarded {
                req = req.header("x-forwarded-for", addr);
            }
            req.body(Body::from(format!("pin={pin}"))).unwrap()
        };
        // A new address in the header on each request, from outside the proxies.
        for i in 0..5 {
            let r = send(
                &app,
                post("192.0.2.10:40000", Some(format!("203.0.113.{i}")), wrong),
            )
            .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        }
        // Another port of the same address is the same client.
        let r = send(
            &app,
            post("192.0.2.10:40001", Some("203.0.113.99".into()), &s.pin),
        )
        .await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        let r = send(&app, post("192.0.2.11:40000", None, &s.pin)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
}

/// The view token cookie a counted scan sets (`__Secure-pm_view=...`), as a
/// `Cookie` header value.
fn view_cookie(reply: &Reply) -> String {
    set_cookies(reply)
        .iter()
        .find_map(|c| c.strip_prefix("__Secure-pm_view="))
        .and_then(|rest| rest.split(';').next())
        .map(|token| format!("__Secure-pm_view={token}"))
        .expect("a counted scan sets the view token cookie")
}

/// The browser that scanned views the page again without counting, for two
/// hours, whatever its query: a reload, the language link, the zone form.
/// The same requests from a browser without the scan's cookie (a label
/// printed with `?lang=`, a redirecting server) are scans, as is one with a
/// cookie of another code, an edited or an expired one. Views do not renew
/// the token: one browser counts at most once per two hours.
#[tokio::test]
async fn only_the_scanning_browser_views_the_page_without_counting() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let app = app(real_lookup(), consumer(dir.path(), &clock), trust());
    let path = format!("/s/{}", s.code);
    let first = get(&app, &path, &[]).await; // 1
    let cookie = view_cookie(&first);
    let attrs = set_cookies(&first)
        .into_iter()
        .find(|c| c.starts_with("__Secure-pm_view="))
        .unwrap();
    // One cookie per code: its page's path.
    assert!(
        attrs.contains(&format!(
            "; Path={path}; Max-Age=7200; Secure; SameSite=Lax; HttpOnly"
        )),
        "{attrs}"
    );
    let both = format!("pm_lang=en; {cookie}");
    for query in [
        "",
        "?lang=en",
        "?lang=zh&tz=UTC",
        "?tz=UTC",
        "?lang=xx",
        "?x=1",
    ] {
        for _ in 0..3 {
            clock.advance(MINUTE_US);
            let r = get(&app, &format!("{path}{query}"), &[("cookie", &both)]).await;
            assert!(
                r.body.contains("Scans of this code: 1;") || r.body.contains("已扫描 1 次"),
                "{query}: {}",
                r.body
            );
            // A view sets no new token: the scan's keeps its time.
            assert!(
                !set_cookies(&r)
                    .iter()
                    .any(|c| c.starts_with("__Secure-pm_view=")),
                "{query}"
            );
        }
    }
    // Without the cookie every request counts.
    get(&app, &format!("{path}?lang=en"), &[]).await; // 2
    get(&app, &format!("{path}?tz=UTC"), &[]).await; // 3
    get(&app, &path, &[]).await; // 4
    // A token of another code, or edited.
    let other = SecretsReader::open(&secrets_path())
        .unwrap()
        .map(Result::unwrap)
        .find(|(code, _)| *code != s.code)
        .unwrap();
    let other_page = get(&app, &format!("/s/{}", other.0), &[]).await;
    let other_cookie = view_cookie(&other_page);
    get(&app, &path, &[("cookie", &other_cookie)]).await; // 5
    let token = cookie.strip_prefix("__Secure-pm_view=").unwrap();
    let (issued, mac) = token.split_once('.').unwrap();
    // An issue time inside the window: only the MAC refuses it.
    let forged = format!(
        "__Secure-pm_view={}.{mac}",
        issued.parse::<u64>().unwrap() - 60
    );
    get(&app, &path, &[("cookie", &forged)]).await; // 6
    // A PIN answer sets no token.
    let answer = post_pin(&app, &s.code, "", "en").await;
    assert!(
        !set_cookies(&answer)
            .iter()
            .any(|c| c.starts_with("__Secure-pm_view="))
    );
    // Two hours after the scan (the views meanwhile renewed nothing), the token no longer
    // works: the browser's next visit is a scan, which gives it a new token.
    clock.advance(121 * MINUTE_US - 18 * MINUTE_US);
    let r = get(&app, &path, &[("cookie", &cookie)]).await; // 7
    assert!(r.body.contains("已扫描 7 次"), "{}", r.body);
    let fresh = view_cookie(&r);
    let r = get(&app, &format!("{path}?lang=en"), &[("cookie", &fresh)]).await;
    assert!(r.body.contains("Scans of this code: 7;"), "{}", r.body);
    // The state keeps the key: a restarted server takes the tokens it gave.
    drop(app);
    let store = ConsumerStore::open(dir.path()).unwrap();
    let restarted = router(
        real_lookup(),
        Consumer::new(store, Some(test_key())).with_clock(Arc::clone(&clock) as Arc<dyn Clock>),
        Arc::new(trust()),
    );
    let r = get(&restarted, &path, &[("cookie", &fresh)]).await;
    assert!(r.body.contains("已扫描 7 次"), "{}", r.body);
    // HEAD never counts, with or without a token.
    head(&restarted, &path).await;
    let r = get(&restarted, &path, &[("cookie", &fresh)]).await;
    assert!(r.body.contains("已扫描 7 次"), "{}", r.body);
}

#[tokio::test]
async fn scans_pins_and_locks_survive_a_restart() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let path = format!("/s/{}", s.code);
    // Find a second code to lock.
    let other = SecretsReader::open(&secrets_path())
        .unwrap()
        .map(Result::unwrap)
        .find(|(code, _)| *code != s.code)
        .unwrap();
    {
        let app = app(real_lookup(), consumer(dir.path(), &clock), trust());
        get(&app, &path, &[]).await;
        clock.advance(MINUTE_US);
        get(&app, &path, &[]).await;
        let r = post_pin(&app, &s.code, &s.pin, "en").await;
        assert!(r.body.contains("PIN correct"));
        for _ in 0..5 {
            post_pin(&app, &other.0, "99999999", "en").await;
        }
    }
    clock.advance(MINUTE_US);
    // Reopen the same state (importing the PINs again keeps everything).
    let app = app(real_lookup(), consumer(dir.path(), &clock), trust());
    let r = get(&app, &path, &[("accept-language", "en")]).await;
    let first = ViewerZone::default_zone().format_micros(NOW_US).unwrap();
    assert!(r.body.contains("id=\"copy-warning\""));
    assert!(
        plain(&r.body).contains(&format!("scanned 3 times, first on {first}")),
        "{}",
        r.body
    );
    let locked = post_pin(&app, &other.0, &other.1, "en").await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
}

async fn head(app: &Router, uri: &str) -> Reply {
    send(app, Request::head(uri).body(Body::empty()).unwrap()).await
}

/// The text of some HTML, its tags removed (times in sentences are `<time>`
/// elements).
fn plain(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Whether a page shows the green badge.
fn green(body: &str) -> bool {
    body.contains("id=\"verdict\" class=\"ok\"")
}

/// The part of a page from the element with `id` to the end of its section.
fn section<'b>(body: &'b str, id: &str) -> Option<&'b str> {
    let start = body.find(&format!("id=\"{id}\""))?;
    let rest = &body[start..];
    Some(&rest[..rest.find("</section>").unwrap_or(rest.len())])
}

fn prometheus(consumer: &Consumer) -> String {
    let mut text = String::new();
    consumer.metrics().render_prometheus(&mut text);
    text
}

/// Without a trusted key nothing can be checked against the log: the page
/// must not call a genuine product fake. It is amber, in both languages, with
/// no badge and no red, and counted as its own outcome.
#[tokio::test]
async fn a_service_without_a_trusted_source_cannot_confirm_but_does_not_call_it_fake() {
    let s = sample();
    let clock = TestClock::new();
    let dir = tempfile::tempdir().unwrap();
    let consumer = consumer(dir.path(), &clock);
    let untrusted = app(real_lookup(), consumer.clone(), Trust::new());
    let r = get(&untrusted, &format!("/s/{}?lang=en", s.code), &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body
            .contains("id=\"verdict\" class=\"warn\" role=\"status\"><h2 id=\"badge\">⚠ Cannot confirm right now</h2>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("This does not mean the product is fake."));
    assert!(r.body.contains("Please scan again later"));
    assert!(!r.body.contains("Verification failed"));
    assert!(!r.body.contains("class=\"bad\""));
    assert!(!green(&r.body), "{}", r.body);
    assert!(!r.body.contains("✔ Verified"));
    // The journey is still shown.
    assert!(r.body.contains("id=\"journey\""));
    let zh = get(&untrusted, &format!("/s/{}?lang=zh", s.code), &[]).await;
    assert!(zh.body.contains("⚠ 暂时无法确认"), "{}", zh.body);
    assert!(zh.body.contains(
        "暂时无法完成核验。这并不代表商品是假冒的，请稍后再扫一次；如仍出现此提示，请联系品牌方。"
    ));
    assert!(!zh.body.contains("验证未通过"));
    let text = prometheus(&consumer);
    assert!(
        text.contains("proofmark_consumer_page_views_total{outcome=\"unconfirmed\"} 2\n"),
        "{text}"
    );
    assert!(text.contains("proofmark_consumer_page_views_total{outcome=\"not_verified\"} 0\n"));
}

/// A receipt altered after the fact stays red, with or without the key;
/// a bad signature is red when the key is there to check it.
#[tokio::test]
async fn tampered_receipts_stay_red_without_or_with_the_key() {
    let s = sample();
    let clock = TestClock::new();
    let report = real_report().await;
    let page = |report: CodeReport, trust: Trust| {
        let dir = tempfile::tempdir().unwrap();
        let app = app(Arc::new(Fixed(report)), consumer(dir.path(), &clock), trust);
        let code = s.code.clone();
        async move {
            let r = get(&app, &format!("/s/{code}?lang=en"), &[]).await;
            drop(dir);
            r
        }
    };

    // Another root in the receipt: the commitment fails, whatever is trusted.
    let mut wrong_root = report.clone();
    let receipt = wrong_root
        .batches
        .get_mut(BATCH_ID)
        .unwrap()
        .anchors
        .get_mut("ledger")
        .unwrap();
    receipt["root"] = serde_json::Value::String("ab".repeat(32));
    for trust in [Trust::new(), trust()] {
        let r = page(wrong_root.clone(), trust).await;
        assert!(r.body.contains("Verification failed"), "{}", r.body);
        assert!(r.body.contains("id=\"verdict\" class=\"bad\""));
        assert!(!r.body.contains("Cannot confirm"));
        assert!(!green(&r.body), "{}", r.body);
    }

    // A forged checkpoint signature: red with the key; without it the
    // signature cannot be checked, which is no contradiction.
    let mut forged = report.clone();
    let receipt = forged
        .batches
        .get_mut(BATCH_ID)
        .unwrap()
        .anchors
        .get_mut("ledger")
        .unwrap();
    let checkpoint = receipt["checkpoint"].as_str().unwrap().to_owned();
    let (body, sig_line) = checkpoint.trim_end_matches('\n').rsplit_once('\n').unwrap();
    let (name, sig) = sig_line.rsplit_once(' ').unwrap();
    let mut sig: Vec<char> = sig.chars().collect();
    sig[20] = if sig[20] == 'A' { 'B' } else { 'A' };
    let sig: String = sig.into_iter().collect();
    receipt["checkpoint"] = serde_json::Value::String(format!("{body}\n{name} {sig}\n"));
    let r = page(forged.clone(), trust()).await;
    assert!(r.body.contains("Verification failed"), "{}", r.body);
    assert!(r.body.contains("id=\"verdict\" class=\"bad\""));
    let r = page(forged, Trust::new()).await;
    assert!(r.body.contains("Cannot confirm right now"), "{}", r.body);
    assert!(!r.body.contains("class=\"bad\""));

    // A service that trusts another log distrusts this one (a forged log would look the
    // same): red, not amber.
    let other = proofmark_anchor::ledger::NoteSigner::generate("other.example/log")
        .unwrap()
        .verifier();
    let r = page(report, Trust::new().with_ledger_key(other)).await;
    assert!(r.body.contains("Verification failed"), "{}", r.body);
    assert!(r.body.contains("id=\"verdict\" class=\"bad\""));
    assert!(!r.body.contains("Cannot confirm"));
}

/// The code as sent may carry white space the lookup trims (SPEC.md 11.1):
/// such a URL is redirected to the canonical one and never gets state of its
/// own: not a scan of its own, and its PIN is the canonical code's PIN.
#[tokio::test]
async fn padded_codes_redirect_and_share_the_canonical_state() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let app = app(real_lookup(), consumer(dir.path(), &clock), trust());
    let path = format!("/s/{}", s.code);
    // A code spelled with percent escapes is the same page, under another path than the
    // one its cookies are set for: redirected too.
    let escaped = format!("/s/%{:02X}{}", s.code.as_bytes()[0], &s.code[1..]);
    for padded in [
        format!("{path}%20"),
        format!("{path}%0A"),
        format!("{path}%09"),
        format!("/s/%20{}", s.code),
        escaped,
    ] {
        let r = get(&app, &padded, &[]).await;
        assert_eq!(r.status, StatusCode::PERMANENT_REDIRECT, "{padded}");
        assert_eq!(r.headers[header::LOCATION], path.as_str());
        let r = get(&app, &format!("{padded}?lang=en&tz=UTC"), &[]).await;
        assert_eq!(
            r.headers[header::LOCATION],
            format!("{path}?lang=en&tz=UTC").as_str()
        );
        let r = head(&app, &padded).await;
        assert_eq!(r.status, StatusCode::PERMANENT_REDIRECT);
    }
    // None of those was a scan.
    let r = get(&app, &path, &[]).await;
    assert!(r.body.contains("已扫描 1 次"), "{}", r.body);

    // The right PIN posted under a padded code is the canonical code's PIN.
    clock.advance(MINUTE_US);
    let r = post_pin(&app, &format!("{}%20", s.code), &s.pin, "en").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("PIN correct"), "{}", r.body);
    assert!(!r.body.contains("No scratch-off PIN"));
    // Its page links to the canonical path.
    assert!(
        r.body
            .contains(&format!("href=\"{path}?lang=zh\">中文</a>"))
    );
    assert!(!r.body.contains("%20"));
    // And the canonical page now warns; so does the padded one, redirected.
    let r = get(&app, &path, &[("accept-language", "en")]).await;
    assert!(r.body.contains("id=\"copy-warning\""), "{}", r.body);
    assert!(r.body.contains("scanned 2 times"), "{}", r.body);
    let r = get(&app, &format!("{path}%0A"), &[]).await;
    assert_eq!(r.status, StatusCode::PERMANENT_REDIRECT);
    let r = post_pin(&app, &format!("%20{}%09", s.code), &s.pin, "en").await;
    assert!(
        r.body.contains("This PIN was already confirmed"),
        "{}",
        r.body
    );
    assert!(r.body.contains("id=\"copy-warning\""));
}

/// Link previewers send `HEAD`: it answers, but is no scan.
#[tokio::test]
async fn head_requests_are_not_scans() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let consumer = consumer(dir.path(), &TestClock::new());
    let app = app(real_lookup(), consumer.clone(), trust());
    let path = format!("/s/{}", s.code);
    for _ in 0..3 {
        let r = head(&app, &path).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.is_empty());
    }
    assert!(prometheus(&consumer).contains("proofmark_consumer_scans_total 0\n"));
    let r = get(&app, &path, &[]).await;
    assert!(r.body.contains("已扫描 1 次"), "{}", r.body);
    // Reloading the answer to a PIN (a POST) as a GET goes back to the code's page.
    let r = get(&app, &format!("{path}/pin"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers[header::LOCATION], path.as_str());
}

/// Reloading a PIN answer from the browser that scanned goes back to the page without
/// counting a scan; from another browser it is a scan, as any visit.
#[tokio::test]
async fn reloading_a_pin_answer_does_not_count_for_the_scanning_browser() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let app = app(
        real_lookup(),
        consumer(dir.path(), &TestClock::new()),
        trust(),
    );
    let path = format!("/s/{}", s.code);
    let first = get(&app, &path, &[]).await; // 1
    let cookie = view_cookie(&first);
    post_pin(&app, &s.code, "", "en").await;
    for reload in [format!("{path}/pin?lang=en"), format!("{path}/pin")] {
        let r = get(&app, &reload, &[("cookie", &cookie)]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let location = r.headers[header::LOCATION].to_str().unwrap().to_owned();
        // The query as the form sent it, nothing added.
        assert_eq!(location, reload.replace("/pin", ""));
        let page = get(&app, &location, &[("cookie", &cookie)]).await;
        assert!(
            page.body.contains("Scans of this code: 1;") || page.body.contains("已扫描 1 次"),
            "{}",
            page.body
        );
    }
    // The language the form named is kept, for a browser without cookies too.
    let r = get(&app, &format!("{path}/pin?lang=en"), &[]).await;
    assert_eq!(
        r.headers[header::LOCATION],
        format!("{path}?lang=en").as_str()
    );
    let page = get(&app, &format!("{path}?lang=en"), &[]).await; // 2
    assert!(
        page.body.contains("Scans of this code: 2;"),
        "{}",
        page.body
    );
}

/// A PIN typed in full width (a Chinese keyboard in full-width mode), with a
/// full-width hyphen, is the PIN, as a code typed so is the code.
#[tokio::test]
async fn a_full_width_pin_is_the_pin() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let app = app(
        real_lookup(),
        consumer(dir.path(), &TestClock::new()),
        trust(),
    );
    get(&app, &format!("/s/{}", s.code), &[]).await;
    let (head, tail) = s.pin.split_at(s.pin.len() / 2);
    let full_width: String = format!("{head}-{tail}")
        .chars()
        .map(|c| char::from_u32(u32::from(c) + 0xFEE0).unwrap())
        .collect();
    let encoded: String = full_width.bytes().map(|b| format!("%{b:02X}")).collect();
    let r = post_pin(&app, &s.code, &encoded, "en").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("PIN correct"), "{}", r.body);
}

/// The time a PIN lockout ends is shown rounded up to the minute: the right PIN
/// sent at the minute shown is checked, never refused as locked.
#[tokio::test]
async fn the_lockout_end_is_shown_rounded_up() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    clock.advance(11_000_000);
    let app = app(real_lookup(), consumer(dir.path(), &clock), trust());
    get(&app, &format!("/s/{}", s.code), &[]).await;
    let wrong = if s.pin == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    for _ in 0..5 {
        post_pin(&app, &s.code, wrong, "en").await;
    }
    let locked = post_pin(&app, &s.code, &s.pin, "en").await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    // The lock ends at +15 min 11 s: shown as +16 min.
    let zone = ViewerZone::default_zone();
    let shown = zone.format_micros(NOW_US + 16 * MINUTE_US).unwrap();
    assert!(
        plain(&locked.body).contains(&format!("Try again after {shown}")),
        "{}",
        locked.body
    );
    // In the zone the page's top line says, for this time as for every other.
    assert!(
        locked.body.contains(
            "<main><p id=\"zone\" class=\"zone\">Times are China Standard Time (UTC+8)</p>"
        ),
        "{}",
        locked.body
    );
    clock.advance(16 * MINUTE_US - 11_000_000);
    let right = post_pin(&app, &s.code, &s.pin, "en").await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.body);
}

/// Once the PIN is confirmed, every PIN answer but the confirming one shows
/// the copy warning: wrong, malformed, rate-limited.
#[tokio::test]
async fn every_pin_answer_after_the_confirmation_warns() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let app = app(real_lookup(), consumer(dir.path(), &clock), trust());
    get(&app, &format!("/s/{}", s.code), &[]).await;
    let right = post_pin(&app, &s.code, &s.pin, "en").await;
    assert!(right.body.contains("PIN correct"));
    assert!(!right.body.contains("id=\"copy-warning\""));
    let wrong = if s.pin == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    for left in (1..=4).rev() {
        clock.advance(MINUTE_US);
        let r = post_pin(&app, &s.code, wrong, "en").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("Wrong PIN."), "{}", r.body);
        assert!(
            r.body.contains("id=\"copy-warning\""),
            "left {left}: {}",
            r.body
        );
    }
    let r = post_pin(&app, &s.code, "12%3C", "en").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("4 to 32 letters or digits"), "{}", r.body);
    assert!(r.body.contains("id=\"copy-warning\""));
    // The page has no PIN form any more: it is not told to enter one.
    for (pin, lang, said) in [
        (
            "12%3C",
            "en",
            "✖ No PIN was checked: what was sent is not a PIN (4 to 32 letters or digits).",
        ),
        (
            "",
            "en",
            "✖ No PIN was checked: what was sent is not a PIN (4 to 32 letters or digits).",
        ),
        (
            "",
            "zh",
            "✖ 没有验证密码：提交的内容不是密码（4 至 32 位字母或数字）。",
        ),
    ] {
        let r = post_pin(&app, &s.code, pin, lang).await;
        let answer = section(&r.body, "pin").unwrap();
        assert!(answer.contains(said), "{pin:?} {lang}: {answer}");
        assert!(!answer.contains("Enter the PIN"), "{answer}");
        assert!(!answer.contains("请输入"), "{answer}");
        assert!(!answer.contains("<form"), "{answer}");
    }
    clock.advance(MINUTE_US);
    let r = post_pin(&app, &s.code, wrong, "en").await;
    assert!(r.body.contains("Too many wrong PINs"));
    assert!(r.body.contains("id=\"copy-warning\""));
    let r = post_pin(&app, &s.code, &s.pin, "en").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.body.contains("id=\"copy-warning\""), "{}", r.body);
}

/// A PIN confirmed without any counted scan: the warning says when it was
/// confirmed, but no "scanned 0 times, first on —".
#[tokio::test]
async fn the_copy_warning_has_no_scan_sentence_without_a_scan() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let app = app(real_lookup(), consumer(dir.path(), &clock), trust());
    let right = post_pin(&app, &s.code, &s.pin, "en").await;
    assert!(right.body.contains("PIN correct"));
    // Later PIN answers count no scan either: they show the page in each language.
    let confirmed = ViewerZone::default_zone().format_micros(NOW_US).unwrap();
    clock.advance(MINUTE_US);
    let en = post_pin(&app, &s.code, "", "en").await;
    let warning = section(&en.body, "copy-warning").expect("the copy warning");
    assert!(
        plain(warning).contains(&format!("already confirmed on {confirmed}.")),
        "{warning}"
    );
    assert!(!warning.contains("scanned"), "{warning}");
    assert!(!warning.contains('—'), "{warning}");
    assert!(!warning.contains('{'), "{warning}");
    let zh = post_pin(&app, &s.code, "", "zh").await;
    let warning = section(&zh.body, "copy-warning").expect("the copy warning");
    assert!(
        plain(warning).contains(&format!("已于 {confirmed} 被验证过")),
        "{warning}"
    );
    assert!(!warning.contains("扫描"), "{warning}");
    assert!(!warning.contains('—'), "{warning}");
    // A wrong PIN answer (no scan either) says the same.
    let r = post_pin(&app, &s.code, "00000001", "en").await;
    let warning = section(&r.body, "copy-warning").expect("the copy warning");
    assert!(!warning.contains("scanned"), "{warning}");
    // After a counted scan the sentence is back.
    let r = get(
        &app,
        &format!("/s/{}", s.code),
        &[("accept-language", "en")],
    )
    .await;
    let warning = section(&r.body, "copy-warning").expect("the copy warning");
    let first = ViewerZone::default_zone()
        .format_micros(NOW_US + MINUTE_US)
        .unwrap();
    assert!(
        plain(warning).contains(&format!("This code has been scanned once, on {first}.")),
        "{warning}"
    );
}

/// The PIN field takes the longest PIN the server accepts, with separators.
#[tokio::test]
async fn the_pin_field_fits_the_longest_pin() {
    use proofmark_verifier::consumer::page::PIN_INPUT_MAX_CHARS;
    use proofmark_verifier::consumer::pin::{MAX_PIN_LEN, normalize_pin};
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let app = sample_app(dir.path());
    let r = get(&app, &format!("/s/{}", s.code), &[]).await;
    assert!(
        r.body
            .contains(&format!("maxlength=\"{PIN_INPUT_MAX_CHARS}\"")),
        "{}",
        r.body
    );
    let longest = "A-".repeat(MAX_PIN_LEN);
    assert_eq!(longest.len(), PIN_INPUT_MAX_CHARS);
    assert_eq!(normalize_pin(&longest).map(|p| p.len()), Some(MAX_PIN_LEN));
    assert_eq!(normalize_pin(&"A".repeat(MAX_PIN_LEN + 1)), None);
    // Letters are accepted: no numeric-only keyboard.
    assert!(!r.body.contains("inputmode=\"numeric\""));
}

/// The same records anchored in two batches: the page shows each once, and
/// the badge lists both batches' anchors; the report keeps every entry.
#[tokio::test]
async fn a_record_in_two_batches_is_shown_once_with_both_anchors() {
    let s = double_sample();
    let dir = tempfile::tempdir().unwrap();
    let lookup = lookup_of(s);
    let report = lookup.lookup(&s.code).await.unwrap().unwrap();
    assert_eq!(report.batches.len(), 2);
    let distinct: std::collections::BTreeSet<(&str, &str)> = report
        .records
        .iter()
        .map(|e| (e.kind.as_str(), e.canonical.as_str()))
        .collect();
    assert_eq!(
        report.records.len(),
        2 * distinct.len(),
        "every record is in both batches, with its proof"
    );
    let count_of = |kind: &str| distinct.iter().filter(|(k, _)| *k == kind).count();

    let app = app(
        lookup,
        consumer(dir.path(), &TestClock::new()),
        Trust::new().with_ledger_key(s.ledger_key.clone()),
    );
    let r = get(&app, &format!("/s/{}?lang=en", s.code), &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(green(&r.body), "{}", r.body);
    let journey = section(&r.body, "journey").unwrap();
    assert_eq!(
        journey.matches("<li class=\"event ").count(),
        distinct.len()
    );
    assert_eq!(
        journey.matches("<li class=\"event production\"").count(),
        count_of("production")
    );
    // Each record once with its provider: logistics events in the journey, the others in
    // their sections.
    assert_eq!(
        journey.matches("class=\"provided-by\"").count(),
        count_of("logistics")
    );
    assert_eq!(
        r.body.matches("class=\"provided-by\"").count(),
        distinct.len()
    );
    let inspections = section(&r.body, "inspections").unwrap();
    assert_eq!(
        inspections.matches("class=\"inspection\"").count(),
        count_of("inspection")
    );
    let customs = section(&r.body, "customs").unwrap();
    assert_eq!(
        customs.matches("class=\"declaration\"").count(),
        count_of("customs")
    );
    for entry in report.records.iter().filter(|e| e.kind == "customs") {
        let id = esc(text(&entry.record, "declaration_id").unwrap());
        assert_eq!(customs.matches(&format!("<dd>{id}</dd>")).count(), 1);
    }
    assert_eq!(
        r.body.matches("id=\"product\"").count(),
        1,
        "one product section"
    );
    // Both batches, each with its anchor.
    let verdict = section(&r.body, "verdict").unwrap();
    assert_eq!(verdict.matches("<li class=\"anchor\">").count(), 2);
    assert!(verdict.contains(&format!("Batch {BATCH_ID} (2026-11-24)")));
    assert!(verdict.contains(&format!("Batch {BATCH_ID_AGAIN} (2026-11-25)")));
    assert!(
        verdict.contains(
            "Entry 1 of the signed batch log “ledger”, signed when the log reached entry 1"
        )
    );
    assert!(
        verdict.contains(
            "Entry 2 of the signed batch log “ledger”, signed when the log reached entry 2"
        )
    );
}

/// A lookup that also answers for an alias of the report's code, as a
/// lookup with another normalisation might.
struct Aliased(CodeReport);

impl CodeLookup for Aliased {
    fn lookup<'a>(
        &'a self,
        code: &'a str,
    ) -> BoxFuture<'a, Result<Option<CodeReport>, LookupError>> {
        let found = (code == self.0.code || code == "ALIAS").then(|| self.0.clone());
        Box::pin(async move { Ok(found) })
    }
}

/// Whatever form of the code the lookup answered for, the state is the
/// report's code's; a form that is not white space around it is served in
/// place (no redirect that could loop), linking to the canonical path.
#[tokio::test]
async fn state_is_keyed_on_the_reports_code_whatever_was_asked() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let app = app(
        Arc::new(Aliased(real_report().await)),
        consumer(dir.path(), &TestClock::new()),
        trust(),
    );
    let path = format!("/s/{}", s.code);
    let r = get(&app, "/s/ALIAS", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("已扫描 1 次"));
    assert!(r.body.contains(&format!("action=\"{path}/pin?lang=zh\"")));
    assert!(!r.body.contains("ALIAS"));
    let r = get(&app, &path, &[]).await;
    assert!(r.body.contains("已扫描 2 次"), "{}", r.body);
    let r = post_pin(&app, "ALIAS", &s.pin, "en").await;
    assert!(r.body.contains("PIN correct"), "{}", r.body);
    let r = get(&app, &path, &[]).await;
    assert!(r.body.contains("id=\"copy-warning\""));
}

/// A chain reader with a fixed answer.
struct ChainSays(Result<(), proofmark_verifier::verify::ChainCheckError>);

impl proofmark_verifier::verify::ChainCheck for ChainSays {
    fn check(
        &self,
        _chain: &str,
        _receipt: &serde_json::Value,
        _batch: &proofmark_verifier::verify::AnchoredBatch<'_>,
    ) -> Result<String, proofmark_verifier::verify::ChainCheckError> {
        self.0.clone().map(|()| "tx 0xab, block 7".to_owned())
    }
}

/// A chain that cannot be read is "cannot confirm"; a chain that holds
/// something else is red.
#[tokio::test]
async fn an_unreachable_chain_cannot_confirm_and_a_contradicting_chain_is_red() {
    use proofmark_verifier::verify::ChainCheckError;
    let s = sample();
    let clock = TestClock::new();
    let mut report = real_report().await;
    // The batch anchored on a chain only (the ledger receipt removed).
    let batch = report.batches.get_mut(BATCH_ID).unwrap();
    let tx = format!("0x9f3a{}b2e4", "0".repeat(56));
    let receipt = serde_json::json!({
        "type": "evm", "batch_id": BATCH_ID, "root": batch.root, "leaf_count": batch.leaf_count,
        "manifest_digest": batch.manifest_digest, "suite": batch.suite, "tx_hash": tx,
        "block_number": 7,
    });
    // The hash shortened, whole in its title.
    let shown_tx = format!(
        "Transaction <span class=\"mono\" title=\"{tx}\">0x9f3a…b2e4</span> in block 7 of the blockchain “evm”"
    );
    batch.anchors.clear();
    batch.anchors.insert("evm".into(), receipt);
    for (answer, expected, unexpected) in [
        (
            Err(ChainCheckError::Unavailable("timeout".into())),
            "id=\"verdict\" class=\"warn\"",
            "Verification failed",
        ),
        (
            Err(ChainCheckError::Mismatch("another root".into())),
            "id=\"verdict\" class=\"bad\"",
            "Cannot confirm",
        ),
        (
            Err(ChainCheckError::Unavailable("timeout".into())),
            "<li>The blockchain that holds the seal of these records could not be reached just now.</li>",
            "timeout",
        ),
        (Ok(()), shown_tx.as_str(), "class=\"bad\""),
        // A blockchain's anchor is checked against a blockchain; the ledger's is the signed
        // batch log, not a blockchain.
        (Ok(()), "Verified on chain:", "signed batch log"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let trust = Trust::new().with_chain_check("evm", Arc::new(ChainSays(answer)));
        let app = app(
            Arc::new(Fixed(report.clone())),
            consumer(dir.path(), &clock),
            trust,
        );
        let r = get(&app, &format!("/s/{}?lang=en", s.code), &[]).await;
        assert!(r.body.contains(expected), "{expected}: {}", r.body);
        assert!(!r.body.contains(unexpected), "{unexpected}: {}", r.body);
    }
}

/// The details of an amber or red page say what was found in the buyer's words, in the
/// page's language: not the verifier's reasons, which name checks and tell the operator what
/// to configure (those go to the log).
#[tokio::test]
async fn amber_and_red_details_are_plain_in_both_languages() {
    let s = sample();
    let clock = TestClock::new();
    let details = |body: &str| {
        let start = body.find("<details id=\"findings\">").expect("the details");
        body[start..start + body[start..].find("</details>").unwrap()].to_owned()
    };
    let technical = [
        "verifier key",
        "chain to read",
        "checkpoint",
        "anchor",
        "leaf",
        "did not pass",
        "英文",
    ];
    let plain_only = |d: &str| {
        for word in technical {
            assert!(!d.contains(word), "{word}: {d}");
        }
    };
    // No trusted source: amber.
    let dir = tempfile::tempdir().unwrap();
    let untrusted = app(real_lookup(), consumer(dir.path(), &clock), Trust::new());
    let r = get(&untrusted, &format!("/s/{}?lang=en", s.code), &[]).await;
    let d = details(&r.body);
    assert!(d.contains("<summary>Details</summary>"), "{d}");
    assert!(
        d.contains(
            "<li>This service cannot check the seal of these records (their entry in a signed \
             log or their transaction on a blockchain) at the moment.</li>"
        ),
        "{d}"
    );
    plain_only(&d);
    let r = get(&untrusted, &format!("/s/{}?lang=zh", s.code), &[]).await;
    let d = details(&r.body);
    assert!(d.contains("<summary>详细信息</summary>"), "{d}");
    assert!(
        d.contains(
            "<li>本服务暂时无法核对这些记录的封存凭证（签名日志中的条目或区块链上的交易）。</li>"
        ),
        "{d}"
    );
    plain_only(&d);
    // A record altered after the fact: red.
    let mut report = real_report().await;
    let production = report
        .records
        .iter_mut()
        .find(|e| e.kind == "production")
        .unwrap();
    production
        .record
        .insert("brand".into(), serde_json::Value::String("Other".into()));
    let dir = tempfile::tempdir().unwrap();
    let tampered = app(
        Arc::new(Fixed(report)),
        consumer(dir.path(), &clock),
        trust(),
    );
    for (lang, text) in [
        (
            "en",
            "A record on this page does not match what was registered: it may have been changed afterwards.",
        ),
        (
            "zh",
            "本页有记录与登记时的内容不一致，可能在登记后被改动过。",
        ),
    ] {
        let r = get(&tampered, &format!("/s/{}?lang={lang}", s.code), &[]).await;
        let d = details(&r.body);
        assert!(d.contains(&format!("<li>{text}</li>")), "{d}");
        plain_only(&d);
    }
    // Sealed by a log this service does not trust: red, said so.
    let other = proofmark_anchor::ledger::NoteSigner::generate("other.example/log")
        .unwrap()
        .verifier();
    let dir = tempfile::tempdir().unwrap();
    let distrusting = app(
        real_lookup(),
        consumer(dir.path(), &clock),
        Trust::new().with_ledger_key(other),
    );
    let r = get(&distrusting, &format!("/s/{}?lang=en", s.code), &[]).await;
    let d = details(&r.body);
    assert!(
        d.contains(
            "<li>These records are sealed by a source this service does not recognise.</li>"
        ),
        "{d}"
    );
    // Stored records that do not match their batch, found by the lookup.
    let dir = tempfile::tempdir().unwrap();
    let integrity = failing_app(dir.path(), &clock, record_mismatch);
    let r = get(&integrity, &format!("/s/{}?lang=en", s.code), &[]).await;
    let d = details(&r.body);
    assert!(
        d.contains("<li>The stored records do not match the batch they were published in.</li>"),
        "{d}"
    );
    plain_only(&d);
}

/// A code scanned many times without a confirmed PIN gets a caution near the top of its page
/// (a copied label shows mostly as scans: most buyers never scratch the PIN).
#[tokio::test]
async fn many_scans_caution_even_without_a_confirmed_pin() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let app = sample_app(dir.path());
    let path = format!("/s/{}", s.code);
    let path = path.as_str();
    let many = proofmark_verifier::consumer::page::MANY_SCANS;
    for n in 1..many {
        let r = get(&app, path, &[("accept-language", "en")]).await;
        assert!(section(&r.body, "many-scans").is_none(), "scan {n}");
    }
    let r = get(&app, path, &[("accept-language", "en")]).await;
    let caution = section(&r.body, "many-scans").expect("a caution at the threshold");
    assert!(
        caution.contains(&format!("scanned {many} times")),
        "{caution}"
    );
    // Above the records, under no red copy warning.
    assert!(r.body.find("id=\"many-scans\"") < r.body.find("id=\"product\""));
    assert!(section(&r.body, "copy-warning").is_none());
}

/// A full disk (the store's writes made to fail) must not hide the verified
/// history: the page keeps its verdict and journey and says the scan was not
/// counted, a PIN is refused with 503 (it must be durable) and not counted as
/// wrong, readiness fails; once writes work again the store recovers without
/// a restart and counts again.
#[tokio::test]
async fn a_full_disk_hides_no_history_and_the_state_recovers() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let faults = WriteFaults::new();
    let key = test_key();
    let store = ConsumerStore::open_with_faults(dir.path(), faults.clone())
        .unwrap()
        .with_reopen_interval(std::time::Duration::ZERO);
    store
        .import_pins(&key, SecretsReader::open(&secrets_path()).unwrap())
        .unwrap();
    let consumer = Consumer::new(store, Some(key)).with_clock(Arc::clone(&clock) as Arc<dyn Clock>);
    let app = app(real_lookup(), consumer.clone(), trust());
    let path = format!("/s/{}", s.code);
    let r = get(&app, &path, &[("accept-language", "en")]).await;
    assert!(r.body.contains("Scans of this code: 1;"), "{}", r.body);
    assert_eq!(consumer.readiness(), Ok(()));

    faults.fail_writes(true);
    for _ in 0..3 {
        let r = get(&app, &path, &[("accept-language", "en")]).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(
            section(&r.body, "verdict")
                .unwrap()
                .contains("class=\"ok\""),
            "{}",
            r.body
        );
        assert!(section(&r.body, "journey").is_some());
        // The database failed and could not be reopened: the scans cannot even be read,
        // so whether the PIN was confirmed is unknown. The page says a copy warning may be
        // missing rather than showing none, offers no PIN form, and sets no view token (the
        // next view is to count).
        let unreadable = section(&r.body, "state-unreadable").expect("the notice");
        assert!(
            unreadable.contains("a warning that this label may be a copy could be missing"),
            "{unreadable}"
        );
        assert!(section(&r.body, "pin").is_none(), "{}", r.body);
        assert!(!r.body.contains("Scans of this code"));
        assert!(set_cookies(&r).is_empty(), "{:?}", set_cookies(&r));
    }
    let r = post_pin(&app, &s.code, &s.pin, "en").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(section(&r.body, "journey").is_some());
    assert!(r.body.contains("cannot be checked just now"), "{}", r.body);
    let reason = consumer.readiness().unwrap_err();
    assert!(reason.contains("cannot be written"), "{reason}");
    let text = prometheus(&consumer);
    assert!(
        text.contains("proofmark_consumer_state_writable 0\n"),
        "{text}"
    );
    assert!(
        text.contains("proofmark_consumer_scans_uncounted_total 3\n"),
        "{text}"
    );
    assert!(text.contains("proofmark_consumer_pin_checks_total{outcome=\"state_error\"} 1\n"));
    assert!(!text.contains("proofmark_consumer_state_failures_total 0\n"));

    // Space is back: readiness finds out by itself, the scans count again
    // (the three uncounted ones are lost), and the PIN confirms.
    faults.fail_writes(false);
    assert_eq!(consumer.readiness(), Ok(()));
    let r = get(&app, &path, &[("accept-language", "en")]).await;
    assert!(r.body.contains("Scans of this code: 2;"), "{}", r.body);
    let r = post_pin(&app, &s.code, &s.pin, "en").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("PIN correct"), "{}", r.body);
    let text = prometheus(&consumer);
    assert!(
        text.contains("proofmark_consumer_state_writable 1\n"),
        "{text}"
    );
    assert!(
        !text.contains("proofmark_consumer_state_reopens_total 0\n"),
        "{text}"
    );
}

/// With a directory of organisation names, "provided by" shows the name with
/// the record's `org_id`; an id the directory does not name is shown alone.
#[tokio::test]
async fn providers_are_named_from_the_directory() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let report = real_report().await;
    let orgs = OrgNames::load(&repo_path("datasets/sample/orgs.csv")).unwrap();
    let named = consumer(dir.path(), &TestClock::new()).with_orgs(orgs.clone());
    let page = app(real_lookup(), named, trust());
    let zh = get(&page, &format!("/s/{}", s.code), &[]).await;
    let en = get(
        &page,
        &format!("/s/{}", s.code),
        &[("accept-language", "en")],
    )
    .await;
    // Each record's provider where the record is shown: logistics events in the journey,
    // the others in their sections; the id with its brackets kept on one line.
    let wrap = |kind: &str, inner: String| {
        if kind == "logistics" {
            format!("<span class=\"provided-by\">{inner}</span>")
        } else {
            format!("<dd class=\"provided-by\">{inner}</dd>")
        }
    };
    for entry in &report.records {
        let id = &entry.source.provided_by;
        let name = orgs.name(id).expect("the sample names every provider");
        let shown = wrap(
            &entry.kind,
            format!("{}<span class=\"org\">（{}）</span>", esc(name), esc(id)),
        );
        assert!(zh.body.contains(&shown), "{shown}");
        let shown = wrap(
            &entry.kind,
            format!("{} <span class=\"org\">({})</span>", esc(name), esc(id)),
        );
        assert!(en.body.contains(&shown), "{shown}");
    }
    // A directory that names only the first provider.
    let first = &report.records[0].source.provided_by;
    let partial = OrgNames::parse(
        Path::new("orgs.csv"),
        format!("org_id,name\n{first},Only One\n").as_bytes(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let named = consumer(dir.path(), &TestClock::new()).with_orgs(partial);
    let page = app(real_lookup(), named, trust());
    let en = get(
        &page,
        &format!("/s/{}", s.code),
        &[("accept-language", "en")],
    )
    .await;
    for entry in &report.records {
        let id = &entry.source.provided_by;
        let shown = if id == first {
            wrap(
                &entry.kind,
                format!("Only One <span class=\"org\">({})</span>", esc(id)),
            )
        } else {
            wrap(
                &entry.kind,
                format!("<span class=\"org\">{}</span>", esc(id)),
            )
        };
        assert!(en.body.contains(&shown), "{shown}");
    }
}

/// The PIN proof cookie an answer that confirmed a PIN sets (`__Secure-pm_pin=...`),
/// as a `Cookie` header value.
fn pin_cookie(reply: &Reply) -> String {
    set_cookies(reply)
        .iter()
        .find_map(|c| c.strip_prefix("__Secure-pm_pin="))
        .and_then(|rest| rest.split(';').next())
        .map(|proof| format!("__Secure-pm_pin={proof}"))
        .expect("the answer that confirmed the PIN sets the PIN proof cookie")
}

/// The buyer who confirmed the PIN, reloading the answer (the browser posts
/// the PIN again), is told that they confirmed it from this browser, without
/// the copy warning. Every later page of the code still warns, everywhere,
/// and in that browser says that it confirmed the PIN; anyone else's right
/// PIN is "already confirmed; if you did not confirm it yourself...".
#[tokio::test]
async fn the_browser_that_confirmed_the_pin_is_told_so() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let consumer = consumer(dir.path(), &clock);
    let app = app(real_lookup(), consumer.clone(), trust());
    let path = format!("/s/{}", s.code);
    let zone = ViewerZone::default_zone();
    let scan = get(&app, &path, &[("accept-language", "en")]).await;
    let view = view_cookie(&scan);
    clock.advance(MINUTE_US);
    let confirmed = zone.format_micros(NOW_US + MINUTE_US).unwrap();

    let right = post_pin_with(&app, &s.code, &s.pin, "en", &[("cookie", &view)]).await;
    assert_eq!(right.status, StatusCode::OK);
    assert!(right.body.contains("PIN correct"), "{}", right.body);
    assert!(section(&right.body, "copy-warning").is_none());
    let attrs = set_cookies(&right)
        .into_iter()
        .find(|c| c.starts_with("__Secure-pm_pin="))
        .expect("a PIN proof");
    assert!(
        attrs.ends_with(&format!(
            "; Path={path}; Max-Age=31536000; Secure; SameSite=Lax; HttpOnly"
        )),
        "{attrs}"
    );
    let proof = pin_cookie(&right);
    assert_eq!(proof.len(), "__Secure-pm_pin=".len() + 24);
    let both = format!("{view}; {proof}");

    // The reload of that answer: the right PIN again, with the proof.
    clock.advance(MINUTE_US);
    for _ in 0..2 {
        let reload = post_pin_with(&app, &s.code, &s.pin, "en", &[("cookie", &both)]).await;
        assert_eq!(reload.status, StatusCode::OK);
        let pin = section(&reload.body, "pin").unwrap();
        assert!(pin.contains("class=\"ok\""), "{pin}");
        assert!(
            plain(pin).contains(&format!(
                "✔ PIN correct: you confirmed it from this browser at {confirmed}."
            )),
            "{pin}"
        );
        assert!(
            section(&reload.body, "copy-warning").is_none(),
            "{}",
            reload.body
        );
        assert!(!reload.body.contains("may be a copy"));
        assert!(!reload.body.contains("may be copied"));
    }
    let zh = post_pin_with(&app, &s.code, &s.pin, "zh", &[("cookie", &proof)]).await;
    assert!(
        plain(&zh.body).contains(&format!(
            "✔ 密码正确：您已于 {confirmed} 在此浏览器中验证过此密码。"
        )),
        "{}",
        zh.body
    );

    // Anyone else's right PIN: already confirmed, with the copy warning.
    let other_code = SecretsReader::open(&secrets_path())
        .unwrap()
        .map(Result::unwrap)
        .find(|(code, _)| *code != s.code)
        .unwrap();
    let other_confirmed = post_pin(&app, &other_code.0, &other_code.1, "en").await;
    let other_proof = pin_cookie(&other_confirmed);
    let edited = {
        let hex = proof.strip_prefix("__Secure-pm_pin=").unwrap();
        let flipped = if hex.starts_with('0') { "1" } else { "0" };
        format!("__Secure-pm_pin={flipped}{}", &hex[1..])
    };
    for cookies in [
        "",
        other_proof.as_str(),
        edited.as_str(),
        "__Secure-pm_pin=",
    ] {
        let r = post_pin_with(&app, &s.code, &s.pin, "en", &[("cookie", cookies)]).await;
        assert!(
            plain(&r.body).contains(&format!(
                "⚠ This PIN was already confirmed on {confirmed}. If you did not confirm it yourself, the label may be a copy."
            )),
            "{cookies}: {}",
            r.body
        );
        assert!(section(&r.body, "copy-warning").is_some(), "{cookies}");
        assert!(!r.body.contains("id=\"confirmed-here\""), "{cookies}");
        assert!(!r.body.contains("from this browser"), "{cookies}");
    }
    let zh = post_pin(&app, &s.code, &s.pin, "zh").await;
    assert!(
        zh.body
            .contains("如果不是您本人验证的，此标签可能是复制品。"),
        "{}",
        zh.body
    );

    // Later pages warn in that browser too, saying that it confirmed the PIN; the badge
    // says the records are authentic, not the label.
    let page = get(&app, &path, &[("cookie", &both), ("accept-language", "en")]).await;
    let warning = section(&page.body, "copy-warning").expect("the copy warning stays");
    assert!(warning.contains("this label may be a copy"), "{warning}");
    assert!(warning.contains("<p id=\"confirmed-here\">"), "{warning}");
    assert!(
        plain(warning).contains(&format!("This browser confirmed the PIN at {confirmed}.")),
        "{warning}"
    );
    assert!(
        page.body
            .contains("<h2 id=\"badge\">✔ Records authentic, but this label may be copied</h2>"),
        "{}",
        page.body
    );
    let zh = get(&app, &path, &[("cookie", &both)]).await;
    assert!(
        plain(&zh.body).contains(&format!("此浏览器已于 {confirmed} 验证过此密码。")),
        "{}",
        zh.body
    );
    assert!(
        zh.body
            .contains("<h2 id=\"badge\">✔ 记录真实，但标签可能被复制</h2>")
    );
    assert!(zh.body.contains("此码的防伪密码已于"));
    assert!(zh.body.contains("谨防假冒，请联系品牌方核实。"));
    // A wrong PIN from that browser is answered with the warning and the sentence too.
    let wrong = if s.pin == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    let r = post_pin_with(&app, &s.code, wrong, "en", &[("cookie", &both)]).await;
    assert!(
        section(&r.body, "copy-warning")
            .unwrap()
            .contains("This browser confirmed")
    );
    // Another browser: the warning without the sentence, and the same badge.
    let elsewhere = get(&app, &path, &[("accept-language", "en")]).await;
    let warning = section(&elsewhere.body, "copy-warning").unwrap();
    assert!(!warning.contains("confirmed-here"), "{warning}");
    assert!(
        elsewhere
            .body
            .contains("✔ Records authentic, but this label may be copied")
    );
    // The proof is bound to its code: the other code's proof says nothing here.
    let r = get(&app, &path, &[("cookie", &other_proof)]).await;
    assert!(!r.body.contains("confirmed-here"));

    // Two hours after the confirmation the repost is no longer the reload of its answer
    // (a phone that confirmed a genuine tin, shown to a later buyer): it warns, and says
    // that this browser confirmed the PIN.
    clock.advance(2 * 3600 * 1_000_000);
    let late = post_pin_with(&app, &s.code, &s.pin, "en", &[("cookie", &both)]).await;
    assert!(
        plain(&late.body).contains("⚠ This PIN was already confirmed on"),
        "{}",
        late.body
    );
    let warning = section(&late.body, "copy-warning").expect("the copy warning");
    assert!(warning.contains("<p id=\"confirmed-here\">"), "{warning}");
    assert!(!late.body.contains("you confirmed it from this browser"));
    // Reposts by the confirming browser are not counted as the copy signal.
    let text = prometheus(&consumer);
    assert!(
        text.contains("proofmark_consumer_pin_checks_total{outcome=\"confirmed_again\"} 3\n"),
        "{text}"
    );
}

/// A PIN post from `peer` with `cookies`.
fn pin_request(code: &str, pin: &str, peer: &str, cookies: &str) -> Request<Body> {
    let peer: SocketAddr = peer.parse().unwrap();
    let mut req = Request::post(format!("/s/{code}/pin?lang=en"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .extension(ConnectInfo(peer));
    if !cookies.is_empty() {
        req = req.header(header::COOKIE, cookies);
    }
    req.body(Body::from(format!("pin={pin}"))).unwrap()
}

/// A double tap on a slow phone: two posts of the right PIN from the browser that scanned,
/// the second sent before the first answer (and its PIN proof) came back. The second is the
/// answer the browser shows: it is told that this browser confirmed the PIN, not that the
/// label may be a copy, and gets the PIN proof too. The same right PIN with another view
/// token, from another client, or without a token, is already confirmed: the copy warning.
#[tokio::test]
async fn a_double_tap_of_the_right_pin_is_not_a_copy() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let consumer = consumer(dir.path(), &clock);
    let app = app(real_lookup(), consumer.clone(), trust());
    let path = format!("/s/{}", s.code);
    const PHONE: &str = "198.51.100.7:50000";
    let scan = get(&app, &path, &[("accept-language", "en")]).await;
    let view = view_cookie(&scan);
    clock.advance(1_000_000);
    // Another browser scanned a second later: another token.
    let other_view = view_cookie(&get(&app, &path, &[]).await);
    assert_ne!(other_view, view);
    clock.advance(MINUTE_US);
    let confirmed = ViewerZone::default_zone()
        .format_micros(clock.now_us())
        .unwrap();

    let first = send(&app, pin_request(&s.code, &s.pin, PHONE, &view)).await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(
        plain(&first.body).contains("✔ PIN correct"),
        "{}",
        first.body
    );
    let proof = pin_cookie(&first);
    // The second tap: the same token and client, without the first answer's proof.
    clock.advance(1_000_000);
    let second = send(
        &app,
        pin_request(&s.code, &s.pin, "198.51.100.7:50001", &view),
    )
    .await;
    assert_eq!(second.status, StatusCode::OK);
    assert!(
        plain(&second.body).contains(&format!(
            "✔ PIN correct: you confirmed it from this browser at {confirmed}."
        )),
        "{}",
        second.body
    );
    assert!(section(&second.body, "copy-warning").is_none());
    assert!(!second.body.contains("may be a copy"));
    assert_eq!(pin_cookie(&second), proof);
    let text = prometheus(&consumer);
    assert!(
        text.contains("proofmark_consumer_pin_checks_total{outcome=\"confirmed_again\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("proofmark_consumer_pin_checks_total{outcome=\"already_confirmed\"} 0\n"),
        "{text}"
    );

    // Another client with the same token, the same client with another token or an
    // edited one, or no token: already confirmed, with the copy warning and no proof.
    let edited = {
        let flipped = if view.ends_with('0') { '1' } else { '0' };
        format!("{}{flipped}", &view[..view.len() - 1])
    };
    for (peer, cookies) in [
        ("203.0.113.9:50000", view.as_str()),
        (PHONE, other_view.as_str()),
        (PHONE, edited.as_str()),
        (PHONE, ""),
    ] {
        let r = send(&app, pin_request(&s.code, &s.pin, peer, cookies)).await;
        assert!(
            plain(&r.body).contains(&format!("⚠ This PIN was already confirmed on {confirmed}.")),
            "{peer} {cookies}: {}",
            r.body
        );
        assert!(
            section(&r.body, "copy-warning").is_some(),
            "{peer} {cookies}"
        );
        assert!(
            !set_cookies(&r)
                .iter()
                .any(|c| c.starts_with("__Secure-pm_pin=")),
            "{peer} {cookies}"
        );
    }
    let text = prometheus(&consumer);
    assert!(
        text.contains("proofmark_consumer_pin_checks_total{outcome=\"already_confirmed\"} 4\n"),
        "{text}"
    );
    // Past two hours from the confirmation the same browser's post warns as anyone's.
    clock.advance(2 * 3600 * 1_000_000);
    let late = send(&app, pin_request(&s.code, &s.pin, PHONE, &view)).await;
    assert!(
        section(&late.body, "copy-warning").is_some(),
        "{}",
        late.body
    );
}

/// A double tap from a page whose browser has no view token (it keeps no cookie, or its scan
/// was over two hours ago): the page's PIN form carries a token of its own, which both posts
/// send, and the second is told that this browser confirmed the PIN. Another page's token,
/// another client, or no token: already confirmed, with the copy warning.
#[tokio::test]
async fn a_double_tap_is_known_by_its_form_without_a_view_token() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let consumer = consumer(dir.path(), &clock);
    let app = app(real_lookup(), consumer.clone(), trust());
    let path = format!("/s/{}", s.code);
    let form_token = |body: &str| -> String {
        const FIELD: &str = "name=\"tap\" value=\"";
        let at = body.find(FIELD).expect("a form token") + FIELD.len();
        body[at..at + 32].to_owned()
    };
    let tap = form_token(&get(&app, &path, &[("accept-language", "en")]).await.body);
    let other_tap = form_token(&get(&app, &path, &[]).await.body);
    assert_ne!(tap, other_tap);
    assert!(tap.bytes().all(|b| b.is_ascii_hexdigit()), "{tap}");
    let post = |tap: &str, peer: &str| {
        let peer: SocketAddr = peer.parse().unwrap();
        Request::post(format!("/s/{}/pin?lang=en", s.code))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .extension(ConnectInfo(peer))
            .body(Body::from(format!("pin={}&tap={tap}", s.pin)))
            .unwrap()
    };
    const PHONE: &str = "198.51.100.7:50000";
    let first = send(&app, post(&tap, PHONE)).await;
    assert!(
        plain(&first.body).contains("✔ PIN correct"),
        "{}",
        first.body
    );
    clock.advance(1_000_000);
    let second = send(&app, post(&tap, "198.51.100.7:50001")).await;
    assert!(
        plain(&second.body).contains("✔ PIN correct: you confirmed it from this browser"),
        "{}",
        second.body
    );
    assert!(section(&second.body, "copy-warning").is_none());
    assert_eq!(pin_cookie(&second), pin_cookie(&first));
    for (t, peer) in [
        (other_tap.as_str(), PHONE),
        (tap.as_str(), "203.0.113.9:50000"),
        ("", PHONE),
        ("not-a-token", PHONE),
    ] {
        let r = send(&app, post(t, peer)).await;
        assert!(
            section(&r.body, "copy-warning").is_some(),
            "{t} {peer}: {}",
            r.body
        );
    }
    let text = prometheus(&consumer);
    assert!(
        text.contains("proofmark_consumer_pin_checks_total{outcome=\"confirmed_again\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("proofmark_consumer_pin_checks_total{outcome=\"already_confirmed\"} 4\n"),
        "{text}"
    );
}

/// The two posts of a double tap sent at once: whichever the state takes first confirms the
/// PIN, and neither answer says that the label may be a copy.
#[tokio::test]
async fn two_posts_of_the_right_pin_at_once_from_one_browser_both_confirm() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let app = app(real_lookup(), consumer(dir.path(), &clock), trust());
    let view = view_cookie(&get(&app, &format!("/s/{}", s.code), &[]).await);
    let (a, b) = tokio::join!(
        send(
            &app,
            pin_request(&s.code, &s.pin, "198.51.100.7:50000", &view)
        ),
        send(
            &app,
            pin_request(&s.code, &s.pin, "198.51.100.7:50001", &view)
        ),
    );
    for r in [&a, &b] {
        assert_eq!(r.status, StatusCode::OK);
        assert!(plain(&r.body).contains("✔ PIN correct"), "{}", r.body);
        assert!(section(&r.body, "copy-warning").is_none(), "{}", r.body);
        assert_eq!(pin_cookie(r), pin_cookie(&a));
    }
}

/// A PIN post from `peer` with more headers (`Host`, `Origin`, `Sec-Fetch-Site`, ...).
fn pin_post_from(code: &str, pin: &str, peer: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let peer: SocketAddr = peer.parse().unwrap();
    let mut req = Request::post(format!("/s/{code}/pin?lang=en"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .extension(ConnectInfo(peer));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body(Body::from(format!("pin={pin}"))).unwrap()
}

/// A PIN post that the browser says another site made (its `Origin` is not this server's,
/// or `Sec-Fetch-Site` says so) is refused with the code's page and a notice (403): the PIN
/// is not checked, and wrong PINs posted that way from many clients lock nothing. Posts
/// from the page itself, or without either header, are checked.
#[tokio::test]
async fn pin_posts_from_other_sites_are_refused() {
    let s = sample();
    let wrong = if s.pin == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let consumer = consumer(dir.path(), &clock);
    let app = app(real_lookup(), consumer.clone(), trust());
    let page = get(&app, &format!("/s/{}", s.code), &[]).await;
    assert_eq!(page.headers[header::REFERRER_POLICY], "same-origin");
    const HOST: (&str, &str) = ("host", "shop.example");
    let refused: [&[(&str, &str)]; 8] = [
        &[HOST, ("origin", "http://evil.example")],
        &[HOST, ("origin", "https://shop.example.evil.example")],
        &[HOST, ("origin", "https://shop.example:8443")],
        &[HOST, ("origin", "null")],
        &[("origin", "http://shop.example")],
        &[HOST, ("sec-fetch-site", "cross-site")],
        &[HOST, ("sec-fetch-site", "same-site")],
        &[
            HOST,
            ("origin", "https://shop.example"),
            ("sec-fetch-site", "cross-site"),
        ],
    ];
    // Wrong PINs from other sites, from many clients: far over the code's day limit.
    for i in 0..120u32 {
        let headers = refused[i as usize % refused.len()];
        let peer = format!("192.0.2.{}:40000", i % 200 + 1);
        let r = send(&app, pin_post_from(&s.code, wrong, &peer, headers)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert_eq!(r.headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        let pin = section(&r.body, "pin").unwrap();
        assert!(
            plain(pin).contains(
                "✖ This PIN was not checked: it was sent by another website, not by this page. \
                 To check it, enter the PIN below on this page."
            ),
            "{headers:?}: {pin}"
        );
        // The form is there to enter it, and not marked as refused.
        assert!(pin.contains("<input name=\"pin\""), "{pin}");
        assert!(!pin.contains("aria-invalid"), "{pin}");
        assert!(!pin.contains("Wrong PIN"), "{pin}");
    }
    let zh = send(
        &app,
        Request::post(format!("/s/{}/pin?lang=zh", s.code))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("origin", "http://evil.example")
            .body(Body::from(format!("pin={}", s.pin)))
            .unwrap(),
    )
    .await;
    assert_eq!(zh.status, StatusCode::FORBIDDEN);
    assert!(
        plain(&zh.body).contains(
            "✖ 此密码未被验证：它是由其他网站提交的，而不是由本页提交的。如需验证，请在本页下方输入密码。"
        ),
        "{}",
        zh.body
    );
    let text = prometheus(&consumer);
    assert!(
        text.contains("proofmark_consumer_pin_checks_total{outcome=\"cross_site\"} 121\n"),
        "{text}"
    );
    assert!(text.contains("proofmark_consumer_pin_checks_total{outcome=\"wrong\"} 0\n"));
    // Nothing was locked or confirmed: the page's own posts are checked. Its origin, with
    // or without the default port, over HTTPS through a proxy the server does not know of,
    // or `null` when the browser says the post is same-origin; a current browser's post
    // through a proxy that rewrote `Host` to the upstream's address (`Sec-Fetch-Site` is
    // the browser's word, and the Origin is not compared); and a post without either
    // header (an old browser).
    let own: [&[(&str, &str)]; 7] = [
        &[
            ("host", "10.0.0.5:8080"),
            ("origin", "https://shop.example"),
            ("sec-fetch-site", "same-origin"),
        ],
        &[HOST, ("origin", "http://shop.example")],
        &[HOST, ("origin", "https://shop.example:443")],
        &[HOST, ("origin", "HTTPS://Shop.Example")],
        &[HOST, ("origin", "null"), ("sec-fetch-site", "same-origin")],
        &[
            HOST,
            ("origin", "https://shop.example"),
            ("sec-fetch-site", "same-origin"),
        ],
        &[],
    ];
    for headers in own {
        let r = send(
            &app,
            pin_post_from(&s.code, wrong, "198.51.100.1:40000", headers),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{headers:?}");
        assert!(r.body.contains("Wrong PIN"), "{headers:?}");
        let r = send(
            &app,
            pin_post_from(&s.code, &s.pin, "198.51.100.1:40000", headers),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{headers:?}: {}", r.body);
    }
    let text = prometheus(&consumer);
    assert!(text.contains("proofmark_consumer_pin_checks_total{outcome=\"confirmed\"} 1\n"));
}

/// Behind a trusted reverse proxy, the host and scheme that the proxy forwards are the
/// server's own; from anyone else those headers are not believed.
#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_host_and_scheme_are_the_origin() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let proxy = ProxyHeader {
        name: header::HeaderName::from_static("x-forwarded-for"),
        proxies: vec!["10.0.0.0/8".parse().unwrap()],
    };
    let consumer = consumer(dir.path(), &clock).with_proxy_header(Some(proxy));
    let app = app(real_lookup(), consumer, trust());
    let forwarded = [
        ("host", "10.0.0.2:8080"),
        ("x-forwarded-host", "shop.example"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-for", "203.0.113.5"),
    ];
    let with_origin = |origin: &'static str| {
        let mut headers = forwarded.to_vec();
        headers.push(("origin", origin));
        headers
    };
    let status = |peer: &'static str, headers: Vec<(&'static str, &'static str)>| {
        let app = app.clone();
        async move {
            send(&app, pin_post_from(&s.code, "0000", peer, &headers))
                .await
                .status
        }
    };
    // A wrong PIN: checked (422), or refused (403).
    let proxy = "10.0.0.9:50000";
    assert_eq!(
        status(proxy, with_origin("https://shop.example")).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        status(proxy, with_origin("http://shop.example")).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(proxy, with_origin("https://10.0.0.2:8080")).await,
        StatusCode::FORBIDDEN
    );
    // Without X-Forwarded-Proto the scheme is not known: either is taken.
    let mut no_proto = with_origin("http://shop.example");
    no_proto.retain(|(k, _)| *k != "x-forwarded-proto");
    assert_eq!(
        status(proxy, no_proto).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // From outside the proxies the forwarded headers say nothing: the Host is compared.
    let outside = "192.0.2.1:50000";
    assert_eq!(
        status(outside, with_origin("https://shop.example")).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(outside, with_origin("http://10.0.0.2:8080")).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

/// The proof API with the consumer page merged in, as `proofmark serve` builds it.
fn service(dir: &Path) -> Router {
    let page = sample_app(dir);
    let lookup = (*real_lookup()).clone();
    proofmark_verifier::api::app_with(proofmark_verifier::api::ApiState::new(lookup), page)
}

/// A request with `method` to `uri`, in English.
async fn ask(app: &Router, method: &str, uri: &str) -> Reply {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("accept-language", "en")
        .body(Body::empty())
        .unwrap();
    send(app, req).await
}

/// A phone that opens a consumer address that names no page, or with a method it does not
/// take, gets an HTML page in its language with the code form, never the API's JSON; the
/// site's root is the code form; the API's own errors stay JSON.
#[tokio::test]
async fn consumer_addresses_answer_html_to_what_they_cannot_serve() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let app = service(dir.path());
    let html = |r: &Reply| r.headers[header::CONTENT_TYPE] == "text/html; charset=utf-8";
    let code_in_form = format!("name=\"code\" value=\"{}\"", s.code);

    for uri in [
        format!("/s/{}/extra", s.code),
        format!("/s/{}/pin/x", s.code),
        format!("/S/{}/extra", s.code),
    ] {
        let r = ask(&app, "GET", &uri).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(html(&r), "{uri}");
        assert!(
            r.body
                .contains("<h2 id=\"badge\">✖ There is no page at this address</h2>"),
            "{uri}: {}",
            r.body
        );
        assert!(r.body.contains(&code_in_form), "{uri}: {}", r.body);
    }
    let r = get(&app, "/s/a/b/c", &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("✖ 此网址没有对应的页面"), "{}", r.body);
    // What is not the form of a code is not put in the form.
    assert!(r.body.contains("name=\"code\" value=\"\""), "{}", r.body);

    // A method the address does not take: 405 with `Allow`, and the page.
    for (method, uri, allow) in [
        ("POST", format!("/s/{}", s.code), "GET,HEAD"),
        ("DELETE", format!("/s/{}", s.code), "GET,HEAD"),
        ("PUT", format!("/s/{}/pin", s.code), "POST,GET,HEAD"),
        ("POST", "/s".to_owned(), "GET,HEAD"),
        ("POST", "/".to_owned(), "GET,HEAD"),
    ] {
        let r = ask(&app, method, &uri).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        assert!(html(&r), "{method} {uri}");
        assert_eq!(r.headers[header::ALLOW], allow, "{method} {uri}");
        assert!(
            r.body.contains("✖ This page cannot be opened this way"),
            "{method} {uri}: {}",
            r.body
        );
    }

    // The root and `/S` lead to the code form.
    let r = ask(&app, "GET", "/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(html(&r));
    assert!(
        r.body
            .contains("<form id=\"code-form\" method=\"get\" action=\"/s\">")
    );
    for (uri, location) in [("/S", "/s"), ("/S/", "/s"), ("/S?lang=en", "/s?lang=en")] {
        let r = ask(&app, "GET", uri).await;
        assert_eq!(r.status, StatusCode::PERMANENT_REDIRECT, "{uri}");
        assert_eq!(r.headers[header::LOCATION], location, "{uri}");
    }

    // The API's own: JSON, as SPEC.md 11.3 says.
    let json = |r: &Reply| r.headers[header::CONTENT_TYPE] == "application/json";
    for (method, uri, status, error) in [
        ("GET", "/v1/nothing", StatusCode::NOT_FOUND, "not_found"),
        ("GET", "/nothing", StatusCode::NOT_FOUND, "not_found"),
        (
            "POST",
            "/v1/codes/97837978498369312371",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            "DELETE",
            "/healthz",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ] {
        let r = ask(&app, method, uri).await;
        assert_eq!(r.status, status, "{method} {uri}");
        assert!(json(&r), "{method} {uri}");
        assert!(
            r.body.contains(&format!("\"code\":\"{error}\"")),
            "{}",
            r.body
        );
    }
    // The pages themselves are still served through the merged router.
    let r = ask(&app, "GET", &format!("/s/{}", s.code)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(green(&r.body));
}

/// A PIN form whose body stalls past the server's body timeout is answered with an HTML page
/// in the viewer's language (408), the PIN not checked, and the connection closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_form_that_does_not_arrive_gets_a_page() {
    use proofmark_verifier::api::server::{ServerLimits, serve};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let limits = ServerLimits {
        body_timeout: std::time::Duration::from_secs(1),
        ..ServerLimits::default()
    };
    let done = tokio::spawn(serve(listener, service(dir.path()), limits, async {
        let _ = stopped.await;
    }));
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /s/{}/pin?lang=en HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 40\r\n\r\npin=12",
        s.code
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        conn.read_to_end(&mut answer),
    )
    .await;
    assert!(read.is_ok(), "the connection stayed open");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: text/html; charset=utf-8"),
        "{answer}"
    );
    assert!(answer.contains("✖ The PIN did not arrive"), "{answer}");
    assert!(answer.contains(&format!("name=\"code\" value=\"{}\"", s.code)));
    let _ = stop.send(());
    done.await.unwrap();
}

/// A check that calls every report verified, anchored in the ledger: for pages whose
/// records were edited by the test.
struct AlwaysVerified;

impl proofmark_verifier::consumer::ReportCheck for AlwaysVerified {
    fn check(&self, report: &CodeReport) -> proofmark_verifier::consumer::Verification {
        use proofmark_verifier::consumer::{AnchorBadge, AnchorLocation, Verification};
        Verification::Verified {
            anchors: report
                .batches
                .iter()
                .map(|(batch_id, info)| AnchorBadge {
                    chain: "ledger".into(),
                    batch_id: batch_id.clone(),
                    batch_date: info.batch_date.clone(),
                    location: AnchorLocation::Ledger {
                        log_index: 0,
                        log_size: 1,
                    },
                })
                .collect(),
        }
    }
}

/// A recall, a failed inspection or goods held at customs is the page's headline warning,
/// at its top above the badge: headed by the gravest, each with its date, and what the buyer
/// should do; red for a grave one, amber for a caution only. The green badge then says that
/// the records, the warning included, are authentic, not that all is well.
#[tokio::test]
async fn recalls_failed_inspections_and_held_goods_head_the_page() {
    let s = sample();
    let clock = TestClock::new();
    let zone = ViewerZone::default_zone();
    let report = real_report().await;
    let serve = |report: CodeReport| {
        let dir = tempfile::tempdir().unwrap();
        let page = router(
            Arc::new(Fixed(report)),
            consumer(dir.path(), &clock),
            Arc::new(AlwaysVerified),
        );
        (dir, page)
    };
    let set = |entry: &mut proofmark_verifier::RecordEntry, column: &str, value: &str| {
        entry
            .record
            .insert(column.into(), serde_json::Value::String(value.into()));
    };

    // Goods held at customs only: a caution.
    let mut held = report.clone();
    let customs = held
        .records
        .iter_mut()
        .find(|e| e.kind == "customs")
        .unwrap();
    set(customs, "status", "held");
    let (_dir, page) = serve(held);
    let r = get(&page, &format!("/s/{}?lang=en", s.code), &[]).await;
    let alerts = section(&r.body, "alerts").expect("a summary");
    assert!(alerts.contains("class=\"warn\""), "{alerts}");
    assert!(
        alerts.contains("<h2>⚠ Customs held this product, and no release is recorded</h2>"),
        "{alerts}"
    );
    assert!(
        alerts.contains("<li>Customs: held (<time datetime=\""),
        "{alerts}"
    );
    assert!(
        alerts.contains("<strong>It may not be cleared for sale: check with the seller.</strong>"),
        "{alerts}"
    );
    assert!(
        r.body.contains(
            "<h2 id=\"badge\">✔ Records authentic and unaltered, the warning above included</h2>"
        ),
        "{}",
        r.body
    );
    let journey = section(&r.body, "journey").unwrap();
    assert!(journey.contains(">Held by customs</a>"), "{journey}");

    // A recall and a failed inspection as well: grave.
    let mut recalled = report.clone();
    let customs = recalled
        .records
        .iter_mut()
        .find(|e| e.kind == "customs")
        .unwrap();
    set(customs, "status", "held");
    let last = recalled
        .records
        .iter_mut()
        .filter(|e| e.kind == "logistics")
        .last()
        .unwrap();
    set(last, "event_type", "recalled");
    let recall_date = zone
        .format_date_micros(micros(&last.record, "event_time").unwrap())
        .unwrap();
    let inspection = recalled
        .records
        .iter_mut()
        .find(|e| e.kind == "inspection")
        .unwrap();
    set(inspection, "result", "fail");
    let inspection_type = text(&inspection.record, "inspection_type")
        .unwrap()
        .to_owned();
    let inspection_date = zone
        .format_date_micros(micros(&inspection.record, "event_time").unwrap())
        .unwrap();
    let (_dir, page) = serve(recalled.clone());
    let r = get(&page, &format!("/s/{}?lang=en", s.code), &[]).await;
    assert!(green(&r.body));
    {
        // The same edited records checked for real fail: on the red page the verdict comes
        // first, and records that did not verify do not head it.
        let dir = tempfile::tempdir().unwrap();
        let red = router(
            Arc::new(Fixed(recalled.clone())),
            consumer(dir.path(), &clock),
            Arc::new(trust()),
        );
        let r = get(&red, &format!("/s/{}?lang=en", s.code), &[]).await;
        assert!(
            r.body.contains("id=\"verdict\" class=\"bad\""),
            "{}",
            r.body
        );
        let at = |id: &str| r.body.find(&format!("id=\"{id}\"")).unwrap();
        assert!(at("verdict") < at("alerts"), "{}", r.body);
        assert!(!r.body.contains("the warning above included"), "{}", r.body);
    }
    let alerts = section(&r.body, "alerts").expect("a summary");
    assert!(
        alerts.contains(
            "id=\"alerts\" class=\"bad\" role=\"alert\"><h2>⚠ This product has been recalled</h2>"
        ),
        "{alerts}"
    );
    // What to do, gravest first: the recall, the failed inspection, the held goods.
    let advice: Vec<&str> = alerts
        .split("<p class=\"advice\"><strong>")
        .skip(1)
        .map(|p| p.split("</strong>").next().unwrap())
        .collect();
    assert_eq!(
        advice,
        [
            "Stop using this product and contact the brand or the seller about the recall.",
            "Do not use this product until you have checked with the brand or the seller.",
            "It may not be cleared for sale: check with the seller.",
        ]
    );
    assert!(!r.body.contains("✔ Verified: this product"), "{}", r.body);
    // Each with its date, in the viewer's zone, as a <time>.
    let dated = |text: &str, date: &str| {
        let (before, after) = text.split_once("{date}").unwrap();
        let at = alerts.contains(&format!("<li>{before}<time datetime=\""))
            && alerts.contains(&format!(">{date}</time>{after}</li>"));
        assert!(at, "{text} on {date} not in {alerts}");
    };
    dated("Recalled on {date}", &recall_date);
    let en_type = proofmark_verifier::consumer::i18n::label(Lang::En, &inspection_type).unwrap();
    dated(
        &format!("Inspection failed: {en_type} on {{date}}"),
        &inspection_date,
    );
    assert!(alerts.contains("<li>Customs: held (<time datetime=\""));
    // First on the page: above the badge, the PIN form and the records.
    let at = |id: &str| r.body.find(&format!("id=\"{id}\"")).unwrap();
    let main = &r.body[r.body.find("<main>").unwrap()..at("alerts")];
    assert!(
        main.starts_with("<main><p id=\"zone\" class=\"zone\">") && main.ends_with("</p><section "),
        "only the line that says the times' zone comes first: {main}"
    );
    assert!(at("alerts") < at("verdict"));
    assert!(at("alerts") < at("pin"));
    assert!(at("alerts") < at("product"));
    let zh = get(&page, &format!("/s/{}?lang=zh", s.code), &[]).await;
    let alerts = section(&zh.body, "alerts").unwrap();
    let dated = |text: &str, date: &str| {
        let (before, after) = text.split_once("{date}").unwrap();
        let at = alerts.contains(&format!("<li>{before}<time datetime=\""))
            && alerts.contains(&format!(">{date}</time>{after}</li>"));
        assert!(at, "{text} on {date} not in {alerts}");
    };
    dated("已于 {date} 召回", &recall_date);
    let zh_type = proofmark_verifier::consumer::i18n::label(Lang::Zh, &inspection_type).unwrap();
    dated(
        &format!("检验不合格：{zh_type}（{{date}}）"),
        &inspection_date,
    );
    assert!(
        alerts.contains("<li>海关：扣留（<time datetime=\""),
        "{alerts}"
    );
    assert!(alerts.contains("<h2>⚠ 此商品已被召回</h2>"), "{alerts}");
    assert!(
        alerts
            .contains("<strong>请立即停止使用此商品，并联系品牌方或销售方了解召回事宜。</strong>"),
        "{alerts}"
    );
    assert!(
        zh.body
            .contains("<h2 id=\"badge\">✔ 记录真实、未被篡改（包括以上警示）</h2>"),
        "{}",
        zh.body
    );
}

/// A declaration's `cleared_at` is called a clearance only when the goods were released; on a
/// declaration held or refused entry it is when customs decided.
#[tokio::test]
async fn only_a_released_declaration_shows_a_clearance_time() {
    let s = sample();
    let clock = TestClock::new();
    let report = real_report().await;
    for (status, en, zh) in [
        ("released", "Cleared", "放行时间"),
        ("rejected", "Decision", "决定时间"),
        ("held", "Decision", "决定时间"),
        ("declared", "Status as of", "状态时间"),
        ("inspecting", "Status as of", "状态时间"),
    ] {
        let mut edited = report.clone();
        let customs = edited
            .records
            .iter_mut()
            .find(|e| e.kind == "customs")
            .unwrap();
        assert!(micros(&customs.record, "cleared_at").is_some());
        customs
            .record
            .insert("status".into(), serde_json::Value::String(status.into()));
        let dir = tempfile::tempdir().unwrap();
        let page = router(
            Arc::new(Fixed(edited)),
            consumer(dir.path(), &clock),
            Arc::new(AlwaysVerified),
        );
        for (lang, label, other) in [("en", en, "Cleared"), ("zh", zh, "放行时间")] {
            let r = get(&page, &format!("/s/{}?lang={lang}", s.code), &[]).await;
            let customs = section(&r.body, "customs").unwrap();
            assert!(
                customs.contains(&format!("<dt>{label}</dt><dd><time ")),
                "{status} {lang}: {customs}"
            );
            if label != other {
                assert!(!customs.contains(other), "{status} {lang}: {customs}");
            }
        }
    }
}

/// After a wrong PIN the field is marked invalid and described by the answer; while wrong
/// PINs lock the check, the form is shown disabled with the time it opens again, also on
/// a page of the code asked for meanwhile.
#[tokio::test]
async fn a_locked_pin_form_is_disabled_and_a_refused_pin_is_described() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let app = app(real_lookup(), consumer(dir.path(), &clock), trust());
    let path = format!("/s/{}", s.code);
    let page = get(&app, &path, &[]).await;
    let form = section(&page.body, "pin").unwrap();
    assert!(!form.contains("disabled"), "{form}");
    assert!(!form.contains("aria-invalid"), "{form}");
    let wrong = if s.pin == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    let r = post_pin(&app, &s.code, wrong, "en").await;
    let form = section(&r.body, "pin").unwrap();
    assert!(
        form.contains("aria-invalid=\"true\" aria-describedby=\"pin-result\""),
        "{form}"
    );
    assert!(form.contains("<p id=\"pin-result\""), "{form}");
    assert!(!form.contains("disabled"), "{form}");
    let r = post_pin(&app, &s.code, "1%3C", "en").await;
    assert!(
        section(&r.body, "pin")
            .unwrap()
            .contains("aria-invalid=\"true\"")
    );
    for _ in 0..4 {
        post_pin(&app, &s.code, wrong, "en").await;
    }
    let retry = ViewerZone::default_zone()
        .format_micros(NOW_US + 15 * MINUTE_US)
        .unwrap();
    let r = post_pin(&app, &s.code, &s.pin, "en").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let form = section(&r.body, "pin").unwrap();
    assert!(
        plain(form).contains(&format!("Try again after {retry}")),
        "{form}"
    );
    // A time in a sentence is a `<time>` as well.
    let datetime = ViewerZone::default_zone()
        .rfc3339_micros(NOW_US + 15 * MINUTE_US)
        .unwrap();
    assert!(
        form.contains(&format!(
            "Try again after <time datetime=\"{datetime}\">{retry}</time>."
        )),
        "{form}"
    );
    assert!(form.contains("required disabled>"), "{form}");
    assert!(form.contains("<button type=\"submit\" disabled>"), "{form}");
    // A malformed PIN meanwhile (nothing checked) gets the same answer.
    let r = post_pin(&app, &s.code, "1%3C", "en").await;
    let form = section(&r.body, "pin").unwrap();
    assert!(
        plain(form).contains(&format!("Try again after {retry}")),
        "{form}"
    );
    assert!(form.contains("<button type=\"submit\" disabled>"), "{form}");
    // A page of the code meanwhile says so before any PIN is sent.
    let page = get(&app, &format!("{path}?lang=en"), &[]).await;
    let form = section(&page.body, "pin").unwrap();
    assert!(
        plain(form).contains(&format!("Try again after {retry}")),
        "{form}"
    );
    assert!(form.contains("<button type=\"submit\" disabled>"), "{form}");
    // Once the window passes, the form is open again.
    clock.advance(15 * MINUTE_US);
    let page = get(&app, &path, &[]).await;
    let form = section(&page.body, "pin").unwrap();
    assert!(!form.contains("disabled"), "{form}");
    assert!(!form.contains("pin-result"), "{form}");
}

/// The style sheet: what the reviewers measured on a phone and on a desktop.
#[tokio::test]
async fn the_style_sheet_keeps_the_page_readable() {
    let s = sample();
    let dir = tempfile::tempdir().unwrap();
    let app = sample_app(dir.path());
    let r = get(&app, &format!("/s/{}", s.code), &[]).await;
    let style = r
        .body
        .split("<style>")
        .nth(1)
        .unwrap()
        .split("</style>")
        .next()
        .unwrap();
    for rule in [
        // Only the inspection and customs lists of their sections, not the journey's events.
        "dl.inspection+dl.inspection",
        // The footer is the main column's width, centred.
        "footer{max-width:42rem;margin:0 auto;box-sizing:border-box",
        "main{max-width:42rem;margin:0 auto;padding:.75rem;box-sizing:border-box}",
        // 4.5:1 on white.
        ".conditional{color:#8a5300",
        // The verdict and the warning that heads the page above it are the headlines.
        "#verdict h2,#alerts h2{font-size:1.4rem}",
        "time,small{white-space:nowrap}",
        "min-height:44px",
    ] {
        assert!(style.contains(rule), "{rule}");
    }
    assert!(!style.contains("#b26a00;font-weight"), "{style}");
    assert!(!style.contains("}.inspection+.inspection"), "{style}");
    // The journey's inspection events are `li`, which that rule does not reach.
    assert!(r.body.contains("<li class=\"event inspection\">"));
}
