//! A histogram of durations with fixed buckets, updated with atomics only:
//! one relaxed `fetch_add` for the bucket, one for the sum (the count is the
//! sum of the buckets). Observations never allocate nor lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the buckets of delivery latency and request
/// handling time: 50 µs to 10 s, about three buckets per decade.
pub const LATENCY_BOUNDS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

/// Upper bounds (seconds) of the buckets of session lifetime: one second to
/// a week.
pub const LIFETIME_BOUNDS: &[f64] = &[
    1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1_800.0, 3_600.0, 7_200.0, 21_600.0, 43_200.0,
    86_400.0, 172_800.0, 604_800.0,
];

/// Counts of observations per bucket, and their sum.
#[derive(Debug)]
pub struct Histogram {
    /// The upper bounds, seconds (as given, for the snapshot).
    bounds: &'static [f64],
    /// The same bounds in nanoseconds, for the comparison on each observation.
    bounds_ns: Box<[u64]>,
    /// Observations per bucket, not cumulative; one more than `bounds`: the
    /// last one counts what exceeds every bound (`+Inf`).
    counts: Box<[AtomicU64]>,
    sum_ns: AtomicU64,
}

/// A plain copy of a histogram: cumulative counts as Prometheus has them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HistogramSnapshot {
    /// `(upper bound in seconds, observations <= bound)`, bounds increasing;
    /// the observations above the last bound are in `count` only.
    pub buckets: Vec<(f64, u64)>,
    /// Every observation.
    pub count: u64,
    /// Sum of the observations, seconds.
    pub sum: f64,
}

impl Histogram {
    /// A histogram with these bucket bounds (seconds, increasing).
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            bounds_ns: bounds.iter().map(|s| (s * 1e9) as u64).collect(),
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_ns: AtomicU64::new(0),
        }
    }

    /// Counts one observation.
    pub fn observe(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        // The first bucket whose bound is at least `ns` (`le` is inclusive).
        let i = self.bounds_ns.partition_point(|&b| b < ns);
        if let Some(c) = self.counts.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// The counts now. Taken bucket by bucket while others may observe, so
    /// the count may be a few observations ahead of the sum (never behind
    /// the buckets: it is their total).
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut running = 0;
        let mut buckets = Vec::with_capacity(self.bounds.len());
        for (bound, c) in self.bounds.iter().zip(self.counts.iter()) {
            running += c.load(Ordering::Relaxed);
            buckets.push((*bound, running));
        }
        let over = self.counts.last().map_or(0, |c| c.load(Ordering::Relaxed));
        HistogramSnapshot {
            buckets,
            count: running + over,
            sum: self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_inclusive() {
        let h = Histogram::new(&[0.001, 0.01, 0.1]);
        h.observe(Duration::from_micros(500)); // <= 1 ms
        h.observe(Duration::from_millis(1)); // exactly on the bound: <= 1 ms
        h.observe(Duration::from_millis(5)); // <= 10 ms
        h.observe(Duration::from_secs(2)); // above every bound
        let s = h.snapshot();
        assert_eq!(s.buckets, vec![(0.001, 2), (0.01, 3), (0.1, 3)]);
        assert_eq!(s.count, 4);
        assert!((s.sum - 2.0065).abs() < 1e-9, "{}", s.sum);
    }

    #[test]
    fn empty_and_preset_bounds() {
        let s = Histogram::new(LATENCY_BOUNDS).snapshot();
        assert_eq!(s.count, 0);
        assert_eq!(s.buckets.len(), LATENCY_BOUNDS.len());
        for bounds in [LATENCY_BOUNDS, LIFETIME_BOUNDS] {
            assert!(bounds.windows(2).all(|w| w[0] < w[1]), "{bounds:?}");
        }
    }
}
