//! QUOTE_ADAPTER: snapshot, live updates, errors.
#![allow(clippy::expect_used, clippy::unwrap_used)] // tests panic on failure

mod common;

use common::{field, is_hh_mm_ss, provider, setup, Call};
use shoal_adapter::ItemEvent;
use shoal_demo::QUOTE_ADAPTER;

const FIELDS: [&str; 12] = [
    "stock_name",
    "last_price",
    "time",
    "pct_change",
    "bid_quantity",
    "bid",
    "ask",
    "ask_quantity",
    "min",
    "max",
    "ref_price",
    "open_price",
];

fn price(event: &ItemEvent, name: &str) -> f64 {
    let text = field(event, name);
    let (units, cents) = text.split_once('.').expect("two decimals");
    assert_eq!(cents.len(), 2, "{name}={text}");
    assert!(units.bytes().all(|b| b.is_ascii_digit()), "{name}={text}");
    text.parse().expect("a number")
}

fn check_snapshot(event: &ItemEvent) {
    let names: Vec<&str> = event.fields().map(|(n, _)| n).collect();
    for f in FIELDS {
        assert!(names.contains(&f), "snapshot lacks {f}: {event:?}");
    }
    assert_eq!(names.len(), 12);
    assert!(!field(event, "stock_name").is_empty());
    assert!(is_hh_mm_ss(field(event, "time")));
    let (last, bid, ask) = (
        price(event, "last_price"),
        price(event, "bid"),
        price(event, "ask"),
    );
    let (min, max) = (price(event, "min"), price(event, "max"));
    let (reference, open) = (price(event, "ref_price"), price(event, "open_price"));
    assert!(
        last > 0.0 && bid > 0.0 && bid <= last && last <= ask,
        "{event:?}"
    );
    assert!(min <= last && last <= max, "{event:?}");
    assert!(min <= open && open <= max, "{event:?}");
    assert!((open / reference - 1.0).abs() <= 0.021, "{event:?}");
    let pct: f64 = field(event, "pct_change").parse().expect("pct");
    let expected = (last - reference) / reference * 100.0;
    assert!((pct - expected).abs() <= 0.006, "pct {pct} vs {expected}");
    for q in ["bid_quantity", "ask_quantity"] {
        let q: u64 = field(event, q).parse().expect("quantity");
        assert!(q > 0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_then_live_updates() {
    let (set, rec) = setup();
    let quotes = provider(&set, QUOTE_ADAPTER);
    assert!(quotes.is_snapshot_available("item7"));
    quotes.subscribe("item7").expect("subscribe");

    rec.wait_until("3 live updates", |calls| calls.len() >= 5)
        .await;
    let calls = rec.calls_for("item7");
    let Some((_, snapshot, true)) = calls[0].update() else {
        panic!("first call is not a snapshot: {calls:?}");
    };
    check_snapshot(snapshot);
    assert_eq!(calls[1], Call::EndOfSnapshot("item7".into()));

    let reference = price(snapshot, "ref_price");
    let (mut min, mut max) = (price(snapshot, "min"), price(snapshot, "max"));
    for call in &calls[2..] {
        let Some((_, event, false)) = call.update() else {
            panic!("expected a live update: {call:?}");
        };
        let last = price(event, "last_price");
        assert!((last / reference - 1.0).abs() < 0.5, "{event:?}");
        assert!(price(event, "bid") <= last && last <= price(event, "ask"));
        assert!(is_hh_mm_ss(field(event, "time")));
        field(event, "pct_change");
        if let Some(Some(m)) = event.get("min") {
            let m: f64 = m.parse().expect("min");
            assert!(m < min && m == last);
            min = m;
        }
        if let Some(Some(m)) = event.get("max") {
            let m: f64 = m.parse().expect("max");
            assert!(m > max && m == last);
            max = m;
        }
        assert!(min <= last && last <= max);
        // Constant fields are not repeated.
        assert_eq!(event.get("stock_name"), None);
    }
    quotes.unsubscribe("item7");
}

#[tokio::test(flavor = "multi_thread")]
async fn resubscribe_snapshot_shows_the_last_state() {
    let (set, rec) = setup();
    let quotes = provider(&set, QUOTE_ADAPTER);
    quotes.subscribe("item30").expect("subscribe");
    rec.wait_until("a live update", |c| c.len() >= 3).await;
    quotes.unsubscribe("item30");
    quotes.subscribe("item30").expect("resubscribe");
    rec.wait_until("the second snapshot", |c| {
        c.iter()
            .filter(|c| matches!(c.update(), Some((_, _, true))))
            .count()
            == 2
    })
    .await;

    let updates = rec.updates("item30");
    let second = updates
        .iter()
        .rposition(|(_, snap)| *snap)
        .expect("second snapshot");
    let (snapshot, _) = &updates[second];
    let (previous, _) = &updates[second - 1];
    // The price did not move while unsubscribed, and the generators did not
    // overlap: the last live price is the new snapshot's.
    assert_eq!(field(previous, "last_price"), field(snapshot, "last_price"));
    check_snapshot(snapshot);
    quotes.unsubscribe("item30");
}

#[tokio::test(flavor = "multi_thread")]
async fn all_items_exist_and_others_do_not() {
    let (set, rec) = setup();
    let quotes = provider(&set, QUOTE_ADAPTER);
    for i in 1..=30 {
        quotes.subscribe(&format!("item{i}")).expect("subscribe");
    }
    rec.wait_until("30 snapshots", |c| {
        c.iter()
            .filter(|c| matches!(c.update(), Some((_, _, true))))
            .count()
            == 30
    })
    .await;
    let mut names: Vec<String> = rec
        .calls()
        .iter()
        .filter_map(Call::update)
        .filter(|(_, _, snap)| *snap)
        .map(|(_, e, _)| field(e, "stock_name").to_owned())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 30, "stock names are distinct");
    for i in 1..=30 {
        quotes.unsubscribe(&format!("item{i}"));
    }

    for bad in ["item0", "item31", "item01", "foo", ""] {
        let err = quotes.subscribe(bad).expect_err(bad);
        assert_eq!(err.code, 21);
        assert_eq!(
            err.message,
            format!("no such item: {bad} (QUOTE_ADAPTER serves item1..item30)")
        );
    }
}

#[test]
fn subscribe_outside_a_runtime_is_an_error() {
    let (set, _rec) = setup();
    let err = provider(&set, QUOTE_ADAPTER)
        .subscribe("item1")
        .expect_err("no runtime");
    assert!(err.message.contains("tokio runtime"), "{err}");
}
