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

/// Whether the engine will serve the embedded `DEMO` set, that is, whether
/// no set of the folder replaces it: the demo pages need its adapters.
pub fn serves_embedded_demo(loaded: Option<&AdapterSets>) -> bool {
    loaded.is_none_or(|l| l.sets.iter().all(|s| s.id != shoal_demo::ADAPTER_SET))
}

/// The adapter sets the engine serves: those of the folder, started, and
/// the embedded `DEMO` set unless one of them has that id; with
/// `test_adapters`, the embedded `TEST` set too, unless one of them has
/// that id.
pub async fn engine_sets(
    loaded: Option<AdapterSets>,
    test_adapters: bool,
) -> anyhow::Result<Vec<AdapterSet>> {
    let configured = loaded.map(|l| l.sets).unwrap_or_default();
    let demo_replaced = configured
        .iter()
        .find(|s| s.id == shoal_demo::ADAPTER_SET)
        .map(|s| s.file.clone());
    let test_replaced = configured
        .iter()
        .any(|s| s.id == shoal_testset::ADAPTER_SET);
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
    if test_adapters {
        if test_replaced {
            tracing::warn!("the adapter set TEST of the adapters folder replaces the embedded one");
        } else {
            sets.push(shoal_testset::adapter_set());
        }
    }
    Ok(sets)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A folder with one adapter set `id` (remote proxies: loading it
    /// starts nothing).
    fn folder_with(id: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("shoal-demo-sets-{}-{id}", std::process::id()));
        let set = dir.join(id);
        std::fs::create_dir_all(&set).unwrap();
        let xml = format!(
            "<adapters_conf id=\"{id}\">\n\
             <metadata_provider><adapter_class>PROXY_FOR_REMOTE_ADAPTER</adapter_class>\
             <param name=\"request_reply_port\">7001</param></metadata_provider>\n\
             <data_provider name=\"DEFAULT\"><adapter_class>PROXY_FOR_REMOTE_ADAPTER</adapter_class>\
             <param name=\"request_reply_port\">7002</param></data_provider>\n\
             </adapters_conf>\n"
        );
        std::fs::write(set.join("adapters.xml"), xml).unwrap();
        dir
    }

    #[test]
    fn the_demo_pages_go_with_the_embedded_demo_set() {
        assert!(serves_embedded_demo(None));
        for (id, embedded) in [("OTHER", true), ("DEMO", false)] {
            let dir = folder_with(id);
            let sets = shoal_config::load_adapter_sets(&dir).unwrap();
            assert_eq!(serves_embedded_demo(Some(&sets)), embedded, "{id}");
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    #[tokio::test]
    async fn the_test_set_comes_with_the_flag() {
        let names = |sets: Vec<AdapterSet>| -> Vec<String> {
            let mut n: Vec<String> = sets.into_iter().map(|s| s.name).collect();
            n.sort();
            n
        };
        assert_eq!(names(engine_sets(None, false).await.unwrap()), ["DEMO"]);
        assert_eq!(
            names(engine_sets(None, true).await.unwrap()),
            ["DEMO", "TEST"]
        );
    }
}
