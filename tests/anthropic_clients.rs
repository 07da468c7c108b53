//! Anthropic's own clients through the real `miniagent serve` (CONTRACT §1 "The Anthropic surface",
//! §5 `anthropic/`): the official `anthropic` Python SDK (`fixtures/python/check_anthropic.py`, venv
//! `anthropic`) and Claude Code itself (the `claude` binary bundled in `claude-agent-sdk`, venv
//! `claude`), both pinned in `fixtures/python/requirements-*.txt` (`make py-venvs`).
//!
//! Behind the server are the suite's fakes on loopback: the Anthropic upstream fake
//! (`anthropic/claude-fake`, native: the body goes up as it is) and the OpenAI-wire provider fake
//! (`auto-…` models, bridged onto chat completions). Both answer from the request's shape: a plain
//! prompt gets `Hello from fake`; a coding agent's ``run `echo 42` `` gets one call of its shell tool
//! (Claude Code's `Bash`), then `Final answer: <the tool output>`. Claude Code runs unmodified with
//! `ANTHROPIC_BASE_URL` at the server, `HOME` in a temporary directory, telemetry, update checks and
//! non-essential traffic off, any other connection sent to a proxy that does not exist (loopback
//! only), every run bounded in time (killed on timeout). A missing venv is an
//! ignored test with the reason (a failure under `MINIAGENT_REQUIRE_PY_PEERS=1`).
//!
//! The rest need no peer: the `conformance` binary's `anthropic` profile against the server; a
//! router group mixing an `anthropic/` and an OpenAI-wire deployment (a failing one skipped for the
//! other, on `/v1/chat/completions` and `/v1/messages`); how `claude-…` names resolve; `thinking`
//! dropped or refused; and a provider that reflects the Anthropic key it was sent (the key never
//! reaches the client).
#![allow(clippy::disallowed_methods, reason = "tests start real programs and read their own settings")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin;
use common::{or_ignore, trial};
use conformance::fakes::anthropic::FAKE_KEY;
use conformance::fakes::openai_upstream::{Received, received_containing};
use conformance::fakes::{AnthropicFake, ProviderFake};
use harness::ServerProcess;
use libtest_mimic::Completion;
use serde_json::Value;

/// The key the server sends the OpenAI-wire fake.
const UPSTREAM_KEY: &str = "sk-upstream-anthropic-clients";
/// The clients' key: one of the server's API keys (the SDK sends it as `x-api-key`, Claude Code as
/// `Authorization: Bearer`).
const CLIENT_KEY: &str = "sk-client-anthropic";
/// How long one client run may take (the first Claude Code start is the slowest).
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

struct Stack {
    openai: ProviderFake,
    anthropic: AnthropicFake,
    server: ServerProcess,
}

/// The server with both fakes as providers and the client key required; `extra` on top.
async fn stack(extra: &[(&str, &str)]) -> Stack {
    let openai = ProviderFake::start(None).await.unwrap();
    let anthropic = AnthropicFake::start(None).await.unwrap();
    let (obase, abase) = (openai.base_url(), anthropic.base_url());
    let mut env = vec![
        ("OPENAI_API_BASE", obase.as_str()),
        ("OPENAI_API_KEY", UPSTREAM_KEY),
        ("ANTHROPIC_API_BASE", abase.as_str()),
        ("ANTHROPIC_API_KEY", FAKE_KEY),
        ("MINI_AGENT_API_KEYS", CLIENT_KEY),
    ];
    env.extend_from_slice(extra);
    let server = ServerProcess::start(&cargo_bin("miniagent"), &["serve", "--port", "0"], &env).unwrap();
    Stack { openai, anthropic, server }
}

async fn check_sdk(python: &Path, base: &str, model: &str, err_model: &str) -> String {
    let script: PathBuf = [env!("CARGO_MANIFEST_DIR"), "fixtures/python/check_anthropic.py"].iter().collect();
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg(&script)
        .args([base, model, err_model])
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("ANTHROPIC_BASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = tokio::time::timeout(RUN_TIMEOUT, cmd.output()).await.expect("the SDK script timed out").unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "check_anthropic.py {model} failed:\n{stdout}\n{stderr}");
    for check in ["messages.create", "messages.stream", "tool round trip", "image", "RateLimitError", "count_tokens"] {
        assert!(
            stdout.lines().any(|l| l == format!("ok: {check}")),
            "missing `ok: {check}` for {model}:\n{stdout}\n{stderr}"
        );
    }
    stdout.into_owned()
}

fn no_key_in(logs: &[String]) {
    for line in logs {
        assert!(
            !line.contains(CLIENT_KEY) && !line.contains(UPSTREAM_KEY) && !line.contains(FAKE_KEY),
            "a key in the log: {line}"
        );
    }
}

/// The SDK against an `anthropic/` model: native, the fake received the SDK's body with the
/// server's key and version header.
async fn the_anthropic_sdk_native() -> Completion {
    let python = or_ignore!(harness::python_peer("anthropic", "ANTHROPIC_CLIENT_PYTHON"));
    let s = stack(&[]).await;
    check_sdk(&python, &s.server.base_url(), "anthropic/claude-fake", "anthropic/claude-err429").await;
    let image = received_containing(s.anthropic.server(), "image-check").await;
    assert_eq!(image.len(), 1);
    assert_eq!(image[0].path, "/v1/messages");
    assert_eq!(image[0].header("x-api-key"), Some(FAKE_KEY), "the server's key, never the client's");
    assert_eq!(image[0].header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(image[0].body["model"], "claude-fake", "the provider prefix is not sent");
    assert_eq!(image[0].body["messages"][0]["content"][0]["source"]["media_type"], "image/png");
    assert_eq!(received_containing(s.anthropic.server(), "claude-err429").await.len(), 1, "a 429 is not retried");
    assert!(received_containing(s.openai.server(), "Say hello").await.is_empty());
    no_key_in(&s.server.drain_logs());
    Completion::Completed
}

/// The SDK against an OpenAI-wire model: bridged onto chat completions.
async fn the_anthropic_sdk_bridged() -> Completion {
    let python = or_ignore!(harness::python_peer("anthropic", "ANTHROPIC_CLIENT_PYTHON"));
    let s = stack(&[]).await;
    check_sdk(&python, &s.server.base_url(), "auto-model", "auto-err429").await;
    let image = received_containing(s.openai.server(), "image-check").await;
    assert_eq!(image.len(), 1);
    assert!(image[0].path.ends_with("/chat/completions"), "{}", image[0].path);
    let part = &image[0].body["messages"][0]["content"][0];
    assert_eq!(part["type"], "image_url");
    assert!(part["image_url"]["url"].as_str().unwrap_or_default().starts_with("data:image/png;base64,"), "{part}");
    let results = received_containing(s.openai.server(), "sunny").await;
    let tool = results[0].body["messages"].as_array().unwrap().iter().find(|m| m["role"] == "tool").cloned();
    assert_eq!(tool.map(|t| t["content"].clone()), Some(Value::from("sunny")), "the tool_result as a tool message");
    let system = received_containing(s.openai.server(), "Be brief.").await;
    assert_eq!(system[0].body["messages"][0], serde_json::json!({"role": "system", "content": "Be brief."}));
    assert!(received_containing(s.anthropic.server(), "Say hello").await.is_empty());
    no_key_in(&s.server.drain_logs());
    Completion::Completed
}

/// Claude Code in print mode: its JSON result, after asserting it succeeded in time.
async fn claude(bin: &Path, base: &str, model: Option<&str>, prompt: &str) -> Value {
    let home = tempfile::tempdir().unwrap();
    let work = home.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(["-p", prompt, "--output-format", "json", "--allowedTools", "Bash(echo:*)"])
        .env_clear()
        .envs([
            ("PATH", "/usr/local/bin:/usr/bin:/bin"),
            ("HOME", &home.path().display().to_string()),
            ("LANG", "C.UTF-8"),
            ("ANTHROPIC_BASE_URL", base),
            ("ANTHROPIC_AUTH_TOKEN", CLIENT_KEY),
            ("DISABLE_TELEMETRY", "1"),
            ("DISABLE_AUTOUPDATER", "1"),
            ("DISABLE_ERROR_REPORTING", "1"),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            // Loopback only: any other connection goes to a proxy that is not there (port 9, discard).
            ("HTTPS_PROXY", "http://127.0.0.1:9"),
            ("HTTP_PROXY", "http://127.0.0.1:9"),
            ("NO_PROXY", "127.0.0.1,localhost"),
        ])
        .current_dir(&work)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(model) = model {
        cmd.env("ANTHROPIC_MODEL", model);
    }
    let started = Instant::now();
    let out = tokio::time::timeout(RUN_TIMEOUT, cmd.output()).await.expect("claude did not finish in time").unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("claude -p: {:.1} s", started.elapsed().as_secs_f64());
    assert!(out.status.success(), "claude failed ({}):\n{stdout}\n{stderr}", out.status);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}\n{stderr}"))
}

/// `claude -p "say hello"` on an OpenAI-wire model named by `MINI_AGENT_ANTHROPIC_DEFAULT_MODEL`
/// (Claude Code is told no model: it sends its own `claude-…` names).
async fn claude_code_says_hello_bridged() -> Completion {
    let bin = or_ignore!(harness::claude_code());
    let s = stack(&[("MINI_AGENT_ANTHROPIC_DEFAULT_MODEL", "openai/auto-claude")]).await;
    let marker = format!("hello-{}", harness::unique());
    let result = claude(&bin, &s.server.base_url(), None, &format!("say hello ({marker})")).await;
    assert_eq!(result["result"], "Hello from fake", "{result:#}");
    let got = received_containing(s.openai.server(), &marker).await;
    assert!(!got.is_empty(), "the turn reached the bridged provider");
    assert!(got.iter().all(|r| r.body["model"] == "auto-claude" && r.path.ends_with("/chat/completions")));
    no_key_in(&s.server.drain_logs());
    Completion::Completed
}

/// The scripted model asks Claude Code for `echo 42`; Claude Code runs it and the output reaches
/// the model, which answers with it. `check` reads what the provider fake received.
async fn shell_turn(bin: &Path, base: &str, model: Option<&str>) -> (String, String) {
    let marker = format!("shell-{}", harness::unique());
    let result =
        claude(bin, base, model, &format!("Please run `echo 42` and tell me what it printed. ({marker})")).await;
    let answer = result["result"].as_str().unwrap_or_default().to_owned();
    assert!(answer.starts_with("Final answer:") && answer.contains("42"), "{result:#}");
    (marker, answer)
}

async fn claude_code_runs_a_shell_command_bridged() -> Completion {
    let bin = or_ignore!(harness::claude_code());
    let s = stack(&[]).await;
    let (marker, _) = shell_turn(&bin, &s.server.base_url(), Some("auto-claude")).await;
    let got: Vec<Received> = received_containing(s.openai.server(), &marker).await;
    let last = got.last().expect("the model was called");
    let messages = last.body["messages"].as_array().cloned().unwrap_or_default();
    let call = messages.iter().find_map(|m| m["tool_calls"].get(0)).expect("the replayed Bash call");
    assert_eq!(call["function"]["name"], "Bash");
    let output = messages.iter().find(|m| m["role"] == "tool").expect("the tool result");
    assert!(output["content"].as_str().unwrap_or_default().contains("42"), "the output reached the model: {output}");
    no_key_in(&s.server.drain_logs());
    Completion::Completed
}

async fn claude_code_runs_a_shell_command_native() -> Completion {
    let bin = or_ignore!(harness::claude_code());
    let s = stack(&[]).await;
    let (marker, _) = shell_turn(&bin, &s.server.base_url(), Some("anthropic/claude-fake")).await;
    let got = received_containing(s.anthropic.server(), &marker).await;
    let last = got.last().expect("the model was called");
    assert_eq!(last.header("x-api-key"), Some(FAKE_KEY));
    let text = last.body["messages"].to_string();
    assert!(text.contains("tool_result") && text.contains("42"), "the tool result reached the model natively");
    no_key_in(&s.server.drain_logs());
    Completion::Completed
}

/// A router file with two groups mixing providers: `mixed` (an overloaded `anthropic/` deployment
/// first, an OpenAI-wire one second) and `mixed-healthy` (a healthy `anthropic/` one first).
const MIXED: &str = "model_list:
  - {model_name: mixed, litellm_params: {model: anthropic/claude-err529, order: 1}, model_info: {id: claude-first}}
  - {model_name: mixed, litellm_params: {model: openai/auto-mixed, order: 2}, model_info: {id: openai-second}}
  - {model_name: mixed-healthy, litellm_params: {model: anthropic/claude-mixed, order: 1}, model_info: {id: claude-healthy}}
  - {model_name: mixed-healthy, litellm_params: {model: openai/auto-mixed, order: 2}, model_info: {id: openai-spare}}
  - {model_name: claude-alias-4-5, litellm_params: {model: openai/auto-alias}, model_info: {id: alias-openai}}
";

async fn post(base: &str, path: &str, body: &Value) -> (u16, reqwest::header::HeaderMap, Value) {
    let res =
        harness::http_client().post(format!("{base}{path}")).bearer_auth(CLIENT_KEY).json(body).send().await.unwrap();
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    (status, headers, res.json().await.unwrap_or(Value::Null))
}

fn served_by(headers: &reqwest::header::HeaderMap) -> &str {
    headers.get("x-miniagent-deployment").and_then(|v| v.to_str().ok()).unwrap_or_default()
}

async fn a_router_group_mixes_providers() -> Completion {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("router.yaml");
    std::fs::write(&file, MIXED).unwrap();
    let s = stack(&[("MINI_AGENT_CONFIG", file.to_str().unwrap())]).await;
    let base = s.server.base_url();
    let chat = |marker: &str, model: &str| serde_json::json!({"model": model, "messages": [{"role": "user", "content": format!("Say hello ({marker})")}]});
    let message = |marker: &str, model: &str| serde_json::json!({"model": model, "max_tokens": 32, "messages": [{"role": "user", "content": format!("Say hello ({marker})")}]});
    for (path, body) in
        [("/v1/chat/completions", chat("mixed-chat", "mixed")), ("/v1/messages", message("mixed-messages", "mixed"))]
    {
        let (status, headers, answer) = post(&base, path, &body).await;
        assert_eq!(status, 200, "{path}: {answer}");
        assert_eq!(served_by(&headers), "openai-second", "{path}: the overloaded anthropic/ deployment is skipped");
        assert_eq!(headers.get("x-miniagent-attempts").and_then(|v| v.to_str().ok()), Some("2"), "{path}");
        assert!(answer.to_string().contains("Hello from fake"), "{path}: {answer}");
    }
    for marker in ["mixed-chat", "mixed-messages"] {
        assert_eq!(
            received_containing(s.anthropic.server(), marker).await.len(),
            1,
            "{marker}: one attempt at Anthropic"
        );
        assert_eq!(received_containing(s.openai.server(), marker).await.len(), 1, "{marker}: then the OpenAI-wire one");
    }
    for (path, body) in [
        ("/v1/chat/completions", chat("healthy-chat", "mixed-healthy")),
        ("/v1/messages", message("healthy-messages", "mixed-healthy")),
    ] {
        let (status, headers, answer) = post(&base, path, &body).await;
        assert_eq!((status, served_by(&headers)), (200, "claude-healthy"), "{path}: {answer}");
        assert!(answer.to_string().contains("Hello from fake"), "{path}: {answer}");
    }
    let got = received_containing(s.anthropic.server(), "healthy-messages").await;
    assert_eq!(got[0].body["model"], "claude-mixed", "a mixed group bridges, then the provider translates");
    assert!(received_containing(s.openai.server(), "healthy-").await.is_empty());
    Completion::Completed
}

/// Claude Code's `claude-…` names: an alias of the router file is used as any alias; an unknown
/// one goes to the configured Anthropic provider; with `MINI_AGENT_ANTHROPIC_DEFAULT_MODEL`, to it.
async fn claude_names_resolve() -> Completion {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("router.yaml");
    std::fs::write(&file, MIXED).unwrap();
    let body = |model: &str, marker: &str| serde_json::json!({"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": format!("hi ({marker})")}]});
    let s = stack(&[("MINI_AGENT_CONFIG", file.to_str().unwrap())]).await;
    let base = s.server.base_url();
    let (status, headers, answer) = post(&base, "/v1/messages", &body("claude-alias-4-5", "name-alias")).await;
    assert_eq!((status, served_by(&headers)), (200, "alias-openai"), "{answer}");
    assert_eq!(answer["model"], "claude-alias-4-5", "the name the client sent");
    let (status, _, answer) = post(&base, "/v1/messages", &body("claude-unknown-9", "name-unknown")).await;
    assert_eq!(status, 200, "{answer}");
    let got = received_containing(s.anthropic.server(), "name-unknown").await;
    assert_eq!(got.len(), 1, "an unknown claude-… name goes to the Anthropic provider");
    assert_eq!(got[0].body["model"], "claude-unknown-9");
    let s = stack(&[("MINI_AGENT_ANTHROPIC_DEFAULT_MODEL", "openai/auto-default")]).await;
    let (status, _, answer) =
        post(&s.server.base_url(), "/v1/messages", &body("claude-unknown-9", "name-default")).await;
    assert_eq!(status, 200, "{answer}");
    let got = received_containing(s.openai.server(), "name-default").await;
    assert_eq!(got.len(), 1, "MINI_AGENT_ANTHROPIC_DEFAULT_MODEL maps it");
    assert_eq!(got[0].body["model"], "auto-default");
    Completion::Completed
}

/// `thinking` on a bridged model: left out with a warning by default (Claude Code asks for it on
/// every turn), a 400 naming it under `MINI_AGENT_ANTHROPIC_THINKING=reject`.
async fn thinking_is_dropped_or_refused() -> Completion {
    let body = serde_json::json!({"model": "auto-model", "max_tokens": 64, "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [{"role": "user", "content": "hi (thinking-check)"}]});
    let s = stack(&[]).await;
    let (status, headers, answer) = post(&s.server.base_url(), "/v1/messages", &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(headers.get("x-miniagent-warnings").and_then(|v| v.to_str().ok()), Some("dropped:thinking"));
    let got = received_containing(s.openai.server(), "thinking-check").await;
    assert!(got[0].body.get("thinking").is_none(), "not sent to the chat provider: {}", got[0].body);
    let s = stack(&[("MINI_AGENT_ANTHROPIC_THINKING", "reject")]).await;
    let (status, _, answer) = post(&s.server.base_url(), "/v1/messages", &body).await;
    assert_eq!((status, answer["error"]["type"].as_str()), (400, Some("invalid_request_error")), "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap_or_default().starts_with("thinking:"), "{answer}");
    Completion::Completed
}

async fn a_reflected_anthropic_key_never_reaches_the_client() -> Completion {
    let s = stack(&[]).await;
    let base = s.server.base_url();
    let chat =
        serde_json::json!({"model": "anthropic/claude-echokey", "messages": [{"role": "user", "content": "hi"}]});
    let native = serde_json::json!({"model": "anthropic/claude-echokey", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]});
    for (path, body) in [("/v1/chat/completions", chat), ("/v1/messages", native)] {
        let (status, _, answer) = post(&base, path, &body).await;
        assert_eq!(status, 401, "{path}: {answer}");
        let text = answer.to_string();
        assert!(!text.contains(FAKE_KEY) && text.contains("***"), "{path}: the key is redacted: {text}");
    }
    no_key_in(&s.server.drain_logs());
    Completion::Completed
}

/// The `conformance` binary's `anthropic` profile against the real server, as another
/// implementation would be run: fakes at fixed addresses, features found by probing, the suite's
/// keys file — every case passes, none skipped.
async fn the_anthropic_profile_passes_against_the_real_server() -> Completion {
    use conformance::features::{KEYS_FILE_JSON, SECRET_KEY};
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.json");
    std::fs::write(&keys, KEYS_FILE_JSON).unwrap();
    let (provider, upstream) = (harness::free_port().unwrap(), harness::free_port().unwrap());
    let (obase, abase) = (format!("http://127.0.0.1:{provider}/v1"), format!("http://127.0.0.1:{upstream}"));
    let env = [
        ("OPENAI_API_BASE", obase.as_str()),
        ("OPENAI_API_KEY", SECRET_KEY),
        ("ANTHROPIC_API_BASE", abase.as_str()),
        ("ANTHROPIC_API_KEY", SECRET_KEY),
        ("MINI_AGENT_API_KEYS_FILE", keys.to_str().unwrap()),
    ];
    let server = ServerProcess::start(&cargo_bin("miniagent"), &["serve", "--port", "0"], &env).unwrap();
    let (provider, upstream) = (format!("127.0.0.1:{provider}"), format!("127.0.0.1:{upstream}"));
    let args = ["run", "--base-url", &server.base_url(), "--profile", "anthropic", "--format", "json"];
    // `--strict`: the reference is held to every level, not only `required`.
    let more = [
        "--provider-fake-addr",
        &provider,
        "--anthropic-fake-addr",
        &upstream,
        "--keys-file",
        keys.to_str().unwrap(),
        "--strict",
    ];
    let mut cmd = tokio::process::Command::new(cargo_bin("conformance"));
    cmd.args(args).args(more).stdin(Stdio::null()).kill_on_drop(true);
    let out = tokio::time::timeout(RUN_TIMEOUT, cmd.output()).await.expect("the suite finishes").unwrap();
    let (stdout, log) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{log}"));
    let verdicts: Vec<(String, String)> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (c["id"].as_str().unwrap_or_default().to_owned(), c["verdict"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    let expected =
        conformance::cases::all().into_iter().filter(|c| c.profile == conformance::Profile::Anthropic).count();
    assert_eq!(verdicts.len(), expected, "{log}");
    assert!(verdicts.iter().all(|(_, v)| v == "pass"), "{verdicts:#?}\n{log}");
    assert!(out.status.success(), "{log}");
    Completion::Completed
}

fn main() {
    let trials = vec![
        trial("the_anthropic_sdk_native", the_anthropic_sdk_native),
        trial("the_anthropic_sdk_bridged", the_anthropic_sdk_bridged),
        trial("claude_code_says_hello_bridged", claude_code_says_hello_bridged),
        trial("claude_code_runs_a_shell_command_bridged", claude_code_runs_a_shell_command_bridged),
        trial("claude_code_runs_a_shell_command_native", claude_code_runs_a_shell_command_native),
        trial("a_router_group_mixes_providers", a_router_group_mixes_providers),
        trial("claude_names_resolve", claude_names_resolve),
        trial("thinking_is_dropped_or_refused", thinking_is_dropped_or_refused),
        trial(
            "the_anthropic_profile_passes_against_the_real_server",
            the_anthropic_profile_passes_against_the_real_server,
        ),
        trial("a_reflected_anthropic_key_never_reaches_the_client", a_reflected_anthropic_key_never_reaches_the_client),
    ];
    common::run_trials(trials);
}
