//! The monitor console's routes: redirect, page, web client, token, and the
//! access check in front of them (loopback, forwarded requests, users),
//! through the router and once through a real socket.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use base64::Engine as _;
use http_body_util::BodyExt;
use shoal_engine::{Engine, EngineConfig};
use shoal_transport::console::{Console, ConsoleAccess, ConsoleUser};
use shoal_transport::{router, serve, Handshakes, ListenerConfig, Peer};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

fn listener(console: Option<ConsoleAccess>) -> ListenerConfig {
    ListenerConfig {
        console: console.map(|a| Arc::new(Console::new(a, TOKEN.into()))),
        ..ListenerConfig::default()
    }
}

fn access(users: &[(&str, &str)]) -> ConsoleAccess {
    ConsoleAccess {
        path: "/dashboard".into(),
        public: false,
        users: users
            .iter()
            .map(|(id, pw)| ConsoleUser {
                id: (*id).into(),
                password: (*pw).into(),
            })
            .collect(),
    }
}

fn app(conf: ListenerConfig) -> axum::Router {
    let engine = Engine::new(EngineConfig::default(), vec![shoal_demo::adapter_set()]);
    router(engine, conf)
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn get(app: &axum::Router, peer: &str, uri: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = Request::get(uri);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let mut req = req.body(Body::empty()).unwrap();
    let peer: SocketAddr = peer.parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(Peer(peer)));
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn header<'a>(a: &'a Answer, name: &str) -> &'a str {
    a.headers.get(name).map_or("", |v| v.to_str().unwrap())
}

const LOCAL: &str = "127.0.0.1:50000";
const FAR: &str = "198.51.100.7:50000";

#[tokio::test]
async fn from_loopback_the_path_redirects_and_the_page_is_served() {
    let app = app(listener(Some(access(&[]))));
    let a = get(&app, LOCAL, "/dashboard", &[]).await;
    assert_eq!(a.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(header(&a, "location"), "/dashboard/");
    assert_eq!(header(&a, "cache-control"), "no-store");

    let a = get(&app, LOCAL, "/dashboard/", &[]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(header(&a, "content-type").starts_with("text/html"));
    assert!(
        a.body.contains("<title>Shoal monitor console"),
        "{}",
        a.body
    );
    assert_eq!(header(&a, "cache-control"), "no-store");

    let a = get(
        &app,
        "[::1]:50000",
        "/dashboard/lib/lightstreamer.min.js",
        &[],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(header(&a, "content-type").contains("javascript"));
    assert!(a.body.len() > 10_000);

    let a = get(&app, LOCAL, "/dashboard/no-such-file.js", &[]).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_token_is_json_for_the_console_user() {
    let app = app(listener(Some(access(&[]))));
    let a = get(&app, LOCAL, "/dashboard/token", &[]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(header(&a, "content-type"), "application/json");
    assert_eq!(header(&a, "cache-control"), "no-store");
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["user"], "console");
    assert_eq!(v["password"], TOKEN);
    // Refused clients do not get it.
    let a = get(&app, FAR, "/dashboard/token", &[]).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(!a.body.contains(TOKEN));
}

#[tokio::test]
async fn a_forwarded_request_without_users_is_forbidden_with_the_fix() {
    let app = app(listener(Some(access(&[]))));
    // A balancer on this host: loopback peer, but a forwarded client.
    let a = get(
        &app,
        LOCAL,
        "/dashboard/",
        &[("x-forwarded-for", "203.0.113.9")],
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.body.contains("loopback"), "{}", a.body);
    assert!(a.body.contains("<dashboard><user>"), "{}", a.body);
    assert_eq!(header(&a, "cache-control"), "no-store");
    assert_eq!(header(&a, "www-authenticate"), "");
    let a = get(&app, FAR, "/dashboard", &[]).await;
    assert_eq!(
        a.status,
        StatusCode::FORBIDDEN,
        "the redirect is guarded too"
    );
}

#[tokio::test]
async fn with_users_a_far_client_is_asked_for_basic_credentials() {
    let app = app(listener(Some(access(&[("ops", "s3cret")]))));
    let a = get(&app, FAR, "/dashboard/", &[]).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&a, "www-authenticate"),
        "Basic realm=\"Shoal monitor console\""
    );
    assert!(a.body.contains("Credentials are required"), "{}", a.body);

    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let good = format!("Basic {}", b64("ops:s3cret"));
    let a = get(&app, FAR, "/dashboard/", &[("authorization", &good)]).await;
    assert_eq!(a.status, StatusCode::OK);
    let bad = format!("Basic {}", b64("ops:wrong"));
    let a = get(&app, FAR, "/dashboard/", &[("authorization", &bad)]).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_public_console_is_open_to_all() {
    let mut open = access(&[]);
    open.public = true;
    let app = app(listener(Some(open)));
    let a = get(&app, FAR, "/dashboard/", &[("x-forwarded-for", "1.2.3.4")]).await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn a_listener_without_the_console_answers_404() {
    let app = app(listener(None));
    for uri in ["/dashboard", "/dashboard/", "/dashboard/token"] {
        let a = get(&app, LOCAL, uri, &[]).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{uri}");
    }
}

#[tokio::test]
async fn the_path_follows_the_configuration() {
    let mut moved = access(&[]);
    moved.path = "/ops/console".into();
    let app = app(listener(Some(moved)));
    assert_eq!(
        get(&app, LOCAL, "/dashboard/", &[]).await.status,
        StatusCode::NOT_FOUND
    );
    let a = get(&app, LOCAL, "/ops/console", &[]).await;
    assert_eq!(header(&a, "location"), "/ops/console/");
    assert_eq!(
        get(&app, LOCAL, "/ops/console/", &[]).await.status,
        StatusCode::OK
    );
}

/// Through a real connection: the peer address the listener sees decides.
#[tokio::test]
async fn through_a_socket_loopback_gets_the_page() {
    let engine = Engine::new(EngineConfig::default(), vec![shoal_demo::adapter_set()]);
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let server = tokio::spawn(serve(
        tcp,
        Handshakes::default(),
        engine,
        listener(Some(access(&[]))),
    ));
    let raw = |extra: &str| {
        format!("GET /dashboard/token HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n")
    };
    let ask = |request: String| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    };
    let ok = ask(raw("")).await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(ok.contains(TOKEN), "{ok}");
    let refused = ask(raw("X-Forwarded-For: 203.0.113.9\r\n")).await;
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
    server.abort();
}
