//! Build orchestration and commit of proofmark's nightly batches (SPEC 8).
//!
//! A batch is planned by `proofmark-ingest` (`plan.json`: the frozen input
//! files and their row groups, one *segment* each). This crate then:
//!
//! 1. [`build_batch`]: builds the segments, all of them or one share
//!    ([`Part`]) per process, in any number of processes: fetch (async,
//!    bounded), validate/encode/hash (ingest, on rayon), segment tree (the
//!    merkle crate), and the segment's files with its summary written last
//!    ([`segment_files`]). Reruns skip what is done.
//! 2. [`commit_batch`]: checks every segment against its digests and the plan,
//!    accounts for every row, computes the batch root (the RFC 6962-shaped
//!    tree over the non-empty segments' roots), merges the index
//!    ([`index`], an external k-way merge within a memory budget), writes
//!    `rejects.parquet` ([`rejects`]) and finally `manifest.json`
//!    ([`manifest`]), linked to the store's previous batch.
//! 3. [`prove_leaf`]: the inclusion proof of any leaf, from the stored outputs.
//!
//! ```no_run
//! use proofmark_anchor::{BuildOptions, CommitOptions, Part, build_batch, commit_batch, prove_leaf};
//! use proofmark_ingest::Store;
//!
//! # async fn run() -> Result<(), proofmark_anchor::AnchorError> {
//! let store = Store::from_url("/data/proofmark").expect("a local folder");
//! // Three processes may each build a share: "1/3", "2/3", "3/3".
//! let opts = BuildOptions { part: Some("1/3".parse::<Part>()?), ..BuildOptions::default() };
//! build_batch(&store, "nightly-2026-11-25", &opts, &|_progress| {}).await?;
//! // Once every share is built, one process commits.
//! let report = commit_batch(&store, "nightly-2026-11-25", &CommitOptions::default(), &|_| {}).await?;
//! println!("root {}", report.manifest.root);
//! let proof = prove_leaf(&store, "nightly-2026-11-25", 42).await?;
//! proof.verify()?;
//! # Ok(())
//! # }
//! ```
//!
//! Segment `.index` files hold segment-local leaf indices (a segment's global
//! offset is unknown while segments build in parallel); the commit's merge
//! makes them global in `index/entries.bin`.

pub mod batch_proof;
pub mod build;
pub mod chain;
pub mod commit;
pub mod error;
pub mod evm;
pub mod index;
pub mod layout;
pub mod ledger;
pub mod manifest;
pub mod rejects;
pub mod segment_files;
pub mod segment_store;
pub mod stored_plan;

pub use batch_proof::{
    LeafLocation, LeafProof, load_manifest, locate_leaf, prove_leaf, verify_leaf_proof,
};
pub use build::{BuildOptions, BuildProgress, BuildReport, Part, RowCounts, build_batch};
pub use commit::{
    CommitOptions, CommitProgress, CommitReport, CommitStage, HeadUpdate, commit_batch, read_head,
};
pub use error::{AnchorError, RejectCause, TOP_REASONS};
pub use manifest::{BatchLink, HeadPointer, Manifest, ManifestFile, ManifestSegment};
