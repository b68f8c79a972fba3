//! nchan and Pushpin: each WebSocket text frame is one message exactly as
//! the publisher posted it. The subscription is the WebSocket itself (its
//! URL for nchan, the origin's `subscribe` for Pushpin), so the session
//! counts as subscribed once the handshake is done.

use super::{Frame, Output, PeerError, Protocol};

/// The channels of the connection, in the order of the session's items.
#[derive(Debug, Default)]
pub struct Plain {
    pub channels: Vec<String>,
}

impl Protocol for Plain {
    fn subscribed_on_open(&self) -> bool {
        true
    }

    fn frame(&mut self, frame: Frame<'_>, out: &mut Output) -> Result<(), PeerError> {
        let text = match frame {
            Frame::Text(t) => t,
            Frame::Binary(b) => std::str::from_utf8(b)
                .map_err(|_| PeerError::Unexpected("a binary frame that is not UTF-8".into()))?,
        };
        let bad = || PeerError::Unexpected(format!("message {text:?}"));
        let (seq, ts) = super::payload::seq_ts(text).ok_or_else(bad)?;
        let item = super::payload::item_of(text, &self.channels).ok_or_else(bad)?;
        out.updates.push((item, seq, ts));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_per_frame() {
        let mut p = Plain {
            channels: vec!["rate-10".into()],
        };
        let mut out = Output::default();
        // As nchan 1.3.6 and Pushpin 1.36 relayed the publisher's body.
        assert!(p
            .frame(Frame::Text(r#"{"seq":3,"ts":1764761234567890}"#), &mut out)
            .is_ok());
        assert!(p
            .frame(
                Frame::Binary(br#"{"seq":4,"ts":1764761234667890}"#),
                &mut out
            )
            .is_ok());
        assert_eq!(
            out.updates,
            [(0, 3, 1_764_761_234_567_890), (0, 4, 1_764_761_234_667_890)]
        );
        // Several channels on one connection: each message names its own.
        let mut p = Plain {
            channels: vec!["rate-10".into(), "rate-11".into()],
        };
        let mut out = Output::default();
        assert!(p
            .frame(Frame::Text(r#"{"seq":9,"ts":5,"ch":"rate-11"}"#), &mut out)
            .is_ok());
        assert_eq!(out.updates, [(1, 9, 5)]);
        assert!(p
            .frame(Frame::Text(r#"{"seq":9,"ts":5}"#), &mut out)
            .is_err());
        assert!(p.frame(Frame::Text("hello"), &mut out).is_err());
        assert!(p.frame(Frame::Binary(&[0xff, 0xfe]), &mut out).is_err());
        assert!(p.subscribed_on_open());
    }
}
