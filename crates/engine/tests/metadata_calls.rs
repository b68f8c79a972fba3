//! What the metadata adapter is told and what it may decide: the login with
//! its HTTP headers, the session context, item data (modes, snapshot
//! lengths), table notifications, and sessions or subscriptions it ends.

mod common;

use common::*;
use shoal_adapter::{AdapterError, ItemData, Mode};
use std::time::Duration;

#[tokio::test]
async fn login_and_session_context_reach_the_metadata_adapter() {
    let h = Harness::new();
    let c = h.open_with("LS_user=alice&LS_password=secret", &ws()).await;
    let logins = h.meta.logins();
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].user.as_deref(), Some("alice"));
    assert_eq!(logins[0].password.as_deref(), Some("secret"));
    assert_eq!(logins[0].client_ip, "10.0.0.1");
    assert!(logins[0]
        .headers
        .iter()
        .any(|(n, v)| n == "user-agent" && v == "test-client/1"));

    let infos = h.meta.session_infos();
    assert_eq!(infos.len(), 1);
    assert_eq!(infos[0].session_id, c.session);
    assert_eq!(infos[0].user.as_deref(), Some("alice"));
    assert_eq!(infos[0].client_port, 50000);
    assert_eq!(infos[0].user_agent.as_deref(), Some("test-client/1"));
    assert_eq!(infos[0].local_server, "Shoal");
}

#[tokio::test]
async fn a_mode_the_item_data_excludes_is_24_and_takes_nothing() {
    let h = Harness::new();
    h.meta.deny_mode("item2", Mode::Distinct);
    let c = h.open().await;
    let r = h
        .control(&c.session, &add(1, "DISTINCT", "item1 item2", "a", ""))
        .await;
    let Err((code, msg)) = r else {
        panic!("accepted")
    };
    assert_eq!(code, 24);
    // Lightstreamer's words, which the official clients' own tests expect.
    assert_eq!(msg, "Invalid mode for these items");
    assert!(h.data.calls().is_empty());
    assert!(h.meta.tables().is_empty());
    // Other modes of the same item are fine.
    h.ok(&c.session, &add(2, "MERGE", "item2", "a", "")).await;
}

#[tokio::test]
async fn the_item_data_snapshot_length_bounds_distinct_snapshots() {
    let h = Harness::new();
    h.meta.limit_item(
        "item1",
        ItemData {
            distinct_snapshot_length: Some(2),
            ..ItemData::default()
        },
    );
    h.data.snapshot_available("item1");
    // A first subscriber builds the history.
    let mut first = h.open().await;
    h.subscribe(&mut first, &add(1, "DISTINCT", "item1", "a", ""))
        .await;
    h.data.end_of_snapshot("item1");
    for i in 1..=5 {
        h.data.update("item1", &[("a", &i.to_string())], false);
    }
    first.until(|l| l.iter().any(|x| x == "U,1,1,5")).await;

    // The client asks for 4 events of snapshot; the adapter allows 2.
    let mut c = h.open().await;
    let lines = h
        .subscribe(&mut c, &add(1, "DISTINCT", "item1", "a", "LS_snapshot=4"))
        .await;
    let mut lines = lines;
    lines.extend(c.until_prefix("EOS").await);
    let updates: Vec<&String> = lines.iter().filter(|l| l.starts_with("U,")).collect();
    assert_eq!(updates.len(), 2, "{lines:?}");
    assert!(
        updates[0].ends_with(",4") && updates[1].ends_with(",5"),
        "{updates:?}"
    );
}

#[tokio::test]
async fn tables_are_notified_on_subscribe_and_on_close() {
    let h = Harness::new();
    let c = h.open().await;
    h.ok(
        &c.session,
        &add(3, "MERGE", "item1 item2", "a b", "LS_data_adapter=OTHER"),
    )
    .await;
    let tables = h.meta.tables();
    assert_eq!(tables.len(), 1);
    let t = &tables[0];
    assert_eq!(t.win_index, 3);
    assert_eq!(t.mode, Mode::Merge);
    assert_eq!(
        (t.group.as_str(), t.schema.as_str()),
        ("item1 item2", "a b")
    );
    assert_eq!(t.data_adapter, "OTHER");
    assert_eq!((t.first, t.last), (1, 2));
    assert_eq!(t.items, vec!["item1", "item2"]);
    assert!(h.meta.closed_tables().is_empty());

    h.ok(&c.session, "LS_op=delete&LS_subId=3").await;
    assert_eq!(h.meta.closed_tables(), tables);

    // A session that ends closes its tables too.
    h.ok(&c.session, &add(4, "RAW", "item1", "a", "")).await;
    h.engine
        .close(&h.engine.session(&c.session).unwrap(), 32, "bye");
    let closed = h.meta.closed_tables();
    assert_eq!(closed.len(), 2);
    assert_eq!(closed[1].win_index, 4);
}

#[tokio::test]
async fn a_refused_table_refuses_the_subscription_with_the_adapter_code() {
    let h = Harness::new();
    h.meta.refuse_group("item9", -7, "no such table for you");
    let mut c = h.open().await;
    let r = h
        .control(&c.session, &add(1, "MERGE", "item9", "a", ""))
        .await;
    assert_eq!(r, Err((-7, "no such table for you".to_owned())));
    assert!(h.data.calls().is_empty());
    c.quiet(Duration::from_millis(50)).await;
    assert_eq!(h.progressive(&c.session), 0);
}

#[tokio::test]
async fn the_metadata_adapter_can_end_a_subscription_or_a_session() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "a", ""))
        .await;
    let control = h.meta.control();

    assert!(control.force_unsubscription(&c.session, 1));
    c.until_prefix("UNSUB,1").await;
    assert_eq!(h.data.calls(), vec!["+item1", "-item1"]);
    assert_eq!(h.meta.closed_tables().len(), 1);
    assert!(!control.force_unsubscription(&c.session, 1));
    assert!(!control.force_unsubscription("Snope", 1));

    let cause = AdapterError::new(-5, "you are done");
    assert!(control.force_session_termination(&c.session, Some(cause)));
    let end = c.until_prefix("END").await;
    assert_eq!(end.last().map(String::as_str), Some("END,-5,you are done"));
    assert!(h.engine.session(&c.session).is_none());
    assert!(!control.force_session_termination(&c.session, None));
}
