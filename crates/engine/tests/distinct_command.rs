//! DISTINCT and COMMAND subscriptions: snapshots with EOS, history
//! lengths, SUBCMD, the ADD/UPDATE/DELETE life of rows, CS.

mod common;

use common::*;
use shoal_adapter::Mode;
use shoal_engine::EngineConfig;
use std::time::Duration;

/// Keeps `item` subscribed upstream (so that events are recorded) through
/// a session that never reads, and returns it.
async fn keep_alive(h: &Harness, item: &str) -> Client {
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(99, "RAW", item, "a", "")).await;
    c
}

// ---------------------------------------------------------------------------
// DISTINCT

#[tokio::test]
async fn distinct_snapshot_with_a_length_then_eos() {
    let h = Harness::new();
    let _keeper = keep_alive(&h, "item1").await;
    for i in 1..=5 {
        h.data
            .update("item1", &[("a", &i.to_string()), ("b", "x")], false);
    }
    let mut c = h.open().await;
    let lines = h
        .subscribe(&mut c, &add(1, "DISTINCT", "item1", "a b", "LS_snapshot=3"))
        .await;
    assert_eq!(&lines[..2], &["SUBOK,1,1,2", "CONF,1,unlimited,filtered"]);
    let mut lines = lines[2..].to_vec();
    if !lines.iter().any(|l| l.starts_with("EOS")) {
        lines.extend(c.until_prefix("EOS,").await);
    }
    // The last three events, oldest first; consecutive ones as deltas.
    assert_eq!(lines, vec!["U,1,1,3|x", "U,1,1,4|", "U,1,1,5|", "EOS,1,1"]);
    c.quiet(Duration::from_millis(50)).await;

    h.data.update("item1", &[("a", "6")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,6|"]);
}

#[tokio::test]
async fn distinct_snapshot_true_is_bounded_by_the_configured_history() {
    let h = Harness::with_config(EngineConfig {
        distinct_snapshot_length: 4,
        ..EngineConfig::default()
    });
    let _keeper = keep_alive(&h, "item1").await;
    for i in 1..=9 {
        h.data.update("item1", &[("a", &i.to_string())], false);
    }
    let mut c = h.open().await;
    h.ok(
        &c.session,
        &add(1, "DISTINCT", "item1", "a", "LS_snapshot=true"),
    )
    .await;
    let lines = c.until_prefix("EOS,").await;
    assert_eq!(
        lines,
        vec![
            "SUBOK,1,1,1",
            "CONF,1,unlimited,filtered",
            "U,1,1,6",
            "U,1,1,7",
            "U,1,1,8",
            "U,1,1,9",
            "EOS,1,1"
        ]
    );
    // A length over the configured history gives the whole history.
    let mut d = h.open().await;
    h.ok(
        &d.session,
        &add(1, "DISTINCT", "item1", "a", "LS_snapshot=50"),
    )
    .await;
    let lines = d.until_prefix("EOS,").await;
    assert_eq!(lines.iter().filter(|l| l.starts_with("U,")).count(), 4);
}

#[tokio::test]
async fn a_provider_may_keep_a_longer_history_than_the_server() {
    let h = Harness::with_config(EngineConfig {
        distinct_snapshot_length: 4,
        ..EngineConfig::default()
    });
    h.data.keep_history("long", 20);
    h.data.keep_history("short", 2);
    let _long = keep_alive(&h, "long").await;
    let _short = keep_alive(&h, "short").await;
    for i in 1..=30 {
        h.data.update("long", &[("a", &i.to_string())], false);
        h.data.update("short", &[("a", &i.to_string())], false);
    }
    let snapshot = |item: &'static str| {
        let h = &h;
        async move {
            let mut c = h.open().await;
            h.ok(
                &c.session,
                &add(1, "DISTINCT", item, "a", "LS_snapshot=true"),
            )
            .await;
            let lines = c.until_prefix("EOS,").await;
            let updates: Vec<String> = lines.into_iter().filter(|l| l.starts_with("U,")).collect();
            updates
        }
    };
    let long = snapshot("long").await;
    assert_eq!(long.len(), 20, "{long:?}");
    assert_eq!(long[0], "U,1,1,11");
    // Never less than the server's own length.
    assert_eq!(snapshot("short").await.len(), 4);
}

#[tokio::test]
async fn distinct_without_history_sends_eos_at_once() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.ok(
        &c.session,
        &add(1, "DISTINCT", "item1", "a", "LS_snapshot=true"),
    )
    .await;
    assert_eq!(
        c.next_lines(3).await,
        vec!["SUBOK,1,1,1", "CONF,1,unlimited,filtered", "EOS,1,1"]
    );
    // Without a snapshot request: no EOS.
    h.ok(&c.session, &add(2, "DISTINCT", "item2", "a", ""))
        .await;
    assert_eq!(
        c.next_lines(2).await,
        vec!["SUBOK,2,1,1", "CONF,2,unlimited,filtered"]
    );
    c.quiet(Duration::from_millis(50)).await;
}

#[tokio::test]
async fn distinct_snapshot_from_the_provider_then_eos() {
    let h = Harness::new();
    h.data.snapshot_available("item1");
    let mut c = h.open().await;
    h.subscribe(
        &mut c,
        &add(1, "DISTINCT", "item1", "a", "LS_snapshot=true"),
    )
    .await;
    c.quiet(Duration::from_millis(50)).await;
    h.data.update("item1", &[("a", "s1")], true);
    h.data.update("item1", &[("a", "s2")], true);
    h.data.end_of_snapshot("item1");
    h.data.update("item1", &[("a", "live")], false);
    assert_eq!(
        c.next_lines(4).await,
        vec!["U,1,1,s1", "U,1,1,s2", "EOS,1,1", "U,1,1,live"]
    );
}

/// `LS_snapshot=2` with a provider that sends its snapshot after the
/// subscription: the client should get at most 2 snapshot events.
#[tokio::test]

async fn distinct_snapshot_length_applies_to_a_late_provider_snapshot() {
    let h = Harness::new();
    h.data.snapshot_available("item1");
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "DISTINCT", "item1", "a", "LS_snapshot=2"))
        .await;
    for v in ["s1", "s2", "s3", "s4"] {
        h.data.update("item1", &[("a", v)], true);
    }
    h.data.end_of_snapshot("item1");
    let lines = c.until_prefix("EOS,").await;
    let snapshot: Vec<&String> = lines.iter().filter(|l| l.starts_with("U,")).collect();
    assert!(snapshot.len() <= 2, "{lines:?}");
}

#[tokio::test]
async fn distinct_buffer_drops_the_oldest_events_silently() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.subscribe(
        &mut c,
        &add(1, "DISTINCT", "item1", "a", "LS_requested_buffer_size=2"),
    )
    .await;
    for i in 1..=5 {
        h.data.update("item1", &[("a", &i.to_string())], false);
    }
    assert_eq!(c.next_lines(2).await, vec!["U,1,1,4", "U,1,1,5"]);
    c.quiet(Duration::from_millis(50)).await;
}

#[tokio::test]
async fn distinct_clear_snapshot_sends_cs_and_empties_the_history() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "DISTINCT", "item1", "a b", ""))
        .await;
    h.data.update("item1", &[("a", "1"), ("b", "x")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,1|x"]);
    h.data.clear_snapshot("item1");
    assert_eq!(c.next_lines(1).await, vec!["CS,1,1"]);
    // After CS the client has no values: the next update is full.
    h.data.update("item1", &[("a", "2")], false);
    let lines = c.next_lines(1).await;
    assert_eq!(
        values(&lines[0], &vals(&[None, None])),
        vals(&[Some("2"), None])
    );
    assert_eq!(lines, vec!["U,1,1,2|#"]);
    // A new subscriber's snapshot starts after the clear.
    let mut d = h.open().await;
    h.ok(
        &d.session,
        &add(1, "DISTINCT", "item1", "a b", "LS_snapshot=true"),
    )
    .await;
    let lines = d.until_prefix("EOS,").await;
    assert_eq!(&lines[2..], &["U,1,1,2|#", "EOS,1,1"]);
}

// ---------------------------------------------------------------------------
// COMMAND

#[tokio::test]
async fn subcmd_gives_key_and_command_positions() {
    let h = Harness::new();
    let mut c = h.open().await;
    let lines = h
        .subscribe(&mut c, &add(1, "COMMAND", "item1", "key command price", ""))
        .await;
    assert_eq!(lines, vec!["SUBCMD,1,1,3,1,2", "CONF,1,unlimited,filtered"]);
    let lines = h
        .subscribe(
            &mut c,
            &add(2, "COMMAND", "item1 item2", "price qty command x key", ""),
        )
        .await;
    assert_eq!(lines, vec!["SUBCMD,2,2,5,5,3", "CONF,2,unlimited,filtered"]);
}

#[tokio::test]
async fn command_without_key_or_command_field_is_refused() {
    let h = Harness::new();
    let mut c = h.open().await;
    let r = h
        .control(&c.session, &add(1, "COMMAND", "item1", "command price", ""))
        .await;
    assert_eq!(r.err().map(|e| e.0), Some(15));
    let r = h
        .control(&c.session, &add(1, "COMMAND", "item1", "key price", ""))
        .await;
    assert_eq!(r.err().map(|e| e.0), Some(16));
    // Nothing was subscribed, upstream or on the stream.
    assert!(h.data.calls().is_empty());
    assert_eq!(h.engine.item_count(), 0);
    c.quiet(Duration::from_millis(50)).await;
    // The sub id is still free.
    h.subscribe(&mut c, &add(1, "COMMAND", "item1", "key command", ""))
        .await;
}

#[tokio::test]
async fn command_snapshot_rows_are_adds_then_eos() {
    let h = Harness::new();
    h.data.snapshot_available("item1");
    let mut c = h.open().await;
    h.subscribe(
        &mut c,
        &add(
            1,
            "COMMAND",
            "item1",
            "key command price",
            "LS_snapshot=true",
        ),
    )
    .await;
    c.quiet(Duration::from_millis(50)).await;
    h.data.update(
        "item1",
        &[("key", "A"), ("command", "ADD"), ("price", "1")],
        true,
    );
    h.data.update(
        "item1",
        &[("key", "B"), ("command", "ADD"), ("price", "2")],
        true,
    );
    h.data.end_of_snapshot("item1");
    assert_eq!(
        c.next_lines(3).await,
        vec!["U,1,1,A|ADD|1", "U,1,1,B|ADD|2", "EOS,1,1"]
    );
}

#[tokio::test]
async fn command_rows_add_update_delete() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.ok(
        &c.session,
        &add(
            1,
            "COMMAND",
            "item1",
            "key command price qty",
            "LS_snapshot=true",
        ),
    )
    .await;
    assert_eq!(
        c.next_lines(3).await,
        vec!["SUBCMD,1,1,4,1,2", "CONF,1,unlimited,filtered", "EOS,1,1"]
    );
    let row = |key: &str, cmd: &str, price: &str| {
        h.data.update(
            "item1",
            &[("key", key), ("command", cmd), ("price", price)],
            false,
        )
    };
    row("A", "ADD", "1");
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,A|ADD|1|#"]);
    row("B", "ADD", "2");
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,B|ADD|2|#"]);
    // UPDATE carries the whole row, never unchanged markers.
    h.data.update(
        "item1",
        &[("key", "A"), ("command", "UPDATE"), ("qty", "10")],
        false,
    );
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,A|UPDATE|1|10"]);
    // ADD of a known key is an UPDATE.
    row("A", "ADD", "3");
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,A|UPDATE|3|10"]);
    // UPDATE of an unknown key is an ADD.
    row("C", "UPDATE", "4");
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,C|ADD|4|#"]);
    // DELETE: key and command, nothing else.
    row("B", "DELETE", "");
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,B|DELETE|#|#"]);
    // DELETE of an unknown key, or an unknown command: nothing.
    row("Z", "DELETE", "");
    row("A", "FROB", "9");
    c.quiet(Duration::from_millis(50)).await;
    // After a DELETE the key can come back as an ADD.
    row("B", "UPDATE", "5");
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,B|ADD|5|#"]);

    // A late subscriber gets the rows as they are now, in ADD order.
    let mut d = h.open().await;
    h.ok(
        &d.session,
        &add(
            4,
            "COMMAND",
            "item1",
            "price key command",
            "LS_snapshot=true",
        ),
    )
    .await;
    let lines = d.until_prefix("EOS,").await;
    assert_eq!(
        lines,
        vec![
            "SUBCMD,4,1,3,2,3",
            "CONF,4,unlimited,filtered",
            "U,4,1,3|A|ADD",
            "U,4,1,4|C|ADD",
            "U,4,1,5|B|ADD",
            "EOS,4,1"
        ]
    );
}

#[tokio::test]
async fn command_clear_snapshot_sends_cs_and_forgets_rows() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "COMMAND", "item1", "key command v", ""))
        .await;
    h.data.update(
        "item1",
        &[("key", "A"), ("command", "ADD"), ("v", "1")],
        false,
    );
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,A|ADD|1"]);
    h.data.clear_snapshot("item1");
    assert_eq!(c.next_lines(1).await, vec!["CS,1,1"]);
    // The table is empty: the same key is added again.
    h.data.update(
        "item1",
        &[("key", "A"), ("command", "UPDATE"), ("v", "2")],
        false,
    );
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,A|ADD|2"]);
}

#[tokio::test]
async fn command_buffer_coalesces_each_key_once_full() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.subscribe(
        &mut c,
        &add(
            1,
            "COMMAND",
            "item1",
            "key command v",
            "LS_requested_buffer_size=1",
        ),
    )
    .await;
    let ev = |k: &str, cmd: &str, v: &str| {
        h.data
            .update("item1", &[("key", k), ("command", cmd), ("v", v)], false)
    };
    ev("A", "ADD", "1");
    ev("B", "ADD", "1");
    ev("A", "UPDATE", "2");
    ev("A", "UPDATE", "3");
    ev("B", "DELETE", "");
    // Past the buffer of 1 (A's ADD), each key keeps its last state: A's
    // UPDATEs merge, and B's ADD and DELETE cancel out (the client never
    // saw B).
    let lines = c.next_lines(2).await;
    assert_eq!(lines, vec!["U,1,1,A|ADD|1", "U,1,1,A|UPDATE|3"]);
    c.quiet(Duration::from_millis(50)).await;
}

#[tokio::test]
async fn merge_subscribers_of_a_command_item_see_merged_events() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "COMMAND", "item1", "key command v", ""))
        .await;
    let mut m = h.open().await;
    h.subscribe(&mut m, &add(2, "DISTINCT", "item1", "key v", ""))
        .await;
    h.data.update(
        "item1",
        &[("key", "A"), ("command", "ADD"), ("v", "1")],
        false,
    );
    h.data.update(
        "item1",
        &[("key", "B"), ("command", "ADD"), ("v", "2")],
        false,
    );
    assert_eq!(
        c.next_lines(2).await,
        vec!["U,1,1,A|ADD|1", "U,1,1,B|ADD|2"]
    );
    assert_eq!(m.next_lines(2).await, vec!["U,2,1,A|1", "U,2,1,B|2"]);
}

#[tokio::test]
async fn mode_not_allowed_is_24() {
    let h = Harness::new();
    h.meta.deny_mode("item2", Mode::Command);
    let c = h.open().await;
    let r = h
        .control(
            &c.session,
            &add(1, "COMMAND", "item1 item2", "key command", ""),
        )
        .await;
    let Err((code, msg)) = r else {
        panic!("accepted")
    };
    assert_eq!(code, 24);
    assert_eq!(msg, "Invalid mode for these items");
    assert!(h.data.calls().is_empty());
    h.ok(&c.session, &add(1, "MERGE", "item1 item2", "key", ""))
        .await;
}

/// Real time: DISTINCT with a frequency limit delays events but keeps them.
#[tokio::test]
async fn distinct_frequency_limit_spaces_events_without_losing_them() {
    let h = Harness::new();
    let mut c = h.open_with("LS_keepalive_millis=30000", &ws()).await;
    h.subscribe(
        &mut c,
        &add(1, "DISTINCT", "item1", "a", "LS_requested_max_frequency=20"),
    )
    .await;
    let t = std::time::Instant::now();
    for i in 1..=3 {
        h.data.update("item1", &[("a", &i.to_string())], false);
    }
    assert_eq!(c.next_lines(3).await, vec!["U,1,1,1", "U,1,1,2", "U,1,1,3"]);
    assert!(
        t.elapsed() >= Duration::from_millis(95),
        "{:?}",
        t.elapsed()
    );
}

/// In COMMAND mode a frequency limit applies to the UPDATEs of each key
/// (as Lightstreamer's metadata API documents): ADDs of new rows are not
/// held back by one another.
#[tokio::test]

async fn command_frequency_limit_does_not_delay_adds() {
    let h = Harness::new();
    let mut c = h.open_with("LS_keepalive_millis=30000", &ws()).await;
    h.subscribe(
        &mut c,
        &add(
            1,
            "COMMAND",
            "item1",
            "key command v",
            "LS_requested_max_frequency=1",
        ),
    )
    .await;
    for k in ["A", "B", "C"] {
        h.data.update(
            "item1",
            &[("key", k), ("command", "ADD"), ("v", "1")],
            false,
        );
    }
    // Each chunk within 400 ms of the previous one.
    let mut got = Vec::new();
    while got.len() < 3 {
        match c.chunk_within(Duration::from_millis(400)).await {
            Some(Some(_)) => got.extend(c.take()),
            _ => break,
        }
    }
    assert_eq!(got, vec!["U,1,1,A|ADD|1", "U,1,1,B|ADD|1", "U,1,1,C|ADD|1"]);
}
