//! A node's `lightstreamer_conf.xml`.

use crate::feed;
use crate::plan::{Node, Plan};
use std::fmt::Write;

pub fn render(p: &Plan, node: &Node) -> String {
    let mut s = String::new();
    let t = p.topology;
    let _ = writeln!(
        s,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!-- Shoal {} of a cluster: clustering guide option {} ({}).\n     \
         Made by `shoal cluster-plan`. Start: shoal serve --config {}.xml -->\n\
         <lightstreamer_conf>",
        node.name, t.id, t.title, node.name
    );
    for l in &node.listeners {
        let element = if l.cert.is_some() {
            "https_server"
        } else {
            "http_server"
        };
        let _ = writeln!(s, "<{element} name=\"{}\">", l.name);
        let _ = writeln!(s, "  <port>{}</port>", l.port);
        if l.wildcard {
            let _ = writeln!(
                s,
                "  <!-- No listening_interface: every interface. keepalived (--vrrp) moves the\n       \
                 public addresses between the node hosts: this host holds {}'s own\n       \
                 ({}) while it is healthy, and another node's when that node is down. -->",
                node.name, l.address
            );
        } else {
            let _ = writeln!(
                s,
                "  <listening_interface>{}</listening_interface>",
                l.address
            );
        }
        if l.proxy_protocol {
            s.push_str(
                "  <!-- Only the balancer connects here, with a PROXY header naming the client. -->\n\
                 \x20 <client_identification>\n\
                 \x20   <proxy_protocol_enabled>Y</proxy_protocol_enabled>\n\
                 \x20 </client_identification>\n",
            );
        } else if l.trusted_forwards > 0 {
            let _ = writeln!(
                s,
                "  <!-- Only the balancer connects here; it appends the client to X-Forwarded-For. -->\n\
                 \x20 <client_identification>\n\
                 \x20   <skip_local_forwards>{}</skip_local_forwards>\n\
                 \x20 </client_identification>",
                l.trusted_forwards
            );
        }
        if let Some(c) = &l.cert {
            let _ = writeln!(
                s,
                "  <keystore type=\"PKCS12\">\n\
                 \x20   <keystore_file>{}.keystore</keystore_file>\n\
                 \x20   <keystore_password>{}</keystore_password>\n\
                 \x20 </keystore>",
                c.stem(),
                p.options.keystore_password
            );
        }
        let _ = writeln!(s, "</{element}>");
    }
    if let Some(m) = &node.control_link_machine_name {
        let _ = writeln!(
            s,
            "<control_link_machine_name>{m}</control_link_machine_name>"
        );
    }
    if let Some(a) = &node.control_link_address {
        let _ = writeln!(s, "<control_link_address>{a}</control_link_address>");
    }
    crate::origins::write_policy(&mut s, &p.domains, &p.public_urls(), &p.page_origins);
    dashboard(&mut s, p, node);
    if p.feed.is_some() {
        let _ = writeln!(
            s,
            "<!-- Adapter set {} (the kit's shared broker), beside the embedded DEMO. -->\n\
             <adapters_dir>{}</adapters_dir>",
            feed::ADAPTER_SET,
            feed::ADAPTERS_DIR
        );
    }
    s.push_str("</lightstreamer_conf>\n");
    s
}

/// The monitor console on every listener, its cluster view listing the
/// kit's other nodes at their direct addresses (not the balancer's), so
/// that each node's console shows the whole cluster.
fn dashboard(s: &mut String, p: &Plan, node: &Node) {
    s.push_str(
        "<!-- The monitor console (/dashboard/), showing the other nodes beside this one. -->\n\
         <dashboard>\n\
         \x20 <available_on_all_servers>Y</available_on_all_servers>\n",
    );
    let _ = writeln!(s, "  <shoal_node_name>{}</shoal_node_name>", node.name);
    let _ = writeln!(
        s,
        "  <shoal_console_url>{}/dashboard/</shoal_console_url>",
        node.direct_url
    );
    for (i, other) in p.nodes.iter().enumerate() {
        if other.name == node.name {
            continue;
        }
        // An https console has a certificate of the kit's own CA, for a
        // name that may not be the address the URL uses.
        let direct = other.listeners.last();
        let mut tls = match direct.and_then(|l| l.cert.as_ref()) {
            Some(cert) if other.direct_url.starts_with("https://") => {
                // A wildcard certificate covers one label: any name under
                // it; a set has the other node's own name.
                let name = cert.name_for_node(i + 1, &other.name);
                format!(" ca_file=\"ca.pem\" tls_name=\"{name}\"")
            }
            _ => String::new(),
        };
        // A listener only the balancer reaches, with a PROXY header first.
        if direct.is_some_and(|l| l.proxy_protocol) {
            tls.push_str(" proxy_protocol=\"Y\"");
        }
        let _ = writeln!(
            s,
            "  <shoal_cluster_node name=\"{}\" url=\"{}/dashboard/\"{tls}/>",
            other.name, other.direct_url
        );
    }
    s.push_str("</dashboard>\n");
}
