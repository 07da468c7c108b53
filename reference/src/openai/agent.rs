//! The agent behind the OpenAI shape: in `agent` mode (the Python original's behaviour) and for any
//! request whose body names a `tool_backend`, the body is an `/agent/run` request and the final
//! answer is the reply.

use super::proxy;
use crate::agent::outcome::RunOutcome;
use crate::agent::run::{self, Deps};
use crate::api::{RequestError, RunLimits, RunSpec};
use crate::error::ApiError;
use crate::provider::client::Providers;
use crate::provider::error::ProviderError;

/// The validated run of `body` (a bare model name goes to the default provider, as in proxy mode).
pub(crate) fn spec(body: &[u8], limits: &RunLimits, providers: &Providers) -> Result<RunSpec, RequestError> {
    let mut spec = RunSpec::from_slice(body, limits)?;
    if let Ok(route) = proxy::route(providers, &spec.model)
        && matches!(providers.resolve(&spec.model), Err(ProviderError::InvalidModel(_)))
    {
        spec.model = format!("{}/{}", route.kind.name(), route.upstream_model);
    }
    Ok(spec)
}

/// Runs the agent; its final answer is the reply's content.
pub(crate) async fn run(spec: &RunSpec, deps: &Deps<'_, Providers>) -> Result<RunOutcome, ApiError> {
    run::run(spec, deps).await.map_err(ApiError::from)
}
