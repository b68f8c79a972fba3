//! The guide's routing table for a plan: for each host name a client uses,
//! the connections it carries, where they arrive and which node serves them.

use crate::plan::{Backend, Members, Plan, Sticky};
use crate::topology::CrRoute;

#[derive(Debug, Clone)]
pub struct Route {
    /// `S`, `CR` or `S, CR`.
    pub conns: &'static str,
    pub host: String,
    /// `balancer` or the node reached directly.
    pub reached: String,
    pub address: String,
    /// The node(s) that serve it and how they are chosen.
    pub final_box: String,
    /// Their listeners, `address:port`.
    pub final_address: String,
}

pub fn routes(p: &Plan) -> Vec<Route> {
    let mut out = Vec::new();
    let https = p.https();
    let port = if https {
        p.options.https_port
    } else {
        p.options.http_port
    };
    for d in &p.domains {
        let host = format!("push.{d}");
        let conns = if p.cr_route() == CrRoute::ControlLink {
            "S"
        } else {
            "S, CR"
        };
        out.push(route(p, conns, &host, port));
        if p.cr_route() == CrRoute::ControlLink {
            for k in 1..=p.nodes.len() {
                out.push(route(p, "CR", &format!("push{k}.{d}"), port));
            }
        }
    }
    if p.topology.id == "4" {
        let d = &p.domains[0];
        for (i, n) in p.nodes.iter().enumerate() {
            let host = format!("node{}.{d}", i + 1);
            if let Some(l) = n.listeners.first() {
                out.push(Route {
                    conns: "S, CR",
                    host,
                    reached: n.name.clone(),
                    address: format!("{}:{}", l.address, l.port),
                    final_box: "-".into(),
                    final_address: "-".into(),
                });
            }
        }
    }
    out
}

fn route(p: &Plan, conns: &'static str, host: &str, port: u16) -> Route {
    let Some(addr) = p.address_of(host) else {
        return unknown(conns, host);
    };
    let address = format!("{addr}:{port}");
    if let Some(f) = p
        .frontends
        .iter()
        .find(|f| f.address == addr && f.port == port)
    {
        let name = f
            .host_routes
            .iter()
            .find(|(h, _)| h == host)
            .map(|(_, b)| b.as_str())
            .unwrap_or(&f.default_backend);
        let Some(b) = p.backends.iter().find(|b| b.name == name) else {
            return unknown(conns, host);
        };
        let tls = if f.offload.is_some() {
            ", TLS offload"
        } else if !f.http {
            ", TLS passthrough"
        } else {
            ""
        };
        let tls = if p.https() { tls } else { "" };
        let level = if f.http { "L7" } else { "L4" };
        return Route {
            conns,
            host: host.to_owned(),
            reached: format!("balancer ({level}{tls})"),
            address,
            final_box: served_by(p, b),
            final_address: listeners(p, b),
        };
    }
    match p.nodes.iter().find(|n| {
        n.listeners
            .iter()
            .any(|l| l.address == addr && l.port == port)
    }) {
        Some(n) => Route {
            conns,
            host: host.to_owned(),
            reached: n.name.clone(),
            address,
            final_box: "-".into(),
            final_address: "-".into(),
        },
        None => unknown(conns, host),
    }
}

fn unknown(conns: &'static str, host: &str) -> Route {
    Route {
        conns,
        host: host.to_owned(),
        reached: "?".into(),
        address: "?".into(),
        final_box: "?".into(),
        final_address: "?".into(),
    }
}

fn served_by(p: &Plan, b: &Backend) -> String {
    match b.members {
        Members::Node { k, .. } => p.nodes[k - 1].name.clone(),
        Members::All => {
            let names: Vec<_> = p.nodes.iter().map(|n| n.name.as_str()).collect();
            let how = match b.sticky {
                Sticky::None => "balanced",
                Sticky::Cookie => "balanced + sticky by cookie",
                Sticky::SourceIp => "balanced + sticky by client IP",
            };
            format!("{} ({how})", names.join(" or "))
        }
    }
}

fn listeners(p: &Plan, b: &Backend) -> String {
    let nodes: Vec<_> = match b.members {
        Members::Node { k, .. } => vec![&p.nodes[k - 1]],
        Members::All => p.nodes.iter().collect(),
    };
    nodes
        .iter()
        .filter_map(|n| n.listeners.get(b.listener).map(|l| (n, l)))
        .map(|(n, l)| format!("{}:{} ({})", p.reach(n, l), l.port, l.scheme()))
        .collect::<Vec<_>>()
        .join(" or ")
}
