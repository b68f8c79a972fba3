//! Engine settings, with the defaults Shoal runs with when nothing is configured.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Longest request accepted, in bytes (sent to clients in `CONOK`).
    pub request_limit: u64,
    /// Keepalive (`PROBE`) interval when the client does not ask for one.
    pub keepalive: Duration,
    /// Bounds applied to a client's `LS_keepalive_millis`.
    pub min_keepalive: Duration,
    pub max_keepalive: Duration,
    /// Bytes of an HTTP stream before it is closed with `LOOP` (when the
    /// client does not ask for a length).
    pub content_length: u64,
    /// Longest wait of a long-polling request (`LS_idle_millis` cap).
    pub max_idle: Duration,
    /// Longest expected gap between two polls (`LS_polling_millis` cap).
    pub max_polling: Duration,
    /// How long a session survives without a stream (lost connection, or
    /// between polls on top of the polling interval).
    pub session_timeout: Duration,
    /// How long sent notifications are kept for recovery, and how many bytes
    /// of memory at most per session (lines and their bookkeeping).
    pub recovery_window: Duration,
    pub recovery_max_bytes: usize,
    /// Most bytes all sessions together may hold in buffers (queued updates,
    /// recovery logs, uncounted lines). Past it new sessions are refused
    /// (`CONERR` 9) and the sessions holding the most are closed (`END` 33).
    pub session_buffers_budget: usize,
    /// A stream that leaves data waiting this long (its client stopped
    /// reading) gets its session closed (`END` 33); zero: never.
    pub stall_timeout: Duration,
    /// Most subscriptions one session may hold; more are refused (`REQERR` 68).
    pub max_subscriptions: usize,
    /// Most sessions this server holds at once.
    pub max_sessions: usize,
    /// Most live events buffered per subscribed item of a session when the
    /// client asks for an unlimited buffer (RAW, DISTINCT, unfiltered).
    pub max_buffer: usize,
    /// Events of history kept per item for DISTINCT snapshots.
    pub distinct_snapshot_length: usize,
    /// Interval of `SYNC` notifications on streams.
    pub sync_interval: Duration,
    /// Default and maximum wait for a missing message of a sequence.
    pub message_max_wait: Duration,
    /// Sessions older than this end with code 48, and their clients open a
    /// new session at once (through the balancer: a way to rebalance).
    pub max_session_duration: Option<Duration>,
    /// `<max_delay_millis>`: after a write, a stream waits this long before
    /// the next one, so that the updates of that time leave together (fewer
    /// writes and wake-ups, for up to this much latency). Zero: every update
    /// leaves as soon as the stream can take it.
    pub max_delay: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            request_limit: 50_000,
            keepalive: Duration::from_secs(5),
            min_keepalive: Duration::from_secs(1),
            max_keepalive: Duration::from_secs(30),
            content_length: 4_000_000,
            max_idle: Duration::from_secs(30),
            max_polling: Duration::from_secs(15),
            session_timeout: Duration::from_secs(20),
            recovery_window: Duration::from_secs(30),
            recovery_max_bytes: 4 * 1024 * 1024,
            session_buffers_budget: 1024 * 1024 * 1024,
            stall_timeout: Duration::from_secs(60),
            max_subscriptions: 1000,
            max_sessions: 100_000,
            max_buffer: 10_000,
            distinct_snapshot_length: 10,
            sync_interval: Duration::from_secs(30),
            message_max_wait: Duration::from_secs(5),
            max_session_duration: None,
            max_delay: Duration::ZERO,
        }
    }
}
