//! How requests reach an implementation: a [`Transport`] sends one [`Request`] and reads the whole
//! [`Reply`]. The library ships the one for a URL ([`UrlTransport`], reqwest); the tests add an
//! in-process one that drives the reference's `Router` without a socket. Cases cannot tell which
//! they have, which is the point.
//!
//! Every request carries the suite's API key ([`AUTH_KEY`], `Authorization: Bearer …`) unless it
//! says otherwise: harmless to a target without keys, and what lets every case run against a target
//! started with the suite's keys file (CONTRACT §11). The headers a request goes out with are decided
//! here, once ([`Request::wire_headers`]), for every transport.

use std::net::{SocketAddr, ToSocketAddrs};

use bytes::Bytes;
use futures::future::BoxFuture;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::failure::{Failure, excerpt};

/// The suite's own API key: every request carries it, so a target started with the `auth`
/// feature's keys file runs every case. Named `conf-full` in that file (see `features`); it may do
/// everything.
pub const AUTH_KEY: &str = "sk-conformance-full";

/// One request. Bodies are JSON: transports send them with `content-type: application/json`.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// Path and query, starting with `/`.
    pub path: String,
    pub body: Option<Bytes>,
    /// Extra headers; one named like a default (`content-type`, `authorization`) replaces it.
    pub headers: Vec<(String, String)>,
    /// Whether the suite's key goes out as `Authorization: Bearer <AUTH_KEY>` (the default); the
    /// authentication cases turn it off to send no key, or another one.
    pub authenticate: bool,
}

impl Request {
    /// A request with the defaults: no extra headers, the suite's key.
    pub fn new(method: Method, path: &str, body: Option<Bytes>) -> Self {
        Self { method, path: path.to_owned(), body, headers: Vec::new(), authenticate: true }
    }

    pub fn get(path: &str) -> Self {
        Self::new(Method::GET, path, None)
    }

    pub fn post_json(path: &str, body: &Value) -> Self {
        Self::new(Method::POST, path, Some(Bytes::from(body.to_string())))
    }

    /// Adds a header (replacing a default of the same name).
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sends no `Authorization` of the suite's own.
    #[must_use]
    pub fn without_key(mut self) -> Self {
        self.authenticate = false;
        self
    }

    /// The headers this request goes out with: `content-type: application/json`, the suite's key
    /// unless turned off, then the extra headers — a default named among them is left out.
    pub fn wire_headers(&self) -> Vec<(String, String)> {
        let named = |name: &str| self.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
        let mut out = Vec::with_capacity(self.headers.len() + 2);
        if !named("content-type") {
            out.push(("content-type".to_owned(), "application/json".to_owned()));
        }
        if self.authenticate && !named("authorization") {
            out.push(("authorization".to_owned(), format!("Bearer {AUTH_KEY}")));
        }
        out.extend(self.headers.iter().cloned());
        out
    }
}

/// A reply, fully read.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, or a failure quoting what it was instead.
    pub fn json(&self) -> Result<Value, Failure> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Failure::failed(format!("HTTP {}: body is not JSON ({e}): {}", self.status, excerpt(&self.text())))
        })
    }

    pub fn content_type(&self) -> &str {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// Sends requests to one implementation (or to its exec-RPC server).
pub trait Transport: Send + Sync {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Reply, Failure>>;
}

/// An implementation at a URL.
#[derive(Debug, Clone)]
pub struct UrlTransport {
    base: String,
    http: reqwest::Client,
}

impl UrlTransport {
    /// `base` without a trailing slash is what paths are appended to.
    pub fn new(base: &str) -> Result<Self, reqwest::Error> {
        // No connection reuse: a target that drops its keep-alive connection after an error (uvicorn
        // does after a 500) would otherwise make the *next* request fail with a stale-connection error.
        let http = http_client().pool_max_idle_per_host(0).build()?;
        Ok(Self { base: base.trim_end_matches('/').to_owned(), http })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The socket a plain-`http://` base resolves to (the first address), for raw-socket cases;
    /// `None` for `https://` (raw bytes would have to speak TLS) or a host that does not resolve.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let url = reqwest::Url::parse(&self.base).ok().filter(|u| u.scheme() == "http")?;
        let host = url.host_str()?.trim_start_matches('[').trim_end_matches(']').to_owned();
        (host.as_str(), url.port_or_known_default()?).to_socket_addrs().ok()?.next()
    }
}

impl Transport for UrlTransport {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Reply, Failure>> {
        Box::pin(async move {
            let headers = request.wire_headers();
            let path = request.path;
            let mut req = self.http.request(request.method, format!("{}{path}", self.base));
            for (name, value) in headers {
                req = req.header(name, value);
            }
            if let Some(body) = request.body {
                req = req.body(body);
            }
            let res = req.send().await.map_err(|e| Failure::failed(format!("{path}: request failed: {e}")))?;
            let status = res.status().as_u16();
            let headers = res.headers().clone();
            let body =
                res.bytes().await.map_err(|e| Failure::failed(format!("{path}: reading the body failed: {e}")))?;
            Ok(Reply { status, headers, body })
        })
    }
}

/// The one way the suite starts a reqwest client: reqwest has no crypto provider of its own
/// (`rustls-no-provider`) and panics when a client is built without one, so ring is installed
/// first, once.
#[expect(
    clippy::disallowed_methods,
    reason = "transport::http_client: the one place the suite starts a reqwest client"
)]
pub fn http_client() -> reqwest::ClientBuilder {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // Err only when a provider is already installed, which is all this needs.
    ONCE.call_once(|| drop(rustls::crypto::ring::default_provider().install_default()));
    reqwest::Client::builder()
}
