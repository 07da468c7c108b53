//! An Anthropic Messages API upstream (wiremock), faithful to Anthropic's documented shapes:
//! `POST /v1/messages` answers a `message` (`content` blocks, `stop_reason`, `usage` with the cache
//! figures) or, with `stream: true`, the event stream in Anthropic's order — `message_start`,
//! `ping`, per block `content_block_start` / `content_block_delta` (`text_delta`, `input_json_delta`,
//! each in two pieces) / `content_block_stop`, `message_delta`, `message_stop` — every event named
//! by its `type`, no `[DONE]`. `POST /v1/messages/count_tokens` answers `{"input_tokens": 42}`.
//!
//! Like Anthropic it refuses a request without `x-api-key` (401 `authentication_error`), without
//! `anthropic-version` or `max_tokens` (400 `invalid_request_error`). Errors are
//! `{"type":"error","error":{"type","message"}}`: a model name containing `err400`, `err401`,
//! `err403`, `err404`, `err429` (with `retry-after: 7`), `err500` or `err529` (`overloaded_error`)
//! answers that status; `echokey` answers 401 quoting the `x-api-key` it received (a provider that
//! reflects credentials). A model containing `cut` stops its stream after the first text delta.
//!
//! What it says comes from the request's shape, as the `auto-…` chat model does
//! ([`super::auto_model::turn`], on the request seen as chat): after tool results,
//! `Final answer: <their text>`; a coding agent's shell tool (Claude Code's `Bash`) and
//! ``run `<command>` `` → one `tool_use` of it; a request with tools → one `tool_use` of the chosen
//! one; else `Hello from fake`. Usage is 10 input + 5 output tokens, 3 of the input read from cache.

use std::net::SocketAddr;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::auto_model::{Turn, turn};
use super::upstream_reply::{Reply, render};

/// The key the fake's users configure (`ANTHROPIC_API_KEY`); any non-empty key is accepted.
pub const FAKE_KEY: &str = "sk-ant-fake-upstream-5d1c";

pub struct AnthropicFake {
    server: MockServer,
}

impl AnthropicFake {
    pub async fn start(addr: Option<SocketAddr>) -> std::io::Result<Self> {
        let server = match addr {
            Some(addr) => MockServer::builder().listener(std::net::TcpListener::bind(addr)?).start().await,
            None => MockServer::start().await,
        };
        Mock::given(method("POST")).and(path("/v1/messages")).respond_with(Messages).mount(&server).await;
        Mock::given(method("POST")).and(path("/v1/messages/count_tokens")).respond_with(Count).mount(&server).await;
        Ok(Self { server })
    }

    /// The base to give an implementation as `ANTHROPIC_API_BASE` (without `/v1`).
    pub fn base_url(&self) -> String {
        self.server.uri()
    }

    pub fn server(&self) -> &MockServer {
        &self.server
    }
}

/// Anthropic's error shape.
pub fn error(status: u16, kind: &str, message: &str) -> Reply {
    Reply { status, ..Reply::json(json!({"type": "error", "error": {"type": kind, "message": message}})) }
}

fn refusal(request: &Request, body: &Value) -> Option<Reply> {
    let header = |n: &str| request.headers.get(n).and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty());
    if header("x-api-key").is_none() {
        return Some(error(401, "authentication_error", "x-api-key header is required"));
    }
    if header("anthropic-version").is_none() {
        return Some(error(400, "invalid_request_error", "anthropic-version: header is required"));
    }
    let model = body.get("model").and_then(Value::as_str).unwrap_or_default();
    if model.contains("echokey") {
        // A provider that reflects the key it was sent: the target must not hand it on.
        let key = header("x-api-key").unwrap_or_default();
        return Some(error(401, "authentication_error", &format!("invalid x-api-key: {key}")));
    }
    for (needle, status, kind) in [
        ("err400", 400, "invalid_request_error"),
        ("err401", 401, "authentication_error"),
        ("err403", 403, "permission_error"),
        ("err404", 404, "not_found_error"),
        ("err429", 429, "rate_limit_error"),
        ("err500", 500, "api_error"),
        ("err529", 529, "overloaded_error"),
    ] {
        if model.contains(needle) {
            let reply = error(status, kind, &format!("{kind} (fake)"));
            return Some(if status == 429 { reply.header("retry-after", "7") } else { reply });
        }
    }
    None
}

struct Messages;

impl Respond for Messages {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        if let Some(reply) = refusal(request, &body) {
            return render(&reply);
        }
        if body.get("max_tokens").and_then(Value::as_u64).is_none() {
            return render(&error(400, "invalid_request_error", "max_tokens: Field required"));
        }
        render(&answer(&body))
    }
}

struct Count;

impl Respond for Count {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        render(&refusal(request, &body).unwrap_or_else(|| Reply::json(json!({"input_tokens": 42}))))
    }
}

/// The request seen as a chat request, for [`turn`]: tool results as `tool` messages, text joined.
fn as_chat(body: &Value) -> Value {
    let mut messages = Vec::new();
    for m in body.get("messages").and_then(Value::as_array).into_iter().flatten() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
        match m.get("content") {
            Some(Value::Array(blocks)) => {
                let mut text = String::new();
                for b in blocks {
                    match b.get("type").and_then(Value::as_str) {
                        Some("tool_result") => {
                            let content = match b.get("content") {
                                Some(Value::String(s)) => s.clone(),
                                Some(other) => super::auto_model::text_of(other),
                                None => String::new(),
                            };
                            messages.push(json!({"role": "tool", "content": content}));
                        }
                        Some("text") => text.push_str(b.get("text").and_then(Value::as_str).unwrap_or_default()),
                        _ => {}
                    }
                }
                let answers_results = role == "user" && has_result(blocks);
                if !text.is_empty() && !answers_results {
                    messages.push(json!({"role": role, "content": text}));
                }
            }
            Some(other) => messages.push(json!({"role": role, "content": other})),
            None => {}
        }
    }
    let tools: Vec<Value> = body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|t| json!({"type": "function", "function": {"name": t.get("name"), "parameters": t.get("input_schema")}}))
        .collect();
    let mut chat = json!({"messages": messages});
    if !tools.is_empty() {
        chat["tools"] = Value::Array(tools);
    }
    match body.pointer("/tool_choice/type").and_then(Value::as_str) {
        Some("none") => chat["tool_choice"] = json!("none"),
        Some("tool") => chat["tool_choice"] = json!({"function": {"name": body.pointer("/tool_choice/name")}}),
        _ => {}
    }
    chat
}

/// Whether a user turn carries tool results (its other text is then the client's reminders, not a
/// new question: the model answers the results).
fn has_result(blocks: &[Value]) -> bool {
    blocks.iter().any(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
}

fn usage(output: u64) -> Value {
    json!({"input_tokens": 7, "output_tokens": output, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 3})
}

/// The answer to a Messages request.
pub fn answer(body: &Value) -> Reply {
    let model = body.get("model").and_then(Value::as_str).unwrap_or_default().to_owned();
    let id = format!("msg_fake_{}", body.to_string().len());
    let turn = turn(&as_chat(body));
    let (block, stop) = match &turn {
        Turn::Text(t) => (json!({"type": "text", "text": t}), "end_turn"),
        Turn::Call { name, arguments } => {
            let input: Value = serde_json::from_str(arguments).unwrap_or(json!({}));
            (json!({"type": "tool_use", "id": "toolu_fake_1", "name": name, "input": input}), "tool_use")
        }
    };
    if body.get("stream").and_then(Value::as_bool) != Some(true) {
        return Reply::json(json!({
            "id": id, "type": "message", "role": "assistant", "model": model, "content": [block],
            "stop_reason": stop, "stop_sequence": null, "usage": usage(5),
        }));
    }
    let mut start_usage = usage(1);
    start_usage["output_tokens"] = json!(1);
    let mut events = vec![
        json!({"type": "message_start", "message": {"id": id, "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null, "usage": start_usage}}),
        json!({"type": "ping"}),
    ];
    let (start, pieces, kind, field) = match &turn {
        Turn::Text(t) => (json!({"type": "text", "text": ""}), halves(t), "text_delta", "text"),
        Turn::Call { name, arguments } => (
            json!({"type": "tool_use", "id": "toolu_fake_1", "name": name, "input": {}}),
            halves(arguments),
            "input_json_delta",
            "partial_json",
        ),
    };
    events.push(json!({"type": "content_block_start", "index": 0, "content_block": start}));
    for (i, piece) in pieces.iter().enumerate() {
        events.push(json!({"type": "content_block_delta", "index": 0, "delta": {"type": kind, field: piece}}));
        if i == 0 && model.contains("cut") {
            return Reply::responses_events(events);
        }
    }
    events.push(json!({"type": "content_block_stop", "index": 0}));
    events.push(json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": 5}}));
    events.push(json!({"type": "message_stop"}));
    Reply::responses_events(events)
}

/// `text` in two pieces (at a character boundary), as a real stream splits it.
fn halves(text: &str) -> Vec<String> {
    let mid = text.char_indices().map(|(i, _)| i).nth(text.chars().count() / 2).unwrap_or(text.len());
    let (a, b) = text.split_at(mid);
    [a, b].into_iter().filter(|p| !p.is_empty()).map(str::to_owned).collect()
}
