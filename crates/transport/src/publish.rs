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
use serde_json::Value;
use shoal_adapter::{PublishCredentials, PublishError, PublishRequest};

/// Largest publish body accepted.
pub(crate) const BODY_LIMIT: usize = 1024 * 1024;

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
    let p = match PublishRequest::parse(&body) {
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
