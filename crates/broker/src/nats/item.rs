//! The reading task of one item: its snapshot, then its live messages,
//! through one consumer filtered on the item's subject.

use super::continuity::{self, Continuity};
use super::{Shared, RESPONSE_TIMEOUT};
use crate::entry::{json_fields, Entry, Fields, Names};
use crate::items::SnapshotJob;
use crate::snapshot::{self, Snapshot};
use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::stream::{RawMessageErrorKind, Stream};
use async_nats::jetstream::{self, ErrorCode};
use futures_util::{FutureExt, StreamExt};
use parking_lot::Mutex;
use shoal_adapter::Position;
use std::collections::VecDeque;
use std::fmt::Display;
use std::sync::Arc;
use std::time::Duration;

/// Messages asked for per pull request.
const PULL_BATCH: usize = 500;
/// How long one pull request waits on the server before it is renewed.
const PULL_EXPIRES: Duration = Duration::from_secs(30);
/// The server's sign of life while a pull request waits: two missed
/// heartbeats end the consumer, which is then replaced.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// How long the server keeps a consumer nobody pulls from (a node that
/// died without deleting its consumers).
const CONSUMER_INACTIVE: Duration = Duration::from_secs(60);
/// Messages already received handed to the engine under one lock.
const DELIVER_BATCH: usize = 256;

/// What a task is opened for.
pub(super) enum Mode {
    /// A subscription: read the snapshot, then live.
    Snapshot(SnapshotJob),
    /// A live item whose consumer is gone: check the stream, then read on
    /// after `last`.
    Resume {
        item: Arc<str>,
        last: Option<Position>,
    },
}

impl Mode {
    pub fn item(&self) -> &Arc<str> {
        match self {
            Mode::Snapshot(job) => &job.item,
            Mode::Resume { item, .. } => item,
        }
    }
}

/// How a task ended (reading live, it does not end by itself).
#[derive(Debug)]
pub(super) enum Outcome {
    /// The stream lost messages of the item: it was marked for a resync.
    Resync,
    /// A query or the consumer failed.
    Failed {
        what: &'static str,
        error: String,
        /// The stream may not be there: the control task checks it again.
        recheck_stream: bool,
    },
}

fn failed(what: &'static str, error: impl Display, recheck_stream: bool) -> Outcome {
    Outcome::Failed {
        what,
        error: error.to_string(),
        recheck_stream,
    }
}

/// The consumer's messages failed. A consumer deleted or silent may have
/// gone with its stream: the stream is checked again.
fn reading_failed(what: &'static str, e: pull::MessagesError) -> Outcome {
    let recheck = matches!(
        e.kind(),
        pull::MessagesErrorKind::ConsumerDeleted | pull::MessagesErrorKind::MissingHeartbeat
    );
    failed(what, e, recheck)
}

/// Reads `mode`'s item until the task is aborted or fails; the consumer's
/// name goes to `consumer` once it is made, and the consumer is deleted
/// when the task fails.
pub(super) async fn run(
    s: Arc<Shared>,
    js: jetstream::Context,
    mode: Mode,
    consumer: Arc<Mutex<Option<String>>>,
) -> (Arc<str>, Outcome) {
    let item = mode.item().clone();
    let mut reader = Reader {
        subject: s.subject(&item),
        s,
        item: item.clone(),
        names: Names::default(),
        consumer_name: consumer,
        delivered: 0,
    };
    let outcome = reader.read(&js, mode).await;
    let name = reader.consumer_name.lock().take();
    if let Some(name) = name {
        let _ = tokio::time::timeout(
            RESPONSE_TIMEOUT,
            js.delete_consumer_from_stream(&name, &reader.s.nats.stream),
        )
        .await;
    }
    // The control task learns of the end through its join set.
    (item, outcome)
}

struct Reader {
    s: Arc<Shared>,
    item: Arc<str>,
    subject: String,
    names: Names,
    consumer_name: Arc<Mutex<Option<String>>>,
    /// The consumer sequence of the last message received: the next one
    /// must follow it (an ordered consumer's check).
    delivered: u64,
}

/// A message read: its position, and its fields unless its payload is
/// not an event (skipped, but its position counts).
type Read = (Position, Option<Fields>);

impl Reader {
    async fn read(&mut self, js: &jetstream::Context, mode: Mode) -> Outcome {
        let stream = match js.get_stream_no_info(&self.s.nats.stream).await {
            Ok(st) => st,
            Err(e) => return failed("stream", e, false),
        };
        match mode {
            Mode::Snapshot(job) => self.snapshot_then_live(&stream, job).await,
            Mode::Resume { last, .. } => {
                let policy = match last {
                    Some(p) => {
                        let p = sequence(p);
                        match continuity::check(&stream, &self.subject, p).await {
                            Ok(Continuity::Kept) => DeliverPolicy::ByStartSequence {
                                start_sequence: p + 1,
                            },
                            Ok(Continuity::Lost) => {
                                tracing::warn!(adapter = %self.s.settings.name, item = %self.item, after = p, "the JetStream stream lost messages of this item that were not delivered: its clients get a cleared snapshot, then the current one");
                                self.s.items.lock().resync(&self.item);
                                self.s.work.notify_one();
                                return Outcome::Resync;
                            }
                            Err(e) => return failed(e.what, e.error, e.recheck_stream),
                        }
                    }
                    // Nothing read yet: all the subject has.
                    None => DeliverPolicy::All,
                };
                match self.open(&stream, policy).await {
                    Ok((_, messages)) => self.live(messages, Vec::new()).await,
                    Err(o) => o,
                }
            }
        }
    }

    /// Opens the item's consumer and its message stream.
    async fn open(
        &mut self,
        stream: &Stream<()>,
        policy: DeliverPolicy,
    ) -> Result<(PullConsumer, pull::Stream), Outcome> {
        let config = pull::Config {
            description: Some(format!("shoal {} {}", self.s.settings.name, self.item)),
            deliver_policy: policy,
            ack_policy: AckPolicy::None,
            filter_subject: self.subject.clone(),
            inactive_threshold: CONSUMER_INACTIVE,
            memory_storage: true,
            num_replicas: 1,
            ..Default::default()
        };
        let consumer: PullConsumer = stream.create_consumer(config).await.map_err(|e| {
            let gone = matches!(e.kind(), async_nats::jetstream::stream::ConsumerErrorKind::JetStream(j) if j.error_code() == ErrorCode::STREAM_NOT_FOUND);
            failed("CONSUMER.CREATE", e, gone)
        })?;
        *self.consumer_name.lock() = Some(consumer.cached_info().name.clone());
        self.delivered = 0;
        let messages = consumer
            .stream()
            .max_messages_per_batch(PULL_BATCH)
            .expires(PULL_EXPIRES)
            .heartbeat(HEARTBEAT)
            .messages()
            .await
            .map_err(|e| failed("CONSUMER.MSG.NEXT", e, false))?;
        Ok((consumer, messages))
    }

    /// Reads the snapshot of `job` with a consumer from the subject's
    /// start, hands it over, and reads on live with the same consumer.
    async fn snapshot_then_live(&mut self, stream: &Stream<()>, job: SnapshotJob) -> Outcome {
        let newest = match stream.get_last_raw_message_by_subject(&self.subject).await {
            Ok(m) => Some(m),
            Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => None,
            Err(e) => {
                let gone = matches!(e.kind(), RawMessageErrorKind::JetStream(j) if j.error_code() == ErrorCode::STREAM_NOT_FOUND);
                return failed("STREAM.MSG.GET", e, gone);
            }
        };
        // The newest message says what kind of item this is, so how much
        // history to keep while reading.
        let is_command = newest.as_ref().is_some_and(|m| {
            json_fields(&mut self.names, &m.payload).is_ok_and(|fields| {
                snapshot::is_command(&Entry {
                    position: Position::JetStream(m.sequence),
                    fields,
                })
            })
        });
        let keep = if is_command {
            self.s.settings.command_history_limit
        } else {
            self.s.settings.snapshot_length
        }
        .max(1);
        let (consumer, mut messages) = match self.open(stream, DeliverPolicy::All).await {
            Ok(c) => c,
            Err(o) => return o,
        };
        let mut kept: VecDeque<Entry> = VecDeque::with_capacity(keep.min(PULL_BATCH));
        let mut read = 0usize;
        // Messages past the snapshot's end, read with it: the first live ones.
        let mut after = Vec::new();
        let end = newest.as_ref().map(|m| m.sequence);
        if let Some(end) = end.filter(|_| consumer.cached_info().num_pending > 0) {
            loop {
                let m = match messages.next().await {
                    Some(Ok(m)) => m,
                    Some(Err(e)) => return reading_failed("reading the snapshot", e),
                    None => return failed("reading the snapshot", "the consumer ended", false),
                };
                let (seq, pending) = match self.check_order(&m) {
                    Ok(v) => v,
                    Err(o) => return o,
                };
                let (position, fields) = self.parse(seq, &m.payload);
                if seq > end {
                    // The newest message was deleted meanwhile.
                    after.push((position, fields));
                    break;
                }
                read += 1;
                if let Some(fields) = fields {
                    kept.push_back(Entry { position, fields });
                    if kept.len() > keep {
                        kept.pop_front();
                    }
                }
                if seq >= end || pending == 0 {
                    break;
                }
            }
        }
        let entries: Vec<Entry> = kept.into();
        let snap = if entries.last().is_some_and(snapshot::is_command) {
            if read > keep {
                let limit = self.s.settings.command_history_limit;
                tracing::warn!(adapter = %self.s.settings.name, item = %self.item, limit, "this COMMAND item has more messages than command_history_limit: rows added before the last {limit} messages are not in its snapshot");
            }
            snapshot::of_command_rows(&entries)
        } else {
            let n = self.s.settings.snapshot_length;
            snapshot::of_entries(&entries[entries.len().saturating_sub(n)..])
        };
        let snap = Snapshot {
            // Where live reading goes on: past every message read, kept or not.
            last: end.map(Position::JetStream),
            ..snap
        };
        self.hand_over(&job, snap);
        self.live(messages, after).await
    }

    /// Delivers the consumer's messages as they come, `first` before them.
    async fn live(&mut self, mut messages: pull::Stream, first: Vec<Read>) -> Outcome {
        self.deliver(first);
        loop {
            let mut batch = Vec::new();
            let mut next = match messages.next().await {
                Some(m) => Some(m),
                None => return failed("reading", "the consumer ended", false),
            };
            // Then what is already there, up to a batch.
            while let Some(m) = next.take() {
                let m = match m {
                    Ok(m) => m,
                    Err(e) => {
                        self.deliver(batch);
                        return reading_failed("reading", e);
                    }
                };
                let seq = match self.check_order(&m) {
                    Ok((seq, _)) => seq,
                    Err(o) => {
                        self.deliver(batch);
                        return o;
                    }
                };
                batch.push(self.parse(seq, &m.payload));
                if batch.len() < DELIVER_BATCH {
                    next = messages.next().now_or_never().flatten();
                }
            }
            self.deliver(batch);
        }
    }

    /// The stream sequence and pending count of a message, after checking
    /// that it follows the previous one of the consumer.
    fn check_order(&mut self, m: &jetstream::Message) -> Result<(u64, u64), Outcome> {
        let info = m.info().map_err(|e| {
            failed(
                "reading",
                format!("a message without JetStream metadata: {e}"),
                false,
            )
        })?;
        if info.consumer_sequence != self.delivered + 1 {
            return Err(failed(
                "reading",
                format!(
                    "the consumer skipped from {} to {}",
                    self.delivered, info.consumer_sequence
                ),
                false,
            ));
        }
        self.delivered = info.consumer_sequence;
        Ok((info.stream_sequence, info.pending))
    }

    /// The fields of a message's payload; a payload that is not a JSON
    /// object of field values is skipped, logged once per item.
    fn parse(&mut self, seq: u64, payload: &[u8]) -> Read {
        let position = Position::JetStream(seq);
        match json_fields(&mut self.names, payload) {
            Ok(fields) => (position, Some(fields)),
            Err(e) => {
                if self.s.warned.lock().insert(self.item.clone()) {
                    tracing::warn!(adapter = %self.s.settings.name, item = %self.item, stream = %self.s.nats.stream, sequence = seq, "a message of this item is not a JSON object of field values ({e}): skipped (logged once per item)");
                }
                (position, None)
            }
        }
    }

    /// Hands live messages to the engine, those after the item's last
    /// position, under the delivery lock.
    fn deliver(&self, batch: Vec<Read>) {
        if batch.is_empty() {
            return;
        }
        let _deliver = self.s.deliver.lock();
        let accepted: Vec<Entry> = {
            let mut items = self.s.items.lock();
            batch
                .into_iter()
                .filter(|(at, _)| items.accept(&self.item, *at))
                .filter_map(|(position, fields)| fields.map(|fields| Entry { position, fields }))
                .collect()
        };
        let Some(listener) = self.s.listener() else {
            return;
        };
        for e in accepted {
            listener.update(&self.item, e.into_event(), false);
        }
    }

    /// Gives a snapshot just read to the engine, under the delivery lock so
    /// that no live event of the item goes before it.
    fn hand_over(&self, job: &SnapshotJob, snap: Snapshot) {
        let _deliver = self.s.deliver.lock();
        let what = self.s.items.lock().snapshot_read(job, snap.last);
        let Some(l) = self.s.listener() else {
            return;
        };
        snapshot::hand_over(&**l, &job.item, what, snap);
    }
}

/// The stream sequence of a position read from this stream.
fn sequence(p: Position) -> u64 {
    match p {
        Position::JetStream(seq) => seq,
        // A NATS feed only records JetStream positions; a Redis one here
        // would be a bug, read as "from the start".
        Position::Redis { .. } | Position::Local(_) => 0,
    }
}
