//! nchan and Pushpin: each WebSocket text frame is one message exactly as
//! the publisher posted it. The subscription is the WebSocket itself (its
//! URL for nchan, the origin's `subscribe` for Pushpin), so the session
//! counts as subscribed once the handshake is done.

use super::{Frame, Output, PeerError, Protocol};

#[derive(Debug, Default)]
pub struct Plain;

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
        let update = super::payload::seq_ts(text)
            .ok_or_else(|| PeerError::Unexpected(format!("message {text:?}")))?;
        out.updates.push(update);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_per_frame() {
        let mut p = Plain;
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
            [(3, 1_764_761_234_567_890), (4, 1_764_761_234_667_890)]
        );
        assert!(p.frame(Frame::Text("hello"), &mut out).is_err());
        assert!(p.frame(Frame::Binary(&[0xff, 0xfe]), &mut out).is_err());
        assert!(p.subscribed_on_open());
    }
}
