//! A session: its subscriptions, the notifications waiting for a stream,
//! and the recovery log.

use crate::config::EngineConfig;
use crate::log::RecoveryLog;
use crate::subscription::{Delivery, Subscription, Take};
use crate::SetRuntime;
use parking_lot::Mutex;
use shoal_adapter::SessionInfo;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Debug)]
pub struct Session {
    pub id: String,
    pub info: SessionInfo,
    pub(crate) set: Arc<SetRuntime>,
    pub(crate) config: Arc<EngineConfig>,
    pub(crate) state: Mutex<State>,
    /// Wakes the bound stream when something is ready.
    pub(crate) wake: Notify,
    pub(crate) sequences: Mutex<HashMap<String, Arc<crate::message::Sequence>>>,
    /// The session's turn: its control and message requests are executed
    /// one at a time, in the order they arrive, whatever connection they
    /// come on (tokio's mutex is fair: waiters are served first come, first
    /// served).
    pub(crate) turn: tokio::sync::Mutex<()>,
    /// Client messages accepted and not yet processed, at most
    /// [`crate::message::MAX_PENDING_MESSAGES`]; a client that sends more
    /// waits for room (its connection is read no further meanwhile).
    pub(crate) pending_messages: Arc<tokio::sync::Semaphore>,
    pub(crate) created: Instant,
}

#[derive(Debug)]
pub(crate) struct State {
    pub subs: HashMap<u32, Subscription>,
    /// Sub-items with something to send, round-robin.
    pub ready: VecDeque<(u32, usize)>,
    pub log: RecoveryLog,
    /// Uncounted notifications for the stream (`CONS`, ...).
    pub side: VecDeque<String>,
    /// Incremented at each bind: a stream whose generation is stale stops.
    pub gen: u64,
    pub bound: bool,
    pub unbound_since: Instant,
    /// How long the session may stay unbound before it expires.
    pub keep_unbound: Duration,
    /// Why the session ended, once it has.
    pub closed: Option<(i32, String)>,
    /// A `force_rebind` asks the stream to end with `LOOP`.
    pub force_loop: bool,
    /// `LS_close_socket=true` on `force_rebind` or `destroy`: the transport
    /// closes the connection after the last line.
    pub close_socket: bool,
    /// The client address announced last (`CLIENTIP` is resent on change).
    pub client_ip: String,
}

impl Session {
    pub(crate) fn new(
        id: String,
        info: SessionInfo,
        set: Arc<SetRuntime>,
        config: Arc<EngineConfig>,
    ) -> Self {
        let state = State {
            subs: HashMap::new(),
            ready: VecDeque::new(),
            log: RecoveryLog::new(),
            side: VecDeque::new(),
            gen: 0,
            bound: false,
            unbound_since: Instant::now(),
            keep_unbound: config.session_timeout,
            closed: None,
            force_loop: false,
            close_socket: false,
            client_ip: String::new(),
        };
        Self {
            id,
            info,
            set,
            config,
            state: Mutex::new(state),
            wake: Notify::new(),
            sequences: Mutex::new(HashMap::new()),
            turn: tokio::sync::Mutex::new(()),
            pending_messages: Arc::new(tokio::sync::Semaphore::new(
                crate::message::MAX_PENDING_MESSAGES,
            )),
            created: Instant::now(),
        }
    }

    pub fn adapter_set(&self) -> &str {
        &self.set.name
    }

    /// Queues a delivery from an item; `false` if the subscription is gone
    /// (the item then forgets this subscriber).
    pub(crate) fn deliver(&self, sub_id: u32, index: usize, d: Delivery) -> bool {
        let mut st = self.state.lock();
        if st.closed.is_some() {
            return false;
        }
        let Some(sub) = st.subs.get_mut(&sub_id) else {
            return false;
        };
        let dispatch = sub.dispatch;
        let Some(si) = sub.items.get_mut(index - 1) else {
            return false;
        };
        si.push(d, &dispatch);
        if !si.in_ready && si.has_pending() {
            si.in_ready = true;
            st.ready.push_back((sub_id, index));
            drop(st);
            self.wake.notify_waiters();
        }
        true
    }

    /// Appends a counted notification (SUBOK, MSGDONE, ...) after everything
    /// already produced.
    pub(crate) fn push_counted(&self, line: String) {
        let mut st = self.state.lock();
        if st.closed.is_some() {
            return;
        }
        st.log.push(line, Instant::now());
        drop(st);
        self.wake.notify_waiters();
    }

    /// Queues an uncounted notification for the stream.
    pub(crate) fn push_side(&self, line: String) {
        self.state.lock().side.push_back(line);
        self.wake.notify_waiters();
    }

    /// Counted notifications produced so far.
    pub fn progressive(&self) -> u64 {
        self.state.lock().log.prog
    }

    pub fn is_closed(&self) -> bool {
        self.state.lock().closed.is_some()
    }

    /// Marks the session ended and hands back its subscriptions, so that the
    /// caller releases the items without holding the session's lock.
    pub(crate) fn end(&self, code: i32, message: &str) -> Option<Vec<Subscription>> {
        let mut st = self.state.lock();
        if st.closed.is_some() {
            return None;
        }
        st.closed = Some((code, message.to_owned()));
        st.ready.clear();
        let subs = st.subs.drain().map(|(_, s)| s).collect();
        drop(st);
        self.wake.notify_waiters();
        Some(subs)
    }

    /// Whether the session has been unbound for longer than it may be.
    pub(crate) fn expired(&self, now: Instant) -> bool {
        let st = self.state.lock();
        !st.bound && st.closed.is_none() && now.duration_since(st.unbound_since) > st.keep_unbound
    }
}

impl State {
    /// Moves what is ready into `out`, up to about `budget` bytes: uncounted
    /// lines, then counted lines not yet sent, then new updates taken from the
    /// item buffers in turn. Returns when a frequency-limited item may send.
    pub fn produce(&mut self, out: &mut String, budget: usize, now: Instant) -> Option<Instant> {
        while let Some(l) = self.side.pop_front() {
            out.push_str(&l);
        }
        while out.len() < budget {
            match self.log.next_unsent() {
                Some(l) => out.push_str(l),
                None => break,
            }
        }
        let mut waiting: Vec<(u32, usize)> = Vec::new();
        let mut next_due: Option<Instant> = None;
        while out.len() < budget {
            let Some((sub_id, index)) = self.ready.pop_front() else {
                break;
            };
            let Some(sub) = self.subs.get_mut(&sub_id) else {
                continue;
            };
            let dispatch = sub.dispatch;
            let Some(si) = sub.items.get_mut(index - 1) else {
                continue;
            };
            match si.take(sub_id, index, &dispatch, now) {
                Take::Line(line) => {
                    out.push_str(&line);
                    self.log.push(line, now);
                    self.log.sent = self.log.prog;
                    if si.has_pending() {
                        self.ready.push_back((sub_id, index));
                    } else {
                        si.in_ready = false;
                    }
                }
                Take::Wait(t) => {
                    next_due = Some(next_due.map_or(t, |d: Instant| d.min(t)));
                    waiting.push((sub_id, index));
                }
                Take::Empty => si.in_ready = false,
            }
        }
        self.ready.extend(waiting);
        next_due
    }
}
