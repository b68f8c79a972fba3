//! Pages that Shoal serves itself, embedded in the binary:
//!
//! - `demo/`: the demo front-ends of the `DEMO` adapter set, served at `/`;
//! - `dashboard/`: the monitor console, served at `<dashboard_url_path>`;
//! - the official Lightstreamer web client (`lightstreamer.min.js`, the npm
//!   package `lightstreamer-client-web`, pinned in `npm/package-lock.json`
//!   and installed by the build, never committed), which both load as
//!   `lib/lightstreamer.min.js` relative to their own folder.
//!
//! Transports look files up here; what is allowed to be served where is
//! decided by the caller.

/// Every file under `assets/`: (path relative to `assets/`, contents).
static ASSETS: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// `lightstreamer.min.js` of the pinned `lightstreamer-client-web`.
static CLIENT: &[u8] = include!(concat!(env!("OUT_DIR"), "/client.rs"));

/// The path, under a tree, at which pages load the web client.
pub const CLIENT_PATH: &str = "lib/lightstreamer.min.js";

/// The version of the embedded web client (the one pinned by the lock).
pub const CLIENT_VERSION: &str = "9.2.3";

/// A tree of embedded pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    Demo,
    Dashboard,
}

impl Tree {
    fn prefix(self) -> &'static str {
        match self {
            Tree::Demo => "demo/",
            Tree::Dashboard => "dashboard/",
        }
    }
}

/// An embedded file, with the `Content-Type` its name implies.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    pub bytes: &'static [u8],
    pub content_type: &'static str,
}

/// The file at `path` of `tree` (a path relative to the tree's root, without
/// a leading `/`; the empty path and paths ending in `/` name `index.html`).
/// `lib/lightstreamer.min.js` is the web client in every tree.
pub fn lookup(tree: Tree, path: &str) -> Option<Asset> {
    let path = if path.is_empty() || path.ends_with('/') {
        format!("{path}index.html")
    } else {
        path.to_owned()
    };
    if path == CLIENT_PATH {
        return Some(Asset {
            bytes: CLIENT,
            content_type: content_type(&path),
        });
    }
    let full = format!("{}{path}", tree.prefix());
    ASSETS
        .iter()
        .find(|(name, _)| *name == full)
        .map(|(_, bytes)| Asset {
            bytes,
            content_type: content_type(&path),
        })
}

/// Whether `path` of `tree` is a folder with an `index.html` (so a request
/// for it without the final `/` can be redirected).
pub fn is_folder(tree: Tree, path: &str) -> bool {
    let full = format!("{}{}/index.html", tree.prefix(), path.trim_end_matches('/'));
    ASSETS.iter().any(|(name, _)| *name == full)
}

fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
    match ext {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_web_client_is_the_pinned_one() {
        let client = lookup(Tree::Demo, CLIENT_PATH).unwrap();
        let head = String::from_utf8_lossy(&client.bytes[..400]);
        assert!(
            head.contains(&format!("Version {CLIENT_VERSION}")),
            "{head}"
        );
        assert_eq!(client.content_type, "text/javascript; charset=utf-8");
    }

    #[test]
    fn folders_serve_their_index_and_nothing_else_leaks() {
        assert!(lookup(Tree::Demo, "").is_some());
        assert!(lookup(Tree::Dashboard, "").is_some());
        assert!(lookup(Tree::Demo, "../dashboard/index.html").is_none());
        assert!(lookup(Tree::Demo, "no-such-page.html").is_none());
    }
}
