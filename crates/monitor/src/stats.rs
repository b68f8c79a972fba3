//! The `stats` item: one sample of the node's figures per second.
//!
//! A [`Probe`] is what one reading of the engine gave; [`FIELDS`] says how
//! each field of the item is taken from it. Adding a field is one line of
//! that table. A field with no getter yet answers `None`: the item carries
//! a null, and the console shows "–".

use shoal_adapter::ItemEvent;
use shoal_engine::{Engine, StatsSnapshot, StreamKind};
use std::time::{SystemTime, UNIX_EPOCH};

/// Samples kept for a DISTINCT snapshot: ten minutes, one per second.
pub const HISTORY: usize = 600;

/// One reading of the engine: its gauges, and its counters as they stood,
/// from which [`Probe::since`] makes rates per second.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Probe {
    /// When, in milliseconds since the Unix epoch.
    pub ts_ms: u64,
    pub sessions: u64,
    /// Sessions by stream, in [`StreamKind::ALL`] order.
    pub sessions_by_transport: [u64; 4],
    pub connections: u64,
    pub subscriptions: u64,
    pub items: u64,
    pub buffered_bytes: u64,
    pub updates: u64,
    pub bytes: u64,
    pub requests: u64,
    pub refused: u64,
    /// The delivery latency histogram: (bound in seconds, count <= bound).
    pub latency: Vec<(f64, u64)>,
    pub latency_count: u64,
    /// CPU seconds of the process (user + system), when /proc is readable.
    pub cpu_s: Option<f64>,
    pub rss_bytes: Option<u64>,
    pub threads: Option<u64>,
    /// Rates over the time since the previous reading; `None` for the
    /// first one.
    pub rates: Option<Rates>,
}

/// What changed per second between two readings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rates {
    pub updates_per_s: f64,
    pub bytes_out_per_s: f64,
    pub requests_per_s: f64,
    pub errors_per_s: f64,
    /// CPU time over wall time, percent of one core.
    pub cpu_pct: Option<f64>,
    /// Delivery latency quantiles of the updates delivered in between, in
    /// milliseconds (the bound of the bucket reached); `None` when nothing
    /// was delivered.
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
}

impl Probe {
    pub fn read(engine: &Engine, now: SystemTime) -> Self {
        let ts_ms = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Self::of(&engine.stats(), ts_ms)
    }

    /// The reading of a statistics snapshot taken at `ts_ms`.
    pub fn of(s: &StatsSnapshot, ts_ms: u64) -> Self {
        let mut by = [0; 4];
        for (i, kind) in StreamKind::ALL.iter().enumerate() {
            by[i] = s
                .sessions_by_transport
                .iter()
                .find(|(k, _)| k == kind)
                .map_or(0, |(_, n)| *n);
        }
        Self {
            ts_ms,
            sessions: s.sessions,
            sessions_by_transport: by,
            connections: s.connections_open,
            subscriptions: s.subscriptions,
            items: s.items,
            buffered_bytes: s.buffered_bytes,
            updates: s.updates_delivered,
            bytes: s.bytes_written,
            requests: s.requests_handled,
            refused: s.requests_refused,
            latency: s.delivery_latency.buckets.clone(),
            latency_count: s.delivery_latency.count,
            cpu_s: s.process.map(|p| p.cpu.as_secs_f64()),
            rss_bytes: s.process.map(|p| p.rss),
            threads: s.process.map(|p| p.threads),
            rates: None,
        }
    }

    /// This reading with its rates since `prev` (an earlier reading).
    pub fn since(mut self, prev: &Probe) -> Self {
        let secs = self.ts_ms.saturating_sub(prev.ts_ms) as f64 / 1000.0;
        if secs <= 0.0 {
            return self;
        }
        let per_s = |now: u64, then: u64| now.saturating_sub(then) as f64 / secs;
        let cpu_pct = match (self.cpu_s, prev.cpu_s) {
            (Some(now), Some(then)) => Some(((now - then).max(0.0) / secs) * 100.0),
            _ => None,
        };
        let delivered = self.latency_count.saturating_sub(prev.latency_count);
        let quantile = |q: f64| quantile_ms(&self.latency, &prev.latency, delivered, q);
        self.rates = Some(Rates {
            updates_per_s: per_s(self.updates, prev.updates),
            bytes_out_per_s: per_s(self.bytes, prev.bytes),
            requests_per_s: per_s(self.requests, prev.requests),
            errors_per_s: per_s(self.refused, prev.refused),
            cpu_pct,
            latency_p50_ms: quantile(0.5),
            latency_p99_ms: quantile(0.99),
        });
        self
    }

    /// The item's event for this reading, fields in [`FIELDS`] order.
    pub fn event(&self) -> ItemEvent {
        let mut ev = ItemEvent::with_capacity(FIELDS.len());
        for (name, get) in FIELDS {
            ev.push((*name).into(), get(self).map(Into::into));
        }
        ev
    }
}

/// The bound (in ms) of the first bucket where the observations made
/// between two cumulative histograms reach quantile `q`; `None` when there
/// were none. Observations above the last bound answer the last bound.
fn quantile_ms(now: &[(f64, u64)], then: &[(f64, u64)], total: u64, q: f64) -> Option<f64> {
    if total == 0 {
        return None;
    }
    let want = ((total as f64) * q).ceil().max(1.0) as u64;
    for (i, (bound, count)) in now.iter().enumerate() {
        let before = then.get(i).map_or(0, |(_, c)| *c);
        if count.saturating_sub(before) >= want {
            return Some(bound * 1000.0);
        }
    }
    now.last().map(|(bound, _)| bound * 1000.0)
}

/// A number with at most two decimals, as the console shows it.
fn num(v: f64) -> String {
    let r = (v * 100.0).round() / 100.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r}")
    }
}

/// How a field is read from a probe; `None` while Shoal cannot tell.
pub type Getter = fn(&Probe) -> Option<String>;

/// The fields of `stats`, in the order the console lists them.
pub const FIELDS: &[(&str, Getter)] = &[
    ("ts", |p| Some(p.ts_ms.to_string())),
    ("sessions", |p| Some(p.sessions.to_string())),
    ("items", |p| Some(p.items.to_string())),
    ("buffered_bytes", |p| Some(p.buffered_bytes.to_string())),
    ("sessions_ws_streaming", |p| {
        Some(p.sessions_by_transport[0].to_string())
    }),
    ("sessions_http_streaming", |p| {
        Some(p.sessions_by_transport[1].to_string())
    }),
    ("sessions_ws_polling", |p| {
        Some(p.sessions_by_transport[2].to_string())
    }),
    ("sessions_http_polling", |p| {
        Some(p.sessions_by_transport[3].to_string())
    }),
    ("connections", |p| Some(p.connections.to_string())),
    ("subscriptions", |p| Some(p.subscriptions.to_string())),
    ("updates_per_s", |p| {
        p.rates.as_ref().map(|r| num(r.updates_per_s))
    }),
    ("bytes_out_per_s", |p| {
        p.rates.as_ref().map(|r| num(r.bytes_out_per_s))
    }),
    ("requests_per_s", |p| {
        p.rates.as_ref().map(|r| num(r.requests_per_s))
    }),
    ("errors_per_s", |p| {
        p.rates.as_ref().map(|r| num(r.errors_per_s))
    }),
    ("latency_p50_ms", |p| {
        p.rates.as_ref()?.latency_p50_ms.map(num)
    }),
    ("latency_p99_ms", |p| {
        p.rates.as_ref()?.latency_p99_ms.map(num)
    }),
    ("cpu_pct", |p| p.rates.as_ref()?.cpu_pct.map(num)),
    ("rss_bytes", |p| p.rss_bytes.map(|v| v.to_string())),
    ("threads", |p| p.threads.map(|v| v.to_string())),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(ts_ms: u64, updates: u64, latency: &[u64], cpu_s: f64) -> Probe {
        let bounds = [0.001, 0.01, 0.1];
        Probe {
            ts_ms,
            sessions: 3,
            sessions_by_transport: [1, 1, 0, 0],
            items: 7,
            buffered_bytes: 4096,
            updates,
            bytes: updates * 100,
            latency: bounds
                .iter()
                .copied()
                .zip(latency.iter().copied())
                .collect(),
            latency_count: latency.last().copied().unwrap_or(0),
            cpu_s: Some(cpu_s),
            rss_bytes: Some(50 << 20),
            threads: Some(4),
            ..Probe::default()
        }
    }

    #[test]
    fn every_field_is_in_the_event_known_or_null() {
        let p = reading(1_700_000_000_123, 10, &[0, 0, 0], 1.0);
        let ev = p.event();
        let names: Vec<&str> = ev.fields().map(|(n, _)| n).collect();
        let expected: Vec<&str> = FIELDS.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, expected);
        assert_eq!(ev.get("ts"), Some(Some("1700000000123")));
        assert_eq!(ev.get("sessions"), Some(Some("3")));
        assert_eq!(ev.get("sessions_ws_streaming"), Some(Some("1")));
        assert_eq!(ev.get("items"), Some(Some("7")));
        assert_eq!(ev.get("buffered_bytes"), Some(Some("4096")));
        assert_eq!(ev.get("rss_bytes"), Some(Some("52428800")));
        // The first reading has nothing to make rates from.
        assert_eq!(ev.get("updates_per_s"), Some(None));
        assert_eq!(ev.get("cpu_pct"), Some(None));
    }

    #[test]
    fn rates_are_per_second_since_the_previous_reading() {
        let first = reading(10_000, 100, &[0, 0, 0], 1.0);
        // Two seconds later: 300 more updates, 0.5 s more CPU; 100
        // deliveries timed, 60 under 1 ms, 99 under 10 ms, 1 over 100 ms.
        let second = reading(12_000, 400, &[60, 99, 99], 1.5);
        let second = Probe {
            latency_count: 100,
            ..second
        }
        .since(&first);
        let ev = second.event();
        assert_eq!(ev.get("updates_per_s"), Some(Some("150")));
        assert_eq!(ev.get("bytes_out_per_s"), Some(Some("15000")));
        assert_eq!(ev.get("cpu_pct"), Some(Some("25")));
        assert_eq!(ev.get("latency_p50_ms"), Some(Some("1")));
        assert_eq!(ev.get("latency_p99_ms"), Some(Some("10")));

        // Nothing delivered since: no latency to tell.
        let third = reading(13_000, 400, &[60, 99, 99], 1.5);
        let third = Probe {
            latency_count: 100,
            ..third
        }
        .since(&second);
        assert_eq!(third.event().get("latency_p99_ms"), Some(None));
        assert_eq!(third.event().get("updates_per_s"), Some(Some("0")));
    }

    #[test]
    fn a_slow_delivery_beyond_the_last_bucket_shows_the_last_bound() {
        assert_eq!(quantile_ms(&[(0.1, 0)], &[(0.1, 0)], 1, 0.99), Some(100.0));
        assert_eq!(quantile_ms(&[(0.1, 0)], &[(0.1, 0)], 0, 0.99), None);
    }

    #[test]
    fn field_names_are_unique() {
        let mut names: Vec<&str> = FIELDS.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FIELDS.len());
    }
}
