//! Session handoff, wired: a node that reads a broker feed keeps its
//! sessions' journals in that broker, so that when it dies, or drains,
//! the other nodes take its sessions over (docs/clustering.md, "Zero-loss
//! fail-over").
//!
//! The first broker feed started carries the journals, as it carries the
//! node's announcement (see `discovery`): every node of a cluster runs the
//! same adapters, so they all meet in the same broker.

use crate::discovery::{self, Feed};
use shoal_engine::Engine;
use std::net::SocketAddr;
use std::sync::Arc;

/// Turns handoff on for `engine` if the node reads a broker feed. `node`:
/// the node's name; `listening`: the addresses it listens on (the others
/// probe them to tell a dead node at once).
pub async fn start(engine: &Arc<Engine>, node: &str, listening: &[SocketAddr]) {
    let Some((name, feed, on)) = discovery::first() else {
        return;
    };
    if !on {
        tracing::info!(adapter = %name, "session handoff is off (session_handoff N): the sessions of a node that dies start again on another");
        return;
    }
    // A restarted node is another incarnation: the sessions of the one
    // before it are to be taken over, not kept.
    let owner = format!("{node}/{:08x}", rand::random::<u32>());
    // An address on every interface cannot be probed from another host.
    let addresses: Vec<SocketAddr> = listening
        .iter()
        .copied()
        .filter(|a| !a.ip().is_unspecified())
        .collect();
    let store: Arc<dyn shoal_handoff::Store> = match feed {
        Feed::Redis(f) => {
            match shoal_broker::handoff::redis::RedisStore::start(
                f.settings(),
                owner.clone(),
                addresses,
            ) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("session handoff is off: {e}");
                    return;
                }
            }
        }
        Feed::Nats(f) => {
            let (settings, nats) = f.settings();
            match shoal_broker::handoff::nats::NatsStore::start(
                settings,
                nats,
                owner.clone(),
                addresses,
            )
            .await
            {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("session handoff is off: {e}");
                    return;
                }
            }
        }
    };
    engine.enable_handoff(store);
    tracing::info!(owner = %owner, adapter = %name, "session handoff on: sessions are journaled in this feed's broker, and taken over from nodes that die");
}
