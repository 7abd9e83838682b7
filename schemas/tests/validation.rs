//! Schema checks and row validation: every defect class, named columns, and
//! the encode/decode round trip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use proofmark_schemas::{
    DefectKind, Kind, RecordIdTracker, RecordView, SchemaError, ValidationContext, Value,
    batch_from_json, check_schema, decode, detect_kind, encode_row, validate,
};
use proptest::prelude::*;
use serde_json::{Value as Json, json};

const DATE: i32 = 20_416; // 2026-11-24
const T: i64 = 20_416 * 86_400_000_000; // start of the batch date

fn good(kind: Kind) -> Json {
    let common = json!({"record_id": "r-1", "code": "01234567890123456789", "lot_id": "LOT-1",
        "org_id": "org-1", "event_time": T});
    let mut v = common;
    let extra = match kind {
        Kind::Production => json!({"gtin": "4006381333931", "product_name": "Milk", "brand": "B",
            "sku": "S-1", "lot_number": "1", "production_date": DATE - 30, "expiry_date": DATE + 300,
            "origin_country": "NZ", "factory_id": "F-1", "certifications": ["A"],
            "attachments": [{"uri": "s3://x/y", "digest": format!("sha256:{}", "a".repeat(64))}]}),
        Kind::Customs => {
            json!({"declaration_id": "D-1", "hs_code": "190110", "origin_country": "NZ",
            "trade_country": "AU", "port_of_entry": "Shanghai", "declared_at": T - 10, "cleared_at": T,
            "status": "released"})
        }
        Kind::Logistics => json!({"event_type": "shipped", "location": "Ningbo", "waybill": "W-1"}),
        Kind::Inspection => json!({"agency_id": "A-1", "agency_name": "Agency", "inspection_type":
            "factory_audit", "result": "pass", "report_id": "R-1",
            "report_digest": format!("blake3:{}", "0".repeat(64)), "sample_size": 3}),
    };
    for (k, val) in extra.as_object().unwrap() {
        v[k] = val.clone();
    }
    v
}

fn reasons(kind: Kind, rows: &[Json]) -> Vec<Vec<(String, &'static str)>> {
    let batch = batch_from_json(kind, rows).unwrap();
    let view = RecordView::try_new(kind, &batch).unwrap();
    let v = validate(
        &view,
        &ValidationContext::for_batch_date(DATE),
        &mut RecordIdTracker::new(),
    );
    (0..rows.len())
        .map(|r| {
            v.defects_of(r)
                .iter()
                .map(|d| (d.column.to_owned(), d.kind.code()))
                .collect()
        })
        .collect()
}

fn one(kind: Kind, patch: Json) -> Vec<(String, &'static str)> {
    let mut rec = good(kind);
    for (k, val) in patch.as_object().unwrap() {
        rec[k] = val.clone();
    }
    reasons(kind, &[rec]).remove(0)
}

fn d(col: &str, kind: DefectKind) -> Vec<(String, &'static str)> {
    vec![(col.to_owned(), kind.code())]
}

#[test]
fn good_records_of_every_kind_pass() {
    for kind in Kind::ALL {
        assert_eq!(reasons(kind, &[good(kind)]), vec![vec![]], "{kind}");
    }
}

#[test]
fn every_defect_class_is_found_and_named() {
    use DefectKind::*;
    let p = Kind::Production;
    let long = "x".repeat(257);
    assert_eq!(one(p, json!({"org_id": null})), d("org_id", MissingValue));
    assert_eq!(
        one(p, json!({"code": null, "lot_id": null})),
        d("code", NoSubject)
    );
    assert_eq!(
        one(p, json!({"code": "12 345678"})),
        d("code", MalformedCode)
    );
    assert_eq!(one(p, json!({"code": "12345"})), d("code", MalformedCode));
    assert_eq!(one(p, json!({"lot_id": ""})), d("lot_id", MalformedLotId));
    assert_eq!(one(p, json!({"sku": "a b"})), d("sku", MalformedIdentifier));
    assert_eq!(one(p, json!({"gtin": "4006381333932"})), d("gtin", BadGtin));
    assert_eq!(
        one(p, json!({"origin_country": "UK"})),
        d("origin_country", BadCountry)
    );
    assert_eq!(
        one(p, json!({"product_name": long})),
        d("product_name", TooLong)
    );
    assert_eq!(
        one(p, json!({"certifications": vec!["c"; 33]})),
        d("certifications", TooManyItems)
    );
    assert_eq!(
        one(p, json!({"certifications": ["a", null]})),
        d("certifications", NullListItem)
    );
    assert_eq!(
        one(p, json!({"certifications": ["y".repeat(257)]})),
        d("certifications", TooLong)
    );
    assert_eq!(
        one(
            p,
            json!({"attachments": [{"uri": "u", "digest": "md5:00"}]})
        ),
        d("attachments", MalformedDigest)
    );
    assert_eq!(
        one(p, json!({"attachments": [{"uri": "u", "digest": null}]})),
        d("attachments", NullListItem)
    );
    assert_eq!(
        one(p, json!({"expiry_date": DATE - 31})),
        d("expiry_date", ExpiryBeforeProduction)
    );
    assert_eq!(
        one(p, json!({"production_date": DATE + 2, "expiry_date": null})),
        d("production_date", TimeOutOfRange)
    );
    assert_eq!(
        one(p, json!({"event_time": -1})),
        d("event_time", TimeOutOfRange)
    );
    assert_eq!(
        one(p, json!({"event_time": T + 2 * 86_400_000_000})),
        d("event_time", TimeOutOfRange)
    );
    assert!(one(p, json!({"event_time": T + 2 * 86_400_000_000 - 1})).is_empty());
    let c = Kind::Customs;
    assert_eq!(
        one(c, json!({"hs_code": "19011"})),
        d("hs_code", MalformedHsCode)
    );
    assert_eq!(
        one(c, json!({"status": "lost"})),
        d("status", UnknownEnumValue)
    );
    assert_eq!(
        one(c, json!({"cleared_at": T - 11})),
        d("cleared_at", ClearedBeforeDeclared)
    );
    assert_eq!(
        one(c, json!({"trade_country": "XX"})),
        d("trade_country", BadCountry)
    );
    let l = Kind::Logistics;
    assert_eq!(
        one(l, json!({"event_type": "teleported"})),
        d("event_type", UnknownEnumValue)
    );
    let i = Kind::Inspection;
    assert_eq!(
        one(i, json!({"sample_size": -1})),
        d("sample_size", NegativeValue)
    );
    assert_eq!(
        one(i, json!({"report_digest": "sha256:abc"})),
        d("report_digest", MalformedDigest)
    );
    assert_eq!(
        one(i, json!({"result": "PASS"})),
        d("result", UnknownEnumValue)
    );
}

#[test]
fn several_defects_of_one_row_are_all_reported_in_column_order() {
    let r = one(
        Kind::Production,
        json!({"gtin": "1", "origin_country": "zz", "sku": null}),
    );
    assert_eq!(
        r,
        vec![
            ("gtin".to_owned(), "bad_gtin"),
            ("sku".to_owned(), "missing_value"),
            ("origin_country".to_owned(), "bad_country")
        ]
    );
}

#[test]
fn duplicate_record_ids_are_found_across_batches_of_a_file() {
    let kind = Kind::Logistics;
    let ctx = ValidationContext::for_batch_date(DATE);
    let mut ids = RecordIdTracker::new();
    let a = batch_from_json(kind, &[good(kind)]).unwrap();
    let b = batch_from_json(kind, &[good(kind), good(kind)]).unwrap();
    let va = validate(&RecordView::try_new(kind, &a).unwrap(), &ctx, &mut ids);
    let vb = validate(&RecordView::try_new(kind, &b).unwrap(), &ctx, &mut ids);
    assert_eq!(va.rejected_count(), 0);
    assert_eq!(vb.rejected_count(), 2);
    assert!(
        vb.defects()
            .iter()
            .all(|d| d.kind == DefectKind::DuplicateRecordId)
    );
}

#[test]
fn schema_errors_name_every_column() {
    let kind = Kind::Logistics;
    let batch = batch_from_json(kind, &[good(kind)]).unwrap();
    let schema = batch.schema();
    // Drop `location`, retype `waybill`, add `note`.
    let mut fields: Vec<Field> = schema
        .fields()
        .iter()
        .filter(|f| f.name() != "location")
        .map(|f| {
            if f.name() == "waybill" {
                Field::new("waybill", DataType::Int64, true)
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    fields.push(Field::new("note", DataType::Utf8, true));
    let err = check_schema(kind, &Schema::new(fields.clone())).unwrap_err();
    match &err {
        SchemaError::Mismatch {
            missing,
            unexpected,
            wrong_types,
            ..
        } => {
            assert_eq!(missing, &vec!["location"]);
            assert_eq!(unexpected, &vec!["note".to_owned()]);
            assert_eq!(wrong_types.len(), 1);
            assert_eq!(wrong_types[0].column, "waybill");
        }
        other => panic!("unexpected {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("location")
            && msg.contains("note")
            && msg.contains("waybill")
            && msg.contains("Int64")
    );
    // Binding a batch with the wrong schema fails the same way.
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec!["x"])),
        Arc::new(Int64Array::from(vec![1])),
    ];
    let odd = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("event_type", DataType::Utf8, true),
            Field::new("waybill", DataType::Int64, true),
        ])),
        arrays,
    )
    .unwrap();
    assert!(matches!(
        RecordView::try_new(kind, &odd),
        Err(SchemaError::Mismatch { .. })
    ));
    assert!(matches!(
        detect_kind(&odd.schema()),
        Err(SchemaError::Mismatch {
            kind: Kind::Logistics,
            ..
        })
    ));
}

/// A column named twice: one of the two would be read and the other not hashed, so the
/// schema is refused, naming the column; a timestamp of another unit or zone is named in the
/// words of SPEC.md 2.1.
#[test]
fn a_column_named_twice_is_refused() {
    let kind = Kind::Customs;
    let batch = batch_from_json(kind, &[good(kind)]).unwrap();
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("org_id", DataType::Utf8, true));
    let err = check_schema(kind, &Schema::new(fields.clone())).unwrap_err();
    match &err {
        SchemaError::Mismatch {
            missing,
            unexpected,
            duplicated,
            wrong_types,
            ..
        } => {
            assert!(missing.is_empty() && unexpected.is_empty() && wrong_types.is_empty());
            assert_eq!(duplicated, &vec!["org_id".to_owned()]);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("columns named more than once [org_id]"),
        "{err}"
    );
    assert!(matches!(
        detect_kind(&Schema::new(fields)),
        Err(SchemaError::Mismatch { .. })
    ));

    let retimed: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Timestamp(..) => Field::new(
                f.name(),
                DataType::Timestamp(arrow_schema::TimeUnit::Nanosecond, None),
                true,
            ),
            _ => f.as_ref().clone(),
        })
        .collect();
    let msg = check_schema(kind, &Schema::new(retimed))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains(
            "is Timestamp(Nanosecond, no time zone) but must be Timestamp(Microsecond, \"UTC\")"
        ),
        "{msg}"
    );
}

#[test]
fn unknown_or_ambiguous_schemas_are_refused() {
    let s = Schema::new(vec![Field::new("foo", DataType::Utf8, true)]);
    assert!(matches!(
        detect_kind(&s),
        Err(SchemaError::UnknownKind { .. })
    ));
    let s = Schema::new(vec![
        Field::new("gtin", DataType::Utf8, true),
        Field::new("event_type", DataType::Utf8, true),
    ]);
    let err = detect_kind(&s).unwrap_err();
    assert!(matches!(err, SchemaError::UnknownKind { .. }));
    // Several markers: the message names them, not every column.
    assert!(
        err.to_string()
            .contains("gtin (production) and event_type (logistics)"),
        "{err}"
    );
    for kind in Kind::ALL {
        assert_eq!(detect_kind(&kind.arrow_schema()), Ok(kind));
    }
}

#[test]
fn decoder_rejects_corruptions() {
    let kind = Kind::Logistics;
    let batch = batch_from_json(kind, &[good(kind)]).unwrap();
    let view = RecordView::try_new(kind, &batch).unwrap();
    let mut bytes = Vec::new();
    encode_row(&view, 0, &mut bytes);
    assert!(decode(&bytes).is_ok());
    let mut b = bytes.clone();
    b[0] = 2;
    assert!(decode(&b).is_err());
    let mut b = bytes.clone();
    b[1] = 9;
    assert!(decode(&b).is_err());
    let mut b = bytes.clone();
    b[6] = 7; // presence byte of record_id
    assert!(decode(&b).is_err());
    let mut b = bytes.clone();
    *b.last_mut().unwrap() = 1; // non-zero padding
    assert!(decode(&b).is_err());
    assert!(decode(&bytes[..bytes.len() - 1]).is_err());
    assert!(decode(&bytes[..10]).is_err());
}

fn text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(".{0,40}")
}

proptest! {
    #[test]
    fn encode_decode_round_trip(
        code in prop::option::of("[0-9]{20}"),
        loc in ".{0,300}",
        carrier in text(),
        waybill in text(),
        t in any::<i64>(),
    ) {
        let rec = json!({"record_id": "r", "code": code, "lot_id": "L", "org_id": "o",
            "event_time": t, "event_type": "arrived", "location": loc, "carrier": carrier, "waybill": waybill});
        let batch = batch_from_json(Kind::Logistics, &[rec]).unwrap();
        let view = RecordView::try_new(Kind::Logistics, &batch).unwrap();
        let mut bytes = vec![0xAA; 3]; // appends after existing bytes
        let len = encode_row(&view, 0, &mut bytes);
        prop_assert_eq!(len % 64, 0);
        prop_assert_eq!(bytes.len(), len + 3);
        let decoded = decode(&bytes[3..]).unwrap();
        prop_assert_eq!(decoded.values[5].clone(), Value::Text("arrived".into()));
        prop_assert_eq!(decoded.values[4].clone(), Value::Timestamp(t));
        prop_assert_eq!(decoded.values[6].clone(), Value::Text(loc));
        prop_assert_eq!(decoded.values[7].clone(), carrier.map_or(Value::Null, Value::Text));
    }
}

/// Boundaries of the rules of SPEC.md 2.3 that a one-off error would move: a code of 48
/// bytes is good and one of 49 is not (also when the whole block of rows is in the code
/// byte class, where only lengths are looked at); a digest has exactly 64 hex digits; an
/// expiry on the production date is not before it, nor a clearance at the declaration time.
#[test]
fn rule_boundaries_are_exact() {
    use DefectKind::*;
    let p = Kind::Production;
    let rows: Vec<Json> = [5usize, 6, 48, 49]
        .iter()
        .map(|&n| {
            let mut r = good(p);
            r["record_id"] = json!(format!("r-{n}"));
            r["code"] = json!("7".repeat(n));
            r
        })
        .collect();
    assert_eq!(
        reasons(p, &rows),
        vec![
            d("code", MalformedCode),
            vec![],
            vec![],
            d("code", MalformedCode)
        ]
    );
    let i = Kind::Inspection;
    for hex in ["0".repeat(63), "0".repeat(65), "0".repeat(72)] {
        assert_eq!(
            one(i, json!({"report_digest": format!("blake3:{hex}")})),
            d("report_digest", MalformedDigest),
            "{} hex digits",
            hex.len()
        );
        let digest = format!("sha256:{hex}");
        assert_eq!(
            one(p, json!({"attachments": [{"uri": "u", "digest": digest}]})),
            d("attachments", MalformedDigest),
            "{} hex digits",
            hex.len()
        );
    }
    assert!(one(p, json!({"expiry_date": DATE - 30})).is_empty());
    assert_eq!(
        one(p, json!({"expiry_date": DATE - 31})),
        d("expiry_date", ExpiryBeforeProduction)
    );
    let c = Kind::Customs;
    assert!(one(c, json!({"declared_at": T, "cleared_at": T})).is_empty());
    assert_eq!(
        one(c, json!({"declared_at": T, "cleared_at": T - 1})),
        d("cleared_at", ClearedBeforeDeclared)
    );
}

/// SPEC.md section 3: every padding byte must be zero, not only the last.
#[test]
fn decoder_rejects_a_non_zero_byte_anywhere_in_the_padding() {
    let kind = Kind::Logistics;
    let batch = batch_from_json(kind, &[good(kind)]).unwrap();
    let view = RecordView::try_new(kind, &batch).unwrap();
    let mut bytes = Vec::new();
    encode_row(&view, 0, &mut bytes);
    let stated = u32::from_le_bytes(bytes[2..6].try_into().unwrap()) as usize;
    assert!(
        bytes.len() - stated >= 2,
        "the record needs 2 padding bytes or more"
    );
    for at in stated..bytes.len() {
        let mut b = bytes.clone();
        b[at] = 1;
        assert!(decode(&b).is_err(), "padding byte {at} of {}", bytes.len());
    }
}
