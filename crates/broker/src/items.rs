//! Which items a feed reads from its broker, and how far each has come:
//! the sans-IO heart of a broker data adapter.
//!
//! An item goes through two phases. **Snapshot**: the adapter reads the
//! item's retained entries from the broker and hands them to the engine as
//! the snapshot; meanwhile the item is not read live. **Live**: the item is
//! read from the position the snapshot ended at; an entry is delivered only
//! if it comes after the last one delivered, so a read that overlaps the
//! snapshot (or a reconnection that reads again) never gives a duplicate,
//! and a read always starts where the last delivery ended, so there is no
//! gap.
//!
//! When the last client leaves, an item lingers: it is still read (its
//! position keeps up) for a while, so a client that comes back soon does
//! not reopen the broker subscription. A subscription during the linger
//! takes a fresh snapshot, as the engine starts the item anew.

use shoal_adapter::Position;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Slot {
    name: Arc<str>,
    /// An engine subscription holds the item.
    wanted: bool,
    /// Bumped by every subscribe: a snapshot read for an older one is void.
    generation: u64,
    phase: Phase,
    /// Unwanted items are dropped after this.
    linger_until: Option<Instant>,
    /// The last entry delivered (or covered by the snapshot).
    last: Option<Position>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for its snapshot to be read. `resync`: the broker lost
    /// entries this item had not delivered, so the engine's snapshot is
    /// cleared and the new one goes as updates. `taken`: a read is under way.
    Snapshot {
        resync: bool,
        taken: bool,
    },
    Live,
    /// The broker refuses to read it (a Redis key of another type than a
    /// stream): not read until it is subscribed again.
    Refused,
}

/// An item read live, with the position to read it from.
pub type LiveItem = (Arc<str>, Option<Position>);

/// A snapshot to read from the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotJob {
    pub item: Arc<str>,
    pub generation: u64,
    pub resync: bool,
}

/// What to do with a snapshot just read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotUse {
    /// Hand it to the engine as the item's snapshot.
    Snapshot,
    /// Clear the engine's snapshot and send this one as updates.
    Resync,
    /// Nobody wants it (unsubscribed, or subscribed again since): drop it.
    Drop,
}

/// The items of one feed.
#[derive(Debug, Default)]
pub struct Items {
    slots: HashMap<Arc<str>, Slot>,
    /// Bumped whenever the set of live items changes, so that a blocked
    /// live read can be restarted with the new set.
    version: u64,
}

impl Items {
    pub fn new() -> Self {
        Self::default()
    }

    /// The engine subscribes `item`: a snapshot is to be read.
    pub fn subscribe(&mut self, item: &str) {
        let slot = self
            .slots
            .entry(Arc::from(item))
            .or_insert_with_key(|name| Slot {
                name: name.clone(),
                wanted: false,
                generation: 0,
                phase: Phase::Live,
                linger_until: None,
                last: None,
            });
        slot.wanted = true;
        slot.generation += 1;
        slot.linger_until = None;
        if slot.phase == Phase::Live {
            self.version += 1;
        }
        slot.phase = Phase::Snapshot {
            resync: false,
            taken: false,
        };
    }

    /// The engine unsubscribes `item`: it lingers until `now + linger`.
    pub fn unsubscribe(&mut self, item: &str, now: Instant, linger: Duration) {
        if let Some(slot) = self.slots.get_mut(item) {
            slot.wanted = false;
            slot.linger_until = Some(now + linger);
        }
    }

    /// Whether `item` is read at all (wanted, or lingering).
    pub fn contains(&self, item: &str) -> bool {
        self.slots.contains_key(item)
    }

    pub fn is_wanted(&self, item: &str) -> bool {
        self.slots.get(item).is_some_and(|s| s.wanted)
    }

    /// The next snapshot to read, marked as under way.
    pub fn next_snapshot(&mut self) -> Option<SnapshotJob> {
        self.slots.values_mut().find_map(|s| match s.phase {
            Phase::Snapshot {
                resync,
                taken: false,
            } => {
                s.phase = Phase::Snapshot {
                    resync,
                    taken: true,
                };
                Some(SnapshotJob {
                    item: s.name.clone(),
                    generation: s.generation,
                    resync,
                })
            }
            _ => None,
        })
    }

    /// The snapshot of `job` cannot be read (the broker refuses the key):
    /// the item is refused; `true` when the engine's subscription still
    /// waits for a snapshot (an empty one is then due).
    pub fn snapshot_refused(&mut self, job: &SnapshotJob) -> bool {
        match self.slots.get_mut(&job.item) {
            Some(s) if s.generation == job.generation => {
                s.phase = Phase::Refused;
                s.wanted && !job.resync
            }
            _ => false,
        }
    }

    /// A snapshot read could not be made (the broker is gone): it is to
    /// be read again.
    pub fn snapshot_failed(&mut self, job: &SnapshotJob) {
        if let Some(s) = self.slots.get_mut(&job.item) {
            if s.generation == job.generation {
                if let Phase::Snapshot { resync, .. } = s.phase {
                    s.phase = Phase::Snapshot {
                        resync,
                        taken: false,
                    };
                }
            }
        }
    }

    /// The snapshot of `job` was read, ending at `last`: the item goes
    /// live from there. Says what to do with the snapshot.
    pub fn snapshot_read(&mut self, job: &SnapshotJob, last: Option<Position>) -> SnapshotUse {
        let Some(s) = self.slots.get_mut(&job.item) else {
            return SnapshotUse::Drop;
        };
        if s.generation != job.generation || !matches!(s.phase, Phase::Snapshot { .. }) {
            return SnapshotUse::Drop;
        }
        s.phase = Phase::Live;
        // Where the snapshot ended, even nowhere: a stream that is gone or
        // empty is read from its start.
        s.last = last;
        self.version += 1;
        match (s.wanted, job.resync) {
            (false, _) => SnapshotUse::Drop,
            (true, false) => SnapshotUse::Snapshot,
            (true, true) => SnapshotUse::Resync,
        }
    }

    /// The broker lost entries of `item` after the last one delivered: its
    /// snapshot is to be read again and replace the engine's.
    pub fn resync(&mut self, item: &str) {
        if let Some(s) = self.slots.get_mut(item) {
            if s.phase == Phase::Live {
                self.version += 1;
            }
            s.phase = Phase::Snapshot {
                resync: s.last.is_some(),
                taken: false,
            };
        }
    }

    /// The broker refuses to read `item` (its key is not a stream): it is no
    /// longer read, so that it cannot fail the reads of the others. A new
    /// subscription tries again.
    pub fn refuse(&mut self, item: &str) {
        if let Some(s) = self.slots.get_mut(item) {
            if s.phase == Phase::Live {
                self.version += 1;
            }
            s.phase = Phase::Refused;
        }
    }

    /// The live items with the position to read each from, and the
    /// version of that set.
    pub fn live(&self) -> (u64, Vec<LiveItem>) {
        let list = self
            .slots
            .values()
            .filter(|s| s.phase == Phase::Live)
            .map(|s| (s.name.clone(), s.last))
            .collect();
        (self.version, list)
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// An entry read live: `true` when the engine is to get it (it comes
    /// after the last one delivered and the item is wanted). The item's
    /// position advances either way.
    pub fn accept(&mut self, item: &str, at: Position) -> bool {
        let Some(s) = self.slots.get_mut(item) else {
            return false;
        };
        if s.phase != Phase::Live || s.last.is_some_and(|l| at <= l) {
            return false;
        }
        s.last = Some(at);
        s.wanted
    }

    /// The last position of `item`.
    pub fn last(&self, item: &str) -> Option<Position> {
        self.slots.get(item).and_then(|s| s.last)
    }

    /// Drops the items whose linger is over; returns the next end of a
    /// linger, if any.
    pub fn sweep(&mut self, now: Instant) -> Option<Instant> {
        let before = self.slots.len();
        self.slots
            .retain(|_, s| s.wanted || s.linger_until.is_none_or(|t| t > now));
        if self.slots.len() != before {
            self.version += 1;
        }
        self.slots.values().filter_map(|s| s.linger_until).min()
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

#[cfg(test)]
mod tests;
