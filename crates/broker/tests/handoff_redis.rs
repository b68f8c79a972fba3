//! The session handoff store and item history reads against a real
//! `redis-server`: journals written, trimmed and loaded back, ownership
//! (appends, claims, removals only by the owner), node liveness, and
//! `DataProvider::history` over entries a producer added.

mod common;

use common::*;
use shoal_adapter::{Bound, DataProvider, ItemEvent, Position};
use shoal_broker::handoff::redis::RedisStore;
use shoal_broker::redis::RedisFeed;
use shoal_broker::FeedSettings;
use shoal_handoff::{Loaded, Store, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

fn settings(server: &RedisServer) -> FeedSettings {
    let mut s = FeedSettings::new("FEED/DEFAULT", server.url());
    s.prefix = "shoal:".into();
    s
}

fn store(server: &RedisServer, node: &str, addresses: Vec<SocketAddr>) -> Arc<RedisStore> {
    RedisStore::start(&settings(server), node.to_owned(), addresses).unwrap()
}

fn entries(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|e| e.as_bytes().to_vec()).collect()
}

fn create(session: &str, list: &[&str]) -> Write {
    Write {
        session: session.into(),
        create: true,
        entries: entries(list),
        keep: None,
    }
}

fn append(session: &str, list: &[&str], keep: Option<usize>) -> Write {
    Write {
        session: session.into(),
        create: false,
        entries: entries(list),
        keep,
    }
}

fn loaded(owner: &str, list: &[&str]) -> Option<Loaded> {
    Some(Loaded {
        owner: owner.into(),
        entries: entries(list),
    })
}

/// Polls `alive(owner)` until it answers `want`, within [`WAIT`].
async fn alive_becomes(s: &RedisStore, owner: &str, want: bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if s.alive(owner).await.unwrap() == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "alive({owner}) never became {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_is_written_appended_and_loaded_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), false).await;
    let a = store(&server, "a/1", vec![]);
    assert_eq!(a.node(), "a/1");
    assert_eq!(a.load("s1").await.unwrap(), None);
    let flags = a
        .write(&[create("s1", &["e1", "e2"]), create("s2", &[])])
        .await
        .unwrap();
    assert_eq!(flags, vec![true, true]);
    let flags = a.write(&[append("s1", &["e3"], None)]).await.unwrap();
    assert_eq!(flags, vec![true]);
    assert_eq!(
        a.load("s1").await.unwrap(),
        loaded("a/1", &["e1", "e2", "e3"])
    );
    assert_eq!(a.load("s2").await.unwrap(), loaded("a/1", &[]));
    // Creating again replaces the journal.
    a.write(&[create("s1", &["f1"])]).await.unwrap();
    assert_eq!(a.load("s1").await.unwrap(), loaded("a/1", &["f1"]));

    // Both records expire unless renewed: the TTL is set, then renewed.
    let mut conn = server.conn().await;
    let ttl: i64 = redis::cmd("PTTL")
        .arg("shoal:session:s1:journal")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 500_000 && ttl <= 600_000, "{ttl}");
    let _: () = redis::cmd("PEXPIRE")
        .arg("shoal:session:s1:owner")
        .arg(5000)
        .query_async(&mut conn)
        .await
        .unwrap();
    a.touch(&["s1".to_owned()]).await.unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg("shoal:session:s1:owner")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 500_000, "touch renewed the owner key: {ttl}");

    a.remove(&["s1".to_owned(), "s2".to_owned()]).await.unwrap();
    assert_eq!(a.load("s1").await.unwrap(), None);
    assert_eq!(a.load("s2").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_trims_to_the_last_entries() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), false).await;
    let a = store(&server, "a/1", vec![]);
    a.write(&[create("s", &["1", "2", "3"])]).await.unwrap();
    a.write(&[append("s", &["4", "5"], Some(2))]).await.unwrap();
    assert_eq!(a.load("s").await.unwrap(), loaded("a/1", &["4", "5"]));
    a.write(&[append("s", &["6"], Some(0))]).await.unwrap();
    assert_eq!(a.load("s").await.unwrap(), loaded("a/1", &[]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_does_not_own_a_session_writes_nothing_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), false).await;
    let a = store(&server, "a/1", vec![]);
    let b = store(&server, "b/1", vec![]);
    a.write(&[create("s", &["a1"])]).await.unwrap();
    // One batch: b's own session is written, a's is not.
    let flags = b
        .write(&[
            append("s", &["b1"], Some(0)),
            create("t", &["b1"]),
            append("nobody", &["b1"], None),
        ])
        .await
        .unwrap();
    assert_eq!(flags, vec![false, true, false]);
    assert_eq!(a.load("s").await.unwrap(), loaded("a/1", &["a1"]));
    assert_eq!(b.load("nobody").await.unwrap(), None);
    // Nor do its touch and remove reach a's records.
    b.remove(&["s".to_owned()]).await.unwrap();
    b.touch(&["s".to_owned()]).await.unwrap();
    assert_eq!(b.load("s").await.unwrap(), loaded("a/1", &["a1"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_nodes_claiming_a_session_at_once_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), false).await;
    let dead = store(&server, "dead/1", vec![]);
    let b = store(&server, "b/1", vec![]);
    let c = store(&server, "c/1", vec![]);
    for round in 0..20 {
        let session = format!("s{round}");
        dead.write(&[create(&session, &["e"])]).await.unwrap();
        let (won_b, won_c) = tokio::join!(b.claim(&session, "dead/1"), c.claim(&session, "dead/1"));
        let (won_b, won_c) = (won_b.unwrap(), won_c.unwrap());
        assert!(won_b != won_c, "round {round}: b {won_b}, c {won_c}");
        let winner = if won_b { "b/1" } else { "c/1" };
        // The loser sees the new owner; the journal stays.
        let loser = if won_b { &c } else { &b };
        assert_eq!(loser.load(&session).await.unwrap(), loaded(winner, &["e"]));
        // The old owner can no longer append.
        let flags = dead.write(&[append(&session, &["x"], None)]).await.unwrap();
        assert_eq!(flags, vec![false]);
    }
    assert!(!b.claim("gone", "dead/1").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_flushed_from_redis_are_loaded_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), false).await;
    let a = store(&server, "a/1", vec![]);
    a.write(&[create("s", &["1"])]).await.unwrap();
    let mut conn = server.conn().await;
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut conn)
        .await
        .unwrap();
    let flags = a
        .write(&[append("s", &["2"], None), append("s", &["3"], None)])
        .await
        .unwrap();
    assert_eq!(flags, vec![true, true]);
    assert_eq!(a.load("s").await.unwrap(), loaded("a/1", &["1", "2", "3"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_follows_the_key_and_the_announced_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), false).await;
    let watcher = store(&server, "w/1", vec![]);
    // No key: dead.
    assert!(!watcher.alive("never/1").await.unwrap());

    // Announced, listening: alive.
    let listening = TcpListener::bind("127.0.0.1:0").unwrap();
    let live = store(&server, "live/1", vec![listening.local_addr().unwrap()]);
    alive_becomes(&watcher, "live/1", true).await;
    let mut conn = server.conn().await;
    let doc: String = redis::cmd("GET")
        .arg("shoal:alive:live/1")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        doc,
        format!(r#"{{"addresses":["{}"]}}"#, listening.local_addr().unwrap())
    );

    // Announced, but nothing listens any more (a killed process): dead at
    // once, while its key is still there.
    let dropped = TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = store(&server, "gone/1", vec![dropped.local_addr().unwrap()]);
    alive_becomes(&watcher, "gone/1", true).await;
    drop(dropped);
    let started = std::time::Instant::now();
    assert!(!watcher.alive("gone/1").await.unwrap());
    assert!(started.elapsed() < Duration::from_secs(1));
    drop(gone);

    // No address to probe: alive while announced.
    let quiet = store(&server, "quiet/1", vec![]);
    alive_becomes(&watcher, "quiet/1", true).await;

    // Leaving: dead at once, and no longer announced.
    live.leave().await.unwrap();
    assert!(!watcher.alive("live/1").await.unwrap());
    quiet.leave().await.unwrap();
    assert!(!watcher.alive("quiet/1").await.unwrap());
    // Neither key is left: not even its still open listener makes it
    // alive.
    let exists: i64 = redis::cmd("EXISTS")
        .arg("shoal:alive:live/1")
        .arg("shoal:addr:live/1")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(exists, 0);
    assert!(!watcher.alive("live/1").await.unwrap());
    drop(listening);
}

/// The PTTL of `key`, in ms (-2: no such key).
async fn pttl(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("PTTL").arg(key).query_async(conn).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_liveness_key_expired_is_probed_at_its_address_record() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), false).await;
    let mut conn = server.conn().await;
    let watcher = store(&server, "w/1", vec![]);
    let listening = TcpListener::bind("127.0.0.1:0").unwrap();
    let cut = store(&server, "cut/1", vec![listening.local_addr().unwrap()]);
    alive_becomes(&watcher, "cut/1", true).await;

    // The address record: the liveness value, living 10 minutes.
    let (live, record): (String, String) = redis::cmd("MGET")
        .arg("shoal:alive:cut/1")
        .arg("shoal:addr:cut/1")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(live, record);
    let ttl = pttl(&mut conn, "shoal:addr:cut/1").await;
    assert!(ttl > 590_000 && ttl <= 600_000, "{ttl}");

    // A partition: the node stops announcing (its store is dropped, not
    // left), and once nothing renews its keys (the record's PTTL shows no
    // renewal for 1.2 s), its liveness key expires (deleted here).
    drop(cut);
    let deadline = tokio::time::Instant::now() + WAIT;
    while pttl(&mut conn, "shoal:addr:cut/1").await > 600_000 - 1200 {
        assert!(tokio::time::Instant::now() < deadline, "still announced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _: () = redis::cmd("DEL")
        .arg("shoal:alive:cut/1")
        .query_async(&mut conn)
        .await
        .unwrap();
    let exists: i64 = redis::cmd("EXISTS")
        .arg("shoal:alive:cut/1")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(exists, 0);

    // Still serving its clients: alive, its sessions are not taken over.
    assert!(watcher.alive("cut/1").await.unwrap());
    // Its listener gone too (a killed process): dead, at once.
    drop(listening);
    let started = std::time::Instant::now();
    assert!(!watcher.alive("cut/1").await.unwrap());
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(pttl(&mut conn, "shoal:addr:cut/1").await > 0);
    // Silent since its record was last renewed, by Redis' clock.
    let silent = watcher.silence("cut/1").await.unwrap().unwrap();
    assert!(
        silent >= Duration::from_millis(1200) && silent < Duration::from_secs(60),
        "{silent:?}"
    );
    assert_eq!(watcher.silence("never/1").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_store_stops_announcing() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), false).await;
    let watcher = store(&server, "w/1", vec![]);
    let a = store(&server, "a/1", vec![]);
    alive_becomes(&watcher, "a/1", true).await;
    drop(a);
    // The key expires within its 3 s once no longer renewed.
    alive_becomes(&watcher, "a/1", false).await;
}

fn at(id: &str) -> Position {
    let (ms, seq) = id.split_once('-').unwrap();
    Position::Redis {
        ms: ms.parse().unwrap(),
        seq: seq.parse().unwrap(),
    }
}

fn values(events: &[ItemEvent]) -> Vec<(Option<Position>, String)> {
    events
        .iter()
        .map(|e| (e.position(), e.get("v").flatten().unwrap_or("#").to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_reads_an_items_entries_from_a_position_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), false).await;
    let feed = RedisFeed::start(settings(&server)).unwrap();
    let mut conn = server.conn().await;
    let mut ids = Vec::new();
    for v in ["1", "2", "3", "4"] {
        ids.push(at(
            &xadd(&mut conn, "shoal:item", &[("v", v), ("w", "x")]).await
        ));
    }
    let h = feed.history("item", Bound::From(ids[1]), 10).await.unwrap();
    assert_eq!(
        values(&h),
        vec![
            (Some(ids[1]), "2".to_owned()),
            (Some(ids[2]), "3".to_owned()),
            (Some(ids[3]), "4".to_owned()),
        ]
    );
    assert_eq!(h[0].get("w"), Some(Some("x")));
    let h = feed
        .history("item", Bound::After(ids[1]), 10)
        .await
        .unwrap();
    assert_eq!(
        values(&h),
        vec![
            (Some(ids[2]), "3".to_owned()),
            (Some(ids[3]), "4".to_owned())
        ]
    );
    let h = feed.history("item", Bound::From(ids[0]), 2).await.unwrap();
    assert_eq!(
        values(&h),
        vec![
            (Some(ids[0]), "1".to_owned()),
            (Some(ids[1]), "2".to_owned())
        ]
    );
    assert!(feed
        .history("item", Bound::After(ids[3]), 10)
        .await
        .unwrap()
        .is_empty());
    // A stream that does not exist has no history.
    let none = Position::Redis { ms: 0, seq: 0 };
    assert!(feed
        .history("missing", Bound::From(none), 10)
        .await
        .unwrap()
        .is_empty());
    // A position of another broker, a key of another type: errors.
    let err = feed
        .history("item", Bound::From(Position::JetStream(1)), 10)
        .await
        .unwrap_err();
    assert!(err.message.contains("not a Redis"), "{err}");
    let _: () = redis::cmd("SET")
        .arg("shoal:text")
        .arg("x")
        .query_async(&mut conn)
        .await
        .unwrap();
    let err = feed
        .history("text", Bound::From(none), 10)
        .await
        .unwrap_err();
    assert!(err.message.contains("XRANGE"), "{err}");
}

/// Whether `key` exists.
async fn exists(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> bool {
    let n: i64 = redis::cmd("EXISTS")
        .arg(key)
        .query_async(conn)
        .await
        .unwrap();
    n == 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_on_its_addresses_forgets_its_dead_incarnation() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), false).await;
    let mut conn = server.conn().await;
    let watcher = store(&server, "w/1", vec![]);
    let listening = TcpListener::bind("127.0.0.1:0").unwrap();
    let at = listening.local_addr().unwrap();
    let first = store(&server, "n/1", vec![at]);
    alive_becomes(&watcher, "n/1", true).await;

    // Killed: it stops announcing (dropped, not left: nothing renews its
    // record for 1.2 s), its liveness key expires (deleted here), its
    // listener goes.
    drop(first);
    let deadline = tokio::time::Instant::now() + WAIT;
    while pttl(&mut conn, "shoal:addr:n/1").await > 600_000 - 1200 {
        assert!(tokio::time::Instant::now() < deadline, "still announced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _: () = redis::cmd("DEL")
        .arg("shoal:alive:n/1")
        .query_async(&mut conn)
        .await
        .unwrap();
    drop(listening);
    // Restarted at once on the same address: the dead incarnation's
    // record is probed there, and looks alive.
    let listening = TcpListener::bind(at).unwrap();
    assert!(watcher.alive("n/1").await.unwrap());

    // The new incarnation, and a twin of the same name (still announcing).
    let second = store(&server, "n/2", vec![at]);
    let twin_listening = TcpListener::bind("127.0.0.1:0").unwrap();
    let twin = store(&server, "n/b", vec![twin_listening.local_addr().unwrap()]);
    // Another node whose name starts alike is not an incarnation of `n`.
    let other = store(&server, "n/a/1", vec![]);
    let deadline = tokio::time::Instant::now() + WAIT;
    while exists(&mut conn, "shoal:addr:n/1").await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the dead incarnation's record is still there"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!watcher.alive("n/1").await.unwrap());

    // Live incarnations keep their records, look after look.
    tokio::time::sleep(shoal_broker::handoff::alive::FORGET_EVERY + Duration::from_secs(1)).await;
    for owner in ["n/2", "n/b", "n/a/1"] {
        assert!(
            exists(&mut conn, &format!("shoal:addr:{owner}")).await,
            "{owner}"
        );
        assert!(watcher.alive(owner).await.unwrap(), "{owner}");
    }
    drop((second, twin, other, listening, twin_listening));
}
