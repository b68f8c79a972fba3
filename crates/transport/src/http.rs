//! TLCP over HTTP: `POST /lightstreamer/<request>.txt`.

use crate::{tlcp_headers, AppState, Peer};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use shoal_engine::{refusal_line, Answer, ConnectionGuard, Engine, Stream};
use shoal_protocol::request::{Batch, RequestName};
use shoal_protocol::{code, parse_http, RequestError};
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
        return error_reply(&st.engine, kind, &e);
    }
    let limit = usize::try_from(st.engine.config().request_limit).unwrap_or(usize::MAX);
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            let e = RequestError::malformed(format!(
                "request body larger than the request limit of {limit} bytes"
            ));
            tracing::info!(client = %peer, request = name, "refused: {}", e.message);
            return error_reply(&st.engine, kind, &e);
        }
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        let e = RequestError::malformed("request body is not UTF-8".into());
        return error_reply(&st.engine, kind, &e);
    };
    // With GET the parameters come on the query string.
    let text = if method == Method::GET { query } else { text };
    let batch = match parse_http(name, query, text) {
        Ok(b) => b,
        Err(e) => {
            tracing::info!(client = %peer, request = name, code = e.code, "malformed request: {}", e.message);
            return error_reply(&st.engine, kind, &e);
        }
    };
    handle(st, peer, &headers, batch).await
}

async fn handle(st: AppState, peer: SocketAddr, headers: &HeaderMap, batch: Batch) -> Response {
    // Each HTTP request is a connection of its own for the pipeline, open
    // until its answer is sent (a stream's, until the stream ends).
    let guard = st.engine.connection_opened();
    let mut conn = st.connection(peer, false, headers);
    match st.engine.handle(&mut conn, batch).await {
        Answer::Lines(lines) => text_reply(lines),
        Answer::Stream(stream) => stream_reply(stream, guard),
        Answer::Cut => cut_reply(),
    }
}

/// A response cut short: the client sees a broken connection (see
/// [`Answer::Cut`]). A harmless `NOOP` line goes first, and the cut a
/// moment later: a balancer that had received nothing from the node would
/// answer the client with an error page of its own (HAProxy's 502), which
/// the official clients read as an empty answer and wait out; a response
/// broken in its body reaches the client as the broken connection it is.
fn cut_reply() -> Response {
    let first = futures_util::stream::once(async { Ok(Bytes::from_static(b"NOOP,handover\r\n")) });
    let cut = futures_util::stream::once(async {
        // Time for the headers and the first line to leave.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        Err::<Bytes, _>(std::io::Error::other("cut so that the client recovers"))
    });
    let cut = futures_util::StreamExt::chain(first, cut);
    let mut resp = Body::from_stream(cut).into_response();
    tlcp_headers(resp.headers_mut());
    resp
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
            code: code::UNSUPPORTED_PROTOCOL,
            message: format!(
                "protocol version {} not supported: this server speaks {}",
                v.chars().take(32).collect::<String>(),
                shoal_protocol::PROTOCOL_VERSION
            ),
            req_id: None,
        })
    }
}

fn error_reply(engine: &Engine, kind: Option<RequestName>, e: &RequestError) -> Response {
    engine.note_refused();
    text_reply(refusal_line(kind, e))
}

fn text_reply(body: String) -> Response {
    let mut resp = body.into_response();
    tlcp_headers(resp.headers_mut());
    resp
}

/// A session stream: chunked, flushed chunk by chunk until the engine ends it.
fn stream_reply(stream: Stream, guard: ConnectionGuard) -> Response {
    // The guard goes with the body: dropped when the stream ends or the
    // client goes away.
    let chunks = futures_util::stream::unfold((stream, guard), |(mut s, g)| async move {
        match s.next_chunk().await {
            Some(chunk) => Some((Ok(Bytes::from(chunk)), (s, g))),
            // A session handed over to another node: the response is cut
            // short (no last chunk), so that the client recovers it there.
            None if s.is_cut() => Some((Err(std::io::Error::other("session handed over")), (s, g))),
            None => None,
        }
    });
    let mut resp = Body::from_stream(chunks).into_response();
    tlcp_headers(resp.headers_mut());
    resp
}

/// A CORS preflight. Its CORS headers depend on `<cross_domain_policy>`:
/// `origin::gate` adds them (and refused origins never get here).
fn preflight() -> Response {
    StatusCode::OK.into_response()
}
