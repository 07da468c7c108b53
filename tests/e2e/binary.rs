//! End-to-end: the real `miniagent` binary, started by the harness on a free port, driven over
//! HTTP — and the real `conformance` binary run against it as a separate process.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use assert_cmd::Command;
use assert_cmd::cargo::cargo_bin;
use conformance::features::{FAST_TIMEOUTS, Feature, KEYS_FILE_JSON, Setup};
use harness::ServerProcess;
use serde_json::{Value, json};

fn demo_server(extra_env: &[(&str, &str)]) -> ServerProcess {
    ServerProcess::start(&cargo_bin("miniagent"), &["serve", "--demo", "--port", "0"], extra_env)
        .expect("miniagent starts")
}

#[tokio::test]
async fn the_readme_first_command_serves_both_endpoints_without_keys() {
    let server = demo_server(&[]);
    let http = harness::http_client();
    let base = server.base_url();

    let ready: Value = common::get_json(format!("{base}/ready")).await;
    assert_eq!(ready["ok"], json!(true));

    // Exactly the README's curl: no content-type header beyond curl's form default.
    let run = http
        .post(format!("{base}/agent/run"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(r#"{"model":"dummy","tool_backend":"echo","messages":[{"role":"user","content":"hi"}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(run.status(), 200);
    let envelope: Value = run.json().await.unwrap();
    assert_eq!(envelope["final_answer"], json!("Dummy mini-agent response"));

    let chat: Value = common::post_json(
        format!("{base}/v1/chat/completions"),
        &json!({"model": "any", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await
    .1;
    assert_eq!(chat["choices"][0]["message"]["content"], json!("shim ok"));

    let healthz: Value = common::get_json(format!("{base}/healthz")).await;
    assert_eq!(healthz["port"], json!(server.addr().port()), "healthz reports the port really bound");
}

/// Runs the `conformance` binary with `args` — a `run` with `--strict`: the reference is held to
/// every level, so any failure fails the run — ; the JSON report and the log (stderr).
fn conformance(args: &[String]) -> (std::process::Output, Value, String) {
    let strict = args.first().is_some_and(|a| a == "run").then_some("--strict");
    let out = Command::cargo_bin("conformance")
        .unwrap()
        .args(args)
        .args(strict)
        .timeout(Duration::from_secs(180))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("report is not JSON ({e}): {}\n{log}", String::from_utf8_lossy(&out.stdout)));
    (out, report, log)
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn ids_with<'a>(report: &'a Value, verdict: &str) -> Vec<&'a str> {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["verdict"] == verdict)
        .map(|c| c["id"].as_str().unwrap())
        .collect()
}

#[test]
fn the_conformance_binary_discovers_the_features_and_passes_against_the_real_server() {
    let dir = tempfile_dir();
    let trace = dir.join("traces.jsonl");
    // The keys file must exist before the server starts; the suite writes the same content again.
    let keys = dir.join("keys.json");
    std::fs::write(&keys, KEYS_FILE_JSON).unwrap();
    // The suite's provider fake gets a fixed port so the server can be started pointing at it, with
    // the environment the feature table gives — exactly as a maintainer of another implementation
    // would do it. No `--features`: the suite finds out by probing. With keys, every case runs
    // authenticated, and the slow-client cases meet the real accept loop.
    let fake_addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let tools_addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let setup = Setup {
        provider_fake_base: Some(format!("http://{fake_addr}/v1")),
        tools_fake_base: Some(format!("http://{tools_addr}")),
        trace_file: Some(trace.clone()),
        keys_file: Some(keys.clone()),
        router_dir: None,
        anthropic_fake_base: None,
    };
    let mut env = setup.pairs(FAST_TIMEOUTS);
    for f in [
        Feature::ProviderFake,
        Feature::Traces,
        Feature::ShortcircuitChutes,
        Feature::ToolEnvHeaders,
        Feature::Auth,
        Feature::SlowClients,
        Feature::UrlAllowlist,
    ] {
        env.extend(setup.pairs(f.spec().env));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = demo_server(&env);
    let exec_rpc =
        ServerProcess::start(&cargo_bin("miniagent"), &["exec-rpc", "--port", "0"], &[]).expect("exec-rpc starts");
    let mcp_python = harness::python_peer("mcp-v2", "MCP_V2_PYTHON").ok();
    let mut args = strings(&["run", "--base-url", &server.base_url(), "--format", "json"]);
    args.extend(strings(&["--trace-file", trace.to_str().unwrap(), "--exec-rpc-url", &exec_rpc.base_url()]));
    args.extend(strings(&["--proptest-cases", "4", "--provider-fake-addr", &fake_addr.to_string()]));
    args.extend(strings(&["--tools-fake-addr", &tools_addr.to_string()]));
    args.extend(strings(&["--keys-file", keys.to_str().unwrap()]));
    args.extend(mcp_python.iter().flat_map(|p| ["--mcp-python".to_owned(), p.display().to_string()]));
    let (out, report, log) = conformance(&args);
    let failed: Vec<&Value> = report["cases"].as_array().unwrap().iter().filter(|c| c["verdict"] == "fail").collect();
    assert!(failed.is_empty(), "failed cases: {failed:#?}\n{log}");
    assert!(out.status.success(), "exit status {:?}", out.status);
    let enabled: Vec<&str> = report["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["enabled"] == true && f["source"] == "probe")
        .map(|f| f["feature"].as_str().unwrap())
        .collect();
    assert_eq!(
        enabled,
        [
            "dummy",
            "shim-echo",
            "provider-fake",
            "traces",
            "local-tools",
            "shortcircuit-chutes",
            "tool-env-headers",
            "auth",
            "slow-clients",
            "url-allowlist"
        ],
        "{log}"
    );
    assert!(log.contains("probe    provider-fake        enabled — "), "{log}");
    // Only the cases that need a target without any provider cannot run against a demo server, nor
    // those of the OpenAI surface in proxy mode (the demo's shim echoes; they run below), nor the
    // router cases (the demo has no router file), nor the MCP cases when the suite has no MCP server
    // to offer…
    let mut expected_skips = vec!["errors.dummy.disabled_names_variable", "shim.no_provider.guidance"];
    if mcp_python.is_none() {
        expected_skips.extend(["mcp.tools.roundtrip", "mcp.tools.is_error"]);
    }
    let proxy_cases: Vec<&str> = conformance::cases::all()
        .into_iter()
        .filter(|c| c.features.contains(&Feature::OpenaiProxy) || c.profile == conformance::Profile::Router)
        .map(|c| c.id)
        .collect();
    expected_skips.extend(&proxy_cases);
    assert_eq!(ids_with(&report, "skip"), expected_skips, "{report}");
    let passed = ids_with(&report, "pass");
    assert!(passed.iter().filter(|id| id.starts_with("loop.")).count() >= 18, "the loop cases ran: {passed:?}");
    for area in ["auth.", "slow.", "outbound.", "limits."] {
        assert!(passed.iter().any(|id| id.starts_with(area)), "the {area}* cases ran: {passed:?}");
    }
    let skipped_features: Vec<&str> =
        report["skipped_by_feature"].as_array().unwrap().iter().filter_map(|f| f["feature"].as_str()).collect();
    for feature in ["shim-no-provider", "openai-proxy", "router"] {
        assert!(skipped_features.contains(&feature), "{feature} among the skips: {report}");
    }
    // …so they run against one, with the features discovered there too.
    let strict = ServerProcess::start(&cargo_bin("miniagent"), &["serve", "--port", "0"], &[]).unwrap();
    for case in &expected_skips[..2] {
        let (out, report, log) =
            conformance(&strings(&["run", "--base-url", &strict.base_url(), "--format", "json", "--case", case]));
        assert_eq!(report["cases"][0]["verdict"], "pass", "{report}\n{log}");
        assert!(out.status.success());
    }
}

/// `conformance run --profile openai` (plus `extra` arguments) against a real server started with
/// the table's environment for `features`, the provider fake at a fixed address: the report and the
/// log.
fn openai_profile_against(features: &[Feature], extra: &[&str]) -> (std::process::Output, Value, String) {
    let fake_addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let setup = Setup { provider_fake_base: Some(format!("http://{fake_addr}/v1")), ..Setup::default() };
    let env: Vec<(String, String)> = features.iter().flat_map(|f| setup.pairs(f.spec().env)).collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = ServerProcess::start(&cargo_bin("miniagent"), &["serve", "--port", "0"], &env).unwrap();
    let args = ["run", "--base-url", &server.base_url(), "--profile", "openai", "--format", "json"];
    conformance(
        &strings(&args)
            .into_iter()
            .chain(["--provider-fake-addr".to_owned(), fake_addr.to_string()])
            .chain(extra.iter().map(|a| (*a).to_owned()))
            .collect::<Vec<_>>(),
    )
}

#[test]
fn the_openai_profile_passes_against_the_real_server_in_proxy_mode() {
    // As a maintainer of any OpenAI-compatible gateway would: start it with the table's environment
    // for the OpenAI surface, pointed at the provider fake's fixed address, and run `--profile openai`.
    let (out, report, log) = openai_profile_against(&[Feature::OpenaiProxy, Feature::ProviderTimeout], &[]);
    // The cases of the two other `/v1/responses` settings are skipped, naming their feature; they run
    // below against instances started with those settings.
    let second_instance = ["responses-hosted-reject", "responses-passthrough"];
    let not_passed: Vec<&Value> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["verdict"] != "pass")
        .filter(|c| {
            c["verdict"] != "skip"
                || !c["missing_features"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|f| second_instance.contains(&f.as_str().unwrap()))
        })
        .collect();
    assert!(not_passed.is_empty(), "{not_passed:#?}\n{log}");
    assert!(out.status.success(), "exit status {:?}", out.status);
    let all = report["cases"].as_array().unwrap();
    assert!(all.len() >= 30 && all.iter().all(|c| c["id"].as_str().unwrap().starts_with("openai.")), "{report}");
    assert!(log.contains("probe    openai-proxy         enabled — "), "{log}");
    assert!(log.contains("probe    provider-timeout     enabled — "), "{log}");
    for (feature, cases) in [
        (Feature::ResponsesHostedReject, "openai.responses.hosted_tools_rejected"),
        (Feature::ResponsesPassthrough, "openai.responses.passthrough_*"),
    ] {
        let (out, report, log) = openai_profile_against(&[Feature::OpenaiProxy, feature], &["--case", cases]);
        let ran = report["cases"].as_array().unwrap();
        assert!(!ran.is_empty() && ran.iter().all(|c| c["verdict"] == "pass"), "{report:#}\n{log}");
        assert!(out.status.success() && log.contains(&format!("probe    {:<20} enabled — ", feature.name())), "{log}");
    }
}

#[test]
fn a_target_started_without_the_provider_fake_skips_its_cases_saying_how_to_enable_it() {
    // `serve --demo` alone: the dummy model and the echo shim, no OPENAI_API_BASE.
    let server = demo_server(&[]);
    let (out, report, log) =
        conformance(&strings(&["run", "--base-url", &server.base_url(), "--format", "json", "--case", "loop.tool.*"]));
    assert!(out.status.success(), "{log}");
    let provider = report["features"].as_array().unwrap().iter().find(|f| f["feature"] == "provider-fake").unwrap();
    assert_eq!((provider["enabled"].clone(), provider["source"].clone()), (json!(false), json!("probe")), "{report}");
    assert!(provider["why"].as_str().unwrap().contains("did not reach the provider fake"), "{provider}");
    assert!(log.contains("probe    provider-fake        not enabled — "), "{log}");
    let case = &report["cases"][0];
    assert_eq!(case["verdict"], "skip", "{report}");
    let reason = case["reason"].as_str().unwrap();
    assert!(
        reason.contains("`provider-fake` (to enable: start the target with OPENAI_API_BASE=http://127.0.0.1:"),
        "{reason}"
    );
    let summary: Vec<(&str, u64)> = report["skipped_by_feature"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["feature"].as_str().unwrap(), s["skipped"].as_u64().unwrap()))
        .collect();
    assert_eq!(summary, [("provider-fake", 4), ("local-tools", 4)], "{report}");
    let enable = report["skipped_by_feature"][0]["enable"].as_str().unwrap();
    assert!(enable.contains("OPENAI_API_BASE=http://127.0.0.1:"), "{enable}");

    // `--features` still works, and then nothing is probed.
    let (_, report, log) = conformance(&strings(&[
        "run",
        "--base-url",
        &server.base_url(),
        "--format",
        "json",
        "--case",
        "envelope.echo.minimal",
        "--features",
        "dummy",
    ]));
    assert_eq!(report["cases"][0]["verdict"], "pass", "{report}");
    assert!(
        !log.contains("probing") && log.contains("flag     dummy                enabled — given with --features"),
        "{log}"
    );
}

#[test]
fn a_bad_router_config_fails_at_startup_naming_file_and_entry() {
    let dir = tempfile_dir();
    let path = dir.join("router.yaml");
    std::fs::write(&path, "model_list:\n  - model_name: fast\n    litellm_params: {api_base: http://x}\n").unwrap();
    Command::cargo_bin("miniagent")
        .unwrap()
        .args(["serve", "--port", "0", "--config", path.to_str().unwrap()])
        .timeout(Duration::from_secs(20))
        .assert()
        .failure()
        .stderr(predicates_contains(&["router.yaml", "entry 0 (fast)", "missing field `model`"]));
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let mut server = demo_server(&[]);
    assert!(server.terminate(Duration::from_secs(10)), "serve should exit 0 on SIGTERM");
}

fn predicates_contains(needles: &'static [&'static str]) -> impl predicates::Predicate<[u8]> {
    predicates::function::function(move |out: &[u8]| {
        let text = String::from_utf8_lossy(out);
        needles.iter().all(|n| text.contains(n))
    })
}

fn tempfile_dir() -> std::path::PathBuf {
    // Kept (not a TempDir) so a failing run leaves the trace file to look at.

    let dir = std::env::temp_dir().join(format!("miniagent-e2e-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

#[tokio::test]
async fn exec_rpc_names_a_missing_toolchain() {
    // An empty PATH: every toolchain is missing, which must be a result that says so, not a 500.
    let empty = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(
        &cargo_bin("miniagent"),
        &["exec-rpc", "--port", "0"],
        &[("PATH", empty.path().to_str().unwrap())],
    )
    .expect("exec-rpc starts");
    let http = harness::http_client();
    let v: Value = http
        .post(format!("{}/exec", server.base_url()))
        .json(&json!({"language": "c", "code": "int main(void){return 0;}"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["ok"], json!(false), "{v}");
    let error = v["error"].as_str().unwrap_or_default();
    assert!(error.contains("`gcc` is not installed") && error.contains("Debian package: gcc"), "{v}");
    let health: Value = common::get_json(format!("{}/health", server.base_url())).await;
    assert_eq!(health, json!({"ok": true}));
}

#[tokio::test]
async fn the_tools_stub_serves_the_http_backend_end_to_end() {
    let fakes = conformance::fakes::Fakes::start(Default::default()).await.expect("fakes");
    let stub =
        ServerProcess::start(&cargo_bin("miniagent"), &["tools-stub", "--port", "0"], &[]).expect("tools-stub starts");
    let base = fakes.provider.base_url();
    let server = demo_server(&[("OPENAI_API_BASE", &base)]);
    let script = json!([{"tool_calls": [{"name": "echo", "arguments": {"text": "E2E"}}]}]);
    let body = json!({
        "model": "openai/scripted", "tool_backend": "http", "tool_http_base_url": stub.base_url(),
        "messages": [{"role": "user", "content": conformance::fakes::provider::script_marker(&script)}],
    });
    let envelope: Value = common::post_json(format!("{}/agent/run", server.base_url()), &body).await.1;
    assert_eq!(envelope["final_answer"], json!("E2E"), "{envelope}");
    assert_eq!(envelope["last_tool_invocation"]["result"], json!("E2E"), "{envelope}");
    let tool_messages: Vec<&Value> =
        envelope["messages"].as_array().unwrap().iter().filter(|m| m["role"] == "tool").collect();
    assert_eq!(tool_messages.len(), 1);
    assert_eq!(tool_messages[0]["content"], json!("E2E"));
}

#[tokio::test]
async fn a_router_config_lists_its_aliases_and_routes_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("router.yaml");
    std::fs::write(
        &path,
        "model_list:\n  - model_name: fast\n    litellm_params: {model: dummy}\n  - model_name: smart\n    litellm_params: {model: openai/gpt-4o, api_key: os.environ/ROUTER_TEST_KEY}\n",
    )
    .unwrap();
    let server = ServerProcess::start(
        &cargo_bin("miniagent"),
        &["serve", "--demo", "--port", "0", "--config", path.to_str().unwrap()],
        &[("ROUTER_TEST_KEY", "sk-from-env")],
    )
    .unwrap();
    let models: Value = common::get_json(format!("{}/v1/models", server.base_url())).await;
    let ids: Vec<&str> = models["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["fast", "smart", "dummy"]);
    let run: Value = common::post_json(
        format!("{}/agent/run", server.base_url()),
        &json!({"model": "fast", "tool_backend": "router", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await
    .1;
    assert_eq!(run["final_answer"], json!("Dummy mini-agent response"), "{run}");
    assert_eq!(run["metrics"]["used_model"], json!("fast"));
}
