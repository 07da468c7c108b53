//! The bridged Messages cases with tools and images (profile `anthropic`, declared in
//! [`super::anthropic`]): a tool definition, the model's call and its result, and image blocks,
//! carried onto the provider's wire — chat completions or the Responses API — and back.

use serde_json::{Value, json};

use super::anthropic::{BRIDGED, NEEDS, SURFACE, event_order, messages, one};
use super::openai_responses::{content_text, upstream_responses};
use crate::case::{Case, Level, Profile};
use crate::checks::{expect_status, uuid_like};
use crate::failure::{CaseResult, Failure, ensure_eq};
use crate::fakes::openai_upstream::received_containing;
use crate::target::Ctx;

pub const CASES: &[Case] = &[
    Case::new(
        "anthropic.messages.bridged_tools",
        Profile::Anthropic,
        Level::Required,
        SURFACE,
        "bridged tools: a tool_use block with its input and stop_reason tool_use (plain and streamed with \
         input_json_delta); its tool_result goes back as a tool message — required: Claude Code runs its tools from \
         `tool_use` blocks (`input_json_delta` when streamed) and sends `tool_result` back: without them no tool ever \
         runs",
        |ctx| Box::pin(bridged_tools(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "anthropic.messages.bridged_image",
        Profile::Anthropic,
        Level::Required,
        SURFACE,
        "bridged images: a base64 image block reaches chat as an image_url data URL, a url image as its URL — \
         required: the anthropic Python SDK sends images as image blocks: dropped on the way, the model answers without \
         the image, silently",
        |ctx| Box::pin(bridged_image(ctx)),
    )
    .needs(NEEDS),
];

const TOOLS: &str = r#"[{"name": "get_weather", "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]"#;

async fn bridged_tools(ctx: &Ctx) -> CaseResult {
    let tools: Value = serde_json::from_str(TOOLS).map_err(|e| Failure::failed(e.to_string()))?;
    let marker = uuid_like();
    let ask = json!([{"role": "user", "content": format!("Weather in Paris? ({marker})")}]);
    let body = json!({"model": BRIDGED, "max_tokens": 64, "messages": ask, "tools": tools,
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": true}});
    let reply = messages(ctx, &body).await?;
    expect_status(&reply, 200, "bridged tools")?;
    let m = reply.json()?;
    ensure_eq!(m["stop_reason"].as_str(), Some("tool_use"), "stop_reason");
    let call =
        m["content"].as_array().and_then(|c| c.iter().find(|b| b["type"] == "tool_use")).cloned().unwrap_or_default();
    ensure_eq!(
        (call["name"].as_str(), call["input"].clone()),
        (Some("get_weather"), json!({"city": "Paris"})),
        "the tool_use"
    );
    let got = one(ctx.fakes()?.provider.server(), &marker).await?;
    let on_responses = upstream_responses(&got)?;
    let parameters = if on_responses {
        &got.body["tools"][0]["parameters"]
    } else {
        &got.body["tools"][0]["function"]["parameters"]
    };
    ensure_eq!(*parameters, tools[0]["input_schema"], "input_schema → parameters");
    ensure_eq!(
        (got.body["tool_choice"].as_str(), got.body["parallel_tool_calls"].clone()),
        (Some("auto"), json!(false)),
        "tool_choice"
    );
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let reply = messages(ctx, &streamed).await?;
    expect_status(&reply, 200, "bridged tools streamed")?;
    let (_, _, data) = event_order(&reply)?;
    let start = data.iter().find(|d| d["content_block"]["type"] == "tool_use").cloned().unwrap_or_default();
    ensure_eq!(start["content_block"]["name"].as_str(), Some("get_weather"), "content_block_start of the tool_use");
    let json_text: String =
        data.iter().filter_map(|d| d.pointer("/delta/partial_json").and_then(Value::as_str)).collect();
    ensure_eq!(
        serde_json::from_str::<Value>(&json_text).ok(),
        Some(json!({"city": "Paris"})),
        "input_json_delta pieces"
    );
    let back = json!([ask[0], {"role": "assistant", "content": m["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": [{"type": "text", "text": "sunny"}]}]}]);
    let reply = messages(ctx, &json!({"model": BRIDGED, "max_tokens": 64, "messages": back, "tools": tools})).await?;
    expect_status(&reply, 200, "the tool result")?;
    ensure_eq!(reply.json()?["content"][0]["text"].as_str(), Some("Final answer: sunny"), "the answer from the result");
    let got = received_containing(ctx.fakes()?.provider.server(), "sunny").await;
    let sent = got
        .iter()
        .find(|r| r.body.to_string().contains(&marker))
        .ok_or_else(|| Failure::failed("the round trip did not reach the provider"))?;
    if on_responses {
        let input = sent.body["input"].as_array().cloned().unwrap_or_default();
        let replayed = input.iter().find(|i| i["type"] == "function_call").cloned().unwrap_or_default();
        ensure_eq!(
            (&replayed["call_id"], replayed["name"].as_str()),
            (&call["id"], Some("get_weather")),
            "the replayed function_call item"
        );
        let output = input.iter().find(|i| i["type"] == "function_call_output").cloned().unwrap_or_default();
        ensure_eq!(
            (&output["call_id"], content_text(&output["output"])),
            (&call["id"], "sunny".to_owned()),
            "the function_call_output item"
        );
        return Ok(());
    }
    let msgs = sent.body["messages"].as_array().cloned().unwrap_or_default();
    ensure_eq!(msgs.get(1).map(|m| m["tool_calls"][0]["id"].clone()), Some(call["id"].clone()), "the replayed call");
    ensure_eq!(
        msgs.get(2).cloned(),
        Some(json!({"role": "tool", "tool_call_id": call["id"], "content": "sunny"})),
        "the tool message"
    );
    Ok(())
}

async fn bridged_image(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let body = json!({"model": BRIDGED, "max_tokens": 64, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        {"type": "text", "text": format!("What is this? ({marker})")}]}]});
    let reply = messages(ctx, &body).await?;
    expect_status(&reply, 200, "bridged image")?;
    let got = one(ctx.fakes()?.provider.server(), &marker).await?;
    if upstream_responses(&got)? {
        // Responses `input_image` parts: `image_url` a data URL or the URL (a `detail` may be added).
        let parts = got.body["input"][0]["content"].clone();
        let image = |p: &Value| (p["type"].clone(), p["image_url"].clone());
        ensure_eq!(
            image(&parts[0]),
            (json!("input_image"), json!("data:image/png;base64,iVBORw0KGgo=")),
            "base64 image"
        );
        ensure_eq!(image(&parts[1]), (json!("input_image"), json!("https://example.com/cat.png")), "url image");
        return Ok(());
    }
    let parts = got.body["messages"][0]["content"].clone();
    ensure_eq!(
        parts[0],
        json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}),
        "base64 image"
    );
    ensure_eq!(
        parts[1],
        json!({"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}),
        "url image"
    );
    Ok(())
}
