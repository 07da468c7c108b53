//! §5 EXT "Providers that do not speak OpenAI's wire", profile `anthropic`: an `anthropic/<model>`
//! behind the OpenAI surface and the agent — chat completions translated to Anthropic's Messages API
//! (system, tools, tool results, `max_tokens` default, `response_format` as a forced tool) and back
//! (choices with `tool_calls`, `finish_reason` from `stop_reason`, usage with the cache figures),
//! streams converted chunk by chunk, errors in OpenAI's shape with the provider's status (529 → 503,
//! 429 with `retry-after`), on `/v1/chat/completions`, `/v1/responses` and `/agent/run`.

use serde_json::{Value, json};

use super::anthropic::{NATIVE, NEEDS, system_text};
use super::openai_responses::message_text;
use crate::case::{Case, Level, Profile};
use crate::checks::{expect_status, openai_error, sse_events, uuid_like};
use crate::failure::{CaseResult, Failure, ensure, ensure_eq};
use crate::fakes::openai_upstream::{Received, received_containing};
use crate::features::SECRET_KEY;
use crate::target::Ctx;

const CLAUSE: &str = "§5 EXT Providers that do not speak OpenAI's wire — anthropic/<model>";

pub const CASES: &[Case] = &[
    Case::new(
        "anthropic.provider.chat",
        Profile::Anthropic,
        Level::Required,
        CLAUSE,
        "a chat completion on anthropic/…: the request translated (system, tools, tool_choice, stop, max_tokens \
         default 4096, x-api-key), the answer an OpenAI completion with tool_calls, finish_reason and usage with cache \
         tokens — required: the openai Python SDK and langchain-openai read choices, tool_calls, finish_reason and \
         usage: an answer not translated from Anthropic's has none (and Anthropic refuses a request without \
         max_tokens)",
        |ctx| Box::pin(chat(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "anthropic.provider.tool_round_trip",
        Profile::Anthropic,
        Level::Required,
        CLAUSE,
        "an assistant tool call and its tool message become tool_use and tool_result blocks in alternating turns — \
         required: openai-agents and langchain-openai send tool messages after a tool call: untranslated to tool_result \
         blocks, Anthropic answers 400 and the agent loop stops",
        |ctx| Box::pin(tool_round_trip(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "anthropic.provider.chat_stream",
        Profile::Anthropic,
        Level::Required,
        CLAUSE,
        "streamed: chat.completion.chunk events converted from Anthropic's events (text, then tool-call arguments), \
         the usage chunk when asked, data: [DONE] — required: the openai Python SDK's stream reads \
         `chat.completion.chunk` events until `[DONE]`: Anthropic's events passed as they are parse as nothing",
        |ctx| Box::pin(chat_stream(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "anthropic.provider.json_schema",
        Profile::Anthropic,
        Level::Required,
        CLAUSE,
        "response_format json_schema becomes a forced tool; its input is the message content, finish_reason stop — \
         required: openai-agents' `output_type` is a json_schema response_format: dropped, the answer is free text its \
         parser rejects",
        |ctx| Box::pin(json_schema(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "anthropic.provider.errors",
        Profile::Anthropic,
        Level::Required,
        CLAUSE,
        "the provider's 429 (retry-after kept), 529 (→ 503 overloaded_error), 401 and 400 in OpenAI's shape with the \
         provider's status — required: the openai Python SDK picks its exception from the status and retries 429 and \
         5xx: Anthropic's 529 must arrive as a retryable 503, a 429 with its `retry-after`",
        |ctx| Box::pin(errors(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "anthropic.provider.other_routes",
        Profile::Anthropic,
        Level::Recommended,
        CLAUSE,
        "/v1/responses (bridged) answers from an anthropic/ model: the text in its message item's output_text \
         content",
        |ctx| Box::pin(other_routes(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "anthropic.provider.agent_run",
        Profile::Anthropic,
        Level::Recommended,
        CLAUSE,
        "/agent/run answers from an anthropic/ model, its call on Anthropic's wire (skipped when the target has no \
         /agent/run)",
        |ctx| Box::pin(agent_run(ctx)),
    )
    .needs(NEEDS),
];

async fn one(ctx: &Ctx, marker: &str) -> Result<Received, Failure> {
    let mut got = received_containing(ctx.fakes()?.anthropic.server(), marker).await;
    ensure_eq!(got.len(), 1, "requests holding {marker} the Anthropic fake received");
    got.pop().ok_or_else(|| Failure::failed("no request"))
}

fn weather() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])
}

async fn chat(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let body = json!({"model": NATIVE, "messages": [{"role": "system", "content": "Be brief."},
        {"role": "user", "content": format!("Weather in Paris? ({marker})")}],
        "tools": weather(), "tool_choice": "required", "stop": ["STOP"], "temperature": 0.1});
    let reply = ctx.post_json("/v1/chat/completions", &body).await?;
    expect_status(&reply, 200, "chat on anthropic/")?;
    let c = reply.json()?;
    ensure_eq!(c["object"].as_str(), Some("chat.completion"), "object");
    ensure_eq!(c["choices"][0]["finish_reason"].as_str(), Some("tool_calls"), "finish_reason from tool_use");
    let call = c["choices"][0]["message"]["tool_calls"][0].clone();
    ensure_eq!(call["function"]["name"].as_str(), Some("get_weather"), "the call");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap_or("null")).unwrap_or_default();
    ensure_eq!(args, json!({"city": "Paris"}), "arguments as a JSON string");
    ensure_eq!(
        (
            c["usage"]["prompt_tokens"].clone(),
            c["usage"]["completion_tokens"].clone(),
            c["usage"]["total_tokens"].clone()
        ),
        (json!(10), json!(5), json!(15)),
        "usage: input + cache reads, output"
    );
    ensure_eq!(c["usage"]["prompt_tokens_details"]["cached_tokens"], json!(3), "cache reads");
    let got = one(ctx, &marker).await?;
    ensure_eq!(got.path.as_str(), "/v1/messages", "path");
    ensure_eq!(got.header("x-api-key"), Some(SECRET_KEY), "x-api-key");
    ensure!(got.header("authorization").is_none(), "no Authorization header to Anthropic");
    ensure_eq!(got.header("anthropic-version"), Some("2023-06-01"), "anthropic-version");
    ensure_eq!(got.body["model"].as_str(), Some("claude-conf"), "model");
    // Anthropic takes `system` as a string or as a list of text blocks, the same prompt either way.
    ensure_eq!(system_text(&got.body["system"]).as_deref(), Some("Be brief."), "system (a string or text blocks)");
    ensure_eq!(got.body["max_tokens"], json!(4096), "the documented default");
    ensure_eq!(got.body["stop_sequences"], json!(["STOP"]), "stop");
    ensure_eq!(got.body["tool_choice"], json!({"type": "any"}), "required → any");
    ensure_eq!(
        got.body["tools"][0]["input_schema"],
        weather()[0]["function"]["parameters"],
        "parameters → input_schema"
    );
    ensure_eq!(
        got.body["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": format!("Weather in Paris? ({marker})")}]}]),
        "messages"
    );
    Ok(())
}

async fn tool_round_trip(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let body = json!({"model": NATIVE, "max_tokens": 100, "tools": weather(), "messages": [
        {"role": "user", "content": format!("Weather in Paris? ({marker})")},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]});
    let reply = ctx.post_json("/v1/chat/completions", &body).await?;
    expect_status(&reply, 200, "the round trip")?;
    let c = reply.json()?;
    ensure_eq!(c["choices"][0]["message"]["content"].as_str(), Some("Final answer: sunny"), "the answer");
    ensure_eq!(c["choices"][0]["finish_reason"].as_str(), Some("stop"), "end_turn → stop");
    let got = one(ctx, &marker).await?;
    ensure_eq!(got.body["max_tokens"], json!(100), "the request's max_tokens");
    ensure_eq!(
        got.body["messages"][1],
        json!({"role": "assistant", "content": [
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}]}),
        "tool_use"
    );
    ensure_eq!(
        got.body["messages"][2],
        json!({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"}]}),
        "tool_result"
    );
    Ok(())
}

async fn chat_stream(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let body = json!({"model": NATIVE, "stream": true, "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": format!("Say hello ({marker})")}]});
    let reply = ctx.post_json("/v1/chat/completions", &body).await?;
    expect_status(&reply, 200, "stream on anthropic/")?;
    let events = sse_events(&reply);
    ensure_eq!(events.last().map(|(_, d)| d.as_str()), Some("[DONE]"), "the last event");
    let chunks: Vec<Value> = events.iter().filter_map(|(_, d)| serde_json::from_str(d).ok()).collect();
    ensure!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk"), "chunks: {chunks:?}");
    let text: String =
        chunks.iter().filter_map(|c| c.pointer("/choices/0/delta/content").and_then(Value::as_str)).collect();
    ensure_eq!(text.as_str(), "Hello from fake", "the text");
    let finish = chunks.iter().find_map(|c| c.pointer("/choices/0/finish_reason").and_then(Value::as_str));
    ensure_eq!(finish, Some("stop"), "finish_reason");
    let usage = chunks.iter().find_map(|c| c.get("usage").filter(|u| u.is_object())).cloned().unwrap_or_default();
    ensure_eq!(usage["total_tokens"], json!(15), "the usage chunk");
    let body = json!({"model": NATIVE, "stream": true, "tools": weather(),
        "messages": [{"role": "user", "content": format!("Weather in Paris? ({marker}-tools)")}]});
    let reply = ctx.post_json("/v1/chat/completions", &body).await?;
    expect_status(&reply, 200, "tool stream on anthropic/")?;
    let chunks: Vec<Value> = sse_events(&reply).iter().filter_map(|(_, d)| serde_json::from_str(d).ok()).collect();
    let args: String = chunks
        .iter()
        .filter_map(|c| c.pointer("/choices/0/delta/tool_calls/0/function/arguments").and_then(Value::as_str))
        .collect();
    ensure_eq!(serde_json::from_str::<Value>(&args).ok(), Some(json!({"city": "Paris"})), "arguments in pieces");
    let finish = chunks.iter().find_map(|c| c.pointer("/choices/0/finish_reason").and_then(Value::as_str));
    ensure_eq!(finish, Some("tool_calls"), "finish_reason");
    Ok(())
}

async fn json_schema(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]});
    let body = json!({"model": NATIVE, "messages": [{"role": "user", "content": format!("A city ({marker})")}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "City", "schema": schema}}});
    let reply = ctx.post_json("/v1/chat/completions", &body).await?;
    expect_status(&reply, 200, "json_schema on anthropic/")?;
    let c = reply.json()?;
    let content: Value =
        serde_json::from_str(c["choices"][0]["message"]["content"].as_str().unwrap_or("null")).unwrap_or_default();
    ensure_eq!(content, json!({"city": "Paris"}), "the tool's input as content");
    ensure_eq!(c["choices"][0]["finish_reason"].as_str(), Some("stop"), "finish_reason");
    ensure!(c["choices"][0]["message"].get("tool_calls").is_none(), "no tool_calls: {c}");
    let got = one(ctx, &marker).await?;
    ensure_eq!(got.body["tool_choice"], json!({"type": "tool", "name": "City"}), "a forced tool");
    ensure_eq!(got.body["tools"][0]["input_schema"], schema, "its schema");
    Ok(())
}

async fn errors(ctx: &Ctx) -> CaseResult {
    for (model, status, kind) in [
        ("anthropic/claude-err429", 429, "rate_limit_error"),
        ("anthropic/claude-err529", 503, "overloaded_error"),
        ("anthropic/claude-err401", 401, "authentication_error"),
        ("anthropic/claude-err400", 400, "invalid_request_error"),
    ] {
        let body = json!({"model": model, "messages": [{"role": "user", "content": uuid_like()}]});
        let reply = ctx.post_json("/v1/chat/completions", &body).await?;
        let e = openai_error(&reply, status, model)?;
        ensure_eq!(e["type"].as_str(), Some(kind), "{model}: error.type");
        if status == 429 {
            ensure_eq!(reply.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("7"), "retry-after");
        }
    }
    Ok(())
}

async fn other_routes(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let reply =
        ctx.post_json("/v1/responses", &json!({"model": NATIVE, "input": format!("Say hello ({marker})")})).await?;
    expect_status(&reply, 200, "/v1/responses on anthropic/")?;
    let response = reply.json()?;
    // The text as OpenAI sends it: `output[].content[]` of the message item. A top-level
    // `output_text` is the SDKs' convenience property, computed from those items, not OpenAI's
    // wire; a gateway that sends one must send the same text.
    ensure_eq!(message_text(&response), "Hello from fake".to_owned(), "the message item's output_text");
    if let Some(text) = response.get("output_text") {
        ensure_eq!(text.as_str(), Some("Hello from fake"), "output_text");
    }
    let got = one(ctx, &marker).await?;
    ensure_eq!(got.path.as_str(), "/v1/messages", "the response's call went to Anthropic's wire");
    Ok(())
}

async fn agent_run(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let run = json!({"model": NATIVE, "tool_backend": "router", "messages": [{"role": "user", "content": format!("Say hello ({marker})")}]});
    let reply = ctx.post_json("/agent/run", &run).await?;
    if matches!(reply.status, 404 | 405) {
        return Err(Failure::unsupported(format!("the target has no /agent/run (HTTP {})", reply.status)));
    }
    expect_status(&reply, 200, "/agent/run on anthropic/")?;
    ensure_eq!(reply.json()?["final_answer"].as_str(), Some("Hello from fake"), "final_answer");
    let got = one(ctx, &marker).await?;
    ensure_eq!(got.path.as_str(), "/v1/messages", "the agent's call went to Anthropic's wire");
    Ok(())
}
