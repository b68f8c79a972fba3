//! The message every peer's publisher sends: a JSON object with `seq`
//! (counting from one) and `ts` (microseconds since the epoch when it was
//! published), e.g. `{"seq":123,"ts":1700000000000000}`. A publisher of
//! several channels adds the channel's name, `"ch":"rate-11"`, so that a
//! client subscribed to several on one connection (nchan, Pushpin,
//! Socket.IO) can tell them apart.

/// `seq` and `ts` of a publisher's message, wherever they stand in it (a
/// Socket.IO event wraps the object in an array). Keys must be followed by
/// a whole number; anything else is `None`.
pub fn seq_ts(text: &str) -> Option<(u64, u64)> {
    Some((
        number_after(text, "\"seq\":")?,
        number_after(text, "\"ts\":")?,
    ))
}

/// The item an update belongs to, by its position in `channels` (what the
/// session subscribed): the message's `ch` when it has one, else the one
/// channel of a session that has only one. `None` for a channel not
/// subscribed, or no `ch` with several.
pub fn item_of(text: &str, channels: &[String]) -> Option<usize> {
    const KEY: &str = "\"ch\":\"";
    match text.find(KEY) {
        Some(at) => {
            // Channel names need no JSON escapes: the name ends at a quote.
            let rest = &text[at + KEY.len()..];
            let ch = &rest[..rest.find('"')?];
            channels.iter().position(|c| c == ch)
        }
        None => (channels.len() == 1).then_some(0),
    }
}

fn number_after(text: &str, key: &str) -> Option<u64> {
    let start = text.find(key)? + key.len();
    let rest = text[start..].trim_start();
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_seq_and_ts() {
        assert_eq!(
            seq_ts(r#"{"seq":123,"ts":1700000000000000}"#),
            Some((123, 1_700_000_000_000_000))
        );
        assert_eq!(seq_ts(r#"{"ts": 5, "seq": 7}"#), Some((7, 5)));
        assert_eq!(seq_ts(r#"["update",{"seq":1,"ts":2}]"#), Some((1, 2)));
        assert_eq!(seq_ts(r#"{"seq":"1","ts":2}"#), None);
        assert_eq!(seq_ts(r#"{"seq":1}"#), None);
        assert_eq!(seq_ts(""), None);
    }

    #[test]
    fn finds_the_channel() {
        let chans: Vec<String> = ["rate-10", "rate-11"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let one = &chans[..1];
        assert_eq!(
            item_of(r#"{"seq":1,"ts":2,"ch":"rate-11"}"#, &chans),
            Some(1)
        );
        assert_eq!(
            item_of(r#"{"seq":1,"ts":2,"ch":"rate-10"}"#, &chans),
            Some(0)
        );
        assert_eq!(item_of(r#"{"seq":1,"ts":2,"ch":"rate-12"}"#, &chans), None);
        assert_eq!(item_of(r#"{"seq":1,"ts":2}"#, &chans), None);
        assert_eq!(item_of(r#"{"seq":1,"ts":2}"#, one), Some(0));
        assert_eq!(item_of(r#"{"seq":1,"ts":2,"ch":"rate-11"}"#, one), None);
        assert_eq!(item_of(r#"{"seq":1,"ts":2,"ch":"rate-1"#, one), None);
    }
}
