//! A chat answer as an Anthropic one: a completion as a `message`, a stream of chunks as
//! Anthropic's events in their order (`message_start`, per block `content_block_start` /
//! `content_block_delta` / `content_block_stop`, `message_delta`, `message_stop`), converted chunk by
//! chunk as they arrive.

use crate::provider::chat::first_choice;
use serde_json::{Value, json};

/// `finish_reason` as `stop_reason`.
pub(crate) fn stop_reason(finish: Option<&str>) -> &'static str {
    match finish {
        Some("length") => "max_tokens",
        Some("tool_calls" | "function_call") => "tool_use",
        Some("content_filter") => "refusal",
        _ => "end_turn",
    }
}

/// OpenAI's usage as Anthropic's (cached prompt tokens are cache reads, not input).
pub(crate) fn usage(u: Option<&Value>) -> Value {
    let n = |p: &str| u.and_then(|u| u.pointer(p)).and_then(Value::as_u64).unwrap_or(0);
    let cached = n("/prompt_tokens_details/cached_tokens");
    json!({
        "input_tokens": n("/prompt_tokens").saturating_sub(cached),
        "output_tokens": n("/completion_tokens"),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
    })
}

/// A message id (`msg_…`).
pub(crate) fn message_id() -> String {
    format!("msg_{}", uuid::Uuid::new_v4().simple())
}

/// A chat completion as a Messages answer for `model` (the name the client asked for).
pub(crate) fn message(completion: &Value, model: &str, id: &str) -> Value {
    let msg = first_choice(completion).and_then(|c| c.get("message")).cloned().unwrap_or_default();
    let mut content = Vec::new();
    if let Some(text) = msg.get("content").and_then(Value::as_str).filter(|t| !t.is_empty()) {
        content.push(json!({"type": "text", "text": text}));
    }
    for call in msg.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
        content.push(tool_use(call));
    }
    let finish = first_choice(completion).and_then(|c| c.get("finish_reason")).and_then(Value::as_str);
    json!({
        "id": id, "type": "message", "role": "assistant", "model": model, "content": content,
        "stop_reason": stop_reason(finish), "stop_sequence": null,
        "usage": usage(completion.get("usage")),
    })
}

fn tool_use(call: &Value) -> Value {
    let args = call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or("{}");
    let input: Value = serde_json::from_str(args).unwrap_or_else(|_| json!({}));
    json!({"type": "tool_use", "id": call.get("id").cloned().unwrap_or_else(|| json!(format!("toolu_{}", uuid::Uuid::new_v4().simple()))),
        "name": call.pointer("/function/name"), "input": input})
}

/// One Anthropic event: its name and its data.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Event {
    pub name: &'static str,
    pub data: Value,
}

fn event(name: &'static str, data: Value) -> Event {
    Event { name, data }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Open {
    Text(usize),
    /// A tool_use block: its block index and the chat tool call index it follows.
    Tool(usize, u64),
}

/// Chat chunks → Anthropic events, one chunk at a time.
#[derive(Debug)]
pub(crate) struct Events {
    id: String,
    model: String,
    open: Option<Open>,
    next: usize,
    finish: Option<String>,
    usage: Option<Value>,
}

impl Events {
    pub(crate) fn new(id: String, model: String) -> Self {
        Self { id, model, open: None, next: 0, finish: None, usage: None }
    }

    /// `message_start`, sent before the provider answers anything.
    pub(crate) fn start(&self) -> Vec<Event> {
        vec![event(
            "message_start",
            json!({"type": "message_start", "message": {"id": self.id, "type": "message", "role": "assistant",
                "model": self.model, "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 0, "output_tokens": 0}}}),
        )]
    }

    fn close(&mut self, out: &mut Vec<Event>) {
        if let Some(Open::Text(i) | Open::Tool(i, _)) = self.open.take() {
            out.push(event("content_block_stop", json!({"type": "content_block_stop", "index": i})));
        }
    }

    fn open(&mut self, block: Value, kind: impl Fn(usize) -> Open, out: &mut Vec<Event>) -> usize {
        self.close(out);
        let i = self.next;
        self.next += 1;
        self.open = Some(kind(i));
        out.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": i, "content_block": block}),
        ));
        i
    }

    /// The events of one chat chunk.
    pub(crate) fn chunk(&mut self, chunk: &Value) -> Vec<Event> {
        let mut out = Vec::new();
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(u.clone());
        }
        let Some(choice) = first_choice(chunk) else { return out };
        if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str).filter(|t| !t.is_empty()) {
            let i = match self.open {
                Some(Open::Text(i)) => i,
                _ => self.open(json!({"type": "text", "text": ""}), Open::Text, &mut out),
            };
            out.push(event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": text}}),
            ));
        }
        for frag in choice.pointer("/delta/tool_calls").and_then(Value::as_array).into_iter().flatten() {
            let k = frag.get("index").and_then(Value::as_u64).unwrap_or(0);
            let i = match self.open {
                Some(Open::Tool(i, open_k)) if open_k == k => i,
                _ => {
                    let id = frag
                        .get("id")
                        .and_then(Value::as_str)
                        .map_or_else(|| format!("toolu_{}", uuid::Uuid::new_v4().simple()), str::to_owned);
                    let name = frag.pointer("/function/name").and_then(Value::as_str).unwrap_or_default();
                    let block = json!({"type": "tool_use", "id": id, "name": name, "input": {}});
                    self.open(block, |i| Open::Tool(i, k), &mut out)
                }
            };
            if let Some(args) = frag.pointer("/function/arguments").and_then(Value::as_str).filter(|a| !a.is_empty()) {
                out.push(event("content_block_delta", json!({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": args}})));
            }
        }
        if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish = Some(f.to_owned());
        }
        out
    }

    /// The closing events, after the provider's `[DONE]`.
    pub(crate) fn finish(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        self.close(&mut out);
        let usage = usage(self.usage.as_ref());
        out.push(event(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": stop_reason(self.finish.as_deref()), "stop_sequence": null},
                "usage": usage}),
        ));
        out.push(event("message_stop", json!({"type": "message_stop"})));
        out
    }

    /// An `error` event: the stream failed after it started.
    pub(crate) fn fail(&mut self, message: &str) -> Vec<Event> {
        vec![event("error", json!({"type": "error", "error": {"type": "api_error", "message": message}}))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_completion_becomes_a_message() {
        let c = json!({"choices": [{"message": {"role": "assistant", "content": "ok", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "Bash", "arguments": "{\"command\":\"echo 42\"}"}}]},
            "finish_reason": "tool_calls"}], "usage": {"prompt_tokens": 10, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 4}}});
        let m = message(&c, "claude-x", "msg_1");
        assert_eq!(m["content"][0], json!({"type": "text", "text": "ok"}));
        assert_eq!(
            m["content"][1],
            json!({"type": "tool_use", "id": "call_1", "name": "Bash", "input": {"command": "echo 42"}})
        );
        assert_eq!(m["stop_reason"], "tool_use");
        assert_eq!(
            m["usage"],
            json!({"input_tokens": 6, "output_tokens": 3, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 4})
        );
    }

    #[test]
    fn chunks_become_events_in_order() {
        let mut e = Events::new("msg_1".into(), "m".into());
        let mut names: Vec<&str> = e.start().iter().map(|e| e.name).collect();
        let chunks = [
            json!({"choices": [{"delta": {"role": "assistant", "content": ""}}]}),
            json!({"choices": [{"delta": {"content": "Hi"}}]}),
            json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "Bash", "arguments": ""}}]}}]}),
            json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}}]}),
            json!({"choices": [{"delta": {}, "finish_reason": "tool_calls"}]}),
            json!({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}}),
        ];
        for c in &chunks {
            names.extend(e.chunk(c).iter().map(|e| e.name));
        }
        let end = e.finish();
        assert_eq!(end[1].data["delta"]["stop_reason"], "tool_use");
        assert_eq!(end[1].data["usage"]["output_tokens"], 2);
        names.extend(end.iter().map(|e| e.name));
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
    }
}
