#![allow(clippy::unwrap_used)]

use super::*;
use std::time::UNIX_EPOCH;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn status(name: &str, sessions: u64) -> Status {
    Status {
        name: name.into(),
        console_url: format!("http://{name}:8080/dashboard/"),
        accepting: true,
        ready: true,
        sessions,
        uptime_s: 30,
        ..Status::default()
    }
}

/// (command, key, state) of each change.
fn brief(changes: &[Change]) -> Vec<(String, String, String)> {
    changes
        .iter()
        .map(|c| {
            let ev = c.event();
            let get = |f: &str| ev.get(f).flatten().unwrap_or("").to_owned();
            (get("command"), get("key"), get("state"))
        })
        .collect()
}

fn t(command: &str, key: &str, state: &str) -> (String, String, String) {
    (command.into(), key.into(), state.into())
}

#[test]
fn self_config_and_broker_rows_merge_by_name() {
    let mut c = Cluster::new("n1");
    assert_eq!(
        brief(&c.myself(&status("n1", 3), at(1))),
        [t("ADD", "n1", "up")]
    );
    assert_eq!(
        brief(&c.myself(&status("n1", 4), at(2))),
        [t("UPDATE", "n1", "up")]
    );
    let polled = c.polled(
        "n2",
        "http://n2:8080/dashboard/",
        Ok(status("n2", 7)),
        at(2),
    );
    assert_eq!(brief(&polled), [t("ADD", "n2", "up")]);
    // The broker tells of n1 (itself), n2 (listed: its polled row stays)
    // and n3 (new).
    let found = [status("n1", 4), status("n2", 7), status("n3", 1)];
    assert_eq!(brief(&c.discovered(&found, at(3))), [t("ADD", "n3", "up")]);
    let sources: Vec<(&str, Source)> = c.rows().map(|r| (r.name.as_str(), r.source)).collect();
    assert_eq!(
        sources,
        [
            ("n1", Source::Myself),
            ("n2", Source::Config),
            ("n3", Source::Broker)
        ]
    );
    let ev = Change::Update(c.rows().nth(2).unwrap().clone()).event();
    assert_eq!(ev.get("sessions"), Some(Some("1")));
    assert_eq!(ev.get("source"), Some(Some("broker")));
    assert_eq!(
        ev.get("console_url"),
        Some(Some("http://n3:8080/dashboard/"))
    );
    assert_eq!(ev.get("last_seen"), Some(Some("1970-01-01T00:00:03Z")));
    assert_eq!(ev.get("error"), Some(Some("")));
}

#[test]
fn a_listed_peer_that_fails_keeps_its_figures_and_says_why() {
    let mut c = Cluster::new("n1");
    c.polled("n2", "http://n2/", Ok(status("n2", 7)), at(1));
    let down = Failure::Unreachable("connection refused".into());
    let ch = c.polled("n2", "http://n2/", Err(down), at(3));
    assert_eq!(brief(&ch), [t("UPDATE", "n2", "unreachable")]);
    let ev = ch[0].event();
    assert_eq!(ev.get("sessions"), Some(Some("7")));
    assert_eq!(ev.get("error"), Some(Some("connection refused")));
    assert_eq!(ev.get("last_seen"), Some(Some("1970-01-01T00:00:01Z")));
    let refused = Failure::Refused("401: check user= and password=".into());
    let ch = c.polled("n2", "http://n2/", Err(refused), at(5));
    assert_eq!(brief(&ch), [t("UPDATE", "n2", "refused")]);
    // Never seen: no figures at all.
    let ch = c.polled(
        "n4",
        "http://n4/",
        Err(Failure::Unreachable("timeout".into())),
        at(5),
    );
    assert_eq!(ch[0].event().get("sessions"), Some(None));
}

#[test]
fn draining_and_unready_come_from_the_document() {
    let mut c = Cluster::new("n1");
    let draining = Status {
        accepting: false,
        ..status("n1", 0)
    };
    assert_eq!(
        brief(&c.myself(&draining, at(1))),
        [t("ADD", "n1", "draining")]
    );
    let unready = Status {
        ready: false,
        unready: vec!["FEED/PRICES: broker unreachable".into()],
        ..status("n1", 0)
    };
    let ch = c.myself(&unready, at(2));
    assert_eq!(brief(&ch), [t("UPDATE", "n1", "unready")]);
    assert_eq!(
        ch[0].event().get("error"),
        Some(Some("FEED/PRICES: broker unreachable"))
    );
}

#[test]
fn an_expired_broker_entry_turns_stale_then_is_deleted() {
    let mut c = Cluster::new("n1");
    c.discovered(&[status("n3", 1)], at(10));
    assert_eq!(
        brief(&c.discovered(&[], at(20))),
        [t("UPDATE", "n3", "stale")]
    );
    assert!(c.discovered(&[], at(22)).is_empty(), "stale once");
    assert_eq!(brief(&c.discovered(&[], at(30))), [t("DELETE", "n3", "")]);
    assert_eq!(c.rows().count(), 0);
    // Back before deletion: up again.
    c.discovered(&[status("n3", 1)], at(40));
    c.discovered(&[], at(42));
    assert_eq!(
        brief(&c.discovered(&[status("n3", 2)], at(44))),
        [t("UPDATE", "n3", "up")]
    );
}

#[test]
fn at_most_max_nodes_rows() {
    let mut c = Cluster::new("n0");
    let found: Vec<Status> = (1..=MAX_NODES + 5)
        .map(|i| status(&format!("b{i:03}"), 0))
        .collect();
    let changes = c.discovered(&found, at(1));
    assert_eq!(changes.len(), MAX_NODES);
    assert_eq!(c.rows().count(), MAX_NODES);
    // Known rows are still updated when full.
    assert_eq!(c.discovered(&found, at(2)).len(), MAX_NODES);
}
