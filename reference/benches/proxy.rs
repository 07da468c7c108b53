//! The OpenAI surface as a proxy: what it costs to put miniagent between a client and a provider.
//!
//! A zero-latency upstream (a fixed chat completion, its own process-like runtime thread) and the
//! release `miniagent serve` pointed at it, driven by an HTTP/1.1 load generator on this machine:
//! 1. the upstream alone at 50 keep-alive connections (its own req/s),
//! 2. `POST /v1/chat/completions` through miniagent at 50 connections (req/s, and the ratio to 1),
//! 3. `POST /agent/run` (`echo` backend: one model call) through miniagent, for comparison,
//! 4. latency at a fixed 2 000 req/s, direct and through the proxy: the added p50 and p99.
//!
//! Run with `make bench` (or `cargo bench -p miniagent --bench proxy`); `BENCH_SECS` sets the
//! measuring time per scenario.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{bench_secs, closed_loop, open_loop, percentiles, start_fixed_upstream, start_miniagent};

const CONCURRENCY: usize = 50;
const COMPLETION: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1,"model":"bench","choices":[{"index":0,"message":{"role":"assistant","content":"hello there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#;
const CHAT: &str = r#"{"model":"openai/bench","messages":[{"role":"user","content":"hi"}],"temperature":0.2}"#;
const RUN: &str = r#"{"model":"openai/bench","tool_backend":"echo","messages":[{"role":"user","content":"hi"}]}"#;

/// Rounds per figure: the scenarios alternate round by round and each figure is the median, so a
/// burst of other work on the machine hits every scenario alike instead of one.
const ROUNDS: usize = 3;

fn main() {
    let secs = bench_secs(3.0);
    let (upstream, _) = start_fixed_upstream(COMPLETION);
    let base = format!("http://{upstream}/v1");
    let server = start_miniagent(&["serve"], &[("OPENAI_API_BASE", &base), ("OPENAI_API_KEY", "sk-bench")]);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let d = Duration::from_secs_f64(secs);
    println!(
        "miniagent proxy bench: {CONCURRENCY} connections, {ROUNDS} alternating rounds of {secs} s per scenario, everything on this machine"
    );
    let (mut direct, mut proxied, mut run) = (Vec::new(), Vec::new(), Vec::new());
    let (mut lat_direct, mut lat_proxied, mut lat_run) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let l = rt.block_on(closed_loop(upstream, CONCURRENCY, "/v1/chat/completions", CHAT, d));
        direct.push(l.len() as f64 / secs);
        lat_direct.extend(l);
        let l = rt.block_on(closed_loop(server.1, CONCURRENCY, "/v1/chat/completions", CHAT, d));
        proxied.push(l.len() as f64 / secs);
        lat_proxied.extend(l);
        let l = rt.block_on(closed_loop(server.1, CONCURRENCY, "/agent/run", RUN, d));
        run.push(l.len() as f64 / secs);
        lat_run.extend(l);
    }
    report("upstream alone (zero latency)", median(&direct), &lat_direct);
    report("POST /v1/chat/completions via miniagent", median(&proxied), &lat_proxied);
    report("POST /agent/run (echo backend) via miniagent", median(&run), &lat_run);
    let ratios: Vec<f64> = direct.iter().zip(&proxied).map(|(d, p)| p / d).collect();
    println!(
        "proxy throughput / upstream throughput: {:.2}× (median of the rounds' ratios {:?})   chat route vs /agent/run: {:+.0} %",
        median(&ratios),
        ratios.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>(),
        (median(&proxied) / median(&run) - 1.0) * 100.0
    );
    let (mut direct, mut proxied) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        direct.extend(rt.block_on(open_loop(upstream, "/v1/chat/completions", CHAT, 2000.0, d)));
        proxied.extend(rt.block_on(open_loop(server.1, "/v1/chat/completions", CHAT, 2000.0, d)));
    }
    let (dp, pp) = (micros(percentiles(direct)), micros(percentiles(proxied)));
    println!(
        "at 2000 req/s: direct p50 {:.0} µs p99 {:.0} µs; via miniagent p50 {:.0} µs p99 {:.0} µs → added p50 {:.0} µs, p99 {:.0} µs",
        dp.0,
        dp.1,
        pp.0,
        pp.1,
        pp.0 - dp.0,
        pp.1 - dp.1
    );
    drop(server);
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn micros((p50, p99): (f64, f64)) -> (f64, f64) {
    (p50 * 1e3, p99 * 1e3)
}

fn report(name: &str, rps: f64, lat: &[Duration]) {
    let (p50, p99) = micros(percentiles(lat.to_vec()));
    println!("{name:<48} {rps:>9.0} req/s   p50 {p50:>7.0} µs   p99 {p99:>7.0} µs");
}
