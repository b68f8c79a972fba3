//! Plans of every option: consistent addresses, names and routes. Files
//! (node configs, haproxy.cfg) are checked by tests/kits.rs.

use crate::plan::{plan, Options, Plan};
use crate::routes::routes;
use crate::topology::{CrRoute, TOPOLOGIES};
use std::collections::HashSet;

/// Every option, and its multihosting variant where the guide has one.
pub(crate) fn all_plans() -> Vec<Plan> {
    let mut out = Vec::new();
    for t in TOPOLOGIES {
        for mh in [false, true] {
            if mh && !t.multihosting {
                continue;
            }
            let o = Options {
                topology: t.id.into(),
                multihosting: mh,
                ..Options::default()
            };
            out.push(plan(&o).unwrap_or_else(|e| panic!("{} mh={mh}: {e}", t.id)));
        }
    }
    out
}

fn label(p: &Plan) -> String {
    format!("{} mh={}", p.topology.id, p.options.multihosting)
}

#[test]
fn no_two_sockets_share_an_address_and_port() {
    for p in all_plans() {
        let mut seen = HashSet::new();
        let sockets = p.frontends.iter().map(|f| (f.address, f.port)).chain(
            p.nodes
                .iter()
                .flat_map(|n| n.listeners.iter().map(|l| (l.address, l.port))),
        );
        for s in sockets {
            assert!(seen.insert(s), "{}: {s:?} used twice", label(&p));
        }
    }
}

#[test]
fn every_name_reaches_a_socket_and_control_links_reach_their_node() {
    for p in all_plans() {
        for r in routes(&p) {
            assert!(
                !r.address.contains('?'),
                "{}: {} leads nowhere: {r:?}",
                label(&p),
                r.host
            );
        }
        if p.cr_route() != CrRoute::ControlLink {
            assert!(
                p.nodes.iter().all(|n| n.control_link_address.is_none()),
                "{}",
                label(&p)
            );
            continue;
        }
        for (i, n) in p.nodes.iter().enumerate() {
            let link = n.control_link_address.clone().unwrap_or_default();
            assert_eq!(link, format!("push{}.example.test", i + 1), "{}", label(&p));
            let r = routes(&p)
                .into_iter()
                .find(|r| r.host == link)
                .unwrap_or_else(|| panic!("{}: no route for {link}", label(&p)));
            // Straight to the node, or through the balancer to that node only.
            assert!(
                r.reached == n.name || r.final_box == n.name,
                "{}: {link} does not reach {}: {r:?}",
                label(&p),
                n.name
            );
        }
    }
}

#[test]
fn multihosting_gives_machine_names_and_second_domain_routes() {
    for p in all_plans().into_iter().filter(|p| p.options.multihosting) {
        let rs = routes(&p);
        assert!(
            rs.iter().any(|r| r.host == "push.example2.test"),
            "{}",
            label(&p)
        );
        if p.cr_route() == CrRoute::ControlLink {
            for (i, n) in p.nodes.iter().enumerate() {
                assert_eq!(
                    n.control_link_machine_name.as_deref(),
                    Some(format!("push{}", i + 1).as_str())
                );
                let host = format!("push{}.example2.test", i + 1);
                let r = rs
                    .iter()
                    .find(|r| r.host == host)
                    .unwrap_or_else(|| panic!("{}: no {host}", label(&p)));
                assert!(
                    r.final_box == n.name || r.reached == n.name,
                    "{}: {r:?}",
                    label(&p)
                );
            }
        }
    }
}

#[test]
fn https_options_have_certificates_for_every_name_clients_use() {
    for p in all_plans().into_iter().filter(|p| p.https()) {
        for r in routes(&p) {
            let covered = p.certs.iter().flat_map(|c| &c.names).any(|n| {
                n == &r.host
                    || n.strip_prefix("*.")
                        .is_some_and(|d| r.host.split_once('.').is_some_and(|(_, rest)| rest == d))
            });
            assert!(covered, "{}: no certificate names {}", label(&p), r.host);
        }
    }
}

#[test]
fn bad_options_are_refused_naming_the_option() {
    let err = |o: Options| plan(&o).map(|_| ()).unwrap_err().to_string();
    let e = err(Options {
        topology: "9.Z".into(),
        ..Options::default()
    });
    assert!(
        e.contains("unknown topology '9.Z'") && e.contains("2.B.2.4"),
        "{e}"
    );
    let e = err(Options {
        topology: "1.A.2".into(),
        multihosting: true,
        ..Options::default()
    });
    assert!(
        e.contains("1.A.2 has no multihosting") && e.contains("1.B.1"),
        "{e}"
    );
    let e = err(Options {
        nodes: 1,
        ..Options::default()
    });
    assert!(e.contains("--nodes 1"), "{e}");
    let e = err(Options {
        topology: "2.A.1".into(),
        balancer_websocket: false,
        ..Options::default()
    });
    assert!(e.contains("level 4"), "{e}");
    let e = err(Options {
        domain: "bad_domain".into(),
        ..Options::default()
    });
    assert!(e.contains("--domain"), "{e}");
}

#[test]
fn websocket_blocked_at_the_balancer_is_expected_only_where_cr_bypasses_it() {
    let p = |id: &str| {
        plan(&Options {
            topology: id.into(),
            balancer_websocket: false,
            ..Options::default()
        })
        .unwrap_or_else(|e| panic!("{e}"))
    };
    assert!(!p("1.A.2").websocket_expected);
    assert!(!p("1.B.1").websocket_expected);
    assert!(p("1.B.2").websocket_expected);
    assert!(p("2.B.2.4").websocket_expected);
}
