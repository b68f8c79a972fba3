//! WebSocket (RFC 6455) framing as a server speaks it, with no I/O: the
//! handshake's accept key, client frames decoded into messages
//! ([`Decoder`]), and server frames encoded into a caller's buffer
//! ([`encode`]).
//!
//! Why not a WebSocket library: a push server writes one small text frame
//! per update to thousands of sockets. Here a frame is a header of 2 to 10
//! bytes written in front of text the caller already has, into a buffer it
//! reuses, and written with one system call; reading needs no buffer while
//! the client is silent (most of the time). The transport owns the sockets
//! (`shoal-transport`); this crate only turns bytes into messages and back.
//!
//! What a server must refuse is refused with the close code the RFC names
//! ([`close`]): unmasked client frames, reserved bits and opcodes (no
//! extension is negotiated), fragmented or oversized control frames,
//! continuation frames out of place, text that is not UTF-8, and messages
//! over the size limit (refused from the header, before the payload is
//! buffered).

mod decode;

pub use decode::{Decoder, Error, Message};

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// Close codes (RFC 6455 §7.4.1).
pub mod close {
    pub const NORMAL: u16 = 1000;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const INVALID_DATA: u16 = 1007;
    pub const TOO_BIG: u16 = 1009;
}

/// Frame opcodes (RFC 6455 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    Continuation = 0,
    Text = 1,
    Binary = 2,
    Close = 8,
    Ping = 9,
    Pong = 10,
}

impl Opcode {
    fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits {
            0 => Self::Continuation,
            1 => Self::Text,
            2 => Self::Binary,
            8 => Self::Close,
            9 => Self::Ping,
            10 => Self::Pong,
            _ => return None,
        })
    }

    fn is_control(self) -> bool {
        (self as u8) >= 8
    }
}

/// Longest payload of a control frame (ping, pong, close).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The `Sec-WebSocket-Accept` value that answers a `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    /// The GUID of RFC 6455 §1.3, the same for every server.
    const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    let mut sha = Sha1::new();
    sha.update(key.trim().as_bytes());
    sha.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// Appends one unmasked, final frame (servers never mask) carrying
/// `payload` to `out`.
pub fn encode(out: &mut Vec<u8>, opcode: Opcode, payload: &[u8]) {
    out.reserve(10 + payload.len());
    out.push(0x80 | opcode as u8);
    let len = payload.len();
    if len < 126 {
        // Below 126: the cast cannot truncate.
        out.push(len as u8);
    } else if let Ok(short) = u16::try_from(len) {
        out.push(126);
        out.extend_from_slice(&short.to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(payload);
}

/// Appends a close frame with `code` and a reason cut to what fits.
pub fn encode_close(out: &mut Vec<u8>, code: u16, reason: &str) {
    let mut payload = code.to_be_bytes().to_vec();
    let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    payload.extend_from_slice(reason.as_bytes().get(..end).unwrap_or_default());
    encode(out, Opcode::Close, &payload);
}

#[cfg(test)]
mod tests;
