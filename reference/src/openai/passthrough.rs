//! A provider's own `/responses` event stream — or its own Messages stream on the Anthropic surface's
//! native path — relayed byte for byte (CONTRACT §1, Responses pass-through, `/v1/messages`): every chunk goes to the client as it arrived — event names, ids, hosted tools'
//! events and all — with nothing parsed or re-framed, so what the client sees is what the provider
//! sent.
//!
//! What the relay adds is only what it must say itself, at the end, as one more SSE event the
//! client's parser already knows (`event: error`): a stream that stopped before its terminal event
//! (`response.completed`, `response.incomplete`, `response.failed`, Anthropic's `message_stop`, or an
//! `error`: the added event's data is `{"type":"error","error":{…}}`, which both APIs read), a silence longer
//! than the provider timeout, or more than `MINI_AGENT_PROVIDER_MAX_BYTES`. A Responses stream has
//! no `[DONE]`; its terminal event is how a cut is told from an end.

use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde_json::json;

use crate::provider::kind::ProviderKind;

/// The event types that end a Responses stream, as they appear in its bytes.
const TERMINAL: [&[u8]; 5] =
    [b"response.completed", b"response.incomplete", b"response.failed", b"event: message_stop", b"event: error"];
/// How much of the previous chunk is kept to find a terminal name split across two chunks.
const OVERLAP: usize = 32;

/// An SSE `error` event in the Responses shape, ending a relayed stream.
pub(crate) fn error_event(message: &str) -> Bytes {
    let data = json!({"type": "error", "code": "stream_error", "message": message, "param": null,
        "error": {"type": "upstream_error", "code": "stream_error", "message": message, "param": null}});
    Bytes::from(format!("event: error\ndata: {data}\n\n"))
}

/// Whether `window` holds a terminal event's name.
fn has_terminal(window: &[u8]) -> bool {
    TERMINAL.iter().any(|t| window.windows(t.len()).any(|w| w == *t))
}

/// State of one relay.
struct Relay {
    body: futures::stream::BoxStream<'static, reqwest::Result<Bytes>>,
    provider: ProviderKind,
    max_bytes: usize,
    idle: Duration,
    seen: usize,
    tail: Vec<u8>,
    ended: bool,
    done: bool,
}

impl Relay {
    async fn next(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        let provider = self.provider;
        let fail = |relay: &mut Self, why: String| {
            relay.done = true;
            Some(error_event(&why))
        };
        match tokio::time::timeout(self.idle, self.body.next()).await {
            Err(_) => {
                let idle = self.idle;
                fail(self, format!("provider {provider} went silent for {idle:?} (MINI_AGENT_PROVIDER_TIMEOUT_SEC)"))
            }
            Ok(None) if self.ended => None,
            Ok(None) => {
                fail(self, format!("provider {provider} ended the stream before its last event; the answer may be cut"))
            }
            Ok(Some(Err(e))) => fail(self, format!("provider {provider}'s stream broke: {e}")),
            Ok(Some(Ok(chunk))) => {
                self.seen += chunk.len();
                if self.seen > self.max_bytes {
                    let max = self.max_bytes;
                    return fail(
                        self,
                        format!("the stream is larger than {max} bytes (MINI_AGENT_PROVIDER_MAX_BYTES)"),
                    );
                }
                let mut window = std::mem::take(&mut self.tail);
                window.extend_from_slice(&chunk);
                self.ended |= has_terminal(&window);
                self.tail = window[window.len().saturating_sub(OVERLAP)..].to_vec();
                Some(chunk)
            }
        }
    }
}

/// `response`'s body as it arrives, then an `error` event if it did not end as a Responses stream
/// ends.
pub(crate) fn relay(
    response: reqwest::Response,
    provider: ProviderKind,
    max_bytes: usize,
    idle: Duration,
) -> impl Stream<Item = Bytes> + Send + 'static {
    let relay = Relay {
        body: response.bytes_stream().boxed(),
        provider,
        max_bytes,
        idle,
        seen: 0,
        tail: Vec::new(),
        ended: false,
        done: false,
    };
    futures::stream::unfold(relay, |mut relay| async move { relay.next().await.map(|b| (b, relay)) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_events_are_found_even_across_chunks() {
        assert!(has_terminal(b"event: response.completed\ndata: {}"));
        assert!(!has_terminal(b"event: response.output_text.delta\ndata: {}"));
        let (a, b) = b"data: {\"type\":\"response.comp".split_at(20);
        let mut window = a[a.len().saturating_sub(OVERLAP)..].to_vec();
        window.extend_from_slice(b);
        window.extend_from_slice(b"leted\"}");
        assert!(has_terminal(&window));
        let event = error_event("cut");
        assert!(event.starts_with(b"event: error\ndata: {") && event.ends_with(b"\n\n"));
    }
}
