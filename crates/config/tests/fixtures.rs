#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The configuration files under `tests/fixtures/`:
//!
//! - `seed_*.xml`: every server-side snippet of the clustering guide, made a
//!   whole file; each must load with no error and no warning;
//! - `bad_*.xml`: files broken on purpose; each error must name the element
//!   and its exact line;
//! - `full.xml` and `warn_jmx.xml`: valid files with elements Shoal ignores.
//!
//! The `*.keystore` and `*.pem` files there are placeholders: only their
//! readability is checked.

use shoal_config::{
    load, AllowAccessFrom, AllowedHost, ConfigError, ControlLink, CrossDomainPolicy,
    EngineSettings, KeystoreType, Loaded, PortType,
};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn load_ok(name: &str) -> Loaded {
    load(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn load_err(name: &str) -> ConfigError {
    match load(&fixture(name)) {
        Ok(loaded) => panic!("{name} loaded: {loaded:#?}"),
        Err(e) => e,
    }
}

/// name, port, listening interface, keystore file
type ListenerRow = (
    &'static str,
    u16,
    Option<&'static str>,
    Option<&'static str>,
);

struct Seed {
    file: &'static str,
    listeners: &'static [ListenerRow],
    control_link_address: Option<&'static str>,
    control_link_machine_name: Option<&'static str>,
}

const fn seed(
    file: &'static str,
    listeners: &'static [ListenerRow],
    control_link_address: Option<&'static str>,
    control_link_machine_name: Option<&'static str>,
) -> Seed {
    Seed {
        file,
        listeners,
        control_link_address,
        control_link_machine_name,
    }
}

const HTTP_80: &[ListenerRow] = &[("HTTP Server", 80, None, None)];
const P1: Option<&str> = Some("push1.mycompany.com");
const P2: Option<&str> = Some("push2.mycompany.com");

const SEEDS: &[Seed] = &[
    seed("1a1", HTTP_80, None, None),
    seed("1a2", HTTP_80, None, None),
    seed("1b1_server1", HTTP_80, P1, None),
    seed("1b1_server2", HTTP_80, P2, None),
    seed("1b1_multihosting_server1", HTTP_80, P1, Some("push1")),
    seed("1b1_multihosting_server2", HTTP_80, P2, Some("push2")),
    seed("1b2_server1", HTTP_80, P1, None),
    seed("1b2_server2", HTTP_80, P2, None),
    seed(
        "2a1",
        &[("HTTPS Server", 443, None, Some("push.keystore"))],
        None,
        None,
    ),
    seed(
        "2a1_multihosting",
        &[
            ("My HTTPS Server", 443, None, Some("mypush.keystore")),
            ("Our HTTPS Server", 444, None, Some("ourpush.keystore")),
        ],
        None,
        None,
    ),
    seed("2a2", HTTP_80, None, None),
    seed(
        "2b11_server1",
        &[("HTTPS Server", 443, None, Some("wildcard_push.keystore"))],
        P1,
        None,
    ),
    seed(
        "2b11_server2",
        &[("HTTPS Server", 443, None, Some("wildcard_push.keystore"))],
        P2,
        None,
    ),
    seed(
        "2b11_multihosting_server1",
        &[
            (
                "My HTTPS Server",
                443,
                None,
                Some("wildcard_mypush.keystore"),
            ),
            (
                "Our HTTPS Server",
                444,
                None,
                Some("wildcard_ourpush.keystore"),
            ),
        ],
        P1,
        Some("push1"),
    ),
    seed(
        "2b11_multihosting_server2",
        &[
            (
                "My HTTPS Server",
                443,
                None,
                Some("wildcard_mypush.keystore"),
            ),
            (
                "Our HTTPS Server",
                444,
                None,
                Some("wildcard_ourpush.keystore"),
            ),
        ],
        P2,
        Some("push2"),
    ),
    seed(
        "2b12_server1",
        &[("HTTPS Server", 443, None, Some("wildcard_push.keystore"))],
        P1,
        None,
    ),
    seed(
        "2b12_server2",
        &[("HTTPS Server", 443, None, Some("wildcard_push.keystore"))],
        P2,
        None,
    ),
    seed("2b13_server1", HTTP_80, P1, None),
    seed("2b13_server2", HTTP_80, P2, None),
    seed(
        "2b14_server1",
        &[
            ("HTTP Server S", 80, Some("10.0.0.1"), None),
            (
                "HTTPS Server CR",
                443,
                Some("200.0.0.1"),
                Some("wildcard_push.keystore"),
            ),
        ],
        P1,
        None,
    ),
    seed(
        "2b14_server2",
        &[
            ("HTTP Server S", 80, Some("10.0.0.2"), None),
            (
                "HTTPS Server CR",
                443,
                Some("200.0.0.2"),
                Some("wildcard_push.keystore"),
            ),
        ],
        P2,
        None,
    ),
    seed(
        "2b21_server1",
        &[
            ("HTTPS Server S", 443, None, Some("push.keystore")),
            ("HTTPS Server CR", 444, None, Some("push1.keystore")),
        ],
        P1,
        None,
    ),
    seed(
        "2b21_server2",
        &[
            ("HTTPS Server S", 443, None, Some("push.keystore")),
            ("HTTPS Server CR", 444, None, Some("push2.keystore")),
        ],
        P2,
        None,
    ),
    seed(
        "2b21_multihosting_server1",
        &[
            (
                "My HTTPS Server S",
                443,
                Some("10.0.0.1"),
                Some("mypush.keystore"),
            ),
            (
                "My HTTPS Server CR",
                444,
                Some("10.0.0.1"),
                Some("mypush1.keystore"),
            ),
            (
                "Our HTTPS Server S",
                443,
                Some("10.0.0.11"),
                Some("ourpush.keystore"),
            ),
            (
                "Our HTTPS Server CR",
                444,
                Some("10.0.0.11"),
                Some("ourpush1.keystore"),
            ),
        ],
        P1,
        Some("push1"),
    ),
    seed(
        "2b21_multihosting_server2",
        &[
            (
                "My HTTPS Server S",
                443,
                Some("10.0.0.2"),
                Some("mypush.keystore"),
            ),
            (
                "My HTTPS Server CR",
                444,
                Some("10.0.0.2"),
                Some("mypush2.keystore"),
            ),
            (
                "Our HTTPS Server S",
                443,
                Some("10.0.0.12"),
                Some("ourpush.keystore"),
            ),
            (
                "Our HTTPS Server CR",
                444,
                Some("10.0.0.12"),
                Some("ourpush2.keystore"),
            ),
        ],
        P2,
        Some("push2"),
    ),
    seed(
        "2b22_server1",
        &[
            (
                "HTTPS Server S",
                443,
                Some("10.0.0.1"),
                Some("push.keystore"),
            ),
            (
                "HTTPS Server CR",
                443,
                Some("200.0.0.1"),
                Some("push1.keystore"),
            ),
        ],
        P1,
        None,
    ),
    seed(
        "2b22_server2",
        &[
            (
                "HTTPS Server S",
                443,
                Some("10.0.0.2"),
                Some("push.keystore"),
            ),
            (
                "HTTPS Server CR",
                443,
                Some("200.0.0.2"),
                Some("push2.keystore"),
            ),
        ],
        P2,
        None,
    ),
    seed("2b23_server1", HTTP_80, P1, None),
    // The guide gives server 2 the same address as server 1 here; kept as is.
    seed("2b23_server2", HTTP_80, P1, None),
    seed(
        "2b24_server1",
        &[
            ("HTTP Server S", 80, Some("10.0.0.1"), None),
            (
                "HTTPS Server CR",
                443,
                Some("200.0.0.1"),
                Some("push1.keystore"),
            ),
        ],
        P1,
        None,
    ),
    seed(
        "2b24_server2",
        &[
            ("HTTP Server S", 80, Some("10.0.0.2"), None),
            (
                "HTTPS Server CR",
                443,
                Some("200.0.0.2"),
                Some("push2.keystore"),
            ),
        ],
        P2,
        None,
    ),
];

#[test]
fn every_seed_snippet_loads_cleanly() {
    for s in SEEDS {
        let name = format!("seed_{}.xml", s.file);
        let loaded = load_ok(&name);
        assert_eq!(loaded.warnings, vec![], "{name}");
        let c = &loaded.config;
        let got: Vec<(String, u16, Option<IpAddr>, Option<PathBuf>)> = c
            .listeners
            .iter()
            .map(|l| {
                (
                    l.name.clone(),
                    l.port,
                    l.listening_interface,
                    l.keystore.as_ref().map(|k| k.file.clone()),
                )
            })
            .collect();
        let want: Vec<(String, u16, Option<IpAddr>, Option<PathBuf>)> = s
            .listeners
            .iter()
            .map(|(n, p, i, k)| {
                (
                    n.to_string(),
                    *p,
                    i.map(|i| i.parse().unwrap()),
                    k.map(fixture),
                )
            })
            .collect();
        assert_eq!(got, want, "{name}");
        for l in &c.listeners {
            assert_eq!(l.secure, l.keystore.is_some(), "{name}: {}", l.name);
            assert_eq!(l.port_type, PortType::GeneralPurpose, "{name}");
            if let Some(k) = &l.keystore {
                assert_eq!(k.kind, KeystoreType::Jks, "{name}");
                assert_eq!(k.password.as_deref(), Some("mypassword"), "{name}");
                assert_eq!(k.key_file, None, "{name}");
            }
        }
        let want_link = s.control_link_address.map(|h| ControlLink {
            host: h.to_owned(),
            port: None,
        });
        assert_eq!(c.control_link_address, want_link, "{name}");
        assert_eq!(
            c.control_link_machine_name.as_deref(),
            s.control_link_machine_name,
            "{name}"
        );
        assert_eq!(c.engine, EngineSettings::default(), "{name}");
        assert_eq!(c.pages_dir, None, "{name}");
    }
}

#[test]
fn every_seed_fixture_is_checked() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixture(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("seed_") && n.ends_with(".xml"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = SEEDS
        .iter()
        .map(|s| format!("seed_{}.xml", s.file))
        .collect();
    listed.sort();
    assert_eq!(on_disk, listed);
    assert_eq!(listed.len(), 31);
}

#[test]
fn listener_lines_point_at_the_listener_elements() {
    let c = load_ok("seed_2b21_multihosting_server1.xml").config;
    let lines: Vec<u32> = c.listeners.iter().map(|l| l.line).collect();
    assert_eq!(lines, vec![4, 12, 20, 28]);
    let keystore_lines: Vec<u32> = c
        .listeners
        .iter()
        .map(|l| l.keystore.as_ref().unwrap().line)
        .collect();
    assert_eq!(keystore_lines, vec![7, 15, 23, 31]);
}

/// file, line, element path, words of the message
const BAD: &[(&str, u32, &str, &str)] = &[
    (
        "bad_port.xml",
        5,
        "lightstreamer_conf/http_server[name=\"HTTP Server\"]/port",
        "expected a TCP port number from 0 to 65535",
    ),
    (
        "bad_port_type.xml",
        6,
        "lightstreamer_conf/http_server[name=\"HTTP Server S\"]/port_type",
        "unknown port type \"CREATE\"",
    ),
    (
        "bad_keystore_type.xml",
        6,
        "lightstreamer_conf/https_server[name=\"HTTPS Server\"]/keystore/@type",
        "unknown keystore type \"JCEKS\"",
    ),
    (
        "bad_keystore_unreadable.xml",
        7,
        "lightstreamer_conf/https_server[name=\"HTTPS Server\"]/keystore/keystore_file",
        "cannot open",
    ),
    (
        "bad_keystore_password_missing.xml",
        6,
        "lightstreamer_conf/https_server[name=\"HTTPS Server\"]/keystore",
        "missing <keystore_password>",
    ),
    (
        "bad_keystore_on_http.xml",
        6,
        "lightstreamer_conf/http_server[name=\"HTTP Server\"]/keystore",
        "only allowed in <https_server>",
    ),
    (
        "bad_https_without_keystore.xml",
        7,
        "lightstreamer_conf/https_server[name=\"HTTPS Server\"]",
        "missing <keystore>",
    ),
    (
        "bad_duplicate_listener.xml",
        11,
        "lightstreamer_conf/https_server[name=\"HTTPS Server\"]",
        "duplicate listener name",
    ),
    (
        "bad_port_clash.xml",
        12,
        "lightstreamer_conf/https_server[name=\"HTTPS Server CR\"]/port",
        "clashes with \"HTTPS Server S\" (line 5)",
    ),
    (
        "bad_two_ports.xml",
        6,
        "lightstreamer_conf/http_server[name=\"HTTP Server\"]/port",
        "written twice (first at line 5)",
    ),
    (
        "bad_two_control_link_addresses.xml",
        8,
        "lightstreamer_conf/control_link_address",
        "written twice (first at line 7)",
    ),
    (
        "bad_control_link_address.xml",
        7,
        "lightstreamer_conf/control_link_address",
        "expected a host name or IP address",
    ),
    (
        "bad_keepalive.xml",
        9,
        "lightstreamer_conf/max_keepalive_millis",
        "less than <default_keepalive_millis> (5000, line 7)",
    ),
    (
        "bad_invalid_xml.xml",
        8,
        "lightstreamer_conf/https_server/keystore/keystore_password",
        "invalid XML",
    ),
    (
        "bad_no_listener.xml",
        3,
        "lightstreamer_conf",
        "at least one listener",
    ),
    (
        "bad_no_port.xml",
        4,
        "lightstreamer_conf/http_server[name=\"HTTP Server\"]",
        "missing <port>",
    ),
];

#[test]
fn broken_fixtures_fail_at_the_right_element_and_line() {
    for (file, line, element, words) in BAD {
        let e = load_err(file);
        assert_eq!(e.file, fixture(file), "{file}: {e}");
        assert_eq!(e.line, Some(*line), "{file}: {e}");
        assert_eq!(e.element, *element, "{file}: {e}");
        assert!(e.message.contains(words), "{file}: {e}");
        let shown = e.to_string();
        assert!(
            shown.contains(&format!(":{line}: <{element}>: ")),
            "{file}: {shown}"
        );
    }
}

#[test]
fn an_unreadable_keystore_is_named_by_its_resolved_path() {
    let e = load_err("bad_keystore_unreadable.xml");
    let missing = fixture("missing.keystore");
    assert!(e.message.contains(&missing.display().to_string()), "{e}");
}

#[test]
fn a_missing_file_is_an_error_without_line() {
    let e = load_err("no_such_file.xml");
    assert_eq!(e.line, None);
    assert_eq!(e.element, "");
    assert!(e.message.contains("cannot read"), "{e}");
}

#[test]
fn an_unimplemented_element_gives_exactly_one_warning() {
    let loaded = load_ok("warn_jmx.xml");
    assert_eq!(loaded.warnings.len(), 1, "{:#?}", loaded.warnings);
    let w = &loaded.warnings[0];
    assert_eq!(w.line, Some(7));
    assert_eq!(w.element, "lightstreamer_conf/jmx");
    assert!(w.message.contains("not applicable to Shoal"), "{w}");
    assert!(w.message.ends_with("ignored"), "{w}");
    assert_eq!(
        w.to_string(),
        format!(
            "{}:7: <lightstreamer_conf/jmx>: {}",
            fixture("warn_jmx.xml").display(),
            w.message
        )
    );
    assert_eq!(loaded.config.listeners.len(), 1);
}

#[test]
fn a_full_configuration() {
    let loaded = load_ok("full.xml");
    let c = &loaded.config;

    let [http, public, internal] = &c.listeners[..] else {
        panic!("{:#?}", c.listeners)
    };
    assert_eq!(
        (http.name.as_str(), http.secure, http.port, http.line),
        ("Public HTTP", false, 8080, 12)
    );
    assert_eq!(http.port_type, PortType::CreateOnly);
    assert_eq!(http.listening_interface, None);
    assert_eq!(http.skip_local_forwards, 1);
    assert!(!http.proxy_protocol);
    assert_eq!(http.keystore, None);

    assert_eq!(
        (
            public.name.as_str(),
            public.secure,
            public.port,
            public.line
        ),
        ("Public HTTPS", true, 8443, 25)
    );
    assert_eq!(public.port_type, PortType::ControlOnly);
    assert_eq!(
        public.listening_interface,
        Some("127.0.0.1".parse().unwrap())
    );
    assert!(public.proxy_protocol);
    assert_eq!(public.proxy_protocol_timeout_millis, Some(2000));
    assert_eq!(public.skip_local_forwards, 0);
    let ks = public.keystore.as_ref().unwrap();
    assert_eq!(ks.kind, KeystoreType::Pkcs12);
    assert_eq!(ks.file, fixture("./push.keystore"));
    assert_eq!(ks.password.as_deref(), Some("secret"));
    assert_eq!(ks.key_file, None);
    assert_eq!(ks.line, 33);

    assert_eq!(internal.port_type, PortType::Priority);
    assert_eq!(internal.listening_interface, Some("::1".parse().unwrap()));
    let ks = internal.keystore.as_ref().unwrap();
    assert_eq!(ks.kind, KeystoreType::Pem);
    assert_eq!(ks.file, fixture("server-chain.pem"));
    assert_eq!(ks.key_file, Some(fixture("server-key.pem")));
    assert_eq!(ks.password, None);

    assert_eq!(
        c.engine,
        EngineSettings {
            request_limit: Some(50000),
            default_keepalive_millis: Some(5000),
            min_keepalive_millis: Some(1000),
            max_keepalive_millis: Some(30000),
            content_length: Some(4000000),
            max_polling_millis: Some(15000),
            max_idle_millis: Some(30000),
            session_timeout_millis: Some(10000),
            session_recovery_millis: Some(13000),
            max_buffer_size: Some(1000),
            max_sessions: Some(5000),
            max_session_duration_minutes: Some(120),
            missing_message_timeout_millis: Some(10000),
            max_delay_millis: None,
        }
    );
    assert_eq!(
        c.control_link_address,
        Some(ControlLink {
            host: "push1.mycompany.com".into(),
            port: Some(8443)
        })
    );
    assert_eq!(
        c.control_link_address.as_ref().unwrap().to_string(),
        "push1.mycompany.com:8443"
    );
    assert_eq!(c.control_link_machine_name.as_deref(), Some("push1"));
    assert_eq!(c.pages_dir, Some(fixture("pages")));
    assert_eq!(
        c.cross_domain_policy,
        Some(CrossDomainPolicy {
            accept_credentials: true,
            accept_extra_headers: vec![],
            options_max_age: 3600,
            allow: vec![AllowAccessFrom {
                scheme: None,
                host: AllowedHost::Any,
                port: None,
                line: 60,
            }],
        })
    );
    // <dashboard> with only <public>N</public>: Lightstreamer's defaults,
    // so the console is on no listener.
    let dashboard = c.dashboard.as_ref().unwrap();
    assert!(!dashboard.public && dashboard.users.is_empty());
    assert!(!c.dashboard_available_on("Public HTTP"));
    assert_eq!(c.timeouts.read_millis, Some(20000));
    assert_eq!(c.timeouts.write_millis, Some(120000));

    let warnings: Vec<(u32, &str)> = loaded
        .warnings
        .iter()
        .map(|w| (w.line.unwrap(), w.element.as_str()))
        .collect();
    const HTTP: &str = "lightstreamer_conf/http_server[name=\"Public HTTP\"]";
    const HTTPS: &str = "lightstreamer_conf/https_server[name=\"Public HTTPS\"]";
    assert_eq!(
        warnings,
        vec![
            (9, "lightstreamer_conf/edition_conf"),
            (14, &*format!("{HTTP}/backlog")),
            (16, &*format!("{HTTP}/response_http_headers")),
            (37, &*format!("{HTTPS}/remove_protocols")),
            (55, "lightstreamer_conf/websocket"),
            (63, "lightstreamer_conf/logback_properties"),
            (65, "lightstreamer_conf/jmx"),
            (85, "lightstreamer_conf/subscription_timeout_millis"),
            (92, "lightstreamer_conf/max_idle_millis/@randomize"),
            (94, "lightstreamer_conf/mpn"),
            (108, "lightstreamer_conf/server_pool_max_size"),
        ]
    );
    for w in &loaded.warnings {
        assert!(
            w.message == "not implemented by Shoal; ignored"
                || (w.message.starts_with("not applicable to Shoal (")
                    && w.message.ends_with("); ignored")),
            "{w}"
        );
    }
}
