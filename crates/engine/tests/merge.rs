//! MERGE subscriptions: SUBOK/CONF, snapshots, delta encoding, shared
//! upstream subscriptions, unsubscription, frequency limits and reconf.

mod common;

use common::*;
use shoal_adapter::{ItemData, ItemEvent};
use shoal_engine::EngineConfig;
use std::time::{Duration, Instant};

#[tokio::test]
async fn subok_then_conf() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.ok(&c.session, &add(1, "MERGE", "item1 item2 item3", "a b", ""))
        .await;
    assert_eq!(
        c.next_lines(2).await,
        vec!["SUBOK,1,3,2", "CONF,1,unlimited,filtered"]
    );
    c.quiet(Duration::from_millis(50)).await;
    assert_eq!(h.progressive(&c.session), 2);
    assert_eq!(h.data.calls(), vec!["+item1", "+item2", "+item3"]);
    assert_eq!(h.engine.item_count(), 3);
}

#[tokio::test]
async fn snapshot_is_sent_in_full_then_updates_are_deltas() {
    let h = Harness::new();
    h.data.snapshot_available("item1");
    let mut c = h.open().await;
    let lines = h
        .subscribe(
            &mut c,
            &add(1, "MERGE", "item1", "a b c", "LS_snapshot=true"),
        )
        .await;
    assert_eq!(lines, vec!["SUBOK,1,1,3", "CONF,1,unlimited,filtered"]);
    // Nothing until the provider sends the snapshot.
    c.quiet(Duration::from_millis(50)).await;

    h.data
        .update("item1", &[("a", "1"), ("b", "2"), ("c", "3")], true);
    h.data.end_of_snapshot("item1");
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,1|2|3"]);

    // Consecutive events: only the changed fields are sent.
    h.data.update("item1", &[("b", "20")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,|20|"]);
    // A value set to what it already was is unchanged too.
    h.data.update("item1", &[("a", "1"), ("c", "30")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,||30"]);
    // Null and empty values.
    let mut ev = ItemEvent::new().with("a", "");
    ev.set("b", None);
    h.data.event("item1", ev, false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,$|#|"]);
    c.quiet(Duration::from_millis(50)).await;

    // The decoded state follows every update.
    let mut state = vec![None; 3];
    for l in c.lines.iter().filter(|l| l.starts_with("U,")) {
        state = values(l, &state);
    }
    assert_eq!(state, vals(&[Some(""), None, Some("30")]));
}

#[tokio::test]
async fn conflated_events_are_sent_in_full_with_the_latest_values() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "a b", ""))
        .await;
    h.data.update("item1", &[("a", "1"), ("b", "x")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,1|x"]);
    // Three events while the client reads nothing: one update, the latest,
    // and since the client missed events it cannot be a delta.
    h.data.update("item1", &[("a", "2")], false);
    h.data.update("item1", &[("a", "3")], false);
    h.data.update("item1", &[("a", "4")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,4|x"]);
    c.quiet(Duration::from_millis(50)).await;
    h.data.update("item1", &[("b", "y")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,|y"]);
}

#[tokio::test]
async fn values_are_escaped() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "a b c", ""))
        .await;
    h.data
        .update("item1", &[("a", "#x"), ("b", "p|q"), ("c", "100%")], false);
    let lines = c.next_lines(1).await;
    assert_eq!(lines, vec!["U,1,1,%23x|p%7Cq|100%25"]);
    assert_eq!(
        values(&lines[0], &[None, None, None]),
        vals(&[Some("#x"), Some("p|q"), Some("100%")])
    );
}

#[tokio::test]
async fn late_subscriber_gets_the_current_state_as_snapshot() {
    let h = Harness::new();
    let mut a = h.open().await;
    h.subscribe(&mut a, &add(1, "MERGE", "item1", "a b", ""))
        .await;
    h.data.update("item1", &[("a", "1"), ("b", "2")], false);
    assert_eq!(a.next_lines(1).await, vec!["U,1,1,1|2"]);
    h.data.update("item1", &[("b", "3")], false);
    assert_eq!(a.next_lines(1).await, vec!["U,1,1,|3"]);

    let mut b = h.open().await;
    let lines = h
        .subscribe(&mut b, &add(7, "MERGE", "item1", "b a", "LS_snapshot=true"))
        .await;
    let mut lines = lines;
    if lines.len() < 3 {
        lines.extend(b.next_lines(1).await);
    }
    assert_eq!(
        lines,
        vec!["SUBOK,7,1,2", "CONF,7,unlimited,filtered", "U,7,1,3|1"]
    );
    // Without a snapshot a subscriber gets the next event, in full.
    let mut c = h.open().await;
    h.subscribe(
        &mut c,
        &add(2, "MERGE", "item1", "a b", "LS_snapshot=false"),
    )
    .await;
    c.quiet(Duration::from_millis(50)).await;
    h.data.update("item1", &[("a", "9")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,2,1,9|3"]);
    assert_eq!(b.next_lines(1).await, vec!["U,7,1,|9"]);
    assert_eq!(h.data.subscribes("item1"), 1);
}

#[tokio::test]
async fn two_sessions_share_one_upstream_subscription() {
    let h = Harness::new();
    let mut a = h.open().await;
    let mut b = h.open().await;
    h.subscribe(&mut a, &add(1, "MERGE", "item1", "a", ""))
        .await;
    h.subscribe(&mut b, &add(1, "MERGE", "item1 item2", "a", ""))
        .await;
    assert_eq!(h.data.subscribes("item1"), 1);
    assert_eq!(h.data.subscribes("item2"), 1);
    assert_eq!(h.engine.item_count(), 2);

    h.data.update("item1", &[("a", "v")], false);
    h.data.update("item2", &[("a", "w")], false);
    assert_eq!(a.next_lines(1).await, vec!["U,1,1,v"]);
    let mut got = b.next_lines(2).await;
    got.sort();
    assert_eq!(got, vec!["U,1,1,v", "U,1,2,w"]);

    // The first session leaves: still subscribed upstream for the other.
    h.ok(&a.session, "LS_op=delete&LS_subId=1").await;
    assert_eq!(a.next_lines(1).await, vec!["UNSUB,1"]);
    assert!(h.data.calls().iter().all(|c| !c.starts_with('-')));
    h.data.update("item1", &[("a", "v2")], false);
    assert_eq!(b.next_lines(1).await, vec!["U,1,1,v2"]);
    a.quiet(Duration::from_millis(50)).await;

    // The last one leaves: one upstream unsubscribe per item.
    h.ok(&b.session, "LS_op=delete&LS_subId=1").await;
    assert_eq!(b.next_lines(1).await, vec!["UNSUB,1"]);
    assert_eq!(h.data.unsubscribes("item1"), 1);
    assert_eq!(h.data.unsubscribes("item2"), 1);
    assert_eq!(h.engine.item_count(), 0);
    h.data.update("item1", &[("a", "gone")], false);
    b.quiet(Duration::from_millis(50)).await;

    // Subscribing again subscribes upstream again.
    h.subscribe(&mut a, &add(2, "MERGE", "item1", "a", ""))
        .await;
    assert_eq!(h.data.subscribes("item1"), 2);
}

#[tokio::test]
async fn one_session_subscribing_an_item_twice_shares_it() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "a", ""))
        .await;
    h.subscribe(&mut c, &add(2, "MERGE", "item1", "a b", ""))
        .await;
    assert_eq!(h.data.subscribes("item1"), 1);
    h.data.update("item1", &[("a", "1"), ("b", "2")], false);
    let mut got = c.next_lines(2).await;
    got.sort();
    assert_eq!(got, vec!["U,1,1,1", "U,2,1,1|2"]);
    h.ok(&c.session, "LS_op=delete&LS_subId=2").await;
    assert_eq!(c.next_lines(1).await, vec!["UNSUB,2"]);
    assert_eq!(h.data.unsubscribes("item1"), 0);
    h.data.update("item1", &[("a", "3")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,3"]);
    h.ok(&c.session, "LS_op=delete&LS_subId=1").await;
    assert_eq!(h.data.unsubscribes("item1"), 1);
}

#[tokio::test]
async fn pending_updates_of_a_deleted_subscription_are_dropped() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "a", ""))
        .await;
    h.data.update("item1", &[("a", "1")], false);
    h.ok(&c.session, "LS_op=delete&LS_subId=1").await;
    let lines = c.until_prefix("UNSUB,").await;
    assert_eq!(lines, vec!["UNSUB,1"]);
    c.quiet(Duration::from_millis(50)).await;
    // The subscription id can be used again.
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "a", "LS_snapshot=true"))
        .await;
    c.quiet(Duration::from_millis(50)).await;
    h.data.update("item1", &[("a", "2")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,2"]);
}

#[tokio::test]
async fn delete_of_an_unknown_subscription_is_19() {
    let h = Harness::new();
    let c = h.open().await;
    let r = h.control(&c.session, "LS_op=delete&LS_subId=4").await;
    assert_eq!(r.err().map(|e| e.0), Some(19));
}

#[tokio::test]
async fn fields_outside_the_schema() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "a b", ""))
        .await;
    // "b" is never sent by the provider: it stays null. "z" is not in the
    // schema: it is not shown.
    h.data.update("item1", &[("z", "0"), ("a", "1")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,1|#"]);
    let mut state = vals(&[Some("1"), None]);
    // An event that only touches "z" changes nothing the client sees.
    h.data.update("item1", &[("z", "5")], false);
    h.data.update("item1", &[("a", "2")], false);
    let lines = c.until_prefix("U,1,1,2").await;
    for l in &lines {
        state = values(l, &state);
    }
    assert_eq!(state, vals(&[Some("2"), None]));
    // Snapshot for a later subscriber of the same item, with "z" in its
    // schema.
    let mut d = h.open().await;
    let mut lines = h
        .subscribe(
            &mut d,
            &add(3, "MERGE", "item1", "z a b", "LS_snapshot=true"),
        )
        .await;
    if lines.len() < 3 {
        lines.extend(d.next_lines(1).await);
    }
    assert_eq!(lines[2], "U,3,1,5|2|#");
}

#[tokio::test]
async fn events_that_change_no_subscribed_field_send_nothing_wrong() {
    // Whatever the server sends for such an event, it must decode to the
    // same values (an all-unchanged update at most).
    let h = Harness::new();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "a", ""))
        .await;
    h.data.update("item1", &[("a", "1")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,1"]);
    h.data.update("item1", &[("other", "x")], false);
    h.data.update("item1", &[("a", "1")], false);
    h.data.update("item1", &[("a", "2")], false);
    let lines = c.until(|l| l.iter().any(|x| x == "U,1,1,2")).await;
    let mut state = vals(&[Some("1")]);
    for l in &lines {
        state = values(l, &state);
        if l != "U,1,1,2" {
            assert_eq!(state, vals(&[Some("1")]), "{lines:?}");
        }
    }
}

#[tokio::test]
async fn clear_snapshot_sends_an_all_null_update() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "a b", ""))
        .await;
    h.data.update("item1", &[("a", "1"), ("b", "2")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,1|2"]);
    h.data.clear_snapshot("item1");
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,#|#"]);
    h.data.update("item1", &[("a", "3")], false);
    let lines = c.next_lines(1).await;
    assert_eq!(
        values(&lines[0], &vals(&[None, None])),
        vals(&[Some("3"), None])
    );
    // A late subscriber's snapshot no longer has the cleared values.
    let mut d = h.open().await;
    let mut lines = h
        .subscribe(&mut d, &add(1, "MERGE", "item1", "a b", "LS_snapshot=true"))
        .await;
    if lines.len() < 3 {
        lines.extend(d.next_lines(1).await);
    }
    assert_eq!(lines[2], "U,1,1,3|#");
}

#[tokio::test]
async fn events_for_unsubscribed_items_are_ignored() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.data.update("item9", &[("a", "1")], false);
    h.data.end_of_snapshot("item9");
    h.data.clear_snapshot("item9");
    h.subscribe(&mut c, &add(1, "MERGE", "item9", "a", "LS_snapshot=true"))
        .await;
    c.quiet(Duration::from_millis(50)).await;
}

#[tokio::test]
async fn other_data_adapter_is_addressed_by_name() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.subscribe(
        &mut c,
        &add(1, "MERGE", "item1", "a", "LS_data_adapter=OTHER"),
    )
    .await;
    assert_eq!(h.other.calls(), vec!["+item1"]);
    assert!(h.data.calls().is_empty());
    h.data.update("item1", &[("a", "default")], false);
    h.other.update("item1", &[("a", "other")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,other"]);
    c.quiet(Duration::from_millis(50)).await;
}

// ---------------------------------------------------------------------------
// Frequency limits

/// With a limit of 1 update/s, the events of one second give one update
/// with the latest values. Uses the paused clock.
#[tokio::test(start_paused = true)]

async fn frequency_limit_conflates_under_paused_time() {
    let h = Harness::new();
    let mut c = h.open_with("LS_keepalive_millis=30000", &ws()).await;
    let lines = h
        .subscribe(
            &mut c,
            &add(1, "MERGE", "item1", "a b", "LS_requested_max_frequency=1"),
        )
        .await;
    assert_eq!(lines, vec!["SUBOK,1,1,2", "CONF,1,1.0,filtered"]);
    h.data.update("item1", &[("a", "0"), ("b", "x")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,0|x"]);
    let real = Instant::now();
    let t0 = tokio::time::Instant::now();
    for i in 1..=20 {
        h.data.update("item1", &[("a", &i.to_string())], false);
    }
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,20|x"]);
    assert!(tokio::time::Instant::now() - t0 >= Duration::from_millis(990));
    assert!(
        real.elapsed() < Duration::from_millis(300),
        "waited {:?} of real time under a paused clock",
        real.elapsed()
    );
}

/// The same in real time, with a limit of 5 updates/s.
#[tokio::test]
async fn frequency_limit_conflates_to_the_latest_values() {
    let h = Harness::new();
    let mut c = h.open_with("LS_keepalive_millis=30000", &ws()).await;
    let lines = h
        .subscribe(
            &mut c,
            &add(1, "MERGE", "item1", "a b", "LS_requested_max_frequency=5"),
        )
        .await;
    assert_eq!(lines, vec!["SUBOK,1,1,2", "CONF,1,5.0,filtered"]);
    h.data.update("item1", &[("a", "0"), ("b", "x")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,0|x"]);
    let sent = Instant::now();
    for i in 1..=20 {
        h.data.update("item1", &[("a", &i.to_string())], false);
    }
    c.quiet(Duration::from_millis(40)).await;
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,20|x"]);
    let waited = sent.elapsed();
    assert!(waited >= Duration::from_millis(100), "{waited:?}");
    assert!(waited < Duration::from_millis(1000), "{waited:?}");
    c.quiet(Duration::from_millis(150)).await;
}

#[tokio::test]
async fn frequency_limit_applies_per_item() {
    let h = Harness::new();
    let mut c = h.open_with("LS_keepalive_millis=30000", &ws()).await;
    h.subscribe(
        &mut c,
        &add(
            1,
            "MERGE",
            "item1 item2",
            "a",
            "LS_requested_max_frequency=5",
        ),
    )
    .await;
    h.data.update("item1", &[("a", "1")], false);
    h.data.update("item2", &[("a", "1")], false);
    let mut got = c.next_lines(2).await;
    got.sort();
    assert_eq!(got, vec!["U,1,1,1", "U,1,2,1"]);
    h.data.update("item1", &[("a", "2")], false);
    h.data.update("item2", &[("a", "2")], false);
    h.data.update("item1", &[("a", "3")], false);
    let mut got = c.next_lines(2).await;
    got.sort();
    assert_eq!(got, vec!["U,1,1,3", "U,1,2,2"]);
}

#[tokio::test]
async fn metadata_frequency_limit_caps_the_request() {
    let h = Harness::new();
    h.meta.limit_item(
        "item1",
        ItemData {
            max_frequency: Some(2.0),
            max_buffer_size: None,
            ..Default::default()
        },
    );
    let mut c = h.open().await;
    let lines = h
        .subscribe(&mut c, &add(1, "MERGE", "item1", "a", ""))
        .await;
    assert_eq!(lines[1], "CONF,1,2.0,filtered");
    let lines = h
        .subscribe(
            &mut c,
            &add(2, "MERGE", "item1", "a", "LS_requested_max_frequency=0.5"),
        )
        .await;
    assert_eq!(lines[1], "CONF,2,0.5,filtered");
}

#[tokio::test]
async fn reconf_changes_the_frequency_and_sends_conf() {
    let h = Harness::new();
    let mut c = h.open_with("LS_keepalive_millis=30000", &ws()).await;
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "a", ""))
        .await;
    h.ok(
        &c.session,
        "LS_op=reconf&LS_subId=1&LS_requested_max_frequency=2.5",
    )
    .await;
    assert_eq!(c.next_lines(1).await, vec!["CONF,1,2.5,filtered"]);
    h.ok(
        &c.session,
        "LS_op=reconf&LS_subId=1&LS_requested_max_frequency=unlimited",
    )
    .await;
    assert_eq!(c.next_lines(1).await, vec!["CONF,1,unlimited,filtered"]);
    assert_eq!(h.progressive(&c.session), 4, "CONF is counted");

    // Now limit it to 10/s and check that the limit holds.
    h.ok(
        &c.session,
        "LS_op=reconf&LS_subId=1&LS_requested_max_frequency=10",
    )
    .await;
    assert_eq!(c.next_lines(1).await, vec!["CONF,1,10.0,filtered"]);
    h.data.update("item1", &[("a", "1")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,1"]);
    let t = Instant::now();
    h.data.update("item1", &[("a", "2")], false);
    h.data.update("item1", &[("a", "3")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,3"]);
    assert!(
        t.elapsed() >= Duration::from_millis(50),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn reconf_errors() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.subscribe(
        &mut c,
        &add(
            1,
            "MERGE",
            "item1",
            "a",
            "LS_requested_max_frequency=unfiltered",
        ),
    )
    .await;
    h.subscribe(&mut c, &add(2, "RAW", "item1", "a", "")).await;
    let reconf = |id: u32| format!("LS_op=reconf&LS_subId={id}&LS_requested_max_frequency=1");
    let r = h.control(&c.session, &reconf(1)).await;
    assert_eq!(r.err().map(|e| e.0), Some(13));
    let r = h.control(&c.session, &reconf(2)).await;
    assert_eq!(r.err().map(|e| e.0), Some(13));
    let r = h.control(&c.session, &reconf(3)).await;
    assert_eq!(r.err().map(|e| e.0), Some(19));
    c.quiet(Duration::from_millis(50)).await;
}

/// Raising the frequency must take effect at once, not after the wait the
/// old, lower limit imposed.
#[tokio::test]

async fn reconf_to_a_higher_frequency_applies_at_once() {
    let h = Harness::new();
    let mut c = h.open_with("LS_keepalive_millis=30000", &ws()).await;
    h.subscribe(
        &mut c,
        &add(1, "MERGE", "item1", "a", "LS_requested_max_frequency=0.1"),
    )
    .await;
    h.data.update("item1", &[("a", "1")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,1"]);
    h.ok(
        &c.session,
        "LS_op=reconf&LS_subId=1&LS_requested_max_frequency=unlimited",
    )
    .await;
    assert_eq!(c.next_lines(1).await, vec!["CONF,1,unlimited,filtered"]);
    h.data.update("item1", &[("a", "2")], false);
    let got = c.chunk_within(Duration::from_millis(1000)).await;
    assert!(
        matches!(&got, Some(Some(t)) if t == "U,1,1,2\r\n"),
        "the update waited for the old 10 s interval: {got:?}"
    );
}

/// A metadata frequency limit applies to reconf as it does to add.
#[tokio::test]

async fn reconf_cannot_exceed_the_metadata_limit() {
    let h = Harness::new();
    h.meta.limit_item(
        "item1",
        ItemData {
            max_frequency: Some(1.0),
            max_buffer_size: None,
            ..Default::default()
        },
    );
    let mut c = h.open().await;
    let lines = h
        .subscribe(&mut c, &add(1, "MERGE", "item1", "a", ""))
        .await;
    assert_eq!(lines[1], "CONF,1,1.0,filtered");
    h.ok(
        &c.session,
        "LS_op=reconf&LS_subId=1&LS_requested_max_frequency=5",
    )
    .await;
    assert_eq!(c.next_lines(1).await, vec!["CONF,1,1.0,filtered"]);
}

// ---------------------------------------------------------------------------
// Buffers

#[tokio::test]
async fn requested_buffer_size_keeps_several_merge_events() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.subscribe(
        &mut c,
        &add(1, "MERGE", "item1", "a", "LS_requested_buffer_size=3"),
    )
    .await;
    for i in 1..=5 {
        h.data.update("item1", &[("a", &i.to_string())], false);
    }
    // The buffer holds 3 events; the newest replaces the last one.
    let lines = c.next_lines(3).await;
    assert_eq!(lines, vec!["U,1,1,1", "U,1,1,2", "U,1,1,5"]);
    c.quiet(Duration::from_millis(50)).await;
}

/// `unfiltered` asks for every event: MERGE must not conflate them (the
/// documented buffer is the 10 000-event one of RAW and DISTINCT).
#[tokio::test]

async fn unfiltered_merge_delivers_every_event() {
    let h = Harness::with_config(EngineConfig {
        max_buffer: 10,
        ..EngineConfig::default()
    });
    let mut c = h.open().await;
    let lines = h
        .subscribe(
            &mut c,
            &add(
                1,
                "MERGE",
                "item1",
                "a",
                "LS_requested_max_frequency=unfiltered",
            ),
        )
        .await;
    assert_eq!(lines, vec!["SUBOK,1,1,1", "CONF,1,unlimited,unfiltered"]);
    for i in 1..=3 {
        h.data.update("item1", &[("a", &i.to_string())], false);
    }
    let lines = c.next_lines(3).await;
    assert_eq!(lines, vec!["U,1,1,1", "U,1,1,2", "U,1,1,3"]);
}

/// A frequency limit makes the update wait on a stream kept alive; the
/// engine wakes the stream when the item may send again (no event needed).
#[tokio::test]
async fn a_waiting_update_is_sent_without_further_events() {
    let h = Harness::with_config(fast_config());
    let mut c = h.open_with("LS_keepalive_millis=5000", &ws()).await;
    h.subscribe(
        &mut c,
        &add(1, "MERGE", "item1", "a", "LS_requested_max_frequency=20"),
    )
    .await;
    h.data.update("item1", &[("a", "1")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,1"]);
    h.data.update("item1", &[("a", "2")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,2"]);
}
