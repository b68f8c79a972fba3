//! `POST /publish`: an application pushes one event of an item through a
//! data adapter that takes published events (a broker feed writes it to
//! its broker, so every node of the cluster delivers it).
//!
//! ```text
//! POST /publish
//! Authorization: Bearer <publish_token>      (or Basic user:password)
//! {"adapter_set":"FEED","data_adapter":"DEFAULT","item":"chat",
//!  "fields":{"message":"hi","note":null}}
//! ```
//!
//! A COMMAND row adds `"command"` (`ADD`, `UPDATE`, `DELETE`) and `"key"`.
//! The answer is `{"item":…,"position":…}`, or a status with
//! `{"error":…}` saying what is wrong: 400 (the body), 401 (credentials),
//! 403 (publishing not enabled), 404 (no such adapter), 413 (too large),
//! 503 (the broker is unreachable).

use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Map, Value};
use shoal_adapter::{ItemEvent, PublishCredentials, PublishError};

/// Largest publish body accepted.
pub(crate) const BODY_LIMIT: usize = 1024 * 1024;

/// The data adapter used when the body names none.
const DEFAULT_DATA_ADAPTER: &str = "DEFAULT";

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
pub(crate) struct Publish {
    pub adapter_set: String,
    pub data_adapter: String,
    pub item: String,
    pub event: ItemEvent,
}

/// Reads a publish body; the error names the member that is wrong.
pub(crate) fn parse(body: &[u8]) -> Result<Publish, String> {
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
                let value = match value {
                    Value::Null => None,
                    Value::String(s) => Some(s),
                    Value::Number(n) => Some(n.to_string()),
                    Value::Bool(b) => Some(b.to_string()),
                    Value::Array(_) | Value::Object(_) => {
                        return Err(format!(
                            "\"fields\".\"{name}\" is an array or an object: a value is a string, a number, a boolean or null"
                        ))
                    }
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
    Ok(Publish {
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

/// The credentials of an `Authorization` header (`None`: no header, or a
/// scheme other than Bearer and Basic).
pub(crate) fn credentials(headers: &HeaderMap) -> Option<PublishCredentials> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(PublishCredentials::Bearer(rest.to_owned()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (user, password) = text.split_once(':')?;
        return Some(PublishCredentials::Basic {
            user: user.to_owned(),
            password: password.to_owned(),
        });
    }
    None
}

fn answer(status: StatusCode, body: Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    answer(status, serde_json::json!({ "error": message.into() }))
}

pub(crate) async fn handle(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = match parse(&body) {
        Ok(p) => p,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, e),
    };
    let Some(provider) = st.engine.data_provider(&p.adapter_set, &p.data_adapter) else {
        return refuse(
            StatusCode::NOT_FOUND,
            format!(
                "no data adapter \"{}\" in adapter set \"{}\"",
                p.data_adapter, p.adapter_set
            ),
        );
    };
    let Some(publisher) = provider.publisher() else {
        return refuse(
            StatusCode::FORBIDDEN,
            format!(
                "data adapter \"{}\" of \"{}\" does not take published events (a broker data adapter with publish_token or publish_user/publish_password does)",
                p.data_adapter, p.adapter_set
            ),
        );
    };
    if !publisher.authorize(credentials(&headers).as_ref()) {
        let mut r = refuse(
            StatusCode::UNAUTHORIZED,
            "missing or wrong credentials: send Authorization: Bearer <publish_token> or Basic <publish_user:publish_password>",
        );
        let challenges = r.headers_mut();
        challenges.append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"shoal publish\""),
        );
        challenges.append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"shoal publish\""),
        );
        return r;
    }
    match publisher.publish(&p.item, p.event).await {
        Ok(at) => answer(
            StatusCode::OK,
            serde_json::json!({ "item": p.item, "position": at.to_string() }),
        ),
        Err(PublishError::Refused(e)) => refuse(StatusCode::BAD_REQUEST, e),
        Err(PublishError::Unavailable(e)) => refuse(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_names_the_item_and_its_fields() {
        let p =
            parse(br#"{"adapter_set":"FEED","item":"chat","fields":{"m":"hi","n":null,"x":2}}"#)
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
        assert!(parse(br#"{"adapter_set":"S","item":"b","command":"DELETE","key":"k"}"#).is_ok());
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
            let e = parse(body).unwrap_err();
            assert!(e.contains(want), "{}: {e}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn credentials_come_from_bearer_or_basic_authorization() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
            credentials(&h)
        };
        assert_eq!(
            with("Bearer abc"),
            Some(PublishCredentials::Bearer("abc".into()))
        );
        // "app:p:w" in base64: the password may contain ':'.
        assert_eq!(
            with("Basic YXBwOnA6dw=="),
            Some(PublishCredentials::Basic {
                user: "app".into(),
                password: "p:w".into()
            })
        );
        assert_eq!(with("Basic !!"), None);
        assert_eq!(with("Digest x"), None);
        assert_eq!(credentials(&HeaderMap::new()), None);
    }
}
