//! The reference's integration tests, one binary (ripgrep's layout): each `mod` is a topic, so the
//! crate is linked once for all of them instead of once per file. Suites whose prerequisites may be
//! missing (`sandbox`, `exec_rpc`, `redis_limits`, `router_redis`) stay separate binaries on
//! libtest-mimic, so what cannot run here is reported as ignored with the reason.
//!
//! Everything here shares one process: no test may rely on process-global state of its own (the
//! environment, the current directory, a global tracing subscriber). Secrets registered for
//! redaction (`Secret::new`) are process-wide and only ever add redactions, so tests use values no
//! other test prints.

/// The agent loop against a scripted model under paused time.
mod agent_loop;
/// The `miniagent` binary's command line.
mod cli;
/// Façade behaviours beside the conformance cases: delays, unwritable traces, secrets.
mod facade;
/// Hostile bodies against the façade, exec-RPC and the sidecar (proptest).
mod fuzz_requests;
/// The HTTP tools invoker's retries (proptest).
mod http_retries;
/// Parallel completions against an upstream on loopback.
mod parallel;
/// Local tools leave no process behind.
mod process_tree;
/// Providers against wiremock fakes.
mod providers;
/// The codex sidecar in-process, with a fake coding CLI.
mod sidecar;
/// The streaming proxy of `/v1/chat/completions`.
mod streaming;
/// `/metrics` and OTLP spans of the real binary.
mod telemetry;
