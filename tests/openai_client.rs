//! The official OpenAI Python client against the real `miniagent serve`: non-streaming and
//! streaming chat completions, the models list, and a typed error. The client comes from
//! `make py-venvs` (`target/py-venvs/openai`, or `OPENAI_CLIENT_PYTHON`); without it the test is
//! reported as ignored with that advice (or fails under `MINIAGENT_REQUIRE_PY_PEERS=1`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use assert_cmd::cargo::cargo_bin;
use common::{or_ignore, trial};
use harness::ServerProcess;
use libtest_mimic::Completion;

async fn the_official_openai_client_works_against_serve() -> Completion {
    let python = or_ignore!(harness::python_peer("openai", "OPENAI_CLIENT_PYTHON"));
    let echo = ServerProcess::start(&cargo_bin("miniagent"), &["serve", "--demo", "--port", "0"], &[]).unwrap();
    let strict = ServerProcess::start(&cargo_bin("miniagent"), &["serve", "--port", "0"], &[]).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/python/openai_client_check.py");
    let out = Command::new(python).args([script, &echo.base_url(), &strict.base_url()]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for check in ["ok: non-streaming", "ok: streaming", "ok: /chat/completions", "ok: models", "ok: BadRequestError"] {
        assert!(stdout.contains(check), "missing `{check}` in:\n{stdout}");
    }
    Completion::Completed
}

fn main() {
    common::run_trials(vec![trial(
        "the_official_openai_client_works_against_serve",
        the_official_openai_client_works_against_serve,
    )])
}
