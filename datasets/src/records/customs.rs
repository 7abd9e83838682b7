//! Customs records: one declaration per lot.

use std::ops::Range;
use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_array::builder::{StringBuilder, TimestampMicrosecondBuilder};
use proofmark_schemas::kind::CUSTOMS_STATUSES;
use proofmark_schemas::{DefectKind, Kind};

use super::{Common, LotText, LotsFrom, Out, push_padded, push_u64, text_builder, time_builder};
use crate::journey::TradeCountry;
use crate::lexicon::{self, COUNTRIES};
use crate::plan::DatasetPlan;

pub(super) struct Customs {
    common: Common,
    declaration_id: StringBuilder,
    filing_id: StringBuilder,
    hs_code: StringBuilder,
    origin_country: StringBuilder,
    trade_country: StringBuilder,
    port_of_entry: StringBuilder,
    declared_at: TimestampMicrosecondBuilder,
    cleared_at: TimestampMicrosecondBuilder,
    status: StringBuilder,
}

impl Customs {
    pub(super) fn new(rows: usize) -> Self {
        Customs {
            common: Common::new(rows),
            declaration_id: text_builder(rows, 18),
            filing_id: text_builder(rows, 16),
            hs_code: text_builder(rows, 10),
            origin_country: text_builder(rows, 2),
            trade_country: text_builder(rows, 2),
            port_of_entry: text_builder(rows, 40),
            declared_at: time_builder(rows),
            cleared_at: time_builder(rows),
            status: text_builder(rows, 8),
        }
    }

    pub(super) fn emit(
        mut self,
        plan: &DatasetPlan,
        out: &mut Out<'_>,
        rows: Range<u64>,
    ) -> Vec<ArrayRef> {
        let journeys = &plan.journeys;
        let catalog = &journeys.catalog;
        let (run, skip) = plan.index.locate(Kind::Customs, rows.start);
        let mut declaration = String::with_capacity(24);
        let mut filing = String::with_capacity(24);
        for span in LotsFrom::new(plan.runs, run)
            .skip(skip as usize)
            .take((rows.end - rows.start) as usize)
        {
            let lot = journeys.lot(span);
            let text = LotText::new(&lot);
            let (port, port_code) = lexicon::PORTS[lot.port];
            let origin = COUNTRIES[catalog.factories[lot.factory].country].code;
            declaration.clear();
            declaration.push_str(port_code);
            push_padded(&mut declaration, text.year as u64, 4);
            declaration.push('1');
            push_padded(&mut declaration, span.ordinal % 1_000_000_000, 9);
            filing.clear();
            filing.push_str("BA");
            filing.push_str(port_code);
            push_padded(&mut filing, span.ordinal, 10);
            out.begin_row();
            out.id.clear();
            out.id.push_str("cst-");
            push_u64(&mut out.id, span.ordinal);
            let event_us = lot.cleared_us.unwrap_or(lot.declared_us);
            self.common.put(
                out,
                None,
                Some(&text.lot_id),
                &plan.parties.brokers[lot.broker as usize],
                event_us,
            );
            out.text(&mut self.declaration_id, 5, Some(&declaration));
            out.text(
                &mut self.filing_id,
                6,
                lot.has_filing.then_some(filing.as_str()),
            );
            out.text(
                &mut self.hs_code,
                7,
                Some(catalog.skus[lot.sku].category.hs_code()),
            );
            out.text(&mut self.origin_country, 8, Some(origin));
            let trade = match lot.trade_country {
                TradeCountry::Origin => Some(origin),
                TradeCountry::Hub(h) => Some(lexicon::TRADE_HUBS[h]),
                TradeCountry::Unknown => None,
            };
            out.text(&mut self.trade_country, 9, trade);
            out.text(&mut self.port_of_entry, 10, Some(port));
            out.time(&mut self.declared_at, 11, Some(lot.declared_us));
            match out.hit_defect(DefectKind::ClearedBeforeDeclared) {
                Some(inj) => self.cleared_at.append_value(
                    lot.declared_us - 60_000_000 - (inj.style % (48 * 3_600_000_000)) as i64,
                ),
                None => out.time(&mut self.cleared_at, 12, lot.cleared_us),
            }
            out.text(&mut self.status, 13, Some(CUSTOMS_STATUSES[lot.status]));
            out.end_row(&self.common.record_id);
        }
        let mut columns = self.common.finish();
        columns.push(Arc::new(self.declaration_id.finish()));
        columns.push(Arc::new(self.filing_id.finish()));
        columns.push(Arc::new(self.hs_code.finish()));
        columns.push(Arc::new(self.origin_country.finish()));
        columns.push(Arc::new(self.trade_country.finish()));
        columns.push(Arc::new(self.port_of_entry.finish()));
        columns.push(Arc::new(self.declared_at.finish()));
        columns.push(Arc::new(self.cleared_at.finish()));
        columns.push(Arc::new(self.status.finish()));
        columns
    }
}
