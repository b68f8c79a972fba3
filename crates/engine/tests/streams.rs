//! How streams behave on the wire: long polling, keepalives, SYNC and the
//! content length of HTTP streams.

mod common;

use common::*;
use shoal_engine::EngineConfig;
use std::time::{Duration, Instant};

/// A polling session whose first poll is over; returns its id.
async fn polling_session(h: &Harness) -> String {
    let req = create("LS_polling=true&LS_polling_millis=1000&LS_idle_millis=0");
    let Ok(stream) = h.engine.create_session(&req, &http()).await else {
        panic!("refused")
    };
    let mut c = Client::new(stream);
    let lines = c.read_to_end().await;
    assert_eq!(lines.last().map(String::as_str), Some("LOOP,1000"));
    split(&lines[0]).1[0].clone()
}

fn poll(h: &Harness, sid: &str, idle_ms: u64) -> Client {
    h.rebind(
        sid,
        &format!("LS_polling=true&LS_polling_millis=1000&LS_idle_millis={idle_ms}"),
        &http(),
    )
}

#[tokio::test]
async fn polling_bind_with_data_ready_returns_at_once() {
    let h = Harness::new();
    let sid = polling_session(&h).await;
    h.ok(&sid, &add(1, "MERGE", "item1", "a", "")).await;
    let mut p = poll(&h, &sid, 20_000);
    assert!(p.stream.is_polling());
    let t = Instant::now();
    let lines = p.read_to_end().await;
    assert!(t.elapsed() < Duration::from_secs(1));
    assert_eq!(
        lines,
        vec![
            format!("CONOK,{sid},50000,20000,*"),
            "SERVNAME,Shoal".into(),
            "CLIENTIP,10.0.0.1".into(),
            "CONS,unlimited".into(),
            "SUBOK,1,1,1".into(),
            "CONF,1,unlimited,filtered".into(),
            "LOOP,1000".into(),
        ]
    );
    assert_eq!(p.chunks.len(), 1, "one response body");
    assert_eq!(h.progressive(&sid), 2);
}

#[tokio::test]
async fn polling_bind_waits_for_data() {
    let h = Harness::new();
    let sid = polling_session(&h).await;
    h.ok(&sid, &add(1, "MERGE", "item1", "a", "")).await;
    poll(&h, &sid, 0).read_to_end().await;

    let mut p = poll(&h, &sid, 5_000);
    let t = Instant::now();
    let (lines, ()) = tokio::join!(p.read_to_end(), async {
        tokio::time::sleep(Duration::from_millis(30)).await;
        h.data.update("item1", &[("a", "late")], false);
    });
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(25), "{waited:?}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    assert_eq!(&lines[4..], &["U,1,1,late", "LOOP,1000"]);
}

/// Real time, with a 100 ms idle time.
#[tokio::test]
async fn polling_bind_without_data_returns_loop_after_idle() {
    let h = Harness::new();
    let sid = polling_session(&h).await;
    let mut p = poll(&h, &sid, 100);
    let t = Instant::now();
    let lines = p.read_to_end().await;
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(50), "{waited:?}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    assert_eq!(
        lines,
        vec![
            format!("CONOK,{sid},50000,100,*"),
            "SERVNAME,Shoal".into(),
            "CLIENTIP,10.0.0.1".into(),
            "CONS,unlimited".into(),
            "LOOP,1000".into(),
        ]
    );
}

/// The same with tokio's paused clock: the poll should return after 2 s of
/// paused time and no real waiting.
#[tokio::test(start_paused = true)]

async fn polling_idle_under_paused_time() {
    let h = Harness::new();
    let sid = polling_session(&h).await;
    let mut p = poll(&h, &sid, 2_000);
    let real = Instant::now();
    let t = tokio::time::Instant::now();
    let lines = p.read_to_end().await;
    assert_eq!(lines.last().map(String::as_str), Some("LOOP,1000"));
    assert!(tokio::time::Instant::now() - t >= Duration::from_secs(2));
    assert!(
        real.elapsed() < Duration::from_millis(500),
        "waited {:?} of real time",
        real.elapsed()
    );
}

#[tokio::test]
async fn polling_idle_is_capped_by_max_idle() {
    let h = Harness::with_config(EngineConfig {
        max_idle: Duration::from_millis(80),
        ..EngineConfig::default()
    });
    let sid = polling_session(&h).await;
    let mut p = poll(&h, &sid, 60_000);
    let lines = p.read_to_end().await;
    assert_eq!(lines[0], format!("CONOK,{sid},50000,80,*"));
    assert_eq!(lines.last().map(String::as_str), Some("LOOP,1000"));
}

/// Real time: a 100 ms keepalive.
#[tokio::test]
async fn streaming_keepalive_sends_probe() {
    let h = Harness::with_config(fast_config());
    let mut c = h
        .open_with("LS_keepalive_millis=100&LS_send_sync=false", &ws())
        .await;
    assert_eq!(c.head[0], format!("CONOK,{},50000,100,*", c.session));
    let t = Instant::now();
    assert_eq!(c.next_lines(1).await, vec!["PROBE"]);
    assert!(
        t.elapsed() >= Duration::from_millis(50),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(c.next_lines(1).await, vec!["PROBE"]);
    // Data goes out at once, and the keepalive starts over from it.
    h.ok(&c.session, &add(1, "MERGE", "item1", "a", "")).await;
    assert_eq!(
        c.next_lines(2).await,
        vec!["SUBOK,1,1,1", "CONF,1,unlimited,filtered"]
    );
    c.quiet(Duration::from_millis(30)).await;
    assert_eq!(c.next_lines(1).await, vec!["PROBE"]);
    assert_eq!(h.progressive(&c.session), 2, "PROBE is not counted");
}

/// The same with tokio's paused clock and the default 5 s keepalive.
#[tokio::test(start_paused = true)]

async fn streaming_keepalive_under_paused_time() {
    let h = Harness::new();
    let mut c = h.open_with("LS_send_sync=false", &ws()).await;
    let real = Instant::now();
    let t = tokio::time::Instant::now();
    assert_eq!(c.next_lines(1).await, vec!["PROBE"]);
    assert!(tokio::time::Instant::now() - t >= Duration::from_secs(5));
    assert!(
        real.elapsed() < Duration::from_millis(500),
        "waited {:?} of real time",
        real.elapsed()
    );
}

#[tokio::test]
async fn streaming_without_data_stays_quiet_until_the_keepalive() {
    let h = Harness::new();
    let mut c = h.open_with("LS_keepalive_millis=30000", &ws()).await;
    c.quiet(Duration::from_millis(100)).await;
}

/// Real time: SYNC every 100 ms, as `LS_send_sync` defaults to true.
#[tokio::test]
async fn streaming_sends_sync() {
    let h = Harness::with_config(EngineConfig {
        sync_interval: Duration::from_millis(100),
        ..fast_config()
    });
    let mut c = h.open_with("LS_keepalive_millis=10000", &ws()).await;
    let lines = c.next_lines(1).await;
    let (tag, args) = split(&lines[0]);
    assert_eq!(tag, "SYNC");
    assert_eq!(args, vec!["0"], "seconds since the stream began");
    assert_eq!(h.progressive(&c.session), 0);

    // Not when the client says no.
    let mut d = h
        .open_with("LS_keepalive_millis=10000&LS_send_sync=false", &ws())
        .await;
    d.quiet(Duration::from_millis(250)).await;
}

/// Lines cut to 24 characters, for readable failure messages.
fn short(lines: &[String]) -> Vec<String> {
    lines.iter().map(|l| l.chars().take(24).collect()).collect()
}

fn big(n: usize) -> String {
    "v".repeat(n)
}

#[tokio::test]
async fn http_stream_ends_with_loop_at_its_content_length() {
    let h = Harness::new();
    let mut c = h.open_with("LS_content_length=100", &http()).await;
    let sid = c.session.clone();
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "a", ""))
        .await;
    let mut n = 0;
    while c.lines.last().map(String::as_str) != Some("LOOP,0") {
        n += 1;
        assert!(n <= 20, "no LOOP after {:?}", c.chunks);
        h.data
            .update("item1", &[("a", &format!("{n}{}", big(200)))], false);
        assert!(c.chunk().await.is_some(), "ended without LOOP");
    }
    assert!(c.chunks.last().is_some_and(|t| t.ends_with("LOOP,0\r\n")));
    assert_eq!(c.chunk().await, None, "the stream is over after LOOP");
    let written: usize = c.chunks.iter().map(String::len).sum();
    assert!(written >= 100, "{written}");
    // Nothing lost: the client rebinds and gets what comes next.
    let last = c
        .lines
        .iter()
        .rev()
        .find(|l| l.starts_with("U,"))
        .cloned()
        .unwrap_or_default();
    assert!(last.starts_with(&format!("U,1,1,{n}v")), "{last}");
    h.data.update("item1", &[("a", "after")], false);
    let mut r = h.rebind(&sid, "LS_content_length=100", &http());
    let lines = r.until_prefix("U,").await;
    assert_eq!(lines.last().map(String::as_str), Some("U,1,1,after"));
}

#[tokio::test]
async fn http_stream_uses_the_configured_content_length() {
    let h = Harness::with_config(EngineConfig {
        content_length: 3_000,
        ..EngineConfig::default()
    });
    let mut c = h.open_with("", &http()).await;
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "a", ""))
        .await;
    let mut written = 0usize;
    for n in 0..100 {
        if c.ended() {
            break;
        }
        h.data
            .update("item1", &[("a", &format!("{n}{}", big(500)))], false);
        if let Some(t) = c.chunk().await {
            written += t.len();
        }
    }
    assert_eq!(c.lines.last().map(String::as_str), Some("LOOP,0"));
    assert!((2_000..=4_000).contains(&written), "{written}");
}

#[tokio::test]
async fn websocket_stream_ignores_the_content_length() {
    let h = Harness::new();
    let mut c = h.open_with("LS_content_length=100", &ws()).await;
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "a", ""))
        .await;
    for n in 0..30 {
        h.data
            .update("item1", &[("a", &format!("{n}{}", big(300)))], false);
        let lines = c.next_lines(1).await;
        assert!(lines[0].starts_with(&format!("U,1,1,{n}v")), "{lines:?}");
    }
    assert!(!c.ended());
    assert!(!c.lines.iter().any(|l| l.starts_with("LOOP")));
}

#[tokio::test]
async fn a_polling_create_over_websocket_also_loops() {
    let h = Harness::new();
    let req = create("LS_polling=true&LS_polling_millis=500&LS_idle_millis=0");
    let Ok(stream) = h.engine.create_session(&req, &ws()).await else {
        panic!("refused")
    };
    let mut c = Client::new(stream);
    let lines = c.read_to_end().await;
    assert_eq!(lines.last().map(String::as_str), Some("LOOP,500"));
}

/// A poll whose response goes over the content length must still end
/// with its single `LOOP,<polling_millis>`.
#[tokio::test]

async fn a_long_poll_response_has_one_loop() {
    let h = Harness::new();
    let sid = polling_session(&h).await;
    h.ok(&sid, &add(1, "RAW", "item1", "a", "")).await;
    poll(&h, &sid, 0).read_to_end().await;
    for n in 0..10 {
        h.data
            .update("item1", &[("a", &format!("{n}{}", big(300)))], false);
    }
    let mut p = h.rebind(
        &sid,
        "LS_polling=true&LS_polling_millis=1000&LS_idle_millis=0&LS_content_length=1000",
        &http(),
    );
    let lines = p.read_to_end().await;
    let loops: Vec<&String> = lines.iter().filter(|l| l.starts_with("LOOP")).collect();
    assert_eq!(loops, vec!["LOOP,1000"], "{:?}", short(&lines));
    assert_eq!(lines.iter().filter(|l| l.starts_with("U,")).count(), 10);
}

/// Nothing follows `END`, even when it crosses the content length.
#[tokio::test]

async fn nothing_follows_end_on_an_http_stream() {
    let h = Harness::new();
    let mut c = h.open_with("LS_content_length=1000", &http()).await;
    let long = "x".repeat(1200);
    h.ok(
        &c.session,
        &format!("LS_op=destroy&LS_cause_code=-1&LS_cause_message={long}"),
    )
    .await;
    let lines = c.read_to_end().await;
    assert_eq!(lines.len(), 1, "{:?}", short(&lines));
    assert!(lines[0].starts_with("END,-1,"));
}

/// `LOOP,0` of a `force_rebind` is the last line, even when it crosses
/// the content length.
#[tokio::test]

async fn force_rebind_on_an_http_stream_sends_one_loop() {
    let h = Harness::new();
    let mut c = h.open_with("LS_content_length=1000", &http()).await;
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "a", ""))
        .await;
    h.data.update("item1", &[("a", &big(900))], false);
    h.ok(&c.session, "LS_op=force_rebind").await;
    let lines = c.read_to_end().await;
    let loops = lines.iter().filter(|l| l.starts_with("LOOP")).count();
    assert_eq!(loops, 1, "{:?}", short(&lines));
}

/// A stream whose session has a RAW subscription to `item1`, its head and
/// SUBOK read.
async fn raw_stream(h: &Harness) -> Client {
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "RAW", "item1", "a", "")).await;
    c
}

/// `<max_delay_millis>`: updates that come within the delay of the last
/// write leave together, in one chunk, once the delay has passed.
#[tokio::test(start_paused = true)]
async fn max_delay_packs_updates_into_one_write() {
    let h = Harness::with_config(EngineConfig {
        max_delay: Duration::from_millis(200),
        ..EngineConfig::default()
    });
    let mut c = raw_stream(&h).await;
    // Past the delay since the last write: the first update leaves alone.
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.data.update("item1", &[("a", "1")], false);
    let first = c.chunk().await.expect("a chunk");
    assert_eq!(first, "U,1,1,1\r\n");
    let written = tokio::time::Instant::now();
    // Two more within the delay: held, then sent in one chunk.
    h.data.update("item1", &[("a", "2")], false);
    let data = h.data.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        data.update("item1", &[("a", "3")], false);
    });
    let packed = c.chunk().await.expect("a chunk");
    assert_eq!(packed, "U,1,1,2\r\nU,1,1,3\r\n");
    assert!(
        written.elapsed() >= Duration::from_millis(200),
        "{:?}",
        written.elapsed()
    );
}

/// Lightstreamer's default is no delay: each update leaves on its own.
#[tokio::test(start_paused = true)]
async fn without_max_delay_each_update_leaves_at_once() {
    let h = Harness::new();
    let mut c = raw_stream(&h).await;
    h.data.update("item1", &[("a", "1")], false);
    assert_eq!(c.chunk().await.as_deref(), Some("U,1,1,1\r\n"));
    h.data.update("item1", &[("a", "2")], false);
    let data = h.data.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        data.update("item1", &[("a", "3")], false);
    });
    assert_eq!(c.chunk().await.as_deref(), Some("U,1,1,2\r\n"));
    assert_eq!(c.chunk().await.as_deref(), Some("U,1,1,3\r\n"));
}
