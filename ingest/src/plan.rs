//! The plan (`batches/<id>/plan.json`, SPEC.md 8.1): the frozen inputs of a batch, its
//! types, loading and checks. Making one is [`crate::planner`]'s job ([`make_plan`]).

use std::ops::Range;

use proofmark_merkle::SuiteId;
use proofmark_schemas::Kind;
use serde::{Deserialize, Serialize};

use crate::dates::parse_date;
use crate::error::IngestError;
use crate::store::Store;

pub use crate::planner::{PlanDifferences, make_plan, plan_differences};

/// The `format` of a plan file.
pub const PLAN_FORMAT: &str = "proofmark-plan";

/// How the build reads the inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputMode {
    /// Inputs are copied under `batches/<id>/inputs/` (the default): the batch is self-contained.
    #[default]
    Copy,
    /// Inputs are read in place and checked by digest.
    Reference,
}

impl InputMode {
    /// The name in plans (`copy` or `reference`).
    pub const fn name(self) -> &'static str {
        match self {
            InputMode::Copy => "copy",
            InputMode::Reference => "reference",
        }
    }
}

/// What a plan is made for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanOptions {
    /// The batch id (1 to 128 bytes of `[0-9A-Za-z._-]`, not starting with `.`).
    pub batch_id: String,
    /// The batch date, `YYYY-MM-DD`: validation's time rules refer to it.
    pub batch_date: String,
    /// The hash suite of the batch.
    pub suite: SuiteId,
    /// Whether inputs are copied into the batch or referenced in place.
    pub input_mode: InputMode,
}

/// The frozen inputs of a batch (`plan.json`, SPEC.md 8.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Always [`PLAN_FORMAT`].
    pub format: String,
    /// The spec version ([`proofmark_schemas::SPEC_VERSION`]).
    pub spec_version: u32,
    /// The batch id.
    pub batch_id: String,
    /// The batch date, `YYYY-MM-DD`.
    pub batch_date: String,
    /// The hash suite.
    pub suite: SuiteId,
    /// Copy or reference.
    pub input_mode: InputMode,
    /// When the plan was made (RFC 3339 UTC; informational).
    pub created_at: String,
    /// The version of the tool that made it.
    pub tool_version: String,
    /// The input files, by kind then source URL.
    pub files: Vec<PlanFile>,
    /// The segments (one per row group), by file then row group.
    pub segments: Vec<PlanSegment>,
    /// Sum of `rows` over files.
    pub total_rows: u64,
}

/// One input file of a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanFile {
    /// Its position in [`Plan::files`].
    pub index: u32,
    /// The URL it was found at.
    pub source: String,
    /// Where the build reads it: a path relative to the batch store in copy mode
    /// (`batches/<id>/inputs/<kind>/<name>`), else the source URL.
    pub path: String,
    /// Its record kind.
    #[serde(with = "kind_name")]
    pub kind: Kind,
    /// Size in bytes.
    pub size: u64,
    /// `blake3:` + hex of the whole file.
    pub digest: String,
    /// `blake3:` + hex of the file's footer ([`crate::footer::Footer::digest`]), checked
    /// by every process that reads the file for the plan (plans of earlier versions lack it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer_digest: Option<String>,
    /// Number of rows.
    pub rows: u64,
    /// Its row groups, in file order.
    pub row_groups: Vec<PlanRowGroup>,
    /// 0-based rows whose `record_id` an earlier row of the file already used, ascending.
    pub duplicate_rows: Vec<u64>,
}

/// One row group of an input file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRowGroup {
    /// Number of rows.
    pub rows: u64,
    /// Start of its column chunks' byte range.
    pub offset: u64,
    /// Length of that range.
    pub length: u64,
    /// `blake3:` + hex of those bytes.
    pub digest: String,
}

impl PlanRowGroup {
    /// The byte range in the file.
    pub fn range(&self) -> Range<u64> {
        self.offset..self.offset.saturating_add(self.length)
    }
}

/// One segment: a row group of an input file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSegment {
    /// Its number.
    pub segment: u32,
    /// The file's index.
    pub file: u32,
    /// The row group in the file.
    pub row_group: u32,
    /// The 0-based row of the file where the row group starts.
    pub first_row: u64,
    /// Number of rows.
    pub rows: u64,
}

/// Progress of [`make_plan`], for progress bars.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlanProgress {
    /// An input file was found.
    FileFound {
        /// Its URL.
        url: String,
        /// Its size.
        size: u64,
    },
    /// All inputs are resolved; digesting starts.
    Resolved {
        /// Number of files.
        files: usize,
        /// Their total size (the bytes that will be digested).
        total_bytes: u64,
    },
    /// More bytes of a file were digested (and copied, in copy mode).
    Digested {
        /// The file's URL.
        url: String,
        /// Bytes in this step (not cumulative).
        bytes: u64,
    },
    /// A file is fully planned.
    FileDone {
        /// Its URL.
        url: String,
        /// Its rows.
        rows: u64,
    },
    /// The batch was planned before: the request is checked against the frozen plan, which
    /// is returned unchanged if it matches.
    Frozen,
    /// Before a new plan: the temporary files that killed writers left in the batch's
    /// folder of a local store were removed ([`crate::Store::remove_abandoned_writes`]);
    /// sent only when there were some.
    Cleaned(crate::store::Removed),
    /// A new plan took an input file that holds no rows: legal (an empty delivery), but
    /// worth telling, since a file that should have held records may have been cut short
    /// at its source.
    NoRows {
        /// The file's URL.
        url: String,
    },
    /// A frozen plan's copy of an input under `batches/<id>/inputs/` was gone or of
    /// another size, and was copied again from its source (checked against the plan's
    /// digest as it was copied).
    CopyRestored {
        /// The source's URL.
        source: String,
        /// The copy's URL in the batch store.
        copy: String,
    },
}

mod kind_name {
    use proofmark_schemas::Kind;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(kind: &Kind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(kind.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// The folder of a batch in the store: `batches/<id>`.
pub fn batch_prefix(batch_id: &str) -> String {
    format!("batches/{batch_id}")
}

/// The path of a batch's plan: `batches/<id>/plan.json`.
pub fn plan_path(batch_id: &str) -> String {
    format!("batches/{batch_id}/plan.json")
}

/// Checks the batch id rule: 1 to 128 bytes of `[0-9A-Za-z._-]`, not starting with `.`.
pub fn validate_batch_id(id: &str) -> Result<(), IngestError> {
    let fail = |reason| {
        Err(IngestError::InvalidBatchId {
            id: id.to_owned(),
            reason,
        })
    };
    if id.is_empty() {
        return fail("empty");
    }
    if id.len() > 128 {
        return fail("longer than 128 bytes");
    }
    if id.starts_with('.') {
        return fail("starts with '.'");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return fail("only 0-9 A-Z a-z . _ - are allowed");
    }
    // `batches/HEAD.json` is the store's head pointer (SPEC 8.6).
    if id == "HEAD.json" {
        return fail("HEAD.json is the name of the store's head pointer");
    }
    Ok(())
}

impl Plan {
    /// The batch date in days since 1970-01-01 (0 if the date is invalid; plans are checked
    /// when made and loaded, see [`Plan::try_batch_date_days`]).
    pub fn batch_date_days(&self) -> i32 {
        parse_date(&self.batch_date).unwrap_or(0)
    }

    /// The batch date in days since 1970-01-01, or an error for a malformed date.
    pub fn try_batch_date_days(&self) -> Result<i32, IngestError> {
        parse_date(&self.batch_date).ok_or_else(|| IngestError::InvalidBatchDate {
            date: self.batch_date.clone(),
        })
    }

    /// Segment `n`, if the plan has it.
    pub fn segment(&self, n: u32) -> Option<&PlanSegment> {
        self.segments.get(n as usize)
    }

    /// File `index`, if the plan has it.
    pub fn file(&self, index: u32) -> Option<&PlanFile> {
        self.files.get(index as usize)
    }

    /// The plan as written to `plan.json` (pretty JSON with a final newline).
    pub fn to_json(&self) -> Result<Vec<u8>, IngestError> {
        let mut out =
            serde_json::to_vec_pretty(self).map_err(|source| IngestError::SerialisePlan {
                batch_id: self.batch_id.clone(),
                source,
            })?;
        out.push(b'\n');
        Ok(out)
    }

    /// Checks the invariants a builder relies on: format, version, numbering, counts.
    pub fn check(&self, url: &str) -> Result<(), IngestError> {
        let bad = |reason: String| {
            Err(IngestError::InconsistentPlan {
                url: url.to_owned(),
                reason,
            })
        };
        if self.format != PLAN_FORMAT {
            return bad(format!(
                "format is {:?}, expected {PLAN_FORMAT:?}",
                self.format
            ));
        }
        if self.spec_version != proofmark_schemas::SPEC_VERSION {
            return bad(format!(
                "spec version {} is not supported",
                self.spec_version
            ));
        }
        validate_batch_id(&self.batch_id)?;
        self.try_batch_date_days()?;
        let mut n = 0usize;
        let mut total = 0u64;
        for (i, f) in self.files.iter().enumerate() {
            if f.index as usize != i {
                return bad(format!("file {i} has index {}", f.index));
            }
            let rg_rows: u64 = f.row_groups.iter().map(|r| r.rows).sum();
            if rg_rows != f.rows {
                return bad(format!(
                    "file {i}: row groups hold {rg_rows} rows, the file says {}",
                    f.rows
                ));
            }
            let mut first_row = 0u64;
            for (g, rg) in f.row_groups.iter().enumerate() {
                let want = PlanSegment {
                    segment: n as u32,
                    file: i as u32,
                    row_group: g as u32,
                    first_row,
                    rows: rg.rows,
                };
                if self.segments.get(n) != Some(&want) {
                    return bad(format!("segment {n} should be {want:?}"));
                }
                n += 1;
                first_row += rg.rows;
            }
            total += f.rows;
        }
        if n != self.segments.len() {
            return bad(format!(
                "{} segments listed, the files have {n} row groups",
                self.segments.len()
            ));
        }
        if total != self.total_rows {
            return bad(format!(
                "total_rows is {}, the files hold {total}",
                self.total_rows
            ));
        }
        Ok(())
    }
}

/// Loads the plan of batch `batch_id` from `store`, or `None` when the batch has none.
pub async fn load_plan(store: &Store, batch_id: &str) -> Result<Option<Plan>, IngestError> {
    validate_batch_id(batch_id)?;
    let path = plan_path(batch_id);
    let Some(bytes) = store.get(&path).await? else {
        return Ok(None);
    };
    let url = store.object_url(&path);
    let plan: Plan = serde_json::from_slice(&bytes).map_err(|source| IngestError::BadPlan {
        url: url.clone(),
        source,
    })?;
    plan.check(&url)?;
    if plan.batch_id != batch_id {
        return Err(IngestError::InconsistentPlan {
            url,
            reason: format!("it is the plan of batch {:?}", plan.batch_id),
        });
    }
    Ok(Some(plan))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_ids() {
        assert!(validate_batch_id("nightly-2026-11-25").is_ok());
        assert!(validate_batch_id("a").is_ok());
        assert!(validate_batch_id(&"a".repeat(128)).is_ok());
        assert!(validate_batch_id(&"a".repeat(129)).is_err());
        assert!(validate_batch_id("").is_err());
        assert!(validate_batch_id(".hidden").is_err());
        assert!(validate_batch_id("a/b").is_err());
        assert!(validate_batch_id("HEAD.json").is_err());
        assert!(validate_batch_id("HEAD.json.1").is_ok());
        assert!(validate_batch_id("a b").is_err());
    }

    #[test]
    fn input_mode_names() {
        assert_eq!(
            serde_json::to_string(&InputMode::Copy).ok().as_deref(),
            Some("\"copy\"")
        );
        assert_eq!(
            serde_json::from_str::<InputMode>("\"reference\"").ok(),
            Some(InputMode::Reference)
        );
    }
}
