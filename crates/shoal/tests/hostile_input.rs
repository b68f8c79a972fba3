//! Hostile input against the real server: numbers chosen to overflow the
//! engine's arithmetic, paths chosen to leave the pages folder, origins the
//! policy refuses, an adapter set that does not exist. Each is answered
//! cleanly, nothing panics, and the connections that asked stay usable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use futures_util::SinkExt;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);

/// One HTTP/1.1 exchange whose answer must end (polling, errors, pages).
async fn http(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    match http_exchange(server, method, path, headers, body).await {
        (reply, Some(Ok(_))) => reply,
        (_, Some(Err(e))) => panic!("reading the answer failed: {e}"),
        (_, None) => panic!("the answer did not end"),
    }
}

/// A polling `create_session` (its answer ends at once).
const POLL_CREATE: &str =
    "LS_adapter_set=DEMO&LS_cid=hostile&LS_polling=true&LS_polling_millis=0&LS_idle_millis=0";

fn assert_no_panic(server: &Server) {
    let log = server.log();
    assert!(
        !log.iter().any(|l| l.contains("panicked")),
        "the server panicked:\n{}",
        log.join("\n")
    );
}

/// Sends one control request on a WebSocket and returns its answer line.
async fn control(ws: &mut Ws, req_id: &str, params: &str) -> String {
    ws.send(Message::text(format!(
        "control\r\nLS_reqId={req_id}&{params}"
    )))
    .await
    .unwrap();
    let ok = format!("REQOK,{req_id}");
    let err = format!("REQERR,{req_id},");
    // Stream lines may come first; a LOOP among them is remembered, since
    // the test waits for it later.
    let looped = std::cell::Cell::new(false);
    let answer = ws_until(ws, WAIT, |l| {
        if l.starts_with("LOOP") {
            looped.set(true);
        }
        l == ok || l.starts_with(&err)
    })
    .await;
    if looped.get() {
        LOOP_SEEN.with(|s| s.set(true));
    }
    answer
}

thread_local! {
    /// Whether [`control`] read past a `LOOP` while waiting for an answer.
    static LOOP_SEEN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[tokio::test]
async fn hostile_numbers_are_answered_and_the_connection_lives_on() {
    let server = Server::start(&[]);
    let bystander = Bystander::start(&server, 20).await;
    let (mut ws, session) = ws_session(&server).await;

    // The frequency that overflowed the clock: raised to the floor.
    let counter = "LS_group=rate-200&LS_schema=seq%20ts&LS_data_adapter=COUNTER";
    let tiny = "LS_requested_max_frequency=0.0000000000000000001";
    // The stream's CONF and the answer's REQOK share the socket in either
    // order (they are written separately): wait for both.
    ws.send(Message::text(format!(
        "control\r\nLS_reqId=1&LS_op=add&LS_subId=1&{counter}&LS_mode=MERGE&{tiny}"
    )))
    .await
    .unwrap();
    let (mut acked, mut conf) = (false, None);
    while !acked || conf.is_none() {
        let l = ws_until(&mut ws, WAIT, |l| {
            l == "REQOK,1" || l.starts_with("CONF,1,") || l.starts_with("REQERR,1,")
        })
        .await;
        match l.as_str() {
            "REQOK,1" => acked = true,
            _ if l.starts_with("CONF,") => conf = Some(l),
            _ => panic!("the subscription was refused: {l}"),
        }
    }
    assert_eq!(conf.as_deref(), Some("CONF,1,0.001,filtered"));
    // The first update goes at once; the next ones wait for their slot.
    ws_until(&mut ws, WAIT, |l| l.starts_with("U,1,1,")).await;
    let r = control(&mut ws, "2", &format!("LS_op=reconf&LS_subId=1&{tiny}")).await;
    assert_eq!(r, "REQOK,2");

    // Values at the edges of what the parser takes, or past them.
    let cases: &[(&str, &str)] = &[
        ("LS_op=add&LS_subId=2&LS_group=rate-200&LS_schema=seq&LS_data_adapter=COUNTER&LS_mode=MERGE&LS_requested_max_frequency=999999999999999999999999", "REQOK"),
        ("LS_op=add&LS_subId=3&LS_group=rate-200&LS_schema=seq&LS_data_adapter=COUNTER&LS_mode=MERGE&LS_requested_buffer_size=999999999999999999", "REQOK"),
        ("LS_op=add&LS_subId=4&LS_group=rate-200&LS_schema=seq&LS_data_adapter=COUNTER&LS_mode=DISTINCT&LS_snapshot=999999999999999999", "REQOK"),
        ("LS_op=add&LS_subId=5&LS_group=rate-200&LS_schema=seq&LS_data_adapter=COUNTER&LS_mode=MERGE&LS_requested_max_frequency=0", "65,LS_requested_max_frequency"),
        ("LS_op=add&LS_subId=5&LS_group=rate-200&LS_schema=seq&LS_data_adapter=COUNTER&LS_mode=MERGE&LS_requested_buffer_size=9999999999999999999", "65,LS_requested_buffer_size"),
        ("LS_op=add&LS_subId=4294967296&LS_group=rate-200&LS_schema=seq&LS_data_adapter=COUNTER&LS_mode=RAW", "65,LS_subId"),
        ("LS_op=force_rebind&LS_polling_millis=999999999999999999", "REQOK"),
    ];
    for (i, (params, expected)) in cases.iter().enumerate() {
        let id = format!("h{i}");
        let answer = control(&mut ws, &id, params).await;
        if *expected == "REQOK" {
            assert_eq!(answer, format!("REQOK,{id}"), "{params}");
        } else {
            let (code, param) = expected.split_once(',').unwrap();
            assert!(
                answer.starts_with(&format!("REQERR,{id},{code},")) && answer.contains(param),
                "{params}: {answer}"
            );
        }
    }
    // force_rebind ended the stream (LOOP, before or after its REQOK); bind
    // again with extreme values.
    if !LOOP_SEEN.with(|s| s.get()) {
        ws_until(&mut ws, WAIT, |l| l.starts_with("LOOP")).await;
    }
    ws.send(Message::text(format!(
        "bind_session\r\nLS_session={session}&LS_keepalive_millis=999999999999999999&LS_content_length=999999999999999999&LS_inactivity_millis=999999999999999999"
    )))
    .await
    .unwrap();
    ws_until(&mut ws, WAIT, |l| l.starts_with("CONOK")).await;
    // Messages with the largest progressive and wait.
    ws.send(Message::text(
        "msg\r\nLS_reqId=m1&LS_message=CHAT%7Chi&LS_sequence=S&LS_msg_prog=999999999999999999&LS_max_wait=999999999999999999",
    ))
    .await
    .unwrap();
    ws_until(&mut ws, WAIT, |l| l == "REQOK,m1").await;
    // The stream still carries updates: the connection task is alive.
    let mut seen = 0;
    while seen < 20 {
        ws_until(&mut ws, WAIT, |l| {
            l.starts_with("U,2,") || l.starts_with("U,3,")
        })
        .await;
        seen += 1;
    }

    // Over HTTP: a polling session with extreme stream options, a recovery
    // point far past the end, and a destroy with the lowest cause code.
    let r = http(
        &server,
        "POST",
        "/lightstreamer/create_session.txt?LS_protocol=TLCP-2.5.0",
        &[],
        "LS_adapter_set=DEMO&LS_cid=x&LS_polling=true&LS_idle_millis=0&LS_content_length=999999999999999999&LS_keepalive_millis=999999999999999999&LS_polling_millis=999999999999999999",
    )
    .await;
    assert!(r.body.starts_with("CONOK,"), "{r:?}");
    let sid = r.body[6..].split(',').next().unwrap().to_owned();
    let r = http(
        &server,
        "POST",
        "/lightstreamer/bind_session.txt?LS_protocol=TLCP-2.5.0",
        &[],
        &format!(
            "LS_session={sid}&LS_polling=true&LS_idle_millis=0&LS_recovery_from=999999999999999999"
        ),
    )
    .await;
    assert!(r.body.starts_with("CONERR,4,"), "{r:?}");
    let (_, id2) = ws_session(&server).await;
    let r = http(
        &server,
        "POST",
        "/lightstreamer/control.txt?LS_protocol=TLCP-2.5.0",
        &[],
        &format!("LS_reqId=d&LS_session={id2}&LS_op=destroy&LS_cause_code=-2147483648&LS_cause_message=bye"),
    )
    .await;
    assert_eq!(r.body, "REQOK,d\r\n");

    assert_no_panic(&server);
    bystander.finish(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn unknown_adapter_set_gets_the_official_text() {
    let server = Server::start(&[]);
    let r = http(
        &server,
        "POST",
        "/lightstreamer/create_session.txt?LS_protocol=TLCP-2.5.0",
        &[],
        "LS_adapter_set=NO_SUCH_SET&LS_cid=x",
    )
    .await;
    assert_eq!(r.body, "CONERR,2,Requested Adapter Set not available\r\n");
    // The name asked for is in the log, not on the wire.
    server.wait_log("NO_SUCH_SET", WAIT);
}

/// A configuration folder (removed on drop) with a pages folder beside the
/// configuration: pages, a dot-folder, a dotfile, and links that lead out.
struct Site {
    conf: ConfDir,
}

impl Site {
    fn new(test: &str, policy: &str) -> Site {
        let conf = ConfDir::new(
            test,
            &format!(
                "<web_server><enabled>Y</enabled><pages_dir>pages</pages_dir></web_server>\n{policy}"
            ),
        );
        let root = &conf.dir;
        let pages = root.join("pages");
        std::fs::create_dir_all(pages.join("docs")).unwrap();
        std::fs::create_dir_all(pages.join("empty")).unwrap();
        std::fs::create_dir_all(pages.join(".git")).unwrap();
        std::fs::write(pages.join("index.html"), "<h1>home</h1>").unwrap();
        std::fs::write(pages.join("docs/index.html"), "<p>docs</p>").unwrap();
        std::fs::write(pages.join(".git/config"), "secret-git").unwrap();
        std::fs::write(pages.join(".env"), "secret-env").unwrap();
        std::fs::write(root.join("outside.txt"), "secret-outside").unwrap();
        std::os::unix::fs::symlink(root.join("outside.txt"), pages.join("link.txt")).unwrap();
        std::os::unix::fs::symlink("/etc", pages.join("etc")).unwrap();
        Site { conf }
    }

    fn start(&self) -> Server {
        self.conf.start()
    }
}

#[tokio::test]
async fn pages_stay_in_their_folder() {
    let site = Site::new("pages", "");
    let server = site.start();
    let r = http(&server, "GET", "/", &[], "").await;
    assert_eq!((r.status, r.body.as_str()), (200, "<h1>home</h1>"), "{r:?}");
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let r = http(&server, "GET", "/docs/", &[], "").await;
    assert_eq!((r.status, r.body.as_str()), (200, "<p>docs</p>"));
    let r = http(&server, "HEAD", "/docs/index.html", &[], "").await;
    assert_eq!(r.status, 200);
    for path in [
        "/link.txt",
        "/etc/passwd",
        "/etc/hostname",
        "/.git/config",
        "/.env",
        "/%2eenv",
        "/../outside.txt",
        "/%2e%2e/outside.txt",
        "/docs/%2e%2e/%2e%2e/outside.txt",
        "/docs/..%2f..%2foutside.txt",
        "/empty/",
        "/empty",
        "/missing.html",
    ] {
        let r = http(&server, "GET", path, &[], "").await;
        assert_eq!(r.status, 404, "{path}: {r:?}");
        assert!(
            !r.body.contains("secret") && !r.body.contains("root:"),
            "{path} leaked: {r:?}"
        );
    }
    assert_no_panic(&server);
}

/// Two rules: HTTPS subdomains of allowed.example on any port, and one
/// exact HTTP origin.
const POLICY: &str =
    "<cross_domain_policy accept_extra_headers=\"X-Token\" options_max_age=\"120\">\n\
    <allow_access_from scheme=\"https\" host=\"*.allowed.example\" port=\"*\"/>\n\
    <allow_access_from scheme=\"http\" host=\"pages.example\" port=\"8080\"/>\n\
    </cross_domain_policy>";

async fn create_from(server: &Server, origin: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = origin.map(|o| ("Origin", o)).into_iter().collect();
    http(
        server,
        "POST",
        "/lightstreamer/create_session.txt?LS_protocol=TLCP-2.5.0",
        &headers,
        POLL_CREATE,
    )
    .await
}

/// A WebSocket handshake's HTTP status (101 when upgraded).
async fn ws_status(server: &Server, origin: &str) -> u16 {
    match tokio_tungstenite::connect_async(ws_request(server, &[("Origin", origin)])).await {
        Ok((_, resp)) => resp.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("handshake failed: {e}"),
    }
}

#[tokio::test]
async fn origins_follow_the_cross_domain_policy() {
    let site = Site::new("origins", POLICY);
    let server = site.start();
    let own = format!("http://{}", server.addr);
    for origin in [
        "https://app.allowed.example",
        "https://a.b.allowed.example:8443",
        "http://pages.example:8080",
        own.as_str(),
    ] {
        let r = create_from(&server, Some(origin)).await;
        assert!(r.body.starts_with("CONOK,"), "{origin}: {r:?}");
        assert_eq!(r.header("access-control-allow-origin"), Some(origin));
        assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
        assert_eq!(ws_status(&server, origin).await, 101, "{origin}");
    }
    for origin in [
        "https://evil.example",
        "https://allowed.example",
        "http://app.allowed.example",
        "http://pages.example",
        "https://pages.example:8080",
        "null",
    ] {
        let r = create_from(&server, Some(origin)).await;
        assert_eq!(r.status, 200, "{origin}: {r:?}");
        assert_eq!(r.body, "", "{origin}: {r:?}");
        assert!(
            !r.headers
                .iter()
                .any(|(k, _)| k.starts_with("access-control-")),
            "{origin}: {r:?}"
        );
        assert_eq!(ws_status(&server, origin).await, 403, "{origin}");
    }
    // Without Origin (the Node and Python clients): always served.
    let r = create_from(&server, None).await;
    assert!(r.body.starts_with("CONOK,"), "{r:?}");
    assert_eq!(r.header("access-control-allow-origin"), None);
    let (mut ws, _) = ws_session(&server).await;
    let a = control(&mut ws, "1", "LS_op=add&LS_subId=1&LS_group=item1&LS_schema=last_price&LS_data_adapter=QUOTE_ADAPTER&LS_mode=MERGE").await;
    assert_eq!(a, "REQOK,1");

    // A preflight gets the policy's headers and age.
    let r = http(
        &server,
        "OPTIONS",
        "/lightstreamer/create_session.txt",
        &[
            ("Origin", "https://app.allowed.example"),
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "content-type, x-token, x-secret",
            ),
        ],
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.allowed.example")
    );
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("content-type, x-token")
    );
    assert_eq!(r.header("access-control-max-age"), Some("120"));
    assert_no_panic(&server);
}

#[tokio::test]
async fn without_a_policy_only_the_own_origin_and_no_origin_pass() {
    // A configuration file without <cross_domain_policy>.
    let site = Site::new("nopolicy", "");
    let server = site.start();
    let own = format!("http://{}", server.addr);
    assert_eq!(ws_status(&server, &own).await, 101);
    assert_eq!(ws_status(&server, "http://evil.example").await, 403);
    let r = create_from(&server, Some(&own)).await;
    assert!(r.body.starts_with("CONOK,"), "{r:?}");
    let r = create_from(&server, Some("http://evil.example")).await;
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    let r = create_from(&server, None).await;
    assert!(r.body.starts_with("CONOK,"), "{r:?}");
}

#[tokio::test]
async fn three_stars_accept_every_origin() {
    let site = Site::new(
        "stars",
        "<cross_domain_policy><allow_access_from scheme=\"*\" host=\"*\" port=\"*\"/></cross_domain_policy>",
    );
    let server = site.start();
    for origin in ["http://a.example", "https://b.example:9", "null"] {
        let r = create_from(&server, Some(origin)).await;
        assert!(r.body.starts_with("CONOK,"), "{origin}: {r:?}");
        assert_eq!(ws_status(&server, origin).await, 101, "{origin}");
    }
}

/// Without a configuration file every origin may use the server, as with
/// Lightstreamer's factory configuration.
#[tokio::test]
async fn without_a_configuration_any_origin_is_allowed() {
    let server = Server::start(&[]);
    let origin = "http://localhost:3000";
    let r = create_from(&server, Some(origin)).await;
    assert!(r.body.starts_with("CONOK,"), "{r:?}");
    assert_eq!(r.header("access-control-allow-origin"), Some(origin));
    assert_eq!(ws_status(&server, origin).await, 101);
}

/// WebSocket handshakes that are not RFC 6455's are refused with the
/// status that says what is missing, and the server stays up.
#[tokio::test]
async fn malformed_websocket_handshakes_are_refused_clearly() {
    let server = Server::start(&[]);
    let upgrade = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Protocol", "TLCP-2.5.0.lightstreamer.com"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut h: Vec<(&str, &str)> = upgrade.to_vec();
        h.extend_from_slice(extra);
        h
    };
    // No upgrade at all: 426, naming the upgrade to make.
    let (r, _) = http_exchange(&server, "GET", "/lightstreamer", &[], "").await;
    assert_eq!(r.status, 426, "{r:?}");
    assert_eq!(r.header("upgrade"), Some("websocket"));
    // Another WebSocket version: 426 with the one supported.
    let h = with(&[
        ("Sec-WebSocket-Version", "8"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ]);
    let (r, _) = http_exchange(&server, "GET", "/lightstreamer", &h, "").await;
    assert_eq!(r.status, 426, "{r:?}");
    assert_eq!(r.header("sec-websocket-version"), Some("13"));
    // No key: 400.
    let h = with(&[("Sec-WebSocket-Version", "13")]);
    let (r, _) = http_exchange(&server, "GET", "/lightstreamer", &h, "").await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body.contains("Sec-WebSocket-Key"), "{}", r.body);
    // (A valid one is what every official client test opens.)
    let (r, _) = http_exchange(&server, "GET", "/", &[], "").await;
    assert_eq!(r.status, 200, "the server is still up: {r:?}");
}
