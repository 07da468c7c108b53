//! The suite can fail: deliberately broken targets — an envelope missing a key, an envelope with
//! its keys out of order, tool messages out of call order — must be reported as failures with
//! reasons a maintainer can act on, counted under their level; the runner exits 1 when a `required`
//! case failed, or any case with `--strict`. Expected-failure files excuse known gaps, and a listed
//! case that passes is reported stale and fails the run (under the same rule). A target that lacks an
//! extension (the §11 trust boundary) is the other side: its cases skip, saying why, never fail.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use assert_cmd::Command;
use axum::Router;
use axum::routing::{get, post};
use serde_json::{Value, json};

#[derive(Clone, Copy)]
enum Breakage {
    MissingKey,
    WrongOrder,
    ToolOrder,
}

/// A tiny target that answers `/agent/run` with a broken envelope.
async fn broken(breakage: Breakage) -> String {
    let handler = move || async move {
        let text = match breakage {
            // No `stopped_reason`.
            Breakage::MissingKey => r#"{"ok":true,"final_answer":"Dummy mini-agent response","messages":[{"role":"assistant","content":"Dummy mini-agent response"}],"metrics":{"iterations":0,"ttotal_ms":0.1,"escalated":false,"used_model":"dummy"}}"#.to_owned(),
            // `metrics` before `messages`.
            Breakage::WrongOrder => r#"{"ok":true,"final_answer":"Dummy mini-agent response","stopped_reason":"success","metrics":{"iterations":0,"ttotal_ms":0.1,"escalated":false,"used_model":"dummy"},"messages":[{"role":"assistant","content":"Dummy mini-agent response"}]}"#.to_owned(),
            // Tool messages in finish order, not call order.
            Breakage::ToolOrder => json!({
                "ok": true, "final_answer": "B\nA", "stopped_reason": "success",
                "messages": [
                    {"role": "user", "content": "task"},
                    {"role": "assistant", "content": null, "tool_calls": [
                        {"id": "call_0_0", "type": "function", "function": {"name": "exec_python", "arguments": "{}"}},
                        {"id": "call_0_1", "type": "function", "function": {"name": "exec_python", "arguments": "{}"}}]},
                    {"role": "tool", "tool_call_id": "call_0_1", "content": "B 1.0"},
                    {"role": "tool", "tool_call_id": "call_0_0", "content": "A 2.0"}
                ],
                "metrics": {"iterations": 1, "ttotal_ms": 0.1, "escalated": false, "used_model": "openai/fake-loop"}
            })
            .to_string(),
        };
        ([("content-type", "application/json")], text)
    };
    let app = Router::new()
        .route("/agent/run", post(handler))
        .route("/ready", get(|| async { axum::Json(json!({"ok": true, "hints": {}})) }))
        .fallback(|| async { (axum::http::StatusCode::NOT_FOUND, axum::Json(json!({"detail": "Not Found"}))) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

async fn conformance(args: Vec<String>) -> (i32, Value) {
    tokio::task::spawn_blocking(move || {
        let out =
            Command::cargo_bin("conformance").unwrap().args(&args).timeout(Duration::from_secs(120)).output().unwrap();
        let report = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("report is not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
        (out.status.code().unwrap_or(-1), report)
    })
    .await
    .unwrap()
}

fn verdict<'a>(report: &'a Value, id: &str) -> (&'a str, &'a str) {
    let case = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("{id} not run: {report}"));
    (case["verdict"].as_str().unwrap(), case["reason"].as_str().unwrap_or_default())
}

/// [`args`] with `--strict`: any failure fails the run.
fn strict(base: &str, case: &str, features: &str) -> Vec<String> {
    let mut a = args(base, case, features);
    a.push("--strict".to_owned());
    a
}

fn args(base: &str, case: &str, features: &str) -> Vec<String> {
    ["run", "--base-url", base, "--case", case, "--features", features, "--format", "json"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

#[tokio::test]
async fn a_missing_key_and_a_wrong_key_order_fail_with_the_diff() {
    for breakage in [Breakage::MissingKey, Breakage::WrongOrder] {
        let base = broken(breakage).await;
        let (code, report) = conformance(strict(&base, "envelope.echo.minimal", "dummy")).await;
        assert_eq!(code, 1, "{report}");
        let (v, reason) = verdict(&report, "envelope.echo.minimal");
        assert_eq!(v, "fail");
        assert!(reason.contains("shape differs from snapshot `envelope_echo`"), "{reason}");
        assert!(reason.contains("expected {\"ok\":true,\"final_answer\""), "the reason shows both shapes: {reason}");
    }
}

#[tokio::test]
async fn only_a_required_failure_fails_the_run_unless_strict() {
    // The envelope is the contract's own choice (recommended): reported, counted, the run passes.
    let base = broken(Breakage::MissingKey).await;
    let (code, report) = conformance(args(&base, "envelope.echo.minimal", "dummy")).await;
    assert_eq!(code, 0, "a recommended failure alone passes the run: {report}");
    assert_eq!(report["cases"][0]["level"], "recommended", "{report}");
    assert_eq!(report["levels"]["recommended"]["failed"], 1, "{report}");
    assert!(report["summary"].as_str().unwrap().contains("recommended 0/1"), "{report}");
    // `/v1/models` answered 404 by this target: the openai SDK's `models.list()` breaks (required).
    let (code, report) = conformance(args(&base, "models.list.shape", "dummy")).await;
    assert_eq!((code, report["cases"][0]["level"].as_str()), (1, Some("required")), "{report}");
    assert!(report["summary"].as_str().unwrap().starts_with("required 0/1,"), "{report}");
}

#[tokio::test]
async fn tool_messages_out_of_order_fail() {
    let base = broken(Breakage::ToolOrder).await;
    let (code, report) = conformance(strict(&base, "loop.order.two_parallel", "provider-fake,local-tools")).await;
    assert_eq!(code, 1);
    let (v, reason) = verdict(&report, "loop.order.two_parallel");
    assert_eq!(v, "fail");
    assert!(reason.contains("tool message 0 should answer call 0 (A)"), "{reason}");
}

#[tokio::test]
async fn expected_failures_excuse_gaps_and_stale_entries_fail() {
    let base = broken(Breakage::MissingKey).await;
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("expected.txt");
    std::fs::write(&list, "# known gap\nenvelope.echo.minimal\n").unwrap();
    let mut a = args(&base, "envelope.echo.minimal", "dummy");
    a.extend(["--expected-failures".to_owned(), list.to_str().unwrap().to_owned()]);
    let (code, report) = conformance(a).await;
    assert_eq!(code, 0, "a listed failure is expected: {report}");
    assert_eq!(verdict(&report, "envelope.echo.minimal").0, "expected_fail");

    // A listed case that passes (the reference passes everything) is stale and fails the run.
    std::fs::write(&list, "errors.route.not_found_is_json\n").unwrap();
    let mut a = strict(&base, "errors.route.not_found_is_json", "dummy");
    a.extend(["--expected-failures".to_owned(), list.to_str().unwrap().to_owned()]);
    let (code, report) = conformance(a).await;
    assert_eq!(verdict(&report, "errors.route.not_found_is_json").0, "stale", "{report}");
    assert_eq!(code, 1, "a stale entry fails the run");
}

#[tokio::test]
async fn a_target_without_the_trust_boundary_skips_its_cases_and_never_fails_them() {
    // It answers every `/agent/run` with an envelope, whatever the numbers in it, and has no keys,
    // no client timeouts (plain `axum::serve`) and no outbound policy.
    let base = broken(Breakage::MissingKey).await;
    let (code, report) = conformance(args(&base, "limits.*", "dummy")).await;
    assert_eq!(code, 0, "{report}");
    for id in ["limits.max_total_seconds.out_of_range", "limits.max_iterations.out_of_range"] {
        let (v, reason) = verdict(&report, id);
        assert_eq!(v, "skip", "{report}");
        assert!(reason.contains("is accepted (HTTP 200): no range check"), "{reason}");
    }
    // Probed, the §11 features are found missing, and their cases skip naming them.
    let probing: Vec<String> =
        ["run", "--base-url", &base, "--case", "auth.open_routes.*", "--format", "json"].map(str::to_owned).to_vec();
    let (code, report) = conformance(probing).await;
    assert_eq!(code, 0, "{report}");
    let missing: Vec<&str> = report["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["enabled"] == false)
        .filter_map(|f| f["feature"].as_str())
        .filter(|f| ["auth", "slow-clients", "url-allowlist"].contains(f))
        .collect();
    assert_eq!(missing, ["auth", "slow-clients", "url-allowlist"], "{report}");
    let (v, reason) = verdict(&report, "auth.open_routes.no_key_needed");
    assert_eq!(v, "skip");
    assert!(
        reason.starts_with("needs feature `auth` (to enable: start the target with MINI_AGENT_API_KEYS_FILE="),
        "{reason}"
    );
}
