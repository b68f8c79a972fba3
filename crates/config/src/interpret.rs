//! From the element tree to [`Config`], with errors and warnings.

use crate::address::{interfaces_overlap, parse_control_link, parse_interface};
use crate::cx::Cx;
use crate::xml::Element;
use crate::{
    Config, ConfigError, EngineSettings, Healthcheck, Keystore, KeystoreType, Limits, Listener,
    Loaded, PortType, SocketTimeouts,
};
use std::path::{Path, PathBuf};

const ROOT: &str = "lightstreamer_conf";
/// Lightstreamer's `pages_dir` default, relative to the configuration folder.
const DEFAULT_PAGES_DIR: &str = "../pages";

pub(crate) fn interpret(text: &str, file: &Path) -> Result<Loaded, ConfigError> {
    let (root, mut cx) = Cx::parse(text, file, ROOT)?;
    let config = cx.root(&root)?;
    Ok(Loaded {
        config,
        warnings: cx.into_warnings(),
    })
}

/// A listener with where its port was written, for the clash check.
struct Parsed {
    listener: Listener,
    path: String,
    port_path: String,
    port_line: u32,
}

impl Cx<'_> {
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
                "max_delay_millis",
                "web_server",
                "healthcheck",
                "dashboard",
                "cross_domain_policy",
                "read_timeout_millis",
                "write_timeout_millis",
                "handshake_timeout_millis",
                "max_recovery_length",
                "shoal_session_buffers_budget_mb",
                "shoal_stalled_client_millis",
                "shoal_max_subscriptions_per_session",
                "adapters_dir",
            ],
            &["http_server", "https_server"],
        )?;
        let [control_link_address, control_link_machine_name, request_limit, default_keepalive, min_keepalive, max_keepalive, content_length, max_polling, max_idle, session_timeout, session_recovery, max_buffer_size, max_sessions, max_session_duration, missing_message_timeout, max_delay, web_server, healthcheck, dashboard, cross_domain_policy, read_timeout, write_timeout, handshake_timeout, max_recovery_length, budget_mb, stalled_millis, max_subscriptions, adapters_dir] =
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
            max_delay_millis: self.number(max_delay, path)?,
        };

        let pages_dir = match web_server {
            None => None,
            Some(el) => self.web_server(el, path)?,
        };

        let healthcheck = match healthcheck {
            None => None,
            Some(el) => Some(self.healthcheck(el, path, &parsed)?),
        };

        let dashboard = match dashboard {
            None => None,
            Some(el) => Some(self.dashboard(el, path, &parsed)?),
        };

        let cross_domain_policy = match cross_domain_policy {
            None => None,
            Some(el) => Some(self.cross_domain_policy(el, path)?),
        };

        let adapters_dir = match self.child_value(adapters_dir, path)? {
            None => None,
            Some((value, line, at)) => Some(self.adapters_dir(&value, line, &at)?),
        };

        Ok(Config {
            adapters_dir,
            cross_domain_policy,
            listeners: parsed.into_iter().map(|p| p.listener).collect(),
            control_link_address,
            control_link_machine_name,
            engine,
            pages_dir,
            healthcheck,
            dashboard,
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
                let at = format!("{path}/@{}", attr.name);
                parse_keystore_type(&attr.value).map_err(|m| self.error(el.line, &at, m))?
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

    /// `<adapters_dir>`, resolved: written, it must be a folder.
    fn adapters_dir(&self, value: &str, line: u32, at: &str) -> Result<PathBuf, ConfigError> {
        let dir = self.resolve(value);
        match std::fs::metadata(&dir) {
            Ok(m) if m.is_dir() => Ok(dir),
            Ok(_) => Err(self.error(
                line,
                at,
                format!("{} is a file, not a folder of adapter sets", dir.display()),
            )),
            Err(e) => Err(self.error(
                line,
                at,
                format!(
                    "cannot read the folder of adapter sets {}: {e}",
                    dir.display()
                ),
            )),
        }
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

/// A keystore `type`: `JKS` (also when blank), `PKCS12` or `PEM`, in any case.
pub(crate) fn parse_keystore_type(value: &str) -> Result<KeystoreType, String> {
    let value = value.trim();
    match value.to_ascii_uppercase().as_str() {
        "" | "JKS" => Ok(KeystoreType::Jks),
        "PKCS12" => Ok(KeystoreType::Pkcs12),
        "PEM" => Ok(KeystoreType::Pem),
        "PKCS11" => {
            Err("keystore type PKCS11 is not supported by Shoal: use JKS, PKCS12 or PEM".to_owned())
        }
        _ => Err(format!(
            "unknown keystore type \"{value}\": expected JKS, PKCS12 or PEM"
        )),
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

mod cluster_node;
mod cross_domain;
mod dashboard;
pub(crate) use dashboard::DEFAULT_URL_PATH as DEFAULT_DASHBOARD_PATH;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_dashboard;
