//! The items of one data adapter: one upstream subscription per item, shared
//! by every session, and the listener the adapter pushes events into.

use crate::item::Item;
use parking_lot::Mutex;
use shoal_adapter::{AdapterError, DataProvider, DiffAlgorithm, ItemEvent, ItemEventListener};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Weak};

pub(crate) struct Hub {
    pub adapter_set: String,
    pub name: String,
    provider: Arc<dyn DataProvider>,
    /// Items with at least one subscription, with their reference counts.
    items: Mutex<HashMap<String, (Arc<Item>, usize)>>,
    /// Held across a reference-count change and the provider call it causes,
    /// so that the provider sees subscribe and unsubscribe of an item in the
    /// order the engine decided them, and nobody shares an item whose
    /// subscribe has not succeeded. Events do not take it: a provider may
    /// push from inside `subscribe`.
    calls: Mutex<()>,
    history_max: usize,
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("adapter_set", &self.adapter_set)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Hub {
    pub fn new(
        adapter_set: &str,
        name: &str,
        provider: Arc<dyn DataProvider>,
        history_max: usize,
    ) -> Arc<Self> {
        let hub = Arc::new(Self {
            adapter_set: adapter_set.to_owned(),
            name: name.to_owned(),
            provider,
            items: Mutex::new(HashMap::new()),
            calls: Mutex::new(()),
            history_max,
        });
        hub.provider.set_listener(Arc::new(HubListener {
            hub: Arc::downgrade(&hub),
        }));
        hub
    }

    /// Takes a reference on `name`, subscribing upstream on the first one.
    pub fn acquire(&self, name: &str) -> Result<Arc<Item>, AdapterError> {
        let _calls = self.calls.lock();
        let created = {
            let mut items = self.items.lock();
            if let Some((item, refs)) = items.get_mut(name) {
                *refs += 1;
                return Ok(item.clone());
            }
            let snapshot = self.provider.is_snapshot_available(name);
            // A provider may ask to keep a longer history, never a shorter one.
            let history = self
                .provider
                .history_length(name)
                .map_or(self.history_max, |n| n.max(self.history_max));
            let item = Arc::new(Item::new(name, snapshot, history));
            items.insert(name.to_owned(), (item.clone(), 1));
            item
        };
        // Outside the items lock: the provider may push events from inside subscribe.
        match self.provider.subscribe(name) {
            Ok(()) => {
                tracing::debug!(adapter = %self.name, item = name, "item subscribed upstream");
                Ok(created)
            }
            Err(e) => {
                self.items.lock().remove(name);
                Err(e)
            }
        }
    }

    /// Drops a reference; the last one unsubscribes upstream.
    pub fn release(&self, item: &Item) {
        let _calls = self.calls.lock();
        let last = {
            let mut items = self.items.lock();
            match items.get_mut(&item.name) {
                Some((_, refs)) if *refs > 1 => {
                    *refs -= 1;
                    false
                }
                Some(_) => {
                    items.remove(&item.name);
                    true
                }
                None => false,
            }
        };
        if last {
            tracing::debug!(adapter = %self.name, item = %item.name, "item unsubscribed upstream");
            self.provider.unsubscribe(&item.name);
        }
    }

    pub fn provider(&self) -> &Arc<dyn DataProvider> {
        &self.provider
    }

    pub(crate) fn find(&self, name: &str) -> Option<Arc<Item>> {
        self.items.lock().get(name).map(|(i, _)| i.clone())
    }

    pub fn item_count(&self) -> usize {
        self.items.lock().len()
    }
}

struct HubListener {
    hub: Weak<Hub>,
}

impl HubListener {
    fn item(&self, name: &str) -> Option<Arc<Item>> {
        self.hub.upgrade()?.find(name)
    }
}

impl ItemEventListener for HubListener {
    fn update(&self, item: &str, event: ItemEvent, is_snapshot: bool) {
        if let Some(i) = self.item(item) {
            i.apply(event, is_snapshot);
        }
    }

    fn end_of_snapshot(&self, item: &str) {
        if let Some(i) = self.item(item) {
            i.end_of_snapshot();
        }
    }

    fn snapshot(&self, item: &str, events: Vec<ItemEvent>) {
        if let Some(i) = self.item(item) {
            i.apply_snapshot(events);
        }
    }

    fn clear_snapshot(&self, item: &str) {
        if let Some(i) = self.item(item) {
            i.clear_snapshot();
        }
    }

    fn declare_field_diff_order(&self, item: &str, fields: HashMap<String, Vec<DiffAlgorithm>>) {
        if let Some(i) = self.item(item) {
            i.declare_diffs(fields);
        }
    }

    fn failure(&self, message: &str) {
        if let Some(hub) = self.hub.upgrade() {
            tracing::error!(adapter_set = %hub.adapter_set, adapter = %hub.name, "data adapter failure: {message}");
        }
    }
}
