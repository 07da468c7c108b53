//! OpenTelemetry over OTLP (CONTRACT §12): spans for each request, model call and tool call, sent
//! to `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`) over OTLP/HTTP — protobuf, or JSON
//! with `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`. Off when neither endpoint is set, or with
//! `OTEL_SDK_DISABLED=true` / `OTEL_TRACES_EXPORTER=none`. The exporter reads the other standard
//! variables itself (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`,
//! `OTEL_BSP_*`, …).
//!
//! A request's own span is made with the SDK directly by the front layer ([`request_context`]) and
//! the request runs in its OpenTelemetry context: no `tracing` span, no bridge, no per-layer filter
//! for the one span every traced request has (the bridge cost ≈ 10 k instructions a span,
//! `benches/README.md`). The spans inside it — model calls, tool calls, routing — are `tracing`
//! spans at DEBUG level under the target [`TARGET`], whose parent the bridge takes from that
//! context: the log output (INFO by default) never formats them, and with OpenTelemetry off no layer
//! wants them, so a disabled span costs one cached callsite check. Span fields carry the model,
//! backend, status and token counts — never message content, arguments or keys.
//!
//! Sampling (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`, the standard values) is decided by
//! the front layer once per request, *before* any span exists ([`sampled`]): an unsampled request
//! creates no span at all — not the request's, not its model or tool calls' ([`traced`]) — so
//! sampling 1 in 10 costs about a tenth of tracing every request. The SDK's own sampler is then
//! `AlwaysOn`: every span that exists was chosen. Parent-based samplers follow the sampled flag of a
//! client's `traceparent`; a ratio is drawn per request (the trace id does not exist yet).
//!
//! W3C trace context: an incoming `traceparent` becomes the request span's parent; provider, tools-server and MCP calls carry the current span's
//! `traceparent` ([`outgoing_headers`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::env::Env;

/// The `tracing` target of the spans exported over OTLP.
pub const TARGET: &str = "miniagent::otel";

/// Whether spans are exported (set once, at startup); with it off nothing extracts or injects.
static ENABLED: AtomicBool = AtomicBool::new(false);
/// The sampling of the running exporter ([`Sampling`]): the ratio's bits, and parent-based or not.
static RATIO_BITS: AtomicU64 = AtomicU64::new(0x3FF0_0000_0000_0000); // 1.0
static PARENT_BASED: AtomicBool = AtomicBool::new(true);
/// The W3C header, named once: looked up by a `&str`, a header name is parsed and checked on every
/// lookup (callgrind: `sampled` took 450 instructions a request that way, 250 this way).
static TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");
/// The running exporter's tracer, for the request spans the front layer makes ([`request_context`]).
static TRACER: RwLock<Option<SdkTracer>> = RwLock::new(None);

/// Which requests are traced (`OTEL_TRACES_SAMPLER`): a share of them, and whether a client's
/// `traceparent` decides instead (the `parentbased_*` samplers; the SDK's default is
/// `parentbased_always_on`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    pub ratio: f64,
    pub parent_based: bool,
}

impl Default for Sampling {
    fn default() -> Self {
        Self { ratio: 1.0, parent_based: true }
    }
}

impl Sampling {
    fn from_env(env: &Env) -> Self {
        let (sampler, arg) = (env.get("OTEL_TRACES_SAMPLER"), env.get("OTEL_TRACES_SAMPLER_ARG"));
        let Some(sampler) = sampler else { return Self::default() };
        let arg = || match &arg {
            None => 1.0,
            Some(v) => match v.trim().parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => r,
                _ => {
                    env.problem(format!(
                        "OTEL_TRACES_SAMPLER_ARG={v} is not a ratio: write a number from 0 to 1 (0.1 traces one request in ten)"
                    ));
                    1.0
                }
            },
        };
        let (ratio, parent_based) = match sampler.trim() {
            "always_on" => (1.0, false),
            "always_off" => (0.0, false),
            "traceidratio" => (arg(), false),
            "parentbased_always_on" => (1.0, true),
            "parentbased_always_off" => (0.0, true),
            "parentbased_traceidratio" => (arg(), true),
            other => {
                env.problem(format!(
                    "OTEL_TRACES_SAMPLER={other} is not supported: use always_on, always_off, traceidratio or their \
                     parentbased_ forms (with OTEL_TRACES_SAMPLER_ARG for the ratio)"
                ));
                return Self::default();
            }
        };
        Self { ratio, parent_based }
    }
}

/// Whether and how to export.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OtelSettings {
    /// The endpoint variable's value when export is on.
    pub endpoint: Option<String>,
    /// `OTEL_SERVICE_NAME` or a `service.name` resource attribute was given (else we say `miniagent`).
    pub service_named: bool,
    /// `http/json` was asked for; protobuf otherwise (the OTLP default).
    pub json: bool,
    /// Which requests are traced.
    pub sampling: Sampling,
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
        let sampling = if endpoint.is_some() { Sampling::from_env(env) } else { Sampling::default() };
        Self { endpoint, service_named, json, sampling }
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
        // Every span that exists was sampled already (`sampled`, before the request's span).
        let provider = SdkTracerProvider::builder()
            .with_sampler(Sampler::AlwaysOn)
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build();
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        RATIO_BITS.store(settings.sampling.ratio.to_bits(), Ordering::Relaxed);
        PARENT_BASED.store(settings.sampling.parent_based, Ordering::Relaxed);
        if let Ok(mut tracer) = TRACER.write() {
            *tracer = Some(provider.tracer("miniagent"));
        }
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
        if let Ok(mut tracer) = TRACER.write() {
            *tracer = None;
        }
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!("OTLP exporter did not flush at shutdown: {e}");
        }
    }
}

/// Whether spans are being exported.
pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Whether this request is traced — decided before any of its spans exists. With a parent-based
/// sampler a client's `traceparent` decides (its sampled flag); otherwise the ratio is drawn.
pub(crate) fn sampled(headers: &http::HeaderMap) -> bool {
    if !enabled() {
        return false;
    }
    if PARENT_BASED.load(Ordering::Relaxed)
        && let Some(flags) = headers.get(&TRACEPARENT).and_then(|v| v.to_str().ok()).and_then(traceparent_flags)
    {
        return flags & 1 == 1;
    }
    let ratio = f64::from_bits(RATIO_BITS.load(Ordering::Relaxed));
    ratio >= 1.0 || (ratio > 0.0 && rand::random::<f64>() < ratio)
}

/// Whether a span for work inside a request is wanted: export is on and the work runs inside a
/// traced request — in its context, or inside one of its `tracing` spans (an unsampled request has
/// no span, so its calls make none either).
pub(crate) fn traced() -> bool {
    enabled() && (!tracing::Span::current().is_disabled() || Context::map_current(TraceContextExt::has_active_span))
}

/// The trace flags of a valid W3C `traceparent` (`00-<trace id>-<parent id>-<flags>`).
fn traceparent_flags(value: &str) -> Option<u8> {
    let parts: Vec<&str> = value.trim().split('-').collect();
    let [version, trace, parent, flags] = parts[..] else { return None };
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    let zero = |s: &str| s.bytes().all(|b| b == b'0');
    (version == "00" && hex(trace, 32) && !zero(trace) && hex(parent, 16) && !zero(parent) && hex(flags, 2))
        .then(|| u8::from_str_radix(flags, 16).ok())
        .flatten()
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

/// A sampled request's span — `POST /v1/chat/completions`, kind server, continuing a client's W3C
/// `traceparent` (and `tracestate`) — made with the SDK directly, and the context the request runs
/// in (`FutureExt::with_context`); [`finish_request`] ends it. An empty context when export is off.
pub(crate) fn request_context(method: &'static str, route: &str, headers: &http::HeaderMap) -> Context {
    let Ok(tracer) = TRACER.read() else { return Context::new() };
    let Some(tracer) = tracer.as_ref() else { return Context::new() };
    // A malformed traceparent extracts to an empty context: the span then starts its own trace.
    let parent = if headers.contains_key(&TRACEPARENT) {
        TraceContextPropagator::new().extract(&Headers(headers))
    } else {
        Context::new()
    };
    let (name, route) = span_name(method, route);
    let span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Server)
        .with_attributes([KeyValue::new("http.request.method", method), KeyValue::new("http.route", route)])
        .start_with_context(tracer, &parent);
    parent.with_span(span)
}

/// Span names already made, by route and then method.
type Names = HashMap<&'static str, Vec<(&'static str, &'static str)>>;
static NAMES: std::sync::LazyLock<RwLock<Names>> = std::sync::LazyLock::new(RwLock::default);
/// More routes than a router has; past it, names are made per request rather than kept.
const MAX_NAMED_ROUTES: usize = 256;

/// A request span's name (`POST /v1/chat/completions`) and its route, made once per route and
/// method and kept for the server's life: routes are the router's patterns (whatever matched none
/// has one name) and methods a closed set, so they are few (callgrind: formatting the name per
/// request was 0.75 k of a traced request's 12.8 k instructions).
fn span_name(method: &'static str, route: &str) -> (Cow<'static, str>, Cow<'static, str>) {
    name_in(&NAMES, MAX_NAMED_ROUTES, method, route)
}

fn name_in(
    names: &RwLock<Names>,
    cap: usize,
    method: &'static str,
    route: &str,
) -> (Cow<'static, str>, Cow<'static, str>) {
    if let Ok(names) = names.read()
        && let Some((&kept, methods)) = names.get_key_value(route)
        && let Some(&(_, name)) = methods.iter().find(|(m, _)| *m == method)
    {
        return (Cow::Borrowed(name), Cow::Borrowed(kept));
    }
    let name = format!("{method} {route}");
    let Ok(mut names) = names.write() else { return (Cow::Owned(name), Cow::Owned(route.to_owned())) };
    if names.len() >= cap && !names.contains_key(route) {
        return (Cow::Owned(name), Cow::Owned(route.to_owned()));
    }
    let kept: &'static str = match names.get_key_value(route) {
        Some((&kept, _)) => kept,
        None => Box::leak(route.into()),
    };
    let methods = names.entry(kept).or_default();
    let name: &'static str = match methods.iter().find(|(m, _)| *m == method) {
        Some(&(_, name)) => name,
        None => {
            let name: &'static str = Box::leak(name.into_boxed_str());
            methods.push((method, name));
            name
        }
    };
    (Cow::Borrowed(name), Cow::Borrowed(kept))
}

/// Ends the request's span with its answer's status (an error status for a 5xx).
pub(crate) fn finish_request(cx: &Context, status: u16) {
    let span = cx.span();
    span.set_attribute(KeyValue::new("http.response.status_code", i64::from(status)));
    if status >= 500 {
        span.set_status(Status::error(""));
    }
    span.end();
}

/// The W3C trace headers (`traceparent`, `tracestate`) of the current span, for an outgoing call;
/// empty when export is off.
pub(crate) fn outgoing_headers() -> Vec<(String, String)> {
    if !enabled() {
        return Vec::new();
    }
    // Inside a call's `tracing` span, that span; else the request's own context.
    let span = tracing::Span::current();
    let cx = if span.is_disabled() { Context::current() } else { span.context() };
    if !cx.has_active_span() {
        return Vec::new();
    }
    let mut carrier: HashMap<String, String> = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
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
    fn samplers_are_the_standard_ones_and_a_bad_one_says_what_to_write() {
        let on = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")];
        let with = |more: &[(&'static str, &'static str)]| settings(&[&on[..], more].concat());
        assert_eq!(with(&[]).0.sampling, Sampling { ratio: 1.0, parent_based: true });
        assert_eq!(
            with(&[("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "0.1")]).0.sampling,
            Sampling { ratio: 0.1, parent_based: true }
        );
        assert_eq!(
            with(&[("OTEL_TRACES_SAMPLER", "traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "0.25")]).0.sampling,
            Sampling { ratio: 0.25, parent_based: false }
        );
        assert_eq!(
            with(&[("OTEL_TRACES_SAMPLER", "always_off")]).0.sampling,
            Sampling { ratio: 0.0, parent_based: false }
        );
        let (_, problems) = with(&[("OTEL_TRACES_SAMPLER", "traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "10%")]);
        assert!(problems.len() == 1 && problems[0].contains("from 0 to 1"), "{problems:?}");
        let (_, problems) = with(&[("OTEL_TRACES_SAMPLER", "jaeger_remote")]);
        assert!(problems.len() == 1 && problems[0].contains("parentbased_"), "{problems:?}");
    }

    #[test]
    fn span_names_are_made_once_per_route_and_method() {
        let (name, route) = span_name("POST", "/span-name-test/{id}");
        assert_eq!((name.as_ref(), route.as_ref()), ("POST /span-name-test/{id}", "/span-name-test/{id}"));
        let (again, route_again) = span_name("POST", &String::from("/span-name-test/{id}"));
        let kept = |c: &Cow<'static, str>| match c {
            Cow::Borrowed(s) => s.as_ptr(),
            Cow::Owned(_) => std::ptr::null(),
        };
        assert!(kept(&name) == kept(&again) && !kept(&again).is_null(), "the second is the kept name");
        assert_eq!(kept(&route), kept(&route_again));
        let (get, get_route) = span_name("GET", "/span-name-test/{id}");
        assert_eq!(get.as_ref(), "GET /span-name-test/{id}");
        assert_eq!(kept(&get_route), kept(&route), "one route, kept once for both methods");
    }

    /// Past the cap a route's name is made for the request and not kept (names stay right).
    #[test]
    fn past_the_cap_names_are_not_kept() {
        let names = RwLock::default();
        for i in 0..3 {
            let _ = name_in(&names, 3, "GET", &format!("/cap-test/{i}"));
        }
        let (name, route) = name_in(&names, 3, "GET", "/cap-test/one-too-many");
        assert!(matches!((&name, &route), (Cow::Owned(_), Cow::Owned(_))), "{name} {route}");
        assert_eq!((name.as_ref(), route.as_ref()), ("GET /cap-test/one-too-many", "/cap-test/one-too-many"));
        let (name, _) = name_in(&names, 3, "POST", "/cap-test/2");
        assert!(matches!(name, Cow::Borrowed("POST /cap-test/2")), "a kept route still takes a new method: {name}");
        assert_eq!(names.read().expect("not poisoned").len(), 3);
    }

    #[test]
    fn a_traceparent_gives_its_flags_only_when_valid() {
        assert_eq!(traceparent_flags("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), Some(1));
        assert_eq!(traceparent_flags("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"), Some(0));
        assert_eq!(traceparent_flags("00-00000000000000000000000000000000-00f067aa0ba902b7-01"), None);
        assert_eq!(traceparent_flags("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"), None);
        assert_eq!(traceparent_flags("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"), None);
        assert_eq!(traceparent_flags("zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), None);
    }

    #[test]
    fn nothing_is_sampled_or_traced_while_export_is_off() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "traceparent",
            http::HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        assert!(!sampled(&headers));
        assert!(!traced());
    }

    #[test]
    fn nothing_is_injected_while_export_is_off() {
        assert!(outgoing_headers().is_empty());
    }
}
