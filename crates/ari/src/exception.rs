//! Exceptions in replies: `<id>|<METHOD>|E<subtype>|<message>[|extra…]`.
//!
//! The subtype letter tells which adapter exception the remote threw, which
//! decides what the client is told (for instance `EA` on `NUS` refuses the
//! session, `EC` carries a code and message meant for the client).

use std::borrow::Cow;
use std::fmt;

use crate::error::{ParseError, ParseErrorKind};
use crate::tokens::Tokens;

/// An exception a remote answered a request with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct RemoteError<'a> {
    pub kind: ErrorKind<'a>,
    /// The exception's message; `None` when the remote sent null.
    pub message: Option<Cow<'a, str>>,
}

/// The exception subtypes of ARI, with the extra data some carry.
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorKind<'a> {
    /// `E`: any other exception.
    Generic,
    /// `EM`: metadata adapter init failed (`MPI`).
    MetadataInit,
    /// `ED`: data adapter init failed (`DPI`).
    DataInit,
    /// `EF`: data adapter failure (`SUB`, `USB`).
    Failure,
    /// `EU`: subscription refused (`SUB`, `USB`).
    Subscription,
    /// `EA`: access refused (`NUS`, `NUA`).
    Access,
    /// `ER` (1.9): resource temporarily unavailable (`NUS`, `NUA`).
    ResourceUnavailable,
    /// `EC`: credits exception, with a code and message for the client.
    Credits(Credits<'a>),
    /// `EX`: conflicting session (`NNS`): a credits exception naming the
    /// session that should be closed to make room.
    ConflictingSession {
        credits: Credits<'a>,
        conflicting_session: Option<Cow<'a, str>>,
    },
    /// `EI`: items error (`GIS`, `GSC`).
    Items,
    /// `ES`: schema error (`GSC`).
    Schema,
    /// `EN`: notification refused (`NUM`, `NNS`, `NSC`, `NNT`, `NTC`).
    Notification,
}

/// The client-facing part of a credits exception.
#[derive(Debug, Clone, PartialEq)]
pub struct Credits<'a> {
    /// The code for the client; the SDKs document it as 0 or negative. A
    /// null code (Node writes `#` for a missing one) reads as 0.
    pub code: i32,
    /// The message for the client; null means none.
    pub client_message: Option<Cow<'a, str>>,
}

impl ErrorKind<'_> {
    /// The type token on the wire (`E`, `EM`, …).
    pub fn code(&self) -> &'static str {
        match self {
            ErrorKind::Generic => "E",
            ErrorKind::MetadataInit => "EM",
            ErrorKind::DataInit => "ED",
            ErrorKind::Failure => "EF",
            ErrorKind::Subscription => "EU",
            ErrorKind::Access => "EA",
            ErrorKind::ResourceUnavailable => "ER",
            ErrorKind::Credits(_) => "EC",
            ErrorKind::ConflictingSession { .. } => "EX",
            ErrorKind::Items => "EI",
            ErrorKind::Schema => "ES",
            ErrorKind::Notification => "EN",
        }
    }
}

impl fmt::Display for RemoteError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "remote exception {}", self.kind.code())?;
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        match &self.kind {
            ErrorKind::Credits(c) | ErrorKind::ConflictingSession { credits: c, .. } => {
                write!(f, " (client code {}", c.code)?;
                if let Some(m) = &c.client_message {
                    write!(f, ", {m:?}")?;
                }
                f.write_str(")")?;
            }
            _ => {}
        }
        if let ErrorKind::ConflictingSession {
            conflicting_session: Some(s),
            ..
        } = &self.kind
        {
            write!(f, " conflicting with session {s}")?;
        }
        Ok(())
    }
}

impl RemoteError<'_> {
    /// Copies the borrowed strings, to keep the error past the line.
    pub fn into_owned(self) -> RemoteError<'static> {
        let own = |c: Option<Cow<'_, str>>| c.map(|c| Cow::Owned(c.into_owned()));
        let own_credits = |c: Credits<'_>| Credits {
            code: c.code,
            client_message: own(c.client_message),
        };
        let kind = match self.kind {
            ErrorKind::Generic => ErrorKind::Generic,
            ErrorKind::MetadataInit => ErrorKind::MetadataInit,
            ErrorKind::DataInit => ErrorKind::DataInit,
            ErrorKind::Failure => ErrorKind::Failure,
            ErrorKind::Subscription => ErrorKind::Subscription,
            ErrorKind::Access => ErrorKind::Access,
            ErrorKind::ResourceUnavailable => ErrorKind::ResourceUnavailable,
            ErrorKind::Credits(c) => ErrorKind::Credits(own_credits(c)),
            ErrorKind::ConflictingSession {
                credits,
                conflicting_session,
            } => ErrorKind::ConflictingSession {
                credits: own_credits(credits),
                conflicting_session: own(conflicting_session),
            },
            ErrorKind::Items => ErrorKind::Items,
            ErrorKind::Schema => ErrorKind::Schema,
            ErrorKind::Notification => ErrorKind::Notification,
        };
        RemoteError {
            kind,
            message: own(self.message),
        }
    }
}

/// Parses what follows the method of an exception reply; `ty` is the type
/// token, already read (it starts with `E`).
pub(crate) fn parse_exception<'a>(
    ty: &'a str,
    ty_pos: usize,
    t: &mut Tokens<'a>,
) -> Result<RemoteError<'a>, ParseError> {
    let simple = |kind| Some(kind);
    let kind = match ty {
        "E" => simple(ErrorKind::Generic),
        "EM" => simple(ErrorKind::MetadataInit),
        "ED" => simple(ErrorKind::DataInit),
        "EF" => simple(ErrorKind::Failure),
        "EU" => simple(ErrorKind::Subscription),
        "EA" => simple(ErrorKind::Access),
        "ER" => simple(ErrorKind::ResourceUnavailable),
        "EI" => simple(ErrorKind::Items),
        "ES" => simple(ErrorKind::Schema),
        "EN" => simple(ErrorKind::Notification),
        "EC" | "EX" => None,
        _ => {
            return Err(t.error(ty_pos, ParseErrorKind::UnknownException(ty.to_owned())));
        }
    };
    let message = t.value("exception message")?;
    let kind = match kind {
        Some(kind) => kind,
        None => {
            let code = t.number_value("client error code")?.unwrap_or(0);
            let client_message = t.value("client error message")?;
            let credits = Credits {
                code,
                client_message,
            };
            if ty == "EC" {
                ErrorKind::Credits(credits)
            } else {
                ErrorKind::ConflictingSession {
                    credits,
                    conflicting_session: t.value("conflicting session id")?,
                }
            }
        }
    };
    Ok(RemoteError { kind, message })
}
