//! Opening the load generator's WebSockets, from several loopback source
//! addresses when there are many.
//!
//! A TCP connection is named by its four-tuple, so one source address can
//! reach one server port from at most the ephemeral port range (32768-60999
//! by default: about 28 000 ports), and a port bound explicitly is held for
//! every destination. Every address of 127.0.0.0/8 is the loopback
//! interface's on Linux, so spreading clients over 127.0.0.1, 127.0.0.2, ...
//! multiplies the ports available without any set-up.

use anyhow::{anyhow, Context};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::WebSocketStream;

/// Bytes read from the socket at most at once: tungstenite zero-fills its
/// whole read buffer before every read attempt, so the 128 KiB default would
/// cost a 128 KiB memset per poll.
const READ_BUFFER: usize = 16 * 1024;
/// Clients per source address when the count is chosen automatically: well
/// below the ephemeral range, which TIME_WAIT sockets of earlier runs share.
pub const CLIENTS_PER_SOURCE: usize = 4_000;
/// 127.0.0.1 ..= 127.0.0.250.
pub const MAX_SOURCES: usize = 250;

pub type Ws = WebSocketStream<TcpStream>;

/// How many source addresses `clients` connections should use when the
/// user did not say: one (the kernel's choice, no explicit bind) up to
/// [`CLIENTS_PER_SOURCE`], then one more per that many.
pub fn auto_sources(clients: usize) -> usize {
    clients.div_ceil(CLIENTS_PER_SOURCE).clamp(1, MAX_SOURCES)
}

/// The source address of connection `id` out of `sources` addresses:
/// `None` (no bind) for a single one, else 127.0.0.(1 + id mod sources).
pub fn source_for(id: usize, sources: usize) -> Option<IpAddr> {
    if sources <= 1 {
        return None;
    }
    // id % sources < MAX_SOURCES <= 250: fits a byte.
    let host = u8::try_from(1 + id % sources.min(MAX_SOURCES)).unwrap_or(1);
    Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)))
}

/// Opens a WebSocket to `url` (ws:// only), asking for `subprotocol`, with
/// Nagle's algorithm off, from `source` when given.
pub async fn websocket(
    url: &str,
    subprotocol: Option<&'static str>,
    source: Option<IpAddr>,
) -> anyhow::Result<Ws> {
    let mut request = url
        .into_client_request()
        .with_context(|| format!("bad URL {url}"))?;
    if let Some(sub) = subprotocol {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(sub));
    }
    let host = request
        .uri()
        .host()
        .ok_or_else(|| anyhow!("{url}: no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = request.uri().port_u16().unwrap_or(80);
    let target: SocketAddr = tokio::net::lookup_host((host.as_str(), port))
        .await
        .with_context(|| format!("cannot resolve {host}"))?
        .next()
        .ok_or_else(|| anyhow!("{host} has no address"))?;
    let socket = if target.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .context("cannot create a socket")?;
    if let Some(ip) = source.filter(|_| target.is_ipv4()) {
        socket
            .bind(SocketAddr::new(ip, 0))
            .with_context(|| format!("cannot bind a socket to {ip}"))?;
    }
    let stream = socket
        .connect(target)
        .await
        .with_context(|| format!("cannot connect to {target}"))?;
    stream.set_nodelay(true).context("cannot set TCP_NODELAY")?;
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
    let (ws, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(config))
        .await
        .with_context(|| format!("cannot open a WebSocket to {url}"))?;
    Ok(ws)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources() {
        assert_eq!(auto_sources(1), 1);
        assert_eq!(auto_sources(4_000), 1);
        assert_eq!(auto_sources(4_001), 2);
        assert_eq!(auto_sources(10_000), 3);
        assert_eq!(auto_sources(10_000_000), MAX_SOURCES);
        assert_eq!(source_for(7, 1), None);
        let ip = |d| Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, d)));
        assert_eq!(source_for(0, 3), ip(1));
        assert_eq!(source_for(4, 3), ip(2));
        assert_eq!(source_for(5, 3), ip(3));
        assert_eq!(source_for(999, 1000), ip(250));
    }
}
