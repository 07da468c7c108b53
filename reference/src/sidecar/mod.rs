//! The codex sidecar (`miniagent sidecar`, CONTRACT §8): an OpenAI-compatible front for a coding
//! CLI (`codex exec --json --skip-git-repo-check` by default).
//!
//! Reading order: [`config`] (the environment: the CLI, the auth file in `CODEX_HOME`, the limits),
//! [`chat`] (a chat request as one CLI run, streamed or not), [`cli`] (running it: prompt in,
//! timeouts, retries) and [`jsonl`] (what its output says: messages, failure, usage).
//!
//! `GET /healthz` → `{ok, concurrency, auth_present}`; `GET /v1/models`; `POST /v1/chat/completions`
//! (and streaming). Echo mode (`CODEX_SIDECAR_ECHO=1`) answers without the CLI or credentials.
//! Otherwise the auth file must exist unless `CODEX_REQUIRE_AUTH_FILE=0` (401 with the runbook's
//! advice when it does not), at most `MAX_CONCURRENCY` CLIs run at once, and a CLI that outlives
//! `ABS_TIMEOUT_S` or stays silent for `IDLE_TIMEOUT_S` is killed with its whole tree (504).

mod chat;
mod cli;
mod config;
mod jsonl;

use std::sync::Arc;

use axum::extract::State;
use axum::middleware;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::auth::keys::KeyRing;
use crate::auth::{self, Auth};
use crate::http::extract::HasBodyLimit;
use crate::http::health;
use crate::listen::Listen;
pub use config::{SidecarConfig, auth_advice};

/// Default port of `miniagent sidecar`.
pub const DEFAULT_PORT: u16 = 8077;

#[derive(Debug)]
pub struct SidecarState {
    pub config: SidecarConfig,
    pub listen: Listen,
    pub auth: Arc<Auth>,
    /// One permit per CLI allowed to run; a streamed run holds its permit until it ends.
    slots: Arc<Semaphore>,
}

impl HasBodyLimit for Arc<SidecarState> {
    fn listen(&self) -> &Listen {
        &self.listen
    }
}

impl SidecarState {
    /// A sidecar with `config` at `listen`, requiring one of `keys` (none: open, loopback only).
    pub fn new(config: SidecarConfig, listen: Listen, keys: KeyRing) -> Result<Arc<Self>, String> {
        if !config.problems.is_empty() {
            return Err(config.problems.join("; "));
        }
        let slots = Arc::new(Semaphore::new(config.max_concurrency));
        Ok(Arc::new(Self { config, listen, auth: Auth::new(keys), slots }))
    }
}

pub fn app(state: Arc<SidecarState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat::chat))
        .route("/chat/completions", post(chat::chat))
        .fallback(health::not_found)
        .method_not_allowed_fallback(health::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.auth.clone(), auth::require_key))
        .with_state(state)
}

async fn healthz(State(state): State<Arc<SidecarState>>) -> Json<Value> {
    Json(json!({
        "ok": true,
        "concurrency": state.config.max_concurrency,
        "auth_present": state.config.auth_path.exists(),
        "auth_required": state.config.require_auth_file,
        "echo": state.config.echo,
    }))
}

async fn models() -> Json<Value> {
    Json(json!({"object": "list", "data": [{"id": "codex", "object": "model", "owned_by": "codex-sidecar"}]}))
}
