//! The results file of `scripts/bench.sh --peers`: one JSON object a line,
//! each a run of one server (or of the kernel floor) on one workload in one
//! round, with the figures shoal-load printed; and the statistics over
//! rounds that the tables and charts show.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Why a results file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("line {line}: not JSON: {source}")]
    Json {
        line: usize,
        source: serde_json::Error,
    },
    #[error("line {line}: not a JSON object")]
    NotObject { line: usize },
    #[error("line {line}: no {key:?}")]
    Missing { line: usize, key: &'static str },
}

/// One run.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// `fanout-1000`, `batch`, ...
    pub scenario: String,
    /// `fanout`, `batch`, `heavy`, `idle`, `storm`, or `floor`.
    pub workload: String,
    /// `shoal`, a peer's name, or `floor`.
    pub server: String,
    pub round: u32,
    pub clients: u64,
    /// Why the run failed, if it did (its figures are then absent).
    pub failed: Option<String>,
    figures: Map<String, Value>,
}

impl Run {
    /// A figure of the run, when it has it as a number.
    pub fn get(&self, key: &str) -> Option<f64> {
        self.figures.get(key).and_then(Value::as_f64)
    }
}

/// Reads every non-empty line.
pub fn parse(text: &str) -> Result<Vec<Run>, ResultsError> {
    let mut runs = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(raw).map_err(|source| ResultsError::Json { line, source })?;
        let Value::Object(figures) = value else {
            return Err(ResultsError::NotObject { line });
        };
        let text = |key: &'static str| {
            figures
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or(ResultsError::Missing { line, key })
        };
        let number = |key: &'static str| {
            figures
                .get(key)
                .and_then(Value::as_u64)
                .ok_or(ResultsError::Missing { line, key })
        };
        runs.push(Run {
            scenario: text("scenario")?,
            workload: text("workload")?,
            server: text("server")?,
            round: u32::try_from(number("round")?).unwrap_or(u32::MAX),
            clients: number("clients")?,
            failed: figures
                .get("failed")
                .and_then(Value::as_str)
                .map(str::to_owned),
            figures,
        });
    }
    Ok(runs)
}

/// Median, minimum and maximum of some values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub count: usize,
}

impl Spread {
    /// `None` for no finite value. The median of an even count is the mean
    /// of the two middle values.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Self> {
        let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Self {
            median,
            min: v[0],
            max: v[n - 1],
            count: n,
        })
    }
}

/// The runs of one scenario, by server in the order they first appear
/// (Shoal first, as the script runs it first), with the rounds in order.
pub fn by_server<'a>(runs: &'a [Run], scenario: &str) -> Vec<(String, Vec<&'a Run>)> {
    let mut order: Vec<String> = Vec::new();
    let mut map: BTreeMap<String, Vec<&Run>> = BTreeMap::new();
    for r in runs.iter().filter(|r| r.scenario == scenario) {
        if !map.contains_key(&r.server) {
            order.push(r.server.clone());
        }
        map.entry(r.server.clone()).or_default().push(r);
    }
    order
        .into_iter()
        .map(|s| {
            let mut rs = map.remove(&s).unwrap_or_default();
            rs.sort_by_key(|r| r.round);
            (s, rs)
        })
        .collect()
}

/// A figure's spread over the successful runs.
pub fn spread(runs: &[&Run], key: &str) -> Option<Spread> {
    Spread::of(
        runs.iter()
            .filter(|r| r.failed.is_none())
            .filter_map(|r| r.get(key)),
    )
}

/// Shoal's figure over another's, round by round (rounds where both have
/// it), as a spread: below 1 Shoal uses less.
pub fn ratio(shoal: &[&Run], shoal_key: &str, other: &[&Run], other_key: &str) -> Option<Spread> {
    Spread::of(shoal.iter().filter_map(|s| {
        let o = other
            .iter()
            .find(|o| o.round == s.round && o.failed.is_none())?;
        let (a, b) = (s.get(shoal_key)?, o.get(other_key)?);
        (b > 0.0 && s.failed.is_none()).then(|| a / b)
    }))
}

/// The scenarios in the order they first appear.
pub fn scenarios(runs: &[Run]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for r in runs {
        if r.workload != "floor" && !out.iter().any(|(s, _)| *s == r.scenario) {
            out.push((r.scenario.clone(), r.workload.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"scenario":"fanout-1000","workload":"fanout","server":"shoal","round":1,"clients":1000,"server_cpu_us_per_update":10}
{"scenario":"fanout-1000","workload":"fanout","server":"nchan","round":1,"clients":1000,"server_cpu_us_per_update":20}

{"scenario":"fanout-1000","workload":"fanout","server":"shoal","round":2,"clients":1000,"server_cpu_us_per_update":12}
{"scenario":"fanout-1000","workload":"fanout","server":"nchan","round":2,"clients":1000,"failed":"timed out"}
{"scenario":"fanout-1000","workload":"floor","server":"floor","round":1,"clients":1000,"floor_us_per_send":4}
"#;

    #[test]
    fn parses_lines() {
        let runs = parse(SAMPLE).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(runs.len(), 5);
        assert_eq!(runs[1].server, "nchan");
        assert_eq!(runs[1].get("server_cpu_us_per_update"), Some(20.0));
        assert_eq!(runs[3].failed.as_deref(), Some("timed out"));
        assert_eq!(runs[3].get("server_cpu_us_per_update"), None);
        assert_eq!(
            scenarios(&runs),
            [("fanout-1000".to_string(), "fanout".to_string())]
        );
        assert!(matches!(
            parse("{\"scenario\":1}"),
            Err(ResultsError::Missing { line: 1, .. })
        ));
        assert!(matches!(
            parse("\n[1]"),
            Err(ResultsError::NotObject { line: 2 })
        ));
        assert!(matches!(
            parse("{"),
            Err(ResultsError::Json { line: 1, .. })
        ));
    }

    #[test]
    fn spreads() {
        let s = Spread::of([3.0, 1.0, 2.0]);
        assert_eq!(
            s,
            Some(Spread {
                median: 2.0,
                min: 1.0,
                max: 3.0,
                count: 3
            })
        );
        assert_eq!(Spread::of([4.0, 1.0]).map(|s| s.median), Some(2.5));
        assert_eq!(Spread::of([f64::NAN]), None);
        assert_eq!(Spread::of([]), None);
    }

    #[test]
    fn ratios_pair_rounds() {
        let runs = parse(SAMPLE).unwrap_or_else(|e| panic!("{e}"));
        let groups = by_server(&runs, "fanout-1000");
        let names: Vec<&str> = groups.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(names, ["shoal", "nchan", "floor"]);
        let key = "server_cpu_us_per_update";
        // Round 2 of nchan failed: only round 1 pairs, 10 / 20.
        let r = ratio(&groups[0].1, key, &groups[1].1, key);
        assert_eq!(r.map(|r| (r.median, r.count)), Some((0.5, 1)));
        assert_eq!(spread(&groups[0].1, key).map(|s| s.median), Some(11.0));
        let floor = ratio(&groups[0].1, key, &groups[2].1, "floor_us_per_send");
        assert_eq!(floor.map(|r| r.median), Some(2.5));
    }
}
