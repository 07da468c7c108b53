//! Model providers: turning a model name into one chat-completion call.
//!
//! Reading order: [`route`] (model name → which provider, which upstream name, which base and key),
//! [`openai`] (the OpenAI-compatible wire call every HTTP provider shares), [`dummy`] (the offline
//! model), [`router`] (the alias file). [`Providers`] owns the one shared HTTP client and dispatches
//! over the closed [`ProviderKind`] set with an exhaustive `match`.
//!
//! Does not retry (the codex-agent retry schedule slots in beside [`openai`]) and knows nothing of
//! HTTP servers or envelopes.

pub mod dummy;
pub mod openai;
pub mod route;
pub mod router;

use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::{Config, ProviderSettings};
use router::RouterConfig;

pub use route::{ProviderKind, Route};

/// One chat-completion request, provider-neutral. `messages` are passed on exactly as received:
/// content that is a list of parts (text, image_url) is never stringified.
#[derive(Debug, Clone, Default)]
pub struct ChatRequest {
    pub messages: Vec<Value>,
    /// OpenAI tool definitions to offer; `tool_choice` is `"auto"` when present.
    pub tools: Option<Vec<Value>>,
    /// Other OpenAI parameters (temperature, max_tokens, response_format, …), passed through.
    pub extra: Map<String, Value>,
}

/// A provider's answer: the raw OpenAI-shaped response, kept whole so nothing the provider said is
/// lost on the way to the client.
#[derive(Debug, Clone)]
pub struct Completion {
    pub raw: Value,
    /// The provider that answered, for metadata (`openai`, `ollama`, `dummy`, …).
    pub provider: ProviderKind,
}

impl Completion {
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
    Upstream { provider: ProviderKind, status: u16, body: String },
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

    /// One chat completion on `model`.
    pub async fn complete(&self, model: &str, request: &ChatRequest) -> Result<Completion, ProviderError> {
        let route = self.resolve(model)?;
        self.complete_route(&route, request).await
    }

    /// One chat completion on an already resolved route.
    pub async fn complete_route(&self, route: &Route, request: &ChatRequest) -> Result<Completion, ProviderError> {
        let raw = match route.kind {
            ProviderKind::Dummy => dummy::complete(&route.upstream_model),
            ProviderKind::OpenAi | ProviderKind::Ollama | ProviderKind::Chutes => {
                openai::complete(&self.http, route, request, self.settings.request_timeout).await?
            }
        };
        Ok(Completion { raw, provider: route.kind })
    }
}
