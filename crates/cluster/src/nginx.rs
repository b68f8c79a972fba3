//! `nginx.conf` for a plan (Debian's nginx 1.22 with its stream module),
//! for every option. Open-source nginx has no cookie insertion of its own
//! (`sticky cookie` is nginx Plus); the cookie options get it from maps
//! (see [`cookie_maps`]).

use crate::plan::{Backend, Frontend, Members, Plan, Sticky};
use std::fmt::Write;

/// The publish API's path (shoal-transport's route).
pub(crate) const PUBLISH_PATH: &str = "/publish";

/// Where Debian installs the stream (level 4) module.
pub(crate) const STREAM_MODULE: &str = "/usr/lib/nginx/modules/ngx_stream_module.so";

pub fn render(p: &Plan) -> String {
    let t = p.topology;
    let l4 = p.frontends.iter().any(|f| !f.http);
    let l7 = p.frontends.iter().any(|f| f.http);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# nginx for a Shoal cluster: clustering guide option {} ({}).\n\
         # Made by `shoal cluster-plan --balancer nginx`. Start it from this folder\n\
         # (certificate paths are relative): nginx -p . -c nginx.conf\n\
         # Open-source nginx has no active health checks: a node is taken out\n\
         # when connecting to it fails, for fail_timeout.\n",
        t.id, t.title
    );
    if l4 {
        let _ = writeln!(s, "load_module {STREAM_MODULE};");
    }
    s.push_str(
        "daemon off;\nworker_processes 1;\npid nginx.pid;\nerror_log stderr notice;\n\n\
         events {\n    worker_connections 8192;\n}\n",
    );
    if l7 {
        http_block(&mut s, p);
    }
    if l4 {
        stream_block(&mut s, p);
    }
    s
}

fn servers(s: &mut String, p: &Plan, b: &Backend) {
    for server in p.servers(b) {
        let backup = if server.backup { " backup" } else { "" };
        let _ = writeln!(
            s,
            "        server {}:{} max_fails=1 fail_timeout=5s{backup};",
            server.address, server.listener.port
        );
    }
}

fn upstream(s: &mut String, p: &Plan, b: &Backend) {
    let _ = writeln!(s, "    upstream {} {{", b.name);
    match b.sticky {
        Sticky::SourceIp => s.push_str(
            "        # A hash of the client's address picks the node; consistent, so\n\
             \x20       # a node going down moves only its own clients.\n\
             \x20       hash $remote_addr consistent;\n",
        ),
        _ if b.fails_over() => {
            s.push_str("        # This node's name: the node itself, the others when it fails.\n")
        }
        _ => {}
    }
    servers(s, p, b);
    s.push_str("    }\n\n");
}

fn http_block(s: &mut String, p: &Plan) {
    s.push_str(
        "\nhttp {\n    access_log access.log;\n\
         \x20   # Streams are long and must not wait in buffers.\n\
         \x20   proxy_buffering off;\n    proxy_request_buffering off;\n    gzip off;\n\
         \x20   proxy_read_timeout 1h;\n    proxy_send_timeout 1h;\n\
         \x20   proxy_connect_timeout 2s;\n\
         \x20   # WebSocket upgrades pass through.\n\
         \x20   proxy_http_version 1.1;\n\
         \x20   map $http_upgrade $connection_upgrade {\n        default upgrade;\n        '' '';\n    }\n\
         \x20   proxy_set_header Upgrade $http_upgrade;\n\
         \x20   proxy_set_header Connection $connection_upgrade;\n\
         \x20   proxy_set_header Host $http_host;\n\
         \x20   # The nodes trust one X-Forwarded-For hop: this one.\n\
         \x20   proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
         \x20   # A node that fails a request: the next one gets it at once (it tells\n\
         \x20   # the client to start a new session if the session was elsewhere).\n\
         \x20   proxy_next_upstream error timeout non_idempotent;\n\n",
    );
    for b in p.backends.iter().filter(|b| p.is_level7(b)) {
        upstream(s, p, b);
        if b.sticky == Sticky::Cookie {
            cookie_maps(s, p, b);
        }
    }
    for f in p.frontends.iter().filter(|f| f.http) {
        http_server(s, p, f, None, &f.default_backend);
        for (host, backend) in &f.host_routes {
            http_server(s, p, f, Some(host), backend);
        }
    }
    s.push_str("}\n");
}

fn http_server(s: &mut String, p: &Plan, f: &Frontend, host: Option<&str>, backend: &str) {
    let ssl = if f.offload.is_some() { " ssl" } else { "" };
    let default = if host.is_none() {
        " default_server"
    } else {
        ""
    };
    let _ = writeln!(
        s,
        "    server {{\n        listen {}:{}{ssl}{default};",
        f.address, f.port
    );
    if let Some(h) = host {
        let _ = writeln!(s, "        server_name {h};");
    }
    if let Some(c) = &f.offload {
        let _ = writeln!(
            s,
            "        ssl_certificate {0}.pem;\n        ssl_certificate_key {0}.pem;",
            c.stem()
        );
    }
    if !p.options.balancer_websocket {
        s.push_str(
            "        # This balancer refuses WebSocket (kit made with --balancer-websocket off).\n\
             \x20       if ($http_upgrade ~* websocket) {\n            return 501;\n        }\n",
        );
    }
    publish_location(s, backend);
    // In the cookie options the cookie picks the upstream (see cookie_maps).
    let sticky = p
        .backends
        .iter()
        .any(|b| b.name == backend && b.sticky == Sticky::Cookie);
    let (pass, cookie) = if sticky {
        (
            "$lsnode_pool",
            "            add_header Set-Cookie $lsnode_cookie always;\n",
        )
    } else {
        (backend, "")
    };
    let _ = writeln!(
        s,
        "        location / {{\n            proxy_pass http://{pass};\n{cookie}        }}\n    }}\n"
    );
}

/// The sticky cookie of the cookie options, as HAProxy's `cookie LSNODE
/// insert indirect` does it:
///
/// - a request whose `LSNODE` names a node goes to an upstream of that node
///   alone, the others as backups (a dead node's clients go on elsewhere);
///   any other request to the balanced upstream;
/// - the answer sets `LSNODE` to the node that served it (the last address
///   of `$upstream_addr`, after retries) unless the request named it
///   already; nothing when no node answered;
/// - every client gets it `HttpOnly`, and browsers (requests with an
///   `Origin`) the attributes they need, as in the HAProxy kits
///   ([`crate::origins::browser_cookie_attributes`]).
fn cookie_maps(s: &mut String, p: &Plan, b: &Backend) {
    let servers = p.servers(b);
    let node_upstream = |node: &str| format!("{}_{node}", b.name);
    // Each node's own upstream, the others as its backups, as the control
    // link options' routes for a node's own name.
    let with_listener = p.nodes.iter().enumerate();
    for (i, node) in with_listener.filter(|(_, n)| n.listeners.get(b.listener).is_some()) {
        let named = Backend {
            name: node_upstream(&node.name),
            members: Members::Node {
                k: i + 1,
                backups: true,
            },
            ..b.clone()
        };
        upstream(s, p, &named);
    }
    s.push_str("    # The sticky cookie: the node it names, or any.\n    map $cookie_LSNODE $lsnode_pool {\n");
    for server in &servers {
        let name = &server.node.name;
        let _ = writeln!(s, "        {name} {};", node_upstream(name));
    }
    let _ = writeln!(s, "        default {};\n    }}", b.name);
    s.push_str("    # The node that answered: the last address tried.\n    map $upstream_addr $lsnode_served {\n");
    for server in &servers {
        let address = format!("{}:{}", server.address, server.listener.port).replace('.', "\\.");
        let _ = writeln!(s, "        \"~(^|, ){address}$\" {};", server.node.name);
    }
    s.push_str("        default \"\";\n    }\n");
    let browsers = crate::origins::browser_cookie_attributes(p.https());
    let _ = writeln!(
        s,
        "    # What browsers (requests with an Origin) need to send it from pages of\n\
         \x20   # other origins; other clients get it plain.\n\
         \x20   map $http_origin $lsnode_browser {{\n\
         \x20       \"\" \"\";\n\
         \x20       default \"{browsers}\";\n\
         \x20   }}\n\
         \x20   # Set unless the request named that node already, or no node answered.\n\
         \x20   map \"$cookie_LSNODE:$lsnode_served\" $lsnode_cookie {{\n\
         \x20       \"~^([^:]*):\\1$\" \"\";\n\
         \x20       \"~:$\" \"\";\n\
         \x20       default \"LSNODE=$lsnode_served; Path=/; HttpOnly$lsnode_browser\";\n\
         \x20   }}\n"
    );
}

/// `POST /publish` writes to the broker: a node that got the request may
/// have written it before failing, so it is never passed to another node
/// (the http block's `non_idempotent` would). Only a request no node got
/// (the connection failed) goes to the next one.
fn publish_location(s: &mut String, backend: &str) {
    let _ = writeln!(
        s,
        "        # A publish is a write: once a node got it, it goes to no other node\n\
         \x20       # (that could write it twice); only one no node got goes on.\n\
         \x20       location = {PUBLISH_PATH} {{\n\
         \x20           proxy_pass http://{backend};\n\
         \x20           proxy_next_upstream error timeout;\n\
         \x20       }}"
    );
}

fn stream_block(s: &mut String, p: &Plan) {
    s.push_str(
        "\nstream {\n\
         \x20   # Connections, one line each.\n\
         \x20   log_format basic '$remote_addr [$time_local] $server_addr:$server_port -> $upstream_addr $status';\n\
         \x20   access_log access.log basic;\n\
         \x20   proxy_connect_timeout 2s;\n    proxy_timeout 1h;\n\n",
    );
    for b in p.backends.iter().filter(|b| !p.is_level7(b)) {
        upstream(s, p, b);
    }
    for f in p.frontends.iter().filter(|f| !f.http) {
        let proxy = p
            .backends
            .iter()
            .find(|b| b.name == f.default_backend)
            .is_some_and(|b| p.servers(b).iter().any(|s| s.listener.proxy_protocol));
        let _ = writeln!(
            s,
            "    server {{\n        listen {}:{};\n        proxy_pass {};",
            f.address, f.port, f.default_backend
        );
        if proxy {
            s.push_str("        # The node reads the client's address from this PROXY header.\n        proxy_protocol on;\n");
        }
        s.push_str("    }\n\n");
    }
    s.push_str("}\n");
}

#[cfg(test)]
mod tests {
    use super::{render, PUBLISH_PATH};
    use crate::plan::{plan, Balancer, Feed, Options, Plan};
    use crate::topology::TOPOLOGIES;

    /// Every option nginx can balance, with and without multihosting, with
    /// a feed (the kits that publish) and with WebSocket refused.
    fn nginx_plans() -> Vec<Plan> {
        let mut out = Vec::new();
        for t in TOPOLOGIES {
            for (multihosting, balancer_websocket) in [(false, true), (true, true), (false, false)]
            {
                if multihosting && !t.multihosting {
                    continue;
                }
                let o = Options {
                    topology: t.id.into(),
                    multihosting,
                    balancer_websocket,
                    balancer: Balancer::Nginx,
                    feed: Some(Feed::Redis),
                    ..Options::default()
                };
                // Level-4 options have no kit without WebSocket.
                out.extend(plan(&o).ok());
            }
        }
        out
    }

    /// The `server` blocks of the http block: for each, its `location`
    /// lines, each with the directives inside it.
    fn http_locations(conf: &str) -> Vec<Vec<(String, Vec<String>)>> {
        let http = conf
            .split("\nhttp {\n")
            .nth(1)
            .and_then(|rest| rest.split("\nstream {\n").next())
            .unwrap_or_else(|| panic!("no http block in\n{conf}"));
        let mut servers = Vec::new();
        let mut location: Option<(String, Vec<String>)> = None;
        for line in http.lines() {
            if line == "    server {" {
                servers.push(Vec::new());
            } else if let Some(name) = line.strip_prefix("        location ") {
                location = Some((name.trim_end_matches(" {").to_owned(), Vec::new()));
            } else if line == "        }" {
                if let (Some(l), Some(server)) = (location.take(), servers.last_mut()) {
                    server.push(l);
                }
            } else if let Some((_, body)) = location.as_mut() {
                if !line.trim_start().starts_with('#') {
                    body.push(line.trim().to_owned());
                }
            }
        }
        servers
    }

    #[test]
    fn publish_is_never_passed_to_another_node_once_a_node_got_it() {
        let plans = nginx_plans();
        assert!(plans.len() > 10, "{} nginx plans", plans.len());
        let mut servers_seen = 0;
        for p in &plans {
            let label = format!(
                "{} mh={} ws={}",
                p.topology.id, p.options.multihosting, p.options.balancer_websocket
            );
            let conf = render(p);
            if !p.frontends.iter().any(|f| f.http) {
                assert!(
                    !conf.contains(PUBLISH_PATH),
                    "{label}: level 4 only\n{conf}"
                );
                continue;
            }
            // Every other request may go to the next node (TLCP requests are
            // POSTs too: a dead node's clients must reach a live one).
            assert!(
                conf.contains("\n    proxy_next_upstream error timeout non_idempotent;\n"),
                "{label}\n{conf}"
            );
            for locations in http_locations(&conf) {
                servers_seen += 1;
                let names: Vec<&str> = locations.iter().map(|(n, _)| n.as_str()).collect();
                assert_eq!(names, ["= /publish", "/"], "{label}\n{conf}");
                let (publish, rest) = (&locations[0].1, &locations[1].1);
                // The same nodes as every other request (the cookie options:
                // the balanced upstream, the cookie picking none), without
                // non_idempotent.
                let pass = if p.cr_route() == crate::topology::CrRoute::Cookie {
                    assert_eq!(
                        rest,
                        &[
                            "proxy_pass http://$lsnode_pool;".to_owned(),
                            "add_header Set-Cookie $lsnode_cookie always;".to_owned()
                        ],
                        "{label}"
                    );
                    "proxy_pass http://nodes;".to_owned()
                } else {
                    assert_eq!(rest.len(), 1, "{label}: {rest:?}");
                    rest[0].clone()
                };
                assert!(pass.starts_with("proxy_pass http://"), "{label}: {pass}");
                assert_eq!(
                    publish,
                    &[pass, "proxy_next_upstream error timeout;".to_owned()],
                    "{label}\n{conf}"
                );
                assert!(publish.iter().all(|d| !d.contains("non_idempotent")));
            }
        }
        assert!(servers_seen > plans.len(), "{servers_seen} http servers");
    }
}
