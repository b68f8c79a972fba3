//! Floods of requests over one WebSocket: the server's memory stays flat
//! (requests are read only as fast as they are executed, answers only as
//! fast as the client reads them), every request is answered in order, and
//! a bystander's updates keep coming on time and without a gap.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const MIB: u64 = 1024;
/// Bytes of requests each flood sends.
const FLOOD_BYTES: usize = 60 * 1024 * 1024;
/// Most the server's resident memory may grow during a flood.
const MAX_GROWTH_KIB: u64 = 64 * MIB;

/// Samples the server's RSS until stopped; returns the peak.
fn watch_rss(pid: u32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut peak = 0;
        while !stop.load(Ordering::Relaxed) {
            peak = peak.max(rss_of(pid));
            std::thread::sleep(Duration::from_millis(20));
        }
        peak
    })
}

/// Waits until `count` reaches `target` (at most a minute), then stops the
/// memory watch and returns its peak.
async fn finish_flood(
    count: &AtomicU64,
    target: u64,
    stop: Arc<AtomicBool>,
    peak: std::thread::JoinHandle<u64>,
) -> u64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while count.load(Ordering::Relaxed) < target {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {target} requests done",
            count.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    peak.join()
        .unwrap_or_else(|_| panic!("the memory watch failed"))
}

fn assert_flat(base: u64, peak: u64, what: &str) {
    assert!(
        peak.saturating_sub(base) < MAX_GROWTH_KIB,
        "{} MiB of {what} grew the server from {} to {} MiB",
        FLOOD_BYTES / 1024 / 1024,
        base / MIB,
        peak / MIB
    );
}

/// One WebSocket message of control requests: unsubscriptions of
/// subscriptions that do not exist (each answered `REQERR,<id>,19`), padded
/// with a parameter the server ignores, about 40 KB in all.
fn control_batch(first: u64, count: u64) -> String {
    let pad = "x".repeat(200);
    let mut m = String::from("control");
    for i in first..first + count {
        m.push_str(&format!(
            "\r\nLS_reqId={i}&LS_op=delete&LS_subId={i}&LS_pad={pad}"
        ));
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_flood_is_answered_in_order_with_flat_memory() {
    let server = Server::start(&[]);
    let bystander = Bystander::start(&server, 20).await;
    let base = server.rss_kib();
    let stop = Arc::new(AtomicBool::new(false));
    let peak = watch_rss(server.pid(), stop.clone());

    let (ws, _) = ws_session(&server).await;
    let (mut tx, mut rx) = ws.split();
    const PER_BATCH: u64 = 160;
    let answered = Arc::new(AtomicU64::new(0));
    let counter = answered.clone();
    let reader = tokio::spawn(async move {
        // Every request is answered, in the order sent.
        let mut next = 1u64;
        while let Some(Ok(msg)) = rx.next().await {
            let Message::Text(t) = msg else { continue };
            for line in t.as_str().split("\r\n").filter(|l| l.starts_with("REQ")) {
                let expected = format!("REQERR,{next},19,");
                assert!(
                    line.starts_with(&expected),
                    "expected {expected}..., got {line}"
                );
                next += 1;
                counter.store(next - 1, Ordering::Relaxed);
            }
        }
    });
    let mut sent_bytes = 0;
    let mut sent = 0u64;
    while sent_bytes < FLOOD_BYTES {
        let batch = control_batch(sent + 1, PER_BATCH);
        sent_bytes += batch.len();
        sent += PER_BATCH;
        tx.send(Message::text(batch)).await.unwrap();
    }
    // Every answer arrives (the reader checks their order).
    let peak = finish_flood(&answered, sent, stop, peak).await;
    reader.abort();
    assert_flat(base, peak, "requests");
    bystander.finish(Duration::from_secs(2)).await;
}

/// Not a finding of today's code (it already stopped reading a socket it
/// could not write to), kept so that the new queues keep that property.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_client_that_never_reads_is_held_back_not_buffered() {
    let server = Server::start(&[]);
    let bystander = Bystander::start(&server, 20).await;
    let base = server.rss_kib();
    let (mut ws, _) = ws_session(&server).await;
    // Send without ever reading: once the server's small queues and the
    // sockets' buffers are full, sending blocks.
    let mut sent_bytes = 0;
    let mut sent = 0u64;
    let mut blocked = false;
    while sent_bytes < FLOOD_BYTES {
        let batch = control_batch(sent + 1, 160);
        sent_bytes += batch.len();
        sent += 160;
        match tokio::time::timeout(Duration::from_secs(2), ws.send(Message::text(batch))).await {
            Ok(r) => r.unwrap(),
            Err(_) => {
                blocked = true;
                break;
            }
        }
    }
    let held = server.rss_kib();
    assert!(
        blocked,
        "the server took all {} MiB without the client reading a byte",
        sent_bytes / 1024 / 1024
    );
    assert!(
        held.saturating_sub(base) < MAX_GROWTH_KIB,
        "the server grew from {} to {} MiB holding a non-reading client back",
        base / MIB,
        held / MIB
    );
    drop(ws);
    bystander.finish(Duration::from_secs(2)).await;
}

/// Messages of one sequence, unacknowledged, as fast as the client can
/// send them: each is processed in order (its `MSGDONE` says so) while the
/// server holds only a bounded number of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_message_flood_keeps_memory_flat() {
    let server = Server::start(&[]);
    let bystander = Bystander::start(&server, 20).await;
    let base = server.rss_kib();
    let stop = Arc::new(AtomicBool::new(false));
    let peak = watch_rss(server.pid(), stop.clone());
    let (ws, _) = ws_session(&server).await;
    let (mut tx, mut rx) = ws.split();
    let done = Arc::new(AtomicU64::new(0));
    let counter = done.clone();
    let reader = tokio::spawn(async move {
        let mut next = 1u64;
        while let Some(Ok(msg)) = rx.next().await {
            let Message::Text(t) = msg else { continue };
            for line in t.as_str().split("\r\n") {
                if line.starts_with("REQ") || line.starts_with("MSGFAIL") {
                    panic!("unexpected answer to an unacknowledged message: {line}");
                }
                if let Some(rest) = line.strip_prefix("MSGDONE,flood,") {
                    let prog = rest.split(',').next().unwrap_or("");
                    assert_eq!(prog, next.to_string(), "messages processed out of order");
                    next += 1;
                    counter.store(next - 1, Ordering::Relaxed);
                }
            }
        }
    });
    let text = "y".repeat(1000);
    let mut sent_bytes = 0;
    let mut i = 0u64;
    while sent_bytes < FLOOD_BYTES {
        let mut m = String::from("msg");
        for _ in 0..40 {
            i += 1;
            m.push_str(&format!(
                "\r\nLS_reqId={i}&LS_message=CHAT%7C{text}&LS_sequence=flood&LS_msg_prog={i}&LS_ack=false"
            ));
        }
        sent_bytes += m.len();
        tx.send(Message::text(m)).await.unwrap();
    }
    let peak = finish_flood(&done, i, stop, peak).await;
    reader.abort();
    assert_flat(base, peak, "unacknowledged messages");
    bystander.finish(Duration::from_secs(2)).await;
}
