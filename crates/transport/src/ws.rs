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
//!
//! The framing is `shoal-websocket`'s (sans-IO): the writer puts each chunk
//! in one text frame, in a buffer it reuses, written with one call, and the
//! reader holds no buffer while the client is silent.

use crate::pipe::{pipe, Receiver, Sender};
use crate::{AppState, Peer};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use shoal_engine::{refusal_line, too_large, Answer, Connection, Engine, Stream};
use shoal_protocol::{code, parse_ws, Line, RequestName, WS_SUBPROTOCOL};
use shoal_websocket::{close, encode, encode_close, Decoder, Message, Opcode};
use std::future::Future;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf, ReadHalf, WriteHalf};

/// Requests read and not yet executed, per socket.
const JOBS: usize = 8;
/// Answers produced and not yet written, per socket.
const OUT: usize = 8;
/// How long a write may still take once the session it belongs to has
/// ended, before the socket is closed under it.
const ENDED_WRITE_GRACE: std::time::Duration = std::time::Duration::from_secs(1);
/// Bytes read from the socket at most per read (a stack buffer, only
/// while a read completes).
const READ_CHUNK: usize = 4 * 1024;
/// A write buffer grown past this by a large chunk is given back after it.
const WRITE_BUFFER_KEEP: usize = 16 * 1024;

type Io = TokioIo<Upgraded>;

pub(crate) async fn upgrade(
    State(st): State<AppState>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    mut req: Request,
) -> Response {
    let headers = req.headers().clone();
    // <cross_domain_policy>: a page of a refused origin gets 403.
    if let Some(refusal) = st.listener.origins.ws_refusal(&headers) {
        return refusal;
    }
    let key = match handshake_key(&headers) {
        Ok(key) => key,
        Err(refusal) => return refusal,
    };
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
    let Some(on_upgrade) = req.extensions_mut().remove::<OnUpgrade>() else {
        return (
            StatusCode::BAD_REQUEST,
            "this connection cannot be upgraded to a WebSocket\n",
        )
            .into_response();
    };
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(io) => connection(st, peer, headers, TokioIo::new(io)).await,
            Err(e) => tracing::info!(client = %peer, "websocket upgrade failed: {e}"),
        }
    });
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) = HeaderValue::from_str(&shoal_websocket::accept_key(&key)) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    h.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(WS_SUBPROTOCOL),
    );
    res
}

/// The `Sec-WebSocket-Key` of a valid upgrade request (RFC 6455 §4.2.1),
/// or the answer to one that is not.
#[allow(clippy::result_large_err)]
fn handshake_key(headers: &HeaderMap) -> Result<String, Response> {
    let has_token = |name: header::HeaderName, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    if !has_token(header::UPGRADE, "websocket") || !has_token(header::CONNECTION, "upgrade") {
        return Err((
            StatusCode::UPGRADE_REQUIRED,
            [(header::UPGRADE, "websocket")],
            "this address takes WebSocket upgrades (Connection: upgrade, Upgrade: websocket)\n",
        )
            .into_response());
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        != Some("13")
    {
        return Err((
            StatusCode::UPGRADE_REQUIRED,
            [(header::SEC_WEBSOCKET_VERSION, "13")],
            "WebSocket version 13 (RFC 6455) is the one supported\n",
        )
            .into_response());
    }
    match headers
        .get(header::SEC_WEBSOCKET_KEY)
        .and_then(|v| v.to_str().ok())
    {
        Some(key) if !key.trim().is_empty() => Ok(key.to_owned()),
        _ => Err((
            StatusCode::BAD_REQUEST,
            "a WebSocket upgrade needs a Sec-WebSocket-Key\n",
        )
            .into_response()),
    }
}

/// A request read from the socket, for the worker.
enum Job {
    /// A parsed batch, to run through the engine's pipeline.
    Batch(shoal_protocol::request::Batch),
    /// A request refused while reading it: its answer only, kept in order.
    Refused(String),
    /// The client closed, or broke the framing: the connection closes with
    /// this code once the requests read before are done (a `destroy` sent
    /// just before a close is still executed).
    Close(u16, String),
}

/// What the worker and the reader hand the writer.
enum Out {
    Lines(String),
    /// Boxed: every slot of the channel is as large as its largest variant,
    /// and each socket's channel keeps a block of slots.
    Stream(Box<Stream>),
    /// The answer to a client's ping.
    Pong(Vec<u8>),
    /// A close frame, then the end of the connection.
    Close(u16, String),
    /// The end of the connection, without a close frame (see
    /// [`Answer::Cut`]).
    Cut,
}

/// Starts the reader and the worker of a socket; the writer is the future
/// returned.
fn connection(
    st: AppState,
    peer: SocketAddr,
    headers: HeaderMap,
    socket: Io,
) -> impl Future<Output = ()> {
    let (rx, tx) = tokio::io::split(socket);
    // Counted as open for the writer's life, the connection's.
    let guard = st.engine.connection_opened();
    let conn = st.connection(peer, true, &headers);
    // Whether a stream is bound: set by the pipeline when it binds one (so a
    // second bind right behind it is refused), cleared by the writer when
    // the stream ends; the reader lets a socket with a stream be silent.
    let bound = conn.stream_bound();
    let (jobs_tx, jobs) = pipe(JOBS);
    let (out_tx, out) = pipe(OUT);
    let limit = st.engine.config().request_limit;
    let idle = st.listener.timeouts.read;
    // Frames a little over the limit are read and refused with ERROR,67;
    // far larger ones end the connection without being buffered.
    let max_message = usize::try_from(limit)
        .unwrap_or(usize::MAX)
        .saturating_mul(4);
    let reader = tokio::spawn(read(
        rx,
        Decoder::new(max_message),
        jobs_tx,
        out_tx.clone(),
        Reading {
            limit,
            peer,
            idle,
            bound: bound.clone(),
        },
    ));
    let worker = tokio::spawn(work(st.engine.clone(), conn, jobs, out_tx));
    // Only the writer's state stays for the connection's life (the set-up
    // above, the request's headers included, is dropped here).
    async move {
        let _open = guard;
        write(tx, out, &bound).await;
        // The writer is done (socket closed or failed): nothing more is read or run.
        reader.abort();
        worker.abort();
    }
}

/// What the reader knows of its connection.
struct Reading {
    limit: u64,
    peer: SocketAddr,
    idle: Option<std::time::Duration>,
    bound: Arc<AtomicBool>,
}

/// Reads some bytes into the decoder; 0 at the end of the stream. The bytes
/// land in a stack buffer first, which exists only while a read completes:
/// a socket waiting for its client's next request holds no read buffer.
async fn read_some(rx: &mut ReadHalf<Io>, decoder: &mut Decoder) -> std::io::Result<usize> {
    std::future::poll_fn(|cx| {
        let mut space = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut buf = ReadBuf::uninit(&mut space);
        match Pin::new(&mut *rx).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => {
                decoder.buffer().extend_from_slice(buf.filled());
                Poll::Ready(Ok(buf.filled().len()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Reads frames and queues the requests in order; waits when the queue is
/// full. A socket that carries no stream and sends no request for `idle`
/// (`<read_timeout_millis>`) is closed; one that carries a stream may be
/// silent (TLCP clients need not send anything while they read).
async fn read(
    mut rx: ReadHalf<Io>,
    mut decoder: Decoder,
    jobs: Sender<Job>,
    out: Sender<Out>,
    r: Reading,
) {
    let peer = r.peer;
    loop {
        // Every message the bytes so far complete.
        loop {
            let job = match decoder.decode() {
                Ok(None) => break,
                Ok(Some(Message::Text(text))) => parse(&text, r.limit, peer),
                Ok(Some(Message::Binary(_))) => Job::Refused(
                    Line::Error {
                        code: code::MALFORMED,
                        message: "TLCP requests are text messages",
                    }
                    .to_line(),
                ),
                Ok(Some(Message::Ping(payload))) => {
                    if out.send(Out::Pong(payload)).await.is_err() {
                        return;
                    }
                    continue;
                }
                Ok(Some(Message::Pong)) => continue,
                Ok(Some(Message::Close(_))) => {
                    let _ = jobs.send(Job::Close(close::NORMAL, String::new())).await;
                    return;
                }
                Err(e) => {
                    tracing::info!(client = %peer, "websocket closed: {e}");
                    let _ = jobs.send(Job::Close(e.code(), e.to_string())).await;
                    return;
                }
            };
            if jobs.send(job).await.is_err() {
                return;
            }
        }
        let read = match r.idle {
            Some(t) => match tokio::time::timeout(t, read_some(&mut rx, &mut decoder)).await {
                Ok(read) => read,
                Err(_) if r.bound.load(Ordering::Acquire) => continue,
                Err(_) => {
                    tracing::info!(client = %peer, "websocket closed: no request and no stream for {t:?}");
                    return;
                }
            },
            None => read_some(&mut rx, &mut decoder).await,
        };
        match read {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => {
                tracing::info!(client = %peer, "websocket closed: {e}");
                return;
            }
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
    mut jobs: Receiver<Job>,
    out: Sender<Out>,
) {
    while let Some(job) = jobs.recv().await {
        let next = match job {
            Job::Refused(line) => {
                engine.note_refused();
                Out::Lines(line)
            }
            Job::Close(code, reason) => {
                let _ = out.send(Out::Close(code, reason)).await;
                break;
            }
            // Boxed while it runs: the pipeline's future is large, and a
            // task keeps room for its largest state for its whole life.
            Job::Batch(batch) => match Box::pin(engine.handle(&mut conn, batch)).await {
                Answer::Lines(lines) => Out::Lines(lines),
                Answer::Stream(stream) => Out::Stream(Box::new(stream)),
                Answer::Cut => Out::Cut,
            },
        };
        if out.send(next).await.is_err() {
            break;
        }
    }
}

/// Frames the next chunk of the bound stream into `frames`; waits forever
/// if none is bound. `false` when the stream is over.
async fn next_chunk(stream: &mut Option<Stream>, frames: &mut Vec<u8>) -> bool {
    match stream {
        Some(s) => {
            s.next_chunk_with(|text| encode(frames, Opcode::Text, text.as_bytes()))
                .await
        }
        None => std::future::pending().await,
    }
}

/// What the writer's turn brought.
enum Turn {
    /// `frames` holds the next chunk of the stream (`false`: the stream is
    /// over, nothing was added).
    Chunk(bool),
    Out(Out),
}

/// Writes answers and the bound stream's chunks until the socket closes,
/// the client goes away, or a stream asks for the socket to be closed.
async fn write(mut tx: WriteHalf<Io>, mut out: Receiver<Out>, bound: &AtomicBool) {
    let mut stream: Option<Stream> = None;
    // Frames to write, in a buffer kept from write to write.
    let mut frames: Vec<u8> = Vec::new();
    loop {
        let turn = tokio::select! {
            more = next_chunk(&mut stream, &mut frames) => Turn::Chunk(more),
            next = out.recv() => match next {
                None => break,
                Some(o) => Turn::Out(o),
            },
        };
        let chunk = match turn {
            Turn::Chunk(more) => more,
            Turn::Out(Out::Stream(s)) => {
                // The head (CONOK...) goes before any later answer.
                stream = Some(*s);
                next_chunk(&mut stream, &mut frames).await
            }
            // Answers, pongs and closes: one frame, outside any stream.
            Turn::Out(other) => {
                let last = match other {
                    Out::Lines(text) if text.is_empty() => continue,
                    Out::Lines(text) => {
                        encode(&mut frames, Opcode::Text, text.as_bytes());
                        false
                    }
                    Out::Pong(payload) => {
                        encode(&mut frames, Opcode::Pong, &payload);
                        false
                    }
                    Out::Close(code, reason) => {
                        encode_close(&mut frames, code, &reason);
                        true
                    }
                    Out::Cut => break,
                    // Taken by the arm above.
                    Out::Stream(_) => continue,
                };
                if send(&mut tx, &mut frames, || NOT_A_STREAM).await.is_err() || last {
                    break;
                }
                continue;
            }
        };
        if !chunk {
            if stream.as_ref().is_some_and(Stream::is_cut) {
                // The session was handed over to another node: the socket
                // is dropped without a close frame, so that the client
                // recovers the session there.
                break;
            }
            // Polling cycle over, or another stream took the session.
            stream = None;
            bound.store(false, Ordering::Release);
            continue;
        }
        let closes = stream.as_ref().is_some_and(Stream::closes_socket);
        // A polling cycle that just ended frees the socket for the next
        // bind_session at once (the stream is dropped after its last write).
        let over = if stream.as_ref().is_some_and(Stream::is_done) {
            bound.store(false, Ordering::Release);
            stream.take()
        } else {
            None
        };
        if closes {
            // LS_close_socket: the last lines, then the close.
            encode_close(&mut frames, close::NORMAL, "");
        }
        let sent = send(&mut tx, &mut frames, || {
            stream.as_ref().or(over.as_ref()).map(Stream::ended)
        })
        .await;
        drop(over);
        match sent {
            Ok(()) if !closes => {}
            Ok(()) => break,
            Err(Gone::Ended) => {
                tracing::info!("websocket closed: the session ended while the client read nothing");
                break;
            }
            Err(Gone::Failed) => break,
        }
    }
}

/// Frames that belong to no session (pongs, closes): nothing ends them.
const NOT_A_STREAM: Option<std::future::Ready<()>> = None;

/// Why a write did not complete.
enum Gone {
    /// The socket failed (the client went away, the write timeout).
    Failed,
    /// The session ended while the client read nothing.
    Ended,
}

/// Writes `frames` and empties it. Most writes complete at once; only one
/// that waits for a client that does not read watches its session's end
/// (`ended`): once the session is over, the write gets [`ENDED_WRITE_GRACE`]
/// for the last lines, then the socket goes.
async fn send<F: Future<Output = ()>>(
    tx: &mut WriteHalf<Io>,
    frames: &mut Vec<u8>,
    ended: impl FnOnce() -> Option<F>,
) -> Result<(), Gone> {
    let result = {
        let mut write = pin!(async {
            tx.write_all(frames).await?;
            tx.flush().await
        });
        match std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await {
            Poll::Ready(r) => r.map_err(|_| Gone::Failed),
            Poll::Pending => match ended() {
                None => write.await.map_err(|_| Gone::Failed),
                Some(ended) => tokio::select! {
                    r = &mut write => r.map_err(|_| Gone::Failed),
                    _ = async {
                        ended.await;
                        tokio::time::sleep(ENDED_WRITE_GRACE).await;
                    } => Err(Gone::Ended),
                },
            },
        }
    };
    frames.clear();
    if frames.capacity() > WRITE_BUFFER_KEEP {
        *frames = Vec::new();
    }
    result
}
