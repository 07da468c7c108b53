//! The provider fakes of the `router` profile (CONTRACT §5 Routing): three OpenAI-compatible
//! servers — `alpha`, `beta`, `gamma` — that the suite's router files spread deployments over.
//!
//! Scripted health, stateless like the other fakes: a request carries its script after
//! [`ROUTE_MARKER`] in a message's text (or an embeddings `input`), keyed by the **upstream model
//! name** — every deployment of the suite's files has its own — so one request can make one
//! deployment answer 500, another 429 with `Retry-After`, a third a cut stream, while the rest
//! answer normally. A normal answer names who served it: `served-by <fake> <model>` as the
//! completion's content (and `served_by` beside an embedding), with a fixed usage of 5 tokens.
//!
//! What each fake received is counted by the cases through [`RouterFakes::received`], filtered by
//! a per-case nonce, so concurrent cases never see each other's requests.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// What precedes a routing script in a message's text (the JSON runs to the end of the text).
pub const ROUTE_MARKER: &str = "ROUTE:";

/// The fakes' names, in the order of their addresses.
pub const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

/// How one deployment (by upstream model name) answers one request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// An error status (with OpenAI's error shape); `None` answers normally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The error's message (say "maximum context length" or "content_policy_violation").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
    /// Held back this long before the status line.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub delay_ms: u64,
    /// A streamed answer is cut: its first chunks, then the end without `data: [DONE]`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cut: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Health {
    pub fn status(status: u16) -> Self {
        Self { status: Some(status), ..Self::default() }
    }

    pub fn error(status: u16, message: &str) -> Self {
        Self { status: Some(status), message: Some(message.to_owned()), ..Self::default() }
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self { status: Some(429), retry_after: Some(retry_after_secs.to_string()), ..Self::default() }
    }

    pub fn slow(delay_ms: u64) -> Self {
        Self { delay_ms, ..Self::default() }
    }

    pub fn cut() -> Self {
        Self { cut: true, ..Self::default() }
    }
}

/// The text to put in a message so the named deployments answer as scripted.
pub fn script(entries: &[(&str, Health)]) -> String {
    let map: BTreeMap<&str, &Health> = entries.iter().map(|(k, v)| (*k, v)).collect();
    format!("{ROUTE_MARKER}{}", serde_json::to_string(&map).unwrap_or_default())
}

/// One request a fake received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The fake that received it.
    pub fake: &'static str,
    /// The upstream model it named.
    pub model: String,
    pub path: String,
}

/// The three servers.
pub struct RouterFakes {
    servers: Vec<(&'static str, MockServer)>,
}

impl RouterFakes {
    /// Starts the fakes, at `addrs` where given (else on free ports).
    pub async fn start(addrs: [Option<SocketAddr>; 3]) -> std::io::Result<Self> {
        let mut servers = Vec::new();
        for (name, addr) in NAMES.into_iter().zip(addrs) {
            let server = match addr {
                Some(addr) => MockServer::builder().listener(std::net::TcpListener::bind(addr)?).start().await,
                None => MockServer::start().await,
            };
            Mock::given(method("POST")).respond_with(Fake { name }).mount(&server).await;
            servers.push((name, server));
        }
        Ok(Self { servers })
    }

    /// `(name, base with /v1)` of each fake, in [`NAMES`] order.
    pub fn bases(&self) -> Vec<(&'static str, String)> {
        self.servers.iter().map(|(name, s)| (*name, format!("{}/v1", s.uri()))).collect()
    }

    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.servers.iter().map(|(_, s)| *s.address()).collect()
    }

    /// Every request the fakes received whose body contains `nonce`.
    pub async fn received(&self, nonce: &str) -> Vec<Received> {
        let mut out = Vec::new();
        for (name, server) in &self.servers {
            for r in server.received_requests().await.unwrap_or_default() {
                if !r.body.windows(nonce.len()).any(|w| w == nonce.as_bytes()) {
                    continue;
                }
                let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                let model = body.get("model").and_then(Value::as_str).unwrap_or_default().to_owned();
                out.push(Received { fake: name, model, path: r.url.path().to_owned() });
            }
        }
        out
    }

    /// How many requests naming upstream model `model` and carrying `nonce` the fakes received.
    pub async fn count(&self, model: &str, nonce: &str) -> usize {
        self.received(nonce).await.iter().filter(|r| r.model == model).count()
    }
}

/// One fake's responder.
struct Fake {
    name: &'static str,
}

impl Respond for Fake {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let model = body.get("model").and_then(Value::as_str).unwrap_or_default().to_owned();
        let health = scripted(&body, &model).unwrap_or_default();
        let served_by = format!("served-by {} {model}", self.name);
        let mut template = match health.status {
            Some(status) => error(status, &health, &served_by),
            None if request.url.path().ends_with("/embeddings") => ResponseTemplate::new(200).set_body_json(json!({
                "object": "list",
                "data": [{"object": "embedding", "index": 0, "embedding": [0.25, -0.5]}],
                "model": model,
                "usage": {"prompt_tokens": 5, "total_tokens": 5},
                "served_by": served_by,
            })),
            None if body.get("stream") == Some(&Value::Bool(true)) => stream(&model, &served_by, health.cut),
            None => ResponseTemplate::new(200).set_body_json(json!({
                "id": "chatcmpl-router-fake",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": model,
                "system_fingerprint": "fp_conformance_router",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": served_by}, "logprobs": null, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
            })),
        };
        if health.delay_ms > 0 {
            template = template.set_delay(std::time::Duration::from_millis(health.delay_ms));
        }
        template
    }
}

/// The script's entry for `model`, if the request carries a script naming it.
fn scripted(body: &Value, model: &str) -> Option<Health> {
    let mut texts: Vec<&str> = Vec::new();
    for m in body.get("messages").and_then(Value::as_array).into_iter().flatten() {
        match m.get("content") {
            Some(Value::String(s)) => texts.push(s),
            Some(Value::Array(parts)) => texts.extend(parts.iter().filter_map(|p| p.get("text")?.as_str())),
            _ => {}
        }
    }
    match body.get("input") {
        Some(Value::String(s)) => texts.push(s),
        Some(Value::Array(items)) => texts.extend(items.iter().filter_map(Value::as_str)),
        _ => {}
    }
    let script = texts.into_iter().find_map(|t| t.find(ROUTE_MARKER).map(|at| &t[at + ROUTE_MARKER.len()..]))?;
    let map: BTreeMap<String, Health> = serde_json::from_str(script.trim()).ok()?;
    map.get(model).cloned()
}

fn error(status: u16, health: &Health, served_by: &str) -> ResponseTemplate {
    let message = health.message.clone().unwrap_or_else(|| format!("scripted failure {status} ({served_by})"));
    let kind = if status >= 500 { "server_error" } else { "invalid_request_error" };
    let mut template = ResponseTemplate::new(status)
        .set_body_json(json!({"error": {"message": message, "type": kind, "param": null, "code": null}}));
    if let Some(ra) = &health.retry_after {
        template = template.insert_header("retry-after", ra.as_str());
    }
    template
}

/// A streamed answer: a role chunk, the content, the finish — and `[DONE]` unless `cut`.
fn stream(model: &str, served_by: &str, cut: bool) -> ResponseTemplate {
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-router-fake", "object": "chat.completion.chunk", "created": 1_700_000_000,
               "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut events = vec![chunk(json!({"role": "assistant", "content": ""}), Value::Null)];
    events.push(chunk(json!({"content": served_by}), Value::Null));
    if !cut {
        events.push(chunk(json!({}), json!("stop")));
    }
    let mut text: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    if !cut {
        text.push_str("data: [DONE]\n\n");
    }
    ResponseTemplate::new(200).set_body_raw(text.into_bytes(), "text/event-stream")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_names_deployments_by_model() {
        let text = format!("hi {}", script(&[("m-a", Health::rate_limited(3)), ("m-b", Health::cut())]));
        let body = json!({"model": "m-a", "messages": [{"role": "user", "content": text}]});
        assert_eq!(scripted(&body, "m-a"), Some(Health::rate_limited(3)));
        assert_eq!(scripted(&body, "m-b"), Some(Health::cut()));
        assert_eq!(scripted(&body, "m-c"), None);
        assert_eq!(scripted(&json!({"input": [text]}), "m-a"), Some(Health::rate_limited(3)));
    }
}
