//! Shared pieces of the engine tests: a scripted adapter set (metadata and
//! data providers that record what the engine asks of them), request
//! builders going through the protocol parser, and a stream reader that
//! gathers TLCP lines with a timeout so that a bug fails instead of hanging.

#![allow(dead_code)] // every test binary uses a different subset

use shoal_adapter::{
    ready, AdapterError, AdapterSet, BoxFuture, DataProvider, Grant, ItemData, ItemEvent,
    ItemEventListener, Login, MetadataProvider, Mode, ServerControl, SessionInfo, TableInfo,
};
use shoal_engine::{BindContext, Engine, EngineConfig, Stream};
use shoal_protocol::decode::{decode_values, split_line};
use shoal_protocol::parse_http;
use shoal_protocol::request::{BindSession, Control, CreateSession, Msg, Request};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How long a test waits for something that should happen. Under paused
/// time it costs nothing; in real time it is only reached when broken.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The adapter set every test session uses.
pub const SET: &str = "TEST";

/// An item name the data provider refuses with code 21.
pub const BAD_ITEM: &str = "bad_item";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

// ---------------------------------------------------------------------------
// Metadata provider

/// Groups and schemas are space-separated lists of names. Users and messages
/// can be refused with a chosen code; every call is recorded.
#[derive(Default)]
pub struct FakeMetadata {
    state: Mutex<MetaState>,
}

#[derive(Default)]
struct MetaState {
    refused_users: HashMap<String, (i32, String)>,
    refused_messages: HashMap<String, (i32, String)>,
    reply: Option<String>,
    limits: HashMap<String, ItemData>,
    denied_modes: HashSet<(String, Mode)>,
    users: Vec<Option<String>>,
    new_sessions: Vec<String>,
    closed_sessions: Vec<String>,
    messages: Vec<String>,
    sessions_per_user: Option<usize>,
    logins: Vec<Login>,
    new_session_infos: Vec<SessionInfo>,
    refused_groups: HashMap<String, (i32, String)>,
    tables: Vec<TableInfo>,
    closed_tables: Vec<TableInfo>,
    control: Option<Arc<dyn ServerControl>>,
    max_bandwidth: Option<f64>,
}

impl fmt::Debug for FakeMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeMetadata").finish_non_exhaustive()
    }
}

impl FakeMetadata {
    pub fn refuse_user(&self, user: &str, code: i32, message: &str) {
        lock(&self.state)
            .refused_users
            .insert(user.to_owned(), (code, message.to_owned()));
    }

    pub fn refuse_message(&self, text: &str, code: i32, message: &str) {
        lock(&self.state)
            .refused_messages
            .insert(text.to_owned(), (code, message.to_owned()));
    }

    /// What `MSGDONE` carries for accepted messages (none by default).
    pub fn reply_with(&self, response: &str) {
        lock(&self.state).reply = Some(response.to_owned());
    }

    pub fn limit_item(&self, item: &str, limits: ItemData) {
        lock(&self.state).limits.insert(item.to_owned(), limits);
    }

    pub fn deny_mode(&self, item: &str, mode: Mode) {
        lock(&self.state)
            .denied_modes
            .insert((item.to_owned(), mode));
    }

    /// Makes the provider grant every user `kbps` kbit/s per session.
    pub fn grant_bandwidth(&self, kbps: f64) {
        lock(&self.state).max_bandwidth = Some(kbps);
    }

    /// Makes the provider limit each user to `n` sessions.
    pub fn limit_sessions_per_user(&self, n: usize) {
        lock(&self.state).sessions_per_user = Some(n);
    }

    pub fn messages(&self) -> Vec<String> {
        lock(&self.state).messages.clone()
    }

    pub fn users(&self) -> Vec<Option<String>> {
        lock(&self.state).users.clone()
    }

    pub fn new_sessions(&self) -> Vec<String> {
        lock(&self.state).new_sessions.clone()
    }

    pub fn closed_sessions(&self) -> Vec<String> {
        lock(&self.state).closed_sessions.clone()
    }

    /// What `notify_user` was given, in the order of the calls.
    pub fn logins(&self) -> Vec<Login> {
        lock(&self.state).logins.clone()
    }

    /// What `notify_new_session` was given, in the order of the calls.
    pub fn session_infos(&self) -> Vec<SessionInfo> {
        lock(&self.state).new_session_infos.clone()
    }

    /// Makes `notify_new_tables` refuse subscriptions to `group`.
    pub fn refuse_group(&self, group: &str, code: i32, message: &str) {
        lock(&self.state)
            .refused_groups
            .insert(group.to_owned(), (code, message.to_owned()));
    }

    /// Tables accepted by `notify_new_tables`, in order.
    pub fn tables(&self) -> Vec<TableInfo> {
        lock(&self.state).tables.clone()
    }

    /// Tables given to `notify_tables_close`, in order.
    pub fn closed_tables(&self) -> Vec<TableInfo> {
        lock(&self.state).closed_tables.clone()
    }

    /// What the engine handed over with `set_control`.
    pub fn control(&self) -> Arc<dyn ServerControl> {
        match lock(&self.state).control.clone() {
            Some(control) => control,
            None => panic!("the engine never called set_control"),
        }
    }
}

/// `modes` without `mode`.
fn without(modes: shoal_adapter::ModeSet, mode: Mode) -> shoal_adapter::ModeSet {
    [Mode::Raw, Mode::Merge, Mode::Distinct, Mode::Command]
        .into_iter()
        .filter(|m| *m != mode && modes.contains(*m))
        .collect()
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

impl MetadataProvider for FakeMetadata {
    fn set_control(&self, control: Arc<dyn ServerControl>) {
        lock(&self.state).control = Some(control);
    }

    fn notify_user<'a>(&'a self, login: &'a Login) -> BoxFuture<'a, Result<(), AdapterError>> {
        let mut st = lock(&self.state);
        st.users.push(login.user.clone());
        st.logins.push(login.clone());
        let refusal = login
            .user
            .as_deref()
            .and_then(|u| st.refused_users.get(u).cloned());
        ready(match refusal {
            Some((code, message)) => Err(AdapterError::new(code, message)),
            None => Ok(()),
        })
    }

    fn notify_user_grant<'a>(
        &'a self,
        login: &'a Login,
    ) -> BoxFuture<'a, Result<Grant, AdapterError>> {
        let checked = self.notify_user(login);
        let kbps = lock(&self.state).max_bandwidth;
        Box::pin(async move {
            checked
                .await
                .map(|()| Grant::bandwidth(kbps.unwrap_or(0.0)))
        })
    }

    fn notify_new_session<'a>(
        &'a self,
        session: &'a SessionInfo,
    ) -> BoxFuture<'a, Result<(), AdapterError>> {
        let mut st = lock(&self.state);
        st.new_sessions.push(session.session_id.clone());
        st.new_session_infos.push(session.clone());
        ready(Ok(()))
    }

    fn max_sessions_per_user(&self) -> Option<usize> {
        lock(&self.state).sessions_per_user
    }

    fn notify_session_close(&self, session_id: &str) {
        lock(&self.state)
            .closed_sessions
            .push(session_id.to_owned());
    }

    fn get_items<'a>(
        &'a self,
        _session: &'a SessionInfo,
        group: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, AdapterError>> {
        ready(Ok(words(group)))
    }

    fn get_schema<'a>(
        &'a self,
        _session: &'a SessionInfo,
        _group: &'a str,
        schema: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, AdapterError>> {
        ready(Ok(words(schema)))
    }

    fn item_data<'a>(
        &'a self,
        _session: &'a SessionInfo,
        _data_adapter: &'a str,
        items: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<ItemData>, AdapterError>> {
        let st = lock(&self.state);
        let data = items
            .iter()
            .map(|item| {
                let mut d = st.limits.get(item).copied().unwrap_or_default();
                for (denied, mode) in &st.denied_modes {
                    if denied == item {
                        d.allowed_modes = without(d.allowed_modes, *mode);
                    }
                }
                d
            })
            .collect();
        ready(Ok(data))
    }

    fn notify_new_tables<'a>(
        &'a self,
        _session: &'a SessionInfo,
        tables: &'a [TableInfo],
    ) -> BoxFuture<'a, Result<(), AdapterError>> {
        let mut st = lock(&self.state);
        let refusal = tables
            .iter()
            .find_map(|t| st.refused_groups.get(&t.group).cloned());
        if refusal.is_none() {
            st.tables.extend(tables.iter().cloned());
        }
        ready(match refusal {
            Some((code, message)) => Err(AdapterError::new(code, message)),
            None => Ok(()),
        })
    }

    fn notify_tables_close(&self, _session_id: &str, tables: &[TableInfo]) {
        lock(&self.state)
            .closed_tables
            .extend(tables.iter().cloned());
    }

    fn notify_user_message<'a>(
        &'a self,
        _session: &'a SessionInfo,
        message: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, AdapterError>> {
        let mut st = lock(&self.state);
        st.messages.push(message.to_owned());
        let result = match st.refused_messages.get(message) {
            Some((code, text)) => Err(AdapterError::new(*code, text.clone())),
            None => Ok(st.reply.clone()),
        };
        ready(result)
    }
}

// ---------------------------------------------------------------------------
// Data provider

/// Records `subscribe`/`unsubscribe` calls and keeps the listener, through
/// which a test pushes events synchronously.
#[derive(Default)]
pub struct FakeData {
    state: Mutex<DataState>,
}

#[derive(Default)]
struct DataState {
    listener: Option<Arc<dyn ItemEventListener>>,
    /// `+item` for a subscribe, `-item` for an unsubscribe, in order.
    calls: Vec<String>,
    with_snapshot: HashSet<String>,
    on_subscribe: HashMap<String, Vec<Push>>,
    gates: HashMap<String, (mpsc::Sender<()>, mpsc::Receiver<()>)>,
    /// `history_length` answers, per item.
    history: HashMap<String, usize>,
}

/// Holds one provider call (`+item` or `-item`) at its start: `entered`
/// tells when the call has begun, sending on `proceed` lets it go on.
#[derive(Debug)]
pub struct Gate {
    pub entered: mpsc::Receiver<()>,
    pub proceed: mpsc::Sender<()>,
}

impl Gate {
    /// Blocks the calling thread until the gated call has begun.
    pub fn wait_entered(&self) {
        if self.entered.recv_timeout(TIMEOUT).is_err() {
            panic!("the gated provider call never came");
        }
    }

    pub fn open(&self) {
        let _ = self.proceed.send(());
    }
}

/// Something the data provider pushes from inside `subscribe`.
#[derive(Debug, Clone)]
pub enum Push {
    Update(ItemEvent, bool),
    EndOfSnapshot,
    ClearSnapshot,
    /// A whole snapshot at once (`ItemEventListener::snapshot`).
    Snapshot(Vec<ItemEvent>),
}

impl fmt::Debug for FakeData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeData").finish_non_exhaustive()
    }
}

impl FakeData {
    /// `item` will say it sends a snapshot after `subscribe` (the test
    /// then pushes it, ending with [`FakeData::end_of_snapshot`]).
    pub fn snapshot_available(&self, item: &str) {
        lock(&self.state).with_snapshot.insert(item.to_owned());
    }

    /// `item` asks the server to keep `n` events of DISTINCT history.
    pub fn keep_history(&self, item: &str, n: usize) {
        lock(&self.state).history.insert(item.to_owned(), n);
    }

    /// `item` will push these from inside `subscribe`, as a provider with
    /// its data at hand may do.
    pub fn push_on_subscribe(&self, item: &str, pushes: Vec<Push>) {
        lock(&self.state)
            .on_subscribe
            .insert(item.to_owned(), pushes);
    }

    /// Holds the next `subscribe` (`call` = `+item`) or `unsubscribe`
    /// (`-item`) of an item until the test opens the gate; the call blocks
    /// its thread meanwhile, so use a multi-thread runtime.
    pub fn gate(&self, call: &str) -> Gate {
        let (entered_tx, entered_rx) = mpsc::channel();
        let (proceed_tx, proceed_rx) = mpsc::channel();
        lock(&self.state)
            .gates
            .insert(call.to_owned(), (entered_tx, proceed_rx));
        Gate {
            entered: entered_rx,
            proceed: proceed_tx,
        }
    }

    fn pass_gate(&self, call: &str) {
        let gate = lock(&self.state).gates.remove(call);
        if let Some((entered, proceed)) = gate {
            let _ = entered.send(());
            let _ = proceed.recv_timeout(TIMEOUT);
        }
    }

    pub fn listener(&self) -> Arc<dyn ItemEventListener> {
        match &lock(&self.state).listener {
            Some(l) => l.clone(),
            None => panic!("the engine never called set_listener"),
        }
    }

    /// Pushes an event made of `(field, value)` pairs.
    pub fn update(&self, item: &str, fields: &[(&str, &str)], snapshot: bool) {
        self.listener().update(item, event(fields), snapshot);
    }

    pub fn event(&self, item: &str, ev: ItemEvent, snapshot: bool) {
        self.listener().update(item, ev, snapshot);
    }

    pub fn end_of_snapshot(&self, item: &str) {
        self.listener().end_of_snapshot(item);
    }

    pub fn clear_snapshot(&self, item: &str) {
        self.listener().clear_snapshot(item);
    }

    pub fn calls(&self) -> Vec<String> {
        lock(&self.state).calls.clone()
    }

    pub fn subscribes(&self, item: &str) -> usize {
        let want = format!("+{item}");
        lock(&self.state)
            .calls
            .iter()
            .filter(|c| **c == want)
            .count()
    }

    pub fn unsubscribes(&self, item: &str) -> usize {
        let want = format!("-{item}");
        lock(&self.state)
            .calls
            .iter()
            .filter(|c| **c == want)
            .count()
    }
}

impl DataProvider for FakeData {
    fn set_listener(&self, listener: Arc<dyn ItemEventListener>) {
        lock(&self.state).listener = Some(listener);
    }

    fn subscribe(&self, item: &str) -> Result<(), AdapterError> {
        self.pass_gate(&format!("+{item}"));
        let pushes = {
            let mut st = lock(&self.state);
            st.calls.push(format!("+{item}"));
            st.on_subscribe.get(item).cloned().unwrap_or_default()
        };
        if item == BAD_ITEM {
            return Err(AdapterError::new(21, format!("no such item: {item}")));
        }
        let listener = self.listener();
        for p in pushes {
            match p {
                Push::Update(ev, snapshot) => listener.update(item, ev, snapshot),
                Push::EndOfSnapshot => listener.end_of_snapshot(item),
                Push::ClearSnapshot => listener.clear_snapshot(item),
                Push::Snapshot(events) => listener.snapshot(item, events),
            }
        }
        Ok(())
    }

    fn history_length(&self, item: &str) -> Option<usize> {
        lock(&self.state).history.get(item).copied()
    }

    fn unsubscribe(&self, item: &str) {
        self.pass_gate(&format!("-{item}"));
        lock(&self.state).calls.push(format!("-{item}"));
    }

    fn is_snapshot_available(&self, item: &str) -> bool {
        lock(&self.state).with_snapshot.contains(item)
    }
}

// ---------------------------------------------------------------------------
// Engine set-up

/// An engine with one adapter set, [`SET`], whose data adapters are
/// `DEFAULT` ([`Harness::data`]) and `OTHER` ([`Harness::other`]).
pub struct Harness {
    pub engine: Arc<Engine>,
    pub meta: Arc<FakeMetadata>,
    pub data: Arc<FakeData>,
    pub other: Arc<FakeData>,
}

impl Harness {
    pub fn new() -> Self {
        Self::with_config(EngineConfig::default())
    }

    pub fn with_config(config: EngineConfig) -> Self {
        Self::build(config, false)
    }

    /// A harness whose set has [`AdapterSet::ignores_control_link`].
    pub fn ignoring_control_link() -> Self {
        Self::build(EngineConfig::default(), true)
    }

    fn build(config: EngineConfig, ignores_control_link: bool) -> Self {
        let meta = Arc::new(FakeMetadata::default());
        let data = Arc::new(FakeData::default());
        let other = Arc::new(FakeData::default());
        let mut providers: HashMap<String, Arc<dyn DataProvider>> = HashMap::new();
        providers.insert("DEFAULT".into(), data.clone());
        providers.insert("OTHER".into(), other.clone());
        let set = AdapterSet {
            name: SET.into(),
            metadata: meta.clone(),
            data: providers,
            ignores_control_link,
        };
        Self {
            engine: Engine::new(config, vec![set]),
            meta,
            data,
            other,
        }
    }

    /// Creates a streaming WebSocket session and reads its head.
    pub async fn open(&self) -> Client {
        self.open_with("", &ws()).await
    }

    /// Creates a session with extra `create_session` parameters and reads
    /// its head (the whole first chunk).
    pub async fn open_with(&self, params: &str, ctx: &BindContext) -> Client {
        let stream = match self.engine.create_session(&create(params), ctx).await {
            Ok(s) => s,
            Err(e) => panic!("create_session refused: {e:?}"),
        };
        let mut client = Client::new(stream);
        let head = client.chunk().await;
        assert!(head.is_some(), "the stream ended before its head");
        let first = client.lines.first().cloned().unwrap_or_default();
        let conok = split(&first);
        assert_eq!(conok.0, "CONOK", "head: {:?}", client.lines);
        client.session = conok.1[0].clone();
        client.head = client.take();
        client
    }

    /// Runs a control request given as TLCP parameters (without
    /// `LS_session`).
    pub async fn control(&self, session: &str, params: &str) -> Result<(), (i32, String)> {
        self.engine.control(session, control(session, params)).await
    }

    /// Like [`Harness::control`], failing the test on a refusal.
    pub async fn ok(&self, session: &str, params: &str) {
        if let Err(e) = self.control(session, params).await {
            panic!("control {params:?} refused: {e:?}");
        }
    }

    pub async fn message(&self, session: &str, params: &str) -> Result<(), (i32, String)> {
        self.engine.message(session, msg(session, params)).await
    }

    pub fn bind(
        &self,
        session: &str,
        params: &str,
        ctx: &BindContext,
    ) -> Result<Stream, (i32, String)> {
        let params = if params.is_empty() {
            format!("LS_session={session}")
        } else {
            format!("LS_session={session}&{params}")
        };
        self.engine.bind_session(&bind(&params), ctx)
    }

    /// Binds and wraps the stream, failing the test on a refusal.
    pub fn rebind(&self, session: &str, params: &str, ctx: &BindContext) -> Client {
        match self.bind(session, params, ctx) {
            Ok(s) => {
                let mut c = Client::new(s);
                c.session = session.to_owned();
                c
            }
            Err(e) => panic!("bind_session refused: {e:?}"),
        }
    }
}

impl Harness {
    /// Counted notifications the session produced so far.
    pub fn progressive(&self, session: &str) -> u64 {
        match self.engine.session(session) {
            Some(s) => s.progressive(),
            None => panic!("no session {session}"),
        }
    }

    /// Subscribes and reads through the `CONF` line (the `SUBOK`/`SUBCMD`
    /// and `CONF` lines, and any older lines not read yet).
    pub async fn subscribe(&self, client: &mut Client, params: &str) -> Vec<String> {
        self.ok(&client.session, params).await;
        client.through(|l| l.starts_with("CONF,")).await
    }
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

/// A WebSocket connection from 10.0.0.1 (no content length).
pub fn ws() -> BindContext {
    BindContext {
        client_ip: "10.0.0.1".into(),
        client_port: 50000,
        headers: vec![("user-agent".to_owned(), "test-client/1".to_owned())].into(),
        control_link: None,
        server_name: "Shoal".into(),
        websocket: true,
    }
}

/// An HTTP connection from 10.0.0.1 (streams end at their content length).
pub fn http() -> BindContext {
    BindContext {
        websocket: false,
        ..ws()
    }
}

/// Engine settings that accept short keepalives, for tests that run in
/// real time.
pub fn fast_config() -> EngineConfig {
    EngineConfig {
        keepalive: Duration::from_millis(200),
        min_keepalive: Duration::from_millis(10),
        ..EngineConfig::default()
    }
}

// ---------------------------------------------------------------------------
// Requests, through the protocol parser

fn one(name: &str, body: &str) -> Request {
    let batch = match parse_http(name, "", body) {
        Ok(b) => b,
        Err(e) => panic!("{name} {body:?} does not parse: {e}"),
    };
    assert_eq!(batch.requests.len(), 1, "{body:?}");
    match batch.requests.into_iter().next() {
        Some(Ok(r)) => r,
        other => panic!("{name} {body:?} does not parse: {other:?}"),
    }
}

/// A `create_session` for [`SET`] with extra parameters.
pub fn create(params: &str) -> CreateSession {
    let body = if params.is_empty() {
        format!("LS_adapter_set={SET}")
    } else if params.contains("LS_adapter_set=") {
        params.to_owned()
    } else {
        format!("LS_adapter_set={SET}&{params}")
    };
    match one("create_session", &body) {
        Request::CreateSession(c) => c,
        other => panic!("{other:?}"),
    }
}

pub fn bind(params: &str) -> BindSession {
    match one("bind_session", params) {
        Request::BindSession(b) => b,
        other => panic!("{other:?}"),
    }
}

pub fn control(session: &str, params: &str) -> Control {
    let body = if params.contains("LS_reqId=") {
        format!("LS_session={session}&{params}")
    } else {
        format!("LS_session={session}&LS_reqId=1&{params}")
    };
    match one("control", &body) {
        Request::Control(c) => c,
        other => panic!("{other:?}"),
    }
}

pub fn msg(session: &str, params: &str) -> Msg {
    let body = if params.contains("LS_reqId=") {
        format!("LS_session={session}&{params}")
    } else {
        format!("LS_session={session}&LS_reqId=1&{params}")
    };
    match one("msg", &body) {
        Request::Msg(m) => m,
        other => panic!("{other:?}"),
    }
}

/// The parameters of an `add`: `sub`, `mode`, group and schema (space
/// separated, spaces written `+`), then extra parameters.
pub fn add(sub: u32, mode: &str, group: &str, schema: &str, extra: &str) -> String {
    let mut p = format!(
        "LS_op=add&LS_subId={sub}&LS_mode={mode}&LS_group={}&LS_schema={}",
        group.replace(' ', "+"),
        schema.replace(' ', "+")
    );
    if !extra.is_empty() {
        p.push('&');
        p.push_str(extra);
    }
    p
}

// ---------------------------------------------------------------------------
// Reading lines

/// A line's tag and decoded arguments; panics on a line the protocol
/// crate cannot split.
pub fn split(line: &str) -> (String, Vec<String>) {
    let raw = match split_line(line) {
        Some(r) => r,
        None => panic!("not a TLCP line: {line:?}"),
    };
    (
        raw.tag.to_owned(),
        raw.args.iter().map(|a| (*a).to_owned()).collect(),
    )
}

/// Whether a line is counted for recovery (data notifications).
pub fn is_counted(line: &str) -> bool {
    let tag = line.split(',').next().unwrap_or("");
    matches!(
        tag,
        "U" | "SUBOK" | "SUBCMD" | "UNSUB" | "EOS" | "CS" | "OV" | "CONF" | "MSGDONE" | "MSGFAIL"
    )
}

/// Decodes the values of a `U` line against the previous ones.
pub fn values(line: &str, previous: &[Option<String>]) -> Vec<Option<String>> {
    let (tag, args) = split(line);
    assert_eq!(tag, "U", "{line}");
    match decode_values(&args[2], previous) {
        Some(v) => v,
        None => panic!("bad value list in {line:?} (previous {previous:?})"),
    }
}

/// An event from `(field, value)` pairs.
pub fn event(fields: &[(&str, &str)]) -> ItemEvent {
    fields
        .iter()
        .fold(ItemEvent::new(), |ev, (f, v)| ev.with(*f, *v))
}

/// `Some("x")` shorthand for expected values.
pub fn vals(v: &[Option<&str>]) -> Vec<Option<String>> {
    v.iter().map(|o| o.map(str::to_owned)).collect()
}

/// A stream and the lines read from it so far.
pub struct Client {
    pub stream: Stream,
    pub session: String,
    /// The head lines of a session created by [`Harness::open_with`].
    pub head: Vec<String>,
    /// Every line read, in order, without CRLF.
    pub lines: Vec<String>,
    /// The chunks as returned, to check where a stream ended.
    pub chunks: Vec<String>,
    /// Index of the first line not yet handed out by [`Client::until`].
    seen: usize,
    ended: bool,
}

impl Client {
    pub fn new(stream: Stream) -> Self {
        Self {
            stream,
            session: String::new(),
            head: Vec::new(),
            lines: Vec::new(),
            chunks: Vec::new(),
            seen: 0,
            ended: false,
        }
    }

    pub fn ended(&self) -> bool {
        self.ended
    }

    /// The next chunk, or `None` at the end of the stream; panics after
    /// [`TIMEOUT`].
    pub async fn chunk(&mut self) -> Option<String> {
        self.chunk_within(TIMEOUT)
            .await
            .unwrap_or_else(|| panic!("no chunk within {TIMEOUT:?}; read so far: {:?}", self.lines))
    }

    /// The next chunk if one comes within `d`: `None` on timeout,
    /// `Some(None)` at the end of the stream.
    pub async fn chunk_within(&mut self, d: Duration) -> Option<Option<String>> {
        let got = tokio::time::timeout(d, self.stream.next_chunk())
            .await
            .ok()?;
        match &got {
            Some(text) => {
                assert!(
                    text.ends_with("\r\n"),
                    "chunk without a final CRLF: {text:?}"
                );
                for l in text.split_terminator("\r\n") {
                    assert!(!l.contains('\n') && !l.contains('\r'), "{l:?}");
                    self.lines.push(l.to_owned());
                }
                self.chunks.push(text.clone());
            }
            None => self.ended = true,
        }
        Some(got)
    }

    /// Reads one more chunk before `deadline`; panics if the stream ends
    /// or the deadline passes.
    async fn read_more(&mut self, deadline: tokio::time::Instant, what: &str) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match self.chunk_within(left).await {
            Some(Some(_)) => {}
            Some(None) => panic!(
                "stream ended while waiting for {what}; new lines: {:?}",
                &self.lines[self.seen..]
            ),
            None => panic!(
                "{what} not met within {TIMEOUT:?}; new lines: {:?}",
                &self.lines[self.seen..]
            ),
        }
    }

    /// Reads until `done` holds for the lines not handed out yet, and
    /// hands them out. Panics if the stream ends or times out first.
    pub async fn until(&mut self, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        while !done(&self.lines[self.seen..]) {
            self.read_more(deadline, "condition").await;
        }
        self.take()
    }

    /// Reads until a new line satisfying `pred` has come, and hands out the
    /// lines up to it (included); later lines stay for the next call.
    pub async fn through(&mut self, pred: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            if let Some(i) = self.lines[self.seen..].iter().position(|l| pred(l)) {
                let end = self.seen + i + 1;
                let out = self.lines[self.seen..end].to_vec();
                self.seen = end;
                return out;
            }
            self.read_more(deadline, "line").await;
        }
    }

    /// Reads until at least `n` new lines have come.
    pub async fn next_lines(&mut self, n: usize) -> Vec<String> {
        self.until(|l| l.len() >= n).await
    }

    /// Reads until a new line satisfying `pred` has come.
    pub async fn until_line(&mut self, pred: impl Fn(&str) -> bool) -> Vec<String> {
        self.until(|l| l.iter().any(|x| pred(x))).await
    }

    /// Reads until a new line starting with `prefix` has come.
    pub async fn until_prefix(&mut self, prefix: &str) -> Vec<String> {
        self.until_line(|l| l.starts_with(prefix)).await
    }

    /// Hands out the lines read and not handed out yet.
    pub fn take(&mut self) -> Vec<String> {
        let out = self.lines[self.seen..].to_vec();
        self.seen = self.lines.len();
        out
    }

    /// Reads to the end of the stream and hands out the remaining lines.
    pub async fn read_to_end(&mut self) -> Vec<String> {
        while !self.ended {
            if self.chunk().await.is_none() {
                break;
            }
        }
        self.take()
    }

    /// Asserts nothing comes within `d` (keep it below the keepalive).
    pub async fn quiet(&mut self, d: Duration) {
        if let Some(got) = self.chunk_within(d).await {
            panic!("expected nothing for {d:?}, got {got:?}");
        }
    }
}
