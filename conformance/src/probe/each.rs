//! The probes themselves: one small request (or a few) per feature, each ending in `Ok(evidence)`
//! or `Err(why not)`, never in a failed run. Which probe belongs to which feature, and what it
//! waits for, is the feature table's `discovery` column (`features`); running them is `probe`.
//!
//! Scripted provider answers are complete, realistic OpenAI objects (ids, `created`, `model`,
//! `system_fingerprint`, `usage`): a gateway with a strict decoder must accept them, or it is
//! skipped for what is only the probe's shortcut.
//!
//! It imports nothing of the feature table, so the table can name these functions.

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::checks::{run_body, tool_contents, uuid_like};
use crate::failure::Failure;
use crate::fakes::openai_upstream::Reply as Upstream;
use crate::fakes::provider::script_marker;
use crate::routing::{self, RouterFile};
use crate::socket::{Ending, SLOW_CLIENT_TIMEOUT_SECS, send_partial};
use crate::target::Ctx;
use crate::transport::{Reply, Request};

/// The model the probes that go through the provider fake ask for.
const PROBE_MODEL: &str = "openai/conformance-probe";

/// `Ok(evidence)` when the feature answered, `Err(why not)` otherwise.
pub type Probed = Result<String, String>;

/// A probe as the feature table names it.
pub type ProbeFn = for<'a> fn(&'a Ctx) -> BoxFuture<'a, Probed>;

/// A chat completion as OpenAI sends it, every field a strict decoder asks for present.
pub fn chat_completion(content: &str) -> Value {
    json!({
        "id": format!("chatcmpl-{}", uuid_like()),
        "object": "chat.completion",
        "created": now(),
        "model": "conformance-probe",
        "system_fingerprint": "fp_conformance_probe",
        "service_tier": "default",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null, "annotations": []},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {
            "prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        }
    })
}

/// A Responses API answer as OpenAI sends it: one message item, usage, status.
pub fn response(text: &str) -> Value {
    json!({
        "id": format!("resp_{}", uuid_like()),
        "object": "response",
        "created_at": now(),
        "status": "completed",
        "error": null,
        "incomplete_details": null,
        "model": "conformance-probe",
        "output": [{
            "type": "message", "id": format!("msg_{}", uuid_like()), "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}]
        }],
        "parallel_tool_calls": true,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 9, "output_tokens": 3, "total_tokens": 12,
            "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}
        }
    })
}

/// Seconds since the epoch, as `created` carries them.
fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1_700_000_000, |d| d.as_secs())
}

/// The router probe of one router file.
pub async fn router(ctx: &Ctx, file: RouterFile) -> Probed {
    routing::probe(ctx, file).await
}

/// A short quote of a reply, for one log line.
fn quote(reply: &Reply) -> String {
    let full = reply.text();
    let mut text: String = full.chars().take(120).collect();
    if full.chars().nth(120).is_some() {
        text.push('…');
    }
    format!("HTTP {}: {}", reply.status, text.replace('\n', " "))
}

fn sent(result: Result<Reply, Failure>) -> Result<Reply, String> {
    result.map_err(|f| f.message().to_owned())
}

/// An `/agent/run` through the provider fake playing `script`, with `extra` fields merged in.
async fn scripted_run(ctx: &Ctx, backend: &str, script: Value, extra: Value) -> Result<Reply, String> {
    let mut body = json!({
        "model": PROBE_MODEL, "tool_backend": backend,
        "messages": [{"role": "user", "content": format!("probe {}", script_marker(&script))}],
    });
    if let (Some(b), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(extra.clone());
    }
    sent(ctx.post_json("/agent/run", &body).await)
}

fn envelope(reply: &Reply) -> Result<Value, String> {
    if reply.status != 200 {
        return Err(format!("the probe run answered {}", quote(reply)));
    }
    reply.json().map_err(|f| f.message().to_owned())
}

pub async fn dummy(ctx: &Ctx) -> Probed {
    let reply = sent(ctx.post_json("/agent/run", &run_body("echo", "conformance probe")).await)?;
    match reply.status {
        200 => Ok("an echo run on model `dummy` answered 200".to_owned()),
        _ => Err(format!("an echo run on model `dummy` answered {}", quote(&reply))),
    }
}

pub async fn shim_echo(ctx: &Ctx) -> Probed {
    let body = json!({"model": "conformance-probe", "messages": [{"role": "user", "content": "probe"}]});
    let reply = sent(ctx.post_json("/v1/chat/completions", &body).await)?;
    let content = reply.json().ok().and_then(|v| v.pointer("/choices/0/message/content").cloned());
    match content.as_ref().and_then(Value::as_str) {
        Some("shim ok") if reply.status == 200 => Ok("the shim answered `shim ok`".to_owned()),
        _ => Err(format!("the shim answered {}", quote(&reply))),
    }
}

pub async fn no_provider(ctx: &Ctx) -> Probed {
    let ready = sent(ctx.get("/ready").await)?.json().map_err(|f| f.message().to_owned())?;
    let hint = |k: &str| ready.pointer(&format!("/hints/{k}")).cloned().unwrap_or_default();
    if hint("OPENAI_API_KEY") != json!(false) || hint("OLLAMA_BASE_URL") != json!(false) {
        return Err("`/ready` hints show a provider key or Ollama base".to_owned());
    }
    if hint("MINI_AGENT_OPENAI_SHIM_MODE") == json!("echo") {
        return Err("the shim is in echo mode".to_owned());
    }
    let body = json!({"model": "conformance-probe", "messages": [{"role": "user", "content": "probe"}]});
    let reply = sent(ctx.post_json("/v1/chat/completions", &body).await)?;
    if reply.status == 400 && reply.text().contains("OPENAI_API_KEY") {
        // A target whose dummy model answers has something to call: it is not one without a
        // provider, whatever its shim says.
        if dummy(ctx).await.is_ok() {
            return Err("the `dummy` model answers, so the target has a model to call".to_owned());
        }
        Ok("`/ready` shows no provider and the shim answers 400 with guidance".to_owned())
    } else {
        Err(format!("the shim answered {}, not a 400 naming OPENAI_API_KEY", quote(&reply)))
    }
}

pub async fn provider(ctx: &Ctx) -> Probed {
    let fakes = ctx.fakes().map_err(|f| f.message().to_owned())?;
    let marker = uuid_like();
    let body = json!({
        "model": PROBE_MODEL, "tool_backend": "echo",
        "messages": [{"role": "user", "content": format!("probe {marker}")}],
    });
    let reply = sent(ctx.post_json("/agent/run", &body).await)?;
    if fakes.provider.requests_containing(&marker).await.is_empty() {
        return Err(format!(
            "a run on `{PROBE_MODEL}` did not reach the provider fake at {} ({})",
            fakes.provider.base_url(),
            quote(&reply)
        ));
    }
    Ok(format!("a run on `{PROBE_MODEL}` reached the provider fake"))
}

/// A chat completion on the OpenAI surface whose answer the provider fake gives as `upstream`.
async fn openai_chat(ctx: &Ctx, upstream: &Upstream, marker: &str) -> Result<Reply, String> {
    let body = json!({
        "model": PROBE_MODEL,
        "messages": [{"role": "user", "content": format!("probe {marker} {}", upstream.marker())}],
    });
    sent(ctx.post_json("/v1/chat/completions", &body).await)
}

pub async fn openai_proxy(ctx: &Ctx) -> Probed {
    let marker = uuid_like();
    let reply = openai_chat(ctx, &Upstream::json(chat_completion(&marker)), &marker).await?;
    let content = reply.json().ok().and_then(|v| v.pointer("/choices/0/message/content").cloned());
    if reply.status == 200 && content == Some(json!(marker)) {
        Ok(format!("a chat completion on `{PROBE_MODEL}` answered what the provider fake was scripted to"))
    } else {
        Err(format!(
            "a chat completion on `{PROBE_MODEL}` answered {}, not the provider fake's scripted answer",
            quote(&reply)
        ))
    }
}

/// A Responses request whose answer the provider fake gives as `upstream` (on either wire).
async fn responses(ctx: &Ctx, upstream: &Upstream, marker: &str, extra: Value) -> Result<Reply, String> {
    let mut body = json!({"model": PROBE_MODEL, "input": format!("probe {marker} {}", upstream.marker())});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    sent(ctx.post_json("/v1/responses", &body).await)
}

pub async fn responses_reject(ctx: &Ctx) -> Probed {
    let marker = uuid_like();
    let answer = Upstream::json(chat_completion("ok"));
    let reply = responses(ctx, &answer, &marker, json!({"tools": [{"type": "web_search"}]})).await?;
    if reply.status == 400 && reply.text().contains("tools[0]") {
        Ok("a Responses request offering `web_search` was refused naming tools[0]".to_owned())
    } else {
        Err(format!("a Responses request offering `web_search` answered {}", quote(&reply)))
    }
}

pub async fn responses_passthrough(ctx: &Ctx) -> Probed {
    let fakes = ctx.fakes().map_err(|f| f.message().to_owned())?;
    let marker = uuid_like();
    let reply = responses(ctx, &Upstream::json(response("ok")), &marker, json!({})).await?;
    let server = fakes.provider.server();
    let got = crate::fakes::openai_upstream::received_containing(server, &marker).await;
    match got.first() {
        Some(r) if r.path.ends_with("/responses") => {
            Ok(format!("a Responses request reached the provider fake at {}", r.path))
        }
        Some(r) => Err(format!("a Responses request reached the provider fake at {}, not /responses", r.path)),
        None => Err(format!("a Responses request did not reach the provider fake ({})", quote(&reply))),
    }
}

/// Whether `/v1/messages` on an `anthropic/` model reaches the Anthropic upstream fake.
pub async fn anthropic_upstream(ctx: &Ctx) -> Probed {
    let fakes = ctx.fakes().map_err(|f| f.message().to_owned())?;
    let marker = uuid_like();
    let body = json!({"model": "anthropic/claude-probe", "max_tokens": 16,
        "messages": [{"role": "user", "content": format!("probe {marker}")}]});
    let reply = ctx.post_json("/v1/messages", &body).await.map_err(|f| f.message().to_owned())?;
    let got = crate::fakes::openai_upstream::received_containing(fakes.anthropic.server(), &marker).await;
    if got.is_empty() {
        Err(format!(
            "a /v1/messages request on anthropic/claude-probe did not reach the Anthropic fake ({})",
            quote(&reply)
        ))
    } else {
        Ok(format!("a /v1/messages request reached the Anthropic fake at {}", got[0].path))
    }
}

pub async fn provider_timeout(ctx: &Ctx) -> Probed {
    let marker = uuid_like();
    let started = std::time::Instant::now();
    let reply = openai_chat(ctx, &Upstream::json(chat_completion("too late")).delayed(4000), &marker).await?;
    let took = started.elapsed();
    if reply.status == 504 && took < Duration::from_millis(3500) {
        Ok(format!("a provider answer held back 4 s was a 504 after {} ms", took.as_millis()))
    } else {
        Err(format!("a provider answer held back 4 s was {} after {} ms", quote(&reply), took.as_millis()))
    }
}

pub async fn local_tools(ctx: &Ctx) -> Probed {
    let marker = uuid_like();
    let script =
        json!([{"tool_calls": [{"name": "exec_python", "arguments": {"code": format!("print('{marker}')")}}]}]);
    let env = envelope(&scripted_run(ctx, "local", script, json!({"use_tools": true})).await?)?;
    if tool_contents(&env).iter().any(|c| c.contains(&marker)) {
        Ok("a scripted `exec_python` call came back with its stdout".to_owned())
    } else {
        Err(format!("a scripted `exec_python` call did not print its marker; tool messages: {:?}", tool_contents(&env)))
    }
}

pub async fn env_headers(ctx: &Ctx) -> Probed {
    // The operator's tools server is the HTTP tools fake (MINI_AGENT_TOOL_HTTP_DEFAULT_BASE).
    let tools = &ctx.fakes().map_err(|f| f.message().to_owned())?.tools;
    let marker = uuid_like();
    let script = json!([{"tool_calls": [{"name": "echo", "arguments": {"text": "probe"}}]}, {"content": "done"}]);
    let headers = json!({ crate::fakes::tools::NONCE_HEADER: marker });
    let extra = json!({"tool_http_base_url": format!("{}/ok", tools.uri()), "tool_http_headers": headers});
    envelope(&scripted_run(ctx, "http", script, extra).await?)?;
    let seen = tools.seen(&marker).await;
    if seen.is_empty() {
        return Err("no request of the probe run reached the tools fake".to_owned());
    }
    if seen.iter().all(|r| r.header("x-env-header") == vec!["from-env"]) {
        Ok("requests to the configured tools server carried `X-Env-Header: from-env`".to_owned())
    } else {
        Err("requests to the configured tools server carried no `X-Env-Header: from-env`".to_owned())
    }
}

pub async fn shortcircuit(ctx: &Ctx) -> Probed {
    let model = "chutes/conformance/probe";
    let script = json!([{"delay_ms": 3000, "content": "too late"}]);
    let extra = json!({"max_total_seconds": 0.3, "escalate_on_budget_exceeded": true, "escalate_model": model});
    let env = envelope(&scripted_run(ctx, "local", script, extra).await?)?;
    let seen =
        (env["stopped_reason"].clone(), env["metrics"]["escalated"].clone(), env["metrics"]["used_model"].clone());
    if seen == (json!("success"), json!(true), json!(model)) {
        Ok(format!("a budget escalation to `{model}` ended escalated without a call"))
    } else {
        Err(format!("a budget escalation to `{model}` ended with (stopped_reason, escalated, used_model) = {seen:?}"))
    }
}

pub async fn auth(ctx: &Ctx) -> Probed {
    let reply = sent(ctx.request(Request::get("/v1/models").without_key()).await)?;
    match reply.status {
        401 => Ok("`GET /v1/models` without a key answered 401".to_owned()),
        _ => Err(format!("`GET /v1/models` without a key answered {}", quote(&reply))),
    }
}

pub async fn slow_clients(ctx: &Ctx) -> Probed {
    let addr = ctx.socket.ok_or("the target has no plain-HTTP socket address to write raw bytes to")?;
    let wait = Duration::from_secs(SLOW_CLIENT_TIMEOUT_SECS + 2);
    let half = format!("GET /ready HTTP/1.1\r\nHost: {addr}\r\nX-Conformance-Probe: half-");
    let ending = send_partial(addr, half.as_bytes(), wait).await.map_err(|f| f.message().to_owned())?;
    match ending {
        Ending::Closed { .. } | Ending::Answered { status: 408, .. } => {
            Ok(format!("half a request head: the target {}", ending.describe()))
        }
        other => Err(format!("half a request head: the target {} (waited {} s)", other.describe(), wait.as_secs())),
    }
}

pub async fn url_allowlist(ctx: &Ctx) -> Probed {
    let mut body = run_body("http", "conformance probe");
    body["tool_http_base_url"] = json!("http://192.0.2.1:9/");
    let reply = sent(ctx.post_json("/agent/run", &body).await)?;
    if reply.status == 400 && reply.text().contains("MINI_AGENT_TOOL_URL_ALLOW") {
        Ok("a `tool_http_base_url` of `http://192.0.2.1:9/` answered 400 naming MINI_AGENT_TOOL_URL_ALLOW".to_owned())
    } else {
        Err(format!("a `tool_http_base_url` of `http://192.0.2.1:9/` answered {}", quote(&reply)))
    }
}

/// Last and alone (see the table): it may have to recognise its line by position. Through the
/// provider fake the answer carries a marker into the trace line; without it, the dummy model's
/// answer is fixed, and the probe's line is the one new line.
pub async fn traces(ctx: &Ctx) -> Probed {
    let Some(path) = ctx.trace_file.clone() else { return Err("no --trace-file given".to_owned()) };
    let before = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let marker = uuid_like();
    let through_provider = json!({"model": PROBE_MODEL, "tool_backend": "echo",
                                  "messages": [{"role": "user", "content": format!("probe {marker}")}]});
    let provider = envelope(&sent(ctx.post_json("/agent/run", &through_provider).await)?).is_ok();
    if !provider {
        envelope(&sent(ctx.post_json("/agent/run", &run_body("echo", "conformance probe")).await)?)
            .map_err(|why| format!("needs dummy or provider-fake to make a probe run: {why}"))?;
    }
    // The writer may append just after the reply went out.
    for _ in 0..20 {
        let bytes = std::fs::read(&path).unwrap_or_default();
        let tail =
            String::from_utf8_lossy(bytes.get(usize::try_from(before).unwrap_or(usize::MAX)..).unwrap_or_default())
                .into_owned();
        if tail.lines().any(|l| if provider { l.contains(&marker) } else { l.contains("\"final_answer\"") }) {
            return Ok(format!("the probe run's line appeared in {}", path.display()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("no line of the probe run appeared in {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a strict client (hub's decoder, the openai SDK's types) asks of a chat completion:
    /// every field present, of its type, and nothing unknown.
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "decoded to prove the shape, never read")]
    struct Completion {
        id: String,
        object: String,
        created: u64,
        model: String,
        system_fingerprint: String,
        service_tier: String,
        choices: Vec<Choice>,
        usage: Usage,
    }

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "decoded to prove the shape, never read")]
    struct Choice {
        index: u32,
        message: Message,
        logprobs: Option<Value>,
        finish_reason: String,
    }

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "decoded to prove the shape, never read")]
    struct Message {
        role: String,
        content: String,
        refusal: Option<String>,
        annotations: Vec<Value>,
    }

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Usage {
        prompt_tokens: u32,
        completion_tokens: u32,
        total_tokens: u32,
        prompt_tokens_details: Value,
        completion_tokens_details: Value,
    }

    #[test]
    fn a_probe_answer_is_a_complete_chat_completion() {
        let answer = chat_completion("marker");
        let decoded: Completion = serde_json::from_value(answer.clone()).expect("a strict decoder accepts it");
        assert!(answer["id"].as_str().is_some_and(|id| id.starts_with("chatcmpl-")), "{answer}");
        assert_eq!(answer["object"], "chat.completion");
        assert!(decoded.created > 1_700_000_000, "a real timestamp");
        let u = decoded.usage;
        assert!(
            u.prompt_tokens > 0 && u.completion_tokens > 0 && u.total_tokens == u.prompt_tokens + u.completion_tokens
        );
        assert!(u.prompt_tokens_details.is_object() && u.completion_tokens_details.is_object());
        assert_eq!(answer["choices"][0]["message"]["content"], "marker");
        // Without `usage` — the probe answer hub's decoder refused — the same decoder fails.
        let mut bare = answer;
        bare.as_object_mut().map(|o| o.remove("usage"));
        assert!(serde_json::from_value::<Completion>(bare).is_err());
    }

    #[test]
    fn a_probe_response_is_complete() {
        let r = response("ok");
        for key in ["id", "object", "created_at", "status", "model", "output", "usage"] {
            assert!(r.get(key).is_some_and(|v| !v.is_null()), "{key} missing: {r}");
        }
        assert_eq!(r["usage"]["total_tokens"], 12);
        assert_eq!(r["output"][0]["content"][0]["text"], "ok");
    }
}
