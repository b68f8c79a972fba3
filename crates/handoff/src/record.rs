//! The records of a session's journal, and how they are written in the
//! broker: one JSON document per entry. JSON, not a binary format: a
//! journal holds a few entries per session, written when the session
//! changes, and an operator can read them with `redis-cli LRANGE`.

use serde::{Deserialize, Serialize};
use shoal_adapter::Position;
use shoal_protocol::request::{BufferSize, MaxFrequency, Mode, Snapshot, Subscribe};

/// Longest encoded entry accepted when reading a journal back: a
/// checkpoint of a session with many subscriptions is the largest, and
/// anything past this is not one Shoal wrote.
pub const MAX_ENTRY: usize = 4 * 1024 * 1024;

/// One entry of a journal: what the counted lines from progressive `prog`
/// on are, until the next entry's. A checkpoint covers no line: the entry
/// after it may start at the same progressive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The progressive of the entry's first line (1 for the first line of
    /// a session). For a checkpoint: one more than the lines it covers.
    #[serde(rename = "p")]
    pub prog: u64,
    #[serde(flatten)]
    pub rec: Rec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k")]
pub enum Rec {
    /// The session as it stands after line `prog - 1`.
    #[serde(rename = "ck")]
    Checkpoint(Checkpoint),
    /// A subscription: its `SUBOK` (or `SUBCMD`) line at `prog`, its `CONF`
    /// line (`conf`) at `prog + 1`. `starts`: for each item, the position of
    /// the item's last entry when the subscription was made (a DISTINCT
    /// snapshot ends there, live updates follow).
    #[serde(rename = "sub")]
    Sub {
        def: SubDef,
        head: String,
        conf: String,
        starts: Vec<Option<Pos>>,
    },
    /// The `UNSUB` line of a subscription.
    #[serde(rename = "unsub")]
    Unsub { sub: u32, line: String },
    /// One line the adopter resends as it is if the client lacks it
    /// (`CONF` after a reconfiguration, `MSGDONE`, `MSGFAIL`).
    #[serde(rename = "line")]
    Line { text: String },
    /// Updates of one exact item (`sub`, `item`: 1-based as on the wire):
    /// consecutive entries of its history, the first at `from`.
    #[serde(rename = "run")]
    Run { sub: u32, item: u32, from: Pos },
    /// The `EOS` of an exact item.
    #[serde(rename = "eos")]
    Eos { sub: u32, item: u32 },
    /// An exact item whose lines can no longer be followed (its source
    /// gave no position, it was cleared): the session cannot be adopted
    /// exactly before the next checkpoint.
    #[serde(rename = "lost")]
    Lost { sub: u32, item: u32 },
    /// Lines the adopter need not know one by one.
    #[serde(rename = "o")]
    Other,
}

/// A broker position as text: `r:<ms>-<seq>` (Redis), `j:<seq>`
/// (JetStream), `l:<seq>` (this node's own sequence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos(pub Position);

impl Serialize for Pos {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&pos_text(self.0))
    }
}

impl<'de> Deserialize<'de> for Pos {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_pos(&text)
            .map(Pos)
            .ok_or_else(|| serde::de::Error::custom(format!("not a position: {text:?}")))
    }
}

pub fn pos_text(p: Position) -> String {
    match p {
        Position::Redis { ms, seq } => format!("r:{ms}-{seq}"),
        Position::JetStream(seq) => format!("j:{seq}"),
        Position::Local(seq) => format!("l:{seq}"),
    }
}

pub fn parse_pos(text: &str) -> Option<Position> {
    let (kind, rest) = text.split_once(':')?;
    match kind {
        "r" => {
            let (ms, seq) = rest.split_once('-')?;
            Some(Position::Redis {
                ms: ms.parse().ok()?,
                seq: seq.parse().ok()?,
            })
        }
        "j" => Some(Position::JetStream(rest.parse().ok()?)),
        "l" => Some(Position::Local(rest.parse().ok()?)),
        _ => None,
    }
}

/// What a session was created with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub adapter_set: String,
    pub user: Option<String>,
    pub client_ip: String,
    #[serde(default)]
    pub user_agent: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// The bandwidth the metadata adapter granted the session, kbit/s
    /// (none: unlimited); an adopter enforces it without asking again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted_bandwidth: Option<f64>,
    /// The bandwidth the client asked for last (on creation, then with
    /// `constrain`), kbit/s (none: unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_bandwidth: Option<f64>,
}

/// A subscription as the client asked for it, with the items and fields
/// the metadata adapter resolved its group and schema to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubDef {
    pub sub: u32,
    pub mode: String,
    pub data_adapter: Option<String>,
    pub group: String,
    pub schema: String,
    #[serde(default)]
    pub selector: Option<String>,
    /// `"unlimited"`, `"unfiltered"` or a number of updates a second.
    pub max_frequency: String,
    /// `None`, `"unlimited"` or a number of events.
    #[serde(default)]
    pub buffer_size: Option<String>,
    /// `"no"`, `"yes"` or a length.
    pub snapshot: String,
    pub items: Vec<String>,
    pub fields: Vec<String>,
}

impl SubDef {
    pub fn new(s: &Subscribe, items: &[String], fields: &[String]) -> Self {
        Self {
            sub: s.sub_id,
            mode: s.mode.as_str().to_owned(),
            data_adapter: s.data_adapter.clone(),
            group: s.group.clone(),
            schema: s.schema.clone(),
            selector: s.selector.clone(),
            max_frequency: match s.max_frequency {
                MaxFrequency::Unlimited => "unlimited".into(),
                MaxFrequency::Unfiltered => "unfiltered".into(),
                MaxFrequency::PerSecond(f) => f.to_string(),
            },
            buffer_size: s.buffer_size.map(|b| match b {
                BufferSize::Unlimited => "unlimited".into(),
                BufferSize::Events(n) => n.to_string(),
            }),
            snapshot: match s.snapshot {
                Snapshot::No => "no".into(),
                Snapshot::Yes => "yes".into(),
                Snapshot::Length(n) => n.to_string(),
            },
            items: items.to_vec(),
            fields: fields.to_vec(),
        }
    }

    /// The subscribe request again, or what in it is not one.
    pub fn to_subscribe(&self) -> Result<Subscribe, DecodeError> {
        let bad = |what: &str, v: &str| DecodeError::Field(format!("{what} {v:?}"));
        let mode = match self.mode.as_str() {
            "RAW" => Mode::Raw,
            "MERGE" => Mode::Merge,
            "DISTINCT" => Mode::Distinct,
            "COMMAND" => Mode::Command,
            m => return Err(bad("mode", m)),
        };
        let max_frequency = match self.max_frequency.as_str() {
            "unlimited" => MaxFrequency::Unlimited,
            "unfiltered" => MaxFrequency::Unfiltered,
            f => MaxFrequency::PerSecond(
                f.parse()
                    .ok()
                    .filter(|f: &f64| f.is_finite() && *f > 0.0)
                    .ok_or_else(|| bad("max_frequency", f))?,
            ),
        };
        let buffer_size = match self.buffer_size.as_deref() {
            None => None,
            Some("unlimited") => Some(BufferSize::Unlimited),
            Some(n) => Some(BufferSize::Events(
                n.parse().map_err(|_| bad("buffer_size", n))?,
            )),
        };
        let snapshot = match self.snapshot.as_str() {
            "no" => Snapshot::No,
            "yes" => Snapshot::Yes,
            n => Snapshot::Length(n.parse().map_err(|_| bad("snapshot", n))?),
        };
        Ok(Subscribe {
            sub_id: self.sub,
            data_adapter: self.data_adapter.clone(),
            group: self.group.clone(),
            schema: self.schema.clone(),
            selector: self.selector.clone(),
            mode,
            buffer_size,
            max_frequency,
            snapshot,
            ack: false,
        })
    }

    /// Whether the subscription's updates must arrive exactly, one by one
    /// (RAW and DISTINCT), rather than as the current state.
    pub fn is_exact(&self) -> bool {
        matches!(self.mode.as_str(), "RAW" | "DISTINCT")
    }
}

/// The session after line `prog - 1` of the entry that holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub header: Header,
    pub subs: Vec<SubState>,
    /// The exact item whose run continues after the checkpoint, if the
    /// lines that follow it (until the next entry) are its updates:
    /// `(sub, item)`. `None`: they are other lines.
    #[serde(default)]
    pub run: Option<(u32, u32)>,
    /// The lines that follow the checkpoint (until the next entry) are
    /// other lines (see [`Rec::Other`]).
    #[serde(default)]
    pub other: bool,
}

/// A subscription in a checkpoint: its `SUBOK` and `CONF` lines are before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubState {
    pub def: SubDef,
    /// For each item of an exact subscription, what was sent of it.
    #[serde(default)]
    pub items: Vec<ItemMark>,
}

/// What was sent of one exact item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemMark {
    /// The position of the last entry sent (or, before any, of the last
    /// entry before the subscription: its start).
    #[serde(default)]
    pub last: Option<Pos>,
    /// Whether an update of it was sent (so the client has values).
    #[serde(default)]
    pub sent: bool,
    /// Whether its snapshot has ended (`EOS` sent), or it has none.
    pub eos: bool,
    /// The snapshot ends at this entry (DISTINCT before `EOS`).
    #[serde(default)]
    pub start: Option<Pos>,
    /// Its lines could not be followed since the last checkpoint.
    #[serde(default)]
    pub lost: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("a journal entry of {0} bytes is larger than any Shoal writes")]
    TooLarge(usize),
    #[error("not a journal entry: {0}")]
    Json(String),
    #[error("a journal entry with a bad {0}")]
    Field(String),
}

impl Entry {
    pub fn encode(&self) -> Vec<u8> {
        // Serializing plain data to a vector cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > MAX_ENTRY {
            return Err(DecodeError::TooLarge(bytes.len()));
        }
        serde_json::from_slice(bytes).map_err(|e| DecodeError::Json(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_as_text() {
        for p in [
            Position::Redis {
                ms: 1733220000000,
                seq: 7,
            },
            Position::JetStream(42),
            Position::Local(3),
        ] {
            assert_eq!(parse_pos(&pos_text(p)), Some(p));
        }
        for bad in ["", "r:1", "r:a-1", "x:1", "j:-1", "j:"] {
            assert_eq!(parse_pos(bad), None, "{bad}");
        }
    }

    #[test]
    fn entries_round_trip_and_bad_ones_are_named() {
        let e = Entry {
            prog: 12,
            rec: Rec::Run {
                sub: 1,
                item: 2,
                from: Pos(Position::Redis { ms: 5, seq: 0 }),
            },
        };
        let text = e.encode();
        assert_eq!(
            std::str::from_utf8(&text).unwrap(),
            r#"{"p":12,"k":"run","sub":1,"item":2,"from":"r:5-0"}"#
        );
        assert_eq!(Entry::decode(&text), Ok(e));
        assert!(matches!(
            Entry::decode(br#"{"p":1,"k":"run","sub":1,"item":2,"from":"q:1"}"#),
            Err(DecodeError::Json(m)) if m.contains("not a position")
        ));
        assert!(matches!(Entry::decode(b"{}"), Err(DecodeError::Json(_))));
    }

    #[test]
    fn a_subscription_comes_back_as_it_was_asked() {
        let s = Subscribe {
            sub_id: 3,
            data_adapter: Some("FEED".into()),
            group: "a b".into(),
            schema: "seq ts".into(),
            selector: None,
            mode: Mode::Distinct,
            buffer_size: Some(BufferSize::Events(10)),
            max_frequency: MaxFrequency::PerSecond(2.5),
            snapshot: Snapshot::Length(5),
            ack: false,
        };
        let def = SubDef::new(&s, &["a".into(), "b".into()], &["seq".into(), "ts".into()]);
        assert!(def.is_exact());
        assert_eq!(def.to_subscribe(), Ok(s));
        let bad = SubDef {
            mode: "FAST".into(),
            ..def
        };
        assert_eq!(
            bad.to_subscribe(),
            Err(DecodeError::Field("mode \"FAST\"".into()))
        );
    }
}
