//! The `stats` item: one sample of the node's figures per second.
//!
//! A [`Probe`] is what one reading of the engine gave; [`FIELDS`] says how
//! each field of the item is taken from it. Adding a field is one line of
//! that table. A field with no getter yet answers `None`: the item carries
//! a null, and the console shows "–".

use shoal_adapter::ItemEvent;
use shoal_engine::Engine;
use std::time::{SystemTime, UNIX_EPOCH};

/// Samples kept for a DISTINCT snapshot: ten minutes, one per second.
pub const HISTORY: usize = 600;

/// One reading of the engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probe {
    /// When, in milliseconds since the Unix epoch.
    pub ts_ms: u64,
    pub sessions: usize,
    pub items: usize,
    pub buffered_bytes: usize,
}

impl Probe {
    pub fn read(engine: &Engine, now: SystemTime) -> Self {
        let ts_ms = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Self {
            ts_ms,
            sessions: engine.session_count(),
            items: engine.item_count(),
            buffered_bytes: engine.buffered_bytes(),
        }
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

/// How a field is read from a probe; `None` while Shoal cannot tell.
pub type Getter = fn(&Probe) -> Option<String>;

/// The fields of `stats`, in the order the console lists them.
pub const FIELDS: &[(&str, Getter)] = &[
    ("ts", |p| Some(p.ts_ms.to_string())),
    ("sessions", |p| Some(p.sessions.to_string())),
    ("items", |p| Some(p.items.to_string())),
    ("buffered_bytes", |p| Some(p.buffered_bytes.to_string())),
    // Filled from the engine's statistics once they exist.
    ("sessions_ws_streaming", |_| None),
    ("sessions_http_streaming", |_| None),
    ("sessions_ws_polling", |_| None),
    ("sessions_http_polling", |_| None),
    ("connections", |_| None),
    ("subscriptions", |_| None),
    ("updates_per_s", |_| None),
    ("bytes_out_per_s", |_| None),
    ("requests_per_s", |_| None),
    ("errors_per_s", |_| None),
    ("latency_p50_ms", |_| None),
    ("latency_p99_ms", |_| None),
    ("cpu_pct", |_| None),
    ("rss_bytes", |_| None),
    ("threads", |_| None),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_in_the_event_known_or_null() {
        let p = Probe {
            ts_ms: 1_700_000_000_123,
            sessions: 3,
            items: 7,
            buffered_bytes: 4096,
        };
        let ev = p.event();
        let names: Vec<&str> = ev.fields().map(|(n, _)| n).collect();
        let expected: Vec<&str> = FIELDS.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, expected);
        assert_eq!(ev.get("ts"), Some(Some("1700000000123")));
        assert_eq!(ev.get("sessions"), Some(Some("3")));
        assert_eq!(ev.get("items"), Some(Some("7")));
        assert_eq!(ev.get("buffered_bytes"), Some(Some("4096")));
        assert_eq!(ev.get("cpu_pct"), Some(None), "unknown yet: null");
    }

    #[test]
    fn field_names_are_unique() {
        let mut names: Vec<&str> = FIELDS.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FIELDS.len());
    }
}
