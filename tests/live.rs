//! The live suite (`NDSMOKE=1`): the seed's nd-smoke scenarios against a running stack — the one
//! `make e2e-up` started (processes or containers; found through `E2E_STATE` or `.e2e/state.json`),
//! else a process stack this test starts itself. Without `NDSMOKE=1` every scenario is reported as
//! ignored with that reason (libtest-mimic, so "did not run" never reads "ok"). Scenarios that need
//! a real model run when the stack has a `live` alias (set `OPENAI_API_KEY`, or `OLLAMA_BASE_URL` +
//! `LIVE_MODEL`, before `make e2e-up`) and are ignored with the reason otherwise. Each scenario is
//! bounded (90 s).
#![allow(clippy::disallowed_methods, reason = "tests start real programs and read their own settings")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use assert_cmd::cargo::cargo_bin;
use common::{or_ignore, trial};
use conformance::fakes::provider::script_marker;
use harness::stack::{Addresses, ProcessStack};
use libtest_mimic::Completion;
use serde_json::{Value, json};

const SCENARIO_LIMIT: Duration = Duration::from_secs(90);

enum Stack {
    External(Addresses),
    Owned(ProcessStack),
}

impl Stack {
    fn addresses(&self) -> &Addresses {
        match self {
            Self::External(a) => a,
            Self::Owned(s) => &s.addresses,
        }
    }
}

/// The stack, or why the scenario cannot run: the live suite is not enabled. A stack this test
/// starts itself belongs to the test and is stopped when it ends (a static would outlive the test
/// process's destructors and leak its children).
fn stack() -> Result<Stack, String> {
    if std::env::var("NDSMOKE").ok().as_deref() != Some("1") {
        return Err("live suite disabled; set NDSMOKE=1 (and `make e2e-up` for a shared stack)".to_owned());
    }
    let state = std::env::var("E2E_STATE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".e2e/state.json"));
    Ok(match std::fs::read_to_string(&state) {
        Ok(text) => {
            let v: Value = serde_json::from_str(&text).unwrap();
            eprintln!("live: using the {} stack from {}", v["mode"], state.display());
            Stack::External(serde_json::from_value(v["addresses"].clone()).unwrap())
        }
        Err(_) => {
            eprintln!("live: no e2e state; starting a process stack");
            Stack::Owned(
                ProcessStack::start(&cargo_bin("miniagent"), &cargo_bin("conformance")).expect("the stack starts"),
            )
        }
    })
}

fn http() -> reqwest::Client {
    harness::http_client_builder().timeout(SCENARIO_LIMIT).build().unwrap()
}

async fn post(url: String, body: Value) -> (u16, Value) {
    let res = http().post(url).json(&body).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn bounded<T, F: std::future::Future<Output = T>>(scenario: F) -> T {
    tokio::time::timeout(SCENARIO_LIMIT, scenario).await.expect("the scenario finishes within 90 s")
}

async fn mini_agent_low_echo() -> Completion {
    let stack = or_ignore!(stack());
    let a = stack.addresses();
    bounded(async {
        let (status, env) = post(
            format!("{}/agent/run", a.facade),
            json!({"model": "dummy", "tool_backend": "echo", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
        assert_eq!(status, 200, "{env}");
        assert_eq!(env["final_answer"], "Dummy mini-agent response");
        let ready: Value = http().get(format!("{}/ready", a.facade)).send().await.unwrap().json().await.unwrap();
        assert_eq!(ready["ok"], true);
    })
    .await;
    Completion::Completed
}

async fn http_tools_medium_through_the_tools_stub() -> Completion {
    let stack = or_ignore!(stack());
    let a = stack.addresses();
    bounded(async {
        let script = json!([{"tool_calls": [{"name": "add", "arguments": {"a": 40, "b": 2}}]}]);
        let (status, env) = post(
            format!("{}/agent/run", a.facade),
            json!({"model": "openai/scripted", "tool_backend": "http", "tool_http_base_url": a.tools_stub,
                   "messages": [{"role": "user", "content": script_marker(&script)}]}),
        )
        .await;
        assert_eq!(status, 200, "{env}");
        assert_eq!(env["final_answer"], "42", "{env}");
        assert_eq!(env["last_tool_invocation"]["tool_name"], "add");
    })
    .await;
    Completion::Completed
}

async fn escalation_with_the_chutes_short_circuit() -> Completion {
    let stack = or_ignore!(stack());
    let a = stack.addresses();
    bounded(async {
        let script = json!([{"delay_ms": 3000, "content": "too slow"}]);
        let (status, env) = post(
            format!("{}/agent/run", a.facade),
            json!({"model": "openai/scripted", "tool_backend": "local", "max_total_seconds": 0.3,
                   "escalate_on_budget_exceeded": true, "escalate_model": "chutes/vendor/big",
                   "messages": [{"role": "user", "content": script_marker(&script)}]}),
        )
        .await;
        assert_eq!(status, 200, "{env}");
        assert_eq!((env["stopped_reason"].clone(), env["final_answer"].clone()), (json!("success"), json!("")));
        assert_eq!(
            (env["metrics"]["escalated"].clone(), env["metrics"]["used_model"].clone()),
            (json!(true), json!("chutes/vendor/big"))
        );
    })
    .await;
    Completion::Completed
}

async fn exec_rpc_multi_language() -> Completion {
    let stack = or_ignore!(stack());
    let a = stack.addresses();
    bounded(async {
        let programs = [
            ("python", "print(6*7)"),
            ("c", "#include <stdio.h>\nint main(void){printf(\"42\\n\");return 0;}"),
            ("cpp", "#include <iostream>\nint main(){std::cout << 42 << std::endl;}"),
            ("javascript", "console.log(6*7)"),
            ("rust", "fn main() { println!(\"42\"); }"),
        ];
        let mut ran = Vec::new();
        for (language, code) in programs {
            let (status, v) =
                post(format!("{}/exec", a.exec_rpc), json!({"language": language, "code": code, "timeout_sec": 60}))
                    .await;
            assert_eq!(status, 200, "{language}: {v}");
            if v["ok"] == true {
                assert_eq!(v["stdout"], "42\n", "{language}: {v}");
                ran.push(language);
            } else {
                // A stack without a toolchain must say which one is missing (containers ship none).
                assert!(v["error"].as_str().unwrap_or_default().contains("not installed"), "{language}: {v}");
            }
        }
        eprintln!("live: exec-rpc ran {ran:?}");
    })
    .await;
    Completion::Completed
}

async fn codex_agent_through_the_sidecar_in_echo_mode() -> Completion {
    let stack = or_ignore!(stack());
    let a = stack.addresses();
    bounded(async {
        let (status, env) = post(
            format!("{}/agent/run", a.facade),
            json!({"model": "codex-agent/mini", "tool_backend": "echo", "messages": [{"role": "user", "content": "ping"}]}),
        )
        .await;
        assert_eq!(status, 200, "{env}");
        assert_eq!(env["final_answer"], "echo: ping");
        let health: Value = http().get(format!("{}/healthz", a.sidecar)).send().await.unwrap().json().await.unwrap();
        assert_eq!(health["ok"], true);
    })
    .await;
    Completion::Completed
}

async fn codex_agent_via_the_router_alias() -> Completion {
    let stack = or_ignore!(stack());
    let a = stack.addresses();
    bounded(async {
        let models: Value = http().get(format!("{}/v1/models", a.facade)).send().await.unwrap().json().await.unwrap();
        let ids: Vec<&str> = models["data"].as_array().unwrap().iter().filter_map(|m| m["id"].as_str()).collect();
        if !ids.contains(&"codex-agent-1") {
            return Completion::ignored_with(
                "the stack's façade has no router config (container stacks run without one)",
            );
        }
        let (status, env) = post(
            format!("{}/agent/run", a.facade),
            json!({"model": "codex-agent-1", "tool_backend": "router", "messages": [{"role": "user", "content": "via alias"}]}),
        )
        .await;
        assert_eq!(status, 200, "{env}");
        assert_eq!(env["final_answer"], "echo: via alias");
        Completion::Completed
    })
    .await
}

fn codex_providers(a: &Addresses) -> miniagent::Providers {
    let config = miniagent::Config::from_pairs([
        ("LITELLM_ENABLE_CODEX_AGENT", "1"),
        ("CODEX_AGENT_API_BASE", a.sidecar.as_str()),
        ("SCILLM_RETRY_META", "1"),
        ("CODEX_AGENT_ENABLE_METRICS", "1"),
    ]);
    config.build_providers().unwrap()
}

async fn parallel_probe_shows_content_and_scillm_router_with_retry_meta() -> Completion {
    let stack = or_ignore!(stack());
    let a = stack.addresses();
    bounded(async {
        let providers = codex_providers(a);
        let requests: Vec<Value> =
            (0..4).map(|i| json!({"model": "codex-agent/mini", "messages": [{"role": "user", "content": format!("probe {i}")}]})).collect();
        let options = miniagent::ParallelOptions { concurrency: 4, ..Default::default() };
        let results = miniagent::complete_all(&providers, requests, &options).await.unwrap();
        for (i, r) in results.iter().enumerate() {
            assert_eq!(r["choices"][0]["message"]["content"], format!("echo: probe {i}"), "{r}");
            let meta = &r["scillm_router"];
            // Echoed text is not JSON: CONTRACT §5 classifies any such content as invalid_json.
            assert_eq!(
                (meta["error_type"].clone(), meta["json_valid"].clone(), meta["provider"].clone()),
                (json!("invalid_json"), json!(false), json!("codex-agent"))
            );
            assert_eq!(meta["retries"]["attempts"], 0, "retry metadata is present: {meta}");
        }
    })
    .await;
    Completion::Completed
}

async fn the_doctor_passes_against_the_stack() -> Completion {
    let stack = or_ignore!(stack());
    let a = stack.addresses();
    let out = tokio::task::spawn_blocking({
        let (facade, sidecar) = (a.facade.clone(), a.sidecar.clone());
        move || {
            std::process::Command::new(cargo_bin("miniagent"))
                .args(["doctor"])
                .env("MINI_AGENT_URL", facade)
                .env("CODEX_AGENT_API_BASE", sidecar)
                .env("LITELLM_ENABLE_CODEX_AGENT", "1")
                .env("SCILLM_RETRY_META", "1")
                .env("CODEX_AGENT_ENABLE_METRICS", "1")
                .env("CODEX_SIDECAR_ECHO", "1")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("doctor: all checks passed"), "{text}");
    Completion::Completed
}

async fn a_real_model_uses_local_tools() -> Completion {
    let stack = or_ignore!(stack());
    let a = stack.addresses();
    let models: Value = http().get(format!("{}/v1/models", a.facade)).send().await.unwrap().json().await.unwrap();
    if !models["data"].as_array().unwrap().iter().any(|m| m["id"] == "live") {
        return Completion::ignored_with(
            "no real model configured (set OPENAI_API_KEY, or OLLAMA_BASE_URL + LIVE_MODEL, before the stack starts)",
        );
    }
    bounded(async {
        let (status, env) = post(
            format!("{}/agent/run", a.facade),
            json!({"model": "live", "tool_backend": "local", "use_tools": true, "max_iterations": 4,
                   "messages": [{"role": "user", "content": "Use the exec_python tool to compute 2**20 and print it."}]}),
        )
        .await;
        assert_eq!(status, 200, "{env}");
        assert!(env["final_answer"].as_str().unwrap_or_default().contains("1048576"), "{env}");
    })
    .await;
    Completion::Completed
}

fn main() {
    common::run_trials(vec![
        trial("mini_agent_low_echo", mini_agent_low_echo),
        trial("http_tools_medium_through_the_tools_stub", http_tools_medium_through_the_tools_stub),
        trial("escalation_with_the_chutes_short_circuit", escalation_with_the_chutes_short_circuit),
        trial("exec_rpc_multi_language", exec_rpc_multi_language),
        trial("codex_agent_through_the_sidecar_in_echo_mode", codex_agent_through_the_sidecar_in_echo_mode),
        trial("codex_agent_via_the_router_alias", codex_agent_via_the_router_alias),
        trial(
            "parallel_probe_shows_content_and_scillm_router_with_retry_meta",
            parallel_probe_shows_content_and_scillm_router_with_retry_meta,
        ),
        trial("the_doctor_passes_against_the_stack", the_doctor_passes_against_the_stack),
        trial("a_real_model_uses_local_tools", a_real_model_uses_local_tools),
    ])
}
