//! Answers of a remote Metadata Adapter, and what the client sees when a
//! call fails.

use shoal_adapter::{AdapterError, ItemData, ModeSet};
use shoal_ari::{ErrorKind, Method, RemoteError, ReplyBody, SessionReply, TablesReply, UserReply};
use shoal_protocol::code;

/// An answer, kept past the line it was read from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    Void,
    User(UserReply),
    Names(Vec<String>),
    ItemData(Vec<shoal_ari::ItemData>),
    UserItemData(Vec<shoal_ari::UserItemData>),
    Session(SessionReply),
    Tables(TablesReply),
    /// An init answer where none is expected.
    Init,
}

impl From<ReplyBody<'_>> for Answer {
    fn from(body: ReplyBody<'_>) -> Self {
        let own =
            |v: Vec<std::borrow::Cow<'_, str>>| v.into_iter().map(|s| s.into_owned()).collect();
        match body {
            ReplyBody::Init(_) => Answer::Init,
            ReplyBody::Void => Answer::Void,
            ReplyBody::User(u) => Answer::User(u),
            ReplyBody::Items(items) => Answer::Names(own(items)),
            ReplyBody::Fields(fields) => Answer::Names(own(fields)),
            ReplyBody::ItemData(d) => Answer::ItemData(d),
            ReplyBody::UserItemData(d) => Answer::UserItemData(d),
            ReplyBody::Session(s) => Answer::Session(s),
            ReplyBody::Tables(t) => Answer::Tables(t),
        }
    }
}

/// Why a call got no answer to use.
#[derive(Debug)]
pub(crate) enum Call {
    /// No remote is connected (or it was lost while the call waited).
    Unavailable,
    /// No answer within `timeout`.
    Timeout,
    /// The remote answered with an exception.
    Refused(RemoteError<'static>),
}

/// What the client is told when call `method` fails: the adapter's own
/// code for credits exceptions, the TLCP code of the refusal for access,
/// items and schema exceptions, and 66 ("an unexpected exception was
/// thrown by the Metadata Adapter") for anything else.
pub(crate) fn refusal(method: Method, call: Call) -> AdapterError {
    let e = match call {
        Call::Unavailable => {
            return AdapterError::new(
                code::ADAPTER_EXCEPTION,
                "the remote metadata adapter is not available",
            )
        }
        Call::Timeout => {
            return AdapterError::new(
                code::ADAPTER_EXCEPTION,
                "the remote metadata adapter did not answer in time",
            )
        }
        Call::Refused(e) => e,
    };
    let message = e.message.as_deref().unwrap_or("").to_owned();
    match (&e.kind, method) {
        (ErrorKind::Credits(c) | ErrorKind::ConflictingSession { credits: c, .. }, _) => {
            let shown = c.client_message.as_deref().unwrap_or("").to_owned();
            AdapterError::new(c.code, shown)
        }
        (ErrorKind::Access, Method::Nus | Method::Nua) => {
            AdapterError::new(code::CREDENTIALS_REFUSED, message)
        }
        (ErrorKind::Items, Method::Gis | Method::Gsc) => {
            AdapterError::new(code::BAD_GROUP, message)
        }
        (ErrorKind::Schema, Method::Gsc) => AdapterError::new(code::BAD_SCHEMA, message),
        _ => {
            tracing::warn!(
                method = method.as_str(),
                "the remote metadata adapter failed: {e}"
            );
            AdapterError::new(code::ADAPTER_EXCEPTION, message)
        }
    }
}

/// An answer of the wrong kind for `method`.
pub(crate) fn unexpected(method: Method, answer: &Answer) -> AdapterError {
    tracing::warn!(
        method = method.as_str(),
        "the remote metadata adapter answered {answer:?}"
    );
    AdapterError::new(
        code::ADAPTER_EXCEPTION,
        "the remote metadata adapter gave an unexpected answer",
    )
}

fn modes(m: shoal_ari::Modes) -> ModeSet {
    use shoal_adapter::Mode as A;
    use shoal_ari::Mode as W;
    [
        (W::Raw, A::Raw),
        (W::Merge, A::Merge),
        (W::Distinct, A::Distinct),
        (W::Command, A::Command),
    ]
    .into_iter()
    .filter(|(w, _)| m.contains(*w))
    .map(|(_, a)| a)
    .collect()
}

/// Joins the item data (`GIT`) and the user's item data (`GUI`) of `n`
/// items: a mode is allowed when both allow it. Zero frequencies and
/// buffer sizes mean "no limit", as the SDKs' defaults say.
pub(crate) fn item_data(git: Answer, gui: Answer, n: usize) -> Result<Vec<ItemData>, AdapterError> {
    let (Answer::ItemData(items), Answer::UserItemData(users)) = (&git, &gui) else {
        return Err(unexpected(Method::Git, &git));
    };
    if items.len() != n || users.len() != n {
        return Err(AdapterError::new(
            code::ADAPTER_EXCEPTION,
            format!(
                "the remote metadata adapter gave item data for {} and {} items, not {n}",
                items.len(),
                users.len()
            ),
        ));
    }
    let positive = |f: Option<f64>| f.filter(|f| *f > 0.0);
    Ok(items
        .iter()
        .zip(users)
        .map(|(i, u)| {
            let both: ModeSet = [
                shoal_adapter::Mode::Raw,
                shoal_adapter::Mode::Merge,
                shoal_adapter::Mode::Distinct,
                shoal_adapter::Mode::Command,
            ]
            .into_iter()
            .filter(|m| modes(i.allowed_modes).contains(*m) && modes(u.allowed_modes).contains(*m))
            .collect();
            ItemData {
                allowed_modes: both,
                max_frequency: positive(u.allowed_max_frequency),
                max_buffer_size: u
                    .allowed_buffer_size
                    .and_then(|b| u64::try_from(b).ok())
                    .filter(|b| *b > 0),
                // 0 is a real answer: no DISTINCT snapshot for the item.
                distinct_snapshot_length: i
                    .distinct_snapshot_length
                    .and_then(|l| u64::try_from(l).ok()),
            }
        })
        .collect())
}
