//! What the hostile-client tests share: a `shoal serve` process of their own
//! (port 0 on loopback, its log kept), its memory as the kernel counts it, raw
//! TLCP clients over WebSocket and HTTP, and a bystander session that checks
//! its updates arrive on time and without a gap while a test misbehaves.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use futures_util::{SinkExt, StreamExt};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub mod remote;

pub const SUBPROTOCOL: &str = "TLCP-2.5.0.lightstreamer.com";

/// A `shoal serve` of the test's own, killed when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    log: Log,
}

/// The log lines of a `shoal` process, as they come.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    /// Keeps the lines of `stream` (read by a thread of its own).
    fn keep(&self, stream: impl std::io::Read + Send + 'static) {
        let sink = self.0.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
    }

    /// The lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Waits until a line contains `needle`, or panics after `within`.
    pub fn wait(&self, needle: &str, within: Duration) -> String {
        self.wait_for(within, |l| l.contains(needle))
            .unwrap_or_else(|| {
                panic!(
                    "no log line with {needle:?} within {within:?}; log:\n{}",
                    self.lines().join("\n")
                )
            })
    }

    /// Waits until a line passes `pred`; `None` after `within`.
    pub fn wait_for(&self, within: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let end = Instant::now() + within;
        loop {
            if let Some(l) = self.lines().into_iter().find(|l| pred(l)) {
                return Some(l);
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A `shoal` process that may not listen yet (its start waits for remote
/// adapters, say); killed when dropped.
pub struct Launch {
    child: Option<Child>,
    pub log: Log,
    /// The address of the `listening on` line, once it comes.
    listening: std::sync::mpsc::Receiver<String>,
}

impl Launch {
    /// Starts `shoal` with `base` then `args`.
    pub fn new(base: &[&str], args: &[&str]) -> Launch {
        // SHOAL_TEST_BIN runs the same tests against another build (for
        // example an older one, to see a test fail where a fix is missing).
        let bin = std::env::var("SHOAL_TEST_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_shoal").to_owned());
        let mut child = Command::new(bin)
            .args(base)
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start shoal");
        let log = Log::default();
        log.keep(child.stderr.take().unwrap());
        let stdout = child.stdout.take().unwrap();
        let (tx, listening) = std::sync::mpsc::channel();
        // What the server announces on standard output goes to the log too.
        let sink = log.0.clone();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line.clone());
                if let Some(a) = line.strip_prefix("listening on http://") {
                    if !sent {
                        let _ = tx.send(a.trim().to_owned());
                        sent = true;
                    }
                }
            }
        });
        Launch {
            child: Some(child),
            log,
            listening,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Whether the process is still running (not exited, not crashed).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Waits at most `within` for the server to announce its listener.
    pub fn try_listening(mut self, within: Duration) -> Result<Server, Launch> {
        match self.listening.recv_timeout(within) {
            Ok(a) => Ok(Server {
                child: self.child.take().unwrap(),
                addr: a.parse().unwrap(),
                log: self.log.clone(),
            }),
            Err(_) => Err(self),
        }
    }

    /// Waits for the listener; panics (with the log) after `within`.
    pub fn listening(self, within: Duration) -> Server {
        self.try_listening(within).unwrap_or_else(|l| {
            panic!(
                "shoal did not announce a listener within {within:?}; log:\n{}",
                l.log.lines().join("\n")
            )
        })
    }
}

impl Drop for Launch {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Server {
    /// Starts `shoal serve --listen 127.0.0.1:0` with `args` added.
    pub fn start(args: &[&str]) -> Server {
        Self::start_with(&["serve", "--listen", "127.0.0.1:0"], args)
    }

    /// Starts `shoal` with `base` then `args` (a `--config` run passes its own).
    pub fn start_with(base: &[&str], args: &[&str]) -> Server {
        Launch::new(base, args).listening(Duration::from_secs(30))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the server process now, in KiB.
    pub fn rss_kib(&self) -> u64 {
        rss_of(self.pid())
    }

    /// The server's log lines so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lines()
    }

    /// The server's log, to wait on.
    pub fn logs(&self) -> &Log {
        &self.log
    }

    /// Waits until a log line contains `needle`, or panics after `within`.
    pub fn wait_log(&self, needle: &str, within: Duration) -> String {
        self.log.wait(needle, within)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/lightstreamer", self.addr)
    }

    /// Whether the process is still running (not exited, not crashed).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn status_field(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Resident memory of process `pid` now, in KiB (0 once it is gone).
pub fn rss_of(pid: u32) -> u64 {
    status_field(pid, "VmRSS:")
}

/// A folder of the test's own holding a `lightstreamer_conf.xml` with one
/// listener on 127.0.0.1, port 0, and `extra` elements; removed on drop.
pub struct ConfDir {
    pub dir: std::path::PathBuf,
}

impl ConfDir {
    pub fn new(test: &str, extra: &str) -> ConfDir {
        let dir = std::env::temp_dir().join(format!("shoal-hostile-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let xml = format!(
            "<lightstreamer_conf>\n\
             <http_server name=\"test\"><port>0</port><listening_interface>127.0.0.1</listening_interface></http_server>\n\
             {extra}\n\
             </lightstreamer_conf>\n"
        );
        let conf = ConfDir { dir };
        std::fs::write(conf.file(), xml).unwrap();
        conf
    }

    pub fn file(&self) -> std::path::PathBuf {
        self.dir.join("lightstreamer_conf.xml")
    }

    /// `shoal serve --config` with this configuration.
    pub fn start(&self) -> Server {
        let file = self.file();
        Server::start_with(&["serve", "--config", file.to_str().unwrap()], &[])
    }
}

impl Drop for ConfDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A TLCP WebSocket, raw: the test writes requests and reads lines.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The handshake request of a TLCP WebSocket (the subprotocol offered)
/// with extra headers, such as `Origin`.
pub fn ws_request(
    server: &Server,
    headers: &[(&'static str, &str)],
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut req = server.ws_url().into_client_request().unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static(SUBPROTOCOL),
    );
    for (k, v) in headers {
        req.headers_mut()
            .insert(*k, HeaderValue::from_str(v).unwrap());
    }
    req
}

/// Opens a TLCP WebSocket (subprotocol offered, no `Origin`).
pub async fn ws_connect(server: &Server) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(ws_request(server, &[]))
        .await
        .expect("websocket handshake");
    ws
}

/// Opens a TLCP WebSocket whose receive buffer is as small as the kernel
/// allows, so that the server's writes block soon once the test stops
/// reading.
pub async fn ws_connect_tight(server: &Server) -> Ws {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let tcp = sock.connect(server.addr).await.unwrap();
    let (ws, _) =
        tokio_tungstenite::client_async(ws_request(server, &[]), MaybeTlsStream::Plain(tcp))
            .await
            .expect("websocket handshake");
    ws
}

/// Reads TLCP lines from a WebSocket until `pred` accepts one, and returns
/// it; panics on close or after `within`.
pub async fn ws_until(ws: &mut Ws, within: Duration, pred: impl Fn(&str) -> bool) -> String {
    let end = tokio::time::Instant::now() + within;
    loop {
        let msg = tokio::time::timeout_at(end, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no matching line within {within:?}"));
        match msg {
            Some(Ok(Message::Text(t))) => {
                for l in t.as_str().split("\r\n").filter(|l| !l.is_empty()) {
                    if pred(l) {
                        return l.to_owned();
                    }
                }
            }
            Some(Ok(_)) => {}
            other => panic!("websocket ended while waiting: {other:?}"),
        }
    }
}

/// The lines of the next text message of a WebSocket (one message may
/// carry several); panics on close or after `within`.
pub async fn ws_lines(ws: &mut Ws, within: Duration) -> Vec<String> {
    let end = tokio::time::Instant::now() + within;
    loop {
        let msg = tokio::time::timeout_at(end, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no message within {within:?}"));
        match msg {
            Some(Ok(Message::Text(t))) => {
                return t
                    .as_str()
                    .split("\r\n")
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
            Some(Ok(_)) => {}
            other => panic!("websocket ended while waiting: {other:?}"),
        }
    }
}

/// Creates a `DEMO` session on an open WebSocket: its id, or the `CONERR`
/// line that refused it.
pub async fn ws_create(ws: &mut Ws) -> Result<String, String> {
    ws_create_with(ws, "LS_adapter_set=DEMO").await
}

/// Creates a session with `params` (`LS_adapter_set=...&LS_user=...`) on
/// an open WebSocket: its id, or the `CONERR` line that refused it.
pub async fn ws_create_with(ws: &mut Ws, params: &str) -> Result<String, String> {
    ws.send(Message::text(format!(
        "create_session\r\n{params}&LS_cid=hostile&LS_send_sync=false"
    )))
    .await
    .unwrap();
    let conok = ws_until(ws, Duration::from_secs(10), |l| {
        l.starts_with("CONOK") || l.starts_with("CONERR")
    })
    .await;
    match conok.strip_prefix("CONOK,") {
        Some(rest) => Ok(rest.split(',').next().unwrap_or_default().to_owned()),
        None => Err(conok),
    }
}

/// Creates a `DEMO` session on a fresh WebSocket and returns it with its id.
pub async fn ws_session(server: &Server) -> (Ws, String) {
    ws_session_with(server, "LS_adapter_set=DEMO").await
}

/// Creates a session with `params` on a fresh WebSocket and returns it
/// with its id.
pub async fn ws_session_with(server: &Server, params: &str) -> (Ws, String) {
    let mut ws = ws_connect(server).await;
    match ws_create_with(&mut ws, params).await {
        Ok(id) => (ws, id),
        Err(refused) => panic!("session refused: {refused}"),
    }
}

/// Subscribes (`LS_op=add`, request and subscription id `sub_id`) with
/// `params` (`LS_group=...&LS_schema=...`): the `SUBOK` line, or the
/// `REQERR` that refused it.
pub async fn ws_subscribe(ws: &mut Ws, sub_id: u32, params: &str) -> Result<String, String> {
    ws.send(Message::text(format!(
        "control\r\nLS_reqId={sub_id}&LS_op=add&LS_subId={sub_id}&{params}"
    )))
    .await
    .unwrap();
    let refused = format!("REQERR,{sub_id},");
    let ok = format!("SUBOK,{sub_id},");
    let l = ws_until(ws, Duration::from_secs(10), |l| {
        l.starts_with(&refused) || l.starts_with(&ok)
    })
    .await;
    if l.starts_with(&ok) {
        Ok(l)
    } else {
        Err(l)
    }
}

/// An HTTP answer: status, headers (names in lower case) and body (its
/// chunks joined when it was chunked).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 exchange on a new connection, the path sent as written (no
/// normalisation of `..` or `%2e`), read until the server closes or 10 s
/// pass. With the answer comes how the read ended: `None` if it did not
/// within the 10 s (what came so far is in the answer).
pub async fn http_exchange(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (Reply, Option<std::io::Result<usize>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        server.addr,
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .ok();
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    let reply = Reply {
        status,
        headers,
        body,
    };
    (reply, read)
}

/// The data of a chunked body, a last partial chunk included.
fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(rest.get(..n).unwrap_or(rest));
        if rest.len() < n {
            break;
        }
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A `POST` of a TLCP request body: the status code and body of the answer
/// (whatever came within 10 s, for answers that do not end).
pub async fn http_post(server: &Server, path: &str, body: &str) -> (u16, String) {
    let (reply, _) = http_exchange(
        server,
        "POST",
        path,
        &[("Content-Type", "text/plain")],
        body,
    )
    .await;
    (reply.status, reply.body)
}

/// What a bystander saw.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    pub updates: u64,
    /// `seq` jumps (lost updates) and repeats.
    pub gaps: u64,
    pub repeats: u64,
    /// Longest time between two consecutive updates.
    pub longest_silence: Duration,
    pub ended: Option<String>,
}

/// A well-behaved client: a WebSocket session subscribed in RAW mode to the
/// counter `rate-<rate>`; it checks that `seq` goes up by one every time and
/// records the longest silence, until stopped.
pub struct Bystander {
    seen: Arc<Mutex<Seen>>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Bystander {
    pub async fn start(server: &Server, rate: u32) -> Bystander {
        let (mut ws, _) = ws_session(server).await;
        let sub = format!(
            "control\r\nLS_reqId=1&LS_op=add&LS_subId=1&LS_group=rate-{rate}&LS_schema=seq%20ts&LS_data_adapter=COUNTER&LS_mode=RAW"
        );
        ws.send(Message::text(sub)).await.unwrap();
        // The first update proves the subscription works.
        ws_until(&mut ws, Duration::from_secs(10), |l| {
            l.starts_with("U,1,1,")
        })
        .await;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let shared = seen.clone();
        let task = tokio::spawn(async move {
            let mut last_seq: Option<u64> = None;
            let mut last_at = Instant::now();
            loop {
                let msg = tokio::select! {
                    m = ws.next() => m,
                    _ = stopped.changed() => break,
                };
                let Some(Ok(Message::Text(t))) = msg else {
                    let mut s = shared.lock().unwrap();
                    s.ended = Some(format!("{msg:?}"));
                    break;
                };
                for line in t.as_str().split("\r\n") {
                    if line.starts_with("END") {
                        shared.lock().unwrap().ended = Some(line.to_owned());
                    }
                    let Some(values) = line.strip_prefix("U,1,1,") else {
                        continue;
                    };
                    let Some(seq) = values.split('|').next().and_then(|v| v.parse::<u64>().ok())
                    else {
                        continue;
                    };
                    let now = Instant::now();
                    let mut s = shared.lock().unwrap();
                    s.updates += 1;
                    s.longest_silence = s.longest_silence.max(now - last_at);
                    last_at = now;
                    match last_seq {
                        Some(p) if seq == p + 1 => {}
                        Some(p) if seq <= p => s.repeats += 1,
                        Some(_) => s.gaps += 1,
                        None => {}
                    }
                    last_seq = Some(seq);
                }
            }
        });
        Bystander { seen, stop, task }
    }

    pub fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }

    /// Stops and asserts a healthy stream: updates kept coming, no gap, no
    /// repeat, never silent for longer than `max_silence`.
    pub async fn finish(self, max_silence: Duration) -> Seen {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        let s = self.seen.lock().unwrap().clone();
        assert!(s.updates > 0, "the bystander received nothing: {s:?}");
        assert_eq!(s.gaps, 0, "the bystander lost updates: {s:?}");
        assert_eq!(s.repeats, 0, "the bystander got repeated updates: {s:?}");
        assert!(s.ended.is_none(), "the bystander's session ended: {s:?}");
        assert!(
            s.longest_silence <= max_silence,
            "the bystander was silent for {:?} (at most {max_silence:?} allowed)",
            s.longest_silence
        );
        s
    }
}

impl Server {
    /// Starts `cmd`, a `shoal serve` run set up by the caller (through a
    /// shell, with its own standard output or error). The log is kept when
    /// standard error is piped; the address comes from the `listening on`
    /// line when standard output is piped, else from the log.
    pub fn start_command(mut cmd: Command) -> Server {
        let mut child = cmd
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .spawn()
            .expect("cannot start shoal");
        let log = Log::default();
        if let Some(stderr) = child.stderr.take() {
            log.keep(stderr);
        }
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || {
                let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
                if let Some(a) = lines.find_map(|l| {
                    l.strip_prefix("listening on http://")
                        .map(|a| a.trim().to_owned())
                }) {
                    let _ = tx.send(a);
                }
                lines.for_each(drop);
            });
        } else {
            let log = log.clone();
            std::thread::spawn(move || {
                let end = Instant::now() + Duration::from_secs(30);
                while Instant::now() < end {
                    let found = log.lines().iter().find_map(|l| {
                        let rest = l.split_once("local=")?.1;
                        Some(rest.split_whitespace().next()?.to_owned())
                    });
                    if let Some(a) = found {
                        let _ = tx.send(a);
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
        }
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => Server {
                child,
                addr: a.parse().unwrap(),
                log,
            },
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "shoal did not announce a listener; log:\n{}",
                    log.lines().join("\n")
                );
            }
        }
    }

    /// Waits for the process to exit, or panics after `within`.
    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        wait_exit(&mut self.child, &self.log, within)
    }

    /// Sends `signal` (a name for `kill`, e.g. `TERM`) to the process.
    pub fn signal(&self, signal: &str) {
        send_signal(self.pid(), signal);
    }
}

impl Launch {
    /// Waits for the process to exit, or panics after `within`.
    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        wait_exit(self.child.as_mut().unwrap(), &self.log, within)
    }

    /// Sends `signal` (a name for `kill`, e.g. `TERM`) to the process.
    pub fn signal(&self, signal: &str) {
        send_signal(self.pid(), signal);
    }
}

fn wait_exit(child: &mut Child, log: &Log, within: Duration) -> std::process::ExitStatus {
    let end = Instant::now() + within;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status;
        }
        assert!(
            Instant::now() < end,
            "shoal still running after {within:?}; log:\n{}",
            log.lines().join("\n")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn send_signal(pid: u32, signal: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("cannot run kill")
        .success();
    assert!(ok, "kill -{signal} failed");
}
