//! A deterministic model for real OpenAI clients (the official SDK, LiteLLM, LangChain,
//! openai-agents) behind the target: models named `auto-…` answer from the *shape* of the request,
//! because those clients build their own conversations and no script can be slipped into them.
//!
//! Chat, plain or streamed (`stream_options.include_usage` adds the usage chunk):
//! - after tool results (the last message is `role:"tool"`): `Final answer: <the tool outputs>`;
//! - a coding agent's request (it offers a shell tool: Codex's `exec_command`, `shell_command`,
//!   `shell`, the bridge's `local_shell`, or Claude Code's `Bash`): when the last user message says ``run `<command>` ``,
//!   one call of that shell tool running the command, its arguments in the tool's own shape;
//!   otherwise `Hello from fake` (a coding agent is never made to run a sampled command);
//! - with function tools (unless `tool_choice` is `none`): one call of the chosen (else the first)
//!   function, its arguments sampled from the parameters' schema (strings are `Paris`), streamed
//!   in two argument pieces;
//! - with a `json_schema` `response_format`: a JSON sample of the schema;
//! - otherwise `Hello from fake`.
//!
//! A model name containing `err400` or `err429` answers that status in OpenAI's error shape (the
//! 429 with `Retry-After: 7`). Embeddings: 8 dimensions (or `dimensions`), as floats, or as base64
//! of little-endian `f32`s when `encoding_format` is `base64`, as the SDK asks by default. Usage is
//! always 10 prompt + 5 completion tokens. A request to `…/responses` (a gateway passing the
//! Responses API through) is `auto_responses`'s: the same answers in the Responses shape.

use base64_lite::encode as b64;
use serde_json::{Map, Value, json};
use wiremock::{Match, Mock, MockServer, Request, Respond, ResponseTemplate};

use super::upstream_reply::{Reply, render};

/// What every `auto-…` answer counts as usage.
pub fn usage() -> Value {
    json!({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15})
}

pub(crate) async fn mount(server: &MockServer) {
    Mock::given(wiremock::matchers::method("POST")).and(Auto).respond_with(Auto).with_priority(2).mount(server).await;
}

struct Auto;

pub(crate) fn model_of(request: &Request) -> Option<String> {
    let body: Value = serde_json::from_slice(&request.body).ok()?;
    body.get("model").and_then(Value::as_str).map(str::to_owned)
}

impl Match for Auto {
    fn matches(&self, request: &Request) -> bool {
        // `…/responses` is the Responses API's (`auto_responses`).
        !request.url.path().ends_with("/responses") && model_of(request).is_some_and(|m| m.starts_with("auto-"))
    }
}

impl Respond for Auto {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        render(&answer(request.url.path(), &body))
    }
}

/// The answer to `body` posted to `path`.
pub fn answer(path: &str, body: &Value) -> Reply {
    let model = body.get("model").and_then(Value::as_str).unwrap_or_default();
    if model.contains("err400") {
        return Reply::error(400, "bad request (fake)", "invalid_request_error", "bad_request");
    }
    if model.contains("err429") {
        return Reply::error(429, "slow down (fake)", "rate_limit_error", "rate_limit_exceeded")
            .header("retry-after", "7");
    }
    if path.ends_with("/embeddings") {
        return embeddings(body);
    }
    let turn = turn(body);
    if body.get("stream").and_then(Value::as_bool) == Some(true) {
        let usage = body.pointer("/stream_options/include_usage").and_then(Value::as_bool) == Some(true);
        Reply::events(chunks(model, &turn, usage))
    } else {
        Reply::json(completion(model, &turn))
    }
}

/// What the model says: text, or one tool call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Turn {
    Text(String),
    Call { name: String, arguments: String },
}

/// The turn for a chat body (`messages`, `tools`, `tool_choice`, `response_format`).
pub(crate) fn turn(body: &Value) -> Turn {
    let messages = body.get("messages").and_then(Value::as_array).cloned().unwrap_or_default();
    if messages.last().and_then(|m| m.get("role")).and_then(Value::as_str) == Some("tool") {
        let outputs: Vec<String> = messages
            .iter()
            .rev()
            .take_while(|m| m["role"] == "tool")
            .map(|m| text_of(&m["content"]))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Turn::Text(format!("Final answer: {}", outputs.join("; ")));
    }
    if let Some((name, parameters)) = shell_tool(body) {
        let asked = messages.iter().rev().find(|m| m["role"] == "user").map(|m| text_of(&m["content"]));
        return match asked.as_deref().and_then(requested_command) {
            Some(command) => Turn::Call { name, arguments: shell_arguments(&parameters, command).to_string() },
            None => Turn::Text("Hello from fake".to_owned()),
        };
    }
    if let Some((name, parameters)) = chosen_tool(body) {
        let arguments = sample(&parameters, &parameters).to_string();
        return Turn::Call { name, arguments };
    }
    if body.pointer("/response_format/type").and_then(Value::as_str) == Some("json_schema") {
        let schema = body.pointer("/response_format/json_schema/schema").cloned().unwrap_or(json!({}));
        return Turn::Text(sample(&schema, &schema).to_string());
    }
    Turn::Text("Hello from fake".to_owned())
}

pub(crate) fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect(),
        other => other.to_string(),
    }
}

/// The names coding agents give the tool that runs a shell command.
const SHELL_TOOLS: [&str; 5] = ["exec_command", "shell_command", "shell", "local_shell", "Bash"];

/// A coding agent's shell tool and its parameters, if the request offers one.
fn shell_tool(body: &Value) -> Option<(String, Value)> {
    let tools = body.get("tools").and_then(Value::as_array)?;
    tools.iter().filter_map(|t| t.get("function")).find_map(|f| {
        let name = f.get("name").and_then(Value::as_str)?;
        SHELL_TOOLS.contains(&name).then(|| (name.to_owned(), f.get("parameters").cloned().unwrap_or(json!({}))))
    })
}

/// The command in ``run `<command>` ``.
fn requested_command(text: &str) -> Option<&str> {
    let rest = &text[text.find("run `")? + "run `".len()..];
    rest.find('`').map(|end| &rest[..end]).filter(|c| !c.is_empty())
}

/// `command` in the shape the shell tool's parameters ask for: `cmd` (Codex's `exec_command`), a
/// `commands` list (the Responses `shell` action), a `command` list (`local_shell`, Codex's
/// `shell`) or a `command` string (`shell_command`).
fn shell_arguments(parameters: &Value, command: &str) -> Value {
    let props = parameters.get("properties").cloned().unwrap_or(json!({}));
    if props.get("cmd").is_some() {
        json!({"cmd": command})
    } else if props.get("commands").is_some() {
        json!({"commands": [command]})
    } else if props.pointer("/command/type") == Some(&json!("string")) {
        json!({"command": command})
    } else {
        json!({"command": ["bash", "-lc", command]})
    }
}

/// The function to call and its parameters, unless there is none or `tool_choice` says `none`.
fn chosen_tool(body: &Value) -> Option<(String, Value)> {
    let tools = body.get("tools").and_then(Value::as_array)?;
    let choice = body.get("tool_choice");
    if choice.and_then(Value::as_str) == Some("none") {
        return None;
    }
    let wanted = choice.and_then(|c| c.pointer("/function/name")).and_then(Value::as_str);
    tools
        .iter()
        .filter_map(|t| t.get("function"))
        .find(|f| wanted.is_none_or(|w| f.get("name").and_then(Value::as_str) == Some(w)))
        .map(|f| {
            let name = f.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
            (name, f.get("parameters").cloned().unwrap_or(json!({})))
        })
}

/// A value of (roughly) `schema`; `root` resolves local `$ref`s.
fn sample(schema: &Value, root: &Value) -> Value {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let target = r.strip_prefix('#').and_then(|p| root.pointer(p)).cloned().unwrap_or(json!({}));
        return sample(&target, root);
    }
    if let Some(first) = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(|v| v.get(0)) {
        return sample(first, root);
    }
    if let Some(v) = schema.get("const").or_else(|| schema.get("enum").and_then(|e| e.get(0))) {
        return v.clone();
    }
    let kind = match schema.get("type") {
        Some(Value::Array(kinds)) => kinds.iter().filter_map(Value::as_str).find(|k| *k != "null").unwrap_or("null"),
        Some(Value::String(k)) => k.as_str(),
        _ => "object",
    };
    match kind {
        "string" => json!("Paris"),
        "integer" => json!(3),
        "number" => json!(1.5),
        "boolean" => json!(true),
        "array" => json!([]),
        "null" => Value::Null,
        _ => {
            let props = schema.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
            Value::Object(props.iter().map(|(k, v)| (k.clone(), sample(v, root))).collect::<Map<_, _>>())
        }
    }
}

fn head(model: &str, object: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!("chatcmpl-auto"));
    m.insert("object".into(), json!(object));
    m.insert("created".into(), json!(1_700_000_000));
    m.insert("model".into(), json!(model));
    m.insert("system_fingerprint".into(), json!("fp_auto"));
    m
}

fn completion(model: &str, turn: &Turn) -> Value {
    let (message, finish) = match turn {
        Turn::Text(t) => (json!({"role": "assistant", "content": t, "refusal": null}), "stop"),
        Turn::Call { name, arguments } => (
            json!({"role": "assistant", "content": null, "refusal": null, "tool_calls": [
                {"id": "call_auto_1", "type": "function", "function": {"name": name, "arguments": arguments}}]}),
            "tool_calls",
        ),
    };
    let mut out = head(model, "chat.completion");
    out.insert("choices".into(), json!([{"index": 0, "message": message, "finish_reason": finish, "logprobs": null}]));
    out.insert("usage".into(), usage());
    Value::Object(out)
}

fn chunks(model: &str, turn: &Turn, include_usage: bool) -> Vec<Value> {
    let chunk = |delta: Value, finish: Value| {
        let mut c = head(model, "chat.completion.chunk");
        c.insert("choices".into(), json!([{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}]));
        Value::Object(c)
    };
    let mut out = vec![chunk(json!({"role": "assistant", "content": ""}), Value::Null)];
    let finish = match turn {
        Turn::Text(t) => {
            let (a, b) = split(t);
            out.push(chunk(json!({"content": a}), Value::Null));
            out.push(chunk(json!({"content": b}), Value::Null));
            "stop"
        }
        Turn::Call { name, arguments } => {
            out.push(chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_auto_1", "type": "function", "function": {"name": name, "arguments": ""}}]}),
                Value::Null,
            ));
            let (a, b) = split(arguments);
            for piece in [a, b] {
                out.push(chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}), Value::Null));
            }
            "tool_calls"
        }
    };
    out.push(chunk(json!({}), json!(finish)));
    if include_usage {
        let mut u = head(model, "chat.completion.chunk");
        u.insert("choices".into(), json!([]));
        u.insert("usage".into(), usage());
        out.push(Value::Object(u));
    }
    out
}

/// Two halves, split on a character boundary.
pub(crate) fn split(s: &str) -> (String, String) {
    let mid = s.char_indices().map(|(i, _)| i).nth(s.chars().count() / 2).unwrap_or(s.len());
    (s[..mid].to_owned(), s[mid..].to_owned())
}

fn embeddings(body: &Value) -> Reply {
    let inputs = match body.get("input") {
        Some(Value::Array(items)) if items.first().is_some_and(|i| !i.is_number()) => items.len(),
        _ => 1,
    };
    let dims = body.get("dimensions").and_then(Value::as_u64).unwrap_or(8);
    let vector: Vec<f32> = (1..=dims).map(|k| 0.1 * k as f32).collect();
    let base64 = body.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let embedding = if base64 {
        let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
        json!(b64(&bytes))
    } else {
        json!(vector)
    };
    let data: Vec<Value> =
        (0..inputs).map(|i| json!({"object": "embedding", "index": i, "embedding": embedding.clone()})).collect();
    let model = body.get("model").cloned().unwrap_or(Value::Null);
    Reply::json(
        json!({"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": 4, "total_tokens": 4}}),
    )
}

/// Standard base64, padded; small enough to keep the suite free of another dependency.
mod base64_lite {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tools() -> Value {
        json!([{"type": "function", "function": {"name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])
    }

    #[test]
    fn tools_are_called_then_their_results_answered() {
        let ask = json!({"model": "auto-model", "tools": tools(), "messages": [{"role": "user", "content": "q"}]});
        let reply = answer("/v1/chat/completions", &ask).body.unwrap_or_default();
        let call = &reply["choices"][0]["message"]["tool_calls"][0]["function"];
        assert_eq!(
            (call["name"].as_str(), call["arguments"].as_str()),
            (Some("get_weather"), Some(r#"{"city":"Paris"}"#))
        );
        let after = json!({"model": "auto-model", "tools": tools(), "messages": [
            {"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": []},
            {"role": "tool", "tool_call_id": "c", "content": "sunny"}]});
        let reply = answer("/v1/chat/completions", &after).body.unwrap_or_default();
        assert_eq!(reply["choices"][0]["message"]["content"], "Final answer: sunny");
    }

    #[test]
    fn streams_split_text_and_arguments_and_add_usage_when_asked() {
        let ask = json!({"model": "auto-x", "stream": true, "stream_options": {"include_usage": true},
            "tools": tools(), "messages": [{"role": "user", "content": "q"}]});
        let events = answer("/v1/chat/completions", &ask).events.unwrap_or_default();
        let args: String = events
            .iter()
            .filter_map(|e| e.pointer("/choices/0/delta/tool_calls/0/function/arguments").and_then(Value::as_str))
            .collect();
        assert_eq!(args, r#"{"city":"Paris"}"#);
        assert_eq!(events.last().map(|e| e["usage"]["total_tokens"].clone()), Some(json!(15)));
    }

    #[test]
    fn schemas_errors_and_embeddings() {
        let schema = json!({"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
            "tag": {"anyOf": [{"$ref": "#/$defs/T"}, {"type": "null"}]}}, "$defs": {"T": {"enum": ["a", "b"]}}});
        assert_eq!(sample(&schema, &schema), json!({"name": "Paris", "age": 3, "tag": "a"}));
        assert_eq!(answer("/v1/chat/completions", &json!({"model": "auto-err429"})).status, 429);
        let e =
            answer("/v1/embeddings", &json!({"model": "auto-embed", "input": ["a", "b"], "encoding_format": "base64"}));
        let body = e.body.unwrap_or_default();
        assert_eq!(body["data"].as_array().map(Vec::len), Some(2));
        assert_eq!(body["data"][0]["embedding"].as_str().map(str::len), Some(44));
        assert_eq!(base64_lite::encode(b"hi!?"), "aGkhPw==");
    }

    #[test]
    fn a_coding_agent_runs_the_command_it_was_asked_to_and_quotes_its_output() {
        let tools = json!([
            {"type": "function", "function": {"name": "exec_command", "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}}},
            {"type": "function", "function": {"name": "get_goal", "parameters": {"type": "object", "properties": {}}}}
        ]);
        let user = |text: &str| json!({"role": "user", "content": [{"type": "text", "text": text}]});
        let ask = json!({"model": "auto-codex", "tools": tools, "messages": [user("<env/>"), user("Please run `echo 42` now")]});
        assert_eq!(turn(&ask), Turn::Call { name: "exec_command".into(), arguments: r#"{"cmd":"echo 42"}"#.into() });
        let plain = json!({"model": "auto-codex", "tools": tools, "messages": [user("say hi")]});
        assert_eq!(turn(&plain), Turn::Text("Hello from fake".into()), "never a sampled command");
        let local = json!({"properties": {"command": {"type": "array"}}});
        assert_eq!(shell_arguments(&local, "ls"), json!({"command": ["bash", "-lc", "ls"]}));
        assert_eq!(shell_arguments(&json!({"properties": {"commands": {}}}), "ls"), json!({"commands": ["ls"]}));
    }
}
