//! `POST /v1/chat/completions` and `POST /chat/completions`: the OpenAI-compatible shim.
//!
//! - Echo mode answers the configured reply and calls nothing.
//! - Otherwise, without `stream`, the agent runs on the request's model with local tools and
//!   default settings, and its final answer is the reply (as in the original).
//! - With `stream: true`, the request is proxied to the model's provider as a stream: chunks are
//!   forwarded as they arrive (same `id`/`created` on every chunk, tool-call fragments as the
//!   provider sent them), and an SSE comment keep-alive goes out whenever the upstream is silent,
//!   so idle timeouts of load balancers don't cut a slow first token. A failure after the stream has
//!   started is an `{"error":…}` event followed by `[DONE]`.
//!
//! A bare model name the router cannot place falls back to `LITELLM_DEFAULT_MODEL`. Errors use
//! OpenAI's error shape so SDKs surface them.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::SharedState;
use super::extract::LimitedBody;
use super::sse::{Stamp, completion, replay, sse, zero_usage};
use crate::agent::{self, AgentError};
use crate::api::{RunSpec, decode};
use crate::config::NO_PROVIDER_GUIDANCE;
use crate::error::{ApiError, OpenAiError};
use crate::provider::{ChatRequest, ProviderError};

#[derive(Debug, Deserialize)]
struct ChatCompletionRequest {
    model: String,
    messages: Vec<Value>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    /// Everything else (temperature, tools, …): passed to the provider when streaming.
    #[serde(flatten)]
    extra: Map<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

pub async fn chat_completions(
    State(state): State<SharedState>,
    body: Result<LimitedBody, ApiError>,
) -> Result<Response, OpenAiError> {
    let LimitedBody(body) = body?;
    let req: ChatCompletionRequest = decode(&body)?;
    if !state.config.shim.delay.is_zero() {
        tokio::time::sleep(state.config.shim.delay).await;
    }
    let stamp = Stamp::new(req.model.clone());
    let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
    let stream = req.stream.unwrap_or(false);
    let config = &state.config;
    if config.shim.echo {
        let completion = completion(&stamp, &config.shim.reply, zero_usage());
        return Ok(if stream {
            sse(state.config.shim.keepalive, replay(&stamp, &completion, include_usage))
        } else {
            Json(completion).into_response()
        });
    }
    if !config.has_any_provider() {
        return Err(ApiError::bad_request("model", NO_PROVIDER_GUIDANCE).into());
    }
    let model = match (state.providers.resolve(&req.model), &config.providers.default_model) {
        (Err(ProviderError::InvalidModel(_)), Some(default)) => default.clone(),
        _ => req.model.clone(),
    };
    if stream {
        let route = state.providers.resolve(&model).map_err(ApiError::Provider)?;
        let mut extra = req.extra;
        if let Some(options) = include_usage.then(|| json!({"include_usage": true})) {
            extra.insert("stream_options".into(), options);
        }
        let chat = ChatRequest { messages: req.messages, tools: None, extra, extra_headers: Vec::new() };
        let providers = state.providers.clone();
        let upstream =
            futures::stream::once(async move { providers.stream_route(&route, &chat).await }).flat_map(|opened| {
                match opened {
                    Ok(chunks) => chunks,
                    Err(e) => futures::stream::iter(vec![Err(e)]).boxed(),
                }
            });
        let stamped = stamp.clone();
        let events = upstream.map(move |item| match item {
            Ok(chunk) => stamped.apply(chunk),
            Err(e) => json!({"error": {"message": e.to_string(), "type": "upstream_error", "param": null, "code": "upstream_error"}}),
        });
        return Ok(sse(state.config.shim.keepalive, events));
    }
    // The shim runs the agent (local tools, defaults), as the original does.
    let spec = RunSpec::local_defaults(model, req.messages);
    let outcome = agent::run(&spec, &state.deps()).await.map_err(|e| match e {
        AgentError::Provider(p) => ApiError::Provider(p),
        AgentError::BadToolServer(m) => ApiError::Internal(m),
    })?;
    Ok(Json(completion(&stamp, &outcome.final_answer.unwrap_or_default(), zero_usage())).into_response())
}
