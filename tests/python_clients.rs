//! Real Python clients of the OpenAI surface against the real `miniagent serve`: the official
//! `openai` SDK, LiteLLM's SDK, `langchain-openai` and `openai-agents`, each from its own venv
//! (`make py-venvs`, pinned in `fixtures/python/requirements-*.txt`), each in one Python process
//! running `fixtures/python/check_<client>.py`.
//!
//! The server runs in proxy mode (the default) and its provider is the conformance suite's provider
//! fake on loopback, whose `auto-…` models answer from the request's shape (tools → a call, tool
//! results → `Final answer: …`); nothing leaves the machine: the clients' telemetry and price-map
//! fetches are switched off and `OPENAI_API_KEY` is removed from their environment. Each script
//! prints `ok: <check>` per check and every expected line is asserted, so a check that silently did
//! not run fails; the fake's record then shows what the provider received. A missing venv is an
//! ignored test with that advice (a failure under `MINIAGENT_REQUIRE_PY_PEERS=1`).
#![allow(clippy::disallowed_methods, reason = "tests start real programs and read their own settings")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin;
use common::{or_ignore, trial};
use conformance::fakes::ProviderFake;
use harness::ServerProcess;
use libtest_mimic::Completion;
use serde_json::json;

/// The key the server sends its provider: never the client's.
const UPSTREAM_KEY: &str = "sk-upstream-python-clients";
/// How long one client's script may take (imports included).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

/// One client: its venv, the variable that may point at another interpreter, its script, and the
/// `ok:` lines it must print.
struct Client {
    venv: &'static str,
    python_override: &'static str,
    script: &'static str,
    checks: &'static [&'static str],
}

/// `miniagent serve` in proxy mode with the fake as its default provider.
fn proxy_server(fake: &ProviderFake) -> ServerProcess {
    let base = fake.base_url();
    let env = [
        ("OPENAI_API_BASE", base.as_str()),
        ("OPENAI_API_KEY", UPSTREAM_KEY),
        ("MINI_AGENT_OPENAI_SHIM_MODE", "proxy"),
    ];
    ServerProcess::start(&cargo_bin("miniagent"), &["serve", "--port", "0"], &env).unwrap()
}

/// Runs `script args…` with the offline, telemetry-free environment; its stdout, after asserting
/// that it succeeded and printed every expected check.
async fn run_script(python: &Path, client: &Client, args: &[String]) -> String {
    let script: PathBuf = [env!("CARGO_MANIFEST_DIR"), "fixtures/python", client.script].iter().collect();
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg(&script).args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    for name in ["OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "LANGSMITH_API_KEY", "LANGCHAIN_API_KEY"] {
        cmd.env_remove(name);
    }
    for name in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"] {
        cmd.env_remove(name);
    }
    cmd.envs([
        ("LITELLM_LOCAL_MODEL_COST_MAP", "True"),
        ("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "True"),
        ("LITELLM_LOCAL_AUTOROUTER_PRESETS", "True"),
        ("LITELLM_LOCAL_BLOG_POSTS", "True"),
        ("LITELLM_LOCAL_POLICY_TEMPLATES", "True"),
        ("OPENAI_AGENTS_DISABLE_TRACING", "1"),
        ("LANGSMITH_TRACING", "false"),
        ("LANGCHAIN_TRACING_V2", "false"),
    ]);
    let started = Instant::now();
    let out = tokio::time::timeout(SCRIPT_TIMEOUT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{} did not finish within {SCRIPT_TIMEOUT:?}", client.script))
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{}: {:.1} s", client.script, started.elapsed().as_secs_f64());
    assert!(out.status.success(), "{} failed:\n{stdout}\n{stderr}", client.script);
    for check in client.checks {
        assert!(stdout.lines().any(|l| l == format!("ok: {check}")), "missing `ok: {check}` in:\n{stdout}\n{stderr}");
    }
    stdout
}

/// Requests the fake received whose body mentions `needle`.
async fn received(fake: &ProviderFake, needle: &str) -> Vec<conformance::fakes::openai_upstream::Received> {
    conformance::fakes::openai_upstream::received_containing(fake.server(), needle).await
}

const OPENAI: Client = Client {
    venv: "openai",
    python_override: "OPENAI_CLIENT_PYTHON",
    script: "check_openai.py",
    checks: &[
        "chat tools",
        "chat stream tools",
        "chat tool round trip",
        "BadRequestError",
        "RateLimitError",
        "responses.create round trip",
        "responses.stream round trip",
        "responses.parse json_schema",
        "embeddings",
        "models",
        "echo mode",
        "no provider guidance",
    ],
};

async fn the_official_openai_sdk() -> Completion {
    let python = or_ignore!(harness::python_peer(OPENAI.venv, OPENAI.python_override));
    let fake = ProviderFake::start(None).await.unwrap();
    let proxy = proxy_server(&fake);
    let echo = ServerProcess::start(&cargo_bin("miniagent"), &["serve", "--demo", "--port", "0"], &[]).unwrap();
    let strict = ServerProcess::start(&cargo_bin("miniagent"), &["serve", "--port", "0"], &[]).unwrap();
    run_script(&python, &OPENAI, &[proxy.base_url(), echo.base_url(), strict.base_url()]).await;
    // What the provider saw: every field of the first call, the server's key, and each error once.
    let first = received(&fake, "\"seed\"").await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!((first[0].body["seed"].clone(), first[0].body["temperature"].clone()), (json!(7), json!(0.2)));
    assert_eq!(first[0].body["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(first[0].header("authorization"), Some(format!("Bearer {UPSTREAM_KEY}").as_str()));
    assert_eq!(received(&fake, "auto-err429").await.len(), 1, "a 429 is never retried by the server");
    assert_eq!(received(&fake, "auto-err400").await.len(), 1, "a 400 is never retried by the server");
    let schema = received(&fake, "\"json_schema\"").await;
    assert_eq!(schema.len(), 1, "responses.parse reached the provider once");
    assert_eq!(schema[0].body["response_format"]["json_schema"]["name"], "City", "{:?}", schema[0].body);
    Completion::Completed
}

const LITELLM: Client = Client {
    venv: "litellm",
    python_override: "LITELLM_CLIENT_PYTHON",
    script: "check_litellm.py",
    checks: &[
        "completion tools",
        "completion stream tools",
        "completion round trip and stream text",
        "errors",
        "embedding",
    ],
};

async fn litellm_as_a_client() -> Completion {
    let python = or_ignore!(harness::python_peer(LITELLM.venv, LITELLM.python_override));
    let fake = ProviderFake::start(None).await.unwrap();
    let proxy = proxy_server(&fake);
    run_script(&python, &LITELLM, &[proxy.base_url()]).await;
    assert_eq!(received(&fake, "auto-err429").await.len(), 1, "a 429 is never retried by the server");
    let streamed = received(&fake, "\"include_usage\"").await;
    assert_eq!(streamed.len(), 1, "{streamed:?}");
    assert_eq!(streamed[0].body["model"], "auto-model", "litellm's `openai/` prefix is its own");
    Completion::Completed
}

const LANGCHAIN: Client = Client {
    venv: "langchain",
    python_override: "LANGCHAIN_CLIENT_PYTHON",
    script: "check_langchain.py",
    checks: &["bind_tools invoke", "bind_tools stream", "with_structured_output", "embeddings"],
};

async fn langchain_openai() -> Completion {
    let python = or_ignore!(harness::python_peer(LANGCHAIN.venv, LANGCHAIN.python_override));
    let fake = ProviderFake::start(None).await.unwrap();
    let proxy = proxy_server(&fake);
    run_script(&python, &LANGCHAIN, &[proxy.base_url()]).await;
    // with_structured_output's default sends a strict JSON schema; it reached the provider as sent.
    let structured = received(&fake, "\"json_schema\"").await;
    assert_eq!(structured.len(), 2, "the default and include_raw calls");
    assert_eq!(structured[0].body["response_format"]["json_schema"]["name"], "Person");
    assert_eq!(structured[0].body["response_format"]["json_schema"]["strict"], true);
    Completion::Completed
}

const AGENTS: Client = Client {
    venv: "agents",
    python_override: "AGENTS_CLIENT_PYTHON",
    script: "check_agents.py",
    checks: &[
        "agent on chat_completions",
        "agent streamed on chat_completions",
        "agent on responses",
        "agent streamed on responses",
    ],
};

async fn openai_agents() -> Completion {
    let python = or_ignore!(harness::python_peer(AGENTS.venv, AGENTS.python_override));
    let fake = ProviderFake::start(None).await.unwrap();
    let proxy = proxy_server(&fake);
    run_script(&python, &AGENTS, &[proxy.base_url()]).await;
    // Four runs of two model calls each (the tool call, then the answer): no retries, no extras.
    let calls = received(&fake, "Weather in Paris?").await;
    assert_eq!(calls.len(), 8, "{:?}", calls.iter().map(|c| &c.body).collect::<Vec<_>>());
    Completion::Completed
}

fn main() {
    common::run_trials(vec![
        trial("the_official_openai_sdk", the_official_openai_sdk),
        trial("litellm_as_a_client", litellm_as_a_client),
        trial("langchain_openai", langchain_openai),
        trial("openai_agents", openai_agents),
    ])
}
