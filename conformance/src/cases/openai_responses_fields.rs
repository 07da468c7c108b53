//! §1 EXT `POST /v1/responses` (profile `openai`, turn 3): request fields mapped onto chat's —
//! `reasoning.effort` → `reasoning_effort`, `text.verbosity` → `verbosity`, `max_output_tokens`,
//! `parallel_tool_calls`, `top_p`, `temperature`, `user`, `safety_identifier`, `prompt_cache_key`,
//! `service_tier`, `metadata` — what chat cannot carry named in `x-miniagent-warnings`, the answer
//! echoing what was applied; and a provider's reasoning round-tripping through a `reasoning` item.

use serde_json::{Value, json};

use super::openai::UPSTREAM_MODEL;
use super::openai_responses::{items, message_text, respond};
use super::openai_responses_tools::AUTO;
use crate::case::{Case, Level, Profile};
use crate::checks::{expect_status, uuid_like};
use crate::failure::{CaseResult, ensure, ensure_eq};
use crate::fakes::openai_upstream::{Reply as Upstream, received_containing, turns_marker};
use crate::features::Feature;

const FIELDS: &str = "§1 EXT POST /v1/responses (turn 3) — fields mapped onto chat's, the rest named; the answer echoes what was applied";
const REASONING: &str = "§1 EXT POST /v1/responses (turn 3) — reasoning items round-trip where the provider gives them";
const NEEDS: &[Feature] = &[Feature::OpenaiProxy];

pub const CASES: &[Case] = &[
    Case::new(
        "openai.responses.fields_mapped",
        Profile::Openai,
        Level::Recommended,
        FIELDS,
        "each mapped field reaches the provider under chat's name; reasoning.summary and unknown fields are named in \
         x-miniagent-warnings; reasoning.effort and text.verbosity are echoed",
        |ctx| Box::pin(fields_mapped(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.responses.reasoning_round_trip",
        Profile::Openai,
        Level::Recommended,
        REASONING,
        "a provider's reasoning_content becomes a reasoning item (with encrypted_content when included) and goes back \
         up as the assistant message's reasoning_content",
        |ctx| Box::pin(reasoning_round_trip(ctx)),
    )
    .needs(NEEDS),
];

async fn fields_mapped(ctx: &crate::target::Ctx) -> CaseResult {
    let marker = uuid_like();
    let body = json!({
        "model": AUTO, "input": format!("{marker} hi"),
        "reasoning": {"effort": "low", "summary": "auto"}, "text": {"verbosity": "low"},
        "max_output_tokens": 64, "parallel_tool_calls": false, "top_p": 0.5, "temperature": 0.3,
        "user": "u-1", "safety_identifier": "sid-1", "prompt_cache_key": "pck-1", "service_tier": "flex",
        "metadata": {"k": "v"}, "frobnicate": true, "tool_choice": "none",
        "tools": [{"type": "function", "name": "noop", "parameters": {"type": "object", "properties": {}}}]
    });
    let reply = respond(ctx, &body).await?;
    expect_status(&reply, 200, "a request with every mapped field")?;
    let response = reply.json()?;
    ensure_eq!(response["reasoning"]["effort"].as_str(), Some("low"), "the echoed reasoning.effort");
    ensure_eq!(response["text"]["verbosity"].as_str(), Some("low"), "the echoed text.verbosity");
    let header = reply.headers.get("x-miniagent-warnings").and_then(|v| v.to_str().ok()).unwrap_or_default();
    for want in ["unmapped:reasoning.summary", "unmapped:frobnicate"] {
        ensure!(header.split(',').any(|w| w == want), "x-miniagent-warnings should list `{want}`, got `{header}`");
    }
    let got = received_containing(ctx.fakes()?.provider.server(), &marker).await;
    ensure_eq!(got.len(), 1, "requests the provider received");
    let sent = &got[0].body;
    let max = sent.get("max_completion_tokens").or_else(|| sent.get("max_tokens"));
    ensure_eq!(max, Some(&json!(64)), "max_output_tokens as max_tokens or max_completion_tokens");
    for (field, want) in [
        ("reasoning_effort", json!("low")),
        ("verbosity", json!("low")),
        ("parallel_tool_calls", json!(false)),
        ("top_p", json!(0.5)),
        ("temperature", json!(0.3)),
        ("user", json!("u-1")),
        ("safety_identifier", json!("sid-1")),
        ("prompt_cache_key", json!("pck-1")),
        ("service_tier", json!("flex")),
        ("metadata", json!({"k": "v"})),
    ] {
        ensure_eq!(sent.get(field), Some(&want), "`{field}` as the provider received it");
    }
    ensure!(sent.get("frobnicate").is_none() && sent.get("reasoning").is_none(), "unmapped fields stay out: {sent}");
    Ok(())
}

fn thinking_completion(content: &str, reasoning: &str) -> Value {
    json!({"id": "chatcmpl-r", "object": "chat.completion", "created": 1_700_000_123, "model": UPSTREAM_MODEL,
        "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": content, "reasoning_content": reasoning}}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}})
}

async fn reasoning_round_trip(ctx: &crate::target::Ctx) -> CaseResult {
    let marker = uuid_like();
    let script = turns_marker(&[
        Upstream::json(thinking_completion("42", "six times seven")),
        Upstream::json(thinking_completion("48", "six times eight")),
    ]);
    let question = json!({"role": "user", "content": format!("{marker} {script}")});
    let model = super::openai::MODEL;
    let body = json!({"model": model, "input": [question], "include": ["reasoning.encrypted_content"], "store": false});
    let reply = respond(ctx, &body).await?;
    expect_status(&reply, 200, "the first turn")?;
    let first = reply.json()?;
    let thoughts = items(&first, "reasoning");
    ensure_eq!(thoughts.len(), 1, "reasoning items in {first}");
    let text = thoughts[0]["content"].get(0).and_then(|p| p["text"].as_str());
    ensure_eq!(text, Some("six times seven"), "the reasoning item's text");
    ensure!(thoughts[0]["encrypted_content"].is_string(), "include asked for encrypted_content: {}", thoughts[0]);
    ensure_eq!(message_text(&first), "42".to_owned(), "the answer");
    // A client that stores nothing sends the item back as it keeps it: id, summary, encrypted content.
    let kept = json!({"type": "reasoning", "id": thoughts[0]["id"], "summary": [],
        "encrypted_content": thoughts[0]["encrypted_content"]});
    let answer = json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "42"}]});
    let next = json!({"role": "user", "content": "and six times eight?"});
    let body =
        json!({"model": model, "input": [question, kept, answer, next], "include": ["reasoning.encrypted_content"]});
    expect_status(&respond(ctx, &body).await?, 200, "the second turn")?;
    let got = received_containing(ctx.fakes()?.provider.server(), &marker).await;
    ensure_eq!(got.len(), 2, "requests the provider received");
    if super::openai_responses::upstream_responses(&got[1])? {
        // Passed through: the reasoning item goes back as the provider gave it.
        let replayed =
            got[1].body["input"].as_array().into_iter().flatten().find(|i| i["type"] == "reasoning").cloned();
        ensure_eq!(
            replayed.map(|i| i["encrypted_content"].clone()),
            Some(json!("fake-encrypted:six times seven")),
            "the replayed reasoning item's encrypted_content (the provider's)"
        );
        return Ok(());
    }
    let assistant =
        got[1].body["messages"].as_array().into_iter().flatten().find(|m| m["role"] == "assistant").cloned();
    ensure_eq!(
        assistant.map(|m| m["reasoning_content"].clone()),
        Some(json!("six times seven")),
        "the replayed assistant message's reasoning_content"
    );
    Ok(())
}
