//! Each request, seen from outside: the metrics (count by route, method and status; time to the
//! response head; in flight) and the request's span, which continues the client's W3C trace when
//! it sent a `traceparent`. The outermost layer, so refusals (401, 413, 429) are seen too.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing::field::Empty;

use crate::telemetry::metrics::{Metrics, UNMATCHED_ROUTE, method_label};
use crate::telemetry::otel::{self, TARGET};

pub async fn observe(State(metrics): State<Option<Metrics>>, req: Request, next: Next) -> Response {
    if metrics.is_none() && !otel::enabled() {
        return next.run(req).await;
    }
    let route = req.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
    let method = method_label(req.method());
    let span = tracing::debug_span!(
        target: TARGET,
        "request",
        otel.name = %format_args!("{method} {route}"),
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = %method,
        http.route = route,
        http.response.status_code = Empty,
    );
    otel::continue_trace(&span, req.headers());
    let started = Instant::now();
    let _in_flight = metrics.as_ref().map(Metrics::request_started);
    let response = next.run(req).instrument(span.clone()).await;
    let status = response.status().as_u16();
    if let Some(m) = &metrics {
        m.request_done(route, method, status, started.elapsed());
    }
    if !span.is_disabled() {
        span.record("http.response.status_code", status);
        if status >= 500 {
            span.record("otel.status_code", "ERROR");
        }
    }
    response
}
