//! `haproxy.cfg` for a plan (Debian's HAProxy 2.6 and later).

use crate::plan::{Backend, Frontend, Plan, Sticky};
use std::fmt::Write;

/// How often the balancer asks each node's health check, and how many
/// answers flip its state: a dead or draining node is out within ~2 s.
const CHECKS: &str = "inter 1s fastinter 500ms downinter 1s fall 2 rise 2";

pub fn render(p: &Plan) -> String {
    let mut s = String::new();
    let t = p.topology;
    let _ = writeln!(
        s,
        "# HAProxy for a Shoal cluster: clustering guide option {} ({}).\n\
         # Made by `shoal cluster-plan`. Start it from this folder (certificate\n\
         # paths are relative): haproxy -f haproxy.cfg\n",
        t.id, t.title
    );
    s.push_str(&preamble());
    s.push_str(&proxies(p));
    s
}

/// `global` and `defaults`: the same for every option.
pub fn preamble() -> String {
    let mut s = String::new();
    for line in [
        "global",
        "    log stdout format raw local0",
        "    # maxconn follows the open-file limit (ulimit -n); raise both for",
        "    # more than a few thousand clients.",
        "",
        "defaults",
        "    log global",
        "    timeout connect 2s",
        "    # Long-polling and keepalive intervals are far below these.",
        "    timeout client 60s",
        "    timeout server 60s",
        "    # An open WebSocket or streaming response.",
        "    timeout tunnel 1h",
        "    timeout client-fin 5s",
        "    option dontlognull",
        "    # Pass each piece of a streaming answer (an update) on at once: by",
        "    # default HAProxy may hold a small one up to 200 ms for more.",
        "    option http-no-delay",
        "    # A request for a node that is down goes at once to another one,",
        "    # which tells the client to start a new session (no 1 s pauses",
        "    # retrying the dead node).",
        "    option redispatch 1",
        "    retries 2",
    ] {
        s.push_str(line);
        s.push('\n');
    }
    let _ = writeln!(s, "    default-server {CHECKS}\n");
    s
}

/// The frontends and backends of a plan.
pub fn proxies(p: &Plan) -> String {
    let mut s = String::new();
    for f in &p.frontends {
        frontend(&mut s, p, f);
    }
    for b in &p.backends {
        backend(&mut s, p, b);
    }
    s
}

fn frontend(s: &mut String, p: &Plan, f: &Frontend) {
    let _ = writeln!(s, "frontend {}", f.name);
    if f.http {
        s.push_str("    mode http\n    option httplog\n");
    } else {
        s.push_str("    mode tcp\n    option tcplog\n");
    }
    let tls = f
        .offload
        .as_ref()
        .map(|c| format!(" ssl crt {}.pem", c.stem()))
        .unwrap_or_default();
    let _ = writeln!(s, "    bind {}:{}{tls}", f.address, f.port);
    if f.http {
        // The balancer's own address goes to the nodes, so CLIENTIP and the
        // logs show the real client.
        s.push_str("    option forwardfor\n");
        if !p.options.balancer_websocket {
            s.push_str(
                "    # This balancer refuses WebSocket (kit made with --balancer-websocket off).\n\
                 \x20   http-request deny deny_status 501 if { hdr(upgrade) -i websocket }\n",
            );
        }
    }
    for (host, backend) in &f.host_routes {
        let _ = writeln!(
            s,
            "    use_backend {backend} if {{ hdr(host),field(1,:) -i {host} }}"
        );
    }
    let _ = writeln!(s, "    default_backend {}\n", f.default_backend);
}

fn backend(s: &mut String, p: &Plan, b: &Backend) {
    let _ = writeln!(s, "backend {}", b.name);
    // A backend follows its frontend's level.
    let http = p.is_level7(b);
    let _ = writeln!(s, "    mode {}", if http { "http" } else { "tcp" });
    match b.sticky {
        Sticky::Cookie => {
            s.push_str(
                "    balance roundrobin\n\
                 \x20   # The node's name in a cookie: the client's next requests follow it.\n",
            );
            s.push_str(&cookie_line(p.https()));
        }
        Sticky::SourceIp => s.push_str(
            "    # A hash of the client's address picks the node; consistent, so\n\
             \x20   # a node going down moves only its own clients.\n\
             \x20   balance source\n    hash-type consistent\n",
        ),
        Sticky::None if b.fails_over() => s.push_str(
            "    # This node's name: the node itself while it is up, the others\n\
             \x20   # only when it is not. A request it fails goes on at once to\n\
             \x20   # the next one, which takes the session over (with a shared\n\
             \x20   # feed) or tells the client to start a new session.\n\
             \x20   balance first\n",
        ),
        Sticky::None => s.push_str("    balance roundrobin\n"),
    }
    if http {
        s.push_str(
            "    # A bind_session (a poll, a recovery) that a node dies on without\n\
             \x20   # answering goes at once to another node, which takes the session\n\
             \x20   # over; never a request the dead node may have acted on.\n\
             \x20   retry-on empty-response conn-failure\n\
             \x20   http-request disable-l7-retry unless { path_end /bind_session.txt }\n",
        );
    }
    // The health check turns 503 when a node drains: no new sessions.
    s.push_str(
        "    option httpchk GET /lightstreamer/healthcheck\n    http-check expect status 200\n",
    );
    // `balance first` takes servers in the order listed: the named node first.
    for server in p.servers(b) {
        let (node, l) = (server.node, server.listener);
        // The node reads the client's address from the PROXY header; health
        // checks must send one too.
        let proxy = if l.proxy_protocol {
            " send-proxy-v2 check-send-proxy"
        } else {
            ""
        };
        let check_tls = if l.cert.is_some() {
            " check-ssl verify none"
        } else {
            ""
        };
        let cookie = if b.sticky == Sticky::Cookie {
            format!(" cookie {}", node.name)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "    server {} {}:{} check{check_tls}{proxy}{cookie}",
            node.name, server.address, l.port
        );
    }
    s.push('\n');
}

/// The sticky cookie. Every client gets `LSNODE=nodeK; path=/; HttpOnly`;
/// answers to browsers (their requests carry an `Origin` header, the
/// official Node.js and Python clients' do not) add what browsers need to
/// send it from the pages that use the kit
/// ([`crate::origins::browser_cookie_attributes`]). Other clients get none
/// of these: the official Node.js client never sends a cookie marked
/// `Secure` back, and older parsers (Python's before 3.14) drop a cookie
/// marked `Partitioned` whole.
fn cookie_line(https: bool) -> String {
    let browsers = crate::origins::browser_cookie_attributes(https);
    format!(
        "    cookie LSNODE insert indirect nocache httponly\n\
         \x20   # Browsers (requests with an Origin) get the attributes they need to send\n\
         \x20   # it from pages of other origins; other clients get it plain.\n\
         \x20   http-request set-var(txn.origin) req.hdr(origin)\n\
         \x20   http-after-response replace-header Set-Cookie '^(LSNODE=.*)$' \"\\1{browsers}\" if {{ var(txn.origin) -m found }}\n"
    )
}
