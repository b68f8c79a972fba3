//! One event of an item: field names with their new values.
//!
//! Names and values are shared strings (`Arc<str>`): the engine keeps a
//! value as it is given, without a copy, and a provider that sends the
//! same field names over and over (a remote adapter, say) can hand the same
//! name to every event without allocating it again.

use std::sync::Arc;

/// Field values for one update of an item. Fields not mentioned keep their
/// previous value; `None` is a null value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemEvent {
    fields: Vec<(Arc<str>, Option<Arc<str>>)>,
    position: Option<Position>,
}

/// Where an event stands in its source's own history, for sources that
/// have one: a broker that keeps the item's entries in order. Any node
/// reading the same source gives the same event the same position, so it
/// says how far an item's history has been delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Position {
    /// A Redis stream entry id: milliseconds and sequence (`1733220000000-0`).
    Redis { ms: u64, seq: u64 },
    /// A NATS JetStream stream sequence.
    JetStream(u64),
    /// A sequence given by this node (items published to `shoal.memory`).
    Local(u64),
}

/// Where a read of an item's history starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bound {
    /// At this position (the entry there is the first read).
    From(Position),
    /// Right after this position.
    After(Position),
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Position::Redis { ms, seq } => write!(f, "{ms}-{seq}"),
            Position::JetStream(seq) | Position::Local(seq) => write!(f, "{seq}"),
        }
    }
}

impl ItemEvent {
    pub fn new() -> Self {
        Self::default()
    }

    /// An event with room for `n` fields.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            fields: Vec::with_capacity(n),
            position: None,
        }
    }

    /// Marks the event with its place in the source's history (builder style).
    pub fn with_position(mut self, position: Position) -> Self {
        self.position = Some(position);
        self
    }

    /// The event's place in the source's history, if its source has one.
    pub fn position(&self) -> Option<Position> {
        self.position
    }

    /// Sets `field` to `value` (builder style).
    pub fn with(mut self, field: impl Into<Arc<str>>, value: impl Into<Arc<str>>) -> Self {
        self.set(field, Some(value.into()));
        self
    }

    /// Sets `field` to `value`, replacing an earlier value of the same field.
    pub fn set(&mut self, field: impl Into<Arc<str>>, value: Option<Arc<str>>) {
        let field = field.into();
        match self.fields.iter_mut().find(|(n, _)| *n == field) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((field, value)),
        }
    }

    /// Appends `field` without looking for an earlier value of it: for
    /// providers that build events from a wire format in one pass. When a
    /// field comes twice, the last value counts.
    pub fn push(&mut self, field: Arc<str>, value: Option<Arc<str>>) {
        self.fields.push((field, value));
    }

    pub fn get(&self, field: &str) -> Option<Option<&str>> {
        self.fields
            .iter()
            .rev()
            .find(|(n, _)| &**n == field)
            .map(|(_, v)| v.as_deref())
    }

    pub fn fields(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.fields.iter().map(|(n, v)| (&**n, v.as_deref()))
    }

    pub fn into_fields(self) -> Vec<(Arc<str>, Option<Arc<str>>)> {
        self.fields
    }
}
