//! A cursor over the typed tokens of one line: `<type>|<value>|<type>|…`.
//!
//! Every accessor names what it reads (`"item"`, `"user"`…), so that an
//! error says which part of which message was wrong.

use std::borrow::Cow;
use std::iter::Peekable;
use std::str::Split;

use crate::error::{Context, ParseError, ParseErrorKind};
use crate::value::{decode_value, NULL};

#[derive(Debug, Clone)]
pub(crate) struct Tokens<'a> {
    iter: Peekable<Split<'a, char>>,
    /// Index of the next token in the line.
    pos: usize,
    pub cx: Context<'a>,
}

impl<'a> Tokens<'a> {
    /// A cursor over `rest`, whose first token is token `pos` of the line.
    pub fn new(rest: Option<&'a str>, pos: usize, cx: Context<'a>) -> Self {
        // `"".split('|')` yields one empty token; an absent tail yields none.
        let iter = rest.unwrap_or("").split('|');
        let mut tokens = Tokens {
            iter: iter.peekable(),
            pos,
            cx,
        };
        if rest.is_none() {
            tokens.iter.next();
        }
        tokens
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn error(&self, token: usize, kind: ParseErrorKind) -> ParseError {
        self.cx.error(token, kind)
    }

    /// Whether no token is left. A single empty token left is also "the
    /// end": the Node SDK writes `id|GIS|` for an empty list.
    pub fn at_end(&mut self) -> bool {
        match self.iter.peek() {
            None => true,
            Some(&"") => {
                let mut ahead = self.iter.clone();
                ahead.next();
                ahead.peek().is_none()
            }
            Some(_) => false,
        }
    }

    /// Fails unless every token was read.
    pub fn finish(mut self) -> Result<(), ParseError> {
        if self.at_end() {
            return Ok(());
        }
        let pos = self.pos;
        let found = self.iter.next().unwrap_or_default().to_owned();
        Err(self.error(pos, ParseErrorKind::Trailing(found)))
    }

    /// The next raw token.
    pub fn raw(&mut self, what: &'static str) -> Result<&'a str, ParseError> {
        match self.iter.next() {
            Some(t) => {
                self.pos += 1;
                Ok(t)
            }
            None => Err(self.error(self.pos, ParseErrorKind::Missing(what))),
        }
    }

    /// The next token, which must be the type code `ty`.
    pub fn expect_type(&mut self, ty: &'static str, what: &'static str) -> Result<(), ParseError> {
        let pos = self.pos;
        let t = self.raw(what)?;
        if t == ty {
            Ok(())
        } else {
            Err(self.error(
                pos,
                ParseErrorKind::WrongType {
                    what,
                    expected: ty,
                    found: t.to_owned(),
                },
            ))
        }
    }

    /// Peeks whether the next token is the type code `ty`.
    pub fn next_is(&mut self, ty: &str) -> bool {
        self.iter.peek() == Some(&ty)
    }

    /// `S|<value>`, possibly null.
    pub fn opt_string(&mut self, what: &'static str) -> Result<Option<Cow<'a, str>>, ParseError> {
        self.expect_type("S", what)?;
        self.value(what)
    }

    /// `S|<value>`, not null.
    pub fn string(&mut self, what: &'static str) -> Result<Cow<'a, str>, ParseError> {
        let pos = self.pos + 1;
        self.opt_string(what)?
            .ok_or_else(|| self.error(pos, ParseErrorKind::Null(what)))
    }

    /// One encoded value token (no type before it).
    pub fn value(&mut self, what: &'static str) -> Result<Option<Cow<'a, str>>, ParseError> {
        let pos = self.pos;
        let t = self.raw(what)?;
        decode_value(t).map_err(|error| self.error(pos, ParseErrorKind::Value { what, error }))
    }

    /// `<ty>|<number>`, `None` for `#`.
    pub fn opt_number<T: std::str::FromStr>(
        &mut self,
        ty: &'static str,
        what: &'static str,
    ) -> Result<Option<T>, ParseError> {
        self.expect_type(ty, what)?;
        self.number_value(what)
    }

    /// A number token (no type before it), `None` for `#`.
    pub fn number_value<T: std::str::FromStr>(
        &mut self,
        what: &'static str,
    ) -> Result<Option<T>, ParseError> {
        let pos = self.pos;
        let t = self.raw(what)?;
        if t == NULL {
            return Ok(None);
        }
        t.parse().map(Some).map_err(|_| {
            self.error(
                pos,
                ParseErrorKind::BadNumber {
                    what,
                    found: t.to_owned(),
                },
            )
        })
    }

    /// `<ty>|<number>`, not null.
    pub fn number<T: std::str::FromStr>(
        &mut self,
        ty: &'static str,
        what: &'static str,
    ) -> Result<T, ParseError> {
        let pos = self.pos + 1;
        self.opt_number(ty, what)?
            .ok_or_else(|| self.error(pos, ParseErrorKind::Null(what)))
    }

    /// `B|1` or `B|0`.
    pub fn boolean(&mut self, what: &'static str) -> Result<bool, ParseError> {
        self.expect_type("B", what)?;
        let pos = self.pos;
        match self.raw(what)? {
            "1" => Ok(true),
            "0" => Ok(false),
            t => Err(self.error(
                pos,
                ParseErrorKind::BadBoolean {
                    what,
                    found: t.to_owned(),
                },
            )),
        }
    }
}
