//! COUNTER: exact rates, continuous sequences, clean stops.
#![allow(clippy::expect_used, clippy::unwrap_used)] // tests panic on failure

mod common;

use std::time::Duration;

use common::{field, provider, setup, Call, Recorder};
use shoal_demo::COUNTER;

/// The (seq, ts) pairs of `item`, checked to be live updates.
fn seqs(rec: &Recorder, item: &str) -> Vec<(u64, u128)> {
    rec.updates(item)
        .iter()
        .map(|(event, snapshot)| {
            assert!(!snapshot, "counters have no snapshot");
            assert_eq!(event.fields().count(), 2);
            (
                field(event, "seq").parse().expect("seq"),
                field(event, "ts").parse().expect("ts"),
            )
        })
        .collect()
}

/// Updates of `item` among `calls` (for conditions, which run under the
/// recorder's lock and so must not call back into it).
fn updates_of(calls: &[Call], item: &str) -> usize {
    calls
        .iter()
        .filter_map(Call::update)
        .filter(|(i, _, _)| *i == item)
        .count()
}

fn assert_consecutive_from_1(values: &[(u64, u128)]) {
    for (i, &(seq, _)) in values.iter().enumerate() {
        assert_eq!(seq, i as u64 + 1, "seq at position {i}");
    }
    for pair in values.windows(2) {
        assert!(pair[0].1 <= pair[1].1, "ts went backwards: {pair:?}");
    }
}

fn now_micros() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_micros()
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_1000_is_about_1000_per_second() {
    let (set, rec) = setup();
    let counter = provider(&set, COUNTER);
    assert!(!counter.is_snapshot_available("rate-1000"));
    let before = now_micros();
    let start = tokio::time::Instant::now();
    counter.subscribe("rate-1000").expect("subscribe");
    rec.wait_until("0.5 s of updates", |_| {
        start.elapsed() >= Duration::from_millis(500)
    })
    .await;
    let count = rec.len();
    let elapsed = start.elapsed().as_secs_f64();
    counter.unsubscribe("rate-1000");

    let rate = count as f64 / elapsed;
    println!("rate-1000: {count} updates in {elapsed:.3} s = {rate:.0}/s");
    assert!((300.0..3000.0).contains(&rate), "rate {rate}");
    let values = seqs(&rec, "rate-1000");
    assert_consecutive_from_1(&values);
    let after = now_micros();
    assert!(values.iter().all(|&(_, ts)| before <= ts && ts <= after));
}

#[tokio::test(flavor = "multi_thread")]
async fn high_rate_is_batched_and_consecutive() {
    let (set, rec) = setup();
    let counter = provider(&set, COUNTER);
    let start = tokio::time::Instant::now();
    counter.subscribe("rate-100000").expect("subscribe");
    rec.wait_until("0.3 s of updates", |_| {
        start.elapsed() >= Duration::from_millis(300)
    })
    .await;
    counter.unsubscribe("rate-100000");
    let elapsed = start.elapsed().as_secs_f64();
    let count = rec.wait_quiet(Duration::from_millis(50)).await;
    let rate = count as f64 / elapsed;
    println!("rate-100000: {count} updates in {elapsed:.3} s = {rate:.0}/s");
    // Never ahead of schedule; behind only if the machine is very busy.
    assert!(rate <= 100_000.0 * 1.05, "rate {rate}");
    assert!(rate >= 20_000.0, "rate {rate}");
    assert_consecutive_from_1(&seqs(&rec, "rate-100000"));
}

#[tokio::test(flavor = "multi_thread")]
async fn resubscribe_continues_the_sequence() {
    let (set, rec) = setup();
    let counter = provider(&set, COUNTER);
    counter.subscribe("rate-500").expect("subscribe");
    counter.subscribe("rate-7").expect("another item");
    rec.wait_until("some updates", |c| c.len() >= 50).await;
    counter.unsubscribe("rate-500");
    let first_run = seqs(&rec, "rate-500").len();

    counter.subscribe("rate-500").expect("resubscribe");
    rec.wait_until("more updates", |c| {
        updates_of(c, "rate-500") >= first_run + 50
    })
    .await;
    // A quick unsubscribe/subscribe must not overlap two generators either.
    counter.unsubscribe("rate-500");
    counter.subscribe("rate-500").expect("resubscribe again");
    let second_run = seqs(&rec, "rate-500").len();
    rec.wait_until("yet more updates", |c| {
        updates_of(c, "rate-500") >= second_run + 50
    })
    .await;
    counter.unsubscribe("rate-500");
    counter.unsubscribe("rate-7");
    rec.wait_quiet(Duration::from_millis(50)).await;

    let values = seqs(&rec, "rate-500");
    println!(
        "rate-500: {} updates over three subscriptions, last seq {}",
        values.len(),
        values.last().map_or(0, |v| v.0)
    );
    assert_consecutive_from_1(&values);
    // The other item has its own sequence.
    assert_consecutive_from_1(&seqs(&rec, "rate-7"));
}

#[tokio::test(flavor = "multi_thread")]
async fn unsubscribe_stops_the_generator() {
    let (set, rec) = setup();
    let counter = provider(&set, COUNTER);
    counter.subscribe("rate-1000").expect("subscribe");
    rec.wait_until("50 updates", |c| c.len() >= 50).await;
    counter.unsubscribe("rate-1000");
    let at_unsubscribe = rec.len();
    let quiet = rec.wait_quiet(Duration::from_millis(50)).await;
    println!("updates at unsubscribe {at_unsubscribe}, after it stopped {quiet}");
    // At most the update in flight when unsubscribe ran.
    assert!(quiet <= at_unsubscribe + 1, "{at_unsubscribe} -> {quiet}");
    // And the name can be subscribed again.
    counter.subscribe("rate-1000").expect("subscribe again");
    counter.unsubscribe("rate-1000");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_names_are_rejected() {
    let (set, rec) = setup();
    let counter = provider(&set, COUNTER);
    for bad in [
        "rate-0",
        "rate-100001",
        "rate-x",
        "rate--1",
        "rate-",
        "rate-+1",
        "rate-01",
        "rate-1.5",
        "rate",
        "item1",
    ] {
        let err = counter.subscribe(bad).expect_err(bad);
        assert_eq!(err.code, 21, "{bad}");
        assert_eq!(
            err.message,
            format!("bad COUNTER item name '{bad}': expected rate-<N> with 1 <= N <= 100000")
        );
    }
    assert_eq!(rec.len(), 0);
}

#[test]
fn subscribe_outside_a_runtime_is_an_error() {
    let (set, _rec) = setup();
    let err = provider(&set, COUNTER)
        .subscribe("rate-10")
        .expect_err("no runtime");
    assert!(err.message.contains("tokio runtime"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rapid_resubscribes_never_reorder_or_skip() {
    let (set, rec) = setup();
    let counter = provider(&set, COUNTER);
    for round in 0..50 {
        counter.subscribe("rate-100000").expect("subscribe");
        if round % 2 == 0 {
            // Let it run mid-batch before cutting it off; odd rounds cut it
            // off at once, often before the previous generator has finished.
            let seen = rec.len();
            rec.wait_until("progress", |c| c.len() > seen).await;
        }
        counter.unsubscribe("rate-100000");
    }
    let count = rec.wait_quiet(Duration::from_millis(50)).await;
    println!("rate-100000: {count} updates over 50 subscriptions");
    assert_consecutive_from_1(&seqs(&rec, "rate-100000"));
}
