//! The proxy Data Adapter: a [`DataProvider`] whose items come from a
//! remote Data Adapter over ARI.
//!
//! The engine's `subscribe`/`unsubscribe` become `SUB`/`USB` requests (see
//! [`items`] for the rules); the remote's `UD3`, `EOS`, `CLS` and `FAL`
//! reach the engine's listener from the task that reads the connection.

pub mod items;

use crate::link::LinkError;
use crate::port::PortKind;
use crate::session::{Proxy, Remote, RemoteState};
use crate::settings::ProxySettings;
use items::{Items, Request, Route, Signal};
use parking_lot::Mutex;
use shoal_adapter::{AdapterError, DataProvider, DiffAlgorithm, ItemEvent, ItemEventListener};
use shoal_ari::{FieldValue, Received, RequestId};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// The field of a `status_item`.
const STATUS_FIELD: &str = "status";

/// A Data Adapter served by a remote process.
pub struct RemoteData {
    settings: ProxySettings,
    shared: Mutex<Shared>,
    listener: OnceLock<Arc<dyn ItemEventListener>>,
}

impl std::fmt::Debug for RemoteData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteData")
            .field("name", &self.settings.name)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Shared {
    items: Items,
    remote: Option<Remote>,
    state: RemoteState,
    /// A client holds the `status_item`.
    status_wanted: bool,
    names: Names,
}

/// Field names seen in updates, shared by every event that carries them.
/// Bounded: past [`Names::LIMIT`] distinct names (a remote inventing names)
/// new ones are allocated per event and not kept.
#[derive(Debug, Default)]
struct Names(HashSet<Arc<str>>);

impl Names {
    const LIMIT: usize = 4096;

    fn get(&mut self, name: &str) -> Arc<str> {
        if let Some(n) = self.0.get(name) {
            return n.clone();
        }
        let n: Arc<str> = Arc::from(name);
        if self.0.len() < Self::LIMIT {
            self.0.insert(n.clone());
        }
        n
    }
}

impl RemoteData {
    pub(crate) fn new(settings: ProxySettings) -> Arc<Self> {
        let items = Items::new(10, settings.events_recovery);
        Arc::new(Self {
            settings,
            shared: Mutex::new(Shared {
                items,
                remote: None,
                state: RemoteState::Connecting,
                status_wanted: false,
                names: Names::default(),
            }),
            listener: OnceLock::new(),
        })
    }

    fn is_status_item(&self, item: &str) -> bool {
        self.settings.status_item.as_deref() == Some(item)
    }

    fn status_event(state: RemoteState) -> ItemEvent {
        ItemEvent::new().with(STATUS_FIELD, state.as_str())
    }

    /// Sends `requests` to the remote, if there is one.
    fn send(remote: Option<&Remote>, requests: &[Request]) {
        let Some(remote) = remote else { return };
        if requests.is_empty() {
            return;
        }
        remote.send(|enc, buf| {
            for r in requests {
                match r {
                    Request::Subscribe { id, item } => enc.subscribe(buf, RequestId(*id), item),
                    Request::Unsubscribe { id, item } => enc.unsubscribe(buf, RequestId(*id), item),
                }
            }
        });
    }

    fn signal(&self, signals: Vec<Signal>) {
        let Some(listener) = self.listener.get() else {
            return;
        };
        for s in signals {
            match s {
                Signal::EndOfSnapshot(item) => listener.end_of_snapshot(&item),
                Signal::ClearSnapshot(item) => listener.clear_snapshot(&item),
            }
        }
    }

    /// Tells `status_item` subscribers the new state.
    fn set_state(&self, state: RemoteState) {
        let wanted = {
            let mut sh = self.shared.lock();
            sh.state = state;
            sh.status_wanted
        };
        if let (true, Some(item), Some(listener)) =
            (wanted, &self.settings.status_item, self.listener.get())
        {
            listener.update(item, Self::status_event(state), false);
        }
    }

    /// Applies one `UD3` line: field names come from the proxy's table of
    /// names (no allocation for a name seen before), each value is
    /// allocated once, as the engine keeps it.
    fn update(&self, u: &shoal_ari::Update<'_>) -> Result<(), LinkError> {
        let Some(sub) = RequestId::parse(&u.sub_id) else {
            return Ok(());
        };
        let mut sh = self.shared.lock();
        let Route::Deliver { item, snapshot } = sh.items.route(sub.0, u.snapshot) else {
            return Ok(());
        };
        let mut event = ItemEvent::with_capacity(8);
        for field in u.fields() {
            let field = field.map_err(|e| LinkError::Protocol(format!("bad update: {e}")))?;
            let value: Option<Arc<str>> = match field.value {
                FieldValue::Null => None,
                FieldValue::Text(t) => Some(Arc::from(&*t)),
                FieldValue::Bytes(b) => {
                    let bytes = b
                        .decode()
                        .map_err(|_| LinkError::Protocol("bad base64 value in an update".into()))?;
                    Some(Arc::from(String::from_utf8_lossy(&bytes)))
                }
            };
            event.push(sh.names.get(&field.name), value);
        }
        drop(sh);
        if let Some(listener) = self.listener.get() {
            listener.update(&item, event, snapshot);
        }
        Ok(())
    }

    /// A `DFD`: the diff algorithms the remote allows for fields of an
    /// item, handed to the engine as an in-process provider declares them.
    /// A field the line says nothing of (`#`) keeps what it had.
    fn field_diffs(&self, d: &shoal_ari::FieldDiffs<'_>) {
        let Some(sub) = RequestId::parse(&d.sub_id) else {
            return;
        };
        let Some(item) = self.shared.lock().items.item_of(sub.0) else {
            return;
        };
        let fields: HashMap<String, Vec<DiffAlgorithm>> = d
            .fields
            .iter()
            .filter_map(|(name, algorithms)| {
                let algorithms = algorithms.as_ref()?.iter().map(|a| match a {
                    shoal_ari::DiffAlgorithm::JsonPatch => DiffAlgorithm::JsonPatch,
                    shoal_ari::DiffAlgorithm::DiffMatchPatch => DiffAlgorithm::DiffMatchPatch,
                });
                Some((name.to_string(), algorithms.collect()))
            })
            .collect();
        if let Some(l) = self.listener.get() {
            l.declare_field_diff_order(&item, fields);
        }
    }

    fn answered(&self, id: Option<RequestId>, outcome: Result<(), String>) {
        let Some(id) = id else { return };
        let mut out = Vec::new();
        let mut sh = self.shared.lock();
        let item = sh.items.answered(id.0, outcome.is_ok(), &mut out);
        Self::send(sh.remote.as_ref(), &out);
        drop(sh);
        if let (Some(item), Err(why)) = (item, outcome) {
            tracing::warn!(adapter = %self.settings.name, item = %item, "the remote adapter refused a subscription request: {why}");
        }
    }
}

impl DataProvider for RemoteData {
    fn set_listener(&self, listener: Arc<dyn ItemEventListener>) {
        let _ = self.listener.set(listener);
    }

    fn subscribe(&self, item: &str) -> Result<(), AdapterError> {
        if self.is_status_item(item) {
            let state = {
                let mut sh = self.shared.lock();
                sh.status_wanted = true;
                sh.state
            };
            if let Some(listener) = self.listener.get() {
                listener.update(item, Self::status_event(state), true);
                listener.end_of_snapshot(item);
            }
            return Ok(());
        }
        let mut out = Vec::new();
        let signal = {
            let mut sh = self.shared.lock();
            let signal = sh.items.subscribe(item, &mut out);
            Self::send(sh.remote.as_ref(), &out);
            signal
        };
        self.signal(signal.into_iter().collect());
        Ok(())
    }

    fn unsubscribe(&self, item: &str) {
        let mut sh = self.shared.lock();
        if self.is_status_item(item) {
            sh.status_wanted = false;
            return;
        }
        let mut out = Vec::new();
        sh.items.unsubscribe(item, &mut out);
        Self::send(sh.remote.as_ref(), &out);
    }

    fn is_snapshot_available(&self, _item: &str) -> bool {
        // The remote SDK answers for its adapter: it sends an end of
        // snapshot at once when there is none.
        true
    }
}

impl Proxy for RemoteData {
    fn settings(&self) -> &ProxySettings {
        &self.settings
    }

    fn next_id(&self) -> RequestId {
        RequestId(self.shared.lock().items.next_id())
    }

    fn connected(&self, remote: Remote) {
        let mut out = Vec::new();
        {
            let mut sh = self.shared.lock();
            sh.items.connected(&mut out);
            Self::send(Some(&remote), &out);
            sh.remote = Some(remote);
        }
        self.set_state(RemoteState::Connected);
    }

    fn received(&self, line: Received<'_>, kind: PortKind) -> Result<(), LinkError> {
        match line {
            Received::Update(u) => self.update(&u)?,
            Received::EndOfSnapshot(r) => {
                let Some(sub) = RequestId::parse(&r.sub_id) else {
                    return Ok(());
                };
                let item = self.shared.lock().items.end_of_snapshot(sub.0);
                if let (Some(item), Some(l)) = (item, self.listener.get()) {
                    l.end_of_snapshot(&item);
                }
            }
            Received::ClearSnapshot(r) => {
                let Some(sub) = RequestId::parse(&r.sub_id) else {
                    return Ok(());
                };
                let route = self.shared.lock().items.route(sub.0, false);
                if let (Route::Deliver { item, .. }, Some(l)) = (route, self.listener.get()) {
                    l.clear_snapshot(&item);
                }
            }
            Received::Failure { message } => {
                let message = message.as_deref().unwrap_or("no message");
                tracing::error!(adapter = %self.settings.name, "the remote data adapter reports a failure: {message}");
                if let Some(l) = self.listener.get() {
                    l.failure(message);
                }
            }
            Received::Reply(r) if kind == PortKind::RequestReply => {
                let id = r.request_id();
                let outcome = r.outcome.map(|_| ()).map_err(|e| e.to_string());
                self.answered(id, outcome);
            }
            Received::FieldDiffs(d) => self.field_diffs(&d),
            Received::Keepalive | Received::Credentials(_) => {}
            other => {
                return Err(LinkError::Protocol(format!(
                    "unexpected line on the {} connection: {other:?}",
                    kind.param()
                )))
            }
        }
        Ok(())
    }

    fn sweep(&self) {
        let Some(timeout) = self.settings.timeout else {
            return;
        };
        let expired = self.shared.lock().items.expired(timeout, Instant::now());
        for id in expired {
            self.answered(
                Some(RequestId(id)),
                Err(format!("no answer within {timeout:?} (timeout)")),
            );
        }
    }

    fn lost(&self) {
        let mut signals = Vec::new();
        {
            let mut sh = self.shared.lock();
            sh.remote = None;
            sh.items.disconnected(&mut signals);
        }
        self.signal(signals);
        self.set_state(RemoteState::Reconnecting);
    }
}
