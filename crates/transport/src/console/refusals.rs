//! Refused console requests are logged at most once per client per minute,
//! so that a scanner cannot flood the log. The memory for it is bounded:
//! past [`CLIENTS`] distinct clients within a minute, the extra ones are
//! not logged.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Clients remembered at most.
const CLIENTS: usize = 256;
/// Shortest time between two log lines about one client.
const QUIET: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub struct RefusalLog {
    last: Mutex<HashMap<IpAddr, Instant>>,
}

impl RefusalLog {
    /// Whether a refusal of `client` now should be logged (and, if so,
    /// remembers it).
    pub fn should_log(&self, client: IpAddr) -> bool {
        self.should_log_at(client, Instant::now())
    }

    fn should_log_at(&self, client: IpAddr, now: Instant) -> bool {
        let mut last = self.last.lock();
        if last
            .get(&client)
            .is_some_and(|t| now.saturating_duration_since(*t) < QUIET)
        {
            return false;
        }
        if !last.contains_key(&client) && last.len() >= CLIENTS {
            last.retain(|_, t| now.saturating_duration_since(*t) < QUIET);
            if last.len() >= CLIENTS {
                return false;
            }
        }
        last.insert(client, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::from(n.to_be_bytes())
    }

    #[test]
    fn once_per_client_per_minute() {
        let log = RefusalLog::default();
        let t0 = Instant::now();
        assert!(log.should_log_at(ip(1), t0));
        assert!(!log.should_log_at(ip(1), t0 + Duration::from_secs(59)));
        assert!(log.should_log_at(ip(2), t0 + Duration::from_secs(1)));
        assert!(log.should_log_at(ip(1), t0 + Duration::from_secs(61)));
    }

    #[test]
    fn memory_is_bounded() {
        let log = RefusalLog::default();
        let t0 = Instant::now();
        for n in 0..CLIENTS as u32 {
            assert!(log.should_log_at(ip(n), t0));
        }
        assert!(!log.should_log_at(ip(100_000), t0), "full: not logged");
        assert_eq!(log.last.lock().len(), CLIENTS);
        // A minute later the old entries make room.
        assert!(log.should_log_at(ip(100_000), t0 + QUIET));
        assert_eq!(log.last.lock().len(), 1);
    }
}
