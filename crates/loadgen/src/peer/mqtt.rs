//! MQTT 3.1.1 over WebSocket (subprotocol `mqtt`, binary frames): CONNECT
//! with a clean session, SUBSCRIBE to the topics (one packet, one filter
//! per topic) at QoS 0 once CONNACK accepts, then PUBLISH packets whose payload is the publisher's message.
//! A WebSocket frame may hold several packets or a part of one: bytes are
//! buffered until a packet is whole.

use super::{Frame, Output, PeerError, Protocol};
use tokio_tungstenite::tungstenite::Message;

/// Keep-alive asked in CONNECT: 0 turns the broker's timeout off (the
/// client sends nothing once subscribed).
const KEEP_ALIVE_S: u16 = 0;
/// Packet identifier of the one SUBSCRIBE.
const SUBSCRIBE_ID: u16 = 1;

#[derive(Debug)]
pub struct Mqtt {
    client_id: String,
    topics: Vec<String>,
    buffer: Vec<u8>,
    connected: bool,
}

impl Mqtt {
    pub fn new(client_id: String, topics: &[String]) -> Self {
        Self {
            client_id,
            topics: topics.to_vec(),
            buffer: Vec::new(),
            connected: false,
        }
    }

    /// CONNECT: protocol `MQTT` level 4, clean session, no will, no login.
    pub fn connect_packet(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(12 + self.client_id.len());
        put_string(&mut body, "MQTT");
        body.push(4);
        body.push(0x02);
        body.extend_from_slice(&KEEP_ALIVE_S.to_be_bytes());
        put_string(&mut body, &self.client_id);
        packet(0x10, &body)
    }

    /// SUBSCRIBE every topic at QoS 0.
    pub fn subscribe_packet(&self) -> Vec<u8> {
        let mut body =
            Vec::with_capacity(2 + self.topics.iter().map(|t| 3 + t.len()).sum::<usize>());
        body.extend_from_slice(&SUBSCRIBE_ID.to_be_bytes());
        for topic in &self.topics {
            put_string(&mut body, topic);
            body.push(0);
        }
        packet(0x82, &body)
    }

    fn handle(&mut self, kind: u8, body: &[u8], out: &mut Output) -> Result<(), PeerError> {
        let bad = |what: &str| PeerError::Unexpected(format!("MQTT {what} packet {body:02x?}"));
        match kind >> 4 {
            // CONNACK: session present, return code.
            2 => match body {
                [_, 0] if !self.connected => {
                    self.connected = true;
                    out.replies.push(Message::binary(self.subscribe_packet()));
                }
                [_, code] => return Err(PeerError::Refused(format!("CONNACK return code {code}"))),
                _ => return Err(bad("CONNACK")),
            },
            // PUBLISH: topic, packet id if QoS > 0, payload.
            3 => {
                let qos = (kind >> 1) & 3;
                let [hi, lo, rest @ ..] = body else {
                    return Err(bad("PUBLISH"));
                };
                let topic_len = usize::from(u16::from_be_bytes([*hi, *lo]));
                let topic = rest.get(..topic_len).ok_or_else(|| bad("PUBLISH"))?;
                let item = self
                    .topics
                    .iter()
                    .position(|t| t.as_bytes() == topic)
                    .ok_or_else(|| bad("PUBLISH to a topic not subscribed"))?;
                let skip = topic_len + if qos > 0 { 2 } else { 0 };
                let payload = rest.get(skip..).ok_or_else(|| bad("PUBLISH"))?;
                let text = std::str::from_utf8(payload).map_err(|_| bad("PUBLISH"))?;
                let (seq, ts) = super::payload::seq_ts(text).ok_or_else(|| bad("PUBLISH"))?;
                out.updates.push((item, seq, ts));
            }
            // SUBACK: packet id, one return code per topic (0x80: refused).
            9 => match body {
                [_, _, codes @ ..] if codes.len() == self.topics.len() => {
                    if codes.contains(&0x80) {
                        return Err(PeerError::Refused("SUBACK refused a topic".into()));
                    }
                    out.subscribed = true;
                }
                _ => return Err(bad("SUBACK")),
            },
            // PINGRESP.
            13 => {}
            _ => return Err(bad("unexpected")),
        }
        Ok(())
    }
}

impl Protocol for Mqtt {
    fn subprotocol(&self) -> Option<&'static str> {
        Some("mqtt")
    }

    fn hello(&mut self) -> Vec<Message> {
        vec![Message::binary(self.connect_packet())]
    }

    fn frame(&mut self, frame: Frame<'_>, out: &mut Output) -> Result<(), PeerError> {
        let Frame::Binary(bytes) = frame else {
            return Err(PeerError::Unexpected(
                "a text frame from the MQTT broker".into(),
            ));
        };
        self.buffer.extend_from_slice(bytes);
        let mut at = 0;
        while let Some((kind, start, end)) = whole_packet(&self.buffer[at..])? {
            let (start, end) = (at + start, at + end);
            let body = self.buffer[start..end].to_vec();
            self.handle(kind, &body, out)?;
            at = end;
        }
        self.buffer.drain(..at);
        Ok(())
    }

    fn goodbye(&mut self) -> Option<Message> {
        self.connected.then(|| Message::binary(vec![0xe0, 0]))
    }
}

/// The first packet of `bytes` if it is whole: its first byte, and where its
/// body starts and ends.
fn whole_packet(bytes: &[u8]) -> Result<Option<(u8, usize, usize)>, PeerError> {
    let Some(&kind) = bytes.first() else {
        return Ok(None);
    };
    let mut length = 0usize;
    for i in 0..4 {
        let Some(&b) = bytes.get(1 + i) else {
            return Ok(None);
        };
        length |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let start = 2 + i;
            let end = start + length;
            return Ok((bytes.len() >= end).then_some((kind, start, end)));
        }
    }
    Err(PeerError::Unexpected(
        "an MQTT remaining length over 4 bytes".into(),
    ))
}

fn put_string(buf: &mut Vec<u8>, s: &str) {
    // Client ids and topics here are short; longer would not fit MQTT.
    let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(&s.as_bytes()[..usize::from(len)]);
}

/// A packet: first byte, remaining length (variable-length integer), body.
fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 5);
    out.push(first);
    let mut len = body.len();
    loop {
        let digit = (len % 128) as u8;
        len /= 128;
        out.push(if len > 0 { digit | 0x80 } else { digit });
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(p: &mut Mqtt, bytes: &[u8]) -> Result<Output, PeerError> {
        let mut out = Output::default();
        p.frame(Frame::Binary(bytes), &mut out).map(|()| out)
    }

    #[test]
    fn packets_sent() {
        let p = Mqtt::new("load-7".into(), &["rate-10".to_owned()]);
        assert_eq!(
            p.connect_packet(),
            b"\x10\x12\x00\x04MQTT\x04\x02\x00\x00\x00\x06load-7".to_vec()
        );
        assert_eq!(
            p.subscribe_packet(),
            b"\x82\x0c\x00\x01\x00\x07rate-10\x00".to_vec()
        );
        assert_eq!(packet(0x30, &[0; 200])[..3], [0x30, 0xc8, 0x01]);
    }

    #[test]
    fn several_topics() {
        let topics = ["rate-10".to_owned(), "rate-11".to_owned()];
        let mut p = Mqtt::new("c".into(), &topics);
        assert_eq!(
            p.subscribe_packet(),
            b"\x82\x16\x00\x01\x00\x07rate-10\x00\x00\x07rate-11\x00".to_vec()
        );
        assert!(feed(&mut p, &[0x20, 0x02, 0x00, 0x00]).is_ok());
        // One return code per topic, or it is not our SUBACK.
        assert!(feed(&mut p, &[0x90, 0x03, 0x00, 0x01, 0x00]).is_err());
        let mut p = Mqtt::new("c".into(), &topics);
        let out = feed(&mut p, &[0x90, 0x04, 0x00, 0x01, 0x00, 0x00]).unwrap_or_default();
        assert!(out.subscribed);
        let mut publish = b"\x30\x19\x00\x07rate-11".to_vec();
        publish.extend_from_slice(br#"{"seq":5,"ts":6}"#);
        let out = feed(&mut p, &publish).unwrap_or_default();
        assert_eq!(out.updates, [(1, 5, 6)]);
        let mut other = b"\x30\x19\x00\x07rate-12".to_vec();
        other.extend_from_slice(br#"{"seq":5,"ts":6}"#);
        assert!(feed(&mut p, &other).is_err());
    }

    #[test]
    fn connack_suback_and_publishes() {
        // Frames as Mosquitto 2.0.11 sent them in a run.
        let mut p = Mqtt::new("load-0".into(), &["rate-10".to_owned()]);
        let out = feed(&mut p, &[0x20, 0x02, 0x00, 0x00]).unwrap_or_default();
        assert_eq!(out.replies.len(), 1);
        let out = feed(&mut p, &[0x90, 0x03, 0x00, 0x01, 0x00]).unwrap_or_default();
        assert!(out.subscribed);
        let mut publish = b"\x30\x29\x00\x07rate-10".to_vec();
        publish.extend_from_slice(br#"{"seq":12,"ts":1764761234567890}"#);
        assert_eq!(publish.len(), 2 + 0x29);
        // Two packets in one frame, then one cut across two frames.
        let mut two = publish.clone();
        two.extend_from_slice(&publish);
        let out = feed(&mut p, &two).unwrap_or_default();
        assert_eq!(out.updates, [(0, 12, 1_764_761_234_567_890); 2]);
        let out = feed(&mut p, &publish[..10]).unwrap_or_default();
        assert!(out.updates.is_empty());
        let out = feed(&mut p, &publish[10..]).unwrap_or_default();
        assert_eq!(out.updates.len(), 1);
        assert!(p.buffer.is_empty());
        // QoS 1 carries a packet id before the payload.
        let mut qos1 = b"\x32\x2b\x00\x07rate-10\x00\x05".to_vec();
        qos1.extend_from_slice(br#"{"seq":13,"ts":1764761234667890}"#);
        let out = feed(&mut p, &qos1).unwrap_or_default();
        assert_eq!(out.updates, [(0, 13, 1_764_761_234_667_890)]);
        assert!(feed(&mut p, &[0xd0, 0x00]).is_ok());
        assert_eq!(
            p.goodbye().map(|m| m.into_data().to_vec()),
            Some(vec![0xe0, 0])
        );
    }

    #[test]
    fn refusals_and_nonsense() {
        let mut p = Mqtt::new("x".into(), &["t".to_owned()]);
        assert!(matches!(
            feed(&mut p, &[0x20, 0x02, 0x00, 0x05]),
            Err(PeerError::Refused(_))
        ));
        let mut p = Mqtt::new("x".into(), &["t".to_owned()]);
        assert!(matches!(
            feed(&mut p, &[0x90, 0x03, 0x00, 0x01, 0x80]),
            Err(PeerError::Refused(_))
        ));
        let mut p = Mqtt::new("x".into(), &["t".to_owned()]);
        assert!(feed(&mut p, &[0x30, 0x03, 0x00, 0x09, 0x41]).is_err());
        let mut p = Mqtt::new("x".into(), &["t".to_owned()]);
        assert!(feed(&mut p, &[0x30, 0xff, 0xff, 0xff, 0xff, 0x01]).is_err());
        let mut out = Output::default();
        assert!(p.frame(Frame::Text("hi"), &mut out).is_err());
    }
}
