//! A scripted OpenAI-compatible provider (wiremock), stateless: every reply is derived from the
//! conversation in the request, so concurrent cases sharing one fake never interfere.
//!
//! Script, read from the first user message:
//! - `[fail:NNN]` → HTTP NNN with a recognisable body (`fake provider failure NNN …`);
//! - anything else → a completion whose content is `fake: <text of the last user message>`
//!   (`fake: <n> parts` when that content is a list of parts).

use std::net::SocketAddr;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The marker that makes the fake fail with a status.
pub fn fail_marker(status: u16) -> String {
    format!("[fail:{status}]")
}

pub struct ProviderFake {
    server: MockServer,
}

impl ProviderFake {
    pub async fn start(addr: Option<SocketAddr>) -> std::io::Result<Self> {
        let server = match addr {
            Some(addr) => MockServer::builder().listener(std::net::TcpListener::bind(addr)?).start().await,
            None => MockServer::start().await,
        };
        Mock::given(method("POST")).and(path("/v1/chat/completions")).respond_with(Script).mount(&server).await;
        Ok(Self { server })
    }

    /// The base to give an implementation as `OPENAI_API_BASE` (includes `/v1`).
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.server.uri())
    }

    pub fn address(&self) -> SocketAddr {
        *self.server.address()
    }

    /// Bodies of the chat requests received so far whose text contains `marker`.
    pub async fn requests_containing(&self, marker: &str) -> Vec<Value> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| String::from_utf8_lossy(&r.body).contains(marker))
            .filter_map(|r| serde_json::from_slice(&r.body).ok())
            .collect()
    }
}

struct Script;

impl Respond for Script {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return ResponseTemplate::new(400).set_body_string("fake provider: body is not JSON");
        };
        let messages = body.get("messages").and_then(Value::as_array).cloned().unwrap_or_default();
        let first_user = messages.iter().find(|m| m.get("role").and_then(Value::as_str) == Some("user"));
        let first_text = first_user.and_then(|m| m.get("content")).map(text_of).unwrap_or_default();
        if let Some(status) = parse_fail(&first_text) {
            let filler = "x".repeat(600);
            return ResponseTemplate::new(status)
                .set_body_string(format!("fake provider failure {status}: upstream exploded {filler}"));
        }
        let last_user = messages.iter().rev().find(|m| m.get("role").and_then(Value::as_str) == Some("user"));
        let content = match last_user.and_then(|m| m.get("content")) {
            Some(Value::Array(parts)) => format!("fake: {} parts", parts.len()),
            Some(c) => format!("fake: {}", text_of(c)),
            None => "fake: (no user message)".to_owned(),
        };
        let model = body.get("model").cloned().unwrap_or(Value::Null);
        ResponseTemplate::new(200).set_body_json(json!({
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
        }))
    }
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => {
            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join(" ")
        }
        other => other.to_string(),
    }
}

fn parse_fail(text: &str) -> Option<u16> {
    let start = text.find("[fail:")? + "[fail:".len();
    let end = text[start..].find(']')? + start;
    text[start..end].parse().ok()
}
