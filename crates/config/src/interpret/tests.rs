use crate::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A scratch folder removed on drop, holding `conf.xml` and keystores.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "shoal-config-unit-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["server.keystore", "chain.pem", "key.pem"] {
            std::fs::write(dir.join(name), "placeholder").unwrap();
        }
        std::fs::create_dir_all(dir.join("pages")).unwrap();
        Self { dir }
    }

    fn conf(&self) -> PathBuf {
        self.dir.join("conf.xml")
    }

    fn parse(&self, body: &str) -> Result<Loaded, ConfigError> {
        parse(
            &format!("<lightstreamer_conf>\n{body}\n</lightstreamer_conf>\n"),
            &self.conf(),
        )
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const HTTP: &str = "<http_server name=\"H\"><port>8080</port></http_server>";

fn ok(body: &str) -> Loaded {
    Scratch::new().parse(body).unwrap()
}

fn err(body: &str) -> ConfigError {
    Scratch::new().parse(body).unwrap_err()
}

/// Body lines start at line 2 (line 1 is the root element).
#[track_caller]
fn assert_err(body: &str, line: u32, element: &str, words: &str) {
    let e = err(body);
    assert_eq!(e.line, Some(line), "{e}");
    assert_eq!(e.element, element, "{e}");
    assert!(e.message.contains(words), "{e}");
}

#[test]
fn a_minimal_configuration() {
    let loaded = ok(HTTP);
    assert_eq!(loaded.warnings, vec![]);
    let c = loaded.config;
    assert_eq!(
        c.listeners,
        vec![Listener {
            name: "H".into(),
            secure: false,
            port: 8080,
            listening_interface: None,
            port_type: PortType::GeneralPurpose,
            keystore: None,
            proxy_protocol: false,
            proxy_protocol_timeout_millis: None,
            skip_local_forwards: 0,
            line: 2,
        }]
    );
    assert_eq!(c.control_link_address, None);
    assert_eq!(c.control_link_machine_name, None);
    assert_eq!(c.engine, EngineSettings::default());
    assert_eq!(c.pages_dir, None);
}

#[test]
fn listener_settings() {
    let c = ok(r#"<http_server name="Behind the balancer">
  <port> 80 </port>
  <port_type>CREATE_ONLY</port_type>
  <listening_interface>10.0.0.1</listening_interface>
  <client_identification>
    <proxy_protocol_enabled>Y</proxy_protocol_enabled>
    <proxy_protocol_timeout_millis>3000</proxy_protocol_timeout_millis>
    <skip_local_forwards>0</skip_local_forwards>
  </client_identification>
</http_server>
<http_server name="Behind proxies">
  <port>81</port>
  <port_type>PRIORITY</port_type>
  <listening_interface>::1</listening_interface>
  <client_identification>
    <skip_local_forwards>2</skip_local_forwards>
  </client_identification>
</http_server>
<http_server name="CR"><port>82</port><port_type>CONTROL_ONLY</port_type></http_server>"#)
    .config;
    let [a, b, cr] = &c.listeners[..] else {
        panic!("{:?}", c.listeners)
    };
    assert_eq!((a.port, a.port_type), (80, PortType::CreateOnly));
    assert_eq!(a.listening_interface, Some("10.0.0.1".parse().unwrap()));
    assert!(a.proxy_protocol);
    assert_eq!(a.proxy_protocol_timeout_millis, Some(3000));
    assert_eq!(a.skip_local_forwards, 0);
    assert_eq!(
        (b.port, b.port_type, b.skip_local_forwards),
        (81, PortType::Priority, 2)
    );
    assert_eq!(b.listening_interface, Some("::1".parse().unwrap()));
    assert!(!b.proxy_protocol);
    assert_eq!((b.line, cr.line), (12, 20));
    assert_eq!(cr.port_type, PortType::ControlOnly);
}

#[test]
fn engine_settings() {
    let c = ok(&format!(
        "{HTTP}
<request_limit>50000</request_limit>
<default_keepalive_millis>5000</default_keepalive_millis>
<min_keepalive_millis>1000</min_keepalive_millis>
<max_keepalive_millis>30000</max_keepalive_millis>
<content_length><default>4000000</default></content_length>
<max_polling_millis>15000</max_polling_millis>
<max_idle_millis>30000</max_idle_millis>
<session_timeout_millis>10000</session_timeout_millis>
<session_recovery_millis>13000</session_recovery_millis>
<max_buffer_size>1000</max_buffer_size>
<max_sessions>1000</max_sessions>
<max_session_duration_minutes>5</max_session_duration_minutes>
<missing_message_timeout_millis>1000</missing_message_timeout_millis>
<max_delay_millis>30</max_delay_millis>
<control_link_address>push1.mycompany.com:8443</control_link_address>
<control_link_machine_name>push1</control_link_machine_name>"
    ))
    .config;
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
            max_sessions: Some(1000),
            max_session_duration_minutes: Some(5),
            missing_message_timeout_millis: Some(1000),
            max_delay_millis: Some(30),
        }
    );
    assert_eq!(
        c.control_link_address,
        Some(ControlLink {
            host: "push1.mycompany.com".into(),
            port: Some(8443)
        })
    );
    assert_eq!(c.control_link_machine_name.as_deref(), Some("push1"));
}

#[test]
fn blank_values_count_as_not_written() {
    let loaded = ok(&format!(
        "{HTTP}\n<max_sessions>  </max_sessions>\n<control_link_address/>\n<jmx></jmx>"
    ));
    assert_eq!(loaded.config.engine.max_sessions, None);
    assert_eq!(loaded.config.control_link_address, None);
    assert_eq!(loaded.warnings, vec![]);
}

#[test]
fn names_ignore_case() {
    let c =
        ok("<HTTP_Server NAME=\"H\"><Port>80</Port></HTTP_Server>\n<Max_Sessions>3</Max_Sessions>")
            .config;
    assert_eq!(c.listeners[0].name, "H");
    assert_eq!(c.listeners[0].port, 80);
    assert_eq!(c.engine.max_sessions, Some(3));
}

#[test]
fn value_errors_name_the_element_and_line() {
    assert_err(
        &format!("{HTTP}\n<max_sessions>many</max_sessions>"),
        3,
        "lightstreamer_conf/max_sessions",
        "expected a whole number",
    );
    assert_err(
        &format!("{HTTP}\n<max_sessions>-1</max_sessions>"),
        3,
        "lightstreamer_conf/max_sessions",
        "\"-1\"",
    );
    assert_err(
        "<http_server name=\"H\">\n<port>65536</port></http_server>",
        3,
        "lightstreamer_conf/http_server[name=\"H\"]/port",
        "from 0 to 65535",
    );
    assert_err(
        "<http_server name=\"H\"><port>80</port>\n<client_identification><proxy_protocol_enabled>yes</proxy_protocol_enabled></client_identification></http_server>",
        3,
        "lightstreamer_conf/http_server[name=\"H\"]/client_identification/proxy_protocol_enabled",
        "expected Y or N",
    );
    assert_err(
        "<http_server name=\"H\"><port>80</port>\n<listening_interface>myhost</listening_interface></http_server>",
        3,
        "lightstreamer_conf/http_server[name=\"H\"]/listening_interface",
        "expected an IP address",
    );
    assert_err(
        "<http_server name=\"H\"><port>80</port>\n<port_type>FAST</port_type></http_server>",
        3,
        "lightstreamer_conf/http_server[name=\"H\"]/port_type",
        "unknown port type \"FAST\"",
    );
    assert_err(
        &format!("{HTTP}\n<control_link_address>http://push1.mycompany.com</control_link_address>"),
        3,
        "lightstreamer_conf/control_link_address",
        "not a URL",
    );
}

#[test]
fn structure_errors() {
    assert_err(
        &format!("{HTTP}\n<max_sessions><value>3</value></max_sessions>"),
        3,
        "lightstreamer_conf/max_sessions",
        "expected a value, found the element <value>",
    );
    assert_err(
        &format!("{HTTP}\n<content_length>4000</content_length>"),
        3,
        "lightstreamer_conf/content_length",
        "expected only child elements",
    );
    assert_err(
        "<http_server name=\"H\">\n  <port>80</port>\n  <port>81</port>\n</http_server>",
        4,
        "lightstreamer_conf/http_server[name=\"H\"]/port",
        "written twice (first at line 3)",
    );
    assert_err(
        &format!("{HTTP}\n<control_link_address>a.b</control_link_address>\n<control_link_address>c.d</control_link_address>"),
        4,
        "lightstreamer_conf/control_link_address",
        "written twice (first at line 3)",
    );
}

#[test]
fn the_root_must_be_lightstreamer_conf() {
    let e = parse("<?xml version=\"1.0\"?>\n<conf/>", Path::new("x.xml")).unwrap_err();
    assert_eq!((e.line, e.element.as_str()), (Some(2), "conf"));
    assert!(e.message.contains("<lightstreamer_conf>"), "{e}");
}

#[test]
fn listeners_are_required_and_need_a_name_and_a_port() {
    assert_err("", 1, "lightstreamer_conf", "at least one listener");
    assert_err(
        "<jmx><x/></jmx>",
        1,
        "lightstreamer_conf",
        "at least one listener",
    );
    assert_err(
        "<http_server><port>80</port></http_server>",
        2,
        "lightstreamer_conf/http_server",
        "name attribute is required",
    );
    assert_err(
        "<http_server name=\"S\u{e9}rver\"><port>80</port></http_server>",
        2,
        "lightstreamer_conf/http_server",
        "ASCII without control characters",
    );
    assert_err(
        "<http_server name=\"del&#127;\"><port>80</port></http_server>",
        2,
        "lightstreamer_conf/http_server",
        "ASCII without control characters",
    );
    assert_err(
        "\n<http_server name=\"H\">\n</http_server>",
        3,
        "lightstreamer_conf/http_server[name=\"H\"]",
        "missing <port>",
    );
    assert_err(
        "<http_server name=\"H\"><port> </port></http_server>",
        2,
        "lightstreamer_conf/http_server[name=\"H\"]",
        "missing <port>",
    );
}

#[test]
fn listener_names_and_ports_must_not_clash() {
    assert_err(
        "<http_server name=\"H\"><port>80</port></http_server>\n<http_server name=\"H\"><port>81</port></http_server>",
        3,
        "lightstreamer_conf/http_server[name=\"H\"]",
        "duplicate listener name",
    );
    assert_err(
        "<http_server name=\"A\"><port>80</port></http_server>\n<http_server name=\"B\">\n<port>80</port><listening_interface>10.0.0.1</listening_interface></http_server>",
        4,
        "lightstreamer_conf/http_server[name=\"B\"]/port",
        "clashes with \"A\" (line 2)",
    );
    assert_err(
        "<http_server name=\"A\"><port>80</port><listening_interface>10.0.0.1</listening_interface></http_server>\n<http_server name=\"B\"><port>80</port><listening_interface>10.0.0.1</listening_interface></http_server>",
        3,
        "lightstreamer_conf/http_server[name=\"B\"]/port",
        "port 80 on address 10.0.0.1",
    );
    // Distinct addresses, distinct ports, or any free port: no clash.
    let c = ok("<http_server name=\"A\"><port>80</port><listening_interface>10.0.0.1</listening_interface></http_server>
<http_server name=\"B\"><port>80</port><listening_interface>10.0.0.2</listening_interface></http_server>
<http_server name=\"C\"><port>81</port></http_server>
<http_server name=\"D\"><port>0</port></http_server>
<http_server name=\"E\"><port>0</port></http_server>")
    .config;
    assert_eq!(c.listeners.len(), 5);
}

#[test]
fn proxy_protocol_excludes_skip_local_forwards() {
    assert_err(
        "<http_server name=\"H\"><port>80</port><client_identification>\n<proxy_protocol_enabled>Y</proxy_protocol_enabled>\n<skip_local_forwards>1</skip_local_forwards>\n</client_identification></http_server>",
        4,
        "lightstreamer_conf/http_server[name=\"H\"]/client_identification/skip_local_forwards",
        "must be 0",
    );
}

#[test]
fn keepalives_must_be_ordered() {
    assert_err(
        &format!("{HTTP}\n<default_keepalive_millis>5000</default_keepalive_millis>\n<min_keepalive_millis>6000</min_keepalive_millis>"),
        4,
        "lightstreamer_conf/min_keepalive_millis",
        "more than <default_keepalive_millis> (5000, line 3)",
    );
    assert_err(
        &format!("{HTTP}\n<default_keepalive_millis>5000</default_keepalive_millis>\n<max_keepalive_millis>4000</max_keepalive_millis>"),
        4,
        "lightstreamer_conf/max_keepalive_millis",
        "less than <default_keepalive_millis> (5000, line 3)",
    );
    assert_err(
        &format!("{HTTP}\n<min_keepalive_millis>5000</min_keepalive_millis>\n<max_keepalive_millis>4000</max_keepalive_millis>"),
        4,
        "lightstreamer_conf/max_keepalive_millis",
        "less than <min_keepalive_millis> (5000, line 3)",
    );
    let e = ok(&format!("{HTTP}\n<min_keepalive_millis>5000</min_keepalive_millis>\n<default_keepalive_millis>5000</default_keepalive_millis>\n<max_keepalive_millis>5000</max_keepalive_millis>")).config.engine;
    assert_eq!(e.min_keepalive_millis, Some(5000));
}

fn https(keystore: &str) -> String {
    format!("<https_server name=\"S\">\n<port>443</port>\n{keystore}\n</https_server>")
}

#[test]
fn keystores() {
    let s = Scratch::new();
    let ks = |body: &str| {
        s.parse(&https(body)).unwrap().config.listeners[0]
            .keystore
            .clone()
            .unwrap()
    };
    let jks = ks("<keystore><keystore_file>server.keystore</keystore_file><keystore_password>pw</keystore_password></keystore>");
    assert_eq!(
        jks,
        Keystore {
            kind: KeystoreType::Jks,
            file: s.dir.join("server.keystore"),
            password: Some("pw".into()),
            key_file: None,
            line: 4,
        }
    );
    let p12 = ks("<keystore type=\"PKCS12\"><keystore_file>./server.keystore</keystore_file><keystore_password type=\"text\">pw</keystore_password></keystore>");
    assert_eq!(p12.kind, KeystoreType::Pkcs12);
    assert_eq!(p12.file, s.dir.join("./server.keystore"));
    let pem = ks("<keystore type=\"PEM\"><keystore_file>chain.pem</keystore_file><key_file>key.pem</key_file></keystore>");
    assert_eq!(pem.kind, KeystoreType::Pem);
    assert_eq!(pem.password, None);
    assert_eq!(pem.key_file, Some(s.dir.join("key.pem")));
    let absolute = s.dir.join("chain.pem");
    let pem = ks(&format!(
        "<keystore type=\"pem\"><keystore_file>{}</keystore_file></keystore>",
        absolute.display()
    ));
    assert_eq!((pem.file, pem.key_file), (absolute, None));
    assert!(s.parse(&https("<keystore><keystore_file>server.keystore</keystore_file><keystore_password>pw</keystore_password></keystore>")).unwrap().config.listeners[0].secure);
}

#[test]
fn keystore_errors() {
    const P: &str = "lightstreamer_conf/https_server[name=\"S\"]";
    assert_err(
        "<https_server name=\"S\">\n<port>443</port>\n</https_server>",
        2,
        P,
        "missing <keystore>",
    );
    assert_err(
        "<http_server name=\"S\"><port>80</port>\n<keystore><keystore_file>server.keystore</keystore_file><keystore_password>pw</keystore_password></keystore></http_server>",
        3,
        "lightstreamer_conf/http_server[name=\"S\"]/keystore",
        "only allowed in <https_server>",
    );
    assert_err(
        &https("<keystore type=\"JCEKS\"><keystore_file>server.keystore</keystore_file><keystore_password>pw</keystore_password></keystore>"),
        4,
        &format!("{P}/keystore/@type"),
        "unknown keystore type \"JCEKS\"",
    );
    assert_err(
        &https("<keystore type=\"PKCS11\"><keystore_file>server.keystore</keystore_file><keystore_password>pw</keystore_password></keystore>"),
        4,
        &format!("{P}/keystore/@type"),
        "PKCS11 is not supported",
    );
    assert_err(
        &https("<keystore>\n<keystore_password>pw</keystore_password></keystore>"),
        4,
        &format!("{P}/keystore"),
        "missing <keystore_file>",
    );
    assert_err(
        &https("<keystore>\n<keystore_file>server.keystore</keystore_file></keystore>"),
        4,
        &format!("{P}/keystore"),
        "missing <keystore_password>",
    );
    assert_err(
        &https("<keystore>\n<keystore_file>nowhere.keystore</keystore_file><keystore_password>pw</keystore_password></keystore>"),
        5,
        &format!("{P}/keystore/keystore_file"),
        "nowhere.keystore",
    );
    assert_err(
        &https("<keystore>\n<keystore_file>pages</keystore_file><keystore_password>pw</keystore_password></keystore>"),
        5,
        &format!("{P}/keystore/keystore_file"),
        "is a folder",
    );
    assert_err(
        &https("<keystore type=\"PEM\"><keystore_file>chain.pem</keystore_file>\n<key_file>nokey.pem</key_file></keystore>"),
        5,
        &format!("{P}/keystore/key_file"),
        "nokey.pem",
    );
    assert_err(
        &https("<keystore><keystore_file>server.keystore</keystore_file><keystore_password>pw</keystore_password>\n<key_file>key.pem</key_file></keystore>"),
        5,
        &format!("{P}/keystore/key_file"),
        "only used with type=\"PEM\"",
    );
    assert_err(
        &https("<keystore><keystore_file>server.keystore</keystore_file>\n<keystore_password type=\"file\">./pw.txt</keystore_password></keystore>"),
        5,
        &format!("{P}/keystore/keystore_password/@type"),
        "type=\"file\" is not supported",
    );
    assert_err(
        &https("<keystore><keystore_file>server.keystore</keystore_file>\n<keystore_password type=\"env\">X</keystore_password></keystore>"),
        5,
        &format!("{P}/keystore/keystore_password/@type"),
        "unknown password type",
    );
}

#[test]
fn one_warning_per_unimplemented_element() {
    let loaded = ok(&format!(
        "{HTTP}
<jmx>
  <rmi_connector><port>8888</port></rmi_connector>
</jmx>
<use_compression>N</use_compression>"
    ));
    let w = &loaded.warnings;
    assert_eq!(w.len(), 2, "{w:#?}");
    assert_eq!(
        (w[0].line, w[0].element.as_str()),
        (Some(3), "lightstreamer_conf/jmx")
    );
    assert!(
        w[0].message
            .starts_with("not applicable to Shoal (Shoal has no JMX"),
        "{}",
        w[0]
    );
    assert_eq!(
        (w[1].line, w[1].element.as_str(), w[1].message.as_str()),
        (
            Some(6),
            "lightstreamer_conf/use_compression",
            "not implemented by Shoal; ignored"
        )
    );
}

#[test]
fn unimplemented_attributes_and_children_of_implemented_elements() {
    let loaded = ok(r#"<http_server name="H" extra="1">
  <port>80</port>
  <backlog>50</backlog>
  <client_identification private="Y">
    <log_forwards>Y</log_forwards>
  </client_identification>
</http_server>
<default_keepalive_millis randomize="N">5000</default_keepalive_millis>
<content_length>
  <default>4000</default>
  <special_case value="100"><user_agent contains="x"/></special_case>
</content_length>
<web_server><enabled>N</enabled><persistency_minutes>5</persistency_minutes></web_server>"#);
    let got: Vec<(u32, &str)> = loaded
        .warnings
        .iter()
        .map(|w| (w.line.unwrap(), w.element.as_str()))
        .collect();
    let h = "lightstreamer_conf/http_server[name=\"H\"]";
    assert_eq!(
        got,
        vec![
            (2, format!("{h}/@extra").as_str()),
            (4, format!("{h}/backlog").as_str()),
            (5, format!("{h}/client_identification/@private").as_str()),
            (
                6,
                format!("{h}/client_identification/log_forwards").as_str()
            ),
            (9, "lightstreamer_conf/default_keepalive_millis/@randomize"),
            (12, "lightstreamer_conf/content_length/special_case"),
            (14, "lightstreamer_conf/web_server/persistency_minutes"),
        ]
    );
    assert!(loaded
        .warnings
        .iter()
        .all(|w| w.message.contains("ignored")));
}

#[test]
fn hints_and_expansion_warnings() {
    let loaded = ok(&format!(
        "{HTTP}\n<max_sesions>5</max_sesions>\n<control_link_machine_name>$machine</control_link_machine_name>\n<env_prefix prop_prefix=\"\">env.</env_prefix>"
    ));
    let w = &loaded.warnings;
    assert_eq!(w.len(), 3, "{w:#?}");
    assert!(
        w[0].message.ends_with("(did you mean <max_sessions>?)"),
        "{}",
        w[0]
    );
    // Sorted by line.
    assert_eq!(w[1].line, Some(4));
    assert!(w[1].message.contains("not expanded"), "{}", w[1]);
    assert_eq!(
        loaded.config.control_link_machine_name.as_deref(),
        Some("$machine")
    );
    assert!(w[2].message.contains("variable expansion"), "{}", w[2]);
}

#[test]
fn web_server() {
    let s = Scratch::new();
    let pages = |body: &str| {
        let loaded = s.parse(&format!("{HTTP}\n{body}")).unwrap();
        (loaded.config.pages_dir, loaded.warnings)
    };
    assert_eq!(
        pages("<web_server><enabled>Y</enabled><pages_dir>pages</pages_dir></web_server>"),
        (Some(s.dir.join("pages")), vec![])
    );
    assert_eq!(
        pages("<web_server><enabled>N</enabled><pages_dir>pages</pages_dir></web_server>"),
        (None, vec![])
    );
    assert_eq!(
        pages("<web_server><pages_dir>pages</pages_dir></web_server>"),
        (None, vec![])
    );
    // Lightstreamer's default folder, which does not exist here.
    let (dir, warnings) = pages("<web_server>\n<enabled>Y</enabled></web_server>");
    assert_eq!(dir, Some(s.dir.join("../pages")));
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].line, Some(3));
    assert_eq!(warnings[0].element, "lightstreamer_conf/web_server");
    assert!(
        warnings[0].message.contains("is not a folder"),
        "{}",
        warnings[0]
    );
}

#[test]
fn invalid_xml_is_reported_with_its_line() {
    let e = Scratch::new()
        .parse("<http_server name=\"H\">\n<port>80</prot>\n</http_server>")
        .unwrap_err();
    assert_eq!(e.line, Some(3), "{e}");
    assert_eq!(e.element, "lightstreamer_conf/http_server/port");
    assert!(e.message.starts_with("invalid XML"), "{e}");
}

#[test]
fn messages_render_with_file_line_and_element() {
    let e = ConfigError {
        file: "conf/ls.xml".into(),
        line: Some(7),
        element: "lightstreamer_conf/max_sessions".into(),
        message: "bad".into(),
    };
    assert_eq!(
        e.to_string(),
        "conf/ls.xml:7: <lightstreamer_conf/max_sessions>: bad"
    );
    let w = Warning {
        file: "ls.xml".into(),
        line: None,
        element: String::new(),
        message: "hm".into(),
    };
    assert_eq!(w.to_string(), "ls.xml: hm");
}

#[test]
fn relative_paths_of_a_bare_file_name_stay_relative() {
    let s = Scratch::new();
    let cx = super::Cx {
        file: Path::new("ls.xml"),
        base: Path::new("ls.xml").parent().unwrap(),
        warnings: vec![],
    };
    assert_eq!(cx.resolve("a.keystore"), PathBuf::from("a.keystore"));
    assert_eq!(cx.resolve(&s.dir.display().to_string()), s.dir);
}

#[test]
fn edit_distance() {
    assert_eq!(crate::cx::edit_distance("max_sesions", "max_sessions"), 1);
    assert_eq!(crate::cx::edit_distance("abc", "abc"), 0);
    assert_eq!(crate::cx::edit_distance("", "ab"), 2);
    assert_eq!(crate::cx::edit_distance("kitten", "sitting"), 3);
}

#[test]
fn load_reads_the_file_and_refuses_invalid_utf8() {
    let s = Scratch::new();
    std::fs::write(
        s.conf(),
        format!("<lightstreamer_conf>\n{HTTP}\n</lightstreamer_conf>\n"),
    )
    .unwrap();
    let loaded = load(&s.conf()).unwrap();
    assert_eq!(loaded.config.listeners[0].port, 8080);

    let mut bytes = b"<lightstreamer_conf>\n<!-- caf".to_vec();
    bytes.extend_from_slice(&[0xE9, b' ', b'-', b'-', b'>', b'\n']);
    std::fs::write(s.conf(), bytes).unwrap();
    let e = load(&s.conf()).unwrap_err();
    assert_eq!((e.line, e.element.as_str()), (Some(2), ""));
    assert!(e.message.contains("UTF-8"), "{e}");
}

#[test]
fn healthcheck_names_listeners() {
    let dir = std::env::temp_dir();
    let text = r#"<lightstreamer_conf>
  <http_server name="A"><port>0</port></http_server>
  <http_server name="B"><port>0</port><listening_interface>127.0.0.2</listening_interface></http_server>
  <healthcheck><available_on_server name="B"/></healthcheck>
</lightstreamer_conf>"#;
    let loaded = crate::parse(text, &dir.join("h.xml")).unwrap();
    let h = loaded.config.healthcheck.unwrap();
    assert!(!h.available_on("A") && h.available_on("B"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let bad = text.replace("name=\"B\"/>", "name=\"C\"/>");
    let e = crate::parse(&bad, &dir.join("h.xml")).unwrap_err();
    assert_eq!(e.line, Some(4));
    assert!(
        e.element.ends_with("healthcheck/available_on_server") && e.message.contains("\"C\""),
        "{e}"
    );
    let absent = crate::parse("<lightstreamer_conf><http_server name=\"A\"><port>0</port></http_server></lightstreamer_conf>", &dir.join("h.xml")).unwrap();
    assert_eq!(absent.config.healthcheck, None);
}

const POLICY: &str = "lightstreamer_conf/cross_domain_policy";
const RULE: &str = "lightstreamer_conf/cross_domain_policy/allow_access_from";

#[test]
fn cross_domain_policy_defaults_and_rules() {
    let c = ok(HTTP).config;
    assert_eq!(c.cross_domain_policy, None);

    let loaded = ok(&format!(
        "{HTTP}\n<cross_domain_policy>\n\
         <allow_access_from scheme=\"*\" host=\"*\" port=\"*\"/>\n\
         <allow_access_from scheme=\"HTTPS\" host=\"*.My-Domain.com\" port=\"443\"/>\n\
         <allow_access_from scheme=\"http\" host=\"[0:0::1]\" port=\"8080\"/>\n\
         <allow_access_from scheme=\"http\" host=\"10.0.0.1\" port=\"*\"/>\n\
         <allow_access_from scheme=\"http\" host=\"pages.example\" port=\"80\"/>\n\
         </cross_domain_policy>"
    ));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let p = loaded.config.cross_domain_policy.unwrap();
    assert!(p.accept_credentials);
    assert!(p.accept_extra_headers.is_empty());
    assert_eq!(p.options_max_age, 3600);
    let rules: Vec<_> = p
        .allow
        .iter()
        .map(|r| (r.scheme.as_deref(), r.host.clone(), r.port, r.line))
        .collect();
    assert_eq!(
        rules,
        vec![
            (None, AllowedHost::Any, None, 4),
            (
                Some("https"),
                AllowedHost::Subdomains("my-domain.com".into()),
                Some(443),
                5
            ),
            (
                Some("http"),
                AllowedHost::Ip("::1".parse().unwrap()),
                Some(8080),
                6
            ),
            (
                Some("http"),
                AllowedHost::Ip("10.0.0.1".parse().unwrap()),
                None,
                7
            ),
            (
                Some("http"),
                AllowedHost::Name("pages.example".into()),
                Some(80),
                8
            ),
        ]
    );
}

#[test]
fn cross_domain_policy_attributes() {
    let p = ok(&format!(
        "{HTTP}\n<cross_domain_policy accept_credentials=\"N\" \
         accept_extra_headers=\"X-Token, x-other\" options_max_age=\"60\"/>"
    ))
    .config
    .cross_domain_policy
    .unwrap();
    assert!(!p.accept_credentials);
    assert_eq!(p.accept_extra_headers, ["x-token", "x-other"]);
    assert_eq!(p.options_max_age, 60);
    assert!(p.allow.is_empty());
}

#[test]
fn cross_domain_policy_errors_name_the_element_and_line() {
    let policy = |attrs: &str, rule: &str| {
        format!("{HTTP}\n<cross_domain_policy {attrs}>\n{rule}\n</cross_domain_policy>")
    };
    let rule = |s: &str, h: &str, p: &str| {
        policy(
            "",
            &format!("<allow_access_from scheme=\"{s}\" host=\"{h}\" port=\"{p}\"/>"),
        )
    };
    assert_err(
        &rule("*", "*.com", "*"),
        4,
        &format!("{RULE}/@host"),
        "at least the second-level",
    );
    assert_err(
        &rule("*", "a.*.com", "*"),
        4,
        &format!("{RULE}/@host"),
        "first label",
    );
    assert_err(
        &rule("*", "*.", "*"),
        4,
        &format!("{RULE}/@host"),
        "wildcard",
    );
    assert_err(
        &rule("*", "bad host", "*"),
        4,
        &format!("{RULE}/@host"),
        "not a host name",
    );
    assert_err(
        &rule("*", "*", "99999"),
        4,
        &format!("{RULE}/@port"),
        "1 to 65535",
    );
    assert_err(
        &rule("*", "*", "0"),
        4,
        &format!("{RULE}/@port"),
        "1 to 65535",
    );
    assert_err(
        &rule("*", "*", "http"),
        4,
        &format!("{RULE}/@port"),
        "1 to 65535",
    );
    assert_err(
        &rule("ht tp", "*", "*"),
        4,
        &format!("{RULE}/@scheme"),
        "URL scheme",
    );
    assert_err(
        &policy("", "<allow_access_from scheme=\"*\" host=\"*\"/>"),
        4,
        RULE,
        "port attribute is required",
    );
    assert_err(
        &policy("accept_credentials=\"yes\"", ""),
        3,
        &format!("{POLICY}/@accept_credentials"),
        "Y or N",
    );
    assert_err(
        &policy("options_max_age=\"-1\"", ""),
        3,
        &format!("{POLICY}/@options_max_age"),
        "whole number",
    );
    assert_err(
        &policy("accept_extra_headers=\"X-A; X-B\"", ""),
        3,
        &format!("{POLICY}/@accept_extra_headers"),
        "not a header name",
    );
}

#[test]
fn socket_timeouts() {
    let loaded = ok(&format!(
        "{HTTP}\n<read_timeout_millis>20000</read_timeout_millis>\n<write_timeout_millis>0</write_timeout_millis>\n<handshake_timeout_millis>4000</handshake_timeout_millis>"
    ));
    assert_eq!(
        loaded.config.timeouts,
        SocketTimeouts {
            read_millis: Some(20000),
            write_millis: Some(0),
            handshake_millis: Some(4000),
        }
    );
    assert_eq!(loaded.warnings, vec![], "implemented: no warning");
    assert_eq!(ok(HTTP).config.timeouts, SocketTimeouts::default());
    assert_err(
        &format!("{HTTP}\n<write_timeout_millis>2m</write_timeout_millis>"),
        3,
        "lightstreamer_conf/write_timeout_millis",
        "expected a whole number",
    );
}

#[test]
fn limits_are_read_and_zero_is_refused_where_it_makes_no_sense() {
    let c = ok(&format!(
        "{HTTP}
<max_recovery_length>1048576</max_recovery_length>
<shoal_session_buffers_budget_mb>256</shoal_session_buffers_budget_mb>
<shoal_stalled_client_millis>0</shoal_stalled_client_millis>
<shoal_max_subscriptions_per_session>50</shoal_max_subscriptions_per_session>"
    ))
    .config;
    assert_eq!(
        c.limits,
        Limits {
            max_recovery_length: Some(1_048_576),
            session_buffers_budget_mb: Some(256),
            stalled_client_millis: Some(0),
            max_subscriptions_per_session: Some(50),
        }
    );
    assert_eq!(ok(HTTP).config.limits, Limits::default());
    assert_err(
        &format!("{HTTP}\n<shoal_session_buffers_budget_mb>0</shoal_session_buffers_budget_mb>"),
        3,
        "lightstreamer_conf/shoal_session_buffers_budget_mb",
        "1 or more",
    );
    assert_err(
        &format!(
            "{HTTP}\n<shoal_max_subscriptions_per_session>0</shoal_max_subscriptions_per_session>"
        ),
        3,
        "lightstreamer_conf/shoal_max_subscriptions_per_session",
        "1 or more",
    );
    assert_err(
        &format!("{HTTP}\n<shoal_stalled_client_millis>soon</shoal_stalled_client_millis>"),
        3,
        "lightstreamer_conf/shoal_stalled_client_millis",
        "expected a whole number",
    );
}
