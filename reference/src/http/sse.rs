//! Server-sent events with keep-alive comments, shared by the façade's shim and the codex sidecar.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use serde_json::Value;

/// Server-sent events: one `data:` per chunk, `data: [DONE]` at the end, a keep-alive comment
/// whenever nothing has been sent for the configured interval.
pub(crate) fn sse(keepalive: Duration, chunks: impl Stream<Item = Value> + Send + 'static) -> Response {
    let events = chunks
        .map(|c| Event::default().data(c.to_string()))
        .chain(futures::stream::once(async { Event::default().data("[DONE]") }));
    events_response(keepalive, events)
}

/// Any events, with keep-alive comments (`: keep-alive`, never an empty `data:`, which clients would
/// try to parse) whenever nothing has been sent for the configured interval.
pub(crate) fn events_response(keepalive: Duration, events: impl Stream<Item = Event> + Send + 'static) -> Response {
    Sse::new(events.map(Ok::<_, Infallible>))
        .keep_alive(KeepAlive::new().interval(keepalive).text("keep-alive"))
        .into_response()
}
