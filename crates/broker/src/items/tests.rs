use super::*;
use proptest::prelude::*;

fn at(n: u64) -> Position {
    Position::Redis { ms: n, seq: 0 }
}

#[test]
fn an_item_is_read_live_from_where_its_snapshot_ended() {
    let mut items = Items::new();
    items.subscribe("a");
    assert!(items.live().1.is_empty(), "not live before its snapshot");
    let job = items.next_snapshot().unwrap();
    assert_eq!(items.next_snapshot(), None, "one read at a time");
    assert_eq!(
        items.snapshot_read(&job, Some(at(5))),
        SnapshotUse::Snapshot
    );
    assert_eq!(items.live().1, vec![(Arc::from("a"), Some(at(5)))]);
    assert!(!items.accept("a", at(4)), "covered by the snapshot");
    assert!(!items.accept("a", at(5)), "covered by the snapshot");
    assert!(items.accept("a", at(6)));
    assert!(!items.accept("a", at(6)), "a duplicate");
    assert_eq!(items.last("a"), Some(at(6)));
}

#[test]
fn a_failed_snapshot_read_is_made_again() {
    let mut items = Items::new();
    items.subscribe("a");
    let job = items.next_snapshot().unwrap();
    items.snapshot_failed(&job);
    assert_eq!(items.next_snapshot(), Some(job));
}

#[test]
fn a_snapshot_for_an_older_subscription_is_dropped() {
    let mut items = Items::new();
    items.subscribe("a");
    let old = items.next_snapshot().unwrap();
    items.unsubscribe("a", Instant::now(), Duration::from_secs(5));
    items.subscribe("a");
    let new = items.next_snapshot().unwrap();
    assert_eq!(items.snapshot_read(&old, Some(at(1))), SnapshotUse::Drop);
    assert_eq!(
        items.snapshot_read(&new, Some(at(2))),
        SnapshotUse::Snapshot
    );
}

#[test]
fn an_unwanted_item_lingers_then_goes() {
    let mut items = Items::new();
    items.subscribe("a");
    let job = items.next_snapshot().unwrap();
    items.snapshot_read(&job, None);
    let t0 = Instant::now();
    items.unsubscribe("a", t0, Duration::from_secs(5));
    let v = items.version();
    assert!(
        !items.accept("a", at(1)),
        "read but not delivered while lingering"
    );
    assert_eq!(items.last("a"), Some(at(1)), "its position keeps up");
    assert_eq!(
        items.sweep(t0 + Duration::from_secs(1)),
        Some(t0 + Duration::from_secs(5))
    );
    assert_eq!(items.len(), 1);
    assert!(items.contains("a") && !items.is_wanted("a"));
    assert_eq!(items.sweep(t0 + Duration::from_secs(6)), None);
    assert!(items.is_empty());
    assert!(!items.contains("a"));
    assert!(items.version() > v, "the live set changed");
}

#[test]
fn a_subscription_during_the_linger_takes_a_fresh_snapshot() {
    let mut items = Items::new();
    items.subscribe("a");
    let job = items.next_snapshot().unwrap();
    items.snapshot_read(&job, Some(at(3)));
    items.unsubscribe("a", Instant::now(), Duration::from_secs(5));
    items.subscribe("a");
    assert!(items.live().1.is_empty());
    let job = items.next_snapshot().unwrap();
    assert!(!job.resync);
    assert_eq!(
        items.snapshot_read(&job, Some(at(9))),
        SnapshotUse::Snapshot
    );
    assert!(!items.accept("a", at(9)));
    assert!(items.accept("a", at(10)));
}

#[test]
fn lost_entries_make_a_resync_of_a_delivered_item() {
    let mut items = Items::new();
    items.subscribe("a");
    let job = items.next_snapshot().unwrap();
    items.snapshot_read(&job, Some(at(3)));
    items.resync("a");
    let job = items.next_snapshot().unwrap();
    assert!(job.resync);
    assert_eq!(items.snapshot_read(&job, Some(at(1))), SnapshotUse::Resync);
    assert!(
        items.accept("a", at(2)),
        "the stream starts again from the new snapshot"
    );
}

proptest! {
    /// Whatever the order of snapshot reads, live reads of any length
    /// (overlapping, repeated after a reconnection) and re-subscriptions,
    /// what a subscription receives after its snapshot is the broker's
    /// history after the snapshot's end, in order, with no gap and no
    /// duplicate.
    #[test]
    fn live_delivery_has_no_gap_and_no_duplicate(ops in proptest::collection::vec(0u8..5, 1..80)) {
        let mut items = Items::new();
        let mut history: u64 = 0; // entries 1..=history exist in the broker
        let mut job: Option<SnapshotJob> = None;
        // What the current subscription got: snapshot end, then live entries.
        let mut got: Option<(u64, Vec<u64>)> = None;
        items.subscribe("a");
        for op in ops {
            match op {
                0 => history += 1,
                1 => {
                    if job.is_none() {
                        job = items.next_snapshot();
                    }
                }
                2 => {
                    if let Some(j) = job.take() {
                        let last = (history > 0).then(|| at(history));
                        if items.snapshot_read(&j, last) == SnapshotUse::Snapshot {
                            got = Some((history, Vec::new()));
                        }
                    }
                }
                3 => {
                    // A live read from the item's position, of up to 3 entries.
                    let (_, live) = items.live();
                    if let Some((_, from)) = live.first() {
                        let from = match from { Some(Position::Redis { ms, .. }) => *ms, _ => 0 };
                        for n in (from + 1..=history).take(3) {
                            if items.accept("a", at(n)) {
                                if let Some((_, v)) = got.as_mut() { v.push(n); }
                            }
                        }
                    }
                }
                _ => {
                    items.unsubscribe("a", Instant::now(), Duration::from_secs(60));
                    items.subscribe("a");
                    job = None;
                    got = None;
                }
            }
            if let Some((end, live)) = &got {
                let expected: Vec<u64> = (end + 1..=end + live.len() as u64).collect();
                prop_assert_eq!(live, &expected);
            }
        }
    }
}

#[test]
fn a_refused_item_is_not_read_until_subscribed_again() {
    let mut items = Items::new();
    items.subscribe("a");
    items.subscribe("b");
    let j1 = items.next_snapshot().unwrap();
    let j2 = items.next_snapshot().unwrap();
    let (bad, good) = if &*j1.item == "a" { (j1, j2) } else { (j2, j1) };
    assert!(
        items.snapshot_refused(&bad),
        "the subscription waits for a snapshot"
    );
    items.snapshot_read(&good, None);
    assert_eq!(items.live().1, vec![(Arc::from("b"), None)]);
    items.refuse("b");
    assert!(items.live().1.is_empty());
    assert!(!items.accept("b", at(1)));
    items.subscribe("b");
    assert_eq!(items.next_snapshot().map(|j| j.item), Some(Arc::from("b")));
}
