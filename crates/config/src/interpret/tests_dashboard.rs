//! `<dashboard>`: every element, the defaults, and errors naming the
//! element and its line.

use crate::*;

/// Two listeners, A and B, then `body` inside the root from line 4 on.
fn conf(body: &str) -> String {
    format!(
        "<lightstreamer_conf>\n\
         <http_server name=\"A\"><port>0</port></http_server>\n\
         <http_server name=\"B\"><port>0</port><listening_interface>127.0.0.2</listening_interface></http_server>\n\
         {body}\n</lightstreamer_conf>\n"
    )
}

fn file() -> std::path::PathBuf {
    std::env::temp_dir().join("shoal-dashboard-test.xml")
}

fn ok(body: &str) -> Loaded {
    crate::parse(&conf(body), &file()).unwrap()
}

#[track_caller]
fn assert_err(body: &str, line: u32, element: &str, words: &str) {
    let e = crate::parse(&conf(body), &file()).unwrap_err();
    assert_eq!(e.line, Some(line), "{e}");
    assert_eq!(e.element, element, "{e}");
    assert!(e.message.contains(words), "{e}");
}

const D: &str = "lightstreamer_conf/dashboard";

#[test]
fn without_the_element_the_console_is_everywhere_at_its_default_path() {
    let loaded = ok("");
    assert_eq!(loaded.config.dashboard, None);
    assert!(loaded.config.dashboard_available_on("A"));
    assert!(loaded.config.dashboard_available_on("B"));
    assert_eq!(loaded.config.dashboard_url_path(), "/dashboard");
}

#[test]
fn an_empty_element_takes_lightstreamer_defaults_available_nowhere() {
    let loaded = ok("<dashboard/>");
    let d = loaded.config.dashboard.clone().unwrap();
    assert!(!d.public && !d.all_servers);
    assert!(d.users.is_empty() && d.servers.is_empty());
    assert_eq!(d.url_path, "/dashboard");
    assert_eq!(d.line, 4);
    assert!(!loaded.config.dashboard_available_on("A"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn every_element_is_read() {
    let loaded = ok(r#"<dashboard>
  <public>Y</public>
  <user id="ops" password="s3cret"/>
  <user id="dev" password="other" jmxtree_visible="N"/>
  <available_on_all_servers>N</available_on_all_servers>
  <available_on_server name="B" jmxtree_visible="N"/>
  <dashboard_url_path>/ops/console/</dashboard_url_path>
  <jmxtree_enabled>N</jmxtree_enabled>
  <enable_hostname_lookup>N</enable_hostname_lookup>
</dashboard>"#);
    let d = loaded.config.dashboard.clone().unwrap();
    assert!(d.public);
    let users: Vec<(&str, &str, u32)> = d
        .users
        .iter()
        .map(|u| (u.id.as_str(), u.password.as_str(), u.line))
        .collect();
    assert_eq!(users, [("ops", "s3cret", 6), ("dev", "other", 7)]);
    assert_eq!(d.servers, ["B"]);
    assert_eq!(d.url_path, "/ops/console", "the final / is dropped");
    assert!(!loaded.config.dashboard_available_on("A"));
    assert!(loaded.config.dashboard_available_on("B"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert!(
        !format!("{d:?}").contains("s3cret"),
        "Debug hides passwords"
    );
}

#[test]
fn all_servers_makes_it_available_everywhere() {
    let loaded =
        ok("<dashboard><available_on_all_servers>Y</available_on_all_servers></dashboard>");
    assert!(loaded.config.dashboard_available_on("A"));
    assert!(loaded.config.dashboard_available_on("B"));
}

#[test]
fn jmx_tree_and_host_name_lookup_are_warned_when_asked_for() {
    let loaded = ok("<dashboard>\n<jmxtree_enabled>Y</jmxtree_enabled>\n<enable_hostname_lookup>Y</enable_hostname_lookup>\n</dashboard>");
    let w: Vec<(Option<u32>, &str)> = loaded
        .warnings
        .iter()
        .map(|w| (w.line, w.element.as_str()))
        .collect();
    assert_eq!(
        w,
        [
            (Some(5), "lightstreamer_conf/dashboard/jmxtree_enabled"),
            (
                Some(6),
                "lightstreamer_conf/dashboard/enable_hostname_lookup"
            ),
        ]
    );
    assert!(loaded.warnings[0].message.contains("JMX"));
}

#[test]
fn variable_references_are_used_as_written_with_a_warning() {
    let loaded = ok(r#"<dashboard><user id="$env.U" password="$env.P"/></dashboard>"#);
    let d = loaded.config.dashboard.unwrap();
    assert_eq!(d.users[0].password, "$env.P");
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(loaded.warnings[0].message.contains("not expanded"));
}

#[test]
fn errors_name_the_element_and_line() {
    let server = format!("{D}/available_on_server");
    assert_err(
        "<dashboard>\n<available_on_server name=\"C\"/>\n</dashboard>",
        5,
        &server,
        "no listener is named \"C\"",
    );
    assert_err(
        "<dashboard><available_on_server/></dashboard>",
        4,
        &server,
        "name attribute is required",
    );
    let user = format!("{D}/user");
    assert_err(
        "<dashboard>\n\n<user id=\"x\"/></dashboard>",
        6,
        &user,
        "password attribute is required",
    );
    assert_err(
        "<dashboard><user password=\"x\"/></dashboard>",
        4,
        &user,
        "id attribute is required",
    );
    assert_err(
        "<dashboard>\n<public>yes</public></dashboard>",
        5,
        &format!("{D}/public"),
        "expected Y or N",
    );
    assert_err(
        "<dashboard><available_on_all_servers>1</available_on_all_servers></dashboard>",
        4,
        &format!("{D}/available_on_all_servers"),
        "expected Y or N",
    );
}

#[test]
fn bad_paths_are_refused() {
    let at = format!("{D}/dashboard_url_path");
    for (path, words) in [
        ("dashboard", "must start with /"),
        ("/", "below /"),
        ("//x", "not a plain path"),
        ("/a/../b", "not a plain path"),
        ("/a b", "not a plain path"),
        ("/x{y}", "not a plain path"),
        ("/lightstreamer", "taken"),
        ("/metrics/x", "taken"),
    ] {
        let body =
            format!("<dashboard>\n<dashboard_url_path>{path}</dashboard_url_path></dashboard>");
        assert_err(&body, 5, &at, words);
    }
}

#[test]
fn written_twice_is_an_error() {
    assert_err(
        "<dashboard/>\n<dashboard/>",
        5,
        "lightstreamer_conf/dashboard",
        "written twice",
    );
}

/// (name, url, user, password, line)
type NodeBrief<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>, u32);

#[test]
fn cluster_nodes_and_the_console_url_are_read() {
    let loaded = ok(r#"<dashboard>
  <shoal_node_name>node1</shoal_node_name>
  <shoal_console_url>http://node1.example:8080/dashboard</shoal_console_url>
  <shoal_cluster_node name="node2" url="http://node2.example:8080/dashboard/"/>
  <shoal_cluster_node name="node3" url="https://10.0.0.3:8443/dashboard" user="ops" password="pw"/>
</dashboard>"#);
    let d = loaded.config.dashboard.clone().unwrap();
    assert_eq!(d.node_name.as_deref(), Some("node1"));
    assert_eq!(
        d.console_url.as_deref(),
        Some("http://node1.example:8080/dashboard/")
    );
    let nodes: Vec<NodeBrief> = d
        .cluster_nodes
        .iter()
        .map(|n| {
            (
                n.name.as_str(),
                n.url.as_str(),
                n.user.as_deref(),
                n.password.as_deref(),
                n.line,
            )
        })
        .collect();
    assert_eq!(
        nodes,
        [
            (
                "node2",
                "http://node2.example:8080/dashboard/",
                None,
                None,
                7
            ),
            (
                "node3",
                "https://10.0.0.3:8443/dashboard/",
                Some("ops"),
                Some("pw"),
                8
            ),
        ]
    );
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert!(!format!("{:?}", d.cluster_nodes[1]).contains("pw"));
}

#[test]
fn cluster_node_errors_name_the_element_and_line() {
    let node = format!("{D}/shoal_cluster_node");
    assert_err(
        "<dashboard>\n<shoal_cluster_node url=\"http://n2/dashboard/\"/></dashboard>",
        5,
        &node,
        "name attribute is required",
    );
    assert_err(
        "<dashboard><shoal_cluster_node name=\"n2\"/></dashboard>",
        4,
        &node,
        "url attribute is required",
    );
    assert_err(
        "<dashboard>\n\n<shoal_cluster_node name=\"n2\" url=\"n2:8080/dashboard/\"/></dashboard>",
        6,
        &node,
        "not an absolute http:// or https:// URL",
    );
    assert_err(
        "<dashboard><shoal_cluster_node name=\"n2\" url=\"ftp://n2/\"/></dashboard>",
        4,
        &node,
        "not an absolute http:// or https:// URL",
    );
    assert_err(
        "<dashboard><shoal_cluster_node name=\"n2\" url=\"http:///dashboard/\"/></dashboard>",
        4,
        &node,
        "names no host",
    );
    assert_err(
        "<dashboard><shoal_cluster_node name=\"n2\" url=\"http://n2/\" user=\"ops\"/></dashboard>",
        4,
        &node,
        "user and password go together",
    );
    assert_err(
        "<dashboard>\n<shoal_cluster_node name=\"n2\" url=\"http://n2/\"/>\n<shoal_cluster_node name=\"n2\" url=\"http://n3/\"/></dashboard>",
        6,
        &node,
        "already listed",
    );
    assert_err(
        "<dashboard>\n<shoal_console_url>/dashboard/</shoal_console_url></dashboard>",
        5,
        &format!("{D}/shoal_console_url"),
        "not an absolute",
    );
}

#[test]
fn a_peer_behind_a_private_ca_and_a_proxy_header() {
    // ca_file is resolved beside the configuration file and must open.
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("kit-ca.pem");
    std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
    let body = format!(
        "<dashboard><shoal_cluster_node name=\"n2\" url=\"https://127.0.0.2:8443/dashboard/\" ca_file=\"{}\" tls_name=\"push.example.test\" proxy_protocol=\"Y\"/></dashboard>",
        ca.display()
    );
    let d = ok(&body).config.dashboard.unwrap();
    let n = &d.cluster_nodes[0];
    assert_eq!(n.ca_file.as_deref(), Some(ca.as_path()));
    assert_eq!(n.tls_name.as_deref(), Some("push.example.test"));
    assert!(n.proxy_protocol);

    let node = format!("{D}/shoal_cluster_node");
    assert_err(
        "<dashboard><shoal_cluster_node name=\"n2\" url=\"https://n2/\" ca_file=\"no-such-ca.pem\"/></dashboard>",
        4,
        &format!("{node}/@ca_file"),
        "cannot open",
    );
    assert_err(
        &format!("<dashboard><shoal_cluster_node name=\"n2\" url=\"http://n2/\" ca_file=\"{}\"/></dashboard>", ca.display()),
        4,
        &node,
        "ca_file is for https://",
    );
    assert_err(
        "<dashboard><shoal_cluster_node name=\"n2\" url=\"http://n2/\" tls_name=\"n2\"/></dashboard>",
        4,
        &node,
        "tls_name is for https://",
    );
    assert_err(
        "<dashboard><shoal_cluster_node name=\"n2\" url=\"http://n2/\" proxy_protocol=\"yes\"/></dashboard>",
        4,
        &node,
        "proxy_protocol is Y or N",
    );
}
