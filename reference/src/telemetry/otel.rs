//! OpenTelemetry over OTLP (CONTRACT §12): spans for each request, model call and tool call, sent
//! to `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`) over OTLP/HTTP — protobuf, or JSON
//! with `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`. Off when neither endpoint is set, or with
//! `OTEL_SDK_DISABLED=true` / `OTEL_TRACES_EXPORTER=none`. The exporter reads the other standard
//! variables itself (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`,
//! `OTEL_BSP_*`, …).
//!
//! Our spans are `tracing` spans at DEBUG level under the target [`TARGET`]: the log output (INFO
//! by default) never formats them, and with OpenTelemetry off no layer wants them, so a disabled
//! span costs one cached callsite check. Span fields carry the model, backend, status and token
//! counts — never message content, arguments or keys.
//!
//! W3C trace context: an incoming `traceparent` becomes the request span's parent
//! ([`continue_trace`]); provider, tools-server and MCP calls carry the current span's
//! `traceparent` ([`outgoing_headers`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::env::Env;

/// The `tracing` target of the spans exported over OTLP.
pub const TARGET: &str = "miniagent::otel";

/// Whether spans are exported (set once, at startup); with it off nothing extracts or injects.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether and how to export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OtelSettings {
    /// The endpoint variable's value when export is on.
    pub endpoint: Option<String>,
    /// `OTEL_SERVICE_NAME` or a `service.name` resource attribute was given (else we say `miniagent`).
    pub service_named: bool,
    /// `http/json` was asked for; protobuf otherwise (the OTLP default).
    pub json: bool,
}

impl OtelSettings {
    pub fn from_env(env: &Env) -> Self {
        let disabled = env.get("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
            || env.get("OTEL_TRACES_EXPORTER").is_some_and(|v| v.trim().eq_ignore_ascii_case("none"));
        let endpoint = env
            .get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .or_else(|| env.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
            .filter(|v| !v.trim().is_empty() && !disabled);
        let protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| env.get("OTEL_EXPORTER_OTLP_PROTOCOL"));
        let json = protocol.as_deref().is_some_and(|p| p.trim() == "http/json");
        if let Some(p) = protocol
            && endpoint.is_some()
            && !matches!(p.trim(), "http/protobuf" | "http/json")
        {
            env.problem(format!(
                "OTEL_EXPORTER_OTLP_PROTOCOL={p} is not supported: use http/protobuf (the default) or http/json, \
                 and an OTLP/HTTP endpoint (usually port 4318)"
            ));
        }
        let service_named = env.get("OTEL_SERVICE_NAME").is_some()
            || env.get("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|a| a.contains("service.name="));
        Self { endpoint, service_named, json }
    }
}

/// A running exporter: flushes what it holds when dropped (at shutdown).
#[derive(Debug)]
pub struct Otel {
    provider: SdkTracerProvider,
}

impl Otel {
    /// Starts the exporter, or `Ok(None)` when export is off.
    pub fn start(settings: &OtelSettings) -> Result<Option<Self>, String> {
        let Some(endpoint) = &settings.endpoint else { return Ok(None) };
        crate::transport::tls::install_crypto_provider();
        let protocol = if settings.json { Protocol::HttpJson } else { Protocol::HttpBinary };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .build()
            .map_err(|e| format!("cannot start the OTLP exporter for {endpoint}: {e}"))?;
        let mut resource = opentelemetry_sdk::Resource::builder();
        if !settings.service_named {
            resource = resource.with_service_name("miniagent");
        }
        let provider =
            SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.build()).build();
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        ENABLED.store(true, Ordering::Relaxed);
        Ok(Some(Self { provider }))
    }

    /// The tracer for the `tracing-opentelemetry` layer.
    pub fn tracer(&self) -> SdkTracer {
        self.provider.tracer("miniagent")
    }
}

impl Drop for Otel {
    fn drop(&mut self) {
        ENABLED.store(false, Ordering::Relaxed);
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!("OTLP exporter did not flush at shutdown: {e}");
        }
    }
}

/// Whether spans are being exported.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Makes `span` continue the trace of an incoming W3C `traceparent` (and `tracestate`).
pub fn continue_trace(span: &tracing::Span, headers: &http::HeaderMap) {
    if !enabled() || span.is_disabled() || !headers.contains_key("traceparent") {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    // A malformed traceparent extracts to an empty context: the span then starts its own trace.
    let _ = span.set_parent(parent);
}

/// The W3C trace headers (`traceparent`, `tracestate`) of the current span, for an outgoing call;
/// empty when export is off.
pub fn outgoing_headers() -> Vec<(String, String)> {
    if !enabled() {
        return Vec::new();
    }
    let span = tracing::Span::current();
    if span.is_disabled() {
        return Vec::new();
    }
    let mut carrier: HashMap<String, String> = HashMap::new();
    TraceContextPropagator::new().inject_context(&span.context(), &mut carrier);
    let mut pairs: Vec<(String, String)> = carrier.into_iter().collect();
    pairs.sort();
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> (OtelSettings, Vec<String>) {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let var = move |k: &str| map.get(k).cloned();
        let env = Env::new(&var);
        let s = OtelSettings::from_env(&env);
        (s, env.into_problems())
    }

    #[test]
    fn off_unless_an_endpoint_is_set_and_the_sdk_is_not_disabled() {
        assert_eq!(settings(&[]).0.endpoint, None);
        assert_eq!(
            settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")]).0.endpoint.as_deref(),
            Some("http://127.0.0.1:4318")
        );
        assert_eq!(
            settings(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/v1/traces")]).0.endpoint.as_deref(),
            Some("http://c:4318/v1/traces")
        );
        assert_eq!(
            settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"), ("OTEL_SDK_DISABLED", "true")]).0.endpoint,
            None
        );
        assert_eq!(
            settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"), ("OTEL_TRACES_EXPORTER", "none")]).0.endpoint,
            None
        );
    }

    #[test]
    fn grpc_is_a_startup_problem_that_says_what_to_use() {
        let (_, problems) =
            settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("http/protobuf"), "{problems:?}");
        assert!(
            settings(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).1.is_empty(),
            "no endpoint, no export, no problem"
        );
    }

    #[test]
    fn the_service_is_named_miniagent_unless_the_operator_named_it() {
        assert!(!settings(&[]).0.service_named);
        assert!(settings(&[("OTEL_SERVICE_NAME", "gw")]).0.service_named);
        assert!(settings(&[("OTEL_RESOURCE_ATTRIBUTES", "a=b,service.name=gw")]).0.service_named);
    }

    #[test]
    fn nothing_is_injected_while_export_is_off() {
        assert!(outgoing_headers().is_empty());
    }
}
