//! Feeds arbitrary bytes, in chunks, through the WebSocket frame decoder.
//! Nothing may panic, no message may exceed the limit, and once the decoder
//! refuses the bytes or decodes a close, it decodes nothing more.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_websocket::{Decoder, Message};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size, the second the message limit.
    let (chunk, max, bytes) = match data {
        [c, m, rest @ ..] => (usize::from(*c % 64) + 1, usize::from(*m) * 8, rest),
        _ => return,
    };
    let mut d = Decoder::new(max);
    let mut over = false;
    for piece in bytes.chunks(chunk) {
        d.buffer().extend_from_slice(piece);
        loop {
            match d.decode() {
                Ok(Some(m)) => {
                    assert!(!over, "a message after a close or an error: {m:?}");
                    let len = match &m {
                        Message::Text(t) => t.len(),
                        Message::Binary(b) | Message::Ping(b) => b.len(),
                        Message::Pong | Message::Close(_) => 0,
                    };
                    assert!(len <= max.max(125), "{len} bytes over the limit {max}");
                    if matches!(m, Message::Close(_)) {
                        over = true;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    assert!(matches!(e.code(), 1002 | 1007 | 1009));
                    return;
                }
            }
        }
    }
});
