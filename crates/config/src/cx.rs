//! The reading context shared by `lightstreamer_conf.xml` and `adapters.xml`:
//! where a file is, what was warned, and how elements, values, numbers and
//! flags are read with errors naming the file, element and line.

use crate::xml::Element;
use crate::{ConfigError, Warning};
use std::path::{Path, PathBuf};

const IGNORED: &str = "not implemented by Shoal; ignored";

pub(crate) struct Cx<'f> {
    pub(crate) file: &'f Path,
    /// Folder relative paths resolve against.
    pub(crate) base: &'f Path,
    pub(crate) warnings: Vec<Warning>,
}

impl<'f> Cx<'f> {
    /// Parses `text`, the content of `file`, whose root element must be
    /// `<root>`: the element tree, and a context whose relative paths
    /// resolve against the file's folder.
    pub(crate) fn parse(
        text: &str,
        file: &'f Path,
        root: &str,
    ) -> Result<(Element, Cx<'f>), ConfigError> {
        let tree = crate::xml::parse(text).map_err(|e| ConfigError {
            file: file.to_path_buf(),
            line: Some(e.line),
            element: e.open.join("/"),
            message: e.message,
        })?;
        let cx = Cx {
            file,
            base: file.parent().unwrap_or(Path::new("")),
            warnings: Vec::new(),
        };
        if !tree.is(root) {
            return Err(cx.error(
                tree.line,
                &tree.name,
                format!("the root element must be <{root}>"),
            ));
        }
        Ok((tree, cx))
    }

    /// The warnings, in file order (a stable sort keeps an element before
    /// its attributes' and children's notes).
    pub(crate) fn into_warnings(mut self) -> Vec<Warning> {
        self.warnings.sort_by_key(|w| w.line);
        self.warnings
    }
}

/// The children of a container, sorted out by [`Cx::pick`].
pub(crate) struct Picked<'a, const N: usize> {
    /// The child named `known[i]`, if written.
    pub(crate) single: [Option<&'a Element>; N],
    /// Children with a cumulative name, in file order.
    pub(crate) many: Vec<&'a Element>,
}

impl Cx<'_> {
    pub(crate) fn error(
        &self,
        line: u32,
        element: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            line: Some(line),
            element: element.to_owned(),
            message: message.into(),
        }
    }

    pub(crate) fn warn(&mut self, line: u32, element: String, message: impl Into<String>) {
        self.warnings.push(Warning {
            file: self.file.to_path_buf(),
            line: Some(line),
            element,
            message: message.into(),
        });
    }

    pub(crate) fn resolve(&self, path: &str) -> PathBuf {
        let path = Path::new(path);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base.join(path)
        }
    }

    /// Sorts the children of `el` (at `path`): each name in `known` may
    /// appear once, each in `cumulative` any number of times; everything
    /// else gets a warning. Text directly inside `el` is refused.
    pub(crate) fn pick<'a, const N: usize>(
        &mut self,
        el: &'a Element,
        path: &str,
        known: [&str; N],
        cumulative: &[&str],
    ) -> Result<Picked<'a, N>, ConfigError> {
        let text = el.text.trim();
        if !text.is_empty() {
            return Err(self.error(
                el.line,
                path,
                format!("expected only child elements, found the text \"{text}\""),
            ));
        }
        let mut picked = Picked {
            single: [None; N],
            many: Vec::new(),
        };
        for child in &el.children {
            if cumulative.iter().any(|c| child.is(c)) {
                picked.many.push(child);
            } else if let Some(i) = known.iter().position(|k| child.is(k)) {
                if let Some(first) = picked.single[i] {
                    return Err(self.error(
                        child.line,
                        &format!("{path}/{}", child.name),
                        format!(
                            "written twice (first at line {}); only one <{}> is allowed here",
                            first.line, known[i]
                        ),
                    ));
                }
                picked.single[i] = Some(child);
            } else {
                let mut siblings: Vec<&str> = known.to_vec();
                siblings.extend_from_slice(cumulative);
                self.ignored(child, path, &siblings);
            }
        }
        Ok(picked)
    }

    /// One warning for an element Shoal does not implement (nothing for an
    /// empty one, which Lightstreamer treats as not written).
    pub(crate) fn ignored(&mut self, el: &Element, parent: &str, siblings: &[&str]) {
        if el.is_empty() {
            return;
        }
        let name = el.name.to_ascii_lowercase();
        let mut message = match not_applicable(&name) {
            Some(reason) => format!("not applicable to Shoal ({reason}); ignored"),
            None => IGNORED.to_owned(),
        };
        if let Some(close) = siblings
            .iter()
            .find(|s| edit_distance(&name, &s.to_ascii_lowercase()) <= 2)
        {
            message.push_str(&format!(" (did you mean <{close}>?)"));
        }
        self.warn(el.line, format!("{parent}/{}", el.name), message);
    }

    /// Warns about each attribute of `el` not in `known`.
    pub(crate) fn attributes(&mut self, el: &Element, path: &str, known: &[&str]) {
        for attr in &el.attrs {
            if known.iter().any(|k| attr.name.eq_ignore_ascii_case(k)) {
                continue;
            }
            let lower = attr.name.to_ascii_lowercase();
            let message = if lower == "prop_prefix" || lower.ends_with("_prop_prefix") {
                "not applicable to Shoal (Lightstreamer's $variable expansion is not implemented); ignored"
            } else {
                IGNORED
            };
            self.warn(el.line, format!("{path}/@{}", attr.name), message);
        }
    }

    /// The trimmed value of a leaf element; `None` when blank.
    pub(crate) fn value(
        &mut self,
        el: &Element,
        path: &str,
        known_attrs: &[&str],
    ) -> Result<Option<String>, ConfigError> {
        if let Some(child) = el.children.first() {
            return Err(self.error(
                child.line,
                path,
                format!("expected a value, found the element <{}>", child.name),
            ));
        }
        self.attributes(el, path, known_attrs);
        let value = el.text.trim();
        if value.is_empty() {
            return Ok(None);
        }
        if value.starts_with('$') {
            self.warn(
                el.line,
                path.to_owned(),
                "values of the form $name are not expanded by Shoal \
                 (Lightstreamer's variable expansion is not implemented); used as written",
            );
        }
        Ok(Some(value.to_owned()))
    }

    /// An optional child's value.
    pub(crate) fn child_value(
        &mut self,
        el: Option<&Element>,
        parent: &str,
    ) -> Result<Option<(String, u32, String)>, ConfigError> {
        let Some(el) = el else { return Ok(None) };
        let path = format!("{parent}/{}", el.name);
        Ok(self.value(el, &path, &[])?.map(|v| (v, el.line, path)))
    }

    pub(crate) fn number(
        &mut self,
        el: Option<&Element>,
        parent: &str,
    ) -> Result<Option<u64>, ConfigError> {
        Ok(self.located_number(el, parent)?.map(|(n, _, _)| n))
    }

    /// A number with the line and path of its element.
    pub(crate) fn located_number(
        &mut self,
        el: Option<&Element>,
        parent: &str,
    ) -> Result<Option<(u64, u32, String)>, ConfigError> {
        let Some((value, line, path)) = self.child_value(el, parent)? else {
            return Ok(None);
        };
        match value.parse::<u64>() {
            Ok(n) => Ok(Some((n, line, path))),
            Err(_) => Err(self.error(
                line,
                &path,
                format!("expected a whole number (0 or more), found \"{value}\""),
            )),
        }
    }

    pub(crate) fn flag(
        &mut self,
        el: Option<&Element>,
        parent: &str,
    ) -> Result<Option<bool>, ConfigError> {
        let Some((value, line, path)) = self.child_value(el, parent)? else {
            return Ok(None);
        };
        match value.as_str() {
            "Y" => Ok(Some(true)),
            "N" => Ok(Some(false)),
            _ => Err(self.error(line, &path, format!("expected Y or N, found \"{value}\""))),
        }
    }

    /// Opens `file` to make sure it can be read when the listener starts.
    pub(crate) fn check_readable(
        &self,
        file: &Path,
        line: u32,
        path: &str,
    ) -> Result<(), ConfigError> {
        match std::fs::File::open(file) {
            Err(e) => Err(self.error(line, path, format!("cannot open {}: {e}", file.display()))),
            Ok(f) if f.metadata().is_ok_and(|m| m.is_dir()) => Err(self.error(
                line,
                path,
                format!("{} is a folder, not a file", file.display()),
            )),
            Ok(_) => Ok(()),
        }
    }
}

/// Why a Lightstreamer element makes no sense for Shoal, when it does not.
pub(crate) fn not_applicable(name: &str) -> Option<&'static str> {
    const JVM: &str = "a JVM thread pool or buffer setting; Shoal runs on its own async runtime";
    Some(match name {
        "edition_conf" => "Shoal has no editions or licence files",
        "logback_properties" => "Shoal logs through RUST_LOG or --log-level, not logback",
        "jmx" | "ensure_stopping_service" | "collector_millis" => "Shoal has no JMX interface",
        "mpn" | "max_mpn_devices" => "Shoal has no Mobile Push Notification module",
        "env_prefix" => "Lightstreamer's $variable expansion is not implemented",
        "shared_dir" | "classloader" => "Shoal loads no Java classes",
        "enable_expansion_for_adapters_config" => {
            "Lightstreamer's $variable expansion is not implemented"
        }
        "adapter_set_pool"
        | "data_adapter_pool"
        | "authentication_pool"
        | "messages_pool"
        | "mpn_pool" => JVM,
        "tls_provider" => "Shoal does not use Java security providers",
        "force_early_conversions"
        | "timer_pool_size"
        | "events_pool_size"
        | "snapshot_pool_size"
        | "pump_pool_size"
        | "handshake_pool_size" => JVM,
        n if n.starts_with("selector_")
            || n.starts_with("max_common_")
            || n.contains("_pool_max_") =>
        {
            JVM
        }
        _ => return None,
    })
}

/// Levenshtein distance, for "did you mean" hints.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}
