//! TLCP over WebSocket: `GET /lightstreamer` with the TLCP subprotocol. One
//! socket carries requests upstream and the bound session's stream down.

use crate::http::{control_line, error_line};
use crate::{port_type_refusal, AppState, Peer, PortType};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use shoal_engine::Stream;
use shoal_protocol::request::{ControlOp, Request, RequestName};
use shoal_protocol::{parse_ws, Line, RequestError, WS_SUBPROTOCOL};
use std::net::SocketAddr;
use tokio::sync::mpsc;

pub(crate) async fn upgrade(
    State(st): State<AppState>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // <cross_domain_policy>: a page of a refused origin gets 403.
    if let Some(refusal) = st.listener.origins.ws_refusal(&headers) {
        return refusal;
    }
    let offered = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == WS_SUBPROTOCOL);
    if !offered {
        return (
            StatusCode::BAD_REQUEST,
            format!("TLCP WebSockets must ask for the subprotocol {WS_SUBPROTOCOL}\n"),
        )
            .into_response();
    }
    let limit = usize::try_from(st.engine.config().request_limit).unwrap_or(usize::MAX);
    // Frames a little over the limit are read and refused with ERROR,67;
    // far larger ones end the connection without being buffered.
    // The default 128 KiB read buffer is allocated up front for every
    // socket; TLCP requests are small, and it grows when a larger one comes.
    ws.protocols([WS_SUBPROTOCOL])
        .read_buffer_size(WS_READ_BUFFER)
        .max_message_size(limit.saturating_mul(4))
        .on_upgrade(move |socket| connection(st, peer, headers, socket))
}

/// Initial read buffer of a WebSocket: a few requests' worth.
const WS_READ_BUFFER: usize = 4 * 1024;

/// Waits for the next chunk of the bound stream, or forever if none is bound.
async fn next_chunk(stream: &mut Option<Stream>) -> Option<String> {
    match stream {
        Some(s) => s.next_chunk().await,
        None => std::future::pending().await,
    }
}

/// What a socket knows between requests.
#[derive(Debug, Default)]
struct Socket {
    /// The handshake's headers: the client's address and host come from them.
    headers: HeaderMap,
    stream: Option<Stream>,
    /// Requests that omit LS_session address the socket's last session.
    last_session: Option<String>,
    /// The session created on this socket: on a CREATE_ONLY listener, only
    /// it may be rebound and controlled here.
    created_here: Option<String>,
}

async fn connection(st: AppState, peer: SocketAddr, headers: HeaderMap, socket: WebSocket) {
    let (mut tx, mut rx) = socket.split();
    // Answers of control requests, which run concurrently with the stream.
    let (answers_tx, mut answers) = mpsc::unbounded_channel::<String>();
    let mut sock = Socket {
        headers,
        ..Socket::default()
    };
    loop {
        let out = tokio::select! {
            msg = rx.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    handle(&st, peer, text.as_str(), &mut sock, &answers_tx).await
                }
                Some(Ok(Message::Binary(_))) => Some(
                    Line::Error { code: 67, message: "TLCP requests are text messages" }.to_line(),
                ),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                Some(Ok(Message::Close(_))) | None => break,
                Some(Err(e)) => {
                    tracing::info!(client = %peer, "websocket closed: {e}");
                    break;
                }
            },
            Some(answer) = answers.recv() => Some(answer),
            chunk = next_chunk(&mut sock.stream) => match chunk {
                Some(c) => {
                    if sock.stream.as_ref().is_some_and(Stream::closes_socket) {
                        // LS_close_socket: the last lines, then the close.
                        let _ = tx.send(Message::Text(c.into())).await;
                        let _ = tx.send(Message::Close(None)).await;
                        break;
                    }
                    // A polling cycle that just ended frees the socket for
                    // the next bind_session at once.
                    if sock.stream.as_ref().is_some_and(Stream::is_done) {
                        sock.stream = None;
                    }
                    Some(c)
                }
                None => {
                    // Polling cycle over, or another stream took the session.
                    sock.stream = None;
                    None
                }
            },
        };
        if let Some(text) = out {
            if tx.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
    }
}

async fn handle(
    st: &AppState,
    peer: SocketAddr,
    text: &str,
    sock: &mut Socket,
    answers: &mpsc::UnboundedSender<String>,
) -> Option<String> {
    let limit = usize::try_from(st.engine.config().request_limit).unwrap_or(usize::MAX);
    if text.len() > limit {
        let e = RequestError::malformed(format!(
            "request of {} bytes is larger than the request limit of {limit} bytes",
            text.len()
        ));
        tracing::info!(client = %peer, code = e.code, "refused: {}", e.message);
        let mut out = String::new();
        error_line(&e, &mut out);
        return Some(out);
    }
    let batch = match parse_ws(text) {
        Ok(b) => b,
        Err(e) => {
            tracing::info!(client = %peer, code = e.code, "malformed websocket request: {}", e.message);
            let mut out = String::new();
            error_line(&e, &mut out);
            return Some(out);
        }
    };
    let ctx = st.bind_context(peer, true, &sock.headers);
    let port_type = st.listener.port_type;
    match batch.name {
        RequestName::Wsok => Some(Line::WsOk.to_line()),
        RequestName::Heartbeat => None,
        RequestName::CreateSession | RequestName::BindSession => {
            let req = batch.requests.into_iter().next()?;
            if sock.stream.is_some() {
                return Some(conerr(69, "a stream is already bound to this WebSocket"));
            }
            let result = match req {
                Ok(Request::CreateSession(_)) if port_type == PortType::ControlOnly => {
                    Err(port_type_refusal(&st.listener, "session creation"))
                }
                Ok(Request::CreateSession(c)) => st.engine.create_session(&c, &ctx).await,
                Ok(Request::BindSession(mut b)) => {
                    if b.session.is_none() {
                        b.session = sock.last_session.clone();
                    }
                    if port_type == PortType::CreateOnly && b.session != sock.created_here {
                        Err(port_type_refusal(&st.listener, "bind_session"))
                    } else {
                        st.engine.bind_session(&b, &ctx)
                    }
                }
                Ok(_) => Err((67, "unexpected request".to_owned())),
                Err(e) => Err((e.code, e.message)),
            };
            match result {
                Ok(s) => {
                    let id = s.session().id.clone();
                    if batch.name == RequestName::CreateSession {
                        sock.created_here = Some(id.clone());
                    }
                    sock.last_session = Some(id);
                    sock.stream = Some(s);
                    None
                }
                Err((code, message)) => {
                    tracing::info!(client = %peer, code, "session request refused: {message}");
                    Some(conerr(code, &message))
                }
            }
        }
        RequestName::Control | RequestName::Msg => {
            for req in batch.requests {
                let req = req.map(|r| with_session(r, sock.last_session.as_deref()));
                if port_type == PortType::CreateOnly {
                    if let Ok(r) = &req {
                        if session_of(r) != sock.created_here.as_deref() {
                            let (code, message) =
                                port_type_refusal(&st.listener, "a control request");
                            let _ = answers.send(
                                Line::Error {
                                    code,
                                    message: &message,
                                }
                                .to_line(),
                            );
                            continue;
                        }
                    }
                }
                let silent = matches!(&req, Ok(r) if !acked(r));
                let st = st.clone();
                let answers = answers.clone();
                tokio::spawn(async move {
                    let mut out = String::new();
                    control_line(&st, req, &mut out).await;
                    if silent && out.starts_with("REQOK") {
                        return;
                    }
                    let _ = answers.send(out);
                });
            }
            None
        }
    }
}

fn session_of(req: &Request) -> Option<&str> {
    match req {
        Request::Control(c) => c.session.as_deref(),
        Request::Msg(m) => m.session.as_deref(),
        _ => None,
    }
}

fn conerr(code: i32, message: &str) -> String {
    Line::Conerr { code, message }.to_line()
}

/// Fills in the socket's session when the request omits `LS_session`.
fn with_session(mut req: Request, last: Option<&str>) -> Request {
    let slot = match &mut req {
        Request::Control(c) => &mut c.session,
        Request::Msg(m) => &mut m.session,
        _ => return req,
    };
    if slot.is_none() {
        *slot = last.map(str::to_owned);
    }
    req
}

/// Whether a successful request is answered with `REQOK` (`LS_ack=false`
/// silences subscriptions, unsubscriptions and messages on WebSockets).
fn acked(req: &Request) -> bool {
    match req {
        Request::Control(c) => match &c.op {
            ControlOp::Add(s) => s.ack,
            ControlOp::Delete { ack, .. } => *ack,
            _ => true,
        },
        Request::Msg(m) => m.ack,
        _ => true,
    }
}
