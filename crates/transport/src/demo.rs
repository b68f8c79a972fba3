//! The demo front-ends (`shoal_web::Tree::Demo`), served at `/` when the
//! listener has `demo_pages` and no `<pages_dir>` of the user's own.
//!
//! The files are embedded in the binary, so there is no file system to
//! escape from: a path either names an embedded file exactly or is not
//! found. Like the user's pages, only GET and HEAD are answered, and a
//! folder asked for without its final `/` is redirected to it so that the
//! page's relative links (`../lib/lightstreamer.min.js`) resolve.

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use shoal_web::Tree;

/// Answers one request for a demo page.
pub(crate) async fn serve(method: Method, uri: Uri) -> Response {
    if let Some(refusal) = crate::pages::only_reads(&method) {
        return refusal;
    }
    // Paths of the tree are relative: `/stocks/` is `stocks/`.
    let path = uri.path().strip_prefix('/').unwrap_or(uri.path());
    if let Some(asset) = shoal_web::lookup(Tree::Demo, path) {
        return send(asset, method == Method::HEAD);
    }
    if !path.is_empty() && !path.ends_with('/') && shoal_web::is_folder(Tree::Demo, path) {
        return redirect(&format!("/{path}/"));
    }
    crate::not_found(method, uri).await
}

fn send(asset: shoal_web::Asset, head: bool) -> Response {
    // HEAD tells the length of what GET would send, without sending it.
    let length = asset.bytes.len();
    let body = if head {
        Body::empty()
    } else {
        Body::from(asset.bytes)
    };
    let mut resp = Response::new(body);
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    // The pages change with the binary: a browser asks again each time
    // instead of keeping an old page that loads a newer script.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut resp = StatusCode::MOVED_PERMANENTLY.into_response();
            resp.headers_mut().insert(header::LOCATION, v);
            resp
        }
        // Only reached for a folder of the embedded tree, whose names are
        // plain ASCII; answered as unknown all the same.
        Err(_) => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}
