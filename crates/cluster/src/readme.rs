//! The kit's README: what it is, how to start it, what each name is for.

use crate::plan::Plan;
use crate::routes::routes;
use crate::topology::CrRoute;
use crate::{feed, keepalived};
use std::fmt::Write;

/// The guide's table for a plan, as markdown.
pub fn route_table(p: &Plan) -> String {
    let mut s = String::from(
        "| conn | host name | reaches | at | served by | node listener |\n|---|---|---|---|---|---|\n",
    );
    for r in routes(p) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            r.conns, r.host, r.reached, r.address, r.final_box, r.final_address
        );
    }
    s
}

pub fn render(p: &Plan) -> String {
    let t = p.topology;
    let mut s = String::new();
    let mh = if p.options.multihosting {
        " with multihosting"
    } else {
        ""
    };
    let _ = writeln!(
        s,
        "# Shoal cluster kit: option {}{mh}\n\n{}: clustering guide section {}\n",
        t.id, t.title, t.section
    );
    let _ = writeln!(s, "{}\n", t.summary);
    let _ = writeln!(
        s,
        "S = session creation (any node), CR = control and rebind (the node that owns the session).\n"
    );
    s.push_str(&route_table(p));
    let _ = writeln!(s, "\n**WebSocket**: {}", t.websocket);
    if !p.options.balancer_websocket {
        let _ = writeln!(
            s,
            "This kit's balancer refuses WebSocket upgrades (made with `--balancer-websocket off`)."
        );
    }
    s.push_str("\n## Start it\n\n");
    let _ = writeln!(
        s,
        "1. Make the host names resolve. To try the kit on one machine, add `hosts` to\n   \
         `/etc/hosts` (`cat hosts >> /etc/hosts` as root; remove the lines afterwards).\n   \
         In production, publish them in DNS with your real addresses instead."
    );
    let mut order: Vec<String> = p
        .feed
        .iter()
        .map(|f| format!("the {} of the shared feed", f.kind.title()))
        .collect();
    order.extend(["the nodes".to_owned(), "the balancer".to_owned()]);
    if p.options.vrrp {
        let _ = writeln!(
            s,
            "2. One host per node (see \"{}\" below): the nodes listen on\n   \
             every interface, so `./start.sh` refuses to run this kit on one machine.\n   \
             Start, in this order: {}; on each node's host its keepalived too.\n   \
             From a copy of this folder on each host:",
            crate::scripts::VRRP_SECTION,
            order.join(", then ")
        );
    } else {
        let _ = writeln!(
            s,
            "2. On one machine, `./start.sh` starts, in this order and in the background:\n   \
             {}. Their output goes to `logs/NAME.log`, their process ids to\n   \
             `logs/NAME.pid`; `./stop.sh` stops them in the reverse order. Give\n   \
             `SHOAL=/path/to/shoal` when shoal is not on PATH.",
            order.join(", then ")
        );
        s.push_str(
            "   By hand instead (each on its own machine in production), from this folder:\n",
        );
    }
    if let Some(f) = &p.feed {
        let (program, _) = f.kind.server();
        let _ = writeln!(
            s,
            "   - the broker: `mkdir -p {} && {program} {}`",
            f.data_dir(),
            feed::server_args(f).join(" ")
        );
    }
    for n in &p.nodes {
        let _ = writeln!(s, "   - {}: `shoal serve --config {}.xml`", n.name, n.name);
        if p.options.vrrp {
            let _ = writeln!(
                s,
                "     and, as root, `keepalived -n -l -f {}`",
                keepalived::file(n)
            );
        }
    }
    let balancer = match p.options.balancer {
        crate::Balancer::Haproxy => "haproxy -f haproxy.cfg",
        crate::Balancer::Nginx => "nginx -p . -c nginx.conf",
    };
    let _ = writeln!(s, "   - the balancer: `{balancer}`");
    let _ = writeln!(
        s,
        "3. Point clients at {}{}.",
        p.public_urls()
            .iter()
            .map(|u| format!("`{u}`"))
            .collect::<Vec<_>>()
            .join(" or "),
        if p.https() {
            "; they must trust `ca.pem` (Node.js: `NODE_EXTRA_CA_CERTS=ca.pem`; browsers: import it as an authority), or make the kit with your own CA (`--ca-cert`, `--ca-key`)"
        } else {
            ""
        }
    );
    s.push_str("\n## Clients\n\n");
    match t.cr_route {
        CrRoute::Cookie => {
            s.push_str(
                "Clients must keep cookies: browsers and the official Node.js client do; the Java SE and Android clients need a CookieManager (see the guide, 2.1.2.1).\n",
            );
            cookie_pages(&mut s, p);
        }
        CrRoute::SourceIp => s.push_str(
            "Nothing to set. A client whose address changes between requests (some mobile networks) loses its session and starts a new one.\n",
        ),
        CrRoute::ControlLink => s.push_str(
            "Nothing to set: each node sends its own name in the session's control link. Browser pages may add `connectionOptions.setEarlyWSOpenEnabled(false)` (client 8.x) for a faster start.\n",
        ),
    }
    if t.id == "4" {
        s.push_str(
            "\nTo reach one node directly (tests, an internal page), connect to its `nodeK` name and set `connectionOptions.setServerInstanceAddressIgnored(true)`: the control link names the public pushK host, which may not be visible from inside.\n",
        );
    }
    s.push_str("\n## Files\n\n");
    s.push_str(match p.options.balancer {
        crate::Balancer::Haproxy => "- `haproxy.cfg`: the balancer; health checks on `/lightstreamer/healthcheck` every second.\n",
        crate::Balancer::Nginx => "- `nginx.conf`: the balancer (open-source nginx: no active health checks; a node that refuses connections is left out for 5 s).\n",
    });
    for n in &p.nodes {
        let _ = writeln!(
            s,
            "- `{}.xml`: {} ({} listener(s); direct address {}).",
            n.name,
            n.name,
            n.listeners.len(),
            n.direct_url
        );
    }
    if p.options.vrrp {
        let _ = writeln!(
            s,
            "- `keepalived/nodeK.conf`: keepalived on node K's host (see below)."
        );
    }
    if p.feed.is_some() {
        let _ = writeln!(
            s,
            "- `{}`: the adapter set {} of every node (the broker's address, the publish token).",
            feed::adapters_file(),
            feed::ADAPTER_SET
        );
    }
    s.push_str(
        "- `hosts`: every host name and its address.\n- `kit.json`: this kit for scripts.\n",
    );
    s.push_str(if p.options.vrrp {
        "- `start.sh`: refuses (one host per node); `stop.sh`: stops what a start.sh started.\n"
    } else {
        "- `start.sh`, `stop.sh`: the whole kit on this machine; `logs/` holds what they run.\n"
    });
    if let Some(f) = &p.feed {
        let _ = writeln!(
            s,
            "- `{}/`: the broker's data (made by start.sh; kept when the kit is made again).",
            f.data_dir()
        );
    }
    if p.https() {
        s.push_str("- `ca.pem`: the authority that signed the kit's certificates.\n");
        for c in &p.certs {
            let stem = c.stem();
            if !c.set.is_empty() {
                let _ = writeln!(
                    s,
                    "- `{stem}.keystore`: certificates and keys for {}, one entry each, \
                     chosen by the name the client asks for (SNI) (PKCS12, for every node).",
                    c.set.join(", ")
                );
            } else if p.cert_on_nodes(c) {
                let _ = writeln!(
                    s,
                    "- `{stem}.keystore`: certificate and key for {} (PKCS12, for the nodes).",
                    c.name
                );
            }
            if p.cert_on_balancer(c) {
                let _ = writeln!(
                    s,
                    "- `{stem}.pem`: certificate and key for {} (PEM, for the balancer).",
                    c.name
                );
            }
        }
    }
    let network = p
        .options
        .network
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(".");
    if p.options.vrrp {
        let _ = writeln!(
            s,
            "\nAddresses are on `{network}.0/24` (`--network` moves them); in production you edit them (the balancer's file, the keepalived files, hosts) to your own."
        );
        s.push_str(&vrrp_section(p));
    } else {
        let _ = writeln!(
            s,
            "\nAddresses are on `{network}.0/24` so the kit runs on one machine; `--network` moves them, and in production you edit them (listening_interface, the balancer's file, hosts) to your own."
        );
    }
    if let Some(f) = &p.feed {
        s.push_str(&feed::readme_section(p, f));
    }
    s
}

/// The README's section of a `--vrrp` kit.
fn vrrp_section(p: &Plan) -> String {
    let mut s = format!("\n## {}\n\n", crate::scripts::VRRP_SECTION);
    let iface = &p.options.vrrp_interface;
    let _ = writeln!(
        s,
        "Made with `--vrrp`: clients send their control and rebind requests straight to \
         a node's own public address, named by its control link. When a node dies, \
         nothing would answer there, and clients would retry it for about 12 s before \
         opening a new session. Here keepalived (VRRP) moves that address to a live node \
         within about 2 s; the client's next recovery request reaches that node, which \
         takes the session over: same session id, nothing lost (with a shared feed, \
         `--feed`; see \"Zero-loss fail-over\" in docs/clustering.md). Without a shared \
         feed, that node answers at once that it does not know the session, and the \
         client opens a new one through the balancer at once instead of after 12 s.\n"
    );
    s.push_str(
        "| node | host's own address (fixed) | public address (moves) | virtual_router_id | health check keepalived runs |\n\
         |---|---|---|---|---|\n",
    );
    for (i, n) in p.nodes.iter().enumerate() {
        let (private, public) = n
            .vrrp
            .map(|a| (a.private.to_string(), a.public.to_string()))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "| {} | {private} | {public} | {} | `{}` |",
            n.name,
            keepalived::router_id(i + 1),
            keepalived::health_url(n)
        );
    }
    let _ = writeln!(
        s,
        "\n- **Install** on each node's host keepalived and curl (Debian packages \
         `keepalived` and `curl`; the health check runs `{curl}`).\n\
         - **Start** on node K's host, as root, from a copy of this folder: \
         `keepalived -n -l -f keepalived/nodeK.conf` (in the foreground, logging to the \
         console); or as the Debian service: copy `keepalived/nodeK.conf` to \
         `/etc/keepalived/keepalived.conf`, then `systemctl restart keepalived`. Each \
         host holds its own address (the table's second column, a /24) on `{iface}` \
         (`--vrrp-interface`); keepalived adds and removes the public ones there.\n\
         - **Network**: the node hosts' public addresses must be able to move between \
         them: one L2 segment (the new holder announces the address by gratuitous ARP), \
         or a provider that lets an address move between machines. keepalived talks \
         unicast, between the hosts' own addresses: no multicast needed.\n\
         - **Who holds what**: each address has one VRRP instance on every host; its own \
         node has priority {own}, the next nodes {standby} and down in turn. \
         keepalived asks the local Shoal's health check every second: while it fails \
         (the node is dead, or draining and answering 503), that host's instances are \
         in FAULT state, so its own address goes at once to the next healthy node \
         (within about a second) and it takes no other's. Once the node answers twice \
         in a row, its address comes back to it (preemption, about 4 s later). Each \
         file is commented.\n\
         - **Every interface**: since a node must accept connections to another node's \
         public address, no listener of a node config has a `listening_interface`. So \
         each node needs a host of its own, and the balancer (and the broker, with \
         `--feed`) other hosts again; `./start.sh` refuses this kit. Listeners that only \
         the balancer should reach (those that trust its PROXY header or its \
         X-Forwarded-For entry) now also listen on the public addresses: let only the \
         balancer reach their ports (firewall).\n\
         - **The balancer and the consoles** reach each node at its host's own address, \
         which never moves.",
        curl = keepalived::CURL,
        own = keepalived::OWN_PRIORITY,
        standby = keepalived::STANDBY_PRIORITY - 1,
    );
    if p.topology.id == "2.B.2.2" {
        let _ = writeln!(
            s,
            "- **Ports**: both listeners of a node take every interface, so they cannot \
             share a port: `HTTPS Server S` (the balancer's) is on {} (`--https-port2`), \
             and `HTTPS Server CR` (the control link's) on {}.",
            p.options.https_port2, p.options.https_port
        );
    }
    if let Some(c) = p
        .certs
        .iter()
        .find(|c| !c.set.is_empty() && p.cert_on_nodes(c))
    {
        let _ = writeln!(
            s,
            "- **Certificates**: a node holding another node's address must answer with \
             that node's certificate, so each node's control-link listener has every \
             node's own certificate: `{}.keystore`, one PKCS12 entry per name ({}), \
             picked by the name the client asks for (SNI). The price: every node holds \
             every name's key. (One entry per name, not one certificate naming them \
             all, keeps each name's certificate as the option has it.)",
            c.stem(),
            c.set.join(", ")
        );
    }
    s
}

/// What web pages of a cookie kit must set, by where they are served from.
fn cookie_pages(s: &mut String, p: &Plan) {
    let scheme = if p.https() { "https" } else { "http" };
    let domain = &p.domains[0];
    let _ = write!(
        s,
        "\n### Web pages\n\n\
         - A page served through the balancer (`{scheme}://push.{domain}`) needs nothing.\n\
         - A page of another origin, such as your own site (`{scheme}://www.{domain}`), must call\n\
         \x20 `client.connectionOptions.setCookieHandlingRequired(true)` before `connect()`. Without it the\n\
         \x20 web client sends its HTTP requests without cookies (its WebSocket handshakes carry them), so\n\
         \x20 a control request may reach a node that does not hold the session. The nodes allow pages of\n\
         \x20 any host of {domains} (`<cross_domain_policy>` in each node's file); add other sites with\n\
         \x20 `cluster-plan --page-origin https://www.partner.example`.\n",
        domains = p
            .domains
            .iter()
            .map(|d| format!("`{d}`"))
            .collect::<Vec<_>>()
            .join(" and "),
    );
    s.push_str(
        "- The balancer's cookie is `LSNODE=nodeK; path=/; HttpOnly`. Answers to browsers (requests with\n\
         \x20 an `Origin` header) add what they need to send it from pages of other origins; other clients\n\
         \x20 get it plain (the official Node.js client never sends back a cookie marked `Secure`, and\n\
         \x20 Python's parser before 3.14 drops one marked `Partitioned`).\n",
    );
    let browsers = crate::origins::browser_cookie_attributes(p.https());
    let _ = write!(
        s,
        "- Browsers get it `{}`: ",
        browsers.trim_start_matches("; ")
    );
    if p.https() {
        s.push_str(
            "pages of any site send it, even where third-party cookies are blocked\n\
             \x20 (each site then gets a cookie of its own, which is all stickiness needs).\n",
        );
    } else {
        s.push_str(
            "they send it from pages of the same site (any host of the kit's domain),\n\
             \x20 never from another site over plain HTTP (`SameSite=None` needs `Secure`, hence HTTPS).\n\
             \x20 A page of another site must keep to WebSocket streaming\n\
             \x20 (`connectionOptions.setForcedTransport(\"WS-STREAMING\")`: its requests then travel on\n\
             \x20 the connection itself, which stays on its node) or use an HTTPS kit (2.A.2).\n",
        );
    }
}
