//! Throughput and latency of the façade's cheapest paths, on loopback, load generator included.
//!
//! Starts the real `miniagent` binary (release build) with `serve --demo` and drives it with an
//! in-process HTTP/1.1 load generator: `CONCURRENCY` keep-alive connections, each sending its next
//! request as soon as the previous answer is read. Prints requests/s and p50/p99/max latency per
//! scenario. Run with `make bench` (or `cargo bench -p miniagent --bench http`); override the
//! measuring time with `BENCH_SECS`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

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
    let secs: f64 = std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let server = harness_start();
    let addr = server.1;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    println!(
        "miniagent http bench: {CONCURRENCY} connections, {secs} s per scenario, server and load generator on this machine"
    );
    for s in SCENARIOS {
        rt.block_on(run(addr, s, Duration::from_secs_f64(0.5)));
        let (count, mut lat) = rt.block_on(run(addr, s, Duration::from_secs_f64(secs)));
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

/// Starts the binary on a free port and returns it with its address.
fn harness_start() -> (Child, std::net::SocketAddr) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_miniagent"))
        .args(["serve", "--demo", "--port", "0"])
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start miniagent");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().expect("miniagent exited").unwrap();
        if let Some(i) = line.find("listening on ") {
            break line[i + 13..].trim().parse().unwrap();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (Child(child), addr)
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn run(addr: std::net::SocketAddr, s: &'static Scenario, duration: Duration) -> (usize, Vec<Duration>) {
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            tokio::spawn(async move {
                let stream = TcpStream::connect(addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
                tokio::spawn(conn);
                let mut lat = Vec::with_capacity(200_000);
                while Instant::now() < deadline {
                    let req = Request::post(s.path)
                        .header("host", "bench")
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from_static(s.body.as_bytes())))
                        .unwrap();
                    let t = Instant::now();
                    let res = sender.send_request(req).await.unwrap();
                    assert!(res.status().is_success(), "{}", res.status());
                    res.into_body().collect().await.unwrap();
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    (all.len(), all)
}
