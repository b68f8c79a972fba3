//! The session handoff store in Redis: the [`Store`] of a node whose
//! cluster shares a Redis feed.
//!
//! Keys, under the prefix the feed's presence keys use
//! ([`crate::presence::redis_prefix`]):
//!
//! - `<prefix>session:<id>:owner`: the owner id of the node serving the
//!   session (a string);
//! - `<prefix>session:<id>:journal`: its journal, a list of entries;
//! - `<prefix>alive:<owner id>`: a node's liveness, renewed every second
//!   and expiring after three ([`alive`]);
//! - `<prefix>addr:<owner id>`: its address record, the same value, set by
//!   the same announcement (one pipeline) but living [`ADDRESSES_FOR`], so
//!   that a node whose liveness key expired can still be probed: one cut
//!   off Redis but still serving its clients is not taken for dead
//!   ([`alive::judge`]). Leaving deletes both keys. A node deletes the
//!   address records of its own dead incarnations (found with `SCAN …
//!   MATCH <prefix>addr:<node name>/*`), whose liveness keys are gone, so
//!   that one killed and restarted at once on the same addresses is not
//!   taken for alive ([`alive`]: node names must be unique to a node).
//!
//! Every change that depends on who owns a session (append only if mine,
//! claim only if still theirs) runs as a Lua script, which Redis runs
//! atomically: no other client's command falls between the check and the
//! change (they are in `scripts.rs`). A script is called by its SHA1 (`EVALSHA`), not
//! sent each time: a Redis that does not have it yet (or forgot it: a
//! restart, `SCRIPT FLUSH`) answers `NOSCRIPT`, is sent it once
//! (`SCRIPT LOAD`), and the calls it refused are made again. A batch of
//! writes is one pipeline: one round trip.

mod scripts;

pub use super::alive;
use crate::link::Link;
use crate::presence::{redis_glob_escape, redis_prefix};
use crate::redis::StartError;
use crate::settings::FeedSettings;
use parking_lot::Mutex;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Cmd, RedisError, RedisResult, Script};
use shoal_adapter::BoxFuture;
use shoal_handoff::{Loaded, Store, StoreError, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::task::JoinHandle;

/// How long a session's records live unless renewed.
pub const SESSION_TTL: Duration = Duration::from_secs(10 * 60);
/// How often a node renews its liveness key.
pub const ANNOUNCE_EVERY: Duration = Duration::from_secs(1);
/// How long a liveness key lives unless renewed.
pub const ALIVE_FOR: Duration = Duration::from_secs(3);
/// How long an address record lives unless renewed.
pub const ADDRESSES_FOR: Duration = Duration::from_secs(10 * 60);
/// Longest wait for a connection or an answer.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Keys `SCAN` looks at per call, looking for dead incarnations.
const SCAN_COUNT: usize = 1000;
/// Most address records of other incarnations of this node looked at in
/// one look (the next look gets the others).
const MAX_RECORDS: usize = 1000;
/// Sessions per script call of `touch` and `remove`: a call blocks Redis
/// while it runs, so a long list is cut into several (one pipeline still).
const SESSIONS_PER_CALL: usize = 256;

/// The session handoff store of a node, in the Redis of a feed.
pub struct RedisStore {
    /// This node's owner id.
    node: String,
    /// `<prefix>` of every key.
    prefix: String,
    /// This node's liveness value.
    announcement: String,
    client: redis::Client,
    /// The connection, made when first needed and again after it failed.
    conn: Mutex<Option<MultiplexedConnection>>,
    write: Script,
    claim: Script,
    own: Script,
    forget: Script,
    /// The announcing task, stopped by `leave` and on drop.
    announcer: Mutex<Option<JoinHandle<()>>>,
    /// The task deleting the address records of this node's dead
    /// incarnations, stopped by `leave` and on drop.
    forgetter: Mutex<Option<JoinHandle<()>>>,
    leaving: AtomicBool,
    /// Outages of the announcing task, logged once each.
    link: Link,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("node", &self.node)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects (lazily) to the Redis of `settings` as the feed does (URL,
    /// credentials, TLS), as node `node` (`<node name>/<incarnation>`)
    /// serving clients on `addresses`, and starts announcing this node.
    /// Must be called inside a Tokio runtime.
    pub fn start(
        settings: &FeedSettings,
        node: String,
        addresses: Vec<SocketAddr>,
    ) -> Result<Arc<Self>, StartError> {
        let client = crate::redis::client(settings)?;
        let link = Link::new(
            &format!("{} (session handoff)", settings.name),
            "Redis",
            &settings.url,
        )
        .telling(
            "this node is not announced alive: other nodes may take its sessions over",
            "announcing this node alive for session handoff",
        );
        let store = Arc::new(Self {
            node,
            prefix: redis_prefix(&settings.prefix).to_owned(),
            announcement: alive::announcement(&addresses),
            client,
            conn: Mutex::new(None),
            write: Script::new(scripts::WRITE),
            claim: Script::new(scripts::CLAIM),
            own: Script::new(scripts::OWN),
            forget: Script::new(scripts::FORGET),
            announcer: Mutex::new(None),
            forgetter: Mutex::new(None),
            leaving: AtomicBool::new(false),
            link,
        });
        let task = tokio::spawn(announce(Arc::downgrade(&store)));
        *store.announcer.lock() = Some(task);
        let task = tokio::spawn(forget_dead_incarnations(Arc::downgrade(&store)));
        *store.forgetter.lock() = Some(task);
        Ok(store)
    }

    fn owner_key(&self, session: &str) -> String {
        format!("{}session:{session}:owner", self.prefix)
    }

    fn journal_key(&self, session: &str) -> String {
        format!("{}session:{session}:journal", self.prefix)
    }

    fn alive_key(&self, owner: &str) -> String {
        format!("{}alive:{owner}", self.prefix)
    }

    fn addr_key(&self, owner: &str) -> String {
        format!("{}addr:{owner}", self.prefix)
    }

    /// The connection, made if there is none.
    async fn conn(&self) -> RedisResult<MultiplexedConnection> {
        if let Some(c) = self.conn.lock().clone() {
            return Ok(c);
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(RESPONSE_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let c = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        *self.conn.lock() = Some(c.clone());
        Ok(c)
    }

    /// The error of `op`; a failed connection is dropped (one to a
    /// restarted server does not recover), the next call makes another.
    fn failed(&self, op: &str, e: RedisError) -> StoreError {
        if !matches!(
            e.kind(),
            redis::ErrorKind::Server(_) | redis::ErrorKind::Extension
        ) {
            *self.conn.lock() = None;
        }
        StoreError::Broker(format!("Redis, {op}: {e}"))
    }

    /// Runs script calls in one pipeline and answers their integer
    /// replies, in order. Calls refused with `NOSCRIPT` did not run: their
    /// scripts are loaded and they are sent again, once.
    async fn eval(&self, op: &str, calls: &[(&Script, Cmd)]) -> Result<Vec<i64>, StoreError> {
        let mut conn = self.conn().await.map_err(|e| self.failed(op, e))?;
        let mut replies: Vec<Option<i64>> = vec![None; calls.len()];
        for retry in [false, true] {
            let todo: Vec<usize> = (0..calls.len()).filter(|&i| replies[i].is_none()).collect();
            if todo.is_empty() {
                break;
            }
            let mut pipe = redis::pipe();
            // One reply per call, errors included, rather than the first
            // error alone: which calls ran must be known.
            pipe.ignore_errors();
            for &i in &todo {
                pipe.add_command(calls[i].1.clone());
            }
            let answers: Vec<RedisResult<i64>> = pipe
                .query_async(&mut conn)
                .await
                .map_err(|e| self.failed(op, e))?;
            let mut to_load: Vec<&Script> = Vec::new();
            for (&i, answer) in todo.iter().zip(answers) {
                match answer {
                    Ok(n) => replies[i] = Some(n),
                    Err(e) if !retry && e.kind() == no_script() => {
                        if !to_load.iter().any(|s| std::ptr::eq(*s, calls[i].0)) {
                            to_load.push(calls[i].0);
                        }
                    }
                    Err(e) => return Err(self.failed(op, e)),
                }
            }
            for script in to_load {
                script
                    .load_async(&mut conn)
                    .await
                    .map_err(|e| self.failed(op, e))?;
            }
        }
        replies
            .into_iter()
            .map(|r| r.ok_or_else(|| StoreError::Broker(format!("Redis, {op}: no reply"))))
            .collect()
    }

    /// The call of `script` over `keys` with `args`, by its SHA1.
    fn evalsha<'s>(script: &'s Script, keys: &[String], args: &[&[u8]]) -> (&'s Script, Cmd) {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(script.get_hash()).arg(keys.len());
        for k in keys {
            cmd.arg(k);
        }
        for a in args {
            cmd.arg(*a);
        }
        (script, cmd)
    }

    /// `touch` or `remove`: the `OWN` script over `sessions`, in slices.
    async fn own(&self, sessions: &[String], what: &str) -> Result<(), StoreError> {
        let ttl = ttl_ms(SESSION_TTL);
        let args: [&[u8]; 3] = [self.node.as_bytes(), ttl.as_bytes(), what.as_bytes()];
        let calls: Vec<(&Script, Cmd)> = sessions
            .chunks(SESSIONS_PER_CALL)
            .map(|slice| {
                let keys: Vec<String> = slice
                    .iter()
                    .flat_map(|s| [self.owner_key(s), self.journal_key(s)])
                    .collect();
                Self::evalsha(&self.own, &keys, &args)
            })
            .collect();
        if calls.is_empty() {
            return Ok(());
        }
        self.eval(&format!("{what} of {} sessions", sessions.len()), &calls)
            .await
            .map(|_| ())
    }

    async fn write_batch(&self, batch: &[Write]) -> Result<Vec<bool>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let ttl = ttl_ms(SESSION_TTL);
        let calls: Vec<(&Script, Cmd)> = batch
            .iter()
            .map(|w| {
                let keys = [self.owner_key(&w.session), self.journal_key(&w.session)];
                // -1: keep every entry.
                let keep = w.keep.map_or(-1, |k| i64::try_from(k).unwrap_or(i64::MAX));
                let keep = keep.to_string();
                let create: &[u8] = if w.create { b"1" } else { b"0" };
                let mut args: Vec<&[u8]> = vec![self.node.as_bytes(), create, keep.as_bytes()];
                args.push(ttl.as_bytes());
                args.extend(w.entries.iter().map(Vec::as_slice));
                Self::evalsha(&self.write, &keys, &args)
            })
            .collect();
        let op = format!("writing the journals of {} sessions", batch.len());
        let replies = self.eval(&op, &calls).await?;
        Ok(replies.into_iter().map(|n| n == 1).collect())
    }

    async fn load_session(&self, session: &str) -> Result<Option<Loaded>, StoreError> {
        let op = format!("loading session {session}");
        let mut conn = self.conn().await.map_err(|e| self.failed(&op, e))?;
        // MULTI/EXEC: the owner and the journal as they stood together.
        let (owner, entries): (Option<Vec<u8>>, Vec<Vec<u8>>) = redis::pipe()
            .atomic()
            .get(self.owner_key(session))
            .lrange(self.journal_key(session), 0, -1)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.failed(&op, e))?;
        let Some(owner) = owner else {
            return Ok(None);
        };
        let owner = String::from_utf8(owner)
            .map_err(|_| StoreError::Broker(format!("Redis, {op}: its owner is not UTF-8")))?;
        Ok(Some(Loaded { owner, entries }))
    }

    async fn claim_session(&self, session: &str, from: &str) -> Result<bool, StoreError> {
        let keys = [self.owner_key(session), self.journal_key(session)];
        let ttl = ttl_ms(SESSION_TTL);
        let args: [&[u8]; 3] = [from.as_bytes(), self.node.as_bytes(), ttl.as_bytes()];
        let call = Self::evalsha(&self.claim, &keys, &args);
        let op = format!("claiming session {session} from {from}");
        let replies = self.eval(&op, &[call]).await?;
        Ok(replies.first() == Some(&1))
    }

    async fn is_alive(&self, owner: &str) -> Result<bool, StoreError> {
        let op = format!("reading the liveness of {owner}");
        let mut conn = self.conn().await.map_err(|e| self.failed(&op, e))?;
        // Both keys in one round trip; the address record matters only
        // when the liveness key is gone.
        let (live, record): (Option<Vec<u8>>, Option<Vec<u8>>) = redis::cmd("MGET")
            .arg(self.alive_key(owner))
            .arg(self.addr_key(owner))
            .query_async(&mut conn)
            .await
            .map_err(|e| self.failed(&op, e))?;
        let held = match (&live, &record) {
            (Some(v), _) => alive::Held::Live(v),
            (None, Some(v)) => alive::Held::Record(v),
            (None, None) => alive::Held::Nothing,
        };
        Ok(alive::judge(owner, "Redis", held).await)
    }

    /// The age of `owner`'s address record: what its expiry has run down
    /// since it was last set (Redis' clock, not this node's).
    async fn silence_of(&self, owner: &str) -> Result<Option<Duration>, StoreError> {
        let op = format!("reading the address record of {owner}");
        let mut conn = self.conn().await.map_err(|e| self.failed(&op, e))?;
        let left: i64 = redis::cmd("PTTL")
            .arg(self.addr_key(owner))
            .query_async(&mut conn)
            .await
            .map_err(|e| self.failed(&op, e))?;
        // -2: no record; -1: no expiry (not one this code sets).
        let Ok(left) = u64::try_from(left) else {
            return Ok(None);
        };
        Ok(Some(
            ADDRESSES_FOR.saturating_sub(Duration::from_millis(left)),
        ))
    }

    /// Writes this node's liveness key and address record once, in one
    /// pipeline.
    async fn announce_once(&self) -> RedisResult<()> {
        let mut conn = self.conn().await?;
        let result = redis::pipe()
            .cmd("SET")
            .arg(self.alive_key(&self.node))
            .arg(&self.announcement)
            .arg("PX")
            .arg(ttl_ms(ALIVE_FOR))
            .ignore()
            .cmd("SET")
            .arg(self.addr_key(&self.node))
            .arg(&self.announcement)
            .arg("PX")
            .arg(ttl_ms(ADDRESSES_FOR))
            .ignore()
            .exec_async(&mut conn)
            .await;
        if let Err(e) = &result {
            // Dropped only when the link failed, as `failed` does.
            let _ = self.failed("announcing", e.clone());
        }
        result
    }

    async fn leave_now(&self) -> Result<(), StoreError> {
        self.leaving.store(true, Ordering::SeqCst);
        if let Some(task) = self.forgetter.lock().take() {
            task.abort();
        }
        let task = self.announcer.lock().take();
        if let Some(task) = task {
            task.abort();
            // Once it is gone, no announcement of it can follow the DEL.
            let _ = task.await;
        }
        let op = "deleting this node's liveness key and address record";
        let mut conn = self.conn().await.map_err(|e| self.failed(op, e))?;
        redis::cmd("DEL")
            .arg(self.alive_key(&self.node))
            .arg(self.addr_key(&self.node))
            .exec_async(&mut conn)
            .await
            .map_err(|e| self.failed(op, e))
    }
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        if let Some(task) = self.announcer.lock().take() {
            task.abort();
        }
        if let Some(task) = self.forgetter.lock().take() {
            task.abort();
        }
    }
}

/// A duration in milliseconds, as `PX` and `PEXPIRE` take it.
fn ttl_ms(d: Duration) -> String {
    d.as_millis().to_string()
}

/// The kind of error of a script Redis does not have.
fn no_script() -> redis::ErrorKind {
    redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
}

/// Renews this node's liveness key and address record every
/// [`ANNOUNCE_EVERY`] until the
/// store leaves or is dropped. It holds the store weakly: only while one
/// announcement is written.
async fn announce(store: Weak<RedisStore>) {
    let mut tick = tokio::time::interval(ANNOUNCE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(s) = store.upgrade() else { return };
        if s.leaving.load(Ordering::SeqCst) {
            return;
        }
        match s.announce_once().await {
            Ok(()) => s.link.mark_up(),
            Err(e) => s.link.mark_down("SET", &e),
        }
    }
}

/// Deletes the address records of this node's dead incarnations (see
/// [`alive`]): at start, then every [`alive::FORGET_EVERY`] until no
/// record of another incarnation is left, each look within
/// [`alive::FORGET_WITHIN`]. It holds the store weakly: only while it
/// takes a connection, not while it looks.
async fn forget_dead_incarnations(store: Weak<RedisStore>) {
    let mut tick = tokio::time::interval(alive::FORGET_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (conn, prefix, node, script) = {
            let Some(s) = store.upgrade() else { return };
            if s.leaving.load(Ordering::SeqCst) {
                return;
            }
            match s.conn().await {
                Ok(conn) => (conn, s.prefix.clone(), s.node.clone(), s.forget.clone()),
                // The announcing logs the outage.
                Err(e) => {
                    tracing::debug!(node = %s.node, "not looking for dead incarnations of this node: {e}");
                    continue;
                }
            }
        };
        let look = forget_dead(conn, &prefix, &node, &script);
        if alive::looked(&node, look).await {
            return;
        }
    }
}

/// One look: the address records of the other incarnations of `node`'s
/// name, each deleted if its liveness key is gone (`script`:
/// [`scripts::FORGET`]). Answers how many are left (their liveness keys
/// are there).
async fn forget_dead(
    mut conn: MultiplexedConnection,
    prefix: &str,
    node: &str,
    script: &Script,
) -> RedisResult<usize> {
    let Some(name) = alive::node_name(node) else {
        return Ok(0);
    };
    let records = format!("{prefix}addr:");
    let pattern = format!("{}*", redis_glob_escape(&format!("{records}{name}/")));
    let keys = crate::redis::scan_keys(&mut conn, &pattern, SCAN_COUNT, MAX_RECORDS, |key| {
        std::str::from_utf8(key)
            .ok()
            .and_then(|key| key.strip_prefix(&records))
            .is_some_and(|owner| alive::other_incarnation(node, owner))
    })
    .await?;
    let owners = keys.into_iter().filter_map(|key| {
        // Checked above: UTF-8, with the records' prefix.
        String::from_utf8(key)
            .ok()
            .and_then(|key| key.strip_prefix(&records).map(str::to_owned))
    });
    let mut left = 0;
    for owner in owners {
        let done: i64 = script
            .key(format!("{prefix}alive:{owner}"))
            .key(format!("{prefix}addr:{owner}"))
            .invoke_async(&mut conn)
            .await?;
        match done {
            1 => alive::forgotten(&owner, "Redis"),
            -1 => left += 1,
            _ => {}
        }
    }
    Ok(left)
}

impl Store for RedisStore {
    fn node(&self) -> &str {
        &self.node
    }

    fn write<'a>(&'a self, batch: &'a [Write]) -> BoxFuture<'a, Result<Vec<bool>, StoreError>> {
        Box::pin(self.write_batch(batch))
    }

    fn remove<'a>(&'a self, sessions: &'a [String]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.own(sessions, "remove"))
    }

    fn touch<'a>(&'a self, sessions: &'a [String]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.own(sessions, "touch"))
    }

    fn load<'a>(&'a self, session: &'a str) -> BoxFuture<'a, Result<Option<Loaded>, StoreError>> {
        Box::pin(self.load_session(session))
    }

    fn claim<'a>(
        &'a self,
        session: &'a str,
        from: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.claim_session(session, from))
    }

    fn alive<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.is_alive(owner))
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
