//! Per-key `rpm` shared by replicas through a real `redis-server` (CONTRACT §12), and what a
//! request meets when Redis is down (`MINI_AGENT_REDIS_FAIL`): served at once (open) or refused
//! with a 503 that says which setting to change (closed) — never a hang, even when Redis accepts
//! connections and never answers.
//!
//! The shared-window test needs `redis-server` (Debian package `redis-server`): without it, it is
//! reported as ignored with that reason, or fails under `MINIAGENT_REQUIRE_REDIS=1` (CI).
#![allow(clippy::disallowed_methods, reason = "tests start real programs and read their own settings")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use harness::redis::RedisServer;
use http_body_util::BodyExt;
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use miniagent::{AppState, Config, app};
use serde_json::Value;
use tower::ServiceExt;

fn keys_file(rpm: u32) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    let name = format!("team-{}", std::process::id());
    std::fs::write(file.path(), format!("keys:\n  - name: {name}\n    key: sk-shared-1\n    rpm: {rpm}\n")).unwrap();
    file
}

fn state(keys: &tempfile::NamedTempFile, redis_url: &str, extra: &[(&str, &str)]) -> miniagent::SharedState {
    let path = keys.path().to_str().unwrap().to_owned();
    let mut pairs = vec![("MINI_AGENT_API_KEYS_FILE", path.as_str()), ("MINI_AGENT_REDIS_URL", redis_url)];
    pairs.extend_from_slice(extra);
    AppState::new(Config::from_pairs(pairs)).unwrap()
}

struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    body: Value,
}

async fn get_models(state: &miniagent::SharedState) -> Answer {
    let request = Request::get("/v1/models").header("authorization", "Bearer sk-shared-1").body(Body::empty()).unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer { status, retry_after, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn check(cond: bool, why: impl Into<String>) -> Result<(), Failed> {
    if cond { Ok(()) } else { Err(why.into().into()) }
}

fn replicas_share_one_window(redis: &RedisServer) -> Result<(), Failed> {
    let keys = keys_file(4);
    let (a, b) = (state(&keys, &redis.url(), &[]), state(&keys, &redis.url(), &[]));
    runtime().block_on(async {
        let mut answers = Vec::new();
        for i in 0..7 {
            answers.push(get_models(if i % 2 == 0 { &a } else { &b }).await);
        }
        let statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
        check(statuses == [200, 200, 200, 200, 429, 429, 429], format!("statuses across two replicas: {statuses:?}"))?;
        for refused in &answers[4..] {
            let wait: u64 = refused.retry_after.as_deref().unwrap_or("").parse().unwrap_or(0);
            check((1..=60).contains(&wait), format!("Retry-After {:?}", refused.retry_after))?;
            let message = refused.body.pointer("/error/message").and_then(Value::as_str).unwrap_or_default();
            check(message.contains("4 requests per minute"), format!("message: {message}"))?;
        }
        let refusals = |s: &miniagent::SharedState| {
            s.metrics
                .as_ref()
                .unwrap()
                .render()
                .lines()
                .filter(|l| l.starts_with("miniagent_rate_limited_total{"))
                .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
                .sum::<u64>()
        };
        check(refusals(&a) + refusals(&b) == 3, format!("refusals counted: {} + {}", refusals(&a), refusals(&b)))
    })
}

/// A port nothing listens on.
fn dead_redis() -> String {
    format!("redis://127.0.0.1:{}/", free_port())
}

fn down_and_open_serves_at_once() -> Result<(), Failed> {
    let keys = keys_file(1);
    let s = state(&keys, &dead_redis(), &[]);
    runtime().block_on(async {
        let started = Instant::now();
        for _ in 0..3 {
            let a = get_models(&s).await;
            check(a.status == StatusCode::OK, format!("fail open must serve: {} {}", a.status, a.body))?;
        }
        check(started.elapsed() < Duration::from_secs(2), format!("three requests took {:?}", started.elapsed()))
    })
}

fn down_and_closed_refuses_with_a_503_naming_the_setting() -> Result<(), Failed> {
    let keys = keys_file(1);
    let s = state(&keys, &dead_redis(), &[("MINI_AGENT_REDIS_FAIL", "closed")]);
    runtime().block_on(async {
        let a = get_models(&s).await;
        let message = a.body.pointer("/error/message").and_then(Value::as_str).unwrap_or_default().to_owned();
        check(a.status == StatusCode::SERVICE_UNAVAILABLE, format!("status {}", a.status))?;
        check(message.contains("MINI_AGENT_REDIS_FAIL"), format!("message: {message}"))
    })
}

fn a_silent_redis_costs_one_timeout_not_a_hang() -> Result<(), Failed> {
    // Accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://127.0.0.1:{}/", silent.local_addr().unwrap().port());
    let keys = keys_file(1);
    let s = state(&keys, &url, &[("MINI_AGENT_REDIS_TIMEOUT_MS", "1000")]);
    runtime().block_on(async {
        let started = Instant::now();
        let first = get_models(&s).await;
        let first_took = started.elapsed();
        let again = Instant::now();
        let second = get_models(&s).await;
        let second_took = again.elapsed();
        check(first.status == StatusCode::OK && second.status == StatusCode::OK, "fail open serves both")?;
        check(first_took < Duration::from_millis(3000), format!("first request took {first_took:?}"))?;
        check(second_took < Duration::from_millis(500), format!("second request took {second_took:?} (no backoff?)"))
    })?;
    drop(silent);
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let redis = RedisServer::start();
    if let Err(why) = &redis {
        assert!(std::env::var_os("MINIAGENT_REQUIRE_REDIS").is_none(), "{why} (MINIAGENT_REQUIRE_REDIS is set)");
    }
    let redis = std::sync::Arc::new(redis);
    let shared = {
        let redis = redis.clone();
        Trial::ignorable_test("replicas_share_one_window", move || match redis.as_ref() {
            Ok(r) => replicas_share_one_window(r).map(|()| Completion::Completed),
            Err(why) => Ok(Completion::ignored_with(why.clone())),
        })
    };
    let trials = vec![
        shared,
        Trial::test("down_and_open_serves_at_once", down_and_open_serves_at_once),
        Trial::test(
            "down_and_closed_refuses_with_a_503_naming_the_setting",
            down_and_closed_refuses_with_a_503_naming_the_setting,
        ),
        Trial::test("a_silent_redis_costs_one_timeout_not_a_hang", a_silent_redis_costs_one_timeout_not_a_hang),
    ];
    let conclusion = libtest_mimic::run(&args, trials);
    drop(redis);
    conclusion.exit();
}
