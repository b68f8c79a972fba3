//! `shoal serve` puts the demo pages at `/` when it serves the embedded
//! `DEMO` adapter set and the configuration has no pages of its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{http_exchange, ConfDir, Server};
use std::time::Duration;

#[tokio::test]
async fn with_no_configuration_the_demo_is_at_the_root() {
    let server = Server::start(&[]);
    server.wait_log(
        &format!("demo pages at http://{}/", server.addr),
        Duration::from_secs(10),
    );
    let (page, _) = http_exchange(&server, "GET", "/stocks/", &[], "").await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.body.contains("stocks.js"), "{}", page.body);
    let (client, _) = http_exchange(&server, "HEAD", "/lib/lightstreamer.min.js", &[], "").await;
    assert_eq!(client.status, 200);
    let (folder, _) = http_exchange(&server, "GET", "/chat", &[], "").await;
    assert_eq!(folder.status, 301);
    assert_eq!(folder.header("location"), Some("/chat/"));
}

#[tokio::test]
async fn a_configuration_with_pages_keeps_its_own() {
    let conf = ConfDir::new(
        "demo-pages",
        "<web_server><enabled>Y</enabled><pages_dir>pages</pages_dir></web_server>",
    );
    std::fs::create_dir_all(conf.dir.join("pages")).unwrap();
    std::fs::write(conf.dir.join("pages/index.html"), "<h1>ours</h1>").unwrap();
    let server = conf.start();
    let (root, _) = http_exchange(&server, "GET", "/", &[], "").await;
    assert_eq!((root.status, root.body.as_str()), (200, "<h1>ours</h1>"));
    let (demo, _) = http_exchange(&server, "GET", "/stocks/", &[], "").await;
    assert_eq!(demo.status, 404);
}
