//! The proxy Metadata Adapter: a [`MetadataProvider`] whose every call is a
//! request to a remote Metadata Adapter over ARI, and whose answers and
//! exceptions become what the TLCP client sees.

mod answer;

use crate::link::LinkError;
use crate::port::PortKind;
use crate::session::{Proxy, Remote};
use crate::settings::ProxySettings;
use answer::{refusal, Answer, Call};
use parking_lot::Mutex;
use shoal_adapter::{
    AdapterError, BoxFuture, Grant, ItemData, Login, MetadataProvider, ServerControl, SessionInfo,
    TableInfo,
};
use shoal_ari::{Encoder, Method, NotifyUser, Received, RemoteError, RequestId};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::oneshot;

/// Users whose "wants table notifications" answer is remembered; past it
/// the memory is cleared (and tables are notified until asked again).
const USERS_REMEMBERED: usize = 10_000;

type Waiter = oneshot::Sender<Result<Answer, RemoteError<'static>>>;

/// A Metadata Adapter served by a remote process.
pub struct RemoteMetadata {
    settings: ProxySettings,
    remote: Mutex<Option<Remote>>,
    pending: Mutex<HashMap<u64, (Method, Waiter)>>,
    next_id: AtomicU64,
    /// Per user, whether the remote wants `NNT`/`NTC` (its `NUS` answer).
    wants_tables: Mutex<HashMap<Option<String>, bool>>,
    /// Sessions told of new tables: only they are told of closed ones.
    table_sessions: Mutex<HashSet<String>>,
    control: OnceLock<Arc<dyn ServerControl>>,
}

/// Removes a request from the pending ones when its waiter goes.
struct Forget<'a> {
    md: &'a RemoteMetadata,
    id: u64,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.md.pending.lock().remove(&self.id);
    }
}

impl std::fmt::Debug for RemoteMetadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteMetadata")
            .field("name", &self.settings.name)
            .finish_non_exhaustive()
    }
}

impl RemoteMetadata {
    pub(crate) fn new(settings: ProxySettings) -> Arc<Self> {
        Arc::new(Self {
            settings,
            remote: Mutex::new(None),
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(10),
            wants_tables: Mutex::new(HashMap::new()),
            table_sessions: Mutex::new(HashSet::new()),
            control: OnceLock::new(),
        })
    }

    /// Requests sent to the remote and not answered yet (for monitoring).
    pub fn pending_requests(&self) -> usize {
        self.pending.lock().len()
    }

    /// Sends one request and waits for its answer, within `timeout`.
    async fn call(
        &self,
        method: Method,
        write: impl FnOnce(&Encoder, &mut Vec<u8>, RequestId),
    ) -> Result<Answer, Call> {
        let id = Proxy::next_id(self);
        let (tx, rx) = oneshot::channel();
        {
            let remote = self.remote.lock();
            let Some(remote) = remote.as_ref() else {
                return Err(Call::Unavailable);
            };
            self.pending.lock().insert(id.0, (method, tx));
            if !remote.send(|enc, buf| write(enc, buf, id)) {
                self.pending.lock().remove(&id.0);
                return Err(Call::Unavailable);
            }
        }
        // Whatever ends the wait (an answer, the timeout, or the caller
        // giving up: a client gone), the request is no longer pending.
        let _forget = Forget { md: self, id: id.0 };
        let answer = match self.settings.timeout {
            Some(t) => match tokio::time::timeout(t, rx).await {
                Ok(r) => r,
                Err(_) => {
                    tracing::warn!(adapter = %self.settings.name, method = method.as_str(), "no answer from the remote metadata adapter within {t:?} (timeout)");
                    return Err(Call::Timeout);
                }
            },
            None => rx.await,
        };
        match answer {
            Ok(Ok(a)) => Ok(a),
            Ok(Err(e)) => Err(Call::Refused(e)),
            Err(_) => Err(Call::Unavailable),
        }
    }

    /// Sends a notification whose answer nobody waits for.
    fn notify(
        &self,
        method: Method,
        write: impl FnOnce(&Encoder, &mut Vec<u8>, RequestId) + Send + 'static,
    ) where
        Self: 'static,
    {
        let id = Proxy::next_id(self);
        let remote = self.remote.lock();
        if let Some(remote) = remote.as_ref() {
            // Its answer finds no waiter and is dropped (see `received`).
            remote.send(|enc, buf| write(enc, buf, id));
        } else {
            tracing::debug!(adapter = %self.settings.name, method = method.as_str(), "no remote metadata adapter: notification dropped");
        }
    }

    fn wants_tables(&self, user: &Option<String>) -> bool {
        self.wants_tables.lock().get(user).copied().unwrap_or(true)
    }

    fn remember_tables(&self, user: &Option<String>, wants: bool) {
        let mut known = self.wants_tables.lock();
        if known.len() >= USERS_REMEMBERED && !known.contains_key(user) {
            known.clear();
        }
        known.insert(user.clone(), wants);
    }
}

fn ari_mode(mode: shoal_adapter::Mode) -> shoal_ari::Mode {
    match mode {
        shoal_adapter::Mode::Raw => shoal_ari::Mode::Raw,
        shoal_adapter::Mode::Merge => shoal_ari::Mode::Merge,
        shoal_adapter::Mode::Distinct => shoal_ari::Mode::Distinct,
        shoal_adapter::Mode::Command => shoal_ari::Mode::Command,
    }
}

/// Tables as the codec writes them.
fn ari_tables(tables: &[TableInfo]) -> Vec<shoal_ari::TableInfo<'_, String>> {
    tables
        .iter()
        .map(|t| shoal_ari::TableInfo {
            win_index: i32::try_from(t.win_index).unwrap_or(i32::MAX),
            mode: ari_mode(t.mode),
            group: &t.group,
            data_adapter: &t.data_adapter,
            schema: &t.schema,
            first_item: i32::try_from(t.first).unwrap_or(i32::MAX),
            last_item: i32::try_from(t.last).unwrap_or(i32::MAX),
            selector: t.selector.as_deref(),
            items: &t.items,
            statistics: &[],
        })
        .collect()
}

impl MetadataProvider for RemoteMetadata {
    fn set_control(&self, control: Arc<dyn ServerControl>) {
        let _ = self.control.set(control);
    }

    fn notify_user<'a>(&'a self, login: &'a Login) -> BoxFuture<'a, Result<(), AdapterError>> {
        let granted = self.notify_user_grant(login);
        Box::pin(async move { granted.await.map(|_| ()) })
    }

    /// `NUS`; the reply's `D` is the user's bandwidth (0: unlimited).
    fn notify_user_grant<'a>(
        &'a self,
        login: &'a Login,
    ) -> BoxFuture<'a, Result<Grant, AdapterError>> {
        Box::pin(async move {
            let headers: Vec<(&str, &str)> = login
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let n = NotifyUser {
                user: login.user.as_deref(),
                password: login.password.as_deref(),
                client_principal: None,
                headers: &headers,
            };
            let answer = match self
                .call(Method::Nus, |enc, buf, id| enc.notify_user(buf, id, &n))
                .await
            {
                Ok(a) => a,
                Err(Call::Unavailable) if self.settings.login_refusal.is_some() => {
                    let (code, message) = self.settings.login_refusal.clone().unwrap_or_default();
                    return Err(AdapterError::new(code, message));
                }
                Err(e) => return Err(refusal(Method::Nus, e)),
            };
            let mut grant = Grant::default();
            if let Answer::User(u) = answer {
                self.remember_tables(&login.user, u.wants_tables_notification);
                grant = Grant::bandwidth(u.max_bandwidth.unwrap_or(0.0));
            }
            Ok(grant)
        })
    }

    fn notify_new_session<'a>(
        &'a self,
        s: &'a SessionInfo,
    ) -> BoxFuture<'a, Result<(), AdapterError>> {
        Box::pin(async move {
            let port = s.client_port.to_string();
            let context: Vec<(&str, Option<&str>)> = vec![
                ("REMOTE_IP", Some(s.client_ip.as_str())),
                ("REMOTE_PORT", Some(port.as_str())),
                ("USER_AGENT", s.user_agent.as_deref()),
                ("FORWARDING_INFO", s.forwarding_info.as_deref()),
                ("LOCAL_SERVER", Some(s.local_server.as_str())),
                ("CLIENT_TYPE", Some("TLCP")),
            ];
            self.call(Method::Nns, |enc, buf, id| {
                enc.notify_new_session(buf, id, s.user.as_deref(), &s.session_id, &context)
            })
            .await
            .map_err(|e| refusal(Method::Nns, e))?;
            Ok(())
        })
    }

    fn notify_session_close(&self, session_id: &str) {
        self.table_sessions.lock().remove(session_id);
        let session = session_id.to_owned();
        self.notify(Method::Nsc, move |enc, buf, id| {
            enc.notify_session_close(buf, id, &session)
        });
    }

    fn get_items<'a>(
        &'a self,
        s: &'a SessionInfo,
        group: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, AdapterError>> {
        Box::pin(async move {
            match self
                .call(Method::Gis, |enc, buf, id| {
                    enc.get_items(buf, id, s.user.as_deref(), group, &s.session_id)
                })
                .await
                .map_err(|e| refusal(Method::Gis, e))?
            {
                Answer::Names(items) => Ok(items),
                other => Err(answer::unexpected(Method::Gis, &other)),
            }
        })
    }

    fn get_schema<'a>(
        &'a self,
        s: &'a SessionInfo,
        group: &'a str,
        schema: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, AdapterError>> {
        Box::pin(async move {
            match self
                .call(Method::Gsc, |enc, buf, id| {
                    enc.get_schema(buf, id, s.user.as_deref(), group, schema, &s.session_id)
                })
                .await
                .map_err(|e| refusal(Method::Gsc, e))?
            {
                Answer::Names(fields) => Ok(fields),
                other => Err(answer::unexpected(Method::Gsc, &other)),
            }
        })
    }

    fn item_data<'a>(
        &'a self,
        s: &'a SessionInfo,
        _data_adapter: &'a str,
        items: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<ItemData>, AdapterError>> {
        Box::pin(async move {
            let git = self.call(Method::Git, |enc, buf, id| {
                enc.get_item_data(buf, id, items)
            });
            let gui = self.call(Method::Gui, |enc, buf, id| {
                enc.get_user_item_data(buf, id, s.user.as_deref(), items)
            });
            let (git, gui) = tokio::join!(git, gui);
            let git = git.map_err(|e| refusal(Method::Git, e))?;
            let gui = gui.map_err(|e| refusal(Method::Gui, e))?;
            answer::item_data(git, gui, items.len())
        })
    }

    fn notify_new_tables<'a>(
        &'a self,
        s: &'a SessionInfo,
        tables: &'a [TableInfo],
    ) -> BoxFuture<'a, Result<(), AdapterError>> {
        Box::pin(async move {
            if !self.wants_tables(&s.user) {
                return Ok(());
            }
            let t = ari_tables(tables);
            self.call(Method::Nnt, |enc, buf, id| {
                enc.notify_new_tables(buf, id, s.user.as_deref(), &s.session_id, &t)
            })
            .await
            .map_err(|e| refusal(Method::Nnt, e))?;
            self.table_sessions.lock().insert(s.session_id.clone());
            Ok(())
        })
    }

    fn notify_tables_close(&self, session_id: &str, tables: &[TableInfo]) {
        if !self.table_sessions.lock().contains(session_id) {
            return;
        }
        let session = session_id.to_owned();
        let tables: Vec<TableInfo> = tables.to_vec();
        self.notify(Method::Ntc, move |enc, buf, id| {
            enc.notify_tables_close(buf, id, &session, &ari_tables(&tables))
        });
    }

    fn notify_user_message<'a>(
        &'a self,
        s: &'a SessionInfo,
        message: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, AdapterError>> {
        Box::pin(async move {
            self.call(Method::Num, |enc, buf, id| {
                enc.notify_user_message(buf, id, s.user.as_deref(), &s.session_id, message)
            })
            .await
            .map_err(|e| refusal(Method::Num, e))?;
            Ok(None)
        })
    }
}

impl Proxy for RemoteMetadata {
    fn settings(&self) -> &ProxySettings {
        &self.settings
    }

    fn next_id(&self) -> RequestId {
        RequestId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    fn connected(&self, remote: Remote) {
        *self.remote.lock() = Some(remote);
        // A new remote answers table notifications its own way.
        self.wants_tables.lock().clear();
    }

    fn received(&self, line: Received<'_>, kind: PortKind) -> Result<(), LinkError> {
        match line {
            Received::Reply(r) => {
                let Some(id) = r.request_id() else {
                    return Ok(());
                };
                // Answers to notifications and late answers find nobody.
                let Some((method, tx)) = self.pending.lock().remove(&id.0) else {
                    return Ok(());
                };
                if method != r.method {
                    return Err(LinkError::Protocol(format!(
                        "answer {} to request {id}, which was {}",
                        r.method.as_str(),
                        method.as_str()
                    )));
                }
                let _ = tx.send(r.outcome.map(Answer::from).map_err(RemoteError::into_owned));
            }
            Received::Failure { message } => {
                tracing::error!(adapter = %self.settings.name, "the remote metadata adapter reports a failure: {}", message.as_deref().unwrap_or("no message"));
            }
            Received::ForceSessionTermination(f) => {
                let cause = f.cause.map(|(code, msg)| {
                    AdapterError::new(code, msg.map(|m| m.into_owned()).unwrap_or_default())
                });
                let done = self
                    .control
                    .get()
                    .is_some_and(|c| c.force_session_termination(&f.session, cause));
                let outcome = if done { Ok(()) } else { Err("no such session") };
                if let Some(remote) = self.remote.lock().as_ref() {
                    remote.send(|enc, buf| enc.force_session_termination_reply(buf, f.id, outcome));
                }
            }
            Received::ForceUnsubscription(f) => {
                let done = u32::try_from(f.win_index).is_ok_and(|w| {
                    self.control
                        .get()
                        .is_some_and(|c| c.force_unsubscription(&f.session, w))
                });
                if let Some(remote) = self.remote.lock().as_ref() {
                    remote.send(|enc, buf| enc.force_unsubscription_reply(buf, f.id, Ok(done)));
                }
            }
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
        // Calls time out on their own (see `call`).
    }

    fn lost(&self) {
        *self.remote.lock() = None;
        // Waiters see their channel closed: the remote is unavailable.
        self.pending.lock().clear();
    }
}
