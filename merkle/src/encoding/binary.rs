//! The compact binary proof encoding.
//!
//! ```text
//! version u8 = 1 | suite u8 (1 blake3, 2 sha256-rfc6962) | kind u8 | body
//! inclusion   (1): index, tree_size, count, count x 32-byte hash
//! consistency (2): old_size, tree_size, count, hashes
//! multi       (3): tree_size, index_count, index_count x index, count, hashes
//! batch       (4): index, tree_size, count, hashes,
//!                  segment_index, segment_count, upper_count, upper hashes
//! ```
//!
//! Integers are unsigned LEB128 varints in their shortest form (at most 10
//! bytes); the input must end exactly where the proof does.

use super::{
    MAX_CONSISTENCY_HASHES, MAX_INCLUSION_HASHES, MAX_MULTI_HASHES_PER_INDEX,
    PROOF_ENCODING_VERSION, Proof, ProofEnvelope, ProofKind,
};
use crate::error::DecodeError;
use crate::proof::{BatchProof, ConsistencyProof, InclusionProof, MultiProof};
use crate::suite::{Hash, SuiteId};

/// Appends `value` as an unsigned LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_hashes(out: &mut Vec<u8>, hashes: &[Hash]) {
    put_varint(out, hashes.len() as u64);
    for h in hashes {
        out.extend_from_slice(h);
    }
}

/// A cursor over the input with typed errors.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let (&b, rest) = self.rest.split_first().ok_or(DecodeError::Truncated)?;
        self.rest = rest;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for i in 0..10 {
            let b = self.byte()?;
            let group = u64::from(b & 0x7f);
            if i == 9 && b > 1 {
                return Err(DecodeError::VarintOverflow);
            }
            value |= group << (7 * i);
            if b & 0x80 == 0 {
                if b == 0 && i > 0 {
                    return Err(DecodeError::NonCanonicalVarint);
                }
                return Ok(value);
            }
        }
        Err(DecodeError::VarintOverflow)
    }

    fn hashes(&mut self, max: u64) -> Result<Vec<Hash>, DecodeError> {
        let count = self.varint()?;
        if count > max {
            return Err(DecodeError::TooManyHashes { count, max });
        }
        let len = usize::try_from(count).map_err(|_| DecodeError::Truncated)?;
        if self.rest.len() / 32 < len {
            return Err(DecodeError::Truncated);
        }
        let (bytes, rest) = self.rest.split_at(len * 32);
        self.rest = rest;
        Ok(bytes
            .chunks_exact(32)
            .map(|c| c.try_into().expect("32-byte chunks"))
            .collect())
    }

    fn inclusion(&mut self) -> Result<InclusionProof, DecodeError> {
        let index = self.varint()?;
        let tree_size = self.varint()?;
        let hashes = self.hashes(MAX_INCLUSION_HASHES)?;
        Ok(InclusionProof {
            index,
            tree_size,
            hashes,
        })
    }
}

impl ProofEnvelope {
    /// The binary encoding (see the spec's "Binary proof encoding").
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + 32 * 8);
        out.push(PROOF_ENCODING_VERSION);
        out.push(self.suite.to_u8());
        out.push(self.proof.kind().to_u8());
        match &self.proof {
            Proof::Inclusion(p) => {
                put_varint(&mut out, p.index);
                put_varint(&mut out, p.tree_size);
                put_hashes(&mut out, &p.hashes);
            }
            Proof::Consistency(p) => {
                put_varint(&mut out, p.old_size);
                put_varint(&mut out, p.tree_size);
                put_hashes(&mut out, &p.hashes);
            }
            Proof::Multi(p) => {
                put_varint(&mut out, p.tree_size);
                put_varint(&mut out, p.indices.len() as u64);
                for &i in &p.indices {
                    put_varint(&mut out, i);
                }
                put_hashes(&mut out, &p.hashes);
            }
            Proof::Batch(p) => {
                put_varint(&mut out, p.segment.index);
                put_varint(&mut out, p.segment.tree_size);
                put_hashes(&mut out, &p.segment.hashes);
                put_varint(&mut out, p.upper.index);
                put_varint(&mut out, p.upper.tree_size);
                put_hashes(&mut out, &p.upper.hashes);
            }
        }
        out
    }

    /// Decodes the binary encoding.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Truncated`], [`DecodeError::TrailingBytes`],
    /// [`DecodeError::UnknownVersion`], [`DecodeError::UnknownSuiteId`],
    /// [`DecodeError::UnknownKindId`], [`DecodeError::TooManyHashes`],
    /// [`DecodeError::VarintOverflow`], [`DecodeError::NonCanonicalVarint`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader { rest: bytes };
        let version = r.byte()?;
        if version != PROOF_ENCODING_VERSION {
            return Err(DecodeError::UnknownVersion(version.into()));
        }
        let suite_id = r.byte()?;
        let suite = SuiteId::from_u8(suite_id).ok_or(DecodeError::UnknownSuiteId(suite_id))?;
        let kind_id = r.byte()?;
        let kind = ProofKind::from_u8(kind_id).ok_or(DecodeError::UnknownKindId(kind_id))?;
        let proof = match kind {
            ProofKind::Inclusion => Proof::Inclusion(r.inclusion()?),
            ProofKind::Consistency => {
                let old_size = r.varint()?;
                let tree_size = r.varint()?;
                let hashes = r.hashes(MAX_CONSISTENCY_HASHES)?;
                Proof::Consistency(ConsistencyProof {
                    old_size,
                    tree_size,
                    hashes,
                })
            }
            ProofKind::Multi => {
                let tree_size = r.varint()?;
                let count = r.varint()?;
                // Every index takes at least one byte: bound the allocation by the input.
                if count > r.rest.len() as u64 {
                    return Err(DecodeError::Truncated);
                }
                let indices = (0..count)
                    .map(|_| r.varint())
                    .collect::<Result<Vec<u64>, _>>()?;
                let max = count.saturating_mul(MAX_MULTI_HASHES_PER_INDEX);
                let hashes = r.hashes(max)?;
                Proof::Multi(MultiProof {
                    indices,
                    tree_size,
                    hashes,
                })
            }
            ProofKind::Batch => {
                let segment = r.inclusion()?;
                let upper = r.inclusion()?;
                Proof::Batch(BatchProof { segment, upper })
            }
        };
        if !r.rest.is_empty() {
            return Err(DecodeError::TrailingBytes {
                count: r.rest.len(),
            });
        }
        Ok(ProofEnvelope { suite, proof })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn decode_varint(bytes: &[u8]) -> Result<u64, DecodeError> {
        let mut r = Reader { rest: bytes };
        let v = r.varint()?;
        assert!(r.rest.is_empty());
        Ok(v)
    }

    #[test]
    fn varints_round_trip_and_are_canonical() {
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            16383,
            16384,
            u32::MAX.into(),
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert!(out.len() <= 10);
            assert_eq!(decode_varint(&out).unwrap(), v);
        }
        assert!(matches!(
            decode_varint(&[0x80, 0x00]),
            Err(DecodeError::NonCanonicalVarint)
        ));
        assert!(matches!(
            decode_varint(&[0x80]),
            Err(DecodeError::Truncated)
        ));
        let mut over = vec![0xff; 9];
        over.push(0x02);
        assert!(matches!(
            decode_varint(&over),
            Err(DecodeError::VarintOverflow)
        ));
        assert!(matches!(
            decode_varint(&[0xff; 11]),
            Err(DecodeError::VarintOverflow)
        ));
    }

    fn sample() -> ProofEnvelope {
        ProofEnvelope::new(
            SuiteId::Sha256Rfc6962,
            Proof::Inclusion(InclusionProof {
                index: 300,
                tree_size: 1000,
                hashes: vec![[1; 32], [2; 32]],
            }),
        )
    }

    #[test]
    fn layout_is_the_spec_layout() {
        let bytes = sample().to_bytes();
        assert_eq!(&bytes[..3], &[1, 2, 1]);
        assert_eq!(&bytes[3..8], &[0xac, 0x02, 0xe8, 0x07, 2]);
        assert_eq!(bytes.len(), 8 + 64);
    }

    #[test]
    fn binary_errors_are_typed() {
        let good = sample().to_bytes();
        assert!(matches!(
            ProofEnvelope::from_bytes(&[]),
            Err(DecodeError::Truncated)
        ));
        for cut in 0..good.len() {
            assert!(
                matches!(
                    ProofEnvelope::from_bytes(&good[..cut]),
                    Err(DecodeError::Truncated)
                ),
                "cut {cut}"
            );
        }
        let mut long = good.clone();
        long.push(0);
        assert!(matches!(
            ProofEnvelope::from_bytes(&long),
            Err(DecodeError::TrailingBytes { count: 1 })
        ));
        let mut v = good.clone();
        v[0] = 2;
        assert!(matches!(
            ProofEnvelope::from_bytes(&v),
            Err(DecodeError::UnknownVersion(2))
        ));
        let mut s = good.clone();
        s[1] = 9;
        assert!(matches!(
            ProofEnvelope::from_bytes(&s),
            Err(DecodeError::UnknownSuiteId(9))
        ));
        let mut k = good.clone();
        k[2] = 0;
        assert!(matches!(
            ProofEnvelope::from_bytes(&k),
            Err(DecodeError::UnknownKindId(0))
        ));
        let mut many = good[..7].to_vec();
        many.push(65);
        many.extend(std::iter::repeat_n(0u8, 65 * 32));
        assert!(matches!(
            ProofEnvelope::from_bytes(&many),
            Err(DecodeError::TooManyHashes { count: 65, max: 64 })
        ));
        // A huge index count with no bytes behind it must not allocate.
        let mut multi = vec![1, 1, 3, 5];
        put_varint(&mut multi, u64::MAX);
        assert!(matches!(
            ProofEnvelope::from_bytes(&multi),
            Err(DecodeError::Truncated)
        ));
    }
}
