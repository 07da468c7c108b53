//! The OpenAI surface's handlers: `/v1/chat/completions` (and `/chat/completions`),
//! `/v1/embeddings`, `/v1/models` and `/v1/models/{id}` (`/v1/responses` is [`super::responses`]). Each extracts, asks
//! [`crate::openai`] for the answer, and maps it to a response; errors use OpenAI's shape.
//!
//! Chat: [`crate::openai::chat::answer`] picks the mode (agent, echo, proxy) and gives a whole
//! completion — written as JSON or replayed as events — or the provider's head, whose body — JSON
//! or events, as they arrive — goes back as it is.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};

use super::deployments::routing_headers;
use super::extract::LimitedBody;
use super::request_id::RequestId;
use super::sse::sse;
use super::state::{AppState, SharedState};
use crate::api::RequestError;
use crate::auth::Caller;
use crate::error::{ApiError, OpenAiError};
use crate::openai::byte_relay;
use crate::openai::chat::{self, Chat};
use crate::openai::proxy::{self, Forwarded, Proxied};
use crate::openai::raw::RawObject;
use crate::openai_shape::replay;
use crate::provider::client::Target;
use crate::provider::kind::ProviderKind;
use crate::provider::observe;
use crate::provider::route::Route;
use crate::provider::router::Ticket;

type Answer = Result<Response, OpenAiError>;

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::Request(RequestError::invalid(field, message))
}

pub(super) fn request_id(rid: Option<Extension<RequestId>>) -> RequestId {
    rid.map_or_else(|| RequestId { id: super::request_id::fresh(), from_client: false }, |Extension(r)| r)
}

pub(crate) async fn chat_completions(
    State(state): State<SharedState>,
    caller: Option<Extension<Caller>>,
    rid: Option<Extension<RequestId>>,
    body: Result<LimitedBody, ApiError>,
) -> Answer {
    let LimitedBody(body) = body?;
    let rid = request_id(rid);
    let deps = state.deps();
    let server = chat::Server { shim: &state.config.shim, run_limits: &state.config.run_limits, deps: &deps };
    let ask = chat::Ask { body: &body, caller: caller.as_deref(), request_id: &rid.id };
    let Chat { answer, shape, ticket } = chat::answer(server, ask).await?;
    let routing = routing_headers(&ticket);
    let mut response = match answer {
        chat::Answer::Whole { stamp, done } if shape.stream => {
            sse(state.config.shim.keepalive, replay(&stamp, &done, shape.include_usage))
        }
        chat::Answer::Whole { done, .. } => Json(done).into_response(),
        chat::Answer::Upstream { forwarded, route } => {
            proxy_chat(&state, forwarded, &route, shape.stream, &rid, ticket).await?
        }
    };
    response.headers_mut().extend(routing);
    Ok(response)
}

/// Proxy mode: the provider's answer, as it is. The ticket (the deployment's in-flight count and
/// token usage) lives until the answer's last byte.
async fn proxy_chat(
    state: &AppState,
    forwarded: Forwarded,
    route: &Route,
    stream: bool,
    rid: &RequestId,
    ticket: Ticket,
) -> Result<Response, ApiError> {
    let headers = pass_back(&forwarded, rid);
    let max = state.providers.settings().max_reply_bytes;
    let mut response = if stream {
        let idle = route.timeout.unwrap_or(state.providers.settings().request_timeout);
        let pace = byte_relay::Pace { idle, keepalive: state.config.shim.keepalive, max_bytes: max };
        let span = forwarded.span;
        let bytes = byte_relay::relay(forwarded.response, route.kind, pace, move |piece| {
            // Usage comes in one of the last events: the piece is small by then.
            for line in piece.split(|b| *b == b'\n') {
                let Some(data) = line.strip_prefix(b"data:") else { continue };
                let data = String::from_utf8_lossy(data);
                observe::record_chunk_usage(&span, &data);
                ticket.add_tokens(proxy::total_tokens(data.as_bytes()).unwrap_or(0));
            }
        });
        event_stream(bytes)
    } else {
        let bytes = proxy::read_all(forwarded, route, max).await?;
        ticket.add_tokens(proxy::total_tokens(&bytes).unwrap_or(0));
        json_bytes(bytes)
    };
    response.headers_mut().extend(headers);
    Ok(response)
}

/// An event stream of bytes already framed.
fn event_stream(bytes: impl futures::Stream<Item = Bytes> + Send + 'static) -> Response {
    let mut response = Response::new(Body::from_stream(bytes.map(Ok::<_, std::convert::Infallible>)));
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("text/event-stream"));
    headers.insert("cache-control", HeaderValue::from_static("no-cache"));
    response
}

pub(super) fn json_bytes(bytes: Bytes) -> Response {
    let mut response = Response::new(Body::from(bytes));
    response.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
    response
}

/// The provider's headers for the client; its request id becomes ours when the client sent none.
pub(super) fn pass_back(forwarded: &Forwarded, rid: &RequestId) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::new();
    for (name, value) in &forwarded.pass_back {
        let Ok(value) = HeaderValue::from_str(value) else { continue };
        if name == "x-request-id" {
            out.push((HeaderName::from_static("x-upstream-request-id"), value.clone()));
            if rid.from_client {
                continue;
            }
        }
        if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
            out.push((name, value));
        }
    }
    out
}

pub(crate) async fn embeddings(
    State(state): State<SharedState>,
    rid: Option<Extension<RequestId>>,
    body: Result<LimitedBody, ApiError>,
) -> Answer {
    let LimitedBody(body) = body?;
    let obj = RawObject::parse(&body)?;
    let model = obj.string("model")?.ok_or_else(|| invalid("model", "you must provide a model parameter"))?;
    if obj.get("input").is_none() {
        return Err(invalid("input", "`input` is required: a string, a list of strings or token ids").into());
    }
    let target = proxy::target(&state.providers, &model)?;
    if let Target::Direct(route) = &target
        && route.kind == ProviderKind::Dummy
    {
        return Err(invalid("model", "the `dummy` model has no embeddings; name a provider's embedding model").into());
    }
    let rid = request_id(rid);
    let body_of = |route: &Route| Bytes::from(proxy::body_for(&obj, route));
    let routed = proxy::send(&state.providers, &target, "embeddings", &rid.id, false, body_of).await;
    let (answer, route) = routed.result.map_err(ApiError::from)?;
    let Proxied::Upstream(forwarded) = answer else {
        return Err(invalid("model", "the `dummy` model has no embeddings").into());
    };
    let headers = pass_back(&forwarded, &rid);
    let bytes = proxy::read_all(forwarded, &route, state.providers.settings().max_reply_bytes).await?;
    routed.ticket.add_tokens(proxy::total_tokens(&bytes).unwrap_or(0));
    let mut response = json_bytes(bytes);
    response.headers_mut().extend(headers);
    response.headers_mut().extend(routing_headers(&routed.ticket));
    Ok(response)
}

pub(crate) async fn models(State(state): State<SharedState>) -> Json<Value> {
    let data = state.models.list(&state.providers, state.started_at as u64).await;
    Json(json!({"object": "list", "data": data}))
}

pub(crate) async fn model(State(state): State<SharedState>, Path(id): Path<String>) -> Answer {
    let data = state.models.list(&state.providers, state.started_at as u64).await;
    match data.into_iter().find(|m| m["id"] == id.as_str()) {
        Some(m) => Ok(Json(m).into_response()),
        None => Err(ApiError::ModelNotFound(id).into()),
    }
}
