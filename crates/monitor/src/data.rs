//! The data adapter of `MONITOR`: its three items, fed by the sampler.
//!
//! Samples are taken whether or not anyone watches, so that a chart opened
//! now starts with the last ten minutes. The sessions, on the other hand,
//! are read only while `sessions` is subscribed: reading them costs a pass
//! over every session. The state lock is held while the listener is called,
//! so a snapshot and the next update never cross.

use crate::cluster::Cluster;
use crate::node::NodeInfo;
use crate::sessions::{SessionRows, MAX_ROWS};
use crate::stats::{Probe, HISTORY};
use crate::status::Status;
use parking_lot::Mutex;
use shoal_adapter::{AdapterError, DataProvider, ItemEvent, ItemEventListener};
use shoal_engine::{Engine, SessionSummary};
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, OnceLock, Weak};
use std::time::SystemTime;

const NODE: &str = "node";
const STATS: &str = "stats";
const ADAPTERS: &str = "adapters";
const CLUSTER: &str = "cluster";
const SESSIONS: &str = "sessions";

/// A data adapter the `adapters` item lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterInfo {
    pub set: String,
    pub adapter: String,
    /// What serves it: `demo`, `remote`, `redis`, `nats`, `memory`,
    /// `monitor`...
    pub kind: String,
}

impl AdapterInfo {
    /// The row's key: `<set>/<data adapter>`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.set, self.adapter)
    }

    /// The row, as a COMMAND event; `state` is `ready` or why not.
    fn row(&self, command: &str, state: &str) -> ItemEvent {
        ItemEvent::new()
            .with("key", self.key())
            .with("command", command)
            .with("set", self.set.as_str())
            .with("adapter", self.adapter.as_str())
            .with("kind", self.kind.as_str())
            .with("state", state)
    }
}

pub struct MonitorData {
    listener: OnceLock<Arc<dyn ItemEventListener>>,
    /// The engine, once the sampler starts: a new subscription to
    /// `sessions` reads it for its snapshot. Weak, because the engine holds
    /// this adapter.
    engine: OnceLock<Weak<Engine>>,
    node: NodeInfo,
    adapters: Vec<AdapterInfo>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    node: bool,
    stats: bool,
    adapters: bool,
    sessions: bool,
    /// The last [`HISTORY`] samples, oldest first.
    samples: VecDeque<ItemEvent>,
    /// The state last read of each adapter, in `adapters` order.
    states: Vec<String>,
    /// The previous reading, for rates per second.
    last: Option<Probe>,
    cluster_on: bool,
    /// The `cluster` item's rows.
    cluster: Cluster,
    /// The status document of the last reading.
    status: Option<Status>,
    /// The rows of `sessions` last sent.
    session_rows: SessionRows,
}

impl fmt::Debug for MonitorData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonitorData")
            .field("adapters", &self.adapters)
            .finish_non_exhaustive()
    }
}

impl MonitorData {
    pub fn node_name(&self) -> &str {
        &self.node.name
    }

    pub fn new(node: NodeInfo, adapters: Vec<AdapterInfo>) -> Self {
        let states = vec!["ready".to_owned(); adapters.len()];
        Self {
            listener: OnceLock::new(),
            engine: OnceLock::new(),
            adapters,
            state: Mutex::new(State {
                states,
                cluster: Cluster::new(&node.name),
                ..State::default()
            }),
            node,
        }
    }

    /// One tick of the sampler: reads the engine and updates what is
    /// subscribed.
    pub fn sample(&self, engine: &Engine, now: SystemTime) {
        let states: Vec<String> = self
            .adapters
            .iter()
            .map(|a| match engine.data_provider(&a.set, &a.adapter) {
                Some(p) => p.readiness().err().unwrap_or_else(|| "ready".to_owned()),
                None => "not started".to_owned(),
            })
            .collect();
        let probe = Probe::read(engine, now);
        // The lock is taken twice (here and in `record`): the sampler is
        // the only writer of `last`, once a second, so nothing interleaves
        // that matters.
        let probe = {
            let mut st = self.state.lock();
            let probe = match &st.last {
                Some(prev) => probe.since(prev),
                None => probe,
            };
            st.last = Some(probe.clone());
            probe
        };
        let status = self.status_of(&probe, engine.is_accepting(), &states, now);
        self.record(probe.event(), states, now);
        self.update_cluster(|c| c.myself(&status, now));
        self.state.lock().status = Some(status);
        if self.state.lock().sessions {
            // Read without the state lock: the engine locks each session.
            self.record_sessions(&engine.session_summaries(MAX_ROWS).rows);
        }
    }

    /// Lets new subscriptions to `sessions` read `engine` for their
    /// snapshot (done when the sampler starts).
    pub fn attach(&self, engine: &Arc<Engine>) {
        let _ = self.engine.set(Arc::downgrade(engine));
    }

    /// Sends subscribers of `sessions` what changed since the rows they
    /// were last sent (most recent first, at most [`MAX_ROWS`]).
    pub fn record_sessions(&self, rows: &[SessionSummary]) {
        let mut st = self.state.lock();
        let Some(l) = self.listener.get() else { return };
        if !st.sessions {
            return;
        }
        for ev in st.session_rows.diff(rows) {
            l.update(SESSIONS, ev, false);
        }
    }

    /// The sessions now, or none before the engine is attached (the
    /// sampler's first tick then adds them).
    fn current_sessions(&self) -> Vec<SessionSummary> {
        self.engine
            .get()
            .and_then(Weak::upgrade)
            .map(|e| e.session_summaries(MAX_ROWS).rows)
            .unwrap_or_default()
    }

    /// Keeps a sample and the adapters' states, and sends what changed to
    /// the subscribed items.
    pub fn record(&self, sample: ItemEvent, states: Vec<String>, now: SystemTime) {
        let mut st = self.state.lock();
        st.samples.push_back(sample.clone());
        while st.samples.len() > HISTORY {
            st.samples.pop_front();
        }
        let Some(l) = self.listener.get() else {
            st.states = states;
            return;
        };
        if st.stats {
            l.update(STATS, sample, false);
        }
        if st.node {
            let uptime = self
                .node
                .event(now)
                .get("uptime_s")
                .flatten()
                .map(str::to_owned);
            l.update(
                NODE,
                ItemEvent::new().with("uptime_s", uptime.unwrap_or_default()),
                false,
            );
        }
        if st.adapters {
            for (i, (adapter, new)) in self.adapters.iter().zip(&states).enumerate() {
                if st.states.get(i) != Some(new) {
                    l.update(ADAPTERS, adapter.row("UPDATE", new), false);
                }
            }
        }
        st.states = states;
    }
}

impl DataProvider for MonitorData {
    fn set_listener(&self, listener: Arc<dyn ItemEventListener>) {
        let _ = self.listener.set(listener);
    }

    fn subscribe(&self, item: &str) -> Result<(), AdapterError> {
        let l = self
            .listener
            .get()
            .ok_or_else(|| AdapterError::new(-1, "the monitor is not started"))?;
        // Read before taking the state lock, as the sampler does.
        let sessions = (item == SESSIONS).then(|| self.current_sessions());
        let mut st = self.state.lock();
        match item {
            NODE => {
                st.node = true;
                l.update(NODE, self.node.event(SystemTime::now()), true);
            }
            STATS => {
                st.stats = true;
                l.snapshot(STATS, st.samples.iter().cloned().collect());
            }
            ADAPTERS => {
                st.adapters = true;
                let rows = self
                    .adapters
                    .iter()
                    .zip(&st.states)
                    .map(|(a, state)| a.row("ADD", state))
                    .collect();
                l.snapshot(ADAPTERS, rows);
            }
            CLUSTER => self.subscribe_cluster(l.as_ref(), &mut st),
            SESSIONS => {
                st.sessions = true;
                let rows = st.session_rows.snapshot(&sessions.unwrap_or_default());
                l.snapshot(SESSIONS, rows);
            }
            _ => {
                return Err(AdapterError::bad_group(format!(
                "MONITOR has no item \"{item}\": its items are node, stats, adapters, cluster and sessions"
            )))
            }
        }
        Ok(())
    }

    fn unsubscribe(&self, item: &str) {
        let mut st = self.state.lock();
        match item {
            NODE => st.node = false,
            STATS => st.stats = false,
            ADAPTERS => st.adapters = false,
            CLUSTER => st.cluster_on = false,
            SESSIONS => st.sessions = false,
            _ => {}
        }
    }

    fn is_snapshot_available(&self, _item: &str) -> bool {
        true
    }

    fn history_length(&self, item: &str) -> Option<usize> {
        (item == STATS).then_some(HISTORY)
    }
}

mod cluster;
#[cfg(test)]
mod tests;
