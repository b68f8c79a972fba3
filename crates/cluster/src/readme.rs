//! The kit's README: what it is, how to start it, what each name is for.

use crate::feed;
use crate::plan::Plan;
use crate::routes::routes;
use crate::topology::CrRoute;
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
    let _ = writeln!(
        s,
        "2. On one machine, `./start.sh` starts, in this order and in the background:\n   \
         {}. Their output goes to `logs/NAME.log`, their process ids to\n   \
         `logs/NAME.pid`; `./stop.sh` stops them in the reverse order. Give\n   \
         `SHOAL=/path/to/shoal` when shoal is not on PATH.",
        order.join(", then ")
    );
    s.push_str("   By hand instead (each on its own machine in production), from this folder:\n");
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
        CrRoute::Cookie => s.push_str(
            "Clients must keep cookies: browsers and the official Node.js client do; the Java SE and Android clients need a CookieManager (see the guide, 2.1.2.1).\n",
        ),
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
    if p.feed.is_some() {
        let _ = writeln!(
            s,
            "- `{}`: the adapter set {} of every node (the broker's address, the publish token).",
            feed::adapters_file(),
            feed::ADAPTER_SET
        );
    }
    s.push_str(
        "- `hosts`: every host name and its address.\n- `kit.json`: this kit for scripts.\n\
         - `start.sh`, `stop.sh`: the whole kit on this machine; `logs/` holds what they run.\n",
    );
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
            if p.cert_on_nodes(c) {
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
    let _ = writeln!(
        s,
        "\nAddresses are on `{}.0/24` so the kit runs on one machine; `--network` moves them, and in production you edit them (listening_interface, the balancer's file, hosts) to your own.",
        p.options
            .network
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(".")
    );
    if let Some(f) = &p.feed {
        s.push_str(&feed::readme_section(p, f));
    }
    s
}
