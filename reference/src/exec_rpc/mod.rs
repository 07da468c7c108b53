//! The exec-RPC server (`miniagent exec-rpc`): run a snippet in one of several languages.
//!
//! `GET /health`, `GET /__meta` (`{git_sha, started_at}`), `POST /exec {language, code,
//! timeout_sec}` → `{ok, rc, stdout, stderr, error, t_ms}`. Every step (compile, run) goes through
//! [`crate::process`], so timeouts kill whole trees exactly as the local tools do. A missing
//! toolchain is `ok:false` naming the program and how to get it; an unknown language is a 400.
//!
//! Does not sandbox beyond that: like the local tools, it runs code as the server's user. Bind it to
//! loopback (the default) or inside a container.

pub mod languages;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::decode;
use crate::error::ApiError;
use crate::http::extract::{HasBodyLimit, LimitedBody};
use crate::http::health;
use languages::{ExecResult, Language};

/// Default port of `miniagent exec-rpc`.
pub const DEFAULT_PORT: u16 = 8790;
/// Default and minimum run timeout, seconds.
pub const DEFAULT_TIMEOUT_SEC: f64 = 10.0;
pub const MIN_TIMEOUT_SEC: f64 = 1.0;
/// Longest accepted run timeout, so one request cannot hold a worker for hours.
pub const MAX_TIMEOUT_SEC: f64 = 600.0;

#[derive(Debug)]
pub struct ExecState {
    pub started_at: f64,
    pub max_body_bytes: usize,
    pub output_cap: usize,
}

impl HasBodyLimit for Arc<ExecState> {
    fn body_limit(&self) -> usize {
        self.max_body_bytes
    }
}

impl ExecState {
    pub fn new(max_body_bytes: usize) -> Arc<Self> {
        let started_at = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        Arc::new(Self { started_at, max_body_bytes, output_cap: crate::process::DEFAULT_OUTPUT_CAP })
    }
}

pub fn app(state: Arc<ExecState>) -> Router {
    Router::new()
        .route("/health", get(|| async { Json(json!({"ok": true})) }))
        .route("/__meta", get(meta))
        .route("/exec", post(exec))
        .fallback(health::not_found)
        .method_not_allowed_fallback(health::method_not_allowed)
        .with_state(state)
}

async fn meta(State(state): State<Arc<ExecState>>) -> Json<Value> {
    Json(json!({"git_sha": env!("MINIAGENT_GIT_SHA"), "started_at": state.started_at}))
}

#[derive(Debug, Deserialize)]
struct ExecRequest {
    language: String,
    code: String,
    timeout_sec: Option<f64>,
}

async fn exec(
    State(state): State<Arc<ExecState>>,
    LimitedBody(body): LimitedBody,
) -> Result<Json<ExecResult>, ApiError> {
    let req: ExecRequest = decode(&body)?;
    let language = Language::parse(&req.language)
        .ok_or_else(|| ApiError::bad_request("language", format!("unsupported language: {}", req.language)))?;
    let timeout = match req.timeout_sec {
        None => DEFAULT_TIMEOUT_SEC,
        Some(t) if t.is_finite() => t.clamp(MIN_TIMEOUT_SEC, MAX_TIMEOUT_SEC),
        Some(t) => return Err(ApiError::schema("timeout_sec", format!("must be a number of seconds, got {t}"))),
    };
    let started = Instant::now();
    let mut result = languages::run(language, &req.code, Duration::from_secs_f64(timeout), state.output_cap).await;
    result.t_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(Json(result))
}
