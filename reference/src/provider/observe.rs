//! What a provider call leaves behind besides its answer: a span (OpenTelemetry's GenAI
//! conventions — operation, provider, model, status, token counts; never content or keys) and the
//! call's metrics (outcome, duration with retries and waits, retries).

use std::time::Instant;

use serde_json::Value;
use tracing::field::Empty;

use super::error::ProviderError;
use super::route::Route;
use crate::telemetry::metrics::Metrics;
use crate::telemetry::otel::TARGET;
use crate::transport::retry::RetryStats;

/// The span of one call (`operation`: `chat`, `embeddings`); a disabled span when spans are off or
/// the request is not sampled.
pub(crate) fn call_span(route: &Route, operation: &'static str) -> tracing::Span {
    if !crate::telemetry::otel::traced() {
        return tracing::Span::none();
    }
    tracing::debug_span!(
        target: TARGET,
        "model call",
        otel.name = %format_args!("{operation} {}", route.upstream_model),
        otel.kind = "client",
        otel.status_code = Empty,
        gen_ai.operation.name = operation,
        gen_ai.provider.name = %route.kind,
        gen_ai.request.model = %route.upstream_model,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        http.response.status_code = Empty,
        error.type = Empty,
        miniagent.retries = Empty,
    )
}

/// The metrics label of a call's outcome.
pub(crate) fn outcome_of(error: Option<&ProviderError>) -> &'static str {
    match error {
        None => "ok",
        Some(ProviderError::Upstream { status, .. }) if *status >= 500 => "server_error",
        Some(ProviderError::Upstream { .. }) => "client_error",
        Some(ProviderError::Timeout { .. }) => "timeout",
        Some(ProviderError::Transport { .. }) => "unreachable",
        Some(ProviderError::InvalidResponse { .. }) => "invalid_response",
        Some(_) => "refused",
    }
}

/// The label of an HTTP status a provider answered with.
pub(crate) fn outcome_of_status(status: u16) -> &'static str {
    match status {
        200..=299 => "ok",
        500.. => "server_error",
        _ => "client_error",
    }
}

/// Records a finished call on its span and in the metrics.
pub(crate) fn finish(
    span: &tracing::Span,
    metrics: Option<&Metrics>,
    route: &Route,
    outcome: &'static str,
    stats: &RetryStats,
    started: Instant,
) {
    let retries = stats.attempts.saturating_sub(1);
    if let Some(m) = metrics {
        m.provider_call(route.kind.name(), outcome, retries, started.elapsed());
    }
    if span.is_disabled() {
        return;
    }
    span.record("miniagent.retries", retries);
    if let Some(status) = stats.final_status {
        span.record("http.response.status_code", status);
    }
    if outcome != "ok" {
        span.record("otel.status_code", "ERROR");
        span.record("error.type", outcome);
    }
}

/// Puts the token counts of a streamed chunk that carries `usage` on the call's span.
pub(crate) fn record_chunk_usage(span: &tracing::Span, data: &str) {
    if !span.is_disabled()
        && data.contains("\"usage\"")
        && let Ok(chunk) = serde_json::from_str::<Value>(data)
    {
        record_usage(span, chunk.get("usage"));
    }
}

/// Puts a completion's token counts (its `usage`) on its span.
pub(crate) fn record_usage(span: &tracing::Span, usage: Option<&Value>) {
    if span.is_disabled() {
        return;
    }
    let count = |names: [&str; 2]| names.iter().find_map(|n| usage.and_then(|u| u.get(*n)).and_then(Value::as_u64));
    if let Some(n) = count(["prompt_tokens", "input_tokens"]) {
        span.record("gen_ai.usage.input_tokens", n);
    }
    if let Some(n) = count(["completion_tokens", "output_tokens"]) {
        span.record("gen_ai.usage.output_tokens", n);
    }
}
