//! Property tests: whatever the server encodes, a decoder following the
//! specification reads back exactly.

use proptest::prelude::*;
use shoal_protocol::decode::{arg, decode_values, split_line};
use shoal_protocol::notify::push_values;
use shoal_protocol::{Line, Value};

fn field() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(String::new())),
        8 => any::<String>().prop_map(Some),
        2 => "[#$^|%,\r\n a-z0-9]{0,6}".prop_map(Some),
    ]
}

proptest! {
    #[test]
    fn update_values_round_trip(
        prev in proptest::collection::vec(field(), 1..12),
        next_raw in proptest::collection::vec((field(), any::<bool>()), 12),
    ) {
        let next: Vec<(Option<String>, bool)> = next_raw.into_iter().take(prev.len()).collect();
        let mut encoded = String::new();
        push_values(&mut encoded, next.iter().zip(&prev).map(|((v, unchanged), p)| {
            if *unchanged { match p { None => Value::Null, Some(s) => Value::Text(s) } }
            else { match v { None => Value::Null, Some(s) => Value::Text(s) } }
        }));
        // The whole line stays one line with a fixed argument count.
        let line = Line::Update { sub_id: 1, item: 2, values: &encoded }.to_line();
        let body = line.strip_suffix("\r\n").unwrap();
        prop_assert!(!body.contains('\r') && !body.contains('\n'));
        let raw = split_line(body).unwrap();
        let decoded = decode_values(raw.args[2], &prev).unwrap();
        let expected: Vec<Option<String>> = next.iter().zip(&prev)
            .map(|((v, unchanged), p)| if *unchanged { p.clone() } else { v.clone() }).collect();
        prop_assert_eq!(decoded, expected);
    }

    #[test]
    fn unchanged_tokens_keep_previous(prev in proptest::collection::vec(field(), 1..8)) {
        let mut encoded = String::new();
        push_values(&mut encoded, prev.iter().map(|_| Value::Unchanged));
        prop_assert_eq!(decode_values(&encoded, &prev).unwrap(), prev);
    }

    #[test]
    fn error_messages_survive_any_text(code in -5i32..100, msg in any::<String>()) {
        let line = Line::ReqErr { req_id: "7", code, message: &msg }.to_line();
        let body = line.strip_suffix("\r\n").unwrap();
        prop_assert!(!body.contains('\n'));
        let raw = split_line(body).unwrap();
        prop_assert_eq!(raw.args[0], "7");
        prop_assert_eq!(raw.args[1].parse::<i32>().unwrap(), code);
        prop_assert_eq!(arg(raw.args[2]).unwrap(), msg);
    }

    #[test]
    fn parsers_never_panic(s in any::<String>(), name in "[a-z_]{0,16}") {
        let _ = shoal_protocol::parse_ws(&s);
        let _ = shoal_protocol::parse_http(&name, &s, &s);
    }

    #[test]
    fn params_round_trip(msg in any::<String>()) {
        // The official clients percent-encode reserved characters; any UTF-8
        // text must come back unchanged.
        let enc: String = percent_encoding::utf8_percent_encode(&msg, percent_encoding::NON_ALPHANUMERIC).collect();
        let body = format!("LS_reqId=1&LS_message={enc}&LS_msg_prog=1");
        let b = shoal_protocol::parse_http("msg", "", &body).unwrap();
        match &b.requests[0] {
            Ok(shoal_protocol::Request::Msg(m)) => prop_assert_eq!(&m.message, &msg),
            other => prop_assert!(false, "{other:?}"),
        }
    }
}
