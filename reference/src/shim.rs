//! The OpenAI surface's settings and the decisions behind it, free of axum: how the shim answers
//! (echo or a model), which model a request's name goes to, and what it says when there is nothing
//! to call. The handler in [`crate::http::openai`] extracts, calls these, and maps the result.

use std::time::Duration;

use crate::env::Env;
use crate::provider::{ProviderError, Providers};

/// Reply of the OpenAI shim in echo mode when `MINI_AGENT_OPENAI_SHIM_REPLY` is unset.
pub const DEFAULT_SHIM_REPLY: &str = "shim ok";

/// What the OpenAI shim says when it has nothing to call.
pub const NO_PROVIDER_GUIDANCE: &str = "mini-agent chat needs a provider: set OPENAI_API_KEY (and \
OPENAI_API_BASE for a compatible server), or bring up Ollama and set OLLAMA_BASE_URL + \
LITELLM_DEFAULT_MODEL=ollama/<tag>, or pass --config with a model_list. For a no-keys smoke test set \
MINI_AGENT_OPENAI_SHIM_MODE=echo (a stub reply) or MINI_AGENT_ALLOW_DUMMY=1 and use model \"dummy\".";

/// How the OpenAI shim answers.
#[derive(Debug, Clone)]
pub struct ShimSettings {
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

impl ShimSettings {
    pub fn from_env(env: &Env) -> Self {
        let mode = env.get("MINI_AGENT_OPENAI_SHIM_MODE").unwrap_or_default();
        Self {
            echo: mode.eq_ignore_ascii_case("echo") || env.flag("MINI_AGENT_OPENAI_ECHO"),
            mode,
            reply: env.get("MINI_AGENT_OPENAI_SHIM_REPLY").unwrap_or_else(|| DEFAULT_SHIM_REPLY.to_owned()),
            delay: Duration::from_millis(env.parse("MINI_AGENT_OPENAI_SHIM_DELAY_MS", 0, "a number of milliseconds")),
            keepalive: env.secs("MINI_AGENT_SSE_KEEPALIVE_SEC", Duration::from_secs(10)),
        }
    }

    /// The mode `/ready` reports: the configured word, or `echo` when echo was switched on another way.
    pub fn reported_mode(&self) -> String {
        if self.echo && self.mode.is_empty() { "echo".to_owned() } else { self.mode.clone() }
    }
}

/// The model a shim request's name goes to: the name itself when it routes, else
/// `LITELLM_DEFAULT_MODEL` (OpenAI SDK users send bare names such as `gpt-4o`).
pub fn model_for(providers: &Providers, requested: &str) -> String {
    match (providers.resolve(requested), &providers.settings().default_model) {
        (Err(ProviderError::InvalidModel(_)), Some(default)) => default.clone(),
        _ => requested.to_owned(),
    }
}

/// `POST /v1/chat/completions` as sent. Everything but the fields the shim reads is kept in
/// `extra` and passed to the provider when streaming.
#[derive(Debug, serde::Deserialize)]
pub struct ChatCompletionRequest {
    pub model: String,
    pub messages: Vec<serde_json::Value>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

impl ChatCompletionRequest {
    pub fn include_usage(&self) -> bool {
        self.stream_options.as_ref().is_some_and(|o| o.include_usage)
    }
}

/// The provider's chunks for `req` on `route`, stamped with one id; a failure — before the stream
/// opens or in it — becomes an `error` chunk (the 200 has already been sent once streaming).
pub fn proxy_stream(
    providers: Providers,
    route: crate::provider::Route,
    req: ChatCompletionRequest,
    stamp: crate::openai_shape::Stamp,
) -> impl futures::Stream<Item = serde_json::Value> + Send + 'static {
    use futures::StreamExt;
    let include_usage = req.include_usage();
    let mut extra = req.extra;
    if include_usage {
        extra.insert("stream_options".into(), serde_json::json!({"include_usage": true}));
    }
    let messages: Vec<std::borrow::Cow<'static, serde_json::Value>> =
        req.messages.into_iter().map(std::borrow::Cow::Owned).collect();
    let chat = crate::provider::ChatRequest { messages, tools: None, extra, extra_headers: Vec::new() };
    futures::stream::once(async move { providers.stream_route(&route, &chat).await })
        .flat_map(|opened| match opened {
            Ok(chunks) => chunks,
            Err(e) => futures::stream::iter(vec![Err(e)]).boxed(),
        })
        .map(move |item| match item {
            Ok(chunk) => stamp.apply(chunk),
            Err(e) => serde_json::json!({"error": {"message": e.to_string(), "type": "upstream_error", "param": null, "code": "upstream_error"}}),
        })
}
