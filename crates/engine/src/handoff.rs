//! Session handoff, the owner's side: every session keeps its journal in
//! the cluster's broker (see the crate `shoal-handoff`), so that another
//! node can adopt it if this one dies ([`crate::adopt`]).
//!
//! Sessions note their lines in their [`Journal`](shoal_handoff::Journal)
//! under their own lock; one task, the **flusher**, writes the entries of
//! every session that has some in one batch, then releases the lines they
//! held. While a batch is in flight the next entries gather, so the broker
//! sees one write per round trip however many sessions change.

use crate::session::{unlock_and_wake, Session};
use crate::Engine;
use parking_lot::Mutex;
use shoal_handoff::{Store, Write};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// How often the flusher looks for checkpoints due.
const TICK: Duration = Duration::from_secs(1);
/// How often the records of every session are renewed (their expiry in the
/// broker is ten minutes).
const TOUCH_EVERY: Duration = Duration::from_secs(60);
/// Shortest time between two log lines about the broker refusing writes.
const WARN_EVERY: Duration = Duration::from_secs(10);
/// Longest wait of a control request's answer for the session's journal
/// (see [`Session::journal_settled`]).
const SETTLE_WITHIN: Duration = Duration::from_secs(2);

pub(crate) struct Handoff {
    pub store: Arc<dyn Store>,
    /// Sessions with journal entries to write, by id.
    dirty: Mutex<Vec<String>>,
    /// Sessions that ended here: their records go.
    ended: Mutex<Vec<String>>,
    wake: Notify,
    /// Told after every batch written (or failed).
    settled: Notify,
}

impl std::fmt::Debug for Handoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handoff")
            .field("node", &self.store.node())
            .finish_non_exhaustive()
    }
}

impl Handoff {
    pub fn new(store: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(Self {
            store,
            dirty: Mutex::new(Vec::new()),
            ended: Mutex::new(Vec::new()),
            wake: Notify::new(),
            settled: Notify::new(),
        })
    }

    /// Session `id` has journal entries to write.
    pub fn mark(&self, id: &str) {
        self.dirty.lock().push(id.to_owned());
        self.wake.notify_one();
    }

    /// Session `id` ended here: its records go.
    pub fn ended(&self, id: &str) {
        self.ended.lock().push(id.to_owned());
        self.wake.notify_one();
    }

    /// Runs the flusher until the engine is dropped.
    pub fn spawn(self: &Arc<Self>, engine: Weak<Engine>) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last_touch = Instant::now();
            let mut last_warn: Option<Instant> = None;
            loop {
                let periodic = tokio::select! {
                    _ = me.wake.notified() => false,
                    _ = tick.tick() => true,
                };
                let Some(engine) = engine.upgrade() else {
                    return;
                };
                if periodic {
                    me.checkpoints(&engine);
                    if last_touch.elapsed() >= TOUCH_EVERY {
                        last_touch = Instant::now();
                        me.touch(&engine).await;
                    }
                }
                if let Err(e) = me.flush(&engine).await {
                    if last_warn.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
                        last_warn = Some(Instant::now());
                        tracing::warn!("session journals could not be written to the broker: {e}; sessions go on, and cannot be taken over by another node until the broker answers again");
                    }
                }
                let ended = std::mem::take(&mut *me.ended.lock());
                if !ended.is_empty() {
                    if let Err(e) = me.store.remove(&ended).await {
                        tracing::debug!("records of ended sessions not removed (they expire): {e}");
                    }
                }
            }
        });
    }

    /// Writes a checkpoint into every journal that wants one.
    /// Lets go the lines held through a long outage.
    fn checkpoints(&self, engine: &Engine) {
        let now = Instant::now().into_std();
        let mut given_up = 0usize;
        for s in engine.sessions.read().values() {
            let mut st = s.state.lock();
            let prog = st.log.prog;
            let mut release = false;
            if let Some(j) = st.journal.as_mut() {
                if !j.is_disowned() {
                    release = j.give_up(now);
                    if j.wants_checkpoint(now) {
                        j.checkpoint(prog, now);
                    }
                }
            }
            s.ask_flush(&mut st);
            if release {
                given_up += 1;
                unlock_and_wake(st);
            }
        }
        if given_up > 0 {
            tracing::warn!(
                sessions = given_up,
                "the broker has not taken these sessions' journals for {} s: they go on without one, and cannot be taken over by another node until the broker answers again",
                shoal_handoff::journal::HOLD_THROUGH_OUTAGE.as_secs()
            );
        }
    }

    async fn touch(&self, engine: &Engine) {
        let ids: Vec<String> = engine
            .sessions
            .read()
            .values()
            .filter(|s| {
                s.state
                    .lock()
                    .journal
                    .as_ref()
                    .is_some_and(|j| !j.is_disowned())
            })
            .map(|s| s.id.clone())
            .collect();
        if let Err(e) = self.store.touch(&ids).await {
            tracing::debug!("session records not renewed: {e}");
        }
    }

    /// Writes what the marked sessions have, in one batch.
    async fn flush(&self, engine: &Engine) -> Result<(), shoal_handoff::StoreError> {
        let mut ids = std::mem::take(&mut *self.dirty.lock());
        ids.sort_unstable();
        ids.dedup();
        let mut batch: Vec<Write> = Vec::new();
        let mut who: Vec<Arc<Session>> = Vec::new();
        for id in ids {
            let Some(s) = engine.session(&id) else {
                continue;
            };
            let mut st = s.state.lock();
            st.flush_asked = false;
            if let Some(w) = st.journal.as_mut().and_then(|j| j.take(&id)) {
                batch.push(w);
                drop(st);
                who.push(s);
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        let result = self.store.write(&batch).await;
        let now = Instant::now().into_std();
        // Whatever happened, the waiting control requests look again (after
        // the journals below are updated: a waiter that was told too early
        // finds its mark unsettled and waits for the next batch's news).
        let _told = TellOnDrop(&self.settled);
        let mut lost = Vec::new();
        for (i, s) in who.iter().enumerate() {
            let mut st = s.state.lock();
            if let Some(j) = st.journal.as_mut() {
                match &result {
                    Ok(owned) => {
                        let owned = owned.get(i).copied().unwrap_or(false);
                        j.committed(owned);
                        if !owned {
                            lost.push(s.clone());
                        }
                    }
                    Err(_) => j.failed(now),
                }
            }
            s.ask_flush(&mut st);
            // The lines the entries held may go now.
            unlock_and_wake(st);
        }
        for s in lost {
            // Its client, if it is still here, recovers it there.
            tracing::warn!(session = %s.id, "another node took this session over: it ends here");
            engine.hand_over(&s);
        }
        result.map(|_| ())
    }
}

/// Wakes every waiter of a [`Notify`] when dropped.
struct TellOnDrop<'a>(&'a Notify);

impl Drop for TellOnDrop<'_> {
    fn drop(&mut self) {
        self.0.notify_waiters();
    }
}

impl Session {
    /// Waits until the broker has every journal entry this session made so
    /// far (or their write failed, or another node took the session), at
    /// most [`SETTLE_WITHIN`].
    ///
    /// A control request's `REQOK` waits for it: the official clients send
    /// again, on their next connection, every subscription request they got
    /// no `REQOK` for, and forget one that got it. Were the `REQOK` of a new
    /// subscription to leave before the journal had it, and the node to die
    /// then, the node taking the session over would not know the
    /// subscription, and the client would wait forever for its `SUBOK`;
    /// the same for an unsubscription, whose items would come again.
    pub(crate) async fn journal_settled(&self) {
        let Some(h) = &self.handoff else {
            return;
        };
        let Some(mark) = self.state.lock().journal.as_ref().map(|j| j.written_mark()) else {
            return;
        };
        let deadline = Instant::now() + SETTLE_WITHIN;
        loop {
            let told = h.settled.notified();
            tokio::pin!(told);
            // Registered before the look below, so no news is missed.
            told.as_mut().enable();
            let settled = {
                let st = self.state.lock();
                st.journal.as_ref().is_none_or(|j| j.settled(mark))
            };
            if settled {
                return;
            }
            if tokio::time::timeout_at(deadline, told).await.is_err() {
                tracing::debug!(session = %self.id, "the journal was not written in time: the request is answered without waiting longer");
                return;
            }
        }
    }

    /// Tells the flusher, once, that this session's journal has entries to
    /// write.
    pub(crate) fn ask_flush(&self, st: &mut crate::session::State) {
        if st.flush_asked {
            return;
        }
        let Some(h) = &self.handoff else {
            return;
        };
        if st.journal.as_ref().is_some_and(|j| j.has_pending()) {
            st.flush_asked = true;
            h.mark(&self.id);
        }
    }
}
