//! §1 `POST /agent/run` — the envelope of the one-call backends, and pass-through to the provider.

use serde_json::{Value, json};

use crate::case::{Case, Level, Profile};
use crate::checks::{detail, expect_status, run_body, uuid_like};
use crate::failure::{CaseResult, ensure, ensure_eq};
use crate::fakes::provider::fail_marker;
use crate::features::Feature;
use crate::shape::{Volatile, redact};
use crate::target::Ctx;

pub const CASES: &[Case] = &[
    Case::new(
        "envelope.echo.minimal",
        Profile::Core,
        Level::Recommended,
        "§1 POST /agent/run — envelope; backends echo",
        "the echo backend makes one model call and wraps the answer in the envelope, keys in order",
        |ctx| Box::pin(one_call(ctx, "echo", "envelope_echo")),
    )
    .needs(&[Feature::Dummy]),
    Case::new(
        "envelope.router.minimal",
        Profile::Core,
        Level::Recommended,
        "§1 POST /agent/run — envelope; backends router",
        "the router backend makes one model call, same envelope as echo",
        |ctx| Box::pin(one_call(ctx, "router", "envelope_router")),
    )
    .needs(&[Feature::Dummy]),
    Case::new(
        "envelope.request.unknown_fields_ignored",
        Profile::Core,
        Level::Recommended,
        "§1 POST /agent/run — unknown fields are ignored",
        "unknown request fields are ignored, not rejected",
        |ctx| Box::pin(unknown_fields(ctx)),
    )
    .needs(&[Feature::Dummy]),
    Case::new(
        "envelope.content_parts.passthrough",
        Profile::Core,
        Level::Recommended,
        "§1 POST /agent/run — content parts passed on unchanged; §5 prefix not sent upstream",
        "content given as a list of parts reaches the provider unchanged, and the provider prefix is stripped",
        |ctx| Box::pin(content_parts(ctx)),
    )
    .needs(&[Feature::ProviderFake]),
    Case::new(
        "envelope.provider.5xx_is_502",
        Profile::Core,
        Level::Recommended,
        "§1 POST /agent/run — failures of what the service calls",
        "a provider that answers 500 ends the request with 502 naming the provider, status and body",
        |ctx| Box::pin(provider_5xx(ctx)),
    )
    .needs(&[Feature::ProviderFake]),
];

async fn one_call(ctx: &Ctx, backend: &str, snapshot: &str) -> CaseResult {
    let reply = ctx.post_json("/agent/run", &run_body(backend, "hi")).await?;
    expect_status(&reply, 200, "POST /agent/run")?;
    let body = reply.json()?;
    let answer = body.get("final_answer").cloned().unwrap_or(Value::Null);
    ensure_eq!(body.pointer("/messages"), Some(&json!([{"role": "assistant", "content": answer}])), "messages");
    ensure_eq!(body.pointer("/metrics/iterations"), Some(&json!(0)), "metrics.iterations");
    ctx.snapshot(snapshot, &redact(&body, &[("/metrics/ttotal_ms", Volatile::Millis)])?)
}

async fn unknown_fields(ctx: &Ctx) -> CaseResult {
    let mut body = run_body("echo", "hi");
    body["surprise"] = json!({"nested": [1, 2]});
    body["temperature"] = json!(0.2);
    let reply = ctx.post_json("/agent/run", &body).await?;
    expect_status(&reply, 200, "POST /agent/run with unknown fields")
}

async fn content_parts(ctx: &Ctx) -> CaseResult {
    let marker = format!("parts-{}", uuid_like());
    let parts = json!([
        {"type": "text", "text": format!("describe {marker}")},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    ]);
    let body = json!({
        "model": "openai/fake-vision", "tool_backend": "echo",
        "messages": [{"role": "user", "content": parts}]
    });
    let reply = ctx.post_json("/agent/run", &body).await?;
    expect_status(&reply, 200, "POST /agent/run with content parts")?;
    let seen = ctx.fakes()?.provider.requests_containing(&marker).await;
    ensure_eq!(seen.len(), 1, "requests reaching the provider fake");
    let sent = &seen[0];
    ensure_eq!(sent.pointer("/messages/0/content"), Some(&parts), "content parts at the provider");
    ensure_eq!(sent.get("model").and_then(Value::as_str), Some("fake-vision"), "upstream model name");
    ensure_eq!(reply.json()?.get("final_answer").and_then(Value::as_str), Some("fake: 2 parts"), "final_answer");
    Ok(())
}

async fn provider_5xx(ctx: &Ctx) -> CaseResult {
    let body = json!({
        "model": "openai/fake", "tool_backend": "echo",
        "messages": [{"role": "user", "content": format!("please {}", fail_marker(500))}]
    });
    let reply = ctx.post_json("/agent/run", &body).await?;
    expect_status(&reply, 502, "provider answered 500")?;
    let d = detail(&reply)?;
    for needle in ["openai", "500", "upstream exploded"] {
        ensure!(d.contains(needle), "detail should name `{needle}`: {d}");
    }
    ensure!(
        d.chars().count() <= 1000,
        "detail should quote a short excerpt of the body, got {} chars",
        d.chars().count()
    );
    Ok(())
}
