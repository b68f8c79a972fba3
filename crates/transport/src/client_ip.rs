//! The address a client is reported with (`CLIENTIP`, logs).
//!
//! With `skip_local_forwards` = N, the last N entries of `X-Forwarded-For`
//! were written by our own proxies, and the Nth-nearest one (counting from
//! the right) is the client. With N = 0 the header is not trusted at all.
//! A header with fewer than N entries, or an entry that is not an IP
//! address, is not trusted either: the connection's address is used.

use axum::http::HeaderMap;
use std::net::{IpAddr, SocketAddr};

pub(crate) fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted_hops: u32) -> IpAddr {
    let peer_ip = peer.ip().to_canonical();
    if trusted_hops == 0 {
        return peer_ip;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    let hops = usize::try_from(trusted_hops).unwrap_or(usize::MAX);
    let Some(entry) = entries.len().checked_sub(hops).and_then(|i| entries.get(i)) else {
        return peer_ip;
    };
    parse_entry(entry).map_or(peer_ip, |ip| ip.to_canonical())
}

/// An entry may carry a port (`1.2.3.4:5678`, `[::1]:80`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    entry.parse::<SocketAddr>().ok().map(|s| s.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    const PEER: &str = "10.0.0.5:40000";

    fn ip(peer: &str, xff: &[&str], hops: u32) -> String {
        client_ip(peer.parse().unwrap(), &headers(xff), hops).to_string()
    }

    #[test]
    fn untrusted_by_default() {
        assert_eq!(ip(PEER, &["6.6.6.6"], 0), "10.0.0.5");
    }

    #[test]
    fn nth_nearest_entry_is_the_client() {
        assert_eq!(ip(PEER, &["1.1.1.1, 2.2.2.2"], 1), "2.2.2.2");
        assert_eq!(ip(PEER, &["1.1.1.1, 2.2.2.2"], 2), "1.1.1.1");
        // Several headers are one list, in order.
        assert_eq!(ip(PEER, &["9.9.9.9", "1.1.1.1, 2.2.2.2"], 3), "9.9.9.9");
        assert_eq!(ip(PEER, &["[2001:db8::1]:443"], 1), "2001:db8::1");
    }

    #[test]
    fn too_few_or_bad_entries_are_not_trusted() {
        assert_eq!(ip(PEER, &["2.2.2.2"], 2), "10.0.0.5");
        assert_eq!(ip(PEER, &[], 1), "10.0.0.5");
        assert_eq!(ip(PEER, &["unknown"], 1), "10.0.0.5");
    }

    #[test]
    fn mapped_ipv4_is_shown_as_ipv4() {
        assert_eq!(ip("[::ffff:127.0.0.1]:9", &[], 0), "127.0.0.1");
    }
}
