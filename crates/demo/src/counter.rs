//! `COUNTER`: items `rate-<N>` (1 <= N <= 100000) that update exactly N
//! times per second, for load and latency tests.
//!
//! Fields: `seq`, which counts the item's updates from 1 for the life of the
//! adapter (a resubscription continues it), and `ts`, the server time in
//! microseconds since the Unix epoch when the update was generated.
//!
//! Timers have millisecond resolution, so the generator works on an absolute
//! schedule: update `k` (counting from this subscription) is due at
//! `start + k / N` seconds; each wake-up emits every update due by then. The
//! rate never drifts, and rates above 1000/s come out as small batches.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use shoal_adapter::{AdapterError, DataProvider, ItemEvent, ItemEventListener};
use tokio::sync::Mutex as AsyncMutex;
use tokio::time::Instant;

use crate::clock;
use crate::generator::{Generators, StopToken};
use crate::listener::ListenerSlot;

/// The highest rate an item may ask for.
pub const MAX_RATE: u64 = 100_000;

/// Updates emitted in one go before yielding to other tasks, so catching up
/// after a stall does not monopolise a runtime worker.
const BATCH: u32 = 1_000;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Why an item name is not a counter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad COUNTER item name '{0}': expected rate-<N> with 1 <= N <= 100000")]
pub struct BadName(String);

impl From<BadName> for AdapterError {
    fn from(err: BadName) -> Self {
        AdapterError::bad_group(err.to_string())
    }
}

/// The rate of `rate-<N>`. N is plain decimal digits without sign or leading
/// zeros, so every rate has exactly one item name (and one sequence).
pub fn parse_rate(item: &str) -> Result<u64, BadName> {
    let bad = || BadName(item.to_owned());
    let digits = item.strip_prefix("rate-").ok_or_else(bad)?;
    if digits.is_empty()
        || digits.len() > 6
        || digits.starts_with('0')
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let rate: u64 = digits.parse().map_err(|_| bad())?;
    if rate > MAX_RATE {
        return Err(bad());
    }
    Ok(rate)
}

#[derive(Default)]
pub(crate) struct Counter {
    listener: ListenerSlot,
    generators: Generators,
    /// The last `seq` sent, by item, kept after unsubscribe so a later
    /// subscription continues it (at most 100000 entries). The async lock is
    /// held by the item's generator for its whole life: a generator started
    /// by a quick resubscribe waits for the previous one to finish, so the
    /// sequence is never sent out of order.
    sequences: Mutex<HashMap<String, Arc<AsyncMutex<u64>>>>,
}

impl Counter {
    pub(crate) fn new() -> Self {
        Self::default()
    }
}

impl DataProvider for Counter {
    fn set_listener(&self, listener: Arc<dyn ItemEventListener>) {
        self.listener.set(listener);
    }

    fn subscribe(&self, item: &str) -> Result<(), AdapterError> {
        let rate = parse_rate(item)?;
        let listener = self.listener.get()?;
        let seq = Arc::clone(self.sequences.lock().entry(item.to_owned()).or_default());
        let name = item.to_owned();
        self.generators
            .start(item, move |stop| run(name, rate, seq, listener, stop))
    }

    fn unsubscribe(&self, item: &str) {
        self.generators.stop(item);
    }

    fn is_snapshot_available(&self, _item: &str) -> bool {
        false
    }
}

/// The instant update number `k` of this run is due.
fn due_at(start: Instant, rate: u64, k: u64) -> Instant {
    // ceil(k / rate) in nanoseconds; u128 cannot overflow for any u64 k.
    let nanos = (u128::from(k) * NANOS_PER_SEC).div_ceil(u128::from(rate));
    let nanos = u64::try_from(nanos).unwrap_or(u64::MAX);
    start + Duration::from_nanos(nanos)
}

/// How many updates are due `elapsed` after the start: floor(rate * elapsed).
fn due_by(rate: u64, elapsed: Duration) -> u64 {
    let due = u128::from(rate) * elapsed.as_nanos() / NANOS_PER_SEC;
    u64::try_from(due).unwrap_or(u64::MAX)
}

async fn run(
    item: String,
    rate: u64,
    seq: Arc<AsyncMutex<u64>>,
    listener: Arc<dyn ItemEventListener>,
    mut stop: StopToken,
) {
    let mut seq = tokio::select! {
        biased;
        () = stop.stopped() => return,
        seq = seq.lock_owned() => seq,
    };
    let start = Instant::now();
    let mut emitted: u64 = 0;
    loop {
        tokio::select! {
            biased;
            () = stop.stopped() => return,
            () = tokio::time::sleep_until(due_at(start, rate, emitted + 1)) => {}
        }
        let due = due_by(rate, start.elapsed());
        let mut batch = 0;
        while emitted < due {
            // Checked per update: a batch can be long at high rates.
            if stop.is_stopped() {
                return;
            }
            *seq += 1;
            emitted += 1;
            let event = ItemEvent::new()
                .with("seq", seq.to_string())
                .with("ts", clock::unix_micros().to_string());
            listener.update(&item, event, false);
            batch += 1;
            if batch == BATCH {
                batch = 0;
                tokio::task::yield_now().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse_rate("rate-1"), Ok(1));
        assert_eq!(parse_rate("rate-1000"), Ok(1000));
        assert_eq!(parse_rate("rate-100000"), Ok(100_000));
        for bad in [
            "rate-0",
            "rate-100001",
            "rate-x",
            "rate--1",
            "rate-",
            "rate-+5",
            "rate-01",
            "rate-1 ",
            " rate-1",
            "rate-1x",
            "rate-99999999999999999999999",
            "Rate-1",
            "rate1",
            "",
        ] {
            assert_eq!(parse_rate(bad), Err(BadName(bad.to_owned())), "{bad:?}");
        }
    }

    #[test]
    fn error_names_the_item() {
        let err = AdapterError::from(BadName("x".into()));
        assert_eq!(err.code, 21);
        assert_eq!(
            err.message,
            "bad COUNTER item name 'x': expected rate-<N> with 1 <= N <= 100000"
        );
    }

    #[test]
    fn schedule_is_exact() {
        assert_eq!(due_by(1000, Duration::from_millis(1)), 1);
        assert_eq!(due_by(3, Duration::from_millis(999)), 2);
        assert_eq!(due_by(3, Duration::from_secs(1)), 3);
        assert_eq!(due_by(100_000, Duration::from_secs(10)), 1_000_000);
        // Each update is due exactly when due_by first counts it.
        let start = Instant::now();
        for rate in [1, 3, 7, 1000, 99_999, 100_000] {
            for k in [1, 2, 3, 10, 12_345] {
                let at = due_at(start, rate, k) - start;
                assert_eq!(due_by(rate, at), k, "rate {rate} k {k}");
                assert_eq!(
                    due_by(rate, at - Duration::from_nanos(1)),
                    k - 1,
                    "rate {rate} k {k}"
                );
            }
        }
    }
}
