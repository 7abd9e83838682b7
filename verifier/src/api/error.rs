//! The API's errors: a stable code and a plain message for clients, as
//! `{"error":{"code":"...","message":"..."}}` (SPEC.md 11.3); the details of
//! internal errors go to the log only.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::VerifierError;
use crate::log_limit::log_limited;

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiError {
    /// The code breaks the code rule (400 `malformed_code`).
    MalformedCode(String),
    /// No published batch holds the code (404 `unknown_code`).
    UnknownCode(String),
    /// No published batch has this id (404 `unknown_batch`).
    UnknownBatch(String),
    /// No such route (404 `not_found`).
    NotFound,
    /// The route exists but not for this method (405 `method_not_allowed`; the answer's
    /// `Allow` header lists the methods it takes).
    MethodNotAllowed,
    /// The request body is larger than allowed (413 `body_too_large`).
    BodyTooLarge {
        /// The limit in bytes.
        limit_bytes: usize,
    },
    /// The request body did not arrive in time (408 `request_timeout`; see
    /// [`ServerLimits::body_timeout`](super::server::ServerLimits::body_timeout)).
    RequestTimeout,
    /// An audit names more codes than allowed (413 `too_many_codes`).
    TooManyCodes {
        /// The limit.
        limit: usize,
    },
    /// The request body is not what the route takes (400 `malformed_body`).
    MalformedBody(String),
    /// The stored data of a record does not check (500 `integrity_failure`):
    /// the message says which batch, leaf and check.
    Integrity(String),
    /// A lot bound to the code has more records of its own than a report
    /// lists (500 `report_too_large`): no partial report is given.
    ReportTooLarge(String),
    /// Anything else (500 `internal`); details are logged, not returned.
    Internal,
}

/// The JSON body of an error.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// The error.
    pub error: ErrorDetail<'a>,
}

/// The `error` object.
#[derive(Debug, Serialize)]
pub struct ErrorDetail<'a> {
    /// Stable machine-readable code.
    pub code: &'a str,
    /// Plain message for people.
    pub message: String,
}

impl ApiError {
    /// Every stable error code, as [`ApiError::code`] gives them (the OpenAPI document's
    /// enumeration).
    pub const CODES: &'static [&'static str] = &[
        "malformed_code",
        "unknown_code",
        "unknown_batch",
        "not_found",
        "method_not_allowed",
        "request_timeout",
        "body_too_large",
        "too_many_codes",
        "malformed_body",
        "integrity_failure",
        "report_too_large",
        "internal",
    ];

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedCode(_) | ApiError::MalformedBody(_) => StatusCode::BAD_REQUEST,
            ApiError::UnknownCode(_) | ApiError::UnknownBatch(_) | ApiError::NotFound => {
                StatusCode::NOT_FOUND
            }
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::BodyTooLarge { .. } | ApiError::TooManyCodes { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::Integrity(_) | ApiError::ReportTooLarge(_) | ApiError::Internal => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedCode(_) => "malformed_code",
            ApiError::UnknownCode(_) => "unknown_code",
            ApiError::UnknownBatch(_) => "unknown_batch",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::RequestTimeout => "request_timeout",
            ApiError::BodyTooLarge { .. } => "body_too_large",
            ApiError::TooManyCodes { .. } => "too_many_codes",
            ApiError::MalformedBody(_) => "malformed_body",
            ApiError::Integrity(_) => "integrity_failure",
            ApiError::ReportTooLarge(_) => "report_too_large",
            ApiError::Internal => "internal",
        }
    }

    /// The message for clients.
    pub fn message(&self) -> String {
        match self {
            ApiError::MalformedCode(code) => format!(
                "{} is not a code: a code is 6 to 48 characters, each a letter, a digit, '.', '_' or '-'",
                crate::error::shown_code(code)
            ),
            ApiError::UnknownCode(code) => {
                format!(
                    "no anchored batch published to this service holds code {}",
                    crate::error::shown_code(code)
                )
            }
            ApiError::UnknownBatch(id) => {
                format!(
                    "no batch {} is published to this service",
                    crate::error::shown_code(id)
                )
            }
            ApiError::NotFound => "no such route".to_owned(),
            ApiError::MethodNotAllowed => {
                "this route does not take this method (see the Allow header)".to_owned()
            }
            ApiError::RequestTimeout => {
                "the request body did not arrive in time; send it again".to_owned()
            }
            ApiError::BodyTooLarge { limit_bytes } => {
                format!("the request body is larger than {limit_bytes} bytes")
            }
            ApiError::TooManyCodes { limit } => {
                format!("an audit takes at most {limit} codes")
            }
            ApiError::MalformedBody(why) => why.clone(),
            ApiError::Integrity(why) => format!(
                "the stored data does not match what its batch root commits to, so it is not served: {why}"
            ),
            ApiError::ReportTooLarge(why) => why.clone(),
            ApiError::Internal => "internal error (logged)".to_owned(),
        }
    }

    /// The JSON body, as bytes.
    pub fn body(&self) -> Vec<u8> {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.message(),
            },
        };
        serde_json::to_vec(&body).unwrap_or_default()
    }

    /// The API error of a failed lookup for `code`; internal details are
    /// logged here.
    pub fn from_lookup(code: &str, err: &VerifierError) -> Self {
        match err {
            VerifierError::MalformedCode(c) => ApiError::MalformedCode(c.clone()),
            other => Self::from_failure(&format!("code {code:?}"), other),
        }
    }

    /// The API error of a failed read of batch `batch_id`'s stored objects
    /// (`GET /v1/batches/{batch_id}`); internal details are logged here.
    pub fn from_batch_lookup(batch_id: &str, err: &VerifierError) -> Self {
        Self::from_failure(&format!("batch {batch_id:?}"), err)
    }

    /// The error answer of a failed listing of the batches.
    pub fn from_batch_listing(err: &VerifierError) -> Self {
        Self::from_failure("the batch list", err)
    }

    fn from_failure(request: &str, err: &VerifierError) -> Self {
        match err {
            VerifierError::Integrity { .. }
            | VerifierError::BatchRewritten { .. }
            | VerifierError::CatalogMismatch { .. } => {
                log_limited!(error, request, error = %err, "integrity failure");
                ApiError::Integrity(err.to_string())
            }
            VerifierError::LotTooLarge { .. } => {
                log_limited!(warn, request, error = %err, "report too large");
                ApiError::ReportTooLarge(err.to_string())
            }
            other => {
                log_limited!(error, request, error = %other, "lookup failed");
                ApiError::Internal
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status(),
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            self.body(),
        )
            .into_response()
    }
}
