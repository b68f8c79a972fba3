//! The metadata side of an adapter set: who may connect, what names mean,
//! what a client message does, and the limits of each item.

use crate::{ready, AdapterError, BoxFuture, Mode};
use std::sync::Arc;

/// A client asking to open a session: what `notify_user` sees.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Login {
    pub user: Option<String>,
    pub password: Option<String>,
    /// Where the request came from (after trusted forwards).
    pub client_ip: String,
    /// The HTTP headers of the request that creates the session (of the
    /// WebSocket upgrade for WebSocket clients), names in lower case, in the
    /// order received.
    pub headers: Arc<[(String, String)]>,
}

/// What the metadata adapter grants a user whose session it accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Grant {
    /// Most bandwidth each of the user's sessions may use, in kbit/s
    /// (1 kbit = 1000 bits, counted on the bytes of the notifications);
    /// `None` is unlimited. A client may ask for less, never for more.
    pub max_bandwidth: Option<f64>,
}

impl Grant {
    /// A limit of `kbps` kbit/s; 0 (or less, or not a number) is unlimited,
    /// as the official adapters' `getAllowedMaxBandwidth` says it.
    pub fn bandwidth(kbps: f64) -> Self {
        Self {
            max_bandwidth: (kbps > 0.0 && kbps.is_finite()).then_some(kbps),
        }
    }
}

/// Who is asking: passed to metadata calls that depend on the session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionInfo {
    pub session_id: String,
    pub user: Option<String>,
    pub client_ip: String,
    /// The client's port, as the server's socket saw it (0 if unknown).
    pub client_port: u16,
    /// The `User-Agent` header of the request that created the session.
    pub user_agent: Option<String>,
    /// `X-Forwarded-For` as received, when a proxy forwarded the request.
    pub forwarding_info: Option<String>,
    /// The name of the listener the session was created on.
    pub local_server: String,
}

/// A set of subscription modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModeSet(u8);

impl ModeSet {
    pub const ALL: ModeSet = ModeSet(0b1111);
    pub const NONE: ModeSet = ModeSet(0);

    fn bit(mode: Mode) -> u8 {
        match mode {
            Mode::Raw => 1,
            Mode::Merge => 2,
            Mode::Distinct => 4,
            Mode::Command => 8,
        }
    }

    pub fn with(self, mode: Mode) -> Self {
        ModeSet(self.0 | Self::bit(mode))
    }

    pub fn contains(self, mode: Mode) -> bool {
        self.0 & Self::bit(mode) != 0
    }
}

impl Default for ModeSet {
    fn default() -> Self {
        Self::ALL
    }
}

impl FromIterator<Mode> for ModeSet {
    fn from_iter<I: IntoIterator<Item = Mode>>(iter: I) -> Self {
        iter.into_iter().fold(Self::NONE, Self::with)
    }
}

/// What the metadata adapter says of one item, for one session.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ItemData {
    /// Modes the item may be subscribed in.
    pub allowed_modes: ModeSet,
    /// Updates per second for this user; `None` leaves the client's request
    /// as it is.
    pub max_frequency: Option<f64>,
    /// Events kept per item in DISTINCT/RAW buffers; `None`: server default.
    pub max_buffer_size: Option<u64>,
    /// DISTINCT snapshots hold at most this many events; `None`: server
    /// default.
    pub distinct_snapshot_length: Option<u64>,
}

/// One subscription ("table") as the metadata adapter sees it in
/// [`MetadataProvider::notify_new_tables`] and
/// [`MetadataProvider::notify_tables_close`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// The client's subscription id (`LS_subId`).
    pub win_index: u32,
    pub mode: Mode,
    pub group: String,
    pub data_adapter: String,
    pub schema: String,
    /// 1-based indexes of the group's first and last item.
    pub first: usize,
    pub last: usize,
    pub selector: Option<String>,
    pub items: Vec<String>,
}

/// What a metadata provider may ask of the server: implemented by the
/// engine, handed over once with [`MetadataProvider::set_control`].
pub trait ServerControl: Send + Sync {
    /// Ends a session, with the cause the client will see (`None`: the
    /// server's own). Returns false when there is no such session.
    fn force_session_termination(&self, session_id: &str, cause: Option<AdapterError>) -> bool;
    /// Ends one subscription of a session. Returns false when there is no
    /// such session or subscription.
    fn force_unsubscription(&self, session_id: &str, win_index: u32) -> bool;
}

/// Authentication, name resolution and message handling for an adapter set.
///
/// Calls that a remote adapter answers over the network return a
/// [`BoxFuture`]; the others are notifications the server does not wait for.
pub trait MetadataProvider: Send + Sync {
    /// Called once, before any other call, with what the provider may ask
    /// of the server.
    fn set_control(&self, _control: Arc<dyn ServerControl>) {}

    /// Checks credentials on session creation.
    fn notify_user<'a>(&'a self, login: &'a Login) -> BoxFuture<'a, Result<(), AdapterError>>;

    /// What the server calls on session creation: checks credentials as
    /// [`MetadataProvider::notify_user`] does and says what the user is
    /// granted (its bandwidth). The default calls `notify_user` and grants
    /// no limit; a provider that limits bandwidth overrides this one.
    fn notify_user_grant<'a>(
        &'a self,
        login: &'a Login,
    ) -> BoxFuture<'a, Result<Grant, AdapterError>> {
        let checked = self.notify_user(login);
        Box::pin(async move { checked.await.map(|()| Grant::default()) })
    }

    /// A session was created; an error refuses it.
    fn notify_new_session<'a>(
        &'a self,
        _session: &'a SessionInfo,
    ) -> BoxFuture<'a, Result<(), AdapterError>> {
        ready(Ok(()))
    }

    /// A session ended.
    fn notify_session_close(&self, _session_id: &str) {}

    /// Maximum number of sessions a single user may hold; `None`: unlimited.
    fn max_sessions_per_user(&self) -> Option<usize> {
        None
    }

    /// Item names of a group, in order. The default reads the group as
    /// Lightstreamer's `LiteralBasedProvider` does: its space-separated
    /// words (see [`literal`]).
    fn get_items<'a>(
        &'a self,
        _session: &'a SessionInfo,
        group: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, AdapterError>> {
        ready(literal::items(group))
    }

    /// Field names of a schema for the items of a group, in order. The
    /// default reads the schema's space-separated words (see [`literal`]).
    fn get_schema<'a>(
        &'a self,
        _session: &'a SessionInfo,
        _group: &'a str,
        schema: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, AdapterError>> {
        ready(literal::fields(schema))
    }

    /// Modes and limits of each item of a subscription to `data_adapter`,
    /// in the order of `items`. The default allows every mode and sets no
    /// limit.
    fn item_data<'a>(
        &'a self,
        _session: &'a SessionInfo,
        _data_adapter: &'a str,
        items: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<ItemData>, AdapterError>> {
        ready(Ok(vec![ItemData::default(); items.len()]))
    }

    /// A session subscribes: an error refuses the subscription. Called after
    /// names and item data are resolved.
    fn notify_new_tables<'a>(
        &'a self,
        _session: &'a SessionInfo,
        _tables: &'a [TableInfo],
    ) -> BoxFuture<'a, Result<(), AdapterError>> {
        ready(Ok(()))
    }

    /// Subscriptions of a session ended (unsubscribed or session closed).
    fn notify_tables_close(&self, _session_id: &str, _tables: &[TableInfo]) {}

    /// A client message (`sendMessage`). `Ok(response)` becomes `MSGDONE`
    /// with that response; an error becomes `MSGFAIL` with its code.
    fn notify_user_message<'a>(
        &'a self,
        session: &'a SessionInfo,
        message: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, AdapterError>>;
}

/// Lightstreamer's literal names: a group is its items and a schema its
/// fields, separated by spaces, as `LiteralBasedProvider` and the SDKs'
/// default metadata adapters read them. An empty list is refused (code 21
/// for a group, 23 for a schema).
pub mod literal {
    use crate::AdapterError;

    /// Split on the space character only, as `LiteralBasedProvider` does:
    /// other characters (a tab, even CR or LF, which a client may send
    /// percent-encoded) belong to the names.
    fn words(name: &str) -> Vec<String> {
        name.split(' ')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The items of a group.
    pub fn items(group: &str) -> Result<Vec<String>, AdapterError> {
        let items = words(group);
        if items.is_empty() {
            return Err(AdapterError::bad_group(
                "empty group: expected space-separated item names",
            ));
        }
        Ok(items)
    }

    /// The fields of a schema.
    pub fn fields(schema: &str) -> Result<Vec<String>, AdapterError> {
        let fields = words(schema);
        if fields.is_empty() {
            return Err(AdapterError::bad_schema(
                "empty schema: expected space-separated field names",
            ));
        }
        Ok(fields)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn names_are_split_on_spaces_only() {
            assert_eq!(items(" a  b ").unwrap(), ["a", "b"]);
            // The official clients' own test sends a field name with CR LF.
            assert_eq!(
                fields("value\u{1F310}- value&+=\r\n%").unwrap(),
                ["value\u{1F310}-", "value&+=\r\n%"]
            );
            assert_eq!(items("a\tb").unwrap(), ["a\tb"]);
            assert_eq!(items("   ").unwrap_err().code, 21);
            assert_eq!(fields("").unwrap_err().code, 23);
        }
    }
}
