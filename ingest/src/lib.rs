//! The ingest layer of proofmark's nightly batch pipeline: from Parquet input files to
//! validated, canonically encoded and leaf-hashed records.
//!
//! The flow, one module per step:
//!
//! - [`store`]: [`Store`], a local folder or object store URL (`s3://`, `gs://`, `az://`,
//!   `http(s)://`) with paths relative to its root; [`store_client`]: its clients' warning
//!   when a request is retried, and [`StoreFailure`], a store's error with a hint.
//! - [`discover`]: inputs (files, folders or prefixes, globs) resolved to files.
//! - [`plan`] and [`planner`]: [`make_plan`] freezes the inputs of a batch in
//!   `batches/<id>/plan.json` (SPEC.md 8.1): each file's kind ([`footer`]), row groups with
//!   their byte ranges and BLAKE3 digests, duplicate record ids; in copy mode the files are
//!   copied into the batch ([`digest`] streams each file once for all of this).
//! - [`fetch`] and [`segment`]: [`fetch_segment`] reads one row group's bytes and checks
//!   them against the plan; [`process_segment`] decodes them ([`decode`]), validates every row, keeps
//!   rejected rows with their reasons, encodes accepted rows canonically and leaf-hashes
//!   them in batches of equal length ([`hash`]), and builds the segment's index entries.
//! - [`error`]: [`IngestError`], naming the file, row group or column at fault.
//!
//! Building segment trees, writing segment files and committing the batch is the
//! `proofmark-anchor` crate's job; this crate hands it [`SegmentResult`]s.
//!
//! ```no_run
//! use proofmark_ingest::{InputMode, PlanOptions, Store, fetch_segment, make_plan, process_segment};
//! use proofmark_merkle::SuiteId;
//!
//! # async fn run() -> Result<(), proofmark_ingest::IngestError> {
//! let store = Store::from_url("s3://proofmark/prod")?;
//! let opts = PlanOptions {
//!     batch_id: "nightly-2026-11-25".into(),
//!     batch_date: "2026-11-25".into(),
//!     suite: SuiteId::Blake3,
//!     input_mode: InputMode::Copy,
//! };
//! let inputs = vec!["s3://landing/2026-11-25/**/*.parquet".to_string()];
//! let plan = make_plan(&store, &inputs, &opts, &|_progress| {}).await?;
//! for seg in &plan.segments {
//!     let input = fetch_segment(&store, &plan, seg.segment).await?;
//!     let result = process_segment(&plan, &input)?;
//!     println!("segment {}: {} leaves, {} rejected", result.segment, result.leaves.len(), result.rows_rejected);
//! }
//! # Ok(())
//! # }
//! ```

pub mod blake3_batch;
pub mod blake3_lanes;
pub mod dates;
pub mod decode;
pub mod digest;
pub mod direct_file;
pub mod discover;
mod duplicates;
pub mod error;
pub mod fetch;
pub mod footer;
pub mod hash;
pub mod plan;
pub mod planner;
pub mod segment;
pub mod store;
pub mod store_client;

pub use error::IngestError;
pub use plan::{
    InputMode, Plan, PlanDifferences, PlanFile, PlanOptions, PlanProgress, PlanRowGroup,
    PlanSegment, load_plan, make_plan, plan_differences, validate_batch_id,
};
pub use segment::{
    IndexEntry, RejectRow, SegmentInput, SegmentResult, fetch_segment, process_segment,
};
pub use store::{ObjectInfo, ObjectWriter, Removed, Store};
pub use store_client::StoreFailure;
