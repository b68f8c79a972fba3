//! Lightstreamer's proxy adapters: Data and Metadata Adapters whose work is
//! done by a *remote adapter*, a process built on one of Lightstreamer's
//! Remote Adapter SDKs (Node, Python, Java, .NET), over ARI.
//!
//! The remote dials the proxy's port(s) (`request_reply_port`, and
//! `notify_port` for data adapters of old SDKs); the proxy checks it
//! ([`port`]: whitelist, TLS, credentials), initialises it and settles the
//! protocol version ([`session`]), then turns every engine call into ARI
//! requests and the remote's answers and notifications into engine events
//! ([`data`], [`metadata`]). The wire format itself is `shoal_ari`'s.
//!
//! A proxy serves one remote at a time and, when it is lost, waits for the
//! next one on the same port: items clients still hold are subscribed
//! again on the new remote (see [`data::items`]).

pub mod data;
mod link;
pub mod metadata;
mod port;
mod session;
mod settings;

pub use data::items::EventsRecovery;
pub use data::RemoteData;
pub use metadata::RemoteMetadata;
pub use port::PortKind;
pub use session::RemoteState;
pub use settings::{AdapterName, Credentials, ProxySettings};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Why a proxy adapter could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{adapter}: cannot listen on {addr} ({param}): {reason}")]
    Bind {
        adapter: String,
        param: &'static str,
        addr: SocketAddr,
        reason: String,
    },
}

/// A proxy adapter whose ports are open.
#[derive(Debug)]
pub struct Started<P> {
    pub adapter: Arc<P>,
    /// The ports remotes dial, with what each is for (port 0 in the
    /// settings gives the port the system chose).
    pub ports: Vec<(PortKind, SocketAddr)>,
    state: watch::Receiver<RemoteState>,
}

impl<P> Started<P> {
    /// Where the proxy stands with its remote now.
    pub fn state(&self) -> RemoteState {
        *self.state.borrow()
    }

    /// A future that ends when a remote is connected and initialised (or
    /// the proxy is gone), for whoever waits without holding `self`.
    pub fn wait_state(&self) -> impl std::future::Future<Output = RemoteState> + Send + 'static {
        let mut rx = self.state.clone();
        async move {
            match rx.wait_for(|s| *s == RemoteState::Connected).await {
                Ok(s) => *s,
                Err(_) => RemoteState::Reconnecting,
            }
        }
    }

    /// Waits until a remote is connected and initialised, at most `limit`
    /// (`None`: for ever). Returns whether one is.
    pub async fn wait_connected(&self, limit: Option<Duration>) -> bool {
        let mut rx = self.state.clone();
        let wait = rx.wait_for(|s| *s == RemoteState::Connected);
        match limit {
            Some(limit) => matches!(tokio::time::timeout(limit, wait).await, Ok(Ok(_))),
            None => wait.await.is_ok(),
        }
    }
}

/// Opens the ports of a proxy Data Adapter and serves remotes on them.
pub async fn start_data(settings: ProxySettings) -> Result<Started<RemoteData>, Error> {
    let proxy = RemoteData::new(settings);
    start(proxy).await
}

/// Opens the port of a proxy Metadata Adapter and serves remotes on it.
pub async fn start_metadata(settings: ProxySettings) -> Result<Started<RemoteMetadata>, Error> {
    let proxy = RemoteMetadata::new(settings);
    start(proxy).await
}

async fn start<P: session::Proxy>(proxy: Arc<P>) -> Result<Started<P>, Error> {
    let s = proxy.settings();
    let mut wanted = vec![(PortKind::RequestReply, s.request_reply)];
    if let Some(notify) = s.notify {
        wanted.push((PortKind::Notify, notify));
    }
    let gate = Arc::new(port::Gate {
        name: s.name.clone(),
        whitelist: s.whitelist.clone(),
        tls: s.tls.clone().map(tokio_rustls::TlsAcceptor::from),
        credentials: s.credentials.clone(),
    });
    let scheme = if s.tls.is_some() { "tls" } else { "tcp" };
    let mut listeners = Vec::new();
    for (kind, addr) in wanted {
        let listener = port::bind(addr, kind, &s.name).await?;
        let local = listener.local_addr().unwrap_or(addr);
        tracing::info!(
            "waiting for remote adapter on {scheme}://{local} ({}, {})",
            s.name,
            kind.param()
        );
        listeners.push((kind, local, listener));
    }
    let (tx, rx) = mpsc::channel(8);
    let ports: Vec<(PortKind, SocketAddr)> = listeners.iter().map(|(k, a, _)| (*k, *a)).collect();
    for (kind, _, listener) in listeners {
        tokio::spawn(port::accept_loop(listener, kind, gate.clone(), tx.clone()));
    }
    let (state_tx, state_rx) = watch::channel(RemoteState::Connecting);
    tokio::spawn(session::run(proxy.clone(), rx, state_tx, ports.clone()));
    Ok(Started {
        adapter: proxy,
        ports,
        state: state_rx,
    })
}
