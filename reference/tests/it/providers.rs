//! Providers against wiremock fakes: codex-agent's gate, base, headers, retries and their
//! statistics, deterministic jitter; pass-through of extra parameters; a typed call and a typed stream
//! on `anthropic/` (the agent loop's and batch's path), translated both ways.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use miniagent::Config;
use miniagent::{ChatRequest, ProviderError, Providers};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Answers statuses from a list, then 200 with a completion.
struct Statuses {
    list: Vec<(u16, Option<&'static str>)>,
    calls: Arc<AtomicUsize>,
}

impl Respond for Statuses {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let i = self.calls.fetch_add(1, Ordering::SeqCst);
        match self.list.get(i) {
            Some((status, retry_after)) => {
                let mut t = ResponseTemplate::new(*status).set_body_string(format!("upstream says no ({status}) {}", "q".repeat(900)));
                if let Some(ra) = retry_after {
                    t = t.insert_header("Retry-After", *ra);
                }
                t
            }
            None => ResponseTemplate::new(200).set_body_json(json!({
                "id": "x", "object": "chat.completion", "created": 1, "model": "mini",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": format!("ok after {i}")}, "finish_reason": "stop"}]
            })),
        }
    }
}

async fn codex(
    server: &MockServer,
    base_suffix: &str,
    extra: &[(&str, &str)],
    statuses: Vec<(u16, Option<&'static str>)>,
) -> (Providers, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(Statuses { list: statuses, calls: calls.clone() })
        .mount(server)
        .await;
    let base = format!("{}{base_suffix}", server.uri());
    let mut pairs = vec![
        ("LITELLM_ENABLE_CODEX_AGENT", "1"),
        ("CODEX_AGENT_API_BASE", base.as_str()),
        ("CODEX_AGENT_RETRY_BASE_MS", "20"),
        ("CODEX_AGENT_MAX_BACKOFF_MS", "100"),
        ("CODEX_AGENT_ENABLE_METRICS", "1"),
    ];
    pairs.extend_from_slice(extra);
    (Config::from_pairs(pairs).build_providers().unwrap(), calls)
}

fn hi() -> ChatRequest<'static> {
    ChatRequest::of([std::borrow::Cow::Owned(json!({"role": "user", "content": "hi"}))])
}

#[tokio::test]
async fn base_with_or_without_v1_reaches_v1_chat_completions() {
    for suffix in ["", "/", "/v1", "/v1/"] {
        let server = MockServer::start().await;
        let (p, calls) = codex(&server, suffix, &[], vec![]).await;
        let c = match p.complete("codex-agent/mini", &hi()).await {
            Ok(c) => c,
            Err(e) => {
                let seen: Vec<String> = server
                    .received_requests()
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.url))
                    .collect();
                panic!("base {suffix:?}: {e}; the fake saw {seen:?}");
            }
        };
        assert_eq!(c.content(), Some("ok after 0"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let body: Value = serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
        assert_eq!(body["model"], json!("mini"), "the provider prefix is not sent");
    }
}

#[tokio::test]
async fn one_authorization_and_no_hop_by_hop_headers() {
    let server = MockServer::start().await;
    let (p, _) = codex(&server, "", &[("CODEX_AGENT_API_KEY", "sk-codex")], vec![]).await;
    let mut req = hi();
    req.extra_headers = vec![
        ("Authorization".into(), "Bearer from-caller".into()),
        ("Connection".into(), "X-Hop".into()),
        ("X-Hop".into(), "1".into()),
        ("Keep-Alive".into(), "timeout=5".into()),
        ("Upgrade".into(), "h2c".into()),
        ("Proxy-Authorization".into(), "Basic x".into()),
        ("X-Request-Id".into(), "r-1".into()),
    ];
    req.extra.insert("temperature".into(), json!(0.1));
    req.extra.insert("reasoning_effort".into(), json!("low"));
    p.complete("codex-agent/mini", &req).await.unwrap();
    let seen = &server.received_requests().await.unwrap()[0];
    let auth: Vec<_> = seen.headers.get_all("authorization").iter().collect();
    assert_eq!(auth.len(), 1, "exactly one Authorization");
    assert_eq!(auth[0], "Bearer sk-codex");
    for hop in ["keep-alive", "upgrade", "proxy-authorization", "x-hop"] {
        assert!(seen.headers.get(hop).is_none(), "{hop} was forwarded");
    }
    assert_eq!(seen.headers.get("x-request-id").unwrap(), "r-1");
    let body: Value = serde_json::from_slice(&seen.body).unwrap();
    assert_eq!(
        (body["temperature"].clone(), body["reasoning_effort"].clone()),
        (json!(0.1), json!("low")),
        "extra params pass through"
    );
}

#[tokio::test]
async fn two_500s_then_200_succeeds_with_stats() {
    let server = MockServer::start().await;
    let (p, calls) = codex(&server, "", &[], vec![(500, None), (500, None)]).await;
    let c = p.complete("codex-agent/mini", &hi()).await.unwrap();
    assert_eq!(c.content(), Some("ok after 2"));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let s = c.retry_stats.expect("metrics enabled");
    assert_eq!((s.attempts, s.failures), (2, 2));
    assert_eq!(s.statuses, vec![Some(500), Some(500), Some(200)]);
    assert_eq!((s.final_status, s.first_failure_status), (Some(200), Some(500)));
    assert_eq!(s.retry_sequence.len(), 2);
    // 20 ms then 40 ms, each plus 5–15 % jitter.
    assert!(
        (21.0..=23.0).contains(&s.retry_sequence[0]) && (42.0..=46.0).contains(&s.retry_sequence[1]),
        "{:?}",
        s.retry_sequence
    );
}

#[tokio::test]
async fn three_500s_fail_with_status_and_body_excerpt() {
    let server = MockServer::start().await;
    let (p, calls) = codex(&server, "", &[], vec![(500, None), (500, None), (500, None)]).await;
    let err = p.complete("codex-agent/mini", &hi()).await.expect_err("all failed");
    assert_eq!(calls.load(Ordering::SeqCst), 3, "max_retries 2 → 3 tries");
    match &err {
        ProviderError::Upstream { status, body, .. } => {
            assert_eq!(*status, 500);
            assert!(body.starts_with("upstream says no (500)"));
            assert!(body.chars().count() <= 401, "≤ 400 chars (+ an ellipsis)");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("codex-agent returned HTTP 500"), "{err}");
}

#[tokio::test]
async fn a_4xx_is_not_retried() {
    let server = MockServer::start().await;
    let (p, calls) = codex(&server, "", &[], vec![(400, None)]).await;
    assert!(p.complete("codex-agent/mini", &hi()).await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn retry_after_on_429_is_honoured() {
    let server = MockServer::start().await;
    let (p, _) = codex(&server, "", &[], vec![(429, Some("0.3"))]).await;
    let started = Instant::now();
    let c = p.complete("codex-agent/mini", &hi()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300), "waited {:?}", started.elapsed());
    let s = c.retry_stats.unwrap();
    assert_eq!(s.last_retry_after_s, Some(0.3));
    assert_eq!(s.retry_sequence, vec![300.0]);
}

#[tokio::test]
async fn seeded_jitter_is_reproducible() {
    let mut runs = Vec::new();
    for seed in ["7", "7", "8"] {
        let server = MockServer::start().await;
        let (p, _) = codex(&server, "", &[("SCILLM_DETERMINISTIC_SEED", seed)], vec![(503, None), (502, None)]).await;
        runs.push(p.complete("codex-agent/mini", &hi()).await.unwrap().retry_stats.unwrap().retry_sequence);
    }
    assert_eq!(runs[0], runs[1], "same seed, same waits");
    assert_ne!(runs[0], runs[2], "another seed, other waits");
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let p = Config::from_pairs([
        ("LITELLM_ENABLE_CODEX_AGENT", "1"),
        ("CODEX_AGENT_API_BASE", base.as_str()),
        ("CODEX_AGENT_RETRY_BASE_MS", "10"),
    ])
    .build_providers()
    .unwrap();
    let route = p.resolve("codex-agent/mini").unwrap();
    let (result, stats) = p.complete_route_with_stats(&route, &hi()).await;
    let err = result.expect_err("nothing listens");
    assert!(err.to_string().contains("could not be reached") && err.to_string().contains("connection failed"), "{err}");
    assert_eq!(stats.statuses, vec![None, None, None]);
}

#[test]
fn the_blocking_wrapper_works_without_a_runtime() {
    let p = Config::from_pairs([("MINI_AGENT_ALLOW_DUMMY", "1")]).build_providers().unwrap();
    let c = p.complete_blocking("dummy", &hi()).unwrap();
    assert_eq!(c.content(), Some("Dummy mini-agent response"));
}

/// An Anthropic Messages API answering `body` (JSON, or an event stream when it starts with
/// `event:`), recording the requests.
async fn anthropic(body: &'static str) -> (MockServer, Providers) {
    let server = MockServer::start().await;
    let template = if body.starts_with("event:") {
        ResponseTemplate::new(200).set_body_raw(body.as_bytes().to_vec(), "text/event-stream")
    } else {
        ResponseTemplate::new(200).set_body_raw(body.as_bytes().to_vec(), "application/json")
    };
    Mock::given(method("POST")).and(path("/v1/messages")).respond_with(template).mount(&server).await;
    let base = server.uri();
    let pairs = [("ANTHROPIC_API_BASE", base.as_str()), ("ANTHROPIC_API_KEY", "sk-ant-typed-call")];
    (server, Config::from_pairs(pairs).build_providers().unwrap())
}

#[tokio::test]
async fn a_typed_call_on_anthropic_is_translated_both_ways() {
    let (server, p) = anthropic(
        r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"tool_use","id":"toolu_1","name":"sh","input":{"cmd":"ls"}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":4,"output_tokens":2}}"#,
    )
    .await;
    let c = p.complete("anthropic/claude-x", &hi()).await.unwrap();
    assert_eq!(c.raw()["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        c.raw()["choices"][0]["message"]["tool_calls"][0]["function"],
        json!({"name": "sh", "arguments": "{\"cmd\":\"ls\"}"})
    );
    assert_eq!(c.total_tokens(), Some(6));
    let sent = &server.received_requests().await.unwrap()[0];
    assert_eq!(sent.headers.get("x-api-key").and_then(|v| v.to_str().ok()), Some("sk-ant-typed-call"));
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["messages"], json!([{"role": "user", "content": [{"type": "text", "text": "hi"}]}]));
    assert_eq!(body["max_tokens"], 4096);
}

#[tokio::test]
async fn a_typed_stream_on_anthropic_becomes_chunks() {
    let (_server, p) = anthropic(concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_2\",\"model\":\"claude-x\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"lo\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\"},\"usage\":{\"output_tokens\":2}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    ))
    .await;
    let route = p.resolve("anthropic/claude-x").unwrap();
    let mut stream = p.stream_route(&route, &hi()).await.unwrap();
    let mut chunks = Vec::new();
    while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
        chunks.push(chunk.unwrap());
    }
    let done = miniagent::aggregate_stream(&chunks);
    assert_eq!(done["choices"][0]["message"]["content"], "Hello");
    assert_eq!(done["choices"][0]["finish_reason"], "length");
    assert_eq!(done["id"], "msg_2");
}

/// The chat proxy (`/v1/chat/completions` through the façade) retries what the route's policy says
/// is worth it — a 5xx — and hands a 429 back at once, with its status and `Retry-After`: the
/// client's SDK backs off on its own, and a gateway retrying too would multiply its retries.
#[tokio::test]
async fn the_chat_proxy_retries_a_5xx_and_hands_a_429_back_at_once() {
    for (statuses, want_status, want_calls) in [
        (vec![(503, None)], 200, 2),
        (vec![(502, None), (500, None)], 200, 3),
        (vec![(429, Some("1"))], 429, 1),
        (vec![(400, None)], 400, 1),
    ] {
        let server = MockServer::start().await;
        let (_, calls) = codex(&server, "", &[], statuses.clone()).await;
        // One deployment whose route retries twice (`max_retries`), and a router that does not
        // retry on its own (`num_retries: 0`): every retry seen is the proxy's.
        let file = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
        let base = server.uri() + "/v1";
        let list = format!(
            "model_list:\n  - {{model_name: m, litellm_params: {{model: openai/mini, api_base: '{base}', max_retries: 2}}}}\nrouter_settings: {{num_retries: 0}}\n"
        );
        std::fs::write(file.path(), list).unwrap();
        let config = Config::from_pairs([
            ("MINI_AGENT_CONFIG", file.path().to_str().unwrap()),
            ("CODEX_AGENT_RETRY_BASE_MS", "20"),
            ("CODEX_AGENT_MAX_BACKOFF_MS", "100"),
        ]);
        let facade = facade(config).await;
        let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        let res =
            harness::http_client().post(format!("{facade}/v1/chat/completions")).json(&body).send().await.unwrap();
        let status = res.status().as_u16();
        let retry_after = res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        let answer: Value = res.json().await.unwrap();
        assert_eq!((status, calls.load(Ordering::SeqCst)), (want_status, want_calls), "{statuses:?}: {answer}");
        if want_status == 200 {
            assert_eq!(
                answer["choices"][0]["message"]["content"],
                format!("ok after {want_calls_1}", want_calls_1 = want_calls - 1)
            );
        } else {
            assert!(
                answer["error"]["message"].as_str().unwrap().contains(&format!("upstream says no ({want_status})")),
                "{answer}"
            );
            assert_eq!(retry_after.as_deref(), statuses[0].1, "{statuses:?}");
        }
    }
}

/// A provider's own OpenAI-shaped error reaches the client whole, however long its message (up to
/// the 64 KiB read of an error body): a context-length error quotes the whole prompt's size, a
/// validation error every field.
#[tokio::test]
async fn a_provider_error_object_of_kilobytes_comes_back_whole() {
    let server = MockServer::start().await;
    let error = json!({"message": format!("too long: {}", "x".repeat(20_000)), "type": "invalid_request_error",
        "param": "messages", "code": "context_length_exceeded"});
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": error})))
        .mount(&server)
        .await;
    let base = server.uri() + "/v1";
    let config = Config::from_pairs([("OPENAI_API_BASE", base.as_str())]);
    let facade = facade(config).await;
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    let res = harness::http_client().post(format!("{facade}/v1/chat/completions")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 400);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["error"], error);
}

/// The façade with `config`, served on a loopback port of its own; its base URL.
async fn facade(config: Config) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = miniagent::app(miniagent::AppState::new(config).unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}
