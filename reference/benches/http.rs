//! Throughput and latency of the façade's cheapest paths, on loopback, load generator included.
//!
//! Starts the real `miniagent` binary (release build) with `serve --demo` and drives it with an
//! in-process HTTP/1.1 load generator: `CONCURRENCY` keep-alive connections, each sending its next
//! request as soon as the previous answer is read. Prints requests/s and p50/p99/max latency per
//! scenario. Run with `make bench` (or `cargo bench -p miniagent --bench http`); override the
//! measuring time with `BENCH_SECS`.
#![allow(clippy::disallowed_methods, reason = "tests start real programs and read their own settings")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{bench_secs, closed_loop, start_miniagent};

const CONCURRENCY: usize = 50;

struct Scenario {
    name: &'static str,
    path: &'static str,
    body: &'static str,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "POST /v1/chat/completions (echo shim)",
        path: "/v1/chat/completions",
        body: r#"{"model":"bench","messages":[{"role":"user","content":"hi"}]}"#,
    },
    Scenario {
        name: "POST /agent/run (echo backend, dummy model)",
        path: "/agent/run",
        body: r#"{"model":"dummy","tool_backend":"echo","messages":[{"role":"user","content":"hi"}]}"#,
    },
];

fn main() {
    let secs = bench_secs(5.0);
    let (server, addr) = start_miniagent(&["serve", "--demo"], &[]);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    println!(
        "miniagent http bench: {CONCURRENCY} connections, {secs} s per scenario, server and load generator on this machine"
    );
    for s in SCENARIOS {
        rt.block_on(closed_loop(addr, CONCURRENCY, s.path, s.body, Duration::from_secs_f64(0.5)));
        let mut lat = rt.block_on(closed_loop(addr, CONCURRENCY, s.path, s.body, Duration::from_secs_f64(secs)));
        let count = lat.len();
        lat.sort_unstable();
        let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
        println!(
            "{:<46} {:>9.0} req/s   p50 {:>6.3} ms   p99 {:>6.3} ms   max {:>7.3} ms   ({count} requests)",
            s.name,
            count as f64 / secs,
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            lat[lat.len() - 1].as_secs_f64() * 1e3,
        );
    }
    drop(server);
}
