//! Where the model providers live and which credentials they use: every provider variable is read
//! here, once.

use std::time::Duration;

use super::anthropic::settings::AnthropicSettings;
use crate::env::Env;
use crate::secret::Secret;
use crate::transport::retry::{Jitter, RetryPolicy};

/// OpenAI's public API, used when `OPENAI_API_BASE` is unset.
pub(crate) const DEFAULT_OPENAI_BASE: &str = "https://api.openai.com/v1";
/// Chutes' OpenAI-compatible API, used when `CHUTES_API_BASE` is unset.
pub(crate) const DEFAULT_CHUTES_BASE: &str = "https://llm.chutes.ai/v1";

#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// `MINI_AGENT_ALLOW_DUMMY=1`: the `dummy`/`noop` model answers without network.
    pub allow_dummy: bool,
    pub openai_api_key: Option<Secret>,
    /// `OPENAI_API_BASE` (or `OPENAI_BASE_URL`), including `/v1`; `None` means OpenAI's public API.
    pub openai_api_base: Option<String>,
    pub ollama_base_url: Option<String>,
    pub chutes_api_base: String,
    pub chutes_api_key: Option<Secret>,
    /// `LITELLM_DEFAULT_MODEL`: the model the OpenAI shim uses for a bare model name it cannot route.
    pub default_model: Option<String>,
    /// Whole-request timeout of one provider call (`MINI_AGENT_PROVIDER_TIMEOUT_SEC`, default 120 s).
    pub request_timeout: Duration,
    /// TCP connect timeout of provider calls (10 s): a dead host fails fast even under a long
    /// request timeout.
    pub connect_timeout: Duration,
    /// `MINI_AGENT_PROVIDER_MAX_BYTES` (32 MiB): the largest reply (or stream) read from a provider;
    /// more is a 502, not a server holding gigabytes for one request.
    pub max_reply_bytes: usize,
    pub codex: CodexSettings,
    /// The `anthropic/` provider (`ANTHROPIC_API_KEY`, `ANTHROPIC_API_BASE`, …).
    pub anthropic: AnthropicSettings,
    /// `SCILLM_DETERMINISTIC_SEED`: seeded retry jitter, and parallel completions one at a time.
    pub deterministic_seed: Option<u64>,
    /// `SCILLM_RETRY_META=1`: parallel results carry `scillm_router.retries`.
    pub retry_meta: bool,
}

/// The codex-agent provider: an OpenAI-compatible endpoint behind an enable gate, with retries.
#[derive(Debug, Clone)]
pub struct CodexSettings {
    /// `LITELLM_ENABLE_CODEX_AGENT=1` or `SCILLM_ENABLE_CODEX_AGENT=1`.
    pub enabled: bool,
    /// `CODEX_AGENT_API_BASE`, written without `/v1`.
    pub api_base: Option<String>,
    pub api_key: Option<Secret>,
    /// `CODEX_AGENT_MAX_RETRIES` (2), `CODEX_AGENT_RETRY_BASE_MS` (120), `CODEX_AGENT_MAX_BACKOFF_MS`
    /// (1500); the base and cap also apply to other providers' alias `max_retries`.
    pub retry: RetryPolicy,
    /// `CODEX_AGENT_ENABLE_METRICS=1`: completions carry retry statistics.
    pub metrics: bool,
}

/// The longest `Retry-After` a provider may make us wait.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

impl ProviderSettings {
    pub fn from_env(env: &Env) -> Self {
        let seed = env.get("SCILLM_DETERMINISTIC_SEED").and_then(|v| {
            let parsed = v.trim().parse::<u64>().ok();
            if parsed.is_none() {
                env.problem(format!("SCILLM_DETERMINISTIC_SEED must be a non-negative integer, got {v:?}"));
            }
            parsed
        });
        let ms = |name: &str, default: u64| Duration::from_millis(env.parse(name, default, "a number of milliseconds"));
        Self {
            allow_dummy: env.flag("MINI_AGENT_ALLOW_DUMMY"),
            openai_api_key: env.get("OPENAI_API_KEY").map(Secret::new),
            openai_api_base: env.get("OPENAI_API_BASE").or_else(|| env.get("OPENAI_BASE_URL")),
            ollama_base_url: env.get("OLLAMA_BASE_URL"),
            chutes_api_base: env.get("CHUTES_API_BASE").unwrap_or_else(|| DEFAULT_CHUTES_BASE.to_owned()),
            chutes_api_key: env.get("CHUTES_API_KEY").map(Secret::new),
            default_model: env.get("LITELLM_DEFAULT_MODEL"),
            request_timeout: env.secs("MINI_AGENT_PROVIDER_TIMEOUT_SEC", Duration::from_secs(120)),
            connect_timeout: Duration::from_secs(10),
            max_reply_bytes: env.parse_where(
                "MINI_AGENT_PROVIDER_MAX_BYTES",
                32 * 1024 * 1024,
                "a number of bytes ≥ 1024",
                |n| *n >= 1024,
            ),
            codex: CodexSettings {
                enabled: env.flag("LITELLM_ENABLE_CODEX_AGENT") || env.flag("SCILLM_ENABLE_CODEX_AGENT"),
                api_base: env.get("CODEX_AGENT_API_BASE"),
                api_key: env.get("CODEX_AGENT_API_KEY").map(Secret::new),
                retry: RetryPolicy {
                    max_retries: env.parse("CODEX_AGENT_MAX_RETRIES", 2, "a number of retries (0 or more)"),
                    base: ms("CODEX_AGENT_RETRY_BASE_MS", 120),
                    max_backoff: ms("CODEX_AGENT_MAX_BACKOFF_MS", 1500),
                    jitter: Jitter::from_seed(seed),
                    retry_after_cap: MAX_RETRY_AFTER,
                },
                metrics: env.flag("CODEX_AGENT_ENABLE_METRICS"),
            },
            anthropic: AnthropicSettings::from_env(env),
            deterministic_seed: seed,
            retry_meta: env.flag("SCILLM_RETRY_META"),
        }
    }

    /// Whether any model is callable: without one, the OpenAI surface answers 400 with guidance
    /// rather than failing on the first request to a provider.
    pub fn any_configured(&self) -> bool {
        self.openai_api_key.is_some()
            || self.openai_api_base.is_some()
            || (self.ollama_base_url.is_some() && self.default_model.is_some())
            || self.allow_dummy
            || self.anthropic.configured()
    }
}
