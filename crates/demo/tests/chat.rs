//! CHAT_ROOM: messages are broadcast while subscribed.
#![allow(clippy::expect_used, clippy::unwrap_used)] // tests panic on failure

mod common;

use common::{field, is_hh_mm_ss, provider, session, setup};
use shoal_demo::CHAT_ROOM;

#[tokio::test(flavor = "multi_thread")]
async fn chat_messages_are_broadcast() {
    let (set, rec) = setup();
    let chat = provider(&set, CHAT_ROOM);
    assert!(!chat.is_snapshot_available("chat_room"));
    chat.subscribe("chat_room").expect("subscribe");

    let alice = session(Some("alice"), "10.0.0.1");
    let reply = set
        .metadata
        .notify_user_message(&alice, "CHAT|hello | world")
        .await;
    assert_eq!(reply, Ok(None));
    let anonymous = session(None, "::1");
    set.metadata
        .notify_user_message(&anonymous, "CHAT|second")
        .await
        .expect("second message");

    rec.wait_until("two messages", |c| c.len() == 2).await;
    let updates = rec.updates("chat_room");
    let (first, false) = &updates[0] else {
        panic!("not a live update")
    };
    assert_eq!(field(first, "message"), "hello | world");
    assert_eq!(field(first, "nick"), "alice");
    assert_eq!(field(first, "IP"), "10.0.0.1");
    assert!(is_hh_mm_ss(field(first, "timestamp")));
    let (second, _) = &updates[1];
    assert_eq!(field(second, "message"), "second");
    assert_eq!(field(second, "nick"), "anonymous");
    assert_eq!(field(second, "IP"), "::1");
    assert_eq!(rec.calls().len(), 2, "no snapshot calls");
    chat.unsubscribe("chat_room");
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_without_subscribers_succeed_and_are_not_pushed() {
    let (set, rec) = setup();
    let chat = provider(&set, CHAT_ROOM);
    let s = session(Some("bob"), "10.0.0.2");
    assert_eq!(
        set.metadata
            .notify_user_message(&s, "CHAT|nobody hears")
            .await,
        Ok(None)
    );
    chat.subscribe("chat_room").expect("subscribe");
    chat.unsubscribe("chat_room");
    assert_eq!(
        set.metadata
            .notify_user_message(&s, "CHAT|after unsubscribe")
            .await,
        Ok(None)
    );
    chat.subscribe("chat_room").expect("resubscribe");
    set.metadata
        .notify_user_message(&s, "CHAT|heard")
        .await
        .expect("message");
    // Delivery is in order, so anything pushed earlier would come first.
    rec.wait_until("the message", |c| !c.is_empty()).await;
    let calls = rec.calls();
    let Some((_, event, false)) = calls[0].update() else {
        panic!("{calls:?}")
    };
    assert_eq!(field(event, "message"), "heard");
    chat.unsubscribe("chat_room");
}

#[tokio::test]
async fn chat_errors() {
    let (set, _rec) = setup();
    let s = session(None, "1.2.3.4");
    for msg in ["CHAT|", "CHAT|   ", "CHAT"] {
        let err = set
            .metadata
            .notify_user_message(&s, msg)
            .await
            .expect_err(msg);
        assert_eq!(err.code, -3);
        assert_eq!(err.message, "empty chat message");
    }
    let err = provider(&set, CHAT_ROOM)
        .subscribe("lobby")
        .expect_err("unknown room");
    assert_eq!(err.code, 21);
    assert!(err.message.contains("lobby"), "{err}");
}
