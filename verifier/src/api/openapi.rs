//! The OpenAPI 3.1 document of the proof API, built here beside the types it
//! describes. Tests keep it in sync: its paths are [`super::ROUTES`], and the
//! properties and required fields of each schema are compared with the keys
//! of real serialized values (`verifier/tests/api.rs`).

use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::report::CODE_REPORT_FORMAT;

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
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

/// The document as JSON.
pub fn document() -> Value {
    let hex64 = json!({"type": "string", "pattern": "^[0-9a-f]{64}$"});
    let integer = json!({"type": "integer", "format": "int64", "minimum": 0});
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "proofmark proof API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Code reports with Merkle proofs and anchor receipts (schemas/SPEC.md section 11)."
        },
        "paths": {
            "/v1/codes/{code}": {"get": {
                "summary": "The report of a code: its records, their proofs and the batches' anchors",
                "parameters": [{"name": "code", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "The code report", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CodeReport"}}}},
                    "400": error_response("malformed_code"),
                    "404": error_response("unknown_code: no anchored batch published to this service holds the code"),
                    "500": error_response("integrity_failure, report_too_large (a bound lot has more records of its own than the service lists) or internal"),
                }
            }},
            "/v1/batches": {"get": {
                "summary": "The published batches",
                "responses": {"200": {"description": "The batches, in publishing order", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchList"}}}}}
            }},
            "/v1/batches/{batch_id}": {"get": {
                "summary": "One published batch with its anchor receipts",
                "parameters": [{"name": "batch_id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "The batch", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchDetail"}}}},
                    "404": error_response("unknown_batch"),
                    "500": error_response("integrity_failure (the stored manifest, plan or segment roots are not what was published) or internal"),
                }
            }},
            "/v1/audit": {"post": {
                "summary": "Reports of many codes, streamed as NDJSON in request order",
                "requestBody": {"required": true, "content": {
                    "application/json": {"schema": {"type": "array", "items": {"type": "string"}}},
                    "text/plain": {"schema": {"type": "string", "description": "one code per line"}}
                }},
                "responses": {
                    "200": {"description": "One line per code: a CodeReport or an AuditError", "content": {"application/x-ndjson": {"schema": {"oneOf": [
                        {"$ref": "#/components/schemas/CodeReport"},
                        {"$ref": "#/components/schemas/AuditError"}
                    ]}}}},
                    "400": error_response("malformed_body"),
                    "408": error_response("request_timeout (the body did not arrive in time)"),
                    "413": error_response("body_too_large or too_many_codes"),
                }
            }},
            "/healthz": {"get": {
                "summary": "Liveness",
                "responses": {"200": {"description": "Serving", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}}}
            }},
            "/readyz": {"get": {
                "summary": "Readiness: whether the service can do all of its work (the consumer page can record scans and PIN checks)",
                "responses": {
                    "200": {"description": "Ready", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}}},
                    "503": {"description": "Not ready; the reasons say why", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}}}
                }
            }},
            "/metrics": {"get": {
                "summary": "Counters in the Prometheus text format",
                "responses": {"200": {"description": "Prometheus text format 0.0.4", "content": {"text/plain": {"schema": {"type": "string"}}}}}
            }},
            "/openapi.json": {"get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}}
            }},
        },
        "components": {"schemas": {
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
        for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = piece.split('"').next().unwrap_or_default();
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "{name} is referenced but not defined"
            );
        }
    }
}
