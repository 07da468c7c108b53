//! What every handler may use: the server's configuration and the parts built from it once at
//! startup (providers with their one HTTP client, local tools, the trace writer), shared by `Arc`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::agent::run::Deps;
use crate::auth::{Auth, Limiter};
use crate::config::Config;
use crate::openai::models::ModelCatalog;
use crate::process::sandbox::Sandbox;
use crate::provider::client::Providers;
use crate::provider::router::shared::SharedHealth;
use crate::telemetry::metrics::Metrics;
use crate::tools::local::LocalTools;
use crate::trace::TraceWriter;
use crate::transport::redis::RedisLink;

/// Everything a handler may need; built once, shared by `Arc`.
#[derive(Debug)]
pub struct AppState {
    pub config: Config,
    pub providers: Providers,
    pub local_tools: LocalTools,
    pub traces: Option<TraceWriter>,
    pub auth: Arc<Auth>,
    /// `/v1/models`: aliases, the provider's models (cached), `dummy`.
    pub models: ModelCatalog,
    /// Unix time the state was built, reported by `/healthz`.
    pub started_at: f64,
    /// `GET /metrics` and what feeds it; `None` with `MINI_AGENT_METRICS=off`.
    pub metrics: Option<Metrics>,
}

pub type SharedState = Arc<AppState>;

/// Why a server could not be assembled from its config.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("configuration problem: {}", .0.join("; "))]
    Config(Vec<String>),
    #[error("could not build the HTTP client for providers: {0}")]
    HttpClient(#[from] reqwest::Error),
    #[error("could not start the trace writer for {path}: {source}")]
    Traces { path: String, source: std::io::Error },
    #[error("could not set up the metrics registry: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("{0}")]
    Limiter(String),
}

impl AppState {
    /// What the agent may use: the providers, the local tools, the loop's switches.
    pub fn deps(&self) -> Deps<'_, Providers> {
        Deps {
            model: &self.providers,
            local: &self.local_tools,
            http: &self.config.http_tools,
            mcp: &self.config.mcp_tools,
            env: &self.config.loop_env,
            outbound: &self.config.outbound,
            metrics: self.metrics.as_ref(),
        }
    }

    pub fn new(config: Config) -> Result<SharedState, StartupError> {
        if !config.problems.is_empty() {
            return Err(StartupError::Config(config.problems.clone()));
        }
        let metrics = if config.telemetry.metrics { Some(Metrics::new()?) } else { None };
        // One Redis link for everything replicas share: rate-limit windows and router state.
        let redis = match &config.redis.url {
            Some(url) => Some(Arc::new(
                RedisLink::new(url.expose(), config.redis.timeout)
                    .map_err(|e| StartupError::Limiter(format!("MINI_AGENT_REDIS_URL is not usable: {e}")))?,
            )),
            None => None,
        };
        for warning in &config.router.warnings {
            tracing::warn!("{warning}");
        }
        let providers = config
            .build_providers()?
            .with_metrics(metrics.clone())
            .with_shared_routing(redis.clone().map(SharedHealth::new));
        let traces = match &config.traces.path {
            Some(path) => Some(
                TraceWriter::spawn(path.clone(), config.traces.max_bytes)
                    .map_err(|source| StartupError::Traces { path: path.display().to_string(), source })?,
            ),
            None => None,
        };
        let started_at = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        let sandbox = Sandbox::started(config.sandbox.clone()).map_err(|e| StartupError::Config(vec![e]))?;
        let local_tools = LocalTools::new(config.local_tools.clone(), sandbox);
        let limiter = Limiter::new(&config.redis, redis);
        if !config.keys.is_empty() {
            tracing::info!("{}", limiter.describe());
        }
        let auth = Auth::with(config.keys.clone(), limiter, metrics.clone());
        let models = ModelCatalog::default();
        Ok(Arc::new(Self { config, providers, local_tools, traces, auth, models, started_at, metrics }))
    }
}
