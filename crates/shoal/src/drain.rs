//! Graceful drain on SIGTERM: the health check turns 503 so the balancer
//! sends no new sessions, then the node's sessions are moved one by one,
//! spread over a window so the others are not hit by every client at the
//! same moment.
//!
//! With session handoff on (a broker feed), a session is *handed over*: its
//! connection is cut, its client recovers it through the balancer, and
//! another node takes it over from its journal: same session, nothing lost.
//! The node withdraws its liveness key at once, with the 503, so that
//! from then on any other node may take a session of it over: a client
//! whose connection breaks during the grace (a keepalived that moved the
//! node's address as soon as its health check failed, a poll the balancer
//! sent elsewhere) is taken over where it lands, instead of being refused
//! as the client of a live node. Until a session is taken over or cut, this
//! node goes on serving and journaling it; a node that took it over owns
//! the journal, and this one cuts its copy on its next write. Without
//! handoff a session is ended with `END,48`,
//! which tells its client to open a new session at once on another node.

use shoal_engine::Engine;
use std::sync::Arc;
use std::time::Duration;

/// The drain's timing.
#[derive(Debug, Clone, Copy)]
pub struct Drain {
    /// From the 503 to the first `END`: time for the balancer to notice.
    pub grace: Duration,
    /// Over which the sessions are ended, evenly.
    pub window: Duration,
}

/// What an ended client is told.
const CAUSE: &str = "the server is shutting down; open a new session";
/// Time for the last `END`s to be written out before the process exits.
const LINGER: Duration = Duration::from_millis(500);

pub async fn run(engine: &Arc<Engine>, d: Drain) {
    engine.set_accepting(false);
    tracing::info!(
        sessions = engine.session_count(),
        grace = ?d.grace,
        window = ?d.window,
        "draining: the health check answers 503; sessions will be moved to other nodes"
    );
    if engine.handoff_enabled() {
        engine.leave_cluster().await;
    }
    tokio::time::sleep(d.grace).await;
    let ids = engine.session_ids();
    let step = if ids.is_empty() {
        Duration::ZERO
    } else {
        d.window / u32::try_from(ids.len()).unwrap_or(u32::MAX)
    };
    let start = tokio::time::Instant::now();
    for (i, id) in ids.iter().enumerate() {
        // Evenly spaced from the start, whatever each close took.
        let at = start + step * u32::try_from(i).unwrap_or(u32::MAX);
        tokio::time::sleep_until(at).await;
        end(engine, id);
    }
    // Sessions created meanwhile (the balancer had not noticed yet).
    for id in engine.session_ids() {
        end(engine, &id);
    }
    tokio::time::sleep(LINGER).await;
    tracing::info!(moved = ids.len(), "drain done");
}

/// Hands one session over (or ends it with `END,48` without handoff),
/// unless it has ended by itself meanwhile.
fn end(engine: &Engine, id: &str) {
    if let Some(s) = engine.session(id) {
        if engine.handoff_enabled() {
            engine.hand_over(&s);
        } else {
            engine.close(&s, 48, CAUSE);
        }
    }
}
