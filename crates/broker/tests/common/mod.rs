//! A real Redis server for the tests, and a listener that records what a
//! feed hands the engine.
#![allow(dead_code)]

use shoal_adapter::{ItemEvent, ItemEventListener};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Notify;

pub const WAIT: Duration = Duration::from_secs(15);

/// A `redis-server` started by a test on a port of 127.0.0.1, with its
/// data in a folder of its own; killed when dropped.
pub struct RedisServer {
    pub port: u16,
    dir: PathBuf,
    appendonly: bool,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server; `appendonly`: entries survive a restart.
    pub async fn start(dir: &Path, appendonly: bool) -> Self {
        // A port the system just gave, freed for Redis (Redis cannot be
        // told to pick one and say which).
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut s = Self {
            port,
            dir: dir.to_owned(),
            appendonly,
            child: None,
        };
        s.restart().await;
        s
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts (again) on the same port and folder, and waits until it
    /// accepts connections.
    pub async fn restart(&mut self) {
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", if self.appendonly { "yes" } else { "no" }])
            .args(["--appendfsync", "always"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is not installed: apt-get install redis-server (scripts/test.sh does)");
        let out = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(out).lines();
        let ready = tokio::time::timeout(WAIT, async {
            while let Ok(Some(l)) = lines.next_line().await {
                if l.contains("Ready to accept connections") {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(
            ready,
            Ok(true),
            "redis-server did not start on port {}",
            self.port
        );
        // Keep draining its output so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
    }

    /// Kills the server (SIGKILL) and waits for it to be gone.
    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
        }
    }

    /// A connection for the test's own commands.
    pub async fn conn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }
}

/// Appends an entry to a stream, as a producer would.
pub async fn xadd(
    conn: &mut redis::aio::MultiplexedConnection,
    key: &str,
    fields: &[(&str, &str)],
) -> String {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(key).arg("*");
    for (n, v) in fields {
        cmd.arg(*n).arg(*v);
    }
    cmd.query_async(conn).await.unwrap()
}

/// Records what a feed delivers, one line per call.
#[derive(Default)]
pub struct Recorder {
    lines: Mutex<Vec<String>>,
    pub events: Mutex<Vec<ItemEvent>>,
    changed: Notify,
}

impl Recorder {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn push(&self, s: String) {
        self.lines.lock().unwrap().push(s);
        self.changed.notify_waiters();
    }

    /// Waits until `n` lines were recorded, and takes them.
    pub async fn wait(&self, n: usize) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let notified = self.changed.notified();
            if self.lines.lock().unwrap().len() >= n {
                return std::mem::take(&mut *self.lines.lock().unwrap());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("only {:?} recorded", self.lines.lock().unwrap());
            }
        }
    }

    /// What was recorded so far (taken).
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.lines.lock().unwrap())
    }
}

fn show(ev: &ItemEvent) -> String {
    let mut f: Vec<String> = ev
        .fields()
        .map(|(n, v)| format!("{n}={}", v.unwrap_or("#")))
        .collect();
    f.sort();
    f.join(",")
}

impl ItemEventListener for Recorder {
    fn update(&self, item: &str, event: ItemEvent, is_snapshot: bool) {
        let kind = if is_snapshot { "snap" } else { "upd" };
        let line = format!("{kind} {item} {}", show(&event));
        self.events.lock().unwrap().push(event);
        self.push(line);
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
}
