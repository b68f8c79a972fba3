//! The `cluster` item and the status document, on the monitor's data
//! adapter: the sampler's reading becomes this node's document and row;
//! the pollers and the broker watcher bring the other rows.

use super::{MonitorData, State, CLUSTER};
use crate::cluster::{Change, Cluster};
use crate::stats::Probe;
use crate::status::Status;
use shoal_adapter::ItemEventListener;
use std::time::SystemTime;

impl MonitorData {
    /// The status document of the last reading; `None` before the first.
    pub fn status(&self) -> Option<Status> {
        self.state.lock().status.clone()
    }

    /// This node's document for a reading; `states` are the adapters'
    /// states in `adapters` order.
    pub(super) fn status_of(
        &self,
        probe: &Probe,
        accepting: bool,
        states: &[String],
        now: SystemTime,
    ) -> Status {
        let unready = self
            .adapters
            .iter()
            .zip(states)
            .filter(|(_, s)| *s != "ready")
            .map(|(a, s)| format!("{}: {s}", a.key()))
            .collect();
        Status::of(&self.node, probe, accepting, unready, now)
    }

    /// Applies `change` to the rows and sends what changed, if watched.
    pub fn update_cluster(&self, change: impl FnOnce(&mut Cluster) -> Vec<Change>) {
        let mut st = self.state.lock();
        let changes = change(&mut st.cluster);
        if !st.cluster_on {
            return;
        }
        if let Some(l) = self.listener.get() {
            for c in changes {
                l.update(CLUSTER, c.event(), false);
            }
        }
    }

    /// A new subscription starts with every row.
    pub(super) fn subscribe_cluster(&self, l: &dyn ItemEventListener, st: &mut State) {
        st.cluster_on = true;
        let rows = st.cluster.rows().map(|r| r.event("ADD")).collect();
        l.snapshot(CLUSTER, rows);
    }
}
