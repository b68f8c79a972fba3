//! Adapter sets: which `adapters.xml` folder is read (`--adapters-dir`, or
//! `<adapters_dir>` of the configuration file), and what the engine is
//! given: the sets of that folder, and the embedded `DEMO` set unless one of
//! them is called `DEMO`.

use crate::remote;
use anyhow::Context;
use shoal_adapter::AdapterSet;
use shoal_config::{AdapterSets, Config};
use std::path::Path;

/// Reads the adapter sets, if a folder is named: `flag` (`--adapters-dir`)
/// wins over the configuration's `<adapters_dir>`. With a configuration,
/// proxies may not use a listener's port.
pub fn load(
    conf: Option<(&Path, &Config)>,
    flag: Option<&Path>,
) -> anyhow::Result<Option<AdapterSets>> {
    let dir = match (flag, conf.and_then(|(_, c)| c.adapters_dir.as_deref())) {
        (Some(dir), _) | (None, Some(dir)) => dir,
        (None, None) => return Ok(None),
    };
    let sets = shoal_config::load_adapter_sets(dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some((file, config)) = conf {
        shoal_config::check_listener_ports(file, config, &sets)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(Some(sets))
}

/// The adapter sets the engine serves: those of the folder, started, and
/// the embedded `DEMO` set unless one of them has that id.
pub async fn engine_sets(loaded: Option<AdapterSets>) -> anyhow::Result<Vec<AdapterSet>> {
    let configured = loaded.map(|l| l.sets).unwrap_or_default();
    let demo_replaced = configured
        .iter()
        .find(|s| s.id == shoal_demo::ADAPTER_SET)
        .map(|s| s.file.clone());
    let mut sets = remote::start_sets(configured)
        .await
        .context("cannot start the adapter sets of the adapters folder")?;
    match demo_replaced {
        Some(file) => tracing::warn!(
            file = %file.display(),
            "the adapter set DEMO of this file replaces the embedded demo adapter set"
        ),
        None => sets.push(shoal_demo::adapter_set()),
    }
    Ok(sets)
}
