//! The `shoal.nats` data adapter: item `X` is the subject `<prefix>.X` in
//! the JetStream stream `stream`; a message's payload is a JSON object of
//! field values ([`json_fields`](crate::entry::json_fields)), its stream
//! sequence the event's [`Position::JetStream`].
//!
//! # How an item is read
//!
//! One NATS connection per node and adapter. Each item read by the node
//! has one JetStream consumer: an ephemeral pull consumer filtered on the
//! item's subject, without acks (the node keeps the position itself, in
//! [`Items`]), opened when the item is subscribed and closed when its
//! linger ends. The consumer is checked like an *ordered* consumer: its
//! consumer sequence must grow by one per message, or it is replaced.
//!
//! - **Snapshot.** JetStream has no reverse read, so the snapshot is read
//!   forwards: the subject's last message (get-last-for-subject) gives the
//!   end of the snapshot and whether the item holds COMMAND rows; then the
//!   item's consumer reads the subject's retained history from its start
//!   up to that message, keeping the last `snapshot_length` messages, or
//!   the last `command_history_limit` ones to fold into rows.
//! - **Live.** The same consumer goes on after the snapshot's last
//!   message: what it delivers next comes after the snapshot, with no gap
//!   and no duplicate. A consumer that fails (missed heartbeats, a gap in
//!   its sequence, the server gone) is replaced by one that starts right
//!   after the item's last position.
//!
//! Every delivery and every snapshot hand-over goes through one lock, and
//! through [`Items::accept`], so an item's snapshot and its live events
//! never interleave, and an event is delivered once even when an old and
//! a new consumer of the item overlap.
//!
//! # Outages
//!
//! The client reconnects by itself, with the delays of
//! [`crate::link::backoff`]. While the connection is down, the items'
//! consumers are dropped; once it is back, the stream is checked (and
//! created if it is missing and `create_stream` is on), then each item
//! resumes after its last position, unless the stream lost messages the
//! item had not delivered (the rule is in `continuity.rs`): then the item
//! is resynchronised (its snapshot cleared, the fresh one sent as
//! updates). A stream made anew (another creation time) has lost every
//! item's messages.
//!
//! # History
//!
//! [`DataProvider::history`] reads an item's messages back from a stream
//! sequence on, with a consumer of its own deleted after the read
//! (`history.rs`): what a session adopted from a dead node missed.
//!
//! # Publishing
//!
//! [`Publisher::publish`] writes the event's JSON payload to the item's
//! subject and waits for JetStream's acknowledgement, whose sequence is the
//! event's position. Retention is the stream's: when Shoal creates the
//! stream, `max_length` is its limit of messages per subject.

mod continuity;
mod control;
mod history;
mod item;
pub mod subject;

use crate::items::Items;
use crate::link::{self, Link};
use crate::presence::{Roster, Timing};
use crate::settings::{FeedSettings, NatsSettings};
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::{ConnectOptions, Event, ServerAddr};
use parking_lot::Mutex;
use shoal_adapter::{
    AdapterError, Bound, BoxFuture, DataProvider, ItemEvent, ItemEventListener, Position,
    PublishCredentials, PublishError, Publisher,
};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Longest wait for an answer of the JetStream API (and for a connection).
pub(crate) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for JetStream to acknowledge a published message.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);
/// A publish finding no stream (not made yet) is tried again this many
/// times, this far apart, while the feed makes it.
const STREAM_WAIT_TRIES: u32 = 30;
const STREAM_WAIT_STEP: Duration = Duration::from_millis(100);

/// Why a NATS feed cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("url {url}: {source}")]
    Url { url: String, source: std::io::Error },
    #[error("subject_prefix \"{0}\" is not a NATS subject: {rules}", rules = subject::SUBJECT_RULES)]
    Prefix(String),
    #[error(
        "stream \"{0}\" is not a JetStream stream name: no whitespace, '.', '*', '>', '/' or '\\'"
    )]
    Stream(String),
    #[error("credentials_file {path}: {source}")]
    Credentials {
        path: String,
        source: std::io::Error,
    },
    #[error("tls_ca_file {path}: {source}")]
    CaFile {
        path: String,
        source: std::io::Error,
    },
}

/// A NATS JetStream data adapter.
pub struct NatsFeed {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for NatsFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsFeed")
            .field("name", &self.shared.settings.name)
            .field("stream", &self.shared.nats.stream)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Shared {
    pub settings: FeedSettings,
    pub nats: NatsSettings,
    /// The servers of `url`, parsed.
    pub servers: Vec<ServerAddr>,
    /// The contents of `credentials_file`, read at start.
    pub credentials: Option<String>,
    pub items: Mutex<Items>,
    pub listener: OnceLock<Arc<dyn ItemEventListener>>,
    /// Held while events go to the engine, by live reads and by snapshot
    /// hand-overs: an item's snapshot and its live events never interleave.
    pub deliver: Mutex<()>,
    /// Wakes the control task: snapshots to read, consumers to open or
    /// close, lingers to sweep, a connection made or lost.
    pub work: Notify,
    /// Whether the client is connected (from the client's events).
    pub connected: AtomicBool,
    /// Bumped by every connection made: consumers of an older one are
    /// replaced.
    pub epoch: AtomicU64,
    /// Whether NATS answers, logged once per outage.
    pub link: Link,
    /// Why the stream cannot be used (missing, `create_stream` off), for
    /// readiness; logged when it is set.
    pub stream_problem: Mutex<Option<String>>,
    /// The JetStream context, once the client is made.
    pub js: Mutex<Option<async_nats::jetstream::Context>>,
    /// Items whose bad payload was logged (once per item).
    pub warned: Mutex<HashSet<Arc<str>>>,
    /// The adapter was dropped: its tasks end.
    pub closed: AtomicBool,
}

impl Shared {
    /// The subject of `item`.
    pub fn subject(&self, item: &str) -> String {
        format!("{}.{item}", self.settings.prefix)
    }

    pub fn listener(&self) -> Option<&Arc<dyn ItemEventListener>> {
        self.listener.get()
    }

    /// What the client says about its connection.
    fn on_event(&self, event: Event) {
        let name = &self.settings.name;
        match event {
            Event::Connected => {
                self.connected.store(true, Ordering::SeqCst);
                self.epoch.fetch_add(1, Ordering::SeqCst);
            }
            Event::Disconnected | Event::Closed => {
                self.connected.store(false, Ordering::SeqCst);
                self.link.mark_down("connection", &event);
            }
            Event::ClientError(e) => {
                // A failed connection attempt, among others: an outage
                // while not connected, logged once.
                if !self.connected.load(Ordering::SeqCst) {
                    self.link.mark_down("connecting", &e);
                } else {
                    tracing::warn!(adapter = %name, "NATS client error: {e}");
                }
            }
            Event::ServerError(e) => {
                tracing::warn!(adapter = %name, "NATS server error: {e}");
            }
            Event::SlowConsumer(sid) => {
                tracing::warn!(adapter = %name, "NATS: slow consumer on subscription {sid}: messages were dropped, consumers will be replaced");
            }
            Event::LameDuckMode | Event::Draining => {
                tracing::info!(adapter = %name, "NATS server: {event}");
            }
        }
        self.work.notify_one();
    }

    /// The client's options ([`client_options`]) with events reported to
    /// `shared`.
    pub fn connect_options(shared: &Arc<Self>) -> ConnectOptions {
        let s = &**shared;
        let weak: Weak<Shared> = Arc::downgrade(shared);
        client_options(&s.settings, &s.nats, s.credentials.as_deref())
            .name(format!("shoal {}", s.settings.name))
            .event_callback(move |event| {
                let weak = weak.clone();
                async move {
                    if let Some(s) = weak.upgrade() {
                        s.on_event(event);
                    }
                }
            })
    }
}

/// What connecting to a feed's NATS takes, checked before any task starts:
/// the servers of `url`, and the `.creds` file's text. Shared by the feed
/// and the session handoff store ([`crate::handoff::nats`]).
pub(crate) struct Access {
    pub servers: Vec<ServerAddr>,
    pub credentials: Option<String>,
}

impl Access {
    /// Parses `url`, reads `credentials_file` and checks that
    /// `tls_ca_file` is there.
    pub fn read(settings: &FeedSettings, nats: &NatsSettings) -> Result<Self, StartError> {
        let servers = settings
            .url
            .split(',')
            .map(|u| u.trim().parse::<ServerAddr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| StartError::Url {
                url: link::redacted(&settings.url),
                source,
            })?;
        let credentials = match &nats.credentials_file {
            Some(path) => {
                let err = |source| StartError::Credentials {
                    path: path.display().to_string(),
                    source,
                };
                let text = std::fs::read_to_string(path).map_err(err)?;
                ConnectOptions::new().credentials(&text).map_err(err)?;
                Some(text)
            }
            None => None,
        };
        if let Some(path) = &settings.tls_ca_file {
            std::fs::metadata(path).map_err(|source| StartError::CaFile {
                path: path.display().to_string(),
                source,
            })?;
        }
        Ok(Self {
            servers,
            credentials,
        })
    }
}

/// The client's options for a feed's NATS: the settings' credentials
/// (`credentials`: the `.creds` text [`Access::read`] checked) and TLS, our
/// timeouts and reconnection delays. The first connection is made in the
/// background: an unreachable server is retried, not fatal.
pub(crate) fn client_options(
    settings: &FeedSettings,
    nats: &NatsSettings,
    credentials: Option<&str>,
) -> ConnectOptions {
    let mut options = match credentials {
        // Checked by `Access::read`: a second parse of the same text
        // cannot fail.
        Some(c) => ConnectOptions::new()
            .credentials(c)
            .unwrap_or_else(|_| ConnectOptions::new()),
        None => ConnectOptions::new(),
    };
    if let (Some(u), Some(p)) = (&settings.username, &settings.password) {
        options = options.user_and_password(u.clone(), p.clone());
    }
    if let Some(t) = &nats.token {
        options = options.token(t.clone());
    }
    if let Some(ca) = &settings.tls_ca_file {
        options = options.add_root_certificates(ca.clone());
    }
    options
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(RESPONSE_TIMEOUT)
        .request_timeout(Some(RESPONSE_TIMEOUT))
        .reconnect_delay_callback(link::backoff_for_attempt)
}

impl NatsFeed {
    /// The settings the feed was started with.
    pub fn settings(&self) -> (&FeedSettings, &NatsSettings) {
        (&self.shared.settings, &self.shared.nats)
    }

    /// Starts the feed's tasks on the current Tokio runtime. Connecting is
    /// left to them: an unreachable server is retried, not fatal.
    pub fn start(settings: FeedSettings, nats: NatsSettings) -> Result<Arc<Self>, StartError> {
        let Access {
            servers,
            credentials,
        } = Access::read(&settings, &nats)?;
        if !subject::is_valid(&settings.prefix) {
            return Err(StartError::Prefix(settings.prefix));
        }
        if !subject::is_valid_stream_name(&nats.stream) {
            return Err(StartError::Stream(nats.stream));
        }
        let link = Link::new(&settings.name, "NATS", &settings.url);
        let shared = Arc::new(Shared {
            settings,
            nats,
            servers,
            credentials,
            items: Mutex::new(Items::new()),
            listener: OnceLock::new(),
            deliver: Mutex::new(()),
            work: Notify::new(),
            connected: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            link,
            stream_problem: Mutex::new(None),
            js: Mutex::new(None),
            warned: Mutex::new(HashSet::new()),
            closed: AtomicBool::new(false),
        });
        tokio::spawn(control::run(shared.clone()));
        Ok(Arc::new(Self { shared }))
    }

    /// Whether NATS answers now.
    pub fn is_up(&self) -> bool {
        self.shared.link.is_up()
    }

    /// The last position read of `item` (delivered or covered by its
    /// snapshot), while it is read.
    pub fn position(&self, item: &str) -> Option<Position> {
        self.shared.items.lock().last(item)
    }

    /// Announces this node through this feed's NATS and tells `roster` the
    /// others found there, every `timing.period`, until the feed is
    /// dropped ([`crate::presence`]).
    pub fn announce<R: Roster>(&self, roster: Arc<R>, timing: Timing) {
        let feed = Arc::downgrade(&self.shared);
        tokio::spawn(crate::presence::nats::run(feed, roster, timing));
    }
}

impl Drop for NatsFeed {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Relaxed);
        self.shared.work.notify_one();
    }
}

impl DataProvider for NatsFeed {
    fn set_listener(&self, listener: Arc<dyn ItemEventListener>) {
        let _ = self.shared.listener.set(listener);
    }

    fn subscribe(&self, item: &str) -> Result<(), AdapterError> {
        if !subject::is_valid(item) {
            return Err(AdapterError::bad_group(format!(
                "item \"{item}\" cannot be a NATS subject: its name is {}",
                subject::SUBJECT_RULES
            )));
        }
        self.shared.items.lock().subscribe(item);
        self.shared.work.notify_one();
        Ok(())
    }

    fn unsubscribe(&self, item: &str) {
        self.shared
            .items
            .lock()
            .unsubscribe(item, Instant::now(), self.shared.settings.linger);
        self.shared.work.notify_one();
    }

    fn is_snapshot_available(&self, _item: &str) -> bool {
        true
    }

    fn readiness(&self) -> Result<(), String> {
        if let Some(problem) = self.shared.stream_problem.lock().clone() {
            return Err(problem);
        }
        self.shared
            .link
            .readiness(self.shared.settings.healthcheck_requires_broker)
    }

    fn publisher(&self) -> Option<&dyn Publisher> {
        self.shared.settings.publish.is_some().then_some(self as _)
    }

    /// The messages of the item's subject from `from` on, read with a
    /// consumer of their own (`history.rs`).
    fn history<'a>(
        &'a self,
        item: &'a str,
        from: Bound,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<ItemEvent>, AdapterError>> {
        Box::pin(history::read(&self.shared, item, from, limit))
    }
}

impl Publisher for NatsFeed {
    fn authorize(&self, credentials: Option<&PublishCredentials>) -> bool {
        self.shared.settings.may_publish(credentials)
    }

    fn publish<'a>(
        &'a self,
        item: &'a str,
        event: ItemEvent,
    ) -> BoxFuture<'a, Result<Position, PublishError>> {
        Box::pin(publish(&self.shared, item, event))
    }
}

/// Writes `event` to the subject of `item` and waits for JetStream's
/// acknowledgement.
async fn publish(s: &Shared, item: &str, event: ItemEvent) -> Result<Position, PublishError> {
    if !subject::is_valid(item) {
        return Err(PublishError::Refused(format!(
            "item \"{item}\" cannot be a NATS subject: its name is {}",
            subject::SUBJECT_RULES
        )));
    }
    if event.fields().next().is_none() {
        return Err(PublishError::Refused(
            "no fields: an event has at least one field".into(),
        ));
    }
    let unreachable = || {
        PublishError::Unavailable(format!(
            "NATS at {} is unreachable",
            link::redacted(&s.settings.url)
        ))
    };
    if !s.connected.load(Ordering::SeqCst) {
        return Err(unreachable());
    }
    let Some(js) = s.js.lock().clone() else {
        return Err(unreachable());
    };
    let subject = s.subject(item);
    let payload = crate::entry::json_payload(&event);
    let stream = &s.nats.stream;
    let refused = |e: async_nats::jetstream::context::PublishError| {
        match e.kind() {
        PublishErrorKind::StreamNotFound => PublishError::Unavailable(format!(
            "no JetStream stream stores subject {subject} (is stream {stream} there, with subjects {}.>?)",
            s.settings.prefix
        )),
        PublishErrorKind::MaxPayloadExceeded => {
            PublishError::Refused(format!("the event is larger than NATS accepts: {e}"))
        }
        _ => PublishError::Unavailable(format!("NATS: {e}")),
    }
    };
    let attempt = |payload: Vec<u8>| {
        let js = js.clone();
        let subject = subject.clone();
        async move { js.publish(subject, payload.into()).await?.await }
    };
    let acked = tokio::time::timeout(PUBLISH_TIMEOUT, async {
        // Right after the node starts (or after the stream was deleted),
        // the stream may not be made yet: with create_stream, wait for the
        // control task to make it rather than refuse the first publishes.
        let mut tries = 0;
        loop {
            match attempt(payload.clone()).await {
                Err(e)
                    if e.kind() == PublishErrorKind::StreamNotFound
                        && s.nats.create_stream
                        && tries < STREAM_WAIT_TRIES =>
                {
                    tries += 1;
                    s.work.notify_one();
                    tokio::time::sleep(STREAM_WAIT_STEP).await;
                }
                other => return other.map_err(refused),
            }
        }
    })
    .await;
    let ack = match acked {
        Ok(Ok(ack)) => ack,
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            return Err(PublishError::Unavailable(format!(
                "JetStream did not acknowledge within {PUBLISH_TIMEOUT:?}"
            )))
        }
    };
    if ack.stream != *stream {
        return Err(PublishError::Unavailable(format!(
            "subject {subject} is stored by the stream {}, not {stream}: the event went there",
            ack.stream
        )));
    }
    Ok(Position::JetStream(ack.sequence))
}
