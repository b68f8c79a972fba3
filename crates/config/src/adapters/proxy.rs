//! The params of `PROXY_FOR_REMOTE_ADAPTER` and
//! `ROBUST_PROXY_FOR_REMOTE_ADAPTER` common to metadata and data.

use super::params::Params;
use super::{Credential, RemoteHost, RemoteProxy, RobustConnection};
use crate::address::{check_host_name, parse_interface};
use crate::cx::Cx;
use crate::interpret::parse_keystore_type;
use crate::{ConfigError, Keystore, KeystoreType};
use std::collections::BTreeMap;
use std::path::Path;

/// Lightstreamer's default request `timeout`, in milliseconds.
const DEFAULT_TIMEOUT_MILLIS: u64 = 10_000;

/// Which provider the params belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Metadata,
    Data,
}

/// Param names every proxy understands (for "did you mean" hints).
pub(super) const COMMON: &[&str] = &[
    "request_reply_port",
    "interface",
    "timeout",
    "keepalive_timeout_millis",
    "keepalive_hint_millis",
    "auth",
    "tls",
    "tls.keystore.type",
    "tls.keystore.keystore_file",
    "tls.keystore.keystore_password",
    "tls.keystore.keystore_password.type",
    "tls.keystore.key_file",
    "remote_params_prefix",
    "remote_address_whitelist",
    "first_connection_timeout_millis",
    "connection_recovery_timeout_millis",
];

const TLS_IGNORED: &str = "not implemented by Shoal (its TLS offers TLS 1.2 and 1.3 with \
                           rustls's default cipher suites)";

/// Reads the common params. `base` is the folder relative keystore paths
/// resolve against.
pub(super) fn remote_proxy(
    cx: &mut Cx<'_>,
    ps: &mut Params<'_>,
    role: Role,
    robust: bool,
    line: u32,
    base: &Path,
) -> Result<RemoteProxy, ConfigError> {
    let Some((request_reply_port, _)) = ps.port(cx, "request_reply_port")? else {
        return Err(cx.error(
            line,
            ps.provider(),
            "missing <param name=\"request_reply_port\">: the port the remote adapter connects to",
        ));
    };
    if let Some(p) = ps.take("remote_host") {
        return Err(ps.error(
            cx,
            p,
            "Shoal does not connect to remote adapters: it listens on request_reply_port and \
             the remote adapter connects; remove remote_host and start the remote adapter in \
             its connecting mode",
        ));
    }
    if let Some(p) = ps.take("connection_retry_millis") {
        ps.ignore(
            cx,
            p,
            "only used with remote_host, which Shoal does not implement",
        );
    }
    let interface = match ps.take("interface") {
        None => None,
        Some(p) => Some(parse_interface(&p.value).map_err(|m| ps.error(cx, p, m))?),
    };
    let timeout_millis = match ps.signed(cx, "timeout")? {
        None => Some(DEFAULT_TIMEOUT_MILLIS),
        Some((n, _)) if n < 0 => None,
        Some((0, p)) => {
            return Err(ps.error(
                cx,
                p,
                "0 would fail every request at once: write a negative value for no limit",
            ))
        }
        Some((n, _)) => Some(n.unsigned_abs()),
    };
    let keepalive_timeout_millis = positive(ps.signed(cx, "keepalive_timeout_millis")?);
    let keepalive_hint_millis = match ps.signed(cx, "keepalive_hint_millis")? {
        Some(written) => positive(Some(written)),
        None => keepalive_timeout_millis.map(|t| if t < 4000 { t / 2 } else { t - 2000 }),
    };
    let credentials = auth(cx, ps)?;
    let tls = tls(cx, ps, base)?;
    let (remote_params_prefix, remote_params) = remote_params(cx, ps)?;
    let remote_address_whitelist = match ps.take("remote_address_whitelist") {
        None => Vec::new(),
        Some(p) => whitelist(&p.value).map_err(|m| ps.error(cx, p, m))?,
    };
    let robust = robust_connection(cx, ps, role, robust)?;
    Ok(RemoteProxy {
        robust,
        request_reply_port,
        interface,
        timeout_millis,
        keepalive_timeout_millis,
        keepalive_hint_millis,
        credentials,
        tls,
        remote_params_prefix,
        remote_params,
        remote_address_whitelist,
    })
}

/// A positive value, or `None` for 0 and negative ones.
fn positive(v: Option<(i64, &super::Param)>) -> Option<u64> {
    v.and_then(|(n, _)| u64::try_from(n).ok())
        .filter(|&n| n > 0)
}

fn robust_connection(
    cx: &mut Cx<'_>,
    ps: &mut Params<'_>,
    role: Role,
    robust: bool,
) -> Result<Option<RobustConnection>, ConfigError> {
    let first = ps.signed(cx, "first_connection_timeout_millis")?;
    let recovery = ps.signed(cx, "connection_recovery_timeout_millis")?;
    if !robust {
        for (_, p) in [first, recovery].into_iter().flatten() {
            ps.ignore(cx, p, "only used by ROBUST_PROXY_FOR_REMOTE_ADAPTER");
        }
        return Ok(None);
    }
    if let Some((_, p)) = recovery {
        ps.ignore(
            cx,
            p,
            "not implemented: after a failed connection Shoal listens for the next remote \
             adapter at once",
        );
    }
    let non_negative = |v: i64| u64::try_from(v).ok();
    // Helm chart defaults: metadata -1 (wait for ever), data 0.
    let first_default = match role {
        Role::Metadata => None,
        Role::Data => Some(0),
    };
    Ok(Some(RobustConnection {
        first_connection_timeout_millis: first.map_or(first_default, |(n, _)| non_negative(n)),
        connection_recovery_timeout_millis: recovery.and_then(|(n, _)| non_negative(n)),
    }))
}

/// `auth` and the `auth.credentials.<key>.user` / `.password` pairs.
fn auth(cx: &mut Cx<'_>, ps: &mut Params<'_>) -> Result<Option<Vec<Credential>>, ConfigError> {
    const PREFIX: &str = "auth.credentials.";
    let enabled = ps.flag(cx, "auth")?;
    let written = ps.take_all(|n| {
        n.strip_prefix(PREFIX)
            .is_some_and(|rest| rest.ends_with(".user") || rest.ends_with(".password"))
    });
    let Some((true, auth_param)) = enabled else {
        for p in written {
            ps.ignore(cx, p, "a credential while auth is not Y");
        }
        return Ok(None);
    };
    // key -> (user, password)
    let mut pairs: BTreeMap<&str, (Option<&super::Param>, Option<&super::Param>)> = BTreeMap::new();
    for p in &written {
        let rest = &p.name[PREFIX.len()..];
        if let Some(key) = rest.strip_suffix(".user") {
            pairs.entry(key).or_default().0 = Some(p);
        } else if let Some(key) = rest.strip_suffix(".password") {
            pairs.entry(key).or_default().1 = Some(p);
        }
    }
    let mut credentials = Vec::new();
    for (key, pair) in pairs {
        match pair {
            (Some(user), Some(password)) => credentials.push(Credential {
                key: key.to_owned(),
                user: user.value.clone(),
                password: password.value.clone(),
                line: user.line,
            }),
            (Some(user), None) => {
                return Err(ps.error(
                    cx,
                    user,
                    format!("a user without a password: add <param name=\"auth.credentials.{key}.password\">"),
                ))
            }
            (None, Some(password)) => {
                return Err(ps.error(
                    cx,
                    password,
                    format!("a password without a user: add <param name=\"auth.credentials.{key}.user\">"),
                ))
            }
            (None, None) => {}
        }
    }
    credentials.sort_by_key(|c| c.line);
    if credentials.is_empty() {
        return Err(ps.error(
            cx,
            auth_param,
            "auth is Y but no credentials are given: add auth.credentials.1.user and \
             auth.credentials.1.password params",
        ));
    }
    Ok(Some(credentials))
}

/// `tls` and the `tls.*` params.
fn tls(cx: &mut Cx<'_>, ps: &mut Params<'_>, base: &Path) -> Result<Option<Keystore>, ConfigError> {
    let enabled = ps.flag(cx, "tls")?;
    let kind = ps.take("tls.keystore.type");
    let file = ps.take("tls.keystore.keystore_file");
    let password = ps.take("tls.keystore.keystore_password");
    let password_type = ps.take("tls.keystore.keystore_password.type");
    let key_file = ps.take("tls.keystore.key_file");
    let client_auth = ps.flag(cx, "tls.force_client_auth")?;
    let others = ps.take_all(|n| n.starts_with("tls."));
    let Some((true, tls_param)) = enabled else {
        let keystore = [kind, file, password, password_type, key_file];
        for p in keystore
            .into_iter()
            .flatten()
            .chain(client_auth.map(|(_, p)| p))
        {
            ps.ignore(cx, p, "a TLS setting while tls is not Y");
        }
        for p in others {
            ps.ignore(cx, p, "a TLS setting while tls is not Y");
        }
        return Ok(None);
    };
    if let Some((true, p)) = client_auth {
        return Err(ps.error(
            cx,
            p,
            "client certificates are not checked by Shoal: remote adapters cannot be \
             required to present one; use auth=Y with credentials, or remove the param",
        ));
    }
    for p in others {
        let why = if p.name.starts_with("tls.truststore.") {
            "a truststore is only used for client certificates and remote_host, which Shoal does \
             not implement"
        } else if p.name == "tls.skip_hostname_check" {
            "only used with remote_host, which Shoal does not implement"
        } else {
            TLS_IGNORED
        };
        ps.ignore(cx, p, why);
    }
    let kind = match kind {
        None => KeystoreType::default(),
        Some(p) => parse_keystore_type(&p.value).map_err(|m| ps.error(cx, p, m))?,
    };
    let Some(file) = file else {
        return Err(ps.error(
            cx,
            tls_param,
            "tls is Y but tls.keystore.keystore_file is missing: the keystore with the \
             certificate remote adapters see",
        ));
    };
    let path = resolve(base, &file.value);
    cx.check_readable(&path, file.line, &ps.at(file))?;
    let password = match password {
        None => None,
        Some(p) => Some(keystore_password(cx, ps, p, password_type, base)?),
    };
    if password.is_none() && kind != KeystoreType::Pem {
        return Err(ps.error(
            cx,
            file,
            format!(
                "a {} keystore needs its password: add tls.keystore.keystore_password",
                kind.as_str()
            ),
        ));
    }
    let key_file = match key_file {
        None => None,
        Some(p) if kind != KeystoreType::Pem => {
            return Err(ps.error(
                cx,
                p,
                format!(
                    "only used with the PEM type; a {} keystore holds its key",
                    kind.as_str()
                ),
            ))
        }
        Some(p) => {
            let key = resolve(base, &p.value);
            cx.check_readable(&key, p.line, &ps.at(p))?;
            Some(key)
        }
    };
    Ok(Some(Keystore {
        kind,
        file: path,
        password,
        key_file,
        line: file.line,
    }))
}

/// The password, or with `.type` = `file` the first line of that file.
fn keystore_password(
    cx: &Cx<'_>,
    ps: &Params<'_>,
    p: &super::Param,
    kind: Option<&super::Param>,
    base: &Path,
) -> Result<String, ConfigError> {
    match kind.map(|k| (k, k.value.to_ascii_lowercase())) {
        None => Ok(p.value.clone()),
        Some((_, t)) if t == "text" => Ok(p.value.clone()),
        Some((_, t)) if t == "file" => {
            let path = resolve(base, &p.value);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                ps.error(
                    cx,
                    p,
                    format!("cannot read the password file {}: {e}", path.display()),
                )
            })?;
            Ok(text.lines().next().unwrap_or("").to_owned())
        }
        Some((k, _)) => Err(ps.error(
            cx,
            k,
            format!(
                "unknown password type \"{}\": expected text or file",
                k.value
            ),
        )),
    }
}

fn resolve(base: &Path, value: &str) -> std::path::PathBuf {
    let path = Path::new(value);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// `remote_params_prefix` and the params it selects; other names with a
/// `:` get a warning.
fn remote_params(
    cx: &mut Cx<'_>,
    ps: &mut Params<'_>,
) -> Result<(Option<String>, Vec<super::Param>), ConfigError> {
    let prefix = match ps.take("remote_params_prefix") {
        None => None,
        Some(p) if !p.value.contains(':') => {
            return Err(ps.error(
                cx,
                p,
                format!(
                    "\"{}\" has no ':': the prefix must contain one (e.g. \"remote:\"), as \
                     names without ':' are reserved for the proxy's own params",
                    p.value
                ),
            ))
        }
        Some(p) => Some(p.value.clone()),
    };
    let selected = match &prefix {
        Some(prefix) => ps.take_all(|n| n.starts_with(prefix.as_str())),
        None => Vec::new(),
    };
    for p in ps.take_all(|n| n.contains(':')) {
        let why = match &prefix {
            Some(prefix) => format!("not sent to the remote adapter: the name does not start with the remote_params_prefix \"{prefix}\""),
            None => "not sent to the remote adapter: no remote_params_prefix is set".to_owned(),
        };
        ps.ignore(cx, p, &why);
    }
    Ok((prefix, selected.into_iter().cloned().collect()))
}

/// A comma-separated list of IP addresses and host names.
fn whitelist(value: &str) -> Result<Vec<RemoteHost>, String> {
    let mut out = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let bare = entry
            .strip_prefix('[')
            .and_then(|v| v.strip_suffix(']'))
            .unwrap_or(entry);
        match bare.parse() {
            Ok(ip) => out.push(RemoteHost::Ip(ip)),
            Err(_) => {
                check_host_name(entry).map_err(|why| {
                    format!("expected IP addresses or host names separated by commas: {why}")
                })?;
                out.push(RemoteHost::Name(entry.to_ascii_lowercase()));
            }
        }
    }
    Ok(out)
}
