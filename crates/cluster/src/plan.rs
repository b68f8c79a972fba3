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
        }
    }
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
    #[error("--balancer nginx: {0}")]
    Nginx(String),
}

/// A certificate the kit needs, named by the host names it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cert {
    /// File stem: the first name, `*` spelled `wildcard`.
    pub stem: String,
    pub names: Vec<String>,
}

impl Cert {
    pub(crate) fn for_name(name: &str) -> Cert {
        Cert {
            stem: name.replacen('*', "wildcard", 1),
            names: vec![name.to_owned()],
        }
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
    /// `None`: every node, balanced. `Some(k)`: node k, then (with
    /// `with_backups`) the others in turn, so a request for a dead node is
    /// answered by a live one, which tells the client to start over at once
    /// instead of retrying.
    pub only: Option<usize>,
    pub with_backups: bool,
    pub sticky: Sticky,
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
    pub public_urls: Vec<String>,
    pub websocket_expected: bool,
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
        public_urls: Vec::new(),
        websocket_expected: true,
    };
    crate::layout::lay_out(&mut plan)?;
    if opts.balancer == Balancer::Nginx {
        if let Some(why) = crate::nginx::unsupported(&plan) {
            return Err(PlanError::Nginx(why));
        }
    }
    let l7_cr = plan.frontends.iter().any(|f| f.http)
        && matches!(
            t.id,
            "1.A.2" | "2.A.2" | "1.B.1" | "4" | "2.B.1.3" | "2.B.2.3"
        );
    if !opts.balancer_websocket {
        if !plan.frontends.iter().any(|f| f.http) {
            return Err(PlanError::WebsocketAtL4(t.id));
        }
        plan.websocket_expected = !l7_cr;
    }
    Ok(plan)
}

fn check_domain(what: &'static str, d: &str) -> Result<(), PlanError> {
    let ok = !d.is_empty()
        && d.contains('.')
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err(PlanError::Invalid(
            what,
            format!("'{d}' is not a domain name like example.com"),
        ))
    }
}
