//! Anthropic's answers as OpenAI's: a message as a chat completion, an error body as OpenAI's error
//! object with the status a client of the OpenAI surface expects.

use serde_json::{Value, json};

/// `stop_reason` as `finish_reason`.
pub(crate) fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens" | "model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        _ => "stop",
    }
}

/// Anthropic's `usage` as OpenAI's: prompt tokens count every input token (cached ones too), and
/// the cache figures are kept under both OpenAI's and Anthropic's names.
pub(crate) fn usage(u: &Value) -> Value {
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    let (input, output) = (n("input_tokens"), n("output_tokens"));
    let (created, read) = (n("cache_creation_input_tokens"), n("cache_read_input_tokens"));
    let prompt = input + created + read;
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": output,
        "total_tokens": prompt + output,
        "prompt_tokens_details": {"cached_tokens": read},
        "cache_creation_input_tokens": created,
        "cache_read_input_tokens": read,
    })
}

/// A Messages answer as a chat completion. With `answer_tool` (structured output), that tool's
/// input is the content and the answer ends with `stop`.
pub(crate) fn completion(message: &Value, answer_tool: Option<&str>, created: u64) -> Value {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    let mut answered = false;
    for block in message.get("content").and_then(Value::as_array).into_iter().flatten() {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or_default()),
            Some("thinking") => reasoning.push_str(block.get("thinking").and_then(Value::as_str).unwrap_or_default()),
            Some("tool_use") => {
                let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                let name = block.get("name").and_then(Value::as_str).unwrap_or_default();
                if answer_tool == Some(name) {
                    text = input.to_string();
                    answered = true;
                    continue;
                }
                calls.push(json!({"id": block.get("id"), "type": "function",
                    "function": {"name": name, "arguments": input.to_string()}}));
            }
            _ => {}
        }
    }
    let stop = message.get("stop_reason").and_then(Value::as_str);
    let finish = if answered { "stop" } else { finish_reason(stop) };
    let mut msg = json!({"role": "assistant", "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) }});
    if !calls.is_empty() {
        msg["tool_calls"] = Value::Array(calls);
    }
    if !reasoning.is_empty() {
        msg["reasoning_content"] = json!(reasoning);
    }
    json!({
        "id": message.get("id").cloned().unwrap_or(Value::Null),
        "object": "chat.completion",
        "created": created,
        "model": message.get("model").cloned().unwrap_or(Value::Null),
        "choices": [{"index": 0, "message": msg, "finish_reason": finish, "logprobs": null}],
        "usage": usage(message.get("usage").unwrap_or(&Value::Null)),
    })
}

/// The status the OpenAI surface answers for Anthropic's: 529 (overloaded) is a 503; the rest as is.
pub(crate) fn status(upstream: u16) -> u16 {
    if upstream == 529 { 503 } else { upstream }
}

/// An Anthropic error body (`{"type":"error","error":{"type","message"}}`) as OpenAI's `{"error":…}`;
/// a body of another shape is quoted.
pub(crate) fn error(status: u16, body: &[u8]) -> Value {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let inner = parsed.as_ref().and_then(|v| v.get("error")).filter(|e| e.is_object());
    let message = inner.and_then(|e| e.get("message")).and_then(Value::as_str).map_or_else(
        || format!("provider anthropic returned HTTP {status}: {}", crate::text::excerpt_bytes(body, 400)),
        str::to_owned,
    );
    let kind = inner.and_then(|e| e.get("type")).and_then(Value::as_str).unwrap_or(match status {
        429 => "rate_limit_error",
        500.. => "api_error",
        _ => "invalid_request_error",
    });
    json!({"error": {"message": message, "type": kind, "param": null, "code": kind}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_becomes_a_completion() {
        let message = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [{"type": "text", "text": "let me run it"},
                        {"type": "tool_use", "id": "toolu_1", "name": "sh", "input": {"cmd": "echo 42"}}],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 2, "cache_read_input_tokens": 3}});
        let c = completion(&message, None, 7);
        assert_eq!(c["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(c["choices"][0]["message"]["content"], "let me run it");
        assert_eq!(
            c["choices"][0]["message"]["tool_calls"][0]["function"],
            json!({"name": "sh", "arguments": "{\"cmd\":\"echo 42\"}"})
        );
        assert_eq!(c["usage"]["prompt_tokens"], 15);
        assert_eq!(c["usage"]["total_tokens"], 20);
        assert_eq!(c["usage"]["prompt_tokens_details"]["cached_tokens"], 3);
    }

    #[test]
    fn stop_reasons_map_to_finish_reasons() {
        for (stop, finish) in
            [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls")]
        {
            assert_eq!(finish_reason(Some(stop)), finish);
        }
    }

    #[test]
    fn the_answer_tool_is_the_content() {
        let message = json!({"content": [{"type": "tool_use", "id": "t", "name": "json_answer", "input": {"a": 1}}], "stop_reason": "tool_use"});
        let c = completion(&message, Some("json_answer"), 0);
        assert_eq!(c["choices"][0]["message"]["content"], "{\"a\":1}");
        assert_eq!(c["choices"][0]["finish_reason"], "stop");
    }

    #[test]
    fn errors_keep_their_type_and_overloaded_is_503() {
        let e = error(529, br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#);
        assert_eq!(
            (status(529), e["error"]["type"].as_str(), e["error"]["message"].as_str()),
            (503, Some("overloaded_error"), Some("Overloaded"))
        );
        assert!(
            error(502, b"<html>")
                .pointer("/error/message")
                .and_then(Value::as_str)
                .is_some_and(|m| m.contains("<html>"))
        );
    }
}
