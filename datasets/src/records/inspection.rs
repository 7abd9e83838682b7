//! Inspection records: the inspections of each lot in turn.

use std::ops::Range;
use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_array::builder::{Int32Builder, StringBuilder};
use proofmark_schemas::kind::{INSPECTION_RESULTS, INSPECTION_TYPES};
use proofmark_schemas::{DefectKind, Kind};

use super::{Common, LotText, LotsFrom, Out, push_digest, push_padded, push_u64, text_builder};
use crate::lexicon::{self};
use crate::plan::DatasetPlan;
use crate::rng::domain;

pub(super) struct Inspection {
    common: Common,
    agency_id: StringBuilder,
    agency_name: StringBuilder,
    inspection_type: StringBuilder,
    result: StringBuilder,
    report_id: StringBuilder,
    report_digest: StringBuilder,
    sample_size: Int32Builder,
}

impl Inspection {
    pub(super) fn new(rows: usize) -> Self {
        Inspection {
            common: Common::new(rows),
            agency_id: text_builder(rows, 10),
            agency_name: text_builder(rows, 50),
            inspection_type: text_builder(rows, 16),
            result: text_builder(rows, 4),
            report_id: text_builder(rows, 24),
            report_digest: text_builder(rows, 71),
            sample_size: Int32Builder::with_capacity(rows),
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
        let (run, mut skip) = plan.index.locate(Kind::Inspection, rows.start);
        let mut left = rows.end - rows.start;
        let mut report = String::with_capacity(40);
        let mut digest = String::with_capacity(71);
        'lots: for span in LotsFrom::new(plan.runs, run) {
            let lot = journeys.lot(span);
            let count = lot.inspection_count();
            if skip >= count {
                skip -= count;
                continue;
            }
            let text = LotText::new(&lot);
            for (n, inspection) in lot.inspections().enumerate().skip(skip as usize) {
                if left == 0 {
                    break 'lots;
                }
                left -= 1;
                let (agency_id, agency_name) = lexicon::AGENCIES[inspection.agency];
                report.clear();
                report.push_str("RPT-");
                report.push_str(agency_id);
                report.push('-');
                push_padded(&mut report, text.year as u64, 4);
                report.push('-');
                push_padded(&mut report, span.ordinal, 8);
                push_u64(&mut report, inspection.kind as u64);
                digest.clear();
                push_digest(
                    &mut digest,
                    &[seed, domain::DIGEST, span.ordinal, inspection.kind as u64],
                );
                out.begin_row();
                out.id.clear();
                out.id.push_str("ins-");
                push_u64(&mut out.id, span.ordinal);
                out.id.push('-');
                push_u64(&mut out.id, n as u64 + 1);
                self.common.put(
                    out,
                    None,
                    Some(&text.lot_id),
                    &plan.parties.agencies[inspection.agency],
                    inspection.time_us,
                );
                out.text(&mut self.agency_id, 5, Some(agency_id));
                out.text(&mut self.agency_name, 6, Some(agency_name));
                out.text(
                    &mut self.inspection_type,
                    7,
                    Some(INSPECTION_TYPES[inspection.kind]),
                );
                out.text(
                    &mut self.result,
                    8,
                    Some(INSPECTION_RESULTS[inspection.result]),
                );
                out.text(&mut self.report_id, 9, Some(&report));
                // A corrupted digest starts from a well-formed one even where none is published.
                let published = inspection.has_digest || out.hit(10).is_some();
                out.text(
                    &mut self.report_digest,
                    10,
                    published.then_some(digest.as_str()),
                );
                match out.hit_defect(DefectKind::NegativeValue) {
                    Some(inj) => self.sample_size.append_value(-1 - (inj.style % 100) as i32),
                    None => self.sample_size.append_option(inspection.sample_size),
                }
                out.end_row(&self.common.record_id);
            }
            skip = 0;
        }
        let mut columns = self.common.finish();
        columns.push(Arc::new(self.agency_id.finish()));
        columns.push(Arc::new(self.agency_name.finish()));
        columns.push(Arc::new(self.inspection_type.finish()));
        columns.push(Arc::new(self.result.finish()));
        columns.push(Arc::new(self.report_id.finish()));
        columns.push(Arc::new(self.report_digest.finish()));
        columns.push(Arc::new(self.sample_size.finish()));
        columns
    }
}
