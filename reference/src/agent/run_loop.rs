//! The agent loop (CONTRACT §2), as a function of a run spec, a model and a tool backend.
//!
//! Per iteration: budget check → prune → model call (tools offered when enabled) → unsupported
//! tools refused → auto code block → no-call replies (nudge, escalation signal, success) → tool
//! calls in original order → success on all-ok outputs, else the repair observation. A budget stop
//! may become one escalated call. Time is `tokio::time`, so tests can pause it.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::calls::{self, Limits, RequestedCall};
use super::codeblock;
use super::model::ChatModel;
use super::prune::prune;
use super::{AgentError, IterationRecord, RunOutcome, StoppedReason};
use crate::api::RunSpec;
use crate::provider::ChatRequest;
use crate::tools::{ToolBackend, has_output, preview};

/// What the user is told when the model answered nothing.
pub const NUDGE: &str =
    "Your last reply was empty. Reply with runnable code in a fenced block (```python … ```) or call one of the tools.";
/// Longest JSON preview of failed invocations in the repair observation.
pub const REPAIR_PREVIEW_CHARS: usize = 1000;

/// Server-side switches of the loop (not request fields).
#[derive(Debug, Clone, Default)]
pub struct LoopEnv {
    /// `NDSMOKE_SHORTCIRCUIT_CHUTES=1`: an escalation to a `chutes/…` model is not sent (testing only).
    pub shortcircuit_chutes: bool,
}

struct State<'a> {
    spec: &'a RunSpec,
    env: &'a LoopEnv,
    messages: Vec<Value>,
    iterations: Vec<IterationRecord>,
    /// A model call has used the escalation model.
    escalated: bool,
    /// The next call goes to the escalation model (the model reported its budget exceeded).
    escalate_next: bool,
    used_model: String,
    deadline: Option<Instant>,
}

impl State<'_> {
    fn over_budget(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    fn can_escalate(&self) -> bool {
        self.spec.escalate_on_budget_exceeded
            && self.spec.escalate_model.is_some()
            && !self.escalated
            && !self.escalate_next
    }

    fn finish(self, stopped_reason: StoppedReason, final_answer: Option<String>) -> RunOutcome {
        RunOutcome {
            final_answer,
            stopped_reason,
            messages: self.messages,
            iterations: self.iterations,
            escalated: self.escalated,
            used_model: self.used_model,
        }
    }
}

/// Runs the loop to an outcome. Only a provider failure is an `Err`.
pub async fn run_loop<M: ChatModel, T: ToolBackend>(
    spec: &RunSpec,
    model: &M,
    tools: &T,
    env: &LoopEnv,
) -> Result<RunOutcome, AgentError> {
    let started = Instant::now();
    // The tools are listed once per run, not once per iteration.
    let (listed, list_error) = match tools.list().await {
        Ok(listed) => (listed, None),
        Err(e) => {
            tracing::warn!(error = %e, "tool backend could not list its tools; continuing without tools");
            (Vec::new(), Some(e))
        }
    };
    let offered = if spec.use_tools && !listed.is_empty() { Some(listed.clone()) } else { None };
    let mut st = State {
        spec,
        env,
        messages: spec.messages.clone(),
        iterations: Vec::new(),
        escalated: false,
        escalate_next: false,
        used_model: spec.model.clone(),
        deadline: spec.max_total_seconds.map(|s| started + Duration::from_secs_f64(s)),
    };
    let limits = Limits { max_tools_per_iter: spec.max_tools_per_iter, tool_concurrency: spec.tool_concurrency };

    for iteration in 0..spec.max_iterations as usize {
        if st.over_budget() {
            return budget_stop(st, model).await;
        }
        let escalating = st.escalated || st.escalate_next;
        let current = if escalating { spec.escalate_model.clone().unwrap_or_default() } else { spec.model.clone() };
        if escalating {
            st.escalated = true;
            if env.shortcircuit_chutes && current.starts_with("chutes/") {
                st.used_model = current;
                return Ok(st.finish(StoppedReason::Success, Some(String::new())));
            }
        }
        let request = ChatRequest { messages: prune(&st.messages), tools: offered.clone(), ..ChatRequest::default() };
        let call_started = Instant::now();
        let completion = match st.deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, model.complete(&current, &request)).await {
                Ok(result) => result?,
                Err(_) => return budget_stop(st, model).await,
            },
            None => model.complete(&current, &request).await?,
        };
        let router_call_ms = call_started.elapsed().as_secs_f64() * 1e3;
        st.used_model = current.clone();
        let mut assistant = assistant_message(&completion.message());
        let content = assistant.get("content").and_then(Value::as_str).unwrap_or_default().to_owned();
        let mut requested = calls::requested_calls(&assistant, iteration);

        if requested.is_empty()
            && spec.auto_run_code_on_code_block
            && let Some(block) = codeblock::first_block(&content)
        {
            let arguments = json!({"language": block.language, "code": block.code}).to_string();
            let synthetic = RequestedCall {
                id: "auto_codeblock_0".to_owned(),
                name: block.tool_name().to_owned(),
                arguments_raw: Value::String(arguments.clone()),
            };
            // The call is written into the assistant message so the transcript stays valid: every
            // tool message answers a call the assistant made.
            assistant["tool_calls"] = json!([{
                "id": synthetic.id, "type": "function",
                "function": {"name": synthetic.name, "arguments": arguments}
            }]);
            requested.push(synthetic);
        }
        st.messages.push(assistant);

        if requested.is_empty() {
            st.iterations.push(IterationRecord { router_call_ms, tool_invocations: Vec::new() });
            if st.over_budget() {
                return budget_stop(st, model).await;
            }
            if content.trim().is_empty() {
                st.messages.push(json!({"role": "user", "content": NUDGE}));
                continue;
            }
            let lower = content.to_lowercase();
            if lower.contains("budget") && lower.contains("exceeded") && st.can_escalate() {
                let target = spec.escalate_model.clone().unwrap_or_default();
                st.messages.push(json!({
                    "role": "user",
                    "content": format!("Observation: the model reported that its budget was exceeded; escalating to {target}.")
                }));
                st.escalate_next = true;
                continue;
            }
            return Ok(st.finish(StoppedReason::Success, Some(content)));
        }

        let executed = calls::execute(tools, &listed, list_error.as_deref(), &requested, &limits, &current).await;
        st.messages.extend(executed.messages);
        let all_ok = !executed.invocations.is_empty()
            && executed.invocations.iter().all(|inv| inv.get("ok") == Some(&Value::Bool(true)) && has_output(inv));
        let invocations = executed.invocations;
        st.iterations.push(IterationRecord { router_call_ms, tool_invocations: invocations.clone() });
        if all_ok {
            return Ok(st.finish(StoppedReason::Success, Some(executed.outputs.join("\n"))));
        }
        if spec.enable_repair {
            st.messages.push(repair_observation(&invocations));
        }
    }
    Ok(st.finish(StoppedReason::MaxIterations, None))
}

/// A budget stop, or — with escalation enabled and unused — one more call on the escalation model.
async fn budget_stop<M: ChatModel>(mut st: State<'_>, model: &M) -> Result<RunOutcome, AgentError> {
    if !st.can_escalate() {
        return Ok(st.finish(StoppedReason::Budget, None));
    }
    let target = st.spec.escalate_model.clone().unwrap_or_default();
    st.escalated = true;
    st.used_model = target.clone();
    if st.env.shortcircuit_chutes && target.starts_with("chutes/") {
        return Ok(st.finish(StoppedReason::Success, Some(String::new())));
    }
    let request = ChatRequest { messages: prune(&st.messages), ..ChatRequest::default() };
    let call_started = Instant::now();
    let completion = model.complete(&target, &request).await?;
    let assistant = assistant_message(&completion.message());
    let content = assistant.get("content").and_then(Value::as_str).unwrap_or_default().to_owned();
    st.messages.push(assistant);
    st.iterations.push(IterationRecord {
        router_call_ms: call_started.elapsed().as_secs_f64() * 1e3,
        tool_invocations: Vec::new(),
    });
    Ok(st.finish(StoppedReason::Success, Some(content)))
}

/// The assistant message to append: role, content and tool calls only (provider extras such as
/// `refusal` or `annotations` are not part of the conversation sent back).
fn assistant_message(message: &Value) -> Value {
    let mut m = json!({"role": "assistant", "content": message.get("content").cloned().unwrap_or(Value::Null)});
    if let Some(calls) = message.get("tool_calls").filter(|c| c.as_array().is_some_and(|a| !a.is_empty())) {
        m["tool_calls"] = calls.clone();
    }
    m
}

/// The repair observation: what failed, briefly, and the directive to fix the approach.
fn repair_observation(invocations: &[Value]) -> Value {
    let summary: Vec<Value> = invocations
        .iter()
        .map(|inv| {
            json!({
                "tool": inv.get("tool_name"), "ok": inv.get("ok"), "rc": inv.get("rc"),
                "error": inv.get("error"), "stdout": inv.get("stdout"), "stderr": inv.get("stderr"),
            })
        })
        .collect();
    let text = preview(&Value::Array(summary), REPAIR_PREVIEW_CHARS);
    json!({
        "role": "assistant",
        "content": format!(
            "Observation: the tool calls did not all succeed with output: {text}\nFix the approach: correct the code or the arguments, or use another tool, and try again."
        )
    })
}
