//! A chat completion as a Response object: the output items (the provider's reasoning as a
//! `reasoning` item, a `message` with its `output_text`, one item per tool call of the kind its
//! tool calls for — see [`super::calls`]), the status from the finish reason, the usage in the
//! Responses vocabulary, and `output_text`. Also the Response skeleton the stream's events carry.

use serde_json::{Map, Value, json};

use super::reasoning;
use super::request::Bridged;
use crate::provider::chat::first_choice;

/// A fresh id with the API's prefix (`resp_`, `msg_`, `fc_`).
pub(crate) fn id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// The Response with no output yet (`in_progress`): what `response.created` carries.
pub(crate) fn skeleton(id: &str, created_at: u64, model: &str, echo: &Map<String, Value>) -> Value {
    let mut r = Map::new();
    r.insert("id".into(), json!(id));
    r.insert("object".into(), json!("response"));
    r.insert("created_at".into(), json!(created_at));
    r.insert("status".into(), json!("in_progress"));
    r.insert("background".into(), json!(false));
    r.insert("error".into(), Value::Null);
    r.insert("incomplete_details".into(), Value::Null);
    r.insert("model".into(), json!(model));
    r.insert("output".into(), json!([]));
    r.insert("previous_response_id".into(), Value::Null);
    r.insert("reasoning".into(), json!({"effort": null, "summary": null}));
    r.insert("store".into(), json!(false));
    r.insert("usage".into(), Value::Null);
    r.extend(echo.iter().map(|(k, v)| (k.clone(), v.clone())));
    Value::Object(r)
}

/// `status` and `incomplete_details` for a finish reason.
pub(crate) fn status_of(finish_reason: Option<&str>) -> (&'static str, Value) {
    match finish_reason {
        Some("length") => ("incomplete", json!({"reason": "max_output_tokens"})),
        Some("content_filter") => ("incomplete", json!({"reason": "content_filter"})),
        _ => ("completed", Value::Null),
    }
}

/// Chat usage in the Responses vocabulary, details included (some clients need them).
pub(crate) fn usage(chat: Option<&Value>) -> Value {
    let n = |p: &str| chat.and_then(|u| u.pointer(p)).and_then(Value::as_u64).unwrap_or(0);
    let (input, output) = (n("/prompt_tokens"), n("/completion_tokens"));
    let total = chat.and_then(|u| u.get("total_tokens")).and_then(Value::as_u64).unwrap_or(input + output);
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": n("/prompt_tokens_details/cached_tokens"), "cache_write_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": n("/completion_tokens_details/reasoning_tokens")},
        "total_tokens": total,
    })
}

/// A finished message item.
pub(crate) fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({
        "id": id, "type": "message", "status": status, "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    })
}

/// A whole chat completion as the finished Response to `bridged`.
pub(crate) fn from_completion(completion: &Value, id_: &str, created_at: u64, bridged: &Bridged) -> Value {
    let model = completion.get("model").and_then(Value::as_str).unwrap_or_default();
    let mut response = skeleton(id_, created_at, model, &bridged.echo);
    let choice = first_choice(completion);
    let (status, incomplete) = status_of(choice.and_then(|c| c.get("finish_reason")).and_then(Value::as_str));
    let item_status = if status == "completed" { "completed" } else { "incomplete" };
    let message = choice.and_then(|c| c.get("message"));
    let text = message.and_then(|m| m.get("content")).and_then(Value::as_str).unwrap_or_default();
    let calls = message.and_then(|m| m.get("tool_calls")).and_then(Value::as_array).cloned().unwrap_or_default();
    let mut output = Vec::new();
    if let Some(thought) = message.and_then(reasoning::of_chat) {
        output.push(reasoning::item(&id("rs"), thought, item_status, bridged.encrypted_reasoning));
    }
    if !text.is_empty() || calls.is_empty() {
        output.push(message_item(&id("msg"), text, item_status));
    }
    for call in &calls {
        let call_id = call.get("id").and_then(Value::as_str).map_or_else(|| id("call"), str::to_owned);
        let name = call.pointer("/function/name").and_then(Value::as_str).unwrap_or_default();
        let arguments = call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or_default();
        let item_id = id(bridged.tools.id_prefix(name));
        output.push(bridged.tools.item(&item_id, &call_id, name, arguments, item_status));
    }
    response["status"] = json!(status);
    response["incomplete_details"] = incomplete;
    response["output_text"] = json!(output_text(&output));
    response["output"] = Value::Array(output);
    response["usage"] = usage(completion.get("usage"));
    if let Some(tier) = completion.get("service_tier").filter(|t| t.is_string()) {
        // The tier the provider actually used.
        response["service_tier"] = tier.clone();
    }
    response
}

/// The text of every message item's `output_text` parts, joined: the Response's `output_text`
/// (CONTRACT §1), which clients that read raw JSON rely on as the SDKs' property of that name.
pub(crate) fn output_text(output: &[Value]) -> String {
    output
        .iter()
        .filter(|item| item["type"] == "message")
        .flat_map(|item| item["content"].as_array().into_iter().flatten())
        .filter(|part| part["type"] == "output_text")
        .filter_map(|part| part["text"].as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::settings::HostedTools;

    /// Ids carry the API's prefixes (clients tell items apart by them) and are never reused.
    #[test]
    fn ids_have_the_apis_prefix_and_are_fresh() {
        for prefix in ["resp", "msg", "fc"] {
            let (a, b) = (id(prefix), id(prefix));
            let rest = a.strip_prefix(&format!("{prefix}_")).unwrap_or_else(|| panic!("{a}"));
            assert!(rest.len() == 32 && rest.bytes().all(|c| c.is_ascii_hexdigit()), "{a}");
            assert_ne!(a, b);
        }
    }

    fn bridged() -> Bridged {
        let body = json!({"model": "m", "input": "q", "include": ["reasoning.encrypted_content"],
            "tools": [{"type": "namespace", "name": "ns", "description": "", "tools": [{"type": "function", "name": "get"}]}]});
        super::super::request::bridge(body.as_object().cloned().unwrap_or_default(), HostedTools::Warn)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn text_and_calls_become_items_with_usage_details() {
        let completion = json!({"model": "up", "choices": [{"finish_reason": "tool_calls", "message": {"content": "Let me check.",
            "reasoning_content": "hmm", "tool_calls": [{"id": "call_1", "function": {"name": "ns__get", "arguments": ""}}]}}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}});
        let r = from_completion(&completion, "resp_1", 5, &bridged());
        assert_eq!((r["status"].as_str(), r["model"].as_str()), (Some("completed"), Some("up")));
        assert_eq!(
            (r["output"][0]["type"].as_str(), r["output"][0]["content"][0]["text"].as_str()),
            (Some("reasoning"), Some("hmm"))
        );
        assert!(r["output"][0]["encrypted_content"].is_string(), "include asked for it");
        assert_eq!(
            r["output"][1]["content"][0],
            json!({"type": "output_text", "text": "Let me check.", "annotations": [], "logprobs": []})
        );
        let call = &r["output"][2];
        assert_eq!(
            (call["call_id"].as_str(), call["name"].as_str(), call["namespace"].as_str()),
            (Some("call_1"), Some("get"), Some("ns"))
        );
        assert_eq!(call["arguments"], "{}");
        assert_eq!(r["usage"]["input_tokens_details"]["cached_tokens"], 0);
        assert_eq!(r["usage"]["total_tokens"], 18);
        assert_eq!(r["output_text"], "Let me check.");
        assert_eq!(r["output"][1]["status"], "completed", "a finished answer's items are completed");
        let cut = json!({"choices": [{"finish_reason": "length", "message": {"content": "abc"}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4}});
        let r = from_completion(&cut, "resp_2", 5, &bridged());
        assert_eq!(
            (r["status"].as_str(), r["incomplete_details"]["reason"].as_str()),
            (Some("incomplete"), Some("max_output_tokens"))
        );
        assert_eq!(r["output"][0]["status"], "incomplete", "a cut answer's items are incomplete");
        assert_eq!(r["usage"]["total_tokens"], 7, "without a total, input + output");
        let filtered = json!({"choices": [{"finish_reason": "content_filter", "message": {"content": ""}}]});
        let r = from_completion(&filtered, "resp_3", 5, &bridged());
        assert_eq!(
            (r["status"].as_str(), r["incomplete_details"]["reason"].as_str()),
            (Some("incomplete"), Some("content_filter"))
        );
    }
}
