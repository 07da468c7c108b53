//! Seeing a running server (CONTRACT §12): Prometheus [`metrics`] on `GET /metrics`, and
//! OpenTelemetry spans over OTLP ([`otel`]) with W3C trace context continued from clients and
//! passed on to providers and tools servers. Log lines go through [`logs`]: one line per event,
//! secrets redacted.

pub(crate) mod logs;
pub(crate) mod metrics;
pub(crate) mod otel;

use crate::env::Env;

/// What the server observes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetrySettings {
    /// `MINI_AGENT_METRICS` (default on): count requests, calls and refusals, serve `/metrics`.
    pub metrics: bool,
    /// `MINI_AGENT_ACCESS_LOG` (default on): one `info` line per request.
    pub access_log: bool,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self { metrics: true, access_log: true }
    }
}

impl TelemetrySettings {
    pub fn from_env(env: &Env) -> Self {
        Self { metrics: env.switch("MINI_AGENT_METRICS", true), access_log: env.switch("MINI_AGENT_ACCESS_LOG", true) }
    }
}
