//! The agent: what one `/agent/run` does between a validated [`RunSpec`] and an outcome.
//!
//! The `echo` and `router` backends make one model call and no tool calls. The tool backends run
//! the agent loop. Every failure of what the agent calls is either recorded as data in the outcome
//! (tools) or returned as an [`AgentError`] (a provider that failed): the agent never builds an
//! envelope and knows nothing of HTTP.

use std::time::Instant;

use serde::Serialize;
use serde_json::{Value, json};

use crate::api::{Backend, RunSpec};
use crate::provider::{ChatRequest, ProviderError, Providers};

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
    #[error("tool_backend `{}` is not available in this build yet; use `echo` or `router` for one model call", .0.name())]
    BackendUnavailable(Backend),
}

/// Runs `spec` to an outcome.
pub async fn run(spec: &RunSpec, providers: &Providers) -> Result<RunOutcome, AgentError> {
    match spec.backend {
        Backend::Echo | Backend::Router => one_shot(spec, providers).await,
        Backend::Local | Backend::Http | Backend::Mcp => Err(AgentError::BackendUnavailable(spec.backend)),
    }
}

/// One model call, no tools: the answer becomes the only message.
async fn one_shot(spec: &RunSpec, providers: &Providers) -> Result<RunOutcome, AgentError> {
    let started = Instant::now();
    let request = ChatRequest { messages: spec.messages.clone(), ..ChatRequest::default() };
    let completion = providers.complete(&spec.model, &request).await?;
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
