//! `manifest.json` (SPEC 8.6), the commit of a batch, and the store's head
//! pointer `batches/HEAD.json`, which names the latest committed batch so that
//! the next commit can link to it as its `previous`.

use std::time::{SystemTime, UNIX_EPOCH};

use proofmark_merkle::SuiteId;
use serde::{Deserialize, Serialize};

use crate::error::AnchorError;

/// The `format` field of a manifest.
pub const MANIFEST_FORMAT: &str = "proofmark-manifest";

/// The `format` field of the head pointer.
pub const HEAD_FORMAT: &str = "proofmark-head";

/// One input file's accounting in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// The URL the file was found at.
    pub source: String,
    /// Where the build read it (store path in copy mode, else the source URL).
    pub path: String,
    /// The record kind.
    pub kind: String,
    /// `blake3:` digest of the file.
    pub digest: String,
    /// Rows read.
    pub rows_read: u64,
    /// Rows accepted (hashed).
    pub rows_accepted: u64,
    /// Rows rejected.
    pub rows_rejected: u64,
}

/// One segment in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSegment {
    /// The segment number.
    pub segment: u32,
    /// Leaves of the segment.
    pub leaf_count: u64,
    /// Global index of its first leaf.
    pub first_leaf: u64,
    /// Hex of the segment root, `None` without leaves.
    pub root: Option<String>,
    /// `blake3:` digest of the segment's `.json`.
    pub summary_digest: String,
}

/// A link to a committed batch: the manifest's `previous` and the head pointer's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchLink {
    /// The batch.
    pub batch_id: String,
    /// Hex of its root.
    pub root: String,
    /// `blake3:` digest of its `manifest.json`.
    pub manifest_digest: String,
}

/// `batches/HEAD.json`: the latest committed batch of the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadPointer {
    /// Always [`HEAD_FORMAT`].
    pub format: String,
    /// The batch the pointer names.
    #[serde(flatten)]
    pub batch: BatchLink,
    /// When the pointer was moved (informational).
    pub updated_at: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`].
    pub format: String,
    /// Spec version (1).
    pub spec_version: u32,
    /// Canonical record encoding version (1).
    pub encoding_version: u32,
    /// The batch.
    pub batch_id: String,
    /// `YYYY-MM-DD`.
    pub batch_date: String,
    /// The hash suite.
    pub suite: SuiteId,
    /// `blake3:` digest of `plan.json`.
    pub plan_digest: String,
    /// Per input file accounting, in plan order.
    pub files: Vec<ManifestFile>,
    /// Every segment, in plan order (empty ones too).
    pub segments: Vec<ManifestSegment>,
    /// Total rows read.
    pub rows_read: u64,
    /// Total rows accepted.
    pub rows_accepted: u64,
    /// Total rows rejected.
    pub rows_rejected: u64,
    /// Leaves in the batch (`rows_accepted`).
    pub leaf_count: u64,
    /// Hex of the batch root.
    pub root: String,
    /// `blake3:` digest of `index/entries.bin`.
    pub index_digest: String,
    /// `blake3:` digest of `rejects.parquet`.
    pub rejects_digest: String,
    /// The store's latest committed batch before this one, `None` for the first.
    pub previous: Option<BatchLink>,
    /// The proofmark version that committed it.
    pub tool_version: String,
    /// RFC 3339 UTC time of the commit (informational).
    pub committed_at: String,
}

impl Manifest {
    /// Parses a manifest.
    ///
    /// # Errors
    ///
    /// [`AnchorError::Json`] naming `path`, or [`AnchorError::Malformed`] for a wrong `format`,
    /// `spec_version` or `encoding_version`.
    pub fn from_slice(path: &str, bytes: &[u8]) -> Result<Self, AnchorError> {
        let m: Manifest = serde_json::from_slice(bytes).map_err(|source| AnchorError::Json {
            path: path.to_owned(),
            source,
        })?;
        if m.format != MANIFEST_FORMAT {
            return Err(AnchorError::malformed(
                path,
                format!("format {:?} is not {MANIFEST_FORMAT:?}", m.format),
            ));
        }
        if m.spec_version != proofmark_schemas::SPEC_VERSION
            || m.encoding_version != u32::from(proofmark_schemas::ENCODING_VERSION)
        {
            return Err(AnchorError::malformed(
                path,
                format!(
                    "spec version {} and encoding version {} are not supported",
                    m.spec_version, m.encoding_version
                ),
            ));
        }
        Ok(m)
    }

    /// The bytes written to the store (pretty JSON and a final newline).
    ///
    /// # Errors
    ///
    /// [`AnchorError::Json`] (not expected for this type).
    pub fn to_bytes(&self) -> Result<Vec<u8>, AnchorError> {
        let mut v = serde_json::to_vec_pretty(self).map_err(|source| AnchorError::Json {
            path: "manifest.json".into(),
            source,
        })?;
        v.push(b'\n');
        Ok(v)
    }

    /// The batch root, decoded.
    ///
    /// # Errors
    ///
    /// [`AnchorError::Malformed`] if `root` is not 64 hex digits.
    pub fn root_hash(&self) -> Result<proofmark_merkle::Hash, AnchorError> {
        crate::segment_files::parse_hash("manifest.json", &self.root)
    }

    /// The segments that have leaves, in plan order: the leaves of the batch tree.
    pub fn non_empty_segments(&self) -> impl Iterator<Item = &ManifestSegment> + '_ {
        self.segments.iter().filter(|s| s.leaf_count > 0)
    }
}

/// `t` as RFC 3339 UTC with whole seconds (`2026-11-25T07:39:30Z`).
pub fn rfc3339_utc(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The UTC calendar date of `t` as `YYYY-MM-DD`.
pub fn date_utc(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_591_570); // 2026-11-25T07:26:10Z
        assert_eq!(rfc3339_utc(t), "2026-11-25T07:26:10Z");
        assert_eq!(date_utc(t), "2026-11-25");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(date_utc(leap), "2000-02-29");
    }

    #[test]
    fn manifest_round_trips() {
        let m = Manifest {
            format: MANIFEST_FORMAT.into(),
            spec_version: 1,
            encoding_version: 1,
            batch_id: "b".into(),
            batch_date: "2026-11-25".into(),
            suite: SuiteId::Sha256Rfc6962,
            plan_digest: "blake3:00".into(),
            files: vec![],
            segments: vec![ManifestSegment {
                segment: 0,
                leaf_count: 0,
                first_leaf: 0,
                root: None,
                summary_digest: "blake3:11".into(),
            }],
            rows_read: 0,
            rows_accepted: 0,
            rows_rejected: 0,
            leaf_count: 0,
            root: "aa".repeat(32),
            index_digest: String::new(),
            rejects_digest: String::new(),
            previous: Some(BatchLink {
                batch_id: "a".into(),
                root: "bb".repeat(32),
                manifest_digest: "blake3:22".into(),
            }),
            tool_version: "0.1.0".into(),
            committed_at: "2026-11-25T07:26:10Z".into(),
        };
        let bytes = m.to_bytes().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains("\"suite\": \"sha256-rfc6962\""));
        assert!(text.contains("\"root\": null"));
        assert_eq!(Manifest::from_slice("m", &bytes).unwrap(), m);
        assert_eq!(m.root_hash().unwrap(), [0xaa; 32]);
        // Versions this reader does not know are refused, naming the file.
        for (spec, encoding) in [(2, 1), (1, 2)] {
            let other = Manifest {
                spec_version: spec,
                encoding_version: encoding,
                ..m.clone()
            };
            let err = Manifest::from_slice("b/manifest.json", &other.to_bytes().unwrap())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("b/manifest.json") && err.contains("not supported"),
                "{err}"
            );
        }
        let head = HeadPointer {
            format: HEAD_FORMAT.into(),
            batch: m.previous.clone().unwrap(),
            updated_at: "x".into(),
        };
        let json = serde_json::to_value(&head).unwrap();
        assert_eq!(json["batch_id"], "a");
    }
}
