//! The `cluster` item's table: one row per node of the cluster, this node
//! included, merged from three sources: the node itself (each sample), the
//! peers listed in `<shoal_cluster_node>` (polled), and the peers found
//! through a shared broker (announced). Pure: every call says what changed,
//! as COMMAND rows to send, and is tested without a runtime.

use crate::node::rfc3339;
use crate::status::Status;
use shoal_adapter::ItemEvent;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// At most this many rows; more nodes are left out (and logged once).
pub const MAX_NODES: usize = 64;
/// How long a broker-found node whose entry expired stays as `stale`
/// before its row is deleted.
pub const STALE_KEEP: Duration = Duration::from_secs(10);

/// Where a row comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Myself,
    Config,
    Broker,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Myself => "self",
            Self::Config => "config",
            Self::Broker => "broker",
        }
    }
}

/// A node's state as the row shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Up,
    /// Not accepting new sessions (SIGTERM drain).
    Draining,
    /// Some data adapter cannot serve.
    Unready,
    /// No answer, a bad answer, or no answer in time.
    Unreachable,
    /// The peer's console said 401 or 403 to us.
    Refused,
    /// Its broker entry expired.
    Stale,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Draining => "draining",
            Self::Unready => "unready",
            Self::Unreachable => "unreachable",
            Self::Refused => "refused",
            Self::Stale => "stale",
        }
    }

    /// The state a status document tells, and why it is not `up`.
    fn of(s: &Status) -> (Self, String) {
        if !s.accepting {
            (Self::Draining, "draining: accepts no new sessions".into())
        } else if !s.ready {
            (Self::Unready, s.unready.join("; "))
        } else {
            (Self::Up, String::new())
        }
    }
}

/// Why polling a listed peer failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 401 or 403: the credentials configured for it are missing or wrong.
    Refused(String),
    Unreachable(String),
}

/// One node.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub name: String,
    pub console_url: String,
    pub source: Source,
    pub state: State,
    /// The last status read from it, kept when it stops answering.
    pub status: Option<Status>,
    pub last_seen: Option<SystemTime>,
    /// Why it is not `up` (empty when it is).
    pub error: String,
    stale_since: Option<SystemTime>,
}

impl Row {
    fn new(name: &str, console_url: &str, source: Source) -> Self {
        Self {
            name: name.to_owned(),
            console_url: console_url.to_owned(),
            source,
            state: State::Unreachable,
            status: None,
            last_seen: None,
            error: "not polled yet".to_owned(),
            stale_since: None,
        }
    }

    fn saw(&mut self, status: &Status, now: SystemTime) {
        (self.state, self.error) = State::of(status);
        self.status = Some(status.clone());
        self.last_seen = Some(now);
        self.stale_since = None;
    }

    /// The COMMAND event of this row; figures not known are null.
    pub fn event(&self, command: &str) -> ItemEvent {
        let s = self.status.as_ref();
        let mut ev = ItemEvent::new()
            .with("key", self.name.as_str())
            .with("command", command)
            .with("name", self.name.as_str())
            .with("console_url", self.console_url.as_str())
            .with("source", self.source.as_str())
            .with("state", self.state.as_str());
        let figures = [
            ("sessions", s.map(|s| s.sessions.to_string())),
            ("updates_per_s", s.and_then(|s| s.updates_per_s).map(num)),
            ("cpu_pct", s.and_then(|s| s.cpu_pct).map(num)),
            (
                "rss_bytes",
                s.and_then(|s| s.rss_bytes).map(|v| v.to_string()),
            ),
            ("uptime_s", s.map(|s| s.uptime_s.to_string())),
            ("latency_p99_ms", s.and_then(|s| s.latency_p99_ms).map(num)),
            ("last_seen", self.last_seen.map(rfc3339)),
        ];
        for (name, value) in figures {
            ev.set(name, value.map(Into::into));
        }
        ev.with("error", self.error.as_str())
    }
}

fn num(v: f64) -> String {
    let r = (v * 100.0).round() / 100.0;
    format!("{r}")
}

/// What a call changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Add(Row),
    Update(Row),
    Delete(String),
}

impl Change {
    pub fn event(&self) -> ItemEvent {
        match self {
            Self::Add(r) => r.event("ADD"),
            Self::Update(r) => r.event("UPDATE"),
            Self::Delete(key) => ItemEvent::new()
                .with("key", key.as_str())
                .with("command", "DELETE"),
        }
    }
}

/// The rows, by node name.
#[derive(Debug, Default)]
pub struct Cluster {
    me: String,
    rows: BTreeMap<String, Row>,
    warned_full: bool,
}

impl Cluster {
    pub fn new(me: &str) -> Self {
        Self {
            me: me.to_owned(),
            rows: BTreeMap::new(),
            warned_full: false,
        }
    }

    pub fn rows(&self) -> impl Iterator<Item = &Row> {
        self.rows.values()
    }

    /// This node's own reading.
    pub fn myself(&mut self, status: &Status, now: SystemTime) -> Vec<Change> {
        let mut row = self
            .rows
            .get(&self.me)
            .cloned()
            .unwrap_or_else(|| Row::new(&self.me, &status.console_url, Source::Myself));
        row.console_url.clone_from(&status.console_url);
        row.saw(status, now);
        self.put(row).into_iter().collect()
    }

    /// The outcome of polling the listed peer `name` at `url`.
    pub fn polled(
        &mut self,
        name: &str,
        url: &str,
        outcome: Result<Status, Failure>,
        now: SystemTime,
    ) -> Vec<Change> {
        let mut row = match self.rows.get(name) {
            Some(r) if r.source == Source::Config => r.clone(),
            _ => Row::new(name, url, Source::Config),
        };
        match outcome {
            Ok(status) => row.saw(&status, now),
            Err(Failure::Refused(why)) => (row.state, row.error) = (State::Refused, why),
            Err(Failure::Unreachable(why)) => (row.state, row.error) = (State::Unreachable, why),
        }
        self.put(row).into_iter().collect()
    }

    /// The announcements read from the broker now. A node listed in the
    /// configuration keeps its polled row; one that vanished from the
    /// broker turns `stale`, and is deleted [`STALE_KEEP`] later.
    pub fn discovered(&mut self, found: &[Status], now: SystemTime) -> Vec<Change> {
        let mut changes = Vec::new();
        for s in found {
            let listed = self
                .rows
                .get(&s.name)
                .is_some_and(|r| r.source != Source::Broker);
            if s.name == self.me || listed {
                continue;
            }
            let mut row = self
                .rows
                .get(&s.name)
                .cloned()
                .unwrap_or_else(|| Row::new(&s.name, &s.console_url, Source::Broker));
            row.console_url.clone_from(&s.console_url);
            row.saw(s, now);
            changes.extend(self.put(row));
        }
        let gone: Vec<Row> = self
            .rows
            .values()
            .filter(|r| r.source == Source::Broker && !found.iter().any(|s| s.name == r.name))
            .cloned()
            .collect();
        for mut row in gone {
            let since = *row.stale_since.get_or_insert(now);
            if now.duration_since(since).unwrap_or_default() >= STALE_KEEP {
                self.rows.remove(&row.name);
                changes.push(Change::Delete(row.name));
            } else if row.state != State::Stale {
                row.state = State::Stale;
                row.error = "its announcement in the broker expired".to_owned();
                changes.extend(self.put(row));
            } else {
                self.rows.insert(row.name.clone(), row);
            }
        }
        changes
    }

    /// Keeps `row`: an update of a known node, or an addition while there
    /// is room.
    fn put(&mut self, row: Row) -> Option<Change> {
        let known = self.rows.contains_key(&row.name);
        if !known && self.rows.len() >= MAX_NODES {
            if !self.warned_full {
                self.warned_full = true;
                tracing::warn!(
                    node = %row.name,
                    "the cluster view shows at most {MAX_NODES} nodes; others are left out"
                );
            }
            return None;
        }
        self.rows.insert(row.name.clone(), row.clone());
        Some(if known {
            Change::Update(row)
        } else {
            Change::Add(row)
        })
    }
}

#[cfg(test)]
mod tests;
