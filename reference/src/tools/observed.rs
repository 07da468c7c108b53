//! [`Observed`]: any [`ToolBackend`] with a span and metrics around each call — the tool's name,
//! backend and outcome, never its arguments or output. The loop runs the wrapped backend and knows
//! nothing of telemetry.

use std::time::Instant;

use serde_json::Value;
use tracing::Instrument;
use tracing::field::Empty;

use super::ToolBackend;
use super::call::ToolCall;
use super::result::ToolResult;
use crate::telemetry::metrics::Metrics;
use crate::telemetry::otel::TARGET;

/// `inner`, observed as backend `backend` (`local`, `http`, `mcp`).
pub(crate) struct Observed<'a, T> {
    inner: &'a T,
    backend: &'static str,
    metrics: Option<&'a Metrics>,
}

impl<'a, T: ToolBackend> Observed<'a, T> {
    pub(crate) fn new(inner: &'a T, backend: &'static str, metrics: Option<&'a Metrics>) -> Self {
        Self { inner, backend, metrics }
    }
}

impl<T: ToolBackend> ToolBackend for Observed<'_, T> {
    async fn list(&self) -> Result<Vec<Value>, String> {
        self.inner.list().await
    }

    fn resolve(&self, requested: &str, listed: &[Value]) -> Option<String> {
        self.inner.resolve(requested, listed)
    }

    async fn invoke(&self, call: &ToolCall) -> ToolResult {
        let span = if crate::telemetry::otel::traced() {
            tracing::debug_span!(
                target: TARGET,
                "tool call",
                otel.name = %format_args!("execute_tool {}", call.name),
                otel.kind = "internal",
                otel.status_code = Empty,
                gen_ai.operation.name = "execute_tool",
                gen_ai.tool.name = %call.name,
                gen_ai.tool.call.id = %call.id,
                miniagent.tool.backend = self.backend,
                miniagent.tool.ok = Empty,
            )
        } else {
            tracing::Span::none()
        };
        let started = Instant::now();
        let result = self.inner.invoke(call).instrument(span.clone()).await;
        if let Some(m) = self.metrics {
            m.tool_call(self.backend, result.ok, started.elapsed());
        }
        if !span.is_disabled() {
            span.record("miniagent.tool.ok", result.ok);
            if !result.ok {
                span.record("otel.status_code", "ERROR");
            }
        }
        result
    }
}
