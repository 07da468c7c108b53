//! `POST /v1/responses`: the Responses API, bridged onto the provider's chat completions or passed
//! through to its own `/responses` ([`crate::openai::responses::mode`] decides per route).
//!
//! Bridged, the answer is built here from the chat answer (JSON, or the event stream as it comes)
//! and carries `x-miniagent-warnings` when the request held something chat cannot carry (also
//! logged, once per request). Passed through, the body goes up with only its model name rewritten
//! and the provider's answer — JSON or event stream — comes back byte for byte with its status, as
//! the chat proxy does. Every 4xx this route answers itself is logged with the route, the field,
//! the key's *name* and the request id: a client told "no" should find the reason in the log.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Map, Value, json};

use super::deployments::routing_headers;
use super::extract::LimitedBody;
use super::openai::{json_bytes, pass_back, request_id};
use super::request_id::RequestId;
use super::sse::{ChunkConverter, converted, events_response};
use super::state::{AppState, SharedState};
use crate::api::{RequestError, decode};
use crate::auth::Caller;
use crate::error::{ApiError, OpenAiError};
use crate::openai::passthrough;
use crate::openai::proxy::{self, Forwarded, Proxied};
use crate::openai::raw::RawObject;
use crate::openai::relay::{self, Item};
use crate::openai::responses::events::Converter;
use crate::openai::responses::mode::{self, Wire};
use crate::openai::responses::request::{self, Bridged};
use crate::openai::responses::{output, warnings};
use crate::openai::settings::{Mode, NO_PROVIDER_GUIDANCE, ResponsesMode};
use crate::openai_shape::{Stamp, completion, zero_usage};
use crate::provider::client::{Providers, Target};
use crate::provider::observe;
use crate::provider::openai::check_completion;
use crate::provider::route::Route;
use crate::provider::stream::split_into_chunks;

const ROUTE: &str = "/v1/responses";
/// The header naming what a bridged request could not carry.
const WARNINGS: &str = "x-miniagent-warnings";

pub(crate) async fn responses(
    State(state): State<SharedState>,
    caller: Option<Extension<Caller>>,
    rid: Option<Extension<RequestId>>,
    body: Result<LimitedBody, ApiError>,
) -> Result<Response, OpenAiError> {
    let rid = request_id(rid);
    let answered = match body {
        Ok(LimitedBody(body)) => answer(&state, &body, &rid).await,
        Err(e) => Err(e),
    };
    answered.map_err(|e| {
        log_refusal(&e, caller.as_deref(), &rid);
        OpenAiError(e)
    })
}

/// A 4xx of this route's own (not a provider's, which the provider logs): what was refused, whose
/// key (its name, never the key), which request.
fn log_refusal(error: &ApiError, caller: Option<&Caller>, rid: &RequestId) {
    let status = error.status();
    if !status.is_client_error() || matches!(error, ApiError::Passthrough { .. }) {
        return;
    }
    let key = caller.map_or("-", |Caller(key)| key.name.as_str());
    tracing::warn!(
        route = ROUTE,
        status = status.as_u16(),
        field = error.field().unwrap_or("-"),
        key,
        request_id = ?rid.id,
        error = ?error.public_message(),
        "request refused"
    );
}

async fn answer(state: &AppState, body: &Bytes, rid: &RequestId) -> Result<Response, ApiError> {
    let obj = RawObject::parse(body)?;
    let model = obj
        .string("model")?
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| RequestError::invalid("model", "you must provide a model parameter (a string)"))?;
    let settings = &state.config.shim;
    if settings.mode == Mode::Echo {
        let bridged = bridge(state, body)?;
        let done = completion(&Stamp::new(bridged.model.clone()), &settings.reply, zero_usage());
        return Ok(respond_whole(state, &bridged, &done, rid));
    }
    if !state.providers.any_configured() {
        return Err(ApiError::bad_request("model", NO_PROVIDER_GUIDANCE));
    }
    let target = proxy::target(&state.providers, &model)?;
    match wire_of(&state.providers, &target, settings.responses_mode) {
        Wire::Passthrough => passthrough(state, &obj, &target, rid).await,
        Wire::Bridge => bridged(state, &bridge(state, body)?, &target, rid).await,
    }
}

/// The wire of a target: a route's own; for a router group, its deployments' when they agree
/// (each deployment's `responses_mode` winning over the global one), else the bridge, which every
/// provider can take — the wire is chosen before the router picks a deployment.
fn wire_of(providers: &Providers, target: &Target, global: ResponsesMode) -> Wire {
    match target {
        Target::Direct(route) => mode::wire(route, global, None),
        Target::Group(g) => {
            let mut wires = providers.group_routes(*g).map(|(route, d)| mode::wire(route, global, d.responses_mode));
            let first = wires.next().unwrap_or(Wire::Bridge);
            if wires.all(|w| w == first) { first } else { Wire::Bridge }
        }
    }
}

fn bridge(state: &AppState, body: &Bytes) -> Result<Bridged, ApiError> {
    let map: Map<String, Value> = decode(body)?;
    Ok(request::bridge(map, state.config.shim.hosted_tools)?)
}

/// The provider's own `/responses`: body and answer as they are, but for the model's name.
async fn passthrough(
    state: &AppState,
    obj: &RawObject<'_>,
    target: &Target,
    rid: &RequestId,
) -> Result<Response, ApiError> {
    let stream = obj.boolean("stream")?.unwrap_or(false);
    let routed =
        proxy::send(&state.providers, target, "responses", &rid.id, stream, |r| Bytes::from(proxy::body_for(obj, r)))
            .await;
    let routing = routing_headers(&routed.ticket);
    let (answer, route) = routed.result.map_err(ApiError::from)?;
    let Proxied::Upstream(forwarded) = answer else {
        return Err(ApiError::bad_request("model", "the `dummy` model answers chat only: it has no /responses"));
    };
    let headers = pass_back(&forwarded, rid);
    let content_type = forwarded.response.headers().get(header::CONTENT_TYPE).cloned();
    let is_events =
        content_type.as_ref().and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/event-stream"));
    let max = state.providers.settings().max_reply_bytes;
    let mut response = if is_events {
        let idle = route.timeout.unwrap_or(state.providers.settings().request_timeout);
        let span = forwarded.span;
        let bytes = passthrough::relay(forwarded.response, route.kind, max, idle).map(move |b| {
            // The call's span stays open while its stream flows.
            let _ = &span;
            Ok::<_, std::convert::Infallible>(b)
        });
        let mut r = Response::new(Body::from_stream(bytes));
        r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        r
    } else {
        let bytes = proxy::read_all(forwarded, &route, max).await?;
        routed.ticket.add_tokens(proxy::total_tokens(&bytes).unwrap_or(0));
        json_bytes(bytes)
    };
    if let Some(content_type) = content_type {
        response.headers_mut().insert(header::CONTENT_TYPE, content_type);
    }
    response.headers_mut().extend(headers);
    response.headers_mut().extend(routing);
    Ok(response)
}

/// Bridged: the chat answer as a Response, or the chat stream as the Responses event stream.
async fn bridged(state: &AppState, bridged: &Bridged, target: &Target, rid: &RequestId) -> Result<Response, ApiError> {
    let mut chat = bridged.chat.clone();
    chat.insert("stream".into(), json!(bridged.stream));
    if bridged.stream {
        // `response.completed` must carry the usage.
        chat.insert("stream_options".into(), json!({"include_usage": true}));
    }
    let body_of = |route: &Route| {
        let mut chat = chat.clone();
        chat.insert("model".into(), json!(route.upstream_model));
        Bytes::from(Value::Object(chat).to_string())
    };
    let routed = proxy::send(&state.providers, target, "chat/completions", &rid.id, bridged.stream, body_of).await;
    let routing = routing_headers(&routed.ticket);
    let (answer, route) = routed.result.map_err(ApiError::from)?;
    let mut response = match answer {
        Proxied::Local(done) => respond_whole(state, bridged, &done, rid),
        Proxied::Upstream(forwarded) => {
            let headers = pass_back(&forwarded, rid);
            let mut r = bridged_answer(state, bridged, forwarded, &route, routed.ticket).await?;
            r.headers_mut().extend(headers);
            with_warnings(r, bridged, rid)
        }
    };
    response.headers_mut().extend(routing);
    Ok(response)
}

/// A provider's chat answer as a Response: JSON, or the Responses event stream as it comes.
async fn bridged_answer(
    state: &AppState,
    bridged: &Bridged,
    forwarded: Forwarded,
    route: &Route,
    ticket: crate::provider::router::Ticket,
) -> Result<Response, ApiError> {
    let max = state.providers.settings().max_reply_bytes;
    let (response_id, created) = (output::id("resp"), now());
    if bridged.stream {
        let idle = route.timeout.unwrap_or(state.providers.settings().request_timeout);
        let span = forwarded.span;
        let items = relay::relay(forwarded.response, route.kind, max, idle).inspect(move |item| {
            if let Item::Data(data) = item {
                observe::record_chunk_usage(&span, data);
                if data.contains("\"total_tokens\"") {
                    ticket.add_tokens(proxy::total_tokens(data.as_bytes()).unwrap_or(0));
                }
            }
        });
        let converter = Converter::new(&response_id, created, &route.upstream_model, bridged);
        return Ok(events_response(state.config.shim.keepalive, responses_events(converter, items)));
    }
    let bytes = proxy::read_all(forwarded, route, max).await?;
    ticket.add_tokens(proxy::total_tokens(&bytes).unwrap_or(0));
    let completion: Value = serde_json::from_slice(&bytes).map_err(|e| invalid_reply(route, &e.to_string()))?;
    check_completion(&completion).map_err(|why| invalid_reply(route, &why))?;
    Ok(Json(output::from_completion(&completion, &response_id, created, bridged)).into_response())
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// `response` with the warnings header, and the warnings logged once.
fn with_warnings(mut response: Response, bridged: &Bridged, rid: &RequestId) -> Response {
    if let Some(value) = warnings::header_value(&bridged.warnings) {
        tracing::warn!(route = ROUTE, request_id = ?rid.id, model = ?bridged.model, warnings = %value, "not carried to the provider");
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(WARNINGS, v);
        }
    }
    response
}

fn invalid_reply(route: &Route, why: &str) -> ApiError {
    ApiError::Provider(crate::provider::error::ProviderError::InvalidResponse {
        provider: route.kind,
        reason: why.to_owned(),
    })
}

/// A whole chat completion (echo, dummy) as a Response: JSON, or its events when streaming.
fn respond_whole(state: &AppState, bridged: &Bridged, done: &Value, rid: &RequestId) -> Response {
    let (response_id, created) = (output::id("resp"), now());
    let model = done.get("model").and_then(Value::as_str).unwrap_or(&bridged.model).to_owned();
    let response = if bridged.stream {
        let items = split_into_chunks(done).into_iter().map(|c| Item::Data(c.to_string())).chain([Item::Done]);
        let converter = Converter::new(&response_id, created, &model, bridged);
        events_response(state.config.shim.keepalive, responses_events(converter, futures::stream::iter(items)))
    } else {
        Json(output::from_completion(done, &response_id, created, bridged)).into_response()
    };
    with_warnings(response, bridged, rid)
}

/// Relay items through the converter, as named SSE events (no `[DONE]`: Responses streams end
/// with their terminal event).
fn responses_events(
    converter: Converter,
    items: impl futures::Stream<Item = Item> + Send + 'static,
) -> impl futures::Stream<Item = Event> + Send + 'static {
    converted(converter, items).map(|e| Event::default().event(e.kind).data(e.data.to_string()))
}

impl ChunkConverter for Converter {
    type Event = crate::openai::responses::events::Event;
    fn start(&mut self) -> Vec<crate::openai::responses::events::Event> {
        Converter::start(self)
    }
    fn chunk(&mut self, chunk: &Value) -> Vec<crate::openai::responses::events::Event> {
        Converter::chunk(self, chunk)
    }
    fn finish(&mut self) -> Vec<crate::openai::responses::events::Event> {
        Converter::finish(self)
    }
    fn fail(&mut self, message: &str) -> Vec<crate::openai::responses::events::Event> {
        Converter::fail(self, message)
    }
}
