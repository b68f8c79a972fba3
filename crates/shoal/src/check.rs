//! `shoal check-config [FILE] [--adapters-dir DIR]`: what a configuration
//! would run, or why not.

use crate::{adapters, check_adapters, console, settings, tls};
use shoal_tls::LoadedCert;
use std::path::Path;

pub fn run(file: Option<&Path>, adapters_dir: Option<&Path>) -> anyhow::Result<()> {
    let config = match file {
        Some(file) => Some((file, conf(file)?)),
        None => None,
    };
    let sets = adapters::load(config.as_ref().map(|(f, c)| (*f, c)), adapters_dir)?;
    match sets {
        Some(sets) => check_adapters::print(&sets),
        None => {
            println!("adapter sets: DEMO (embedded; no <adapters_dir> or --adapters-dir)");
            Ok(())
        }
    }
}

/// One certificate of a keystore, as printed.
pub fn certificate_line(c: &LoadedCert) -> String {
    let i = &c.info;
    format!(
        "    certificate {}: subject {}; names {}; valid {} to {}",
        i.alias.as_deref().unwrap_or("-"),
        i.subject,
        if i.sans.is_empty() {
            "(none)".to_owned()
        } else {
            i.sans.join(", ")
        },
        i.not_before,
        i.not_after
    )
}

/// Checks and prints `lightstreamer_conf.xml`.
fn conf(file: &Path) -> anyhow::Result<shoal_config::Config> {
    // Certificates are loaded as `serve` would: a wrong password or an
    // expired certificate fails here too.
    let loaded = shoal_config::load(file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let config = &loaded.config;
    settings::engine_config(config).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    println!("{}: valid", file.display());
    for w in &loaded.warnings {
        println!("warning: {w}");
    }
    println!("listeners:");
    for p in settings::listeners(config) {
        let l = &p.source;
        let scheme = if l.secure { "https" } else { "http" };
        let mut line = format!(
            "  {scheme}://{}  name \"{}\"  port_type {}",
            p.addr,
            l.name,
            l.port_type.as_str()
        );
        if !p.conf.healthcheck {
            line.push_str("  no healthcheck");
        }
        if l.skip_local_forwards > 0 {
            line.push_str(&format!(
                "  trusted X-Forwarded-For hops {}",
                l.skip_local_forwards
            ));
        }
        if l.proxy_protocol {
            line.push_str("  PROXY protocol");
        }
        let mut certs = Vec::new();
        if let Some(k) = &l.keystore {
            line.push_str(&format!(
                "  keystore {} {}",
                k.kind.as_str(),
                k.file.display()
            ));
            certs = tls::certificates(file, l, k)?;
        }
        println!("{line}");
        for c in certs {
            println!("{}", certificate_line(&c));
        }
    }
    match (
        &config.control_link_address,
        &config.control_link_machine_name,
    ) {
        (None, None) => println!("control link: none (clients keep the address they used)"),
        (addr, machine) => {
            if let Some(a) = addr {
                println!("control link address: {a}");
            }
            if let Some(m) = machine {
                println!("control link machine name: {m} (clients of another domain get {m}.<their domain>)");
            }
        }
    }
    println!("{}", console::summary(config));
    if let Some(dir) = &config.pages_dir {
        println!("static pages: {}", dir.display());
    }
    match &config.cross_domain_policy {
        None => println!("origins: requests without Origin and pages of this server's own origin"),
        Some(p) => println!(
            "origins: requests without Origin, pages of this server's own origin, and {} <allow_access_from> rule(s)",
            p.allow.len()
        ),
    }
    Ok(loaded.config)
}
