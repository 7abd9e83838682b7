//! Deterministic pseudo-random numbers.
//!
//! Every random choice of the generator comes from a SplitMix64 stream keyed
//! by the seed and the identity of what is being generated (an item, a lot, a
//! slot of bad rows, ...), never from a shared sequential stream. So any part
//! of the dataset can be generated on its own, in any order, on any thread,
//! and always comes out the same. Only integer arithmetic is used, so the
//! output does not depend on the platform's floating-point library either.

/// The SplitMix64 increment (the golden ratio in 64-bit fixed point).
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 finaliser: a bijective 64-bit mixer with good avalanche.
#[inline]
pub const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A 64-bit key derived from a sequence of parts (seed, domain tag, ids...).
/// Different part sequences give unrelated keys.
#[inline]
pub const fn key(parts: &[u64]) -> u64 {
    let mut h = 0x6A09_E667_F3BC_C908_u64;
    let mut i = 0;
    while i < parts.len() {
        h = mix64(h.wrapping_add(GOLDEN) ^ parts[i]);
        i += 1;
    }
    h
}

/// Domain tags that keep the streams of different purposes apart.
pub mod domain {
    /// The catalog of brands, SKUs and factories.
    pub const CATALOG: u64 = 1;
    /// Lot boundaries within a run of items.
    pub const RUN: u64 = 2;
    /// A lot's product, dates and parties.
    pub const LOT: u64 = 3;
    /// A lot's inspections.
    pub const INSPECTION: u64 = 4;
    /// An item's journey.
    pub const ITEM: u64 = 5;
    /// The traceability-code permutation.
    pub const CODE: u64 = 6;
    /// Scratch-off PINs.
    pub const PIN: u64 = 7;
    /// Positions of bad rows.
    pub const BAD_ROW: u64 = 8;
    /// Details of an injected defect.
    pub const DEFECT: u64 = 9;
    /// Content digests of attachments and reports.
    pub const DIGEST: u64 = 10;
}

/// A SplitMix64 stream.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A stream starting from `key`.
    #[inline]
    pub const fn new(key: u64) -> Self {
        Rng { state: key }
    }

    /// A stream keyed by `parts` (see [`key`]).
    #[inline]
    pub const fn from_parts(parts: &[u64]) -> Self {
        Rng::new(key(parts))
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix64(self.state)
    }

    /// A number in `0..n` (`n > 0`; multiply-shift, bias below 2^-40 for the
    /// small ranges used here).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `lo..hi` (`lo < hi`).
    #[inline]
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo) as u64) as i64
    }

    /// An index into a slice of length `len` (`len > 0`).
    #[inline]
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// An element of `items` (non-empty).
    #[inline]
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// `true` with probability `per_mille / 1000`.
    #[inline]
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// A discrete distribution over `0..n` with integer weights, sampled by
/// binary search over the cumulative weights.
#[derive(Debug, Clone)]
pub struct Weighted {
    cumulative: Vec<u64>,
}

impl Weighted {
    /// A distribution with the given weights (at least one positive).
    pub fn new(weights: impl IntoIterator<Item = u64>) -> Self {
        let mut total = 0u64;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                total += w;
                total
            })
            .collect();
        Weighted { cumulative }
    }

    /// A Zipf-like distribution over `n` ranks: rank `r` has weight
    /// `1 / (r + 1)^exponent` (exponent 1 or 2), in integers.
    pub fn zipf(n: usize, exponent: u32) -> Self {
        const SCALE: u64 = 1 << 40;
        Weighted::new((0..n as u64).map(|r| (SCALE / (r + 1).pow(exponent)).max(1)))
    }

    /// A sample.
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0);
        let x = rng.below(total);
        self.cumulative.partition_point(|&c| c <= x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_keyed() {
        let a: Vec<u64> = {
            let mut r = Rng::from_parts(&[1, 2, 3]);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Rng::from_parts(&[1, 2, 3]);
            (0..4).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(key(&[1, 2, 3]), key(&[1, 3, 2]));
        assert_ne!(key(&[0]), key(&[0, 0]));
    }

    #[test]
    fn below_and_range_stay_in_bounds() {
        let mut r = Rng::new(9);
        for n in [1u64, 2, 7, 1000, u64::MAX] {
            for _ in 0..1000 {
                assert!(r.below(n) < n);
            }
        }
        for _ in 0..1000 {
            let v = r.range(-5, 5);
            assert!((-5..5).contains(&v));
        }
    }

    #[test]
    fn zipf_favours_low_ranks() {
        let z = Weighted::zipf(100, 1);
        let mut r = Rng::new(1);
        let mut counts = [0u32; 100];
        for _ in 0..100_000 {
            counts[z.sample(&mut r)] += 1;
        }
        assert!(counts[0] > counts[9] * 5);
        assert!(counts[0] > 15_000 && counts[0] < 23_000, "{}", counts[0]);
        assert!(counts.iter().all(|&c| c > 0));
    }
}
