//! The results of a run, as text for people or one JSON object for scripts.

use crate::session::Report;
use crate::stats::Histogram;
use serde_json::{json, Value};
use shoal_demo::parse_rate;
use std::fmt;
use std::time::Duration;

/// Everything measured, before it is summed up.
#[derive(Debug)]
pub struct Inputs {
    pub url: String,
    /// `tlcp`, or the peer's protocol.
    pub protocol: &'static str,
    pub mode: &'static str,
    pub items: Vec<String>,
    pub sessions: usize,
    /// Updates per second one session should receive (all its items).
    pub rate_per_session: u64,
    pub warmup: Duration,
    pub measured_for: Duration,
    pub connect_time: Duration,
    /// One per session that ran to the end and was destroyed cleanly.
    pub reports: Vec<Report>,
    pub latency: Histogram,
    pub server_peak_rss: Option<u64>,
    pub server_hwm: Option<u64>,
    /// The server's resident memory before the first session connected,
    /// and at the end of the measured window, bytes.
    pub server_rss_before: Option<u64>,
    pub server_rss_end: Option<u64>,
    /// CPU time in percent of one core while measuring.
    pub server_cpu: Option<f64>,
    /// CPU time of the remote adapters (summed), percent of one core.
    pub remote_cpu: Option<f64>,
    /// CPU time of the broker the items come through, and of the producer
    /// writing to it (each summed over its processes), percent of one core.
    pub broker_cpu: Option<f64>,
    pub producer_cpu: Option<f64>,
    pub loadgen_cpu: f64,
    /// CPU used by every other process of the machine while measuring.
    pub others_cpu: Option<f64>,
}

/// The figures of a run: what was measured, and what follows from it.
#[derive(Debug)]
pub struct Summary {
    pub inputs: Inputs,
    pub expected_per_s: f64,
    pub received_per_s: f64,
    pub ratio: f64,
    /// Updates received while measuring (each has a latency sample).
    pub updates_measured: u64,
    pub updates_total: u64,
    pub latency_ms: Option<Percentiles>,
    /// Updates missing from `seq`, over the whole run.
    pub gaps: u64,
    pub duplicates: u64,
    /// Updates the server reported dropping (`OV`).
    pub overflow: u64,
    /// Updates stamped later than they arrived (clocks out of step).
    pub early: u64,
    pub server_peak_rss_mib: Option<f64>,
    pub server_hwm_mib: Option<f64>,
    /// What each session added to the server's resident memory, KiB: the
    /// growth from before the first session to the end of the measured
    /// window, over the sessions.
    pub server_rss_per_session_kib: Option<f64>,
    /// The server's CPU time while measuring over the updates received
    /// then, in microseconds: the figure that compares across machines.
    pub server_cpu_us_per_update: Option<f64>,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram) -> Option<Self> {
        let ms = |us: u64| us as f64 / 1000.0;
        Some(Self {
            p50: ms(h.quantile(0.50)?),
            p90: ms(h.quantile(0.90)?),
            p99: ms(h.quantile(0.99)?),
            max: ms(h.max()?),
            mean: h.mean()? / 1000.0,
        })
    }
}

const MIB: f64 = 1024.0 * 1024.0;

impl Summary {
    pub fn new(inputs: Inputs) -> Self {
        let i = &inputs;
        let measured_s = i.measured_for.as_secs_f64();
        // Every update measured has a latency sample; sessions that did not
        // stop cleanly still count there.
        let measured = i.latency.count();
        let expected_per_s = i.sessions as f64 * i.rate_per_session as f64;
        let received_per_s = if measured_s > 0.0 {
            measured as f64 / measured_s
        } else {
            0.0
        };
        let seqs = || i.reports.iter().flat_map(|r| r.seq.iter());
        Self {
            expected_per_s,
            received_per_s,
            ratio: if expected_per_s > 0.0 {
                received_per_s / expected_per_s
            } else {
                0.0
            },
            updates_measured: measured,
            updates_total: i.reports.iter().map(Report::received).sum(),
            latency_ms: Percentiles::of(&i.latency),
            gaps: seqs().map(|s| s.missing).sum(),
            duplicates: seqs().map(|s| s.duplicates).sum(),
            overflow: i.reports.iter().map(|r| r.overflow).sum(),
            early: i.reports.iter().map(|r| r.early).sum(),
            server_peak_rss_mib: i.server_peak_rss.map(|b| b as f64 / MIB),
            server_hwm_mib: i.server_hwm.map(|b| b as f64 / MIB),
            server_rss_per_session_kib: rss_per_session_kib(
                i.server_rss_before,
                i.server_rss_end,
                i.sessions,
            ),
            server_cpu_us_per_update: i
                .server_cpu
                .filter(|_| measured > 0)
                .map(|percent| percent / 100.0 * measured_s * 1e6 / measured as f64),
            inputs,
        }
    }

    /// Sessions that ran to the end and were destroyed cleanly.
    pub fn sessions_completed(&self) -> usize {
        self.inputs.reports.len()
    }

    /// One flat JSON object on one line, keys in a fixed order.
    pub fn to_json(&self) -> String {
        let i = &self.inputs;
        let opt = |v: Option<f64>| v.map_or(Value::Null, figure);
        let lat = |f: fn(&Percentiles) -> f64| opt(self.latency_ms.as_ref().map(f));
        let fields = [
            ("url", json!(i.url)),
            ("mode", json!(i.mode)),
            ("items", json!(i.items)),
            ("sessions", json!(i.sessions)),
            ("sessions_completed", json!(self.sessions_completed())),
            ("connect_s", figure(i.connect_time.as_secs_f64())),
            ("warmup_s", figure(i.warmup.as_secs_f64())),
            ("measured_s", figure(i.measured_for.as_secs_f64())),
            ("expected_per_s", figure(self.expected_per_s)),
            ("received_per_s", figure(self.received_per_s)),
            ("ratio", figure(self.ratio)),
            ("updates_measured", json!(self.updates_measured)),
            ("updates_total", json!(self.updates_total)),
            ("latency_p50_ms", lat(|p| p.p50)),
            ("latency_p90_ms", lat(|p| p.p90)),
            ("latency_p99_ms", lat(|p| p.p99)),
            ("latency_max_ms", lat(|p| p.max)),
            ("latency_mean_ms", lat(|p| p.mean)),
            ("gaps", json!(self.gaps)),
            ("duplicates", json!(self.duplicates)),
            ("overflow", json!(self.overflow)),
            ("early", json!(self.early)),
            ("server_peak_rss_mib", opt(self.server_peak_rss_mib)),
            ("server_hwm_mib", opt(self.server_hwm_mib)),
            ("server_cpu_percent", opt(i.server_cpu)),
            ("remote_cpu_percent", opt(i.remote_cpu)),
            ("loadgen_cpu_percent", figure(i.loadgen_cpu)),
            ("others_cpu_percent", opt(i.others_cpu)),
            (
                "server_cpu_us_per_update",
                opt(self.server_cpu_us_per_update),
            ),
            ("protocol", json!(i.protocol)),
            (
                "server_rss_before_mib",
                opt(i.server_rss_before.map(|b| b as f64 / MIB)),
            ),
            (
                "server_rss_end_mib",
                opt(i.server_rss_end.map(|b| b as f64 / MIB)),
            ),
            (
                "server_rss_per_session_kib",
                opt(self.server_rss_per_session_kib),
            ),
            ("broker_cpu_percent", opt(i.broker_cpu)),
            ("producer_cpu_percent", opt(i.producer_cpu)),
        ];
        // A serde_json map would sort the keys (its preserve_order feature is
        // off): the object is joined here, in the order above. The keys are
        // plain identifiers; serde_json writes the values.
        let body: Vec<String> = fields
            .iter()
            .map(|(key, value)| format!("\"{key}\":{value}"))
            .collect();
        format!("{{{}}}\n", body.join(","))
    }
}

/// Memory growth per session in KiB; negative when the server gave memory
/// back meanwhile (allocators do), which is reported as it is.
pub fn rss_per_session_kib(before: Option<u64>, end: Option<u64>, sessions: usize) -> Option<f64> {
    let (before, end) = (before?, end?);
    (sessions > 0).then(|| (end as f64 - before as f64) / 1024.0 / sessions as f64)
}

/// A figure as the JSON output gives it: rounded to 3 decimals, whole
/// numbers without a fraction (`20`, not `20.0`), null when not finite.
fn figure(v: f64) -> Value {
    /// Whole numbers below this are exact in an `f64`.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    let rounded = (v * 1000.0).round() / 1000.0;
    if !rounded.is_finite() {
        Value::Null
    } else if rounded.fract() == 0.0 && rounded.abs() < EXACT {
        // Whole and in range: the cast is exact.
        json!(rounded as i64)
    } else {
        json!(rounded)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inputs;
        writeln!(
            f,
            "sessions            {} subscribed in {:.2} s, {} destroyed cleanly",
            i.sessions,
            i.connect_time.as_secs_f64(),
            self.sessions_completed()
        )?;
        writeln!(
            f,
            "items               {} x {} ({})",
            i.items.len(),
            i.mode,
            describe_items(&i.items)
        )?;
        writeln!(
            f,
            "measured            {:.1} s after a {:.1} s warm-up",
            i.measured_for.as_secs_f64(),
            i.warmup.as_secs_f64()
        )?;
        writeln!(f, "expected updates/s  {:.0}", self.expected_per_s)?;
        writeln!(f, "received updates/s  {:.0}", self.received_per_s)?;
        writeln!(f, "delivery ratio      {:.4}", self.ratio)?;
        match &self.latency_ms {
            Some(p) => writeln!(
                f,
                "latency ms          p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}  (mean {:.2}, {} updates)",
                p.p50, p.p90, p.p99, p.max, p.mean, self.updates_measured
            )?,
            None => writeln!(f, "latency ms          no update measured")?,
        }
        writeln!(
            f,
            "seq                 {} missing, {} duplicates ({} updates in all){}",
            self.gaps,
            self.duplicates,
            self.updates_total,
            if i.mode == "RAW" || i.mode == "-" {
                ""
            } else {
                "; conflation may skip updates in this mode"
            }
        )?;
        if self.overflow > 0 {
            writeln!(
                f,
                "overflow            {} updates dropped by the server (OV)",
                self.overflow
            )?;
        }
        if self.early > 0 {
            writeln!(
                f,
                "clock               {} updates stamped after they arrived",
                self.early
            )?;
        }
        if let (Some(rss), Some(hwm)) = (self.server_peak_rss_mib, self.server_hwm_mib) {
            writeln!(
                f,
                "server memory       peak RSS {rss:.1} MiB sampled (high-water mark {hwm:.1} MiB)"
            )?;
        }
        if let Some(kib) = self.server_rss_per_session_kib {
            writeln!(f, "server RSS/session  {kib:.1} KiB")?;
        }
        if let Some(cpu) = i.server_cpu {
            writeln!(f, "server CPU          {cpu:.1} % of one core")?;
        }
        if let Some(us) = self.server_cpu_us_per_update {
            writeln!(f, "server CPU/update   {us:.2} µs")?;
        }
        if let Some(cpu) = i.remote_cpu {
            writeln!(f, "remote adapter CPU  {cpu:.1} % of one core")?;
        }
        if let Some(cpu) = i.broker_cpu {
            writeln!(f, "broker CPU          {cpu:.1} % of one core")?;
        }
        if let Some(cpu) = i.producer_cpu {
            writeln!(f, "producer CPU        {cpu:.1} % of one core")?;
        }
        writeln!(f, "load generator CPU  {:.1} % of one core", i.loadgen_cpu)
    }
}

/// `rate-10..rate-19` for a run of consecutive rates, else the names.
pub fn describe_items(names: &[String]) -> String {
    let rates: Vec<u64> = names.iter().filter_map(|n| parse_rate(n).ok()).collect();
    let consecutive = rates.len() == names.len() && rates.windows(2).all(|w| w[1] == w[0] + 1);
    match (names.first(), names.last()) {
        (Some(first), Some(last)) if names.len() > 2 && consecutive => format!("{first}..{last}"),
        _ if names.len() > 6 => format!("{} ... ({} items)", names[..3].join(" "), names.len()),
        _ => names.join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::SeqCheck;

    fn report(seqs: &[u64]) -> Report {
        let mut check = SeqCheck::default();
        for &s in seqs {
            check.observe(s);
        }
        Report {
            overflow: 0,
            early: 0,
            seq: vec![check],
        }
    }

    fn inputs(reports: Vec<Report>, latency: Histogram) -> Inputs {
        Inputs {
            url: "ws://127.0.0.1:1/lightstreamer".into(),
            protocol: "tlcp",
            mode: "RAW",
            items: vec!["rate-10".into()],
            sessions: 2,
            rate_per_session: 10,
            warmup: Duration::from_secs(1),
            measured_for: Duration::from_secs(10),
            connect_time: Duration::from_millis(250),
            reports,
            latency,
            server_peak_rss: Some(3 * 1024 * 1024),
            server_hwm: Some(4 * 1024 * 1024),
            server_rss_before: Some(1024 * 1024),
            server_rss_end: Some(3 * 1024 * 1024),
            server_cpu: Some(12.5),
            remote_cpu: None,
            broker_cpu: Some(40.0),
            producer_cpu: None,
            loadgen_cpu: 3.25,
            others_cpu: None,
        }
    }

    #[test]
    fn sums_sessions() {
        let mut h = Histogram::new();
        for us in [1000, 2000, 3000, 4000] {
            for _ in 0..(us / 1000) * 19 {
                h.record(us);
            }
        }
        // 190 updates in 10 s.
        let s = Summary::new(inputs(vec![report(&[1, 2, 3, 5]), report(&[7, 7, 8])], h));
        assert_eq!(s.expected_per_s, 20.0);
        assert_eq!(s.received_per_s, 19.0);
        assert!((s.ratio - 0.95).abs() < 1e-12);
        assert_eq!((s.gaps, s.duplicates), (1, 1));
        assert_eq!(s.updates_total, 7);
        assert_eq!(s.server_peak_rss_mib, Some(3.0));
        let p = s.latency_ms.unwrap_or_else(|| panic!("no latency"));
        // Percentiles are within 1.6 % above the value; max and mean are exact.
        assert!((3.0..3.05).contains(&p.p50), "{p:?}");
        assert_eq!((p.p90, p.max, p.mean), (4.0, 4.0, 3.0));
    }

    #[test]
    fn json_is_one_flat_object() {
        let mut h = Histogram::new();
        h.record(5);
        let s = Summary::new(inputs(vec![report(&[1])], h));
        let j = s.to_json();
        assert!(j.starts_with("{\"url\":\"ws://127.0.0.1:1/lightstreamer\",\"mode\":\"RAW\","));
        assert!(j.contains("\"items\":[\"rate-10\"]"));
        assert!(j.contains("\"received_per_s\":0.1,"));
        assert!(j.contains("\"ratio\":0.005,"));
        assert!(j.contains("\"latency_p50_ms\":0.005,"));
        assert!(j.contains("\"server_cpu_percent\":12.5,\"remote_cpu_percent\":null,"));
        // 12.5 % of 10 s over 190 updates... here 1 update: 1.25 s of CPU.
        assert!(j.contains(
            "\"loadgen_cpu_percent\":3.25,\"others_cpu_percent\":null,\
             \"server_cpu_us_per_update\":1250000,\"protocol\":\"tlcp\","
        ));
        assert!(j.ends_with(
            "\"server_rss_before_mib\":1,\"server_rss_end_mib\":3,\
             \"server_rss_per_session_kib\":1024,\"broker_cpu_percent\":40,\
             \"producer_cpu_percent\":null}\n"
        ));
        // Text is the other output.
        assert!(format!("{s}").starts_with("sessions            2 subscribed in 0.25 s,"));
    }

    #[test]
    fn json_escapes_and_formats_figures() {
        let mut i = inputs(vec![report(&[1, 2])], Histogram::new());
        i.url = "ws://h:1/a\"b\\c\n".into();
        i.loadgen_cpu = f64::NAN;
        let s = Summary::new(i);
        let j = s.to_json();
        assert!(j.contains("\"url\":\"ws://h:1/a\\\"b\\\\c\\n\","), "{j}");
        // Whole numbers without a fraction, as before serde_json.
        assert!(j.contains("\"expected_per_s\":20,\"received_per_s\":0,\"ratio\":0,"));
        assert!(j.contains("\"measured_s\":10,"));
        assert!(j.contains("\"latency_p50_ms\":null,"));
        assert!(j.contains("\"loadgen_cpu_percent\":null,"));
        let parsed: Value = serde_json::from_str(&j).unwrap_or_else(|e| panic!("{e}: {j}"));
        let object = parsed.as_object().unwrap_or_else(|| panic!("{j}"));
        assert_eq!(object.len(), 35);
        // 2 MiB more for 2 sessions.
        assert_eq!(object["server_rss_per_session_kib"], 1024);
        assert_eq!(object["url"], "ws://h:1/a\"b\\c\n");
        assert_eq!(object["updates_total"], 2);
        // Flat: only the item list is not a single value.
        assert!(object
            .iter()
            .all(|(k, v)| k == "items" || !(v.is_object() || v.is_array())));
    }

    #[test]
    fn memory_per_session() {
        assert_eq!(
            rss_per_session_kib(Some(1 << 20), Some(3 << 20), 4),
            Some(512.0)
        );
        assert_eq!(
            rss_per_session_kib(Some(3 << 20), Some(2 << 20), 1),
            Some(-1024.0)
        );
        assert_eq!(rss_per_session_kib(None, Some(1), 1), None);
        assert_eq!(rss_per_session_kib(Some(1), Some(2), 0), None);
    }

    #[test]
    fn item_descriptions() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(describe_items(&names(&["rate-10"])), "rate-10");
        assert_eq!(
            describe_items(&names(&["rate-10", "rate-11", "rate-12"])),
            "rate-10..rate-12"
        );
        assert_eq!(
            describe_items(&names(&["rate-10", "rate-20"])),
            "rate-10 rate-20"
        );
    }
}
