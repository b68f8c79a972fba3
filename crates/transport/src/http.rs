//! TLCP over HTTP: `POST /lightstreamer/<request>.txt`.

use crate::{port_type_refusal, tlcp_headers, AppState, Peer, PortType};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use shoal_engine::Stream;
use shoal_protocol::request::{Batch, Request, RequestName};
use shoal_protocol::{parse_http, Line, RequestError};
use std::convert::Infallible;
use std::net::SocketAddr;

pub(crate) async fn request(
    State(st): State<AppState>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    Path(request): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if method == Method::OPTIONS {
        return preflight();
    }
    let Some(name) = request.strip_suffix(".txt") else {
        let msg = format!("no resource at {}\n", uri.path());
        return (StatusCode::NOT_FOUND, msg).into_response();
    };
    if method != Method::POST && method != Method::GET {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            "TLCP requests use POST (or GET)\n",
        )
            .into_response();
    }
    let kind = RequestName::from_wire(name);
    let query = uri.query().unwrap_or("");
    if let Err(e) = check_protocol(query) {
        return error_reply(&headers, kind, &e);
    }
    let limit = usize::try_from(st.engine.config().request_limit).unwrap_or(usize::MAX);
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            let e = RequestError::malformed(format!(
                "request body larger than the request limit of {limit} bytes"
            ));
            tracing::info!(client = %peer, request = name, "refused: {}", e.message);
            return error_reply(&headers, kind, &e);
        }
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        let e = RequestError::malformed("request body is not UTF-8".into());
        return error_reply(&headers, kind, &e);
    };
    // With GET the parameters come on the query string.
    let text = if method == Method::GET { query } else { text };
    let batch = match parse_http(name, query, text) {
        Ok(b) => b,
        Err(e) => {
            tracing::info!(client = %peer, request = name, code = e.code, "malformed request: {}", e.message);
            return error_reply(&headers, kind, &e);
        }
    };
    handle(st, peer, &headers, batch).await
}

async fn handle(st: AppState, peer: SocketAddr, headers: &HeaderMap, mut batch: Batch) -> Response {
    let ctx = st.bind_context(peer, false, headers);
    let port_type = st.listener.port_type;
    let refused = match (port_type, batch.name) {
        (PortType::ControlOnly, RequestName::CreateSession) => Some("session creation"),
        (PortType::CreateOnly, RequestName::BindSession) => Some("bind_session"),
        (PortType::CreateOnly, RequestName::Control | RequestName::Msg) => {
            Some("a control request")
        }
        _ => None,
    };
    if let Some(what) = refused {
        let (code, message) = port_type_refusal(&st.listener, what);
        tracing::info!(client = %peer, code, "refused: {message}");
        let line = match batch.name {
            RequestName::CreateSession | RequestName::BindSession => Line::Conerr {
                code,
                message: &message,
            },
            _ => Line::Error {
                code,
                message: &message,
            },
        };
        return text_reply(headers, line.to_line());
    }
    let mut requests = std::mem::take(&mut batch.requests).into_iter();
    let first = requests
        .next()
        .unwrap_or_else(|| Err(RequestError::malformed("empty request".into())));
    match batch.name {
        RequestName::CreateSession | RequestName::BindSession => {
            let result = match first {
                Ok(Request::CreateSession(c)) => st.engine.create_session(&c, &ctx).await,
                Ok(Request::BindSession(b)) => st.engine.bind_session(&b, &ctx),
                Ok(_) => Err((67, "unexpected request".to_owned())),
                Err(e) => Err((e.code, e.message)),
            };
            match result {
                Ok(stream) => stream_reply(headers, stream),
                Err((code, message)) => {
                    tracing::info!(client = %peer, code, "session request refused: {message}");
                    text_reply(
                        headers,
                        Line::Conerr {
                            code,
                            message: &message,
                        }
                        .to_line(),
                    )
                }
            }
        }
        RequestName::Control | RequestName::Msg => {
            let mut out = String::new();
            // Answered in the order of the batch.
            for req in std::iter::once(first).chain(requests) {
                control_line(&st, req, &mut out).await;
            }
            text_reply(headers, out)
        }
        RequestName::Heartbeat => {
            st.engine.heartbeat(None);
            text_reply(headers, Line::ReqOk(None).to_line())
        }
        RequestName::Wsok => text_reply(
            headers,
            Line::Error {
                code: 67,
                message: "wsok is only allowed on a WebSocket",
            }
            .to_line(),
        ),
    }
}

/// Runs one control or message request and appends its answer.
pub(crate) async fn control_line(
    st: &AppState,
    req: Result<Request, RequestError>,
    out: &mut String,
) {
    let (req_id, result) = match req {
        Ok(Request::Control(c)) => {
            let Some(sid) = c.session.clone() else {
                return missing_session(&c.req_id, out);
            };
            let id = c.req_id.clone();
            (id, st.engine.control(&sid, c).await)
        }
        Ok(Request::Msg(m)) => {
            let Some(sid) = m.session.clone() else {
                return missing_session(&m.req_id, out);
            };
            let id = m.req_id.clone();
            (id, st.engine.message(&sid, m).await)
        }
        Ok(_) => {
            Line::Error {
                code: 67,
                message: "unexpected request in a control batch",
            }
            .write(out);
            return;
        }
        Err(e) => {
            error_line(&e, out);
            return;
        }
    };
    match result {
        Ok(()) => Line::ReqOk(Some(&req_id)).write(out),
        Err((code, message)) => Line::ReqErr {
            req_id: &req_id,
            code,
            message: &message,
        }
        .write(out),
    }
}

fn missing_session(req_id: &str, out: &mut String) {
    Line::ReqErr {
        req_id,
        code: 65,
        message: "missing required parameter LS_session",
    }
    .write(out);
}

/// `REQERR` when the request id could be read, `ERROR` otherwise.
pub(crate) fn error_line(e: &RequestError, out: &mut String) {
    match &e.req_id {
        Some(id) => Line::ReqErr {
            req_id: id,
            code: e.code,
            message: &e.message,
        }
        .write(out),
        None => Line::Error {
            code: e.code,
            message: &e.message,
        }
        .write(out),
    }
}

/// `LS_protocol` must name TLCP 2.5 when present.
fn check_protocol(query: &str) -> Result<(), RequestError> {
    let Some(v) = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("LS_protocol="))
    else {
        return Ok(());
    };
    if v.starts_with("TLCP-2.5.") {
        Ok(())
    } else {
        Err(RequestError {
            code: 60,
            message: format!(
                "protocol version {} not supported: this server speaks {}",
                v.chars().take(32).collect::<String>(),
                shoal_protocol::PROTOCOL_VERSION
            ),
            req_id: None,
        })
    }
}

fn error_reply(headers: &HeaderMap, kind: Option<RequestName>, e: &RequestError) -> Response {
    let mut out = String::new();
    match kind {
        Some(RequestName::CreateSession | RequestName::BindSession) => Line::Conerr {
            code: e.code,
            message: &e.message,
        }
        .write(&mut out),
        _ => error_line(e, &mut out),
    }
    text_reply(headers, out)
}

fn text_reply(req_headers: &HeaderMap, body: String) -> Response {
    let mut resp = body.into_response();
    tlcp_headers(req_headers, resp.headers_mut());
    resp
}

/// A session stream: chunked, flushed chunk by chunk until the engine ends it.
fn stream_reply(req_headers: &HeaderMap, stream: Stream) -> Response {
    let chunks = futures_util::stream::unfold(stream, |mut s| async move {
        let chunk = s.next_chunk().await?;
        Some((Ok::<Bytes, Infallible>(Bytes::from(chunk)), s))
    });
    let mut resp = Body::from_stream(chunks).into_response();
    tlcp_headers(req_headers, resp.headers_mut());
    resp
}

/// A CORS preflight. Its CORS headers depend on `<cross_domain_policy>`:
/// `origin::gate` adds them (and refused origins never get here).
fn preflight() -> Response {
    StatusCode::OK.into_response()
}
