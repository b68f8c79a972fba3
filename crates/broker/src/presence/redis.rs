//! Presence over Redis: each round `SET <prefix>node:<name> <doc> PX
//! <expiry>`, then `SCAN 0 MATCH <prefix>node:* COUNT 100` until the cursor
//! is back to 0 (or [`MAX_NODES`] other keys are listed), then `MGET` of
//! those keys.
//!
//! It uses a connection of its own from the feed's client (same URL,
//! credentials and TLS), so a slow round never holds the feed's reading
//! up; the feed's link is not touched either: an outage is logged by a
//! link of its own, once.

use super::{redis_key, redis_pattern, redis_prefix, Recall, Roster, Sieve, Timing, MAX_NODES};
use crate::link::Link;
use crate::redis::Shared;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisResult};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Instant;

/// Keys asked per SCAN step.
const SCAN_COUNT: usize = 100;

/// Announces and discovers every `timing.period` until the feed is dropped.
pub(crate) async fn run<R: Roster>(feed: Weak<Shared>, roster: Arc<R>, timing: Timing) {
    let Some((client, name, url, stream_prefix)) = feed.upgrade().map(|s| {
        let st = &s.settings;
        (
            s.client.clone(),
            st.name.clone(),
            st.url.clone(),
            st.prefix.clone(),
        )
    }) else {
        return;
    };
    let prefix = redis_prefix(&stream_prefix).to_owned();
    let link = Link::new(&format!("{name} (cluster presence)"), "Redis", &url).telling(
        "this node is not announced; the nodes seen stay until their announcements expire",
        "announcing this node to the cluster",
    );
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timing.period))
        .set_response_timeout(Some(timing.period));
    let mut sieve = Sieve::new(&name);
    let mut recall = Recall::new(timing.expiry);
    let mut conn: Option<MultiplexedConnection> = None;
    let mut tick = tokio::time::interval(timing.period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match feed.upgrade() {
            Some(s) if !s.closed.load(Ordering::Relaxed) => {}
            _ => return,
        }
        let Some((me, doc)) = roster.announcement() else {
            continue;
        };
        let own_key = redis_key(&prefix, &me);
        let read = async {
            if conn.is_none() {
                conn = Some(
                    client
                        .get_multiplexed_async_connection_with_config(&config)
                        .await?,
                );
            }
            match conn.as_mut() {
                Some(c) => round(c, &own_key, &doc, &prefix, timing).await,
                None => Ok(Vec::new()),
            }
        };
        let read = read.await;
        let now = Instant::now();
        let docs = match read {
            Ok(read) => {
                link.mark_up();
                let docs = sieve.keep(&*roster, read, now);
                recall.read(docs, now)
            }
            Err(e) => {
                // A connection to a restarted server does not recover.
                conn = None;
                link.mark_down("announcing", &e);
                recall.missed(now)
            }
        };
        roster.found(docs);
    }
}

/// One round: this node's key written, the others' listed and read.
async fn round(
    conn: &mut MultiplexedConnection,
    own_key: &str,
    doc: &[u8],
    prefix: &str,
    timing: Timing,
) -> RedisResult<Vec<(String, Option<Vec<u8>>)>> {
    let px = u64::try_from(timing.expiry.as_millis()).unwrap_or(u64::MAX);
    redis::cmd("SET")
        .arg(own_key)
        .arg(doc)
        .arg("PX")
        .arg(px)
        .exec_async(conn)
        .await?;
    let pattern = redis_pattern(prefix);
    let keys = crate::redis::scan_keys(conn, &pattern, SCAN_COUNT, MAX_NODES, |k| {
        k != own_key.as_bytes()
    })
    .await?;
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let values: Vec<Option<Vec<u8>>> = redis::cmd("MGET").arg(&keys).query_async(conn).await?;
    let keys = keys.iter().map(|k| String::from_utf8_lossy(k).into_owned());
    Ok(keys.zip(values).collect())
}
