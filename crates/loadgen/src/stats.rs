//! The statistics of a run: a latency histogram with bounded relative error,
//! and the `seq` continuity check of one counter item.

/// Values below `2 * SUB` are counted exactly; above, each power of two is cut
/// into `SUB` buckets, so a bucket is at most 1/64 (1.6 %) of its values wide.
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// Buckets needed for every `u64`: the exact ones, then `SUB` per shift
/// from 1 to `63 - SUB_BITS`.
const BUCKETS: usize = ((64 - SUB_BITS) as usize) * (SUB as usize) + (SUB as usize);

/// A log-linear histogram of non-negative integers (latencies in
/// microseconds), in the manner of HdrHistogram: constant memory whatever the
/// number of samples, percentiles within 1.6 % of the exact value, and the
/// exact minimum and maximum.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    min: u64,
    max: u64,
    sum: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

/// The bucket of `v`.
fn index_of(v: u64) -> usize {
    if v < 2 * SUB {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros();
    let shift = msb - SUB_BITS;
    let mantissa = v >> shift;
    // mantissa is in [SUB, 2 * SUB): the buckets of one shift follow those
    // of the previous one without a hole.
    (u64::from(shift) * SUB + mantissa) as usize
}

/// The largest value that falls in bucket `i`.
fn highest_in(i: usize) -> u64 {
    let i = i as u64;
    if i < 2 * SUB {
        return i;
    }
    let shift = i / SUB - 1;
    let mantissa = i - shift * SUB;
    // For the last bucket this is u64::MAX exactly, without overflow.
    (mantissa << shift) + ((1u64 << shift) - 1)
}

impl Histogram {
    pub fn new() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
            min: u64::MAX,
            max: 0,
            sum: 0,
        }
    }

    pub fn record(&mut self, v: u64) {
        self.counts[index_of(v)] += 1;
        self.total += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.sum += u128::from(v);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max(&self) -> Option<u64> {
        (self.total > 0).then_some(self.max)
    }

    pub fn mean(&self) -> Option<f64> {
        (self.total > 0).then(|| self.sum as f64 / self.total as f64)
    }

    /// The value at quantile `q` (0 to 1): the smallest recorded value such
    /// that at least `q` of the samples are at or below it, rounded up to the
    /// end of its bucket (never above the maximum). `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let q = if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) };
        // The rank of the sample wanted, from 1.
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(highest_in(i).clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }
}

/// What the `seq` field of one counter item showed, in arrival order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqCheck {
    last: Option<u64>,
    /// Updates missing: a jump from 5 to 8 misses 2.
    pub missing: u64,
    /// Updates whose `seq` is not above the last one (repeats, reordering).
    pub duplicates: u64,
    pub received: u64,
}

impl SeqCheck {
    pub fn observe(&mut self, seq: u64) {
        self.received += 1;
        match self.last {
            Some(last) if seq <= last => {
                // The last value stays: a late or repeated update must not
                // make the next good one look like a gap.
                self.duplicates += 1;
                return;
            }
            Some(last) => self.missing += seq - last - 1,
            // The first update seen: the item may have counted before we
            // subscribed (its sequence lives as long as the server).
            None => {}
        }
        self.last = Some(seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_bounded() {
        // Every value lands in a bucket whose highest value is at least it,
        // and whose previous bucket ends below it.
        let mut probes: Vec<u64> = (0..5000).collect();
        for shift in 0..64 {
            let p = 1u64 << shift;
            probes.extend([p - 1, p, p + 1, p.saturating_mul(3) / 2]);
        }
        probes.push(u64::MAX);
        for v in probes {
            let i = index_of(v);
            assert!(i < BUCKETS, "{v}");
            assert!(highest_in(i) >= v, "{v}");
            if i > 0 {
                assert!(highest_in(i - 1) < v, "{v}");
            }
            // Width of the bucket relative to its values.
            let low = if i == 0 { 0 } else { highest_in(i - 1) + 1 };
            let width = highest_in(i) - low;
            assert!(
                width as f64 <= low as f64 / SUB as f64,
                "{v}: {low}+{width}"
            );
        }
        assert_eq!(index_of(u64::MAX), BUCKETS - 1);
        assert_eq!(highest_in(BUCKETS - 1), u64::MAX);
    }

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::new();
        for v in 1..=100 {
            h.record(v);
        }
        assert_eq!(h.count(), 100);
        assert_eq!(h.quantile(0.5), Some(50));
        assert_eq!(h.quantile(0.9), Some(90));
        assert_eq!(h.quantile(0.99), Some(99));
        assert_eq!(h.quantile(1.0), Some(100));
        assert_eq!(h.quantile(0.0), Some(1));
        assert_eq!(h.max(), Some(100));
        assert_eq!(h.mean(), Some(50.5));
    }

    #[test]
    fn large_values_are_within_the_relative_error() {
        let mut h = Histogram::new();
        // 1 ms .. 1 s in microseconds, evenly.
        let values: Vec<u64> = (1..=1000).map(|i| i * 1000).collect();
        for &v in &values {
            h.record(v);
        }
        for (q, exact) in [(0.5, 500_000u64), (0.9, 900_000), (0.99, 990_000)] {
            let got = h.quantile(q).unwrap_or(0);
            assert!(got >= exact, "q {q}: {got} < {exact}");
            let err = (got - exact) as f64 / exact as f64;
            assert!(err <= 1.0 / SUB as f64, "q {q}: {got} vs {exact}");
        }
        // The maximum is exact, and no quantile goes past it.
        assert_eq!(h.max(), Some(1_000_000));
        assert_eq!(h.quantile(1.0), Some(1_000_000));
    }

    #[test]
    fn skewed_distribution() {
        // 990 fast samples and 10 slow ones: p99 is still fast, max is slow.
        let mut h = Histogram::new();
        for _ in 0..990 {
            h.record(200);
        }
        for _ in 0..10 {
            h.record(50_000);
        }
        // 200 is in the bucket 200..=201.
        assert_eq!(h.quantile(0.5), Some(201));
        let p99 = h.quantile(0.99).unwrap_or(0);
        assert!((200..=203).contains(&p99), "{p99}");
        let p999 = h.quantile(0.999).unwrap_or(0);
        assert!((50_000..=50_000 + 50_000 / 64).contains(&p999), "{p999}");
        assert_eq!(h.max(), Some(50_000));
    }

    #[test]
    fn empty() {
        let empty = Histogram::new();
        assert_eq!(empty.count(), 0);
        assert_eq!(empty.quantile(0.5), None);
        assert_eq!(empty.max(), None);
        assert_eq!(empty.mean(), None);
    }

    #[test]
    fn single_sample() {
        let mut h = Histogram::new();
        h.record(123_456);
        for q in [0.0, 0.5, 0.99, 1.0, f64::NAN] {
            assert_eq!(h.quantile(q), Some(123_456), "{q}");
        }
    }

    #[test]
    fn seq_continuity() {
        let mut s = SeqCheck::default();
        // Starting anywhere is fine.
        for seq in [41, 42, 43] {
            s.observe(seq);
        }
        assert_eq!((s.missing, s.duplicates, s.received), (0, 0, 3));
        s.observe(46); // 44 and 45 missing
        assert_eq!(s.missing, 2);
        s.observe(46); // repeat
        s.observe(45); // late
        assert_eq!(s.duplicates, 2);
        s.observe(47); // continues after 46, not after 45
        assert_eq!((s.missing, s.duplicates, s.received), (2, 2, 7));
    }
}
