//! `/metrics`, `/livez` and `/readyz` on a real listener (127.0.0.1:0) with
//! the demo adapters: a session's life as Prometheus sees it, who may
//! scrape, and what the probes answer while the node drains.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use shoal_engine::{Engine, EngineConfig};
use shoal_transport::console::{Console, ConsoleAccess, ConsoleUser};
use shoal_transport::{serve, Handshakes, ListenerConfig};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

/// How long a step may take before the test fails instead of hanging.
const LIMIT: Duration = Duration::from_secs(10);

/// A listener serving the monitor console (where `/metrics` is served),
/// with these `<dashboard><user>`s.
fn with_console(conf: ListenerConfig, users: &[(&str, &str)]) -> ListenerConfig {
    let access = ConsoleAccess {
        path: "/dashboard".into(),
        public: false,
        users: users
            .iter()
            .map(|(id, password)| ConsoleUser {
                id: (*id).into(),
                password: (*password).into(),
            })
            .collect(),
    };
    ListenerConfig {
        console: Some(Arc::new(Console::new(access, "token".into()))),
        ..conf
    }
}

async fn start(conf: ListenerConfig) -> (Arc<Engine>, SocketAddr) {
    let engine = Engine::new(EngineConfig::default(), vec![shoal_demo::adapter_set()]);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, Handshakes::default(), engine.clone(), conf));
    (engine, addr)
}

/// One HTTP/1.1 request on its own connection: the status and the body
/// (the answers here have a content length, or end with the connection).
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    timeout(LIMIT, s.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

async fn get(addr: SocketAddr, path: &str, headers: &str) -> (u16, String) {
    request(addr, "GET", path, headers, "").await
}

/// The samples of an exposition, `name{labels}` -> value, checking that
/// every family has its `# HELP` and `# TYPE`.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    let mut helped = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped.push(rest.split(' ').next().unwrap().to_owned());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (key, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let name = key.split('{').next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|f| helped.iter().any(|h| h == f))
            .unwrap_or(name);
        assert!(helped.iter().any(|h| h == family), "no # HELP for {name}");
        samples.insert(key.to_owned(), value);
    }
    samples
}

fn value(m: &HashMap<String, f64>, key: &str) -> f64 {
    *m.get(key).unwrap_or_else(|| panic!("no sample {key}"))
}

/// The `le` buckets of a histogram, in order of their bounds.
fn buckets(m: &HashMap<String, f64>, name: &str) -> Vec<(f64, f64)> {
    let prefix = format!("{name}_bucket{{le=\"");
    let mut out: Vec<(f64, f64)> = m
        .iter()
        .filter_map(|(k, v)| {
            let le = k.strip_prefix(&prefix)?.strip_suffix("\"}")?;
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((bound, *v))
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// Reads the stream into `seen` until `done` holds.
async fn read_until(stream: &mut TcpStream, seen: &mut String, done: impl Fn(&str) -> bool) {
    let mut buf = vec![0u8; 16 * 1024];
    while !done(seen) {
        let n = timeout(LIMIT, stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "the stream ended: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

async fn scrape(addr: SocketAddr) -> HashMap<String, f64> {
    let (status, body) = get(addr, "/metrics", "").await;
    assert_eq!(status, 200, "{body}");
    parse(&body)
}

#[tokio::test]
async fn a_session_shows_in_the_metrics() {
    let (_engine, addr) = start(with_console(ListenerConfig::default(), &[])).await;
    // An HTTP streaming session, read as raw bytes.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let body = "LS_adapter_set=DEMO&LS_cid=test&LS_content_length=50000000";
    let req = format!(
        "POST /lightstreamer/create_session.txt?LS_protocol=TLCP-2.5.0 HTTP/1.1\r\nHost: test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut seen = String::new();
    read_until(&mut stream, &mut seen, |s| s.contains("CONOK,")).await;
    let session = seen
        .split("CONOK,")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap()
        .to_owned();

    // A counter item ticking 100 times a second.
    let control = format!(
        "LS_session={session}&LS_reqId=1&LS_op=add&LS_subId=1&LS_group=rate-100&LS_schema=seq%20ts&LS_mode=MERGE&LS_data_adapter=COUNTER&LS_snapshot=false"
    );
    let (status, answer) = request(
        addr,
        "POST",
        "/lightstreamer/control.txt?LS_protocol=TLCP-2.5.0",
        "",
        &control,
    )
    .await;
    assert_eq!(status, 200);
    assert!(answer.contains("REQOK,1"), "{answer}");
    const N: usize = 20;
    read_until(&mut stream, &mut seen, |s| s.matches("U,1,1,").count() >= N).await;

    let m = scrape(addr).await;
    assert_eq!(value(&m, "shoal_sessions"), 1.0);
    assert_eq!(
        value(
            &m,
            "shoal_sessions_by_transport{transport=\"http-streaming\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &m,
            "shoal_sessions_by_transport{transport=\"ws-streaming\"}"
        ),
        0.0
    );
    assert_eq!(value(&m, "shoal_sessions_created_total"), 1.0);
    assert_eq!(value(&m, "shoal_subscriptions"), 1.0);
    assert!(value(&m, "shoal_updates_delivered_total") >= N as f64);
    assert!(value(&m, "shoal_written_bytes_total") >= seen.len() as f64 / 2.0);
    // The stream, the control request and this scrape are open now.
    assert!(value(&m, "shoal_connections_open") >= 1.0);
    let latency = buckets(&m, "shoal_delivery_latency_seconds");
    let count = value(&m, "shoal_delivery_latency_seconds_count");
    assert!(count > 0.0);
    assert!(latency.windows(2).all(|w| w[0].1 <= w[1].1), "{latency:?}");
    assert_eq!(
        latency.last().map(|b| b.1),
        Some(count),
        "+Inf is the count"
    );
    assert_eq!(
        value(
            &m,
            "shoal_data_adapter_ready{adapter_set=\"DEMO\",data_adapter=\"COUNTER\"}"
        ),
        1.0
    );
    assert!(value(&m, "process_resident_memory_bytes") > 0.0);
    assert!(value(&m, "process_open_fds") > 0.0);
    assert!(value(&m, "shoal_build_info{version=\"0.1.0\"}") == 1.0);

    // The client leaves: the session closes and its lifetime is observed.
    let destroy = format!("LS_session={session}&LS_reqId=2&LS_op=destroy");
    let (status, _) = request(
        addr,
        "POST",
        "/lightstreamer/control.txt?LS_protocol=TLCP-2.5.0",
        "",
        &destroy,
    )
    .await;
    assert_eq!(status, 200);
    read_until(&mut stream, &mut seen, |s| s.contains("END,")).await;
    let m = scrape(addr).await;
    assert_eq!(value(&m, "shoal_sessions"), 0.0);
    assert_eq!(value(&m, "shoal_sessions_closed_total"), 1.0);
    assert_eq!(value(&m, "shoal_session_lifetime_seconds_count"), 1.0);
    assert_eq!(value(&m, "shoal_subscriptions"), 0.0);
}

#[tokio::test]
async fn metrics_follow_the_consoles_access() {
    // Behind a local proxy that forwards the client's address, no users:
    // only local clients.
    let conf = ListenerConfig {
        trusted_forwards: 1,
        ..ListenerConfig::default()
    };
    let (_e, addr) = start(with_console(conf.clone(), &[])).await;
    let (status, body) = get(addr, "/metrics", "X-Forwarded-For: 192.0.2.7\r\n").await;
    assert_eq!(status, 403);
    assert!(body.contains("<dashboard><user>"), "{body}");
    let (status, body) = get(addr, "/metrics", "X-Forwarded-For: 127.0.0.1\r\n").await;
    assert_eq!(status, 200);
    assert!(body.contains("shoal_sessions "), "{body}");

    // With users, a remote client scrapes with HTTP Basic.
    let (_e, addr) = start(with_console(conf, &[("prometheus", "s3cret")])).await;
    let remote = "X-Forwarded-For: 192.0.2.7\r\n";
    assert_eq!(get(addr, "/metrics", remote).await.0, 401);
    let wrong = format!(
        "{remote}Authorization: Basic {}\r\n",
        basic("prometheus:nope")
    );
    assert_eq!(get(addr, "/metrics", &wrong).await.0, 401);
    let right = format!(
        "{remote}Authorization: Basic {}\r\n",
        basic("prometheus:s3cret")
    );
    let (status, body) = get(addr, "/metrics", &right).await;
    assert_eq!(status, 200);
    assert!(body.contains("process_resident_memory_bytes"), "{body}");

    // Not served where the console is not.
    let (_e, addr) = start(ListenerConfig::default()).await;
    assert_eq!(get(addr, "/metrics", "").await.0, 404);
}

fn basic(credentials: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(credentials)
}

#[tokio::test]
async fn probes_while_draining() {
    let (engine, addr) = start(ListenerConfig::default()).await;
    assert_eq!(get(addr, "/livez", "").await, (200, "OK".to_owned()));
    assert_eq!(get(addr, "/readyz", "").await, (200, "OK".to_owned()));
    engine.set_accepting(false);
    assert_eq!(get(addr, "/livez", "").await, (200, "OK".to_owned()));
    assert_eq!(get(addr, "/readyz", "").await, (503, "DRAINING".to_owned()));

    // Only where the health check answers.
    let (_e, addr) = start(ListenerConfig {
        healthcheck: false,
        ..ListenerConfig::default()
    })
    .await;
    assert_eq!(get(addr, "/livez", "").await.0, 404);
    assert_eq!(get(addr, "/readyz", "").await.0, 404);
}
