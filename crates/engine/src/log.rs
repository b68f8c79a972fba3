//! The per-session log of counted (data) notifications, replayed on recovery.
//!
//! Its size is the memory it really holds: each line's allocation (its
//! capacity, not its length) and each slot of the ring of entries, allocated
//! or not. Sent lines go when they are older than the recovery window or
//! when the log is over its size; lines not yet sent always stay, since the
//! client must still receive them.

use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// Bytes of one entry slot: the instant and the `String` header.
const SLOT: usize = std::mem::size_of::<(Instant, String)>();

#[derive(Debug, Default)]
pub(crate) struct RecoveryLog {
    /// Progressive of `entries[0]`.
    first: u64,
    entries: VecDeque<(Instant, String)>,
    /// Sum of the capacities of the lines in `entries`.
    text: usize,
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

    /// Bytes of memory the log holds.
    pub fn bytes(&self) -> usize {
        self.text + self.entries.capacity() * SLOT
    }

    pub fn push(&mut self, line: String, now: Instant) {
        self.prog += 1;
        self.text += line.capacity();
        self.entries.push_back((now, line));
    }

    /// Whether some lines wait for a stream.
    #[cfg(test)]
    pub fn has_unsent(&self) -> bool {
        self.sent < self.prog
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
            if !sent || (now.duration_since(*t) < window && self.bytes() <= max_bytes) {
                break;
            }
            self.text -= line.capacity();
            self.entries.pop_front();
            self.first += 1;
            self.shrink();
        }
        self.shrink();
    }

    /// The ring keeps its largest size unless told: give back what a burst
    /// left unused (at most a few reallocations while a long log empties).
    fn shrink(&mut self) {
        let cap = self.entries.capacity();
        if cap > 64 && self.entries.len() < cap / 4 {
            self.entries.shrink_to(self.entries.len() * 2);
        }
    }

    /// Forgets every line (the session is over; the progressives stay).
    pub fn clear(&mut self) {
        self.first = self.prog + 1;
        self.sent = self.prog;
        self.entries = VecDeque::new();
        self.text = 0;
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
        // Room for two entries (their slots and text) and not three.
        let two = log.entries.capacity() * SLOT + 2 * log.entries[0].1.capacity();
        log.trim(now, Duration::from_secs(60), two);
        // L1..L3 go; L4 and L5 fit.
        assert_eq!(log.rewind(2), Err((3, 5)));
        assert!(log.rewind(3).is_ok());
    }

    #[test]
    fn counts_allocations_and_slots_not_just_text() {
        let now = Instant::now();
        let mut log = RecoveryLog::new();
        let mut line = String::with_capacity(100);
        line.push_str("U,1,1,x\r\n");
        log.push(line, now);
        // 9 bytes of text, but 100 allocated and a slot of 40.
        assert!(log.bytes() >= 100 + SLOT, "{}", log.bytes());
    }

    #[test]
    fn stays_under_its_size_and_gives_memory_back() {
        let now = Instant::now();
        let mut log = RecoveryLog::new();
        let max = 64 * 1024;
        for i in 0..100_000 {
            log.push(format!("U,1,1,{i}|some value\r\n"), now);
            while log.next_unsent().is_some() {}
            log.trim(now, Duration::from_secs(60), max);
            assert!(log.bytes() <= max, "{} bytes after {i} lines", log.bytes());
        }
        // Everything is older than a 1 s window a minute later: all goes,
        // and the ring shrinks.
        log.trim(now + Duration::from_secs(60), Duration::from_secs(1), max);
        assert_eq!(log.entries.len(), 0);
        assert!(log.bytes() <= 64 * SLOT, "{}", log.bytes());
    }

    #[test]
    fn unsent_lines_stay_whatever_their_age() {
        let now = Instant::now();
        let mut log = RecoveryLog::new();
        log.push("SUBOK,1,1,1\r\n".into(), now);
        log.trim(now + Duration::from_secs(600), Duration::from_secs(1), 0);
        assert!(log.has_unsent());
        assert_eq!(log.next_unsent(), Some("SUBOK,1,1,1\r\n"));
    }
}
