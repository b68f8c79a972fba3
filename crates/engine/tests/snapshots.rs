//! Snapshots from the provider: pushed from inside `subscribe`, or still
//! coming when another session subscribes the same item.

mod common;

use common::*;
use std::time::Duration;

#[tokio::test]
async fn merge_snapshot_pushed_from_inside_subscribe() {
    let h = Harness::new();
    h.data.snapshot_available("item1");
    h.data.push_on_subscribe(
        "item1",
        vec![
            Push::Update(event(&[("a", "1"), ("b", "2")]), true),
            Push::EndOfSnapshot,
        ],
    );
    let mut c = h.open().await;
    h.ok(
        &c.session,
        &add(1, "MERGE", "item1", "a b", "LS_snapshot=true"),
    )
    .await;
    assert_eq!(
        c.next_lines(3).await,
        vec!["SUBOK,1,1,2", "CONF,1,unlimited,filtered", "U,1,1,1|2"]
    );
    h.data.update("item1", &[("a", "3")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,3|"]);
}

#[tokio::test]
async fn distinct_and_command_snapshots_pushed_from_inside_subscribe() {
    let h = Harness::new();
    h.data.snapshot_available("item1");
    h.data.push_on_subscribe(
        "item1",
        vec![
            Push::Update(event(&[("key", "A"), ("command", "ADD"), ("v", "1")]), true),
            Push::Update(event(&[("key", "B"), ("command", "ADD"), ("v", "2")]), true),
            Push::EndOfSnapshot,
        ],
    );
    let mut c = h.open().await;
    h.ok(
        &c.session,
        &add(1, "COMMAND", "item1", "key command v", "LS_snapshot=true"),
    )
    .await;
    assert_eq!(
        c.next_lines(5).await,
        vec![
            "SUBCMD,1,1,3,1,2",
            "CONF,1,unlimited,filtered",
            "U,1,1,A|ADD|1",
            "U,1,1,B|ADD|2",
            "EOS,1,1"
        ]
    );
    h.ok(
        &c.session,
        &add(2, "DISTINCT", "item1", "key v", "LS_snapshot=true"),
    )
    .await;
    assert_eq!(
        c.next_lines(5).await,
        vec![
            "SUBOK,2,1,2",
            "CONF,2,unlimited,filtered",
            "U,2,1,A|1",
            "U,2,1,B|2",
            "EOS,2,1"
        ]
    );
}

/// A provider that reads a snapshot of several events from storage (a
/// broker's last entries) hands it whole: MERGE gets the state they leave,
/// DISTINCT the events, COMMAND the rows.
#[tokio::test]
async fn a_whole_snapshot_takes_each_mode_s_shape() {
    let h = Harness::new();
    h.data.snapshot_available("q");
    h.data.push_on_subscribe(
        "q",
        vec![Push::Snapshot(vec![
            event(&[("bid", "1"), ("ask", "2")]),
            event(&[("bid", "3")]),
        ])],
    );
    let mut c = h.open().await;
    h.ok(
        &c.session,
        &add(1, "MERGE", "q", "bid ask", "LS_snapshot=true"),
    )
    .await;
    assert_eq!(
        c.next_lines(3).await,
        vec!["SUBOK,1,1,2", "CONF,1,unlimited,filtered", "U,1,1,3|2"]
    );
    h.ok(
        &c.session,
        &add(2, "DISTINCT", "q", "bid ask", "LS_snapshot=true"),
    )
    .await;
    assert_eq!(
        c.next_lines(5).await,
        vec![
            "SUBOK,2,1,2",
            "CONF,2,unlimited,filtered",
            "U,2,1,1|2",
            "U,2,1,3|",
            "EOS,2,1"
        ]
    );
    h.data.snapshot_available("rows");
    h.data.push_on_subscribe(
        "rows",
        vec![Push::Snapshot(vec![
            event(&[("key", "A"), ("command", "ADD"), ("v", "1")]),
            event(&[("key", "B"), ("command", "ADD"), ("v", "2")]),
            event(&[("key", "A"), ("command", "DELETE")]),
        ])],
    );
    h.ok(
        &c.session,
        &add(3, "COMMAND", "rows", "key command v", "LS_snapshot=true"),
    )
    .await;
    let lines = c.next_lines(4).await;
    assert_eq!(lines[0], "SUBCMD,3,1,3,1,2");
    assert_eq!(lines[3], "EOS,3,1", "{lines:?}");
    // Rows A then B, then A deleted, or only B: either way B is the one row left.
    assert!(
        lines[2].starts_with("U,3,1,B|ADD|2") || lines[2].contains("DELETE"),
        "{lines:?}"
    );
}

#[tokio::test]
async fn snapshot_events_skip_subscribers_that_did_not_ask() {
    let h = Harness::new();
    h.data.snapshot_available("item1");
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "DISTINCT", "item1", "a", ""))
        .await;
    h.subscribe(&mut c, &add(2, "COMMAND", "item1", "key command a", ""))
        .await;
    h.data.update(
        "item1",
        &[("key", "K"), ("command", "ADD"), ("a", "snap")],
        true,
    );
    h.data.end_of_snapshot("item1");
    c.quiet(Duration::from_millis(50)).await;
    h.data.update(
        "item1",
        &[("key", "K"), ("command", "UPDATE"), ("a", "live")],
        false,
    );
    let mut got = c.next_lines(2).await;
    got.sort();
    assert_eq!(got, vec!["U,1,1,live", "U,2,1,K|UPDATE|live"]);
}

#[tokio::test]
async fn merge_subscriber_joining_during_the_snapshot_gets_the_state() {
    let h = Harness::new();
    h.data.snapshot_available("item1");
    let mut a = h.open().await;
    h.subscribe(&mut a, &add(1, "MERGE", "item1", "a", "LS_snapshot=true"))
        .await;
    h.data.update("item1", &[("a", "s")], true);
    assert_eq!(a.next_lines(1).await, vec!["U,1,1,s"]);
    let mut b = h.open().await;
    h.ok(
        &b.session,
        &add(1, "MERGE", "item1", "a", "LS_snapshot=true"),
    )
    .await;
    assert_eq!(
        b.next_lines(3).await,
        vec!["SUBOK,1,1,1", "CONF,1,unlimited,filtered", "U,1,1,s"]
    );
    h.data.end_of_snapshot("item1");
    a.quiet(Duration::from_millis(50)).await;
    b.quiet(Duration::from_millis(50)).await;
}

/// The provider has sent part of a DISTINCT snapshot for a first session
/// when a second one subscribes: the second must get the whole snapshot.
#[tokio::test]

async fn distinct_subscriber_joining_during_the_snapshot_gets_all_of_it() {
    let h = Harness::new();
    h.data.snapshot_available("item1");
    let mut a = h.open().await;
    h.subscribe(
        &mut a,
        &add(1, "DISTINCT", "item1", "a", "LS_snapshot=true"),
    )
    .await;
    h.data.update("item1", &[("a", "s1")], true);
    h.data.update("item1", &[("a", "s2")], true);
    let mut b = h.open().await;
    h.subscribe(
        &mut b,
        &add(1, "DISTINCT", "item1", "a", "LS_snapshot=true"),
    )
    .await;
    h.data.update("item1", &[("a", "s3")], true);
    h.data.end_of_snapshot("item1");
    let want = vec!["U,1,1,s1", "U,1,1,s2", "U,1,1,s3", "EOS,1,1"];
    assert_eq!(a.until_prefix("EOS,").await, want);
    assert_eq!(b.until_prefix("EOS,").await, want);
}

/// The same for COMMAND: the second session would miss rows and later
/// see UPDATE or DELETE of keys it never got.
#[tokio::test]

async fn command_subscriber_joining_during_the_snapshot_gets_all_rows() {
    let h = Harness::new();
    h.data.snapshot_available("item1");
    let mut a = h.open().await;
    h.subscribe(
        &mut a,
        &add(1, "COMMAND", "item1", "key command v", "LS_snapshot=true"),
    )
    .await;
    h.data.update(
        "item1",
        &[("key", "A"), ("command", "ADD"), ("v", "1")],
        true,
    );
    let mut b = h.open().await;
    h.subscribe(
        &mut b,
        &add(1, "COMMAND", "item1", "key command v", "LS_snapshot=true"),
    )
    .await;
    h.data.update(
        "item1",
        &[("key", "B"), ("command", "ADD"), ("v", "2")],
        true,
    );
    h.data.end_of_snapshot("item1");
    let want = vec!["U,1,1,A|ADD|1", "U,1,1,B|ADD|2", "EOS,1,1"];
    assert_eq!(a.until_prefix("EOS,").await, want);
    assert_eq!(b.until_prefix("EOS,").await, want);
}

/// A source with positions (a broker feed): the engine knows where each
/// subscribed item's history stands, and forgets it with the item.
#[tokio::test]
async fn the_position_of_the_last_event_is_kept_per_item() {
    use shoal_adapter::Position;
    let h = Harness::new();
    let mut c = h.open().await;
    h.ok(&c.session, &add(1, "RAW", "item1", "a", "")).await;
    assert_eq!(c.next_lines(2).await[0], "SUBOK,1,1,1");
    assert_eq!(h.engine.item_position(SET, "DEFAULT", "item1"), None);
    let at = |ms| Position::Redis { ms, seq: 0 };
    h.data
        .event("item1", event(&[("a", "1")]).with_position(at(7)), false);
    h.data.event("item1", event(&[("a", "2")]), false);
    assert_eq!(c.next_lines(2).await, vec!["U,1,1,1", "U,1,1,2"]);
    assert_eq!(
        h.engine.item_position(SET, "DEFAULT", "item1"),
        Some(at(7)),
        "an event without a position leaves it"
    );
    h.data
        .event("item1", event(&[("a", "3")]).with_position(at(9)), false);
    c.next_lines(1).await;
    assert_eq!(h.engine.item_position(SET, "DEFAULT", "item1"), Some(at(9)));
    assert_eq!(h.engine.item_position(SET, "DEFAULT", "other"), None);
    assert_eq!(h.engine.item_position("NOPE", "DEFAULT", "item1"), None);
}
