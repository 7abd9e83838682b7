//! Code report and leaf proof parsing and verification on arbitrary JSON:
//! nothing panics, and without a trusted key or chain nothing is ever
//! verified (every batch needs a trusted anchor); bulk verification agrees
//! with one-by-one verification.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proofmark_verifier::CodeReport;
use proofmark_verifier::verify::{
    LeafProofDocument, Trust, verify_leaf_document, verify_report, verify_reports,
};

fuzz_target!(|data: &[u8]| {
    let trust = Trust::new();
    if let Ok(report) = serde_json::from_slice::<CodeReport>(data) {
        let verdict = verify_report(&report, &trust);
        assert!(!verdict.verified, "verified without any trusted anchor");
        let bulk = verify_reports(std::slice::from_ref(&report), &trust);
        assert_eq!(bulk[0], verdict);
        // Self-consistency alone may pass, but must not crash.
        let _ = verify_report(&report, &Trust::new().with_require_anchor(false));
    }
    if let Ok(doc) = serde_json::from_slice::<LeafProofDocument>(data) {
        assert!(!verify_leaf_document(&doc, &trust).verified);
    }
});
