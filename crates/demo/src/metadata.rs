//! The metadata provider of `DEMO`: open to everyone, names are lists, and
//! client messages drive the chat and the portfolio.

use std::sync::Arc;

use shoal_adapter::{ready, AdapterError, BoxFuture, Login, MetadataProvider, SessionInfo};

use crate::chat::ChatRoom;
use crate::portfolio::{OrderError, Portfolio, Side};

/// At most this much of an unknown message is echoed in the error.
const ECHO_LIMIT: usize = 40;

/// Why a client message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MessageError {
    #[error(
        "unknown message '{0}': expected CHAT|<text>, BUY|<portfolio>|<stock>|<qty> \
         or SELL|<portfolio>|<stock>|<qty>"
    )]
    Unknown(String),
    #[error("malformed {kind} message: expected {kind}|<portfolio>|<stock>|<qty>")]
    Malformed { kind: &'static str },
    #[error("bad quantity '{0}': expected a positive integer")]
    BadQuantity(String),
    #[error("empty chat message")]
    EmptyChat,
    #[error(transparent)]
    Order(#[from] OrderError),
}

impl MessageError {
    /// Adapter codes are non-positive: -1 for a refused order, -2 for a
    /// message the demo does not know, -3 for an empty chat message.
    fn code(&self) -> i32 {
        match self {
            Self::Unknown(_) => -2,
            Self::EmptyChat => -3,
            Self::Malformed { .. } | Self::BadQuantity(_) | Self::Order(_) => -1,
        }
    }
}

impl From<MessageError> for AdapterError {
    fn from(err: MessageError) -> Self {
        AdapterError::new(err.code(), err.to_string())
    }
}

pub(crate) struct DemoMetadata {
    chat: Arc<ChatRoom>,
    portfolio: Arc<Portfolio>,
}

impl DemoMetadata {
    pub(crate) fn new(chat: Arc<ChatRoom>, portfolio: Arc<Portfolio>) -> Self {
        Self { chat, portfolio }
    }

    fn handle_message(&self, session: &SessionInfo, message: &str) -> Result<(), MessageError> {
        let (kind, rest) = message.split_once('|').unwrap_or((message, ""));
        match kind {
            // The text is everything after the first bar, bars included.
            "CHAT" => {
                if rest.trim().is_empty() {
                    return Err(MessageError::EmptyChat);
                }
                // Nobody listening is not an error: the message is just lost.
                self.chat.post(session, rest);
                Ok(())
            }
            "BUY" => self.order(Side::Buy, "BUY", rest),
            "SELL" => self.order(Side::Sell, "SELL", rest),
            _ => Err(MessageError::Unknown(echo(message))),
        }
    }

    fn order(&self, side: Side, kind: &'static str, args: &str) -> Result<(), MessageError> {
        let mut parts = args.split('|');
        let (Some(portfolio), Some(stock), Some(qty), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(MessageError::Malformed { kind });
        };
        let qty = parse_quantity(qty)?;
        self.portfolio.order(portfolio, side, stock, qty)?;
        Ok(())
    }
}

/// A positive decimal integer: digits only (no sign, no spaces), not zero.
fn parse_quantity(text: &str) -> Result<u64, MessageError> {
    let bad = || MessageError::BadQuantity(echo(text));
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match text.parse::<u64>() {
        Ok(0) | Err(_) => Err(bad()),
        Ok(qty) => Ok(qty),
    }
}

/// `text` shortened for an error message, on a character boundary.
fn echo(text: &str) -> String {
    match text.char_indices().nth(ECHO_LIMIT) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

impl MetadataProvider for DemoMetadata {
    fn notify_user<'a>(&'a self, _login: &'a Login) -> BoxFuture<'a, Result<(), AdapterError>> {
        // A demo: everyone is welcome, with or without credentials.
        ready(Ok(()))
    }

    fn notify_user_message<'a>(
        &'a self,
        session: &'a SessionInfo,
        message: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, AdapterError>> {
        Box::pin(async move {
            // A client that trades or chats faster than the events go out
            // waits here, and its connection with it.
            match message.split_once('|').map(|(kind, _)| kind) {
                Some("CHAT") => self.chat.room().await,
                Some("BUY" | "SELL") => self.portfolio.room().await,
                _ => {}
            }
            self.handle_message(session, message)
                .map(|()| None)
                .map_err(AdapterError::from)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("1"), Ok(1));
        assert_eq!(parse_quantity("007"), Ok(7));
        for bad in [
            "0",
            "",
            "-1",
            "+1",
            "1.5",
            " 1",
            "x",
            "99999999999999999999999",
        ] {
            assert!(
                matches!(parse_quantity(bad), Err(MessageError::BadQuantity(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn echo_is_bounded() {
        assert_eq!(echo("short"), "short");
        let long = "é".repeat(100);
        assert_eq!(echo(&long), format!("{}...", "é".repeat(ECHO_LIMIT)));
    }
}
