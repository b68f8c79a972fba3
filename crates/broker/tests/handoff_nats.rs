//! The session handoff store in NATS key-value buckets, and reading an
//! item's history back, against a real `nats-server` with JetStream.

mod common;

use common::*;
use shoal_adapter::{Bound, DataProvider, ItemEvent, Position};
use shoal_broker::handoff::nats::NatsStore;
use shoal_broker::nats::NatsFeed;
use shoal_broker::{FeedSettings, NatsSettings};
use shoal_handoff::{Loaded, Store, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn settings(server: &NatsServer) -> FeedSettings {
    let mut s = FeedSettings::new("FEED/DEFAULT", server.url());
    s.prefix = "shoal".into();
    s
}

async fn store(server: &NatsServer, node: &str, addresses: Vec<SocketAddr>) -> Arc<NatsStore> {
    NatsStore::start(
        &settings(server),
        &NatsSettings::default(),
        node.into(),
        addresses,
    )
    .await
    .unwrap()
}

fn create(session: &str, entries: &[&str], keep: Option<usize>) -> Write {
    Write {
        session: session.into(),
        create: true,
        entries: entries.iter().map(|e| e.as_bytes().to_vec()).collect(),
        keep,
    }
}

fn append(session: &str, entries: &[&str], keep: Option<usize>) -> Write {
    Write {
        create: false,
        ..create(session, entries, keep)
    }
}

fn loaded(owner: &str, entries: &[&str]) -> Option<Loaded> {
    Some(Loaded {
        owner: owner.into(),
        entries: entries.iter().map(|e| e.as_bytes().to_vec()).collect(),
    })
}

/// Waits until `cond` holds, failing with `what` after the deadline.
async fn until(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond().await {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The revision of a session's value, read by the test itself.
async fn revision(server: &NatsServer, session: &str) -> u64 {
    let kv = server
        .js()
        .await
        .get_key_value("SHOAL_sessions")
        .await
        .unwrap();
    let key = shoal_broker::presence::kv_key(session);
    kv.entry(key).await.unwrap().expect("a value").revision
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_is_written_appended_and_loaded_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path()).await;
    let a = store(&server, "a/1", vec![]).await;
    assert_eq!(a.node(), "a/1");
    assert_eq!(a.load("S1").await.unwrap(), None);
    let flags = a
        .write(&[
            create("S1", &[r#"{"k":"checkpoint"}"#], None),
            create("S.2 é", &["x"], None),
        ])
        .await
        .unwrap();
    assert_eq!(flags, [true, true]);
    let flags = a
        .write(&[append("S1", &["{\"k\":\"run\"}", "\"line\""], None)])
        .await
        .unwrap();
    assert_eq!(flags, [true]);
    assert_eq!(
        a.load("S1").await.unwrap(),
        loaded(
            "a/1",
            &[r#"{"k":"checkpoint"}"#, "{\"k\":\"run\"}", "\"line\""]
        )
    );
    // Ids with dots, spaces and non-ASCII are keys of their own.
    assert_eq!(a.load("S.2 é").await.unwrap(), loaded("a/1", &["x"]));
    // Created again: the journal is replaced.
    a.write(&[create("S1", &["new"], None)]).await.unwrap();
    assert_eq!(a.load("S1").await.unwrap(), loaded("a/1", &["new"]));
    // An entry that is not UTF-8 is refused, not altered.
    let bad = Write {
        entries: vec![vec![0xff, 0xfe]],
        ..append("S1", &[], None)
    };
    let err = a.write(&[bad]).await.unwrap_err().to_string();
    assert!(
        err.contains("writing session S1") && err.contains("UTF-8"),
        "{err}"
    );
    assert_eq!(a.load("S1").await.unwrap(), loaded("a/1", &["new"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_trims_the_journal_to_its_last_entries() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path()).await;
    let a = store(&server, "a/1", vec![]).await;
    a.write(&[create("S", &["1", "2", "3"], Some(2))])
        .await
        .unwrap();
    assert_eq!(a.load("S").await.unwrap(), loaded("a/1", &["2", "3"]));
    a.write(&[append("S", &["4", "5", "6"], Some(3))])
        .await
        .unwrap();
    assert_eq!(a.load("S").await.unwrap(), loaded("a/1", &["4", "5", "6"]));
    a.write(&[append("S", &["7"], Some(10))]).await.unwrap();
    assert_eq!(
        a.load("S").await.unwrap(),
        loaded("a/1", &["4", "5", "6", "7"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_does_not_own_a_session_writes_nothing_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path()).await;
    let a = store(&server, "a/1", vec![]).await;
    let b = store(&server, "b/1", vec![]).await;
    a.write(&[create("S", &["a1"], None)]).await.unwrap();
    // One flag per write, in order: b owns T, not S, and no one owns U.
    let flags = b
        .write(&[
            append("S", &["b1"], None),
            create("T", &["t1"], None),
            append("T", &["t2"], Some(1)),
            append("U", &["u1"], None),
        ])
        .await
        .unwrap();
    assert_eq!(flags, [false, true, true, false]);
    assert_eq!(b.load("S").await.unwrap(), loaded("a/1", &["a1"]));
    assert_eq!(a.load("T").await.unwrap(), loaded("b/1", &["t2"]));
    assert_eq!(a.load("U").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_nodes_claiming_a_session_at_once_exactly_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path()).await;
    let dead = store(&server, "dead/1", vec![]).await;
    let b = store(&server, "b/1", vec![]).await;
    let c = store(&server, "c/1", vec![]).await;
    for i in 0..20 {
        let s = format!("S{i}");
        dead.write(&[create(&s, &["e1", "e2"], None)])
            .await
            .unwrap();
        let (by_b, by_c) = tokio::join!(b.claim(&s, "dead/1"), c.claim(&s, "dead/1"));
        let (by_b, by_c) = (by_b.unwrap(), by_c.unwrap());
        assert!(by_b ^ by_c, "{s}: b {by_b}, c {by_c}");
        let (winner, loser) = if by_b { (&b, &c) } else { (&c, &b) };
        // The journal moves with the session; the loser sees the winner.
        let owner = winner.node();
        assert_eq!(loser.load(&s).await.unwrap(), loaded(owner, &["e1", "e2"]));
        assert_eq!(
            loser.write(&[append(&s, &["x"], None)]).await.unwrap(),
            [false]
        );
        assert_eq!(
            dead.write(&[append(&s, &["x"], None)]).await.unwrap(),
            [false]
        );
        assert_eq!(
            winner.write(&[append(&s, &["e3"], None)]).await.unwrap(),
            [true]
        );
    }
    // No record, or another owner: no claim.
    assert!(!b.claim("nobody", "dead/1").await.unwrap());
    assert!(!b.claim("S0", "dead/1").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_removes_or_touches_a_session() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path()).await;
    let a = store(&server, "a/1", vec![]).await;
    let b = store(&server, "b/1", vec![]).await;
    a.write(&[create("S", &["1"], None), create("T", &["2"], None)])
        .await
        .unwrap();
    let before = revision(&server, "S").await;
    b.touch(&["S".into(), "none".into()]).await.unwrap();
    assert_eq!(revision(&server, "S").await, before, "not b's to renew");
    a.touch(&["S".into(), "none".into()]).await.unwrap();
    assert!(
        revision(&server, "S").await > before,
        "written again: renewed"
    );
    assert_eq!(a.load("S").await.unwrap(), loaded("a/1", &["1"]));

    b.remove(&["S".into(), "T".into()]).await.unwrap();
    assert_eq!(a.load("S").await.unwrap(), loaded("a/1", &["1"]));
    assert_eq!(a.load("T").await.unwrap(), loaded("a/1", &["2"]));
    a.remove(&["S".into(), "none".into()]).await.unwrap();
    assert_eq!(b.load("S").await.unwrap(), None);
    assert_eq!(b.load("T").await.unwrap(), loaded("a/1", &["2"]));
    // A session removed is created anew as usual.
    assert_eq!(
        b.write(&[append("S", &["x"], None)]).await.unwrap(),
        [false]
    );
    assert_eq!(b.write(&[create("S", &["y"], None)]).await.unwrap(), [true]);
    assert_eq!(a.load("S").await.unwrap(), loaded("b/1", &["y"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_is_alive_while_announced_and_reachable() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path()).await;
    let listening = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_at = closed.local_addr().unwrap();
    drop(closed);
    let up = store(
        &server,
        "up/1",
        vec![closed_at, listening.local_addr().unwrap()],
    )
    .await;
    let killed = store(&server, "killed/1", vec![closed_at]).await;
    let _nowhere = store(&server, "nowhere/1", vec![]).await;
    let me = store(&server, "me/1", vec![]).await;

    until("up/1 seen alive", async || me.alive("up/1").await.unwrap()).await;
    until("nowhere/1 seen alive", async || {
        me.alive("nowhere/1").await.unwrap()
    })
    .await;
    assert!(up.alive("nowhere/1").await.unwrap());
    // Announced, but nothing listens where it said: dead, at once.
    let key = shoal_broker::presence::kv_key("killed/1");
    until("killed/1 announced", async || {
        let kv = server.js().await.get_key_value("SHOAL_alive").await;
        match kv {
            Ok(kv) => kv.get(key.as_str()).await.unwrap().is_some(),
            Err(_) => false,
        }
    })
    .await;
    let asked = Instant::now();
    assert!(!me.alive("killed/1").await.unwrap());
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
    drop(killed);
    // Never announced: dead.
    assert!(!me.alive("ghost/1").await.unwrap());
    // Leaving: dead at once, and not announced again.
    up.leave().await.unwrap();
    assert!(!me.alive("up/1").await.unwrap());
    // That nothing comes back can only be seen over a while: longer than
    // one announcing period.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !me.alive("up/1").await.unwrap(),
        "announced again after leave"
    );
}

/// The bucket `name` as the test itself sees it.
async fn bucket(server: &NatsServer, name: &str) -> async_nats::jetstream::kv::Store {
    server.js().await.get_key_value(name).await.unwrap()
}

/// The revision of `owner`'s value in the bucket `name`, if it has one.
async fn announced(server: &NatsServer, name: &str, owner: &str) -> Option<u64> {
    let key = shoal_broker::presence::kv_key(owner);
    let kv = server.js().await.get_key_value(name).await.ok()?;
    let entry = kv.entry(key).await.unwrap()?;
    (entry.operation == async_nats::jetstream::kv::Operation::Put).then_some(entry.revision)
}

/// Waits until the address record of `owner` is no longer renewed (the same
/// revision for 1.2 s): the revision it stays at, if any.
async fn unrenewed(server: &NatsServer, owner: &str) -> Option<u64> {
    let deadline = Instant::now() + WAIT;
    let mut last = (announced(server, "SHOAL_addr", owner).await, Instant::now());
    loop {
        let now = announced(server, "SHOAL_addr", owner).await;
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_millis(1200) {
            return last.0;
        }
        assert!(Instant::now() < deadline, "{owner} still announced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_liveness_key_expired_is_probed_at_its_address_record() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path()).await;
    let me = store(&server, "me/1", vec![]).await;
    let listening = TcpListener::bind("127.0.0.1:0").unwrap();
    let cut = store(&server, "cut/1", vec![listening.local_addr().unwrap()]).await;
    let left = store(&server, "left/1", vec![listening.local_addr().unwrap()]).await;
    until("cut/1 seen alive", async || {
        me.alive("cut/1").await.unwrap()
    })
    .await;
    until("both announced", async || {
        announced(&server, "SHOAL_addr", "cut/1").await.is_some()
            && announced(&server, "SHOAL_addr", "left/1").await.is_some()
    })
    .await;

    // The address record: the liveness value, in a bucket whose values
    // live 10 minutes.
    let key = shoal_broker::presence::kv_key("cut/1");
    let live = bucket(&server, "SHOAL_alive")
        .await
        .get(&key)
        .await
        .unwrap();
    let record = bucket(&server, "SHOAL_addr").await.get(&key).await.unwrap();
    assert!(live.is_some());
    assert_eq!(live, record);
    let info = server
        .js()
        .await
        .get_stream("KV_SHOAL_addr")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .config
        .clone();
    assert_eq!(info.max_age, Duration::from_secs(600));

    // A partition: the node stops announcing (its store is dropped, not
    // left); once its record is no longer renewed (the same revision for
    // 1.2 s), its liveness key expires (deleted here).
    drop(cut);
    let last = unrenewed(&server, "cut/1").await;
    assert!(last.is_some(), "the address record is still there");
    bucket(&server, "SHOAL_alive")
        .await
        .delete(&key)
        .await
        .unwrap();
    assert_eq!(announced(&server, "SHOAL_alive", "cut/1").await, None);

    // Still serving its clients: alive, its sessions are not taken over.
    assert!(me.alive("cut/1").await.unwrap());

    // Leaving: dead at once, though its listener is open; neither key is
    // left.
    left.leave().await.unwrap();
    assert!(!me.alive("left/1").await.unwrap());
    assert_eq!(me.silence("left/1").await.unwrap(), None);
    // Silent since its record was last put (by the server's time).
    let silent = me.silence("cut/1").await.unwrap().unwrap();
    assert!(
        silent >= Duration::from_millis(1200) && silent < Duration::from_secs(60),
        "{silent:?}"
    );
    assert_eq!(announced(&server, "SHOAL_alive", "left/1").await, None);
    assert_eq!(announced(&server, "SHOAL_addr", "left/1").await, None);

    // Its listener gone too (a killed process): dead, at once.
    drop(listening);
    let asked = Instant::now();
    assert!(!me.alive("cut/1").await.unwrap());
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_store_stops_announcing_and_its_key_expires() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path()).await;
    let gone = store(&server, "gone/1", vec![]).await;
    let me = store(&server, "me/1", vec![]).await;
    until("gone/1 seen alive", async || {
        me.alive("gone/1").await.unwrap()
    })
    .await;
    drop(gone);
    // ALIVE_TTL (3 s) after its last announcement, the server forgets it.
    until("gone/1 seen dead", async || {
        !me.alive("gone/1").await.unwrap()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets_deleted_under_the_store_are_made_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path()).await;
    let a = store(&server, "a/1", vec![]).await;
    let me = store(&server, "me/1", vec![]).await;
    a.write(&[create("S", &["1"], None)]).await.unwrap();
    until("a/1 seen alive", async || me.alive("a/1").await.unwrap()).await;
    let js = server.js().await;
    js.delete_stream("KV_SHOAL_sessions").await.unwrap();
    js.delete_stream("KV_SHOAL_alive").await.unwrap();
    // The first request after may fail; the bucket is made again after it.
    until("sessions written again", async || {
        a.write(&[create("S", &["2"], None)]).await.is_ok()
    })
    .await;
    assert_eq!(me.load("S").await.unwrap(), loaded("a/1", &["2"]));
    until("a/1 announced again", async || {
        me.alive("a/1").await.unwrap_or(false)
    })
    .await;
}

/// A feed of the stream SHOAL, once it answers.
async fn feed(server: &NatsServer) -> Arc<NatsFeed> {
    let feed = NatsFeed::start(settings(server), NatsSettings::default()).unwrap();
    until("the feed is up", async || feed.is_up()).await;
    feed
}

fn shown(events: &[ItemEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let at = e.position().map(|p| p.to_string()).unwrap_or_default();
            let fields: Vec<String> = e
                .fields()
                .map(|(n, v)| format!("{n}={}", v.unwrap_or("#")))
                .collect();
            format!("{at} {}", fields.join(","))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_reads_an_items_messages_from_a_sequence_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path()).await;
    let js = server.js().await;
    make_stream(&js, 0).await;
    let mut seqs = Vec::new();
    for i in 1..=5 {
        seqs.push(publish(&js, "shoal.ticks", &[("n", &i.to_string())]).await);
        publish(&js, "shoal.other", &[("n", "x")]).await;
    }
    // Skipped, as the live reader skips it.
    let bad = publish_raw(&js, "shoal.ticks", "not json").await;
    seqs.push(publish(&js, "shoal.ticks", &[("n", "6")]).await);
    let feed = feed(&server).await;
    let js_at = |s: u64| Position::JetStream(s);

    let all = feed
        .history("ticks", Bound::From(js_at(1)), 100)
        .await
        .unwrap();
    let want: Vec<String> = seqs
        .iter()
        .zip(1..)
        .map(|(s, n)| format!("{s} n={n}"))
        .collect();
    assert_eq!(shown(&all), want);
    assert!(seqs[4] < bad && bad < seqs[5]);

    let from = feed
        .history("ticks", Bound::From(js_at(seqs[2])), 100)
        .await
        .unwrap();
    assert_eq!(shown(&from), want[2..]);
    let after = feed
        .history("ticks", Bound::After(js_at(seqs[2])), 2)
        .await
        .unwrap();
    assert_eq!(shown(&after), want[3..5]);
    let limited = feed
        .history("ticks", Bound::From(js_at(0)), 1)
        .await
        .unwrap();
    assert_eq!(shown(&limited), want[..1]);
    // Nothing after the last one, nothing of an item never written.
    let last = *seqs.last().unwrap();
    assert!(feed
        .history("ticks", Bound::After(js_at(last)), 10)
        .await
        .unwrap()
        .is_empty());
    assert!(feed
        .history("none", Bound::From(js_at(1)), 10)
        .await
        .unwrap()
        .is_empty());
    // A position of another broker is an error, as is a bad item name.
    let redis = Position::Redis { ms: 1, seq: 0 };
    assert!(feed.history("ticks", Bound::From(redis), 10).await.is_err());
    assert!(feed
        .history("a b", Bound::From(js_at(1)), 10)
        .await
        .is_err());

    // The history consumers are gone once read.
    let mut stream = js.get_stream("SHOAL").await.unwrap();
    let info = stream.info().await.unwrap();
    assert_eq!(info.state.consumer_count, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_on_its_addresses_forgets_its_dead_incarnation() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path()).await;
    let watcher = store(&server, "w/1", vec![]).await;
    let listening = TcpListener::bind("127.0.0.1:0").unwrap();
    let at = listening.local_addr().unwrap();
    let first = store(&server, "n/1", vec![at]).await;
    until("n/1 seen alive", async || {
        watcher.alive("n/1").await.unwrap()
    })
    .await;
    until("n/1 announced", async || {
        announced(&server, "SHOAL_addr", "n/1").await.is_some()
    })
    .await;

    // Killed: it stops announcing (dropped, not left: its record keeps
    // its revision for 1.2 s), its liveness key expires (deleted here),
    // its listener goes.
    drop(first);
    unrenewed(&server, "n/1").await;
    let key = shoal_broker::presence::kv_key("n/1");
    bucket(&server, "SHOAL_alive")
        .await
        .delete(&key)
        .await
        .unwrap();
    drop(listening);
    // Restarted at once on the same address: the dead incarnation's
    // record is probed there, and looks alive.
    let listening = TcpListener::bind(at).unwrap();
    assert!(watcher.alive("n/1").await.unwrap());

    // The new incarnation, and a twin of the same name (still announcing).
    let second = store(&server, "n/2", vec![at]).await;
    let twin_listening = TcpListener::bind("127.0.0.1:0").unwrap();
    let twin = store(&server, "n/b", vec![twin_listening.local_addr().unwrap()]).await;
    // Another node whose name starts alike is not an incarnation of `n`.
    let other = store(&server, "n/a/1", vec![]).await;
    until("the dead incarnation's record gone", async || {
        announced(&server, "SHOAL_addr", "n/1").await.is_none()
    })
    .await;
    assert!(!watcher.alive("n/1").await.unwrap());

    // Live incarnations keep their records, look after look.
    tokio::time::sleep(shoal_broker::handoff::alive::FORGET_EVERY + Duration::from_secs(1)).await;
    for owner in ["n/2", "n/b", "n/a/1"] {
        assert!(
            announced(&server, "SHOAL_addr", owner).await.is_some(),
            "{owner}"
        );
        assert!(watcher.alive(owner).await.unwrap(), "{owner}");
    }
    drop((second, twin, other, listening, twin_listening));
}
