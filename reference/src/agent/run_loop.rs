//! The agent loop (CONTRACT §2), as a function of a run spec, a model and a tool backend.
//!
//! Per iteration: budget check → prune → model call (tools offered when enabled) → auto code block
//! → a reply without calls (nudge, escalation signal, success) → tool calls in original order →
//! success on all-ok outputs, else the repair observation. A budget stop may become one escalated
//! call ([`super::budget`]). Time is `tokio::time`, so tests can pause it.

use serde_json::{Value, json};
use tokio::time::Instant;

use super::budget::Budget;
use super::calls::{self, Executed, Limits};
use super::codeblock;
use super::error::AgentError;
use super::invocation::{RequestedCall, ToolInvocation};
use super::model::ChatModel;
use super::outcome::{IterationRecord, RunOutcome, StoppedReason};
use super::prune::prune;
use super::settings::LoopEnv;
use super::state::{State, assistant_message};
use crate::api::RunSpec;
use crate::provider::ChatRequest;
use crate::text::preview;
use crate::tools::ToolBackend;

/// What the user is told when the model answered nothing.
pub(crate) const NUDGE: &str =
    "Your last reply was empty. Reply with runnable code in a fenced block (```python … ```) or call one of the tools.";
/// What a tool call gets when tools were not offered (`use_tools:false`).
pub(crate) const TOOLS_DISABLED: &str = "tools are disabled";
/// Longest JSON preview of failed invocations in the repair observation.
pub(crate) const REPAIR_PREVIEW_CHARS: usize = 1000;

/// What to do after a reply without tool calls.
enum Next {
    Continue,
    Stop(String),
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
    let offered = (spec.use_tools && !listed.is_empty()).then_some(listed.as_slice());
    let mut st = State {
        spec,
        env,
        messages: spec.messages.clone(),
        iterations: Vec::new(),
        budget: Budget::new(spec, started),
        used_model: spec.model.clone(),
        served: None,
    };
    let limits = Limits { max_tools_per_iter: spec.max_tools_per_iter, tool_concurrency: spec.tool_concurrency };
    for iteration in 0..spec.max_iterations as usize {
        if st.budget.over() {
            return budget_stop(st, model).await;
        }
        let current = st.budget.next_model(spec);
        if st.budget.escalated && st.shortcircuits(&current) {
            st.used_model = current;
            return Ok(st.finish(StoppedReason::Success, Some(String::new())));
        }
        let request = ChatRequest { tools: offered, ..ChatRequest::of(prune(&st.messages)) };
        let call_started = Instant::now();
        let Some(completion) = st.budget.bounded(model.complete(&current, &request)).await.transpose()? else {
            return budget_stop(st, model).await;
        };
        let router_call_ms = call_started.elapsed().as_secs_f64() * 1e3;
        st.used_model.clone_from(&current);
        st.served.clone_from(&completion.served);
        let mut assistant = assistant_message(completion.message());
        let content = assistant.get("content").and_then(Value::as_str).unwrap_or_default().to_owned();
        let (requested, from_model) = requested_calls(&mut assistant, spec, iteration, &content);
        st.messages.push(assistant);
        if requested.is_empty() {
            st.iterations.push(IterationRecord { router_call_ms, tool_invocations: Vec::new() });
            if st.budget.over() {
                return budget_stop(st, model).await;
            }
            match no_calls(&mut st, content) {
                Next::Continue => continue,
                Next::Stop(answer) => return Ok(st.finish(StoppedReason::Success, Some(answer))),
            }
        }
        // Calls the model makes when no tools were offered are answered, not run.
        let refuse = (from_model && !spec.use_tools).then_some(TOOLS_DISABLED);
        let known = calls::Known { listed: &listed, list_error: list_error.as_deref(), refuse };
        let executed = calls::execute(tools, &known, &requested, &limits, &current).await;
        if let Some(answer) = record_calls(&mut st, executed, router_call_ms) {
            return Ok(st.finish(StoppedReason::Success, Some(answer)));
        }
    }
    Ok(st.finish(StoppedReason::MaxIterations, None))
}

/// A budget stop, or — with escalation configured and not yet used — one more call on the
/// escalation model.
async fn budget_stop<M: ChatModel>(mut st: State<'_>, model: &M) -> Result<RunOutcome, AgentError> {
    let Some(target) = st.spec.escalation.as_ref().map(|e| e.model.clone()).filter(|_| !st.budget.escalated) else {
        return Ok(st.finish(StoppedReason::Budget, None));
    };
    st.budget.escalated = true;
    st.used_model.clone_from(&target);
    if st.shortcircuits(&target) {
        return Ok(st.finish(StoppedReason::Success, Some(String::new())));
    }
    let request = ChatRequest::of(prune(&st.messages));
    let call_started = Instant::now();
    let completion = model.complete(&target, &request).await?;
    st.served.clone_from(&completion.served);
    let assistant = assistant_message(completion.message());
    let content = assistant.get("content").and_then(Value::as_str).unwrap_or_default().to_owned();
    st.messages.push(assistant);
    st.iterations.push(IterationRecord {
        router_call_ms: call_started.elapsed().as_secs_f64() * 1e3,
        tool_invocations: Vec::new(),
    });
    Ok(st.finish(StoppedReason::Success, Some(content)))
}

/// The calls of the reply and whether the model made them; without any and with
/// `auto_run_code_on_code_block`, the first fenced block as call `auto_codeblock_0` — written into
/// the assistant message so the transcript stays valid (every tool message answers a call the
/// assistant made).
fn requested_calls(
    assistant: &mut Value,
    spec: &RunSpec,
    iteration: usize,
    content: &str,
) -> (Vec<RequestedCall>, bool) {
    let requested = calls::requested_calls(assistant, iteration);
    if !requested.is_empty() || !spec.auto_run_code_on_code_block {
        return (requested, true);
    }
    let Some(block) = codeblock::first_block(content) else { return (requested, true) };
    let arguments = json!({"language": block.language, "code": block.code}).to_string();
    let synthetic = RequestedCall {
        id: "auto_codeblock_0".to_owned(),
        name: block.tool_name().to_owned(),
        arguments_raw: Value::String(arguments.clone()),
    };
    assistant["tool_calls"] = json!([{
        "id": synthetic.id, "type": "function",
        "function": {"name": synthetic.name, "arguments": arguments}
    }]);
    (vec![synthetic], false)
}

/// A reply without tool calls: an empty one gets a nudge; one that says its budget was exceeded
/// escalates (each time it says so, while iterations remain); anything else is the answer.
fn no_calls(st: &mut State<'_>, content: String) -> Next {
    if content.trim().is_empty() {
        st.messages.push(json!({"role": "user", "content": NUDGE}));
        return Next::Continue;
    }
    let lower = content.to_lowercase();
    if lower.contains("budget")
        && lower.contains("exceeded")
        && let Some(escalation) = &st.spec.escalation
    {
        st.messages.push(json!({
            "role": "user",
            "content": format!(
                "Observation: the model reported that its budget was exceeded; escalating to {}.",
                escalation.model
            )
        }));
        st.budget.escalate_next = true;
        return Next::Continue;
    }
    Next::Stop(content)
}

/// Appends an iteration's tool messages and record; the answer when every call succeeded with
/// output, else (with repair on) the observation that asks the model to fix its approach.
fn record_calls(st: &mut State<'_>, executed: Executed, router_call_ms: f64) -> Option<String> {
    st.messages.extend(executed.messages);
    let all_ok = !executed.invocations.is_empty()
        && executed.invocations.iter().all(|inv| inv.ok)
        && executed.has_output.iter().all(|h| *h);
    if st.spec.enable_repair && !all_ok {
        st.messages.push(repair_observation(&executed.invocations));
    }
    st.iterations.push(IterationRecord { router_call_ms, tool_invocations: executed.invocations });
    all_ok.then(|| executed.outputs.join("\n"))
}

/// The repair observation: what failed, briefly, and the directive to fix the approach.
fn repair_observation(invocations: &[ToolInvocation]) -> Value {
    let summary: Vec<Value> = invocations
        .iter()
        .map(|inv| {
            json!({
                "tool": inv.tool_name, "ok": inv.ok, "rc": inv.rc,
                "error": inv.error, "stdout": inv.stdout, "stderr": inv.stderr,
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
