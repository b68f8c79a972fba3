//! Node statistics (`Engine::stats`): the counters move as a session is
//! created, subscribes, gets updates and closes; the gauges split sessions
//! by transport; the histograms time deliveries, requests and lifetimes.

mod common;

use common::*;
use shoal_engine::{Answer, Connection, EngineConfig, PortType, StatsSnapshot, StreamKind};
use shoal_protocol::parse_ws;
use std::time::Duration;

/// Every bucket holds at least the ones below it, and the count at least
/// the last bucket.
fn assert_monotonic(h: &shoal_engine::HistogramSnapshot) {
    assert!(h.buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{h:?}");
    assert!(h.buckets.last().is_none_or(|b| b.1 <= h.count), "{h:?}");
}

#[tokio::test(start_paused = true)]
async fn a_session_life_moves_the_counters() {
    // Updates arriving within 200 ms of a write leave together: one chunk.
    let h = Harness::with_config(EngineConfig {
        max_delay: Duration::from_millis(200),
        ..EngineConfig::default()
    });
    let before = h.engine.stats();
    assert_eq!((before.sessions, before.sessions_created), (0, 0));

    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "RAW", "item1", "a", "")).await;
    let s = h.engine.stats();
    assert_eq!(s.sessions, 1);
    assert_eq!(s.sessions_created, 1);
    assert_eq!(s.sessions_on(StreamKind::WsStreaming), 1);
    assert_eq!(s.subscriptions, 1);
    assert_eq!(s.items, 1);
    assert!(s.bytes_written > 0, "the head and SUBOK were written");

    // Two updates in one chunk: counted twice, one latency sample, and
    // the chunk's bytes exactly.
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.data.update("item1", &[("a", "1")], false);
    assert_eq!(c.chunk().await.as_deref(), Some("U,1,1,1\r\n"));
    h.data.update("item1", &[("a", "2")], false);
    h.data.update("item1", &[("a", "3")], false);
    let before = h.engine.stats();
    let packed = c.chunk().await.unwrap_or_default();
    assert_eq!(packed, "U,1,1,2\r\nU,1,1,3\r\n");
    let after = h.engine.stats();
    assert_eq!(after.updates_delivered - before.updates_delivered, 2);
    assert_eq!(
        after.bytes_written - before.bytes_written,
        packed.len() as u64
    );
    assert_eq!(
        after.delivery_latency.count - before.delivery_latency.count,
        1
    );
    assert_eq!(after.updates_delivered, 3);
    // The held updates waited for the delay: about 200 ms of paused time.
    let waited = after.delivery_latency.sum - before.delivery_latency.sum;
    assert!((0.15..=0.25).contains(&waited), "{waited}");
    assert_monotonic(&after.delivery_latency);

    h.ok(&c.session, "LS_op=destroy").await;
    c.read_to_end().await;
    let s = h.engine.stats();
    assert_eq!(s.sessions, 0);
    assert_eq!(s.sessions_closed, 1);
    assert_eq!(s.subscriptions, 0);
    assert_eq!(s.session_lifetime.count, 1);
    assert!(s.session_lifetime.sum >= 0.3, "{:?}", s.session_lifetime);
}

#[tokio::test(start_paused = true)]
async fn sessions_are_split_by_transport() {
    let h = Harness::new();
    let _ws = h.open().await;
    let _ws2 = h.open().await;
    let _http = h.open_with("", &http()).await;
    let polling = h
        .open_with(
            "LS_polling=true&LS_polling_millis=0&LS_idle_millis=0",
            &http(),
        )
        .await;
    let count = |s: &StatsSnapshot| StreamKind::ALL.map(|k| s.sessions_on(k));
    let s = h.engine.stats();
    assert_eq!(s.sessions, 4);
    // ws-streaming, http-streaming, ws-polling, http-polling.
    assert_eq!(count(&s), [2, 1, 0, 1]);
    assert_eq!(s.sessions_unbound, 0);
    // The poll is over and its stream dropped: the session waits unbound.
    drop(polling);
    let s = h.engine.stats();
    assert_eq!(count(&s), [2, 1, 0, 0]);
    assert_eq!(s.sessions_unbound, 1);
    assert_eq!(StreamKind::WsPolling.label(), "ws-polling");
    assert_eq!(StreamKind::HttpStreaming.name(), "HTTP-STREAMING");
}

#[tokio::test]
async fn requests_refusals_messages_and_connections_are_counted() {
    let h = Harness::new();
    let guard = h.engine.connection_opened();
    let mut conn = Connection::new("test", PortType::GeneralPurpose, true, ws());
    let batch = parse_ws(&format!("create_session\r\nLS_adapter_set={SET}"))
        .unwrap_or_else(|e| panic!("{e}"));
    let Answer::Stream(stream) = h.engine.handle(&mut conn, batch).await else {
        panic!("create_session refused");
    };
    let mut c = Client::new(stream);
    c.chunk().await;
    let run = |text: &str| parse_ws(text).unwrap_or_else(|e| panic!("{e}"));
    // One control request refused (no such subscription), one accepted.
    let out = match h
        .engine
        .handle(
            &mut conn,
            run("control\r\nLS_reqId=1&LS_op=delete&LS_subId=9\r\nLS_reqId=2&LS_op=add&LS_subId=1&LS_group=a&LS_schema=f&LS_mode=RAW"),
        )
        .await
    {
        Answer::Lines(l) => l,
        Answer::Stream(_) => panic!("a stream"),
        Answer::Cut => panic!("cut"),
    };
    assert!(out.starts_with("REQERR,1,"), "{out}");
    h.engine
        .handle(&mut conn, run("msg\r\nLS_reqId=3&LS_message=hello"))
        .await;
    let s = h.engine.stats();
    assert_eq!(s.requests_handled, 4, "create, 2 controls, 1 msg");
    assert_eq!(s.requests_refused, 1);
    assert_eq!(s.messages_received, 1);
    // Timed: the create and both controls.
    assert_eq!(s.request_duration.count, 3);
    assert_eq!((s.connections_accepted, s.connections_open), (1, 1));
    drop(guard);
    let s = h.engine.stats();
    assert_eq!((s.connections_accepted, s.connections_open), (1, 0));
    // Data adapters DEFAULT and OTHER, both ready; the process is read.
    let names: Vec<_> = s.adapters.iter().map(|a| a.data_adapter.as_str()).collect();
    assert_eq!(names, ["DEFAULT", "OTHER"]);
    assert!(s.adapters.iter().all(|a| a.unready.is_none()));
    assert!(s.process.is_some_and(|p| p.rss > 0));
}
