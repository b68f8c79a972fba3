//! PORTFOLIO_ADAPTER and the BUY/SELL messages.
#![allow(clippy::expect_used, clippy::unwrap_used)] // tests panic on failure

mod common;

use common::{provider, session, setup, Call};
use shoal_adapter::{ItemEvent, SessionInfo};
use shoal_demo::PORTFOLIO_ADAPTER;
use std::future::Future;

fn row(key: &str, command: &str, qty: Option<&str>) -> ItemEvent {
    let mut e = ItemEvent::new().with("key", key).with("command", command);
    if let Some(q) = qty {
        e.set("qty", Some(q.into()));
    }
    e
}

fn live(event: ItemEvent) -> Call {
    Call::Update {
        item: "portfolio1".into(),
        event,
        snapshot: false,
    }
}

fn snap(event: ItemEvent) -> Call {
    Call::Update {
        item: "portfolio1".into(),
        event,
        snapshot: true,
    }
}

fn eos() -> Call {
    Call::EndOfSnapshot("portfolio1".into())
}

fn trader() -> SessionInfo {
    session(Some("trader"), "10.1.1.1")
}

async fn send(set: &shoal_adapter::AdapterSet, msg: &str) {
    assert_eq!(
        set.metadata.notify_user_message(&trader(), msg).await,
        Ok(None),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn add_update_delete() {
    let (set, rec) = setup();
    let portfolio = provider(&set, PORTFOLIO_ADAPTER);
    assert!(portfolio.is_snapshot_available("portfolio1"));
    portfolio.subscribe("portfolio1").expect("subscribe");
    send(&set, "BUY|portfolio1|item3|10").await;
    send(&set, "BUY|portfolio1|item3|5").await;
    send(&set, "BUY|portfolio1|item7|1").await;
    send(&set, "SELL|portfolio1|item3|5").await;
    send(&set, "SELL|portfolio1|item3|10").await;
    send(&set, "BUY|portfolio1|item3|2").await;

    let expected = vec![
        eos(),
        live(row("item3", "ADD", Some("10"))),
        live(row("item3", "UPDATE", Some("15"))),
        live(row("item7", "ADD", Some("1"))),
        live(row("item3", "UPDATE", Some("10"))),
        live(row("item3", "DELETE", None)),
        live(row("item3", "ADD", Some("2"))),
    ];
    rec.wait_until("all commands", |c| c.len() >= expected.len())
        .await;
    assert_eq!(rec.calls(), expected);
    portfolio.unsubscribe("portfolio1");
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_after_buys_while_unsubscribed() {
    let (set, rec) = setup();
    let portfolio = provider(&set, PORTFOLIO_ADAPTER);
    send(&set, "BUY|portfolio1|item12|5").await;
    send(&set, "BUY|portfolio1|item2|100").await;
    send(&set, "BUY|portfolio1|item5|3").await;
    send(&set, "SELL|portfolio1|item5|3").await;
    send(&set, "SELL|portfolio1|item2|40").await;

    portfolio.subscribe("portfolio1").expect("subscribe");
    rec.wait_until("end of snapshot", |c| c.contains(&eos()))
        .await;
    assert_eq!(
        rec.calls(),
        vec![
            snap(row("item2", "ADD", Some("60"))),
            snap(row("item12", "ADD", Some("5"))),
            eos(),
        ]
    );

    // Changes while unsubscribed are kept and not pushed; a new subscription
    // gets them in its snapshot, and nothing from before.
    portfolio.unsubscribe("portfolio1");
    send(&set, "SELL|portfolio1|item12|5").await;
    send(&set, "BUY|portfolio1|item30|1").await;
    portfolio.subscribe("portfolio1").expect("resubscribe");
    send(&set, "BUY|portfolio1|item30|1").await;
    rec.wait_until("the live update", |c| c.len() >= 7).await;
    assert_eq!(
        rec.calls()[3..],
        [
            snap(row("item2", "ADD", Some("60"))),
            snap(row("item30", "ADD", Some("1"))),
            eos(),
            live(row("item30", "UPDATE", Some("2"))),
        ]
    );
    portfolio.unsubscribe("portfolio1");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_messages_are_refused_with_a_reason() {
    let (set, rec) = setup();
    send(&set, "BUY|portfolio1|item1|10").await;
    let cases: &[(&str, i32, &str)] = &[
        (
            "BUY|portfolio2|item1|5",
            -1,
            "unknown portfolio 'portfolio2': only portfolio1 exists",
        ),
        (
            "BUY|portfolio1|item99|5",
            -1,
            "unknown stock 'item99': expected item1..item30",
        ),
        (
            "BUY|portfolio1|item1|0",
            -1,
            "bad quantity '0': expected a positive integer",
        ),
        (
            "BUY|portfolio1|item1|-3",
            -1,
            "bad quantity '-3': expected a positive integer",
        ),
        (
            "SELL|portfolio1|item1|1.5",
            -1,
            "bad quantity '1.5': expected a positive integer",
        ),
        (
            "SELL|portfolio1|item1|",
            -1,
            "bad quantity '': expected a positive integer",
        ),
        (
            "SELL|portfolio1|item1|11",
            -1,
            "cannot sell 11 of item1: the portfolio holds 10",
        ),
        (
            "SELL|portfolio1|item2|1",
            -1,
            "cannot sell 1 of item2: the portfolio holds 0",
        ),
        (
            "BUY|portfolio1|item1",
            -1,
            "malformed BUY message: expected BUY|<portfolio>|<stock>|<qty>",
        ),
        (
            "SELL|portfolio1|item1|5|6",
            -1,
            "malformed SELL message: expected SELL|<portfolio>|<stock>|<qty>",
        ),
        (
            "SELL",
            -1,
            "malformed SELL message: expected SELL|<portfolio>|<stock>|<qty>",
        ),
    ];
    for &(msg, code, text) in cases {
        let err = set
            .metadata
            .notify_user_message(&trader(), msg)
            .await
            .expect_err(msg);
        assert_eq!((err.code, err.message.as_str()), (code, text), "{msg}");
    }
    for msg in ["HELLO", "", "buy|portfolio1|item1|5", "CHATTER|x"] {
        let err = set
            .metadata
            .notify_user_message(&trader(), msg)
            .await
            .expect_err(msg);
        assert_eq!(err.code, -2, "{msg}");
        assert!(
            err.message
                .starts_with(&format!("unknown message '{msg}': expected CHAT|<text>")),
            "{err}"
        );
    }

    // None of that changed anything.
    let portfolio = provider(&set, PORTFOLIO_ADAPTER);
    portfolio.subscribe("portfolio1").expect("subscribe");
    rec.wait_until("end of snapshot", |c| c.contains(&eos()))
        .await;
    assert_eq!(
        rec.calls(),
        vec![snap(row("item1", "ADD", Some("10"))), eos()]
    );
    portfolio.unsubscribe("portfolio1");

    let err = portfolio.subscribe("portfolio2").expect_err("no such item");
    assert_eq!(err.code, 21);
    assert!(err.message.contains("portfolio2"), "{err}");
}

/// Orders faster than their events are delivered wait for room: the outbox
/// never holds more than `OUTBOX_LIMIT` events.
#[tokio::test(flavor = "current_thread")]
async fn orders_wait_for_room_in_the_outbox() {
    let (set, rec) = setup();
    let portfolio = provider(&set, PORTFOLIO_ADAPTER);
    portfolio.subscribe("portfolio1").expect("subscribe");
    // On this one thread the delivery task cannot run while the loop does
    // not yield: orders go through until the outbox is full.
    let mut accepted = 0;
    let who = trader();
    loop {
        let order = set
            .metadata
            .notify_user_message(&who, "BUY|portfolio1|item3|1");
        // Polled once, by hand: an await could yield to the delivery task.
        let mut order = std::pin::pin!(order);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match order.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(r) => {
                assert_eq!(r, Ok(None));
                accepted += 1;
            }
            std::task::Poll::Pending => break,
        }
        assert!(
            accepted <= shoal_demo::OUTBOX_LIMIT,
            "no limit: {} delivered",
            rec.len()
        );
    }
    // The end of the snapshot is queued too.
    assert_eq!(accepted, shoal_demo::OUTBOX_LIMIT - 1);
    assert_eq!(rec.len(), 0, "nothing delivered yet");
    // Once delivery runs, orders are taken again, and none was lost.
    send(&set, "BUY|portfolio1|item3|1").await;
    rec.wait_until("every order delivered", |calls| calls.len() == accepted + 2)
        .await;
}
