//! Journeys: the lots items are produced in, and the dated events of every
//! lot (inspections, a customs declaration) and item (production, then
//! labelled in a bonded warehouse, warehoused, shipped, delivered).
//!
//! A lot is one SKU made in one factory on one day. Its timeline runs from
//! production (five to twelve weeks before the batch date) through loading
//! supervision, sea freight, the customs declaration at the port of entry
//! and labelling in the bonded warehouse; items then ship to consumers as
//! orders come in. Events that would fall after the batch date have not
//! happened yet and are left out, so recent lots have fewer shipped and
//! delivered items. Every time is at or before the end of the batch date.

use proofmark_schemas::kind::{CUSTOMS_STATUSES, INSPECTION_RESULTS, INSPECTION_TYPES};

use crate::catalog::Catalog;
use crate::date::{MICROS_PER_DAY, MICROS_PER_HOUR, MICROS_PER_SECOND};
use crate::lexicon::{self, COUNTRIES};
use crate::rng::{Rng, domain};

/// Days before the batch date of the earliest and latest production day.
const PRODUCTION_DAYS_BEFORE: (i64, i64) = (35, 85);
/// Earliest supported batch date: factory audits up to 270 days before it must not precede 1970.
pub const MIN_BATCH_DATE_DAYS: i32 = 366;

/// Index of a value in a closed list of the schema (the lists are fixed in spec v1).
const fn position(list: &[&str], value: &str) -> usize {
    let mut i = 0;
    while i < list.len() {
        if const_eq(list[i], value) {
            return i;
        }
        i += 1;
    }
    panic!("value not in list")
}

const fn const_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `inspection_type` indices (into `INSPECTION_TYPES`).
pub mod inspection_type {
    use super::{INSPECTION_TYPES, position};
    /// `loading_supervision`.
    pub const LOADING: usize = position(INSPECTION_TYPES, "loading_supervision");
    /// `factory_audit`.
    pub const AUDIT: usize = position(INSPECTION_TYPES, "factory_audit");
    /// `circulation_sampling`.
    pub const SAMPLING: usize = position(INSPECTION_TYPES, "circulation_sampling");
    /// `ingredient_test`.
    pub const INGREDIENTS: usize = position(INSPECTION_TYPES, "ingredient_test");
    /// `label_check`.
    pub const LABEL: usize = position(INSPECTION_TYPES, "label_check");
}

const STATUS_RELEASED: usize = position(CUSTOMS_STATUSES, "released");
const STATUS_INSPECTING: usize = position(CUSTOMS_STATUSES, "inspecting");
const STATUS_HELD: usize = position(CUSTOMS_STATUSES, "held");
const STATUS_DECLARED: usize = position(CUSTOMS_STATUSES, "declared");
const STATUS_REJECTED: usize = position(CUSTOMS_STATUSES, "rejected");
const RESULT_PASS: usize = position(INSPECTION_RESULTS, "pass");
const RESULT_FAIL: usize = position(INSPECTION_RESULTS, "fail");
const RESULT_CONDITIONAL: usize = position(INSPECTION_RESULTS, "conditional");

/// The logistics events of an item, in order (indices into `LOGISTICS_EVENT_TYPES`).
pub const ITEM_EVENTS: [&str; 4] = ["labelled", "warehoused", "shipped", "delivered"];

/// Where a lot's items are: which items, which product, which parties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LotSpan {
    /// The lot's number (0-based, in item order).
    pub ordinal: u64,
    /// Its first item.
    pub first_item: u64,
    /// Its number of items.
    pub len: u64,
}

/// An inspection of a lot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inspection {
    /// Index into `INSPECTION_TYPES`.
    pub kind: usize,
    /// When (µs since the epoch).
    pub time_us: i64,
    /// Index into [`lexicon::AGENCIES`].
    pub agency: usize,
    /// Index into `INSPECTION_RESULTS`.
    pub result: usize,
    /// Units sampled, when the inspection samples.
    pub sample_size: Option<i32>,
    /// Whether the report's digest is published.
    pub has_digest: bool,
}

/// How a lot was traded: through its origin country, a hub, or not declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeCountry {
    /// The origin country.
    Origin,
    /// A trading hub (index into [`lexicon::TRADE_HUBS`]).
    Hub(usize),
    /// Not declared (null).
    Unknown,
}

/// A lot: its product, dates, customs declaration and inspections.
#[derive(Debug, Clone)]
pub struct Lot {
    /// Which items.
    pub span: LotSpan,
    /// The SKU (index into [`Catalog::skus`]).
    pub sku: usize,
    /// The factory (index into [`Catalog::factories`]).
    pub factory: usize,
    /// Production day (days since the epoch).
    pub production_day: i32,
    /// Expiry day.
    pub expiry_day: i32,
    /// When the first item was produced.
    pub production_start_us: i64,
    /// Port of entry (index into [`lexicon::PORTS`]; the bonded warehouse has the same index).
    pub port: usize,
    /// Customs broker number.
    pub broker: u64,
    /// Trade country of the declaration.
    pub trade_country: TradeCountry,
    /// Customs declaration time.
    pub declared_us: i64,
    /// Customs clearance time, if cleared by the end of the batch date.
    pub cleared_us: Option<i64>,
    /// Index into `CUSTOMS_STATUSES`.
    pub status: usize,
    /// Whether the declaration has a filing id.
    pub has_filing: bool,
    /// When labelling of the lot's items starts in the bonded warehouse.
    pub label_start_us: i64,
    /// Number of evidence attachments (`None`: the column is null).
    pub attachments: Option<u8>,
    /// Inspections, in a fixed order of types (absent ones are `None`).
    pub inspections: [Option<Inspection>; 5],
}

impl Lot {
    /// The inspections that took place, in order.
    pub fn inspections(&self) -> impl Iterator<Item = &Inspection> {
        self.inspections.iter().flatten()
    }

    /// Number of inspection records.
    pub fn inspection_count(&self) -> u64 {
        self.inspections.iter().flatten().count() as u64
    }
}

/// An item's own events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemJourney {
    /// When it was produced.
    pub produced_us: i64,
    /// Times of the events of [`ITEM_EVENTS`]; only the first `count` happened.
    pub events: [i64; 4],
    /// Number of logistics events that happened (2 to 4).
    pub count: usize,
    /// Carrier (index into [`lexicon::CARRIERS`]).
    pub carrier: usize,
    /// Delivery destination (index into [`lexicon::DESTINATIONS`]).
    pub destination: usize,
    /// Waybill number (digits after the carrier's prefix).
    pub waybill: u64,
}

/// Generates lots and item journeys for one seed and batch date.
#[derive(Debug, Clone)]
pub struct Journeys {
    /// The seed.
    pub seed: u64,
    /// The batch date (days since the epoch).
    pub batch_day: i32,
    /// The last microsecond of the batch date: no event is later.
    pub batch_end_us: i64,
    /// The catalog of brands, SKUs and factories.
    pub catalog: Catalog,
}

impl Journeys {
    /// Journeys of seed `seed` for the batch of `batch_day`.
    pub fn new(seed: u64, batch_day: i32) -> Self {
        Journeys {
            seed,
            batch_day,
            batch_end_us: (i64::from(batch_day) + 1) * MICROS_PER_DAY - 1,
            catalog: Catalog::new(seed),
        }
    }

    /// The lot of `span`.
    pub fn lot(&self, span: LotSpan) -> Lot {
        let mut rng = Rng::from_parts(&[self.seed, domain::LOT, span.ordinal]);
        let (sku, factory) = self.catalog.pick_product(&mut rng);
        let category = self.catalog.skus[sku].category;
        let day = i64::from(self.batch_day);
        let production_day =
            day - rng.range(PRODUCTION_DAYS_BEFORE.0, PRODUCTION_DAYS_BEFORE.1 + 1);
        let (shelf_lo, shelf_hi) = category.shelf_life_days();
        let expiry_day = production_day + rng.range(shelf_lo, shelf_hi + 1);
        let production_start_us = production_day * MICROS_PER_DAY
            + 6 * MICROS_PER_HOUR
            + rng.range(0, 2 * MICROS_PER_HOUR);
        let depart_us =
            production_day * MICROS_PER_DAY + rng.range(5 * MICROS_PER_DAY, 8 * MICROS_PER_DAY);
        let arrival_us = depart_us + rng.range(14 * MICROS_PER_DAY, 24 * MICROS_PER_DAY);
        let port = rng.index(lexicon::PORTS.len());
        let broker = rng.below(lexicon::BROKERS);
        let trade_country = match rng.below(10) {
            0..=6 => TradeCountry::Origin,
            7 | 8 => TradeCountry::Hub(rng.index(lexicon::TRADE_HUBS.len())),
            _ => TradeCountry::Unknown,
        };
        let declared_us = arrival_us + rng.range(2 * MICROS_PER_HOUR, 20 * MICROS_PER_HOUR);
        let clearance_us = declared_us + rng.range(4 * MICROS_PER_HOUR, 96 * MICROS_PER_HOUR);
        let (status, cleared_us) = match rng.below(1000) {
            0..=929 if clearance_us <= self.batch_end_us => (STATUS_RELEASED, Some(clearance_us)),
            0..=929 => (STATUS_INSPECTING, None),
            930..=959 => (STATUS_INSPECTING, None),
            960..=979 => (STATUS_HELD, None),
            980..=989 => (STATUS_DECLARED, None),
            _ => (STATUS_REJECTED, None),
        };
        let has_filing = rng.chance(850);
        let label_start_us = arrival_us + rng.range(12 * MICROS_PER_HOUR, 48 * MICROS_PER_HOUR);
        let attachments = match rng.below(100) {
            0..=4 => None,
            5..=7 => Some(0),
            _ => Some(1 + rng.below(3) as u8),
        };

        let mut irng = Rng::from_parts(&[self.seed, domain::INSPECTION, span.ordinal]);
        let origin = COUNTRIES[self.catalog.factories[factory].country].code;
        let result = |rng: &mut Rng| match rng.below(1000) {
            0..=939 => RESULT_PASS,
            940..=974 => RESULT_CONDITIONAL,
            _ => RESULT_FAIL,
        };
        let at_hours = |rng: &mut Rng, day_us: i64, from_h: i64, to_h: i64| {
            day_us + rng.range(from_h * MICROS_PER_HOUR, to_h * MICROS_PER_HOUR)
        };
        let audit = irng.chance(300).then(|| {
            let d = (production_day - irng.range(14, 181)) * MICROS_PER_DAY;
            Inspection {
                kind: inspection_type::AUDIT,
                time_us: at_hours(&mut irng, d, 8, 17),
                agency: *irng.pick(&[0, 3, 6]),
                result: result(&mut irng),
                sample_size: None,
                has_digest: irng.chance(920),
            }
        });
        let ingredient_test = irng.chance(800).then(|| {
            let d = (production_day + irng.range(1, 4)) * MICROS_PER_DAY;
            Inspection {
                kind: inspection_type::INGREDIENTS,
                time_us: at_hours(&mut irng, d, 9, 18),
                agency: *irng.pick(&[7, 3, 5, 1]),
                result: result(&mut irng),
                sample_size: Some(irng.range(3, 13) as i32),
                has_digest: irng.chance(920),
            }
        });
        let loading = Some(Inspection {
            kind: inspection_type::LOADING,
            time_us: depart_us - irng.range(2 * MICROS_PER_HOUR, 20 * MICROS_PER_HOUR),
            agency: lexicon::origin_agency(origin).unwrap_or(*irng.pick(&[4, 3, 1])),
            result: result(&mut irng),
            sample_size: Some(irng.range(1, 5) as i32),
            has_digest: irng.chance(920),
        });
        let label_check = irng.chance(150).then(|| Inspection {
            kind: inspection_type::LABEL,
            time_us: label_start_us + irng.range(MICROS_PER_HOUR, 6 * MICROS_PER_HOUR),
            agency: 0,
            result: result(&mut irng),
            sample_size: Some(irng.range(5, 21) as i32),
            has_digest: irng.chance(920),
        });
        let sampling = if irng.chance(300) {
            let time_us = label_start_us + irng.range(10 * MICROS_PER_DAY, 40 * MICROS_PER_DAY);
            let inspection = Inspection {
                kind: inspection_type::SAMPLING,
                time_us,
                agency: 2,
                result: result(&mut irng),
                sample_size: Some(irng.range(2, 7) as i32),
                has_digest: irng.chance(920),
            };
            (time_us <= self.batch_end_us).then_some(inspection)
        } else {
            None
        };

        Lot {
            span,
            sku,
            factory,
            production_day: production_day as i32,
            expiry_day: expiry_day as i32,
            production_start_us,
            port,
            broker,
            trade_country,
            declared_us,
            cleared_us,
            status,
            has_filing,
            label_start_us,
            attachments,
            inspections: [audit, ingredient_test, loading, label_check, sampling],
        }
    }

    /// The journey of the `k`-th item of `lot`.
    #[inline]
    pub fn item(&self, lot: &Lot, k: u64) -> ItemJourney {
        let item = lot.span.first_item + k;
        let mut rng = Rng::from_parts(&[self.seed, domain::ITEM, item]);
        let k = k as i64;
        let produced_us = lot.production_start_us
            + k * 30 * MICROS_PER_SECOND
            + rng.range(0, 30 * MICROS_PER_SECOND);
        let labelled =
            lot.label_start_us + k * 15 * MICROS_PER_SECOND + rng.range(0, 15 * MICROS_PER_SECOND);
        let warehoused = labelled + rng.range(MICROS_PER_HOUR, 8 * MICROS_PER_HOUR);
        let mut events = [labelled, warehoused, 0, 0];
        let mut count = 2;
        let r = rng.next_u64();
        if let Some(cleared) = lot.cleared_us {
            // Orders come in over the weeks after clearance.
            let shipped = warehoused.max(cleared)
                + 6 * MICROS_PER_HOUR
                + (r % (21 * MICROS_PER_DAY as u64)) as i64;
            if shipped <= self.batch_end_us {
                events[2] = shipped;
                count = 3;
                let delivered = shipped + rng.range(20 * MICROS_PER_HOUR, 5 * MICROS_PER_DAY);
                if delivered <= self.batch_end_us {
                    events[3] = delivered;
                    count = 4;
                }
            }
        }
        let carrier = rng.index(lexicon::CARRIERS.len());
        let digits = lexicon::CARRIERS[carrier].2;
        let waybill = rng.below(10u64.pow(digits.min(18)));
        ItemJourney {
            produced_us,
            events,
            count,
            carrier,
            destination: rng.index(lexicon::DESTINATIONS.len()),
            waybill,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timelines_are_ordered_and_before_the_batch_end() {
        let j = Journeys::new(11, crate::date::DEFAULT_BATCH_DATE_DAYS);
        for ordinal in 0..300 {
            let lot = j.lot(LotSpan {
                ordinal,
                first_item: ordinal * 1000,
                len: 416,
            });
            assert!(lot.production_start_us + 19 * MICROS_PER_DAY < lot.declared_us);
            assert!(lot.declared_us <= j.batch_end_us);
            assert!(
                lot.cleared_us
                    .is_none_or(|c| c > lot.declared_us && c <= j.batch_end_us)
            );
            assert!(lot.expiry_day > lot.production_day);
            assert!(lot.inspection_count() >= 1);
            assert!(
                lot.inspections()
                    .all(|i| i.time_us >= 0 && i.time_us <= j.batch_end_us)
            );
            for k in [0, 1, 415] {
                let item = j.item(&lot, k);
                assert!(item.count >= 2);
                assert!(item.produced_us < item.events[0]);
                assert!(item.events[..item.count].windows(2).all(|w| w[0] < w[1]));
                assert!(
                    item.events[..item.count]
                        .iter()
                        .all(|&t| t <= j.batch_end_us)
                );
            }
        }
    }
}
