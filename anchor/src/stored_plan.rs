//! The fields of `plan.json` (SPEC 8.1) that commit and proofs need, read
//! straight from the stored JSON: the plan is a published format, and reading
//! it here keeps commit and proofs independent of how ingest represents it in
//! memory. Unknown fields are ignored.

use bytes::Bytes;
use proofmark_ingest::Store;
use proofmark_merkle::SuiteId;
use serde::Deserialize;

use crate::error::AnchorError;
use crate::layout;
use crate::segment_files::digest;

/// A plan as stored, with its bytes' digest.
#[derive(Debug, Clone, Deserialize)]
pub struct StoredPlan {
    /// `"proofmark-plan"`.
    pub format: String,
    /// The spec version (1).
    pub spec_version: u32,
    /// The batch.
    pub batch_id: String,
    /// `YYYY-MM-DD`.
    pub batch_date: String,
    /// The hash suite.
    pub suite: SuiteId,
    /// The input files, in plan order.
    pub files: Vec<StoredPlanFile>,
    /// The segments, in plan order.
    pub segments: Vec<StoredPlanSegment>,
    /// Sum of the files' rows.
    pub total_rows: u64,
    /// `blake3:` digest of `plan.json`'s bytes (not a field of the file).
    #[serde(skip)]
    pub digest: String,
}

/// One input file of the plan.
#[derive(Debug, Clone, Deserialize)]
pub struct StoredPlanFile {
    /// The URL it was found at.
    pub source: String,
    /// Where the build reads it.
    pub path: String,
    /// The record kind.
    pub kind: String,
    /// `blake3:` digest of the file.
    pub digest: String,
    /// Rows in the file.
    pub rows: u64,
    /// Its row groups.
    pub row_groups: Vec<StoredPlanRowGroup>,
}

/// One row group of an input file.
#[derive(Debug, Clone, Deserialize)]
pub struct StoredPlanRowGroup {
    /// Rows in the row group.
    pub rows: u64,
    /// `blake3:` digest of its column chunks' bytes.
    pub digest: String,
}

/// One segment of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct StoredPlanSegment {
    /// The segment number.
    pub segment: u32,
    /// The file index.
    pub file: u32,
    /// The row group.
    pub row_group: u32,
    /// 0-based row of the file where the row group starts.
    pub first_row: u64,
    /// Rows in the row group.
    pub rows: u64,
}

impl StoredPlan {
    /// Parses `plan.json`'s bytes and checks that segments and files refer to each other.
    ///
    /// # Errors
    ///
    /// [`AnchorError::Json`] or [`AnchorError::Malformed`] naming `path`.
    pub fn from_slice(path: &str, bytes: &[u8]) -> Result<Self, AnchorError> {
        let mut plan: StoredPlan =
            serde_json::from_slice(bytes).map_err(|source| AnchorError::Json {
                path: path.to_owned(),
                source,
            })?;
        plan.digest = digest(bytes);
        if plan.format != proofmark_ingest::plan::PLAN_FORMAT {
            return Err(AnchorError::malformed(
                path,
                format!(
                    "format {:?} is not {:?}",
                    plan.format,
                    proofmark_ingest::plan::PLAN_FORMAT
                ),
            ));
        }
        if plan.spec_version != proofmark_schemas::SPEC_VERSION {
            return Err(AnchorError::malformed(
                path,
                format!("spec version {} is not supported", plan.spec_version),
            ));
        }
        for (i, s) in plan.segments.iter().enumerate() {
            let ok = s.segment as usize == i
                && plan
                    .files
                    .get(s.file as usize)
                    .and_then(|f| f.row_groups.get(s.row_group as usize))
                    .is_some_and(|rg| rg.rows == s.rows);
            if !ok {
                return Err(AnchorError::malformed(
                    path,
                    format!("segment entry {i} does not match the files"),
                ));
            }
        }
        Ok(plan)
    }

    /// Reads the plan of `batch_id` from the store.
    ///
    /// # Errors
    ///
    /// [`AnchorError::NoPlan`] if there is none, store and parse errors.
    pub async fn load(store: &Store, batch_id: &str) -> Result<Self, AnchorError> {
        let path = layout::plan_path(batch_id);
        let bytes = get_object(store, &path)
            .await?
            .ok_or_else(|| AnchorError::NoPlan {
                batch_id: batch_id.to_owned(),
            })?;
        Self::from_slice(&path, &bytes)
    }

    /// The row group digest the plan records for `segment`.
    pub fn input_digest(&self, segment: &StoredPlanSegment) -> &str {
        &self.files[segment.file as usize].row_groups[segment.row_group as usize].digest
    }
}

/// The object at `path`, `None` if it does not exist.
///
/// # Errors
///
/// [`AnchorError::Store`] naming `path`.
pub async fn get_object(store: &Store, path: &str) -> Result<Option<Bytes>, AnchorError> {
    store
        .get(path)
        .await
        .map_err(|e| AnchorError::store(path, e))
}

/// The object at `path`; a missing object is [`AnchorError::Malformed`] ("missing").
///
/// # Errors
///
/// As described, and [`AnchorError::Store`].
pub async fn get_required(store: &Store, path: &str) -> Result<Bytes, AnchorError> {
    get_object(store, path)
        .await?
        .ok_or_else(|| AnchorError::malformed(path, "missing"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn plan_json(format: &str, spec_version: u32) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "format": format,
            "spec_version": spec_version,
            "batch_id": "b",
            "batch_date": "2026-11-25",
            "suite": "blake3",
            "input_mode": "copy",
            "files": [{
                "index": 0, "source": "file:///in/a.parquet", "path": "batches/b/inputs/logistics/a.parquet",
                "kind": "logistics", "size": 10, "digest": "blake3:00", "rows": 3,
                "row_groups": [{"rows": 3, "offset": 4, "length": 2, "digest": "blake3:11"}],
                "duplicate_rows": []
            }],
            "segments": [{"segment": 0, "file": 0, "row_group": 0, "first_row": 0, "rows": 3}],
            "total_rows": 3
        }))
        .unwrap()
    }

    #[test]
    fn plans_of_another_format_or_version_are_refused() {
        let plan = StoredPlan::from_slice("p", &plan_json("proofmark-plan", 1)).unwrap();
        assert_eq!((plan.files.len(), plan.segments.len()), (1, 1));
        for (format, version, want) in [
            ("proofmark-manifest", 1, "format"),
            ("proofmark-plan", 2, "spec version 2"),
        ] {
            let err = StoredPlan::from_slice("batches/b/plan.json", &plan_json(format, version))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("batches/b/plan.json") && err.contains(want),
                "{err}"
            );
        }
    }
}
