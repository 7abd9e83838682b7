//! Options, their validation, and the plan of a dataset: how many records
//! of each kind, in which files, before anything is written.

use std::path::PathBuf;

use arrow_schema::SchemaRef;
use proofmark_schemas::Kind;

use crate::date::{DEFAULT_BATCH_DATE_DAYS, format_date};
use crate::defects::RATE_SCALE;
use crate::error::DatasetError;
use crate::journey::{Journeys, MIN_BATCH_DATE_DAYS};
use crate::layout::{FilePlan, RowIndex, Runs, plan_files};
use crate::lexicon;

/// The most items a dataset may have.
pub const MAX_ITEMS: u64 = 10_000_000_000;
/// The most files per kind (file names have five digits).
pub const MAX_FILES_PER_KIND: u32 = 99_999;
/// Default rows per Parquet row group.
pub const DEFAULT_ROWS_PER_GROUP: u64 = 65_536;

/// What to generate and where.
///
/// ```
/// use proofmark_datasets::GenerateOptions;
///
/// let opts = GenerateOptions::new(1_000, "/tmp/ds").with_seed(7).with_bad_rate(0.01);
/// assert_eq!(opts.rows_per_group, 65_536);
/// assert_eq!(opts.batch_date(), "2026-11-24");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// Number of items (each gets a traceability code, a production record and logistics events).
    pub items: u64,
    /// Output directory.
    pub out_dir: PathBuf,
    /// Seed of every random choice (default 1).
    pub seed: u64,
    /// Share of rows, in `0..=1`, that carry exactly one injected defect (default 0).
    pub bad_rate: f64,
    /// Rows per Parquet row group (default 65,536).
    pub rows_per_group: u64,
    /// Parquet files per record kind (default 1).
    pub files_per_kind: u32,
    /// The batch date in days since 1970-01-01 (default 2026-11-24); no event is later than its end.
    pub batch_date_days: i32,
    /// Replace a dataset already in `out_dir` (default: refuse).
    pub overwrite: bool,
}

impl GenerateOptions {
    /// Options for `items` items written to `out_dir`, everything else by default.
    pub fn new(items: u64, out_dir: impl Into<PathBuf>) -> Self {
        GenerateOptions {
            items,
            out_dir: out_dir.into(),
            seed: 1,
            bad_rate: 0.0,
            rows_per_group: DEFAULT_ROWS_PER_GROUP,
            files_per_kind: 1,
            batch_date_days: DEFAULT_BATCH_DATE_DAYS,
            overwrite: false,
        }
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the bad-row rate (`0..=1`).
    pub fn with_bad_rate(mut self, rate: f64) -> Self {
        self.bad_rate = rate;
        self
    }

    /// Sets the rows per row group.
    pub fn with_rows_per_group(mut self, rows: u64) -> Self {
        self.rows_per_group = rows;
        self
    }

    /// Sets the files per kind.
    pub fn with_files_per_kind(mut self, files: u32) -> Self {
        self.files_per_kind = files;
        self
    }

    /// Sets the batch date (days since the epoch; see [`crate::parse_date`]).
    pub fn with_batch_date_days(mut self, days: i32) -> Self {
        self.batch_date_days = days;
        self
    }

    /// Allows replacing a dataset already in the output directory.
    pub fn with_overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// The batch date as `YYYY-MM-DD`.
    pub fn batch_date(&self) -> String {
        format_date(self.batch_date_days)
    }

    /// Checks every option.
    pub fn validate(&self) -> Result<(), DatasetError> {
        if self.items == 0 {
            return Err(DatasetError::NoItems);
        }
        if self.items > MAX_ITEMS {
            return Err(DatasetError::TooManyItems {
                items: self.items,
                max: MAX_ITEMS,
            });
        }
        if !(0.0..=1.0).contains(&self.bad_rate) {
            return Err(DatasetError::BadRate {
                rate: self.bad_rate,
            });
        }
        if self.rows_per_group == 0 {
            return Err(DatasetError::ZeroRowsPerGroup);
        }
        if self.files_per_kind == 0 || self.files_per_kind > MAX_FILES_PER_KIND {
            return Err(DatasetError::BadFilesPerKind {
                files: self.files_per_kind,
                max: MAX_FILES_PER_KIND,
            });
        }
        if self.batch_date_days < MIN_BATCH_DATE_DAYS {
            return Err(DatasetError::DateTooEarly {
                date: self.batch_date(),
                min: format_date(MIN_BATCH_DATE_DAYS),
            });
        }
        Ok(())
    }

    /// The bad-row rate in parts per billion.
    pub(crate) fn rate_ppb(&self) -> u64 {
        (self.bad_rate * RATE_SCALE as f64).round() as u64
    }
}

/// The `org_id`s of the parties other than brands.
#[derive(Debug, Clone)]
pub(crate) struct Parties {
    /// Bonded-warehouse operators, one per port (`wh-NN`).
    pub warehouses: Vec<String>,
    /// Carriers (`carrier-NN`).
    pub carriers: Vec<String>,
    /// Customs brokers (`broker-NNN`).
    pub brokers: Vec<String>,
    /// Inspection agencies (`agency-NN`).
    pub agencies: Vec<String>,
}

impl Parties {
    fn new() -> Self {
        Parties {
            warehouses: (0..lexicon::WAREHOUSES.len())
                .map(|i| format!("wh-{i:02}"))
                .collect(),
            carriers: (0..lexicon::CARRIERS.len())
                .map(|i| format!("carrier-{i:02}"))
                .collect(),
            brokers: (0..lexicon::BROKERS)
                .map(|i| format!("broker-{i:03}"))
                .collect(),
            agencies: (0..lexicon::AGENCIES.len())
                .map(|i| format!("agency-{i:02}"))
                .collect(),
        }
    }
}

/// A dataset planned but not yet written: the catalog, the lots and the
/// number of records of every kind and file.
///
/// Planning visits every item once (to count its logistics events) and
/// keeps 32 bytes per 2,048 items; [`DatasetPlan::write`] then generates
/// and writes the files.
pub struct DatasetPlan {
    pub(crate) options: GenerateOptions,
    pub(crate) journeys: Journeys,
    pub(crate) runs: Runs,
    pub(crate) index: RowIndex,
    pub(crate) files: Vec<FilePlan>,
    pub(crate) parties: Parties,
}

impl std::fmt::Debug for DatasetPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatasetPlan")
            .field("options", &self.options)
            .field("lots", &self.lots())
            .field("rows", &Kind::ALL.map(|k| self.rows(k)))
            .field("files", &self.files.len())
            .finish_non_exhaustive()
    }
}

impl DatasetPlan {
    /// Validates `options` and plans the dataset (in parallel on the current rayon pool).
    pub fn try_new(options: &GenerateOptions) -> Result<Self, DatasetError> {
        options.validate()?;
        let journeys = Journeys::new(options.seed, options.batch_date_days);
        let runs = Runs::new(options.seed, options.items);
        let index = RowIndex::build(&journeys, runs);
        let files = plan_files(&index, options.files_per_kind, options.rows_per_group);
        tracing::debug!(items = options.items, lots = runs.lots(), "planned dataset");
        Ok(DatasetPlan {
            options: options.clone(),
            journeys,
            runs,
            index,
            files,
            parties: Parties::new(),
        })
    }

    /// The options.
    pub fn options(&self) -> &GenerateOptions {
        &self.options
    }

    /// Number of lots.
    pub fn lots(&self) -> u64 {
        self.runs.lots()
    }

    /// Number of records of `kind`.
    pub fn rows(&self, kind: Kind) -> u64 {
        self.index.total(kind)
    }

    /// Number of records of every kind.
    pub fn total_rows(&self) -> u64 {
        Kind::ALL.iter().map(|&k| self.rows(k)).sum()
    }

    /// The files to write: kind, path relative to the output directory, rows.
    pub fn files(&self) -> impl Iterator<Item = (Kind, &str, u64)> {
        self.files
            .iter()
            .map(|f| (f.kind, f.path.as_str(), f.num_rows()))
    }

    /// The Arrow schema of the files of `kind`: exactly [`Kind::arrow_schema`].
    pub(crate) fn file_schema(&self, kind: Kind) -> SchemaRef {
        kind.arrow_schema()
    }

    pub(crate) fn rate_ppb(&self) -> u64 {
        self.options.rate_ppb()
    }

    pub(crate) fn batch_day(&self) -> i32 {
        self.options.batch_date_days
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_validated() {
        let ok = GenerateOptions::new(10, "x");
        assert!(ok.validate().is_ok());
        assert!(matches!(
            GenerateOptions::new(0, "x").validate(),
            Err(DatasetError::NoItems)
        ));
        for rate in [-0.1, 1.01, f64::NAN] {
            assert!(matches!(
                ok.clone().with_bad_rate(rate).validate(),
                Err(DatasetError::BadRate { .. })
            ));
        }
        assert!(ok.clone().with_bad_rate(1.0).validate().is_ok());
        assert!(matches!(
            ok.clone().with_rows_per_group(0).validate(),
            Err(DatasetError::ZeroRowsPerGroup)
        ));
        assert!(matches!(
            ok.clone().with_files_per_kind(0).validate(),
            Err(DatasetError::BadFilesPerKind { .. })
        ));
        assert!(matches!(
            ok.clone().with_batch_date_days(10).validate(),
            Err(DatasetError::DateTooEarly { .. })
        ));
        assert!(matches!(
            GenerateOptions::new(MAX_ITEMS + 1, "x").validate(),
            Err(DatasetError::TooManyItems { .. })
        ));
    }
}
