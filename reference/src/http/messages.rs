//! `POST /v1/messages` and `/v1/messages/count_tokens`: the Anthropic surface (CONTRACT §1).
//!
//! Native when the model's provider speaks Anthropic's wire (every deployment of a group, or the one
//! route): the body goes up with only its model name rewritten and the answer — JSON or events, as
//! they come — comes back as it is. Otherwise bridged ([`crate::anthropic`]): the request becomes a
//! chat request for the provider, its answer a message or Anthropic's events, converted as chunks
//! arrive, with `ping` while the provider is silent. Errors use Anthropic's shape
//! ([`AnthropicError`]). What the bridge leaves out is named in `x-miniagent-warnings`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Map, Value, json};

use super::deployments::routing_headers;
use super::extract::LimitedBody;
use super::openai::{json_bytes, pass_back, request_id};
use super::request_id::RequestId;
use super::sse::{ChunkConverter, converted};
use super::state::AppState;
use super::state::SharedState;
use crate::anthropic::answer::{self as reply, Events};
use crate::anthropic::{estimate, request};
use crate::api::decode;
use crate::error::{AnthropicError, ApiError};
use crate::openai::passthrough;
use crate::openai::proxy::{self, Proxied};
use crate::openai::raw::RawObject;
use crate::openai::relay::{self, Item};
use crate::openai::settings::{Mode, NO_PROVIDER_GUIDANCE};
use crate::openai_shape::{Stamp, completion, zero_usage};
use crate::provider::client::{Providers, Target};
use crate::provider::error::ProviderError;
use crate::provider::kind::Wire;
use crate::provider::openai::check_completion;
use crate::provider::route::Route;
use crate::provider::stream::split_into_chunks;

/// The header naming what a bridged request could not carry.
const WARNINGS: &str = "x-miniagent-warnings";
/// Client headers that go upstream on the native path.
const FORWARDED: [&str; 2] = ["anthropic-beta", "anthropic-dangerous-direct-browser-access"];

pub(crate) async fn messages(
    State(state): State<SharedState>,
    rid: Option<Extension<RequestId>>,
    headers: HeaderMap,
    body: Result<LimitedBody, ApiError>,
) -> Result<Response, AnthropicError> {
    let LimitedBody(body) = body?;
    let rid = request_id(rid);
    Ok(answer(&state, &body, &rid, &headers).await?)
}

pub(crate) async fn count_tokens(
    State(state): State<SharedState>,
    rid: Option<Extension<RequestId>>,
    headers: HeaderMap,
    body: Result<LimitedBody, ApiError>,
) -> Result<Response, AnthropicError> {
    let LimitedBody(body) = body?;
    let rid = request_id(rid);
    let map: Map<String, Value> = decode(&body)?;
    let model = model_of(&map)?;
    if state.config.shim.mode != Mode::Echo && state.providers.any_configured() {
        let target = target(&state, &model)?;
        if is_native(&state.providers, &target) {
            return Ok(native(&state, &body, &target, &rid, &headers, "messages/count_tokens").await?);
        }
    }
    let mut response = Json(json!({"input_tokens": estimate(&map)})).into_response();
    response.headers_mut().insert("x-miniagent-estimate", HeaderValue::from_static("true"));
    Ok(response)
}

fn model_of(map: &Map<String, Value>) -> Result<String, ApiError> {
    map.get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.trim().is_empty())
        .map(str::to_owned)
        .ok_or_else(|| ApiError::bad_request("model", "model: Field required (a string)"))
}

async fn answer(state: &AppState, body: &Bytes, rid: &RequestId, headers: &HeaderMap) -> Result<Response, ApiError> {
    let map: Map<String, Value> = decode(body)?;
    let model = model_of(&map)?;
    let settings = &state.config.shim;
    if !settings.delay.is_zero() {
        tokio::time::sleep(settings.delay).await;
    }
    if settings.mode == Mode::Echo {
        let bridged = bridge(state, &map)?;
        let done = completion(&Stamp::new(model.clone()), &settings.reply, zero_usage());
        return Ok(whole(state, &bridged, &done, &model));
    }
    if !state.providers.any_configured() {
        return Err(ApiError::bad_request("model", NO_PROVIDER_GUIDANCE));
    }
    let target = target(state, &model)?;
    if is_native(&state.providers, &target) {
        return native(state, body, &target, rid, headers, "messages").await;
    }
    let bridged = bridge(state, &map)?;
    bridged_call(state, &bridged, &target, &model, rid).await
}

fn bridge(state: &AppState, map: &Map<String, Value>) -> Result<request::Bridged, ApiError> {
    request::bridge(map, state.config.shim.anthropic_thinking)
        .map_err(|r| ApiError::bad_request(r.field.clone(), format!("{}: {}", r.field, r.message)))
}

/// What `model` names here: a router alias or `provider/model` as anywhere; else
/// `MINI_AGENT_ANTHROPIC_DEFAULT_MODEL`; else a `claude-…` name on the configured Anthropic
/// provider; else the default provider, as on the chat surface.
fn target(state: &AppState, model: &str) -> Result<Target, ProviderError> {
    let providers = &state.providers;
    if let Some((g, _)) = providers.router().group(model.trim()) {
        return Ok(Target::Group(g));
    }
    match providers.resolve(model) {
        Ok(route) => return Ok(Target::Direct(Arc::new(route))),
        Err(ProviderError::InvalidModel(_)) if !model.contains('/') => {}
        Err(e) => return Err(e),
    }
    if let Some(default) = &state.config.shim.anthropic_default_model {
        return proxy::target(providers, default);
    }
    if model.starts_with("claude") && providers.settings().anthropic.configured() {
        return proxy::target(providers, &format!("anthropic/{model}"));
    }
    proxy::target(providers, model)
}

/// Whether every route `target` can take speaks Anthropic's wire (then nothing is translated).
fn is_native(providers: &Providers, target: &Target) -> bool {
    match target {
        Target::Direct(route) => route.kind.wire() == Wire::Anthropic,
        Target::Group(g) => {
            let mut routes = providers.group_routes(*g).peekable();
            routes.peek().is_some() && routes.all(|(r, _)| r.kind.wire() == Wire::Anthropic)
        }
    }
}

/// The provider's own Messages API: the body with its model rewritten, the answer as it comes.
async fn native(
    state: &AppState,
    body: &Bytes,
    target: &Target,
    rid: &RequestId,
    headers: &HeaderMap,
    path: &'static str,
) -> Result<Response, ApiError> {
    let obj = RawObject::parse(body)?;
    let stream = obj.boolean("stream")?.unwrap_or(false);
    let forwarded: Vec<(String, String)> = FORWARDED
        .iter()
        .filter_map(|name| Some(((*name).to_owned(), headers.get(*name)?.to_str().ok()?.to_owned())))
        .collect();
    let body_of = |r: &Route| Bytes::from(proxy::body_for(&obj, r));
    let routed = proxy::send_with(&state.providers, target, path, &rid.id, stream, &forwarded, body_of).await;
    let routing = routing_headers(&routed.ticket);
    let (answer, route) = routed.result.map_err(ApiError::from)?;
    let Proxied::Upstream(forwarded) = answer else {
        return Err(ApiError::Internal("an anthropic route answered locally".to_owned()));
    };
    let back = pass_back(&forwarded, rid);
    let content_type = forwarded.response.headers().get(header::CONTENT_TYPE).cloned();
    let max = state.providers.settings().max_reply_bytes;
    let mut response = if stream {
        let idle = route.timeout.unwrap_or(state.providers.settings().request_timeout);
        let span = forwarded.span;
        let bytes = passthrough::relay(forwarded.response, route.kind, max, idle).map(move |b| {
            let _ = &span;
            Ok::<_, std::convert::Infallible>(b)
        });
        let mut r = Response::new(Body::from_stream(bytes));
        r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        r
    } else {
        json_bytes(proxy::read_all(forwarded, &route, max).await?)
    };
    if let Some(content_type) = content_type {
        response.headers_mut().insert(header::CONTENT_TYPE, content_type);
    }
    response.headers_mut().extend(back);
    response.headers_mut().extend(routing);
    Ok(response)
}

/// Bridged onto the provider's chat completions.
async fn bridged_call(
    state: &AppState,
    bridged: &request::Bridged,
    target: &Target,
    model: &str,
    rid: &RequestId,
) -> Result<Response, ApiError> {
    let body_of = |route: &Route| {
        let mut chat = bridged.chat.clone();
        chat.insert("model".into(), json!(route.upstream_model));
        Bytes::from(Value::Object(chat).to_string())
    };
    let routed = proxy::send(&state.providers, target, "chat/completions", &rid.id, bridged.stream, body_of).await;
    let routing = routing_headers(&routed.ticket);
    let ticket = routed.ticket;
    let (answer, route) = routed.result.map_err(ApiError::from)?;
    let mut response = match answer {
        Proxied::Local(done) => whole(state, bridged, &done, model),
        Proxied::Upstream(forwarded) => {
            let back = pass_back(&forwarded, rid);
            let max = state.providers.settings().max_reply_bytes;
            let mut r = if bridged.stream {
                let idle = route.timeout.unwrap_or(state.providers.settings().request_timeout);
                let span = forwarded.span;
                let items = relay::relay(forwarded.response, route.kind, max, idle).inspect(move |item| {
                    if let Item::Data(data) = item
                        && data.contains("\"total_tokens\"")
                    {
                        crate::provider::observe::record_chunk_usage(&span, data);
                        ticket.add_tokens(proxy::total_tokens(data.as_bytes()).unwrap_or(0));
                    }
                });
                events(state, Events::new(reply::message_id(), model.to_owned()), items)
            } else {
                let bytes = proxy::read_all(forwarded, &route, max).await?;
                ticket.add_tokens(proxy::total_tokens(&bytes).unwrap_or(0));
                let done: Value = serde_json::from_slice(&bytes).map_err(|e| invalid_reply(&route, &e.to_string()))?;
                check_completion(&done).map_err(|why| invalid_reply(&route, &why))?;
                Json(reply::message(&done, model, &reply::message_id())).into_response()
            };
            r.headers_mut().extend(back);
            with_warnings(r, bridged)
        }
    };
    response.headers_mut().extend(routing);
    Ok(response)
}

fn invalid_reply(route: &Route, why: &str) -> ApiError {
    ApiError::Provider(ProviderError::InvalidResponse { provider: route.kind, reason: why.to_owned() })
}

/// A whole chat completion (echo, dummy) as a message, or as its events when streaming.
fn whole(state: &AppState, bridged: &request::Bridged, done: &Value, model: &str) -> Response {
    let response = if bridged.stream {
        let items = split_into_chunks(done).into_iter().map(|c| Item::Data(c.to_string())).chain([Item::Done]);
        events(state, Events::new(reply::message_id(), model.to_owned()), futures::stream::iter(items))
    } else {
        Json(reply::message(done, model, &reply::message_id())).into_response()
    };
    with_warnings(response, bridged)
}

fn with_warnings(mut response: Response, bridged: &request::Bridged) -> Response {
    if !bridged.warnings.is_empty() {
        let value = bridged.warnings.join(",");
        tracing::debug!(route = "/v1/messages", warnings = %value, "not carried to the provider");
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(WARNINGS, v);
        }
    }
    response
}

/// Chat stream items through the converter, as Anthropic's named events, `ping` while silent.
fn events(state: &AppState, converter: Events, items: impl futures::Stream<Item = Item> + Send + 'static) -> Response {
    let events = converted(converter, items)
        .map(|e| Ok::<_, std::convert::Infallible>(Event::default().event(e.name).data(e.data.to_string())));
    let ping = Event::default().event("ping").data(r#"{"type": "ping"}"#);
    Sse::new(events).keep_alive(KeepAlive::new().interval(state.config.shim.keepalive).event(ping)).into_response()
}

impl ChunkConverter for Events {
    type Event = crate::anthropic::answer::Event;
    fn start(&mut self) -> Vec<crate::anthropic::answer::Event> {
        Events::start(self)
    }
    fn chunk(&mut self, chunk: &Value) -> Vec<crate::anthropic::answer::Event> {
        Events::chunk(self, chunk)
    }
    fn finish(&mut self) -> Vec<crate::anthropic::answer::Event> {
        Events::finish(self)
    }
    fn fail(&mut self, message: &str) -> Vec<crate::anthropic::answer::Event> {
        Events::fail(self, message)
    }
}
