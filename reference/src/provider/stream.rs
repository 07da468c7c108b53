//! Streaming chat completions: an upstream's server-sent events as a stream of chunk objects, and
//! the aggregation of chunks back into one completion.
//!
//! Chunks are yielded as they arrive (nothing is buffered beyond one SSE event), so a proxy built
//! on this keeps the upstream's time to first token. Retries happen only before the first byte of
//! the body — once a stream has started, a failure is reported in it, never replayed.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use serde_json::{Map, Value, json};

use super::chat::ChatRequest;
use super::dummy;
use super::error::ProviderError;
use super::kind::ProviderKind;
use super::openai::{self, excerpt};
use super::route::Route;
use crate::provider::chat::first_choice;
use crate::transport::retry;

/// Chunks of one streamed completion (`chat.completion.chunk` objects).
pub(crate) type ChunkStream = Pin<Box<dyn Stream<Item = Result<Value, ProviderError>> + Send>>;

/// Opens a streaming completion on `route`. Connection failures, 5xx and 429 before the stream
/// starts are retried per the route's policy; once it has started, a failure is reported in it.
pub(crate) async fn open(
    http: &reqwest::Client,
    route: &Route,
    request: &ChatRequest<'_>,
    limits: &openai::CallLimits,
) -> (Result<ChunkStream, ProviderError>, retry::RetryStats) {
    if route.kind == ProviderKind::Dummy {
        let chunks = split_into_chunks(&dummy::complete(&route.upstream_model));
        let stream: ChunkStream = Box::pin(futures::stream::iter(chunks.into_iter().map(Ok)));
        return (Ok(stream), retry::RetryStats::default());
    }
    let body = request.body(&route.upstream_model, true);
    let max = limits.max_reply_bytes;
    let attempt = |_| super::wire::post(http, None, route, &body, &request.extra_headers, None, max);
    let (response, stats) = retry::drive(&route.retry, attempt, openai::classify).await;
    (response.map(|r| chunks_of(r, route.kind, limits)), stats)
}

/// The body's bytes, ending in an error once more than `max` have arrived (a provider cannot make
/// one stream grow without bound).
fn capped(
    response: reqwest::Response,
    max: usize,
) -> impl Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    let mut seen = 0usize;
    response.bytes_stream().map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        seen += chunk.len();
        if seen > max {
            return Err(std::io::Error::other(format!(
                "the stream is larger than {max} bytes (MINI_AGENT_PROVIDER_MAX_BYTES)"
            )));
        }
        Ok(chunk)
    })
}

/// The SSE body as chunk objects; ends at `data: [DONE]` or the end of the body. A gap longer than
/// `idle` between events ends the stream with an error rather than hanging forever.
fn chunks_of(response: reqwest::Response, provider: ProviderKind, limits: &openai::CallLimits) -> ChunkStream {
    let idle = limits.timeout;
    let events = sse_stream::SseStream::from_bytes_stream(capped(response, limits.max_reply_bytes));
    let stream = futures::stream::unfold((Box::pin(events), false), move |(mut events, finished)| async move {
        if finished {
            return None;
        }
        loop {
            let next = match tokio::time::timeout(idle, events.next()).await {
                Err(_) => {
                    let e = ProviderError::InvalidResponse {
                        provider,
                        reason: format!("the stream went silent for {idle:?}"),
                    };
                    return Some((Err(e), (events, true)));
                }
                Ok(next) => next,
            };
            match next {
                None => return None,
                Some(Err(e)) => {
                    let e = ProviderError::InvalidResponse { provider, reason: format!("the event stream broke: {e}") };
                    return Some((Err(e), (events, true)));
                }
                Some(Ok(event)) => {
                    let Some(data) = event.data else { continue };
                    let data = crate::secret::redact(data.trim());
                    let data = data.as_ref();
                    if data.is_empty() {
                        continue;
                    }
                    if data == "[DONE]" {
                        return None;
                    }
                    return match serde_json::from_str::<Value>(data) {
                        Ok(chunk) if chunk.get("error").is_some() => {
                            let reason =
                                format!("the provider reported an error mid-stream: {}", excerpt(data.as_bytes()));
                            Some((Err(ProviderError::InvalidResponse { provider, reason }), (events, true)))
                        }
                        Ok(chunk) => Some((Ok(chunk), (events, false))),
                        Err(e) => {
                            let reason = format!("an event is not JSON ({e}): {}", excerpt(data.as_bytes()));
                            Some((Err(ProviderError::InvalidResponse { provider, reason }), (events, true)))
                        }
                    };
                }
            }
        }
    });
    Box::pin(stream)
}

/// A whole completion as the chunks a streaming provider would have sent.
pub(crate) fn split_into_chunks(completion: &Value) -> Vec<Value> {
    let base = |choices: Value| {
        json!({
            "id": completion.get("id").cloned().unwrap_or(Value::Null),
            "object": "chat.completion.chunk",
            "created": completion.get("created").cloned().unwrap_or(json!(0)),
            "model": completion.get("model").cloned().unwrap_or(Value::Null),
            "choices": choices,
        })
    };
    let message = first_choice(completion).and_then(|c| c.get("message")).cloned().unwrap_or_else(|| json!({}));
    let finish = first_choice(completion).and_then(|c| c.get("finish_reason")).cloned().unwrap_or(json!("stop"));
    let mut out =
        vec![base(json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]))];
    if let Some(content) = message.get("content").and_then(Value::as_str).filter(|c| !c.is_empty()) {
        out.push(base(json!([{"index": 0, "delta": {"content": content}, "finish_reason": null}])));
    }
    if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
        let deltas: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, c)| json!({"index": i, "id": c.get("id"), "type": "function", "function": c.get("function")}))
            .collect();
        out.push(base(json!([{"index": 0, "delta": {"tool_calls": deltas}, "finish_reason": null}])));
    }
    out.push(base(json!([{"index": 0, "delta": {}, "finish_reason": finish}])));
    out
}

/// Chunks folded back into one `chat.completion`: content concatenated, tool-call fragments merged
/// by `index`, the last finish reason, the usage chunk's usage.
pub fn aggregate(chunks: &[Value]) -> Value {
    let first = chunks.first().cloned().unwrap_or_else(|| json!({}));
    let mut content = String::new();
    let mut finish = Value::Null;
    let mut usage = Value::Null;
    let mut calls: Vec<Map<String, Value>> = Vec::new();
    for chunk in chunks {
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            usage = u.clone();
        }
        let Some(choice) = first_choice(chunk) else { continue };
        if let Some(t) = choice.pointer("/delta/content").and_then(Value::as_str) {
            content.push_str(t);
        }
        if let Some(f) = choice.get("finish_reason").filter(|f| !f.is_null()) {
            finish = f.clone();
        }
        for frag in choice.pointer("/delta/tool_calls").and_then(Value::as_array).into_iter().flatten() {
            let i = frag.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
            while calls.len() <= i {
                calls.push(Map::new());
            }
            let call = &mut calls[i];
            for key in ["id", "type"] {
                if let Some(v) = frag.get(key).filter(|v| !v.is_null()) {
                    call.insert(key.into(), v.clone());
                }
            }
            let function = call.entry("function").or_insert_with(|| json!({"name": "", "arguments": ""}));
            for key in ["name", "arguments"] {
                if let Some(piece) = frag.pointer(&format!("/function/{key}")).and_then(Value::as_str) {
                    let existing = function.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
                    function[key] = Value::String(existing + piece);
                }
            }
        }
    }
    let mut message = json!({"role": "assistant", "content": content});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls.into_iter().map(Value::Object).collect());
    }
    let mut out = json!({
        "id": first.get("id").cloned().unwrap_or(Value::Null),
        "object": "chat.completion",
        "created": first.get("created").cloned().unwrap_or(json!(0)),
        "model": first.get("model").cloned().unwrap_or(Value::Null),
        "choices": [{"index": 0, "message": message, "finish_reason": if finish.is_null() { json!("stop") } else { finish }}],
    });
    if !usage.is_null() {
        out["usage"] = usage;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregation_merges_content_and_tool_call_fragments() {
        let chunks = vec![
            json!({"id": "c1", "created": 5, "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]}),
            json!({"id": "c1", "choices": [{"index": 0, "delta": {"content": "lo"}}]}),
            json!({"id": "c1", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "t0", "type": "function", "function": {"name": "ec", "arguments": "{\"a\""}}]}}]}),
            json!({"id": "c1", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"name": "ho", "arguments": ":1}"}}, {"index": 1, "id": "t1", "function": {"name": "x", "arguments": "{}"}}]}}]}),
            json!({"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
            json!({"id": "c1", "choices": [], "usage": {"total_tokens": 9}}),
        ];
        let done = aggregate(&chunks);
        assert_eq!(done["choices"][0]["message"]["content"], "Hello");
        assert_eq!(
            done["choices"][0]["message"]["tool_calls"][0]["function"],
            json!({"name": "echo", "arguments": "{\"a\":1}"})
        );
        assert_eq!(done["choices"][0]["message"]["tool_calls"][1]["id"], "t1");
        assert_eq!(done["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(done["usage"]["total_tokens"], 9);
        assert_eq!((done["id"].clone(), done["created"].clone()), (json!("c1"), json!(5)));
    }

    #[test]
    fn a_completion_splits_and_reassembles() {
        let done = dummy::complete("dummy");
        let again = aggregate(&split_into_chunks(&done));
        assert_eq!(again["choices"][0]["message"]["content"], done["choices"][0]["message"]["content"]);
    }
}
