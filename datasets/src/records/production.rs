//! Production records: one per item, with its lot's product, factory, certifications and attachments.

use std::fmt::Write as _;
use std::ops::Range;
use std::sync::Arc;

use arrow_array::builder::{ArrayBuilder, Date32Builder, StringBuilder};
use arrow_array::{ArrayRef, ListArray, StructArray};
use arrow_buffer::{NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, FieldRef, SchemaRef};
use proofmark_schemas::kind::{MAX_LIST_ITEM_LEN, MAX_URI_LEN, attachment_fields};
use proofmark_schemas::{DefectKind, Kind};

use super::{Common, LotText, LotsFrom, Out, push_digest, push_item_code, push_u64, text_builder};
use crate::defects;
use crate::error::DatasetError;
use crate::journey::Lot;
use crate::lexicon::{CERTIFICATIONS, COUNTRIES};
use crate::plan::DatasetPlan;
use crate::rng::domain;

struct TextListCol {
    offsets: Vec<i32>,
    items: StringBuilder,
    nulls: NullBufferBuilder,
}

impl TextListCol {
    fn new(rows: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        TextListCol {
            offsets,
            items: text_builder(rows * 3, 10),
            nulls: NullBufferBuilder::new(rows),
        }
    }

    fn end(&mut self, valid: bool) {
        self.offsets.push(self.items.len() as i32);
        self.nulls.append(valid);
    }

    fn finish(mut self, field: &FieldRef) -> Result<ArrayRef, DatasetError> {
        let item = match field.data_type() {
            DataType::List(item) => Arc::clone(item),
            _ => Arc::new(arrow_schema::Field::new("item", DataType::Utf8, false)),
        };
        let list = ListArray::try_new(
            item,
            OffsetBuffer::new(ScalarBuffer::from(self.offsets)),
            Arc::new(self.items.finish()),
            self.nulls.finish(),
        )
        .map_err(DatasetError::Arrow)?;
        Ok(Arc::new(list))
    }
}

/// Lists of `{uri, digest}` attachments.
struct AttachmentListCol {
    offsets: Vec<i32>,
    uri: StringBuilder,
    digest: StringBuilder,
    item_nulls: NullBufferBuilder,
    nulls: NullBufferBuilder,
}

impl AttachmentListCol {
    fn new(rows: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        AttachmentListCol {
            offsets,
            uri: text_builder(rows * 2, 90),
            digest: text_builder(rows * 2, 71),
            item_nulls: NullBufferBuilder::new(rows * 2),
            nulls: NullBufferBuilder::new(rows),
        }
    }

    /// Appends one attachment; `None` parts are null, and `valid: false` is a null item.
    fn item(&mut self, uri: Option<&str>, digest: Option<&str>, valid: bool) {
        self.uri.append_option(uri);
        self.digest.append_option(digest);
        self.item_nulls.append(valid);
    }

    fn end(&mut self, valid: bool) {
        self.offsets.push(self.uri.len() as i32);
        self.nulls.append(valid);
    }

    fn finish(mut self, field: &FieldRef) -> Result<ArrayRef, DatasetError> {
        let item = match field.data_type() {
            DataType::List(item) => Arc::clone(item),
            _ => Arc::new(arrow_schema::Field::new(
                "item",
                DataType::Struct(attachment_fields()),
                false,
            )),
        };
        let values = StructArray::try_new(
            attachment_fields(),
            vec![Arc::new(self.uri.finish()), Arc::new(self.digest.finish())],
            self.item_nulls.finish(),
        )
        .map_err(DatasetError::Arrow)?;
        let list = ListArray::try_new(
            item,
            OffsetBuffer::new(ScalarBuffer::from(self.offsets)),
            Arc::new(values),
            self.nulls.finish(),
        )
        .map_err(DatasetError::Arrow)?;
        Ok(Arc::new(list))
    }
}

const ATTACHMENT_NAMES: [&str; 3] = [
    "certificate-of-analysis.pdf",
    "factory-line.jpg",
    "health-certificate.pdf",
];

pub(super) struct Production {
    common: Common,
    gtin: StringBuilder,
    product_name: StringBuilder,
    brand: StringBuilder,
    sku: StringBuilder,
    lot_number: StringBuilder,
    production_date: Date32Builder,
    expiry_date: Date32Builder,
    origin_country: StringBuilder,
    factory_id: StringBuilder,
    factory_name: StringBuilder,
    factory_address: StringBuilder,
    certifications: TextListCol,
    ingredients: StringBuilder,
    attachments: AttachmentListCol,
}

/// Per-lot attachment values of production records.
struct LotAttachments {
    items: Option<Vec<(String, String)>>,
}

impl LotAttachments {
    fn new(plan: &DatasetPlan, lot: &Lot, org_id: &str, lot_id: &str) -> Self {
        let items = lot.attachments.map(|n| {
            (0..n as usize)
                .map(|i| {
                    let uri = format!(
                        "https://evidence.proofmark.example/{org_id}/{lot_id}/{}",
                        ATTACHMENT_NAMES[i]
                    );
                    let mut digest = String::with_capacity(71);
                    push_digest(
                        &mut digest,
                        &[
                            plan.options.seed,
                            domain::DIGEST,
                            lot.span.ordinal,
                            100 + i as u64,
                        ],
                    );
                    (uri, digest)
                })
                .collect()
        });
        LotAttachments { items }
    }
}

impl Production {
    pub(super) fn new(rows: usize) -> Self {
        Production {
            common: Common::new(rows),
            gtin: text_builder(rows, 13),
            product_name: text_builder(rows, 40),
            brand: text_builder(rows, 16),
            sku: text_builder(rows, 16),
            lot_number: text_builder(rows, 8),
            production_date: Date32Builder::with_capacity(rows),
            expiry_date: Date32Builder::with_capacity(rows),
            origin_country: text_builder(rows, 2),
            factory_id: text_builder(rows, 12),
            factory_name: text_builder(rows, 40),
            factory_address: text_builder(rows, 60),
            certifications: TextListCol::new(rows),
            ingredients: text_builder(rows, 300),
            attachments: AttachmentListCol::new(rows),
        }
    }

    pub(super) fn emit(
        mut self,
        plan: &DatasetPlan,
        out: &mut Out<'_>,
        rows: Range<u64>,
        schema: &SchemaRef,
    ) -> Result<Vec<ArrayRef>, DatasetError> {
        let journeys = &plan.journeys;
        let catalog = &journeys.catalog;
        let seed = plan.options.seed;
        let (run, mut skip) = plan.index.locate(Kind::Production, rows.start);
        let mut left = rows.end - rows.start;
        let mut code = String::with_capacity(24);
        for span in LotsFrom::new(plan.runs, run) {
            if left == 0 {
                break;
            }
            if skip >= span.len {
                skip -= span.len;
                continue;
            }
            let lot = journeys.lot(span);
            let text = LotText::new(&lot);
            let sku = &catalog.skus[lot.sku];
            let brand = &catalog.brands[sku.brand];
            let factory = &catalog.factories[lot.factory];
            let attachments = LotAttachments::new(plan, &lot, &brand.org_id, &text.lot_id);
            let ingredients = sku.ingredients.map(|i| catalog.ingredients[i].as_str());
            let origin = COUNTRIES[factory.country].code;
            for k in skip..span.len {
                if left == 0 {
                    break;
                }
                left -= 1;
                let item = span.first_item + k;
                let journey = journeys.item(&lot, k);
                out.begin_row();
                out.id.clear();
                out.id.push_str("prd-");
                push_u64(&mut out.id, item);
                code.clear();
                push_item_code(&mut code, seed, item);
                self.common.put(
                    out,
                    Some(&code),
                    Some(&text.lot_id),
                    &brand.org_id,
                    journey.produced_us,
                );
                out.text(&mut self.gtin, 5, Some(&sku.gtin));
                out.text(&mut self.product_name, 6, Some(&sku.name));
                out.text(&mut self.brand, 7, Some(&brand.name));
                out.text(&mut self.sku, 8, Some(&sku.code));
                out.text(&mut self.lot_number, 9, Some(&text.lot_number));
                out.date(&mut self.production_date, 10, lot.production_day);
                match out.hit_defect(DefectKind::ExpiryBeforeProduction) {
                    Some(inj) => self
                        .expiry_date
                        .append_value(lot.production_day - 1 - (inj.style % 60) as i32),
                    None => self.expiry_date.append_value(lot.expiry_day),
                }
                out.text(&mut self.origin_country, 12, Some(origin));
                out.text(&mut self.factory_id, 13, Some(&factory.id));
                out.text(&mut self.factory_name, 14, factory.name.as_deref());
                out.text(&mut self.factory_address, 15, factory.address.as_deref());
                self.put_certifications(out, factory.certifications.as_deref());
                out.text(&mut self.ingredients, 17, ingredients);
                self.put_attachments(out, plan, &lot, &attachments);
                out.end_row(&self.common.record_id);
            }
            skip = 0;
        }
        let mut columns = self.common.finish();
        let field = |name: &str| {
            schema
                .field_with_name(name)
                .map(|f| Arc::new(f.clone()))
                .map_err(DatasetError::Arrow)
        };
        columns.push(Arc::new(self.gtin.finish()));
        columns.push(Arc::new(self.product_name.finish()));
        columns.push(Arc::new(self.brand.finish()));
        columns.push(Arc::new(self.sku.finish()));
        columns.push(Arc::new(self.lot_number.finish()));
        columns.push(Arc::new(self.production_date.finish()));
        columns.push(Arc::new(self.expiry_date.finish()));
        columns.push(Arc::new(self.origin_country.finish()));
        columns.push(Arc::new(self.factory_id.finish()));
        columns.push(Arc::new(self.factory_name.finish()));
        columns.push(Arc::new(self.factory_address.finish()));
        columns.push(self.certifications.finish(&field("certifications")?)?);
        columns.push(Arc::new(self.ingredients.finish()));
        columns.push(self.attachments.finish(&field("attachments")?)?);
        Ok(columns)
    }

    fn put_certifications(&mut self, out: &mut Out<'_>, certs: Option<&[&'static str]>) {
        let list = &mut self.certifications;
        let Some(inj) = out.hit(16) else {
            if let Some(certs) = certs {
                for c in certs {
                    list.items.append_value(c);
                }
            }
            list.end(certs.is_some());
            return;
        };
        let certs = certs.unwrap_or(&[]);
        match inj.defect {
            DefectKind::TooManyItems => {
                let n = 33 + (inj.style % 8) as usize;
                for i in 0..n {
                    list.items
                        .append_value(CERTIFICATIONS[i % CERTIFICATIONS.len()]);
                }
            }
            DefectKind::NullListItem => {
                let at = (inj.style % (certs.len() as u64 + 1)) as usize;
                for (i, c) in certs.iter().enumerate() {
                    if i == at {
                        list.items.append_null();
                    }
                    list.items.append_value(c);
                }
                if at == certs.len() {
                    list.items.append_null();
                }
            }
            _ => {
                // Too long: one item over the limit for list items.
                for c in certs {
                    list.items.append_value(c);
                }
                out.scratch.clear();
                out.scratch.push_str("ISO 22000:2018 certificate, scope:");
                defects::pad_past(
                    &mut out.scratch,
                    MAX_LIST_ITEM_LEN as usize,
                    " infant formula powder production",
                );
                list.items.append_value(&out.scratch);
            }
        }
        list.end(true);
    }

    fn put_attachments(
        &mut self,
        out: &mut Out<'_>,
        plan: &DatasetPlan,
        lot: &Lot,
        lot_attachments: &LotAttachments,
    ) {
        let list = &mut self.attachments;
        let items = lot_attachments.items.as_deref();
        let Some(inj) = out.hit(18) else {
            if let Some(items) = items {
                for (uri, digest) in items {
                    list.item(Some(uri), Some(digest), true);
                }
            }
            list.end(items.is_some());
            return;
        };
        let seed = plan.options.seed;
        let synth_digest = |s: &mut String, i: u64| {
            s.clear();
            push_digest(s, &[seed, domain::DIGEST, lot.span.ordinal, 200 + i]);
        };
        // Corruptions start from the lot's attachments, or one made up if it has none.
        let mut fallback_digest = String::with_capacity(71);
        synth_digest(&mut fallback_digest, 0);
        let fallback = [(
            String::from("https://evidence.proofmark.example/lots/coa.pdf"),
            fallback_digest,
        )];
        let items: &[(String, String)] = match items {
            Some(items) if !items.is_empty() => items,
            _ => &fallback,
        };
        match inj.defect {
            DefectKind::TooManyItems => {
                let n = 17 + inj.style % 8;
                let mut uri = String::with_capacity(80);
                for i in 0..n {
                    uri.clear();
                    let _ = write!(
                        uri,
                        "https://evidence.proofmark.example/lots/{}/photo-{i:02}.jpg",
                        lot.span.ordinal
                    );
                    synth_digest(&mut out.scratch, i);
                    list.item(Some(&uri), Some(&out.scratch), true);
                }
            }
            DefectKind::MalformedDigest => {
                for (i, (uri, clean)) in items.iter().enumerate() {
                    if i == 0 {
                        defects::corrupt_text(&inj, Some(clean), 71, &mut out.scratch);
                        list.item(Some(uri), Some(&out.scratch), true);
                    } else {
                        list.item(Some(uri), Some(clean), true);
                    }
                }
            }
            DefectKind::NullListItem => {
                let at = (inj.style / 3 % items.len() as u64) as usize;
                for (i, (uri, digest)) in items.iter().enumerate() {
                    match (i == at, inj.style % 3) {
                        (false, _) => list.item(Some(uri), Some(digest), true),
                        (true, 0) => list.item(None, Some(digest), true),
                        (true, 1) => list.item(Some(uri), None, true),
                        (true, _) => list.item(None, None, false),
                    }
                }
            }
            _ => {
                // Too long: a URI over the limit.
                for (uri, digest) in items {
                    list.item(Some(uri), Some(digest), true);
                }
                out.scratch.clear();
                out.scratch
                    .push_str("https://evidence.proofmark.example/archive/");
                defects::pad_past(&mut out.scratch, MAX_URI_LEN as usize, "scan-2026-");
                let mut digest = String::with_capacity(71);
                synth_digest(&mut digest, 99);
                list.item(Some(&out.scratch), Some(&digest), true);
            }
        }
        list.end(true);
    }
}
