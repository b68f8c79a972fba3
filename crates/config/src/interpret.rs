//! From the element tree to [`Config`], with errors and warnings.

use crate::address::{interfaces_overlap, parse_control_link, parse_interface};
use crate::xml::{self, Element};
use crate::{
    Config, ConfigError, EngineSettings, Healthcheck, Keystore, KeystoreType, Limits, Listener,
    Loaded, PortType, SocketTimeouts, Warning,
};
use std::path::{Path, PathBuf};

const ROOT: &str = "lightstreamer_conf";
const IGNORED: &str = "not implemented by Shoal; ignored";
/// Lightstreamer's `pages_dir` default, relative to the configuration folder.
const DEFAULT_PAGES_DIR: &str = "../pages";

pub(crate) fn interpret(text: &str, file: &Path) -> Result<Loaded, ConfigError> {
    let root = xml::parse(text).map_err(|e| ConfigError {
        file: file.to_path_buf(),
        line: Some(e.line),
        element: e.open.join("/"),
        message: e.message,
    })?;
    let mut cx = Cx {
        file,
        base: file.parent().unwrap_or(Path::new("")),
        warnings: Vec::new(),
    };
    if !root.is(ROOT) {
        return Err(cx.error(
            root.line,
            &root.name,
            format!("the root element must be <{ROOT}>"),
        ));
    }
    let config = cx.root(&root)?;
    // In file order (a stable sort keeps an element before its attributes'
    // and children's notes).
    cx.warnings.sort_by_key(|w| w.line);
    Ok(Loaded {
        config,
        warnings: cx.warnings,
    })
}

struct Cx<'f> {
    file: &'f Path,
    /// Folder relative paths resolve against.
    base: &'f Path,
    warnings: Vec<Warning>,
}

/// The children of a container, sorted out by [`Cx::pick`].
struct Picked<'a, const N: usize> {
    /// The child named `known[i]`, if written.
    single: [Option<&'a Element>; N],
    /// Children with a cumulative name, in file order.
    many: Vec<&'a Element>,
}

/// A listener with where its port was written, for the clash check.
struct Parsed {
    listener: Listener,
    path: String,
    port_path: String,
    port_line: u32,
}

impl Cx<'_> {
    fn error(&self, line: u32, element: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            line: Some(line),
            element: element.to_owned(),
            message: message.into(),
        }
    }

    fn warn(&mut self, line: u32, element: String, message: impl Into<String>) {
        self.warnings.push(Warning {
            file: self.file.to_path_buf(),
            line: Some(line),
            element,
            message: message.into(),
        });
    }

    fn resolve(&self, path: &str) -> PathBuf {
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
    fn pick<'a, const N: usize>(
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
    fn ignored(&mut self, el: &Element, parent: &str, siblings: &[&str]) {
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
    fn attributes(&mut self, el: &Element, path: &str, known: &[&str]) {
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
    fn value(
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
    fn child_value(
        &mut self,
        el: Option<&Element>,
        parent: &str,
    ) -> Result<Option<(String, u32, String)>, ConfigError> {
        let Some(el) = el else { return Ok(None) };
        let path = format!("{parent}/{}", el.name);
        Ok(self.value(el, &path, &[])?.map(|v| (v, el.line, path)))
    }

    fn number(&mut self, el: Option<&Element>, parent: &str) -> Result<Option<u64>, ConfigError> {
        Ok(self.located_number(el, parent)?.map(|(n, _, _)| n))
    }

    /// A number with the line and path of its element.
    fn located_number(
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

    fn flag(&mut self, el: Option<&Element>, parent: &str) -> Result<Option<bool>, ConfigError> {
        let Some((value, line, path)) = self.child_value(el, parent)? else {
            return Ok(None);
        };
        match value.as_str() {
            "Y" => Ok(Some(true)),
            "N" => Ok(Some(false)),
            _ => Err(self.error(line, &path, format!("expected Y or N, found \"{value}\""))),
        }
    }

    fn root(&mut self, root: &Element) -> Result<Config, ConfigError> {
        let path = root.name.as_str();
        self.attributes(root, path, &[]);
        let p = self.pick(
            root,
            path,
            [
                "control_link_address",
                "control_link_machine_name",
                "request_limit",
                "default_keepalive_millis",
                "min_keepalive_millis",
                "max_keepalive_millis",
                "content_length",
                "max_polling_millis",
                "max_idle_millis",
                "session_timeout_millis",
                "session_recovery_millis",
                "max_buffer_size",
                "max_sessions",
                "max_session_duration_minutes",
                "missing_message_timeout_millis",
                "web_server",
                "healthcheck",
                "cross_domain_policy",
                "read_timeout_millis",
                "write_timeout_millis",
                "handshake_timeout_millis",
                "max_recovery_length",
                "shoal_session_buffers_budget_mb",
                "shoal_stalled_client_millis",
                "shoal_max_subscriptions_per_session",
            ],
            &["http_server", "https_server"],
        )?;
        let [control_link_address, control_link_machine_name, request_limit, default_keepalive, min_keepalive, max_keepalive, content_length, max_polling, max_idle, session_timeout, session_recovery, max_buffer_size, max_sessions, max_session_duration, missing_message_timeout, web_server, healthcheck, cross_domain_policy, read_timeout, write_timeout, handshake_timeout, max_recovery_length, budget_mb, stalled_millis, max_subscriptions] =
            p.single;
        let limits = Limits {
            max_recovery_length: self.number(max_recovery_length, path)?,
            session_buffers_budget_mb: self.at_least_one(budget_mb, path)?,
            stalled_client_millis: self.number(stalled_millis, path)?,
            max_subscriptions_per_session: self.at_least_one(max_subscriptions, path)?,
        };

        let mut parsed = Vec::new();
        for el in &p.many {
            parsed.push(self.listener(el, path)?);
        }
        if parsed.is_empty() {
            return Err(self.error(
                root.line,
                path,
                "no <http_server> or <https_server>: at least one listener is required",
            ));
        }
        self.check_listeners(&parsed)?;

        let control_link_address = match self.child_value(control_link_address, path)? {
            None => None,
            Some((value, line, at)) => {
                Some(parse_control_link(&value).map_err(|message| self.error(line, &at, message))?)
            }
        };
        let control_link_machine_name = self
            .child_value(control_link_machine_name, path)?
            .map(|(v, _, _)| v);

        // Their `randomize` attribute is not implemented: warned by value().
        let default_keepalive = self.located_number(default_keepalive, path)?;
        let min_keepalive = self.located_number(min_keepalive, path)?;
        let max_keepalive = self.located_number(max_keepalive, path)?;
        self.check_keepalives(&min_keepalive, &default_keepalive, &max_keepalive)?;

        let content_length = match content_length {
            None => None,
            Some(el) => {
                let at = format!("{path}/{}", el.name);
                self.attributes(el, &at, &[]);
                let p = self.pick(el, &at, ["default"], &[])?;
                self.number(p.single[0], &at)?
            }
        };

        let engine = EngineSettings {
            request_limit: self.number(request_limit, path)?,
            default_keepalive_millis: default_keepalive.map(|(n, _, _)| n),
            min_keepalive_millis: min_keepalive.map(|(n, _, _)| n),
            max_keepalive_millis: max_keepalive.map(|(n, _, _)| n),
            content_length,
            max_polling_millis: self.number(max_polling, path)?,
            max_idle_millis: self.number(max_idle, path)?,
            session_timeout_millis: self.number(session_timeout, path)?,
            session_recovery_millis: self.number(session_recovery, path)?,
            max_buffer_size: self.number(max_buffer_size, path)?,
            max_sessions: self.number(max_sessions, path)?,
            max_session_duration_minutes: self.number(max_session_duration, path)?,
            missing_message_timeout_millis: self.number(missing_message_timeout, path)?,
        };

        let pages_dir = match web_server {
            None => None,
            Some(el) => self.web_server(el, path)?,
        };

        let healthcheck = match healthcheck {
            None => None,
            Some(el) => Some(self.healthcheck(el, path, &parsed)?),
        };

        let cross_domain_policy = match cross_domain_policy {
            None => None,
            Some(el) => Some(self.cross_domain_policy(el, path)?),
        };

        Ok(Config {
            cross_domain_policy,
            listeners: parsed.into_iter().map(|p| p.listener).collect(),
            control_link_address,
            control_link_machine_name,
            engine,
            pages_dir,
            healthcheck,
            timeouts: SocketTimeouts {
                read_millis: self.number(read_timeout, path)?,
                write_millis: self.number(write_timeout, path)?,
                handshake_millis: self.number(handshake_timeout, path)?,
            },
            limits,
        })
    }

    /// A number that must be 1 or more.
    fn at_least_one(
        &mut self,
        el: Option<&Element>,
        parent: &str,
    ) -> Result<Option<u64>, ConfigError> {
        match self.located_number(el, parent)? {
            Some((0, line, path)) => Err(self.error(line, &path, "must be 1 or more, found 0")),
            other => Ok(other.map(|(n, _, _)| n)),
        }
    }

    fn check_keepalives(
        &self,
        min: &Option<(u64, u32, String)>,
        default: &Option<(u64, u32, String)>,
        max: &Option<(u64, u32, String)>,
    ) -> Result<(), ConfigError> {
        if let (Some((min, line, path)), Some((default, default_line, _))) = (min, default) {
            if min > default {
                return Err(self.error(
                    *line,
                    path,
                    format!(
                        "{min} is more than <default_keepalive_millis> ({default}, line {default_line}); \
                         the minimum keepalive must not exceed the default one"
                    ),
                ));
            }
        }
        if let (Some((default, default_line, _)), Some((max, line, path))) = (default, max) {
            if max < default {
                return Err(self.error(
                    *line,
                    path,
                    format!(
                        "{max} is less than <default_keepalive_millis> ({default}, line {default_line}); \
                         the maximum keepalive must not be below the default one"
                    ),
                ));
            }
        }
        if let (Some((min, min_line, _)), Some((max, line, path))) = (min, max) {
            if max < min {
                return Err(self.error(
                    *line,
                    path,
                    format!(
                        "{max} is less than <min_keepalive_millis> ({min}, line {min_line}); \
                         the maximum keepalive must not be below the minimum one"
                    ),
                ));
            }
        }
        Ok(())
    }

    fn listener(&mut self, el: &Element, parent: &str) -> Result<Parsed, ConfigError> {
        let secure = el.is("https_server");
        let bare_path = format!("{parent}/{}", el.name);
        let name = el
            .attrs
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case("name"))
            .map(|a| a.value.trim())
            .unwrap_or_default();
        if name.is_empty() {
            return Err(self.error(
                el.line,
                &bare_path,
                "the name attribute is required (e.g. name=\"HTTP Server\")",
            ));
        }
        if let Some(c) = name.chars().find(|c| !c.is_ascii() || c.is_ascii_control()) {
            return Err(self.error(
                el.line,
                &bare_path,
                format!(
                    "the name \"{name}\" contains {c:?}: names are ASCII without control characters"
                ),
            ));
        }
        let path = format!("{bare_path}[name=\"{name}\"]");
        self.attributes(el, &path, &["name"]);
        let p = self.pick(
            el,
            &path,
            [
                "port",
                "port_type",
                "listening_interface",
                "keystore",
                "client_identification",
            ],
            &[],
        )?;
        let [port, port_type, interface, keystore, client_identification] = p.single;

        let Some((port_value, port_line, port_path)) = self.child_value(port, &path)? else {
            return Err(self.error(el.line, &path, "missing <port>: every listener needs one"));
        };
        let port = port_value.parse::<u16>().map_err(|_| {
            self.error(
                port_line,
                &port_path,
                format!(
                    "expected a TCP port number from 0 to 65535 (0: any free port), found \"{port_value}\""
                ),
            )
        })?;

        let port_type = match self.child_value(port_type, &path)? {
            None => PortType::default(),
            Some((value, line, at)) => parse_port_type(&value).ok_or_else(|| {
                self.error(
                    line,
                    &at,
                    format!(
                        "unknown port type \"{value}\": expected GENERAL_PURPOSE, CREATE_ONLY, \
                         CONTROL_ONLY or PRIORITY"
                    ),
                )
            })?,
        };

        let listening_interface = match self.child_value(interface, &path)? {
            None => None,
            Some((value, line, at)) => {
                Some(parse_interface(&value).map_err(|message| self.error(line, &at, message))?)
            }
        };

        let keystore = match (keystore, secure) {
            (Some(ks), true) => Some(self.keystore(ks, &path)?),
            (Some(ks), false) => return Err(self.error(
                ks.line,
                &format!("{path}/{}", ks.name),
                "a keystore is only allowed in <https_server>: an <http_server> does not use TLS",
            )),
            (None, true) => {
                return Err(self.error(
                    el.line,
                    &path,
                    "missing <keystore>: every <https_server> needs one (with <keystore_file> \
                     and <keystore_password>)",
                ))
            }
            (None, false) => None,
        };

        let (proxy_protocol, proxy_protocol_timeout_millis, skip_local_forwards) =
            match client_identification {
                None => (false, None, 0),
                Some(ci) => self.client_identification(ci, &path)?,
            };

        Ok(Parsed {
            listener: Listener {
                name: name.to_owned(),
                secure,
                port,
                listening_interface,
                port_type,
                keystore,
                proxy_protocol,
                proxy_protocol_timeout_millis,
                skip_local_forwards,
                line: el.line,
            },
            path,
            port_path,
            port_line,
        })
    }

    fn client_identification(
        &mut self,
        el: &Element,
        parent: &str,
    ) -> Result<(bool, Option<u64>, u32), ConfigError> {
        let path = format!("{parent}/{}", el.name);
        self.attributes(el, &path, &[]);
        let p = self.pick(
            el,
            &path,
            [
                "proxy_protocol_enabled",
                "proxy_protocol_timeout_millis",
                "skip_local_forwards",
            ],
            &[],
        )?;
        let [enabled, timeout, skip] = p.single;
        let enabled = self.flag(enabled, &path)?.unwrap_or(false);
        let timeout = self.number(timeout, &path)?;
        let skip = match self.located_number(skip, &path)? {
            None => 0,
            Some((n, line, at)) => {
                let n = u32::try_from(n).map_err(|_| {
                    self.error(
                        line,
                        &at,
                        format!("{n} is too large (at most {})", u32::MAX),
                    )
                })?;
                if n > 0 && enabled {
                    return Err(self.error(
                        line,
                        &at,
                        "must be 0 when <proxy_protocol_enabled> is Y: the proxy protocol \
                         already gives the client address",
                    ));
                }
                n
            }
        };
        Ok((enabled, timeout, skip))
    }

    fn keystore(&mut self, el: &Element, parent: &str) -> Result<Keystore, ConfigError> {
        let path = format!("{parent}/{}", el.name);
        self.attributes(el, &path, &["type"]);
        let kind = match el
            .attrs
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case("type"))
        {
            None => KeystoreType::default(),
            Some(attr) => {
                let value = attr.value.trim();
                let at = format!("{path}/@{}", attr.name);
                match value.to_ascii_uppercase().as_str() {
                    "" | "JKS" => KeystoreType::Jks,
                    "PKCS12" => KeystoreType::Pkcs12,
                    "PEM" => KeystoreType::Pem,
                    "PKCS11" => return Err(self.error(
                        el.line,
                        &at,
                        "keystore type PKCS11 is not supported by Shoal: use JKS, PKCS12 or PEM",
                    )),
                    _ => {
                        return Err(self.error(
                            el.line,
                            &at,
                            format!(
                                "unknown keystore type \"{value}\": expected JKS, PKCS12 or PEM"
                            ),
                        ))
                    }
                }
            }
        };
        let p = self.pick(
            el,
            &path,
            ["keystore_file", "keystore_password", "key_file"],
            &[],
        )?;
        let [file, password, key_file] = p.single;

        let Some((file_value, file_line, file_path)) = self.child_value(file, &path)? else {
            let what = match kind {
                KeystoreType::Pem => "the PEM certificate chain",
                _ => "the keystore",
            };
            return Err(self.error(
                el.line,
                &path,
                format!("missing <keystore_file>: the path of {what}"),
            ));
        };
        let file = self.resolve(&file_value);
        self.check_readable(&file, file_line, &file_path)?;

        let password = match password {
            None => None,
            Some(pw) => {
                let at = format!("{path}/{}", pw.name);
                if let Some(attr) = pw
                    .attrs
                    .iter()
                    .find(|a| a.name.eq_ignore_ascii_case("type"))
                {
                    let value = attr.value.trim();
                    if value.eq_ignore_ascii_case("file") {
                        return Err(self.error(
                            pw.line,
                            &format!("{at}/@{}", attr.name),
                            "type=\"file\" is not supported by Shoal: write the password \
                             itself in <keystore_password> (type=\"text\")",
                        ));
                    }
                    if !(value.is_empty() || value.eq_ignore_ascii_case("text")) {
                        return Err(self.error(
                            pw.line,
                            &format!("{at}/@{}", attr.name),
                            format!("unknown password type \"{value}\": expected text"),
                        ));
                    }
                }
                self.value(pw, &at, &["type"])?
            }
        };
        if password.is_none() && kind != KeystoreType::Pem {
            return Err(self.error(
                el.line,
                &path,
                format!(
                    "missing <keystore_password>: a {} keystore needs its password",
                    kind.as_str()
                ),
            ));
        }

        let key_file = match self.child_value(key_file, &path)? {
            None => None,
            Some((value, line, at)) => {
                if kind != KeystoreType::Pem {
                    return Err(self.error(
                        line,
                        &at,
                        format!(
                            "<key_file> is only used with type=\"PEM\"; a {} keystore holds its key",
                            kind.as_str()
                        ),
                    ));
                }
                let key = self.resolve(&value);
                self.check_readable(&key, line, &at)?;
                Some(key)
            }
        };

        Ok(Keystore {
            kind,
            file,
            password,
            key_file,
            line: el.line,
        })
    }

    /// Opens `file` to make sure it can be read when the listener starts.
    fn check_readable(&self, file: &Path, line: u32, path: &str) -> Result<(), ConfigError> {
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

    /// Names must be unique; two listeners must not want the same port of
    /// the same address.
    fn check_listeners(&self, parsed: &[Parsed]) -> Result<(), ConfigError> {
        for (i, later) in parsed.iter().enumerate() {
            for earlier in &parsed[..i] {
                let (a, b) = (&earlier.listener, &later.listener);
                if a.name == b.name {
                    return Err(self.error(
                        b.line,
                        &later.path,
                        format!(
                            "duplicate listener name: \"{}\" is already used at line {}; names \
                             must be unique",
                            b.name, a.line
                        ),
                    ));
                }
                if a.port != 0
                    && a.port == b.port
                    && interfaces_overlap(a.listening_interface, b.listening_interface)
                {
                    let on = |l: &Listener| match l.listening_interface {
                        Some(ip) => format!("address {ip}"),
                        None => "every address".to_owned(),
                    };
                    return Err(self.error(
                        later.port_line,
                        &later.port_path,
                        format!(
                            "port {} on {} clashes with \"{}\" (line {}), on {}: give the \
                             listeners different ports or distinct <listening_interface>s",
                            b.port,
                            on(b),
                            a.name,
                            earlier.port_line,
                            on(a)
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn healthcheck(
        &mut self,
        el: &Element,
        parent: &str,
        listeners: &[Parsed],
    ) -> Result<Healthcheck, ConfigError> {
        let path = format!("{parent}/{}", el.name);
        self.attributes(el, &path, &[]);
        let p = self.pick(
            el,
            &path,
            ["available_on_all_servers"],
            &["available_on_server"],
        )?;
        let all_servers = self.flag(p.single[0], &path)?.unwrap_or(false);
        let mut servers = Vec::new();
        for s in &p.many {
            let at = format!("{path}/{}", s.name);
            self.attributes(s, &at, &["name"]);
            let name = s
                .attrs
                .iter()
                .find(|a| a.name.eq_ignore_ascii_case("name"))
                .map(|a| a.value.trim().to_owned())
                .unwrap_or_default();
            if name.is_empty() {
                return Err(self.error(s.line, &at, "the name attribute is required: the name of an <http_server> or <https_server>"));
            }
            if !listeners.iter().any(|l| l.listener.name == name) {
                return Err(self.error(s.line, &at, format!("no listener is named \"{name}\"")));
            }
            servers.push(name);
        }
        Ok(Healthcheck {
            all_servers,
            servers,
        })
    }

    fn web_server(&mut self, el: &Element, parent: &str) -> Result<Option<PathBuf>, ConfigError> {
        let path = format!("{parent}/{}", el.name);
        self.attributes(el, &path, &[]);
        let p = self.pick(el, &path, ["enabled", "pages_dir"], &[])?;
        let [enabled, pages_dir] = p.single;
        let enabled = self.flag(enabled, &path)?.unwrap_or(false);
        let given = self.child_value(pages_dir, &path)?;
        if !enabled {
            return Ok(None);
        }
        let (dir, line, at) = match given {
            Some((value, line, at)) => (self.resolve(&value), line, at),
            None => (self.resolve(DEFAULT_PAGES_DIR), el.line, path),
        };
        if !dir.is_dir() {
            self.warn(
                line,
                at,
                format!(
                    "the internal web server is enabled but {} is not a folder: there are no \
                     pages to serve",
                    dir.display()
                ),
            );
        }
        Ok(Some(dir))
    }
}

fn parse_port_type(value: &str) -> Option<PortType> {
    Some(match value.to_ascii_uppercase().as_str() {
        "GENERAL_PURPOSE" => PortType::GeneralPurpose,
        "CREATE_ONLY" => PortType::CreateOnly,
        "CONTROL_ONLY" => PortType::ControlOnly,
        "PRIORITY" => PortType::Priority,
        _ => return None,
    })
}

/// Why a Lightstreamer element makes no sense for Shoal, when it does not.
fn not_applicable(name: &str) -> Option<&'static str> {
    const JVM: &str = "a JVM thread pool or buffer setting; Shoal runs on its own async runtime";
    Some(match name {
        "edition_conf" => "Shoal has no editions or licence files",
        "logback_properties" => "Shoal logs through RUST_LOG or --log-level, not logback",
        "jmx" | "ensure_stopping_service" | "collector_millis" => "Shoal has no JMX interface",
        "mpn" | "max_mpn_devices" => "Shoal has no Mobile Push Notification module",
        "dashboard" => "Shoal has no Monitoring Dashboard",
        "env_prefix" => "Lightstreamer's $variable expansion is not implemented",
        "adapters_dir" | "shared_dir" | "enable_expansion_for_adapters_config" => {
            "Shoal does not load Java adapters from folders"
        }
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
fn edit_distance(a: &str, b: &str) -> usize {
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

mod cross_domain;
#[cfg(test)]
mod tests;
