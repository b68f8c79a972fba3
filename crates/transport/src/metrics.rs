//! `GET /metrics` (the node's statistics for Prometheus) and the probes
//! `GET /livez` and `GET /readyz`.
//!
//! `/metrics` tells much about a node (its load, its adapters), so it is
//! served to loopback clients only, as the client address is computed for
//! TLCP (with the listener's trusted forwards): a Prometheus on the same
//! host or scraping through a local proxy that forwards the client address.
//! [`local_only`] is the one place that decides; the monitor console's
//! access policy (credentials, `<public>`) is meant to replace it.

mod exposition;

pub use exposition::render;

use crate::{client_ip, not_found, AppState, Peer};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};

/// The body of the 403 for a client that is not on this host.
pub(crate) const NOT_LOCAL: &str = "metrics are served to loopback clients only; configure <dashboard> credentials or <public>Y</public>\n";

/// `GET /metrics`.
pub(crate) async fn metrics(
    State(st): State<AppState>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if !st.listener.metrics {
        return not_found(Method::GET, uri).await;
    }
    if let Some(refusal) = local_only(peer, &headers, st.listener.trusted_forwards) {
        return refusal;
    }
    match render(st.engine.stats()) {
        Ok(body) => {
            let mut resp = body.into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(exposition::CONTENT_TYPE),
            );
            resp
        }
        Err(e) => {
            tracing::error!("cannot encode /metrics: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot encode the metrics\n",
            )
                .into_response()
        }
    }
}

/// The 403 to answer when the request's client (the connection's address,
/// or the `X-Forwarded-For` entry the listener trusts) is not on this
/// host; `None` lets the request through.
pub(crate) fn local_only(
    peer: SocketAddr,
    headers: &HeaderMap,
    trusted_forwards: u32,
) -> Option<Response> {
    let client: IpAddr = client_ip::client_ip(peer, headers, trusted_forwards);
    if client.is_loopback() {
        return None;
    }
    tracing::info!(client = %client, "/metrics refused: not a loopback client");
    Some((StatusCode::FORBIDDEN, NOT_LOCAL).into_response())
}

/// `GET /livez`: the process serves. Still 200 while draining: a liveness
/// probe that failed would have the node restarted, cutting the sessions
/// it is letting go of gently.
pub(crate) async fn livez(State(st): State<AppState>, uri: Uri) -> Response {
    if !st.listener.healthcheck {
        return not_found(Method::GET, uri).await;
    }
    (StatusCode::OK, "OK").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn forwarded(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert("x-forwarded-for", v);
        }
        h
    }

    fn allowed(peer: &str, xff: &str, hops: u32) -> bool {
        let peer: SocketAddr = peer.parse().unwrap_or(([0, 0, 0, 0], 0).into());
        local_only(peer, &forwarded(xff), hops).is_none()
    }

    #[test]
    fn only_loopback_clients_pass() {
        assert!(allowed("127.0.0.1:5000", "", 0));
        assert!(allowed("[::1]:5000", "", 0));
        // An IPv4 client on a dual-stack socket.
        assert!(allowed("[::ffff:127.0.0.1]:5000", "", 0));
        assert!(!allowed("192.0.2.7:5000", "", 0));
        // Through a local proxy that forwards the client's address.
        assert!(!allowed("127.0.0.1:5000", "192.0.2.7", 1));
        assert!(allowed("127.0.0.1:5000", "127.0.0.1", 1));
        // An untrusted header changes nothing.
        assert!(!allowed("192.0.2.7:5000", "127.0.0.1", 0));
    }
}
