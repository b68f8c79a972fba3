//! The `shoal.memory` data adapter: items held in this node's memory and
//! fed only by `POST /publish`, for a node without a broker. An item keeps
//! its last `snapshot_length` events (or, for COMMAND rows, its rows) so a
//! client subscribing later gets a snapshot; what is published on one node
//! is not seen by the others (that is what a broker feed is for).

use crate::entry::Entry;
use crate::settings::PublishAuth;
use crate::snapshot::{self, Rows};
use parking_lot::Mutex;
use shoal_adapter::{
    ready, AdapterError, BoxFuture, DataProvider, DiffAlgorithm, ItemEvent, ItemEventListener,
    Position, PublishCredentials, PublishError, Publisher,
};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, OnceLock};

/// Rows a COMMAND item holds at most: an `ADD` of one more is refused.
pub const MAX_ROWS: usize = 100_000;

/// Settings of a `shoal.memory` adapter.
#[derive(Debug, Clone)]
pub struct MemorySettings {
    /// `<adapter set>/<data adapter>`, for logs.
    pub name: String,
    /// Events kept per item for its snapshot.
    pub snapshot_length: usize,
    /// Items held at most.
    pub max_items: usize,
    /// Who may publish.
    pub publish: PublishAuth,
    /// The diff algorithms the values of these fields may be sent with,
    /// declared for every item.
    pub diff_fields: HashMap<String, Vec<DiffAlgorithm>>,
}

#[derive(Default)]
struct Kept {
    /// The last events (items that are not COMMAND rows).
    recent: VecDeque<Entry>,
    /// The rows (COMMAND items).
    rows: Rows,
}

#[derive(Default)]
struct State {
    /// Items published to, at most `max_items`.
    items: HashMap<Arc<str>, Kept>,
    /// Items the engine subscribes (as many as its clients subscribe: an
    /// item nobody published is not held for them).
    subscribed: HashSet<Arc<str>>,
    /// The position of the last event published.
    seq: u64,
}

/// Items in memory, fed by publishing.
pub struct MemoryFeed {
    settings: MemorySettings,
    /// Held while an event is stored and handed to the engine, so that a
    /// subscription's snapshot and the events after it never interleave.
    /// Publishing is an HTTP request per event: this lock is never hot.
    state: Mutex<State>,
    listener: OnceLock<Arc<dyn ItemEventListener>>,
}

impl MemoryFeed {
    pub fn new(settings: MemorySettings) -> Arc<Self> {
        Arc::new(Self {
            settings,
            state: Mutex::new(State::default()),
            listener: OnceLock::new(),
        })
    }

    fn store(&self, item: &str, event: ItemEvent) -> Result<Position, PublishError> {
        let mut st = self.state.lock();
        if !st.items.contains_key(item) && st.items.len() >= self.settings.max_items {
            return Err(PublishError::Refused(format!(
                "this node holds {} items already (max_items of {})",
                self.settings.max_items, self.settings.name
            )));
        }
        let seq = st.seq + 1;
        let position = Position::Local(seq);
        let entry = Entry {
            position,
            fields: event.into_fields(),
        };
        let kept = st.items.entry(Arc::from(item)).or_default();
        if snapshot::is_command(&entry) {
            let key = entry.get("key").unwrap_or_default();
            if kept.rows.len() >= MAX_ROWS && !kept.rows.contains(key) {
                return Err(PublishError::Refused(format!(
                    "item \"{item}\" has {MAX_ROWS} rows already"
                )));
            }
            kept.rows.apply(&entry);
        } else {
            kept.recent.push_back(entry.clone());
            while kept.recent.len() > self.settings.snapshot_length {
                kept.recent.pop_front();
            }
        }
        st.seq = seq;
        let deliver = st.subscribed.contains(item);
        if deliver {
            if let Some(l) = self.listener.get() {
                l.update(item, entry.into_event(), false);
            }
        }
        Ok(position)
    }
}

impl DataProvider for MemoryFeed {
    fn set_listener(&self, listener: Arc<dyn ItemEventListener>) {
        let _ = self.listener.set(listener);
    }

    fn subscribe(&self, item: &str) -> Result<(), AdapterError> {
        let mut st = self.state.lock();
        st.subscribed.insert(Arc::from(item));
        let events = match st.items.get(item) {
            Some(kept) => {
                let mut events = kept.rows.events();
                events.extend(kept.recent.iter().map(Entry::to_event));
                events
            }
            None => Vec::new(),
        };
        if let Some(l) = self.listener.get() {
            if !self.settings.diff_fields.is_empty() {
                l.declare_field_diff_order(item, self.settings.diff_fields.clone());
            }
            l.snapshot(item, events);
        }
        Ok(())
    }

    fn unsubscribe(&self, item: &str) {
        self.state.lock().subscribed.remove(item);
    }

    fn is_snapshot_available(&self, _item: &str) -> bool {
        true
    }

    fn publisher(&self) -> Option<&dyn Publisher> {
        Some(self)
    }
}

impl Publisher for MemoryFeed {
    fn authorize(&self, credentials: Option<&PublishCredentials>) -> bool {
        self.settings.publish.allows(credentials)
    }

    fn publish<'a>(
        &'a self,
        item: &'a str,
        event: ItemEvent,
    ) -> BoxFuture<'a, Result<Position, PublishError>> {
        ready(self.store(item, event))
    }
}

#[cfg(test)]
mod tests;
