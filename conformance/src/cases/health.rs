//! §1 `GET /ready`, `GET /healthz`, `GET /v1/models`.

use serde_json::Value;

use crate::case::{Case, Level, Profile};
use crate::checks::expect_status;
use crate::failure::{CaseResult, Failure, ensure, ensure_eq};
use crate::fakes::openai_upstream::MODELS;
use crate::features::Feature;
use crate::shape::{Volatile, redact};
use crate::target::Ctx;

pub const CASES: &[Case] = &[
    Case::new(
        "health.ready.shape",
        Profile::Core,
        Level::Recommended,
        "§1 GET /ready",
        "GET /ready answers ok:true and four hints of the right types",
        |ctx| Box::pin(ready_shape(ctx)),
    ),
    Case::new(
        "health.ready.hints_hide_values",
        Profile::Core,
        Level::Recommended,
        "§1 GET /ready — hints never carry values",
        "hints say whether a setting is present, never its value",
        |ctx| Box::pin(hints_hide_values(ctx)),
    ),
    Case::new(
        "health.healthz.shape",
        Profile::Core,
        Level::Recommended,
        "§1 GET /healthz",
        "GET /healthz reports host, port, start time, delay and hints",
        |ctx| Box::pin(healthz_shape(ctx)),
    ),
    Case::new(
        "models.list.shape",
        Profile::Core,
        Level::Required,
        "§1 GET /v1/models",
        "GET /v1/models is an OpenAI model list — required: the openai Python SDK's `models.list()` pages over `data`: \
         another shape lists no model, silently",
        |ctx| Box::pin(models_shape(ctx)),
    ),
    Case::new(
        "models.list.configured_ids",
        Profile::Extended,
        Level::Recommended,
        "§1 GET /v1/models — EXT ids are the configured aliases plus dummy",
        "GET /v1/models lists `dummy` when it is allowed, not a hard-coded name",
        |ctx| Box::pin(models_configured(ctx)),
    )
    .needs(&[Feature::Dummy]),
];

const HINT_RULES: &[(&str, Volatile)] = &[
    ("/hints/OPENAI_API_KEY", Volatile::Bool),
    ("/hints/OLLAMA_BASE_URL", Volatile::Bool),
    ("/hints/LITELLM_DEFAULT_MODEL", Volatile::Bool),
    ("/hints/MINI_AGENT_OPENAI_SHIM_MODE", Volatile::Text),
];

async fn ready_shape(ctx: &Ctx) -> CaseResult {
    let reply = ctx.get("/ready").await?;
    expect_status(&reply, 200, "GET /ready")?;
    ctx.snapshot("ready", &redact(&reply.json()?, HINT_RULES)?)
}

async fn hints_hide_values(ctx: &Ctx) -> CaseResult {
    for path in ["/ready", "/healthz"] {
        let reply = ctx.get(path).await?;
        expect_status(&reply, 200, path)?;
        let body = reply.json()?;
        let hints = body
            .get("hints")
            .and_then(Value::as_object)
            .ok_or_else(|| Failure::failed(format!("{path}: no hints object")))?;
        for key in ["OPENAI_API_KEY", "OLLAMA_BASE_URL", "LITELLM_DEFAULT_MODEL"] {
            ensure!(
                hints.get(key).is_some_and(Value::is_boolean),
                "{path}: hints.{key} must be a boolean, got {:?}",
                hints.get(key)
            );
        }
        // The in-process target runs with this key set; an external one may too.
        ensure!(
            !reply.text().contains(crate::features::SECRET_KEY),
            "{path}: the OpenAI key's value leaked into the response"
        );
    }
    Ok(())
}

async fn healthz_shape(ctx: &Ctx) -> CaseResult {
    let reply = ctx.get("/healthz").await?;
    expect_status(&reply, 200, "GET /healthz")?;
    let body = reply.json()?;
    ensure!(
        body.get("delay_ms").is_some_and(Value::is_u64),
        "delay_ms must be an integer, got {:?}",
        body.get("delay_ms")
    );
    let mut rules = vec![
        ("/host", Volatile::Message),
        ("/port", Volatile::Port),
        ("/started_at", Volatile::UnixSeconds),
        ("/delay_ms", Volatile::Millis),
    ];
    rules.extend_from_slice(HINT_RULES);
    ctx.snapshot("healthz", &redact(&body, &rules)?)
}

async fn models_shape(ctx: &Ctx) -> CaseResult {
    let reply = ctx.get("/v1/models").await?;
    expect_status(&reply, 200, "GET /v1/models")?;
    let body = reply.json()?;
    ensure_eq!(body.get("object").and_then(Value::as_str), Some("list"), "object");
    let data = body.get("data").and_then(Value::as_array).ok_or_else(|| Failure::failed("data must be an array"))?;
    for (i, m) in data.iter().enumerate() {
        ensure!(m.get("id").is_some_and(Value::is_string), "data[{i}].id must be a string: {m}");
        ensure_eq!(m.get("object").and_then(Value::as_str), Some("model"), "data[{i}].object");
    }
    Ok(())
}

async fn models_configured(ctx: &Ctx) -> CaseResult {
    let reply = ctx.get("/v1/models").await?;
    expect_status(&reply, 200, "GET /v1/models")?;
    let body = reply.json()?;
    let ids: Vec<&str> = body
        .pointer("/data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("id")?.as_str())
        .collect();
    if !ids.contains(&"dummy") {
        // A fixed list that ignores the configuration: the configured ids (EXT) are absent.
        return Err(Failure::unsupported(format!("/v1/models lists fixed ids {ids:?}, not the configured ones")));
    }
    // The provider fake's own models are listed too when the target is pointed at it
    // (`openai.models.provider_listed` checks them); the shape here is the configured ids'.
    let mut configured = body.clone();
    if let Some(data) = configured.get_mut("data").and_then(Value::as_array_mut) {
        data.retain(|m| !m["id"].as_str().is_some_and(|id| MODELS.contains(&id)));
    }
    ctx.snapshot("models", &redact(&configured, &[("/data/*/created", Volatile::UnixSeconds)])?)
}
