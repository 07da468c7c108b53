//! The `miniagent` binary's command line (this test also makes `cargo test` build the binary the
//! workspace end-to-end tests drive).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn help_lists_serve() {
    let out = Command::new(env!("CARGO_BIN_EXE_miniagent")).arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("serve"));
}

#[test]
fn serve_rejects_a_non_numeric_port_from_the_environment() {
    let out = Command::new(env!("CARGO_BIN_EXE_miniagent"))
        .args(["serve"])
        .env("MINI_AGENT_API_PORT", "eighty")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("MINI_AGENT_API_PORT") && err.contains("eighty"), "{err}");
}
