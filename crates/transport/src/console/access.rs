//! Who may open the monitor console: one pure decision, shared by the
//! console's pages and (through [`ConsoleAccess::allows_login`]) by the
//! `MONITOR` adapter set, so that both follow the same policy.
//!
//! A request is allowed when the console is public, when the client is
//! local, or when it presents HTTP Basic credentials of a configured user.
//! "Local" is stricter than "the TCP peer is loopback": a load balancer on
//! the same host connects from loopback for every outside client, so a
//! request that says it was forwarded (`X-Forwarded-For`, `Forwarded`) is
//! not local, unless the listener trusts its forwards (`skip_local_forwards`)
//! and the client address they give is itself loopback.

use axum::http::{header, HeaderMap};
use base64::Engine as _;
use std::fmt;
use std::net::IpAddr;

/// A `<dashboard><user>`. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct ConsoleUser {
    pub id: String,
    pub password: String,
}

impl fmt::Debug for ConsoleUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleUser")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The console's access policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsoleAccess {
    /// Where the console is served: an absolute path without a final `/`.
    pub path: String,
    /// `<public>Y`: everyone is allowed.
    pub public: bool,
    /// Who may open it from elsewhere, with HTTP Basic.
    pub users: Vec<ConsoleUser>,
}

/// What [`ConsoleAccess::check`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Allow,
    /// Users are configured and none was presented correctly: ask for
    /// credentials (401).
    Unauthorized,
    /// No user is configured, so nothing the client sends can help; the
    /// text names the fix (403).
    Forbidden(&'static str),
}

/// The body of a 403: how an operator gets in.
pub const FORBIDDEN_FIX: &str = "The Shoal monitor console is open only to local clients here: \
open the console from this machine (loopback), or configure <dashboard><user> or \
<public>Y</public> in lightstreamer_conf.xml.";

/// The realm of the 401's `WWW-Authenticate`.
pub const REALM: &str = "Shoal monitor console";

impl ConsoleAccess {
    /// Decides for one HTTP request. `client` is the address computed with
    /// the listener's trusted forwards (the TCP peer when there are none).
    pub fn check(&self, client: IpAddr, headers: &HeaderMap, trusted_forwards: u32) -> Access {
        if self.public || is_local(client, forwarded(headers), trusted_forwards > 0) {
            return Access::Allow;
        }
        if let Some((user, password)) = basic_credentials(headers) {
            if self.user_matches(&user, &password) {
                return Access::Allow;
            }
        }
        if self.users.is_empty() {
            Access::Forbidden(FORBIDDEN_FIX)
        } else {
            Access::Unauthorized
        }
    }

    /// The same policy for a session login: `client_ip` as the engine got it
    /// (after trusted forwards), `headers` as [`shoal_adapter::Login`] holds
    /// them (lower-case names). `trusts_forwards`: whether every listener
    /// serving the console trusts its forwards (a login does not say which
    /// listener it came through, so the safe answer is taken).
    pub fn allows_login(
        &self,
        client_ip: &str,
        headers: &[(String, String)],
        user: Option<&str>,
        password: Option<&str>,
        trusts_forwards: bool,
    ) -> bool {
        if self.public {
            return true;
        }
        let forwarded = headers
            .iter()
            .any(|(name, _)| name == "x-forwarded-for" || name == "forwarded");
        let local = client_ip
            .parse::<IpAddr>()
            .is_ok_and(|ip| is_local(ip, forwarded, trusts_forwards));
        local || self.user_matches(user.unwrap_or(""), password.unwrap_or(""))
    }

    /// Whether `user` and `password` are those of a configured user. Every
    /// user is compared, each in constant time, so the time taken tells
    /// nothing about which part matched.
    pub fn user_matches(&self, user: &str, password: &str) -> bool {
        self.users.iter().fold(false, |found, u| {
            let id = constant_time_eq(u.id.as_bytes(), user.as_bytes());
            let pw = constant_time_eq(u.password.as_bytes(), password.as_bytes());
            found | (id & pw)
        })
    }
}

/// Local: a loopback client, and, unless forwards are trusted (then
/// `client` already is the address they give), no sign of forwarding.
pub fn is_local(client: IpAddr, forwarded: bool, trusts_forwards: bool) -> bool {
    client.to_canonical().is_loopback() && (trusts_forwards || !forwarded)
}

/// Whether a proxy says it forwarded the request.
fn forwarded(headers: &HeaderMap) -> bool {
    headers.contains_key("x-forwarded-for") || headers.contains_key(header::FORWARDED)
}

/// `Authorization: Basic base64(user:password)`; `None` when absent or
/// malformed (another scheme, bad base64, no `:`, not UTF-8).
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Compares without stopping at the first difference. The length of the
/// secret may show; its content does not.
fn constant_time_eq(secret: &[u8], given: &[u8]) -> bool {
    let mut diff = u8::from(secret.len() != given.len());
    for (i, s) in secret.iter().enumerate() {
        diff |= s ^ given.get(i).copied().unwrap_or(!s);
    }
    diff == 0
}

#[cfg(test)]
mod tests;
