//! The official OpenAI Python client against the real `miniagent serve`: non-streaming and
//! streaming chat completions, the models list, and a typed error. The client comes from
//! `make py-venvs` (`target/py-venvs/openai`, or `OPENAI_CLIENT_PYTHON`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use assert_cmd::cargo::cargo_bin;
use harness::ServerProcess;

#[test]
fn the_official_openai_client_works_against_serve() {
    let Some(python) = harness::python_peer("openai", "OPENAI_CLIENT_PYTHON") else { return };
    let echo = ServerProcess::start(&cargo_bin("miniagent"), &["serve", "--demo", "--port", "0"], &[]).unwrap();
    let strict = ServerProcess::start(&cargo_bin("miniagent"), &["serve", "--port", "0"], &[]).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/python/openai_client_check.py");
    let out = Command::new(python).args([script, &echo.base_url(), &strict.base_url()]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for check in ["ok: non-streaming", "ok: streaming", "ok: /chat/completions", "ok: models", "ok: BadRequestError"] {
        assert!(stdout.contains(check), "missing `{check}` in:\n{stdout}");
    }
}
