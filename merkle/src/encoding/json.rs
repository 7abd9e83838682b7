//! The JSON proof encoding.

use serde::{Deserialize, Serialize};

use super::{
    MAX_CONSISTENCY_HASHES, MAX_INCLUSION_HASHES, MAX_MULTI_HASHES_PER_INDEX,
    PROOF_ENCODING_VERSION, Proof, ProofEnvelope, ProofKind,
};
use crate::error::DecodeError;
use crate::proof::{BatchProof, ConsistencyProof, InclusionProof, MultiProof};
use crate::suite::{Hash, SuiteId};

/// The JSON object as written: every field a kind may use, in spec order. `None` is a field
/// that is absent; a field given as `null` is present ([`Nullable::Null`]), so that it counts
/// as given when the kind does not have it (SPEC.md 7.5, `UnexpectedField`).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireProof {
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    version: Option<Nullable<u64>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    suite: Option<Nullable<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    kind: Option<Nullable<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    index: Option<Nullable<u64>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    indices: Option<Nullable<Vec<u64>>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    old_size: Option<Nullable<u64>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    tree_size: Option<Nullable<u64>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    hashes: Option<Nullable<Vec<String>>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    segment_index: Option<Nullable<u64>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    segment_count: Option<Nullable<u64>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    upper_hashes: Option<Nullable<Vec<String>>>,
}

/// A field's value as given: `null` or a value.
#[derive(Debug)]
enum Nullable<T> {
    /// `null`.
    Null,
    /// A value.
    Value(T),
}

impl<T: Serialize> Serialize for Nullable<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Nullable::Null => serializer.serialize_none(),
            Nullable::Value(v) => v.serialize(serializer),
        }
    }
}

/// Deserializes a field that is present (serde calls it only then): `null` included.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Nullable<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(|v| Some(v.map_or(Nullable::Null, Nullable::Value)))
}

/// A present field of value `v`.
fn given<T>(v: T) -> Option<Nullable<T>> {
    Some(Nullable::Value(v))
}

fn hex_list(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(hex::encode).collect()
}

impl From<&ProofEnvelope> for WireProof {
    fn from(envelope: &ProofEnvelope) -> Self {
        let mut wire = WireProof {
            version: given(PROOF_ENCODING_VERSION.into()),
            suite: given(envelope.suite.name().to_owned()),
            kind: given(envelope.proof.kind().name().to_owned()),
            ..WireProof::default()
        };
        match &envelope.proof {
            Proof::Inclusion(p) => {
                wire.index = given(p.index);
                wire.tree_size = given(p.tree_size);
                wire.hashes = given(hex_list(&p.hashes));
            }
            Proof::Consistency(p) => {
                wire.old_size = given(p.old_size);
                wire.tree_size = given(p.tree_size);
                wire.hashes = given(hex_list(&p.hashes));
            }
            Proof::Multi(p) => {
                wire.indices = given(p.indices.clone());
                wire.tree_size = given(p.tree_size);
                wire.hashes = given(hex_list(&p.hashes));
            }
            Proof::Batch(p) => {
                wire.index = given(p.segment.index);
                wire.tree_size = given(p.segment.tree_size);
                wire.hashes = given(hex_list(&p.segment.hashes));
                wire.segment_index = given(p.upper.index);
                wire.segment_count = given(p.upper.tree_size);
                wire.upper_hashes = given(hex_list(&p.upper.hashes));
            }
        }
        wire
    }
}

/// Parses one hash: exactly 64 lowercase hex digits.
pub(crate) fn parse_hash(text: &str) -> Option<Hash> {
    if text.len() != 64 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// A field the kind needs: absent or `null` is [`DecodeError::MissingField`].
fn take<T>(value: Option<Nullable<T>>, field: &'static str) -> Result<T, DecodeError> {
    match value {
        Some(Nullable::Value(v)) => Ok(v),
        _ => Err(DecodeError::MissingField(field)),
    }
}

/// A field the kind does not have: present at all, even as `null`, is
/// [`DecodeError::UnexpectedField`].
fn refuse<T>(value: &Option<Nullable<T>>, field: &'static str) -> Result<(), DecodeError> {
    match value {
        Some(_) => Err(DecodeError::UnexpectedField(field)),
        None => Ok(()),
    }
}

fn hashes(
    list: Option<Nullable<Vec<String>>>,
    field: &'static str,
    max: u64,
) -> Result<Vec<Hash>, DecodeError> {
    let list = take(list, field)?;
    if list.len() as u64 > max {
        return Err(DecodeError::TooManyHashes {
            count: list.len() as u64,
            max,
        });
    }
    list.iter()
        .enumerate()
        .map(|(position, h)| parse_hash(h).ok_or(DecodeError::InvalidHash { field, position }))
        .collect()
}

impl TryFrom<WireProof> for ProofEnvelope {
    type Error = DecodeError;

    fn try_from(w: WireProof) -> Result<Self, DecodeError> {
        let version = take(w.version, "version")?;
        if version != u64::from(PROOF_ENCODING_VERSION) {
            return Err(DecodeError::UnknownVersion(version));
        }
        let suite: SuiteId = take(w.suite, "suite")?.parse()?;
        let kind_name = take(w.kind, "kind")?;
        let kind = ProofKind::from_name(&kind_name).ok_or(DecodeError::UnknownKind(kind_name))?;
        let tree_size = take(w.tree_size, "tree_size")?;
        if kind != ProofKind::Batch {
            refuse(&w.segment_index, "segment_index")?;
            refuse(&w.segment_count, "segment_count")?;
            refuse(&w.upper_hashes, "upper_hashes")?;
        }
        if kind != ProofKind::Consistency {
            refuse(&w.old_size, "old_size")?;
        }
        if kind != ProofKind::Multi {
            refuse(&w.indices, "indices")?;
        } else {
            refuse(&w.index, "index")?;
        }
        let proof = match kind {
            ProofKind::Inclusion => Proof::Inclusion(InclusionProof {
                index: take(w.index, "index")?,
                tree_size,
                hashes: hashes(w.hashes, "hashes", MAX_INCLUSION_HASHES)?,
            }),
            ProofKind::Consistency => {
                refuse(&w.index, "index")?;
                Proof::Consistency(ConsistencyProof {
                    old_size: take(w.old_size, "old_size")?,
                    tree_size,
                    hashes: hashes(w.hashes, "hashes", MAX_CONSISTENCY_HASHES)?,
                })
            }
            ProofKind::Multi => {
                let indices = take(w.indices, "indices")?;
                let max = (indices.len() as u64).saturating_mul(MAX_MULTI_HASHES_PER_INDEX);
                Proof::Multi(MultiProof {
                    hashes: hashes(w.hashes, "hashes", max)?,
                    indices,
                    tree_size,
                })
            }
            ProofKind::Batch => Proof::Batch(BatchProof {
                segment: InclusionProof {
                    index: take(w.index, "index")?,
                    tree_size,
                    hashes: hashes(w.hashes, "hashes", MAX_INCLUSION_HASHES)?,
                },
                upper: InclusionProof {
                    index: take(w.segment_index, "segment_index")?,
                    tree_size: take(w.segment_count, "segment_count")?,
                    hashes: hashes(w.upper_hashes, "upper_hashes", MAX_INCLUSION_HASHES)?,
                },
            }),
        };
        Ok(ProofEnvelope { suite, proof })
    }
}

impl Serialize for ProofEnvelope {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireProof::from(self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ProofEnvelope {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireProof::deserialize(deserializer)?;
        ProofEnvelope::try_from(wire).map_err(serde::de::Error::custom)
    }
}

impl ProofEnvelope {
    /// The JSON encoding: one object, fields in spec order, hashes as
    /// lowercase hex, no insignificant whitespace.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&WireProof::from(self))
            .expect("a struct of strings and integers always serialises")
    }

    /// Decodes the JSON encoding.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Json`] for malformed JSON, unknown fields or wrong types;
    /// otherwise the typed [`DecodeError`] of the first problem (version,
    /// suite, kind, then missing / unexpected fields, hash counts and hex).
    pub fn from_json(text: &str) -> Result<Self, DecodeError> {
        let wire: WireProof = serde_json::from_str(text).map_err(DecodeError::Json)?;
        ProofEnvelope::try_from(wire)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn h(b: u8) -> Hash {
        [b; 32]
    }

    fn samples() -> Vec<ProofEnvelope> {
        let inclusion = InclusionProof {
            index: 5,
            tree_size: 13,
            hashes: vec![h(1), h(2)],
        };
        vec![
            ProofEnvelope::new(SuiteId::Blake3, Proof::Inclusion(inclusion.clone())),
            ProofEnvelope::new(
                SuiteId::Sha256Rfc6962,
                Proof::Consistency(ConsistencyProof {
                    old_size: 3,
                    tree_size: 7,
                    hashes: vec![h(3)],
                }),
            ),
            ProofEnvelope::new(
                SuiteId::Blake3,
                Proof::Multi(MultiProof {
                    indices: vec![1, 4],
                    tree_size: 8,
                    hashes: vec![],
                }),
            ),
            ProofEnvelope::new(
                SuiteId::Blake3,
                Proof::Batch(BatchProof {
                    segment: inclusion,
                    upper: InclusionProof {
                        index: 2,
                        tree_size: 3,
                        hashes: vec![h(9)],
                    },
                }),
            ),
        ]
    }

    #[test]
    fn json_round_trips() {
        for env in samples() {
            let json = env.to_json();
            assert_eq!(ProofEnvelope::from_json(&json).unwrap(), env, "{json}");
            let via_serde: ProofEnvelope =
                serde_json::from_str(&serde_json::to_string(&env).unwrap()).unwrap();
            assert_eq!(via_serde, env);
        }
    }

    #[test]
    fn json_field_order_is_the_spec_order() {
        let json = samples()[1].to_json();
        assert_eq!(
            json,
            format!(
                r#"{{"version":1,"suite":"sha256-rfc6962","kind":"consistency","old_size":3,"tree_size":7,"hashes":["{}"]}}"#,
                "03".repeat(32)
            )
        );
    }

    #[test]
    fn json_errors_are_typed() {
        let good = samples()[0].to_json();
        let e = |s: &str| ProofEnvelope::from_json(s).unwrap_err();
        assert!(matches!(
            e(&good.replace("\"version\":1", "\"version\":2")),
            DecodeError::UnknownVersion(2)
        ));
        assert!(matches!(
            e(&good.replace("blake3", "md5")),
            DecodeError::UnknownSuite(_)
        ));
        assert!(matches!(
            e(&good.replace("inclusion", "exclusion")),
            DecodeError::UnknownKind(_)
        ));
        assert!(matches!(
            e(&good.replace("\"index\":5,", "")),
            DecodeError::MissingField("index")
        ));
        assert!(matches!(
            e(&good.replace("\"index\":5,", "\"index\":5,\"old_size\":1,")),
            DecodeError::UnexpectedField("old_size")
        ));
        // A field the kind does not have counts as given even when null; a needed one given
        // as null is missing.
        assert!(matches!(
            e(&good.replace("\"index\":5,", "\"index\":5,\"segment_index\":null,")),
            DecodeError::UnexpectedField("segment_index")
        ));
        assert!(matches!(
            e(&good.replace("\"index\":5,", "\"index\":null,")),
            DecodeError::MissingField("index")
        ));
        assert!(matches!(
            e(&good.replace(&"01".repeat(32), &"0A".repeat(32))),
            DecodeError::InvalidHash {
                field: "hashes",
                position: 0
            }
        ));
        assert!(matches!(
            e(&good.replace(&"02".repeat(32), "02")),
            DecodeError::InvalidHash {
                field: "hashes",
                position: 1
            }
        ));
        assert!(matches!(
            e(&good.replace("\"index\"", "\"idx\"")),
            DecodeError::Json(_)
        ));
        assert!(matches!(e("{"), DecodeError::Json(_)));
        let many = format!(
            "[{}]",
            vec![format!("\"{}\"", "00".repeat(32)); 65].join(",")
        );
        let too_many = format!(
            r#"{{"version":1,"suite":"blake3","kind":"inclusion","index":0,"tree_size":1,"hashes":{many}}}"#
        );
        assert!(matches!(
            e(&too_many),
            DecodeError::TooManyHashes { count: 65, max: 64 }
        ));
    }
}
