//! Reading an item's history back: the entries of its stream from a given
//! position on, for a node that adopts a session another node served and
//! must send its client the entries it missed.
//!
//! One `XRANGE <stream> <start> + COUNT <limit>`: Redis answers the
//! entries oldest first, which is the order the client must get them in.
//! The entries are decoded by the same code as the live reader's
//! ([`reply::entries`]), so an entry read back is the event the reader
//! delivered for it, position included.

use super::{reply, Shared, RESPONSE_TIMEOUT};
use crate::entry::Names;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisError, Value};
use shoal_adapter::{AdapterError, Bound, ItemEvent, Position};

/// The entries of `item` from `from` on, at most `limit`, oldest first.
/// A stream that does not exist has no entries (not an error): nothing was
/// published to the item yet, or it expired.
pub(super) async fn read(
    s: &Shared,
    item: &str,
    from: Bound,
    limit: usize,
) -> Result<Vec<ItemEvent>, AdapterError> {
    let start = start_arg(from)?;
    if limit == 0 {
        // `COUNT 0` does not mean "none" to every Redis version: ask nothing.
        return Ok(Vec::new());
    }
    let mut conn = connection(s).await.map_err(|e| {
        AdapterError::new(0, format!("reading the history of {item:?}: Redis: {e}"))
    })?;
    let key = s.stream_key(item);
    let reply: Result<Value, RedisError> = redis::cmd("XRANGE")
        .arg(&key)
        .arg(&start)
        .arg("+")
        .arg("COUNT")
        .arg(limit)
        .query_async(&mut conn)
        .await;
    let value = match reply {
        Ok(v) => v,
        Err(e) => {
            // A refusal (the key holds something else than a stream) says
            // nothing about the link; anything else is the link failing,
            // which the feed's tasks must hear of to reconnect.
            if !super::refusal(&e) {
                s.mark_down("XRANGE", &e);
                s.work.notify_one();
            }
            return Err(AdapterError::new(
                0,
                format!("reading the history of {item:?} (XRANGE {key} {start}): Redis: {e}"),
            ));
        }
    };
    // Names of its own: the shared table is the delivery's, and holding
    // its lock while decoding would hold live deliveries up.
    let mut names = Names::default();
    let entries = reply::entries(value, &mut names)
        .map_err(|e| AdapterError::new(0, format!("reading the history of {item:?}: {e}")))?;
    Ok(entries.into_iter().map(|e| e.into_event()).collect())
}

/// The XRANGE start for `from`: `ms-seq` reads from that entry on,
/// `(ms-seq` (an exclusive bound, Redis 6.2 and later) from the one after.
fn start_arg(from: Bound) -> Result<String, AdapterError> {
    let (p, exclusive) = match from {
        Bound::From(p) => (p, false),
        Bound::After(p) => (p, true),
    };
    let Position::Redis { ms, seq } = p else {
        return Err(AdapterError::new(
            0,
            format!("position {p} is not a Redis stream entry id: it cannot bound a Redis history"),
        ));
    };
    Ok(if exclusive {
        format!("({ms}-{seq}")
    } else {
        format!("{ms}-{seq}")
    })
}

/// The feed's control connection, or while it has none (the broker was
/// down), a new one: a history read is asked for when a session is
/// adopted, and must not wait for the control task's next attempt.
async fn connection(s: &Shared) -> Result<MultiplexedConnection, RedisError> {
    if let Some(c) = s.control.lock().clone() {
        return Ok(c);
    }
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(RESPONSE_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    s.client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_become_inclusive_or_exclusive_starts() {
        let p = Position::Redis { ms: 17, seq: 3 };
        assert_eq!(start_arg(Bound::From(p)).unwrap(), "17-3");
        assert_eq!(start_arg(Bound::After(p)).unwrap(), "(17-3");
        let err = start_arg(Bound::From(Position::JetStream(4))).unwrap_err();
        assert!(err.message.contains("not a Redis"), "{err}");
    }
}
