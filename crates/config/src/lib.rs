//! Reads Lightstreamer's `lightstreamer_conf.xml` into Shoal's settings.
//!
//! Operators keep the file they already have. [`load`] reads it, checks what
//! Shoal uses and reports, as a [`Warning`], every element or attribute Shoal
//! does not implement, so that nothing in the file is silently dropped.
//!
//! What is read (everything else gets a warning):
//!
//! - `<http_server name="…">` and `<https_server name="…">`, any number, with
//!   `<port>`, `<port_type>`, `<listening_interface>`, `<keystore>` (HTTPS
//!   only) and `<client_identification>` (`<proxy_protocol_enabled>`,
//!   `<proxy_protocol_timeout_millis>`, `<skip_local_forwards>`);
//! - `<control_link_address>`, `<control_link_machine_name>`;
//! - the session settings collected in [`EngineSettings`];
//! - the socket time limits collected in [`SocketTimeouts`];
//! - `<web_server>` with `<enabled>` and `<pages_dir>`;
//! - `<healthcheck>`;
//! - `<dashboard>`: where the monitor console is served, and to whom;
//! - `<cross_domain_policy>` with its `<allow_access_from>` rules;
//! - `<adapters_dir>`: the folder of adapter sets, whose `adapters.xml`
//!   files [`load_adapter_sets`] reads (see the `adapters` module: proxy
//!   adapters for remote adapters, `LiteralBasedProvider`, and the broker
//!   data adapters `shoal.redis` and `shoal.nats`).
//!
//! Syntax follows Lightstreamer: element and attribute names are compared
//! ignoring ASCII case, values are trimmed, an element with a blank value is
//! as if it were not written, booleans are `Y` or `N`, relative paths are
//! relative to the folder of the configuration file. Lightstreamer's
//! `$name` variable expansion is not implemented: values are used as
//! written (a warning says so).
//!
//! Shoal's extensions: `<port>0</port>` asks for any free port (handy in
//! tests), and `<keystore type="PEM">` takes a PEM certificate chain in
//! `<keystore_file>` and a PEM private key in `<key_file>`.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

pub use adapters::*;

mod adapters;
mod address;
mod cx;
mod interpret;
mod xml;

/// A configuration file that was read successfully, and what in it Shoal
/// ignores.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Warning>,
}

/// Everything Shoal takes from `lightstreamer_conf.xml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Every `<http_server>` and `<https_server>`, in file order; never empty.
    pub listeners: Vec<Listener>,
    /// `<control_link_address>`: where clients send control requests and
    /// rebind (the host of this instance behind a load balancer).
    pub control_link_address: Option<ControlLink>,
    /// `<control_link_machine_name>`: the first label(s) of this instance's
    /// host name, combined with the domain the client used.
    pub control_link_machine_name: Option<String>,
    /// Session settings; `None` means Shoal's default.
    pub engine: EngineSettings,
    /// The folder served by the internal web server: `<web_server>` with
    /// `<enabled>Y</enabled>`, `<pages_dir>` resolved against the
    /// configuration folder (Lightstreamer's default `../pages` when not
    /// given). `None` when the web server is not enabled.
    pub pages_dir: Option<PathBuf>,
    /// `<healthcheck>`: where `/lightstreamer/healthcheck` answers. `None`
    /// when the element is absent: Shoal then answers it on every listener.
    pub healthcheck: Option<Healthcheck>,
    /// `<dashboard>`: where the monitor console answers and who may open
    /// it. `None` when the element is absent: Shoal then serves it on every
    /// listener, under `/dashboard`, to local clients (docs/monitor.md).
    pub dashboard: Option<Dashboard>,
    /// `<cross_domain_policy>`: which web pages of other origins may use
    /// the server. `None` when absent: only requests without `Origin` and
    /// pages of the server's own origin are accepted.
    pub cross_domain_policy: Option<CrossDomainPolicy>,
    /// Time limits of every connection.
    pub timeouts: SocketTimeouts,
    /// Bounds on session buffers (docs/limits.md).
    pub limits: Limits,
    /// `<adapters_dir>`, resolved against the configuration folder: one
    /// folder per adapter set, each with an `adapters.xml` (read with
    /// [`load_adapter_sets`]). `None` when not written: Shoal then reads no
    /// adapter sets from files (Lightstreamer's default `../adapters` is not
    /// assumed) and serves its embedded `DEMO` set.
    pub adapters_dir: Option<PathBuf>,
}

/// `<cross_domain_policy accept_credentials accept_extra_headers
/// options_max_age>` with its `<allow_access_from>` rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossDomainPolicy {
    /// `accept_credentials` (Y/N, default Y): allowed pages may send
    /// cookies and credentials.
    pub accept_credentials: bool,
    /// `accept_extra_headers`: header names a preflight may ask for beyond
    /// the CORS-safelisted ones; lower case.
    pub accept_extra_headers: Vec<String>,
    /// `options_max_age` (seconds, default 3600): how long a browser may
    /// cache a preflight answer.
    pub options_max_age: u64,
    /// `<allow_access_from>`, in file order; an origin matching one is allowed.
    pub allow: Vec<AllowAccessFrom>,
}

/// `<allow_access_from scheme="…" host="…" port="…"/>`. `None` is `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowAccessFrom {
    /// Lower case; `*` matches `http` and `https` (all three `*`: anything).
    pub scheme: Option<String>,
    pub host: AllowedHost,
    pub port: Option<u16>,
    pub line: u32,
}

/// The `host` of an `<allow_access_from>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedHost {
    /// `*`.
    Any,
    /// A host name, lower case.
    Name(String),
    /// An IPv4 or IPv6 address (compared in canonical form).
    Ip(IpAddr),
    /// `*.my-domain.com`, kept as `my-domain.com`: its subdomains, at any
    /// depth (not the domain itself).
    Subdomains(String),
}

/// `<read_timeout_millis>`, `<write_timeout_millis>` and
/// `<handshake_timeout_millis>`: `None` means not written (Shoal's default),
/// `Some(0)` no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketTimeouts {
    /// Longest wait for a request (headers, body), for the first request of
    /// a connection and between kept-alive requests.
    pub read_millis: Option<u64>,
    /// Longest time a write may make no progress.
    pub write_millis: Option<u64>,
    /// Longest TLS handshake.
    pub handshake_millis: Option<u64>,
}

/// Bounds on what sessions hold; `None` means Shoal's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// `<max_recovery_length>`: bytes of memory a session's recovery log
    /// may hold (Shoal counts each line's allocation and bookkeeping).
    pub max_recovery_length: Option<u64>,
    /// `<shoal_session_buffers_budget_mb>`: MiB of session buffers for the
    /// whole server (1 or more).
    pub session_buffers_budget_mb: Option<u64>,
    /// `<shoal_stalled_client_millis>`: how long a stream may leave data
    /// waiting before its session is closed (0: never).
    pub stalled_client_millis: Option<u64>,
    /// `<shoal_max_subscriptions_per_session>`: 1 or more.
    pub max_subscriptions_per_session: Option<u64>,
}

/// `<healthcheck>`: `<available_on_all_servers>` (default N) and the
/// listeners named by `<available_on_server name="...">`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Healthcheck {
    pub all_servers: bool,
    pub servers: Vec<String>,
}

impl Healthcheck {
    /// Whether the listener named `name` answers health checks.
    pub fn available_on(&self, name: &str) -> bool {
        self.all_servers || self.servers.iter().any(|s| s == name)
    }
}

/// `<dashboard>`: Lightstreamer's settings of its Monitoring Dashboard,
/// which Shoal applies to its monitor console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dashboard {
    /// `<public>` (default N): anyone may open the console.
    pub public: bool,
    /// Every `<user id password>`, in file order.
    pub users: Vec<DashboardUser>,
    /// `<available_on_all_servers>` (default N).
    pub all_servers: bool,
    /// The listeners named by `<available_on_server name="...">`.
    pub servers: Vec<String>,
    /// `<dashboard_url_path>` (default `/dashboard`), without a final `/`.
    pub url_path: String,
    /// `<shoal_node_name>`: this node's name in the cluster view (the
    /// first listener's name without).
    pub node_name: Option<String>,
    /// `<shoal_console_url>`: where others reach this node's console, as
    /// its `status.json` tells them (derived from the listeners without).
    pub console_url: Option<String>,
    /// Every `<shoal_cluster_node>`: the peers whose console this one
    /// watches, in file order.
    pub cluster_nodes: Vec<ClusterNode>,
    /// Line of `<dashboard>`.
    pub line: u32,
}

/// `<dashboard><shoal_cluster_node name=".." url=".." user=".."
/// password=".."/>`: a peer's console. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterNode {
    pub name: String,
    /// The peer console's absolute `http://` or `https://` URL, ending
    /// with `/`.
    pub url: String,
    /// HTTP Basic credentials for that console, when it asks for them.
    pub user: Option<String>,
    pub password: Option<String>,
    /// `ca_file`: PEM certificates of the CA that signed the peer's
    /// certificate, trusted beside the public roots (a private CA).
    pub ca_file: Option<PathBuf>,
    /// `tls_name`: the name to check the peer's certificate against, when
    /// the URL reaches the peer by another (its address, say).
    pub tls_name: Option<String>,
    /// `proxy_protocol` (Y/N, default N): the peer's listener expects a
    /// PROXY protocol header first (it sits behind a balancer that sends
    /// one), so the poll sends one too.
    pub proxy_protocol: bool,
    pub line: u32,
}

impl fmt::Debug for ClusterNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterNode")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("user", &self.user)
            .field("ca_file", &self.ca_file)
            .field("tls_name", &self.tls_name)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

impl Dashboard {
    /// Whether the listener named `name` serves the console.
    pub fn available_on(&self, name: &str) -> bool {
        self.all_servers || self.servers.iter().any(|s| s == name)
    }
}

/// `<dashboard><user id="..." password="..."/>`. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DashboardUser {
    pub id: String,
    pub password: String,
    pub line: u32,
}

impl fmt::Debug for DashboardUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DashboardUser")
            .field("id", &self.id)
            .field("password", &"***")
            .field("line", &self.line)
            .finish()
    }
}

impl Config {
    /// Whether listener `name` serves the monitor console: with no
    /// `<dashboard>`, every listener does (Shoal's default).
    pub fn dashboard_available_on(&self, name: &str) -> bool {
        self.dashboard.as_ref().is_none_or(|d| d.available_on(name))
    }

    /// The console's path: `<dashboard_url_path>`, or `/dashboard`.
    pub fn dashboard_url_path(&self) -> &str {
        self.dashboard
            .as_ref()
            .map_or(interpret::DEFAULT_DASHBOARD_PATH, |d| d.url_path.as_str())
    }
}

/// `<control_link_address>`: a host (name or IP address) and an optional
/// port. The host is kept without the brackets of an IPv6 address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlLink {
    pub host: String,
    pub port: Option<u16>,
}

impl fmt::Display for ControlLink {
    /// `host` or `host:port`; IPv6 addresses in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

/// One `<http_server>` or `<https_server>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Listener {
    /// The `name` attribute: unique among listeners; clients are told it.
    pub name: String,
    /// `true` for `<https_server>`.
    pub secure: bool,
    /// `<port>`; 0 means any free port (Shoal's extension).
    pub port: u16,
    /// `<listening_interface>`; `None` means every local address.
    pub listening_interface: Option<IpAddr>,
    pub port_type: PortType,
    /// `<keystore>`: always present for HTTPS, never for HTTP.
    pub keystore: Option<Keystore>,
    /// `<client_identification><proxy_protocol_enabled>`: connections start
    /// with a PROXY protocol (v1 or v2) header giving the client address.
    pub proxy_protocol: bool,
    /// `<client_identification><proxy_protocol_timeout_millis>`: longest wait
    /// for that header (Lightstreamer's default: 1000).
    pub proxy_protocol_timeout_millis: Option<u64>,
    /// `<client_identification><skip_local_forwards>`: how many
    /// `X-Forwarded-For` entries local proxies add; the client address is
    /// the entry that many places from the end. 0 ignores the header.
    pub skip_local_forwards: u32,
    /// Line of the `<http_server>` / `<https_server>` element.
    pub line: u32,
}

/// `<port_type>`: which requests a listener is meant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PortType {
    /// `GENERAL_PURPOSE` (the default): any request.
    #[default]
    GeneralPurpose,
    /// `CREATE_ONLY`: only session creation ("S" connections).
    CreateOnly,
    /// `CONTROL_ONLY`: only requests on existing sessions ("CR"
    /// connections); Lightstreamer enforces it.
    ControlOnly,
    /// `PRIORITY`: Lightstreamer's fast lane for internal use. Shoal has no
    /// backpressure queues to skip, so it serves it like `GENERAL_PURPOSE`.
    Priority,
}

impl PortType {
    /// The value as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            PortType::GeneralPurpose => "GENERAL_PURPOSE",
            PortType::CreateOnly => "CREATE_ONLY",
            PortType::ControlOnly => "CONTROL_ONLY",
            PortType::Priority => "PRIORITY",
        }
    }
}

/// The `type` attribute of `<keystore>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeystoreType {
    /// `JKS`, Lightstreamer's default.
    #[default]
    Jks,
    /// `PKCS12`.
    Pkcs12,
    /// `PEM` (Shoal's extension): `<keystore_file>` is the PEM certificate
    /// chain, `<key_file>` the PEM private key.
    Pem,
}

impl KeystoreType {
    /// The value as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            KeystoreType::Jks => "JKS",
            KeystoreType::Pkcs12 => "PKCS12",
            KeystoreType::Pem => "PEM",
        }
    }
}

/// `<keystore>` of an `<https_server>`. The files were opened successfully
/// when the configuration was read; their content is not checked here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keystore {
    pub kind: KeystoreType,
    /// `<keystore_file>`, resolved: the JKS or PKCS12 keystore, or the PEM
    /// certificate chain.
    pub file: PathBuf,
    /// `<keystore_password>` (`type="text"`): required for JKS and PKCS12,
    /// optional for PEM (then the passphrase of an encrypted key).
    pub password: Option<String>,
    /// `<key_file>`, resolved (PEM only): the private key. When absent with
    /// PEM, the key is expected in `file` after the certificates.
    pub key_file: Option<PathBuf>,
    /// Line of the `<keystore>` element.
    pub line: u32,
}

/// Session settings. `None` means "not written": Shoal's default applies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineSettings {
    /// `<request_limit>`: longest request accepted, in bytes.
    pub request_limit: Option<u64>,
    /// `<default_keepalive_millis>`: keepalive interval when the client asks
    /// for none.
    pub default_keepalive_millis: Option<u64>,
    /// `<min_keepalive_millis>`: lower bound of a client's keepalive.
    pub min_keepalive_millis: Option<u64>,
    /// `<max_keepalive_millis>`: upper bound of a client's keepalive.
    pub max_keepalive_millis: Option<u64>,
    /// `<content_length><default>`: bytes of an HTTP streaming response
    /// before it is closed (and the longest poll response).
    pub content_length: Option<u64>,
    /// `<max_polling_millis>`: longest wait between polls a client may ask.
    pub max_polling_millis: Option<u64>,
    /// `<max_idle_millis>`: longest wait of a poll for data.
    pub max_idle_millis: Option<u64>,
    /// `<session_timeout_millis>`: how long a session without a connection
    /// waits for the client to rebind.
    pub session_timeout_millis: Option<u64>,
    /// `<session_recovery_millis>`: how long a session waits for a recovery
    /// after a connection broke (0: no recovery).
    pub session_recovery_millis: Option<u64>,
    /// `<max_buffer_size>`: most events queued per item of a session.
    pub max_buffer_size: Option<u64>,
    /// `<max_sessions>`: most sessions at once.
    pub max_sessions: Option<u64>,
    /// `<max_session_duration_minutes>`: sessions are closed after this
    /// long (0: no limit).
    pub max_session_duration_minutes: Option<u64>,
    /// `<missing_message_timeout_millis>`: longest wait for a missing
    /// message of a sequence.
    pub missing_message_timeout_millis: Option<u64>,
    /// `<max_delay_millis>`: longest time a stream may hold updates to pack
    /// more of them into one write (Lightstreamer's default, 0: none).
    pub max_delay_millis: Option<u64>,
}

/// Why a configuration cannot be used.
///
/// Shown as `{file}:{line}: <{element}>: {message}`; the `:{line}` part is
/// left out when there is no line (the file could not be read), the
/// `<{element}>: ` part when there is no element.
///
/// `element` is a path from the root, e.g.
/// `lightstreamer_conf/https_server[name="My HTTPS Server"]/keystore/keystore_file`;
/// an attribute ends the path with `/@name`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(&self.file, self.line, &self.element, &self.message))]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<u32>,
    pub element: String,
    pub message: String,
}

/// Something in the file Shoal reads but does not act upon. Shown like
/// [`ConfigError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub file: PathBuf,
    pub line: Option<u32>,
    pub element: String,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render(&self.file, self.line, &self.element, &self.message))
    }
}

fn render(file: &Path, line: Option<u32>, element: &str, message: &str) -> String {
    let mut out = file.display().to_string();
    if let Some(line) = line {
        out.push_str(&format!(":{line}"));
    }
    out.push_str(": ");
    if !element.is_empty() {
        out.push_str(&format!("<{element}>: "));
    }
    out.push_str(message);
    out
}

/// Reads and checks the configuration file at `path`. Relative paths inside
/// it resolve against the folder that contains it.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let text = read_text(path, "configuration file")?;
    parse(&text, path)
}

/// The text of a file, or why it cannot be read (`what` names the file in
/// the message).
pub(crate) fn read_text(path: &Path, what: &str) -> Result<String, ConfigError> {
    let bytes = std::fs::read(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        line: None,
        element: String::new(),
        message: format!("cannot read the {what}: {e}"),
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let line =
            xml::Lines::new(&String::from_utf8_lossy(&e.as_bytes()[..offset])).line_of(offset);
        ConfigError {
            file: path.to_path_buf(),
            line: Some(line),
            element: String::new(),
            message: "the file is not valid UTF-8".to_owned(),
        }
    })
}

/// Checks the configuration in `text`. `file` names it in messages, and its
/// folder is the base of relative paths (keystores are opened to check they
/// are readable).
pub fn parse(text: &str, file: &Path) -> Result<Loaded, ConfigError> {
    interpret::interpret(text, file)
}
