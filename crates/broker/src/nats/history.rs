//! Reading back an item's history: the messages of its subject from a
//! stream sequence on, for a session adopted from a node that died (its
//! client must get the entries it missed).
//!
//! JetStream reads a subject's history through a consumer: an ephemeral
//! pull consumer filtered on the item's subject, starting at the sequence
//! asked for, without acks. Its creation says how many messages it has to
//! deliver (`num_pending`), and every message says how many are left after
//! it, so the read stops once nothing is pending or `limit` is reached,
//! without waiting for a pull request to expire. The consumer is deleted
//! after (the server would drop it once inactive anyway).

use super::{subject, Shared, RESPONSE_TIMEOUT};
use crate::entry::{json_fields, Entry, Names};
use crate::link;
use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer};
use futures_util::StreamExt;
use shoal_adapter::{AdapterError, Bound, ItemEvent, Position};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Messages asked for per pull request.
const PULL_BATCH: usize = 500;
/// How long the server keeps a history consumer that is not deleted (this
/// node died while reading).
const CONSUMER_INACTIVE: Duration = Duration::from_secs(10);
/// Longest time a whole read may take.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

fn error(message: String) -> AdapterError {
    AdapterError::new(0, message)
}

/// The entries of `item` from `from` on, at most `limit`, oldest first.
pub(super) async fn read(
    s: &Shared,
    item: &str,
    from: Bound,
    limit: usize,
) -> Result<Vec<ItemEvent>, AdapterError> {
    if !subject::is_valid(item) {
        return Err(error(format!(
            "item \"{item}\" cannot be a NATS subject: its name is {}",
            subject::SUBJECT_RULES
        )));
    }
    // The first stream sequence to read (sequences start at 1).
    let start = match from {
        Bound::From(Position::JetStream(seq)) => seq.max(1),
        Bound::After(Position::JetStream(seq)) => seq.saturating_add(1),
        Bound::From(p) | Bound::After(p) => {
            return Err(error(format!(
                "reading the history of {item}: position {p} is not a JetStream sequence"
            )))
        }
    };
    if limit == 0 {
        return Ok(Vec::new());
    }
    let js = match s.js.lock().clone() {
        Some(js) if s.connected.load(Ordering::SeqCst) => js,
        _ => {
            return Err(error(format!(
                "reading the history of {item}: NATS at {} is unreachable",
                link::redacted(&s.settings.url)
            )))
        }
    };
    let stream_name = &s.nats.stream;
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        error(format!(
            "reading the history of {item} from stream {stream_name} ({what}): {e}"
        ))
    };
    let stream = js
        .get_stream_no_info(stream_name)
        .await
        .map_err(|e| failed("STREAM.INFO", &e))?;
    let config = pull::Config {
        description: Some(format!("shoal {} {item} history", s.settings.name)),
        deliver_policy: DeliverPolicy::ByStartSequence {
            start_sequence: start,
        },
        ack_policy: AckPolicy::None,
        filter_subject: s.subject(item),
        inactive_threshold: CONSUMER_INACTIVE,
        memory_storage: true,
        num_replicas: 1,
        ..Default::default()
    };
    let consumer: PullConsumer = stream
        .create_consumer(config)
        .await
        .map_err(|e| failed("CONSUMER.CREATE", &e))?;
    let name = consumer.cached_info().name.clone();
    let read = tokio::time::timeout(READ_TIMEOUT, drain(&consumer, limit)).await;
    // Deleted whatever the read gave; a failure here only leaves it to
    // the server's inactivity threshold.
    let _ = tokio::time::timeout(
        RESPONSE_TIMEOUT,
        js.delete_consumer_from_stream(&name, stream_name),
    )
    .await;
    match read {
        Ok(Ok(events)) => Ok(events),
        Ok(Err(e)) => Err(failed("reading", &e)),
        Err(_) => Err(failed(
            "reading",
            &format!("not done within {READ_TIMEOUT:?}"),
        )),
    }
}

/// Reads the consumer's messages until none is pending or `limit` events
/// were read. A message that is not a JSON object of field values is
/// skipped, as the live reader skips it.
async fn drain(consumer: &PullConsumer, limit: usize) -> Result<Vec<ItemEvent>, String> {
    let mut events = Vec::new();
    if consumer.cached_info().num_pending == 0 {
        return Ok(events);
    }
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(PULL_BATCH.min(limit))
        .messages()
        .await
        .map_err(|e| e.to_string())?;
    let mut names = Names::default();
    loop {
        let m = match messages.next().await {
            Some(Ok(m)) => m,
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("the consumer ended".to_owned()),
        };
        let info = m
            .info()
            .map_err(|e| format!("a message without JetStream metadata: {e}"))?;
        let (seq, pending) = (info.stream_sequence, info.pending);
        if let Ok(fields) = json_fields(&mut names, &m.payload) {
            let position = Position::JetStream(seq);
            events.push(Entry { position, fields }.into_event());
        }
        if pending == 0 || events.len() >= limit {
            return Ok(events);
        }
    }
}
