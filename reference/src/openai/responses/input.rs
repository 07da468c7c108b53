//! A Responses `input` as chat `messages`.
//!
//! A string is one user message. Items: `message` (a `developer` role is chat's `system`; system
//! text parts are joined, since many chat providers take only a string there); every call item a
//! bridged tool can produce (`function_call`, `custom_tool_call`, `local_shell_call`, `shell_call`)
//! joins the assistant message before it — consecutive calls, and the assistant text before them,
//! are one assistant message as chat upstreams require; their outputs are `tool` messages; a
//! `reasoning` item becomes the `reasoning_content` of the assistant message that follows. Items
//! of hosted tools (`web_search_call` …) and kinds this bridge does not know are left out with a
//! warning (refused under `MINI_AGENT_RESPONSES_HOSTED_TOOLS=reject`); `item_reference` needs stored
//! items and is a 400.

use serde_json::{Value, json};

use super::calls::{chat_call, chat_output};
use super::reasoning::{self, Thought};
use super::warnings::Warning;
use crate::api::RequestError;
use crate::openai::settings::HostedTools;

fn invalid(field: impl Into<String>, message: impl Into<String>) -> RequestError {
    RequestError::invalid(field, message)
}

/// `input` as chat messages, with what was left out.
pub(crate) fn messages(input: Option<&Value>, hosted: HostedTools) -> Result<(Vec<Value>, Vec<Warning>), RequestError> {
    let items = match input {
        None | Some(Value::Null) => return Err(invalid("input", "`input` is required: a string or a list of items")),
        Some(Value::String(s)) => return Ok((vec![json!({"role": "user", "content": s})], Vec::new())),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid("input", "`input` must be a string or a list of items")),
    };
    let mut out: Vec<Value> = Vec::new();
    let mut warnings = Vec::new();
    // Reasoning waiting for the assistant message it belongs to.
    let mut thought: Option<String> = None;
    for (i, item) in items.iter().enumerate() {
        let kind =
            item.get("type").and_then(Value::as_str).unwrap_or(if item.get("role").is_some() { "message" } else { "" });
        if kind == "message" {
            let mut m = message(item, i)?;
            if m["role"] == "assistant"
                && let Some(text) = thought.take()
            {
                m["reasoning_content"] = json!(text);
            }
            out.push(m);
        } else if let Some((call_id, name, arguments)) = chat_call(item) {
            if call_id.is_empty() {
                return Err(invalid(format!("input[{i}].call_id"), format!("a {kind} needs a call_id")));
            }
            add_call(
                &mut out,
                json!({"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}),
                thought.take(),
            );
        } else if let Some((call_id, text)) = chat_output(item) {
            let call_id = call_id
                .filter(|c| !c.is_empty())
                .ok_or_else(|| invalid(format!("input[{i}].call_id"), format!("a {kind} needs a call_id")))?;
            out.push(json!({"role": "tool", "tool_call_id": call_id, "content": text}));
        } else if kind == "reasoning" {
            match reasoning::of_item(item) {
                Thought::Text(text) => thought = Some(text),
                Thought::Empty => {}
                Thought::Foreign => warnings.push(Warning::unmapped(format!("input[{i}].encrypted_content"))),
            }
        } else {
            not_carried(&mut warnings, kind, i, hosted)?;
        }
    }
    Ok((out, warnings))
}

/// An item no chat request can hold: stored references are refused, the rest (hosted tools' calls
/// and kinds this bridge does not know) dropped with a warning unless hosted tools are refused.
fn not_carried(warnings: &mut Vec<Warning>, kind: &str, i: usize, hosted: HostedTools) -> Result<(), RequestError> {
    if kind.is_empty() {
        return Err(invalid(format!("input[{i}]"), "an item without `type` or `role` is not supported here"));
    }
    if kind == "item_reference" || hosted == HostedTools::Reject {
        return Err(invalid(
            format!("input[{i}].type"),
            format!("`{kind}` items are not supported here (no stored items or hosted tools)"),
        ));
    }
    warnings.push(Warning::dropped(format!("input[{i}].type"), kind));
    Ok(())
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
    let joined = |parts: &[Value], sep: &str| {
        parts
            .iter()
            .filter_map(|p| p.get("text").or_else(|| p.get("refusal")).and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(sep)
    };
    let content = match item.get("content") {
        Some(Value::String(s)) => Value::String(s.clone()),
        Some(Value::Array(parts)) if role == "assistant" => Value::String(joined(parts, "")),
        Some(Value::Array(parts)) if role == "system" && parts.iter().all(|p| p.get("text").is_some()) => {
            Value::String(joined(parts, "\n\n"))
        }
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
            let mut file = serde_json::Map::new();
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

/// A call joins the assistant message it follows (or starts one), with the reasoning before it.
fn add_call(out: &mut Vec<Value>, call: Value, thought: Option<String>) {
    let assistant = match out.last_mut().filter(|m| m["role"] == "assistant") {
        Some(assistant) => assistant,
        None => {
            out.push(json!({"role": "assistant", "content": null, "tool_calls": []}));
            let Some(last) = out.last_mut() else { return };
            last
        }
    };
    match assistant.get_mut("tool_calls").and_then(Value::as_array_mut) {
        Some(calls) => calls.push(call),
        None => assistant["tool_calls"] = json!([call]),
    }
    if let Some(text) = thought {
        assistant["reasoning_content"] = json!(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn converted(input: Value) -> Result<(Vec<Value>, Vec<Warning>), RequestError> {
        messages(Some(&input), HostedTools::Warn)
    }

    /// A user's message in parts (text and an image, what SDKs send for a picture) keeps its parts.
    #[test]
    fn a_users_parts_become_chat_parts() {
        let (m, warnings) = converted(json!([{"role": "user", "content": [
            {"type": "input_text", "text": "what is this?"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}]}]))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(m[0]["role"], "user");
        assert_eq!(m[0]["content"][0], json!({"type": "text", "text": "what is this?"}));
        assert_eq!(m[0]["content"][1]["type"], "image_url", "{m:?}");
        assert!(warnings.is_empty(), "{warnings:?}");
        // A chat-style image part passes as it is; a file becomes chat's file part.
        let image = json!({"type": "image_url", "image_url": {"url": "https://example.test/a.png"}});
        let (m, _) = converted(json!([{"role": "user", "content": [image.clone(),
            {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,AAAA", "ignored": 1}]}]))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m[0]["content"][0], image);
        assert_eq!(
            m[0]["content"][1],
            json!({"type": "file", "file": {"file_data": "data:application/pdf;base64,AAAA", "filename": "a.pdf"}})
        );
        // Text parts alone stay parts too: only system text is joined into one string.
        let (m, _) = converted(json!([{"role": "user", "content": [
            {"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}]}]))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m[0]["content"], json!([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]));
    }

    #[test]
    fn a_tool_round_trip_becomes_one_assistant_message_and_tool_messages() {
        let (m, warnings) = converted(json!([
            {"role": "developer", "content": [{"type": "input_text", "text": "be nice"}, {"type": "input_text", "text": "be brief"}]},
            {"role": "user", "content": "weather?"},
            {"type": "reasoning", "id": "rs_1", "summary": [], "content": [{"type": "reasoning_text", "text": "look it up"}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me check."}]},
            {"type": "function_call", "call_id": "c1", "name": "get", "arguments": "{\"city\":\"Paris\"}"},
            {"type": "function_call", "call_id": "c2", "name": "spawn", "namespace": "ns", "arguments": ""},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
            {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "rain"}]},
            {"type": "web_search_call", "id": "ws_1", "status": "completed"}
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.len(), 5, "{m:?}");
        assert_eq!(m[0], json!({"role": "system", "content": "be nice\n\nbe brief"}));
        assert_eq!(
            (m[2]["content"].as_str(), m[2]["reasoning_content"].as_str()),
            (Some("Let me check."), Some("look it up"))
        );
        assert_eq!(m[2]["tool_calls"][1]["function"], json!({"name": "ns__spawn", "arguments": "{}"}));
        assert_eq!((m[3]["tool_call_id"].as_str(), m[4]["content"].as_str()), (Some("c1"), Some("rain")));
        assert_eq!(warnings, [Warning::dropped("input[8].type", "web_search_call")]);
    }

    #[test]
    fn reasoning_before_a_call_goes_on_the_call_s_message() {
        let encrypted = reasoning::carry("run it");
        let (m, _) = converted(json!([
            {"role": "user", "content": "go"},
            {"type": "reasoning", "summary": [], "encrypted_content": encrypted},
            {"type": "local_shell_call", "call_id": "c", "action": {"type": "exec", "command": ["echo", "42"]}},
            {"type": "local_shell_call_output", "id": "c", "output": "42"}
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m[1]["reasoning_content"], "run it");
        assert_eq!(m[1]["tool_calls"][0]["function"]["name"], "local_shell");
        assert_eq!(m[2], json!({"role": "tool", "tool_call_id": "c", "content": "42"}));
    }

    #[test]
    fn what_needs_storage_is_refused_and_others_encrypted_reasoning_is_named() {
        let err = converted(json!([{"type": "item_reference", "id": "x"}])).expect_err("refused");
        assert_eq!(err.field(), Some("input[0].type"));
        let (_, warnings) =
            converted(json!([{"type": "reasoning", "encrypted_content": "gAAA"}, {"role": "user", "content": "q"}]))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(warnings, [Warning::unmapped("input[0].encrypted_content")]);
        let err = messages(Some(&json!([{"type": "web_search_call"}])), HostedTools::Reject).expect_err("reject");
        assert_eq!(err.field(), Some("input[0].type"));
        assert_eq!(converted(json!([{"foo": 1}])).expect_err("no type").field(), Some("input[0]"));
    }
}
