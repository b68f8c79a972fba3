//! The per-session log of counted (data) notifications, replayed on recovery.

use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Default)]
pub(crate) struct RecoveryLog {
    /// Progressive of `entries[0]`.
    first: u64,
    entries: VecDeque<(Instant, String)>,
    bytes: usize,
    /// Counted notifications produced so far (the last progressive).
    pub prog: u64,
    /// Counted notifications handed to a stream so far.
    pub sent: u64,
}

impl RecoveryLog {
    pub fn new() -> Self {
        Self {
            first: 1,
            ..Self::default()
        }
    }

    pub fn push(&mut self, line: String, now: Instant) {
        self.prog += 1;
        self.bytes += line.len();
        self.entries.push_back((now, line));
    }

    /// The next line not yet handed to a stream, marking it sent.
    pub fn next_unsent(&mut self) -> Option<&str> {
        if self.sent >= self.prog {
            return None;
        }
        self.sent += 1;
        let i = usize::try_from(self.sent - self.first).ok()?;
        self.entries.get(i).map(|(_, l)| l.as_str())
    }

    /// Resumes after progressive `from`, if everything after it is kept.
    pub fn rewind(&mut self, from: u64) -> Result<(), (u64, u64)> {
        let oldest = self.first.saturating_sub(1);
        if from < oldest || from > self.prog {
            return Err((oldest, self.prog));
        }
        self.sent = from;
        Ok(())
    }

    /// Forgets sent lines older than `window`, or beyond `max_bytes`.
    pub fn trim(&mut self, now: Instant, window: Duration, max_bytes: usize) {
        while let Some((t, line)) = self.entries.front() {
            let sent = self.first <= self.sent;
            if !sent || (now.duration_since(*t) < window && self.bytes <= max_bytes) {
                break;
            }
            self.bytes -= line.len();
            self.entries.pop_front();
            self.first += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_from_a_kept_point_and_refuses_a_lost_one() {
        let now = Instant::now();
        let mut log = RecoveryLog::new();
        for i in 1..=5 {
            log.push(format!("L{i}"), now);
        }
        let sent: Vec<String> =
            std::iter::from_fn(|| log.next_unsent().map(str::to_owned)).collect();
        assert_eq!(sent, ["L1", "L2", "L3", "L4", "L5"]);
        log.rewind(3).unwrap();
        assert_eq!(log.next_unsent(), Some("L4"));
        assert_eq!(log.rewind(6), Err((0, 5)));
        log.trim(now, Duration::from_secs(60), 4);
        // L1..L3 go; L4 and L5 fit in 4 bytes.
        assert_eq!(log.rewind(2), Err((3, 5)));
        assert!(log.rewind(3).is_ok());
    }
}
