//! How a proxy adapter is set up: the `param`s of a
//! `PROXY_FOR_REMOTE_ADAPTER` in `adapters.xml`, already checked and typed
//! (the binary reads them from the configuration).

use crate::data::items::EventsRecovery;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Which adapter of an adapter set a proxy stands for (for log lines and
/// the init parameters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterName {
    pub adapter_set: String,
    /// `None` for the metadata adapter, the data adapter's name otherwise.
    pub data_adapter: Option<String>,
}

impl fmt::Display for AdapterName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.data_adapter {
            Some(name) => write!(f, "adapter set {}, data adapter {name}", self.adapter_set),
            None => write!(f, "adapter set {}, metadata adapter", self.adapter_set),
        }
    }
}

/// User names and passwords a remote may present in its `RAC`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials(pub Vec<(String, String)>);

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Passwords never reach a log.
        let users: Vec<&str> = self.0.iter().map(|(u, _)| u.as_str()).collect();
        f.debug_struct("Credentials")
            .field("users", &users)
            .finish()
    }
}

impl Credentials {
    pub fn accepts(&self, user: Option<&str>, password: Option<&str>) -> bool {
        let (Some(user), Some(password)) = (user, password) else {
            return false;
        };
        self.0.iter().any(|(u, p)| u == user && p == password)
    }
}

/// One proxy adapter's settings.
#[derive(Debug, Clone)]
pub struct ProxySettings {
    pub name: AdapterName,
    /// `ROBUST_PROXY_FOR_REMOTE_ADAPTER`.
    pub robust: bool,
    /// Where the remote connects for requests and replies (`interface` and
    /// `request_reply_port`; port 0: any free port).
    pub request_reply: SocketAddr,
    /// Data adapters of old SDKs: where the remote connects to send
    /// notifications (`notify_port`).
    pub notify: Option<SocketAddr>,
    /// `timeout`: requests unanswered for this long count as failed.
    /// `None`: wait for ever.
    pub timeout: Option<Duration>,
    /// `keepalive_timeout_millis`: a remote silent for this long is
    /// disconnected. `None`: no check.
    pub keepalive_timeout: Option<Duration>,
    /// `keepalive_hint_millis`: how often the remote is asked to send
    /// keepalives when idle.
    pub keepalive_hint: Option<Duration>,
    /// `auth`: remotes must present one of these credentials.
    pub credentials: Option<Credentials>,
    /// `tls`: the ARI ports speak TLS with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Parameters sent to the remote in its init request (those of
    /// `remote_params_prefix`), in order.
    pub remote_params: Vec<(String, String)>,
    /// `remote_address_whitelist`: the only addresses remotes may connect
    /// from. `None`: any.
    pub whitelist: Option<Vec<IpAddr>>,
    /// Robust proxies: how long the server's start waits for the first
    /// remote (`first_connection_timeout_millis`). `None`: for ever.
    /// Plain proxies always wait.
    pub first_connection_timeout: Option<Duration>,
    /// Robust data proxies: `events_recovery`.
    pub events_recovery: EventsRecovery,
    /// Robust data proxies: `status_item`.
    pub status_item: Option<String>,
    /// Robust metadata proxies (`notify_user_on_disconnection` =
    /// `send_code`): the code and message a login gets while no remote is
    /// connected. `None`: code 66, as for any unavailable metadata adapter.
    pub login_refusal: Option<(i32, String)>,
    /// A string that names this server instance to remotes
    /// (`server.instance_id`).
    pub server_instance: String,
}

impl ProxySettings {
    /// Settings with Lightstreamer's defaults, listening on `addr`.
    pub fn new(name: AdapterName, request_reply: SocketAddr) -> Self {
        Self {
            name,
            robust: false,
            request_reply,
            notify: None,
            timeout: Some(Duration::from_millis(10_000)),
            keepalive_timeout: None,
            keepalive_hint: None,
            credentials: None,
            tls: None,
            remote_params: Vec::new(),
            whitelist: None,
            first_connection_timeout: None,
            events_recovery: EventsRecovery::default(),
            status_item: None,
            login_refusal: None,
            server_instance: String::new(),
        }
    }
}
