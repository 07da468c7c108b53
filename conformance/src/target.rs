//! What a case runs against: the implementation (through a [`Transport`]), its exec-RPC server, the
//! suite's fakes, the stored snapshots and the trace file — one [`Ctx`], whatever the target is.
//!
//! **API boundary:** cases see `Ctx` only, never whether the target is in-process or at a URL. The
//! one thing a case may need beyond requests is the target's socket address (the slow-client cases
//! write raw bytes to it): a URL target has one, an in-process target gets one when a case asks.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use reqwest::Method;
use serde_json::Value;

use crate::failure::{CaseResult, Failure};
use crate::fakes::Fakes;
use crate::snapshot::SnapshotCheck;
use crate::transport::{Reply, Request, Transport};

/// What a case runs against.
pub struct Ctx {
    pub target: Arc<dyn Transport>,
    pub snapshots: Arc<dyn SnapshotCheck>,
    pub fakes: Option<Arc<Fakes>>,
    /// The target's trace file, when the suite can read it.
    pub trace_file: Option<PathBuf>,
    /// The implementation's exec-RPC server (§7), when it has one.
    pub exec_rpc: Option<Arc<dyn Transport>>,
    /// Cases for the proptest-style properties run against the target.
    pub property_cases: u32,
    /// Where the target listens for plain HTTP, when it does (raw-socket cases and probes).
    pub socket: Option<SocketAddr>,
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
        self.target.send(request(method, path, body)?).await
    }

    /// A request built by the case (extra headers, no key, another key).
    pub async fn request(&self, request: Request) -> Result<Reply, Failure> {
        self.target.send(request).await
    }

    /// The target's plain-HTTP socket, or why a raw-socket case cannot run.
    pub fn socket(&self) -> Result<SocketAddr, Failure> {
        self.socket
            .ok_or_else(|| Failure::unsupported("the target has no plain-HTTP socket address to write raw bytes to"))
    }

    /// A JSON POST with extra request headers.
    pub async fn post_json_with(&self, path: &str, body: &Value, headers: &[(&str, &str)]) -> Result<Reply, Failure> {
        let req = headers.iter().fold(Request::post_json(path, body), |r, (k, v)| r.header(k, v));
        self.target.send(req).await
    }

    /// A request to the exec-RPC server.
    pub async fn exec_rpc(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Reply, Failure> {
        let server = self
            .exec_rpc
            .as_ref()
            .ok_or_else(|| Failure::failed("this case needs the exec-RPC server (--exec-rpc-url)"))?;
        server.send(request(method, path, body.map(|b| Bytes::from(b.to_string())))?).await
    }

    /// Checks a (redacted) value against the stored snapshot `name`.
    pub fn snapshot(&self, name: &str, value: &Value) -> CaseResult {
        self.snapshots.check(name, value)
    }

    pub fn fakes(&self) -> Result<&Fakes, Failure> {
        self.fakes.as_deref().ok_or_else(|| Failure::failed("this case needs the suite's fakes, which are not running"))
    }
}

fn request(method: &str, path: &str, body: Option<Bytes>) -> Result<Request, Failure> {
    let method =
        Method::from_bytes(method.as_bytes()).map_err(|e| Failure::failed(format!("bad method {method}: {e}")))?;
    Ok(Request::new(method, path, body))
}
