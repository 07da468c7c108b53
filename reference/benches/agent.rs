//! The agent loop's own cost, and the local tools' process round trip.
//!
//! 1. Loop overhead per iteration: `run_loop` against a zero-latency in-process model and an instant
//!    tool backend, so what is measured is the loop itself (pruning, message building, dispatch,
//!    records). Each iteration is one model call and one tool call that produces no output, so the
//!    loop goes on (repair) until `max_iterations`.
//! 2. `exec_python` round trip for `print(1)` against a bare `python3 -c 'print(1)'` spawn.
//!
//! Run with `make bench` or `cargo bench -p miniagent --bench agent`.
#![allow(clippy::disallowed_methods, reason = "tests start real programs and read their own settings")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use miniagent::RunSpec;
use miniagent::ToolBackend;
use miniagent::ToolCall;
use miniagent::{ChatModel, LoopEnv, run_loop};
use miniagent::{ChatRequest, Completion, ProviderError, ProviderKind};
use miniagent::{HttpToolSettings, HttpTools};
use miniagent::{LocalSettings, LocalTools};
use serde_json::{Value, json};

struct InstantModel;

impl ChatModel for InstantModel {
    async fn complete(&self, _model: &str, _request: &ChatRequest<'_>) -> Result<Completion, ProviderError> {
        let message = json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "noop", "arguments": "{\"x\": 1}"}}
        ]});
        Ok(Completion::new(json!({"choices": [{"message": message}]}), ProviderKind::Dummy))
    }
}

struct InstantTools;

impl ToolBackend for InstantTools {
    async fn list(&self) -> Result<Vec<Value>, String> {
        Ok(vec![json!({"type": "function", "function": {"name": "noop", "parameters": {"type": "object"}}})])
    }

    async fn invoke(&self, _call: &ToolCall) -> miniagent::ToolResult {
        miniagent::ToolResult { ok: true, name: "noop".into(), ..Default::default() }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();

    let iterations = 20u32;
    let mut spec = RunSpec::local_defaults(
        "m".into(),
        vec![json!({"role": "system", "content": "be brief"}), json!({"role": "user", "content": "go"})],
    );
    spec.use_tools = true;
    spec.max_iterations = iterations;
    let runs = 2000;
    let env = LoopEnv::default();
    rt.block_on(async {
        for _ in 0..100 {
            run_loop(&spec, &InstantModel, &InstantTools, &env).await.unwrap();
        }
    });
    let samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            rt.block_on(run_loop(&spec, &InstantModel, &InstantTools, &env)).unwrap();
            t.elapsed() / iterations
        })
        .collect();
    println!(
        "agent loop overhead per iteration (zero-latency model and tools, {iterations} iterations × {runs} runs): median {:.1} µs",
        median(samples).as_secs_f64() * 1e6
    );

    // One HTTP tool invocation against a zero-latency tools server (the stub, in-process).
    let (base, _server) = rt.block_on(async {
        let (listener, addr) = miniagent::serve::bind("127.0.0.1", 0).await.unwrap();
        let app = miniagent::tools_stub::app(std::sync::Arc::new(miniagent::tools_stub::StubState::default()));
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        (url::Url::parse(&format!("http://{addr}")).unwrap(), server)
    });
    let http = HttpTools::new(&base, &[("Authorization".into(), "Bearer bench".into())], HttpToolSettings::default());
    let echo = ToolCall::new("c", "echo", Value::String(r#"{"text":"bench"}"#.into()));
    let mut lat: Vec<Duration> = (0..3000)
        .map(|_| {
            let t = Instant::now();
            let r = rt.block_on(http.invoke(&echo));
            assert_eq!(r.result.as_deref(), Some("bench"));
            t.elapsed()
        })
        .skip(200)
        .collect();
    lat.sort_unstable();
    println!(
        "http tool invocation (echo, zero-latency local tools server, {} calls): p50 {:.0} µs  p99 {:.0} µs",
        lat.len(),
        lat[lat.len() / 2].as_secs_f64() * 1e6,
        lat[lat.len() * 99 / 100].as_secs_f64() * 1e6
    );

    let tools =
        LocalTools::new(LocalSettings::default(), std::sync::Arc::new(miniagent::Sandbox::new(Default::default())));
    let call = ToolCall::new("c", "exec_python", Value::String(json!({"code": "print(1)"}).to_string()));
    let n = 40;
    let mut tool = Vec::with_capacity(n);
    let mut bare = Vec::with_capacity(n);
    for _ in 0..n {
        // Interleaved, so both see the same machine state.
        let t = Instant::now();
        let r = rt.block_on(tools.invoke(&call));
        tool.push(t.elapsed());
        assert_eq!(r.stdout.as_deref(), Some("1\n"));
        let t = Instant::now();
        let out = std::process::Command::new("python3").args(["-c", "print(1)"]).output().unwrap();
        bare.push(t.elapsed());
        assert_eq!(out.stdout, b"1\n");
    }
    let (tool, bare) = (median(tool), median(bare));
    println!(
        "exec_python print(1) round trip: median {:.2} ms vs bare python3 -c spawn {:.2} ms (ratio {:.2}, {n} runs each)",
        tool.as_secs_f64() * 1e3,
        bare.as_secs_f64() * 1e3,
        tool.as_secs_f64() / bare.as_secs_f64()
    );
}
