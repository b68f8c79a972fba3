//! An ordered outbox for adapters whose events come from outside a generator
//! (client messages for the chat and the portfolio).
//!
//! Why not call the listener directly? `subscribe` must not call back into
//! the server (it may hold its own locks while subscribing), and client
//! messages may arrive concurrently: queueing under the adapter's state lock
//! and delivering from one task keeps events in the order the state changed,
//! with no lock of ours held while the listener runs.
//!
//! The outbox is bounded: a client message waits for [`Emitter::room`] before
//! it changes anything, so clients that send faster than events are
//! delivered are held back (their connections are read no further) instead
//! of filling memory. Snapshots, a bounded number of rows, do not wait.
//!
//! Each opening of an item gets a new generation; events queued for an
//! earlier subscription are dropped instead of leaking into the next one
//! (say, an UPDATE arriving before the new subscription's snapshot).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use shoal_adapter::{AdapterError, ItemEvent, ItemEventListener};
use tokio::sync::{mpsc, Notify};

use crate::generator::runtime;

/// What to tell the listener about an item.
#[derive(Debug)]
pub(crate) enum Emission {
    Update { event: ItemEvent, snapshot: bool },
    EndOfSnapshot,
}

struct Queued {
    item: String,
    generation: u64,
    emission: Emission,
}

#[derive(Default)]
struct State {
    tx: Option<mpsc::UnboundedSender<Queued>>,
    /// Open items and the generation of their current subscription.
    open: HashMap<String, u64>,
    last_generation: u64,
}

/// Events queued and not yet delivered past which client messages wait.
pub const OUTBOX_LIMIT: usize = 4096;

/// How full the outbox is, shared with the delivery task.
#[derive(Default)]
struct Fill {
    queued: AtomicUsize,
    drained: Notify,
}

#[derive(Default)]
pub(crate) struct Emitter {
    state: Arc<Mutex<State>>,
    fill: Arc<Fill>,
}

impl Emitter {
    /// Starts accepting events for `item`, starting the delivery task if it
    /// is not running (it needs a tokio runtime).
    pub(crate) fn open(
        &self,
        item: &str,
        listener: Arc<dyn ItemEventListener>,
    ) -> Result<(), AdapterError> {
        let mut state = self.state.lock();
        // The task is gone if the runtime that ran it shut down (tests build
        // one runtime each); start a new one on the caller's runtime.
        let running = state.tx.as_ref().is_some_and(|tx| !tx.is_closed());
        if !running {
            let handle = runtime()?;
            // Whatever the old task left undelivered is gone with it.
            self.fill.queued.store(0, Ordering::Release);
            tracing::debug!(item, "starting the event delivery task");
            let (tx, rx) = mpsc::unbounded_channel();
            handle.spawn(deliver(
                rx,
                Arc::downgrade(&self.state),
                self.fill.clone(),
                listener,
            ));
            state.tx = Some(tx);
        }
        state.last_generation += 1;
        let generation = state.last_generation;
        state.open.insert(item.to_owned(), generation);
        Ok(())
    }

    /// Stops accepting events for `item`; those still queued are dropped.
    pub(crate) fn close(&self, item: &str) {
        self.state.lock().open.remove(item);
    }

    /// Waits until the outbox holds fewer than [`OUTBOX_LIMIT`] events.
    /// Callers that wait at once may each push one more, so the bound is
    /// the limit plus the messages being processed (a few per session).
    pub(crate) async fn room(&self) {
        loop {
            let drained = self.fill.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            if self.fill.queued.load(Ordering::Acquire) < OUTBOX_LIMIT {
                return;
            }
            drained.await;
        }
    }

    /// Queues `emission` if `item` is open; returns whether it was queued.
    pub(crate) fn push(&self, item: &str, emission: Emission) -> bool {
        let state = self.state.lock();
        let (Some(&generation), Some(tx)) = (state.open.get(item), state.tx.as_ref()) else {
            return false;
        };
        self.fill.queued.fetch_add(1, Ordering::AcqRel);
        let sent = tx
            .send(Queued {
                item: item.to_owned(),
                generation,
                emission,
            })
            .is_ok();
        if !sent {
            self.fill.queued.fetch_sub(1, Ordering::AcqRel);
        }
        sent
    }
}

/// The delivery task. It holds the state weakly: when the adapter is
/// dropped, the sender goes with it and `recv` ends the task.
async fn deliver(
    mut rx: mpsc::UnboundedReceiver<Queued>,
    state: Weak<Mutex<State>>,
    fill: Arc<Fill>,
    listener: Arc<dyn ItemEventListener>,
) {
    while let Some(queued) = rx.recv().await {
        fill.queued.fetch_sub(1, Ordering::AcqRel);
        fill.drained.notify_waiters();
        let Some(state) = state.upgrade() else { return };
        let current = state.lock().open.get(&queued.item) == Some(&queued.generation);
        drop(state);
        if !current {
            continue;
        }
        match queued.emission {
            Emission::Update { event, snapshot } => listener.update(&queued.item, event, snapshot),
            Emission::EndOfSnapshot => listener.end_of_snapshot(&queued.item),
        }
    }
}
