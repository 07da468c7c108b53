//! Model name → route: which provider answers, under which upstream name, at which base, with which key.
//!
//! Pure: reads settings and aliases, calls nothing. Every refusal says what to write or set instead.

use std::fmt;
use std::time::Duration;

use super::ProviderError;
use super::router::RouterConfig;
use crate::config::{DEFAULT_OPENAI_BASE, ProviderSettings, Secret};

/// The closed set of providers this build can call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    Dummy,
    OpenAi,
    Ollama,
    Chutes,
}

impl ProviderKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Dummy => "dummy",
            Self::OpenAi => "openai",
            Self::Ollama => "ollama",
            Self::Chutes => "chutes",
        }
    }

    fn from_prefix(prefix: &str) -> Option<Self> {
        match prefix {
            "openai" => Some(Self::OpenAi),
            "ollama" | "ollama_chat" => Some(Self::Ollama),
            "chutes" => Some(Self::Chutes),
            "dummy" | "noop" => Some(Self::Dummy),
            _ => None,
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

const KNOWN: &str = "openai/<model>, ollama/<tag>, chutes/<vendor>/<model>, dummy";

/// A resolved model: everything needed to make the call.
#[derive(Debug, Clone)]
pub struct Route {
    pub kind: ProviderKind,
    /// The name sent upstream: the provider prefix is never sent (`openai/gpt-4o` → `gpt-4o`).
    pub upstream_model: String,
    /// The OpenAI-compatible base including `/v1`; the call goes to `{base}/chat/completions`.
    pub api_base: String,
    pub api_key: Option<Secret>,
    /// A per-alias timeout from the router config.
    pub timeout: Option<Duration>,
}

/// Resolves `model` (an alias or `provider/model`).
pub fn resolve(model: &str, settings: &ProviderSettings, router: &RouterConfig) -> Result<Route, ProviderError> {
    let model = model.trim();
    if model.is_empty() {
        return Err(ProviderError::InvalidModel("model is empty: name a router alias or `provider/model`".into()));
    }
    if let Some(entry) = router.get(model) {
        let (kind, upstream) = match &entry.custom_llm_provider {
            Some(p) => {
                let kind = ProviderKind::from_prefix(p).ok_or_else(|| unknown_provider(p, &entry.model))?;
                let upstream = entry.model.strip_prefix(&format!("{p}/")).unwrap_or(&entry.model);
                (kind, upstream.to_owned())
            }
            None => split(&entry.model, router)?,
        };
        let overrides = Overrides { base: entry.api_base.as_deref(), key: entry.api_key.as_ref() };
        let mut route = build(kind, upstream, settings, &entry.model, overrides)?;
        route.timeout = entry.timeout_secs.map(Duration::from_secs_f64);
        return Ok(route);
    }
    let (kind, upstream) = split(model, router)?;
    build(kind, upstream, settings, model, Overrides::default())
}

/// Per-alias (and later per-request) `api_base` / `api_key`, which win over the environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides<'a> {
    pub base: Option<&'a str>,
    pub key: Option<&'a Secret>,
}

fn split(model: &str, router: &RouterConfig) -> Result<(ProviderKind, String), ProviderError> {
    if matches!(model, "dummy" | "noop") {
        return Ok((ProviderKind::Dummy, model.to_owned()));
    }
    match model.split_once('/') {
        Some((prefix, rest)) if !rest.is_empty() => {
            let kind = ProviderKind::from_prefix(prefix).ok_or_else(|| unknown_provider(prefix, model))?;
            Ok((kind, rest.to_owned()))
        }
        _ => {
            let aliases: Vec<&str> = router.entries().iter().map(|e| e.model_name.as_str()).collect();
            let aliases =
                if aliases.is_empty() { "none configured (see --config)".to_owned() } else { aliases.join(", ") };
            Err(ProviderError::InvalidModel(format!(
                "model `{model}` has no provider prefix and is not a router alias: write `openai/{model}` \
                 (or {KNOWN}), or use an alias: {aliases}"
            )))
        }
    }
}

fn unknown_provider(prefix: &str, model: &str) -> ProviderError {
    ProviderError::InvalidModel(format!("unknown provider `{prefix}` in model `{model}`: known forms are {KNOWN}"))
}

fn build(
    kind: ProviderKind,
    upstream: String,
    s: &ProviderSettings,
    shown: &str,
    over: Overrides<'_>,
) -> Result<Route, ProviderError> {
    let not_configured = |what: &str| ProviderError::NotConfigured { provider: kind, what: what.to_owned() };
    let key = |env: &Option<Secret>| over.key.cloned().or_else(|| env.clone());
    let (api_base, api_key) = match kind {
        ProviderKind::Dummy => {
            if !s.allow_dummy {
                return Err(ProviderError::Disabled { model: shown.to_owned(), variable: "MINI_AGENT_ALLOW_DUMMY" });
            }
            (String::new(), None)
        }
        ProviderKind::OpenAi => {
            let base = over.base.or(s.openai_api_base.as_deref());
            let api_key = key(&s.openai_api_key);
            if api_key.is_none() && base.is_none() {
                return Err(not_configured(
                    "set OPENAI_API_KEY (and OPENAI_API_BASE, e.g. http://127.0.0.1:9000/v1, for a compatible server)",
                ));
            }
            (normalise_base(kind, base.unwrap_or(DEFAULT_OPENAI_BASE)), api_key)
        }
        ProviderKind::Ollama => {
            let base = over.base.or(s.ollama_base_url.as_deref()).ok_or_else(|| {
                not_configured("set OLLAMA_BASE_URL to your Ollama server, e.g. http://127.0.0.1:11434")
            })?;
            (normalise_base(kind, base), over.key.cloned())
        }
        ProviderKind::Chutes => {
            let api_key = key(&s.chutes_api_key);
            if api_key.is_none() {
                return Err(not_configured("set CHUTES_API_KEY (and CHUTES_API_BASE for another endpoint)"));
            }
            (normalise_base(kind, over.base.unwrap_or(&s.chutes_api_base)), api_key)
        }
    };
    Ok(Route { kind, upstream_model: upstream, api_base, api_key, timeout: None })
}

/// Bases are written with `/v1` for OpenAI-compatible servers; Ollama's is the server root, so its
/// OpenAI-compatible `/v1` is added here. A trailing slash is dropped so `{base}/chat/completions`
/// never has `//`.
fn normalise_base(kind: ProviderKind, base: &str) -> String {
    let trimmed = base.trim().trim_end_matches('/');
    match kind {
        ProviderKind::Ollama if !trimmed.ends_with("/v1") => format!("{trimmed}/v1"),
        _ => trimmed.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn settings(pairs: &[(&str, &str)]) -> ProviderSettings {
        Config::from_pairs(pairs.iter().copied()).providers
    }

    #[test]
    fn prefix_is_stripped_and_base_normalised() {
        let s = settings(&[("OPENAI_API_BASE", "http://127.0.0.1:9/v1/"), ("OLLAMA_BASE_URL", "http://h:11434")]);
        let r = resolve("openai/gpt-4o", &s, &RouterConfig::default()).expect("openai");
        assert_eq!(
            (r.kind, r.upstream_model.as_str(), r.api_base.as_str()),
            (ProviderKind::OpenAi, "gpt-4o", "http://127.0.0.1:9/v1")
        );
        let r = resolve("ollama/qwen2.5:7b", &s, &RouterConfig::default()).expect("ollama");
        assert_eq!((r.upstream_model.as_str(), r.api_base.as_str()), ("qwen2.5:7b", "http://h:11434/v1"));
    }

    #[test]
    fn chutes_keeps_vendor_in_the_upstream_name() {
        let s = settings(&[("CHUTES_API_KEY", "k")]);
        let r = resolve("chutes/deepseek-ai/DeepSeek-V3", &s, &RouterConfig::default()).expect("chutes");
        assert_eq!(r.upstream_model, "deepseek-ai/DeepSeek-V3");
        assert_eq!(r.api_base, crate::config::DEFAULT_CHUTES_BASE);
    }

    #[test]
    fn refusals_say_what_to_do() {
        let none = settings(&[]);
        let cases = [
            ("dummy", "MINI_AGENT_ALLOW_DUMMY=1"),
            ("openai/gpt-4o", "OPENAI_API_KEY"),
            ("ollama/llama3", "OLLAMA_BASE_URL"),
            ("chutes/a/b", "CHUTES_API_KEY"),
            ("gpt-4o", "write `openai/gpt-4o`"),
            ("bogus/x", "unknown provider `bogus`"),
            ("  ", "model is empty"),
        ];
        for (model, needle) in cases {
            let err = resolve(model, &none, &RouterConfig::default()).expect_err(model);
            assert!(err.to_string().contains(needle), "{model}: {err}");
            assert!(err.is_client_error());
        }
    }

    #[test]
    fn aliases_override_base_key_and_timeout() {
        let router = RouterConfig::parse(
            "model_list:\n  - model_name: local\n    litellm_params: {model: gpt-x, custom_llm_provider: openai, api_base: 'http://127.0.0.1:1/v1', api_key: k2, timeout: 2}\n",
            "r.yaml",
            false,
            |_| None,
        )
        .expect("config");
        let s = settings(&[]);
        let r = resolve("local", &s, &router).expect("alias");
        assert_eq!(r.upstream_model, "gpt-x");
        assert_eq!(r.api_base, "http://127.0.0.1:1/v1");
        assert_eq!(r.api_key.as_ref().map(Secret::expose), Some("k2"));
        assert_eq!(r.timeout, Some(Duration::from_secs(2)));
    }
}
