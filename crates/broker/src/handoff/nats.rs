//! The session handoff store in NATS JetStream key-value buckets.
//!
//! Two buckets, named after the feed's stream as the presence bucket is
//! ([`kv_bucket`]), made when missing:
//!
//! - `<stream>_sessions`: one key per session (its id escaped by
//!   [`kv_key`]), whose value is the JSON document
//!   `{"owner": "<node>/<incarnation>", "entries": ["<entry>", ...]}`.
//!   Entries are UTF-8 JSON text, kept as JSON strings (an entry that is
//!   not UTF-8 is refused, never altered). The bucket keeps one value per
//!   key (history 1) for [`SESSION_TTL`]: writing a value again renews it.
//! - `<stream>_alive`: one key per node, its owner id, whose value is
//!   `{"addresses": ["127.0.0.1:8080", ...]}`, put every
//!   [`ANNOUNCE_EVERY`] and living [`ALIVE_TTL`].
//!
//! A key-value bucket has no scripts: a change that depends on the value
//! (append if the owner is this node, claim if the owner is still `from`)
//! reads the value and its revision, then writes the new value *expecting
//! that revision*. JetStream refuses the write if anyone wrote the key in
//! between; the change is then tried again on the new value, a few times.
//! Of two nodes claiming one session, the second write is refused, and
//! its retry finds the first node the owner: exactly one wins.

use crate::nats::{self as feed, StartError as SettingsError, RESPONSE_TIMEOUT};
use crate::presence::nats::bucket_stream;
use crate::presence::{kv_bucket, kv_key};
use crate::settings::{FeedSettings, NatsSettings};
use async_nats::jetstream::kv::{self, Operation, UpdateError, UpdateErrorKind};
use async_nats::jetstream::{self, Context};
use bytes::Bytes;
use futures_util::future::{join_all, try_join_all};
use parking_lot::Mutex;
use serde_json::{json, Value};
use shoal_adapter::BoxFuture;
use shoal_handoff::{Loaded, Store, StoreError, Write};
use std::fmt::Display;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// How long a session's records live unless written, touched or claimed.
pub const SESSION_TTL: Duration = Duration::from_secs(10 * 60);
/// How often a node puts its liveness key.
pub const ANNOUNCE_EVERY: Duration = Duration::from_secs(1);
/// How long a liveness key lives: three missed announcements.
pub const ALIVE_TTL: Duration = Duration::from_secs(3);
/// How long a node's announced address has to accept a connection.
const PROBE_TIMEOUT: Duration = Duration::from_millis(300);
/// How many times a change refused for a concurrent write is tried again.
const CAS_TRIES: usize = 8;

/// Why the store cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The feed's settings (URL, credentials, CA file) are not usable.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("NATS client not made: {0}")]
    Client(String),
}

/// The handoff store of a NATS feed. Dropping it stops the announcing.
pub struct NatsStore {
    node: String,
    kv: Arc<Buckets>,
    /// The task that announces this node; taken by [`Store::leave`].
    announcer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for NatsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsStore")
            .field("node", &self.node)
            .field("sessions", &self.kv.sessions.name)
            .finish_non_exhaustive()
    }
}

/// The store's two buckets and the client that reaches them.
struct Buckets {
    js: Context,
    sessions: Bucket,
    alive: Bucket,
}

impl Buckets {
    async fn sessions(&self) -> Result<kv::Store, StoreError> {
        self.sessions.get(&self.js).await
    }

    async fn alive(&self) -> Result<kv::Store, StoreError> {
        self.alive.get(&self.js).await
    }
}

/// A bucket, opened (or made) at its first use, and again after an error:
/// neither a server down when the node starts nor one that lost the
/// bucket stops the store for good.
struct Bucket {
    name: String,
    max_age: Duration,
    /// What it holds, for its stream's description.
    what: &'static str,
    handle: Mutex<Option<kv::Store>>,
}

impl Bucket {
    fn new(name: String, max_age: Duration, what: &'static str) -> Self {
        Self {
            name,
            max_age,
            what,
            handle: Mutex::new(None),
        }
    }

    /// The bucket's handle (a cheap copy of names and settings: every
    /// request goes through the client).
    async fn get(&self, js: &Context) -> Result<kv::Store, StoreError> {
        if let Some(kv) = self.handle.lock().clone() {
            return Ok(kv);
        }
        // Two first uses at once both open it: harmless.
        let kv = open(js, &self.name, self.max_age, self.what).await?;
        *self.handle.lock() = Some(kv.clone());
        Ok(kv)
    }

    /// `result` as it is; after an error the handle is forgotten, so that
    /// the next use opens the bucket again (and makes it, if it is gone).
    fn check<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if result.is_err() {
            *self.handle.lock() = None;
        }
        result
    }
}

/// The bucket `name`, made if missing (whichever node comes first makes
/// it; the others open it), its values living `max_age`.
async fn open(
    js: &Context,
    name: &str,
    max_age: Duration,
    what: &str,
) -> Result<kv::Store, StoreError> {
    if let Ok(store) = js.get_key_value(name).await {
        return Ok(store);
    }
    let mut config = bucket_stream(name, max_age, -1);
    config.description = Some(format!("Shoal: session handoff, {what}"));
    let made = js.create_stream(config).await;
    js.get_key_value(name).await.map_err(|e| match made {
        Err(made) => broker(format!("making bucket {name}"), made),
        Ok(_) => broker(format!("opening bucket {name}"), e),
    })
}

/// A broker error, naming the operation.
fn broker(what: impl Display, e: impl Display) -> StoreError {
    StoreError::Broker(format!("NATS session store, {what}: {e}"))
}

fn is_conflict(e: &UpdateError) -> bool {
    e.kind() == UpdateErrorKind::WrongLastRevision
}

impl NatsStore {
    /// Connects to the feed's NATS as the feed does (same URL, credentials
    /// and TLS) and starts announcing this node (`node`: its owner id) with
    /// `addresses`, where its clients reach it. Must run inside a Tokio
    /// runtime; an unreachable server is retried in the background.
    pub async fn start(
        settings: &FeedSettings,
        nats: &NatsSettings,
        node: String,
        addresses: Vec<SocketAddr>,
    ) -> Result<Arc<Self>, StartError> {
        let access = feed::Access::read(settings, nats)?;
        let client = feed::client_options(settings, nats, access.credentials.as_deref())
            .name(format!("shoal {} (session handoff)", settings.name))
            .connect(access.servers.as_slice())
            .await
            .map_err(|e| StartError::Client(e.to_string()))?;
        let mut js = jetstream::new(client);
        js.set_timeout(RESPONSE_TIMEOUT);
        // `<safe stream>_nodes` is the presence bucket: the same escaped
        // stream name, with suffixes of our own.
        let nodes = kv_bucket(&nats.stream);
        let base = nodes.strip_suffix("_nodes").unwrap_or(&nodes);
        let kv = Arc::new(Buckets {
            js,
            sessions: Bucket::new(format!("{base}_sessions"), SESSION_TTL, "session journals"),
            alive: Bucket::new(format!("{base}_alive"), ALIVE_TTL, "live nodes"),
        });
        let addresses: Vec<String> = addresses.iter().map(SocketAddr::to_string).collect();
        let doc = Bytes::from(json!({ "addresses": addresses }).to_string());
        let link = crate::link::Link::new(&settings.name, "NATS", &settings.url).telling(
            "this node's sessions may be adopted by others",
            "announcing this node for session handoff",
        );
        let announcer = tokio::spawn(announce(kv.clone(), kv_key(&node), doc, link));
        Ok(Arc::new(Self {
            node,
            kv,
            announcer: Mutex::new(Some(announcer)),
        }))
    }

    /// Writes one session's entries; `false` when this node does not own it.
    async fn write_one(&self, w: &Write) -> Result<bool, StoreError> {
        let kv = self.kv.sessions().await?;
        let key = kv_key(&w.session);
        let what = || format!("writing session {}", w.session);
        if w.create {
            // A new session: this node owns it, whatever was there.
            let value = encode(&self.node, kept(w.entries.clone(), w.keep))
                .map_err(|e| broker(what(), e))?;
            kv.put(&key, value).await.map_err(|e| broker(what(), e))?;
            return Ok(true);
        }
        for _ in 0..CAS_TRIES {
            let Some(now) = current(&kv, &key).await.map_err(|e| broker(what(), e))? else {
                return Ok(false);
            };
            if now.loaded.owner != self.node {
                return Ok(false);
            }
            let mut entries = now.loaded.entries;
            entries.extend(w.entries.iter().cloned());
            let value = encode(&self.node, kept(entries, w.keep)).map_err(|e| broker(what(), e))?;
            match kv.update(&key, value, now.revision).await {
                Ok(_) => return Ok(true),
                Err(e) if is_conflict(&e) => continue,
                Err(e) => return Err(broker(what(), e)),
            }
        }
        Err(broker(what(), "the key kept changing under us"))
    }

    /// Renews (`delete` false) or deletes the record of a session this
    /// node owns; a session owned by another node is left alone.
    async fn renew_or_delete(&self, session: &str, delete: bool) -> Result<(), StoreError> {
        let kv = self.kv.sessions().await?;
        let key = kv_key(session);
        let verb = if delete { "removing" } else { "touching" };
        let what = || format!("{verb} session {session}");
        for _ in 0..CAS_TRIES {
            let Some(now) = current(&kv, &key).await.map_err(|e| broker(what(), e))? else {
                return Ok(());
            };
            if now.loaded.owner != self.node {
                return Ok(());
            }
            // The same value written again lives SESSION_TTL from now.
            let done = if delete {
                kv.delete_expect_revision(&key, Some(now.revision)).await
            } else {
                kv.update(&key, now.value, now.revision).await.map(|_| ())
            };
            match done {
                Ok(()) => return Ok(()),
                Err(e) if is_conflict(&e) => continue,
                Err(e) => return Err(broker(what(), e)),
            }
        }
        Err(broker(what(), "the key kept changing under us"))
    }

    async fn load_one(&self, session: &str) -> Result<Option<Loaded>, StoreError> {
        let kv = self.kv.sessions().await?;
        let now = current(&kv, &kv_key(session))
            .await
            .map_err(|e| broker(format!("loading session {session}"), e))?;
        Ok(now.map(|n| n.loaded))
    }

    async fn claim_one(&self, session: &str, from: &str) -> Result<bool, StoreError> {
        let kv = self.kv.sessions().await?;
        let key = kv_key(session);
        let what = || format!("claiming session {session} from {from}");
        for _ in 0..CAS_TRIES {
            let Some(now) = current(&kv, &key).await.map_err(|e| broker(what(), e))? else {
                return Ok(false);
            };
            if now.loaded.owner != from {
                return Ok(false);
            }
            let value = encode(&self.node, now.loaded.entries).map_err(|e| broker(what(), e))?;
            match kv.update(&key, value, now.revision).await {
                Ok(_) => return Ok(true),
                // Another node wrote first: read again (it is the owner
                // now, unless that was the old owner's own write).
                Err(e) if is_conflict(&e) => continue,
                Err(e) => return Err(broker(what(), e)),
            }
        }
        Err(broker(what(), "the key kept changing under us"))
    }

    async fn alive_one(&self, owner: &str) -> Result<bool, StoreError> {
        let what = || format!("reading the liveness of {owner}");
        let kv = self.kv.alive().await?;
        let entry = kv
            .entry(kv_key(owner))
            .await
            .map_err(|e| broker(what(), e))?;
        let Some(entry) = entry.filter(|e| e.operation == Operation::Put) else {
            // Expired, or removed by the node as it left.
            return Ok(false);
        };
        let Some(addresses) = announced(&entry.value) else {
            tracing::warn!(owner, bucket = %self.kv.alive.name, "a node's liveness value is not {{\"addresses\": [...]}}: the node is taken as alive");
            return Ok(true);
        };
        let probes = join_all(addresses.iter().map(|a| probe(*a))).await;
        Ok(verdict(&probes))
    }

    async fn leave_now(&self) -> Result<(), StoreError> {
        // The announcing stops first, so no put of it lands after the
        // delete (awaiting an aborted task waits until it is gone).
        let announcer = self.announcer.lock().take();
        if let Some(task) = announcer {
            task.abort();
            let _ = task.await;
        }
        let kv = self.kv.alive().await?;
        kv.delete(kv_key(&self.node))
            .await
            .map_err(|e| broker("removing this node's liveness key", e))
    }
}

impl Drop for NatsStore {
    fn drop(&mut self) {
        if let Some(task) = self.announcer.lock().take() {
            task.abort();
        }
    }
}

impl Store for NatsStore {
    fn node(&self) -> &str {
        &self.node
    }

    fn write<'a>(&'a self, batch: &'a [Write]) -> BoxFuture<'a, Result<Vec<bool>, StoreError>> {
        // Concurrent requests: one round trip's wait for the whole batch.
        let each = batch.iter().map(|w| self.write_one(w));
        Box::pin(async move { self.kv.sessions.check(try_join_all(each).await) })
    }

    fn remove<'a>(&'a self, sessions: &'a [String]) -> BoxFuture<'a, Result<(), StoreError>> {
        let each = sessions.iter().map(|s| self.renew_or_delete(s, true));
        Box::pin(async move { self.kv.sessions.check(try_join_all(each).await.map(drop)) })
    }

    fn touch<'a>(&'a self, sessions: &'a [String]) -> BoxFuture<'a, Result<(), StoreError>> {
        let each = sessions.iter().map(|s| self.renew_or_delete(s, false));
        Box::pin(async move { self.kv.sessions.check(try_join_all(each).await.map(drop)) })
    }

    fn load<'a>(&'a self, session: &'a str) -> BoxFuture<'a, Result<Option<Loaded>, StoreError>> {
        Box::pin(async move { self.kv.sessions.check(self.load_one(session).await) })
    }

    fn claim<'a>(
        &'a self,
        session: &'a str,
        from: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move { self.kv.sessions.check(self.claim_one(session, from).await) })
    }

    fn alive<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move { self.kv.alive.check(self.alive_one(owner).await) })
    }

    fn leave(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { self.kv.alive.check(self.leave_now().await) })
    }
}

/// Puts this node's liveness key every [`ANNOUNCE_EVERY`], until aborted.
/// A failed round is logged once per outage; the next one tries again.
async fn announce(kv: Arc<Buckets>, key: String, doc: Bytes, link: crate::link::Link) {
    let mut tick = tokio::time::interval(ANNOUNCE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let round = async {
            let alive = kv.alive().await?;
            alive
                .put(&key, doc.clone())
                .await
                .map_err(|e| broker("announcing this node", e))
        };
        let done = match tokio::time::timeout(ANNOUNCE_EVERY, round).await {
            Ok(done) => done,
            Err(_) => Err(broker("announcing this node", "no answer in time")),
        };
        match kv.alive.check(done) {
            Ok(_) => link.mark_up(),
            Err(e) => link.mark_down(&format!("bucket {}", kv.alive.name), &e),
        }
    }
}

/// A session's record as the bucket holds it now.
struct Current {
    loaded: Loaded,
    /// The value as stored (written back as it is to renew it).
    value: Bytes,
    revision: u64,
}

/// The record under `key`: `None` when there is none (never written,
/// expired, or deleted: a delete leaves a marker, not a value).
async fn current(kv: &kv::Store, key: &str) -> Result<Option<Current>, String> {
    let Some(entry) = kv.entry(key).await.map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    if entry.operation != Operation::Put {
        return Ok(None);
    }
    let loaded = decode(&entry.value)?;
    Ok(Some(Current {
        loaded,
        value: entry.value,
        revision: entry.revision,
    }))
}

/// `entries` without those before the last `keep`.
fn kept(mut entries: Vec<Vec<u8>>, keep: Option<usize>) -> Vec<Vec<u8>> {
    if let Some(k) = keep {
        let extra = entries.len().saturating_sub(k);
        entries.drain(..extra);
    }
    entries
}

/// The JSON value of a session's record.
fn encode(owner: &str, entries: Vec<Vec<u8>>) -> Result<Bytes, String> {
    let entries = entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| match String::from_utf8(e) {
            Ok(text) => Ok(Value::String(text)),
            Err(_) => Err(format!("entry {i} is not UTF-8 (entries are JSON text)")),
        })
        .collect::<Result<Vec<Value>, String>>()?;
    Ok(Bytes::from(
        json!({ "owner": owner, "entries": entries }).to_string(),
    ))
}

/// A session's record from its JSON value.
fn decode(value: &[u8]) -> Result<Loaded, String> {
    let bad = || "a session record that is not {\"owner\": ..., \"entries\": [...]}".to_owned();
    let doc: Value = serde_json::from_slice(value).map_err(|e| format!("{}: {e}", bad()))?;
    let owner = doc.get("owner").and_then(Value::as_str).ok_or_else(bad)?;
    let entries = doc
        .get("entries")
        .and_then(Value::as_array)
        .ok_or_else(bad)?
        .iter()
        .map(|e| e.as_str().map(|s| s.as_bytes().to_vec()).ok_or_else(bad))
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Loaded {
        owner: owner.to_owned(),
        entries,
    })
}

/// The addresses of a liveness value, `None` if it is not one.
fn announced(value: &[u8]) -> Option<Vec<SocketAddr>> {
    let doc: Value = serde_json::from_slice(value).ok()?;
    doc.get("addresses")?
        .as_array()?
        .iter()
        .map(|a| a.as_str()?.parse().ok())
        .collect()
}

/// What connecting to an announced address told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    Accepted,
    /// Nothing listens there: the process is gone (or the port closed).
    Refused,
    /// No answer in time, or another error: cannot tell.
    Unknown,
}

async fn probe(address: SocketAddr) -> Probe {
    match tokio::time::timeout(PROBE_TIMEOUT, TcpStream::connect(address)).await {
        Ok(Ok(_)) => Probe::Accepted,
        Ok(Err(e)) if e.kind() == ErrorKind::ConnectionRefused => Probe::Refused,
        _ => Probe::Unknown,
    }
}

/// A node with a liveness key is dead only when every address it announced
/// refused: one that cannot be told dead is alive (adopting the sessions of
/// a live node would serve them twice).
fn verdict(probes: &[Probe]) -> bool {
    probes.is_empty() || !probes.iter().all(|p| *p == Probe::Refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_is_dead_only_when_every_address_refused() {
        use Probe::*;
        assert!(verdict(&[]));
        assert!(!verdict(&[Refused]));
        assert!(!verdict(&[Refused, Refused]));
        assert!(verdict(&[Refused, Accepted]));
        assert!(verdict(&[Refused, Unknown]));
        assert!(verdict(&[Unknown]));
    }

    #[test]
    fn records_round_trip_and_keep_trims_the_oldest() {
        let entries = vec![b"{\"a\":1}".to_vec(), "é\"\\".as_bytes().to_vec(), vec![]];
        let value = encode("n/1", entries.clone()).unwrap();
        let back = decode(&value).unwrap();
        assert_eq!((back.owner.as_str(), back.entries), ("n/1", entries));
        assert!(encode("n/1", vec![vec![0xc3]]).is_err());
        assert!(decode(b"{\"owner\":\"n/1\"}").is_err());
        assert!(decode(b"[]").is_err());
        let n = |v: &[u8]| v.iter().map(|b| vec![*b]).collect::<Vec<_>>();
        assert_eq!(kept(n(b"123"), Some(2)), n(b"23"));
        assert_eq!(kept(n(b"123"), Some(5)), n(b"123"));
        assert_eq!(kept(n(b"123"), Some(0)), n(b""));
        assert_eq!(kept(n(b"123"), None), n(b"123"));
    }

    #[test]
    fn liveness_values_name_socket_addresses() {
        let v = br#"{"addresses":["127.0.0.1:8080","[::1]:9"]}"#;
        let want: Vec<SocketAddr> = vec![
            "127.0.0.1:8080".parse().unwrap(),
            "[::1]:9".parse().unwrap(),
        ];
        assert_eq!(announced(v), Some(want));
        assert_eq!(announced(br#"{"addresses":[]}"#), Some(vec![]));
        assert_eq!(announced(br#"{"addresses":["nope"]}"#), None);
        assert_eq!(announced(b"{}"), None);
    }
}
