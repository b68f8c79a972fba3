//! `MONITOR`: the adapter set Shoal registers on every node for its monitor
//! console (docs/monitor.md). Its items:
//!
//! - `node` (MERGE): who this node is, since when, and where it listens;
//! - `stats` (MERGE or DISTINCT): one sample of the node's figures per
//!   second; a DISTINCT subscription opens with the last ten minutes;
//! - `adapters` (COMMAND, key `<set>/<data adapter>`): the data adapters
//!   and whether each can serve now;
//! - `sessions` (COMMAND, key = session id): the most recent sessions of
//!   the node, at most [`MAX_ROWS`].
//! - `cluster` (COMMAND, key the node's name): this node and its peers,
//!   listed in the configuration or found through a shared broker.
//!
//! The same sampler makes the node's status document ([`Status`], served
//! as `status.json` and announced to peers).
//!
//! Who may open a session follows the console's own policy
//! ([`shoal_transport::console::ConsoleAccess`]), plus the console page's
//! token. The figures are read by a sampler task once a second
//! ([`Monitor::start`]); the pieces that turn readings into events are
//! plain functions, tested without a runtime.

mod cluster;
mod data;
mod fetch;
mod metadata;
mod node;
mod sessions;
mod stats;
mod status;

pub use cluster::{Change, Cluster, Failure, Row, Source, State, MAX_NODES, STALE_KEEP};
pub use data::{AdapterInfo, MonitorData};
pub use fetch::{Peer, MAX_BODY};
pub use metadata::{MonitorMetadata, Policy};
pub use node::{rfc3339, NodeInfo};
pub use sessions::{SessionRows, MAX_ROWS};
pub use stats::{Probe, FIELDS, HISTORY};
pub use status::Status;

use shoal_adapter::{AdapterSet, DataProvider};
use shoal_engine::Engine;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How often peers are polled and announced.
pub const PEER_PERIOD: Duration = Duration::from_secs(2);
/// How long one poll of a peer may take.
pub const PEER_TIMEOUT: Duration = Duration::from_millis(1500);

/// The name of the adapter set (`LS_adapter_set`).
pub const ADAPTER_SET: &str = "MONITOR";
/// Its one data adapter.
pub const DATA_ADAPTER: &str = "DEFAULT";

/// A fresh console token: 128 random bits, as 32 hex digits.
pub fn new_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The monitor of one node: its adapter set for the engine, and the
/// sampler to start once the engine exists.
#[derive(Debug, Clone)]
pub struct Monitor {
    data: Arc<MonitorData>,
}

impl Monitor {
    /// The `MONITOR` set, and the handle that starts its sampler. It
    /// ignores the control link, so that the console works on whichever
    /// address of the node it was opened.
    pub fn new(node: NodeInfo, policy: Policy, adapters: Vec<AdapterInfo>) -> (Self, AdapterSet) {
        let data = Arc::new(MonitorData::new(node, adapters));
        let mut providers: HashMap<String, Arc<dyn DataProvider>> = HashMap::new();
        providers.insert(DATA_ADAPTER.to_owned(), data.clone());
        let set = AdapterSet {
            name: ADAPTER_SET.to_owned(),
            metadata: Arc::new(MonitorMetadata::new(policy)),
            data: providers,
            ignores_control_link: true,
        };
        (Self { data }, set)
    }

    /// Samples the engine once a second until the engine is dropped.
    pub fn start(&self, engine: &Arc<Engine>) -> tokio::task::JoinHandle<()> {
        self.data.attach(engine);
        let weak = Arc::downgrade(engine);
        let data = self.data.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(engine) = weak.upgrade() else { return };
                data.sample(&engine, std::time::SystemTime::now());
            }
        })
    }

    /// This node's name (`<shoal_node_name>`, or its first listener's).
    pub fn node_name(&self) -> String {
        self.data.node_name().to_owned()
    }

    /// This node's status document, as of the last sample.
    pub fn status(&self) -> Option<Status> {
        self.data.status()
    }

    /// Polls each peer's `status.json` every [`PEER_PERIOD`], for as long
    /// as the process runs.
    pub fn watch_peers(&self, peers: Vec<Peer>) {
        for peer in peers {
            let data = self.data.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(PEER_PERIOD);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut last: Option<String> = Some(String::new());
                loop {
                    tick.tick().await;
                    let outcome = match tokio::time::timeout(PEER_TIMEOUT, peer.fetch()).await {
                        Ok(outcome) => outcome,
                        Err(_) => Err(Failure::Unreachable(format!(
                            "no answer within {} ms",
                            PEER_TIMEOUT.as_millis()
                        ))),
                    };
                    // One log line per change (reachable or not, and why).
                    let seen = match &outcome {
                        Ok(_) => None,
                        Err(Failure::Refused(why) | Failure::Unreachable(why)) => Some(why.clone()),
                    };
                    if seen != last {
                        match &seen {
                            None => {
                                tracing::info!(peer = %peer.name, url = %peer.url, "cluster view: peer console reached")
                            }
                            Some(why) => {
                                tracing::warn!(peer = %peer.name, url = %peer.url, "cluster view: peer console not reached: {why}")
                            }
                        }
                        last = seen;
                    }
                    let now = SystemTime::now();
                    data.update_cluster(|c| c.polled(&peer.name, &peer.url, outcome, now));
                }
            });
        }
    }

    /// What a broker watcher read of the others' announcements.
    pub fn discovered(&self, found: &[Status]) {
        let now = SystemTime::now();
        self.data.update_cluster(|c| c.discovered(found, now));
    }
}
