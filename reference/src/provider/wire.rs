//! A chat call in the provider's own wire: the one place that chooses, per [`Wire`], between the
//! OpenAI-compatible request builder ([`super::openai`]) and a provider of another wire
//! ([`super::anthropic`]), so the typed callers (the agent loop, batch, streams) never do.

use std::time::Duration;

use serde::Serialize;

use bytes::Bytes;
use http_body_util::Full;

use super::anthropic;
use super::chat::{Answer, ChatRequest};
use super::direct::{self, Direct, DirectError};
use super::error::ProviderError;
use super::kind::{Exchange, Wire};
use super::openai::{CallLimits, check, forwardable, read_limited, request, send, transport_error, with_key};
use super::route::Route;

/// hyper's client and the call's URL, for an OpenAI-wire call to a plain-HTTP base with a timeout
/// (see [`super::direct`]); `None` sends through the shared reqwest client.
pub(crate) type Fast<'a> = Option<(&'a Direct, &'a reqwest::Url)>;

/// Posts a chat `body` on `route` in the provider's own wire (see [`Wire`]) and returns its 2xx
/// answer in OpenAI's, or the error it is — the one way a typed chat call reaches a provider.
pub(crate) async fn post(
    http: &reqwest::Client,
    fast: Fast<'_>,
    route: &Route,
    body: &impl Serialize,
    extra_headers: &[(String, String)],
    timeout: Option<Duration>,
    max_reply_bytes: usize,
) -> Result<reqwest::Response, ProviderError> {
    if route.kind.wire() == Wire::OpenAi {
        if let (Some((client, url)), Some(timeout)) = (fast, timeout) {
            return check(route, post_direct(client, url, route, body, extra_headers, timeout).await?).await;
        }
        return send(route, request(http, route, body, extra_headers, timeout)).await;
    }
    // Another wire: the body as JSON bytes, exchanged by the provider's own module.
    let bytes = serde_json::to_vec(body).map_err(|e| ProviderError::InvalidModel(e.to_string()))?;
    let x = Exchange { path: "chat/completions", body: &bytes, headers: extra_headers, timeout, max_reply_bytes };
    check(route, exchange(http, route, x).await?).await
}

/// The same request as [`request`] builds — the caller's forwardable headers, the route's key —
/// on hyper's client: the head and the body share `timeout` (a 504 when it passes, as reqwest's
/// one timer is). The agent loop's calls to a local model server take this path, as the chat
/// proxy's do (callgrind: reqwest's URL parsing, redirect policy and tower stack were a third of
/// an `/agent/run`'s instructions).
async fn post_direct(
    client: &Direct,
    url: &reqwest::Url,
    route: &Route,
    body: &impl Serialize,
    extra_headers: &[(String, String)],
    timeout: Duration,
) -> Result<reqwest::Response, ProviderError> {
    let bytes = serde_json::to_vec(body).map_err(|e| ProviderError::InvalidModel(e.to_string()))?;
    let mut call = http::Request::post(url.as_str()).header("content-type", "application/json");
    for (name, value) in forwardable(extra_headers, route.api_key.is_some()) {
        call = call.header(name, value);
    }
    let call = with_key(call, route)
        .body(Full::new(Bytes::from(bytes)))
        .map_err(|e| direct::error(route, DirectError::Request(e.to_string())))?;
    let deadline = tokio::time::Instant::now() + timeout;
    match tokio::time::timeout_at(deadline, client.send(call, url.clone(), Some(deadline))).await {
        Err(_) => Err(ProviderError::Timeout { provider: route.kind }),
        Ok(sent) => sent.map_err(|e| direct::error(route, e)),
    }
}

/// One non-streaming chat completion on `route`.
pub(crate) async fn complete(
    http: &reqwest::Client,
    fast: Fast<'_>,
    route: &Route,
    request: &ChatRequest<'_>,
    limits: &CallLimits,
) -> Result<Answer, ProviderError> {
    let body = request.body(&route.upstream_model, false);
    let timeout = route.timeout.unwrap_or(limits.timeout);
    let response =
        post(http, fast, route, &body, &request.extra_headers, Some(timeout), limits.max_reply_bytes).await?;
    let provider = route.kind;
    let (bytes, more) = read_limited(response, limits.max_reply_bytes).await.map_err(|e| transport_error(route, &e))?;
    if more {
        let reason =
            format!("the reply is larger than {} bytes (MINI_AGENT_PROVIDER_MAX_BYTES)", limits.max_reply_bytes);
        return Err(ProviderError::InvalidResponse { provider, reason });
    }
    Answer::read(bytes).map_err(|reason| ProviderError::InvalidResponse { provider, reason })
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
