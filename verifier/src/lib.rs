//! proofmark's verifier: everything that answers for a code after its
//! batches were committed and anchored.
//!
//! - [`index`]: the global code index, subject key -> (batch, leaf), fed by
//!   [`publish`] from each batch's sorted `index/entries.bin`;
//! - [`lookup`]: [`Lookup`] reads a code's records back from their input
//!   Parquet files, checks them against the stored leaves and proofs, and
//!   assembles the [`CodeReport`] (`schemas/SPEC.md` section 11);
//! - [`verify`]: checks a report without trusting whoever served it;
//! - [`api`]: the proof API (axum), and [`consumer`]: the consumer page;
//! - [`audit`]: offline audits of whole batches.
//!
//! ```no_run
//! use proofmark_ingest::Store;
//! use proofmark_verifier::{CodeLookup, Lookup, publish};
//!
//! # async fn run() -> Result<(), proofmark_verifier::VerifierError> {
//! let store = Store::from_url("/data/proofmark").expect("a local folder");
//! let index = std::path::Path::new("/data/code-index");
//! publish(&store, "nightly-2026-11-24", index).await?; // a committed, anchored batch
//! let lookup = Lookup::open(store, index)?;
//! match lookup.lookup("01234567890123456789").await? {
//!     Some(report) => println!("{} records", report.records.len()),
//!     None => println!("no anchored batch holds this code"),
//! }
//! # Ok(())
//! # }
//! ```

pub mod api;
pub mod audit;
pub mod audit_codes;
pub mod consumer;
pub mod error;
pub mod index;
pub(crate) mod log_limit;
pub mod lookup;
pub(crate) mod mapped;
pub mod metrics;
pub mod report;
pub mod verify;

pub use error::VerifierError;
pub use index::{CodeIndex, PublishOutcome, publish};
pub use lookup::Lookup;
pub use metrics::Metrics;
pub use report::{
    BatchInfo, CODE_REPORT_FORMAT, CodeLookup, CodeReport, LookupError, RecordEntry, RecordSource,
    SubjectRef,
};
