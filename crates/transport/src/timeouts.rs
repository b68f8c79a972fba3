//! Time limits of a connection: how long a client may take to send a request,
//! how long a write may wait for a client that does not read, and how long a
//! WebSocket may stay silent. A connection that exceeds one is closed.
//!
//! Three places enforce them:
//! - hyper's header read timeout: the first request's headers, and each
//!   following request's on a kept-alive connection, must arrive within the
//!   read timeout of the moment the server starts waiting for them (which
//!   also closes idle connections and idle keep-alive ones);
//! - [`TimedBody`]: a request body must arrive within the read timeout;
//! - [`TimedIo`], around the connection's bytes: a write that cannot progress
//!   for the write timeout fails, and an upgraded connection (WebSocket) on
//!   which nothing moved either way for its silence limit fails.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The time limits of a listener's connections (`lightstreamer_conf.xml`'s
/// global socket settings). `None` disables a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// `<read_timeout_millis>`: longest wait for a request's headers (also
    /// before the first request and between kept-alive requests) and for its
    /// body; the base of a WebSocket's silence limit.
    pub read: Option<Duration>,
    /// `<write_timeout_millis>`: longest time a write may make no progress
    /// (a client that stopped reading).
    pub write: Option<Duration>,
    /// `<handshake_timeout_millis>`: longest TLS handshake; `None` leaves the
    /// read timeout in charge.
    pub tls_handshake: Option<Duration>,
}

impl Timeouts {
    pub const DEFAULT_READ: Duration = Duration::from_secs(20);
    pub const DEFAULT_WRITE: Duration = Duration::from_secs(120);
    /// Lightstreamer's default.
    pub const DEFAULT_TLS_HANDSHAKE: Duration = Duration::from_secs(4);

    /// The limit of a TLS handshake.
    pub fn handshake(&self) -> Option<Duration> {
        self.tls_handshake.or(self.read)
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            read: Some(Self::DEFAULT_READ),
            write: Some(Self::DEFAULT_WRITE),
            tls_handshake: Some(Self::DEFAULT_TLS_HANDSHAKE),
        }
    }
}

/// Slack added to the longest silence of a live stream: a `PROBE` due at the
/// keepalive may leave a little late on a busy machine.
const STREAM_SLACK: Duration = Duration::from_secs(1);

/// How long a WebSocket may carry nothing either way before it is closed.
///
/// A WebSocket that carries a live stream is never idle, even when its client
/// sends nothing (TLCP clients may be silent): the stream writes at least a
/// `PROBE` every keepalive, and a long poll answers within its idle time. So
/// the limit is the read timeout, or, if longer, the longest of those two
/// (the engine's caps) plus a little slack: only a WebSocket with no stream
/// and no request reaches it.
pub(crate) fn websocket_silence(
    read: Option<Duration>,
    engine: &shoal_engine::EngineConfig,
) -> Option<Duration> {
    let stream_quiet = engine.max_keepalive.max(engine.max_idle) + STREAM_SLACK;
    read.map(|r| r.max(stream_quiet))
}

/// What a connection's service and its bytes share.
#[derive(Debug, Default)]
pub(crate) struct ConnFlags {
    /// The connection became a WebSocket: the silence limit applies.
    upgraded: AtomicBool,
    /// A request body timed out: the connection is to fail at once, without
    /// an answer.
    killed: AtomicBool,
}

impl ConnFlags {
    pub fn set_upgraded(&self) {
        self.upgraded.store(true, Ordering::Relaxed);
    }
}

fn timed_out(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what)
}

/// A timer kept across polls, armed only while something is awaited.
#[derive(Debug)]
struct Timer {
    sleep: Pin<Box<Sleep>>,
    armed: bool,
}

impl Timer {
    fn new() -> Self {
        Self {
            sleep: Box::pin(tokio::time::sleep_until(Instant::now())),
            armed: false,
        }
    }

    /// Arms the timer for `limit` from now if it is not armed yet, and
    /// tells whether it has fired.
    fn expired(&mut self, limit: Duration, cx: &mut Context<'_>) -> bool {
        if !self.armed {
            self.armed = true;
            self.sleep.as_mut().reset(Instant::now() + limit);
        }
        self.sleep.as_mut().poll(cx).is_ready()
    }

    fn disarm(&mut self) {
        self.armed = false;
    }
}

/// A connection's bytes with the write timeout and, once upgraded, the
/// silence limit.
#[derive(Debug)]
pub(crate) struct TimedIo<T> {
    inner: T,
    peer: SocketAddr,
    write: Option<Duration>,
    silence: Option<Duration>,
    flags: Arc<ConnFlags>,
    write_timer: Timer,
    silence_timer: Option<Pin<Box<Sleep>>>,
    /// Last time a byte went either way.
    last_moved: Instant,
}

impl<T> TimedIo<T> {
    pub fn new(
        inner: T,
        peer: SocketAddr,
        write: Option<Duration>,
        silence: Option<Duration>,
        flags: Arc<ConnFlags>,
    ) -> Self {
        Self {
            inner,
            peer,
            write,
            silence,
            flags,
            write_timer: Timer::new(),
            silence_timer: None,
            last_moved: Instant::now(),
        }
    }

    fn check_killed(&self) -> io::Result<()> {
        if self.flags.killed.load(Ordering::Relaxed) {
            return Err(timed_out("request body timed out".into()));
        }
        Ok(())
    }

    /// After a pending write or flush: fails once the write timeout passed.
    fn write_pending<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        let Some(limit) = self.write else {
            return Poll::Pending;
        };
        if !self.write_timer.expired(limit, cx) {
            return Poll::Pending;
        }
        tracing::info!(client = %self.peer, "connection closed: the client read nothing for the write timeout of {limit:?}");
        Poll::Ready(Err(timed_out(format!(
            "no write progress for the write timeout of {limit:?}"
        ))))
    }

    /// After a pending read: fails a WebSocket silent both ways for its limit.
    fn read_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(limit) = self.silence else {
            return Poll::Pending;
        };
        if !self.flags.upgraded.load(Ordering::Relaxed) {
            // HTTP: hyper reads between requests only to notice a close;
            // the header timeout and TimedBody time requests.
            return Poll::Pending;
        }
        loop {
            let deadline = self.last_moved + limit;
            let timer = self
                .silence_timer
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            ready!(timer.as_mut().poll(cx));
            // Writes may have moved the deadline meanwhile.
            if Instant::now() >= self.last_moved + limit {
                tracing::info!(client = %self.peer, "websocket closed: no request and no stream for {limit:?}");
                return Poll::Ready(Err(timed_out(format!("websocket silent for {limit:?}"))));
            }
        }
    }

    /// After a write that returned.
    fn wrote(&mut self, n: usize) {
        self.write_timer.disarm();
        if n > 0 {
            self.last_moved = Instant::now();
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TimedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check_killed()?;
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    self.last_moved = Instant::now();
                }
                Poll::Ready(r)
            }
            Poll::Pending => self.read_pending(cx),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TimedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check_killed()?;
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(r) => {
                self.wrote(*r.as_ref().unwrap_or(&0));
                Poll::Ready(r)
            }
            Poll::Pending => self.write_pending(cx),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check_killed()?;
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(r) => {
                self.wrote(*r.as_ref().unwrap_or(&0));
                Poll::Ready(r)
            }
            Poll::Pending => self.write_pending(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(r) => {
                self.wrote(0);
                Poll::Ready(r)
            }
            Poll::Pending => self.write_pending(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_shutdown(cx) {
            Poll::Ready(r) => {
                self.wrote(0);
                Poll::Ready(r)
            }
            Poll::Pending => self.write_pending(cx),
        }
    }
}

/// A request body that must arrive whole within the read timeout. When it
/// does not, the connection is failed at once (no answer is written: the
/// client is not waiting for one) and the handler reading the body gets an
/// error.
#[derive(Debug)]
pub(crate) struct TimedBody<B> {
    inner: B,
    limit: Duration,
    timer: Timer,
    flags: Arc<ConnFlags>,
    peer: SocketAddr,
}

impl<B> TimedBody<B> {
    pub fn new(inner: B, limit: Duration, flags: Arc<ConnFlags>, peer: SocketAddr) -> Self {
        Self {
            inner,
            limit,
            timer: Timer::new(),
            flags,
            peer,
        }
    }
}

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("the request body did not arrive within the read timeout of {0:?}")]
    TimedOut(Duration),
    #[error(transparent)]
    Read(#[from] hyper::Error),
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes, Error = hyper::Error> + Unpin,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(BodyError::from)));
        }
        // The timer is armed at the first wait and never reset: the whole
        // body counts, so a trickle of bytes cannot hold the connection.
        let limit = self.limit;
        if !self.timer.expired(limit, cx) {
            return Poll::Pending;
        }
        self.flags.killed.store(true, Ordering::Relaxed);
        tracing::info!(client = %self.peer, "connection closed: the request body did not arrive within the read timeout of {limit:?}");
        Poll::Ready(Some(Err(BodyError::TimedOut(limit))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests;
