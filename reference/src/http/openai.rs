//! `POST /v1/chat/completions` and `POST /chat/completions`: the OpenAI-compatible shim.
//!
//! - Echo mode answers the configured reply and calls nothing.
//! - Otherwise, without `stream`, the agent runs on the request's model with local tools and
//!   default settings, and its final answer is the reply (as in the original).
//! - With `stream: true`, the request is proxied to the model's provider as a stream
//!   ([`crate::shim::proxy_stream`]), with SSE keep-alive comments whenever the upstream is silent.
//!
//! Errors use OpenAI's error shape so SDKs surface them.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::extract::LimitedBody;
use super::sse::sse;
use super::state::SharedState;
use crate::agent::error::AgentError;
use crate::agent::run;
use crate::api::{BackendKind, RunSpec, decode};
use crate::auth::Caller;
use crate::error::{ApiError, OpenAiError};
use crate::openai_shape::{Stamp, completion, replay, zero_usage};
use crate::shim::{self, ChatCompletionRequest, NO_PROVIDER_GUIDANCE};

pub async fn chat_completions(
    State(state): State<SharedState>,
    caller: Option<Extension<Caller>>,
    body: Result<LimitedBody, ApiError>,
) -> Result<Response, OpenAiError> {
    let LimitedBody(body) = body?;
    let req: ChatCompletionRequest = decode(&body)?;
    let settings = &state.config.shim;
    if !settings.delay.is_zero() {
        tokio::time::sleep(settings.delay).await;
    }
    let stamp = Stamp::new(req.model.clone());
    let stream = req.stream.unwrap_or(false);
    if settings.echo {
        let completion = completion(&stamp, &settings.reply, zero_usage());
        return Ok(if stream {
            sse(settings.keepalive, replay(&stamp, &completion, req.include_usage()))
        } else {
            Json(completion).into_response()
        });
    }
    if !state.providers.any_configured() {
        return Err(ApiError::bad_request("model", NO_PROVIDER_GUIDANCE).into());
    }
    let model = shim::model_for(&state.providers, &req.model);
    if stream {
        let route = state.providers.resolve(&model)?;
        let chunks = shim::proxy_stream(state.providers.clone(), route, req, stamp);
        return Ok(sse(settings.keepalive, chunks));
    }
    // The shim runs the agent (local tools, defaults), as the original does.
    Caller::check_backend(caller.as_deref(), BackendKind::Local)?;
    let spec = RunSpec::local_defaults(model, req.messages);
    let outcome = run::run(&spec, &state.deps()).await.map_err(|e| match e {
        AgentError::Provider(p) => ApiError::Provider(p),
        AgentError::BadToolServer(m) | AgentError::Refused { message: m, .. } => ApiError::Internal(m),
    })?;
    Ok(Json(completion(&stamp, &outcome.final_answer.unwrap_or_default(), zero_usage())).into_response())
}
