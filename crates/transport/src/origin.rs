//! Which web pages may use this server: the `Origin` header of a request
//! against `<cross_domain_policy>`.
//!
//! Browsers send `Origin` with cross-origin requests and every WebSocket
//! handshake; other clients (the official Node and Python clients, tools)
//! usually send none. The verdict:
//!
//! - no `Origin`: accepted (nothing to check);
//! - the request's own origin (its host and port are those of the `Host`
//!   header: a page served by this server, or by the balancer in front of
//!   it under the same name): accepted, whatever the policy;
//! - an origin matching an `<allow_access_from>` rule: accepted, and the
//!   HTTP answer carries the CORS headers that let the page read it;
//! - anything else: refused. A WebSocket upgrade gets HTTP 403; an HTTP
//!   request is not run and gets 200 with an empty body and no CORS headers
//!   (as Lightstreamer answers: the browser keeps the page from reading it).
//!
//! Without `<cross_domain_policy>` there are no rules: only the first two
//! cases are accepted.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::IpAddr;

/// `<cross_domain_policy>`, ready to match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPolicy {
    /// `accept_credentials`: answer `Access-Control-Allow-Credentials: true`
    /// to allowed origins (the web client sends cookies).
    pub accept_credentials: bool,
    /// `accept_extra_headers`: request headers a preflight may ask for
    /// beyond the CORS-safelisted ones, lower case.
    pub extra_headers: Vec<String>,
    /// `options_max_age`: how long a browser may cache a preflight answer,
    /// in seconds.
    pub max_age: u64,
    /// `<allow_access_from>` rules; an origin matching any is allowed.
    pub rules: Vec<OriginRule>,
}

impl Default for OriginPolicy {
    /// No `<cross_domain_policy>`: no rule (same origin and no origin only),
    /// and Lightstreamer's attribute defaults.
    fn default() -> Self {
        Self {
            accept_credentials: true,
            extra_headers: Vec::new(),
            max_age: 3600,
            rules: Vec::new(),
        }
    }
}

impl OriginPolicy {
    /// Every origin allowed (one rule of three `*`): what Shoal runs with
    /// when started without a configuration file, as Lightstreamer's own
    /// factory configuration does, so that a page on a development server
    /// can use a local `shoal serve` at once.
    pub fn allow_all() -> Self {
        Self {
            rules: vec![OriginRule {
                scheme: None,
                host: HostRule::Any,
                port: None,
            }],
            ..Self::default()
        }
    }
}

/// One `<allow_access_from scheme host port>`; `None` is `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginRule {
    /// Lower case. `None` (`*`) matches `http` and `https` only.
    pub scheme: Option<String>,
    pub host: HostRule,
    /// `None` (`*`) matches any port.
    pub port: Option<u16>,
}

/// The host part of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostRule {
    /// `*`.
    Any,
    /// A host name (lower case) or an IP address.
    Exact(String),
    /// `*.my-domain.com`, kept as `.my-domain.com`: any name ending so (the
    /// domain itself is not included).
    Subdomains(String),
}

impl OriginRule {
    /// `scheme="*" host="*" port="*"`: any origin at all, even `null`.
    fn accepts_all(&self) -> bool {
        self.scheme.is_none() && self.host == HostRule::Any && self.port.is_none()
    }

    fn matches(&self, o: &Origin) -> bool {
        let scheme = match &self.scheme {
            Some(s) => *s == o.scheme,
            None => o.scheme == "http" || o.scheme == "https",
        };
        let host = match &self.host {
            HostRule::Any => true,
            HostRule::Exact(h) => canonical_host(h) == o.host,
            HostRule::Subdomains(suffix) => o.host.ends_with(suffix.as_str()),
        };
        let port = self.port.is_none_or(|p| Some(p) == o.port);
        scheme && host && port
    }
}

/// A parsed `Origin`: `scheme://host[:port]`, the port filled in for http
/// and https when omitted.
#[derive(Debug, PartialEq, Eq)]
struct Origin {
    scheme: String,
    /// Lower case; an IPv6 address canonical and without brackets.
    host: String,
    port: Option<u16>,
}

impl Origin {
    /// Whether `host` (a `Host` header) names this origin's host and port:
    /// the request comes from a page of the server's own origin. A port
    /// left out on either side is the scheme's default.
    fn is_host(&self, host: &str) -> bool {
        let Some((name, port)) = split_authority(host) else {
            return false;
        };
        let port = match port {
            Some(p) => p.parse::<u16>().ok(),
            None => default_port(&self.scheme),
        };
        canonical_host(name) == self.host && port == self.port
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

fn parse_origin(value: &str) -> Option<Origin> {
    let (scheme, authority) = value.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = authority.to_ascii_lowercase();
    if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
        return None;
    }
    let (host, port) = split_authority(&authority)?;
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok()?),
        None => default_port(&scheme),
    };
    Some(Origin {
        host: canonical_host(host),
        scheme,
        port,
    })
}

/// `host[:port]` into its parts; an IPv6 host is in brackets.
fn split_authority(authority: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?))),
        };
    }
    match authority.split_once(':') {
        Some((host, port)) => Some((host, Some(port))),
        None => Some((authority, None)),
    }
}

/// Host names in lower case; IP addresses in their canonical form (IPv6
/// `0:0::1` is `::1`), without brackets.
pub fn canonical_host(host: &str) -> String {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => bare.to_ascii_lowercase(),
    }
}

/// What to do with a request, from its headers.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// No `Origin` header.
    NoOrigin,
    /// Allowed: answer with CORS headers naming this origin.
    Allowed(HeaderValue),
    Refused,
}

impl OriginPolicy {
    pub(crate) fn verdict(&self, headers: &HeaderMap) -> Verdict {
        let Some(value) = headers.get(header::ORIGIN) else {
            return Verdict::NoOrigin;
        };
        if self.rules.iter().any(OriginRule::accepts_all) {
            return Verdict::Allowed(value.clone());
        }
        let Some(origin) = value.to_str().ok().and_then(parse_origin) else {
            return Verdict::Refused;
        };
        let same = crate::host_header(headers).is_some_and(|h| origin.is_host(h));
        if same || self.rules.iter().any(|r| r.matches(&origin)) {
            Verdict::Allowed(value.clone())
        } else {
            Verdict::Refused
        }
    }

    /// The answer to a WebSocket handshake of a refused origin (403), or
    /// `None` to go on with it.
    pub(crate) fn ws_refusal(&self, headers: &HeaderMap) -> Option<Response> {
        if self.verdict(headers) != Verdict::Refused {
            return None;
        }
        tracing::info!(origin = ?headers.get(header::ORIGIN), "websocket refused: origin not allowed by <cross_domain_policy>");
        Some((StatusCode::FORBIDDEN, "origin not allowed\n").into_response())
    }

    /// CORS headers for an allowed origin; a preflight also gets the
    /// methods, the headers it may send and how long to cache the answer.
    fn cors(&self, origin: HeaderValue, request: CorsRequest, out: &mut HeaderMap) {
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        out.append(header::VARY, HeaderValue::from_static("Origin"));
        if self.accept_credentials {
            out.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        let CorsRequest::Preflight { asked } = request else {
            return;
        };
        out.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST, GET, OPTIONS"),
        );
        let asked = asked.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("");
        let allowed: Vec<&str> = asked
            .split(',')
            .map(str::trim)
            .filter(|h| {
                let h = h.to_ascii_lowercase();
                SAFELISTED.contains(&h.as_str()) || self.extra_headers.contains(&h)
            })
            .collect();
        if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
            if !allowed.is_empty() {
                out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
            }
        }
        out.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from(self.max_age),
        );
    }
}

/// What a CORS answer depends on in its request.
#[derive(Debug)]
enum CorsRequest {
    Simple,
    /// An `OPTIONS` preflight, with its `Access-Control-Request-Headers`.
    Preflight {
        asked: Option<HeaderValue>,
    },
}

/// Request headers a preflight may always ask for.
const SAFELISTED: &[&str] = &[
    "accept",
    "accept-language",
    "content-language",
    "content-type",
];

/// Middleware of the TLCP HTTP routes: runs requests of accepted origins
/// (adding CORS headers for a foreign one), and answers a refused origin
/// with an empty 200 without running its request.
pub(crate) async fn gate(State(st): State<crate::AppState>, req: Request, next: Next) -> Response {
    let policy = &st.listener.origins;
    match policy.verdict(req.headers()) {
        Verdict::NoOrigin => next.run(req).await,
        Verdict::Refused => {
            tracing::debug!(origin = ?req.headers().get(header::ORIGIN), "request from a refused origin: empty answer");
            let mut resp = (StatusCode::OK, Body::empty()).into_response();
            crate::tlcp_headers(resp.headers_mut());
            resp
        }
        Verdict::Allowed(origin) => {
            // Only what the CORS answer needs is kept of the request.
            let request = if req.method() == Method::OPTIONS {
                CorsRequest::Preflight {
                    asked: req
                        .headers()
                        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                        .cloned(),
                }
            } else {
                CorsRequest::Simple
            };
            let mut resp = next.run(req).await;
            policy.cors(origin, request, resp.headers_mut());
            resp
        }
    }
}

#[cfg(test)]
mod tests;
