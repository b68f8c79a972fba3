//! The reader: one blocking XREAD over every live item, from each item's
//! last position, its entries handed to the engine in order.

use super::{backoff, reply, Shared, BLOCK, READ_COUNT, RESPONSE_TIMEOUT};
use crate::entry::Entry;
use crate::items::LiveItem;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisError, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Connects, checks the live items against what the broker kept, and
/// reads; reconnects with backoff whenever the connection fails.
pub(super) async fn run(s: Arc<Shared>) {
    let mut delay = Duration::ZERO;
    while !s.closed.load(Ordering::Relaxed) {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        delay = backoff(delay);
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(RESPONSE_TIMEOUT))
            .set_response_timeout(Some(BLOCK + RESPONSE_TIMEOUT));
        let mut conn = match s
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                s.mark_down("connecting", &e);
                continue;
            }
        };
        let id: i64 = match redis::cmd("CLIENT").arg("ID").query_async(&mut conn).await {
            Ok(id) => id,
            Err(e) => {
                s.mark_down("CLIENT ID", &e);
                continue;
            }
        };
        s.reader_id.store(id, Ordering::SeqCst);
        if let Err(e) = check_continuity(&s, &mut conn).await {
            s.mark_down("XINFO STREAM", &e);
            continue;
        }
        s.mark_up();
        // Snapshots that waited for the broker can be read now.
        s.work.notify_one();
        delay = Duration::ZERO;
        let e = read(&s, &mut conn).await;
        s.reader_id.store(-1, Ordering::SeqCst);
        if s.closed.load(Ordering::Relaxed) {
            return;
        }
        s.mark_down("XREAD", &e);
        delay = backoff(delay);
    }
}

/// After a reconnection: an item whose entries after its last position
/// are gone (the broker restarted without them, or trimmed them) is
/// resynchronised with a fresh snapshot; the others read on from where
/// they were.
async fn check_continuity(s: &Shared, conn: &mut MultiplexedConnection) -> Result<(), RedisError> {
    let (_, live) = s.items.lock().live();
    for (item, last) in live {
        let Some(last) = last else { continue };
        let reply: Result<Value, RedisError> = redis::cmd("XINFO")
            .arg("STREAM")
            .arg(s.stream_key(&item))
            .query_async(conn)
            .await;
        let lost = match reply {
            Ok(v) => reply::stream_info(v).map_or(true, |i| i.lost_after(last)),
            // "ERR no such key": the stream is gone with its entries.
            Err(e) if e.to_string().contains("no such key") => true,
            // The key holds something else now: leave it out.
            Err(e) if super::refusal(&e) => {
                tracing::warn!(adapter = %s.settings.name, item = %item, "Redis refuses to read this item ({e}): it gets no more updates");
                s.items.lock().refuse(&item);
                continue;
            }
            Err(e) => return Err(e),
        };
        if lost {
            tracing::warn!(adapter = %s.settings.name, item = %item, after = %last, "Redis lost entries of this item that were not delivered: its clients get a cleared snapshot, then the current one");
            s.items.lock().resync(&item);
        }
    }
    Ok(())
}

/// Reads until the connection fails; returns the failure.
///
/// The next XREAD is sent before the entries of the last one are handed to
/// the engine, from past them: Redis gathers the next batch while the
/// engine takes this one, and a busy stream costs no round trip of idle
/// waiting per batch. Entries in hand when the connection fails are not
/// lost: the positions only advance as they are delivered, and the next
/// connection reads from there.
async fn read(s: &Shared, conn: &mut MultiplexedConnection) -> RedisError {
    let mut in_hand: Vec<reply::StreamEntries> = Vec::new();
    while !s.closed.load(Ordering::Relaxed) {
        let changed = s.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let (version, live) = s.items.lock().live();
        s.reader_version.store(version, Ordering::SeqCst);
        if live.is_empty() {
            if in_hand.is_empty() {
                changed.await;
            } else {
                deliver(s, std::mem::take(&mut in_hand));
            }
            continue;
        }
        let cmd = xread(s, &live, &in_hand);
        let mut next_conn = conn.clone();
        let next = tokio::spawn(async move { cmd.query_async::<Value>(&mut next_conn).await });
        deliver(s, std::mem::take(&mut in_hand));
        let v = match next.await {
            Ok(Ok(v)) => v,
            // A key that became something else than a stream fails the
            // whole XREAD: leave it out and read the others.
            Ok(Err(e)) if super::refusal(&e) => match refuse_non_streams(s, conn, &live).await {
                Ok(true) => continue,
                Ok(false) => return e,
                Err(e) => return e,
            },
            Ok(Err(e)) => return e,
            Err(e) => {
                return RedisError::from((redis::ErrorKind::Client, "XREAD", e.to_string()));
            }
        };
        in_hand = match reply::streams(v, &mut s.deliver.lock()) {
            Ok(streams) => streams,
            Err(e) => return RedisError::from((redis::ErrorKind::Parse, "XREAD", e.to_string())),
        };
    }
    RedisError::from((redis::ErrorKind::Client, "the adapter is closed"))
}

/// Finds the live items whose keys hold another type than a stream, and
/// stops reading them; `true` if there was one.
async fn refuse_non_streams(
    s: &Shared,
    conn: &mut MultiplexedConnection,
    live: &[crate::items::LiveItem],
) -> Result<bool, RedisError> {
    let mut found = false;
    for (item, _) in live {
        let key = s.stream_key(item);
        let kind: String = redis::cmd("TYPE").arg(&key).query_async(conn).await?;
        if kind != "stream" && kind != "none" {
            tracing::warn!(adapter = %s.settings.name, item = %item, key = %key, "this item's key now holds a {kind}, not a stream: the item gets no more updates");
            s.items.lock().refuse(item);
            found = true;
        }
    }
    Ok(found)
}

/// The XREAD of the live items, each from its last position or from the
/// last entry of its stream in `in_hand` (read, not yet delivered),
/// whichever is later.
fn xread(s: &Shared, live: &[LiveItem], in_hand: &[reply::StreamEntries]) -> redis::Cmd {
    let mut cmd = redis::cmd("XREAD");
    cmd.arg("COUNT")
        .arg(READ_COUNT)
        .arg("BLOCK")
        .arg(BLOCK.as_millis() as u64)
        .arg("STREAMS");
    let keys: Vec<String> = live.iter().map(|(item, _)| s.stream_key(item)).collect();
    for key in &keys {
        cmd.arg(key);
    }
    for (key, (_, last)) in keys.iter().zip(live) {
        let read = in_hand
            .iter()
            .find(|(k, _)| k.as_slice() == key.as_bytes())
            .and_then(|(_, entries)| entries.last())
            .map(|e| e.position);
        cmd.arg(reply::id_arg((*last).max(read)));
    }
    cmd
}

/// Hands the entries read to the engine, those that come after each
/// item's last position, under the delivery lock.
fn deliver(s: &Shared, streams: Vec<reply::StreamEntries>) {
    if streams.is_empty() {
        return;
    }
    let _deliver = s.deliver.lock();
    let Some(listener) = s.listener() else {
        return;
    };
    let prefix = s.settings.prefix.as_bytes();
    for (key, entries) in streams {
        let Some(item) = key
            .strip_prefix(prefix)
            .and_then(|k| std::str::from_utf8(k).ok())
        else {
            continue;
        };
        let accepted: Vec<Entry> = {
            let mut items = s.items.lock();
            entries
                .into_iter()
                .filter(|e| items.accept(item, e.position))
                .collect()
        };
        for e in accepted {
            listener.update(item, e.into_event(), false);
        }
    }
}
