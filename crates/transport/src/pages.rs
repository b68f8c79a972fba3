//! The internal web server: static pages from `<web_server><pages_dir>`.
//!
//! Only what is inside the folder is served, and never its hidden parts:
//!
//! - the path is percent-decoded first, then split on `/`, so an encoded
//!   `%2e%2e` or `%2f` is judged like the character it stands for;
//! - a segment starting with `.` is refused: `..`, `.`, dotfiles (`.env`)
//!   and dot-folders (`.git/config`);
//! - the file is resolved through its symbolic links and must still be
//!   inside the (resolved) folder, with no dot segment on the way: a link
//!   to `/etc` or to `../secret` is refused, a link to another page is not;
//! - a folder serves its `index.html` (a request without the final `/` is
//!   redirected to it, so relative links work) and is never listed.
//!
//! Every refusal is a plain 404, whatever its reason, so that a client
//! cannot probe what exists outside. Only GET and HEAD are answered. The
//! file itself goes through tower-http's `ServeFile`: content type from the
//! extension, ranges, conditional requests.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use std::path::{Component, Path, PathBuf};
use tower::ServiceExt;
use tower_http::services::ServeFile;

/// Answers one request for a page under `dir`.
pub(crate) async fn serve(dir: PathBuf, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if let Some(refusal) = only_reads(&method) {
        return refusal;
    }
    match locate(&dir, uri.path()).await {
        Found::File(path) => send(path, method, uri, headers).await,
        Found::Folder => {
            // Only reached for a folder with an index.html, so the redirect
            // tells nothing a 404 would hide. The path starts with a single
            // `/` (checked by locate), so the target stays on this server.
            let location = format!("{}/", uri.path());
            match HeaderValue::from_str(&location) {
                Ok(v) => {
                    let mut resp = StatusCode::MOVED_PERMANENTLY.into_response();
                    resp.headers_mut().insert(header::LOCATION, v);
                    resp
                }
                Err(_) => not_found(),
            }
        }
        Found::Nothing => not_found(),
    }
}

/// The 405 for anything but GET and HEAD (static pages, ours or the
/// user's, are only read); `None` lets the request through.
pub(crate) fn only_reads(method: &Method) -> Option<Response> {
    if method == Method::GET || method == Method::HEAD {
        return None;
    }
    let mut resp = (StatusCode::METHOD_NOT_ALLOWED, "pages are read with GET\n").into_response();
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    Some(resp)
}

/// What a request path names.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    /// A file to send (its resolved path).
    File(PathBuf),
    /// A folder with an index, asked without the final `/`.
    Folder,
    Nothing,
}

async fn locate(dir: &Path, raw_path: &str) -> Found {
    let Some(segments) = segments(raw_path) else {
        return Found::Nothing;
    };
    let Ok(root) = tokio::fs::canonicalize(dir).await else {
        return Found::Nothing;
    };
    let mut path = root.clone();
    path.extend(&segments);
    let Some(target) = inside(&root, &path).await else {
        return Found::Nothing;
    };
    let Ok(meta) = tokio::fs::metadata(&target).await else {
        return Found::Nothing;
    };
    if meta.is_file() {
        return Found::File(target);
    }
    // A folder: its index.html, which must be inside too (it may be a link).
    let Some(index) = inside(&root, &target.join("index.html")).await else {
        return Found::Nothing;
    };
    if !tokio::fs::metadata(&index).await.is_ok_and(|m| m.is_file()) {
        return Found::Nothing;
    }
    if raw_path.ends_with('/') {
        Found::File(index)
    } else {
        Found::Folder
    }
}

/// The decoded segments of a request path, or `None` if one is refused
/// (hidden, `.`/`..`, a separator or NUL smuggled in by encoding, not
/// UTF-8). Empty segments (`//`, the final `/`) are skipped, but a path
/// must start with exactly one `/`.
fn segments(raw_path: &str) -> Option<Vec<String>> {
    if !raw_path.starts_with('/') || raw_path.starts_with("//") {
        return None;
    }
    let decoded = percent_decode_str(raw_path).decode_utf8().ok()?;
    let mut out = Vec::new();
    for seg in decoded.split('/').filter(|s| !s.is_empty()) {
        if seg.starts_with('.') || seg.contains(['\\', '\0']) {
            return None;
        }
        out.push(seg.to_owned());
    }
    Some(out)
}

/// `path` with its links resolved, if it exists and is still under `root`
/// (itself resolved) without any hidden segment.
async fn inside(root: &Path, path: &Path) -> Option<PathBuf> {
    let real = tokio::fs::canonicalize(path).await.ok()?;
    let rest = real.strip_prefix(root).ok()?;
    let hidden = rest.components().any(|c| match c {
        Component::Normal(name) => name.to_string_lossy().starts_with('.'),
        _ => true,
    });
    (!hidden).then_some(real)
}

async fn send(path: PathBuf, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let mut req = Request::new(Body::empty());
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    match ServeFile::new(path).oneshot(req).await {
        Ok(resp) => {
            let mut resp = resp.map(Body::new);
            resp.headers_mut().insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            resp
        }
        Err(never) => match never {},
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_refuse_hidden_and_smuggled_parts() {
        assert_eq!(segments("/"), Some(vec![]));
        assert_eq!(
            segments("/docs/a%20b.html"),
            Some(vec!["docs".to_owned(), "a b.html".to_owned()])
        );
        for bad in [
            "/../x",
            "/%2e%2e/x",
            "/%2E%2E/x",
            "/a/..%2fx",
            "/.git/config",
            "/a/.env",
            "/./a",
            "//evil.example/",
            "/a%5c..%5cx",
            "/a%00b",
            "/%ff",
            "relative",
        ] {
            assert_eq!(segments(bad), None, "{bad}");
        }
    }
}
