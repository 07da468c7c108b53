//! Prometheus metrics (CONTRACT §12): one registry per server, rendered by `GET /metrics`.
//!
//! [`Metrics`] is a set of cheap `Clone` handles (the `prometheus` crate's vectors are `Arc`s), so
//! the parts that observe something — the request middleware, the providers, the tool backends,
//! the rate limiter — each hold a clone, and tests build their own registry instead of sharing a
//! global one. Labels are bounded: routes are the route table's patterns (never raw paths),
//! providers and backends are closed sets, rate-limited keys are the configured key *names*.

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Buckets for request, provider-call and tool-call latencies: 1 ms to 2 min.
const BUCKETS: [f64; 16] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

/// The server's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    in_flight: IntGauge,
    provider_calls: IntCounterVec,
    provider_seconds: HistogramVec,
    provider_retries: IntCounterVec,
    tool_calls: IntCounterVec,
    tool_seconds: HistogramVec,
    rate_limited: IntCounterVec,
    deployment_requests: IntCounterVec,
    deployment_cooldowns: IntCounterVec,
    deployment_available: IntGaugeVec,
}

/// The label of a request method: the standard ones by name, anything else `other` — a client may
/// send any token as a method, and each new label value is a new series held forever.
pub(crate) fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::HEAD => "HEAD",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::OPTIONS => "OPTIONS",
        http::Method::PATCH => "PATCH",
        http::Method::CONNECT => "CONNECT",
        http::Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Label value of a request no route matched (raw paths would make the label unbounded).
pub(crate) const UNMATCHED_ROUTE: &str = "unmatched";

impl Metrics {
    /// A fresh registry with every metric registered (the definitions are constants, so an error
    /// here is a bug, reported at startup rather than as a panic).
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let m = Self {
            requests: counter(
                "miniagent_requests_total",
                "HTTP requests by route, method and status.",
                &["route", "method", "status"],
            )?,
            request_seconds: histogram(
                "miniagent_request_duration_seconds",
                "Time from a request's arrival to its response head, by route.",
                &["route"],
            )?,
            in_flight: IntGauge::with_opts(Opts::new("miniagent_requests_in_flight", "Requests being handled now."))?,
            provider_calls: counter(
                "miniagent_provider_calls_total",
                "Model provider calls (retries included in one call) by provider and outcome.",
                &["provider", "outcome"],
            )?,
            provider_seconds: histogram(
                "miniagent_provider_call_duration_seconds",
                "Duration of provider calls, retries and their waits included.",
                &["provider"],
            )?,
            provider_retries: counter("miniagent_provider_retries_total", "Provider call retries.", &["provider"])?,
            tool_calls: counter(
                "miniagent_tool_calls_total",
                "Tool calls by backend and outcome (ok or error).",
                &["backend", "outcome"],
            )?,
            tool_seconds: histogram(
                "miniagent_tool_call_duration_seconds",
                "Duration of tool calls by backend.",
                &["backend"],
            )?,
            rate_limited: counter(
                "miniagent_rate_limited_total",
                "Requests refused because their API key was over its rpm.",
                &["key"],
            )?,
            deployment_requests: counter(
                "miniagent_deployment_requests_total",
                "Router attempts by deployment id and outcome (ok, failure, rate_limited, client_error, \
                 context_window, content_policy).",
                &["deployment", "outcome"],
            )?,
            deployment_cooldowns: counter(
                "miniagent_deployment_cooldowns_total",
                "Cooldowns started, by deployment id.",
                &["deployment"],
            )?,
            deployment_available: IntGaugeVec::new(
                Opts::new(
                    "miniagent_deployment_available",
                    "1 when the deployment may take requests, 0 while cooling.",
                ),
                &["deployment"],
            )?,
            registry,
        };
        m.register_all()?;
        Ok(m)
    }

    fn register_all(&self) -> Result<(), prometheus::Error> {
        let build_info = IntGauge::with_opts(Opts::new(
            "miniagent_build_info",
            concat!("Always 1. miniagent ", env!("CARGO_PKG_VERSION")),
        ))?;
        build_info.set(1);
        let collectors: [Box<dyn prometheus::core::Collector>; 13] = [
            Box::new(self.requests.clone()),
            Box::new(self.request_seconds.clone()),
            Box::new(self.in_flight.clone()),
            Box::new(self.provider_calls.clone()),
            Box::new(self.provider_seconds.clone()),
            Box::new(self.provider_retries.clone()),
            Box::new(self.tool_calls.clone()),
            Box::new(self.tool_seconds.clone()),
            Box::new(self.rate_limited.clone()),
            Box::new(self.deployment_requests.clone()),
            Box::new(self.deployment_cooldowns.clone()),
            Box::new(self.deployment_available.clone()),
            Box::new(build_info),
        ];
        for c in collectors {
            self.registry.register(c)?;
        }
        Ok(())
    }

    /// The registry in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!("could not encode the metrics: {e}");
        }
        String::from_utf8(out).unwrap_or_default()
    }

    /// A request entered; the guard records it when dropped (also when the client went away).
    pub fn request_started(&self) -> InFlight {
        self.in_flight.inc();
        InFlight { gauge: self.in_flight.clone() }
    }

    /// `method` is a [`method_label`], `route` a route pattern or [`UNMATCHED_ROUTE`].
    pub fn request_done(&self, route: &str, method: &'static str, status: u16, took: Duration) {
        let status = status_label(status);
        self.requests.with_label_values(&[route, method, status]).inc();
        self.request_seconds.with_label_values(&[route]).observe(took.as_secs_f64());
    }

    pub fn provider_call(&self, provider: &str, outcome: &str, retries: u32, took: Duration) {
        self.provider_calls.with_label_values(&[provider, outcome]).inc();
        self.provider_seconds.with_label_values(&[provider]).observe(took.as_secs_f64());
        if retries > 0 {
            self.provider_retries.with_label_values(&[provider]).inc_by(u64::from(retries));
        }
    }

    pub fn tool_call(&self, backend: &str, ok: bool, took: Duration) {
        self.tool_calls.with_label_values(&[backend, if ok { "ok" } else { "error" }]).inc();
        self.tool_seconds.with_label_values(&[backend]).observe(took.as_secs_f64());
    }

    pub fn rate_limited(&self, key_name: &str) {
        self.rate_limited.with_label_values(&[key_name]).inc();
    }

    /// One router attempt on `deployment` (an id from the router file: a closed set).
    pub fn deployment_request(&self, deployment: &str, outcome: &str) {
        self.deployment_requests.with_label_values(&[deployment, outcome]).inc();
    }

    pub fn deployment_cooldown(&self, deployment: &str) {
        self.deployment_cooldowns.with_label_values(&[deployment]).inc();
    }

    pub fn deployment_available(&self, deployment: &str, available: bool) {
        self.deployment_available.with_label_values(&[deployment]).set(i64::from(available));
    }
}

/// Decrements the in-flight gauge when the request is over, however it ended.
#[derive(Debug)]
pub struct InFlight {
    gauge: IntGauge,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

fn counter(name: &str, help: &str, labels: &[&str]) -> Result<IntCounterVec, prometheus::Error> {
    IntCounterVec::new(Opts::new(name, help), labels)
}

fn histogram(name: &str, help: &str, labels: &[&str]) -> Result<HistogramVec, prometheus::Error> {
    HistogramVec::new(HistogramOpts::new(name, help).buckets(BUCKETS.to_vec()), labels)
}

/// Statuses as static strings, so the hot path allocates nothing for the label.
fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        408 => "408",
        413 => "413",
        422 => "422",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        s if s < 300 => "2xx",
        s if s < 400 => "3xx",
        s if s < 500 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(prefix))
    }

    #[test]
    fn what_is_observed_is_rendered_with_its_labels() {
        let m = Metrics::new().expect("metrics");
        m.request_done("/agent/run", "POST", 200, Duration::from_millis(3));
        m.request_done("/agent/run", "POST", 200, Duration::from_millis(4));
        m.request_done("/agent/run", "POST", 429, Duration::from_millis(1));
        m.provider_call("openai", "ok", 2, Duration::from_millis(20));
        m.tool_call("local", false, Duration::from_millis(5));
        m.rate_limited("team-a");
        m.deployment_request("gpt-x:0:openai/a", "ok");
        m.deployment_cooldown("gpt-x:0:openai/a");
        m.deployment_available("gpt-x:0:openai/a", false);
        {
            let _one = m.request_started();
            assert!(m.render().contains("miniagent_requests_in_flight 1"));
        }
        let text = m.render();
        assert!(line(&text, r#"miniagent_requests_total{method="POST",route="/agent/run",status="200"} 2"#).is_some());
        assert!(line(&text, r#"miniagent_requests_total{method="POST",route="/agent/run",status="429"} 1"#).is_some());
        assert!(line(&text, r#"miniagent_request_duration_seconds_count{route="/agent/run"} 3"#).is_some());
        assert!(line(&text, r#"miniagent_provider_calls_total{outcome="ok",provider="openai"} 1"#).is_some());
        assert!(line(&text, r#"miniagent_provider_retries_total{provider="openai"} 2"#).is_some());
        assert!(line(&text, r#"miniagent_tool_calls_total{backend="local",outcome="error"} 1"#).is_some());
        assert!(line(&text, r#"miniagent_rate_limited_total{key="team-a"} 1"#).is_some());
        assert!(line(&text, "miniagent_requests_in_flight 0").is_some(), "{text}");
        let d = r#"deployment="gpt-x:0:openai/a""#;
        assert!(line(&text, &format!(r#"miniagent_deployment_requests_total{{{d},outcome="ok"}} 1"#)).is_some());
        assert!(line(&text, &format!("miniagent_deployment_cooldowns_total{{{d}}} 1")).is_some());
        assert!(line(&text, &format!("miniagent_deployment_available{{{d}}} 0")).is_some(), "{text}");
        assert!(line(&text, "miniagent_build_info 1").is_some());
    }

    #[test]
    fn two_registries_do_not_share_counts() {
        let (a, b) = (Metrics::new().expect("a"), Metrics::new().expect("b"));
        a.tool_call("mcp", true, Duration::ZERO);
        assert!(a.render().contains(r#"miniagent_tool_calls_total{backend="mcp",outcome="ok"} 1"#));
        assert!(!b.render().contains("miniagent_tool_calls_total{"));
    }

    #[test]
    fn statuses_become_bounded_labels() {
        assert_eq!(status_label(200), "200");
        assert_eq!(status_label(201), "2xx");
        assert_eq!(status_label(418), "4xx");
        assert_eq!(status_label(599), "5xx");
    }
}
