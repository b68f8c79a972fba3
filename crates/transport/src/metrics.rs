//! `GET /metrics` (the node's statistics for Prometheus) and the probes
//! `GET /livez` and `GET /readyz`.
//!
//! `/metrics` tells much about a node (its load, its adapters), so it is
//! served where the monitor console is, to whom may open the console
//! (`<dashboard>`: local clients, configured users with HTTP Basic, or
//! everyone with `<public>Y`): one policy, [`crate::console::guarded`].

mod exposition;

pub use exposition::render;

use crate::{not_found, AppState, Peer};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// `GET /metrics`.
pub(crate) async fn metrics(
    State(st): State<AppState>,
    peer: ConnectInfo<Peer>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if st.listener.console.is_none() {
        return not_found(Method::GET, uri).await;
    }
    crate::console::guarded(&st, peer, &headers, |_| exposition(&st))
}

fn exposition(st: &AppState) -> Response {
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

/// `GET /livez`: the process serves. Still 200 while draining: a liveness
/// probe that failed would have the node restarted, cutting the sessions
/// it is letting go of gently.
pub(crate) async fn livez(State(st): State<AppState>, uri: Uri) -> Response {
    if !st.listener.healthcheck {
        return not_found(Method::GET, uri).await;
    }
    (StatusCode::OK, "OK").into_response()
}
