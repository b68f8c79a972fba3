//! Transcripts recorded from the official SDKs (Node 1.5.3, Python 1.3.1)
//! by `tests/record/record.py`: what Shoal's writer produces must be the
//! lines the SDKs were sent (they decoded them as intended: see the `= `
//! lines of `fixtures/*-decoded.txt`), and every line they sent must parse.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::borrow::Cow;

use shoal_ari::*;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap()
}

fn lines<'a>(text: &'a str, dir: &str) -> Vec<&'a str> {
    text.lines().filter_map(|l| l.strip_prefix(dir)).collect()
}

fn sent(buf: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(buf).unwrap();
    assert!(text.ends_with("\r\n"));
    text.split_terminator("\r\n").map(str::to_owned).collect()
}

/// The metadata requests of the recording, written by Shoal's encoder.
fn metadata_requests(version: Version) -> Vec<String> {
    let mut out = Vec::new();
    let init = InitParams {
        version: Version::OFFERED,
        keepalive_hint_millis: Some(8000),
        params: &[
            ("adapters_conf.id", "SHOAL_TEST"),
            ("custom.param", "a b|€"),
        ],
    };
    write_metadata_init(&mut out, RequestId(100), &init);
    let e = Encoder::new(version);
    let nus = |user, password, principal, headers| NotifyUser {
        user: Some(user),
        password,
        client_principal: principal,
        headers,
    };
    let headers = [("user-agent", "Mozilla/5.0 (X11)"), ("x-odd", "%+|\r\n#")];
    e.notify_user(
        &mut out,
        RequestId(101),
        &nus("alice", Some("secret #"), None, &headers),
    );
    e.notify_user(&mut out, RequestId(102), &nus("denied", None, None, &[]));
    e.notify_user(
        &mut out,
        RequestId(103),
        &nus("credits", Some(""), None, &[]),
    );
    let host = [("host", "localhost")];
    e.notify_user(
        &mut out,
        RequestId(104),
        &nus("alice", Some("pw"), Some("CN=alice"), &host),
    );
    e.get_items(
        &mut out,
        RequestId(105),
        Some("alice"),
        "item1 item|2 €",
        "S1234",
    );
    e.get_items(&mut out, RequestId(106), Some("alice"), "bad", "S1234");
    e.get_items(&mut out, RequestId(107), Some("alice"), "empty", "S1234");
    e.get_schema(
        &mut out,
        RequestId(108),
        Some("alice"),
        "item1",
        "last_price bid",
        "S1234",
    );
    e.get_schema(
        &mut out,
        RequestId(109),
        Some("alice"),
        "item1",
        "bad",
        "S1234",
    );
    e.get_item_data(&mut out, RequestId(110), ["item1", "item|2"]);
    e.get_user_item_data(
        &mut out,
        RequestId(111),
        Some("alice"),
        vec!["item1".to_owned(), "item|2".to_owned()],
    );
    e.notify_user_message(
        &mut out,
        RequestId(112),
        Some("alice"),
        "S1234",
        "hello € | %",
    );
    e.notify_user_message(&mut out, RequestId(113), Some("alice"), "S1234", "fail");
    e.notify_user_message(&mut out, RequestId(114), Some("alice"), "S1234", "credits");
    let context = [
        ("REMOTE_IP", Some("127.0.0.1")),
        ("USER_AGENT", Some("Mozilla/5.0")),
        ("FORWARDING_INFO", None),
    ];
    e.notify_new_session(&mut out, RequestId(115), Some("alice"), "S1234", &context);
    e.notify_new_session(
        &mut out,
        RequestId(116),
        Some("conflict"),
        "S5678",
        &context[..1],
    );
    let t1 = TableInfo {
        win_index: 1,
        mode: Mode::Merge,
        group: "item1 item2",
        data_adapter: "DEFAULT",
        schema: "last_price",
        first_item: 1,
        last_item: 2,
        selector: None,
        items: &["item1", "item2"],
        statistics: &[],
    };
    let t2 = TableInfo {
        win_index: 2,
        mode: Mode::Command,
        group: "portfolio",
        schema: "key command qty",
        first_item: 1,
        last_item: 1,
        selector: Some("sel|1"),
        items: &["portfolio"],
        ..t1
    };
    e.notify_new_tables(&mut out, RequestId(117), Some("alice"), "S1234", &[t1, t2]);
    e.notify_tables_close(&mut out, RequestId(118), "S1234", &[t1]);
    e.notify_session_close(&mut out, RequestId(119), "S1234");
    write_close(&mut out, "test over");
    sent(&out)
}

fn data_requests(version: Version) -> Vec<String> {
    let mut out = Vec::new();
    let init = InitParams {
        version: Version::OFFERED,
        keepalive_hint_millis: Some(8000),
        params: &[
            ("data_provider.name", "DEFAULT"),
            ("adapters_conf.id", "SHOAL_TEST"),
        ],
    };
    write_data_init(&mut out, RequestId(200), &init);
    let e = Encoder::new(version);
    for (id, item) in [
        (201, "item1"),
        (202, "item|2"),
        (203, "bad"),
        (204, "failing"),
    ] {
        e.subscribe(&mut out, RequestId(id), item);
    }
    e.unsubscribe(&mut out, RequestId(205), "item1");
    write_close(&mut out, "test over");
    sent(&out)
}

#[test]
fn the_writer_produces_the_lines_the_sdks_decoded() {
    for sdk in ["node153", "py131"] {
        let meta = fixture(&format!("{sdk}-metadata"));
        assert_eq!(
            lines(&meta, "> "),
            metadata_requests(Version::V1_8_3),
            "{sdk}"
        );
        let data = fixture(&format!("{sdk}-data"));
        assert_eq!(lines(&data, "> "), data_requests(Version::V1_8_3), "{sdk}");
    }
}

fn parse_all(text: &str) -> Vec<Received<'_>> {
    lines(text, "< ")
        .into_iter()
        .map(|l| parse(l).unwrap())
        .collect()
}

fn reply<'a>(received: &'a [Received<'a>], id: &str) -> &'a Reply<'a> {
    received
        .iter()
        .find_map(|r| match r {
            Received::Reply(reply) if reply.id == id => Some(reply),
            _ => None,
        })
        .unwrap()
}

#[test]
fn every_metadata_reply_of_both_sdks_parses() {
    for sdk in ["node153", "py131"] {
        let text = fixture(&format!("{sdk}-metadata"));
        let got = parse_all(&text);
        let Received::Credentials(rac) = &got[0] else {
            panic!("{sdk}: RAC first")
        };
        assert_eq!(
            (rac.user(), rac.password()),
            (Some("ari-remote"), Some("pw"))
        );
        assert!(rac.close_packet_enabled());
        assert_eq!(rac.sdk(), (sdk == "py131").then_some("Python Adapter SDK"));

        let ok = |id| reply(&got, id).outcome.clone().unwrap();
        let err = |id| reply(&got, id).outcome.clone().unwrap_err();
        let ReplyBody::Init(init) = ok("100") else {
            panic!()
        };
        assert_eq!(
            Version::negotiate(Version::OFFERED, init.ari_version.as_deref()),
            Ok(Version::V1_8_3)
        );
        assert_eq!(
            ok("101"),
            ReplyBody::User(UserReply {
                max_bandwidth: Some(0.0),
                wants_tables_notification: true
            })
        );
        assert_eq!(err("102").kind, ErrorKind::Access);
        assert_eq!(err("102").message.as_deref(), Some("Access denied"));
        assert_eq!(
            err("103").kind,
            ErrorKind::Credits(Credits {
                code: -5,
                client_message: Some("Sorry | 100%".into())
            })
        );
        assert_eq!(reply(&got, "104").method, Method::Nua);
        assert_eq!(
            ok("105"),
            ReplyBody::Items(vec!["item1".into(), "item|2".into(), "€".into()])
        );
        assert_eq!(err("106").kind, ErrorKind::Items);
        assert_eq!(ok("107"), ReplyBody::Items(vec![]));
        assert_eq!(
            ok("108"),
            ReplyBody::Fields(vec!["last_price".into(), "bid".into()])
        );
        assert_eq!(err("109").kind, ErrorKind::Schema);
        let ReplyBody::ItemData(git) = ok("110") else {
            panic!()
        };
        assert_eq!(git.len(), 2);
        assert_eq!(git[0].allowed_modes, Modes::ALL);
        assert_eq!(git[1].min_source_frequency, Some(0.5));
        assert_eq!(git[1].allowed_modes, Modes::EMPTY.with(Mode::Merge));
        let ReplyBody::UserItemData(gui) = ok("111") else {
            panic!()
        };
        assert_eq!(gui[1].allowed_max_frequency, Some(2.25));
        assert_eq!(
            gui[1].allowed_modes,
            Modes::EMPTY.with(Mode::Raw).with(Mode::Distinct)
        );
        assert_eq!(ok("112"), ReplyBody::Void);
        assert_eq!(err("113").kind, ErrorKind::Notification);
        assert_eq!(
            err("114").kind,
            ErrorKind::Credits(Credits {
                code: -7,
                client_message: None
            })
        );
        assert_eq!(ok("115"), ReplyBody::Session(SessionReply::default()));
        assert_eq!(
            err("116").kind,
            ErrorKind::ConflictingSession {
                credits: Credits {
                    code: -6,
                    client_message: Some("Too many".into())
                },
                conflicting_session: Some("S0000".into()),
            }
        );
        assert_eq!(ok("117"), ReplyBody::Tables(TablesReply::default()));
        assert_eq!(ok("118"), ReplyBody::Void);
        assert_eq!(ok("119"), ReplyBody::Void);
    }
}

fn fields(u: &Update<'_>) -> Vec<(String, FieldValue<'static>)> {
    u.fields()
        .map(|f| {
            let f = f.unwrap();
            let value = match f.value {
                FieldValue::Text(t) => FieldValue::Text(Cow::Owned(t.into_owned())),
                FieldValue::Null => FieldValue::Null,
                FieldValue::Bytes(b) => {
                    assert_eq!(b.decode().unwrap(), b"\x00\xffbin");
                    FieldValue::Null
                }
            };
            (f.name.into_owned(), value)
        })
        .collect()
}

#[test]
fn every_data_line_of_both_sdks_parses() {
    let text = |s: &str| FieldValue::Text(Cow::Owned(s.to_owned()));
    let snapshot = [
        ("plain", text("12.5")),
        ("empty", text("")),
        ("nothing", FieldValue::Null),
        ("hash", text("#")),
        ("dollar", text("$")),
        ("pipe", text("a|b")),
        ("pct", text("100%")),
        ("plus", text("1+1")),
        ("crlf", text("l1\r\nl2")),
        ("utf", text("€ ü")),
        ("space", text("a b")),
    ];
    // Node: two connections, notifications on the second; Python: one.
    for (sdk, notify) in [("node153", "notify"), ("py131", "data")] {
        let data = fixture(&format!("{sdk}-data"));
        let got = parse_all(&data);
        assert_eq!(reply(&got, "201").outcome, Ok(ReplyBody::Void));
        let e203 = reply(&got, "203").outcome.clone().unwrap_err();
        assert_eq!(
            (e203.kind, e203.message.as_deref()),
            (ErrorKind::Subscription, Some("no such item"))
        );
        let e204 = reply(&got, "204").outcome.clone().unwrap_err().kind;
        assert_eq!(
            e204,
            if sdk == "py131" {
                ErrorKind::Failure
            } else {
                ErrorKind::Generic
            }
        );

        let notes = fixture(&format!("{sdk}-{notify}"));
        let got = parse_all(&notes);
        let updates: Vec<&Update<'_>> = got
            .iter()
            .filter_map(|r| {
                if let Received::Update(u) = r {
                    Some(u)
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(updates.len(), 3);
        assert_eq!(
            (&*updates[0].item, &*updates[0].sub_id, updates[0].snapshot),
            ("item1", "201", true)
        );
        let first = fields(updates[0]);
        let expected: Vec<_> = snapshot
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect();
        assert_eq!(first[..expected.len()], expected[..]);
        assert!(!updates[1].snapshot);
        let command: Vec<_> = fields(updates[2]).into_iter().map(|(n, _)| n).collect();
        assert_eq!(command, ["key", "command", "qty"]);
        assert!(got.iter().any(
            |r| matches!(r, Received::EndOfSnapshot(i) if i.item == "item|2" && i.sub_id == "202")
        ));
        assert!(got
            .iter()
            .any(|r| matches!(r, Received::ClearSnapshot(i) if i.item == "item|2")));
        assert!(got
            .iter()
            .any(|r| matches!(r, Received::Failure { message: Some(m) } if m == "feed lost")));
    }
}

#[test]
fn the_node_notify_connection_opens_with_a_timestamped_rac() {
    let notes = fixture("node153-notify");
    let got = parse_all(&notes);
    let Received::Credentials(rac) = &got[0] else {
        panic!()
    };
    assert_ne!(rac.id, "1");
    assert!(rac.id.bytes().all(|b| b.is_ascii_digit()));
}
