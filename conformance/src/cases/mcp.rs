//! §4b EXT MCP tools: `tool_backend:"mcp"` against a real MCP server (the official Python SDK).
//! A target that refuses the backend as unknown lacks the extension: the case skips.

use serde_json::{Value, json};

use crate::case::{Case, Level, Profile};
use crate::checks::tool_contents;
use crate::failure::{CaseResult, Failure, ensure, ensure_eq, excerpt};
use crate::fakes::provider::script_marker;
use crate::features::Feature;
use crate::target::Ctx;

const NEEDS: &[Feature] = &[Feature::ProviderFake, Feature::Mcp];

pub const CASES: &[Case] = &[
    Case::new(
        "mcp.tools.roundtrip",
        Profile::Extended,
        Level::Required,
        "§4b EXT MCP tools",
        "a scripted call to an MCP tool round-trips through initialize/discover, tools/list and tools/call — required: \
         the official MCP Python SDK's server answers nothing before `initialize`: no MCP tool ever runs",
        |ctx| Box::pin(roundtrip(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "mcp.tools.is_error",
        Profile::Extended,
        Level::Recommended,
        "§4b EXT isError → ok:false",
        "an MCP result with isError:true is a failed invocation the model sees, and the loop goes on",
        |ctx| Box::pin(is_error(ctx)),
    )
    .needs(NEEDS),
];

async fn run(ctx: &Ctx, script: Value) -> Result<Value, Failure> {
    let server =
        ctx.fakes()?.mcp.as_ref().ok_or_else(|| Failure::failed("the suite has no MCP server (give --mcp-python)"))?;
    let body = json!({
        "model": "openai/fake-mcp", "tool_backend": "mcp", "tool_mcp_url": server.url(),
        "messages": [{"role": "user", "content": format!("task {}", script_marker(&script))}],
    });
    let reply = ctx.post_json("/agent/run", &body).await?;
    if reply.status == 400 && reply.text().contains("tool_backend") && !reply.text().contains("tool_mcp_url") {
        return Err(Failure::unsupported(format!("it refuses tool_backend mcp: {}", excerpt(&reply.text()))));
    }
    ensure!(reply.status == 200, "POST /agent/run (mcp): HTTP {}: {}", reply.status, excerpt(&reply.text()));
    reply.json()
}

async fn roundtrip(ctx: &Ctx) -> CaseResult {
    let env = run(ctx, json!([{"tool_calls": [{"name": "add", "arguments": {"a": 40, "b": 2}}]}])).await?;
    ensure_eq!(tool_contents(&env), vec!["42".to_owned()], "tool messages ({})", excerpt(&env.to_string()));
    ensure_eq!(env["final_answer"], json!("42"), "final_answer");
    Ok(())
}

async fn is_error(ctx: &Ctx) -> CaseResult {
    let env = run(
        ctx,
        json!([{"tool_calls": [{"name": "fail", "arguments": {"reason": "mcp-boom"}}]}, {"content": "recovered"}]),
    )
    .await?;
    let contents = tool_contents(&env);
    ensure!(
        contents.first().is_some_and(|c| c.starts_with("error:") && c.contains("mcp-boom")),
        "the failure should reach the model: {contents:?}"
    );
    ensure_eq!(env["final_answer"], json!("recovered"), "final_answer");
    Ok(())
}
