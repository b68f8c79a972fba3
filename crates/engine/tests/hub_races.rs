//! Upstream subscriptions when sessions subscribe and unsubscribe the same
//! item at the same time (multi-thread runtime; a gate holds one provider
//! call while another session acts).

mod common;

use common::*;
use std::sync::Arc;

/// Session A's upstream subscribe of an item is under way (and will
/// fail) when session B subscribes the same item: B must not be left with
/// a subscription to an item nobody holds upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn a_failing_upstream_subscribe_fails_every_session_waiting_on_it() {
    let h = Arc::new(Harness::new());
    let a = h.open().await;
    let b = h.open().await;
    let gate = h.data.gate(&format!("+{BAD_ITEM}"));
    let (h2, sa) = (h.clone(), a.session.clone());
    let first =
        tokio::spawn(async move { h2.control(&sa, &add(1, "MERGE", BAD_ITEM, "a", "")).await });
    gate.wait_entered();
    // B cannot know how A's subscribe ends before it ends: it waits for it.
    let (h3, sb) = (h.clone(), b.session.clone());
    let second =
        tokio::spawn(async move { h3.control(&sb, &add(1, "MERGE", BAD_ITEM, "a", "")).await });
    gate.open();
    let first = first.await.unwrap_or_else(|e| panic!("{e}"));
    let second = second.await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.err().map(|e| e.0), Some(21));
    assert_eq!(
        second.err().map(|e| e.0),
        Some(21),
        "B was told it subscribed; items held upstream: {}",
        h.engine.item_count()
    );
    // Nothing is left subscribed upstream; B tried on its own, after A failed.
    assert_eq!(h.engine.item_count(), 0);
    assert!(h.data.subscribes(BAD_ITEM) >= 1);
}

/// Session A's upstream unsubscribe of its last reference is under way
/// when session B subscribes the same item: the provider must see the
/// unsubscribe before the new subscribe, and end up subscribed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn unsubscribe_and_a_new_subscribe_reach_the_provider_in_order() {
    let h = Arc::new(Harness::new());
    let mut a = h.open().await;
    h.subscribe(&mut a, &add(1, "MERGE", "item1", "a", ""))
        .await;
    let gate = h.data.gate("-item1");
    let (h2, sa) = (h.clone(), a.session.clone());
    let delete = tokio::spawn(async move { h2.control(&sa, "LS_op=delete&LS_subId=1").await });
    gate.wait_entered();
    let mut b = h.open().await;
    // B's subscribe waits for A's unsubscribe to reach the provider first.
    let (h3, sb) = (h.clone(), b.session.clone());
    let subscribe =
        tokio::spawn(async move { h3.control(&sb, &add(1, "MERGE", "item1", "a", "")).await });
    gate.open();
    let r = subscribe.await.unwrap_or_else(|e| panic!("{e}"));
    let deleted = delete.await.unwrap_or_else(|e| panic!("{e}"));
    assert!(deleted.is_ok() && r.is_ok());
    b.through(|l| l.starts_with("CONF,")).await;
    assert_eq!(h.engine.item_count(), 1);
    let calls = h.data.calls();
    assert_eq!(
        calls.last().map(String::as_str),
        Some("+item1"),
        "the provider was left unsubscribed while B holds the item: {calls:?}"
    );
}

/// Without overlap, the same sequence is fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribe_then_subscribe_in_sequence() {
    let h = Harness::new();
    let mut a = h.open().await;
    h.subscribe(&mut a, &add(1, "MERGE", "item1", "a", ""))
        .await;
    h.ok(&a.session, "LS_op=delete&LS_subId=1").await;
    let mut b = h.open().await;
    h.subscribe(&mut b, &add(1, "MERGE", "item1", "a", ""))
        .await;
    assert_eq!(h.data.calls(), vec!["+item1", "-item1", "+item1"]);
    h.data.update("item1", &[("a", "x")], false);
    assert_eq!(b.next_lines(1).await, vec!["U,1,1,x"]);
}

/// Two threads push events of one item at the same time: every session
/// receives them in the same order (one item's fan-outs do not overtake
/// each other, although each is made outside the item's state lock).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_events_of_one_item_reach_every_session_in_one_order() {
    const EACH: usize = 1000;
    let h = Arc::new(Harness::new());
    let mut clients = Vec::new();
    // Enough sessions that a fan-out takes a while.
    for _ in 0..40 {
        let mut c = h.open().await;
        h.subscribe(&mut c, &add(1, "RAW", "item1", "a", "")).await;
        clients.push(c);
    }
    // Both threads start together.
    let start = Arc::new(std::sync::Barrier::new(2));
    let push = |tag: &'static str| {
        let data = h.data.clone();
        let start = start.clone();
        std::thread::spawn(move || {
            start.wait();
            for i in 0..EACH {
                data.update("item1", &[("a", &format!("{tag}{i}"))], false);
            }
        })
    };
    let (x, y) = (push("x"), push("y"));
    let (x, y) = (x.join(), y.join());
    assert!(x.is_ok() && y.is_ok(), "a pushing thread panicked");
    let mut orders = Vec::new();
    for c in &mut clients {
        let lines = c.next_lines(2 * EACH).await;
        orders.push(lines);
    }
    assert!(
        orders.iter().all(|o| *o == orders[0]),
        "sessions saw different orders"
    );
    // Each thread's own events are in its order.
    for tag in ["x", "y"] {
        let mine: Vec<&String> = orders[0]
            .iter()
            .filter(|l| l.contains(&format!(",{tag}")))
            .collect();
        assert_eq!(mine.len(), EACH);
    }
}
