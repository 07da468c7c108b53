//! An OpenAI chat request as an Anthropic Messages request.
//!
//! System and developer messages become `system`; assistant `tool_calls` become `tool_use` blocks and
//! `tool` messages `tool_result` blocks (consecutive ones in one user turn, since Anthropic's turns
//! alternate); image parts become image blocks (a `data:` URL as base64, any other URL as a URL
//! source). `response_format` with a JSON schema becomes a forced tool whose input is the answer, the
//! way Anthropic documents structured output. What has no equivalent and would change the answer
//! (`n` > 1) is refused naming the field; sampling extras Anthropic lacks (`seed`, `logprobs`,
//! penalties) are left out.

use serde_json::{Map, Value, json};

/// The tool name used for `response_format` json_schema when the schema has no name.
pub(crate) const ANSWER_TOOL: &str = "json_answer";

/// A translated request, and the forced answer tool when `response_format` asked for JSON.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Translated {
    pub body: Value,
    /// The tool whose input is the answer's content (structured output), if any.
    pub answer_tool: Option<String>,
    /// Whether the client asked for a usage chunk at the end of a stream.
    pub include_usage: bool,
}

/// A field the Anthropic wire cannot carry, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub field: String,
    pub message: String,
}

fn refuse(field: impl Into<String>, message: impl Into<String>) -> Refusal {
    Refusal { field: field.into(), message: message.into() }
}

/// `chat` (an OpenAI chat body) for `model`, with `max_tokens` when it names none.
pub(crate) fn translate(chat: &Map<String, Value>, model: &str, max_tokens: u32) -> Result<Translated, Refusal> {
    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    let messages =
        chat.get("messages").and_then(Value::as_array).ok_or_else(|| refuse("messages", "must be a list"))?;
    let (system, turns) = messages_of(messages)?;
    if !system.is_empty() {
        out.insert("system".into(), json!(system));
    }
    out.insert("messages".into(), Value::Array(turns));
    let max = chat.get("max_completion_tokens").or_else(|| chat.get("max_tokens")).and_then(Value::as_u64);
    out.insert("max_tokens".into(), json!(max.unwrap_or(u64::from(max_tokens))));
    if let Some(n) = chat.get("n").and_then(Value::as_u64).filter(|n| *n > 1) {
        return Err(refuse("n", format!("anthropic answers one choice per request, not {n}")));
    }
    match chat.get("stop") {
        Some(Value::String(s)) => {
            out.insert("stop_sequences".into(), json!([s]));
        }
        Some(Value::Array(list)) if !list.is_empty() => {
            out.insert("stop_sequences".into(), Value::Array(list.clone()));
        }
        _ => {}
    }
    for key in ["temperature", "top_p", "top_k"] {
        if let Some(v) = chat.get(key).filter(|v| !v.is_null()) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(user) = chat.get("user").and_then(Value::as_str) {
        out.insert("metadata".into(), json!({"user_id": user}));
    }
    let stream = chat.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if stream {
        out.insert("stream".into(), json!(true));
    }
    let include_usage = stream && chat.get("stream_options").and_then(|o| o.get("include_usage")) == Some(&json!(true));
    let mut tools: Vec<Value> = Vec::new();
    for (i, tool) in chat.get("tools").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let f = tool.get("function").ok_or_else(|| refuse(format!("tools[{i}]"), "only function tools can be sent"))?;
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| refuse(format!("tools[{i}].function.name"), "required"))?;
        let mut t = json!({"name": name, "input_schema": f.get("parameters").cloned().unwrap_or_else(|| json!({"type": "object"}))});
        if let Some(d) = f.get("description") {
            t["description"] = d.clone();
        }
        tools.push(t);
    }
    let mut choice = tool_choice(chat.get("tool_choice"))?;
    let answer_tool = match chat.get("response_format") {
        Some(f) if f.get("type").and_then(Value::as_str) == Some("json_schema") => {
            let spec = f.get("json_schema").cloned().unwrap_or_default();
            let name = spec.get("name").and_then(Value::as_str).unwrap_or(ANSWER_TOOL).to_owned();
            let schema = spec.get("schema").cloned().unwrap_or_else(|| json!({"type": "object"}));
            tools.push(json!({"name": name, "description": "Answer with this tool: its input is the answer.", "input_schema": schema}));
            choice = Some(json!({"type": "tool", "name": name}));
            Some(name)
        }
        _ => None,
    };
    if chat.get("parallel_tool_calls") == Some(&json!(false)) && !tools.is_empty() {
        let c = choice.get_or_insert_with(|| json!({"type": "auto"}));
        c["disable_parallel_tool_use"] = json!(true);
    }
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
        if let Some(c) = choice {
            out.insert("tool_choice".into(), c);
        }
    }
    Ok(Translated { body: Value::Object(out), answer_tool, include_usage })
}

fn tool_choice(choice: Option<&Value>) -> Result<Option<Value>, Refusal> {
    Ok(match choice {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match s.as_str() {
            "auto" => Some(json!({"type": "auto"})),
            "required" => Some(json!({"type": "any"})),
            "none" => Some(json!({"type": "none"})),
            other => return Err(refuse("tool_choice", format!("`{other}` is not auto, required or none"))),
        },
        Some(v) => match v.pointer("/function/name").and_then(Value::as_str) {
            Some(name) => Some(json!({"type": "tool", "name": name})),
            None => return Err(refuse("tool_choice", "an object must name a function")),
        },
    })
}

/// The system text and the alternating turns of `messages`.
fn messages_of(messages: &[Value]) -> Result<(String, Vec<Value>), Refusal> {
    let mut system: Vec<String> = Vec::new();
    let mut turns: Vec<(String, Vec<Value>)> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
        let (role, blocks) = match role {
            "system" | "developer" => {
                system.push(text_of(m.get("content")));
                continue;
            }
            "assistant" => ("assistant", assistant_blocks(m, i)?),
            "tool" => {
                let id = m.get("tool_call_id").and_then(Value::as_str).unwrap_or_default();
                let content = text_of(m.get("content"));
                ("user", vec![json!({"type": "tool_result", "tool_use_id": id, "content": content})])
            }
            _ => ("user", user_blocks(m.get("content"), i)?),
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last, existing)) if last == role => existing.extend(blocks),
            _ => turns.push((role.to_owned(), blocks)),
        }
    }
    let turns = turns.into_iter().map(|(role, content)| json!({"role": role, "content": content})).collect();
    Ok((system.join("\n\n"), turns))
}

/// The text of a content that is a string or a list of text parts.
fn text_of(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => {
            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n")
        }
        _ => String::new(),
    }
}

fn user_blocks(content: Option<&Value>, i: usize) -> Result<Vec<Value>, Refusal> {
    let parts = match content {
        Some(Value::String(s)) if s.is_empty() => return Ok(Vec::new()),
        Some(Value::String(s)) => return Ok(vec![json!({"type": "text", "text": s})]),
        Some(Value::Array(parts)) => parts,
        _ => return Ok(Vec::new()),
    };
    let mut blocks = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        match part.get("type").and_then(Value::as_str) {
            Some("text") => {
                blocks.push(json!({"type": "text", "text": part.get("text").cloned().unwrap_or(json!(""))}))
            }
            Some("image_url") => {
                let url = part
                    .pointer("/image_url/url")
                    .or_else(|| part.get("image_url"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| refuse(format!("messages[{i}].content[{j}].image_url.url"), "required"))?;
                blocks.push(image_block(url));
            }
            other => {
                let what = other.unwrap_or("untyped");
                return Err(refuse(
                    format!("messages[{i}].content[{j}].type"),
                    format!("a `{what}` part cannot be sent to anthropic (text and image_url can)"),
                ));
            }
        }
    }
    Ok(blocks)
}

/// An image part's URL as an image block: `data:<type>;base64,<data>` inline, anything else by URL.
pub(crate) fn image_block(url: &str) -> Value {
    if let Some(rest) = url.strip_prefix("data:")
        && let Some((media, data)) = rest.split_once(";base64,")
    {
        return json!({"type": "image", "source": {"type": "base64", "media_type": media, "data": data}});
    }
    json!({"type": "image", "source": {"type": "url", "url": url}})
}

fn assistant_blocks(m: &Value, i: usize) -> Result<Vec<Value>, Refusal> {
    let mut blocks = Vec::new();
    let text = text_of(m.get("content"));
    if !text.is_empty() {
        blocks.push(json!({"type": "text", "text": text}));
    }
    for (j, call) in m.get("tool_calls").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let field = |k: &str| format!("messages[{i}].tool_calls[{j}].{k}");
        let name = call
            .pointer("/function/name")
            .and_then(Value::as_str)
            .ok_or_else(|| refuse(field("function.name"), "required"))?;
        let args = call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or("{}");
        let input: Value = if args.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(args).map_err(|e| refuse(field("function.arguments"), format!("not JSON: {e}")))?
        };
        let id = call.get("id").and_then(Value::as_str).unwrap_or_default();
        blocks.push(json!({"type": "tool_use", "id": id, "name": name, "input": input}));
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_tool_round_trip_becomes_blocks_in_alternating_turns() {
        let body = chat(json!({
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "run it"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "sh", "arguments": "{\"cmd\":\"echo 42\"}"}},
                    {"id": "c2", "type": "function", "function": {"name": "sh", "arguments": ""}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "42"},
                {"role": "tool", "tool_call_id": "c2", "content": "ok"}],
            "tools": [{"type": "function", "function": {"name": "sh", "description": "run", "parameters": {"type": "object"}}}],
            "tool_choice": "required", "parallel_tool_calls": false, "stop": "END", "temperature": 0.1, "user": "u1",
        }));
        let t = translate(&body, "claude-x", 4096).expect("translates");
        assert_eq!(t.body["system"], "be brief");
        assert_eq!(t.body["max_tokens"], 4096);
        assert_eq!(t.body["stop_sequences"], json!(["END"]));
        assert_eq!(t.body["metadata"], json!({"user_id": "u1"}));
        assert_eq!(t.body["tool_choice"], json!({"type": "any", "disable_parallel_tool_use": true}));
        assert_eq!(t.body["tools"][0]["input_schema"], json!({"type": "object"}));
        let turns = t.body["messages"].as_array().cloned().unwrap_or_default();
        assert_eq!(turns.len(), 3);
        assert_eq!(
            turns[0]["content"][1]["source"],
            json!({"type": "base64", "media_type": "image/png", "data": "AAAA"})
        );
        assert_eq!(
            turns[1]["content"][0],
            json!({"type": "tool_use", "id": "c1", "name": "sh", "input": {"cmd": "echo 42"}})
        );
        assert_eq!(turns[1]["content"][1]["input"], json!({}));
        assert_eq!(turns[2]["role"], "user");
        assert_eq!(turns[2]["content"][1], json!({"type": "tool_result", "tool_use_id": "c2", "content": "ok"}));
    }

    #[test]
    fn a_json_schema_becomes_a_forced_tool() {
        let body = chat(json!({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 7,
            "response_format": {"type": "json_schema", "json_schema": {"name": "person", "schema": {"type": "object"}}}}));
        let t = translate(&body, "m", 4096).expect("translates");
        assert_eq!(t.answer_tool.as_deref(), Some("person"));
        assert_eq!(t.body["tool_choice"], json!({"type": "tool", "name": "person"}));
        assert_eq!(t.body["max_tokens"], 7);
    }

    #[test]
    fn what_cannot_be_carried_is_refused_naming_the_field() {
        let cases = [
            (json!({"messages": [{"role": "user", "content": "x"}], "n": 2}), "n"),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}),
                "messages[0].content[0].type",
            ),
            (json!({"messages": [{"role": "user", "content": "x"}], "tool_choice": "sometimes"}), "tool_choice"),
        ];
        for (body, field) in cases {
            assert_eq!(translate(&chat(body), "m", 1).map_err(|r| r.field), Err(field.to_owned()));
        }
    }
}
