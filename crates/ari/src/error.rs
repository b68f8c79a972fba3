//! Errors of reading a line sent by a remote.

use std::fmt;

use crate::method::Method;
use crate::value::ValueError;

/// A line from the remote that does not parse.
///
/// It carries the line's id and method when they could be read, so that a
/// malformed *reply* can still fail the request it answers, and the
/// 0-based position of the offending `|`-separated token (the id is token
/// 0, the method token 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// The first token of the line, when there was one.
    pub id: Option<String>,
    /// The method, when it was known.
    pub method: Option<Method>,
    /// Index of the token at fault.
    pub token: usize,
    pub kind: ParseErrorKind,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ARI line")?;
        match (&self.method, &self.id) {
            (Some(m), Some(id)) => write!(f, " {m} (id {id:?})")?,
            (None, Some(id)) => write!(f, " (id {id:?})")?,
            (Some(m), None) => write!(f, " {m}")?,
            (None, None) => {}
        }
        write!(f, ", token {}: {}", self.token, self.kind)
    }
}

/// What is wrong with a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// The line has no method (only `KEEPALIVE` may stand alone).
    #[error("no method")]
    NoMethod,
    #[error("unknown method {0:?}")]
    UnknownMethod(String),
    /// A method the proxy sends but a remote never does (`CLOSE`).
    #[error("{0} is not sent by a remote")]
    NotFromRemote(Method),
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("expected type {expected} for {what}, found {found:?}")]
    WrongType {
        what: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error("{what}: {error}")]
    Value {
        what: &'static str,
        error: ValueError,
    },
    #[error("{0} is null")]
    Null(&'static str),
    #[error("{what} is not a number: {found:?}")]
    BadNumber { what: &'static str, found: String },
    #[error("{what} is not a boolean (1 or 0): {found:?}")]
    BadBoolean { what: &'static str, found: String },
    #[error("unknown mode letter {0:?}")]
    BadMode(String),
    #[error("unknown diff algorithm {0:?}")]
    BadAlgorithm(String),
    #[error("unknown exception type {0:?}")]
    UnknownException(String),
    #[error("unexpected token {0:?} after the end of the message")]
    Trailing(String),
}

/// Builds [`ParseError`]s with the line's context.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    pub id: &'a str,
    pub method: Option<Method>,
}

impl Context<'_> {
    pub fn error(&self, token: usize, kind: ParseErrorKind) -> ParseError {
        ParseError {
            id: Some(self.id.to_owned()),
            method: self.method,
            token,
            kind,
        }
    }
}
