//! The `sessions` item (COMMAND, key = session id): the node's most recent
//! sessions, at most [`MAX_ROWS`].
//!
//! Each tick of the sampler reads the engine's summaries
//! ([`shoal_engine::Engine::session_summaries`]) and [`SessionRows`] turns
//! the difference with what was sent before into COMMAND events: `DELETE`
//! for a session gone (closed, or pushed out of the most recent rows),
//! `ADD` for a new one, `UPDATE` for one whose row changed (a stream bound
//! or lost, a subscription added or removed).

use crate::node::rfc3339;
use shoal_adapter::ItemEvent;
use shoal_engine::SessionSummary;
use std::collections::HashMap;

/// Rows the item lists at most. The `sessions` field of `stats` tells how
/// many sessions there are in all; the console says so when they are more.
pub const MAX_ROWS: usize = 200;

/// The fields of a row, after `key` and `command`.
pub const FIELDS: [&str; 7] = [
    "adapter_set",
    "user",
    "client_ip",
    "transport",
    "started",
    "subscriptions",
    "user_agent",
];

/// A row's values, in [`FIELDS`] order; an unknown value is empty.
type Values = [String; FIELDS.len()];

fn values(s: &SessionSummary) -> Values {
    [
        s.adapter_set.clone(),
        s.user.clone().unwrap_or_default(),
        s.client_ip.clone(),
        s.transport.map(|k| k.name().to_owned()).unwrap_or_default(),
        rfc3339(s.started),
        s.subscriptions.to_string(),
        s.user_agent.clone().unwrap_or_default(),
    ]
}

fn event(key: &str, command: &str, values: &Values) -> ItemEvent {
    let mut ev = ItemEvent::with_capacity(FIELDS.len() + 2)
        .with("key", key)
        .with("command", command);
    for (name, value) in FIELDS.iter().zip(values) {
        ev.push((*name).into(), Some(value.as_str().into()));
    }
    ev
}

/// What the subscribers were last sent: the rows by session id.
#[derive(Debug, Default)]
pub struct SessionRows {
    sent: HashMap<String, Values>,
}

impl SessionRows {
    /// The snapshot of a new subscription: an `ADD` per row, in the order
    /// given (most recent first). What was sent before is forgotten.
    pub fn snapshot(&mut self, rows: &[SessionSummary]) -> Vec<ItemEvent> {
        self.sent.clear();
        self.diff(rows)
    }

    /// The events that take the subscribers from the rows last sent to
    /// `rows`: deletions first (so a client never holds more than
    /// [`MAX_ROWS`] rows), then additions and changes, most recent first.
    pub fn diff(&mut self, rows: &[SessionSummary]) -> Vec<ItemEvent> {
        let mut next: HashMap<String, Values> = HashMap::with_capacity(rows.len());
        let mut changes = Vec::new();
        for s in rows {
            if next.contains_key(&s.id) {
                continue; // an id listed twice: sent once
            }
            let new = values(s);
            match self.sent.get(&s.id) {
                None => changes.push(event(&s.id, "ADD", &new)),
                Some(old) if *old != new => changes.push(event(&s.id, "UPDATE", &new)),
                Some(_) => {}
            }
            next.insert(s.id.clone(), new);
        }
        let mut gone: Vec<&String> = self
            .sent
            .keys()
            .filter(|id| !next.contains_key(*id))
            .collect();
        gone.sort_unstable();
        let mut events: Vec<ItemEvent> = gone
            .into_iter()
            .map(|id| {
                ItemEvent::new()
                    .with("key", id.as_str())
                    .with("command", "DELETE")
            })
            .collect();
        events.extend(changes);
        self.sent = next;
        events
    }
}

#[cfg(test)]
mod tests;
