//! Client frames to messages.

use crate::{close, Opcode, MAX_CONTROL_PAYLOAD};

/// A whole message from the client (fragments joined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Text(String),
    Binary(Vec<u8>),
    /// To be answered with a pong carrying the same payload.
    Ping(Vec<u8>),
    Pong,
    /// The client closes: its code and reason, if it gave them.
    Close(Option<(u16, String)>),
}

/// Why the connection must be closed; [`Error::code`] is the close code
/// to send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    #[error("a text message is not valid UTF-8")]
    InvalidUtf8,
    #[error("a message of {size} bytes or more is over the limit of {limit} bytes")]
    TooBig { size: u64, limit: usize },
}

impl Error {
    pub fn code(&self) -> u16 {
        match self {
            Error::Protocol(_) => close::PROTOCOL_ERROR,
            Error::InvalidUtf8 => close::INVALID_DATA,
            Error::TooBig { .. } => close::TOO_BIG,
        }
    }
}

/// Decodes the frames a client sends. Bytes read from the socket go into
/// [`Decoder::buffer`]; [`Decoder::decode`] then returns the messages they
/// complete, one at a time. The buffer is given back to the allocator when
/// everything in it is decoded, so a silent client costs no buffer.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Bytes of `buf` already decoded.
    at: usize,
    max_message: usize,
    /// The message being received in fragments: its opcode and payload.
    partial: Option<(Opcode, Vec<u8>)>,
    /// A close frame was decoded: nothing after it counts.
    closed: bool,
}

/// A frame's header, decoded.
struct Header {
    fin: bool,
    opcode: Opcode,
    mask: [u8; 4],
    /// Bytes of the header.
    len: usize,
    payload: usize,
}

impl Decoder {
    /// A decoder refusing messages over `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        Self {
            buf: Vec::new(),
            at: 0,
            max_message,
            partial: None,
            closed: false,
        }
    }

    /// Where bytes read from the socket go (appended).
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// The next whole message, `Ok(None)` when more bytes are needed.
    /// After an error or a close, nothing more is decoded.
    pub fn decode(&mut self) -> Result<Option<Message>, Error> {
        loop {
            if self.closed {
                return Ok(None);
            }
            let Some(h) = self.header()? else {
                self.compact();
                return Ok(None);
            };
            let start = self.at + h.len;
            let Some(payload) = self.buf.get_mut(start..start + h.payload) else {
                self.compact();
                return Ok(None);
            };
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= h.mask[i % 4];
            }
            let payload = payload.to_vec();
            self.at = start + h.payload;
            if let Some(msg) = self.frame(h, payload)? {
                if matches!(msg, Message::Close(_)) {
                    self.closed = true;
                    self.buf = Vec::new();
                    self.at = 0;
                }
                return Ok(Some(msg));
            }
        }
    }

    /// Drops decoded bytes; frees the buffer when nothing is left in it.
    fn compact(&mut self) {
        if self.at == self.buf.len() {
            self.buf = Vec::new();
        } else if self.at > 0 {
            self.buf.drain(..self.at);
        }
        self.at = 0;
    }

    /// The header of the frame at `self.at`, once all of it is buffered.
    fn header(&mut self) -> Result<Option<Header>, Error> {
        let b = self.buf.get(self.at..).unwrap_or_default();
        let (Some(&b0), Some(&b1)) = (b.first(), b.get(1)) else {
            return Ok(None);
        };
        if b0 & 0x70 != 0 {
            return Err(Error::Protocol(
                "reserved bits set (no extension was negotiated)",
            ));
        }
        let opcode = Opcode::from_bits(b0 & 0x0f).ok_or(Error::Protocol("reserved opcode"))?;
        let fin = b0 & 0x80 != 0;
        if b1 & 0x80 == 0 {
            return Err(Error::Protocol("client frames must be masked"));
        }
        let (payload, mut len) = match b1 & 0x7f {
            126 => match b.get(2..4) {
                Some(n) => (u64::from(u16::from_be_bytes([n[0], n[1]])), 4),
                None => return Ok(None),
            },
            127 => match b.get(2..10).and_then(|n| <[u8; 8]>::try_from(n).ok()) {
                Some(n) => (u64::from_be_bytes(n), 10),
                None => return Ok(None),
            },
            n => (u64::from(n), 2),
        };
        if opcode.is_control() && (!fin || payload > MAX_CONTROL_PAYLOAD as u64) {
            return Err(Error::Protocol(
                "control frames must be final and carry at most 125 bytes",
            ));
        }
        let so_far = self.partial.as_ref().map_or(0, |(_, p)| p.len() as u64);
        if so_far.saturating_add(payload) > self.max_message as u64 {
            return Err(Error::TooBig {
                size: so_far.saturating_add(payload),
                limit: self.max_message,
            });
        }
        let Some(mask) = b
            .get(len..len + 4)
            .and_then(|m| <[u8; 4]>::try_from(m).ok())
        else {
            return Ok(None);
        };
        len += 4;
        Ok(Some(Header {
            fin,
            opcode,
            mask,
            len,
            // At most `max_message`, a usize: the cast cannot truncate.
            payload: payload as usize,
        }))
    }

    /// A frame's contribution: a message, or nothing yet (a fragment).
    fn frame(&mut self, h: Header, payload: Vec<u8>) -> Result<Option<Message>, Error> {
        match h.opcode {
            Opcode::Ping => return Ok(Some(Message::Ping(payload))),
            Opcode::Pong => return Ok(Some(Message::Pong)),
            Opcode::Close => return close_frame(&payload).map(|c| Some(Message::Close(c))),
            _ => {}
        }
        let (opcode, payload) = match (h.opcode, self.partial.take()) {
            (Opcode::Continuation, None) => {
                return Err(Error::Protocol("a continuation frame without a message"))
            }
            (Opcode::Continuation, Some((opcode, mut so_far))) => {
                so_far.extend_from_slice(&payload);
                (opcode, so_far)
            }
            (_, Some(_)) => {
                return Err(Error::Protocol(
                    "a new message before the last one's final fragment",
                ))
            }
            (opcode, None) => (opcode, payload),
        };
        if !h.fin {
            self.partial = Some((opcode, payload));
            return Ok(None);
        }
        Ok(Some(match opcode {
            Opcode::Text => {
                Message::Text(String::from_utf8(payload).map_err(|_| Error::InvalidUtf8)?)
            }
            _ => Message::Binary(payload),
        }))
    }
}

/// The code and reason of a close frame (RFC 6455 §5.5.1, §7.4).
fn close_frame(payload: &[u8]) -> Result<Option<(u16, String)>, Error> {
    match payload {
        [] => Ok(None),
        [_] => Err(Error::Protocol("a close frame of one byte")),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            let valid = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            if !valid {
                return Err(Error::Protocol("a close code that may not be sent"));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| Error::InvalidUtf8)?;
            Ok(Some((code, reason.to_owned())))
        }
    }
}
