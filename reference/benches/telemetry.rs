//! What seeing the server costs (CONTRACT §12): echo requests/s with metrics off and no OTLP, with
//! metrics on (the default), and with metrics on plus every request's spans exported over OTLP to
//! a local receiver, and with one request in ten sampled (the standard `OTEL_TRACES_SAMPLER`) — in
//! the same run, measured in alternating rounds so drift hits all alike.
//! Target: the fully observed server within 5 % of the bare one.
#![allow(clippy::disallowed_methods, reason = "tests start real programs and read their own settings")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Child, bench_secs, closed_loop, percentiles, start_fixed_upstream, start_miniagent};

const CONNECTIONS: usize = 50;
const ROUNDS: usize = 3;

struct Setup {
    name: &'static str,
    server: (Child, SocketAddr),
    rps: Vec<f64>,
    lat: Vec<Duration>,
}

fn main() {
    let secs = bench_secs(3.0);
    // An OTLP/HTTP receiver that accepts every export (an empty body is an empty protobuf answer).
    let (sink, exports) = start_fixed_upstream("");
    let endpoint = format!("http://{sink}");
    let mut setups = vec![
        Setup {
            name: "metrics off, OTLP off",
            server: start_miniagent(&["serve", "--demo"], &[("MINI_AGENT_METRICS", "off")]),
            rps: Vec::new(),
            lat: Vec::new(),
        },
        Setup {
            name: "metrics on, OTLP off (default)",
            server: start_miniagent(&["serve", "--demo"], &[]),
            rps: Vec::new(),
            lat: Vec::new(),
        },
        Setup {
            name: "metrics on, OTLP on (every request)",
            server: start_miniagent(&["serve", "--demo"], &[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)]),
            rps: Vec::new(),
            lat: Vec::new(),
        },
        Setup {
            name: "metrics on, OTLP on (1 in 10 sampled)",
            server: start_miniagent(
                &["serve", "--demo"],
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
                    ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
                    ("OTEL_TRACES_SAMPLER_ARG", "0.1"),
                ],
            ),
            rps: Vec::new(),
            lat: Vec::new(),
        },
    ];
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (path, body) = ("/v1/chat/completions", r#"{"model":"bench","messages":[{"role":"user","content":"hi"}]}"#);
    println!(
        "miniagent telemetry bench: echo chat completions, {CONNECTIONS} connections, {ROUNDS} alternating rounds of {secs} s"
    );
    for s in &setups {
        rt.block_on(closed_loop(s.server.1, CONNECTIONS, path, body, Duration::from_millis(500)));
    }
    for _ in 0..ROUNDS {
        for s in &mut setups {
            let lat = rt.block_on(closed_loop(s.server.1, CONNECTIONS, path, body, Duration::from_secs_f64(secs)));
            s.rps.push(lat.len() as f64 / secs);
            s.lat.extend(lat);
        }
    }
    let base = median(&setups[0].rps);
    for s in &setups {
        let rps = median(&s.rps);
        let (p50, p99) = percentiles(s.lat.clone());
        println!(
            "{:<38} {:>9.0} req/s (median of {ROUNDS})   p50 {p50:>6.3} ms   p99 {p99:>6.3} ms   {:>+6.1} % vs off",
            s.name,
            rps,
            (rps / base - 1.0) * 100.0
        );
    }
    std::thread::sleep(Duration::from_secs(2));
    println!("OTLP exports received by the sink: {}", exports.load(std::sync::atomic::Ordering::Relaxed));
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
