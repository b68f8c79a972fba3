//! The adapter sets part of `shoal check-config`: each adapters.xml with
//! its warnings, then what it runs. Proxy keystores are loaded as for
//! `<https_server>`: a wrong password fails here. Broker data adapters are
//! described, never with their passwords or tokens.

use crate::check::certificate_line;
use anyhow::Context;
use shoal_config::{
    AdapterSet, AdapterSets, BrokerFeed, BrokerKind, DataSource, MetadataAdapter, RemoteProxy,
};
use shoal_tls::CertSource;

pub fn print(sets: &AdapterSets) -> anyhow::Result<()> {
    println!(
        "adapters folder {}: {} adapter set(s)",
        sets.dir.display(),
        sets.sets.len()
    );
    for w in sets
        .warnings
        .iter()
        .filter(|w| !sets.sets.iter().any(|s| s.file == w.file))
    {
        println!("warning: {w}");
    }
    for set in &sets.sets {
        println!("{}: valid", set.file.display());
        for w in sets.warnings.iter().filter(|w| w.file == set.file) {
            println!("warning: {w}");
        }
        describe(set)?;
    }
    if !sets.sets.iter().any(|s| s.id == shoal_demo::ADAPTER_SET) {
        println!("adapter set \"DEMO\": embedded demo");
    }
    Ok(())
}

fn describe(set: &AdapterSet) -> anyhow::Result<()> {
    let replaces = if set.id == shoal_demo::ADAPTER_SET {
        " (replaces the embedded demo)"
    } else {
        ""
    };
    println!("adapter set \"{}\"{replaces}", set.id);
    let root = format!("adapters_conf[id=\"{}\"]", set.id);
    match &set.metadata.adapter {
        MetadataAdapter::Remote(m) => {
            println!("  metadata: {}", proxy_line(&m.proxy, None));
            certificates(set, &m.proxy, &format!("{root}/metadata_provider"))?;
        }
        MetadataAdapter::LiteralBased(l) => {
            let users = match &l.allowed_users {
                None => "any user".to_owned(),
                Some(u) => format!("users {}", u.join(", ")),
            };
            println!(
                "  metadata: {}  {} item famil{}  {users}",
                set.metadata.adapter.class().as_str(),
                l.item_families.len(),
                if l.item_families.len() == 1 {
                    "y"
                } else {
                    "ies"
                }
            );
        }
    }
    for d in &set.data {
        match &d.source {
            DataSource::Remote(r) => {
                println!(
                    "  data \"{}\": {}",
                    d.name,
                    proxy_line(&r.proxy, r.notify_port)
                );
                let at = format!("{root}/data_provider[name=\"{}\"]", d.name);
                certificates(set, &r.proxy, &at)?;
            }
            DataSource::Broker(b) => println!("  data \"{}\": {}", d.name, broker_line(b)),
            DataSource::Memory(m) => println!(
                "  data \"{}\": shoal.memory (this node only)  snapshot {} entries  max {} items{}",
                d.name,
                m.snapshot_length,
                m.max_items,
                publish_with(&m.publish)
            ),
        }
    }
    Ok(())
}

/// A broker data adapter in one line, without secrets: the URL's
/// passwords are masked and only user names are shown.
/// How publishing is authenticated, never the secrets.
fn publish_with(p: &shoal_config::PublishAuth) -> String {
    let mut how = Vec::new();
    if p.token.is_some() {
        how.push("bearer token".to_owned());
    }
    if let Some((user, _)) = &p.basic {
        how.push(format!("basic user {user}"));
    }
    format!("  publish with {}", how.join(", "))
}

fn broker_line(b: &BrokerFeed) -> String {
    let mut line = format!("{} at {}", b.kind, b.display_url());
    match (b.kind, &b.nats) {
        (BrokerKind::Nats, Some(n)) => {
            line.push_str(&format!(
                "  subjects \"{}.<item>\" in stream {}{}",
                b.prefix,
                n.stream,
                if n.create_stream {
                    " (created if missing)"
                } else {
                    ""
                }
            ));
            if n.token.is_some() {
                line.push_str("  token auth");
            }
            if let Some(f) = &n.credentials_file {
                line.push_str(&format!("  credentials {}", f.display()));
            }
        }
        _ => line.push_str(&format!("  streams \"{}<item>\"", b.prefix)),
    }
    match (&b.username, &b.password) {
        (Some(user), _) => line.push_str(&format!("  user {user}")),
        (None, Some(_)) => line.push_str("  password auth"),
        (None, None) => {}
    }
    if let Some(ca) = &b.tls_ca_file {
        line.push_str(&format!("  TLS CA {}", ca.display()));
    }
    line.push_str(&format!(
        "  snapshot {} entries  linger {} ms",
        b.snapshot_length, b.linger_millis
    ));
    match &b.publish {
        None => line.push_str("  publish off"),
        Some(p) => line.push_str(&publish_with(p)),
    }
    if b.healthcheck_requires_broker {
        line.push_str("  healthcheck requires the broker");
    }
    line
}

fn proxy_line(p: &RemoteProxy, notify_port: Option<u16>) -> String {
    let mut line = format!(
        "{}  request_reply_port {}",
        p.class().as_str(),
        p.request_reply_port
    );
    if let Some(port) = notify_port {
        line.push_str(&format!("  notify_port {port}"));
    }
    if let Some(ip) = p.interface {
        line.push_str(&format!("  on {ip}"));
    }
    if let Some(k) = &p.tls {
        line.push_str(&format!(
            "  TLS keystore {} {}",
            k.kind.as_str(),
            k.file.display()
        ));
    }
    if let Some(c) = &p.credentials {
        let users: Vec<&str> = c.iter().map(|c| c.user.as_str()).collect();
        line.push_str(&format!("  auth users {}", users.join(", ")));
    }
    if !p.remote_address_whitelist.is_empty() {
        line.push_str(&format!(
            "  {} allowed remote host(s)",
            p.remote_address_whitelist.len()
        ));
    }
    line
}

/// Loads a proxy's keystore and prints its certificates; errors name the
/// file and the keystore_file param.
fn certificates(set: &AdapterSet, p: &RemoteProxy, provider: &str) -> anyhow::Result<()> {
    let Some(k) = &p.tls else { return Ok(()) };
    let certs = shoal_tls::load(&CertSource::from_config(k)).with_context(|| {
        format!(
            "{}:{}: <{provider}/param[name=\"tls.keystore.keystore_file\"]>",
            set.file.display(),
            k.line
        )
    })?;
    for c in certs {
        println!("{}", certificate_line(&c));
    }
    Ok(())
}
