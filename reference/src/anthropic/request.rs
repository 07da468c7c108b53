//! An Anthropic Messages request bridged onto a chat completions request.
//!
//! Carried: `system` (a string or text blocks), messages of `text`, `image` (base64 or URL),
//! `tool_use` and `tool_result` blocks (a result's text or text blocks, `is_error` said in the text),
//! `tools`, `tool_choice` (with `disable_parallel_tool_use`), `max_tokens`, `stop_sequences`,
//! `temperature`, `top_p`, `metadata.user_id`, `stream`, system messages between turns. `thinking`
//! (enabled or adaptive: a chat provider cannot be asked for a thinking budget and give back signed
//! thinking blocks) is left out with a warning, or refused with a 400 naming it under
//! `MINI_AGENT_ANTHROPIC_THINKING=reject` ([`Thinking`]). Refused with a 400 naming the field: server tools (`web_search_…`, `code_execution_…`: they run at Anthropic), and block types
//! chat has no place for (`document`, `search_result`, …). Left out with a warning
//! (`x-miniagent-warnings`): `top_k`, thinking blocks sent back in the history, images inside a tool
//! result, and any other top-level field. `cache_control` marks are dropped silently: they are a
//! hint about billing, not about the answer.

use serde_json::{Map, Value, json};

/// A bridged request: the chat body (without `model`) and what was not carried.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bridged {
    pub chat: Map<String, Value>,
    pub stream: bool,
    pub warnings: Vec<String>,
}

/// A field the bridge refuses, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub field: String,
    pub message: String,
}

fn refuse(field: impl Into<String>, message: impl Into<String>) -> Refusal {
    Refusal { field: field.into(), message: message.into() }
}

/// Top-level fields the bridge reads itself.
const CARRIED: [&str; 13] = [
    "model",
    "messages",
    "system",
    "max_tokens",
    "stop_sequences",
    "temperature",
    "top_p",
    "metadata",
    "stream",
    "tools",
    "tool_choice",
    "thinking",
    "top_k",
];

/// What the bridge does with `thinking` (enabled or adaptive), which a chat provider cannot honour:
/// `MINI_AGENT_ANTHROPIC_THINKING`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thinking {
    /// Left out, named in `x-miniagent-warnings` (the default: Claude Code asks for thinking on every
    /// turn, and an answer without thinking blocks is still a whole answer).
    Drop,
    /// A 400 naming the field.
    Reject,
}

pub(crate) fn bridge(body: &Map<String, Value>, thinking: Thinking) -> Result<Bridged, Refusal> {
    let mut warnings = Vec::new();
    let mut chat = Map::new();
    let mut messages = Vec::new();
    match body.get("system") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => messages.push(json!({"role": "system", "content": s})),
        Some(Value::Array(blocks)) => {
            let text = texts(blocks, "system", &mut warnings)?;
            messages.push(json!({"role": "system", "content": text}));
        }
        Some(_) => return Err(refuse("system", "must be a string or a list of text blocks")),
    }
    let turns = body.get("messages").and_then(Value::as_array).ok_or_else(|| refuse("messages", "must be a list"))?;
    for (i, turn) in turns.iter().enumerate() {
        let role = turn.get("role").and_then(Value::as_str).unwrap_or_default();
        match role {
            "user" => user(turn.get("content"), i, &mut messages, &mut warnings)?,
            "assistant" => messages.push(assistant(turn.get("content"), i, &mut warnings)?),
            // Claude Code 2.1 sends system messages between turns (reminders); chat has them too.
            "system" => {
                let text = match turn.get("content") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(blocks)) => texts(blocks, &format!("messages[{i}].content"), &mut warnings)?,
                    _ => return Err(refuse(format!("messages[{i}].content"), "must be a string or a list of blocks")),
                };
                messages.push(json!({"role": "system", "content": text}));
            }
            other => {
                return Err(refuse(
                    format!("messages[{i}].role"),
                    format!("`{other}` is not user, assistant or system"),
                ));
            }
        }
    }
    chat.insert("messages".into(), Value::Array(messages));
    let stream = parameters(body, &mut chat, &mut warnings, thinking)?;
    let tools = body.get("tools").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if !tools.is_empty() {
        chat.insert("tools".into(), Value::Array(tools_of(tools)?));
    }
    if let Some(choice) = body.get("tool_choice").filter(|c| !c.is_null()) {
        let (value, parallel) = tool_choice(choice)?;
        if !tools.is_empty() {
            chat.insert("tool_choice".into(), value);
            if parallel == Some(false) {
                chat.insert("parallel_tool_calls".into(), json!(false));
            }
        }
    }
    for key in body.keys().filter(|k| !CARRIED.contains(&k.as_str())) {
        warnings.push(format!("unmapped:{key}"));
    }
    Ok(Bridged { chat, stream, warnings })
}

/// The sampling and output parameters: `max_tokens`, `stop_sequences`, `temperature`, `top_p`,
/// `top_k` (warned), `metadata.user_id`, `thinking` (per [`Thinking`]), `stream`. Returns `stream`.
fn parameters(
    body: &Map<String, Value>,
    chat: &mut Map<String, Value>,
    warnings: &mut Vec<String>,
    thinking: Thinking,
) -> Result<bool, Refusal> {
    if let Some(m) = body.get("max_tokens").filter(|v| !v.is_null()) {
        chat.insert("max_tokens".into(), m.clone());
    }
    if let Some(stop) = body.get("stop_sequences").and_then(Value::as_array).filter(|s| !s.is_empty()) {
        chat.insert("stop".into(), Value::Array(stop.clone()));
    }
    for key in ["temperature", "top_p"] {
        if let Some(v) = body.get(key).filter(|v| !v.is_null()) {
            chat.insert(key.into(), v.clone());
        }
    }
    if body.get("top_k").is_some_and(|v| !v.is_null()) {
        warnings.push("unmapped:top_k".to_owned());
    }
    if let Some(user) = body.pointer_str("metadata", "user_id") {
        chat.insert("user".into(), json!(user));
    }
    match body.get("thinking") {
        None | Some(Value::Null) => {}
        Some(t) if t.get("type").and_then(Value::as_str) == Some("disabled") => {}
        Some(_) if thinking == Thinking::Drop => warnings.push("dropped:thinking".to_owned()),
        Some(_) => {
            return Err(refuse(
                "thinking",
                "extended thinking cannot be bridged to a chat-completions provider \
                 (MINI_AGENT_ANTHROPIC_THINKING=reject); leave `thinking` out (Claude Code: MAX_THINKING_TOKENS=0) \
                 or use an anthropic/ model",
            ));
        }
    }
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if stream {
        chat.insert("stream".into(), json!(true));
        chat.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Ok(stream)
}

trait PointerStr {
    fn pointer_str(&self, a: &str, b: &str) -> Option<&str>;
}

impl PointerStr for Map<String, Value> {
    fn pointer_str(&self, a: &str, b: &str) -> Option<&str> {
        self.get(a)?.get(b)?.as_str()
    }
}

/// The text of text blocks (`cache_control` dropped); another block type is refused.
fn texts(blocks: &[Value], field: &str, warnings: &mut Vec<String>) -> Result<String, Refusal> {
    let mut out: Vec<&str> = Vec::new();
    for (j, b) in blocks.iter().enumerate() {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => out.push(b.get("text").and_then(Value::as_str).unwrap_or_default()),
            Some("image") => warnings.push(format!("dropped:{field}[{j}].type=image")),
            other => {
                return Err(refuse(
                    format!("{field}[{j}].type"),
                    format!("`{}` blocks cannot be bridged here", other.unwrap_or("untyped")),
                ));
            }
        }
    }
    Ok(out.join("\n"))
}

fn image_url(source: &Value, field: &str) -> Result<String, Refusal> {
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let media = source.get("media_type").and_then(Value::as_str).unwrap_or("image/png");
            let data = source.get("data").and_then(Value::as_str).unwrap_or_default();
            Ok(format!("data:{media};base64,{data}"))
        }
        Some("url") => source
            .get("url")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| refuse(format!("{field}.source.url"), "required")),
        other => {
            Err(refuse(format!("{field}.source.type"), format!("`{}` is not base64 or url", other.unwrap_or("none"))))
        }
    }
}

/// A user turn: its tool results first (as `tool` messages, which must follow the assistant's
/// calls), then its text and images as one user message.
fn user(content: Option<&Value>, i: usize, out: &mut Vec<Value>, warnings: &mut Vec<String>) -> Result<(), Refusal> {
    let blocks = match content {
        Some(Value::String(s)) => {
            out.push(json!({"role": "user", "content": s}));
            return Ok(());
        }
        Some(Value::Array(blocks)) => blocks,
        _ => return Err(refuse(format!("messages[{i}].content"), "must be a string or a list of blocks")),
    };
    let mut parts = Vec::new();
    for (j, b) in blocks.iter().enumerate() {
        let field = format!("messages[{i}].content[{j}]");
        match b.get("type").and_then(Value::as_str) {
            Some("text") => parts.push(json!({"type": "text", "text": b.get("text").cloned().unwrap_or(json!(""))})),
            Some("image") => {
                let url = image_url(b.get("source").unwrap_or(&Value::Null), &field)?;
                parts.push(json!({"type": "image_url", "image_url": {"url": url}}));
            }
            Some("tool_result") => {
                let id = b.get("tool_use_id").and_then(Value::as_str).unwrap_or_default();
                let mut text = match b.get("content") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(inner)) => texts(inner, &format!("{field}.content"), warnings)?,
                    _ => String::new(),
                };
                if b.get("is_error") == Some(&json!(true)) {
                    text = format!("Error: {text}");
                }
                out.push(json!({"role": "tool", "tool_call_id": id, "content": text}));
            }
            other => {
                let what = other.unwrap_or("untyped");
                return Err(refuse(
                    format!("{field}.type"),
                    format!("`{what}` blocks cannot be bridged to chat completions"),
                ));
            }
        }
    }
    if !parts.is_empty() {
        // A single text part stays a plain string: some chat providers take nothing else.
        let content = match parts.as_slice() {
            [only] if only["type"] == "text" => only["text"].clone(),
            _ => Value::Array(parts),
        };
        out.push(json!({"role": "user", "content": content}));
    }
    Ok(())
}

fn assistant(content: Option<&Value>, i: usize, warnings: &mut Vec<String>) -> Result<Value, Refusal> {
    let blocks = match content {
        Some(Value::String(s)) => return Ok(json!({"role": "assistant", "content": s})),
        Some(Value::Array(blocks)) => blocks,
        _ => return Err(refuse(format!("messages[{i}].content"), "must be a string or a list of blocks")),
    };
    let mut text = String::new();
    let mut calls = Vec::new();
    for (j, b) in blocks.iter().enumerate() {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(b.get("text").and_then(Value::as_str).unwrap_or_default()),
            Some("tool_use") => {
                let input = b.get("input").cloned().unwrap_or_else(|| json!({}));
                calls.push(json!({"id": b.get("id"), "type": "function",
                    "function": {"name": b.get("name"), "arguments": input.to_string()}}));
            }
            Some(kind @ ("thinking" | "redacted_thinking")) => {
                warnings.push(format!("dropped:messages[{i}].content[{j}].type={kind}"))
            }
            other => {
                let what = other.unwrap_or("untyped");
                return Err(refuse(
                    format!("messages[{i}].content[{j}].type"),
                    format!("`{what}` blocks cannot be bridged to chat completions"),
                ));
            }
        }
    }
    let mut m = json!({"role": "assistant", "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) }});
    if !calls.is_empty() {
        m["tool_calls"] = Value::Array(calls);
    }
    Ok(m)
}

fn tools_of(tools: &[Value]) -> Result<Vec<Value>, Refusal> {
    tools
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if let Some(kind) = t.get("type").and_then(Value::as_str).filter(|k| *k != "custom") {
                return Err(refuse(format!("tools[{i}].type"), format!("`{kind}` is a server tool that runs at Anthropic; a bridged provider cannot run it")));
            }
            let name = t.get("name").and_then(Value::as_str).ok_or_else(|| refuse(format!("tools[{i}].name"), "required"))?;
            let mut f = json!({"name": name, "parameters": t.get("input_schema").cloned().unwrap_or_else(|| json!({"type": "object"}))});
            if let Some(d) = t.get("description") {
                f["description"] = d.clone();
            }
            Ok(json!({"type": "function", "function": f}))
        })
        .collect()
}

/// `tool_choice` as chat's, and `parallel_tool_calls` when it disables parallel use.
fn tool_choice(choice: &Value) -> Result<(Value, Option<bool>), Refusal> {
    let parallel = (choice.get("disable_parallel_tool_use") == Some(&json!(true))).then_some(false);
    let value = match choice.get("type").and_then(Value::as_str) {
        Some("auto") => json!("auto"),
        Some("any") => json!("required"),
        Some("none") => json!("none"),
        Some("tool") => {
            let name =
                choice.get("name").and_then(Value::as_str).ok_or_else(|| refuse("tool_choice.name", "required"))?;
            json!({"type": "function", "function": {"name": name}})
        }
        other => {
            return Err(refuse(
                "tool_choice.type",
                format!("`{}` is not auto, any, tool or none", other.unwrap_or("none")),
            ));
        }
    };
    Ok((value, parallel))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn blocks_tools_and_results_become_chat() {
        let b = body(json!({
            "model": "claude-x", "max_tokens": 64, "stop_sequences": ["END"], "top_k": 5, "metadata": {"user_id": "u"},
            "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "look"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}]},
                {"role": "assistant", "content": [{"type": "text", "text": "running"},
                    {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "echo 42"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "42"}]},
                    {"type": "text", "text": "go on"}]}],
            "tools": [{"name": "Bash", "description": "run", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
        }));
        let out = bridge(&b, Thinking::Drop).expect("bridges");
        let m = out.chat["messages"].as_array().cloned().unwrap_or_default();
        assert_eq!(m[0], json!({"role": "system", "content": "be brief"}));
        assert_eq!(m[1]["content"][1]["image_url"]["url"], "data:image/png;base64,AAAA");
        assert_eq!(
            m[2]["tool_calls"][0]["function"],
            json!({"name": "Bash", "arguments": "{\"command\":\"echo 42\"}"})
        );
        assert_eq!(m[3], json!({"role": "tool", "tool_call_id": "toolu_1", "content": "42"}));
        assert_eq!(m[4], json!({"role": "user", "content": "go on"}));
        assert_eq!(out.chat["stop"], json!(["END"]));
        assert_eq!(out.chat["user"], "u");
        assert_eq!(out.chat["tool_choice"], "required");
        assert_eq!(out.chat["parallel_tool_calls"], false);
        assert_eq!(out.chat["tools"][0]["function"]["parameters"], json!({"type": "object"}));
        assert_eq!(out.warnings, vec!["unmapped:top_k".to_owned()]);
    }

    #[test]
    fn what_cannot_be_bridged_is_refused_naming_the_field() {
        let msgs = json!([{"role": "user", "content": "hi"}]);
        let cases = [
            (json!({"messages": msgs, "thinking": {"type": "enabled", "budget_tokens": 1024}}), "thinking"),
            (
                json!({"messages": msgs, "tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
                "tools[0].type",
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]}),
                "messages[0].content[0].type",
            ),
            (json!({"messages": "hi"}), "messages"),
        ];
        for (b, field) in cases {
            assert_eq!(bridge(&body(b), Thinking::Reject).map_err(|r| r.field), Err(field.to_owned()));
        }
        assert!(bridge(&body(json!({"messages": msgs, "thinking": {"type": "disabled"}})), Thinking::Reject).is_ok());
        let dropped = bridge(&body(json!({"messages": msgs, "thinking": {"type": "adaptive"}})), Thinking::Drop);
        assert_eq!(dropped.map(|b| b.warnings), Ok(vec!["dropped:thinking".to_owned()]));
    }
}
