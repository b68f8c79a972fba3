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
use shoal_adapter::{ItemEvent, Position};
use std::sync::Arc;

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

/// The snapshot of a COMMAND item from its history, oldest first: `ADD`
/// and `UPDATE` merge their fields into the row of their key, `DELETE`
/// removes it; each row left is one `ADD` event carrying the position of
/// the row's last entry.
pub fn of_command_rows(history: &[Entry]) -> Snapshot {
    let command: Arc<str> = Arc::from("command");
    let add: Arc<str> = Arc::from("ADD");
    let mut rows: IndexMap<Arc<str>, (Fields, Position)> = IndexMap::new();
    for e in history {
        let (Some(cmd), Some(key)) = (e.get("command"), e.get("key")) else {
            // A plain entry among rows changes no row.
            continue;
        };
        if cmd.eq_ignore_ascii_case("DELETE") {
            rows.shift_remove(key);
            continue;
        }
        let (fields, at) = rows
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
    let events = rows
        .into_values()
        .map(|(fields, at)| {
            let mut ev = ItemEvent::with_capacity(fields.len()).with_position(at);
            for (n, v) in fields {
                if *n == *command {
                    ev.push(n, Some(add.clone()));
                } else {
                    ev.push(n, v);
                }
            }
            ev
        })
        .collect();
    Snapshot {
        events,
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
