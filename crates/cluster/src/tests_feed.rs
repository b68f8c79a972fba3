//! Kits with `--feed`: the adapter set FEED every node reads from the one
//! broker, the scripts that start the broker first and stop it last, the
//! kit's publish token. Nothing here starts a process of the kit.

use crate::kit::{self, CaSource};
use crate::plan::{plan, Feed, Options, Plan};
use std::path::{Path, PathBuf};

fn feed_plan(topology: &str, feed: Option<Feed>) -> Plan {
    plan(&Options {
        topology: topology.into(),
        feed,
        ..Options::default()
    })
    .unwrap_or_else(|e| panic!("{topology} {feed:?}: {e}"))
}

/// Writes the kit of `p` into a new folder (kept until the `TempDir` goes).
pub(crate) fn write(p: &Plan) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("kit");
    kit::write(p, &out, &CaSource::Generate).unwrap_or_else(|e| panic!("{e}"));
    (dir, out)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The kit's token, from its adapters.xml.
fn token_in(xml: &str) -> String {
    let start = "<param name=\"publish_token\">";
    let from = xml.find(start).map(|i| i + start.len());
    let token = from.and_then(|a| xml[a..].find('<').map(|b| xml[a..a + b].to_owned()));
    token.unwrap_or_else(|| panic!("no publish_token in {xml}"))
}

/// Index of the first line starting with `prefix`.
fn line_of(script: &str, prefix: &str) -> usize {
    script
        .lines()
        .position(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in\n{script}"))
}

#[test]
fn redis_feed_gives_every_node_the_adapter_set_feed() {
    let p = feed_plan("1.A.2", Some(Feed::Redis));
    let (_dir, out) = write(&p);
    let xml = read(&out.join("adapters/FEED/adapters.xml"));
    let token = token_in(&xml);
    for part in [
        "<adapters_conf id=\"FEED\">",
        "<metadata_provider>\n    <adapter_class>com.lightstreamer.adapters.metadata.LiteralBasedProvider</adapter_class>\n  </metadata_provider>",
        "<data_provider name=\"DEFAULT\">\n    <adapter_class>shoal.redis</adapter_class>",
        "<param name=\"url\">redis://127.0.10.5:6379/0</param>",
        "<param name=\"stream_prefix\">shoal:</param>",
        "</data_provider>\n</adapters_conf>\n",
    ] {
        assert!(xml.contains(part), "{part} not in\n{xml}");
    }
    assert!(
        !xml.contains("subject_prefix") && !xml.contains("\"stream\""),
        "{xml}"
    );
    assert_eq!(xml.matches("<data_provider").count(), 1, "{xml}");
    assert_eq!(token.len(), 32, "{token}");
    assert!(
        token
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{token}"
    );
    assert_eq!(
        p.feed.as_ref().map(|f| f.publish_token.as_str()),
        Some(token.as_str())
    );
}

#[test]
fn nats_feed_gives_every_node_the_adapter_set_feed() {
    let p = feed_plan("1.B.1", Some(Feed::Nats));
    let (_dir, out) = write(&p);
    let xml = read(&out.join("adapters/FEED/adapters.xml"));
    for part in [
        "<adapters_conf id=\"FEED\">",
        "<adapter_class>com.lightstreamer.adapters.metadata.LiteralBasedProvider</adapter_class>",
        "<data_provider name=\"DEFAULT\">\n    <adapter_class>shoal.nats</adapter_class>",
        "<param name=\"url\">nats://127.0.10.5:4222</param>",
        "<param name=\"subject_prefix\">shoal</param>",
        "<param name=\"stream\">SHOAL</param>",
    ] {
        assert!(xml.contains(part), "{part} not in\n{xml}");
    }
    assert!(!xml.contains("stream_prefix"), "{xml}");
    assert_eq!(token_in(&xml).len(), 32);
}

#[test]
fn every_node_config_names_the_one_adapters_dir() {
    for feed in [Feed::Redis, Feed::Nats] {
        // An HTTPS option too: the node configs must still load with their
        // keystores beside them.
        for topology in ["1.A.2", "2.B.2.1"] {
            let p = feed_plan(topology, Some(feed));
            let (_dir, out) = write(&p);
            let mut dirs = Vec::new();
            for n in &p.nodes {
                let file = out.join(format!("{}.xml", n.name));
                let text = read(&file);
                assert!(
                    text.contains("<adapters_dir>adapters</adapters_dir>\n</lightstreamer_conf>"),
                    "{topology}: {text}"
                );
                // Read as `shoal serve` reads it (adapters.xml itself is read
                // by the adapters' own loader, not here).
                let loaded =
                    shoal_config::load(&file).unwrap_or_else(|e| panic!("{topology}: {e}"));
                dirs.push(loaded.config.adapters_dir);
            }
            let want = Some(out.join("adapters"));
            assert!(dirs.iter().all(|d| *d == want), "{topology}: {dirs:?}");
            let sets: Vec<_> = std::fs::read_dir(out.join("adapters"))
                .unwrap_or_else(|e| panic!("{e}"))
                .map(|e| e.unwrap_or_else(|e| panic!("{e}")).file_name())
                .collect();
            assert_eq!(
                sets,
                ["FEED"],
                "{topology}: one adapter set, DEMO stays embedded"
            );
        }
    }
}

#[test]
fn without_feed_the_kit_is_as_before() {
    let p = feed_plan("1.A.2", None);
    let (_dir, out) = write(&p);
    assert!(p.feed.is_none());
    assert!(!out.join("adapters").exists());
    for n in &p.nodes {
        assert!(!read(&out.join(format!("{}.xml", n.name))).contains("adapters_dir"));
    }
    let start = read(&out.join("start.sh"));
    assert!(
        !start.contains("broker") && !start.contains("redis"),
        "{start}"
    );
    assert!(!read(&out.join("README.md")).contains("Shared feed"));
    let json: serde_json::Value =
        serde_json::from_str(&read(&out.join("kit.json"))).unwrap_or_else(|e| panic!("{e}"));
    assert!(json["feed"].is_null(), "{json}");
}

#[test]
fn start_script_starts_the_broker_first_and_stop_script_stops_it_last() {
    for (feed, name, program) in [
        (Feed::Redis, "redis", "redis-server"),
        (Feed::Nats, "nats", "nats-server"),
    ] {
        let p = feed_plan("1.B.1", Some(feed));
        let (_dir, out) = write(&p);
        let start = read(&out.join("start.sh"));
        let stop = read(&out.join("stop.sh"));
        // Missing, the program is named with its Debian package.
        assert!(
            start.contains(&format!("broker=$(need {program} {program})")),
            "{start}"
        );
        assert!(start.contains("install the Debian package $2"), "{start}");
        let broker = line_of(&start, &format!("start {name} \"$broker\" "));
        let ready = line_of(
            &start,
            &format!("wait_for {name} 127.0.10.5 {}", feed.port()),
        );
        let first_node = line_of(&start, "start node1 ");
        let balancer = line_of(&start, "start haproxy ");
        let starts: Vec<_> = start.lines().filter(|l| l.starts_with("start ")).collect();
        assert!(starts[0].starts_with(&format!("start {name} ")), "{start}");
        assert!(
            broker < ready && ready < first_node && first_node < balancer,
            "{start}"
        );
        let stops: Vec<_> = stop.lines().filter(|l| l.starts_with("stop ")).collect();
        assert_eq!(
            stops,
            ["stop haproxy TERM", "stop node2 INT", "stop node1 INT"]
                .into_iter()
                .map(String::from)
                .chain([format!("stop {name} TERM")])
                .collect::<Vec<_>>(),
            "{stop}"
        );
        // Its data and log inside the kit.
        let data = format!("{name}-data");
        assert!(
            start.contains(&format!("mkdir -p logs {data}\n")),
            "{start}"
        );
        assert!(start.contains(&format!(" {data}\n")), "{start}");
        match feed {
            Feed::Redis => assert!(
                start.contains(
                    "\"$broker\" --bind 127.0.10.5 --port 6379 --dir redis-data --appendonly yes\n"
                ),
                "{start}"
            ),
            Feed::Nats => assert!(
                start.contains("\"$broker\" -js -a 127.0.10.5 -p 4222 -sd nats-data\n"),
                "{start}"
            ),
        }
        assert!(start.contains(">>\"logs/$name.log\""), "{start}");
        for script in ["start.sh", "stop.sh"] {
            let path = out.join(script);
            let bash = std::process::Command::new("bash")
                .arg("-n")
                .arg(&path)
                .output()
                .unwrap_or_else(|e| panic!("bash: {e}"));
            assert!(
                bash.status.success(),
                "{script}: {}",
                String::from_utf8_lossy(&bash.stderr)
            );
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path)
                    .unwrap_or_else(|e| panic!("{e}"))
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o111, 0o111, "{script} is not executable");
            }
        }
    }
}

#[test]
fn kit_json_names_the_broker_command_start_sh_runs() {
    for (feed, name, program) in [
        (Feed::Redis, "redis", "redis-server"),
        (Feed::Nats, "nats", "nats-server"),
    ] {
        let p = feed_plan("1.A.2", Some(feed));
        let (_dir, out) = write(&p);
        let start = read(&out.join("start.sh"));
        let json: serde_json::Value =
            serde_json::from_str(&read(&out.join("kit.json"))).unwrap_or_else(|e| panic!("{e}"));
        let f = &json["feed"];
        assert_eq!(f["program"], program, "{f}");
        assert_eq!(f["package"], program, "{f}");
        let args: Vec<String> = serde_json::from_value(f["args"].clone())
            .unwrap_or_else(|e| panic!("feed.args of {f}: {e}"));
        // The same words as start.sh's line, the program aside.
        let line = format!("start {name} \"$broker\" {}", args.join(" "));
        assert!(start.lines().any(|l| l == line), "{line} not in\n{start}");
        assert!(
            start.contains(&format!("broker=$(need {program} {program})")),
            "{start}"
        );
        // The addresses it binds are the ones kit.json lists.
        let listens = &f["listens"];
        assert_eq!(listens, &serde_json::json!(["127.0.10.5", feed.port()]));
        for word in [
            "127.0.10.5",
            &feed.port().to_string(),
            &format!("{name}-data"),
        ] {
            assert!(args.iter().any(|a| a == word), "{word} not in {args:?}");
        }
    }
}

#[test]
fn start_script_names_the_debian_package_of_a_missing_broker() {
    // Only where no sbin folder has redis-server, since the script looks
    // there too.
    let sbin = ["/usr/local/sbin", "/usr/sbin", "/sbin"];
    if sbin
        .iter()
        .any(|d| Path::new(d).join("redis-server").exists())
    {
        eprintln!("skipped: redis-server is in an sbin folder");
        return;
    }
    let p = feed_plan("1.A.2", Some(Feed::Redis));
    let (dir, out) = write(&p);
    // A PATH with only what the script needs before its checks: no
    // redis-server. SHOAL names a program that exists; nothing is started.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap_or_else(|e| panic!("{e}"));
    let dirname = ["/usr/bin/dirname", "/bin/dirname"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or_else(|| panic!("no dirname"));
    std::os::unix::fs::symlink(dirname, bin.join("dirname")).unwrap_or_else(|e| panic!("{e}"));
    let bash = ["/usr/bin/bash", "/bin/bash"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or_else(|| panic!("no bash"));
    let o = std::process::Command::new(bash)
        .arg(out.join("start.sh"))
        .env("PATH", &bin)
        .env("SHOAL", bash)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "redis-server is not installed: install the Debian package redis-server (apt-get install redis-server)"
        ),
        "{err}"
    );
    assert!(!out.join("logs").exists(), "nothing was started");
}

#[test]
fn the_token_is_one_per_kit_and_new_for_each_kit() {
    let p = feed_plan("2.B.1.3", Some(Feed::Redis));
    let (_dir, out) = write(&p);
    let token = token_in(&read(&out.join("adapters/FEED/adapters.xml")));
    // The README's curl and kit.json carry the same one.
    let readme = read(&out.join("README.md"));
    assert!(
        readme.contains(&format!("-H 'Authorization: Bearer {token}'")),
        "{readme}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&read(&out.join("kit.json"))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json["feed"]["publish_token"], token.as_str());
    // Each node reads it from the one adapters folder (checked above); a
    // second kit gets another token, written over the first.
    let again = feed_plan("2.B.1.3", Some(Feed::Redis));
    kit::write(&again, &out, &CaSource::Generate).unwrap_or_else(|e| panic!("{e}"));
    let second = token_in(&read(&out.join("adapters/FEED/adapters.xml")));
    assert_ne!(token, second);
    assert_eq!(again.feed.map(|f| f.publish_token), Some(second));
}

#[test]
fn readme_explains_the_shared_feed() {
    let p = feed_plan("1.A.2", Some(Feed::Redis));
    let token = p
        .feed
        .as_ref()
        .map(|f| f.publish_token.clone())
        .unwrap_or_default();
    let readme = crate::readme::render(&p);
    let curl = format!(
        "curl -sS --resolve push.example.test:8080:127.0.10.10 -X POST http://push.example.test:8080/publish \\\n     \
         -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\\n     \
         -d '{{\"adapter_set\":\"FEED\",\"item\":\"chat\",\"fields\":{{\"message\":\"hello\"}}}}'"
    );
    for part in [
        "## Shared feed",
        "adapter set `FEED`",
        "Item `X` is the Redis stream `shoal:X`",
        &curl,
        "redis-cli -h 127.0.10.5 -p 6379 XADD shoal:chat '*' message hello",
        "the nodes keep their sessions",
        "`./start.sh` starts, in this order and in the background:\n   the Redis of the shared feed, then the nodes, then the balancer.",
        "   - the broker: `mkdir -p redis-data && redis-server --bind 127.0.10.5 --port 6379 --dir redis-data --appendonly yes`\n   - node1:",
    ] {
        assert!(readme.contains(part), "{part:?} not in\n{readme}");
    }
    // HTTPS through the balancer: the kit's CA, and its public port.
    let p = feed_plan("2.A.1", Some(Feed::Nats));
    let readme = crate::readme::render(&p);
    for part in [
        "Item `X` is the subject `shoal.X` of the JetStream stream `SHOAL`",
        "curl -sS --resolve push.example.test:8443:127.0.10.10 --cacert ca.pem -X POST https://push.example.test:8443/publish",
        "nats --server nats://127.0.10.5:4222 pub shoal.chat '{\"message\":\"hello\"}'",
    ] {
        assert!(readme.contains(part), "{part:?} not in\n{readme}");
    }
}

#[test]
fn the_broker_follows_network_and_has_a_socket_of_its_own() {
    let p = plan(&Options {
        topology: "2.B.2.1".into(),
        multihosting: true,
        nodes: 9,
        network: [127, 0, 42],
        feed: Some(Feed::Nats),
        ..Options::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let f = p.feed.as_ref().unwrap_or_else(|| panic!("no feed"));
    assert_eq!(f.url(), "nats://127.0.42.5:4222");
    let taken = p.frontends.iter().map(|f| f.address).chain(
        p.nodes
            .iter()
            .flat_map(|n| n.listeners.iter().map(|l| l.address)),
    );
    for a in taken {
        assert_ne!(a, f.address);
    }
}

#[test]
fn a_kit_without_feed_replaces_a_feed_kit_and_keeps_the_broker_data() {
    let p = feed_plan("1.A.2", Some(Feed::Redis));
    let (_dir, out) = write(&p);
    // What start.sh would have made.
    std::fs::create_dir_all(out.join("redis-data/appendonlydir")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(out.join("redis-data/dump.rdb"), b"x").unwrap_or_else(|e| panic!("{e}"));
    kit::write(&feed_plan("1.A.2", None), &out, &CaSource::Generate)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !out.join("adapters").exists(),
        "the adapter set of the earlier kit is gone"
    );
    assert!(
        out.join("redis-data/dump.rdb").exists(),
        "the broker's data stays"
    );
    for n in ["start.sh", "stop.sh", "node1.xml"] {
        assert!(out.join(n).is_file(), "{n}");
    }
}
