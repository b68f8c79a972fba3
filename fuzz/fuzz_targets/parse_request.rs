//! Feeds arbitrary bytes to the request parsers (WebSocket messages, and
//! HTTP request name + query + body) and to the server-line decoder. None
//! may panic; whatever parses must re-encode into lines without CR/LF.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_protocol::decode::{decode_values, split_line};
use shoal_protocol::{parse_http, parse_ws, Line};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_ws(text);
    let mut parts = text.splitn(3, '\u{0}');
    let name = parts.next().unwrap_or("");
    let query = parts.next().unwrap_or("");
    let body = parts.next().unwrap_or("");
    if let Ok(batch) = parse_http(name, query, body) {
        for req in batch.requests {
            if let Err(e) = req {
                // Error messages echo client input: they must stay one line.
                let line = Line::Error { code: e.code, message: &e.message }.to_line();
                assert_eq!(line.matches("\r\n").count(), 1);
                assert!(!line.trim_end().contains('\n'));
            }
        }
    }
    if let Some(raw) = split_line(text) {
        if raw.tag == "U" && raw.args.len() == 3 {
            let _ = decode_values(raw.args[2], &[None, None, None]);
        }
    }
});
