//! A short public description of each session, for people: the monitor
//! console's table of sessions reads it once a second.
//!
//! Only the most recent sessions are described: a node may hold a hundred
//! thousand sessions, and nobody reads a table that long. Choosing them
//! takes one pass over the sessions (without locking any of them); only the
//! chosen ones are then locked, each briefly, to count their
//! subscriptions.

use crate::stats::StreamKind;
use crate::{Engine, Session};
use std::cmp::Reverse;
use std::sync::Arc;
use std::time::SystemTime;

/// What one session is, as the monitor shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    pub id: String,
    pub adapter_set: String,
    /// The user the client logged in as, if any.
    pub user: Option<String>,
    /// The client's address when the session was created.
    pub client_ip: String,
    /// How the bound stream reaches the client; `None` between two binds
    /// (a polling client between polls, a client reconnecting).
    pub transport: Option<StreamKind>,
    /// When the session was created, on the wall clock.
    pub started: SystemTime,
    /// Subscriptions the session holds now.
    pub subscriptions: usize,
    /// The `User-Agent` of the request that created the session.
    pub user_agent: Option<String>,
}

/// The most recent sessions, and how many there are in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionList {
    /// Every session the engine holds now (`rows` may be fewer).
    pub total: usize,
    /// At most the limit asked for, most recent first.
    pub rows: Vec<SessionSummary>,
}

impl Engine {
    /// The `limit` most recently created sessions, most recent first (ties
    /// broken by id, so the order is stable), and the number of sessions.
    pub fn session_summaries(&self, limit: usize) -> SessionList {
        // A session leaves the map as it closes (`Engine::close`): every
        // session in it is open.
        let mut all: Vec<Arc<Session>> = self.sessions.read().values().cloned().collect();
        let total = all.len();
        let newest_first = |s: &Arc<Session>| (Reverse(s.created), s.id.clone());
        if all.len() > limit {
            // Only the first `limit` need be in order: partition around the
            // limit in linear time, then sort the part kept.
            all.select_nth_unstable_by_key(limit, newest_first);
            all.truncate(limit);
        }
        all.sort_by_key(newest_first);
        SessionList {
            total,
            rows: all.iter().map(|s| s.summary()).collect(),
        }
    }
}

impl Session {
    /// What this session is now (locks it briefly for its subscriptions).
    pub fn summary(&self) -> SessionSummary {
        SessionSummary {
            id: self.id.clone(),
            adapter_set: self.set.name.clone(),
            user: self.info.user.clone(),
            client_ip: self.info.client_ip.clone(),
            transport: self.bound_kind.get(),
            started: self.created_at,
            subscriptions: self.state.lock().subs.len(),
            user_agent: self.info.user_agent.clone(),
        }
    }
}
