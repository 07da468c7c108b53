//! The OpenAI-compatible wire call shared by every HTTP provider (openai, ollama, chutes).
//!
//! Owns the request body (upstream model name, messages passed through untouched, tools with
//! `tool_choice:"auto"`, extra parameters), the `Authorization` header, and the mapping of every
//! failure — refused connection, timeout, non-2xx, a body that is not a completion — to a
//! [`ProviderError`] that names the provider, the status and a short excerpt of the body.
//!
//! Does not retry: a retry policy wraps this call, it does not live inside it.

use std::time::Duration;

use serde_json::{Map, Value};

use super::{ChatRequest, ProviderError, Route};

/// At most this much of an upstream error body is quoted in an error message.
pub const BODY_EXCERPT_CHARS: usize = 400;

/// Builds the JSON body of a chat-completion request.
pub fn request_body(route: &Route, request: &ChatRequest) -> Value {
    request_body_for(route, request, false)
}

/// The body with `stream` set as given (streaming keeps the caller's `stream_options`).
pub fn request_body_for(route: &Route, request: &ChatRequest, stream: bool) -> Value {
    let mut body = Map::with_capacity(4 + request.extra.len());
    // Extra parameters go first so the fields this proxy owns win over a client's copy of them.
    for (k, v) in &request.extra {
        if k != "extra_headers" {
            body.insert(k.clone(), v.clone());
        }
    }
    body.insert("model".into(), Value::String(route.upstream_model.clone()));
    body.insert("messages".into(), Value::Array(request.messages.clone()));
    if let Some(tools) = request.tools.as_ref().filter(|t| !t.is_empty()) {
        body.insert("tools".into(), Value::Array(tools.clone()));
        body.insert("tool_choice".into(), Value::String("auto".into()));
    }
    body.insert("stream".into(), Value::Bool(stream));
    if !stream {
        body.remove("stream_options");
    }
    Value::Object(body)
}

/// Posts one chat completion to the route's URL.
pub async fn complete(
    http: &reqwest::Client,
    route: &Route,
    request: &ChatRequest,
    default_timeout: Duration,
) -> Result<Value, ProviderError> {
    let url = route.chat_url();
    let provider = route.kind;
    let mut call =
        http.post(&url).timeout(route.timeout.unwrap_or(default_timeout)).json(&request_body(route, request));
    for (name, value) in forwardable(&request.extra_headers, route.api_key.is_some()) {
        call = call.header(name, value);
    }
    if let Some(key) = &route.api_key {
        call = call.bearer_auth(key.expose());
    }
    let transport = |e: reqwest::Error| ProviderError::Transport { provider, url: url.clone(), reason: describe(&e) };
    let response = call.send().await.map_err(transport)?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| crate::tools::http::parse_retry_after(v, std::time::SystemTime::now()));
    let bytes = response.bytes().await.map_err(transport)?;
    if !status.is_success() {
        return Err(ProviderError::Upstream { provider, status: status.as_u16(), body: excerpt(&bytes), retry_after });
    }
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| ProviderError::InvalidResponse {
        provider,
        reason: format!("{e}; body starts: {}", excerpt(&bytes)),
    })?;
    if value.pointer("/choices/0").is_none() {
        return Err(ProviderError::InvalidResponse {
            provider,
            reason: format!("no choices[0]; body: {}", excerpt(&bytes)),
        });
    }
    Ok(value)
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) and framing headers: never forwarded to a provider.
const NOT_FORWARDED: [&str; 11] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// The caller's extra headers that may go upstream: no hop-by-hop or framing headers, no header
/// named in a `Connection` value, and no `Authorization` when the route sets one (exactly one).
pub fn forwardable(headers: &[(String, String)], route_sets_authorization: bool) -> Vec<(String, String)> {
    let named_by_connection: Vec<String> = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| v.split(',').map(|t| t.trim().to_ascii_lowercase()))
        .collect();
    headers
        .iter()
        .filter(|(k, _)| {
            let lower = k.to_ascii_lowercase();
            let hop = NOT_FORWARDED.contains(&lower.as_str()) || named_by_connection.contains(&lower);
            let second_authorization = route_sets_authorization && lower == "authorization";
            !(hop || second_authorization)
        })
        .cloned()
        .collect()
}

/// The first [`BODY_EXCERPT_CHARS`] characters of a body, decoded lossily.
pub fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text.chars().take(BODY_EXCERPT_CHARS).collect();
    if text.chars().nth(BODY_EXCERPT_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// reqwest's top-level message ("error sending request") hides the cause; people need the cause.
pub fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() { kind.to_owned() } else { format!("{kind} ({cause})") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn hop_by_hop_headers_never_go_upstream() {
        let h = pairs(&[
            ("Connection", "keep-alive, X-Secret-Hop"),
            ("Keep-Alive", "timeout=5"),
            ("Transfer-Encoding", "chunked"),
            ("Upgrade", "h2c"),
            ("Proxy-Authorization", "Basic x"),
            ("X-Secret-Hop", "1"),
            ("X-Trace", "abc"),
            ("Authorization", "Bearer caller"),
        ]);
        assert_eq!(forwardable(&h, true), pairs(&[("X-Trace", "abc")]));
        assert_eq!(forwardable(&h, false), pairs(&[("X-Trace", "abc"), ("Authorization", "Bearer caller")]));
    }
}
