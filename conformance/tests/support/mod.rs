//! The reference as a target, in-process: an axum `Router` driven with `oneshot` (no socket) behind
//! the library's `Transport` trait, configured from the feature table (its in-process column says
//! which features every target has and which only a case that asks) — one `app()` per case with
//! the features the case needs. A case that writes raw bytes (`slow-clients`) gets the same
//! router served on a real loopback socket by the reference's own accept loop, and reaches it over
//! HTTP like any URL target; a case that needs `auth` gets the suite's keys file in its temp dir.
//!
//! Only `Config::from_pairs` (and its `listen.limits`), `AppState::new`, `app`, `serve::{bind,
//! run}`, `exec_rpc::{app, ExecState::new}` and the default `Sandbox` of the reference are used, so
//! its internals can change freely under the suite.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use conformance::Failure;
use conformance::case::Case;
use conformance::fakes::Fakes;
use conformance::features::{FAST_TIMEOUTS, Feature, InProcess as Policy, KEYS_FILE_JSON, Setup};
use conformance::snapshot::SnapshotCheck;
use conformance::target::Ctx;
use conformance::transport::{Reply, Request, Transport, UrlTransport};
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use tower::ServiceExt;

/// Cases per property in-process (the runner's `--proptest-cases` sets it against a URL).
pub const PROPERTY_CASES: u32 = 12;

/// A `Router` as a [`Transport`].
pub struct RouterTransport(pub Router);

impl Transport for RouterTransport {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Reply, Failure>> {
        Box::pin(async move {
            let mut req = axum::http::Request::builder().method(request.method.clone()).uri(request.path.as_str());
            for (name, value) in request.wire_headers() {
                req = req.header(name, value);
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

/// The features a reference started for a case needing `features` has, by the table's in-process
/// column: the `Always` ones and those asked for — or, when one asked for stands `Alone`, only it;
/// one asked for `Instead` of others replaces them.
pub fn in_process_features(features: &[Feature]) -> Vec<Feature> {
    let asked = |f: &Feature| features.contains(f);
    if let Some(alone) = features.iter().find(|f| f.spec().in_process == Policy::Alone) {
        return vec![*alone];
    }
    let replaced: Vec<Feature> = features
        .iter()
        .filter_map(|f| match f.spec().in_process {
            Policy::Instead(others) => Some(others),
            _ => None,
        })
        .flatten()
        .copied()
        .collect();
    Feature::ALL
        .iter()
        .filter(|f| match f.spec().in_process {
            Policy::Always => !replaced.contains(f),
            Policy::OnRequest | Policy::Instead(_) | Policy::Alone => asked(f),
        })
        .copied()
        .collect()
}

/// The environment, from the feature table, that gives the reference `features`.
pub fn pairs_for(features: &[Feature], setup: &Setup) -> Vec<(String, String)> {
    let wanted = in_process_features(features);
    let mut pairs: Vec<(String, String)> = wanted.iter().flat_map(|f| setup.pairs(f.spec().env)).collect();
    if !wanted.iter().any(|f| f.spec().in_process == Policy::Alone) {
        pairs.extend(setup.pairs(FAST_TIMEOUTS));
    }
    pairs
}

/// Whether a case needing `features` needs a file its features' environment names by `placeholder`
/// (`{trace_file}`, `{keys_file}`, `{router_dir}`): the table says, no list here.
fn names(features: &[Feature], placeholder: &str) -> bool {
    features.iter().any(|f| f.spec().env.iter().any(|(_, v)| v.contains(placeholder)))
}

/// The reference's façade configured from `pairs`.
pub fn reference(pairs: &[(String, String)]) -> Result<Router, Failure> {
    Ok(reference_with_limits(pairs)?.0)
}

/// The façade and the client limits its accept loop applies (header timeout and the like).
fn reference_with_limits(pairs: &[(String, String)]) -> Result<(Router, miniagent::ClientLimits), Failure> {
    let config = miniagent::Config::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let limits = config.listen.limits;
    let state =
        miniagent::AppState::new(config).map_err(|e| Failure::failed(format!("cannot build the reference: {e}")))?;
    Ok((miniagent::app(state), limits))
}

/// Stops a served reference when dropped.
pub struct Served(tokio::sync::oneshot::Sender<()>);

/// The reference configured from `pairs`, served on a free loopback port by its own accept loop
/// (on the current runtime): its address, and what stops it.
pub async fn serve(pairs: &[(String, String)]) -> Result<(SocketAddr, Served), Failure> {
    let (router, limits) = reference_with_limits(pairs)?;
    let (listener, addr) = miniagent::serve::bind("127.0.0.1", 0)
        .await
        .map_err(|e| Failure::failed(format!("cannot bind the reference: {e}")))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(miniagent::serve::run(listener, router, limits, async move {
        let _ = stopped.await;
    }));
    Ok((addr, Served(stop)))
}

/// The reference's exec-RPC server.
pub fn exec_rpc() -> Arc<dyn Transport> {
    let sandbox = Arc::new(miniagent::Sandbox::new(Default::default()));
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
        socket: None,
    })
}

/// [`ctx_on`], but the reference is served on a loopback socket and reached over HTTP.
pub async fn ctx_on_socket(
    pairs: &[(String, String)],
    trace_file: Option<&Path>,
    fakes: Arc<Fakes>,
    snapshots: Arc<dyn SnapshotCheck>,
) -> Result<(Ctx, Served), Failure> {
    let (addr, served) = serve(pairs).await?;
    let target = UrlTransport::new(&format!("http://{addr}"))
        .map_err(|e| Failure::failed(format!("cannot build the HTTP client: {e}")))?;
    let ctx = Ctx {
        target: Arc::new(target),
        snapshots,
        fakes: Some(fakes),
        trace_file: trace_file.map(Path::to_path_buf),
        exec_rpc: Some(exec_rpc()),
        property_cases: PROPERTY_CASES,
        socket: Some(addr),
    };
    Ok((ctx, served))
}

/// A case's context, the temporary directory its trace and keys files live in (removed on drop),
/// and the served reference when the case needed a socket (stopped on drop).
pub struct InProcess {
    pub ctx: Ctx,
    _dir: tempfile::TempDir,
    _served: Option<Served>,
}

/// The context of `case`: a reference with the features it needs, on a socket when it needs one.
pub async fn ctx_for(case: &Case, fakes: Arc<Fakes>, snapshots: Arc<dyn SnapshotCheck>) -> Result<InProcess, Failure> {
    let dir = tempfile::tempdir().map_err(|e| Failure::failed(format!("cannot make a temp dir: {e}")))?;
    let trace_file = names(case.features, "{trace_file}").then(|| dir.path().join("traces.jsonl"));
    let keys_file = names(case.features, "{keys_file}").then(|| dir.path().join("keys.json"));
    if let Some(path) = &keys_file {
        std::fs::write(path, KEYS_FILE_JSON)
            .map_err(|e| Failure::failed(format!("cannot write the keys file: {e}")))?;
    }
    let router_dir = names(case.features, "{router_dir}").then(|| dir.path().join("routers"));
    if let Some(path) = &router_dir {
        conformance::routing::write_all(path, &fakes.router.bases())
            .map_err(|e| Failure::failed(format!("cannot write the router files: {e}")))?;
    }
    let setup = Setup {
        provider_fake_base: Some(fakes.provider.base_url()),
        tools_fake_base: Some(fakes.tools.uri()),
        trace_file: trace_file.clone(),
        keys_file,
        router_dir,
        anthropic_fake_base: Some(fakes.anthropic.base_url()),
    };
    let pairs = pairs_for(case.features, &setup);
    let (ctx, served) = if case.features.contains(&Feature::SlowClients) {
        let (ctx, served) = ctx_on_socket(&pairs, trace_file.as_deref(), fakes, snapshots).await?;
        (ctx, Some(served))
    } else {
        (ctx_on(&pairs, trace_file.as_deref(), fakes, snapshots)?, None)
    };
    Ok(InProcess { ctx, _dir: dir, _served: served })
}

/// Snapshots are not part of what a probe looks at.
pub struct NoSnapshots;

impl SnapshotCheck for NoSnapshots {
    fn check(&self, name: &str, _: &serde_json::Value) -> Result<(), Failure> {
        Err(Failure::failed(format!("no snapshots here (asked for `{name}`)")))
    }
}
