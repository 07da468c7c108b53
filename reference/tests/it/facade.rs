//! Façade behaviours not covered by the conformance cases: the shim's artificial delay, a trace
//! path that cannot be written (the request still answers), and secrets that never reach an error
//! message or a trace line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use miniagent::{AppState, Config, app};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn post(router: &axum::Router, path: &str, body: Value) -> (u16, String) {
    let req = Request::post(path).body(Body::from(body.to_string())).unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    (status, String::from_utf8_lossy(&res.into_body().collect().await.unwrap().to_bytes()).into_owned())
}

fn echo_run() -> Value {
    json!({"model": "dummy", "tool_backend": "echo", "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn the_shim_delay_delays_and_is_reported() {
    let config =
        Config::from_pairs([("MINI_AGENT_OPENAI_SHIM_MODE", "echo"), ("MINI_AGENT_OPENAI_SHIM_DELAY_MS", "250")]);
    let router = app(AppState::new(config).unwrap());
    let started = Instant::now();
    let (status, _) = post(&router, "/v1/chat/completions", json!({"model": "m", "messages": []})).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(250), "{:?}", started.elapsed());
    let res = router.clone().oneshot(Request::get("/healthz").body(Body::empty()).unwrap()).await.unwrap();
    let health: Value = serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(health["delay_ms"], 250);
}

#[tokio::test]
async fn an_unwritable_trace_path_never_fails_the_request() {
    let config = Config::from_pairs([
        ("MINI_AGENT_ALLOW_DUMMY", "1"),
        ("MINI_AGENT_STORE_TRACES", "1"),
        ("MINI_AGENT_STORE_PATH", "/nonexistent-dir/for/sure/traces.jsonl"),
    ]);
    let router = app(AppState::new(config).unwrap());
    let (status, body) = post(&router, "/agent/run", echo_run()).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn secrets_stay_out_of_errors_and_traces() {
    const KEY: &str = "sk-live-SECRET-4242";
    let upstream = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(500).set_body_string("upstream is down"))
        .mount(&upstream)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let base = format!("{}/v1", upstream.uri());
    let config = Config::from_pairs([
        ("OPENAI_API_KEY", KEY),
        ("OPENAI_API_BASE", base.as_str()),
        ("MINI_AGENT_ALLOW_DUMMY", "1"),
        ("MINI_AGENT_STORE_TRACES", "1"),
        ("MINI_AGENT_STORE_PATH", trace.to_str().unwrap()),
    ]);
    let router = app(AppState::new(config).unwrap());
    let failing =
        json!({"model": "openai/gpt-x", "tool_backend": "echo", "messages": [{"role": "user", "content": "hi"}]});
    let (status, body) = post(&router, "/agent/run", failing).await;
    assert_eq!(status, 502);
    assert!(!body.contains(KEY), "{body}");
    let (status, _) = post(&router, "/agent/run", echo_run()).await;
    assert_eq!(status, 200);
    let traced = std::fs::read_to_string(&trace).unwrap();
    assert!(!traced.is_empty() && !traced.contains(KEY));
    // The key did go to the provider, once, as a bearer token.
    let seen = upstream.received_requests().await.unwrap();
    assert_eq!(seen[0].headers.get("authorization").unwrap(), &format!("Bearer {KEY}"));
}

/// An upstream that reflects the `Authorization` it received — in a 2xx answer, in a stream and in an
/// error — must not hand the provider key to the client (nor to the log: see `telemetry::logs`).
#[tokio::test]
async fn a_key_an_upstream_reflects_never_reaches_the_client() {
    const KEY: &str = "sk-live-REFLECTED-9090";
    struct Reflect;
    impl wiremock::Respond for Reflect {
        fn respond(&self, req: &wiremock::Request) -> wiremock::ResponseTemplate {
            let auth = req.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let message = json!({"role": "assistant", "content": format!("you sent {auth}")});
            if body["model"] == "fail" {
                return wiremock::ResponseTemplate::new(400)
                    .set_body_json(json!({"error": {"message": format!("bad key {auth}"), "type": "x"}}));
            }
            if body["stream"] == true {
                let chunk = json!({"choices": [{"index": 0, "delta": {"content": format!("stream {auth}")}}]});
                return wiremock::ResponseTemplate::new(200)
                    .set_body_raw(format!("data: {chunk}\n\ndata: [DONE]\n\n"), "text/event-stream");
            }
            wiremock::ResponseTemplate::new(200)
                .set_body_json(json!({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}))
        }
    }
    let upstream = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any()).respond_with(Reflect).mount(&upstream).await;
    let base = format!("{}/v1", upstream.uri());
    let router = app(AppState::new(Config::from_pairs([("OPENAI_API_KEY", KEY), ("OPENAI_API_BASE", &base)])).unwrap());
    let chat = |model: &str, stream: bool| json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]});
    for (path, body) in [
        ("/v1/chat/completions", chat("gpt-x", false)),
        ("/v1/chat/completions", chat("gpt-x", true)),
        ("/v1/chat/completions", chat("fail", false)),
        (
            "/agent/run",
            json!({"model": "openai/gpt-x", "tool_backend": "echo", "messages": [{"role": "user", "content": "hi"}]}),
        ),
    ] {
        let (status, text) = post(&router, path, body.clone()).await;
        assert!(text.contains("Bearer ***"), "{path} {body}: the reflection must show, redacted ({status}): {text}");
        assert!(!text.contains(KEY), "{path} {body}: the key reached the client: {text}");
    }
}

async fn get(router: &axum::Router, path: &str) -> (u16, String) {
    let response = router.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn metrics_count_by_route_pattern_and_stay_open_with_keys() {
    let state =
        AppState::new(Config::from_pairs([("MINI_AGENT_ALLOW_DUMMY", "1"), ("MINI_AGENT_API_KEYS", "sk-m")])).unwrap();
    let router = app(state);
    let refused = post(&router, "/agent/run", echo_run()).await;
    assert_eq!(refused.0, 401);
    assert_eq!(get(&router, "/v1/models/some/thing").await.0, 401);
    assert_eq!(get(&router, "/no/such/path/123").await.0, 401);
    let (status, text) = get(&router, "/metrics").await;
    assert_eq!(status, 200, "/metrics needs no key");
    for line in [
        r#"miniagent_requests_total{method="POST",route="/agent/run",status="401"} 1"#,
        r#"miniagent_requests_total{method="GET",route="/v1/models/{*id}",status="401"} 1"#,
        r#"miniagent_requests_total{method="GET",route="unmatched",status="401"} 1"#,
        "miniagent_requests_in_flight 1",
    ] {
        assert!(text.lines().any(|l| l == line), "missing `{line}` in:\n{text}");
    }
    assert!(!text.contains("/no/such/path"), "raw paths never become labels");
}

/// Every made-up method used to be a new label value, a new series held forever: 20 000 such
/// requests without a key added 82 MiB. The label now comes from a closed set.
#[tokio::test]
async fn made_up_methods_add_no_series_to_metrics() {
    let state = AppState::new(Config::from_pairs([("MINI_AGENT_API_KEYS", "sk-m")])).unwrap();
    let router = app(state);
    let method = |i: u32| axum::http::Method::from_bytes(format!("X{i:05}Q").as_bytes()).unwrap();
    let send = |i: u32| {
        let req = Request::builder().method(method(i)).uri(format!("/p{i}")).body(Body::empty()).unwrap();
        router.clone().oneshot(req)
    };
    // The first requests make the series a made-up method may use (`other`, the unmatched route).
    for i in 0..100 {
        send(i).await.unwrap();
    }
    get(&router, "/metrics").await;
    let before = get(&router, "/metrics").await.1;
    for i in 100..10_100 {
        send(i).await.unwrap();
    }
    let text = get(&router, "/metrics").await.1;
    // Counts grow by digits, never by series.
    let series = |t: &str| t.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(series(&text), series(&before), "10 000 made-up methods added series:\n{text}");
    assert!(text.len() <= before.len() + 128, "/metrics grew from {} to {} bytes", before.len(), text.len());
    assert!(text.contains(r#"method="other""#) && !text.contains("X00"), "made-up methods are `other`");
}

#[tokio::test]
async fn metrics_can_be_turned_off_and_say_so() {
    let state = AppState::new(Config::from_pairs([("MINI_AGENT_METRICS", "off")])).unwrap();
    let (status, text) = get(&app(state), "/metrics").await;
    assert_eq!(status, 404);
    assert!(text.contains("MINI_AGENT_METRICS=off"), "{text}");
}

#[tokio::test]
async fn a_body_of_too_many_values_is_a_413_before_it_is_parsed() {
    let state = AppState::new(Config::from_pairs([("MINI_AGENT_ALLOW_DUMMY", "1")])).unwrap();
    let numbers = format!("[{}1]", "1,".repeat(miniagent::MAX_JSON_VALUES));
    let body =
        format!(r#"{{"model":"dummy","tool_backend":"echo","messages":[{{"role":"user","content":{numbers}}}]}}"#);
    let req = Request::post("/agent/run").body(Body::from(body)).unwrap();
    let res = app(state).oneshot(req).await.unwrap();
    assert_eq!(res.status(), 413);
    let text = String::from_utf8_lossy(&res.into_body().collect().await.unwrap().to_bytes()).into_owned();
    assert!(text.contains("more than 200000 JSON values"), "{text}");
}

/// An unknown model id is OpenAI's own 404: `model_not_found`, `param` null — what the openai SDK
/// raises as `NotFoundError` — and a listed one is the model object.
#[tokio::test]
async fn an_unknown_model_id_is_openais_404() {
    let router = app(AppState::new(Config::from_pairs([("MINI_AGENT_ALLOW_DUMMY", "1")])).unwrap());
    let (status, text) = get(&router, "/v1/models/no-such-model").await;
    assert_eq!(status, 404, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        body,
        json!({"error": {"message": "The model `no-such-model` does not exist", "type": "invalid_request_error", "param": null, "code": "model_not_found"}})
    );
    let (status, text) = get(&router, "/v1/models/dummy").await;
    assert_eq!((status, serde_json::from_str::<Value>(&text).unwrap()["id"].clone()), (200, json!("dummy")), "{text}");
}

#[tokio::test]
async fn in_echo_mode_a_body_naming_a_tool_backend_runs_the_agent_and_a_null_one_does_not() {
    let config = Config::from_pairs([("MINI_AGENT_OPENAI_SHIM_MODE", "echo"), ("MINI_AGENT_ALLOW_DUMMY", "1")]);
    let router = app(AppState::new(config).unwrap());
    let content = |body: String| {
        let v: Value = serde_json::from_str(&body).unwrap();
        v["choices"][0]["message"]["content"].as_str().unwrap().to_owned()
    };
    let (status, body) = post(&router, "/v1/chat/completions", echo_run()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(content(body), "Dummy mini-agent response", "tool_backend names the agent, whatever the server's mode");
    let mut plain = echo_run();
    plain["tool_backend"] = Value::Null;
    let (status, body) = post(&router, "/v1/chat/completions", plain).await;
    assert_eq!((status, content(body)), (200, "shim ok".to_owned()), "a null tool_backend names nothing");
}

#[tokio::test]
async fn the_dummy_model_is_listed_exactly_when_it_is_allowed() {
    for (allow, listed) in [("0", 0), ("1", 1)] {
        let router = app(AppState::new(Config::from_pairs([("MINI_AGENT_ALLOW_DUMMY", allow)])).unwrap());
        let res = router.clone().oneshot(Request::get("/v1/models").body(Body::empty()).unwrap()).await.unwrap();
        let models: Value = serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
        let dummies = models["data"].as_array().unwrap().iter().filter(|m| m["id"] == "dummy").count();
        assert_eq!(dummies, listed, "MINI_AGENT_ALLOW_DUMMY={allow}: {models}");
    }
}

#[tokio::test]
async fn the_default_providers_models_are_fetched_once_a_minute_not_per_listing() {
    let upstream = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/v1/models"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(
            json!({"object": "list", "data": [{"id": "up-model", "object": "model", "created": 7, "owned_by": "up"}]}),
        ))
        .expect(1)
        .mount(&upstream)
        .await;
    let base = format!("{}/v1", upstream.uri());
    let router = app(AppState::new(Config::from_pairs([("OPENAI_API_BASE", base.as_str())])).unwrap());
    for _ in 0..3 {
        let res = router.clone().oneshot(Request::get("/v1/models").body(Body::empty()).unwrap()).await.unwrap();
        let models: Value = serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
        assert!(models["data"].as_array().unwrap().iter().any(|m| m["id"] == "up-model"), "{models}");
    }
    upstream.verify().await;
}

#[tokio::test]
async fn the_dummy_model_answers_anthropic_messages_through_the_bridge() {
    let router = app(AppState::new(Config::from_pairs([("MINI_AGENT_ALLOW_DUMMY", "1")])).unwrap());
    let body = json!({"model": "dummy", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]});
    let (status, text) = post(&router, "/v1/messages", body).await;
    assert_eq!(status, 200, "{text}");
    let message: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((message["type"].as_str(), message["role"].as_str()), (Some("message"), Some("assistant")), "{message}");
    assert_eq!(message["content"][0]["text"], "Dummy mini-agent response", "{message}");
}

#[tokio::test]
async fn a_bare_model_name_goes_to_the_openai_provider_when_only_its_base_is_set() {
    let upstream = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/v1/chat/completions"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({
            "id": "c1", "object": "chat.completion", "created": 1, "model": "bare-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "from upstream"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})))
        .expect(1)
        .mount(&upstream)
        .await;
    let base = format!("{}/v1", upstream.uri());
    let router = app(AppState::new(Config::from_pairs([("OPENAI_API_BASE", base.as_str())])).unwrap());
    let body = json!({"model": "bare-model", "messages": [{"role": "user", "content": "hi"}]});
    let (status, text) = post(&router, "/v1/chat/completions", body).await;
    assert_eq!(status, 200, "no OPENAI_API_KEY, only the base: still the default provider: {text}");
    assert!(text.contains("from upstream"), "{text}");
    upstream.verify().await;
}
