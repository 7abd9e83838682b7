//! The description of a written dataset (`dataset.json`): the arguments, the
//! generator version, and the records and bad rows of every kind and file.

use serde::{Deserialize, Serialize};

use crate::plan::GenerateOptions;

/// The arguments a dataset was generated with (everything but the output directory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arguments {
    /// Number of items.
    pub items: u64,
    /// Seed.
    pub seed: u64,
    /// Bad-row rate.
    pub bad_rate: f64,
    /// Rows per row group.
    pub rows_per_group: u64,
    /// Files per kind.
    pub files_per_kind: u32,
    /// Batch date, `YYYY-MM-DD`.
    pub date: String,
}

impl From<&GenerateOptions> for Arguments {
    fn from(o: &GenerateOptions) -> Self {
        Arguments {
            items: o.items,
            seed: o.seed,
            bad_rate: o.bad_rate,
            rows_per_group: o.rows_per_group,
            files_per_kind: o.files_per_kind,
            date: o.batch_date(),
        }
    }
}

/// One written Parquet file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSummary {
    /// Path relative to the dataset directory.
    pub file: String,
    /// Rows.
    pub rows: u64,
    /// Rows with an injected defect.
    pub bad_rows: u64,
    /// Row groups.
    pub row_groups: u64,
    /// Size in bytes.
    pub bytes: u64,
}

/// The files of one record kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindSummary {
    /// The kind's name.
    pub kind: String,
    /// Rows in all its files.
    pub rows: u64,
    /// Bad rows in all its files.
    pub bad_rows: u64,
    /// Bytes of all its files.
    pub bytes: u64,
    /// Its files, in order.
    pub files: Vec<FileSummary>,
}

/// What was written: the content of `dataset.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetSummary {
    /// `proofmark-datasets <version>`.
    pub generator: String,
    /// The proofmark specification version the records follow.
    pub spec_version: u32,
    /// The arguments.
    pub arguments: Arguments,
    /// Items (traceability codes).
    pub items: u64,
    /// Production lots.
    pub lots: u64,
    /// Records of every kind.
    pub rows: u64,
    /// Records with an injected defect (lines of the ground truth).
    pub bad_rows: u64,
    /// Bytes of all record files.
    pub bytes: u64,
    /// Per kind, in `Kind::ALL` order.
    pub kinds: Vec<KindSummary>,
    /// The ground truth of injected defects, relative to the dataset directory.
    pub truth: String,
    /// The scratch-off PINs, relative to the dataset directory.
    pub secrets: String,
    /// The names of the organisations (`org_id,name`), relative to the
    /// dataset directory; `None` in a dataset made before the generator
    /// wrote them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orgs: Option<String>,
}

impl DatasetSummary {
    /// The summary of kind `name`, if present.
    pub fn kind(&self, name: &str) -> Option<&KindSummary> {
        self.kinds.iter().find(|k| k.kind == name)
    }
}
