//! The `/agent/run` response envelope: a pure function of a run's outcome.
//!
//! Key order is contract (`ok, final_answer, stopped_reason, messages, metrics,
//! last_tool_invocation`), so the envelope is a struct — serde writes struct fields in declaration
//! order — rather than a map built by hand. Does no I/O.

use serde::Serialize;
use serde_json::Value;

use crate::agent::invocation::ToolInvocation;
use crate::agent::outcome::{RunOutcome, StoppedReason};

/// Borrowed from the outcome it shapes: nothing is copied to answer (the messages above all) —
/// it is serialized once, straight into the response body.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Envelope<'a> {
    pub ok: bool,
    pub final_answer: Option<&'a str>,
    pub stopped_reason: StoppedReason,
    pub messages: &'a [Value],
    pub metrics: Metrics<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_tool_invocation: Option<&'a ToolInvocation>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Metrics<'a> {
    pub iterations: usize,
    pub ttotal_ms: f64,
    pub escalated: bool,
    pub used_model: &'a str,
}

/// Shapes an outcome. `ttotal_ms` is the server time spent on the request so far.
pub(crate) fn build(outcome: &RunOutcome, ttotal_ms: f64) -> Envelope<'_> {
    let last_tool_invocation = outcome.last_ok_invocation();
    let mut final_answer = outcome.final_answer.as_deref();
    if final_answer.is_none_or(str::is_empty)
        && let Some(stdout) = last_tool_invocation.and_then(|inv| inv.stdout.as_deref())
        && !stdout.is_empty()
    {
        final_answer = Some(stdout);
    }
    Envelope {
        ok: true,
        final_answer,
        stopped_reason: outcome.stopped_reason,
        messages: &outcome.messages,
        metrics: Metrics {
            iterations: outcome.iterations.len(),
            ttotal_ms,
            escalated: outcome.escalated,
            used_model: &outcome.used_model,
        },
        last_tool_invocation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::invocation::RequestedCall;
    use crate::agent::outcome::IterationRecord;
    use crate::tools::result::ToolResult;

    fn inv(ok: bool, stdout: &str) -> ToolInvocation {
        let requested = RequestedCall { id: "c".into(), name: "t".into(), arguments_raw: Value::Null };
        let result = ToolResult { ok, name: "t".into(), stdout: Some(stdout.into()), ..ToolResult::default() };
        ToolInvocation::new(0, &requested, "m", result, 1.0)
    }

    fn outcome(final_answer: Option<&str>, invocations: Vec<Vec<ToolInvocation>>) -> RunOutcome {
        RunOutcome {
            final_answer: final_answer.map(str::to_owned),
            stopped_reason: StoppedReason::Success,
            messages: vec![],
            iterations: invocations
                .into_iter()
                .map(|tool_invocations| IterationRecord { router_call_ms: 1.0, tool_invocations })
                .collect(),
            escalated: false,
            used_model: "m".into(),
            served: None,
        }
    }

    #[test]
    fn keys_come_in_contract_order() {
        let outcome = outcome(Some("hi"), vec![vec![inv(true, "x")]]);
        let env = build(&outcome, 1.5);
        let text = serde_json::to_string(&env).expect("serializes");
        let order = [
            "\"ok\"",
            "\"final_answer\"",
            "\"stopped_reason\"",
            "\"messages\"",
            "\"metrics\"",
            "\"last_tool_invocation\"",
        ];
        let positions: Vec<usize> = order.iter().map(|k| text.find(k).expect(k)).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
        let metrics = ["\"iterations\"", "\"ttotal_ms\"", "\"escalated\"", "\"used_model\""];
        let positions: Vec<usize> = metrics.iter().map(|k| text.find(k).expect(k)).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    #[test]
    fn last_tool_invocation_only_from_the_last_iteration_and_only_when_ok() {
        let ok = inv(true, "old");
        let failed = inv(false, "bad");
        assert!(
            build(&outcome(None, vec![vec![ok.clone()], vec![failed.clone()]]), 0.0).last_tool_invocation.is_none()
        );
        assert!(build(&outcome(None, vec![]), 0.0).last_tool_invocation.is_none());
        let outcome = outcome(None, vec![vec![failed, ok.clone()]]);
        let env = build(&outcome, 0.0);
        assert_eq!(env.last_tool_invocation, Some(&ok));
    }

    #[test]
    fn empty_final_answer_falls_back_to_stdout() {
        let invs = vec![vec![inv(true, "42\n")]];
        assert_eq!(build(&outcome(Some(""), invs.clone()), 0.0).final_answer, Some("42\n"));
        assert_eq!(build(&outcome(None, invs.clone()), 0.0).final_answer, Some("42\n"));
        assert_eq!(build(&outcome(Some("kept"), invs), 0.0).final_answer, Some("kept"));
    }

    #[test]
    fn absent_last_tool_invocation_is_absent_not_null() {
        let text = serde_json::to_string(&build(&outcome(Some("a"), vec![]), 0.0)).expect("serializes");
        assert!(!text.contains("last_tool_invocation"), "{text}");
    }
}
