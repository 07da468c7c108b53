//! Server-sent events with keep-alive comments, shared by the façade's shim and the codex sidecar.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use serde_json::Value;

use crate::openai::relay::Item;

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

/// What turns chat-completion chunks into another surface's events: the Responses bridge's and the
/// Messages bridge's converters.
pub(crate) trait ChunkConverter: Send + 'static {
    type Event: Send + 'static;
    fn start(&mut self) -> Vec<Self::Event>;
    fn chunk(&mut self, chunk: &Value) -> Vec<Self::Event>;
    fn finish(&mut self) -> Vec<Self::Event>;
    fn fail(&mut self, message: &str) -> Vec<Self::Event>;
}

/// A relayed chat stream through `converter`: its opening events, then each chunk's, ending at the
/// stream's end, its first non-JSON event or its error (then the converter's failure events).
pub(crate) fn converted<C: ChunkConverter>(
    mut converter: C,
    items: impl Stream<Item = Item> + Send + 'static,
) -> impl Stream<Item = C::Event> + Send + 'static {
    let start = futures::stream::iter(converter.start());
    let rest = items
        .scan((converter, false), |(converter, finished), item| {
            if *finished {
                return std::future::ready(None);
            }
            let events = match item {
                Item::Data(data) => match serde_json::from_str::<Value>(&data) {
                    Ok(chunk) => converter.chunk(&chunk),
                    Err(e) => {
                        *finished = true;
                        converter.fail(&format!("the provider sent an event that is not JSON: {e}"))
                    }
                },
                Item::Done => {
                    *finished = true;
                    converter.finish()
                }
                Item::Error(error) => {
                    *finished = true;
                    converter
                        .fail(error.pointer("/error/message").and_then(Value::as_str).unwrap_or("the stream failed"))
                }
            };
            std::future::ready(Some(futures::stream::iter(events)))
        })
        .flatten();
    start.chain(rest)
}
