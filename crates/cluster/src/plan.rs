//! A concrete cluster for one option: the nodes' listeners, the balancer's
//! frontends and backends, host names, certificates. Renderers turn it into
//! files; nothing here touches the disk.

use crate::topology::{self, CrRoute, Topology};
use std::net::Ipv4Addr;

/// What the operator chooses; `Default` runs on one machine.
#[derive(Debug, Clone)]
pub struct Options {
    pub topology: String,
    pub multihosting: bool,
    pub nodes: usize,
    pub domain: String,
    pub other_domain: String,
    /// The first three octets of every address (`127.0.10`).
    pub network: [u8; 3],
    pub http_port: u16,
    pub https_port: u16,
    /// The second HTTPS port of a node (the guide's 444).
    pub https_port2: u16,
    /// Whether the balancer lets WebSocket upgrades through (level 7 only).
    pub balancer_websocket: bool,
    pub keystore_password: String,
    pub balancer: Balancer,
    /// A broker shared by every node, serving the adapter set `FEED`.
    pub feed: Option<Feed>,
    /// keepalived (VRRP) moves a dead node's public address to a live node,
    /// for the options whose control link names a node's own address.
    pub vrrp: bool,
    /// The network interface of the node hosts that holds their addresses.
    pub vrrp_interface: String,
    /// Origins of web pages of other sites that use the kit
    /// (`--page-origin`), beside the kit's own domains.
    pub page_origins: Vec<String>,
}

/// The load balancer a kit configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balancer {
    Haproxy,
    Nginx,
}

impl Balancer {
    pub fn as_str(self) -> &'static str {
        match self {
            Balancer::Haproxy => "haproxy",
            Balancer::Nginx => "nginx",
        }
    }

    /// The configuration file in the kit.
    pub fn config_file(self) -> &'static str {
        match self {
            Balancer::Haproxy => "haproxy.cfg",
            Balancer::Nginx => "nginx.conf",
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            topology: "1.A.2".into(),
            multihosting: false,
            nodes: 2,
            domain: "example.test".into(),
            other_domain: "example2.test".into(),
            network: [127, 0, 10],
            http_port: 8080,
            https_port: 8443,
            https_port2: 8444,
            balancer_websocket: true,
            keystore_password: "shoal-kit".into(),
            balancer: Balancer::Haproxy,
            feed: None,
            vrrp: false,
            vrrp_interface: "eth0".into(),
            page_origins: Vec::new(),
        }
    }
}

/// The broker of a kit's shared feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    Redis,
    Nats,
}

impl Feed {
    pub fn as_str(self) -> &'static str {
        match self {
            Feed::Redis => "redis",
            Feed::Nats => "nats",
        }
    }

    /// The broker's name in prose.
    pub fn title(self) -> &'static str {
        match self {
            Feed::Redis => "Redis",
            Feed::Nats => "NATS server",
        }
    }

    /// The server program, and the Debian package that installs it.
    pub fn server(self) -> (&'static str, &'static str) {
        match self {
            Feed::Redis => ("redis-server", "redis-server"),
            Feed::Nats => ("nats-server", "nats-server"),
        }
    }

    /// The broker's usual port.
    pub fn port(self) -> u16 {
        match self {
            Feed::Redis => 6379,
            Feed::Nats => 4222,
        }
    }

    /// The `adapter_class` of Shoal's data adapter for this broker.
    pub fn adapter_class(self) -> &'static str {
        match self {
            Feed::Redis => "shoal.redis",
            Feed::Nats => "shoal.nats",
        }
    }
}

/// The broker a kit runs for all its nodes.
#[derive(Debug, Clone)]
pub struct FeedPlan {
    pub kind: Feed,
    pub address: Ipv4Addr,
    pub port: u16,
    /// `publish_token` of every node's FEED adapter: new for each kit.
    pub publish_token: String,
}

impl FeedPlan {
    /// The adapter's `url` param.
    pub fn url(&self) -> String {
        match self.kind {
            Feed::Redis => format!("redis://{}:{}/0", self.address, self.port),
            Feed::Nats => format!("nats://{}:{}", self.address, self.port),
        }
    }

    /// The broker's data folder, inside the kit.
    pub fn data_dir(&self) -> String {
        format!("{}-data", self.kind.as_str())
    }
}

/// 32 hex digits from rand's thread generator (a CSPRNG seeded by the
/// operating system).
pub fn new_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Why a plan cannot be made; the message names the option at fault.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("unknown topology '{0}': the guide's options are {ids}", ids = topology::ids())]
    UnknownTopology(String),
    #[error("option {0} has no multihosting variant in the guide; the ones that do are {1}")]
    NoMultihosting(&'static str, String),
    #[error("--nodes {0}: a kit has 2 to 9 nodes")]
    Nodes(usize),
    #[error("--balancer-websocket off: in option {0} the balancer works at level 4 (TCP) and cannot tell WebSocket apart")]
    WebsocketAtL4(&'static str),
    #[error("{0}: {1}")]
    Invalid(&'static str, String),
    #[error("--vrrp: in option {0} control and rebind requests pass through the balancer, so no node's own address needs to move; --vrrp applies to the options whose control link names a node's own address, reached directly: {1}")]
    Vrrp(&'static str, String),
}

/// A certificate the kit needs, named by the host name it covers (one name,
/// or a wildcard); or a set of certificates, one keystore entry per name,
/// that a node picks from by the name the client asks for (SNI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cert {
    /// The one name; for a set, the label of its file (`push1-3.<domain>`).
    pub name: String,
    /// The names of a set, one certificate each (empty: not a set).
    pub set: Vec<String>,
}

impl Cert {
    pub(crate) fn for_name(name: &str) -> Cert {
        Cert {
            name: name.to_owned(),
            set: Vec::new(),
        }
    }

    /// Every node's name `pushK.<domain>`, one certificate each, in one
    /// keystore `push1-N.<domain>`.
    pub(crate) fn every_node(domain: &str, nodes: usize) -> Cert {
        Cert {
            name: format!("push1-{nodes}.{domain}"),
            set: (1..=nodes).map(|k| format!("push{k}.{domain}")).collect(),
        }
    }

    /// The names of its certificates: the set's, or the one name.
    pub fn names(&self) -> Vec<&str> {
        if self.set.is_empty() {
            vec![self.name.as_str()]
        } else {
            self.set.iter().map(String::as_str).collect()
        }
    }

    /// The name a client reaching node `k` (from 1), called `node`, asks
    /// for: the set's entry of node K, a name under a wildcard, or the name.
    pub fn name_for_node(&self, k: usize, node: &str) -> String {
        if let Some(name) = self.set.get(k.wrapping_sub(1)) {
            return name.clone();
        }
        match self.name.strip_prefix("*.") {
            Some(domain) => format!("{node}.{domain}"),
            None => self.name.clone(),
        }
    }

    /// File stem: the name, `*` spelled `wildcard`.
    pub fn stem(&self) -> String {
        self.name.replacen('*', "wildcard", 1)
    }
}

#[derive(Debug, Clone)]
pub struct Listener {
    pub name: String,
    pub address: Ipv4Addr,
    pub port: u16,
    /// The certificate of an HTTPS listener; `None` for HTTP.
    pub cert: Option<Cert>,
    /// Reached only through a level-4 balancer that sends a PROXY header.
    pub proxy_protocol: bool,
    /// Reached only through a level-7 balancer that adds X-Forwarded-For.
    pub trusted_forwards: u8,
    /// Listens on every interface (`--vrrp`): `address` is where clients
    /// reach it by name, which keepalived may move to another node.
    pub wildcard: bool,
}

impl Listener {
    pub fn scheme(&self) -> &'static str {
        if self.cert.is_some() {
            "https"
        } else {
            "http"
        }
    }
}

#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub listeners: Vec<Listener>,
    pub control_link_address: Option<String>,
    pub control_link_machine_name: Option<String>,
    /// How to reach the node itself, bypassing the balancer.
    pub direct_url: String,
    /// With `--vrrp`: the host's own address and the public one that
    /// keepalived moves.
    pub vrrp: Option<NodeAddresses>,
}

/// A node host's addresses with `--vrrp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeAddresses {
    /// The host's own fixed address (100+K): the balancer, the consoles and
    /// keepalived's messages use it.
    pub private: Ipv4Addr,
    /// Node K's public address (200+K), its control link's: a VRRP virtual
    /// address, on node K while it is healthy, else on another node.
    pub public: Ipv4Addr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sticky {
    None,
    Cookie,
    SourceIp,
}

/// A group of node listeners the balancer forwards to.
#[derive(Debug, Clone)]
pub struct Backend {
    pub name: String,
    /// Index into every node's `listeners`.
    pub listener: usize,
    pub members: Members,
    pub sticky: Sticky,
}

/// The nodes behind a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Members {
    /// Every node, balanced.
    All,
    /// Node `k` (from 1); with `backups`, then the others in turn, so a
    /// request for a dead node is answered by a live one, which tells the
    /// client to start over at once instead of retrying.
    Node { k: usize, backups: bool },
}

impl Backend {
    /// Node K first, the others only when it fails.
    pub fn fails_over(&self) -> bool {
        matches!(self.members, Members::Node { backups: true, .. })
    }
}

/// A server of a backend: a node's listener, and whether it only stands in
/// for the backend's own node.
#[derive(Debug, Clone, Copy)]
pub struct Server<'a> {
    pub node: &'a Node,
    pub listener: &'a Listener,
    /// Where the balancer connects (`Plan::reach`).
    pub address: Ipv4Addr,
    pub backup: bool,
}

/// An address the balancer listens on.
#[derive(Debug, Clone)]
pub struct Frontend {
    pub name: String,
    pub address: Ipv4Addr,
    pub port: u16,
    /// Level 7 (HTTP) or level 4 (TCP).
    pub http: bool,
    /// TLS terminated here (offload), with this certificate.
    pub offload: Option<Cert>,
    pub default_backend: String,
    /// Host name -> backend (level 7 only).
    pub host_routes: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub topology: &'static Topology,
    pub options: Options,
    pub domains: Vec<String>,
    pub nodes: Vec<Node>,
    pub frontends: Vec<Frontend>,
    pub backends: Vec<Backend>,
    pub certs: Vec<Cert>,
    /// Address -> names, in order of first use.
    pub hosts: Vec<(Ipv4Addr, Vec<String>)>,
    /// The shared broker, with `--feed`.
    pub feed: Option<FeedPlan>,
    /// `--page-origin`s, checked.
    pub page_origins: Vec<crate::origins::PageOrigin>,
}

impl Plan {
    pub fn https(&self) -> bool {
        self.topology.https
    }

    pub fn cr_route(&self) -> CrRoute {
        self.topology.cr_route
    }

    /// Whether a backend is reached from a level-7 (HTTP) frontend.
    pub fn is_level7(&self, b: &Backend) -> bool {
        self.frontends.iter().any(|f| {
            f.http
                && (f.default_backend == b.name || f.host_routes.iter().any(|(_, r)| *r == b.name))
        })
    }

    /// The servers of a backend, in the order a balancer tries them: the
    /// backend's own node first.
    pub fn servers(&self, b: &Backend) -> Vec<Server<'_>> {
        let mut order: Vec<usize> = (1..=self.nodes.len()).collect();
        if let Members::Node { k, backups } = b.members {
            order.retain(|&i| i == k || backups);
            order.sort_by_key(|&i| i != k);
        }
        order
            .into_iter()
            .filter_map(|i| {
                let node = &self.nodes[i - 1];
                let listener = node.listeners.get(b.listener)?;
                let backup = matches!(b.members, Members::Node { k, .. } if k != i);
                Some(Server {
                    node,
                    listener,
                    address: self.reach(node, listener),
                    backup,
                })
            })
            .collect()
    }

    /// The address that reaches a node's listener from inside the network
    /// (the balancer, the consoles): its own, or with `--vrrp` the node
    /// host's private address, which never moves.
    pub fn reach(&self, node: &Node, l: &Listener) -> Ipv4Addr {
        match node.vrrp {
            Some(a) if l.wildcard => a.private,
            _ => l.address,
        }
    }

    /// Whether control and rebind requests go straight to a node's own
    /// public address (named by its control link): where `--vrrp` applies.
    pub fn cr_direct_to_node(&self) -> bool {
        self.cr_route() == CrRoute::ControlLink && !self.cr_through_balancer()
    }

    /// The URLs clients are given: `push.<domain>`, one per domain.
    pub fn public_urls(&self) -> Vec<String> {
        let (scheme, port) = if self.https() {
            ("https", self.options.https_port)
        } else {
            ("http", self.options.http_port)
        };
        self.domains
            .iter()
            .map(|d| format!("{scheme}://push.{d}:{port}"))
            .collect()
    }

    /// Whether control and rebind requests pass through the balancer: by
    /// its stickiness, or because the control link names one of its
    /// addresses.
    pub fn cr_through_balancer(&self) -> bool {
        match self.cr_route() {
            CrRoute::Cookie | CrRoute::SourceIp => true,
            CrRoute::ControlLink => self.nodes.iter().any(|n| {
                n.control_link_address
                    .as_deref()
                    .and_then(|h| self.address_of(h))
                    .is_some_and(|a| self.frontends.iter().any(|f| f.address == a))
            }),
        }
    }

    /// Whether clients get WebSocket: always, unless the balancer refuses
    /// upgrades and their control and rebind requests pass through it.
    pub fn websocket_expected(&self) -> bool {
        self.options.balancer_websocket || !self.cr_through_balancer()
    }

    pub fn address_of(&self, name: &str) -> Option<Ipv4Addr> {
        self.hosts
            .iter()
            .find(|(_, names)| names.iter().any(|n| n == name))
            .map(|(a, _)| *a)
    }

    pub(crate) fn add_host(&mut self, address: Ipv4Addr, name: String) {
        match self.hosts.iter_mut().find(|(a, _)| *a == address) {
            Some((_, names)) if names.contains(&name) => {}
            Some((_, names)) => names.push(name),
            None => self.hosts.push((address, vec![name])),
        }
    }

    /// Whether a node serves this certificate (the kit has its PKCS12
    /// keystore `<stem>.keystore`).
    pub fn cert_on_nodes(&self, cert: &Cert) -> bool {
        self.nodes
            .iter()
            .flat_map(|n| &n.listeners)
            .any(|l| l.cert.as_ref() == Some(cert))
    }

    /// Whether the balancer terminates TLS with this certificate (the kit
    /// has `<stem>.pem`, certificate and key).
    pub fn cert_on_balancer(&self, cert: &Cert) -> bool {
        self.frontends
            .iter()
            .any(|f| f.offload.as_ref() == Some(cert))
    }

    pub(crate) fn add_cert(&mut self, cert: &Cert) {
        if !self.certs.contains(cert) {
            self.certs.push(cert.clone());
        }
    }
}

/// Makes the plan for `opts`.
pub fn plan(opts: &Options) -> Result<Plan, PlanError> {
    let t = topology::find(&opts.topology)
        .ok_or_else(|| PlanError::UnknownTopology(opts.topology.clone()))?;
    if opts.multihosting && !t.multihosting {
        let with: Vec<_> = topology::TOPOLOGIES
            .iter()
            .filter(|t| t.multihosting)
            .map(|t| t.id)
            .collect();
        return Err(PlanError::NoMultihosting(t.id, with.join(", ")));
    }
    if !(2..=9).contains(&opts.nodes) {
        return Err(PlanError::Nodes(opts.nodes));
    }
    check_domain("--domain", &opts.domain)?;
    if opts.multihosting {
        check_domain("--other-domain", &opts.other_domain)?;
        if opts.other_domain.eq_ignore_ascii_case(&opts.domain) {
            return Err(PlanError::Invalid(
                "--other-domain",
                "must differ from --domain".into(),
            ));
        }
    }
    if opts.keystore_password.is_empty() || opts.keystore_password.contains(['<', '&']) {
        return Err(PlanError::Invalid(
            "--keystore-password",
            "must be non-empty, without '<' or '&'".into(),
        ));
    }
    let page_origins = opts
        .page_origins
        .iter()
        .map(|o| crate::origins::PageOrigin::parse(o))
        .collect::<Result<Vec<_>, _>>()?;
    let mut domains = vec![opts.domain.to_ascii_lowercase()];
    if opts.multihosting {
        domains.push(opts.other_domain.to_ascii_lowercase());
    }
    let mut plan = Plan {
        topology: t,
        options: opts.clone(),
        domains,
        nodes: Vec::new(),
        frontends: Vec::new(),
        backends: Vec::new(),
        certs: Vec::new(),
        hosts: Vec::new(),
        feed: None,
        page_origins,
    };
    crate::layout::lay_out(&mut plan)?;
    if opts.vrrp {
        if !plan.cr_direct_to_node() {
            return Err(PlanError::Vrrp(t.id, vrrp_options().join(", ")));
        }
        check_interface(&opts.vrrp_interface)?;
    }
    check_sockets(&plan)?;
    if !opts.balancer_websocket && !plan.frontends.iter().any(|f| f.http) {
        return Err(PlanError::WebsocketAtL4(t.id));
    }
    Ok(plan)
}

fn check_domain(what: &'static str, d: &str) -> Result<(), PlanError> {
    // The certificates' rule: a kit's names must be usable in them.
    let why = if d.contains('*') {
        Some("a wildcard is not a domain")
    } else {
        shoal_certgen::check_dns_name(d).err()
    };
    match why {
        None => Ok(()),
        Some(why) => Err(PlanError::Invalid(
            what,
            format!("'{d}' is not a domain name like example.com: {why}"),
        )),
    }
}

/// The options `--vrrp` applies to: those whose control link names a
/// node's own address, reached directly.
pub fn vrrp_options() -> Vec<&'static str> {
    topology::TOPOLOGIES
        .iter()
        .filter(|t| {
            plan(&Options {
                topology: t.id.into(),
                ..Options::default()
            })
            .is_ok_and(|p| p.cr_direct_to_node())
        })
        .map(|t| t.id)
        .collect()
}

/// An interface name as Linux takes it (at most 15 bytes, no white space
/// or `/`), without what would break keepalived's file.
fn check_interface(name: &str) -> Result<(), PlanError> {
    let bad = |c: char| c.is_whitespace() || c.is_control() || "/\"{}#!".contains(c);
    if name.is_empty() || name.len() > 15 || name.contains(bad) {
        return Err(PlanError::Invalid(
            "--vrrp-interface",
            format!("'{name}' is not a network interface name like eth0 (1 to 15 characters, no spaces, quotes, braces or '/')"),
        ));
    }
    Ok(())
}

/// Every address and port is one socket: the balancer's and the nodes'. A
/// listener on every interface (`--vrrp`) takes its port on its node's
/// host, whatever the address.
fn check_sockets(p: &Plan) -> Result<(), PlanError> {
    let mut seen = std::collections::HashSet::new();
    let sockets = p
        .frontends
        .iter()
        .map(|f| (None, f.address, f.port))
        .chain(p.nodes.iter().enumerate().flat_map(|(i, n)| {
            n.listeners.iter().map(move |l| {
                if l.wildcard {
                    (Some(i), Ipv4Addr::UNSPECIFIED, l.port)
                } else {
                    (None, l.address, l.port)
                }
            })
        }))
        .chain(p.feed.iter().map(|f| (None, f.address, f.port)));
    for (node, address, port) in sockets {
        if !seen.insert((node, address, port)) {
            let what = match node {
                Some(i) => format!(
                    "node{} would listen on port {port} twice (with --vrrp every listener takes every interface)",
                    i + 1
                ),
                None => format!("{address}:{port} would be used twice"),
            };
            return Err(PlanError::Invalid(
                "--http-port/--https-port/--https-port2",
                format!("{what} in option {}; give different ports", p.topology.id),
            ));
        }
    }
    Ok(())
}
