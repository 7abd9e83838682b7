//! From a verification verdict to what the page shows: the verified badge
//! (chain, transaction and block, or the ledger's log entry and checkpoint
//! size) or the red warning.
//!
//! The page never shows a badge of its own making: [`ReportCheck`] is the
//! verification handed to the router, normally a [`Trust`], which runs
//! [`verify_report`].

use serde_json::Value;

use crate::report::CodeReport;
use crate::verify::{ReportVerdict, Trust, verify_report};

/// The outcome of verifying a report, as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Every record is proved and every batch is anchored on a trusted chain.
    Verified {
        /// The trusted anchors, one or more per batch.
        anchors: Vec<AnchorBadge>,
    },
    /// Something did not verify.
    Failed {
        /// Why, in the verifier's words (English, technical).
        reasons: Vec<String>,
    },
}

impl Verification {
    /// Whether the report verified.
    pub fn is_verified(&self) -> bool {
        matches!(self, Verification::Verified { .. })
    }
}

/// One trusted anchor of one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorBadge {
    /// The chain's name (the receipt's name under `anchors/`).
    pub chain: String,
    /// The batch anchored.
    pub batch_id: String,
    /// The batch's business date.
    pub batch_date: String,
    /// Where on the chain.
    pub location: AnchorLocation,
}

/// Where a batch's anchor is on its chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnchorLocation {
    /// The embedded batch log: the entry's index and the checkpoint's size.
    Ledger {
        /// The log entry's index.
        log_index: u64,
        /// The size of the signed checkpoint that includes it.
        log_size: u64,
    },
    /// A blockchain: the transaction and its block.
    Chain {
        /// The transaction hash, as the receipt gives it.
        tx: String,
        /// The block number.
        block: u64,
    },
}

/// The verification the page runs on every report it shows.
pub trait ReportCheck: Send + Sync {
    /// Verifies `report`.
    fn check(&self, report: &CodeReport) -> Verification;
}

impl ReportCheck for Trust {
    fn check(&self, report: &CodeReport) -> Verification {
        let verdict = verify_report(report, self);
        verification_from_verdict(report, &verdict)
    }
}

/// Turns a verdict into what the page shows. A report is shown as verified
/// only if the verdict says so *and* every batch has an anchor that was
/// checked against a trusted source (a self-consistent report is not enough
/// for a consumer, whatever [`Trust::require_anchor`] says).
pub fn verification_from_verdict(report: &CodeReport, verdict: &ReportVerdict) -> Verification {
    if !verdict.verified {
        let mut reasons = verdict.reasons.clone();
        if reasons.is_empty() {
            reasons.push("the report did not verify".to_owned());
        }
        return Verification::Failed { reasons };
    }
    let mut anchors = Vec::new();
    for (batch_id, info) in &report.batches {
        let Some(batch_verdict) = verdict.batches.get(batch_id) else {
            return Verification::Failed {
                reasons: vec![format!("batch {batch_id} was not verified")],
            };
        };
        let before = anchors.len();
        for (chain, anchor) in &batch_verdict.anchors {
            if !anchor.trusted {
                continue;
            }
            let Some(receipt) = info.anchors.get(chain) else {
                continue;
            };
            if let Some(location) = anchor_location(&anchor.receipt_type, receipt) {
                anchors.push(AnchorBadge {
                    chain: chain.clone(),
                    batch_id: batch_id.clone(),
                    batch_date: info.batch_date.clone(),
                    location,
                });
            }
        }
        if anchors.len() == before {
            return Verification::Failed {
                reasons: vec![format!(
                    "batch {batch_id} has no anchor checked against a trusted source"
                )],
            };
        }
    }
    if anchors.is_empty() {
        return Verification::Failed {
            reasons: vec!["the report has no batch".to_owned()],
        };
    }
    Verification::Verified { anchors }
}

/// Reads where the anchor is from a receipt the verifier trusted.
fn anchor_location(receipt_type: &str, receipt: &Value) -> Option<AnchorLocation> {
    let u64_field = |names: &[&str]| names.iter().find_map(|n| receipt.get(*n)?.as_u64());
    if receipt_type == "ledger" {
        return Some(AnchorLocation::Ledger {
            log_index: u64_field(&["log_index"])?,
            log_size: u64_field(&["log_size"])?,
        });
    }
    let tx = ["tx_hash", "transaction_hash", "tx"]
        .iter()
        .find_map(|n| receipt.get(*n)?.as_str())?;
    Some(AnchorLocation::Chain {
        tx: tx.to_owned(),
        block: u64_field(&["block_number", "block"])?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn anchor_locations_from_receipts() {
        assert_eq!(
            anchor_location("ledger", &json!({"log_index": 3, "log_size": 9})),
            Some(AnchorLocation::Ledger {
                log_index: 3,
                log_size: 9
            })
        );
        assert_eq!(
            anchor_location("chain", &json!({"tx_hash": "0xab", "block_number": 12})),
            Some(AnchorLocation::Chain {
                tx: "0xab".into(),
                block: 12
            })
        );
        assert_eq!(anchor_location("chain", &json!({"tx_hash": "0xab"})), None);
        assert_eq!(anchor_location("ledger", &json!({"log_index": 3})), None);
    }
}
