//! A node's status document: `GET <dashboard_url_path>/status.json`, and
//! what the node announces through a shared broker. Peers read it to fill
//! their `cluster` item, so it is parsed as well as written here.
//!
//! It is built from the sampler's last reading ([`Probe`]) and the node's
//! identity ([`NodeInfo`]): asking for it never reads the engine again.

use crate::node::{rfc3339, NodeInfo};
use crate::stats::Probe;
use serde::{Deserialize, Serialize};
use shoal_engine::StreamKind;
use std::collections::BTreeMap;
use std::time::SystemTime;

/// The document. Rates are `null` until two readings were taken; CPU and
/// RSS are `null` where `/proc` cannot be read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub name: String,
    pub version: String,
    /// RFC 3339 UTC.
    pub started: String,
    pub uptime_s: u64,
    /// Where this node's console is reached (ends with `/`).
    pub console_url: String,
    /// False while the node drains (its health check answers 503).
    pub accepting: bool,
    /// No data adapter is unready.
    pub ready: bool,
    /// `<set>/<adapter>: why` of each data adapter that cannot serve now.
    #[serde(default)]
    pub unready: Vec<String>,
    pub sessions: u64,
    /// Sessions by stream, keyed by TLCP name (`WS-STREAMING`...).
    #[serde(default)]
    pub sessions_by_transport: BTreeMap<String, u64>,
    pub connections: u64,
    pub subscriptions: u64,
    pub items: u64,
    pub updates_per_s: Option<f64>,
    pub bytes_out_per_s: Option<f64>,
    pub cpu_pct: Option<f64>,
    pub rss_bytes: Option<u64>,
    pub latency_p99_ms: Option<f64>,
}

impl Status {
    /// The document for a reading taken at `now`. `unready` lists the
    /// adapters that are not ready, with why.
    pub fn of(
        node: &NodeInfo,
        probe: &Probe,
        accepting: bool,
        unready: Vec<String>,
        now: SystemTime,
    ) -> Self {
        let rates = probe.rates.as_ref();
        Self {
            name: node.name.clone(),
            version: node.version.clone(),
            started: rfc3339(node.started),
            uptime_s: now
                .duration_since(node.started)
                .unwrap_or_default()
                .as_secs(),
            console_url: node.console_url.clone(),
            accepting,
            ready: unready.is_empty(),
            unready,
            sessions: probe.sessions,
            sessions_by_transport: StreamKind::ALL
                .iter()
                .zip(probe.sessions_by_transport)
                .map(|(k, n)| (k.name().to_owned(), n))
                .collect(),
            connections: probe.connections,
            subscriptions: probe.subscriptions,
            items: probe.items,
            updates_per_s: rates.map(|r| r.updates_per_s),
            bytes_out_per_s: rates.map(|r| r.bytes_out_per_s),
            cpu_pct: rates.and_then(|r| r.cpu_pct),
            rss_bytes: probe.rss_bytes,
            latency_p99_ms: rates.and_then(|r| r.latency_p99_ms),
        }
    }

    pub fn to_json(&self) -> String {
        // A struct of plain fields always serializes; the fallback is
        // never taken.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    pub fn from_json(text: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(text)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::stats::Rates;
    use std::time::{Duration, UNIX_EPOCH};

    fn node() -> NodeInfo {
        NodeInfo {
            name: "node1".into(),
            version: "0.1.0".into(),
            pid: 1,
            started: UNIX_EPOCH + Duration::from_secs(1_000),
            listeners: vec![],
            control_link: None,
            console_url: "http://node1:8080/dashboard/".into(),
        }
    }

    #[test]
    fn the_document_comes_from_the_last_probe_and_round_trips() {
        let probe = Probe {
            sessions: 5,
            sessions_by_transport: [3, 1, 1, 0],
            connections: 6,
            subscriptions: 9,
            items: 4,
            rss_bytes: Some(1 << 20),
            rates: Some(Rates {
                updates_per_s: 12.5,
                bytes_out_per_s: 900.0,
                cpu_pct: Some(3.0),
                latency_p99_ms: Some(10.0),
                ..Rates::default()
            }),
            ..Probe::default()
        };
        let now = UNIX_EPOCH + Duration::from_secs(1_042);
        let unready = vec!["FEED/PRICES: broker unreachable".to_owned()];
        let s = Status::of(&node(), &probe, true, unready, now);
        assert_eq!(s.uptime_s, 42);
        assert!(!s.ready);
        assert_eq!(s.sessions_by_transport["WS-STREAMING"], 3);
        assert_eq!(s.sessions_by_transport["HTTP-POLLING"], 0);
        let json: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(json["name"], "node1");
        assert_eq!(json["started"], "1970-01-01T00:16:40Z");
        assert_eq!(json["console_url"], "http://node1:8080/dashboard/");
        assert_eq!(json["updates_per_s"], 12.5);
        assert_eq!(json["latency_p99_ms"], 10.0);
        assert_eq!(json["unready"][0], "FEED/PRICES: broker unreachable");
        assert_eq!(Status::from_json(s.to_json().as_bytes()).unwrap(), s);
    }

    #[test]
    fn the_first_reading_has_null_rates() {
        let s = Status::of(&node(), &Probe::default(), false, vec![], UNIX_EPOCH);
        let json: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        assert!(json["updates_per_s"].is_null());
        assert!(json["cpu_pct"].is_null());
        assert_eq!(json["accepting"], false);
        assert_eq!(json["ready"], true);
        assert!(Status::from_json(b"{\"name\":1}").is_err());
    }
}
