//! miniagent: a small, fast agent proxy for LLMs — the reference implementation of the contract in
//! `CONTRACT.md`.
//!
//! Components, in the order a request meets them:
//! - [`env`] — how settings are read (one lookup, one set of parsing rules, problems collected);
//!   [`config`] assembles every module's own settings once, with the flags, never from handlers;
//!   [`config_doc`] generates the configuration reference from those reads.
//! - [`secret`], [`text`] — leaves: a credential that never prints, short excerpts of long texts.
//! - [`http`] — the façade: route table, bounded body extraction, one handler module per area.
//! - [`auth`] — API keys, per-key rate limits and backend lists: the front door of every server.
//! - [`json_budget`] — how many JSON values a body holds, counted before parsing it whole.
//! - [`api`] — wire types of `/agent/run` and their validation into a [`api::RunSpec`].
//! - [`agent`] — what a run does: one model call (`echo`, `router`) or the agent loop (pruning,
//!   code blocks, tool calls in order, repair, budget and escalation).
//! - [`provider`] — model names to calls: routes, the OpenAI-compatible wire call, the dummy model,
//!   the router config file.
//! - [`tools`] — tool backends: local tools, the HTTP tools invoker with its own exact-casing
//!   HTTP/1.1 client, and the MCP client.
//! - [`process`] — the one process spawner (group kill, bounded output, timeouts).
//! - [`transport`] — the one retry driver and `Retry-After` parser every outbound call shares.
//! - [`openai`], [`openai_shape`] — the OpenAI surface (proxy, echo, agent modes; the Responses
//!   bridge; embeddings; models) and the response shapes it shares with the sidecar.
//! - [`anthropic`] — the Anthropic surface (`/v1/messages`): native to an `anthropic/` provider,
//!   bridged onto chat completions for any other.
//! - [`envelope`] — the response envelope, a pure function of a run's outcome.
//! - [`trace`] — JSONL traces with a single writer.
//! - [`telemetry`] — Prometheus metrics and OpenTelemetry spans (W3C trace context in and out).
//! - [`error`] — the one error type at the HTTP boundary.
//! - [`exec_rpc`] — the exec-RPC server: snippets in several languages under the same process control.
//! - [`tools_stub`] — an example HTTP tools server (`miniagent tools-stub`).
//! - [`parallel`] / [`batch`] — parallel completions with `scillm_router` metadata, and the JSONL CLI.
//! - [`response_utils`] — `extract_content`, `assemble_stream_text`, `augment_json_with_cost`.
//! - [`sidecar`] — the codex sidecar: an OpenAI-compatible front for a coding CLI.
//! - [`doctor`] — the runbook's checklist as one command.
//! - [`serve`] — binding and serving, shared by the binary and tests that want a real socket.

pub mod agent;
pub mod anthropic;
pub mod api;
pub mod auth;
pub mod batch;
pub mod config;
pub mod config_doc;
pub mod doctor;
pub mod env;
pub mod envelope;
pub mod error;
pub mod exec_rpc;
pub mod http;
pub mod json_budget;
pub mod listen;
pub mod openai;
pub mod openai_shape;
pub mod outbound;
pub mod parallel;
pub mod process;
pub mod provider;
pub mod response_utils;
pub mod secret;
pub mod serve;
pub mod sidecar;
pub mod telemetry;
pub mod text;
pub mod tools;
pub mod tools_stub;
pub mod trace;
pub mod transport;

pub use config::Config;
pub use http::{AppState, SharedState, app};
