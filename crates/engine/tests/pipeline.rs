//! The request pipeline that every transport uses: port types, `LS_ack`,
//! the connection's default session, one stream per WebSocket, and the
//! order of a session's control requests across connections.

mod common;

use common::*;
use shoal_engine::{Answer, Connection, PortType};
use shoal_protocol::code;
use shoal_protocol::{parse_http, parse_ws};
use std::sync::Arc;

fn conn(port_type: PortType, websocket: bool) -> Connection {
    let ctx = if websocket { ws() } else { http() };
    Connection::new("test listener", port_type, websocket, ctx)
}

async fn lines(h: &Harness, c: &mut Connection, msg: &str) -> String {
    let batch = parse_ws(msg).unwrap_or_else(|e| panic!("{e}"));
    match h.engine.handle(c, batch).await {
        Answer::Lines(l) => l,
        Answer::Stream(_) => panic!("a stream, where lines were expected"),
        Answer::Cut => panic!("cut"),
    }
}

async fn open(h: &Harness, c: &mut Connection) -> Client {
    let batch = parse_ws(&format!("create_session\r\nLS_adapter_set={SET}"))
        .unwrap_or_else(|e| panic!("{e}"));
    match h.engine.handle(c, batch).await {
        Answer::Stream(s) => {
            let mut client = Client::new(s);
            client.session = client_session(&mut client).await;
            client
        }
        Answer::Lines(l) => panic!("refused: {l}"),
        Answer::Cut => panic!("cut"),
    }
}

async fn client_session(c: &mut Client) -> String {
    c.chunk().await;
    let conok = c.lines.first().cloned().unwrap_or_default();
    conok.split(',').nth(1).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn websocket_requests_default_to_the_socket_session_and_honour_ls_ack() {
    let h = Harness::new();
    let mut c = conn(PortType::GeneralPurpose, true);
    let client = open(&h, &mut c).await;
    // No LS_session: the socket's session.
    let out = lines(
        &h,
        &mut c,
        "control\r\nLS_reqId=1&LS_op=add&LS_subId=1&LS_group=a&LS_schema=f&LS_mode=RAW",
    )
    .await;
    assert_eq!(out, "REQOK,1\r\n");
    // LS_ack=false: nothing on success, the error on failure.
    let out = lines(
        &h,
        &mut c,
        "control\r\nLS_reqId=2&LS_op=add&LS_subId=2&LS_group=a&LS_schema=f&LS_mode=RAW&LS_ack=false\r\n\
         LS_reqId=3&LS_op=delete&LS_subId=99&LS_ack=false",
    )
    .await;
    assert!(
        out.starts_with(&format!("REQERR,3,{},", code::UNKNOWN_SUBSCRIPTION)),
        "{out}"
    );
    assert_eq!(h.engine.session(&client.session).map(|_| ()), Some(()));
}

#[tokio::test]
async fn http_answers_every_request_even_without_ack() {
    let h = Harness::new();
    let mut ws_conn = conn(PortType::GeneralPurpose, true);
    let client = open(&h, &mut ws_conn).await;
    let mut c = conn(PortType::GeneralPurpose, false);
    let batch = parse_http(
        "control",
        "",
        &format!(
            "LS_session={}&LS_reqId=1&LS_op=add&LS_subId=1&LS_group=a&LS_schema=f&LS_mode=RAW&LS_ack=false",
            client.session
        ),
    )
    .unwrap();
    match h.engine.handle(&mut c, batch).await {
        Answer::Lines(l) => assert_eq!(l, "REQOK,1\r\n"),
        Answer::Stream(_) => panic!("stream"),
        Answer::Cut => panic!("cut"),
    }
}

#[tokio::test]
async fn a_websocket_carries_one_stream_at_a_time() {
    let h = Harness::new();
    let mut c = conn(PortType::GeneralPurpose, true);
    let client = open(&h, &mut c).await;
    let batch = parse_ws(&format!("bind_session\r\nLS_session={}", client.session)).unwrap();
    match h.engine.handle(&mut c, batch).await {
        Answer::Lines(l) => assert!(
            l.starts_with(&format!("CONERR,{},", code::STREAM_ALREADY_BOUND)),
            "{l}"
        ),
        Answer::Stream(_) => panic!("a second stream was bound"),
        Answer::Cut => panic!("cut"),
    }
    // Once the transport says the stream ended, a bind is taken.
    c.stream_bound()
        .store(false, std::sync::atomic::Ordering::Release);
    let batch = parse_ws("bind_session\r\nLS_polling=false").unwrap();
    assert!(matches!(
        h.engine.handle(&mut c, batch).await,
        Answer::Stream(_)
    ));
}

#[tokio::test]
async fn create_only_listeners_take_only_their_own_sessions() {
    let h = Harness::new();
    let mut other = conn(PortType::GeneralPurpose, true);
    let elsewhere = open(&h, &mut other).await;
    let mut c = conn(PortType::CreateOnly, true);
    let mine = open(&h, &mut c).await;
    let sub = |sid: &str, id: u32| {
        format!(
            "control\r\nLS_session={sid}&LS_reqId={id}&LS_op=add&LS_subId={id}&LS_group=a&LS_schema=f&LS_mode=RAW"
        )
    };
    assert_eq!(
        lines(&h, &mut c, &sub(&mine.session, 1)).await,
        "REQOK,1\r\n"
    );
    let refused = lines(&h, &mut c, &sub(&elsewhere.session, 2)).await;
    assert!(
        refused.starts_with(&format!("REQERR,2,{},", code::PORT_TYPE)),
        "{refused}"
    );
    // Over HTTP a CREATE_ONLY listener controls nothing.
    let mut http_conn = conn(PortType::CreateOnly, false);
    let batch = parse_http(
        "control",
        "",
        &format!(
            "LS_session={}&LS_reqId=3&LS_op=delete&LS_subId=1",
            mine.session
        ),
    )
    .unwrap();
    match h.engine.handle(&mut http_conn, batch).await {
        Answer::Lines(l) => assert!(
            l.starts_with(&format!("REQERR,3,{},", code::PORT_TYPE)),
            "{l}"
        ),
        Answer::Stream(_) => panic!("stream"),
        Answer::Cut => panic!("cut"),
    }
}

#[tokio::test]
async fn control_only_listeners_refuse_creation() {
    let h = Harness::new();
    let mut c = conn(PortType::ControlOnly, false);
    let batch = parse_http("create_session", "", &format!("LS_adapter_set={SET}")).unwrap();
    match h.engine.handle(&mut c, batch).await {
        Answer::Lines(l) => assert!(
            l.starts_with(&format!("CONERR,{},", code::PORT_TYPE)) && l.contains("test listener"),
            "{l}"
        ),
        Answer::Stream(_) => panic!("a session was created on a CONTROL_ONLY listener"),
        Answer::Cut => panic!("cut"),
    }
}

#[tokio::test]
async fn unknown_adapter_set_has_the_official_words() {
    let h = Harness::new();
    let mut c = conn(PortType::GeneralPurpose, false);
    let batch = parse_http("create_session", "", "LS_adapter_set=NOPE").unwrap();
    match h.engine.handle(&mut c, batch).await {
        Answer::Lines(l) => assert_eq!(l, "CONERR,2,Requested Adapter Set not available\r\n"),
        Answer::Stream(_) => panic!("stream"),
        Answer::Cut => panic!("cut"),
    }
}

/// Control requests of one session run one at a time, in arrival order,
/// even from several connections: a subscription whose metadata call is
/// held up is not overtaken by its own deletion sent on another connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sessions_requests_are_not_overtaken_across_connections() {
    let h = Arc::new(Harness::new());
    let mut c = conn(PortType::GeneralPurpose, true);
    let client = open(&h, &mut c).await;
    let gate = h.data.gate("+a");
    let sid = client.session.clone();
    let add = {
        let h = h.clone();
        let sid = sid.clone();
        tokio::spawn(async move {
            let mut c = conn(PortType::GeneralPurpose, false);
            let batch = parse_http(
                "control",
                "",
                &format!(
                    "LS_session={sid}&LS_reqId=1&LS_op=add&LS_subId=7&LS_group=a&LS_schema=f&LS_mode=RAW"
                ),
            )
            .unwrap();
            h.engine.handle(&mut c, batch).await
        })
    };
    // The add holds the session's turn while the data adapter is busy.
    let gate = tokio::task::spawn_blocking(move || {
        gate.wait_entered();
        gate
    })
    .await
    .unwrap();
    let delete = {
        let h = h.clone();
        tokio::spawn(async move {
            let mut c = conn(PortType::GeneralPurpose, false);
            let batch = parse_http(
                "control",
                "",
                &format!("LS_session={sid}&LS_reqId=2&LS_op=delete&LS_subId=7"),
            )
            .unwrap();
            h.engine.handle(&mut c, batch).await
        })
    };
    // Give the delete every chance to overtake: it must still be waiting.
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert!(!delete.is_finished(), "the delete overtook the add");
    gate.open();
    let (a, d) = (add.await.unwrap(), delete.await.unwrap());
    match (a, d) {
        (Answer::Lines(a), Answer::Lines(d)) => {
            assert_eq!(a, "REQOK,1\r\n");
            assert_eq!(d, "REQOK,2\r\n", "the delete found no subscription");
        }
        _ => panic!("streams"),
    }
}

/// A client that does not read its stream while it keeps sending control
/// requests (over other connections) is refused once what it has not read
/// fills its recovery log, instead of growing it; reading makes room again.
#[tokio::test]
async fn requests_of_a_session_whose_client_reads_nothing_are_refused() {
    let h = Harness::with_config(shoal_engine::EngineConfig {
        recovery_max_bytes: 4096,
        ..shoal_engine::EngineConfig::default()
    });
    let mut c = conn(PortType::GeneralPurpose, true);
    let mut client = open(&h, &mut c).await;
    let sid = client.session.clone();
    let mut refused = None;
    for i in 1..=1000u32 {
        let add = format!("LS_op=add&LS_subId={i}&LS_group=a&LS_schema=f&LS_mode=RAW");
        if let Err(e) = h.control(&sid, &add).await {
            refused = Some((i, e));
            break;
        }
        h.ok(&sid, &format!("LS_op=delete&LS_subId={i}")).await;
    }
    let (i, (code, message)) = refused.expect("nothing was refused");
    assert_eq!(code, code::INTERNAL_LIMIT, "{message}");
    // SUBOK, CONF and UNSUB are about 40 bytes each with their bookkeeping:
    // about 4 KiB of them, not 1000 pairs.
    assert!(i < 100, "refused only after {i} subscriptions");
    let held = h.engine.session(&sid).map(|s| s.buffered_bytes());
    assert!(held.unwrap_or(0) < 16 * 1024, "{held:?} bytes held");
    // Reading the stream makes room.
    client.chunk().await;
    h.ok(
        &sid,
        "LS_op=add&LS_subId=5000&LS_group=a&LS_schema=f&LS_mode=RAW",
    )
    .await;
}
