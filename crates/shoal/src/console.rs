//! The monitor console of `shoal serve`: who may open it and where (from
//! `<dashboard>`, or Shoal's default without one), its token, and the
//! internal `MONITOR` adapter set that feeds it.

use shoal_adapter::AdapterSet;
use shoal_config::{AdapterSets, Config, DataSource};
use shoal_monitor::{AdapterInfo, Monitor, NodeInfo, Peer, Policy};
use shoal_transport::console::{Console, ConsoleAccess, ConsoleUser};
use shoal_transport::ListenerConfig;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

/// The console's settings for this run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub console: Arc<Console>,
    /// What each data adapter of the adapters folder is, by
    /// `<set>/<adapter>`.
    pub kinds: HashMap<String, &'static str>,
    pub control_link: Option<String>,
    /// The control link's host (IPv6 in brackets), for a derived console
    /// URL.
    pub control_host: Option<String>,
    /// `<shoal_console_url>`, if given.
    pub console_url: Option<String>,
    /// `<shoal_node_name>`, if given.
    pub node_name: Option<String>,
    /// The peers of `<shoal_cluster_node>`.
    pub peers: Vec<Peer>,
}

/// The console's access as `<dashboard>` says (`None`: Shoal's default,
/// local clients only, under `/dashboard`).
pub fn access(config: Option<&Config>) -> ConsoleAccess {
    let dashboard = config.and_then(|c| c.dashboard.as_ref());
    ConsoleAccess {
        path: config
            .map_or("/dashboard", |c| c.dashboard_url_path())
            .to_owned(),
        public: dashboard.is_some_and(|d| d.public),
        users: dashboard
            .map(|d| {
                d.users
                    .iter()
                    .map(|u| ConsoleUser {
                        id: u.id.clone(),
                        password: u.password.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

impl Plan {
    pub fn new(config: Option<&Config>, sets: Option<&AdapterSets>) -> anyhow::Result<Self> {
        let dashboard = config.and_then(|c| c.dashboard.as_ref());
        let console = Console::new(access(config), shoal_monitor::new_token());
        let peers = match dashboard {
            Some(d) => peers(d)?,
            None => Vec::new(),
        };
        Ok(Self {
            console: Arc::new(console),
            kinds: sets.map(kinds).unwrap_or_default(),
            control_link: config
                .and_then(|c| c.control_link_address.as_ref())
                .map(ToString::to_string),
            control_host: config
                .and_then(|c| c.control_link_address.as_ref())
                .map(|l| match l.host.contains(':') {
                    true => format!("[{}]", l.host),
                    false => l.host.clone(),
                }),
            console_url: dashboard.and_then(|d| d.console_url.clone()),
            node_name: dashboard.and_then(|d| d.node_name.clone()),
            peers,
        })
    }

    /// Serves `status.json` from the monitor's samples and starts polling
    /// the listed peers.
    pub fn attach(&self, monitor: &Monitor) {
        let m = monitor.clone();
        self.console
            .set_status(Arc::new(move || m.status().map(|s| s.to_json())));
        monitor.watch_peers(self.peers.clone());
    }

    /// Where others reach this console: `<shoal_console_url>`, else the
    /// first listener serving it (by the control link's host when it
    /// listens on every interface, else by loopback).
    fn console_url(&self, listeners: &[(&ListenerConfig, SocketAddr, &str)]) -> String {
        if let Some(url) = &self.console_url {
            return url.clone();
        }
        let path = &self.console.access.path;
        let Some((_, addr, scheme)) = listeners.iter().find(|(c, _, _)| c.console.is_some()) else {
            return String::new();
        };
        let host = match &self.control_host {
            Some(host) if addr.ip().is_unspecified() => format!("{host}:{}", addr.port()),
            _ => crate::browsable(*addr).to_string(),
        };
        format!("{scheme}://{host}{path}/")
    }

    /// Serves the console on the listeners where it is available.
    pub fn mount(&self, config: Option<&Config>, conf: &mut ListenerConfig) {
        if config.is_none_or(|c| c.dashboard_available_on(&conf.server_name)) {
            conf.console = Some(self.console.clone());
        }
    }

    /// The `MONITOR` set for listeners already bound (`(conf, address,
    /// scheme)`), listing `sets`' data adapters.
    pub fn monitor(
        &self,
        listeners: &[(&ListenerConfig, SocketAddr, &str)],
        sets: &[AdapterSet],
    ) -> (Monitor, AdapterSet) {
        let node = NodeInfo {
            name: self.node_name.clone().unwrap_or_else(|| {
                listeners
                    .first()
                    .map_or("Shoal".to_owned(), |(c, _, _)| c.server_name.clone())
            }),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            pid: std::process::id(),
            started: SystemTime::now(),
            listeners: listeners
                .iter()
                .map(|(c, addr, scheme)| format!("{}={addr} ({scheme})", c.server_name))
                .collect(),
            control_link: self.control_link.clone(),
            console_url: self.console_url(listeners),
        };
        Monitor::new(node, self.policy(listeners), self.adapters(sets))
    }

    /// Who may log into `MONITOR`: the console's access, its token, and
    /// the listeners that serve it.
    fn policy(&self, listeners: &[(&ListenerConfig, SocketAddr, &str)]) -> Policy {
        let on: Vec<&ListenerConfig> = listeners
            .iter()
            .map(|(c, _, _)| *c)
            .filter(|c| c.console.is_some())
            .collect();
        Policy {
            access: self.console.access.clone(),
            token: self.console.token.clone(),
            listeners: on.iter().map(|c| c.server_name.clone()).collect(),
            trusts_forwards: !on.is_empty() && on.iter().all(|c| c.trusted_forwards > 0),
        }
    }

    /// Every data adapter of `sets`, and `MONITOR`'s own, by key.
    fn adapters(&self, sets: &[AdapterSet]) -> Vec<AdapterInfo> {
        let mut adapters: Vec<AdapterInfo> = sets
            .iter()
            .flat_map(|s| s.data.keys().map(move |a| (s.name.clone(), a.clone())))
            .map(|(set, adapter)| {
                let kind = self
                    .kinds
                    .get(&format!("{set}/{adapter}"))
                    .copied()
                    .unwrap_or(if set == shoal_demo::ADAPTER_SET {
                        "demo"
                    } else {
                        "custom"
                    });
                AdapterInfo {
                    set,
                    adapter,
                    kind: kind.to_owned(),
                }
            })
            .collect();
        adapters.push(AdapterInfo {
            set: shoal_monitor::ADAPTER_SET.to_owned(),
            adapter: shoal_monitor::DATA_ADAPTER.to_owned(),
            kind: "monitor".to_owned(),
        });
        adapters.sort_by_key(AdapterInfo::key);
        adapters
    }
}

/// The `<shoal_cluster_node>`s, as pollers take them. A `ca_file` that
/// holds no usable certificate stops the start, naming the element's line.
fn peers(d: &shoal_config::Dashboard) -> anyhow::Result<Vec<Peer>> {
    d.cluster_nodes
        .iter()
        .map(|n| {
            let mut peer = Peer::new(&n.name, &n.url, n.user.clone(), n.password.clone());
            if let Some(name) = &n.tls_name {
                peer = peer.named(name);
            }
            if n.proxy_protocol {
                peer = peer.with_proxy_protocol();
            }
            match &n.ca_file {
                None => Ok(peer),
                Some(ca) => peer.trusting(ca).map_err(|e| {
                    anyhow::anyhow!(
                        "<dashboard><shoal_cluster_node name=\"{}\"> (line {}): ca_file {e}",
                        n.name,
                        n.line
                    )
                }),
            }
        })
        .collect()
}

/// What serves each data adapter of the adapters folder.
fn kinds(sets: &AdapterSets) -> HashMap<String, &'static str> {
    let mut out = HashMap::new();
    for set in &sets.sets {
        for d in &set.data {
            let kind = match &d.source {
                DataSource::Remote(_) => "remote",
                DataSource::Broker(feed) => match feed.kind {
                    shoal_config::BrokerKind::Redis => "redis",
                    shoal_config::BrokerKind::Nats => "nats",
                },
                DataSource::Memory(_) => "memory",
            };
            out.insert(format!("{}/{}", set.id, d.name), kind);
        }
    }
    out
}

/// One line for `shoal check-config`: where the console is and who may
/// open it.
pub fn summary(config: &Config) -> String {
    let a = access(Some(config));
    let names: Vec<String> = config
        .listeners
        .iter()
        .filter(|l| config.dashboard_available_on(&l.name))
        .map(|l| format!("\"{}\"", l.name))
        .collect();
    if names.is_empty() {
        return "monitor console: nowhere (<dashboard> names no listener; add \
                <available_on_server> or <available_on_all_servers>Y)"
            .to_owned();
    }
    let on = if names.len() == config.listeners.len() {
        "every listener".to_owned()
    } else {
        format!("listeners {}", names.join(", "))
    };
    let who = if a.public {
        "anyone (public)".to_owned()
    } else if a.users.is_empty() {
        "local clients only (loopback, not forwarded)".to_owned()
    } else {
        format!(
            "local clients and {} user(s) with HTTP Basic",
            a.users.len()
        )
    };
    format!("monitor console: {}/ on {on}; open to {who}", a.path)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn config(dashboard: &str) -> Config {
        let text = format!(
            "<lightstreamer_conf>\
             <http_server name=\"A\"><port>0</port></http_server>\
             <http_server name=\"B\"><port>0</port><listening_interface>127.0.0.2</listening_interface>\
             <client_identification><skip_local_forwards>1</skip_local_forwards></client_identification></http_server>\
             {dashboard}</lightstreamer_conf>"
        );
        shoal_config::parse(&text, &std::env::temp_dir().join("c.xml"))
            .unwrap()
            .config
    }

    fn mounted(c: &Config) -> (Plan, Vec<ListenerConfig>) {
        let plan = Plan::new(Some(c), None).unwrap();
        let confs = crate::settings::listeners(c)
            .into_iter()
            .map(|mut p| {
                plan.mount(Some(c), &mut p.conf);
                p.conf
            })
            .collect();
        (plan, confs)
    }

    #[test]
    fn the_console_is_mounted_where_available_with_one_token() {
        let (_, all) = mounted(&config(""));
        assert!(all.iter().all(|l| l.console.is_some()));
        let token = &all[0].console.as_ref().unwrap().token;
        assert_eq!(token.len(), 32);
        assert_eq!(&all[1].console.as_ref().unwrap().token, token);

        let (_, some) = mounted(&config(
            "<dashboard><available_on_server name=\"B\"/></dashboard>",
        ));
        assert!(some[0].console.is_none() && some[1].console.is_some());
    }

    #[test]
    fn the_monitor_set_knows_the_console_listeners_and_their_trust() {
        let c = config("<dashboard><available_on_server name=\"B\"/></dashboard>");
        let (plan, confs) = mounted(&c);
        let addr: SocketAddr = "127.0.0.2:8080".parse().unwrap();
        let bound: Vec<(&ListenerConfig, SocketAddr, &str)> =
            confs.iter().map(|l| (l, addr, "http")).collect();
        let (_, set) = plan.monitor(&bound, &[shoal_demo::adapter_set()]);
        assert_eq!(set.name, "MONITOR");
        assert!(set.ignores_control_link);
        // Only B serves the console, and B trusts one forward.
        let policy = plan.policy(&bound);
        assert_eq!(policy.listeners, ["B"]);
        assert!(policy.trusts_forwards);
        assert_eq!(policy.token, plan.console.token);
        let kinds: Vec<(String, String)> = plan
            .adapters(&[shoal_demo::adapter_set()])
            .into_iter()
            .map(|a| (a.key(), a.kind))
            .collect();
        assert_eq!(kinds[0], ("DEMO/CHAT_ROOM".to_owned(), "demo".to_owned()));
        assert_eq!(
            kinds.last(),
            Some(&("MONITOR/DEFAULT".to_owned(), "monitor".to_owned()))
        );
    }
}
