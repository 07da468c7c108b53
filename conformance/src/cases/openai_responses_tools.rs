//! §1 EXT `POST /v1/responses` (profile `openai`, turn 3): the tools a coding agent offers, bridged
//! onto a chat provider — a `namespace` flattened into function tools with its calls returned inside
//! the namespace, a `custom` tool and the `local_shell` / `shell` tools as functions whose calls
//! come back as their own item kinds, and hosted tools (`web_search`, `file_search`, remote `mcp`)
//! left out with an `x-miniagent-warnings` header — or refused, when the target is set to.
//!
//! The provider is the fake's `auto-…` model, which calls the first function it is offered (or, for
//! a shell tool, runs the command the user asked for), so the cases hold the gateway to what it
//! offered, never to a flattened name of this suite's choosing. A gateway that passes
//! `/v1/responses` through to the provider's own `/responses` is held to the same calls coming
//! back, and to the tools going up as the client sent them (the fake's `/responses` takes every tool
//! type, as OpenAI's does).

use serde_json::{Value, json};

use super::openai_responses::{items, message_text, respond};
use crate::case::{Case, Level, Profile};
use crate::checks::{expect_status, openai_error, uuid_like};
use crate::failure::{CaseResult, Failure, ensure, ensure_eq};
use crate::fakes::openai_upstream::{Received, received_containing};
use crate::features::Feature;
use crate::target::Ctx;

const TOOLS: &str = "§1 EXT POST /v1/responses (turn 3) — namespace, custom, local_shell and shell tools carried";
const HOSTED: &str = "§1 EXT POST /v1/responses (turn 3) — hosted tools left out with x-miniagent-warnings, or refused";
/// The fake's model that answers from the request's shape.
pub(super) const AUTO: &str = "openai/auto-responses";
const NEEDS: &[Feature] = &[Feature::OpenaiProxy];
const NEEDS_REJECT: &[Feature] = &[Feature::OpenaiProxy, Feature::ResponsesHostedReject];

pub const CASES: &[Case] = &[
    Case::new(
        "openai.responses.namespace_tools",
        Profile::Openai,
        Level::Required,
        TOOLS,
        "a namespace's functions reach the provider as function tools; a call comes back as a function_call with \
         `namespace` and the inner name, and goes up again under the name offered — required: the Codex CLI's default \
         request offers the `multi_agent_v1` namespace: its calls must come back under the namespace or Codex cannot \
         dispatch them",
        |ctx| Box::pin(namespace_tools(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.responses.custom_tool",
        Profile::Openai,
        Level::Required,
        TOOLS,
        "a custom tool reaches the provider as a function; its call comes back as a custom_tool_call with `input`, and \
         its output goes up as a tool message — required: the Codex CLI's `apply_patch` is a custom tool: its call must \
         come back as `custom_tool_call` with `input` or Codex cannot edit files",
        |ctx| Box::pin(custom_tool(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.responses.shell_tools",
        Profile::Openai,
        Level::Required,
        TOOLS,
        "local_shell and shell reach the provider as functions; their calls come back as local_shell_call (action \
         exec, command) and shell_call (action commands) — required: the Codex CLI runs commands through \
         `local_shell`/`shell`: their calls must come back as `local_shell_call`/`shell_call` or no command runs",
        |ctx| Box::pin(shell_tools(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.responses.hosted_tools_dropped",
        Profile::Openai,
        Level::Recommended,
        HOSTED,
        "web_search, file_search and remote mcp are left out of the provider's request, named in x-miniagent-warnings; \
         the answer is 200, streamed or not",
        |ctx| Box::pin(hosted_dropped(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "openai.responses.hosted_tools_rejected",
        Profile::Openai,
        Level::Recommended,
        HOSTED,
        "with MINI_AGENT_RESPONSES_HOSTED_TOOLS=reject a hosted tool is a 400 naming it, and nothing reaches the \
         provider",
        |ctx| Box::pin(hosted_rejected(ctx)),
    )
    .needs(NEEDS_REJECT),
];

/// The one request the provider received for `marker`, and its tools.
async fn requests(ctx: &Ctx, marker: &str, count: usize) -> Result<Vec<Received>, Failure> {
    let got = received_containing(ctx.fakes()?.provider.server(), marker).await;
    ensure_eq!(got.len(), count, "requests the provider received");
    Ok(got)
}

fn function_names(request: &Received) -> Vec<String> {
    request.body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.pointer("/function/name").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

async fn ok_json(ctx: &Ctx, body: &Value, what: &str) -> Result<Value, Failure> {
    let reply = respond(ctx, body).await?;
    expect_status(&reply, 200, what)?;
    reply.json()
}

async fn namespace_tools(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let params = json!({"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]});
    let namespace = json!({"type": "namespace", "name": "crm", "description": "Customer records", "tools": [
        {"type": "function", "name": "get_customer", "description": "Look a customer up", "parameters": params},
        {"type": "function", "name": "list_orders", "parameters": {"type": "object", "properties": {}}}]});
    let question = json!({"role": "user", "content": format!("{marker} who is customer 7?")});
    let first =
        ok_json(ctx, &json!({"model": AUTO, "input": [question], "tools": [namespace]}), "the first turn").await?;
    let calls = items(&first, "function_call");
    ensure_eq!(calls.len(), 1, "function_call items");
    let call = calls[0].clone();
    ensure_eq!(
        (call["name"].as_str(), call["namespace"].as_str(), call["arguments"].as_str()),
        (Some("get_customer"), Some("crm"), Some("{\"id\":\"Paris\"}")),
        "the call (name, namespace, arguments)"
    );
    let got = requests(ctx, &marker, 1).await?;
    // Passed through to the provider's own /responses, the namespace goes up as it is; bridged onto
    // chat, as distinct function tools.
    let through = passed_through(&got[0]);
    let names = if through {
        ensure_eq!(got[0].body["tools"], json!([namespace]), "the namespace the provider's /responses received");
        Vec::new()
    } else {
        let names = function_names(&got[0]);
        ensure!(names.len() == 2 && names[0] != names[1], "two distinct function tools upstream, got {names:?}");
        ensure!(names[0].contains("get_customer") && names[1].contains("list_orders"), "flattened names {names:?}");
        ensure_eq!(got[0].body["tools"][0]["function"]["parameters"], params, "the inner function's parameters");
        names
    };
    let output = json!({"type": "function_call_output", "call_id": call["call_id"], "output": "Ada"});
    let second = json!({"model": AUTO, "input": [question, call, output], "tools": [namespace]});
    ensure_eq!(
        message_text(&ok_json(ctx, &second, "the second turn").await?),
        "Final answer: Ada".to_owned(),
        "answer"
    );
    let got = requests(ctx, &marker, 2).await?;
    if through {
        let input = got[1].body["input"].as_array().cloned().unwrap_or_default();
        let upstream_call = input.iter().find(|i| i["type"] == "function_call").cloned().unwrap_or_default();
        ensure_eq!(
            (upstream_call["namespace"].as_str(), upstream_call["name"].as_str()),
            (Some("crm"), Some("get_customer")),
            "the replayed call's namespace and name, as offered"
        );
        let upstream_output = input.iter().find(|i| i["type"] == "function_call_output").cloned().unwrap_or_default();
        ensure_eq!(upstream_output["output"], json!("Ada"), "the tool output upstream");
        return Ok(());
    }
    let messages = got[1].body["messages"].as_array().cloned().unwrap_or_default();
    let upstream_call = messages.iter().find_map(|m| m.pointer("/tool_calls/0/function/name").cloned());
    ensure_eq!(upstream_call, Some(json!(names[0])), "the replayed call's name, as offered");
    ensure_eq!(messages.last().map(|m| m["content"].clone()), Some(json!("Ada")), "the tool output upstream");
    Ok(())
}

/// Whether the gateway passed the request through to the provider's own `/responses` (rather
/// than bridging it onto chat completions).
fn passed_through(request: &Received) -> bool {
    request.path.ends_with("/responses")
}

async fn custom_tool(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let tool = json!({"type": "custom", "name": "apply_patch", "description": "Apply a patch",
        "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}});
    let question = json!({"role": "user", "content": format!("{marker} patch it")});
    let first = ok_json(ctx, &json!({"model": AUTO, "input": [question], "tools": [tool]}), "the first turn").await?;
    let calls = items(&first, "custom_tool_call");
    ensure_eq!(calls.len(), 1, "custom_tool_call items in {first}");
    let call = calls[0].clone();
    ensure_eq!((call["name"].as_str(), call["input"].as_str()), (Some("apply_patch"), Some("Paris")), "name, input");
    let got = requests(ctx, &marker, 1).await?;
    let upstream = &got[0].body["tools"][0];
    if passed_through(&got[0]) {
        ensure_eq!(
            (upstream["type"].as_str(), upstream["name"].as_str()),
            (Some("custom"), Some("apply_patch")),
            "the custom tool the provider's /responses received"
        );
    } else {
        ensure_eq!(upstream["type"].as_str(), Some("function"), "the custom tool upstream");
    }
    let output = json!({"type": "custom_tool_call_output", "call_id": call["call_id"], "output": "patched"});
    let second = json!({"model": AUTO, "input": [question, call, output], "tools": [tool]});
    ensure_eq!(
        message_text(&ok_json(ctx, &second, "the second turn").await?),
        "Final answer: patched".to_owned(),
        "answer"
    );
    Ok(())
}

async fn shell_tools(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let ask = |tool: &str| {
        json!({"model": AUTO, "tools": [{"type": tool}],
               "input": [{"role": "user", "content": format!("{marker} please run `echo 42`")}]})
    };
    let local = ok_json(ctx, &ask("local_shell"), "local_shell").await?;
    let calls = items(&local, "local_shell_call");
    ensure_eq!(calls.len(), 1, "local_shell_call items in {local}");
    ensure_eq!(calls[0]["action"]["type"].as_str(), Some("exec"), "local_shell_call.action.type");
    ensure_eq!(calls[0]["action"]["command"], json!(["bash", "-lc", "echo 42"]), "local_shell_call.action.command");
    let shell = ok_json(ctx, &ask("shell"), "shell").await?;
    let calls = items(&shell, "shell_call");
    ensure_eq!(calls.len(), 1, "shell_call items in {shell}");
    ensure_eq!(calls[0]["action"]["commands"], json!(["echo 42"]), "shell_call.action.commands");
    let got = requests(ctx, &marker, 2).await?;
    for (request, tool) in got.iter().zip(["local_shell", "shell"]) {
        let kind = request.body["tools"][0]["type"].as_str();
        if passed_through(request) {
            ensure_eq!(kind, Some(tool), "{tool} as the provider's /responses received it");
        } else {
            ensure_eq!(kind, Some("function"), "{tool} goes up as a function");
        }
    }
    Ok(())
}

async fn hosted_dropped(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let tools = json!([
        {"type": "web_search"},
        {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
        {"type": "file_search", "vector_store_ids": ["vs_1"]},
        {"type": "mcp", "server_label": "docs", "server_url": "https://mcp.example.com/mcp"}
    ]);
    for stream in [false, true] {
        let body = json!({"model": AUTO, "input": format!("{marker} weather?"), "tools": tools, "stream": stream});
        let reply = respond(ctx, &body).await?;
        expect_status(&reply, 200, "a request offering hosted tools")?;
        let header = reply.headers.get("x-miniagent-warnings").and_then(|v| v.to_str().ok()).unwrap_or_default();
        for want in
            ["dropped:tools[0].type=web_search", "dropped:tools[2].type=file_search", "dropped:tools[3].type=mcp"]
        {
            ensure!(header.split(',').any(|w| w == want), "x-miniagent-warnings should list `{want}`, got `{header}`");
        }
    }
    let got = requests(ctx, &marker, 2).await?;
    for request in &got {
        ensure_eq!(function_names(request), vec!["get_weather".to_owned()], "the tools the provider received");
    }
    Ok(())
}

async fn hosted_rejected(ctx: &Ctx) -> CaseResult {
    let marker = uuid_like();
    let body = json!({"model": AUTO, "input": format!("{marker} hi"), "tools": [{"type": "web_search"}]});
    let reply = respond(ctx, &body).await?;
    let error = openai_error(&reply, 400, "a hosted tool under reject")?;
    let named = error["param"].as_str().is_some_and(|p| p.starts_with("tools[0]"))
        || error["message"].as_str().is_some_and(|m| m.contains("tools[0]"));
    ensure!(named, "the error should name tools[0], got {error}");
    requests(ctx, &marker, 0).await.map(|_| ())
}
