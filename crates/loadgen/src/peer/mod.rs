//! Sessions with the other push servers of the peer benchmark: one
//! WebSocket each, subscribed to one or several channels whose messages
//! carry `seq` and `ts` as the COUNTER items do, so gaps and latency are counted as for TLCP.
//! Each protocol is a small frame parser behind [`Protocol`]; the socket
//! loop is shared.

mod mqtt;
mod payload;
mod plain;
mod socketio;

use crate::session::{next_unless_stopped, now_micros, Report, Shared};
use crate::stats::SeqCheck;
use anyhow::{anyhow, bail, Context};
use futures_util::SinkExt;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};
use tokio_tungstenite::tungstenite::Message;

/// How long the handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long closing may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The servers other than Shoal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    SocketIo,
    Mqtt,
    /// nchan and Pushpin alike: one message per frame.
    Plain,
}

/// What a peer's server sent that the session cannot go on with.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("the server refused: {0}")]
    Refused(String),
    #[error("the server closed the session: {0}")]
    Closed(String),
    #[error("unexpected from the server: {0}")]
    Unexpected(String),
}

/// A WebSocket data frame.
#[derive(Debug, Clone, Copy)]
pub enum Frame<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
}

/// What a frame meant: updates (item index, `seq`, `ts`), frames to send back, and
/// whether the subscription is now on.
#[derive(Debug, Default)]
pub struct Output {
    pub updates: Vec<(usize, u64, u64)>,
    pub replies: Vec<Message>,
    pub subscribed: bool,
}

impl Output {
    fn clear(&mut self) {
        self.updates.clear();
        self.replies.clear();
        self.subscribed = false;
    }
}

/// One peer's protocol on top of the WebSocket.
pub trait Protocol: Send {
    /// The WebSocket subprotocol to ask for.
    fn subprotocol(&self) -> Option<&'static str> {
        None
    }
    /// Frames to send once the WebSocket is open.
    fn hello(&mut self) -> Vec<Message> {
        Vec::new()
    }
    /// Whether the open WebSocket is the subscription itself.
    fn subscribed_on_open(&self) -> bool {
        false
    }
    fn frame(&mut self, frame: Frame<'_>, out: &mut Output) -> Result<(), PeerError>;
    /// A frame saying goodbye before the WebSocket closes.
    fn goodbye(&mut self) -> Option<Message> {
        None
    }
}

pub fn protocol(peer: Peer, id: usize, channels: &[String]) -> Box<dyn Protocol> {
    match peer {
        Peer::SocketIo => Box::new(socketio::SocketIo::new(channels)),
        Peer::Mqtt => Box::new(mqtt::Mqtt::new(format!("load-{id}"), channels)),
        Peer::Plain => Box::new(plain::Plain {
            channels: channels.to_vec(),
        }),
    }
}

/// Where and how the sessions of a peer connect.
#[derive(Debug)]
pub struct Target {
    pub peer: Peer,
    /// The WebSocket URL, used as it is (nchan and Pushpin name the
    /// channels in it).
    pub url: String,
    /// What each session subscribes, in the order of its items.
    pub channels: Vec<String>,
}

/// Runs session `id` of a peer until `stop` turns true.
pub async fn run(
    id: usize,
    target: Arc<Target>,
    source: Option<IpAddr>,
    shared: Arc<Shared>,
    connecting: Arc<Semaphore>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Report> {
    session(id, &target, source, shared, connecting, stop)
        .await
        .with_context(|| format!("session {id}"))
}

async fn session(
    id: usize,
    target: &Target,
    source: Option<IpAddr>,
    shared: Arc<Shared>,
    connecting: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<Report> {
    let url = target.url.as_str();
    let mut proto = protocol(target.peer, id, &target.channels);
    let mut report = Report {
        seq: vec![SeqCheck::default(); target.channels.len()],
        ..Report::default()
    };
    let mut permit = Some(
        connecting
            .acquire_owned()
            .await
            .context("the connection limiter closed")?,
    );
    let mut ws = tokio::time::timeout(
        CONNECT_TIMEOUT,
        crate::connect::websocket(url, proto.subprotocol(), source),
    )
    .await
    .map_err(|_| anyhow!("no WebSocket to {url} after {}s", CONNECT_TIMEOUT.as_secs()))??;
    for m in proto.hello() {
        ws.send(m).await.context("cannot send the first frames")?;
    }
    let subscribed = |permit: &mut Option<_>| {
        if permit.take().is_some() {
            shared.subscribed.fetch_add(1, Ordering::Relaxed);
        }
    };
    if proto.subscribed_on_open() {
        subscribed(&mut permit);
    }
    let mut out = Output::default();
    let mut latencies = Vec::new();
    while let Some(msg) = next_unless_stopped(&mut ws, &mut stop).await {
        out.clear();
        let result = match &msg {
            Some(Ok(Message::Text(t))) => proto.frame(Frame::Text(t.as_str()), &mut out),
            Some(Ok(Message::Binary(b))) => proto.frame(Frame::Binary(b), &mut out),
            Some(Ok(Message::Close(frame))) => match frame {
                Some(f) => bail!("the server closed the WebSocket: {} {}", f.code, f.reason),
                None => bail!("the server closed the WebSocket"),
            },
            Some(Ok(_)) => continue,
            Some(Err(e)) => bail!("WebSocket failure: {e}"),
            None => bail!("the server closed the connection"),
        };
        result?;
        let now = now_micros();
        let measuring = shared.measuring.load(Ordering::Relaxed);
        for &(item, seq, ts) in &out.updates {
            // Protocols give indexes into the channels, of which there are
            // as many as seq checks.
            if let Some(check) = report.seq.get_mut(item) {
                check.observe(seq);
            }
            if measuring {
                if ts > now {
                    report.early += 1;
                }
                latencies.push(now.saturating_sub(ts));
            }
        }
        for m in out.replies.drain(..) {
            ws.send(m).await.context("cannot answer the server")?;
        }
        if out.subscribed {
            subscribed(&mut permit);
        }
        if !latencies.is_empty() {
            let mut histogram = shared.latency.lock();
            for v in latencies.drain(..) {
                histogram.record(v);
            }
        }
    }
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        if let Some(m) = proto.goodbye() {
            let _ = ws.send(m).await;
        }
        let _ = ws.close(None).await;
    })
    .await;
    Ok(report)
}
