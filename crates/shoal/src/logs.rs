//! The log: lines go to standard error through a thread of their own, so
//! that logging never blocks the server nor makes it fail. When standard
//! error is slow, full (nobody reads the pipe) or gone (the reader closed
//! it), lines are dropped instead of waited for; how many is counted and
//! reported when lines get through again.

use anyhow::Context;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Lines waiting for the writer thread before new ones are dropped.
const QUEUE_LINES: usize = 16 * 1024;
/// How often the count of dropped lines is checked and reported.
const REPORT_EVERY: Duration = Duration::from_secs(10);
/// Longest wait at exit for queued lines to be written.
const FLUSH_AT_EXIT: Duration = Duration::from_secs(1);

/// The running log. Keep it until the process ends, then call [`Logs::finish`].
#[must_use]
pub struct Logs {
    guard: WorkerGuard,
    dropped: ErrorCounter,
    writer: Arc<WriterState>,
}

impl std::fmt::Debug for Logs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logs")
            .field("dropped", &self.dropped.dropped_lines())
            .finish()
    }
}

/// Installs the log at `level` (or `RUST_LOG`, or `info`).
pub fn init(level: Option<&str>) -> anyhow::Result<Logs> {
    let filter = match level {
        Some(l) => EnvFilter::try_new(l).with_context(|| format!("invalid --log-level '{l}'"))?,
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let writer = Arc::new(WriterState::default());
    let (non_blocking, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(QUEUE_LINES)
        .thread_name("shoal-log")
        .finish(Stderr(writer.clone()));
    let dropped = non_blocking.error_counter();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(non_blocking)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot install the log: {e}"))?;
    Ok(Logs {
        guard,
        dropped,
        writer,
    })
}

impl Logs {
    /// Reports, every [`REPORT_EVERY`], how many lines were dropped since
    /// the last report (the report itself gets through once the log does).
    pub fn spawn_drop_reporter(&self) {
        let dropped = self.dropped.clone();
        tokio::spawn(async move {
            let mut reported = 0;
            let mut every = tokio::time::interval(REPORT_EVERY);
            loop {
                every.tick().await;
                let now = dropped.dropped_lines();
                if now > reported {
                    tracing::warn!(
                        dropped = now - reported,
                        total = now,
                        "log lines dropped: standard error was full or closed"
                    );
                    reported = now;
                }
            }
        });
    }

    /// Gives queued lines a moment to be written, unless the writer is stuck
    /// on a full pipe, and ends the log without waiting further.
    pub fn finish(self) {
        let end = Instant::now() + FLUSH_AT_EXIT;
        while Instant::now() < end && !self.writer.idle() {
            std::thread::sleep(Duration::from_millis(10));
        }
        if self.writer.idle() {
            // Flushes and stops the writer thread.
            drop(self.guard);
        } else {
            // Dropping the guard would wait on the stuck writer (and print
            // to standard output when it gives up): leave the thread behind.
            std::mem::forget(self.guard);
        }
    }
}

/// What the writer thread is doing, seen from outside.
#[derive(Debug, Default)]
struct WriterState {
    writing: AtomicBool,
    /// Milliseconds since `START` of the end of the last write.
    last_done: AtomicU64,
}

impl WriterState {
    /// Nothing being written and nothing written for a while: the queue is
    /// empty (the thread writes queued lines back to back).
    fn idle(&self) -> bool {
        !self.writing.load(Ordering::Acquire)
            && elapsed_millis().saturating_sub(self.last_done.load(Ordering::Acquire)) >= 30
    }
}

fn elapsed_millis() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Standard error for the writer thread, telling [`WriterState`] when it
/// writes. Errors (a closed pipe) are returned to the thread, which drops
/// the line.
struct Stderr(Arc<WriterState>);

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.writing.store(true, Ordering::Release);
        let r = std::io::stderr().write(buf);
        self.0.last_done.store(elapsed_millis(), Ordering::Release);
        self.0.writing.store(false, Ordering::Release);
        r
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Writes a line to standard output for scripts and tests to read; a closed
/// or broken standard output is logged, never fatal.
pub fn announce(line: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
        tracing::warn!("cannot write to standard output ({e}): {line}");
    }
}
