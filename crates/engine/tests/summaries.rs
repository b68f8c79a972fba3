//! `Engine::session_summaries`: the most recent sessions first, bounded,
//! with who each one is, how it is connected and what it holds.

mod common;

use common::*;
use shoal_engine::StreamKind;
use std::time::{Duration, SystemTime};

#[tokio::test(start_paused = true)]
async fn the_most_recent_sessions_come_first_up_to_the_limit() {
    let h = Harness::new();
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(h.open().await.session);
        // Paused time stands still: move it, so each session is newer.
        tokio::time::advance(Duration::from_millis(10)).await;
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();

    let all = h.engine.session_summaries(10);
    assert_eq!(all.total, 5);
    let got: Vec<&str> = all.rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(got, newest_first);

    let some = h.engine.session_summaries(2);
    assert_eq!(some.total, 5, "the total counts every session");
    let got: Vec<&str> = some.rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(got, newest_first[..2]);

    assert!(h.engine.session_summaries(0).rows.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_summary_tells_who_how_since_when_and_how_many_subscriptions() {
    let h = Harness::new();
    let before = SystemTime::now();
    let mut c = h.open_with("LS_user=alice&LS_password=pw", &ws()).await;
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "a", ""))
        .await;
    h.subscribe(&mut c, &add(2, "MERGE", "item2", "a", ""))
        .await;

    let list = h.engine.session_summaries(10);
    let row = &list.rows[0];
    assert_eq!(row.id, c.session);
    assert_eq!(row.adapter_set, SET);
    assert_eq!(row.user.as_deref(), Some("alice"));
    assert_eq!(row.client_ip, "10.0.0.1");
    assert_eq!(row.user_agent.as_deref(), Some("test-client/1"));
    assert_eq!(row.transport, Some(StreamKind::WsStreaming));
    assert_eq!(row.subscriptions, 2);
    // Wall-clock time (not paused by the test): taken at creation.
    assert!(row.started >= before && row.started <= SystemTime::now());

    h.ok(&c.session, "LS_op=delete&LS_subId=2").await;
    assert_eq!(h.engine.session_summaries(10).rows[0].subscriptions, 1);
}

#[tokio::test]
async fn a_session_between_polls_has_no_transport_and_a_closed_one_is_gone() {
    let h = Harness::new();
    let poll = h
        .open_with(
            "LS_polling=true&LS_polling_millis=0&LS_idle_millis=0",
            &http(),
        )
        .await;
    let id = poll.session.clone();
    let rows = h.engine.session_summaries(10).rows;
    assert_eq!(rows[0].transport, Some(StreamKind::HttpPolling));
    // The poll is over and its stream dropped: nothing is bound.
    drop(poll);
    let rows = h.engine.session_summaries(10).rows;
    assert_eq!(
        (rows[0].id.as_str(), rows[0].transport),
        (id.as_str(), None)
    );

    h.ok(&id, "LS_op=destroy").await;
    assert_eq!(h.engine.session_summaries(10), Default::default());
}
