//! Lightstreamer's adapter set configuration: the `adapters.xml` files.
//!
//! The folder named by `<adapters_dir>` holds one folder per adapter set,
//! each with an `adapters.xml` whose root is `<adapters_conf id="…">`.
//! [`load_adapter_sets`] reads them all into [`AdapterSet`]s, with the same
//! rules as `lightstreamer_conf.xml` (names ignoring ASCII case, trimmed
//! values, blank as not written, `Y`/`N`, errors and warnings naming file,
//! element and line). `param` names are compared exactly, as Lightstreamer
//! hands them to adapters.
//!
//! What Shoal runs: the proxy adapters `PROXY_FOR_REMOTE_ADAPTER` and
//! `ROBUST_PROXY_FOR_REMOTE_ADAPTER` (metadata and data), which wait for a
//! remote adapter built on one of Lightstreamer's SDKs to connect, and the
//! metadata adapter `com.lightstreamer.adapters.metadata.LiteralBasedProvider`,
//! and Shoal's own data adapters `shoal.redis` and `shoal.nats`, whose items
//! are read from a Redis or NATS JetStream broker (a [`BrokerFeed`]).
//! Any other `adapter_class` is a Java class, which Shoal cannot run: an
//! error. Thread pools, class loaders and table-notification ordering are
//! JVM matters: one warning each.
//!
//! Defaults are Lightstreamer's, as documented in the comments of its
//! adapters.xml templates and in its Helm chart (`values.yaml`, adapters
//! section); each field says which.

use crate::{Keystore, Warning};
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

mod broker;
mod literal;
mod load;
mod params;
mod ports;
mod proxy;
mod robust;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_broker;
#[cfg(test)]
mod tests_literal;
#[cfg(test)]
mod tests_proxy;
#[cfg(test)]
mod tests_security;

use broker::redact_url;
pub use load::{load_adapter_set, load_adapter_sets};
pub use ports::check_listener_ports;

/// The name of the file read in each adapter set folder.
pub const ADAPTERS_FILE: &str = "adapters.xml";

/// The class name of Lightstreamer's literal-based metadata adapter.
pub const LITERAL_BASED_PROVIDER: &str = "com.lightstreamer.adapters.metadata.LiteralBasedProvider";

/// Every adapter set of a folder, and what in them Shoal ignores.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterSets {
    /// The folder that was read.
    pub dir: PathBuf,
    /// By folder name; ids are unique.
    pub sets: Vec<AdapterSet>,
    /// Warnings of every file, in folder order then line order.
    pub warnings: Vec<Warning>,
}

/// The adapter set Shoal registers itself for its monitor console; no
/// `adapters.xml` may use this id.
pub const MONITOR_SET: &str = "MONITOR";

/// One `<adapters_conf id="…">`.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterSet {
    /// The `id` attribute: the adapter set name clients ask for (`LS_adapter_set`).
    pub id: String,
    /// The `adapters.xml` it was read from.
    pub file: PathBuf,
    /// Line of `<adapters_conf>`.
    pub line: u32,
    /// `<metadata_adapter_initialised_first>`: the metadata adapter is
    /// initialised before the data adapters (their ports open only then).
    /// Default `Y` (Lightstreamer's adapters.xml template).
    pub metadata_initialised_first: bool,
    pub metadata: MetadataProvider,
    /// Every `<data_provider>`, in file order; at least one, names unique.
    pub data: Vec<DataProvider>,
}

/// `<metadata_provider>`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetadataProvider {
    pub adapter: MetadataAdapter,
    /// Every `<param>` as written, for messages that name one.
    pub params: Vec<Param>,
    /// Line of `<metadata_provider>`.
    pub line: u32,
}

/// What serves a set's metadata.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataAdapter {
    /// `PROXY_FOR_REMOTE_ADAPTER` or `ROBUST_PROXY_FOR_REMOTE_ADAPTER`.
    Remote(Box<RemoteMetadata>),
    /// `com.lightstreamer.adapters.metadata.LiteralBasedProvider`.
    LiteralBased(LiteralBasedProvider),
}

impl MetadataAdapter {
    /// The `adapter_class` it came from.
    pub fn class(&self) -> AdapterClass {
        match self {
            MetadataAdapter::Remote(r) => r.proxy.class(),
            MetadataAdapter::LiteralBased(_) => AdapterClass::LiteralBasedProvider,
        }
    }
}

/// `<data_provider name="…">`.
#[derive(Debug, Clone, PartialEq)]
pub struct DataProvider {
    /// The `name` attribute; `DEFAULT` when not written.
    pub name: String,
    /// What serves the items: a proxy for a remote adapter, or a broker
    /// read by Shoal itself.
    pub source: DataSource,
    /// Every `<param>` as written.
    pub params: Vec<Param>,
    /// Line of `<data_provider>`.
    pub line: u32,
}

impl DataProvider {
    /// The `adapter_class` it came from.
    pub fn class(&self) -> AdapterClass {
        match &self.source {
            DataSource::Remote(r) => r.proxy.class(),
            DataSource::Broker(b) => b.kind.class(),
            DataSource::Memory(_) => AdapterClass::Memory,
        }
    }
}

/// What serves the items of a `<data_provider>`.
// One per data provider, built once at startup: the size of the proxy
// variant does not matter, and this is the shape other code is written
// against (issue 13).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum DataSource {
    /// `PROXY_FOR_REMOTE_ADAPTER` or `ROBUST_PROXY_FOR_REMOTE_ADAPTER`.
    Remote(RemoteData),
    /// `shoal.redis` or `shoal.nats`.
    Broker(Box<BrokerFeed>),
    /// `shoal.memory`.
    Memory(MemoryFeed),
}

/// The `adapter_class` of the in-memory data adapter.
pub const MEMORY_CLASS: &str = "shoal.memory";

/// `shoal.memory`: items held in this node's memory and fed only by
/// `POST /publish`, for a node without a broker (what is published on one
/// node is not seen by the others).
#[derive(Clone, PartialEq)]
pub struct MemoryFeed {
    /// `snapshot_length`: events kept per item for its snapshot (items
    /// not in COMMAND mode, whose rows are kept instead); 1 to 10000,
    /// default 10.
    pub snapshot_length: usize,
    /// `max_items`: items held at most; publishing to one more is refused.
    /// 1 or more, default 10000.
    pub max_items: usize,
    /// `publish_token`, or `publish_user` and `publish_password`
    /// (required: publishing is the only way in).
    pub publish: PublishAuth,
    /// `diff_fields`: the diff algorithms each named field's values may be
    /// sent with, in order of preference (`JSONPATCH`, `DIFF_MATCH_PATCH`),
    /// for every item; none by default.
    pub diff_fields: Vec<(String, Vec<DiffAlgorithmName>)>,
}

/// A diff algorithm as `diff_fields` names it (the names of the Java
/// adapter API's `DiffAlgorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffAlgorithmName {
    /// `JSONPATCH`.
    JsonPatch,
    /// `DIFF_MATCH_PATCH`.
    DiffMatchPatch,
}

impl fmt::Debug for MemoryFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryFeed")
            .field("snapshot_length", &self.snapshot_length)
            .field("max_items", &self.max_items)
            .field("publish", &self.publish)
            .field("diff_fields", &self.diff_fields)
            .finish()
    }
}

/// The `adapter_class` values Shoal runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterClass {
    /// `PROXY_FOR_REMOTE_ADAPTER`: the server waits for the remote adapter at
    /// startup; losing it is fatal to the set.
    Proxy,
    /// `ROBUST_PROXY_FOR_REMOTE_ADAPTER`: the server goes on without the
    /// remote adapter and waits for a new one.
    RobustProxy,
    /// `com.lightstreamer.adapters.metadata.LiteralBasedProvider`.
    LiteralBasedProvider,
    /// `shoal.redis`: items are Redis streams (data only).
    Redis,
    /// `shoal.nats`: items are NATS JetStream subjects (data only).
    Nats,
    /// `shoal.memory`: items held in memory, fed by `POST /publish` (data only).
    Memory,
}

impl AdapterClass {
    /// The value as Lightstreamer writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            AdapterClass::Proxy => "PROXY_FOR_REMOTE_ADAPTER",
            AdapterClass::RobustProxy => "ROBUST_PROXY_FOR_REMOTE_ADAPTER",
            AdapterClass::LiteralBasedProvider => LITERAL_BASED_PROVIDER,
            AdapterClass::Redis => BrokerKind::Redis.as_str(),
            AdapterClass::Nats => BrokerKind::Nats.as_str(),
            AdapterClass::Memory => MEMORY_CLASS,
        }
    }
}

/// One `<param name="…">value</param>`, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub value: String,
    pub line: u32,
}

/// Finds a parameter by its exact name.
pub fn param<'p>(params: &'p [Param], name: &str) -> Option<&'p Param> {
    params.iter().find(|p| p.name == name)
}

/// The settings every proxy adapter has, metadata or data.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteProxy {
    /// `ROBUST_PROXY_FOR_REMOTE_ADAPTER`, with its connection settings;
    /// `None` for `PROXY_FOR_REMOTE_ADAPTER`.
    pub robust: Option<RobustConnection>,
    /// `request_reply_port` (required): where the remote adapter connects.
    /// `0` asks for any free port (Shoal's extension, for tests).
    pub request_reply_port: u16,
    /// `interface`: the local address to listen on; `None` (the default)
    /// means every address.
    pub interface: Option<IpAddr>,
    /// `timeout`: longest wait for a reply, in milliseconds; a request
    /// without a reply by then fails. `None` means no limit (a negative
    /// value). Default 10000 (Lightstreamer's template and Helm chart).
    pub timeout_millis: Option<u64>,
    /// `keepalive_timeout_millis`: the connection is closed after this long
    /// without anything from the remote. `None` (0 or negative, the
    /// default: Helm chart `keepaliveTimeoutMillis: -1`) means never.
    pub keepalive_timeout_millis: Option<u64>,
    /// `keepalive_hint_millis`: the keepalive interval asked of the remote
    /// (`keepalive_hint.millis` at initialisation); `None` asks for none
    /// (0 or negative). Default, as Lightstreamer documents it: none without
    /// a keepalive timeout, half the timeout below 4 seconds, else the
    /// timeout less 2 seconds.
    pub keepalive_hint_millis: Option<u64>,
    /// `auth` = `Y` (default `N`): the remote must present one of these
    /// credentials; `None` when `auth` is `N`. Never empty when `Some`.
    pub credentials: Option<Vec<Credential>>,
    /// `tls` = `Y` (default `N`): the remote connects with TLS, and this is
    /// the server's keystore (`tls.keystore.*`, loaded like an
    /// `<https_server>` keystore). `None` when `tls` is `N`.
    pub tls: Option<Keystore>,
    /// `remote_params_prefix`: it contains `:`. `None` when not written.
    pub remote_params_prefix: Option<String>,
    /// The parameters whose names start with the prefix, as written (full
    /// name), in file order: sent to the remote at initialisation.
    pub remote_params: Vec<Param>,
    /// `remote_address_whitelist`: only these hosts may connect as remote
    /// adapters. Empty (the default) means any.
    pub remote_address_whitelist: Vec<RemoteHost>,
}

impl RemoteProxy {
    /// The `adapter_class` it came from.
    pub fn class(&self) -> AdapterClass {
        match self.robust {
            Some(_) => AdapterClass::RobustProxy,
            None => AdapterClass::Proxy,
        }
    }
}

/// The connection settings of a robust proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RobustConnection {
    /// `first_connection_timeout_millis`: how long startup waits for the
    /// first remote adapter; `None` (negative) means as long as it takes.
    /// Defaults from the Helm chart: metadata -1 (wait), data 0 (do not
    /// wait; subscriptions get empty snapshots until the remote arrives).
    pub first_connection_timeout_millis: Option<u64>,
    /// `connection_recovery_timeout_millis`: after a failed connection or
    /// initialisation, the least time before listening again; `None`
    /// (negative, the default -1 of Lightstreamer's template and Helm chart)
    /// means never again.
    pub connection_recovery_timeout_millis: Option<u64>,
}

/// A `<metadata_provider>` served by a remote adapter.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteMetadata {
    pub proxy: RemoteProxy,
    /// Settings of `ROBUST_PROXY_FOR_REMOTE_ADAPTER`; `None` for the plain proxy.
    pub robust: Option<RobustMetadata>,
}

/// What the robust metadata proxy does while no remote is connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RobustMetadata {
    /// `close_notifications_recovery`; default `pessimistic`
    /// (Lightstreamer's robust adapters.xml template).
    pub close_notifications_recovery: CloseNotificationsRecovery,
    /// `notify_user_on_disconnection` with `notify_user_disconnection_code`
    /// and `notify_user_disconnection_msg`.
    pub notify_user_on_disconnection: NotifyUserOnDisconnection,
}

/// `close_notifications_recovery`: which session and table close
/// notifications are sent again to a new remote metadata adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CloseNotificationsRecovery {
    /// `pessimistic`: all from the first one not known to be processed.
    #[default]
    Pessimistic,
    /// `optimistic`: those after the last one answered.
    Optimistic,
    /// `unneeded`: none.
    Unneeded,
}

impl CloseNotificationsRecovery {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pessimistic => "pessimistic",
            Self::Optimistic => "optimistic",
            Self::Unneeded => "unneeded",
        }
    }
}

/// How a new session is refused while the remote metadata adapter is away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyUserOnDisconnection {
    /// `fail`: as an unexpected error. The default without
    /// `notify_user_disconnection_code`.
    Fail,
    /// `force_retry`: the client is told to try again.
    ForceRetry,
    /// `send_code`: refused with this code (0 or negative) and message, as
    /// a metadata adapter's refusal. The default when
    /// `notify_user_disconnection_code` is written.
    SendCode { code: i32, message: Option<String> },
}

/// A `<data_provider>` served by a remote adapter.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteData {
    pub proxy: RemoteProxy,
    /// `notify_port`: a second port for notifications (the two-connection
    /// mode of older SDKs, e.g. Node.js SDK 1.5). `None`: one connection.
    pub notify_port: Option<u16>,
    /// Settings of `ROBUST_PROXY_FOR_REMOTE_ADAPTER`; `None` for the plain proxy.
    pub robust: Option<RobustData>,
}

/// What the robust data proxy does around a lost remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RobustData {
    /// `events_recovery`; default `leave_hole` (Lightstreamer's robust
    /// adapters.xml template; the Helm chart writes `use_snapshot`).
    pub events_recovery: EventsRecovery,
    /// `status_item`: an item the proxy serves itself, with a field
    /// `status` (`connecting`, `connected`, `reconnecting`). `None`: no such item.
    pub status_item: Option<String>,
}

/// `events_recovery`: how items subscribed while no remote was connected
/// are resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventsRecovery {
    /// `leave_hole`: updates just start again.
    #[default]
    LeaveHole,
    /// `use_snapshot`: the new snapshot is sent as updates.
    UseSnapshot,
    /// `enforce_snapshot`: the snapshot is cleared on the loss, and the new
    /// one sent as updates.
    EnforceSnapshot,
}

impl EventsRecovery {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LeaveHole => "leave_hole",
            Self::UseSnapshot => "use_snapshot",
            Self::EnforceSnapshot => "enforce_snapshot",
        }
    }
}

/// Which broker a `shoal.redis` or `shoal.nats` data provider reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerKind {
    /// `shoal.redis`: item `X` is the Redis stream `<stream_prefix>X`.
    Redis,
    /// `shoal.nats`: item `X` is the JetStream subject `<subject_prefix>.X`.
    Nats,
}

impl BrokerKind {
    /// The `adapter_class` value: `shoal.redis` or `shoal.nats`.
    pub fn as_str(self) -> &'static str {
        match self {
            BrokerKind::Redis => "shoal.redis",
            BrokerKind::Nats => "shoal.nats",
        }
    }

    /// The matching [`AdapterClass`].
    pub fn class(self) -> AdapterClass {
        match self {
            BrokerKind::Redis => AdapterClass::Redis,
            BrokerKind::Nats => AdapterClass::Nats,
        }
    }
}

impl fmt::Display for BrokerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A data provider whose items Shoal reads from a broker itself:
/// `shoal.redis` or `shoal.nats`, with their params. Secrets are not shown
/// by `Debug`.
#[derive(Clone, PartialEq)]
pub struct BrokerFeed {
    /// Which broker, from `adapter_class`.
    pub kind: BrokerKind,
    /// `url` (required), as written: for Redis one
    /// `redis://[user[:password]@]host[:port][/db]` or `rediss://…` (TLS);
    /// for NATS one or more comma-separated `nats://host[:port]` or
    /// `tls://host[:port]`, each possibly with `user:password@`. Checked
    /// for its scheme and host; it may hold credentials, so show it with
    /// [`BrokerFeed::display_url`].
    pub url: String,
    /// `username`: overrides a user written in the URL. `None` (the
    /// default): the URL's, if any.
    pub username: Option<String>,
    /// `password`: overrides a password written in the URL. `None` (the
    /// default): the URL's, if any. For NATS, only with `username`.
    pub password: Option<String>,
    /// `tls_ca_file`: PEM file of the CA certificates to trust, resolved
    /// against the set's folder (or `install_dir`); it exists. `None` (the
    /// default): the system's roots. Always `None` with a `redis://` URL
    /// (a warning says it is ignored).
    pub tls_ca_file: Option<PathBuf>,
    /// `stream_prefix` for Redis (default empty: the stream is the item
    /// name), `subject_prefix` for NATS (default `shoal`; a valid subject
    /// without wildcards, the subject being `<prefix>.<item>`).
    pub prefix: String,
    /// The NATS-only params; `Some` for `shoal.nats` only.
    pub nats: Option<NatsFeed>,
    /// `snapshot_length`: entries of an item's stream sent as its snapshot
    /// (items not in COMMAND mode); 1 to 10000, default 10.
    pub snapshot_length: usize,
    /// `command_history_limit`: at most this many entries are read to
    /// rebuild the rows of a COMMAND item; 1 or more, default 100000.
    pub command_history_limit: usize,
    /// `max_length`: entries kept per item when Shoal itself writes (the
    /// publish API: Redis `XADD MAXLEN ~ N`; NATS `max_msgs_per_subject` of
    /// a stream Shoal creates); 0 means no limit. Default 10000.
    pub max_length: u64,
    /// `linger_millis`: how long an item's broker subscription stays open
    /// after its last client left, in milliseconds; default 5000.
    pub linger_millis: u64,
    /// `publish_token`, `publish_user` and `publish_password`: who may
    /// write to this adapter's items through `POST /publish`. `None` (the
    /// default, none of them written): publishing is not enabled.
    pub publish: Option<PublishAuth>,
    /// `healthcheck_requires_broker` = `Y` (default `N`): the healthcheck
    /// answers 503 while this adapter's broker cannot be reached.
    pub healthcheck_requires_broker: bool,
    /// `session_handoff` = `N` (default `Y`): this node does not journal
    /// its sessions in the broker, nor take over those of nodes that die
    /// (only the first broker feed of a node carries the journals).
    pub session_handoff: bool,
}

impl BrokerFeed {
    /// The URL(s) with every password (and NATS token) written in them
    /// replaced by `***`, for logs and `shoal check-config`.
    pub fn display_url(&self) -> String {
        redact_url(self.kind, &self.url)
    }
}

impl fmt::Debug for BrokerFeed {
    /// Passwords are not shown, neither in `password` nor in the URL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerFeed")
            .field("kind", &self.kind)
            .field("url", &self.display_url())
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("tls_ca_file", &self.tls_ca_file)
            .field("prefix", &self.prefix)
            .field("nats", &self.nats)
            .field("snapshot_length", &self.snapshot_length)
            .field("command_history_limit", &self.command_history_limit)
            .field("max_length", &self.max_length)
            .field("linger_millis", &self.linger_millis)
            .field("publish", &self.publish)
            .field(
                "healthcheck_requires_broker",
                &self.healthcheck_requires_broker,
            )
            .field("session_handoff", &self.session_handoff)
            .finish()
    }
}

/// The params only `shoal.nats` has.
#[derive(Clone, PartialEq, Eq)]
pub struct NatsFeed {
    /// `stream`: the JetStream stream holding the items' subjects; no
    /// whitespace, `.`, `*`, `>`, `/` or `\`. Default `SHOAL`.
    pub stream: String,
    /// `create_stream` (default `Y`): create the stream, with the subjects
    /// `<subject_prefix>.>`, when it does not exist.
    pub create_stream: bool,
    /// `token`: NATS token authentication; never with `username` or
    /// `password`. `None` (the default): no token.
    pub token: Option<String>,
    /// `credentials_file`: a NATS `.creds` file (user JWT and nkey seed),
    /// resolved against the set's folder (or `install_dir`); it exists.
    /// `None` (the default): none.
    pub credentials_file: Option<PathBuf>,
}

impl fmt::Debug for NatsFeed {
    /// The token is not shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsFeed")
            .field("stream", &self.stream)
            .field("create_stream", &self.create_stream)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("credentials_file", &self.credentials_file)
            .finish()
    }
}

/// The credentials `POST /publish` accepts for one broker data adapter;
/// at least one of the two is `Some`.
#[derive(Clone, PartialEq, Eq)]
pub struct PublishAuth {
    /// `publish_token`: accepted as `Authorization: Bearer <token>`.
    /// `None` (the default): no bearer token.
    pub token: Option<String>,
    /// `publish_user` and `publish_password`, written together: accepted
    /// as HTTP Basic credentials (user, password). `None` (the default):
    /// no Basic credentials.
    pub basic: Option<(String, String)>,
}

impl fmt::Debug for PublishAuth {
    /// The token and the password are not shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishAuth")
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("basic", &self.basic.as_ref().map(|(user, _)| (user, "***")))
            .finish()
    }
}

/// One `auth.credentials.<key>.user` / `.password` pair.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The `<key>` between `auth.credentials.` and `.user`.
    pub key: String,
    pub user: String,
    pub password: String,
    /// Line of the `.user` param.
    pub line: u32,
}

impl fmt::Debug for Credential {
    /// The password is not shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("key", &self.key)
            .field("user", &self.user)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

/// An entry of `remote_address_whitelist`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteHost {
    Ip(IpAddr),
    /// A host name, lower case, resolved when a remote connects.
    Name(String),
}

/// `com.lightstreamer.adapters.metadata.LiteralBasedProvider` and its
/// params: a group name is a space-separated list of item names, a schema a
/// space-separated list of field names; the same limits for every user and
/// item. Defaults are those of the class.
#[derive(Debug, Clone, PartialEq)]
pub struct LiteralBasedProvider {
    /// `allowed_users` (comma-separated): only these user names may open
    /// sessions (no password check). `None`: anybody.
    pub allowed_users: Option<Vec<String>>,
    /// `max_bandwidth`: kbit/s per session; 0 (the default) is unlimited.
    pub max_bandwidth: f64,
    /// `max_frequency`: updates/s per item; 0 (the default) is unlimited.
    pub max_frequency: f64,
    /// `buffer_size`: events buffered per item; 0 (the default) is unlimited.
    pub buffer_size: u32,
    /// `distinct_snapshot_length`: events in a DISTINCT snapshot; default 10.
    pub distinct_snapshot_length: u32,
    /// `prefilter_frequency`: updates/s an item may come at before the
    /// server filters; 0 (the default) is no prefiltering.
    pub prefilter_frequency: f64,
    /// `item_family_<n>` rules, by `<n>`. When there are none, every item is
    /// allowed in every mode; otherwise an item takes the first family
    /// whose pattern matches its whole name (and whose data adapter, if
    /// given, is the subscription's), and no family means not allowed.
    pub item_families: Vec<ItemFamily>,
}

/// `item_family_<n>`, `data_adapter_for_item_family_<n>`,
/// `modes_for_item_family_<n>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFamily {
    pub number: u32,
    /// A regular expression that must match the whole item name; checked
    /// to compile with Rust's `regex` syntax (no look-around, no
    /// back-references).
    pub pattern: String,
    /// Only for subscriptions to this data adapter; `None`: any.
    pub data_adapter: Option<String>,
    /// The modes allowed; may be empty (items of the family allowed in none).
    pub modes: Vec<Mode>,
    /// Line of the `item_family_<n>` param.
    pub line: u32,
}

/// A subscription mode, as `modes_for_item_family_<n>` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Raw,
    Merge,
    Distinct,
    Command,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Raw => "RAW",
            Mode::Merge => "MERGE",
            Mode::Distinct => "DISTINCT",
            Mode::Command => "COMMAND",
        }
    }
}
