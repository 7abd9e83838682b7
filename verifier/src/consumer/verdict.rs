//! From a verification verdict to what the page shows: the verified badge
//! (chain, transaction and block, or the ledger's log entry and checkpoint
//! size), the amber "cannot confirm right now", or the red warning.
//!
//! Red ([`Verification::Failed`]) means something was checked and found
//! wrong. Amber ([`Verification::Unconfirmed`]) means nothing was
//! contradicted, but some batch's anchor could not be checked against a
//! trusted source: the service has no ledger key at all (or no chain reader at
//! all), or the chain could not be read. A service started without any ledger
//! key shows every genuine product this way, never as a fake. A service that
//! has keys (or readers), but none for a receipt's log (or chain), distrusts
//! that receipt: red.
//!
//! The page never shows a badge of its own making: [`ReportCheck`] is the
//! verification handed to the router, normally a [`Trust`], which runs
//! [`verify_report`].
//!
//! An amber or red verdict says what was found in a buyer's words
//! ([`Finding`]: a record that does not check, a seal the service cannot
//! check now, ...); the verifier's own reasons, which name checks and tell
//! the operator what to configure, go to the log, not to the page.

use serde_json::Value;

use crate::report::CodeReport;
use crate::verify::{CheckKind, CheckStatus, ReportVerdict, Trust, verify_report};

/// The outcome of verifying a report, as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Every record is proved and every batch is anchored on a trusted chain.
    Verified {
        /// The trusted anchors, one or more per batch.
        anchors: Vec<AnchorBadge>,
    },
    /// The records and batches are consistent, and no check failed, but some
    /// batch has no anchor that could be checked against a trusted source
    /// (no key for its log, no reader for its chain, or the chain could not
    /// be read). Not a sign of a fake; not a verification either.
    Unconfirmed {
        /// Why, in the verifier's words (English, technical: for the log).
        reasons: Vec<String>,
        /// What the page says of it.
        findings: Vec<Finding>,
    },
    /// Something was checked and did not verify.
    Failed {
        /// Why, in the verifier's words (English, technical: for the log).
        reasons: Vec<String>,
        /// What the page says of it.
        findings: Vec<Finding>,
    },
}

/// What an amber or red verdict found, as the page tells a buyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Finding {
    /// A record, or the way the report gives the records, does not check.
    Records,
    /// A batch the records are in does not check (its fields, or it is
    /// missing).
    Batch,
    /// A batch's seal (its signed log entry or blockchain transaction) holds
    /// something else, or does not say where it is.
    Seal,
    /// The seal is from a source this service does not trust.
    UntrustedSeal,
    /// The stored records do not match the batch they were published in
    /// (found by the lookup itself).
    Store,
    /// This service has no source to check the seal against.
    NoSource,
    /// The source of the seal (a blockchain) could not be read just now.
    SourceUnreachable,
}

impl Verification {
    /// A red verdict of `findings`, with the verifier's `reasons`.
    pub fn failed(reasons: Vec<String>, findings: Vec<Finding>) -> Verification {
        Verification::Failed { reasons, findings }
    }
}

impl Verification {
    /// Whether the report verified.
    pub fn is_verified(&self) -> bool {
        matches!(self, Verification::Verified { .. })
    }

    /// Whether the report could not be confirmed, without anything found
    /// wrong.
    pub fn is_unconfirmed(&self) -> bool {
        matches!(self, Verification::Unconfirmed { .. })
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
        match verification_from_verdict(report, &verdict) {
            Verification::Unconfirmed { reasons, .. }
                if !unchecked_for_want_of_source(self, &verdict) =>
            {
                Verification::failed(reasons, vec![Finding::UntrustedSeal])
            }
            v => v,
        }
    }
}

/// Whether every batch without a trusted anchor lacks one because this service could not
/// check it, not because it distrusts it: one of the batch's anchor checks could not be
/// made (its chain could not be read), or the service has no source at all for the kind of
/// receipt it holds (no ledger key for a `ledger` receipt, no chain reader for a chain's).
/// A service that has ledger keys but none for a receipt's log, or chain readers but none
/// for its chain, distrusts it: that is red, lest a forged log or chain pass as amber.
fn unchecked_for_want_of_source(trust: &Trust, verdict: &ReportVerdict) -> bool {
    verdict.batches.values().all(|batch| {
        if batch.anchors.values().any(|a| a.trusted) {
            return true;
        }
        batch.anchors.values().any(|a| {
            let errored = a
                .checks
                .iter()
                .any(|c| matches!(c.status, CheckStatus::Error { .. }));
            let no_source = if a.receipt_type == "ledger" {
                trust.ledger_keys.is_empty()
            } else {
                trust.chain_checks.is_empty()
            };
            errored || no_source
        })
    })
}

/// Turns a verdict into what the page shows. A report is shown as verified
/// only if the verdict says so *and* every batch has an anchor that was
/// checked against a trusted source (a self-consistent report is not enough
/// for a consumer, whatever [`Trust::require_anchor`] says).
///
/// A report that is not verified is [`Verification::Unconfirmed`] when
/// nothing in it was contradicted: every report-level and record check
/// passed, every batch's own fields passed, and no check of any anchor
/// receipt [failed](crate::verify::CheckStatus::Failed) (they were only not
/// checked, or could not be made), so that the only thing missing is a batch
/// anchor checked against a trusted source. Anything else is
/// [`Verification::Failed`].
pub fn verification_from_verdict(report: &CodeReport, verdict: &ReportVerdict) -> Verification {
    if let Some((reason, finding)) = contradiction(report, verdict) {
        let mut reasons = verdict.reasons.clone();
        if reasons.is_empty() {
            reasons.push(reason);
        }
        return Verification::failed(reasons, vec![finding]);
    }
    // Nothing contradicted: some anchor could not be checked, because its source did not
    // answer, or because this service has none to check it against.
    let unchecked = || {
        let errored = verdict.batches.values().any(|b| {
            b.anchors.values().any(|a| {
                a.checks
                    .iter()
                    .any(|c| matches!(c.status, CheckStatus::Error { .. }))
            })
        });
        vec![if errored {
            Finding::SourceUnreachable
        } else {
            Finding::NoSource
        }]
    };
    if !verdict.verified {
        let mut reasons = verdict.reasons.clone();
        if reasons.is_empty() {
            reasons.push("no anchor could be checked against a trusted source".to_owned());
        }
        return Verification::Unconfirmed {
            reasons,
            findings: unchecked(),
        };
    }
    let mut anchors = Vec::new();
    let mut unconfirmed = Vec::new();
    for (batch_id, info) in &report.batches {
        let Some(batch_verdict) = verdict.batches.get(batch_id) else {
            return Verification::failed(
                vec![format!("batch {batch_id} was not verified")],
                vec![Finding::Batch],
            );
        };
        let before = anchors.len();
        let mut any_trusted = false;
        for (chain, anchor) in &batch_verdict.anchors {
            if !anchor.trusted {
                continue;
            }
            any_trusted = true;
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
            let reason = format!("batch {batch_id} has no anchor checked against a trusted source");
            if any_trusted {
                // Checked, but the receipt does not say where it is.
                return Verification::failed(vec![reason], vec![Finding::Seal]);
            }
            unconfirmed.push(reason);
        }
    }
    if report.batches.is_empty() || (anchors.is_empty() && unconfirmed.is_empty()) {
        return Verification::failed(
            vec!["the report has no batch".to_owned()],
            vec![Finding::Batch],
        );
    }
    if !unconfirmed.is_empty() {
        return Verification::Unconfirmed {
            reasons: unconfirmed,
            findings: unchecked(),
        };
    }
    Verification::Verified { anchors }
}

/// The first check of `verdict` that found something wrong, if any, and what
/// the page says of it: any failed (or not passed) report or record check, a
/// batch the verdict lacks, any batch check but [`CheckKind::Anchored`] that
/// did not pass, any anchor receipt check that
/// [failed](crate::verify::CheckStatus::Failed). An anchor that was not
/// checked, or could not be checked, is no contradiction.
fn contradiction(report: &CodeReport, verdict: &ReportVerdict) -> Option<(String, Finding)> {
    if let Some(c) = verdict.checks.iter().find(|c| !c.status.is_passed()) {
        return Some((
            format!("{} of the report did not pass", c.check),
            Finding::Records,
        ));
    }
    if report.records.len() != verdict.records.len() {
        return Some(("not every record was verified".to_owned(), Finding::Records));
    }
    if let Some(r) = verdict.records.iter().find(|r| !r.passed) {
        return Some((
            format!("record {} did not verify", r.position),
            Finding::Records,
        ));
    }
    for batch_id in report.batches.keys() {
        if !verdict.batches.contains_key(batch_id) {
            return Some((format!("batch {batch_id} was not verified"), Finding::Batch));
        }
    }
    for (batch_id, batch) in &verdict.batches {
        if let Some(c) = batch
            .checks
            .iter()
            .find(|c| c.check != CheckKind::Anchored && !c.status.is_passed())
        {
            return Some((
                format!("batch {batch_id}: {} did not pass", c.check),
                Finding::Batch,
            ));
        }
        for (chain, anchor) in &batch.anchors {
            if let Some(c) = anchor.checks.iter().find(|c| c.status.is_failed()) {
                return Some((
                    format!("batch {batch_id} anchor {chain}: {} failed", c.check),
                    Finding::Seal,
                ));
            }
        }
    }
    None
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
    fn a_failed_check_is_named_as_the_json_verdict_names_it() {
        let report = CodeReport {
            format: "proofmark-code/1".into(),
            code: "ABC123".into(),
            subjects: Vec::new(),
            records: Vec::new(),
            batches: Default::default(),
        };
        let mut verdict = ReportVerdict::malformed("ABC123", "broken");
        verdict.reasons.clear();
        let Verification::Failed { reasons, findings } =
            verification_from_verdict(&report, &verdict)
        else {
            panic!("not failed");
        };
        assert_eq!(reasons, ["the format check of the report did not pass"]);
        assert_eq!(findings, [Finding::Records]);
    }

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
