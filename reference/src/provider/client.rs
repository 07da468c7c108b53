//! [`Providers`]: the model providers of one server — settings, the router with its deployments'
//! routes resolved once, and the one shared HTTP client (connection pools are per client, so one
//! client means warm connections for every request) — and the dispatch of a call over the closed
//! [`ProviderKind`] set, with the route's retries through the transport layer's driver.
//!
//! [`Providers::call`] is how every model call is made: a router group goes through the router
//! (retries on other deployments, cooldowns, fallbacks), any other name is one attempt on its
//! route. Callers pass the attempt (a completion, a proxied request, a stream's head).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::future::Either;
use tracing::Instrument;

use super::chat::{Answer, ChatRequest, Completion, Served};
use super::direct::Direct;
use super::error::ProviderError;
use super::kind::ProviderKind;
use super::route::{self, Overrides, Route};
use super::router::shared::SharedHealth;
use super::router::{DeploymentStatus, Fault, Routed, Router, RouterConfig, Ticket, fault_of};
use super::settings::ProviderSettings;
use super::stream::{self, ChunkStream};
use super::{dummy, observe, openai, wire};
use crate::telemetry::metrics::Metrics;
use crate::transport::retry::{self, RetryStats};

#[derive(Debug, Clone)]
pub struct Providers {
    settings: ProviderSettings,
    router: Arc<Router>,
    /// Each deployment's route, resolved at startup (`None`: it cannot be called — an unknown
    /// provider, a missing key — and is left out of routing, with a warning).
    routes: Arc<[Option<Arc<Route>>]>,
    http: reqwest::Client,
    /// hyper's client for the chat proxy's plain-HTTP providers ([`super::direct`]).
    direct: Direct,
    metrics: Option<Metrics>,
    /// Provider URLs already parsed (parsing one, IDNA included, was 3 % of a proxied request).
    urls: std::sync::Arc<std::sync::RwLock<std::collections::HashMap<String, reqwest::Url>>>,
}

/// At most this many URLs are kept parsed (routes come from the config; a request's own
/// `api_base` override must not grow the cache without bound).
const MAX_CACHED_URLS: usize = 64;

impl Providers {
    pub fn new(settings: ProviderSettings, router: RouterConfig) -> Result<Self, reqwest::Error> {
        let http = crate::transport::tls::http_client()
            .connect_timeout(settings.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()?;
        let routes: Arc<[Option<Arc<Route>>]> = router
            .deployments()
            .iter()
            .map(|d| match route::deployment(d, &settings, &router, &Overrides::default()) {
                Ok(r) => Some(Arc::new(r)),
                Err(e) => {
                    tracing::warn!(deployment = %d.id, "router deployment left out of routing: {e}");
                    None
                }
            })
            .collect();
        let router = Arc::new(Router::new(router, |i| routes[i].is_some()));
        let direct = Direct::new(settings.connect_timeout);
        Ok(Self { settings, router, routes, http, direct, metrics: None, urls: std::sync::Arc::default() })
    }

    /// Counts every call in `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Option<Metrics>) -> Self {
        if let Some(m) = &metrics {
            self.router.count_in(m.clone());
        }
        self.metrics = metrics;
        self
    }

    /// Shares the router's cooldowns and usage with other replicas through Redis.
    #[must_use]
    pub fn with_shared_routing(self, shared: Option<SharedHealth>) -> Self {
        if let Some(shared) = shared {
            tracing::info!(redis = %shared.location(), "router cooldowns and usage are shared in Redis");
            self.router.share(shared);
        }
        self
    }

    /// `route`'s URL for `path` (`chat/completions`, `embeddings`), parsed once.
    pub fn url(&self, route: &Route, path: &str) -> Result<reqwest::Url, String> {
        let text = route.url_for(path);
        let cached = self.urls.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&text).cloned();
        if let Some(url) = cached {
            return Ok(url);
        }
        let url = reqwest::Url::parse(&text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
        let mut urls = self.urls.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if urls.len() < MAX_CACHED_URLS {
            urls.insert(text, url.clone());
        }
        Ok(url)
    }

    /// hyper's client when `url` is plain HTTP without credentials (the chat proxy's fast path),
    /// else `None`: TLS, and a base's `user:password@` (sent as Basic auth), stay with [`Self::http`].
    pub fn direct(&self, url: &reqwest::Url) -> Option<&Direct> {
        let plain = url.scheme() == "http" && url.username().is_empty() && url.password().is_none();
        plain.then_some(&self.direct)
    }

    /// Where calls are counted, if anywhere.
    pub fn metrics(&self) -> Option<&Metrics> {
        self.metrics.as_ref()
    }

    pub fn settings(&self) -> &ProviderSettings {
        &self.settings
    }

    /// The router file as configured.
    /// The callable deployments of group `g`: each one's route and its entry in the file.
    pub fn group_routes(&self, g: usize) -> impl Iterator<Item = (&Arc<Route>, &super::router::Deployment)> {
        let config = self.router();
        config
            .groups()
            .get(g)
            .into_iter()
            .flat_map(|group| group.deployments.iter())
            .filter_map(move |&i| Some((self.routes.get(i)?.as_ref()?, config.deployments().get(i)?)))
    }

    pub fn router(&self) -> &RouterConfig {
        self.router.config()
    }

    /// The live router (deployments' health).
    pub fn routing(&self) -> &Arc<Router> {
        &self.router
    }

    /// `GET /v1/deployments`: every deployment's figures.
    pub fn deployment_statuses(&self) -> Vec<DeploymentStatus> {
        self.router.statuses(|d| self.routes[d].as_ref().map(|r| r.kind.name()))
    }

    /// The one HTTP client every provider call shares (its pool keeps connections warm).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Whether any model is callable (a provider, the dummy model, or an alias).
    pub fn any_configured(&self) -> bool {
        self.settings.any_configured() || !self.router.config().is_empty()
    }

    /// Model ids to advertise on `/v1/models`: aliases in file order, then `dummy` when allowed.
    pub fn model_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.router().groups().iter().map(|g| g.name.clone()).collect();
        if self.settings.allow_dummy && !ids.iter().any(|i| i == "dummy") {
            ids.push("dummy".to_owned());
        }
        ids
    }

    /// Resolves a model name without calling anything.
    pub fn resolve(&self, model: &str) -> Result<Route, ProviderError> {
        self.resolve_with(model, &Overrides::default())
    }

    /// Resolves with per-request overrides (`custom_llm_provider`, `api_base`, `api_key`).
    pub fn resolve_with(&self, model: &str, overrides: &Overrides) -> Result<Route, ProviderError> {
        let route = route::resolve_with(model, &self.settings, self.router.config(), overrides)?;
        if let Some(given) = &route.corrected_from {
            warn_corrected_base_once(given, &route.api_base);
        }
        Ok(route)
    }

    /// What `model` names: a router group (routed), or one route.
    pub fn target(&self, model: &str, overrides: &Overrides) -> Result<Target, ProviderError> {
        match self.router.config().group(model.trim()) {
            Some((g, _)) => Ok(Target::Group(g)),
            None => self.resolve_with(model, overrides).map(|r| Target::Direct(Arc::new(r))),
        }
    }

    /// Deployment `d`'s route, with the request's overrides on top when it has any.
    fn route_of(&self, d: usize, overrides: &Overrides) -> Result<Arc<Route>, ProviderError> {
        match &self.routes[d] {
            Some(route) if overrides.is_empty() => Ok(route.clone()),
            _ => {
                let config = self.router.config();
                route::deployment(&config.deployments()[d], &self.settings, config, overrides).map(Arc::new)
            }
        }
    }

    /// Makes a model call: `attempt(route)` on `target` — through the router for a group (other
    /// deployments, cooldowns, fallbacks; `fault` reads an attempt's error), once otherwise.
    pub async fn call<T, E, F, Fut>(
        &self,
        target: &Target,
        overrides: &Overrides,
        mut attempt: F,
        fault: impl Fn(&E) -> Fault,
    ) -> Routed<T, E>
    where
        F: FnMut(Arc<Route>) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<ProviderError>,
    {
        match target {
            Target::Direct(route) => Routed { result: attempt(route.clone()).await, ticket: Ticket::direct() },
            Target::Group(g) if overrides.is_empty() && self.router.first_usable(*g).is_none() => {
                // Nothing in the group can be called: say why (an unknown provider, a missing key)
                // rather than that it is cooling down.
                let first = self.router.config().groups()[*g].deployments[0];
                let why = self.route_of(first, overrides).err().unwrap_or_else(|| {
                    ProviderError::InvalidModel("no deployment of this group can be called".to_owned())
                });
                Routed { result: Err(E::from(why)), ticket: Ticket::unattempted() }
            }
            Target::Group(g) => {
                let each = |d| match self.route_of(d, overrides) {
                    Ok(route) => Either::Left(attempt(route)),
                    Err(e) => Either::Right(std::future::ready(Err(E::from(e)))),
                };
                super::router::drive(&self.router, *g, each, fault).await
            }
        }
    }

    /// One chat completion on `model` (routed when it is a group).
    pub async fn complete(&self, model: &str, request: &ChatRequest<'_>) -> Result<Completion, ProviderError> {
        let target = self.target(model, &Overrides::default())?;
        let attempt = |route: Arc<Route>| async move { self.complete_route(&route, request).await };
        let routed = self.call(&target, &Overrides::default(), attempt, fault_of).await;
        let mut completion = routed.result?;
        served(&mut completion, &routed.ticket);
        Ok(completion)
    }

    /// The blocking form of [`Self::complete`], for callers without an async runtime. It runs its
    /// own small runtime, so it must not be called from inside one.
    pub fn complete_blocking(&self, model: &str, request: &ChatRequest<'_>) -> Result<Completion, ProviderError> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
            ProviderError::Transport {
                provider: ProviderKind::Dummy,
                url: String::new(),
                reason: format!("cannot start a runtime: {e}"),
            }
        })?;
        runtime.block_on(self.complete(model, request))
    }

    /// One chat completion on an already resolved route.
    pub async fn complete_route(&self, route: &Route, request: &ChatRequest<'_>) -> Result<Completion, ProviderError> {
        self.complete_route_with_stats(route, request).await.0
    }

    /// One chat completion with the route's retries; the statistics come back whatever the outcome
    /// (and are also attached to the completion under `CODEX_AGENT_ENABLE_METRICS=1`).
    pub async fn complete_route_with_stats(
        &self,
        route: &Route,
        request: &ChatRequest<'_>,
    ) -> (Result<Completion, ProviderError>, RetryStats) {
        let (result, stats, span) = self.observed(route, self.dispatch(route, request)).await;
        let retry_stats = self.settings.codex.metrics.then(|| stats.clone());
        let result = result.map(|answer| {
            let mut completion = Completion::of(answer, route.kind);
            completion.retry_stats = retry_stats;
            observe::record_usage(&span, completion.usage());
            completion
        });
        (result, stats)
    }

    /// Runs `call` as one observed model call: inside its span, finished with its outcome and
    /// retries in the span and the metrics. Returns the span for what the caller records after.
    async fn observed<T>(
        &self,
        route: &Route,
        call: impl Future<Output = (Result<T, ProviderError>, RetryStats)>,
    ) -> (Result<T, ProviderError>, RetryStats, tracing::Span) {
        let span = observe::call_span(route, "chat");
        let started = Instant::now();
        let (result, stats) = call.instrument(span.clone()).await;
        let outcome = observe::outcome_of(result.as_ref().err());
        observe::finish(&span, self.metrics.as_ref(), route, outcome, &stats, started);
        (result, stats, span)
    }

    async fn dispatch(&self, route: &Route, request: &ChatRequest<'_>) -> (Result<Answer, ProviderError>, RetryStats) {
        match route.kind {
            ProviderKind::Dummy => {
                let answer =
                    |_| async { Ok::<_, ProviderError>(Answer::Value(dummy::complete(&route.upstream_model))) };
                retry::drive(&retry::RetryPolicy::NONE, answer, openai::classify).await
            }
            ProviderKind::OpenAi
            | ProviderKind::Ollama
            | ProviderKind::Chutes
            | ProviderKind::CodexAgent
            | ProviderKind::Anthropic => {
                let limits = openai::CallLimits {
                    timeout: self.settings.request_timeout,
                    max_reply_bytes: self.settings.max_reply_bytes,
                };
                // A plain-HTTP OpenAI-wire base goes out on hyper's client (see `wire::post`).
                let url = self.url(route, "chat/completions").ok();
                let fast = url.as_ref().and_then(|u| Some((self.direct(u)?, u)));
                let attempt = |_| wire::complete(&self.http, fast, route, request, &limits);
                retry::drive(&route.retry, attempt, openai::classify).await
            }
        }
    }

    /// Opens a streaming completion on `route` (retried until the stream starts).
    pub async fn stream_route(&self, route: &Route, request: &ChatRequest<'_>) -> Result<ChunkStream, ProviderError> {
        let limits = openai::CallLimits {
            timeout: route.timeout.unwrap_or(self.settings.request_timeout),
            max_reply_bytes: self.settings.max_reply_bytes,
        };
        let (result, _, _) = self.observed(route, stream::open(&self.http, route, request, &limits)).await;
        result
    }
}

/// What a model name names.
#[derive(Debug, Clone)]
pub enum Target {
    /// A router group (its index).
    Group(usize),
    /// One route (a `provider/model` name).
    Direct(Arc<Route>),
}

/// Records who served `completion` on it, and its tokens in the deployment's usage.
pub(crate) fn served(completion: &mut Completion, ticket: &Ticket) {
    if let Some(tokens) = completion.total_tokens() {
        ticket.add_tokens(tokens);
    }
    completion.served = ticket.deployment().map(|id| Served { deployment: id.to_owned(), attempts: ticket.attempts });
}

/// The runbook's most common mistake, said once per process so the setting gets fixed.
fn warn_corrected_base_once(given: &str, using: &str) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            given,
            using,
            "the codex-agent base ends in /v1, but the provider appends /v1 itself: remove /v1 from CODEX_AGENT_API_BASE (or api_base)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Env;

    #[tokio::test]
    async fn a_group_none_of_whose_deployments_can_be_called_says_why() {
        let file =
            "model_list:\n  - {model_name: g, litellm_params: {model: azure/gpt, api_base: 'https://x.example'}}\n";
        let router = RouterConfig::parse(file, "r.yaml", false, |_| None).expect("LiteLLM's file parses");
        let settings = ProviderSettings::from_env(&Env::new(&|_| None));
        let providers = Providers::new(settings, router).expect("providers");
        let err = providers.complete("g", &ChatRequest::default()).await.expect_err("azure is no provider here");
        assert!(err.to_string().contains("unknown provider `azure`"), "{err}");
        assert!(err.is_client_error());
    }
}
