//! A session: its subscriptions, the notifications waiting for a stream,
//! and the recovery log.

use crate::bandwidth::Bandwidth;
use crate::budget::Budget;
use crate::config::EngineConfig;
use crate::log::RecoveryLog;
use crate::stats::{self, BoundKind, ChunkTally, Stats};
use crate::subscription::{Delivery, Subscription, Take};
use crate::SetRuntime;
use parking_lot::Mutex;
use shoal_adapter::SessionInfo;
use shoal_handoff::{Journal, LineKind};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug)]
pub struct Session {
    pub id: String,
    pub info: SessionInfo,
    pub(crate) set: Arc<SetRuntime>,
    pub(crate) config: Arc<EngineConfig>,
    pub(crate) state: Mutex<State>,
    /// Turns true when the session ends (see `Stream::ended`).
    pub(crate) ended: tokio::sync::watch::Sender<bool>,
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
    /// The same moment on the wall clock, for people (the monitor's
    /// `sessions` item shows it).
    pub(crate) created_at: std::time::SystemTime,
    /// The engine's statistics (streams count what they write into it).
    pub(crate) stats: Arc<Stats>,
    /// The kind of the stream bound now, for the snapshot's per-transport
    /// split (read without the session's lock).
    pub(crate) bound_kind: BoundKind,
    /// The flusher of session journals, when sessions are handed over
    /// between nodes.
    pub(crate) handoff: Option<Arc<crate::handoff::Handoff>>,
}

#[derive(Debug)]
pub(crate) struct State {
    pub subs: HashMap<u32, Subscription>,
    /// Sub-items with something to send, round-robin.
    pub ready: VecDeque<(u32, usize)>,
    pub log: RecoveryLog,
    /// Uncounted notifications for the stream (`CONS`, ...); a line already
    /// waiting is not queued twice, so this stays a handful of lines.
    pub side: VecDeque<String>,
    /// Bytes held by the queues of the sub-items (`SubItem::bytes`).
    pub queued: usize,
    /// Bytes last reported to the server-wide budget.
    reported: usize,
    budget: Arc<Budget>,
    /// The engine's statistics (the subscriptions gauge).
    pub stats: Arc<Stats>,
    /// Since when the stream has had something to take that it has not
    /// taken: a stream that leaves it there longer than the stall timeout
    /// belongs to a client that stopped reading.
    pub woken_at: Option<Instant>,
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
    /// Streaming binds still to end with `LOOP` when they come by another
    /// name than the control link (a session taken over: see `adopt`).
    pub relocating: u8,
    /// `LS_close_socket=true` on `force_rebind` or `destroy`: the transport
    /// closes the connection after the last line.
    pub close_socket: bool,
    /// The client address announced last (`CLIENTIP` is resent on change).
    pub client_ip: String,
    /// The task of the bound stream, while it waits for something to send.
    /// Kept under the session's lock: a stream registers in the same look
    /// at the session that found nothing to send, so no wake is lost, and a
    /// stream replaced by a newer one never registers again. Whoever makes
    /// something ready takes it and wakes it (once: later updates find it
    /// taken until the stream waits again).
    pub waker: Option<std::task::Waker>,
    /// When the recovery log is next trimmed to its window (trimming at
    /// every chunk would read the oldest record's header at every update).
    next_trim: Instant,
    /// The session's journal in the cluster's broker, when sessions are
    /// handed over between nodes (see [`crate::handoff`]).
    pub journal: Option<Journal>,
    /// The flusher was told this session has journal entries to write.
    pub flush_asked: bool,
    /// The session was handed over: its stream stops without `END`.
    pub cut: bool,
    /// The session was taken over from another node.
    pub adopted: bool,
    /// The bandwidth limit and the bucket that paces the stream to it.
    pub bandwidth: Bandwidth,
}

impl Session {
    pub(crate) fn new(
        id: String,
        info: SessionInfo,
        set: Arc<SetRuntime>,
        config: Arc<EngineConfig>,
        budget: Arc<Budget>,
        stats: Arc<Stats>,
        handoff: Option<Arc<crate::handoff::Handoff>>,
    ) -> Self {
        let state = State {
            subs: HashMap::new(),
            ready: VecDeque::new(),
            log: RecoveryLog::new(config.recovery_max_bytes),
            side: VecDeque::new(),
            queued: 0,
            reported: 0,
            budget,
            stats: stats.clone(),
            woken_at: None,
            gen: 0,
            bound: false,
            unbound_since: Instant::now(),
            keep_unbound: config.session_timeout,
            closed: None,
            force_loop: false,
            relocating: 0,
            close_socket: false,
            client_ip: String::new(),
            next_trim: Instant::now(),
            waker: None,
            journal: None,
            flush_asked: false,
            cut: false,
            adopted: false,
            bandwidth: Bandwidth::default(),
        };
        Self {
            id,
            info,
            set,
            config,
            state: Mutex::new(state),
            ended: tokio::sync::watch::Sender::new(false),
            sequences: Mutex::new(HashMap::new()),
            turn: tokio::sync::Mutex::new(()),
            pending_messages: Arc::new(tokio::sync::Semaphore::new(
                crate::message::MAX_PENDING_MESSAGES,
            )),
            created: Instant::now(),
            created_at: std::time::SystemTime::now(),
            stats,
            bound_kind: BoundKind::default(),
            handoff,
        }
    }

    /// Wakes the bound stream, if it waits.
    pub(crate) fn wake_stream(&self) {
        unlock_and_wake(self.state.lock());
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
        let before = si.bytes();
        si.push(d, &dispatch);
        let after = si.bytes();
        let newly_ready = !si.in_ready && si.has_pending();
        if newly_ready {
            si.in_ready = true;
        }
        st.queued = st.queued + after - before;
        st.settle();
        if newly_ready {
            st.ready.push_back((sub_id, index));
            st.woken_at.get_or_insert_with(Instant::now);
            unlock_and_wake(st);
        }
        true
    }

    /// Appends a counted notification (UNSUB, MSGDONE, ...) after everything
    /// already produced; `kind` is what the session's journal notes of it.
    pub(crate) fn push_counted(&self, line: String, kind: LineKind) {
        let mut st = self.state.lock();
        if st.closed.is_some() {
            return;
        }
        let now = Instant::now();
        st.log_counted(&line, kind, now);
        self.ask_flush(&mut st);
        st.trim_log(&self.config, now);
        st.woken_at.get_or_insert(now);
        unlock_and_wake(st);
    }

    /// Refuses a request that would add notifications to a session whose
    /// client is already `<max_recovery_length>` behind: what it has not
    /// read fills its whole recovery log. (Without this, control requests
    /// sent over other connections while the stream is not read would grow
    /// the log until the stall timeout or the server budget stepped in.)
    pub(crate) fn check_backlog(&self) -> Result<(), crate::Refusal> {
        if self.state.lock().log.is_backlogged() {
            return Err((
                shoal_protocol::code::INTERNAL_LIMIT,
                format!(
                    "the client has not read {} bytes of notifications of this session; request refused",
                    self.config.recovery_max_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Announces the bandwidth limit in force (after a `constrain`): its
    /// `CONS` replaces one still waiting, so the last word stays last.
    pub(crate) fn push_cons(&self) {
        let mut st = self.state.lock();
        if st.closed.is_some() {
            return;
        }
        let line = st.bandwidth.line().to_line();
        st.side.retain(|l| !l.starts_with("CONS,"));
        st.side.push_back(line);
        st.settle();
        st.woken_at.get_or_insert_with(Instant::now);
        unlock_and_wake(st);
    }

    /// Bytes of session buffers this session holds (as last counted).
    pub fn buffered_bytes(&self) -> usize {
        self.state.lock().held()
    }

    /// The reaper's look at the session: forgets what the recovery window
    /// no longer covers (a stalled stream never pulls, so this cannot wait
    /// for it), and tells whether the client stopped reading for longer
    /// than the stall timeout, and how many bytes the session holds.
    pub(crate) fn housekeep(&self, now: Instant) -> (bool, usize) {
        let mut st = self.state.lock();
        if st.closed.is_some() {
            return (false, 0);
        }
        st.trim_log(&self.config, now);
        let limit = self.config.stall_timeout;
        let stalled = st.bound
            && !limit.is_zero()
            && st.woken_at.is_some_and(|t| now.duration_since(t) >= limit);
        (stalled, st.held())
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
    /// `cut`: the stream stops without `END` and its connection is cut
    /// (the session goes on on another node).
    pub(crate) fn end(&self, code: i32, message: &str, cut: bool) -> Option<Vec<Subscription>> {
        let mut st = self.state.lock();
        if st.closed.is_some() {
            return None;
        }
        st.closed = Some((code, message.to_owned()));
        st.cut = cut;
        st.ready.clear();
        let subs: Vec<Subscription> = st.subs.drain().map(|(_, s)| s).collect();
        stats::sub(&st.stats.subscriptions, subs.len() as u64);
        // Nothing will be sent or recovered any more: the buffers go now,
        // even if a stalled stream keeps the session alive a while.
        st.queued = 0;
        st.log.clear();
        st.side = VecDeque::new();
        st.woken_at = None;
        st.settle();
        unlock_and_wake(st);
        self.ended.send_replace(true);
        Some(subs)
    }

    /// Whether the session has been unbound for longer than it may be.
    pub(crate) fn expired(&self, now: Instant) -> bool {
        let st = self.state.lock();
        !st.bound && st.closed.is_none() && now.duration_since(st.unbound_since) > st.keep_unbound
    }
}

/// Releases a session's lock and wakes its stream, if it waits (the
/// waker is taken under the lock and woken after it).
pub(crate) fn unlock_and_wake(mut st: parking_lot::MutexGuard<'_, State>) {
    let waker = st.waker.take();
    drop(st);
    if let Some(w) = waker {
        w.wake();
    }
}

/// Smallest change of a session's size reported to the budget: the total is
/// exact within this much per session.
const REPORT_STEP: usize = 16 * 1024;

impl Drop for State {
    fn drop(&mut self) {
        // Whatever happened, the budget gets this session's share back.
        self.budget.update(self.reported, 0);
    }
}

impl State {
    /// Bytes of session buffers held: queued updates, the recovery log and
    /// the uncounted lines.
    pub fn held(&self) -> usize {
        let side: usize = self
            .side
            .iter()
            .map(|l| l.capacity() + std::mem::size_of::<String>())
            .sum();
        self.queued + self.log.bytes() + side
    }

    /// Reports the session's size to the server-wide budget, in steps of
    /// `REPORT_STEP`: the shared counter is touched once per few kilobytes
    /// of change rather than at every update of every session (a counter
    /// all cores write at once is slow), and is exact when a session ends.
    pub fn settle(&mut self) {
        let held = self.held();
        if held == 0 || held.abs_diff(self.reported) >= REPORT_STEP {
            self.budget.update(self.reported, held);
            self.reported = held;
        }
    }

    /// Trims the recovery log to its window and size, and reports the size.
    /// Lines outlive the window by at most an eighth of it (and a second).
    pub fn trim_log(&mut self, config: &EngineConfig, now: Instant) {
        if now >= self.next_trim || self.log.is_backlogged() {
            self.log.trim(now, config.recovery_window);
            self.next_trim = now + (config.recovery_window / 8).min(Duration::from_secs(1));
        }
        self.settle();
    }

    /// Logs a counted line made outside the stream, and notes it in the
    /// journal.
    pub fn log_counted(&mut self, line: &str, kind: LineKind, now: Instant) {
        self.log.push(line, now);
        let prog = self.log.prog;
        if let Some(j) = self.journal.as_mut() {
            j.note(prog, kind);
        }
    }

    /// Adds a subscription (counted in the subscriptions gauge, as
    /// [`State::remove_sub`] uncounts it).
    pub fn add_sub(&mut self, sub: Subscription) {
        stats::add(&self.stats.subscriptions, 1);
        self.subs.insert(sub.sub_id, sub);
    }

    /// Removes a subscription, with the bytes its queues held.
    pub fn remove_sub(&mut self, sub_id: u32) -> Option<Subscription> {
        let sub = self.subs.remove(&sub_id)?;
        stats::sub(&self.stats.subscriptions, 1);
        let bytes: usize = sub.items.iter().map(|si| si.bytes()).sum();
        self.queued = self.queued.saturating_sub(bytes);
        self.ready.retain(|(id, _)| *id != sub_id);
        self.settle();
        Some(sub)
    }

    /// Moves what is ready into `out`, up to about `budget` bytes: uncounted
    /// lines, then counted lines not yet sent, then new updates taken from the
    /// item buffers in turn. Returns when a frequency-limited item may send.
    /// The updates written are counted in `tally`.
    pub fn produce(
        &mut self,
        out: &mut String,
        budget: usize,
        now: Instant,
        tally: &mut ChunkTally,
    ) -> Option<Instant> {
        while let Some(l) = self.side.pop_front() {
            out.push_str(&l);
        }
        let hold = self.journal.as_ref().and_then(|j| j.hold_from());
        while out.len() < budget {
            match self.log.next_unsent_before(hold) {
                Some(l) => out.push_str(&l),
                None => break,
            }
        }
        // Lines the journal holds wait in the log; new lines go after them.
        let mut held = 0usize;
        let mut waiting: Vec<(u32, usize)> = Vec::new();
        let mut next_due: Option<Instant> = None;
        while out.len() + held < budget {
            let Some((sub_id, index)) = self.ready.pop_front() else {
                break;
            };
            let Some(sub) = self.subs.get_mut(&sub_id) else {
                continue;
            };
            if !sub.confirmed {
                // Its SUBOK is not written yet; it wakes the stream when it is.
                waiting.push((sub_id, index));
                continue;
            }
            let dispatch = sub.dispatch;
            let Some(si) = sub.items.get_mut(index - 1) else {
                continue;
            };
            let before = si.bytes();
            let start = out.len();
            let taken = si.take(sub_id, index, &dispatch, now, out);
            self.queued = self.queued + si.bytes() - before;
            match taken {
                Take::Wrote | Take::Update(_) => {
                    let line = out.get(start..).unwrap_or_default();
                    let goes_now = match self.journal.as_mut() {
                        None => true,
                        Some(j) => {
                            let prog = self.log.prog + 1;
                            j.note(prog, journal_kind(sub_id, index, &dispatch, si, line));
                            self.log.all_sent() && j.may_send(prog)
                        }
                    };
                    if goes_now {
                        if let Take::Update(received) = taken {
                            tally.update(received);
                        }
                        self.log.push_sent(line, now);
                    } else {
                        held += line.len();
                        self.log.push(line, now);
                        out.truncate(start);
                    }
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
        // The stream took what it could. If the chunk is full, more waits
        // and the stream must come back for it.
        self.woken_at = (out.len() >= budget).then_some(now);
        next_due
    }
}

/// The journal's view of a line a sub-item just wrote.
fn journal_kind(
    sub: u32,
    index: usize,
    dispatch: &crate::subscription::Dispatch,
    si: &crate::subscription::SubItem,
    line: &str,
) -> LineKind {
    use crate::subscription::Taken;
    let exact = matches!(
        dispatch.mode,
        shoal_adapter::Mode::Raw | shoal_adapter::Mode::Distinct
    );
    let item = u32::try_from(index).unwrap_or(u32::MAX);
    match si.last_taken {
        Taken::Update { seq, position } => LineKind::Update {
            sub,
            item,
            exact,
            seq,
            position,
        },
        Taken::Eos => LineKind::Eos { sub, item, exact },
        Taken::Cs => LineKind::Cs { sub, item, exact },
        Taken::Ov => LineKind::Ov {
            sub,
            item,
            exact,
            text: line.to_owned(),
        },
    }
}
