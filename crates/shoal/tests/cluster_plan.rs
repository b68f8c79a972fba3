//! `shoal cluster-plan`: every option of the guide gives a kit that HAProxy
//! and `shoal check-config` accept, with the files kit.json names; bad
//! options are refused naming the option.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const OPTIONS: &[(&str, bool)] = &[
    ("1.A.1", false),
    ("1.A.2", false),
    ("1.B.1", false),
    ("1.B.1", true),
    ("1.B.2", false),
    ("2.A.1", false),
    ("2.A.1", true),
    ("2.A.2", false),
    ("2.B.1.1", false),
    ("2.B.1.1", true),
    ("2.B.1.2", false),
    ("2.B.1.3", false),
    ("2.B.1.4", false),
    ("2.B.2.1", false),
    ("2.B.2.1", true),
    ("2.B.2.2", false),
    ("2.B.2.3", false),
    ("2.B.2.4", false),
    ("4", false),
];

fn shoal(args: &[&str], dir: Option<&Path>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shoal"));
    c.args(args).env_remove("RUST_BACKTRACE");
    if let Some(d) = dir {
        c.current_dir(d);
    }
    c.output()
        .unwrap_or_else(|e| panic!("cannot run shoal: {e}"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn haproxy() -> PathBuf {
    for p in ["/usr/sbin/haproxy", "/usr/bin/haproxy"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("haproxy is not installed: scripts/test.sh installs it (apt-get install haproxy)");
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("shoal-kits-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn every_option_gives_a_kit_that_haproxy_and_shoal_accept() {
    let root = scratch("all");
    for (id, mh) in OPTIONS {
        let out = root.join(format!("{id}{}", if *mh { "-mh" } else { "" }));
        let out_s = out.to_string_lossy().into_owned();
        let mut args = vec!["cluster-plan", "--topology", id, "--out", &out_s];
        if *mh {
            args.push("--multihosting");
        }
        let o = shoal(&args, None);
        assert!(o.status.success(), "{id}: {}", text(&o));
        let kit: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.join("kit.json")).unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{id}: kit.json: {e}"));
        assert_eq!(kit["topology"], *id);
        for f in ["haproxy.cfg", "hosts", "README.md"] {
            assert!(out.join(f).is_file(), "{id}: no {f}");
        }
        let check = Command::new(haproxy())
            .args(["-c", "-q", "-f", "haproxy.cfg"])
            .current_dir(&out)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(check.status.success(), "{id}: haproxy -c: {}", text(&check));
        let nodes = kit["nodes"].as_array().cloned().unwrap_or_default();
        assert_eq!(nodes.len(), 2, "{id}");
        for node in nodes {
            let config = node["config"].as_str().unwrap_or_default();
            let o = shoal(&["check-config", config], Some(&out));
            assert!(o.status.success(), "{id} {config}: {}", text(&o));
            let listens = node["listens"].as_array().map(Vec::len).unwrap_or(0);
            let printed = String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| l.trim_start().starts_with("http"))
                .count();
            assert_eq!(printed, listens, "{id} {config}: {}", text(&o));
            if kit["cr_route"] == "control-link" {
                let link = node["control_link"].as_str().unwrap_or_default();
                assert!(
                    text(&o).contains(&format!("control link address: {link}")),
                    "{id}: {}",
                    text(&o)
                );
            }
        }
        let https = kit["public_urls"][0]
            .as_str()
            .unwrap_or_default()
            .starts_with("https");
        assert_eq!(kit["ca"].is_string(), https, "{id}: ca");
        if https {
            let ca = out.join("ca.pem");
            // Every certificate of the kit is signed by the kit's CA.
            for entry in std::fs::read_dir(&out).unwrap_or_else(|e| panic!("{e}")) {
                let p = entry.unwrap_or_else(|e| panic!("{e}")).path();
                if p.extension().is_some_and(|e| e == "pem") && p != ca {
                    let v = Command::new("openssl")
                        .arg("verify")
                        .arg("-CAfile")
                        .arg(&ca)
                        .arg(&p)
                        .output()
                        .unwrap_or_else(|e| panic!("openssl: {e}"));
                    assert!(v.status.success(), "{id}: {}: {}", p.display(), text(&v));
                }
            }
        }
    }
    std::fs::remove_dir_all(&root).unwrap_or_else(|e| panic!("{e}"));
}

fn nginx() -> PathBuf {
    for p in ["/usr/sbin/nginx", "/usr/bin/nginx"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("nginx is not installed: scripts/test.sh installs it (apt-get install nginx libnginx-mod-stream)");
}

#[test]
fn every_option_but_cookie_insertion_gives_an_nginx_kit_that_nginx_accepts() {
    let root = scratch("nginx");
    for (id, mh) in OPTIONS {
        if ["1.A.2", "2.A.2"].contains(id) {
            continue;
        }
        let out = root.join(format!("{id}{}", if *mh { "-mh" } else { "" }));
        let out_s = out.to_string_lossy().into_owned();
        let mut args = vec![
            "cluster-plan",
            "--balancer",
            "nginx",
            "--topology",
            id,
            "--out",
            &out_s,
        ];
        if *mh {
            args.push("--multihosting");
        }
        let o = shoal(&args, None);
        assert!(o.status.success(), "{id}: {}", text(&o));
        let kit = std::fs::read_to_string(out.join("kit.json")).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            kit.contains("\"kind\": \"nginx\"") && kit.contains("nginx.conf"),
            "{id}: {kit}"
        );
        assert!(
            !out.join("haproxy.cfg").exists(),
            "{id}: a haproxy.cfg beside nginx.conf"
        );
        let check = Command::new(nginx())
            .args(["-t", "-q", "-p"])
            .arg(&out)
            .args(["-c", "nginx.conf"])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(check.status.success(), "{id}: nginx -t: {}", text(&check));
    }
    std::fs::remove_dir_all(&root).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn bad_options_are_refused_naming_the_option() {
    let root = scratch("bad");
    let out = root.join("k");
    let out_s = out.to_string_lossy().into_owned();
    let cases: &[(&[&str], &str)] = &[
        (&["--topology", "3.C"], "unknown topology '3.C'"),
        (
            &["--topology", "1.A.2", "--multihosting"],
            "1.A.2 has no multihosting",
        ),
        (&["--topology", "1.A.2", "--nodes", "12"], "--nodes 12"),
        (
            &["--topology", "2.A.1", "--balancer-websocket", "off"],
            "level 4",
        ),
        (
            &["--topology", "1.A.2", "--network", "10.0"],
            "three octets",
        ),
        (
            &[
                "--topology",
                "2.A.1",
                "--ca-cert",
                "/nonexistent/ca.pem",
                "--ca-key",
                "/nonexistent/ca.key",
            ],
            "/nonexistent/ca.pem",
        ),
        (&["--topology", "1.A.2", "--http-port", "0"], "--http-port"),
        (
            &["--topology", "2.B.2.1", "--https-port2", "8443"],
            "--https-port2",
        ),
        (&["--topology", "1.A.2", "--domain=-bad.test"], "--domain"),
        (
            &[
                "--topology",
                "1.A.2",
                "--ca-cert",
                "ca.pem",
                "--ca-key",
                "ca.key",
            ],
            "uses no certificate",
        ),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["cluster-plan", "--out", &out_s];
        args.extend_from_slice(extra);
        let o = shoal(&args, None);
        assert!(!o.status.success(), "{extra:?} was accepted");
        assert!(text(&o).contains(expected), "{extra:?}: {}", text(&o));
        // The cause is said once, not repeated by every layer.
        let causes = text(&o).matches("No such file").count();
        assert!(causes <= 1, "{extra:?}: {}", text(&o));
    }
    // A folder that holds something else is not overwritten.
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(out.join("precious.txt"), "keep").unwrap_or_else(|e| panic!("{e}"));
    let o = shoal(
        &["cluster-plan", "--topology", "1.A.2", "--out", &out_s],
        None,
    );
    assert!(
        !o.status.success() && text(&o).contains("not empty"),
        "{}",
        text(&o)
    );
    assert!(out.join("precious.txt").exists());
    std::fs::remove_dir_all(&root).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_new_kit_replaces_an_earlier_one_in_the_same_folder() {
    let root = scratch("replace");
    let out = root.join("k");
    let out_s = out.to_string_lossy().into_owned();
    let first = shoal(
        &[
            "cluster-plan",
            "--topology",
            "1.B.1",
            "--nodes",
            "3",
            "--out",
            &out_s,
        ],
        None,
    );
    assert!(first.status.success(), "{}", text(&first));
    assert!(out.join("node3.xml").exists() && out.join("haproxy.cfg").exists());
    let second = shoal(
        &[
            "cluster-plan",
            "--topology",
            "1.B.1",
            "--balancer",
            "nginx",
            "--out",
            &out_s,
        ],
        None,
    );
    assert!(second.status.success(), "{}", text(&second));
    let mut left: Vec<String> = std::fs::read_dir(&out)
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{e}"))
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            "README.md",
            "hosts",
            "kit.json",
            "nginx.conf",
            "node1.xml",
            "node2.xml",
            "start.sh",
            "stop.sh"
        ],
        "the earlier kit's node3.xml and haproxy.cfg are gone"
    );
    std::fs::remove_dir_all(&root).unwrap_or_else(|e| panic!("{e}"));
}
