//! A stream connection bound to a session. It decides what goes on the wire
//! and when (head lines, data, PROBE, SYNC, LOOP, END); the transport only
//! writes the chunks it returns.

use crate::session::Session;
use crate::stats::{ChunkTally, StreamKind};
use shoal_protocol::request::StreamOptions;
use shoal_protocol::Line;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// Bytes gathered into one chunk before it is handed to the transport.
const CHUNK_BUDGET: usize = 64 * 1024;

/// What the transport knows about the connection that binds.
#[derive(Debug, Clone, Default)]
pub struct BindContext {
    pub client_ip: String,
    /// The client's port as this server's socket saw it.
    pub client_port: u16,
    /// The request's HTTP headers (of the upgrade, for WebSocket), names in
    /// lower case: the metadata adapter sees them when a session is created.
    pub headers: std::sync::Arc<[(String, String)]>,
    /// The address clients must use for control and rebind requests, if any.
    pub control_link: Option<String>,
    pub server_name: String,
    /// WebSocket streams have no content length.
    pub websocket: bool,
}

#[derive(Debug, Clone, Copy)]
struct Polling {
    idle: Duration,
    loop_ms: u64,
}

#[derive(Debug)]
pub struct Stream {
    session: Arc<Session>,
    gen: u64,
    polling: Option<Polling>,
    keepalive: Duration,
    content_length: u64,
    send_sync: bool,
    /// Text taken from the session and not yet returned; it starts with
    /// the head lines (`CONOK`...), `head_len` bytes of them.
    out: String,
    head_len: usize,
    written: u64,
    bound_at: Instant,
    last_write: Instant,
    next_sync: Instant,
    done: bool,
    close_socket: bool,
    /// The stream's one timer (keepalive, SYNC, idle poll, frequency limits,
    /// `max_delay`), kept across waits. It is moved only to an earlier
    /// deadline: a write pushes the keepalive back, and a timer re-armed at
    /// every write would cost a timer-wheel insert and removal per update,
    /// so the timer may fire early instead, and is re-armed then.
    timer: Pin<Box<Sleep>>,
    /// The deadline the timer is armed for; `None` once it has fired.
    timer_at: Option<Instant>,
    /// `<max_delay_millis>` (streaming only).
    max_delay: Duration,
    /// The updates in `out`, counted in the engine's statistics when the
    /// chunk is handed out.
    tally: ChunkTally,
    /// See [`Stream::is_cut`].
    cut: bool,
}

/// What one look at the session found.
enum Look {
    /// Another stream took the session.
    Over,
    /// A chunk is ready in `out` (and counted as handed out).
    Chunk,
    /// Nothing to hand out: the task's waker is in the session; a
    /// frequency-limited item may send at the instant given.
    Wait(Option<Instant>),
}

impl Session {
    /// Binds a new stream, replacing any other. `recovery_from` asks for a
    /// replay of everything after that progressive.
    pub fn bind(
        self: &Arc<Self>,
        opts: &StreamOptions,
        recovery_from: Option<u64>,
        ctx: &BindContext,
    ) -> Result<Stream, (i32, String)> {
        let cfg = &self.config;
        let now = Instant::now();
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let polling = opts.polling.then(|| Polling {
            idle: Duration::from_millis(opts.idle_millis.unwrap_or(0)).min(cfg.max_idle),
            loop_ms: opts.polling_millis.unwrap_or(0).min(ms(cfg.max_polling)),
        });
        let keepalive = opts
            .keepalive_millis
            .map(Duration::from_millis)
            .unwrap_or(cfg.keepalive)
            // Not clamp(): it panics if a configuration gives min > max.
            .max(cfg.min_keepalive)
            .min(cfg.max_keepalive);
        let content_length = if ctx.websocket {
            u64::MAX
        } else {
            opts.content_length
                .unwrap_or(cfg.content_length)
                .clamp(1_000, 2_000_000_000)
        };

        let mut st = self.state.lock();
        if let Some((code, msg)) = &st.closed {
            return Err((*code, msg.clone()));
        }
        let mut head = String::with_capacity(256);
        if let Some(from) = recovery_from {
            st.log.rewind(from).map_err(|(oldest, last)| {
                (
                    4,
                    format!("cannot recover from {from}: this session keeps notifications {oldest}..{last}"),
                )
            })?;
        }
        st.gen += 1;
        st.bound = true;
        // The head waits for the new stream.
        st.woken_at = Some(now);
        st.force_loop = false;
        if polling.is_none() && st.relocating > 0 && crate::adopt::reached_by_another_name(ctx) {
            // A session taken over through the dead node's name: this
            // stream ends at once with `LOOP`, so that the client binds
            // again by this node's control link (see `adopt`).
            st.relocating -= 1;
            st.force_loop = true;
        }
        st.keep_unbound = cfg.session_timeout
            + polling.map_or(Duration::ZERO, |p| Duration::from_millis(p.loop_ms));
        Line::Conok {
            session: &self.id,
            request_limit: cfg.request_limit,
            keepalive_ms: ms(polling.map_or(keepalive, |p| p.idle)),
            // A set that ignores the control link sends none (`*`).
            control_link: ctx
                .control_link
                .as_deref()
                .filter(|_| !self.set.ignores_control_link),
        }
        .write(&mut head);
        if !opts.reduce_head {
            Line::Servname(&ctx.server_name).write(&mut head);
            if !ctx.client_ip.is_empty() {
                Line::ClientIp(&ctx.client_ip).write(&mut head);
            }
            // On every bind: the client may have missed the last change.
            st.bandwidth.line().write(&mut head);
        }
        st.client_ip = ctx.client_ip.clone();
        self.bound_kind
            .set(Some(StreamKind::new(ctx.websocket, polling.is_some())));
        if let Some(from) = recovery_from {
            Line::Prog(from).write(&mut head);
        }
        let gen = st.gen;
        // A stream bound before this one must stop: it waits no more.
        crate::session::unlock_and_wake(st);
        Ok(Stream {
            session: self.clone(),
            gen,
            polling,
            keepalive,
            content_length,
            send_sync: opts.send_sync && polling.is_none(),
            head_len: head.len(),
            out: head,
            written: 0,
            bound_at: now,
            last_write: now,
            next_sync: now + cfg.sync_interval,
            done: false,
            close_socket: false,
            timer: Box::pin(tokio::time::sleep_until(now)),
            timer_at: None,
            max_delay: if polling.is_some() {
                Duration::ZERO
            } else {
                cfg.max_delay
            },
            tally: ChunkTally::default(),
            cut: false,
        })
    }

    fn unbind(&self, gen: u64) {
        let mut st = self.state.lock();
        if st.gen == gen {
            st.bound = false;
            st.unbound_since = Instant::now();
            self.bound_kind.set(None);
        }
    }
}

impl Stream {
    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    pub fn is_polling(&self) -> bool {
        self.polling.is_some()
    }

    /// Resolves once the session has ended (closed by the client, expired,
    /// closed as stalled or by the memory budget). A transport blocked
    /// writing to a client that stopped reading can race its write against
    /// this and close the socket, rather than wait for a reader that will
    /// not come. Independent of `self`, so it can be held across a write.
    pub fn ended(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut ended = self.session.ended.subscribe();
        async move {
            // An error means the session is gone altogether: ended too.
            let _ = ended.wait_for(|e| *e).await;
        }
    }

    /// Whether the stream stopped because its session was handed over to
    /// another node: the transport cuts the connection (no `END`, no clean
    /// close), which makes the client recover the session elsewhere.
    pub fn is_cut(&self) -> bool {
        self.cut
    }

    /// Whether the last chunk ended the stream (`LOOP` or `END`).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Whether the client asked that the connection be closed once the
    /// stream is done (`LS_close_socket=true`).
    pub fn closes_socket(&self) -> bool {
        self.done && self.close_socket
    }

    /// The next text to write, or `None` once the stream is over (after a
    /// chunk that ended with `LOOP` or `END`, or when another stream took over).
    ///
    /// Cancel-safe: text taken from the session waits in `self.out` until a
    /// call returns it.
    pub async fn next_chunk(&mut self) -> Option<String> {
        self.fill().await.then(|| std::mem::take(&mut self.out))
    }

    /// The same as [`Stream::next_chunk`], with the text lent to `write`
    /// instead of given: the stream keeps its buffer for the next chunk, so
    /// a stream that sends one update at a time allocates nothing per update.
    /// `false` once the stream is over.
    pub async fn next_chunk_with(&mut self, write: impl FnOnce(&str)) -> bool {
        if !self.fill().await {
            return false;
        }
        write(&self.out);
        self.out.clear();
        if self.out.capacity() > CHUNK_BUDGET * 2 {
            self.out = String::new();
        }
        true
    }

    /// Waits until a chunk is ready in `self.out`; `false` once the stream
    /// is over. Cancel-safe (see [`Stream::next_chunk`]).
    async fn fill(&mut self) -> bool {
        if self.done {
            return false;
        }
        let session = self.session.clone();
        loop {
            // `<max_delay_millis>`: updates that come within that time of the
            // last write wait for the next one, taken all at once.
            if !self.max_delay.is_zero() && self.head_len == 0 {
                let hold = self.last_write + self.max_delay;
                if Instant::now() < hold {
                    self.sleep(hold).await;
                }
            }
            let now = Instant::now();
            // One look at the session; when it has nothing to send, this
            // task's waker is left in it, in the same look.
            let look = std::future::poll_fn(|cx| Poll::Ready(self.look(&session, now, cx))).await;
            let next_due = match look {
                Look::Over => return false,
                Look::Chunk => return true,
                Look::Wait(due) => due,
            };
            let mut deadline = match self.polling {
                Some(p) => self.bound_at + p.idle,
                None if self.send_sync => (self.last_write + self.keepalive).min(self.next_sync),
                None => self.last_write + self.keepalive,
            };
            if let Some(t) = next_due {
                deadline = deadline.min(t);
            }
            tokio::select! {
                _ = crate::wake::woken() => {}
                _ = self.sleep(deadline) => {
                    if self.polling.is_none() {
                        let now = Instant::now();
                        if self.send_sync && now >= self.next_sync {
                            let secs = now.duration_since(self.bound_at).as_secs();
                            Line::Sync(secs).write(&mut self.out);
                            self.next_sync = now + session.config.sync_interval;
                        }
                        if self.out.is_empty() && now >= self.last_write + self.keepalive {
                            Line::Probe.write(&mut self.out);
                        }
                    }
                }
            }
        }
    }

    /// Takes what the session has ready into `out` and decides whether it
    /// is a chunk to hand out. When it is not, the task's waker is left in
    /// the session, under the same lock.
    fn look(&mut self, session: &Session, now: Instant, cx: &mut Context<'_>) -> Look {
        let mut st = session.state.lock();
        if st.gen != self.gen {
            self.done = true;
            return Look::Over;
        }
        self.close_socket = st.close_socket;
        if st.cut {
            self.done = true;
            self.cut = true;
            return Look::Over;
        }
        if let Some((code, msg)) = &st.closed {
            Line::End {
                code: *code,
                message: msg,
            }
            .write(&mut self.out);
            self.finish();
            return Look::Chunk;
        }
        // Under a bandwidth limit, data waits for the bucket; what is
        // already in `out` (head, PROBE, SYNC) goes anyway.
        let (budget, paced) = match st.bandwidth.available(now) {
            None => (CHUNK_BUDGET, None),
            Some(avail) => (
                CHUNK_BUDGET.min(self.out.len().saturating_add(avail)),
                (avail == 0).then(|| st.bandwidth.ready_at()).flatten(),
            ),
        };
        let mut due = st.produce(&mut self.out, budget, now, &mut self.tally);
        if let Some(refill) = paced {
            // The bucket is empty: come back when it has refilled. Until
            // then the stream is not stalled, only paced.
            due = Some(due.map_or(refill, |d| d.min(refill)));
            if st.woken_at.is_some() {
                st.woken_at = Some(refill);
            }
        }
        session.ask_flush(&mut st);
        st.trim_log(&session.config, now);
        if st.force_loop {
            st.force_loop = false;
            Line::Loop(0).write(&mut self.out);
            st.bandwidth.spend(self.out.len(), now);
            self.finish();
            return Look::Chunk;
        }
        let handed_out = match self.polling {
            Some(p) if self.out.len() > self.head_len || now >= self.bound_at + p.idle => {
                Line::Loop(p.loop_ms).write(&mut self.out);
                self.finish()
            }
            None if !self.out.is_empty() => self.account(),
            // The head goes at once: clients wait for CONOK before they
            // consider the poll established; data and LOOP follow.
            Some(_) if self.head_len > 0 => self.mark_out(),
            _ => false,
        };
        if handed_out {
            st.bandwidth.spend(self.out.len(), now);
            return Look::Chunk;
        }
        match &st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st.waker = Some(cx.waker().clone()),
        }
        Look::Wait(due)
    }

    /// Waits on the stream's timer until `deadline` at the latest (maybe
    /// earlier: see [`Stream::timer`]; the callers check the time).
    /// Cancel-safe: the timer stays armed.
    async fn sleep(&mut self, deadline: Instant) {
        if self.timer_at.is_none_or(|t| deadline < t) {
            self.timer.as_mut().reset(deadline);
            self.timer_at = Some(deadline);
        }
        self.timer.as_mut().await;
        self.timer_at = None;
    }

    /// Counts the pending text as handed out; an HTTP stream that reached
    /// its content length ends with `LOOP` so that the client rebinds.
    fn account(&mut self) -> bool {
        // The `LOOP` joins the chunk before it is counted, so that the
        // statistics see every byte handed out.
        if self.written + self.out.len() as u64 >= self.content_length {
            Line::Loop(0).write(&mut self.out);
            self.done = true;
        }
        self.mark_out()
    }

    /// The pending text is the last of the stream, and already ends it.
    fn finish(&mut self) -> bool {
        self.done = true;
        self.mark_out()
    }

    fn mark_out(&mut self) -> bool {
        let now = Instant::now();
        self.head_len = 0;
        self.written += self.out.len() as u64;
        self.last_write = now;
        // One update of the engine's counters per chunk, not per update.
        let tally = std::mem::take(&mut self.tally);
        let age = tally.oldest.map(|t| now.saturating_duration_since(t));
        self.session
            .stats
            .chunk_written(self.out.len(), tally.updates, age);
        true
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.session.unbind(self.gen);
    }
}
