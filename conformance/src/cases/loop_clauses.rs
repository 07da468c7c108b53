//! §2 The agent loop's guards: what it does with a reply that is not a chat completion, with tool
//! calls when tools were not offered, and with a user message longer than the whole history budget.
//! Driven like `agent_loop`, through `tool_backend:"local"` and the scripted provider fake (whose
//! `raw` turns answer malformed bodies as they are).

use serde_json::{Value, json};

use crate::case::{Case, Level, Profile};
use crate::checks::{detail, expect_status, loop_body, tool_contents, uuid_like};
use crate::failure::{CaseResult, Failure, ensure, ensure_eq, excerpt};
use crate::features::Feature;
use crate::target::Ctx;

const LOOP: &[Feature] = &[Feature::ProviderFake, Feature::LocalTools];

/// The history budget the contract gives pruning, in characters.
const CHAR_BUDGET: usize = 16_000;

pub const CASES: &[Case] = &[
    Case::new(
        "loop.reply.message_null_is_502",
        Profile::Core,
        Level::Recommended,
        "§2.3 a reply that is not a chat completion is a provider failure (502)",
        "a provider reply whose choices[0].message is null ends the run with 502 naming the provider",
        |ctx| Box::pin(not_a_completion(ctx, Value::Null)),
    )
    .needs(LOOP),
    Case::new(
        "loop.reply.content_number_is_502",
        Profile::Core,
        Level::Recommended,
        "§2.3 content neither string, list nor null is a provider failure (502)",
        "a provider reply whose content is a number ends the run with 502 naming the provider",
        |ctx| Box::pin(not_a_completion(ctx, json!({"role": "assistant", "content": 42}))),
    )
    .needs(LOOP),
    Case::new(
        "loop.tools_disabled.calls_not_run",
        Profile::Core,
        Level::Recommended,
        "§2.3 when tools were not offered, tool calls are answered `error: tools are disabled`, not run",
        "with use_tools:false a tool call of the model gets `error: tools are disabled` and does not run",
        |ctx| Box::pin(tools_disabled(ctx)),
    )
    .needs(LOOP),
    Case::new(
        "loop.prune.long_user_message_is_cut",
        Profile::Core,
        Level::Recommended,
        "§2.2 the latest user message is always kept, cut with `[… N characters omitted …]`",
        "a single 20 000-character user message reaches the model cut in the middle with a marker",
        |ctx| Box::pin(long_user_message(ctx)),
    )
    .needs(LOOP),
];

/// A model whose one reply has `message` as its `choices[0].message`.
async fn not_a_completion(ctx: &Ctx, message: Value) -> CaseResult {
    let raw = json!({
        "id": "chatcmpl-malformed", "object": "chat.completion", "created": 1_700_000_000, "model": "fake-loop",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]
    });
    let reply = ctx.post_json("/agent/run", &loop_body(&json!([{"raw": raw}]), &json!({}))).await?;
    expect_status(&reply, 502, &format!("a provider reply with choices[0].message = {message}"))?;
    let d = detail(&reply)?;
    ensure!(d.contains("openai"), "the detail should name the provider (`openai`): {d}");
    Ok(())
}

async fn tools_disabled(ctx: &Ctx) -> CaseResult {
    // The printed text is assembled at run time, so it appears nowhere unless the code ran.
    let (head, tail) = (uuid_like(), "tool-ran");
    let code = format!("print('{head}' + '-{tail}')");
    let script = json!([
        {"tool_calls": [{"name": "exec_python", "arguments": {"code": code}}]},
        {"content": "done without tools"}
    ]);
    let reply = ctx.post_json("/agent/run", &loop_body(&script, &json!({"use_tools": false}))).await?;
    expect_status(&reply, 200, "POST /agent/run (local, use_tools:false)")?;
    ensure!(
        !reply.text().contains(&format!("{head}-{tail}")),
        "the tool ran: its output is in {}",
        excerpt(&reply.text())
    );
    let env = reply.json()?;
    ensure_eq!(tool_contents(&env), vec!["error: tools are disabled".to_owned()], "tool messages");
    ensure_eq!(env["final_answer"], json!("done without tools"), "final_answer");
    Ok(())
}

async fn long_user_message(ctx: &Ctx) -> CaseResult {
    let (start, end) = (format!("START-{}", uuid_like()), format!("END-{}", uuid_like()));
    let text = format!("{start} {} {end}", "x".repeat(20_000));
    let body = json!({
        "model": "openai/fake-prune", "tool_backend": "local",
        "messages": [{"role": "user", "content": text}],
    });
    let reply = ctx.post_json("/agent/run", &body).await?;
    expect_status(&reply, 200, "POST /agent/run with a 20 000-character message")?;
    let seen = ctx.fakes()?.provider.requests_containing(&start).await;
    ensure!(!seen.is_empty(), "no model call carried the start of the user message: it was dropped");
    for request in &seen {
        let last_user = request["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .rev()
            .find(|m| m["role"] == "user")
            .and_then(|m| m["content"].as_str())
            .ok_or_else(|| {
                Failure::failed(format!("a model call without a user message: {}", excerpt(&request.to_string())))
            })?;
        ensure!(
            last_user.starts_with(&start) && last_user.ends_with(&end),
            "the cut message should keep its start and its end: {}",
            excerpt(last_user)
        );
        let omitted = omitted_count(last_user).ok_or_else(|| {
            Failure::failed(format!("no `[… N characters omitted …]` marker in {}", excerpt(last_user)))
        })?;
        let chars = last_user.chars().count();
        ensure!(chars <= CHAR_BUDGET, "the cut message has {chars} characters, over the {CHAR_BUDGET} budget");
        ensure!(
            omitted >= text.chars().count() - CHAR_BUDGET,
            "the marker says only {omitted} characters were omitted"
        );
    }
    Ok(())
}

/// N of `[… N characters omitted …]`.
fn omitted_count(text: &str) -> Option<usize> {
    let after = &text[text.find("[… ")? + "[… ".len()..];
    let (n, rest) = after.split_once(' ')?;
    rest.starts_with("characters omitted …]").then(|| n.parse().ok()).flatten()
}
