//! Per-item generator tasks, started on subscribe and stopped on unsubscribe.
//!
//! Generators are tokio tasks rather than threads: the `COUNTER` adapter may
//! have thousands of items subscribed at once, and the server always calls
//! `subscribe` from inside its tokio runtime. Outside a runtime `subscribe`
//! fails with a clear error instead of panicking.

use std::collections::HashMap;
use std::future::Future;

use parking_lot::Mutex;
use shoal_adapter::AdapterError;
use tokio::runtime::Handle;
use tokio::sync::watch;

/// The runtime to spawn generators on: the caller's.
pub(crate) fn runtime() -> Result<Handle, AdapterError> {
    Handle::try_current().map_err(|_| {
        AdapterError::new(
            -1,
            "DEMO data adapters generate updates on a tokio runtime, \
             but subscribe was called outside one",
        )
    })
}

/// Tells a generator to stop. The owning [`Generators`] keeps the sending
/// half; dropping it (on unsubscribe, or when the adapter itself goes away)
/// closes the channel, which is the stop signal.
#[derive(Debug)]
pub(crate) struct StopToken {
    rx: watch::Receiver<()>,
}

impl StopToken {
    /// Whether the generator should stop: checked before each event so a
    /// burst stops promptly.
    pub(crate) fn is_stopped(&self) -> bool {
        self.rx.has_changed().is_err()
    }

    /// Completes once the generator should stop; for `select!` against timers.
    pub(crate) async fn stopped(&mut self) {
        // Nothing is ever sent, so `changed` only returns once the sender is
        // dropped; the loop is for robustness should that ever change.
        while self.rx.changed().await.is_ok() {}
    }
}

/// The running generators of one data adapter, by item name.
#[derive(Default)]
pub(crate) struct Generators {
    running: Mutex<HashMap<String, watch::Sender<()>>>,
}

impl Generators {
    /// Spawns the generator `make` builds for `item`.
    ///
    /// A generator that has just been told to stop may still be finishing
    /// its last event; generators that must not overlap (to keep an item's
    /// events in order) take a per-item async lock first, see `counter` and
    /// `quote`.
    pub(crate) fn start<F>(
        &self,
        item: &str,
        make: impl FnOnce(StopToken) -> F,
    ) -> Result<(), AdapterError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = runtime()?;
        let mut running = self.running.lock();
        if running.contains_key(item) {
            // The server subscribes an item once until it unsubscribes it;
            // a second generator would double the updates, so refuse.
            return Err(AdapterError::new(
                -1,
                format!("item {item} is already subscribed"),
            ));
        }
        let (tx, rx) = watch::channel(());
        // Spawning does not run the task inline, so holding `running` here
        // cannot deadlock against the generator.
        handle.spawn(make(StopToken { rx }));
        running.insert(item.to_owned(), tx);
        tracing::debug!(item, "generator started");
        Ok(())
    }

    /// Signals the generator of `item` to stop; a no-op if there is none.
    pub(crate) fn stop(&self, item: &str) {
        if self.running.lock().remove(item).is_some() {
            tracing::debug!(item, "generator told to stop");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_runtime_is_an_error_not_a_panic() {
        let generators = Generators::default();
        let err = generators
            .start("x", |_stop| async {})
            .expect_err("no runtime here");
        assert!(err.message.contains("tokio runtime"), "{err}");
    }

    #[tokio::test]
    async fn stop_token_follows_the_sender() {
        let timeout = std::time::Duration::from_secs(5);
        let generators = Generators::default();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let (seen_tx, seen_rx) = tokio::sync::oneshot::channel();
        generators
            .start("x", |mut stop| async move {
                let _ = started_tx.send(stop.is_stopped());
                stop.stopped().await;
                let _ = seen_tx.send(stop.is_stopped());
            })
            .expect("runtime present");
        let stopped_at_start = tokio::time::timeout(timeout, started_rx)
            .await
            .expect("generator started")
            .expect("generator reported");
        assert!(!stopped_at_start);
        assert!(generators.start("x", |_| async {}).is_err());
        generators.stop("x");
        let stopped = tokio::time::timeout(timeout, seen_rx)
            .await
            .expect("generator saw the stop")
            .expect("generator reported");
        assert!(stopped);
        // The name is free again.
        generators.start("x", |_| async {}).expect("restart");
    }
}
