//! The monitor console's pages, served under `<dashboard_url_path>` on the
//! listeners where it is available (docs/monitor.md):
//!
//! - `{path}` redirects to `{path}/`;
//! - `{path}/` is the page, `{path}/lib/lightstreamer.min.js` the official
//!   web client, other files come from `shoal-web`'s dashboard tree;
//! - `{path}/token` gives the page its login to the `MONITOR` adapter set;
//! - `{path}/status.json` is the node's status document (docs/monitor.md),
//!   which peers poll for their cluster view.
//!
//! Every answer goes through [`ConsoleAccess::check`] first and is never
//! cached. On a listener without the console none of these routes exist,
//! so the path answers 404 like any unknown one.

mod access;
mod refusals;

pub use refusals::RefusalLog;

pub use access::{
    basic_credentials, is_local, Access, ConsoleAccess, ConsoleUser, FORBIDDEN_FIX, REALM,
};

use crate::AppState;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use shoal_web::Tree;
use std::sync::Arc;

/// The user name the page logs into `MONITOR` with, the token being its
/// password.
pub const TOKEN_USER: &str = "console";

/// Gives the node's status document as JSON; `None` until there is one.
pub type StatusSource = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// The console of one node, shared by the listeners that serve it.
/// `Debug` hides the token.
pub struct Console {
    pub access: ConsoleAccess,
    /// The password of [`TOKEN_USER`] (see `shoal_monitor::new_token`).
    pub token: String,
    refusals: RefusalLog,
    /// Set once the monitor exists (after the listeners are bound).
    status: std::sync::OnceLock<StatusSource>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("access", &self.access)
            .finish_non_exhaustive()
    }
}

impl Console {
    pub fn new(access: ConsoleAccess, token: String) -> Self {
        Self {
            access,
            token,
            refusals: RefusalLog::default(),
            status: std::sync::OnceLock::new(),
        }
    }

    /// Where `status.json` comes from; only the first call counts.
    pub fn set_status(&self, source: StatusSource) {
        let _ = self.status.set(source);
    }
}

/// Adds the console's routes when the listener serves it.
pub(crate) fn mount(router: Router<AppState>, console: Option<&Arc<Console>>) -> Router<AppState> {
    let Some(console) = console else {
        return router;
    };
    let path = console.access.path.clone();
    router
        .route(&path, get(redirect))
        .route(&format!("{path}/"), get(index))
        .route(&format!("{path}/{{*file}}"), get(file))
}

async fn redirect(st: State<AppState>, peer: ConnectInfo<crate::Peer>, h: HeaderMap) -> Response {
    guarded(&st, peer, &h, |console| {
        let to = format!("{}/", console.access.path);
        let mut res = StatusCode::MOVED_PERMANENTLY.into_response();
        if let Ok(to) = HeaderValue::from_str(&to) {
            res.headers_mut().insert(header::LOCATION, to);
        }
        res
    })
}

async fn index(st: State<AppState>, peer: ConnectInfo<crate::Peer>, h: HeaderMap) -> Response {
    guarded(&st, peer, &h, |_| asset(""))
}

async fn file(
    st: State<AppState>,
    peer: ConnectInfo<crate::Peer>,
    h: HeaderMap,
    Path(file): Path<String>,
) -> Response {
    guarded(&st, peer, &h, |console| {
        if file == "token" {
            token(console)
        } else if file == "status.json" {
            status(console)
        } else {
            asset(&file)
        }
    })
}

/// Answers with `answer` if the client may open the console, with 401 or
/// 403 if not; never cached either way. `/metrics` goes through it too.
pub(crate) fn guarded(
    st: &AppState,
    ConnectInfo(crate::Peer(peer)): ConnectInfo<crate::Peer>,
    headers: &HeaderMap,
    answer: impl FnOnce(&Console) -> Response,
) -> Response {
    let Some(console) = st.listener.console.as_ref() else {
        // Not mounted without a console; kept total for safety.
        return StatusCode::NOT_FOUND.into_response();
    };
    let trusted = st.listener.trusted_forwards;
    let client = crate::client_ip::client_ip(peer, headers, trusted);
    let mut res = match console.access.check(client, headers, trusted) {
        Access::Allow => answer(console),
        refused => {
            if console.refusals.should_log(client) {
                tracing::info!(client = %client, listener = %st.listener.server_name, ?refused, "monitor console or /metrics refused (logged once a minute per client)");
            }
            refusal(refused)
        }
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn refusal(access: Access) -> Response {
    match access {
        Access::Forbidden(fix) => (StatusCode::FORBIDDEN, format!("{fix}\n")).into_response(),
        _ => {
            let challenge = format!("Basic realm=\"{REALM}\"");
            let body = "Credentials are required to open the Shoal monitor console.\n";
            let mut res = (StatusCode::UNAUTHORIZED, body).into_response();
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            res
        }
    }
}

fn asset(file: &str) -> Response {
    match shoal_web::lookup(Tree::Dashboard, file) {
        Some(a) => ([(header::CONTENT_TYPE, a.content_type)], a.bytes).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "no such file of the monitor console\n",
        )
            .into_response(),
    }
}

fn token(console: &Console) -> Response {
    let body = serde_json::json!({ "user": TOKEN_USER, "password": console.token });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The status document, or 503 before the first sample.
fn status(console: &Console) -> Response {
    match console.status.get().and_then(|source| source()) {
        Some(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the node has not been sampled yet\n",
        )
            .into_response(),
    }
}
