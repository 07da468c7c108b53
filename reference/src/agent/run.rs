//! What one `/agent/run` does between a validated [`RunSpec`] and an outcome: the `echo` and
//! `router` backends make one model call and no tool calls; the tool backends run the loop with
//! the tools of their kind.

use std::time::Instant;

use serde_json::json;

use super::error::AgentError;
use super::model::ChatModel;
use super::outcome::{RunOutcome, StoppedReason};
use super::run_loop::run_loop;
use super::settings::LoopEnv;
use crate::api::{Backend, RunSpec, ToolServer};
use crate::outbound::UrlPolicy;
use crate::provider::ChatRequest;
use crate::telemetry::metrics::Metrics;
use crate::tools::http::{HttpToolSettings, HttpTools};
use crate::tools::local::LocalTools;
use crate::tools::mcp::{McpSettings, McpTools};
use crate::tools::observed::Observed;

/// What a run may use besides its spec.
pub struct Deps<'a, M: ChatModel> {
    pub model: &'a M,
    pub local: &'a LocalTools,
    pub http: &'a HttpToolSettings,
    pub mcp: &'a McpSettings,
    pub env: &'a LoopEnv,
    /// Where request-given tool server URLs may point.
    pub outbound: &'a UrlPolicy,
    /// Where tool calls are counted, if anywhere.
    pub metrics: Option<&'a Metrics>,
}

/// Runs `spec` to an outcome. The tool loops are boxed (the cold paths: each is a large future,
/// an MCP session's above all), so the one-shot backends' future stays small — it is moved into
/// the handler's box on every `/agent/run`.
pub(crate) async fn run<M: ChatModel>(spec: &RunSpec, deps: &Deps<'_, M>) -> Result<RunOutcome, AgentError> {
    match &spec.backend {
        Backend::Echo | Backend::Router => one_shot(spec, deps.model).await,
        Backend::Local => {
            if let Some(why) = deps.local.sandbox.refusal() {
                return Err(AgentError::ToolsRefused(why));
            }
            Box::pin(run_loop(spec, deps.model, &Observed::new(deps.local, "local", deps.metrics), deps.env)).await
        }
        Backend::Http(server) => {
            let addrs = checked(deps.outbound, server, "tool_http_base_url").await?;
            let tools = HttpTools::pinned(&server.url, &server.headers, deps.http.clone(), addrs);
            Box::pin(run_loop(spec, deps.model, &Observed::new(&tools, "http", deps.metrics), deps.env)).await
        }
        Backend::Mcp(server) => {
            let addrs = checked(deps.outbound, server, "tool_mcp_url").await?;
            Box::pin(async {
                let tools = McpTools::new(&server.url, &server.headers, deps.mcp.clone(), addrs)
                    .map_err(AgentError::BadToolServer)?;
                let outcome = run_loop(spec, deps.model, &Observed::new(&tools, "mcp", deps.metrics), deps.env).await;
                tools.close().await;
                outcome
            })
            .await
        }
    }
}

/// The addresses a tools server may be reached at, checked before any connection.
async fn checked(
    policy: &UrlPolicy,
    server: &ToolServer,
    field: &'static str,
) -> Result<Vec<std::net::SocketAddr>, AgentError> {
    policy.check(&server.url).await.map_err(|e| AgentError::Refused { field, message: format!("{field}: {}", e.0) })
}

/// One model call, no tools: the answer becomes the only message.
async fn one_shot<M: ChatModel>(spec: &RunSpec, model: &M) -> Result<RunOutcome, AgentError> {
    let started = Instant::now();
    let request = ChatRequest::of(spec.messages.iter().map(std::borrow::Cow::Borrowed));
    let completion = model.complete(&spec.model, &request).await?;
    let answer = completion.content().unwrap_or_default().to_owned();
    tracing::debug!(model = %spec.model, ms = started.elapsed().as_secs_f64() * 1e3, "one-shot call done");
    Ok(RunOutcome {
        final_answer: Some(answer.clone()),
        stopped_reason: StoppedReason::Success,
        messages: vec![json!({"role": "assistant", "content": answer})],
        iterations: Vec::new(),
        escalated: false,
        used_model: spec.model.clone(),
        served: completion.served,
    })
}
