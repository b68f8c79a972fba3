//! Connections that hold the server's resources without using them are
//! closed in bounded time (`<read_timeout_millis>`, `<write_timeout_millis>`),
//! while live ones are not; the process survives running out of file
//! descriptors, a log nobody reads and a closed standard output, and a
//! SIGTERM sent as soon as it listens drains it cleanly.
//!
//! Each server is run with short limits: reading 1.5 s, writing 1.5 s, and
//! keepalives and long polls capped at 1 s, so that a WebSocket with no
//! stream is closed after 2 s (the longest a live stream stays silent, plus
//! one second) while a live one is never closed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const READ: Duration = Duration::from_millis(1500);
const WRITE: Duration = Duration::from_millis(1500);
/// The limit of a WebSocket with no stream: the 1 s keepalive cap plus 1 s.
const SILENT_WS: Duration = Duration::from_millis(2000);
/// Timers fire late on a busy machine; closing later than this is a failure.
const LATE: Duration = Duration::from_millis(2500);

/// A configuration with the short limits, in a folder of the test's own.
fn config(test: &str) -> ConfDir {
    config_with(test, READ)
}

fn config_with(test: &str, read: Duration) -> ConfDir {
    ConfDir::new(
        test,
        &format!(
            "<read_timeout_millis>{}</read_timeout_millis>
  <write_timeout_millis>{}</write_timeout_millis>
  <default_keepalive_millis>1000</default_keepalive_millis>
  <max_keepalive_millis>1000</max_keepalive_millis>
  <max_idle_millis>1000</max_idle_millis>",
            read.as_millis(),
            WRITE.as_millis()
        ),
    )
}

/// A server with the short limits (its configuration is read at start, so
/// the folder can go at once).
fn server(test: &str) -> Server {
    config(test).start()
}

/// Reads until the server closes the connection; returns when, and what
/// arrived before.
async fn until_closed(s: &mut TcpStream, within: Duration) -> (Instant, Vec<u8>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let end = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(end, s.read(&mut buf)).await {
            Err(_) => panic!("still open after {within:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return (Instant::now(), got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[track_caller]
fn assert_closed_in(took: Duration, limit: Duration) {
    assert!(
        took + Duration::from_millis(100) >= limit,
        "closed after {took:?}, before the limit of {limit:?}"
    );
    assert!(
        took <= limit + LATE,
        "closed after {took:?}, limit {limit:?}"
    );
}

#[tokio::test]
async fn idle_connection_is_closed_after_the_read_timeout() {
    let server = server("idle");
    let start = Instant::now();
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let (at, got) = until_closed(&mut s, Duration::from_secs(10)).await;
    assert_closed_in(at - start, READ);
    assert!(got.is_empty(), "nothing is answered to nothing");
}

// A thread of its own for the bystander: the test blocks on the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_headers_are_closed_after_the_read_timeout() {
    let server = server("slowloris");
    let bystander = Bystander::start(&server, 20).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let start = Instant::now();
    s.write_all(b"GET /lightstreamer/healthcheck HTTP/1.1\r\n")
        .await
        .unwrap();
    // One header byte every 200 ms: always active, never done.
    let header = b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut sent = 0;
    let mut buf = [0u8; 256];
    let closed = loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                if s.write_all(&header[sent % header.len()..][..1]).await.is_err() {
                    break Instant::now();
                }
                sent += 1;
            }
            r = s.read(&mut buf) => {
                assert!(!matches!(r, Ok(n) if n > 0), "answered an incomplete request");
                break Instant::now();
            }
        }
        assert!(start.elapsed() < Duration::from_secs(10), "still open");
    };
    assert_closed_in(closed - start, READ);
    assert!(sent >= 5, "the client kept sending ({sent} bytes)");
    bystander.finish(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn partial_body_is_closed_without_an_answer() {
    let server = server("partial-body");
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let req = format!(
        "POST /lightstreamer/create_session.txt?LS_protocol=TLCP-2.5.0 HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nLS_adapter_set=DEMO&",
        server.addr
    );
    let start = Instant::now();
    s.write_all(req.as_bytes()).await.unwrap();
    let (at, got) = until_closed(&mut s, Duration::from_secs(10)).await;
    assert_closed_in(at - start, READ);
    assert!(
        got.is_empty(),
        "answered a request whose body never came: {}",
        String::from_utf8_lossy(&got)
    );
    server.wait_log("request body did not arrive", Duration::from_secs(5));
}

#[tokio::test]
async fn silent_websocket_is_closed() {
    let server = server("silent-ws");
    let start = Instant::now();
    let mut ws = ws_connect(&server).await;
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        match ws.next().await {
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => Instant::now(),
            Some(Ok(m)) => panic!("unexpected message {m:?}"),
        }
    })
    .await
    .expect("the silent WebSocket is still open");
    // Not before the read timeout; at the latest at the silence limit of
    // the connection layer (ws.rs may close it at the read timeout itself).
    let took = end - start;
    assert!(
        took + Duration::from_millis(100) >= READ,
        "closed after {took:?}"
    );
    assert!(took <= SILENT_WS + LATE, "closed after {took:?}");
    server.wait_log("no request and no stream", Duration::from_secs(5));
}

#[tokio::test]
async fn websocket_with_a_live_stream_is_not_idle() {
    let server = server("live-ws");
    let (mut ws, _) = ws_session(&server).await;
    // The client sends nothing for three times the limit; the stream's
    // probes (every second) keep coming and the socket stays open.
    let quiet = SILENT_WS * 3;
    let start = Instant::now();
    let mut probes = 0;
    while start.elapsed() < quiet {
        ws_until(&mut ws, Duration::from_secs(3), |l| l == "PROBE").await;
        probes += 1;
    }
    assert!(probes >= 4, "{probes} probes in {quiet:?}");
    // Still usable: a request is answered.
    ws.send(Message::text(
        "control\r\nLS_reqId=1&LS_op=add&LS_subId=1&LS_group=rate-10&LS_schema=seq&LS_data_adapter=COUNTER&LS_mode=RAW",
    ))
    .await
    .unwrap();
    ws_until(&mut ws, Duration::from_secs(5), |l| {
        l.starts_with("SUBOK,1")
    })
    .await;
}

// A thread of its own for the bystander: the test blocks on the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_that_never_reads_is_closed_by_the_write_timeout() {
    let server = server("never-reads");
    let bystander = Bystander::start(&server, 20).await;
    // A small receive window, so the server's writes block soon.
    let mut ws = ws_connect_tight(&server).await;
    let session = ws_create(&mut ws).await.unwrap();
    // Megabytes a second: the kernel's buffers (several MB on loopback)
    // fill within a second or two.
    ws.send(Message::text(
        "control\r\nLS_reqId=1&LS_op=add&LS_subId=1&LS_group=rate-100000&LS_schema=seq%20ts&LS_data_adapter=COUNTER&LS_mode=RAW",
    ))
    .await
    .unwrap();
    let start = Instant::now();
    // Never read: the server's writes stop progressing, and after the write
    // timeout it gives up on the client.
    server.wait_log(
        "read nothing for the write timeout",
        Duration::from_secs(20),
    );
    let took = start.elapsed();
    eprintln!("closed {took:?} after the subscription");
    assert!(
        took >= WRITE && took <= WRITE + Duration::from_secs(8),
        "closed after {took:?}"
    );
    // What was buffered arrives, then the end.
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    assert!(end.is_ok(), "the socket was not closed");
    // The session itself waits for a rebind: end it, and its counter.
    let (status, body) = http_post(
        &server,
        "/lightstreamer/control.txt?LS_protocol=TLCP-2.5.0",
        &format!("LS_reqId=1&LS_op=destroy&LS_session={session}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    bystander.finish(Duration::from_secs(1)).await;
}

/// Reads one HTTP response with a `Content-Length` body; returns the status.
async fn response(s: &mut TcpStream) -> u16 {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("no answer")
            .unwrap();
        assert!(n > 0, "closed before answering");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .expect("a content length");
        if body.len() >= len {
            return head.split(' ').nth(1).unwrap().parse().unwrap();
        }
    }
}

#[tokio::test]
async fn healthy_keep_alive_connections_are_reused_then_closed_when_idle() {
    let server = server("keep-alive");
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let get = format!(
        "GET /lightstreamer/healthcheck HTTP/1.1\r\nHost: {}\r\n\r\n",
        server.addr
    );
    for _ in 0..3 {
        s.write_all(get.as_bytes()).await.unwrap();
        assert_eq!(response(&mut s).await, 200);
        // Idle for less than the read timeout: still reusable.
        tokio::time::sleep(READ / 2).await;
    }
    // Not reused for longer than the read timeout: closed.
    let idle = Instant::now();
    let (at, got) = until_closed(&mut s, Duration::from_secs(10)).await;
    assert!(got.is_empty());
    assert!(at - idle <= READ + LATE, "closed after {:?}", at - idle);
}

// A thread of its own for the bystander: the test blocks on the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_file_descriptors_is_logged_once_and_recovers() {
    // 64 descriptors: the server runs out after a few dozen connections.
    // The read timeout is long, so only the test frees them.
    let conf = config_with("emfile", Duration::from_secs(60));
    let file = conf.file();
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "ulimit -n 64 && exec \"$0\" \"$@\"",
        env!("CARGO_BIN_EXE_shoal"),
        "serve",
        "--config",
        file.to_str().unwrap(),
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let server = Server::start_command(cmd);
    let bystander = Bystander::start(&server, 20).await;
    let mut idle = Vec::new();
    for _ in 0..100 {
        // The kernel completes connections the server has not accepted.
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    let first = Instant::now();
    server.wait_log("cannot accept connections", Duration::from_secs(10));
    // A new client waits in the backlog meanwhile.
    let addr = server.addr;
    let waiting = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let get = format!("GET /lightstreamer/healthcheck HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        s.write_all(get.as_bytes()).await.unwrap();
        response(&mut s).await
    });
    // Let the accept loop retry a while: still one line.
    let mut more = Vec::new();
    for _ in 0..10 {
        more.push(TcpStream::connect(server.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let lines = server
        .log()
        .iter()
        .filter(|l| l.contains("cannot accept connections"))
        .count();
    assert_eq!(
        lines,
        1,
        "one line per 10 s, not per attempt, within {:?}",
        first.elapsed()
    );
    // Descriptors come back: the waiting client is served.
    drop(idle);
    drop(more);
    let status = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the waiting client was never served")
        .unwrap();
    assert_eq!(status, 200);
    server.wait_log("accepting connections again", Duration::from_secs(5));
    let (status, body) = http_post(
        &server,
        "/lightstreamer/create_session.txt?LS_protocol=TLCP-2.5.0",
        "LS_adapter_set=DEMO&LS_cid=x&LS_content_length=100",
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("CONOK"), "{body}");
    bystander.finish(Duration::from_secs(1)).await;
}

/// Creates `n` sessions on WebSockets, one after the other; returns how
/// many got `CONOK` before the first that did not within 5 s.
async fn sessions(server: &Server, n: usize) -> usize {
    for ok in 0..n {
        let created = tokio::time::timeout(Duration::from_secs(5), ws_session(server)).await;
        if created.is_err() {
            return ok;
        }
    }
    n
}

#[tokio::test]
async fn sessions_are_created_when_nobody_reads_the_log() {
    // Standard error is a pipe nobody reads: it fills up at debug level.
    let (reader, writer) = std::io::pipe().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shoal"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--log-level", "trace"])
        .stdout(Stdio::piped())
        .stderr(Stdio::from(writer));
    let server = Server::start_command(cmd);
    assert_eq!(sessions(&server, 20).await, 20);
    // Then the reader goes away: writes fail at once.
    drop(reader);
    assert_eq!(sessions(&server, 20).await, 20);
    let mut server = server;
    assert!(server.is_running());
}

#[tokio::test]
async fn a_closed_standard_output_is_not_fatal() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shoal"));
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped());
    let mut server = Server::start_command(cmd);
    server.wait_log("cannot write to standard output", Duration::from_secs(5));
    assert_eq!(sessions(&server, 1).await, 1);
    assert!(server.is_running(), "log:\n{}", server.log().join("\n"));
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "log:\n{}", server.log().join("\n"));
}

#[tokio::test]
async fn sigterm_right_after_start_drains_cleanly() {
    for _ in 0..3 {
        let mut server = Server::start(&[]);
        server.signal("TERM");
        let status = server.wait_exit(Duration::from_secs(10));
        assert_eq!(
            status.code(),
            Some(0),
            "killed instead of draining ({status:?}); log:\n{}",
            server.log().join("\n")
        );
        server.wait_log("shutting down", Duration::from_secs(2));
    }
}
