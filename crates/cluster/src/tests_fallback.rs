//! 2.B.2.1: the balancer's route for a node's own name `pushK` falls back to
//! the other nodes, since every node holds every `pushK` certificate; and a
//! node answers each of those names with that name's certificate (SNI), in
//! a real TLS handshake.

use crate::plan::{plan, Balancer, Members, Options, Plan};
use crate::tests_feed::write;
use crate::tests_vrrp::keystore_names;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use std::path::Path;
use std::sync::Arc;

fn plan_of(multihosting: bool, nodes: usize, balancer: Balancer) -> Plan {
    plan(&Options {
        topology: "2.B.2.1".into(),
        multihosting,
        nodes,
        balancer,
        ..Options::default()
    })
    .unwrap_or_else(|e| panic!("2.B.2.1 mh={multihosting}: {e}"))
}

#[test]
fn the_route_of_push_k_tries_node_k_then_the_others() {
    for mh in [false, true] {
        for nodes in [2, 3] {
            let p = plan_of(mh, nodes, Balancer::Haproxy);
            let per_node: Vec<_> = p
                .backends
                .iter()
                .filter(|b| matches!(b.members, Members::Node { .. }))
                .collect();
            assert_eq!(per_node.len(), nodes * p.domains.len());
            for b in per_node {
                let Members::Node { k, backups } = b.members else {
                    continue;
                };
                assert!(backups, "{}", b.name);
                let servers = p.servers(b);
                let order: Vec<&str> = servers.iter().map(|s| s.node.name.as_str()).collect();
                assert_eq!(order.len(), nodes, "{}: {order:?}", b.name);
                assert_eq!(order[0], format!("node{k}"), "{}: {order:?}", b.name);
                assert!(!servers[0].backup && servers[1..].iter().all(|s| s.backup));
            }
            let cfg = crate::haproxy::render(&p);
            let block = cfg
                .split("\nbackend ")
                .find(|b| b.starts_with("node2\n"))
                .unwrap_or_else(|| panic!("no backend node2\n{cfg}"));
            assert!(block.contains("    balance first\n"), "{block}");
            let servers: Vec<&str> = block
                .lines()
                .filter_map(|l| l.trim().strip_prefix("server "))
                .map(|l| l.split(' ').next().unwrap_or(""))
                .collect();
            let mut want = vec!["node2".to_owned(), "node1".to_owned()];
            want.extend((3..=nodes).map(|k| format!("node{k}")));
            assert_eq!(servers, want, "{block}");
        }
    }
    // nginx: node K, then the others as backups.
    let p = plan_of(false, 3, Balancer::Nginx);
    let conf = crate::nginx::render(&p);
    let upstream = conf
        .split("    upstream ")
        .find(|u| u.starts_with("node2 {"))
        .unwrap_or_else(|| panic!("no upstream node2\n{conf}"));
    let lines: Vec<&str> = upstream
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("server "))
        .collect();
    assert_eq!(lines.len(), 3, "{upstream}");
    assert!(
        lines[0].starts_with("server 127.0.10.102:8444 ") && !lines[0].contains("backup"),
        "{upstream}"
    );
    assert!(
        lines[1..].iter().all(|l| l.ends_with(" backup;")),
        "{upstream}"
    );
}

/// A TLS handshake in memory between a node's configuration (as Shoal
/// builds it from the keystore) and a client that trusts the kit's CA and
/// asks for `name`; returns the names of the certificate it got.
fn handshake(server: &Arc<rustls::ServerConfig>, ca: &Path, name: &str) -> Vec<String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap_or_else(|e| panic!("{e}")) {
        roots
            .add(c.unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| panic!("{e}"))
        .with_root_certificates(roots)
        .with_no_client_auth();
    let server_name = ServerName::try_from(name.to_owned()).unwrap_or_else(|e| panic!("{e}"));
    let mut c = rustls::ClientConnection::new(Arc::new(client), server_name)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut s = rustls::ServerConnection::new(server.clone()).unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..10 {
        if !c.is_handshaking() && !s.is_handshaking() {
            break;
        }
        let mut wire = Vec::new();
        c.write_tls(&mut wire).unwrap_or_else(|e| panic!("{e}"));
        let mut rd = wire.as_slice();
        while !rd.is_empty() {
            s.read_tls(&mut rd).unwrap_or_else(|e| panic!("{e}"));
            s.process_new_packets()
                .unwrap_or_else(|e| panic!("{name}: server: {e}"));
        }
        let mut wire = Vec::new();
        s.write_tls(&mut wire).unwrap_or_else(|e| panic!("{e}"));
        let mut rd = wire.as_slice();
        while !rd.is_empty() {
            c.read_tls(&mut rd).unwrap_or_else(|e| panic!("{e}"));
            // The client verifies the chain and the name here.
            c.process_new_packets()
                .unwrap_or_else(|e| panic!("{name}: client: {e}"));
        }
    }
    assert!(!c.is_handshaking(), "{name}: the handshake did not end");
    let leaf = c
        .peer_certificates()
        .and_then(|certs| certs.first())
        .unwrap_or_else(|| panic!("{name}: no certificate"));
    shoal_tls::describe(leaf)
        .unwrap_or_else(|e| panic!("{e}"))
        .server_names()
}

#[test]
fn every_node_answers_every_push_k_name_with_its_certificate() {
    for mh in [false, true] {
        let p = plan_of(mh, 3, Balancer::Haproxy);
        let (_dir, out) = write(&p);
        for node in &p.nodes {
            let loaded = shoal_config::load(&out.join(format!("{}.xml", node.name)))
                .unwrap_or_else(|e| panic!("{e}"));
            for (i, d) in p.domains.iter().enumerate() {
                let names: Vec<String> = (1..=3).map(|k| format!("push{k}.{d}")).collect();
                let suffix = if i == 0 { "" } else { "Our " };
                let prefix = if mh && i == 0 { "My " } else { suffix };
                let cr = loaded
                    .config
                    .listeners
                    .iter()
                    .find(|l| l.name == format!("{prefix}HTTPS Server CR"))
                    .and_then(|l| l.keystore.clone())
                    .unwrap_or_else(|| panic!("mh={mh}: no CR listener for {d}"));
                assert!(
                    cr.file.ends_with(format!("push1-3.{d}.keystore")),
                    "{:?}",
                    cr.file
                );
                let want: Vec<(String, Vec<String>)> =
                    names.iter().map(|n| (n.clone(), vec![n.clone()])).collect();
                assert_eq!(keystore_names(&cr.file, "shoal-kit"), want);
                let source = shoal_tls::CertSource::from_config(&cr);
                let certs = shoal_tls::load(&source).unwrap_or_else(|e| panic!("{e}"));
                let server = shoal_tls::server_config(certs).unwrap_or_else(|e| panic!("{e}"));
                for name in &names {
                    let got = handshake(&server, &out.join("ca.pem"), name);
                    assert_eq!(got, [name.as_str()], "{} mh={mh}", node.name);
                }
            }
        }
    }
}
