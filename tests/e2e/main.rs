//! The real binaries end to end, one test binary (ripgrep's layout): each `mod` is a topic, so the
//! workspace is linked once for all of them. Suites whose prerequisites may be missing (`live`,
//! `mcp`, `python_clients`, `codex_cli`, `anthropic_clients`, `containers`, `scale`) stay separate
//! binaries on libtest-mimic, reporting what cannot run here as ignored with the reason; `tidy`
//! stays apart because it reads sources, not binaries.

#[path = "../common/mod.rs"]
mod common;

/// `miniagent batch` over JSONL files against a fake provider.
mod batch;
/// The `miniagent` and `conformance` binaries, started by `harness`.
mod binary;
/// The conformance binary fails targets that break the contract.
mod broken_target;
/// `miniagent doctor` against healthy and broken setups.
mod doctor;
