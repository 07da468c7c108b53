//! Probes: `/ready`, `/healthz`, `/metrics`, and the JSON 404/405 fallbacks.

use axum::Json;
use axum::extract::State;
use axum::http::{Method, Uri};
use axum::response::Response;
use serde_json::{Value, json};

use super::state::SharedState;
use crate::error::{ApiError, respond};

pub(crate) async fn ready(State(state): State<SharedState>) -> Json<Value> {
    Json(json!({"ok": true, "hints": state.config.hints()}))
}

pub(crate) async fn healthz(State(state): State<SharedState>) -> Json<Value> {
    let c = &state.config;
    Json(json!({
        "ok": true,
        "host": c.listen.host,
        "port": c.listen.port,
        "started_at": state.started_at,
        "delay_ms": u64::try_from(c.shim.delay.as_millis()).unwrap_or(u64::MAX),
        "hints": c.hints(),
    }))
}

/// Prometheus text (CONTRACT §12); a 404 that says so when metrics are off.
pub(crate) async fn metrics(State(state): State<SharedState>) -> Response {
    match &state.metrics {
        Some(m) => {
            state.providers.routing().refresh_gauges();
            let mut response = Response::new(axum::body::Body::from(m.render()));
            response.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            response
        }
        None => {
            respond("/metrics", ApiError::NotFound("/metrics: metrics are off (MINI_AGENT_METRICS=off)".to_owned()))
        }
    }
}

/// Unknown routes: a JSON 404 in the shape of the route family (OpenAI's under `/v1/*`).
pub(crate) async fn not_found(uri: Uri) -> Response {
    respond(uri.path(), ApiError::NotFound(uri.path().to_owned()))
}

/// A known route with the wrong method: a JSON 405 in the route family's shape.
pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    respond(uri.path(), ApiError::MethodNotAllowed { method: method.to_string(), path: uri.path().to_owned() })
}
