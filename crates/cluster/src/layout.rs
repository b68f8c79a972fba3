//! Where everything of each option goes: the guide's tables, with its
//! fictitious addresses replaced by a plan of our own (see `addr`).

use crate::plan::{
    new_token, Backend, Cert, FeedPlan, Frontend, Listener, Members, Node, NodeAddresses, Plan,
    PlanError, Sticky,
};
use std::net::Ipv4Addr;

/// Addresses by role, last octet: the shared broker (`--feed`) 5, balancer
/// 10 (+K for node K's own address, +10 for the second domain), node K
/// 100+K (+10 for the second domain), node K's public address 200+K.
#[derive(Debug, Clone, Copy)]
enum Addr {
    Broker,
    Vip { domain: usize, node: Option<usize> },
    Private { node: usize, domain: usize },
    Public { node: usize },
}

fn ip(p: &Plan, a: Addr) -> Ipv4Addr {
    let last = match a {
        Addr::Broker => 5,
        Addr::Vip { domain, node } => 10 + 10 * domain + node.unwrap_or(0),
        Addr::Private { node, domain } => 100 + 10 * domain + node,
        Addr::Public { node } => 200 + node,
    };
    let [a, b, c] = p.options.network;
    // At most 9 nodes and 2 domains (checked by `plan`): last <= 209.
    Ipv4Addr::new(a, b, c, u8::try_from(last).unwrap_or(u8::MAX))
}

/// Adds a listener to every node; returns its index.
fn listener(
    p: &mut Plan,
    name: &str,
    addr: impl Fn(usize) -> Addr,
    port: u16,
    cert: impl Fn(usize) -> Option<Cert>,
) -> usize {
    let mut index = 0;
    for k in 1..=p.nodes.len() {
        let address = ip(p, addr(k));
        let cert = cert(k);
        if let Some(c) = &cert {
            p.add_cert(c);
        }
        let node = &mut p.nodes[k - 1];
        index = node.listeners.len();
        node.listeners.push(Listener {
            name: name.to_owned(),
            address,
            port,
            cert,
            proxy_protocol: false,
            trusted_forwards: 0,
            wildcard: false,
        });
    }
    index
}

/// A backend balanced over every node.
fn backend(p: &mut Plan, name: String, listener: usize, sticky: Sticky) {
    p.backends.push(Backend {
        name,
        listener,
        members: Members::All,
        sticky,
    });
}

/// Backends `nodeK` (node K first, then the others when `backups`).
fn node_backends(p: &mut Plan, suffix: &str, listener: usize, backups: bool) {
    for k in 1..=p.nodes.len() {
        p.backends.push(Backend {
            name: format!("node{k}{suffix}"),
            listener,
            members: Members::Node { k, backups },
            sticky: Sticky::None,
        });
    }
}

struct Front<'a> {
    name: String,
    at: Addr,
    port: u16,
    http: bool,
    offload: Option<Cert>,
    backend: &'a str,
}

fn frontend(p: &mut Plan, f: Front<'_>, host_routes: Vec<(String, String)>) {
    if let Some(c) = &f.offload {
        p.add_cert(c);
    }
    let address = ip(p, f.at);
    p.frontends.push(Frontend {
        name: f.name,
        address,
        port: f.port,
        http: f.http,
        offload: f.offload,
        default_backend: f.backend.to_owned(),
        host_routes,
    });
}

/// The balanced `push` frontend of a domain (`push_2` for the second), on
/// the balancer's address for it, towards backend `nodes` (`nodes_2`), and
/// its host name `push.<domain>`.
fn push_front(p: &mut Plan, domain: usize, port: u16, http: bool, offload: Option<Cert>) {
    let d = p.domains[domain].clone();
    let at = Addr::Vip { domain, node: None };
    let backend = format!("nodes{}", suffix(domain));
    let front = Front {
        name: format!("push{}", suffix(domain)),
        at,
        port,
        http,
        offload,
        backend: &backend,
    };
    frontend(p, front, vec![]);
    host(p, at, format!("push.{d}"));
}

fn host(p: &mut Plan, at: Addr, name: String) {
    let a = ip(p, at);
    p.add_host(a, name);
}

/// Sets each node's control link to `pushK.<first domain>` (clients reach it
/// on the port they used for the session), with multihosting also the
/// machine name.
fn control_links(p: &mut Plan) {
    let d = p.domains[0].clone();
    let mh = p.options.multihosting;
    for (i, node) in p.nodes.iter_mut().enumerate() {
        let k = i + 1;
        node.control_link_address = Some(format!("push{k}.{d}"));
        node.control_link_machine_name = mh.then(|| format!("push{k}"));
    }
}

pub(crate) fn lay_out(p: &mut Plan) -> Result<(), PlanError> {
    let o = p.options.clone();
    let n = o.nodes;
    for k in 1..=n {
        p.nodes.push(Node {
            name: format!("node{k}"),
            listeners: Vec::new(),
            control_link_address: None,
            control_link_machine_name: None,
            direct_url: String::new(),
            vrrp: None,
        });
    }
    let domains = p.domains.clone();
    let d0 = domains[0].clone();
    let (http, https) = (o.http_port, o.https_port);
    let vip = |domain, node| Addr::Vip { domain, node };
    let private = |node| Addr::Private { node, domain: 0 };
    let public = |node| Addr::Public { node };
    let none = |_| None;
    let id = p.topology.id;
    match id {
        "1.A.1" | "1.A.2" => {
            let l = listener(p, "HTTP Server", private, http, none);
            let sticky = if id == "1.A.1" {
                Sticky::SourceIp
            } else {
                Sticky::Cookie
            };
            backend(p, "nodes".into(), l, sticky);
            push_front(p, 0, http, id == "1.A.2", None);
        }
        "2.A.1" => {
            for (i, d) in domains.iter().enumerate() {
                let cert = Cert::for_name(&format!("push.{d}"));
                let name = listener_name(&domains, i, "HTTPS Server");
                let port = node_https_port(&o, i);
                let l = listener(p, &name, private, port, |_| Some(cert.clone()));
                backend(p, format!("nodes{}", suffix(i)), l, Sticky::SourceIp);
                push_front(p, i, https, false, None);
            }
        }
        "2.A.2" => {
            let l = listener(p, "HTTP Server", private, http, none);
            backend(p, "nodes".into(), l, Sticky::Cookie);
            push_front(
                p,
                0,
                https,
                true,
                Some(Cert::for_name(&format!("push.{d0}"))),
            );
        }
        "1.B.1" | "4" | "2.B.1.3" => {
            let l = listener(p, "HTTP Server", private, http, none);
            backend(p, "nodes".into(), l, Sticky::None);
            node_backends(p, "", l, true);
            let mut routes = Vec::new();
            for d in &domains {
                routes.push((format!("push.{d}"), "nodes".to_owned()));
                host(p, vip(0, None), format!("push.{d}"));
                for k in 1..=n {
                    routes.push((format!("push{k}.{d}"), format!("node{k}")));
                    host(p, vip(0, None), format!("push{k}.{d}"));
                }
            }
            let offload = (id == "2.B.1.3").then(|| Cert::for_name(&format!("*.{d0}")));
            let front = Front {
                name: "push".into(),
                at: vip(0, None),
                port: if offload.is_some() { https } else { http },
                http: true,
                offload,
                backend: "nodes",
            };
            frontend(p, front, routes);
            control_links(p);
            if id == "4" {
                for k in 1..=n {
                    host(p, private(k), format!("node{k}.{d0}"));
                }
            }
        }
        "1.B.2" => {
            let l = listener(p, "HTTP Server", public, http, none);
            backend(p, "nodes".into(), l, Sticky::None);
            push_front(p, 0, http, true, None);
            partial_hosts(p, &d0);
            control_links(p);
        }
        "2.B.1.1" | "2.B.2.1" => behind_l4(p, id == "2.B.1.1")?,
        "2.B.1.2" | "2.B.2.2" => {
            let wildcard = id == "2.B.1.2";
            let cr = if wildcard {
                let c = Cert::for_name(&format!("*.{d0}"));
                listener(p, "HTTPS Server", public, https, |_| Some(c.clone()))
            } else {
                let c = Cert::for_name(&format!("push.{d0}"));
                // With --vrrp both listeners take every interface: the one
                // only the balancer reaches moves to the second port.
                let s_port = if o.vrrp { o.https_port2 } else { https };
                listener(p, "HTTPS Server S", private, s_port, |_| Some(c.clone()));
                let cr_cert = cr_cert(&o, &d0);
                listener(p, "HTTPS Server CR", public, https, cr_cert)
            };
            let s = if wildcard { cr } else { 0 };
            backend(p, "nodes".into(), s, Sticky::None);
            push_front(p, 0, https, false, None);
            partial_hosts(p, &d0);
            control_links(p);
        }
        "2.B.1.4" | "2.B.2.4" => {
            let wildcard = id == "2.B.1.4";
            let s = listener(p, "HTTP Server S", private, http, none);
            if wildcard {
                let c = Cert::for_name(&format!("*.{d0}"));
                listener(p, "HTTPS Server CR", public, https, |_| Some(c.clone()));
            } else {
                let cr_cert = cr_cert(&o, &d0);
                listener(p, "HTTPS Server CR", public, https, cr_cert);
            }
            backend(p, "nodes".into(), s, Sticky::None);
            let cert = if wildcard {
                format!("*.{d0}")
            } else {
                format!("push.{d0}")
            };
            push_front(p, 0, https, true, Some(Cert::for_name(&cert)));
            partial_hosts(p, &d0);
            control_links(p);
        }
        "2.B.2.3" => {
            let l = listener(p, "HTTP Server", private, http, none);
            backend(p, "nodes".into(), l, Sticky::None);
            node_backends(p, "", l, true);
            push_front(
                p,
                0,
                https,
                true,
                Some(Cert::for_name(&format!("push.{d0}"))),
            );
            for k in 1..=n {
                let b = format!("node{k}");
                let front = Front {
                    name: format!("push{k}"),
                    at: vip(0, Some(k)),
                    port: https,
                    http: true,
                    offload: Some(Cert::for_name(&format!("push{k}.{d0}"))),
                    backend: &b,
                };
                frontend(p, front, vec![]);
                host(p, vip(0, Some(k)), format!("push{k}.{d0}"));
            }
            control_links(p);
        }
        other => {
            return Err(PlanError::Invalid(
                "--topology",
                format!("no layout for option {other}"),
            ))
        }
    }
    if o.vrrp {
        for k in 1..=n {
            let addresses = NodeAddresses {
                private: ip(p, private(k)),
                public: ip(p, public(k)),
            };
            let node = &mut p.nodes[k - 1];
            node.vrrp = Some(addresses);
            for l in &mut node.listeners {
                l.wildcard = true;
            }
        }
    }
    for k in 1..=n {
        let direct = if id == "4" {
            let l = &p.nodes[k - 1].listeners[0];
            format!("http://node{k}.{d0}:{}", l.port)
        } else {
            // The listener a client inside the network would use: the last
            // one (the public one where there are two).
            let node = &p.nodes[k - 1];
            node.listeners
                .last()
                .map(|l| format!("{}://{}:{}", l.scheme(), p.reach(node, l), l.port))
                .unwrap_or_default()
        };
        p.nodes[k - 1].direct_url = direct;
    }
    client_identification(p);
    p.feed = o.feed.map(|kind| FeedPlan {
        kind,
        address: ip(p, Addr::Broker),
        port: kind.port(),
        publish_token: new_token(),
    });
    Ok(())
}

/// A node's HTTPS port for a domain: the guide's 443, and 444 for the
/// second domain.
fn node_https_port(o: &crate::plan::Options, domain: usize) -> u16 {
    if domain == 0 {
        o.https_port
    } else {
        o.https_port2
    }
}

fn suffix(domain: usize) -> String {
    if domain == 0 {
        String::new()
    } else {
        format!("_{}", domain + 1)
    }
}

/// The certificate of node K's own listener in 2.B.2.2 and 2.B.2.4: its
/// own name's; with `--vrrp` every node's, since keepalived may bring
/// another node's address (and its clients) here.
fn cr_cert(o: &crate::plan::Options, d: &str) -> impl Fn(usize) -> Option<Cert> {
    let every = o.vrrp.then(|| Cert::every_node(d, o.nodes));
    let d = d.to_owned();
    move |k| {
        Some(match &every {
            Some(c) => c.clone(),
            None => Cert::for_name(&format!("push{k}.{d}")),
        })
    }
}

/// `pushK.<domain>` at node K's public address.
fn partial_hosts(p: &mut Plan, d: &str) {
    for k in 1..=p.nodes.len() {
        host(p, Addr::Public { node: k }, format!("push{k}.{d}"));
    }
}

/// 2.B.1.1 and 2.B.2.1: TLS passthrough, one balancer address per name.
fn behind_l4(p: &mut Plan, wildcard: bool) -> Result<(), PlanError> {
    let o = p.options.clone();
    let n = o.nodes;
    let domains = p.domains.clone();
    for (i, d) in domains.iter().enumerate() {
        let (s, cr) = if wildcard {
            let c = Cert::for_name(&format!("*.{d}"));
            let name = listener_name(&domains, i, "HTTPS Server");
            let port = node_https_port(&o, i);
            let l = listener(
                p,
                &name,
                |k| Addr::Private { node: k, domain: 0 },
                port,
                |_| Some(c.clone()),
            );
            (l, l)
        } else {
            let at = move |k| Addr::Private { node: k, domain: i };
            let c = Cert::for_name(&format!("push.{d}"));
            let s_name = listener_name(&domains, i, "HTTPS Server S");
            let s = listener(p, &s_name, at, o.https_port, |_| Some(c.clone()));
            // Every node holds every node's certificate, so that the
            // balancer can send pushK to another node when node K is down.
            let cr_name = listener_name(&domains, i, "HTTPS Server CR");
            let every = Cert::every_node(d, n);
            let cr = listener(p, &cr_name, at, o.https_port2, |_| Some(every.clone()));
            (s, cr)
        };
        backend(p, format!("nodes{}", suffix(i)), s, Sticky::None);
        push_front(p, i, o.https_port, false, None);
        // Node K first, then the others: each holds a certificate for pushK.
        node_backends(p, &suffix(i), cr, true);
        for k in 1..=n {
            let b = format!("node{k}{}", suffix(i));
            let at = Addr::Vip {
                domain: i,
                node: Some(k),
            };
            let front = Front {
                name: format!("push{k}{}", suffix(i)),
                at,
                port: o.https_port,
                http: false,
                offload: None,
                backend: &b,
            };
            frontend(p, front, vec![]);
            host(p, at, format!("push{k}.{d}"));
        }
    }
    control_links(p);
    Ok(())
}

/// With multihosting the guide prefixes listener names with "My"/"Our".
fn listener_name(domains: &[String], i: usize, base: &str) -> String {
    match (domains.len(), i) {
        (1, _) => base.to_owned(),
        (_, 0) => format!("My {base}"),
        _ => format!("Our {base}"),
    }
}

/// Lets each node see the real client behind the balancer: a listener that
/// only the balancer reaches trusts its PROXY header (level 4) or its
/// X-Forwarded-For entry (level 7). A listener clients also reach directly
/// trusts neither, since a client could forge them.
fn client_identification(p: &mut Plan) {
    // Clients reach a listener directly when a host name leads to it.
    let direct = |p: &Plan, l: &Listener| p.hosts.iter().any(|(a, _)| *a == l.address);
    for k in 0..p.nodes.len() {
        for li in 0..p.nodes[k].listeners.len() {
            let l = &p.nodes[k].listeners[li];
            if direct(p, l) {
                continue;
            }
            let level7 = p
                .backends
                .iter()
                .filter(|b| b.listener == li)
                .any(|b| p.is_level7(b));
            let reached = p.backends.iter().any(|b| b.listener == li);
            let l = &mut p.nodes[k].listeners[li];
            if reached && level7 {
                l.trusted_forwards = 1;
            } else if reached {
                l.proxy_protocol = true;
            }
        }
    }
}
