//! The exec-RPC server (`miniagent exec-rpc`): run a snippet in one of several languages.
//!
//! `GET /health`, `GET /__meta` (`{git_sha, started_at}`), `POST /exec {language, code,
//! timeout_sec}` → `{ok, rc, stdout, stderr, error, t_ms}`. Every step (compile, run) goes through
//! [`crate::process`], so timeouts kill whole trees exactly as the local tools do. A missing
//! toolchain is `ok:false` naming the program and how to get it; an unknown language is a 400.
//!
//! Snippets run in the tool sandbox ([`crate::process::sandbox`]) like the local tools; with API
//! keys configured, `/exec` needs one (it runs code), and without keys only loopback may be bound.

mod languages;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::middleware;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::decode;
use crate::auth::keys::KeyRing;
use crate::auth::{self, Auth};
use crate::error::ApiError;
use crate::http::extract::{HasBodyLimit, LimitedBody};
use crate::http::health;
use crate::listen::Listen;
use crate::process::sandbox::Sandbox;
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
    pub listen: Listen,
    pub output_cap: usize,
    pub auth: Arc<Auth>,
    /// Where snippets run (bubblewrap when it works here).
    pub sandbox: Arc<Sandbox>,
}

impl HasBodyLimit for Arc<ExecState> {
    fn listen(&self) -> &Listen {
        &self.listen
    }
}

impl ExecState {
    /// A server at `listen`, requiring one of `keys` (none: open, loopback only), running snippets
    /// in `sandbox`.
    pub fn new(listen: Listen, keys: KeyRing, sandbox: Arc<Sandbox>) -> Arc<Self> {
        let started_at = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        let output_cap = crate::process::DEFAULT_OUTPUT_CAP;
        Arc::new(Self { started_at, listen, output_cap, auth: Auth::new(keys), sandbox })
    }
}

pub fn app(state: Arc<ExecState>) -> Router {
    Router::new()
        .route("/health", get(|| async { Json(json!({"ok": true})) }))
        .route("/__meta", get(meta))
        .route("/exec", post(exec))
        .fallback(health::not_found)
        .method_not_allowed_fallback(health::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.auth.clone(), auth::require_key))
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
    if let Some(why) = state.sandbox.refusal() {
        return Err(ApiError::Unavailable(why));
    }
    let started = Instant::now();
    let timeout = Duration::from_secs_f64(timeout);
    let mut result = languages::run(language, &req.code, timeout, state.output_cap, &state.sandbox).await;
    result.t_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(Json(result))
}
