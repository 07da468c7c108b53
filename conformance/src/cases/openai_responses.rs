//! §1 EXT `POST /v1/responses` (profile `openai`): the Responses API bridged onto the provider's
//! chat completions — a plain answer, the event stream (text and a function call), a function-tool
//! round trip with `function_call_output`, `text.format` as `response_format`, a cut stream, and a
//! clear 400 naming what needs storage. Tools beyond functions are `openai_responses_tools`, the
//! fields `openai_responses_fields`, pass-through `openai_responses_passthrough`.

use serde_json::{Value, json};

use super::openai::{MODEL, UPSTREAM_MODEL, completion, one_request};
use crate::case::{Case, Level, Profile};
use crate::checks::{expect_status, openai_error, sse_events, uuid_like};
use crate::failure::{CaseResult, Failure, ensure, ensure_eq};
use crate::fakes::openai_upstream::{Received, Reply as Upstream, received_containing, turns_marker};
use crate::features::Feature;
use crate::target::Ctx;
use crate::transport::Reply;

const CLAUSE: &str = "§1 EXT POST /v1/responses — bridged onto chat completions";
const STREAM: &str = "§1 EXT POST /v1/responses — stream:true, the Responses event stream";
const NEEDS: &[Feature] = &[Feature::OpenaiProxy];

pub const CASES: &[Case] = &[
    Case::new(
        "openai.responses.plain",
        Profile::Openai,
        Level::Required,
        CLAUSE,
        "input and instructions become chat messages; the answer is a Response with a message item, output_text, usage \
         and status — required: the Codex CLI (`wire_api = \"responses\"`) and the openai SDK's `responses.create` \
         speak only `/v1/responses`: without it every turn is a 404",
        |ctx| Box::pin(plain(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.responses.stream_text",
        Profile::Openai,
        Level::Required,
        STREAM,
        "a streamed text answer is response.created … output_text.delta … response.completed, in order — required: the \
         Codex CLI streams every turn and waits for `response.completed`: without the event sequence it reports the \
         stream as failed",
        |ctx| Box::pin(stream_text(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.responses.stream_function_call",
        Profile::Openai,
        Level::Required,
        STREAM,
        "a streamed tool call is an output item with function_call_arguments.delta events — required: the Codex CLI \
         runs its tools from streamed `function_call` items: without them it never runs a command",
        |ctx| Box::pin(stream_call(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.responses.stream_cut",
        Profile::Openai,
        Level::Required,
        STREAM,
        "a provider stream cut without [DONE] ends with an `error` (or `response.failed`) event, not \
         response.completed — required: the Codex CLI takes `response.completed` as the end of a turn: a cut stream reported complete is a truncated answer it \
         keeps",
        |ctx| Box::pin(stream_cut(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.responses.function_round_trip",
        Profile::Openai,
        Level::Required,
        CLAUSE,
        "a function tool call comes back as a function_call item; its function_call_output reaches the provider as a \
         tool message — required: the Codex CLI and openai-agents send tool results as `function_call_output`: dropped, \
         the model never sees them and calls again",
        |ctx| Box::pin(round_trip(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.responses.json_schema",
        Profile::Openai,
        Level::Required,
        CLAUSE,
        "text.format json_schema reaches the provider as response_format — required: openai-agents' `output_type` is a \
         `text.format` json_schema: dropped, the answer is free text its parser rejects",
        |ctx| Box::pin(json_schema(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.responses.unsupported",
        Profile::Openai,
        Level::Recommended,
        CLAUSE,
        "what needs stored responses (previous_response_id, background) is a 400 naming the field",
        |ctx| Box::pin(unsupported(ctx)),
    )
    .needs(NEEDS),
];

/// A Responses tool (flat, unlike chat's).
fn weather_tool() -> Value {
    json!({"type": "function", "name": "get_weather", "description": "Weather for a city", "strict": false,
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}})
}

fn call_completion(call_id: &str) -> Value {
    json!({
        "id": "chatcmpl-call", "object": "chat.completion", "created": 1_700_000_123, "model": UPSTREAM_MODEL,
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    })
}

fn chunk(delta: Value, finish: Value) -> Value {
    json!({"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1_700_000_123, "model": UPSTREAM_MODEL,
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
}

fn usage_chunk() -> Value {
    json!({"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1_700_000_123, "model": UPSTREAM_MODEL,
           "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}})
}

pub(super) async fn respond(ctx: &Ctx, body: &Value) -> Result<Reply, Failure> {
    ctx.post_json("/v1/responses", body).await
}

/// The items of `response.output` of `kind`.
pub(super) fn items<'a>(response: &'a Value, kind: &str) -> Vec<&'a Value> {
    response["output"].as_array().into_iter().flatten().filter(|i| i["type"] == kind).collect()
}

/// The text of the message items' `output_text` parts.
pub(super) fn message_text(response: &Value) -> String {
    items(response, "message")
        .iter()
        .flat_map(|m| m["content"].as_array().into_iter().flatten())
        .filter(|p| p["type"] == "output_text")
        .filter_map(|p| p["text"].as_str())
        .collect()
}

async fn plain(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let input = format!("{marker} {}", Upstream::json(completion("Bonjour.")).marker());
    let body = json!({"model": MODEL, "instructions": "Be brief.", "input": input, "temperature": 0.5, "max_output_tokens": 50});
    let reply = respond(ctx, &body).await?;
    expect_status(&reply, 200, "POST /v1/responses")?;
    let response = reply.json()?;
    ensure_eq!(response["object"].as_str(), Some("response"), "object");
    ensure_eq!(response["status"].as_str(), Some("completed"), "status");
    ensure_eq!(message_text(&response), "Bonjour.".to_owned(), "the message item's output_text");
    // A top-level `output_text` is this contract's convenience (OpenAI's SDKs compute it from the
    // items); a gateway that sends one must send the same text.
    if let Some(text) = response.get("output_text") {
        ensure_eq!(text.as_str(), Some("Bonjour."), "output_text");
    }
    let usage = &response["usage"];
    ensure_eq!(
        (usage["input_tokens"].as_u64(), usage["output_tokens"].as_u64(), usage["total_tokens"].as_u64()),
        (Some(11), Some(7), Some(18)),
        "usage (input, output, total)"
    );
    let got = one_request(ctx, &marker).await?;
    if upstream_responses(&got)? {
        let (system, user) = responses_prompt(&got.body);
        ensure_eq!(
            (system.as_str(), user.as_str()),
            ("Be brief.", input.as_str()),
            "instructions and input as the provider's /responses received them"
        );
        ensure_eq!(got.body["max_output_tokens"], json!(50), "max_output_tokens");
    } else {
        ensure_eq!(
            got.body["messages"],
            json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": input}]),
            "the messages the provider received"
        );
        let max = got.body.get("max_completion_tokens").or_else(|| got.body.get("max_tokens"));
        ensure_eq!(max, Some(&json!(50)), "max_output_tokens as max_tokens or max_completion_tokens");
    }
    ensure_eq!(got.body["model"], json!(UPSTREAM_MODEL), "model");
    ensure_eq!(got.body["temperature"], json!(0.5), "temperature");
    ctx.snapshot("responses_plain", &portable(&response))
}

/// Whether the provider was asked at its own `/responses` (a gateway may pass `/v1/responses`
/// through, CONTRACT §1) rather than `/chat/completions` (the bridge); any other path fails.
pub(crate) fn upstream_responses(got: &Received) -> Result<bool, Failure> {
    let path = got.path.as_str();
    ensure!(
        path.ends_with("/chat/completions") || path.ends_with("/responses"),
        "the provider was asked at {path}, not /chat/completions or /responses"
    );
    Ok(path.ends_with("/responses"))
}

/// The text of a Responses item's (or message's) content: a string or its parts' texts.
pub(crate) fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        parts => {
            parts.as_array().into_iter().flatten().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join("\n")
        }
    }
}

/// A Responses request's system prompt (`instructions`, or system/developer items) and the text
/// of its user input (the `input` string, or its user items).
pub(crate) fn responses_prompt(body: &Value) -> (String, String) {
    let items = body["input"].as_array().cloned().unwrap_or_default();
    let of = |roles: &[&str]| -> Vec<String> {
        items.iter().filter(|i| roles.iter().any(|r| i["role"] == *r)).map(|i| content_text(&i["content"])).collect()
    };
    let mut system: Vec<String> = body["instructions"].as_str().map(str::to_owned).into_iter().collect();
    system.extend(of(&["system", "developer"]));
    let user = match &body["input"] {
        Value::String(s) => s.clone(),
        _ => of(&["user"]).join("\n"),
    };
    (system.join("\n"), user)
}

/// The part of a completed Response that every gateway must give alike: the object, its status,
/// each output item's type and role with its content parts' types and texts, and the three token
/// counts. The rest — ids, timestamps, item statuses, annotations, logprobs, token details, the
/// echoed request fields — is the gateway's own: OpenAI's API lists them, but a gateway that sends
/// more (or leaves an optional one out) is as valid, so the snapshot holds none of them.
fn portable(response: &Value) -> Value {
    let part = |p: &Value| json!({"type": p["type"], "text": p["text"]});
    let item = |i: &Value| {
        let content: Vec<Value> = i["content"].as_array().into_iter().flatten().map(part).collect();
        json!({"type": i["type"], "role": i["role"], "content": content})
    };
    let usage = &response["usage"];
    json!({
        "object": response["object"],
        "status": response["status"],
        "output": response["output"].as_array().into_iter().flatten().map(item).collect::<Vec<_>>(),
        "usage": {
            "input_tokens": usage["input_tokens"], "output_tokens": usage["output_tokens"], "total_tokens": usage["total_tokens"],
        },
    })
}

/// The Responses stream: `(event name, data)` pairs, the names checked against the data's `type`.
pub(super) fn response_events(reply: &Reply, what: &str) -> Result<Vec<(String, Value)>, Failure> {
    expect_status(reply, 200, what)?;
    ensure!(reply.content_type().starts_with("text/event-stream"), "{what}: content-type {:?}", reply.content_type());
    let mut out = Vec::new();
    let events = sse_events(reply);
    let last = events.len().saturating_sub(1);
    for (i, (name, data)) in events.into_iter().enumerate() {
        // A chat-style `[DONE]` after the last event is tolerated (the SDKs stop reading there).
        if i == last && data.trim() == "[DONE]" {
            continue;
        }
        let data: Value = serde_json::from_str(&data)
            .map_err(|e| Failure::failed(format!("{what}: an event is not JSON ({e}): {data}")))?;
        let kind = data["type"].as_str().unwrap_or_default().to_owned();
        ensure!(name.as_deref().is_none_or(|n| n == kind), "{what}: event `{name:?}` carries type `{kind}`");
        out.push((kind, data));
    }
    let seqs: Vec<u64> = out.iter().filter_map(|(_, d)| d["sequence_number"].as_u64()).collect();
    ensure!(seqs.windows(2).all(|w| w[0] < w[1]), "{what}: sequence numbers must increase: {seqs:?}");
    Ok(out)
}

/// `wanted` appear in `kinds` in this order (other events may come between them).
fn in_order(kinds: &[&str], wanted: &[&str]) -> CaseResult {
    let mut rest = kinds.iter();
    for w in wanted {
        ensure!(rest.any(|k| k == w), "`{w}` missing or out of order in {kinds:?} (expected in order: {wanted:?})");
    }
    Ok(())
}

async fn stream_text(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let events = vec![
        chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        chunk(json!({"content": "Bon"}), Value::Null),
        chunk(json!({"content": "jour."}), Value::Null),
        chunk(json!({}), json!("stop")),
        usage_chunk(),
    ];
    let input = format!("{marker} {}", Upstream::events(events).marker());
    let reply = respond(ctx, &json!({"model": MODEL, "input": input, "stream": true})).await?;
    let events = response_events(&reply, "a streamed Response")?;
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    ensure_eq!(kinds.first().copied(), Some("response.created"), "the first event");
    ensure_eq!(kinds.last().copied(), Some("response.completed"), "the last event");
    in_order(
        &kinds,
        &[
            "response.created",
            "response.output_item.added",
            "response.output_text.delta",
            "response.output_item.done",
            "response.completed",
        ],
    )?;
    let deltas: String = events
        .iter()
        .filter(|(k, _)| k == "response.output_text.delta")
        .filter_map(|(_, d)| d["delta"].as_str())
        .collect();
    ensure_eq!(deltas, "Bonjour.".to_owned(), "the text deltas");
    let done = &events[events.len() - 1].1["response"];
    ensure_eq!(message_text(done), "Bonjour.".to_owned(), "the completed Response's text");
    ensure_eq!(done["usage"]["total_tokens"].as_u64(), Some(18), "the completed Response's usage");
    ensure_eq!(done["status"].as_str(), Some("completed"), "the completed Response's status");
    let got = one_request(ctx, &marker).await?;
    ensure_eq!(got.body["stream"], json!(true), "stream, as the provider saw it");
    Ok(())
}

async fn stream_call(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let events = vec![
        chunk(json!({"role": "assistant", "content": null}), Value::Null),
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_rs", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
            Value::Null,
        ),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}), Value::Null),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}), Value::Null),
        chunk(json!({}), json!("tool_calls")),
        usage_chunk(),
    ];
    let input = format!("{marker} {}", Upstream::events(events).marker());
    let body = json!({"model": MODEL, "input": input, "stream": true, "tools": [weather_tool()]});
    let events = response_events(&respond(ctx, &body).await?, "a streamed function call")?;
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    in_order(
        &kinds,
        &[
            "response.created",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.output_item.done",
            "response.completed",
        ],
    )?;
    let arguments: String = events
        .iter()
        .filter(|(k, _)| k == "response.function_call_arguments.delta")
        .filter_map(|(_, d)| d["delta"].as_str())
        .collect();
    ensure_eq!(arguments, "{\"city\":\"Paris\"}".to_owned(), "the argument deltas");
    let done = &events[events.len() - 1].1["response"];
    let calls = items(done, "function_call");
    ensure_eq!(calls.len(), 1, "function_call items in the completed Response");
    ensure_eq!(
        (calls[0]["call_id"].as_str(), calls[0]["name"].as_str(), calls[0]["arguments"].as_str()),
        (Some("call_rs"), Some("get_weather"), Some("{\"city\":\"Paris\"}")),
        "the function call (call_id, name, arguments)"
    );
    Ok(())
}

async fn stream_cut(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let events = vec![chunk(json!({"role": "assistant", "content": "Bon"}), Value::Null)];
    let input = format!("{marker} {}", Upstream::events(events).cut().marker());
    let events = response_events(
        &respond(ctx, &json!({"model": MODEL, "input": input, "stream": true})).await?,
        "a cut stream",
    )?;
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    // Either terminal failure event of the Responses stream: `error`, or `response.failed` (what
    // a gateway passing the provider's own stream on may end it with); the SDKs and Codex take
    // both as the turn failing.
    let last = kinds.last().copied();
    ensure!(
        matches!(last, Some("error" | "response.failed")),
        "the last event: expected Some(\"error\") or Some(\"response.failed\"), got {last:?}"
    );
    ensure!(!kinds.contains(&"response.completed"), "a cut stream must not complete: {kinds:?}");
    Ok(())
}

async fn round_trip(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let script =
        turns_marker(&[Upstream::json(call_completion("call_rt_1")), Upstream::json(completion("It is sunny."))]);
    let question = json!({"role": "user", "content": format!("{marker} {script}")});
    let tools = json!([weather_tool()]);
    let first =
        respond(ctx, &json!({"model": MODEL, "input": [question], "tools": tools, "tool_choice": "auto"})).await?;
    expect_status(&first, 200, "the first turn")?;
    let first = first.json()?;
    let calls = items(&first, "function_call");
    ensure_eq!(calls.len(), 1, "function_call items");
    let call = calls[0].clone();
    ensure_eq!(
        (call["call_id"].as_str(), call["name"].as_str(), call["arguments"].as_str()),
        (Some("call_rt_1"), Some("get_weather"), Some("{\"city\":\"Paris\"}")),
        "the function call (call_id, name, arguments)"
    );
    let output = json!({"type": "function_call_output", "call_id": "call_rt_1", "output": "sunny"});
    let second = respond(ctx, &json!({"model": MODEL, "input": [question, call, output], "tools": tools})).await?;
    expect_status(&second, 200, "the second turn")?;
    ensure_eq!(message_text(&second.json()?), "It is sunny.".to_owned(), "the final answer");
    let got = received_containing(ctx.fakes()?.provider.server(), &marker).await;
    ensure_eq!(got.len(), 2, "provider calls over the two turns");
    if upstream_responses(&got[0])? {
        return round_trip_responses(&got);
    }
    let sent_tools = &got[0].body["tools"];
    ensure_eq!(sent_tools[0]["type"].as_str(), Some("function"), "tools[0].type as the provider saw it");
    ensure_eq!(sent_tools[0]["function"]["name"].as_str(), Some("get_weather"), "tools[0].function.name");
    ensure_eq!(sent_tools[0]["function"]["parameters"], weather_tool()["parameters"], "tools[0].function.parameters");
    ensure_eq!(got[0].body["tool_choice"], json!("auto"), "tool_choice");
    let messages = got[1].body["messages"].as_array().cloned().unwrap_or_default();
    ensure_eq!(messages.len(), 3, "messages of the second turn (user, assistant tool call, tool result)");
    let assistant_call = &messages[1]["tool_calls"][0];
    ensure_eq!(
        (messages[1]["role"].as_str(), assistant_call["id"].as_str(), assistant_call["function"]["name"].as_str()),
        (Some("assistant"), Some("call_rt_1"), Some("get_weather")),
        "the assistant's tool call as the provider saw it"
    );
    ensure_eq!(
        (messages[2]["role"].as_str(), messages[2]["tool_call_id"].as_str(), messages[2]["content"].as_str()),
        (Some("tool"), Some("call_rt_1"), Some("sunny")),
        "the tool result as the provider saw it"
    );
    Ok(())
}

/// The round trip as the provider's own `/responses` received it: the tool as sent, and the call
/// with its output in the second turn's input.
fn round_trip_responses(got: &[Received]) -> CaseResult {
    let tool = &got[0].body["tools"][0];
    ensure_eq!(
        (tool["type"].as_str(), tool["name"].as_str(), &tool["parameters"]),
        (Some("function"), Some("get_weather"), &weather_tool()["parameters"]),
        "tools[0] (type, name, parameters) as the provider saw it"
    );
    ensure_eq!(got[0].body["tool_choice"], json!("auto"), "tool_choice");
    ensure!(upstream_responses(&got[1])?, "the second turn went to {}, the first to /responses", got[1].path);
    let input = got[1].body["input"].as_array().cloned().unwrap_or_default();
    let call = input.iter().find(|i| i["type"] == "function_call").cloned().unwrap_or_default();
    ensure_eq!(
        (call["call_id"].as_str(), call["name"].as_str()),
        (Some("call_rt_1"), Some("get_weather")),
        "the function_call item as the provider saw it"
    );
    let output = input.iter().find(|i| i["type"] == "function_call_output").cloned().unwrap_or_default();
    ensure_eq!(
        (output["call_id"].as_str(), content_text(&output["output"])),
        (Some("call_rt_1"), "sunny".to_owned()),
        "the function_call_output as the provider saw it"
    );
    Ok(())
}

async fn json_schema(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false});
    let input = format!("{marker} {}", Upstream::json(completion("{\"city\":\"Paris\"}")).marker());
    let text = json!({"format": {"type": "json_schema", "name": "weather", "schema": schema, "strict": true}});
    let reply = respond(ctx, &json!({"model": MODEL, "input": input, "text": text})).await?;
    expect_status(&reply, 200, "a Response with text.format")?;
    ensure_eq!(message_text(&reply.json()?), "{\"city\":\"Paris\"}".to_owned(), "the answer");
    let got = one_request(ctx, &marker).await?;
    if upstream_responses(&got)? {
        let format = &got.body["text"]["format"];
        ensure_eq!(
            (format["type"].as_str(), format["name"].as_str(), &format["schema"], &format["strict"]),
            (Some("json_schema"), Some("weather"), &schema, &json!(true)),
            "text.format as the provider's /responses saw it"
        );
        return Ok(());
    }
    ensure_eq!(
        got.body["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "weather", "schema": schema, "strict": true}}),
        "response_format as the provider saw it"
    );
    Ok(())
}

async fn unsupported(ctx: &Ctx) -> CaseResult {
    let cases = [
        (json!({"model": MODEL, "input": "hi", "previous_response_id": "resp_123"}), "previous_response_id"),
        (json!({"model": MODEL, "input": "hi", "background": true}), "background"),
    ];
    for (body, field) in cases {
        let reply = respond(ctx, &body).await?;
        let error = openai_error(&reply, 400, &format!("{body}"))?;
        let named = error["param"].as_str().is_some_and(|p| p.starts_with(field))
            || error["message"].as_str().is_some_and(|m| m.contains(field));
        ensure!(named, "{body}: the error should name `{field}` (param or message), got {error}");
    }
    Ok(())
}
