//! The control task: the connection, the stream, and one reading task per
//! item (opened for a snapshot or to resume, closed after the linger or
//! when the connection is lost).

use super::item::{self, Mode, Outcome};
use super::{Shared, RESPONSE_TIMEOUT};
use crate::items::SnapshotJob;
use crate::link::{backoff, BACKOFF_MAX};
use async_nats::datetime::DateTime;
use async_nats::jetstream::stream::{Config, StorageType};
use async_nats::jetstream::{self, context::GetStreamErrorKind, ErrorCode};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::{AbortHandle, Id, JoinSet};
use tokio::time::Instant;

/// A reading task of one item.
struct Running {
    id: Id,
    abort: AbortHandle,
    /// The snapshot it was opened to read (released when it fails or is
    /// closed: harmless once handed over).
    job: Option<SnapshotJob>,
    /// The name of its consumer, once made.
    consumer: Arc<Mutex<Option<String>>>,
    started: Instant,
}

/// An item whose task failed: when it may be tried again, and the delay
/// that led there.
struct Retry {
    at: Instant,
    delay: Duration,
}

/// The reading tasks, by item.
#[derive(Default)]
struct Tasks {
    set: JoinSet<(Arc<str>, Outcome)>,
    running: HashMap<Arc<str>, Running>,
    retry: HashMap<Arc<str>, Retry>,
}

pub(super) async fn run(s: Arc<Shared>) {
    let client = match Shared::connect_options(&s)
        .connect(s.servers.as_slice())
        .await
    {
        Ok(c) => c,
        Err(e) => {
            // With retry_on_initial_connect nothing is tried yet: only
            // options the client refuses end here.
            tracing::error!(adapter = %s.settings.name, "NATS client not made: {e}; this adapter serves no item");
            s.link.mark_down("connecting", &e);
            return;
        }
    };
    let mut js = jetstream::new(client);
    js.set_timeout(RESPONSE_TIMEOUT);
    *s.js.lock() = Some(js.clone());
    let mut tasks = Tasks::default();
    // The connection whose stream was checked.
    let mut ready: Option<u64> = None;
    let mut known = Known::default();
    let mut delay = Duration::ZERO;
    let mut retry_at: Option<Instant> = None;
    while !s.closed.load(Ordering::Relaxed) {
        let work = s.work.notified();
        tokio::pin!(work);
        work.as_mut().enable();
        let next_sweep = s.items.lock().sweep(std::time::Instant::now());
        tasks.close_gone(&s, &js);
        let connected = s.connected.load(Ordering::SeqCst);
        let epoch = s.epoch.load(Ordering::SeqCst);
        if !connected || ready.is_some_and(|e| e != epoch) {
            // The consumers went with the connection.
            tasks.close_all(&s, None);
            ready = None;
        }
        let now = Instant::now();
        if connected && ready.is_none() && retry_at.is_none_or(|t| t <= now) {
            match ensure_stream(&s, &js, &mut known).await {
                Ok(()) => {
                    ready = Some(epoch);
                    delay = Duration::ZERO;
                    retry_at = None;
                }
                Err(()) => {
                    delay = backoff(delay);
                    retry_at = Some(Instant::now() + delay);
                }
            }
        }
        if ready.is_some() {
            tasks.open_needed(&s, &js);
        }
        let wake = [
            next_sweep.map(Instant::from_std),
            retry_at.filter(|_| ready.is_none()),
            tasks.next_retry(),
        ]
        .into_iter()
        .flatten()
        .min();
        let sleep = async {
            match wake {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut work => {}
            _ = sleep => {}
            Some(done) = tasks.set.join_next_with_id(), if !tasks.set.is_empty() => {
                match done {
                    Ok((id, (item, outcome))) => {
                        if tasks.ended(&s, id, &item, &outcome) {
                            // The stream itself is in question: checked again.
                            ready = None;
                        }
                    }
                    Err(e) if e.is_panic() => tasks.panicked(&s, e.id()),
                    // Aborted by this task: already forgotten.
                    Err(_) => {}
                }
            }
        }
    }
    // The adapter is dropped: its consumers go now rather than when the
    // server finds them inactive.
    tasks.close_all(&s, Some(&js));
    *s.js.lock() = None;
}

/// How long a stream seen deleted is left to the server before it is made
/// anew: a server still removing the old stream's files can break the new
/// one (nats-server 2.9 does).
const DELETED_SETTLE: Duration = Duration::from_millis(500);

/// What the control task knows of the stream.
#[derive(Default)]
struct Known {
    /// Its creation time when last seen: a stream made anew has lost
    /// every position.
    created: Option<DateTime>,
    /// When it was found deleted, until it is made anew.
    deleted_at: Option<Instant>,
}

/// Checks that the stream is there, creating it if it is missing and
/// `create_stream` is on. A stream made anew (another creation time) has
/// lost what the items read: every item with a position is resynchronised.
async fn ensure_stream(s: &Shared, js: &jetstream::Context, known: &mut Known) -> Result<(), ()> {
    let name = &s.nats.stream;
    // The stream's creation time, from the info its handle was made with.
    let made_at = match js.get_stream(name).await {
        Ok(stream) => stream.cached_info().created,
        Err(e) if is_stream_not_found(&e) => {
            s.link.mark_up();
            if !s.nats.create_stream {
                let problem = format!(
                    "the JetStream stream {name} does not exist and create_stream is N: create it with the subjects {}.>",
                    s.settings.prefix
                );
                let mut p = s.stream_problem.lock();
                if p.is_none() {
                    tracing::error!(adapter = %s.settings.name, "{problem}; its items wait for it");
                }
                *p = Some(problem);
                return Err(());
            }
            if known.created.is_some() {
                let deleted_at = *known.deleted_at.get_or_insert_with(|| {
                    tracing::warn!(adapter = %s.settings.name, stream = %name, "the JetStream stream was deleted: it is made anew");
                    Instant::now()
                });
                if deleted_at.elapsed() < DELETED_SETTLE {
                    return Err(());
                }
            }
            let config = Config {
                name: name.clone(),
                subjects: vec![format!("{}.>", s.settings.prefix)],
                storage: StorageType::File,
                // 0 is no limit for the server, as for max_length.
                max_messages_per_subject: i64::try_from(s.settings.max_length).unwrap_or(i64::MAX),
                ..Default::default()
            };
            match js.create_stream(config).await {
                Ok(stream) => {
                    tracing::info!(adapter = %s.settings.name, stream = %name, subjects = %format!("{}.>", s.settings.prefix), max_messages_per_subject = s.settings.max_length, "created the JetStream stream");
                    stream.cached_info().created
                }
                Err(e) => {
                    s.link.mark_down("STREAM.CREATE", &e);
                    return Err(());
                }
            }
        }
        Err(e) => {
            s.link.mark_down("STREAM.INFO", &e);
            return Err(());
        }
    };
    s.link.mark_up();
    if s.stream_problem.lock().take().is_some() {
        tracing::info!(adapter = %s.settings.name, stream = %name, "the JetStream stream is there: its items are read");
    }
    known.deleted_at = None;
    if known.created.is_some_and(|c| c != made_at) {
        tracing::warn!(adapter = %s.settings.name, stream = %name, "the JetStream stream was made anew: its items' clients get a cleared snapshot, then the current one");
        let mut items = s.items.lock();
        let (_, live) = items.live();
        for (item, last) in live {
            if last.is_some() {
                items.resync(&item);
            }
        }
    }
    known.created = Some(made_at);
    Ok(())
}

fn is_stream_not_found(e: &jetstream::context::GetStreamError) -> bool {
    matches!(e.kind(), GetStreamErrorKind::JetStream(j) if j.error_code() == ErrorCode::STREAM_NOT_FOUND)
}

impl Tasks {
    /// Opens a task for every snapshot to read and for every live item
    /// without one, except items waiting to be tried again.
    fn open_needed(&mut self, s: &Arc<Shared>, js: &jetstream::Context) {
        let now = Instant::now();
        let waits = |retry: &HashMap<Arc<str>, Retry>, item: &str| {
            retry.get(item).is_some_and(|r| r.at > now)
        };
        let jobs: Vec<SnapshotJob> = {
            let mut items = s.items.lock();
            std::iter::from_fn(|| items.next_snapshot()).collect()
        };
        for job in jobs {
            if waits(&self.retry, &job.item) {
                s.items.lock().snapshot_failed(&job);
                continue;
            }
            // A new subscription (or a resync): a fresh snapshot, a new
            // consumer. The old task's job is not released: this one, of
            // the same subscription maybe, replaces it.
            self.close(s, &job.item, Some(js), false);
            self.open(s, js, Mode::Snapshot(job));
        }
        let (_, live) = s.items.lock().live();
        for (item, last) in live {
            if !self.running.contains_key(&item) && !waits(&self.retry, &item) {
                self.open(s, js, Mode::Resume { item, last });
            }
        }
    }

    fn open(&mut self, s: &Arc<Shared>, js: &jetstream::Context, mode: Mode) {
        let item = mode.item().clone();
        let job = match &mode {
            Mode::Snapshot(job) => Some(job.clone()),
            Mode::Resume { .. } => None,
        };
        let consumer = Arc::new(Mutex::new(None));
        let abort = self
            .set
            .spawn(item::run(s.clone(), js.clone(), mode, consumer.clone()));
        self.running.insert(
            item,
            Running {
                id: abort.id(),
                abort,
                job,
                consumer,
                started: Instant::now(),
            },
        );
    }

    /// Stops the task of `item`; its consumer is deleted through `js`
    /// (else the server drops it once it is inactive). With `release`, the
    /// snapshot it was reading is to be read again (harmless once it was
    /// handed over).
    fn close(&mut self, s: &Shared, item: &str, js: Option<&jetstream::Context>, release: bool) {
        let Some(r) = self.running.remove(item) else {
            return;
        };
        r.abort.abort();
        if let Some(job) = r.job.as_ref().filter(|_| release) {
            s.items.lock().snapshot_failed(job);
        }
        let name = r.consumer.lock().take();
        if let (Some(js), Some(name)) = (js, name) {
            let js = js.clone();
            let stream = s.nats.stream.clone();
            tokio::spawn(async move {
                let _ = js.delete_consumer_from_stream(&name, &stream).await;
            });
        }
    }

    fn close_all(&mut self, s: &Shared, js: Option<&jetstream::Context>) {
        let items: Vec<Arc<str>> = self.running.keys().cloned().collect();
        for item in items {
            self.close(s, &item, js, true);
        }
    }

    /// Closes the tasks of items no longer read (their linger is over).
    fn close_gone(&mut self, s: &Shared, js: &jetstream::Context) {
        let gone: Vec<Arc<str>> = {
            let items = s.items.lock();
            self.running
                .keys()
                .filter(|i| !items.contains(i))
                .cloned()
                .collect()
        };
        for item in &gone {
            self.close(s, item, Some(js), true);
        }
        let items = s.items.lock();
        self.retry.retain(|i, _| items.contains(i));
        s.warned.lock().retain(|i| items.contains(i));
    }

    /// The earliest time an item may be tried again.
    fn next_retry(&self) -> Option<Instant> {
        let now = Instant::now();
        self.retry.values().map(|r| r.at).filter(|t| *t > now).min()
    }

    /// A task panicked (a bug): its item is tried again, as after a failure.
    fn panicked(&mut self, s: &Shared, id: Id) {
        let item = self
            .running
            .iter()
            .find(|(_, r)| r.id == id)
            .map(|(item, _)| item.clone());
        if let Some(item) = item {
            let outcome = Outcome::Failed {
                what: "reading",
                error: "the reading task panicked".into(),
                recheck_stream: false,
            };
            self.ended(s, id, &item, &outcome);
        }
    }

    /// A task ended by itself. Returns whether the stream is to be checked
    /// again.
    fn ended(&mut self, s: &Shared, id: Id, item: &Arc<str>, outcome: &Outcome) -> bool {
        let Some(r) = self.running.get(item).filter(|r| r.id == id) else {
            // A task already replaced.
            return false;
        };
        let started = r.started;
        if let Some(job) = &r.job {
            // A snapshot it did not hand over is to be read again.
            s.items.lock().snapshot_failed(job);
        }
        self.running.remove(item);
        match outcome {
            // Its snapshot is to be read again: opened at once.
            Outcome::Resync => false,
            Outcome::Failed {
                what,
                error,
                recheck_stream,
            } => {
                // Failures close together back off; one after a good run
                // starts a new series, and is logged.
                let previous = self
                    .retry
                    .get(item)
                    .map(|r| r.delay)
                    .filter(|_| started.elapsed() < BACKOFF_MAX);
                let delay = backoff(previous.unwrap_or(Duration::ZERO));
                if previous.is_none() {
                    tracing::warn!(adapter = %s.settings.name, item = %item, "reading from NATS failed ({what}: {error}): retrying with backoff");
                } else {
                    tracing::debug!(adapter = %s.settings.name, item = %item, "reading from NATS failed again ({what}: {error})");
                }
                self.retry.insert(
                    item.clone(),
                    Retry {
                        at: Instant::now() + delay,
                        delay,
                    },
                );
                *recheck_stream
            }
        }
    }
}
