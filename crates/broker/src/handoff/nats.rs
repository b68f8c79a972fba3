//! The session handoff store in NATS JetStream key-value buckets.
//!
//! Three buckets, named after the feed's stream as the presence bucket is
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
//!   [`ANNOUNCE_EVERY`] and living [`ALIVE_TTL`];
//! - `<stream>_addr`: the same key and value, put in the same round, but
//!   living [`ADDRESSES_TTL`]: a node's address record. A node whose
//!   liveness key expired can still be probed there, so that one cut off
//!   NATS but still serving its clients is not taken for dead
//!   ([`alive::judge`]). Leaving deletes both keys. A node deletes the
//!   address records of its own dead incarnations (the keys of the bucket
//!   whose owner id has its node name), whose liveness keys are gone, so
//!   that one killed and restarted at once on the same addresses is not
//!   taken for alive ([`alive`]: node names must be unique to a node).
//!
//! A key-value bucket has no scripts: a change that depends on the value
//! (append if the owner is this node, claim if the owner is still `from`)
//! reads the value and its revision, then writes the new value *expecting
//! that revision*. JetStream refuses the write if anyone wrote the key in
//! between; the change is then tried again on the new value, a few times.
//! Of two nodes claiming one session, the second write is refused, and
//! its retry finds the first node the owner: exactly one wins.

use super::alive;
use crate::nats::{self as feed, StartError as SettingsError, RESPONSE_TIMEOUT};
use crate::presence::nats::bucket_stream;
use crate::presence::{kv_bucket, kv_key};
use crate::settings::{FeedSettings, NatsSettings};
use async_nats::jetstream::kv::{self, Operation, UpdateError, UpdateErrorKind};
use async_nats::jetstream::{self, Context};
use bytes::Bytes;
use futures_util::future::try_join_all;
use futures_util::StreamExt;
use parking_lot::Mutex;
use serde_json::{json, Value};
use shoal_adapter::BoxFuture;
use shoal_handoff::{Loaded, Store, StoreError, Write};
use std::fmt::Display;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How long a session's records live unless written, touched or claimed.
pub const SESSION_TTL: Duration = Duration::from_secs(10 * 60);
/// How often a node puts its liveness key.
pub const ANNOUNCE_EVERY: Duration = Duration::from_secs(1);
/// How long a liveness key lives: three missed announcements.
pub const ALIVE_TTL: Duration = Duration::from_secs(3);
/// How long an address record lives unless put again.
pub const ADDRESSES_TTL: Duration = Duration::from_secs(10 * 60);
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
    /// The task deleting the address records of this node's dead
    /// incarnations; stopped by [`Store::leave`] and on drop.
    forgetter: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for NatsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsStore")
            .field("node", &self.node)
            .field("sessions", &self.kv.sessions.name)
            .finish_non_exhaustive()
    }
}

/// The store's three buckets and the client that reaches them.
struct Buckets {
    js: Context,
    sessions: Bucket,
    alive: Bucket,
    addresses: Bucket,
}

impl Buckets {
    async fn sessions(&self) -> Result<kv::Store, StoreError> {
        self.sessions.get(&self.js).await
    }

    async fn alive(&self) -> Result<kv::Store, StoreError> {
        self.alive.get(&self.js).await
    }

    async fn addresses(&self) -> Result<kv::Store, StoreError> {
        self.addresses.get(&self.js).await
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
            addresses: Bucket::new(
                format!("{base}_addr"),
                ADDRESSES_TTL,
                "addresses of nodes, outliving their liveness",
            ),
        });
        let doc = Bytes::from(alive::announcement(&addresses));
        let link = crate::link::Link::new(&settings.name, "NATS", &settings.url).telling(
            "this node's sessions may be adopted by others",
            "announcing this node for session handoff",
        );
        let announcer = tokio::spawn(announce(kv.clone(), kv_key(&node), doc, link));
        let forgetter = tokio::spawn(forget_dead_incarnations(kv.clone(), node.clone()));
        Ok(Arc::new(Self {
            node,
            kv,
            announcer: Mutex::new(Some(announcer)),
            forgetter: Mutex::new(Some(forgetter)),
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
        let key = kv_key(owner);
        let live = self
            .kv
            .alive
            .check(value_of(self.kv.alive().await, &key, owner, "liveness").await)?;
        if let Some(value) = live {
            return Ok(alive::judge(owner, &self.kv.alive.name, alive::Held::Live(&value)).await);
        }
        // Expired (maybe a partition: the node may still serve) or
        // removed as the node left: its address record tells.
        let record = self
            .kv
            .addresses
            .check(value_of(self.kv.addresses().await, &key, owner, "address record").await)?;
        let held = match &record {
            Some(value) => alive::Held::Record(value),
            None => alive::Held::Nothing,
        };
        Ok(alive::judge(owner, &self.kv.addresses.name, held).await)
    }

    /// The age of `owner`'s address record: from the time the server put
    /// it to this node's clock (node clocks are to be kept close to the
    /// server's, by NTP: a skew of seconds shifts the trust limit by as
    /// much).
    async fn silence_of(&self, owner: &str) -> Result<Option<Duration>, StoreError> {
        let key = kv_key(owner);
        let entry = self.kv.addresses.check(match self.kv.addresses().await {
            Ok(kv) => kv
                .entry(&key)
                .await
                .map_err(|e| broker(format!("reading the address record of {owner}"), e)),
            Err(e) => Err(e),
        })?;
        Ok(entry.filter(|e| e.operation == Operation::Put).map(|e| {
            let put = std::time::SystemTime::from(e.created);
            std::time::SystemTime::now()
                .duration_since(put)
                .unwrap_or(Duration::ZERO)
        }))
    }

    async fn leave_now(&self) -> Result<(), StoreError> {
        // The announcing stops first, so no put of it lands after the
        // delete (awaiting an aborted task waits until it is gone).
        if let Some(task) = self.forgetter.lock().take() {
            task.abort();
        }
        let announcer = self.announcer.lock().take();
        if let Some(task) = announcer {
            task.abort();
            let _ = task.await;
        }
        let key = kv_key(&self.node);
        let live = async {
            let kv = self.kv.alive().await?;
            kv.delete(&key)
                .await
                .map_err(|e| broker("removing this node's liveness key", e))
        };
        let record = async {
            let kv = self.kv.addresses().await?;
            kv.delete(&key)
                .await
                .map_err(|e| broker("removing this node's address record", e))
        };
        let (live, record) = tokio::join!(live, record);
        self.kv.alive.check(live)?;
        self.kv.addresses.check(record)
    }
}

impl Drop for NatsStore {
    fn drop(&mut self) {
        if let Some(task) = self.announcer.lock().take() {
            task.abort();
        }
        if let Some(task) = self.forgetter.lock().take() {
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
        Box::pin(self.alive_one(owner))
    }

    fn silence<'a>(
        &'a self,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<Option<Duration>, StoreError>> {
        Box::pin(self.silence_of(owner))
    }

    fn leave(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.leave_now())
    }
}

/// The value under `key` in the bucket `kv` (`None`: never put, expired,
/// or deleted), for `alive` of `owner`.
async fn value_of(
    kv: Result<kv::Store, StoreError>,
    key: &str,
    owner: &str,
    what: &str,
) -> Result<Option<Bytes>, StoreError> {
    let entry = kv?
        .entry(key)
        .await
        .map_err(|e| broker(format!("reading the {what} of {owner}"), e))?;
    Ok(entry
        .filter(|e| e.operation == Operation::Put)
        .map(|e| e.value))
}

/// Puts this node's liveness key and address record every
/// [`ANNOUNCE_EVERY`], until aborted: both in one round, at once. A failed
/// round is logged once per outage; the next one tries again.
async fn announce(kv: Arc<Buckets>, key: String, doc: Bytes, link: crate::link::Link) {
    let mut tick = tokio::time::interval(ANNOUNCE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (live, record) = tokio::join!(
            put(&kv.js, &kv.alive, &key, doc.clone()),
            put(&kv.js, &kv.addresses, &key, doc.clone()),
        );
        match (live, record) {
            (Ok(()), Ok(())) => link.mark_up(),
            (Err(e), _) => link.mark_down(&format!("bucket {}", kv.alive.name), &e),
            (_, Err(e)) => link.mark_down(&format!("bucket {}", kv.addresses.name), &e),
        }
    }
}

/// Deletes the address records of the dead incarnations of `node` (see
/// [`alive`]): at start, then every [`alive::FORGET_EVERY`] until no
/// record of another incarnation is left, each look within
/// [`alive::FORGET_WITHIN`].
async fn forget_dead_incarnations(kv: Arc<Buckets>, node: String) {
    let mut tick = tokio::time::interval(alive::FORGET_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if alive::looked(&node, forget_dead(&kv, &node)).await {
            return;
        }
    }
}

/// One look: the address records of the other incarnations of `node`'s
/// name, each deleted if its liveness key is gone, expecting the revision
/// read (a record put again meanwhile is kept). Answers how many are left.
async fn forget_dead(kv: &Buckets, node: &str) -> Result<usize, StoreError> {
    let records = kv.addresses.check(kv.addresses().await)?;
    let live = kv.alive.check(kv.alive().await)?;
    let what = "looking for dead incarnations of this node";
    let mut listed = records.keys().await.map_err(|e| broker(what, e))?;
    let mut keys = Vec::new();
    while let Some(key) = listed.next().await {
        let key = key.map_err(|e| broker(what, e))?;
        if let Some(owner) = kv_owner(&key).filter(|o| alive::other_incarnation(node, o)) {
            keys.push((key, owner));
        }
    }
    let mut left = 0;
    for (key, owner) in keys {
        let Some(record) = records
            .entry(key.as_str())
            .await
            .map_err(|e| broker(what, e))?
            .filter(|e| e.operation == Operation::Put)
        else {
            continue;
        };
        let announced = live
            .entry(key.as_str())
            .await
            .map_err(|e| broker(what, e))?
            .is_some_and(|e| e.operation == Operation::Put);
        if announced {
            left += 1;
            continue;
        }
        match records
            .delete_expect_revision(key.as_str(), Some(record.revision))
            .await
        {
            Ok(()) => alive::forgotten(&owner, &kv.addresses.name),
            // Put again since it was read: it announces itself.
            Err(e) if is_conflict(&e) => left += 1,
            Err(e) => return Err(broker(what, e)),
        }
    }
    Ok(left)
}

/// The owner id whose key is `key` (the inverse of [`kv_key`]), if it is
/// one.
fn kv_owner(key: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(key.len());
    let mut rest = key.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'=' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

/// One announcement: `doc` put under `key` in `bucket`, within
/// [`ANNOUNCE_EVERY`].
async fn put(js: &Context, bucket: &Bucket, key: &str, doc: Bytes) -> Result<(), StoreError> {
    let what = || format!("announcing this node in bucket {}", bucket.name);
    let round = async {
        let kv = bucket.get(js).await?;
        kv.put(key, doc).await.map_err(|e| broker(what(), e))
    };
    let done = match tokio::time::timeout(ANNOUNCE_EVERY, round).await {
        Ok(done) => done.map(drop),
        Err(_) => Err(broker(what(), "no answer in time")),
    };
    bucket.check(done)
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn keys_give_their_owner_ids_back() {
        for owner in ["n/1", "a.b c/ff", "é/0", "x_y-z/2"] {
            assert_eq!(kv_owner(&kv_key(owner)).as_deref(), Some(owner));
        }
        assert_eq!(kv_owner("="), None);
        assert_eq!(kv_owner("n=2"), None);
        assert_eq!(kv_owner("n=ZZ"), None);
    }
}
