//! §1 `POST /agent/run` — bad input: every error class gets a precise 4xx with a readable `detail`.

use serde_json::json;

use crate::case::{Case, Level, Profile};
use crate::checks::{detail, expect_detail};
use crate::failure::{CaseResult, Failure, ensure, ensure_eq};
use crate::features::Feature;
use crate::shape::{Volatile, redact};
use crate::target::Ctx;

const BAD_INPUT: &str = "§1 POST /agent/run — bad input";

pub const CASES: &[Case] = &[
    Case::new(
        "errors.agent_run.malformed_json",
        Profile::Core,
        Level::Recommended,
        BAD_INPUT,
        "a body that is not JSON gets a 4xx with a readable detail",
        |ctx| Box::pin(malformed(ctx)),
    ),
    Case::new(
        "errors.agent_run.not_object",
        Profile::Core,
        Level::Recommended,
        BAD_INPUT,
        "a JSON body that is not an object gets 422",
        |ctx| Box::pin(rejects(ctx, || b"[1, 2]".to_vec(), Some(422), &[], "errors.agent_run.not_object")),
    ),
    Case::new(
        "errors.agent_run.messages_not_list",
        Profile::Core,
        Level::Recommended,
        BAD_INPUT,
        "`messages` that is not a list gets 422 naming the field",
        |ctx| {
            Box::pin(rejects(
                ctx,
                || json!({"model": "dummy", "messages": "hi"}).to_string().into_bytes(),
                Some(422),
                &["messages"],
                "errors.agent_run.messages_not_list",
            ))
        },
    ),
    Case::new(
        "errors.agent_run.model_missing",
        Profile::Core,
        Level::Recommended,
        BAD_INPUT,
        "a missing `model` gets 422 naming the field",
        |ctx| {
            Box::pin(rejects(
                ctx,
                || json!({"messages": []}).to_string().into_bytes(),
                Some(422),
                &["model"],
                "errors.agent_run.model_missing",
            ))
        },
    ),
    Case::new(
        "errors.agent_run.model_not_string",
        Profile::Core,
        Level::Recommended,
        BAD_INPUT,
        "a `model` that is not a string gets 422 naming the field",
        |ctx| {
            Box::pin(rejects(
                ctx,
                || json!({"model": 42, "messages": []}).to_string().into_bytes(),
                Some(422),
                &["model"],
                "errors.agent_run.model_not_string",
            ))
        },
    ),
    Case::new(
        "errors.agent_run.wrong_type",
        Profile::Core,
        Level::Recommended,
        BAD_INPUT,
        "a field of the wrong type gets 422 naming the field",
        |ctx| {
            Box::pin(rejects(
                ctx,
                || json!({"model": "dummy", "messages": [], "max_iterations": "many"}).to_string().into_bytes(),
                Some(422),
                &["max_iterations"],
                "errors.agent_run.wrong_type",
            ))
        },
    ),
    Case::new(
        "errors.agent_run.unknown_backend",
        Profile::Core,
        Level::Recommended,
        BAD_INPUT,
        "an unknown tool_backend gets 400 naming the valid ones",
        |ctx| {
            Box::pin(rejects(
                ctx,
                || json!({"model": "dummy", "messages": [], "tool_backend": "htpp"}).to_string().into_bytes(),
                Some(400),
                &["local", "http", "echo", "router"],
                "errors.agent_run.unknown_backend",
            ))
        },
    ),
    Case::new(
        "errors.agent_run.http_without_base_url",
        Profile::Core,
        Level::Recommended,
        BAD_INPUT,
        "tool_backend http without tool_http_base_url gets 400",
        |ctx| {
            Box::pin(rejects(
                ctx,
                || json!({"model": "dummy", "messages": [], "tool_backend": "http"}).to_string().into_bytes(),
                Some(400),
                &["tool_http_base_url"],
                "errors.agent_run.http_without_base_url",
            ))
        },
    ),
    Case::new(
        "errors.agent_run.invalid_model",
        Profile::Core,
        Level::Recommended,
        BAD_INPUT,
        "a model name with an unknown provider gets 400, not a crash",
        |ctx| {
            Box::pin(rejects(
                ctx,
                || {
                    json!({"model": "no-such-provider/x", "messages": [{"role": "user", "content": "hi"}], "tool_backend": "echo"}).to_string().into_bytes()
                },
                Some(400),
                &["no-such-provider"],
                "errors.agent_run.invalid_model",
            ))
        },
    ),
    Case::new(
        "errors.agent_run.header_value_crlf",
        Profile::Extended,
        Level::Recommended,
        "§4 headers — EXT values with CR/LF are rejected",
        "a tool_http_headers value with CR/LF gets 400 (it would split the request)",
        |ctx| Box::pin(header_crlf(ctx)),
    ),
    Case::new(
        "errors.agent_run.body_too_large",
        Profile::Core,
        Level::Recommended,
        "§1 POST /agent/run — bodies over the limit (default 8 MiB) → 413",
        "a 9 MiB body gets 413 with a JSON detail, not a reset connection",
        |ctx| Box::pin(too_large(ctx)),
    ),
    Case::new(
        "errors.dummy.disabled_names_variable",
        Profile::Core,
        Level::Recommended,
        "§5 dummy — allowed with MINI_AGENT_ALLOW_DUMMY=1; §1 400 when the model is disabled",
        "the dummy model when not allowed gets 400 naming MINI_AGENT_ALLOW_DUMMY",
        |ctx| Box::pin(dummy_disabled(ctx)),
    )
    .needs(&[Feature::ShimNoProvider]),
    Case::new(
        "errors.route.not_found_is_json",
        Profile::Extended,
        Level::Recommended,
        "§1 — errors are JSON with `detail`, never plain text",
        "an unknown route answers 404 with a JSON detail",
        |ctx| Box::pin(not_found(ctx)),
    ),
];

async fn rejects(ctx: &Ctx, body: fn() -> Vec<u8>, status: Option<u16>, needles: &[&str], what: &str) -> CaseResult {
    let reply = ctx.post_raw("/agent/run", body()).await?;
    expect_detail(&reply, status, needles, what)?;
    ctx.snapshot("error_detail", &redact(&reply.json()?, &[("/detail", Volatile::Message)])?)
}

async fn header_crlf(ctx: &Ctx) -> CaseResult {
    let body = json!({"model": "dummy", "messages": [], "tool_backend": "http", "tool_http_base_url": "http://127.0.0.1:9",
                      "tool_http_headers": {"X-Evil": "a\r\nInjected: yes"}});
    let reply = ctx.post_json("/agent/run", &body).await?;
    if !(400..500).contains(&reply.status) {
        return Err(Failure::unsupported(format!("header values are not validated (HTTP {})", reply.status)));
    }
    expect_detail(&reply, Some(400), &["X-Evil"], "errors.agent_run.header_value_crlf")?;
    ctx.snapshot("error_detail", &redact(&reply.json()?, &[("/detail", Volatile::Message)])?)
}

async fn malformed(ctx: &Ctx) -> CaseResult {
    for body in [&b"{\"model\": \"dummy\", \"messages\": ["[..], b"not json at all", b""] {
        let reply = ctx.post_raw("/agent/run", body.to_vec()).await?;
        expect_detail(&reply, None, &[], &format!("body {:?}", String::from_utf8_lossy(body)))?;
    }
    Ok(())
}

async fn too_large(ctx: &Ctx) -> CaseResult {
    // A syntactically valid request, so only its size can be the reason for refusing it.
    let filler = "a".repeat(9 * 1024 * 1024);
    let body = json!({"model": "dummy", "tool_backend": "echo", "messages": [{"role": "user", "content": filler}]});
    let reply = ctx.post_raw("/agent/run", body.to_string().into_bytes()).await?;
    expect_detail(&reply, Some(413), &[], "9 MiB body")
}

async fn dummy_disabled(ctx: &Ctx) -> CaseResult {
    let reply = ctx.post_json("/agent/run", &crate::checks::run_body("echo", "hi")).await?;
    expect_detail(&reply, Some(400), &["MINI_AGENT_ALLOW_DUMMY"], "dummy while not allowed")
}

async fn not_found(ctx: &Ctx) -> CaseResult {
    let reply = ctx.get("/no/such/route").await?;
    ensure_eq!(reply.status, 404, "status");
    if !reply.content_type().starts_with("application/json") {
        return Err(Failure::unsupported("unknown routes answer a non-JSON 404"));
    }
    let d = detail(&reply)?;
    ensure!(!d.is_empty(), "detail must not be empty");
    Ok(())
}
