//! Feeds arbitrary bytes, in chunks, through the ARI line reader and the
//! typed parser. Nothing may panic; every string decoded from a line must
//! re-encode, in both encodings, to a token that decodes to it again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_ari::value::{decode_value, put_value};
use shoal_ari::{parse, Encoding, FieldValue, LineReader, Received, ReplyBody};

fn round_trips(s: Option<&str>) {
    for enc in [Encoding::Old, Encoding::Smart] {
        let mut token = Vec::new();
        put_value(&mut token, s, enc);
        let token = std::str::from_utf8(&token).expect("encoders write UTF-8");
        assert!(!token.is_empty() && !token.contains(['|', '\r', '\n']));
        if enc == Encoding::Old {
            assert!(token.is_ascii());
        }
        assert_eq!(
            decode_value(token).expect("own tokens decode").as_deref(),
            s
        );
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size, the second the line limit.
    let (chunk, max, bytes) = match data {
        [c, m, rest @ ..] => (usize::from(*c % 64) + 1, usize::from(*m) * 4 + 1, rest),
        _ => return,
    };
    let mut reader = LineReader::with_max_line(max);
    for piece in bytes.chunks(chunk) {
        if reader.feed(piece).is_err() {
            return;
        }
        loop {
            let line = match reader.next_line() {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(_) => return,
            };
            assert!(line.len() <= max);
            match parse(line) {
                Err(e) => {
                    let _ = e.to_string();
                }
                Ok(Received::Update(u)) => {
                    round_trips(Some(&u.item));
                    for field in u.fields() {
                        let Ok(field) = field else { break };
                        round_trips(Some(&field.name));
                        match field.value {
                            FieldValue::Text(t) => round_trips(Some(&t)),
                            FieldValue::Null => {}
                            FieldValue::Bytes(b) => {
                                let _ = b.decode();
                            }
                        }
                    }
                }
                Ok(Received::Credentials(c)) => {
                    for (k, v) in &c.params {
                        round_trips(Some(k));
                        round_trips(v.as_deref());
                    }
                }
                Ok(Received::Reply(r)) => match r.outcome {
                    Ok(ReplyBody::Items(names) | ReplyBody::Fields(names)) => {
                        names.iter().for_each(|n| round_trips(Some(n)));
                    }
                    Ok(ReplyBody::Init(i)) => round_trips(i.ari_version.as_deref()),
                    Ok(_) => {}
                    Err(e) => {
                        round_trips(e.message.as_deref());
                        let _ = e.to_string();
                    }
                },
                Ok(other) => {
                    let _ = format!("{other:?}");
                }
            }
        }
    }
});
