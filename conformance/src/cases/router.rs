//! §5 Routing (profile `router`): what happens when deployments fail — retries that skip the
//! failing deployment, attempts bounded, each kind of fallback, cooldowns that start and end (after
//! `allowed_fails`, after a 429's `Retry-After`), all cooling as a 429 in each route's shape, a
//! client error passed back at once, streams that fall back only before their first byte — on every
//! route, and what the router shows (`/v1/deployments`, headers, metrics).
//!
//! Against the suite's `router.yaml` (see `routing`): every case has its own groups, scripts the
//! health of its deployments through the router fakes, and counts what each deployment received by
//! a nonce of its own. The spreads of the strategies are in `router_spread`.

use std::time::Duration;

use serde_json::{Value, json};

use super::router_spread::{NEEDS, ask, attempts, chat, served};
use crate::case::{Case, Level, Profile};
use crate::checks::{expect_status, openai_error, sse_events, uuid_like};
use crate::failure::{CaseResult, Failure, ensure, ensure_eq};
use crate::fakes::router::Health;
use crate::routing::ROUTER_KEY;
use crate::target::Ctx;

const FAILURES: &str = "§5 Routing — failures: retries on other deployments, num_retries, fallbacks of each kind";
const COOLDOWN: &str = "§5 Routing — allowed_fails or one 429 cool a deployment down; all cooling is a 429";
const EVERYWHERE: &str = "§5 Routing — it applies to every model call; a stream falls back only before its first byte";
const VISIBLE: &str = "§5 Routing — x-miniagent-deployment, x-miniagent-attempts, GET /v1/deployments, /metrics";

pub const CASES: &[Case] = &[
    Case::new(
        "router.retries.skip_failing",
        Profile::Router,
        Level::Recommended,
        FAILURES,
        "a deployment answering 500 is skipped: every request is served by another, in at most 2 attempts, and after \
         allowed_fails it receives nothing",
        |ctx| Box::pin(skip_failing(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "router.retries.other_deployments_first",
        Profile::Router,
        Level::Recommended,
        FAILURES,
        "with every deployment failing, each is tried once (1 + num_retries attempts), then the default fallback \
         serves",
        |ctx| Box::pin(other_deployments_first(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "router.fallbacks.generic",
        Profile::Router,
        Level::Recommended,
        FAILURES,
        "a group whose only deployment fails is retried num_retries times, then its `fallbacks` group serves",
        |ctx| Box::pin(generic_fallback(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "router.fallbacks.context_window",
        Profile::Router,
        Level::Recommended,
        FAILURES,
        "a 400 saying the context is too long goes to context_window_fallbacks; another 400 comes back as it is",
        |ctx| Box::pin(context_window(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "router.fallbacks.content_policy",
        Profile::Router,
        Level::Recommended,
        FAILURES,
        "a content-policy refusal goes to content_policy_fallbacks",
        |ctx| Box::pin(content_policy(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "router.client_error.not_retried",
        Profile::Router,
        Level::Recommended,
        FAILURES,
        "a provider 400 comes back at once: one attempt, no other deployment, no cooldown",
        |ctx| Box::pin(client_error(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "router.cooldown.allowed_fails",
        Profile::Router,
        Level::Recommended,
        COOLDOWN,
        "allowed_fails failures cool a deployment: it receives nothing until its cooldown_time has passed, then serves \
         again",
        |ctx| Box::pin(allowed_fails(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "router.cooldown.retry_after",
        Profile::Router,
        Level::Recommended,
        COOLDOWN,
        "a 429 cools a deployment for its Retry-After when longer than cooldown_time",
        |ctx| Box::pin(retry_after(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "router.cooldown.all_cooling",
        Profile::Router,
        Level::Recommended,
        COOLDOWN,
        "every deployment cooling is a 429 with Retry-After (the soonest end), OpenAI's shape on /v1, `detail` on \
         /agent/run",
        |ctx| Box::pin(all_cooling(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "router.stream.before_first_byte",
        Profile::Router,
        Level::Required,
        EVERYWHERE,
        "a stream whose deployment fails before its head falls back; one cut after its first byte does not — required: \
         the openai Python SDK concatenates deltas: a fallback after the first byte splices two deployments' answers \
         into one",
        |ctx| Box::pin(stream(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "router.routes.embeddings_responses_agent",
        Profile::Router,
        Level::Recommended,
        EVERYWHERE,
        "/v1/embeddings, /v1/responses and /agent/run are routed like chat: a failing deployment is replaced",
        |ctx| Box::pin(other_routes(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "router.deployments.listed",
        Profile::Router,
        Level::Recommended,
        VISIBLE,
        "GET /v1/deployments lists every deployment with its figures and no key",
        |ctx| Box::pin(listed(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "router.metrics.by_deployment",
        Profile::Router,
        Level::Recommended,
        VISIBLE,
        "/metrics counts attempts and availability by deployment id",
        |ctx| Box::pin(metrics(ctx)),
    )
    .needs(NEEDS),
];

/// What the fakes received for `model` with `nonce`.
async fn received(ctx: &Ctx, model: &str, nonce: &str) -> Result<usize, Failure> {
    Ok(ctx.fakes()?.router.count(model, nonce).await)
}

async fn skip_failing(ctx: &Ctx) -> CaseResult {
    let nonce = uuid_like();
    let fail = [("retry-a", Health::status(500))];
    let mut total = 0;
    for i in 0..200 {
        let reply = chat(ctx, "retry", &nonce, &fail).await?;
        expect_status(&reply, 200, &format!("request {i}"))?;
        let by = served(&reply)?;
        ensure!(by != "retry-a", "request {i} was served by the failing deployment");
        let n = attempts(&reply)?;
        ensure!((1..=2).contains(&n), "request {i} took {n} attempts: a failed deployment is not tried twice");
        total += n;
    }
    let failing = received(ctx, "retry-a", &nonce).await?;
    ensure!(failing <= 3, "retry-a received {failing} requests: after allowed_fails (3) it must cool down");
    ensure_eq!(total as usize, 200 + failing, "attempts counted = requests + the failing deployment's");
    Ok(())
}

async fn other_deployments_first(ctx: &Ctx) -> CaseResult {
    let nonce = uuid_like();
    let fail =
        [("exhaust-a", Health::status(500)), ("exhaust-b", Health::status(502)), ("exhaust-c", Health::status(503))];
    let reply = chat(ctx, "exhaust", &nonce, &fail).await?;
    expect_status(&reply, 200, "the default fallback serves")?;
    ensure_eq!(served(&reply)?, "default-c", "default_fallbacks apply to a group without fallbacks");
    ensure_eq!(attempts(&reply)?, 4, "1 + num_retries (2) in the group, then one fallback");
    for model in ["exhaust-a", "exhaust-b", "exhaust-c"] {
        ensure_eq!(received(ctx, model, &nonce).await?, 1, "{model} is tried once: other deployments come first");
    }
    Ok(())
}

async fn generic_fallback(ctx: &Ctx) -> CaseResult {
    let nonce = uuid_like();
    let reply = chat(ctx, "fb-primary", &nonce, &[("fbp-a", Health::status(500))]).await?;
    expect_status(&reply, 200, "the fallback serves")?;
    ensure_eq!(served(&reply)?, "fbb-b", "`fallbacks: [{{fb-primary: [fb-backup]}}]`");
    ensure_eq!(received(ctx, "fbp-a", &nonce).await?, 3, "the only deployment is tried 1 + num_retries times");
    ensure_eq!(attempts(&reply)?, 4, "three attempts in the group and one in the fallback");
    ensure_eq!(
        reply.headers.get("x-miniagent-deployment").and_then(|v| v.to_str().ok()),
        Some("fbb-b"),
        "the header names the deployment that served"
    );
    Ok(())
}

async fn context_window(ctx: &Ctx) -> CaseResult {
    let nonce = uuid_like();
    let long = Health::error(400, "This model's maximum context length is 8192 tokens (context_length_exceeded)");
    let reply = chat(ctx, "ctx", &nonce, &[("ctx-a", long)]).await?;
    expect_status(&reply, 200, "the context window fallback serves")?;
    ensure_eq!(served(&reply)?, "ctxbig-b", "context_window_fallbacks: [{{ctx: [ctx-big]}}]");
    ensure_eq!(attempts(&reply)?, 2, "no retry in the group: the context does not fit any of it");
    let other = uuid_like();
    let reply = chat(ctx, "ctx", &other, &[("ctx-a", Health::error(400, "temperature must be at most 2"))]).await?;
    let error = openai_error(&reply, 400, "another 400 is the client's")?;
    ensure!(error["message"].as_str().unwrap_or_default().contains("temperature"), "the provider's message: {error}");
    ensure_eq!(received(ctx, "ctxbig-b", &other).await?, 0, "no fallback for a plain 400");
    Ok(())
}

async fn content_policy(ctx: &Ctx) -> CaseResult {
    let nonce = uuid_like();
    let refused =
        Health::error(400, "Your request was rejected as a result of our safety system (content_policy_violation)");
    let reply = chat(ctx, "policy", &nonce, &[("policy-a", refused)]).await?;
    expect_status(&reply, 200, "the content policy fallback serves")?;
    ensure_eq!(served(&reply)?, "safe-c", "content_policy_fallbacks: [{{policy: [policy-safe]}}]");
    ensure_eq!(received(ctx, "default-c", &nonce).await?, 0, "not the default fallback");
    Ok(())
}

async fn client_error(ctx: &Ctx) -> CaseResult {
    let nonce = uuid_like();
    let bad = Health::error(400, "messages[0].role must be one of system, user, assistant");
    let reply = chat(ctx, "client-error", &nonce, &[("client-a", bad)]).await?;
    let error = openai_error(&reply, 400, "a provider 400 is passed back")?;
    ensure!(error["message"].as_str().unwrap_or_default().contains("role must be"), "its own message: {error}");
    ensure_eq!(received(ctx, "client-a", &nonce).await?, 1, "one attempt");
    ensure_eq!(received(ctx, "client-b", &nonce).await?, 0, "no other deployment");
    let reply = chat(ctx, "client-error", &nonce, &[]).await?;
    ensure_eq!(served(&reply)?, "client-a", "no cooldown: the order-1 deployment serves the next request");
    Ok(())
}

async fn allowed_fails(ctx: &Ctx) -> CaseResult {
    let nonce = uuid_like();
    for i in 0..3 {
        let reply = chat(ctx, "cooldown", &nonce, &[("cool-a", Health::status(500))]).await?;
        ensure_eq!(served(&reply)?, "cool-b", "failure {i} of cool-a is replaced by cool-b");
    }
    for i in 0..10 {
        let reply = chat(ctx, "cooldown", &nonce, &[]).await?;
        ensure_eq!(served(&reply)?, "cool-b", "request {i} after the third failure: cool-a is cooling");
    }
    ensure_eq!(received(ctx, "cool-a", &nonce).await?, 3, "cool-a received nothing while cooling");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let reply = chat(ctx, "cooldown", &nonce, &[]).await?;
    ensure_eq!(served(&reply)?, "cool-a", "after cooldown_time (1 s) cool-a serves again");
    Ok(())
}

async fn retry_after(ctx: &Ctx) -> CaseResult {
    let nonce = uuid_like();
    let reply = chat(ctx, "retry-after", &nonce, &[("ra-a", Health::rate_limited(2))]).await?;
    ensure_eq!(served(&reply)?, "ra-b", "a 429 is replaced by another deployment");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let reply = chat(ctx, "retry-after", &nonce, &[]).await?;
    ensure_eq!(served(&reply)?, "ra-b", "past cooldown_time (1 s) but within Retry-After (2 s): ra-a still cools");
    ensure_eq!(received(ctx, "ra-a", &nonce).await?, 1, "ra-a received nothing while cooling");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let reply = chat(ctx, "retry-after", &nonce, &[]).await?;
    ensure_eq!(served(&reply)?, "ra-a", "after its Retry-After ra-a serves again");
    Ok(())
}

async fn all_cooling(ctx: &Ctx) -> CaseResult {
    let nonce = uuid_like();
    let both = [("allcool-a", Health::rate_limited(3)), ("allcool-b", Health::rate_limited(3))];
    let reply = chat(ctx, "all-cool", &nonce, &both).await?;
    openai_error(&reply, 429, "both deployments answered 429: the last attempt's error")?;
    let reply = chat(ctx, "all-cool", &nonce, &[]).await?;
    let error = openai_error(&reply, 429, "every deployment cooling")?;
    let wait = retry_after_secs(&reply)?;
    ensure!((1..=3).contains(&wait), "Retry-After is the soonest cooldown end (≤ 3 s): {wait}; {error}");
    let run = json!({"model": "all-cool", "tool_backend": "echo", "messages": [{"role": "user", "content": format!("hi {nonce}")}]});
    let reply = ctx.post_json("/agent/run", &run).await?;
    expect_status(&reply, 429, "/agent/run while every deployment cools")?;
    ensure!(
        reply.json()?.get("detail").is_some_and(Value::is_string),
        "`detail` shape on /agent/run: {}",
        reply.text()
    );
    retry_after_secs(&reply)?;
    ensure_eq!(
        received(ctx, "allcool-a", &nonce).await? + received(ctx, "allcool-b", &nonce).await?,
        2,
        "nothing is sent while cooling"
    );
    tokio::time::sleep(Duration::from_millis(3200)).await;
    expect_status(&chat(ctx, "all-cool", &nonce, &[]).await?, 200, "after the Retry-After")
}

fn retry_after_secs(reply: &crate::transport::Reply) -> Result<u64, Failure> {
    let value = reply.headers.get("retry-after").and_then(|v| v.to_str().ok());
    value
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| Failure::failed(format!("a 429 needs Retry-After in seconds, got {value:?}")))
}

async fn stream(ctx: &Ctx) -> CaseResult {
    let nonce = uuid_like();
    let body = |script: &[(&str, Health)]| {
        let text = format!("hi {nonce} {}", crate::fakes::router::script(script));
        json!({"model": "stream", "stream": true, "messages": [{"role": "user", "content": text}]})
    };
    let reply = ctx.post_json("/v1/chat/completions", &body(&[("stream-a", Health::status(500))])).await?;
    expect_status(&reply, 200, "the failed head fell back")?;
    let events = sse_events(&reply);
    ensure!(events.iter().any(|(_, d)| d.contains("served-by beta stream-b")), "stream-b's chunks: {events:?}");
    ensure_eq!(events.last().map(|(_, d)| d.as_str()), Some("[DONE]"), "the stream ends with [DONE]");
    ensure_eq!(attempts(&reply)?, 2, "two attempts");
    let cut_nonce = uuid_like();
    let text = format!("hi {cut_nonce} {}", crate::fakes::router::script(&[("stream-a", Health::cut())]));
    let cut = json!({"model": "stream", "stream": true, "messages": [{"role": "user", "content": text}]});
    let reply = ctx.post_json("/v1/chat/completions", &cut).await?;
    expect_status(&reply, 200, "a stream that started is not replaced")?;
    let events = sse_events(&reply);
    ensure!(events.iter().any(|(_, d)| d.contains("served-by alpha stream-a")), "stream-a's first bytes: {events:?}");
    ensure!(events.last().is_some_and(|(_, d)| d.contains("\"error\"")), "it ends with an error event: {events:?}");
    ensure_eq!(received(ctx, "stream-b", &cut_nonce).await?, 0, "no fallback after the first byte");
    Ok(())
}

async fn other_routes(ctx: &Ctx) -> CaseResult {
    let nonce = uuid_like();
    let script = |m: &str| crate::fakes::router::script(&[(m, Health::status(503))]);
    let embed = json!({"model": "embed", "input": format!("{nonce} {}", script("embed-a"))});
    let reply = ctx.post_json("/v1/embeddings", &embed).await?;
    expect_status(&reply, 200, "/v1/embeddings")?;
    ensure_eq!(reply.json()?["served_by"].as_str(), Some("served-by beta embed-b"), "embeddings fall back");
    let resp = json!({"model": "resp", "input": format!("{nonce} {}", script("resp-a"))});
    let reply = ctx.post_json("/v1/responses", &resp).await?;
    expect_status(&reply, 200, "/v1/responses")?;
    let text = reply.json()?["output_text"].as_str().unwrap_or_default().to_owned();
    ensure_eq!(text, "served-by beta resp-b", "responses fall back");
    let run = json!({"model": "agent", "tool_backend": "echo",
        "messages": [{"role": "user", "content": format!("{nonce} {}", script("agent-a"))}]});
    let reply = ctx.post_json("/agent/run", &run).await?;
    expect_status(&reply, 200, "/agent/run")?;
    ensure_eq!(reply.json()?["final_answer"].as_str(), Some("served-by beta agent-b"), "/agent/run falls back");
    ensure_eq!(attempts(&reply)?, 2, "x-miniagent-attempts on /agent/run");
    for model in ["embed-a", "resp-a", "agent-a"] {
        ensure_eq!(received(ctx, model, &nonce).await?, 1, "{model} was tried once");
    }
    Ok(())
}

async fn listed(ctx: &Ctx) -> CaseResult {
    ask(ctx, "spread-uniform", &uuid_like()).await?;
    let reply = ctx.get("/v1/deployments").await?;
    expect_status(&reply, 200, "GET /v1/deployments")?;
    ensure!(!reply.text().contains(ROUTER_KEY), "the deployments' key must never be listed");
    let body = reply.json()?;
    let rows = body["data"].as_array().cloned().unwrap_or_default();
    for id in ["weight-a", "tier-b", "fbb-b", "default-c", "agent-b"] {
        let row =
            rows.iter().find(|r| r["id"] == id).ok_or_else(|| Failure::failed(format!("no row for {id}: {body}")))?;
        ensure!(row["group"].is_string() && row["available"].is_boolean(), "{id}: group and available: {row}");
        for key in ["cooldown_remaining_ms", "in_flight", "rpm_used", "tpm_used"] {
            ensure!(row[key].is_u64(), "{id}: `{key}` is a count: {row}");
        }
    }
    Ok(())
}

async fn metrics(ctx: &Ctx) -> CaseResult {
    let reply = ask(ctx, "spread-uniform", &uuid_like()).await?;
    let id = served(&reply)?;
    let text = ctx.get("/metrics").await?;
    if text.status == 404 {
        return Err(Failure::unsupported("the target serves no /metrics"));
    }
    let body = text.text();
    let line = format!("miniagent_deployment_requests_total{{deployment=\"{id}\",outcome=\"ok\"}}");
    ensure!(body.lines().any(|l| l.starts_with(&line)), "{line} is counted");
    ensure!(
        body.lines().any(|l| l == "miniagent_deployment_available{deployment=\"weight-a\"} 1"),
        "availability by deployment"
    );
    Ok(())
}
