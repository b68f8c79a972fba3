//! One connection to a remote adapter, after its handshake: lines go out
//! through an [`Outbox`] that any thread may fill (the engine subscribes
//! from its own threads), and come in through [`read_lines`].

use parking_lot::Mutex;
use shoal_ari::LineReader;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

/// Bytes waiting to be written to a remote beyond which it counts as
/// stalled and is disconnected: a remote that does not read its requests
/// must not make the server hold them without bound.
pub(crate) const OUTBOX_LIMIT: usize = 8 << 20;

/// Why a connection to a remote ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LinkError {
    #[error("the remote closed the connection")]
    Eof,
    #[error("read error: {0}")]
    Read(String),
    #[error("write error: {0}")]
    Write(String),
    #[error("nothing received for {0:?} (keepalive_timeout_millis)")]
    Silent(Duration),
    #[error("the remote does not read: {0} bytes of requests are waiting")]
    Stalled(usize),
    #[error("{0}")]
    Protocol(String),
    #[error("closed by the server: {0}")]
    Closed(String),
}

#[derive(Debug, Default)]
struct OutState {
    bytes: Vec<u8>,
    /// Set once: the writer stops after flushing what is queued.
    closing: Option<LinkError>,
}

/// Lines waiting for the writer task of one connection.
#[derive(Debug)]
pub(crate) struct Outbox {
    state: Mutex<OutState>,
    wake: Notify,
    closed: AtomicBool,
    done: Notify,
}

impl Outbox {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(OutState::default()),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
            done: Notify::new(),
        })
    }

    /// Appends lines written by `write`. Returns false when the connection
    /// is closing (nothing is sent then).
    pub fn send(&self, write: impl FnOnce(&mut Vec<u8>)) -> bool {
        let mut st = self.state.lock();
        if st.closing.is_some() {
            return false;
        }
        write(&mut st.bytes);
        if st.bytes.len() > OUTBOX_LIMIT {
            let held = st.bytes.len();
            st.bytes.clear();
            st.closing = Some(LinkError::Stalled(held));
        }
        drop(st);
        self.wake.notify_one();
        true
    }

    /// Ends the connection: what is queued (a `CLOSE` line, say) is still
    /// written, then the socket is shut.
    pub fn close(&self, why: LinkError) {
        let mut st = self.state.lock();
        if st.closing.is_none() {
            st.closing = Some(why);
        }
        drop(st);
        self.wake.notify_one();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Waits until the writer has stopped.
    pub async fn closed(&self) {
        loop {
            let notified = self.done.notified();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }

    /// Writes queued bytes until the connection closes; returns why.
    pub async fn write_loop<W: AsyncWrite + Unpin>(&self, mut io: W) -> LinkError {
        let mut batch = Vec::new();
        let why = loop {
            let notified = self.wake.notified();
            let closing = {
                let mut st = self.state.lock();
                std::mem::swap(&mut batch, &mut st.bytes);
                st.closing.clone()
            };
            if !batch.is_empty() {
                if let Err(e) = io.write_all(&batch).await {
                    break LinkError::Write(e.to_string());
                }
                batch.clear();
                continue;
            }
            if let Some(why) = closing {
                let _ = io.flush().await;
                let _ = io.shutdown().await;
                break why;
            }
            if let Err(e) = io.flush().await {
                break LinkError::Write(e.to_string());
            }
            notified.await;
        };
        self.state.lock().closing.get_or_insert(why.clone());
        self.closed.store(true, Ordering::Release);
        self.done.notify_waiters();
        why
    }
}

/// Reads lines from `io` into `reader` and hands each to `on_line`, until
/// the connection fails, `on_line` returns an error, or nothing arrives for
/// `silence` (when set). Lines already in `reader` go first.
pub(crate) async fn read_lines<R: AsyncRead + Unpin>(
    mut io: R,
    reader: &mut LineReader,
    silence: Option<Duration>,
    mut on_line: impl FnMut(&str) -> Result<(), LinkError>,
) -> LinkError {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        loop {
            match reader.next_line() {
                Ok(Some(line)) => {
                    if let Err(e) = on_line(line) {
                        return e;
                    }
                }
                Ok(None) => break,
                Err(e) => return LinkError::Protocol(e.to_string()),
            }
        }
        let read = io.read(&mut buf);
        let n = match silence {
            Some(limit) => match tokio::time::timeout(limit, read).await {
                Ok(r) => r,
                Err(_) => return LinkError::Silent(limit),
            },
            None => read.await,
        };
        match n {
            Ok(0) => return LinkError::Eof,
            Ok(n) => {
                if let Err(e) = reader.feed(&buf[..n]) {
                    return LinkError::Protocol(e.to_string());
                }
            }
            Err(e) => return LinkError::Read(e.to_string()),
        }
    }
}
