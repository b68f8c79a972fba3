//! Presence over NATS: a JetStream key-value bucket, `<stream>_nodes`,
//! keeping one value per key (history 1) for the expiry (`max_age`), made
//! when missing. Each round puts this node's document under its key, then
//! lists the keys and gets the others' values.
//!
//! It goes through the feed's own client (its connection and credentials),
//! in a task of its own: a slow round never holds the feed's reading up.
//! The feed's link is not touched: an outage is logged by a link of its
//! own, once.

use super::{kv_bucket, kv_key, Recall, Roster, Sieve, Timing, MAX_ANNOUNCEMENT, MAX_NODES};
use crate::link::Link;
use crate::nats::Shared;
use async_nats::jetstream::{self, kv, stream};
use futures_util::StreamExt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Announces and discovers every `timing.period` until the feed is dropped.
pub(crate) async fn run<R: Roster>(feed: Weak<Shared>, roster: Arc<R>, timing: Timing) {
    let Some((name, url, bucket)) = feed.upgrade().map(|s| {
        let st = &s.settings;
        (st.name.clone(), st.url.clone(), kv_bucket(&s.nats.stream))
    }) else {
        return;
    };
    let link = Link::new(&format!("{name} (cluster presence)"), "NATS", &url).telling(
        "this node is not announced; the nodes seen stay until their announcements expire",
        "announcing this node to the cluster",
    );
    let mut sieve = Sieve::new(&name);
    let mut recall = Recall::new(timing.expiry);
    let mut store: Option<kv::Store> = None;
    let mut tick = tokio::time::interval(timing.period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let js = match feed.upgrade() {
            Some(s) if !s.closed.load(Ordering::Relaxed) => s.js.lock().clone(),
            _ => return,
        };
        let Some((me, doc)) = roster.announcement() else {
            continue;
        };
        let read = match js {
            // The feed has not made its client yet.
            None => Err("no client yet".to_owned()),
            Some(js) => {
                let own_key = kv_key(&me);
                let work = round(&js, &mut store, &bucket, &own_key, doc, timing);
                match tokio::time::timeout(timing.expiry / 2, work).await {
                    Ok(read) => read,
                    Err(_) => Err(format!("no answer within {:?}", timing.expiry / 2)),
                }
            }
        };
        let now = Instant::now();
        let docs = match read {
            Ok(read) => {
                link.mark_up();
                let docs = sieve.keep(&*roster, read, now);
                recall.read(docs, now)
            }
            Err(e) => {
                // Opened again next round: the bucket may have been
                // deleted, or the server replaced.
                store = None;
                link.mark_down(&format!("bucket {bucket}"), &e);
                recall.missed(now)
            }
        };
        roster.found(docs);
    }
}

/// One round: this node's value put, the others' listed and read.
async fn round(
    js: &jetstream::Context,
    store: &mut Option<kv::Store>,
    bucket: &str,
    own_key: &str,
    doc: Vec<u8>,
    timing: Timing,
) -> Result<Vec<(String, Option<Vec<u8>>)>, String> {
    let kv = match store {
        Some(kv) => kv,
        None => store.insert(open(js, bucket, timing).await?),
    };
    kv.put(own_key, doc.into())
        .await
        .map_err(|e| e.to_string())?;
    let mut listed = kv.keys().await.map_err(|e| e.to_string())?;
    let mut keys = Vec::new();
    while let Some(key) = listed.next().await {
        let key = key.map_err(|e| e.to_string())?;
        if key != own_key {
            keys.push(key);
        }
        if keys.len() >= MAX_NODES {
            break;
        }
    }
    let mut read = Vec::with_capacity(keys.len());
    for key in keys {
        let value = kv.get(key.as_str()).await.map_err(|e| e.to_string())?;
        read.push((key, value.map(|v| v.to_vec())));
    }
    Ok(read)
}

/// The bucket, made if missing (by whichever node comes first: a node that
/// loses that race opens the one the other made).
async fn open(js: &jetstream::Context, bucket: &str, timing: Timing) -> Result<kv::Store, String> {
    if let Ok(store) = js.get_key_value(bucket).await {
        return Ok(store);
    }
    let max_value = i32::try_from(MAX_ANNOUNCEMENT).unwrap_or(i32::MAX);
    let made = js
        .create_stream(bucket_stream(bucket, timing.expiry, max_value))
        .await;
    match js.get_key_value(bucket).await {
        Ok(store) => Ok(store),
        Err(e) => Err(match made {
            Err(made) => format!("cannot make it: {made}"),
            Ok(_) => e.to_string(),
        }),
    }
}

/// The JetStream stream that holds the key-value bucket `bucket`: a bucket
/// is the stream `KV_<bucket>` of the subjects `$KV.<bucket>.<key>`, which
/// keeps `history` messages per subject. Made as a stream (rather than
/// through the client's bucket creation, which first asks the server for
/// account details older servers do not give), with values of at most
/// `max_value` bytes (-1: any) living `expiry`.
pub fn bucket_stream(bucket: &str, expiry: Duration, max_value: i32) -> stream::Config {
    stream::Config {
        name: format!("KV_{bucket}"),
        description: Some("Shoal: the nodes of a cluster, each announcing its status".to_owned()),
        subjects: vec![format!("$KV.{bucket}.>")],
        // History 1: a key's last value only.
        max_messages_per_subject: 1,
        max_age: expiry,
        max_message_size: max_value,
        // What a bucket's readers and writers expect of its stream: a key
        // may be rolled up or purged, messages are not deleted one by one,
        // values are read directly, and a full bucket refuses new values.
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        ..Default::default()
    }
}
