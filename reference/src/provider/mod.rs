//! Model providers: turning a model name into one chat-completion call.
//!
//! Reading order: [`route`] (model name → which provider, which upstream name, which base and key),
//! [`openai`] (the OpenAI-compatible wire call every HTTP provider shares), [`dummy`] (the offline
//! model), [`router`] (the alias file). [`Providers`] owns the one shared HTTP client and dispatches
//! over the closed [`ProviderKind`] set with an exhaustive `match`.
//!
//! Retries ([`retry`]: the schedule is pure; the loop is [`Providers::complete_route_with_stats`])
//! apply per route: codex-agent by its settings, other providers by an alias's `max_retries`.
//! Knows nothing of HTTP servers or envelopes.

pub mod dummy;
pub mod openai;
pub mod retry;
pub mod route;
pub mod router;
pub mod stream;

use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::{Config, ProviderSettings};
use router::RouterConfig;

pub use retry::RetryStats;
pub use route::{Overrides, ProviderKind, Route};

/// One chat-completion request, provider-neutral. `messages` are passed on exactly as received:
/// content that is a list of parts (text, image_url) is never stringified.
#[derive(Debug, Clone, Default)]
pub struct ChatRequest {
    pub messages: Vec<Value>,
    /// OpenAI tool definitions to offer; `tool_choice` is `"auto"` when present.
    pub tools: Option<Vec<Value>>,
    /// Other OpenAI parameters (temperature, max_tokens, response_format, …), passed through.
    pub extra: Map<String, Value>,
    /// Extra HTTP headers for the provider (LiteLLM's `extra_headers`); hop-by-hop headers and a
    /// second `Authorization` are dropped before sending.
    pub extra_headers: Vec<(String, String)>,
}

/// A provider's answer: the raw OpenAI-shaped response, kept whole so nothing the provider said is
/// lost on the way to the client.
#[derive(Debug, Clone)]
pub struct Completion {
    pub raw: Value,
    /// The provider that answered, for metadata (`openai`, `ollama`, `dummy`, …).
    pub provider: ProviderKind,
    /// Retry statistics, when `CODEX_AGENT_ENABLE_METRICS=1`.
    pub retry_stats: Option<RetryStats>,
}

impl Completion {
    pub fn new(raw: Value, provider: ProviderKind) -> Self {
        Self { raw, provider, retry_stats: None }
    }

    /// `choices[0].message`, or an empty object.
    pub fn message(&self) -> Value {
        self.raw
            .pointer("/choices/0/message")
            .cloned()
            .filter(Value::is_object)
            .unwrap_or_else(|| Value::Object(Map::new()))
    }

    /// `choices[0].message.content` when it is a string.
    pub fn content(&self) -> Option<&str> {
        self.raw.pointer("/choices/0/message/content").and_then(Value::as_str)
    }

    /// `usage`, when the provider reported it.
    pub fn usage(&self) -> Option<&Value> {
        self.raw.get("usage").filter(|u| u.is_object())
    }
}

/// Why a model call did not produce a completion. Variants before the network are the caller's
/// problem (400); the rest are the upstream's (502).
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("{0}")]
    InvalidModel(String),
    #[error("model `{model}` is disabled: set {variable}=1 to enable it")]
    Disabled { model: String, variable: &'static str },
    #[error("provider {provider} is not configured: {what}")]
    NotConfigured { provider: ProviderKind, what: String },
    #[error("provider {provider} returned HTTP {status}: {body}")]
    Upstream { provider: ProviderKind, status: u16, body: String, retry_after: Option<std::time::Duration> },
    #[error("provider {provider} could not be reached at {url}: {reason}")]
    Transport { provider: ProviderKind, url: String, reason: String },
    #[error("provider {provider} answered something that is not a chat completion: {reason}")]
    InvalidResponse { provider: ProviderKind, reason: String },
}

impl ProviderError {
    /// True when the request named a model this server cannot use (400), false when the upstream
    /// failed (502).
    pub fn is_client_error(&self) -> bool {
        matches!(self, Self::InvalidModel(_) | Self::Disabled { .. } | Self::NotConfigured { .. })
    }
}

/// The model providers of one server: settings, aliases and the one shared HTTP client (connection
/// pools are per client, so one client means warm connections for every request).
#[derive(Debug, Clone)]
pub struct Providers {
    settings: ProviderSettings,
    router: RouterConfig,
    http: reqwest::Client,
}

impl Providers {
    pub fn new(config: &Config) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.providers.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()?;
        Ok(Self { settings: config.providers.clone(), router: config.router.clone(), http })
    }

    pub fn settings(&self) -> &ProviderSettings {
        &self.settings
    }

    pub fn router(&self) -> &RouterConfig {
        &self.router
    }

    /// Model ids to advertise on `/v1/models`: aliases in file order, then `dummy` when allowed.
    pub fn model_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.router.entries().iter().map(|e| e.model_name.clone()).collect();
        if self.settings.allow_dummy && !ids.iter().any(|i| i == "dummy") {
            ids.push("dummy".to_owned());
        }
        ids
    }

    /// Resolves a model name without calling anything.
    pub fn resolve(&self, model: &str) -> Result<Route, ProviderError> {
        route::resolve(model, &self.settings, &self.router)
    }

    /// Resolves with per-request overrides (`custom_llm_provider`, `api_base`, `api_key`).
    pub fn resolve_with(&self, model: &str, overrides: &Overrides) -> Result<Route, ProviderError> {
        route::resolve_with(model, &self.settings, &self.router, overrides)
    }

    /// One chat completion on `model`.
    pub async fn complete(&self, model: &str, request: &ChatRequest) -> Result<Completion, ProviderError> {
        let route = self.resolve(model)?;
        self.complete_route(&route, request).await
    }

    /// The blocking form of [`Self::complete`], for callers without an async runtime. It runs its
    /// own small runtime, so it must not be called from inside one.
    pub fn complete_blocking(&self, model: &str, request: &ChatRequest) -> Result<Completion, ProviderError> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
            ProviderError::Transport {
                provider: ProviderKind::Dummy,
                url: String::new(),
                reason: format!("cannot start a runtime: {e}"),
            }
        })?;
        runtime.block_on(self.complete(model, request))
    }

    /// One chat completion on an already resolved route.
    pub async fn complete_route(&self, route: &Route, request: &ChatRequest) -> Result<Completion, ProviderError> {
        self.complete_route_with_stats(route, request).await.0
    }

    /// One chat completion with the route's retries; the statistics come back whatever the outcome
    /// (and are also attached to the completion under `CODEX_AGENT_ENABLE_METRICS=1`).
    pub async fn complete_route_with_stats(
        &self,
        route: &Route,
        request: &ChatRequest,
    ) -> (Result<Completion, ProviderError>, RetryStats) {
        let mut stats = RetryStats::default();
        if route.kind == ProviderKind::Dummy {
            stats.record_try(Some(200), false);
            let completion =
                Completion { raw: dummy::complete(&route.upstream_model), provider: route.kind, retry_stats: None };
            return (Ok(completion), stats);
        }
        let mut retries = 0;
        loop {
            match openai::complete(&self.http, route, request, self.settings.request_timeout).await {
                Ok(raw) => {
                    stats.record_try(Some(200), false);
                    let retry_stats = self.settings.codex.metrics.then(|| stats.clone());
                    return (Ok(Completion { raw, provider: route.kind, retry_stats }), stats);
                }
                Err(e) => {
                    let (status, retryable, retry_after) = match &e {
                        ProviderError::Upstream { status, retry_after, .. } => {
                            (Some(*status), retry::retryable_status(*status), *retry_after)
                        }
                        ProviderError::Transport { .. } => (None, true, None),
                        _ => (None, false, None),
                    };
                    stats.record_try(status, true);
                    if !retryable || retries >= route.retry.max_retries {
                        return (Err(e), stats);
                    }
                    retries += 1;
                    let wait = route.retry.wait(retries, retry_after);
                    stats.record_wait(wait, retry_after);
                    tracing::debug!(provider = %route.kind, retry = retries, wait_ms = wait.as_millis() as u64, error = %e, "retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}
