//! §11 EXT Keys: with the suite's keys file, every route but the open ones needs a key (401 with
//! `WWW-Authenticate`, in the route's error shape), a key's `backends` limit what it may run (403),
//! its `rpm` how often it may call (429 with `Retry-After`), and no key ever comes back in a reply.
//!
//! The suite sends its full key with every request (see `transport`); these cases take it off, or
//! send another one.

use serde_json::json;

use crate::case::{Case, Level, Profile};
use crate::checks::{expect_detail, expect_not_echoed, expect_status, openai_error, run_body, uuid_like};
use crate::failure::{CaseResult, Failure, ensure, excerpt};
use crate::features::{AUTH_ECHO_ONLY_KEY, AUTH_KEY, AUTH_RPM, AUTH_RPM_KEY, Feature};
use crate::shape::{Volatile, redact};
use crate::target::Ctx;
use crate::transport::{Reply, Request};

const KEYS: &str = "§11 EXT Keys";

pub const CASES: &[Case] = &[
    Case::new(
        "auth.missing_key.detail_shape",
        Profile::Extended,
        Level::Recommended,
        KEYS,
        "`POST /agent/run` without a key answers 401 with `WWW-Authenticate` and a `detail`",
        |ctx| Box::pin(missing_key_detail(ctx)),
    )
    .needs(&[Feature::Auth]),
    Case::new(
        "auth.missing_key.openai_shape",
        Profile::Extended,
        Level::Recommended,
        KEYS,
        "`GET /v1/models` and `POST /v1/chat/completions` without a key answer 401 in OpenAI's error shape",
        |ctx| Box::pin(missing_key_openai(ctx)),
    )
    .needs(&[Feature::Auth]),
    Case::new(
        "auth.wrong_key.refused_not_echoed",
        Profile::Extended,
        Level::Recommended,
        KEYS,
        "a wrong key (as Bearer or x-api-key) answers 401, and the reply never repeats it",
        |ctx| Box::pin(wrong_key(ctx)),
    )
    .needs(&[Feature::Auth]),
    Case::new(
        "auth.x_api_key.accepted",
        Profile::Extended,
        Level::Recommended,
        KEYS,
        "the key in `x-api-key` instead of `Authorization` is accepted",
        |ctx| Box::pin(x_api_key(ctx)),
    )
    .needs(&[Feature::Auth]),
    Case::new(
        "auth.open_routes.no_key_needed",
        Profile::Extended,
        Level::Recommended,
        KEYS,
        "`/ready` and `/healthz` answer 200 without a key",
        |ctx| Box::pin(open_routes(ctx)),
    )
    .needs(&[Feature::Auth]),
    Case::new(
        "auth.backends.outside_the_list_is_403",
        Profile::Extended,
        Level::Recommended,
        KEYS,
        "a key limited to `echo` gets 403 naming the backend for `local`, and runs `echo`",
        |ctx| Box::pin(backends(ctx)),
    )
    .needs(&[Feature::Auth, Feature::Dummy]),
    Case::new(
        "auth.rpm.third_request_is_429",
        Profile::Extended,
        Level::Recommended,
        KEYS,
        "a key with rpm 2: a third request within a minute gets 429 with `Retry-After`, in each route's shape",
        |ctx| Box::pin(rpm(ctx)),
    )
    .needs(&[Feature::Auth]),
];

fn expect_challenge(reply: &Reply, what: &str) -> CaseResult {
    expect_status(reply, 401, what)?;
    ensure!(
        reply.headers.contains_key("www-authenticate"),
        "{what}: a 401 must carry `WWW-Authenticate`; headers: {:?}",
        reply.headers
    );
    Ok(())
}

async fn missing_key_detail(ctx: &Ctx) -> CaseResult {
    let reply = ctx.request(Request::post_json("/agent/run", &run_body("echo", "hi")).without_key()).await?;
    expect_challenge(&reply, "POST /agent/run without a key")?;
    expect_detail(&reply, Some(401), &[], "POST /agent/run without a key")?;
    ctx.snapshot("error_detail", &redact(&reply.json()?, &[("/detail", Volatile::Message)])?)
}

async fn missing_key_openai(ctx: &Ctx) -> CaseResult {
    let chat = json!({"model": "conformance-model", "messages": [{"role": "user", "content": "hi"}]});
    for request in [Request::get("/v1/models"), Request::post_json("/v1/chat/completions", &chat)] {
        let what = format!("{} {} without a key", request.method, request.path);
        let reply = ctx.request(request.without_key()).await?;
        expect_challenge(&reply, &what)?;
        openai_error(&reply, 401, &what)?;
        let rules =
            [("/error/message", Volatile::Message), ("/error/type", Volatile::Id), ("/error/code", Volatile::Id)];
        ctx.snapshot("shim_error", &redact(&reply.json()?, &rules)?)?;
    }
    Ok(())
}

async fn wrong_key(ctx: &Ctx) -> CaseResult {
    let wrong = format!("sk-conformance-wrong-{}", uuid_like());
    for header in ["authorization", "x-api-key"] {
        let value = if header == "authorization" { format!("Bearer {wrong}") } else { wrong.clone() };
        let run = Request::post_json("/agent/run", &run_body("echo", "hi"));
        for request in [run, Request::get("/v1/models")] {
            let what = format!("{} {} with a wrong key in `{header}`", request.method, request.path);
            let reply = ctx.request(request.without_key().header(header, &value)).await?;
            expect_challenge(&reply, &what)?;
            expect_not_echoed(&reply, &[&wrong], &what)?;
        }
    }
    Ok(())
}

async fn x_api_key(ctx: &Ctx) -> CaseResult {
    let reply = ctx.request(Request::get("/v1/models").without_key().header("x-api-key", AUTH_KEY)).await?;
    expect_status(&reply, 200, "GET /v1/models with the key in x-api-key")
}

async fn open_routes(ctx: &Ctx) -> CaseResult {
    for path in ["/ready", "/healthz"] {
        let reply = ctx.request(Request::get(path).without_key()).await?;
        expect_status(&reply, 200, &format!("GET {path} without a key"))?;
    }
    Ok(())
}

async fn backends(ctx: &Ctx) -> CaseResult {
    let limited = format!("Bearer {AUTH_ECHO_ONLY_KEY}");
    let local = Request::post_json("/agent/run", &run_body("local", "hi")).header("authorization", &limited);
    let reply = ctx.request(local).await?;
    if reply.status == 200 {
        return Err(Failure::unsupported("a key whose `backends` is [echo] ran `local`: per-key backends are absent"));
    }
    expect_detail(&reply, Some(403), &["local"], "`local` with a key limited to [echo]")?;
    expect_not_echoed(&reply, &[AUTH_ECHO_ONLY_KEY, AUTH_KEY], "the 403")?;
    let echo = Request::post_json("/agent/run", &run_body("echo", "hi")).header("authorization", &limited);
    let reply = ctx.request(echo).await?;
    expect_status(&reply, 200, "`echo` with a key limited to [echo]")
}

/// Up to `AUTH_RPM + 1` requests on `/v1/models`, then one on `/agent/run`. A run within a minute
/// of an earlier one may meet the limit sooner (the earlier requests still count); what must hold
/// is that no more than `AUTH_RPM` get through and every refusal says when to come back.
async fn rpm(ctx: &Ctx) -> CaseResult {
    let key = format!("Bearer {AUTH_RPM_KEY}");
    let mut passed = 0;
    let mut refusal = None;
    for n in 1..=AUTH_RPM + 1 {
        let reply = ctx.request(Request::get("/v1/models").header("authorization", &key)).await?;
        match reply.status {
            200 => passed += 1,
            429 => {
                refusal = Some(reply);
                break;
            }
            _ => {
                return Err(Failure::failed(format!(
                    "request {n} of the rpm-{AUTH_RPM} key: HTTP {}: {}",
                    reply.status,
                    excerpt(&reply.text())
                )));
            }
        }
    }
    let Some(refused) = refusal else {
        return Err(Failure::unsupported(format!(
            "{passed} requests within a minute passed with an `rpm: {AUTH_RPM}` key: per-key rpm is absent"
        )));
    };
    check_refusal(&refused, "GET /v1/models over the rpm")?;
    openai_error(&refused, 429, "GET /v1/models over the rpm")?;
    let reply =
        ctx.request(Request::post_json("/agent/run", &run_body("echo", "hi")).header("authorization", &key)).await?;
    check_refusal(&reply, "POST /agent/run over the rpm")?;
    expect_detail(&reply, Some(429), &[], "POST /agent/run over the rpm")
}

/// A 429 whose `Retry-After` is whole seconds, at least 1 and at most the one-minute window.
fn check_refusal(reply: &Reply, what: &str) -> CaseResult {
    expect_status(reply, 429, what)?;
    let value = reply.headers.get("retry-after").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let secs = value.trim().parse::<u64>().ok();
    ensure!(
        secs.is_some_and(|s| (1..=60).contains(&s)),
        "{what}: `Retry-After` should be whole seconds from 1 to 60, got {value:?}"
    );
    expect_not_echoed(reply, &[AUTH_RPM_KEY], what)
}
