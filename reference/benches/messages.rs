//! What the Anthropic bridge costs: `POST /v1/messages` bridged onto an OpenAI-wire provider, beside
//! the plain chat proxy (`/v1/chat/completions`) to the same upstream, in one run.
//!
//! Everything on this machine: a zero-latency upstream (a fixed chat completion) and one that paces
//! 5 stream chunks 20 ms apart, the release `miniagent serve` pointed at them, and an HTTP/1.1 load
//! generator. Scenarios alternate round by round (`BENCH_ROUNDS`, default 5), every figure is the
//! median of its rounds. The targets of issue 21:
//! - the bridge adds ≤ 50 µs p50 over the plain chat proxy (open loop at 1 000 req/s);
//! - the first streamed token is not delayed: ≤ 0.5 ms added over the chat proxy's (the time to
//!   the first bytes holding the upstream's first token, `tok0`, on both routes — the bridge's
//!   `message_start` comes earlier still, before the provider's first chunk).
//!
//! Run with `make bench` (or `cargo bench -p miniagent --bench messages`); `BENCH_SECS` sets the
//! measuring time per scenario and round.
#![allow(clippy::disallowed_methods, reason = "tests start real programs and read their own settings")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{bench_secs, connect, median, open_loop, percentiles, start_fixed_upstream, start_miniagent};
use http_body_util::{BodyExt, Full};
use hyper::Request;

const COMPLETION: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1,"model":"bench","choices":[{"index":0,"message":{"role":"assistant","content":"hello there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#;
const CHAT: &str = r#"{"model":"openai/bench","max_tokens":64,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}]}"#;
const MESSAGES: &str = r#"{"model":"openai/bench","max_tokens":64,"system":"Be brief.","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}"#;
const CHAT_STREAM: &str = r#"{"model":"openai/bench","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
const MESSAGES_STREAM: &str =
    r#"{"model":"openai/bench","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
const RATE: f64 = 1000.0;

fn serve(upstream: SocketAddr) -> (common::Child, SocketAddr) {
    let base = format!("http://{upstream}/v1");
    let env = [("OPENAI_API_BASE", base.as_str()), ("OPENAI_API_KEY", "sk-bench"), ("MINI_AGENT_ACCESS_LOG", "off")];
    start_miniagent(&["serve"], &env)
}

/// The time until the answer's bytes hold `needle`, `n` times on one connection.
async fn first_token(
    addr: SocketAddr,
    path: &'static str,
    body: &'static str,
    needle: &[u8],
    n: usize,
) -> Vec<Duration> {
    let mut sender = connect(addr).await;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let req = Request::post(path)
            .header("host", "bench")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap();
        sender.ready().await.unwrap();
        let t = Instant::now();
        let mut res = sender.send_request(req).await.unwrap();
        assert!(res.status().is_success(), "{}", res.status());
        let mut seen = Vec::new();
        while let Some(frame) = res.body_mut().frame().await {
            if let Ok(data) = frame.unwrap().into_data() {
                seen.extend_from_slice(&data);
            }
            if seen.windows(needle.len()).any(|w| w == needle) {
                break;
            }
        }
        assert!(seen.windows(needle.len()).any(|w| w == needle), "{path}: no {needle:?}");
        out.push(t.elapsed());
        let _ = res.into_body().collect().await;
    }
    out
}

fn main() {
    let secs = bench_secs(2.0);
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    let d = Duration::from_secs_f64(secs);
    let (upstream, _) = start_fixed_upstream(COMPLETION);
    let paced = common::start_stream_upstream(5, Duration::from_millis(20));
    let (_a, mini) = serve(upstream);
    let (_b, mini_paced) = serve(paced);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    println!("miniagent messages bench: {rounds} alternating rounds of {secs} s per scenario, medians");
    let (mut chat_p50, mut bridge_p50, mut chat_p99, mut bridge_p99) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut fb_chat, mut fb_bridge) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Which route goes first alternates, so a warm-up or a burst of other work hits both alike.
        let chat = || percentiles(rt.block_on(open_loop(mini, "/v1/chat/completions", CHAT, RATE, d)));
        let bridge = || percentiles(rt.block_on(open_loop(mini, "/v1/messages", MESSAGES, RATE, d)));
        let ((c50, c99), (b50, b99)) = if round % 2 == 0 {
            let c = chat();
            (c, bridge())
        } else {
            let b = bridge();
            (chat(), b)
        };
        chat_p50.push(c50 * 1e3);
        chat_p99.push(c99 * 1e3);
        bridge_p50.push(b50 * 1e3);
        bridge_p99.push(b99 * 1e3);
        let ms = |v: Vec<Duration>| v.into_iter().map(|d| d.as_secs_f64() * 1e3).collect::<Vec<_>>();
        fb_chat.extend(ms(rt.block_on(first_token(mini_paced, "/v1/chat/completions", CHAT_STREAM, b"tok0", 20))));
        fb_bridge.extend(ms(rt.block_on(first_token(mini_paced, "/v1/messages", MESSAGES_STREAM, b"tok0", 20))));
    }
    let (c50, b50) = (median(&chat_p50), median(&bridge_p50));
    let (c99, b99) = (median(&chat_p99), median(&bridge_p99));
    println!("\nlatency at {RATE:.0} req/s (p50 / p99, µs):");
    println!("| route | p50 | p99 |\n|---|---|---|");
    println!("| chat proxy `/v1/chat/completions` | {c50:.0} | {c99:.0} |");
    println!("| bridge `/v1/messages` (OpenAI-wire model) | {b50:.0} | {b99:.0} |");
    let (fc, fbr) = (median(&fb_chat), median(&fb_bridge));
    println!("first streamed token (median, ms): chat proxy {fc:.3}, bridge {fbr:.3} ({:+.3} ms)", fbr - fc);
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!("\ntargets (issue 21):");
    println!("- bridge adds ≤ 50 µs p50 over the chat proxy: {:+.0} µs — {}", b50 - c50, verdict(b50 - c50 <= 50.0));
    println!("- first streamed token ≤ +0.5 ms: {:+.3} ms — {}", fbr - fc, verdict(fbr - fc <= 0.5));
}
