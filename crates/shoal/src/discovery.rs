//! Broker discovery: the nodes that share a broker feed find each other
//! through it, for the monitor's `cluster` item (docs/monitor.md).
//!
//! The first broker feed the node starts (adapter sets in the order they
//! are loaded, data providers in their file's order) carries the node's
//! announcement: one feed is enough, since every node of a cluster runs
//! the same adapters, and the first one is the same on every node.

use shoal_broker::nats::NatsFeed;
use shoal_broker::presence::{Roster, Timing};
use shoal_broker::redis::RedisFeed;
use shoal_monitor::{Monitor, Status};
use std::sync::{Arc, OnceLock};

/// A broker feed that can announce the node.
#[derive(Clone)]
pub enum Feed {
    Redis(Arc<RedisFeed>),
    Nats(Arc<NatsFeed>),
}

/// The first broker feed started. One process is one node, so one slot.
static FIRST: OnceLock<(String, Feed, bool)> = OnceLock::new();

/// A broker feed was started, named `<set>/<adapter>`, with its
/// `session_handoff` param: the first one offered is kept.
pub fn offer(name: String, feed: Feed, handoff: bool) {
    let _ = FIRST.set((name, feed, handoff));
}

/// The first broker feed started, if any, its name, and whether it carries
/// the session journals.
pub fn first() -> Option<(&'static str, &'static Feed, bool)> {
    FIRST.get().map(|(n, f, h)| (n.as_str(), f, *h))
}

/// Announces this node through the first broker feed, if any, and feeds
/// the nodes found there to `monitor`'s cluster view.
pub fn start(monitor: &Monitor) {
    let Some((name, feed, _)) = FIRST.get() else {
        return;
    };
    let announcer = Arc::new(Announcer(monitor.clone()));
    let timing = Timing::default();
    tracing::info!(adapter = %name, "announcing this node to the cluster through this feed's broker every {:?}", timing.period);
    match feed {
        Feed::Redis(f) => f.announce(announcer, timing),
        Feed::Nats(f) => f.announce(announcer, timing),
    }
}

/// The monitor as the presence sees it: this node's status document out,
/// the others' in.
struct Announcer(Monitor);

impl Roster for Announcer {
    type Doc = Status;

    fn announcement(&self) -> Option<(String, Vec<u8>)> {
        let status = self.0.status()?;
        Some((status.name.clone(), status.to_json().into_bytes()))
    }

    fn decode(&self, bytes: &[u8]) -> Result<Status, String> {
        Status::from_json(bytes).map_err(|e| format!("not a status document: {e}"))
    }

    fn found(&self, docs: &[Status]) {
        self.0.discovered(docs);
    }
}
