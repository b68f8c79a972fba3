//! The per-session log of counted (data) notifications, replayed on recovery.
//!
//! The lines are kept end to end in one ring of bytes, each behind a small
//! header (its length and when it was logged), rather than one allocation
//! each: a session that keeps thousands of small lines for minutes would
//! otherwise pin thousands of allocator pages, each also holding a few
//! short-lived allocations of other sessions, so memory freed around them
//! could not go back to the system. One ring is also exact to count: the
//! log's size is its capacity, and the ring does not grow past the log's
//! maximum while sent lines can make room: a log at its size reuses its own
//! space.
//!
//! Sent lines go when they are older than the recovery window or when the
//! log is over its size; lines not yet sent always stay, since the client
//! must still receive them (the stall timeout and the server's budget bound
//! those).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// Bytes of a record's header: the line's length (u32) and when it was
/// logged (u64 milliseconds since the log was created).
const HEADER: usize = 12;

#[derive(Debug)]
pub(crate) struct RecoveryLog {
    /// Most bytes the log may hold.
    max_bytes: usize,
    /// Origin of the records' times.
    epoch: Instant,
    /// The records, oldest first.
    ring: VecDeque<u8>,
    /// Progressive of the first record.
    first: u64,
    /// Offset in `ring` of the record of progressive `sent + 1`.
    sent_at: usize,
    /// Counted notifications produced so far (the last progressive).
    pub prog: u64,
    /// Counted notifications handed to a stream so far (moved only with
    /// `sent_at`).
    sent: u64,
}

impl RecoveryLog {
    pub fn new(max_bytes: usize) -> Self {
        Self::starting_at(max_bytes, 0)
    }

    /// A log whose first `prog` lines were made elsewhere (a session
    /// adopted from another node): its next line is `prog + 1`.
    pub fn starting_at(max_bytes: usize, prog: u64) -> Self {
        Self {
            max_bytes,
            epoch: Instant::now(),
            ring: VecDeque::new(),
            first: prog + 1,
            sent_at: 0,
            prog,
            sent: prog,
        }
    }

    /// Bytes of memory the log holds.
    pub fn bytes(&self) -> usize {
        self.ring.capacity()
    }

    pub fn push(&mut self, line: &str, now: Instant) {
        let need = HEADER + line.len();
        // Room first from sent lines, then from the allocator.
        while self.ring.len() + need > self.max_bytes && self.forget_first() {}
        let len = self.ring.len();
        if len + need > self.ring.capacity() {
            // Doubling as usual, but not past the maximum unless unsent
            // lines fill it.
            let doubled = (self.ring.capacity() * 2).max(len + need);
            let target = if len + need <= self.max_bytes {
                doubled.min(self.max_bytes)
            } else {
                doubled
            };
            self.ring.reserve_exact(target - len);
        }
        let ms = u64::try_from(now.saturating_duration_since(self.epoch).as_millis())
            .unwrap_or(u64::MAX);
        // A line longer than 4 GiB cannot be a TLCP notification.
        let n = u32::try_from(line.len()).unwrap_or(u32::MAX);
        self.ring.extend(n.to_le_bytes());
        self.ring.extend(ms.to_le_bytes());
        self.ring.extend(line.as_bytes());
        self.prog += 1;
    }

    /// Logs a line the stream sends now; every line before it was sent.
    pub fn push_sent(&mut self, line: &str, now: Instant) {
        self.push(line, now);
        self.sent = self.prog;
        self.sent_at = self.ring.len();
    }

    /// The header of the record at `at`: its line's length and time.
    fn header(&self, at: usize) -> Option<(usize, u64)> {
        if at + HEADER > self.ring.len() {
            return None;
        }
        let mut h = [0u8; HEADER];
        for (d, s) in h.iter_mut().zip(self.ring.range(at..at + HEADER)) {
            *d = *s;
        }
        let (n, ms) = h.split_at(4);
        let n = u32::from_le_bytes(n.try_into().ok()?);
        let ms = u64::from_le_bytes(ms.try_into().ok()?);
        Some((usize::try_from(n).ok()?, ms))
    }

    /// Drops the first record if it was sent; whether it did.
    fn forget_first(&mut self) -> bool {
        if self.first > self.sent {
            return false;
        }
        let Some((n, _)) = self.header(0) else {
            return false;
        };
        // Bytes at the front of a ring go without moving the others.
        self.ring.drain(..HEADER + n);
        self.sent_at -= HEADER + n;
        self.first += 1;
        true
    }

    /// Whether lines the client has not read yet fill the log past its
    /// maximum (sent lines make room first, so only unsent ones can).
    pub fn is_backlogged(&self) -> bool {
        self.ring.len() > self.max_bytes
    }

    /// Whether some lines wait for a stream.
    #[cfg(test)]
    pub fn has_unsent(&self) -> bool {
        self.sent < self.prog
    }

    /// Whether every line was handed to a stream.
    pub fn all_sent(&self) -> bool {
        self.sent >= self.prog
    }

    /// The next line not yet handed to a stream, marking it sent (copied
    /// only when it wraps around the end of the ring).
    #[cfg(test)]
    pub fn next_unsent(&mut self) -> Option<Cow<'_, str>> {
        self.next_unsent_before(None)
    }

    /// The same as [`RecoveryLog::next_unsent`], for a line whose
    /// progressive is below `hold` (the session's journal holds the lines
    /// from there on).
    pub fn next_unsent_before(&mut self, hold: Option<u64>) -> Option<Cow<'_, str>> {
        if self.sent >= self.prog || hold.is_some_and(|h| self.sent + 1 >= h) {
            return None;
        }
        let (n, _) = self.header(self.sent_at)?;
        let start = self.sent_at + HEADER;
        self.sent_at = start + n;
        self.sent += 1;
        let (a, b) = self.ring.as_slices();
        let end = start + n;
        // Every line went in as a whole `&str`: the lossy conversions
        // never replace anything.
        if end <= a.len() {
            Some(String::from_utf8_lossy(a.get(start..end)?))
        } else if start >= a.len() {
            Some(String::from_utf8_lossy(
                b.get(start - a.len()..end - a.len())?,
            ))
        } else {
            let mut joined = a.get(start..)?.to_vec();
            joined.extend_from_slice(b.get(..end - a.len())?);
            Some(Cow::Owned(String::from_utf8_lossy(&joined).into_owned()))
        }
    }

    /// Resumes after progressive `from`, if everything after it is kept.
    pub fn rewind(&mut self, from: u64) -> Result<(), (u64, u64)> {
        let oldest = self.first.saturating_sub(1);
        if from < oldest || from > self.prog {
            return Err((oldest, self.prog));
        }
        // Walks the records from the first (a recovery is rare).
        let mut at = 0;
        for _ in oldest..from {
            match self.header(at) {
                Some((n, _)) => at += HEADER + n,
                None => return Err((oldest, self.prog)),
            }
        }
        self.sent = from;
        self.sent_at = at;
        Ok(())
    }

    /// Forgets sent lines older than `window`, and beyond the maximum size.
    pub fn trim(&mut self, now: Instant, window: Duration) {
        let cutoff = now
            .checked_sub(window)
            .map(|t| t.saturating_duration_since(self.epoch).as_millis());
        while let Some((_, ms)) = self.header(0) {
            let old = cutoff.is_some_and(|c| u128::from(ms) < c);
            if !(old || self.ring.len() > self.max_bytes) || !self.forget_first() {
                break;
            }
        }
        // Give back what a burst left unused: buffers keep their largest
        // size unless told.
        let cap = self.ring.capacity();
        if cap > 4096 && self.ring.len() < cap / 4 {
            self.ring.shrink_to(self.ring.len() * 2);
        }
    }

    /// Forgets every line (the session is over; the progressives stay).
    pub fn clear(&mut self) {
        self.first = self.prog + 1;
        self.sent = self.prog;
        self.sent_at = 0;
        self.ring = VecDeque::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_from_a_kept_point_and_refuses_a_lost_one() {
        let now = Instant::now();
        let mut log = RecoveryLog::new(1 << 20);
        for i in 1..=5 {
            log.push(&format!("L{i}"), now);
        }
        let sent: Vec<String> =
            std::iter::from_fn(|| log.next_unsent().map(|l| l.into_owned())).collect();
        assert_eq!(sent, ["L1", "L2", "L3", "L4", "L5"]);
        log.rewind(3).unwrap();
        assert_eq!(log.next_unsent().as_deref(), Some("L4"));
        assert_eq!(log.rewind(6), Err((0, 5)));
        // Room for two records and not three: L1..L3 go.
        log.max_bytes = 2 * (HEADER + 2);
        log.trim(now, Duration::from_secs(60));
        assert_eq!(log.rewind(2), Err((3, 5)));
        assert!(log.rewind(3).is_ok());
        assert_eq!(log.next_unsent().as_deref(), Some("L4"));
        assert_eq!(log.next_unsent().as_deref(), Some("L5"));
    }

    #[test]
    fn counts_headers_and_capacity_not_just_text() {
        let now = Instant::now();
        let mut log = RecoveryLog::new(1 << 20);
        for _ in 0..1000 {
            log.push("U,1,1,x\r\n", now);
        }
        // 9 bytes of text a line, and a header of 12 for each.
        assert!(log.bytes() >= 1000 * (9 + HEADER), "{}", log.bytes());
    }

    #[test]
    fn stays_under_its_size_wraps_and_gives_memory_back() {
        let now = Instant::now();
        let max = 64 * 1024;
        let mut log = RecoveryLog::new(max);
        for i in 0..100_000 {
            let line = format!("U,1,1,{i}|some value\r\n");
            log.push(&line, now);
            // Lines read back whole, wherever the ring wraps.
            assert_eq!(log.next_unsent().as_deref(), Some(line.as_str()));
            log.trim(now, Duration::from_secs(60));
            assert!(log.bytes() <= max, "{} bytes after {i} lines", log.bytes());
        }
        assert!(log.ring.len() > max / 2, "the log keeps what fits");
        // Everything is older than a 1 s window a minute later: all goes,
        // and the ring shrinks.
        log.trim(now + Duration::from_secs(60), Duration::from_secs(1));
        assert_eq!(log.ring.len(), 0);
        assert!(log.bytes() <= 4096, "{}", log.bytes());
        assert_eq!(log.rewind(100_000), Ok(()));
    }

    #[test]
    fn unsent_lines_stay_whatever_their_age_and_size() {
        let now = Instant::now();
        let mut log = RecoveryLog::new(0);
        log.push("SUBOK,1,1,1\r\n", now);
        log.push("CONF,1,unlimited,filtered\r\n", now);
        log.trim(now + Duration::from_secs(600), Duration::from_secs(1));
        assert!(log.has_unsent());
        assert_eq!(log.next_unsent().as_deref(), Some("SUBOK,1,1,1\r\n"));
        assert_eq!(
            log.next_unsent().as_deref(),
            Some("CONF,1,unlimited,filtered\r\n")
        );
    }
}
