//! `keepalived/nodeK.conf` of a `--vrrp` kit (keepalived 2.2): every
//! node's public address is a VRRP virtual address, held by its own node
//! while that node's Shoal is healthy and by another node otherwise, so the
//! recovery requests of a dead node's clients reach a live node.

use crate::plan::{Listener, Node, NodeAddresses, Plan};
use std::fmt::Write;

/// The program and the Debian package that installs it.
pub const PROGRAM: &str = "keepalived";
pub const PACKAGE: &str = "keepalived";
/// The health check's client, by absolute path (keepalived's script
/// security wants one); Debian package `curl`.
pub const CURL: &str = "/usr/bin/curl";
/// `virtual_router_id` of node K's address: this plus K.
pub const ROUTER_ID_BASE: usize = 50;
/// Priority of a node for its own address.
pub const OWN_PRIORITY: u32 = 150;
/// The others' priorities count down from below this.
pub const STANDBY_PRIORITY: u32 = 100;

/// The kit's file for a node.
pub fn file(node: &Node) -> String {
    format!("keepalived/{}.conf", node.name)
}

/// The node's own name for its health check script.
pub fn script_name(node: &Node) -> String {
    format!("shoal_{}", node.name)
}

/// Node K's `virtual_router_id`.
pub fn router_id(k: usize) -> usize {
    ROUTER_ID_BASE + k
}

/// The priority of host `host` (from 1) for node `owner`'s address among
/// `n` nodes: its own node highest, then the nodes after it in turn (the
/// next one 99, then 98, ...).
pub fn priority(owner: usize, host: usize, n: usize) -> u32 {
    if owner == host {
        return OWN_PRIORITY;
    }
    let position = (host + n - owner - 1) % n + 1;
    // At most 8 others: never below 92.
    STANDBY_PRIORITY.saturating_sub(u32::try_from(position).unwrap_or(u32::MAX))
}

/// The listener keepalived checks: one without a PROXY header (curl sends
/// none unless told), plain HTTP before HTTPS.
fn checked_listener(node: &Node) -> Option<&Listener> {
    let without_proxy = |https: bool| {
        node.listeners
            .iter()
            .find(|l| !l.proxy_protocol && l.cert.is_some() == https)
    };
    without_proxy(false)
        .or_else(|| without_proxy(true))
        .or_else(|| node.listeners.first())
}

/// The node's health check on this host: its URL on 127.0.0.1.
pub fn health_url(node: &Node) -> String {
    checked_listener(node)
        .map(|l| {
            format!(
                "{}://127.0.0.1:{}/lightstreamer/healthcheck",
                l.scheme(),
                l.port
            )
        })
        .unwrap_or_default()
}

/// The script keepalived runs: exits 0 when the node answers 200.
pub fn health_command(node: &Node) -> String {
    let Some(l) = checked_listener(node) else {
        return String::new();
    };
    // The certificate names the public name, not 127.0.0.1: -k.
    let insecure = if l.cert.is_some() { " -k" } else { "" };
    let proxy = if l.proxy_protocol {
        " --haproxy-protocol"
    } else {
        ""
    };
    format!(
        "{CURL} -fsS -m 1 -o /dev/null{insecure}{proxy} {}",
        health_url(node)
    )
}

fn addresses(node: &Node) -> NodeAddresses {
    node.vrrp.unwrap_or(NodeAddresses {
        private: std::net::Ipv4Addr::UNSPECIFIED,
        public: std::net::Ipv4Addr::UNSPECIFIED,
    })
}

/// The configuration of node `k`'s host (from 1).
pub fn render(p: &Plan, k: usize) -> String {
    let n = p.nodes.len();
    let node = &p.nodes[k - 1];
    let own = addresses(node);
    let iface = &p.options.vrrp_interface;
    let script = script_name(node);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# keepalived for the host of {name}, Shoal cluster kit option {id} ({n} nodes).\n\
         # Made by `shoal cluster-plan --vrrp`; keepalived 2.2 (Debian package keepalived).\n\
         # Run it as root on {name}'s host: keepalived -n -l -f {file}\n\
         # (or copy it to /etc/keepalived/keepalived.conf for the Debian service).\n\
         #\n\
         # Each node's public address (the one its control link names) is a VRRP\n\
         # virtual address: its own node holds it while its Shoal is healthy, another\n\
         # node otherwise, which then gets that node's clients' recovery requests and\n\
         # takes their sessions over. This host's own address, {private} on\n\
         # {iface}, never moves; the hosts talk to each other from it (unicast).\n",
        name = node.name,
        id = p.topology.id,
        file = file(node),
        private = own.private,
    );
    let _ = writeln!(
        s,
        "global_defs {{\n\
         \x20   # This host in keepalived's logs.\n\
         \x20   router_id {name}\n\
         \x20   # The health check runs as root, and only from files root alone may change.\n\
         \x20   script_user root\n\
         \x20   enable_script_security\n\
         }}\n",
        name = node.name
    );
    let _ = writeln!(
        s,
        "# Whether {name}'s Shoal on this host answers its health check with 200: not\n\
         # when it is dead, nor while it drains (503). One failure counts (fall 1);\n\
         # two answers in a row bring it back (rise 2).\n\
         vrrp_script {script} {{\n\
         \x20   script \"{command}\"\n\
         \x20   interval 1\n\
         \x20   fall 1\n\
         \x20   rise 2\n\
         }}\n",
        name = node.name,
        command = health_command(node),
    );
    let _ = writeln!(
        s,
        "# One instance per node, each moving that node's public address. Of the hosts\n\
         # whose Shoal is healthy, the one with the highest priority holds it: its own\n\
         # node ({OWN_PRIORITY}), else the nodes after it in turn ({} and down).\n\
         # Every instance tracks this host's health check: while it fails (Shoal dead\n\
         # or draining), they are all in FAULT state, so this host gives its own address\n\
         # up at once (it tells the others, and the next healthy host takes it within\n\
         # about a second) and takes no other node's. A priority weight instead of FAULT\n\
         # would move it only when the others' timer runs out (3 adverts, about 4 s).\n\
         # No nopreempt: once this host is healthy again, its address comes back.\n",
        STANDBY_PRIORITY - 1,
    );
    for (j, owner) in p.nodes.iter().enumerate() {
        let j = j + 1;
        let theirs = addresses(owner);
        let prio = priority(j, k, n);
        let role = if j == k {
            format!(
                "{}'s own public address: held here while healthy.",
                owner.name
            )
        } else {
            let position = prio.abs_diff(STANDBY_PRIORITY);
            format!(
                "{}'s public address: this host is number {position} in line after {}.",
                owner.name, owner.name
            )
        };
        let _ = writeln!(
            s,
            "# {role}\n\
             vrrp_instance {name} {{\n\
             \x20   state BACKUP\n\
             \x20   interface {iface}\n\
             \x20   virtual_router_id {vrid}\n\
             \x20   priority {prio}\n\
             \x20   advert_int 1\n\
             \x20   unicast_src_ip {src}\n\
             \x20   unicast_peer {{",
            name = owner.name,
            vrid = router_id(j),
            src = own.private,
        );
        for (i, peer) in p.nodes.iter().enumerate() {
            if i + 1 != k {
                let _ = writeln!(s, "        {}", addresses(peer).private);
            }
        }
        let _ = writeln!(
            s,
            "    }}\n\
             \x20   virtual_ipaddress {{\n\
             \x20       {vip}/24\n\
             \x20   }}\n\
             \x20   track_script {{\n\
             \x20       {script}\n\
             \x20   }}\n\
             }}\n",
            vip = theirs.public,
        );
    }
    s
}

/// keepalived's arguments for node K's host when several hosts share one
/// machine (network namespaces, tests): in the foreground, logging to the
/// console, VRRP only, with process id files of its own in `logs/`. Run
/// from the kit's folder.
pub fn args(node: &Node) -> Vec<String> {
    [
        "-n".to_owned(),
        "-l".to_owned(),
        "-P".to_owned(),
        "-f".to_owned(),
        file(node),
        "-p".to_owned(),
        format!("{}/keepalived-{}.pid", crate::scripts::LOGS, node.name),
        "-r".to_owned(),
        format!("{}/keepalived-{}-vrrp.pid", crate::scripts::LOGS, node.name),
    ]
    .into()
}
