//! The NATS feed against a real `nats-server` with JetStream: snapshots,
//! live reading, lingering, publishing, and a server that restarts.

mod common;

use common::*;
use shoal_adapter::{DataProvider, ItemEvent, Position, PublishCredentials, PublishError};
use shoal_broker::nats::NatsFeed;
use shoal_broker::{FeedSettings, NatsSettings, PublishAuth};
use std::sync::Arc;
use std::time::Duration;

fn settings(server: &NatsServer) -> FeedSettings {
    let mut s = FeedSettings::new("FEED/DEFAULT", server.url());
    s.prefix = "shoal".into();
    s.snapshot_length = 3;
    s.linger = Duration::from_millis(300);
    s
}

fn feed(s: FeedSettings) -> (Arc<NatsFeed>, Arc<Recorder>) {
    feed_with(s, NatsSettings::default())
}

fn feed_with(s: FeedSettings, nats: NatsSettings) -> (Arc<NatsFeed>, Arc<Recorder>) {
    let feed = NatsFeed::start(s, nats).unwrap();
    let rec = Recorder::new();
    feed.set_listener(rec.clone());
    (feed, rec)
}

/// Waits until `cond` holds, failing with `what` after the deadline.
async fn until(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond().await {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_gets_its_last_entries_then_every_new_one_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path()).await;
    let js = server.js().await;
    make_stream(&js, 0).await;
    for i in 1..=5 {
        publish(&js, "shoal.ticks", &[("n", &i.to_string())]).await;
        // Another item's messages between: not in this one's snapshot.
        publish(&js, "shoal.other", &[("n", "x")]).await;
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
    let mut seqs = Vec::new();
    for i in 6..=205 {
        seqs.push(publish(&js, "shoal.ticks", &[("n", &i.to_string())]).await);
    }
    let got = rec.wait(200).await;
    let want: Vec<String> = (6..=205).map(|i| format!("upd ticks n={i}")).collect();
    assert_eq!(got, want, "every message once, in order");
    // Each event carries the stream sequence JetStream gave it.
    let events = rec.events.lock().unwrap();
    let positions: Vec<Position> = events[3..].iter().filter_map(|e| e.position()).collect();
    let want: Vec<Position> = seqs.iter().map(|s| Position::JetStream(*s)).collect();
    assert_eq!(positions, want);
    assert_eq!(feed.position("ticks"), want.last().copied());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_item_snapshot_is_the_rows_its_history_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path()).await;
    let js = server.js().await;
    make_stream(&js, 0).await;
    let rows: &[&[(&str, &str)]] = &[
        &[("command", "ADD"), ("key", "a"), ("qty", "1")],
        &[("command", "ADD"), ("key", "b"), ("qty", "2")],
        &[("command", "ADD"), ("key", "c"), ("qty", "3")],
        &[("command", "UPDATE"), ("key", "a"), ("qty", "10")],
        &[("command", "DELETE"), ("key", "b")],
        &[("command", "UPDATE"), ("key", "c"), ("qty", "30")],
    ];
    for r in rows {
        publish(&js, "shoal.book", r).await;
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
    publish(&js, "shoal.book", &[("command", "DELETE"), ("key", "a")]).await;
    assert_eq!(rec.wait(1).await, ["upd book command=DELETE,key=a"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_lingers_after_its_last_subscriber_and_a_new_one_gets_a_fresh_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path()).await;
    let js = server.js().await;
    make_stream(&js, 0).await;
    publish(&js, "shoal.x", &[("v", "1")]).await;
    let (feed, rec) = feed(settings(&server));
    feed.subscribe("x").unwrap();
    assert_eq!(rec.wait(2).await, ["snap x v=1", "eos x"]);
    feed.unsubscribe("x");
    publish(&js, "shoal.x", &[("v", "2")]).await;
    feed.subscribe("x").unwrap();
    assert_eq!(
        rec.wait(3).await,
        ["snap x v=1", "snap x v=2", "eos x"],
        "the snapshot covers what came while nobody listened"
    );
    publish(&js, "shoal.x", &[("v", "3")]).await;
    assert_eq!(rec.wait(1).await, ["upd x v=3"]);
    // The subscription ends for good: after the linger the item's
    // consumer is closed.
    feed.unsubscribe("x");
    let consumers = async || {
        let mut stream = js.get_stream("SHOAL").await.unwrap();
        stream.info().await.unwrap().state.consumer_count
    };
    until("still a consumer after the linger", async || {
        consumers().await == 0
    })
    .await;
    publish(&js, "shoal.x", &[("v", "4")]).await;
    feed.subscribe("x").unwrap();
    assert_eq!(rec.wait(4).await[3], "eos x");
    publish(&js, "shoal.x", &[("v", "5")]).await;
    assert_eq!(
        rec.wait(1).await,
        ["upd x v=5"],
        "v=4 came once, in the snapshot"
    );
    assert_eq!(consumers().await, 1, "one consumer for the item");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_broker_that_kept_its_entries_leaves_no_gap() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = NatsServer::start(dir.path()).await;
    let mut s = settings(&server);
    s.healthcheck_requires_broker = true;
    s.publish = Some(PublishAuth {
        token: Some("tok".into()),
        basic: None,
    });
    // The feed makes the stream itself.
    let (feed, rec) = feed(s);
    feed.subscribe("t").unwrap();
    assert_eq!(rec.wait(1).await, ["eos t"]);
    assert_eq!(feed.readiness(), Ok(()));
    let js = server.js().await;
    publish(&js, "shoal.t", &[("n", "1")]).await;
    assert_eq!(rec.wait(1).await, ["upd t n=1"]);
    server.kill().await;
    until("still ready without NATS", async || {
        feed.readiness().is_err()
    })
    .await;
    assert!(feed.readiness().unwrap_err().contains("unreachable"));
    server.restart().await;
    let js = server.js().await;
    for i in 2..=4 {
        publish(&js, "shoal.t", &[("n", &i.to_string())]).await;
    }
    assert_eq!(rec.wait(3).await, ["upd t n=2", "upd t n=3", "upd t n=4"]);
    assert_eq!(feed.readiness(), Ok(()));
    // Publishing works again once the server is back.
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
    let mut server = NatsServer::start(dir.path()).await;
    let (feed, rec) = feed(settings(&server));
    feed.subscribe("t").unwrap();
    assert_eq!(rec.wait(1).await, ["eos t"]);
    let js = server.js().await;
    publish(&js, "shoal.t", &[("n", "1")]).await;
    assert_eq!(rec.wait(1).await, ["upd t n=1"]);
    server.kill().await;
    // A new store: the stream is gone with its messages; the feed makes it
    // anew, and its sequences start again (the fresh message is 1 again).
    let fresh_store = tempfile::tempdir().unwrap();
    server.store = fresh_store.path().to_owned();
    server.restart().await;
    let js = server.js().await;
    publish_once_stored(&js, "shoal.t", &[("n", "fresh")]).await;
    assert_eq!(rec.wait(2).await, ["cls t", "upd t n=fresh"]);
    publish(&js, "shoal.t", &[("n", "next")]).await;
    assert_eq!(rec.wait(1).await, ["upd t n=next"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_deleted_while_connected_is_made_anew_and_its_items_start_over() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path()).await;
    let (feed, rec) = feed(settings(&server));
    feed.subscribe("a").unwrap();
    feed.subscribe("b").unwrap();
    let mut got = rec.wait(2).await;
    got.sort();
    assert_eq!(got, ["eos a", "eos b"]);
    let js = server.js().await;
    publish(&js, "shoal.a", &[("v", "a1")]).await;
    publish(&js, "shoal.b", &[("v", "b1")]).await;
    let mut got = rec.wait(2).await;
    got.sort();
    assert_eq!(got, ["upd a v=a1", "upd b v=b1"]);
    js.delete_stream("SHOAL").await.unwrap();
    // Sequences start again: a2 takes the place of a1.
    publish_once_stored(&js, "shoal.a", &[("v", "a2")]).await;
    publish(&js, "shoal.b", &[("v", "b2")]).await;
    let got = rec.wait(4).await;
    for item in ["a", "b"] {
        let mine: Vec<&String> = got
            .iter()
            .filter(|l| l.split(' ').nth(1) == Some(item))
            .collect();
        assert_eq!(
            mine,
            [&format!("cls {item}"), &format!("upd {item} v={item}2")],
            "{got:?}"
        );
    }
    publish(&js, "shoal.a", &[("v", "a3")]).await;
    assert_eq!(rec.wait(1).await, ["upd a v=a3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_trimmed_while_cut_off_are_a_loss_only_if_undelivered_ones_went() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = NatsServer::start(dir.path()).await;
    let js = server.js().await;
    // Two messages kept per subject.
    make_stream(&js, 2).await;
    let (feed, rec) = feed(settings(&server));
    feed.subscribe("t").unwrap();
    assert_eq!(rec.wait(1).await, ["eos t"]);
    publish(&js, "shoal.t", &[("x", "1")]).await;
    assert_eq!(rec.wait(1).await, ["upd t x=1"]);

    // Cut off, x=1 (delivered) is trimmed by two new ones: nothing
    // undelivered is gone, even with another subject's message between.
    server.kill().await;
    let elsewhere = server.start_elsewhere().await;
    let other = server.js_at(elsewhere).await;
    publish(&other, "shoal.other", &[("o", "1")]).await;
    publish(&other, "shoal.t", &[("x", "2")]).await;
    publish(&other, "shoal.t", &[("x", "3")]).await;
    server.kill().await;
    server.restart().await;
    assert_eq!(rec.wait(2).await, ["upd t x=2", "upd t x=3"]);

    // Cut off again, three new ones trim x=3 and x=4: x=4 was never
    // delivered, so the item starts over from what is kept.
    server.kill().await;
    let elsewhere = server.start_elsewhere().await;
    let other = server.js_at(elsewhere).await;
    for x in 4..=6 {
        publish(&other, "shoal.t", &[("x", &x.to_string())]).await;
    }
    server.kill().await;
    server.restart().await;
    assert_eq!(rec.wait(3).await, ["cls t", "upd t x=5", "upd t x=6"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_that_is_not_an_event_is_skipped_and_the_item_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path()).await;
    let js = server.js().await;
    make_stream(&js, 0).await;
    publish_raw(&js, "shoal.m", r#"{"v":"1"}"#).await;
    publish_raw(&js, "shoal.m", "not json").await;
    let (feed, rec) = feed(settings(&server));
    feed.subscribe("m").unwrap();
    assert_eq!(rec.wait(2).await, ["snap m v=1", "eos m"]);
    publish_raw(&js, "shoal.m", r#"{"v":{"nested":1}}"#).await;
    let last = publish_raw(&js, "shoal.m", r#"{"v":2,"w":null}"#).await;
    assert_eq!(rec.wait(1).await, ["upd m v=2,w=#"]);
    assert_eq!(feed.position("m"), Some(Position::JetStream(last)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_stream_is_an_error_until_it_is_made_when_the_feed_may_not_make_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path()).await;
    let mut s = settings(&server);
    s.publish = Some(PublishAuth {
        token: Some("tok".into()),
        basic: None,
    });
    let nats = NatsSettings {
        create_stream: false,
        ..NatsSettings::default()
    };
    let (feed, rec) = feed_with(s, nats);
    feed.subscribe("a").unwrap();
    until("ready without its stream", async || {
        feed.readiness().is_err()
    })
    .await;
    let why = feed.readiness().unwrap_err();
    assert!(why.contains("SHOAL does not exist"), "{why}");
    let p = feed.publisher().unwrap();
    let refused = p.publish("a", ItemEvent::new().with("v", "1")).await;
    assert!(
        matches!(&refused, Err(PublishError::Unavailable(m)) if m.contains("no JetStream stream stores subject shoal.a")),
        "{refused:?}"
    );
    let js = server.js().await;
    make_stream(&js, 0).await;
    publish(&js, "shoal.a", &[("v", "1")]).await;
    assert_eq!(rec.wait(2).await, ["snap a v=1", "eos a"]);
    assert_eq!(feed.readiness(), Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_appends_to_the_subject_with_the_configured_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start_with_token(dir.path(), Some("natstok")).await;
    let mut s = settings(&server);
    s.max_length = 100;
    s.publish = Some(PublishAuth {
        token: Some("tok".into()),
        basic: None,
    });
    let nats = NatsSettings {
        token: Some("natstok".into()),
        ..NatsSettings::default()
    };
    let (feed, rec) = feed_with(s, nats);
    let p = feed.publisher().expect("publishing is on");
    assert!(p.authorize(Some(&PublishCredentials::Bearer("tok".into()))));
    assert!(!p.authorize(Some(&PublishCredentials::Bearer("nope".into()))));
    assert!(!p.authorize(None));
    let refused = feed.subscribe("a b").unwrap_err();
    assert_eq!(refused.code, 21, "{refused}");
    feed.subscribe("chat").unwrap();
    assert_eq!(rec.wait(1).await, ["eos chat"]);
    let at = p
        .publish("chat", ItemEvent::new().with("message", "hi"))
        .await
        .unwrap();
    assert!(matches!(at, Position::JetStream(_)));
    assert_eq!(rec.wait(1).await, ["upd chat message=hi"]);
    // Null values are kept: JSON has them.
    let mut null = ItemEvent::new();
    null.set("message", None);
    p.publish("chat", null).await.unwrap();
    assert_eq!(rec.wait(1).await, ["upd chat message=#"]);
    assert!(matches!(
        p.publish("chat", ItemEvent::new()).await,
        Err(PublishError::Refused(_))
    ));
    assert!(matches!(
        p.publish("fx.*", ItemEvent::new().with("a", "b")).await,
        Err(PublishError::Refused(m)) if m.contains("cannot be a NATS subject")
    ));
    // Retention: the stream the feed made keeps max_length per subject.
    for i in 0..300 {
        p.publish("chat", ItemEvent::new().with("message", i.to_string()))
            .await
            .unwrap();
    }
    let js = server.js().await;
    let mut stream = js.get_stream("SHOAL").await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_publisher_without_credentials_in_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path()).await;
    let (feed, _rec) = feed(settings(&server));
    assert!(feed.publisher().is_none());
}

#[tokio::test]
async fn settings_a_feed_cannot_start_with_are_refused_at_start() {
    use shoal_broker::nats::StartError;
    let start = |url: &str, prefix: &str, nats: NatsSettings| {
        let mut s = FeedSettings::new("FEED/DEFAULT", url);
        s.prefix = prefix.into();
        NatsFeed::start(s, nats)
    };
    let ok = NatsSettings::default;
    assert!(matches!(
        start("http://127.0.0.1:4222", "shoal", ok()),
        Err(StartError::Url { .. })
    ));
    assert!(matches!(
        start("nats://127.0.0.1:4222", "shoal.*", ok()),
        Err(StartError::Prefix(_))
    ));
    let stream = NatsSettings {
        stream: "A.B".into(),
        ..ok()
    };
    assert!(matches!(
        start("nats://127.0.0.1:4222", "shoal", stream),
        Err(StartError::Stream(_))
    ));
    let dir = tempfile::tempdir().unwrap();
    let missing = NatsSettings {
        credentials_file: Some(dir.path().join("none.creds")),
        ..ok()
    };
    assert!(matches!(
        start("nats://127.0.0.1:4222", "shoal", missing),
        Err(StartError::Credentials { .. })
    ));
    let garbage = dir.path().join("bad.creds");
    std::fs::write(&garbage, "not a creds file").unwrap();
    let bad = NatsSettings {
        credentials_file: Some(garbage),
        ..ok()
    };
    assert!(matches!(
        start("nats://127.0.0.1:4222", "shoal", bad),
        Err(StartError::Credentials { .. })
    ));
    // Several servers, one of them with a token in its URL.
    assert!(start("nats://127.0.0.1:1, tls://tok@127.0.0.1:2", "shoal", ok()).is_ok());
}
