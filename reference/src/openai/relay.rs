//! A provider's chat-completion event stream, passed on as it arrives (CONTRACT §1, streaming).
//!
//! Each `data:` payload goes to the client as it came — not parsed, not re-stamped — so the relay
//! adds next to nothing to the time to first token. What the provider does wrong is said in the
//! stream, never hidden: a stream cut without `data: [DONE]`, a 2xx that is not `text/event-stream`,
//! a silence longer than the provider timeout, or more than `MINI_AGENT_PROVIDER_MAX_BYTES` end with
//! an `error` event and no `[DONE]`.

use std::time::Duration;

use futures::{Stream, StreamExt};
use serde_json::{Value, json};

use crate::provider::kind::ProviderKind;

/// One thing to send the client.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    /// A `data:` payload, as the provider sent it.
    Data(String),
    /// The provider's `data: [DONE]`.
    Done,
    /// `data: {"error":{…}}`, the stream's last event.
    Error(Value),
}

/// An OpenAI-shaped error event payload.
pub(crate) fn error_event(message: impl Into<String>) -> Value {
    json!({"error": {"message": message.into(), "type": "upstream_error", "param": null, "code": "stream_error"}})
}

/// The items of `response`'s body: its events until `[DONE]`, or an error item saying why the
/// stream ended otherwise.
pub(crate) fn relay(
    response: reqwest::Response,
    provider: ProviderKind,
    max_bytes: usize,
    idle: Duration,
) -> impl Stream<Item = Item> + Send + 'static {
    let content_type =
        response.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    if !content_type.starts_with("text/event-stream") {
        let why = format!("provider {provider} answered a stream request with `{content_type}`, not an event stream");
        return futures::stream::iter(vec![Item::Error(error_event(why))]).boxed();
    }
    let mut seen = 0usize;
    let bytes = response.bytes_stream().map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        seen += chunk.len();
        if seen > max_bytes {
            return Err(std::io::Error::other(format!(
                "the stream is larger than {max_bytes} bytes (MINI_AGENT_PROVIDER_MAX_BYTES)"
            )));
        }
        Ok(chunk)
    });
    let events = Box::pin(sse_stream::SseStream::from_bytes_stream(bytes));
    futures::stream::unfold(Some(events), move |events| async move {
        let mut events = events?;
        loop {
            let next = match tokio::time::timeout(idle, events.next()).await {
                Err(_) => {
                    let why = format!("provider {provider} went silent for {idle:?} (MINI_AGENT_PROVIDER_TIMEOUT_SEC)");
                    return Some((Item::Error(error_event(why)), None));
                }
                Ok(next) => next,
            };
            match next {
                None => {
                    let why =
                        format!("provider {provider} ended the stream without data: [DONE]; the answer may be cut");
                    return Some((Item::Error(error_event(why)), None));
                }
                Some(Err(e)) => {
                    let why = format!("provider {provider}'s stream broke: {e}");
                    return Some((Item::Error(error_event(why)), None));
                }
                Some(Ok(event)) => match event.data {
                    Some(data) if data.trim() == "[DONE]" => return Some((Item::Done, None)),
                    Some(data) if !data.trim().is_empty() => {
                        // Passed on untouched — unless it carries one of our secrets.
                        let data = match crate::secret::redact(&data) {
                            std::borrow::Cow::Borrowed(_) => data,
                            std::borrow::Cow::Owned(clean) => clean,
                        };
                        return Some((Item::Data(data), Some(events)));
                    }
                    _ => continue,
                },
            }
        }
    })
    .boxed()
}
