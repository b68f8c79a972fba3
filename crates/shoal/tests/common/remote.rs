//! Remote adapters against the binary: folders of `adapters.xml` with proxy
//! adapters on ports the system picks, the ports read from the server's
//! log, and scripted remotes that speak ARI lines over TCP as the SDKs do
//! (ARI 1.8.3, the version of the Node and Python SDKs).

use super::{ConfDir, Launch, Log};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// Longest wait for a line from the proxy.
pub const WAIT: Duration = Duration::from_secs(10);

/// The metadata provider that runs in the server: any item, any mode.
pub const LITERAL_METADATA: &str =
    "<adapter_class>com.lightstreamer.adapters.metadata.LiteralBasedProvider</adapter_class>";

/// The inside of a proxy provider element: its class (robust or not) and
/// `params`, with `request_reply_port` 0 unless `params` name one.
pub fn proxy(robust: bool, params: &[(&str, &str)]) -> String {
    let class = if robust {
        "ROBUST_PROXY_FOR_REMOTE_ADAPTER"
    } else {
        "PROXY_FOR_REMOTE_ADAPTER"
    };
    let mut xml = format!("<adapter_class>{class}</adapter_class>");
    if !params.iter().any(|(n, _)| *n == "request_reply_port") {
        xml.push_str("<param name=\"request_reply_port\">0</param>");
    }
    for (name, value) in params {
        xml.push_str(&format!("<param name=\"{name}\">{value}</param>"));
    }
    xml
}

/// An `adapters.xml`: set `id`, its metadata provider and its data
/// providers (name, inside of the element).
pub fn adapters_xml(id: &str, metadata: &str, data: &[(&str, &str)]) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\"?>\n<adapters_conf id=\"{id}\">\n<metadata_provider>{metadata}</metadata_provider>\n"
    );
    for (name, inside) in data {
        xml.push_str(&format!(
            "<data_provider name=\"{name}\">{inside}</data_provider>\n"
        ));
    }
    xml.push_str("</adapters_conf>\n");
    xml
}

impl ConfDir {
    /// Adds an adapter set: sub-folder `folder` with `xml` as its
    /// `adapters.xml` (the folder's `lightstreamer_conf.xml` is a plain
    /// file, which the adapters folder skips).
    pub fn add_adapter_set(&self, folder: &str, xml: &str) {
        let dir = self.dir.join(folder);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("adapters.xml"), xml).unwrap();
    }

    /// `shoal serve --listen 127.0.0.1:0 --adapters-dir` this folder: the
    /// process, which may wait for its remotes before it listens.
    pub fn launch_sets(&self) -> Launch {
        Launch::new(
            &["serve", "--listen", "127.0.0.1:0"],
            &["--adapters-dir", self.dir.to_str().unwrap()],
        )
    }
}

/// How the proxy names an adapter in its log: `adapter set S, data
/// adapter D`, or `adapter set S, metadata adapter` when `data` is `None`.
pub fn adapter_name(set: &str, data: Option<&str>) -> String {
    match data {
        Some(d) => format!("adapter set {set}, data adapter {d}"),
        None => format!("adapter set {set}, metadata adapter"),
    }
}

impl Log {
    /// The `request_reply_port` of an adapter (see [`adapter_name`]), from
    /// the `waiting for remote adapter on tcp://ADDR (NAME, request_reply_port)`
    /// line, as a loopback address.
    pub fn ari_port(&self, set: &str, data: Option<&str>) -> SocketAddr {
        let tail = format!("({}, request_reply_port)", adapter_name(set, data));
        let line = self.wait(&tail, Duration::from_secs(30));
        let port = line
            .split_once("waiting for remote adapter on tcp://")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .and_then(|a| a.rsplit_once(':'))
            .and_then(|(_, p)| p.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// How many lines contain every one of `needles`.
    pub fn count(&self, needles: &[&str]) -> usize {
        self.lines()
            .iter()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .count()
    }

    /// Waits until `n` lines contain every one of `needles`; panics (with
    /// the log) after `within`.
    pub fn wait_count(&self, needles: &[&str], n: usize, within: Duration) {
        let end = std::time::Instant::now() + within;
        while self.count(needles) < n {
            assert!(
                std::time::Instant::now() < end,
                "fewer than {n} log lines with {needles:?} within {within:?}; log:\n{}",
                self.lines().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the `n`th remote of an adapter (see [`adapter_name`])
    /// is ready: initialised, and known to its proxy.
    pub fn wait_ready(&self, set: &str, data: Option<&str>, n: usize) {
        let name = adapter_name(set, data);
        self.wait_count(&["remote adapter ready", &name], n, Duration::from_secs(10));
    }
}

/// A remote adapter driven line by line by the test.
pub struct Remote {
    read: BufReader<OwnedReadHalf>,
    pub write: OwnedWriteHalf,
}

impl Remote {
    pub async fn connect(addr: SocketAddr) -> Remote {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let _ = tcp.set_nodelay(true);
        let (r, w) = tcp.into_split();
        Remote {
            read: BufReader::new(r),
            write: w,
        }
    }

    /// Connects, sends a `RAC` that enables `CLOSE` (with credentials when
    /// given) and answers the init request (`DPI` or `MPI`) with 1.8.3.
    pub async fn ready(addr: SocketAddr, init: &str, credentials: Option<(&str, &str)>) -> Remote {
        let mut r = Remote::connect(addr).await;
        r.rac(credentials).await;
        r.init(init).await;
        r
    }

    /// Sends a `RAC` that enables `CLOSE`, with credentials when given.
    pub async fn rac(&mut self, credentials: Option<(&str, &str)>) {
        let creds = credentials
            .map(|(u, p)| format!("|S|user|S|{u}|S|password|S|{p}"))
            .unwrap_or_default();
        self.send(&format!("1|RAC{creds}|S|enableClosePacket|S|true"))
            .await;
    }

    pub async fn send(&mut self, line: &str) {
        self.write
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
    }

    /// Writes `bytes` as they are; the proxy may close the connection
    /// meanwhile, hence the result.
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

    /// The next line, whose method must be `method`; its fields.
    pub async fn expect(&mut self, method: &str) -> Vec<String> {
        let line = self.line().await.expect("a line, not the end");
        let fields: Vec<String> = line.split('|').map(str::to_owned).collect();
        assert_eq!(fields.get(1).map(String::as_str), Some(method), "{line}");
        fields
    }

    /// Answers the init request (`DPI` or `MPI`) with ARI 1.8.3.
    pub async fn init(&mut self, method: &str) {
        let init = self.expect(method).await;
        self.send(&format!("{}|{method}|S|ARI.version|S|1.8.3", init[0]))
            .await;
    }

    /// Takes the next `SUB`, answers it, and returns its id and item
    /// (names of plain letters and digits, which 1.8.3 writes as they are).
    pub async fn answer_sub(&mut self) -> (String, String) {
        let sub = self.expect("SUB").await;
        self.send(&format!("{}|SUB|V", sub[0])).await;
        (sub[0].clone(), sub[3].clone())
    }

    /// An update (`UD3`, not a snapshot) of `item` for subscription `sub`.
    pub async fn update(&mut self, item: &str, sub: &str, fields: &[(&str, &str)]) {
        self.send(&update_line(item, sub, fields)).await;
    }

    /// Reads until the proxy closes the connection; what it sent meanwhile.
    pub async fn closed(&mut self) -> Vec<String> {
        let mut seen = Vec::new();
        while let Some(l) = self.line().await {
            seen.push(l);
        }
        seen
    }
}

/// A `UD3` line (not a snapshot) of `item` for subscription `sub`, values
/// of plain letters and digits; without its line end.
pub fn update_line(item: &str, sub: &str, fields: &[(&str, &str)]) -> String {
    let mut l = format!("0|UD3|S|{item}|S|{sub}|B|0");
    for (name, value) in fields {
        l.push_str(&format!("|S|{name}|S|{value}"));
    }
    l
}

/// Open file descriptors of process `pid` (0 once it is gone).
pub fn fds_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}
