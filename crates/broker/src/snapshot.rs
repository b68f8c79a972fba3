//! The snapshot of an item, built from the entries the broker kept, the
//! same on every node that reads them.
//!
//! The data adapter does not know in which mode clients subscribe (the
//! engine does), so the snapshot serves all of them: for an item whose
//! entries are COMMAND rows (they have `command` and `key` fields) it is
//! the rows that are current after the whole retained history, each as an
//! `ADD`; for any other item it is the last entries, oldest first, which
//! the engine folds into a MERGE row or keeps as a DISTINCT history.

use crate::entry::{Entry, Fields};
use indexmap::IndexMap;
use shoal_adapter::{ItemEvent, ItemEventListener, Position};
use std::sync::Arc;

/// Gives a snapshot just read to the engine as `what` says: the item's
/// snapshot (each subscription takes it in its mode's shape), or, after
/// lost entries, a cleared snapshot followed by the new one as updates.
/// The caller holds its feed's delivery lock.
pub fn hand_over(
    l: &dyn ItemEventListener,
    item: &str,
    what: crate::items::SnapshotUse,
    snap: Snapshot,
) {
    use crate::items::SnapshotUse;
    match what {
        SnapshotUse::Snapshot => l.snapshot(item, snap.events),
        SnapshotUse::Resync => {
            l.clear_snapshot(item);
            for ev in snap.events {
                l.update(item, ev, false);
            }
        }
        SnapshotUse::Drop => {}
    }
}

/// Whether an entry is a COMMAND row (has `command` and `key`).
pub fn is_command(entry: &Entry) -> bool {
    entry.get("command").is_some() && entry.get("key").is_some()
}

/// A snapshot: its events, and the position of the last entry it covers
/// (where live reading resumes), `None` for an item with no entries yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub events: Vec<ItemEvent>,
    pub last: Option<Position>,
}

/// The snapshot of plain entries, oldest first.
pub fn of_entries(entries: &[Entry]) -> Snapshot {
    Snapshot {
        events: entries.iter().map(Entry::to_event).collect(),
        last: entries.last().map(|e| e.position),
    }
}

/// The rows of a COMMAND item, kept up to date entry by entry: `ADD` and
/// `UPDATE` merge their fields into the row of their key, `DELETE`
/// removes it.
#[derive(Debug, Default)]
pub struct Rows {
    rows: IndexMap<Arc<str>, (Fields, Position)>,
}

impl Rows {
    /// Applies one entry (a plain entry, without `command` and `key`,
    /// changes no row).
    pub fn apply(&mut self, e: &Entry) {
        let (Some(cmd), Some(key)) = (e.get("command"), e.get("key")) else {
            return;
        };
        if cmd.eq_ignore_ascii_case("DELETE") {
            self.rows.shift_remove(key);
            return;
        }
        let (fields, at) = self
            .rows
            .entry(Arc::from(key))
            .or_insert_with(|| (Vec::new(), e.position));
        *at = e.position;
        for (n, v) in &e.fields {
            match fields.iter_mut().find(|(m, _)| m == n) {
                Some(slot) => slot.1 = v.clone(),
                None => fields.push((n.clone(), v.clone())),
            }
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Whether `key` has a row.
    pub fn contains(&self, key: &str) -> bool {
        self.rows.contains_key(key)
    }

    /// Each row as one `ADD` event carrying the position of the row's last
    /// entry.
    pub fn events(&self) -> Vec<ItemEvent> {
        let add: Arc<str> = Arc::from("ADD");
        self.rows
            .values()
            .map(|(fields, at)| {
                let mut ev = ItemEvent::with_capacity(fields.len()).with_position(*at);
                for (n, v) in fields {
                    if &**n == "command" {
                        ev.push(n.clone(), Some(add.clone()));
                    } else {
                        ev.push(n.clone(), v.clone());
                    }
                }
                ev
            })
            .collect()
    }
}

/// The snapshot of a COMMAND item from its history, oldest first: the
/// rows it leaves (see [`Rows`]).
pub fn of_command_rows(history: &[Entry]) -> Snapshot {
    let mut rows = Rows::default();
    for e in history {
        rows.apply(e);
    }
    Snapshot {
        events: rows.events(),
        last: history.last().map(|e| e.position),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ms: u64, fields: &[(&str, &str)]) -> Entry {
        Entry {
            position: Position::Redis { ms, seq: 0 },
            fields: fields
                .iter()
                .map(|(n, v)| (Arc::from(*n), Some(Arc::from(*v))))
                .collect(),
        }
    }

    fn rows(s: &Snapshot) -> Vec<Vec<(String, String)>> {
        s.events
            .iter()
            .map(|e| {
                e.fields()
                    .map(|(n, v)| (n.to_owned(), v.unwrap_or("<null>").to_owned()))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn command_rows_are_rebuilt_from_the_history() {
        let h = [
            entry(1, &[("command", "ADD"), ("key", "a"), ("qty", "1")]),
            entry(2, &[("command", "ADD"), ("key", "b"), ("qty", "2")]),
            entry(
                3,
                &[
                    ("command", "UPDATE"),
                    ("key", "a"),
                    ("qty", "5"),
                    ("px", "9"),
                ],
            ),
            entry(4, &[("command", "DELETE"), ("key", "b")]),
            entry(5, &[("command", "ADD"), ("key", "c"), ("qty", "7")]),
        ];
        assert!(h.iter().all(is_command));
        let s = of_command_rows(&h);
        assert_eq!(s.last, Some(Position::Redis { ms: 5, seq: 0 }));
        let pair = |n: &str, v: &str| (n.to_owned(), v.to_owned());
        assert_eq!(
            rows(&s),
            [
                vec![
                    pair("command", "ADD"),
                    pair("key", "a"),
                    pair("qty", "5"),
                    pair("px", "9")
                ],
                vec![pair("command", "ADD"), pair("key", "c"), pair("qty", "7")],
            ]
        );
        assert_eq!(
            s.events[0].position(),
            Some(Position::Redis { ms: 3, seq: 0 })
        );
    }

    #[test]
    fn plain_entries_are_the_snapshot_oldest_first() {
        let h = [entry(7, &[("v", "1")]), entry(8, &[("v", "2")])];
        assert!(!is_command(&h[0]));
        let s = of_entries(&h);
        assert_eq!(s.events.len(), 2);
        assert_eq!(s.events[1].get("v"), Some(Some("2")));
        assert_eq!(s.last, Some(Position::Redis { ms: 8, seq: 0 }));
        assert_eq!(of_entries(&[]).last, None);
    }
}
