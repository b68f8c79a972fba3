//! Node statistics: what the server has done (counters), what it holds now
//! (gauges) and how long things took (histograms), for `/metrics` and the
//! monitor console.
//!
//! The hot path only ever touches atomics with relaxed ordering: a stream
//! adds its chunk's bytes and updates once per chunk written (not once per
//! update per client), and one delivery latency per chunk. Gauges that a
//! pass over the sessions can compute (sessions per transport) are computed
//! when a snapshot is taken, not maintained on every change.

mod histogram;

pub use histogram::{HistogramSnapshot, LATENCY_BOUNDS, LIFETIME_BOUNDS};
pub use shoal_procstat::ProcessStats;

use histogram::Histogram;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How a session's stream reaches its client now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    WsStreaming,
    HttpStreaming,
    WsPolling,
    HttpPolling,
}

impl StreamKind {
    /// Every kind, in the order of [`StatsSnapshot::sessions_by_transport`].
    pub const ALL: [StreamKind; 4] = [
        StreamKind::WsStreaming,
        StreamKind::HttpStreaming,
        StreamKind::WsPolling,
        StreamKind::HttpPolling,
    ];

    pub fn new(websocket: bool, polling: bool) -> Self {
        match (websocket, polling) {
            (true, false) => Self::WsStreaming,
            (false, false) => Self::HttpStreaming,
            (true, true) => Self::WsPolling,
            (false, true) => Self::HttpPolling,
        }
    }

    /// The TLCP name, as the monitor shows it (`WS-STREAMING`...).
    pub fn name(self) -> &'static str {
        match self {
            Self::WsStreaming => "WS-STREAMING",
            Self::HttpStreaming => "HTTP-STREAMING",
            Self::WsPolling => "WS-POLLING",
            Self::HttpPolling => "HTTP-POLLING",
        }
    }

    /// The metric label value (`ws-streaming`...).
    pub fn label(self) -> &'static str {
        match self {
            Self::WsStreaming => "ws-streaming",
            Self::HttpStreaming => "http-streaming",
            Self::WsPolling => "ws-polling",
            Self::HttpPolling => "http-polling",
        }
    }

    /// The code kept in a session's atomic (0 is "no stream bound").
    pub(crate) fn code(self) -> u8 {
        match self {
            Self::WsStreaming => 1,
            Self::HttpStreaming => 2,
            Self::WsPolling => 3,
            Self::HttpPolling => 4,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// A session's current stream kind, readable without the session's lock
/// (the snapshot reads it for every session).
#[derive(Debug, Default)]
pub(crate) struct BoundKind(AtomicU8);

impl BoundKind {
    pub fn set(&self, kind: Option<StreamKind>) {
        self.0
            .store(kind.map_or(0, StreamKind::code), Ordering::Relaxed);
    }

    pub fn get(&self) -> Option<StreamKind> {
        StreamKind::from_code(self.0.load(Ordering::Relaxed))
    }
}

/// The engine's counters; one per engine, shared by its sessions.
#[derive(Debug)]
pub(crate) struct Stats {
    pub started: SystemTime,
    pub sessions_created: AtomicU64,
    pub sessions_closed: AtomicU64,
    pub connections_accepted: AtomicU64,
    pub connections_open: AtomicU64,
    pub updates_delivered: AtomicU64,
    pub bytes_written: AtomicU64,
    pub requests_handled: AtomicU64,
    pub requests_refused: AtomicU64,
    pub messages_received: AtomicU64,
    pub sessions_taken_over: AtomicU64,
    pub sessions_handed_over: AtomicU64,
    pub takeovers_refused: AtomicU64,
    /// A gauge: subscriptions held by the sessions now.
    pub subscriptions: AtomicU64,
    pub delivery_latency: Histogram,
    pub session_lifetime: Histogram,
    pub request_duration: Histogram,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            started: SystemTime::now(),
            sessions_created: AtomicU64::new(0),
            sessions_closed: AtomicU64::new(0),
            connections_accepted: AtomicU64::new(0),
            connections_open: AtomicU64::new(0),
            updates_delivered: AtomicU64::new(0),
            bytes_written: AtomicU64::new(0),
            requests_handled: AtomicU64::new(0),
            requests_refused: AtomicU64::new(0),
            messages_received: AtomicU64::new(0),
            sessions_taken_over: AtomicU64::new(0),
            sessions_handed_over: AtomicU64::new(0),
            takeovers_refused: AtomicU64::new(0),
            subscriptions: AtomicU64::new(0),
            delivery_latency: Histogram::new(LATENCY_BOUNDS),
            session_lifetime: Histogram::new(LIFETIME_BOUNDS),
            request_duration: Histogram::new(LATENCY_BOUNDS),
        }
    }
}

/// Adds to a counter (relaxed: counters order nothing).
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Takes from a gauge, never below zero.
pub(crate) fn sub(gauge: &AtomicU64, n: u64) {
    // The closure never fails (it always returns `Some`).
    let _ = gauge.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
        Some(v.saturating_sub(n))
    });
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// Held by a transport while a TLCP connection (an HTTP request or a
/// WebSocket) is open: counts the connection as accepted when made, and as
/// open until dropped. See [`crate::Engine::connection_opened`].
#[derive(Debug)]
pub struct ConnectionGuard(Arc<Stats>);

impl ConnectionGuard {
    pub(crate) fn new(stats: Arc<Stats>) -> Self {
        add(&stats.connections_accepted, 1);
        add(&stats.connections_open, 1);
        Self(stats)
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        sub(&self.0.connections_open, 1);
    }
}

/// Whether a data adapter can serve now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterReadiness {
    pub adapter_set: String,
    pub data_adapter: String,
    /// Why it cannot serve; `None` when it is ready.
    pub unready: Option<String>,
}

/// A plain copy of the engine's statistics at one moment, as
/// [`crate::Engine::stats`] takes it: what `/metrics` exposes and the
/// monitor console shows. Counters count since the engine started.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsSnapshot {
    /// When the engine was made.
    pub start_time: SystemTime,
    /// Counter: sessions created.
    pub sessions_created: u64,
    /// Counter: sessions closed (by the client, expired, by the server...).
    pub sessions_closed: u64,
    /// Counter: TLCP connections accepted (HTTP requests, WebSockets).
    pub connections_accepted: u64,
    /// Gauge: TLCP connections open now.
    pub connections_open: u64,
    /// Counter: update lines (`U`) written to clients.
    pub updates_delivered: u64,
    /// Counter: bytes of TLCP text handed to the transports for clients.
    pub bytes_written: u64,
    /// Counter: TLCP requests handled (create, bind, control, msg, heartbeat...).
    pub requests_handled: u64,
    /// Counter: requests answered with `CONERR`, `REQERR` or `ERROR`.
    pub requests_refused: u64,
    /// Counter: client messages (`msg`) received.
    pub messages_received: u64,
    /// Counter: sessions of dead nodes this node took over.
    pub sessions_taken_over: u64,
    /// Counter: sessions this node handed over to the others (a drain).
    pub sessions_handed_over: u64,
    /// Counter: recoveries of a dead node's session this node found in the
    /// broker and could not take over (the client opened a new session).
    pub takeovers_refused: u64,
    /// Gauge: sessions held now.
    pub sessions: u64,
    /// Gauge: sessions whose stream is of each kind, in the order of
    /// [`StreamKind::ALL`].
    pub sessions_by_transport: [(StreamKind, u64); 4],
    /// Gauge: sessions with no stream bound now (between polls, or waiting
    /// for a client to reconnect).
    pub sessions_unbound: u64,
    /// Gauge: subscriptions held by all sessions.
    pub subscriptions: u64,
    /// Gauge: items subscribed upstream, over all data adapters.
    pub items: u64,
    /// Gauge: bytes of session buffers held (see [`crate::Engine::buffered_bytes`]).
    pub buffered_bytes: u64,
    /// From the engine receiving an event from its data adapter to the chunk
    /// holding it being handed to a transport (the oldest update of each
    /// chunk).
    pub delivery_latency: HistogramSnapshot,
    /// How long sessions lasted, observed as they close.
    pub session_lifetime: HistogramSnapshot,
    /// Time to handle create, bind and control requests.
    pub request_duration: HistogramSnapshot,
    /// Every data adapter of every adapter set, sorted.
    pub adapters: Vec<AdapterReadiness>,
    /// CPU, memory, threads and files of this process; `None` where /proc
    /// cannot be read.
    pub process: Option<ProcessStats>,
}

impl Stats {
    /// The counters and histograms; the engine adds what it computes.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            start_time: self.started,
            sessions_created: get(&self.sessions_created),
            sessions_closed: get(&self.sessions_closed),
            connections_accepted: get(&self.connections_accepted),
            connections_open: get(&self.connections_open),
            updates_delivered: get(&self.updates_delivered),
            bytes_written: get(&self.bytes_written),
            requests_handled: get(&self.requests_handled),
            requests_refused: get(&self.requests_refused),
            messages_received: get(&self.messages_received),
            sessions_taken_over: get(&self.sessions_taken_over),
            sessions_handed_over: get(&self.sessions_handed_over),
            takeovers_refused: get(&self.takeovers_refused),
            sessions: 0,
            sessions_by_transport: StreamKind::ALL.map(|k| (k, 0)),
            sessions_unbound: 0,
            subscriptions: get(&self.subscriptions),
            items: 0,
            buffered_bytes: 0,
            delivery_latency: self.delivery_latency.snapshot(),
            session_lifetime: self.session_lifetime.snapshot(),
            request_duration: self.request_duration.snapshot(),
            adapters: Vec::new(),
            process: None,
        }
    }

    /// One chunk handed to a transport: its bytes, its update lines, and
    /// the age of its oldest live update.
    pub fn chunk_written(&self, bytes: usize, updates: u64, oldest: Option<Duration>) {
        add(&self.bytes_written, bytes as u64);
        if updates > 0 {
            add(&self.updates_delivered, updates);
        }
        if let Some(age) = oldest {
            self.delivery_latency.observe(age);
        }
    }
}

impl StatsSnapshot {
    /// Sessions whose stream is of `kind` now.
    pub fn sessions_on(&self, kind: StreamKind) -> u64 {
        self.sessions_by_transport
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, n)| *n)
    }
}

/// What a stream gathered into the chunk it is building: how many update
/// lines, and when the engine received the oldest live one.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ChunkTally {
    pub updates: u64,
    pub oldest: Option<tokio::time::Instant>,
}

impl ChunkTally {
    /// One more update line; `received` for a live event.
    pub fn update(&mut self, received: Option<tokio::time::Instant>) {
        self.updates += 1;
        if let Some(t) = received {
            self.oldest = Some(self.oldest.map_or(t, |o| o.min(t)));
        }
    }
}
