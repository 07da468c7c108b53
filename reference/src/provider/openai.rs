//! The OpenAI-compatible wire call shared by every HTTP provider (openai, ollama, chutes,
//! codex-agent): the one request builder for plain and streaming calls, the `Authorization` header,
//! and the mapping of every failure — refused connection, timeout, non-2xx, a body that is not a
//! completion — to a [`ProviderError`] that names the provider, the status and a short excerpt of
//! the body.
//!
//! Does not retry: [`crate::transport::retry`] wraps these calls, it does not live inside them.

use std::time::Duration;

use serde::Serialize;

use super::error::ProviderError;
use super::kind::Wire;
use super::route::Route;
use crate::transport::retry::{Attempt, Verdict, retryable_status};
use crate::transport::retry_after;

pub(crate) use super::chat::{check_completion, excerpt};

/// The one request builder: `POST {route}/chat/completions` with `body`, the caller's forwardable
/// extra headers, the route's key as the one `Authorization`, and a timeout when given (a stream
/// has none: its idle gaps are bounded instead).
pub(crate) fn request(
    http: &reqwest::Client,
    route: &Route,
    body: &impl Serialize,
    extra_headers: &[(String, String)],
    timeout: Option<Duration>,
) -> reqwest::RequestBuilder {
    let mut call = http.post(route.chat_url()).json(body);
    if let Some(t) = timeout {
        call = call.timeout(t);
    }
    for (name, value) in forwardable(extra_headers, route.api_key.is_some()) {
        call = call.header(name, value);
    }
    with_key(call, route)
}

/// `call` with the route's key as the one `Authorization` header (`x-api-key` on Anthropic's wire) —
/// the only place a provider key goes on the wire — and the current span's W3C trace context when spans are exported.
pub(crate) fn with_key<C: Keyed>(mut call: C, route: &Route) -> C {
    for (name, value) in crate::telemetry::otel::outgoing_headers() {
        call = call.header(&name, &value);
    }
    match (&route.api_key, route.kind.wire()) {
        (Some(key), Wire::OpenAi) => call.bearer(key.expose()),
        (Some(key), Wire::Anthropic) => call.header("x-api-key", key.expose()),
        (None, _) => call,
    }
}

/// A request being built — by reqwest, or for hyper's client on the chat proxy's plain-HTTP path
/// ([`super::direct`]) — as [`with_key`] writes to it.
pub(crate) trait Keyed: Sized {
    fn header(self, name: &str, value: &str) -> Self;
    /// `Authorization: Bearer <key>`, marked sensitive (never logged by the client).
    fn bearer(self, key: &str) -> Self;
}

impl Keyed for reqwest::RequestBuilder {
    fn header(self, name: &str, value: &str) -> Self {
        reqwest::RequestBuilder::header(self, name, value)
    }
    fn bearer(self, key: &str) -> Self {
        self.bearer_auth(key)
    }
}

impl Keyed for http::request::Builder {
    fn header(self, name: &str, value: &str) -> Self {
        http::request::Builder::header(self, name, value)
    }
    fn bearer(self, key: &str) -> Self {
        let value = format!("Bearer {key}");
        match http::HeaderValue::from_str(&value) {
            Ok(mut value) => {
                value.set_sensitive(true);
                http::request::Builder::header(self, http::header::AUTHORIZATION, value)
            }
            // Not a header value: the request fails to build, as reqwest's does.
            Err(_) => http::request::Builder::header(self, http::header::AUTHORIZATION, value),
        }
    }
}

/// Sends `call`; a 2xx answer is returned for the caller to read, anything else becomes the error
/// it is (with the status, `Retry-After` and an excerpt of the body).
pub(crate) async fn send(route: &Route, call: reqwest::RequestBuilder) -> Result<reqwest::Response, ProviderError> {
    let response = call.send().await.map_err(|e| transport_error(route, &e))?;
    check(route, response).await
}

/// A 2xx `response` as it is; anything else as the error it is.
pub(crate) async fn check(route: &Route, response: reqwest::Response) -> Result<reqwest::Response, ProviderError> {
    let provider = route.kind;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = retry_after::from_headers(response.headers());
    // Only an excerpt is quoted, so only a little is read: an error page can be any size.
    let body = read_limited(response, 64 * 1024).await.map(|(b, _)| excerpt(&b)).unwrap_or_default();
    Err(ProviderError::Upstream { provider, status: status.as_u16(), body, retry_after })
}

/// At most `max` bytes of a body, and whether there was more — with every known secret redacted
/// (a provider that echoes our `Authorization` must not hand our key on, see [`crate::secret`]).
pub(crate) async fn read_limited(
    mut response: reqwest::Response,
    max: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    let mut more = false;
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > max {
            body.extend_from_slice(&chunk[..max - body.len()]);
            more = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    if let std::borrow::Cow::Owned(clean) = crate::secret::redact_bytes(&body) {
        body = clean;
    }
    Ok((body, more))
}

/// How long one call may take and how much of its reply is read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallLimits {
    pub timeout: Duration,
    pub max_reply_bytes: usize,
}

/// A failed exchange as the error it is: a timeout (504) or an unreachable provider (502).
pub(crate) fn transport_error(route: &Route, e: &reqwest::Error) -> ProviderError {
    // A connect timeout means the provider could not be reached (502); only an answer that did not
    // come in time is a timeout (504).
    if e.is_timeout() && !e.is_connect() {
        ProviderError::Timeout { provider: route.kind }
    } else {
        ProviderError::Transport { provider: route.kind, url: route.chat_url(), reason: describe(e) }
    }
}

/// The retry classifier of provider calls: 429 and 5xx (honouring `Retry-After`) and transport
/// failures are worth another try; a 4xx or a malformed answer is not.
pub(crate) fn classify<T>(outcome: &Result<T, ProviderError>) -> Attempt {
    match outcome {
        Ok(_) => Attempt { status: Some(200), verdict: Verdict::Done },
        Err(ProviderError::Upstream { status, retry_after, .. }) if retryable_status(*status) => {
            Attempt { status: Some(*status), verdict: Verdict::Retry { retry_after: *retry_after } }
        }
        Err(ProviderError::Upstream { status, .. }) => Attempt { status: Some(*status), verdict: Verdict::GiveUp },
        Err(ProviderError::Transport { .. } | ProviderError::Timeout { .. }) => {
            Attempt { status: None, verdict: Verdict::Retry { retry_after: None } }
        }
        Err(_) => Attempt { status: None, verdict: Verdict::GiveUp },
    }
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) and framing headers: never forwarded to a provider.
const NOT_FORWARDED: [&str; 11] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// The caller's extra headers that may go upstream: no hop-by-hop or framing headers, no header
/// named in a `Connection` value, and no `Authorization` when the route sets one (exactly one).
pub(crate) fn forwardable(headers: &[(String, String)], route_sets_authorization: bool) -> Vec<(String, String)> {
    let named_by_connection: Vec<String> = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| v.split(',').map(|t| t.trim().to_ascii_lowercase()))
        .collect();
    headers
        .iter()
        .filter(|(k, _)| {
            let lower = k.to_ascii_lowercase();
            let hop = NOT_FORWARDED.contains(&lower.as_str()) || named_by_connection.contains(&lower);
            let second_authorization = route_sets_authorization && lower == "authorization";
            !(hop || second_authorization)
        })
        .cloned()
        .collect()
}

/// reqwest's top-level message ("error sending request") hides the cause; people need the cause.
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() { kind.to_owned() } else { format!("{kind} ({cause})") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn hop_by_hop_headers_never_go_upstream() {
        let h = pairs(&[
            ("Connection", "keep-alive, X-Secret-Hop"),
            ("Keep-Alive", "timeout=5"),
            ("Transfer-Encoding", "chunked"),
            ("Upgrade", "h2c"),
            ("Proxy-Authorization", "Basic x"),
            ("X-Secret-Hop", "1"),
            ("X-Trace", "abc"),
            ("Authorization", "Bearer caller"),
        ]);
        assert_eq!(forwardable(&h, true), pairs(&[("X-Trace", "abc")]));
        assert_eq!(forwardable(&h, false), pairs(&[("X-Trace", "abc"), ("Authorization", "Bearer caller")]));
    }
}
