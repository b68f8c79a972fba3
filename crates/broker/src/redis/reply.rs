//! Redis replies read into entries, without a map per entry: an XREAD or
//! XRANGE reply is walked once, field names shared through [`Names`].

use crate::entry::{Entry, Names};
use redis::Value;
use shoal_adapter::Position;
use std::sync::Arc;

/// A reply that is not what the command returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected reply from Redis: {0}")]
pub struct ReplyError(pub &'static str);

/// A stream entry id, `<ms>-<seq>`.
pub fn parse_id(raw: &[u8]) -> Option<Position> {
    let s = std::str::from_utf8(raw).ok()?;
    let (ms, seq) = s.split_once('-')?;
    Some(Position::Redis {
        ms: ms.parse().ok()?,
        seq: seq.parse().ok()?,
    })
}

/// The id to read after: `0-0` for a stream read from its start.
pub fn id_arg(p: Option<Position>) -> String {
    match p {
        Some(Position::Redis { ms, seq }) => format!("{ms}-{seq}"),
        _ => "0-0".to_owned(),
    }
}

fn bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// The entries of an XRANGE/XREVRANGE reply, in the reply's order.
pub fn entries(v: Value, names: &mut Names) -> Result<Vec<Entry>, ReplyError> {
    let Value::Array(list) = v else {
        return Err(ReplyError("a range is not an array"));
    };
    let mut out = Vec::with_capacity(list.len());
    for e in list {
        let Value::Array(pair) = e else {
            return Err(ReplyError("an entry is not an array"));
        };
        let mut pair = pair.into_iter();
        let (Some(id), Some(fields)) = (pair.next(), pair.next()) else {
            return Err(ReplyError("an entry is not [id, fields]"));
        };
        let position = bytes(&id)
            .and_then(parse_id)
            .ok_or(ReplyError("an entry id is not <ms>-<seq>"))?;
        let fields = match fields {
            Value::Array(f) => f,
            // An entry deleted while it was read.
            Value::Nil => continue,
            _ => return Err(ReplyError("entry fields are not an array")),
        };
        let mut pairs = Vec::with_capacity(fields.len() / 2);
        let mut it = fields.into_iter();
        while let (Some(n), Some(v)) = (it.next(), it.next()) {
            // Bytes that are not UTF-8 are replaced, not refused: one bad
            // entry must not stop the item (it would be read again forever).
            let name = bytes(&n)
                .map(|n| names.get_lossy(n))
                .ok_or(ReplyError("a field name is not a string"))?;
            let value = match v {
                Value::BulkString(b) => Some(match String::from_utf8(b) {
                    Ok(s) => Arc::from(s),
                    Err(e) => Arc::from(String::from_utf8_lossy(e.as_bytes()).as_ref()),
                }),
                Value::SimpleString(s) => Some(Arc::from(s)),
                Value::Int(i) => Some(Arc::from(i.to_string())),
                Value::Nil => None,
                _ => return Err(ReplyError("a field value is not a string")),
            };
            pairs.push((name, value));
        }
        out.push(Entry {
            position,
            fields: pairs,
        });
    }
    Ok(out)
}

/// A stream key with entries read from it.
pub type StreamEntries = (Vec<u8>, Vec<Entry>);

/// The streams of an XREAD reply with their entries (none when the read
/// timed out or was unblocked).
pub fn streams(v: Value, names: &mut Names) -> Result<Vec<StreamEntries>, ReplyError> {
    let pairs: Vec<(Value, Value)> = match v {
        Value::Nil => return Ok(Vec::new()),
        Value::Array(list) => list
            .into_iter()
            .map(|s| match s {
                Value::Array(kv) => {
                    let mut kv = kv.into_iter();
                    match (kv.next(), kv.next()) {
                        (Some(k), Some(e)) => Ok((k, e)),
                        _ => Err(ReplyError("a stream is not [key, entries]")),
                    }
                }
                _ => Err(ReplyError("a stream is not an array")),
            })
            .collect::<Result<_, _>>()?,
        Value::Map(m) => m,
        _ => return Err(ReplyError("XREAD answered neither nil nor streams")),
    };
    let mut out = Vec::with_capacity(pairs.len());
    for (k, e) in pairs {
        let key = bytes(&k).ok_or(ReplyError("a stream key is not a string"))?;
        out.push((key.to_vec(), entries(e, names)?));
    }
    Ok(out)
}

/// What XINFO STREAM says about where a stream's history stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamInfo {
    /// The id of the last entry ever added.
    pub last_generated: Option<Position>,
    /// The highest id of an entry deleted or trimmed (Redis 7).
    pub max_deleted: Option<Position>,
}

impl StreamInfo {
    /// Whether entries after `last` are gone (trimmed, deleted, or the
    /// stream was made anew), so reading on from `last` would leave a gap.
    pub fn lost_after(&self, last: Position) -> bool {
        let recreated = self.last_generated.is_none_or(|g| g < last);
        let trimmed = self.max_deleted.is_some_and(|d| d > last);
        recreated || trimmed
    }
}

/// Reads an XINFO STREAM reply (a flat list of names and values, or a map).
pub fn stream_info(v: Value) -> Result<StreamInfo, ReplyError> {
    let pairs: Vec<(Value, Value)> = match v {
        Value::Array(list) => {
            let mut it = list.into_iter();
            let mut pairs = Vec::new();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            pairs
        }
        Value::Map(m) => m,
        _ => return Err(ReplyError("XINFO STREAM answered no list")),
    };
    let mut info = StreamInfo::default();
    for (k, v) in pairs {
        let id = || bytes(&v).and_then(parse_id);
        match bytes(&k) {
            Some(b"last-generated-id") => info.last_generated = id(),
            Some(b"max-deleted-entry-id") => info.max_deleted = id(),
            _ => {}
        }
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    fn entry(id: &str, fields: &[&str]) -> Value {
        Value::Array(vec![
            bulk(id),
            Value::Array(fields.iter().map(|f| bulk(f)).collect()),
        ])
    }

    #[test]
    fn an_xread_reply_gives_each_stream_with_its_entries() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("shoal:a"),
            Value::Array(vec![
                entry("5-0", &["v", "1"]),
                entry("5-1", &["v", "2", "w", "x"]),
            ]),
        ])]);
        let mut names = Names::default();
        let s = streams(reply, &mut names).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].0, b"shoal:a");
        assert_eq!(s[0].1[1].position, Position::Redis { ms: 5, seq: 1 });
        assert_eq!(s[0].1[1].get("w"), Some("x"));
        assert!(streams(Value::Nil, &mut names).unwrap().is_empty());
        assert!(streams(Value::Int(3), &mut names).is_err());
        assert!(streams(
            Value::Array(vec![Value::Array(vec![
                bulk("k"),
                Value::Array(vec![entry("x", &[])])
            ])]),
            &mut names
        )
        .is_err());
    }

    #[test]
    fn stream_info_says_when_entries_after_a_position_are_lost() {
        let info = stream_info(Value::Array(vec![
            bulk("length"),
            Value::Int(2),
            bulk("last-generated-id"),
            bulk("10-0"),
            bulk("max-deleted-entry-id"),
            bulk("6-0"),
        ]))
        .unwrap();
        let at = |ms| Position::Redis { ms, seq: 0 };
        assert!(
            !info.lost_after(at(8)),
            "only entries before 8 were trimmed"
        );
        assert!(info.lost_after(at(5)), "6 was trimmed and never read");
        assert!(info.lost_after(at(11)), "the stream was made anew");
        assert_eq!(id_arg(Some(at(7))), "7-0");
        assert_eq!(id_arg(None), "0-0");
    }
}
