//! `MONITOR` through the engine: who gets a session, the CONOK without
//! control link, and the items a console subscribes to.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use shoal_engine::{BindContext, Engine, EngineConfig, Stream};
use shoal_monitor::{AdapterInfo, Monitor, NodeInfo, Policy};
use shoal_protocol::request::CreateSession;
use shoal_protocol::{parse_http, Request};
use shoal_transport::console::ConsoleAccess;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

fn engine() -> (Arc<Engine>, Monitor) {
    let node = NodeInfo {
        name: "node-1".into(),
        version: "0.1.0".into(),
        pid: std::process::id(),
        started: SystemTime::now(),
        listeners: vec!["A=127.0.0.1:0 (http)".into()],
        control_link: Some("push.example.com".into()),
        console_url: String::new(),
    };
    let policy = Policy {
        access: ConsoleAccess {
            path: "/dashboard".into(),
            public: false,
            users: vec![],
        },
        token: "tok".into(),
        listeners: vec!["A".into()],
        trusts_forwards: false,
    };
    let adapters = vec![AdapterInfo {
        set: "MONITOR".into(),
        adapter: "DEFAULT".into(),
        kind: "monitor".into(),
    }];
    let (monitor, set) = Monitor::new(node, policy, adapters);
    (Engine::new(EngineConfig::default(), vec![set]), monitor)
}

fn create(params: &str) -> CreateSession {
    let body = format!("LS_adapter_set=MONITOR&LS_cid=test{params}");
    match parse_http("create_session", "", &body)
        .unwrap()
        .requests
        .into_iter()
        .next()
    {
        Some(Ok(Request::CreateSession(c))) => c,
        other => panic!("{other:?}"),
    }
}

fn ctx(ip: &str, listener: &str, headers: &[(&str, &str)]) -> BindContext {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    BindContext {
        client_ip: ip.into(),
        client_port: 40000,
        headers: headers.into(),
        control_link: Some("push.example.com".into()),
        server_name: listener.into(),
        websocket: true,
    }
}

async fn head(stream: &mut Stream) -> String {
    tokio::time::timeout(Duration::from_secs(5), stream.next_chunk())
        .await
        .expect("no head in time")
        .expect("the stream ended")
}

#[tokio::test]
async fn a_local_client_gets_a_session_without_control_link() {
    let (engine, _monitor) = engine();
    let mut s = engine
        .create_session(&create(""), &ctx("127.0.0.1", "A", &[]))
        .await
        .unwrap();
    let head = head(&mut s).await;
    let conok = head.lines().next().unwrap();
    assert!(
        conok.starts_with("CONOK,") && conok.ends_with(",*"),
        "{head}"
    );
}

#[tokio::test]
async fn a_forwarded_client_is_refused_unless_it_has_the_token() {
    let (engine, _monitor) = engine();
    let far = ctx("127.0.0.1", "A", &[("x-forwarded-for", "203.0.113.9")]);
    let (code, message) = engine.create_session(&create(""), &far).await.unwrap_err();
    assert_eq!(code, 1, "{message}");
    assert!(message.contains("local clients"), "{message}");
    let far = ctx("203.0.113.9", "A", &[]);
    assert!(engine.create_session(&create(""), &far).await.is_err());
    let with_token = create("&LS_user=console&LS_password=tok");
    assert!(engine.create_session(&with_token, &far).await.is_ok());
}

#[tokio::test]
async fn a_listener_without_the_console_refuses_sessions() {
    let (engine, _monitor) = engine();
    let (code, message) = engine
        .create_session(&create(""), &ctx("127.0.0.1", "B", &[]))
        .await
        .unwrap_err();
    assert_eq!(code, 1);
    assert!(
        message.contains("not available on listener \"B\""),
        "{message}"
    );
}

#[tokio::test]
async fn the_sampler_counts_sessions_into_stats() {
    let (engine, monitor) = engine();
    let _sampler = monitor.start(&engine);
    let mut s = engine
        .create_session(&create(""), &ctx("127.0.0.1", "A", &[]))
        .await
        .unwrap();
    head(&mut s).await;
    let id = engine.session_ids().pop().unwrap();
    let sub = "LS_reqId=1&LS_op=add&LS_subId=1&LS_mode=MERGE&LS_group=stats&LS_schema=sessions%20items&LS_data_adapter=DEFAULT&LS_snapshot=true";
    control(&engine, &id, sub).await;
    // Until a sample counts this session (the sampler ticks each second).
    let mut seen = String::new();
    read_until(&mut s, &mut seen, |l| l.starts_with("U,1,1,1|")).await;
}

/// Sends one control request (`LS_op=...` parameters) of session `id`.
async fn control(engine: &Engine, id: &str, params: &str) {
    let req = match parse_http("control", "", &format!("LS_session={id}&{params}"))
        .unwrap()
        .requests
        .into_iter()
        .next()
    {
        Some(Ok(Request::Control(c))) => c,
        other => panic!("{other:?}"),
    };
    engine.control(id, req).await.unwrap();
}

/// Reads `stream` until a line satisfies `pred`, or fails after 5 s with
/// what was read.
async fn read_until(stream: &mut Stream, seen: &mut String, pred: impl Fn(&str) -> bool) {
    let found = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let Some(chunk) = stream.next_chunk().await else {
                return false;
            };
            seen.push_str(&chunk);
            if seen.lines().any(&pred) {
                return true;
            }
        }
    })
    .await;
    assert_eq!(found, Ok(true), "{seen}");
}

#[tokio::test]
async fn the_sessions_item_lists_sessions_as_they_come_and_go() {
    let (engine, monitor) = engine();
    let _sampler = monitor.start(&engine);
    let mut s = engine
        .create_session(
            &create(""),
            &ctx("127.0.0.1", "A", &[("user-agent", "console/1")]),
        )
        .await
        .unwrap();
    let mut seen = head(&mut s).await;
    let id = engine.session_ids().pop().unwrap();
    let sub = "LS_reqId=1&LS_op=add&LS_subId=1&LS_mode=COMMAND&LS_group=sessions&LS_schema=key%20command%20client_ip%20transport%20user_agent&LS_data_adapter=DEFAULT&LS_snapshot=true";
    control(&engine, &id, sub).await;
    // The snapshot lists this very session, bound over WebSocket.
    let own = format!("U,1,1,{id}|ADD|127.0.0.1|WS-STREAMING|console/1");
    read_until(&mut s, &mut seen, |l| l == own).await;

    // Another session: the sampler adds it within a tick or two.
    let other = engine
        .create_session(&create(""), &ctx("127.0.0.2", "A", &[]))
        .await
        .unwrap();
    let other_id = engine.session_ids().into_iter().find(|s| *s != id).unwrap();
    let added = format!("U,1,1,{other_id}|ADD|127.0.0.2|WS-STREAMING|$"); // `$`: an empty value
    read_until(&mut s, &mut seen, |l| l == added).await;

    // It closes: the sampler deletes it.
    engine.close(&engine.session(&other_id).unwrap(), 31, "test");
    drop(other);
    let deleted = format!("U,1,1,{other_id}|DELETE|");
    read_until(&mut s, &mut seen, |l| l.starts_with(&deleted)).await;
}
