//! The JSON proof decoder (SPEC.md 7.5) on arbitrary text: it never panics,
//! and whatever it accepts re-encodes (JSON and binary) to a proof that
//! decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proofmark_merkle::ProofEnvelope;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(proof) = ProofEnvelope::from_json(text) else {
        return;
    };
    let json = proof.to_json();
    let again = ProofEnvelope::from_json(&json).expect("an encoded proof decodes");
    assert_eq!(again, proof);
    let bytes = proof.to_bytes();
    let again = ProofEnvelope::from_bytes(&bytes).expect("an encoded proof decodes");
    assert_eq!(again, proof);
});
