//! Reading a folder of adapter sets, and one `adapters.xml`.

use super::broker::{broker_class, broker_feed, memory_feed};
use super::literal::literal_based;
use super::params::Params;
use super::ports::check_ports;
use super::robust::{remote_data, remote_metadata};
use super::{
    AdapterClass, AdapterSet, AdapterSets, DataProvider, DataSource, MetadataAdapter,
    MetadataProvider, Param, ADAPTERS_FILE, LITERAL_BASED_PROVIDER, MEMORY_CLASS, MONITOR_SET,
};
use crate::cx::Cx;
use crate::xml::Element;
use crate::{read_text, ConfigError, Warning};
use std::path::{Path, PathBuf};

const ROOT: &str = "adapters_conf";
/// Data providers without a `name` attribute are called this.
const DEFAULT_NAME: &str = "DEFAULT";

/// Reads every adapter set under `dir`: each folder holding an
/// `adapters.xml` is one set (folders are read in name order; hidden ones
/// are skipped, and folders without the file get a warning). Ids must be
/// unique and no two proxies may want the same port.
pub fn load_adapter_sets(dir: &Path) -> Result<AdapterSets, ConfigError> {
    let fail = |message: String| ConfigError {
        file: dir.to_path_buf(),
        line: None,
        element: String::new(),
        message,
    };
    let entries = std::fs::read_dir(dir)
        .map_err(|e| fail(format!("cannot read the folder of adapter sets: {e}")))?;
    let mut folders: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|e| fail(format!("cannot read the folder of adapter sets: {e}")))?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && entry.path().is_dir() {
            folders.push(entry.path());
        }
    }
    folders.sort();
    let mut sets: Vec<AdapterSet> = Vec::new();
    let mut warnings = Vec::new();
    for folder in folders {
        let file = folder.join(ADAPTERS_FILE);
        if !file.is_file() {
            warnings.push(Warning {
                file: folder.clone(),
                line: None,
                element: String::new(),
                message: format!("no {ADAPTERS_FILE} in this folder: not an adapter set; skipped"),
            });
            continue;
        }
        let (set, mut more) = load_adapter_set(&file)?;
        if let Some(first) = sets.iter().find(|s| s.id == set.id) {
            return Err(ConfigError {
                file: set.file.clone(),
                line: Some(set.line),
                element: format!("{ROOT}/@id"),
                message: format!(
                    "adapter set id \"{}\" is also the id of {}:{}: ids must be unique",
                    set.id,
                    first.file.display(),
                    first.line
                ),
            });
        }
        warnings.append(&mut more);
        sets.push(set);
    }
    check_ports(&sets)?;
    Ok(AdapterSets {
        dir: dir.to_path_buf(),
        sets,
        warnings,
    })
}

/// Reads one `adapters.xml`; relative paths in it resolve against its
/// folder.
pub fn load_adapter_set(file: &Path) -> Result<(AdapterSet, Vec<Warning>), ConfigError> {
    let text = read_text(file, "adapter set file")?;
    let (root, mut cx) = Cx::parse(&text, file, ROOT)?;
    let set = adapter_set(&mut cx, &root)?;
    Ok((set, cx.into_warnings()))
}

fn attr<'e>(el: &'e Element, name: &str) -> Option<&'e str> {
    el.attrs
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
        .map(|a| a.value.trim())
        .filter(|v| !v.is_empty())
}

fn adapter_set(cx: &mut Cx<'_>, root: &Element) -> Result<AdapterSet, ConfigError> {
    let Some(id) = attr(root, "id") else {
        return Err(cx.error(
            root.line,
            &root.name,
            "the id attribute is required: the adapter set name clients ask for",
        ));
    };
    let path = format!("{}[id=\"{id}\"]", root.name);
    if id == MONITOR_SET {
        return Err(cx.error(
            root.line,
            &path,
            "the adapter set name MONITOR is reserved for Shoal's monitor console; choose another id",
        ));
    }
    cx.attributes(root, &path, &["id"]);
    let p = cx.pick(
        root,
        &path,
        ["metadata_adapter_initialised_first", "metadata_provider"],
        &["data_provider"],
    )?;
    let [first, metadata] = p.single;
    let metadata_initialised_first = cx.flag(first, &path)?.unwrap_or(true);
    if p.many.is_empty() {
        return Err(cx.error(
            root.line,
            &path,
            "no <data_provider>: an adapter set needs at least one",
        ));
    }
    // Names first: LiteralBasedProvider's families may refer to them.
    let mut named: Vec<(String, &Element)> = Vec::new();
    for el in &p.many {
        let name = attr(el, "name").unwrap_or(DEFAULT_NAME).to_owned();
        if let Some((_, first)) = named.iter().find(|(n, _)| *n == name) {
            return Err(cx.error(
                el.line,
                &format!("{path}/{}[name=\"{name}\"]", el.name),
                format!(
                    "a data provider named \"{name}\" is already at line {}: names must be unique \
                     (without a name attribute, the name is {DEFAULT_NAME})",
                    first.line
                ),
            ));
        }
        named.push((name, el));
    }
    let Some(metadata) = metadata else {
        return Err(cx.error(
            root.line,
            &path,
            "no <metadata_provider>: an adapter set needs one",
        ));
    };
    let data_names: Vec<&str> = named.iter().map(|(n, _)| n.as_str()).collect();
    let metadata = metadata_provider(cx, metadata, &path, &data_names)?;
    let mut data = Vec::new();
    for (name, el) in &named {
        data.push(data_provider(cx, el, &path, name)?);
    }
    Ok(AdapterSet {
        id: id.to_owned(),
        file: cx.file.to_path_buf(),
        line: root.line,
        metadata_initialised_first,
        metadata,
        data,
    })
}

/// What is common to both providers: the class, the folder relative paths
/// resolve against, and the params.
struct Provider<'e> {
    class: (String, u32, String),
    base: PathBuf,
    params: Vec<Param>,
    install_dir: Option<&'e Element>,
}

fn provider<'e>(cx: &mut Cx<'_>, el: &'e Element, path: &str) -> Result<Provider<'e>, ConfigError> {
    cx.attributes(el, path, &["name"]);
    let p = cx.pick(el, path, ["adapter_class", "install_dir"], &["param"])?;
    let [class, install_dir] = p.single;
    let Some(class) = cx.child_value(class, path)? else {
        return Err(cx.error(
            el.line,
            path,
            "missing <adapter_class>: PROXY_FOR_REMOTE_ADAPTER or ROBUST_PROXY_FOR_REMOTE_ADAPTER \
             (for a data provider also shoal.redis or shoal.nats)",
        ));
    };
    let mut base = cx.base.to_path_buf();
    if let Some((dir, line, at)) = cx.child_value(install_dir, path)? {
        base = cx.resolve(&dir);
        if !base.is_dir() {
            return Err(cx.error(line, &at, format!("{} is not a folder", base.display())));
        }
    }
    let mut params: Vec<Param> = Vec::new();
    for el in &p.many {
        let at = format!("{path}/{}", el.name);
        let Some(name) = attr(el, "name") else {
            return Err(cx.error(el.line, &at, "the name attribute is required"));
        };
        let at = format!("{at}[name=\"{name}\"]");
        if let Some(first) = params.iter().find(|q| q.name == name) {
            return Err(cx.error(
                el.line,
                &at,
                format!(
                    "written twice (first at line {}); only one is allowed",
                    first.line
                ),
            ));
        }
        // A blank param counts as not written.
        if let Some(value) = cx.value(el, &at, &["name"])? {
            params.push(Param {
                name: name.to_owned(),
                value,
                line: el.line,
            });
        }
    }
    Ok(Provider {
        class,
        base,
        params,
        install_dir,
    })
}

fn proxy_class(value: &str) -> Option<AdapterClass> {
    if value.eq_ignore_ascii_case(AdapterClass::Proxy.as_str()) {
        Some(AdapterClass::Proxy)
    } else if value.eq_ignore_ascii_case(AdapterClass::RobustProxy.as_str()) {
        Some(AdapterClass::RobustProxy)
    } else {
        None
    }
}

const SUPPORTED: &str = "Shoal runs no Java code; it supports PROXY_FOR_REMOTE_ADAPTER and \
                         ROBUST_PROXY_FOR_REMOTE_ADAPTER (with a remote adapter built on a \
                         Lightstreamer adapter SDK: Node.js, Python, Java, .NET…)";
/// The data-only classes, for messages.
const BROKERS: &str = "the data adapters shoal.redis and shoal.nats (items read from a Redis or \
                       NATS JetStream broker) and shoal.memory (items published to this node)";

fn metadata_provider(
    cx: &mut Cx<'_>,
    el: &Element,
    parent: &str,
    data_names: &[&str],
) -> Result<MetadataProvider, ConfigError> {
    let path = format!("{parent}/{}", el.name);
    let pr = provider(cx, el, &path)?;
    let (class, class_line, class_at) = &pr.class;
    let mut ps = Params::new(&pr.params, path.clone());
    let adapter = match proxy_class(class) {
        Some(c) => MetadataAdapter::Remote(Box::new(remote_metadata(
            cx,
            &mut ps,
            c == AdapterClass::RobustProxy,
            el.line,
            &pr.base,
        )?)),
        None if broker_class(class).is_some() || class.eq_ignore_ascii_case(MEMORY_CLASS) => {
            return Err(cx.error(
                *class_line,
                class_at,
                format!(
                    "{} is a data adapter, not a metadata adapter: a metadata provider is \
                     PROXY_FOR_REMOTE_ADAPTER, ROBUST_PROXY_FOR_REMOTE_ADAPTER or \
                     {LITERAL_BASED_PROVIDER}",
                    class.to_ascii_lowercase()
                ),
            ))
        }
        None if class == LITERAL_BASED_PROVIDER => {
            if let Some(dir) = pr.install_dir {
                cx.warn(
                    dir.line,
                    format!("{path}/{}", dir.name),
                    "not applicable to Shoal (LiteralBasedProvider is built in); ignored",
                );
            }
            MetadataAdapter::LiteralBased(literal_based(cx, &mut ps, data_names)?)
        }
        None => {
            return Err(cx.error(
                *class_line,
                class_at,
                format!(
                    "\"{class}\" is a Java class: {SUPPORTED}, for metadata also \
                     {LITERAL_BASED_PROVIDER}, and for data also {BROKERS}"
                ),
            ))
        }
    };
    Ok(MetadataProvider {
        adapter,
        params: pr.params.clone(),
        line: el.line,
    })
}

fn data_provider(
    cx: &mut Cx<'_>,
    el: &Element,
    parent: &str,
    name: &str,
) -> Result<DataProvider, ConfigError> {
    let path = format!("{parent}/{}[name=\"{name}\"]", el.name);
    let pr = provider(cx, el, &path)?;
    let (class, class_line, class_at) = &pr.class;
    let mut ps = Params::new(&pr.params, path.clone());
    let source = if let Some(c) = proxy_class(class) {
        DataSource::Remote(remote_data(
            cx,
            &mut ps,
            c == AdapterClass::RobustProxy,
            el.line,
            &pr.base,
        )?)
    } else if let Some(kind) = broker_class(class) {
        DataSource::Broker(Box::new(broker_feed(cx, &mut ps, kind, el.line, &pr.base)?))
    } else if class.eq_ignore_ascii_case(MEMORY_CLASS) {
        DataSource::Memory(memory_feed(cx, &mut ps, el.line)?)
    } else {
        let why = if class == LITERAL_BASED_PROVIDER {
            format!(
                "{LITERAL_BASED_PROVIDER} is a metadata adapter, not a data adapter; a data \
                 provider is PROXY_FOR_REMOTE_ADAPTER, ROBUST_PROXY_FOR_REMOTE_ADAPTER, \
                 shoal.redis, shoal.nats or shoal.memory"
            )
        } else {
            format!("\"{class}\" is a Java class: {SUPPORTED}, and {BROKERS}")
        };
        return Err(cx.error(*class_line, class_at, why));
    };
    Ok(DataProvider {
        name: name.to_owned(),
        source,
        params: pr.params.clone(),
        line: el.line,
    })
}
