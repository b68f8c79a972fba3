//! Encode → decode is the identity in both encodings, for any string
//! (null, empty, `#`, `$`, separators, escapes, CR/LF, non-ASCII); old
//! encoding output is pure ASCII; whole lines survive the line reader.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use shoal_ari::value::{decode_value, put_value};
use shoal_ari::*;

fn tricky() -> impl Strategy<Value = Option<String>> {
    let piece = prop_oneof![
        Just("#".to_owned()),
        Just("$".to_owned()),
        Just("|".to_owned()),
        Just("%".to_owned()),
        Just("+".to_owned()),
        Just(" ".to_owned()),
        Just("\r".to_owned()),
        Just("\n".to_owned()),
        Just("€".to_owned()),
        Just("%25".to_owned()),
        any::<char>().prop_map(String::from),
        "[a-z]{0,3}",
    ];
    proptest::option::weighted(
        0.9,
        prop::collection::vec(piece, 0..6).prop_map(|v| v.concat()),
    )
}

fn encodings() -> impl Strategy<Value = Encoding> {
    prop_oneof![Just(Encoding::Old), Just(Encoding::Smart)]
}

proptest! {
    #[test]
    fn values_round_trip(s in tricky(), enc in encodings()) {
        let mut out = Vec::new();
        put_value(&mut out, s.as_deref(), enc);
        let token = String::from_utf8(out).unwrap();
        prop_assert!(!token.is_empty());
        prop_assert!(!token.contains(['|', '\r', '\n']));
        if enc == Encoding::Old {
            prop_assert!(token.is_ascii());
            prop_assert!(!token.contains(' '));
        } else {
            prop_assert!(!token.contains('+'));
        }
        let back = decode_value(&token).unwrap();
        prop_assert_eq!(back.as_deref(), s.as_deref());
    }

    #[test]
    fn any_string_survives_a_sub_line_and_the_reader(item in any::<String>(), v in 0usize..5) {
        let version = Version::ALL[v];
        let mut out = Vec::new();
        Encoder::new(version).subscribe(&mut out, RequestId(42), &item);
        if !version.is_1_9() {
            prop_assert!(out.is_ascii());
        }
        let mut reader = LineReader::new();
        reader.feed(&out).unwrap();
        let line = reader.next_line().unwrap().unwrap();
        // The line is a SUB request: read its item back as a token.
        let token = line.strip_prefix("42|SUB|S|").unwrap();
        let decoded = decode_value(token).unwrap();
        prop_assert_eq!(decoded.as_deref(), Some(item.as_str()));
        prop_assert_eq!(reader.next_line().unwrap(), None);
    }

    #[test]
    fn updates_read_back_what_a_remote_wrote(
        fields in prop::collection::vec((any::<String>(), tricky()), 0..5),
        enc in encodings(),
    ) {
        // Write an update as a remote would, then parse it.
        let mut line = b"1|UD3|S|item|S|9|B|1".to_vec();
        for (name, value) in &fields {
            line.extend_from_slice(b"|S|");
            put_value(&mut line, Some(name), enc);
            line.extend_from_slice(b"|S|");
            put_value(&mut line, value.as_deref(), enc);
        }
        let line = String::from_utf8(line).unwrap();
        let Received::Update(u) = parse(&line).unwrap() else { panic!() };
        let got: Vec<(String, Option<String>)> = u.fields().map(|f| {
            let f = f.unwrap();
            let v = match f.value { FieldValue::Text(t) => Some(t.into_owned()), FieldValue::Null => None, FieldValue::Bytes(_) => unreachable!() };
            (f.name.into_owned(), v)
        }).collect();
        prop_assert_eq!(got, fields);
    }

    #[test]
    fn parse_never_panics(line in "[A-Z0-9|#$%+ E.-]{0,40}") {
        if let Ok(Received::Update(u)) = parse(&line) {
            for f in u.fields() { let _ = f; }
        }
    }
}
