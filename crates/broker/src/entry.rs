//! Broker entries as item events: field names shared between events, and
//! the payload formats of each broker.
//!
//! A Redis stream entry is a list of field/value pairs, which are the
//! item's fields as they are. A JetStream message carries a JSON object of
//! field values (strings or null). In both, an entry of a COMMAND item has
//! `command` (`ADD`, `UPDATE` or `DELETE`) and `key` fields, as
//! Lightstreamer's COMMAND mode names them.

use shoal_adapter::{ItemEvent, Position};
use std::collections::HashMap;
use std::sync::Arc;

/// Most distinct field names one feed keeps shared; past it, names are
/// allocated per event (a producer that invents a field per entry must not
/// grow the table without end).
const MAX_SHARED_NAMES: usize = 4096;

/// Field names seen by one feed, so that every event of an item names its
/// fields with the same shared strings instead of allocating them again.
#[derive(Debug, Default)]
pub struct Names {
    known: HashMap<Box<[u8]>, Arc<str>>,
}

impl Names {
    /// The shared name for `raw`, or `None` when it is not UTF-8.
    pub fn get(&mut self, raw: &[u8]) -> Option<Arc<str>> {
        if let Some(n) = self.known.get(raw) {
            return Some(n.clone());
        }
        let name: Arc<str> = Arc::from(std::str::from_utf8(raw).ok()?);
        if self.known.len() < MAX_SHARED_NAMES {
            self.known.insert(raw.into(), name.clone());
        }
        Some(name)
    }

    /// The shared name for `raw`, with bytes that are not UTF-8 replaced
    /// (U+FFFD): a producer's bad name must not stop an item.
    pub fn get_lossy(&mut self, raw: &[u8]) -> Arc<str> {
        match self.get(raw) {
            Some(n) => n,
            None => Arc::from(String::from_utf8_lossy(raw).as_ref()),
        }
    }
}

/// Field names with their values (`None`: null), as an event holds them.
pub type Fields = Vec<(Arc<str>, Option<Arc<str>>)>;

/// One entry of an item's history in the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub position: Position,
    pub fields: Fields,
}

impl Entry {
    /// The item event this entry makes.
    pub fn to_event(&self) -> ItemEvent {
        self.clone().into_event()
    }

    /// The item event this entry makes, consuming it.
    pub fn into_event(self) -> ItemEvent {
        let mut ev = ItemEvent::with_capacity(self.fields.len()).with_position(self.position);
        for (n, v) in self.fields {
            ev.push(n, v);
        }
        ev
    }

    /// The value of `field`, the last one if it comes twice.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(n, _)| &**n == field)
            .and_then(|(_, v)| v.as_deref())
    }
}

/// Why a payload is not an item's fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not a JSON object of field values")]
    NotAnObject,
    #[error("field \"{0}\" is an object or an array: a field value is a string, a number, a boolean or null")]
    NestedValue(String),
    #[error("a field name or value is not UTF-8")]
    NotUtf8,
}

/// The fields of a JSON payload: an object whose values are strings or
/// null. Numbers and booleans are taken as their JSON text (`1.5`, `true`),
/// which is what a client would display; objects and arrays are refused.
pub fn json_fields(names: &mut Names, payload: &[u8]) -> Result<Fields, PayloadError> {
    let value: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| PayloadError::NotJson(e.to_string()))?;
    let serde_json::Value::Object(map) = value else {
        return Err(PayloadError::NotAnObject);
    };
    let mut out = Vec::with_capacity(map.len());
    for (k, v) in map {
        let name = names.get(k.as_bytes()).ok_or(PayloadError::NotUtf8)?;
        let value = shoal_adapter::publish::field_value(v)
            .ok_or_else(|| PayloadError::NestedValue(k.clone()))?
            .map(Arc::from);
        out.push((name, value));
    }
    Ok(out)
}

/// The JSON payload of an event, as [`json_fields`] reads it back.
pub fn json_payload(event: &ItemEvent) -> Vec<u8> {
    let map: serde_json::Map<String, serde_json::Value> = event
        .fields()
        .map(|(n, v)| {
            let v = match v {
                Some(s) => serde_json::Value::String(s.to_owned()),
                None => serde_json::Value::Null,
            };
            (n.to_owned(), v)
        })
        .collect();
    serde_json::Value::Object(map).to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_objects_become_fields_and_other_payloads_are_refused() {
        let mut names = Names::default();
        let f = json_fields(&mut names, br#"{"bid":"1.5","ask":null,"n":3,"ok":true}"#).unwrap();
        let mut as_pairs: Vec<(&str, Option<&str>)> =
            f.iter().map(|(n, v)| (&**n, v.as_deref())).collect();
        as_pairs.sort();
        assert_eq!(
            as_pairs,
            [
                ("ask", None),
                ("bid", Some("1.5")),
                ("n", Some("3")),
                ("ok", Some("true"))
            ]
        );
        assert!(matches!(
            json_fields(&mut names, b"[1]"),
            Err(PayloadError::NotAnObject)
        ));
        assert!(matches!(
            json_fields(&mut names, b"{\"a\":"),
            Err(PayloadError::NotJson(_))
        ));
        assert_eq!(
            json_fields(&mut names, br#"{"a":{"b":1}}"#),
            Err(PayloadError::NestedValue("a".into()))
        );
    }

    #[test]
    fn names_are_shared_between_events() {
        let mut names = Names::default();
        let a = names.get(b"bid").unwrap();
        let b = names.get(b"bid").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(names.get(&[0xff]).is_none());
    }

    #[test]
    fn a_payload_reads_back_as_the_event_it_came_from() {
        let ev = ItemEvent::new()
            .with("message", "hi \"there\"")
            .with("user", "ann");
        let mut names = Names::default();
        let back = json_fields(&mut names, &json_payload(&ev)).unwrap();
        let mut got: Vec<(String, Option<String>)> = back
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_deref().map(str::to_owned)))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("message".to_owned(), Some("hi \"there\"".to_owned())),
                ("user".to_owned(), Some("ann".to_owned()))
            ]
        );
    }
}
