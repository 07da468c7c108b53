//! What routing costs (CONTRACT §5 Routing), beside today's proxy figure in the same run:
//! 1. in-process, without the network: one routing decision among 10 deployments (`Router::pick`),
//!    and one whole routed call (`drive`: refresh, pick, span, in-flight and usage bookkeeping, the
//!    ticket) on a group of 1 and of 10, around an attempt that answers at once;
//! 2. `POST /v1/chat/completions` through the release `miniagent serve` at a fixed 2 000 req/s
//!    against a zero-latency upstream, for `openai/bench` (no router: today's proxy), a group of one
//!    deployment (an alias), a group of ten (simple-shuffle), and the group of ten with its state in
//!    Redis (`MINI_AGENT_REDIS_URL`, when `redis-server` is installed) — p50 and p99 of each, and
//!    what routing among ten adds to the alias's p50 (the budget is 20 µs);
//! 3. the Redis calls per request (`INFO commandstats`): one read per routing decision, and the
//!    usage write after the answer.
//!
//! Run with `make bench` (or `cargo bench -p miniagent --bench router`); `BENCH_SECS` sets the
//! measuring time per scenario and round (1 s).
#![allow(clippy::disallowed_methods, reason = "tests start real programs and read their own settings")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{bench_secs, open_loop, percentiles, start_fixed_upstream, start_miniagent};
use std::sync::Arc;

use miniagent::ProviderError;
use miniagent::router::{Router, RouterConfig, drive, fault_of};

const COMPLETION: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1,"model":"bench","choices":[{"index":0,"message":{"role":"assistant","content":"hello there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#;
const DIRECT: &str = r#"{"model":"openai/bench","messages":[{"role":"user","content":"hi"}]}"#;
const ONE: &str = r#"{"model":"one","messages":[{"role":"user","content":"hi"}]}"#;
const TEN: &str = r#"{"model":"ten","messages":[{"role":"user","content":"hi"}]}"#;
const RATE: f64 = 2000.0;
/// Rounds per scenario: the scenarios alternate round by round, and the cost of routing is the
/// median of the rounds' paired differences, so drift in the machine's load hits both sides alike.
const ROUNDS: usize = 8;

/// A router file: `one` with one deployment, `ten` with ten, all at `base`.
fn router_yaml(base: &str) -> String {
    let mut text = format!(
        "model_list:\n  - {{model_name: one, litellm_params: {{model: openai/bench-one, api_base: '{base}'}}}}\n"
    );
    for i in 0..10 {
        text.push_str(&format!(
            "  - {{model_name: ten, litellm_params: {{model: openai/bench-{i}, api_base: '{base}'}}}}\n"
        ));
    }
    text
}

/// ns per `Router::pick` among the ten.
fn decision_ns(yaml: &str) -> f64 {
    let config = RouterConfig::parse(yaml, "bench.yaml", false, |_| None).unwrap();
    let router = Router::new(config, |_| true);
    let (g, _) = router.config().group("ten").unwrap();
    let n = 1_000_000;
    let started = Instant::now();
    let mut sum = 0;
    for _ in 0..n {
        sum += router.pick(g, &[]).unwrap();
    }
    assert!(sum > 0);
    started.elapsed().as_secs_f64() * 1e9 / n as f64
}

/// ns per routed call on `group` around an attempt that answers at once.
fn drive_ns(rt: &tokio::runtime::Runtime, yaml: &str, group: &str) -> f64 {
    let config = RouterConfig::parse(yaml, "bench.yaml", false, |_| None).unwrap();
    let router = Arc::new(Router::new(config, |_| true));
    let (g, _) = router.config().group(group).unwrap();
    let n = 200_000;
    rt.block_on(async {
        let started = Instant::now();
        for _ in 0..n {
            let routed = drive(&router, g, |d| std::future::ready(Ok::<usize, ProviderError>(d)), fault_of).await;
            assert!(routed.result.is_ok());
        }
        started.elapsed().as_secs_f64() * 1e9 / n as f64
    })
}

/// Script calls Redis has served (EVALSHA and EVAL).
fn redis_calls(url: &str) -> u64 {
    let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    let info: String = redis::cmd("INFO").arg("commandstats").query(&mut conn).unwrap();
    info.lines()
        .filter(|l| l.starts_with("cmdstat_evalsha:") || l.starts_with("cmdstat_eval:"))
        .filter_map(|l| l.split("calls=").nth(1)?.split(',').next()?.parse::<u64>().ok())
        .sum()
}

fn micros(lat: &[Duration]) -> (f64, f64) {
    let (p50, p99) = percentiles(lat.to_vec());
    (p50 * 1e3, p99 * 1e3)
}

fn main() {
    let secs = bench_secs(1.0);
    let d = Duration::from_secs_f64(secs);
    let (upstream, _) = start_fixed_upstream(COMPLETION);
    let base = format!("http://{upstream}/v1");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("router.yaml");
    std::fs::write(&file, router_yaml(&base)).unwrap();
    let file = file.display().to_string();
    println!(
        "miniagent router bench: {ROUNDS} alternating rounds of {secs} s at {RATE} req/s per scenario, everything on this machine"
    );
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let yaml = router_yaml(&base);
    println!("in-process, one routing decision among 10 deployments (Router::pick): {:.0} ns", decision_ns(&yaml));
    let (one, ten) = (drive_ns(&rt, &yaml, "one"), drive_ns(&rt, &yaml, "ten"));
    println!(
        "in-process, one whole routed call: group of 1 {one:.0} ns, group of 10 {ten:.0} ns → 10 deployments add {:+.2} µs (budget ≤ 20 µs)",
        (ten - one) / 1e3
    );
    let env =
        [("OPENAI_API_BASE", base.as_str()), ("OPENAI_API_KEY", "sk-bench"), ("MINI_AGENT_CONFIG", file.as_str())];
    let server = start_miniagent(&["serve"], &env);
    let redis = harness::redis::RedisServer::start();
    let shared = redis.as_ref().ok().map(|r| {
        let url = r.url();
        let mut env = env.to_vec();
        env.push(("MINI_AGENT_REDIS_URL", &url));
        (start_miniagent(&["serve"], &env), url)
    });
    let mut lat: [Vec<Duration>; 4] = Default::default();
    let mut redis_requests = 0usize;
    let mut redis_calls_made = 0u64;
    let mut paired = Vec::new();
    for _ in 0..ROUNDS {
        lat[0].extend(rt.block_on(open_loop(server.1, "/v1/chat/completions", DIRECT, RATE, d)));
        let one = rt.block_on(open_loop(server.1, "/v1/chat/completions", ONE, RATE, d));
        let ten = rt.block_on(open_loop(server.1, "/v1/chat/completions", TEN, RATE, d));
        paired.push(micros(&ten).0 - micros(&one).0);
        lat[1].extend(one);
        lat[2].extend(ten);
        if let Some(((_, addr), url)) = &shared {
            let before = redis_calls(url);
            let got = rt.block_on(open_loop(*addr, "/v1/chat/completions", TEN, RATE, d));
            std::thread::sleep(Duration::from_millis(200));
            redis_calls_made += redis_calls(url) - before;
            redis_requests += got.len();
            lat[3].extend(got);
        }
    }
    let names = [
        "openai/bench (no router: today's proxy)",
        "group of 1 deployment (alias)",
        "group of 10 (simple-shuffle)",
        "group of 10, state in Redis",
    ];
    for (name, l) in names.iter().zip(&lat) {
        if l.is_empty() {
            println!("{name:<44} skipped: {}", redis.as_ref().err().map_or("", String::as_str));
            continue;
        }
        let (p50, p99) = micros(l);
        println!("{name:<44} p50 {p50:>6.0} µs   p99 {p99:>6.0} µs   ({} requests)", l.len());
    }
    let ten = micros(&lat[2]).0;
    paired.sort_by(f64::total_cmp);
    println!(
        "end to end, routing among 10 adds {:+.1} µs p50 over the single-deployment alias (median of {ROUNDS} paired rounds; budget ≤ 20 µs; rounds ranged {:+.0} … {:+.0} µs)",
        paired[paired.len() / 2],
        paired[0],
        paired[paired.len() - 1]
    );
    if redis_requests > 0 {
        let (shared_p50, _) = micros(&lat[3]);
        println!(
            "with Redis: {:+.0} µs p50 over the same group without; {:.2} Redis calls per request (1 read per routing decision + 1 usage write after the answer)",
            shared_p50 - ten,
            redis_calls_made as f64 / redis_requests as f64
        );
    }
    drop(shared);
    drop(server);
}
