//! The chat proxy's client for plain-HTTP providers (a local model server, a sidecar, a gateway in
//! the same network): hyper's own client with its pool per upstream, without reqwest's stack
//! (request builder, URL conversion, redirect policy, timeout layers) on the proxy's hot path.
//!
//! Only the proxy's OpenAI-wire calls to an `http://` base come here; `https://` bases (TLS) and
//! every other call keep the shared `reqwest::Client`. The behaviour is the same either way: the
//! connect timeout is the providers' (502 when it passes), a non-streamed exchange's head and body
//! share one deadline (504 when it passes, like reqwest's one timer), and the answer comes back as
//! a `reqwest::Response` so everything that reads answers (status errors, the byte relay, the
//! size-limited reader with its redaction) reads this one too. Redirects are not followed (reqwest
//! followed them; a provider answering a chat completion with a redirect is not one we can proxy).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::error::ProviderError;
use super::route::Route;

/// hyper's client for `http://` providers; clones share the pools. Each thread has pools of its
/// own, so a connection's task runs on the thread of the requests that use it (see `serve`'s
/// workers): no request waits for another thread to be woken to write its upstream bytes.
#[derive(Debug, Clone)]
pub struct Direct {
    clients: std::sync::Arc<thread_local::ThreadLocal<Client<HttpConnector, Full<Bytes>>>>,
    connect_timeout: Duration,
}

/// Why a direct call has no answer.
#[derive(Debug)]
pub enum DirectError {
    /// Not connected within the connect timeout, refused, unreachable.
    Connect(String),
    /// Connected, but the exchange failed.
    Request(String),
}

impl Direct {
    /// Idle connections are kept a minute, like the shared client's.
    pub fn new(connect_timeout: Duration) -> Self {
        Self { clients: std::sync::Arc::default(), connect_timeout }
    }

    /// This thread's client.
    fn client(&self) -> &Client<HttpConnector, Full<Bytes>> {
        self.clients.get_or(|| {
            let mut connector = HttpConnector::new();
            connector.set_nodelay(true);
            connector.set_connect_timeout(Some(self.connect_timeout));
            Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(60))
                .pool_timer(TokioTimer::new())
                .build(connector)
        })
    }

    /// Sends `request` to `url` (its parsed form, which the answer carries); the answer's body
    /// fails with a timeout once `deadline` (when given) passes.
    pub async fn send(
        &self,
        request: http::Request<Full<Bytes>>,
        url: reqwest::Url,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<reqwest::Response, DirectError> {
        use reqwest::ResponseBuilderExt;
        let response = self.client().request(request).await.map_err(|e| {
            let cause = cause_of(&e);
            if e.is_connect() { DirectError::Connect(cause) } else { DirectError::Request(cause) }
        })?;
        let (head, body) = response.into_parts();
        // The answer is handed on with its URL: without one, reqwest parses a placeholder URL for
        // every answer (callgrind: 3.3 k instructions a request, IDNA included).
        let mut answer = http::Response::builder()
            .url(url)
            .body(reqwest::Body::wrap(Deadline::new(body, deadline)))
            .map_err(|e| DirectError::Request(e.to_string()))?;
        *answer.status_mut() = head.status;
        *answer.version_mut() = head.version;
        *answer.headers_mut() = head.headers;
        Ok(reqwest::Response::from(answer))
    }
}

/// A failed direct exchange as the error it is: the provider could not be reached, or the exchange
/// broke (both 502, worded as [`super::openai::describe`] words reqwest's).
pub(crate) fn error(route: &Route, e: DirectError) -> ProviderError {
    let reason = match e {
        DirectError::Connect(cause) => format!("connection failed ({cause})"),
        DirectError::Request(cause) => format!("request failed ({cause})"),
    };
    ProviderError::Transport { provider: route.kind, url: route.chat_url(), reason }
}

/// The innermost cause of `e` (hyper's top-level message says only "client error").
fn cause_of(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    cause
}

/// A response body that fails with `TimedOut` once its deadline passes.
struct Deadline {
    body: Incoming,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Deadline {
    fn new(body: Incoming, deadline: Option<tokio::time::Instant>) -> Self {
        Self { body, sleep: deadline.map(|d| Box::pin(tokio::time::sleep_until(d))) }
    }
}

impl Body for Deadline {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if let Some(sleep) = self.sleep.as_mut()
            && sleep.as_mut().poll(cx).is_ready()
        {
            let late = std::io::Error::new(std::io::ErrorKind::TimedOut, "the provider's answer did not end in time");
            return Poll::Ready(Some(Err(late.into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
