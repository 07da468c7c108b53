//! Properties of the agent loop against a scripted model and a fake tool backend, under paused
//! time: tool messages follow call order whatever the finish order and concurrency; budgets and
//! escalation use virtual time, so these tests take no real seconds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use miniagent::ToolBackend;
use miniagent::ToolCall;
use miniagent::ToolResult;
use miniagent::{ChatModel, LoopEnv, StoppedReason, run_loop};
use miniagent::{ChatRequest, Completion, ProviderError, ProviderKind};
use miniagent::{Escalation, RunSpec};
use proptest::prelude::*;
use serde_json::{Value, json};

/// A model that replies from a list by the number of replies already in the history, after an
/// optional delay per reply; models named in `by_model` always give that reply.
struct ScriptedModel {
    turns: Vec<(u64, Value)>,
    by_model: Vec<(&'static str, Value)>,
}

impl ChatModel for ScriptedModel {
    async fn complete(&self, model: &str, request: &ChatRequest<'_>) -> Result<Completion, ProviderError> {
        let message = match self.by_model.iter().find(|(m, _)| *m == model) {
            Some((_, reply)) => reply.clone(),
            None => {
                let played = request
                    .messages
                    .iter()
                    .filter(|m| {
                        m["role"] == "assistant" && !m["content"].as_str().is_some_and(|c| c.starts_with("Observation"))
                    })
                    .count();
                let (delay, reply) = self
                    .turns
                    .get(played)
                    .cloned()
                    .unwrap_or((0, json!({"role": "assistant", "content": "exhausted"})));
                // A reply without delay is ready at the first poll, as an in-process model's is.
                if delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                reply
            }
        };
        Ok(Completion::new(json!({"choices": [{"message": message}]}), ProviderKind::Dummy))
    }
}

/// Tools that sleep `delay_ms` (virtual time) and answer their `label`.
struct SleepyTools;

impl ToolBackend for SleepyTools {
    async fn list(&self) -> Result<Vec<Value>, String> {
        Ok(vec![json!({"type": "function", "function": {"name": "sleepy", "parameters": {"type": "object"}}})])
    }

    async fn invoke(&self, call: &ToolCall) -> ToolResult {
        let args = call.arguments.clone().unwrap_or_default();
        tokio::time::sleep(Duration::from_millis(args["delay_ms"].as_u64().unwrap_or(0))).await;
        ToolResult::success("sleepy", args["label"].as_str().unwrap_or_default())
    }
}

fn spec(extra: impl FnOnce(&mut RunSpec)) -> RunSpec {
    let mut s = RunSpec::local_defaults("m".into(), vec![json!({"role": "user", "content": "go"})]);
    s.use_tools = true;
    extra(&mut s);
    s
}

fn paused() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap()
}

fn tool_calls(delays: &[u64]) -> Value {
    let calls: Vec<Value> = delays
        .iter()
        .enumerate()
        .map(|(i, d)| json!({"id": format!("c{i}"), "type": "function", "function": {"name": "sleepy", "arguments": json!({"delay_ms": d, "label": format!("L{i}")}).to_string()}}))
        .collect();
    json!({"role": "assistant", "content": null, "tool_calls": calls})
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn tool_messages_follow_call_order(delays in prop::collection::vec(0u64..1000, 1..10), concurrency in 1usize..16) {
        let model = ScriptedModel { turns: vec![(0, tool_calls(&delays))], by_model: vec![] };
        let spec = spec(|s| { s.tool_concurrency = concurrency; s.max_tools_per_iter = 16; });
        let outcome = paused().block_on(run_loop(&spec, &model, &SleepyTools, &LoopEnv::default())).unwrap();
        let tool_msgs: Vec<(String, String)> = outcome.messages.iter().filter(|m| m["role"] == "tool")
            .map(|m| (m["tool_call_id"].as_str().unwrap().to_owned(), m["content"].as_str().unwrap().to_owned())).collect();
        let expected: Vec<(String, String)> = (0..delays.len()).map(|i| (format!("c{i}"), format!("L{i}"))).collect();
        prop_assert_eq!(tool_msgs, expected);
        let indexes: Vec<u64> = outcome.iterations[0].tool_invocations.iter().map(|inv| inv.call_index as u64).collect();
        prop_assert_eq!(indexes, (0..delays.len() as u64).collect::<Vec<_>>());
        prop_assert_eq!(outcome.stopped_reason, StoppedReason::Success);
    }
}

#[test]
fn concurrency_bounds_wall_time() {
    // Four 1 s calls: 4 s one at a time, 2 s two at a time, 1 s four at a time (virtual seconds).
    for (concurrency, expected) in [(1usize, 4u64), (2, 2), (4, 1)] {
        let model = ScriptedModel { turns: vec![(0, tool_calls(&[1000, 1000, 1000, 1000]))], by_model: vec![] };
        let spec = spec(|s| s.tool_concurrency = concurrency);
        let rt = paused();
        let took = rt.block_on(async {
            let start = tokio::time::Instant::now();
            run_loop(&spec, &model, &SleepyTools, &LoopEnv::default()).await.unwrap();
            start.elapsed()
        });
        assert_eq!(took.as_secs(), expected, "concurrency {concurrency}");
    }
}

#[test]
fn the_budget_stops_a_slow_model_in_virtual_time() {
    let model =
        ScriptedModel { turns: vec![(60_000, json!({"role": "assistant", "content": "late"}))], by_model: vec![] };
    let spec = spec(|s| s.max_total_seconds = Some(2.0));
    let rt = paused();
    let (outcome, took) = rt.block_on(async {
        let start = tokio::time::Instant::now();
        let o = run_loop(&spec, &model, &SleepyTools, &LoopEnv::default()).await.unwrap();
        (o, start.elapsed())
    });
    assert_eq!(outcome.stopped_reason, StoppedReason::Budget);
    assert_eq!(outcome.final_answer, None);
    assert_eq!(took, Duration::from_secs(2), "stops at the deadline, not after the model");
}

#[test]
fn a_deadline_passed_while_tools_ran_stops_the_run_before_the_next_model_call() {
    // The tool takes 3 s of a 1 s budget and prints nothing (so the run goes on); the model's next
    // reply would be ready at once, so only the budget check before each call keeps it from being
    // asked.
    let silent = json!({"role": "assistant", "content": null, "tool_calls": [{"id": "c0", "type": "function",
        "function": {"name": "sleepy", "arguments": json!({"delay_ms": 3000, "label": ""}).to_string()}}]});
    let model = ScriptedModel {
        turns: vec![(0, silent), (0, json!({"role": "assistant", "content": "asked too late"}))],
        by_model: vec![],
    };
    let spec = spec(|s| s.max_total_seconds = Some(1.0));
    let outcome = paused().block_on(run_loop(&spec, &model, &SleepyTools, &LoopEnv::default())).unwrap();
    assert_eq!(outcome.stopped_reason, StoppedReason::Budget, "{:#?} {:?}", outcome.messages, outcome.final_answer);
    assert_eq!(outcome.final_answer, None);
    assert!(outcome.messages.iter().all(|m| m["content"] != "asked too late"), "{:#?}", outcome.messages);
    assert_eq!(outcome.iterations.len(), 1);
}

#[test]
fn a_tool_invocation_records_how_long_the_tool_took_in_milliseconds() {
    let model = ScriptedModel { turns: vec![(0, tool_calls(&[1500, 250]))], by_model: vec![] };
    let spec = spec(|s| s.tool_concurrency = 2);
    let outcome = paused().block_on(run_loop(&spec, &model, &SleepyTools, &LoopEnv::default())).unwrap();
    let took: Vec<f64> = outcome.iterations[0].tool_invocations.iter().map(|inv| inv.t_ms).collect();
    assert_eq!(took.len(), 2);
    assert!((took[0] - 1500.0).abs() < 1.0 && (took[1] - 250.0).abs() < 1.0, "t_ms {took:?} (virtual time)");
}

#[test]
fn a_budget_stop_escalates_once() {
    let model = ScriptedModel {
        turns: vec![(60_000, json!({"role": "assistant", "content": "late"}))],
        by_model: vec![("big", json!({"role": "assistant", "content": "from big"}))],
    };
    let spec = spec(|s| {
        s.max_total_seconds = Some(1.0);
        s.escalation = Some(Escalation { model: "big".into() });
    });
    let outcome = paused().block_on(run_loop(&spec, &model, &SleepyTools, &LoopEnv::default())).unwrap();
    assert_eq!(outcome.stopped_reason, StoppedReason::Success);
    assert_eq!(outcome.final_answer.as_deref(), Some("from big"));
    assert!(outcome.escalated);
    assert_eq!(outcome.used_model, "big");
    assert_eq!(outcome.iterations.len(), 1, "the escalated call is the one recorded iteration");
}

#[test]
fn escalation_signal_without_a_further_call_is_not_escalated() {
    // The model says its budget is exceeded on the last allowed iteration: no call used the
    // escalation model, so the run is not escalated.
    let model = ScriptedModel {
        turns: vec![(0, json!({"role": "assistant", "content": "budget exceeded"}))],
        by_model: vec![],
    };
    let spec = spec(|s| {
        s.max_iterations = 1;
        s.escalation = Some(Escalation { model: "big".into() });
    });
    let outcome = paused().block_on(run_loop(&spec, &model, &SleepyTools, &LoopEnv::default())).unwrap();
    assert_eq!(outcome.stopped_reason, StoppedReason::MaxIterations);
    assert!(!outcome.escalated);
    assert_eq!(outcome.used_model, "m");
}

/// Replies from a queue, recording which model each call went to.
struct QueueModel {
    replies: std::sync::Mutex<std::collections::VecDeque<&'static str>>,
    calls: std::sync::Mutex<Vec<String>>,
}

impl ChatModel for QueueModel {
    async fn complete(&self, model: &str, _request: &ChatRequest<'_>) -> Result<Completion, ProviderError> {
        self.calls.lock().unwrap().push(model.to_owned());
        let content = self.replies.lock().unwrap().pop_front().unwrap_or("exhausted");
        Ok(Completion::new(
            json!({"choices": [{"message": {"role": "assistant", "content": content}}]}),
            ProviderKind::Dummy,
        ))
    }
}

/// The Python original's test counts three model calls for two "budget exceeded" replies: each one
/// escalates (the second while already on the escalation model), and the third call answers.
#[test]
fn a_budget_exceeded_reply_escalates_each_time_it_is_reported() {
    let model = QueueModel {
        replies: std::sync::Mutex::new(["Budget exceeded.", "budget EXCEEDED again", "the answer"].into()),
        calls: std::sync::Mutex::new(Vec::new()),
    };
    let spec = spec(|s| {
        s.max_iterations = 5;
        s.escalation = Some(Escalation { model: "big".into() });
    });
    let outcome = paused().block_on(run_loop(&spec, &model, &SleepyTools, &LoopEnv::default())).unwrap();
    assert_eq!(*model.calls.lock().unwrap(), ["m", "big", "big"]);
    assert_eq!(outcome.stopped_reason, StoppedReason::Success);
    assert_eq!(outcome.final_answer.as_deref(), Some("the answer"));
    assert!(outcome.escalated);
    assert_eq!(outcome.used_model, "big");
    let observations = outcome
        .messages
        .iter()
        .filter(|m| m["content"].as_str().is_some_and(|c| c.contains("escalating to big")))
        .count();
    assert_eq!(observations, 2, "one observation per report");
}

/// Answers "done", recording the tools each call offered.
#[derive(Default)]
struct ToolsSeen {
    offered: std::sync::Mutex<Vec<Option<Vec<Value>>>>,
}

impl ChatModel for ToolsSeen {
    async fn complete(&self, _model: &str, request: &ChatRequest<'_>) -> Result<Completion, ProviderError> {
        self.offered.lock().unwrap().push(request.tools.map(<[Value]>::to_vec));
        Ok(Completion::new(
            json!({"choices": [{"message": {"role": "assistant", "content": "done"}}]}),
            ProviderKind::Dummy,
        ))
    }
}

/// A backend with no tools.
struct NoTools;

impl ToolBackend for NoTools {
    async fn list(&self) -> Result<Vec<Value>, String> {
        Ok(Vec::new())
    }

    async fn invoke(&self, call: &ToolCall) -> ToolResult {
        ToolResult::failure(&call.name, "no tools here")
    }
}

#[test]
fn tools_are_offered_only_with_use_tools_and_a_backend_that_lists_some() {
    let sleepy = paused().block_on(SleepyTools.list()).unwrap();
    let offered = |use_tools: bool, none: bool| {
        let model = ToolsSeen::default();
        let spec = spec(|s| s.use_tools = use_tools);
        let env = LoopEnv::default();
        let outcome = if none {
            paused().block_on(run_loop(&spec, &model, &NoTools, &env))
        } else {
            paused().block_on(run_loop(&spec, &model, &SleepyTools, &env))
        };
        assert_eq!(outcome.unwrap().final_answer.as_deref(), Some("done"));
        model.offered.into_inner().unwrap()
    };
    assert_eq!(offered(true, false), vec![Some(sleepy)], "use_tools and a listed tool: offered");
    assert_eq!(offered(false, false), vec![None], "use_tools off: nothing offered");
    assert_eq!(offered(true, true), vec![None], "nothing listed: no (empty) tools field");
}

#[test]
fn an_iteration_records_how_long_the_model_call_took_in_milliseconds() {
    let model =
        ScriptedModel { turns: vec![(1500, json!({"role": "assistant", "content": "slow"}))], by_model: vec![] };
    let outcome = paused().block_on(run_loop(&spec(|_| {}), &model, &SleepyTools, &LoopEnv::default())).unwrap();
    let took = outcome.iterations[0].router_call_ms;
    assert!((took - 1500.0).abs() < 1.0, "router_call_ms {took} (virtual time)");
}

/// The request's model never answers in time; the escalation model `big` answers after 700 ms.
struct SlowThenBig;

impl ChatModel for SlowThenBig {
    async fn complete(&self, model: &str, _request: &ChatRequest<'_>) -> Result<Completion, ProviderError> {
        let (delay, content) = if model == "big" { (700, "from big") } else { (60_000, "late") };
        tokio::time::sleep(Duration::from_millis(delay)).await;
        Ok(Completion::new(
            json!({"choices": [{"message": {"role": "assistant", "content": content}}]}),
            ProviderKind::Dummy,
        ))
    }
}

#[test]
fn the_escalated_call_after_a_budget_stop_records_its_time() {
    let spec = spec(|s| {
        s.max_total_seconds = Some(1.0);
        s.escalation = Some(Escalation { model: "big".into() });
    });
    let outcome = paused().block_on(run_loop(&spec, &SlowThenBig, &SleepyTools, &LoopEnv::default())).unwrap();
    assert_eq!(outcome.final_answer.as_deref(), Some("from big"));
    let took = outcome.iterations[0].router_call_ms;
    assert!((took - 700.0).abs() < 1.0, "router_call_ms {took} (virtual time)");
}

#[test]
fn a_fenced_block_runs_only_with_auto_run_and_only_when_the_model_made_no_calls() {
    let block = json!({"role": "assistant", "content": "Run this:\n```python\nprint(1)\n```"});
    // auto_run off: the reply is the answer, nothing runs.
    let model = ScriptedModel { turns: vec![(0, block.clone())], by_model: vec![] };
    let outcome = paused().block_on(run_loop(&spec(|_| {}), &model, &SleepyTools, &LoopEnv::default())).unwrap();
    assert_eq!(outcome.final_answer.as_deref(), block["content"].as_str());
    assert!(outcome.iterations.iter().all(|i| i.tool_invocations.is_empty()), "nothing ran");
    // auto_run on, but the model made a call: its call runs, not the block.
    let mut both = tool_calls(&[0]);
    both["content"] = block["content"].clone();
    let model = ScriptedModel { turns: vec![(0, both)], by_model: vec![] };
    let spec = spec(|s| s.auto_run_code_on_code_block = true);
    let outcome = paused().block_on(run_loop(&spec, &model, &SleepyTools, &LoopEnv::default())).unwrap();
    let ran: Vec<&str> = outcome.iterations[0].tool_invocations.iter().map(|i| i.tool_call_id.as_str()).collect();
    assert_eq!(ran, vec!["c0"]);
    assert_eq!(outcome.final_answer.as_deref(), Some("L0"));
}

#[test]
fn only_a_chutes_escalation_with_the_flag_on_is_short_circuited() {
    let escalate = |to: &'static str, flag: bool| {
        let model = ScriptedModel {
            turns: vec![(60_000, json!({"role": "assistant", "content": "late"}))],
            by_model: vec![(to, json!({"role": "assistant", "content": "escalated answer"}))],
        };
        let spec = spec(|s| {
            s.max_total_seconds = Some(1.0);
            s.escalation = Some(Escalation { model: to.into() });
        });
        let env = LoopEnv { shortcircuit_chutes: flag };
        let outcome = paused().block_on(run_loop(&spec, &model, &SleepyTools, &env)).unwrap();
        (outcome.final_answer.unwrap_or_default(), outcome.iterations.len())
    };
    assert_eq!(escalate("chutes/big", true), (String::new(), 0), "short-circuited: no call");
    assert_eq!(escalate("chutes/big", false), ("escalated answer".to_owned(), 1), "flag off: called");
    assert_eq!(escalate("big", true), ("escalated answer".to_owned(), 1), "not chutes: called");
}
