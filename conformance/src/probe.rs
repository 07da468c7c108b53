//! Discovering a target's features by probing it (CONTRACT §10): without `--features`, the runner
//! sends one small request per feature — through the same [`Ctx`] the cases use — and enables what
//! answers. A new user who started the target pointed at the fakes then runs every case it can,
//! instead of skipping most of them for want of a flag.
//!
//! A probe never fails the run: each is bounded by a timeout (`--probe-timeout`, by default
//! [`PROBE_TIMEOUT`]) and ends in a status, enabled
//! or not, with the evidence either way. Probes that need the provider fake to script the model run
//! only once it answered (and `provider-timeout` only once `openai-proxy` did). `exec-rpc` and
//! `mcp` are not probed: they follow their arguments.
//!
//! Probes never make a target connect anywhere it should not: the outbound probe names a TEST-NET
//! address (192.0.2.1, never routed), not a metadata service.

use std::future::Future;
use std::time::Duration;

use serde_json::{Value, json};

use crate::checks::{run_body, tool_contents, uuid_like};
use crate::failure::Failure;
use crate::fakes::openai_upstream::Reply as Upstream;
use crate::fakes::provider::script_marker;
use crate::features::{Feature, FeatureStatus, SLOW_CLIENT_TIMEOUT_SECS, Source};
use crate::routing::{self, RouterFile};
use crate::socket::{Ending, send_partial};
use crate::target::Ctx;
use crate::transport::{Reply, Request};

/// How long one probe may take by default. The slowest honest probes wait on purpose (a provider
/// answer held back 4 s, half a request head for the slow-client timeout plus 2 s); the rest take well
/// under a second on a warm target. A target that does not answer in time lacks the feature as far as
/// this run can tell — a gateway whose first requests are slow (a Python one importing its
/// providers on first use) needs a longer `--probe-timeout`.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The model the probes that go through the provider fake ask for.
const PROBE_MODEL: &str = "openai/conformance-probe";

/// `Ok(evidence)` when the feature answered, `Err(why not)` otherwise.
type Probed = Result<String, String>;

/// One status per feature, in [`Feature::ALL`] order, each probe bounded by `timeout`.
pub async fn discover(ctx: &Ctx, timeout: Duration) -> Vec<FeatureStatus> {
    let (dummy, shim_echo, no_provider, provider, auth, slow, allowlist, openai_proxy) = tokio::join!(
        bounded(timeout, dummy(ctx)),
        bounded(timeout, shim_echo(ctx)),
        bounded(timeout, no_provider(ctx)),
        bounded(timeout, provider(ctx)),
        bounded(timeout, auth(ctx)),
        bounded(timeout, slow_clients(ctx)),
        bounded(timeout, url_allowlist(ctx)),
        bounded(timeout, openai_proxy(ctx)),
    );
    // A target whose dummy model answers has something to call: it is not one without a provider,
    // whatever its shim says.
    let no_provider = match (&dummy, no_provider) {
        (Ok(_), Ok(_)) => Err("the `dummy` model answers, so the target has a model to call".to_owned()),
        (_, other) => other,
    };
    let scripted = async {
        if provider.is_ok() {
            tokio::join!(
                bounded(timeout, local_tools(ctx)),
                bounded(timeout, env_headers(ctx)),
                bounded(timeout, shortcircuit(ctx))
            )
        } else {
            let why = || Err("needs provider-fake, which did not answer".to_owned());
            (why(), why(), why())
        }
    };
    // Whether the provider timeout is short takes up to the probe timeout: only worth asking a
    // target that proxies.
    let timeout_probe = async {
        match &openai_proxy {
            Ok(_) => bounded(timeout, provider_timeout(ctx)).await,
            Err(_) => Err("needs openai-proxy, which did not answer".to_owned()),
        }
    };
    let ((local, headers, chutes), provider_timeout, (reject, passthrough)) =
        tokio::join!(scripted, timeout_probe, responses_probes(ctx, &openai_proxy, timeout));
    let routers = futures::future::join_all(RouterFile::ALL.map(|f| bounded(timeout, routing::probe(ctx, f)))).await;
    let anthropic = bounded(timeout, anthropic_upstream(ctx)).await;
    // Last and alone: it may have to recognise its line by position rather than by marker.
    let traces = bounded(timeout, traces(ctx, dummy.is_ok(), provider.is_ok())).await;
    Feature::ALL
        .into_iter()
        .map(|feature| {
            let probed = match feature {
                Feature::Dummy => dummy.clone(),
                Feature::ShimEcho => shim_echo.clone(),
                Feature::ShimNoProvider => no_provider.clone(),
                Feature::ProviderFake => provider.clone(),
                Feature::Traces => traces.clone(),
                Feature::LocalTools => local.clone(),
                Feature::ShortcircuitChutes => chutes.clone(),
                Feature::ToolEnvHeaders => headers.clone(),
                Feature::Auth => auth.clone(),
                Feature::SlowClients => slow.clone(),
                Feature::UrlAllowlist => allowlist.clone(),
                Feature::OpenaiProxy => openai_proxy.clone(),
                Feature::ProviderTimeout => provider_timeout.clone(),
                Feature::ResponsesHostedReject => reject.clone(),
                Feature::ResponsesPassthrough => passthrough.clone(),
                Feature::Router | Feature::RouterLeastBusy | Feature::RouterLatency | Feature::RouterUsage => {
                    let i = RouterFile::ALL.iter().position(|f| f.feature() == feature).unwrap_or(0);
                    routers[i].clone()
                }
                Feature::AnthropicUpstream => anthropic.clone(),
                Feature::ExecRpc | Feature::Mcp => return by_argument(ctx, feature),
            };
            let (enabled, why) = match probed {
                Ok(why) => (true, why),
                Err(why) => (false, why),
            };
            FeatureStatus { feature, enabled, source: Source::Probe, why }
        })
        .collect()
}

/// How `/v1/responses` is set up (hosted tools refused? passed through?): only worth asking a
/// target that proxies.
async fn responses_probes(ctx: &Ctx, openai_proxy: &Probed, timeout: Duration) -> (Probed, Probed) {
    match openai_proxy {
        Ok(_) => tokio::join!(bounded(timeout, responses_reject(ctx)), bounded(timeout, responses_passthrough(ctx))),
        Err(_) => {
            let why = || Err("needs openai-proxy, which did not answer".to_owned());
            (why(), why())
        }
    }
}

/// The status of a feature that follows an argument rather than a probe.
pub fn by_argument(ctx: &Ctx, feature: Feature) -> FeatureStatus {
    let (enabled, why) = match feature {
        Feature::ExecRpc if ctx.exec_rpc.is_some() => (true, "--exec-rpc-url was given"),
        Feature::ExecRpc => (false, "no --exec-rpc-url given"),
        Feature::Mcp if ctx.fakes.as_ref().is_some_and(|f| f.mcp.is_some()) => {
            (true, "the suite runs an MCP server (--mcp-python)")
        }
        Feature::Mcp => (false, "no --mcp-python given"),
        Feature::Traces if ctx.trace_file.is_some() => (true, "--trace-file was given"),
        Feature::Traces => (false, "no --trace-file given"),
        _ => (false, "not given by an argument"),
    };
    FeatureStatus { feature, enabled, source: Source::Argument, why: why.to_owned() }
}

async fn bounded(timeout: Duration, probe: impl Future<Output = Probed>) -> Probed {
    tokio::time::timeout(timeout, probe).await.unwrap_or_else(|_| {
        Err(format!("no answer within {:.1}s (a slow target needs a longer --probe-timeout)", timeout.as_secs_f64()))
    })
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

async fn dummy(ctx: &Ctx) -> Probed {
    let reply = sent(ctx.post_json("/agent/run", &run_body("echo", "conformance probe")).await)?;
    match reply.status {
        200 => Ok("an echo run on model `dummy` answered 200".to_owned()),
        _ => Err(format!("an echo run on model `dummy` answered {}", quote(&reply))),
    }
}

async fn shim_echo(ctx: &Ctx) -> Probed {
    let body = json!({"model": "conformance-probe", "messages": [{"role": "user", "content": "probe"}]});
    let reply = sent(ctx.post_json("/v1/chat/completions", &body).await)?;
    let content = reply.json().ok().and_then(|v| v.pointer("/choices/0/message/content").cloned());
    match content.as_ref().and_then(Value::as_str) {
        Some("shim ok") if reply.status == 200 => Ok("the shim answered `shim ok`".to_owned()),
        _ => Err(format!("the shim answered {}", quote(&reply))),
    }
}

async fn no_provider(ctx: &Ctx) -> Probed {
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
        Ok("`/ready` shows no provider and the shim answers 400 with guidance".to_owned())
    } else {
        Err(format!("the shim answered {}, not a 400 naming OPENAI_API_KEY", quote(&reply)))
    }
}

async fn provider(ctx: &Ctx) -> Probed {
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

async fn openai_proxy(ctx: &Ctx) -> Probed {
    let marker = uuid_like();
    let answer = json!({"id": "chatcmpl-probe", "object": "chat.completion", "created": 1, "model": "conformance-probe",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": marker}, "finish_reason": "stop"}]});
    let reply = openai_chat(ctx, &Upstream::json(answer), &marker).await?;
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

async fn responses_reject(ctx: &Ctx) -> Probed {
    let marker = uuid_like();
    let answer =
        json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]});
    let reply = responses(ctx, &Upstream::json(answer), &marker, json!({"tools": [{"type": "web_search"}]})).await?;
    if reply.status == 400 && reply.text().contains("tools[0]") {
        Ok("a Responses request offering `web_search` was refused naming tools[0]".to_owned())
    } else {
        Err(format!("a Responses request offering `web_search` answered {}", quote(&reply)))
    }
}

async fn responses_passthrough(ctx: &Ctx) -> Probed {
    let fakes = ctx.fakes().map_err(|f| f.message().to_owned())?;
    let marker = uuid_like();
    let answer = json!({"id": "resp_probe", "object": "response", "status": "completed", "output": []});
    let reply = responses(ctx, &Upstream::json(answer), &marker, json!({})).await?;
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
async fn anthropic_upstream(ctx: &Ctx) -> Probed {
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

async fn provider_timeout(ctx: &Ctx) -> Probed {
    let marker = uuid_like();
    let started = std::time::Instant::now();
    let reply = openai_chat(ctx, &Upstream::json(json!({})).delayed(4000), &marker).await?;
    let took = started.elapsed();
    if reply.status == 504 && took < Duration::from_millis(3500) {
        Ok(format!("a provider answer held back 4 s was a 504 after {} ms", took.as_millis()))
    } else {
        Err(format!("a provider answer held back 4 s was {} after {} ms", quote(&reply), took.as_millis()))
    }
}

async fn local_tools(ctx: &Ctx) -> Probed {
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

async fn env_headers(ctx: &Ctx) -> Probed {
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

async fn shortcircuit(ctx: &Ctx) -> Probed {
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

async fn auth(ctx: &Ctx) -> Probed {
    let reply = sent(ctx.request(Request::get("/v1/models").without_key()).await)?;
    match reply.status {
        401 => Ok("`GET /v1/models` without a key answered 401".to_owned()),
        _ => Err(format!("`GET /v1/models` without a key answered {}", quote(&reply))),
    }
}

async fn slow_clients(ctx: &Ctx) -> Probed {
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

async fn url_allowlist(ctx: &Ctx) -> Probed {
    let mut body = run_body("http", "conformance probe");
    body["tool_http_base_url"] = json!("http://192.0.2.1:9/");
    let reply = sent(ctx.post_json("/agent/run", &body).await)?;
    if reply.status == 400 && reply.text().contains("MINI_AGENT_TOOL_URL_ALLOW") {
        Ok("a `tool_http_base_url` of `http://192.0.2.1:9/` answered 400 naming MINI_AGENT_TOOL_URL_ALLOW".to_owned())
    } else {
        Err(format!("a `tool_http_base_url` of `http://192.0.2.1:9/` answered {}", quote(&reply)))
    }
}

async fn traces(ctx: &Ctx, dummy: bool, provider: bool) -> Probed {
    let Some(path) = ctx.trace_file.clone() else { return Err("no --trace-file given".to_owned()) };
    let before = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let marker = uuid_like();
    // Through the provider fake the answer carries the marker into the trace line; the dummy
    // model's answer is fixed, so then the probe's line is the one new line.
    let body = match (provider, dummy) {
        (true, _) => json!({"model": PROBE_MODEL, "tool_backend": "echo",
                            "messages": [{"role": "user", "content": format!("probe {marker}")}]}),
        (false, true) => run_body("echo", "conformance probe"),
        (false, false) => return Err("needs dummy or provider-fake to make a probe run".to_owned()),
    };
    envelope(&sent(ctx.post_json("/agent/run", &body).await)?)?;
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
