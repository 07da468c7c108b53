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
use crate::api::{Backend, RunSpec};
use crate::provider::ChatRequest;
use crate::tools::http::{HttpToolSettings, HttpTools};
use crate::tools::local::LocalTools;
use crate::tools::mcp::{McpSettings, McpTools};

/// What a run may use besides its spec.
pub struct Deps<'a, M: ChatModel> {
    pub model: &'a M,
    pub local: &'a LocalTools,
    pub http: &'a HttpToolSettings,
    pub mcp: &'a McpSettings,
    pub env: &'a LoopEnv,
}

/// Runs `spec` to an outcome.
pub async fn run<M: ChatModel>(spec: &RunSpec, deps: &Deps<'_, M>) -> Result<RunOutcome, AgentError> {
    match &spec.backend {
        Backend::Echo | Backend::Router => one_shot(spec, deps.model).await,
        Backend::Local => run_loop(spec, deps.model, deps.local, deps.env).await,
        Backend::Http(server) => {
            let tools = HttpTools::new(&server.url, &server.headers, deps.http.clone());
            run_loop(spec, deps.model, &tools, deps.env).await
        }
        Backend::Mcp(server) => {
            let tools =
                McpTools::new(&server.url, &server.headers, deps.mcp.clone()).map_err(AgentError::BadToolServer)?;
            let outcome = run_loop(spec, deps.model, &tools, deps.env).await;
            tools.close().await;
            outcome
        }
    }
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
    })
}
