//! Operating the real binary (CONTRACT §12): `/metrics` counts what was served, and with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set the spans of each request reach an OTLP/HTTP receiver — one
//! trace per request, continuing the client's `traceparent`, a child span per model call and tool
//! call — and the provider receives the model call's own `traceparent`. Span attributes carry no
//! message content and no key.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use harness::ServerProcess;
use harness::otlp::{OtlpReceiver, ReceivedSpan as Got};
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn completion(message: Value) -> Value {
    json!({"id": "c1", "object": "chat.completion", "created": 1, "model": "m",
           "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}})
}

async fn tools_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/tools"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"name": "lookup", "description": "d"}])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/invoke"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": "found"})))
        .mount(&server)
        .await;
    server
}

async fn provider() -> MockServer {
    let server = MockServer::start().await;
    // The agent runs: one tool call, whose answer ends the run (CONTRACT §2).
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_string_contains("use the lookup"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(completion(json!({"role": "assistant", "content": null,
            "tool_calls": [{"id": "t2", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]}))),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_string_contains("run a tool"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(json!({"role": "assistant", "content": null,
            "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "research_echo", "arguments": "{\"query\":\"q\"}"}}]}))))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(completion(json!({"role": "assistant", "content": "hello"}))),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"object": "list", "model": "text-embedding-3-small",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
            "usage": {"prompt_tokens": 3, "total_tokens": 3}}),
        ))
        .mount(&server)
        .await;
    server
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";
const TRACE2: &str = "0af7651916cd43dd8448eb211c80319c";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_otlp_continue_the_client_trace_and_go_on_to_the_provider() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let otlp = receiver.url.clone();
    let upstream = provider().await;
    let base = format!("{}/v1", upstream.uri());
    let server = ServerProcess::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_miniagent")),
        &["serve", "--port", "0"],
        &[
            ("OPENAI_API_BASE", base.as_str()),
            ("OPENAI_API_KEY", "sk-never-in-a-span"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_SERVICE_NAME", "miniagent-test"),
        ],
    )
    .unwrap();
    let http = harness::http_client();
    let traceparent = format!("00-{TRACE}-{CLIENT_SPAN}-01");
    let chat = http
        .post(format!("{}/v1/chat/completions", server.base_url()))
        .header("traceparent", &traceparent)
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "secret question"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(chat.status(), 200);
    let run = http
        .post(format!("{}/agent/run", server.base_url()))
        .json(&json!({"model": "openai/gpt-4o-mini", "tool_backend": "local", "use_tools": true,
                      "messages": [{"role": "user", "content": "run a tool"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(run.status(), 200);
    let run: Value = run.json().await.unwrap();
    assert_eq!(run["final_answer"], "echo: q", "{run}");

    let tools = tools_server().await;
    let http_run = http
        .post(format!("{}/agent/run", server.base_url()))
        .header("traceparent", format!("00-{TRACE2}-{CLIENT_SPAN}-01"))
        .json(&json!({"model": "openai/gpt-4o-mini", "tool_backend": "http", "use_tools": true,
                      "tool_http_base_url": tools.uri(),
                      "messages": [{"role": "user", "content": "use the lookup"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(http_run.status(), 200);
    let embed = http
        .post(format!("{}/v1/embeddings", server.base_url()))
        .json(&json!({"model": "text-embedding-3-small", "input": "secret question"}))
        .send()
        .await
        .unwrap();
    assert_eq!(embed.status(), 200);

    let got = receiver
        .wait_for(Duration::from_secs(10), |s| {
            s.iter().filter(|g| g.name.starts_with("POST ")).count() >= 4
                && s.iter().any(|g| g.name.starts_with("embeddings "))
                && s.iter().filter(|g| g.name.starts_with("chat ")).count() >= 3
                && s.iter().filter(|g| g.name.starts_with("execute_tool")).count() >= 2
        })
        .await;
    let names: Vec<&str> = got.iter().map(|g| g.name.as_str()).collect();

    // The proxied chat: the request span continues the client's trace, the model call is its child.
    let request = got.iter().find(|g| g.name == "POST /v1/chat/completions").unwrap_or_else(|| panic!("{names:?}"));
    assert_eq!(request.trace_id, TRACE);
    assert_eq!(request.parent, CLIENT_SPAN);
    assert_eq!(request.attr("http.response.status_code"), Some("200"));
    let call = got.iter().find(|g| g.name == "chat gpt-4o-mini" && g.trace_id == TRACE).expect("the model call span");
    assert_eq!(call.parent, request.span_id);
    assert_eq!(call.attr("gen_ai.provider.name"), Some("openai"));
    assert_eq!(call.attr("gen_ai.usage.input_tokens"), Some("11"));
    assert_eq!(call.attr("gen_ai.usage.output_tokens"), Some("7"));

    // An embeddings call is named for its operation, inside its request's span.
    let embeddings = got.iter().find(|g| g.name == "POST /v1/embeddings").unwrap_or_else(|| panic!("{names:?}"));
    let call =
        got.iter().find(|g| g.name == "embeddings text-embedding-3-small").unwrap_or_else(|| panic!("{names:?}"));
    assert_eq!(
        (call.parent.as_str(), call.trace_id.as_str()),
        (embeddings.span_id.as_str(), embeddings.trace_id.as_str())
    );
    assert_eq!(call.attr("gen_ai.operation.name"), Some("embeddings"));
    let call = got.iter().find(|g| g.name == "chat gpt-4o-mini" && g.trace_id == TRACE).expect("the model call span");

    // The provider got the model call's own context.
    let received = upstream.received_requests().await.unwrap();
    let sent =
        received[0].headers.get("traceparent").expect("traceparent to the provider").to_str().unwrap().to_owned();
    assert_eq!(sent, format!("00-{TRACE}-{}-01", call.span_id));

    // The agent run without a traceparent: its own trace, the model call and the tool call inside it.
    let run_span =
        got.iter().find(|g| g.name == "POST /agent/run" && g.trace_id != TRACE2).expect("the run's request span");
    assert_ne!(run_span.trace_id, TRACE);
    let children: Vec<&Got> =
        got.iter().filter(|g| g.trace_id == run_span.trace_id && g.parent == run_span.span_id).collect();
    assert_eq!(children.iter().filter(|g| g.name.starts_with("chat ")).count(), 1, "{children:?}");
    let tool = children
        .iter()
        .find(|g| g.name == "execute_tool research_echo")
        .unwrap_or_else(|| panic!("no tool span among {names:?}; run: {run}"));
    assert_eq!(tool.attr("miniagent.tool.backend"), Some("local"));
    assert_eq!(tool.attr("miniagent.tool.ok"), Some("true"));

    // The tools server got the tool call's own context.
    let lookup = got.iter().find(|g| g.name == "execute_tool lookup").expect("the http tool span");
    assert_eq!(lookup.trace_id, TRACE2);
    assert_eq!(lookup.attr("miniagent.tool.backend"), Some("http"));
    let invoked = tools.received_requests().await.unwrap();
    let invoke = invoked.iter().find(|r| r.url.path() == "/invoke").expect("an /invoke call");
    let sent = invoke.headers.get("traceparent").expect("traceparent to the tools server").to_str().unwrap();
    assert_eq!(sent, format!("00-{TRACE2}-{}-01", lookup.span_id));

    // Nothing secret or conversational in any attribute.
    for g in &got {
        for (k, v) in &g.attributes {
            assert!(!v.contains("sk-never-in-a-span") && !v.contains("secret question"), "{k}={v} on {}", g.name);
        }
    }

    // And /metrics counted the requests, the four model calls (three chats, one embeddings) and the
    // tool calls.
    let metrics = http.get(format!("{}/metrics", server.base_url())).send().await.unwrap().text().await.unwrap();
    for line in [
        r#"miniagent_requests_total{method="POST",route="/v1/chat/completions",status="200"} 1"#,
        r#"miniagent_requests_total{method="POST",route="/agent/run",status="200"} 2"#,
        r#"miniagent_requests_total{method="POST",route="/v1/embeddings",status="200"} 1"#,
        r#"miniagent_provider_calls_total{outcome="ok",provider="openai"} 4"#,
        r#"miniagent_tool_calls_total{backend="local",outcome="ok"} 1"#,
        r#"miniagent_tool_calls_total{backend="http",outcome="ok"} 1"#,
    ] {
        assert!(metrics.lines().any(|l| l == line), "missing `{line}` in:\n{metrics}");
    }
}

/// Sampling is decided before any span exists: with a ratio of 0, requests without a sampled
/// `traceparent` — a proxied chat, an agent run with a tool call, a client trace marked unsampled —
/// leave no span at all (the SDK samples every span that exists, so any would reach the receiver),
/// while a client's sampled `traceparent` is followed, model call included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsampled_request_makes_no_span_and_a_sampled_parent_is_followed() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let otlp = receiver.url.clone();
    let upstream = provider().await;
    let base = format!("{}/v1", upstream.uri());
    let server = ServerProcess::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_miniagent")),
        &["serve", "--port", "0"],
        &[
            ("OPENAI_API_BASE", base.as_str()),
            ("OPENAI_API_KEY", "sk-test"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0"),
        ],
    )
    .unwrap();
    let http = harness::http_client();
    let chat = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    let url = format!("{}/v1/chat/completions", server.base_url());
    for traceparent in [None, Some(format!("00-{TRACE2}-{CLIENT_SPAN}-00"))] {
        let mut req = http.post(&url).json(&chat);
        if let Some(tp) = traceparent {
            req = req.header("traceparent", tp);
        }
        assert_eq!(req.send().await.unwrap().status(), 200);
    }
    let run = http
        .post(format!("{}/agent/run", server.base_url()))
        .json(&json!({"model": "openai/gpt-4o-mini", "tool_backend": "local", "use_tools": true,
                      "messages": [{"role": "user", "content": "run a tool"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(run.status(), 200);
    // Last, a sampled one: once its spans are in, the batches before it are too.
    let sampled =
        http.post(&url).header("traceparent", format!("00-{TRACE}-{CLIENT_SPAN}-01")).json(&chat).send().await.unwrap();
    assert_eq!(sampled.status(), 200);
    let got = receiver
        .wait_for(Duration::from_secs(10), |s| {
            s.iter().any(|g| g.name == "POST /v1/chat/completions") && s.iter().any(|g| g.name.starts_with("chat "))
        })
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = if got.len() < receiver.spans().len() { receiver.spans() } else { got };
    let names: Vec<(&str, &str)> = got.iter().map(|g| (g.name.as_str(), g.trace_id.as_str())).collect();
    assert!(got.iter().any(|g| g.name == "POST /v1/chat/completions" && g.trace_id == TRACE), "{names:?}");
    assert!(got.iter().any(|g| g.name == "chat gpt-4o-mini" && g.trace_id == TRACE), "{names:?}");
    assert!(got.iter().all(|g| g.trace_id == TRACE), "an unsampled request left spans: {names:?}");
    assert_eq!(upstream.received_requests().await.unwrap().len(), 4, "every request reached the provider");
}
