//! The `auto-…` model speaking the Responses API, for gateways that pass `/v1/responses` through
//! to the provider (CONTRACT §1, pass-through): the request is read as the chat request it amounts
//! to (`input` as messages, function tools, `text.format`), the turn is the one `auto_model` would
//! give, and it is answered as a Response — JSON, or the Responses event stream with named events
//! and no `[DONE]`. Hosted tools in the request are ignored (the fake runs none), so a client that
//! offers them gets the same answers as one that does not.

use serde_json::{Value, json};
use wiremock::{Match, Mock, MockServer, Request, Respond, ResponseTemplate};

use super::auto_model::{Turn, model_of, split, text_of, turn, usage};
use super::upstream_reply::{Reply, render};

pub(crate) async fn mount(server: &MockServer) {
    Mock::given(wiremock::matchers::method("POST")).and(Auto).respond_with(Auto).with_priority(2).mount(server).await;
}

/// A Responses request (`…/responses`) for an `auto-…` model.
struct Auto;

impl Match for Auto {
    fn matches(&self, request: &Request) -> bool {
        request.url.path().ends_with("/responses") && model_of(request).is_some_and(|m| m.starts_with("auto-"))
    }
}

impl Respond for Auto {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        render(&answer(&serde_json::from_slice(&request.body).unwrap_or(Value::Null)))
    }
}

/// The answer to a Responses request.
pub fn answer(body: &Value) -> Reply {
    let model = body.get("model").and_then(Value::as_str).unwrap_or_default();
    let turn = turn(&as_chat(body));
    if body.get("stream").and_then(Value::as_bool) == Some(true) {
        Reply::responses_events(events(model, &turn))
    } else {
        Reply::json(response(model, &turn, "completed"))
    }
}

/// The chat request a Responses request amounts to, as far as the turn depends on it.
fn as_chat(body: &Value) -> Value {
    let mut messages = Vec::new();
    match body.get("input") {
        Some(Value::String(s)) => messages.push(json!({"role": "user", "content": s})),
        Some(Value::Array(items)) => {
            for item in items {
                let kind = item.get("type").and_then(Value::as_str).unwrap_or("message");
                if kind.ends_with("_output") {
                    messages.push(json!({"role": "tool", "content": text_of(&item["output"])}));
                } else if kind == "message" {
                    messages.push(json!({"role": item["role"], "content": text_of(&item["content"])}));
                } else if kind.ends_with("_call") {
                    messages.push(json!({"role": "assistant", "content": null}));
                }
            }
        }
        _ => {}
    }
    let tools: Vec<Value> = body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|t| t["type"] == "function")
        .map(|t| json!({"type": "function", "function": {"name": t["name"], "parameters": t["parameters"]}}))
        .collect();
    let mut chat = json!({"messages": messages, "tools": tools});
    if let Some(format) = body.pointer("/text/format").filter(|f| f["type"] == "json_schema") {
        chat["response_format"] = json!({"type": "json_schema", "json_schema": {"schema": format["schema"]}});
    }
    chat
}

fn responses_usage() -> Value {
    let u = usage();
    json!({
        "input_tokens": u["prompt_tokens"], "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": u["completion_tokens"], "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": u["total_tokens"],
    })
}

fn item(turn: &Turn, status: &str) -> Value {
    match turn {
        Turn::Text(text) => json!({"id": "msg_auto", "type": "message", "status": status, "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}),
        Turn::Call { name, arguments } => json!({"id": "fc_auto", "type": "function_call", "status": status,
            "call_id": "call_auto_1", "name": name, "arguments": arguments}),
    }
}

fn response(model: &str, turn: &Turn, status: &str) -> Value {
    let done = status == "completed";
    json!({
        "id": "resp_auto", "object": "response", "created_at": 1_700_000_000, "status": status, "model": model,
        "output": if done { json!([item(turn, "completed")]) } else { json!([]) },
        "usage": if done { responses_usage() } else { Value::Null },
    })
}

/// The event stream of one answer, with sequence numbers.
fn events(model: &str, turn: &Turn) -> Vec<Value> {
    let mut out = vec![
        json!({"type": "response.created", "response": response(model, turn, "in_progress")}),
        json!({"type": "response.in_progress", "response": response(model, turn, "in_progress")}),
    ];
    let mut added = item(turn, "in_progress");
    let at = json!({"item_id": added["id"], "output_index": 0});
    let with = |mut v: Value, kind: &str| {
        v["type"] = json!(kind);
        v
    };
    match turn {
        Turn::Text(text) => {
            added["content"] = json!([]);
            out.push(json!({"type": "response.output_item.added", "output_index": 0, "item": added}));
            let part = json!({"type": "output_text", "text": "", "annotations": []});
            let mut p = with(at.clone(), "response.content_part.added");
            p["content_index"] = json!(0);
            p["part"] = part;
            out.push(p);
            let (a, b) = split(text);
            for piece in [a, b] {
                let mut d = with(at.clone(), "response.output_text.delta");
                d["content_index"] = json!(0);
                d["delta"] = json!(piece);
                out.push(d);
            }
            let mut d = with(at, "response.output_text.done");
            d["content_index"] = json!(0);
            d["text"] = json!(text);
            out.push(d);
        }
        Turn::Call { arguments, .. } => {
            added["arguments"] = json!("");
            out.push(json!({"type": "response.output_item.added", "output_index": 0, "item": added}));
            let (a, b) = split(arguments);
            for piece in [a, b] {
                let mut d = with(at.clone(), "response.function_call_arguments.delta");
                d["delta"] = json!(piece);
                out.push(d);
            }
            let mut d = with(at, "response.function_call_arguments.done");
            d["arguments"] = json!(arguments);
            out.push(d);
        }
    }
    out.push(json!({"type": "response.output_item.done", "output_index": 0, "item": item(turn, "completed")}));
    out.push(json!({"type": "response.completed", "response": response(model, turn, "completed")}));
    for (n, e) in out.iter_mut().enumerate() {
        e["sequence_number"] = json!(n);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_responses_request_gets_the_auto_turn_in_the_responses_shape() {
        let tools = json!([{"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}},
            {"type": "web_search"}]);
        let ask = json!({"model": "auto-codex", "tools": tools, "stream": true,
            "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "run `echo 42`"}]}]});
        let events = answer(&ask).events.unwrap_or_default();
        let done = events.last().cloned().unwrap_or_default();
        assert_eq!(done["type"], "response.completed");
        assert_eq!(done["response"]["output"][0]["arguments"], r#"{"cmd":"echo 42"}"#);
        let after = json!({"model": "auto-codex", "tools": tools, "input": [
            {"type": "message", "role": "user", "content": "run `echo 42`"},
            {"type": "function_call", "call_id": "call_auto_1", "name": "exec_command", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_auto_1", "output": "42\n"}]});
        let body = answer(&after).body.unwrap_or_default();
        assert_eq!(body["output"][0]["content"][0]["text"], "Final answer: 42\n");
        assert_eq!(body["usage"]["total_tokens"], 15);
    }
}
