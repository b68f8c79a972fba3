use super::*;

/// Announcements are plain text `name`; anything not UTF-8 or empty is bad.
struct Names;

impl Roster for Names {
    type Doc = String;
    fn announcement(&self) -> Option<(String, Vec<u8>)> {
        None
    }
    fn decode(&self, bytes: &[u8]) -> Result<String, String> {
        match std::str::from_utf8(bytes) {
            Ok(s) if !s.is_empty() => Ok(s.to_owned()),
            _ => Err("not a name".to_owned()),
        }
    }
    fn found(&self, _: &[String]) {}
}

fn entry(key: &str, value: Option<&[u8]>) -> (String, Option<Vec<u8>>) {
    (key.to_owned(), value.map(<[u8]>::to_vec))
}

#[test]
fn keys_name_the_node_under_the_feed_prefix() {
    assert_eq!(redis_prefix(""), "shoal:");
    assert_eq!(redis_prefix("prices:"), "prices:");
    assert_eq!(redis_key("shoal:", "node1"), "shoal:node:node1");
    assert_eq!(redis_pattern("shoal:"), "shoal:node:*");
    // A prefix with glob characters matches only itself.
    assert_eq!(redis_pattern("a*[b]?\\"), "a\\*\\[b\\]\\?\\\\node:*");
    assert_eq!(kv_bucket("SHOAL"), "SHOAL_nodes");
    assert_eq!(kv_bucket("my$stream"), "my_stream_nodes");
}

#[test]
fn kv_keys_escape_what_nats_refuses_and_stay_distinct() {
    assert_eq!(kv_key("node-1_a"), "node-1_a");
    assert_eq!(kv_key("node 1"), "node=201");
    assert_eq!(kv_key("a.b"), "a=2Eb");
    assert_eq!(kv_key("a=2Eb"), "a=3D2Eb");
    assert_eq!(kv_key("é"), "=C3=A9");
    assert_eq!(kv_key(""), "=");
}

#[test]
fn oversized_and_undecodable_announcements_are_left_out() {
    let mut sieve = Sieve::new("FEED/DEFAULT");
    let now = Instant::now();
    let big = vec![b'x'; MAX_ANNOUNCEMENT + 1];
    let read = vec![
        entry("k1", Some(b"node1")),
        entry("k2", Some(&big)),
        entry("k3", Some(b"")),
        entry("k4", None),
        entry("k5", Some(&[0xff, 0xfe])),
        entry("k6", Some(b"node6")),
    ];
    assert_eq!(sieve.keep(&Names, read, now), ["node1", "node6"]);
    assert!(sieve.is_muted("k2", now));
    assert!(sieve.is_muted("k3", now));
    assert!(!sieve.is_muted("k1", now));
    // A document of exactly the limit is kept.
    let edge = vec![b'y'; MAX_ANNOUNCEMENT];
    assert_eq!(
        sieve
            .keep(&Names, vec![entry("k7", Some(&edge))], now)
            .len(),
        1
    );
}

#[test]
fn a_bad_key_is_logged_again_only_after_a_while() {
    let mut sieve = Sieve::new("FEED/DEFAULT");
    let t0 = Instant::now();
    sieve.keep(&Names, vec![entry("bad", Some(b""))], t0);
    assert!(sieve.is_muted("bad", t0 + WARN_EVERY - Duration::from_millis(1)));
    assert!(!sieve.is_muted("bad", t0 + WARN_EVERY));
    // Forgotten once quiet for that long: the map does not grow forever.
    sieve.keep(&Names, vec![], t0 + WARN_EVERY);
    assert!(sieve.warned.is_empty());
}

#[test]
fn at_most_max_nodes_are_kept() {
    let mut sieve = Sieve::new("FEED/DEFAULT");
    let read = (0..MAX_NODES + 5)
        .map(|i| (format!("k{i}"), Some(format!("n{i}").into_bytes())))
        .collect();
    assert_eq!(sieve.keep(&Names, read, Instant::now()).len(), MAX_NODES);
}

#[test]
fn an_outage_repeats_the_last_reading_until_it_would_have_expired() {
    let expiry = Duration::from_secs(10);
    let mut recall = Recall::new(expiry);
    let t0 = Instant::now();
    assert!(recall.missed(t0).is_empty(), "nothing read yet");
    assert_eq!(recall.read(vec!["node2"], t0), ["node2"]);
    assert_eq!(recall.missed(t0 + Duration::from_secs(9)), ["node2"]);
    assert!(recall.missed(t0 + expiry).is_empty());
    // Gone for good: a later miss does not bring it back.
    assert!(recall.missed(t0 + Duration::from_secs(1)).is_empty());
    assert!(recall.read(vec![], t0 + expiry).is_empty());
}
