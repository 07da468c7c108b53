//! `miniagent doctor` against real processes: all green on a healthy echo stack, and each of the
//! runbook's failure modes caught with the fix it needs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use assert_cmd::Command;
use assert_cmd::cargo::cargo_bin;
use harness::ServerProcess;
use serde_json::Value;

struct Stack {
    facade: ServerProcess,
    sidecar: ServerProcess,
    _home: tempfile::TempDir,
}

fn stack(sidecar_echo: bool) -> Stack {
    let home = tempfile::tempdir().unwrap();
    let facade = ServerProcess::start(&cargo_bin("miniagent"), &["serve", "--demo", "--port", "0"], &[]).unwrap();
    let echo = if sidecar_echo { "1" } else { "0" };
    let sidecar = ServerProcess::start(
        &cargo_bin("miniagent"),
        &["sidecar", "--port", "0"],
        &[("CODEX_SIDECAR_ECHO", echo), ("HOME", home.path().to_str().unwrap())],
    )
    .unwrap();
    Stack { facade, sidecar, _home: home }
}

fn doctor(stack: &Stack, env: &[(&str, &str)]) -> (bool, Value) {
    let mut cmd = Command::cargo_bin("miniagent").unwrap();
    cmd.args(["doctor", "--json"]).timeout(Duration::from_secs(60)).env("HOME", stack._home.path());
    cmd.env("MINI_AGENT_URL", stack.facade.base_url());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.success(), report)
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {report}"))
}

#[test]
fn a_healthy_echo_stack_passes_every_check() {
    let s = stack(true);
    let base = s.sidecar.base_url();
    let (ok, report) = doctor(
        &s,
        &[
            ("LITELLM_ENABLE_CODEX_AGENT", "1"),
            ("CODEX_AGENT_API_BASE", &base),
            ("SCILLM_RETRY_META", "1"),
            ("CODEX_AGENT_ENABLE_METRICS", "1"),
        ],
    );
    assert!(ok, "{report:#}");
    for c in report["checks"].as_array().unwrap() {
        assert_eq!(c["status"], "ok", "{c}");
    }
    assert!(check(&report, "parallel echo probe")["detail"].as_str().unwrap().contains("echo: doctor probe"));
}

#[test]
fn the_runbooks_failure_modes_are_named_with_their_fix() {
    let s = stack(false);
    let base = s.sidecar.base_url();
    // A /v1 base, and the auth file missing with echo off.
    let with_v1 = format!("{base}/v1");
    let (ok, report) = doctor(&s, &[("LITELLM_ENABLE_CODEX_AGENT", "1"), ("CODEX_AGENT_API_BASE", &with_v1)]);
    assert!(!ok);
    let c = check(&report, "codex-agent base");
    assert_eq!(c["status"], "fail");
    assert!(c["fix"].as_str().unwrap().contains("remove /v1"), "{c}");
    let c = check(&report, "auth file");
    assert_eq!(c["status"], "fail");
    assert!(c["fix"].as_str().unwrap().contains("CODEX_SIDECAR_ECHO=1"), "{c}");

    // The enable flag missing.
    let (ok, report) = doctor(&s, &[("CODEX_AGENT_API_BASE", &base)]);
    assert!(!ok);
    assert!(check(&report, "codex-agent enabled")["fix"].as_str().unwrap().contains("LITELLM_ENABLE_CODEX_AGENT=1"));

    // An unreachable base.
    let port = harness::free_port().unwrap();
    let dead = format!("http://127.0.0.1:{port}");
    let (ok, report) = doctor(&s, &[("LITELLM_ENABLE_CODEX_AGENT", "1"), ("CODEX_AGENT_API_BASE", &dead)]);
    assert!(!ok);
    assert_eq!(check(&report, "sidecar health")["status"], "fail");
    let probe = check(&report, "parallel echo probe");
    assert_eq!(probe["status"], "fail");
    assert!(probe["fix"].as_str().unwrap().contains("unreachable"), "{probe}");
}
