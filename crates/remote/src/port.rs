//! The ports remotes dial: accepting, the address whitelist, TLS, and the
//! remote's credentials (`RAC`), before a connection reaches its adapter.

use crate::settings::{AdapterName, Credentials};
use shoal_ari::{parse, write_close, LineReader, Received};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Longest time a new connection may take for its TLS handshake and its
/// credentials.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest first line of a connection that must send credentials: a `RAC`
/// is a few short strings. Any connection may hold this much until its
/// handshake times out, so it is far below the 1 MiB of later lines.
pub(crate) const MAX_CREDENTIALS_LINE: usize = 16 * 1024;

/// A byte stream to a remote: TCP or TLS over TCP.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Which of an adapter's ports a connection came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortKind {
    RequestReply,
    Notify,
}

impl PortKind {
    pub fn param(self) -> &'static str {
        match self {
            PortKind::RequestReply => "request_reply_port",
            PortKind::Notify => "notify_port",
        }
    }
}

/// A connection that passed the gate.
pub(crate) struct Admitted {
    pub io: Box<dyn Io>,
    pub peer: SocketAddr,
    pub kind: PortKind,
    /// Holds whatever the remote sent after its credentials.
    pub reader: LineReader,
    /// The remote's `RAC` allowed `CLOSE` before the version is settled.
    pub close_enabled: bool,
    /// The SDK the remote named in its `RAC`, for the log.
    pub sdk: Option<String>,
}

impl fmt::Debug for Admitted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admitted")
            .field("peer", &self.peer)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// What every connection of one adapter is checked against.
#[derive(Clone)]
pub(crate) struct Gate {
    pub name: AdapterName,
    pub whitelist: Option<Vec<IpAddr>>,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub credentials: Option<Credentials>,
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Binds an ARI port; the error names the parameter and the address.
pub(crate) async fn bind(
    addr: SocketAddr,
    kind: PortKind,
    name: &AdapterName,
) -> Result<TcpListener, crate::Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| crate::Error::Bind {
            adapter: name.to_string(),
            param: kind.param(),
            addr,
            reason: e.to_string(),
        })
}

/// Accepts connections on `listener` for ever, and hands those that pass
/// the gate to `admitted`. Each connection is checked in a task of its own,
/// so a slow one holds nobody up.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    kind: PortKind,
    gate: Arc<Gate>,
    admitted: mpsc::Sender<Admitted>,
) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors, say: wait a little, do not spin.
                tracing::warn!(adapter = %gate.name, port = kind.param(), "accepting a remote adapter connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if admitted.is_closed() {
            return;
        }
        let gate = gate.clone();
        let admitted = admitted.clone();
        tokio::spawn(async move {
            let checked =
                tokio::time::timeout(HANDSHAKE_TIMEOUT, gate.admit(tcp, peer, kind)).await;
            match checked {
                Ok(Ok(a)) => {
                    let _ = admitted.send(a).await;
                }
                Ok(Err(why)) => {
                    tracing::warn!(adapter = %gate.name, port = kind.param(), remote = %peer, "remote adapter connection refused: {why}");
                }
                Err(_) => {
                    tracing::warn!(adapter = %gate.name, port = kind.param(), remote = %peer, "remote adapter connection refused: no TLS handshake or credentials within {HANDSHAKE_TIMEOUT:?}");
                }
            }
        });
    }
}

impl Gate {
    async fn admit(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
        kind: PortKind,
    ) -> Result<Admitted, String> {
        if let Some(allowed) = &self.whitelist {
            if !allowed.contains(&peer.ip()) {
                return Err(format!("{} is not in remote_address_whitelist", peer.ip()));
            }
        }
        let _ = tcp.set_nodelay(true);
        let io: Box<dyn Io> = match &self.tls {
            Some(acceptor) => Box::new(
                acceptor
                    .accept(tcp)
                    .await
                    .map_err(|e| format!("TLS handshake failed: {e}"))?,
            ),
            None => Box::new(tcp),
        };
        let mut admitted = Admitted {
            io,
            peer,
            kind,
            reader: LineReader::new(),
            close_enabled: false,
            sdk: None,
        };
        if let Some(creds) = &self.credentials {
            self.check_credentials(&mut admitted, creds).await?;
        }
        Ok(admitted)
    }

    /// Reads the remote's first line, which must be its `RAC` with
    /// credentials this adapter accepts; a remote that fails gets `CLOSE`.
    async fn check_credentials(&self, a: &mut Admitted, creds: &Credentials) -> Result<(), String> {
        let mut buf = [0u8; 4096];
        let verdict = loop {
            match a.reader.next_line() {
                Ok(Some(line)) => break check_rac(line, creds),
                Ok(None) => {}
                Err(e) => break Err((false, format!("unreadable first line: {e}"))),
            }
            if a.reader.buffered() > MAX_CREDENTIALS_LINE {
                break Err((
                    false,
                    format!("first line longer than {MAX_CREDENTIALS_LINE} bytes, not credentials"),
                ));
            }
            match a.io.read(&mut buf).await {
                Ok(0) => return Err("closed before sending its credentials".into()),
                Ok(n) => {
                    if let Err(e) = a.reader.feed(&buf[..n]) {
                        break Err((false, format!("unreadable first line: {e}")));
                    }
                }
                Err(e) => return Err(format!("read error: {e}")),
            }
        };
        match verdict {
            Ok(rac) => {
                tracing::info!(adapter = %self.name, remote = %a.peer, user = %rac.user, "remote adapter credentials accepted");
                a.close_enabled = rac.close_enabled;
                a.sdk = rac.sdk;
                Ok(())
            }
            Err((close_enabled, why)) => {
                if close_enabled {
                    let mut out = Vec::new();
                    write_close(&mut out, "wrong credentials");
                    let _ = a.io.write_all(&out).await;
                    let _ = a.io.flush().await;
                }
                let _ = a.io.shutdown().await;
                Err(why)
            }
        }
    }
}

struct Rac {
    user: String,
    close_enabled: bool,
    sdk: Option<String>,
}

/// Checks a first line as a `RAC`: `Err((may send CLOSE, why))` when
/// refused.
fn check_rac(line: &str, creds: &Credentials) -> Result<Rac, (bool, String)> {
    let rac = match parse(line) {
        Ok(Received::Credentials(rac)) => rac,
        Ok(_) => {
            return Err((
                false,
                "credentials are required (auth) and the remote sent none".into(),
            ))
        }
        Err(e) => return Err((false, format!("unreadable first line: {e}"))),
    };
    let close_enabled = rac.close_packet_enabled();
    let user = rac.user().map(str::to_owned);
    if !creds.accepts(rac.user(), rac.password()) {
        let who = user.as_deref().unwrap_or("(none)");
        return Err((close_enabled, format!("wrong credentials (user {who})")));
    }
    Ok(Rac {
        user: user.unwrap_or_default(),
        close_enabled,
        sdk: rac.sdk().map(str::to_owned),
    })
}

/// Tells a remote that arrived while another one serves the same adapter
/// that it is not wanted, and closes it.
pub(crate) async fn turn_away(mut a: Admitted, name: &AdapterName) {
    tracing::warn!(adapter = %name, port = a.kind.param(), remote = %a.peer, "remote adapter connection refused: another remote adapter is connected");
    if a.close_enabled {
        let mut out = Vec::new();
        write_close(&mut out, "another remote adapter is connected");
        let _ = a.io.write_all(&out).await;
    }
    let _ = a.io.shutdown().await;
}
