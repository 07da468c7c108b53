//! A Responses API request (`POST /v1/responses`) as a chat-completions request.
//!
//! `input` (a string, or items: messages, `function_call`, `function_call_output`) becomes
//! `messages` — consecutive function calls, and the assistant text before them, merged into one
//! assistant message as chat upstreams require; `reasoning` items dropped. `instructions` becomes
//! a leading system message; flat function tools become chat tools; `text.format` becomes
//! `response_format`; `max_output_tokens` becomes `max_tokens`. What needs storage or a hosted
//! tool (`previous_response_id`, `conversation`, `background`, stored prompts, built-in tools,
//! `item_reference`) is a 400 naming the field: silently dropping it would lose the client's
//! history or tools.

use serde_json::{Map, Value, json};

use crate::api::RequestError;

/// A request, bridged.
#[derive(Debug, Clone)]
pub struct Bridged {
    pub model: String,
    pub stream: bool,
    /// The chat-completions body, without `model` and `stream`.
    pub chat: Map<String, Value>,
    /// The request fields a Response echoes back.
    pub echo: Map<String, Value>,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> RequestError {
    RequestError::invalid(field, message)
}

/// Bridges a parsed request body.
pub fn bridge(body: Map<String, Value>) -> Result<Bridged, RequestError> {
    refuse_stateful(&body)?;
    let model = match body.get("model") {
        Some(Value::String(m)) if !m.trim().is_empty() => m.clone(),
        _ => return Err(invalid("model", "you must provide a model parameter (a string)")),
    };
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let mut messages = Vec::new();
    if let Some(instructions) = body.get("instructions").and_then(Value::as_str) {
        messages.push(json!({"role": "system", "content": instructions}));
    }
    messages.extend(input_messages(body.get("input"))?);
    let mut chat = Map::new();
    chat.insert("messages".into(), Value::Array(messages));
    if let Some(tools) = body.get("tools").and_then(Value::as_array).filter(|t| !t.is_empty()) {
        chat.insert("tools".into(), Value::Array(chat_tools(tools)?));
    }
    if let Some(choice) = body.get("tool_choice") {
        chat.insert("tool_choice".into(), chat_tool_choice(choice)?);
    }
    if let Some(format) = body.get("text").and_then(|t| t.get("format")).and_then(response_format) {
        chat.insert("response_format".into(), format);
    }
    for (from, to) in [
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("max_output_tokens", "max_tokens"),
        ("parallel_tool_calls", "parallel_tool_calls"),
        ("user", "user"),
    ] {
        if let Some(v) = body.get(from).filter(|v| !v.is_null()) {
            chat.insert(to.into(), v.clone());
        }
    }
    if let Some(n) = body.get("top_logprobs").filter(|v| v.is_u64()) {
        chat.insert("logprobs".into(), Value::Bool(true));
        chat.insert("top_logprobs".into(), n.clone());
    }
    // `store`, `include`, `truncation`, `metadata`, `reasoning`, `service_tier` … have no chat
    // equivalent and are accepted as they are: clients send them on every request.
    let echo = echoed(&body);
    Ok(Bridged { model, stream, chat, echo })
}

/// What cannot be done without storage or hosted tools.
fn refuse_stateful(body: &Map<String, Value>) -> Result<(), RequestError> {
    if body.get("previous_response_id").is_some_and(|v| !v.is_null()) {
        return Err(invalid(
            "previous_response_id",
            "previous_response_id is not supported: this server stores no responses; send the whole conversation in `input`",
        ));
    }
    for field in ["conversation", "prompt"] {
        if body.get(field).is_some_and(|v| !v.is_null()) {
            return Err(invalid(field, format!("`{field}` is not supported: this server stores no {field}s")));
        }
    }
    if body.get("background").and_then(Value::as_bool) == Some(true) {
        return Err(invalid("background", "background responses are not supported: this server stores no responses"));
    }
    Ok(())
}

/// `input` as chat messages.
fn input_messages(input: Option<&Value>) -> Result<Vec<Value>, RequestError> {
    let items = match input {
        None | Some(Value::Null) => return Err(invalid("input", "`input` is required: a string or a list of items")),
        Some(Value::String(s)) => return Ok(vec![json!({"role": "user", "content": s})]),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid("input", "`input` must be a string or a list of items")),
    };
    let mut out: Vec<Value> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let kind =
            item.get("type").and_then(Value::as_str).unwrap_or(if item.get("role").is_some() { "message" } else { "" });
        match kind {
            "message" => out.push(message(item, i)?),
            "function_call" => add_call(&mut out, item, i)?,
            "function_call_output" => out.push(tool_result(item, i)?),
            "reasoning" => {}
            other => {
                let what = if other.is_empty() {
                    "an item without `type` or `role`".to_owned()
                } else {
                    format!("`{other}` items")
                };
                return Err(invalid(
                    format!("input[{i}]"),
                    format!("{what} are not supported here (no stored items or hosted tools)"),
                ));
            }
        }
    }
    Ok(out)
}

fn message(item: &Value, i: usize) -> Result<Value, RequestError> {
    let role = match item.get("role").and_then(Value::as_str) {
        Some("developer") => "system",
        Some(r @ ("user" | "system" | "assistant")) => r,
        _ => {
            return Err(invalid(
                format!("input[{i}].role"),
                "a message's role must be user, system, developer or assistant",
            ));
        }
    };
    let content = match item.get("content") {
        Some(Value::String(s)) => Value::String(s.clone()),
        Some(Value::Array(parts)) if role == "assistant" => Value::String(
            parts.iter().filter_map(|p| p.get("text").or_else(|| p.get("refusal")).and_then(Value::as_str)).collect(),
        ),
        Some(Value::Array(parts)) => {
            Value::Array(parts.iter().enumerate().map(|(j, p)| part(p, i, j)).collect::<Result<_, _>>()?)
        }
        _ => {
            return Err(invalid(
                format!("input[{i}].content"),
                "a message's content must be a string or a list of parts",
            ));
        }
    };
    Ok(json!({"role": role, "content": content}))
}

/// A Responses content part as a chat content part.
fn part(p: &Value, i: usize, j: usize) -> Result<Value, RequestError> {
    let field = || format!("input[{i}].content[{j}]");
    match p.get("type").and_then(Value::as_str) {
        Some("input_text" | "text" | "output_text") => {
            Ok(json!({"type": "text", "text": p.get("text").cloned().unwrap_or(Value::Null)}))
        }
        Some("input_image") => {
            let url = p.get("image_url").and_then(Value::as_str).ok_or_else(|| {
                invalid(
                    field(),
                    "an input_image needs an `image_url` (file_id images need storage this server does not have)",
                )
            })?;
            let detail = match p.get("detail").and_then(Value::as_str) {
                Some("original") => "high",
                Some(d) => d,
                None => "auto",
            };
            Ok(json!({"type": "image_url", "image_url": {"url": url, "detail": detail}}))
        }
        Some("image_url") => Ok(p.clone()),
        Some("input_file") => {
            let mut file = Map::new();
            for key in ["file_data", "file_id", "filename"] {
                if let Some(v) = p.get(key) {
                    file.insert(key.into(), v.clone());
                }
            }
            Ok(json!({"type": "file", "file": file}))
        }
        _ => Err(invalid(field(), "content parts must be input_text, input_image or input_file")),
    }
}

/// A `function_call` item joins the assistant message it follows (or starts one).
fn add_call(out: &mut Vec<Value>, item: &Value, i: usize) -> Result<(), RequestError> {
    let call_id = item
        .get("call_id")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("input[{i}].call_id"), "a function_call needs a call_id"))?;
    let name = item
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("input[{i}].name"), "a function_call needs a name"))?;
    let arguments = item.get("arguments").and_then(Value::as_str).filter(|a| !a.trim().is_empty()).unwrap_or("{}");
    let call = json!({"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}});
    match out.last_mut().filter(|m| m["role"] == "assistant") {
        Some(assistant) => match assistant.get_mut("tool_calls").and_then(Value::as_array_mut) {
            Some(calls) => calls.push(call),
            None => assistant["tool_calls"] = json!([call]),
        },
        None => out.push(json!({"role": "assistant", "content": null, "tool_calls": [call]})),
    }
    Ok(())
}

fn tool_result(item: &Value, i: usize) -> Result<Value, RequestError> {
    let call_id = item
        .get("call_id")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("input[{i}].call_id"), "a function_call_output needs a call_id"))?;
    let output = match item.get("output") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => {
            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n")
        }
        Some(other) => other.to_string(),
        None => String::new(),
    };
    Ok(json!({"role": "tool", "tool_call_id": call_id, "content": output}))
}

/// Flat Responses function tools as nested chat tools; built-in tools are refused.
fn chat_tools(tools: &[Value]) -> Result<Vec<Value>, RequestError> {
    tools
        .iter()
        .enumerate()
        .map(|(i, t)| match t.get("type").and_then(Value::as_str) {
            Some("function") => {
                let mut function = Map::new();
                let name = t
                    .get("name")
                    .cloned()
                    .ok_or_else(|| invalid(format!("tools[{i}].name"), "a function tool needs a name"))?;
                function.insert("name".into(), name);
                if let Some(d) = t.get("description").filter(|d| d.is_string()) {
                    function.insert("description".into(), d.clone());
                }
                let parameters = t.get("parameters").filter(|p| p.get("type").is_some()).cloned();
                function.insert(
                    "parameters".into(),
                    parameters.unwrap_or_else(|| json!({"type": "object", "properties": {}})),
                );
                if let Some(strict) = t.get("strict").filter(|s| s.is_boolean()) {
                    function.insert("strict".into(), strict.clone());
                }
                Ok(json!({"type": "function", "function": function}))
            }
            other => Err(invalid(
                format!("tools[{i}].type"),
                format!("built-in tool `{}` is not supported here: only function tools", other.unwrap_or("?")),
            )),
        })
        .collect()
}

fn chat_tool_choice(choice: &Value) -> Result<Value, RequestError> {
    match choice {
        Value::String(s) if matches!(s.as_str(), "auto" | "none" | "required") => Ok(choice.clone()),
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("function") => {
            Ok(json!({"type": "function", "function": {"name": o.get("name").cloned().unwrap_or(Value::Null)}}))
        }
        _ => Err(invalid(
            "tool_choice",
            "tool_choice must be auto, none, required or a function: hosted tools are not supported here",
        )),
    }
}

/// `text.format` as `response_format` (`text` needs none).
fn response_format(format: &Value) -> Option<Value> {
    match format.get("type").and_then(Value::as_str) {
        Some("json_schema") => {
            let mut schema = Map::new();
            for key in ["name", "schema", "strict", "description"] {
                if let Some(v) = format.get(key) {
                    schema.insert(key.into(), v.clone());
                }
            }
            Some(json!({"type": "json_schema", "json_schema": schema}))
        }
        Some("json_object") => Some(json!({"type": "json_object"})),
        _ => None,
    }
}

/// What a Response repeats from its request, with the API's defaults.
fn echoed(body: &Map<String, Value>) -> Map<String, Value> {
    let get = |k: &str, default: Value| body.get(k).cloned().filter(|v| !v.is_null()).unwrap_or(default);
    let mut echo = Map::new();
    echo.insert("instructions".into(), get("instructions", Value::Null));
    echo.insert("max_output_tokens".into(), get("max_output_tokens", Value::Null));
    echo.insert("metadata".into(), get("metadata", json!({})));
    echo.insert("parallel_tool_calls".into(), get("parallel_tool_calls", Value::Bool(true)));
    echo.insert("temperature".into(), get("temperature", json!(1.0)));
    echo.insert("text".into(), get("text", json!({"format": {"type": "text"}})));
    echo.insert("tool_choice".into(), get("tool_choice", json!("auto")));
    echo.insert("tools".into(), get("tools", json!([])));
    echo.insert("top_p".into(), get("top_p", json!(1.0)));
    echo.insert("truncation".into(), get("truncation", json!("disabled")));
    echo.insert("user".into(), get("user", Value::Null));
    echo
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bridged(body: Value) -> Result<Bridged, RequestError> {
        bridge(body.as_object().cloned().unwrap_or_default())
    }

    #[test]
    fn a_tool_round_trip_becomes_one_assistant_message_and_a_tool_message() {
        let b = bridged(json!({
            "model": "m", "instructions": "be nice", "include": [], "store": false,
            "input": [
                {"role": "user", "content": "weather?"},
                {"type": "reasoning", "id": "rs_1", "summary": []},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me check."}]},
                {"type": "function_call", "call_id": "c1", "name": "get", "arguments": "{\"city\":\"Paris\"}"},
                {"type": "function_call", "call_id": "c2", "name": "get", "arguments": ""},
                {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
                {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "rain"}]}
            ],
            "tools": [{"type": "function", "name": "get", "description": null, "parameters": {"type": "object"}, "strict": true}],
            "tool_choice": {"type": "function", "name": "get"},
            "text": {"format": {"type": "json_schema", "name": "W", "schema": {"type": "object"}, "strict": true}},
            "max_output_tokens": 50
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let m = b.chat["messages"].as_array().cloned().unwrap_or_default();
        assert_eq!(m.len(), 5, "{m:?}");
        assert_eq!(m[0], json!({"role": "system", "content": "be nice"}));
        assert_eq!(m[2]["content"], "Let me check.");
        assert_eq!(m[2]["tool_calls"][1]["function"]["arguments"], "{}", "empty arguments become {{}}");
        assert_eq!((m[3]["tool_call_id"].as_str(), m[4]["content"].as_str()), (Some("c1"), Some("rain")));
        assert_eq!(
            b.chat["tools"][0],
            json!({"type": "function", "function": {"name": "get", "parameters": {"type": "object"}, "strict": true}})
        );
        assert_eq!(b.chat["tool_choice"], json!({"type": "function", "function": {"name": "get"}}));
        assert_eq!(b.chat["response_format"]["json_schema"]["name"], "W");
        assert_eq!(b.chat["max_tokens"], 50);
        assert_eq!(b.echo["tool_choice"], json!({"type": "function", "name": "get"}));
    }

    #[test]
    fn what_needs_storage_or_hosted_tools_is_refused_naming_the_field() {
        for (body, field) in [
            (json!({"model": "m", "input": "hi", "previous_response_id": "resp_1"}), "previous_response_id"),
            (json!({"model": "m", "input": "hi", "background": true}), "background"),
            (json!({"model": "m", "input": "hi", "tools": [{"type": "web_search"}]}), "tools[0].type"),
            (json!({"model": "m", "input": [{"type": "item_reference", "id": "x"}]}), "input[0]"),
            (json!({"model": "m", "input": "hi", "tool_choice": {"type": "file_search"}}), "tool_choice"),
            (json!({"input": "hi"}), "model"),
        ] {
            let err = bridged(body).expect_err(field);
            assert_eq!(err.field(), Some(field), "{err}");
        }
    }
}
