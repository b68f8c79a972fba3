//! Memory against clients that stop reading: a stalled subscriber costs a
//! bounded amount whatever the others do, many of them stay under the
//! server's budget of session buffers and give their memory back, a stalled
//! client is disconnected in the configured time, and a session cannot pile
//! up subscriptions. A bystander keeps receiving its counter on time and
//! without a gap throughout. Limits and what clients see: docs/limits.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const MIB: u64 = 1024;

/// The tests of this file run one at a time: each measures its server's
/// memory and a bystander's timing, which the others' load would blur on a
/// small machine.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A session that makes `subs` subscriptions, reads their answers, then
/// never reads again. Returns the socket (kept open) and the session id.
async fn stalled_session(server: &Server, subs: &[String]) -> (Ws, String) {
    match try_stalled_session(server, subs).await {
        Ok(s) => s,
        Err(refused) => panic!("session refused: {refused}"),
    }
}

/// [`stalled_session`], or the `CONERR` line that refused the session.
async fn try_stalled_session(server: &Server, subs: &[String]) -> Result<(Ws, String), String> {
    let mut ws = ws_connect_tight(server).await;
    let id = ws_create(&mut ws).await?;
    for (i, s) in subs.iter().enumerate() {
        let sub_id = i + 1;
        ws.send(Message::text(format!(
            "control\r\nLS_reqId={sub_id}&LS_op=add&LS_subId={sub_id}&{s}"
        )))
        .await
        .unwrap();
        let answer = format!("REQOK,{sub_id}");
        let l = ws_until(&mut ws, Duration::from_secs(10), |l| {
            l == answer || l.starts_with("REQERR")
        })
        .await;
        assert_eq!(l, answer, "subscription {s} refused");
    }
    Ok((ws, id))
}

fn counter_sub(mode: &str, rate: u32) -> String {
    format!(
        "LS_group=rate-{rate}&LS_schema=seq%20ts&LS_data_adapter=COUNTER&LS_mode={mode}&LS_snapshot=false"
    )
}

const PORTFOLIO_SUB: &str = "LS_group=portfolio1&LS_schema=key%20command%20qty&LS_data_adapter=PORTFOLIO_ADAPTER&LS_mode=COMMAND&LS_snapshot=true";

/// Buys and sells on the portfolio, `rate` orders a second (batches every
/// 10 ms), for `time`; returns how many messages were sent. (Faster than
/// the server can fan them out, the demo adapter's own outbox would grow:
/// that is not what this file measures.)
async fn trade(server: &Server, rate: u64, time: Duration) -> u64 {
    let (mut ws, _) = ws_session(server).await;
    let end = Instant::now() + time;
    let mut sent = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let started = Instant::now();
    while Instant::now() < end {
        tick.tick().await;
        let due = rate * started.elapsed().as_millis() as u64 / 1000;
        while sent < due {
            send_order(&mut ws, sent).await;
            sent += 1;
        }
    }
    sent
}

/// Order `n`: item3 comes and goes (ADD, DELETE, every other order); the
/// others (item4..item30) pile up UPDATEs.
async fn send_order(ws: &mut Ws, n: u64) {
    let stock = if n % 4 < 2 { 3 } else { 4 + n % 27 };
    let side = if stock != 3 || n.is_multiple_of(2) {
        "BUY"
    } else {
        "SELL"
    };
    let text = format!(
        "msg\r\nLS_reqId={n}&LS_message={side}%7Cportfolio1%7Citem{stock}%7C100&LS_ack=false&LS_outcome=false"
    );
    ws.send(Message::text(text)).await.unwrap();
}

/// Samples the server's RSS every 100 ms while `work` runs; the highest.
async fn peak_rss_during<F: std::future::Future>(server: &Server, work: F) -> (u64, F::Output) {
    let pid = server.pid();
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let sampler = tokio::spawn(async move {
        let mut peak = 0;
        loop {
            peak = peak.max(rss_of(pid));
            tokio::select! {
                _ = stopped.changed() => return peak,
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    });
    let out = work.await;
    let _ = stop.send(true);
    (sampler.await.unwrap(), out)
}

/// Waits until `cond` holds, polling every 50 ms; false after `within`.
async fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond()
}

/// The finding: one stalled COMMAND subscriber while another client trades
/// grew the server by 560 MiB in 10 s, its ADD and DELETE events kept
/// without limit. They are now coalesced per key past `<max_buffer_size>`
/// (1000 here), so the memory of a stalled subscriber (twenty COMMAND
/// subscriptions here) stops growing once its queues are full: over the
/// second 8 s of trading the server grows by less than 3 MiB, and by less
/// than 24 MiB in all. (The unbounded growth itself is shown by the engine's
/// unit tests; a debug build cannot trade fast enough here to reproduce the
/// 560 MiB.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_command_subscriber_costs_little_while_others_trade() {
    let _one = ONE_AT_A_TIME.lock().await;
    let conf = ConfDir::new("command", "<max_buffer_size>1000</max_buffer_size>");
    let server = conf.start();
    let bystander = Bystander::start(&server, 20).await;
    let start = server.rss_kib();
    let subs = vec![PORTFOLIO_SUB.to_owned(); 20];
    let (_stalled, _) = stalled_session(&server, &subs).await;
    // 8 s: the stalled socket's buffers and then its queues fill.
    let (first, sent_first) =
        peak_rss_during(&server, trade(&server, 3000, Duration::from_secs(8))).await;
    // 8 s more: nothing more should be kept.
    let (second, sent) =
        peak_rss_during(&server, trade(&server, 3000, Duration::from_secs(8))).await;
    let later = second.saturating_sub(first);
    eprintln!(
        "RSS {start} KiB at start; {sent_first} orders: peak {first} KiB; {sent} more: peak {second} KiB (+{later} KiB)"
    );
    assert!(sent > 20_000, "only {sent} orders went through: no load");
    assert!(
        later < 3 * MIB,
        "the server kept growing with a stalled COMMAND subscriber: {later} KiB in 8 s"
    );
    let grown = second.saturating_sub(start);
    assert!(grown < 24 * MIB, "the server grew by {} MiB", grown / MIB);
    bystander.finish(Duration::from_secs(2)).await;
}

/// One stalled session per mode and per subscription costs at most what
/// docs/limits.md says: its recovery log (`<max_recovery_length>`, 1 MiB
/// here) plus `<max_buffer_size>` events per item (1000 here, about 250 KB
/// of counter events), plus the chunk in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_sessions_in_every_mode_stay_under_their_cap() {
    let _one = ONE_AT_A_TIME.lock().await;
    let conf = ConfDir::new(
        "modes",
        "<max_buffer_size>1000</max_buffer_size>\n<max_recovery_length>1048576</max_recovery_length>",
    );
    let server = conf.start();
    let bystander = Bystander::start(&server, 20).await;
    let start = server.rss_kib();
    const PER_MODE: usize = 8;
    let mut held = Vec::new();
    for mode in ["RAW", "MERGE", "DISTINCT"] {
        for _ in 0..PER_MODE {
            // Four subscriptions to a fast counter, with an unfiltered RAW
            // one beside the mode's own to keep the stream busy.
            let subs = vec![
                counter_sub(mode, 5000),
                counter_sub(mode, 5000),
                counter_sub(mode, 5000),
                counter_sub("RAW", 5000),
            ];
            held.push(stalled_session(&server, &subs).await);
        }
    }
    let sessions = held.len() as u64;
    // Time for every stream to block and every buffer to fill.
    let (peak, ()) = peak_rss_during(&server, tokio::time::sleep(Duration::from_secs(8))).await;
    let per_session = peak.saturating_sub(start) / sessions;
    eprintln!("{sessions} stalled sessions: RSS {start} KiB at start, peak {peak} KiB, {per_session} KiB each");
    // 1 MiB of log, 4 x 1000 events of about 250 bytes, 64 KiB in flight,
    // and the connection's own buffers: under 3 MiB.
    assert!(
        per_session < 3 * MIB,
        "a stalled session costs {per_session} KiB"
    );
    bystander.finish(Duration::from_secs(2)).await;
}

/// 200 clients that stop reading, against an 8 MiB budget of session
/// buffers: the server closes the sessions holding the most (and refuses
/// new ones while full), its memory stays near the budget, and once the
/// clients are gone and their sessions expire, it comes back near where it
/// started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_stalled_sessions_stay_under_the_budget_and_give_memory_back() {
    let _one = ONE_AT_A_TIME.lock().await;
    let conf = ConfDir::new(
        "budget",
        "<shoal_session_buffers_budget_mb>8</shoal_session_buffers_budget_mb>\n<session_timeout_millis>1000</session_timeout_millis>",
    );
    let server = conf.start();
    let bystander = Bystander::start(&server, 20).await;
    let start = server.rss_kib();
    let (peak, (stalled, refused)) = peak_rss_during(&server, async {
        let mut stalled = Vec::new();
        let mut refused = 0;
        for _ in 0..200 {
            match try_stalled_session(&server, &[counter_sub("RAW", 500)]).await {
                Ok(s) => stalled.push(s),
                Err(conerr) => {
                    assert!(conerr.starts_with("CONERR,9,"), "{conerr}");
                    refused += 1;
                }
            }
        }
        let full = eventually(Duration::from_secs(20), || {
            server
                .log()
                .iter()
                .any(|l| l.contains("memory budget of session buffers reached"))
        })
        .await;
        assert!(
            full,
            "the budget was never reached: the test did not test it"
        );
        // The budget holds for a while.
        tokio::time::sleep(Duration::from_secs(3)).await;
        (stalled, refused)
    })
    .await;
    let grown = peak.saturating_sub(start);
    let closed = server
        .log()
        .iter()
        .filter(|l| l.contains("held the most buffered data"))
        .count();
    eprintln!(
        "200 stalling clients ({refused} refused, {closed} closed by the budget): RSS {start} KiB at start, peak {peak} KiB (+{grown} KiB)"
    );
    assert!(closed > 0, "no session was closed by the budget");
    // The budget, plus 200 connections' own buffers and the chunks they
    // were writing when they stalled.
    assert!(
        grown < (8 + 40) * MIB,
        "the server grew by {} MiB against an 8 MiB budget",
        grown / MIB
    );
    // The clients go away, their sessions expire (1 s): memory comes back,
    // within jemalloc's decay time (10 s) of being freed. (With glibc's
    // malloc, about two thirds of it stayed.)
    drop(stalled);
    let mut now = server.rss_kib();
    let back = eventually(Duration::from_secs(20), || {
        now = server.rss_kib();
        now < start + 8 * MIB
    })
    .await;
    eprintln!("after the stalled clients left: RSS {now} KiB");
    assert!(
        back,
        "RSS stayed at {now} KiB after the stalled sessions ended (started at {start} KiB)"
    );
    bystander.finish(Duration::from_secs(2)).await;
}

/// A client that stops reading is disconnected once its stream has taken
/// nothing for `<shoal_stalled_client_millis>` (2 s here): the log names its
/// session, its socket is closed under it, and if its last line got
/// through, it is `END,33`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_is_disconnected_in_the_configured_time() {
    let _one = ONE_AT_A_TIME.lock().await;
    let conf = ConfDir::new(
        "stall",
        "<shoal_stalled_client_millis>2000</shoal_stalled_client_millis>",
    );
    let server = conf.start();
    let bystander = Bystander::start(&server, 20).await;
    let subs = vec![counter_sub("RAW", 20000)];
    let (mut ws, id) = stalled_session(&server, &subs).await;
    let stalled_at = Instant::now();
    let line = server.wait_log("client stalled", Duration::from_secs(15));
    let took = stalled_at.elapsed();
    assert!(line.contains(&id), "{line}");
    eprintln!("closed as stalled after {took:?}: {line}");
    // The kernel's socket buffers take a few MB first (4 to 5 s at this
    // rate), then 2 s, then the next reaper round (0.5 s).
    assert!(took < Duration::from_secs(10), "closed after {took:?}");
    assert!(took >= Duration::from_secs(2), "closed after {took:?}");
    // Its socket is closed under it a moment later, without waiting for it
    // to read again.
    server.wait_log(
        "websocket closed: the session ended while the client read nothing",
        Duration::from_secs(5),
    );
    // What it reads now ends with the close (the END line itself may have
    // been cut off with the socket): the connection is gone either way.
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        let mut last_end = None;
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Text(t) = msg {
                if let Some(l) = t.as_str().split("\r\n").find(|l| l.starts_with("END")) {
                    last_end = Some(l.to_owned());
                }
            }
        }
        last_end
    })
    .await
    .expect("the stalled client's socket was not closed");
    if let Some(end) = ended {
        assert!(end.starts_with("END,33,"), "{end}");
    }
    bystander.finish(Duration::from_secs(2)).await;
}

/// The answer to control request `i`.
async fn answer(ws: &mut Ws, i: u32) -> String {
    let ok = format!("REQOK,{i}");
    let err = format!("REQERR,{i},");
    ws_until(ws, Duration::from_secs(10), |l| {
        l == ok || l.starts_with(&err)
    })
    .await
}

/// `<shoal_max_subscriptions_per_session>` (5 here): the sixth subscription
/// is refused with `REQERR,<id>,68`, and one freed makes room again.
#[tokio::test]
async fn the_subscription_limit_refuses_the_next_one() {
    let _one = ONE_AT_A_TIME.lock().await;
    let conf = ConfDir::new(
        "subs",
        "<shoal_max_subscriptions_per_session>5</shoal_max_subscriptions_per_session>",
    );
    let server = conf.start();
    let (mut ws, _) = ws_session(&server).await;
    let add = |i: u32| {
        Message::text(format!(
            "control\r\nLS_reqId={i}&LS_op=add&LS_subId={i}&{}",
            counter_sub("MERGE", 1)
        ))
    };
    for i in 1..=5 {
        ws.send(add(i)).await.unwrap();
        assert_eq!(answer(&mut ws, i).await, format!("REQOK,{i}"));
    }
    ws.send(add(6)).await.unwrap();
    let refused = answer(&mut ws, 6).await;
    assert!(refused.starts_with("REQERR,6,68,"), "{refused}");
    ws.send(Message::text(
        "control\r\nLS_reqId=7&LS_op=delete&LS_subId=1",
    ))
    .await
    .unwrap();
    assert_eq!(answer(&mut ws, 7).await, "REQOK,7");
    ws.send(add(8)).await.unwrap();
    assert_eq!(answer(&mut ws, 8).await, "REQOK,8");
}
