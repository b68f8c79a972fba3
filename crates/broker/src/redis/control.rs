//! The control connection: snapshots, lingers, restarting the reader, and
//! publishing.

use super::{backoff, reply, Shared, RESPONSE_TIMEOUT};
use crate::entry::{Entry, Names};
use crate::items::SnapshotJob;
use crate::snapshot::{self, Snapshot};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisError, Value};
use shoal_adapter::{ItemEvent, Position, PublishError};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Entries read per XREVRANGE when a COMMAND history is rebuilt.
const PAGE: usize = 1000;

pub(super) async fn run(s: Arc<Shared>) {
    let mut names = Names::default();
    let mut delay = Duration::ZERO;
    while !s.closed.load(Ordering::Relaxed) {
        let work = s.work.notified();
        tokio::pin!(work);
        work.as_mut().enable();
        let next_sweep = s.items.lock().sweep(std::time::Instant::now());
        let mut retry = false;
        match connection(&s).await {
            Some(mut conn) => {
                loop {
                    let job = s.items.lock().next_snapshot();
                    let Some(job) = job else { break };
                    match read_snapshot(&s, &mut conn, &mut names, &job).await {
                        Ok(snap) => hand_over(&s, &job, snap),
                        Err(e) if super::refusal(&e) => refused(&s, &job, &e),
                        Err(e) => {
                            s.items.lock().snapshot_failed(&job);
                            s.mark_down("XREVRANGE", &e);
                            *s.control.lock() = None;
                            retry = true;
                            break;
                        }
                    }
                }
                if !retry {
                    delay = Duration::ZERO;
                    kick_reader(&s, &mut conn).await;
                }
            }
            None => retry = true,
        }
        if retry {
            delay = backoff(delay);
        }
        let sleep_until = match (next_sweep, retry) {
            (_, true) => Some(Instant::now() + delay),
            (Some(t), false) => Some(Instant::from_std(t)),
            (None, false) => None,
        };
        match sleep_until {
            Some(t) => {
                tokio::select! {
                    _ = &mut work => {}
                    _ = tokio::time::sleep_until(t) => {}
                }
            }
            None => work.await,
        }
    }
}

/// The control connection, made if there is none.
async fn connection(s: &Shared) -> Option<MultiplexedConnection> {
    if let Some(c) = s.control.lock().clone() {
        return Some(c);
    }
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(RESPONSE_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    match s
        .client
        .get_multiplexed_async_connection_with_config(&config)
        .await
    {
        Ok(c) => {
            *s.control.lock() = Some(c.clone());
            s.mark_up();
            Some(c)
        }
        Err(e) => {
            s.mark_down("connecting", &e);
            None
        }
    }
}

/// Reads the snapshot of an item: its last `snapshot_length` entries, or
/// for a COMMAND item the rows its history leaves.
async fn read_snapshot(
    s: &Shared,
    conn: &mut MultiplexedConnection,
    names: &mut Names,
    job: &SnapshotJob,
) -> Result<Snapshot, RedisError> {
    let key = s.stream_key(&job.item);
    let n = s.settings.snapshot_length;
    let mut newest_first = revrange(conn, names, &key, "+", n).await?;
    if !newest_first.first().is_some_and(snapshot::is_command) {
        newest_first.reverse();
        return Ok(snapshot::of_entries(&newest_first));
    }
    let limit = s.settings.command_history_limit;
    let mut more = newest_first.len() == n;
    while more && newest_first.len() < limit {
        let Some(oldest) = newest_first.last() else {
            break;
        };
        let before = format!("({}", reply::id_arg(Some(oldest.position)));
        let want = PAGE.min(limit - newest_first.len());
        let page = revrange(conn, names, &key, &before, want).await?;
        more = page.len() == want;
        newest_first.extend(page);
    }
    if more && newest_first.len() >= limit {
        tracing::warn!(adapter = %s.settings.name, item = %job.item, limit, "this COMMAND item has more entries than command_history_limit: rows added before the last {limit} entries are not in its snapshot");
    }
    newest_first.reverse();
    Ok(snapshot::of_command_rows(&newest_first))
}

async fn revrange(
    conn: &mut MultiplexedConnection,
    names: &mut Names,
    key: &str,
    from: &str,
    count: usize,
) -> Result<Vec<Entry>, RedisError> {
    let v: Value = redis::cmd("XREVRANGE")
        .arg(key)
        .arg(from)
        .arg("-")
        .arg("COUNT")
        .arg(count)
        .query_async(conn)
        .await?;
    reply::entries(v, names)
        .map_err(|e| RedisError::from((redis::ErrorKind::Parse, "XREVRANGE", e.to_string())))
}

/// Gives a snapshot just read to the engine, under the delivery lock so
/// that no live event of the item goes before it.
fn hand_over(s: &Shared, job: &SnapshotJob, snap: Snapshot) {
    let _deliver = s.deliver.lock();
    let what = s.items.lock().snapshot_read(job, snap.last);
    let Some(l) = s.listener() else {
        return;
    };
    snapshot::hand_over(&**l, &job.item, what, snap);
}

/// Redis refuses to read the item's key (it holds another type than a
/// stream): the item gets an empty snapshot and no updates, and is left
/// out of the reader's XREAD, which it would fail for every item.
fn refused(s: &Shared, job: &SnapshotJob, e: &RedisError) {
    tracing::warn!(adapter = %s.settings.name, item = %job.item, key = %s.stream_key(&job.item), "Redis refuses to read this item ({e}): it gets no updates (stream_prefix keeps clients to the keys meant for them)");
    let _deliver = s.deliver.lock();
    if s.items.lock().snapshot_refused(job) {
        if let Some(l) = s.listener() {
            l.snapshot(&job.item, Vec::new());
        }
    }
}

/// Makes the reader issue its XREAD again when the set of live items
/// changed since it issued the one it is blocked in.
async fn kick_reader(s: &Shared, conn: &mut MultiplexedConnection) {
    for _ in 0..100 {
        let target = s.items.lock().version();
        if s.reader_version.load(Ordering::SeqCst) >= target {
            return;
        }
        s.changed.notify_one();
        let id = s.reader_id.load(Ordering::SeqCst);
        if id < 0 {
            // Reconnecting: it will read the new set.
            return;
        }
        let unblocked: Result<i64, RedisError> = redis::cmd("CLIENT")
            .arg("UNBLOCK")
            .arg(id)
            .query_async(conn)
            .await;
        if unblocked.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Appends `event` to the stream of `item` (XADD, trimmed to about
/// `max_length` entries).
pub(super) async fn publish(
    s: &Shared,
    item: &str,
    event: ItemEvent,
) -> Result<Position, PublishError> {
    if event.fields().next().is_none() {
        return Err(PublishError::Refused(
            "no fields: a Redis stream entry has at least one field".into(),
        ));
    }
    if let Some((name, _)) = event.fields().find(|(_, v)| v.is_none()) {
        return Err(PublishError::Refused(format!(
            "field \"{name}\" is null: Redis stream entries hold strings only (send \"\" for an empty value)"
        )));
    }
    let Some(mut conn) = s.control.lock().clone() else {
        return Err(PublishError::Unavailable(format!(
            "Redis at {} is unreachable",
            super::redacted(&s.settings.url)
        )));
    };
    let mut cmd = redis::cmd("XADD");
    cmd.arg(s.stream_key(item));
    if s.settings.max_length > 0 {
        cmd.arg("MAXLEN").arg("~").arg(s.settings.max_length);
    }
    cmd.arg("*");
    for (n, v) in event.fields() {
        cmd.arg(n).arg(v.unwrap_or(""));
    }
    let id: Result<Value, RedisError> = cmd.query_async(&mut conn).await;
    match id {
        Ok(Value::BulkString(b)) => reply::parse_id(&b).ok_or_else(|| {
            PublishError::Unavailable("Redis answered XADD with no entry id".into())
        }),
        Ok(_) => Err(PublishError::Unavailable(
            "Redis answered XADD with no entry id".into(),
        )),
        Err(e) if super::refusal(&e) => Err(PublishError::Refused(format!(
            "Redis refused the entry: {e}"
        ))),
        Err(e) => {
            s.mark_down("XADD", &e);
            s.work.notify_one();
            Err(PublishError::Unavailable(format!("Redis: {e}")))
        }
    }
}
