//! Replies of the remote to the proxy's requests.

use std::borrow::Cow;

use crate::error::{ParseError, ParseErrorKind};
use crate::exception::{parse_exception, RemoteError};
use crate::method::Method;
use crate::modes::Modes;
use crate::tokens::Tokens;
use crate::RequestId;

/// `<id>|<METHOD>|…`: the answer to the request with that id.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply<'a> {
    /// The id of the request, echoed.
    pub id: &'a str,
    /// The method, echoed: check it against the pending request's.
    pub method: Method,
    pub outcome: Result<ReplyBody<'a>, RemoteError<'a>>,
}

impl Reply<'_> {
    /// The id as the proxy wrote it, when it is one of its numeric ids.
    pub fn request_id(&self) -> Option<RequestId> {
        RequestId::parse(self.id)
    }
}

/// A successful reply, by method.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplyBody<'a> {
    /// `MPI`, `DPI`.
    Init(InitReply<'a>),
    /// `V`: `SUB`, `USB`, `NUM`, `NSC`, `NTC`, `MDA`, `MSA`, `MDC`.
    Void,
    /// `NUS`, `NUA`.
    User(UserReply),
    /// `GIS`: the items of the group.
    Items(Vec<Cow<'a, str>>),
    /// `GSC`: the fields of the schema.
    Fields(Vec<Cow<'a, str>>),
    /// `GIT`: one entry per requested item, in order.
    ItemData(Vec<ItemData>),
    /// `GUI`: one entry per requested item, in order.
    UserItemData(Vec<UserItemData>),
    /// `NNS`.
    Session(SessionReply),
    /// `NNT`.
    Tables(TablesReply),
}

/// The init reply: `S|ARI.version|S|<v>` (1.8.2 and later) or `V` (1.8.0).
#[derive(Debug, Clone, PartialEq)]
pub struct InitReply<'a> {
    /// The version the remote will speak; `None` for a `V` reply. Pass it
    /// to [`crate::Version::negotiate`].
    pub ari_version: Option<Cow<'a, str>>,
}

/// `NUS`/`NUA` reply: `D|<max bandwidth>|B|<wants tables>`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UserReply {
    /// The user's bandwidth limit in kbit/s; 0 (Node `0`, Python `0.0`) or
    /// null means unlimited.
    pub max_bandwidth: Option<f64>,
    /// Whether `NNT`/`NTC` must be sent for this user's sessions.
    pub wants_tables_notification: bool,
}

/// `GIT` reply entry: `I|<distinct snapshot length>|D|<min source freq>|M|<modes>`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ItemData {
    /// `None` when the remote sent null.
    pub distinct_snapshot_length: Option<i32>,
    /// Updates/s the source may be throttled to; 0 or null: unlimited.
    pub min_source_frequency: Option<f64>,
    /// Null or empty (`#`, `$`) read as no mode.
    pub allowed_modes: Modes,
}

/// `GUI` reply entry: `I|<buffer size>|D|<max frequency>|M|<modes>`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UserItemData {
    /// `None` when the remote sent null.
    pub allowed_buffer_size: Option<i32>,
    /// Updates/s for this user; 0 or null: unlimited.
    pub allowed_max_frequency: Option<f64>,
    pub allowed_modes: Modes,
}

/// `NNS` reply: `V`, or in 1.9 `I|<seconds>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionReply {
    /// A limit to the session's life, in seconds (1.9, Java/.NET SDKs).
    pub time_to_live_seconds: Option<i32>,
}

/// `NNT` reply: `V`, or in 1.9 `B|<enable unsubscription>|B|<wants stats>`.
/// A `V` reads as both false.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TablesReply {
    /// The remote may send `FUS` for these tables.
    pub unsubscription_enabled: bool,
    /// The remote wants statistics in the `NTC` of these tables.
    pub wants_final_statistics: bool,
}

pub(super) fn parse_reply<'a>(
    id: &'a str,
    method: Method,
    t: &mut Tokens<'a>,
) -> Result<Reply<'a>, ParseError> {
    if let Some(ty) = exception_type(t) {
        let pos = t.pos();
        t.raw("exception type")?;
        let error = parse_exception(ty, pos, t)?;
        return Ok(Reply {
            id,
            method,
            outcome: Err(error),
        });
    }
    let body = match method {
        Method::Mpi | Method::Dpi => ReplyBody::Init(init(t)?),
        Method::Nus | Method::Nua => ReplyBody::User(UserReply {
            max_bandwidth: t.opt_number("D", "max bandwidth")?,
            wants_tables_notification: t.boolean("wants tables notification")?,
        }),
        Method::Gis => ReplyBody::Items(names(t, "item")?),
        Method::Gsc => ReplyBody::Fields(names(t, "field")?),
        Method::Git => ReplyBody::ItemData(triples(t, |t| {
            Ok(ItemData {
                distinct_snapshot_length: t.opt_number("I", "distinct snapshot length")?,
                min_source_frequency: t.opt_number("D", "min source frequency")?,
                allowed_modes: modes(t)?,
            })
        })?),
        Method::Gui => ReplyBody::UserItemData(triples(t, |t| {
            Ok(UserItemData {
                allowed_buffer_size: t.opt_number("I", "allowed buffer size")?,
                allowed_max_frequency: t.opt_number("D", "allowed max frequency")?,
                allowed_modes: modes(t)?,
            })
        })?),
        Method::Nns if t.next_is("I") => ReplyBody::Session(SessionReply {
            time_to_live_seconds: t.opt_number("I", "session time to live")?,
        }),
        Method::Nnt if t.next_is("B") => ReplyBody::Tables(TablesReply {
            unsubscription_enabled: t.boolean("enable unsubscription")?,
            wants_final_statistics: t.boolean("wants final statistics")?,
        }),
        Method::Nns => {
            t.expect_type("V", "reply")?;
            ReplyBody::Session(SessionReply::default())
        }
        Method::Nnt => {
            t.expect_type("V", "reply")?;
            ReplyBody::Tables(TablesReply::default())
        }
        _ => {
            t.expect_type("V", "reply")?;
            ReplyBody::Void
        }
    };
    Ok(Reply {
        id,
        method,
        outcome: Ok(body),
    })
}

/// The next token when it is an exception type (`E`, `EM`, …). No other
/// type code of a reply starts with `E`.
fn exception_type<'a>(t: &Tokens<'a>) -> Option<&'a str> {
    let mut ahead = t.clone();
    let ty = ahead.raw("").ok()?;
    ty.starts_with('E').then_some(ty)
}

fn init<'a>(t: &mut Tokens<'a>) -> Result<InitReply<'a>, ParseError> {
    if t.next_is("V") {
        t.raw("reply")?;
        return Ok(InitReply { ari_version: None });
    }
    let mut ari_version = None;
    while !t.at_end() {
        let name = t.string("parameter name")?;
        let value = t.opt_string("parameter value")?;
        if name == "ARI.version" {
            ari_version = value;
        }
    }
    Ok(InitReply { ari_version })
}

/// `S|<name>…`, possibly no token at all (Python `id|GIS`) or one empty
/// token (Node `id|GIS|`).
fn names<'a>(t: &mut Tokens<'a>, what: &'static str) -> Result<Vec<Cow<'a, str>>, ParseError> {
    let mut out = Vec::new();
    while !t.at_end() {
        out.push(t.string(what)?);
    }
    Ok(out)
}

fn triples<'a, T>(
    t: &mut Tokens<'a>,
    mut one: impl FnMut(&mut Tokens<'a>) -> Result<T, ParseError>,
) -> Result<Vec<T>, ParseError> {
    let mut out = Vec::new();
    while !t.at_end() {
        out.push(one(t)?);
    }
    Ok(out)
}

fn modes(t: &mut Tokens<'_>) -> Result<Modes, ParseError> {
    t.expect_type("M", "allowed modes")?;
    let pos = t.pos();
    let token = t.raw("allowed modes")?;
    Modes::parse(token).map_err(|c| t.error(pos, ParseErrorKind::BadMode(c.to_string())))
}
