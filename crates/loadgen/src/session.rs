//! One TLCP session over one WebSocket: create it, subscribe the counter
//! items, read updates until told to stop, then destroy it.

use crate::stats::{Histogram, SeqCheck};
use anyhow::{anyhow, bail, Context};
use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use shoal_protocol::decode::{arg, decode_values_into, split_line};
use shoal_protocol::WS_SUBPROTOCOL;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{watch, Semaphore};
use tokio_tungstenite::tungstenite::Message;

/// Characters sent as they are in request parameters; everything else is
/// percent-encoded (the space between item names becomes `%20`).
const PARAM: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// How long a handshake plus session creation may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a session waits for `END` after asking to be destroyed.
const DESTROY_TIMEOUT: Duration = Duration::from_secs(5);

/// What every session does.
#[derive(Debug)]
pub struct Plan {
    /// `ws://host:port/lightstreamer`.
    pub url: String,
    pub adapter_set: String,
    pub data_adapter: String,
    /// `RAW`, `MERGE` or `DISTINCT`.
    pub mode: &'static str,
    pub items: Vec<String>,
}

impl Plan {
    pub fn create_request(&self) -> String {
        format!(
            "create_session\r\nLS_adapter_set={}&LS_cid=load&LS_send_sync=false",
            utf8_percent_encode(&self.adapter_set, PARAM)
        )
    }

    pub fn subscribe_request(&self) -> String {
        format!(
            "control\r\nLS_reqId=1&LS_op=add&LS_subId=1&LS_group={}&LS_schema=seq%20ts\
             &LS_data_adapter={}&LS_mode={}&LS_ack=false",
            utf8_percent_encode(&self.items.join(" "), PARAM),
            utf8_percent_encode(&self.data_adapter, PARAM),
            self.mode
        )
    }
}

/// What all sessions share while they run.
#[derive(Debug)]
pub struct Shared {
    /// Whether the run is in its measured window (after the warm-up, before
    /// stopping).
    pub measuring: AtomicBool,
    /// Sessions whose subscription was accepted (`SUBOK`).
    pub subscribed: AtomicUsize,
    /// End-to-end latencies of the updates received while measuring, in
    /// microseconds.
    pub latency: Mutex<Histogram>,
}

impl Shared {
    pub fn new() -> Self {
        Self {
            measuring: AtomicBool::new(false),
            subscribed: AtomicUsize::new(0),
            latency: Mutex::new(Histogram::new()),
        }
    }
}

/// What one session saw.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Updates the server said it dropped (`OV`).
    pub overflow: u64,
    /// Updates whose `ts` was later than the local clock on arrival.
    pub early: u64,
    /// One per subscribed item.
    pub seq: Vec<SeqCheck>,
}

impl Report {
    /// Updates received in all.
    pub fn received(&self) -> u64 {
        self.seq.iter().map(|s| s.received).sum()
    }
}

/// What a line meant to the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Nothing,
    /// `SUBOK`: the subscription is on.
    Subscribed,
}

/// The protocol state of one session, apart from its socket.
#[derive(Debug)]
pub struct Reader {
    /// The last values of each item's fields (`seq`, `ts`), for the
    /// unchanged-field encoding of updates.
    values: Vec<Vec<Option<String>>>,
    /// Where an update is decoded before it is accepted, so that a bad one
    /// leaves the item's values as they were; kept to reuse its buffers.
    scratch: Vec<Option<String>>,
    pub report: Report,
}

impl Reader {
    pub fn new(items: usize) -> Self {
        Self {
            values: vec![vec![None, None]; items],
            scratch: Vec::new(),
            report: Report {
                seq: vec![SeqCheck::default(); items],
                ..Report::default()
            },
        }
    }

    /// Handles one line (without its CRLF) that arrived at `now_us`
    /// (microseconds since the epoch). While `measuring`, the latency of an
    /// update goes to `latencies`. Errors are the server's refusals and
    /// anything that does not follow the protocol.
    pub fn line(
        &mut self,
        line: &str,
        now_us: u64,
        measuring: bool,
        latencies: &mut Vec<u64>,
    ) -> anyhow::Result<Notice> {
        let unreadable = || anyhow!("unreadable line from the server: {line:?}");
        // Nearly every line is an update: it is split here as split_line
        // would (three arguments, the last may hold commas), without its Vec.
        if let Some(rest) = line.strip_prefix("U,") {
            let mut args = rest.splitn(3, ',');
            let (Some(sub), Some(item), Some(values)) = (args.next(), args.next(), args.next())
            else {
                return Err(unreadable());
            };
            self.update(sub, item, values, now_us, measuring, latencies)?;
            return Ok(Notice::Nothing);
        }
        let raw = split_line(line).ok_or_else(unreadable)?;
        // split_line gives every tag matched below exactly its arity of
        // arguments (only a bare REQOK, PROBE or WSOK has none), so the
        // indexes are in range.
        let a = &raw.args;
        let text = |i: usize| a.get(i).and_then(|s| arg(s)).unwrap_or_default();
        match raw.tag {
            "SUBOK" => Ok(Notice::Subscribed),
            "OV" => {
                let lost: u64 = a[2]
                    .parse()
                    .with_context(|| format!("bad OV line {line:?}"))?;
                self.report.overflow += lost;
                Ok(Notice::Nothing)
            }
            "END" => bail!(
                "the server ended the session: END {} {}",
                a[0].parse::<i64>().unwrap_or(-1),
                text(1)
            ),
            "CONERR" => bail!("session refused: CONERR {} {}", a[0], text(1)),
            "REQERR" => bail!("request {} refused: REQERR {} {}", a[0], a[1], text(2)),
            "ERROR" => bail!("request refused: ERROR {} {}", a[0], text(1)),
            "LOOP" => bail!("the server ended the stream with {line:?}"),
            "UNSUB" | "EOS" | "CS" => {
                bail!("unexpected notification for a counter subscription: {line:?}")
            }
            _ => Ok(Notice::Nothing),
        }
    }

    fn update(
        &mut self,
        sub: &str,
        item: &str,
        encoded: &str,
        now_us: u64,
        measuring: bool,
        latencies: &mut Vec<u64>,
    ) -> anyhow::Result<()> {
        if sub != "1" {
            bail!("update for unknown subscription {sub}");
        }
        let index = item
            .parse::<usize>()
            .ok()
            .filter(|i| (1..=self.values.len()).contains(i))
            .ok_or_else(|| anyhow!("update for unknown item {item}"))?;
        let slot = &mut self.values[index - 1];
        let values = &mut self.scratch;
        values.clone_from(slot);
        if !decode_values_into(encoded, values) {
            bail!("bad update values {encoded:?} for item {index}");
        }
        let number = |i: usize, name: &str| {
            values[i]
                .as_deref()
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| {
                    anyhow!("update of item {index} without a numeric {name}: {encoded:?}")
                })
        };
        let seq = number(0, "seq")?;
        let ts = number(1, "ts")?;
        std::mem::swap(slot, values);
        self.report.seq[index - 1].observe(seq);
        if measuring {
            if ts > now_us {
                self.report.early += 1;
            }
            latencies.push(now_us.saturating_sub(ts));
        }
        Ok(())
    }
}

/// Microseconds since the Unix epoch, as the server's `ts`.
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

type Ws = crate::connect::Ws;

/// Runs session `id` until `stop` turns true, then destroys it. `connecting`
/// bounds how many sessions are being set up at once.
pub async fn run(
    id: usize,
    plan: Arc<Plan>,
    source: Option<IpAddr>,
    shared: Arc<Shared>,
    connecting: Arc<Semaphore>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Report> {
    session(plan, source, shared, connecting, stop)
        .await
        .with_context(|| format!("session {id}"))
}

async fn session(
    plan: Arc<Plan>,
    source: Option<IpAddr>,
    shared: Arc<Shared>,
    connecting: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<Report> {
    let mut reader = Reader::new(plan.items.len());
    // Held from the handshake to SUBOK.
    let mut permit = Some(
        connecting
            .acquire_owned()
            .await
            .context("the connection limiter closed")?,
    );
    let mut ws = tokio::time::timeout(CONNECT_TIMEOUT, open(&plan, source))
        .await
        .map_err(|_| {
            anyhow!(
                "no WebSocket to {} after {}s",
                plan.url,
                CONNECT_TIMEOUT.as_secs()
            )
        })??;
    let mut latencies: Vec<u64> = Vec::new();
    while let Some(msg) = next_unless_stopped(&mut ws, &mut stop).await {
        let text = match msg {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(frame))) => match frame {
                Some(f) => bail!("the server closed the WebSocket: {} {}", f.code, f.reason),
                None => bail!("the server closed the WebSocket"),
            },
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e).context("WebSocket failure"),
            None => bail!("the server closed the connection"),
        };
        let now = now_micros();
        let measuring = shared.measuring.load(Ordering::Relaxed);
        for line in text.as_str().split("\r\n").filter(|l| !l.is_empty()) {
            let notice = reader.line(line, now, measuring, &mut latencies)?;
            if notice == Notice::Subscribed && permit.take().is_some() {
                shared.subscribed.fetch_add(1, Ordering::Relaxed);
            }
        }
        if !latencies.is_empty() {
            let mut histogram = shared.latency.lock();
            for v in latencies.drain(..) {
                histogram.record(v);
            }
        }
    }
    destroy(&mut ws).await;
    Ok(reader.report)
}

/// Asks the server to destroy the session, waits a little for its `END`,
/// and closes the socket. Failures here do not matter any more.
/// The next message of a session's WebSocket (`Some(None)` once it ended),
/// or `None` as soon as the run stops (`stop` turns true or is dropped).
pub(crate) async fn next_unless_stopped(
    ws: &mut Ws,
    stop: &mut watch::Receiver<bool>,
) -> Option<Option<tokio_tungstenite::tungstenite::Result<Message>>> {
    loop {
        tokio::select! {
            biased;
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    return None;
                }
            }
            msg = ws.next() => return Some(msg),
        }
    }
}

async fn destroy(ws: &mut Ws) {
    let request = Message::text("control\r\nLS_reqId=2&LS_op=destroy");
    if ws.send(request).await.is_ok() {
        let _ = tokio::time::timeout(DESTROY_TIMEOUT, async {
            while let Some(Ok(msg)) = ws.next().await {
                if let Message::Text(t) = msg {
                    if t.as_str().split("\r\n").any(|l| l.starts_with("END,")) {
                        break;
                    }
                }
            }
        })
        .await;
    }
    let _ = tokio::time::timeout(DESTROY_TIMEOUT, ws.close(None)).await;
}

pub async fn open(plan: &Plan, source: Option<IpAddr>) -> anyhow::Result<Ws> {
    let mut ws = crate::connect::websocket(&plan.url, Some(WS_SUBPROTOCOL), source).await?;
    for text in [
        "wsok".to_owned(),
        plan.create_request(),
        plan.subscribe_request(),
    ] {
        ws.send(Message::text(text))
            .await
            .context("cannot send the first requests")?;
    }
    Ok(ws)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(items: &[&str]) -> Plan {
        Plan {
            url: "ws://127.0.0.1:1/lightstreamer".into(),
            adapter_set: "DEMO".into(),
            data_adapter: "COUNTER".into(),
            mode: "RAW",
            items: items.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn requests() {
        let p = plan(&["rate-10", "rate-11"]);
        assert_eq!(
            p.create_request(),
            "create_session\r\nLS_adapter_set=DEMO&LS_cid=load&LS_send_sync=false"
        );
        assert_eq!(
            p.subscribe_request(),
            "control\r\nLS_reqId=1&LS_op=add&LS_subId=1&LS_group=rate-10%20rate-11\
             &LS_schema=seq%20ts&LS_data_adapter=COUNTER&LS_mode=RAW&LS_ack=false"
        );
    }

    #[test]
    fn reads_updates_with_unchanged_fields() {
        let mut r = Reader::new(2);
        let mut lat = Vec::new();
        let now = 2_000_000;
        for (line, notice) in [
            ("CONOK,S1,50000,5000,*", Notice::Nothing),
            ("SERVNAME,Shoal", Notice::Nothing),
            ("CONS,unlimited", Notice::Nothing),
            ("SUBOK,1,2,2", Notice::Subscribed),
            ("CONF,1,unlimited,unfiltered", Notice::Nothing),
            ("PROBE", Notice::Nothing),
        ] {
            assert_eq!(
                r.line(line, now, true, &mut lat).ok(),
                Some(notice),
                "{line}"
            );
        }
        // Not measuring yet: counted for seq, not for latency.
        assert!(r.line("U,1,1,7|1999000", now, false, &mut lat).is_ok());
        assert!(lat.is_empty());
        // An unchanged ts (same microsecond) is an empty field.
        assert!(r.line("U,1,1,8|", now, true, &mut lat).is_ok());
        assert!(r.line("U,1,2,100|1999500", now, true, &mut lat).is_ok());
        assert!(r.line("U,1,1,10|1999900", now, true, &mut lat).is_ok());
        // From the future: counted, latency 0.
        assert!(r.line("U,1,2,101|2000100", now, true, &mut lat).is_ok());
        assert_eq!(lat, vec![1000, 500, 100, 0]);
        assert_eq!(r.report.received(), 5);
        assert_eq!(r.report.early, 1);
        assert_eq!(r.report.seq[0].missing, 1);
        assert_eq!(r.report.seq[1].missing, 0);
        assert!(r.line("OV,1,2,17", now, true, &mut lat).is_ok());
        assert_eq!(r.report.overflow, 17);
        assert_eq!(
            r.line("END,31,destroyed", now, true, &mut lat)
                .map_err(|e| e.to_string()),
            Err("the server ended the session: END 31 destroyed".into())
        );
    }

    #[test]
    fn refusals_and_nonsense_are_errors() {
        let mut r = Reader::new(1);
        let mut lat = Vec::new();
        let err = |r: &mut Reader, line: &str| match r.line(line, 0, true, &mut Vec::new()) {
            Err(e) => e.to_string(),
            Ok(n) => panic!("{line}: {n:?}"),
        };
        assert_eq!(
            err(&mut r, "CONERR,2,Unknown%20adapter%20set"),
            "session refused: CONERR 2 Unknown adapter set"
        );
        assert_eq!(
            err(&mut r, "REQERR,1,17,unknown data adapter"),
            "request 1 refused: REQERR 17 unknown data adapter"
        );
        assert!(err(&mut r, "U,1,2,1|1").contains("unknown item 2"));
        assert!(err(&mut r, "U,2,1,1|1").contains("unknown subscription"));
        assert!(err(&mut r, "U,1,1,x|1").contains("numeric seq"));
        assert!(err(&mut r, "U,1,1,1|2|3").contains("bad update values"));
        assert!(err(&mut r, "LOOP,0").contains("LOOP"));
        assert!(err(&mut r, "HELLO").contains("unreadable"));
        assert!(err(&mut r, "U,1,1").contains("unreadable"));
        // The first update may not leave a field unchanged: there is no value yet.
        assert!(err(&mut r, "U,1,1,1|").contains("numeric ts"));
        assert!(r.line("U,1,1,1|5", 10, true, &mut lat).is_ok());
        assert_eq!(lat, vec![5]);
    }
}
