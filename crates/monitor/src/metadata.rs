//! Who may open a `MONITOR` session: the console's policy applied to the
//! login, plus the token the console page got from `{path}/token`.
//!
//! A login does not say which listener it came through; the session that
//! follows does (`SessionInfo.local_server`), so availability is checked
//! there. Refusals are `CONERR` with code 1 (credentials refused), as for
//! any refused login.

use shoal_adapter::{ready, AdapterError, BoxFuture, Login, MetadataProvider, SessionInfo};
use shoal_transport::console::{ConsoleAccess, ConsoleUser, RefusalLog, TOKEN_USER};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

/// The console's rules, as the binary read them from the configuration.
/// `Debug` hides the token.
#[derive(Clone)]
pub struct Policy {
    pub access: ConsoleAccess,
    /// The password of the `console` user (see [`crate::new_token`]).
    pub token: String,
    /// The listeners that serve the console.
    pub listeners: Vec<String>,
    /// Whether every one of them trusts its forwards
    /// (`skip_local_forwards` > 0).
    pub trusts_forwards: bool,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("access", &self.access)
            .field("listeners", &self.listeners)
            .field("trusts_forwards", &self.trusts_forwards)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub struct MonitorMetadata {
    /// The console's access with the token as one more user.
    login: ConsoleAccess,
    listeners: Vec<String>,
    trusts_forwards: bool,
    /// Refusals are logged once a minute per client at most.
    refusals: RefusalLog,
}

impl MonitorMetadata {
    pub fn new(policy: Policy) -> Self {
        let mut login = policy.access;
        login.users.push(ConsoleUser {
            id: TOKEN_USER.to_owned(),
            password: policy.token,
        });
        Self {
            login,
            listeners: policy.listeners,
            trusts_forwards: policy.trusts_forwards,
            refusals: RefusalLog::default(),
        }
    }

    fn check_login(&self, login: &Login) -> Result<(), AdapterError> {
        let allowed = self.login.allows_login(
            &login.client_ip,
            &login.headers,
            login.user.as_deref(),
            login.password.as_deref(),
            self.trusts_forwards,
        );
        if allowed {
            return Ok(());
        }
        let ip = login
            .client_ip
            .parse()
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        if self.refusals.should_log(ip) {
            tracing::info!(client = %login.client_ip, user = ?login.user, "MONITOR session refused (logged once a minute per client)");
        }
        Err(AdapterError::access_denied(
            "the monitor console is open to local clients, its configured users and its own page only",
        ))
    }

    fn check_listener(&self, session: &SessionInfo) -> Result<(), AdapterError> {
        if self.listeners.contains(&session.local_server) {
            return Ok(());
        }
        Err(AdapterError::access_denied(format!(
            "the monitor console is not available on listener \"{}\"",
            session.local_server
        )))
    }
}

impl MetadataProvider for MonitorMetadata {
    fn notify_user<'a>(&'a self, login: &'a Login) -> BoxFuture<'a, Result<(), AdapterError>> {
        ready(self.check_login(login))
    }

    fn notify_new_session<'a>(
        &'a self,
        session: &'a SessionInfo,
    ) -> BoxFuture<'a, Result<(), AdapterError>> {
        ready(self.check_listener(session))
    }

    fn notify_user_message<'a>(
        &'a self,
        _session: &'a SessionInfo,
        _message: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, AdapterError>> {
        ready(Err(AdapterError::new(-1, "MONITOR takes no messages")))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::Arc;

    fn metadata(users: &[(&str, &str)]) -> MonitorMetadata {
        MonitorMetadata::new(Policy {
            access: ConsoleAccess {
                path: "/dashboard".into(),
                public: false,
                users: users
                    .iter()
                    .map(|(id, pw)| ConsoleUser {
                        id: (*id).into(),
                        password: (*pw).into(),
                    })
                    .collect(),
            },
            token: "tok".into(),
            listeners: vec!["A".into()],
            trusts_forwards: false,
        })
    }

    fn login(ip: &str, user: Option<&str>, password: Option<&str>, xff: bool) -> Login {
        let headers: Vec<(String, String)> = if xff {
            vec![("x-forwarded-for".into(), "203.0.113.9".into())]
        } else {
            vec![]
        };
        Login {
            user: user.map(Into::into),
            password: password.map(Into::into),
            client_ip: ip.into(),
            headers: Arc::from(headers),
        }
    }

    #[test]
    fn logins() {
        let m = metadata(&[("ops", "s3cret")]);
        assert!(m
            .check_login(&login("127.0.0.1", None, None, false))
            .is_ok());
        assert!(m.check_login(&login("::1", None, None, false)).is_ok());
        let e = m
            .check_login(&login("127.0.0.1", None, None, true))
            .unwrap_err();
        assert_eq!(e.code, 1);
        assert!(m
            .check_login(&login("10.0.0.5", None, None, false))
            .is_err());
        assert!(m
            .check_login(&login("10.0.0.5", Some("console"), Some("tok"), true))
            .is_ok());
        assert!(m
            .check_login(&login("10.0.0.5", Some("console"), Some("tok2"), false))
            .is_err());
        assert!(m
            .check_login(&login("10.0.0.5", Some("ops"), Some("s3cret"), false))
            .is_ok());
        assert!(m
            .check_login(&login("10.0.0.5", Some("ops"), Some("nope"), false))
            .is_err());
    }

    #[test]
    fn only_on_console_listeners() {
        let m = metadata(&[]);
        let on = |name: &str| SessionInfo {
            local_server: name.into(),
            ..SessionInfo::default()
        };
        assert!(m.check_listener(&on("A")).is_ok());
        let e = m.check_listener(&on("B")).unwrap_err();
        assert_eq!(e.code, 1);
        assert!(e.message.contains("\"B\""));
    }
}
