//! Listeners that carry TLCP between clients and the engine: HTTP (streaming
//! and long polling, control requests) and WebSocket, on the same port.
//! Transports decide how bytes move; the engine's streams decide what to send.

mod client_ip;
pub mod console;
mod control_link;
mod demo;
mod http;
mod listener;
mod metrics;
mod origin;
mod pages;
mod pipe;
mod publish;
mod serve;
mod timeouts;
mod ws;

pub use listener::{Handshakes, Peer};
pub use metrics::render as render_metrics;
pub use serve::serve;
pub use timeouts::Timeouts;
pub use tokio_rustls::TlsAcceptor;

pub use control_link::ControlLinkRule;
pub use origin::{canonical_host, HostRule, OriginPolicy, OriginRule};

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use shoal_engine::{BindContext, Connection, Engine};
use std::net::SocketAddr;
use std::sync::Arc;

pub use shoal_engine::PortType;

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
    /// Whether the embedded demo front-ends are served at `/` (and at every
    /// path not otherwise routed). A `pages_dir` takes precedence: the
    /// user's own pages are never hidden by the demo.
    pub demo_pages: bool,
    /// Whether `/lightstreamer/healthcheck` answers on this listener, and
    /// the probes `/livez` and `/readyz`.
    pub healthcheck: bool,
    /// `skip_local_forwards`: `X-Forwarded-For` entries written by our own
    /// proxies; 0 ignores the header.
    pub trusted_forwards: u32,
    /// `<cross_domain_policy>`: which browser pages may use this listener.
    pub origins: OriginPolicy,
    /// Time limits of the listener's connections.
    pub timeouts: Timeouts,
    /// The monitor console, when this listener serves it (`None`: its path
    /// is not found here).
    pub console: Option<std::sync::Arc<console::Console>>,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        Self {
            server_name: "Shoal".into(),
            control_link: ControlLinkRule::default(),
            port_type: PortType::GeneralPurpose,
            trusted_forwards: 0,
            pages_dir: None,
            demo_pages: false,
            healthcheck: true,
            origins: OriginPolicy::default(),
            timeouts: Timeouts::default(),
            console: None,
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
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect();
        BindContext {
            client_ip: ip.to_string(),
            client_port: peer.port(),
            headers: headers.into(),
            control_link: self.listener.control_link.resolve(host),
            server_name: self.listener.server_name.clone(),
            websocket,
        }
    }

    /// A connection for the engine's request pipeline.
    pub fn connection(&self, peer: SocketAddr, websocket: bool, headers: &HeaderMap) -> Connection {
        Connection::new(
            &self.listener.server_name,
            self.listener.port_type,
            websocket,
            self.bind_context(peer, websocket, headers),
        )
    }
}

/// The `Host` header of a request, if readable.
pub(crate) fn host_header(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::HOST).and_then(|h| h.to_str().ok())
}

/// The routes of a TLCP listener.
pub fn router(engine: Arc<Engine>, listener: ListenerConfig) -> Router {
    let pages = listener.pages_dir.clone();
    let demo_pages = listener.demo_pages;
    let state = AppState {
        engine,
        listener: Arc::new(listener),
    };
    // Requests of refused origins never reach the TLCP handler.
    let gate = axum::middleware::from_fn_with_state(state.clone(), origin::gate);
    let tlcp = Router::new()
        .route("/lightstreamer", get(ws::upgrade))
        .route("/lightstreamer/healthcheck", get(healthcheck))
        // The same answer as the health check, under the name Kubernetes
        // and HAProxy configurations use.
        .route("/readyz", get(healthcheck))
        .route("/livez", get(metrics::livez))
        .route("/metrics", get(metrics::metrics))
        .route(
            "/publish",
            post(publish::handle).layer(axum::extract::DefaultBodyLimit::max(publish::BODY_LIMIT)),
        )
        .route("/lightstreamer/{request}", any(http::request).layer(gate));
    let tlcp = console::mount(tlcp, state.listener.console.as_ref());
    match pages {
        Some(dir) => tlcp
            .fallback(
                move |method: Method, uri: axum::http::Uri, headers: HeaderMap| {
                    pages::serve(dir.clone(), method, uri, headers)
                },
            )
            .with_state(state),
        None if demo_pages => tlcp.fallback(demo::serve).with_state(state),
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
    if !st.engine.is_accepting() {
        return (StatusCode::SERVICE_UNAVAILABLE, "DRAINING").into_response();
    }
    // Data adapters that must be ready for the node to serve (a broker feed
    // with healthcheck_requires_broker): the balancer takes the node out.
    let unready = st.engine.unready_adapters();
    if unready.is_empty() {
        (StatusCode::OK, "OK").into_response()
    } else {
        let body = format!("UNAVAILABLE\n{}\n", unready.join("\n"));
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}

async fn index() -> &'static str {
    "Shoal push server. Lightstreamer clients connect to this address (TLCP at /lightstreamer).\n"
}

pub(crate) async fn not_found(method: Method, uri: axum::http::Uri) -> Response {
    let body = format!("no resource at {method} {}\n", uri.path());
    (StatusCode::NOT_FOUND, body).into_response()
}

/// Headers of every TLCP answer: never cached, never buffered by proxies.
/// CORS headers are added by [`origin::gate`] for the origins it allows.
pub(crate) fn tlcp_headers(out: &mut HeaderMap) {
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
}
