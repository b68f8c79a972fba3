//! Kits with `--vrrp`: listeners on every interface, the balancer on the
//! nodes' private addresses, one keepalived file per node host that
//! `keepalived -t` accepts; and the options it is refused for.

use crate::plan::{plan, vrrp_options, Balancer, Options, Plan};
use crate::tests_feed::write;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;

/// The options whose control link names a node's own address.
const VRRP: &[&str] = &["1.B.2", "2.B.1.2", "2.B.1.4", "2.B.2.2", "2.B.2.4"];

fn vrrp_plan(topology: &str, nodes: usize, balancer: Balancer) -> Plan {
    plan(&Options {
        topology: topology.into(),
        nodes,
        balancer,
        vrrp: true,
        ..Options::default()
    })
    .unwrap_or_else(|e| panic!("{topology} {nodes} nodes: {e}"))
}

fn label(p: &Plan) -> String {
    format!(
        "{} nodes={} {}",
        p.topology.id,
        p.nodes.len(),
        p.options.balancer.as_str()
    )
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn octet(p: &Plan, last: usize) -> Ipv4Addr {
    let [a, b, c] = p.options.network;
    Ipv4Addr::new(a, b, c, u8::try_from(last).unwrap_or(0))
}

/// Every vrrp option, 2 and 3 nodes, both balancers.
fn vrrp_plans() -> Vec<Plan> {
    let mut out = Vec::new();
    for id in VRRP {
        for nodes in [2, 3] {
            for balancer in [Balancer::Haproxy, Balancer::Nginx] {
                out.push(vrrp_plan(id, nodes, balancer));
            }
        }
    }
    out
}

#[test]
fn vrrp_applies_to_the_options_whose_control_link_is_a_nodes_own_address() {
    assert_eq!(vrrp_options(), VRRP);
}

#[test]
fn vrrp_is_refused_where_cr_requests_pass_through_the_balancer() {
    for t in crate::topology::TOPOLOGIES {
        if VRRP.contains(&t.id) {
            continue;
        }
        let e = plan(&Options {
            topology: t.id.into(),
            vrrp: true,
            ..Options::default()
        })
        .map(|_| ())
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("--vrrp: in option ")
                && e.contains(t.id)
                && e.ends_with(": 1.B.2, 2.B.1.2, 2.B.1.4, 2.B.2.2, 2.B.2.4"),
            "{}: {e}",
            t.id
        );
    }
    let e = plan(&Options {
        topology: "1.B.2".into(),
        vrrp: true,
        vrrp_interface: "eth 0".into(),
        ..Options::default()
    })
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("--vrrp-interface") && e.contains("'eth 0'"),
        "{e}"
    );
}

#[test]
fn listeners_take_every_interface_and_clash_on_a_port_within_a_node() {
    for p in vrrp_plans() {
        let (_dir, out) = write(&p);
        for n in &p.nodes {
            let file = out.join(format!("{}.xml", n.name));
            let text = read(&file);
            assert!(
                !text.contains("<listening_interface>"),
                "{}\n{text}",
                label(&p)
            );
            assert!(
                text.contains("<!-- No listening_interface: every interface"),
                "{}\n{text}",
                label(&p)
            );
            let loaded = shoal_config::load(&file).unwrap_or_else(|e| panic!("{}: {e}", label(&p)));
            let ports: BTreeSet<u16> = loaded.config.listeners.iter().map(|l| l.port).collect();
            assert_eq!(ports.len(), loaded.config.listeners.len(), "{}", label(&p));
            assert!(
                loaded
                    .config
                    .listeners
                    .iter()
                    .all(|l| l.listening_interface.is_none()),
                "{}",
                label(&p)
            );
        }
    }
    // Two listeners of one node on one port: both on every interface.
    for (id, options) in [
        (
            "2.B.2.2",
            Options {
                https_port2: 8443,
                ..Options::default()
            },
        ),
        (
            "2.B.1.4",
            Options {
                http_port: 8443,
                ..Options::default()
            },
        ),
    ] {
        let e = plan(&Options {
            topology: id.into(),
            vrrp: true,
            ..options
        })
        .map(|_| ())
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("node1 would listen on port 8443 twice") && e.contains(id),
            "{id}: {e}"
        );
    }
}

#[test]
fn the_balancer_and_the_consoles_use_the_private_addresses() {
    for p in vrrp_plans() {
        let n = p.nodes.len();
        let private: Vec<Ipv4Addr> = (1..=n).map(|k| octet(&p, 100 + k)).collect();
        let public: Vec<Ipv4Addr> = (1..=n).map(|k| octet(&p, 200 + k)).collect();
        for (k, node) in p.nodes.iter().enumerate() {
            let a = node.vrrp.unwrap_or_else(|| panic!("{}", label(&p)));
            assert_eq!((a.private, a.public), (private[k], public[k]));
            // The control link's name resolves to the public address.
            let link = node.control_link_address.clone().unwrap_or_default();
            assert_eq!(p.address_of(&link), Some(public[k]), "{}", label(&p));
            assert!(
                node.direct_url.contains(&format!("://{}:", private[k])),
                "{}: {}",
                label(&p),
                node.direct_url
            );
        }
        let (_dir, out) = write(&p);
        let conf = read(&out.join(p.options.balancer.config_file()));
        let servers: Vec<&str> = conf
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("server "))
            .filter(|l| !l.starts_with("server {"))
            .collect();
        assert!(!servers.is_empty(), "{}\n{conf}", label(&p));
        for line in &servers {
            assert!(
                private.iter().any(|a| line.contains(&format!("{a}:"))),
                "{}: {line}",
                label(&p)
            );
            assert!(
                !public.iter().any(|a| line.contains(&format!("{a}:"))),
                "{}: {line}",
                label(&p)
            );
        }
        for node in &p.nodes {
            let xml = read(&out.join(format!("{}.xml", node.name)));
            for a in &public {
                assert!(
                    !xml.contains(&format!("{a}:")),
                    "{}: a console URL names a public address\n{xml}",
                    label(&p)
                );
            }
            let loaded = shoal_config::load(&out.join(format!("{}.xml", node.name)))
                .unwrap_or_else(|e| panic!("{e}"));
            let d = loaded
                .config
                .dashboard
                .unwrap_or_else(|| panic!("dashboard"));
            for c in &d.cluster_nodes {
                assert!(
                    private.iter().any(|a| c.url.contains(&format!("://{a}:"))),
                    "{}: {}",
                    label(&p),
                    c.url
                );
            }
        }
    }
}

/// A keepalived file's `vrrp_instance` blocks: name -> (key, value) lines,
/// and the block lists (`unicast_peer`, `virtual_ipaddress`,
/// `track_script`) as their lines.
#[derive(Debug, Default)]
struct Instance {
    name: String,
    values: Vec<(String, String)>,
    blocks: Vec<(String, Vec<String>)>,
}

impl Instance {
    fn value(&self, key: &str) -> &str {
        let found = self.values.iter().find(|(k, _)| k == key);
        found.map_or("", |(_, v)| v.as_str())
    }

    fn block(&self, key: &str) -> Vec<String> {
        let found = self.blocks.iter().find(|(k, _)| k == key);
        found.map(|(_, v)| v.clone()).unwrap_or_default()
    }
}

fn instances(conf: &str) -> Vec<Instance> {
    let mut out: Vec<Instance> = Vec::new();
    let mut block: Option<(String, Vec<String>)> = None;
    let mut inside = false;
    for line in conf.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line
            .strip_prefix("vrrp_instance ")
            .and_then(|r| r.strip_suffix(" {"))
        {
            out.push(Instance {
                name: name.to_owned(),
                ..Instance::default()
            });
            inside = true;
        } else if !inside {
            continue;
        } else if line == "}" {
            match block.take() {
                Some(b) => {
                    if let Some(i) = out.last_mut() {
                        i.blocks.push(b);
                    }
                }
                None => inside = false,
            }
        } else if let Some(name) = line.strip_suffix(" {") {
            block = Some((name.to_owned(), Vec::new()));
        } else if let Some((_, lines)) = block.as_mut() {
            lines.push(line.to_owned());
        } else if let (Some((k, v)), Some(i)) = (line.split_once(' '), out.last_mut()) {
            i.values.push((k.to_owned(), v.to_owned()));
        }
    }
    out
}

#[test]
fn each_node_host_gets_one_vrrp_instance_per_node() {
    for p in vrrp_plans() {
        let n = p.nodes.len();
        let (_dir, out) = write(&p);
        let json: serde_json::Value =
            serde_json::from_str(&read(&out.join("kit.json"))).unwrap_or_else(|e| panic!("{e}"));
        let k_json = &json["keepalived"];
        assert_eq!(k_json["interface"], "eth0", "{k_json}");
        assert_eq!(json["one_machine"], false);
        let mut router_ids = BTreeSet::new();
        for (k, node) in p.nodes.iter().enumerate() {
            let a = node.vrrp.unwrap_or_else(|| panic!("no addresses"));
            let file = format!("keepalived/{}.conf", node.name);
            assert_eq!(k_json["files"][&node.name], file.as_str());
            assert_eq!(
                k_json["nodes"][&node.name]["private"],
                a.private.to_string()
            );
            assert_eq!(k_json["nodes"][&node.name]["public"], a.public.to_string());
            assert_eq!(json["nodes"][k]["private"], a.private.to_string());
            assert_eq!(json["nodes"][k]["public"], a.public.to_string());
            let conf = read(&out.join(&file));
            assert!(
                conf.contains(&format!(
                    "global_defs {{\n    # This host in keepalived's logs.\n    router_id {}\n",
                    node.name
                )),
                "{conf}"
            );
            assert!(conf.contains("    script_user root\n    enable_script_security\n"));
            let script = format!("shoal_{}", node.name);
            assert!(
                conf.contains(&format!(
                    "vrrp_script {script} {{\n    script \"/usr/bin/curl -fsS -m 1 -o /dev/null "
                )),
                "{conf}"
            );
            assert!(
                conf.contains(
                    "/lightstreamer/healthcheck\"\n    interval 1\n    fall 1\n    rise 2\n}"
                ),
                "{conf}"
            );
            let found = instances(&conf);
            assert_eq!(found.len(), n, "{}\n{conf}", label(&p));
            let mut own_priority = 0;
            let mut others = Vec::new();
            for (j, inst) in found.iter().enumerate() {
                let owner = &p.nodes[j];
                let theirs = owner.vrrp.unwrap_or_else(|| panic!("no addresses"));
                assert_eq!(inst.name, owner.name);
                assert_eq!(inst.value("state"), "BACKUP");
                assert_eq!(inst.value("interface"), "eth0");
                assert_eq!(inst.value("advert_int"), "1");
                assert_eq!(inst.value("unicast_src_ip"), a.private.to_string());
                let vrid = inst.value("virtual_router_id").to_owned();
                if k == 0 {
                    assert!(router_ids.insert(vrid.clone()), "{vrid} twice");
                } else {
                    assert!(router_ids.contains(&vrid), "{vrid} differs between hosts");
                }
                let peers: BTreeSet<String> = inst.block("unicast_peer").into_iter().collect();
                let want: BTreeSet<String> = p
                    .nodes
                    .iter()
                    .filter(|o| o.name != node.name)
                    .filter_map(|o| o.vrrp.map(|a| a.private.to_string()))
                    .collect();
                assert_eq!(peers, want, "{}: {}", label(&p), inst.name);
                assert_eq!(
                    inst.block("virtual_ipaddress"),
                    [format!("{}/24", theirs.public)]
                );
                // No weight: a failing check puts the instance in FAULT,
                // which gives the address up at once.
                assert_eq!(inst.block("track_script"), [script.as_str()]);
                let prio: u32 = inst.value("priority").parse().unwrap_or(0);
                assert!((1..=254).contains(&prio), "{prio}");
                if j == k {
                    own_priority = prio;
                } else {
                    others.push(prio);
                }
            }
            assert_eq!(router_ids.len(), n);
            // Its own address highest.
            assert!(others.iter().all(|&o| o < own_priority));
            let distinct: BTreeSet<_> = others.iter().collect();
            assert_eq!(distinct.len(), others.len(), "{others:?}");
        }
        // For each address, one host highest: its own node; the standbys
        // differ so that the next in line is clear.
        for j in 0..n {
            let prios: Vec<u32> = p
                .nodes
                .iter()
                .map(|node| {
                    let conf = read(&out.join(format!("keepalived/{}.conf", node.name)));
                    instances(&conf)[j].value("priority").parse().unwrap_or(0)
                })
                .collect();
            let max = prios.iter().max().copied();
            assert_eq!(max, Some(prios[j]), "{prios:?}");
            let distinct: BTreeSet<_> = prios.iter().collect();
            assert_eq!(distinct.len(), n, "{prios:?}");
        }
    }
}

/// keepalived as Debian installs it; the test fails without it.
fn keepalived() -> &'static str {
    [
        "/usr/sbin/keepalived",
        "/usr/bin/keepalived",
        "/sbin/keepalived",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .unwrap_or_else(|| {
        panic!(
            "keepalived is not installed: scripts/test.sh installs it (apt-get install keepalived)"
        )
    })
}

#[test]
fn keepalived_accepts_every_file() {
    let program = keepalived();
    assert!(
        Path::new(crate::keepalived::CURL).exists(),
        "{} is missing: scripts/test.sh installs it (apt-get install curl)",
        crate::keepalived::CURL
    );
    for p in vrrp_plans()
        .into_iter()
        .filter(|p| p.options.balancer == Balancer::Haproxy)
    {
        let (_dir, out) = write(&p);
        for node in &p.nodes {
            let file = out.join(format!("keepalived/{}.conf", node.name));
            let o = std::process::Command::new(program)
                .arg("-t")
                .arg("-f")
                .arg(&file)
                .arg("-l")
                .output()
                .unwrap_or_else(|e| panic!("{program}: {e}"));
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            assert!(
                o.status.success(),
                "{} {}: keepalived -t: {said}\n{}",
                label(&p),
                node.name,
                read(&file)
            );
        }
    }
}

#[test]
fn the_health_check_avoids_listeners_that_want_a_proxy_header() {
    for (id, url) in [
        ("1.B.2", "http://127.0.0.1:8080/"),
        ("2.B.1.2", "https://127.0.0.1:8443/"),
        ("2.B.1.4", "http://127.0.0.1:8080/"),
        // The balancer's listener (PROXY header) is on 8444.
        ("2.B.2.2", "https://127.0.0.1:8443/"),
        ("2.B.2.4", "http://127.0.0.1:8080/"),
    ] {
        let p = vrrp_plan(id, 2, Balancer::Haproxy);
        for node in &p.nodes {
            let command = crate::keepalived::health_command(node);
            assert!(command.contains(url), "{id}: {command}");
            assert_eq!(
                command.contains(" -k "),
                url.starts_with("https"),
                "{command}"
            );
            assert!(!command.contains("--haproxy-protocol"), "{command}");
        }
    }
}

#[test]
fn start_sh_refuses_and_the_readme_says_how_to_run_it() {
    let p = vrrp_plan("1.B.2", 3, Balancer::Haproxy);
    let (_dir, out) = write(&p);
    let o = std::process::Command::new("bash")
        .arg(out.join("start.sh"))
        .output()
        .unwrap_or_else(|e| panic!("bash: {e}"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot start on one machine")
            && err.contains("\"Fail-over of the nodes' own addresses (keepalived)\""),
        "{err}"
    );
    assert!(!out.join("logs").exists(), "nothing was started");
    let readme = read(&out.join("README.md"));
    for part in [
        "## Fail-over of the nodes' own addresses (keepalived)",
        "| node1 | 127.0.10.101 | 127.0.10.201 | 51 | `http://127.0.0.1:8080/lightstreamer/healthcheck` |",
        "| node3 | 127.0.10.103 | 127.0.10.203 | 53 |",
        "`keepalived -n -l -f keepalived/nodeK.conf`",
        "`/etc/keepalived/keepalived.conf`",
        "Debian packages `keepalived` and `curl`",
        "one L2 segment",
        "`./start.sh` refuses",
        "   - node2: `shoal serve --config node2.xml`\n     and, as root, `keepalived -n -l -f keepalived/node2.conf`",
    ] {
        assert!(readme.contains(part), "{part:?} not in\n{readme}");
    }
    let p = vrrp_plan("2.B.2.2", 2, Balancer::Haproxy);
    let readme = crate::readme::render(&p);
    for part in [
        "`HTTPS Server S` (the balancer's) is on 8444",
        "`push1-2.example.test.keystore`, one PKCS12 entry per name (push1.example.test, push2.example.test)",
    ] {
        assert!(readme.contains(part), "{part:?} not in\n{readme}");
    }
    // Without --vrrp, none of it.
    let plain = plan(&Options {
        topology: "1.B.2".into(),
        ..Options::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let (_dir, out) = write(&plain);
    assert!(!out.join("keepalived").exists());
    assert!(!read(&out.join("README.md")).contains("keepalived"));
    let json: serde_json::Value =
        serde_json::from_str(&read(&out.join("kit.json"))).unwrap_or_else(|e| panic!("{e}"));
    assert!(json["keepalived"].is_null() && json["one_machine"] == true);
    assert!(read(&out.join("node1.xml")).contains("<listening_interface>"));
}

/// The names a PKCS12 keystore's entries are for, by alias, as a node
/// loads them.
pub(crate) fn keystore_names(file: &Path, password: &str) -> Vec<(String, Vec<String>)> {
    let source = shoal_tls::CertSource {
        kind: shoal_config::KeystoreType::Pkcs12,
        file: file.to_owned(),
        password: Some(password.to_owned()),
        key_file: None,
    };
    let loaded = shoal_tls::load(&source).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    loaded
        .iter()
        .map(|c| {
            (
                c.info.alias.clone().unwrap_or_default(),
                c.info.server_names(),
            )
        })
        .collect()
}

#[test]
fn individual_certificates_every_node_holds_every_nodes_name() {
    for id in ["2.B.2.2", "2.B.2.4"] {
        let p = vrrp_plan(id, 3, Balancer::Haproxy);
        let (_dir, out) = write(&p);
        let names: Vec<String> = (1..=3).map(|k| format!("push{k}.example.test")).collect();
        for node in &p.nodes {
            let loaded = shoal_config::load(&out.join(format!("{}.xml", node.name)))
                .unwrap_or_else(|e| panic!("{e}"));
            let cr = loaded
                .config
                .listeners
                .iter()
                .find(|l| l.name == "HTTPS Server CR")
                .and_then(|l| l.keystore.clone())
                .unwrap_or_else(|| panic!("{id}: no CR keystore"));
            assert!(
                cr.file.ends_with("push1-3.example.test.keystore"),
                "{:?}",
                cr.file
            );
            let entries = keystore_names(&cr.file, "shoal-kit");
            let want: Vec<(String, Vec<String>)> =
                names.iter().map(|n| (n.clone(), vec![n.clone()])).collect();
            assert_eq!(entries, want, "{id}");
        }
    }
}
