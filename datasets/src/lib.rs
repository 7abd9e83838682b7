//! Deterministic synthetic item records for proofmark, at any scale.
//!
//! `proofmark-datasets` writes what a night of imports looks like: Parquet
//! files of production, customs, logistics and inspection records (exactly
//! the Arrow schemas of [`proofmark_schemas::Kind`]) about items that are
//! produced in lots by a few thousand brands, inspected, declared at customs,
//! labelled in a bonded warehouse and shipped to consumers. Beside the
//! records it writes the ground truth of the defects it injected (so a
//! validator can be checked row by row), the items' scratch-off PINs (never
//! in the records) and a description of the dataset.
//!
//! The same options give byte-identical files on any machine and with any
//! number of threads: every random choice comes from a stream keyed by the
//! seed and the identity of what is generated. Row groups are generated and
//! encoded in parallel on the current rayon pool and written in order, a
//! window at a time, so memory does not grow with the number of items.
//!
//! ```
//! use proofmark_datasets::{GenerateOptions, generate};
//!
//! let dir = tempfile::tempdir()?;
//! let opts = GenerateOptions::new(500, dir.path()).with_seed(42).with_bad_rate(0.05);
//! let summary = generate(&opts, |_rows| {})?;
//! assert_eq!(summary.items, 500);
//! assert_eq!(summary.kind("production").map(|k| k.rows), Some(500));
//! assert!(summary.bad_rows > 0);
//! assert!(dir.path().join("records/logistics/part-00000.parquet").exists());
//! assert!(dir.path().join("truth/defects.jsonl").exists());
//! assert!(dir.path().join("secrets/pins.csv").exists());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Layout of a dataset directory:
//!
//! - `records/<kind>/part-NNNNN.parquet`: the records (ZSTD, page statistics
//!   and page index), so that `DIR/records/**/*.parquet` picks up records only;
//! - `truth/defects.jsonl`: one [`TruthEntry`] per injected defect;
//! - `secrets/pins.csv`: `code,pin`, one line per item;
//! - `orgs.csv`: `org_id,name`, the names of every organisation of the
//!   generator's world (all brands of the catalog, the parties of the
//!   journeys), for `proofmark serve --orgs`;
//! - `dataset.json`: the [`DatasetSummary`].

mod catalog;
mod date;
mod defects;
mod error;
mod journey;
mod layout;
mod lexicon;
mod plan;
mod records;
mod rng;
mod summary;
mod write;

use proofmark_schemas::{DefectKind, Kind};

pub use date::{DEFAULT_BATCH_DATE_DAYS, format_date, parse_date};
pub use defects::TruthEntry;
pub use error::DatasetError;
pub use plan::{
    DEFAULT_ROWS_PER_GROUP, DatasetPlan, GenerateOptions, MAX_FILES_PER_KIND, MAX_ITEMS,
};
pub use summary::{Arguments, DatasetSummary, FileSummary, KindSummary};
pub use write::{DESCRIPTION_PATH, GENERATOR, PINS_PATH, TRUTH_PATH};

/// Plans and writes a dataset. `progress` is called with the number of
/// records of each row group as it is written (from worker threads).
pub fn generate(
    options: &GenerateOptions,
    progress: impl Fn(u64) + Sync,
) -> Result<DatasetSummary, DatasetError> {
    DatasetPlan::try_new(options)?.write(progress)
}

impl DatasetPlan {
    /// Writes the planned dataset. `progress` is called with the number of
    /// records of each row group as it is written (from worker threads).
    pub fn write(&self, progress: impl Fn(u64) + Sync) -> Result<DatasetSummary, DatasetError> {
        write::write_dataset(self, &progress)
    }
}

/// The 20-digit traceability code of item `item` (0-based) in the datasets of `seed`.
pub fn item_code(seed: u64, item: u64) -> String {
    let mut s = String::with_capacity(20);
    records::push_item_code(&mut s, seed, item);
    s
}

/// The 8-digit scratch-off PIN of item `item` in the datasets of `seed`.
pub fn item_pin(seed: u64, item: u64) -> String {
    format!("{:08}", records::item_pin(seed, item))
}

/// The defect classes injected into records of `kind`, in the order bad rows cycle through them.
pub fn defect_classes(kind: Kind) -> &'static [DefectKind] {
    defects::classes(kind)
}
