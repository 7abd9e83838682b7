//! Where every record goes: items are cut into lots, and each kind's records
//! are numbered and split into files and row groups.
//!
//! Items are grouped in *runs* of [`RUN_ITEMS`] consecutive items, each cut
//! into [`LOTS_PER_RUN`] lots at seeded points, so the lot of any item and
//! the items of any lot are found without looking at other runs. Records
//! of a kind are numbered in item order (production: one per item;
//! logistics: the events of each item in turn; customs: one per lot;
//! inspection: the inspections of each lot in turn). [`RowIndex`] holds,
//! per run, the number of records of each kind before it: 32 bytes per
//! 2,048 items, the only state that grows with the dataset.

use std::ops::Range;

use proofmark_schemas::Kind;
use rayon::prelude::*;

use crate::journey::{Journeys, LotSpan};
use crate::rng::{Rng, domain};

/// Items per run.
pub const RUN_ITEMS: u64 = 2_048;
/// Lots per full run (lots have about 256 items, at least 96, at most 416).
pub const LOTS_PER_RUN: u64 = 8;
/// How far a cut between lots may move from its even position, in items.
const CUT_JITTER: u64 = 80;

/// Index of a kind in per-kind arrays (`Kind::ALL` order).
#[inline]
pub const fn kind_index(kind: Kind) -> usize {
    (kind.code() - 1) as usize
}

/// The lots of a run.
#[derive(Debug, Clone, Copy)]
pub struct RunLots {
    spans: [LotSpan; LOTS_PER_RUN as usize],
    len: usize,
}

impl RunLots {
    /// The lots, in item order.
    pub fn spans(&self) -> &[LotSpan] {
        &self.spans[..self.len]
    }
}

/// Cuts items into runs and lots.
#[derive(Debug, Clone, Copy)]
pub struct Runs {
    seed: u64,
    items: u64,
}

impl Runs {
    /// Runs over `items` items.
    pub const fn new(seed: u64, items: u64) -> Self {
        Runs { seed, items }
    }

    /// Number of runs.
    pub const fn count(&self) -> u64 {
        self.items.div_ceil(RUN_ITEMS)
    }

    /// Total number of lots.
    pub fn lots(&self) -> u64 {
        let full = self.items / RUN_ITEMS;
        let rest = self.items % RUN_ITEMS;
        full * LOTS_PER_RUN + rest.min(LOTS_PER_RUN)
    }

    /// The lots of run `run`. A full run is cut at seeded points around
    /// multiples of 256; the last, partial run is cut evenly.
    pub fn lots_of(&self, run: u64) -> RunLots {
        let first = run * RUN_ITEMS;
        let len = (self.items - first).min(RUN_ITEMS);
        let mut cuts = [0u64; LOTS_PER_RUN as usize + 1];
        let n = if len == RUN_ITEMS {
            let mut rng = Rng::from_parts(&[self.seed, domain::RUN, run]);
            for (k, cut) in cuts
                .iter_mut()
                .enumerate()
                .take(LOTS_PER_RUN as usize)
                .skip(1)
            {
                let even = k as u64 * RUN_ITEMS / LOTS_PER_RUN;
                *cut = even - CUT_JITTER + rng.below(2 * CUT_JITTER + 1);
            }
            LOTS_PER_RUN
        } else {
            let n = len.min(LOTS_PER_RUN);
            for (k, cut) in cuts.iter_mut().enumerate().take(n as usize).skip(1) {
                *cut = k as u64 * len / n;
            }
            n
        };
        cuts[n as usize] = len;
        let mut spans = [LotSpan {
            ordinal: 0,
            first_item: 0,
            len: 0,
        }; LOTS_PER_RUN as usize];
        for k in 0..n as usize {
            spans[k] = LotSpan {
                ordinal: run * LOTS_PER_RUN + k as u64,
                first_item: first + cuts[k],
                len: cuts[k + 1] - cuts[k],
            };
        }
        RunLots {
            spans,
            len: n as usize,
        }
    }
}

/// Per run, the number of records of each kind before it.
#[derive(Debug, Clone)]
pub struct RowIndex {
    /// `starts[r][k]`: records of kind `k` before run `r`; one extra entry holds the totals.
    starts: Vec<[u64; 4]>,
}

impl RowIndex {
    /// Counts the records of every run (in parallel) and sums them up.
    pub fn build(journeys: &Journeys, runs: Runs) -> Self {
        let counts: Vec<[u64; 4]> = (0..runs.count())
            .into_par_iter()
            .map(|run| {
                let mut c = [0u64; 4];
                for &span in runs.lots_of(run).spans() {
                    let lot = journeys.lot(span);
                    c[kind_index(Kind::Production)] += span.len;
                    c[kind_index(Kind::Customs)] += 1;
                    c[kind_index(Kind::Inspection)] += lot.inspection_count();
                    c[kind_index(Kind::Logistics)] += (0..span.len)
                        .map(|k| journeys.item(&lot, k).count as u64)
                        .sum::<u64>();
                }
                c
            })
            .collect();
        let mut starts = Vec::with_capacity(counts.len() + 1);
        let mut total = [0u64; 4];
        starts.push(total);
        for c in counts {
            for k in 0..4 {
                total[k] += c[k];
            }
            starts.push(total);
        }
        RowIndex { starts }
    }

    /// Total records of `kind`.
    pub fn total(&self, kind: Kind) -> u64 {
        self.starts.last().map_or(0, |t| t[kind_index(kind)])
    }

    /// The run holding record `row` of `kind`, and the record's position within the run.
    pub fn locate(&self, kind: Kind, row: u64) -> (u64, u64) {
        let k = kind_index(kind);
        let run = self.starts.partition_point(|s| s[k] <= row) - 1;
        (run as u64, row - self.starts[run][k])
    }
}

/// One output file: a kind's records `rows`, written in row groups.
#[derive(Debug, Clone)]
pub struct FilePlan {
    /// The record kind.
    pub kind: Kind,
    /// The file's number within its kind.
    pub index: u32,
    /// Path relative to the dataset directory (`records/<kind>/part-NNNNN.parquet`).
    pub path: String,
    /// The kind's records in this file (global record numbers).
    pub rows: Range<u64>,
    /// Rows per row group.
    pub rows_per_group: u64,
}

impl FilePlan {
    /// Number of row groups.
    pub fn row_groups(&self) -> u64 {
        (self.rows.end - self.rows.start).div_ceil(self.rows_per_group)
    }

    /// Global record numbers of row group `group`.
    pub fn group_rows(&self, group: u64) -> Range<u64> {
        let start = self.rows.start + group * self.rows_per_group;
        start..(start + self.rows_per_group).min(self.rows.end)
    }

    /// Number of rows.
    pub fn num_rows(&self) -> u64 {
        self.rows.end - self.rows.start
    }
}

/// Splits each kind's records evenly over `files_per_kind` files.
pub fn plan_files(index: &RowIndex, files_per_kind: u32, rows_per_group: u64) -> Vec<FilePlan> {
    let mut files = Vec::new();
    for kind in Kind::ALL {
        let total = u128::from(index.total(kind));
        let f = u128::from(files_per_kind);
        for i in 0..files_per_kind {
            let start = (total * u128::from(i) / f) as u64;
            let end = (total * (u128::from(i) + 1) / f) as u64;
            files.push(FilePlan {
                kind,
                index: i,
                path: format!("records/{}/part-{i:05}.parquet", kind.name()),
                rows: start..end,
                rows_per_group,
            });
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_cover_every_item_once() {
        for items in [1, 2, 3, 4, 5, 100, 2047, 2048, 2049, 10_000] {
            let runs = Runs::new(7, items);
            let mut next_item = 0;
            let mut next_lot = 0;
            for r in 0..runs.count() {
                for s in runs.lots_of(r).spans() {
                    assert_eq!(s.first_item, next_item);
                    assert_eq!(s.ordinal, next_lot);
                    assert!(s.len > 0);
                    if items >= RUN_ITEMS && r + 1 < runs.count() {
                        assert!((96..=416).contains(&s.len), "{}", s.len);
                    }
                    next_item += s.len;
                    next_lot += 1;
                }
            }
            assert_eq!(next_item, items);
            assert_eq!(next_lot, runs.lots());
        }
    }

    #[test]
    fn index_locates_rows() {
        let journeys = Journeys::new(3, crate::date::DEFAULT_BATCH_DATE_DAYS);
        let runs = Runs::new(3, 5_000);
        let index = RowIndex::build(&journeys, runs);
        assert_eq!(index.total(Kind::Production), 5_000);
        assert_eq!(index.total(Kind::Customs), runs.lots());
        assert!(index.total(Kind::Logistics) >= 10_000);
        assert_eq!(index.locate(Kind::Production, 0), (0, 0));
        assert_eq!(index.locate(Kind::Production, 2_048), (1, 0));
        assert_eq!(index.locate(Kind::Production, 4_999), (2, 4_999 - 4_096));
        let files = plan_files(&index, 3, 1_000);
        assert_eq!(files.len(), 12);
        let prod: u64 = files
            .iter()
            .filter(|f| f.kind == Kind::Production)
            .map(FilePlan::num_rows)
            .sum();
        assert_eq!(prod, 5_000);
        assert_eq!(files[0].path, "records/production/part-00000.parquet");
        assert_eq!(files[0].row_groups(), 2);
        assert_eq!(files[0].group_rows(1), 1_000..1_666);
    }
}
