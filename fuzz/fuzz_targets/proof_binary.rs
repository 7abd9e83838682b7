//! The binary proof decoder (SPEC.md 7.5) on arbitrary bytes: it never
//! panics, and since it accepts only the canonical encoding (shortest
//! varints, no trailing bytes), whatever it accepts re-encodes to exactly the
//! input; the JSON encoding of it decodes to the same proof.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proofmark_merkle::ProofEnvelope;

fuzz_target!(|data: &[u8]| {
    let Ok(proof) = ProofEnvelope::from_bytes(data) else {
        return;
    };
    assert_eq!(proof.to_bytes(), data, "accepted a non-canonical encoding");
    let again = ProofEnvelope::from_json(&proof.to_json()).expect("an encoded proof decodes");
    assert_eq!(again, proof);
});
