//! What a run produced, before it is shaped into an envelope: why it stopped, the conversation,
//! one record per iteration, and which model answered last.

use serde::Serialize;
use serde_json::Value;

use super::invocation::ToolInvocation;
use crate::provider::chat::Served;

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
    pub tool_invocations: Vec<ToolInvocation>,
}

#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub final_answer: Option<String>,
    pub stopped_reason: StoppedReason,
    pub messages: Vec<Value>,
    pub iterations: Vec<IterationRecord>,
    pub escalated: bool,
    pub used_model: String,
    /// The router deployment that answered the last model call, when the model is a group.
    pub served: Option<Served>,
}

impl RunOutcome {
    /// The last iteration's last successful invocation: what the envelope reports as
    /// `last_tool_invocation`. An invocation that succeeded iterations ago and was then superseded
    /// is history, not the result.
    pub fn last_ok_invocation(&self) -> Option<&ToolInvocation> {
        self.iterations.last().and_then(|it| it.tool_invocations.iter().rev().find(|inv| inv.ok))
    }
}
