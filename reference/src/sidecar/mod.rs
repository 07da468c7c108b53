//! The codex sidecar (`miniagent sidecar`, CONTRACT §8): an OpenAI-compatible front for a coding
//! CLI (`codex exec --json` by default).
//!
//! `GET /healthz` → `{ok, concurrency, auth_present}`; `GET /v1/models`; `POST /v1/chat/completions`
//! (and streaming). Echo mode (`CODEX_SIDECAR_ECHO=1`) answers without the CLI or credentials.
//! Otherwise the auth file must exist (401 with the runbook's advice when it does not), at most
//! `MAX_CONCURRENCY` CLIs run at once, and a CLI that outlives `ABS_TIMEOUT_S` or stays silent for
//! `IDLE_TIMEOUT_S` is killed with its whole tree (504).

pub mod cli;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::api::decode;
use crate::auth::keys::KeyRing;
use crate::auth::{self, Auth};
use crate::env::Env;
use crate::error::{ApiError, OpenAiError};
use crate::http::extract::{HasBodyLimit, LimitedBody};
use crate::http::health;
use crate::http::sse::sse;
use crate::listen::Listen;
use crate::openai_shape::{Stamp, completion, replay, zero_usage};
use cli::{CliError, CliSettings, InputMode};

/// Default port of `miniagent sidecar`.
pub const DEFAULT_PORT: u16 = 8077;

/// What the runbook says when credentials are missing.
pub fn auth_advice(path: &std::path::Path) -> String {
    format!(
        "codex auth file not found at {}: mount ~/.codex/auth.json into the container \
         (-v ~/.codex/auth.json:/root/.codex/auth.json:ro) or set CODEX_AUTH_PATH; \
         for a local smoke test without credentials set CODEX_SIDECAR_ECHO=1",
        path.display()
    )
}

#[derive(Debug, Clone)]
pub struct SidecarConfig {
    pub echo: bool,
    pub auth_path: PathBuf,
    pub cli: CliSettings,
    pub max_concurrency: usize,
    pub keepalive: Duration,
    /// Settings that could not be understood; the sidecar refuses to start while any are listed.
    pub problems: Vec<String>,
}

impl SidecarConfig {
    pub fn from_env(env: &Env) -> Self {
        let secs = |name: &str, default: u64| env.secs(name, Duration::from_secs(default));
        let cmd = env.get("CODEX_CMD").unwrap_or_else(|| "codex exec --json".to_owned());
        let argv = shell_words::split(&cmd).unwrap_or_else(|e| {
            env.problem(format!("CODEX_CMD cannot be split into words: {e}"));
            Vec::new()
        });
        if shell_words::split(&cmd).is_ok() && argv.first().is_none_or(|p| p.trim().is_empty()) {
            env.problem(format!("CODEX_CMD names no program: {cmd:?}"));
        }
        let input = env.get("CODEX_INPUT_MODE").map_or(InputMode::Stdin, |m| {
            InputMode::parse(&m).unwrap_or_else(|| {
                env.problem(format!("CODEX_INPUT_MODE must be stdin, flag or json, got {m:?}"));
                InputMode::Stdin
            })
        });
        let home = env.get("HOME").unwrap_or_else(|| "/root".to_owned());
        Self {
            echo: env.flag("CODEX_SIDECAR_ECHO"),
            auth_path: env
                .get("CODEX_AUTH_PATH")
                .map_or_else(|| PathBuf::from(home).join(".codex/auth.json"), PathBuf::from),
            cli: CliSettings {
                argv,
                input,
                abs_timeout: secs("ABS_TIMEOUT_S", 90),
                idle_timeout: secs("IDLE_TIMEOUT_S", 25),
                retries: env.parse("RETRIES", 1, "a number of retries (0 or more)"),
                cwd: env.get("CODEX_WORKDIR").map(PathBuf::from),
            },
            max_concurrency: env.parse_where("MAX_CONCURRENCY", 4, "an integer ≥ 1", |n| *n >= 1),
            keepalive: secs("MINI_AGENT_SSE_KEEPALIVE_SEC", 10),
            problems: Vec::new(),
        }
    }

    /// Every setting through `var`; problems are collected in `problems`.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Self {
        let env = Env::new(&var);
        let mut config = Self::from_env(&env);
        config.problems = env.into_problems();
        config
    }
}

#[derive(Debug)]
pub struct SidecarState {
    pub config: SidecarConfig,
    pub listen: Listen,
    pub auth: Arc<Auth>,
    slots: Semaphore,
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
        let slots = Semaphore::new(config.max_concurrency);
        Ok(Arc::new(Self { config, listen, auth: Auth::new(keys), slots }))
    }
}

pub fn app(state: Arc<SidecarState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat))
        .route("/chat/completions", post(chat))
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
        "echo": state.config.echo,
    }))
}

async fn models() -> Json<Value> {
    Json(json!({"object": "list", "data": [{"id": "codex", "object": "model", "owned_by": "codex-sidecar"}]}))
}

#[derive(Debug, Deserialize)]
struct ChatRequest {
    #[serde(default)]
    model: Option<String>,
    messages: Vec<Value>,
    #[serde(default)]
    stream: Option<bool>,
}

/// The prompt: a lone user message as is; a conversation as role-labelled turns.
fn prompt_of(messages: &[Value]) -> String {
    let text = |m: &Value| match m.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => {
            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n")
        }
        _ => String::new(),
    };
    match messages {
        [only] => text(only),
        many => many
            .iter()
            .map(|m| format!("{}: {}", m.get("role").and_then(Value::as_str).unwrap_or("user"), text(m)))
            .collect::<Vec<_>>()
            .join("\n\n"),
    }
}

async fn chat(
    State(state): State<Arc<SidecarState>>,
    body: Result<LimitedBody, ApiError>,
) -> Result<Response, OpenAiError> {
    let LimitedBody(body) = body?;
    let req: ChatRequest = decode(&body)?;
    let model = req.model.unwrap_or_else(|| "codex".to_owned());
    let stamp = Stamp::new(model.clone());
    let stream = req.stream.unwrap_or(false);
    let prompt = prompt_of(&req.messages);
    let config = &state.config;
    let text = if config.echo {
        format!("echo: {prompt}")
    } else if !config.auth_path.exists() {
        return Err(ApiError::CredentialsMissing(auth_advice(&config.auth_path)).into());
    } else {
        let Ok(_permit) = state.slots.acquire().await else {
            return Err(ApiError::Unavailable("the sidecar is shutting down".into()).into());
        };
        cli::run(&config.cli, &prompt, &req.messages, &model).await.map_err(|e| match e {
            CliError::Idle(_) | CliError::Absolute(_) => ApiError::Timeout(e.to_string()),
            other => ApiError::Upstream(other.to_string()),
        })?
    };
    let done = completion(&stamp, &text, zero_usage());
    Ok(if stream { sse(config.keepalive, replay(&stamp, &done, false)) } else { Json(done).into_response() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_from_the_environment() {
        let c = SidecarConfig::from_lookup(|k| match k {
            "CODEX_CMD" => Some("python3 'my fake.py' --json".into()),
            "CODEX_INPUT_MODE" => Some("flag".into()),
            "MAX_CONCURRENCY" => Some("2".into()),
            "HOME" => Some("/home/u".into()),
            _ => None,
        });
        assert_eq!(c.cli.argv, ["python3", "my fake.py", "--json"]);
        assert_eq!((c.cli.input, c.max_concurrency), (InputMode::Flag, 2));
        assert_eq!(c.auth_path, PathBuf::from("/home/u/.codex/auth.json"));
        assert_eq!(
            (c.cli.abs_timeout, c.cli.idle_timeout, c.cli.retries),
            (Duration::from_secs(90), Duration::from_secs(25), 1)
        );
        let bad = SidecarConfig::from_lookup(|k| (k == "CODEX_INPUT_MODE").then(|| "carrier-pigeon".into()));
        assert_eq!(bad.problems.len(), 1);
    }

    #[test]
    fn prompts() {
        assert_eq!(prompt_of(&[json!({"role": "user", "content": "fix it"})]), "fix it");
        let many = [json!({"role": "system", "content": "be terse"}), json!({"role": "user", "content": "fix it"})];
        assert_eq!(prompt_of(&many), "system: be terse\n\nuser: fix it");
    }
}
