//! Ports: no two proxies of the server, and no proxy and listener, may
//! want the same port of the same address.

use super::{param, AdapterSet, AdapterSets, DataSource, MetadataAdapter, Param, RemoteProxy};
use crate::address::interfaces_overlap;
use crate::{Config, ConfigError};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// A port some proxy listens on, with where it was written.
struct Use {
    port: u16,
    interface: Option<IpAddr>,
    file: PathBuf,
    line: u32,
    element: String,
}

fn uses(sets: &[AdapterSet]) -> Vec<Use> {
    let mut out = Vec::new();
    for set in sets {
        let root = format!("adapters_conf[id=\"{}\"]", set.id);
        let mut add =
            |proxy: &RemoteProxy, params: &[Param], provider: String, notify: Option<u16>| {
                for (name, port) in [
                    ("request_reply_port", Some(proxy.request_reply_port)),
                    ("notify_port", notify),
                ] {
                    let (Some(port), Some(p)) = (port, param(params, name)) else {
                        continue;
                    };
                    if port == 0 {
                        continue;
                    }
                    out.push(Use {
                        port,
                        interface: proxy.interface,
                        file: set.file.clone(),
                        line: p.line,
                        element: format!("{root}/{provider}/param[name=\"{name}\"]"),
                    });
                }
            };
        if let MetadataAdapter::Remote(m) = &set.metadata.adapter {
            add(
                &m.proxy,
                &set.metadata.params,
                "metadata_provider".to_owned(),
                None,
            );
        }
        for d in &set.data {
            // A broker data provider connects out: it opens no port.
            let DataSource::Remote(remote) = &d.source else {
                continue;
            };
            add(
                &remote.proxy,
                &d.params,
                format!("data_provider[name=\"{}\"]", d.name),
                remote.notify_port,
            );
        }
    }
    out
}

/// No two proxies on the same port of overlapping addresses.
pub(super) fn check_ports(sets: &[AdapterSet]) -> Result<(), ConfigError> {
    let all = uses(sets);
    for (i, later) in all.iter().enumerate() {
        if let Some(earlier) = all[..i]
            .iter()
            .find(|e| e.port == later.port && interfaces_overlap(e.interface, later.interface))
        {
            return Err(ConfigError {
                file: later.file.clone(),
                line: Some(later.line),
                element: later.element.clone(),
                message: format!(
                    "port {} is already used by <{}> at {}:{}: every proxy needs its own port",
                    later.port,
                    earlier.element,
                    earlier.file.display(),
                    earlier.line
                ),
            });
        }
    }
    Ok(())
}

/// No proxy on the port of a listener of `config` (read from `conf_file`).
pub fn check_listener_ports(
    conf_file: &Path,
    config: &Config,
    sets: &AdapterSets,
) -> Result<(), ConfigError> {
    for u in uses(&sets.sets) {
        if let Some(l) = config
            .listeners
            .iter()
            .find(|l| l.port == u.port && interfaces_overlap(l.listening_interface, u.interface))
        {
            return Err(ConfigError {
                file: u.file.clone(),
                line: Some(u.line),
                element: u.element.clone(),
                message: format!(
                    "port {} is already the port of the listener \"{}\" at {}:{}",
                    u.port,
                    l.name,
                    conf_file.display(),
                    l.line
                ),
            });
        }
    }
    Ok(())
}
