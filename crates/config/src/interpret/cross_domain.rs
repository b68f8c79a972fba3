//! `<cross_domain_policy>`: its attributes and `<allow_access_from>` rules.

use super::Cx;
use crate::xml::Element;
use crate::{AllowAccessFrom, AllowedHost, ConfigError, CrossDomainPolicy};
use std::net::IpAddr;

/// Lightstreamer's default `options_max_age`, in seconds.
const DEFAULT_MAX_AGE: u64 = 3600;

impl Cx<'_> {
    pub(super) fn cross_domain_policy(
        &mut self,
        el: &Element,
        parent: &str,
    ) -> Result<CrossDomainPolicy, ConfigError> {
        let path = format!("{parent}/{}", el.name);
        self.attributes(
            el,
            &path,
            &[
                "accept_credentials",
                "accept_extra_headers",
                "options_max_age",
            ],
        );
        let accept_credentials = match attr(el, "accept_credentials") {
            None => true,
            Some((_, "Y")) => true,
            Some((_, "N")) => false,
            Some((name, v)) => {
                return Err(self.error(
                    el.line,
                    &format!("{path}/@{name}"),
                    format!("expected Y or N, found \"{v}\""),
                ))
            }
        };
        let mut accept_extra_headers = Vec::new();
        if let Some((name, v)) = attr(el, "accept_extra_headers") {
            for header in v.split(',').map(str::trim).filter(|h| !h.is_empty()) {
                if !header.bytes().all(is_token_byte) {
                    return Err(self.error(
                        el.line,
                        &format!("{path}/@{name}"),
                        format!(
                            "\"{header}\" is not a header name: expected names separated by \
                             commas, e.g. \"X-Custom, X-Other\""
                        ),
                    ));
                }
                accept_extra_headers.push(header.to_ascii_lowercase());
            }
        }
        let options_max_age = match attr(el, "options_max_age") {
            None => DEFAULT_MAX_AGE,
            Some((name, v)) => v.parse::<u64>().map_err(|_| {
                self.error(
                    el.line,
                    &format!("{path}/@{name}"),
                    format!("expected a whole number of seconds (0 or more), found \"{v}\""),
                )
            })?,
        };
        let p = self.pick(el, &path, [], &["allow_access_from"])?;
        let mut allow = Vec::new();
        for rule in &p.many {
            allow.push(self.allow_access_from(rule, &path)?);
        }
        Ok(CrossDomainPolicy {
            accept_credentials,
            accept_extra_headers,
            options_max_age,
            allow,
        })
    }

    fn allow_access_from(
        &mut self,
        el: &Element,
        parent: &str,
    ) -> Result<AllowAccessFrom, ConfigError> {
        let path = format!("{parent}/{}", el.name);
        self.attributes(el, &path, &["scheme", "host", "port"]);
        if let Some(child) = el.children.first() {
            return Err(self.error(
                child.line,
                &path,
                format!("expected no content, found the element <{}>", child.name),
            ));
        }
        let required = |cx: &Self, key: &str, example: &str| {
            attr(el, key).ok_or_else(|| {
                cx.error(
                    el.line,
                    &path,
                    format!("the {key} attribute is required ({example}, or *)"),
                )
            })
        };
        let (scheme_attr, scheme) = required(self, "scheme", "e.g. https")?;
        let (host_attr, host) = required(self, "host", "e.g. www.my-domain.com")?;
        let (port_attr, port) = required(self, "port", "e.g. 443")?;
        let at = |name: &str| format!("{path}/@{name}");

        let scheme = match scheme {
            "*" => None,
            s if valid_scheme(s) => Some(s.to_ascii_lowercase()),
            s => {
                return Err(self.error(
                    el.line,
                    &at(scheme_attr),
                    format!("\"{s}\" is not a URL scheme: expected e.g. http, https, or *"),
                ))
            }
        };
        let host = parse_host(host).map_err(|m| self.error(el.line, &at(host_attr), m))?;
        let port = match port {
            "*" => None,
            p => Some(p.parse::<u16>().ok().filter(|&n| n > 0).ok_or_else(|| {
                self.error(
                    el.line,
                    &at(port_attr),
                    format!("expected a port number (1 to 65535) or *, found \"{p}\""),
                )
            })?),
        };
        Ok(AllowAccessFrom {
            scheme,
            host,
            port,
            line: el.line,
        })
    }
}

/// An attribute's name as written and its trimmed value; a blank value is
/// as if it were not written.
fn attr<'a>(el: &'a Element, key: &str) -> Option<(&'a str, &'a str)> {
    el.attrs
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(key))
        .map(|a| (a.name.as_str(), a.value.trim()))
        .filter(|(_, v)| !v.is_empty())
}

/// RFC 3986: a letter, then letters, digits, `+`, `-` or `.`.
fn valid_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// The characters of an HTTP header name (an RFC 9110 token).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn parse_host(host: &str) -> Result<AllowedHost, String> {
    if host == "*" {
        return Ok(AllowedHost::Any);
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(AllowedHost::Ip(ip));
    }
    if let Some(domain) = host.strip_prefix("*.") {
        if !valid_name(domain) {
            return Err(format!(
                "\"{host}\" is not a valid wildcard: expected *. followed by a domain name, \
                 e.g. *.my-domain.com"
            ));
        }
        // "*.com" would let in every site of a top-level domain.
        if !domain.contains('.') {
            return Err(format!(
                "\"{host}\" is too broad: a wildcard must keep at least the second-level \
                 domain explicit, e.g. *.my-domain.com"
            ));
        }
        return Ok(AllowedHost::Subdomains(domain.to_ascii_lowercase()));
    }
    if host.contains('*') {
        return Err(format!(
            "\"{host}\": * is only allowed alone or as the first label, e.g. *.my-domain.com"
        ));
    }
    if !valid_name(host) {
        return Err(format!("\"{host}\" is not a host name or IP address"));
    }
    Ok(AllowedHost::Name(host.to_ascii_lowercase()))
}

/// Dot-separated labels of letters, digits, `-` and `_`.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}
