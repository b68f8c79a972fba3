//! The Redis feed against a real `redis-server`: snapshots, live reading,
//! lingering, publishing, and a broker that restarts.

mod common;

use common::*;
use shoal_adapter::{DataProvider, ItemEvent, Position, PublishCredentials, PublishError};
use shoal_broker::redis::RedisFeed;
use shoal_broker::{FeedSettings, PublishAuth};
use std::sync::Arc;
use std::time::Duration;

fn settings(server: &RedisServer) -> FeedSettings {
    let mut s = FeedSettings::new("FEED/DEFAULT", server.url());
    s.prefix = "shoal:".into();
    s.snapshot_length = 3;
    s.linger = Duration::from_millis(300);
    s
}

fn feed(s: FeedSettings) -> (Arc<RedisFeed>, Arc<Recorder>) {
    let feed = RedisFeed::start(s).unwrap();
    let rec = Recorder::new();
    feed.set_listener(rec.clone());
    (feed, rec)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_gets_its_last_entries_then_every_new_one_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), false).await;
    let mut c = server.conn().await;
    for i in 1..=5 {
        xadd(&mut c, "shoal:ticks", &[("n", &i.to_string())]).await;
    }
    let (feed, rec) = feed(settings(&server));
    feed.subscribe("ticks").unwrap();
    assert_eq!(
        rec.wait(4).await,
        [
            "snap ticks n=3",
            "snap ticks n=4",
            "snap ticks n=5",
            "eos ticks"
        ]
    );
    let mut ids = Vec::new();
    for i in 6..=205 {
        ids.push(xadd(&mut c, "shoal:ticks", &[("n", &i.to_string())]).await);
    }
    let got = rec.wait(200).await;
    let want: Vec<String> = (6..=205).map(|i| format!("upd ticks n={i}")).collect();
    assert_eq!(got, want, "every entry once, in order");
    // Each event carries the entry id Redis gave it.
    let events = rec.events.lock().unwrap();
    let last = events.last().unwrap().position().unwrap();
    assert_eq!(last.to_string(), *ids.last().unwrap());
    assert_eq!(feed.position("ticks"), Some(last));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_item_snapshot_is_the_rows_its_history_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), false).await;
    let mut c = server.conn().await;
    let rows: &[&[(&str, &str)]] = &[
        &[("command", "ADD"), ("key", "a"), ("qty", "1")],
        &[("command", "ADD"), ("key", "b"), ("qty", "2")],
        &[("command", "ADD"), ("key", "c"), ("qty", "3")],
        &[("command", "UPDATE"), ("key", "a"), ("qty", "10")],
        &[("command", "DELETE"), ("key", "b")],
        &[("command", "UPDATE"), ("key", "c"), ("qty", "30")],
    ];
    for r in rows {
        xadd(&mut c, "shoal:book", r).await;
    }
    // More history than snapshot_length (3): the rows need all of it.
    let (feed, rec) = feed(settings(&server));
    feed.subscribe("book").unwrap();
    assert_eq!(
        rec.wait(3).await,
        [
            "snap book command=ADD,key=a,qty=10",
            "snap book command=ADD,key=c,qty=30",
            "eos book"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_lingers_after_its_last_subscriber_and_a_new_one_gets_a_fresh_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), false).await;
    let mut c = server.conn().await;
    xadd(&mut c, "shoal:x", &[("v", "1")]).await;
    let (feed, rec) = feed(settings(&server));
    feed.subscribe("x").unwrap();
    assert_eq!(rec.wait(2).await, ["snap x v=1", "eos x"]);
    feed.unsubscribe("x");
    xadd(&mut c, "shoal:x", &[("v", "2")]).await;
    feed.subscribe("x").unwrap();
    assert_eq!(
        rec.wait(3).await,
        ["snap x v=1", "snap x v=2", "eos x"],
        "the snapshot covers what came while nobody listened"
    );
    xadd(&mut c, "shoal:x", &[("v", "3")]).await;
    assert_eq!(rec.wait(1).await, ["upd x v=3"]);
    // The subscription ends for good: after the linger nothing is read.
    feed.unsubscribe("x");
    // The reader no longer blocks in an XREAD.
    let clients = || async {
        let mut c = server.conn().await;
        let info: String = redis::cmd("INFO")
            .arg("clients")
            .query_async(&mut c)
            .await
            .unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("blocked_clients:"))
            .and_then(|n| n.trim().parse::<u32>().ok())
            .unwrap()
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while clients().await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still reading after the linger"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    xadd(&mut c, "shoal:x", &[("v", "4")]).await;
    feed.subscribe("x").unwrap();
    assert_eq!(rec.wait(4).await[3], "eos x");
    assert!(rec.take().is_empty(), "v=4 came once, in the snapshot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_broker_that_kept_its_entries_leaves_no_gap() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = RedisServer::start(dir.path(), true).await;
    let mut s = settings(&server);
    s.healthcheck_requires_broker = true;
    s.publish = Some(PublishAuth {
        token: Some("tok".into()),
        basic: None,
    });
    let (feed, rec) = feed(s);
    feed.subscribe("t").unwrap();
    assert_eq!(rec.wait(1).await, ["eos t"]);
    assert_eq!(feed.readiness(), Ok(()));
    let mut c = server.conn().await;
    xadd(&mut c, "shoal:t", &[("n", "1")]).await;
    assert_eq!(rec.wait(1).await, ["upd t n=1"]);
    server.kill().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while feed.readiness().is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still ready without Redis"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(feed.readiness().unwrap_err().contains("unreachable"));
    server.restart().await;
    let mut c = server.conn().await;
    for i in 2..=4 {
        xadd(&mut c, "shoal:t", &[("n", &i.to_string())]).await;
    }
    assert_eq!(rec.wait(3).await, ["upd t n=2", "upd t n=3", "upd t n=4"]);
    assert_eq!(feed.readiness(), Ok(()));
    // Publishing works again once the broker is back.
    let p = feed.publisher().unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match p.publish("t", ItemEvent::new().with("n", "5")).await {
            Ok(_) => break,
            Err(PublishError::Unavailable(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(rec.wait(1).await, ["upd t n=5"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_broker_that_lost_its_entries_gives_a_cleared_then_fresh_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = RedisServer::start(dir.path(), false).await;
    let (feed, rec) = feed(settings(&server));
    feed.subscribe("t").unwrap();
    assert_eq!(rec.wait(1).await, ["eos t"]);
    let mut c = server.conn().await;
    xadd(&mut c, "shoal:t", &[("n", "1")]).await;
    assert_eq!(rec.wait(1).await, ["upd t n=1"]);
    server.kill().await;
    server.restart().await;
    // A new history, with ids that may be lower than the last one read.
    let mut c = server.conn().await;
    let _: String = redis::cmd("XADD")
        .arg("shoal:t")
        .arg("1-1")
        .arg("n")
        .arg("fresh")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(rec.wait(2).await, ["cls t", "upd t n=fresh"]);
    xadd(&mut c, "shoal:t", &[("n", "next")]).await;
    assert_eq!(rec.wait(1).await, ["upd t n=next"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_appends_to_the_stream_with_the_configured_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), false).await;
    let mut s = settings(&server);
    s.max_length = 100;
    s.publish = Some(PublishAuth {
        token: Some("tok".into()),
        basic: None,
    });
    let (feed, rec) = feed(s);
    let p = feed.publisher().expect("publishing is on");
    assert!(p.authorize(Some(&PublishCredentials::Bearer("tok".into()))));
    assert!(!p.authorize(Some(&PublishCredentials::Bearer("nope".into()))));
    assert!(!p.authorize(None));
    feed.subscribe("chat").unwrap();
    assert_eq!(rec.wait(1).await, ["eos chat"]);
    // Wait for the feed's connection before publishing.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !feed.is_up() {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let at = p
        .publish("chat", ItemEvent::new().with("message", "hi"))
        .await
        .unwrap();
    assert!(matches!(at, Position::Redis { .. }));
    assert_eq!(rec.wait(1).await, ["upd chat message=hi"]);
    let mut null = ItemEvent::new();
    null.set("message", None);
    assert!(matches!(
        p.publish("chat", null).await,
        Err(PublishError::Refused(m)) if m.contains("\"message\" is null")
    ));
    assert!(matches!(
        p.publish("chat", ItemEvent::new()).await,
        Err(PublishError::Refused(_))
    ));
    // A key that holds something else than a stream.
    let mut c = server.conn().await;
    let _: () = redis::cmd("SET")
        .arg("shoal:plain")
        .arg("x")
        .query_async(&mut c)
        .await
        .unwrap();
    let wrong = p.publish("plain", ItemEvent::new().with("a", "b")).await;
    assert!(
        matches!(&wrong, Err(PublishError::Refused(m)) if m.contains("WRONGTYPE")),
        "{wrong:?}"
    );
    // Retention: the stream is trimmed near max_length.
    for i in 0..300 {
        p.publish("chat", ItemEvent::new().with("message", i.to_string()))
            .await
            .unwrap();
    }
    let len: usize = redis::cmd("XLEN")
        .arg("shoal:chat")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!((100..300).contains(&len), "XLEN {len}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_publisher_without_credentials_in_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), false).await;
    let (feed, _rec) = feed(settings(&server));
    assert!(feed.publisher().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_is_not_a_stream_does_not_stop_the_other_items() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), false).await;
    let mut c = server.conn().await;
    let _: () = redis::cmd("SET")
        .arg("shoal:plain")
        .arg("x")
        .query_async(&mut c)
        .await
        .unwrap();
    let (feed, rec) = feed(settings(&server));
    feed.subscribe("plain").unwrap();
    assert_eq!(rec.wait(1).await, ["eos plain"], "an empty snapshot");
    feed.subscribe("good").unwrap();
    assert_eq!(rec.wait(1).await, ["eos good"]);
    xadd(&mut c, "shoal:good", &[("v", "1")]).await;
    assert_eq!(rec.wait(1).await, ["upd good v=1"]);
    // A live key replaced by something else: the others go on.
    feed.subscribe("turns").unwrap();
    assert_eq!(rec.wait(1).await, ["eos turns"]);
    xadd(&mut c, "shoal:turns", &[("v", "1")]).await;
    assert_eq!(rec.wait(1).await, ["upd turns v=1"]);
    let _: () = redis::cmd("DEL")
        .arg("shoal:turns")
        .query_async(&mut c)
        .await
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("shoal:turns")
        .arg("x")
        .query_async(&mut c)
        .await
        .unwrap();
    xadd(&mut c, "shoal:good", &[("v", "2")]).await;
    assert_eq!(rec.wait(1).await, ["upd good v=2"]);
    assert!(feed.is_up());
}
