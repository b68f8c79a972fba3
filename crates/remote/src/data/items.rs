//! The items of a remote Data Adapter, as a state machine without I/O.
//!
//! The engine says which items it wants (`subscribe` / `unsubscribe`, in
//! order, each subscription a new *generation* of the item); the remote
//! learns it through `SUB` and `USB` requests, one at a time per item, as
//! the SDKs require (a `SUB` sent before the previous `USB` of the item was
//! answered may be refused as "too late"). Notifications name the `SUB` that
//! opened them by its request id, so they are routed by that id: events of
//! an older subscription of the item, or of one the engine no longer wants,
//! are dropped.
//!
//! When the remote is lost, every item the engine still wants is marked
//! *recovering*; a new remote gets a `SUB` for each, and what it sends as a
//! snapshot is handled by the `events_recovery` policy (Lightstreamer's
//! names): dropped (`leave_hole`) or delivered as real-time updates
//! (`use_snapshot`, `enforce_snapshot`; the latter also clears the
//! snapshot when the remote is lost). Items subscribed while no remote is
//! there get an empty snapshot at once and recover the same way.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to do with snapshots from a new remote (`events_recovery`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventsRecovery {
    /// Snapshots of a new remote are dropped: clients see a hole.
    LeaveHole,
    /// Snapshots of a new remote are delivered as updates.
    #[default]
    UseSnapshot,
    /// As `UseSnapshot`, and each item's snapshot is cleared when the
    /// remote is lost.
    EnforceSnapshot,
}

/// A request the proxy must send to the remote now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Subscribe { id: u64, item: Arc<str> },
    Unsubscribe { id: u64, item: Arc<str> },
}

/// What the engine's listener must be told, as the result of a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// The item's snapshot is (empty and) complete.
    EndOfSnapshot(Arc<str>),
    /// The item's snapshot must be forgotten.
    ClearSnapshot(Arc<str>),
}

/// How a notification of the remote reaches the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Not for an item the engine wants now: drop it.
    Drop,
    /// Deliver to `item`; `snapshot` says whether it is part of the
    /// item's snapshot (for updates) or whether an end of snapshot counts.
    Deliver { item: Arc<str>, snapshot: bool },
}

/// The remote side of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Remote {
    /// Not subscribed on the remote.
    Idle,
    /// `SUB` sent for generation `gen`, no answer yet.
    Subscribing { id: u64, gen: u64 },
    /// Subscribed for generation `gen` (or refused: then `id` routes
    /// nothing, but the generation is not asked again).
    Subscribed { id: u64, gen: u64 },
    /// `USB` sent, no answer yet.
    Unsubscribing { id: u64 },
}

#[derive(Debug)]
struct Slot {
    name: Arc<str>,
    /// The engine's current subscription of the item, if any.
    wanted: Option<u64>,
    remote: Remote,
    /// The snapshot from the remote is for a client that already has one.
    recovering: bool,
}

/// The items of one remote Data Adapter.
#[derive(Debug)]
pub struct Items {
    slots: HashMap<Arc<str>, Slot>,
    /// Request id of each live `SUB` -> item, for notifications.
    routes: HashMap<u64, Arc<str>>,
    /// Request id of each unanswered `SUB` or `USB` -> item, and when it
    /// was sent.
    in_flight: HashMap<u64, (Arc<str>, Instant)>,
    next_gen: u64,
    next_id: u64,
    connected: bool,
    recovery: EventsRecovery,
}

impl Items {
    /// `first_id`: the first request id to use (ids then count up).
    pub fn new(first_id: u64, recovery: EventsRecovery) -> Self {
        Self {
            slots: HashMap::new(),
            routes: HashMap::new(),
            in_flight: HashMap::new(),
            next_gen: 0,
            next_id: first_id,
            connected: false,
            recovery,
        }
    }

    /// Items the engine wants now.
    pub fn wanted(&self) -> usize {
        self.slots.values().filter(|s| s.wanted.is_some()).count()
    }

    /// Requests sent and not answered yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// A fresh request id, for requests that are not about items.
    pub fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    /// Requests sent longer than `timeout` ago and still unanswered.
    pub fn expired(&self, timeout: Duration, now: Instant) -> Vec<u64> {
        self.in_flight
            .iter()
            .filter(|(_, (_, sent))| now.saturating_duration_since(*sent) >= timeout)
            .map(|(id, _)| *id)
            .collect()
    }

    /// The engine subscribes `item`.
    pub fn subscribe(&mut self, item: &str, out: &mut Vec<Request>) -> Option<Signal> {
        self.next_gen += 1;
        let gen = self.next_gen;
        let connected = self.connected;
        let slot = self.slots.entry(item.into()).or_insert_with(|| Slot {
            name: item.into(),
            wanted: None,
            remote: Remote::Idle,
            recovering: false,
        });
        slot.wanted = Some(gen);
        slot.recovering = !connected;
        let name = slot.name.clone();
        self.pump(&name, out);
        // Without a remote the snapshot is empty, and comes now.
        (!connected).then_some(Signal::EndOfSnapshot(name))
    }

    /// The engine unsubscribes `item`.
    pub fn unsubscribe(&mut self, item: &str, out: &mut Vec<Request>) {
        let Some(slot) = self.slots.get_mut(item) else {
            return;
        };
        slot.wanted = None;
        let name = slot.name.clone();
        self.pump(&name, out);
    }

    /// The remote answered request `id` (`ok` false: with an error, or not
    /// in time). Returns the item it was for, if the id was pending.
    pub fn answered(&mut self, id: u64, ok: bool, out: &mut Vec<Request>) -> Option<Arc<str>> {
        let (name, _) = self.in_flight.remove(&id)?;
        if let Some(slot) = self.slots.get_mut(&name) {
            slot.remote = match std::mem::replace(&mut slot.remote, Remote::Idle) {
                Remote::Subscribing { id, gen } => {
                    if !ok {
                        // Nothing will come for it; the generation is not
                        // asked again (the engine's next subscription is).
                        self.routes.remove(&id);
                    }
                    Remote::Subscribed { id, gen }
                }
                Remote::Unsubscribing { .. } => Remote::Idle,
                other => other,
            };
        }
        self.pump(&name, out);
        Some(name)
    }

    /// The item the `SUB` with request id `sub_id` is for, while it is
    /// routed (a declaration about it, such as `DFD`, applies to it).
    pub fn item_of(&self, sub_id: u64) -> Option<Arc<str>> {
        let name = self.routes.get(&sub_id)?;
        Some(self.slots.get(name)?.name.clone())
    }

    /// Where a notification for the `SUB` with request id `sub_id` goes.
    /// `snapshot`: an update flagged as snapshot, or an end of snapshot.
    pub fn route(&mut self, sub_id: u64, snapshot: bool) -> Route {
        let Some(name) = self.routes.get(&sub_id) else {
            return Route::Drop;
        };
        let Some(slot) = self.slots.get_mut(name) else {
            return Route::Drop;
        };
        if !slot.recovering {
            return Route::Deliver {
                item: slot.name.clone(),
                snapshot,
            };
        }
        if !snapshot {
            // Real-time events: the new remote's snapshot is over.
            slot.recovering = false;
            return Route::Deliver {
                item: slot.name.clone(),
                snapshot: false,
            };
        }
        match self.recovery {
            EventsRecovery::LeaveHole => Route::Drop,
            EventsRecovery::UseSnapshot | EventsRecovery::EnforceSnapshot => Route::Deliver {
                item: slot.name.clone(),
                snapshot: false,
            },
        }
    }

    /// An end of snapshot for `sub_id`: `Some(item)` when the engine must
    /// hear of it.
    pub fn end_of_snapshot(&mut self, sub_id: u64) -> Option<Arc<str>> {
        let name = self.routes.get(&sub_id)?;
        let slot = self.slots.get_mut(name)?;
        if std::mem::take(&mut slot.recovering) {
            // The client's snapshot ended long ago.
            return None;
        }
        Some(slot.name.clone())
    }

    /// A remote is ready (its init answered): every wanted item is
    /// subscribed on it.
    pub fn connected(&mut self, out: &mut Vec<Request>) {
        self.connected = true;
        let names: Vec<Arc<str>> = self.slots.keys().cloned().collect();
        for name in names {
            self.pump(&name, out);
        }
    }

    /// The remote is gone: nothing is subscribed any more, unanswered
    /// requests are void, and items still wanted will recover.
    pub fn disconnected(&mut self, signals: &mut Vec<Signal>) {
        self.connected = false;
        self.routes.clear();
        self.in_flight.clear();
        self.slots.retain(|_, slot| {
            slot.remote = Remote::Idle;
            if slot.wanted.is_none() {
                return false;
            }
            slot.recovering = true;
            if self.recovery == EventsRecovery::EnforceSnapshot {
                signals.push(Signal::ClearSnapshot(slot.name.clone()));
            }
            true
        });
    }

    /// Sends what brings the remote in line with what the engine wants,
    /// one request at a time per item.
    fn pump(&mut self, name: &Arc<str>, out: &mut Vec<Request>) {
        if !self.connected {
            return;
        }
        let Some(slot) = self.slots.get_mut(name) else {
            return;
        };
        let next = match (&slot.remote, slot.wanted) {
            (Remote::Subscribing { .. } | Remote::Unsubscribing { .. }, _) => None,
            (Remote::Idle, None) => {
                self.slots.remove(name);
                return;
            }
            (Remote::Idle, Some(gen)) => {
                let id = self.next_id;
                self.next_id = self.next_id.wrapping_add(1);
                slot.remote = Remote::Subscribing { id, gen };
                self.routes.insert(id, slot.name.clone());
                Some(Request::Subscribe {
                    id,
                    item: slot.name.clone(),
                })
            }
            (Remote::Subscribed { gen, .. }, Some(wanted)) if *gen == wanted => None,
            (Remote::Subscribed { id, .. }, _) => {
                // Unwanted, or wanted again by a newer subscription that
                // needs its own snapshot: unsubscribe first.
                self.routes.remove(id);
                let usb = self.next_id;
                self.next_id = self.next_id.wrapping_add(1);
                slot.remote = Remote::Unsubscribing { id: usb };
                Some(Request::Unsubscribe {
                    id: usb,
                    item: slot.name.clone(),
                })
            }
        };
        if let Some(req) = next {
            let (Request::Subscribe { id, .. } | Request::Unsubscribe { id, .. }) = &req;
            self.in_flight
                .insert(*id, (slot.name.clone(), Instant::now()));
            out.push(req);
        }
    }
}

#[cfg(test)]
mod tests;
