#![allow(clippy::unwrap_used)]

use super::*;
use std::time::{Duration, UNIX_EPOCH};

/// What the provider sent: (item, event, is_snapshot), and ends of snapshot.
#[derive(Default)]
struct Recorder(Mutex<Vec<(String, ItemEvent, bool)>>);

impl ItemEventListener for Recorder {
    fn update(&self, item: &str, event: ItemEvent, is_snapshot: bool) {
        self.0.lock().push((item.to_owned(), event, is_snapshot));
    }
    fn end_of_snapshot(&self, item: &str) {
        self.0
            .lock()
            .push((item.to_owned(), ItemEvent::new().with("EOS", "1"), true));
    }
    fn clear_snapshot(&self, _item: &str) {}
    fn failure(&self, _message: &str) {}
}

impl Recorder {
    fn take(&self) -> Vec<(String, ItemEvent, bool)> {
        std::mem::take(&mut *self.0.lock())
    }
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn monitor() -> (MonitorData, Arc<Recorder>) {
    let node = NodeInfo {
        name: "node-1".into(),
        version: "0.1.0".into(),
        pid: 7,
        started: at(1_000),
        listeners: vec![],
        control_link: None,
        console_url: "http://127.0.0.1:8080/dashboard/".into(),
    };
    let adapters = vec![
        AdapterInfo {
            set: "DEMO".into(),
            adapter: "QUOTE_ADAPTER".into(),
            kind: "demo".into(),
        },
        AdapterInfo {
            set: "FEED".into(),
            adapter: "PRICES".into(),
            kind: "redis".into(),
        },
    ];
    let data = MonitorData::new(node, adapters);
    let rec = Arc::new(Recorder::default());
    data.set_listener(rec.clone());
    (data, rec)
}

fn sample(n: u64) -> ItemEvent {
    ItemEvent::new().with("ts", n.to_string())
}

fn ready() -> Vec<String> {
    vec!["ready".into(), "ready".into()]
}

#[test]
fn a_distinct_snapshot_holds_the_last_ten_minutes() {
    let (data, rec) = monitor();
    for n in 1..=HISTORY as u64 + 5 {
        data.record(sample(n), ready(), at(1_000 + n));
    }
    assert!(rec.take().is_empty(), "nothing sent while nobody watches");
    data.subscribe("stats").unwrap();
    let sent = rec.take();
    let events: Vec<&ItemEvent> = sent
        .iter()
        .filter(|s| s.1.get("ts").is_some())
        .map(|s| &s.1)
        .collect();
    assert_eq!(events.len(), HISTORY);
    assert_eq!(events[0].get("ts"), Some(Some("6")), "oldest kept first");
    assert!(sent.iter().all(|s| s.2 && s.0 == "stats"));
    assert_eq!(data.history_length("stats"), Some(HISTORY));
    assert_eq!(data.history_length("node"), None);

    data.record(sample(9_999), ready(), at(2_000));
    let sent = rec.take();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].0.as_str(), sent[0].2), ("stats", false));
    assert_eq!(sent[0].1.get("ts"), Some(Some("9999")));

    data.unsubscribe("stats");
    data.record(sample(10_000), ready(), at(2_001));
    assert!(rec.take().is_empty());
}

#[test]
fn node_sends_its_identity_then_its_uptime() {
    let (data, rec) = monitor();
    data.subscribe("node").unwrap();
    let sent = rec.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.get("name"), Some(Some("node-1")));
    assert!(sent[0].2);
    data.record(sample(1), ready(), at(1_060));
    let sent = rec.take();
    let node: Vec<_> = sent.iter().filter(|s| s.0 == "node").collect();
    assert_eq!(node.len(), 1);
    assert_eq!(node[0].1.get("uptime_s"), Some(Some("60")));
}

#[test]
fn adapters_are_command_rows_updated_when_their_state_changes() {
    let (data, rec) = monitor();
    data.subscribe("adapters").unwrap();
    let sent = rec.take();
    let rows: Vec<(Option<&str>, Option<&str>, Option<&str>)> = sent
        .iter()
        .filter(|s| s.1.get("key").is_some())
        .map(|s| {
            (
                s.1.get("key").flatten(),
                s.1.get("command").flatten(),
                s.1.get("kind").flatten(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (Some("DEMO/QUOTE_ADAPTER"), Some("ADD"), Some("demo")),
            (Some("FEED/PRICES"), Some("ADD"), Some("redis")),
        ]
    );
    data.record(sample(1), ready(), at(1_001));
    assert!(rec.take().is_empty(), "no change, no update");
    let down = vec!["ready".to_owned(), "broker unreachable".to_owned()];
    data.record(sample(2), down.clone(), at(1_002));
    let sent = rec.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.get("key"), Some(Some("FEED/PRICES")));
    assert_eq!(sent[0].1.get("command"), Some(Some("UPDATE")));
    assert_eq!(sent[0].1.get("state"), Some(Some("broker unreachable")));
    data.record(sample(3), down, at(1_003));
    assert!(rec.take().is_empty());
}

#[test]
fn unknown_items_are_refused() {
    let (data, _rec) = monitor();
    let e = data.subscribe("cpu").unwrap_err();
    assert_eq!(e.code, 21);
    assert!(e
        .message
        .contains("node, stats, adapters, cluster and sessions"));
}

fn summary(id: &str) -> shoal_engine::SessionSummary {
    shoal_engine::SessionSummary {
        id: id.into(),
        adapter_set: "DEMO".into(),
        user: None,
        client_ip: "127.0.0.1".into(),
        transport: None,
        started: at(1_000),
        subscriptions: 0,
        user_agent: None,
    }
}

#[test]
fn sessions_are_sent_as_they_change_only_while_subscribed() {
    let (data, rec) = monitor();
    data.record_sessions(&[summary("S1")]);
    assert!(rec.take().is_empty(), "nothing sent while nobody watches");

    // No engine attached here: the snapshot is empty, the sampler adds.
    data.subscribe("sessions").unwrap();
    let sent = rec.take();
    assert!(sent.iter().all(|s| s.0 == "sessions" && s.2));
    assert!(
        sent.iter().all(|s| s.1.get("key").is_none()),
        "{:?}",
        sent.len()
    );

    data.record_sessions(&[summary("S1")]);
    let sent = rec.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.get("key"), Some(Some("S1")));
    assert_eq!(sent[0].1.get("command"), Some(Some("ADD")));
    assert!(!sent[0].2, "a real-time update");

    data.record_sessions(&[summary("S1")]);
    assert!(rec.take().is_empty(), "no change, no update");
    data.record_sessions(&[]);
    let sent = rec.take();
    assert_eq!(sent[0].1.get("command"), Some(Some("DELETE")));

    data.unsubscribe("sessions");
    data.record_sessions(&[summary("S2")]);
    assert!(rec.take().is_empty());
}
