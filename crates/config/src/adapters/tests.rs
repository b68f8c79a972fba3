//! adapters.xml: the shapes users have (written after the Lightstreamer
//! READMEs and Helm chart, as our own inputs), set structure, folders,
//! LiteralBasedProvider.

use super::*;
use crate::ConfigError;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A scratch adapters folder, removed on drop.
pub(super) struct Dir {
    pub dir: PathBuf,
}

impl Dir {
    pub fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "shoal-adapters-unit-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self { dir }
    }

    /// Writes `<folder>/adapters.xml`; returns its path.
    pub fn set(&self, folder: &str, xml: &str) -> PathBuf {
        let d = self.dir.join(folder);
        std::fs::create_dir_all(&d).unwrap();
        let f = d.join(ADAPTERS_FILE);
        std::fs::write(&f, xml).unwrap();
        f
    }

    pub fn file(&self, rel: &str, content: &str) {
        let f = self.dir.join(rel);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, content).unwrap();
    }

    pub fn load(&self) -> Result<AdapterSets, ConfigError> {
        load_adapter_sets(&self.dir)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The 1-based line of the first occurrence of `needle`.
pub(super) fn line_of(text: &str, needle: &str) -> u32 {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in {text}"));
    u32::try_from(text[..at].matches('\n').count() + 1).unwrap()
}

/// One set in its own folder: its value and warnings.
pub(super) fn one(xml: &str) -> (AdapterSet, Vec<Warning>) {
    let d = Dir::new();
    d.set("S", xml);
    let mut loaded = d.load().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.sets.len(), 1);
    (loaded.sets.remove(0), loaded.warnings)
}

pub(super) fn one_err(xml: &str) -> ConfigError {
    let d = Dir::new();
    d.set("S", xml);
    match d.load() {
        Ok(l) => panic!("accepted: {l:#?}"),
        Err(e) => e,
    }
}

/// The error is at the line of `needle`, on `element`, and says `words`.
#[track_caller]
pub(super) fn assert_err(xml: &str, needle: &str, element: &str, words: &str) {
    let e = one_err(xml);
    assert_eq!(e.line, Some(line_of(xml, needle)), "{e}");
    assert_eq!(e.element, element, "{e}");
    assert!(e.message.contains(words), "{e}");
    assert!(e.file.ends_with("S/adapters.xml"), "{e}");
}

/// Warnings as (line, element, message).
pub(super) fn notes(w: &[Warning]) -> Vec<(u32, String, String)> {
    w.iter()
        .map(|w| (w.line.unwrap_or(0), w.element.clone(), w.message.clone()))
        .collect()
}

pub(super) fn remote_meta(set: &AdapterSet) -> &RemoteMetadata {
    match &set.metadata.adapter {
        MetadataAdapter::Remote(r) => r,
        other => panic!("{other:?}"),
    }
}

const NODE: &str = r#"<?xml version="1.0"?>
<adapters_conf id="PROXY_NODE">
  <metadata_provider>
    <adapter_class>ROBUST_PROXY_FOR_REMOTE_ADAPTER</adapter_class>
    <classloader>log-enabled</classloader>
    <param name="request_reply_port">8003</param>
    <param name="timeout">36000000</param>
  </metadata_provider>
  <data_provider>
    <adapter_class>ROBUST_PROXY_FOR_REMOTE_ADAPTER</adapter_class>
    <classloader>log-enabled</classloader>
    <param name="request_reply_port">8001</param>
    <param name="notify_port">8002</param>
    <param name="timeout">36000000</param>
  </data_provider>
</adapters_conf>
"#;

#[test]
fn the_node_sdk_shape_two_data_ports() {
    let (set, warnings) = one(NODE);
    assert_eq!(set.id, "PROXY_NODE");
    assert_eq!(set.line, 2);
    assert!(set.metadata_initialised_first);
    let m = remote_meta(&set);
    assert_eq!(m.proxy.class(), AdapterClass::RobustProxy);
    assert_eq!(m.proxy.request_reply_port, 8003);
    assert_eq!(m.proxy.timeout_millis, Some(36_000_000));
    assert_eq!(
        m.proxy.robust,
        Some(RobustConnection {
            first_connection_timeout_millis: None,
            connection_recovery_timeout_millis: None
        })
    );
    assert_eq!(
        m.robust,
        Some(RobustMetadata {
            close_notifications_recovery: CloseNotificationsRecovery::Pessimistic,
            notify_user_on_disconnection: NotifyUserOnDisconnection::Fail,
        })
    );
    let [d] = &set.data[..] else { panic!() };
    assert_eq!((d.name.as_str(), d.line), ("DEFAULT", 9));
    assert_eq!(d.remote().proxy.request_reply_port, 8001);
    assert_eq!(d.remote().notify_port, Some(8002));
    assert_eq!(
        d.remote()
            .proxy
            .robust
            .map(|r| r.first_connection_timeout_millis),
        Some(Some(0))
    );
    assert_eq!(
        d.remote().robust,
        Some(RobustData {
            events_recovery: EventsRecovery::LeaveHole,
            status_item: None
        })
    );
    assert_eq!(param(&d.params, "notify_port").map(|p| p.line), Some(13));
    let n = notes(&warnings);
    assert_eq!(n.len(), 2, "{n:?}");
    assert_eq!(n[0].0, 5);
    assert_eq!(
        n[0].1,
        "adapters_conf[id=\"PROXY_NODE\"]/metadata_provider/classloader"
    );
    assert!(n[0].2.contains("Shoal loads no Java classes"), "{n:?}");
    assert_eq!(
        n[1].1,
        "adapters_conf[id=\"PROXY_NODE\"]/data_provider[name=\"DEFAULT\"]/classloader"
    );
}

#[test]
fn the_python_sdk_shape_one_port_each() {
    let xml = r#"<?xml version="1.0"?>
<adapters_conf id="PROXY_PYTHONCHAT">
    <metadata_provider>
        <adapter_class>PROXY_FOR_REMOTE_ADAPTER</adapter_class>
        <param name="request_reply_port">8003</param>
    </metadata_provider>
    <data_provider name="CHAT_ROOM">
        <adapter_class>PROXY_FOR_REMOTE_ADAPTER</adapter_class>
        <param name="request_reply_port">8001</param>
    </data_provider>
</adapters_conf>"#;
    let (set, warnings) = one(xml);
    assert_eq!(warnings, vec![]);
    let m = remote_meta(&set);
    assert_eq!(m.proxy.class(), AdapterClass::Proxy);
    assert_eq!((m.proxy.robust, &m.robust), (None, &None));
    let d = &set.data[0];
    assert_eq!(
        (d.name.as_str(), d.class()),
        ("CHAT_ROOM", AdapterClass::Proxy)
    );
    assert_eq!((d.remote().notify_port, &d.remote().robust), (None, &None));
    // Lightstreamer's defaults.
    let p = &d.remote().proxy;
    assert_eq!(p.timeout_millis, Some(10_000));
    assert_eq!(
        (p.keepalive_timeout_millis, p.keepalive_hint_millis),
        (None, None)
    );
    assert_eq!((&p.credentials, &p.tls, p.interface), (&None, &None, None));
    assert_eq!((&p.remote_params_prefix, p.remote_params.len()), (&None, 0));
    assert!(p.remote_address_whitelist.is_empty());
}

#[test]
fn the_socket_shape_literal_metadata_and_a_proxy() {
    let xml = r#"<?xml version="1.0"?>
<adapters_conf id="PROXY_HELLOWORLD_SOCKETS">
  <metadata_provider>
    <adapter_class>com.lightstreamer.adapters.metadata.LiteralBasedProvider</adapter_class>
  </metadata_provider>
  <data_provider>
    <adapter_class>PROXY_FOR_REMOTE_ADAPTER</adapter_class>
    <param name="request_reply_port">7001</param>
    <param name="notify_port">7002</param>
    <param name="timeout">36000000</param>
  </data_provider>
</adapters_conf>"#;
    let (set, warnings) = one(xml);
    assert_eq!(warnings, vec![]);
    assert_eq!(
        set.metadata.adapter.class(),
        AdapterClass::LiteralBasedProvider
    );
    let MetadataAdapter::LiteralBased(l) = &set.metadata.adapter else {
        panic!()
    };
    assert_eq!(
        l,
        &LiteralBasedProvider {
            allowed_users: None,
            max_bandwidth: 0.0,
            max_frequency: 0.0,
            buffer_size: 0,
            distinct_snapshot_length: 10,
            prefilter_frequency: 0.0,
            item_families: vec![],
        }
    );
    assert_eq!(set.data[0].remote().notify_port, Some(7002));
}

#[test]
fn the_robust_chat_shape() {
    let xml = r#"<adapters_conf id="CHAT_REMOTE">
    <metadata_adapter_initialised_first>N</metadata_adapter_initialised_first>
    <metadata_provider>
        <adapter_class>ROBUST_PROXY_FOR_REMOTE_ADAPTER</adapter_class>
        <param name="request_reply_port">27580</param>
        <param name="connection_recovery_timeout_millis">10000</param>
        <param name="first_connection_timeout_millis">10000</param>
        <param name="close_notifications_recovery">unneeded</param>
    </metadata_provider>
    <data_provider name="CHAT_DATA">
        <adapter_class>ROBUST_PROXY_FOR_REMOTE_ADAPTER</adapter_class>
        <param name="request_reply_port">27780</param>
        <param name="connection_recovery_timeout_millis">10000</param>
        <param name="events_recovery">use_snapshot</param>
    </data_provider>
</adapters_conf>"#;
    let (set, warnings) = one(xml);
    // Read, but Shoal always listens again at once: one warning each.
    let lines: Vec<_> = warnings
        .iter()
        .map(|w| (w.line, w.message.as_str()))
        .collect();
    let not_implemented = "not implemented: after a failed connection Shoal listens for the \
                           next remote adapter at once; ignored";
    assert_eq!(
        lines,
        [(Some(6), not_implemented), (Some(13), not_implemented)]
    );
    assert!(!set.metadata_initialised_first);
    let m = remote_meta(&set);
    assert_eq!(
        m.proxy.robust,
        Some(RobustConnection {
            first_connection_timeout_millis: Some(10000),
            connection_recovery_timeout_millis: Some(10000)
        })
    );
    assert_eq!(
        m.robust.as_ref().map(|r| r.close_notifications_recovery),
        Some(CloseNotificationsRecovery::Unneeded)
    );
    let d = &set.data[0];
    assert_eq!(
        d.remote().robust.as_ref().map(|r| r.events_recovery),
        Some(EventsRecovery::UseSnapshot)
    );
}

/// What the Helm chart writes: pools, class loaders, ordering flags, `$env`
/// values: each gets one warning; the rest is read.
#[test]
fn the_helm_chart_shape() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- File tag: adapters_conf-APV-7.4.5. -->
<adapters_conf id="HELM">
  <adapter_set_pool>
    <max_size>10</max_size>
    <max_free>10</max_free>
  </adapter_set_pool>
  <metadata_adapter_initialised_first>Y</metadata_adapter_initialised_first>
  <metadata_provider>
    <adapter_class>PROXY_FOR_REMOTE_ADAPTER</adapter_class>
    <classloader>log-enabled</classloader>
    <authentication_pool>
      <max_size>1</max_size>
      <max_pending_remote_requests>0</max_pending_remote_requests>
    </authentication_pool>
    <messages_pool><max_size>1</max_size></messages_pool>
    <mpn_pool><max_size>4</max_size><max_free>1</max_free></mpn_pool>
    <sequentialize_table_notifications>N</sequentialize_table_notifications>
    <param name="auth">Y</param>
    <param name="auth.credentials.1.user">$env.LS_USER</param>
    <param name="auth.credentials.1.password">$env.LS_PASSWORD</param>
    <param name="clear_on_session_close">true</param>
    <param name="user_data_timeout">10000</param>
    <param name="request_reply_port">6663</param>
    <param name="timeout">10000</param>
    <param name="keepalive_timeout_millis">-1</param>
  </metadata_provider>
  <data_provider name="MY_REMOTE">
    <adapter_class>PROXY_FOR_REMOTE_ADAPTER</adapter_class>
    <classloader>log-enabled</classloader>
    <data_adapter_pool>
      <max_size>10</max_size>
      <max_free>1</max_free>
    </data_adapter_pool>
    <param name="request_reply_port">6661</param>
    <param name="remote_address_whitelist">localhost,192.168.0.190</param>
    <param name="keepalive_timeout_millis">3000</param>
    <param name="remote_params_prefix">remote:</param>
    <param name="remote:room">lobby</param>
  </data_provider>
</adapters_conf>"#;
    let (set, warnings) = one(xml);
    let m = remote_meta(&set);
    assert_eq!(m.proxy.credentials.as_ref().map(Vec::len), Some(1));
    assert_eq!(
        m.proxy.credentials.as_ref().unwrap()[0].user,
        "$env.LS_USER"
    );
    assert_eq!(m.proxy.keepalive_timeout_millis, None);
    let d = &set.data[0].remote().proxy;
    assert_eq!(
        d.remote_address_whitelist,
        vec![
            RemoteHost::Name("localhost".into()),
            RemoteHost::Ip("192.168.0.190".parse().unwrap())
        ]
    );
    assert_eq!(
        (d.keepalive_timeout_millis, d.keepalive_hint_millis),
        (Some(3000), Some(1500))
    );
    assert_eq!(d.remote_params_prefix.as_deref(), Some("remote:"));
    assert_eq!(d.remote_params[0].name, "remote:room");
    let n = notes(&warnings);
    let at = |needle: &str| line_of(xml, needle);
    let lines: Vec<u32> = n.iter().map(|w| w.0).collect();
    assert_eq!(
        lines,
        vec![
            at("<adapter_set_pool>"),
            at("<classloader>"),
            at("<authentication_pool>"),
            at("<messages_pool>"),
            at("<mpn_pool>"),
            at("<sequentialize_table_notifications>"),
            at("auth.credentials.1.user"),
            at("auth.credentials.1.password"),
            at("clear_on_session_close"),
            at("user_data_timeout"),
            at("name=\"MY_REMOTE\"") + 2,
            at("<data_adapter_pool>"),
        ],
        "{n:#?}"
    );
    assert!(n[0].2.contains("JVM thread pool"), "{n:?}");
    assert!(n[5].2.contains("not implemented by Shoal"), "{n:?}");
    assert!(n[6].2.contains("$name are not expanded"), "{n:?}");
}

#[test]
fn structure_errors_name_file_element_and_line() {
    let meta = "<metadata_provider><adapter_class>PROXY_FOR_REMOTE_ADAPTER</adapter_class><param name=\"request_reply_port\">1</param></metadata_provider>";
    let data = |name: &str, port: u16| {
        format!("<data_provider{name}><adapter_class>PROXY_FOR_REMOTE_ADAPTER</adapter_class><param name=\"request_reply_port\">{port}</param></data_provider>")
    };
    let d1 = data("", 2);
    assert_err(
        &format!("<adapters_conf>\n{meta}\n{d1}</adapters_conf>"),
        "<adapters_conf",
        "adapters_conf",
        "id attribute is required",
    );
    assert_err(
        &format!("<adapters id=\"S\">\n{meta}</adapters>"),
        "<adapters",
        "adapters",
        "root element must be <adapters_conf>",
    );
    assert_err(
        &format!("<adapters_conf id=\"MONITOR\">\n{meta}\n{d1}</adapters_conf>"),
        "<adapters_conf",
        "adapters_conf[id=\"MONITOR\"]",
        "reserved for Shoal's monitor console",
    );
    assert_err(
        &format!("<adapters_conf id=\"S\">\n{d1}</adapters_conf>"),
        "<adapters_conf",
        "adapters_conf[id=\"S\"]",
        "no <metadata_provider>",
    );
    assert_err(
        &format!("<adapters_conf id=\"S\">\n{meta}\n</adapters_conf>"),
        "<adapters_conf",
        "adapters_conf[id=\"S\"]",
        "no <data_provider>",
    );
    let e = one_err(&format!(
        "<adapters_conf id=\"S\">\n{meta}\n{meta}\n{d1}</adapters_conf>"
    ));
    assert_eq!(
        (e.line, e.element.as_str()),
        (Some(3), "adapters_conf[id=\"S\"]/metadata_provider"),
        "{e}"
    );
    assert!(e.message.contains("written twice (first at line 2)"), "{e}");
    let d2 = data(" name=\"DEFAULT\"", 3);
    assert_err(
        &format!("<adapters_conf id=\"S\">\n{meta}\n{d1}\n{d2}</adapters_conf>"),
        "<data_provider name",
        "adapters_conf[id=\"S\"]/data_provider[name=\"DEFAULT\"]",
        "already at line 3",
    );
    let java = "<adapters_conf id=\"S\">\n<metadata_provider>\n<adapter_class>com.example.MyMetadata</adapter_class>\n</metadata_provider>\n<data_provider/></adapters_conf>";
    let e = one_err(java);
    assert_eq!(
        (e.line, e.element.as_str()),
        (
            Some(3),
            "adapters_conf[id=\"S\"]/metadata_provider/adapter_class"
        )
    );
    assert!(
        e.message
            .contains("\"com.example.MyMetadata\" is a Java class")
            && e.message.contains("PROXY_FOR_REMOTE_ADAPTER")
            && e.message.contains("LiteralBasedProvider"),
        "{e}"
    );
    let literal_data = format!("<adapters_conf id=\"S\">\n{meta}\n<data_provider name=\"D\">\n<adapter_class>{LITERAL_BASED_PROVIDER}</adapter_class></data_provider></adapters_conf>");
    assert_err(
        &literal_data,
        "<adapter_class>com",
        "adapters_conf[id=\"S\"]/data_provider[name=\"D\"]/adapter_class",
        "is a metadata adapter",
    );
    assert_err(
        &format!(
            "<adapters_conf id=\"S\">\n{meta}\n<data_provider>\n</data_provider></adapters_conf>"
        ),
        "<data_provider>",
        "adapters_conf[id=\"S\"]/data_provider[name=\"DEFAULT\"]",
        "missing <adapter_class>",
    );
    assert_err(&format!("<adapters_conf id=\"S\">\n{meta}\n<data_provider><adapter_class>PROXY_FOR_REMOTE_ADAPTER</adapter_class>\n<param>1</param></data_provider></adapters_conf>"), "<param>", "adapters_conf[id=\"S\"]/data_provider[name=\"DEFAULT\"]/param", "name attribute is required");
    assert_err(&format!("<adapters_conf id=\"S\">\n{meta}\n<data_provider><adapter_class>PROXY_FOR_REMOTE_ADAPTER</adapter_class>\n<param name=\"timeout\">1</param>\n<param name=\"timeout\">2</param></data_provider></adapters_conf>"), "<param name=\"timeout\">2", "adapters_conf[id=\"S\"]/data_provider[name=\"DEFAULT\"]/param[name=\"timeout\"]", "written twice (first at line 4)");
    assert_err(
        "<adapters_conf id=\"S\">\n<metadata_provider>\n</adapters_conf>",
        "</adapters_conf>",
        "adapters_conf/metadata_provider",
        "invalid XML",
    );
}

#[test]
fn folders_ids_and_ports_across_sets() {
    let set = |id: &str, port: u16| {
        format!("<adapters_conf id=\"{id}\"><metadata_provider><adapter_class>{LITERAL_BASED_PROVIDER}</adapter_class></metadata_provider>\n<data_provider><adapter_class>PROXY_FOR_REMOTE_ADAPTER</adapter_class>\n<param name=\"request_reply_port\">{port}</param></data_provider></adapters_conf>")
    };
    let d = Dir::new();
    d.set("A", &set("ONE", 7001));
    d.set("B", &set("TWO", 7002));
    d.set("Z", &set("ZERO", 0));
    d.set("Z2", &set("ZERO2", 0));
    d.file("empty/readme.txt", "not a set");
    d.file(".hidden/adapters.xml", "not even XML");
    d.file("notes.txt", "a file, not a folder");
    let loaded = d.load().unwrap();
    let ids: Vec<&str> = loaded.sets.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["ONE", "TWO", "ZERO", "ZERO2"]);
    let [w] = &loaded.warnings[..] else {
        panic!("{:?}", loaded.warnings)
    };
    assert!(
        w.file.ends_with("empty") && w.line.is_none() && w.message.contains("no adapters.xml"),
        "{w}"
    );

    d.set("C", &set("ONE", 7003));
    let e = d.load().unwrap_err();
    assert!(
        e.file.ends_with("C/adapters.xml") && e.message.contains("A/adapters.xml:1"),
        "{e}"
    );
    assert_eq!(e.element, "adapters_conf/@id");
    std::fs::remove_dir_all(d.dir.join("C")).unwrap();

    d.set("C", &set("THREE", 7002));
    let e = d.load().unwrap_err();
    assert_eq!(e.line, Some(3), "{e}");
    assert_eq!(e.element, "adapters_conf[id=\"THREE\"]/data_provider[name=\"DEFAULT\"]/param[name=\"request_reply_port\"]");
    assert!(
        e.file.ends_with("C/adapters.xml")
            && e.message.contains("port 7002 is already used")
            && e.message.contains("B/adapters.xml:3"),
        "{e}"
    );

    let e = load_adapter_sets(&d.dir.join("nope")).unwrap_err();
    assert!(e.message.contains("cannot read the folder"), "{e}");
}

impl DataProvider {
    /// The proxy settings of a provider known to be a proxy.
    #[track_caller]
    pub(super) fn remote(&self) -> &RemoteData {
        match &self.source {
            DataSource::Remote(r) => r,
            other => panic!("not a proxy: {other:?}"),
        }
    }
}
