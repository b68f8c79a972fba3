//! Graceful drain on SIGTERM: the health check turns 503 so the balancer
//! sends no new sessions, then the node's sessions are ended one by one with
//! `END,48` (which tells clients to open a new session at once, through the
//! balancer, on another node), spread over a window so the others are not
//! hit by every client at the same moment.

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

/// Ends one session with `END,48`, unless it has ended by itself meanwhile.
fn end(engine: &Engine, id: &str) {
    if let Some(s) = engine.session(id) {
        engine.close(&s, 48, CAUSE);
    }
}
