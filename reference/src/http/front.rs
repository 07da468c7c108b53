//! The front of every façade request, in ONE layer: its id, its key, its metrics and span, its
//! access-log line.
//!
//! Four `from_fn` layers did this before — each a boxed future and a `Next` per request, ~19 % of
//! the handler path under load (`benches/README.md`). In order:
//! - **request id**: the client's `x-request-id` when usable, else a fresh `req_…`; handed to the
//!   handlers as [`RequestId`] and always answered back;
//! - **key** ([`crate::auth::check`]): refusals (401, 403, 429) come out in the route's error shape
//!   and are counted and logged like any answer;
//! - **metrics and span**: counted by route pattern, method label (a closed set) and status; the
//!   request span continues a client's W3C `traceparent`. Both only when enabled, and the span
//!   only for a sampled request — decided here, before any span of the request exists. The span is
//!   the OpenTelemetry SDK's own, and the request runs in its context ([`otel::request_context`]);
//! - **access log**: one `info` line per request (`MINI_AGENT_ACCESS_LOG=off` turns it off) with
//!   method, route pattern, status, duration, request id and the key's *name* — never a key, a body
//!   or a raw path.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::context::FutureExt as _;

use super::request_id::{RequestId, X_REQUEST_ID};
use super::state::SharedState;
use crate::auth::{self, Caller};
use crate::telemetry::metrics::{UNMATCHED_ROUTE, method_label};
use crate::telemetry::otel;

pub(crate) async fn front(State(state): State<SharedState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let rid = RequestId::of(req.headers());
    let id_header = HeaderValue::from_str(&rid.id).ok();
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
    let method = method_label(req.method());
    let access_log = state.config.telemetry.access_log;
    req.extensions_mut().insert(rid.clone());
    let _in_flight = state.metrics.as_ref().map(crate::telemetry::metrics::Metrics::request_started);
    let (mut response, key) = match auth::check(&state.auth, &mut req).await {
        Err(refusal) => (refusal, None),
        Ok(()) => {
            let key = req.extensions().get::<Caller>().map(|Caller(k)| k.name.clone());
            let response = if otel::sampled(req.headers()) {
                let cx = otel::request_context(method, route, req.headers());
                let response = next.run(req).with_context(cx.clone()).await;
                otel::finish_request(&cx, response.status().as_u16());
                response
            } else {
                next.run(req).await
            };
            (response, key)
        }
    };
    if let Some(value) = id_header
        && !response.headers().contains_key(&X_REQUEST_ID)
    {
        response.headers_mut().insert(X_REQUEST_ID.clone(), value);
    }
    let status = response.status().as_u16();
    if let Some(m) = &state.metrics {
        m.request_done(route, method, status, started.elapsed());
    }
    if access_log {
        let ms = started.elapsed().as_secs_f64() * 1e3;
        let key = key.as_deref().unwrap_or("-");
        tracing::info!(target: "access", method, route, status, ms = %format_args!("{ms:.1}"), request_id = %rid.id, key, "request");
    }
    response
}
