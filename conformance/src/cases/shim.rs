//! §1 `POST /v1/chat/completions` and `POST /chat/completions` — the OpenAI shim.

use serde_json::{Value, json};

use crate::case::{Case, Level, Profile};
use crate::checks::expect_status;
use crate::failure::{CaseResult, Failure, ensure, ensure_eq, excerpt};
use crate::features::Feature;
use crate::shape::{Volatile, redact};
use crate::target::Ctx;
use crate::transport::Reply;

pub const CASES: &[Case] = &[
    Case::new(
        "shim.echo.reply",
        Profile::Core,
        Level::Recommended,
        "§1 POST /v1/chat/completions — echo mode; response shape",
        "echo mode answers `shim ok` in the chat.completion shape",
        |ctx| Box::pin(echo(ctx, "/v1/chat/completions")),
    )
    .needs(&[Feature::ShimEcho]),
    Case::new(
        "shim.echo.unversioned_route",
        Profile::Core,
        Level::Recommended,
        "§1 POST /chat/completions",
        "POST /chat/completions is the same shim",
        |ctx| Box::pin(echo(ctx, "/chat/completions")),
    )
    .needs(&[Feature::ShimEcho]),
    Case::new(
        "shim.no_provider.guidance",
        Profile::Core,
        Level::Recommended,
        "§1 POST /v1/chat/completions — no provider configured → 400 with guidance",
        "without echo mode and without a provider: 400 saying how to configure one",
        |ctx| Box::pin(no_provider(ctx)),
    )
    .needs(&[Feature::ShimNoProvider]),
    Case::new(
        "shim.error.openai_shape",
        Profile::Extended,
        Level::Recommended,
        "§1 POST /v1/chat/completions — EXT errors use the OpenAI shape",
        "errors on the shim use OpenAI's {error:{message,type,param,code}} shape",
        |ctx| Box::pin(error_shape(ctx)),
    ),
    Case::new(
        "shim.stream.echo",
        Profile::Extended,
        Level::Recommended,
        "§1 POST /v1/chat/completions — EXT stream:true",
        "stream:true answers chat.completion.chunk events with one id, ending in [DONE]",
        |ctx| Box::pin(stream(ctx, false)),
    )
    .needs(&[Feature::ShimEcho]),
    Case::new(
        "shim.stream.include_usage",
        Profile::Extended,
        Level::Recommended,
        "§1 POST /v1/chat/completions — EXT stream:true (OpenAI clients' usage chunk)",
        "stream_options.include_usage adds one usage chunk with choices:[] before [DONE]",
        |ctx| Box::pin(stream(ctx, true)),
    )
    .needs(&[Feature::ShimEcho]),
];

fn chat_body() -> Value {
    json!({"model": "conformance-model", "messages": [{"role": "user", "content": "hi"}]})
}

async fn echo(ctx: &Ctx, path: &str) -> CaseResult {
    let reply = ctx.post_json(path, &chat_body()).await?;
    expect_status(&reply, 200, path)?;
    let body = reply.json()?;
    ensure_eq!(body.pointer("/choices/0/message/content").and_then(Value::as_str), Some("shim ok"), "content");
    let redacted = redact(&body, &[("/id", Volatile::Id), ("/created", Volatile::UnixSeconds)])?;
    ctx.snapshot("shim_echo", &redacted)
}

async fn no_provider(ctx: &Ctx) -> CaseResult {
    let reply = ctx.post_json("/v1/chat/completions", &chat_body()).await?;
    expect_status(&reply, 400, "shim without provider")?;
    let body = reply.json()?;
    let message = body
        .pointer("/error/message")
        .or_else(|| body.get("detail"))
        .and_then(Value::as_str)
        .ok_or_else(|| Failure::failed(format!("no error message in {}", excerpt(&body.to_string()))))?;
    for needle in ["OPENAI_API_KEY", "OLLAMA_BASE_URL"] {
        ensure!(message.contains(needle), "the guidance should mention {needle}: {message}");
    }
    Ok(())
}

async fn error_shape(ctx: &Ctx) -> CaseResult {
    let reply = ctx.post_raw("/v1/chat/completions", b"{not json".to_vec()).await?;
    ensure!((400..500).contains(&reply.status), "malformed JSON should get a 4xx, got {}", reply.status);
    let body = reply.json()?;
    if body.get("error").is_none() && body.get("detail").is_some() {
        // The façade's `{"detail": …}` shape on this route: the OpenAI error shape (EXT) is absent.
        return Err(Failure::unsupported(format!(
            "errors use the `detail` shape here: {}",
            excerpt(&body.to_string())
        )));
    }
    let err = body
        .get("error")
        .and_then(Value::as_object)
        .ok_or_else(|| Failure::failed(format!("no `error` object: {}", excerpt(&body.to_string()))))?;
    for key in ["message", "type", "param", "code"] {
        ensure!(err.contains_key(key), "error.{key} is missing: {body}");
    }
    let redacted = redact(
        &body,
        &[("/error/message", Volatile::Message), ("/error/type", Volatile::Id), ("/error/code", Volatile::Id)],
    )?;
    ctx.snapshot("shim_error", &redacted)
}

/// The `data:` payloads of an event stream, in order.
fn sse_data(reply: &Reply) -> Vec<String> {
    reply.text().lines().filter_map(|l| l.strip_prefix("data:")).map(|d| d.trim().to_owned()).collect()
}

async fn stream(ctx: &Ctx, include_usage: bool) -> CaseResult {
    let mut body = chat_body();
    body["stream"] = json!(true);
    if include_usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    let reply = ctx.post_json("/v1/chat/completions", &body).await?;
    expect_status(&reply, 200, "streaming shim")?;
    if reply.content_type().starts_with("application/json") {
        // A whole completion answered to `stream: true`: streaming (EXT) is not implemented.
        return Err(Failure::unsupported("`stream: true` is answered with a JSON completion, not a stream"));
    }
    ensure!(
        reply.content_type().starts_with("text/event-stream"),
        "content-type should be text/event-stream, got {:?}",
        reply.content_type()
    );
    let data = sse_data(&reply);
    ensure_eq!(data.last().map(String::as_str), Some("[DONE]"), "last event");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).map_err(|e| Failure::failed(format!("event is not JSON ({e}): {d}"))))
        .collect::<Result<_, _>>()?;
    ensure!(!chunks.is_empty(), "no chunks before [DONE]");
    let (id, created) = (chunks[0].get("id").cloned(), chunks[0].get("created").cloned());
    let mut text = String::new();
    for c in &chunks {
        ensure_eq!(c.get("object").and_then(Value::as_str), Some("chat.completion.chunk"), "chunk object");
        ensure!(
            c.get("id") == id.as_ref() && c.get("created") == created.as_ref(),
            "every chunk must carry the same id and created: {c}"
        );
        if let Some(t) = c.pointer("/choices/0/delta/content").and_then(Value::as_str) {
            text.push_str(t);
        }
    }
    ensure_eq!(text, "shim ok".to_owned(), "streamed text");
    let usage_chunks: Vec<&Value> =
        chunks.iter().filter(|c| c.get("choices").and_then(Value::as_array).is_some_and(Vec::is_empty)).collect();
    if include_usage {
        ensure_eq!(usage_chunks.len(), 1, "usage chunks");
        ensure!(
            usage_chunks[0].pointer("/usage/total_tokens").is_some_and(Value::is_u64),
            "usage chunk lacks usage.total_tokens"
        );
        ensure!(
            std::ptr::eq(usage_chunks[0], &chunks[chunks.len() - 1]),
            "the usage chunk must come last, before [DONE]"
        );
    } else {
        ensure_eq!(usage_chunks.len(), 0, "usage chunks without include_usage");
    }
    Ok(())
}
