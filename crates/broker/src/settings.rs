//! What a broker feed is told by its `adapters.xml` params.

use shoal_adapter::PublishCredentials;
use std::path::PathBuf;
use std::time::Duration;

/// Settings of one broker data adapter.
#[derive(Debug, Clone)]
pub struct FeedSettings {
    /// `<adapter set>/<data adapter>`, for logs.
    pub name: String,
    /// The broker's URL (`redis://…`, `rediss://…`, `nats://…`).
    pub url: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Extra CA certificates (PEM) to trust for TLS.
    pub tls_ca_file: Option<PathBuf>,
    /// Item `X` is the stream `<prefix>X` (Redis) or subject `<prefix>.X` (NATS).
    pub prefix: String,
    /// Entries sent as the snapshot of a non-COMMAND item.
    pub snapshot_length: usize,
    /// Entries read at most to rebuild a COMMAND item's rows.
    pub command_history_limit: usize,
    /// Retention of what Shoal writes (0: none).
    pub max_length: u64,
    /// How long an item is still read after its last client left.
    pub linger: Duration,
    /// Who may publish (`None`: publishing is off).
    pub publish: Option<PublishAuth>,
    /// The health check fails while the broker is unreachable.
    pub healthcheck_requires_broker: bool,
}

impl FeedSettings {
    /// Settings with the defaults of `adapters.xml` for `url`.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
            username: None,
            password: None,
            tls_ca_file: None,
            prefix: String::new(),
            snapshot_length: 10,
            command_history_limit: 100_000,
            max_length: 10_000,
            linger: Duration::from_secs(5),
            publish: None,
            healthcheck_requires_broker: false,
        }
    }
}

/// Settings of the `shoal.nats` adapter beyond [`FeedSettings`] (whose
/// `prefix` is the subject prefix, `shoal` by default in `adapters.xml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsSettings {
    /// The JetStream stream that holds the items' subjects.
    pub stream: String,
    /// Create the stream (subjects `<prefix>.>`) when it does not exist.
    pub create_stream: bool,
    /// A NATS auth token (instead of a username and password).
    pub token: Option<String>,
    /// A NATS `.creds` file (user JWT and NKey seed).
    pub credentials_file: Option<PathBuf>,
}

impl Default for NatsSettings {
    /// The defaults of `adapters.xml`: stream `SHOAL`, created if missing.
    fn default() -> Self {
        Self {
            stream: "SHOAL".to_owned(),
            create_stream: true,
            token: None,
            credentials_file: None,
        }
    }
}

impl FeedSettings {
    /// Whether `credentials` may publish through this feed (never when
    /// publishing is off).
    pub fn may_publish(&self, credentials: Option<&PublishCredentials>) -> bool {
        self.publish.as_ref().is_some_and(|a| a.allows(credentials))
    }
}

/// The credentials that may publish through a feed.
#[derive(Debug, Clone, Default)]
pub struct PublishAuth {
    pub token: Option<String>,
    pub basic: Option<(String, String)>,
}

impl PublishAuth {
    /// Whether `presented` matches a configured credential (compared in
    /// constant time, so the answer's timing does not leak a prefix).
    pub fn allows(&self, presented: Option<&PublishCredentials>) -> bool {
        match presented {
            Some(PublishCredentials::Bearer(t)) => self
                .token
                .as_deref()
                .is_some_and(|want| same(want.as_bytes(), t.as_bytes())),
            Some(PublishCredentials::Basic { user, password }) => {
                self.basic.as_ref().is_some_and(|(u, p)| {
                    // Both compared, always: no early exit on the user.
                    let a = same(u.as_bytes(), user.as_bytes());
                    let b = same(p.as_bytes(), password.as_bytes());
                    a & b
                })
            }
            None => false,
        }
    }
}

fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_configured_credentials_may_publish() {
        let auth = PublishAuth {
            token: Some("t0k".into()),
            basic: Some(("app".into(), "pw".into())),
        };
        let bearer = |t: &str| PublishCredentials::Bearer(t.into());
        let basic = |u: &str, p: &str| PublishCredentials::Basic {
            user: u.into(),
            password: p.into(),
        };
        assert!(auth.allows(Some(&bearer("t0k"))));
        assert!(!auth.allows(Some(&bearer("t0"))));
        assert!(!auth.allows(Some(&bearer("t0kk"))));
        assert!(auth.allows(Some(&basic("app", "pw"))));
        assert!(!auth.allows(Some(&basic("app", "px"))));
        assert!(!auth.allows(Some(&basic("ap", "pw"))));
        assert!(!auth.allows(None));
        assert!(!PublishAuth::default().allows(Some(&bearer(""))));
    }
}
