//! Tools: where the agent loop's tool calls go.
//!
//! A [`ToolBackend`] lists the tools it offers (OpenAI function definitions) and runs one call to a
//! [`result::ToolResult`]. A failure is part of the result (`ok:false` with an `error`), never an
//! `Err`: the loop records it and lets the model repair. Backends: [`local`] (in-process tools and
//! subprocesses under [`crate::process`] control), [`http`] (an HTTP tools server) and [`mcp`].
//!
//! The backend is a trait, not an enum, because the loop's ordering and timing properties are
//! tested against a fake backend with scripted delays.

pub(crate) mod call;
pub(crate) mod http;
pub(crate) mod local;
pub(crate) mod mcp;
pub(crate) mod observed;
pub(crate) mod result;

use std::future::Future;

use serde_json::Value;

use call::ToolCall;
use result::ToolResult;

/// Where tool calls go.
pub trait ToolBackend: Send + Sync {
    /// The tools to offer the model, as OpenAI `{"type":"function","function":{…}}` definitions.
    /// An `Err` is a message for the model and the trace (the backend could not list its tools).
    fn list(&self) -> impl Future<Output = Result<Vec<Value>, String>> + Send;

    /// The canonical name of `requested` if this backend runs it, given what it listed.
    fn resolve(&self, requested: &str, listed: &[Value]) -> Option<String> {
        listed.iter().any(|t| tool_name(t) == Some(requested)).then(|| requested.to_owned())
    }

    /// Runs one call.
    fn invoke(&self, call: &ToolCall) -> impl Future<Output = ToolResult> + Send;
}

/// The `function.name` of an OpenAI tool definition.
pub(crate) fn tool_name(tool: &Value) -> Option<&str> {
    tool.pointer("/function/name").and_then(Value::as_str).or_else(|| tool.get("name").and_then(Value::as_str))
}
