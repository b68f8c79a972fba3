#![allow(clippy::unwrap_used)]

use super::*;
use shoal_engine::StreamKind;
use std::time::{Duration, UNIX_EPOCH};

fn session(id: &str, subscriptions: usize) -> SessionSummary {
    SessionSummary {
        id: id.into(),
        adapter_set: "DEMO".into(),
        user: None,
        client_ip: "127.0.0.1".into(),
        transport: Some(StreamKind::WsStreaming),
        started: UNIX_EPOCH + Duration::from_secs(1_735_689_600),
        subscriptions,
        user_agent: Some("Mozilla/5.0".into()),
    }
}

/// (key, command) of each event, in order.
fn commands(events: &[ItemEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            let get = |f| e.get(f).flatten().unwrap_or_default().to_owned();
            (get("key"), get("command"))
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, c)| ((*k).to_owned(), (*c).to_owned()))
        .collect()
}

#[test]
fn a_row_carries_every_field_unknown_ones_empty() {
    let mut s = session("S1", 3);
    s.user = Some("alice".into());
    s.transport = None;
    s.user_agent = None;
    let events = SessionRows::default().snapshot(&[s]);
    let ev = &events[0];
    let names: Vec<&str> = ev.fields().map(|(n, _)| n).collect();
    let mut expected = vec!["key", "command"];
    expected.extend(FIELDS);
    assert_eq!(names, expected);
    assert_eq!(ev.get("adapter_set"), Some(Some("DEMO")));
    assert_eq!(ev.get("user"), Some(Some("alice")));
    assert_eq!(ev.get("client_ip"), Some(Some("127.0.0.1")));
    assert_eq!(ev.get("transport"), Some(Some("")), "no stream bound");
    assert_eq!(ev.get("started"), Some(Some("2025-01-01T00:00:00Z")));
    assert_eq!(ev.get("subscriptions"), Some(Some("3")));
    assert_eq!(ev.get("user_agent"), Some(Some("")));
}

#[test]
fn changes_become_add_update_and_delete_deletions_first() {
    let mut rows = SessionRows::default();
    let snap = rows.snapshot(&[session("S2", 0), session("S1", 0)]);
    assert_eq!(commands(&snap), pairs(&[("S2", "ADD"), ("S1", "ADD")]));

    assert!(
        rows.diff(&[session("S2", 0), session("S1", 0)]).is_empty(),
        "nothing changed"
    );

    // S3 opens, S2 subscribes, S1 closes.
    let events = rows.diff(&[session("S3", 0), session("S2", 1)]);
    assert_eq!(
        commands(&events),
        pairs(&[("S1", "DELETE"), ("S3", "ADD"), ("S2", "UPDATE")])
    );
    assert_eq!(events[2].get("subscriptions"), Some(Some("1")));
    assert_eq!(
        events[0].fields().count(),
        2,
        "a DELETE is its key and command"
    );

    // S2 loses its stream.
    let mut lost = session("S2", 1);
    lost.transport = None;
    let events = rows.diff(&[session("S3", 0), lost]);
    assert_eq!(commands(&events), pairs(&[("S2", "UPDATE")]));
    assert_eq!(events[0].get("transport"), Some(Some("")));
}

#[test]
fn a_snapshot_starts_over_and_an_id_listed_twice_is_sent_once() {
    let mut rows = SessionRows::default();
    rows.snapshot(&[session("S1", 0)]);
    let snap = rows.snapshot(&[session("S1", 0), session("S1", 0)]);
    assert_eq!(commands(&snap), pairs(&[("S1", "ADD")]));
    assert!(rows.diff(&[session("S1", 0)]).is_empty());
    let gone = rows.diff(&[]);
    assert_eq!(commands(&gone), pairs(&[("S1", "DELETE")]));
}
