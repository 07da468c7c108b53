//! Properties run against the target with a bounded number of generated cases (`--proptest-cases`):
//! tool messages keep call order under random finish times and concurrency (§2.7), and HTTP tool
//! retries stay bounded for random 429 sequences (§4). proptest generates and shrinks; each
//! generated case is real requests to the target.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

use crate::case::{Case, Level, Profile};
use crate::checks::{expect_status, uuid_like};
use crate::failure::{CaseResult, Failure};
use crate::fakes::provider::script_marker;
use crate::fakes::tools::NONCE_HEADER;
use crate::features::Feature;
use crate::target::Ctx;

pub const CASES: &[Case] = &[
    Case::new(
        "property.loop.tool_order",
        Profile::Core,
        Level::Recommended,
        "§2.7 tool messages in the original call order (property)",
        "for random per-call delays and concurrency, tool messages follow call order",
        |ctx| Box::pin(tool_order(ctx)),
    )
    .needs(&[Feature::ProviderFake, Feature::LocalTools]),
    Case::new(
        "property.http.retries_bounded",
        Profile::Core,
        Level::Recommended,
        "§4 429: bounded retries (property)",
        "for random 429 sequences, POSTs ≤ retries + 1 and the call succeeds iff a 2xx came in time",
        |ctx| Box::pin(retries_bounded(ctx)),
    )
    .needs(&[Feature::ProviderFake]),
];

/// Runs `property` for the context's number of cases; each case may make requests (the blocking
/// bridge needs a multi-threaded runtime, which both the runner and the tests use).
fn check<S: Strategy>(ctx: &Ctx, strategy: S, property: impl Fn(S::Value) -> Result<(), Failure>) -> CaseResult
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(Config {
        cases: ctx.property_cases,
        max_shrink_iters: 8,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |value| property(value).map_err(|f| TestCaseError::fail(f.to_string())))
        .map_err(|e| Failure::failed(format!("property failed: {e}")))
}

fn block<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(fut))
}

async fn run(ctx: &Ctx, body: Value) -> Result<Value, Failure> {
    let reply = ctx.post_json("/agent/run", &body).await?;
    expect_status(&reply, 200, "POST /agent/run")?;
    reply.json()
}

async fn tool_order(ctx: &Ctx) -> CaseResult {
    let strategy = (prop::collection::vec(0u64..300, 2..5), 1usize..5);
    check(ctx, strategy, |(delays, concurrency)| {
        let calls: Vec<Value> = delays
            .iter()
            .enumerate()
            .map(|(i, d)| json!({"name": "exec_python", "arguments": {"code": format!("import time; time.sleep({:.3}); print('call-{i}')", *d as f64 / 1000.0)}}))
            .collect();
        let body = json!({
            "model": "openai/fake-prop", "tool_backend": "local", "use_tools": true, "tool_concurrency": concurrency,
            "max_tools_per_iter": delays.len(),
            "messages": [{"role": "user", "content": format!("p {}", script_marker(&json!([{"tool_calls": calls}])))}],
        });
        let env = block(run(ctx, body))?;
        let contents: Vec<String> = env["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["role"] == "tool")
            .map(|m| m["content"].as_str().unwrap_or_default().trim().to_owned())
            .collect();
        let expected: Vec<String> = (0..delays.len()).map(|i| format!("call-{i}")).collect();
        if contents == expected {
            Ok(())
        } else {
            Err(Failure::failed(format!(
                "tool messages {contents:?}, expected {expected:?} (delays {delays:?}, concurrency {concurrency})"
            )))
        }
    })
}

async fn retries_bounded(ctx: &Ctx) -> CaseResult {
    let fakes = ctx.fakes()?;
    let base = format!("{}/ok", fakes.tools.uri());
    let strategy = (0u64..4, prop_oneof![Just("0"), Just("0.05"), Just("date"), Just("nonsense")]);
    check(ctx, strategy, |(times, retry_after)| {
        let key = uuid_like();
        let nonce = uuid_like();
        let script = json!([{"tool_calls": [{"name": "limited", "arguments": {"nonce": key, "times": times, "retry_after": retry_after}}]}, {"content": "done"}]);
        let body = json!({
            "model": "openai/fake-prop", "tool_backend": "http", "tool_http_base_url": base, "tool_http_headers": {NONCE_HEADER: nonce},
            "messages": [{"role": "user", "content": format!("p {}", script_marker(&script))}],
        });
        let env = block(run(ctx, body))?;
        let posts = block(fakes.tools.seen(&nonce)).iter().filter(|s| s.method == "POST").count();
        // The contract's default is one retry; a target configured otherwise still must not exceed
        // its own bound, which the suite cannot see — so check against the default.
        let expected_posts = (times as usize).min(1) + 1;
        if posts != expected_posts {
            return Err(Failure::failed(format!("{posts} POSTs for {times} leading 429s (expected {expected_posts})")));
        }
        let tool = env["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["role"] == "tool")
            .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default();
        let ok = !tool.starts_with("error:");
        if ok != (times <= 1) {
            return Err(Failure::failed(format!(
                "with {times} leading 429s the call should {}: {tool:?}",
                if times <= 1 { "succeed" } else { "fail" }
            )));
        }
        Ok(())
    })
}
