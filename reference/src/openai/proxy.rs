//! Forwarding a request to the provider its model resolves to (CONTRACT §1, proxy mode).
//!
//! Every field goes on unchanged but `model`, which loses its provider prefix; the provider's
//! answer comes back as it is. Statuses are the provider's own: a 4xx or 429 is passed through with
//! its message and `Retry-After` and never retried on the same route (the client's SDK decides);
//! only a provider that cannot be reached, does not answer in time, or answers 5xx after the
//! route's retries becomes a 502 or 504 here.
//!
//! A router group is routed ([`send`]): each attempt is one [`forward`] to a deployment, and a
//! failure moves on to another deployment or a fallback — before anything reaches the client, since
//! an attempt ends with the provider's 2xx head (a stream falls back only before its first byte).

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use tracing::Instrument;

use super::raw::RawObject;
use crate::provider::client::{Providers, Target};
use crate::provider::direct::{self, Direct, DirectError};
use crate::provider::dummy;
use crate::provider::error::ProviderError;
use crate::provider::kind::{Exchange, ProviderKind, Wire};
use crate::provider::observe;
use crate::provider::openai::{read_limited, transport_error, with_key};
use crate::provider::route::{Overrides, Route};
use crate::provider::router::{Fault, Routed, fault_of, fault_of_status};
use crate::provider::wire;
use crate::text::excerpt_bytes;
use crate::transport::retry::{self, Attempt, Verdict, retryable_status};
use crate::transport::retry_after;

/// Provider headers worth passing back to the client (rate-limit state, the provider's own id).
const PASSED_BACK: [&str; 2] = ["x-ratelimit-", "openai-"];
/// The request id's header, in and out, named once: a header looked up or set by a `&str` has its
/// name parsed and checked every time.
pub(crate) static X_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");
/// Named once, like [`X_REQUEST_ID`].
static JSON: HeaderValue = HeaderValue::from_static("application/json");

/// Why a proxied call has no 2xx answer to hand back.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProxyError {
    /// The model cannot be used here, or the provider failed to answer (unreachable, timed out).
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The provider answered an error status; `error` is its OpenAI-shaped error object.
    #[error("{}", .error["message"].as_str().unwrap_or("the provider failed"))]
    Status { status: u16, error: Value, retry_after: Option<String> },
}

impl From<ProxyError> for crate::error::ApiError {
    fn from(e: ProxyError) -> Self {
        match e {
            ProxyError::Provider(p) => Self::Provider(p),
            ProxyError::Status { status, error, retry_after } => Self::Passthrough { status, error, retry_after },
        }
    }
}

/// A provider's 2xx answer, its head read, its body not yet.
#[derive(Debug)]
pub(crate) struct Forwarded {
    pub response: reqwest::Response,
    /// Headers for the client: the provider's request id and rate-limit headers.
    pub pass_back: Vec<(String, String)>,
    /// The call's span, open until the body has been read (token counts land on it).
    pub span: tracing::Span,
}

/// What a proxied call got: the provider's 2xx head, or the dummy model's whole answer.
#[derive(Debug)]
pub(crate) enum Proxied {
    Upstream(Forwarded),
    Local(Value),
}

/// What `model` names for the proxy: a router group, else the route of [`route`].
pub(crate) fn target(providers: &Providers, model: &str) -> Result<Target, ProviderError> {
    match providers.router().group(model.trim()) {
        Some((g, _)) => Ok(Target::Group(g)),
        None => route(providers, model).map(|r| Target::Direct(Arc::new(r))),
    }
}

/// Sends a request for `target` to `path`, routed when it is a group; `body_of` writes the body for
/// a route (its upstream model name). The answer comes with the route that gave it.
pub(crate) async fn send(
    providers: &Providers,
    target: &Target,
    path: &'static str,
    request_id: &str,
    stream: bool,
    body_of: impl Fn(&Route) -> Bytes,
) -> Routed<(Proxied, Arc<Route>), ProxyError> {
    send_with(providers, target, path, request_id, stream, &[], body_of).await
}

/// [`send`] with the client's headers for a provider of another wire (`anthropic-beta` on the
/// Anthropic surface's native path); an OpenAI-wire provider gets none of them.
pub(crate) async fn send_with(
    providers: &Providers,
    target: &Target,
    path: &'static str,
    request_id: &str,
    stream: bool,
    headers: &[(String, String)],
    body_of: impl Fn(&Route) -> Bytes,
) -> Routed<(Proxied, Arc<Route>), ProxyError> {
    let attempt = |route: Arc<Route>| {
        let body = body_of(&route);
        async move {
            let answer = if route.kind == ProviderKind::Dummy {
                if path != "chat/completions" {
                    let why = format!("the `dummy` model answers chat only, not {path}");
                    return Err(ProviderError::InvalidModel(why).into());
                }
                Proxied::Local(dummy::complete(&route.upstream_model))
            } else {
                Proxied::Upstream(forward(providers, &route, path, body, request_id, stream, headers).await?)
            };
            Ok((answer, route))
        }
    };
    providers.call(target, &Overrides::default(), attempt, fault).await
}

/// How a proxied attempt's error reads for the router (the provider's status and message).
pub(crate) fn fault(e: &ProxyError) -> Fault {
    match e {
        ProxyError::Provider(p) => fault_of(p),
        ProxyError::Status { status, error, retry_after } => {
            let wait = retry_after.as_deref().and_then(|v| retry_after::parse(v, SystemTime::now()));
            fault_of_status(*status, &error.to_string(), wait)
        }
    }
}

/// `usage.total_tokens` of a JSON answer, found without parsing it whole (the answer is relayed as
/// bytes; this only feeds the deployment's per-minute usage).
pub(crate) fn total_tokens(bytes: &[u8]) -> Option<u64> {
    const KEY: &[u8] = b"\"total_tokens\"";
    let at = bytes.windows(KEY.len()).rposition(|w| w == KEY)? + KEY.len();
    let rest = &bytes[at..];
    let start = rest.iter().position(|b| b.is_ascii_digit())?;
    if rest[..start].iter().any(|b| !matches!(b, b':' | b' ' | b'\t' | b'\n' | b'\r')) {
        return None;
    }
    let digits = rest[start..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&rest[start..start + digits]).ok()?.parse().ok()
}

/// Routes `model`: an alias or `provider/model`; a bare name that is neither goes to the default
/// provider (OpenAI's settings when present, else `LITELLM_DEFAULT_MODEL`'s provider) under its own
/// name — OpenAI SDK users send `gpt-4o`.
pub(crate) fn route(providers: &Providers, model: &str) -> Result<Route, ProviderError> {
    match providers.resolve(model) {
        Err(ProviderError::InvalidModel(why)) if !model.contains('/') => match default_provider(providers) {
            Some(prefix) => providers.resolve(&format!("{prefix}/{model}")),
            None => Err(ProviderError::InvalidModel(why)),
        },
        other => other,
    }
}

fn default_provider(providers: &Providers) -> Option<String> {
    let s = providers.settings();
    if s.openai_api_key.is_some() || s.openai_api_base.is_some() {
        return Some("openai".to_owned());
    }
    s.default_model.as_deref().and_then(|m| m.split_once('/')).map(|(prefix, _)| prefix.to_owned())
}

/// The body for the provider: `obj` with `model` set to the route's upstream name.
pub(crate) fn body_for(obj: &RawObject, route: &Route) -> Vec<u8> {
    let model = Value::String(route.upstream_model.clone()).to_string();
    obj.write(&[("model", &model)], &[])
}

/// POSTs `body` to the route's `path` (`chat/completions`, `embeddings`), retrying only what the
/// route's policy allows for 5xx and unreachable providers; the first byte of the head must arrive
/// within the provider timeout (504 otherwise). A non-2xx answer is a [`ProxyError::Status`].
pub(crate) async fn forward(
    providers: &Providers,
    route: &Route,
    path: &str,
    body: Bytes,
    request_id: &str,
    stream: bool,
    headers: &[(String, String)],
) -> Result<Forwarded, ProxyError> {
    let timeout = route.timeout.unwrap_or(providers.settings().request_timeout);
    let url = providers.url(route, path).map_err(|reason| ProviderError::Transport {
        provider: route.kind,
        url: route.url_for(path),
        reason,
    })?;
    let direct = providers.direct(&url).filter(|_| route.kind.wire() == Wire::OpenAi);
    let one = One { providers, route, path, stream, timeout };
    let attempt = |_| {
        let call = match direct {
            _ if route.kind.wire() != Wire::OpenAi => {
                let mut headers = headers.to_vec();
                headers.push(("x-request-id".to_owned(), request_id.to_owned()));
                Call::Other(headers, body.clone())
            }
            Some(client) => {
                let request = http::Request::post(url.as_str())
                    .header(http::header::CONTENT_TYPE, JSON.clone())
                    .header(X_REQUEST_ID.clone(), request_id);
                Call::Direct(client, url.clone(), with_key(request, route).body(Full::new(body.clone())))
            }
            None => {
                let mut call = providers
                    .http()
                    .post(url.clone())
                    .header("content-type", "application/json")
                    .header("x-request-id", request_id)
                    .body(body.clone());
                if !stream {
                    // The whole exchange (reqwest's one timer; its timeout is a 504, see transport_error).
                    call = call.timeout(timeout);
                }
                Call::Shared(with_key(call, route))
            }
        };
        one.send(call)
    };
    let span = observe::call_span(route, if path == "embeddings" { "embeddings" } else { "chat" });
    let started = Instant::now();
    let (outcome, stats) = retry::drive(&route.retry, attempt, classify).instrument(span.clone()).await;
    let label = match &outcome {
        Ok(r) => observe::outcome_of_status(r.status().as_u16()),
        Err(e) => observe::outcome_of(Some(e)),
    };
    observe::finish(&span, providers.metrics(), route, label, &stats, started);
    let response = outcome?;
    let pass_back = pass_back(response.headers());
    if response.status().is_success() {
        return Ok(Forwarded { response, pass_back, span });
    }
    Err(status_error(route.kind, response).await)
}

/// One attempt's request, for the client that sends it.
enum Call<'a> {
    /// Another wire's: its provider module translates it both ways.
    Other(Vec<(String, String)>, Bytes),
    /// An OpenAI-wire provider at an `http://` base: hyper's client directly.
    Direct(&'a Direct, reqwest::Url, Result<http::Request<Full<Bytes>>, http::Error>),
    /// Any other: the shared reqwest client.
    Shared(reqwest::RequestBuilder),
}

/// What every attempt of one forwarded call shares.
#[derive(Clone, Copy)]
struct One<'a> {
    providers: &'a Providers,
    route: &'a Route,
    path: &'a str,
    stream: bool,
    /// The provider timeout: for a stream's head, else for the whole exchange.
    timeout: std::time::Duration,
}

impl One<'_> {
    /// Sends one attempt's request; its answer's head, whatever its status.
    async fn send(self, call: Call<'_>) -> Result<reqwest::Response, ProviderError> {
        let One { providers, route, path, stream, timeout } = self;
        let late = || ProviderError::Timeout { provider: route.kind };
        match call {
            Call::Other(headers, body) => {
                // Another wire: translated both ways by the provider's own module.
                let x = Exchange {
                    path,
                    body: &body,
                    headers: &headers,
                    timeout: (!stream).then_some(timeout),
                    max_reply_bytes: providers.settings().max_reply_bytes,
                };
                tokio::time::timeout(timeout, wire::exchange(providers.http(), route, x))
                    .await
                    .unwrap_or_else(|_| Err(late()))
            }
            Call::Direct(client, url, request) => {
                let request = request.map_err(|e| direct::error(route, DirectError::Request(e.to_string())))?;
                // A non-streamed answer's body shares the head's deadline (a 504 either way).
                let deadline = (!stream).then(|| tokio::time::Instant::now() + timeout);
                match tokio::time::timeout(timeout, client.send(request, url, deadline)).await {
                    Err(_) => Err(late()),
                    Ok(sent) => sent.map_err(|e| direct::error(route, e)),
                }
            }
            Call::Shared(call) if !stream => call.send().await.map_err(|e| transport_error(route, &e)),
            // A stream's body is bounded by its idle gaps; only its head by the provider timeout.
            Call::Shared(call) => match tokio::time::timeout(timeout, call.send()).await {
                Err(_) => Err(late()),
                Ok(sent) => sent.map_err(|e| transport_error(route, &e)),
            },
        }
    }
}

/// 5xx and unreachable or silent providers are worth the route's retries; anything else the
/// provider said is final (a 4xx is the client's to handle).
fn classify(outcome: &Result<reqwest::Response, ProviderError>) -> Attempt {
    match outcome {
        Ok(r) if r.status().is_server_error() && retryable_status(r.status().as_u16()) => Attempt {
            status: Some(r.status().as_u16()),
            verdict: Verdict::Retry { retry_after: retry_after::from_headers(r.headers()) },
        },
        Ok(r) => Attempt { status: Some(r.status().as_u16()), verdict: Verdict::Done },
        Err(ProviderError::Transport { .. } | ProviderError::Timeout { .. }) => {
            Attempt { status: None, verdict: Verdict::Retry { retry_after: None } }
        }
        Err(_) => Attempt { status: None, verdict: Verdict::GiveUp },
    }
}

fn pass_back(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| name.as_str() == "x-request-id" || PASSED_BACK.iter().any(|p| name.as_str().starts_with(p)))
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
        .collect()
}

/// The provider's error answer as the client should see it: its own error object when it sent an
/// OpenAI-shaped one, else one that quotes the start of its body.
async fn status_error(provider: ProviderKind, response: reqwest::Response) -> ProxyError {
    let status = response.status().as_u16();
    let retry_after =
        response.headers().get("retry-after").and_then(|v: &HeaderValue| v.to_str().ok()).map(str::to_owned);
    let body = read_limited(response, 64 * 1024).await.map(|(b, _)| b).unwrap_or_default();
    let error = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("error").filter(|e| e.is_object()).cloned())
        .unwrap_or_else(|| {
            json!({
                "message": format!("provider {provider} returned HTTP {status}: {}", excerpt_bytes(&body, 400)),
                "type": if status >= 500 { "upstream_error" } else { "invalid_request_error" },
                "param": null,
                "code": null,
            })
        });
    ProxyError::Status { status, error, retry_after }
}

/// The whole body of a 2xx answer, at most `max` bytes (more is a 502: a provider cannot make the
/// server hold gigabytes for one request).
pub(crate) async fn read_all(forwarded: Forwarded, route: &Route, max: usize) -> Result<Bytes, ProxyError> {
    let (bytes, more) = read_limited(forwarded.response, max).await.map_err(|e| transport_error(route, &e))?;
    if more {
        let reason = format!("the reply is larger than {max} bytes (MINI_AGENT_PROVIDER_MAX_BYTES)");
        return Err(ProviderError::InvalidResponse { provider: route.kind, reason }.into());
    }
    if !forwarded.span.is_disabled()
        && let Ok(reply) = serde_json::from_slice::<Value>(&bytes)
    {
        observe::record_usage(&forwarded.span, reply.get("usage"));
    }
    Ok(Bytes::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_tokens_are_found_in_the_bytes() {
        let body = br#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens": 5}}"#;
        assert_eq!(total_tokens(body), Some(5));
        assert_eq!(total_tokens(br#"{"usage":null}"#), None);
        assert_eq!(total_tokens(br#"{"total_tokens":"x7"}"#), None);
    }
}
