//! §1 The OpenAI surface in proxy mode (profile `openai`): chat completions passed through whole
//! and streamed as they come, provider statuses passed back, OpenAI-shaped errors, request ids,
//! models and embeddings — held against the provider fake, whose record says what the provider
//! received. The Responses API is in `openai_responses`; the stream and status cases in
//! `openai_stream`.

use serde_json::{Value, json};

use crate::case::{Case, Level, Profile};
use crate::checks::{expect_status, openai_error, uuid_like};
use crate::failure::{CaseResult, Failure, ensure, ensure_eq};
use crate::fakes::openai_upstream::{MODELS, Received, Reply as Upstream, received_containing};
use crate::features::Feature;
use crate::shape::{Volatile, redact};
use crate::target::Ctx;
use crate::transport::Reply;

/// The model cases ask for, and the name the provider must see (the prefix removed).
pub const MODEL: &str = "openai/conformance-upstream-1";
pub const UPSTREAM_MODEL: &str = "conformance-upstream-1";

const PROXY: &str = "§1 POST /v1/chat/completions — proxy: every field forwarded, the answer as it is";
const ERRORS: &str = "§1 OpenAI surface — errors in OpenAI's shape: 400 not 422, 404, 405";
const REQUEST_ID: &str = "§1 OpenAI surface — x-request-id on every response";
const MODELS_CLAUSE: &str = "§1 GET /v1/models, GET /v1/models/{id} — the provider's models";
const NEEDS: &[Feature] = &[Feature::OpenaiProxy];

pub const CASES: &[Case] = &[
    Case::new(
        "openai.chat.passthrough",
        Profile::Openai,
        Level::Faithful,
        PROXY,
        "the provider's answer comes back whole: every choice, logprobs, usage details, system_fingerprint, unknown \
         fields",
        |ctx| Box::pin(passthrough(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.chat.fields_forwarded",
        Profile::Openai,
        Level::Faithful,
        PROXY,
        "every request field reaches the provider unchanged (tools, n, seed, temperature, response_format, unknown \
         ones), only the model loses its prefix",
        |ctx| Box::pin(fields_forwarded(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.chat.nothing_pruned",
        Profile::Openai,
        Level::Required,
        PROXY,
        "a long history with a 20 000-character message reaches the provider whole — required: langchain-openai and \
         openai-agents send the whole history each turn: a pruning gateway silently drops conversation the model never \
         sees",
        |ctx| Box::pin(nothing_pruned(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.chat.tool_calls_returned",
        Profile::Openai,
        Level::Required,
        PROXY,
        "tool calls come back to the client, not executed: one provider call — required: openai-agents and \
         langchain-openai run tools themselves: tool calls executed or dropped by the gateway break their agent loop",
        |ctx| Box::pin(tool_calls_returned(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.chat.usage_returned",
        Profile::Openai,
        Level::Required,
        PROXY,
        "the provider's usage comes back with the answer, token details included — required: langchain-openai's \
         `usage_metadata` and LiteLLM's spend tracking read `usage`: dropped or changed, token counts and cost are \
         silently lost",
        |ctx| Box::pin(usage_returned(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.chat.bare_model",
        Profile::Openai,
        Level::Recommended,
        "§1 OpenAI surface — a bare model name goes to the default provider",
        "a model name without a provider prefix reaches the default provider as it is",
        |ctx| Box::pin(bare_model(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.errors.not_found",
        Profile::Openai,
        Level::Recommended,
        ERRORS,
        "an unknown /v1 route is an OpenAI-shaped 404",
        |ctx| Box::pin(not_found(ctx)),
    ),
    Case::new(
        "openai.errors.method_not_allowed",
        Profile::Openai,
        Level::Recommended,
        ERRORS,
        "a wrong method on an OpenAI route is an OpenAI-shaped 405",
        |ctx| Box::pin(method_not_allowed(ctx)),
    ),
    Case::new(
        "openai.errors.malformed_json",
        Profile::Openai,
        Level::Recommended,
        ERRORS,
        "a body that is not JSON is an OpenAI-shaped 400",
        |ctx| Box::pin(malformed_json(ctx)),
    ),
    Case::new(
        "openai.errors.wrong_types",
        Profile::Openai,
        Level::Recommended,
        ERRORS,
        "fields of the wrong type are a 400 (not 422) whose param names the field",
        |ctx| Box::pin(wrong_types(ctx)),
    ),
    Case::new(
        "openai.request_id.present",
        Profile::Openai,
        Level::Recommended,
        REQUEST_ID,
        "answers, errors and unknown routes all carry an x-request-id",
        |ctx| Box::pin(request_id_present(ctx)),
    ),
    Case::new(
        "openai.request_id.client_echoed",
        Profile::Openai,
        Level::Recommended,
        REQUEST_ID,
        "the client's own x-request-id comes back",
        |ctx| Box::pin(request_id_echoed(ctx)),
    ),
    Case::new(
        "openai.request_id.provider_passed_back",
        Profile::Openai,
        Level::Faithful,
        REQUEST_ID,
        "the provider's request id header is passed back",
        |ctx| Box::pin(provider_request_id(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.models.provider_listed",
        Profile::Openai,
        Level::Recommended,
        MODELS_CLAUSE,
        "GET /v1/models lists the provider's own models",
        |ctx| Box::pin(models_listed(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.models.retrieve",
        Profile::Openai,
        Level::Recommended,
        MODELS_CLAUSE,
        "GET /v1/models/{id} answers a listed model, and an OpenAI-shaped 404 for an unknown one",
        |ctx| Box::pin(models_retrieve(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.embeddings.forwarded",
        Profile::Openai,
        Level::Faithful,
        EMBEDDINGS,
        "an embeddings request reaches the provider unchanged but the model, and its answer comes back whole",
        |ctx| Box::pin(embeddings(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.embeddings.vectors",
        Profile::Openai,
        Level::Required,
        EMBEDDINGS,
        "an embeddings request is answered with the provider's vectors, in input order, and its input reaches the \
         provider — required: langchain-openai's `OpenAIEmbeddings` and `litellm.embedding` read `data[].embedding` by \
         index: without the route they fail, with vectors changed or reordered retrieval silently ranks on the wrong ones",
        |ctx| Box::pin(embedding_vectors(ctx)),
    )
    .needs(NEEDS),
];

const EMBEDDINGS: &str = "§1 EXT POST /v1/embeddings — forwarded, the answer passed back";

/// A chat request on [`MODEL`] whose first message carries the case's marker and the provider's
/// scripted answer.
pub fn chat_body(marker: &str, upstream: &Upstream) -> Value {
    json!({"model": MODEL, "messages": [{"role": "user", "content": format!("{marker} {}", upstream.marker())}]})
}

/// A chat completion as a provider would send it.
pub fn completion(content: &str) -> Value {
    json!({
        "id": "chatcmpl-upstream", "object": "chat.completion", "created": 1_700_000_123, "model": UPSTREAM_MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop", "logprobs": null}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    })
}

/// A function tool in the chat shape.
pub fn weather_tool() -> Value {
    json!({"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}})
}

/// The one request the provider received for `marker`: more (a retry, a tool run server-side) or
/// none is a failure.
pub async fn one_request(ctx: &Ctx, marker: &str) -> Result<Received, Failure> {
    let mut got = received_containing(ctx.fakes()?.provider.server(), marker).await;
    ensure!(got.len() == 1, "the provider should have received exactly one request, got {}", got.len());
    Ok(got.remove(0))
}

async fn chat(ctx: &Ctx, body: &Value) -> Result<Reply, Failure> {
    ctx.post_json("/v1/chat/completions", body).await
}

async fn passthrough(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let answer = json!({
        "id": "chatcmpl-upstream-7", "object": "chat.completion", "created": 1_700_000_123, "model": UPSTREAM_MODEL,
        "system_fingerprint": "fp_conformance",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "first", "refusal": null}, "finish_reason": "stop",
             "logprobs": {"content": [{"token": "first", "logprob": -0.25, "bytes": [102, 105, 114, 115, 116], "top_logprobs": []}]}},
            {"index": 1, "message": {"role": "assistant", "content": "second"}, "finish_reason": "length", "logprobs": null}
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18,
                  "prompt_tokens_details": {"cached_tokens": 3}, "completion_tokens_details": {"reasoning_tokens": 2}},
        "service_tier": "default",
        "x_provider_extra": {"kept": [1, 2.5, "three", null]}
    });
    let mut body = chat_body(&marker, &Upstream::json(answer.clone()));
    body["n"] = json!(2);
    body["logprobs"] = json!(true);
    let reply = chat(ctx, &body).await?;
    expect_status(&reply, 200, "a proxied chat completion")?;
    ensure!(reply.content_type().starts_with("application/json"), "content-type {:?}", reply.content_type());
    ensure_eq!(reply.json()?, answer, "the answer the client got");
    let got = one_request(ctx, &marker).await?;
    ensure_eq!(got.body["model"], json!(UPSTREAM_MODEL), "the model the provider saw");
    Ok(())
}

async fn fields_forwarded(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let mut body = chat_body(&marker, &Upstream::json(completion("ok")));
    let extra = json!({
        "tools": [weather_tool()],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": false,
        "n": 2, "seed": 42, "temperature": 0.25, "top_p": 0.5, "presence_penalty": 0.5, "stop": ["\n\n"],
        "response_format": {"type": "json_schema", "json_schema": {"name": "w", "strict": true,
            "schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false}}},
        "logprobs": true, "top_logprobs": 2, "max_completion_tokens": 77, "logit_bias": {"50256": -100},
        "user": "conformance-user", "metadata": {"suite": "conformance"},
        "x_unknown_field": {"nested": [1, {"a": null}], "text": "é\u{2028}"}
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        body[k] = v.clone();
    }
    let reply = chat(ctx, &body).await?;
    expect_status(&reply, 200, "a chat completion with every field")?;
    let got = one_request(ctx, &marker).await?;
    let mut expected = body.clone();
    expected["model"] = json!(UPSTREAM_MODEL);
    ensure_eq!(got.body, expected, "the body the provider received");
    Ok(())
}

async fn nothing_pruned(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let mut messages = vec![json!({"role": "system", "content": "You are terse."})];
    messages
        .push(json!({"role": "user", "content": format!("{marker} {}", Upstream::json(completion("ok")).marker())}));
    for i in 0..30 {
        messages.push(json!({"role": "assistant", "content": format!("answer {i}")}));
        messages.push(json!({"role": "user", "content": format!("question {i}")}));
    }
    let long: String = (0..20_000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    messages.push(json!({"role": "user", "content": long}));
    let body = json!({"model": MODEL, "messages": messages});
    let reply = chat(ctx, &body).await?;
    expect_status(&reply, 200, "a long conversation")?;
    let got = one_request(ctx, &marker).await?;
    let sent = got.body["messages"].as_array().cloned().unwrap_or_default();
    ensure_eq!(sent.len(), messages.len(), "messages the provider received");
    ensure!(sent == messages, "the messages reached the provider changed (pruned or rewritten)");
    Ok(())
}

async fn tool_calls_returned(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let answer = json!({
        "id": "chatcmpl-tools", "object": "chat.completion", "created": 1_700_000_123, "model": UPSTREAM_MODEL,
        "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": null, "message": {"role": "assistant", "content": null,
            "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_b", "type": "function", "function": {"name": "exec_python", "arguments": "{\"code\":\"print(1)\"}"}}
            ]}}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 9, "total_tokens": 29}
    });
    let mut body = chat_body(&marker, &Upstream::json(answer.clone()));
    body["tools"] = json!([weather_tool()]);
    let reply = chat(ctx, &body).await?;
    expect_status(&reply, 200, "a completion with tool calls")?;
    // What an agent framework reads of the choice — the calls with their ids, names and arguments,
    // the finish reason, the message's role and (empty) content — field by field: a field a gateway
    // adds (`provider_specific_fields`) breaks no client; the answer passed whole, extra fields
    // included, is `openai.chat.passthrough` (faithful).
    let got = reply.json()?;
    let choices = got["choices"].as_array().cloned().unwrap_or_default();
    ensure_eq!(choices.len(), 1, "choices the client got: {got}");
    let (choice, want) = (&choices[0], &answer["choices"][0]);
    ensure_eq!(choice["finish_reason"], want["finish_reason"], "finish_reason");
    ensure_eq!(choice["message"]["role"], want["message"]["role"], "the message's role");
    // `content` absent or null reads the same to the SDKs (an Optional); text where there was none does not.
    ensure_eq!(choice["message"]["content"], Value::Null, "the message's content");
    let calls = choice["message"]["tool_calls"].as_array().cloned().unwrap_or_default();
    let wanted = want["message"]["tool_calls"].as_array().cloned().unwrap_or_default();
    ensure_eq!(calls.len(), wanted.len(), "tool calls the client got: {}", choice["message"]);
    // The arguments as the framework reads them: the JSON the string parses to.
    let args = |c: &Value| {
        let text = c["function"]["arguments"].as_str().unwrap_or_default().to_owned();
        serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text))
    };
    for (i, (call, w)) in calls.iter().zip(&wanted).enumerate() {
        ensure_eq!(
            (&call["id"], &call["type"], &call["function"]["name"], args(call)),
            (&w["id"], &w["type"], &w["function"]["name"], args(w)),
            "tool call {i}: id, type, name, arguments"
        );
    }
    // One provider call: the tools were the client's to run, not the server's.
    one_request(ctx, &marker).await?;
    Ok(())
}

async fn bare_model(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let mut body = chat_body(&marker, &Upstream::json(completion("bare ok")));
    body["model"] = json!(UPSTREAM_MODEL);
    let reply = chat(ctx, &body).await?;
    expect_status(&reply, 200, "a bare model name")?;
    ensure_eq!(reply.json()?.pointer("/choices/0/message/content").cloned(), Some(json!("bare ok")), "content");
    let got = one_request(ctx, &marker).await?;
    ensure_eq!(got.body["model"], json!(UPSTREAM_MODEL), "the model the provider saw");
    Ok(())
}

async fn not_found(ctx: &Ctx) -> CaseResult {
    for (method, path) in [("GET", "/v1/no-such-route"), ("POST", "/v1/no/such/route")] {
        let reply = ctx.send(method, path, None).await?;
        openai_error(&reply, 404, &format!("{method} {path}"))?;
        if method == "GET" {
            let redacted = redact(
                &reply.json()?,
                &[("/error/message", Volatile::Message), ("/error/type", Volatile::Id), ("/error/code", Volatile::Id)],
            )?;
            ctx.snapshot("openai_not_found", &redacted)?;
        }
    }
    Ok(())
}

async fn method_not_allowed(ctx: &Ctx) -> CaseResult {
    for (method, path) in [("GET", "/v1/chat/completions"), ("DELETE", "/v1/models"), ("GET", "/v1/embeddings")] {
        let reply = ctx.send(method, path, None).await?;
        openai_error(&reply, 405, &format!("{method} {path}"))?;
    }
    Ok(())
}

async fn malformed_json(ctx: &Ctx) -> CaseResult {
    for path in ["/v1/chat/completions", "/v1/embeddings", "/v1/responses"] {
        let reply = ctx.post_raw(path, b"{\"model\": \"x\", not json".to_vec()).await?;
        openai_error(&reply, 400, &format!("malformed JSON on {path}"))?;
    }
    Ok(())
}

async fn wrong_types(ctx: &Ctx) -> CaseResult {
    let cases = [
        (json!({"model": 5, "messages": []}), "model"),
        (json!({"messages": [{"role": "user", "content": "hi"}]}), "model"),
        (json!({"model": "m", "messages": "hi"}), "messages"),
        (json!({"model": "m", "messages": [], "stream": "yes"}), "stream"),
    ];
    for (body, field) in cases {
        let reply = chat(ctx, &body).await?;
        let error = openai_error(&reply, 400, &format!("{body}"))?;
        let named = error["param"].as_str() == Some(field)
            || error["message"].as_str().is_some_and(|m| m.contains(&format!("`{field}`")) || m.contains(field));
        ensure!(named, "{body}: the error should name `{field}` (param or message), got {error}");
    }
    let reply = ctx.post_raw("/v1/chat/completions", b"[1, 2]".to_vec()).await?;
    openai_error(&reply, 400, "a body that is not an object")?;
    Ok(())
}

fn request_id(reply: &Reply) -> Option<String> {
    reply.headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned).filter(|v| !v.trim().is_empty())
}

async fn request_id_present(ctx: &Ctx) -> CaseResult {
    let ok = chat(ctx, &json!({"model": "conformance-model", "messages": [{"role": "user", "content": "hi"}]})).await?;
    let bad = ctx.post_raw("/v1/chat/completions", b"{nope".to_vec()).await?;
    let missing = ctx.get("/v1/no-such-route").await?;
    let models = ctx.get("/v1/models").await?;
    let mut seen = Vec::new();
    for (what, reply) in [("a chat answer", &ok), ("a 400", &bad), ("a 404", &missing), ("the models list", &models)] {
        let id = request_id(reply)
            .ok_or_else(|| Failure::failed(format!("{what} (HTTP {}) has no x-request-id", reply.status)))?;
        seen.push(id);
    }
    seen.sort();
    seen.dedup();
    ensure_eq!(seen.len(), 4, "distinct request ids over four requests");
    Ok(())
}

async fn request_id_echoed(ctx: &Ctx) -> CaseResult {
    let mine = format!("conformance-{}", uuid_like());
    let body = json!({"model": "conformance-model", "messages": [{"role": "user", "content": "hi"}]});
    let reply = ctx.post_json_with("/v1/chat/completions", &body, &[("x-request-id", &mine)]).await?;
    ensure_eq!(request_id(&reply), Some(mine.clone()), "x-request-id of an answer");
    let reply = ctx.post_json_with("/v1/chat/completions", &json!({"model": 1}), &[("x-request-id", &mine)]).await?;
    ensure_eq!(request_id(&reply), Some(mine), "x-request-id of an error");
    Ok(())
}

async fn provider_request_id(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let upstream_id = format!("upstream-{marker}");
    let reply =
        chat(ctx, &chat_body(&marker, &Upstream::json(completion("ok")).header("x-request-id", &upstream_id))).await?;
    expect_status(&reply, 200, "a proxied chat completion")?;
    ensure!(request_id(&reply).is_some(), "no x-request-id");
    let passed = reply.headers.iter().any(|(_, v)| v.to_str().is_ok_and(|v| v == upstream_id));
    ensure!(passed, "no response header carries the provider's request id {upstream_id}: {:?}", reply.headers);
    Ok(())
}

fn model_ids(body: &Value) -> Vec<String> {
    body["data"].as_array().into_iter().flatten().filter_map(|m| m["id"].as_str()).map(str::to_owned).collect()
}

async fn models_listed(ctx: &Ctx) -> CaseResult {
    let reply = ctx.get("/v1/models").await?;
    expect_status(&reply, 200, "GET /v1/models")?;
    let body = reply.json()?;
    ensure_eq!(body["object"].as_str(), Some("list"), "object");
    let ids = model_ids(&body);
    for id in MODELS {
        ensure!(ids.iter().any(|i| i == id), "the provider's model `{id}` is not listed: {ids:?}");
    }
    for m in body["data"].as_array().into_iter().flatten() {
        ensure_eq!(m["object"].as_str(), Some("model"), "object of {m}");
    }
    Ok(())
}

async fn models_retrieve(ctx: &Ctx) -> CaseResult {
    let reply = ctx.get(&format!("/v1/models/{UPSTREAM_MODEL}")).await?;
    expect_status(&reply, 200, "GET /v1/models/{id} of a provider model")?;
    let model = reply.json()?;
    ensure_eq!((model["id"].as_str(), model["object"].as_str()), (Some(UPSTREAM_MODEL), Some("model")), "the model");
    let reply = ctx.get(&format!("/v1/models/no-such-model-{}", uuid_like())).await?;
    openai_error(&reply, 404, "GET /v1/models/{id} of an unknown model")?;
    Ok(())
}

async fn embeddings(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let answer = json!({
        "object": "list", "model": "conformance-embed",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.25, -0.5, 1.0]},
                 {"object": "embedding", "index": 1, "embedding": [0.0, 0.125, -1.0]}],
        "usage": {"prompt_tokens": 6, "total_tokens": 6}
    });
    let body = json!({
        "model": "openai/conformance-embed",
        "input": [format!("{marker} {}", Upstream::json(answer.clone()).marker()), "second"],
        "encoding_format": "float", "dimensions": 3, "user": "conformance-user"
    });
    let reply = ctx.post_json("/v1/embeddings", &body).await?;
    expect_status(&reply, 200, "POST /v1/embeddings")?;
    ensure_eq!(reply.json()?, answer, "the answer the client got");
    let got = one_request(ctx, &marker).await?;
    ensure!(got.path.ends_with("/embeddings"), "the provider was asked at {}, not …/embeddings", got.path);
    let mut expected = body.clone();
    expected["model"] = json!("conformance-embed");
    ensure_eq!(got.body, expected, "the body the provider received");
    Ok(())
}

/// What an embeddings client reads: the vectors by index, for the input it sent. The rest of the
/// answer, whole, is `openai.embeddings.forwarded` (faithful).
async fn embedding_vectors(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let vectors = [json!([0.5, -0.25, 0.75]), json!([-1.0, 0.0, 0.125])];
    let answer = json!({
        "object": "list", "model": "conformance-embed",
        "data": [{"object": "embedding", "index": 0, "embedding": vectors[0]},
                 {"object": "embedding", "index": 1, "embedding": vectors[1]}],
        "usage": {"prompt_tokens": 4, "total_tokens": 4}
    });
    let input = json!([format!("{marker} {}", Upstream::json(answer).marker()), "second text"]);
    let body = json!({"model": "openai/conformance-embed", "input": input, "encoding_format": "float"});
    let reply = ctx.post_json("/v1/embeddings", &body).await?;
    expect_status(&reply, 200, "POST /v1/embeddings")?;
    let got = reply.json()?;
    let data = got["data"].as_array().cloned().unwrap_or_default();
    ensure_eq!(data.len(), 2, "embeddings in the answer ({got})");
    for (i, vector) in vectors.iter().enumerate() {
        let item = data.iter().find(|d| d["index"] == json!(i));
        ensure_eq!(item.map(|d| &d["embedding"]), Some(vector), "the vector of input {i}");
    }
    let request = one_request(ctx, &marker).await?;
    ensure_eq!(request.body["input"], input, "the input the provider received");
    Ok(())
}

/// What a framework's token accounting reads: `usage`, details included. The rest of the answer,
/// whole, is `openai.chat.passthrough` (faithful).
async fn usage_returned(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let mut answer = completion("counted");
    answer["usage"] = json!({"prompt_tokens": 21, "completion_tokens": 8, "total_tokens": 29,
        "prompt_tokens_details": {"cached_tokens": 16}, "completion_tokens_details": {"reasoning_tokens": 3}});
    let reply = chat(ctx, &chat_body(&marker, &Upstream::json(answer.clone()))).await?;
    expect_status(&reply, 200, "a chat completion")?;
    let got = reply.json()?;
    ensure_eq!(got["usage"], answer["usage"], "the usage the client got");
    ensure_eq!(got.pointer("/choices/0/message/content"), Some(&json!("counted")), "content");
    one_request(ctx, &marker).await?;
    Ok(())
}
