//! Accepting connections: plain TCP, or connections that first need a
//! PROXY protocol header (v1 or v2, as HAProxy's `send-proxy` /
//! `send-proxy-v2` write it, carrying the real client address) and/or a TLS
//! handshake.

use crate::timeouts::Timeouts;
use ppp::HeaderResult;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

/// The client of a connection, as the listener determined it (from the
/// PROXY protocol header when there is one). Handlers extract it as
/// `ConnectInfo<Peer>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub SocketAddr);

/// A connection after its handshakes: TCP, or TLS over TCP.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// What a connection must go through before HTTP.
#[derive(Clone, Default)]
pub struct Handshakes {
    /// Read a PROXY protocol header first, waiting at most this long.
    pub proxy_protocol: Option<Duration>,
    /// Then a TLS handshake, within [`Timeouts::handshake`].
    pub tls: Option<TlsAcceptor>,
}

impl std::fmt::Debug for Handshakes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handshakes")
            .field("proxy_protocol", &self.proxy_protocol)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// Takes a connection through its handshakes; a peer that fails or stalls
/// one is closed and logged (`None`).
pub(crate) async fn handshake(
    mut stream: TcpStream,
    peer: SocketAddr,
    h: &Handshakes,
    timeouts: &Timeouts,
) -> Option<(Box<dyn Io>, SocketAddr)> {
    let client = match h.proxy_protocol {
        None => peer,
        Some(timeout) => {
            match tokio::time::timeout(timeout, read_header(&mut stream, peer)).await {
                Ok(Ok(client)) => client,
                Ok(Err(e)) => {
                    tracing::info!(%peer, "connection closed: bad PROXY protocol header: {e}");
                    return None;
                }
                Err(_) => {
                    tracing::info!(%peer, "connection closed: no PROXY protocol header within {timeout:?}");
                    return None;
                }
            }
        }
    };
    let Some(acceptor) = &h.tls else {
        return Some((Box::new(stream), client));
    };
    let accept = acceptor.accept(stream);
    let done = match timeouts.handshake() {
        Some(limit) => match tokio::time::timeout(limit, accept).await {
            Ok(done) => done,
            Err(_) => {
                tracing::info!(client = %client, "TLS handshake not done within {limit:?}");
                return None;
            }
        },
        None => accept.await,
    };
    match done {
        Ok(tls) => Some((Box::new(tls), client)),
        Err(e) => {
            tracing::info!(client = %client, "TLS handshake failed: {e}");
            None
        }
    }
}

const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// Reads exactly one PROXY header, so that what follows is the client's own
/// bytes, and returns the client address it gives (the connection's own
/// address for `LOCAL`/`UNKNOWN` headers, such as health checks).
async fn read_header(stream: &mut TcpStream, peer: SocketAddr) -> io::Result<SocketAddr> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_owned());
    let mut buf = vec![0u8; 16];
    stream.read_exact(&mut buf[..6]).await?;
    if &buf[..6] == b"PROXY " {
        // Version 1: text, at most 107 bytes, ending with CRLF.
        buf.truncate(6);
        while !buf.ends_with(b"\r\n") {
            if buf.len() >= 107 {
                return Err(bad("version 1 header longer than 107 bytes"));
            }
            buf.push(stream.read_u8().await?);
        }
    } else if buf[..6] == V2_SIGNATURE[..6] {
        stream.read_exact(&mut buf[6..16]).await?;
        if &buf[..12] != V2_SIGNATURE {
            return Err(bad("not a PROXY protocol signature"));
        }
        let len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
        buf.resize(16 + len, 0);
        stream.read_exact(&mut buf[16..]).await?;
    } else {
        return Err(bad(
            "the connection does not start with a PROXY protocol header",
        ));
    }
    client_of(&buf, peer).map_err(|e| bad(&e))
}

fn client_of(header: &[u8], peer: SocketAddr) -> Result<SocketAddr, String> {
    match HeaderResult::parse(header) {
        HeaderResult::V1(Ok(h)) => Ok(match h.addresses {
            ppp::v1::Addresses::Tcp4(a) => SocketAddr::from((a.source_address, a.source_port)),
            ppp::v1::Addresses::Tcp6(a) => SocketAddr::from((a.source_address, a.source_port)),
            ppp::v1::Addresses::Unknown => peer,
        }),
        HeaderResult::V2(Ok(h)) => Ok(match (h.command, h.addresses) {
            (ppp::v2::Command::Local, _) => peer,
            (_, ppp::v2::Addresses::IPv4(a)) => SocketAddr::from((a.source_address, a.source_port)),
            (_, ppp::v2::Addresses::IPv6(a)) => SocketAddr::from((a.source_address, a.source_port)),
            _ => peer,
        }),
        HeaderResult::V1(Err(e)) => Err(format!("version 1: {e}")),
        HeaderResult::V2(Err(e)) => Err(format!("version 2: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    async fn through(header: &[u8]) -> io::Result<(SocketAddr, Vec<u8>)> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let payload = header.to_vec();
        let client = tokio::spawn(async move {
            let mut c = TcpStream::connect(addr).await.unwrap();
            c.write_all(&payload).await.unwrap();
            c.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
            c
        });
        let (mut s, peer) = listener.accept().await?;
        let got = read_header(&mut s, peer).await?;
        let mut rest = vec![0u8; 16];
        s.read_exact(&mut rest).await?;
        drop(client.await);
        Ok((got, rest))
    }

    #[tokio::test]
    async fn version_1() {
        let (addr, rest) = through(b"PROXY TCP4 203.0.113.7 127.0.0.1 51000 8080\r\n")
            .await
            .unwrap();
        assert_eq!(addr, "203.0.113.7:51000".parse().unwrap());
        assert_eq!(
            rest, b"GET / HTTP/1.1\r\n",
            "nothing after the header is eaten"
        );
        let (addr, _) = through(b"PROXY TCP6 2001:db8::5 ::1 4000 80\r\n")
            .await
            .unwrap();
        assert_eq!(addr, "[2001:db8::5]:4000".parse().unwrap());
        let (addr, _) = through(b"PROXY UNKNOWN\r\n").await.unwrap();
        assert!(addr.ip().is_loopback());
    }

    #[tokio::test]
    async fn version_2() {
        let mut h = V2_SIGNATURE.to_vec();
        h.extend([0x21, 0x11, 0, 12]); // PROXY, TCP over IPv4, 12 bytes
        h.extend([198, 51, 100, 9, 127, 0, 0, 1]);
        h.extend(40000u16.to_be_bytes());
        h.extend(443u16.to_be_bytes());
        let (addr, rest) = through(&h).await.unwrap();
        assert_eq!(addr, "198.51.100.9:40000".parse().unwrap());
        assert_eq!(rest, b"GET / HTTP/1.1\r\n");
        let mut local = V2_SIGNATURE.to_vec();
        local.extend([0x20, 0x00, 0, 0]); // LOCAL: a health check
        let (addr, _) = through(&local).await.unwrap();
        assert!(addr.ip().is_loopback());
    }

    #[tokio::test]
    async fn no_header_is_refused() {
        assert!(through(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.is_err());
        assert!(through(b"PROXY TCP4 nonsense\r\n").await.is_err());
    }
}
