//! §1 The OpenAI surface in proxy mode (profile `openai`), what the provider says besides a plain
//! answer: streams relayed event by event, streams cut short or not streams at all, the provider's
//! own 4xx/429 passed back with their status and `Retry-After` (and never retried), 5xx and a
//! provider that sends nothing.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::openai::{UPSTREAM_MODEL, chat_body, completion, one_request, weather_tool};
use crate::case::{Case, Level, Profile};
use crate::checks::{expect_status, openai_error, sse_events, uuid_like};
use crate::failure::{CaseResult, Failure, ensure, ensure_eq};
use crate::fakes::openai_upstream::{Reply as Upstream, received_containing};
use crate::features::Feature;
use crate::target::Ctx;
use crate::transport::Reply;

const STREAM: &str = "§1 POST /v1/chat/completions — stream:true relayed; a cut stream ends with an error event";
const STATUS: &str =
    "§1 OpenAI surface — a provider's 4xx/429 comes back with its status and Retry-After, never retried";
const FAILED: &str = "§1 OpenAI surface — a provider that fails (5xx) or sends no head in time is a 502/504";
const NEEDS: &[Feature] = &[Feature::OpenaiProxy];

pub const CASES: &[Case] = &[
    Case::new(
        "openai.stream.relayed",
        Profile::Openai,
        Level::Faithful,
        STREAM,
        "stream:true answers the provider's chunks as they came (text, tool-call pieces, the usage chunk), then \
         [DONE]",
        |ctx| Box::pin(relayed(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.stream.assembled",
        Profile::Openai,
        Level::Required,
        STREAM,
        "a stream's text, a tool call split over several deltas, the finish reason and the usage chunk assemble into \
         what the provider sent, then [DONE] — required: the openai Python SDK (and langchain-openai, the Agents SDK) \
         joins a tool call's `arguments` from its pieces by `index`, taking `id` and `name` from the first: a gateway \
         that drops a piece, or the connection on a delta without `name`, leaves the tool uncallable; without the \
         usage chunk the tokens go uncounted",
        |ctx| Box::pin(assembled(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.stream.cut",
        Profile::Openai,
        Level::Required,
        STREAM,
        "a provider stream that ends without [DONE] ends with an error event, never [DONE] — required: the openai \
         Python SDK stops at `[DONE]` without error: a cut stream ended with `[DONE]` is a truncated answer taken as \
         complete",
        |ctx| Box::pin(cut(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.stream.not_sse",
        Profile::Openai,
        Level::Required,
        STREAM,
        "a 2xx that is not an event stream ends with an error event, never [DONE] — required: the openai Python SDK \
         reads an event stream: a JSON body ended with `[DONE]` is an empty answer taken as complete",
        |ctx| Box::pin(not_sse(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.stream.error_before_head",
        Profile::Openai,
        Level::Required,
        STATUS,
        "a provider error before the stream started is a real HTTP error, not a 200 stream — required: the openai \
         Python SDK raises and retries on the HTTP status: an error inside a 200 stream is never retried and loses its \
         status",
        |ctx| Box::pin(error_before_head(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.status.400",
        Profile::Openai,
        Level::Required,
        STATUS,
        "a provider 400 comes back as 400 with its error, after one provider call — required: the openai Python SDK \
         picks its exception from the status (`BadRequestError`) and retries 5xx: a 400 made a 5xx is retried and \
         mis-raised",
        |ctx| Box::pin(passed_through(ctx, 400, "invalid_request_error", None)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.status.401",
        Profile::Openai,
        Level::Required,
        STATUS,
        "a provider 401 comes back as 401 with its error, after one provider call — required: the openai Python SDK \
         raises `AuthenticationError` on 401 only: another status is retried or mis-raised",
        |ctx| Box::pin(passed_through(ctx, 401, "authentication_error", None)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.status.404",
        Profile::Openai,
        Level::Required,
        STATUS,
        "a provider 404 comes back as 404 with its error, after one provider call — required: the openai Python SDK \
         raises `NotFoundError` on 404 only (litellm maps it to its own): another status is retried or mis-raised",
        |ctx| Box::pin(passed_through(ctx, 404, "invalid_request_error", None)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.status.429",
        Profile::Openai,
        Level::Required,
        STATUS,
        "a provider 429 comes back as 429 with its error and Retry-After, after one provider call — required: the \
         openai Python SDK retries a 429 itself, honouring `Retry-After`: a gateway that retries too stacks both \
         (LiteLLM's proxy held one 22 s)",
        |ctx| Box::pin(passed_through(ctx, 429, "rate_limit_error", Some("7"))),
    )
    .needs(NEEDS),
    Case::new(
        "openai.status.5xx",
        Profile::Openai,
        Level::Recommended,
        FAILED,
        "a provider 500 (after any retries) is an OpenAI-shaped 502",
        |ctx| Box::pin(server_error(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.status.no_head",
        Profile::Openai,
        Level::Recommended,
        FAILED,
        "a provider that sends no head within the provider timeout is an OpenAI-shaped 504, streamed or not",
        |ctx| Box::pin(no_head(ctx)),
    )
    .needs(&[Feature::OpenaiProxy, Feature::ProviderTimeout]),
];

/// A streamed chat request (usage asked for) whose provider answers `upstream`.
fn stream_body(marker: &str, upstream: &Upstream) -> Value {
    let mut body = chat_body(marker, upstream);
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    body["tools"] = json!([weather_tool()]);
    body
}

fn chunk(delta: Value, finish: Value) -> Value {
    json!({"id": "chatcmpl-stream", "object": "chat.completion.chunk", "created": 1_700_000_123, "model": UPSTREAM_MODEL,
           "system_fingerprint": "fp_stream", "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}]})
}

/// Text, then a tool call in pieces, the finish, and the usage chunk.
fn chunks() -> Vec<Value> {
    vec![
        chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        chunk(json!({"content": "Let me "}), Value::Null),
        chunk(json!({"content": "check."}), Value::Null),
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_s", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
            Value::Null,
        ),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}), Value::Null),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}), Value::Null),
        chunk(json!({}), json!("tool_calls")),
        json!({"id": "chatcmpl-stream", "object": "chat.completion.chunk", "created": 1_700_000_123, "model": UPSTREAM_MODEL,
               "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}),
    ]
}

/// A 200 event stream's `data` payloads.
fn stream_data(reply: &Reply, what: &str) -> Result<Vec<String>, Failure> {
    expect_status(reply, 200, what)?;
    ensure!(
        reply.content_type().starts_with("text/event-stream"),
        "{what}: content-type should be text/event-stream, got {:?}",
        reply.content_type()
    );
    Ok(sse_events(reply).into_iter().map(|(_, data)| data).collect())
}

/// The stream ends with an OpenAI-shaped error event and has no `[DONE]`.
fn ends_with_error(data: &[String], what: &str) -> CaseResult {
    ensure!(!data.iter().any(|d| d.trim() == "[DONE]"), "{what}: a [DONE] hides the failure: {data:?}");
    let last: Value = data
        .last()
        .and_then(|d| serde_json::from_str(d).ok())
        .ok_or_else(|| Failure::failed(format!("{what}: the last event is not JSON: {data:?}")))?;
    ensure!(
        last.pointer("/error/message").and_then(Value::as_str).is_some_and(|m| !m.trim().is_empty()),
        "{what}: the last event should be {{\"error\":{{\"message\":…}}}}, got {last}"
    );
    Ok(())
}

/// `sent` streamed by the provider for a request marked `marker`: the chunks the client got before
/// the `[DONE]` that must end them.
async fn streamed(ctx: &Ctx, marker: &str, sent: &[Value]) -> Result<Vec<Value>, Failure> {
    let reply = ctx.post_json("/v1/chat/completions", &stream_body(marker, &Upstream::events(sent.to_vec()))).await?;
    let data = stream_data(&reply, "a streamed completion")?;
    ensure_eq!(data.last().map(String::as_str), Some("[DONE]"), "the last event");
    json_events(&data[..data.len() - 1])
}

async fn relayed(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let sent = chunks();
    let got = streamed(ctx, &marker, &sent).await?;
    ensure_eq!(got, sent, "the chunks the client got");
    let request = one_request(ctx, &marker).await?;
    ensure_eq!(request.body["stream"], json!(true), "stream, as the provider saw it");
    ensure_eq!(
        request.body["stream_options"],
        json!({"include_usage": true}),
        "stream_options, as the provider saw it"
    );
    Ok(())
}

async fn cut(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let sent = chunks()[..3].to_vec();
    let reply =
        ctx.post_json("/v1/chat/completions", &stream_body(&marker, &Upstream::events(sent.clone()).cut())).await?;
    let data = stream_data(&reply, "a stream the provider cut")?;
    ends_with_error(&data, "a stream the provider cut")?;
    // What the client reads of the chunks is what they assemble into (the text so far); a chunk
    // passed whole is `openai.stream.relayed` (faithful).
    let got = json_events(&data[..data.len() - 1])?;
    ensure_eq!(Assembled::of(&got), Assembled::of(&sent), "what the chunks before the error assemble into");
    Ok(())
}

async fn assembled(ctx: &Ctx) -> CaseResult {
    let sent = chunks();
    let got = streamed(ctx, &uuid_like(), &sent).await?;
    ensure_eq!(
        Assembled::of(&got),
        Assembled::of(&sent),
        "what the chunks assemble into, as the openai SDK joins them"
    );
    Ok(())
}

/// Each event's JSON.
fn json_events(data: &[String]) -> Result<Vec<Value>, Failure> {
    data.iter()
        .map(|d| serde_json::from_str(d).map_err(|e| Failure::failed(format!("an event is not JSON ({e}): {d}"))))
        .collect()
}

/// What a client makes of a stream's chunks, as the openai Python SDK's stream accumulator does:
/// the text joined, each tool call (by `index`) with the `id`, `type` and `name` its deltas carried
/// and its `arguments` joined, the last finish reason, and the usage chunk. Fields a client does
/// not read (a chunk's `object`, a `null` it leaves out) do not count.
#[derive(Debug, Default, PartialEq)]
struct Assembled {
    content: String,
    tool_calls: std::collections::BTreeMap<u64, [String; 4]>,
    finish_reason: Option<String>,
    usage: Option<Value>,
}

impl Assembled {
    fn of(chunks: &[Value]) -> Self {
        let mut out = Self::default();
        for chunk in chunks {
            if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
                out.usage = Some(usage.clone());
            }
            let Some(choice) = chunk.pointer("/choices/0") else { continue };
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                out.finish_reason = Some(reason.to_owned());
            }
            let delta = &choice["delta"];
            out.content.push_str(delta["content"].as_str().unwrap_or_default());
            for call in delta["tool_calls"].as_array().into_iter().flatten() {
                let entry = out.tool_calls.entry(call["index"].as_u64().unwrap_or_default()).or_default();
                for (slot, pointer) in [(0, "/id"), (1, "/type"), (2, "/function/name")] {
                    if let Some(value) = call.pointer(pointer).and_then(Value::as_str).filter(|v| !v.is_empty()) {
                        value.clone_into(&mut entry[slot]);
                    }
                }
                entry[3].push_str(call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or_default());
            }
        }
        out
    }
}

async fn not_sse(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let reply =
        ctx.post_json("/v1/chat/completions", &stream_body(&marker, &Upstream::json(completion("whole")))).await?;
    let data = stream_data(&reply, "a stream request answered with JSON")?;
    ends_with_error(&data, "a stream request answered with JSON")
}

async fn error_before_head(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let upstream = Upstream::error(429, "slow down (conformance)", "rate_limit_error", "rate_limit_exceeded")
        .header("retry-after", "7");
    let reply = ctx.post_json("/v1/chat/completions", &stream_body(&marker, &upstream)).await?;
    let error = openai_error(&reply, 429, "a stream whose provider answered 429")?;
    ensure_eq!(error["message"].as_str(), Some("slow down (conformance)"), "the provider's message");
    ensure_eq!(header(&reply, "retry-after").as_deref(), Some("7"), "Retry-After");
    one_request(ctx, &marker).await?;
    Ok(())
}

fn header(reply: &Reply, name: &str) -> Option<String> {
    reply.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

async fn passed_through(ctx: &Ctx, status: u16, kind: &str, retry_after: Option<&str>) -> CaseResult {
    let marker = uuid_like();
    let message = format!("provider says {status} (conformance)");
    let code = format!("conformance_{status}");
    let mut upstream = Upstream::error(status, &message, kind, &code);
    if let Some(secs) = retry_after {
        upstream = upstream.header("retry-after", secs);
    }
    let reply = ctx.post_json("/v1/chat/completions", &chat_body(&marker, &upstream)).await?;
    let error = openai_error(&reply, status, &format!("a provider {status}"))?;
    ensure_eq!(
        (error["message"].as_str(), error["type"].as_str(), error["code"].as_str()),
        (Some(message.as_str()), Some(kind), Some(code.as_str())),
        "the provider's error (message, type, code)"
    );
    if let Some(secs) = retry_after {
        ensure_eq!(header(&reply, "retry-after").as_deref(), Some(secs), "Retry-After");
    }
    // Exactly one call: a 4xx is the client's to handle, and its SDK decides about a 429.
    one_request(ctx, &marker).await?;
    Ok(())
}

async fn server_error(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let upstream = Upstream::error(500, "the provider broke (conformance)", "server_error", "boom");
    let reply = ctx.post_json("/v1/chat/completions", &chat_body(&marker, &upstream)).await?;
    openai_error(&reply, 502, "a provider 500")?;
    let calls = received_containing(ctx.fakes()?.provider.server(), &marker).await.len();
    ensure!(calls >= 1, "the provider was never called");
    Ok(())
}

async fn no_head(ctx: &Ctx) -> CaseResult {
    // The target's provider timeout is 1 s (`provider-timeout`); the provider holds its head back 3 s.
    for stream in [false, true] {
        let marker = uuid_like();
        let mut body = chat_body(&marker, &Upstream::events(chunks()).delayed(3000));
        if stream {
            body["stream"] = json!(true);
        }
        let started = Instant::now();
        let reply = ctx.post_json("/v1/chat/completions", &body).await?;
        let what = if stream { "a stream whose provider is silent" } else { "a completion whose provider is silent" };
        openai_error(&reply, 504, what)?;
        ensure!(started.elapsed() < Duration::from_millis(2900), "{what}: the 504 took {:?}", started.elapsed());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a client assembles ignores what it does not read, and sees what it does.
    #[test]
    fn assembly_sees_a_lost_piece_but_not_a_left_out_null() {
        let sent = chunks();
        let want = Assembled::of(&sent);
        assert_eq!(want.content, "Let me check.");
        assert_eq!(want.tool_calls[&0], ["call_s", "function", "get_weather", r#"{"city":"Paris"}"#].map(String::from));
        assert_eq!((want.finish_reason.as_deref(), want.usage.is_some()), (Some("tool_calls"), true));
        // Rebuilt chunks without `object`, `logprobs: null` or `finish_reason: null` assemble the same.
        let mut lean = sent.clone();
        for chunk in &mut lean {
            chunk.as_object_mut().map(|c| c.remove("object"));
            if let Some(choice) = chunk.pointer_mut("/choices/0").and_then(Value::as_object_mut) {
                choice.remove("logprobs");
                choice.retain(|_, v| !v.is_null());
            }
        }
        assert_eq!(Assembled::of(&lean), want);
        // A lost arguments piece, a lost usage chunk or a lost text piece does not.
        for lost in [5, 7, 1] {
            let mut short = sent.clone();
            short.remove(lost);
            assert_ne!(Assembled::of(&short), want, "without chunk {lost}");
        }
    }
}
