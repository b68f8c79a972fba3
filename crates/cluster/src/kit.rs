//! Writes a kit: the files of a plan in one folder.

use crate::plan::{Balancer, Plan};
use crate::{haproxy, nginx, node_conf, readme};
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
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}: the folder is not empty and holds no kit.json; give a new or empty folder")]
    NotAKit(PathBuf),
    #[error("certificates: {0}")]
    Cert(#[from] shoal_certgen::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KitError + '_ {
    move |source| KitError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes the kit into `out` (created if missing; an earlier kit there is
/// replaced). Returns the files written, relative to `out`.
pub fn write(plan: &Plan, out: &Path, ca: &CaSource) -> Result<Vec<String>, KitError> {
    if out.exists() {
        let mut entries = std::fs::read_dir(out).map_err(io(out))?;
        if entries.next().is_some() && !out.join("kit.json").exists() {
            return Err(KitError::NotAKit(out.to_owned()));
        }
    }
    std::fs::create_dir_all(out).map_err(io(out))?;
    let mut files = Vec::new();
    let mut put = |name: &str, bytes: &[u8]| -> Result<(), KitError> {
        let path = out.join(name);
        std::fs::write(&path, bytes).map_err(io(&path))?;
        files.push(name.to_owned());
        Ok(())
    };
    let ca_file = if plan.certs.is_empty() {
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
            let names: Vec<&str> = cert.names.iter().map(String::as_str).collect();
            let leaf = ca.issue(&names)?;
            let on_nodes = plan
                .nodes
                .iter()
                .flat_map(|n| &n.listeners)
                .any(|l| l.cert.as_ref() == Some(cert));
            if on_nodes {
                let p12 = leaf.pkcs12(&plan.options.keystore_password, &cert.stem)?;
                put(&format!("{}.keystore", cert.stem), &p12)?;
            }
            if plan
                .frontends
                .iter()
                .any(|f| f.offload.as_ref() == Some(cert))
            {
                put(&format!("{}.pem", cert.stem), leaf.haproxy_pem().as_bytes())?;
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
    put("hosts", hosts(plan).as_bytes())?;
    put("README.md", readme::render(plan).as_bytes())?;
    let json = kit_json(plan, ca_file);
    let text = serde_json::to_string_pretty(&json).unwrap_or_default() + "\n";
    put("kit.json", text.as_bytes())?;
    Ok(files)
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
            json!({
                "name": n.name,
                "config": format!("{}.xml", n.name),
                "listens": n.listeners.iter().map(|l| json!([l.address.to_string(), l.port])).collect::<Vec<_>>(),
                "direct_url": n.direct_url,
                "control_link": n.control_link_address,
            })
        })
        .collect();
    json!({
        "topology": plan.topology.id,
        "multihosting": plan.options.multihosting,
        "title": plan.topology.title,
        "public_urls": plan.public_urls,
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
        "websocket_expected": plan.websocket_expected,
    })
}
