//! Parallel completions: throughput against a provider fake with fixed latency, and the router's
//! own per-request cost.
//!
//! 1. 2 000 requests at concurrency 200 against an OpenAI-compatible fake that answers after
//!    20 ms: the ideal is 2 000 / 200 × 20 ms = 200 ms; the figure printed is how close we get.
//! 2. Router overhead: `parallel::one` on the offline `dummy` model (resolve, call, metadata), per
//!    request, with no network at all.
//!
//! Run with `make bench` or `cargo bench -p miniagent --bench parallel`.
#![allow(clippy::disallowed_methods, reason = "tests start real programs and read their own settings")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use miniagent::Config;
use miniagent::router::complete_one as one;
use miniagent::{ParallelOptions, complete_all};
use serde_json::{Value, json};

const LATENCY: Duration = Duration::from_millis(match option_env!("BENCH_LATENCY_MS") {
    Some(_) => 0,
    None => 20,
});

/// As cheap as a provider can be (a fixed answer, the request unread), so what is measured is the
/// proxy side.
async fn fake() -> ([(&'static str, &'static str); 1], &'static str) {
    tokio::time::sleep(LATENCY).await;
    (
        [("content-type", "application/json")],
        r#"{"id":"b","object":"chat.completion","created":1,"model":"bench","choices":[{"index":0,"message":{"role":"assistant","content":"{\"ok\": true}"},"finish_reason":"stop"}]}"#,
    )
}

fn main() {
    // The fake gets its own runtime thread, as a separate server would.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, Router::new().route("/v1/chat/completions", post(fake))).await.unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    let base = format!("http://{addr}/v1");
    let providers = Config::from_pairs([("OPENAI_API_BASE", base.as_str()), ("MINI_AGENT_ALLOW_DUMMY", "1")])
        .build_providers()
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    let (n, concurrency) = (2000usize, 200usize);
    let requests: Vec<Value> = (0..n)
        .map(|i| json!({"model": "openai/bench", "messages": [{"role": "user", "content": format!("r{i}")}]}))
        .collect();
    let options = ParallelOptions { concurrency, ..ParallelOptions::default() };
    // The fake's own latency as one client sees it (timer granularity included), for reference.
    let single = rt.block_on(async {
        let started = Instant::now();
        for _ in 0..20 {
            complete_all(&providers, requests[..1].to_vec(), &options).await.unwrap();
        }
        started.elapsed() / 20
    });
    // Warm the connection pool once.
    rt.block_on(complete_all(&providers, requests[..concurrency].to_vec(), &options)).unwrap();
    let mut runs = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let results = rt.block_on(complete_all(&providers, requests.clone(), &options)).unwrap();
        runs.push(started.elapsed());
        assert!(results.iter().all(|r| r["scillm_router"]["error_type"] == "ok"));
    }
    runs.sort();
    let ideal = LATENCY * (n / concurrency) as u32;
    let best = runs[0];
    println!(
        "parallel completions: {n} requests at concurrency {concurrency}, fake latency {} ms (one request alone: {:.1} ms): best {:.0} ms, median {:.0} ms (ideal {} ms; best is {:+.1} %)",
        LATENCY.as_millis(),
        single.as_secs_f64() * 1e3,
        best.as_secs_f64() * 1e3,
        runs[1].as_secs_f64() * 1e3,
        ideal.as_millis(),
        (best.as_secs_f64() / ideal.as_secs_f64() - 1.0) * 100.0
    );

    if std::env::var_os("BENCH_SKIP_ROUTER").is_some() {
        return;
    }
    let m = 50_000;
    let request = json!({"model": "dummy", "messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_object"}});
    let started = Instant::now();
    rt.block_on(async {
        for i in 0..m {
            let r = one(&providers, i, request.clone()).await;
            assert_eq!(r["scillm_router"]["provider"], "dummy");
        }
    });
    println!(
        "router overhead per request (dummy model, resolve + call + metadata): {:.1} µs",
        started.elapsed().as_secs_f64() * 1e6 / m as f64
    );
}
