//! Integration tests of proofmark-ingest: one binary, each test in its own temporary folder.

mod common;
mod plan;
mod segment;
mod store;
