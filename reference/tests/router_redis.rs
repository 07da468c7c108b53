//! The router's view shared by replicas through a real `redis-server` (CONTRACT §5 Routing): a
//! deployment that fails on replica A receives nothing from replica B until its cooldown ends;
//! per-minute usage adds up across replicas; each routing decision costs one Redis round trip;
//! and with Redis down each replica routes on its own view, at once.
//!
//! The shared tests need `redis-server` (Debian package `redis-server`): without it they are
//! reported as ignored with that reason, or fail under `MINIAGENT_REQUIRE_REDIS=1` (CI).
#![allow(clippy::disallowed_methods, reason = "tests start real programs and read their own settings")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use harness::redis::RedisServer;
use http_body_util::BodyExt;
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use miniagent::{AppState, Config, app};
use serde_json::{Value, json};
use tower::ServiceExt;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn completion() -> Value {
    json!({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
           "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}})
}

/// Two providers: `flaky` always answers 500, `steady` answers a completion.
async fn providers() -> (MockServer, MockServer) {
    let (flaky, steady) = (MockServer::start().await, MockServer::start().await);
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(500).set_body_string("down")).mount(&flaky).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion()))
        .mount(&steady)
        .await;
    (flaky, steady)
}

/// A router file: group `g` with `flaky` first (order 1) and `steady` after it; one failure
/// cools a deployment for 2 s. The ids are new per run, so earlier runs' keys in Redis do not count.
fn router_file(flaky: &MockServer, steady: &MockServer, run: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    let text = format!(
        "model_list:
  - {{model_name: g, litellm_params: {{model: openai/f, api_base: '{}/v1', order: 1}}, model_info: {{id: flaky-{run}}}}}
  - {{model_name: g, litellm_params: {{model: openai/s, api_base: '{}/v1', order: 2}}, model_info: {{id: steady-{run}}}}}
router_settings: {{allowed_fails: 1, cooldown_time: 2}}
",
        flaky.uri(),
        steady.uri()
    );
    std::fs::write(file.path(), text).unwrap();
    file
}

fn replica(router: &tempfile::NamedTempFile, redis_url: &str) -> miniagent::SharedState {
    let path = router.path().to_str().unwrap();
    AppState::new(Config::from_pairs([("MINI_AGENT_CONFIG", path), ("MINI_AGENT_REDIS_URL", redis_url)])).unwrap()
}

/// One chat completion on `g`: the status and the deployment that served.
async fn ask(state: &miniagent::SharedState) -> (u16, String) {
    let body = json!({"model": "g", "messages": [{"role": "user", "content": "hi"}]}).to_string();
    let request =
        Request::post("/v1/chat/completions").header("content-type", "application/json").body(Body::from(body));
    let response = app(state.clone()).oneshot(request.unwrap()).await.unwrap();
    let served = response.headers().get("x-miniagent-deployment").map(|v| v.to_str().unwrap().to_owned());
    let status = response.status().as_u16();
    response.into_body().collect().await.unwrap();
    (status, served.unwrap_or_default())
}

async fn listed(state: &miniagent::SharedState) -> Value {
    let response = app(state.clone()).oneshot(Request::get("/v1/deployments").body(Body::empty()).unwrap()).await;
    let bytes = response.unwrap().into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

/// Script calls Redis has served so far.
fn script_calls(redis: &RedisServer) -> u64 {
    let mut conn = redis::Client::open(redis.url()).unwrap().get_connection().unwrap();
    let info: String = redis::cmd("INFO").arg("commandstats").query(&mut conn).unwrap();
    info.lines()
        .filter(|l| l.starts_with("cmdstat_evalsha:") || l.starts_with("cmdstat_eval:"))
        .filter_map(|l| l.split("calls=").nth(1)?.split(',').next()?.parse::<u64>().ok())
        .sum()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn check(cond: bool, why: impl Into<String>) -> Result<(), Failed> {
    if cond { Ok(()) } else { Err(why.into().into()) }
}

fn a_cooldown_on_one_replica_holds_on_the_other(redis: &RedisServer) -> Result<(), Failed> {
    runtime().block_on(async {
        let (flaky, steady) = providers().await;
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let run = format!("{}-{nanos}", std::process::id());
        let file = router_file(&flaky, &steady, &run);
        let (a, b) = (replica(&file, &redis.url()), replica(&file, &redis.url()));
        let (status, served) = ask(&a).await;
        check(status == 200 && served == format!("steady-{run}"), format!("A: {status} by {served}"))?;
        let flaky_calls = || async { flaky.received_requests().await.unwrap_or_default().len() };
        check(flaky_calls().await == 1, "A tried flaky once")?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Usage counts per calendar minute: a test that straddles a minute sees the count restart.
        let minute = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 60;
        let started_in = minute();
        let before = script_calls(redis);
        for i in 0..20 {
            let (status, served) = ask(&b).await;
            check(status == 200 && served.starts_with("steady-"), format!("B request {i}: {status} by {served}"))?;
        }
        check(
            flaky_calls().await == 1,
            format!("B sent {} requests to flaky while it cooled", flaky_calls().await - 1),
        )?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let calls = script_calls(redis) - before;
        check(calls == 40, format!("20 requests made {calls} Redis calls: one read per decision, one usage write"))?;
        let rows = listed(&a).await;
        let rpm: u64 = rows["data"].as_array().unwrap().iter().map(|r| r["rpm_used"].as_u64().unwrap()).sum();
        ask(&a).await;
        let rows = listed(&a).await;
        let after: u64 = rows["data"].as_array().unwrap().iter().map(|r| r["rpm_used"].as_u64().unwrap()).sum();
        if minute() == started_in {
            check(
                after >= 22,
                format!("A sees the requests of both replicas this minute: {rpm} then {after}: {rows}"),
            )?;
        } else {
            eprintln!("note: the minute turned during the test; the shared per-minute count was not compared");
        }
        tokio::time::sleep(Duration::from_millis(2000)).await;
        ask(&b).await;
        check(flaky_calls().await == 2, "after the cooldown B tries flaky again")
    })
}

fn redis_down_routes_on_the_local_view() -> Result<(), Failed> {
    runtime().block_on(async {
        let (flaky, steady) = providers().await;
        let file = router_file(&flaky, &steady, "down");
        let dead = format!("redis://127.0.0.1:{}/", std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port());
        let s = replica(&file, &dead);
        let started = Instant::now();
        for _ in 0..5 {
            let (status, served) = ask(&s).await;
            check(status == 200 && served == "steady-down", format!("{status} by {served}"))?;
        }
        check(flaky.received_requests().await.unwrap_or_default().len() == 1, "the local cooldown holds")?;
        check(started.elapsed() < Duration::from_secs(2), format!("5 requests took {:?}", started.elapsed()))
    })
}

fn main() {
    let args = Arguments::from_args();
    let redis = RedisServer::start();
    if let Err(why) = &redis {
        assert!(std::env::var_os("MINIAGENT_REQUIRE_REDIS").is_none(), "{why} (MINIAGENT_REQUIRE_REDIS is set)");
    }
    let redis = std::sync::Arc::new(redis);
    let trial = |name: &'static str, test: fn(&RedisServer) -> Result<(), Failed>| {
        let redis = redis.clone();
        Trial::ignorable_test(name, move || match redis.as_ref() {
            Ok(r) => test(r).map(|()| Completion::Completed),
            Err(why) => Ok(Completion::ignored_with(why.clone())),
        })
    };
    let trials = vec![
        trial("a_cooldown_on_one_replica_holds_on_the_other", a_cooldown_on_one_replica_holds_on_the_other),
        Trial::test("redis_down_routes_on_the_local_view", redis_down_routes_on_the_local_view),
    ];
    let conclusion = libtest_mimic::run(&args, trials);
    drop(redis);
    conclusion.exit();
}
