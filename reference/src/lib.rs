//! miniagent: a small, fast agent proxy for LLMs — the reference implementation of the contract in
//! `CONTRACT.md`.
//!
//! Components, in the order a request meets them:
//! - [`config`] — settings read once from the environment (and flags), never from handlers.
//! - [`http`] — the façade: route table, bounded body extraction, one handler module per area.
//! - [`api`] — wire types of `/agent/run` and their validation into a [`api::RunSpec`].
//! - [`agent`] — what a run does: one model call (`echo`, `router`) or the agent loop (pruning,
//!   code blocks, tool calls in order, repair, budget and escalation).
//! - [`provider`] — model names to calls: routes, the OpenAI-compatible wire call, the dummy model,
//!   the router config file.
//! - [`tools`] — tool backends: local tools under process control (group kill, bounded output), and
//!   the HTTP tools invoker with its own exact-casing HTTP/1.1 client.
//! - [`envelope`] — the response envelope, a pure function of a run's outcome.
//! - [`trace`] — JSONL traces with a single writer.
//! - [`error`] — the one error type at the HTTP boundary.
//! - [`exec_rpc`] — the exec-RPC server: snippets in several languages under the same process control.
//! - [`tools_stub`] — an example HTTP tools server (`miniagent tools-stub`).
//! - [`parallel`] / [`batch`] — parallel completions with `scillm_router` metadata, and the JSONL CLI.
//! - [`response_utils`] — `extract_content`, `assemble_stream_text`, `augment_json_with_cost`.
//! - [`sidecar`] — the codex sidecar: an OpenAI-compatible front for a coding CLI.
//! - [`doctor`] — the runbook's checklist as one command.
//! - [`serve`] — binding and serving, shared by the binary and tests that want a real socket.

pub mod agent;
pub mod api;
pub mod batch;
pub mod config;
pub mod doctor;
pub mod envelope;
pub mod error;
pub mod exec_rpc;
pub mod http;
pub mod parallel;
pub mod provider;
pub mod response_utils;
pub mod serve;
pub mod sidecar;
pub mod tools;
pub mod tools_stub;
pub mod trace;

pub use config::Config;
pub use http::{AppState, SharedState, app};
