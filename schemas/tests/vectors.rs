//! Record test vectors: `schemas/vectors/records/*.json`.
//!
//! Each case is an input record (JSON) with its canonical bytes, subject keys,
//! leaf hashes in both suites and its validation reasons. This test rebuilds
//! every file from the cases below and fails when a checked-in file differs;
//! with `PROOFMARK_REGEN_VECTORS=1` it rewrites them instead.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use proofmark_schemas::{
    Kind, RecordIdTracker, RecordView, SubjectType, ValidationContext, batch_from_json, decode,
    decode_ref, encode_json, encode_row, row_to_json, subject_key, validate, value_to_json,
    write_decoded_json, write_json_str, write_row_json,
};
use serde_json::{Value, json};
use sha2::Digest;

/// The batch date the vectors' validation reasons refer to: 2026-11-24.
const BATCH_DATE_DAYS: i32 = 20_416;
const T: i64 = 1_763_942_400_000_000; // 2025-11-24T00:00:00Z

fn leaf_blake3(data: &[u8]) -> String {
    let key = blake3::derive_key("proofmark 2026-11-25 v1 merkle leaf", b"");
    hex::encode(blake3::keyed_hash(&key, data).as_bytes())
}

fn leaf_sha256(data: &[u8]) -> String {
    let mut h = sha2::Sha256::new();
    h.update([0u8]);
    h.update(data);
    hex::encode(h.finalize())
}

fn sha(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

fn production_full() -> Value {
    json!({
        "record_id": "prd-000001", "code": "01234567890123456789", "lot_id": "LOT-2026-0001",
        "org_id": "brand-0042", "event_time": T,
        "gtin": "9421902960017", "product_name": "婴幼儿配方奶粉 1段 800g", "brand": "Kiwi Pasture",
        "sku": "KP-S1-800", "lot_number": "2026-0001", "production_date": 20_300, "expiry_date": 21_030,
        "origin_country": "NZ", "factory_id": "fac-nz-07", "factory_name": "Kiwi Pasture Dairy Ltd",
        "factory_address": "12 Milk Road, Hamilton 3204, New Zealand",
        "certifications": ["CNCA-R-2026-001", "ISO 22000", "Halal"],
        "ingredients": "skim milk, lactose, vegetable oils (high oleic sunflower, coconut, soy), whey protein",
        "attachments": [
            {"uri": "s3://evidence/fac-nz-07/photo-1.jpg", "digest": sha('a')},
            {"uri": "s3://evidence/certs/cnca-2026-001.pdf", "digest": format!("blake3:{}", "0123456789abcdef".repeat(4))}
        ]
    })
}

fn production_min() -> Value {
    json!({
        "record_id": "p", "code": "ABCDEF", "lot_id": null, "org_id": "o", "event_time": T,
        "gtin": "96385074", "product_name": "", "brand": "", "sku": "s", "lot_number": "l",
        "production_date": 20_000, "expiry_date": null, "origin_country": "FR",
        "factory_id": "f", "factory_name": null, "factory_address": null,
        "certifications": null, "ingredients": null, "attachments": null
    })
}

fn logistics(location: &str) -> Value {
    json!({
        "record_id": "r1", "code": null, "lot_id": "L1", "org_id": "o", "event_time": 0,
        "event_type": "arrived", "location": location, "carrier": null, "waybill": null
    })
}

/// A logistics record whose unpadded canonical length is exactly `target` bytes.
fn logistics_of_len(target: usize) -> Value {
    let base = 55; // length with an empty location (see SPEC.md, section 3 example)
    logistics(&"x".repeat(target - base))
}

fn customs(cleared: Option<i64>, code: Option<&str>) -> Value {
    json!({
        "record_id": "dec-7781", "code": code, "lot_id": "LOT-2026-0001", "org_id": "broker-3",
        "event_time": T + 3_600_000_000,
        "declaration_id": "531620261124000123", "filing_id": "F-99", "hs_code": "1901101000",
        "origin_country": "NZ", "trade_country": "AU", "port_of_entry": "Shanghai Yangshan (CNSHA)",
        "declared_at": T, "cleared_at": cleared, "status": if cleared.is_some() { "released" } else { "declared" }
    })
}

fn inspection(result: &str, sample: Value) -> Value {
    json!({
        "record_id": "insp-1", "code": null, "lot_id": "LOT-2026-0001", "org_id": "agency-cciq",
        "event_time": T, "agency_id": "CCIQ-SH", "agency_name": "上海出入境检验检疫局",
        "inspection_type": "ingredient_test", "result": result, "report_id": "RPT-2026-55",
        "report_digest": sha('b'), "sample_size": sample
    })
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn cases() -> Vec<(&'static str, &'static str, Kind, Value)> {
    let long_certs: Vec<String> = (0..32).map(|i| format!("CERT-{i:03}")).collect();
    let long_att: Vec<Value> = (0..16)
        .map(|i| json!({"uri": format!("https://evidence.example/{i}.pdf"), "digest": sha('c')}))
        .collect();
    // 33 items (one over the limit), one of them 257 bytes.
    let mut too_many_certs = long_certs.clone();
    too_many_certs.push("C".repeat(257));
    // 17 items, one `uri` of 513 bytes and one malformed digest.
    // The same 33 items with a null one: the null hides the long item.
    let mut null_and_long: Vec<Value> = too_many_certs.iter().map(|c| json!(c)).collect();
    null_and_long[0] = Value::Null;
    let mut too_many_att = long_att.clone();
    too_many_att.push(json!({"uri": "u".repeat(513), "digest": "sha256:XX"}));
    vec![
        (
            "production-full",
            "production record with every column, lists, non-ASCII text",
            Kind::Production,
            production_full(),
        ),
        (
            "production-minimal",
            "production record with every nullable column null",
            Kind::Production,
            production_min(),
        ),
        (
            "production-empty-lists",
            "empty certification and attachment lists (not null)",
            Kind::Production,
            with(
                with(production_min(), "certifications", json!([])),
                "attachments",
                json!([]),
            ),
        ),
        (
            "production-empty-strings",
            "empty strings in nullable text columns (distinct from null)",
            Kind::Production,
            with(
                with(production_min(), "factory_name", json!("")),
                "ingredients",
                json!(""),
            ),
        ),
        (
            "production-long-lists",
            "32 certifications and 16 attachments (the limits)",
            Kind::Production,
            with(
                with(production_full(), "certifications", json!(long_certs)),
                "attachments",
                json!(long_att),
            ),
        ),
        (
            "production-long-ingredients",
            "2048-byte ingredients: a record over 1024 bytes (two BLAKE3 chunks)",
            Kind::Production,
            with(production_full(), "ingredients", json!("m".repeat(2048))),
        ),
        (
            "production-bad-gtin",
            "wrong GTIN check digit (encodes, but is rejected)",
            Kind::Production,
            with(production_min(), "gtin", json!("96385075")),
        ),
        (
            "production-expiry-before",
            "expiry before production (rejected)",
            Kind::Production,
            with(production_min(), "expiry_date", json!(19_999)),
        ),
        (
            "production-old-dates",
            "dates before 1970 (negative days; rejected)",
            Kind::Production,
            with(production_min(), "production_date", json!(-1)),
        ),
        (
            "production-null-list-items",
            "null items in lists encode as empty text (rejected)",
            Kind::Production,
            with(
                with(
                    production_min(),
                    "certifications",
                    json!(["ISO 22000", null]),
                ),
                "attachments",
                json!([null, {"uri": "s3://a", "digest": null}]),
            ),
        ),
        (
            "customs-released",
            "customs declaration released, lot only",
            Kind::Customs,
            customs(Some(T + 86_400_000_000), None),
        ),
        (
            "customs-pending",
            "customs declaration not yet cleared (cleared_at null)",
            Kind::Customs,
            customs(None, None),
        ),
        (
            "customs-with-code",
            "customs record about a single item code",
            Kind::Customs,
            customs(None, Some("01234567890123456789")),
        ),
        (
            "customs-cleared-before",
            "cleared before declared (rejected)",
            Kind::Customs,
            customs(Some(T - 1), None),
        ),
        (
            "logistics-spec-example",
            "the example of SPEC.md section 3",
            Kind::Logistics,
            logistics(""),
        ),
        (
            "logistics-labelled",
            "labelling binds a code to its lot",
            Kind::Logistics,
            json!({
            "record_id": "lgs-1-0", "code": "01234567890123456789", "lot_id": "LOT-2026-0001", "org_id": "bonded-wh-9",
            "event_time": T + 7_200_000_000, "event_type": "labelled", "location": "宁波保税区 3号仓",
            "carrier": null, "waybill": null}),
        ),
        (
            "logistics-emoji",
            "4-byte UTF-8 characters",
            Kind::Logistics,
            logistics("Café 🚚 → 港口"),
        ),
        (
            "logistics-len-63",
            "unpadded length 63 (one block, one byte of padding)",
            Kind::Logistics,
            logistics_of_len(63),
        ),
        (
            "logistics-len-64",
            "unpadded length 64 (exactly one block, no padding)",
            Kind::Logistics,
            logistics_of_len(64),
        ),
        (
            "logistics-len-65",
            "unpadded length 65 (two blocks)",
            Kind::Logistics,
            logistics_of_len(65),
        ),
        (
            "logistics-len-1024",
            "unpadded length 1024 (exactly one BLAKE3 chunk)",
            Kind::Logistics,
            logistics_of_len(1024),
        ),
        (
            "logistics-len-1025",
            "unpadded length 1025 (just over one chunk)",
            Kind::Logistics,
            logistics_of_len(1025),
        ),
        (
            "logistics-time-min",
            "event time i64::MIN (rejected)",
            Kind::Logistics,
            with(logistics(""), "event_time", json!(i64::MIN)),
        ),
        (
            "logistics-time-max",
            "event time i64::MAX (rejected)",
            Kind::Logistics,
            with(logistics(""), "event_time", json!(i64::MAX)),
        ),
        (
            "logistics-no-subject",
            "neither code nor lot id (rejected)",
            Kind::Logistics,
            with(logistics(""), "lot_id", Value::Null),
        ),
        (
            "logistics-max-code",
            "code of 48 bytes and lot id of 64 bytes",
            Kind::Logistics,
            with(
                with(logistics("Rotterdam"), "code", json!("A".repeat(48))),
                "lot_id",
                json!("L".repeat(64)),
            ),
        ),
        (
            "inspection-pass",
            "inspection passed",
            Kind::Inspection,
            inspection("pass", json!(12)),
        ),
        (
            "inspection-fail-no-sample",
            "inspection failed, sample size null",
            Kind::Inspection,
            inspection("fail", Value::Null),
        ),
        (
            "inspection-zero-sample",
            "sample size zero",
            Kind::Inspection,
            inspection("conditional", json!(0)),
        ),
        (
            "inspection-negative-sample",
            "negative sample size (rejected)",
            Kind::Inspection,
            inspection("pass", json!(-5)),
        ),
        (
            "inspection-unknown-result",
            "result outside the enum (rejected)",
            Kind::Inspection,
            inspection("passed", json!(1)),
        ),
        (
            "production-list-reasons",
            "lists over their limits with over-long and malformed items: a list column gets \
             too_many_items and its item reasons (SPEC 2.3; rejected)",
            Kind::Production,
            with(
                with(production_min(), "certifications", json!(too_many_certs)),
                "attachments",
                json!(too_many_att),
            ),
        ),
        (
            "customs-cleared-out-of-range-and-before",
            "cleared_at before 1970 and before declared_at: its own reason and the row-level one \
             (rejected)",
            Kind::Customs,
            customs(Some(-1), None),
        ),
        (
            "production-null-item-hides-item-checks",
            "33 certifications, one null and one of 257 bytes: too_many_items and \
             null_list_item, and no too_long, since a null item hides the item checks \
             (SPEC 2.3; rejected)",
            Kind::Production,
            with(production_min(), "certifications", json!(null_and_long)),
        ),
    ]
}

fn vector(name: &str, description: &str, kind: Kind, record: &Value) -> Value {
    let batch = batch_from_json(kind, std::slice::from_ref(record)).expect(name);
    let view = RecordView::try_new(kind, &batch).expect(name);
    let mut bytes = Vec::new();
    let len = encode_row(&view, 0, &mut bytes);
    assert_eq!(len, bytes.len());
    let unpadded = u32::from_le_bytes(bytes[2..6].try_into().unwrap());
    decode(&bytes).expect("vector decodes");
    let validation = validate(
        &view,
        &ValidationContext::for_batch_date(BATCH_DATE_DAYS),
        &mut RecordIdTracker::new(),
    );
    let reasons: Vec<&str> = validation.defects().iter().map(|d| d.kind.code()).collect();
    let key = |ty, col: &str| match record.get(col) {
        Some(Value::String(s)) => json!(hex::encode(subject_key(ty, s))),
        _ => Value::Null,
    };
    json!({
        "description": description,
        "spec_version": 1,
        "kind": kind.name(),
        "batch_date": "2026-11-24",
        "record": record,
        "unpadded_length": unpadded,
        "canonical_hex": hex::encode(&bytes),
        "subject_keys": { "item": key(SubjectType::Item, "code"), "lot": key(SubjectType::Lot, "lot_id") },
        "leaf_hashes": { "blake3": leaf_blake3(&bytes), "sha256-rfc6962": leaf_sha256(&bytes) },
        "reasons": reasons,
        "name": name,
    })
}

#[test]
fn record_vectors_are_current() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors/records");
    let regen = std::env::var_os("PROOFMARK_REGEN_VECTORS").is_some();
    let cases = cases();
    assert!(cases.len() >= 24);
    let mut stale = Vec::new();
    let mut expected_files = Vec::new();
    for (i, (name, description, kind, record)) in cases.iter().enumerate() {
        let file = dir.join(format!("{:02}-{name}.json", i + 1));
        let text =
            serde_json::to_string_pretty(&vector(name, description, *kind, record)).unwrap() + "\n";
        expected_files.push(file.file_name().unwrap().to_owned());
        if regen {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&file, &text).unwrap();
        } else if std::fs::read_to_string(&file).ok().as_deref() != Some(text.as_str()) {
            stale.push(file.display().to_string());
        }
    }
    let mut on_disk: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    on_disk.sort();
    expected_files.sort();
    assert_eq!(
        on_disk, expected_files,
        "vector folder holds files no case produces"
    );
    assert!(
        stale.is_empty(),
        "stale vectors (rerun with PROOFMARK_REGEN_VECTORS=1): {stale:#?}"
    );
}

#[test]
fn spec_example_bytes() {
    let batch = batch_from_json(Kind::Logistics, &[logistics("")]).unwrap();
    let view = RecordView::try_new(Kind::Logistics, &batch).unwrap();
    let mut bytes = Vec::new();
    encode_row(&view, 0, &mut bytes);
    let expected = concat!(
        "01033700000001020000007231",
        "00",
        "01020000004c31",
        "01010000006f",
        "010000000000000000",
        "010700000061727269766564",
        "0100000000",
        "00",
        "00",
        "000000000000000000",
    );
    assert_eq!(hex::encode(&bytes), expected);
    assert_eq!(bytes.len(), 64);
    assert!(bytes[55..].iter().all(|&b| b == 0));
}

/// The canonical bytes of one JSON record through Arrow (the reference path).
fn encode_through_arrow(kind: Kind, record: &Value) -> Result<Vec<u8>, String> {
    let batch = batch_from_json(kind, std::slice::from_ref(record)).map_err(|e| e.to_string())?;
    let view = RecordView::try_new(kind, &batch).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    encode_row(&view, 0, &mut bytes);
    Ok(bytes)
}

/// The direct JSON encoder against the checked-in vectors and the Arrow path.
#[test]
fn encode_json_gives_the_vector_bytes() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors/records");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap()).unwrap();
        let kind: Kind = v["kind"].as_str().unwrap().parse().unwrap();
        let mut out = vec![0xaa];
        let len = encode_json(kind, v["record"].as_object().unwrap(), &mut out).unwrap();
        assert_eq!(len, out.len() - 1);
        assert_eq!(hex::encode(&out[1..]), v["canonical_hex"].as_str().unwrap());
        seen += 1;
    }
    assert!(seen >= 24);
    for (name, _, kind, record) in cases() {
        let mut out = Vec::new();
        encode_json(kind, record.as_object().unwrap(), &mut out).unwrap();
        assert_eq!(Ok(out), encode_through_arrow(kind, &record), "{name}");
    }
}

mod encode_json_props {
    use super::*;
    use proptest::prelude::*;

    /// Any JSON value a column might be given, right type or not.
    fn any_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            (u64::MAX - 3..=u64::MAX).prop_map(Value::from),
            (-1e9f64..1e9).prop_map(Value::from),
            "[a-zé ]{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(2, 12, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                (
                    prop::option::of(inner.clone()),
                    prop::option::of(inner),
                    any::<bool>()
                )
                    .prop_map(|(uri, digest, extra)| {
                        let mut m = serde_json::Map::new();
                        if let Some(u) = uri {
                            m.insert("uri".into(), u);
                        }
                        if let Some(d) = digest {
                            m.insert("digest".into(), d);
                        }
                        if extra {
                            m.insert("extra".into(), Value::from(1));
                        }
                        Value::Object(m)
                    }),
            ]
        })
    }

    /// A value of the right JSON type for a column of type `ty` (or null).
    fn typed_value(ty: proofmark_schemas::FieldType) -> BoxedStrategy<Value> {
        use proofmark_schemas::FieldType as T;
        let text = "[a-zé ]{0,12}";
        match ty {
            T::Text => prop::option::of(text).prop_map(|t| json!(t)).boxed(),
            T::Timestamp => any::<i64>().prop_map(Value::from).boxed(),
            T::Date | T::Int32 => any::<i32>().prop_map(Value::from).boxed(),
            T::TextList => prop::collection::vec(prop::option::of(text), 0..4)
                .prop_map(|v| json!(v))
                .boxed(),
            T::AttachmentList => prop::collection::vec(
                prop::option::of((prop::option::of(text), prop::option::of(text))),
                0..3,
            )
            .prop_map(|v| {
                json!(
                    v.into_iter()
                        .map(|a| a.map(|(u, d)| json!({"uri": u, "digest": d})))
                        .collect::<Vec<_>>()
                )
            })
            .boxed(),
        }
    }

    fn kind_and_record() -> impl Strategy<Value = (Kind, Vec<Option<Value>>)> {
        prop_oneof![
            Just(Kind::Production),
            Just(Kind::Customs),
            Just(Kind::Logistics),
            Just(Kind::Inspection)
        ]
        .prop_flat_map(|kind| {
            let per_field: Vec<_> = kind
                .fields()
                .iter()
                .map(|f| {
                    prop::option::of(prop_oneof![
                        9 => typed_value(f.ty),
                        1 => any_value().boxed(),
                    ])
                })
                .collect();
            (Just(kind), per_field)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Same bytes, or an error both ways, for any values of any kind's columns.
        #[test]
        fn direct_encoding_equals_the_arrow_path(
            (kind, values) in kind_and_record(),
            // Unknown keys that sort before, between and after the columns.
            unknown in prop::option::weighted(
                0.05,
                prop_oneof![Just("not_a_column"), Just("aaa"), Just("zzz"), Just("code2")],
            ),
        ) {
            let mut m = serde_json::Map::new();
            for (spec, v) in kind.fields().iter().zip(&values) {
                if let Some(v) = v {
                    m.insert(spec.name.to_owned(), v.clone());
                }
            }
            if let Some(k) = unknown {
                m.insert(k.to_owned(), Value::Null);
            }
            let mut direct = vec![7u8];
            let got = encode_json(kind, &m, &mut direct).map_err(|e| e.to_string());
            let reference = encode_through_arrow(kind, &Value::Object(m));
            match (got, reference) {
                (Ok(len), Ok(bytes)) => {
                    prop_assert_eq!(len, bytes.len());
                    prop_assert_eq!(&direct[1..], &bytes[..]);
                }
                (Err(a), Err(b)) => {
                    prop_assert_eq!(a, b);
                    prop_assert_eq!(direct, vec![7u8]);
                }
                (a, b) => prop_assert!(false, "direct {:?} but Arrow {:?}", a, b),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        /// The direct JSON writer gives serde_json's text of the row's map, byte for byte.
        #[test]
        fn row_json_text_equals_serde_json((kind, values) in kind_and_record()) {
            let mut m = serde_json::Map::new();
            for (spec, v) in kind.fields().iter().zip(&values) {
                if let Some(v) = v {
                    m.insert(spec.name.to_owned(), v.clone());
                }
            }
            if let Ok(batch) = batch_from_json(kind, &[Value::Object(m)]) {
                let view = RecordView::try_new(kind, &batch).unwrap();
                let mut text = Vec::new();
                write_row_json(&view, 0, &mut text);
                let want = serde_json::to_string(&row_to_json(&view, 0)).unwrap();
                prop_assert_eq!(String::from_utf8(text).unwrap(), want);
                // The canonical bytes decoded in place give the owned decoder's
                // values, and their JSON is serde_json's text of those values.
                let mut bytes = Vec::new();
                encode_row(&view, 0, &mut bytes);
                let borrowed = decode_ref(&bytes).unwrap();
                let owned = decode(&bytes).unwrap();
                prop_assert_eq!(&borrowed.to_owned_record(), &owned);
                let mut text = Vec::new();
                write_decoded_json(&borrowed, &mut text);
                let map: serde_json::Map<String, Value> = kind
                    .fields()
                    .iter()
                    .zip(&owned.values)
                    .map(|(f, v)| (f.name.to_owned(), value_to_json(v)))
                    .collect();
                prop_assert_eq!(
                    String::from_utf8(text).unwrap(),
                    serde_json::to_string(&map).unwrap()
                );
            }
        }

        /// Strings of any characters, control characters and quotes included.
        #[test]
        fn json_strings_are_escaped_as_serde_json_escapes_them(s in "[\\x00-\\x7f\"\\\\é]{0,40}") {
            let mut text = Vec::new();
            write_json_str(&s, &mut text);
            prop_assert_eq!(String::from_utf8(text).unwrap(), serde_json::to_string(&s).unwrap());
        }
    }
}

/// Every record of the cases and vectors gives serde_json's text.
#[test]
fn row_json_text_of_the_cases() {
    for (name, _, kind, record) in cases() {
        let batch = batch_from_json(kind, std::slice::from_ref(&record)).unwrap();
        let view = RecordView::try_new(kind, &batch).unwrap();
        let mut text = Vec::new();
        write_row_json(&view, 0, &mut text);
        let want = serde_json::to_string(&row_to_json(&view, 0)).unwrap();
        assert_eq!(String::from_utf8(text).unwrap(), want, "{name}");
    }
    let mut all = String::new();
    for b in 0u8..0x80 {
        all.push(char::from(b));
    }
    let mut text = Vec::new();
    write_json_str(&all, &mut text);
    assert_eq!(
        String::from_utf8(text).unwrap(),
        serde_json::to_string(&all).unwrap()
    );
}
