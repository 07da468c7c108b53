//! A run in progress: its conversation, its iteration records, its budget, the model that answered
//! last — and how it ends ([`State::finish`]).

use serde_json::{Map, Value, json};

use super::budget::Budget;
use super::outcome::{IterationRecord, RunOutcome, StoppedReason};
use super::settings::LoopEnv;
use crate::api::RunSpec;
use crate::provider::chat::Served;

/// The conversation and records of a run in progress.
pub(crate) struct State<'a> {
    pub spec: &'a RunSpec,
    pub env: &'a LoopEnv,
    pub messages: Vec<Value>,
    pub iterations: Vec<IterationRecord>,
    pub budget: Budget,
    pub used_model: String,
    /// Who answered the last model call (a router deployment).
    pub served: Option<Served>,
}

impl State<'_> {
    pub(crate) fn finish(self, stopped_reason: StoppedReason, final_answer: Option<String>) -> RunOutcome {
        RunOutcome {
            final_answer,
            stopped_reason,
            messages: self.messages,
            iterations: self.iterations,
            escalated: self.budget.escalated,
            used_model: self.used_model,
            served: self.served,
        }
    }

    /// Whether an escalation to `model` is short-circuited (`NDSMOKE_SHORTCIRCUIT_CHUTES`).
    pub(crate) fn shortcircuits(&self, model: &str) -> bool {
        self.env.shortcircuit_chutes && model.starts_with("chutes/")
    }
}

/// The assistant message to append: role, content and tool calls only (provider extras such as
/// `refusal` or `annotations` are not part of the conversation sent back).
pub(crate) fn assistant_message(message: Option<&Map<String, Value>>) -> Value {
    let get = |k: &str| message.and_then(|m| m.get(k));
    let mut m = json!({"role": "assistant", "content": get("content").cloned().unwrap_or(Value::Null)});
    if let Some(calls) = get("tool_calls").filter(|c| c.as_array().is_some_and(|a| !a.is_empty())) {
        m["tool_calls"] = calls.clone();
    }
    m
}
