//! The proof API (SPEC.md section 11): code reports, batches, bulk audits,
//! health, metrics and the OpenAPI document, on axum.
//!
//! [`app`] builds the router without binding a socket, so tests drive it
//! directly; [`app_with`] merges another router (the consumer page) under
//! the same request metrics and fallback. Handlers await lookups
//! ([`Lookup`] decides where they run: on the calling task when they are
//! light, else on the blocking pool) and answer with
//! [`Lookup::report_json`]: each record's entry written once, when it is
//! checked. [`server::serve`] serves the router with timeouts and a cap on
//! connections; `axum::serve` also works, without them.
//!
//! ```no_run
//! use std::sync::Arc;
//! use proofmark_verifier::api::{ApiState, app};
//! use proofmark_verifier::Lookup;
//! # async fn run(lookup: Lookup) -> std::io::Result<()> {
//! let router = app(ApiState::new(lookup));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, router).await
//! # }
//! ```

pub mod error;
pub mod openapi;
pub mod server;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde::Serialize;

pub use error::ApiError;

use crate::lookup::Lookup;
use crate::metrics::Metrics;
use crate::report::BatchInfo;

/// The routes of the proof API (method, path), as the OpenAPI document lists them.
pub const ROUTES: [(&str, &str); 8] = [
    ("get", "/v1/codes/{code}"),
    ("get", "/v1/batches"),
    ("get", "/v1/batches/{batch_id}"),
    ("post", "/v1/audit"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];

/// Limits of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiLimits {
    /// Largest `POST /v1/audit` body, in bytes (default 1 MiB).
    pub audit_body_bytes: usize,
    /// Most codes in one audit (default 10,000).
    pub audit_codes: usize,
    /// Lookups an audit runs at once (default 8).
    pub audit_concurrency: usize,
}

impl Default for ApiLimits {
    fn default() -> Self {
        ApiLimits {
            audit_body_bytes: 1 << 20,
            audit_codes: 10_000,
            audit_concurrency: 8,
        }
    }
}

/// A check of `GET /readyz`: `Err` with the reason while the service cannot
/// do all of its work. It may block (it runs off the async runtime).
pub type ReadinessCheck = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// The checks of `GET /readyz` (none: always ready).
#[derive(Clone, Default)]
pub struct Readiness(Vec<ReadinessCheck>);

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Readiness({} checks)", self.0.len())
    }
}

impl Readiness {
    /// Adds a check.
    pub fn add(&mut self, check: impl Fn() -> Result<(), String> + Send + Sync + 'static) {
        self.0.push(Arc::new(check));
    }

    /// Runs every check; the reasons of those that failed.
    pub fn failures(&self) -> Vec<String> {
        self.0.iter().filter_map(|check| check().err()).collect()
    }
}

/// What the handlers share. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The lookups.
    pub lookup: Lookup,
    /// The counters (the lookup's own).
    pub metrics: Arc<Metrics>,
    /// The limits.
    pub limits: ApiLimits,
    /// The checks of `GET /readyz`.
    pub readiness: Readiness,
}

impl ApiState {
    /// The state of `lookup`, counting into the lookup's metrics, with default limits.
    pub fn new(lookup: Lookup) -> Self {
        let metrics = Arc::clone(lookup.metrics());
        ApiState {
            lookup,
            metrics,
            limits: ApiLimits::default(),
            readiness: Readiness::default(),
        }
    }

    /// The same state with `limits`.
    pub fn with_limits(mut self, limits: ApiLimits) -> Self {
        self.limits = limits;
        self
    }
}

/// The proof API's router.
pub fn app(state: ApiState) -> Router {
    app_with(state, Router::new())
}

/// The proof API's router merged with `other` (e.g. the consumer page's
/// router): one fallback (404 JSON) and request metrics for every route.
pub fn app_with(state: ApiState, other: Router) -> Router {
    let metrics = Arc::clone(&state.metrics);
    Router::new()
        .route("/v1/codes/{code}", get(get_code))
        .route("/v1/batches", get(list_batches))
        .route("/v1/batches/{batch_id}", get(get_batch))
        .route("/v1/audit", post(audit))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/openapi.json", get(openapi_json))
        .with_state(state)
        .merge(other)
        .fallback(|| async { ApiError::NotFound })
        .layer(axum::middleware::map_response(method_not_allowed_body))
        .layer(axum::middleware::map_response(no_store_nosniff))
        .layer(axum::middleware::from_fn_with_state(metrics, observe))
}

/// Gives the router's bodiless 405 answers (a route asked with a method it does not take)
/// the JSON error body of every other error (SPEC.md 11.3), keeping their `Allow` header.
/// A 405 with a body of its own (the consumer page's, HTML) is left as it is.
async fn method_not_allowed_body(response: Response) -> Response {
    if response.status() != StatusCode::METHOD_NOT_ALLOWED
        || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let err = ApiError::MethodNotAllowed;
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(err.body()))
}

/// Marks every answer `Cache-Control: no-store` (a report changes when a
/// batch is published or re-anchored; an error must not be kept) and
/// `X-Content-Type-Options: nosniff` (SPEC.md 11.3), unless it has its own.
async fn no_store_nosniff(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    response
}

/// Counts every request and its latency by matched route, in a span.
async fn observe(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let span = tracing::info_span!("request", method = %req.method(), route = %route);
    let started = Instant::now();
    let response = tracing::Instrument::instrument(next.run(req), span).await;
    metrics.request(&route, response.status().as_u16(), started.elapsed());
    response
}

fn json_response(status: StatusCode, bytes: Vec<u8>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value).map_err(|e| {
        tracing::error!(error = %e, "cannot serialize a response");
        ApiError::Internal
    })
}

/// `GET /v1/codes/{code}`.
async fn get_code(
    State(state): State<ApiState>,
    code: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    // A path segment that is not UTF-8 after percent-decoding is no code.
    let Path(code) = code.map_err(|_| ApiError::MalformedCode("(not UTF-8)".into()))?;
    match state.lookup.report_json(&code).await {
        Ok(Some(json)) => Ok(json_response(StatusCode::OK, json)),
        Ok(None) => Err(ApiError::UnknownCode(code.trim().to_owned())),
        Err(e) => Err(ApiError::from_lookup(&code, &e)),
    }
}

/// One published batch in `GET /v1/batches`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchListing {
    /// The batch.
    pub batch_id: String,
    /// Its hash suite.
    pub suite: String,
    /// Its root, hex.
    pub root: String,
    /// Its leaves.
    pub leaf_count: u64,
    /// `blake3:` digest of its manifest.
    pub manifest_digest: String,
    /// Its business date.
    pub batch_date: String,
    /// When it was published to this service.
    pub published_at: String,
}

/// `GET /v1/batches`.
async fn list_batches(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let batches: Vec<BatchListing> = state
        .lookup
        .published_batches()
        .await
        .map_err(|e| ApiError::from_batch_listing(&e))?
        .into_iter()
        .map(|b| BatchListing {
            batch_id: b.batch_id,
            suite: b.suite,
            root: b.root,
            leaf_count: b.leaf_count,
            manifest_digest: b.manifest_digest,
            batch_date: b.batch_date,
            published_at: b.published_at,
        })
        .collect();
    #[derive(Serialize)]
    struct Listing {
        batches: Vec<BatchListing>,
    }
    Ok(json_response(
        StatusCode::OK,
        to_json(&Listing { batches })?,
    ))
}

/// `GET /v1/batches/{batch_id}`: the batch's [`BatchInfo`] with its id.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchDetail {
    /// The batch.
    pub batch_id: String,
    /// What it commits to and its receipts.
    #[serde(flatten)]
    pub info: BatchInfo,
}

async fn get_batch(
    State(state): State<ApiState>,
    batch_id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(batch_id) = batch_id.map_err(|_| ApiError::UnknownBatch("(not UTF-8)".into()))?;
    match state.lookup.batch_info(&batch_id).await {
        Ok(Some(info)) => Ok(json_response(
            StatusCode::OK,
            to_json(&BatchDetail { batch_id, info })?,
        )),
        Ok(None) => Err(ApiError::UnknownBatch(batch_id)),
        Err(e) => Err(ApiError::from_batch_lookup(&batch_id, &e)),
    }
}

/// Reads a body of at most `limit` bytes. One whose `Content-Length` says it
/// is larger is refused before any of it is read (so a client that asked
/// for `100 Continue` is not told to send it).
async fn read_limited(headers: &HeaderMap, body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::BodyTooLarge { limit_bytes: limit });
    }
    let mut stream = body.into_data_stream();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            if server::is_body_timeout(&e) {
                ApiError::RequestTimeout
            } else {
                ApiError::MalformedBody(format!("cannot read the body: {e}"))
            }
        })?;
        if out.len() + chunk.len() > limit {
            return Err(ApiError::BodyTooLarge { limit_bytes: limit });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The codes of an audit body: a JSON array of strings, or one code per line.
pub fn parse_audit_body(body: &[u8], max_codes: usize) -> Result<Vec<String>, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::MalformedBody("the body is not UTF-8 text".into()))?;
    let codes: Vec<String> = if text.trim_start().starts_with('[') {
        serde_json::from_str::<Vec<String>>(text).map_err(|e| {
            ApiError::MalformedBody(format!("the body is not a JSON array of strings: {e}"))
        })?
    } else {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    };
    if codes.len() > max_codes {
        return Err(ApiError::TooManyCodes { limit: max_codes });
    }
    if codes.is_empty() {
        return Err(ApiError::MalformedBody("the body names no code".into()));
    }
    Ok(codes)
}

/// One NDJSON line of an audit: a report or an error object, with the newline.
async fn audit_line(lookup: Lookup, code: String) -> Bytes {
    let result = match lookup.report_json(&code).await {
        Ok(Some(json)) => Ok(json),
        Ok(None) => Err(ApiError::UnknownCode(code.trim().to_owned())),
        Err(e) => Err(ApiError::from_lookup(&code, &e)),
    };
    let mut line = result.unwrap_or_else(|err| {
        let v = serde_json::json!({
            "code": code,
            "error": {"code": err.code(), "message": err.message()},
        });
        serde_json::to_vec(&v).unwrap_or_default()
    });
    line.push(b'\n');
    Bytes::from(line)
}

/// `POST /v1/audit`: NDJSON, one line per code in request order, streamed
/// as lookups finish (a bounded number at once).
async fn audit(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_limited(&headers, body, state.limits.audit_body_bytes).await?;
    let codes = parse_audit_body(&bytes, state.limits.audit_codes)?;
    state.metrics.audit_codes(codes.len() as u64);
    let lookup = state.lookup.clone();
    let lines = futures::stream::iter(codes)
        .map(move |code| audit_line(lookup.clone(), code))
        .buffered(state.limits.audit_concurrency.max(1))
        .map(Ok::<Bytes, Infallible>);
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        )],
        Body::from_stream(lines),
    )
        .into_response())
}

/// `GET /healthz`.
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: `200 {"status": "ready"}`, or `503 {"status":
/// "not_ready", "reasons": [...]}` while a check fails (SPEC.md 11.3).
async fn readyz(State(state): State<ApiState>) -> Response {
    let readiness = state.readiness.clone();
    let failures = tokio::task::spawn_blocking(move || readiness.failures())
        .await
        .unwrap_or_else(|e| vec![format!("readiness check failed: {e}")]);
    if failures.is_empty() {
        Json(serde_json::json!({"status": "ready"})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "not_ready", "reasons": failures})),
        )
            .into_response()
    }
}

/// `GET /metrics`.
async fn metrics_text(State(state): State<ApiState>) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// `GET /openapi.json`.
async fn openapi_json() -> Response {
    json_response(StatusCode::OK, openapi::document_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_bodies_parse() {
        assert_eq!(
            parse_audit_body(b"[\"a1b2c3\", \"d4e5f6\"]", 10).ok(),
            Some(vec!["a1b2c3".to_owned(), "d4e5f6".to_owned()])
        );
        assert_eq!(
            parse_audit_body(b"a1b2c3\r\n\n  d4e5f6  \n", 10).ok(),
            Some(vec!["a1b2c3".to_owned(), "d4e5f6".to_owned()])
        );
        assert_eq!(
            parse_audit_body(b"a\nb\nc", 2),
            Err(ApiError::TooManyCodes { limit: 2 })
        );
        assert!(matches!(
            parse_audit_body(b"[1, 2]", 10),
            Err(ApiError::MalformedBody(_))
        ));
        assert!(matches!(
            parse_audit_body(b"\n \n", 10),
            Err(ApiError::MalformedBody(_))
        ));
        assert!(matches!(
            parse_audit_body(&[0xff, 0xfe], 10),
            Err(ApiError::MalformedBody(_))
        ));
    }
}
