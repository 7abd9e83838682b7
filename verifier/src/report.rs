//! The code report: everything proofmark holds about one code, with the
//! proofs that let anyone check it. It is the body of `GET /v1/codes/{code}`,
//! one line of `POST /v1/audit`, and the input of `proofmark verify`;
//! `schemas/SPEC.md` section 11 is its public definition.

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use proofmark_merkle::{DecodeError, ProofEnvelope};
use serde::{Deserialize, Serialize};

use crate::error::VerifierError;

/// Parses a JSON document (a code report, a leaf proof, a line of `POST /v1/audit`) into a
/// value, refusing an object that has a member name twice, at any depth (SPEC.md 11.1): JSON
/// readers differ in which of the two values they keep, so such a document could show one
/// reader what another verified.
///
/// # Errors
///
/// The text is not JSON, or names a member twice (the error says which, with its position).
pub fn parse_json_strict(text: &[u8]) -> serde_json::Result<serde_json::Value> {
    use serde::de::DeserializeSeed as _;
    let mut de = serde_json::Deserializer::from_slice(text);
    let value = strict_json::Strict.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// A JSON document read strictly ([`parse_json_strict`]) or, when it names a member twice, as
/// other readers read it (the last value kept), with the reason it is not strict JSON: a
/// document that then fails its checks, but whose `format` and `code` can still be named.
///
/// # Errors
///
/// The text is not JSON at all.
pub fn parse_json_document(text: &[u8]) -> serde_json::Result<(serde_json::Value, Option<String>)> {
    match parse_json_strict(text) {
        Ok(value) => Ok((value, None)),
        Err(strict) => serde_json::from_slice(text).map(|value| (value, Some(strict.to_string()))),
    }
}

/// The parser of [`parse_json_strict`]: `serde_json::Value`'s own, with a check for repeated
/// member names.
mod strict_json {
    use std::fmt;

    use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Number, Value};

    pub(super) struct Strict;

    impl<'de> DeserializeSeed<'de> for Strict {
        type Value = Value;

        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_any(StrictVisitor)
        }
    }

    struct StrictVisitor;

    impl<'de> Visitor<'de> for StrictVisitor {
        type Value = Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }

        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }

        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::from(v))
        }

        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::from(v))
        }

        fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
            Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
        }

        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.to_owned()))
        }

        fn visit_string<E>(self, v: String) -> Result<Value, E> {
            Ok(Value::String(v))
        }

        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }

        fn visit_none<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }

        fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            Strict.deserialize(d)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            while let Some(item) = seq.next_element_seed(Strict)? {
                items.push(item);
            }
            Ok(Value::Array(items))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut members = Map::new();
            while let Some(key) = map.next_key::<String>()? {
                match members.entry(key) {
                    serde_json::map::Entry::Occupied(taken) => {
                        return Err(de::Error::custom(format!(
                            "the member {:?} appears twice in one object",
                            taken.key()
                        )));
                    }
                    serde_json::map::Entry::Vacant(slot) => {
                        slot.insert(map.next_value_seed(Strict)?);
                    }
                }
            }
            Ok(Value::Object(members))
        }
    }
}

/// The `format` value of a code report.
pub const CODE_REPORT_FORMAT: &str = "proofmark-code/1";

/// Everything held about one code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeReport {
    /// Always [`CODE_REPORT_FORMAT`].
    pub format: String,
    /// The code as asked for (after trimming).
    pub code: String,
    /// The subjects looked up: the item itself, then the lots that its
    /// records bind it to.
    pub subjects: Vec<SubjectRef>,
    /// The records, ordered by `event_time`, then batch id, then leaf index.
    pub records: Vec<RecordEntry>,
    /// The batches the records are in, by batch id.
    pub batches: BTreeMap<String, BatchInfo>,
}

/// A subject that was looked up for a code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectRef {
    /// `"item"` or `"lot"`.
    #[serde(rename = "type")]
    pub subject_type: String,
    /// The item code or lot id.
    pub id: String,
    /// The 16-byte subject key (SPEC.md section 4), hex.
    pub key: String,
}

impl CodeReport {
    /// The report's JSON, byte for byte what `serde_json::to_vec` gives
    /// (fields in declaration order, no insignificant white space), written
    /// directly: strings that need no escaping (hex digits, most text) are
    /// copied whole rather than escaped byte by byte, and the buffer is
    /// sized up front.
    pub fn to_json_vec(&self) -> Vec<u8> {
        let estimate: usize = 512
            + self
                .records
                .iter()
                .map(|r| 1024 + r.canonical.len() + 80 * r.proof_hash_count())
                .sum::<usize>()
            + 2048 * self.batches.len();
        let mut out = Vec::with_capacity(estimate);
        self.write_json(&mut out);
        out
    }

    /// Appends [`CodeReport::to_json_vec`]'s bytes to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        write_report_head(out, &self.format, &self.code, &self.subjects);
        for (i, r) in self.records.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            r.write_json(out);
        }
        out.extend_from_slice(b"],\"batches\":{");
        for (i, (id, b)) in self.batches.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json::string(out, id);
            out.push(b':');
            b.write_json(out);
        }
        out.extend_from_slice(b"}}");
    }
}

/// Whether a record of the item, of kind `kind` and `event_type` (logistics records), binds the
/// item to the record's `lot_id` (SPEC.md 11.1): its `production` records and its logistics
/// events `labelled` do. The service follows this rule to find a code's lots, verifiers to check
/// the lots a report lists.
pub(crate) fn binds_lot(kind: proofmark_schemas::Kind, event_type: Option<&str>) -> bool {
    match kind {
        proofmark_schemas::Kind::Production => true,
        proofmark_schemas::Kind::Logistics => event_type == Some("labelled"),
        _ => false,
    }
}

/// Appends a report's JSON up to its first record: `format`, `code`,
/// `subjects` and the opening of `records`.
pub(crate) fn write_report_head(
    out: &mut Vec<u8>,
    format: &str,
    code: &str,
    subjects: &[SubjectRef],
) {
    out.extend_from_slice(b"{\"format\":");
    json::string(out, format);
    out.extend_from_slice(b",\"code\":");
    json::string(out, code);
    out.extend_from_slice(b",\"subjects\":[");
    for (i, s) in subjects.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"type\":");
        json::string(out, &s.subject_type);
        out.extend_from_slice(b",\"id\":");
        json::string(out, &s.id);
        out.extend_from_slice(b",\"key\":");
        json::string(out, &s.key);
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"records\":[");
}

impl RecordEntry {
    /// Hashes in the proof (for sizing buffers).
    fn proof_hash_count(&self) -> usize {
        ["hashes", "upper_hashes"]
            .iter()
            .filter_map(|f| self.proof.get(f)?.as_array().map(Vec::len))
            .sum()
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"kind\":");
        json::string(out, &self.kind);
        out.extend_from_slice(b",\"subject\":");
        json::string(out, &self.subject);
        out.extend_from_slice(b",\"record\":");
        json::map(out, &self.record);
        out.extend_from_slice(b",\"canonical\":");
        json::string(out, &self.canonical);
        out.extend_from_slice(b",\"leaf_hash\":");
        json::string(out, &self.leaf_hash);
        out.extend_from_slice(b",\"batch_id\":");
        json::string(out, &self.batch_id);
        out.extend_from_slice(b",\"leaf_index\":");
        json::uint(out, self.leaf_index);
        out.extend_from_slice(b",\"source\":{\"file\":");
        json::string(out, &self.source.file);
        out.extend_from_slice(b",\"row\":");
        json::uint(out, self.source.row);
        out.extend_from_slice(b",\"provided_by\":");
        json::string(out, &self.source.provided_by);
        out.extend_from_slice(b"},\"proof\":");
        json::value(out, &self.proof);
        out.push(b'}');
    }
}

impl BatchInfo {
    /// Appends the batch object's JSON (SPEC.md 11.1), byte for byte
    /// `serde_json::to_vec(self)`, to `out`.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"suite\":");
        json::string(out, &self.suite);
        out.extend_from_slice(b",\"root\":");
        json::string(out, &self.root);
        out.extend_from_slice(b",\"leaf_count\":");
        json::uint(out, self.leaf_count);
        out.extend_from_slice(b",\"manifest_digest\":");
        json::string(out, &self.manifest_digest);
        out.extend_from_slice(b",\"batch_date\":");
        json::string(out, &self.batch_date);
        out.extend_from_slice(b",\"anchors\":{");
        for (i, (chain, receipt)) in self.anchors.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json::string(out, chain);
            out.push(b':');
            json::value(out, receipt);
        }
        out.extend_from_slice(b"}}");
    }
}

/// Compact JSON output equal to serde_json's.
pub(crate) mod json {
    use serde_json::{Map, Value};

    /// A string, escaped as serde_json escapes it (strings that need no
    /// escaping are copied whole).
    pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
        proofmark_schemas::write_json_str(s, out);
    }

    pub(crate) fn uint(out: &mut Vec<u8>, n: u64) {
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }

    pub(crate) fn map(out: &mut Vec<u8>, m: &Map<String, Value>) {
        out.push(b'{');
        for (i, (k, v)) in m.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(out, k);
            out.push(b':');
            value(out, v);
        }
        out.push(b'}');
    }

    pub(crate) fn value(out: &mut Vec<u8>, v: &Value) {
        match v {
            Value::Null => out.extend_from_slice(b"null"),
            Value::Bool(true) => out.extend_from_slice(b"true"),
            Value::Bool(false) => out.extend_from_slice(b"false"),
            Value::Number(n) => {
                let _ = serde_json::to_writer(&mut *out, n);
            }
            Value::String(s) => string(out, s),
            Value::Array(items) => proofmark_schemas::write_json_array(out, items, value),
            Value::Object(m) => map(out, m),
        }
    }
}

/// One record with its proof.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordEntry {
    /// The record's kind: `production`, `customs`, `logistics` or `inspection`.
    pub kind: String,
    /// Which subject of [`CodeReport::subjects`] found it: `"item"` or `"lot"`.
    pub subject: String,
    /// The record's values as read back from its input file, in the JSON
    /// form of the test vectors (SPEC.md section 10): dates as days since
    /// 1970-01-01, `event_time` as microseconds.
    pub record: serde_json::Map<String, serde_json::Value>,
    /// The canonical encoding of the record (SPEC.md section 3), hex,
    /// including its padding.
    pub canonical: String,
    /// The leaf hash, hex.
    pub leaf_hash: String,
    /// The batch that holds the record.
    pub batch_id: String,
    /// The record's global leaf index in that batch.
    pub leaf_index: u64,
    /// Where the record was read from.
    pub source: RecordSource,
    /// The batch proof from the leaf to the batch root (SPEC.md 7.4), in the
    /// JSON proof encoding (SPEC.md 7.5) as an object.
    pub proof: serde_json::Value,
}

impl RecordEntry {
    /// Decodes [`RecordEntry::proof`] strictly (SPEC.md 7.5).
    ///
    /// # Errors
    ///
    /// The proof encoding's [`DecodeError`].
    pub fn proof_envelope(&self) -> Result<ProofEnvelope, DecodeError> {
        ProofEnvelope::from_json(&self.proof.to_string())
    }
}

/// Where a record was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSource {
    /// The input file as planned (its source URL).
    pub file: String,
    /// The 0-based row in that file.
    pub row: u64,
    /// The organisation that provided the record (its `org_id`).
    pub provided_by: String,
}

/// What a batch commits to, with its anchors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchInfo {
    /// The batch's hash suite name.
    pub suite: String,
    /// The batch root, hex.
    pub root: String,
    /// Leaves in the batch.
    pub leaf_count: u64,
    /// The manifest digest (`blake3:` hex) that anchors commit to.
    pub manifest_digest: String,
    /// The batch's business date (`YYYY-MM-DD`).
    pub batch_date: String,
    /// The stored receipts (`batches/<id>/anchors/<chain>.json`), by chain name.
    pub anchors: BTreeMap<String, serde_json::Value>,
}

/// Why a lookup failed (not: the code is unknown, which is `Ok(None)`): the
/// crate's error type. [`VerifierError::MalformedCode`] is the caller's
/// fault; [`VerifierError::Integrity`] means the stored data does not match
/// what its batch root commits to; the others are failures of the index, the
/// store or an input.
pub type LookupError = VerifierError;

/// Something that can produce the report of a code: the service's index and
/// store, or a remote server.
pub trait CodeLookup: Send + Sync {
    /// The report of `code`, or `None` when no published batch holds it.
    fn lookup<'a>(
        &'a self,
        code: &'a str,
    ) -> BoxFuture<'a, Result<Option<CodeReport>, LookupError>>;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9a-f]{0,64}",
            ".{0,12}",
            prop::collection::vec(0u32..0x80, 0..8)
                .prop_map(|v| v.into_iter().filter_map(char::from_u32).collect()),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e12f64..1e12).prop_map(Value::from),
            text().prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(text(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn report() -> impl Strategy<Value = CodeReport> {
        let entry = (
            text(),
            text(),
            prop::collection::btree_map(text(), value(), 0..5),
            text(),
            any::<u64>(),
            value(),
        );
        (
            text(),
            prop::collection::vec(entry, 0..3),
            prop::collection::btree_map(text(), value(), 0..3),
        )
            .prop_map(|(code, entries, anchors)| CodeReport {
                format: CODE_REPORT_FORMAT.into(),
                code: code.clone(),
                subjects: vec![SubjectRef {
                    subject_type: "item".into(),
                    id: code,
                    key: "ab".repeat(16),
                }],
                records: entries
                    .into_iter()
                    .map(|(kind, canonical, record, file, n, proof)| RecordEntry {
                        kind,
                        subject: "lot".into(),
                        record: record.into_iter().collect(),
                        canonical,
                        leaf_hash: "0f".repeat(32),
                        batch_id: "b\"1".into(),
                        leaf_index: n,
                        source: RecordSource {
                            file,
                            row: n / 3,
                            provided_by: "o\n".into(),
                        },
                        proof,
                    })
                    .collect(),
                batches: BTreeMap::from([(
                    "b\"1".to_owned(),
                    BatchInfo {
                        suite: "blake3".into(),
                        root: "00".repeat(32),
                        leaf_count: 7,
                        manifest_digest: "blake3:x".into(),
                        batch_date: "2026-11-25".into(),
                        anchors: anchors.into_iter().collect(),
                    },
                )]),
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        #[test]
        fn direct_json_equals_serde_json(r in report()) {
            prop_assert_eq!(
                String::from_utf8(r.to_json_vec()).unwrap(),
                serde_json::to_string(&r).unwrap()
            );
        }
    }

    #[test]
    fn plain_strings_are_exactly_those_without_escapes() {
        for b in 0..=255u8 {
            for at in [0usize, 3, 7, 8, 12] {
                let mut v = b"abcdefghijklmnop".to_vec();
                v[at] = b;
                let Ok(s) = String::from_utf8(v) else {
                    continue;
                };
                let mut out = Vec::new();
                json::string(&mut out, &s);
                assert_eq!(out, serde_json::to_vec(&s).unwrap(), "{b:#x} at {at}");
            }
        }
        let s = "é€😀 0123456789abcdef\u{7f}\u{80}";
        let mut out = Vec::new();
        json::string(&mut out, s);
        assert_eq!(out, serde_json::to_vec(s).unwrap());
    }

    #[test]
    fn escapes_like_serde_json() {
        let s = "a\"b\\c\u{1}\u{1f}\u{7f}é\t\n";
        let mut out = Vec::new();
        json::string(&mut out, s);
        assert_eq!(out, serde_json::to_vec(s).unwrap());
        let mut out = Vec::new();
        json::value(&mut out, &json!({"x": [1.5, -2, null, true, "q"]}));
        assert_eq!(
            out,
            serde_json::to_vec(&json!({"x": [1.5, -2, null, true, "q"]})).unwrap()
        );
    }
}
