//! Limits that keep a session, and the server, bounded: subscriptions per
//! session, sessions per user, stalled clients, the memory budget of session
//! buffers, and the recovery log's real size.

mod common;

use common::*;
use shoal_engine::EngineConfig;
use shoal_protocol::code;
use std::time::Duration;

fn with(config: EngineConfig) -> Harness {
    Harness::with_config(config)
}

#[tokio::test]
async fn subscriptions_past_the_limit_are_refused_with_68() {
    let h = with(EngineConfig {
        max_subscriptions: 3,
        ..EngineConfig::default()
    });
    let mut c = h.open().await;
    for i in 1..=3 {
        h.subscribe(&mut c, &add(i, "MERGE", "item1", "a", ""))
            .await;
    }
    let refused = h
        .control(&c.session, &add(4, "MERGE", "item1", "a", ""))
        .await;
    assert!(
        matches!(&refused, Err((code::INTERNAL_LIMIT, _))),
        "{refused:?}"
    );
    // One less, and there is room again.
    h.ok(&c.session, "LS_op=delete&LS_subId=2").await;
    h.subscribe(&mut c, &add(4, "MERGE", "item1", "a", ""))
        .await;
}

#[tokio::test]
async fn sessions_per_user_are_limited_by_the_metadata_adapter() {
    let h = Harness::new();
    h.meta.limit_sessions_per_user(2);
    let a = h.open_with("LS_user=bob", &ws()).await;
    let _b = h.open_with("LS_user=bob", &ws()).await;
    let third = h.engine.create_session(&create("LS_user=bob"), &ws()).await;
    assert!(
        matches!(&third, Err((code::USER_SESSIONS_LIMIT, _))),
        "{:?}",
        third.err()
    );
    // Another user is not affected; bob gets a session once one of his ends.
    let _alice = h.open_with("LS_user=alice", &ws()).await;
    h.ok(&a.session, "LS_op=destroy").await;
    let _again = h.open_with("LS_user=bob", &ws()).await;
}

#[tokio::test(start_paused = true)]
async fn a_client_that_stops_reading_is_closed_as_stalled() {
    let h = with(EngineConfig {
        stall_timeout: Duration::from_secs(5),
        ..EngineConfig::default()
    });
    let _reaper = h.engine.spawn_reaper();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "RAW", "item1", "a", "")).await;
    // A client that reads what comes, even slowly, is not stalled.
    for i in 0..10 {
        h.data.update("item1", &[("a", &i.to_string())], false);
        c.next_lines(1).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    assert!(h.engine.session(&c.session).is_some());
    let ended = c.stream.ended();
    tokio::pin!(ended);
    assert!(
        tokio::time::timeout(Duration::from_millis(10), &mut ended)
            .await
            .is_err(),
        "ended() resolved for a live session"
    );
    // One that leaves an update there is closed after the stall timeout.
    h.data.update("item1", &[("a", "left")], false);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(h.engine.session(&c.session).is_some(), "closed too early");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(h.engine.session(&c.session).is_none(), "not closed");
    assert_eq!(h.meta.closed_sessions(), vec![c.session.clone()]);
    assert_eq!(h.data.unsubscribes("item1"), 1, "its item is not released");
    // A transport blocked on the stalled socket learns it may close it.
    assert!(
        tokio::time::timeout(Duration::from_millis(10), ended)
            .await
            .is_ok(),
        "ended() did not resolve"
    );
    // If the client ever reads again, its stream ends with END 33.
    let rest = c.read_to_end().await;
    let last = rest.last().cloned().unwrap_or_default();
    assert!(
        last.starts_with(&format!("END,{}", code::CLIENT_STALLED)),
        "{rest:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn over_the_budget_the_biggest_session_is_closed_and_new_ones_refused() {
    let h = with(EngineConfig {
        session_buffers_budget: 1024 * 1024,
        max_buffer: 100_000,
        stall_timeout: Duration::ZERO,
        ..EngineConfig::default()
    });
    let _reaper = h.engine.spawn_reaper();
    let mut big = h.open().await;
    h.subscribe(&mut big, &add(1, "RAW", "item1", "a", ""))
        .await;
    let mut small = h.open().await;
    h.subscribe(&mut small, &add(1, "RAW", "item2", "a", ""))
        .await;
    // `big` reads nothing while 20 000 updates of 100 bytes come.
    let value = "v".repeat(100);
    for _ in 0..20_000 {
        h.data.update("item1", &[("a", &value)], false);
    }
    assert!(h.engine.buffered_bytes() > 2 * 1024 * 1024);
    let refused = h.engine.create_session(&create(""), &ws()).await;
    assert!(
        matches!(&refused, Err((code::SERVER_FULL, _))),
        "{:?}",
        refused.err()
    );
    // The reaper's next round closes `big`, and only it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(h.engine.session(&big.session).is_none());
    assert!(h.engine.session(&small.session).is_some());
    assert!(
        h.engine.buffered_bytes() < 64 * 1024,
        "{} bytes still counted",
        h.engine.buffered_bytes()
    );
    // `small` lost nothing, and sessions are accepted again.
    h.data.update("item2", &[("a", "1")], false);
    assert_eq!(small.next_lines(1).await, vec!["U,1,1,1"]);
    let _new = h.open().await;
    let rest = big.read_to_end().await;
    assert!(
        rest.last()
            .is_some_and(|l| l.starts_with(&format!("END,{}", code::CLIENT_STALLED))),
        "{:?}",
        rest.last()
    );
}

#[tokio::test(start_paused = true)]
async fn the_recovery_log_stays_under_its_size_and_empties_with_time() {
    let h = with(EngineConfig {
        recovery_max_bytes: 256 * 1024,
        recovery_window: Duration::from_secs(2),
        ..EngineConfig::default()
    });
    let _reaper = h.engine.spawn_reaper();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "RAW", "item1", "a", "")).await;
    let value = "v".repeat(50);
    let session = h.engine.session(&c.session).unwrap();
    for i in 0..20_000 {
        h.data
            .update("item1", &[("a", &format!("{i}{value}"))], false);
        if i % 100 == 99 {
            c.through(|l| l.starts_with(&format!("U,1,1,{i}"))).await;
            // The log plus the queue and the line in flight.
            assert!(
                session.buffered_bytes() <= 256 * 1024 + 64 * 1024,
                "{} bytes after {i} updates",
                session.buffered_bytes()
            );
        }
    }
    // The client reads nothing more: the reaper alone forgets what is older
    // than the window.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        session.buffered_bytes() < 8 * 1024,
        "{} bytes kept past the recovery window",
        session.buffered_bytes()
    );
}

/// A provider naming a new field in every event: the item keeps at most
/// 1024 field names learned from events, so neither its state nor the cost
/// of an event grows without end; subscribed fields keep working.
#[tokio::test]
async fn an_item_learns_a_bounded_number_of_field_names_from_events() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "seq", ""))
        .await;
    for i in 0..2000 {
        let name = format!("f{i}");
        h.data
            .update("item1", &[("seq", &i.to_string()), (&name, "x")], false);
    }
    c.until(|l| l.iter().any(|x| x.ends_with(",1999"))).await;
    // A later subscriber: a field learned early has its value, one named
    // only past the limit was never kept.
    let mut later = h.open().await;
    let lines = h
        .subscribe(
            &mut later,
            &add(1, "MERGE", "item1", "f10 f1500 seq", "LS_snapshot=true"),
        )
        .await;
    let mut lines = lines;
    if !lines.iter().any(|l| l.starts_with("U,")) {
        lines.extend(later.until_prefix("U,").await);
    }
    let snap = lines.iter().find(|l| l.starts_with("U,")).unwrap();
    assert_eq!(
        values(snap, &[None, None, None]),
        vals(&[Some("x"), None, Some("1999")]),
        "{snap}"
    );
    // Fields clients name are always kept: f1500 now updates.
    h.data.update("item1", &[("f1500", "y")], false);
    let upd = later.until_prefix("U,").await;
    let last = upd.last().unwrap();
    assert_eq!(
        values(last, &[Some("x".into()), None, Some("1999".into())]),
        vals(&[Some("x"), Some("y"), Some("1999")])
    );
}
