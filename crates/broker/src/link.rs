//! A feed's link to its broker, as both adapters see it: whether the
//! broker answers, why not, and how long to wait before trying again.
//!
//! A broker that goes away is an outage, not an error: sessions stay,
//! items pause, and the feed reconnects with a doubling delay. The outage
//! is logged once when it starts (not once per failed attempt) and once
//! when it ends; meanwhile [`Link::readiness`] says why the feed cannot
//! serve, for a health check that asked to depend on the broker.
//!
//! URLs may carry a password (`redis://user:pw@host`) or a NATS token
//! (`nats://token@host`): every log line goes through [`redacted`].

use parking_lot::Mutex;
use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The first reconnection delay.
pub const BACKOFF_FIRST: Duration = Duration::from_millis(100);
/// The longest reconnection delay: a broker that comes back is found
/// within this.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The next reconnection delay after `d` (zero: the first).
pub fn backoff(d: Duration) -> Duration {
    (d * 2).clamp(BACKOFF_FIRST, BACKOFF_MAX)
}

/// The delay before the `attempt`-th attempt of a series, counted from 1:
/// none before the first, then doubling as [`backoff`] does.
pub fn backoff_for_attempt(attempt: usize) -> Duration {
    let mut d = Duration::ZERO;
    // Past the cap the delay no longer changes: no need to count further.
    for _ in 1..attempt.min(64) {
        d = backoff(d);
    }
    d
}

/// `url` without its secrets, for logs: the password of `user:password@`
/// and a bare `token@` become `***`. A comma-separated list of URLs (NATS
/// servers) is redacted URL by URL.
pub fn redacted(url: &str) -> String {
    url.split(',').map(redact_one).collect::<Vec<_>>().join(",")
}

fn redact_one(url: &str) -> String {
    let Some(s) = url.find("://") else {
        return url.to_owned();
    };
    // The last '@', not the first one after the authority: a password
    // with an unescaped '/' or '@' must not show.
    match url.rfind('@') {
        Some(at) if at > s => {
            let userinfo = &url[s + 3..at];
            let shown = match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:***"),
                // A NATS token, or a user with no password: hidden alike.
                None => "***".to_owned(),
            };
            format!("{}{shown}{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Whether a feed's broker answers, and why not.
#[derive(Debug)]
pub struct Link {
    /// `<adapter set>/<data adapter>`.
    adapter: String,
    /// The broker's kind, as logs name it (`Redis`, `NATS`).
    broker: &'static str,
    /// The broker's URL, already redacted.
    url: String,
    up: AtomicBool,
    last_error: Mutex<Option<String>>,
    /// What the logs say follows an outage, and its end.
    on_down: &'static str,
    on_up: &'static str,
}

/// What an outage means for a feed's items.
const ITEMS_DOWN: &str = "sessions stay, items pause, retrying with backoff";
const ITEMS_UP: &str = "items resume where they were";

impl Link {
    /// A link not yet up.
    pub fn new(adapter: &str, broker: &'static str, url: &str) -> Self {
        Self {
            adapter: adapter.to_owned(),
            broker,
            url: redacted(url),
            up: AtomicBool::new(false),
            last_error: Mutex::new(None),
            on_down: ITEMS_DOWN,
            on_up: ITEMS_UP,
        }
    }

    /// The same link, whose logs say `on_down` when an outage starts and
    /// `on_up` when it ends (for a task other than the items' reading).
    pub fn telling(mut self, on_down: &'static str, on_up: &'static str) -> Self {
        self.on_down = on_down;
        self.on_up = on_up;
        self
    }

    /// Whether the broker answers now.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// The broker answered: logged when it had not.
    pub fn mark_up(&self) {
        if !self.up.swap(true, Ordering::Relaxed) {
            tracing::info!(adapter = %self.adapter, url = %self.url, "{} reachable: {}", self.broker, self.on_up);
        }
        *self.last_error.lock() = None;
    }

    /// The broker did not answer `what`: logged once per outage (and once
    /// before the first success).
    pub fn mark_down(&self, what: &str, e: &dyn Display) {
        let was_up = self.up.swap(false, Ordering::Relaxed);
        let mut last = self.last_error.lock();
        if was_up || last.is_none() {
            tracing::warn!(adapter = %self.adapter, url = %self.url, "{} unreachable ({what}: {e}): {}", self.broker, self.on_down);
        }
        *last = Some(format!("{what}: {e}"));
    }

    /// `Ok` while the broker answers, or when the health check does not
    /// depend on it (`required` false); otherwise why not.
    pub fn readiness(&self, required: bool) -> Result<(), String> {
        if !required || self.is_up() {
            return Ok(());
        }
        let why = self.last_error.lock().clone();
        Err(format!(
            "{} at {} unreachable{}",
            self.broker,
            self.url,
            why.map(|w| format!(" ({w})")).unwrap_or_default()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_hidden_from_logged_urls() {
        assert_eq!(
            redacted("redis://app:pw@127.0.0.1:6379/0"),
            "redis://app:***@127.0.0.1:6379/0"
        );
        assert_eq!(redacted("redis://127.0.0.1/0"), "redis://127.0.0.1/0");
        assert_eq!(
            redacted("nats://s3cret@h1:4222,nats://u:p@h2,tls://h3"),
            "nats://***@h1:4222,nats://u:***@h2,tls://h3"
        );
        assert_eq!(redacted("redis://u:a/b@c@h/0"), "redis://u:***@h/0");
        assert_eq!(redacted("no scheme"), "no scheme");
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        assert_eq!(backoff(Duration::ZERO), BACKOFF_FIRST);
        assert_eq!(backoff(BACKOFF_FIRST), BACKOFF_FIRST * 2);
        assert_eq!(backoff(BACKOFF_MAX), BACKOFF_MAX);
        assert_eq!(backoff_for_attempt(0), Duration::ZERO);
        assert_eq!(backoff_for_attempt(1), Duration::ZERO);
        assert_eq!(backoff_for_attempt(2), BACKOFF_FIRST);
        assert_eq!(backoff_for_attempt(3), BACKOFF_FIRST * 2);
        assert_eq!(backoff_for_attempt(usize::MAX), BACKOFF_MAX);
    }

    #[test]
    fn readiness_says_why_while_down() {
        let link = Link::new("FEED/DEFAULT", "NATS", "nats://tok@127.0.0.1:4222");
        assert_eq!(link.readiness(false), Ok(()));
        assert!(link.readiness(true).is_err());
        link.mark_down("connecting", &"refused");
        let why = link.readiness(true).unwrap_err();
        assert!(why.contains("NATS at nats://***@127.0.0.1:4222 unreachable"));
        assert!(why.contains("connecting: refused"));
        link.mark_up();
        assert_eq!(link.readiness(true), Ok(()));
    }
}
