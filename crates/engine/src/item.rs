//! One upstream item, shared by every session that subscribes to it: its
//! state (for snapshots), its field table, and its subscribers.
//!
//! An event is applied under the item's state lock, which also decides who
//! gets what; the deliveries to the sessions then happen under the item's
//! fan-out lock only, so that subscribing, unsubscribing and snapshots of
//! the item do not wait for a fan-out to thousands of sessions. The fan-out
//! lock is taken before the state lock is released: deliveries of one item
//! leave in the order of its events.
//!
//! Lock order: state, then fan-out, then a session's lock; never the other
//! way round.

use crate::event::{Command, DiffBase, Event, FieldValue, Schema};
use crate::session::Session;
use crate::subscription::Delivery;
use indexmap::IndexMap;
use parking_lot::Mutex;
use shoal_adapter::{DiffAlgorithm, ItemEvent, Mode, Position};
use shoal_protocol::diff::DiffKind;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Weak};

#[derive(Debug)]
pub(crate) struct Item {
    pub name: String,
    inner: Mutex<ItemInner>,
    /// Held while deliveries decided under `inner` are made.
    fanout: Mutex<()>,
}

/// Deliveries decided under the state lock, made after it: each with the
/// subscriber's session and place.
type Targets = Vec<(Weak<Session>, u32, usize, Delivery)>;

/// How a new subscriber wants its snapshot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attach {
    pub sub_id: u32,
    pub item_index: usize,
    pub mode: Mode,
    pub snapshot: bool,
    /// DISTINCT: at most this many events of history.
    pub snapshot_len: usize,
}

#[derive(Debug)]
struct Subscriber {
    session: Weak<Session>,
    at: Attach,
    /// The snapshot has not been delivered yet (the provider is still sending it).
    awaiting_snapshot: bool,
}

/// Field names an item learns from its events, at most: a provider that
/// names a new field in every event would otherwise grow the item's state,
/// and the cost of every event, without end. Fields clients subscribe to
/// always count; event fields past the limit are dropped (logged once).
pub(crate) const MAX_EVENT_FIELDS: usize = 1024;

#[derive(Debug, Default)]
struct ItemInner {
    names: Vec<Arc<str>>,
    index: HashMap<Arc<str>, usize>,
    schemas: Vec<Arc<Schema>>,
    /// Merged state: the value of every field after the last event.
    state: Vec<FieldValue>,
    has_state: bool,
    seq: u64,
    /// Recent events, for DISTINCT snapshots.
    history: VecDeque<Arc<Event>>,
    history_max: usize,
    /// COMMAND rows by key, in insertion order.
    rows: IndexMap<Arc<str>, Vec<FieldValue>>,
    snapshot_done: bool,
    subscribers: Vec<Subscriber>,
    /// Event fields were dropped past [`MAX_EVENT_FIELDS`] (and logged).
    fields_capped: bool,
    /// The source's position of the last event applied, when the source
    /// has positions (a broker): how far this item's history has come.
    position: Option<Position>,
    /// The diff encoding each field's values may be sent with, by field
    /// name, as the data adapter declared (none: no diff).
    diffs: HashMap<Arc<str>, DiffKind>,
    /// Fields ever declared with JSON Patch: never sent as TLCP-diff after.
    json_fields: std::collections::HashSet<Arc<str>>,
}

impl ItemInner {
    /// The index of a field named by an event, `None` past the limit.
    fn event_field(&mut self, name: Arc<str>) -> Option<usize> {
        if let Some(&i) = self.index.get(&*name) {
            return Some(i);
        }
        if self.names.len() >= MAX_EVENT_FIELDS {
            return None;
        }
        Some(self.add_field(name))
    }

    fn field(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.add_field(name.into())
    }

    /// Appends a field not yet in the table; its index.
    fn add_field(&mut self, name: Arc<str>) -> usize {
        self.names.push(name.clone());
        self.index.insert(name, self.names.len() - 1);
        self.names.len() - 1
    }

    fn schema(&mut self, fields: &[String]) -> Arc<Schema> {
        let idx: Vec<usize> = fields.iter().map(|f| self.field(f)).collect();
        if let Some(s) = self.schemas.iter().find(|s| s.fields == idx) {
            return s.clone();
        }
        let s = Arc::new(Schema {
            id: self.schemas.len(),
            fields: idx,
        });
        self.schemas.push(s.clone());
        s
    }

    fn command_fields(&self) -> Option<(usize, usize)> {
        Some((*self.index.get("key")?, *self.index.get("command")?))
    }

    /// What `pick` decides to send to each subscriber (subscribers whose
    /// session is gone are dropped here).
    fn targets(&mut self, mut pick: impl FnMut(&mut Subscriber) -> Option<Delivery>) -> Targets {
        let mut out = Vec::with_capacity(self.subscribers.len());
        self.subscribers.retain_mut(|sub| {
            if sub.session.strong_count() == 0 {
                return false;
            }
            if let Some(d) = pick(sub) {
                out.push((sub.session.clone(), sub.at.sub_id, sub.at.item_index, d));
            }
            true
        });
        out
    }
}

impl Item {
    /// Makes the deliveries decided under `inner`, in order with the other
    /// fan-outs of this item, after releasing `inner`.
    fn fan_out(&self, inner: parking_lot::MutexGuard<'_, ItemInner>, targets: Targets) {
        let order = self.fanout.lock();
        drop(inner);
        let mut gone: Vec<(Weak<Session>, u32)> = Vec::new();
        for (session, sub_id, index, d) in targets {
            let kept = session
                .upgrade()
                .is_some_and(|s| s.deliver(sub_id, index, d));
            if !kept {
                gone.push((session, sub_id));
            }
        }
        drop(order);
        if !gone.is_empty() {
            // Subscriptions that ended meanwhile: the item forgets them.
            self.inner.lock().subscribers.retain(|s| {
                !gone
                    .iter()
                    .any(|(w, id)| *id == s.at.sub_id && Weak::ptr_eq(w, &s.session))
            });
        }
    }
}

impl Item {
    pub fn new(name: &str, snapshot_available: bool, history_max: usize) -> Self {
        Self {
            name: name.to_owned(),
            inner: Mutex::new(ItemInner {
                snapshot_done: !snapshot_available,
                history_max,
                ..ItemInner::default()
            }),
            fanout: Mutex::new(()),
        }
    }

    /// The data adapter's diff declaration for fields of this item (see
    /// [`diff_kind`] for which encoding a field gets).
    pub fn declare_diffs(&self, fields: HashMap<String, Vec<DiffAlgorithm>>) {
        let mut inner = self.inner.lock();
        for (name, algorithms) in fields {
            let name: Arc<str> = name.into();
            match diff_kind(&algorithms) {
                // Clients that got a JSON patch of the field may hold it as
                // JSON, and refuse a TLCP-diff on it: no diff any more.
                Some(DiffKind::TlcpDiff) if inner.json_fields.contains(&name) => {
                    inner.diffs.remove(&name);
                }
                Some(kind) => {
                    if kind == DiffKind::JsonPatch {
                        inner.json_fields.insert(name.clone());
                    }
                    inner.diffs.insert(name, kind);
                }
                None => {
                    inner.diffs.remove(&name);
                }
            }
        }
    }

    /// Events of history kept for DISTINCT snapshots.
    pub fn history_max(&self) -> usize {
        self.inner.lock().history_max
    }

    /// Resolves a field list against this item (the same list always gives
    /// the same schema, so encodings are shared).
    pub fn schema(&self, fields: &[String]) -> Arc<Schema> {
        self.inner.lock().schema(fields)
    }

    /// Adds a subscriber and hands it the snapshot it asked for, atomically
    /// with respect to new events.
    /// Adds a subscriber. Returns the position of the item's last event
    /// now, where the subscriber's snapshot ends and its live updates
    /// start; `None` when unknown (no positions, or a snapshot to come).
    pub fn attach(&self, session: &Arc<Session>, at: Attach) -> Option<Position> {
        let mut inner = self.inner.lock();
        let mut awaiting = false;
        if at.snapshot && at.mode != Mode::Raw {
            let ready = inner.snapshot_done || (at.mode == Mode::Merge && inner.has_state);
            if ready {
                for d in snapshot_of(&inner, at) {
                    session.deliver(at.sub_id, at.item_index, d);
                }
            } else {
                awaiting = true;
                // The provider is still sending the snapshot. COMMAND rows
                // already known go now and the rest as it comes; a DISTINCT
                // snapshot is cut to its length when it ends.
                if at.mode == Mode::Command {
                    for d in snapshot_of(&inner, at) {
                        if !matches!(d, Delivery::Eos) {
                            session.deliver(at.sub_id, at.item_index, d);
                        }
                    }
                }
            }
        }
        inner.subscribers.push(Subscriber {
            session: Arc::downgrade(session),
            at,
            awaiting_snapshot: awaiting,
        });
        if awaiting {
            None
        } else {
            inner.position
        }
    }

    /// Whether the item's snapshot has been read (from then on, every event
    /// of its source reaches its subscribers).
    pub fn snapshot_done(&self) -> bool {
        self.inner.lock().snapshot_done
    }

    /// An event read back from the item's history (for an adopted session),
    /// as its subscribers get events, without touching the item's state:
    /// the fields it carries are the fields that changed.
    pub fn replayed(&self, event: ItemEvent, seq: u64) -> Arc<Event> {
        let mut inner = self.inner.lock();
        let position = event.position();
        let mut touched = Vec::new();
        for (name, value) in event.into_fields() {
            if let Some(i) = inner.event_field(name) {
                touched.push((i, value));
            }
        }
        let n = inner.names.len();
        let mut values = vec![None; n];
        let mut changed = vec![false; n];
        for (i, v) in touched {
            values[i] = v;
            changed[i] = true;
        }
        let mut ev = Event::new(seq, values, changed, None);
        ev.position = position;
        Arc::new(ev)
    }

    /// The source's position of the last event of this item, if its source
    /// gives positions.
    pub fn position(&self) -> Option<Position> {
        self.inner.lock().position
    }

    /// Position of the `command` field in this item's field table, once a
    /// schema has named it.
    pub fn command_field(&self) -> Option<usize> {
        self.inner.lock().index.get("command").copied()
    }

    pub fn detach(&self, session: &Session, sub_id: u32) {
        self.inner
            .lock()
            .subscribers
            .retain(|s| !(s.at.sub_id == sub_id && std::ptr::eq(s.session.as_ptr(), session)));
    }

    /// Applies an event from the data provider and fans it out.
    pub fn apply(&self, event: ItemEvent, is_snapshot: bool) {
        self.apply_event(event, is_snapshot, false);
    }

    /// Applies a whole snapshot, oldest event first, and ends it. MERGE
    /// subscribers waiting for their snapshot get the last event only,
    /// which carries the state all the events leave.
    pub fn apply_snapshot(&self, events: Vec<ItemEvent>) {
        let n = events.len();
        for (i, ev) in events.into_iter().enumerate() {
            self.apply_event(ev, true, i + 1 < n);
        }
        self.end_of_snapshot();
    }

    /// `more`: more snapshot events follow at once, so MERGE subscribers
    /// waiting for their snapshot wait for the last one.
    fn apply_event(&self, event: ItemEvent, is_snapshot: bool, more: bool) {
        let mut guard = self.inner.lock();
        let inner = &mut *guard;
        let mut changed = vec![false; inner.names.len()];
        let first = !inner.has_state;
        let mut touched: Vec<(usize, FieldValue)> = Vec::new();
        let mut dropped = 0usize;
        let position = event.position();
        if let Some(p) = position {
            inner.position = Some(p);
        }
        for (name, value) in event.into_fields() {
            match inner.event_field(name) {
                Some(i) => touched.push((i, value)),
                None => dropped += 1,
            }
        }
        if dropped > 0 && !std::mem::replace(&mut inner.fields_capped, true) {
            tracing::warn!(item = %self.name, dropped, "the data adapter names more than {MAX_EVENT_FIELDS} fields for this item: fields past that are dropped");
        }
        let n = inner.names.len();
        inner.state.resize(n, None);
        changed.resize(n, first);
        let mut diff_bases = Vec::new();
        for (i, v) in &touched {
            if inner.state[*i] != *v || first {
                changed[*i] = true;
                if let (Some(old), Some(_), false) = (&inner.state[*i], v, inner.diffs.is_empty()) {
                    if let Some(&kind) = inner.diffs.get(&inner.names[*i]) {
                        diff_bases.push(DiffBase::new(*i, kind, old.clone()));
                    }
                }
                inner.state[*i] = v.clone();
            }
        }
        inner.has_state = true;
        inner.seq += 1;
        let seq = inner.seq;
        let mut merged =
            Event::new(seq, inner.state.clone(), changed, None).with_diff_bases(diff_bases);
        merged.position = position;
        let merged = Arc::new(merged);
        inner.history.push_back(merged.clone());
        while inner.history.len() > inner.history_max {
            inner.history.pop_front();
        }
        let command = apply_command(inner, &touched, seq);
        let targets = inner.targets(|sub| {
            if is_snapshot && (!sub.awaiting_snapshot || sub.at.mode == Mode::Raw) {
                return None;
            }
            if more && sub.at.mode == Mode::Merge {
                return None;
            }
            // Given, cut to length, with the end of the snapshot.
            if sub.awaiting_snapshot && sub.at.mode == Mode::Distinct {
                return None;
            }
            let ev = match sub.at.mode {
                Mode::Command => command.clone()?,
                _ => merged.clone(),
            };
            if is_snapshot && sub.at.mode == Mode::Merge {
                sub.awaiting_snapshot = false;
            }
            Some(Delivery::Event {
                ev,
                snapshot: is_snapshot,
            })
        });
        self.fan_out(guard, targets);
    }

    pub fn end_of_snapshot(&self) {
        let mut guard = self.inner.lock();
        guard.snapshot_done = true;
        let inner = &mut *guard;
        let waiting: Vec<(Weak<Session>, Attach)> = inner
            .subscribers
            .iter_mut()
            .filter_map(|s| {
                std::mem::take(&mut s.awaiting_snapshot).then(|| (s.session.clone(), s.at))
            })
            .collect();
        let mut targets = Targets::new();
        for (session, at) in waiting {
            let deliveries = match at.mode {
                Mode::Distinct => snapshot_of(inner, at),
                Mode::Command => vec![Delivery::Eos],
                _ => Vec::new(),
            };
            for d in deliveries {
                targets.push((session.clone(), at.sub_id, at.item_index, d));
            }
        }
        self.fan_out(guard, targets);
    }

    pub fn clear_snapshot(&self) {
        let mut inner = self.inner.lock();
        let n = inner.names.len();
        inner.state = vec![None; n];
        inner.history.clear();
        inner.rows.clear();
        inner.seq += 1;
        let cleared = Arc::new(Event::full(inner.seq, vec![None; n], None));
        let targets = inner.targets(|sub| match sub.at.mode {
            Mode::Merge => Some(Delivery::Event {
                ev: cleared.clone(),
                snapshot: false,
            }),
            Mode::Distinct | Mode::Command => Some(Delivery::Cs),
            Mode::Raw => None,
        });
        self.fan_out(inner, targets);
    }
}

/// The one diff encoding a field gets, from the algorithms its data adapter
/// allows. A field that allows JSON Patch gets JSON patches only, even when
/// it prefers TLCP-diff: a client that applied a JSON patch holds the field
/// as JSON, and the official clients refuse a TLCP-diff on such a field,
/// while a session may have got any of the field's past updates as a patch.
/// A JSON value that cannot go as a patch goes in full.
fn diff_kind(algorithms: &[DiffAlgorithm]) -> Option<DiffKind> {
    if algorithms.contains(&DiffAlgorithm::JsonPatch) {
        Some(DiffKind::JsonPatch)
    } else if algorithms.contains(&DiffAlgorithm::DiffMatchPatch) {
        Some(DiffKind::TlcpDiff)
    } else {
        None
    }
}

/// Updates the COMMAND rows with an event that carries `key` and `command`
/// fields, and returns the row event COMMAND subscribers receive. An ADD of
/// a known key becomes an UPDATE, an UPDATE of an unknown key an ADD.
fn apply_command(
    inner: &mut ItemInner,
    touched: &[(usize, FieldValue)],
    seq: u64,
) -> Option<Arc<Event>> {
    let (key_f, cmd_f) = inner.command_fields()?;
    let get = |f: usize| {
        touched
            .iter()
            .find(|(i, _)| *i == f)
            .and_then(|(_, v)| v.clone())
    };
    let key = get(key_f)?;
    let asked = match get(cmd_f)?.as_ref() {
        "ADD" => Command::Add,
        "UPDATE" => Command::Update,
        "DELETE" => Command::Delete,
        other => {
            tracing::warn!(item = %key, command = other, "COMMAND event with an unknown command ignored");
            return None;
        }
    };
    let n = inner.names.len();
    let (command, values) = match (asked, inner.rows.get_mut(&key)) {
        (Command::Delete, Some(_)) => {
            inner.rows.shift_remove(&key);
            let mut v = vec![None; n];
            v[key_f] = Some(key.clone());
            (Command::Delete, v)
        }
        (Command::Delete, None) => return None,
        (_, Some(row)) => {
            row.resize(n, None);
            for (i, v) in touched {
                row[*i] = v.clone();
            }
            (Command::Update, row.clone())
        }
        (_, None) => {
            let mut row = vec![None; n];
            for (i, v) in touched {
                row[*i] = v.clone();
            }
            inner.rows.insert(key.clone(), row.clone());
            (Command::Add, row)
        }
    };
    let mut values = values;
    values[cmd_f] = Some(command_name(command).into());
    Some(Arc::new(Event::full(seq, values, Some((key, command)))))
}

fn command_name(c: Command) -> &'static str {
    c.name()
}

/// The snapshot deliveries for a new subscriber.
fn snapshot_of(inner: &ItemInner, at: Attach) -> Vec<Delivery> {
    match at.mode {
        Mode::Raw => Vec::new(),
        // The last event carries the whole merged state; a first event is
        // always sent in full, so it can be shared as it is.
        Mode::Merge if inner.has_state => vec![Delivery::Event {
            ev: match inner.history.back() {
                Some(last) if last.seq == inner.seq => last.clone(),
                _ => Arc::new(Event::full(inner.seq, inner.state.clone(), None)),
            },
            snapshot: true,
        }],
        Mode::Merge => Vec::new(),
        Mode::Distinct => {
            let skip = inner.history.len().saturating_sub(at.snapshot_len);
            let mut out: Vec<Delivery> = inner
                .history
                .iter()
                .skip(skip)
                .map(|ev| Delivery::Event {
                    ev: ev.clone(),
                    snapshot: true,
                })
                .collect();
            out.push(Delivery::Eos);
            out
        }
        Mode::Command => {
            let mut out = Vec::with_capacity(inner.rows.len() + 1);
            if let Some((_, cmd_f)) = inner.command_fields() {
                for (key, row) in &inner.rows {
                    let mut values = row.clone();
                    values.resize(inner.names.len(), None);
                    values[cmd_f] = Some(command_name(Command::Add).into());
                    out.push(Delivery::Event {
                        ev: Arc::new(Event::full(
                            inner.seq,
                            values,
                            Some((key.clone(), Command::Add)),
                        )),
                        snapshot: true,
                    });
                }
            }
            out.push(Delivery::Eos);
            out
        }
    }
}
