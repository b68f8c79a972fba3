//! The embedded demo pages at `/`: served only when the listener asks for
//! them and has no pages of the user's own; read-only; folders redirected;
//! the official web client at `/lib/lightstreamer.min.js`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use shoal_engine::{Engine, EngineConfig};
use shoal_transport::{router, ListenerConfig};
use tower::ServiceExt;

fn app(listener: ListenerConfig) -> axum::Router {
    let engine = Engine::new(EngineConfig::default(), vec![shoal_demo::adapter_set()]);
    router(engine, listener)
}

fn demo() -> axum::Router {
    app(ListenerConfig {
        demo_pages: true,
        ..ListenerConfig::default()
    })
}

async fn call(app: &axum::Router, method: Method, uri: &str) -> Response<Body> {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    app.clone().oneshot(req).await.unwrap()
}

async fn text(res: Response<Body>) -> String {
    let body = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&body).into_owned()
}

fn header<'a>(res: &'a Response<Body>, name: &str) -> &'a str {
    res.headers().get(name).map_or("", |v| v.to_str().unwrap())
}

#[tokio::test]
async fn pages_are_served_with_their_types() {
    let app = demo();
    for (uri, ctype, marker) in [
        ("/", "text/html; charset=utf-8", "stocks/"),
        ("/stocks/", "text/html; charset=utf-8", "stocks.js"),
        ("/chat/", "text/html; charset=utf-8", "chat.js"),
        (
            "/stocks/stocks.js",
            "text/javascript; charset=utf-8",
            "QUOTE_ADAPTER",
        ),
        (
            "/chat/chat.js",
            "text/javascript; charset=utf-8",
            "CHAT_ROOM",
        ),
        ("/style.css", "text/css; charset=utf-8", "--accent"),
        ("/favicon.svg", "image/svg+xml", "<svg"),
    ] {
        let res = call(&app, Method::GET, uri).await;
        assert_eq!(res.status(), StatusCode::OK, "{uri}");
        assert_eq!(header(&res, "content-type"), ctype, "{uri}");
        assert_eq!(header(&res, "cache-control"), "no-cache", "{uri}");
        assert_eq!(header(&res, "x-content-type-options"), "nosniff", "{uri}");
        assert!(text(res).await.contains(marker), "{uri} lacks {marker}");
    }
}

#[tokio::test]
async fn the_web_client_is_served_beside_the_pages() {
    let res = call(&demo(), Method::GET, "/lib/lightstreamer.min.js").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        header(&res, "content-type"),
        "text/javascript; charset=utf-8"
    );
    let body = text(res).await;
    let version = format!("Version {}", shoal_web::CLIENT_VERSION);
    assert!(body[..400].contains(&version), "{}", &body[..400]);
}

#[tokio::test]
async fn head_tells_the_length_without_the_body() {
    let app = demo();
    let get = call(&app, Method::GET, "/stocks/").await;
    let length = text(get).await.len();
    let head = call(&app, Method::HEAD, "/stocks/").await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, "content-length"), length.to_string());
    assert_eq!(text(head).await, "");
}

#[tokio::test]
async fn folders_without_their_slash_are_redirected() {
    let app = demo();
    for (uri, location) in [("/stocks", "/stocks/"), ("/chat", "/chat/")] {
        let res = call(&app, Method::GET, uri).await;
        assert_eq!(res.status(), StatusCode::MOVED_PERMANENTLY, "{uri}");
        assert_eq!(header(&res, "location"), location);
    }
}

#[tokio::test]
async fn unknown_paths_are_not_found() {
    let app = demo();
    for uri in [
        "/nothing.html",
        "/stocks/nothing.js",
        "/nothing/",
        "/../dashboard/index.html",
        "/%2e%2e/dashboard/index.html",
        "/stocks/lib/lightstreamer.min.js",
    ] {
        let res = call(&app, Method::GET, uri).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{uri}");
        assert!(text(res).await.starts_with("no resource at GET"), "{uri}");
    }
}

#[tokio::test]
async fn pages_are_only_read() {
    let app = demo();
    for method in [Method::POST, Method::PUT, Method::DELETE] {
        let res = call(&app, method.clone(), "/").await;
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(header(&res, "allow"), "GET, HEAD");
    }
}

#[tokio::test]
async fn tlcp_paths_still_belong_to_the_server() {
    let res = call(&demo(), Method::GET, "/lightstreamer/healthcheck").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(text(res).await, "OK");
}

#[tokio::test]
async fn the_users_pages_win_over_the_demo() {
    let dir = std::env::temp_dir().join(format!("shoal-demo-pages-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>mine</h1>").unwrap();
    let app = app(ListenerConfig {
        demo_pages: true,
        pages_dir: Some(dir.clone()),
        ..ListenerConfig::default()
    });
    assert_eq!(
        text(call(&app, Method::GET, "/").await).await,
        "<h1>mine</h1>"
    );
    // Nothing of the demo shows through the user's folder.
    for uri in ["/stocks/", "/lib/lightstreamer.min.js"] {
        let res = call(&app, Method::GET, uri).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{uri}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn without_the_demo_the_root_is_one_line_of_text() {
    let app = app(ListenerConfig::default());
    let res = call(&app, Method::GET, "/").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(text(res).await.starts_with("Shoal push server."));
    for uri in ["/stocks/", "/lib/lightstreamer.min.js"] {
        let res = call(&app, Method::GET, uri).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{uri}");
    }
}
