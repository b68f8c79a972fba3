//! Plans of every option: consistent addresses, names and routes. The files
//! (node configs, balancer configs) are checked by the shoal crate's
//! tests/cluster_plan.rs.

use crate::plan::{plan, Options, Plan};
use crate::routes::routes;
use crate::topology::{CrRoute, TOPOLOGIES};

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
fn every_option_plans_with_the_default_ports() {
    // `plan` refuses a socket used twice; the defaults never hit that.
    assert_eq!(all_plans().len(), TOPOLOGIES.len() + 4);
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
            let covered = p.certs.iter().flat_map(|c| c.names()).any(|n| {
                n == r.host
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
    for bad in ["-bad.test", "example", "*.example.test", "a..test"] {
        let e = err(Options {
            domain: bad.into(),
            ..Options::default()
        });
        assert!(e.contains("--domain") && e.contains(bad), "{e}");
    }
}

#[test]
fn ports_that_would_share_a_socket_are_refused() {
    let e = plan(&Options {
        topology: "2.B.2.1".into(),
        https_port2: 8443,
        ..Options::default()
    })
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("--https-port2") && e.contains(":8443 would be used twice"),
        "{e}"
    );
}

#[test]
fn websocket_blocked_at_the_balancer_is_expected_only_where_cr_bypasses_it() {
    // The guide: with WebSocket refused at a level-7 balancer, clients keep
    // it only where their control and rebind requests go straight to a node.
    let through_balancer = ["1.A.2", "2.A.2", "1.B.1", "4", "2.B.1.3", "2.B.2.3"];
    let bypassing = ["1.B.2", "2.B.1.4", "2.B.2.4"];
    for t in crate::topology::TOPOLOGIES {
        for multihosting in [false, true] {
            if multihosting && !t.multihosting {
                continue;
            }
            let r = plan(&Options {
                topology: t.id.into(),
                multihosting,
                balancer_websocket: false,
                ..Options::default()
            });
            match r {
                Ok(p) if through_balancer.contains(&t.id) => {
                    assert!(!p.websocket_expected(), "{}", label(&p))
                }
                Ok(p) if bypassing.contains(&t.id) => {
                    assert!(p.websocket_expected(), "{}", label(&p))
                }
                Ok(p) => panic!(
                    "{}: a level-4 option took --balancer-websocket off",
                    label(&p)
                ),
                Err(e) => assert!(
                    matches!(e, crate::PlanError::WebsocketAtL4(_))
                        && !through_balancer.contains(&t.id)
                        && !bypassing.contains(&t.id),
                    "{}: {e}",
                    t.id
                ),
            }
        }
    }
}

/// A node's `<cross_domain_policy>` rules as `scheme://host:port`.
fn allowed_origins(p: &Plan, file: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{e}"));
    let loaded = shoal_config::load(file).unwrap_or_else(|e| panic!("{}: {e}\n{text}", label(p)));
    let policy = loaded
        .config
        .cross_domain_policy
        .unwrap_or_else(|| panic!("{}: no policy\n{text}", label(p)));
    assert!(policy.accept_credentials, "{}", label(p));
    policy
        .allow
        .iter()
        .map(|a| {
            let host = match &a.host {
                shoal_config::AllowedHost::Name(h) => h.clone(),
                shoal_config::AllowedHost::Subdomains(d) => format!("*.{d}"),
                other => panic!("{}: {other:?}", label(p)),
            };
            let port = a.port.map_or("*".into(), |p| p.to_string());
            let scheme = a.scheme.clone().unwrap_or_else(|| "*".into());
            format!("{scheme}://{host}:{port}")
        })
        .collect()
}

#[test]
fn every_node_lets_the_kits_pages_and_the_given_sites_use_it_with_credentials() {
    // A page served through the balancer (push.<domain>) sends control
    // requests to push<k>.<domain> in the control-link options, and pages
    // of the company's site (www.<domain>) or of another site send all
    // their requests to another origin: the node must allow them, with
    // credentials (the web client sends the balancer's cookie).
    for p in all_plans() {
        let (_dir, out) = crate::tests_feed::write(&p);
        let mut want = p.public_urls();
        for d in &p.domains {
            want.push(format!("*://{d}:*"));
            want.push(format!("*://*.{d}:*"));
        }
        for n in &p.nodes {
            let allowed = allowed_origins(&p, &out.join(format!("{}.xml", n.name)));
            assert_eq!(allowed, want, "{}", label(&p));
        }
    }
    let p = plan(&Options {
        topology: "2.A.2".into(),
        page_origins: vec![
            "https://www.partner.test".into(),
            "http://pages.partner.test:8081".into(),
        ],
        ..Options::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let (_dir, out) = crate::tests_feed::write(&p);
    let allowed = allowed_origins(&p, &out.join("node1.xml"));
    assert_eq!(
        allowed[allowed.len() - 2..],
        [
            "https://www.partner.test:443".to_owned(),
            "http://pages.partner.test:8081".to_owned()
        ]
    );
    let e = plan(&Options {
        page_origins: vec!["www.partner.test".into()],
        ..Options::default()
    })
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("--page-origin: 'www.partner.test'"), "{e}");
}

#[test]
fn every_node_conf_lists_the_other_nodes_consoles_at_their_direct_addresses() {
    for p in all_plans() {
        let (_dir, out) = crate::tests_feed::write(&p);
        for n in &p.nodes {
            let file = out.join(format!("{}.xml", n.name));
            let loaded = shoal_config::load(&file).unwrap_or_else(|e| panic!("{}: {e}", label(&p)));
            let d = loaded
                .config
                .dashboard
                .unwrap_or_else(|| panic!("{}", label(&p)));
            assert!(d.all_servers, "{}", label(&p));
            assert_eq!(d.node_name.as_deref(), Some(n.name.as_str()));
            let own = format!("{}/dashboard/", n.direct_url);
            assert_eq!(
                d.console_url.as_deref(),
                Some(own.as_str()),
                "{}",
                label(&p)
            );
            let listed: Vec<(String, String)> = d
                .cluster_nodes
                .iter()
                .map(|c| (c.name.clone(), c.url.clone()))
                .collect();
            let others: Vec<(String, String)> = p
                .nodes
                .iter()
                .filter(|o| o.name != n.name)
                .map(|o| (o.name.clone(), format!("{}/dashboard/", o.direct_url)))
                .collect();
            assert_eq!(listed, others, "{}", label(&p));
            assert!(!others.is_empty(), "{}", label(&p));
        }
    }
}
