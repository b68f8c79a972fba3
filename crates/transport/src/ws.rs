//! TLCP over WebSocket: `GET /lightstreamer` with the TLCP subprotocol. One
//! socket carries requests upstream and the bound session's stream down.
//!
//! Three parts run per socket, joined by small bounded queues, so that a
//! client that floods requests is slowed down instead of buffered:
//!
//! ```text
//! socket -> reader --jobs--> worker (engine pipeline, in order) --out--> writer -> socket
//!                                                          stream chunks ---^
//! ```
//!
//! The reader stops reading when the worker is behind; the worker stops when
//! the writer is behind; the writer is behind when the client does not read.
//! Whatever the client does, a socket holds at most `JOBS` requests and `OUT`
//! answers.

use crate::{AppState, Peer};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use shoal_engine::{refusal_line, too_large, Answer, Connection, Engine, Stream};
use shoal_protocol::{code, parse_ws, Line, RequestName, WS_SUBPROTOCOL};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Requests read and not yet executed, per socket.
const JOBS: usize = 8;
/// Answers produced and not yet written, per socket.
const OUT: usize = 8;
/// How long a write may still take once the session it belongs to has
/// ended, before the socket is closed under it.
const ENDED_WRITE_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

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

/// A request read from the socket, for the worker.
enum Job {
    /// A parsed batch, to run through the engine's pipeline.
    Batch(shoal_protocol::request::Batch),
    /// A request refused while reading it: its answer only, kept in order.
    Refused(String),
}

/// What the worker hands the writer.
enum Out {
    Lines(String),
    Stream(Stream),
}

async fn connection(st: AppState, peer: SocketAddr, headers: HeaderMap, socket: WebSocket) {
    let (tx, rx) = socket.split();
    let conn = st.connection(peer, true, &headers);
    // Whether a stream is bound: set by the pipeline when it binds one (so a
    // second bind right behind it is refused), cleared by the writer when
    // the stream ends; the reader lets a socket with a stream be silent.
    let bound = conn.stream_bound();
    let (jobs_tx, jobs) = mpsc::channel(JOBS);
    let (out_tx, out) = mpsc::channel(OUT);
    let limit = st.engine.config().request_limit;
    let idle = st.listener.timeouts.read;
    let reader = tokio::spawn(read(rx, jobs_tx, limit, peer, idle, bound.clone()));
    let worker = tokio::spawn(work(st.engine.clone(), conn, jobs, out_tx));
    write(tx, out, &bound).await;
    // The writer is done (socket closed or failed): nothing more is read or run.
    reader.abort();
    worker.abort();
}

/// Reads frames and queues them in order; waits when the queue is full.
/// A socket that carries no stream and sends no request for `idle`
/// (`<read_timeout_millis>`) is closed; one that carries a stream may be
/// silent (TLCP clients need not send anything while they read).
async fn read(
    mut rx: SplitStream<WebSocket>,
    jobs: mpsc::Sender<Job>,
    limit: u64,
    peer: SocketAddr,
    idle: Option<std::time::Duration>,
    bound: Arc<AtomicBool>,
) {
    loop {
        let next = match idle {
            Some(t) => match tokio::time::timeout(t, rx.next()).await {
                Ok(next) => next,
                Err(_) if bound.load(Ordering::Acquire) => continue,
                Err(_) => {
                    tracing::info!(client = %peer, "websocket closed: no request and no stream for {t:?}");
                    break;
                }
            },
            None => rx.next().await,
        };
        let Some(msg) = next else { break };
        let job = match msg {
            Ok(Message::Text(text)) => parse(text.as_str(), limit, peer),
            Ok(Message::Binary(_)) => Job::Refused(
                Line::Error {
                    code: code::MALFORMED,
                    message: "TLCP requests are text messages",
                }
                .to_line(),
            ),
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Ok(Message::Close(_)) => break,
            Err(e) => {
                tracing::info!(client = %peer, "websocket closed: {e}");
                break;
            }
        };
        if jobs.send(job).await.is_err() {
            break;
        }
    }
}

fn parse(text: &str, limit: u64, peer: SocketAddr) -> Job {
    if u64::try_from(text.len()).unwrap_or(u64::MAX) > limit {
        let e = too_large(text.len(), limit);
        tracing::info!(client = %peer, code = e.code, "refused: {}", e.message);
        return Job::Refused(refusal_line(None, &e));
    }
    match parse_ws(text) {
        Ok(batch) => Job::Batch(batch),
        Err(e) => {
            tracing::info!(client = %peer, code = e.code, "malformed websocket request: {}", e.message);
            let first = text.split("\r\n").next().unwrap_or("");
            Job::Refused(refusal_line(RequestName::from_wire(first), &e))
        }
    }
}

/// Runs the requests one after the other through the engine.
async fn work(
    engine: Arc<Engine>,
    mut conn: Connection,
    mut jobs: mpsc::Receiver<Job>,
    out: mpsc::Sender<Out>,
) {
    while let Some(job) = jobs.recv().await {
        let next = match job {
            Job::Refused(line) => Out::Lines(line),
            Job::Batch(batch) => match engine.handle(&mut conn, batch).await {
                Answer::Lines(lines) => Out::Lines(lines),
                Answer::Stream(stream) => Out::Stream(stream),
            },
        };
        if out.send(next).await.is_err() {
            break;
        }
    }
}

/// Waits for the next chunk of the bound stream, or forever if none is bound.
async fn next_chunk(stream: &mut Option<Stream>) -> Option<String> {
    match stream {
        Some(s) => s.next_chunk().await,
        None => std::future::pending().await,
    }
}

/// Writes answers and the bound stream's chunks until the socket closes,
/// the client goes away, or a stream asks for the socket to be closed.
async fn write(
    mut tx: SplitSink<WebSocket, Message>,
    mut out: mpsc::Receiver<Out>,
    bound: &AtomicBool,
) {
    let mut stream: Option<Stream> = None;
    loop {
        let chunk = tokio::select! {
            next = out.recv() => match next {
                None => break,
                Some(Out::Lines(text)) if text.is_empty() => continue,
                Some(Out::Lines(text)) => Some(text),
                Some(Out::Stream(mut s)) => {
                    // The head (CONOK...) goes before any later answer.
                    let head = s.next_chunk().await;
                    stream = Some(s);
                    head
                }
            },
            chunk = next_chunk(&mut stream) => chunk,
        };
        let Some(text) = chunk else {
            // Polling cycle over, or another stream took the session.
            stream = None;
            bound.store(false, Ordering::Release);
            continue;
        };
        let closes = stream.as_ref().is_some_and(Stream::closes_socket);
        if stream.as_ref().is_some_and(Stream::is_done) {
            // A polling cycle that just ended frees the socket for the next
            // bind_session at once.
            stream = None;
            bound.store(false, Ordering::Release);
        }
        // A client that stopped reading keeps this write pending; once its
        // session has been ended (closed as stalled, by the memory budget,
        // ...) it gets a moment for the last lines, then the socket goes.
        let ended = stream.as_ref().map(Stream::ended);
        let gone = async move {
            match ended {
                Some(ended) => {
                    ended.await;
                    tokio::time::sleep(ENDED_WRITE_GRACE).await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            sent = tx.send(Message::Text(text.into())) => if sent.is_err() { break },
            _ = gone => {
                tracing::info!("websocket closed: the session ended while the client read nothing");
                break;
            }
        }
        if closes {
            // LS_close_socket: the last lines, then the close.
            let _ = tx.send(Message::Close(None)).await;
            break;
        }
    }
}
