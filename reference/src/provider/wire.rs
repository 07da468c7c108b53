//! A chat call in the provider's own wire: the one place that chooses, per [`Wire`], between the
//! OpenAI-compatible request builder ([`super::openai`]) and a provider of another wire
//! ([`super::anthropic`]), so the typed callers (the agent loop, batch, streams) never do.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::anthropic;
use super::chat::ChatRequest;
use super::error::ProviderError;
use super::kind::{Exchange, Wire};
use super::openai::{CallLimits, check, check_completion, excerpt, read_limited, request, send, transport_error};
use super::route::Route;

/// Posts a chat `body` on `route` in the provider's own wire (see [`Wire`]) and returns its 2xx
/// answer in OpenAI's, or the error it is — the one way a typed chat call reaches a provider.
pub(crate) async fn post(
    http: &reqwest::Client,
    route: &Route,
    body: &impl Serialize,
    extra_headers: &[(String, String)],
    timeout: Option<Duration>,
    max_reply_bytes: usize,
) -> Result<reqwest::Response, ProviderError> {
    if route.kind.wire() == Wire::OpenAi {
        return send(route, request(http, route, body, extra_headers, timeout)).await;
    }
    // Another wire: the body as JSON bytes, exchanged by the provider's own module.
    let bytes = serde_json::to_vec(body).map_err(|e| ProviderError::InvalidModel(e.to_string()))?;
    let x = Exchange { path: "chat/completions", body: &bytes, headers: extra_headers, timeout, max_reply_bytes };
    check(route, exchange(http, route, x).await?).await
}

/// One non-streaming chat completion on `route`.
pub(crate) async fn complete(
    http: &reqwest::Client,
    route: &Route,
    request: &ChatRequest<'_>,
    limits: &CallLimits,
) -> Result<Value, ProviderError> {
    let body = request.body(&route.upstream_model, false);
    let timeout = route.timeout.unwrap_or(limits.timeout);
    let response = post(http, route, &body, &request.extra_headers, Some(timeout), limits.max_reply_bytes).await?;
    let provider = route.kind;
    let (bytes, more) = read_limited(response, limits.max_reply_bytes).await.map_err(|e| transport_error(route, &e))?;
    if more {
        let reason =
            format!("the reply is larger than {} bytes (MINI_AGENT_PROVIDER_MAX_BYTES)", limits.max_reply_bytes);
        return Err(ProviderError::InvalidResponse { provider, reason });
    }
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| ProviderError::InvalidResponse {
        provider,
        reason: format!("{e}; body starts: {}", excerpt(&bytes)),
    })?;
    check_completion(&value).map_err(|why| ProviderError::InvalidResponse {
        provider,
        reason: format!("{why}; body: {}", excerpt(&bytes)),
    })?;
    Ok(value)
}

/// `x` on a provider of another wire, answered as an OpenAI-compatible provider would answer it: a
/// completion, an event stream of chunks, or an error in OpenAI's shape. A new wire is one arm here.
pub(crate) async fn exchange(
    http: &reqwest::Client,
    route: &Route,
    x: Exchange<'_>,
) -> Result<reqwest::Response, ProviderError> {
    match route.kind.wire() {
        Wire::Anthropic => anthropic::exchange(http, route, x).await,
        Wire::OpenAi => Err(ProviderError::InvalidModel(format!(
            "provider {} speaks OpenAI's wire: its requests are sent as they are, not exchanged",
            route.kind
        ))),
    }
}
