//! The streaming proxy of `/v1/chat/completions`: chunks forwarded as they arrive and as the
//! provider sent them, keep-alive comments while the upstream is silent, tool-call fragments by
//! index; a provider error before the stream is a real HTTP error, a stream cut without `[DONE]` or
//! a 2xx that is not an event stream ends with an error event (no `[DONE]`), and a provider that
//! sends no head in time is a 504. A real socket on both sides: an axum upstream that paces its
//! chunks, the façade served on port 0, reqwest reading the stream as it comes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use futures::StreamExt;
use miniagent::{AppState, Config, app};
use serde_json::{Value, json};

/// An upstream whose stream is scripted by the request's first user message:
/// `slow-start` waits 1.2 s before its first chunk, `gap` waits 0.8 s between its two content
/// chunks, `fail` answers 500, `tools` streams a tool call in fragments, `cut` ends without
/// `[DONE]`, `cut-mid` ends in the middle of an event, `split` writes an event in two pieces 0.3 s
/// apart, `silent` goes quiet for 2.5 s after its first chunk, `long` is above 1 KiB, `paced` takes 1.2 s in gaps of 0.6 s, `json` answers a 200 that is no
/// event stream, `hang` sends no head for 3 s, `blank` has an event with an empty payload.
async fn upstream(body: Bytes) -> Response {
    let req: Value = serde_json::from_slice(&body).unwrap();
    let mode = req["messages"][0]["content"].as_str().unwrap_or_default().to_owned();
    match mode.as_str() {
        "fail" => {
            return Response::builder()
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .body(Body::from("upstream broke"))
                .unwrap();
        }
        "json" => {
            return Response::builder().header("content-type", "application/json").body(Body::from("{}")).unwrap();
        }
        "hang" => tokio::time::sleep(Duration::from_secs(3)).await,
        _ => {}
    }
    let usage_asked = req["stream_options"]["include_usage"] == json!(true);
    let stream = futures::stream::iter(parts(&mode, usage_asked)).then(|(wait, text)| async move {
        tokio::time::sleep(Duration::from_millis(wait)).await;
        Ok::<_, Infallible>(Bytes::from(text))
    });
    Response::builder().header("content-type", "text/event-stream").body(Body::from_stream(stream)).unwrap()
}

/// The pieces of a scripted stream: how long to wait before each, and its text.
fn parts(mode: &str, usage_asked: bool) -> Vec<(u64, String)> {
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "up-1", "object": "chat.completion.chunk", "created": 1, "model": "up",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let mut parts: Vec<(u64, String)> = Vec::new();
    match mode {
        "tools" => {
            parts.push((0, chunk(json!({"role": "assistant", "tool_calls": [{"index": 0, "id": "t0", "type": "function", "function": {"name": "echo", "arguments": "{\"te"}}]}), Value::Null)));
            parts.push((
                50,
                chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "xt\":1}"}}]}), Value::Null),
            ));
            parts.push((0, chunk(json!({}), json!("tool_calls"))));
        }
        "split" => {
            let whole = chunk(json!({"role": "assistant", "content": "Hello"}), Value::Null);
            let (head, tail) = whole.split_at(whole.find("Hel").unwrap() + 3);
            parts.push((0, head.to_owned()));
            parts.push((300, tail.to_owned()));
            parts.push((0, chunk(json!({}), json!("stop"))));
        }
        "cut-mid" => {
            parts.push((0, chunk(json!({"role": "assistant", "content": "Hel"}), Value::Null)));
            parts.push((50, "data: {\"id\":\"up-1\",\"choi".to_owned()));
        }
        _ => {
            let first_wait = if mode == "slow-start" { 1200 } else { 0 };
            let gap = match mode {
                "gap" => 800,
                "silent" => 2500,
                "paced" => 600,
                _ => 0,
            };
            // `long` makes a stream above the smallest reply limit (1 KiB).
            let first = if mode == "long" { "Hel".repeat(400) } else { "Hel".to_owned() };
            parts.push((first_wait, chunk(json!({"role": "assistant", "content": first}), Value::Null)));
            if mode == "blank" {
                // An event with an empty payload (some providers send them as keep-alives).
                parts.push((0, "data: \n\n".to_owned()));
            }
            parts.push((gap, chunk(json!({"content": "lo"}), Value::Null)));
            if mode == "paced" {
                parts.push((gap, chunk(json!({"content": "!"}), Value::Null)));
            }
            parts.push((0, chunk(json!({}), json!("stop"))));
        }
    }
    if usage_asked {
        parts.push((0, format!("data: {}\n\n", json!({"id": "up-1", "choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}}))));
    }
    if mode != "cut" && mode != "cut-mid" {
        parts.push((0, "data: [DONE]\n\n".to_owned()));
    }
    parts
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

async fn facade() -> String {
    facade_with(&[]).await
}

async fn facade_with(more: &[(&str, &str)]) -> String {
    let up = serve(Router::new().route("/v1/chat/completions", post(upstream))).await;
    let base = format!("{up}/v1");
    let mut pairs = vec![
        ("OPENAI_API_BASE", base.as_str()),
        ("MINI_AGENT_SSE_KEEPALIVE_SEC", "0.2"),
        ("MINI_AGENT_PROVIDER_TIMEOUT_SEC", "1"),
    ];
    pairs.extend_from_slice(more);
    serve(app(AppState::new(Config::from_pairs(pairs)).unwrap())).await
}

/// Every SSE line with the time it arrived.
async fn stream(base: &str, mode: &str, extra: Value) -> Vec<(Duration, String)> {
    lines_of(&pieces(base, mode, extra).await)
}

/// The stream's bytes in the pieces the client read them in, each with the time it arrived.
async fn pieces(base: &str, mode: &str, extra: Value) -> Vec<(Duration, String)> {
    let mut body = json!({"model": "openai/up", "stream": true, "messages": [{"role": "user", "content": mode}]});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let started = Instant::now();
    let res = harness::http_client().post(format!("{base}/v1/chat/completions")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut bytes = res.bytes_stream();
    let mut pieces = Vec::new();
    while let Some(chunk) = bytes.next().await {
        pieces.push((started.elapsed(), String::from_utf8_lossy(&chunk.unwrap()).into_owned()));
    }
    pieces
}

fn lines_of(pieces: &[(Duration, String)]) -> Vec<(Duration, String)> {
    let mut lines = Vec::new();
    let mut pending = String::new();
    for (at, piece) in pieces {
        pending.push_str(piece);
        while let Some(i) = pending.find('\n') {
            let line = pending[..i].trim_end_matches('\r').to_owned();
            pending.drain(..=i);
            if !line.is_empty() {
                lines.push((*at, line));
            }
        }
    }
    lines
}

fn data(lines: &[(Duration, String)]) -> Vec<(Duration, String)> {
    lines.iter().filter_map(|(t, l)| l.strip_prefix("data:").map(|d| (*t, d.trim().to_owned()))).collect()
}

#[tokio::test]
async fn chunks_are_forwarded_as_they_arrive() {
    let base = facade().await;
    let lines = stream(&base, "gap", json!({})).await;
    let events = data(&lines);
    let first_content = events.iter().find(|(_, d)| d.contains("Hel")).unwrap().0;
    let last = events.last().unwrap();
    assert_eq!(last.1, "[DONE]");
    assert!(first_content < Duration::from_millis(400), "first token after {first_content:?}: buffered?");
    assert!(last.0 >= Duration::from_millis(800), "the stream should end after the upstream's gap");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|(_, d)| serde_json::from_str(d).unwrap()).collect();
    // The provider's chunks as it sent them: its id, its model name.
    assert!(chunks.iter().all(|c| c["id"] == "up-1" && c["model"] == "up" && c["object"] == "chat.completion.chunk"));
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "Hello");
}

#[tokio::test]
async fn keep_alive_comments_cover_a_slow_first_token() {
    let base = facade().await;
    let lines = stream(&base, "slow-start", json!({})).await;
    let first_data = lines.iter().position(|(_, l)| l.starts_with("data:")).unwrap();
    let comments = lines[..first_data].iter().filter(|(_, l)| l.starts_with(':')).count();
    assert!(comments >= 3, "expected keep-alive comments during 1.2 s of silence, got {comments}: {lines:?}");
}

#[tokio::test]
async fn usage_is_forwarded_when_asked_and_tool_calls_by_index() {
    let base = facade().await;
    let events = data(&stream(&base, "hello", json!({"stream_options": {"include_usage": true}})).await);
    let usage: Vec<&(Duration, String)> =
        events.iter().filter(|(_, d)| d.contains("\"usage\"") && d.contains("\"choices\":[]")).collect();
    assert_eq!(usage.len(), 1, "{events:?}");

    let events = data(&stream(&base, "tools", json!({})).await);
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|(_, d)| serde_json::from_str(d).unwrap()).collect();
    let done = miniagent::aggregate_stream(&chunks);
    assert_eq!(
        done["choices"][0]["message"]["tool_calls"][0]["function"],
        json!({"name": "echo", "arguments": "{\"text\":1}"})
    );
    assert_eq!(done["choices"][0]["finish_reason"], "tool_calls");
}

/// A streamed request whose answer is not a 200: its status and JSON body.
async fn refused(base: &str, mode: &str) -> (u16, Value) {
    let body = json!({"model": "openai/up", "stream": true, "messages": [{"role": "user", "content": mode}]});
    let res = harness::http_client().post(format!("{base}/v1/chat/completions")).json(&body).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_provider_failure_before_the_stream_is_a_real_http_error() {
    let base = facade().await;
    let (status, body) = refused(&base, "fail").await;
    assert_eq!(status, 502, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("HTTP 500"), "{body}");
    let started = Instant::now();
    let (status, body) = refused(&base, "hang").await;
    assert_eq!(status, 504, "{body}");
    assert!(started.elapsed() < Duration::from_millis(2800), "no head within the provider timeout is a 504");
}

#[tokio::test]
async fn a_cut_stream_or_a_non_stream_ends_with_an_error_event_and_no_done() {
    let base = facade().await;
    for mode in ["cut", "json"] {
        let events = data(&stream(&base, mode, json!({})).await);
        let last: Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
        assert!(last["error"]["message"].is_string(), "{mode}: {events:?}");
        assert!(events.iter().all(|(_, d)| d != "[DONE]"), "{mode}: a [DONE] would hide the truncation");
    }
}

#[tokio::test]
async fn an_invalid_model_is_a_plain_400_before_any_stream() {
    let base = facade().await;
    let res = harness::http_client()
        .post(format!("{base}/v1/chat/completions"))
        .json(&json!({"model": "nope/x", "stream": true, "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("unknown provider `nope`"), "{body}");
}

#[tokio::test]
async fn an_event_written_in_two_pieces_reaches_the_client_whole_and_cut_only_at_line_ends() {
    let base = facade().await;
    let pieces = pieces(&base, "split", json!({})).await;
    assert!(pieces.iter().all(|(_, p)| p.ends_with('\n')), "a piece cut inside a line: {pieces:?}");
    let relayed: String = pieces.iter().map(|(_, p)| p.as_str()).filter(|p| *p != ": keep-alive\n\n").collect();
    let sent: String = parts("split", false).into_iter().map(|(_, t)| t).collect();
    assert_eq!(relayed, sent, "the provider's bytes, every one of them, in order");
    let events = data(&lines_of(&pieces));
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|(_, d)| serde_json::from_str(d).unwrap()).collect();
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!((text.as_str(), events.last().unwrap().1.as_str()), ("Hello", "[DONE]"), "{pieces:?}");
    // The event's first half was held back until its line was complete.
    let hello = events.iter().find(|(_, d)| d.contains("Hello")).unwrap().0;
    assert!(hello >= Duration::from_millis(250), "the half line went out alone at {hello:?}");
}

#[tokio::test]
async fn a_stream_cut_inside_an_event_ends_it_apart_from_the_error_event() {
    let base = facade().await;
    let pieces = pieces(&base, "cut-mid", json!({})).await;
    let raw: String = pieces.iter().map(|(_, p)| p.as_str()).collect();
    // The half event is passed on as it came, closed, and the error event stands on its own.
    let (before, error) = raw.rsplit_once("\n\ndata: ").expect("an error event after a blank line");
    assert!(before.ends_with("data: {\"id\":\"up-1\",\"choi"), "{raw:?}");
    let error: Value = serde_json::from_str(error.trim_end()).unwrap();
    assert!(error["error"]["message"].as_str().unwrap().contains("without data: [DONE]"), "{raw:?}");
    // A stream cut after a whole event gets no stray blank line before its error event.
    let raw: String = pieces_text(&base, "cut").await;
    assert!(!raw.contains("\n\n\n"), "{raw:?}");
    assert!(raw.contains("\n\ndata: {\"error\""), "{raw:?}");
}

async fn pieces_text(base: &str, mode: &str) -> String {
    pieces(base, mode, json!({})).await.into_iter().map(|(_, p)| p).collect()
}

#[tokio::test]
async fn a_provider_silent_past_its_timeout_ends_the_stream_with_an_error_event() {
    let base = facade().await;
    let lines = stream(&base, "silent", json!({})).await;
    let events = data(&lines);
    let (at, last) = events.last().unwrap();
    let last: Value = serde_json::from_str(last).unwrap();
    let message = last["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("went silent") && message.contains("MINI_AGENT_PROVIDER_TIMEOUT_SEC"), "{events:?}");
    // Given up after the 1 s timeout (keep-alives meanwhile), not when the upstream spoke again.
    assert!(*at >= Duration::from_millis(900) && *at < Duration::from_millis(2300), "ended at {at:?}");
    assert!(lines.iter().any(|(_, l)| l.starts_with(':')), "keep-alives while it was silent: {lines:?}");
}

#[tokio::test]
async fn a_stream_is_cut_at_the_reply_limit_and_not_a_byte_before() {
    let size: usize = parts("long", false).iter().map(|(_, t)| t.len()).sum();
    let exact = size.to_string();
    let events =
        data(&stream(&facade_with(&[("MINI_AGENT_PROVIDER_MAX_BYTES", &exact)]).await, "long", json!({})).await);
    assert_eq!(events.last().unwrap().1, "[DONE]", "exactly the limit passes: {events:?}");
    let under = (size - 1).to_string();
    let events =
        data(&stream(&facade_with(&[("MINI_AGENT_PROVIDER_MAX_BYTES", &under)]).await, "long", json!({})).await);
    let last: Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
    assert!(last["error"]["message"].as_str().unwrap().contains("MINI_AGENT_PROVIDER_MAX_BYTES"), "{events:?}");
    assert!(events.iter().all(|(_, d)| d != "[DONE]"), "{events:?}");
}

/// A passed-through Responses stream (`MINI_AGENT_RESPONSES_MODE=passthrough`): relayed as it came
/// up to the reply limit, then ended with an `error` event — and not a byte before the limit.
#[tokio::test]
async fn a_passed_through_responses_stream_is_cut_at_the_reply_limit_and_not_a_byte_before() {
    let text = "x".repeat(1500);
    let events = format!(
        "event: response.output_text.delta\ndata: {}\n\nevent: response.completed\ndata: {}\n\n",
        json!({"type": "response.output_text.delta", "delta": text}),
        json!({"type": "response.completed", "response": {"id": "resp_1", "status": "completed"}})
    );
    let size = events.len();
    let served = events.clone();
    let up =
        serve(Router::new().route(
            "/v1/responses",
            post(move || {
                let body = served.clone();
                async move {
                    Response::builder().header("content-type", "text/event-stream").body(Body::from(body)).unwrap()
                }
            }),
        ))
        .await;
    let base = format!("{up}/v1");
    for (limit, whole) in [(size, true), (size - 1, false)] {
        let limit = limit.to_string();
        let config = Config::from_pairs([
            ("OPENAI_API_BASE", base.as_str()),
            ("MINI_AGENT_RESPONSES_MODE", "passthrough"),
            ("MINI_AGENT_PROVIDER_MAX_BYTES", limit.as_str()),
        ]);
        let facade = serve(app(AppState::new(config).unwrap())).await;
        let body = json!({"model": "openai/up", "input": "hi", "stream": true});
        let res = harness::http_client().post(format!("{facade}/v1/responses")).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let got = res.text().await.unwrap();
        if whole {
            assert_eq!(got, events, "exactly the limit passes whole");
        } else {
            assert!(got.contains("event: error") && got.contains("MINI_AGENT_PROVIDER_MAX_BYTES"), "{got}");
        }
    }
}

/// A base with credentials (`http://user:password@…`, sent as Basic auth) goes through the shared
/// client rather than the direct one: there too a non-streamed answer is bounded by the provider
/// timeout as a whole, a stream's head by it, and a stream itself only by its gaps.
#[tokio::test]
async fn through_the_shared_client_the_provider_timeout_bounds_answers_and_heads_not_streams() {
    let up = serve(Router::new().route("/v1/chat/completions", post(upstream))).await;
    let base = up.replacen("http://", "http://user:pw@", 1) + "/v1";
    let config = Config::from_pairs([
        ("OPENAI_API_BASE", base.as_str()),
        ("MINI_AGENT_SSE_KEEPALIVE_SEC", "0.2"),
        ("MINI_AGENT_PROVIDER_TIMEOUT_SEC", "1"),
    ]);
    let facade = serve(app(AppState::new(config).unwrap())).await;
    // A stream of 1.2 s whose gaps are shorter than the timeout arrives whole.
    let events = data(&stream(&facade, "paced", json!({})).await);
    assert_eq!(events.last().unwrap().1, "[DONE]", "{events:?}");
    // A stream whose head does not come in time, and a plain answer that does not, are 504s.
    let started = Instant::now();
    let (status, body) = refused(&facade, "hang").await;
    assert_eq!(status, 504, "{body}");
    let plain = json!({"model": "openai/up", "messages": [{"role": "user", "content": "hang"}]});
    let res = harness::http_client().post(format!("{facade}/v1/chat/completions")).json(&plain).send().await.unwrap();
    assert_eq!(res.status(), 504);
    assert!(started.elapsed() < Duration::from_millis(2800), "both within the 1 s timeout: {:?}", started.elapsed());
}

/// An Anthropic-wire provider's stream (translated to chunks) is bounded like an OpenAI one: its
/// head by the provider timeout, the stream itself only by its gaps — a stream longer than the
/// timeout whose gaps are shorter arrives whole.
#[tokio::test]
async fn an_anthropic_stream_longer_than_the_provider_timeout_arrives_whole() {
    async fn messages() -> Response {
        let event = |kind: &str, data: Value| format!("event: {kind}\ndata: {data}\n\n");
        let parts = [
            (
                0,
                event(
                    "message_start",
                    json!({"type": "message_start", "message": {"id": "msg_p", "model": "claude-x", "usage": {"input_tokens": 3, "output_tokens": 1}}}),
                ),
            ),
            (
                0,
                event(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
                ),
            ),
            (
                600,
                event(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}}),
                ),
            ),
            (
                600,
                event(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}}),
                ),
            ),
            (0, event("content_block_stop", json!({"type": "content_block_stop", "index": 0}))),
            (
                0,
                event(
                    "message_delta",
                    json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}}),
                ),
            ),
            (0, event("message_stop", json!({"type": "message_stop"}))),
        ];
        let stream = futures::stream::iter(parts).then(|(wait, text)| async move {
            tokio::time::sleep(Duration::from_millis(wait)).await;
            Ok::<_, Infallible>(Bytes::from(text))
        });
        Response::builder().header("content-type", "text/event-stream").body(Body::from_stream(stream)).unwrap()
    }
    let up = serve(Router::new().route("/v1/messages", post(messages))).await;
    let config = Config::from_pairs([
        ("ANTHROPIC_API_BASE", up.as_str()),
        ("ANTHROPIC_API_KEY", "sk-ant-paced"),
        ("MINI_AGENT_PROVIDER_TIMEOUT_SEC", "1"),
    ]);
    let facade = serve(app(AppState::new(config).unwrap())).await;
    let body = json!({"model": "anthropic/claude-x", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let started = Instant::now();
    let res = harness::http_client().post(format!("{facade}/v1/chat/completions")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1200), "paced over 1.2 s: {:?}", started.elapsed());
    assert!(text.trim_end().ends_with("data: [DONE]") && !text.contains("event: error"), "{text}");
    let content: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(content, "Hello");
}

/// A bridged stream (`/v1/responses` and `/v1/messages` over a chat-completions provider) is held
/// to the reply limit too: one byte past it the stream ends with an `error` event naming the
/// variable; exactly at it the stream completes.
#[tokio::test]
async fn a_bridged_stream_is_cut_at_the_reply_limit_and_not_a_byte_before() {
    // What the provider sends for `long` to a bridge (which asks for usage).
    let size: usize = parts("long", true).iter().map(|(_, text)| text.len()).sum();
    for (limit, cut) in [(size - 1, true), (size, false)] {
        let limit = limit.to_string();
        let facade =
            facade_with(&[("MINI_AGENT_RESPONSES_MODE", "bridge"), ("MINI_AGENT_PROVIDER_MAX_BYTES", &limit)]).await;
        let responses = json!({"model": "openai/up", "input": "long", "stream": true});
        let messages = json!({"model": "openai/up", "max_tokens": 64, "stream": true,
            "messages": [{"role": "user", "content": "long"}]});
        for (path, body, done) in
            [("responses", responses, "response.completed"), ("messages", messages, "message_stop")]
        {
            let res = harness::http_client().post(format!("{facade}/v1/{path}")).json(&body).send().await.unwrap();
            assert_eq!(res.status(), 200, "{path}");
            let got = res.text().await.unwrap();
            if cut {
                assert!(got.contains("MINI_AGENT_PROVIDER_MAX_BYTES") && !got.contains(done), "{path}: {got}");
            } else {
                assert!(got.contains(done) && !got.contains("MINI_AGENT_PROVIDER_MAX_BYTES"), "{path}: {got}");
            }
        }
    }
}

/// An event with an empty payload is not an event to translate: a bridged stream skips it.
#[tokio::test]
async fn a_bridged_stream_skips_an_event_with_an_empty_payload() {
    let facade = facade_with(&[("MINI_AGENT_RESPONSES_MODE", "bridge")]).await;
    let body = json!({"model": "openai/up", "input": "blank", "stream": true});
    let res = harness::http_client().post(format!("{facade}/v1/responses")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let got = res.text().await.unwrap();
    assert!(got.contains("response.completed") && !got.contains("event: error"), "{got}");
    assert!(got.contains(r#""text":"Hello""#), "{got}");
}
