use super::*;

fn ids(out: &[Request]) -> Vec<String> {
    out.iter()
        .map(|r| match r {
            Request::Subscribe { id, item } => format!("SUB {item} r{id}"),
            Request::Unsubscribe { id, item } => format!("USB {item} r{id}"),
        })
        .collect()
}

fn connected(recovery: EventsRecovery) -> Items {
    let mut items = Items::new(1, recovery);
    let mut out = Vec::new();
    items.connected(&mut out);
    assert!(out.is_empty());
    items
}

fn deliver(item: &str, snapshot: bool) -> Route {
    Route::Deliver {
        item: item.into(),
        snapshot,
    }
}

#[test]
fn one_request_at_a_time_per_item() {
    let mut items = connected(EventsRecovery::default());
    let mut out = Vec::new();
    assert_eq!(items.subscribe("a", &mut out), None);
    items.unsubscribe("a", &mut out);
    items.subscribe("a", &mut out);
    // Only the first SUB goes: the rest waits for its answer.
    assert_eq!(ids(&out), ["SUB a r1"]);
    out.clear();
    assert_eq!(items.answered(1, true, &mut out).as_deref(), Some("a"));
    // The engine wants a newer subscription: it needs its own snapshot.
    assert_eq!(ids(&out), ["USB a r2"]);
    out.clear();
    items.answered(2, true, &mut out);
    assert_eq!(ids(&out), ["SUB a r3"]);
    // Events of the first subscription no longer reach anyone.
    assert_eq!(items.route(1, false), Route::Drop);
    assert_eq!(items.route(3, true), deliver("a", true));
}

#[test]
fn items_are_independent() {
    let mut items = connected(EventsRecovery::default());
    let mut out = Vec::new();
    items.subscribe("a", &mut out);
    items.subscribe("b", &mut out);
    assert_eq!(ids(&out), ["SUB a r1", "SUB b r2"]);
    assert_eq!(items.in_flight(), 2);
    // Answers may come in any order.
    out.clear();
    items.answered(2, true, &mut out);
    items.answered(1, true, &mut out);
    assert!(out.is_empty());
    assert_eq!(items.in_flight(), 0);
}

#[test]
fn events_may_precede_the_answer_to_their_sub() {
    let mut items = connected(EventsRecovery::default());
    let mut out = Vec::new();
    items.subscribe("a", &mut out);
    assert_eq!(items.end_of_snapshot(1).as_deref(), Some("a"));
    assert_eq!(items.route(1, false), deliver("a", false));
}

#[test]
fn unsubscribed_items_are_forgotten_and_their_events_dropped() {
    let mut items = connected(EventsRecovery::default());
    let mut out = Vec::new();
    items.subscribe("a", &mut out);
    items.answered(1, true, &mut out);
    items.unsubscribe("a", &mut out);
    assert_eq!(ids(&out), ["SUB a r1", "USB a r2"]);
    assert_eq!(items.route(1, false), Route::Drop);
    items.answered(2, true, &mut out);
    assert_eq!(items.wanted(), 0);
    assert!(items.slots.is_empty() && items.routes.is_empty());
    // Unknown ids are no trouble.
    assert_eq!(items.answered(2, true, &mut out), None);
    assert!(items.expired(Duration::ZERO, Instant::now()).is_empty());
    assert_eq!(items.route(99, true), Route::Drop);
}

#[test]
fn a_refused_sub_routes_nothing_and_is_not_retried() {
    let mut items = connected(EventsRecovery::default());
    let mut out = Vec::new();
    items.subscribe("a", &mut out);
    out.clear();
    items.answered(1, false, &mut out);
    assert!(out.is_empty());
    assert_eq!(items.route(1, false), Route::Drop);
    // The engine's release still unsubscribes, as for any subscription.
    items.unsubscribe("a", &mut out);
    assert_eq!(ids(&out), ["USB a r2"]);
}

#[test]
fn without_a_remote_snapshots_are_empty_and_items_recover() {
    let mut items = Items::new(1, EventsRecovery::UseSnapshot);
    let mut out = Vec::new();
    assert_eq!(
        items.subscribe("a", &mut out),
        Some(Signal::EndOfSnapshot("a".into()))
    );
    assert!(out.is_empty());
    items.connected(&mut out);
    assert_eq!(ids(&out), ["SUB a r1"]);
    // The new remote's snapshot comes as updates; its end is not repeated.
    assert_eq!(items.route(1, true), deliver("a", false));
    assert_eq!(items.end_of_snapshot(1), None);
    assert_eq!(items.route(1, true), deliver("a", true));
}

#[test]
fn a_lost_remote_resubscribes_what_is_still_wanted() {
    let mut items = connected(EventsRecovery::EnforceSnapshot);
    let mut out = Vec::new();
    items.subscribe("a", &mut out);
    items.subscribe("b", &mut out);
    items.answered(1, true, &mut out);
    items.unsubscribe("b", &mut out);
    let mut signals = Vec::new();
    items.disconnected(&mut signals);
    assert_eq!(signals, [Signal::ClearSnapshot("a".into())]);
    assert_eq!(items.route(1, false), Route::Drop);
    out.clear();
    items.connected(&mut out);
    assert_eq!(ids(&out), ["SUB a r3"]);
    assert_eq!(items.route(3, true), deliver("a", false));
    // Real-time events end the recovery.
    assert_eq!(items.route(3, false), deliver("a", false));
    assert_eq!(items.route(3, true), deliver("a", true));
}

#[test]
fn leave_hole_drops_the_new_snapshot() {
    let mut items = connected(EventsRecovery::LeaveHole);
    let mut out = Vec::new();
    items.subscribe("a", &mut out);
    let mut signals = Vec::new();
    items.disconnected(&mut signals);
    assert!(signals.is_empty());
    items.connected(&mut out);
    assert_eq!(items.route(2, true), Route::Drop);
    assert_eq!(items.end_of_snapshot(2), None);
    assert_eq!(items.route(2, false), deliver("a", false));
}
