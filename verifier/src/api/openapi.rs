//! The OpenAPI 3.1 document of the proof API, built here beside the types it
//! describes. Tests keep it in sync: its paths are [`super::ROUTES`], the
//! properties and required fields of each schema are compared with the keys
//! of real serialized values, and every answer the API tests get is one the
//! document describes: its status among the operation's responses, its error
//! code among those the response names, a method a route does not take as
//! `MethodNotAllowed` with the `Allow` the document implies, an unknown path as
//! `NotFound` (`verifier/tests/api.rs`; the HTTP layer's 414 and 431 in
//! `verifier/tests/server.rs`).

use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::report::CODE_REPORT_FORMAT;

/// A JSON error answer (`Error`) whose `error.code` is one of `codes`.
fn error_response(description: &str, codes: &[&str]) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": error_schema(codes)}}
    })
}

/// The `Error` schema, its `error.code` limited to `codes`.
fn error_schema(codes: &[&str]) -> Value {
    json!({
        "$ref": "#/components/schemas/Error",
        "properties": {"error": {"properties": {"code": {"enum": codes}}}}
    })
}

fn object(properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": properties,
        "required": required,
    })
}

/// The answers of the HTTP layer that any operation can get before its route sees the
/// request (SPEC.md 11.3), by status.
const HTTP_LAYER_RESPONSES: [(&str, &str); 2] = [("414", "UriTooLong"), ("431", "HeadTooLarge")];

/// An operation: `responses` with the HTTP layer's answers added.
fn operation(mut op: Value) -> Value {
    if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
        for (status, name) in HTTP_LAYER_RESPONSES {
            responses.insert(
                status.to_owned(),
                json!({"$ref": format!("#/components/responses/{name}")}),
            );
        }
    }
    op
}

/// What the document says of every route and of paths and methods it does not list.
const DESCRIPTION: &str = "Code reports with Merkle proofs and anchor receipts (schemas/SPEC.md \
section 11). Every answer of these routes carries `Cache-Control: no-store` and \
`X-Content-Type-Options: nosniff`; an error answer is the JSON `Error` object, with a stable \
`error.code`. Beyond the operations listed: a path that is none of them (nor, when the service \
serves the consumer page, `/` or one of its HTML pages under `/s` and `/S`, which answer in \
HTML) is answered 404 \
`not_found` (the `NotFound` response), and a listed path asked with a method it does not take \
is answered 405 `method_not_allowed` with an `Allow` header that lists the methods it takes \
(the `MethodNotAllowed` response; a path that takes GET also takes HEAD). The HTTP layer \
refuses a request it cannot read before any route sees it, with an empty body: 400 for a \
malformed request line or header, 414 for a request target over its limit (`UriTooLong`), 431 \
for request headers over its limits (`HeadTooLarge`). Integers are unsigned 64-bit, except \
the values of a record, which are as its column types define them and may be negative \
(SPEC.md 2.1, 11.1).";

/// The document as JSON.
pub fn document() -> Value {
    let hex64 = json!({"type": "string", "pattern": "^[0-9a-f]{64}$"});
    // SPEC.md 11.1: unsigned 64-bit (the registry's `uint64`).
    let integer = json!({"type": "integer", "format": "uint64", "minimum": 0, "maximum": u64::MAX});
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "proofmark proof API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": DESCRIPTION
        },
        "paths": {
            "/v1/codes/{code}": {"get": operation(json!({
                "summary": "The report of a code: its records, their proofs and the batches' anchors",
                "parameters": [{"name": "code", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "The code report", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CodeReport"}}}},
                    "400": error_response("malformed_code: the code breaks the code rule (SPEC.md 2.3)", &["malformed_code"]),
                    "404": error_response("unknown_code: no anchored batch published to this service holds the code", &["unknown_code"]),
                    "500": error_response("integrity_failure, report_too_large (a bound lot has more records of its own than the service lists) or internal", &["integrity_failure", "report_too_large", "internal"]),
                }
            }))},
            "/v1/batches": {"get": operation(json!({
                "summary": "The published batches",
                "responses": {
                    "200": {"description": "The batches, in publishing order", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchList"}}}},
                    "500": error_response("integrity_failure (the code index describes a published batch otherwise than its stored manifest) or internal", &["integrity_failure", "internal"]),
                }
            }))},
            "/v1/batches/{batch_id}": {"get": operation(json!({
                "summary": "One published batch with its anchor receipts",
                "parameters": [{"name": "batch_id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "The batch", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchDetail"}}}},
                    "404": error_response("unknown_batch", &["unknown_batch"]),
                    "500": error_response("integrity_failure (the stored manifest, plan or segment roots are not what was published, or the code index describes the batch otherwise than its stored manifest) or internal", &["integrity_failure", "internal"]),
                }
            }))},
            "/v1/audit": {"post": operation(json!({
                "summary": "Reports of many codes, streamed as NDJSON in request order",
                "description": "The body names the codes in one of two forms, which the server tells apart by the body alone, whatever its Content-Type: a body whose first character that is not white space is `[` is a JSON array of strings; any other body is UTF-8 text with one code per line (lines end at `\\n`, a `\\r` before it is dropped, white space around a code is removed and blank lines are skipped). A byte order mark is not white space: a body that starts with one is text, and its first line a code. The two media types below are these two forms. At most 1 MiB and 10,000 codes (the service's defaults).",
                "requestBody": {"required": true, "content": {
                    "application/json": {"schema": {"type": "array", "items": {"type": "string"}}},
                    "text/plain": {"schema": {"type": "string", "description": "one code per line"}}
                }},
                "responses": {
                    "200": {"description": "One line per code: a CodeReport or an AuditError", "content": {"application/x-ndjson": {"schema": {"oneOf": [
                        {"$ref": "#/components/schemas/CodeReport"},
                        {"$ref": "#/components/schemas/AuditError"}
                    ]}}}},
                    "400": error_response("malformed_body: neither form, not UTF-8, or no code", &["malformed_body"]),
                    "408": error_response("request_timeout (the body did not arrive in time; the connection is closed)", &["request_timeout"]),
                    "413": error_response("body_too_large or too_many_codes", &["body_too_large", "too_many_codes"]),
                }
            }))},
            "/healthz": {"get": operation(json!({
                "summary": "Liveness",
                "responses": {"200": {"description": "Serving", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}}}
            }))},
            "/readyz": {"get": operation(json!({
                "summary": "Readiness: whether the service can do all of its work (the consumer page can record scans and PIN checks)",
                "responses": {
                    "200": {"description": "Ready", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}}},
                    "503": {"description": "Not ready; the reasons say why", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}}}
                }
            }))},
            "/metrics": {"get": operation(json!({
                "summary": "Counters in the Prometheus text format",
                "responses": {"200": {"description": "Prometheus text format 0.0.4 (docs/operations.md lists the metrics)", "content": {"text/plain": {"schema": {"type": "string"}}}}}
            }))},
            "/openapi.json": {"get": operation(json!({
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}}
            }))},
        },
        "components": {
        "responses": {
            "NotFound": error_response("not_found: no route has this path", &["not_found"]),
            "MethodNotAllowed": {
                "description": "method_not_allowed: the path's route does not take the request's method",
                "headers": {"Allow": {"description": "The methods the route takes, comma-separated", "required": true, "schema": {"type": "string"}}},
                "content": {"application/json": {"schema": error_schema(&["method_not_allowed"])}}
            },
            "UriTooLong": {"description": "The request target is over the HTTP layer's limit; no body"},
            "HeadTooLarge": {"description": "The request headers are over the HTTP layer's limits; no body"},
        },
        "schemas": {
            "CodeReport": object(json!({
                "format": {"type": "string", "const": CODE_REPORT_FORMAT},
                "code": {"type": "string"},
                "subjects": {"type": "array", "items": {"$ref": "#/components/schemas/SubjectRef"}},
                "records": {"type": "array", "items": {"$ref": "#/components/schemas/RecordEntry"}},
                "batches": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/BatchInfo"}},
            }), &["format", "code", "subjects", "records", "batches"]),
            "SubjectRef": object(json!({
                "type": {"type": "string", "enum": ["item", "lot"]},
                "id": {"type": "string"},
                "key": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
            }), &["type", "id", "key"]),
            "RecordEntry": object(json!({
                "kind": {"type": "string", "enum": ["production", "customs", "logistics", "inspection"]},
                "subject": {"type": "string", "enum": ["item", "lot"]},
                "record": {"type": "object", "description": "the record's columns in the JSON form of SPEC.md section 10"},
                "canonical": {"type": "string", "pattern": "^([0-9a-f]{128})+$"},
                "leaf_hash": hex64,
                "batch_id": {"type": "string"},
                "leaf_index": integer,
                "source": {"$ref": "#/components/schemas/RecordSource"},
                "proof": {"$ref": "#/components/schemas/BatchProof"},
            }), &["kind", "subject", "record", "canonical", "leaf_hash", "batch_id", "leaf_index", "source", "proof"]),
            "RecordSource": object(json!({
                "file": {"type": "string"},
                "row": integer,
                "provided_by": {"type": "string"},
            }), &["file", "row", "provided_by"]),
            "BatchProof": object(json!({
                "version": {"type": "integer", "const": 1},
                "suite": {"type": "string", "enum": ["blake3", "sha256-rfc6962"]},
                "kind": {"type": "string", "const": "batch"},
                "index": integer,
                "tree_size": integer,
                "hashes": {"type": "array", "items": hex64, "maxItems": 64},
                "segment_index": integer,
                "segment_count": integer,
                "upper_hashes": {"type": "array", "items": hex64, "maxItems": 64},
            }), &["version", "suite", "kind", "index", "tree_size", "hashes", "segment_index", "segment_count", "upper_hashes"]),
            "BatchInfo": object(json!({
                "suite": {"type": "string", "enum": ["blake3", "sha256-rfc6962"]},
                "root": hex64,
                "leaf_count": integer,
                "manifest_digest": {"type": "string", "pattern": "^blake3:[0-9a-f]{64}$"},
                "batch_date": {"type": "string", "format": "date"},
                "anchors": {"type": "object", "additionalProperties": {"type": "object"}},
            }), &["suite", "root", "leaf_count", "manifest_digest", "batch_date", "anchors"]),
            "BatchDetail": object(json!({
                "batch_id": {"type": "string"},
                "suite": {"type": "string", "enum": ["blake3", "sha256-rfc6962"]},
                "root": hex64,
                "leaf_count": integer,
                "manifest_digest": {"type": "string", "pattern": "^blake3:[0-9a-f]{64}$"},
                "batch_date": {"type": "string", "format": "date"},
                "anchors": {"type": "object", "additionalProperties": {"type": "object"}},
            }), &["batch_id", "suite", "root", "leaf_count", "manifest_digest", "batch_date", "anchors"]),
            "BatchListing": object(json!({
                "batch_id": {"type": "string"},
                "suite": {"type": "string", "enum": ["blake3", "sha256-rfc6962"]},
                "root": hex64,
                "leaf_count": integer,
                "manifest_digest": {"type": "string", "pattern": "^blake3:[0-9a-f]{64}$"},
                "batch_date": {"type": "string", "format": "date"},
                "published_at": {"type": "string", "format": "date-time"},
            }), &["batch_id", "suite", "root", "leaf_count", "manifest_digest", "batch_date", "published_at"]),
            "BatchList": object(json!({
                "batches": {"type": "array", "items": {"$ref": "#/components/schemas/BatchListing"}},
            }), &["batches"]),
            "Health": object(json!({"status": {"type": "string", "const": "ok"}}), &["status"]),
            "Readiness": object(json!({
                "status": {"type": "string", "enum": ["ready", "not_ready"]},
                "reasons": {"type": "array", "items": {"type": "string"}},
            }), &["status"]),
            "Error": object(json!({
                "error": {"$ref": "#/components/schemas/ErrorDetail"},
            }), &["error"]),
            "ErrorDetail": object(json!({
                "code": {"type": "string", "enum": super::ApiError::CODES},
                "message": {"type": "string"},
            }), &["code", "message"]),
            "AuditError": object(json!({
                "code": {"type": "string"},
                "error": {"$ref": "#/components/schemas/ErrorDetail"},
            }), &["code", "error"]),
        }}
    })
}

/// The document's bytes, built once.
pub fn document_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| serde_json::to_vec(&document()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_the_routes() {
        let doc = document();
        let mut listed: Vec<(String, String)> = doc["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(path, ops)| {
                ops.as_object()
                    .into_iter()
                    .flatten()
                    .map(move |(m, _)| (m.clone(), path.clone()))
            })
            .collect();
        listed.sort();
        let mut routes: Vec<(String, String)> = super::super::ROUTES
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        routes.sort();
        assert_eq!(listed, routes);
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let text = doc.to_string();
        let mut seen = 0;
        for kind in ["schemas", "responses"] {
            let prefix = format!("\"$ref\":\"#/components/{kind}/");
            for piece in text.split(prefix.as_str()).skip(1) {
                let name = piece.split('"').next().unwrap_or_default();
                assert!(
                    doc["components"][kind].get(name).is_some(),
                    "{kind}/{name} is referenced but not defined"
                );
                seen += 1;
            }
        }
        assert_eq!(
            text.matches("\"$ref\"").count(),
            seen,
            "a $ref of another form"
        );
    }

    /// Every operation lists the HTTP layer's refusals (SPEC.md 11.3), and every error
    /// answer names the error codes it can carry, each a code of the API.
    #[test]
    fn every_operation_lists_its_refusals_and_error_codes() {
        let doc = document();
        let ops = doc["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(_, ops)| ops.as_object().into_iter().flatten());
        for (method, op) in ops {
            let responses = op["responses"].as_object().expect("responses");
            for status in ["414", "431"] {
                assert!(responses.contains_key(status), "{method}: {status}");
            }
            for (status, response) in responses {
                let schema = &response["content"]["application/json"]["schema"];
                if schema["$ref"] != "#/components/schemas/Error" {
                    continue;
                }
                let codes = schema["properties"]["error"]["properties"]["code"]["enum"]
                    .as_array()
                    .expect("the codes of an error answer");
                assert!(!codes.is_empty(), "{method} {status}");
                for code in codes {
                    let code = code.as_str().unwrap_or_default();
                    assert!(super::super::ApiError::CODES.contains(&code), "{code}");
                }
            }
        }
        // Integers are unsigned 64-bit (SPEC.md 11.1).
        let row = &doc["components"]["schemas"]["RecordSource"]["properties"]["row"];
        assert_eq!(row["format"], "uint64");
        assert_eq!(row["minimum"], 0);
        assert_eq!(row["maximum"], u64::MAX);
    }
}
