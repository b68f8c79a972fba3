//! Real Redis and NATS servers for the tests, and a listener that records
//! what a feed hands the engine.
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
        let port = free_port();
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

/// A port the system just gave, freed for a server that cannot be told
/// to pick one and say which.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A `nats-server` with JetStream started by a test on a port of
/// 127.0.0.1, its store in a folder; killed when dropped.
pub struct NatsServer {
    pub port: u16,
    pub store: PathBuf,
    /// `--auth`: the token clients must present.
    token: Option<String>,
    child: Option<Child>,
}

impl NatsServer {
    pub async fn start(store: &Path) -> Self {
        Self::start_with_token(store, None).await
    }

    /// Starts a server that takes only clients presenting `token`.
    pub async fn start_with_token(store: &Path, token: Option<&str>) -> Self {
        let mut s = Self {
            port: free_port(),
            store: store.to_owned(),
            token: token.map(str::to_owned),
            child: None,
        };
        s.restart().await;
        s
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port and store, and waits until a client
    /// can use JetStream.
    pub async fn restart(&mut self) {
        let port = self.port;
        self.run_on(port).await;
    }

    /// Starts on another port with the same store (the feed cannot see
    /// it), so a test can change the stream while the feed is cut off;
    /// answers that port.
    pub async fn start_elsewhere(&mut self) -> u16 {
        let port = free_port();
        self.run_on(port).await;
        port
    }

    async fn run_on(&mut self, port: u16) {
        let mut cmd = Command::new("nats-server");
        cmd.args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(&self.store);
        if let Some(t) = &self.token {
            cmd.args(["--auth", t]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("nats-server is not installed: apt-get install nats-server");
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(js) = self.js_on(port).await {
                // Any answer of the JetStream API, even "no such stream",
                // says it serves (before, requests have no responders).
                use async_nats::jetstream::context::GetStreamErrorKind;
                match js.get_stream("PROBE").await {
                    Ok(_) => return,
                    Err(e) if matches!(e.kind(), GetStreamErrorKind::JetStream(_)) => return,
                    Err(_) => {}
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "nats-server did not start on port {port}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the server (SIGKILL) and waits for it to be gone.
    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
        }
    }

    async fn js_on(&self, port: u16) -> Result<async_nats::jetstream::Context, String> {
        let mut options = async_nats::ConnectOptions::new();
        if let Some(t) = &self.token {
            options = options.token(t.clone());
        }
        let client = options
            .connect(format!("nats://127.0.0.1:{port}"))
            .await
            .map_err(|e| e.to_string())?;
        Ok(async_nats::jetstream::new(client))
    }

    /// A JetStream context for the test's own requests.
    pub async fn js(&self) -> async_nats::jetstream::Context {
        self.js_on(self.port).await.expect("a connection")
    }

    /// A JetStream context on `port` (after [`Self::start_elsewhere`]).
    pub async fn js_at(&self, port: u16) -> async_nats::jetstream::Context {
        self.js_on(port).await.expect("a connection")
    }
}

/// Makes the stream `SHOAL` for `shoal.>` (as a producer's set-up would),
/// keeping at most `per_subject` messages per subject (0: no limit).
pub async fn make_stream(js: &async_nats::jetstream::Context, per_subject: i64) {
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "SHOAL".into(),
        subjects: vec!["shoal.>".into()],
        max_messages_per_subject: per_subject,
        ..Default::default()
    })
    .await
    .expect("stream made");
}

/// Publishes a JSON payload, as a producer would; answers its sequence.
pub async fn publish_raw(js: &async_nats::jetstream::Context, subject: &str, payload: &str) -> u64 {
    js.publish(subject.to_owned(), payload.to_owned().into())
        .await
        .expect("published")
        .await
        .expect("acknowledged")
        .sequence
}

/// Publishes `fields` to `subject` of a stream being made (by a feed,
/// now): until it stores the subject, a publish has no responders.
pub async fn publish_once_stored(
    js: &async_nats::jetstream::Context,
    subject: &str,
    fields: &[(&str, &str)],
) -> u64 {
    use async_nats::jetstream::context::PublishErrorKind;
    let payload = serde_json::Value::Object(
        fields
            .iter()
            .map(|(n, v)| ((*n).to_owned(), serde_json::Value::String((*v).to_owned())))
            .collect(),
    )
    .to_string();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let acked = match js.publish(subject.to_owned(), payload.clone().into()).await {
            Ok(ack) => ack.await,
            Err(e) => Err(e),
        };
        match acked {
            Ok(ack) => return ack.sequence,
            Err(e)
                if e.kind() == PublishErrorKind::StreamNotFound
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("publishing to {subject}: {e}"),
        }
    }
}

/// Publishes `fields` as a JSON object to `subject`.
pub async fn publish(
    js: &async_nats::jetstream::Context,
    subject: &str,
    fields: &[(&str, &str)],
) -> u64 {
    let map: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(n, v)| ((*n).to_owned(), serde_json::Value::String((*v).to_owned())))
        .collect();
    publish_raw(js, subject, &serde_json::Value::Object(map).to_string()).await
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
