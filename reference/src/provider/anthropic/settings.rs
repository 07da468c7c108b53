//! The Anthropic provider's settings: every `ANTHROPIC_*` variable of the provider is read here.

use crate::env::Env;
use crate::secret::Secret;

/// Anthropic's public API, used when `ANTHROPIC_API_BASE` is unset (no `/v1`: the provider adds it).
pub(crate) const DEFAULT_BASE: &str = "https://api.anthropic.com";
/// The `anthropic-version` header sent upstream.
pub(crate) const API_VERSION: &str = "2023-06-01";
/// `max_tokens` when a request has none (Anthropic requires it; OpenAI's clients rarely send it).
pub(crate) const DEFAULT_MAX_TOKENS: u32 = 4096;

#[derive(Debug, Clone)]
pub struct AnthropicSettings {
    /// `ANTHROPIC_API_KEY`, sent as `x-api-key`.
    pub api_key: Option<Secret>,
    /// `ANTHROPIC_API_BASE`, without `/v1`. `ANTHROPIC_BASE_URL` is deliberately not read: it is
    /// what Claude Code is pointed at miniagent with, and reading it would make miniagent call itself.
    pub api_base: String,
    /// `MINI_AGENT_ANTHROPIC_MAX_TOKENS`: the `max_tokens` of a translated request that names none.
    pub max_tokens: u32,
}

impl AnthropicSettings {
    pub fn from_env(env: &Env) -> Self {
        Self {
            api_key: env.get("ANTHROPIC_API_KEY").map(Secret::new),
            api_base: env.get("ANTHROPIC_API_BASE").unwrap_or_else(|| DEFAULT_BASE.to_owned()),
            max_tokens: env.parse_where(
                "MINI_AGENT_ANTHROPIC_MAX_TOKENS",
                DEFAULT_MAX_TOKENS,
                "a number of tokens ≥ 1",
                |n| *n >= 1,
            ),
        }
    }

    /// The base a route uses — `base_override` (a request's or a deployment's) else the configured
    /// one, without `/v1` (this provider adds it) — or `None` when nothing is configured to call.
    pub fn base(&self, has_key: bool, base_override: Option<&str>) -> Option<String> {
        if !has_key && base_override.is_none() && !self.configured() {
            return None;
        }
        let base = base_override.unwrap_or(&self.api_base).trim().trim_end_matches('/');
        Some(base.strip_suffix("/v1").unwrap_or(base).to_owned())
    }

    /// Whether the operator configured Anthropic (a key, or a base of their own).
    pub fn configured(&self) -> bool {
        self.api_key.is_some() || self.api_base != DEFAULT_BASE
    }
}

/// What to set when `anthropic/` is not configured.
pub(crate) const NOT_CONFIGURED: &str = "set ANTHROPIC_API_KEY (and ANTHROPIC_API_BASE for another endpoint)";

/// The URL of `path` at `base`: chat completions are answered by `/v1/messages`.
pub(crate) fn url(base: &str, path: &str) -> String {
    match path {
        "chat/completions" => format!("{base}/v1/messages"),
        other => format!("{base}/v1/{other}"),
    }
}
