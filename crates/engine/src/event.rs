//! An item event as sessions receive it: the full values after the event,
//! which fields changed, and the encoded value lists, built once per schema
//! and shared by every session that sends it.

use parking_lot::Mutex;
use shoal_protocol::diff::{plain_len, wire_len, DiffKind};
use shoal_protocol::notify::{push_values, Value};
use std::sync::{Arc, OnceLock};
use tokio::time::Instant;

/// A field value; `None` is null.
pub(crate) type FieldValue = Option<Arc<str>>;

/// The fields a subscription asked for, as indexes into the item's field table.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Schema {
    /// Position of this schema in its item's schema table (the cache key).
    pub id: usize,
    pub fields: Vec<usize>,
}

/// What a COMMAND-mode event does to its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    Add,
    Update,
    Delete,
}

impl Command {
    /// The value of the `command` field.
    pub fn name(self) -> &'static str {
        match self {
            Command::Add => "ADD",
            Command::Update => "UPDATE",
            Command::Delete => "DELETE",
        }
    }
}

#[derive(Debug)]
pub(crate) struct Event {
    /// Position of the event in its item's event stream: an event may be
    /// delta-encoded only for a session that sent the event `seq - 1`.
    pub seq: u64,
    pub values: Vec<FieldValue>,
    pub changed: Vec<bool>,
    /// COMMAND-mode events: the row key and the command.
    pub command: Option<(Arc<str>, Command)>,
    /// Encoded value lists: (schema id, delta?) -> text.
    encoded: Mutex<Vec<(usize, bool, Arc<str>)>>,
    /// Bytes this event holds (see [`Event::cost`]).
    cost: usize,
    /// When the engine made it, i.e. received it from the data adapter:
    /// the start of the delivery latency. One reading of the clock per
    /// event, shared by every session that sends it.
    pub received: Instant,
    /// The event's place in its source's history (a broker entry), when
    /// the source has one: what a session's journal follows.
    pub position: Option<shoal_adapter::Position>,
    /// Changed fields whose data adapter allows a diff, with the value
    /// before this event: what a delta encoding may send as a diff.
    diff_bases: Vec<DiffBase>,
}

/// A field of an event that may be sent as a diff from its previous value.
/// The diff is computed once, by the first session that sends the event in
/// delta form, and shared by every other: all of them hold the same
/// previous value (the one of event `seq - 1`).
#[derive(Debug)]
pub(crate) struct DiffBase {
    pub field: usize,
    pub kind: DiffKind,
    pub old: Arc<str>,
    /// The diff's body; `None` when the values cannot be sent that way.
    body: OnceLock<Option<Box<str>>>,
}

impl DiffBase {
    pub fn new(field: usize, kind: DiffKind, old: Arc<str>) -> Self {
        Self {
            field,
            kind,
            old,
            body: OnceLock::new(),
        }
    }

    /// The diff to `new`, if it is shorter on the wire than `new` itself.
    fn shorter_than(&self, new: &str) -> Option<&str> {
        let body = self
            .body
            .get_or_init(|| self.kind.encode(&self.old, new).map(Into::into))
            .as_deref()?;
        (wire_len(self.kind, body) < plain_len(new)).then_some(body)
    }
}

impl Event {
    pub fn new(
        seq: u64,
        values: Vec<FieldValue>,
        changed: Vec<bool>,
        command: Option<(Arc<str>, Command)>,
    ) -> Self {
        // Each value is an `Arc<str>`: a pointer pair in the vector, and a
        // header of two counters before its text.
        let text: usize = values.iter().flatten().map(|v| v.len() + 16).sum();
        let cost = std::mem::size_of::<Self>()
            + values.capacity() * std::mem::size_of::<FieldValue>()
            + changed.capacity()
            + text
            + command.as_ref().map_or(0, |(k, _)| k.len() + 16);
        Self {
            seq,
            values,
            changed,
            command,
            encoded: Mutex::new(Vec::new()),
            cost,
            received: Instant::now(),
            position: None,
            diff_bases: Vec::new(),
        }
    }

    /// Lets the delta encoding send these fields as diffs (see [`DiffBase`]).
    pub fn with_diff_bases(mut self, bases: Vec<DiffBase>) -> Self {
        // The previous values are held too.
        self.cost += bases.iter().map(|b| b.old.len() + 16).sum::<usize>()
            + bases.capacity() * std::mem::size_of::<DiffBase>();
        self.diff_bases = bases;
        self
    }

    /// Bytes the event holds in memory: a session that queues it is charged
    /// this much. Values and encodings may be shared with the item and other
    /// sessions, so each holder being charged in full errs on the safe side.
    pub fn cost(&self) -> usize {
        self.cost
    }

    /// The same row with another command (COMMAND mode coalescing: an ADD
    /// not yet sent followed by an UPDATE is sent as one ADD with the newer
    /// values). `field` is the position of the `command` field.
    pub fn with_command(&self, command: Command, field: usize) -> Option<Self> {
        let (key, _) = self.command.as_ref()?;
        let mut values = self.values.clone();
        *values.get_mut(field)? = Some(command.name().into());
        Some(Self::full(self.seq, values, Some((key.clone(), command))))
    }

    /// An event that sets every field (snapshots, cleared items).
    pub fn full(seq: u64, values: Vec<FieldValue>, command: Option<(Arc<str>, Command)>) -> Self {
        let changed = vec![true; values.len()];
        Self::new(seq, values, changed, command)
    }

    pub fn value(&self, field: usize) -> Option<&str> {
        self.values.get(field).and_then(|v| v.as_deref())
    }

    /// The value list of a `U` line for `schema`. With `delta`, fields that
    /// did not change since the previous event are sent as unchanged, and
    /// fields with a diff base as their diff when it is shorter: `delta`
    /// means the client holds the values of event `seq - 1`.
    pub fn encode(&self, schema: &Schema, delta: bool) -> Arc<str> {
        let mut cache = self.encoded.lock();
        if let Some((_, _, text)) = cache
            .iter()
            .find(|(id, d, _)| *id == schema.id && *d == delta)
        {
            return text.clone();
        }
        let mut out = String::with_capacity(8 * schema.fields.len());
        push_values(
            &mut out,
            schema.fields.iter().map(|&f| {
                if delta && !self.changed.get(f).copied().unwrap_or(false) {
                    return Value::Unchanged;
                }
                let Some(new) = self.value(f) else {
                    return Value::Null;
                };
                let diff = delta
                    .then(|| self.diff_bases.iter().find(|b| b.field == f))
                    .flatten()
                    .and_then(|b| Some(Value::Diff(b.kind, b.shorter_than(new)?)));
                diff.unwrap_or(Value::Text(new))
            }),
        );
        let text: Arc<str> = out.into();
        cache.push((schema.id, delta, text.clone()));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_once_per_schema_and_form() {
        let ev = Event::new(
            2,
            vec![Some("a".into()), None, Some("".into())],
            vec![true, false, true],
            None,
        );
        let s = Schema {
            id: 0,
            fields: vec![2, 0, 1],
        };
        assert_eq!(&*ev.encode(&s, false), "$|a|#");
        assert_eq!(&*ev.encode(&s, true), "$|a|");
        let again = ev.encode(&s, true);
        assert!(Arc::ptr_eq(&again, &ev.encode(&s, true)));
    }
}
