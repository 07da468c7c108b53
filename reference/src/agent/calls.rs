//! One iteration's tool calls: parse them from the assistant message, resolve names against the
//! backend, run the first `max_tools_per_iter` of them `tool_concurrency` at a time, and produce the
//! invocation records and tool messages — in the **original call order**, whatever order the calls
//! finish in (`buffered` yields results in input order, which is exactly the contract).

use tokio::time::Instant;

use futures::StreamExt;
use serde_json::{Value, json};

use super::invocation::{RequestedCall, ToolInvocation};
use crate::tools::ToolBackend;
use crate::tools::call::ToolCall;
use crate::tools::result::ToolResult;

/// The tool calls of an assistant message; a call without an id gets `call_<iteration>_<index>` so
/// its tool message can still answer it.
pub(crate) fn requested_calls(message: &Value, iteration: usize) -> Vec<RequestedCall> {
    let Some(calls) = message.get("tool_calls").and_then(Value::as_array) else { return Vec::new() };
    calls
        .iter()
        .enumerate()
        .map(|(i, c)| RequestedCall {
            id: c.get("id").and_then(Value::as_str).map_or_else(|| format!("call_{iteration}_{i}"), str::to_owned),
            name: c.pointer("/function/name").and_then(Value::as_str).unwrap_or_default().to_owned(),
            arguments_raw: c.pointer("/function/arguments").cloned().unwrap_or(Value::String(String::new())),
        })
        .collect()
}

/// What one iteration's calls produced.
#[derive(Debug, Default)]
pub(crate) struct Executed {
    /// Tool messages, one per requested call, in call order.
    pub messages: Vec<Value>,
    /// Invocation records of the calls that were attempted (run or refused as unsupported).
    pub invocations: Vec<ToolInvocation>,
    /// The model-visible outputs of the invocations, in order.
    pub outputs: Vec<String>,
    /// Whether each invocation produced output (a non-blank `result`, `answer`, `text` or `stdout`).
    pub has_output: Vec<bool>,
}

pub(crate) struct Limits {
    pub max_tools_per_iter: usize,
    pub tool_concurrency: usize,
}

/// What the backend offers this run.
pub(crate) struct Known<'a> {
    /// The tools it listed.
    pub listed: &'a [Value],
    /// Why it could not list them, when it could not.
    pub list_error: Option<&'a str>,
    /// Refuse every call with this error (tools were not offered).
    pub refuse: Option<&'a str>,
}

/// Runs `calls` on `backend`.
pub(crate) async fn execute<T: ToolBackend>(
    backend: &T,
    known: &Known<'_>,
    calls: &[RequestedCall],
    limits: &Limits,
    model: &str,
) -> Executed {
    let cap = limits.max_tools_per_iter.max(1);
    // Collected into a Vec before streaming: a lazy `map` here trips the compiler's higher-ranked
    // `Send` inference for the handler future (rust-lang/rust#102211).
    let work: Vec<_> = calls
        .iter()
        .take(cap)
        .enumerate()
        .map(|(index, requested)| async move {
            let started = Instant::now();
            let resolved = if known.refuse.is_some() { None } else { backend.resolve(&requested.name, known.listed) };
            let result = match (resolved, known.refuse) {
                (_, Some(why)) => ToolResult::failure(&requested.name, why),
                (Some(name), None) => {
                    backend.invoke(&ToolCall::new(&requested.id, name, requested.arguments_raw.clone())).await
                }
                (None, None) => {
                    let why = match known.list_error {
                        Some(e) => {
                            format!("unsupported tool '{}' (the tools could not be listed: {e})", requested.name)
                        }
                        None => format!("unsupported tool '{}'", requested.name),
                    };
                    ToolResult::failure(&requested.name, why)
                }
            };
            let (content, has_output) = (result.content(), result.has_output());
            let record = ToolInvocation::new(index, requested, model, result, started.elapsed().as_secs_f64() * 1e3);
            (record, content, has_output)
        })
        .collect();
    let records: Vec<(ToolInvocation, String, bool)> =
        futures::stream::iter(work).buffered(limits.tool_concurrency.max(1)).collect().await;

    let mut out = Executed::default();
    for (i, requested) in calls.iter().enumerate() {
        let content = match records.get(i) {
            Some((_, content, _)) => content.clone(),
            None => format!("error: not run: at most {cap} tool calls run per iteration"),
        };
        out.messages
            .push(json!({"role": "tool", "tool_call_id": requested.id, "name": requested.name, "content": content}));
    }
    for (record, content, has_output) in records {
        out.invocations.push(record);
        out.outputs.push(content);
        out.has_output.push(has_output);
    }
    out
}
