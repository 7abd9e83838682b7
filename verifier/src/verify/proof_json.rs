//! A fast path for decoding a report's batch proof from its JSON value.
//!
//! The strict decoder of SPEC.md 7.5 ([`ProofEnvelope`](proofmark_merkle::ProofEnvelope)'s `Deserialize`)
//! goes through an intermediate struct with a `String` per hash; in bulk
//! verification that was most of the time. [`batch_proof_from_value_into`]
//! reads the value in place and accepts only the plainest well-formed batch
//! proof: exactly the nine fields of a batch proof, version 1, the expected
//! suite, kind `batch`, unsigned integers, and at most 64 hashes per part,
//! each exactly 64 lowercase hex digits. Everything it accepts, the strict
//! decoder accepts with the same result (a test compares them); anything
//! else is left to the strict decoder, which decides and says why.
//!
//! The other way, [`write_batch_proof`] writes the JSON text of a batch
//! proof directly (hex through a table, no value tree), equal to
//! `serde_json::to_vec` of the JSON value of its
//! [`ProofEnvelope`](proofmark_merkle::ProofEnvelope).

use proofmark_merkle::encoding::MAX_INCLUSION_HASHES;
use proofmark_merkle::{BatchProof, Hash, InclusionProof, SuiteId};
use serde_json::Value;

/// The value of each hex digit, or `0xff` (the reference for the tests).
#[cfg(test)]
const HEX_VALUE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Exactly 64 lowercase hex digits, decoded, eight digits at a time
/// (SWAR: every byte of a `u64` checked and converted at once).
pub(super) fn parse_hash(text: &str) -> Option<Hash> {
    let bytes: &[u8; 64] = text.as_bytes().try_into().ok()?;
    let mut out = [0u8; 32];
    for (o, c) in out.chunks_exact_mut(4).zip(bytes.chunks_exact(8)) {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        o.copy_from_slice(&decode8(u64::from_le_bytes(w))?.to_le_bytes());
    }
    Some(out)
}

/// Eight lowercase hex digits (little-endian bytes of `x`) as four bytes.
#[inline]
fn decode8(x: u64) -> Option<u32> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    if x & HIGH != 0 {
        return None;
    }
    // For bytes below 0x80, `b + (0x80 - lo)` has its high bit set iff
    // `b >= lo`, with no carry into the next byte.
    let at_least = |lo: u64| x.wrapping_add(ONES * (0x80 - lo)) & HIGH;
    let digit = at_least(0x30) & !at_least(0x3a);
    let letter = at_least(0x61) & !at_least(0x67);
    if digit | letter != HIGH {
        return None;
    }
    // '0'..'9' -> low nibble; 'a'..'f' -> low nibble + 9.
    let v = (x & (ONES * 0x0f)) + (letter >> 7) * 9;
    // Pairs (high digit first) into one byte per 16-bit lane, then packed.
    let lanes = 0x00ff_00ff_00ff_00ff;
    let z = ((v & lanes) << 4) | ((v >> 8) & lanes);
    let z = (z | (z >> 8)) & 0x0000_ffff_0000_ffff;
    let z = (z | (z >> 16)) & 0x0000_0000_ffff_ffff;
    u32::try_from(z).ok()
}

/// Decodes the list of hashes `value` holds into `out` (cleared first);
/// false when it is not a list of at most [`MAX_INCLUSION_HASHES`] plain
/// hashes.
fn hashes_into(value: &Value, out: &mut Vec<Hash>) -> bool {
    let Some(list) = value.as_array() else {
        return false;
    };
    if list.len() as u64 > MAX_INCLUSION_HASHES {
        return false;
    }
    out.clear();
    out.reserve(list.len());
    for h in list {
        match h.as_str().and_then(parse_hash) {
            Some(h) => out.push(h),
            None => return false,
        }
    }
    true
}

/// An empty batch proof (to decode into).
pub(super) fn empty_batch_proof() -> BatchProof {
    let empty = || InclusionProof {
        index: 0,
        tree_size: 0,
        hashes: Vec::new(),
    };
    BatchProof {
        segment: empty(),
        upper: empty(),
    }
}

/// The batch proof `value` holds in `suite`, when it is in the plain form
/// described in the module docs; `None` for anything else (which the strict
/// decoder then judges).
#[cfg(test)]
pub(super) fn batch_proof_from_value(value: &Value, suite: SuiteId) -> Option<BatchProof> {
    let mut proof = empty_batch_proof();
    batch_proof_from_value_into(value, suite, &mut proof).then_some(proof)
}

/// Decodes the batch proof `value` holds in `suite` into `out` (its vectors
/// reused), when it is in the plain form described in the module docs: true
/// when it is and `out` holds its proof; false (and `out` unspecified) for
/// anything else (which the strict decoder then judges).
pub(super) fn batch_proof_from_value_into(
    value: &Value,
    suite: SuiteId,
    out: &mut BatchProof,
) -> bool {
    let Some(map) = value.as_object() else {
        return false;
    };
    if map.len() != 9 {
        return false;
    }
    // One pass over the fields (a lookup per field costs more).
    let mut ints = [None::<u64>; 5]; // version, index, tree_size, segment_index, segment_count
    let (mut segment, mut upper) = (false, false);
    let mut suite_ok = false;
    let mut kind_ok = false;
    for (key, v) in map {
        match key.as_str() {
            "version" => ints[0] = v.as_u64(),
            "index" => ints[1] = v.as_u64(),
            "tree_size" => ints[2] = v.as_u64(),
            "segment_index" => ints[3] = v.as_u64(),
            "segment_count" => ints[4] = v.as_u64(),
            "suite" => suite_ok = v.as_str() == Some(suite.name()),
            "kind" => kind_ok = v.as_str() == Some("batch"),
            "hashes" => segment = hashes_into(v, &mut out.segment.hashes),
            "upper_hashes" => upper = hashes_into(v, &mut out.upper.hashes),
            _ => return false,
        }
    }
    let [
        Some(1),
        Some(index),
        Some(tree_size),
        Some(segment_index),
        Some(segment_count),
    ] = ints
    else {
        return false;
    };
    if !(suite_ok && kind_ok && segment && upper) {
        return false;
    }
    out.segment.index = index;
    out.segment.tree_size = tree_size;
    out.upper.index = segment_index;
    out.upper.tree_size = segment_count;
    true
}

/// Appends the lowercase hex of `bytes` to `out`, two digits per byte
/// through a table.
pub(crate) fn write_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const PAIRS: [[u8; 2]; 256] = {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut t = [[0u8; 2]; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = [DIGITS[i >> 4], DIGITS[i & 15]];
            i += 1;
        }
        t
    };
    out.reserve(bytes.len() * 2);
    // A hash's digits at a time into a fixed buffer, then one copy: no
    // length and capacity update per digit pair.
    for chunk in bytes.chunks(32) {
        let mut buf = [0u8; 64];
        for (pair, &b) in buf.chunks_exact_mut(2).zip(chunk) {
            pair.copy_from_slice(&PAIRS[usize::from(b)]);
        }
        out.extend_from_slice(&buf[..chunk.len() * 2]);
    }
}

/// Appends `"hex"` of `bytes` (a JSON string) to `out`.
pub(crate) fn write_hex_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    write_hex(out, bytes);
    out.push(b'"');
}

/// Appends the JSON of `proof` in `suite` (SPEC.md 7.5, kind `batch`) to
/// `out`: byte for byte `serde_json::to_vec` of the JSON value of its
/// [`ProofEnvelope`](proofmark_merkle::ProofEnvelope) (compact, keys in
/// byte order as a JSON map holds them), written directly.
pub(crate) fn write_batch_proof(out: &mut Vec<u8>, suite: SuiteId, proof: &BatchProof) {
    fn list(out: &mut Vec<u8>, hashes: &[Hash]) {
        out.reserve(hashes.len() * 67 + 2);
        proofmark_schemas::write_json_array(out, hashes, |out, h| write_hex_string(out, h));
    }
    let mut n = itoa::Buffer::new();
    out.extend_from_slice(b"{\"hashes\":");
    list(out, &proof.segment.hashes);
    out.extend_from_slice(b",\"index\":");
    out.extend_from_slice(n.format(proof.segment.index).as_bytes());
    out.extend_from_slice(b",\"kind\":\"batch\",\"segment_count\":");
    out.extend_from_slice(n.format(proof.upper.tree_size).as_bytes());
    out.extend_from_slice(b",\"segment_index\":");
    out.extend_from_slice(n.format(proof.upper.index).as_bytes());
    out.extend_from_slice(b",\"suite\":");
    proofmark_schemas::write_json_str(suite.name(), out);
    out.extend_from_slice(b",\"tree_size\":");
    out.extend_from_slice(n.format(proof.segment.tree_size).as_bytes());
    out.extend_from_slice(b",\"upper_hashes\":");
    list(out, &proof.upper.hashes);
    out.extend_from_slice(b",\"version\":1}");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proofmark_merkle::{Proof, ProofEnvelope};
    use proptest::prelude::*;
    use serde_json::json;

    /// The strict decoder's batch proof of `value` in `suite`, if it accepts it.
    fn strict(value: &Value, suite: SuiteId) -> Option<BatchProof> {
        let env = <ProofEnvelope as serde::Deserialize>::deserialize(value).ok()?;
        match env.expect_suite(suite).ok()? {
            Proof::Batch(b) => Some(b.clone()),
            _ => None,
        }
    }

    fn good() -> Value {
        let h = |b: u8| hex::encode([b; 32]);
        json!({"version": 1, "suite": "blake3", "kind": "batch", "index": 5, "tree_size": 13,
            "hashes": [h(1), h(2), h(3), h(4)], "segment_index": 2, "segment_count": 3,
            "upper_hashes": [h(0xab), h(0xcd)]})
    }

    #[test]
    fn the_proof_value_is_the_envelope_s() {
        let v = good();
        let proof = batch_proof_from_value(&v, SuiteId::Blake3).unwrap();
        for suite in [SuiteId::Blake3, SuiteId::Sha256Rfc6962] {
            let env = ProofEnvelope::new(suite, Proof::Batch(proof.clone()));
            let mut text = Vec::new();
            write_batch_proof(&mut text, suite, &proof);
            // A report holds the proof as a JSON value: keys in byte order.
            let value = serde_json::to_value(&env).unwrap();
            assert_eq!(
                String::from_utf8(text).unwrap(),
                serde_json::to_string(&value).unwrap()
            );
        }
        let mut hex = Vec::new();
        write_hex(&mut hex, &[0x00, 0x9a, 0xff]);
        assert_eq!(hex, b"009aff");
        write_hex(&mut hex, &[]);
        assert_eq!(hex, b"009aff");
        // Inputs longer than one 32-byte chunk, and not a multiple of it.
        for len in [31usize, 32, 33, 64, 100] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let mut hex = b"x".to_vec();
            write_hex(&mut hex, &bytes);
            assert_eq!(&hex[1..], hex::encode(&bytes).as_bytes(), "{len}");
        }
    }

    /// The table decoder the SWAR one must equal.
    fn parse_hash_by_table(text: &str) -> Option<Hash> {
        let bytes: &[u8; 64] = text.as_bytes().try_into().ok()?;
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let (hi, lo) = (
                HEX_VALUE[usize::from(pair[0])],
                HEX_VALUE[usize::from(pair[1])],
            );
            if (hi | lo) & 0xf0 != 0 {
                return None;
            }
            *o = (hi << 4) | lo;
        }
        Some(out)
    }

    #[test]
    fn swar_decoding_equals_the_table() {
        let base: Vec<u8> = b"0123456789abcdef"
            .iter()
            .cycle()
            .take(64)
            .copied()
            .collect();
        for at in 0..64 {
            for b in 0..=255u8 {
                let mut v = base.clone();
                v[at] = b;
                if let Ok(s) = String::from_utf8(v) {
                    assert_eq!(parse_hash(&s), parse_hash_by_table(&s), "{b:#x} at {at}");
                }
            }
        }
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            let s: String = (0..64)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    char::from(b"0123456789abcdefABCDEF/:`g@"[(state % 27) as usize])
                })
                .collect();
            assert_eq!(parse_hash(&s), parse_hash_by_table(&s), "{s}");
        }
    }

    #[test]
    fn parse_hash_is_strict_lowercase_hex() {
        let h = "00ff".repeat(16);
        assert_eq!(
            parse_hash(&h),
            Some([0, 0xff].repeat(16).try_into().unwrap())
        );
        assert_eq!(parse_hash(&h.to_uppercase()), None);
        assert_eq!(parse_hash(&h[1..]), None);
        assert_eq!(parse_hash(&format!("{h}0")), None);
        for bad in ['g', 'G', ' ', 'é', '+', '/', ':', '@', '`'] {
            let mut s = h.clone();
            s.replace_range(10..11, &bad.to_string());
            assert_eq!(parse_hash(&s), None, "{bad:?}");
        }
        for b in 0..=255u8 {
            let s = format!("{}{}", char::from(b), "0".repeat(63));
            if s.len() == 64 {
                assert_eq!(
                    parse_hash(&s).is_some(),
                    b.is_ascii_hexdigit() && !b.is_ascii_uppercase()
                );
            }
        }
    }

    #[test]
    fn the_plain_form_decodes_as_the_strict_decoder_does() {
        let v = good();
        assert_eq!(
            batch_proof_from_value(&v, SuiteId::Blake3),
            strict(&v, SuiteId::Blake3)
        );
        assert!(batch_proof_from_value(&v, SuiteId::Blake3).is_some());
        assert_eq!(batch_proof_from_value(&v, SuiteId::Sha256Rfc6962), None);
    }

    /// One change to a field of the good proof.
    fn mutation() -> impl Strategy<Value = (usize, Value)> {
        let values = prop_oneof![
            Just(Value::Null),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-1e3f64..1e3).prop_map(Value::from),
            "[0-9a-fA-F ]{0,66}".prop_map(Value::from),
            prop::sample::select(vec!["blake3", "sha256-rfc6962", "batch", "inclusion", "1"])
                .prop_map(Value::from),
            prop::collection::vec("[0-9a-f]{62,65}", 0..3).prop_map(|v| json!(v)),
            Just(json!([1, 2])),
            Just(json!({})),
        ];
        (0usize..12, values)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// Whatever the fast path accepts, the strict decoder accepts the same.
        #[test]
        fn fast_path_is_a_subset_of_the_strict_decoder(
            changes in prop::collection::vec(mutation(), 0..3),
            remove in prop::option::of(0usize..9),
        ) {
            let mut v = good();
            let fields = ["version", "suite", "kind", "index", "tree_size", "hashes",
                "segment_index", "segment_count", "upper_hashes", "indices", "old_size", "extra"];
            let m = v.as_object_mut().unwrap();
            for (f, value) in changes {
                m.insert(fields[f].to_owned(), value);
            }
            if let Some(f) = remove {
                m.remove(fields[f]);
            }
            for suite in [SuiteId::Blake3, SuiteId::Sha256Rfc6962] {
                if let Some(fast) = batch_proof_from_value(&v, suite) {
                    prop_assert_eq!(Some(fast), strict(&v, suite));
                }
            }
        }
    }
}
