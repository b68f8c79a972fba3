//! Where journals are kept: the cluster's broker. The trait is implemented
//! beside the broker feeds (Redis, NATS); the engine only calls it.
//!
//! Keys a store keeps per session: the session's **owner** (the node
//! serving it, as `<node name>/<incarnation>`) and its **journal** (a list
//! of encoded [`crate::Entry`]s). Both expire unless the owner renews them
//! ([`Store::touch`]), so the records of a session nobody adopts go away.
//! Per node: a liveness key, renewed every second while the node runs and
//! expiring after a few seconds, and an address record (the addresses the
//! node serves clients on), renewed with it but living minutes, so that a
//! node cut off the broker can still be probed.

use shoal_adapter::BoxFuture;

/// Journal entries of one session to write in one go.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    pub session: String,
    /// The session is new here: its owner key is set to this node (and the
    /// journal replaced) rather than appended to.
    pub create: bool,
    /// Entries, encoded, in order.
    pub entries: Vec<Vec<u8>>,
    /// After appending, keep only the last this many entries (older
    /// checkpoints and what precedes them are no longer needed).
    pub keep: Option<usize>,
}

/// A session's records as read back.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Loaded {
    pub owner: String,
    pub entries: Vec<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The broker did not answer or refused; the message says which.
    #[error("{0}")]
    Broker(String),
}

pub trait Store: Send + Sync + 'static {
    /// This node's owner id: `<node name>/<incarnation>`, unique to the
    /// process.
    fn node(&self) -> &str;

    /// Writes journal entries of many sessions at once (one round trip
    /// when the broker allows it). `Ok` once the broker has them all, with
    /// one flag per write: `false` when this node no longer owns that
    /// session (another node adopted it), and nothing was written for it.
    fn write<'a>(&'a self, batch: &'a [Write]) -> BoxFuture<'a, Result<Vec<bool>, StoreError>>;

    /// Forgets the records of sessions that ended (those this node owns).
    fn remove<'a>(&'a self, sessions: &'a [String]) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Renews the expiry of sessions' records (those this node owns).
    fn touch<'a>(&'a self, sessions: &'a [String]) -> BoxFuture<'a, Result<(), StoreError>>;

    /// A session's owner and journal; `None` if the broker has no record of it.
    fn load<'a>(&'a self, session: &'a str) -> BoxFuture<'a, Result<Option<Loaded>, StoreError>>;

    /// Makes this node the owner of `session` if its owner is still
    /// `from`: `true` when it did. Of several nodes that try at once, one
    /// wins.
    fn claim<'a>(
        &'a self,
        session: &'a str,
        from: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Whether the node `owner` (an owner id) is alive. A node is dead when
    /// every address it announced refuses connections, or when it has
    /// neither a liveness key nor an address record (it left, or is gone
    /// for long). A node whose liveness key expired (cut off the broker,
    /// say) but whose addresses still accept connections is alive; one
    /// that cannot be told dead (a timeout) is alive.
    fn alive<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// How long ago the node `owner` last announced itself, by its address
    /// record's age in the broker; `None` when it has none (it left, or is
    /// gone for long, or was forgotten by its next incarnation). A node
    /// taking a session over trusts the journal of a node silent for at
    /// most [`crate::journal::TRUSTED_SILENCE`].
    fn silence<'a>(
        &'a self,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<Option<std::time::Duration>, StoreError>>;

    /// This node is leaving: its liveness key and address record go now,
    /// so that others may adopt its sessions at once.
    fn leave(&self) -> BoxFuture<'_, Result<(), StoreError>>;
}
