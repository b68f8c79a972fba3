//! A session's subscription and the per-item buffers between the item and
//! the stream: where conflation, frequency limits and overflow happen.

use crate::event::{Command, Event, Schema};
use crate::item::Item;
use indexmap::IndexMap;
use shoal_adapter::Mode;
use shoal_protocol::Line;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// What an item hands a session for one subscribed item.
#[derive(Debug, Clone)]
pub(crate) enum Delivery {
    Event { ev: Arc<Event>, snapshot: bool },
    Eos,
    Cs,
}

/// How a subscription dispatches its updates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Dispatch {
    pub mode: Mode,
    /// `false` for `unfiltered`: nothing may be dropped silently.
    pub filtered: bool,
    /// Minimum time between two updates of one item; `None`: unlimited.
    pub min_interval: Option<Duration>,
    /// Pending live events per item past which events are conflated,
    /// dropped or lost, as the mode says.
    pub buffer: usize,
    /// Filtered COMMAND: most pending live events per item, once coalescing
    /// by key is not enough; past it ADD and DELETE are lost and reported
    /// with `OV`.
    pub hard_cap: usize,
    /// The metadata adapter's frequency limit, which `reconf` cannot lift.
    pub metadata_max_frequency: Option<f64>,
}

impl Dispatch {
    pub fn max_frequency(&self) -> Option<f64> {
        self.min_interval.map(|d| 1.0 / d.as_secs_f64())
    }
}

#[derive(Debug)]
pub(crate) struct SubItem {
    pub item: Arc<Item>,
    pub schema: Arc<Schema>,
    queue: VecDeque<Delivery>,
    /// Live events in `queue` (snapshot events and markers don't count).
    live: usize,
    /// Events dropped since the last `OV`.
    lost: u64,
    /// Item sequence of the last event sent, for delta encoding.
    last_seq: Option<u64>,
    /// When the last live update was sent, for frequency limits (the limit
    /// may change with `reconf`, so the next slot is computed when needed).
    last_sent: Option<Instant>,
    /// COMMAND mode: frequency limits apply to the UPDATEs of each key.
    key_sent: HashMap<Arc<str>, Instant>,
    /// COMMAND mode: position of the `command` field in the item's table.
    command_field: Option<usize>,
    /// Filtered COMMAND past the buffer: pending events by key (see
    /// `push_command`).
    overflow: IndexMap<Arc<str>, Vec<Arc<Event>>>,
    /// Sum of the costs of the events in `queue` and `overflow`.
    event_bytes: usize,
    pub in_ready: bool,
    /// What the last line written by [`SubItem::take`] was (the session's
    /// journal follows it).
    pub last_taken: Taken,
    /// An adopted session's item whose client got entries read back from
    /// the broker up to here: live events at or before it, which the item
    /// may still be about to deliver, are dropped.
    skip_upto: Option<shoal_adapter::Position>,
}

/// A line [`SubItem::take`] wrote.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Taken {
    Update {
        seq: u64,
        position: Option<shoal_adapter::Position>,
    },
    Eos,
    Cs,
    Ov,
}

/// What taking from a sub-item produced.
#[derive(Debug)]
pub(crate) enum Take {
    /// One line other than an update (`OV`, `EOS`, `CS`) was appended.
    Wrote,
    /// An update line (`U`) was appended; for a live event, when the engine
    /// received it (snapshot events are not timed: they are the state at
    /// subscription, not news).
    Update(Option<Instant>),
    /// Nothing may be sent before this instant (frequency limit).
    Wait(Instant),
    Empty,
}

impl SubItem {
    pub fn new(item: Arc<Item>, schema: Arc<Schema>) -> Self {
        Self {
            command_field: item.command_field(),
            event_bytes: 0,
            overflow: IndexMap::new(),
            item,
            schema,
            queue: VecDeque::new(),
            live: 0,
            lost: 0,
            last_seq: None,
            last_sent: None,
            key_sent: HashMap::new(),
            in_ready: false,
            last_taken: Taken::Eos,
            skip_upto: None,
        }
    }

    /// Puts `first` before what is queued (an adopted session's item: the
    /// entries its client lacks, read back from the broker), dropping
    /// queued events at or before `upto` (the backfill has them). `delta`:
    /// the first event may be sent as changes (the client has values; the
    /// first of `first` has sequence `delta + 1`).
    pub fn seed(
        &mut self,
        first: Vec<Delivery>,
        upto: Option<shoal_adapter::Position>,
        delta: Option<u64>,
    ) {
        let queued = std::mem::take(&mut self.queue);
        self.event_bytes = 0;
        self.live = 0;
        for d in first
            .into_iter()
            .chain(queued.into_iter().filter(|d| match d {
                Delivery::Event { ev, .. } => {
                    !(upto.is_some() && ev.position.is_some() && ev.position <= upto)
                }
                _ => true,
            }))
        {
            if matches!(
                d,
                Delivery::Event {
                    snapshot: false,
                    ..
                }
            ) {
                self.live += 1;
            }
            self.enqueue(d);
        }
        self.last_seq = delta;
        self.skip_upto = upto;
    }

    pub fn has_pending(&self) -> bool {
        self.lost > 0 || !self.queue.is_empty() || !self.overflow.is_empty()
    }

    /// Bytes this sub-item holds: its queue's slots (allocated, not just
    /// used) and the events queued in them.
    pub fn bytes(&self) -> usize {
        self.queue.capacity() * SLOT
            + self.event_bytes
            + self.key_sent.capacity() * KEY_SLOT
            + self.overflow.capacity() * OVERFLOW_SLOT
    }

    /// Queues a delivery according to the subscription's dispatch policy.
    pub fn push(&mut self, d: Delivery, dispatch: &Dispatch) {
        if let (Some(upto), Delivery::Event { ev, .. }) = (self.skip_upto, &d) {
            match ev.position {
                Some(p) if p <= upto => return,
                _ => self.skip_upto = None,
            }
        }
        let ev = match &d {
            Delivery::Event {
                ev,
                snapshot: false,
            } => ev.clone(),
            Delivery::Cs => return self.push_clear(dispatch),
            _ => return self.enqueue(d),
        };
        let command = dispatch.mode == Mode::Command && dispatch.filtered;
        // Once COMMAND events overflow, the next ones follow them there, so
        // that each key's events stay in order.
        if command && !self.overflow.is_empty() {
            return self.push_command(ev, dispatch);
        }
        if self.live < dispatch.buffer {
            self.live += 1;
            self.enqueue(d);
            return;
        }
        // The buffer is full.
        match (dispatch.mode, dispatch.filtered) {
            // MERGE keeps the latest state: the newest event replaces the
            // last queued one (its values are the whole merged state).
            (Mode::Merge, true) => {
                if let Some(pos) = self.last_live() {
                    self.replace(pos, d);
                }
            }
            (Mode::Command, true) => self.push_command(ev, dispatch),
            // DISTINCT drops the oldest event silently, as filtered
            // dispatching allows.
            (Mode::Distinct, true) => {
                if let Some(pos) = self.first_live() {
                    self.remove_at(pos);
                    self.enqueue(d);
                }
            }
            // RAW and unfiltered subscriptions lose the event and say so
            // with an OV notification before the next one.
            _ => self.lost += 1,
        }
    }

    /// Filtered COMMAND with a full buffer: events go to the overflow, one
    /// entry per key, where each new event is merged with the last one of
    /// its key, so that a key holds at most two pending events (a DELETE
    /// then an ADD) and its order is kept:
    ///
    /// | pending | new    | pending after                      |
    /// |---------|--------|------------------------------------|
    /// | ADD     | UPDATE | ADD with the new values            |
    /// | ADD     | DELETE | nothing (the client never saw it)  |
    /// | UPDATE  | UPDATE | the new UPDATE                     |
    /// | UPDATE  | DELETE | the DELETE                         |
    /// | DELETE  | ADD    | both, in that order                |
    ///
    /// Each key's events leave in order (the queue before the overflow);
    /// the order between keys may change, as COMMAND mode allows. Every
    /// step is O(1), whatever the queue's length. An event that merges with
    /// nothing is kept while fewer than `dispatch.hard_cap` live events are
    /// pending; past that it is lost and counted in the next `OV`, as
    /// Lightstreamer does for the ADD and DELETE events of a filtered
    /// COMMAND subscription.
    fn push_command(&mut self, ev: Arc<Event>, dispatch: &Dispatch) {
        let Some((key, cmd)) = ev.command.clone() else {
            // Events without a key are not delivered in COMMAND mode.
            return;
        };
        let Some(pending) = self.overflow.get_mut(&key) else {
            if self.live < dispatch.hard_cap {
                self.live += 1;
                self.event_bytes += ev.cost();
                self.overflow.insert(key, vec![ev]);
            } else {
                self.lost += 1;
            }
            return;
        };
        let Some(last) = pending.last_mut() else {
            return;
        };
        let before = last.command.as_ref().map(|(_, c)| *c);
        let old_cost = last.cost();
        match (before, cmd) {
            (Some(Command::Add), Command::Update) => {
                let add = self
                    .command_field
                    .and_then(|f| ev.with_command(Command::Add, f));
                // Without a command field the UPDATE replaces the ADD.
                let add = add.map_or(ev, Arc::new);
                self.event_bytes = self.event_bytes + add.cost() - old_cost;
                *last = add;
            }
            (Some(Command::Add), Command::Delete) => {
                pending.pop();
                self.live -= 1;
                self.event_bytes -= old_cost;
                if pending.is_empty() {
                    self.overflow.swap_remove(&key);
                }
            }
            (Some(Command::Update), Command::Update | Command::Delete) => {
                self.event_bytes = self.event_bytes + ev.cost() - old_cost;
                *last = ev;
            }
            _ if self.live < dispatch.hard_cap => {
                self.live += 1;
                self.event_bytes += ev.cost();
                pending.push(ev);
            }
            _ => self.lost += 1,
        }
    }

    /// The next overflow event the frequency limit lets through (ADD and
    /// DELETE always pass), or when one may go.
    fn take_overflow(&mut self, dispatch: &Dispatch, now: Instant) -> Result<Arc<Event>, Take> {
        let mut earliest: Option<Instant> = None;
        let mut found = None;
        for (i, (key, pending)) in self.overflow.iter().enumerate() {
            let Some(first) = pending.first() else {
                continue;
            };
            let slot = match (&first.command, dispatch.min_interval) {
                (Some((_, Command::Update)), Some(interval)) => self
                    .key_sent
                    .get(key)
                    .map(|&t| t + interval)
                    .filter(|&t| t > now),
                _ => None,
            };
            match slot {
                None => {
                    found = Some(i);
                    break;
                }
                Some(t) => earliest = Some(earliest.map_or(t, |e| e.min(t))),
            }
        }
        let Some(i) = found else {
            return Err(wait_or_empty(earliest));
        };
        let Some((_, pending)) = self.overflow.get_index_mut(i) else {
            return Err(Take::Empty);
        };
        let ev = pending.remove(0);
        if pending.is_empty() {
            self.overflow.swap_remove_index(i);
        }
        self.event_bytes -= ev.cost();
        if self.overflow.is_empty() && self.overflow.capacity() > 64 {
            self.overflow = IndexMap::new();
        }
        Ok(ev)
    }

    /// A clear-snapshot makes everything queued before it moot: the events
    /// go (counted as lost when unfiltered, where nothing may vanish
    /// silently), an earlier `CS` goes, an end-of-snapshot marker stays. So
    /// an adapter clearing an item in a loop cannot grow the queue.
    fn push_clear(&mut self, dispatch: &Dispatch) {
        let mut dropped_live = 0;
        let mut kept = VecDeque::with_capacity(2);
        let mut eos = false;
        for q in std::mem::take(&mut self.queue) {
            match q {
                Delivery::Eos if !eos => {
                    eos = true;
                    kept.push_back(q);
                }
                Delivery::Event {
                    snapshot: false, ..
                } => dropped_live += 1,
                _ => {}
            }
        }
        if !dispatch.filtered {
            self.lost += dropped_live;
        }
        self.overflow = IndexMap::new();
        self.queue = kept;
        self.event_bytes = 0;
        self.live = 0;
        self.enqueue(Delivery::Cs);
    }

    fn enqueue(&mut self, d: Delivery) {
        self.event_bytes += event_cost(&d);
        self.queue.push_back(d);
    }

    fn replace(&mut self, pos: usize, d: Delivery) {
        let Some(slot) = self.queue.get_mut(pos) else {
            return;
        };
        self.event_bytes = self.event_bytes + event_cost(&d) - event_cost(slot);
        *slot = d;
    }

    fn remove_at(&mut self, pos: usize) -> Option<Delivery> {
        let d = self.queue.remove(pos)?;
        self.event_bytes -= event_cost(&d);
        // A queue that once held a burst gives its memory back.
        if self.queue.capacity() > 64 && self.queue.len() < self.queue.capacity() / 4 {
            self.queue.shrink_to(self.queue.len() * 2);
        }
        Some(d)
    }

    fn last_live(&self) -> Option<usize> {
        self.queue.iter().rposition(|q| {
            matches!(
                q,
                Delivery::Event {
                    snapshot: false,
                    ..
                }
            )
        })
    }

    fn first_live(&self) -> Option<usize> {
        self.queue.iter().position(|q| {
            matches!(
                q,
                Delivery::Event {
                    snapshot: false,
                    ..
                }
            )
        })
    }

    /// The position of the next delivery the frequency limit lets through,
    /// or how long to wait. In COMMAND mode ADD and DELETE always pass, and an
    /// UPDATE waiting for its key's slot lets later events of other keys by
    /// (the order of each key is kept).
    fn next_sendable(&self, dispatch: &Dispatch, now: Instant) -> Result<usize, Take> {
        let Some(interval) = dispatch.min_interval else {
            return if self.queue.is_empty() {
                Err(Take::Empty)
            } else {
                Ok(0)
            };
        };
        let mut blocked_keys: Vec<&Arc<str>> = Vec::new();
        let mut earliest: Option<Instant> = None;
        for (pos, d) in self.queue.iter().enumerate() {
            let Delivery::Event {
                ev,
                snapshot: false,
            } = d
            else {
                // Snapshot events and markers keep their place.
                return if pos == 0 {
                    Ok(0)
                } else {
                    Err(wait_or_empty(earliest))
                };
            };
            let slot = match &ev.command {
                None => match self.last_sent {
                    Some(t) if t + interval > now => Some(t + interval),
                    _ => None,
                },
                Some((key, cmd)) => {
                    if blocked_keys.contains(&key) {
                        continue;
                    }
                    match (cmd, self.key_sent.get(key)) {
                        (Command::Update, Some(&t)) if t + interval > now => Some(t + interval),
                        _ => None,
                    }
                }
            };
            match slot {
                None => return Ok(pos),
                Some(t) => {
                    earliest = Some(earliest.map_or(t, |e| e.min(t)));
                    match &ev.command {
                        Some((key, _)) => blocked_keys.push(key),
                        // Without keys every event waits for the same slot.
                        None => break,
                    }
                }
            }
        }
        Err(wait_or_empty(earliest))
    }

    /// Appends the next line for this item to `out`, if its frequency
    /// allows. The line is written in place: nothing is allocated per
    /// update, and the value list is the event's shared encoding.
    pub fn take(
        &mut self,
        sub_id: u32,
        index: usize,
        dispatch: &Dispatch,
        now: Instant,
        out: &mut String,
    ) -> Take {
        if self.lost > 0 {
            let lost = std::mem::take(&mut self.lost);
            // The client's values are now out of step: send the next one in full.
            self.last_seq = None;
            Line::Ov {
                sub_id,
                item: index,
                lost,
            }
            .write(out);
            self.last_taken = Taken::Ov;
            return Take::Wrote;
        }
        let front = match self.next_sendable(dispatch, now) {
            Ok(pos) => self.remove_at(pos),
            // The overflow follows the queue.
            Err(Take::Empty) if !self.overflow.is_empty() => {
                match self.take_overflow(dispatch, now) {
                    Ok(ev) => Some(live(ev)),
                    Err(wait) => return wait,
                }
            }
            Err(wait) => return wait,
        };
        let Some(front) = front else {
            return Take::Empty;
        };
        match front {
            Delivery::Eos => {
                self.last_taken = Taken::Eos;
                Line::Eos {
                    sub_id,
                    item: index,
                }
                .write(out)
            }
            Delivery::Cs => {
                self.last_taken = Taken::Cs;
                self.last_seq = None;
                Line::Cs {
                    sub_id,
                    item: index,
                }
                .write(out)
            }
            Delivery::Event { ev, snapshot } => {
                if !snapshot {
                    self.live = self.live.saturating_sub(1);
                    match &ev.command {
                        Some((key, Command::Update)) => {
                            self.key_sent.insert(key.clone(), now);
                        }
                        Some((key, Command::Delete)) => {
                            self.key_sent.remove(key);
                        }
                        Some((_, Command::Add)) => {}
                        None => self.last_sent = Some(now),
                    }
                }
                let delta = dispatch.mode != Mode::Command
                    && self.last_seq.is_some_and(|s| s + 1 == ev.seq);
                self.last_seq = Some(ev.seq);
                self.last_taken = Taken::Update {
                    seq: ev.seq,
                    position: ev.position,
                };
                let values = ev.encode(&self.schema, delta);
                Line::Update {
                    sub_id,
                    item: index,
                    values: &values,
                }
                .write(out);
                return Take::Update((!snapshot).then_some(ev.received));
            }
        }
        Take::Wrote
    }
}

/// Bytes of one queue slot.
const SLOT: usize = std::mem::size_of::<Delivery>();
/// Bytes of one entry of `key_sent` (key, instant, hash table control).
const KEY_SLOT: usize = std::mem::size_of::<(Arc<str>, Instant)>() + 8;
/// Bytes of one overflow entry (key, its events' vector with room for two,
/// hash and index).
const OVERFLOW_SLOT: usize = std::mem::size_of::<(Arc<str>, Vec<Arc<Event>>)>() + 2 * 8 + 16;

fn live(ev: Arc<Event>) -> Delivery {
    Delivery::Event {
        ev,
        snapshot: false,
    }
}

fn event_cost(d: &Delivery) -> usize {
    match d {
        Delivery::Event { ev, .. } => ev.cost(),
        _ => 0,
    }
}

fn wait_or_empty(earliest: Option<Instant>) -> Take {
    earliest.map_or(Take::Empty, Take::Wait)
}

/// One subscription of a session.
#[derive(Debug)]
pub(crate) struct Subscription {
    pub sub_id: u32,
    pub dispatch: Dispatch,
    pub items: Vec<SubItem>,
    /// The data adapter hub the items came from, to release them.
    pub hub: Arc<crate::hub::Hub>,
    /// The subscription as the metadata adapter was told of it.
    pub table: Arc<shoal_adapter::TableInfo>,
    /// SUBOK is in the session's log: until then the stream sends nothing
    /// of this subscription (its items may already queue updates).
    pub confirmed: bool,
}

#[cfg(test)]
mod tests;
