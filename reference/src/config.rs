//! Server configuration: everything the service reads from the environment, read **once** at startup.
//!
//! Owns the mapping from environment variables (and the flags that override them) to typed settings.
//! Handlers never call `std::env::var`: tests build a [`Config`] from a map instead of mutating the
//! process environment, which is shared by every test thread.
//!
//! Does not own the router config file: that is [`crate::provider::router`].

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::agent::LoopEnv;
use crate::provider::router::RouterConfig;
use crate::tools::http::HttpToolSettings;
use crate::tools::local::LocalSettings;
use crate::tools::mcp::McpSettings;

/// Default listen address of `miniagent serve`.
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// Default listen port of `miniagent serve`.
pub const DEFAULT_PORT: u16 = 8788;
/// Default request-body limit (8 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Reply of the OpenAI shim in echo mode when `MINI_AGENT_OPENAI_SHIM_REPLY` is unset.
pub const DEFAULT_SHIM_REPLY: &str = "shim ok";
/// OpenAI's public API, used when `OPENAI_API_BASE` is unset.
pub const DEFAULT_OPENAI_BASE: &str = "https://api.openai.com/v1";
/// Chutes' OpenAI-compatible API, used when `CHUTES_API_BASE` is unset.
pub const DEFAULT_CHUTES_BASE: &str = "https://llm.chutes.ai/v1";

/// A credential. Its `Debug` and `Display` never show the value, so a config dumped into a log or an
/// error message cannot leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that puts it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How the OpenAI shim answers.
#[derive(Debug, Clone)]
pub struct ShimConfig {
    /// `MINI_AGENT_OPENAI_SHIM_MODE=echo` or `MINI_AGENT_OPENAI_ECHO=1`: answer `reply`, call nothing.
    pub echo: bool,
    /// The raw `MINI_AGENT_OPENAI_SHIM_MODE` value, reported (not interpreted) by the hints.
    pub mode: String,
    /// `MINI_AGENT_OPENAI_SHIM_REPLY`.
    pub reply: String,
    /// `MINI_AGENT_OPENAI_SHIM_DELAY_MS`: an artificial delay before answering, for testing clients.
    pub delay: Duration,
    /// `MINI_AGENT_SSE_KEEPALIVE_SEC` (10 s): the longest silence on a stream before a keep-alive
    /// comment is sent.
    pub keepalive: Duration,
}

/// Where the model providers live and which credentials they use.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// `MINI_AGENT_ALLOW_DUMMY=1`: the `dummy`/`noop` model answers without network.
    pub allow_dummy: bool,
    pub openai_api_key: Option<Secret>,
    /// `OPENAI_API_BASE`, including `/v1`; `None` means OpenAI's public API.
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
    pub codex: CodexSettings,
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
    pub retry: crate::provider::retry::RetryPolicy,
    /// `CODEX_AGENT_ENABLE_METRICS=1`: completions carry retry statistics.
    pub metrics: bool,
}

/// Everything `miniagent serve` needs, resolved.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub max_body_bytes: usize,
    pub shim: ShimConfig,
    pub providers: ProviderSettings,
    /// `MINI_AGENT_STORE_TRACES=1` with `MINI_AGENT_STORE_PATH`: the JSONL file traces go to.
    pub trace_path: Option<PathBuf>,
    pub router: RouterConfig,
    /// The local tools' interpreter, timeout, shell allowlist and output cap.
    pub local_tools: LocalSettings,
    /// Default headers, retries and timeouts of the HTTP tools backend.
    pub http_tools: HttpToolSettings,
    pub mcp_tools: McpSettings,
    pub loop_env: LoopEnv,
    /// Settings that could not be understood; a server refuses to start while any are listed.
    pub problems: Vec<String>,
}

/// The `hints` object of `/ready` and `/healthz`: whether settings are present, never their values.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Hints {
    #[serde(rename = "OPENAI_API_KEY")]
    pub openai_api_key: bool,
    #[serde(rename = "OLLAMA_BASE_URL")]
    pub ollama_base_url: bool,
    #[serde(rename = "LITELLM_DEFAULT_MODEL")]
    pub litellm_default_model: bool,
    #[serde(rename = "MINI_AGENT_OPENAI_SHIM_MODE")]
    pub shim_mode: String,
}

impl Config {
    /// Reads every setting through `var`, so tests can pass a map and `main` the real environment.
    /// Empty values count as unset, as they do for a shell user who wrote `export X=`.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let flag = |name: &str| get(name).is_some_and(|v| is_truthy(&v));
        let mode = get("MINI_AGENT_OPENAI_SHIM_MODE").unwrap_or_default();
        let echo = mode.eq_ignore_ascii_case("echo") || flag("MINI_AGENT_OPENAI_ECHO");
        let secs = |name: &str, default: f64| {
            get(name)
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s > 0.0)
                .map_or(Duration::from_secs_f64(default), Duration::from_secs_f64)
        };
        let trace_path =
            if flag("MINI_AGENT_STORE_TRACES") { get("MINI_AGENT_STORE_PATH").map(PathBuf::from) } else { None };
        let mut problems = Vec::new();
        let seed = get("SCILLM_DETERMINISTIC_SEED").and_then(|v| {
            let parsed = v.trim().parse::<u64>().ok();
            if parsed.is_none() {
                problems.push(format!("SCILLM_DETERMINISTIC_SEED must be a non-negative integer, got {v:?}"));
            }
            parsed
        });
        let default_headers = match get("MINI_AGENT_TOOL_HTTP_HEADERS") {
            None => Vec::new(),
            Some(raw) => parse_header_object(&raw).unwrap_or_else(|why| {
                problems.push(format!("MINI_AGENT_TOOL_HTTP_HEADERS {why}; fix it or unset it"));
                Vec::new()
            }),
        };
        Self {
            host: get("MINI_AGENT_API_HOST").unwrap_or_else(|| DEFAULT_HOST.to_owned()),
            port: get("MINI_AGENT_API_PORT").and_then(|p| p.trim().parse().ok()).unwrap_or(DEFAULT_PORT),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            shim: ShimConfig {
                echo,
                mode,
                reply: get("MINI_AGENT_OPENAI_SHIM_REPLY").unwrap_or_else(|| DEFAULT_SHIM_REPLY.to_owned()),
                delay: Duration::from_millis(
                    get("MINI_AGENT_OPENAI_SHIM_DELAY_MS").and_then(|v| v.trim().parse().ok()).unwrap_or(0),
                ),
                keepalive: secs("MINI_AGENT_SSE_KEEPALIVE_SEC", 10.0),
            },
            providers: ProviderSettings {
                allow_dummy: flag("MINI_AGENT_ALLOW_DUMMY"),
                openai_api_key: get("OPENAI_API_KEY").map(Secret::new),
                openai_api_base: get("OPENAI_API_BASE").or_else(|| get("OPENAI_BASE_URL")),
                ollama_base_url: get("OLLAMA_BASE_URL"),
                chutes_api_base: get("CHUTES_API_BASE").unwrap_or_else(|| DEFAULT_CHUTES_BASE.to_owned()),
                chutes_api_key: get("CHUTES_API_KEY").map(Secret::new),
                default_model: get("LITELLM_DEFAULT_MODEL"),
                request_timeout: secs("MINI_AGENT_PROVIDER_TIMEOUT_SEC", 120.0),
                connect_timeout: Duration::from_secs(10),
                codex: CodexSettings {
                    enabled: flag("LITELLM_ENABLE_CODEX_AGENT") || flag("SCILLM_ENABLE_CODEX_AGENT"),
                    api_base: get("CODEX_AGENT_API_BASE"),
                    api_key: get("CODEX_AGENT_API_KEY").map(Secret::new),
                    retry: crate::provider::retry::RetryPolicy {
                        max_retries: get("CODEX_AGENT_MAX_RETRIES").and_then(|v| v.trim().parse().ok()).unwrap_or(2),
                        base: Duration::from_millis(
                            get("CODEX_AGENT_RETRY_BASE_MS").and_then(|v| v.trim().parse().ok()).unwrap_or(120),
                        ),
                        max_backoff: Duration::from_millis(
                            get("CODEX_AGENT_MAX_BACKOFF_MS").and_then(|v| v.trim().parse().ok()).unwrap_or(1500),
                        ),
                        jitter: crate::provider::route::jitter_from_seed(seed),
                    },
                    metrics: flag("CODEX_AGENT_ENABLE_METRICS"),
                },
                deterministic_seed: seed,
                retry_meta: flag("SCILLM_RETRY_META"),
            },
            trace_path,
            router: RouterConfig::default(),
            local_tools: LocalSettings {
                python: get("MINI_AGENT_PYTHON").unwrap_or_else(|| "python3".to_owned()),
                timeout: secs("MINI_AGENT_TOOL_TIMEOUT_SEC", 10.0),
                shell_allow: get("MINI_AGENT_SHELL_ALLOW").map_or_else(
                    || vec!["echo".to_owned()],
                    |v| v.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect(),
                ),
                output_cap: get("MINI_AGENT_TOOL_OUTPUT_MAX_BYTES")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(crate::tools::process::DEFAULT_OUTPUT_CAP),
            },
            http_tools: HttpToolSettings {
                default_headers,
                retries_429: get("MINI_AGENT_TOOL_HTTP_RETRIES").and_then(|v| v.trim().parse().ok()).unwrap_or(1),
                retry_wait_cap: secs("MINI_AGENT_TOOL_HTTP_RETRY_CAP_SEC", 1.0),
                timeout: secs("MINI_AGENT_TOOL_HTTP_TIMEOUT_SEC", 30.0),
                ..HttpToolSettings::default()
            },
            mcp_tools: McpSettings { timeout: secs("MINI_AGENT_TOOL_MCP_TIMEOUT_SEC", 30.0) },
            loop_env: LoopEnv { shortcircuit_chutes: flag("NDSMOKE_SHORTCIRCUIT_CHUTES") },
            problems,
        }
    }

    /// The process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// A config from explicit pairs, everything else unset: the form tests use.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let map: HashMap<String, String> = pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        Self::from_lookup(|name| map.get(name).cloned())
    }

    /// The newcomer's setup behind `serve --demo`: the dummy model and the echo shim, no keys needed.
    pub fn enable_demo(&mut self) {
        self.providers.allow_dummy = true;
        self.shim.echo = true;
        if self.shim.mode.is_empty() {
            self.shim.mode = "echo".to_owned();
        }
    }

    pub fn hints(&self) -> Hints {
        Hints {
            openai_api_key: self.providers.openai_api_key.is_some(),
            ollama_base_url: self.providers.ollama_base_url.is_some(),
            litellm_default_model: self.providers.default_model.is_some(),
            shim_mode: if self.shim.echo && self.shim.mode.is_empty() {
                "echo".to_owned()
            } else {
                self.shim.mode.clone()
            },
        }
    }

    /// Whether the non-echo shim has any model it could call; without one it answers 400 with
    /// [`NO_PROVIDER_GUIDANCE`] rather than failing on the first request to a provider.
    pub fn has_any_provider(&self) -> bool {
        let p = &self.providers;
        p.openai_api_key.is_some()
            || p.openai_api_base.is_some()
            || (p.ollama_base_url.is_some() && p.default_model.is_some())
            || p.allow_dummy
            || !self.router.is_empty()
    }
}

/// What the OpenAI shim says when it has nothing to call.
pub const NO_PROVIDER_GUIDANCE: &str = "mini-agent chat needs a provider: set OPENAI_API_KEY (and \
OPENAI_API_BASE for a compatible server), or bring up Ollama and set OLLAMA_BASE_URL + \
LITELLM_DEFAULT_MODEL=ollama/<tag>, or pass --config with a model_list. For a no-keys smoke test set \
MINI_AGENT_OPENAI_SHIM_MODE=echo (a stub reply) or MINI_AGENT_ALLOW_DUMMY=1 and use model \"dummy\".";

/// A JSON object of string header values, in the order written. Names must be HTTP tokens and
/// values must not contain CR/LF (either would let a setting forge extra headers).
fn parse_header_object(raw: &str) -> Result<Vec<(String, String)>, String> {
    let value: serde_json::Value = serde_json::from_str(raw).map_err(|e| format!("is not valid JSON ({e})"))?;
    let map = value.as_object().ok_or("must be a JSON object of header names to string values")?;
    let mut out = Vec::with_capacity(map.len());
    for (name, v) in map {
        let v = v.as_str().ok_or_else(|| format!("header `{name}` must have a string value"))?;
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)) {
            return Err(format!("has `{name}`, which is not a valid header name"));
        }
        if v.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(format!("header `{name}` has a value with CR, LF or NUL"));
        }
        out.push((name.clone(), v.to_owned()));
    }
    Ok(out)
}

fn is_truthy(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_count_as_unset_and_flags_accept_common_truthy_words() {
        let cfg = Config::from_pairs([
            ("OPENAI_API_KEY", ""),
            ("MINI_AGENT_ALLOW_DUMMY", "true"),
            ("MINI_AGENT_OPENAI_ECHO", "1"),
        ]);
        assert!(cfg.providers.openai_api_key.is_none());
        assert!(cfg.providers.allow_dummy);
        assert!(cfg.shim.echo);
        assert_eq!(cfg.hints().shim_mode, "echo");
    }

    #[test]
    fn traces_need_both_the_switch_and_the_path() {
        assert!(Config::from_pairs([("MINI_AGENT_STORE_PATH", "/tmp/x")]).trace_path.is_none());
        let cfg = Config::from_pairs([("MINI_AGENT_STORE_TRACES", "1"), ("MINI_AGENT_STORE_PATH", "/tmp/x")]);
        assert_eq!(cfg.trace_path, Some(PathBuf::from("/tmp/x")));
    }

    #[test]
    fn secrets_never_print() {
        let cfg = Config::from_pairs([("OPENAI_API_KEY", "sk-very-secret")]);
        let dumped = format!("{cfg:?}");
        assert!(!dumped.contains("sk-very-secret"), "{dumped}");
        assert!(cfg.hints().openai_api_key);
    }

    #[test]
    fn tool_settings() {
        let cfg =
            Config::from_pairs([("MINI_AGENT_SHELL_ALLOW", "echo, ls,,"), ("MINI_AGENT_TOOL_TIMEOUT_SEC", "2.5")]);
        assert_eq!(cfg.local_tools.shell_allow, ["echo", "ls"]);
        assert_eq!(cfg.local_tools.timeout, Duration::from_millis(2500));
        assert_eq!(Config::from_pairs([]).local_tools.shell_allow, ["echo"]);
    }

    #[test]
    fn tool_http_headers_parse_or_become_a_startup_problem() {
        let cfg = Config::from_pairs([("MINI_AGENT_TOOL_HTTP_HEADERS", r#"{"Authorization":"Bearer x","X-A":"1"}"#)]);
        assert_eq!(cfg.http_tools.default_headers.len(), 2);
        assert!(cfg.problems.is_empty());
        for bad in [r#"{"A": 1}"#, "[1]", "not json", r#"{"A":"x\r\nB: y"}"#, r#"{"bad name":"v"}"#] {
            let cfg = Config::from_pairs([("MINI_AGENT_TOOL_HTTP_HEADERS", bad)]);
            assert_eq!(cfg.problems.len(), 1, "{bad}");
            assert!(cfg.problems[0].contains("MINI_AGENT_TOOL_HTTP_HEADERS"), "{:?}", cfg.problems);
        }
    }

    #[test]
    fn bad_numbers_fall_back_to_defaults() {
        let cfg = Config::from_pairs([("MINI_AGENT_API_PORT", "eighty"), ("MINI_AGENT_OPENAI_SHIM_DELAY_MS", "-3")]);
        assert_eq!(cfg.port, DEFAULT_PORT);
        assert_eq!(cfg.shim.delay, Duration::ZERO);
    }
}
