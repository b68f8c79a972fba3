//! Cluster presence against a real `redis-server` and `nats-server -js`:
//! two nodes sharing a feed's broker see each other, a node that stops
//! announcing is forgotten once its announcement expires, and entries that
//! are not announcements are ignored.
//!
//! The rounds are shortened (every 100 ms, living 1.5 s) so the tests wait
//! for expiries in seconds; the defaults are exercised end to end by the
//! Node tests (monitor-cluster.test.js).

mod common;

use common::*;
use shoal_broker::nats::NatsFeed;
use shoal_broker::presence::nats::bucket_stream;
use shoal_broker::presence::{kv_bucket, kv_key, Roster, Timing, MAX_ANNOUNCEMENT};
use shoal_broker::redis::RedisFeed;
use shoal_broker::{FeedSettings, NatsSettings};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

const TIMING: Timing = Timing {
    period: Duration::from_millis(100),
    expiry: Duration::from_millis(1500),
};

/// A node for the test: announces `{"name": ...}`, and records the names
/// of the others found in each round.
struct Member {
    name: String,
    seen: Mutex<Vec<String>>,
    changed: Notify,
}

impl Member {
    fn new(name: &str) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            seen: Mutex::new(Vec::new()),
            changed: Notify::new(),
        })
    }

    /// Waits until the last round found exactly `want` (in any order).
    async fn sees(&self, want: &[&str]) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let notified = self.changed.notified();
            let seen = self.seen.lock().unwrap().clone();
            if seen == want {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("{} sees {seen:?}, not {want:?}", self.name);
            }
        }
    }
}

impl Roster for Member {
    type Doc = String;

    fn announcement(&self) -> Option<(String, Vec<u8>)> {
        let doc = serde_json::json!({ "name": self.name }).to_string();
        Some((self.name.clone(), doc.into_bytes()))
    }

    fn decode(&self, bytes: &[u8]) -> Result<String, String> {
        let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        v["name"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "no name".to_owned())
    }

    fn found(&self, docs: &[String]) {
        let mut names = docs.to_vec();
        names.sort();
        *self.seen.lock().unwrap() = names;
        self.changed.notify_waiters();
    }
}

/// Waits until `node`, which stopped announcing at `stopped`, is no longer
/// seen by `other`; checks it was not forgotten before its last
/// announcement could have expired.
async fn forgotten_after_expiry(other: &Member, stopped: Instant) {
    other.sees(&[]).await;
    let gone_after = stopped.elapsed();
    assert!(
        gone_after >= TIMING.expiry - TIMING.period * 3,
        "forgotten after {gone_after:?}, before its announcement expired"
    );
}

fn redis_settings(server: &RedisServer) -> FeedSettings {
    FeedSettings::new("FEED/DEFAULT", server.url())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_nodes_see_each_other_and_forget_one_that_stops() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), false).await;
    let (a, b) = (Member::new("node1"), Member::new("node2"));
    let feed_a = RedisFeed::start(redis_settings(&server)).unwrap();
    let feed_b = RedisFeed::start(redis_settings(&server)).unwrap();
    feed_a.announce(a.clone(), TIMING);
    feed_b.announce(b.clone(), TIMING);
    a.sees(&["node2"]).await;
    b.sees(&["node1"]).await;
    // The keys are the default prefix's, and expire.
    let mut c = server.conn().await;
    let ttl: i64 = redis::cmd("PTTL")
        .arg("shoal:node:node2")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 1500, "PTTL {ttl}");
    drop(feed_b);
    let stopped = Instant::now();
    forgotten_after_expiry(&a, stopped).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_entries_that_are_not_announcements_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), false).await;
    let mut c = server.conn().await;
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(MAX_ANNOUNCEMENT));
    for (key, value) in [
        ("prices:node:junk", "not json"),
        ("prices:node:nameless", "{}"),
        ("prices:node:big", big.as_str()),
        ("prices:node:node3", "{\"name\":\"node3\"}"),
        // Another prefix: another cluster.
        ("shoal:node:node4", "{\"name\":\"node4\"}"),
    ] {
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg(value)
            .query_async(&mut c)
            .await
            .unwrap();
    }
    // A key of another type reads as nothing.
    xadd(&mut c, "prices:node:stream", &[("a", "1")]).await;
    let a = Member::new("node1");
    let mut s = redis_settings(&server);
    s.prefix = "prices:".into();
    let feed = RedisFeed::start(s).unwrap();
    feed.announce(a.clone(), TIMING);
    a.sees(&["node3"]).await;
    let own: Option<String> = redis::cmd("GET")
        .arg("prices:node:node1")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(own.as_deref(), Some("{\"name\":\"node1\"}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_keeps_the_nodes_seen_until_they_would_have_expired() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = RedisServer::start(dir.path(), false).await;
    let (a, b) = (Member::new("node1"), Member::new("node2"));
    let feed_a = RedisFeed::start(redis_settings(&server)).unwrap();
    let feed_b = RedisFeed::start(redis_settings(&server)).unwrap();
    feed_a.announce(a.clone(), TIMING);
    feed_b.announce(b.clone(), TIMING);
    a.sees(&["node2"]).await;
    server.kill().await;
    let killed = Instant::now();
    forgotten_after_expiry(&a, killed).await;
    server.restart().await;
    a.sees(&["node2"]).await;
}

fn nats_feed(server: &NatsServer) -> Arc<NatsFeed> {
    let mut s = FeedSettings::new("FEED/DEFAULT", server.url());
    s.prefix = "shoal".into();
    NatsFeed::start(s, NatsSettings::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_nodes_see_each_other_and_forget_one_that_stops() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path()).await;
    let (a, b) = (Member::new("node 1"), Member::new("node.2"));
    let feed_a = nats_feed(&server);
    let feed_b = nats_feed(&server);
    feed_a.announce(a.clone(), TIMING);
    feed_b.announce(b.clone(), TIMING);
    a.sees(&["node.2"]).await;
    b.sees(&["node 1"]).await;
    // The bucket is named after the feed's stream, its keys after the
    // nodes, escaped.
    let kv = server
        .js()
        .await
        .get_key_value("SHOAL_nodes")
        .await
        .unwrap();
    assert_eq!(kv.status().await.unwrap().max_age(), TIMING.expiry);
    assert!(kv.get(kv_key("node.2")).await.unwrap().is_some());
    drop(feed_b);
    let stopped = Instant::now();
    forgotten_after_expiry(&a, stopped).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_entries_that_are_not_announcements_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path()).await;
    // A bucket made beforehand (by another node, or an operator), with no
    // limit on values: the node uses it as it is.
    let js = server.js().await;
    let bucket = kv_bucket("SHOAL");
    js.create_stream(bucket_stream(&bucket, Duration::from_secs(60), -1))
        .await
        .unwrap();
    let kv = js.get_key_value(bucket).await.unwrap();
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(MAX_ANNOUNCEMENT));
    for (key, value) in [
        ("junk", "not json"),
        ("nameless", "{}"),
        ("big", big.as_str()),
        ("node3", "{\"name\":\"node3\"}"),
    ] {
        kv.put(key, value.to_owned().into()).await.unwrap();
    }
    let a = Member::new("node1");
    let feed = nats_feed(&server);
    feed.announce(a.clone(), TIMING);
    a.sees(&["node3"]).await;
    let own = kv.get("node1").await.unwrap().unwrap();
    assert_eq!(&own[..], b"{\"name\":\"node1\"}");
}
