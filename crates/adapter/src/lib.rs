//! The adapter interface of Shoal, modelled on Lightstreamer's Data and
//! Metadata Adapters.
//!
//! A [`DataProvider`] feeds items; it pushes events through the
//! [`ItemEventListener`] the server hands it. A [`MetadataProvider`] decides
//! who may connect, what a group or schema name means, and what a client
//! message does. An [`AdapterSet`] bundles one metadata provider with named
//! data providers, as `LS_adapter_set` and `LS_data_adapter` address them.
//!
//! Calls that a remote adapter would answer over the network return a
//! [`BoxFuture`], so in-process and remote adapters share this interface.
//!
//! A minimal adapter set (the same example as in `docs/adapters.md`):
//!
//! ```
//! use shoal_adapter::{ready, AdapterError, AdapterSet, BoxFuture, DataProvider,
//!                     ItemEvent, ItemEventListener, Login, MetadataProvider, SessionInfo};
//! use std::{collections::HashMap, sync::{Arc, OnceLock}};
//!
//! struct Hello(OnceLock<Arc<dyn ItemEventListener>>);
//!
//! impl DataProvider for Hello {
//!     fn set_listener(&self, l: Arc<dyn ItemEventListener>) { let _ = self.0.set(l); }
//!     fn subscribe(&self, item: &str) -> Result<(), AdapterError> {
//!         if let Some(l) = self.0.get() {
//!             l.update(item, ItemEvent::new().with("message", "hello"), true);
//!         }
//!         Ok(())
//!     }
//!     fn unsubscribe(&self, _item: &str) {}
//!     fn is_snapshot_available(&self, _item: &str) -> bool { true }
//! }
//!
//! struct Open;
//!
//! impl MetadataProvider for Open {
//!     fn notify_user<'a>(&'a self, _: &'a Login) -> BoxFuture<'a, Result<(), AdapterError>> {
//!         ready(Ok(()))
//!     }
//!     fn get_items<'a>(&'a self, _: &'a SessionInfo, group: &'a str)
//!         -> BoxFuture<'a, Result<Vec<String>, AdapterError>> {
//!         ready(Ok(group.split_whitespace().map(String::from).collect()))
//!     }
//!     fn get_schema<'a>(&'a self, _: &'a SessionInfo, _: &'a str, schema: &'a str)
//!         -> BoxFuture<'a, Result<Vec<String>, AdapterError>> {
//!         ready(Ok(schema.split_whitespace().map(String::from).collect()))
//!     }
//!     fn notify_user_message<'a>(&'a self, _: &'a SessionInfo, _: &'a str)
//!         -> BoxFuture<'a, Result<Option<String>, AdapterError>> {
//!         ready(Ok(None))
//!     }
//! }
//!
//! fn hello_set() -> AdapterSet {
//!     let data: HashMap<String, Arc<dyn DataProvider>> =
//!         HashMap::from([("DEFAULT".to_owned(), Arc::new(Hello(OnceLock::new())) as _)]);
//!     AdapterSet { name: "HELLO".into(), metadata: Arc::new(Open), data, ignores_control_link: false }
//! }
//! # let set = hello_set();
//! # assert_eq!(set.name, "HELLO");
//! ```

use shoal_protocol::code;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

mod event;
mod metadata;
pub mod publish;
pub use event::{Bound, ItemEvent, Position};
pub use publish::{PublishCredentials, PublishError, PublishRequest, Publisher};

/// A boxed future, as returned by the potentially remote calls.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Wraps a value already known into a [`BoxFuture`].
pub fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

/// Subscription modes, as the client asks for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Raw,
    Merge,
    Distinct,
    Command,
}

/// A diff algorithm a field's values may be sent with: the client then gets
/// the change from the value it holds rather than the whole new value.
/// Which algorithm Shoal uses for a field, and when, is in `docs/protocol.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiffAlgorithm {
    /// An RFC 6902 JSON Patch, for values that are JSON text (`^P`).
    JsonPatch,
    /// A text diff in the TLCP-diff format (`^T`); the name is the Java
    /// adapter API's, after the diff-match-patch library.
    DiffMatchPatch,
}

/// An error an adapter reports, with the TLCP code the client will see.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (code {code})")]
pub struct AdapterError {
    /// A TLCP error code: positive codes are the server's (see the
    /// specification's appendices), 0 and negative codes are the adapter's own.
    pub code: i32,
    pub message: String,
}

impl AdapterError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
    /// Credentials refused (code 1 on session creation).
    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(code::CREDENTIALS_REFUSED, message)
    }
    /// Group name not understood (code 21).
    pub fn bad_group(message: impl Into<String>) -> Self {
        Self::new(code::BAD_GROUP, message)
    }
    /// Schema name not understood (code 23).
    pub fn bad_schema(message: impl Into<String>) -> Self {
        Self::new(code::BAD_SCHEMA, message)
    }
    /// Mode not allowed for an item (code 24).
    pub fn mode_not_allowed(message: impl Into<String>) -> Self {
        Self::new(code::MODE_NOT_ALLOWED, message)
    }
}

/// What the server tells a data provider's listener about one item.
/// Implemented by the engine; a provider calls it from any thread.
pub trait ItemEventListener: Send + Sync {
    /// A new event for `item`. `is_snapshot` is true for events that make up
    /// the item's initial state, sent before [`end_of_snapshot`].
    ///
    /// [`end_of_snapshot`]: ItemEventListener::end_of_snapshot
    fn update(&self, item: &str, event: ItemEvent, is_snapshot: bool);
    /// The snapshot of `item` is complete.
    fn end_of_snapshot(&self, item: &str);
    /// The whole snapshot of `item` at once, oldest event first, and its
    /// end: for a provider that reads a snapshot of several events from
    /// storage. Subscribers get it in their mode's shape: MERGE one row
    /// with the events merged, DISTINCT the last events, COMMAND the rows
    /// the events leave. (Sending the same events one by one with
    /// [`update`] would give a MERGE subscriber only the first.)
    ///
    /// [`update`]: ItemEventListener::update
    fn snapshot(&self, item: &str, events: Vec<ItemEvent>) {
        for ev in events {
            self.update(item, ev, true);
        }
        self.end_of_snapshot(item);
    }
    /// Forget the snapshot of `item` (a MERGE row becomes all nulls, a
    /// DISTINCT history or a COMMAND table becomes empty).
    fn clear_snapshot(&self, item: &str);
    /// The provider can no longer serve: logged; its items stop updating.
    fn failure(&self, message: &str);
    /// Declares, for fields of `item`, the diff algorithms their values may
    /// be sent with, in order of preference. A field not named, or named
    /// with an empty list, gets no diff (the default for every field). A
    /// later declaration for the same field replaces the earlier one. Best
    /// called from [`DataProvider::subscribe`], before the item's first
    /// event; it applies from the next event on.
    fn declare_field_diff_order(&self, item: &str, fields: HashMap<String, Vec<DiffAlgorithm>>) {
        let _ = (item, fields);
    }
}

/// A source of items.
///
/// A provider may call its listener from any thread, also from inside
/// `subscribe` (a provider with the data at hand may send the snapshot at
/// once). For MERGE items, the first snapshot event is the whole snapshot;
/// `end_of_snapshot` after it is allowed and not needed. DISTINCT and
/// COMMAND snapshots end with `end_of_snapshot`.
///
/// The server never calls `subscribe` and `unsubscribe` of one provider
/// concurrently, and calls them in the order its sessions asked for them.
pub trait DataProvider: Send + Sync {
    /// Called once, before any subscription.
    fn set_listener(&self, listener: Arc<dyn ItemEventListener>);
    /// Start sending events for `item`. An error is reported to the client
    /// that asked (code 21 for an item that does not exist, and so on).
    fn subscribe(&self, item: &str) -> Result<(), AdapterError>;
    /// Stop sending events for `item`. Events that still arrive are ignored.
    fn unsubscribe(&self, item: &str);
    /// Whether `item` sends a snapshot after `subscribe` (if not, the server
    /// considers the snapshot empty).
    fn is_snapshot_available(&self, item: &str) -> bool;
    /// Events of `item` the server keeps for DISTINCT snapshots, when the
    /// provider wants more than the server's `distinct_snapshot_length`
    /// (a history a chart opens with, say). `None`: the server's length.
    fn history_length(&self, _item: &str) -> Option<usize> {
        None
    }
    /// Whether the provider can serve its items now; `Err` says why not.
    /// The health check fails while it is `Err` (a provider reports an
    /// outage there only when the operator asked for it).
    fn readiness(&self) -> Result<(), String> {
        Ok(())
    }
    /// The publish side of this provider (`POST /publish`), if it takes
    /// events from applications.
    fn publisher(&self) -> Option<&dyn Publisher> {
        None
    }
    /// Entries of `item` from its source's history, oldest first, each with
    /// its position: those from `from` on, at most `limit` of them. For a
    /// session another node served, whose client must get the entries it
    /// missed. Only sources with positions (brokers) have a history to read;
    /// the others answer with an error.
    fn history<'a>(
        &'a self,
        item: &'a str,
        from: Bound,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<ItemEvent>, AdapterError>> {
        let _ = (item, from, limit);
        ready(Err(AdapterError::new(
            0,
            "this data adapter keeps no history to read back",
        )))
    }
}

pub use metadata::*;

/// A named metadata provider with its named data providers.
#[derive(Clone)]
pub struct AdapterSet {
    pub name: String,
    pub metadata: Arc<dyn MetadataProvider>,
    pub data: HashMap<String, Arc<dyn DataProvider>>,
    /// Sessions of this set get no control link in `CONOK`, whatever the
    /// listener's: their clients keep the address they used. For sets that
    /// must answer on whichever address of the node a client reached, such
    /// as the monitor console's `MONITOR`.
    pub ignores_control_link: bool,
}

impl fmt::Debug for AdapterSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.data.keys().collect();
        names.sort();
        f.debug_struct("AdapterSet")
            .field("name", &self.name)
            .field("data", &names)
            .field("ignores_control_link", &self.ignores_control_link)
            .finish_non_exhaustive()
    }
}
