//! Integration tests of proofmark-ingest: one binary, each test in its own temporary folder.

mod common;
mod dictionaries;
mod plan;
mod segment;
mod store;
