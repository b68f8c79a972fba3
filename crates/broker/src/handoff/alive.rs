//! Whether a node is alive, beyond its liveness key: what it announces
//! (the socket addresses it serves clients on) and how those addresses
//! are probed.
//!
//! A node announces the same value under two keys: its **liveness key**,
//! renewed every second and expiring after 3 s, and its **address
//! record**, renewed by the same announcement but living 10 minutes. The
//! address record outlives the liveness key so that a node whose key
//! expired can still be probed: a node cut off the broker (a partition)
//! but still serving its clients stops renewing its liveness key, and
//! must not be taken for dead, or its sessions would get two owners.
//!
//! A killed process leaves its keys behind but its listening sockets go at
//! once, and connecting to them is *refused*: that tells a dead node from
//! a live one in a few milliseconds. Anything less clear-cut (a timeout,
//! an unreachable network) cannot tell it dead, and a live node's sessions
//! must never be adopted: such a node counts as alive. See [`judge`].
//!
//! A node that leaves deletes both keys: it is dead at once.
//!
//! A node killed and restarted at once on the same addresses (a service
//! manager's restart) is another incarnation: the address record of the
//! dead one would be probed at the addresses the new one now listens on,
//! and the dead incarnation would look alive for the record's 10 minutes,
//! its sessions never taken over. So each node looks for the address
//! records of **other incarnations of its own name**, at start and then
//! every [`FORGET_EVERY`] until none is left, and deletes each one whose
//! liveness key is gone: that incarnation stopped announcing itself, and
//! with this node up under its name, it is not cut off but dead (see
//! [`other_incarnation`]). The check and the delete are one atomic step
//! (a Lua script in Redis, a delete expecting the record's revision in
//! NATS), so a record renewed meanwhile is kept.
//!
//! **Node names must be unique to a node**: two live nodes with the same
//! name (each its own incarnation) both keep their records, since both
//! keep announcing; but one of them cut off the broker (its liveness key
//! expired while it still serves) would lose its address record to the
//! other and be taken for dead once its key expired.
//!
//! Nothing here is a broker's: Redis and NATS stores both use it.

use futures_util::future::join_all;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;

/// Longest wait for one connection of the probe.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(300);

/// How often a node looks for the address records of its dead
/// incarnations, from its start until none is left.
pub const FORGET_EVERY: Duration = Duration::from_secs(5);

/// Longest time one look for dead incarnations may take.
pub const FORGET_WITHIN: Duration = Duration::from_secs(10);

/// The node name of owner id `owner` (`<node name>/<incarnation>`), if it
/// has one.
pub fn node_name(owner: &str) -> Option<&str> {
    owner
        .rsplit_once('/')
        .filter(|(_, incarnation)| !incarnation.is_empty())
        .map(|(name, _)| name)
}

/// Whether `other` is another incarnation of the node `me`: the same node
/// name, another incarnation (which has no `/`: `n/a/b` is incarnation
/// `b` of node `n/a`, not one of `n`).
pub fn other_incarnation(me: &str, other: &str) -> bool {
    let Some(name) = node_name(me) else {
        return false;
    };
    other != me
        && other
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|incarnation| !incarnation.is_empty() && !incarnation.contains('/'))
}

/// Runs one look for the dead incarnations of `node` (`look`: it answers
/// how many records of other incarnations are left, alive), within
/// [`FORGET_WITHIN`]. Whether none is left: a look that failed or did not
/// end in time is logged (at debug: the announcing logs outages), and
/// another is to come.
pub async fn looked<E: std::fmt::Display>(
    node: &str,
    look: impl std::future::Future<Output = Result<usize, E>>,
) -> bool {
    match tokio::time::timeout(FORGET_WITHIN, look).await {
        Ok(Ok(left)) => left == 0,
        Ok(Err(e)) => {
            tracing::debug!(node, "looking for dead incarnations of this node: {e}");
            false
        }
        Err(_) => {
            tracing::debug!(
                node,
                "looking for dead incarnations of this node: no end in time"
            );
            false
        }
    }
}

/// Logs that the address record of `owner`, an earlier incarnation of
/// this node, was deleted.
pub fn forgotten(owner: &str, store: &str) {
    tracing::info!(
        owner,
        store,
        "forgetting incarnation {owner} of this node: it no longer announces itself"
    );
}

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

/// What the broker holds of a node, as read by another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held<'a> {
    /// Its liveness key, still there: the node announced itself less than
    /// 3 s ago.
    Live(&'a [u8]),
    /// No liveness key, but its address record: the node stopped
    /// announcing (killed, or cut off the broker) less than 10 minutes ago.
    Record(&'a [u8]),
    /// Neither: never announced, left, or gone for long.
    Nothing,
}

/// Whether the node `owner` is alive, from what the broker holds of it
/// (`store` names where, in a warning):
///
/// - its liveness key: alive unless every address it announced refuses;
/// - its address record alone: the same probe, so that a node cut off the
///   broker but still serving is alive (any address connects) or cannot
///   be told dead (timeouts, other errors), and only one whose every
///   address refuses is dead. A record with **no address** is dead: with
///   the liveness key gone there is nothing to probe, and all that is
///   known is that the node stopped announcing (with the key there, such a
///   node is alive, as it always was);
/// - nothing: dead.
///
/// A value that is not one this code writes (another version's) cannot be
/// probed: the node cannot be told dead, and is alive.
pub async fn judge(owner: &str, store: &str, held: Held<'_>) -> bool {
    let (value, key) = match held {
        Held::Nothing => return false,
        Held::Live(value) => (value, "liveness key"),
        Held::Record(value) => (value, "address record"),
    };
    match read(value) {
        Announced::Addresses(addresses) if addresses.is_empty() => {
            matches!(held, Held::Live(_))
        }
        Announced::Addresses(addresses) => probe(&addresses).await,
        Announced::Unreadable => {
            tracing::warn!(owner, store, key, "the value a node announced is not one Shoal writes: the node cannot be told dead, and is taken as alive");
            true
        }
    }
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

    #[tokio::test]
    async fn a_node_known_by_its_address_record_alone_is_probed() {
        let listening = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed_at = closed.local_addr().unwrap();
        drop(closed);
        let up = announcement(&[closed_at, listening.local_addr().unwrap()]);
        let down = announcement(&[closed_at]);
        let none = announcement(&[]);
        let judged = |held| judge("n/1", "test", held);
        assert!(judged(Held::Live(up.as_bytes())).await);
        assert!(judged(Held::Record(up.as_bytes())).await);
        assert!(!judged(Held::Live(down.as_bytes())).await);
        assert!(!judged(Held::Record(down.as_bytes())).await);
        // No address: alive while announced, dead once it stopped.
        assert!(judged(Held::Live(none.as_bytes())).await);
        assert!(!judged(Held::Record(none.as_bytes())).await);
        // Unreadable: cannot be told dead.
        assert!(judged(Held::Live(b"?")).await);
        assert!(judged(Held::Record(b"?")).await);
        assert!(!judged(Held::Nothing).await);
    }

    #[test]
    fn other_incarnations_share_the_name_alone() {
        assert_eq!(node_name("n/1"), Some("n"));
        assert_eq!(node_name("a/b/1"), Some("a/b"));
        assert_eq!(node_name("n"), None);
        assert_eq!(node_name("n/"), None);
        assert!(other_incarnation("n/1", "n/2"));
        assert!(other_incarnation("a/b/1", "a/b/2"));
        assert!(!other_incarnation("n/1", "n/1"));
        assert!(!other_incarnation("n/1", "m/2"));
        assert!(!other_incarnation("n/1", "nn/2"));
        assert!(!other_incarnation("n/1", "n/a/2"));
        assert!(!other_incarnation("n/1", "n/"));
        assert!(!other_incarnation("n", "n/2"));
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
