//! Model name → route: which provider answers, under which upstream name, at which URL, with which
//! key and retry policy.
//!
//! Pure: reads settings and aliases, calls and logs nothing. Every refusal says what to write or set
//! instead (the runbook's failure modes: a disabled codex-agent names its enable variable), and a
//! codex-agent base written with `/v1` is corrected with the correction recorded on the route, for
//! the caller to log.

use std::time::Duration;

use super::anthropic::settings::{NOT_CONFIGURED, url};
use super::error::ProviderError;
use super::kind::ProviderKind;
use super::router::{Deployment, RouterConfig};
use super::settings::{DEFAULT_OPENAI_BASE, ProviderSettings};
use crate::secret::Secret;
use crate::transport::retry::RetryPolicy;

const KNOWN: &str =
    "openai/<model>, anthropic/<model>, ollama/<tag>, chutes/<vendor>/<model>, codex-agent/<name>, dummy";

/// A resolved model: everything needed to make the call.
#[derive(Debug, Clone)]
pub struct Route {
    pub kind: ProviderKind,
    /// The name sent upstream: the provider prefix is never sent (`openai/gpt-4o` → `gpt-4o`).
    pub upstream_model: String,
    /// The base URL: with `/v1` for OpenAI-compatible providers, without it for codex-agent.
    pub api_base: String,
    pub api_key: Option<Secret>,
    /// A per-alias timeout from the router config.
    pub timeout: Option<Duration>,
    pub retry: RetryPolicy,
    /// The base as written, when it was corrected (a codex-agent base ending in `/v1`).
    pub corrected_from: Option<String>,
    /// `max_tokens` for a request that names none, on a wire that requires it (Anthropic's).
    pub max_tokens: Option<u32>,
}

impl Route {
    /// Where the chat completion is posted. codex-agent bases are written without `/v1` (the
    /// provider appends it); the others include it.
    pub fn chat_url(&self) -> String {
        self.url_for("chat/completions")
    }

    /// The URL of an OpenAI API path (`chat/completions`, `embeddings`, `models`) at this route.
    pub fn url_for(&self, path: &str) -> String {
        match self.kind {
            ProviderKind::CodexAgent => format!("{}/v1/{path}", self.api_base),
            ProviderKind::Anthropic => url(&self.api_base, path),
            _ => format!("{}/{path}", self.api_base),
        }
    }
}

/// `api_base` / `api_key` / `custom_llm_provider` given with one request (or one alias); they win
/// over the environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub custom_llm_provider: Option<String>,
    pub api_base: Option<String>,
    pub api_key: Option<Secret>,
    pub max_retries: Option<u32>,
}

impl Overrides {
    /// Whether the request overrides nothing.
    pub fn is_empty(&self) -> bool {
        self.custom_llm_provider.is_none()
            && self.api_base.is_none()
            && self.api_key.is_none()
            && self.max_retries.is_none()
    }
}

/// Resolves `model` (an alias or `provider/model`).
#[cfg(test)]
pub(crate) fn resolve(model: &str, settings: &ProviderSettings, router: &RouterConfig) -> Result<Route, ProviderError> {
    resolve_with(model, settings, router, &Overrides::default())
}

/// Resolves `model` with per-request overrides, which win over an alias's, which win over the
/// environment. A router group resolves to its first deployment (the router chooses among them:
/// see [`deployment`]).
pub(crate) fn resolve_with(
    model: &str,
    settings: &ProviderSettings,
    router: &RouterConfig,
    request: &Overrides,
) -> Result<Route, ProviderError> {
    let model = model.trim();
    if model.is_empty() {
        return Err(ProviderError::InvalidModel("model is empty: name a router alias or `provider/model`".into()));
    }
    match router.get(model) {
        Some(d) => deployment(d, settings, router, request),
        None => build_with(model, settings, router, Overrides::default(), None, request),
    }
}

/// The route of one deployment of the router file, with per-request overrides on top.
pub(crate) fn deployment(
    d: &Deployment,
    settings: &ProviderSettings,
    router: &RouterConfig,
    request: &Overrides,
) -> Result<Route, ProviderError> {
    let own = Overrides {
        custom_llm_provider: d.custom_llm_provider.clone(),
        api_base: d.api_base.clone(),
        api_key: d.api_key.clone(),
        max_retries: d.max_retries,
    };
    build_with(&d.model, settings, router, own, d.timeout_secs.map(Duration::from_secs_f64), request)
}

fn build_with(
    target: &str,
    settings: &ProviderSettings,
    router: &RouterConfig,
    mut over: Overrides,
    timeout: Option<Duration>,
    request: &Overrides,
) -> Result<Route, ProviderError> {
    // A base the request names (a batch line's `api_base`) gets no key of the server's — neither
    // the deployment's nor the environment's — unless it is that key's own base: a key goes only to
    // the provider it was configured for.
    let foreign_base = match &request.api_base {
        Some(b) if request.api_key.is_none() => over.api_base.as_deref().map(trim_base) != Some(trim_base(b)),
        _ => false,
    };
    if foreign_base {
        over.api_key = None;
    }
    if request.custom_llm_provider.is_some() {
        over.custom_llm_provider.clone_from(&request.custom_llm_provider);
    }
    if request.api_base.is_some() {
        over.api_base.clone_from(&request.api_base);
    }
    if request.api_key.is_some() {
        over.api_key.clone_from(&request.api_key);
    }
    if request.max_retries.is_some() {
        over.max_retries = request.max_retries;
    }
    let (kind, upstream) = match &over.custom_llm_provider {
        Some(p) => {
            let kind = ProviderKind::from_prefix(p.trim()).ok_or_else(|| unknown_provider(p, target))?;
            // The target may or may not repeat the prefix: `codex-agent/mini` and `mini` are one model.
            let upstream = target
                .split_once('/')
                .filter(|(pre, _)| ProviderKind::from_prefix(pre) == Some(kind))
                .map_or(target, |(_, rest)| rest);
            (kind, upstream.to_owned())
        }
        None => split(target, router)?,
    };
    let mut route = build(kind, upstream, settings, target, &over, foreign_base)?;
    route.timeout = timeout;
    Ok(route)
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
            let aliases: Vec<&str> = router.groups().iter().map(|g| g.name.as_str()).collect();
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
    over: &Overrides,
    foreign_base: bool,
) -> Result<Route, ProviderError> {
    let not_configured = |what: &str| ProviderError::NotConfigured { provider: kind, what: what.to_owned() };
    let base_over = over.api_base.as_deref();
    // The environment's key, only where it belongs: its own base (or no base override at all).
    let env_key = |key: &Option<Secret>, env_base: Option<&str>| {
        let own = !foreign_base || env_base.map(trim_base) == base_over.map(trim_base);
        if own { key.clone() } else { None }
    };
    let key = |env: &Option<Secret>, env_base: Option<&str>| over.api_key.clone().or_else(|| env_key(env, env_base));
    let simple = |max_retries: Option<u32>| RetryPolicy { max_retries: max_retries.unwrap_or(0), ..s.codex.retry };
    let (api_base, api_key, retry) = match kind {
        ProviderKind::Dummy => {
            if !s.allow_dummy {
                return Err(ProviderError::Disabled { model: shown.to_owned(), variable: "MINI_AGENT_ALLOW_DUMMY" });
            }
            (String::new(), None, RetryPolicy::NONE)
        }
        ProviderKind::OpenAi => {
            let base = base_over.or(s.openai_api_base.as_deref());
            let api_key = key(&s.openai_api_key, Some(s.openai_api_base.as_deref().unwrap_or(DEFAULT_OPENAI_BASE)));
            if api_key.is_none() && base.is_none() {
                return Err(not_configured(
                    "set OPENAI_API_KEY (and OPENAI_API_BASE, e.g. http://127.0.0.1:9000/v1, for a compatible server)",
                ));
            }
            (trim_base(base.unwrap_or(DEFAULT_OPENAI_BASE)), api_key, simple(over.max_retries))
        }
        ProviderKind::Ollama => {
            let base = base_over.or(s.ollama_base_url.as_deref()).ok_or_else(|| {
                not_configured("set OLLAMA_BASE_URL to your Ollama server, e.g. http://127.0.0.1:11434")
            })?;
            let base = trim_base(base);
            let base = if base.ends_with("/v1") { base } else { format!("{base}/v1") };
            (base, over.api_key.clone(), simple(over.max_retries))
        }
        ProviderKind::Chutes => {
            let api_key = key(&s.chutes_api_key, Some(&s.chutes_api_base));
            if api_key.is_none() {
                return Err(not_configured("set CHUTES_API_KEY (and CHUTES_API_BASE for another endpoint)"));
            }
            (trim_base(base_over.unwrap_or(&s.chutes_api_base)), api_key, simple(over.max_retries))
        }
        ProviderKind::CodexAgent => {
            let api_key = key(&s.codex.api_key, s.codex.api_base.as_deref());
            return codex_route(upstream, s, shown, over, api_key);
        }
        ProviderKind::Anthropic => {
            let api_key = key(&s.anthropic.api_key, Some(&s.anthropic.api_base));
            let base = s.anthropic.base(api_key.is_some(), base_over).ok_or_else(|| not_configured(NOT_CONFIGURED))?;
            (base, api_key, simple(over.max_retries))
        }
    };
    let max_tokens = (kind == ProviderKind::Anthropic).then_some(s.anthropic.max_tokens);
    Ok(Route {
        kind,
        upstream_model: upstream,
        api_base,
        api_key,
        timeout: None,
        retry,
        corrected_from: None,
        max_tokens,
    })
}

/// The codex-agent route: behind its enable gate, its base written without `/v1` (corrected, and
/// the correction recorded, when it ends with it), its own retry policy.
fn codex_route(
    upstream: String,
    s: &ProviderSettings,
    shown: &str,
    over: &Overrides,
    api_key: Option<Secret>,
) -> Result<Route, ProviderError> {
    let kind = ProviderKind::CodexAgent;
    if !s.codex.enabled {
        return Err(ProviderError::Disabled { model: shown.to_owned(), variable: "LITELLM_ENABLE_CODEX_AGENT" });
    }
    let base =
        over.api_base.as_deref().or(s.codex.api_base.as_deref()).ok_or_else(|| ProviderError::NotConfigured {
            provider: kind,
            what: "set CODEX_AGENT_API_BASE (e.g. http://127.0.0.1:8077, without /v1) or pass api_base".to_owned(),
        })?;
    let retry = RetryPolicy { max_retries: over.max_retries.unwrap_or(s.codex.retry.max_retries), ..s.codex.retry };
    let (fixed, corrected) = codex_base(base);
    let corrected_from = corrected.then(|| trim_base(base));
    Ok(Route {
        kind,
        upstream_model: upstream,
        api_base: fixed,
        api_key,
        timeout: None,
        retry,
        corrected_from,
        max_tokens: None,
    })
}

fn trim_base(base: &str) -> String {
    base.trim().trim_end_matches('/').to_owned()
}

/// codex-agent appends `/v1` itself; a base that already ends in `/v1` (the runbook's most common
/// mistake) is corrected. Returns the base to use and whether it was corrected.
pub(crate) fn codex_base(base: &str) -> (String, bool) {
    let trimmed = trim_base(base);
    match trimmed.strip_suffix("/v1") {
        Some(fixed) => (fixed.to_owned(), true),
        None => (trimmed, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Env;

    fn settings(pairs: &[(&str, &str)]) -> ProviderSettings {
        let lookup = |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
        ProviderSettings::from_env(&Env::new(&lookup))
    }

    #[test]
    fn prefix_is_stripped_and_base_normalised() {
        let s = settings(&[("OPENAI_API_BASE", "http://127.0.0.1:9/v1/"), ("OLLAMA_BASE_URL", "http://h:11434")]);
        let r = resolve("openai/gpt-4o", &s, &RouterConfig::default()).expect("openai");
        assert_eq!((r.kind, r.upstream_model.as_str()), (ProviderKind::OpenAi, "gpt-4o"));
        assert_eq!(r.chat_url(), "http://127.0.0.1:9/v1/chat/completions");
        let r = resolve("ollama/qwen2.5:7b", &s, &RouterConfig::default()).expect("ollama");
        assert_eq!(
            (r.upstream_model.as_str(), r.chat_url().as_str()),
            ("qwen2.5:7b", "http://h:11434/v1/chat/completions")
        );
    }

    #[test]
    fn chutes_keeps_vendor_in_the_upstream_name() {
        let s = settings(&[("CHUTES_API_KEY", "k")]);
        let r = resolve("chutes/deepseek-ai/DeepSeek-V3", &s, &RouterConfig::default()).expect("chutes");
        assert_eq!(r.upstream_model, "deepseek-ai/DeepSeek-V3");
        assert_eq!(r.api_base, crate::provider::settings::DEFAULT_CHUTES_BASE);
    }

    #[test]
    fn codex_agent_gate_base_and_aliases() {
        let off = settings(&[("CODEX_AGENT_API_BASE", "http://127.0.0.1:8077")]);
        let err = resolve("codex-agent/mini", &off, &RouterConfig::default()).expect_err("disabled");
        assert!(err.to_string().contains("LITELLM_ENABLE_CODEX_AGENT=1"), "{err}");
        for enable in ["LITELLM_ENABLE_CODEX_AGENT", "SCILLM_ENABLE_CODEX_AGENT"] {
            let on = settings(&[(enable, "1"), ("CODEX_AGENT_API_BASE", "http://127.0.0.1:8077/v1/")]);
            for model in ["codex-agent/mini", "codex_cli_agent/mini"] {
                let r = resolve(model, &on, &RouterConfig::default()).expect("enabled");
                assert_eq!(r.chat_url(), "http://127.0.0.1:8077/v1/chat/completions", "a /v1 base is corrected");
                assert_eq!(r.upstream_model, "mini");
                assert_eq!(r.retry.max_retries, 2);
            }
        }
        let no_base = settings(&[("LITELLM_ENABLE_CODEX_AGENT", "1")]);
        let err = resolve("codex-agent/mini", &no_base, &RouterConfig::default()).expect_err("no base");
        assert!(err.to_string().contains("CODEX_AGENT_API_BASE") && err.to_string().contains("without /v1"), "{err}");
    }

    #[test]
    fn request_overrides_win() {
        let s = settings(&[("LITELLM_ENABLE_CODEX_AGENT", "1"), ("CODEX_AGENT_API_BASE", "http://env:1")]);
        let over = Overrides {
            custom_llm_provider: Some("codex-agent".into()),
            api_base: Some("http://request:2".into()),
            api_key: Some(Secret::new("req-key")),
            max_retries: None,
        };
        let r = resolve_with("mini", &s, &RouterConfig::default(), &over).expect("override");
        assert_eq!((r.kind, r.api_base.as_str()), (ProviderKind::CodexAgent, "http://request:2"));
        assert_eq!(r.api_key.as_ref().map(Secret::expose), Some("req-key"));
    }

    #[test]
    fn a_base_the_request_names_gets_no_key_of_the_servers() {
        let s = settings(&[("OPENAI_API_KEY", "sk-server"), ("OPENAI_API_BASE", "http://provider:1/v1")]);
        let base = |b: &str| Overrides { api_base: Some(b.into()), ..Overrides::default() };
        let key = |over: &Overrides| {
            resolve_with("openai/m", &s, &RouterConfig::default(), over)
                .expect("resolves")
                .api_key
                .map(|k| k.expose().to_owned())
        };
        assert_eq!(key(&base("http://attacker:2/v1")), None, "the server's key must not follow the request");
        assert_eq!(key(&base("http://provider:1/v1/")), Some("sk-server".into()), "its own base keeps it");
        assert_eq!(key(&Overrides::default()), Some("sk-server".into()));
        let own = Overrides { api_key: Some(Secret::new("sk-line")), ..base("http://other:3/v1") };
        assert_eq!(key(&own), Some("sk-line".into()), "a key the request brings goes with it");
    }

    #[test]
    fn anthropic_routes_keep_their_key_home_and_their_base_without_v1() {
        let s = settings(&[("ANTHROPIC_API_KEY", "sk-ant-server"), ("ANTHROPIC_API_BASE", "http://anthropic:1/v1/")]);
        let r = resolve("anthropic/claude-x", &s, &RouterConfig::default()).expect("anthropic");
        assert_eq!((r.kind, r.upstream_model.as_str()), (ProviderKind::Anthropic, "claude-x"));
        assert_eq!(r.chat_url(), "http://anthropic:1/v1/messages");
        assert_eq!(r.max_tokens, Some(4096));
        let foreign = Overrides { api_base: Some("http://attacker:2".into()), ..Overrides::default() };
        let r = resolve_with("anthropic/claude-x", &s, &RouterConfig::default(), &foreign).expect("resolves");
        assert!(r.api_key.is_none(), "the server's Anthropic key must not follow a request-named base");
        let err = resolve("anthropic/claude-x", &settings(&[]), &RouterConfig::default()).expect_err("no key");
        assert!(err.to_string().contains("ANTHROPIC_API_KEY") && err.is_client_error(), "{err}");
    }

    #[test]
    fn an_explicit_provider_strips_only_its_own_prefix() {
        let s = settings(&[("OPENAI_API_KEY", "k")]);
        let openai = Overrides { custom_llm_provider: Some("openai".into()), ..Overrides::default() };
        let upstream = |model| resolve_with(model, &s, &RouterConfig::default(), &openai).expect(model).upstream_model;
        assert_eq!(upstream("openai/gpt-x"), "gpt-x");
        assert_eq!(upstream("vendor/model-y"), "vendor/model-y", "another prefix is part of the name");
    }

    #[test]
    fn openai_needs_a_key_or_a_base_not_both() {
        let r = resolve("openai/gpt-4o", &settings(&[("OPENAI_API_KEY", "k")]), &RouterConfig::default()).expect("key");
        assert_eq!(r.api_base, DEFAULT_OPENAI_BASE);
        assert_eq!(r.retry.max_retries, 0, "OpenAI-compatible providers are not retried unless asked");
        let base_only = settings(&[("OPENAI_API_BASE", "http://127.0.0.1:9/v1")]);
        let r = resolve("openai/local", &base_only, &RouterConfig::default()).expect("base");
        assert!(r.api_key.is_none());
        assert!(resolve("openai/", &base_only, &RouterConfig::default()).is_err(), "a prefix without a model");
    }

    #[test]
    fn codex_agent_retries_can_be_overridden() {
        let s = settings(&[("LITELLM_ENABLE_CODEX_AGENT", "1"), ("CODEX_AGENT_API_BASE", "http://env:1")]);
        let over = Overrides { max_retries: Some(5), ..Overrides::default() };
        let r = resolve_with("codex-agent/mini", &s, &RouterConfig::default(), &over).expect("codex");
        assert_eq!(r.retry.max_retries, 5);
        assert_eq!(r.corrected_from, None, "a base without /v1 is not corrected");
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
            "model_list:\n  - model_name: local\n    litellm_params: {model: gpt-x, custom_llm_provider: openai, api_base: 'http://127.0.0.1:1/v1', api_key: k2, timeout: 2, max_retries: 3}\n",
            "r.yaml",
            false,
            |_| None,
        )
        .expect("config");
        let r = resolve("local", &settings(&[]), &router).expect("alias");
        assert_eq!(r.upstream_model, "gpt-x");
        assert_eq!(r.api_base, "http://127.0.0.1:1/v1");
        assert_eq!(r.api_key.as_ref().map(Secret::expose), Some("k2"));
        assert_eq!(r.timeout, Some(Duration::from_secs(2)));
        assert_eq!(r.retry.max_retries, 3);
    }
}
