//! The consumer page's HTTP routes: `GET /s/{code}`, `POST /s/{code}/pin`,
//! and `GET /s`, the page to type a code on.
//!
//! Everything kept about a code (its scans, its PIN hash and state) is keyed
//! on the report's own code, [`CodeReport::code`], the canonical form the
//! lookup gives (SPEC.md 11.1: surrounding white space trimmed), never on the
//! path segment as sent. A `GET` or `HEAD` of a known code with white space
//! around it (`/s/%20CODE`, `/s/CODE%0A`) is answered with `308 Permanent
//! Redirect` to the canonical `/s/{code}`, its query kept, and is not counted
//! as a scan (the redirected request is). A PIN posted under another form is
//! checked against the canonical code's state; the page it answers with
//! links to the canonical path.
//!
//! A `GET` of a code's page is a scan unless it sends a view token good for
//! that code (the [`VIEW_COOKIE`] a counted scan set in the same browser,
//! less than two hours ago; see [`super::view`]), whatever its query: a
//! reload, the language link, the zone form and the way back from a PIN
//! answer are views of a page the browser already has. So one browser
//! counts at most once per two hours per code. Only a counted scan sets a
//! token; views do not renew it.
//!
//! A PIN post that the browser says another site made is refused (`403`,
//! the code's page with a notice) before the PIN is compared or counted
//! ([`super::origin`]). The pages are sent with `Referrer-Policy:
//! same-origin`, which keeps the browser's `Origin` on their own form's post.
//!
//! The PIN answer that confirms a code's PIN sets the [`PIN_COOKIE`], the
//! PIN proof of that confirmation. With it, the browser that confirmed the
//! PIN is told so: the right PIN posted again (a reload of that answer)
//! answers "PIN correct: you confirmed it from this browser", without the
//! copy warning; every later page of the code still shows the copy warning,
//! with a sentence saying that this browser confirmed the PIN. The same
//! browser's second post of the right PIN sent before the first answer came
//! back (a double tap) carries no PIN proof yet: it is recognised by the
//! confirmer tag the confirmation keeps (its form token and client, see
//! [`super::view`]), answered the same way, and gets the PIN proof too.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::Deserialize;
use tracing::Instrument as _;

use super::Consumer;
use super::client::request_client;
use super::error::ConsumerError;
use super::html::path_segment;
use super::i18n::{LANG_COOKIE, Lang, TZ_COOKIE, ViewerZone, choose_lang, fold_full_width};
use super::metrics::ViewOutcome;
use super::origin::{ForeignPost, foreign_post};
use super::page::{
    CODE_INPUT_MAX_CHARS, CodePage, ENTRY_PATH, EntryNotice, ErrorPage, PinNotice, PinPanel,
    TimeOffsets, Viewer, code_path, render_code_page, render_entry, render_error,
    render_not_verified, render_too_large, render_unavailable, render_unknown,
};
use super::pin::normalize_pin;
use super::state::{ConsumerStore, PinClient, PinLock, PinOutcome, PinPolicy, ScanInfo};
use super::verdict::{ReportCheck, Verification};
use super::view::{PIN_COOKIE, PIN_PROOF_MAX_AGE_S, VIEW_COOKIE, VIEW_TOKEN_TTL_S, ViewKey};
use crate::log_limit::log_limited;
use crate::report::{CodeLookup, CodeReport, LookupError};
use proofmark_schemas::validate::is_valid_code;

/// Longest code looked up; longer ones are unknown without a lookup.
const MAX_CODE_LEN: usize = 256;
/// How long the language and zone cookies last.
const COOKIE_MAX_AGE_S: u32 = 365 * 24 * 3600;
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

#[derive(Clone)]
struct App {
    lookup: Arc<dyn CodeLookup>,
    consumer: Consumer,
    check: Arc<dyn ReportCheck>,
}

/// The consumer page's routes, ready to merge into the service's router:
/// `GET /s/{code}`, `POST /s/{code}/pin` and `GET /s` (with the redirects
/// of `/s/{code}/`, `/S/{code}` and `/S`), and `GET /`, the page to type a
/// code on too. Every other address under `/s/` (or `/S/`), and a method a
/// consumer address does not take, is answered with an HTML page in the
/// viewer's language (`404`, `405` with `Allow`), never the API's JSON.
/// `check` decides the badge (normally an `Arc<Trust>`).
pub fn router(
    lookup: Arc<dyn CodeLookup>,
    consumer: Consumer,
    check: Arc<dyn ReportCheck>,
) -> Router {
    Router::new()
        // The page to type a code on, for a label whose QR code does not scan; also the
        // site's root, where someone who typed the host alone lands.
        .route("/", get(entry).fallback(not_allowed))
        .route("/s", get(entry).fallback(not_allowed))
        .route("/s/", get(entry).fallback(not_allowed))
        .route("/s/{code}", get(show).fallback(not_allowed))
        // What QR scanners and people make of a printed label: a trailing slash, and the
        // upper-case path of a label encoded in the QR alphanumeric mode.
        .route("/s/{code}/", get(redirect_variant).fallback(not_allowed))
        .route("/S", get(redirect_entry).fallback(not_allowed))
        .route("/S/", get(redirect_entry).fallback(not_allowed))
        .route("/S/{code}", get(redirect_variant).fallback(not_allowed))
        .route("/S/{code}/", get(redirect_variant).fallback(not_allowed))
        .route(
            "/s/{code}/pin",
            post(submit_pin)
                .get(pin_page_reloaded)
                .fallback(not_allowed),
        )
        .route("/s/{code}/{*rest}", any(not_found))
        .route("/S/{code}/{*rest}", any(not_found))
        .with_state(App {
            lookup,
            consumer,
            check,
        })
}

#[derive(Debug, Default, Deserialize)]
struct ViewQuery {
    lang: Option<String>,
    tz: Option<String>,
}

/// The query of the page to type a code on.
#[derive(Debug, Default, Deserialize)]
struct EntryQuery {
    lang: Option<String>,
    tz: Option<String>,
    code: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct PinForm {
    #[serde(default)]
    pin: String,
    /// The form's token ([`form_token`]), when the page's form sent one.
    #[serde(default)]
    tap: String,
}

/// A fresh token for a page's PIN form: 16 random bytes, hex. The form sends it back with
/// the PIN, so the two posts of a double tap carry the same one, and no other page's post
/// does; empty (no token in the form) when the system gives no random bytes.
fn form_token() -> String {
    let mut bytes = [0u8; 16];
    match getrandom::fill(&mut bytes) {
        Ok(()) => hex::encode(bytes),
        Err(e) => {
            tracing::warn!(error = %e, "no random bytes for a PIN form's token");
            String::new()
        }
    }
}

/// `tap` when it has the form of a [`form_token`]: 32 lowercase hex digits.
fn valid_form_token(tap: &str) -> Option<&str> {
    (tap.len() == 32 && tap.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))).then_some(tap)
}

/// The viewer's choices, and the cookies that remember explicit ones.
struct Prefs {
    lang: Lang,
    zone: ViewerZone,
    set_cookies: Vec<String>,
}

fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

fn prefs(query: &ViewQuery, headers: &HeaderMap) -> Prefs {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let lang = choose_lang(query.lang.as_deref(), cookie(headers, LANG_COOKIE), accept);
    let (zone, zone_chosen) = ViewerZone::choose(query.tz.as_deref(), cookie(headers, TZ_COOKIE));
    let mut set_cookies = Vec::new();
    let attrs = format!("Path=/s; Max-Age={COOKIE_MAX_AGE_S}; SameSite=Lax; HttpOnly");
    let lang_chosen = query.lang.as_deref().and_then(Lang::parse).is_some();
    if lang_chosen {
        set_cookies.push(format!("{LANG_COOKIE}={}; {attrs}", lang.tag()));
    }
    if zone_chosen {
        // ViewerZone::parse admits only cookie-safe characters.
        set_cookies.push(format!("{TZ_COOKIE}={}; {attrs}", zone.name));
    }
    Prefs {
        lang,
        zone,
        set_cookies,
    }
}

fn html_response(status: StatusCode, prefs: &Prefs, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The page's own PIN form posts with its origin ([`super::origin`]); no other site
    // is told which page a viewer came from.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Accept-Language, Cookie"),
    );
    for c in &prefs.set_cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            headers.append(header::SET_COOKIE, v);
        }
    }
    response
}

/// A redirect (`status`) to `location`, neither kept by caches nor telling
/// the next page where the viewer came from.
fn redirect(status: StatusCode, location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (
            status,
            [
                (header::LOCATION, v),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                ),
            ],
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a redirect's location is not a header value");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `308 Permanent Redirect` to the canonical page of `code`, with the query
/// as sent.
fn redirect_to_canonical(code: &str, query: Option<&str>) -> Response {
    redirect_to_page(StatusCode::PERMANENT_REDIRECT, code, query)
}

/// A redirect with `status` to the page of `code`, with the query as sent.
fn redirect_to_page(status: StatusCode, code: &str, query: Option<&str>) -> Response {
    let mut location = code_path(code);
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        location.push('?');
        location.push_str(q);
    }
    redirect(status, &location)
}

/// The error page of a consumer address, in the viewer's language, with
/// `code` (when it is the form of a code) in the code form.
fn error_page(
    app: &App,
    code: &str,
    query: &ViewQuery,
    headers: &HeaderMap,
    page: ErrorPage,
) -> Response {
    let prefs = prefs(query, headers);
    let viewer = Viewer {
        lang: prefs.lang,
        zone: &prefs.zone,
        code,
        now_us: app.consumer.clock.now_us(),
        orgs: &app.consumer.orgs,
        offsets: TimeOffsets::default(),
    };
    let status = match page {
        ErrorPage::NotFound => StatusCode::NOT_FOUND,
        ErrorPage::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorPage::PinTimeout => StatusCode::REQUEST_TIMEOUT,
    };
    html_response(status, &prefs, render_error(&viewer, page))
}

/// The code of a consumer address: its first segment after `/s/` (or `/S/`),
/// as sent.
fn address_code(uri: &axum::http::Uri) -> &str {
    let path = uri.path();
    path.strip_prefix("/s/")
        .or_else(|| path.strip_prefix("/S/"))
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
}

/// The HTML error page `page` of the consumer address `uri`.
fn address_error(
    app: &App,
    uri: &axum::http::Uri,
    query: Result<Query<ViewQuery>, QueryRejection>,
    headers: &HeaderMap,
    page: ErrorPage,
) -> Response {
    let query = query.map(|q| q.0).unwrap_or_default();
    error_page(app, address_code(uri), &query, headers, page)
}

/// An address under `/s/` that is no page: `404`, the HTML error page.
async fn not_found(
    State(app): State<App>,
    uri: axum::http::Uri,
    query: Result<Query<ViewQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    address_error(&app, &uri, query, &headers, ErrorPage::NotFound)
}

/// A consumer address asked with a method it does not take: `405` (the router adds
/// `Allow`), the HTML error page.
async fn not_allowed(
    State(app): State<App>,
    uri: axum::http::Uri,
    query: Result<Query<ViewQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    address_error(&app, &uri, query, &headers, ErrorPage::MethodNotAllowed)
}

/// `/S` and `/S/`: the page to type a code on, with the query.
async fn redirect_entry(RawQuery(query): RawQuery) -> Response {
    let mut location = ENTRY_PATH.to_owned();
    if let Some(q) = query.as_deref().filter(|q| !q.is_empty()) {
        location.push('?');
        location.push_str(q);
    }
    redirect(StatusCode::PERMANENT_REDIRECT, &location)
}

/// A variant of a code page's URL (`/s/{code}/`, `/S/{code}`): redirected to the page
/// itself, with its query, counting nothing.
async fn redirect_variant(Path(code): Path<String>, RawQuery(query): RawQuery) -> Response {
    redirect_to_canonical(code.trim(), query.as_deref())
}

/// `GET /s`: the page to type a code on; with `?code=`, `303 See Other` to
/// the code's page (the typed text made a code by [`typed_code`]), its
/// `lang` and `tz` kept when they are valid (a browser without cookies keeps
/// its language), or the form again with a notice (`400`) when nothing was
/// typed or it cannot be a code. A parameter given twice counts as its last.
/// Nothing is counted here: the code's page counts the scan.
async fn entry(
    State(app): State<App>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let pairs = query.map(|q| q.0).unwrap_or_default();
    let last = |name: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let query = EntryQuery {
        lang: last("lang"),
        tz: last("tz"),
        code: last("code"),
    };
    let view = ViewQuery {
        lang: query.lang,
        tz: query.tz,
    };
    let prefs = prefs(&view, &headers);
    let viewer = Viewer {
        lang: prefs.lang,
        zone: &prefs.zone,
        code: "",
        now_us: app.consumer.clock.now_us(),
        orgs: &app.consumer.orgs,
        offsets: TimeOffsets::default(),
    };
    let Some(typed) = query.code else {
        return html_response(StatusCode::OK, &prefs, render_entry(&viewer, None, ""));
    };
    let code = typed_code(&typed);
    let notice = if code.is_empty() {
        EntryNotice::Empty
    } else if !is_valid_code(&code) {
        EntryNotice::Malformed
    } else {
        return redirect(StatusCode::SEE_OTHER, &entry_location(&code, &view));
    };
    let shown: String = typed.chars().take(CODE_INPUT_MAX_CHARS).collect();
    html_response(
        StatusCode::BAD_REQUEST,
        &prefs,
        render_entry(&viewer, Some(notice), &shown),
    )
}

/// Where the code form sends a code: its page, with the form's valid
/// choices of language and zone.
fn entry_location(code: &str, view: &ViewQuery) -> String {
    let mut params = Vec::new();
    if let Some(lang) = view.lang.as_deref().and_then(Lang::parse) {
        params.push(format!("lang={}", lang.tag()));
    }
    if let Some(zone) = view.tz.as_deref().and_then(ViewerZone::parse) {
        params.push(format!("tz={}", path_segment(&zone.name)));
    }
    let mut location = code_path(code);
    if !params.is_empty() {
        location.push('?');
        location.push_str(&params.join("&"));
    }
    location
}

/// A code as typed, made what it must be: white space anywhere removed
/// (codes have none; people type it between groups of digits, an input
/// method may type U+3000), full-width forms of ASCII (U+FF01 to U+FF5E,
/// what a Chinese keyboard types in full-width mode) made ASCII, and the
/// ideographic full stop (U+3002, its `.` in Chinese punctuation mode) a `.`.
fn typed_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '\u{3002}' => '.',
            c => fold_full_width(c),
        })
        .collect()
}

/// Runs blocking state work off the async runtime, in the current span.
async fn blocking<T, F>(f: F) -> Result<T, ConsumerError>
where
    F: FnOnce() -> Result<T, ConsumerError> + Send + 'static,
    T: Send + 'static,
{
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f))
        .await
        .map_err(ConsumerError::Task)?
}

/// Looks the code up; `Err(response)` for the unknown and error pages.
async fn find_report(
    app: &App,
    code: &str,
    prefs: &Prefs,
    now_us: i64,
) -> Result<CodeReport, Response> {
    let viewer = Viewer {
        lang: prefs.lang,
        zone: &prefs.zone,
        code,
        now_us,
        orgs: &app.consumer.orgs,
        offsets: TimeOffsets::default(),
    };
    let found = if code.len() > MAX_CODE_LEN {
        Ok(None)
    } else {
        app.lookup.lookup(code).await
    };
    match found {
        Ok(Some(report)) => Ok(report),
        Ok(None) | Err(LookupError::MalformedCode(_)) => {
            app.consumer.metrics.view(ViewOutcome::Unknown);
            // As the lookup read it; what is not a code is not shown.
            let viewer = Viewer {
                code: code.trim(),
                ..viewer
            };
            Err(html_response(
                StatusCode::NOT_FOUND,
                prefs,
                render_unknown(&viewer),
            ))
        }
        Err(e @ (LookupError::Integrity { .. } | LookupError::BatchRewritten { .. })) => {
            log_limited!(error, error = %e, "stored records do not match their batch");
            app.consumer.metrics.view(ViewOutcome::Failed);
            Err(html_response(
                StatusCode::OK,
                prefs,
                render_not_verified(&viewer, &e.to_string()),
            ))
        }
        Err(e @ LookupError::LotTooLarge { .. }) => {
            log_limited!(warn, error = %e, "report too large");
            app.consumer.metrics.view(ViewOutcome::Error);
            Err(html_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                prefs,
                render_too_large(&viewer),
            ))
        }
        Err(e) => {
            log_limited!(error, error = %e, "code lookup failed");
            Err(unavailable(app, prefs, &viewer))
        }
    }
}

fn unavailable(app: &App, prefs: &Prefs, viewer: &Viewer<'_>) -> Response {
    app.consumer.metrics.view(ViewOutcome::Error);
    html_response(
        StatusCode::SERVICE_UNAVAILABLE,
        prefs,
        render_unavailable(viewer),
    )
}

/// Verifies the report off the runtime.
async fn verify(app: &App, report: CodeReport) -> Result<(CodeReport, Verification), Response> {
    let check = Arc::clone(&app.check);
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let verification = span.in_scope(|| check.check(&report));
        // The verifier's reasons (which checks, what to configure) are for the operator;
        // the page says what was found in a buyer's words.
        match &verification {
            Verification::Failed { reasons, .. } => span.in_scope(|| {
                log_limited!(warn, code = %report.code, ?reasons, "the records do not verify");
            }),
            Verification::Unconfirmed { reasons, .. } => span.in_scope(|| {
                log_limited!(info, code = %report.code, ?reasons, "the records cannot be confirmed");
            }),
            Verification::Verified { .. } => {}
        }
        (report, verification)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "verification task failed");
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    })
}

fn pin_panel(app: &App, has_pin: bool, notice: Option<PinNotice>) -> PinPanel {
    if (has_pin && app.consumer.key.is_some()) || notice.is_some() {
        PinPanel::Form(notice)
    } else {
        PinPanel::Absent
    }
}

/// `GET /s/{code}/pin`: a phone reloading the page a PIN answer gave, which was a `POST`.
/// `303 See Other` to the code's page (the PIN is not resubmitted), with the query kept (the
/// form's action names the page's language). From the browser that scanned (a good view
/// token of the code) that page is a view, not a scan.
async fn pin_page_reloaded(Path(code): Path<String>, RawQuery(raw_query): RawQuery) -> Response {
    redirect_to_page(StatusCode::SEE_OTHER, code.trim(), raw_query.as_deref())
}

/// Appends the cookie `name=value` of `code`'s page ([`super::view`]: its path the page's,
/// `Secure`, `HttpOnly`, `SameSite=Lax`) to `response`.
fn set_code_cookie(response: &mut Response, name: &str, value: &str, code: &str, max_age_s: i64) {
    let cookie = format!(
        "{name}={value}; Path={}; Max-Age={max_age_s}; Secure; SameSite=Lax; HttpOnly",
        code_path(code)
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Whether the request sends a view token good for `code` at `now_us`: the
/// browser that scanned it, less than two hours ago.
fn scanned_here(headers: &HeaderMap, key: &ViewKey, code: &str, now_us: i64) -> bool {
    cookie(headers, VIEW_COOKIE).is_some_and(|token| key.check(code, token, now_us))
}

/// Whether the request sends the PIN proof of the confirmation of `code`'s
/// PIN at `confirmed_us`: the browser that confirmed it.
fn confirmed_here(headers: &HeaderMap, key: &ViewKey, code: &str, confirmed_us: i64) -> bool {
    cookie(headers, PIN_COOKIE).is_some_and(|proof| key.check_pin_proof(code, confirmed_us, proof))
}

/// What the store says of a code for its page.
struct PageState {
    /// Its scans (`None` when they could not be read).
    scans: Option<ScanInfo>,
    /// Whether recording the scan (or reading the scans) failed.
    failed: bool,
    /// Whether the code has a PIN.
    has_pin: bool,
    /// The lock on this client's PIN checks, if wrong PINs lock them now.
    pin_lock: Option<PinLock>,
}

/// The state a page of `code` shows: records the scan (or only reads the
/// scans), then whether the code has a PIN and whether wrong PINs lock it.
/// A failure is logged and does not stop the page: the scans then come
/// from a read if that works, and [`PageState::failed`] says the scan (or
/// the read) failed.
fn read_scan_state(
    store: &ConsumerStore,
    code: &str,
    client: PinClient,
    is_scan: bool,
    now_us: i64,
    policy: PinPolicy,
) -> PageState {
    let recorded = if is_scan {
        store.record_scan(code, now_us)
    } else {
        store.scan_info(code)
    };
    let (scans, failed) = match recorded {
        Ok(scans) => (Some(scans), false),
        Err(e) => {
            tracing::error!(error = %e.chain(), is_scan, "consumer state failed; the page is shown without the scan");
            (
                if is_scan {
                    store.scan_info(code).ok()
                } else {
                    None
                },
                true,
            )
        }
    };
    let has_pin = store.has_pin(code).unwrap_or_else(|e| {
        tracing::error!(error = %e.chain(), "consumer state failed; the page is shown without the PIN form");
        false
    });
    let pin_lock = if has_pin {
        store
            .pin_lock(code, client, now_us, policy)
            .unwrap_or_else(|e| {
                // The PIN answer says so, if the lock holds.
                tracing::error!(error = %e.chain(), "consumer state failed; the PIN form is shown open");
                None
            })
    } else {
        None
    };
    PageState {
        scans,
        failed,
        has_pin,
        pin_lock,
    }
}

/// The client of the wrong-PIN limits that sends a request
/// ([`super::client`]).
struct RequestClient(PinClient);

impl axum::extract::FromRequestParts<App> for RequestClient {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &App,
    ) -> Result<Self, Self::Rejection> {
        Ok(RequestClient(request_client(&app.consumer, parts)))
    }
}

/// Whether a request comes from another site ([`super::origin`]).
struct PostSite(Option<ForeignPost>);

impl axum::extract::FromRequestParts<App> for PostSite {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &App,
    ) -> Result<Self, Self::Rejection> {
        Ok(PostSite(foreign_post(&app.consumer, parts)))
    }
}

/// `GET /s/{code}` (and `HEAD`, which axum's `get` also serves). A `GET`
/// is a scan, and answers with a view token of the code in a cookie, unless
/// it sends a good view token of the code, whatever its query (the browser
/// that scanned, reloading or changing the view); a `HEAD` never is (link
/// previewers send them).
async fn show(
    State(app): State<App>,
    method: Method,
    uri: axum::http::Uri,
    Path(code): Path<String>,
    query: Result<Query<ViewQuery>, QueryRejection>,
    RequestClient(client): RequestClient,
    headers: HeaderMap,
) -> Response {
    let query = query.map(|q| q.0).unwrap_or_default();
    let span = tracing::info_span!("consumer_page", code = %code.escape_debug());
    async move {
        let prefs = prefs(&query, &headers);
        let now_us = app.consumer.clock.now_us();
        let report = match find_report(&app, &code, &prefs, now_us).await {
            Ok(report) => report,
            Err(response) => return response,
        };
        // Only a form the lookup normalises (trims) to the report's code is
        // redirected: a lookup that answered with some other code could
        // otherwise send the browser round in circles. The state is keyed on
        // the report's code either way. So is a path that spells the code with
        // percent escapes: the cookies' path is the canonical one, which a
        // browser would not match against the escaped form.
        if code.trim() == report.code
            && (report.code != code || uri.path() != code_path(&report.code))
        {
            return redirect_to_canonical(&report.code, uri.query());
        }
        let (report, verification) = match verify(&app, report).await {
            Ok(v) => v,
            Err(response) => return response,
        };
        let viewer = Viewer {
            lang: prefs.lang,
            zone: &prefs.zone,
            code: &report.code,
            now_us,
            orgs: &app.consumer.orgs,
            offsets: TimeOffsets::default(),
        };
        let view_key = app.consumer.store.view_key();
        let is_scan =
            method != Method::HEAD && !scanned_here(&headers, view_key, &report.code, now_us);
        let store = Arc::clone(&app.consumer.store);
        let (key, policy) = (report.code.clone(), app.consumer.policy);
        let state = blocking(move || {
            Ok(read_scan_state(
                &store, &key, client, is_scan, now_us, policy,
            ))
        })
        .await;
        // A scan that cannot be recorded must not hide the verified history:
        // the page is shown with what the state still gives (the copy
        // warning above all) and a note that the scan was not counted.
        let state = state.unwrap_or_else(|e| {
            tracing::error!(error = %e.chain(), "consumer state task failed");
            PageState {
                scans: None,
                failed: true,
                has_pin: false,
                pin_lock: None,
            }
        });
        let scan_not_counted = is_scan && state.failed;
        // Scans that cannot be read leave `scans` empty: the page then says that a copy
        // warning may be missing, rather than showing none.
        let scans = state.scans;
        let confirmed_at = scans.and_then(|s| s.pin_confirmed_us);
        let copy_warning = confirmed_at;
        let pin_confirmed_here =
            confirmed_at.is_some_and(|at| confirmed_here(&headers, view_key, &report.code, at));
        if scan_not_counted {
            app.consumer.metrics.scan_uncounted();
        } else if is_scan {
            app.consumer.metrics.scan(copy_warning.is_some());
        }
        app.consumer.metrics.view(view_outcome(&verification));
        let page = CodePage {
            report: &report,
            verification: &verification,
            scans,
            scan_not_counted,
            copy_warning,
            pin_confirmed_here,
            pin_lock: state.pin_lock,
            pin: pin_panel(&app, state.has_pin, None),
            form_token: &form_token(),
        };
        let mut response = html_response(StatusCode::OK, &prefs, render_code_page(&viewer, &page));
        if is_scan && !scan_not_counted {
            // The browser whose scan was counted may view this code again without
            // counting again, for a while ([`super::view`]).
            let token = view_key.token(&report.code, now_us);
            set_code_cookie(
                &mut response,
                VIEW_COOKIE,
                &token,
                &report.code,
                VIEW_TOKEN_TTL_S,
            );
        }
        response
    }
    .instrument(span)
    .await
}

fn view_outcome(verification: &Verification) -> ViewOutcome {
    match verification {
        Verification::Verified { .. } => ViewOutcome::Verified,
        Verification::Unconfirmed { .. } => ViewOutcome::Unconfirmed,
        Verification::Failed { .. } => ViewOutcome::Failed,
    }
}

async fn submit_pin(
    State(app): State<App>,
    Path(code): Path<String>,
    query: Result<Query<ViewQuery>, QueryRejection>,
    RequestClient(client): RequestClient,
    PostSite(foreign): PostSite,
    headers: HeaderMap,
    form: Result<Form<PinForm>, FormRejection>,
) -> Response {
    let query = query.map(|q| q.0).unwrap_or_default();
    let (pin, tap) = match form {
        Ok(f) => (f.0.pin, f.0.tap),
        // The server's body timeout: the connection is closed after this page.
        Err(rejection) if crate::api::server::is_body_timeout(&rejection) => {
            return error_page(&app, &code, &query, &headers, ErrorPage::PinTimeout);
        }
        Err(_) => (String::new(), String::new()),
    };
    let span = tracing::info_span!("consumer_pin", code = %code.escape_debug());
    async move {
        let prefs = prefs(&query, &headers);
        let now_us = app.consumer.clock.now_us();
        let report = match find_report(&app, &code, &prefs, now_us).await {
            Ok(report) => report,
            Err(response) => return response,
        };
        // The canonical code keys the state and the PIN hash.
        let canonical = report.code.clone();
        let viewer = Viewer {
            lang: prefs.lang,
            zone: &prefs.zone,
            code: &canonical,
            now_us,
            orgs: &app.consumer.orgs,
            offsets: TimeOffsets::default(),
        };
        let candidate = match (&app.consumer.key, normalize_pin(&pin)) {
            // Another site's page made the browser post it: not checked, and not counted
            // against anyone's limits.
            _ if foreign.is_some() => {
                log_limited!(warn, ?foreign, "a PIN post from another site was refused");
                app.consumer.metrics.pin_foreign();
                Err(PinNotice::Foreign)
            }
            (None, _) => Err(PinNotice::Unavailable),
            (Some(_), None) => {
                app.consumer.metrics.pin_malformed();
                Err(PinNotice::Malformed)
            }
            (Some(key), Some(pin)) => Ok(key.hash_pin(&canonical, &pin)),
        };
        let view_key = app.consumer.store.view_key();
        // The page that posted, as far as the state's confirmer tag goes: its form's token
        // (the two posts of a double tap send the same one), else the browser's view token.
        let confirmer = match valid_form_token(&tap) {
            Some(tap) => Some(view_key.confirmer_tag(&canonical, &format!("tap:{tap}"), client)),
            None => cookie(&headers, VIEW_COOKIE)
                .filter(|token| view_key.check(&canonical, token, now_us))
                .map(|token| view_key.confirmer_tag(&canonical, token, client)),
        };
        let store = Arc::clone(&app.consumer.store);
        let (key, policy) = (canonical.clone(), app.consumer.policy);
        let state = blocking(move || {
            let outcome = match candidate {
                Ok(hash) => Ok(store.check_pin(&key, client, confirmer, &hash, now_us, policy)),
                Err(notice) => Err(notice),
            };
            let state = read_scan_state(&store, &key, client, false, now_us, policy);
            Ok((outcome, state))
        })
        .await;
        // A PIN answer must be durable: one that cannot be recorded is not
        // given (503, try again later), but the page still shows the
        // verified history.
        let (outcome, state) = match state {
            Ok((outcome, state)) => {
                let outcome = match outcome {
                    Ok(Ok(outcome)) => Ok(outcome),
                    Ok(Err(e)) => {
                        tracing::error!(error = %e.chain(), "consumer state failed; the PIN was not checked");
                        app.consumer.metrics.pin_state_failed();
                        Err(PinNotice::TryLater)
                    }
                    Err(notice) => Err(notice),
                };
                (outcome, state)
            }
            Err(e) => {
                tracing::error!(error = %e.chain(), "consumer state task failed");
                return unavailable(&app, &prefs, &viewer);
            }
        };
        let scans = state.scans;
        // The check's own answer gives the confirmation time when the scans cannot be read.
        let confirmed_at = scans.and_then(|s| s.pin_confirmed_us).or(match &outcome {
            Ok(PinOutcome::Confirmed { at_us }) => Some(*at_us),
            Ok(PinOutcome::AlreadyConfirmed { confirmed_us, .. }) => Some(*confirmed_us),
            _ => None,
        });
        // The confirmation is written once, so the check's and the scans' times are the same.
        let pin_confirmed_here =
            confirmed_at.is_some_and(|at| confirmed_here(&headers, view_key, &canonical, at));
        let (notice, status, retry_at_us) = match outcome {
            Ok(outcome) => {
                tracing::info!(?outcome, "PIN checked");
                let (status, retry) = match outcome {
                    PinOutcome::Confirmed { .. } | PinOutcome::AlreadyConfirmed { .. } => {
                        (StatusCode::OK, None)
                    }
                    PinOutcome::Wrong { lock, .. } => {
                        (StatusCode::UNPROCESSABLE_ENTITY, lock.map(|l| l.until_us))
                    }
                    PinOutcome::RateLimited { lock } => {
                        (StatusCode::TOO_MANY_REQUESTS, Some(lock.until_us))
                    }
                    PinOutcome::NoPin => (StatusCode::NOT_FOUND, None),
                };
                let notice = match outcome {
                    // The right PIN again, soon, from the browser that confirmed it: the
                    // reload of its own answer (with its PIN proof), or its second post of a
                    // double tap (with the view token and client that confirmed it), not a
                    // copy. Later, or from a phone shown to a buyer, the answer warns as for
                    // anyone else.
                    PinOutcome::AlreadyConfirmed {
                        confirmed_us,
                        same_confirmer,
                    } if (pin_confirmed_here || same_confirmer)
                        && now_us.saturating_sub(confirmed_us)
                            <= VIEW_TOKEN_TTL_S * 1_000_000 =>
                    {
                        app.consumer.metrics.pin_confirmed_again();
                        PinNotice::ConfirmedHere { confirmed_us }
                    }
                    outcome => {
                        app.consumer.metrics.pin(&outcome);
                        PinNotice::Outcome(outcome)
                    }
                };
                (notice, status, retry)
            }
            Err(notice @ (PinNotice::Unavailable | PinNotice::TryLater)) => {
                (notice, StatusCode::SERVICE_UNAVAILABLE, None)
            }
            Err(notice @ PinNotice::Foreign) => (notice, StatusCode::FORBIDDEN, None),
            Err(notice) => (notice, StatusCode::UNPROCESSABLE_ENTITY, None),
        };
        let (report, verification) = match verify(&app, report).await {
            Ok(v) => v,
            Err(response) => return response,
        };
        // Once the PIN is confirmed every page warns, but the answer that
        // confirmed it and its reload by the browser that confirmed it.
        let copy_warning = confirmed_at.filter(|_| {
            !matches!(
                notice,
                PinNotice::Outcome(PinOutcome::Confirmed { .. }) | PinNotice::ConfirmedHere { .. }
            )
        });
        let page = CodePage {
            report: &report,
            verification: &verification,
            scans,
            scan_not_counted: false,
            copy_warning,
            pin_confirmed_here,
            pin_lock: state.pin_lock,
            pin: pin_panel(&app, state.has_pin, Some(notice)),
            form_token: &form_token(),
        };
        let mut response = html_response(status, &prefs, render_code_page(&viewer, &page));
        if let PinNotice::Outcome(PinOutcome::Confirmed { at_us: confirmed_us })
        | PinNotice::ConfirmedHere { confirmed_us } = notice
        {
            // This browser's proof that it confirmed the PIN ([`super::view`]), also
            // to the second post of a double tap, whose first answer set it.
            let proof = view_key.pin_proof(&canonical, confirmed_us);
            set_code_cookie(&mut response, PIN_COOKIE, &proof, &canonical, PIN_PROOF_MAX_AGE_S);
        }
        if let Some(retry) = retry_at_us {
            let secs = (retry.saturating_sub(now_us) + 999_999) / 1_000_000;
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
    .instrument(span)
    .await
}
