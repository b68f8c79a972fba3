//! The broker data adapters `shoal.redis` and `shoal.nats`: their params
//! read back, defaults, errors, warnings.

use super::tests::{assert_err, line_of, notes, one, one_err, Dir};
use super::tests_proxy::{data_param, p};
use super::*;

const REDIS: &str = "shoal.redis";
const NATS: &str = "shoal.nats";
const DATA: &str = "adapters_conf[id=\"S\"]/data_provider[name=\"DEFAULT\"]";

/// A set with LiteralBasedProvider metadata and one data provider of
/// `class` (line 5, its params from line 7).
fn set(class: &str, data: &str) -> String {
    format!(
        "<adapters_conf id=\"S\">\n<metadata_provider>\n<adapter_class>{LITERAL_BASED_PROVIDER}</adapter_class>\n</metadata_provider>\n<data_provider>\n<adapter_class>{class}</adapter_class>{data}\n</data_provider>\n</adapters_conf>"
    )
}

fn feed(set: &AdapterSet) -> &BrokerFeed {
    match &set.data[0].source {
        DataSource::Broker(b) => b,
        other => panic!("not a broker: {other:?}"),
    }
}

/// The feed of a set written alone, with its warnings.
fn feed_of(xml: &str) -> (BrokerFeed, Vec<(u32, String, String)>) {
    let (set, w) = one(xml);
    (feed(&set).clone(), notes(&w))
}

fn params(list: &[(&str, &str)]) -> String {
    list.iter().map(|(n, v)| p(n, v)).collect()
}

/// The set in folder `S` of `d`, loaded.
fn load(d: &Dir, xml: &str) -> (AdapterSet, Vec<(u32, String, String)>) {
    d.set("S", xml);
    let mut loaded = d.load().unwrap_or_else(|e| panic!("{e}"));
    (loaded.sets.remove(0), notes(&loaded.warnings))
}

#[test]
fn a_full_redis_provider() {
    let d = Dir::new();
    d.file("S/certs/ca.pem", "-----BEGIN CERTIFICATE-----\n");
    let xml = set(
        REDIS,
        &params(&[
            ("url", "rediss://cache.example.com:6380/2"),
            ("username", "shoal"),
            ("password", "pw"),
            ("tls_ca_file", "certs/ca.pem"),
            ("stream_prefix", "shoal:"),
            ("snapshot_length", "50"),
            ("command_history_limit", "2000"),
            ("max_length", "0"),
            ("linger_millis", "0"),
            ("publish_token", "s3cret"),
            ("publish_user", "ann"),
            ("publish_password", "annpw"),
            ("healthcheck_requires_broker", "Y"),
            ("session_handoff", "N"),
        ]),
    );
    let (s, w) = load(&d, &xml);
    assert_eq!(w, vec![]);
    assert_eq!(s.data[0].class(), AdapterClass::Redis);
    assert_eq!(s.data[0].params.len(), 14);
    assert_eq!(
        feed(&s),
        &BrokerFeed {
            kind: BrokerKind::Redis,
            url: "rediss://cache.example.com:6380/2".to_owned(),
            username: Some("shoal".to_owned()),
            password: Some("pw".to_owned()),
            tls_ca_file: Some(d.dir.join("S/certs/ca.pem")),
            prefix: "shoal:".to_owned(),
            nats: None,
            snapshot_length: 50,
            command_history_limit: 2000,
            max_length: 0,
            linger_millis: 0,
            publish: Some(PublishAuth {
                token: Some("s3cret".to_owned()),
                basic: Some(("ann".to_owned(), "annpw".to_owned())),
            }),
            healthcheck_requires_broker: true,
            session_handoff: false,
        }
    );
}

#[test]
fn a_full_nats_provider() {
    let d = Dir::new();
    d.file("S/ca.pem", "-----BEGIN CERTIFICATE-----\n");
    d.file("S/keys/feed.creds", "-----BEGIN NATS USER JWT-----\n");
    let xml = set(
        NATS,
        &params(&[
            (
                "url",
                "tls://n1.example.com:4222, tls://[::1]:4223,nats://n3",
            ),
            ("tls_ca_file", "ca.pem"),
            ("subject_prefix", "prices.eu"),
            ("stream", "PRICES_EU"),
            ("create_stream", "N"),
            ("credentials_file", "keys/feed.creds"),
            ("snapshot_length", "10000"),
            ("command_history_limit", "1"),
            ("max_length", "500"),
            ("linger_millis", "60000"),
            ("publish_token", "tok"),
            ("healthcheck_requires_broker", "N"),
        ]),
    );
    let (s, w) = load(&d, &xml);
    assert_eq!(w, vec![]);
    assert_eq!(s.data[0].class(), AdapterClass::Nats);
    assert_eq!(
        feed(&s),
        &BrokerFeed {
            kind: BrokerKind::Nats,
            url: "tls://n1.example.com:4222, tls://[::1]:4223,nats://n3".to_owned(),
            username: None,
            password: None,
            tls_ca_file: Some(d.dir.join("S/ca.pem")),
            prefix: "prices.eu".to_owned(),
            nats: Some(NatsFeed {
                stream: "PRICES_EU".to_owned(),
                create_stream: false,
                token: None,
                credentials_file: Some(d.dir.join("S/keys/feed.creds")),
            }),
            snapshot_length: 10_000,
            command_history_limit: 1,
            max_length: 500,
            linger_millis: 60_000,
            publish: Some(PublishAuth {
                token: Some("tok".to_owned()),
                basic: None,
            }),
            healthcheck_requires_broker: false,
            session_handoff: true,
        }
    );

    // The two other ways of logging in.
    let (f, w) = feed_of(&set(
        NATS,
        &params(&[
            ("url", "nats://127.0.0.1"),
            ("username", "feed"),
            ("password", "pw"),
        ]),
    ));
    assert_eq!(w, vec![]);
    assert_eq!(
        (f.username.as_deref(), f.password.as_deref()),
        (Some("feed"), Some("pw"))
    );
    let (f, _) = feed_of(&set(
        NATS,
        &params(&[("url", "nats://127.0.0.1"), ("token", "t0k")]),
    ));
    assert_eq!(f.nats.and_then(|n| n.token).as_deref(), Some("t0k"));
}

#[test]
fn defaults() {
    let (f, w) = feed_of(&set(REDIS, &p("url", "redis://127.0.0.1:6379/0")));
    assert_eq!(w, vec![]);
    assert_eq!(
        f,
        BrokerFeed {
            kind: BrokerKind::Redis,
            url: "redis://127.0.0.1:6379/0".to_owned(),
            username: None,
            password: None,
            tls_ca_file: None,
            prefix: String::new(),
            nats: None,
            snapshot_length: 10,
            command_history_limit: 100_000,
            max_length: 10_000,
            linger_millis: 5000,
            publish: None,
            healthcheck_requires_broker: false,
            session_handoff: true,
        }
    );
    let (f, w) = feed_of(&set(NATS, &p("url", "nats://127.0.0.1")));
    assert_eq!(w, vec![]);
    assert_eq!(f.prefix, "shoal");
    assert_eq!(
        f.nats,
        Some(NatsFeed {
            stream: "SHOAL".to_owned(),
            create_stream: true,
            token: None,
            credentials_file: None,
        })
    );
    assert_eq!(
        (
            f.snapshot_length,
            f.command_history_limit,
            f.max_length,
            f.linger_millis,
            &f.publish,
            f.healthcheck_requires_broker
        ),
        (10, 100_000, 10_000, 5000, &None, false)
    );
    // The class in any case; a Redis password alone is AUTH <password>.
    let (s, _) = one(&set(
        "Shoal.Redis",
        &params(&[("url", "redis://h"), ("password", "pw")]),
    ));
    assert_eq!(s.data[0].class(), AdapterClass::Redis);
    assert_eq!(feed(&s).password.as_deref(), Some("pw"));
}

#[test]
fn urls() {
    for url in [
        "redis://h",
        "REDIS://h:1/",
        "redis://:pw@h:6379/15",
        "redis://u:p%2Fw@10.0.0.1:6379/0?protocol=resp3",
        "rediss://[::1]:6380",
    ] {
        let (f, w) = feed_of(&set(REDIS, &p("url", url)));
        assert_eq!((f.url.as_str(), w), (url, vec![]));
    }
    for url in ["nats://h", "tls://u:p@h:4222/", "nats://a:1,nats://b:2,"] {
        let (f, w) = feed_of(&set(NATS, &p("url", url)));
        assert_eq!((f.url.as_str(), w), (url, vec![]));
    }
    let url = data_param("url");
    let cases = [
        (REDIS, "http://h:6379", "the scheme \"http\" is not Redis"),
        (REDIS, "nats://h", "the scheme \"nats\" is not Redis"),
        (REDIS, "127.0.0.1:6379", "not a URL"),
        (REDIS, "redis://:6379/0", "no host"),
        (REDIS, "redis://u:pw@/0", "no host"),
        (REDIS, "redis://h:99999", "not a TCP port"),
        (REDIS, "redis://h:0", "not a TCP port"),
        (REDIS, "redis://h/db1", "\"/db1\" is not a database"),
        (REDIS, "redis://::1/0", "in brackets"),
        (REDIS, "redis://[::g]", "not an IPv6 address"),
        (REDIS, "redis://h s", "unexpected character"),
        (NATS, "redis://h", "the scheme \"redis\" is not NATS"),
        (
            NATS,
            "nats://a:4222,http://b",
            "the scheme \"http\" is not NATS",
        ),
        (NATS, "nats://a:x", "not a TCP port"),
        (NATS, "nats://a/b", "only a server address"),
        (NATS, " , ", "no server"),
    ];
    for (class, value, words) in cases {
        let xml = set(class, &p("url", value));
        assert_err(&xml, "\"url\"", &url, words);
    }
    // A password is never quoted by an error.
    let e = one_err(&set(REDIS, &p("url", "redis://u:s3cr/et@h")));
    assert!(!e.message.contains("s3cr"), "{e}");
    assert!(e.message.contains("%2F"), "{e}");
}

#[test]
fn a_missing_url() {
    for (class, words) in [(REDIS, "redis://127.0.0.1"), (NATS, "nats://127.0.0.1")] {
        let xml = set(class, &p("stream", "S"));
        assert_err(
            &xml,
            "<data_provider>",
            DATA,
            "missing <param name=\"url\">",
        );
        assert!(one_err(&xml).message.contains(words));
    }
}

#[test]
fn numbers_and_flags() {
    let cases = [
        ("snapshot_length", "0", "from 1 to 10000"),
        ("snapshot_length", "10001", "from 1 to 10000"),
        ("snapshot_length", "ten", "from 1 to 10000, found \"ten\""),
        ("command_history_limit", "0", "1 or more"),
        ("command_history_limit", "-5", "1 or more"),
        ("max_length", "-1", "0 or more, found \"-1\""),
        ("max_length", "1e3", "0 or more"),
        ("linger_millis", "5s", "0 or more"),
        ("healthcheck_requires_broker", "yes", "expected Y or N"),
    ];
    for (name, value, words) in cases {
        let xml = set(
            REDIS,
            &format!("{}{}", p("url", "redis://h"), p(name, value)),
        );
        assert_err(&xml, &format!("\"{name}\""), &data_param(name), words);
    }
    let xml = set(
        NATS,
        &format!("{}{}", p("url", "nats://h"), p("create_stream", "y")),
    );
    assert_err(
        &xml,
        "\"create_stream\"",
        &data_param("create_stream"),
        "expected Y or N, found \"y\"",
    );
}

#[test]
fn publish_credentials() {
    let url = p("url", "redis://h");
    let xml = set(REDIS, &format!("{url}{}", p("publish_user", "ann")));
    assert_err(
        &xml,
        "\"publish_user\"",
        &data_param("publish_user"),
        "publish_user without publish_password",
    );
    let xml = set(REDIS, &format!("{url}{}", p("publish_password", "pw")));
    assert_err(
        &xml,
        "\"publish_password\"",
        &data_param("publish_password"),
        "publish_password without publish_user",
    );
    let xml = set(
        NATS,
        &format!(
            "{}{}{}",
            p("url", "nats://h"),
            p("publish_user", "a:b"),
            p("publish_password", "pw")
        ),
    );
    assert_err(
        &xml,
        "\"publish_user\"",
        &data_param("publish_user"),
        "cannot contain ':'",
    );
    let (f, _) = feed_of(&set(
        REDIS,
        &format!(
            "{url}{}{}",
            p("publish_user", "ann"),
            p("publish_password", "pw")
        ),
    ));
    assert_eq!(
        f.publish,
        Some(PublishAuth {
            token: None,
            basic: Some(("ann".to_owned(), "pw".to_owned()))
        })
    );
}

#[test]
fn nats_logins() {
    let url = p("url", "nats://h");
    let d = Dir::new();
    d.file("S/f.creds", "x");
    let cases = [
        (
            params(&[("token", "t"), ("username", "u"), ("password", "pw")]),
            "token",
            "a token and a username",
        ),
        (
            params(&[("token", "t"), ("password", "pw")]),
            "token",
            "a token and a password",
        ),
        (
            params(&[("password", "pw")]),
            "password",
            "add <param name=\"username\">",
        ),
        (
            params(&[("username", "u")]),
            "username",
            "add <param name=\"password\">",
        ),
        (
            params(&[("credentials_file", "f.creds"), ("token", "t")]),
            "credentials_file",
            "a credentials file and a token",
        ),
    ];
    for (more, name, words) in cases {
        let xml = set(NATS, &format!("{url}{more}"));
        d.set("S", &xml);
        let e = d.load().expect_err(&xml);
        assert_eq!(e.line, Some(line_of(&xml, &format!("\"{name}\""))), "{e}");
        assert_eq!(e.element, data_param(name), "{e}");
        assert!(e.message.contains(words), "{e}");
    }
}

#[test]
fn nats_subjects_and_streams() {
    let url = p("url", "nats://h");
    for (prefix, words) in [
        ("a..b", "empty token"),
        (".a", "empty token"),
        ("a.", "empty token"),
        ("a.*", "'*' is not allowed"),
        ("a.>", "'>' is not allowed"),
        ("a b", "whitespace is not allowed"),
    ] {
        let xml = set(NATS, &format!("{url}{}", p("subject_prefix", prefix)));
        assert_err(
            &xml,
            "\"subject_prefix\"",
            &data_param("subject_prefix"),
            words,
        );
    }
    for (stream, words) in [
        ("A.B", "'.' is not allowed"),
        ("A B", "whitespace"),
        ("A*", "'*'"),
        ("A>", "'>'"),
        ("A/B", "'/'"),
        ("A\\B", "'\\'"),
    ] {
        let xml = set(NATS, &format!("{url}{}", p("stream", stream)));
        assert_err(&xml, "\"stream\"", &data_param("stream"), words);
    }
    let (f, _) = feed_of(&set(
        NATS,
        &format!(
            "{url}{}{}",
            p("subject_prefix", "a-b_c.D9"),
            p("stream", "s-1_x")
        ),
    ));
    assert_eq!(
        (f.prefix.as_str(), f.nats.map(|n| n.stream)),
        ("a-b_c.D9", Some("s-1_x".to_owned()))
    );
}

#[test]
fn files_must_exist() {
    for (class, url, name) in [
        (REDIS, "rediss://h", "tls_ca_file"),
        (NATS, "tls://h", "tls_ca_file"),
        (NATS, "nats://h", "credentials_file"),
    ] {
        let xml = set(
            class,
            &format!("{}{}", p("url", url), p(name, "missing.pem")),
        );
        assert_err(
            &xml,
            &format!("\"{name}\""),
            &data_param(name),
            "cannot open",
        );
        assert!(one_err(&xml).message.contains("S/missing.pem"));
    }
    // Relative to install_dir when there is one.
    let d = Dir::new();
    d.file("S/lib/ca.pem", "x");
    let xml = set(
        REDIS,
        &format!(
            "\n<install_dir>lib</install_dir>{}{}",
            p("url", "rediss://h"),
            p("tls_ca_file", "ca.pem")
        ),
    );
    let (s, w) = load(&d, &xml);
    assert_eq!(w, vec![]);
    assert_eq!(
        feed(&s).tls_ca_file.as_deref(),
        Some(d.dir.join("S/lib/ca.pem").as_path())
    );
}

#[test]
fn a_ca_file_without_tls() {
    let d = Dir::new();
    d.file("S/ca.pem", "x");
    let xml = set(
        REDIS,
        &format!("{}{}", p("url", "redis://h"), p("tls_ca_file", "ca.pem")),
    );
    let (s, w) = load(&d, &xml);
    assert_eq!(feed(&s).tls_ca_file, None);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(
        (w[0].0, w[0].1.as_str()),
        (line_of(&xml, "tls_ca_file"), &*data_param("tls_ca_file"))
    );
    assert!(w[0].2.contains("rediss://") && w[0].2.ends_with("ignored"));
    // NATS: the server may still ask for TLS.
    let xml = set(
        NATS,
        &format!("{}{}", p("url", "nats://h"), p("tls_ca_file", "ca.pem")),
    );
    let (s, w) = load(&d, &xml);
    assert_eq!(feed(&s).tls_ca_file, Some(d.dir.join("S/ca.pem")));
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].2.contains("no URL is tls://"), "{w:?}");
}

#[test]
fn params_of_others_are_warned() {
    let xml = set(
        NATS,
        &params(&[
            ("url", "nats://h"),
            ("stream_prefix", "x:"),
            ("request_reply_port", "6661"),
            ("tls.keystore.type", "PEM"),
            ("snapshot_lenght", "5"),
            ("strem", "S"),
            ("whatever", "1"),
        ]),
    );
    let (f, w) = feed_of(&xml);
    assert_eq!(f.nats.map(|n| n.stream).as_deref(), Some("SHOAL"));
    let lines: Vec<u32> = w.iter().map(|w| w.0).collect();
    assert_eq!(
        lines,
        [
            "stream_prefix",
            "request_reply_port",
            "tls.keystore",
            "snapshot_lenght",
            "strem",
            "whatever"
        ]
        .map(|n| line_of(&xml, n))
    );
    assert_eq!(w[0].1, data_param("stream_prefix"));
    assert_eq!(
        w[0].2,
        "not a parameter of shoal.nats; ignored (it is one of shoal.redis; did you mean \
         \"subject_prefix\"?)"
    );
    for i in [1, 2] {
        assert!(
            w[i].2
                .starts_with("not a parameter of shoal.nats; ignored (it is one of the proxy"),
            "{w:?}"
        );
    }
    assert_eq!(
        w[3].2,
        "not a parameter of shoal.nats; ignored (did you mean \"snapshot_length\"?)"
    );
    assert!(w[4].2.ends_with("(did you mean \"stream\"?)"), "{w:?}");
    assert_eq!(w[5].2, "not a parameter of shoal.nats; ignored");

    let xml = set(
        REDIS,
        &params(&[
            ("url", "redis://h"),
            ("subject_prefix", "x"),
            ("token", "t"),
            ("create_stream", "Y"),
            ("stream_prefx", "x"),
        ]),
    );
    let (_, w) = feed_of(&xml);
    let messages: Vec<&str> = w.iter().map(|w| w.2.as_str()).collect();
    assert_eq!(
        messages,
        [
            "not a parameter of shoal.redis; ignored (it is one of shoal.nats; did you mean \
             \"stream_prefix\"?)",
            "not a parameter of shoal.redis; ignored (it is one of shoal.nats)",
            "not a parameter of shoal.redis; ignored (it is one of shoal.nats)",
            "not a parameter of shoal.redis; ignored (did you mean \"stream_prefix\"?)",
        ]
    );
}

#[test]
fn classes_in_the_wrong_place() {
    for class in [REDIS, "SHOAL.NATS"] {
        let xml = format!(
            "<adapters_conf id=\"S\">\n<metadata_provider>\n<adapter_class>{class}</adapter_class>\n</metadata_provider>\n<data_provider>\n<adapter_class>{REDIS}</adapter_class>{}\n</data_provider>\n</adapters_conf>",
            p("url", "redis://h")
        );
        let name = class.to_ascii_lowercase();
        assert_err(
            &xml,
            class,
            "adapters_conf[id=\"S\"]/metadata_provider/adapter_class",
            &format!("{name} is a data adapter, not a metadata adapter"),
        );
    }
    let xml = set("com.example.Feed", &p("url", "redis://h"));
    let e = one_err(&xml);
    assert!(
        e.message.contains("shoal.redis") && e.message.contains("shoal.nats"),
        "{e}"
    );
    let xml = set(LITERAL_BASED_PROVIDER, "");
    let e = one_err(&xml);
    assert!(
        e.message
            .contains("shoal.redis, shoal.nats or shoal.memory"),
        "{e}"
    );
}

#[test]
fn brokers_open_no_port_and_mix_with_proxies() {
    let xml = format!(
        "<adapters_conf id=\"S\">\n<metadata_provider>\n<adapter_class>PROXY_FOR_REMOTE_ADAPTER</adapter_class>{}\n</metadata_provider>\n<data_provider name=\"A\">\n<adapter_class>{REDIS}</adapter_class>{}\n</data_provider>\n<data_provider name=\"B\">\n<adapter_class>PROXY_FOR_REMOTE_ADAPTER</adapter_class>{}\n</data_provider>\n</adapters_conf>",
        p("request_reply_port", "6379"),
        p("url", "redis://127.0.0.1:6379"),
        p("request_reply_port", "6380"),
    );
    let (s, w) = one(&xml);
    assert_eq!(w, vec![]);
    let classes: Vec<AdapterClass> = s.data.iter().map(DataProvider::class).collect();
    assert_eq!(classes, [AdapterClass::Redis, AdapterClass::Proxy]);
    assert_eq!(s.data[1].remote().proxy.request_reply_port, 6380);
}

#[test]
fn secrets_are_not_shown() {
    let (f, _) = feed_of(&set(
        REDIS,
        &params(&[
            ("url", "redis://ann:urlpw@h:6379/0"),
            ("password", "parampw"),
            ("publish_token", "pubtok"),
            ("publish_user", "bob"),
            ("publish_password", "bobpw"),
        ]),
    ));
    assert_eq!(f.display_url(), "redis://ann:***@h:6379/0");
    let shown = format!("{f:?}");
    for secret in ["urlpw", "parampw", "pubtok", "bobpw"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(shown.contains("bob") && shown.contains("ann"), "{shown}");
    let (f, _) = feed_of(&set(
        NATS,
        &params(&[
            ("url", "nats://t0ken@a:4222,tls://u:natspw@b,nats://c"),
            ("token", "natstok"),
        ]),
    ));
    assert_eq!(f.display_url(), "nats://***@a:4222,tls://u:***@b,nats://c");
    let shown = format!("{f:?}");
    for secret in ["t0ken", "natspw", "natstok"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    // A Redis user alone is a name, not a secret.
    assert_eq!(
        super::broker::redact_url(BrokerKind::Redis, "redis://ann@h"),
        "redis://ann@h"
    );
}

#[test]
fn a_memory_provider_needs_publish_credentials() {
    let (set, w) = one(&set(
        MEMORY_CLASS,
        &params(&[
            ("snapshot_length", "3"),
            ("max_items", "50"),
            ("publish_token", "t"),
            ("snapshot_lenght", "9"),
        ]),
    ));
    let DataSource::Memory(m) = &set.data[0].source else {
        panic!("not shoal.memory: {:?}", set.data[0].source);
    };
    assert_eq!((m.snapshot_length, m.max_items), (3, 50));
    assert_eq!(m.publish.token.as_deref(), Some("t"));
    assert!(m.diff_fields.is_empty());
    assert_eq!(set.data[0].class(), AdapterClass::Memory);
    let w = notes(&w);
    assert!(
        w.iter()
            .any(|(_, at, m)| at.contains("snapshot_lenght") && m.contains("snapshot_length")),
        "{w:?}"
    );
    // Defaults.
    let (set, _) = one(&set_memory(&p("publish_token", "t")));
    let DataSource::Memory(m) = &set.data[0].source else {
        panic!()
    };
    assert_eq!((m.snapshot_length, m.max_items), (10, 10_000));
    // Nothing could ever reach it without credentials.
    let xml = set_memory(&p("max_items", "5"));
    let e = one_err(&xml);
    assert_eq!(e.element, DATA, "{e}");
    assert!(e.message.contains("publish_token"), "{e}");
    assert_err(
        &set_memory(&params(&[("publish_token", "t"), ("max_items", "0")])),
        "\"max_items\"",
        &data_param("max_items"),
        "1 or more",
    );
    // A data adapter only.
    let xml =
        set_memory(&p("publish_token", "t")).replacen(LITERAL_BASED_PROVIDER, MEMORY_CLASS, 1);
    let e = one_err(&xml);
    assert!(e.message.contains("is a data adapter"), "{e}");
}

fn set_memory(data: &str) -> String {
    set(MEMORY_CLASS, data)
}

#[test]
fn a_memory_provider_declares_diff_fields() {
    let (loaded, _) = one(&set(
        MEMORY_CLASS,
        &params(&[
            ("publish_token", "t"),
            (
                "diff_fields",
                "book=JSONPATCH,diff_match_patch  news=DIFF_MATCH_PATCH",
            ),
        ]),
    ));
    let DataSource::Memory(m) = &loaded.data[0].source else {
        panic!("not shoal.memory: {:?}", loaded.data[0].source);
    };
    use crate::adapters::DiffAlgorithmName::{DiffMatchPatch, JsonPatch};
    assert_eq!(
        m.diff_fields,
        vec![
            ("book".to_owned(), vec![JsonPatch, DiffMatchPatch]),
            ("news".to_owned(), vec![DiffMatchPatch]),
        ]
    );
    for (value, want) in [
        ("book", "not field=ALGORITHM"),
        ("=JSONPATCH", "not field=ALGORITHM"),
        ("book=ZIP", "\"ZIP\" is no diff algorithm"),
        ("book=JSONPATCH book=DIFF_MATCH_PATCH", "named twice"),
    ] {
        let e = one_err(&set(
            MEMORY_CLASS,
            &params(&[("publish_token", "t"), ("diff_fields", value)]),
        ));
        assert!(e.message.contains(want), "{value}: {e}");
    }
}
