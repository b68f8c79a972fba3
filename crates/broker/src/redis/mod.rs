//! The `shoal.redis` data adapter: item `X` is the Redis stream
//! `<prefix>X`.
//!
//! Two connections per node and adapter: the *reader* blocks in one XREAD
//! over the streams of every item read live, from each item's last
//! position; the *control* connection reads snapshots (XREVRANGE), checks
//! streams after an outage (XINFO STREAM), publishes (XADD) and restarts
//! the reader's XREAD (CLIENT UNBLOCK) when the set of items changes.
//! What is read and delivered is decided by [`Items`].

mod control;
mod history;
mod reader;
pub mod reply;

use crate::entry::Names;
use crate::items::Items;
use crate::link::Link;
use crate::presence::{Roster, Timing};
use crate::settings::FeedSettings;
use parking_lot::Mutex;
use shoal_adapter::{
    AdapterError, Bound, BoxFuture, DataProvider, ItemEvent, ItemEventListener, Position,
    PublishCredentials, PublishError, Publisher,
};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Longest an XREAD blocks before it is issued again.
const BLOCK: Duration = Duration::from_secs(2);
/// Entries one XREAD returns at most per stream.
const READ_COUNT: usize = 2000;
/// Longest wait for the control connection's answers.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) use crate::link::backoff;
use crate::link::redacted;

/// Why a Redis feed cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("url {url}: {source}")]
    Url {
        url: String,
        source: redis::RedisError,
    },
    #[error("tls_ca_file {path}: {source}")]
    CaFile {
        path: String,
        source: std::io::Error,
    },
}

/// A Redis Streams data adapter.
pub struct RedisFeed {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub settings: FeedSettings,
    pub client: redis::Client,
    pub items: Mutex<Items>,
    pub listener: OnceLock<Arc<dyn ItemEventListener>>,
    /// Held while events go to the engine, by the reader and by snapshot
    /// deliveries: an item's snapshot and its live events never interleave.
    pub deliver: Mutex<Names>,
    /// Wakes the control task: snapshots to read, lingers to sweep.
    pub work: Notify,
    /// Wakes a reader that has no item to read.
    pub changed: Notify,
    /// CLIENT ID of the reader's connection (-1: none).
    pub reader_id: AtomicI64,
    /// The version of the item set the reader's current XREAD covers.
    pub reader_version: AtomicU64,
    /// Whether Redis answers, logged once per outage.
    pub link: Link,
    /// The adapter was dropped: its tasks end.
    pub closed: AtomicBool,
    /// The control connection, once made.
    pub control: Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl Shared {
    pub fn stream_key(&self, item: &str) -> String {
        format!("{}{item}", self.settings.prefix)
    }

    /// The broker answered: logged when it had not.
    pub fn mark_up(&self) {
        self.link.mark_up();
    }

    /// The broker did not answer: logged once per outage. The control
    /// connection is dropped too (it is made again once the broker
    /// answers: a connection to a restarted broker does not recover).
    pub fn mark_down(&self, what: &str, e: &redis::RedisError) {
        *self.control.lock() = None;
        self.link.mark_down(what, e);
    }

    pub fn listener(&self) -> Option<&Arc<dyn ItemEventListener>> {
        self.listener.get()
    }
}

/// A client for the Redis of `settings`: its URL, with the username,
/// password and extra CA certificates the settings add. Connecting is
/// left to the caller. Shared by the feed and by what else keeps records
/// in the feed's Redis (the session handoff store).
pub(crate) fn client(settings: &FeedSettings) -> Result<redis::Client, StartError> {
    let mut info = redis::IntoConnectionInfo::into_connection_info(settings.url.as_str()).map_err(
        |source| StartError::Url {
            url: redacted(&settings.url),
            source,
        },
    )?;
    let mut rs = info.redis_settings().clone();
    if let Some(u) = &settings.username {
        rs = rs.set_username(u);
    }
    if let Some(p) = &settings.password {
        rs = rs.set_password(p);
    }
    info = info.set_redis_settings(rs);
    match &settings.tls_ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|source| StartError::CaFile {
                path: path.display().to_string(),
                source,
            })?;
            let certs = redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(pem),
            };
            redis::Client::build_with_tls(info, certs)
        }
        None => redis::Client::open(info),
    }
    .map_err(|source| StartError::Url {
        url: redacted(&settings.url),
        source,
    })
}

impl RedisFeed {
    /// Starts the feed's tasks on the current Tokio runtime. Connecting is
    /// left to them: an unreachable broker is retried, not fatal.
    pub fn start(settings: FeedSettings) -> Result<Arc<Self>, StartError> {
        let client = client(&settings)?;
        let link = Link::new(&settings.name, "Redis", &settings.url);
        let shared = Arc::new(Shared {
            settings,
            client,
            items: Mutex::new(Items::new()),
            listener: OnceLock::new(),
            deliver: Mutex::new(Names::default()),
            work: Notify::new(),
            changed: Notify::new(),
            reader_id: AtomicI64::new(-1),
            reader_version: AtomicU64::new(0),
            link,
            control: Mutex::new(None),
            closed: AtomicBool::new(false),
        });
        tokio::spawn(reader::run(shared.clone()));
        tokio::spawn(control::run(shared.clone()));
        Ok(Arc::new(Self { shared }))
    }

    /// Whether the broker answers now.
    /// The settings the feed was started with.
    pub fn settings(&self) -> &FeedSettings {
        &self.shared.settings
    }

    pub fn is_up(&self) -> bool {
        self.shared.link.is_up()
    }

    /// The last position read of `item` (delivered or covered by its
    /// snapshot), while it is read.
    pub fn position(&self, item: &str) -> Option<Position> {
        self.shared.items.lock().last(item)
    }

    /// Announces this node through this feed's Redis and tells `roster`
    /// the others found there, every `timing.period`, until the feed is
    /// dropped ([`crate::presence`]).
    pub fn announce<R: Roster>(&self, roster: Arc<R>, timing: Timing) {
        let feed = Arc::downgrade(&self.shared);
        tokio::spawn(crate::presence::redis::run(feed, roster, timing));
    }
}

impl Drop for RedisFeed {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Relaxed);
        self.shared.work.notify_one();
        self.shared.changed.notify_one();
    }
}

impl DataProvider for RedisFeed {
    fn set_listener(&self, listener: Arc<dyn ItemEventListener>) {
        let _ = self.shared.listener.set(listener);
    }

    fn subscribe(&self, item: &str) -> Result<(), AdapterError> {
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
        self.shared
            .link
            .readiness(self.shared.settings.healthcheck_requires_broker)
    }

    fn publisher(&self) -> Option<&dyn Publisher> {
        self.shared.settings.publish.is_some().then_some(self as _)
    }

    fn history<'a>(
        &'a self,
        item: &'a str,
        from: Bound,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<ItemEvent>, AdapterError>> {
        Box::pin(history::read(&self.shared, item, from, limit))
    }
}

impl Publisher for RedisFeed {
    fn authorize(&self, credentials: Option<&PublishCredentials>) -> bool {
        self.shared.settings.may_publish(credentials)
    }

    fn publish<'a>(
        &'a self,
        item: &'a str,
        event: ItemEvent,
    ) -> BoxFuture<'a, Result<Position, PublishError>> {
        Box::pin(control::publish(&self.shared, item, event))
    }
}

/// Whether Redis refused a command for what it is (a key of another type,
/// a bad argument), not for its own state (loading, read-only, down).
pub(crate) fn refusal(e: &redis::RedisError) -> bool {
    use redis::ServerErrorKind as K;
    match e.kind() {
        redis::ErrorKind::Server(k) => !matches!(
            k,
            K::BusyLoading | K::TryAgain | K::MasterDown | K::ClusterDown | K::ReadOnly
        ),
        // A server error with a code the client library does not name
        // (WRONGTYPE, say).
        redis::ErrorKind::Extension => true,
        _ => false,
    }
}

/// The keys matching `pattern` that `keep` accepts, each once, listed by
/// `SCAN` steps of `count` until the cursor is back to 0 or `most` are
/// found (then exactly `most`). Keys as bytes: one that is not UTF-8 must
/// not fail the listing.
pub(crate) async fn scan_keys(
    conn: &mut redis::aio::MultiplexedConnection,
    pattern: &str,
    count: usize,
    most: usize,
    mut keep: impl FnMut(&[u8]) -> bool,
) -> redis::RedisResult<Vec<Vec<u8>>> {
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(count)
            .query_async(conn)
            .await?;
        for k in batch {
            // SCAN may list a key twice.
            if keep(&k) && !keys.contains(&k) {
                keys.push(k);
            }
        }
        if next == 0 || keys.len() >= most {
            keys.truncate(most);
            return Ok(keys);
        }
        cursor = next;
    }
}
