//! `shoal check-config FILE`: what a configuration would run, or why not.

use crate::settings;
use std::path::Path;

pub fn run(file: &Path) -> anyhow::Result<()> {
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
        if l.skip_local_forwards > 0 {
            line.push_str(&format!(
                "  trusted X-Forwarded-For hops {}",
                l.skip_local_forwards
            ));
        }
        if l.proxy_protocol {
            line.push_str("  PROXY protocol");
        }
        if let Some(k) = &l.keystore {
            line.push_str(&format!(
                "  keystore {} {} (TLS not available in this build yet)",
                k.kind.as_str(),
                k.file.display()
            ));
        }
        println!("{line}");
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
    if let Some(dir) = &config.pages_dir {
        println!("static pages: {}", dir.display());
    }
    Ok(())
}
