//! §1 EXT "The Anthropic surface" (`POST /v1/messages`, `/v1/messages/count_tokens`), profile
//! `anthropic`: native to an `anthropic/` model (the Anthropic upstream fake) and bridged onto chat
//! completions for an OpenAI-wire model (the provider fake's `auto-…` models) — messages, streams in
//! Anthropic's event order, tools and their results, images, errors in Anthropic's shape with the
//! right status. The `anthropic/` provider behind the other routes is `anthropic_provider`.

use serde_json::{Value, json};

use super::openai_responses::{responses_prompt, upstream_responses};
use crate::case::{Case, Level, Profile};
use crate::checks::{expect_status, sse_events, uuid_like};
use crate::failure::{CaseResult, Failure, ensure, ensure_eq};
use crate::fakes::openai_upstream::{Received, Reply as Upstream, received_containing};
use crate::features::{AUTH_KEY, Feature, SECRET_KEY};
use crate::target::Ctx;
use crate::transport::{Reply, Request};

pub(crate) const NEEDS: &[Feature] = &[Feature::OpenaiProxy, Feature::AnthropicUpstream];
/// A model of the Anthropic upstream fake, and the name it reaches the fake under.
pub(crate) const NATIVE: &str = "anthropic/claude-conf";
/// An OpenAI-wire model (the provider fake's deterministic model).
pub(crate) const BRIDGED: &str = "openai/auto-conf";

pub(crate) const SURFACE: &str =
    "§1 EXT POST /v1/messages — native to an anthropic/ provider, bridged onto chat completions otherwise";
const ERRORS: &str = "§1 EXT POST /v1/messages — errors in Anthropic's shape with the matching status";
const COUNT: &str = "§1 EXT POST /v1/messages/count_tokens — the provider's count, or an estimate that says so";

pub const CASES: &[Case] = &[
    Case::new(
        "anthropic.messages.native",
        Profile::Anthropic,
        Level::Faithful,
        SURFACE,
        "an anthropic/ model: the body reaches the provider's /v1/messages as sent but for the model's prefix, with \
         the server's x-api-key and anthropic-version; its message comes back whole",
        |ctx| Box::pin(native(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "anthropic.messages.native_stream",
        Profile::Anthropic,
        Level::Faithful,
        SURFACE,
        "an anthropic/ model streamed: the provider's events come back as they are, ending with message_stop",
        |ctx| Box::pin(native_stream(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "anthropic.messages.bridged",
        Profile::Anthropic,
        Level::Required,
        SURFACE,
        "an OpenAI-wire model: system and text blocks reach chat completions; the answer is a message with text \
         content, stop_reason end_turn and usage input_tokens/output_tokens — required: Claude Code and the anthropic Python SDK read \
         the answer's content blocks, stop_reason and usage: without them Claude Code shows nothing and never ends its \
         turn",
        |ctx| Box::pin(bridged(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "anthropic.messages.bridged_like_native",
        Profile::Anthropic,
        Level::Recommended,
        SURFACE,
        "a bridged message looks like one of Anthropic's: an id msg_…, stop_sequence present, all four usage counters \
         (the cache ones 0 when chat has none) and the model the client named — no client breaks without them (the \
         anthropic SDK types the id as any string and the cache counters as optional), but tools that log, dedupe by \
         id or sum cache usage read what Anthropic always sends",
        |ctx| Box::pin(bridged_like_native(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "anthropic.messages.bridged_stream",
        Profile::Anthropic,
        Level::Required,
        SURFACE,
        "bridged and streamed: message_start, content_block_start, content_block_delta, content_block_stop, \
         message_delta, message_stop, in that order, the text whole — required: the anthropic Python SDK's \
         `messages.stream` and Claude Code accumulate Anthropic's events in their order: out of order or missing, they \
         raise or lose text",
        |ctx| Box::pin(bridged_stream(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "anthropic.messages.cut_streams",
        Profile::Anthropic,
        Level::Required,
        SURFACE,
        "a stream the provider cuts (bridged: no [DONE]; native: no message_stop) ends with an error event, never with \
         message_stop — required: the anthropic Python SDK and Claude Code take `message_stop` as the end of a turn: a \
         cut stream ended with it is a truncated answer taken as complete",
        |ctx| Box::pin(cut_streams(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "anthropic.messages.bridged_refusals",
        Profile::Anthropic,
        Level::Recommended,
        SURFACE,
        "what a chat provider cannot honour is a 400 invalid_request_error naming the field: a server tool, a document \
         block",
        |ctx| Box::pin(bridged_refusals(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "anthropic.errors.native_statuses",
        Profile::Anthropic,
        Level::Required,
        ERRORS,
        "the provider's 429 (with retry-after), 529 overloaded, 401 and 400 come back with their status and \
         Anthropic's error type — required: the anthropic Python SDK picks \
         `RateLimitError`/`OverloadedError`/`AuthenticationError` from the status and retries 429/529 itself after \
         `retry-after`: another status is mis-raised or retried twice",
        |ctx| Box::pin(native_statuses(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "anthropic.errors.bridged_statuses",
        Profile::Anthropic,
        Level::Required,
        ERRORS,
        "a bridged provider's 429 is a 429 rate_limit_error with retry-after; a body without messages is a 400 \
         invalid_request_error; an unknown provider is a 400 — required: the anthropic Python SDK raises \
         `RateLimitError` and waits `retry-after` only on a 429, `BadRequestError` only on a 400: another status is \
         mis-raised or retried",
        |ctx| Box::pin(bridged_statuses(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "anthropic.auth.key_headers",
        Profile::Anthropic,
        Level::Required,
        "§1 EXT POST /v1/messages — x-api-key and Authorization: Bearer (checked like every key, §11)",
        "the client's key is accepted as x-api-key or Authorization: Bearer; without one, a 401 authentication_error \
         in Anthropic's shape — required: the anthropic Python SDK sends its key as `x-api-key`, Claude Code as \
         `Authorization: Bearer` (ANTHROPIC_AUTH_TOKEN): a gateway taking one locks the other out",
        |ctx| Box::pin(key_headers(ctx)),
    )
    .needs(&[Feature::OpenaiProxy, Feature::AnthropicUpstream, Feature::Auth]),
    Case::new(
        "anthropic.count_tokens",
        Profile::Anthropic,
        Level::Recommended,
        COUNT,
        "an anthropic/ model: the provider's count; an OpenAI-wire model: a positive estimate with \
         x-miniagent-estimate: true",
        |ctx| Box::pin(count_tokens(ctx)),
    )
    .needs(NEEDS),
];

pub(crate) async fn messages(ctx: &Ctx, body: &Value) -> Result<Reply, Failure> {
    ctx.post_json("/v1/messages?beta=true", body).await
}

fn hello(model: &str, marker: &str) -> Value {
    json!({"model": model, "max_tokens": 64, "system": [{"type": "text", "text": "Be brief."}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": format!("Say hello ({marker})")}]}]})
}

/// The text of a system prompt sent as a string or as a list of text blocks; `None` for anything
/// else (absent, or a block that is not text).
pub(crate) fn system_text(system: &Value) -> Option<String> {
    match system {
        Value::String(text) => Some(text.clone()),
        Value::Array(blocks) if !blocks.is_empty() => blocks
            .iter()
            .map(|b| (b["type"] == "text").then(|| b["text"].as_str()).flatten())
            .collect::<Option<Vec<&str>>>()
            .map(|texts| texts.join("\n")),
        _ => None,
    }
}

/// The one request a fake received whose body holds `marker`.
pub(super) async fn one(server: &wiremock::MockServer, marker: &str) -> Result<Received, Failure> {
    let mut got = received_containing(server, marker).await;
    ensure_eq!(got.len(), 1, "requests holding {marker} the provider received");
    got.pop().ok_or_else(|| Failure::failed("no request"))
}

/// An Anthropic error: `{"type":"error","error":{"type","message"}}` with `status` and `kind`.
pub(crate) fn anthropic_error(reply: &Reply, status: u16, kind: &str, what: &str) -> Result<Value, Failure> {
    expect_status(reply, status, what)?;
    let body = reply.json()?;
    ensure!(body["type"] == "error", "{what}: expected {{\"type\":\"error\",…}}, got {body}");
    ensure_eq!(body["error"]["type"].as_str(), Some(kind), "{what}: error.type");
    ensure!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: error.message: {body}");
    Ok(body)
}

fn message_shape(m: &Value, what: &str) -> CaseResult {
    ensure!(m["id"].as_str().is_some_and(|i| i.starts_with("msg_")), "{what}: id msg_…: {m}");
    ensure_eq!((m["type"].as_str(), m["role"].as_str()), (Some("message"), Some("assistant")), "{what}: type, role");
    for key in ["input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"] {
        ensure!(m["usage"][key].is_u64(), "{what}: usage.{key}: {m}");
    }
    ensure!(m.get("stop_sequence").is_some(), "{what}: stop_sequence is present: {m}");
    Ok(())
}

async fn native(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let mut body = hello(NATIVE, &marker);
    body["metadata"] = json!({"user_id": "conf-user"});
    body["unknown_field"] = json!({"kept": true});
    let reply = messages(ctx, &body).await?;
    expect_status(&reply, 200, "native /v1/messages")?;
    let m = reply.json()?;
    message_shape(&m, "native")?;
    ensure_eq!(m["content"], json!([{"type": "text", "text": "Hello from fake"}]), "content");
    ensure_eq!(m["usage"]["cache_read_input_tokens"], json!(3), "the provider's usage, whole");
    let got = one(ctx.fakes()?.anthropic.server(), &marker).await?;
    ensure_eq!(got.path.as_str(), "/v1/messages", "path");
    ensure_eq!(got.header("x-api-key"), Some(SECRET_KEY), "the server's key");
    ensure_eq!(got.header("anthropic-version"), Some("2023-06-01"), "anthropic-version");
    let mut sent = body.clone();
    sent["model"] = json!("claude-conf");
    ensure_eq!(got.body, sent, "the body as sent, model without its prefix");
    Ok(())
}

async fn bridged_like_native(ctx: &Ctx) -> CaseResult {
    let reply = messages(ctx, &hello(BRIDGED, &uuid_like())).await?;
    expect_status(&reply, 200, "bridged /v1/messages")?;
    let m = reply.json()?;
    message_shape(&m, "bridged")?;
    ensure_eq!(m["model"].as_str(), Some(BRIDGED), "the model the client named");
    Ok(())
}

async fn native_stream(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let mut body = hello(NATIVE, &marker);
    body["stream"] = json!(true);
    let reply = messages(ctx, &body).await?;
    expect_status(&reply, 200, "native stream")?;
    let events = sse_events(&reply);
    let names: Vec<&str> = events.iter().filter_map(|(n, _)| n.as_deref()).collect();
    ensure_eq!(names.first().copied(), Some("message_start"), "first event");
    ensure_eq!(names.last().copied(), Some("message_stop"), "last event");
    ensure!(names.contains(&"ping"), "the provider's ping is relayed: {names:?}");
    let text: String = events
        .iter()
        .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
        .filter_map(|d| d.pointer("/delta/text").and_then(Value::as_str).map(str::to_owned))
        .collect();
    ensure_eq!(text.as_str(), "Hello from fake", "the text");
    Ok(())
}

async fn bridged(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let mut body = hello(BRIDGED, &marker);
    body["stop_sequences"] = json!(["STOP"]);
    body["temperature"] = json!(0.3);
    let reply = messages(ctx, &body).await?;
    expect_status(&reply, 200, "bridged /v1/messages")?;
    let m = reply.json()?;
    // What the SDK and Claude Code read: type, role, the content blocks, stop_reason and the two
    // usage counters the SDK types as required. The id (any string to the SDK), the cache counters
    // (optional to it) and stop_sequence are `anthropic.messages.bridged_like_native` (recommended).
    ensure_eq!((m["type"].as_str(), m["role"].as_str()), (Some("message"), Some("assistant")), "type, role");
    ensure_eq!(m["content"], json!([{"type": "text", "text": "Hello from fake"}]), "content");
    ensure_eq!(m["stop_reason"].as_str(), Some("end_turn"), "stop_reason");
    ensure_eq!(
        (m["usage"]["input_tokens"].clone(), m["usage"]["output_tokens"].clone()),
        (json!(10), json!(5)),
        "usage"
    );
    let got = one(ctx.fakes()?.provider.server(), &marker).await?;
    ensure_eq!(got.body["model"].as_str(), Some("auto-conf"), "upstream model");
    if upstream_responses(&got)? {
        // Bridged onto the provider's own `/responses`: `instructions` (or a system item) and
        // `max_output_tokens`; the Responses API has no stop sequences to carry.
        let (system, user) = responses_prompt(&got.body);
        ensure_eq!(system.as_str(), "Be brief.", "the system prompt (instructions or a system item)");
        ensure!(user.contains(&marker), "the user's message in input: {}", got.body["input"]);
        ensure_eq!(
            (got.body["max_output_tokens"].clone(), got.body["temperature"].clone()),
            (json!(64), json!(0.3)),
            "max_output_tokens, temperature"
        );
        return Ok(());
    }
    ensure_eq!(got.body["messages"][0]["role"].as_str(), Some("system"), "the system message");
    // Chat takes a message's content as a string or as text parts, the same prompt either way.
    ensure_eq!(
        system_text(&got.body["messages"][0]["content"]).as_deref(),
        Some("Be brief."),
        "the system prompt (a string or text parts)"
    );
    ensure_eq!(got.body["stop"], json!(["STOP"]), "stop_sequences → stop");
    ensure_eq!(
        (got.body["max_tokens"].clone(), got.body["temperature"].clone()),
        (json!(64), json!(0.3)),
        "max_tokens, temperature"
    );
    Ok(())
}

/// The names of a stream's events, checked to be Anthropic's order, and the text of its deltas.
pub(crate) fn event_order(reply: &Reply) -> Result<(Vec<String>, String, Vec<Value>), Failure> {
    let events = sse_events(reply);
    let mut names = Vec::new();
    let mut text = String::new();
    let mut data = Vec::new();
    for (name, d) in &events {
        let value: Value =
            serde_json::from_str(d).map_err(|e| Failure::failed(format!("an event is not JSON ({e}): {d}")))?;
        let name = name.clone().unwrap_or_default();
        ensure_eq!(value["type"].as_str(), Some(name.as_str()), "each event is named by its type");
        if name == "ping" {
            continue;
        }
        text.push_str(value.pointer("/delta/text").and_then(Value::as_str).unwrap_or_default());
        names.push(name);
        data.push(value);
    }
    ensure_eq!(names.first().map(String::as_str), Some("message_start"), "first event");
    ensure_eq!(names.last().map(String::as_str), Some("message_stop"), "last event");
    ensure_eq!(
        names.get(names.len().saturating_sub(2)).map(String::as_str),
        Some("message_delta"),
        "before message_stop"
    );
    let mut open = false;
    for n in &names[1..names.len().saturating_sub(2)] {
        match n.as_str() {
            "content_block_start" => {
                ensure!(!open, "a block starts while another is open: {names:?}");
                open = true;
            }
            "content_block_delta" => ensure!(open, "a delta outside a block: {names:?}"),
            "content_block_stop" => {
                ensure!(open, "a stop without a start: {names:?}");
                open = false;
            }
            other => return Err(Failure::failed(format!("unexpected `{other}` between blocks: {names:?}"))),
        }
    }
    ensure!(!open, "a block left open: {names:?}");
    Ok((names, text, data))
}

async fn bridged_stream(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let mut body = hello(BRIDGED, &marker);
    body["stream"] = json!(true);
    let reply = messages(ctx, &body).await?;
    expect_status(&reply, 200, "bridged stream")?;
    ensure!(reply.content_type().starts_with("text/event-stream"), "content-type: {}", reply.content_type());
    let (_, text, data) = event_order(&reply)?;
    ensure_eq!(text.as_str(), "Hello from fake", "the text");
    let delta = data.iter().find(|d| d["type"] == "message_delta").cloned().unwrap_or_default();
    ensure_eq!(delta["delta"]["stop_reason"].as_str(), Some("end_turn"), "stop_reason");
    ensure_eq!(delta["usage"]["output_tokens"], json!(5), "usage at the end");
    Ok(())
}

async fn bridged_refusals(ctx: &Ctx) -> CaseResult {
    let user = json!([{"role": "user", "content": "hi"}]);
    let cases = [
        (
            json!({"model": BRIDGED, "max_tokens": 8, "messages": user, "tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
            "tools[0].type",
        ),
        (
            json!({"model": BRIDGED, "max_tokens": 8, "messages": [{"role": "user", "content": [{"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}}]}]}),
            "messages[0].content[0].type",
        ),
    ];
    for (body, field) in cases {
        let reply = messages(ctx, &body).await?;
        let e = anthropic_error(&reply, 400, "invalid_request_error", field)?;
        ensure!(e["error"]["message"].as_str().unwrap_or_default().contains(field), "the message names `{field}`: {e}");
    }
    Ok(())
}

async fn native_statuses(ctx: &Ctx) -> CaseResult {
    for (model, status, kind) in [
        ("anthropic/claude-err429", 429, "rate_limit_error"),
        ("anthropic/claude-err529", 529, "overloaded_error"),
        ("anthropic/claude-err401", 401, "authentication_error"),
        ("anthropic/claude-err400", 400, "invalid_request_error"),
    ] {
        let reply = messages(ctx, &hello(model, &uuid_like())).await?;
        anthropic_error(&reply, status, kind, model)?;
        if status == 429 {
            ensure_eq!(reply.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("7"), "retry-after");
        }
    }
    ensure_eq!(
        received_containing(ctx.fakes()?.anthropic.server(), "claude-err429").await.len(),
        1,
        "a 429 is not retried"
    );
    Ok(())
}

async fn bridged_statuses(ctx: &Ctx) -> CaseResult {
    let reply = messages(ctx, &hello("openai/auto-err429", &uuid_like())).await?;
    anthropic_error(&reply, 429, "rate_limit_error", "bridged 429")?;
    ensure_eq!(reply.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("7"), "retry-after");
    let reply = messages(ctx, &json!({"model": BRIDGED, "max_tokens": 8})).await?;
    anthropic_error(&reply, 400, "invalid_request_error", "no messages")?;
    let reply = messages(ctx, &hello("nosuchprovider/x", &uuid_like())).await?;
    anthropic_error(&reply, 400, "invalid_request_error", "an unknown provider")?;
    Ok(())
}

async fn count_tokens(ctx: &Ctx) -> CaseResult {
    let body =
        |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "How many tokens is this?"}]});
    let reply = ctx.post_json("/v1/messages/count_tokens", &body(NATIVE)).await?;
    expect_status(&reply, 200, "native count")?;
    // The count a client reads; fields a gateway adds beside it (LiteLLM's `litellm_count_source`)
    // break no client.
    ensure_eq!(reply.json()?["input_tokens"], json!(42), "the provider's count");
    ensure!(reply.headers.get("x-miniagent-estimate").is_none(), "the provider's count is no estimate");
    let reply = ctx.post_json("/v1/messages/count_tokens", &body(BRIDGED)).await?;
    expect_status(&reply, 200, "estimated count")?;
    ensure!(reply.json()?["input_tokens"].as_u64().is_some_and(|n| n > 0), "a positive estimate: {}", reply.text());
    ensure_eq!(
        reply.headers.get("x-miniagent-estimate").and_then(|v| v.to_str().ok()),
        Some("true"),
        "says it is an estimate"
    );
    Ok(())
}

async fn key_headers(ctx: &Ctx) -> CaseResult {
    let body = hello(BRIDGED, &uuid_like());
    let reply = ctx.request(Request::post_json("/v1/messages", &body).without_key()).await?;
    anthropic_error(&reply, 401, "authentication_error", "no key")?;
    let reply =
        ctx.request(Request::post_json("/v1/messages", &body).without_key().header("x-api-key", "sk-wrong")).await?;
    anthropic_error(&reply, 401, "authentication_error", "a wrong x-api-key")?;
    let reply =
        ctx.request(Request::post_json("/v1/messages", &body).without_key().header("x-api-key", AUTH_KEY)).await?;
    expect_status(&reply, 200, "the key as x-api-key")?;
    let reply = messages(ctx, &body).await?;
    expect_status(&reply, 200, "the key as Authorization: Bearer")?;
    Ok(())
}

async fn cut_streams(ctx: &Ctx) -> CaseResult {
    let chunk = json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": null}]});
    let text = format!("{} {}", uuid_like(), Upstream::events(vec![chunk]).cut().marker());
    let bridged = json!({"model": "openai/conformance-upstream-1", "max_tokens": 16, "stream": true,
        "messages": [{"role": "user", "content": text}]});
    let native = json!({"model": "anthropic/claude-cut", "max_tokens": 16, "stream": true,
        "messages": [{"role": "user", "content": format!("Say hello ({})", uuid_like())}]});
    for (what, body) in [("bridged", bridged), ("native", native)] {
        let reply = messages(ctx, &body).await?;
        expect_status(&reply, 200, what)?;
        let events = sse_events(&reply);
        let names: Vec<&str> = events.iter().filter_map(|(n, _)| n.as_deref()).collect();
        ensure_eq!(names.last().copied(), Some("error"), "{what}: the last event");
        ensure!(!names.contains(&"message_stop"), "{what}: no message_stop after a cut: {names:?}");
        let last: Value = serde_json::from_str(&events.last().map(|(_, d)| d.clone()).unwrap_or_default())
            .map_err(|e| Failure::failed(format!("{what}: the error event is not JSON: {e}")))?;
        ensure_eq!(last["type"].as_str(), Some("error"), "{what}: error event type");
        ensure!(last["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: a message: {last}");
    }
    Ok(())
}
