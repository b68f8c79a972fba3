//! Listeners that carry TLCP between clients and the engine: HTTP (streaming
//! and long polling, control requests) and WebSocket, on the same port.
//! Transports decide how bytes move; the engine's streams decide what to send.

mod client_ip;
mod control_link;
mod http;
mod listener;
mod serve;
mod timeouts;
mod ws;

pub use listener::{Handshakes, Peer};
pub use serve::serve;
pub use timeouts::Timeouts;
pub use tokio_rustls::TlsAcceptor;

pub use control_link::ControlLinkRule;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use shoal_engine::{BindContext, Engine};
use std::net::SocketAddr;
use std::sync::Arc;
use tower_http::services::ServeDir;

/// What requests a listener takes (`<port_type>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PortType {
    #[default]
    GeneralPurpose,
    /// Only session creation ("S" connections), and what follows on a
    /// WebSocket that created its session.
    CreateOnly,
    /// Only control and rebind requests ("CR" connections).
    ControlOnly,
}

impl PortType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GeneralPurpose => "GENERAL_PURPOSE",
            Self::CreateOnly => "CREATE_ONLY",
            Self::ControlOnly => "CONTROL_ONLY",
        }
    }
}

/// Settings of one listener.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// The listener's name: `SERVNAME` sent to clients.
    pub server_name: String,
    /// How the control link of `CONOK` is chosen.
    pub control_link: ControlLinkRule,
    pub port_type: PortType,
    /// A folder of static pages served at `/` (`<web_server><pages_dir>`).
    pub pages_dir: Option<std::path::PathBuf>,
    /// Whether `/lightstreamer/healthcheck` answers on this listener.
    pub healthcheck: bool,
    /// `skip_local_forwards`: `X-Forwarded-For` entries written by our own
    /// proxies; 0 ignores the header.
    pub trusted_forwards: u32,
    /// Time limits of the listener's connections.
    pub timeouts: Timeouts,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        Self {
            server_name: "Shoal".into(),
            control_link: ControlLinkRule::default(),
            port_type: PortType::GeneralPurpose,
            trusted_forwards: 0,
            pages_dir: None,
            healthcheck: true,
            timeouts: Timeouts::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub engine: Arc<Engine>,
    pub listener: Arc<ListenerConfig>,
}

impl AppState {
    pub fn bind_context(
        &self,
        peer: SocketAddr,
        websocket: bool,
        headers: &HeaderMap,
    ) -> BindContext {
        let ip = client_ip::client_ip(peer, headers, self.listener.trusted_forwards);
        let host = host_header(headers);
        BindContext {
            client_ip: ip.to_string(),
            control_link: self.listener.control_link.resolve(host),
            server_name: self.listener.server_name.clone(),
            websocket,
        }
    }
}

/// The `Host` header of a request, if readable.
pub(crate) fn host_header(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::HOST).and_then(|h| h.to_str().ok())
}

/// Refusal of a request the listener's port type does not take (code 70).
pub(crate) fn port_type_refusal(listener: &ListenerConfig, what: &str) -> (i32, String) {
    (
        70,
        format!(
            "{what} is not allowed on listener '{}' (port_type {})",
            listener.server_name,
            listener.port_type.as_str()
        ),
    )
}

/// The routes of a TLCP listener.
pub fn router(engine: Arc<Engine>, listener: ListenerConfig) -> Router {
    let pages = listener.pages_dir.clone();
    let state = AppState {
        engine,
        listener: Arc::new(listener),
    };
    let tlcp = Router::new()
        .route("/lightstreamer", get(ws::upgrade))
        .route("/lightstreamer/healthcheck", get(healthcheck))
        .route("/lightstreamer/{request}", any(http::request));
    match pages {
        // ServeDir picks content types by extension, serves index.html for
        // folders, and refuses paths that leave the folder.
        Some(dir) => tlcp
            .fallback_service(ServeDir::new(dir).append_index_html_on_directories(true))
            .with_state(state),
        None => tlcp
            .route("/", get(index))
            .fallback(not_found)
            .with_state(state),
    }
}

async fn healthcheck(State(st): State<AppState>, uri: axum::http::Uri) -> Response {
    if !st.listener.healthcheck {
        // As Lightstreamer: only on the listeners <healthcheck> names.
        return not_found(Method::GET, uri).await;
    }
    if st.engine.is_accepting() {
        (StatusCode::OK, "OK").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "DRAINING").into_response()
    }
}

async fn index() -> &'static str {
    "Shoal push server. Lightstreamer clients connect to this address (TLCP at /lightstreamer).\n"
}

async fn not_found(method: Method, uri: axum::http::Uri) -> Response {
    let body = format!("no resource at {method} {}\n", uri.path());
    (StatusCode::NOT_FOUND, body).into_response()
}

/// Headers of every TLCP answer: never cached, never buffered by proxies,
/// readable by browser pages of other origins (the web client sends cookies).
pub(crate) fn tlcp_headers(req_headers: &HeaderMap, out: &mut HeaderMap) {
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/enriched; charset=UTF-8"),
    );
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache, no-transform"),
    );
    out.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    out.insert("x-accel-buffering", HeaderValue::from_static("no"));
    cors_headers(req_headers, out);
}

pub(crate) fn cors_headers(req_headers: &HeaderMap, out: &mut HeaderMap) {
    if let Some(origin) = req_headers.get(header::ORIGIN) {
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        out.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}
