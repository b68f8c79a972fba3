//! A session's bandwidth limit (TLCP `CONS`) and the token bucket that
//! paces its notifications to it.
//!
//! The limit in force is the lower of what the metadata adapter grants the
//! user at session creation and what the client asks for (on create, then
//! with `constrain`); either may be unlimited. It is in kbit/s of
//! notification text, 1 kbit being 1000 bits: a limit of 10 lets 1250 bytes
//! of lines go per second.
//!
//! The bucket belongs to the session, not to a stream, so that the rate
//! holds across rebinds and polls. It fills continuously at the rate, up to
//! one second of it (at least one byte): a client that read nothing for a
//! while gets at most one second's worth at once. Every byte handed to the
//! transport is taken from it, the head, `PROBE`, `SYNC`, `LOOP` and `END`
//! included, though those never wait for it. Data goes while the bucket
//! holds at least a byte, and a line is never cut: the last line taken may
//! leave the bucket in debt, which the following lines wait out. A line
//! larger than the whole bucket thus still goes, and the average rate holds.
//!
//! An unlimited session has no bucket: the stream checks one `Option`.

use shoal_protocol::Line;
use std::time::Duration;
use tokio::time::Instant;

/// Bytes of notification text per second for one kbit/s.
const BYTES_PER_KBPS: f64 = 1000.0 / 8.0;

/// Once the bucket is empty, the stream waits until it holds this much of
/// the rate (at most the whole bucket), so that a fast session is woken
/// every few tens of milliseconds, not at every line.
const RESUME: Duration = Duration::from_millis(20);

/// Longest single wait for the bucket; the stream looks again after it.
const LONGEST_WAIT: Duration = Duration::from_secs(3600);

#[derive(Debug, Default)]
pub(crate) struct Bandwidth {
    /// What the metadata adapter granted, kbit/s; `None`: unlimited.
    allowed: Option<f64>,
    /// What the client asked for last, kbit/s; `None`: unlimited.
    requested: Option<f64>,
    /// Present when the effective limit is a number.
    bucket: Option<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    /// Bytes per second.
    rate: f64,
    /// Most bytes the bucket holds.
    capacity: f64,
    /// Bytes that may go now; negative when in debt.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    at: Instant,
}

/// A limit of 0 (or less) means none, as the adapters' convention says.
fn positive(kbps: Option<f64>) -> Option<f64> {
    kbps.filter(|k| *k > 0.0 && k.is_finite())
}

impl Bandwidth {
    pub fn new(allowed: Option<f64>, requested: Option<f64>, now: Instant) -> Self {
        let mut bw = Self {
            allowed: positive(allowed),
            requested: None,
            bucket: None,
        };
        bw.request(requested, now);
        bw
    }

    /// A client's request: a number of kbit/s, or `None` for unlimited.
    /// The bucket keeps what it holds, within its new size; a session that
    /// had no limit starts with a full bucket.
    pub fn request(&mut self, requested: Option<f64>, now: Instant) {
        self.requested = positive(requested);
        let Some(kbps) = self.effective() else {
            self.bucket = None;
            return;
        };
        let rate = kbps * BYTES_PER_KBPS;
        let capacity = rate.max(1.0);
        match &mut self.bucket {
            Some(b) => {
                b.refill(now);
                b.rate = rate;
                b.capacity = capacity;
                b.tokens = b.tokens.min(capacity);
            }
            None => {
                self.bucket = Some(Bucket {
                    rate,
                    capacity,
                    tokens: capacity,
                    at: now,
                })
            }
        }
    }

    /// The limit in force, kbit/s; `None`: unlimited.
    pub fn effective(&self) -> Option<f64> {
        match (self.allowed, self.requested) {
            (Some(a), Some(r)) => Some(a.min(r)),
            (a, r) => a.or(r),
        }
    }

    /// The `CONS` line that announces the limit in force.
    pub fn line(&self) -> Line<'static> {
        Line::Cons(self.effective())
    }

    /// Whole bytes that may go now; `None` when unlimited.
    pub fn available(&mut self, now: Instant) -> Option<usize> {
        let b = self.bucket.as_mut()?;
        b.refill(now);
        // A float-to-integer `as` saturates: a negative debt gives 0.
        Some(b.tokens as usize)
    }

    /// Takes `bytes` handed to the transport from the bucket.
    pub fn spend(&mut self, bytes: usize, now: Instant) {
        if let Some(b) = self.bucket.as_mut() {
            b.refill(now);
            b.tokens -= bytes as f64;
        }
    }

    /// When an empty (or indebted) bucket will hold enough for the stream
    /// to send again; `None` when unlimited.
    pub fn ready_at(&self) -> Option<Instant> {
        let b = self.bucket.as_ref()?;
        let resume = (b.rate * RESUME.as_secs_f64()).clamp(1.0, b.capacity);
        let wait = ((resume - b.tokens) / b.rate).max(0.0);
        let wait = Duration::try_from_secs_f64(wait)
            .unwrap_or(LONGEST_WAIT)
            .min(LONGEST_WAIT);
        Some(b.at + wait)
    }
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.at = self.at.max(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_the_lower_of_grant_and_request() {
        let now = Instant::now();
        let mut bw = Bandwidth::new(Some(40.0), None, now);
        assert_eq!(bw.effective(), Some(40.0));
        for (asked, got) in [
            (Some(20.1), Some(20.1)),
            (Some(70.1), Some(40.0)),
            (Some(39.0), Some(39.0)),
            (None, Some(40.0)),
        ] {
            bw.request(asked, now);
            assert_eq!(bw.effective(), got);
        }
        let mut free = Bandwidth::new(None, None, now);
        assert_eq!(free.effective(), None);
        assert_eq!(free.available(now), None);
        free.request(Some(10.0), now);
        assert_eq!(free.effective(), Some(10.0));
        // 0 asks for no limit, as a grant of 0 gives none.
        free.request(Some(0.0), now);
        assert_eq!(free.effective(), None);
        assert_eq!(Bandwidth::new(Some(0.0), None, now).effective(), None);
    }

    #[test]
    fn the_bucket_fills_at_the_rate_up_to_one_second_and_lends_one_line() {
        let t0 = Instant::now();
        // 8 kbit/s: 1000 bytes per second.
        let mut bw = Bandwidth::new(Some(8.0), None, t0);
        assert_eq!(bw.available(t0), Some(1000));
        bw.spend(1000, t0);
        assert_eq!(bw.available(t0), Some(0));
        // Waits for 20 ms of the rate.
        assert_eq!(bw.ready_at(), Some(t0 + Duration::from_millis(20)));
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(bw.available(t1), Some(500));
        // A line larger than what is left goes, and leaves a debt.
        bw.spend(700, t1);
        assert_eq!(bw.available(t1), Some(0));
        assert_eq!(bw.ready_at(), Some(t1 + Duration::from_millis(220)));
        // Never more than one second of the rate.
        assert_eq!(bw.available(t1 + Duration::from_secs(60)), Some(1000));
        // A lower limit shrinks the bucket.
        bw.request(Some(4.0), t1 + Duration::from_secs(60));
        assert_eq!(bw.available(t1 + Duration::from_secs(60)), Some(500));
    }
}
