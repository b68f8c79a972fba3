//! Cluster presence: nodes that share a broker find each other through it.
//!
//! Every [`Timing::period`] a node writes its own announcement (a JSON
//! document, its monitor's status) under a key that names it, with an
//! expiry of [`Timing::expiry`]; then it reads the others' announcements.
//! A node that stops (killed, cut off) stops renewing its key, and the
//! broker forgets it once the expiry passes: the others no longer read it.
//!
//! - Redis: the string key `<prefix>node:<name>`, written with
//!   `SET … PX <expiry>`, found with `SCAN … MATCH <prefix>node:*` and read
//!   with `MGET` ([`redis`]).
//! - NATS: the key `<name>` (escaped, see [`kv_key`]) of the JetStream
//!   key-value bucket `<stream>_nodes`, whose entries expire after the
//!   expiry (`max_age`), made if missing ([`nats`]).
//!
//! What is decided here is sans-IO: the keys' names, which announcements
//! are kept ([`Sieve`]), and what the cluster view is told while the broker
//! does not answer ([`Recall`]). The I/O loops only move bytes.

pub mod nats;
pub(crate) mod redis;

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// At most this many other nodes are read per round.
pub const MAX_NODES: usize = 64;
/// An announcement larger than this is ignored.
pub const MAX_ANNOUNCEMENT: usize = 64 * 1024;
/// A bad announcement of one key is logged at most this often.
pub const WARN_EVERY: Duration = Duration::from_secs(60);

/// How often a node announces itself, and how long an announcement lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub period: Duration,
    pub expiry: Duration,
}

impl Default for Timing {
    /// Every 2 s, living 10 s: a node is missed after five lost rounds.
    fn default() -> Self {
        Self {
            period: Duration::from_secs(2),
            expiry: Duration::from_secs(10),
        }
    }
}

/// What a node announces, and where the others' announcements go: the
/// monitor's side of presence, implemented by the server's wiring.
pub trait Roster: Send + Sync + 'static {
    /// A node's announcement, decoded.
    type Doc: Clone + Send + 'static;

    /// This node's name and its announcement now; `None` while it has
    /// none yet (nothing is written or read then).
    fn announcement(&self) -> Option<(String, Vec<u8>)>;

    /// Decodes one announcement, or says why it is not one.
    fn decode(&self, bytes: &[u8]) -> Result<Self::Doc, String>;

    /// The other nodes' announcements, read this round.
    fn found(&self, docs: &[Self::Doc]);
}

/// The Redis key of node `name`.
pub fn redis_key(prefix: &str, name: &str) -> String {
    format!("{prefix}node:{name}")
}

/// The Redis key prefix of announcements: the feed's stream prefix, or
/// `shoal:` when it has none.
pub fn redis_prefix(stream_prefix: &str) -> &str {
    if stream_prefix.is_empty() {
        "shoal:"
    } else {
        stream_prefix
    }
}

/// The `SCAN … MATCH` pattern of every node's key: the prefix with the
/// glob's special characters escaped, then `node:*`.
pub fn redis_pattern(prefix: &str) -> String {
    let mut p = redis_glob_escape(prefix);
    p.push_str("node:*");
    p
}

/// `text` as a `SCAN … MATCH` glob that matches it alone: the glob's
/// special characters (`*`, `?`, `[`, `]`, `\\`) escaped.
pub fn redis_glob_escape(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 6);
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p
}

/// The key-value bucket of the feed whose stream is `stream`. Bucket names
/// take letters, digits, `_` and `-`; anything else becomes `_`.
pub fn kv_bucket(stream: &str) -> String {
    let safe: String = stream
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '-' => c,
            _ => '_',
        })
        .collect();
    format!("{safe}_nodes")
}

/// The key-value key of node `name`. Keys take a narrow alphabet: every
/// byte other than a letter, digit, `_` or `-` is written `=XX` (its hex
/// value), so distinct names stay distinct keys.
pub fn kv_key(name: &str) -> String {
    let mut k = String::with_capacity(name.len());
    for b in name.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' => k.push(char::from(b)),
            _ => k.push_str(&format!("={b:02X}")),
        }
    }
    if k.is_empty() {
        k.push('=');
    }
    k
}

/// Which announcements read from the broker are kept: not larger than
/// [`MAX_ANNOUNCEMENT`], and decoded. A bad one is logged, once per key per
/// [`WARN_EVERY`]; never a panic.
#[derive(Debug)]
pub struct Sieve {
    /// `<adapter set>/<data adapter>`, for logs.
    feed: String,
    warned: HashMap<String, Instant>,
}

impl Sieve {
    pub fn new(feed: &str) -> Self {
        Self {
            feed: feed.to_owned(),
            warned: HashMap::new(),
        }
    }

    /// The announcements of `read` (key, value; a key gone between listing
    /// and reading has none) that decode, at most [`MAX_NODES`].
    pub fn keep<R: Roster>(
        &mut self,
        roster: &R,
        read: Vec<(String, Option<Vec<u8>>)>,
        now: Instant,
    ) -> Vec<R::Doc> {
        let mut docs = Vec::new();
        for (key, value) in read {
            let Some(value) = value else { continue };
            if value.len() > MAX_ANNOUNCEMENT {
                let why = format!("{} bytes, more than {MAX_ANNOUNCEMENT}", value.len());
                self.warn(&key, &why, now);
                continue;
            }
            match roster.decode(&value) {
                Ok(doc) if docs.len() < MAX_NODES => docs.push(doc),
                Ok(_) => {}
                Err(why) => self.warn(&key, &why, now),
            }
        }
        self.warned
            .retain(|_, at| now.saturating_duration_since(*at) < WARN_EVERY);
        docs
    }

    fn warn(&mut self, key: &str, why: &str, now: Instant) {
        let due = self
            .warned
            .get(key)
            .is_none_or(|at| now.saturating_duration_since(*at) >= WARN_EVERY);
        if due {
            self.warned.insert(key.to_owned(), now);
            tracing::warn!(adapter = %self.feed, key, "ignoring a node's announcement in the broker: {why}");
        }
    }

    /// Whether `key`'s last warning is still muting new ones (for tests).
    pub fn is_muted(&self, key: &str, now: Instant) -> bool {
        self.warned
            .get(key)
            .is_some_and(|at| now.saturating_duration_since(*at) < WARN_EVERY)
    }
}

/// What the cluster view is told each round: what was read, or, while the
/// broker does not answer, the last reading until it would have expired
/// in the broker too (then nothing: the nodes turn stale).
#[derive(Debug)]
pub struct Recall<D> {
    last: Vec<D>,
    at: Option<Instant>,
    expiry: Duration,
}

impl<D: Clone> Recall<D> {
    pub fn new(expiry: Duration) -> Self {
        Self {
            last: Vec::new(),
            at: None,
            expiry,
        }
    }

    /// A round read `docs`.
    pub fn read(&mut self, docs: Vec<D>, now: Instant) -> &[D] {
        self.last = docs;
        self.at = Some(now);
        &self.last
    }

    /// A round could not read the broker.
    pub fn missed(&mut self, now: Instant) -> &[D] {
        let fresh = self
            .at
            .is_some_and(|at| now.saturating_duration_since(at) < self.expiry);
        if !fresh {
            self.last.clear();
        }
        &self.last
    }
}

#[cfg(test)]
mod tests;
