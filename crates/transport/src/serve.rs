//! Running a listener: accepting connections (and surviving when the process
//! is out of file descriptors), their handshakes, and HTTP/1.1 with WebSocket
//! upgrades over each, within the [`Timeouts`].

use crate::listener::{handshake, Handshakes};
use crate::timeouts::{websocket_silence, ConnFlags, TimedBody, TimedIo, Timeouts};
use crate::{router, ListenerConfig, Peer};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use shoal_engine::Engine;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tower::ServiceExt;

/// Serves TLCP (and the listener's pages) on an already bound listener until
/// the task is dropped. Each connection runs in a task of its own: first its
/// [`Handshakes`] (PROXY protocol header, TLS), then HTTP/1.1.
pub async fn serve(
    listener: TcpListener,
    handshakes: Handshakes,
    engine: Arc<Engine>,
    conf: ListenerConfig,
) -> io::Result<()> {
    let timeouts = conf.timeouts;
    let conn = Arc::new(Conn {
        silence: websocket_silence(timeouts.read, engine.config()),
        timeouts,
        handshakes,
        router: router(engine, conf),
    });
    let mut errors = AcceptErrors::default();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            // The peer gave up before we took it: nothing to do.
            Err(e) if is_peer_error(&e) => continue,
            Err(e) => {
                tokio::time::sleep(errors.failed(&e)).await;
                continue;
            }
        };
        errors.accepted();
        // A push server's writes are whole notifications meant to leave now:
        // Nagle's algorithm would hold a small one back until the client's
        // delayed ACK of the previous one (tens of milliseconds). Packing
        // updates into fewer packets is `<max_delay_millis>`' job.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(client = %peer, "cannot set TCP_NODELAY: {e}");
        }
        let conn = conn.clone();
        tokio::spawn(async move {
            if let Some((io, client)) = handshake(stream, peer, &conn.handshakes, &timeouts).await {
                conn.run(io, client).await;
            }
        });
    }
}

/// What every connection of a listener is served with.
struct Conn {
    timeouts: Timeouts,
    silence: Option<Duration>,
    handshakes: Handshakes,
    router: Router,
}

impl Conn {
    async fn run(&self, io: Box<dyn crate::listener::Io>, client: SocketAddr) {
        let flags = Arc::new(ConnFlags::default());
        let io = TimedIo::new(io, client, self.timeouts.write, self.silence, flags.clone());
        let router = self.router.clone();
        let read = self.timeouts.read;
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let router = router.clone();
            let flags = flags.clone();
            async move {
                let (mut parts, body) = req.into_parts();
                // What `ConnectInfo<Peer>` extractors find.
                parts.extensions.insert(ConnectInfo(Peer(client)));
                let body = match read {
                    Some(limit) => Body::new(TimedBody::new(body, limit, flags.clone(), client)),
                    None => Body::new(body),
                };
                let res = router.oneshot(Request::from_parts(parts, body)).await;
                if let Ok(r) = &res {
                    if r.status() == StatusCode::SWITCHING_PROTOCOLS {
                        flags.set_upgraded();
                    }
                }
                res
            }
        });
        let mut http = hyper::server::conn::http1::Builder::new();
        // Without a timer hyper ignores the header timeout; it starts when
        // the server waits for a request (at connect, and after each answer
        // on a kept-alive connection) and covers the whole header.
        http.timer(TokioTimer::new())
            .header_read_timeout(read)
            .keep_alive(true);
        let served = http
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades()
            .await;
        if let Err(e) = served {
            if e.is_timeout() {
                // Idle connections of well-behaved clients end this way too.
                tracing::debug!(%client, "connection closed: no request within the read timeout");
            } else {
                tracing::debug!(%client, "connection ended: {e}");
            }
        }
    }
}

/// Accept errors that concern only the connection being accepted.
fn is_peer_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// First wait after a failed accept; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_millis(500);
/// At most one log line per this long while accepts keep failing.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Accept failures of the process (out of file descriptors, of memory):
/// connections wait in the kernel's backlog meanwhile, and are taken as soon
/// as an accept succeeds again. Logged once per [`LOG_EVERY`], not per
/// attempt, with a back-off between attempts.
#[derive(Debug, Default)]
struct AcceptErrors {
    /// Failures since the last successful accept.
    failures: u64,
    /// Failures not yet reported in a log line.
    unreported: u64,
    last_log: Option<Instant>,
    backoff: Duration,
}

impl AcceptErrors {
    /// Records a failure; returns how long to wait before the next attempt.
    fn failed(&mut self, e: &io::Error) -> Duration {
        self.failures += 1;
        self.unreported += 1;
        let now = Instant::now();
        if self.last_log.is_none_or(|t| now - t >= LOG_EVERY) {
            tracing::warn!(
                failed = self.unreported,
                "cannot accept connections: {e}; new clients wait until it succeeds \
                 (out of file descriptors? raise the limit, `ulimit -n`)"
            );
            self.last_log = Some(now);
            self.unreported = 0;
        }
        self.backoff = if self.backoff.is_zero() {
            FIRST_BACKOFF
        } else {
            (self.backoff * 2).min(MAX_BACKOFF)
        };
        self.backoff
    }

    /// Records a success, and reports the end of a failure streak.
    fn accepted(&mut self) {
        if self.failures > 0 {
            tracing::info!(
                failed = self.failures,
                "accepting connections again after {} failed attempts",
                self.failures
            );
            *self = Self::default();
        }
    }
}
