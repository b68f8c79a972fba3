//! The session storm: as many sessions per second as the server takes, each
//! one opened, subscribed and closed, by a bounded number of workers.
//!
//! A session is what each protocol needs before its first update could
//! flow: for TLCP a WebSocket, `create_session`, `control add` and the
//! `SUBOK`; for MQTT CONNECT, CONNACK, SUBSCRIBE, SUBACK; for Socket.IO the
//! Engine.IO open, the namespace connect, `subscribe` and its `subscribed`
//! answer; for nchan and Pushpin the WebSocket handshake itself (the
//! subscription is the URL, or the origin's answer to the open). Each is
//! then closed as its protocol says (`destroy`, DISCONNECT, `41`) with a
//! WebSocket close. The figure is the sessions completed per second of the
//! measured window and the server's CPU time over them.

use crate::connect;
use crate::peer::{self, Frame, Output, Target};
use crate::procfs;
use crate::session::{self, Notice, Reader};
use crate::stats::Histogram;
use anyhow::{anyhow, bail, Context};
use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use serde_json::json;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

/// How long one session may take from connect to subscribed.
const SESSION_TIMEOUT: Duration = Duration::from_secs(10);
/// How long closing one may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// A worker whose session failed waits this long before the next, so that
/// a refusing server is not hammered in a tight loop.
const BACKOFF: Duration = Duration::from_millis(20);
/// How long the workers may take to finish after the window.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// What the storm does.
#[derive(Debug)]
pub struct Plan {
    pub protocol: &'static str,
    /// The TLCP session (used when `peer` is `None`).
    pub tlcp: session::Plan,
    pub peer: Option<Target>,
    pub concurrency: usize,
    /// Loopback source addresses (0 or 1: the kernel's choice).
    pub sources: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

/// What the workers count, shared.
#[derive(Debug, Default)]
struct Counts {
    measuring: AtomicBool,
    stop: AtomicBool,
    sessions: AtomicU64,
    failures: AtomicU64,
    /// Connect to subscribed, microseconds, of the sessions measured.
    setup: Mutex<Histogram>,
    last_error: Mutex<Option<String>>,
}

/// The figures of a storm.
#[derive(Debug)]
pub struct Outcome {
    pub protocol: &'static str,
    pub url: String,
    pub concurrency: usize,
    pub measured_for: Duration,
    /// Sessions subscribed within the window.
    pub sessions: u64,
    pub failures: u64,
    pub last_error: Option<String>,
    pub setup: Histogram,
    /// The server's CPU time over the window.
    pub server_cpu: Option<Duration>,
    pub loadgen_cpu: Duration,
}

impl Outcome {
    pub fn sessions_per_s(&self) -> f64 {
        self.sessions as f64 / self.measured_for.as_secs_f64().max(1e-9)
    }

    /// Server CPU microseconds per session completed.
    pub fn server_cpu_us_per_session(&self) -> Option<f64> {
        let cpu = self.server_cpu?;
        (self.sessions > 0).then(|| cpu.as_secs_f64() * 1e6 / self.sessions as f64)
    }

    fn percent(&self, d: Duration) -> f64 {
        100.0 * d.as_secs_f64() / self.measured_for.as_secs_f64().max(1e-9)
    }

    /// One JSON object on one line (keys sorted).
    pub fn to_json(&self) -> String {
        let ms = |q: f64| self.setup.quantile(q).map(|us| us as f64 / 1000.0);
        let v = json!({
            "protocol": self.protocol,
            "url": self.url,
            "concurrency": self.concurrency,
            "measured_s": self.measured_for.as_secs_f64(),
            "sessions": self.sessions,
            "sessions_per_s": self.sessions_per_s(),
            "failures": self.failures,
            "last_error": self.last_error,
            "latency_p50_ms": ms(0.5),
            "latency_p99_ms": ms(0.99),
            "server_cpu_percent": self.server_cpu.map(|d| self.percent(d)),
            "server_cpu_us_per_session": self.server_cpu_us_per_session(),
            "loadgen_cpu_percent": self.percent(self.loadgen_cpu),
        });
        format!("{v}\n")
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "sessions            {} in {:.1} s: {:.0}/s, {} workers",
            self.sessions,
            self.measured_for.as_secs_f64(),
            self.sessions_per_s(),
            self.concurrency
        )?;
        writeln!(f, "failures            {}", self.failures)?;
        if let Some(e) = &self.last_error {
            writeln!(f, "last failure        {e}")?;
        }
        if let (Some(p50), Some(p99)) = (self.setup.quantile(0.5), self.setup.quantile(0.99)) {
            writeln!(
                f,
                "setup ms            p50 {:.2}  p99 {:.2}",
                p50 as f64 / 1000.0,
                p99 as f64 / 1000.0
            )?;
        }
        if let Some(us) = self.server_cpu_us_per_session() {
            writeln!(f, "server CPU/session  {us:.1} µs")?;
        }
        writeln!(
            f,
            "load generator CPU  {:.1} % of one core",
            self.percent(self.loadgen_cpu)
        )
    }
}

/// Runs the storm: warm-up, measured window, stop.
pub async fn run(plan: Arc<Plan>, server: procfs::Group) -> anyhow::Result<Outcome> {
    let counts = Arc::new(Counts::default());
    let me = procfs::Probe::new("self")?;
    let mut workers = JoinSet::new();
    for w in 0..plan.concurrency.max(1) {
        workers.spawn(worker(w, plan.clone(), counts.clone()));
    }
    tokio::time::sleep(plan.warmup).await;
    let has_server = !server.0.is_empty();
    let server_before = has_server.then(|| server.sample()).transpose()?;
    let me_before = me.sample()?;
    let t0 = Instant::now();
    counts.measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(plan.duration).await;
    counts.measuring.store(false, Ordering::Relaxed);
    let measured_for = t0.elapsed();
    let server_after = has_server.then(|| server.sample()).transpose()?;
    let me_after = me.sample()?;
    counts.stop.store(true, Ordering::Relaxed);
    if tokio::time::timeout(STOP_TIMEOUT, async {
        while workers.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        eprintln!("shoal-load: storm workers did not stop in time; abandoned");
        workers.abort_all();
    }
    let sessions = counts.sessions.load(Ordering::Relaxed);
    let failures = counts.failures.load(Ordering::Relaxed);
    if sessions == 0 {
        bail!(
            "no session completed in the window ({failures} failures; last: {})",
            counts.last_error.lock().clone().unwrap_or_default()
        );
    }
    let setup = std::mem::take(&mut *counts.setup.lock());
    let last_error = counts.last_error.lock().clone();
    Ok(Outcome {
        protocol: plan.protocol,
        url: plan
            .peer
            .as_ref()
            .map_or_else(|| plan.tlcp.url.clone(), |t| t.url.clone()),
        concurrency: plan.concurrency,
        measured_for,
        sessions,
        failures,
        last_error,
        setup,
        server_cpu: server_before
            .zip(server_after)
            .map(|(b, a)| a.cpu.saturating_sub(b.cpu)),
        loadgen_cpu: me_after.cpu.saturating_sub(me_before.cpu),
    })
}

/// One worker: sessions one after the other until told to stop.
async fn worker(w: usize, plan: Arc<Plan>, counts: Arc<Counts>) {
    let mut n = 0usize;
    while !counts.stop.load(Ordering::Relaxed) {
        // Unique per session alive at once (MQTT client ids must be).
        let id = w * 1_000_000 + n % 1_000_000;
        n += 1;
        let source = connect::source_for(id, plan.sources);
        let started = Instant::now();
        let setup = tokio::time::timeout(SESSION_TIMEOUT, one(&plan, id, source))
            .await
            .map_err(|_| anyhow!("no subscription within {}s", SESSION_TIMEOUT.as_secs()))
            .and_then(|r| r);
        let measuring = counts.measuring.load(Ordering::Relaxed);
        match setup {
            Ok(()) if measuring => {
                counts.sessions.fetch_add(1, Ordering::Relaxed);
                let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                counts.setup.lock().record(us);
            }
            Ok(()) => {}
            Err(e) => {
                if measuring {
                    counts.failures.fetch_add(1, Ordering::Relaxed);
                }
                *counts.last_error.lock() = Some(format!("{e:#}"));
                tokio::time::sleep(BACKOFF).await;
            }
        }
    }
}

/// One session: open, subscribe, close. Returns once it is subscribed and
/// its closing is done (or given up after [`CLOSE_TIMEOUT`]).
async fn one(plan: &Plan, id: usize, source: Option<std::net::IpAddr>) -> anyhow::Result<()> {
    let mut ws = match &plan.peer {
        None => {
            let mut ws = session::open(&plan.tlcp, source).await?;
            let mut reader = Reader::new(plan.tlcp.items.len());
            let mut ignored = Vec::new();
            'subscribing: loop {
                let text = match ws.next().await {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None => bail!("the server closed the session"),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(e).context("WebSocket failure"),
                };
                for line in text.as_str().split("\r\n").filter(|l| !l.is_empty()) {
                    if reader.line(line, 0, false, &mut ignored)? == Notice::Subscribed {
                        break 'subscribing;
                    }
                }
            }
            let _ = ws
                .send(Message::text("control\r\nLS_reqId=2&LS_op=destroy"))
                .await;
            ws
        }
        Some(target) => {
            let mut proto = peer::protocol(target.peer, id, &target.channels);
            let mut ws = connect::websocket(&target.url, proto.subprotocol(), source).await?;
            for m in proto.hello() {
                ws.send(m).await.context("cannot send the first frames")?;
            }
            let mut out = Output::default();
            let mut subscribed = proto.subscribed_on_open();
            while !subscribed {
                out.updates.clear();
                out.replies.clear();
                match ws.next().await {
                    Some(Ok(Message::Text(t))) => proto.frame(Frame::Text(t.as_str()), &mut out)?,
                    Some(Ok(Message::Binary(b))) => proto.frame(Frame::Binary(&b), &mut out)?,
                    Some(Ok(Message::Close(_))) | None => bail!("the server closed the session"),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(e).context("WebSocket failure"),
                }
                for m in out.replies.drain(..) {
                    ws.send(m).await.context("cannot answer the server")?;
                }
                subscribed = out.subscribed;
            }
            if let Some(m) = proto.goodbye() {
                let _ = ws.send(m).await;
            }
            ws
        }
    };
    // Close, and read until the server's side is closed too, so that the
    // session is gone before the next one counts.
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        let _ = ws.close(None).await;
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    Ok(())
}
