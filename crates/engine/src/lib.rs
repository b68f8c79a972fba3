//! The engine of Shoal: sessions, subscriptions, items, snapshots,
//! conflation and recovery buffers. No sockets here: transports hand it
//! parsed requests and write the chunks a [`Stream`] returns.
//!
//! Data flows one way: data adapter -> [`hub`] item -> each subscriber's
//! buffer in its session -> the session's stream.

mod adapter_control;
mod adopt;
mod bandwidth;
mod budget;
mod config;
mod control;
mod event;
mod handoff;
mod hub;
mod item;
mod log;
mod message;
mod requests;
mod session;
mod session_id;
mod stats;
mod stream;
mod subscription;
mod summary;
mod wake;

pub use config::EngineConfig;
pub use requests::{refusal_line, too_large, Answer, Connection, PortType};
pub use session::Session;
pub use stats::{
    AdapterReadiness, ConnectionGuard, HistogramSnapshot, ProcessStats, StatsSnapshot, StreamKind,
    LATENCY_BOUNDS, LIFETIME_BOUNDS,
};
pub use stream::{BindContext, Stream};
pub use summary::{SessionList, SessionSummary};

use hub::Hub;
use parking_lot::RwLock;
use shoal_adapter::{AdapterSet, Login, MetadataProvider, SessionInfo};
use shoal_protocol::code;
use shoal_protocol::request::{BindSession, CreateSession};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// An adapter set with the hubs of its data adapters.
pub(crate) struct SetRuntime {
    pub name: String,
    pub metadata: Arc<dyn MetadataProvider>,
    pub hubs: HashMap<String, Arc<Hub>>,
    /// See [`AdapterSet::ignores_control_link`].
    pub ignores_control_link: bool,
}

impl fmt::Debug for SetRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetRuntime")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A TLCP error code with its message, as `CONERR` or `REQERR` carry it.
pub type Refusal = (i32, String);

#[derive(Debug)]
pub struct Engine {
    config: Arc<EngineConfig>,
    sets: HashMap<String, Arc<SetRuntime>>,
    sessions: RwLock<HashMap<String, Arc<Session>>>,
    accepting: AtomicBool,
    budget: Arc<budget::Budget>,
    /// Sessions held per (adapter set, user), for the metadata adapter's
    /// limit of sessions per user; an anonymous session counts as user `None`.
    users: parking_lot::Mutex<HashMap<(String, Option<String>), usize>>,
    /// When the budget was last reported in the log (once per interval).
    budget_logged: parking_lot::Mutex<Option<Instant>>,
    /// Counters and histograms (see [`Engine::stats`]).
    stats: Arc<stats::Stats>,
    /// Session handoff between nodes, once a store is set
    /// ([`Engine::enable_handoff`]).
    handoff: std::sync::OnceLock<Arc<handoff::Handoff>>,
    /// Sessions being adopted now, one request at a time each.
    adopting: parking_lot::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// This node left the cluster (a drain): the sessions it hands over are
    /// for the others to take.
    leaving: AtomicBool,
    /// Makes this engine's session ids, and tells ids of other nodes' (and
    /// earlier runs') sessions from its own.
    ids: session_id::Issuer,
    /// Sessions of other nodes whose plain bind this node cut lately.
    recent_cuts: session_id::RecentCuts,
}

/// Shortest time between two log lines about the memory budget.
const BUDGET_LOG_INTERVAL: Duration = Duration::from_secs(10);

impl Engine {
    pub fn new(config: EngineConfig, adapter_sets: Vec<AdapterSet>) -> Arc<Self> {
        let sets: HashMap<String, Arc<SetRuntime>> = adapter_sets
            .into_iter()
            .map(|set| {
                let hubs = set
                    .data
                    .iter()
                    .map(|(name, provider)| {
                        let hub = Hub::new(
                            &set.name,
                            name,
                            provider.clone(),
                            config.distinct_snapshot_length,
                        );
                        (name.clone(), hub)
                    })
                    .collect();
                let rt = SetRuntime {
                    name: set.name.clone(),
                    metadata: set.metadata,
                    hubs,
                    ignores_control_link: set.ignores_control_link,
                };
                (set.name, Arc::new(rt))
            })
            .collect();
        let budget = Arc::new(budget::Budget::new(config.session_buffers_budget));
        Arc::new_cyclic(|engine| {
            for set in sets.values() {
                set.metadata
                    .set_control(Arc::new(adapter_control::SetControl {
                        engine: engine.clone(),
                        adapter_set: set.name.clone(),
                    }));
            }
            Self {
                config: Arc::new(config),
                sets,
                sessions: RwLock::new(HashMap::new()),
                accepting: AtomicBool::new(true),
                budget,
                users: parking_lot::Mutex::new(HashMap::new()),
                budget_logged: parking_lot::Mutex::new(None),
                stats: Arc::new(stats::Stats::default()),
                handoff: std::sync::OnceLock::new(),
                adopting: parking_lot::Mutex::new(HashMap::new()),
                leaving: AtomicBool::new(false),
                ids: session_id::Issuer::new(),
                recent_cuts: session_id::RecentCuts::default(),
            }
        })
    }

    /// Keeps every session's journal in `store` (the cluster's broker), so
    /// that another node can take a session over if this one dies, and lets
    /// this node take over the sessions of dead nodes. Call once, before
    /// serving; later calls are ignored.
    pub fn enable_handoff(self: &Arc<Self>, store: Arc<dyn shoal_handoff::Store>) {
        let h = handoff::Handoff::new(store);
        if self.handoff.set(h.clone()).is_ok() {
            h.spawn(Arc::downgrade(self));
        }
    }

    /// This node stops: its liveness key goes, so that the other nodes may
    /// take its sessions over at once (see the drain).
    pub async fn leave_cluster(&self) {
        self.leaving.store(true, Ordering::Relaxed);
        if let Some(h) = self.handoff.get() {
            if let Err(e) = h.store.leave().await {
                tracing::warn!("could not tell the cluster this node leaves: {e}");
            }
        }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Whether new sessions are accepted (the health check reports it).
    pub fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::Relaxed)
    }

    pub fn set_accepting(&self, on: bool) {
        self.accepting.store(on, Ordering::Relaxed);
    }

    /// Bytes of session buffers held by all sessions now (queued updates,
    /// recovery logs, uncounted lines), as counted against the budget.
    pub fn buffered_bytes(&self) -> usize {
        self.budget.used()
    }

    pub fn session_count(&self) -> usize {
        self.sessions.read().len()
    }

    /// Ids of the sessions held now, oldest first.
    pub fn session_ids(&self) -> Vec<String> {
        let mut all: Vec<_> = self
            .sessions
            .read()
            .values()
            .map(|s| (s.created, s.id.clone()))
            .collect();
        all.sort();
        all.into_iter().map(|(_, id)| id).collect()
    }

    pub fn session(&self, id: &str) -> Option<Arc<Session>> {
        self.sessions.read().get(id).cloned()
    }

    /// Items currently subscribed upstream, over all data adapters.
    pub fn item_count(&self) -> usize {
        self.sets
            .values()
            .flat_map(|s| s.hubs.values())
            .map(|h| h.item_count())
            .sum()
    }

    /// The source position of the last event of `item` (of data adapter
    /// `data_adapter` in `adapter_set`), while it is subscribed and when its
    /// source gives positions (a broker feed).
    pub fn item_position(
        &self,
        adapter_set: &str,
        data_adapter: &str,
        item: &str,
    ) -> Option<shoal_adapter::Position> {
        self.sets
            .get(adapter_set)?
            .hubs
            .get(data_adapter)?
            .find(item)?
            .position()
    }

    /// The data providers that cannot serve now and say so (see
    /// [`shoal_adapter::DataProvider::readiness`]): one line each, naming
    /// the adapter set and data adapter. Empty when all are ready.
    pub fn unready_adapters(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .sets
            .values()
            .flat_map(|s| s.hubs.values())
            .filter_map(|h| {
                h.provider()
                    .readiness()
                    .err()
                    .map(|why| format!("{}/{}: {why}", h.adapter_set, h.name))
            })
            .collect();
        out.sort();
        out
    }

    /// The data provider `data_adapter` of `adapter_set`.
    pub fn data_provider(
        &self,
        adapter_set: &str,
        data_adapter: &str,
    ) -> Option<Arc<dyn shoal_adapter::DataProvider>> {
        Some(
            self.sets
                .get(adapter_set)?
                .hubs
                .get(data_adapter)?
                .provider()
                .clone(),
        )
    }

    /// Creates a session and binds its first stream.
    pub async fn create_session(
        &self,
        req: &CreateSession,
        ctx: &BindContext,
    ) -> Result<Stream, Refusal> {
        let Some(set) = self.sets.get(&req.adapter_set) else {
            // The official server's exact text (its clients' tests compare
            // it); the name asked for goes to the log only.
            let shown: String = req.adapter_set.chars().take(64).collect();
            tracing::info!(adapter_set = %shown, client = %ctx.client_ip, "session refused: no such adapter set");
            return Err((
                code::UNKNOWN_ADAPTER_SET,
                "Requested Adapter Set not available".to_owned(),
            ));
        };
        if !self.is_accepting() {
            return Err((
                code::NOT_ACCEPTING,
                "this server is not accepting new sessions now".into(),
            ));
        }
        if self.session_count() >= self.config.max_sessions {
            return Err((
                code::MAX_SESSIONS,
                format!(
                    "Configured maximum number of sessions reached ({})",
                    self.config.max_sessions
                ),
            ));
        }
        if self.budget.is_over() {
            self.log_budget("new session refused");
            return Err((
                code::SERVER_FULL,
                "the server's memory for session buffers is full; try again later".into(),
            ));
        }
        let login = Login {
            user: req.user.clone(),
            password: req.password.clone(),
            client_ip: ctx.client_ip.clone(),
            headers: ctx.headers.clone(),
        };
        let grant = set
            .metadata
            .notify_user_grant(&login)
            .await
            .map_err(|e| (e.code, e.message))?;
        let user_key = (set.name.clone(), req.user.clone());
        self.count_user(&user_key, set.metadata.max_sessions_per_user())?;
        let id = self.ids.next();
        let header = |name: &str| {
            ctx.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let info = SessionInfo {
            session_id: id.clone(),
            user: req.user.clone(),
            client_ip: ctx.client_ip.clone(),
            client_port: ctx.client_port,
            user_agent: header("user-agent"),
            forwarding_info: header("x-forwarded-for"),
            local_server: ctx.server_name.clone(),
        };
        if let Err(e) = set.metadata.notify_new_session(&info).await {
            self.uncount_user(&user_key);
            return Err((e.code, e.message));
        }
        // Sessions of a set bound to this node (the monitor console's) are
        // not journaled: another node could not serve them.
        let handoff = self
            .handoff
            .get()
            .filter(|_| !set.ignores_control_link)
            .cloned();
        let header = handoff.as_ref().map(|_| shoal_handoff::Header {
            adapter_set: set.name.clone(),
            user: req.user.clone(),
            client_ip: ctx.client_ip.clone(),
            user_agent: info.user_agent.clone(),
            created_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            granted_bandwidth: grant.max_bandwidth,
            requested_bandwidth: req.max_bandwidth,
        });
        let session = Arc::new(Session::new(
            id.clone(),
            info,
            set.clone(),
            self.config.clone(),
            self.budget.clone(),
            self.stats.clone(),
            handoff,
        ));
        session.state.lock().bandwidth = bandwidth::Bandwidth::new(
            grant.max_bandwidth,
            req.max_bandwidth,
            tokio::time::Instant::now(),
        );
        if let Some(header) = header {
            let mut st = session.state.lock();
            st.journal = Some(shoal_handoff::Journal::new(
                header,
                Vec::new(),
                0,
                std::time::Instant::now(),
            ));
            session.ask_flush(&mut st);
        }
        self.sessions.write().insert(id.clone(), session.clone());
        stats::add(&self.stats.sessions_created, 1);
        tracing::info!(session = %id, adapter_set = %set.name, client = %ctx.client_ip, user = ?req.user, "session created");
        trace_request("create_session", &id);
        session.bind(&req.stream, None, ctx)
    }

    /// Binds a new stream to an existing session.
    pub fn bind_session(&self, req: &BindSession, ctx: &BindContext) -> Result<Stream, Refusal> {
        let id = req.session.as_deref().ok_or_else(|| {
            (
                code::BAD_PARAMETER,
                "missing required parameter LS_session".to_owned(),
            )
        })?;
        let session = self
            .session(id)
            .ok_or_else(|| unknown_session(id, "bind_session"))?;
        trace_request("bind_session", id);
        let stream = session.bind(&req.stream, req.recovery_from, ctx);
        if let Err((refused, msg)) = &stream {
            tracing::info!(session = %id, code = refused, "bind refused: {msg}");
            if *refused == code::RECOVERY_IMPOSSIBLE {
                // The client will start over; the session cannot be recovered.
                self.close(&session, code::RECOVERY_IMPOSSIBLE, "recovery failed");
            }
        } else if req.recovery_from.is_some() {
            tracing::info!(session = %id, from = ?req.recovery_from, "session recovered");
        }
        stream
    }

    /// Counts one more session of a user, unless the metadata adapter's
    /// limit of sessions per user is reached.
    fn count_user(
        &self,
        key: &(String, Option<String>),
        limit: Option<usize>,
    ) -> Result<(), Refusal> {
        let mut users = self.users.lock();
        let held = users.get(key).copied().unwrap_or(0);
        if limit.is_some_and(|max| held >= max) {
            let user = key.1.as_deref().unwrap_or("(anonymous)");
            tracing::info!(user, held, "new session refused: sessions per user limit");
            return Err((
                code::USER_SESSIONS_LIMIT,
                format!("user {user} already holds the most sessions allowed ({held})"),
            ));
        }
        users.insert(key.clone(), held + 1);
        Ok(())
    }

    fn uncount_user(&self, key: &(String, Option<String>)) {
        let mut users = self.users.lock();
        if let Some(n) = users.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                users.remove(key);
            }
        }
    }

    /// Ends a session: its stream gets `END`, its items are released.
    pub fn close(&self, session: &Session, code: i32, message: &str) {
        self.finish(session, code, message, false);
    }

    /// Hands a session over to the other nodes (a drain): it ends here
    /// without `END`, its connection is cut, and its client recovers it
    /// through the balancer on a node that takes it over from its journal.
    /// Only with handoff on; otherwise it is closed with `END,48`.
    pub fn hand_over(&self, session: &Session) {
        let cut = session.handoff.is_some();
        self.finish(
            session,
            code::SESSION_MOVED,
            "the server is shutting down; open a new session",
            cut,
        );
    }

    fn finish(&self, session: &Session, code: i32, message: &str, cut: bool) {
        self.sessions.write().remove(&session.id);
        let Some(subs) = session.end(code, message, cut) else {
            return;
        };
        stats::add(&self.stats.sessions_closed, 1);
        if let (Some(h), false) = (&session.handoff, cut) {
            h.ended(&session.id);
        }
        self.stats
            .session_lifetime
            .observe(session.created.elapsed());
        self.uncount_user(&(session.set.name.clone(), session.info.user.clone()));
        for sub in subs {
            release(session, sub);
        }
        session.set.metadata.notify_session_close(&session.id);
        if cut {
            stats::add(&self.stats.sessions_handed_over, 1);
            tracing::info!(session = %session.id, "session handed over to the other nodes");
        } else {
            tracing::info!(session = %session.id, code, "session closed: {message}");
        }
    }

    /// Closes sessions left without a stream for too long. Runs until the
    /// engine is dropped.
    pub fn spawn_reaper(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tick.tick().await;
                let Some(engine) = weak.upgrade() else { return };
                let now = Instant::now();
                let expired: Vec<Arc<Session>> = engine
                    .sessions
                    .read()
                    .values()
                    .filter(|s| s.expired(now))
                    .cloned()
                    .collect();
                for s in expired {
                    engine.close(
                        &s,
                        code::CLOSED_BY_SERVER,
                        "session expired: no stream connection",
                    );
                }
                engine.housekeep(now);
                if let Some(max) = engine.config.max_session_duration {
                    let old: Vec<Arc<Session>> = engine
                        .sessions
                        .read()
                        .values()
                        .filter(|s| now.duration_since(s.created) >= max)
                        .cloned()
                        .collect();
                    for s in old {
                        engine.close(&s, code::SESSION_MOVED, "maximum session duration reached");
                    }
                }
            }
        })
    }
}

impl Engine {
    /// The reaper's round over the buffers: recovery logs trimmed to their
    /// window, stalled clients disconnected, and the budget enforced.
    fn housekeep(&self, now: Instant) {
        let sessions: Vec<Arc<Session>> = self.sessions.read().values().cloned().collect();
        let mut sizes = Vec::with_capacity(sessions.len());
        for s in sessions {
            let (stalled, held) = s.housekeep(now);
            if stalled {
                let secs = self.config.stall_timeout.as_secs_f64();
                let msg = format!("client stalled: its stream took nothing for {secs:.1} s");
                tracing::warn!(session = %s.id, held, "{msg}");
                self.close(&s, code::CLIENT_STALLED, &msg);
            } else {
                sizes.push((held, s));
            }
        }
        if let Some((held, s)) = sizes.iter().max_by_key(|(held, _)| *held) {
            tracing::trace!(used = self.budget.used(), budget = self.budget.limit, biggest = %s.id, held, "session buffers");
        }
        self.enforce_budget(sizes);
    }

    /// Over the budget, closes the sessions holding the most until the
    /// total is back under it. Sessions that hold little (the healthy ones)
    /// keep everything they have.
    fn enforce_budget(&self, mut sizes: Vec<(usize, Arc<Session>)>) {
        if !self.budget.is_over() {
            return;
        }
        self.log_budget("closing the sessions that hold the most");
        sizes.sort_by_key(|(held, _)| std::cmp::Reverse(*held));
        let mut used = self.budget.used();
        for (held, s) in sizes {
            if used <= self.budget.limit {
                break;
            }
            tracing::warn!(session = %s.id, held, "session closed: it held the most buffered data when the memory budget was reached");
            self.close(
                &s,
                code::CLIENT_STALLED,
                "the server's memory budget for session buffers was reached and this session held the most",
            );
            used = used.saturating_sub(held);
        }
    }

    fn log_budget(&self, what: &str) {
        let now = Instant::now();
        let mut last = self.budget_logged.lock();
        if last.is_some_and(|t| now.duration_since(t) < BUDGET_LOG_INTERVAL) {
            return;
        }
        *last = Some(now);
        tracing::warn!(
            used = self.budget.used(),
            budget = self.budget.limit,
            "memory budget of session buffers reached: {what}"
        );
    }
}

impl Engine {
    /// A copy of the node's statistics now: counters, gauges, histograms,
    /// the readiness of each data adapter and this process's figures. One
    /// short pass over the sessions (under the map's read lock, reading one
    /// atomic each): cheap enough to take every second with many sessions.
    pub fn stats(&self) -> StatsSnapshot {
        let mut snap = self.stats.snapshot();
        {
            let sessions = self.sessions.read();
            snap.sessions = sessions.len() as u64;
            for s in sessions.values() {
                let kind = s.bound_kind.get();
                match snap
                    .sessions_by_transport
                    .iter_mut()
                    .find(|(k, _)| Some(*k) == kind)
                {
                    Some((_, n)) => *n += 1,
                    None => snap.sessions_unbound += 1,
                }
            }
        }
        snap.items = self.item_count() as u64;
        snap.buffered_bytes = self.buffered_bytes() as u64;
        snap.adapters = self.adapter_readiness();
        snap.process = shoal_procstat::read_self().ok();
        snap
    }

    /// Counts a TLCP connection (an HTTP request or a WebSocket reaching
    /// TLCP) as accepted, and as open while the guard is held.
    pub fn connection_opened(&self) -> ConnectionGuard {
        ConnectionGuard::new(self.stats.clone())
    }

    /// Every data adapter with its readiness, sorted by adapter set and name.
    pub fn adapter_readiness(&self) -> Vec<AdapterReadiness> {
        let mut out: Vec<AdapterReadiness> = self
            .sets
            .values()
            .flat_map(|s| s.hubs.values())
            .map(|h| AdapterReadiness {
                adapter_set: h.adapter_set.clone(),
                data_adapter: h.name.clone(),
                unready: h.provider().readiness().err().map(|why| why.to_string()),
            })
            .collect();
        out.sort_by(|a, b| {
            (&a.adapter_set, &a.data_adapter).cmp(&(&b.adapter_set, &b.data_adapter))
        });
        out
    }
}

fn release(session: &Session, sub: subscription::Subscription) {
    for si in &sub.items {
        si.item.detach(session, sub.sub_id);
        sub.hub.release(&si.item);
    }
    session
        .set
        .metadata
        .notify_tables_close(&session.id, std::slice::from_ref(&*sub.table));
}

pub(crate) fn unknown_session(id: &str, request: &'static str) -> Refusal {
    let shown: String = id.chars().take(64).collect();
    // In a cluster this is the sign of a request routed to the wrong node.
    tracing::info!(target: REQUEST_LOG, session = %shown, request, "request for an unknown session");
    (code::UNKNOWN_SESSION, format!("session not found: {shown}"))
}

/// Log target of the per-request trail (`--log-level info,shoal::requests=debug`):
/// which node got which request of which session, to follow a session
/// through a cluster.
pub const REQUEST_LOG: &str = "shoal::requests";

pub(crate) fn trace_request(request: &'static str, session: &str) {
    tracing::debug!(target: REQUEST_LOG, session, request, "request");
}
