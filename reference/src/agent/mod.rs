//! The agent: what one `/agent/run` does between a validated [`RunSpec`] and an outcome.
//!
//! The `echo` and `router` backends make one model call and no tool calls ([`one_shot`]). The tool
//! backends run the loop ([`run_loop`]). Every failure of what the agent calls is either recorded as
//! data in the outcome (tools) or returned as an [`AgentError`] (a provider that failed): the agent
//! never builds an envelope and knows nothing of HTTP.

pub mod calls;
pub mod codeblock;
pub mod model;
pub mod prune;
pub mod run_loop;

use std::time::Instant;

use serde::Serialize;
use serde_json::{Value, json};

use crate::api::{Backend, RunSpec};
use crate::provider::{ChatRequest, ProviderError};
use crate::tools::http::{HttpToolSettings, HttpTools};
use crate::tools::local::LocalTools;
use crate::tools::mcp::{McpSettings, McpTools};
pub use model::ChatModel;
pub use run_loop::{LoopEnv, run_loop};

/// Why a run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoppedReason {
    Success,
    MaxIterations,
    Budget,
}

/// One iteration of the loop as the trace records it.
#[derive(Debug, Clone, Serialize)]
pub struct IterationRecord {
    pub router_call_ms: f64,
    pub tool_invocations: Vec<Value>,
}

/// What a run produced, before it is shaped into an envelope.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub final_answer: Option<String>,
    pub stopped_reason: StoppedReason,
    pub messages: Vec<Value>,
    pub iterations: Vec<IterationRecord>,
    pub escalated: bool,
    pub used_model: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The request's tool server settings cannot be used (a bad URL or header).
    #[error("{0}")]
    BadToolServer(String),
}

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
    match spec.backend {
        Backend::Echo | Backend::Router => one_shot(spec, deps.model).await,
        Backend::Local => run_loop(spec, deps.model, deps.local, deps.env).await,
        Backend::Http => {
            let base = spec.tool_http_base_url.as_deref().unwrap_or_default();
            let tools =
                HttpTools::new(base, &request_headers(spec), deps.http.clone()).map_err(AgentError::BadToolServer)?;
            run_loop(spec, deps.model, &tools, deps.env).await
        }
        Backend::Mcp => {
            let url = spec.tool_mcp_url.as_deref().unwrap_or_default();
            let tools =
                McpTools::new(url, &request_headers(spec), deps.mcp.clone()).map_err(AgentError::BadToolServer)?;
            let outcome = run_loop(spec, deps.model, &tools, deps.env).await;
            tools.close().await;
            outcome
        }
    }
}

fn request_headers(spec: &RunSpec) -> Vec<(String, String)> {
    spec.tool_http_headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// One model call, no tools: the answer becomes the only message.
async fn one_shot<M: ChatModel>(spec: &RunSpec, model: &M) -> Result<RunOutcome, AgentError> {
    let started = Instant::now();
    let request = ChatRequest { messages: spec.messages.clone(), ..ChatRequest::default() };
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
