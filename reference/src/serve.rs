//! Binding and serving the façade on a real socket.
//!
//! `main` and the tests that need a socket both come through here, so "listening on" is printed
//! by the same code the harness reads it from.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::http::{AppState, StartupError, app};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source} (is another process using the port? set --port or MINI_AGENT_API_PORT)")]
    Bind { addr: String, source: std::io::Error },
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error("server stopped with an error: {0}")]
    Serve(std::io::Error),
}

/// Binds `config.host:config.port` (port 0 picks a free one), records the real port in the config
/// (so `/healthz` reports it), logs `listening on <addr>`, and serves until `shutdown` resolves.
pub async fn serve(mut config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
    let addr = format!("{}:{}", config.host, config.port);
    let listener = TcpListener::bind(&addr).await.map_err(|source| ServeError::Bind { addr: addr.clone(), source })?;
    let local: SocketAddr = listener.local_addr().map_err(|source| ServeError::Bind { addr, source })?;
    config.port = local.port();
    let state = AppState::new(config)?;
    tracing::info!("listening on {local}");
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await.map_err(ServeError::Serve)
}
