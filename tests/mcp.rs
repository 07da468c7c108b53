//! The MCP backend against **real** MCP servers: the official Python SDK, both generations —
//! mcp 1.x (the initialize handshake, SSE or JSON replies) and mcp 2.x (which also speaks the
//! stateless form of spec 2026-07-28). The servers come from `make py-venvs`
//! (`target/py-venvs/mcp-v{1,2}`, or `MCP_V1_PYTHON` / `MCP_V2_PYTHON`). Without them the tests are
//! reported as ignored with that advice (libtest-mimic), unless `MINIAGENT_REQUIRE_PY_PEERS=1` (set
//! by CI), which makes a missing server a failure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;

use assert_cmd::cargo::cargo_bin;
use common::{or_ignore, trial};
use conformance::fakes::provider::script_marker;
use harness::{ServerProcess, free_port};
use libtest_mimic::Completion;
use serde_json::{Value, json};

fn python(generation: &str) -> Result<PathBuf, String> {
    harness::python_peer(&format!("mcp-{generation}"), &format!("MCP_{}_PYTHON", generation.to_uppercase()))
}

fn start_mcp(python: &std::path::Path, flags: &[&str]) -> ServerProcess {
    start_mcp_on(python, free_port().unwrap(), flags)
}

fn start_mcp_on(python: &std::path::Path, port: u16, flags: &[&str]) -> ServerProcess {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/mcp/server.py");
    let port_text = port.to_string();
    let mut args = vec![script, port_text.as_str()];
    args.extend_from_slice(flags);
    let ready = move |line: &str| line.contains("Uvicorn running on").then(|| SocketAddr::from(([127, 0, 0, 1], port)));
    ServerProcess::start_with(python, &args, &[], &ready).expect("the MCP server starts")
}

async fn run(server: &ServerProcess, mcp: &ServerProcess, script: Value) -> Value {
    run_at(server, &format!("{}/mcp", mcp.base_url()), script).await
}

async fn run_at(server: &ServerProcess, url: &str, script: Value) -> Value {
    let body = json!({
        "model": "openai/scripted", "tool_backend": "mcp", "tool_mcp_url": url,
        "tool_http_headers": {"Authorization": "Bearer mcp-token"},
        "messages": [{"role": "user", "content": script_marker(&script)}],
    });
    let res = harness::http_client().post(format!("{}/agent/run", server.base_url())).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn check_generation(generation: &str, flags: &[&str], expected_protocol: &str) -> Completion {
    let py = or_ignore!(python(generation));
    let mcp = start_mcp(&py, flags);
    let fakes = conformance::fakes::Fakes::start(Default::default()).await.unwrap();
    let base = fakes.provider.base_url();
    let server =
        ServerProcess::start(&cargo_bin("miniagent"), &["serve", "--port", "0"], &[("OPENAI_API_BASE", base.as_str())])
            .unwrap();

    // A round trip: the model calls echo, the MCP server answers, the text is the answer.
    let env =
        run(&server, &mcp, json!([{"tool_calls": [{"name": "echo", "arguments": {"text": "mcp-roundtrip"}}]}])).await;
    assert_eq!(env["final_answer"], json!("mcp-roundtrip"), "{generation} {flags:?}: {env}");
    let inv = &env["last_tool_invocation"];
    assert_eq!(inv["ok"], json!(true));
    assert_eq!(inv["mcp_protocol_version"], json!(expected_protocol), "{generation} {flags:?}: {inv}");

    // isError → ok:false with the server's text; the loop goes on.
    let script = json!([{"tool_calls": [{"name": "fail", "arguments": {"reason": "boom"}}]}, {"content": "handled"}]);
    let env = run(&server, &mcp, script).await;
    assert_eq!(env["final_answer"], json!("handled"), "{env}");
    let tool = env["messages"].as_array().unwrap().iter().find(|m| m["role"] == "tool").unwrap();
    let content = tool["content"].as_str().unwrap();
    assert!(content.starts_with("error:") && content.contains("boom"), "{content}");
    Completion::Completed
}

async fn mcp_v1_handshake_with_sse_replies() -> Completion {
    check_generation("v1", &[], "2025-11-25").await
}

async fn mcp_v1_handshake_with_json_replies() -> Completion {
    check_generation("v1", &["--json"], "2025-11-25").await
}

async fn mcp_v2_stateless_form() -> Completion {
    check_generation("v2", &[], "2026-07-28").await
}

async fn mcp_v2_stateless_form_with_a_stateless_server() -> Completion {
    check_generation("v2", &["--stateless"], "2026-07-28").await
}

async fn an_expired_session_starts_over() -> Completion {
    // The MCP server restarts between two tool calls of one run: the old session id now gets a 404,
    // and the client must open a new session rather than fail the call.
    let py = or_ignore!(python("v1"));
    let port = free_port().unwrap();
    let mcp = start_mcp_on(&py, port, &[]);
    let fakes = conformance::fakes::Fakes::start(Default::default()).await.unwrap();
    let base = fakes.provider.base_url();
    let server =
        ServerProcess::start(&cargo_bin("miniagent"), &["serve", "--port", "0"], &[("OPENAI_API_BASE", base.as_str())])
            .unwrap();
    // A failed first call (a bad argument) keeps the loop going; the second call comes after the
    // restart (the model "thinks" for 4 s).
    let script = json!([
        {"tool_calls": [{"name": "add", "arguments": {"a": "not a number", "b": 1}}]},
        {"delay_ms": 4000, "tool_calls": [{"name": "echo", "arguments": {"text": "after restart"}}]}
    ]);
    let url = format!("{}/mcp", mcp.base_url());
    let run = tokio::spawn({
        let server_url = server.base_url();
        async move {
            let body = json!({
                "model": "openai/scripted", "tool_backend": "mcp", "tool_mcp_url": url,
                "messages": [{"role": "user", "content": script_marker(&script)}],
            });
            harness::http_client()
                .post(format!("{server_url}/agent/run"))
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    drop(mcp);
    let _restarted = start_mcp_on(&py, port, &[]);
    let env = run.await.unwrap();
    assert_eq!(env["final_answer"], json!("after restart"), "{env}");
    assert_eq!(env["metrics"]["iterations"], json!(2));
    Completion::Completed
}

async fn a_307_redirect_on_post_is_followed() -> Completion {
    // The SDK's servers answer `POST /mcp/` with a 307 to `/mcp`.
    let py = or_ignore!(python("v1"));
    let mcp = start_mcp(&py, &[]);
    let fakes = conformance::fakes::Fakes::start(Default::default()).await.unwrap();
    let base = fakes.provider.base_url();
    let server =
        ServerProcess::start(&cargo_bin("miniagent"), &["serve", "--port", "0"], &[("OPENAI_API_BASE", base.as_str())])
            .unwrap();
    let script = json!([{"tool_calls": [{"name": "echo", "arguments": {"text": "redirected"}}]}]);
    let env = run_at(&server, &format!("{}/mcp/", mcp.base_url()), script).await;
    assert_eq!(env["final_answer"], json!("redirected"), "{env}");
    Completion::Completed
}

async fn an_unreachable_mcp_server_is_a_tool_error_not_a_crash() -> Completion {
    let fakes = conformance::fakes::Fakes::start(Default::default()).await.unwrap();
    let base = fakes.provider.base_url();
    let server =
        ServerProcess::start(&cargo_bin("miniagent"), &["serve", "--port", "0"], &[("OPENAI_API_BASE", base.as_str())])
            .unwrap();
    let port = free_port().unwrap();
    let body = json!({
        "model": "openai/scripted", "tool_backend": "mcp", "tool_mcp_url": format!("http://127.0.0.1:{port}/mcp"),
        "messages": [{"role": "user", "content": script_marker(&json!([{"tool_calls": [{"name": "echo", "arguments": {"text": "x"}}]}, {"content": "no server"}]))}],
    });
    let env: Value = common::post_json(format!("{}/agent/run", server.base_url()), &body).await.1;
    assert_eq!(env["final_answer"], json!("no server"), "{env}");
    let tool = env["messages"].as_array().unwrap().iter().find(|m| m["role"] == "tool").unwrap();
    assert!(
        tool["content"].as_str().unwrap().starts_with("error: unsupported tool 'echo' (the tools could not be listed"),
        "{tool}"
    );
    Completion::Completed
}

fn main() {
    common::run_trials(vec![
        trial("mcp_v1_handshake_with_sse_replies", mcp_v1_handshake_with_sse_replies),
        trial("mcp_v1_handshake_with_json_replies", mcp_v1_handshake_with_json_replies),
        trial("mcp_v2_stateless_form", mcp_v2_stateless_form),
        trial("mcp_v2_stateless_form_with_a_stateless_server", mcp_v2_stateless_form_with_a_stateless_server),
        trial("an_expired_session_starts_over", an_expired_session_starts_over),
        trial("a_307_redirect_on_post_is_followed", a_307_redirect_on_post_is_followed),
        trial(
            "an_unreachable_mcp_server_is_a_tool_error_not_a_crash",
            an_unreachable_mcp_server_is_a_tool_error_not_a_crash,
        ),
    ])
}
