//! Typed reading of every line a remote sends to the proxy.
//!
//! [`parse`] needs no version: a line's method says what it is, the 1.9
//! variants of replies are told apart by their type tokens (`NNS` answers
//! `V` or `I|<ttl>`), and both string encodings decode alike. Everything
//! borrows from the line; strings are [`Cow`]s that only own when the
//! remote escaped something.

mod reply;
mod update;

use std::borrow::Cow;

pub use reply::{
    InitReply, ItemData, Reply, ReplyBody, SessionReply, TablesReply, UserItemData, UserReply,
};
pub use update::{Base64, Field, FieldDiffs, FieldValue, Fields, Update};

use crate::error::{Context, ParseError, ParseErrorKind};
use crate::method::Method;
use crate::tokens::Tokens;

/// One line from a remote.
#[derive(Debug, Clone)]
pub enum Received<'a> {
    /// `KEEPALIVE`: the remote is alive; nothing to answer.
    Keepalive,
    /// `1|RAC|S|<name>|S|<value>…`: the remote's credentials and options,
    /// sent first on every connection.
    Credentials(Credentials<'a>),
    /// The reply to a request of the proxy (or a line that claims to be).
    Reply(Reply<'a>),
    /// `UD3`: an update of a subscribed item.
    Update(Update<'a>),
    /// `EOS`: the end of an item's snapshot.
    EndOfSnapshot(ItemRef<'a>),
    /// `CLS`: the item's snapshot must be cleared.
    ClearSnapshot(ItemRef<'a>),
    /// `FAL`: the adapter failed as a whole; the message is informative.
    Failure { message: Option<Cow<'a, str>> },
    /// `DFD` (1.9): which diff algorithms each field of an item allows.
    FieldDiffs(FieldDiffs<'a>),
    /// `FST` (1.9): the metadata adapter asks to close a session. Answer
    /// with [`crate::Encoder::force_session_termination_reply`].
    ForceSessionTermination(ForceSessionTermination<'a>),
    /// `FUS` (1.9): the metadata adapter asks to unsubscribe a table.
    /// Answer with [`crate::Encoder::force_unsubscription_reply`].
    ForceUnsubscription(ForceUnsubscription<'a>),
}

/// The item and subscription a notification is about.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemRef<'a> {
    pub item: Cow<'a, str>,
    /// The id of the `SUB` request that opened the subscription.
    pub sub_id: Cow<'a, str>,
}

/// The parameters of a `RAC` line, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Credentials<'a> {
    /// `1` on request/reply connections, a timestamp on notify connections.
    pub id: &'a str,
    pub params: Vec<Param<'a>>,
}

/// A `S|<name>|S|<value>` parameter; the value may be null.
pub type Param<'a> = (Cow<'a, str>, Option<Cow<'a, str>>);

impl Credentials<'_> {
    /// The value of a parameter (the last one when repeated).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref())
    }

    pub fn user(&self) -> Option<&str> {
        self.get("user")
    }

    pub fn password(&self) -> Option<&str> {
        self.get("password")
    }

    /// Whether the remote accepts a `CLOSE` before the init exchange.
    pub fn close_packet_enabled(&self) -> bool {
        self.get("enableClosePacket") == Some("true")
    }

    /// The SDK's name (`Python Adapter SDK`…), absent from older SDKs.
    pub fn sdk(&self) -> Option<&str> {
        self.get("SDK")
    }
}

/// `<id>|FST|S|<session>|V` or `…|I|<code>|S|<message>`.
#[derive(Debug, Clone, PartialEq)]
pub struct ForceSessionTermination<'a> {
    /// The remote's request id, to echo in the reply.
    pub id: &'a str,
    pub session: Cow<'a, str>,
    /// A cause for the client, when given.
    pub cause: Option<(i32, Option<Cow<'a, str>>)>,
}

/// `<id>|FUS|S|<session>|I|<window index>`.
#[derive(Debug, Clone, PartialEq)]
pub struct ForceUnsubscription<'a> {
    /// The remote's request id, to echo in the reply.
    pub id: &'a str,
    pub session: Cow<'a, str>,
    pub win_index: i32,
}

/// Parses one line (as returned by [`crate::LineReader::next_line`]).
pub fn parse(line: &str) -> Result<Received<'_>, ParseError> {
    if line == "KEEPALIVE" {
        return Ok(Received::Keepalive);
    }
    let (id, rest) = match line.split_once('|') {
        Some(split) => split,
        None => {
            let cx = Context {
                id: line,
                method: None,
            };
            return Err(cx.error(1, ParseErrorKind::NoMethod));
        }
    };
    let (name, rest) = match rest.split_once('|') {
        Some((name, rest)) => (name, Some(rest)),
        None => (rest, None),
    };
    let mut cx = Context { id, method: None };
    let method = Method::from_wire(name)
        .ok_or_else(|| cx.error(1, ParseErrorKind::UnknownMethod(name.to_owned())))?;
    cx.method = Some(method);
    let mut t = Tokens::new(rest, 2, cx);
    let received = match method {
        Method::Close => return Err(cx.error(1, ParseErrorKind::NotFromRemote(method))),
        Method::Rac => Received::Credentials(Credentials {
            id,
            params: pairs(&mut t)?,
        }),
        Method::Ud3 => return update::parse_update(t).map(Received::Update),
        Method::Dfd => Received::FieldDiffs(update::parse_diffs(&mut t)?),
        Method::Eos => Received::EndOfSnapshot(item_ref(&mut t)?),
        Method::Cls => Received::ClearSnapshot(item_ref(&mut t)?),
        Method::Fal => {
            t.expect_type("E", "failure")?;
            Received::Failure {
                message: t.value("failure message")?,
            }
        }
        Method::Fst => {
            let session = t.string("session")?;
            let cause = if t.next_is("V") {
                t.raw("cause")?;
                None
            } else {
                let code = t.number("I", "cause code")?;
                Some((code, t.opt_string("cause message")?))
            };
            Received::ForceSessionTermination(ForceSessionTermination { id, session, cause })
        }
        Method::Fus => Received::ForceUnsubscription(ForceUnsubscription {
            id,
            session: t.string("session")?,
            win_index: t.number("I", "window index")?,
        }),
        _ => Received::Reply(reply::parse_reply(id, method, &mut t)?),
    };
    t.finish()?;
    Ok(received)
}

fn item_ref<'a>(t: &mut Tokens<'a>) -> Result<ItemRef<'a>, ParseError> {
    Ok(ItemRef {
        item: t.string("item")?,
        sub_id: t.string("subscription id")?,
    })
}

/// `S|<name>|S|<value>…` up to the end of the line.
fn pairs<'a>(t: &mut Tokens<'a>) -> Result<Vec<Param<'a>>, ParseError> {
    let mut out = Vec::new();
    while !t.at_end() {
        let name = t.string("parameter name")?;
        out.push((name, t.opt_string("parameter value")?));
    }
    Ok(out)
}
