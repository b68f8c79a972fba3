//! Socket.IO 5 over Engine.IO 4, WebSocket transport only: the client waits
//! for the open packet `0{...}`, connects the main namespace with `40`,
//! emits `subscribe` with each channel once the server's `40{...}` comes
//! (the server joins the room and answers `subscribed`), and from then on
//! reads `update` events; the server's pings `2` are answered `3`.

use super::{Frame, Output, PeerError, Protocol};
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug)]
pub struct SocketIo {
    channels: Vec<String>,
    opened: bool,
    connected: bool,
    /// `subscribed` answers received: one per channel.
    acks: usize,
}

impl SocketIo {
    pub fn new(channels: &[String]) -> Self {
        Self {
            channels: channels.to_vec(),
            opened: false,
            connected: false,
            acks: 0,
        }
    }

    fn packet(&mut self, text: &str, out: &mut Output) -> Result<(), PeerError> {
        let bad = || PeerError::Unexpected(format!("Socket.IO packet {text:?}"));
        let (kind, rest) = text.split_at_checked(1).ok_or_else(bad)?;
        match kind {
            // Engine.IO open: the handshake, sid and ping settings.
            "0" if !self.opened => {
                self.opened = true;
                out.replies.push(Message::text("40"));
            }
            // Engine.IO ping: answered at once.
            "2" => out.replies.push(Message::text(format!("3{rest}"))),
            // Engine.IO close.
            "1" => return Err(PeerError::Closed("Engine.IO close packet".into())),
            // Engine.IO noop.
            "6" => {}
            // Engine.IO message: a Socket.IO packet.
            "4" => self.socket_io(rest, out)?,
            _ => return Err(bad()),
        }
        Ok(())
    }

    fn socket_io(&mut self, text: &str, out: &mut Output) -> Result<(), PeerError> {
        let bad = || PeerError::Unexpected(format!("Socket.IO packet 4{text:?}"));
        let (kind, rest) = text.split_at_checked(1).ok_or_else(bad)?;
        match kind {
            // CONNECT accepted: `0{"sid":"..."}`.
            "0" if !self.connected => {
                self.connected = true;
                for channel in &self.channels {
                    let channel = serde_json::to_string(channel)
                        .map_err(|e| PeerError::Unexpected(e.to_string()))?;
                    out.replies
                        .push(Message::text(format!("42[\"subscribe\",{channel}]")));
                }
            }
            // EVENT: `2["name",...]`.
            "2" => {
                if let Some(body) = rest.strip_prefix("[\"update\",") {
                    let (seq, ts) = super::payload::seq_ts(body).ok_or_else(bad)?;
                    let item = super::payload::item_of(body, &self.channels).ok_or_else(bad)?;
                    out.updates.push((item, seq, ts));
                } else if rest.starts_with("[\"subscribed\"") {
                    self.acks += 1;
                    out.subscribed = self.acks == self.channels.len();
                } else {
                    return Err(bad());
                }
            }
            "1" => return Err(PeerError::Closed("Socket.IO disconnect".into())),
            "4" => {
                return Err(PeerError::Refused(format!(
                    "Socket.IO connect error {rest}"
                )))
            }
            _ => return Err(bad()),
        }
        Ok(())
    }
}

impl Protocol for SocketIo {
    fn frame(&mut self, frame: Frame<'_>, out: &mut Output) -> Result<(), PeerError> {
        match frame {
            Frame::Text(t) => self.packet(t, out),
            Frame::Binary(_) => Err(PeerError::Unexpected(
                "a binary frame from the Socket.IO server".into(),
            )),
        }
    }

    fn goodbye(&mut self) -> Option<Message> {
        self.connected.then(|| Message::text("41"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(p: &mut SocketIo, text: &str) -> Result<Output, PeerError> {
        let mut out = Output::default();
        p.frame(Frame::Text(text), &mut out).map(|()| out)
    }

    fn texts(out: &Output) -> Vec<String> {
        out.replies
            .iter()
            .map(|m| m.to_text().unwrap_or_default().to_owned())
            .collect()
    }

    #[test]
    fn handshake_subscribe_and_updates() {
        // Frames as socket.io 4.8.1 sent them in a run.
        let mut p = SocketIo::new(&["rate-10".to_owned()]);
        let out = feed(
            &mut p,
            r#"0{"sid":"Lw2yQeuP0gkmCbR9AAAB","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
        )
        .unwrap_or_default();
        assert_eq!(texts(&out), ["40"]);
        let out = feed(&mut p, r#"40{"sid":"ZQs8Wj0e6Yx4Pq0cAAAC"}"#).unwrap_or_default();
        assert_eq!(texts(&out), [r#"42["subscribe","rate-10"]"#]);
        let out = feed(&mut p, r#"42["subscribed","rate-10"]"#).unwrap_or_default();
        assert!(out.subscribed);
        let out =
            feed(&mut p, r#"42["update",{"seq":57,"ts":1764761234567890}]"#).unwrap_or_default();
        assert_eq!(out.updates, [(0, 57, 1_764_761_234_567_890)]);
        let out = feed(&mut p, "2").unwrap_or_default();
        assert_eq!(texts(&out), ["3"]);
        assert_eq!(
            p.goodbye()
                .map(|m| m.into_text().unwrap_or_default().to_string()),
            Some("41".into())
        );
    }

    #[test]
    fn several_rooms() {
        let mut p = SocketIo::new(&["rate-10".to_owned(), "rate-11".to_owned()]);
        assert!(feed(&mut p, r#"0{"sid":"a"}"#).is_ok());
        let out = feed(&mut p, r#"40{"sid":"b"}"#).unwrap_or_default();
        assert_eq!(
            texts(&out),
            [
                r#"42["subscribe","rate-10"]"#,
                r#"42["subscribe","rate-11"]"#
            ]
        );
        let out = feed(&mut p, r#"42["subscribed","rate-10"]"#).unwrap_or_default();
        assert!(!out.subscribed);
        let out = feed(&mut p, r#"42["subscribed","rate-11"]"#).unwrap_or_default();
        assert!(out.subscribed);
        let out =
            feed(&mut p, r#"42["update",{"seq":3,"ts":4,"ch":"rate-11"}]"#).unwrap_or_default();
        assert_eq!(out.updates, [(1, 3, 4)]);
        assert!(feed(&mut p, r#"42["update",{"seq":3,"ts":4}]"#).is_err());
    }

    #[test]
    fn refusals_and_nonsense() {
        let mut p = SocketIo::new(&["rate-10".to_owned()]);
        assert!(matches!(
            feed(&mut p, r#"44{"message":"nope"}"#),
            Err(PeerError::Refused(_))
        ));
        assert!(matches!(feed(&mut p, "41"), Err(PeerError::Closed(_))));
        assert!(matches!(feed(&mut p, "1"), Err(PeerError::Closed(_))));
        assert!(feed(&mut p, r#"42["update",{"seq":"x"}]"#).is_err());
        assert!(feed(&mut p, r#"42["other",1]"#).is_err());
        assert!(feed(&mut p, "").is_err());
        assert!(feed(&mut p, "9").is_err());
        let mut out = Output::default();
        assert!(p.frame(Frame::Binary(&[1, 2]), &mut out).is_err());
    }
}
