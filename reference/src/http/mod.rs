//! The HTTP façade: route table, shared state, and the handlers behind it.
//!
//! Reading order: [`routes`] (paths only) → [`extract`] (bounded body reading) → one module per
//! area ([`health`], [`agent_run`], [`openai`]). Handlers extract, validate, call one function that
//! knows nothing of axum, and map the result.

pub mod agent_run;
pub mod extract;
pub mod health;
pub mod openai;
pub mod routes;
pub mod sse;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::Config;
use crate::provider::Providers;
use crate::tools::local::LocalTools;
use crate::trace::TraceWriter;

pub use routes::app;

/// Everything a handler may need; built once, shared by `Arc`.
#[derive(Debug)]
pub struct AppState {
    pub config: Config,
    pub providers: Providers,
    pub local_tools: LocalTools,
    pub traces: Option<TraceWriter>,
    /// Unix time the state was built, reported by `/healthz`.
    pub started_at: f64,
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
}

impl AppState {
    /// What the agent may use: the providers, the local tools, the loop's switches.
    pub fn deps(&self) -> crate::agent::Deps<'_, Providers> {
        crate::agent::Deps {
            model: &self.providers,
            local: &self.local_tools,
            http: &self.config.http_tools,
            mcp: &self.config.mcp_tools,
            env: &self.config.loop_env,
        }
    }

    pub fn new(config: Config) -> Result<SharedState, StartupError> {
        if !config.problems.is_empty() {
            return Err(StartupError::Config(config.problems.clone()));
        }
        let providers = Providers::new(&config)?;
        let traces = match &config.trace_path {
            Some(path) => Some(
                TraceWriter::spawn(path.clone())
                    .map_err(|source| StartupError::Traces { path: path.display().to_string(), source })?,
            ),
            None => None,
        };
        let started_at = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        let local_tools = LocalTools::new(config.local_tools.clone());
        Ok(Arc::new(Self { config, providers, local_tools, traces, started_at }))
    }
}
