//! Parallel completions against a real upstream on loopback: order, concurrency bounds,
//! deterministic mode, budgets, stream aggregation, and the `scillm_router` metadata of every result.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use miniagent::Config;
use miniagent::Providers;
use miniagent::{Budget, ParallelError, ParallelOptions, complete_all};
use proptest::prelude::*;
use serde_json::{Value, json};

#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    max: AtomicUsize,
    total: AtomicUsize,
}

/// Answers `content` = the request's `x_reply` (or the first message's content) after `x_delay_ms`,
/// as a stream when asked; `x_status` forces an error status. Tracks requests in flight.
async fn upstream(State(g): State<Arc<Gauge>>, body: Bytes) -> Response {
    let req: Value = serde_json::from_slice(&body).unwrap();
    let now = g.now.fetch_add(1, Ordering::SeqCst) + 1;
    g.max.fetch_max(now, Ordering::SeqCst);
    g.total.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(req["x_delay_ms"].as_u64().unwrap_or(0))).await;
    g.now.fetch_sub(1, Ordering::SeqCst);
    if req["model"].as_str().is_some_and(|m| m.starts_with("down")) {
        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "this deployment is down").into_response();
    }
    if let Some(status) = req["x_status"].as_u64() {
        return (axum::http::StatusCode::from_u16(status as u16).unwrap(), "upstream failure").into_response();
    }
    let content = req.get("x_reply").cloned().unwrap_or_else(|| req["messages"][0]["content"].clone());
    if req["stream"] == json!(true) {
        let text = content.as_str().unwrap_or_default();
        let mid = text.len() / 2;
        let sse: String = [&text[..mid], &text[mid..]]
            .iter()
            .map(|part| {
                format!("data: {}\n\n", json!({"id": "s", "choices": [{"index": 0, "delta": {"content": part}}]}))
            })
            .chain(std::iter::once("data: [DONE]\n\n".to_owned()))
            .collect();
        return ([("content-type", "text/event-stream")], sse).into_response();
    }
    axum::Json(json!({"id": "c", "object": "chat.completion", "created": 1, "model": req["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]}))
    .into_response()
}

async fn setup(extra_env: &[(&str, &str)]) -> (Providers, Arc<Gauge>) {
    let gauge = Arc::new(Gauge::default());
    let router = Router::new().route("/v1/chat/completions", post(upstream)).with_state(gauge.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let base = format!("http://{addr}/v1");
    let mut pairs = vec![("OPENAI_API_BASE", base.as_str())];
    pairs.extend_from_slice(extra_env);
    (Config::from_pairs(pairs).build_providers().unwrap(), gauge)
}

/// Providers whose router file has group `g`: `down-1` (order 1, always 503) and `up-1` (order 2).
async fn routed() -> (Providers, Arc<Gauge>, tempfile::NamedTempFile) {
    let (plain, gauge) = setup(&[]).await;
    let base = plain.settings().openai_api_base.clone().unwrap();
    let file = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    std::fs::write(
        file.path(),
        format!(
            "model_list:\n  - {{model_name: g, litellm_params: {{model: openai/down-1, api_base: '{base}', order: 1}}, model_info: {{id: down-1}}}}\n  - {{model_name: g, litellm_params: {{model: openai/up-1, api_base: '{base}', order: 2}}, model_info: {{id: up-1}}}}\n"
        ),
    )
    .unwrap();
    let path = file.path().to_str().unwrap();
    let providers =
        Config::from_pairs([("OPENAI_API_BASE", base.as_str()), ("MINI_AGENT_CONFIG", path)]).build_providers();
    (providers.unwrap(), gauge, file)
}

fn req(content: &str, extra: Value) -> Value {
    let mut r = json!({"model": "openai/m", "messages": [{"role": "user", "content": content}]});
    r.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    r
}

fn opts(concurrency: usize) -> ParallelOptions {
    ParallelOptions { concurrency, ..ParallelOptions::default() }
}

#[tokio::test]
async fn a_routed_result_names_the_deployment_that_served_and_its_attempts() {
    let (providers, gauge, _file) = routed().await;
    let requests = vec![
        json!({"model": "g", "messages": [{"role": "user", "content": "a"}]}),
        json!({"model": "g", "messages": [{"role": "user", "content": "b"}], "stream": true}),
        req("c", json!({})),
    ];
    let results = complete_all(&providers, requests, &opts(1)).await.unwrap();
    for r in &results[..2] {
        let meta = &r["scillm_router"];
        assert_eq!(
            (meta["error_type"].as_str(), meta["deployment"].as_str()),
            (Some("invalid_json"), Some("up-1")),
            "{r}"
        );
        assert_eq!(meta["attempts"], 2, "down-1 failed, up-1 answered: {r}");
    }
    assert_eq!(results[2]["scillm_router"].get("deployment"), None, "a provider/model name is not routed");
    assert_eq!(gauge.total.load(Ordering::SeqCst), 5, "2 attempts each for the routed requests, 1 for the last");
}

#[tokio::test]
async fn every_result_is_a_dict_with_scillm_router() {
    let (p, _) = setup(&[]).await;
    let requests = vec![
        req("plain words", json!({})),
        req(
            "{\"a\": 1}",
            json!({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}}),
        ),
        req("not json", json!({"response_mode": "schema_first"})),
        req("", json!({})),
        req("x", json!({"x_status": 500})),
        json!({"model": "nope/x", "messages": []}),
        json!("not an object"),
        req("streamed text", json!({"stream": true})),
    ];
    let results = complete_all(&p, requests, &opts(4)).await.unwrap();
    assert_eq!(results.len(), 8);
    let meta: Vec<&Value> = results.iter().map(|r| &r["scillm_router"]).collect();
    assert_eq!(
        (meta[0]["error_type"].clone(), meta[0]["json_valid"].clone()),
        (json!("invalid_json"), json!(false)),
        "any non-empty content that is not JSON is invalid_json, as the Python original classifies it"
    );
    assert_eq!(results[0]["choices"][0]["message"]["content"], "plain words", "the prose is kept as content");
    assert!(meta[0].get("schema_mode").is_none());
    assert_eq!(
        (meta[1]["error_type"].clone(), meta[1]["json_valid"].clone(), meta[1]["schema_mode"].clone()),
        (json!("ok"), json!(true), json!("schema_first"))
    );
    assert_eq!((meta[2]["error_type"].clone(), meta[2]["json_valid"].clone()), (json!("invalid_json"), json!(false)));
    assert_eq!(results[2]["choices"][0]["message"]["content"], "not json", "non-JSON content is kept as content");
    assert_eq!(meta[3]["error_type"], "empty_content");
    assert!(meta[3].get("json_valid").is_none(), "json_valid only for non-empty content");
    for i in [4, 5, 6] {
        assert_eq!(meta[i]["error_type"], "provider_error", "{}", results[i]);
        let exception = meta[i]["exception"].as_str().unwrap();
        assert!(!exception.is_empty() && exception.chars().count() <= 200, "{exception}");
        assert!(results[i]["error"]["message"].is_string());
    }
    assert!(meta[4]["exception"].as_str().unwrap().contains("HTTP 500"));
    assert_eq!(meta[5]["provider"], Value::Null);
    assert_eq!(results[7]["choices"][0]["message"]["content"], "streamed text", "stream aggregated");
    for (i, m) in meta.iter().enumerate() {
        assert_eq!(m["index"], json!(i));
        assert!(m["timing_ms"].as_f64().is_some_and(|t| t >= 0.0));
        if i < 5 || i == 7 {
            assert_eq!(m["provider"], "openai", "{i}");
        }
    }
}

#[tokio::test]
async fn concurrency_is_bounded_and_deterministic_mode_is_serial() {
    let (p, gauge) = setup(&[]).await;
    let requests: Vec<Value> = (0..12).map(|i| req(&format!("r{i}"), json!({"x_delay_ms": 60}))).collect();
    complete_all(&p, requests.clone(), &opts(3)).await.unwrap();
    assert_eq!(gauge.max.load(Ordering::SeqCst), 3, "at most 3 in flight, and 3 reached");

    let (p, gauge) = setup(&[("SCILLM_DETERMINISTIC_SEED", "1")]).await;
    complete_all(&p, requests, &opts(8)).await.unwrap();
    assert_eq!(gauge.max.load(Ordering::SeqCst), 1, "deterministic mode runs one at a time");
}

#[tokio::test]
async fn budgets_hard_and_soft() {
    let (p, gauge) = setup(&[]).await;
    let requests: Vec<Value> = (0..5).map(|i| req(&format!("r{i}"), json!({}))).collect();
    let hard = ParallelOptions { max_requests: Some(3), budget: Budget::Hard, ..opts(2) };
    assert_eq!(
        complete_all(&p, requests.clone(), &hard).await.unwrap_err(),
        ParallelError::OverBudget { requests: 5, max: 3 }
    );
    assert_eq!(gauge.total.load(Ordering::SeqCst), 0, "a hard budget refuses before any call");
    let soft = ParallelOptions { max_requests: Some(3), budget: Budget::Soft, ..opts(2) };
    let results = complete_all(&p, requests, &soft).await.unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(gauge.total.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn unordered_results_carry_their_index() {
    let (p, _) = setup(&[]).await;
    let requests: Vec<Value> = (0..4).map(|i| req(&format!("r{i}"), json!({"x_delay_ms": 120 - 40 * i}))).collect();
    let results = complete_all(&p, requests, &ParallelOptions { ordered: false, ..opts(4) }).await.unwrap();
    let order: Vec<u64> = results.iter().map(|r| r["scillm_router"]["index"].as_u64().unwrap()).collect();
    assert_eq!(order, [3, 2, 1, 0], "as they finish");
}

#[tokio::test]
async fn retry_meta_under_scillm_retry_meta() {
    let (p, _) = setup(&[("SCILLM_RETRY_META", "1")]).await;
    let results = complete_all(&p, vec![req("x", json!({"x_status": 503, "max_retries": 1}))], &opts(1)).await.unwrap();
    let retries = &results[0]["scillm_router"]["retries"];
    assert_eq!(retries["attempts"], 1, "{}", results[0]);
    assert!(retries["total_sleep_ms"].as_f64().unwrap() > 0.0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn results_keep_input_order(delays in prop::collection::vec(0u64..40, 1..16), concurrency in 1usize..8) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let contents = rt.block_on(async {
            let (p, gauge) = setup(&[]).await;
            let requests: Vec<Value> = delays.iter().enumerate().map(|(i, d)| req(&format!("r{i}"), json!({"x_delay_ms": d}))).collect();
            let results = complete_all(&p, requests, &opts(concurrency)).await.unwrap();
            assert!(gauge.max.load(Ordering::SeqCst) <= concurrency);
            results.iter().map(|r| r["choices"][0]["message"]["content"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        });
        prop_assert_eq!(contents, (0..delays.len()).map(|i| format!("r{i}")).collect::<Vec<_>>());
    }
}
