//! Frames as a client would send them, built here with a mask.

use super::*;
use proptest::prelude::*;

/// A client frame: `b0` (FIN, opcode), masked `payload`.
fn client_frame(b0: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut out = vec![b0];
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xffff {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn decode_all(bytes: &[u8], max: usize) -> Result<Vec<Message>, Error> {
    let mut d = Decoder::new(max);
    d.buffer().extend_from_slice(bytes);
    let mut out = Vec::new();
    while let Some(m) = d.decode()? {
        out.push(m);
    }
    Ok(out)
}

#[test]
fn the_rfc_accept_key_example() {
    assert_eq!(
        accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn masked_text_fragments_ping_and_close() {
    let mut bytes = client_frame(0x81, b"Hello", MASK);
    bytes.extend(client_frame(0x01, b"Hel", MASK));
    bytes.extend(client_frame(0x89, b"p", MASK));
    bytes.extend(client_frame(0x80, b"lo", MASK));
    bytes.extend(client_frame(0x88, &[0x03, 0xe8, b'b', b'y', b'e'], MASK));
    bytes.extend(client_frame(0x81, b"after the close", MASK));
    assert_eq!(
        decode_all(&bytes, 1024),
        Ok(vec![
            Message::Text("Hello".into()),
            // A control frame may come between fragments.
            Message::Ping(b"p".to_vec()),
            Message::Text("Hello".into()),
            Message::Close(Some((1000, "bye".into()))),
        ])
    );
}

#[test]
fn refusals_carry_the_close_code_the_rfc_names() {
    let cases: Vec<(Vec<u8>, u16)> = vec![
        // Unmasked.
        (vec![0x81, 0x01, b'a'], close::PROTOCOL_ERROR),
        // RSV1 without an extension.
        (client_frame(0xc1, b"a", MASK), close::PROTOCOL_ERROR),
        // Reserved opcode 3.
        (client_frame(0x83, b"a", MASK), close::PROTOCOL_ERROR),
        // A fragmented ping.
        (client_frame(0x09, b"a", MASK), close::PROTOCOL_ERROR),
        // A ping of 126 bytes.
        (client_frame(0x89, &[0; 126], MASK), close::PROTOCOL_ERROR),
        // A continuation with nothing to continue.
        (client_frame(0x80, b"a", MASK), close::PROTOCOL_ERROR),
        // Invalid UTF-8 text.
        (client_frame(0x81, &[0xff, 0xfe], MASK), close::INVALID_DATA),
        // A close code that may not be sent (1005).
        (
            client_frame(0x88, &[0x03, 0xed], MASK),
            close::PROTOCOL_ERROR,
        ),
        // Over the limit of 16 bytes.
        (client_frame(0x81, &[b'a'; 17], MASK), close::TOO_BIG),
    ];
    for (bytes, code) in cases {
        let got = decode_all(&bytes, 16);
        assert_eq!(got.map_err(|e| e.code()), Err(code), "{bytes:02x?}");
    }
    // A new message before the final fragment of the last one.
    let mut bytes = client_frame(0x01, b"a", MASK);
    bytes.extend(client_frame(0x81, b"b", MASK));
    assert_eq!(
        decode_all(&bytes, 16).map_err(|e| e.code()),
        Err(close::PROTOCOL_ERROR)
    );
    // Fragments that add up past the limit.
    let mut bytes = client_frame(0x01, &[b'a'; 10], MASK);
    bytes.extend(client_frame(0x80, &[b'a'; 10], MASK));
    assert_eq!(
        decode_all(&bytes, 16).map_err(|e| e.code()),
        Err(close::TOO_BIG)
    );
}

#[test]
fn an_oversized_message_is_refused_from_its_header_alone() {
    let mut d = Decoder::new(1000);
    // The header of a 1 GiB frame, and not a byte of its payload.
    d.buffer()
        .extend_from_slice(&[0x81, 0x80 | 127, 0, 0, 0, 0, 0x40, 0, 0, 0]);
    assert!(matches!(d.decode(), Err(Error::TooBig { .. })));
}

#[test]
fn a_decoded_buffer_is_given_back() {
    let mut d = Decoder::new(1000);
    d.buffer().extend(client_frame(0x81, b"x", MASK));
    assert_eq!(d.decode(), Ok(Some(Message::Text("x".into()))));
    assert_eq!(d.decode(), Ok(None));
    assert_eq!(d.buffer().capacity(), 0);
}

#[test]
fn server_frames_use_the_shortest_length() {
    for (len, header) in [
        (0usize, vec![0x81, 0]),
        (125, vec![0x81, 125]),
        (126, vec![0x81, 126, 0, 126]),
        (65535, vec![0x81, 126, 0xff, 0xff]),
        (65536, vec![0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
    ] {
        let mut out = Vec::new();
        encode(&mut out, Opcode::Text, &vec![b'a'; len]);
        assert_eq!(&out[..header.len()], &header[..], "{len}");
        assert_eq!(out.len(), header.len() + len);
    }
    let mut out = Vec::new();
    encode_close(&mut out, close::NORMAL, &"é".repeat(100));
    // 2 bytes of code and a reason cut at a character boundary: 122 bytes.
    assert_eq!(out[1] as usize, 2 + 122);
}

proptest! {
    /// However the bytes are cut into reads, the same messages come out.
    #[test]
    fn any_split_of_the_bytes_gives_the_same_messages(
        texts in proptest::collection::vec("[a-zé]{0,300}", 1..5),
        cuts in proptest::collection::vec(0usize..2000, 0..6),
    ) {
        let mut bytes = Vec::new();
        for t in &texts {
            // Each text in two fragments.
            let mid = t.len() / 2;
            let mid = (0..=mid).rev().find(|&i| t.is_char_boundary(i)).unwrap_or(0);
            bytes.extend(client_frame(0x01, &t.as_bytes()[..mid], MASK));
            bytes.extend(client_frame(0x80, &t.as_bytes()[mid..], MASK));
        }
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.push(bytes.len());
        let mut d = Decoder::new(1 << 20);
        let mut got = Vec::new();
        let mut from = 0;
        for c in cuts {
            d.buffer().extend_from_slice(&bytes[from..c]);
            from = c;
            while let Some(m) = d.decode().unwrap() {
                got.push(m);
            }
        }
        let want: Vec<Message> = texts.into_iter().map(Message::Text).collect();
        prop_assert_eq!(got, want);
    }
}
