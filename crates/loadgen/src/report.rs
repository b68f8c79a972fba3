//! The results of a run, as text for people or one JSON object for scripts.

use crate::session::Report;
use crate::stats::Histogram;
use std::fmt;
use std::time::Duration;

/// Everything measured, before it is summed up.
#[derive(Debug)]
pub struct Inputs {
    pub url: String,
    pub mode: &'static str,
    pub items: Vec<String>,
    pub sessions: usize,
    /// Updates per second one session should receive (all its items).
    pub rate_per_session: u64,
    pub warmup: Duration,
    pub measured_for: Duration,
    pub connect_time: Duration,
    pub reports: Vec<Report>,
    pub latency: Histogram,
    pub server_peak_rss: Option<u64>,
    pub server_hwm: Option<u64>,
    pub server_cpu: Option<f64>,
    pub loadgen_cpu: f64,
    /// CPU used by every other process of the machine while measuring.
    pub others_cpu: Option<f64>,
    pub json: bool,
}

/// The figures of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub url: String,
    pub mode: &'static str,
    pub items: Vec<String>,
    pub sessions: usize,
    /// Sessions that ran to the end and were destroyed cleanly.
    pub sessions_completed: usize,
    pub connect_s: f64,
    pub warmup_s: f64,
    pub measured_s: f64,
    pub expected_per_s: f64,
    pub received_per_s: f64,
    pub ratio: f64,
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
    pub server_cpu_percent: Option<f64>,
    pub loadgen_cpu_percent: f64,
    pub others_cpu_percent: Option<f64>,
    json: bool,
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
    pub fn new(i: Inputs) -> Self {
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
            url: i.url,
            mode: i.mode,
            sessions: i.sessions,
            sessions_completed: i.reports.len(),
            connect_s: i.connect_time.as_secs_f64(),
            warmup_s: i.warmup.as_secs_f64(),
            measured_s,
            expected_per_s,
            received_per_s,
            ratio: if expected_per_s > 0.0 {
                received_per_s / expected_per_s
            } else {
                0.0
            },
            updates_measured: measured,
            updates_total: i.reports.iter().map(|r| r.received).sum(),
            latency_ms: Percentiles::of(&i.latency),
            gaps: seqs().map(|s| s.missing).sum(),
            duplicates: seqs().map(|s| s.duplicates).sum(),
            overflow: i.reports.iter().map(|r| r.overflow).sum(),
            early: i.reports.iter().map(|r| r.early).sum(),
            server_peak_rss_mib: i.server_peak_rss.map(|b| b as f64 / MIB),
            server_hwm_mib: i.server_hwm.map(|b| b as f64 / MIB),
            server_cpu_percent: i.server_cpu,
            loadgen_cpu_percent: i.loadgen_cpu,
            others_cpu_percent: i.others_cpu,
            items: i.items,
            json: i.json,
        }
    }

    pub fn to_json(&self) -> String {
        let num = |v: f64| {
            if v.is_finite() {
                format!("{}", (v * 1000.0).round() / 1000.0)
            } else {
                "null".to_owned()
            }
        };
        let opt = |v: Option<f64>| v.map_or_else(|| "null".to_owned(), num);
        let lat = |f: fn(&Percentiles) -> f64| opt(self.latency_ms.as_ref().map(f));
        let mut fields: Vec<(&str, String)> = vec![
            ("url", json_string(&self.url)),
            ("mode", json_string(self.mode)),
            (
                "items",
                format!(
                    "[{}]",
                    self.items
                        .iter()
                        .map(|s| json_string(s))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            ),
            ("sessions", self.sessions.to_string()),
            ("sessions_completed", self.sessions_completed.to_string()),
            ("connect_s", num(self.connect_s)),
            ("warmup_s", num(self.warmup_s)),
            ("measured_s", num(self.measured_s)),
            ("expected_per_s", num(self.expected_per_s)),
            ("received_per_s", num(self.received_per_s)),
            ("ratio", num(self.ratio)),
            ("updates_measured", self.updates_measured.to_string()),
            ("updates_total", self.updates_total.to_string()),
        ];
        fields.extend([
            ("latency_p50_ms", lat(|p| p.p50)),
            ("latency_p90_ms", lat(|p| p.p90)),
            ("latency_p99_ms", lat(|p| p.p99)),
            ("latency_max_ms", lat(|p| p.max)),
            ("latency_mean_ms", lat(|p| p.mean)),
            ("gaps", self.gaps.to_string()),
            ("duplicates", self.duplicates.to_string()),
            ("overflow", self.overflow.to_string()),
            ("early", self.early.to_string()),
            ("server_peak_rss_mib", opt(self.server_peak_rss_mib)),
            ("server_hwm_mib", opt(self.server_hwm_mib)),
            ("server_cpu_percent", opt(self.server_cpu_percent)),
            ("loadgen_cpu_percent", num(self.loadgen_cpu_percent)),
            ("others_cpu_percent", opt(self.others_cpu_percent)),
        ]);
        let body: Vec<String> = fields
            .into_iter()
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect();
        format!("{{{}}}\n", body.join(","))
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.json {
            return f.write_str(&self.to_json());
        }
        writeln!(
            f,
            "sessions            {} subscribed in {:.2} s, {} destroyed cleanly",
            self.sessions, self.connect_s, self.sessions_completed
        )?;
        writeln!(
            f,
            "items               {} x {} ({})",
            self.items.len(),
            self.mode,
            describe_items(&self.items)
        )?;
        writeln!(
            f,
            "measured            {:.1} s after a {:.1} s warm-up",
            self.measured_s, self.warmup_s
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
            if self.mode == "RAW" {
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
        if let Some(cpu) = self.server_cpu_percent {
            writeln!(f, "server CPU          {cpu:.1} % of one core")?;
        }
        writeln!(
            f,
            "load generator CPU  {:.1} % of one core",
            self.loadgen_cpu_percent
        )
    }
}

/// `rate-10..rate-19` for a run of consecutive rates, else the names.
pub fn describe_items(names: &[String]) -> String {
    let rates: Vec<u64> = names
        .iter()
        .filter_map(|n| n.strip_prefix("rate-")?.parse().ok())
        .collect();
    let consecutive = rates.len() == names.len() && rates.windows(2).all(|w| w[1] == w[0] + 1);
    match (names.first(), names.last()) {
        (Some(first), Some(last)) if names.len() > 2 && consecutive => format!("{first}..{last}"),
        _ if names.len() > 6 => format!("{} ... ({} items)", names[..3].join(" "), names.len()),
        _ => names.join(" "),
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
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
            received: seqs.len() as u64,
            overflow: 0,
            early: 0,
            seq: vec![check],
        }
    }

    fn inputs(reports: Vec<Report>, latency: Histogram) -> Inputs {
        Inputs {
            url: "ws://127.0.0.1:1/lightstreamer".into(),
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
            server_cpu: Some(12.5),
            loadgen_cpu: 3.25,
            others_cpu: None,
            json: true,
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
        assert!(j.contains("\"server_cpu_percent\":12.5,"));
        assert!(j.ends_with("\"loadgen_cpu_percent\":3.25,\"others_cpu_percent\":null}\n"));
        assert_eq!(format!("{s}"), j);
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
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
