//! The reference as a target, in-process: an axum `Router` driven with `oneshot` (no socket) behind
//! the library's `Transport` trait, configured from the feature table — one `app()` per case with
//! exactly the features the case needs.
//!
//! Only `Config::from_pairs`, `AppState::new`, `app`, `exec_rpc::{app, ExecState::new}` and the
//! default `Sandbox` of the reference are used, so its internals can change freely under the suite.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use conformance::Failure;
use conformance::case::Case;
use conformance::fakes::Fakes;
use conformance::features::{FAST_TIMEOUTS, Feature, Setup};
use conformance::snapshot::SnapshotCheck;
use conformance::target::Ctx;
use conformance::transport::{Reply, Request, Transport};
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use tower::ServiceExt;

/// Cases per property in-process (the runner's `--proptest-cases` sets it against a URL).
pub const PROPERTY_CASES: u32 = 12;

/// The features every in-process target has unless a case needs a target without any provider.
/// `shortcircuit-chutes` (a testing-only switch), `traces` (a file per case) and `provider-timeout`
/// (a 1 s provider timeout) only when asked; `openai-proxy` replaces `shim-echo` (a server has one
/// mode) when asked.
const ALWAYS: &[Feature] =
    &[Feature::Dummy, Feature::ShimEcho, Feature::ProviderFake, Feature::LocalTools, Feature::ToolEnvHeaders];
const ON_REQUEST: &[Feature] =
    &[Feature::ShortcircuitChutes, Feature::Traces, Feature::OpenaiProxy, Feature::ProviderTimeout];

/// A `Router` as a [`Transport`].
pub struct RouterTransport(pub Router);

impl Transport for RouterTransport {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Reply, Failure>> {
        Box::pin(async move {
            let mut req = axum::http::Request::builder()
                .method(request.method)
                .uri(request.path)
                .header("content-type", "application/json");
            for (name, value) in &request.headers {
                req = req.header(name.as_str(), value.as_str());
            }
            let req = req
                .body(request.body.map_or_else(Body::empty, Body::from))
                .map_err(|e| Failure::failed(format!("cannot build request: {e}")))?;
            let res = self.0.clone().oneshot(req).await.map_err(|e| Failure::failed(format!("router failed: {e}")))?;
            let status = res.status().as_u16();
            let headers = res.headers().clone();
            let body = res
                .into_body()
                .collect()
                .await
                .map_err(|e| Failure::failed(format!("reading the reply body failed: {e}")))?
                .to_bytes();
            Ok(Reply { status, headers, body })
        })
    }
}

/// The environment, from the feature table, that gives the reference `features`.
pub fn pairs_for(features: &[Feature], setup: &Setup) -> Vec<(String, String)> {
    let wanted: Vec<Feature> = if features.contains(&Feature::ShimNoProvider) {
        vec![Feature::ShimNoProvider]
    } else {
        let proxy = features.contains(&Feature::OpenaiProxy);
        ALWAYS
            .iter()
            .filter(|f| !(proxy && **f == Feature::ShimEcho))
            .chain(ON_REQUEST.iter().filter(|f| features.contains(f)))
            .copied()
            .collect()
    };
    let mut pairs: Vec<(String, String)> = wanted.iter().flat_map(|f| setup.pairs(f.spec().env)).collect();
    if !features.contains(&Feature::ShimNoProvider) {
        pairs.extend(setup.pairs(FAST_TIMEOUTS));
    }
    pairs
}

/// The reference's façade configured from `pairs`.
pub fn reference(pairs: &[(String, String)]) -> Result<Router, Failure> {
    let config = miniagent::Config::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let state =
        miniagent::AppState::new(config).map_err(|e| Failure::failed(format!("cannot build the reference: {e}")))?;
    Ok(miniagent::app(state))
}

/// The reference's exec-RPC server.
pub fn exec_rpc() -> Arc<dyn Transport> {
    let sandbox = Arc::new(miniagent::process::sandbox::Sandbox::new(Default::default()));
    let state = miniagent::exec_rpc::ExecState::new(Default::default(), Default::default(), sandbox);
    Arc::new(RouterTransport(miniagent::exec_rpc::app(state)))
}

/// A context on a reference configured from `pairs`, with the trace file (if any) the pairs name.
pub fn ctx_on(
    pairs: &[(String, String)],
    trace_file: Option<&Path>,
    fakes: Arc<Fakes>,
    snapshots: Arc<dyn SnapshotCheck>,
) -> Result<Ctx, Failure> {
    Ok(Ctx {
        target: Arc::new(RouterTransport(reference(pairs)?)),
        snapshots,
        fakes: Some(fakes),
        trace_file: trace_file.map(Path::to_path_buf),
        exec_rpc: Some(exec_rpc()),
        property_cases: PROPERTY_CASES,
    })
}

/// A case's context and the temporary directory its trace file lives in (removed on drop).
pub struct InProcess {
    pub ctx: Ctx,
    _dir: tempfile::TempDir,
}

pub fn ctx_for(case: &Case, fakes: Arc<Fakes>, snapshots: Arc<dyn SnapshotCheck>) -> Result<InProcess, Failure> {
    let dir = tempfile::tempdir().map_err(|e| Failure::failed(format!("cannot make a temp dir: {e}")))?;
    let trace_file = case.features.contains(&Feature::Traces).then(|| dir.path().join("traces.jsonl"));
    let setup = Setup { provider_fake_base: Some(fakes.provider.base_url()), trace_file: trace_file.clone() };
    let ctx = ctx_on(&pairs_for(case.features, &setup), trace_file.as_deref(), fakes, snapshots)?;
    Ok(InProcess { ctx, _dir: dir })
}

/// Snapshots are not part of what a probe looks at.
pub struct NoSnapshots;

impl SnapshotCheck for NoSnapshots {
    fn check(&self, name: &str, _: &serde_json::Value) -> Result<(), Failure> {
        Err(Failure::failed(format!("no snapshots here (asked for `{name}`)")))
    }
}
