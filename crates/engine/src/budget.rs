//! The server-wide memory budget of session buffers.
//!
//! Every session counts what it holds (live updates queued for its stream,
//! its recovery log, its uncounted lines) and reports each change to one
//! shared atomic counter, so the total is known at any time without walking
//! the sessions. The engine refuses new sessions while the total is over the
//! budget, and its reaper closes the sessions that hold the most until the
//! total is back under it (see `Engine::enforce_budget`).

use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug)]
pub(crate) struct Budget {
    used: AtomicUsize,
    /// Most bytes all sessions together may hold.
    pub limit: usize,
}

impl Budget {
    pub fn new(limit: usize) -> Self {
        Self {
            used: AtomicUsize::new(0),
            limit,
        }
    }

    /// Bytes held by all sessions now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    pub fn is_over(&self) -> bool {
        self.used() > self.limit
    }

    /// Moves a session's share from `before` to `after` bytes.
    pub fn update(&self, before: usize, after: usize) {
        if after > before {
            self.used.fetch_add(after - before, Ordering::Relaxed);
        } else if before > after {
            self.used.fetch_sub(before - after, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_and_come_back_to_zero() {
        let b = Budget::new(100);
        b.update(0, 60);
        b.update(0, 30);
        assert!(!b.is_over());
        b.update(30, 50);
        assert_eq!(b.used(), 110);
        assert!(b.is_over());
        b.update(60, 0);
        b.update(50, 0);
        assert_eq!(b.used(), 0);
    }
}
