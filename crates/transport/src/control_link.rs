//! Which control link a session's `CONOK` carries.
//!
//! The rule, with `<control_link_address>` A (host, optional port) and
//! `<control_link_machine_name>` M:
//!
//! 1. Neither set: no control link (`*`), the client keeps its address.
//! 2. Only A: every client gets A.
//! 3. M set: take the host the client used (the `Host` header, without its
//!    port) and drop its first label to get the client's domain
//!    (`push.ourcompany.com` -> `ourcompany.com`). If the host is an IP
//!    address or has no domain, the client gets A (or `*` without A). If A
//!    is set and its own domain (A without a leading `M.`, else without its
//!    first label) is the client's domain, the client gets A. Otherwise the
//!    client gets `M.<client's domain>`, with A's port if A has one.
//!
//! So with M = `push1` and A = `push1.mycompany.com`, a client that came
//! through `push.mycompany.com` is sent to `push1.mycompany.com`, and one that
//! came through `push.ourcompany.com` to `push1.ourcompany.com`.

use std::net::IpAddr;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ControlLinkRule {
    /// `<control_link_address>`: host and optional port.
    pub address: Option<(String, Option<u16>)>,
    /// `<control_link_machine_name>`.
    pub machine_name: Option<String>,
}

impl ControlLinkRule {
    /// The control link for a request that came with `host` (its `Host`
    /// header), or `None` for `*`.
    pub fn resolve(&self, host: Option<&str>) -> Option<String> {
        let fixed = self.address.as_ref().map(|(h, p)| join(h, *p));
        let Some(machine) = &self.machine_name else {
            return fixed;
        };
        let Some(domain) = host.and_then(client_domain) else {
            return fixed;
        };
        if let Some((addr_host, _)) = &self.address {
            let own = addr_host
                .strip_prefix(&format!("{machine}."))
                .or_else(|| addr_host.split_once('.').map(|(_, d)| d));
            if own.is_some_and(|d| d.eq_ignore_ascii_case(&domain)) {
                return fixed;
            }
        }
        let port = self.address.as_ref().and_then(|(_, p)| *p);
        Some(join(&format!("{machine}.{domain}"), port))
    }
}

fn join(host: &str, port: Option<u16>) -> String {
    let host = if host.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    match port {
        Some(p) => format!("{host}:{p}"),
        None => host,
    }
}

/// The domain of a `Host` header value: without port and first label; `None`
/// for IP addresses and single-label names.
fn client_domain(host: &str) -> Option<String> {
    let name = if host.starts_with('[') {
        return None; // an IPv6 literal
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    if name.parse::<IpAddr>().is_ok() {
        return None;
    }
    let (_, domain) = name.split_once('.')?;
    (!domain.is_empty()).then(|| domain.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(addr: Option<&str>, port: Option<u16>, machine: Option<&str>) -> ControlLinkRule {
        ControlLinkRule {
            address: addr.map(|a| (a.to_owned(), port)),
            machine_name: machine.map(str::to_owned),
        }
    }

    #[test]
    fn no_settings_no_link() {
        assert_eq!(
            rule(None, None, None).resolve(Some("push.mycompany.com")),
            None
        );
    }

    #[test]
    fn address_alone_is_for_everybody() {
        let r = rule(Some("push1.mycompany.com"), Some(8443), None);
        assert_eq!(
            r.resolve(Some("push.ourcompany.com")).as_deref(),
            Some("push1.mycompany.com:8443")
        );
        assert_eq!(r.resolve(None).as_deref(), Some("push1.mycompany.com:8443"));
    }

    #[test]
    fn multihosting_follows_the_clients_domain() {
        let r = rule(Some("push1.mycompany.com"), None, Some("push1"));
        assert_eq!(
            r.resolve(Some("push.mycompany.com")).as_deref(),
            Some("push1.mycompany.com")
        );
        assert_eq!(
            r.resolve(Some("push.ourcompany.com:80")).as_deref(),
            Some("push1.ourcompany.com")
        );
        assert_eq!(
            r.resolve(Some("PUSH.OurCompany.com")).as_deref(),
            Some("push1.ourcompany.com")
        );
        // Clients that came by address, or with no Host, get the address.
        assert_eq!(
            r.resolve(Some("200.0.0.10")).as_deref(),
            Some("push1.mycompany.com")
        );
        assert_eq!(
            r.resolve(Some("[::1]:8080")).as_deref(),
            Some("push1.mycompany.com")
        );
        assert_eq!(
            r.resolve(Some("localhost")).as_deref(),
            Some("push1.mycompany.com")
        );
        assert_eq!(r.resolve(None).as_deref(), Some("push1.mycompany.com"));
    }

    #[test]
    fn machine_name_keeps_the_address_port() {
        let r = rule(Some("push1.mycompany.com"), Some(444), Some("push1"));
        assert_eq!(
            r.resolve(Some("push.ourcompany.com")).as_deref(),
            Some("push1.ourcompany.com:444")
        );
    }

    #[test]
    fn machine_name_alone() {
        let r = rule(None, None, Some("push2"));
        assert_eq!(
            r.resolve(Some("push.ourcompany.com")).as_deref(),
            Some("push2.ourcompany.com")
        );
        assert_eq!(r.resolve(Some("127.0.0.1:8080")), None);
    }

    #[test]
    fn ipv6_addresses_are_bracketed() {
        let r = rule(Some("::1"), Some(8080), None);
        assert_eq!(r.resolve(None).as_deref(), Some("[::1]:8080"));
    }
}
