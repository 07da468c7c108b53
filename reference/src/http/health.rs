//! Probes and listings: `/ready`, `/healthz`, `/v1/models`, and the JSON 404/405 fallbacks.

use axum::Json;
use axum::extract::State;
use axum::http::{Method, Uri};
use serde_json::{Value, json};

use super::state::SharedState;
use crate::error::ApiError;

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

pub async fn models(State(state): State<SharedState>) -> Json<Value> {
    // `created` is the server's start: the list is the server's configuration, made at start.
    let created = state.started_at as u64;
    let data: Vec<Value> = state
        .providers
        .model_ids()
        .into_iter()
        .map(|id| json!({"id": id, "object": "model", "created": created, "owned_by": "miniagent"}))
        .collect();
    Json(json!({"object": "list", "data": data}))
}

pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(uri.path().to_owned())
}

pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed { method: method.to_string(), path: uri.path().to_owned() }
}
