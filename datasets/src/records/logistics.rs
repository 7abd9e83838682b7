//! Logistics records: the events of each item in turn (labelled, warehoused, shipped, delivered).

use std::ops::Range;
use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_array::builder::StringBuilder;
use proofmark_schemas::Kind;

use super::{Common, LotText, LotsFrom, Out, push_item_code, push_padded, push_u64, text_builder};
use crate::journey::ITEM_EVENTS;
use crate::lexicon::{self};
use crate::plan::DatasetPlan;

pub(super) struct Logistics {
    common: Common,
    event_type: StringBuilder,
    location: StringBuilder,
    carrier: StringBuilder,
    waybill: StringBuilder,
}

impl Logistics {
    pub(super) fn new(rows: usize) -> Self {
        Logistics {
            common: Common::new(rows),
            event_type: text_builder(rows, 9),
            location: text_builder(rows, 40),
            carrier: text_builder(rows, 20),
            waybill: text_builder(rows, 15),
        }
    }

    pub(super) fn emit(
        mut self,
        plan: &DatasetPlan,
        out: &mut Out<'_>,
        rows: Range<u64>,
    ) -> Vec<ArrayRef> {
        let journeys = &plan.journeys;
        let seed = plan.options.seed;
        let (run, mut skip) = plan.index.locate(Kind::Logistics, rows.start);
        let mut left = rows.end - rows.start;
        let mut code = String::with_capacity(24);
        let mut waybill = String::with_capacity(24);
        'lots: for span in LotsFrom::new(plan.runs, run) {
            let lot = journeys.lot(span);
            let mut text: Option<LotText> = None;
            for k in 0..span.len {
                if left == 0 {
                    break 'lots;
                }
                let journey = journeys.item(&lot, k);
                if skip >= journey.count as u64 {
                    skip -= journey.count as u64;
                    continue;
                }
                let item = span.first_item + k;
                let lot_id = &text.get_or_insert_with(|| LotText::new(&lot)).lot_id;
                code.clear();
                push_item_code(&mut code, seed, item);
                let (carrier, prefix, digits) = lexicon::CARRIERS[journey.carrier];
                waybill.clear();
                waybill.push_str(prefix);
                push_padded(&mut waybill, journey.waybill, digits as usize);
                let events = ITEM_EVENTS
                    .iter()
                    .zip(journey.events)
                    .enumerate()
                    .take(journey.count);
                for (e, (&event_type, time_us)) in events.skip(skip as usize) {
                    if left == 0 {
                        break 'lots;
                    }
                    left -= 1;
                    out.begin_row();
                    out.id.clear();
                    out.id.push_str("lgs-");
                    push_u64(&mut out.id, item);
                    out.id.push('-');
                    push_u64(&mut out.id, e as u64 + 1);
                    let at_warehouse = e < 2;
                    let org = if at_warehouse {
                        &plan.parties.warehouses[lot.port]
                    } else {
                        &plan.parties.carriers[journey.carrier]
                    };
                    let lot_ref = (e == 0).then_some(lot_id.as_str());
                    self.common.put(out, Some(&code), lot_ref, org, time_us);
                    out.text(&mut self.event_type, 5, Some(event_type));
                    let location = match e {
                        0..=2 => lexicon::WAREHOUSES[lot.port],
                        _ => lexicon::DESTINATIONS[journey.destination],
                    };
                    out.text(&mut self.location, 6, Some(location));
                    out.text(&mut self.carrier, 7, (!at_warehouse).then_some(carrier));
                    out.text(
                        &mut self.waybill,
                        8,
                        (!at_warehouse).then_some(waybill.as_str()),
                    );
                    out.end_row(&self.common.record_id);
                }
                skip = 0;
            }
        }
        let mut columns = self.common.finish();
        columns.push(Arc::new(self.event_type.finish()));
        columns.push(Arc::new(self.location.finish()));
        columns.push(Arc::new(self.carrier.finish()));
        columns.push(Arc::new(self.waybill.finish()));
        columns
    }
}
