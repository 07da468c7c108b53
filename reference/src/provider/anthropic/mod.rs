//! The `anthropic/<model>` provider: Anthropic's Messages API behind the OpenAI wire.
//!
//! [`exchange`] is this provider's whole seam with the rest of the crate. Asked for
//! `chat/completions`, it translates the OpenAI body ([`request`]), posts it to `{base}/v1/messages`
//! with `x-api-key` and `anthropic-version`, and hands back a response that *reads like an
//! OpenAI-compatible provider's*: a completion ([`answer`]), a stream of chunks converted event by
//! event as they arrive ([`stream`]), or an error in OpenAI's shape with the provider's status (529
//! overloaded → 503, `retry-after` kept). So the chat proxy, the Responses bridge, the agent loop,
//! the router and batch need no Anthropic case of their own. Asked for `messages` (the Anthropic
//! surface, native), the body goes as it is and the answer comes back untranslated.
//!
//! A request the Anthropic wire cannot carry is answered here as a 400 naming the field, before
//! any network.

pub(crate) mod answer;
pub(crate) mod request;
pub(crate) mod settings;
pub(crate) mod stream;

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Map, Value, json};

pub(crate) use settings::url;

use super::error::ProviderError;
use super::kind::Exchange;
use super::openai::{excerpt, forwardable, read_limited, transport_error, with_key};
use super::route::Route;

/// Posts `x` to the route and answers as an OpenAI-compatible provider would (see the module doc).
pub(crate) async fn exchange(
    http: &reqwest::Client,
    route: &Route,
    x: Exchange<'_>,
) -> Result<reqwest::Response, ProviderError> {
    match x.path {
        "chat/completions" => translated(http, route, x).await,
        "messages" | "messages/count_tokens" => {
            let call = post(http, route, x, Bytes::copy_from_slice(x.body));
            call.send().await.map_err(|e| transport_error(route, &e))
        }
        other => {
            Ok(refusal(&format!("provider anthropic has no /{other} (chat completions and messages only)"), "model"))
        }
    }
}

fn post(http: &reqwest::Client, route: &Route, x: Exchange<'_>, body: Bytes) -> reqwest::RequestBuilder {
    let mut call = http
        .post(url(&route.api_base, x.path))
        .header("content-type", "application/json")
        .header("anthropic-version", settings::API_VERSION)
        .body(body);
    for (name, value) in forwardable(x.headers, true) {
        let lower = name.to_ascii_lowercase();
        if !matches!(lower.as_str(), "x-api-key" | "anthropic-version" | "content-type") {
            call = call.header(name, value);
        }
    }
    if let Some(t) = x.timeout {
        call = call.timeout(t);
    }
    with_key(call, route)
}

async fn translated(
    http: &reqwest::Client,
    route: &Route,
    x: Exchange<'_>,
) -> Result<reqwest::Response, ProviderError> {
    let Ok(chat) = serde_json::from_slice::<Map<String, Value>>(x.body) else {
        return Ok(refusal("the request body is not a JSON object", "messages"));
    };
    let max_tokens = route.max_tokens.unwrap_or(settings::DEFAULT_MAX_TOKENS);
    let t = match request::translate(&chat, &route.upstream_model, max_tokens) {
        Ok(t) => t,
        Err(r) => return Ok(refusal(&format!("{}: {}", r.field, r.message), &r.field)),
    };
    let stream = t.body.get("stream") == Some(&json!(true));
    let body = Bytes::from(t.body.to_string());
    let response = post(http, route, x, body).send().await.map_err(|e| transport_error(route, &e))?;
    let status = response.status().as_u16();
    let mut headers: Vec<(&str, String)> = Vec::new();
    for (from, to) in [("retry-after", "retry-after"), ("request-id", "x-request-id")] {
        if let Some(v) = response.headers().get(from).and_then(|v| v.to_str().ok()) {
            headers.push((to, v.to_owned()));
        }
    }
    if !response.status().is_success() {
        let body = read_limited(response, 64 * 1024).await.map(|(b, _)| b).unwrap_or_default();
        let error = answer::error(status, &body);
        headers.push(("content-type", "application/json".into()));
        return Ok(synthetic(answer::status(status), &headers, reqwest::Body::from(error.to_string())));
    }
    let created = now();
    if stream {
        let is_events = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/event-stream"));
        if !is_events {
            // Handed on as it is: the relay says it is not an event stream.
            return Ok(response);
        }
        headers.push(("content-type", "text/event-stream".into()));
        let body = reqwest::Body::wrap_stream(converted(
            response,
            stream::Converter::new(t.answer_tool, t.include_usage, created),
        ));
        return Ok(synthetic(200, &headers, body));
    }
    let (bytes, more) = read_limited(response, x.max_reply_bytes).await.map_err(|e| transport_error(route, &e))?;
    let invalid = |reason: String| ProviderError::InvalidResponse { provider: route.kind, reason };
    if more {
        return Err(invalid(format!(
            "the reply is larger than {} bytes (MINI_AGENT_PROVIDER_MAX_BYTES)",
            x.max_reply_bytes
        )));
    }
    let message: Value =
        serde_json::from_slice(&bytes).map_err(|e| invalid(format!("{e}; body starts: {}", excerpt(&bytes))))?;
    if message.get("content").and_then(Value::as_array).is_none() {
        return Err(invalid(format!("not a message (no content list); body: {}", excerpt(&bytes))));
    }
    let done = answer::completion(&message, t.answer_tool.as_deref(), created);
    headers.push(("content-type", "application/json".into()));
    Ok(synthetic(200, &headers, reqwest::Body::from(done.to_string())))
}

/// The provider's event stream as chunk events, converted as each event arrives.
fn converted(
    response: reqwest::Response,
    mut converter: stream::Converter,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let bytes = response.bytes_stream().map(|c| c.map_err(std::io::Error::other));
    sse_stream::SseStream::from_bytes_stream(bytes)
        .map(move |event| {
            let pieces = match event {
                Err(e) => return vec![Err(std::io::Error::other(e.to_string()))],
                Ok(event) if converter.finished() => {
                    let _ = event;
                    Vec::new()
                }
                Ok(event) => match event.data.as_deref().map(|d| serde_json::from_str::<Value>(d.trim())) {
                    None => Vec::new(),
                    Some(Ok(data)) => converter.event(&data),
                    Some(Err(e)) => {
                        let why = format!("provider anthropic sent an event that is not JSON: {e}");
                        converter.event(&json!({"type": "error", "error": {"type": "api_error", "message": why}}))
                    }
                },
            };
            pieces.into_iter().map(Ok).collect()
        })
        .flat_map(futures::stream::iter)
}

/// A response made here, read by the callers exactly like a provider's.
/// The status is the provider's (or its OpenAI-surface equivalent): what the client is answered is
/// decided above, in `error.rs`, as for any provider.
fn synthetic(status: u16, headers: &[(&str, String)], body: reqwest::Body) -> reqwest::Response {
    let mut r = http::Response::new(body);
    if let Ok(s) = status.try_into() {
        *r.status_mut() = s;
    }
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (http::HeaderName::from_bytes(name.as_bytes()), http::HeaderValue::from_str(value)) {
            r.headers_mut().insert(n, v);
        }
    }
    reqwest::Response::from(r)
}

/// A 400 in OpenAI's shape for what the Anthropic wire cannot carry.
fn refusal(message: &str, field: &str) -> reqwest::Response {
    let body = json!({"error": {"message": format!("anthropic: {message}"), "type": "invalid_request_error",
        "param": field, "code": "unsupported_by_provider"}});
    synthetic(400, &[("content-type", "application/json".into())], reqwest::Body::from(body.to_string()))
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
