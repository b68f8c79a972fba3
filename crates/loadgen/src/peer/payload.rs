//! The message every peer's publisher sends: a JSON object with `seq`
//! (counting from one) and `ts` (microseconds since the epoch when it was
//! published), e.g. `{"seq":123,"ts":1700000000000000}`.

/// `seq` and `ts` of a publisher's message, wherever they stand in it (a
/// Socket.IO event wraps the object in an array). Keys must be followed by
/// a whole number; anything else is `None`.
pub fn seq_ts(text: &str) -> Option<(u64, u64)> {
    Some((
        number_after(text, "\"seq\":")?,
        number_after(text, "\"ts\":")?,
    ))
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
}
