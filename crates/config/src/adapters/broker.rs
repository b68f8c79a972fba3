//! The params of Shoal's broker data adapters, `shoal.redis` and
//! `shoal.nats`: where the broker is, how items map to its streams or
//! subjects, and who may publish through Shoal.

use super::params::Params;
use super::proxy::COMMON;
use super::{
    BrokerFeed, BrokerKind, DiffAlgorithmName, MemoryFeed, NatsFeed, Param, PublishAuth,
    MEMORY_CLASS,
};
use crate::address::check_host_name;
use crate::cx::Cx;
use crate::ConfigError;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

const DEFAULT_SNAPSHOT_LENGTH: usize = 10;
const MAX_SNAPSHOT_LENGTH: u64 = 10_000;
const DEFAULT_COMMAND_HISTORY_LIMIT: usize = 100_000;
const DEFAULT_MAX_LENGTH: u64 = 10_000;
const DEFAULT_LINGER_MILLIS: u64 = 5_000;
const DEFAULT_SUBJECT_PREFIX: &str = "shoal";
const DEFAULT_STREAM: &str = "SHOAL";

/// Params both broker adapters have.
const BOTH: &[&str] = &[
    "url",
    "username",
    "password",
    "tls_ca_file",
    "snapshot_length",
    "command_history_limit",
    "max_length",
    "linger_millis",
    "publish_token",
    "publish_user",
    "publish_password",
    "healthcheck_requires_broker",
    "session_handoff",
];
const REDIS_ONLY: &[&str] = &["stream_prefix"];
const NATS_ONLY: &[&str] = &[
    "subject_prefix",
    "stream",
    "create_stream",
    "token",
    "credentials_file",
];
/// Params of the proxy adapters only, besides [`COMMON`].
const PROXY_ONLY: &[&str] = &[
    "notify_port",
    "events_recovery",
    "status_item",
    "remote_host",
    "connection_retry_millis",
];

/// The broker adapter an `adapter_class` names, ignoring ASCII case.
pub(super) fn broker_class(value: &str) -> Option<BrokerKind> {
    [BrokerKind::Redis, BrokerKind::Nats]
        .into_iter()
        .find(|k| value.eq_ignore_ascii_case(k.as_str()))
}

/// Reads the params of a `shoal.redis` or `shoal.nats` data provider (at
/// `line`); relative paths resolve against `base`.
pub(super) fn broker_feed(
    cx: &mut Cx<'_>,
    ps: &mut Params<'_>,
    kind: BrokerKind,
    line: u32,
    base: &Path,
) -> Result<BrokerFeed, ConfigError> {
    let Some(url_param) = ps.take("url") else {
        let example = match kind {
            BrokerKind::Redis => "the Redis server, e.g. redis://127.0.0.1:6379/0",
            BrokerKind::Nats => "the NATS server(s), e.g. nats://127.0.0.1:4222",
        };
        return Err(cx.error(
            line,
            ps.provider(),
            format!("missing <param name=\"url\">: {example}"),
        ));
    };
    let tls_url = check_url(kind, &url_param.value).map_err(|m| ps.error(cx, url_param, m))?;
    let username = ps.take("username");
    let password = ps.take("password");
    let mut tls_ca_file = existing_file(cx, ps, "tls_ca_file", base)?;
    if let (Some((_, p)), false) = (&tls_ca_file, tls_url) {
        match kind {
            BrokerKind::Redis => {
                ps.ignore(
                    cx,
                    p,
                    "only used with a rediss:// URL (a redis:// URL connects without TLS)",
                );
                tls_ca_file = None;
            }
            BrokerKind::Nats => cx.warn(
                p.line,
                ps.at(p),
                "no URL is tls://: the CA certificates are only used if the server asks for TLS",
            ),
        }
    }
    let snapshot_length = number(cx, ps, "snapshot_length", 1, MAX_SNAPSHOT_LENGTH)?
        .map_or(DEFAULT_SNAPSHOT_LENGTH, saturate);
    let command_history_limit = number(cx, ps, "command_history_limit", 1, u64::MAX)?
        .map_or(DEFAULT_COMMAND_HISTORY_LIMIT, saturate);
    let max_length = number(cx, ps, "max_length", 0, u64::MAX)?.unwrap_or(DEFAULT_MAX_LENGTH);
    let linger_millis =
        number(cx, ps, "linger_millis", 0, u64::MAX)?.unwrap_or(DEFAULT_LINGER_MILLIS);
    let publish = publish(cx, ps)?;
    let healthcheck_requires_broker = ps
        .flag(cx, "healthcheck_requires_broker")?
        .is_some_and(|(y, _)| y);
    // On unless turned off: sessions survive the death of their node.
    let session_handoff = ps.flag(cx, "session_handoff")?.is_none_or(|(y, _)| y);
    let (prefix, nats) = match kind {
        BrokerKind::Redis => {
            let prefix = ps.take("stream_prefix").map(|p| p.value.clone());
            (prefix.unwrap_or_default(), None)
        }
        BrokerKind::Nats => {
            let (prefix, nats) = nats_feed(cx, ps, username, password, base)?;
            (prefix, Some(nats))
        }
    };
    other_params(cx, ps, kind);
    let own = match kind {
        BrokerKind::Redis => REDIS_ONLY,
        BrokerKind::Nats => NATS_ONLY,
    };
    let known: Vec<&str> = BOTH.iter().chain(own).copied().collect();
    ps.warn_unused(cx, kind.as_str(), &known);
    Ok(BrokerFeed {
        kind,
        url: url_param.value.clone(),
        username: username.map(|p| p.value.clone()),
        password: password.map(|p| p.value.clone()),
        tls_ca_file: tls_ca_file.map(|(path, _)| path),
        prefix,
        nats,
        snapshot_length,
        command_history_limit,
        max_length,
        linger_millis,
        publish,
        healthcheck_requires_broker,
        session_handoff,
    })
}

/// A count as a `usize`; beyond its range (narrow targets), the largest.
fn saturate(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// A whole number from `min` to `max`.
fn number(
    cx: &Cx<'_>,
    ps: &mut Params<'_>,
    name: &str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, ConfigError> {
    let Some(p) = ps.take(name) else {
        return Ok(None);
    };
    match p.value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => {
            let range = match (min, max) {
                (0, u64::MAX) => "0 or more".to_owned(),
                (min, u64::MAX) => format!("{min} or more"),
                (min, max) => format!("from {min} to {max}"),
            };
            Err(ps.error(
                cx,
                p,
                format!("expected a whole number, {range}, found \"{}\"", p.value),
            ))
        }
    }
}

/// A file param resolved against `base`, which must be readable; with
/// the param.
fn existing_file<'p>(
    cx: &Cx<'_>,
    ps: &mut Params<'p>,
    name: &str,
    base: &Path,
) -> Result<Option<(PathBuf, &'p Param)>, ConfigError> {
    let Some(p) = ps.take(name) else {
        return Ok(None);
    };
    let path = Path::new(&p.value);
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    };
    cx.check_readable(&path, p.line, &ps.at(p))?;
    Ok(Some((path, p)))
}

/// `publish_token`, `publish_user` and `publish_password`.
fn publish(cx: &Cx<'_>, ps: &mut Params<'_>) -> Result<Option<PublishAuth>, ConfigError> {
    let token = ps.take("publish_token").map(|p| p.value.clone());
    let user = ps.take("publish_user");
    let password = ps.take("publish_password");
    let basic =
        match (user, password) {
            (None, None) => None,
            (Some(u), None) => return Err(ps.error(
                cx,
                u,
                "publish_user without publish_password: add <param name=\"publish_password\">, \
                 or remove publish_user",
            )),
            (None, Some(p)) => {
                return Err(ps.error(
                    cx,
                    p,
                    "publish_password without publish_user: add <param name=\"publish_user\">, \
                 or remove publish_password",
                ))
            }
            (Some(u), Some(_)) if u.value.contains(':') => {
                return Err(ps.error(
                    cx,
                    u,
                    "a user name for HTTP Basic authentication cannot contain ':'",
                ))
            }
            (Some(u), Some(p)) => Some((u.value.clone(), p.value.clone())),
        };
    if token.is_none() && basic.is_none() {
        return Ok(None);
    }
    Ok(Some(PublishAuth { token, basic }))
}

/// Default of `max_items` for `shoal.memory`.
const DEFAULT_MAX_ITEMS: usize = 10_000;

/// Reads the params of a `shoal.memory` data provider (at `line`).
pub(super) fn memory_feed(
    cx: &mut Cx<'_>,
    ps: &mut Params<'_>,
    line: u32,
) -> Result<MemoryFeed, ConfigError> {
    let snapshot_length = number(cx, ps, "snapshot_length", 1, MAX_SNAPSHOT_LENGTH)?
        .map_or(DEFAULT_SNAPSHOT_LENGTH, saturate);
    let max_items = number(cx, ps, "max_items", 1, u64::MAX)?.map_or(DEFAULT_MAX_ITEMS, saturate);
    let Some(publish) = publish(cx, ps)? else {
        return Err(cx.error(
            line,
            ps.provider(),
            "shoal.memory takes its events from POST /publish only: add              <param name=\"publish_token\"> (or publish_user and publish_password)",
        ));
    };
    let diff_fields = diff_fields(cx, ps)?;
    ps.warn_unused(
        cx,
        MEMORY_CLASS,
        &[
            "snapshot_length",
            "max_items",
            "publish_token",
            "publish_user",
            "publish_password",
            "diff_fields",
        ],
    );
    Ok(MemoryFeed {
        snapshot_length,
        max_items,
        publish,
        diff_fields,
    })
}

/// `diff_fields`: space-separated `field=ALGORITHM[,ALGORITHM]` entries,
/// e.g. `book=JSONPATCH headline=DIFF_MATCH_PATCH`.
fn diff_fields(
    cx: &Cx<'_>,
    ps: &mut Params<'_>,
) -> Result<Vec<(String, Vec<DiffAlgorithmName>)>, ConfigError> {
    let Some(p) = ps.take("diff_fields") else {
        return Ok(Vec::new());
    };
    let mut out: Vec<(String, Vec<DiffAlgorithmName>)> = Vec::new();
    for entry in p.value.split_whitespace() {
        let bad = |why: String| ps.error(cx, p, why);
        let Some((field, names)) = entry.split_once('=').filter(|(f, _)| !f.is_empty()) else {
            return Err(bad(format!(
                "\"{entry}\" is not field=ALGORITHM (JSONPATCH or DIFF_MATCH_PATCH, several separated by commas)"
            )));
        };
        if out.iter().any(|(f, _)| f == field) {
            return Err(bad(format!("field \"{field}\" is named twice")));
        }
        let algorithms = names
            .split(',')
            .map(|n| match n.to_ascii_uppercase().as_str() {
                "JSONPATCH" => Ok(DiffAlgorithmName::JsonPatch),
                "DIFF_MATCH_PATCH" => Ok(DiffAlgorithmName::DiffMatchPatch),
                _ => Err(bad(format!(
                    "\"{n}\" is no diff algorithm: JSONPATCH or DIFF_MATCH_PATCH"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.push((field.to_owned(), algorithms));
    }
    Ok(out)
}

/// The NATS-only params, with the checks on `username` and `password`;
/// returns the subject prefix.
fn nats_feed(
    cx: &Cx<'_>,
    ps: &mut Params<'_>,
    username: Option<&Param>,
    password: Option<&Param>,
    base: &Path,
) -> Result<(String, NatsFeed), ConfigError> {
    let prefix = match ps.take("subject_prefix") {
        None => DEFAULT_SUBJECT_PREFIX.to_owned(),
        Some(p) => {
            check_subject(&p.value).map_err(|m| ps.error(cx, p, m))?;
            p.value.clone()
        }
    };
    let stream = match ps.take("stream") {
        None => DEFAULT_STREAM.to_owned(),
        Some(p) => {
            check_stream(&p.value).map_err(|m| ps.error(cx, p, m))?;
            p.value.clone()
        }
    };
    let create_stream = ps.flag(cx, "create_stream")?.is_none_or(|(y, _)| y);
    let token = ps.take("token");
    let credentials_file = existing_file(cx, ps, "credentials_file", base)?;
    if let Some(t) = token {
        if let Some(other) = username.or(password) {
            return Err(ps.error(
                cx,
                t,
                format!(
                    "a token and a {} are two ways of logging in to NATS: keep one",
                    other.name
                ),
            ));
        }
    }
    if let Some((_, c)) = &credentials_file {
        if let Some(other) = token.or(username).or(password) {
            return Err(ps.error(
                cx,
                c,
                format!(
                    "a credentials file and a {} are two ways of logging in to NATS: keep one",
                    other.name
                ),
            ));
        }
    }
    match (username, password) {
        (None, Some(p)) => {
            return Err(ps.error(
                cx,
                p,
                "NATS needs a user with a password: add <param name=\"username\">",
            ))
        }
        (Some(u), None) => {
            return Err(ps.error(
                cx,
                u,
                "NATS needs a password with a user: add <param name=\"password\">",
            ))
        }
        _ => {}
    }
    Ok((
        prefix,
        NatsFeed {
            stream,
            create_stream,
            token: token.map(|p| p.value.clone()),
            credentials_file: credentials_file.map(|(path, _)| path),
        },
    ))
}

/// Warnings for the params of the other broker adapter and of the proxy
/// adapters, saying whose they are.
fn other_params(cx: &mut Cx<'_>, ps: &mut Params<'_>, kind: BrokerKind) {
    let (others, other_kind) = match kind {
        BrokerKind::Redis => (NATS_ONLY, BrokerKind::Nats),
        BrokerKind::Nats => (REDIS_ONLY, BrokerKind::Redis),
    };
    for p in ps.take_all(|n| others.contains(&n)) {
        let hint = match (kind, p.name.as_str()) {
            (BrokerKind::Nats, "stream_prefix") => "; did you mean \"subject_prefix\"?",
            (BrokerKind::Redis, "subject_prefix") => "; did you mean \"stream_prefix\"?",
            _ => "",
        };
        cx.warn(
            p.line,
            ps.at(p),
            format!("not a parameter of {kind}; ignored (it is one of {other_kind}{hint})",),
        );
    }
    let proxy = |n: &str| {
        COMMON.contains(&n)
            || PROXY_ONLY.contains(&n)
            || n.starts_with("tls.")
            || n.starts_with("auth.credentials.")
    };
    for p in ps.take_all(proxy) {
        cx.warn(
            p.line,
            ps.at(p),
            format!(
                "not a parameter of {kind}; ignored (it is one of the proxy adapters, \
                 PROXY_FOR_REMOTE_ADAPTER and ROBUST_PROXY_FOR_REMOTE_ADAPTER)"
            ),
        );
    }
}

/// Checks `url`; tells whether it asks for TLS (Redis: `rediss://`; NATS:
/// at least one `tls://`).
fn check_url(kind: BrokerKind, url: &str) -> Result<bool, String> {
    match kind {
        BrokerKind::Redis => {
            let u = split_url(url, "redis://host[:port][/db] or rediss://host[:port][/db]")?;
            let tls = match u.scheme.to_ascii_lowercase().as_str() {
                "redis" => false,
                "rediss" => true,
                _ => {
                    return Err(format!(
                        "the scheme \"{}\" is not Redis: expected \
                         redis://[user[:password]@]host[:port][/db] or rediss://… (TLS)",
                        u.scheme
                    ))
                }
            };
            let db = u.path.strip_prefix('/').unwrap_or(u.path);
            if !db.is_empty() && db.parse::<u32>().is_err() {
                return Err(format!(
                    "\"/{db}\" is not a database: after the host, expected /<number>, e.g. /0"
                ));
            }
            Ok(tls)
        }
        BrokerKind::Nats => {
            let mut tls = false;
            let mut any = false;
            for entry in url.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                any = true;
                let u = split_url(entry, "nats://host[:port] or tls://host[:port]")?;
                match u.scheme.to_ascii_lowercase().as_str() {
                    "nats" => {}
                    "tls" => tls = true,
                    _ => {
                        return Err(format!(
                            "the scheme \"{}\" is not NATS: expected nats://host[:port] or \
                             tls://host[:port] (TLS), several separated by commas",
                            u.scheme
                        ))
                    }
                }
                if !matches!(u.path, "" | "/") || u.query {
                    return Err(format!(
                        "a NATS URL is only a server address: nothing may follow the port of \
                         {}://{}",
                        u.scheme, u.host
                    ));
                }
            }
            if !any {
                return Err(
                    "no server: expected nats://host[:port] or tls://host[:port], several \
                     separated by commas"
                        .to_owned(),
                );
            }
            Ok(tls)
        }
    }
}

/// The parts of a URL this module checks.
struct Url<'u> {
    scheme: &'u str,
    host: &'u str,
    /// What follows the authority, up to `?` or `#`.
    path: &'u str,
    /// Whether a `?` or `#` part follows.
    query: bool,
}

/// Splits `scheme://[userinfo@]host[:port][path][?query]`, checking the
/// host and the port. Messages never quote the user information.
fn split_url<'u>(url: &'u str, expected: &str) -> Result<Url<'u>, String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!("not a URL: expected {expected}"));
    };
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return Err(format!("not a URL: expected {expected}"));
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let Some((ip, after)) = bracketed.split_once(']') else {
            return Err("an IPv6 address without its closing ']'".to_owned());
        };
        if ip.parse::<Ipv6Addr>().is_err() {
            return Err(format!("\"[{ip}]\" is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            a => match a.strip_prefix(':') {
                Some(port) => Some(port),
                None => return Err(format!("unexpected \"{a}\" after the IPv6 address")),
            },
        };
        (&host_port[..ip.len() + 2], port)
    } else if host_port.matches(':').count() > 1 {
        return Err("an IPv6 address goes in brackets, e.g. [::1]:6379".to_owned());
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err(format!("no host: expected {expected}"));
    }
    if !host.starts_with('[') {
        check_host_name(host)
            .map_err(|why| format!("{why} (an IPv6 address goes in brackets, e.g. [::1])"))?;
    }
    if let Some(port) = port {
        if !matches!(port.parse::<u16>(), Ok(n) if n > 0) {
            // Not quoted: with a mistyped URL it could be part of a password.
            return Err(format!(
                "the port of {host} is not a TCP port: expected a number from 1 to 65535 \
                 (in a user name or password, write '/', '?', '#' and '@' as %2F, %3F, %23 \
                 and %40)"
            ));
        }
    }
    let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
    Ok(Url {
        scheme,
        host,
        path: &tail[..path_end],
        query: path_end < tail.len(),
    })
}

/// A NATS subject prefix: dot-separated non-empty tokens without
/// whitespace or wildcards.
fn check_subject(prefix: &str) -> Result<(), String> {
    if let Some(c) = prefix
        .chars()
        .find(|c| c.is_whitespace() || matches!(c, '*' | '>'))
    {
        return Err(format!(
            "\"{prefix}\" is not a NATS subject prefix: {} is not allowed (no whitespace, no \
             wildcards * or >)",
            describe(c)
        ));
    }
    if prefix.split('.').any(str::is_empty) {
        return Err(format!(
            "\"{prefix}\" is not a NATS subject prefix: it has an empty token (it may not \
             start or end with '.', nor have '..'); the item name is added after a '.'"
        ));
    }
    Ok(())
}

/// A JetStream stream name.
fn check_stream(name: &str) -> Result<(), String> {
    match name
        .chars()
        .find(|c| c.is_whitespace() || matches!(c, '.' | '*' | '>' | '/' | '\\'))
    {
        Some(c) => Err(format!(
            "\"{name}\" is not a JetStream stream name: {} is not allowed (no whitespace, \
             '.', '*', '>', '/' or '\\')",
            describe(c)
        )),
        None => Ok(()),
    }
}

fn describe(c: char) -> String {
    if c.is_whitespace() {
        "whitespace".to_owned()
    } else {
        format!("'{c}'")
    }
}

/// `url` with the passwords written in it replaced by `***`; for NATS, a
/// user information without `:` is a token and is replaced whole.
pub(super) fn redact_url(kind: BrokerKind, url: &str) -> String {
    let redact_one = |entry: &str| -> String {
        let Some((scheme, rest)) = entry.split_once("://") else {
            return entry.to_owned();
        };
        // The last '@' of the whole entry: a password holding an unescaped
        // '/' or '?' is still hidden.
        let Some((userinfo, after)) = rest.rsplit_once('@') else {
            return entry.to_owned();
        };
        let shown = match (userinfo.split_once(':'), kind) {
            (Some((user, _)), _) => format!("{user}:***"),
            (None, BrokerKind::Nats) => "***".to_owned(),
            (None, BrokerKind::Redis) => userinfo.to_owned(),
        };
        format!("{scheme}://{shown}@{after}")
    };
    match kind {
        BrokerKind::Redis => redact_one(url),
        BrokerKind::Nats => url.split(',').map(redact_one).collect::<Vec<_>>().join(","),
    }
}
