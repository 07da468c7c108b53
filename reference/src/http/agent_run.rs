//! `POST /agent/run`: body → [`RunSpec`] → [`agent::run`] → [`envelope::build`] → trace → JSON.

use std::time::Instant;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{AppendHeaders, IntoResponse, Response};

use super::deployments::served_headers;
use super::extract::LimitedBody;
use super::state::SharedState;
use crate::agent::run;
use crate::api::RunSpec;
use crate::auth::Caller;
use crate::envelope;
use crate::error::ApiError;
use crate::trace;

pub(crate) async fn agent_run(
    State(state): State<SharedState>,
    caller: Option<Extension<Caller>>,
    LimitedBody(body): LimitedBody,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let spec = RunSpec::from_slice(&body, &state.config.run_limits)?;
    Caller::check_backend(caller.as_deref(), spec.backend.kind())?;
    if !state.config.shim.delay.is_zero() {
        tokio::time::sleep(state.config.shim.delay).await;
    }
    let outcome = run::run(&spec, &state.deps()).await.map_err(ApiError::from)?;
    let envelope = envelope::build(&outcome, started.elapsed().as_secs_f64() * 1e3);
    if let Some(writer) = &state.traces {
        writer.append(&trace::record(&envelope, &spec, &outcome)).await;
    }
    let served = outcome.served.as_ref();
    let routing: Vec<(HeaderName, HeaderValue)> =
        served_headers(served.map(|s| s.deployment.as_str()), served.map_or(1, |s| s.attempts));
    // Serialized here, while the envelope still borrows the outcome (an envelope always serializes).
    let body = serde_json::to_vec(&envelope).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((AppendHeaders(routing), [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body)
        .into_response())
}
