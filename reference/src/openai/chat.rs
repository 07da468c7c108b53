//! `POST /v1/chat/completions` free of axum: which mode answers a request, and the answer it gives.
//!
//! A body naming a `tool_backend` (or `agent` mode) runs the agent; `echo` mode answers the echo
//! reply; otherwise (`proxy`, the default) the request goes to the model's provider ([`super::proxy`])
//! and its 2xx head comes back for the handler to relay. Each mode ends in one of two answers: a
//! whole completion (replayed as events when the client streams) or the provider's head.
//!
//! The proxy is the hot path and the others are cold: the agent's run and echo mode's delay are
//! boxed, so the future of [`answer`] — moved into a `Box` by the router for every request — is as
//! small as the proxy's own (issue 24: copying a large handler future was 3 % of a proxied request).
//! What this does not do: write a response; [`crate::http::openai`] maps an [`Answer`] to one.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use super::agent;
use super::proxy::{self, Forwarded, Proxied};
use super::raw::RawObject;
use super::settings::{Mode, NO_PROVIDER_GUIDANCE, ShimSettings};
use crate::agent::run::Deps;
use crate::api::{RequestError, RunLimits};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::openai_shape::{Stamp, completion, zero_usage};
use crate::provider::client::Providers;
use crate::provider::route::Route;
use crate::provider::router::Ticket;

/// What a chat request needs from the server, besides its body.
#[derive(Clone, Copy)]
pub(crate) struct Server<'a> {
    pub shim: &'a ShimSettings,
    pub run_limits: &'a RunLimits,
    pub deps: &'a Deps<'a, Providers>,
}

/// The one request being answered.
#[derive(Clone, Copy)]
pub(crate) struct Ask<'a> {
    pub body: &'a Bytes,
    /// The key that made the request (its allowed tool backends), when keys are configured.
    pub caller: Option<&'a Caller>,
    /// Sent upstream as `x-request-id`.
    pub request_id: &'a str,
}

/// How the client asked to be answered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub stream: bool,
    /// `stream_options.include_usage`: a replayed stream ends with a usage chunk.
    pub include_usage: bool,
}

/// A chat request's answer, before it is written.
pub(crate) enum Answer {
    /// A whole completion (echo mode, the agent, the dummy model), under its stamp.
    Whole { stamp: Stamp, done: Value },
    /// The provider's 2xx head, its body to relay as it comes, and the route that gave it.
    Upstream { forwarded: Forwarded, route: Arc<Route> },
}

/// [`Answer`] with the client's [`Shape`] and the router's ticket (the deployment's in-flight count
/// and token usage, held until the answer's last byte; a direct ticket outside the router).
pub(crate) struct Chat {
    pub answer: Answer,
    pub shape: Shape,
    pub ticket: Ticket,
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::Request(RequestError::invalid(field, message))
}

/// Answers one chat request in the mode it asks for (see the module's doc).
pub(crate) async fn answer(server: Server<'_>, ask: Ask<'_>) -> Result<Chat, ApiError> {
    let obj = RawObject::parse(ask.body)?;
    let model = obj.string("model")?.ok_or_else(|| invalid("model", "you must provide a model parameter"))?;
    if !obj.is_array("messages") {
        return Err(invalid("messages", "`messages` must be a list of messages"));
    }
    let stream = obj.boolean("stream")?.unwrap_or(false);
    let settings = server.shim;
    if !settings.delay.is_zero() {
        Box::pin(tokio::time::sleep(settings.delay)).await;
    }
    let wants_agent = obj.get("tool_backend").is_some_and(|b| b.get() != "null") || settings.mode == Mode::Agent;
    let include_usage = obj.typed::<Value>("stream_options", "an object")?.is_some_and(|o| o["include_usage"] == true);
    let shape = Shape { stream, include_usage };
    if settings.mode == Mode::Echo && !wants_agent {
        let stamp = Stamp::new(model);
        let done = completion(&stamp, &settings.reply, zero_usage());
        return Ok(Chat { answer: Answer::Whole { stamp, done }, shape, ticket: Ticket::direct() });
    }
    let providers = server.deps.model;
    if !providers.any_configured() {
        return Err(ApiError::bad_request("model", NO_PROVIDER_GUIDANCE));
    }
    if wants_agent {
        let done = Box::pin(run_agent(server, ask, &model)).await?;
        return Ok(Chat { answer: done, shape, ticket: Ticket::direct() });
    }
    let target = proxy::target(providers, &model)?;
    let body_of = |route: &Route| Bytes::from(proxy::body_for(&obj, route));
    let routed = proxy::send(providers, &target, "chat/completions", ask.request_id, stream, body_of).await;
    let ticket = routed.ticket;
    let (answer, route) = routed.result.map_err(ApiError::from)?;
    let answer = match answer {
        Proxied::Local(done) => Answer::Whole { stamp: Stamp::new(model), done },
        Proxied::Upstream(forwarded) => Answer::Upstream { forwarded, route },
    };
    Ok(Chat { answer, shape, ticket })
}

/// The agent behind the OpenAI shape: its final answer is the completion's content.
async fn run_agent(server: Server<'_>, ask: Ask<'_>, model: &str) -> Result<Answer, ApiError> {
    let spec = agent::spec(ask.body, server.run_limits, server.deps.model)?;
    Caller::check_backend(ask.caller, spec.backend.kind())?;
    let outcome = agent::run(&spec, server.deps).await?;
    let stamp = Stamp::new(model);
    let done = completion(&stamp, &outcome.final_answer.unwrap_or_default(), zero_usage());
    Ok(Answer::Whole { stamp, done })
}
