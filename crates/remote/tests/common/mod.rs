//! A scripted remote adapter (a TCP client that reads and writes ARI lines
//! as the SDKs do) and a recording engine listener, for the proxy tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use shoal_adapter::{ItemEvent, ItemEventListener};
use shoal_remote::{AdapterName, ProxySettings};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

pub const WAIT: Duration = Duration::from_secs(5);

/// Settings for a proxy of adapter set `SET` on any free local port.
pub fn settings(data_adapter: Option<&str>) -> ProxySettings {
    let name = AdapterName {
        adapter_set: "SET".into(),
        data_adapter: data_adapter.map(str::to_owned),
    };
    let mut s = ProxySettings::new(name, "127.0.0.1:0".parse().unwrap());
    s.timeout = Some(Duration::from_secs(2));
    s
}

/// A remote adapter driven line by line by the test.
pub struct Remote {
    read: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
}

impl Remote {
    pub async fn connect(addr: SocketAddr) -> Remote {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (r, w) = tcp.into_split();
        Remote {
            read: BufReader::new(r),
            write: w,
        }
    }

    pub async fn send(&mut self, line: &str) {
        self.write
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
    }

    /// Writes `bytes` as they are (no line end added).
    /// Writes `bytes` as they are; the proxy may close the connection
    /// meanwhile (a line it refuses), hence the result.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.write.write_all(bytes).await
    }

    /// The next line from the proxy; `None` when it closed the connection.
    pub async fn line(&mut self) -> Option<String> {
        let mut s = String::new();
        let n = tokio::time::timeout(WAIT, self.read.read_line(&mut s))
            .await
            .expect("a line from the proxy in time")
            .unwrap_or(0);
        (n > 0).then(|| s.trim_end().to_owned())
    }

    /// The next line, which must start with `prefix`; returns its fields.
    pub async fn expect(&mut self, method: &str) -> Vec<String> {
        let line = self.line().await.expect("a line, not the end");
        let fields: Vec<String> = line.split('|').map(str::to_owned).collect();
        assert_eq!(fields.get(1).map(String::as_str), Some(method), "{line}");
        fields
    }

    /// The next line, whatever its method; returns its fields.
    pub async fn expect_any(&mut self) -> Vec<String> {
        let line = self.line().await.expect("a line, not the end");
        line.split('|').map(str::to_owned).collect()
    }

    /// Answers the init request with `version` (ARI 1.8.3 for the SDKs we
    /// can run); returns the init request's fields.
    pub async fn init(&mut self, method: &str, version: &str) -> Vec<String> {
        let init = self.expect(method).await;
        self.send(&format!("{}|{method}|S|ARI.version|S|{version}", init[0]))
            .await;
        init
    }

    /// Whether the proxy closes the connection (reading what it sends
    /// before that).
    pub async fn closed(&mut self) -> Vec<String> {
        let mut seen = Vec::new();
        while let Some(l) = self.line().await {
            seen.push(l);
        }
        seen
    }
}

/// An engine listener that records what the proxy delivers.
#[derive(Default)]
pub struct Recorder {
    pub events: Mutex<Vec<String>>,
    /// Every update event as delivered.
    pub raw: Mutex<Vec<ItemEvent>>,
    changed: Notify,
}

impl Recorder {
    fn push(&self, s: String) {
        self.events.lock().unwrap().push(s);
        self.changed.notify_waiters();
    }

    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.events.lock().unwrap())
    }

    /// Waits until `n` events were recorded, and takes them.
    pub async fn wait(&self, n: usize) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let notified = self.changed.notified();
            if self.events.lock().unwrap().len() >= n {
                return self.take();
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("only {:?} recorded", self.events.lock().unwrap());
            }
        }
    }
}

fn show(ev: &ItemEvent) -> String {
    ev.fields()
        .map(|(n, v)| format!("{n}={}", v.unwrap_or("#")))
        .collect::<Vec<_>>()
        .join(",")
}

impl ItemEventListener for Recorder {
    fn update(&self, item: &str, event: ItemEvent, is_snapshot: bool) {
        let kind = if is_snapshot { "snap" } else { "upd" };
        let shown = format!("{kind} {item} {}", show(&event));
        self.raw.lock().unwrap().push(event);
        self.push(shown);
    }
    fn end_of_snapshot(&self, item: &str) {
        self.push(format!("eos {item}"));
    }
    fn clear_snapshot(&self, item: &str) {
        self.push(format!("cls {item}"));
    }
    fn failure(&self, message: &str) {
        self.push(format!("failure {message}"));
    }
    fn declare_field_diff_order(
        &self,
        item: &str,
        fields: std::collections::HashMap<String, Vec<shoal_adapter::DiffAlgorithm>>,
    ) {
        let mut fields: Vec<String> = fields
            .into_iter()
            .map(|(f, a)| format!("{f}={a:?}"))
            .collect();
        fields.sort();
        self.push(format!("diffs {item} {}", fields.join(",")));
    }
}

pub fn recorder() -> Arc<Recorder> {
    Arc::new(Recorder::default())
}
