//! Session handoff, the adopter's side: a client of a dead node asks this
//! node to recover a session it does not hold. If the broker has the
//! session's journal, its owner is dead and this node wins the claim, the
//! session is rebuilt here under the same id and the recovery goes on as
//! if nothing had happened:
//!
//! - the answer is `PROG,N`, `N` being the client's own count, so the
//!   client drops nothing and counts on from there;
//! - a subscription the client never saw confirmed is made again as new;
//!   the others go on without a new `SUBOK`;
//! - RAW and DISTINCT items send the broker entries after the last one the
//!   client has (the journal says which), read back from the broker, then
//!   their live updates: no gap, no duplicate;
//! - MERGE items send their current state, COMMAND items clear the
//!   client's table (`CS`) and send the current rows again.
//!
//! Anything that stops an exact continuation (a journal the client is
//! past, entries the broker no longer has) answers `CONERR,4`, on which the
//! client opens a new session at once, as it would have without handoff.

use crate::item::{Attach, Item};
use crate::log::RecoveryLog;
use crate::session::Session;
use crate::stream::{BindContext, Stream};
use crate::subscription::{Delivery, SubItem, Subscription};
use crate::{unknown_session, Engine, Refusal};
use shoal_adapter::{Bound, ItemEvent, Position, SessionInfo};
use shoal_handoff::journal::TRUSTED_SILENCE;
use shoal_handoff::{
    plan, Entry, ItemMark, ItemPlan, Journal, LineKind, Plan, PlannedSub, Pos, SubState,
};
use shoal_protocol::code;
use shoal_protocol::request::{BindSession, Mode, Snapshot};
use std::sync::Arc;
use std::time::Duration;

/// Entries read back per broker request.
const PAGE: usize = 1000;
/// Most entries read back for one item: a client further behind than
/// this starts a new session.
const MOST_BACKFILL: usize = 100_000;
/// Most entries passed over to find where a client stands in a run (the
/// journal's checkpoints keep runs shorter).
const MOST_SKIPPED: usize = 10_000_000;
/// How long an item new to this node may take to read its snapshot.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(3);
/// Sequences of the events read back, far above any item's own.
const REPLAY_SEQ: u64 = 1 << 62;

fn impossible(message: impl Into<String>) -> Refusal {
    (code::RECOVERY_IMPOSSIBLE, message.into())
}

impl Engine {
    /// Whether this node hands sessions over (a store is set).
    pub fn handoff_enabled(&self) -> bool {
        self.handoff.get().is_some()
    }

    /// Binds a stream to a session, taking the session over from a dead
    /// node when this node does not hold it and the request is a recovery.
    pub async fn bind_or_adopt(
        &self,
        req: &BindSession,
        ctx: &BindContext,
    ) -> Result<Stream, Refusal> {
        let bound = match self.bind_session(req, ctx) {
            Err((code::UNKNOWN_SESSION, _)) if self.handoff_enabled() => {
                if req.recovery_from.is_some() {
                    self.adopt(req, ctx).await
                } else {
                    self.ask_recovery(req).await
                }
            }
            other => other,
        };
        match bound {
            Err((code::UNKNOWN_SESSION, _))
                if req.recovery_from.is_none() && self.cut_plain_bind(req) =>
            {
                let id = req.session.as_deref().unwrap_or_default();
                Err((
                    code::CUT_TO_RECOVER,
                    format!("session {id} was made on another node or before a restart: the client is to recover it"),
                ))
            }
            other => other,
        }
    }

    /// Whether to cut a plain `bind_session` for a session nobody here
    /// holds, remembering that it was: yes if another node (or this one
    /// before a restart) made the session and its bind was not cut here
    /// lately. A plain `bind_session` for it is cut rather than
    /// refused, so that the client asks at once to recover it instead of
    /// waiting its retry delay (see the `session_id` module); this node's
    /// own ended sessions, and a second bind within the window, still get
    /// `CONERR,20`.
    fn cut_plain_bind(&self, req: &BindSession) -> bool {
        let id = req.session.as_deref().unwrap_or_default();
        self.ids.issued_elsewhere(id) && self.recent_cuts.first(id, std::time::Instant::now())
    }

    /// A plain `bind_session` (a poll, a rebind) for a session this node
    /// does not hold: the client does not say what it has, so the session
    /// cannot be taken over on it. If it could be (its owner is dead and
    /// its journal is here), the connection is cut: the official clients
    /// then ask to recover the session, with their count.
    async fn ask_recovery(&self, req: &BindSession) -> Result<Stream, Refusal> {
        let id = req.session.as_deref().unwrap_or_default();
        let unknown = || unknown_session(id, "bind_session");
        let Some(h) = self.handoff.get() else {
            return Err(unknown());
        };
        let Ok(Some(loaded)) = h.store.load(id).await else {
            return Err(unknown());
        };
        if loaded.owner == h.store.node() {
            return Err(self.handed_over(id));
        }
        if !matches!(h.store.alive(&loaded.owner).await, Ok(false)) {
            return Err(unknown());
        }
        Err((
            code::CUT_TO_RECOVER,
            format!("session {id} of a dead node: the client is to recover it"),
        ))
    }

    /// The answer to a request for a session this node owned and no longer
    /// holds: while it drains, a session it handed over whose client came
    /// back here (the balancer has not noticed the drain yet) is cut again,
    /// so that the client tries once more, elsewhere; otherwise the session
    /// ended here.
    fn handed_over(&self, id: &str) -> Refusal {
        if self.leaving.load(std::sync::atomic::Ordering::Relaxed) {
            (
                code::CUT_TO_RECOVER,
                format!(
                    "session {id} was handed over: the client is to recover it on another node"
                ),
            )
        } else {
            unknown_session(id, "bind_session")
        }
    }

    /// A recovery for a session this node does not hold: adopts it if it
    /// can (see the module's documentation); otherwise the refusal a
    /// request for an unknown session gets.
    async fn adopt(&self, req: &BindSession, ctx: &BindContext) -> Result<Stream, Refusal> {
        let id = req.session.as_deref().unwrap_or_default();
        let (Some(h), Some(n)) = (self.handoff.get(), req.recovery_from) else {
            return Err(unknown_session(id, "bind_session"));
        };
        // One adoption of a session at a time on this node.
        let gate = self
            .adopting
            .lock()
            .entry(id.to_owned())
            .or_default()
            .clone();
        let _turn = gate.lock().await;
        let result = self.adopt_locked(h.clone(), id, n, req, ctx).await;
        self.adopting.lock().remove(id);
        result
    }

    async fn adopt_locked(
        &self,
        h: Arc<crate::handoff::Handoff>,
        id: &str,
        n: u64,
        req: &BindSession,
        ctx: &BindContext,
    ) -> Result<Stream, Refusal> {
        if self.session(id).is_some() {
            // Adopted by the request before this one.
            return self.bind_session(req, ctx);
        }
        let store = &h.store;
        let broker = |e: shoal_handoff::StoreError| {
            tracing::warn!(session = %id, "session not taken over: the broker failed: {e}");
            unknown_session(id, "bind_session")
        };
        let Some(loaded) = store.load(id).await.map_err(broker)? else {
            return Err(unknown_session(id, "bind_session"));
        };
        if loaded.owner == store.node() {
            return Err(self.handed_over(id));
        }
        if store.alive(&loaded.owner).await.map_err(broker)?
            && !(reached_by_another_name(ctx)
                && dies_soon(store.as_ref(), &loaded.owner)
                    .await
                    .map_err(broker)?)
        {
            tracing::info!(session = %id, owner = %loaded.owner, "recovery of a session its live node holds: not taken over");
            return Err(unknown_session(id, "bind_session"));
        }
        // A node that went on cut off the broker for long may have let its
        // lines go without a journal before it died (see
        // `shoal_handoff::journal::HOLD_THROUGH_OUTAGE`).
        let silent = store.silence(&loaded.owner).await.map_err(broker)?;
        if let Some(silent) = silent.filter(|s| *s > TRUSTED_SILENCE) {
            tracing::info!(session = %id, owner = %loaded.owner, "session not taken over: its node last announced itself {} s ago, longer than its journal can be trusted ({} s)", silent.as_secs(), TRUSTED_SILENCE.as_secs());
            crate::stats::add(&self.stats.takeovers_refused, 1);
            return Err(impossible(format!(
                "its node has been silent for {} s",
                silent.as_secs()
            )));
        }
        let entries = loaded
            .entries
            .iter()
            .map(|e| Entry::decode(e))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| impossible(format!("the session's journal is unreadable: {e}")))?;
        let plan = plan(&entries, n).map_err(|e| {
            tracing::info!(session = %id, from = n, "session not taken over: {e}");
            crate::stats::add(&self.stats.takeovers_refused, 1);
            impossible(format!("cannot recover from {n}: {e}"))
        })?;
        let Some(set) = self.sets.get(&plan.header.adapter_set).cloned() else {
            return Err(impossible(format!(
                "adapter set {} is not served here",
                plan.header.adapter_set
            )));
        };
        if !store.claim(id, &loaded.owner).await.map_err(broker)? {
            tracing::info!(session = %id, "another node took this session over first");
            return Err(unknown_session(id, "bind_session"));
        }
        let started = std::time::Instant::now();
        let session = match self.rebuild(&h, id, n, &plan, set, ctx).await {
            Ok(s) => s,
            Err(refusal) => {
                tracing::warn!(session = %id, from = n, "session taken over and then lost: {}", refusal.1);
                crate::stats::add(&self.stats.takeovers_refused, 1);
                h.ended(id);
                return Err(refusal);
            }
        };
        self.sessions.write().insert(id.to_owned(), session.clone());
        crate::stats::add(&self.stats.sessions_created, 1);
        crate::stats::add(&self.stats.sessions_taken_over, 1);
        tracing::info!(session = %id, from = n, owner = %loaded.owner, subscriptions = plan.subs.len(), ms = started.elapsed().as_millis() as u64, "session taken over from a dead node");
        // The client came by the dead node's name (an address keepalived
        // moved here, a balancer's route for that node): its streams must
        // not depend on that name, which goes back to the node when it
        // returns. A streaming bind by another name than this node's
        // control link ends at once with `LOOP`, and the client binds
        // again, by the control link it was given. The official clients
        // take a new control link only from a bind that is not a recovery:
        // the first such bind still comes by the old name, the next by the
        // new. Twice at most, for clients that ignore control links.
        session.state.lock().relocating = RELOCATING_BINDS;
        session.bind(&req.stream, Some(n), ctx)
    }

    /// Builds the session of `plan` here: its log at `n`, its journal, its
    /// subscriptions with what each item's client lacks queued.
    async fn rebuild(
        &self,
        h: &Arc<crate::handoff::Handoff>,
        id: &str,
        n: u64,
        plan: &Plan,
        set: Arc<crate::SetRuntime>,
        ctx: &BindContext,
    ) -> Result<Arc<Session>, Refusal> {
        let header = &plan.header;
        let info = SessionInfo {
            session_id: id.to_owned(),
            user: header.user.clone(),
            client_ip: ctx.client_ip.clone(),
            client_port: ctx.client_port,
            user_agent: header.user_agent.clone(),
            forwarding_info: None,
            local_server: ctx.server_name.clone(),
        };
        set.metadata
            .notify_new_session(&info)
            .await
            .map_err(|e| (e.code, e.message))?;
        let user_key = (set.name.clone(), header.user.clone());
        self.count_user(&user_key, set.metadata.max_sessions_per_user())?;
        let session = Arc::new(Session::new(
            id.to_owned(),
            info,
            set,
            self.config.clone(),
            self.budget.clone(),
            self.stats.clone(),
            Some(h.clone()),
        ));
        {
            let mut st = session.state.lock();
            st.log = RecoveryLog::starting_at(self.config.recovery_max_bytes, n);
            // The limit the session had: granted at its creation, asked by
            // its client since.
            st.bandwidth = crate::bandwidth::Bandwidth::new(
                header.granted_bandwidth,
                header.requested_bandwidth,
                tokio::time::Instant::now(),
            );
        }
        let mut states = Vec::new();
        let mut fresh = Vec::new();
        for p in &plan.subs {
            match self.resubscribe(&session, p).await {
                Ok(Resubscribed::Fresh(line_head, conf, starts)) => {
                    fresh.push((p, line_head, conf, starts))
                }
                Ok(Resubscribed::Going(state)) => states.push(state),
                Err(e) => {
                    self.close(&session, code::RECOVERY_IMPOSSIBLE, "taking over failed");
                    return Err(e);
                }
            }
        }
        let now = tokio::time::Instant::now();
        let mut st = session.state.lock();
        st.adopted = true;
        st.journal = Some(Journal::new(header.clone(), states, n, now.into_std()));
        for line in &plan.lines {
            let kind = match line.strip_prefix("UNSUB,") {
                Some(sub) => LineKind::Unsub {
                    sub: sub.trim_end().parse().unwrap_or(0),
                    line: line.clone(),
                },
                None => LineKind::Resend { text: line.clone() },
            };
            st.log_counted(line, kind, now);
        }
        for (p, head, conf, starts) in fresh {
            st.log.push(&head, now);
            st.log.push(&conf, now);
            let prog = st.log.prog - 1;
            if let Some(j) = st.journal.as_mut() {
                j.note(
                    prog,
                    LineKind::Sub {
                        def: Box::new(p.def.clone()),
                        head,
                        conf,
                        starts,
                    },
                );
            }
        }
        for sub in st.subs.values_mut() {
            sub.confirmed = true;
        }
        session.ask_flush(&mut st);
        crate::session::unlock_and_wake(st);
        Ok(session)
    }

    /// Makes one planned subscription again in `session`.
    async fn resubscribe(
        &self,
        session: &Arc<Session>,
        p: &PlannedSub,
    ) -> Result<Resubscribed, Refusal> {
        let s = p
            .def
            .to_subscribe()
            .map_err(|e| impossible(e.to_string()))?;
        let set = session.set.clone();
        let adapter = s.data_adapter.as_deref().unwrap_or("DEFAULT");
        let hub = set
            .hubs
            .get(adapter)
            .cloned()
            .ok_or_else(|| impossible(format!("no data adapter {adapter} here")))?;
        let md = &set.metadata;
        let items = &p.def.items;
        let data = md
            .item_data(&session.info, adapter, items)
            .await
            .map_err(|e| (e.code, e.message))?;
        let mode = crate::control::adapter_mode(s.mode);
        let table = crate::control::table_info(&s, adapter, items);
        md.notify_new_tables(&session.info, std::slice::from_ref(&*table))
            .await
            .map_err(|e| (e.code, e.message))?;
        let dispatch = self.dispatch_for(&s, &data);
        let acquired = match crate::control::acquire_all(&hub, items) {
            Ok(a) => a,
            Err(e) => {
                md.notify_tables_close(&session.id, std::slice::from_ref(&*table));
                return Err(e);
            }
        };
        let sub_items = acquired
            .iter()
            .map(|item| SubItem::new(item.clone(), item.schema(&p.def.fields)))
            .collect();
        {
            let mut st = session.state.lock();
            st.add_sub(Subscription {
                sub_id: s.sub_id,
                dispatch,
                items: sub_items,
                hub: hub.clone(),
                table,
                confirmed: false,
            });
        }
        let asked = match s.snapshot {
            Snapshot::No => 0,
            Snapshot::Yes => usize::MAX,
            Snapshot::Length(n) => usize::try_from(n).unwrap_or(usize::MAX),
        };
        let snapshot_len = |i: usize, item: &Item| match data.get(i) {
            Some(d) => crate::control::snapshot_length(asked, d, item),
            None => asked.min(item.history_max()),
        };
        let attach = |i: usize, item: &Item, snapshot: bool| {
            item.attach(
                session,
                Attach {
                    sub_id: s.sub_id,
                    item_index: i + 1,
                    mode,
                    snapshot,
                    snapshot_len: snapshot_len(i, item),
                },
            )
        };
        if p.fresh {
            let snapshot = s.snapshot != Snapshot::No;
            let starts = acquired
                .iter()
                .enumerate()
                .map(|(i, item)| attach(i, item, snapshot))
                .collect();
            let (head, conf) =
                crate::control::confirmation(&s, items.len(), &p.def.fields, &dispatch);
            return Ok(Resubscribed::Fresh(head, conf, starts));
        }
        if !p.def.is_exact() {
            // MERGE: the current state; COMMAND: the table cleared, then its rows.
            for (i, item) in acquired.iter().enumerate() {
                if s.mode == Mode::Command {
                    session.deliver(s.sub_id, i + 1, Delivery::Cs);
                }
                attach(i, item, true);
            }
            return Ok(Resubscribed::Going(SubState {
                def: p.def.clone(),
                items: Vec::new(),
            }));
        }
        let mut marks = Vec::with_capacity(acquired.len());
        for (i, (item, plan)) in acquired.iter().zip(&p.items).enumerate() {
            let mark = match plan {
                ItemPlan::Anew => {
                    let snapshot = s.mode == Mode::Distinct && s.snapshot != Snapshot::No;
                    let start = attach(i, item, snapshot);
                    ItemMark {
                        last: start.map(Pos),
                        sent: false,
                        eos: !snapshot,
                        start: start.map(Pos),
                        lost: false,
                    }
                }
                ItemPlan::Resume {
                    cursor,
                    snapshot_end,
                    has_values,
                } => {
                    attach(i, item, false);
                    self.backfill(
                        session,
                        s.sub_id,
                        i + 1,
                        item,
                        *cursor,
                        *snapshot_end,
                        *has_values,
                    )
                    .await?
                }
            };
            marks.push(mark);
        }
        Ok(Resubscribed::Going(SubState {
            def: p.def.clone(),
            items: marks,
        }))
    }

    /// Queues for one exact item what its client lacks: the entries after
    /// the cursor, read back from the broker (with `EOS` where a snapshot
    /// under way ends), before the live events queued since it was
    /// attached. Returns what the client has of it (the journal's mark).
    #[allow(clippy::too_many_arguments)]
    async fn backfill(
        &self,
        session: &Arc<Session>,
        sub_id: u32,
        index: usize,
        item: &Arc<Item>,
        cursor: shoal_handoff::Cursor,
        snapshot_end: Option<Pos>,
        has_values: bool,
    ) -> Result<ItemMark, Refusal> {
        // Until the item's snapshot is read, entries may reach it as part of
        // the snapshot rather than as events: read back only after.
        let deadline = tokio::time::Instant::now() + SNAPSHOT_WAIT;
        while !item.snapshot_done() {
            if tokio::time::Instant::now() >= deadline {
                return Err(impossible(format!(
                    "item {} did not become ready in time",
                    item.name
                )));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let provider = {
            let st = session.state.lock();
            st.subs
                .get(&sub_id)
                .map(|s| s.hub.provider().clone())
                .ok_or_else(|| impossible("subscription gone"))?
        };
        let read = |bound: Bound, limit: usize| {
            let provider = provider.clone();
            let name = item.name.clone();
            async move {
                provider
                    .history(&name, bound, limit)
                    .await
                    .map_err(|e| impossible(format!("cannot read back item {name}: {}", e.message)))
            }
        };
        // What the client has: `skip` entries from the bound, read and
        // passed over (not kept); what follows them it lacks.
        let skip = usize::try_from(cursor.skip).unwrap_or(usize::MAX);
        if skip > MOST_SKIPPED {
            return Err(impossible(format!(
                "the journal puts the client {skip} entries into a run of item {}",
                item.name
            )));
        }
        let mut bound = cursor.bound;
        let mut passed = 0usize;
        let mut client_last: Option<Position> = match bound {
            Bound::After(p) => Some(p),
            Bound::From(_) => None,
        };
        let mut lacking: Vec<ItemEvent> = Vec::new();
        loop {
            let page = read(bound, PAGE).await?;
            let full = page.len() == PAGE;
            match page.last().and_then(ItemEvent::position) {
                Some(p) => bound = Bound::After(p),
                None if full => {
                    return Err(impossible(format!(
                        "entries of item {} read back without their positions",
                        item.name
                    )))
                }
                None => {}
            }
            for ev in page {
                if passed < skip {
                    passed += 1;
                    client_last = ev.position();
                } else {
                    lacking.push(ev);
                }
            }
            if lacking.len() > MOST_BACKFILL {
                return Err(impossible(format!(
                    "the client is more than {MOST_BACKFILL} entries behind on item {}",
                    item.name
                )));
            }
            if !full {
                break;
            }
        }
        if passed < skip {
            return Err(impossible(format!(
                "the broker no longer has entries of item {} the client had",
                item.name
            )));
        }
        let mut queue = Vec::with_capacity(lacking.len() + 1);
        let mut eos_due = snapshot_end.map(|p| p.0);
        if let (Some(end), Some(last)) = (eos_due, client_last) {
            if last >= end {
                queue.push(Delivery::Eos);
                eos_due = None;
            }
        }
        let mut upto = client_last;
        for (k, ev) in lacking.into_iter().enumerate() {
            let position = ev.position();
            upto = position.or(upto);
            let replayed = item.replayed(ev, REPLAY_SEQ + k as u64);
            queue.push(Delivery::Event {
                ev: replayed,
                snapshot: eos_due.is_some(),
            });
            if eos_due.is_some() && position >= eos_due {
                queue.push(Delivery::Eos);
                eos_due = None;
            }
        }
        {
            let mut st = session.state.lock();
            if let Some(si) = st
                .subs
                .get_mut(&sub_id)
                .and_then(|s| s.items.get_mut(index - 1))
            {
                let before = si.bytes();
                si.seed(queue, upto, has_values.then_some(REPLAY_SEQ - 1));
                let after = si.bytes();
                let newly_ready = si.has_pending() && !si.in_ready;
                if newly_ready {
                    si.in_ready = true;
                }
                st.queued = (st.queued + after).saturating_sub(before);
                if newly_ready {
                    st.ready.push_back((sub_id, index));
                }
                st.settle();
            }
        }
        Ok(ItemMark {
            last: client_last.map(Pos),
            sent: has_values,
            eos: snapshot_end.is_none(),
            start: snapshot_end,
            lost: false,
        })
    }
}

enum Resubscribed {
    /// Made again as new: its `SUBOK`/`SUBCMD` and `CONF` lines, and where
    /// each item started.
    Fresh(String, String, Vec<Option<Position>>),
    /// Goes on: what the client has of it.
    Going(SubState),
}

/// How long a recovery that came by another node's name waits for that
/// node's liveness key to go: the stores' keys live 3 s after the last
/// announcement, and expire up to a few hundred milliseconds late.
const MOVED_NAME_WAIT: Duration = Duration::from_secs(4);

/// How often the owner is looked at again meanwhile.
const MOVED_NAME_LOOK_EVERY: Duration = Duration::from_millis(250);

/// Whether `owner`, alive as the broker sees it, turns out dead within
/// [`MOVED_NAME_WAIT`]. Asked only for a recovery that came by another
/// name than this node's control link: an address keepalived moved here
/// as soon as the owner's health check failed, before its liveness key
/// expired. A node listening on every interface announces no address to
/// probe, so only the key's expiry tells it dead; without this wait the
/// client's first recovery would be refused and it would open a new
/// session. An owner still alive at the end keeps its session.
async fn dies_soon(
    store: &dyn shoal_handoff::Store,
    owner: &str,
) -> Result<bool, shoal_handoff::StoreError> {
    let until = tokio::time::Instant::now() + MOVED_NAME_WAIT;
    while tokio::time::Instant::now() < until {
        tokio::time::sleep(MOVED_NAME_LOOK_EVERY).await;
        if !store.alive(owner).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// How many streaming binds of a session taken over may be ended with
/// `LOOP` for coming by another name than the control link.
const RELOCATING_BINDS: u8 = 2;

/// Whether the client named another host than this node's control link
/// (its `Host` header, port aside; both compared without case).
pub(crate) fn reached_by_another_name(ctx: &BindContext) -> bool {
    let Some(link) = ctx.control_link.as_deref() else {
        return false;
    };
    let Some((_, host)) = ctx.headers.iter().find(|(name, _)| name == "host") else {
        return false;
    };
    !host_part(host).eq_ignore_ascii_case(host_part(link))
}

/// `name` of `name:port`, `[v6]` of `[v6]:port`.
fn host_part(authority: &str) -> &str {
    let authority = authority.trim();
    if let Some(end) = authority.strip_prefix('[').and_then(|r| r.find(']')) {
        return &authority[..end + 2];
    }
    authority.split(':').next().unwrap_or(authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(host: Option<&str>, link: Option<&str>) -> BindContext {
        let headers: Vec<(String, String)> = host
            .map(|h| vec![("host".to_owned(), h.to_owned())])
            .unwrap_or_default();
        BindContext {
            client_ip: "127.0.0.1".into(),
            client_port: 1,
            headers: headers.into(),
            control_link: link.map(str::to_owned),
            server_name: "S".into(),
            websocket: true,
        }
    }

    #[test]
    fn another_name_is_a_host_other_than_the_control_link() {
        let push2 = Some("push2.example.test");
        assert!(reached_by_another_name(&ctx(
            Some("push1.example.test:8080"),
            push2
        )));
        assert!(!reached_by_another_name(&ctx(
            Some("PUSH2.example.test:8080"),
            push2
        )));
        assert!(!reached_by_another_name(&ctx(
            Some("push2.example.test"),
            push2
        )));
        assert!(!reached_by_another_name(&ctx(
            Some("push1.example.test"),
            None
        )));
        assert!(!reached_by_another_name(&ctx(None, push2)));
        assert!(reached_by_another_name(&ctx(
            Some("[::1]:8080"),
            Some("[::2]")
        )));
        assert!(!reached_by_another_name(&ctx(
            Some("[::1]:8080"),
            Some("[::1]")
        )));
    }
}
