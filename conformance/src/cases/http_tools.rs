//! §4 The HTTP tools invoker, through `/agent/run` with `tool_backend:"http"`, against the suite's
//! tools fakes (wiremock, and a raw TCP server for byte-level checks).

use serde_json::{Value, json};

use crate::case::{Case, Level, Profile};
use crate::checks::{expect_status, tool_contents, uuid_like};
use crate::failure::{CaseResult, Failure, ensure, ensure_eq, excerpt};
use crate::fakes::provider::script_marker;
use crate::fakes::tools::NONCE_HEADER;
use crate::features::Feature;
use crate::target::Ctx;

const NEEDS: &[Feature] = &[Feature::ProviderFake];

pub const CASES: &[Case] = &[
    Case::new(
        "http.tools.list_and_invoke",
        Profile::Core,
        Level::Recommended,
        "§4 GET /tools, POST /invoke; reply text",
        "a scripted echo call reaches /invoke once and its text is the answer",
        |ctx| Box::pin(list_and_invoke(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "http.tools.wrapped_list",
        Profile::Extended,
        Level::Recommended,
        "§4 EXT {\"tools\":[…]}",
        "a {\"tools\":[…]} listing works like an array",
        |ctx| Box::pin(wrapped_list(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "http.tools.listed_once_per_run",
        Profile::Core,
        Level::Recommended,
        "§4 /tools once per run",
        "two iterations fetch /tools once",
        |ctx| Box::pin(listed_once(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "http.invoke.arguments_as_received",
        Profile::Core,
        Level::Faithful,
        "§4 arguments passed as received",
        "the model's argument string reaches /invoke unchanged",
        |ctx| Box::pin(arguments_as_received(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "http.headers.authorization_both_routes",
        Profile::Core,
        Level::Recommended,
        "§4 Authorization passes through on /tools and /invoke",
        "request headers reach both routes",
        |ctx| Box::pin(authorization_both(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "http.headers.env_merge_precedence",
        Profile::Core,
        Level::Recommended,
        "§4 MINI_AGENT_TOOL_HTTP_HEADERS merged; the request wins case-insensitively",
        "env headers are sent, and a request header overrides one differing only in case",
        |ctx| Box::pin(env_merge(ctx)),
    )
    .needs(&[Feature::ProviderFake, Feature::ToolEnvHeaders]),
    Case::new(
        "http.headers.env_only_to_the_default_base",
        Profile::Extended,
        Level::Recommended,
        "§11 the server's tools-server headers go only to MINI_AGENT_TOOL_HTTP_DEFAULT_BASE",
        "a tools server the request names (not the configured one) never sees the operator's headers",
        |ctx| Box::pin(env_not_to_request_urls(ctx)),
    )
    .needs(&[Feature::ProviderFake, Feature::ToolEnvHeaders]),
    Case::new(
        "http.headers.casing_on_the_wire",
        Profile::Core,
        Level::Faithful,
        "§4 request header names keep their casing on the wire (raw bytes)",
        "header names arrive byte-for-byte as the request gave them",
        |ctx| Box::pin(casing(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "http.retry.429_then_200",
        Profile::Core,
        Level::Recommended,
        "§4 429: bounded retries honouring Retry-After",
        "one 429 then 200: exactly two POSTs and success",
        |ctx| Box::pin(retry_once(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "http.retry.429_twice_fails",
        Profile::Core,
        Level::Recommended,
        "§4 429: still 429 after the retries → HTTP 429 error",
        "two 429s with one retry: exactly two POSTs, then the error",
        |ctx| Box::pin(retry_exhausted(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "http.retry.retry_after_http_date",
        Profile::Core,
        Level::Recommended,
        "§4 Retry-After as an HTTP date",
        "a Retry-After date is honoured",
        |ctx| Box::pin(retry_date(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "http.errors.5xx_body_tail",
        Profile::Core,
        Level::Recommended,
        "§4 non-2xx → HTTP <status>: <first 256 chars>",
        "a 500 becomes `HTTP 500: <≤256 chars>`",
        |ctx| Box::pin(server_500(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "http.reply.non_json_is_raw_text",
        Profile::Core,
        Level::Recommended,
        "§4 non-JSON reply → raw text",
        "a text/plain reply is the tool output as is",
        |ctx| Box::pin(non_json(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "http.reply.json_without_text",
        Profile::Core,
        Level::Recommended,
        "§4 JSON object without text/result/answer → JSON text",
        "an object without text fields is passed as JSON text",
        |ctx| Box::pin(json_without_text(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "http.list.error_is_reported",
        Profile::Core,
        Level::Recommended,
        "§4 /tools non-2xx → HTTP <status> error",
        "a failing /tools leaves no tools, and says why",
        |ctx| Box::pin(list_error(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "http.server.hang_is_a_tool_error",
        Profile::Core,
        Level::Recommended,
        "§4 timeouts → a tool error, never a hung request",
        "a tools server that never answers fails the call, not the run",
        |ctx| Box::pin(hang(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "http.server.reset_is_a_tool_error",
        Profile::Core,
        Level::Recommended,
        "§4 a reset connection → a tool error",
        "a dropped connection fails the call, not the run",
        |ctx| Box::pin(reset(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "http.server.garbage_is_a_tool_error",
        Profile::Core,
        Level::Recommended,
        "§4 10 MB of garbage never crashes the request",
        "an oversized non-JSON answer fails the call, not the run",
        |ctx| Box::pin(garbage(ctx)),
    )
    .needs(NEEDS),
];

/// An http-backend run against `base` with a nonce header (and `headers`), the model following `script`.
async fn run(ctx: &Ctx, base: String, script: Value, headers: Value) -> Result<(Value, String), Failure> {
    let nonce = uuid_like();
    let mut hdrs = json!({NONCE_HEADER: nonce});
    if let (Some(h), Some(extra)) = (hdrs.as_object_mut(), headers.as_object()) {
        h.extend(extra.clone());
    }
    let body = json!({
        "model": "openai/fake-http", "tool_backend": "http", "tool_http_base_url": base, "tool_http_headers": hdrs,
        "messages": [{"role": "user", "content": format!("task {}", script_marker(&script))}],
    });
    let reply = ctx.post_json("/agent/run", &body).await?;
    expect_status(&reply, 200, "POST /agent/run (http)")?;
    Ok((reply.json()?, nonce))
}

fn call(name: &str, arguments: Value) -> Value {
    json!({"name": name, "arguments": arguments})
}

fn first_tool(env: &Value) -> String {
    tool_contents(env).into_iter().next().unwrap_or_default()
}

async fn ok_base(ctx: &Ctx) -> Result<String, Failure> {
    Ok(format!("{}/ok", ctx.fakes()?.tools.uri()))
}

async fn list_and_invoke(ctx: &Ctx) -> CaseResult {
    let (env, nonce) =
        run(ctx, ok_base(ctx).await?, json!([{"tool_calls": [call("echo", json!({"text": "E2E"}))]}]), json!({}))
            .await?;
    ensure_eq!(env["final_answer"], json!("E2E"), "final_answer ({})", excerpt(&env.to_string()));
    ensure_eq!(env["last_tool_invocation"]["result"], json!("E2E"), "last_tool_invocation.result");
    ensure_eq!(tool_contents(&env), vec!["E2E".to_owned()], "tool messages");
    let seen = ctx.fakes()?.tools.seen(&nonce).await;
    let posts = seen.iter().filter(|s| s.method == "POST").count();
    ensure_eq!(posts, 1, "POSTs to /invoke");
    Ok(())
}

async fn wrapped_list(ctx: &Ctx) -> CaseResult {
    let base = format!("{}/wrapped", ctx.fakes()?.tools.uri());
    let (env, _) =
        run(ctx, base, json!([{"tool_calls": [call("echo", json!({"text": "wrapped"}))]}]), json!({})).await?;
    ensure_eq!(env["final_answer"], json!("wrapped"), "final_answer ({})", excerpt(&env.to_string()));
    Ok(())
}

async fn listed_once(ctx: &Ctx) -> CaseResult {
    let script = json!([{"tool_calls": [call("fail500", json!({}))]}, {"tool_calls": [call("echo", json!({"text": "second"}))]}]);
    let (env, nonce) = run(ctx, ok_base(ctx).await?, script, json!({})).await?;
    ensure_eq!(env["final_answer"], json!("second"), "final_answer ({})", excerpt(&env.to_string()));
    let gets = ctx.fakes()?.tools.seen(&nonce).await.iter().filter(|s| s.method == "GET").count();
    ensure_eq!(gets, 1, "GET /tools per run");
    Ok(())
}

async fn arguments_as_received(ctx: &Ctx) -> CaseResult {
    let raw = r#"{"text":  "spaced  out"}"#;
    let (_, nonce) =
        run(ctx, ok_base(ctx).await?, json!([{"tool_calls": [{"name": "echo", "arguments": raw}]}]), json!({})).await?;
    let seen = ctx.fakes()?.tools.seen(&nonce).await;
    let post = seen.iter().find(|s| s.method == "POST").ok_or_else(|| Failure::failed("no POST reached /invoke"))?;
    ensure_eq!(post.body, json!({"name": "echo", "arguments": raw}), "/invoke body");
    Ok(())
}

async fn authorization_both(ctx: &Ctx) -> CaseResult {
    let (_, nonce) = run(
        ctx,
        ok_base(ctx).await?,
        json!([{"tool_calls": [call("echo", json!({"text": "a"}))]}]),
        json!({"Authorization": "Bearer conformance-token"}),
    )
    .await?;
    let seen = ctx.fakes()?.tools.seen(&nonce).await;
    for route in ["GET", "POST"] {
        let req = seen
            .iter()
            .find(|s| s.method == route)
            .ok_or_else(|| Failure::failed(format!("no {route} reached the tools fake")))?;
        ensure_eq!(
            req.header("authorization"),
            vec!["Bearer conformance-token"],
            "Authorization on {route} {}",
            req.path
        );
    }
    Ok(())
}

async fn env_merge(ctx: &Ctx) -> CaseResult {
    let (_, nonce) = run(
        ctx,
        ok_base(ctx).await?,
        json!([{"tool_calls": [call("echo", json!({"text": "a"}))]}]),
        json!({"x-override": "request"}),
    )
    .await?;
    let seen = ctx.fakes()?.tools.seen(&nonce).await;
    ensure!(seen.len() >= 2, "expected GET /tools and POST /invoke, saw {}", seen.len());
    for req in &seen {
        ensure_eq!(req.header("x-env-header"), vec!["from-env"], "env header on {} {}", req.method, req.path);
        ensure_eq!(req.header("x-override"), vec!["request"], "overridden header on {} {}", req.method, req.path);
    }
    Ok(())
}

async fn env_not_to_request_urls(ctx: &Ctx) -> CaseResult {
    let raw = &ctx.fakes()?.raw_tools;
    let nonce = uuid_like();
    let body = json!({
        "model": "openai/fake-http", "tool_backend": "http", "tool_http_base_url": format!("{}/ok", raw.uri()),
        "tool_http_headers": {"X-Nonce": nonce},
        "messages": [{"role": "user", "content": format!("task {}", script_marker(&json!([{"tool_calls": [call("echo", json!({"text": "x"}))]}])))}],
    });
    let reply = ctx.post_json("/agent/run", &body).await?;
    expect_status(&reply, 200, "POST /agent/run (a tools server the request names)")?;
    let heads = raw.heads_containing(&nonce);
    ensure!(!heads.is_empty(), "the request-named tools server saw no request at all");
    for head in &heads {
        ensure!(
            !head.to_ascii_lowercase().contains("x-env-header"),
            "the operator's header reached a URL the request named:\n{head}"
        );
    }
    Ok(())
}

async fn casing(ctx: &Ctx) -> CaseResult {
    let raw = &ctx.fakes()?.raw_tools;
    let nonce = uuid_like();
    let body = json!({
        "model": "openai/fake-http", "tool_backend": "http", "tool_http_base_url": format!("{}/ok", raw.uri()),
        "tool_http_headers": {"X-MiXeD-CaSe": nonce, "authorization": "Bearer lower-case-name"},
        "messages": [{"role": "user", "content": format!("task {}", script_marker(&json!([{"tool_calls": [call("echo", json!({"text": "x"}))]}])))}],
    });
    let reply = ctx.post_json("/agent/run", &body).await?;
    expect_status(&reply, 200, "POST /agent/run (raw tools)")?;
    let heads = raw.heads_containing(&nonce);
    ensure!(
        heads.len() >= 2,
        "expected /tools and /invoke to reach the raw server with the header, saw {} head(s)",
        heads.len()
    );
    for head in heads {
        let first = head.lines().next().unwrap_or_default().to_owned();
        ensure!(
            head.contains(&format!("\r\nX-MiXeD-CaSe: {nonce}\r\n")),
            "{first}: header name casing changed on the wire:\n{head}"
        );
        ensure!(
            head.contains("\r\nauthorization: Bearer lower-case-name\r\n"),
            "{first}: `authorization` casing changed on the wire:\n{head}"
        );
    }
    Ok(())
}

async fn limited(ctx: &Ctx, times: u64, retry_after: &str) -> Result<(Value, usize), Failure> {
    let key = uuid_like();
    let script = json!([{"tool_calls": [call("limited", json!({"nonce": key, "times": times, "retry_after": retry_after}))]}, {"content": "gave up"}]);
    let (env, nonce) = run(ctx, ok_base(ctx).await?, script, json!({})).await?;
    let posts = ctx.fakes()?.tools.seen(&nonce).await.iter().filter(|s| s.method == "POST").count();
    Ok((env, posts))
}

async fn retry_once(ctx: &Ctx) -> CaseResult {
    let (env, posts) = limited(ctx, 1, "0.2").await?;
    ensure_eq!(posts, 2, "POSTs to /invoke");
    ensure_eq!(first_tool(&env), "ok after 1 429s".to_owned(), "tool message");
    Ok(())
}

async fn retry_exhausted(ctx: &Ctx) -> CaseResult {
    let (env, posts) = limited(ctx, 2, "0.1").await?;
    ensure_eq!(posts, 2, "POSTs to /invoke (one try, one retry)");
    let msg = first_tool(&env);
    ensure!(msg.starts_with("error: HTTP 429"), "expected `error: HTTP 429: …`, got {msg:?}");
    Ok(())
}

async fn retry_date(ctx: &Ctx) -> CaseResult {
    let (env, posts) = limited(ctx, 1, "date").await?;
    ensure_eq!(posts, 2, "POSTs to /invoke");
    ensure_eq!(first_tool(&env), "ok after 1 429s".to_owned(), "tool message");
    Ok(())
}

async fn server_500(ctx: &Ctx) -> CaseResult {
    let (env, _) = run(
        ctx,
        ok_base(ctx).await?,
        json!([{"tool_calls": [call("fail500", json!({}))]}, {"content": "gave up"}]),
        json!({}),
    )
    .await?;
    let msg = first_tool(&env);
    let rest = msg
        .strip_prefix("error: HTTP 500: ")
        .ok_or_else(|| Failure::failed(format!("expected `error: HTTP 500: …`, got {msg:?}")))?;
    ensure!(rest.starts_with("tools server exploded"), "the body excerpt should start the body: {rest:?}");
    ensure!(rest.chars().count() <= 256, "at most 256 characters of the body, got {}", rest.chars().count());
    ensure_eq!(env["final_answer"], json!("gave up"), "the run goes on after a failed tool");
    Ok(())
}

async fn non_json(ctx: &Ctx) -> CaseResult {
    let (env, _) = run(
        ctx,
        ok_base(ctx).await?,
        json!([{"tool_calls": [call("plain", json!({"text": "just words"}))]}]),
        json!({}),
    )
    .await?;
    ensure_eq!(first_tool(&env), "just words".to_owned(), "tool message");
    Ok(())
}

async fn json_without_text(ctx: &Ctx) -> CaseResult {
    let (env, _) =
        run(ctx, ok_base(ctx).await?, json!([{"tool_calls": [call("json_only", json!({"value": 7}))]}]), json!({}))
            .await?;
    let msg = first_tool(&env);
    let parsed: Value = serde_json::from_str(&msg)
        .map_err(|e| Failure::failed(format!("expected the JSON text, got {msg:?} ({e})")))?;
    ensure_eq!(parsed, json!({"value": 7}), "tool message");
    Ok(())
}

async fn list_error(ctx: &Ctx) -> CaseResult {
    let base = format!("{}/broken", ctx.fakes()?.tools.uri());
    let (env, _) = run(
        ctx,
        base,
        json!([{"tool_calls": [call("echo", json!({"text": "x"}))]}, {"content": "no tools"}]),
        json!({}),
    )
    .await?;
    let msg = first_tool(&env);
    ensure!(
        msg.starts_with("error:") && msg.contains("HTTP 500"),
        "the model should learn the listing failed with HTTP 500: {msg:?}"
    );
    ensure_eq!(env["final_answer"], json!("no tools"), "final_answer");
    Ok(())
}

async fn misbehaving(ctx: &Ctx, base: &str) -> CaseResult {
    let raw = &ctx.fakes()?.raw_tools;
    let body = json!({
        "model": "openai/fake-http", "tool_backend": "http", "tool_http_base_url": format!("{}/{base}", raw.uri()),
        "messages": [{"role": "user", "content": format!("task {}", script_marker(&json!([{"tool_calls": [call("echo", json!({"text": "x"}))]}, {"content": "survived"}])))}],
    });
    let reply = ctx.post_json("/agent/run", &body).await?;
    expect_status(&reply, 200, "the run survives a misbehaving tools server")?;
    let env = reply.json()?;
    ensure_eq!(env["final_answer"], json!("survived"), "final_answer ({})", excerpt(&env.to_string()));
    let msg = first_tool(&env);
    ensure!(msg.starts_with("error:"), "the call should fail with an error the model can read, got {msg:?}");
    Ok(())
}

async fn hang(ctx: &Ctx) -> CaseResult {
    misbehaving(ctx, "hang").await
}

async fn reset(ctx: &Ctx) -> CaseResult {
    misbehaving(ctx, "reset").await
}

async fn garbage(ctx: &Ctx) -> CaseResult {
    misbehaving(ctx, "garbage").await
}
