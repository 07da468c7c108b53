//! The implementation under test, seen from a case: send requests, read replies, check snapshots.
//!
//! Two kinds of target share one interface: the reference in-process (an axum `Router` driven with
//! `oneshot`, no socket) and any implementation at a URL (reqwest). Cases cannot tell which they
//! have, which is the point.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request};
use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::case::Failure;
use crate::fakes::Fakes;
use crate::snapshot::SnapshotCheck;

/// How requests reach the target.
#[derive(Clone)]
pub enum Conn {
    InProcess(Router),
    Url { base: String, http: reqwest::Client },
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
        serde_json::from_slice(&self.body)
            .map_err(|e| Failure(format!("HTTP {}: body is not JSON ({e}): {}", self.status, excerpt(&self.text()))))
    }

    pub fn content_type(&self) -> &str {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// What a case runs against.
pub struct Ctx {
    pub conn: Conn,
    pub snapshots: Arc<dyn SnapshotCheck>,
    pub fakes: Option<Arc<Fakes>>,
    /// The target's trace file, when the suite can read it.
    pub trace_file: Option<PathBuf>,
    /// The implementation's exec-RPC server (§7), when it has one.
    pub exec_rpc: Option<Conn>,
    /// Cases for the proptest-style properties run against the target.
    pub property_cases: u32,
}

impl Ctx {
    pub async fn get(&self, path: &str) -> Result<Reply, Failure> {
        self.send("GET", path, None).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Reply, Failure> {
        self.send("POST", path, Some(Bytes::from(body.to_string()))).await
    }

    pub async fn post_raw(&self, path: &str, body: impl Into<Bytes>) -> Result<Reply, Failure> {
        self.send("POST", path, Some(body.into())).await
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<Bytes>) -> Result<Reply, Failure> {
        send_to(&self.conn, method, path, body).await
    }

    /// A request to the exec-RPC server.
    pub async fn exec_rpc(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Reply, Failure> {
        let conn = self
            .exec_rpc
            .as_ref()
            .ok_or_else(|| Failure("this case needs the exec-RPC server (--exec-rpc-url)".into()))?;
        send_to(conn, method, path, body.map(|b| Bytes::from(b.to_string()))).await
    }

    /// Checks a (redacted) value against the stored snapshot `name`.
    pub fn snapshot(&self, name: &str, value: &Value) -> Result<(), Failure> {
        self.snapshots.check(name, value)
    }

    pub fn fakes(&self) -> Result<&Fakes, Failure> {
        self.fakes.as_deref().ok_or_else(|| Failure("this case needs the suite's fakes, which are not running".into()))
    }
}

/// Sends one request over a connection and reads the whole reply.
pub async fn send_to(conn: &Conn, method: &str, path: &str, body: Option<Bytes>) -> Result<Reply, Failure> {
    {
        match conn {
            Conn::InProcess(router) => {
                let req = Request::builder()
                    .method(method)
                    .uri(path)
                    .header("content-type", "application/json")
                    .body(body.map_or_else(Body::empty, Body::from))
                    .map_err(|e| Failure(format!("cannot build request: {e}")))?;
                let res = router.clone().oneshot(req).await.map_err(|e| Failure(format!("router failed: {e}")))?;
                let status = res.status().as_u16();
                let headers = res.headers().clone();
                let body = res
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| Failure(format!("reading the reply body failed: {e}")))?
                    .to_bytes();
                Ok(Reply { status, headers, body })
            }
            Conn::Url { base, http } => {
                let method = reqwest::Method::from_bytes(method.as_bytes())
                    .map_err(|e| Failure(format!("bad method {method}: {e}")))?;
                let mut req = http.request(method, format!("{base}{path}")).header("content-type", "application/json");
                if let Some(body) = body {
                    req = req.body(body);
                }
                let res = req.send().await.map_err(|e| Failure(format!("{path}: request failed: {e}")))?;
                let status = res.status().as_u16();
                let headers = res.headers().clone();
                let body = res.bytes().await.map_err(|e| Failure(format!("{path}: reading the body failed: {e}")))?;
                Ok(Reply { status, headers, body })
            }
        }
    }
}

/// At most 300 characters of a text, for failure messages.
pub fn excerpt(text: &str) -> String {
    let mut out: String = text.chars().take(300).collect();
    if text.chars().nth(300).is_some() {
        out.push('…');
    }
    out
}
