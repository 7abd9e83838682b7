//! The records tell coherent journeys, and PINs stay secret.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{Array, RecordBatch, StringArray};
use proofmark_datasets::{GenerateOptions, item_code, item_pin};
use proofmark_schemas::Kind;
use proofmark_schemas::validate::{is_valid_code, is_valid_gtin};

use crate::{generate_with_threads, read_batches, read_truth, record_files, temp_dir};

fn text<'a>(batch: &'a RecordBatch, name: &str) -> &'a StringArray {
    batch.column_by_name(name).unwrap().as_string::<i32>()
}

fn opt(a: &StringArray, i: usize) -> Option<String> {
    a.is_valid(i).then(|| a.value(i).to_owned())
}

/// Every row of every file of `kind` that is not a bad row, as (batch, row).
fn clean_rows(
    dir: &std::path::Path,
    kind: Kind,
    bad: &HashSet<(String, u64)>,
) -> Vec<(RecordBatch, Vec<usize>)> {
    let summary: proofmark_datasets::DatasetSummary =
        serde_json::from_str(&std::fs::read_to_string(dir.join("dataset.json")).unwrap()).unwrap();
    let mut out = Vec::new();
    for (k, name, path) in record_files(dir, &summary) {
        if k != kind {
            continue;
        }
        let mut offset = 0u64;
        for batch in read_batches(&path) {
            let rows = (0..batch.num_rows())
                .filter(|&r| !bad.contains(&(name.clone(), offset + r as u64)))
                .collect();
            offset += batch.num_rows() as u64;
            out.push((batch, rows));
        }
    }
    out
}

#[test]
fn journeys_are_coherent() {
    let dir = temp_dir();
    let opts = GenerateOptions::new(8_000, dir.path())
        .with_seed(21)
        .with_bad_rate(0.01)
        .with_files_per_kind(2)
        .with_rows_per_group(2_000);
    let summary = generate_with_threads(&opts, 2);
    let bad: HashSet<(String, u64)> = read_truth(dir.path())
        .into_iter()
        .map(|t| (t.file, t.row))
        .collect();
    let batch_end = (i64::from(opts.batch_date_days) + 1) * 86_400_000_000;

    // Production: one record per code, with its lot.
    let mut lot_of: HashMap<String, String> = HashMap::new();
    let mut brands_per_lot: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut non_ascii_names = 0;
    for (batch, rows) in clean_rows(dir.path(), Kind::Production, &bad) {
        let (code, lot, gtin, name, org) = (
            text(&batch, "code"),
            text(&batch, "lot_id"),
            text(&batch, "gtin"),
            text(&batch, "product_name"),
            text(&batch, "org_id"),
        );
        for r in rows {
            assert!(is_valid_code(code.value(r)) && code.value(r).len() == 20);
            assert!(is_valid_gtin(gtin.value(r)) && gtin.value(r).len() == 13);
            non_ascii_names += usize::from(!name.value(r).is_ascii());
            brands_per_lot
                .entry(lot.value(r).to_owned())
                .or_default()
                .insert(org.value(r).to_owned());
            assert!(
                lot_of
                    .insert(code.value(r).to_owned(), lot.value(r).to_owned())
                    .is_none(),
                "one production record per code"
            );
        }
    }
    assert!(lot_of.len() > 7_800, "{}", lot_of.len());
    assert!(non_ascii_names > 0);
    assert!(
        brands_per_lot.values().all(|b| b.len() == 1),
        "a lot is made by one brand"
    );
    assert!(brands_per_lot.len() as u64 >= summary.lots - 1);
    for item in [0, 1, 4_000, 7_999] {
        let code = item_code(21, item);
        assert!(
            lot_of.contains_key(&code)
                || bad
                    .iter()
                    .any(|(f, r)| f.contains("production") && *r == item),
            "{code}"
        );
    }

    // Logistics: per code, labelled first (binding the code to its lot), then strictly later events.
    let mut events: HashMap<String, Vec<(i64, String, Option<String>)>> = HashMap::new();
    for (batch, rows) in clean_rows(dir.path(), Kind::Logistics, &bad) {
        let (code, lot, ty) = (
            text(&batch, "code"),
            text(&batch, "lot_id"),
            text(&batch, "event_type"),
        );
        let time = batch
            .column_by_name("event_time")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        for r in rows {
            assert!(time.value(r) < batch_end);
            events.entry(code.value(r).to_owned()).or_default().push((
                time.value(r),
                ty.value(r).to_owned(),
                opt(lot, r),
            ));
        }
    }
    let order = ["labelled", "warehoused", "shipped", "delivered"];
    let mut labelled = 0;
    let mut delivered = 0;
    for (code, evs) in &events {
        if evs[0].1 == "labelled" {
            labelled += 1;
            if let Some(lot) = lot_of.get(code) {
                assert_eq!(
                    evs[0].2.as_ref(),
                    Some(lot),
                    "labelled binds the code to its production lot"
                );
            }
        }
        delivered += usize::from(evs.iter().any(|e| e.1 == "delivered"));
        assert!(
            evs.windows(2).all(|w| w[0].0 < w[1].0),
            "{code}: times increase"
        );
        let positions: Vec<usize> = evs
            .iter()
            .map(|e| order.iter().position(|o| *o == e.1).unwrap())
            .collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "{code}: events in order"
        );
    }
    assert!(labelled > 7_800, "{labelled}");
    assert!(
        delivered > 1_000 && delivered < labelled,
        "some items are delivered, not all: {delivered}"
    );
    for code in lot_of.keys() {
        assert!(events.contains_key(code), "{code} has logistics events");
    }

    // Customs and inspections are about lots: every lot has a declaration and a loading supervision.
    let mut declared: BTreeSet<String> = BTreeSet::new();
    for (batch, rows) in clean_rows(dir.path(), Kind::Customs, &bad) {
        let (code, lot) = (text(&batch, "code"), text(&batch, "lot_id"));
        let (d, c) = (
            batch
                .column_by_name("declared_at")
                .unwrap()
                .as_primitive::<TimestampMicrosecondType>(),
            batch
                .column_by_name("cleared_at")
                .unwrap()
                .as_primitive::<TimestampMicrosecondType>(),
        );
        for r in rows {
            assert!(code.is_null(r));
            assert!(c.is_null(r) || c.value(r) > d.value(r));
            declared.insert(lot.value(r).to_owned());
        }
    }
    let mut supervised: BTreeSet<String> = BTreeSet::new();
    let mut results: BTreeSet<String> = BTreeSet::new();
    for (batch, rows) in clean_rows(dir.path(), Kind::Inspection, &bad) {
        let (code, lot, ty, res) = (
            text(&batch, "code"),
            text(&batch, "lot_id"),
            text(&batch, "inspection_type"),
            text(&batch, "result"),
        );
        for r in rows {
            assert!(code.is_null(r));
            results.insert(res.value(r).to_owned());
            if ty.value(r) == "loading_supervision" {
                supervised.insert(lot.value(r).to_owned());
            }
        }
    }
    let lots: BTreeSet<&String> = brands_per_lot.keys().collect();
    let missing = |set: &BTreeSet<String>| lots.iter().filter(|l| !set.contains(**l)).count();
    assert!(missing(&declared) <= summary.kind("customs").unwrap().bad_rows as usize);
    assert!(missing(&supervised) <= summary.kind("inspection").unwrap().bad_rows as usize);
    assert!(results.contains("pass"));
}

#[test]
fn pins_exist_for_every_code_and_never_appear_in_records() {
    let dir = temp_dir();
    let opts = GenerateOptions::new(3_000, dir.path()).with_seed(13);
    let summary = generate_with_threads(&opts, 2);
    let csv = std::fs::read_to_string(dir.path().join("secrets/pins.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("code,pin"));
    let pins: HashMap<String, String> = lines
        .map(|l| {
            let (code, pin) = l.split_once(',').unwrap();
            assert!(
                pin.len() == 8 && pin.bytes().all(|b| b.is_ascii_digit()),
                "{pin}"
            );
            (code.to_owned(), pin.to_owned())
        })
        .collect();
    assert_eq!(pins.len(), 3_000);
    assert_eq!(pins[&item_code(13, 17)], item_pin(13, 17));

    let mut codes = HashSet::new();
    let mut all_values: HashSet<String> = HashSet::new();
    for (kind, _, path) in record_files(dir.path(), &summary) {
        for batch in read_batches(&path) {
            assert!(
                batch
                    .schema()
                    .fields()
                    .iter()
                    .all(|f| !f.name().contains("pin"))
            );
            for column in batch.columns() {
                if let Some(strings) = column.as_string_opt::<i32>() {
                    all_values.extend(strings.iter().flatten().map(str::to_owned));
                }
            }
            if kind == Kind::Production {
                let (code, record) = (text(&batch, "code"), text(&batch, "record_id"));
                for r in 0..batch.num_rows() {
                    codes.insert(code.value(r).to_owned());
                    // Nothing in an item's production record gives its PIN away.
                    let pin = &pins[code.value(r)];
                    assert!(!record.value(r).contains(pin.as_str()));
                }
            }
        }
    }
    assert_eq!(codes, pins.keys().cloned().collect());
    assert!(
        pins.values().all(|p| !all_values.contains(p)),
        "a PIN is a record value"
    );
}
