//! `POST /agent/run`: body → [`RunSpec`] → [`agent::run`] → [`envelope::build`] → trace → JSON.

use std::time::Instant;

use axum::extract::State;
use axum::{Extension, Json};

use super::extract::LimitedBody;
use super::state::SharedState;
use crate::agent::run;
use crate::api::RunSpec;
use crate::auth::Caller;
use crate::envelope::{self, Envelope};
use crate::error::ApiError;
use crate::trace;

pub async fn agent_run(
    State(state): State<SharedState>,
    caller: Option<Extension<Caller>>,
    LimitedBody(body): LimitedBody,
) -> Result<Json<Envelope>, ApiError> {
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
    Ok(Json(envelope))
}
