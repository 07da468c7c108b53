//! How requests reach an implementation: a [`Transport`] sends one [`Request`] and reads the whole
//! [`Reply`]. The library ships the one for a URL ([`UrlTransport`], reqwest); the tests add an
//! in-process one that drives the reference's `Router` without a socket. Cases cannot tell which
//! they have, which is the point.

use bytes::Bytes;
use futures::future::BoxFuture;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::failure::{Failure, excerpt};

/// One request. Bodies are JSON: transports send them with `content-type: application/json`.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// Path and query, starting with `/`.
    pub path: String,
    pub body: Option<Bytes>,
    /// Headers besides `content-type` (an `x-request-id` the client chose).
    pub headers: Vec<(String, String)>,
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
        let http = reqwest::Client::builder().pool_max_idle_per_host(0).build()?;
        Ok(Self { base: base.trim_end_matches('/').to_owned(), http })
    }

    pub fn base(&self) -> &str {
        &self.base
    }
}

impl Transport for UrlTransport {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Reply, Failure>> {
        Box::pin(async move {
            let path = request.path;
            let mut req = self
                .http
                .request(request.method, format!("{}{path}", self.base))
                .header("content-type", "application/json");
            for (name, value) in &request.headers {
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
