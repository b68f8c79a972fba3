//! Writes a kit: the files of a plan in one folder.

use crate::plan::{Balancer, Plan};
use crate::{feed, haproxy, keepalived, nginx, node_conf, readme, scripts};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Where the certificates come from.
#[derive(Debug, Clone)]
pub enum CaSource {
    /// A new test CA, made for this kit (its key is not kept).
    Generate,
    /// The operator's CA: PEM certificate and key files.
    Files { cert: PathBuf, key: PathBuf },
}

#[derive(Debug, thiserror::Error)]
pub enum KitError {
    // The cause is printed by the error chain, not repeated here.
    #[error("{path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}: the folder is not empty and holds no kit.json; give a new or empty folder")]
    NotAKit(PathBuf),
    #[error("certificates")]
    Cert(#[from] shoal_certgen::Error),
    #[error("--ca-cert/--ca-key: option {0} uses no certificate (HTTP only); leave them out")]
    CaUnused(&'static str),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KitError + '_ {
    move |source| KitError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes the kit into `out` (created if missing; the files of an earlier
/// kit there are removed first). Returns the files written, relative to
/// `out`.
pub fn write(plan: &Plan, out: &Path, ca: &CaSource) -> Result<Vec<String>, KitError> {
    if out.exists() {
        let mut entries = std::fs::read_dir(out).map_err(io(out))?;
        if entries.next().is_some() {
            remove_earlier_kit(out)?;
        }
    }
    std::fs::create_dir_all(out).map_err(io(out))?;
    let mut files = Vec::new();
    let mut put = |name: &str, bytes: &[u8]| -> Result<(), KitError> {
        let path = out.join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        std::fs::write(&path, bytes).map_err(io(&path))?;
        files.push(name.to_owned());
        Ok(())
    };
    let ca_file = if plan.certs.is_empty() {
        if matches!(ca, CaSource::Files { .. }) {
            return Err(KitError::CaUnused(plan.topology.id));
        }
        None
    } else {
        let ca = match ca {
            CaSource::Generate => shoal_certgen::Ca::generate("Shoal cluster kit test CA")?,
            CaSource::Files { cert, key } => {
                let c = std::fs::read_to_string(cert).map_err(io(cert))?;
                let k = std::fs::read_to_string(key).map_err(io(key))?;
                shoal_certgen::Ca::from_pem(&c, &k)?
            }
        };
        put("ca.pem", ca.cert_pem().as_bytes())?;
        for cert in &plan.certs {
            let stem = cert.stem();
            if !cert.set.is_empty() {
                // One entry per name, each its own certificate and key.
                let leaves = cert
                    .set
                    .iter()
                    .map(|name| Ok((name.as_str(), ca.issue(&[name.as_str()])?)))
                    .collect::<Result<Vec<_>, KitError>>()?;
                let p12 = pkcs12_set(&leaves, &plan.options.keystore_password)?;
                put(&format!("{stem}.keystore"), &p12)?;
                continue;
            }
            let leaf = ca.issue(&[cert.name.as_str()])?;
            if plan.cert_on_nodes(cert) {
                let p12 = leaf.pkcs12(&plan.options.keystore_password, &stem)?;
                put(&format!("{stem}.keystore"), &p12)?;
            }
            if plan.cert_on_balancer(cert) {
                put(&format!("{stem}.pem"), leaf.haproxy_pem().as_bytes())?;
            }
        }
        Some("ca.pem")
    };
    let balancer = match plan.options.balancer {
        Balancer::Haproxy => haproxy::render(plan),
        Balancer::Nginx => nginx::render(plan),
    };
    put(plan.options.balancer.config_file(), balancer.as_bytes())?;
    for node in &plan.nodes {
        put(
            &format!("{}.xml", node.name),
            node_conf::render(plan, node).as_bytes(),
        )?;
    }
    if plan.options.vrrp {
        for (i, node) in plan.nodes.iter().enumerate() {
            put(
                &keepalived::file(node),
                keepalived::render(plan, i + 1).as_bytes(),
            )?;
        }
    }
    if let Some(f) = &plan.feed {
        put(
            &feed::adapters_file(),
            feed::adapters_xml(plan, f).as_bytes(),
        )?;
    }
    put("hosts", hosts(plan).as_bytes())?;
    for (name, text) in [(START, scripts::start(plan)), (STOP, scripts::stop(plan))] {
        put(name, text.as_bytes())?;
        executable(&out.join(name))?;
    }
    put("README.md", readme::render(plan).as_bytes())?;
    files.push("kit.json".to_owned());
    let mut json = kit_json(plan, ca_file);
    json["files"] = json!(files);
    #[allow(clippy::expect_used)]
    // Invariant: a `Value` (string keys, finite numbers) always serializes.
    let text = serde_json::to_string_pretty(&json).expect("a JSON value serializes") + "\n";
    let path = out.join("kit.json");
    std::fs::write(&path, text).map_err(io(&path))?;
    Ok(files)
}

/// A PKCS12 keystore with one private key entry per certificate, each
/// named (alias) by its certificate's name, with its CA chain; a node picks
/// the entry by the name the client asks for (SNI). Encrypted and
/// authenticated with `password`.
fn pkcs12_set(leaves: &[(&str, shoal_certgen::Leaf)], password: &str) -> Result<Vec<u8>, KitError> {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
    let bad = |e: String| KitError::Cert(shoal_certgen::Error::Pkcs12(e));
    let mut store = KeyStore::new();
    for (alias, leaf) in leaves {
        let key = PrivatePkcs8KeyDer::from_pem_slice(leaf.key_pem().as_bytes())
            .map_err(|e| bad(format!("the key of {alias} cannot be read back: {e}")))?;
        let key = PrivateKey::from_der(key.secret_pkcs8_der())
            .map_err(|e| bad(format!("the key of {alias} cannot be stored: {e}")))?;
        let certs = CertificateDer::pem_slice_iter(leaf.chain_pem().as_bytes())
            .map(|c| {
                let c = c.map_err(|e| bad(format!("the chain of {alias}: {e}")))?;
                Certificate::from_der(&c)
                    .map_err(|e| bad(format!("a certificate of {alias} cannot be stored: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // The local key id ties each key to its certificate inside the file.
        let chain = PrivateKeyChain::new(alias.as_bytes(), key, certs);
        store.add_entry(alias, KeyStoreEntry::PrivateKeyChain(chain));
    }
    store
        .writer(password)
        .write()
        .map_err(|e| bad(e.to_string()))
}

/// The kit's scripts.
pub const START: &str = "start.sh";
pub const STOP: &str = "stop.sh";

#[cfg(unix)]
fn executable(path: &Path) -> Result<(), KitError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(io(path))
}

#[cfg(not(unix))]
fn executable(_: &Path) -> Result<(), KitError> {
    Ok(())
}

/// Removes the files an earlier kit in `out` lists in its kit.json (so a
/// kit with fewer nodes or another balancer leaves nothing stale), and the
/// folders of theirs that this leaves empty; refuses a folder that holds no
/// kit.
fn remove_earlier_kit(out: &Path) -> Result<(), KitError> {
    let spec = out.join("kit.json");
    let text = match std::fs::read_to_string(&spec) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(KitError::NotAKit(out.to_owned()))
        }
        Err(e) => return Err(io(&spec)(e)),
    };
    let listed: Vec<String> = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| serde_json::from_value(v["files"].clone()).ok())
        .unwrap_or_default();
    // Only paths inside `out` (names, or folders then a name): a
    // hand-edited list must not reach elsewhere.
    let inside = |f: &&String| {
        let p = Path::new(f.as_str());
        p.components().count() > 0
            && p.components()
                .all(|c| matches!(c, std::path::Component::Normal(_)))
    };
    for name in listed.iter().filter(inside) {
        let path = out.join(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&path)(e)),
            _ => {}
        }
        // Its folders, innermost first, while empty (an error means not
        // empty or gone: left as it is).
        for dir in Path::new(name.as_str()).ancestors().skip(1) {
            if dir.as_os_str().is_empty() || std::fs::remove_dir(out.join(dir)).is_err() {
                break;
            }
        }
    }
    Ok(())
}

/// `/etc/hosts` lines for every name of the kit.
pub fn hosts(plan: &Plan) -> String {
    let mut s = format!(
        "# Host names of the Shoal cluster kit for option {} (add to /etc/hosts or DNS).\n",
        plan.topology.id
    );
    for (addr, names) in &plan.hosts {
        s.push_str(&format!("{addr} {}\n", names.join(" ")));
    }
    s
}

pub fn kit_json(plan: &Plan, ca: Option<&str>) -> serde_json::Value {
    let nodes: Vec<_> = plan
        .nodes
        .iter()
        .map(|n| {
            let mut node = json!({
                "name": n.name,
                "config": format!("{}.xml", n.name),
                "listens": n.listeners.iter().map(|l| json!([plan.reach(n, l).to_string(), l.port])).collect::<Vec<_>>(),
                "direct_url": n.direct_url,
                "control_link": n.control_link_address,
            });
            if let Some(a) = n.vrrp {
                // The host's own address, and the public one keepalived moves.
                node["private"] = json!(a.private.to_string());
                node["public"] = json!(a.public.to_string());
            }
            node
        })
        .collect();
    json!({
        "topology": plan.topology.id,
        "multihosting": plan.options.multihosting,
        "title": plan.topology.title,
        "public_urls": plan.public_urls(),
        "balancer": {
            "kind": plan.options.balancer.as_str(),
            "config": plan.options.balancer.config_file(),
            "listens": plan.frontends.iter().map(|f| json!([f.address.to_string(), f.port])).collect::<Vec<_>>(),
            "websocket": plan.options.balancer_websocket,
        },
        "nodes": nodes,
        "hosts": "hosts",
        "ca": ca,
        "cr_route": plan.cr_route().as_str(),
        "websocket_expected": plan.websocket_expected(),
        "start": START,
        // start.sh refuses a --vrrp kit: its nodes listen on every interface.
        "one_machine": !plan.options.vrrp,
        "stop": STOP,
        "logs": scripts::LOGS,
        "feed": plan.feed.as_ref().map(|f| json!({
            "kind": f.kind.as_str(),
            // What start.sh runs, from the kit's folder: the program (found
            // on PATH or in an sbin folder; Debian package `package`) and
            // its arguments.
            "program": f.kind.server().0,
            "package": f.kind.server().1,
            "args": feed::server_args(f),
            "url": f.url(),
            "listens": [f.address.to_string(), f.port],
            "data_dir": f.data_dir(),
            "log": format!("{}/{}.log", scripts::LOGS, feed::process_name(f)),
            "adapter_set": feed::ADAPTER_SET,
            "adapters_dir": feed::ADAPTERS_DIR,
            "publish_token": f.publish_token,
        })),
        "keepalived": plan.options.vrrp.then(|| keepalived_json(plan)),
    })
}

/// kit.json's `keepalived`: each node host's file, addresses and the
/// command that runs it from the kit's folder.
fn keepalived_json(plan: &Plan) -> serde_json::Value {
    let mut files = serde_json::Map::new();
    let mut nodes = serde_json::Map::new();
    for (i, n) in plan.nodes.iter().enumerate() {
        files.insert(n.name.clone(), json!(keepalived::file(n)));
        let a = n.vrrp;
        nodes.insert(
            n.name.clone(),
            json!({
                "file": keepalived::file(n),
                "private": a.map(|a| a.private.to_string()),
                "public": a.map(|a| a.public.to_string()),
                "virtual_router_id": keepalived::router_id(i + 1),
                "health_check": keepalived::health_url(n),
                // Foreground, console log, VRRP only, process ids in logs/
                // (so that several hosts can share one machine, in network
                // namespaces); logs/ must exist.
                "args": keepalived::args(n),
            }),
        );
    }
    json!({
        "interface": plan.options.vrrp_interface,
        "program": keepalived::PROGRAM,
        "package": keepalived::PACKAGE,
        "prefix_len": 24,
        "files": files,
        "nodes": nodes,
    })
}
