//! Bandwidth: the limit announced with `CONS` (the metadata adapter's grant
//! and the client's request), and the pacing of the stream to it, under
//! tokio's paused clock so that rates are exact.

mod common;

use common::*;
use shoal_engine::EngineConfig;
use std::time::Duration;
use tokio::time::Instant;

/// A harness whose metadata adapter grants `kbps` to every user.
fn granting(kbps: f64, config: EngineConfig) -> Harness {
    let h = Harness::with_config(config);
    h.meta.grant_bandwidth(kbps);
    h
}

/// A value of `n` characters, so that each `U` line has a known size.
fn filler(i: usize, n: usize) -> String {
    format!("{i:0>n$}")
}

/// Bytes of the chunks read so far.
fn bytes(c: &Client) -> usize {
    c.chunks.iter().map(String::len).sum()
}

/// Reads whatever comes until `until` (paused time runs meanwhile).
async fn read_until(c: &mut Client, until: Instant) {
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        if let Some(None) = c.chunk_within(left).await {
            return;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_head_announces_the_limit_right_after_clientip() {
    let h = granting(40.0, EngineConfig::default());
    let c = h.open().await;
    assert_eq!(
        c.head,
        vec![
            format!("CONOK,{},50000,5000,*", c.session),
            "SERVNAME,Shoal".to_owned(),
            "CLIENTIP,10.0.0.1".to_owned(),
            "CONS,40".to_owned(),
        ]
    );
    // A request narrows the grant, never widens it.
    let c = h.open_with("LS_requested_max_bandwidth=20.1", &ws()).await;
    assert_eq!(c.head[3], "CONS,20.1");
    let c = h.open_with("LS_requested_max_bandwidth=70", &ws()).await;
    assert_eq!(c.head[3], "CONS,40");
    // No CONS in a reduced head.
    let c = h.open_with("LS_reduce_head=true", &ws()).await;
    assert_eq!(c.head.len(), 1, "{:?}", c.head);

    // Every bind announces it again, the last constrain's included.
    let c = h.open().await;
    h.ok(&c.session, "LS_op=constrain&LS_requested_max_bandwidth=39")
        .await;
    let mut r = h.rebind(&c.session, "", &ws());
    let head = r.through(|l| l.starts_with("CONS,")).await;
    assert_eq!(head.len(), 4, "{head:?}");
    assert_eq!(head[3], "CONS,39");

    // Without a grant, a request alone limits.
    let h = Harness::new();
    let c = h.open_with("LS_requested_max_bandwidth=10", &ws()).await;
    assert_eq!(c.head[3], "CONS,10");
    let c = h.open().await;
    assert_eq!(c.head[3], "CONS,unlimited");
}

/// The official clients' `_testBandwidth` sequence, with a grant of 40.
#[tokio::test(start_paused = true)]
async fn constrain_announces_the_lower_of_grant_and_request_every_time() {
    let h = granting(40.0, EngineConfig::default());
    let mut c = h.open().await;
    assert_eq!(c.head[3], "CONS,40");
    for (asked, told) in [
        ("20.1", "CONS,20.1"),
        ("70.1", "CONS,40"),
        ("39", "CONS,39"),
        ("unlimited", "CONS,40"),
        // The same value again: announced again.
        ("unlimited", "CONS,40"),
    ] {
        h.ok(
            &c.session,
            &format!("LS_op=constrain&LS_requested_max_bandwidth={asked}"),
        )
        .await;
        assert_eq!(c.next_lines(1).await, vec![told], "after {asked}");
    }
    // No value: no change, announced all the same.
    h.ok(&c.session, "LS_op=constrain").await;
    assert_eq!(c.next_lines(1).await, vec!["CONS,40"]);
    assert_eq!(h.progressive(&c.session), 0, "CONS is not counted");

    // Without a grant, `unlimited` lifts the limit.
    let h = Harness::new();
    let mut c = h.open().await;
    h.ok(
        &c.session,
        "LS_op=constrain&LS_requested_max_bandwidth=12.5",
    )
    .await;
    assert_eq!(c.next_lines(1).await, vec!["CONS,12.5"]);
    h.ok(
        &c.session,
        "LS_op=constrain&LS_requested_max_bandwidth=unlimited",
    )
    .await;
    assert_eq!(c.next_lines(1).await, vec!["CONS,unlimited"]);
}

/// 8 kbit/s is 1000 bytes a second: over 10 s of a backlog far larger,
/// the stream hands out 10 s of the rate, plus the one-second bucket it
/// started with and at most one line of debt.
#[tokio::test(start_paused = true)]
async fn a_limited_stream_hands_out_the_rate_and_no_more() {
    const RATE: usize = 1000;
    const LINE: usize = 108; // "U,1,1," + 100 + CRLF
    let h = granting(8.0, EngineConfig::default());
    let start = Instant::now();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "RAW", "item1", "a", "")).await;
    for i in 0..2000 {
        h.data.update("item1", &[("a", &filler(i, 100))], false);
    }
    let secs = 10;
    read_until(&mut c, start + Duration::from_secs(secs)).await;
    let sent = bytes(&c);
    let most = RATE + RATE * secs as usize + LINE;
    assert!(sent <= most, "{sent} bytes in {secs} s, at most {most}");
    assert!(
        sent >= RATE * secs as usize,
        "{sent} bytes in {secs} s, at least {}",
        RATE * secs as usize
    );
    // The lines came in order, none lost (RAW, 10 000 events of buffer).
    let updates: Vec<&String> = c.lines.iter().filter(|l| l.starts_with("U,")).collect();
    assert!(updates.len() > 80, "{}", updates.len());
    for (i, l) in updates.iter().enumerate() {
        assert_eq!(**l, format!("U,1,1,{}", filler(i, 100)));
    }

    // The same backlog on an unlimited session goes at once.
    let h = Harness::new();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "RAW", "item1", "a", "")).await;
    for i in 0..2000 {
        h.data.update("item1", &[("a", &filler(i, 100))], false);
    }
    let t = Instant::now();
    c.until(|ls| ls.iter().filter(|l| l.starts_with("U,")).count() == 2000)
        .await;
    assert!(t.elapsed() < Duration::from_millis(10), "{:?}", t.elapsed());
}

/// A lower limit set by `constrain` takes effect at once: after its CONS,
/// lines go at the new rate.
#[tokio::test(start_paused = true)]
async fn constrain_changes_the_rate_after_its_cons() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.ok(&c.session, "LS_op=constrain&LS_requested_max_bandwidth=8")
        .await;
    c.until_prefix("CONS,8").await;
    h.subscribe(&mut c, &add(1, "RAW", "item1", "a", "")).await;
    for i in 0..2000 {
        h.data.update("item1", &[("a", &filler(i, 100))], false);
    }
    let before = bytes(&c);
    let start = Instant::now();
    read_until(&mut c, start + Duration::from_secs(5)).await;
    let sent = bytes(&c) - before;
    assert!(sent <= 1000 + 5000 + 108, "{sent}");
    assert!(sent >= 4000, "{sent}");
    // Lifted: the rest goes at once.
    h.ok(
        &c.session,
        "LS_op=constrain&LS_requested_max_bandwidth=unlimited",
    )
    .await;
    let t = Instant::now();
    c.until(|ls| {
        ls.iter()
            .any(|l| *l == format!("U,1,1,{}", filler(1999, 100)))
    })
    .await;
    assert!(t.elapsed() < Duration::from_millis(10), "{:?}", t.elapsed());
    let cons = c.lines.iter().position(|l| l == "CONS,unlimited");
    let last = c.lines.len() - 1;
    assert!(cons.is_some_and(|i| i < last), "{:?}", cons);
}

/// MERGE under a tight limit conflates: the client gets the latest values,
/// not every one.
#[tokio::test(start_paused = true)]
async fn merge_conflates_under_a_limit() {
    let h = granting(8.0, EngineConfig::default());
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "a", ""))
        .await;
    let data = h.data.clone();
    // 100 updates a second of ~100-byte lines: 10 times the rate.
    let publisher = tokio::spawn(async move {
        for i in 0..500 {
            data.update("item1", &[("a", &filler(i, 100))], false);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let last = format!("U,1,1,{}", filler(499, 100));
    c.until(|ls| ls.contains(&last)).await;
    publisher.await.unwrap_or_else(|e| panic!("{e}"));
    let updates: Vec<&String> = c.lines.iter().filter(|l| l.starts_with("U,")).collect();
    // 5 s at 1000 bytes a second, plus the first second's bucket.
    assert!(updates.len() <= 60, "{} updates", updates.len());
    assert!(updates.len() >= 30, "{} updates", updates.len());
    // Values only move forward.
    let values: Vec<usize> = updates
        .iter()
        .map(|l| l["U,1,1,".len()..].parse().unwrap_or_default())
        .collect();
    assert!(values.windows(2).all(|w| w[0] < w[1]), "{values:?}");
    c.quiet(Duration::from_secs(2)).await;
}

/// Unfiltered events that the limit holds back fill the buffer
/// (`max_buffer`), then are lost and counted in `OV`: every event is either
/// delivered or counted.
#[tokio::test(start_paused = true)]
async fn raw_overflows_with_ov_and_counts_every_lost_event() {
    let config = EngineConfig {
        max_buffer: 20,
        ..EngineConfig::default()
    };
    let h = granting(8.0, config);
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "RAW", "item1", "a", "")).await;
    let total = 500;
    for i in 0..total {
        h.data.update("item1", &[("a", &filler(i, 100))], false);
    }
    let accounted = |ls: &[String]| {
        let delivered = ls.iter().filter(|l| l.starts_with("U,1,1,")).count();
        let lost: usize = ls
            .iter()
            .filter_map(|l| l.strip_prefix("OV,1,1,"))
            .map(|n| n.parse::<usize>().unwrap_or_default())
            .sum();
        (delivered, lost)
    };
    let lines = c
        .until(|ls| {
            let (d, l) = accounted(ls);
            d + l >= total
        })
        .await;
    let (delivered, lost) = accounted(&lines);
    assert_eq!(delivered + lost, total);
    assert!(
        lost > 0 && delivered < 60,
        "{delivered} delivered, {lost} lost"
    );
    // The buffer kept the first events, in order; the later ones were lost.
    let updates: Vec<&String> = lines.iter().filter(|l| l.starts_with("U,")).collect();
    for (i, l) in updates.iter().take(20).enumerate() {
        assert_eq!(**l, format!("U,1,1,{}", filler(i, 100)));
    }
}

/// A deleted subscription's backlog goes with it: its UNSUB does not wait
/// for the backlog to drain at the limit.
#[tokio::test(start_paused = true)]
async fn unsub_is_prompt_under_a_tight_limit() {
    let h = granting(8.0, EngineConfig::default());
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "RAW", "item1", "a", "")).await;
    // 200 s of backlog at the rate.
    for i in 0..2000 {
        h.data.update("item1", &[("a", &filler(i, 100))], false);
    }
    read_until(&mut c, Instant::now() + Duration::from_secs(2)).await;
    let t = Instant::now();
    h.ok(&c.session, "LS_op=delete&LS_subId=1").await;
    c.until_prefix("UNSUB,1").await;
    assert!(
        t.elapsed() < Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    c.quiet(Duration::from_secs(1)).await;
}

/// Each poll returns what the bucket allows; the rest waits for the next.
#[tokio::test(start_paused = true)]
async fn each_poll_returns_what_the_bucket_allows() {
    let h = granting(8.0, EngineConfig::default());
    let req = create("LS_polling=true&LS_polling_millis=1000&LS_idle_millis=0");
    let Ok(stream) = h.engine.create_session(&req, &http()).await else {
        panic!("refused")
    };
    let mut first = Client::new(stream);
    let lines = first.read_to_end().await;
    assert_eq!(lines[3], "CONS,8");
    let sid = split(&lines[0]).1[0].clone();
    h.ok(&sid, &add(1, "RAW", "item1", "a", "")).await;
    for i in 0..100 {
        h.data.update("item1", &[("a", &filler(i, 100))], false);
    }
    let poll = || {
        h.rebind(
            &sid,
            "LS_polling=true&LS_polling_millis=1000&LS_idle_millis=0",
            &http(),
        )
    };
    let mut seen = 0;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut p = poll();
        let lines = p.read_to_end().await;
        assert_eq!(lines.last().map(String::as_str), Some("LOOP,1000"));
        let sent = bytes(&p);
        // A second of the rate, the debt of the last poll at most repaid,
        // one line of new debt.
        assert!(sent <= 1000 + 108 + 200, "{sent} bytes: {lines:?}");
        let updates = lines.iter().filter(|l| l.starts_with("U,")).count();
        assert!(updates >= 5, "{updates} updates: {lines:?}");
        seen += updates;
    }
    assert!(seen < 100, "the rest waits: {seen}");
}

/// A stream waiting for its bucket is paced, not stalled: a backlog that
/// takes far longer than the stall timeout to drain at the limit does not
/// close a session whose client reads.
#[tokio::test(start_paused = true)]
async fn a_paced_stream_is_not_a_stalled_one() {
    let h = granting(
        0.8,
        EngineConfig {
            stall_timeout: Duration::from_secs(2),
            ..EngineConfig::default()
        },
    );
    let _reaper = h.engine.spawn_reaper();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "RAW", "item1", "a", "")).await;
    // 100 bytes a second; lines of 1000 bytes: 10 s each.
    for i in 0..5 {
        h.data.update("item1", &[("a", &filler(i, 1000))], false);
    }
    read_until(&mut c, Instant::now() + Duration::from_secs(30)).await;
    assert!(h.engine.session(&c.session).is_some(), "closed as stalled");
    let updates = c.lines.iter().filter(|l| l.starts_with("U,")).count();
    assert!((3..=4).contains(&updates), "{updates} updates in 30 s");
}
