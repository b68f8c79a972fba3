//! Which web pages may use a kit's nodes: each node's
//! `<cross_domain_policy>`.
//!
//! A page served by the balancer itself (`push.<domain>`) is of the
//! nodes' own origin through it; a page of the company's web site
//! (`https://www.<domain>`) is another origin, and so is, in the control
//! link options, every request to a node's own name. Browsers let a page
//! read such answers only if the node allows the page's origin, with
//! credentials (the web client sends cookies, the balancer's sticky one
//! among them). A kit allows:
//!
//! - its public URLs (`push.<domain>`, one per domain);
//! - any host of its domains (`*.<domain>` and `<domain>`), any scheme and
//!   port: the company's own pages;
//! - each `--page-origin` (pages of other sites, such as a partner's).

use crate::plan::PlanError;
use std::fmt::Write;

/// What the balancer adds to its sticky cookie (`LSNODE=nodeK; path=/;
/// HttpOnly`) in answers to browsers, for the pages of other origins to
/// send it back; other clients get it plain (see `haproxy::cookie_line`):
///
/// - over HTTPS, `Secure; SameSite=None`, so that pages of any site send it
///   (with `setCookieHandlingRequired(true)`), and `Partitioned`, which
///   keeps it working where third-party cookies are blocked (each top-level
///   site gets a cookie of its own, which is all stickiness needs);
/// - over plain HTTP, `SameSite=Lax` (browsers refuse `SameSite=None`
///   without `Secure`): what they do anyway, send it from pages of the same
///   site (any host of the kit's domain) only.
pub(crate) fn browser_cookie_attributes(https: bool) -> &'static str {
    if https {
        "; Secure; SameSite=None; Partitioned"
    } else {
        "; SameSite=Lax"
    }
}

/// One origin given with `--page-origin`: `scheme://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageOrigin {
    pub scheme: &'static str,
    /// Lower case.
    pub host: String,
    /// `None`: the scheme's default port.
    pub port: Option<u16>,
}

impl PageOrigin {
    /// Parses an origin as browsers send it in `Origin`: `http` or `https`,
    /// a host name, an optional port, nothing after (no path).
    pub fn parse(text: &str) -> Result<Self, PlanError> {
        let bad = |why: &str| {
            PlanError::Invalid(
                "--page-origin",
                format!("'{text}' is not an origin like https://www.example.com: {why}"),
            )
        };
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| bad("it lacks a scheme (https://)"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => "http",
            "https" => "https",
            _ => return Err(bad("the scheme must be http or https")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) {
            return Err(bad("an origin has no path, query or user"));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => {
                let port = port
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| bad("the port must be a number from 1 to 65535"))?;
                (host, Some(port))
            }
            None => (rest, None),
        };
        if host.contains(['*', '<', '>', '"', '&']) {
            return Err(bad("the host must be one name, without wildcards"));
        }
        shoal_certgen::check_dns_name(host).map_err(bad)?;
        Ok(Self {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

/// Writes the `<cross_domain_policy>` of a node of a kit with `domains`,
/// clients given `public_urls`, and the extra `pages`.
pub(crate) fn write_policy(
    s: &mut String,
    domains: &[String],
    public_urls: &[String],
    pages: &[PageOrigin],
) {
    s.push_str(
        "<!-- Web pages of other origins that may use this node, with credentials (the\n\
         \x20    web client sends cookies: the balancer's sticky cookie among them). A page\n\
         \x20    must also call connectionOptions.setCookieHandlingRequired(true) when its\n\
         \x20    requests must carry the cookie (see README.md). -->\n\
         <cross_domain_policy accept_credentials=\"Y\">\n",
    );
    s.push_str("  <!-- The kit's public URLs. -->\n");
    for url in public_urls {
        let Some((scheme, rest)) = url.split_once("://") else {
            continue;
        };
        let (host, port) = rest.rsplit_once(':').unwrap_or((rest, "*"));
        rule(s, scheme, host, port);
    }
    s.push_str("  <!-- The company's own pages: any host of the kit's domains. -->\n");
    for d in domains {
        rule(s, "*", d, "*");
        rule(s, "*", &format!("*.{d}"), "*");
    }
    if !pages.is_empty() {
        s.push_str("  <!-- Pages of other sites (cluster-plan --page-origin). -->\n");
    }
    for o in pages {
        let port = o.port.map_or_else(
            || if o.scheme == "https" { 443 } else { 80 }.to_string(),
            |p| p.to_string(),
        );
        rule(s, o.scheme, &o.host, &port);
    }
    s.push_str("</cross_domain_policy>\n");
}

fn rule(s: &mut String, scheme: &str, host: &str, port: &str) {
    let _ = writeln!(
        s,
        "  <allow_access_from scheme=\"{scheme}\" host=\"{host}\" port=\"{port}\"/>"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_parse_as_browsers_send_them() {
        let o = PageOrigin::parse("https://WWW.Partner.test").unwrap();
        assert_eq!(
            o,
            PageOrigin {
                scheme: "https",
                host: "www.partner.test".into(),
                port: None
            }
        );
        let o = PageOrigin::parse("http://pages.partner.test:8081/").unwrap();
        assert_eq!((o.scheme, o.port), ("http", Some(8081)));
    }

    #[test]
    fn bad_origins_name_the_flag_and_say_why() {
        for (text, why) in [
            ("www.partner.test", "lacks a scheme"),
            ("ftp://www.partner.test", "http or https"),
            ("https://www.partner.test/app", "no path"),
            ("https://www.partner.test:0", "port"),
            ("https://www.partner.test:99999", "port"),
            ("https://*.partner.test", "wildcards"),
            ("https://", "example.com"),
        ] {
            let e = PageOrigin::parse(text).unwrap_err().to_string();
            assert!(e.starts_with("--page-origin: "), "{e}");
            assert!(e.contains(why), "{text}: {e}");
        }
    }
}
