//! The 1.9 forms, from the wire lines of the Java SDK 1.7 and Node SDK 1.8
//! sources and tests (they cannot be installed here): smart encoding, the
//! extended table info, the 1.9 replies, DFD, FST/FUS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use shoal_ari::*;

fn text(buf: Vec<u8>) -> String {
    String::from_utf8(buf).unwrap()
}

#[test]
fn smart_encoding_applies_except_to_init_and_close() {
    let e = Encoder::new(Version::V1_9_1);
    let mut out = Vec::new();
    e.subscribe(&mut out, RequestId(7), "An Item € 100%|+");
    assert_eq!(text(out), "7|SUB|S|An Item € 100%25%7C%2B\r\n");

    let mut out = Vec::new();
    let init = InitParams {
        version: Version::V1_9_1,
        keepalive_hint_millis: None,
        params: &[("p", "a b€")],
    };
    write_metadata_init(&mut out, RequestId(8), &init);
    write_close(&mut out, "keepalive timeout");
    assert_eq!(
        text(out),
        "8|MPI|S|ARI.version|S|1.9.1|S|p|S|a+b%E2%82%AC\r\n0|CLOSE|S|reason|S|keepalive+timeout\r\n"
    );

    // A lone # or $ is escaped, as the value of a header here.
    let mut out = Vec::new();
    let n = NotifyUser {
        user: None,
        password: Some("$"),
        client_principal: None,
        headers: &[("h", "#")],
    };
    e.notify_user(&mut out, RequestId(9), &n);
    assert_eq!(text(out), "9|NUS|S|#|S|%24|S|h|S|%23\r\n");
}

#[test]
fn extended_tables_carry_adapter_items_and_statistics() {
    let stats = [SubscriptionStatistics {
        real_time: 5,
        lost: 1,
        filtered: 0,
    }];
    let t = TableInfo {
        win_index: 3,
        mode: Mode::Distinct,
        group: "news",
        data_adapter: "DEFAULT",
        schema: "title body",
        first_item: 1,
        last_item: 1,
        selector: None,
        items: &["news"],
        statistics: &stats,
    };
    let mut out = Vec::new();
    let e = Encoder::new(Version::V1_9_0);
    e.notify_new_tables(&mut out, RequestId(1), Some("u"), "S1", &[t]);
    e.notify_tables_close(&mut out, RequestId(2), "S1", &[t]);
    assert_eq!(
        text(out),
        "1|NNT|S|u|S|S1|I|3|M|D|S|news|S|DEFAULT|S|title body|I|1|I|1|S|#|I|1|S|news\r\n\
         2|NTC|S|S1|I|3|M|D|S|news|S|DEFAULT|S|title body|I|1|I|1|S|#|I|1|S|news|I|1|L|5|L|1|L|0\r\n"
    );
    // Under 1.8 the same tables take 14 tokens each.
    let mut out = Vec::new();
    Encoder::new(Version::V1_8_3).notify_tables_close(&mut out, RequestId(2), "S1", &[t, t]);
    let line = text(out);
    assert_eq!(line.trim_end().split('|').count(), 4 + 2 * 14);
}

#[test]
fn replies_of_1_9_remotes() {
    let reply = |line| match parse(line).unwrap() {
        Received::Reply(r) => r.outcome,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        reply("5|NNS|I|3600"),
        Ok(ReplyBody::Session(SessionReply {
            time_to_live_seconds: Some(3600)
        }))
    );
    assert_eq!(
        reply("5|NNT|B|1|B|0"),
        Ok(ReplyBody::Tables(TablesReply {
            unsubscription_enabled: true,
            wants_final_statistics: false
        }))
    );
    let err = reply("5|NUS|ER|Try later").unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_deref()),
        (ErrorKind::ResourceUnavailable, Some("Try later"))
    );
    // Node 1.8.1's refusal of an old proxy, and a space written raw (smart).
    let err = reply("5|DPI|ED|Unsupported+protocol+version").unwrap_err();
    assert_eq!(err.message.as_deref(), Some("Unsupported protocol version"));
    assert_eq!(reply("5|MDA|V"), Ok(ReplyBody::Void));
    assert_eq!(
        reply("5|MPI|V"),
        Ok(ReplyBody::Init(InitReply { ari_version: None }))
    );
    let err = reply("5|MDC|EC|A Message|-1|Message for client").unwrap_err();
    assert_eq!(
        err.to_string(),
        "remote exception EC: A Message (client code -1, \"Message for client\")"
    );
}

#[test]
fn dfd_and_updates_in_smart_encoding() {
    let Received::FieldDiffs(d) =
        parse("1|DFD|S|AnItemName|S|FAKEID|S|field1|F|J|S|field2|F|#|S|field3|F|$|S|field5|F|JM")
            .unwrap()
    else {
        panic!()
    };
    use DiffAlgorithm::*;
    let algs: Vec<_> = d.fields.iter().map(|(_, a)| a.clone()).collect();
    assert_eq!(
        algs,
        [
            Some(vec![JsonPatch]),
            None,
            Some(vec![]),
            Some(vec![JsonPatch, DiffMatchPatch])
        ]
    );

    let Received::Update(u) =
        parse("1|UD3|S|AnItemName|S|FAKEID|B|1|S|field_%0D|S|value𩥪|S|field_$|S|%23|S|field_%2B|S|valueȬ").unwrap()
    else {
        panic!()
    };
    let got: Vec<_> = u
        .fields()
        .map(|f| f.unwrap())
        .map(|f| (f.name.into_owned(), f.value))
        .collect();
    assert_eq!(
        got[0],
        ("field_\r".into(), FieldValue::Text("value𩥪".into()))
    );
    assert_eq!(got[1], ("field_$".into(), FieldValue::Text("#".into())));
    assert_eq!(
        got[2],
        ("field_+".into(), FieldValue::Text("valueȬ".into()))
    );
}

#[test]
fn java_indexed_updates_skip_the_index() {
    let Received::Update(u) = parse("1|UD3|S|i|S|9|B|0|I|0|S|a|S|x|I|1|S|b|S|#").unwrap() else {
        panic!()
    };
    let names: Vec<_> = u.fields().map(|f| f.unwrap().name.into_owned()).collect();
    assert_eq!(names, ["a", "b"]);
}

#[test]
fn remote_requests_fst_fus_and_their_replies() {
    let Received::ForceSessionTermination(f) = parse("100|FST|S|S1|V").unwrap() else {
        panic!()
    };
    assert_eq!((f.id, &*f.session, f.cause), ("100", "S1", None));
    let Received::ForceSessionTermination(f) = parse("101|FST|S|S1|I|-3|S|bye bye").unwrap() else {
        panic!()
    };
    assert_eq!(f.cause, Some((-3, Some("bye bye".into()))));
    let Received::ForceUnsubscription(f) = parse("102|FUS|S|S1|I|4").unwrap() else {
        panic!()
    };
    assert_eq!(f.win_index, 4);

    let e = Encoder::new(Version::V1_9_1);
    let mut out = Vec::new();
    e.force_session_termination_reply(&mut out, "100", Ok(()));
    e.force_session_termination_reply(&mut out, "101", Err("no such session|x"));
    e.force_unsubscription_reply(&mut out, "102", Ok(true));
    e.force_unsubscription_reply(&mut out, "103", Err("gone"));
    assert_eq!(
        text(out),
        "100|FST|V\r\n101|FST|E|no such session%7Cx\r\n102|FUS|B|1\r\n103|FUS|E|gone\r\n"
    );
}

#[test]
fn errors_name_the_method_and_the_token() {
    let e = parse("17|SUB|X").unwrap_err();
    assert_eq!(
        e.to_string(),
        "ARI line SUB (id \"17\"), token 2: expected type V for reply, found \"X\""
    );
    let e = parse("17|GIT|I|x|D|0|M|R").unwrap_err();
    assert_eq!(e.token, 3);
    assert!(matches!(e.kind, ParseErrorKind::BadNumber { .. }));
    let e = parse("17|NUS|EZ|boom").unwrap_err();
    assert_eq!((e.id.as_deref(), e.method), (Some("17"), Some(Method::Nus)));
    assert!(matches!(e.kind, ParseErrorKind::UnknownException(_)));
    assert!(matches!(
        parse("0|CLOSE|S|reason|S|x").unwrap_err().kind,
        ParseErrorKind::NotFromRemote(_)
    ));
    assert!(matches!(
        parse("17|WHAT|V").unwrap_err().kind,
        ParseErrorKind::UnknownMethod(_)
    ));
    assert!(matches!(
        parse("garbage").unwrap_err().kind,
        ParseErrorKind::NoMethod
    ));
    assert!(matches!(
        parse("1|SUB|V|extra").unwrap_err().kind,
        ParseErrorKind::Trailing(_)
    ));
    assert!(matches!(
        parse("1|SUB|E|100%").unwrap_err().kind,
        ParseErrorKind::Value { .. }
    ));
    let Received::Update(u) = parse("1|UD3|S|i|S|9|B|0|S|a|Q|x").unwrap() else {
        panic!()
    };
    let mut fields = u.fields();
    assert!(fields.next().unwrap().is_err());
    assert!(fields.next().is_none());
}
