//! Publishing: applications pushing events into a data adapter that takes
//! them (`POST /publish`), and the JSON they send.
//!
//! ```text
//! {"adapter_set":"FEED","data_adapter":"DEFAULT","item":"chat",
//!  "fields":{"message":"hi","note":null}}
//! ```
//!
//! A COMMAND row adds `"command"` (`ADD`, `UPDATE`, `DELETE`) and `"key"`.

use crate::{BoxFuture, ItemEvent, Position};
use serde_json::{Map, Value};

/// The data adapter used when the body names none.
const DEFAULT_DATA_ADAPTER: &str = "DEFAULT";

/// A JSON field value as an item's value: strings as they are, numbers and
/// booleans as their JSON text, null as null; `None` for an array or an
/// object, which is no field value.
pub fn field_value(v: Value) -> Option<Option<String>> {
    match v {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(s)),
        Value::Number(n) => Some(Some(n.to_string())),
        Value::Bool(b) => Some(Some(b.to_string())),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// Credentials presented with a publish request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishCredentials {
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `Authorization: Basic …`, decoded.
    Basic { user: String, password: String },
}

/// A data provider that takes events from applications and writes them to
/// its source, so that every node reading that source delivers them.
pub trait Publisher: Send + Sync {
    /// Whether `credentials` may publish here.
    fn authorize(&self, credentials: Option<&PublishCredentials>) -> bool;
    /// Writes `event` as the next event of `item`; answers the position the
    /// source gave it.
    fn publish<'a>(
        &'a self,
        item: &'a str,
        event: ItemEvent,
    ) -> BoxFuture<'a, Result<Position, PublishError>>;
}

/// Why an event was not published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The event cannot be published as it is (a value the source cannot
    /// hold, an item name it cannot map).
    #[error("{0}")]
    Refused(String),
    /// The source cannot take it now (its broker is unreachable).
    #[error("{0}")]
    Unavailable(String),
}

/// Members a publish body may have.
const MEMBERS: [&str; 6] = [
    "adapter_set",
    "data_adapter",
    "item",
    "fields",
    "command",
    "key",
];

/// A publish request, read from its JSON body.
#[derive(Debug, PartialEq)]
pub struct PublishRequest {
    pub adapter_set: String,
    pub data_adapter: String,
    pub item: String,
    pub event: ItemEvent,
}

impl PublishRequest {
    /// Reads a publish body; the error names the member that is wrong.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        parse(body)
    }
}

fn parse(body: &[u8]) -> Result<PublishRequest, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let Value::Object(mut o) = v else {
        return Err("the body is not a JSON object".into());
    };
    if let Some(k) = o.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
        return Err(format!(
            "unknown member \"{k}\" (a body has {})",
            MEMBERS.join(", ")
        ));
    }
    let adapter_set = string(&mut o, "adapter_set")?.ok_or("\"adapter_set\" is missing")?;
    let data_adapter =
        string(&mut o, "data_adapter")?.unwrap_or_else(|| DEFAULT_DATA_ADAPTER.to_owned());
    let item = string(&mut o, "item")?.ok_or("\"item\" is missing")?;
    if item.is_empty() {
        return Err("\"item\" is empty".into());
    }
    let mut event = ItemEvent::new();
    match o.remove("fields") {
        None | Some(Value::Null) => {}
        Some(Value::Object(fields)) => {
            for (name, value) in fields {
                let Some(value) = field_value(value) else {
                    return Err(format!(
                        "\"fields\".\"{name}\" is an array or an object: a value is a string, a number, a boolean or null"
                    ));
                };
                event.set(name, value.map(Into::into));
            }
        }
        Some(_) => return Err("\"fields\" is not an object".into()),
    }
    match (string(&mut o, "command")?, string(&mut o, "key")?) {
        (Some(c), Some(k)) => {
            let c = c.to_ascii_uppercase();
            if !["ADD", "UPDATE", "DELETE"].contains(&c.as_str()) {
                return Err(format!(
                    "\"command\" is \"{c}\": it is ADD, UPDATE or DELETE"
                ));
            }
            event.set("command", Some(c.into()));
            event.set("key", Some(k.into()));
        }
        (Some(_), None) => return Err("\"command\" without \"key\"".into()),
        (None, Some(_)) => return Err("\"key\" without \"command\"".into()),
        (None, None) => {}
    }
    if event.fields().next().is_none() {
        return Err("nothing to publish: \"fields\" is missing or empty".into());
    }
    Ok(PublishRequest {
        adapter_set,
        data_adapter,
        item,
        event,
    })
}

fn string(o: &mut Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    match o.remove(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("\"{name}\" is not a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_names_the_item_and_its_fields() {
        let p = PublishRequest::parse(
            br#"{"adapter_set":"FEED","item":"chat","fields":{"m":"hi","n":null,"x":2}}"#,
        )
        .unwrap();
        assert_eq!(p.adapter_set, "FEED");
        assert_eq!(p.data_adapter, "DEFAULT");
        assert_eq!(p.item, "chat");
        assert_eq!(p.event.get("m"), Some(Some("hi")));
        assert_eq!(p.event.get("n"), Some(None));
        assert_eq!(p.event.get("x"), Some(Some("2")));
        let row = parse(
            br#"{"adapter_set":"S","data_adapter":"D","item":"book","command":"add","key":"k1","fields":{"q":"1"}}"#,
        )
        .unwrap();
        assert_eq!(row.data_adapter, "D");
        assert_eq!(row.event.get("command"), Some(Some("ADD")));
        assert_eq!(row.event.get("key"), Some(Some("k1")));
        // A DELETE needs no other field.
        assert!(PublishRequest::parse(
            br#"{"adapter_set":"S","item":"b","command":"DELETE","key":"k"}"#
        )
        .is_ok());
    }

    #[test]
    fn a_malformed_body_is_refused_naming_what_is_wrong() {
        let cases: &[(&[u8], &str)] = &[
            (b"{", "not JSON"),
            (b"[1]", "not a JSON object"),
            (
                br#"{"item":"a","fields":{"m":"x"}}"#,
                "\"adapter_set\" is missing",
            ),
            (
                br#"{"adapter_set":"S","fields":{"m":"x"}}"#,
                "\"item\" is missing",
            ),
            (
                br#"{"adapter_set":"S","item":"","fields":{"m":"x"}}"#,
                "\"item\" is empty",
            ),
            (
                br#"{"adapter_set":1,"item":"a"}"#,
                "\"adapter_set\" is not a string",
            ),
            (
                br#"{"adapter_set":"S","item":"a","fields":[]}"#,
                "\"fields\" is not an object",
            ),
            (
                br#"{"adapter_set":"S","item":"a","fields":{"m":{}}}"#,
                "\"fields\".\"m\"",
            ),
            (br#"{"adapter_set":"S","item":"a"}"#, "nothing to publish"),
            (
                br#"{"adapter_set":"S","item":"a","fields":{"m":"x"},"colour":1}"#,
                "unknown member \"colour\"",
            ),
            (
                br#"{"adapter_set":"S","item":"a","command":"ADD"}"#,
                "without \"key\"",
            ),
            (
                br#"{"adapter_set":"S","item":"a","key":"k"}"#,
                "without \"command\"",
            ),
            (
                br#"{"adapter_set":"S","item":"a","command":"PUT","key":"k"}"#,
                "ADD, UPDATE or DELETE",
            ),
        ];
        for (body, want) in cases {
            let e = PublishRequest::parse(body).unwrap_err();
            assert!(e.contains(want), "{}: {e}", String::from_utf8_lossy(body));
        }
    }
}
