//! Syntax of `<control_link_address>` and `<listening_interface>`.

use crate::ControlLink;
use std::net::{IpAddr, Ipv6Addr};

/// `host`, `host:port`, an IPv6 address, or `[ipv6]:port`.
pub(crate) fn parse_control_link(value: &str) -> Result<ControlLink, String> {
    const EXPECTED: &str = "expected a host name or IP address with an optional :port \
                            (e.g. push1.mycompany.com or push1.mycompany.com:8443)";
    if value.contains("://") || value.contains('/') {
        return Err(format!("{EXPECTED}, not a URL or path: \"{value}\""));
    }
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return Err(format!("{EXPECTED}: \"{value}\" has no closing ']'"));
        };
        if inside.parse::<Ipv6Addr>().is_err() {
            return Err(format!(
                "{EXPECTED}: \"{inside}\" between brackets is not an IPv6 address"
            ));
        }
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(p) => Some(p),
                None => return Err(format!("{EXPECTED}: unexpected \"{after}\" after ']'")),
            },
        };
        (inside, port)
    } else if value.parse::<Ipv6Addr>().is_ok() {
        (value, None)
    } else {
        match value.split_once(':') {
            Some((host, port)) if !port.contains(':') => (host, Some(port)),
            Some(_) => {
                return Err(format!(
                    "{EXPECTED}: \"{value}\" is not an IPv6 address (write IPv6 with a port as [addr]:port)"
                ))
            }
            None => (value, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                return Err(format!(
                    "{EXPECTED}: \"{p}\" is not a port number (1 to 65535)"
                ))
            }
        },
    };
    if host.parse::<Ipv6Addr>().is_err() {
        check_host_name(host).map_err(|why| format!("{EXPECTED}: {why}"))?;
    }
    Ok(ControlLink {
        host: host.to_owned(),
        port,
    })
}

/// A host name (or IPv4 address): dot-separated labels of letters (any
/// script), digits, `-` and `_`; a final dot is allowed.
pub(crate) fn check_host_name(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("the host is empty".to_owned());
    }
    if let Some(c) = host
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!("unexpected character '{c}' in host \"{host}\""));
    }
    let labels = host.strip_suffix('.').unwrap_or(host);
    if labels.split('.').any(str::is_empty) {
        return Err(format!("empty label in host \"{host}\""));
    }
    Ok(())
}

/// An IPv4 or IPv6 address; IPv6 may be written in brackets.
pub(crate) fn parse_interface(value: &str) -> Result<IpAddr, String> {
    let bare = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value);
    bare.parse::<IpAddr>().map_err(|_| {
        format!("expected an IP address such as 200.0.0.1 or ::1 (not a host name): \"{value}\"")
    })
}

/// Whether two listeners on the same port would compete for it. `None`
/// (every address) and unspecified addresses overlap with everything,
/// except that `0.0.0.0` leaves specific IPv6 addresses alone.
pub(crate) fn interfaces_overlap(a: Option<IpAddr>, b: Option<IpAddr>) -> bool {
    match (a, b) {
        (None, _) | (_, None) => true,
        (Some(a), Some(b)) if a == b => true,
        (Some(IpAddr::V6(u)), Some(_)) | (Some(_), Some(IpAddr::V6(u))) if u.is_unspecified() => {
            true
        }
        (Some(IpAddr::V4(a)), Some(IpAddr::V4(b))) => a.is_unspecified() || b.is_unspecified(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(value: &str) -> (String, Option<u16>) {
        let link = parse_control_link(value).unwrap();
        (link.host, link.port)
    }

    #[test]
    fn control_links_that_parse() {
        assert_eq!(
            ok("push1.mycompany.com"),
            ("push1.mycompany.com".into(), None)
        );
        assert_eq!(
            ok("push1.mycompany.com:8443"),
            ("push1.mycompany.com".into(), Some(8443))
        );
        assert_eq!(ok("[::1]:8080"), ("::1".into(), Some(8080)));
        assert_eq!(ok("[::1]"), ("::1".into(), None));
        assert_eq!(ok("2001:db8::1"), ("2001:db8::1".into(), None));
        assert_eq!(ok("10.0.0.1:80"), ("10.0.0.1".into(), Some(80)));
        assert_eq!(ok("localhost"), ("localhost".into(), None));
        assert_eq!(ok("push.example.com."), ("push.example.com.".into(), None));
        assert_eq!(ok("pùsh.exämple.com"), ("pùsh.exämple.com".into(), None));
    }

    #[test]
    fn control_links_that_do_not() {
        for bad in [
            "http://push1.mycompany.com",
            "push1.mycompany.com/path",
            "push1.mycompany.com:",
            "push1.mycompany.com:0",
            "push1.mycompany.com:65536",
            "push1.mycompany.com:http",
            "[::1",
            "[::1]8080",
            "[push]:80",
            "a:b:c",
            ":80",
            "push..com",
            ".push.com",
            "push 1.com",
            "push@host",
        ] {
            let err = parse_control_link(bad).unwrap_err();
            assert!(err.starts_with("expected a host name"), "{bad}: {err}");
        }
    }

    #[test]
    fn control_links_display_with_brackets_for_ipv6() {
        let show = |v: &str| parse_control_link(v).unwrap().to_string();
        assert_eq!(show("push1.mycompany.com"), "push1.mycompany.com");
        assert_eq!(show("push1.mycompany.com:8443"), "push1.mycompany.com:8443");
        assert_eq!(show("[::1]:8080"), "[::1]:8080");
        assert_eq!(show("::1"), "[::1]");
    }

    #[test]
    fn interfaces() {
        assert_eq!(parse_interface("10.0.0.1"), Ok("10.0.0.1".parse().unwrap()));
        assert_eq!(parse_interface("::1"), Ok("::1".parse().unwrap()));
        assert_eq!(parse_interface("[::1]"), Ok("::1".parse().unwrap()));
        assert!(parse_interface("localhost").is_err());
        assert!(parse_interface("10.0.0.1:80").is_err());
    }

    #[test]
    fn overlap() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert!(interfaces_overlap(None, ip("10.0.0.1")));
        assert!(interfaces_overlap(ip("10.0.0.1"), None));
        assert!(interfaces_overlap(None, None));
        assert!(interfaces_overlap(ip("10.0.0.1"), ip("10.0.0.1")));
        assert!(!interfaces_overlap(ip("10.0.0.1"), ip("10.0.0.2")));
        assert!(interfaces_overlap(ip("0.0.0.0"), ip("10.0.0.2")));
        assert!(!interfaces_overlap(ip("0.0.0.0"), ip("::1")));
        assert!(interfaces_overlap(ip("::"), ip("10.0.0.2")));
        assert!(interfaces_overlap(ip("::1"), ip("::")));
        assert!(!interfaces_overlap(ip("::1"), ip("::2")));
    }
}
