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
//!
//! Who may open a session follows the console's own policy
//! ([`shoal_transport::console::ConsoleAccess`]), plus the console page's
//! token. The figures are read by a sampler task once a second
//! ([`Monitor::start`]); the pieces that turn readings into events are
//! plain functions, tested without a runtime.

mod data;
mod metadata;
mod node;
mod sessions;
mod stats;

pub use data::{AdapterInfo, MonitorData};
pub use metadata::{MonitorMetadata, Policy};
pub use node::{rfc3339, NodeInfo};
pub use sessions::{SessionRows, MAX_ROWS};
pub use stats::{Probe, FIELDS, HISTORY};

use shoal_adapter::{AdapterSet, DataProvider};
use shoal_engine::Engine;
use std::collections::HashMap;
use std::sync::Arc;

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
}
