//! The life of a proxy adapter, common to metadata and data: wait for a
//! remote on its port(s), initialise it (`MPI`/`DPI`, version), serve it
//! until it is lost, and wait for the next one. What is particular to each
//! kind of adapter is behind [`Proxy`].

use crate::link::{read_lines, LinkError, Outbox};
use crate::port::{turn_away, Admitted, PortKind};
use crate::settings::ProxySettings;
use shoal_ari::{
    parse, write_close, write_data_init, write_metadata_init, Encoder, InitParams, Received,
    ReplyBody, RequestId, Version,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Where a proxy stands with its remote, for the server's start and the
/// `status_item`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteState {
    /// No remote has connected yet.
    Connecting,
    /// A remote is connected and initialised.
    Connected,
    /// The remote was lost; waiting for a new one.
    Reconnecting,
}

impl RemoteState {
    /// The value of the `status` field of a `status_item`.
    pub fn as_str(self) -> &'static str {
        match self {
            RemoteState::Connecting => "connecting",
            RemoteState::Connected => "connected",
            RemoteState::Reconnecting => "reconnecting",
        }
    }
}

/// A live, initialised remote as the adapter sees it.
#[derive(Debug, Clone)]
pub(crate) struct Remote {
    pub out: Arc<Outbox>,
    pub encoder: Encoder,
}

impl Remote {
    /// Queues lines written by `write` with this remote's encoder.
    pub fn send(&self, write: impl FnOnce(&Encoder, &mut Vec<u8>)) -> bool {
        let enc = self.encoder;
        self.out.send(|buf| write(&enc, buf))
    }
}

/// What differs between the metadata and the data proxy.
pub(crate) trait Proxy: Send + Sync + 'static {
    fn settings(&self) -> &ProxySettings;
    /// A fresh request id.
    fn next_id(&self) -> RequestId;
    /// The remote is initialised: requests may flow.
    fn connected(&self, remote: Remote);
    /// A line from the initialised remote (or from its notify connection).
    fn received(&self, line: Received<'_>, kind: PortKind) -> Result<(), LinkError>;
    /// Requests unanswered for too long fail now (called now and then).
    fn sweep(&self);
    /// The remote is gone.
    fn lost(&self);
}

/// Writes the init request (`DPI` for a data adapter, `MPI` for the
/// metadata adapter) with the parameters Lightstreamer sends: the set,
/// the data adapter's name, this server, the keepalive hint, then the
/// configured remote parameters.
fn write_init(s: &ProxySettings, out: &mut Vec<u8>, id: RequestId) {
    let mut params: Vec<(&str, &str)> = vec![("adapters_conf.id", s.name.adapter_set.as_str())];
    if let Some(data) = &s.name.data_adapter {
        params.push(("data_provider.name", data.as_str()));
    }
    if !s.server_instance.is_empty() {
        params.push(("server.instance_id", s.server_instance.as_str()));
    }
    params.extend(
        s.remote_params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let init = InitParams {
        version: Version::OFFERED,
        keepalive_hint_millis: s
            .keepalive_hint
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        params: &params,
    };
    match s.name.data_adapter {
        Some(_) => write_data_init(out, id, &init),
        None => write_metadata_init(out, id, &init),
    }
}

/// How often unanswered requests are checked against `timeout`.
fn sweep_period(s: &ProxySettings) -> Duration {
    s.timeout
        .map_or(Duration::from_secs(1), |t| {
            (t / 4).max(Duration::from_millis(10))
        })
        .min(Duration::from_secs(1))
}

/// Serves one remote after another, for ever. `ports`: where the remotes
/// connect (the ports the system chose for port 0), for the log.
pub(crate) async fn run<P: Proxy>(
    proxy: Arc<P>,
    mut admitted: mpsc::Receiver<Admitted>,
    state: watch::Sender<RemoteState>,
    ports: Vec<(PortKind, SocketAddr)>,
) {
    let name = proxy.settings().name.clone();
    let port_of = |kind: PortKind| ports.iter().find(|(k, _)| *k == kind).map(|(_, a)| *a);
    let request_reply = port_of(PortKind::RequestReply).unwrap_or(proxy.settings().request_reply);
    let notify_at = port_of(PortKind::Notify);
    // A notify connection that came before its request/reply connection.
    let mut early_notify: Option<Admitted> = None;
    // A remote that replaced one that never answered its init.
    let mut next: Option<Admitted> = None;
    loop {
        let a = match next.take() {
            Some(a) => a,
            None => match admitted.recv().await {
                Some(a) => a,
                None => return,
            },
        };
        if a.kind == PortKind::Notify {
            if let Some(old) = early_notify.replace(a) {
                turn_away(old, &name).await;
            }
            continue;
        }
        let ended = serve(
            &proxy,
            a,
            early_notify.take(),
            &mut admitted,
            &state,
            notify_at,
        )
        .await;
        next = ended.replaced_by;
        if !ended.was_ready {
            tracing::warn!(adapter = %name, "remote adapter dropped before it was initialised: {}", ended.why);
            continue;
        }
        proxy.lost();
        state.send_replace(RemoteState::Reconnecting);
        tracing::warn!(adapter = %name, "remote adapter lost: {}; waiting for a new one on {request_reply}", ended.why);
    }
}

/// How [`serve`] ended.
struct Ended {
    why: LinkError,
    /// The remote answered its init (the adapter was told it is connected).
    was_ready: bool,
    /// A new remote that arrived before this one answered its init: a
    /// connection that says nothing must not keep the port from the real
    /// remote.
    replaced_by: Option<Admitted>,
}

/// Serves one remote until it is lost.
async fn serve<P: Proxy>(
    proxy: &Arc<P>,
    rr: Admitted,
    mut notify: Option<Admitted>,
    admitted: &mut mpsc::Receiver<Admitted>,
    state: &watch::Sender<RemoteState>,
    notify_at: Option<SocketAddr>,
) -> Ended {
    let mut replaced_by = None;
    let settings = proxy.settings();
    let name = settings.name.clone();
    let peer = rr.peer;
    let sdk = rr.sdk.clone();
    let out = Outbox::new();
    let (read_half, write_half) = tokio::io::split(rr.io);
    let writer = {
        let out = out.clone();
        tokio::spawn(async move { out.write_loop(write_half).await })
    };
    let init_id = proxy.next_id();
    let mut init = Vec::new();
    write_init(settings, &mut init, init_id);
    out.send(|b| b.extend_from_slice(&init));
    tracing::info!(adapter = %name, remote = %peer, "remote adapter connected; initialising it");

    let (ready_tx, mut ready_rx) = tokio::sync::oneshot::channel::<Version>();
    let mut reader = spawn_reader(
        proxy.clone(),
        read_half,
        rr.reader,
        PortKind::RequestReply,
        Some((init_id, ready_tx, rr.close_enabled, out.clone())),
    );
    let mut notify_reader: Option<JoinHandle<LinkError>> = None;
    let mut init_deadline = settings.timeout.map(|t| Box::pin(tokio::time::sleep(t)));
    let mut sweep = tokio::time::interval(sweep_period(settings));
    let mut ready = false;
    let why = loop {
        if ready && notify_reader.is_none() {
            if let Some(n) = notify.take() {
                notify_reader = Some(spawn_notify(proxy.clone(), n));
            }
        }
        tokio::select! {
            r = &mut reader => break joined(r),
            r = maybe(notify_reader.as_mut()) => break joined(r),
            r = &mut ready_rx, if !ready => {
                let Ok(version) = r else { continue };
                ready = true;
                init_deadline = None;
                let remote = Remote { out: out.clone(), encoder: Encoder::new(version) };
                proxy.connected(remote);
                state.send_replace(RemoteState::Connected);
                let sdk = sdk.as_deref().unwrap_or("unnamed SDK");
                tracing::info!(adapter = %name, remote = %peer, ari = version.as_str(), sdk, "remote adapter ready");
                if let (Some(at), None) = (notify_at, &notify) {
                    tracing::info!(adapter = %name, "waiting for the remote's notify connection on {at}");
                }
            }
            () = maybe(init_deadline.as_mut()) => {
                break LinkError::Protocol(format!("no answer to the init request within {:?} (timeout)", settings.timeout.unwrap_or_default()));
            }
            _ = sweep.tick(), if ready => proxy.sweep(),
            a = admitted.recv() => {
                let Some(a) = a else { break LinkError::Closed("the server is stopping".into()) };
                match a.kind {
                    PortKind::Notify if notify.is_none() && notify_reader.is_none() => notify = Some(a),
                    PortKind::RequestReply if !ready => {
                        replaced_by = Some(a);
                        break LinkError::Closed("a new remote connected before this one answered its init".into());
                    }
                    _ => turn_away(a, &name).await,
                }
            }
            () = out.closed() => break LinkError::Closed("writer stopped".into()),
        }
    };
    // Say why, when the remote can hear it, then close everything.
    if matches!(
        why,
        LinkError::Silent(_) | LinkError::Protocol(_) | LinkError::Stalled(_)
    ) {
        let reason = why.to_string();
        out.send(|b| write_close(b, &reason));
    }
    out.close(why.clone());
    reader.abort();
    if let Some(n) = notify_reader {
        n.abort();
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), writer).await;
    Ended {
        why,
        was_ready: ready,
        replaced_by,
    }
}

/// Awaits `f` if there is one, else never ends.
async fn maybe<F: std::future::Future + Unpin>(f: Option<&mut F>) -> F::Output {
    match f {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

fn joined(r: Result<LinkError, tokio::task::JoinError>) -> LinkError {
    r.unwrap_or_else(|e| LinkError::Closed(format!("reader task ended: {e}")))
}

type InitWait = (
    RequestId,
    tokio::sync::oneshot::Sender<Version>,
    bool,
    Arc<Outbox>,
);

/// Reads the request/reply connection: first the init reply (with `RAC`
/// and keepalives around it), then everything else goes to the proxy.
fn spawn_reader<P: Proxy, R: tokio::io::AsyncRead + Send + Unpin + 'static>(
    proxy: Arc<P>,
    io: R,
    mut reader: shoal_ari::LineReader,
    kind: PortKind,
    init: Option<InitWait>,
) -> JoinHandle<LinkError> {
    tokio::spawn(async move {
        let silence = proxy.settings().keepalive_timeout;
        let mut init = init;
        read_lines(io, &mut reader, silence, |line| {
            let received = parse(line)
                .map_err(|e| LinkError::Protocol(format!("bad line from the remote: {e}")))?;
            let Some((id, _, _, _)) = &init else {
                return proxy.received(received, kind);
            };
            match received {
                Received::Keepalive | Received::Credentials(_) => Ok(()),
                Received::Reply(r) if r.request_id() == Some(*id) => {
                    let offered = Version::OFFERED;
                    let version = match r.outcome {
                        Ok(ReplyBody::Init(i)) => {
                            Version::negotiate(offered, i.ari_version.as_deref())
                                .map_err(|e| LinkError::Protocol(format!("init refused: {e}")))?
                        }
                        Ok(other) => {
                            return Err(LinkError::Protocol(format!(
                                "unexpected answer to the init request: {other:?}"
                            )))
                        }
                        Err(e) => {
                            return Err(LinkError::Protocol(format!(
                                "the remote adapter failed to initialise: {e}"
                            )))
                        }
                    };
                    if let Some((_, tx, _, _)) = init.take() {
                        let _ = tx.send(version);
                    }
                    Ok(())
                }
                other => Err(LinkError::Protocol(format!(
                    "unexpected line before the init answer: {other:?}"
                ))),
            }
        })
        .await
    })
}

/// Reads a notify connection (two-connection data adapters).
fn spawn_notify<P: Proxy>(proxy: Arc<P>, a: Admitted) -> JoinHandle<LinkError> {
    tracing::info!(adapter = %proxy.settings().name, remote = %a.peer, "remote adapter notify connection ready");
    let (read_half, _write_half) = tokio::io::split(a.io);
    spawn_reader(proxy, read_half, a.reader, PortKind::Notify, None)
}
