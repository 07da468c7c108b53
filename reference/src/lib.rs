//! miniagent: a small, fast agent proxy for LLMs — the reference implementation of the contract in
//! `CONTRACT.md`.
//!
//! Components, in the order a request meets them:
//! - [`env`] — how settings are read (one lookup, one set of parsing rules, problems collected);
//!   [`config`] assembles every module's own settings once, with the flags, never from handlers;
//!   `config_doc` (tests only) generates the configuration reference from those reads.
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
//!
//! Modules are private; the public front (re-exports at the end of this file, and the modules the
//! binary addresses by path) is what the binary, the conformance adapter, the harness, the benches
//! and the integration tests use.

#![warn(unreachable_pub)]

mod agent;
mod anthropic;
mod api;
mod auth;
pub mod batch;
mod config;
#[cfg(test)]
mod config_doc;
pub mod doctor;
mod env;
mod envelope;
mod error;
pub mod exec_rpc;
mod http;
mod json_budget;
mod listen;
mod openai;
mod openai_shape;
mod outbound;
mod parallel;
mod process;
mod provider;
pub mod response_utils;
mod secret;
pub mod serve;
pub mod sidecar;
mod telemetry;
mod text;
mod tools;
pub mod tools_stub;
mod trace;
mod transport;

// The deliberate front: what the binary, the conformance adapter, the harness, the benches and the
// integration tests use, and nothing more. Everything else is `pub(crate)`, and `unreachable_pub`
// (the attribute above) keeps it so. The six public modules are the servers and commands the binary
// runs, each with its `app(state) -> Router` or `run`, addressed by path because their names overlap.

// The façade: settings, state, router, where it listens and its keys.
pub use auth::keys::KeyRing;
pub use config::{Config, Flags};
pub use env::Env;
pub use http::routes::app;
pub use http::state::{AppState, SharedState, StartupError};
pub use json_budget::MAX_JSON_VALUES;
pub use listen::{ClientLimits, DEFAULT_HOST, DEFAULT_MAX_BODY_BYTES, Listen};

// The agent loop, its model and its tools, for tests and benches that drive them without HTTP.
pub use agent::model::ChatModel;
pub use agent::outcome::StoppedReason;
pub use agent::run_loop::run_loop;
pub use agent::settings::LoopEnv;
pub use api::{Escalation, RunSpec};
pub use provider::chat::{ChatRequest, Completion};
pub use provider::client::Providers;
pub use provider::error::ProviderError;
pub use provider::kind::ProviderKind;
pub use provider::stream::aggregate as aggregate_stream;
pub use tools::ToolBackend;
pub use tools::call::ToolCall;
pub use tools::http::{HttpToolSettings, HttpTools};
pub use tools::local::{LocalSettings, LocalTools};
pub use tools::result::ToolResult;

// The process sandbox every tool call and exec-RPC snippet runs in.
pub use process::init::main as tool_init_main;
pub use process::network::host_addresses;
pub use process::sandbox::Sandbox;
pub use process::sandbox::{Mode as SandboxMode, SandboxSettings};

// Parallel completions (`/v1/parallel`, `miniagent batch`).
pub use parallel::{Budget, ParallelError, ParallelOptions, complete_all};

// Logging and spans, set up by the binary before anything else.
pub use outbound::redacted as redacted_url;
pub use telemetry::logs::OneLine;
pub use telemetry::otel::{Otel, OtelSettings, TARGET as OTEL_TARGET};

/// The router's decision and its driver, for the router bench: picking a deployment and running
/// one call through retries and fallbacks without HTTP.
pub mod router {
    pub use crate::parallel::one as complete_one;
    pub use crate::provider::router::config::RouterConfig;
    pub use crate::provider::router::drive::{drive, fault_of};
    pub use crate::provider::router::state::Router;
}
