//! Static pages: content types, index pages, no way out of the folder, and
//! TLCP paths still served by the server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use shoal_engine::{Engine, EngineConfig};
use shoal_transport::{router, ListenerConfig};
use std::path::PathBuf;
use tower::ServiceExt;

fn site(test: &str) -> (PathBuf, axum::Router) {
    let root = std::env::temp_dir().join(format!("shoal-pages-{}-{test}", std::process::id()));
    let pages = root.join("pages");
    std::fs::create_dir_all(pages.join("docs")).unwrap();
    std::fs::write(pages.join("index.html"), "<h1>home</h1>").unwrap();
    std::fs::write(pages.join("app.js"), "console.log(1)").unwrap();
    std::fs::write(pages.join("docs/index.html"), "<p>docs</p>").unwrap();
    std::fs::write(root.join("secret.txt"), "do not serve").unwrap();
    let engine = Engine::new(EngineConfig::default(), vec![shoal_demo::adapter_set()]);
    let listener = ListenerConfig {
        pages_dir: Some(pages),
        ..ListenerConfig::default()
    };
    (root, router(engine, listener))
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, Option<String>, String) {
    let res = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let ctype = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, ctype, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn serves_pages_with_their_types() {
    let (root, app) = site("types");
    let (s, t, b) = get(&app, "/").await;
    assert_eq!((s, b.as_str()), (StatusCode::OK, "<h1>home</h1>"));
    assert!(t.unwrap().starts_with("text/html"));
    let (s, t, _) = get(&app, "/app.js").await;
    assert_eq!(s, StatusCode::OK);
    assert!(t.unwrap().contains("javascript"));
    let (s, _, b) = get(&app, "/docs/").await;
    assert_eq!((s, b.as_str()), (StatusCode::OK, "<p>docs</p>"));
    assert_eq!(get(&app, "/missing.html").await.0, StatusCode::NOT_FOUND);
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn never_leaves_the_folder() {
    let (root, app) = site("traversal");
    for uri in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/docs/../../secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
    ] {
        let (s, _, b) = get(&app, uri).await;
        assert_ne!(s, StatusCode::OK, "{uri} was served");
        assert!(!b.contains("do not serve"), "{uri} leaked the file");
    }
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn hidden_files_links_out_and_bare_folders_are_not_found() {
    let (root, app) = site("hidden");
    let pages = root.join("pages");
    std::fs::create_dir_all(pages.join(".git")).unwrap();
    std::fs::write(pages.join(".git/config"), "secret").unwrap();
    std::fs::write(pages.join(".env"), "secret").unwrap();
    std::fs::create_dir_all(pages.join("empty")).unwrap();
    std::os::unix::fs::symlink(root.join("secret.txt"), pages.join("out.txt")).unwrap();
    std::os::unix::fs::symlink(&root, pages.join("up")).unwrap();
    std::os::unix::fs::symlink(pages.join(".env"), pages.join("env.txt")).unwrap();
    std::os::unix::fs::symlink(pages.join("app.js"), pages.join("alias.js")).unwrap();
    for uri in [
        "/.git/config",
        "/.env",
        "/%2eenv",
        "/docs/../.env",
        "/out.txt",
        "/up/secret.txt",
        "/env.txt",
        "/empty/",
        "/empty",
        "//docs/",
    ] {
        let (s, _, b) = get(&app, uri).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{uri}");
        assert!(!b.contains("secret"), "{uri} leaked a file");
    }
    // A link that stays inside is a page like any other.
    let (s, _, b) = get(&app, "/alias.js").await;
    assert_eq!((s, b.as_str()), (StatusCode::OK, "console.log(1)"));
    // A folder asked without its final slash is redirected to it.
    let res = app
        .clone()
        .oneshot(Request::get("/docs").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(res.headers()["location"], "/docs/");
    // Pages are read, not written.
    let res = app
        .clone()
        .oneshot(Request::post("/index.html").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn tlcp_paths_still_belong_to_the_server() {
    let (root, app) = site("tlcp");
    let (s, _, b) = get(&app, "/lightstreamer/healthcheck").await;
    assert_eq!((s, b.as_str()), (StatusCode::OK, "OK"));
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn healthcheck_can_be_turned_off_per_listener() {
    let engine = Engine::new(EngineConfig::default(), vec![shoal_demo::adapter_set()]);
    let on = router(engine.clone(), ListenerConfig::default());
    let off = router(
        engine,
        ListenerConfig {
            healthcheck: false,
            ..ListenerConfig::default()
        },
    );
    assert_eq!(
        get(&on, "/lightstreamer/healthcheck").await.0,
        StatusCode::OK
    );
    assert_eq!(
        get(&off, "/lightstreamer/healthcheck").await.0,
        StatusCode::NOT_FOUND
    );
}
