//! Whether a node is alive, beyond its liveness key: what it announces
//! (the socket addresses it serves clients on) and how those addresses
//! are probed.
//!
//! A liveness key outlives the process that wrote it by up to its expiry
//! (3 s). A killed process leaves its key behind but its listening sockets
//! go at once, and connecting to them is *refused*: that tells a dead node
//! from a live one in a few milliseconds. Anything less clear-cut (a
//! timeout, an unreachable network) cannot tell it dead, and a live node's
//! sessions must never be adopted: such a node counts as alive until its
//! key expires.
//!
//! Nothing here is Redis's: the announcement and the probe serve any store.

use futures_util::future::join_all;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;

/// Longest wait for one connection of the probe.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(300);

/// The liveness value of a node serving on `addresses`:
/// `{"addresses":["127.0.0.1:8080", ...]}`.
pub fn announcement(addresses: &[SocketAddr]) -> String {
    let list: Vec<serde_json::Value> = addresses
        .iter()
        .map(|a| serde_json::Value::String(a.to_string()))
        .collect();
    serde_json::json!({ "addresses": list }).to_string()
}

/// What a liveness value says about its node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announced {
    /// The addresses to probe (maybe none).
    Addresses(Vec<SocketAddr>),
    /// Not a value this code writes (another version's, say): the node
    /// cannot be told dead by probing.
    Unreadable,
}

/// Reads a liveness value back.
pub fn read(value: &[u8]) -> Announced {
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(value) else {
        return Announced::Unreadable;
    };
    let Some(list) = doc.get("addresses").and_then(|a| a.as_array()) else {
        return Announced::Unreadable;
    };
    let mut addresses = Vec::with_capacity(list.len());
    for a in list {
        match a.as_str().and_then(|s| s.parse().ok()) {
            Some(addr) => addresses.push(addr),
            None => return Announced::Unreadable,
        }
    }
    Announced::Addresses(addresses)
}

/// How connecting to one address went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    Connected,
    /// Nothing listens there (ECONNREFUSED): the process is gone.
    Refused,
    /// A timeout or another error: nothing can be told from it.
    Unclear,
}

/// The node is dead only when every address it announced refused the
/// connection; with none to probe, or one that connected or could not be
/// told, it is alive.
pub fn verdict(probes: &[Probe]) -> bool {
    probes.is_empty() || probes.iter().any(|p| *p != Probe::Refused)
}

/// Connects to each address at once, each within [`PROBE_TIMEOUT`], and
/// gives the [`verdict`]. The connections are closed as soon as made.
pub async fn probe(addresses: &[SocketAddr]) -> bool {
    let probes = join_all(addresses.iter().map(|a| async move {
        match tokio::time::timeout(PROBE_TIMEOUT, TcpStream::connect(a)).await {
            Ok(Ok(_)) => Probe::Connected,
            Ok(Err(e)) if e.kind() == ErrorKind::ConnectionRefused => Probe::Refused,
            Ok(Err(_)) | Err(_) => Probe::Unclear,
        }
    }))
    .await;
    verdict(&probes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_round_trip_and_odd_ones_are_unreadable() {
        let addrs: Vec<SocketAddr> = vec![
            "127.0.0.1:8080".parse().unwrap(),
            "[::1]:9".parse().unwrap(),
        ];
        let doc = announcement(&addrs);
        assert_eq!(doc, r#"{"addresses":["127.0.0.1:8080","[::1]:9"]}"#);
        assert_eq!(read(doc.as_bytes()), Announced::Addresses(addrs));
        assert_eq!(read(br#"{"addresses":[]}"#), Announced::Addresses(vec![]));
        for bad in [
            &b"nope"[..],
            b"{}",
            br#"{"addresses":["here"]}"#,
            br#"{"addresses":3}"#,
        ] {
            assert_eq!(read(bad), Announced::Unreadable);
        }
    }

    #[test]
    fn only_refusals_everywhere_make_a_node_dead() {
        use Probe::*;
        assert!(verdict(&[]));
        assert!(!verdict(&[Refused]));
        assert!(!verdict(&[Refused, Refused]));
        assert!(verdict(&[Refused, Connected]));
        assert!(verdict(&[Refused, Unclear]));
        assert!(verdict(&[Unclear]));
    }
}
