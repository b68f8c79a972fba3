//! Refused subscriptions leave nothing behind: no upstream subscription,
//! no notification, the sub id still free.

mod common;

use common::*;
use shoal_protocol::request::{
    Control, ControlOp, MaxFrequency, Mode as ReqMode, Snapshot, Subscribe,
};
use std::time::Duration;

#[tokio::test]
async fn unknown_data_adapter_is_17() {
    let h = Harness::new();
    let mut c = h.open().await;
    let r = h
        .control(
            &c.session,
            &add(1, "MERGE", "item1", "a", "LS_data_adapter=NOPE"),
        )
        .await;
    let Err((code, msg)) = r else {
        panic!("accepted")
    };
    assert_eq!(code, 17);
    assert!(msg.contains("NOPE"), "{msg}");
    assert_eq!(h.engine.item_count(), 0);
    assert!(h.data.calls().is_empty() && h.other.calls().is_empty());
    c.quiet(Duration::from_millis(50)).await;
    assert_eq!(h.progressive(&c.session), 0);
}

#[tokio::test]
async fn provider_refusal_is_21_and_releases_what_was_taken() {
    let h = Harness::new();
    let mut c = h.open().await;
    let r = h
        .control(
            &c.session,
            &add(1, "MERGE", &format!("item1 {BAD_ITEM} item3"), "a", ""),
        )
        .await;
    let Err((code, msg)) = r else {
        panic!("accepted")
    };
    assert_eq!(code, 21);
    assert!(msg.contains(BAD_ITEM), "{msg}");
    assert_eq!(
        h.data.calls(),
        vec!["+item1", &format!("+{BAD_ITEM}"), "-item1"]
    );
    assert_eq!(h.engine.item_count(), 0);
    c.quiet(Duration::from_millis(50)).await;
    assert_eq!(h.progressive(&c.session), 0);

    // Events for those items go nowhere; the sub id is free.
    h.data.update("item1", &[("a", "x")], false);
    h.subscribe(&mut c, &add(1, "MERGE", "item3", "a", ""))
        .await;
    assert_eq!(h.engine.item_count(), 1);
}

#[tokio::test]
async fn provider_refusal_keeps_items_other_sessions_hold() {
    let h = Harness::new();
    let mut a = h.open().await;
    h.subscribe(&mut a, &add(1, "MERGE", "item1", "a", ""))
        .await;
    let b = h.open().await;
    let r = h
        .control(
            &b.session,
            &add(1, "MERGE", &format!("item1 {BAD_ITEM}"), "a", ""),
        )
        .await;
    assert_eq!(r.err().map(|e| e.0), Some(21));
    assert_eq!(h.data.subscribes("item1"), 1);
    assert_eq!(h.data.unsubscribes("item1"), 0);
    assert_eq!(h.engine.item_count(), 1);
    h.data.update("item1", &[("a", "still")], false);
    assert_eq!(a.next_lines(1).await, vec!["U,1,1,still"]);
    h.ok(&a.session, "LS_op=delete&LS_subId=1").await;
    assert_eq!(h.data.unsubscribes("item1"), 1);
    assert_eq!(h.engine.item_count(), 0);
}

#[tokio::test]
async fn a_refused_item_can_be_asked_again() {
    let h = Harness::new();
    let c = h.open().await;
    for _ in 0..2 {
        let r = h
            .control(&c.session, &add(1, "RAW", BAD_ITEM, "a", ""))
            .await;
        assert_eq!(r.err().map(|e| e.0), Some(21));
    }
    assert_eq!(h.data.subscribes(BAD_ITEM), 2);
    assert_eq!(h.data.unsubscribes(BAD_ITEM), 0);
    assert_eq!(h.engine.item_count(), 0);
}

#[tokio::test]
async fn duplicate_sub_id_is_refused_and_changes_nothing() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "a", ""))
        .await;
    let r = h
        .control(&c.session, &add(1, "MERGE", "item2", "b", ""))
        .await;
    let Err((code, msg)) = r else {
        panic!("a second subscription 1 was accepted")
    };
    assert_eq!(code, 65, "{msg}");
    assert!(msg.contains("LS_subId"), "{msg}");
    assert_eq!(h.data.calls(), vec!["+item1"]);
    assert_eq!(h.engine.item_count(), 1);
    c.quiet(Duration::from_millis(50)).await;
    h.data.update("item1", &[("a", "1")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,1"]);
    // The same id in another session is fine.
    let mut d = h.open().await;
    h.subscribe(&mut d, &add(1, "MERGE", "item2", "b", ""))
        .await;
}

#[tokio::test]
async fn an_empty_schema_is_23_and_a_group_of_no_items_a_table_of_none() {
    let h = Harness::new();
    let mut c = h.open().await;
    let sub = |group: &str, schema: &str| Control {
        session: Some(c.session.clone()),
        req_id: "1".into(),
        op: ControlOp::Add(Subscribe {
            sub_id: 1,
            data_adapter: None,
            group: group.into(),
            schema: schema.into(),
            selector: None,
            mode: ReqMode::Merge,
            buffer_size: None,
            max_frequency: MaxFrequency::Unlimited,
            snapshot: Snapshot::No,
            ack: true,
        }),
    };
    let r = h.engine.control(&c.session, sub("item1", " ")).await;
    assert_eq!(r.err().map(|e| e.0), Some(23));
    assert!(h.data.calls().is_empty());
    // A group the metadata adapter resolves to no items is accepted as a
    // table of none, as Lightstreamer does (the official clients then
    // raise their own error 61, having expected some).
    let r = h.engine.control(&c.session, sub("   ", "a b")).await;
    assert_eq!(r, Ok(()));
    let lines = c.through(|l| l.starts_with("SUBOK,")).await;
    assert_eq!(lines.last().map(String::as_str), Some("SUBOK,1,0,2"));
    assert!(h.data.calls().is_empty(), "no item was subscribed");
    let delete = Control {
        session: Some(c.session.clone()),
        req_id: "2".into(),
        op: ControlOp::Delete {
            sub_id: 1,
            ack: true,
        },
    };
    assert_eq!(h.engine.control(&c.session, delete).await, Ok(()));
    c.through(|l| l == "UNSUB,1").await;
}

#[tokio::test]
async fn control_structs_built_directly_work_like_parsed_ones() {
    let h = Harness::new();
    let mut c = h.open().await;
    let req = Control {
        session: Some(c.session.clone()),
        req_id: "9".into(),
        op: ControlOp::Add(Subscribe {
            sub_id: 3,
            data_adapter: Some("DEFAULT".into()),
            group: "item1 item2".into(),
            schema: "x y z".into(),
            selector: None,
            mode: ReqMode::Distinct,
            buffer_size: None,
            max_frequency: MaxFrequency::PerSecond(4.0),
            snapshot: Snapshot::Length(2),
            ack: true,
        }),
    };
    if let Err(e) = h.engine.control(&c.session, req).await {
        panic!("{e:?}");
    }
    let lines = c
        .until(|l| l.iter().filter(|x| x.starts_with("EOS")).count() == 2)
        .await;
    assert_eq!(
        lines,
        vec!["SUBOK,3,2,3", "CONF,3,4.0,filtered", "EOS,3,1", "EOS,3,2"]
    );
}
