//! Probes: `/ready`, `/healthz`, and the JSON 404/405 fallbacks.

use axum::Json;
use axum::extract::State;
use axum::http::{Method, Uri};
use axum::response::Response;
use serde_json::{Value, json};

use super::state::SharedState;
use crate::error::{ApiError, respond};

pub async fn ready(State(state): State<SharedState>) -> Json<Value> {
    Json(json!({"ok": true, "hints": state.config.hints()}))
}

pub async fn healthz(State(state): State<SharedState>) -> Json<Value> {
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

/// Unknown routes: a JSON 404 in the shape of the route family (OpenAI's under `/v1/*`).
pub async fn not_found(uri: Uri) -> Response {
    respond(uri.path(), ApiError::NotFound(uri.path().to_owned()))
}

/// A known route with the wrong method: a JSON 405 in the route family's shape.
pub async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    respond(uri.path(), ApiError::MethodNotAllowed { method: method.to_string(), path: uri.path().to_owned() })
}
