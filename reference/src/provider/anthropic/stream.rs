//! Anthropic's stream (`message_start`, `content_block_start` / `_delta` / `_stop`, `message_delta`,
//! `message_stop`, `ping`, `error`) as `chat.completion.chunk` events, converted one event at a
//! time as they arrive: nothing is held back, so the first token is not delayed.
//!
//! A stream that ends without `message_stop` ends without `[DONE]` (the relay above turns that into
//! an `error` event); an `error` event becomes OpenAI's mid-stream error payload.

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::{Value, json};

use super::answer;

/// The state of one converted stream.
#[derive(Debug, Default)]
pub(crate) struct Converter {
    id: Value,
    model: Value,
    created: u64,
    /// Content block index → tool call index (tool calls are numbered from 0 in OpenAI's deltas).
    calls: HashMap<u64, usize>,
    /// The content block index of the forced answer tool, whose input is streamed as content.
    answer_block: Option<u64>,
    answer_tool: Option<String>,
    include_usage: bool,
    usage: Value,
    finished: bool,
}

impl Converter {
    pub(crate) fn new(answer_tool: Option<String>, include_usage: bool, created: u64) -> Self {
        Self { answer_tool, include_usage, created, usage: json!({}), ..Self::default() }
    }

    /// Whether `message_stop` (or an error) has been seen.
    pub(crate) fn finished(&self) -> bool {
        self.finished
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Bytes {
        let chunk = json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        frame(&chunk.to_string())
    }

    /// The SSE bytes for one Anthropic event (`data` parsed), possibly none.
    pub(crate) fn event(&mut self, data: &Value) -> Vec<Bytes> {
        let kind = data.get("type").and_then(Value::as_str).unwrap_or_default();
        match kind {
            "message_start" => {
                let m = data.get("message").cloned().unwrap_or_default();
                self.id = m.get("id").cloned().unwrap_or(Value::Null);
                self.model = m.get("model").cloned().unwrap_or(Value::Null);
                self.merge_usage(m.get("usage"));
                vec![self.chunk(json!({"role": "assistant", "content": ""}), None)]
            }
            "content_block_start" => {
                let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
                let block = data.get("content_block").cloned().unwrap_or_default();
                match block.get("type").and_then(Value::as_str) {
                    Some("tool_use") => {
                        let name = block.get("name").and_then(Value::as_str).unwrap_or_default();
                        if self.answer_tool.as_deref() == Some(name) {
                            self.answer_block = Some(index);
                            return Vec::new();
                        }
                        let n = self.calls.len();
                        self.calls.insert(index, n);
                        let call = json!({"index": n, "id": block.get("id"), "type": "function",
                            "function": {"name": name, "arguments": ""}});
                        vec![self.chunk(json!({"tool_calls": [call]}), None)]
                    }
                    Some("text") => match block.get("text").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                        Some(t) => vec![self.chunk(json!({"content": t}), None)],
                        None => Vec::new(),
                    },
                    _ => Vec::new(),
                }
            }
            "content_block_delta" => {
                let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
                let delta = data.get("delta").cloned().unwrap_or_default();
                let text = |k: &str| delta.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => vec![self.chunk(json!({"content": text("text")}), None)],
                    Some("thinking_delta") => vec![self.chunk(json!({"reasoning_content": text("thinking")}), None)],
                    Some("input_json_delta") if self.answer_block == Some(index) => {
                        vec![self.chunk(json!({"content": text("partial_json")}), None)]
                    }
                    Some("input_json_delta") => {
                        let n = self.calls.get(&index).copied().unwrap_or(0);
                        let call = json!({"index": n, "function": {"arguments": text("partial_json")}});
                        vec![self.chunk(json!({"tool_calls": [call]}), None)]
                    }
                    _ => Vec::new(),
                }
            }
            "message_delta" => {
                self.merge_usage(data.get("usage"));
                let stop = data.pointer("/delta/stop_reason").and_then(Value::as_str);
                let finish = if self.answer_block.is_some() { "stop" } else { answer::finish_reason(stop) };
                vec![self.chunk(json!({}), Some(finish))]
            }
            "message_stop" => {
                self.finished = true;
                let mut out = Vec::new();
                if self.include_usage {
                    let chunk = json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                        "model": self.model, "choices": [], "usage": answer::usage(&self.usage)});
                    out.push(frame(&chunk.to_string()));
                }
                out.push(Bytes::from_static(b"data: [DONE]\n\n"));
                out
            }
            "error" => {
                self.finished = true;
                let message = data.pointer("/error/message").and_then(Value::as_str).unwrap_or("the stream failed");
                let kind = data.pointer("/error/type").and_then(Value::as_str).unwrap_or("api_error");
                let e = json!({"error": {"message": message, "type": kind, "param": null, "code": kind}});
                vec![frame(&e.to_string())]
            }
            _ => Vec::new(),
        }
    }

    /// Anthropic sends input figures in `message_start` and the output count in `message_delta`.
    fn merge_usage(&mut self, usage: Option<&Value>) {
        if let (Some(Value::Object(new)), Value::Object(old)) = (usage, &mut self.usage) {
            for (k, v) in new {
                if !v.is_null() {
                    old.insert(k.clone(), v.clone());
                }
            }
        }
    }
}

fn frame(data: &str) -> Bytes {
    Bytes::from(format!("data: {data}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(events: &[Value], include_usage: bool) -> Vec<Value> {
        let mut c = Converter::new(None, include_usage, 1);
        let mut out = Vec::new();
        for e in events {
            for b in c.event(e) {
                let text = String::from_utf8_lossy(&b).to_string();
                let data = text.trim().trim_start_matches("data: ").to_owned();
                out.push(serde_json::from_str(&data).unwrap_or(json!(data)));
            }
        }
        out
    }

    #[test]
    fn text_and_tool_use_become_chunks() {
        let events = [
            json!({"type": "message_start", "message": {"id": "msg_1", "model": "claude-x", "usage": {"input_tokens": 9, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "ping"}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "sh", "input": {}}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"cmd\":"}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"echo 42\"}"}}),
            json!({"type": "content_block_stop", "index": 1}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 12}}),
            json!({"type": "message_stop"}),
        ];
        let chunks = run(&events, true);
        let done = crate::provider::stream::aggregate(&chunks[..chunks.len() - 1]);
        assert_eq!(done["id"], "msg_1");
        assert_eq!(done["choices"][0]["message"]["content"], "Hi");
        assert_eq!(
            done["choices"][0]["message"]["tool_calls"][0]["function"],
            json!({"name": "sh", "arguments": "{\"cmd\":\"echo 42\"}"})
        );
        assert_eq!(done["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(done["usage"]["completion_tokens"], 12);
        assert_eq!(done["usage"]["prompt_tokens"], 9);
        assert_eq!(chunks.last(), Some(&json!("[DONE]")));
    }

    #[test]
    fn an_error_event_ends_the_stream_in_openai_shape() {
        let chunks =
            run(&[json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})], false);
        assert_eq!(
            chunks,
            vec![
                json!({"error": {"message": "Overloaded", "type": "overloaded_error", "param": null, "code": "overloaded_error"}})
            ]
        );
    }
}
