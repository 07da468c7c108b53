//! The chat proxy's event stream at the wire's pace: the provider's bytes go to the client in the
//! pieces they arrived in, cut only at line ends (CONTRACT §1, streaming, proxy mode).
//!
//! [`super::relay`] parses every event into a string and hands it to an SSE writer that frames it
//! again — a copy, an allocation and a write per event: 50 events written at once upstream became
//! 50 frames here. This relay looks at the bytes without building anything: it finds `data: [DONE]`
//! (the end), notices a stream cut without it, a 2xx that is not an event stream, a silence longer
//! than the provider timeout and a stream over `MINI_AGENT_PROVIDER_MAX_BYTES` — each ends the
//! stream with an `error` event, never a `[DONE]` that would hide the truncation — writes
//! `: keep-alive` comments while the provider is silent, redacts known secrets
//! ([`crate::secret`]: a piece is cut at its last line end, and no secret spans a line), and shows
//! each piece that mentions usage to `on_usage`, which reads the token counts.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};

use super::relay::error_event;
use crate::provider::kind::ProviderKind;

/// What a relay needs to know besides the response.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    /// The longest silence before the stream is given up (the provider timeout).
    pub idle: Duration,
    /// A `: keep-alive` comment after this long without a byte.
    pub keepalive: Duration,
    pub max_bytes: usize,
}

const KEEPALIVE: &[u8] = b": keep-alive\n\n";

fn error_bytes(why: String) -> Bytes {
    Bytes::from(format!("data: {}\n\n", error_event(why)))
}

/// State of one relayed stream.
struct Relay<S, F> {
    upstream: S,
    pending: BytesMut,
    seen: usize,
    /// When the provider last sent a byte: the silence is counted from here, across the
    /// keep-alive comments written meanwhile.
    heard: tokio::time::Instant,
    done: bool,
    provider: ProviderKind,
    pace: Pace,
    on_usage: F,
}

/// The stream for the client, from `response`'s body.
pub(crate) fn relay(
    response: reqwest::Response,
    provider: ProviderKind,
    pace: Pace,
    on_usage: impl FnMut(&[u8]) + Send + 'static,
) -> impl Stream<Item = Bytes> + Send + 'static {
    let content_type =
        response.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    if !content_type.starts_with("text/event-stream") {
        let why = format!("provider {provider} answered a stream request with `{content_type}`, not an event stream");
        return futures::stream::iter([error_bytes(why)]).boxed();
    }
    let state = Relay {
        upstream: response.bytes_stream(),
        pending: BytesMut::new(),
        seen: 0,
        heard: tokio::time::Instant::now(),
        done: false,
        provider,
        pace,
        on_usage,
    };
    futures::stream::unfold(state, next).boxed()
}

/// The next piece for the client, or the end.
async fn next<S, F>(mut r: Relay<S, F>) -> Option<(Bytes, Relay<S, F>)>
where
    S: Stream<Item = reqwest::Result<Bytes>> + Unpin,
    F: FnMut(&[u8]),
{
    if r.done {
        return None;
    }
    loop {
        let give_up = r.heard + r.pace.idle;
        let wait = r.pace.keepalive.min(give_up.saturating_duration_since(tokio::time::Instant::now()));
        let chunk = match tokio::time::timeout(wait, r.upstream.next()).await {
            Err(_) if tokio::time::Instant::now() >= give_up => {
                let (provider, idle) = (r.provider, r.pace.idle);
                let why = format!("provider {provider} went silent for {idle:?} (MINI_AGENT_PROVIDER_TIMEOUT_SEC)");
                return r.end(error_bytes(why));
            }
            Err(_) => return Some((Bytes::from_static(KEEPALIVE), r)),
            Ok(None) => {
                let provider = r.provider;
                let why = format!("provider {provider} ended the stream without data: [DONE]; the answer may be cut");
                let mut tail = std::mem::take(&mut r.pending);
                if !tail.is_empty() && !tail.ends_with(b"\n") {
                    tail.extend_from_slice(b"\n\n");
                }
                tail.extend_from_slice(&error_bytes(why));
                return r.end(tail.freeze());
            }
            Ok(Some(Err(e))) => {
                let why = format!("provider {}'s stream broke: {e}", r.provider);
                return r.end(error_bytes(why));
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        r.heard = tokio::time::Instant::now();
        r.seen += chunk.len();
        if r.seen > r.pace.max_bytes {
            let max = r.pace.max_bytes;
            let why = format!("the stream is larger than {max} bytes (MINI_AGENT_PROVIDER_MAX_BYTES)");
            return r.end(error_bytes(why));
        }
        if let Some(piece) = r.take_lines(chunk) {
            return Some((piece, r));
        }
    }
}

impl<S, F: FnMut(&[u8])> Relay<S, F> {
    fn end(mut self, last: Bytes) -> Option<(Bytes, Self)> {
        self.done = true;
        Some((last, self))
    }

    /// The complete lines received so far (through `[DONE]`'s line when it came), checked and
    /// redacted; `None` while no line is complete.
    fn take_lines(&mut self, chunk: Bytes) -> Option<Bytes> {
        // Most pieces end at a line end and nothing is pending: no copy at all.
        let mut whole = if self.pending.is_empty() && chunk.last() == Some(&b'\n') {
            chunk
        } else {
            self.pending.extend_from_slice(&chunk);
            let end = self.pending.iter().rposition(|b| *b == b'\n')?;
            self.pending.split_to(end + 1).freeze()
        };
        if let Some(end) = done_line_end(&whole) {
            whole.truncate(end);
            self.done = true;
        }
        if memchr::memmem::find(&whole, b"\"usage\"").is_some() {
            (self.on_usage)(&whole);
        }
        Some(match crate::secret::redact_bytes(&whole) {
            std::borrow::Cow::Borrowed(_) => whole,
            std::borrow::Cow::Owned(clean) => Bytes::from(clean),
        })
    }
}

/// Where the event holding `data: [DONE]` ends in `bytes` (after its blank line when it is there).
fn done_line_end(bytes: &[u8]) -> Option<usize> {
    memchr::memmem::find_iter(bytes, b"[DONE]").find_map(|at| done_at(bytes, at))
}

/// The end of the `data: [DONE]` event around `at`, when the line there is one.
fn done_at(bytes: &[u8], at: usize) -> Option<usize> {
    let line_start = bytes[..at].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let line = &bytes[line_start..];
    let line_end = line.iter().position(|b| *b == b'\n').map_or(bytes.len(), |i| line_start + i + 1);
    let is_done = {
        let text = std::str::from_utf8(&bytes[line_start..line_end]).unwrap_or("");
        text.strip_prefix("data:").is_some_and(|rest| rest.trim() == "[DONE]")
    };
    if !is_done {
        return None;
    }
    // Through the event's blank line (`\n` or `\r\n`), if it came in the same piece.
    let rest = &bytes[line_end..];
    Some(
        line_end
            + if rest.starts_with(b"\r\n") {
                2
            } else if rest.starts_with(b"\n") {
                1
            } else {
                0
            },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_is_found_with_its_blank_line_and_only_on_a_data_line() {
        let s = b"data: {\"a\":1}\n\ndata: [DONE]\n\ntrailing";
        assert_eq!(done_line_end(s), Some(s.len() - "trailing".len()));
        assert_eq!(done_line_end(b"data: [DONE]\r\n\r\n"), Some(16));
        assert_eq!(
            done_line_end(b"data: {\"content\":\"[DONE]\"}\n\n"),
            None,
            "[DONE] inside a payload is not the end"
        );
        assert_eq!(done_line_end(b"data:[DONE]\n"), Some(12));
        let later = b"data: {\"content\":\"[DONE]\"}\n\ndata: [DONE]\n\n";
        assert_eq!(done_line_end(later), Some(later.len()), "the real end after a payload that mentions it");
    }
}
