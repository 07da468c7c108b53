//! A scripted OpenAI-compatible provider (wiremock), stateless: every reply is derived from the
//! conversation in the request, so concurrent cases sharing one fake never interfere.
//!
//! Script, read from the first user message:
//! - `SCRIPT:<json>` (to the end of the message) → a scripted conversation, see [`script_marker`]: the
//!   turn played is the number of assistant messages already in the request, so the conversation
//!   itself is the state;
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
        Mock::given(method("POST")).and(path("/v1/chat/completions")).respond_with(Responder).mount(&server).await;
        super::openai_upstream::mount(&server).await;
        Ok(Self { server })
    }

    /// The base to give an implementation as `OPENAI_API_BASE` (includes `/v1`).
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.server.uri())
    }

    pub fn address(&self) -> SocketAddr {
        *self.server.address()
    }

    /// The wiremock server, for the routes other files mount on it and read back (`openai_upstream`).
    pub fn server(&self) -> &MockServer {
        &self.server
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

/// The user-message text that carries a scripted conversation: `{"turns": [Turn…], "by_model": {"<upstream model>": Turn}}` or just
/// `[Turn…]`. A call whose model is in `by_model` plays that turn; otherwise turn *n* is played for
/// a request that already holds *n* model replies (assistant messages other than the loop's
/// `Observation…` messages; past the end: `script exhausted`).
///
/// A turn: `{"content"?: str, "tool_calls"?: [{"name", "arguments": object|string, "id"?}],
/// "status"?: int, "delay_ms"?: int, "raw"?: any}`. `{model}` in content is replaced by the request's
/// model and `{tool_messages}` by the number of tool messages received. `raw` is answered as it is,
/// with 200: a reply that is not a chat completion (`"message": null`, content that is a number).
pub fn script_marker(script: &Value) -> String {
    format!("SCRIPT:{script}")
}

struct Responder;

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return ResponseTemplate::new(400).set_body_string("fake provider: body is not JSON");
        };
        let messages = body.get("messages").and_then(Value::as_array).cloned().unwrap_or_default();
        let first_user = messages.iter().find(|m| m.get("role").and_then(Value::as_str) == Some("user"));
        let first_text = first_user.and_then(|m| m.get("content")).map(text_of).unwrap_or_default();
        if let Some(at) = first_text.find("SCRIPT:") {
            return scripted(&body, &messages, &first_text[at + "SCRIPT:".len()..]);
        }
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
            "system_fingerprint": "fp_conformance_fake",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
        }))
    }
}

fn scripted(body: &Value, messages: &[Value], script_text: &str) -> ResponseTemplate {
    let script: Value = match serde_json::from_str(script_text.trim()) {
        Ok(v) => v,
        Err(e) => return ResponseTemplate::new(400).set_body_string(format!("fake provider: bad SCRIPT json: {e}")),
    };
    let model = body.get("model").and_then(Value::as_str).unwrap_or_default();
    let turns = script.get("turns").or(Some(&script)).and_then(Value::as_array).cloned().unwrap_or_default();
    // Turns already played = the model's own replies in the history; the loop's observations
    // (assistant messages starting with "Observation") are the loop's, not the model's.
    let played = messages
        .iter()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
        .filter(|m| !m.get("content").and_then(Value::as_str).is_some_and(|c| c.starts_with("Observation")))
        .count();
    let tool_messages = messages.iter().filter(|m| m.get("role").and_then(Value::as_str) == Some("tool")).count();
    let turn = script
        .pointer(&format!("/by_model/{}", model.replace('~', "~0").replace('/', "~1")))
        .cloned()
        .or_else(|| turns.get(played).cloned())
        .unwrap_or_else(|| json!({"content": "script exhausted"}));
    let delay = std::time::Duration::from_millis(turn.get("delay_ms").and_then(Value::as_u64).unwrap_or(0));
    if let Some(status) = turn.get("status").and_then(Value::as_u64) {
        return ResponseTemplate::new(u16::try_from(status).unwrap_or(500))
            .set_delay(delay)
            .set_body_string(format!("fake provider failure {status}: scripted"));
    }
    if let Some(raw) = turn.get("raw") {
        return ResponseTemplate::new(200).set_delay(delay).set_body_json(raw.clone());
    }
    let mut message = json!({"role": "assistant", "content": Value::Null});
    if let Some(content) = turn.get("content") {
        message["content"] = match content.as_str() {
            Some(s) => json!(s.replace("{model}", model).replace("{tool_messages}", &tool_messages.to_string())),
            None => content.clone(),
        };
    }
    if let Some(calls) = turn.get("tool_calls").and_then(Value::as_array) {
        let calls: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let arguments = match c.get("arguments") {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => "{}".to_owned(),
                };
                json!({
                    "id": c.get("id").cloned().unwrap_or_else(|| json!(format!("call_{played}_{i}"))),
                    "type": "function",
                    "function": {"name": c.get("name").cloned().unwrap_or(Value::Null), "arguments": arguments}
                })
            })
            .collect();
        message["tool_calls"] = Value::Array(calls);
    }
    let finish = if message.get("tool_calls").is_some() { "tool_calls" } else { "stop" };
    ResponseTemplate::new(200).set_delay(delay).set_body_json(json!({
        "id": format!("chatcmpl-fake-{played}"),
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "system_fingerprint": "fp_conformance_fake",
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    }))
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
