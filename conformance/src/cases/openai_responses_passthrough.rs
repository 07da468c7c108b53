//! §1 EXT `POST /v1/responses` passed through (profile `openai`, turn 3, feature
//! `responses-passthrough`): the body goes to the provider's own `/responses` with only the model's
//! provider prefix removed — hosted tools and every other field as sent — and the answer comes back
//! byte for byte, JSON or event stream, with the provider's status and `Retry-After`.

use serde_json::{Value, json};

use super::openai::{MODEL, UPSTREAM_MODEL};
use super::openai_responses::respond;
use crate::case::{Case, Level, Profile};
use crate::checks::{expect_status, openai_error, uuid_like};
use crate::failure::{CaseResult, Failure, ensure, ensure_eq};
use crate::fakes::openai_upstream::{Received, Reply as Upstream, received_containing};
use crate::features::Feature;
use crate::target::Ctx;

const CLAUSE: &str = "§1 EXT POST /v1/responses (turn 3) — passthrough: the provider's own /responses, byte for byte";
const NEEDS: &[Feature] = &[Feature::OpenaiProxy, Feature::ResponsesPassthrough];

pub const CASES: &[Case] = &[
    Case::new(
        "openai.responses.passthrough_json",
        Profile::Openai,
        Level::Faithful,
        CLAUSE,
        "the body reaches the provider's /responses unchanged but for the model's prefix (hosted tools included); its \
         JSON answer comes back byte for byte",
        |ctx| Box::pin(passthrough_json(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.responses.passthrough_stream",
        Profile::Openai,
        Level::Faithful,
        CLAUSE,
        "the provider's Responses event stream (named events, hosted tool events, no [DONE]) comes back byte for byte",
        |ctx| Box::pin(passthrough_stream(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.responses.passthrough_status",
        Profile::Openai,
        Level::Required,
        CLAUSE,
        "a provider's 429 comes back as a 429 with its error and Retry-After, not retried — required: the Codex CLI \
         and the openai SDK retry a 429 themselves after `Retry-After`: a gateway that retries too or drops the status \
         stacks both",
        |ctx| Box::pin(passthrough_status(ctx)),
    )
    .needs(NEEDS),
];

/// A request a bridge could not carry whole: hosted tools, a namespace, Codex's extras.
fn request(marker: &str, upstream: &Upstream, stream: bool) -> Value {
    json!({
        "model": MODEL, "input": format!("{marker} {}", upstream.marker()), "stream": stream,
        "tools": [{"type": "web_search", "external_web_access": true},
                  {"type": "namespace", "name": "crm", "description": "d", "tools": [{"type": "function", "name": "get", "parameters": {"type": "object"}}]}],
        "reasoning": {"effort": "low", "summary": "auto"}, "include": ["reasoning.encrypted_content"], "store": false,
        "client_metadata": {"x-client": "conformance"}
    })
}

/// The one request the provider received, checked to be the client's body at `/responses`.
async fn received_whole(ctx: &Ctx, marker: &str, sent: &Value) -> Result<Received, Failure> {
    let got = received_containing(ctx.fakes()?.provider.server(), marker).await;
    ensure_eq!(got.len(), 1, "requests the provider received");
    let got = got.into_iter().next().ok_or_else(|| Failure::failed("no request"))?;
    ensure!(got.path.ends_with("/responses"), "the provider was asked at {}", got.path);
    let mut want = sent.clone();
    want["model"] = json!(UPSTREAM_MODEL);
    ensure_eq!(got.body, want, "the body the provider received (only the model's prefix removed)");
    Ok(got)
}

fn completed(marker: &str) -> Value {
    json!({"id": "resp_up", "object": "response", "created_at": 1_700_000_123, "status": "completed", "model": UPSTREAM_MODEL,
        "output": [{"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": marker}},
                   {"type": "message", "id": "msg_up", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": "Found it.", "annotations": []}]}],
        "usage": {"input_tokens": 11, "output_tokens": 7, "total_tokens": 18}, "x_provider_extra": 1})
}

async fn passthrough_json(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let answer = completed(&marker);
    let upstream = Upstream::json(answer.clone());
    let body = request(&marker, &upstream, false);
    let reply = respond(ctx, &body).await?;
    expect_status(&reply, 200, "a passed-through Response")?;
    ensure_eq!(reply.text(), answer.to_string(), "the answer, byte for byte");
    received_whole(ctx, &marker, &body).await.map(|_| ())
}

async fn passthrough_stream(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let events = vec![
        json!({"type": "response.created", "sequence_number": 0, "response": {"id": "resp_up", "status": "in_progress"}}),
        json!({"type": "response.web_search_call.in_progress", "sequence_number": 1, "output_index": 0, "item_id": "ws_1"}),
        json!({"type": "response.output_text.delta", "sequence_number": 2, "output_index": 1, "item_id": "msg_up", "content_index": 0, "delta": "Found"}),
        json!({"type": "response.completed", "sequence_number": 3, "response": completed(&marker)}),
    ];
    let upstream = Upstream::responses_events(events.clone());
    let body = request(&marker, &upstream, true);
    let reply = respond(ctx, &body).await?;
    expect_status(&reply, 200, "a passed-through stream")?;
    let content_type = reply.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    ensure!(content_type.starts_with("text/event-stream"), "content-type {content_type:?}");
    let want: String =
        events.iter().map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap_or_default())).collect();
    ensure_eq!(reply.text(), want, "the stream, byte for byte");
    received_whole(ctx, &marker, &body).await.map(|_| ())
}

async fn passthrough_status(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let upstream = Upstream::error(429, "slow down (responses)", "rate_limit_error", "rate_limit_exceeded")
        .header("retry-after", "7");
    let body = request(&marker, &upstream, false);
    let reply = respond(ctx, &body).await?;
    let error = openai_error(&reply, 429, "a provider's 429")?;
    ensure_eq!(error["message"].as_str(), Some("slow down (responses)"), "the provider's message");
    let retry = reply.headers.get("retry-after").and_then(|v| v.to_str().ok());
    ensure_eq!(retry, Some("7"), "Retry-After");
    received_whole(ctx, &marker, &body).await.map(|_| ())
}
